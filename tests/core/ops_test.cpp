// The op regression table: every op of kernels/kernel_table.h, on awkward shapes, checks
//   1. forward:  kernels/cpu against kernels/ref (float), every output incl. saved tensors;
//   2. backward: kernels/cpu against kernels/ref for every input gradient;
//   3. the gradient convention: activation gradients are written when acc=false and added
//      when acc=true, parameter gradients always add;
//   4. kernels/ref backward in double against central finite differences of kernels/ref
//      forward in double (loss L = <out0, R> for a fixed random R);
// with sentinels around every output and NaN counted as a failure.
// Tolerance between the fp32 CPU kernels and the double-accumulating reference: relative L2
// error <= 1e-5 (fp32 has 6e-8 unit roundoff; our longest reductions are ~1e3 terms, whose
// worst-case growth stays below 1e-5, while any indexing or formula bug is O(1)).
// Finite differences (double, h = 1e-6): |fd - analytic| <= 1e-6 * (|fd| + |analytic|) + 1e-8.
#include <doctest/doctest.h>

#include <cstring>

#include "kernels/cpu/cpu.h"
#include "kernels/philox.h"
#include "kernels/ref/ref.h"
#include "tests/core/op_harness.h"

using namespace mr;
using namespace mr::test;

namespace {

using FPtrs = std::vector<float*>;
using DPtrs = std::vector<double*>;

struct OpSpec {
  std::string name;
  std::vector<std::vector<double>> x;  // float inputs (initial values)
  std::vector<bool> diff;              // gradient checked for this input
  std::vector<bool> param;             // its gradient always accumulates
  std::vector<size_t> out_sizes;       // out[0] is what the loss reads
  std::function<void(const KernelTable&, FPtrs&, FPtrs&)> fwd;
  std::function<void(const KernelTable&, FPtrs&, FPtrs&, const float*, FPtrs&, GradMode)> bwd;
  std::function<void(DPtrs&, DPtrs&)> fwd_d;
  std::function<void(DPtrs&, DPtrs&, const double*, DPtrs&)> bwd_d;
  bool fd = true;
  double tol = 1e-5;
};

template <class V>
std::vector<typename V::value_type*> ptrs_of(std::vector<V>& v) {
  std::vector<typename V::value_type*> p;
  for (auto& e : v) p.push_back(e.data());
  return p;
}

FPtrs gptrs(std::vector<Guarded>& v) {
  FPtrs p;
  for (auto& g : v) p.push_back(g.data());
  return p;
}

void check_guards(const std::vector<Guarded>& v, const std::string& what) {
  for (size_t i = 0; i < v.size(); ++i) {
    INFO(what, " #", i);
    CHECK(v[i].guards_intact());
  }
}

std::vector<Guarded> make_outs(const std::vector<size_t>& sizes) {
  std::vector<Guarded> o;
  for (size_t n : sizes) o.emplace_back(n);
  return o;
}

// Gradient buffers: a Guarded of the input's size filled with `fill` for checked inputs,
// an empty Guarded (null pointer passed) otherwise.
std::vector<Guarded> make_grads(const OpSpec& s, float fill) {
  std::vector<Guarded> g;
  for (size_t i = 0; i < s.x.size(); ++i) {
    g.emplace_back(s.diff[i] ? s.x[i].size() : 0);
    for (size_t k = 0; k < g.back().size(); ++k) g.back()[k] = fill;
  }
  return g;
}

FPtrs grad_ptrs(const OpSpec& s, std::vector<Guarded>& g) {
  FPtrs p;
  for (size_t i = 0; i < g.size(); ++i) p.push_back(s.diff[i] ? g[i].data() : nullptr);
  return p;
}

void run_op(OpSpec& s, uint64_t seed) {
  INFO("op ", s.name);
  std::mt19937_64 rng(seed);
  std::vector<Guarded> in;
  for (auto& x : s.x) in.push_back(to_guarded(x));
  FPtrs inp = gptrs(in);
  const KernelTable* kts[2] = {&kRefKernels, &kCpuKernels};

  // 1. forward
  std::vector<Guarded> outs[2];
  for (int k = 0; k < 2; ++k) {
    outs[k] = make_outs(s.out_sizes);
    FPtrs op = gptrs(outs[k]);
    s.fwd(*kts[k], inp, op);
    check_guards(outs[k], std::string(kts[k]->name) + " forward output");
  }
  for (size_t o = 0; o < s.out_sizes.size(); ++o) {
    const double e = rel_l2(outs[1][o].data(), outs[0][o].data(), s.out_sizes[o]);
    INFO("forward output #", o, " rel L2 error cpu vs ref = ", e);
    CHECK(e <= s.tol);
  }
  for (auto& g : in) CHECK(g.guards_intact());

  // 2. backward, both backends, gradient buffers zeroed, acc = false
  std::vector<double> R = randn(s.out_sizes[0], rng);
  Guarded Rf = to_guarded(R);
  std::vector<Guarded> grads[2];
  for (int k = 0; k < 2; ++k) {
    grads[k] = make_grads(s, 0.0f);
    FPtrs op = gptrs(outs[k]), gp = grad_ptrs(s, grads[k]);
    s.bwd(*kts[k], inp, op, Rf.data(), gp, kOverwrite);
    check_guards(grads[k], std::string(kts[k]->name) + " backward gradient");
  }
  for (size_t i = 0; i < s.x.size(); ++i) {
    if (!s.diff[i]) continue;
    const double e = rel_l2(grads[1][i].data(), grads[0][i].data(), s.x[i].size());
    INFO("gradient of input #", i, " rel L2 error cpu vs ref = ", e);
    CHECK(e <= s.tol);
  }

  // 3. convention: prefilled 3 with acc=false -> activations overwritten, params += ;
  //    prefilled 1 with acc=true -> everything +=
  for (int k = 0; k < 2; ++k)
    for (int mode = 0; mode < 2; ++mode) {
      const float fill = mode == 0 ? 3.0f : 1.0f;
      auto g = make_grads(s, fill);
      FPtrs op = gptrs(outs[k]), gp = grad_ptrs(s, g);
      s.bwd(*kts[k], inp, op, Rf.data(), gp, mode == 1 ? kAccumulate : kOverwrite);
      for (size_t i = 0; i < s.x.size(); ++i) {
        if (!s.diff[i]) continue;
        const bool adds = mode == 1 || s.param[i];
        std::vector<double> expect(s.x[i].size());
        for (size_t j = 0; j < expect.size(); ++j) expect[j] = double(grads[k][i][j]) + (adds ? fill : 0.0);
        const double e = rel_l2(g[i].data(), expect.data(), expect.size());
        INFO(kts[k]->name, " convention, input #", i, " acc=", mode == 1, " param=", bool(s.param[i]), " err ", e);
        CHECK(e <= 1e-6);
      }
    }

  if (!s.fd || !s.fwd_d) return;
  // 4. reference backward in double vs finite differences of the reference forward in double
  std::vector<std::vector<double>> xd = s.x, od, gd;
  for (size_t n : s.out_sizes) od.emplace_back(n, 0.0);
  for (auto& x : s.x) gd.emplace_back(x.size(), 0.0);
  DPtrs xp = ptrs_of(xd), op = ptrs_of(od), gp = ptrs_of(gd);
  for (size_t i = 0; i < s.x.size(); ++i)
    if (!s.diff[i]) gp[i] = nullptr;
  s.fwd_d(xp, op);
  s.bwd_d(xp, op, R.data(), gp);
  // the float reference agrees with the double one
  for (size_t i = 0; i < s.x.size(); ++i) {
    if (!s.diff[i]) continue;
    const double e = rel_l2(grads[0][i].data(), gd[i].data(), gd[i].size());
    INFO("ref float vs ref double gradient #", i, " err ", e);
    CHECK(e <= s.tol);
  }
  auto loss = [&]() {
    std::vector<std::vector<double>> o2;
    for (size_t n : s.out_sizes) o2.emplace_back(n, 0.0);
    DPtrs op2 = ptrs_of(o2);
    s.fwd_d(xp, op2);
    double L = 0;
    for (size_t j = 0; j < s.out_sizes[0]; ++j) L += o2[0][j] * R[j];
    return L;
  };
  for (size_t i = 0; i < s.x.size(); ++i) {
    if (!s.diff[i]) continue;
    const size_t n = xd[i].size();
    std::vector<size_t> idx;
    if (n <= 24) for (size_t j = 0; j < n; ++j) idx.push_back(j);
    else for (int j = 0; j < 24; ++j) idx.push_back(std::uniform_int_distribution<size_t>(0, n - 1)(rng));
    for (size_t j : idx) {
      const double x0 = xd[i][j], h = 1e-6 * std::max(1.0, std::fabs(x0));
      xd[i][j] = x0 + h;
      const double lp = loss();
      xd[i][j] = x0 - h;
      const double lm = loss();
      xd[i][j] = x0;
      const double fd = (lp - lm) / (2 * h), an = gd[i][j];
      INFO("finite differences: input #", i, " element ", j, " fd ", fd, " analytic ", an);
      CHECK(std::fabs(fd - an) <= 1e-6 * (std::fabs(fd) + std::fabs(an)) + 1e-8);
    }
  }
}

std::vector<int32_t> rand_ints(size_t n, int lo, int hi, std::mt19937_64& rng) {
  std::vector<int32_t> v(n);
  for (auto& x : v) x = std::uniform_int_distribution<int>(lo, hi)(rng);
  return v;
}

// Padding mask with at least one real token per row; row b has its last b % T tokens padded.
std::vector<int32_t> pad_mask(int B, int T) {
  std::vector<int32_t> m(size_t(B) * T, 1);
  for (int b = 0; b < B; ++b)
    for (int t = T - (b % T); t < T; ++t) m[size_t(b) * T + t] = (t == 0) ? 1 : 0;
  return m;
}

}  // namespace

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

