#include "engine/rec/multitask.h"

#include <cmath>

#include "base/check.h"

namespace mr::rec {

namespace {

void pick_bwd(Tape& t, Record& r) {
  bool acc;
  float* dx = t.grad_for(r.in[0], &acc);
  if (!dx) return;
  if (!acc) fill_zero(r.in[0]->g);
  const int64_t R = r.i[0], M = r.i[1];
  for (int64_t k = 0; k < R; ++k) dx[int64_t(r.saved[0].i32()[k]) * M + r.saved[1].i32()[k]] += r.out->g.f32()[k];
}

void uncertainty_bwd(Tape& t, Record& r) {
  const int n = int(r.i[0]);
  Var* s = r.in[3];
  const float g = r.out->g.f32()[0];
  bool acc;
  float* ds = t.grad_for(s, &acc);
  if (ds && !acc) fill_zero(s->g);
  for (int k = 0; k < n; ++k) {
    const int j = int(r.i[1 + k]);
    const double w = std::exp(-double(s->v.f32()[j]));
    bool a;
    if (float* dl = t.grad_for(r.in[k], &a)) dl[0] = float((a ? dl[0] : 0.0) + g * w);
    if (ds) ds[j] += float(g * (1.0 - w * r.in[k]->v.f32()[0]));
  }
}

}  // namespace

Var* pick(Tape& t, Var* x, const std::vector<int32_t>& rows, const std::vector<int32_t>& cols) {
  MR_CHECK(x->v.device == Device::CPU && x->v.shape.ndim == 2 && rows.size() == cols.size(), "pick: (B, M) CPU x");
  const int64_t B = x->v.size(0), M = x->v.size(1), R = int64_t(rows.size());
  Tensor ri = t.arena().alloc(Shape{R}, DType::I32), ci = t.arena().alloc(Shape{R}, DType::I32);
  Var* out = t.alloc(Shape{R, 1}, t.any_requires_grad({x}));
  for (int64_t k = 0; k < R; ++k) {
    MR_CHECK(rows[size_t(k)] >= 0 && rows[size_t(k)] < B && cols[size_t(k)] >= 0 && cols[size_t(k)] < M,
             "pick: ({}, {}) outside ({}, {})", rows[size_t(k)], cols[size_t(k)], B, M);
    ri.i32()[k] = rows[size_t(k)];
    ci.i32()[k] = cols[size_t(k)];
    out->v.f32()[k] = x->v.f32()[int64_t(rows[size_t(k)]) * M + cols[size_t(k)]];
  }
  if (out->requires_grad) {
    Record r;
    r.backward = pick_bwd;
    r.name = "pick";
    r.in[0] = x;
    r.out = out;
    r.saved[0] = ri;
    r.saved[1] = ci;
    r.i[0] = R;
    r.i[1] = M;
    t.record(r);
  }
  return out;
}

Var* uncertainty_sum(Tape& t, const std::vector<Var*>& losses, Var* s, const std::vector<int>& slot) {
  MR_CHECK(!losses.empty() && losses.size() <= 3 && losses.size() == slot.size(), "uncertainty_sum: 1 to 3 losses");
  bool rg = t.any_requires_grad({s});
  double v = 0;
  for (size_t k = 0; k < losses.size(); ++k) {
    MR_CHECK(losses[k]->v.numel() == 1 && slot[k] >= 0 && slot[k] < s->v.numel(), "uncertainty_sum: scalar losses");
    rg = rg || t.any_requires_grad({losses[k]});
    const double sk = s->v.f32()[slot[k]];
    v += std::exp(-sk) * losses[k]->v.f32()[0] + sk;
  }
  Var* out = t.alloc(Shape{1}, rg);
  out->v.f32()[0] = float(v);
  if (out->requires_grad) {
    Record r;
    r.backward = uncertainty_bwd;
    r.name = "uncertainty_sum";
    for (size_t k = 0; k < losses.size(); ++k) {
      r.in[k] = losses[k];
      r.i[1 + k] = slot[k];
    }
    r.in[3] = s;
    r.out = out;
    r.i[0] = int64_t(losses.size());
    t.record(r);
  }
  return out;
}

}  // namespace mr::rec
