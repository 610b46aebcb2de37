// Random N(0, 1) item text embeddings (n x d, row-major) for tiny RecModels in tests.
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
