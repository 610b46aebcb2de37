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
  if (dx) t.k().l2_rows_bwd(dx, out->g.f32(), sv.x->v.f32(), sv.N, sv.C, sv.scale, acc);
}

}  // namespace

Var* gather_rows(Tape& t, Var* x, const std::vector<int32_t>& idx) {
  const int64_t n = x->v.size(0), C = row_width(x->v), M = int64_t(idx.size());
  for (int64_t m = 0; m < M; ++m) MR_CHECK(idx[size_t(m)] < n, "gather_rows: row {} of {}", idx[size_t(m)], n);
  t.check_device(x->v, "gather_rows' input");
  const Tensor it = upload(t, idx, Shape{M});  // the indices go to the tape's device
  Var* out = t.alloc(x->v.shape.ndim == 1 ? Shape{M} : Shape{M, C}, t.any_requires_grad({x}));
  t.k().gather_rows_fwd(out->v.f32(), x->v.f32(), it.i32(), M, C);
  t.record<gather_bwd>("gather_rows", out, GatherSaved{x, it, M, C});
  return out;
}

Var* l2_rows(Tape& t, Var* x, float scale) {
  MR_CHECK(x->v.shape.ndim == 2 && x->v.dtype == DType::F32, "l2_rows: a 2-D f32 tensor, got {}", x->v.str());
  t.check_device(x->v, "l2_rows' input");
  const int64_t N = x->v.size(0), C = x->v.size(1);
  Var* out = t.alloc(x->v.shape, t.any_requires_grad({x}));
  t.k().l2_rows_fwd(out->v.f32(), x->v.f32(), N, C, scale);
  t.record<l2_bwd>("l2_rows", out, L2Saved{x, scale, N, C});
  return out;
}

Tensor upload(Tape& t, const std::vector<int32_t>& v, Shape s) {
  MR_CHECK(s.numel() == int64_t(v.size()), "upload: {} values for {}", v.size(), s.str());
  Tensor d = t.arena().alloc(s, DType::I32);
  copy(d, Tensor{const_cast<int32_t*>(v.data()), s, DType::I32, Device::CPU});
  return d;
}

Tensor upload(Tape& t, const std::vector<float>& v, Shape s) {
  MR_CHECK(s.numel() == int64_t(v.size()), "upload: {} values for {}", v.size(), s.str());
  Tensor d = t.arena().alloc(s, DType::F32);
  copy(d, Tensor{const_cast<float*>(v.data()), s, DType::F32, Device::CPU});
  return d;
}

}  // namespace mr::rec
