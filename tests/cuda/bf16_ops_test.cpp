// bf16 storage (KernelTableBf16, kernels/kernel_table.h) on the CUDA backend against the fp32
// reference kernels/ref. Every input is rounded to bf16 first, so the reference sees exactly the
// values the device stores; the device's buffers are bf16 where the table says so (activations
// and their gradients) and fp32 elsewhere (parameter gradients, statistics, parameters read
// directly). Sentinels guard both kinds of buffer; the three gradient modes (0, 3, +=) run for
// every backward.
// Tolerances (relative L2 error against the double-accumulating reference), set before the
// first run:
//   * a bf16 output: 5u = 1e-2, with u = 2^-9 the unit roundoff of bf16. Rounding the output
//     once costs about u/sqrt(3) = 1.1e-3; an input or intermediate read back rounded (the
//     residual sum, GELU's pre-activation, the attention's P' and dS) costs a few u more;
//     reading a bf16 buffer as fp32, or any indexing error, is O(1);
//   * an fp32 output computed from the (exact) bf16 inputs without any rounding to bf16 in
//     between (dW, db, dgamma, dbeta, the embedding tables, mean and rstd, to_f32): the fp32
//     tolerance 1e-5 of the fp32 suite.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "kernels/cuda/cuda_ops.h"
#include "kernels/philox.h"
#include "tests/cuda/bf16_harness.h"

using namespace mr;
using namespace mr::cudatest;

TEST_CASE("cuda bf16: conversions round to nearest even, widen exactly, and accumulate in fp32") {
  std::mt19937_64 rng(3);
  auto x = randnf(1025, rng, 10.0);
  // ties: 1 + 2^-8 sits halfway between 1 and 1 + 2^-7 and goes to even (1); 1 + 3 * 2^-8 goes up
  x[0] = 1.0f + 1.0f / 256, x[1] = 1.0f + 3.0f / 256, x[2] = -0.0f, x[3] = 1e-40f;  // and a subnormal
  const int64_t n = int64_t(x.size());
  for (GradMode acc : {kOverwrite, kAccumulate}) {
    auto prev = round_bf16(randnf(x.size(), rng));
    // to_bf16 writes fp32 -> bf16: compare bits against a host rounding of (prev +) x
    Case16 c{"to_bf16", {{prev, true, k16}, {x, false, -1}}, {},
             [=](const KernelTable& k, auto& p, auto&) { k.axpy(p[0], p[1], 1.0f, n, acc); },
             [=](const KernelTableBf16& k, auto& p, auto&) { k.to_bf16(B16(p, 0), F(p, 1), n, acc); }};
    Outs o = run16(c);
    size_t wrong = 0;
    for (size_t i = 0; i < x.size(); ++i) {
      const float want = from_bits(to_bits(acc ? prev[i] + x[i] : x[i]));
      wrong += std::memcmp(&o.dev[0][i], &want, 4) != 0;
    }
    CHECK(wrong == 0);
    if (!acc) {
      CHECK(o.dev[0][0] == 1.0f);
      CHECK(o.dev[0][1] == 1.0f + 4.0f / 256);
      CHECK(std::signbit(o.dev[0][2]));
    }
    // to_f32 is exact: bf16 values widen without error (tolerance 0)
    auto xb = round_bf16(x);
    Case16 w{"to_f32", {{filled(x.size(), acc ? 1.0f : 0.0f), false, 0.0}, {xb, true, -1}}, {},
             [=](const KernelTable& k, auto& p, auto&) { k.axpy(p[0], p[1], 1.0f, n, acc); },
             [=](const KernelTableBf16& k, auto& p, auto&) { k.to_f32(F(p, 0), B16(p, 1), n, acc); }};
    run16(w);
  }
}

TEST_CASE("cuda bf16: embedding (bf16 out, fp32 tables and table gradients)") {
  for (auto [B, T, C, V] : {std::tuple{1, 1, 1, 1}, {3, 11, 33, 7}, {1, 129, 32, 130}}) {
    CAPTURE(B); CAPTURE(T); CAPTURE(C);
    std::mt19937_64 rng(B * 100 + T);
    auto ids = rand_ints(size_t(B) * T, 0, V - 1, rng), types = rand_ints(size_t(B) * T, 0, 1, rng);
    auto wte = randnf(size_t(V) * C, rng), wpe = randnf(size_t(T) * C, rng), wtt = randnf(2 * size_t(C), rng);
    run16({"embedding_fwd", {{filled(size_t(B) * T * C, 0.f), true, k16}, {wte, false, -1}, {wpe, false, -1}, {wtt, false, -1}},
           {ids, types},
           [=](const KernelTable& k, auto& p, auto& i) { k.embedding_fwd(p[0], i[0], i[1], p[1], p[2], p[3], B, T, C); },
           [=](const KernelTableBf16& k, auto& p, auto& i) {
             k.embedding_fwd(B16(p, 0), i[0], i[1], F(p, 1), F(p, 2), F(p, 3), B, T, C);
           }});
    auto dout = randnf(size_t(B) * T * C, rng);
    run16({"embedding_bwd",
           {{filled(wte.size(), 1.5f), false, k32}, {filled(wpe.size(), 1.5f), false, k32},
            {filled(wtt.size(), 1.5f), false, k32}, {dout, true, -1}},
           {ids, types},
           [=](const KernelTable& k, auto& p, auto& i) { k.embedding_bwd(p[0], p[1], p[2], p[3], i[0], i[1], B, T, C); },
           [=](const KernelTableBf16& k, auto& p, auto& i) {
             k.embedding_bwd(F(p, 0), F(p, 1), F(p, 2), B16(p, 3), i[0], i[1], B, T, C);
           }});
  }
}

