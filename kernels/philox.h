// Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC'11), the
// counter-based generator behind every dropout mask in metarec. It is a pure function of
// (key, counter), so the CPU, the reference and the CUDA kernels draw the same mask for the
// same (seed, offset) no matter how the work is split across threads.
//
// Element i of a dropout call with (seed, offset) uses counter n = offset + i:
//   r = philox(key = {lo32(seed), hi32(seed)}, ctr = {lo32(n/4), hi32(n/4), 0, 0}), word n%4
//   u = (r >> 8) * 2^-24 in [0, 1); the element is kept iff u >= p, and scaled by 1/(1-p).
#pragma once
#include <cstdint>

#if defined(__CUDACC__)
#define MR_HD __host__ __device__ __forceinline__
#else
#define MR_HD inline
#endif

namespace mr {

struct Philox4 {
  uint32_t v[4];
};

MR_HD uint32_t mulhilo32(uint32_t a, uint32_t b, uint32_t* hi) {
  uint64_t p = uint64_t(a) * uint64_t(b);
  *hi = uint32_t(p >> 32);
  return uint32_t(p);
}

MR_HD Philox4 philox4x32_10(uint32_t c0, uint32_t c1, uint32_t c2, uint32_t c3, uint32_t k0, uint32_t k1) {
  const uint32_t M0 = 0xD2511F53u, M1 = 0xCD9E8D57u, W0 = 0x9E3779B9u, W1 = 0xBB67AE85u;
  for (int r = 0; r < 10; ++r) {
    uint32_t hi0, hi1;
    uint32_t lo0 = mulhilo32(M0, c0, &hi0);
    uint32_t lo1 = mulhilo32(M1, c2, &hi1);
    uint32_t n0 = hi1 ^ c1 ^ k0, n1 = lo1, n2 = hi0 ^ c3 ^ k1, n3 = lo0;
    c0 = n0; c1 = n1; c2 = n2; c3 = n3;
    k0 += W0;
    k1 += W1;
  }
  return Philox4{{c0, c1, c2, c3}};
}

// Uniform in [0, 1) for counter n under seed.
MR_HD float philox_uniform(uint64_t seed, uint64_t n) {
  uint64_t q = n >> 2;
  Philox4 r = philox4x32_10(uint32_t(q), uint32_t(q >> 32), 0u, 0u, uint32_t(seed), uint32_t(seed >> 32));
  return float(r.v[n & 3] >> 8) * (1.0f / 16777216.0f);
}

MR_HD bool dropout_keep(uint64_t seed, uint64_t n, float p) { return philox_uniform(seed, n) >= p; }

// keep[i] = dropout_keep(seed, offset + i, p) for i < n, one Philox evaluation per block of 4.
inline void dropout_mask(uint8_t* keep, uint64_t seed, uint64_t offset, int64_t n, float p) {
  const uint64_t first = offset >> 2, last = (offset + uint64_t(n) + 3) >> 2;
  for (uint64_t q = first; q < last; ++q) {
    const Philox4 r = philox4x32_10(uint32_t(q), uint32_t(q >> 32), 0u, 0u, uint32_t(seed), uint32_t(seed >> 32));
    for (int w = 0; w < 4; ++w) {
      const uint64_t c = q * 4 + uint64_t(w);
      if (c < offset || c >= offset + uint64_t(n)) continue;
      keep[c - offset] = float(r.v[w] >> 8) * (1.0f / 16777216.0f) >= p;
    }
  }
}

}  // namespace mr
