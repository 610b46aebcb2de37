// Every op of the kernel table on the CUDA backend against kernels/ref, on awkward shapes
// (rows 1, 33, 132, 1025; sequence lengths 1, 7, 31, 33, 40, 64, 129, 1025; head dims 32, 64,
// 128; padded batches, a fully padded sequence), each backward in the three convention modes,
// with sentinels and NaN-fails (tests/cuda/cuda_harness.h). Under the SIMT emulator in CI,
// natively on a GPU.
// Tolerances (relative L2 error against the double-accumulating reference):
//   fp32 kernels: 1e-5, as the CPU backend (tests/core/ops_test.cpp): fp32 unit roundoff is
//     6e-8 and our longest reductions (~1e3 terms) stay below 1e-5, while an indexing or
//     formula error is O(1). On a GPU the fast-math intrinsics (expf, erff, rsqrtf: a few
//     ulp) stay far below that too.
//   sumsq (double accumulation on the device, squares exact in double): 1e-12.
//   dropout: the kept/dropped pattern must equal the reference's exactly.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "kernels/cuda/gemm.cuh"
#include "kernels/philox.h"
#include "tests/cuda/cuda_harness.h"

using namespace mr;
using namespace mr::cudatest;

namespace {

constexpr double kTol = 1e-5;

// Padding mask: sequence b has its last (b * 3) % T tokens padded, but keeps token 0.
std::vector<int32_t> pad_mask(int B, int T) {
  std::vector<int32_t> m(size_t(B) * T, 1);
  for (int b = 0; b < B; ++b)
    for (int t = T - (b * 3) % T; t < T; ++t) m[size_t(b) * T + t] = t == 0 ? 1 : 0;
  return m;
}

}  // namespace

TEST_CASE("cuda op: embedding (forward, deterministic backward)") {
  for (auto [B, T, C, V, typed] : {std::tuple{1, 1, 1, 1, true}, {3, 11, 33, 7, true}, {2, 33, 5, 3, false},
                                  {1, 129, 32, 130, true}}) {
    CAPTURE(B); CAPTURE(T); CAPTURE(C); CAPTURE(V);
    std::mt19937_64 rng(B * 100 + T);
    auto ids = rand_ints(size_t(B) * T, 0, V - 1, rng);
    auto types = typed ? rand_ints(size_t(B) * T, 0, 1, rng) : std::vector<int32_t>{};
    auto wte = randnf(size_t(V) * C, rng), wpe = randnf(size_t(T) * C, rng), wtt = randnf(2 * size_t(C), rng);
    Case f{"embedding_fwd", {filled(size_t(B) * T * C, 0.f), wte, wpe, wtt}, {ids, types}, {kTol, -1, -1, -1},
           [=](const KernelTable& k, auto& p, auto& i) { k.embedding_fwd(p[0], i[0], i[1], p[1], p[2], p[3], B, T, C); }};
    run_case(f);
    auto dout = randnf(size_t(B) * T * C, rng);
    for (float fill : {0.0f, 1.5f}) {
      Case b{"embedding_bwd", {filled(wte.size(), fill), filled(wpe.size(), fill), filled(wtt.size(), fill), dout},
             {ids, types}, {kTol, kTol, kTol, -1},
             [=](const KernelTable& k, auto& p, auto& i) { k.embedding_bwd(p[0], p[1], p[2], p[3], i[0], i[1], B, T, C); }};
      run_case(b);
    }
    // a null gradient table is skipped
    Case b{"embedding_bwd (dwte only)", {filled(wte.size(), 0.f), dout}, {ids, types}, {kTol, -1},
           [=](const KernelTable& k, auto& p, auto& i) { k.embedding_bwd(p[0], nullptr, nullptr, p[1], i[0], i[1], B, T, C); }};
    run_case(b);
  }
}

