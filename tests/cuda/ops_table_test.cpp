// The op table (tests/ops/op_table.h) on the CUDA backend: every row in every math mode its
// family's tolerance lists (cuda::kernels(m)) and in bf16 storage (KernelTableBf16) where the
// op has it, against kernels/ref (tests/ops/runner.h). Under the SIMT emulator in `make test`;
// natively (cuda_gpu_tests) with the BERT-base rows too. Then the CUDA special cases, which are
// no table row: the attention's padded keys and determinism, reduced-precision linear on
// un-rounded inputs, misaligned pointers, the GEMM plan cache, the bf16 conversions, the
// optimizers and reductions, the meta ops over flat buffers (tests/ops/meta_cases.h).
#include <cuda_runtime.h>  // the emulator's stand-in defines MR_EMU

#include <algorithm>

#include "kernels/cuda/cuda_ops.h"
#include "kernels/cuda/gemm.cuh"
#include "tests/cuda/cuda_harness.h"
#include "tests/ops/meta_cases.h"
#include "tests/ops/topk_cases.h"
#include "tests/ops/runner.h"

using namespace mr;
using namespace mr::optest;

namespace {

struct DevMem : Mem {
  void* alloc(size_t b) override {
    void* d = nullptr;
    REQUIRE(cudaMalloc(&d, std::max<size_t>(b, 1)) == cudaSuccess);
    return d;
  }
  void put(void* d, const void* s, size_t b) override { REQUIRE(cudaMemcpy(d, s, b, cudaMemcpyHostToDevice) == cudaSuccess); }
  void get(void* d, const void* s, size_t b) override { REQUIRE(cudaMemcpy(d, s, b, cudaMemcpyDeviceToHost) == cudaSuccess); }
  void release(void* p) override { cudaFree(p); }
  void sync() override {
    REQUIRE(cudaDeviceSynchronize() == cudaSuccess);
    REQUIRE(cudaGetLastError() == cudaSuccess);
  }
};

bool device_usable() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();
    return false;
  }
  return n > 0;
}

template <class F>
void run_cuda() {
  REQUIRE_MESSAGE(device_usable(), "no usable CUDA device (the native suite needs a GPU)");
  DevMem mem;
  const cuda::Math maths[] = {cuda::Math::fp32, cuda::Math::bf16, cuda::Math::tf32};
  for (const F& r : F::rows()) {
#ifdef MR_EMU
    if (r.big) continue;  // full shapes: natively only
#endif
    for (int m = kFp32; m <= kTf32Math; ++m)
      if (F::tol().mode[m] >= 0)
        run_row(r, m, mem, [&](auto&& body) { body(cuda::kernels(maths[m])); });
    if constexpr (F::kBf16)
      if (F::tol().mode[kBf16Store] >= 0)
        run_row(r, kBf16Store, mem, [&](auto&& body) { body(*kCudaKernels.bf16); });
  }
}

}  // namespace