TEST_CASE("cuda bf16: linear (cuBLASLt CUDA_R_16BF operands, fp32 accumulation; dW into fp32)") {
  // off: the bias one bf16 element past a 16-byte boundary, so our own bias kernel adds it
  for (auto [N, IN, OUT, bias, off] : {std::tuple{1, 1, 1, true, false}, {33, 17, 40, true, false},
                                      {132, 64, 33, false, false}, {7, 129, 192, true, true}, {1025, 5, 3, true, false}}) {
    CAPTURE(N); CAPTURE(IN); CAPTURE(OUT); CAPTURE(bias); CAPTURE(off);
    std::mt19937_64 rng(N * 7 + IN);
    auto x = randnf(size_t(N) * IN, rng), w = randnf(size_t(OUT) * IN, rng), b = randnf(OUT + 1, rng);
    Case16 f{"linear_fwd", {{filled(size_t(N) * OUT, 0.f), true, k16}, {x, true, -1}, {w, true, -1}, {b, true, -1}}, {},
             [=](const KernelTable& k, auto& p, auto&) {
               k.linear_fwd(p[0], p[1], p[2], bias ? p[3] + (off ? 1 : 0) : nullptr, N, IN, OUT);
             },
             [=](const KernelTableBf16& k, auto& p, auto&) {
               k.linear_fwd(B16(p, 0), B16(p, 1), B16(p, 2), bias ? B16(p, 3) + (off ? 1 : 0) : nullptr, N, IN, OUT);
             }};
    run16(f);
    auto dout = randnf(size_t(N) * OUT, rng);
    for_modes([&](float fill, GradMode acc) {
      run16({"linear_bwd",
             {{filled(x.size(), fill), true, k16}, {filled(w.size(), fill), false, k32},
              {bias ? filled(OUT, fill) : kNull, false, bias ? k32 : -1}, {dout, true, -1}, {x, true, -1}, {w, true, -1}},
             {},
             [=](const KernelTable& k, auto& p, auto&) {
               k.linear_bwd(p[0], p[1], p[2], p[3], p[4], p[5], N, IN, OUT, acc);
             },
             [=](const KernelTableBf16& k, auto& p, auto&) {
               k.linear_bwd(B16(p, 0), F(p, 1), bias ? F(p, 2) : nullptr, B16(p, 3), B16(p, 4), B16(p, 5), N, IN, OUT, acc);
             }});
    });
  }
}

TEST_CASE("cuda bf16: bias + activation (gelu erf, tanh, none)") {
  for (auto [N, C] : {std::pair{1, 1}, {33, 33}, {1025, 3}})
    for (Act act : {Act::None, Act::Gelu, Act::Tanh})
      for (bool bias : {true, false}) {
        CAPTURE(N); CAPTURE(C); CAPTURE(int(act)); CAPTURE(bias);
        std::mt19937_64 rng(N + C);
        auto x = randnf(size_t(N) * C, rng, 2.0), bb = randnf(C, rng);
        run16({"bias_act_fwd", {{filled(x.size(), 0.f), true, k16}, {x, true, -1}, {bb, true, -1}}, {},
               [=](const KernelTable& k, auto& p, auto&) { k.bias_act_fwd(p[0], p[1], bias ? p[2] : nullptr, N, C, act); },
               [=](const KernelTableBf16& k, auto& p, auto&) {
                 k.bias_act_fwd(B16(p, 0), B16(p, 1), bias ? B16(p, 2) : nullptr, N, C, act);
               }});
        auto dout = randnf(x.size(), rng);
        for_modes([&](float fill, GradMode acc) {
          run16({"bias_act_bwd",
                 {{filled(x.size(), fill), true, k16}, {bias ? filled(C, fill) : kNull, false, bias ? k32 : -1},
                  {dout, true, -1}, {x, true, -1}, {bb, true, -1}},
                 {},
                 [=](const KernelTable& k, auto& p, auto&) {
                   k.bias_act_bwd(p[0], p[1], p[2], p[3], bias ? p[4] : nullptr, N, C, act, acc);
                 },
                 [=](const KernelTableBf16& k, auto& p, auto&) {
                   k.bias_act_bwd(B16(p, 0), bias ? F(p, 1) : nullptr, B16(p, 2), B16(p, 3), bias ? B16(p, 4) : nullptr, N, C,
                                  act, acc);
                 }});
        });
      }
}

