// The op table (tests/ops/op_table.h) on the CPU backend: every row in fp32 against kernels/ref
// (tests/ops/runner.h), and the reference itself against finite differences in double. Then
// the CPU's special cases, which are no table row: Philox known-answer vectors, hand-computed
// values, the attention's padded keys, dropout statistics, the optimizers, the meta ops over flat
// buffers (tests/ops/meta_cases.h), and the harness's own ability to fail.
#include "kernels/cpu/cpu.h"
#include "kernels/philox.h"
#include "tests/ops/meta_cases.h"
#include "tests/ops/topk_cases.h"
#include "tests/ops/runner.h"

using namespace mr;
using namespace mr::optest;

namespace {
template <class F>
void run_cpu() {
  HostMem mem;
  for (const F& r : F::rows()) {
    if (r.big) continue;
    run_row(r, kFp32, mem, [&](auto&& body) { body(kCpuKernels); });
    check_fd(r);
  }
}
}  // namespace

#define MR_CPU_CASE(F) \
  TEST_CASE("op table, cpu: " #F) { run_cpu<F>(); }
MR_OP_FAMILIES(MR_CPU_CASE)

// ---------------------------------------------------------------- special cases

TEST_CASE("philox4x32-10 known-answer vectors (Random123 kat_vectors)") {
  Philox4 r = philox4x32_10(0, 0, 0, 0, 0, 0);
  CHECK(r.v[0] == 0x6627e8d5u);
  CHECK(r.v[1] == 0xe169c58du);
  CHECK(r.v[2] == 0xbc57ac4cu);
  CHECK(r.v[3] == 0x9b00dbd8u);
  r = philox4x32_10(~0u, ~0u, ~0u, ~0u, ~0u, ~0u);
  CHECK(r.v[0] == 0x408f276du);
  CHECK(r.v[1] == 0x41c83b0eu);
  CHECK(r.v[2] == 0xa20bc7c6u);
  CHECK(r.v[3] == 0x6d5451fdu);
  r = philox4x32_10(0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u, 0xa4093822u, 0x299f31d0u);
  CHECK(r.v[0] == 0xd16cfe09u);
  CHECK(r.v[1] == 0x94fdccebu);
  CHECK(r.v[2] == 0x5001e420u);
  CHECK(r.v[3] == 0x24126ea1u);
}

TEST_CASE("op: gelu is the erf form (hand values)") {
  // gelu(1) = 0.5 * (1 + erf(1/sqrt 2)) = 0.8413447460685429; tanh approximation would give 0.8411920
  float x[3] = {1.0f, -1.0f, 0.0f}, y[3];
  kCpuKernels.bias_act_fwd(y, x, nullptr, 1, 3, Act::Gelu);
  CHECK(y[0] == doctest::Approx(0.8413447460685429).epsilon(1e-7));
  CHECK(y[1] == doctest::Approx(-0.15865525393145707).epsilon(1e-6));
  CHECK(y[2] == 0.0f);
}

TEST_CASE("op: attention ignores padded keys") {
  // Changing K and V of padded positions must not change any output.
  const int B = 2, T = 5, C = 4, H = 2;
  std::mt19937_64 rng(9);
  auto qkv = randn(size_t(B) * T * 3 * C, rng);
  std::vector<int32_t> mask = {1, 1, 1, 0, 0, 1, 1, 1, 1, 1};
  std::vector<float> a(qkv.begin(), qkv.end()), b = a, oa(B * T * C), ob(B * T * C), la(B * H * T), lb(B * H * T);
  for (int t = 3; t < 5; ++t)
    for (int c = C; c < 3 * C; ++c) b[size_t(t) * 3 * C + c] += 100.0f;
  kCpuKernels.attention_fwd(oa.data(), la.data(), a.data(), mask.data(), nullptr, B, T, C, H, 0.f, 0, 0);
  kCpuKernels.attention_fwd(ob.data(), lb.data(), b.data(), mask.data(), nullptr, B, T, C, H, 0.f, 0, 0);
  CHECK(oa == ob);
  CHECK(la == lb);
  // and their gradients are exactly 0
  std::vector<float> dout(B * T * C, 1.0f), g(a.size(), 7.0f);
  kCpuKernels.attention_bwd(g.data(), nullptr, dout.data(), a.data(), oa.data(), la.data(), mask.data(), nullptr, B, T,
                            C, H, 0.f, 0, 0,
                            kOverwrite);
  for (int t = 3; t < 5; ++t)
    for (int c = C; c < 3 * C; ++c) CHECK(g[size_t(t) * 3 * C + c] == 0.0f);
}

TEST_CASE("dropout: rate, scale, reproducibility, independence of offsets") {
  const int64_t n = 200000;
  const float p = 0.1f;
  std::vector<float> x(n, 1.0f), y(n), z(n), w(n);
  kCpuKernels.dropout_fwd(y.data(), x.data(), n, p, 7, 0);
  kCpuKernels.dropout_fwd(z.data(), x.data(), n, p, 7, 0);
  kCpuKernels.dropout_fwd(w.data(), x.data(), n, p, 7, uint64_t(n));
  CHECK(y == z);  // same seed and offset: bit-identical mask
  int64_t dropped = 0, same = 0;
  for (int64_t i = 0; i < n; ++i) {
    dropped += y[i] == 0.0f;
    same += (y[i] == 0.0f) == (w[i] == 0.0f);
    if (y[i] != 0.0f) CHECK(y[i] == doctest::Approx(1.0f / 0.9f));
  }
  // Binomial(n, 0.1): sd = sqrt(n p (1-p)) = 134; allow 5 sd.
  CHECK(std::abs(double(dropped) - 0.1 * n) < 5 * 134.2);
  // Independent masks agree on a fraction 0.9^2 + 0.1^2 = 0.82 of elements.
  CHECK(std::abs(double(same) / n - 0.82) < 0.01);
}

TEST_CASE("losses: hand-computed values") {
  // cross-entropy of logits (0, ln 3) with target 1: -log(3/4)
  float logits[2] = {0.0f, float(std::log(3.0))}, loss, lse;
  int32_t tgt = 1;
  kCpuKernels.xent_fwd(&loss, &lse, logits, &tgt, 1, 2);
  CHECK(loss == doctest::Approx(-std::log(0.75)).epsilon(1e-6));
  // BCE(x=0, y=1) = log 2 ; MSE((1,3),(0,0)) = 5
  float x0 = 0, y1 = 1;
  kCpuKernels.bce_fwd(&loss, &x0, &y1, 1);
  CHECK(loss == doctest::Approx(std::log(2.0)).epsilon(1e-6));
  float a[2] = {1, 3}, z[2] = {0, 0};
  kCpuKernels.mse_fwd(&loss, a, z, 2);
  CHECK(loss == 5.0f);
}

TEST_CASE("optimizers: cpu against the reference formulas") {
  for (int64_t n : {1, 33, 1025}) {
    std::mt19937_64 rng(n);
    auto p0 = randn(size_t(n), rng), g0 = randn(size_t(n), rng);
    std::vector<float> p[2], m[2], v[2], g(g0.begin(), g0.end());
    for (int k = 0; k < 2; ++k) {
      p[k].assign(p0.begin(), p0.end());
      m[k].assign(n, 0.f);
      v[k].assign(n, 0.f);
    }
    for (int t = 1; t <= 5; ++t) {
      kRefKernels.adamw(p[0].data(), g.data(), m[0].data(), v[0].data(), n, 1e-2f, 0.9f, 0.999f, 1e-8f, 0.01f, t);
      kCpuKernels.adamw(p[1].data(), g.data(), m[1].data(), v[1].data(), n, 1e-2f, 0.9f, 0.999f, 1e-8f, 0.01f, t);
      for (auto& x : g) x *= -0.7f;
    }
    CHECK(rel_l2(p[1].data(), p[0].data(), n) <= 1e-6);
    CHECK(rel_l2(v[1].data(), v[0].data(), n) <= 1e-6);
    // SGD with momentum and weight decay
    std::vector<float> q[2], buf[2];
    for (int k = 0; k < 2; ++k) {
      q[k].assign(p0.begin(), p0.end());
      buf[k].assign(n, 0.f);
    }
    for (int t = 0; t < 3; ++t) {
      kRefKernels.sgd(q[0].data(), g.data(), buf[0].data(), n, 0.1f, 0.9f, 0.01f, t == 0);
      kCpuKernels.sgd(q[1].data(), g.data(), buf[1].data(), n, 0.1f, 0.9f, 0.01f, t == 0);
    }
    CHECK(rel_l2(q[1].data(), q[0].data(), n) <= 1e-6);
    CHECK(kCpuKernels.sumsq(g.data(), n) == doctest::Approx(kRefKernels.sumsq(g.data(), n)).epsilon(1e-12));
  }
  // One AdamW step by hand: m = 0.1 g, v = 0.001 g^2, m_hat = g, v_hat = g^2 -> p -= lr * g / (|g| + eps)
  float p = 1.0f, g = 0.5f, m = 0, v = 0;
  kCpuKernels.adamw(&p, &g, &m, &v, 1, 0.1f, 0.9f, 0.999f, 1e-8f, 0.0f, 1);
  CHECK(p == doctest::Approx(0.9).epsilon(1e-6));
}

TEST_CASE("meta ops over flat buffers: cpu against the reference (bit for bit but metasgd_step's w)") {
  HostMem mem;
  check_meta_ops(kCpuKernels, mem);
}

TEST_CASE("ranking ops (topk_merge, topk_count): reference and cpu against a naive full sort in double") {
  HostMem mem;
  check_topk_ops(kRefKernels, mem);
  check_topk_ops(kCpuKernels, mem);
}

namespace {
// Planted bugs the ranking check must catch: equal scores ordered by the higher id first (the
// cpu op, then each run of equal scores in the top reversed), and ties counted as ranking above.
void topk_merge_wrong_ties(int32_t* top_id, float* top_score, int32_t* top_n, int32_t* nan_item, float* tscore,
                           const float* scores, int64_t ld, int R, int NW, int c0, const int32_t* rm_off, const int32_t* rm,
                           const int32_t* cand, const int32_t* t_off, const int32_t* tg, int K) {
  kCpuKernels.topk_merge(top_id, top_score, top_n, nan_item, tscore, scores, ld, R, NW, c0, rm_off, rm, cand, t_off, tg, K);
  for (int r = 0; r < R; ++r)
    for (int a = 0; a < top_n[r];) {
      int b = a + 1;
      while (b < top_n[r] && top_score[r * K + b] == top_score[r * K + a]) ++b;
      std::reverse(top_id + r * K + a, top_id + r * K + b);
      a = b;
    }
}
void topk_count_ties_above(int32_t* above, int32_t* ties, const float* scores, int64_t ld, int R, int NW, int c0,
                           const int32_t* rm_off, const int32_t* rm, const int32_t* cand, const int32_t* t_off,
                           const int32_t* tg, const float* tscore) {
  kCpuKernels.topk_count(above, ties, scores, ld, R, NW, c0, rm_off, rm, cand, t_off, tg, tscore);
  for (int r = 0; r < R; ++r)
    for (int32_t t = t_off[r]; t < t_off[r + 1]; ++t)
      for (int j = 0; j < NW; ++j)  // a tie with a higher id counted above too (removed items ignored: still wrong)
        above[t] += scores[r * ld + j] == tscore[t] && c0 + j > tg[t] && (!cand || cand[c0 + j]);
}
}  // namespace

TEST_CASE("ranking ops: the check catches a wrong tie order and ties counted above") {
  HostMem mem;
  for (int bug = 0; bug < 2; ++bug) {
    CAPTURE(bug);
    KernelTable k = kCpuKernels;
    if (bug == 0) k.topk_merge = topk_merge_wrong_ties;
    else k.topk_count = topk_count_ties_above;
    size_t caught = 0, cases = 0;  // cases that can show the bug: rows of more than one item (and K > 1 for the order)
    for (const TopkCase& c : topk_cases()) {
      if (c.N == 1 || (bug == 0 && c.K == 1)) continue;
      ++cases;
      caught += !topk_diff(topk_run(k, mem, c, 7), topk_naive(c)).empty();
    }
    MESSAGE("planted bug ", bug, ": caught in ", caught, " of ", cases, " cases");
    CHECK(cases >= 6);
    CHECK(caught == cases);
  }
}

TEST_CASE("op table harness: a wrong result, a NaN and an out-of-bounds write fail") {
  // The runner must be able to fail: rel_l2 sees a small error and a NaN on either side, and
  // Bufs sees a sentinel overwritten one past the end (host memory here, device memory under
  // CUDA: the same code).
  std::vector<float> a{1, 2, 3}, b{1, 2, 3.001f}, c{1, NAN, 3};
  CHECK(rel_l2(a.data(), b.data(), 3) > 1e-5);
  CHECK(std::isinf(rel_l2(c.data(), a.data(), 3)));
  CHECK(std::isinf(rel_l2(a.data(), c.data(), 3)));
  HostMem mem;
  Bufs bufs(mem);
  for (bool b16 : {false, true}) {
    CAPTURE(b16);
    Ptr p = bufs.add({1, 2, 3, 4}, b16);
    const size_t k = b16 ? 1 : 0;
    bool guards = false;
    CHECK(bufs.read(k, guards) == std::vector<float>{1, 2, 3, 4});
    CHECK(guards);
    if (b16)
      static_cast<uint16_t*>(p)[4] = 0;  // one past the end
    else
      static_cast<float*>(p)[4] = 0.0f;
    bufs.read(k, guards);
    CHECK_FALSE(guards);
  }
}
