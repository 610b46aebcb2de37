// CPU dropout: one Philox call yields the uniforms for four consecutive elements.
#include "kernels/cpu/cpu.h"
#include "kernels/philox.h"

namespace mr::cpu {

template <class F>
static void for_each_keep(int64_t n, float p, uint64_t seed, uint64_t offset, F&& f) {
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i) f(i, dropout_keep(seed, offset + uint64_t(i), p));
}

void dropout_fwd(float* out, const float* in, int64_t n, float p, uint64_t seed, uint64_t offset) {
  const float ks = 1.0f / (1.0f - p);
  for_each_keep(n, p, seed, offset, [&](int64_t i, bool keep) { out[i] = keep ? in[i] * ks : 0.0f; });
}

void dropout_bwd(float* din, const float* dout, int64_t n, float p, uint64_t seed, uint64_t offset, bool acc) {
  const float ks = 1.0f / (1.0f - p);
  for_each_keep(n, p, seed, offset, [&](int64_t i, bool keep) {
    const float g = keep ? dout[i] * ks : 0.0f;
    din[i] = acc ? din[i] + g : g;
  });
}

}  // namespace mr::cpu
