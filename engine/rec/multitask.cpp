#include "engine/rec/multitask.h"

#include <cmath>

#include "base/check.h"
#include "engine/rec/row_ops.h"

namespace mr::rec {

namespace {

// pick is a gather of single elements: x viewed as (B*M, 1), rows r*M + c (gather_rows_fwd/bwd)
struct PickSaved {
  Var* x;
  Tensor idx;  // (R) i32, flat
  int64_t R;
};
void pick_bwd(Tape& t, Var* out, const PickSaved& s) {
  float* dx = t.grad_zeroed_for(s.x);
  if (dx) t.k().gather_rows_bwd(dx, out->g.f32(), s.idx.i32(), s.R, 1);
}

struct UncertaintySaved {
  Var* loss[3];  // null past n
  int slot[3];   // each loss's entry of s
  Var* s;        // the log-variances
};
void uncertainty_bwd(Tape& t, Var* out, const UncertaintySaved& sv) {
  GradMode a[3] = {kOverwrite, kOverwrite, kOverwrite};
  float* dl[3] = {nullptr, nullptr, nullptr};
  for (int k = 0; k < 3; ++k)
    if (sv.loss[k]) dl[k] = t.grad_for(sv.loss[k], &a[k]);
  float* ds = t.grad_zeroed_for(sv.s);
  auto v = [&](int k) -> const float* { return sv.loss[k] ? sv.loss[k]->v.f32() : nullptr; };
  t.k().uncertainty_bwd(dl[0], dl[1], dl[2], ds, out->g.f32(), v(0), v(1), v(2), sv.s->v.f32(), sv.slot[0], sv.slot[1],
                        sv.slot[2], a[0], a[1], a[2]);
}

}  // namespace

Var* pick(Tape& t, Var* x, const std::vector<int32_t>& rows, const std::vector<int32_t>& cols) {
  MR_CHECK(x->v.shape.ndim == 2 && x->v.dtype == DType::F32 && rows.size() == cols.size(), "pick: a (B, M) f32 x");
  t.check_device(x->v, "pick's input");
  const int64_t B = x->v.size(0), M = x->v.size(1), R = int64_t(rows.size());
  std::vector<int32_t> flat(static_cast<size_t>(R));
  for (int64_t k = 0; k < R; ++k) {
    MR_CHECK(rows[size_t(k)] >= 0 && rows[size_t(k)] < B && cols[size_t(k)] >= 0 && cols[size_t(k)] < M,
             "pick: ({}, {}) outside ({}, {})", rows[size_t(k)], cols[size_t(k)], B, M);
    MR_CHECK(B * M < (int64_t(1) << 31), "pick: ({}, {}) is too large", B, M);
    flat[size_t(k)] = int32_t(int64_t(rows[size_t(k)]) * M + cols[size_t(k)]);
  }
  const Tensor idx = upload(t, flat, Shape{R});
  Var* out = t.alloc(Shape{R, 1}, t.any_requires_grad({x}));
  t.k().gather_rows_fwd(out->v.f32(), x->v.f32(), idx.i32(), R, 1);
  t.record<pick_bwd>("pick", out, PickSaved{x, idx, R});
  return out;
}

Var* uncertainty_sum(Tape& t, const std::vector<Var*>& losses, Var* s, const std::vector<int>& slot) {
  MR_CHECK(!losses.empty() && losses.size() <= 3 && losses.size() == slot.size(), "uncertainty_sum: 1 to 3 losses");
  t.check_device(s->v, "uncertainty_sum's log-variances");
  bool rg = t.any_requires_grad({s});
  UncertaintySaved saved{{nullptr, nullptr, nullptr}, {0, 0, 0}, s};
  for (size_t k = 0; k < losses.size(); ++k) {
    MR_CHECK(losses[k]->v.numel() == 1 && slot[k] >= 0 && slot[k] < s->v.numel(), "uncertainty_sum: scalar losses");
    t.check_device(losses[k]->v, "uncertainty_sum's losses");
    rg = rg || t.any_requires_grad({losses[k]});
    saved.loss[k] = losses[k];
    saved.slot[k] = slot[k];
  }
  Var* out = t.alloc(Shape{1}, rg);
  auto v = [&](int k) -> const float* { return saved.loss[k] ? saved.loss[k]->v.f32() : nullptr; };
  t.k().uncertainty_fwd(out->v.f32(), v(0), v(1), v(2), s->v.f32(), saved.slot[0], saved.slot[1], saved.slot[2]);
  t.record<uncertainty_bwd>("uncertainty_sum", out, saved);
  return out;
}

}  // namespace mr::rec
