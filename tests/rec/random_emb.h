// Random N(0, 1) item text embeddings (n x d, row-major) for tiny RecModels in tests, and the
// trainable parameters of such a model moved off their init (so no gradient is trivially 0).
#pragma once
#include <cstdint>
#include <random>
#include <vector>

inline std::vector<float> random_emb(int64_t n, int64_t d, uint64_t seed) {
  std::mt19937_64 r(seed);
  std::normal_distribution<float> nd;
  std::vector<float> e(size_t(n * d));
  for (auto& x : e) x = nd(r);
  return e;
}

// Adds N(0, sd) noise (seed) to every trainable parameter of ps.
template <class Params>
void perturb_trainable(Params& ps, uint64_t seed, float sd = 0.05f) {
  std::mt19937_64 r(seed);
  std::normal_distribution<float> nd(0.0f, sd);
  for (auto& p : ps.all())
    if (!p.frozen)
      for (int64_t i = 0; i < p.w.numel(); ++i) p.w.f32()[i] += nd(r);
}
