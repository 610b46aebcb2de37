// Host half / bfloat16 conversions against values worked out by hand from the IEEE binary16
// and bfloat16 formats (round to nearest even). Under the emulator they test kernels/emu/fp16.h;
// built by `make emu-gpu-tests` they run against the CUDA toolkit's own host implementation
// (no GPU needed: `build/tests/emu_gpu_tests -tc="emu fp16:*"`), which checks the tables.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <limits>

TEST_CASE("emu fp16: float -> half rounds to nearest even, with subnormals, overflow and NaN") {
  auto h = [](float f) { return __half_as_ushort(__float2half(f)); };
  CHECK(h(1.0f) == 0x3c00);
  CHECK(h(-2.0f) == 0xc000);
  CHECK(h(0.1f) == 0x2e66);
  CHECK(h(65504.0f) == 0x7bff);
  CHECK(h(65519.0f) == 0x7bff);
  CHECK(h(65520.0f) == 0x7c00);  // the midpoint to 65536 ties to even: infinity
  CHECK(h(std::ldexp(1.0f, -14)) == 0x0400);  // smallest normal
  CHECK(h(std::ldexp(1.0f, -24)) == 0x0001);  // smallest subnormal
  CHECK(h(std::ldexp(1.0f, -25)) == 0x0000);  // half of it: tie to even (0)
  CHECK(h(std::ldexp(3.0f, -25)) == 0x0002);  // 1.5 units: tie to even (2)
  CHECK(h(std::ldexp(3.0f, -26)) == 0x0001);  // 0.75 units
  CHECK(h(1.0f + std::ldexp(1.0f, -11)) == 0x3c00);  // tie, even stays
  CHECK(h(1.0f + std::ldexp(3.0f, -11)) == 0x3c02);  // tie, odd rounds up
  CHECK(h(-0.0f) == 0x8000);
  CHECK(h(std::numeric_limits<float>::infinity()) == 0x7c00);
  uint16_t n = h(std::numeric_limits<float>::quiet_NaN());
  CHECK(((n & 0x7c00) == 0x7c00 && (n & 0x3ff) != 0));
}

TEST_CASE("emu fp16: half -> float") {
  auto f = [](uint16_t b) { return __half2float(__ushort_as_half(b)); };
  CHECK(f(0x3c00) == 1.0f);
  CHECK(f(0x3555) == 0.333251953125f);
  CHECK(f(0xfbff) == -65504.0f);
  CHECK(f(0x0001) == std::ldexp(1.0f, -24));
  CHECK(f(0x03ff) == std::ldexp(1023.0f, -24));
  CHECK(std::isinf(f(0x7c00)));
  CHECK(std::isnan(f(0x7e00)));
}

TEST_CASE("emu fp16: float -> bf16 rounds to nearest even") {
  auto b = [](float f) { return __bfloat16_as_ushort(__float2bfloat16(f)); };
  CHECK(b(1.0f) == 0x3f80);
  CHECK(b(0.1f) == 0x3dcd);
  CHECK(b(1.0f + std::ldexp(1.0f, -8)) == 0x3f80);  // tie, even stays
  CHECK(b(1.0f + std::ldexp(3.0f, -8)) == 0x3f82);  // tie, odd rounds up
  CHECK(b(std::numeric_limits<float>::max()) == 0x7f80);  // rounds up to infinity
  CHECK(b(-3.0f) == 0xc040);
  uint16_t n = b(std::numeric_limits<float>::quiet_NaN());
  CHECK(((n & 0x7f80) == 0x7f80 && (n & 0x7f) != 0));
  CHECK(__bfloat162float(__ushort_as_bfloat16(0x4120)) == 10.0f);
}

TEST_CASE("emu fp16: half and bf16 arithmetic rounds once") {
  __half a = __float2half(1.0f), e = __float2half(std::ldexp(1.0f, -11));
  CHECK(__half_as_ushort(__hadd(a, e)) == 0x3c00);  // 1 + 2^-11: tie to even
  CHECK(__half2float(__hmul(__float2half(3.0f), __float2half(0.5f))) == 1.5f);
  __nv_bfloat162 p = __floats2bfloat162_rn(1.0f, -2.0f);
  __nv_bfloat162 q = __hmul2(p, p);
  CHECK(__low2float(q) == 1.0f);
  CHECK(__high2float(q) == 4.0f);
  CHECK(__half2float(__hmax(__float2half(-1.0f), __float2half(2.0f))) == 2.0f);
}
