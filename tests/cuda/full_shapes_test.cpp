// BERT-base-sized shapes, natively on a GPU only (make test-kernels-gpu / metarec
// test-kernels): too slow for the SIMT emulator, so this file compiles to nothing there.
// Same harness, same tolerances as tests/cuda/ops_test.cpp (fp32 relative L2 <= 1e-5: the
// longest reduction here is K = 3072, whose rounding grows like sqrt(K) * 6e-8 ~ 3e-6).
// The reference runs in double on the host: a few tens of seconds.
#include <cuda_runtime.h>  // the emulator's stand-in defines MR_EMU

#ifndef MR_EMU
#include "tests/cuda/bf16_harness.h"

using namespace mr;
using namespace mr::cudatest;

namespace {
constexpr double kTol = 1e-5;
}

TEST_CASE("cuda op (native, full shapes): linear 1024 x 768 -> 3072 and back") {
  const int N = 1024, IN = 768, OUT = 3072;
  std::mt19937_64 rng(5);
  auto x = randnf(size_t(N) * IN, rng), w = randnf(size_t(OUT) * IN, rng, 0.03), b = randnf(OUT, rng);
  run_case({"linear_fwd", {filled(size_t(N) * OUT, 0.f), x, w, b}, {}, {kTol, -1, -1, -1},
            [=](const KernelTable& k, auto& p, auto&) { k.linear_fwd(p[0], p[1], p[2], p[3], N, IN, OUT); }});
  auto dout = randnf(size_t(N) * OUT, rng);
  run_case({"linear_bwd", {filled(x.size(), 0.f), filled(w.size(), 0.f), filled(OUT, 0.f), dout, x, w}, {},
            {kTol, kTol, kTol, -1, -1, -1},
            [=](const KernelTable& k, auto& p, auto&) { k.linear_bwd(p[0], p[1], p[2], p[3], p[4], p[5], N, IN, OUT, kOverwrite); }});
}

// BERT-base attention input: 2 x 512, 12 heads of 64, the second sequence padded after 300 tokens.
struct PaddedAttention {
  static constexpr int B = 2, T = 512, C = 768, H = 12;
  std::mt19937_64 rng;
  std::vector<float> qkv;
  std::vector<int32_t> mask;
  explicit PaddedAttention(uint64_t seed) : rng(seed), qkv(randnf(size_t(B) * T * 3 * C, rng)), mask(size_t(B) * T, 1) {
    for (int t = 300; t < T; ++t) mask[T + t] = 0;
  }
};

TEST_CASE("cuda op (native, full shapes): attention B=2, T=512, 12 heads of 64, padded, dropout 0.1") {
  PaddedAttention in(6);
  constexpr int B = PaddedAttention::B, T = PaddedAttention::T, C = PaddedAttention::C, H = PaddedAttention::H;
  auto& rng = in.rng;
  const auto& qkv = in.qkv;
  const auto& mask = in.mask;
  Outs fo = run_case({"attention_fwd", {filled(size_t(B) * T * C, 0.f), filled(size_t(B) * H * T, 0.f), qkv}, {mask},
                      {kTol, kTol, -1},
                      [=](const KernelTable& k, auto& p, auto& i) { k.attention_fwd(p[0], p[1], p[2], i[0], B, T, C, H, 0.1f, 3, 0); }});
  auto dout = randnf(size_t(B) * T * C, rng);
  run_case({"attention_bwd", {filled(qkv.size(), 0.f), dout, qkv, fo.ref[0], fo.ref[1]}, {mask}, {kTol, -1, -1, -1, -1},
            [=](const KernelTable& k, auto& p, auto& i) { k.attention_bwd(p[0], p[1], p[2], p[3], p[4], i[0], B, T, C, H, 0.1f, 3, 0, kOverwrite); }});
}