// More token types than the type kernel has blocks (kTypeBlocks = 4): types 4..6 come from the
// strided loop, and the number of types is only known on the device.
TEST_CASE("cuda op: embedding backward with 7 token types") {
  const int B = 2, T = 37, C = 9, V = 11, NT = 7;
  std::mt19937_64 rng(77);
  auto ids = rand_ints(size_t(B) * T, 0, V - 1, rng), types = rand_ints(size_t(B) * T, 0, NT - 1, rng);
  types[5] = NT - 1;  // the largest type occurs
  auto dout = randnf(size_t(B) * T * C, rng);
  run_case({"embedding_bwd 7 types", {filled(size_t(V) * C, 0.f), filled(size_t(T) * C, 0.f), filled(size_t(NT) * C, 0.f), dout},
            {ids, types}, {kTol, kTol, kTol, -1},
            [=](const KernelTable& k, auto& p, auto& i) { k.embedding_bwd(p[0], p[1], p[2], p[3], i[0], i[1], B, T, C); }});
}

TEST_CASE("cuda op: linear (cuBLASLt fp32 GEMMs, bias epilogue)") {
  // N = 132 and 1025 span several chunks of the db column sum (colsum.cuh: 64 rows each)
  for (auto [N, IN, OUT, bias] : {std::tuple{1, 1, 1, true}, {33, 17, 40, true}, {132, 64, 33, false},
                                 {132, 64, 33, true}, {7, 129, 192, true}, {1025, 5, 3, true}}) {
    CAPTURE(N); CAPTURE(IN); CAPTURE(OUT);
    std::mt19937_64 rng(N * 7 + IN);
    auto x = randnf(size_t(N) * IN, rng), w = randnf(size_t(OUT) * IN, rng, 0.2), bb = randnf(OUT, rng);
    const bool hb = bias;
    Case f{"linear_fwd", {filled(size_t(N) * OUT, 0.f), x, w, bb}, {}, {kTol, -1, -1, -1},
           [=](const KernelTable& k, auto& p, auto&) { k.linear_fwd(p[0], p[1], p[2], hb ? p[3] : nullptr, N, IN, OUT); }};
    run_case(f);
    auto dout = randnf(size_t(N) * OUT, rng);
    for_modes([&](float fill, GradMode acc) {
      Case b{"linear_bwd",
             {filled(x.size(), fill), filled(w.size(), fill), hb ? filled(OUT, fill) : std::vector<float>{}, dout, x, w},
             {}, {kTol, kTol, hb ? kTol : -1, -1, -1, -1},
             [=](const KernelTable& k, auto& p, auto&) { k.linear_bwd(p[0], p[1], p[2], p[3], p[4], p[5], N, IN, OUT, acc); }};
      run_case(b);
    });
  }
}

// Every pointer 4 bytes off a 16-byte boundary, as parameters in the flat buffer can be: the
// GEMM plans must state that alignment to cuBLASLt, and the bias goes through our own kernel
// instead of the epilogue (gemm.cu). Each buffer gets one leading pad float.
TEST_CASE("cuda op: linear with misaligned pointers (parameters at any offset of the flat buffer)") {
  const int N = 70, IN = 33, OUT = 17;
  std::mt19937_64 rng(13);
  auto pad = [](std::vector<float> v) {
    v.insert(v.begin(), 0.0f);
    return v;
  };
  auto x = pad(randnf(size_t(N) * IN, rng)), w = pad(randnf(size_t(OUT) * IN, rng, 0.2)), bb = pad(randnf(OUT, rng));
  run_case({"linear_fwd misaligned", {filled(size_t(N) * OUT + 1, 0.f), x, w, bb}, {}, {kTol, -1, -1, -1},
            [=](const KernelTable& k, auto& p, auto&) { k.linear_fwd(p[0] + 1, p[1] + 1, p[2] + 1, p[3] + 1, N, IN, OUT); }});
  auto dout = pad(randnf(size_t(N) * OUT, rng));
  run_case({"linear_bwd misaligned", {filled(x.size(), 0.5f), filled(w.size(), 0.5f), filled(OUT + 1, 0.5f), dout, x, w},
            {}, {kTol, kTol, kTol, -1, -1, -1},
            [=](const KernelTable& k, auto& p, auto&) {
              k.linear_bwd(p[0] + 1, p[1] + 1, p[2] + 1, p[3] + 1, p[4] + 1, p[5] + 1, N, IN, OUT, kAccumulate);
            }});
}

