// Helpers shared by the recommender's tests.
#pragma once
#include <cmath>
#include <cstdint>
#include <vector>

#include <doctest/doctest.h>

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

// The gradient of m's loss on b (tape stream at seed, offset) against central finite differences
// at the entries `at(p)` of each named parameter: |got - fd| < 2e-3 + 2e-2 |fd| (float32 forward,
// h = 1e-2). Returns how many entries were checked.
template <class At>
int check_param_grads(rec::RecModel& m, const rec::Batch& b, std::initializer_list<const char*> names, At&& at,
                      uint64_t seed, uint64_t off) {
  std::vector<float> g;
  loss_at(m, b, &g, seed, off);
  int checked = 0;
  for (const char* name : names) {
    Param& p = m.params().at(name);
    for (int64_t i : at(p)) {
      const double fd = central_diff(p.w.f32()[i], [&] { return loss_at(m, b, nullptr, seed, off); });
      const double got = g[size_t(p.offset + i)];
      CAPTURE(name); CAPTURE(i); CAPTURE(fd); CAPTURE(got);
      CHECK(std::abs(got - fd) < 2e-3 + 2e-2 * std::abs(fd));
      checked++;
    }
  }
  return checked;
}

// entries 1, n/2 and n-2 of a parameter
inline std::vector<int64_t> three_entries(const Param& p) { return {1, p.w.numel() / 2, p.w.numel() - 2}; }

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