// The same in Math::bf16 (tensor cores), inputs rounded to bf16: tolerance 1e-2 as in ops_test.
TEST_CASE("cuda op (native, full shapes): bf16 tensor-core attention B=2, T=512, 12 heads of 64, padded, dropout 0.1") {
  MathScope bf16(cuda::Math::bf16);
  const int B = 2, T = 512, C = 768, H = 12;
  std::mt19937_64 rng(6);
  auto qkv = round_bf16(randnf(size_t(B) * T * 3 * C, rng));
  std::vector<int32_t> mask(size_t(B) * T, 1);
  for (int t = 300; t < T; ++t) mask[T + t] = 0;
  Outs fo = run_case({"attention_fwd", {filled(size_t(B) * T * C, 0.f), filled(size_t(B) * H * T, 0.f), qkv}, {mask},
                      {1e-2, 1e-2, -1},
                      [=](const KernelTable& k, auto& p, auto& i) { k.attention_fwd(p[0], p[1], p[2], i[0], B, T, C, H, 0.1f, 3, 0); }});
  auto dout = round_bf16(randnf(size_t(B) * T * C, rng));
  run_case({"attention_bwd", {filled(qkv.size(), 0.f), dout, qkv, fo.ref[0], fo.ref[1]}, {mask}, {1e-2, -1, -1, -1, -1},
            [=](const KernelTable& k, auto& p, auto& i) { k.attention_bwd(p[0], p[1], p[2], p[3], p[4], i[0], B, T, C, H, 0.1f, 3, 0, kOverwrite); }});
}

// bf16 storage at BERT-base shapes (KernelTableBf16 against kernels/ref, tests/cuda/bf16_harness.h):
// bf16 outputs within 1e-2, fp32 parameter gradients computed without a bf16 rounding within
// 1e-5, as in bf16_ops_test.cpp. Written without a GPU: compiled, not yet run.
TEST_CASE("cuda bf16 (native, full shapes): linear 1024 x 768 -> 3072 (bias in the epilogue) and back") {
  const int N = 1024, IN = 768, OUT = 3072;
  std::mt19937_64 rng(15);
  auto x = randnf(size_t(N) * IN, rng), w = randnf(size_t(OUT) * IN, rng, 0.03), b = randnf(OUT, rng);
  run16({"linear_fwd", {{filled(size_t(N) * OUT, 0.f), true, k16}, {x, true, -1}, {w, true, -1}, {b, true, -1}}, {},
         [=](const KernelTable& k, auto& p, auto&) { k.linear_fwd(p[0], p[1], p[2], p[3], N, IN, OUT); },
         [=](const KernelTableBf16& k, auto& p, auto&) { k.linear_fwd(B16(p, 0), B16(p, 1), B16(p, 2), B16(p, 3), N, IN, OUT); }});
  auto dout = randnf(size_t(N) * OUT, rng);
  run16({"linear_bwd",
         {{filled(x.size(), 0.f), true, k16}, {filled(w.size(), 0.f), false, k32}, {filled(OUT, 0.f), false, k32},
          {dout, true, -1}, {x, true, -1}, {w, true, -1}},
         {},
         [=](const KernelTable& k, auto& p, auto&) { k.linear_bwd(p[0], p[1], p[2], p[3], p[4], p[5], N, IN, OUT, kOverwrite); },
         [=](const KernelTableBf16& k, auto& p, auto&) {
           k.linear_bwd(B16(p, 0), F(p, 1), F(p, 2), B16(p, 3), B16(p, 4), B16(p, 5), N, IN, OUT, kOverwrite);
         }});
}

