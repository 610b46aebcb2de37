// Helpers shared by the recommender's tests.
#pragma once
#include <cstdint>
#include <vector>

#include "engine/rec/model.h"

namespace mr::rec_test {

// The loss of m on b with the tape's random stream at (seed, offset), which fixes dropout and
// the sampled negatives; with grad, also every parameter's gradient (flat layout).
inline double loss_at(rec::RecModel& m, const rec::Batch& b, std::vector<float>* grad, uint64_t seed, uint64_t off) {
  Arena a;
  Tape t(a, seed);
  t.set_rng(seed, off);
  m.params().zero_grad();
  Var* l = m.loss(t, b);
  const double v = l->v.f32()[0];
  if (grad) {
    t.backward(l);
    auto g = m.params().flat_grads();
    grad->assign(g.f32(), g.f32() + g.numel());
    m.params().zero_grad();
  }
  return v;
}

// (f(x + h) - f(x - h)) / 2h, x restored.
template <class F>
double central_diff(float& x, F&& f, float h = 1e-2f) {
  const float x0 = x;
  x = x0 + h;
  const double lp = f();
  x = x0 - h;
  const double lm = f();
  x = x0;
  return (lp - lm) / (2 * double(h));
}

// (rows, H) features of an ItemBert built from s (checkpoint loaded), dropout off.
inline std::vector<float> item_features(const rec::ItemBertSpec& s, const std::vector<int32_t>& rows) {
  ParamStore ps;
  rec::ItemBert ib(s, ps);
  ps.finalize();
  ib.load(ps);
  Arena a;
  Tape t(a);
  t.set_training(false);
  NoGrad ng(t);
  Var* f = ib.features(t, rows);
  return {f->v.f32(), f->v.f32() + f->v.numel()};
}

}  // namespace mr::rec_test