// The cuBLASLt plan cache keeps at most its limit of plans and drops the least recently used:
// with a limit of 2, shapes A, B, A, C leave A cached (FIFO would have dropped it) and B not.
// A dropped shape is planned again and still computes the right product.
TEST_CASE("cuda op: linear, the GEMM plan cache is bounded (least recently used dropped)") {
  struct Limit {
    ~Limit() { cuda::set_gemm_plan_limit(1024); }
  } restore;
  cuda::set_gemm_plan_limit(2);
  CHECK(cuda::gemm_plan_count() <= 2);
  // one forward (a single GEMM, hence a single plan) at N rows; returns the plans it made
  auto fwd = [](int N) {
    const uint64_t before = cuda::gemm_plan_misses();
    const int IN = 6, OUT = 4;
    std::mt19937_64 rng(N);
    auto x = randnf(size_t(N) * IN, rng), w = randnf(size_t(OUT) * IN, rng), bb = randnf(OUT, rng);
    run_case({"linear_fwd plan cache", {filled(size_t(N) * OUT, 0.f), x, w, bb}, {}, {kTol, -1, -1, -1},
              [=](const KernelTable& k, auto& p, auto&) { k.linear_fwd(p[0], p[1], p[2], p[3], N, IN, OUT); }});
    CHECK(cuda::gemm_plan_count() <= 2);
    return cuda::gemm_plan_misses() - before;
  };
  const int A = 3, B = 5, C = 7;
  CHECK(fwd(A) == 1);
  CHECK(fwd(B) == 1);
  CHECK(fwd(A) == 0);  // cached; now the most recently used
  CHECK(fwd(C) == 1);  // drops B, the least recently used
  CHECK(fwd(A) == 0);
  CHECK(fwd(B) == 1);  // planned again
  CHECK_THROWS(cuda::set_gemm_plan_limit(0));
}

// Reduced-precision GEMMs: Math::bf16 (cuBLASLt CUBLAS_COMPUTE_32F_FAST_16BF, unit roundoff
// u = 2^-9) and Math::tf32 (FAST_TF32, u = 2^-11). With inputs that are exact in that format the
// rounding is exact and only fp32 accumulation is left, so the fp32 tolerance holds (natively
// too). With fp32 inputs the result must move away from the fp32 reference by more than fp32
// roundoff but stay within 5u; the first bound is only certain for the emulator's stand-in,
// which always rounds (a GPU library may pick another path).
static void check_linear_math(cuda::Math math, int drop_bits, double u) {
  MathScope scope(math);
  const int N = 33, IN = 129, OUT = 40;
  std::mt19937_64 rng(11);
  auto round_to = [&](std::vector<float> x) {
    if (drop_bits == 16) return round_bf16(std::move(x));
    for (auto& v : x) {  // tf32: keep 10 mantissa bits, nearest even
      uint32_t w;
      std::memcpy(&w, &v, 4);
      w = (w + 0xfffu + ((w >> 13) & 1u)) & ~0x1fffu;
      std::memcpy(&v, &w, 4);
    }
    return x;
  };
  for (bool rounded : {true, false}) {
    CAPTURE(rounded);
    auto x = randnf(size_t(N) * IN, rng), w = randnf(size_t(OUT) * IN, rng, 0.2), bb = randnf(OUT, rng);
    if (rounded) x = round_to(x), w = round_to(w);
    const double tol = rounded ? kTol : 5 * u;
    Outs o = run_case({"linear_fwd", {filled(size_t(N) * OUT, 0.f), x, w, bb}, {}, {tol, -1, -1, -1},
                       [=](const KernelTable& k, auto& p, auto&) { k.linear_fwd(p[0], p[1], p[2], p[3], N, IN, OUT); }});
    auto dout = randnf(size_t(N) * OUT, rng);
    if (rounded) dout = round_to(dout);
    Outs b = run_case({"linear_bwd", {filled(x.size(), 0.f), filled(w.size(), 0.f), filled(OUT, 0.f), dout, x, w},
                       {}, {tol, tol, kTol, -1, -1, -1},
                       [=](const KernelTable& k, auto& p, auto&) { k.linear_bwd(p[0], p[1], p[2], p[3], p[4], p[5], N, IN, OUT, kOverwrite); }});
    if (!rounded) {
      const double ef = test::rel_l2(o.dev[0], o.ref[0], o.ref[0].size());
      const double ed = test::rel_l2(b.dev[0], b.ref[0], b.ref[0].size());
      MESSAGE("linear in ", std::string(cuda::math_name(math)), " math, fp32 inputs: rel L2 error out ", ef, ", dinp ", ed);
#if defined(MR_EMU)
      CHECK(ef > u / 20);
      CHECK(ed > u / 20);
#endif
    }
  }
}