TEST_CASE("cuda bf16: layernorm with fused residual (bf16 sum saved, fp32 statistics)") {
  for (auto [N, C] : {std::pair{1, 2}, {33, 64}, {132, 33}, {3, 1025}})
    for (bool resid : {true, false}) {
      CAPTURE(N); CAPTURE(C); CAPTURE(resid);
      std::mt19937_64 rng(N * 3 + C);
      auto a = randnf(size_t(N) * C, rng), r = randnf(size_t(N) * C, rng);
      for (auto& v : a) v += 5.0f;  // an offset mean: the variance must be centred
      auto g = randnf(C, rng), be = randnf(C, rng);
      const float eps = 1e-5f;
      // With a residual, the device normalises the bf16-rounded sum s (what backward reads),
      // the reference the exact one: mean and rstd then differ at the bf16 level, not fp32.
      const double stat = resid ? k16 : k32;
      Outs fo = run16({"layernorm_fwd",
                       {{filled(a.size(), 0.f), true, k16}, {resid ? filled(a.size(), 0.f) : kNull, true, resid ? k16 : -1},
                        {filled(N, 0.f), false, stat}, {filled(N, 0.f), false, stat}, {a, true, -1},
                        {resid ? r : kNull, true, -1}, {g, false, -1}, {be, false, -1}},
                       {},
                       [=](const KernelTable& k, auto& p, auto&) {
                         k.layernorm_fwd(p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], N, C, eps);
                       },
                       [=](const KernelTableBf16& k, auto& p, auto&) {
                         k.layernorm_fwd(B16(p, 0), resid ? B16(p, 1) : nullptr, F(p, 2), F(p, 3), B16(p, 4),
                                         resid ? B16(p, 5) : nullptr, F(p, 6), F(p, 7), N, C, eps);
                       }});
      // backward from the device's own saved s, mean and rstd (s exact in bf16)
      const auto s = resid ? fo.dev[1] : round_bf16(a);
      const auto mean = fo.dev[2], rstd = fo.dev[3];
      auto dy = randnf(a.size(), rng);
      for_modes([&](float fill, GradMode acc) {
        run16({"layernorm_bwd",
               {{filled(a.size(), fill), true, k16}, {resid ? filled(a.size(), fill) : kNull, true, resid ? k16 : -1},
                {filled(C, fill), false, k32}, {filled(C, fill), false, k32}, {dy, true, -1}, {s, true, -1},
                {mean, false, -1}, {rstd, false, -1}, {g, false, -1}},
               {},
               [=](const KernelTable& k, auto& p, auto&) {
                 k.layernorm_bwd(p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], p[8], N, C, acc, acc ? kOverwrite : kAccumulate);
               },
               [=](const KernelTableBf16& k, auto& p, auto&) {
                 k.layernorm_bwd(B16(p, 0), resid ? B16(p, 1) : nullptr, F(p, 2), F(p, 3), B16(p, 4), B16(p, 5), F(p, 6),
                                 F(p, 7), F(p, 8), N, C, acc, acc ? kOverwrite : kAccumulate);
               }});
      });
    }
}