TEST_CASE("op: embedding") {
  for (auto [B, T, C, V] : {std::tuple{1, 1, 1, 1}, {3, 33, 5, 7}, {2, 129, 33, 3}, {3, 17, 64, 512}}) {
    CAPTURE(B); CAPTURE(T); CAPTURE(C);
    std::mt19937_64 rng(B * 1000 + T);
    auto ids = rand_ints(size_t(B) * T, 0, V - 1, rng), types = rand_ints(size_t(B) * T, 0, 1, rng);
    OpSpec s;
    s.name = "embedding";
    s.x = {randn(size_t(V) * C, rng), randn(size_t(T) * C, rng), randn(size_t(2) * C, rng)};
    s.diff = {true, true, true};
    s.param = {true, true, true};
    s.out_sizes = {size_t(B) * T * C};
    s.fwd = [=](const KernelTable& k, FPtrs& x, FPtrs& o) { k.embedding_fwd(o[0], ids.data(), types.data(), x[0], x[1], x[2], B, T, C); };
    s.bwd = [=](const KernelTable& k, FPtrs&, FPtrs&, const float* d, FPtrs& g, bool) { k.embedding_bwd(g[0], g[1], g[2], d, ids.data(), types.data(), B, T, C); };
    s.fwd_d = [=](DPtrs& x, DPtrs& o) { ref::embedding_fwd<double>(o[0], ids.data(), types.data(), x[0], x[1], x[2], B, T, C); };
    s.bwd_d = [=](DPtrs&, DPtrs&, const double* d, DPtrs& g) { ref::embedding_bwd<double>(g[0], g[1], g[2], d, ids.data(), types.data(), B, T, C); };
    run_op(s, 1);
  }
}

