// CPU dropout: one Philox call yields the uniforms for four consecutive elements.
#include "kernels/cpu/cpu.h"
#include "kernels/philox.h"

namespace mr::cpu {

// Calls f(i, keep_i) for every element; one Philox evaluation serves the four counters of a
// block (counter n uses word n % 4 of block n / 4, exactly as dropout_keep does).
template <class F>
static void for_each_keep(int64_t n, float p, uint64_t seed, uint64_t offset, F&& f) {
  const int64_t first_block = int64_t(offset >> 2), last_block = int64_t((offset + uint64_t(n) + 3) >> 2);
#pragma omp parallel for schedule(static)
  for (int64_t blk = first_block; blk < last_block; ++blk) {
    const uint64_t q = uint64_t(blk);
    const Philox4 r = philox4x32_10(uint32_t(q), uint32_t(q >> 32), 0u, 0u, uint32_t(seed), uint32_t(seed >> 32));
    for (int w = 0; w < 4; ++w) {
      const int64_t i = int64_t(q * 4 + uint64_t(w) - offset);
      if (i < 0 || i >= n) continue;
      f(i, float(r.v[w] >> 8) * (1.0f / 16777216.0f) >= p);
    }
  }
}

void dropout_fwd(float* out, const float* in, int64_t n, float p, uint64_t seed, uint64_t offset) {
  const float ks = 1.0f / (1.0f - p);
  for_each_keep(n, p, seed, offset, [&](int64_t i, bool keep) { out[i] = keep ? in[i] * ks : 0.0f; });
}

void dropout_bwd(float* din, const float* dout, int64_t n, float p, uint64_t seed, uint64_t offset, GradMode acc) {
  const float ks = 1.0f / (1.0f - p);
  for_each_keep(n, p, seed, offset, [&](int64_t i, bool keep) {
    const float g = keep ? dout[i] * ks : 0.0f;
    din[i] = acc ? din[i] + g : g;
  });
}

}  // namespace mr::cpu
