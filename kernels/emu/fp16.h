// Host implementation of the half (IEEE binary16) and bfloat16 types and the cuda_fp16.h /
// cuda_bf16.h functions our kernels use, for the SIMT emulator. Self-contained: the CUDA
// toolkit is optional on machines that build metarec, so the emulator never includes its
// headers. Conversions from float round to nearest even (as __float2half_rn and
// __float2bfloat16_rn do on the GPU); arithmetic is done in float and rounded once, which is
// exact for + - * of two halves or two bf16 values (a float holds their exact result, or a
// result that rounds the same way). __hfma rounds twice (float fma, then half): it can differ
// from the GPU's single rounding in the last bit on rare ties.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>

namespace mr::emu::fp {

inline uint32_t f2u(float f) { uint32_t u; std::memcpy(&u, &f, 4); return u; }
inline float u2f(uint32_t u) { float f; std::memcpy(&f, &u, 4); return f; }

// float -> binary16 bits, round to nearest even; NaN stays NaN, overflow goes to infinity.
inline uint16_t float_to_half_bits(float f) {
  uint32_t x = f2u(f);
  uint32_t sign = (x >> 16) & 0x8000u;
  uint32_t ax = x & 0x7fffffffu;
  if (ax >= 0x7f800000u) return uint16_t(sign | (ax > 0x7f800000u ? 0x7e00u : 0x7c00u));
  if (ax >= 0x477ff000u) return uint16_t(sign | 0x7c00u);  // >= 65520 rounds to infinity
  if (ax < 0x38800000u) {  // below 2^-14: subnormal half (or zero); units of 2^-24, exact scaling
    float v = std::nearbyint(u2f(ax) * 16777216.0f);  // default rounding mode: nearest even
    return uint16_t(sign | uint32_t(v));               // 1024 encodes the smallest normal
  }
  uint32_t e = (ax >> 23) - 127 + 15, mant = ax & 0x7fffffu;
  uint32_t h = (e << 10) | (mant >> 13), rem = mant & 0x1fffu;
  if (rem > 0x1000u || (rem == 0x1000u && (h & 1u))) h++;  // a carry into the exponent is right
  return uint16_t(sign | h);
}

inline float half_bits_to_float(uint16_t h) {
  uint32_t sign = uint32_t(h & 0x8000u) << 16, e = (h >> 10) & 0x1fu, m = h & 0x3ffu;
  if (e == 0) {  // zero or subnormal: m * 2^-24
    float v = float(m) * (1.0f / 16777216.0f);
    return sign ? -v : v;
  }
  if (e == 31) return u2f(sign | 0x7f800000u | (m << 13));
  return u2f(sign | ((e - 15 + 127) << 23) | (m << 13));
}

// float -> bfloat16 bits, round to nearest even; NaN stays a (quiet) NaN.
inline uint16_t float_to_bf16_bits(float f) {
  uint32_t u = f2u(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return uint16_t((u >> 16) | 0x40u);
  u += 0x7fffu + ((u >> 16) & 1u);
  return uint16_t(u >> 16);
}
inline float bf16_bits_to_float(uint16_t b) { return u2f(uint32_t(b) << 16); }

}  // namespace mr::emu::fp

struct __half_raw { unsigned short x; };
struct __nv_bfloat16_raw { unsigned short x; };

struct __half {
  unsigned short __x;
  __half() = default;
  __half(float f) : __x(mr::emu::fp::float_to_half_bits(f)) {}
  __half(double f) : __x(mr::emu::fp::float_to_half_bits(float(f))) {}
  __half(int i) : __half(float(i)) {}
  __half(const __half_raw& r) : __x(r.x) {}
  operator float() const { return mr::emu::fp::half_bits_to_float(__x); }
  operator __half_raw() const { return {__x}; }
};

struct __nv_bfloat16 {
  unsigned short __x;
  __nv_bfloat16() = default;
  __nv_bfloat16(float f) : __x(mr::emu::fp::float_to_bf16_bits(f)) {}
  __nv_bfloat16(double f) : __x(mr::emu::fp::float_to_bf16_bits(float(f))) {}
  __nv_bfloat16(int i) : __nv_bfloat16(float(i)) {}
  __nv_bfloat16(const __nv_bfloat16_raw& r) : __x(r.x) {}
  operator float() const { return mr::emu::fp::bf16_bits_to_float(__x); }
  operator __nv_bfloat16_raw() const { return {__x}; }
};

struct alignas(4) __half2 {
  __half x, y;
  __half2() = default;
  __half2(__half a, __half b) : x(a), y(b) {}
};
struct alignas(4) __nv_bfloat162 {
  __nv_bfloat16 x, y;
  __nv_bfloat162() = default;
  __nv_bfloat162(__nv_bfloat16 a, __nv_bfloat16 b) : x(a), y(b) {}
};

typedef __half half;
typedef __half2 half2;
typedef __nv_bfloat16 nv_bfloat16;
typedef __nv_bfloat162 nv_bfloat162;

// ---- conversions
inline __half __float2half(float f) { return __half(f); }
inline __half __float2half_rn(float f) { return __half(f); }
inline float __half2float(__half h) { return float(h); }
inline __half2 __float2half2_rn(float f) { return {__half(f), __half(f)}; }
inline __half2 __floats2half2_rn(float a, float b) { return {__half(a), __half(b)}; }
inline __half2 __halves2half2(__half a, __half b) { return {a, b}; }
inline __half2 __half2half2(__half a) { return {a, a}; }
inline float __low2float(__half2 h) { return float(h.x); }
inline float __high2float(__half2 h) { return float(h.y); }
inline __half __low2half(__half2 h) { return h.x; }
inline __half __high2half(__half2 h) { return h.y; }
inline unsigned short __half_as_ushort(__half h) { return h.__x; }
inline __half __ushort_as_half(unsigned short u) { return __half(__half_raw{u}); }
inline short __half_as_short(__half h) { return short(h.__x); }
inline __half __short_as_half(short s) { return __half(__half_raw{(unsigned short)s}); }

inline __nv_bfloat16 __float2bfloat16(float f) { return __nv_bfloat16(f); }
inline __nv_bfloat16 __float2bfloat16_rn(float f) { return __nv_bfloat16(f); }
inline float __bfloat162float(__nv_bfloat16 b) { return float(b); }
inline __nv_bfloat162 __float2bfloat162_rn(float f) { return {__nv_bfloat16(f), __nv_bfloat16(f)}; }
inline __nv_bfloat162 __floats2bfloat162_rn(float a, float b) { return {__nv_bfloat16(a), __nv_bfloat16(b)}; }
inline __nv_bfloat162 __halves2bfloat162(__nv_bfloat16 a, __nv_bfloat16 b) { return {a, b}; }
inline __nv_bfloat162 __bfloat162bfloat162(__nv_bfloat16 a) { return {a, a}; }
inline float __low2float(__nv_bfloat162 h) { return float(h.x); }
inline float __high2float(__nv_bfloat162 h) { return float(h.y); }
inline __nv_bfloat16 __low2bfloat16(__nv_bfloat162 h) { return h.x; }
inline __nv_bfloat16 __high2bfloat16(__nv_bfloat162 h) { return h.y; }
inline unsigned short __bfloat16_as_ushort(__nv_bfloat16 h) { return h.__x; }
inline __nv_bfloat16 __ushort_as_bfloat16(unsigned short u) { return __nv_bfloat16(__nv_bfloat16_raw{u}); }
inline short __bfloat16_as_short(__nv_bfloat16 h) { return short(h.__x); }
inline __nv_bfloat16 __short_as_bfloat16(short s) { return __nv_bfloat16(__nv_bfloat16_raw{(unsigned short)s}); }

// ---- arithmetic: the same names for half and bf16 (overloads), computed in float, rounded once
#define MR_EMU_FP_OPS(T, T2)                                                                   \
  inline T __hadd(T a, T b) { return T(float(a) + float(b)); }                               \
  inline T __hsub(T a, T b) { return T(float(a) - float(b)); }                               \
  inline T __hmul(T a, T b) { return T(float(a) * float(b)); }                               \
  inline T __hdiv(T a, T b) { return T(float(a) / float(b)); }                               \
  inline T __hfma(T a, T b, T c) { return T(std::fma(float(a), float(b), float(c))); }       \
  inline T __hneg(T a) { T r = a; r.__x ^= 0x8000u; return r; }                              \
  inline T __habs(T a) { T r = a; r.__x &= 0x7fffu; return r; }                              \
  inline T __hmax(T a, T b) { return std::isnan(float(a)) ? b : std::isnan(float(b)) ? a : (float(a) < float(b) ? b : a); } \
  inline T __hmin(T a, T b) { return std::isnan(float(a)) ? b : std::isnan(float(b)) ? a : (float(b) < float(a) ? b : a); } \
  inline bool __heq(T a, T b) { return float(a) == float(b); }                               \
  inline bool __hne(T a, T b) { return float(a) != float(b); }                               \
  inline bool __hlt(T a, T b) { return float(a) < float(b); }                                \
  inline bool __hle(T a, T b) { return float(a) <= float(b); }                               \
  inline bool __hgt(T a, T b) { return float(a) > float(b); }                                \
  inline bool __hge(T a, T b) { return float(a) >= float(b); }                               \
  inline bool __hisnan(T a) { return std::isnan(float(a)); }                                 \
  inline bool __hisinf(T a) { return std::isinf(float(a)); }                                 \
  inline T2 __hadd2(T2 a, T2 b) { return {__hadd(a.x, b.x), __hadd(a.y, b.y)}; }             \
  inline T2 __hsub2(T2 a, T2 b) { return {__hsub(a.x, b.x), __hsub(a.y, b.y)}; }             \
  inline T2 __hmul2(T2 a, T2 b) { return {__hmul(a.x, b.x), __hmul(a.y, b.y)}; }             \
  inline T2 __hfma2(T2 a, T2 b, T2 c) { return {__hfma(a.x, b.x, c.x), __hfma(a.y, b.y, c.y)}; } \
  inline T2 __hmax2(T2 a, T2 b) { return {__hmax(a.x, b.x), __hmax(a.y, b.y)}; }             \
  inline T2 __hmin2(T2 a, T2 b) { return {__hmin(a.x, b.x), __hmin(a.y, b.y)}; }             \
  inline T2 __hneg2(T2 a) { return {__hneg(a.x), __hneg(a.y)}; }                             \
  inline T2 __lowhigh2highlow(T2 a) { return {a.y, a.x}; }                                   \
  inline T operator+(T a, T b) { return __hadd(a, b); }                                      \
  inline T operator-(T a, T b) { return __hsub(a, b); }                                      \
  inline T operator*(T a, T b) { return __hmul(a, b); }                                      \
  inline T operator/(T a, T b) { return __hdiv(a, b); }                                      \
  inline T operator-(T a) { return __hneg(a); }                                              \
  inline T& operator+=(T& a, T b) { return a = __hadd(a, b); }                               \
  inline T& operator-=(T& a, T b) { return a = __hsub(a, b); }                               \
  inline T& operator*=(T& a, T b) { return a = __hmul(a, b); }                               \
  inline T& operator/=(T& a, T b) { return a = __hdiv(a, b); }                               \
  inline bool operator==(T a, T b) { return __heq(a, b); }                                   \
  inline bool operator!=(T a, T b) { return __hne(a, b); }                                   \
  inline bool operator<(T a, T b) { return __hlt(a, b); }                                    \
  inline bool operator<=(T a, T b) { return __hle(a, b); }                                   \
  inline bool operator>(T a, T b) { return __hgt(a, b); }                                    \
  inline bool operator>=(T a, T b) { return __hge(a, b); }                                   \
  inline T2 operator+(T2 a, T2 b) { return __hadd2(a, b); }                                  \
  inline T2 operator-(T2 a, T2 b) { return __hsub2(a, b); }                                  \
  inline T2 operator*(T2 a, T2 b) { return __hmul2(a, b); }

MR_EMU_FP_OPS(__half, __half2)
MR_EMU_FP_OPS(__nv_bfloat16, __nv_bfloat162)
#undef MR_EMU_FP_OPS

inline __half hexp(__half a) { return __half(std::exp(float(a))); }
inline __nv_bfloat16 hexp(__nv_bfloat16 a) { return __nv_bfloat16(std::exp(float(a))); }
inline __half hsqrt(__half a) { return __half(std::sqrt(float(a))); }
inline __nv_bfloat16 hsqrt(__nv_bfloat16 a) { return __nv_bfloat16(std::sqrt(float(a))); }