TEST_CASE("op: linear") {
  for (auto [N, IN, OUT, bias] : {std::tuple{1, 1, 1, true}, {3, 33, 5, true}, {33, 129, 3, false}, {129, 64, 33, true}, {51, 64, 192, true}}) {
    CAPTURE(N); CAPTURE(IN); CAPTURE(OUT);
    std::mt19937_64 rng(N * 7 + IN);
    OpSpec s;
    s.name = "linear";
    s.x = {randn(size_t(N) * IN, rng), randn(size_t(OUT) * IN, rng, 0.2), randn(size_t(OUT), rng)};
    s.diff = {true, true, bias};
    s.param = {false, true, true};
    s.out_sizes = {size_t(N) * OUT};
    const bool b = bias;
    s.fwd = [=](const KernelTable& k, FPtrs& x, FPtrs& o) { k.linear_fwd(o[0], x[0], x[1], b ? x[2] : nullptr, N, IN, OUT); };
    s.bwd = [=](const KernelTable& k, FPtrs& x, FPtrs&, const float* d, FPtrs& g, GradMode acc) { k.linear_bwd(g[0], g[1], g[2], d, x[0], x[1], N, IN, OUT, acc); };
    s.fwd_d = [=](DPtrs& x, DPtrs& o) { ref::linear_fwd<double>(o[0], x[0], x[1], b ? x[2] : nullptr, N, IN, OUT); };
    s.bwd_d = [=](DPtrs& x, DPtrs&, const double* d, DPtrs& g) { ref::linear_bwd<double>(g[0], g[1], g[2], d, x[0], x[1], N, IN, OUT, kOverwrite); };
    run_op(s, 2);
  }
}