TEST_CASE("cuda op: linear in bf16 math (cuBLASLt FAST_16BF)") { check_linear_math(cuda::Math::bf16, 16, 1.0 / 512); }

TEST_CASE("cuda op: linear in tf32 math (cuBLASLt FAST_TF32)") { check_linear_math(cuda::Math::tf32, 13, 1.0 / 2048); }

TEST_CASE("cuda op: bias + activation (gelu erf, tanh, none)") {
  for (auto [N, C] : {std::pair{1, 1}, {33, 33}, {132, 7}, {1025, 3}})
    for (Act act : {Act::None, Act::Gelu, Act::Tanh})
      for (bool bias : {true, false}) {
        CAPTURE(N); CAPTURE(C); CAPTURE(int(act)); CAPTURE(bias);
        std::mt19937_64 rng(N + C);
        auto x = randnf(size_t(N) * C, rng, 2.0), bb = randnf(C, rng);
        Case f{"bias_act_fwd", {filled(x.size(), 0.f), x, bb}, {}, {kTol, -1, -1},
               [=](const KernelTable& k, auto& p, auto&) { k.bias_act_fwd(p[0], p[1], bias ? p[2] : nullptr, N, C, act); }};
        run_case(f);
        auto dout = randnf(x.size(), rng);
        for_modes([&](float fill, GradMode acc) {
          Case b{"bias_act_bwd", {filled(x.size(), fill), bias ? filled(C, fill) : std::vector<float>{}, dout, x, bb},
                 {}, {kTol, bias ? kTol : -1, -1, -1, -1},
                 [=](const KernelTable& k, auto& p, auto&) {
                   k.bias_act_bwd(p[0], p[1], p[2], p[3], bias ? p[4] : nullptr, N, C, act, acc);
                 }};
          run_case(b);
        });
      }
}

TEST_CASE("cuda op: layernorm with fused residual (two-pass fp32 statistics)") {
  for (auto [N, C] : {std::pair{1, 1}, {33, 64}, {132, 33}, {1025, 5}, {3, 1025}})
    for (bool resid : {true, false}) {
      CAPTURE(N); CAPTURE(C); CAPTURE(resid);
      std::mt19937_64 rng(N * 3 + C);
      // an offset mean (5) checks that the variance is not computed as E[x^2] - E[x]^2
      auto a = randnf(size_t(N) * C, rng), r = randnf(size_t(N) * C, rng);
      for (auto& v : a) v += 5.0f;
      auto g = randnf(C, rng), be = randnf(C, rng);
      const float eps = 1e-12f;
      Case f{"layernorm_fwd",
             {filled(a.size(), 0.f), resid ? filled(a.size(), 0.f) : std::vector<float>{}, filled(N, 0.f), filled(N, 0.f), a,
              resid ? r : std::vector<float>{}, g, be},
             {}, {kTol, resid ? kTol : -1, kTol, kTol, -1, -1, -1, -1},
             [=](const KernelTable& k, auto& p, auto&) { k.layernorm_fwd(p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], N, C, eps); }};
      Outs fo = run_case(f);
      const auto& s = resid ? fo.ref[1] : a;
      const auto& mean = fo.ref[2];
      const auto& rstd = fo.ref[3];
      // A single channel normalizes to beta exactly and its exact gradient is 0, but with
      // eps = 1e-12 rstd is 1e6, so the rounding of dy * gamma (fused or not into an FMA, which
      // nvcc and g++ both do) is amplified to ~1e-2: skipped here, as in tests/core/ops_test.cpp.
      if (C == 1) continue;
      auto dy = randnf(a.size(), rng);
      for_modes([&](float fill, GradMode acc) {
        Case b{"layernorm_bwd",
               {filled(a.size(), fill), resid ? filled(a.size(), fill) : std::vector<float>{}, filled(C, fill), filled(C, fill), dy, s,
                mean, rstd, g},
               {}, {kTol, resid ? kTol : -1, kTol, kTol, -1, -1, -1, -1, -1},
               [=](const KernelTable& k, auto& p, auto&) {
                 k.layernorm_bwd(p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], p[8], N, C, acc, acc ? kOverwrite : kAccumulate);
               }};
        run_case(b);
      });
    }
}