TEST_CASE("cuda bf16 (native, full shapes): attention B=2, T=512, 12 heads of 64, padded, dropout 0.1") {
  PaddedAttention in(16);
  constexpr int B = PaddedAttention::B, T = PaddedAttention::T, C = PaddedAttention::C, H = PaddedAttention::H;
  auto& rng = in.rng;
  const auto& qkv = in.qkv;
  const auto& mask = in.mask;
  Outs fo = run16({"attention_fwd",
                   {{filled(size_t(B) * T * C, 0.f), true, k16}, {filled(size_t(B) * H * T, 0.f), false, k32}, {qkv, true, -1}},
                   {mask},
                   [=](const KernelTable& k, auto& p, auto& i) { k.attention_fwd(p[0], p[1], p[2], i[0], B, T, C, H, 0.1f, 3, 0); },
                   [=](const KernelTableBf16& k, auto& p, auto& i) {
                     k.attention_fwd(B16(p, 0), F(p, 1), B16(p, 2), i[0], B, T, C, H, 0.1f, 3, 0);
                   }});
  const auto out = round_bf16(fo.ref[0]);
  auto dout = randnf(size_t(B) * T * C, rng);
  run16({"attention_bwd",
         {{filled(qkv.size(), 0.f), true, k16}, {dout, true, -1}, {qkv, true, -1}, {out, true, -1}, {fo.ref[1], false, -1}},
         {mask},
         [=](const KernelTable& k, auto& p, auto& i) {
           k.attention_bwd(p[0], p[1], p[2], p[3], p[4], i[0], B, T, C, H, 0.1f, 3, 0, kOverwrite);
         },
         [=](const KernelTableBf16& k, auto& p, auto& i) {
           k.attention_bwd(B16(p, 0), B16(p, 1), B16(p, 2), B16(p, 3), F(p, 4), i[0], B, T, C, H, 0.1f, 3, 0, kOverwrite);
         }});
}

TEST_CASE("cuda op (native, full shapes): layernorm, GELU, embedding, cross-entropy over a 30522 vocabulary") {
  const int N = 1024, C = 768, V = 30522;
  std::mt19937_64 rng(7);
  auto a = randnf(size_t(N) * C, rng), r = randnf(size_t(N) * C, rng), g = randnf(C, rng), be = randnf(C, rng);
  Outs lo = run_case({"layernorm_fwd", {filled(a.size(), 0.f), filled(a.size(), 0.f), filled(N, 0.f), filled(N, 0.f), a, r, g, be},
                      {}, {kTol, kTol, kTol, kTol, -1, -1, -1, -1},
                      [=](const KernelTable& k, auto& p, auto&) { k.layernorm_fwd(p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], N, C, 1e-12f); }});
  auto dy = randnf(a.size(), rng);
  run_case({"layernorm_bwd", {filled(a.size(), 0.f), filled(a.size(), 0.f), filled(C, 0.f), filled(C, 0.f), dy, lo.ref[1], lo.ref[2], lo.ref[3], g},
            {}, {kTol, kTol, kTol, kTol, -1, -1, -1, -1, -1},
            [=](const KernelTable& k, auto& p, auto&) { k.layernorm_bwd(p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], p[8], N, C, kOverwrite, kOverwrite); }});
  run_case({"bias_act_bwd gelu", {filled(a.size(), 0.f), filled(C, 0.f), dy, a, g}, {}, {kTol, kTol, -1, -1, -1},
            [=](const KernelTable& k, auto& p, auto&) { k.bias_act_bwd(p[0], p[1], p[2], p[3], p[4], N, C, Act::Gelu, kOverwrite); }});
  auto ids = rand_ints(N, 0, V - 1, rng), types = rand_ints(N, 0, 1, rng);
  run_case({"embedding_bwd", {filled(size_t(V) * C, 0.f), filled(size_t(512) * C, 0.f), filled(2 * size_t(C), 0.f), dy}, {ids, types},
            {kTol, kTol, kTol, -1},
            [=](const KernelTable& k, auto& p, auto& i) { k.embedding_bwd(p[0], p[1], p[2], p[3], i[0], i[1], 2, 512, C); }});
  const int NX = 64;
  auto logits = randnf(size_t(NX) * V, rng, 3.0);
  auto tg = rand_ints(NX, 0, V - 1, rng);
  tg[3] = -100;
  run_case({"xent_fwd", {filled(1, 0.f), filled(NX, 0.f), logits}, {tg}, {kTol, kTol, -1},
            [=](const KernelTable& k, auto& p, auto& i) { k.xent_fwd(p[0], p[1], p[2], i[0], NX, V); }});
}
#endif  // MR_EMU