TEST_CASE("op: bias + activation (gelu erf, tanh, none)") {
  for (Act act : {Act::Gelu, Act::Tanh, Act::None})
    for (auto [N, C] : {std::pair{1, 1}, {3, 33}, {129, 3}, {33, 129}}) {
      CAPTURE(N); CAPTURE(C); CAPTURE(int(act));
      std::mt19937_64 rng(N * 3 + C + int(act));
      OpSpec s;
      s.name = "bias_act";
      s.x = {randn(size_t(N) * C, rng, 2.0), randn(size_t(C), rng)};
      s.diff = {true, true};
      s.param = {false, true};
      s.out_sizes = {size_t(N) * C};
      s.fwd = [=](const KernelTable& k, FPtrs& x, FPtrs& o) { k.bias_act_fwd(o[0], x[0], x[1], N, C, act); };
      s.bwd = [=](const KernelTable& k, FPtrs& x, FPtrs&, const float* d, FPtrs& g, GradMode acc) { k.bias_act_bwd(g[0], g[1], d, x[0], x[1], N, C, act, acc); };
      s.fwd_d = [=](DPtrs& x, DPtrs& o) { ref::bias_act_fwd<double>(o[0], x[0], x[1], N, C, act); };
      s.bwd_d = [=](DPtrs& x, DPtrs&, const double* d, DPtrs& g) { ref::bias_act_bwd<double>(g[0], g[1], d, x[0], x[1], N, C, act, kOverwrite); };
      run_op(s, 3);
    }
}

TEST_CASE("op: gelu is the erf form (hand values)") {
  // gelu(1) = 0.5 * (1 + erf(1/sqrt 2)) = 0.8413447460685429; tanh approximation would give 0.8411920
  float x[3] = {1.0f, -1.0f, 0.0f}, y[3];
  kCpuKernels.bias_act_fwd(y, x, nullptr, 1, 3, Act::Gelu);
  CHECK(y[0] == doctest::Approx(0.8413447460685429).epsilon(1e-7));
  CHECK(y[1] == doctest::Approx(-0.15865525393145707).epsilon(1e-6));
  CHECK(y[2] == 0.0f);
}