#define MR_CUDA_CASE(F) \
  TEST_CASE("op table, cuda: " #F) { run_cuda<F>(); }
MR_OP_FAMILIES(MR_CUDA_CASE)

// ---------------------------------------------------------------- special cases

namespace {

std::vector<float> zeros(size_t n) { return std::vector<float>(n, 0.0f); }

// On every (small) attention row, in fp32 and bf16 math: padded keys (of a sequence with a real
// token) get probability exactly 0, so moving their K and V changes no bit of out or lse, and
// they get exactly zero dK and dV; a second backward gives the same bits (dbias too, on the
// rows with a score bias, whose padded-key entries are exactly 0).
void attention_properties(cuda::Math math) {
  DevMem mem;
  const KernelTable& k = cuda::kernels(math);
  for (const Attention& r : Attention::rows()) {
    if (r.big) continue;
    INFO("row ", r.name, " in ", std::string(cuda::math_name(math)), " math");
    const int B = r.B, T = r.T, C = r.C, H = r.H;
    const auto& mask = r.ints[0];
    std::vector<float> qkv(r.x[0].begin(), r.x[0].end());
    if (math != cuda::Math::fp32)
      for (auto& v : qkv) v = round_bits(v, 16);
    const std::vector<float> bias(r.x[1].begin(), r.x[1].end());  // empty: none
    auto fwd = [&](const std::vector<float>& x) {
      Bufs b(mem);
      Ptr o = b.add(zeros(size_t(B) * T * C), false), l = b.add(zeros(size_t(B) * H * T), false), q = b.add(x, false);
      k.attention_fwd(o, l, q, b.add_ints(mask), b.add(bias, false), B, T, C, H, r.p, Attention::kSeed,
                      Attention::kOff);
      mem.sync();
      bool g0, g1;
      std::vector<std::vector<float>> res{b.read(0, g0), b.read(1, g1)};
      CHECK((g0 && g1));
      return res;
    };
    const auto fo = fwd(qkv);
    std::vector<bool> padded_key(size_t(B) * T, false);
    if (!mask.empty())
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
      const auto fm = fwd(moved);
      CHECK(fm[0] == fo[0]);
      CHECK(fm[1] == fo[1]);
    }
    std::mt19937_64 rng(r.seed + 5);
    std::vector<float> dout(size_t(B) * T * C);
    for (auto& v : dout) v = round_bits(float(std::normal_distribution<double>()(rng)), 16);
    auto bwd = [&] {
      Bufs b(mem);
      Ptr g = b.add(zeros(qkv.size()), false), d = b.add(dout, false), q = b.add(qkv, false), o = b.add(fo[0], false),
          l = b.add(fo[1], false), db = b.add(zeros(bias.size()), false);
      k.attention_bwd(g, db, d, q, o, l, b.add_ints(mask), b.add(bias, false), B, T, C, H, r.p, Attention::kSeed,
                      Attention::kOff, kOverwrite);
      mem.sync();
      bool ok, okb;
      auto res = b.read(0, ok);
      const auto gb = b.read(5, okb);
      CHECK((ok && okb));
      if (!bias.empty()) {
        size_t nz = 0;  // dbias[h, i, j] of a padded key j is 0 in every sequence, so its sum is 0
        for (int j = 0; j < T; ++j) {
          bool padded_everywhere = true;
          for (int bb = 0; bb < B; ++bb) padded_everywhere = padded_everywhere && padded_key[size_t(bb) * T + j];
          if (!padded_everywhere) continue;
          for (int h = 0; h < H; ++h)
            for (int i = 0; i < T; ++i) nz += gb[(size_t(h) * T + i) * T + j] != 0.0f;
        }
        CHECK(nz == 0);
        res.insert(res.end(), gb.begin(), gb.end());
      }
      return res;
    };
    const auto g = bwd();
    size_t nonzero = 0;
    for (size_t bt = 0; bt < padded_key.size(); ++bt)
      if (padded_key[bt])
        for (int c = C; c < 3 * C; ++c) nonzero += g[bt * 3 * C + c] != 0.0f;
    CHECK(nonzero == 0);
    CHECK(bwd() == g);  // deterministic
  }
}

}  // namespace

TEST_CASE("cuda op: attention, padded keys change nothing and get zero gradients; deterministic backward") {
  REQUIRE(device_usable());
  attention_properties(cuda::Math::fp32);
  attention_properties(cuda::Math::bf16);
}

TEST_CASE("cuda op: meta ops over flat buffers against the reference (bit for bit but metasgd_step's w)") {
  REQUIRE(device_usable());
  DevMem mem;
  check_meta_ops(kCudaKernels, mem);
}

TEST_CASE("cuda op: ranking ops (topk_merge, topk_count) against a naive full sort in double") {
  REQUIRE(device_usable());
  DevMem mem;
  check_topk_ops(kCudaKernels, mem);
}

TEST_CASE("cuda bf16: every math mode's table carries the one bf16-storage table") {
  for (cuda::Math m : {cuda::Math::fp32, cuda::Math::bf16, cuda::Math::tf32}) CHECK(cuda::kernels(m).bf16 == &kCudaKernelsBf16);
}

