// Tensor, Buffer, Arena, ParamStore: the memory foundation.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>

#include "engine/arena.h"
#include "engine/params.h"
#include "base/tensor.h"

using namespace mr;

TEST_CASE("shape and views") {
  Shape s{3, 17, 64};
  CHECK(s.numel() == 3 * 17 * 64);
  CHECK(s[-1] == 64);
  HostTensor h(s);
  Tensor v = h->view(Shape{51, 64});
  CHECK(v.data == h->data);
  Tensor r = v.rows(2, 5);
  CHECK(r.shape == Shape{3, 64});
  CHECK(static_cast<float*>(r.data) == h->f32() + 2 * 64);
  CHECK_THROWS_AS(h->view(Shape{50, 64}), Error);
  CHECK_THROWS_AS(v.rows(4, 52), Error);
  CHECK_THROWS_AS(h->i32(), Error);
  CHECK(h->str() == "f32[3,17,64]@cpu");
}

TEST_CASE("bf16 and f16 conversions round to nearest even") {
  // 1 + 2^-8 is halfway between two bf16 values (1 and 1 + 2^-7): ties go to even (1).
  CHECK(bf16_to_f32(f32_to_bf16(1.0f + 1.0f / 256)) == 1.0f);
  // 1 + 3*2^-8 is halfway between 1 + 2^-7 and 1 + 2^-6: ties go to the even mantissa (1 + 2^-6).
  CHECK(bf16_to_f32(f32_to_bf16(1.0f + 3.0f / 256)) == 1.0f + 1.0f / 64);
  CHECK(std::isnan(bf16_to_f32(f32_to_bf16(NAN))));
  CHECK(bf16_to_f32(f32_to_bf16(-2.5f)) == -2.5f);
  CHECK(f16_to_f32(f32_to_f16(65504.0f)) == 65504.0f);      // f16 max
  CHECK(std::isinf(f16_to_f32(f32_to_f16(65520.0f))));       // rounds past max -> inf
  CHECK(f16_to_f32(f32_to_f16(1.0f + 1.0f / 2048)) == 1.0f); // tie to even
  CHECK(f16_to_f32(f32_to_f16(1.0f + 3.0f / 2048)) == 1.0f + 2.0f / 1024);  // tie to even, upwards
  CHECK(f32_to_f16(std::ldexp(1.0f, -24)) == 1);              // smallest subnormal
  CHECK(f32_to_f16(std::ldexp(1.0f, -25)) == 0);              // half of it: tie to even (0)
  CHECK(f32_to_f16(std::ldexp(3.0f, -26)) == 1);              // 0.75 of it rounds up
  CHECK(f16_to_f32(0x3555) == doctest::Approx(0.33325195).epsilon(1e-7));
  CHECK(f32_to_f16(-2.0f) == 0xc000);
  CHECK(std::isnan(f16_to_f32(f32_to_f16(NAN))));
  for (uint32_t h = 0; h < 0x7c00; ++h) CHECK(f32_to_f16(f16_to_f32(uint16_t(h))) == h);  // exact round trip
  HostTensor a(Shape{4}), b(Shape{4}, DType::BF16), c(Shape{4});
  float vals[4] = {0.5f, -3.0f, 1e-3f, 1234.5f};
  std::memcpy(a->data, vals, sizeof vals);
  convert(*b, *a);
  convert(*c, *b);
  for (int i = 0; i < 4; ++i) CHECK(std::fabs(c->f32()[i] - vals[i]) <= std::fabs(vals[i]) / 128);
}

TEST_CASE("arena rewinds and coalesces") {
  Arena ar(Device::CPU, 1024);
  Tensor a = ar.alloc(Shape{10});
  Tensor b = ar.alloc(Shape{10});
  CHECK(reinterpret_cast<uintptr_t>(a.data) % 64 == 0);
  CHECK(static_cast<char*>(b.data) - static_cast<char*>(a.data) == 64);
  Tensor big = ar.alloc(Shape{4096});  // spills into a second chunk
  CHECK(ar.chunks() == 2);
  std::memset(big.data, 0, big.nbytes());
  size_t hw = ar.high_water();
  ar.reset();
  CHECK(ar.chunks() == 1);
  CHECK(ar.capacity() >= hw);
  CHECK(ar.used() == 0);
  Tensor a2 = ar.alloc(Shape{10});
  ar.alloc(Shape{10});
  ar.alloc(Shape{4096});
  CHECK(ar.chunks() == 1);  // the second step fits in one chunk
  CHECK(ar.zeros(Shape{5}).f32()[4] == 0.0f);
  (void)a2;
}

TEST_CASE("arena mark and rewind release what came after the mark, across chunks") {
  Arena ar(Device::CPU, 1024);
  Tensor keep = ar.alloc(Shape{10});  // 64 bytes
  const Arena::Mark m = ar.mark();
  Tensor t1 = ar.alloc(Shape{100});   // 448 bytes, chunk 0
  Tensor big = ar.alloc(Shape{512});  // 2048 bytes: spills into chunk 1
  CHECK(ar.chunks() == 2);
  CHECK(ar.used() == 64 + 448 + 2048);
  const size_t hw = ar.high_water();
  ar.rewind(m);
  CHECK(ar.used() == 64);
  CHECK(ar.high_water() == hw);  // the peak is kept
  Tensor t2 = ar.alloc(Shape{100});
  CHECK(t2.data == t1.data);  // the released bytes are handed out again
  Tensor big2 = ar.alloc(Shape{512});
  CHECK(big2.data == big.data);  // the spilled chunk is reused, not reallocated
  CHECK(ar.chunks() == 2);
  CHECK(ar.high_water() == hw);
  CHECK(static_cast<char*>(keep.data) + 64 == static_cast<char*>(t1.data));
  // a mark taken later than the position cannot be rewound to
  const Arena::Mark late = ar.mark();
  ar.rewind(m);
  CHECK_THROWS_AS(ar.rewind(late), Error);
}

TEST_CASE("param store: one buffer for parameters, one for gradients") {
  ParamStore ps;
  ps.add("q.weight", Shape{4, 4});
  ps.add("k.weight", Shape{4, 4});
  ps.add("q.bias", Shape{4}, false);
  CHECK_THROWS_AS(ps.add("q.bias", Shape{4}), Error);
  ps.finalize();
  CHECK(ps.numel() == 36);
  Param& q = ps.at("q.weight");
  Param& k = ps.at("k.weight");
  CHECK(k.w.f32() == q.w.f32() + 16);  // declared in a row -> adjacent: a (2*4, 4) matrix
  CHECK(k.g.f32() == q.g.f32() + 16);
  CHECK(ps.flat_params().f32() == q.w.f32());
  CHECK_FALSE(ps.at("q.bias").decay);
  ps.set_frozen("q.", true);
  CHECK(ps.trainable_numel() == 16);
  CHECK_THROWS_AS(ps.add("late", Shape{1}), Error);
  CHECK_THROWS_AS(ps.at("nope"), Error);
}