namespace {

// The attention op in one math mode. fp32: tolerance kTol. bf16 (tensor cores): qkv and dout
// are rounded to bf16 first, so the only roundings left are P' and dS to bf16 before the second
// product (unit roundoff u = 2^-9 = 2e-3 each, fp32 accumulation); the tolerance is 5u = 1e-2,
// while an indexing or formula error is O(1). The worst observed error is reported.
void check_attention(cuda::Math math, double tol) {
  MathScope scope(math);
  const bool bf16 = math == cuda::Math::bf16;
  double worst_fwd = 0, worst_bwd = 0;
  struct S {
    int B, T, C, H;
    bool masked;
    float p;
  };
  // fp32 tiles are 32 x 32, bf16 tiles 64 x 64. T = 1, 7 and 31 fit in one tile; 33, 40, 64, 70,
  // 129 and 1025 span one or several, with a partial last one. Head dims 16, 32, 64 and 128 (128
  // needs more than 48 KiB of shared memory).
  for (S sh : {S{1, 1, 32, 1, false, 0.f}, S{2, 7, 128, 2, true, 0.1f}, S{3, 64, 64, 2, true, 0.f},
               S{1, 129, 64, 1, true, 0.2f}, S{2, 7, 64, 1, false, 0.5f}, S{3, 33, 64, 2, true, 0.1f},
               S{2, 31, 32, 1, true, 0.f}, S{1, 40, 128, 1, true, 0.1f}, S{1, 1025, 32, 1, true, 0.1f},
               S{3, 70, 32, 2, true, 0.1f}}) {
    const int B = sh.B, T = sh.T, C = sh.C, H = sh.H;
    const float p = sh.p;
    CAPTURE(B); CAPTURE(T); CAPTURE(C); CAPTURE(H); CAPTURE(p); CAPTURE(bf16);
    std::mt19937_64 rng(B * 13 + T);
    auto qkv = randnf(size_t(B) * T * 3 * C, rng);
    if (bf16) qkv = round_bf16(qkv);
    auto mask = sh.masked ? pad_mask(B, T) : std::vector<int32_t>{};
    if (sh.masked && B == 3)
      for (int t = 0; t < T; ++t) mask[size_t(2) * T + t] = 0;  // a sequence with no real token
    if (T == 1025)
      for (int t = 500; t < T; ++t) mask[t] = 0;  // whole key tiles of padding after real ones
    const uint64_t seed = 1234, off = 77;
    auto fwd = [&](const std::vector<float>& x) {
      return run_case({"attention_fwd", {filled(size_t(B) * T * C, 0.f), filled(size_t(B) * H * T, 0.f), x}, {mask},
                       {tol, tol, -1}, [=](const KernelTable& k, auto& pp, auto& i) {
                         k.attention_fwd(pp[0], pp[1], pp[2], i[0], B, T, C, H, p, seed, off);
                       }});
    };
    Outs fo = fwd(qkv);
    worst_fwd = std::max({worst_fwd, test::rel_l2(fo.dev[0], fo.ref[0], fo.ref[0].size()), test::rel_l2(fo.dev[1], fo.ref[1], fo.ref[1].size())});
    // Padded keys (of a sequence with a real token) get probability exactly 0: changing their K
    // and V changes no bit of out or lse.
    std::vector<bool> padded_key(size_t(B) * T, false);
    if (sh.masked)
      for (int b = 0; b < B; ++b) {
        bool any = false;
        for (int t = 0; t < T; ++t) any = any || mask[size_t(b) * T + t];
        for (int t = 0; t < T; ++t) padded_key[size_t(b) * T + t] = any && !mask[size_t(b) * T + t];
      }
    if (std::count(padded_key.begin(), padded_key.end(), true) > 0) {
      auto moved = qkv;
      for (size_t bt = 0; bt < padded_key.size(); ++bt)
        if (padded_key[bt])
          for (int c = C; c < 3 * C; ++c) moved[bt * 3 * C + c] += 100.0f;
      Outs fm = fwd(moved);
      CHECK(fm.dev[0] == fo.dev[0]);
      CHECK(fm.dev[1] == fo.dev[1]);
    }
    const auto& out = fo.ref[0];
    const auto& lse = fo.ref[1];
    auto dout = randnf(size_t(B) * T * C, rng);
    if (bf16) dout = round_bf16(dout);
    for_modes([&](float fill, GradMode acc) {
      Case b{"attention_bwd", {filled(qkv.size(), fill), dout, qkv, out, lse}, {mask}, {tol, -1, -1, -1, -1},
             [=](const KernelTable& k, auto& pp, auto& i) {
               k.attention_bwd(pp[0], pp[1], pp[2], pp[3], pp[4], i[0], B, T, C, H, p, seed, off, acc);
             }};
      Outs bo = run_case(b);
      if (fill != 0.0f || acc) return;
      worst_bwd = std::max(worst_bwd, test::rel_l2(bo.dev[0], bo.ref[0], bo.ref[0].size()));
      // padded keys get exactly zero dK and dV
      size_t nonzero = 0;
      for (size_t bt = 0; bt < padded_key.size(); ++bt)
        if (padded_key[bt])
          for (int c = C; c < 3 * C; ++c) nonzero += bo.dev[0][bt * 3 * C + c] != 0.0f;
      CHECK(nonzero == 0);
      // deterministic: a second run gives the same bits
      Outs again = run_case(b);
      CHECK(again.dev[0] == bo.dev[0]);
    });
  }
  MESSAGE("attention, ", std::string(cuda::math_name(math)), ": worst relative L2 error forward ", worst_fwd, ", backward ",
          worst_bwd, " (tolerance ", tol, ")");
}

}  // namespace