TEST_CASE("op: layernorm with fused residual") {
  for (auto [N, C, resid] : {std::tuple{1, 1, true}, {3, 33, true}, {129, 3, false}, {33, 129, true}, {51, 64, false}}) {
    CAPTURE(N); CAPTURE(C); CAPTURE(resid);
    if (C == 1) continue;  // a single channel normalizes to beta exactly; gradients vanish (covered below)
    std::mt19937_64 rng(N * 11 + C);
    OpSpec s;
    s.name = "layernorm";
    auto gamma = randn(size_t(C), rng, 0.3);
    for (auto& g : gamma) g += 1.0;
    s.x = {randn(size_t(N) * C, rng, 2.0), randn(size_t(N) * C, rng), gamma, randn(size_t(C), rng)};
    for (auto& v : s.x[0]) v += 3.0;  // a non-zero mean
    const bool r = resid;
    s.diff = {true, r, true, true};
    s.param = {false, false, true, true};
    s.out_sizes = {size_t(N) * C, size_t(N) * C, size_t(N), size_t(N)};  // y, s, mean, rstd
    s.fwd = [=](const KernelTable& k, FPtrs& x, FPtrs& o) {
      k.layernorm_fwd(o[0], r ? o[1] : nullptr, o[2], o[3], x[0], r ? x[1] : nullptr, x[2], x[3], N, C, 1e-12f);
      if (!r) std::memcpy(o[1], x[0], sizeof(float) * N * C);  // s = a when there is no residual
    };
    s.bwd = [=](const KernelTable& k, FPtrs& x, FPtrs& o, const float* d, FPtrs& g, GradMode acc) {
      k.layernorm_bwd(g[0], r ? g[1] : nullptr, g[2], g[3], d, o[1], o[2], o[3], x[2], N, C, acc, acc);
    };
    s.fwd_d = [=](DPtrs& x, DPtrs& o) {
      ref::layernorm_fwd<double>(o[0], r ? o[1] : nullptr, o[2], o[3], x[0], r ? x[1] : nullptr, x[2], x[3], N, C, 1e-12f);
      if (!r) std::memcpy(o[1], x[0], sizeof(double) * N * C);
    };
    s.bwd_d = [=](DPtrs& x, DPtrs& o, const double* d, DPtrs& g) {
      ref::layernorm_bwd<double>(g[0], r ? g[1] : nullptr, g[2], g[3], d, o[1], o[2], o[3], x[2], N, C, kOverwrite, kOverwrite);
    };
    run_op(s, 4);
  }
}

TEST_CASE("op: attention (mask, dropout)") {
  struct Sh { int B, T, C, H; float p; bool masked; bool fd; };
  for (Sh sh : {Sh{1, 1, 4, 1, 0.f, false, true}, Sh{2, 7, 8, 2, 0.f, true, true}, Sh{3, 17, 64, 4, 0.f, true, true},
                Sh{2, 33, 16, 2, 0.1f, true, true}, Sh{1, 129, 64, 2, 0.f, true, false}, Sh{2, 64, 64, 2, 0.25f, false, false},
                Sh{2, 97, 32, 2, 0.2f, true, false}}) {  // 97: the CPU's second block of 64 rows, with dropout
    CAPTURE(sh.B); CAPTURE(sh.T); CAPTURE(sh.C); CAPTURE(sh.H); CAPTURE(sh.p);
    std::mt19937_64 rng(sh.B * 13 + sh.T);
    const int B = sh.B, T = sh.T, C = sh.C, H = sh.H;
    const float p = sh.p;
    auto mask = pad_mask(B, T);
    const int32_t* mk = sh.masked ? nullptr : nullptr;
    (void)mk;
    std::vector<int32_t> m = sh.masked ? mask : std::vector<int32_t>();
    OpSpec s;
    s.name = "attention";
    s.x = {randn(size_t(B) * T * 3 * C, rng)};
    s.diff = {true};
    s.param = {false};
    s.out_sizes = {size_t(B) * T * C, size_t(B) * H * T};  // out, lse
    s.fd = sh.fd;
    const uint64_t seed = 1234, off = 77;
    s.fwd = [=](const KernelTable& k, FPtrs& x, FPtrs& o) { k.attention_fwd(o[0], o[1], x[0], m.empty() ? nullptr : m.data(), B, T, C, H, p, seed, off); };
    s.bwd = [=](const KernelTable& k, FPtrs& x, FPtrs& o, const float* d, FPtrs& g, GradMode acc) { k.attention_bwd(g[0], d, x[0], o[0], o[1], m.empty() ? nullptr : m.data(), B, T, C, H, p, seed, off, acc); };
    s.fwd_d = [=](DPtrs& x, DPtrs& o) { ref::attention_fwd<double>(o[0], o[1], x[0], m.empty() ? nullptr : m.data(), B, T, C, H, p, seed, off); };
    s.bwd_d = [=](DPtrs& x, DPtrs& o, const double* d, DPtrs& g) { ref::attention_bwd<double>(g[0], d, x[0], o[0], o[1], m.empty() ? nullptr : m.data(), B, T, C, H, p, seed, off, kOverwrite); };
    run_op(s, 5);
  }
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
  kCpuKernels.attention_fwd(oa.data(), la.data(), a.data(), mask.data(), B, T, C, H, 0.f, 0, 0);
  kCpuKernels.attention_fwd(ob.data(), lb.data(), b.data(), mask.data(), B, T, C, H, 0.f, 0, 0);
  CHECK(oa == ob);
  CHECK(la == lb);
  // and their gradients are exactly 0
  std::vector<float> dout(B * T * C, 1.0f), g(a.size(), 7.0f);
  kCpuKernels.attention_bwd(g.data(), dout.data(), a.data(), oa.data(), la.data(), mask.data(), B, T, C, H, 0.f, 0, 0,
                            kOverwrite);
  for (int t = 3; t < 5; ++t)
    for (int c = C; c < 3 * C; ++c) CHECK(g[size_t(t) * 3 * C + c] == 0.0f);
}

