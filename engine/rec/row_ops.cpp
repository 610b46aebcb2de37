#include "engine/rec/row_ops.h"

#include <cmath>
#include <cstring>

#include "base/check.h"

namespace mr::rec {

namespace {

int64_t row_width(const Tensor& x) { return x.shape.ndim == 1 ? 1 : x.numel() / x.size(0); }

struct GatherSaved {
  Var* x;
  Tensor idx;  // (M) i32, -1: a zero row
  int64_t M, C;
};
void gather_bwd(Tape& t, Var* out, const GatherSaved& s) {
  float* dx = t.grad_zeroed_for(s.x);
  if (dx) t.k().gather_rows_bwd(dx, out->g.f32(), s.idx.i32(), s.M, s.C);
}

struct L2Saved {
  Var* x;
  float scale;
  int64_t N, C;
};
void l2_bwd(Tape& t, Var* out, const L2Saved& sv) {
  GradMode acc;
  float* dx = t.grad_for(sv.x, &acc);
  if (!dx) return;
  const int64_t N = sv.N, C = sv.C;
  const float s = sv.scale;
  const float* x = sv.x->v.f32();
  const float* dy = out->g.f32();
  for (int64_t i = 0; i < N; ++i) {
    const float* xi = x + i * C;
    const float* gi = dy + i * C;
    float* o = dx + i * C;
    double n2 = 0, dot = 0;
    for (int64_t c = 0; c < C; ++c) { n2 += double(xi[c]) * xi[c]; dot += double(xi[c]) * gi[c]; }
    const double inv = n2 > 0 ? 1.0 / std::sqrt(n2) : 0.0;
    const double k = double(s) * inv, proj = dot * inv * inv;  // <x_hat, dy> / ||x||
    for (int64_t c = 0; c < C; ++c) {
      const float v = float(k * (double(gi[c]) - double(xi[c]) * proj));
      o[c] = acc ? o[c] + v : v;
    }
  }
}

}  // namespace

Var* gather_rows(Tape& t, Var* x, const std::vector<int32_t>& idx) {
  const int64_t n = x->v.size(0), C = row_width(x->v), M = int64_t(idx.size());
  for (int64_t m = 0; m < M; ++m) MR_CHECK(idx[size_t(m)] < n, "gather_rows: row {} of {}", idx[size_t(m)], n);
  // the indices go to the tape's device (on the CPU: a copy into the arena)
  Tensor it = t.arena().alloc(Shape{M}, DType::I32);
  copy(it, Tensor{const_cast<int32_t*>(idx.data()), Shape{M}, DType::I32, Device::CPU});
  Var* out = t.alloc(x->v.shape.ndim == 1 ? Shape{M} : Shape{M, C}, t.any_requires_grad({x}));
  t.k().gather_rows_fwd(out->v.f32(), x->v.f32(), it.i32(), M, C);
  t.record<gather_bwd>("gather_rows", out, GatherSaved{x, it, M, C});
  return out;
}

Var* l2_rows(Tape& t, Var* x, float scale) {
  MR_CHECK(x->v.device == Device::CPU && x->v.shape.ndim == 2, "l2_rows: a 2-D CPU tensor");
  const int64_t N = x->v.size(0), C = x->v.size(1);
  Var* out = t.alloc(x->v.shape, t.any_requires_grad({x}));
  for (int64_t i = 0; i < N; ++i) {
    const float* xi = x->v.f32() + i * C;
    double n2 = 0;
    for (int64_t c = 0; c < C; ++c) n2 += double(xi[c]) * xi[c];
    const float k = n2 > 0 ? float(double(scale) / std::sqrt(n2)) : 0.0f;
    for (int64_t c = 0; c < C; ++c) out->v.f32()[i * C + c] = xi[c] * k;
  }
  t.record<l2_bwd>("l2_rows", out, L2Saved{x, scale, N, C});
  return out;
}

}  // namespace mr::rec