TEST_CASE("cuda op: attention (flash: head dims 16-128, padding, fully padded sequence, dropout, T up to 1025)") {
  check_attention(cuda::Math::fp32, kTol);
}

TEST_CASE("cuda op: attention, bf16 tensor cores (mma.m16n8k16 + ldmatrix; same shapes)") {
  check_attention(cuda::Math::bf16, 1e-2);
}

TEST_CASE("cuda op: dropout (the CPU's Philox mask, bit for bit)") {
  for (int64_t n : {1, 33, 1025})
    for (uint64_t off : {0ull, 3ull, 1026ull})
      for (float p : {0.1f, 0.5f}) {
        CAPTURE(n); CAPTURE(off); CAPTURE(p);
        std::mt19937_64 rng(n + off);
        auto x = randnf(n, rng);
        Case f{"dropout_fwd", {filled(n, 0.f), x}, {}, {kTol, -1},
               [=](const KernelTable& k, auto& pp, auto&) { k.dropout_fwd(pp[0], pp[1], n, p, 99, off); }};
        Outs o = run_case(f);
        for (int64_t i = 0; i < n; ++i) {
          CAPTURE(i);
          REQUIRE((o.dev[0][i] == 0.0f) == !dropout_keep(99, off + uint64_t(i), p));
        }
        for_modes([&](float fill, GradMode acc) {
          Case b{"dropout_bwd", {filled(n, fill), x}, {}, {kTol, -1},
                 [=](const KernelTable& k, auto& pp, auto&) { k.dropout_bwd(pp[0], pp[1], n, p, 99, off, acc); }};
          run_case(b);
        });
      }
}