TEST_CASE("op: dropout") {
  for (auto [n, p] : {std::pair{int64_t(1), 0.5f}, {int64_t(33), 0.1f}, {int64_t(1025), 0.3f}}) {
    CAPTURE(n); CAPTURE(p);
    std::mt19937_64 rng(n);
    OpSpec s;
    s.name = "dropout";
    s.x = {randn(size_t(n), rng)};
    s.diff = {true};
    s.param = {false};
    s.out_sizes = {size_t(n)};
    const float pp = p;
    s.fwd = [=](const KernelTable& k, FPtrs& x, FPtrs& o) { k.dropout_fwd(o[0], x[0], n, pp, 42, 5); };
    s.bwd = [=](const KernelTable& k, FPtrs&, FPtrs&, const float* d, FPtrs& g, GradMode acc) { k.dropout_bwd(g[0], d, n, pp, 42, 5, acc); };
    s.fwd_d = [=](DPtrs& x, DPtrs& o) { ref::dropout_fwd<double>(o[0], x[0], n, pp, 42, 5); };
    s.bwd_d = [=](DPtrs&, DPtrs&, const double* d, DPtrs& g) { ref::dropout_bwd<double>(g[0], d, n, pp, 42, 5, kOverwrite); };
    run_op(s, 6);
  }
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

TEST_CASE("op: losses (cross-entropy, BCE with logits, MSE)") {
  for (auto [N, V] : {std::pair{1, 1}, {3, 33}, {33, 5}, {129, 129}}) {
    CAPTURE(N); CAPTURE(V);
    std::mt19937_64 rng(N * 5 + V);
    auto tg = rand_ints(size_t(N), 0, V - 1, rng);
    if (N > 2) tg[1] = -100;  // ignored row
    OpSpec s;
    s.name = "xent";
    s.x = {randn(size_t(N) * V, rng, 3.0)};
    s.diff = {true};
    s.param = {false};
    s.out_sizes = {1, size_t(N)};
    s.fwd = [=](const KernelTable& k, FPtrs& x, FPtrs& o) { k.xent_fwd(o[0], o[1], x[0], tg.data(), N, V); };
    s.bwd = [=](const KernelTable& k, FPtrs& x, FPtrs& o, const float* d, FPtrs& g, GradMode acc) { k.xent_bwd(g[0], d, x[0], o[1], tg.data(), N, V, acc); };
    s.fwd_d = [=](DPtrs& x, DPtrs& o) { ref::xent_fwd<double>(o[0], o[1], x[0], tg.data(), N, V); };
    s.bwd_d = [=](DPtrs& x, DPtrs& o, const double* d, DPtrs& g) { ref::xent_bwd<double>(g[0], d, x[0], o[1], tg.data(), N, V, kOverwrite); };
    run_op(s, 7);
  }
  for (int64_t n : {1, 3, 33, 1025}) {
    CAPTURE(n);
    std::mt19937_64 rng(n);
    std::vector<double> y(n);
    for (auto& v : y) v = std::uniform_real_distribution<double>(0, 1)(rng);
    OpSpec b;
    b.name = "bce";
    b.x = {randn(size_t(n), rng, 4.0), y};
    b.diff = {true, false};
    b.param = {false, false};
    b.out_sizes = {1};
    b.fwd = [=](const KernelTable& k, FPtrs& x, FPtrs& o) { k.bce_fwd(o[0], x[0], x[1], n); };
    b.bwd = [=](const KernelTable& k, FPtrs& x, FPtrs&, const float* d, FPtrs& g, GradMode acc) { k.bce_bwd(g[0], d, x[0], x[1], n, acc); };
    b.fwd_d = [=](DPtrs& x, DPtrs& o) { ref::bce_fwd<double>(o[0], x[0], x[1], n); };
    b.bwd_d = [=](DPtrs& x, DPtrs&, const double* d, DPtrs& g) { ref::bce_bwd<double>(g[0], d, x[0], x[1], n, kOverwrite); };
    run_op(b, 8);
    OpSpec m = b;
    m.name = "mse";
    m.x[1] = randn(size_t(n), rng);
    m.fwd = [=](const KernelTable& k, FPtrs& x, FPtrs& o) { k.mse_fwd(o[0], x[0], x[1], n); };
    m.bwd = [=](const KernelTable& k, FPtrs& x, FPtrs&, const float* d, FPtrs& g, GradMode acc) { k.mse_bwd(g[0], d, x[0], x[1], n, acc); };
    m.fwd_d = [=](DPtrs& x, DPtrs& o) { ref::mse_fwd<double>(o[0], x[0], x[1], n); };
    m.bwd_d = [=](DPtrs& x, DPtrs&, const double* d, DPtrs& g) { ref::mse_bwd<double>(g[0], d, x[0], x[1], n, kOverwrite); };
    run_op(m, 9);
  }
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

TEST_CASE("op: pooling (masked mean, CLS)") {
  for (auto [B, T, C] : {std::tuple{1, 1, 1}, {3, 33, 5}, {2, 129, 3}, {3, 17, 64}}) {
    CAPTURE(B); CAPTURE(T); CAPTURE(C);
    std::mt19937_64 rng(B + T + C);
    auto m = pad_mask(B, T);
    OpSpec s;
    s.name = "mean_pool";
    s.x = {randn(size_t(B) * T * C, rng)};
    s.diff = {true};
    s.param = {false};
    s.out_sizes = {size_t(B) * C};
    s.fwd = [=](const KernelTable& k, FPtrs& x, FPtrs& o) { k.mean_pool_fwd(o[0], x[0], m.data(), B, T, C); };
    s.bwd = [=](const KernelTable& k, FPtrs&, FPtrs&, const float* d, FPtrs& g, GradMode acc) { k.mean_pool_bwd(g[0], d, m.data(), B, T, C, acc); };
    s.fwd_d = [=](DPtrs& x, DPtrs& o) { ref::mean_pool_fwd<double>(o[0], x[0], m.data(), B, T, C); };
    s.bwd_d = [=](DPtrs&, DPtrs&, const double* d, DPtrs& g) { ref::mean_pool_bwd<double>(g[0], d, m.data(), B, T, C, kOverwrite); };
    run_op(s, 10);
    OpSpec c = s;
    c.name = "cls_pool";
    c.fwd = [=](const KernelTable& k, FPtrs& x, FPtrs& o) { k.cls_pool_fwd(o[0], x[0], B, T, C); };
    c.bwd = [=](const KernelTable& k, FPtrs&, FPtrs&, const float* d, FPtrs& g, GradMode acc) { k.cls_pool_bwd(g[0], d, B, T, C, acc); };
    c.fwd_d = [=](DPtrs& x, DPtrs& o) { ref::cls_pool_fwd<double>(o[0], x[0], B, T, C); };
    c.bwd_d = [=](DPtrs&, DPtrs&, const double* d, DPtrs& g) { ref::cls_pool_bwd<double>(g[0], d, B, T, C, kOverwrite); };
    run_op(c, 11);
  }
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