TEST_CASE("cuda bf16: attention (tensor-core kernels for head dims 16-128, CUDA-core ones otherwise)") {
  struct S {
    int B, T, C, H;
    bool masked;
    float p;
  };
  double worst_fwd = 0, worst_bwd = 0;
  // head dims 64, 32, 128, 16 (tensor cores) and 24, 8 (the fp32 kernels on widened copies)
  for (S sh : {S{2, 7, 128, 2, true, 0.1f}, S{3, 33, 64, 2, true, 0.f}, S{1, 129, 128, 1, true, 0.2f},
               S{2, 40, 32, 2, true, 0.1f}, S{2, 33, 48, 2, true, 0.1f}, S{1, 70, 16, 2, false, 0.f}}) {
    const int B = sh.B, T = sh.T, C = sh.C, H = sh.H;
    const float p = sh.p;
    CAPTURE(B); CAPTURE(T); CAPTURE(C); CAPTURE(H); CAPTURE(p);
    std::mt19937_64 rng(B * 13 + T);
    auto qkv = randnf(size_t(B) * T * 3 * C, rng);
    std::vector<int32_t> mask;
    if (sh.masked) {
      mask.assign(size_t(B) * T, 1);
      for (int b = 0; b < B; ++b)
        for (int t = T - (b * 3) % T; t < T; ++t) mask[size_t(b) * T + t] = t == 0 ? 1 : 0;
    }
    const uint64_t seed = 1234, off = 77;
    const Case16 fwd{"attention_fwd",
                     {{filled(size_t(B) * T * C, 0.f), true, k16}, {filled(size_t(B) * H * T, 0.f), false, k32},
                      {qkv, true, -1}},
                     {mask},
                     [=](const KernelTable& k, auto& pp, auto& i) {
                       k.attention_fwd(pp[0], pp[1], pp[2], i[0], B, T, C, H, p, seed, off);
                     },
                     [=](const KernelTableBf16& k, auto& pp, auto& i) {
                       k.attention_fwd(B16(pp, 0), F(pp, 1), B16(pp, 2), i[0], B, T, C, H, p, seed, off);
                     }};
    Outs fo = run16(fwd);
    worst_fwd = std::max(worst_fwd, test::rel_l2(fo.dev[0], fo.ref[0], fo.ref[0].size()));
    // bf16 storage does not depend on the math mode: every mode's table carries the one bf16 table
    for (cuda::Math m : {cuda::Math::fp32, cuda::Math::bf16, cuda::Math::tf32})
      CHECK(cuda::kernels(m).bf16 == &kCudaKernelsBf16);
    // backward at the reference's out and lse (out rounded to bf16, as the device stores it)
    const auto out = round_bf16(fo.ref[0]);
    const auto& lse = fo.ref[1];
    auto dout = randnf(size_t(B) * T * C, rng);
    for_modes([&](float fill, GradMode acc) {
      Outs bo = run16({"attention_bwd",
                       {{filled(qkv.size(), fill), true, k16}, {dout, true, -1}, {qkv, true, -1}, {out, true, -1},
                        {lse, false, -1}},
                       {mask},
                       [=](const KernelTable& k, auto& pp, auto& i) {
                         k.attention_bwd(pp[0], pp[1], pp[2], pp[3], pp[4], i[0], B, T, C, H, p, seed, off, acc);
                       },
                       [=](const KernelTableBf16& k, auto& pp, auto& i) {
                         k.attention_bwd(B16(pp, 0), B16(pp, 1), B16(pp, 2), B16(pp, 3), F(pp, 4), i[0], B, T, C, H, p, seed,
                                         off, acc);
                       }});
      if (fill == 0.0f && !acc) worst_bwd = std::max(worst_bwd, test::rel_l2(bo.dev[0], bo.ref[0], bo.ref[0].size()));
    });
  }
  MESSAGE("bf16 attention: worst relative L2 error forward ", worst_fwd, ", backward ", worst_bwd, " (tolerance ", k16,
          ")");
}

TEST_CASE("cuda bf16: attention refuses channels that do not split into the heads") {
  void* p = nullptr;
  REQUIRE(cudaMalloc(&p, 4096) == cudaSuccess);
  auto* h = static_cast<bf16_t*>(p);
  CHECK_THROWS_WITH(kCudaKernels.bf16->attention_fwd(h, static_cast<float*>(p), h, nullptr, 1, 2, 33, 2, 0.f, 1, 0),
                    doctest::Contains("do not split"));
  cudaFree(p);
}

TEST_CASE("cuda bf16: dropout (the same Philox mask as fp32)") {
  for (int64_t n : {1, 33, 1025})
    for (float p : {0.1f, 0.5f}) {
      CAPTURE(n); CAPTURE(p);
      std::mt19937_64 rng(n);
      auto x = randnf(n, rng);
      Outs o = run16({"dropout_fwd", {{filled(n, 0.f), true, k16}, {x, true, -1}}, {},
                      [=](const KernelTable& k, auto& pp, auto&) { k.dropout_fwd(pp[0], pp[1], n, p, 99, 3); },
                      [=](const KernelTableBf16& k, auto& pp, auto&) { k.dropout_fwd(B16(pp, 0), B16(pp, 1), n, p, 99, 3); }});
      for (int64_t i = 0; i < n; ++i) CHECK((o.dev[0][size_t(i)] == 0.0f) == (o.ref[0][size_t(i)] == 0.0f));
      auto dout = randnf(n, rng);
      for_modes([&](float fill, GradMode acc) {
        run16({"dropout_bwd", {{filled(n, fill), true, k16}, {dout, true, -1}}, {},
               [=](const KernelTable& k, auto& pp, auto&) { k.dropout_bwd(pp[0], pp[1], n, p, 99, 3, acc); },
               [=](const KernelTableBf16& k, auto& pp, auto&) {
                 k.dropout_bwd(B16(pp, 0), B16(pp, 1), n, p, 99, 3, acc);
               }});
      });
    }
}