TEST_CASE("cuda op: cross-entropy (ignore_index -100)") {
  for (auto [N, V, ignore] : {std::tuple{1, 7, 0}, {33, 7, 5}, {5, 1025, 1}, {4, 3, 4}}) {
    CAPTURE(N); CAPTURE(V); CAPTURE(ignore);
    std::mt19937_64 rng(N * 11 + V);
    auto x = randnf(size_t(N) * V, rng, 3.0);
    auto t = rand_ints(N, 0, V - 1, rng);
    for (int k = 0; k < ignore; ++k) t[size_t(k) * 7 % N] = -100;
    Case f{"xent_fwd", {filled(1, 0.f), filled(N, 0.f), x}, {t}, {kTol, kTol, -1},
           [=](const KernelTable& k, auto& p, auto& i) { k.xent_fwd(p[0], p[1], p[2], i[0], N, V); }};
    Outs o = run_case(f);
    for_modes([&](float fill, GradMode acc) {
      Case b{"xent_bwd", {filled(x.size(), fill), {0.75f}, x, o.ref[1]}, {t}, {kTol, -1, -1, -1},
             [=](const KernelTable& k, auto& p, auto& i) { k.xent_bwd(p[0], p[1], p[2], p[3], i[0], N, V, acc); }};
      run_case(b);
    });
  }
}

TEST_CASE("cuda op: BCE with logits and MSE") {
  for (int64_t n : {1, 33, 1025}) {
    CAPTURE(n);
    std::mt19937_64 rng(n);
    auto x = randnf(n, rng, 4.0), y = randnf(n, rng);
    std::vector<float> y01(n);
    for (int64_t i = 0; i < n; ++i) y01[i] = y[i] > 0 ? 1.0f : 0.0f;
    run_case({"bce_fwd", {filled(1, 0.f), x, y01}, {}, {kTol, -1, -1},
              [=](const KernelTable& k, auto& p, auto&) { k.bce_fwd(p[0], p[1], p[2], n); }});
    run_case({"mse_fwd", {filled(1, 0.f), x, y}, {}, {kTol, -1, -1},
              [=](const KernelTable& k, auto& p, auto&) { k.mse_fwd(p[0], p[1], p[2], n); }});
    for_modes([&](float fill, GradMode acc) {
      run_case({"bce_bwd", {filled(n, fill), {1.25f}, x, y01}, {}, {kTol, -1, -1, -1},
                [=](const KernelTable& k, auto& p, auto&) { k.bce_bwd(p[0], p[1], p[2], p[3], n, acc); }});
      run_case({"mse_bwd", {filled(n, fill), {1.25f}, x, y}, {}, {kTol, -1, -1, -1},
                [=](const KernelTable& k, auto& p, auto&) { k.mse_bwd(p[0], p[1], p[2], p[3], n, acc); }});
    });
  }
}

TEST_CASE("cuda op: pooling (masked mean with an all-padding row, CLS)") {
  for (auto [B, T, C, masked] : {std::tuple{1, 1, 1, false}, {3, 7, 33, true}, {4, 64, 5, true}, {2, 129, 3, false}}) {
    CAPTURE(B); CAPTURE(T); CAPTURE(C); CAPTURE(masked);
    std::mt19937_64 rng(B + T + C);
    auto h = randnf(size_t(B) * T * C, rng);
    auto mask = masked ? pad_mask(B, T) : std::vector<int32_t>{};
    if (masked)
      for (int t = 0; t < T; ++t) mask[size_t(B - 1) * T + t] = 0;  // count 0 -> divided by 1e-9, out 0
    auto dout = randnf(size_t(B) * C, rng);
    run_case({"mean_pool_fwd", {filled(size_t(B) * C, 0.f), h}, {mask}, {kTol, -1},
              [=](const KernelTable& k, auto& p, auto& i) { k.mean_pool_fwd(p[0], p[1], i[0], B, T, C); }});
    run_case({"cls_pool_fwd", {filled(size_t(B) * C, 0.f), h}, {}, {kTol, -1},
              [=](const KernelTable& k, auto& p, auto&) { k.cls_pool_fwd(p[0], p[1], B, T, C); }});
    for_modes([&](float fill, GradMode acc) {
      run_case({"mean_pool_bwd", {filled(h.size(), fill), dout}, {mask}, {kTol, -1},
                [=](const KernelTable& k, auto& p, auto& i) { k.mean_pool_bwd(p[0], p[1], i[0], B, T, C, acc); }});
      run_case({"cls_pool_bwd", {filled(h.size(), fill), dout}, {}, {kTol, -1},
                [=](const KernelTable& k, auto& p, auto&) { k.cls_pool_bwd(p[0], p[1], B, T, C, acc); }});
    });
  }
}