TEST_CASE("cuda bf16: conversions round to nearest even, widen exactly, and accumulate in fp32") {
  REQUIRE(device_usable());
  DevMem mem;
  std::mt19937_64 rng(3);
  auto x = cudatest::randnf(1025, rng, 10.0);
  // ties: 1 + 2^-8 sits halfway between 1 and 1 + 2^-7 and goes to even (1); 1 + 3 * 2^-8 goes up
  x[0] = 1.0f + 1.0f / 256, x[1] = 1.0f + 3.0f / 256, x[2] = -0.0f, x[3] = 1e-40f;  // and a subnormal
  const int64_t n = int64_t(x.size());
  for (GradMode acc : {kOverwrite, kAccumulate}) {
    CAPTURE(acc);
    auto prev = cudatest::round_bf16(cudatest::randnf(x.size(), rng));
    {  // to_bf16 writes fp32 -> bf16: the bits of a host rounding of (prev +) x
      Bufs b(mem);
      Ptr d = b.add(prev, true), src = b.add(x, false);
      kCudaKernels.bf16->to_bf16(d, src, n, acc);
      mem.sync();
      bool g0, g1;
      const auto got = b.read(0, g0);
      const auto in = b.read(1, g1);
      CHECK((g0 && g1));
      CHECK(std::memcmp(in.data(), x.data(), x.size() * 4) == 0);
      size_t wrong = 0;
      for (size_t i = 0; i < x.size(); ++i) {
        const float want = from_bits(to_bits(acc ? prev[i] + x[i] : x[i]));
        wrong += std::memcmp(&got[i], &want, 4) != 0;
      }
      CHECK(wrong == 0);
      if (!acc) {
        CHECK(got[0] == 1.0f);
        CHECK(got[1] == 1.0f + 4.0f / 256);
        CHECK(std::signbit(got[2]));
      }
    }
    {  // to_f32 is exact: bf16 values widen without error
      const auto xb = cudatest::round_bf16(x);
      Bufs b(mem);
      Ptr d = b.add(std::vector<float>(x.size(), acc ? 1.0f : 0.0f), false), src = b.add(xb, true);
      kCudaKernels.bf16->to_f32(d, src, n, acc);
      mem.sync();
      bool g0, g1;
      const auto got = b.read(0, g0);
      CHECK(b.read(1, g1) == xb);
      CHECK((g0 && g1));
      size_t wrong = 0;
      for (size_t i = 0; i < x.size(); ++i) {
        const float want = acc ? 1.0f + xb[i] : xb[i];
        wrong += std::memcmp(&got[i], &want, 4) != 0;
      }
      CHECK(wrong == 0);
    }
  }
}

// The bf16 bias one element past a 16-byte boundary, so our own bias kernel adds it (not the
// cuBLASLt epilogue). The backward does not read the bias: the table's rows cover it.
TEST_CASE("cuda bf16: linear with a misaligned bias") {
  REQUIRE(device_usable());
  const int N = 7, IN = 129, OUT = 192;
  std::mt19937_64 rng(N * 7 + IN);
  auto x = cudatest::round_bf16(cudatest::randnf(size_t(N) * IN, rng));
  auto w = cudatest::round_bf16(cudatest::randnf(size_t(OUT) * IN, rng));
  auto bias = cudatest::round_bf16(cudatest::randnf(OUT + 1, rng));
  std::vector<float> want(size_t(N) * OUT);
  kRefKernels.linear_fwd(want.data(), x.data(), w.data(), bias.data() + 1, N, IN, OUT);
  DevMem mem;
  Bufs b(mem);
  Ptr o = b.add(zeros(want.size()), true), px = b.add(x, true), pw = b.add(w, true), pb = b.add(bias, true);
  kCudaKernels.bf16->linear_fwd(o, px, pw, static_cast<const bf16_t*>(pb) + 1, N, IN, OUT);
  mem.sync();
  bool g;
  const auto got = b.read(0, g);
  CHECK(g);
  const double e = rel_l2(got.data(), want.data(), want.size());
  INFO("rel L2 error ", e);
  CHECK(e <= Linear::tol().mode[kBf16Store]);
}

TEST_CASE("cuda bf16: attention refuses channels that do not split into the heads") {
  void* p = nullptr;
  REQUIRE(cudaMalloc(&p, 4096) == cudaSuccess);
  auto* h = static_cast<bf16_t*>(p);
  CHECK_THROWS_WITH(kCudaKernels.bf16->attention_fwd(h, static_cast<float*>(p), h, nullptr, nullptr, 1, 2, 33, 2, 0.f, 1, 0),
                    doctest::Contains("do not split"));
  cudaFree(p);
}

// The cases below run on tests/cuda/cuda_harness.h's run_case (one call, every buffer given).
namespace cuda_special {
using namespace mr::cudatest;
constexpr double kTol = 1e-5;

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

}  // namespace cuda_special
