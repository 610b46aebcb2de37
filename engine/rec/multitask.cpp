#include "engine/rec/multitask.h"

#include <cmath>

#include "base/check.h"

namespace mr::rec {

namespace {

struct PickSaved {
  Var* x;
  Tensor rows, cols;  // (R) i32
  int64_t R, M;
};
void pick_bwd(Tape& t, Var* out, const PickSaved& s) {
  float* dx = t.grad_zeroed_for(s.x);
  if (!dx) return;
  for (int64_t k = 0; k < s.R; ++k) dx[int64_t(s.rows.i32()[k]) * s.M + s.cols.i32()[k]] += out->g.f32()[k];
}

struct UncertaintySaved {
  int n;
  Var* loss[3];
  int slot[3];  // each loss's entry of s
  Var* s;       // the log-variances
};
void uncertainty_bwd(Tape& t, Var* out, const UncertaintySaved& sv) {
  Var* s = sv.s;
  const float g = out->g.f32()[0];
  float* ds = t.grad_zeroed_for(s);
  for (int k = 0; k < sv.n; ++k) {
    const int j = sv.slot[k];
    const double w = std::exp(-double(s->v.f32()[j]));
    GradMode a;
    if (float* dl = t.grad_for(sv.loss[k], &a)) dl[0] = float((a ? dl[0] : 0.0) + g * w);
    if (ds) ds[j] += float(g * (1.0 - w * sv.loss[k]->v.f32()[0]));
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
  t.record<pick_bwd>("pick", out, PickSaved{x, ri, ci, R, M});
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
  UncertaintySaved saved{int(losses.size()), {}, {}, s};
  for (size_t k = 0; k < losses.size(); ++k) {
    saved.loss[k] = losses[k];
    saved.slot[k] = slot[k];
  }
  t.record<uncertainty_bwd>("uncertainty_sum", out, saved);
  return out;
}

}  // namespace mr::rec