TEST_CASE("cuda op: optimizers and reductions (AdamW, SGD, sumsq, axpy, scale)") {
  for (int64_t n : {1, 33, 1025, 40000}) {
    CAPTURE(n);
    std::mt19937_64 rng(n);
    auto p = randnf(n, rng), g = randnf(n, rng, 0.1), m = randnf(n, rng, 0.01), v = randnf(n, rng, 0.01);
    for (auto& x : v) x = x * x;
    for (int t : {1, 7}) {
      CAPTURE(t);
      // the update is ~lr; compared through p, m and v, whose reference is the formula in double
      run_case({"adamw", {p, g, m, v}, {}, {1e-6, -1, 1e-6, 1e-6},
                [=](const KernelTable& k, auto& pp, auto&) {
                  k.adamw(pp[0], pp[1], pp[2], pp[3], n, 1e-2f, 0.9f, 0.999f, 1e-8f, 0.01f, t);
                }});
    }
    for (float mom : {0.0f, 0.9f})
      for (bool first : {true, false})
        run_case({"sgd", {p, g, mom != 0 ? m : std::vector<float>{}}, {}, {1e-6, -1, mom != 0 ? 1e-6 : -1},
                  [=](const KernelTable& k, auto& pp, auto&) { k.sgd(pp[0], pp[1], pp[2], n, 0.1f, mom, 0.01f, first); }});
    double want = kRefKernels.sumsq(g.data(), n), got = -1;
    {
      float* d = nullptr;
      REQUIRE(cudaMalloc(&d, n * sizeof(float)) == cudaSuccess);
      REQUIRE(cudaMemcpy(d, g.data(), n * sizeof(float), cudaMemcpyHostToDevice) == cudaSuccess);
      got = kCudaKernels.sumsq(d, n);
      cudaFree(d);
    }
    CHECK(std::fabs(got - want) <= 1e-12 * want);
    for (GradMode acc : {kOverwrite, kAccumulate})
      run_case({"axpy", {p, g}, {}, {kTol, -1},
                [=](const KernelTable& k, auto& pp, auto&) { k.axpy(pp[0], pp[1], -0.37f, n, acc); }});
    run_case({"scale", {p}, {}, {kTol}, [=](const KernelTable& k, auto& pp, auto&) { k.scale(pp[0], n, 0.3f); }});
  }
}

TEST_CASE("cuda harness: a wrong result, a NaN and an out-of-bounds write fail") {
  // The harness must be able to fail: compare the CUDA scale kernel against a reference table
  // whose scale is wrong, and check a NaN and a sentinel overwrite through rel_l2 / guards.
  std::vector<float> a{1, 2, 3}, b{1, 2, 3.001f}, c{1, NAN, 3};
  CHECK(test::rel_l2(a.data(), b.data(), 3) > kTol);
  CHECK(std::isinf(test::rel_l2(c.data(), a.data(), 3)));
  CHECK(std::isinf(test::rel_l2(a.data(), c.data(), 3)));
  test::Guarded g(4);
  CHECK(g.guards_intact());
  g.data()[4] = 0.0f;  // one past the end
  CHECK_FALSE(g.guards_intact());
}
