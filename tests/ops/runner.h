// The runner of the op table (tests/ops/op_table.h), shared by every backend: one row in one
// mode (fp32, a reduced-precision math mode, bf16 storage) runs on kernels/ref (float, host) and
// on the backend's table (memory through Mem: host for the CPU, cudaMalloc for CUDA), then
//   * forward: every output against the reference (relative L2 <= the mode's tolerance; a NaN
//     anywhere is +inf and fails); outputs start as sentinels, so an unwritten one fails;
//   * backward, with the reference's forward outputs and a random upstream gradient, in the
//     three convention modes (gradients prefilled 0 + kOverwrite, 3 + kOverwrite, 1 +
//     kAccumulate): every gradient against the reference in that mode, and against the
//     backend's own mode-0 result plus the fill where it must add (parameters; kAccumulate);
//   * every buffer: sentinels (kGuard elements) on both sides intact; inputs bit-identical;
//   * check_fd (CPU runner): the float reference against the double one and the double
//     reference backward against central finite differences of its forward (loss <out0, R>,
//     summed as <out0 - out0(x), R> so that the difference does not cancel).
#pragma once
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>

#include "tests/core/op_harness.h"
#include "tests/ops/op_table.h"

namespace mr::optest {

using test::kGuard;     // 16 sentinels on both sides of every buffer
using test::kSentinel;  // an fp32 sentinel no kernel writes by chance
using test::rel_l2;     // ||a - b|| / max(||b||, tiny); +inf if anything is NaN
constexpr uint16_t kSentinel16 = 0x7f7e;  // a bf16 NaN-free pattern no kernel writes by chance

inline uint16_t to_bits(float x) {
  uint32_t u;
  std::memcpy(&u, &x, 4);
  if (std::isnan(x)) return 0x7fc0;
  return uint16_t((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}
inline float from_bits(uint16_t h) {
  const uint32_t u = uint32_t(h) << 16;
  float x;
  std::memcpy(&x, &u, 4);
  return x;
}
// x rounded to `drop` fewer mantissa bits, nearest even (16: bf16, 13: tf32), kept as float.
inline float round_bits(float v, int drop) {
  uint32_t u;
  std::memcpy(&u, &v, 4);
  const uint32_t half = (1u << (drop - 1)) - 1, mask = (1u << drop) - 1;
  u = (u + half + ((u >> drop) & 1u)) & ~mask;
  std::memcpy(&v, &u, 4);
  return v;
}

// Where a backend's buffers live.
struct Mem {
  virtual ~Mem() = default;
  virtual void* alloc(size_t bytes) = 0;
  virtual void put(void* dst, const void* src, size_t bytes) = 0;
  virtual void get(void* dst, const void* src, size_t bytes) = 0;
  virtual void release(void* p) = 0;
  virtual void sync() {}
};
struct HostMem : Mem {
  void* alloc(size_t b) override { return std::malloc(std::max<size_t>(b, 1)); }
  void put(void* d, const void* s, size_t b) override { std::memcpy(d, s, b); }
  void get(void* d, const void* s, size_t b) override { std::memcpy(d, s, b); }
  void release(void* p) override { std::free(p); }
};

// Float buffers on a Mem, stored as fp32 or bf16, with kGuard sentinels on both sides.
class Bufs {
 public:
  explicit Bufs(Mem& m) : mem_(m) {}
  ~Bufs() {
    for (auto& e : e_) mem_.release(e.base);
    for (void* p : ints_) mem_.release(p);
  }
  Ptr add(const std::vector<float>& v, bool b16) {
    const size_t n = v.size() + 2 * kGuard, es = b16 ? 2 : 4;
    std::vector<unsigned char> h(n * es);
    for (size_t k = 0; k < n; ++k) {
      const bool guard = k < size_t(kGuard) || k >= n - kGuard;
      const float x = guard ? kSentinel : v[k - kGuard];
      if (b16) {
        const uint16_t u = guard ? kSentinel16 : to_bits(x);
        std::memcpy(h.data() + k * 2, &u, 2);
      } else {
        std::memcpy(h.data() + k * 4, &x, 4);
      }
    }
    void* d = mem_.alloc(h.size());
    mem_.put(d, h.data(), h.size());
    e_.push_back({d, v.size(), b16});
    return v.empty() ? Ptr() : Ptr(static_cast<unsigned char*>(d) + kGuard * es);
  }
  const int32_t* add_ints(const std::vector<int32_t>& v) {
    if (v.empty()) return nullptr;
    void* d = mem_.alloc(v.size() * 4);
    mem_.put(d, v.data(), v.size() * 4);
    ints_.push_back(d);
    return static_cast<const int32_t*>(d);
  }
  // Buffer k's payload as float; guards_ok tells whether its sentinels are intact.
  std::vector<float> read(size_t k, bool& guards_ok) {
    const auto& e = e_[k];
    const size_t n = e.n + 2 * kGuard, es = e.b16 ? 2 : 4;
    std::vector<unsigned char> h(n * es);
    mem_.get(h.data(), e.base, h.size());
    std::vector<float> all(n);
    guards_ok = true;
    for (size_t i = 0; i < n; ++i) {
      const bool guard = i < size_t(kGuard) || i >= n - kGuard;
      if (e.b16) {
        uint16_t u;
        std::memcpy(&u, h.data() + i * 2, 2);
        all[i] = from_bits(u);
        if (guard) guards_ok = guards_ok && u == kSentinel16;
      } else {
        std::memcpy(&all[i], h.data() + i * 4, 4);
        if (guard) guards_ok = guards_ok && all[i] == kSentinel;
      }
    }
    return std::vector<float>(all.begin() + kGuard, all.end() - kGuard);
  }

 private:
  struct E {
    void* base;
    size_t n;
    bool b16;
  };
  Mem& mem_;
  std::vector<E> e_;
  std::vector<void*> ints_;
};

inline Ptrs host_ptrs(std::vector<std::vector<float>>& v) {
  Ptrs p;
  for (auto& e : v) p.push_back(e.empty() ? Ptr() : Ptr(e.data()));
  return p;
}
inline Ints host_ints(const std::vector<std::vector<int32_t>>& v) {
  Ints p;
  for (auto& e : v) p.push_back(e.empty() ? nullptr : e.data());
  return p;
}

// The backend side of one run: its Mem and a call of a row's fwd/bwd with its table, e.g.
// [&](auto&& body) { body(kCpuKernels); }.
struct Result {
  std::vector<std::vector<float>> ref_out, dev_out, dev_grad0;
};

template <class F, class Call>
Result run_row(const F& r, int mode, Mem& mem, const Call& on_table) {
  INFO("row ", r.name, " in ", std::string(mode_name(mode)));
  const Tol tol = F::tol();
  const bool b16 = mode == kBf16Store;
  const int drop = mode == kTf32Math ? 13 : 16;
  auto tol_of = [&](bool act) { return b16 && !act ? tol.f32_in_bf16 : tol.mode[mode]; };
  auto prep = [&](const std::vector<double>& v, bool act) {
    std::vector<float> f(v.begin(), v.end());
    if (mode != kFp32 && act)
      for (auto& e : f) e = round_bits(e, drop);
    return f;
  };
  std::vector<std::vector<float>> x;
  for (size_t i = 0; i < r.x.size(); ++i) x.push_back(prep(r.x[i], r.act[i]));
  Result res;

  // ---- forward
  auto ints_h = host_ints(r.ints);
  {
    for (size_t k = 0; k < r.out.size(); ++k) res.ref_out.emplace_back(r.out[k], 0.0f);
    auto xr = x;
    Ptrs xp = host_ptrs(xr), op = host_ptrs(res.ref_out);
    r.fwd(kRefKernels, xp, op, ints_h);
  }
  {
    Bufs bufs(mem);
    Ptrs xp, op;
    Ints ip;
    for (size_t i = 0; i < x.size(); ++i) xp.push_back(bufs.add(x[i], b16 && r.act[i]));
    for (size_t k = 0; k < r.out.size(); ++k) op.push_back(bufs.add(std::vector<float>(r.out[k], kSentinel), b16 && r.out_act[k]));
    for (auto& v : r.ints) ip.push_back(bufs.add_ints(v));
    on_table([&](const auto& table) { r.fwd(table, xp, op, ip); });
    mem.sync();
    for (size_t i = 0; i < x.size(); ++i) {
      bool g;
      auto v = bufs.read(i, g);
      INFO("input #", i);
      CHECK(g);
      CHECK(v == x[i]);
    }
    for (size_t k = 0; k < r.out.size(); ++k) {
      bool g;
      res.dev_out.push_back(bufs.read(x.size() + k, g));
      const bool as_act = r.out_act[k] || (k < r.out_rounded.size() && r.out_rounded[k]);
      const double e = rel_l2(res.dev_out[k].data(), res.ref_out[k].data(), r.out[k]);
      INFO("forward output #", k, " rel L2 error vs ref = ", e, " (tol ", tol_of(as_act), ")");
      CHECK(g);
      CHECK(e <= tol_of(as_act));
    }
    if (r.exact_zeros) {
      size_t diff = 0;
      for (size_t j = 0; j < r.out[0]; ++j) diff += (res.dev_out[0][j] == 0.0f) != (res.ref_out[0][j] == 0.0f);
      INFO("zero pattern of output #0 differs from the reference's at ", diff, " elements");
      CHECK(diff == 0);
    }
  }

  if (r.fwd_only) return res;
  // ---- backward: saved values as the reference computed them, stored as the backend stores them
  std::mt19937_64 rng(r.seed + 17);
  const std::vector<float> dout = prep(randn(r.out[0], rng), r.out_act[0]);
  std::vector<std::vector<float>> saved;
  for (size_t k = 0; k < r.out.size(); ++k) saved.push_back(prep(std::vector<double>(res.ref_out[k].begin(), res.ref_out[k].end()),
                                                                b16 && r.out_act[k]));
  struct M {
    float fill;
    GradMode acc;
  };
  for (M m : {M{0.0f, kOverwrite}, M{3.0f, kOverwrite}, M{1.0f, kAccumulate}}) {
    CAPTURE(m.fill);
    CAPTURE(m.acc);
    std::vector<std::vector<float>> gref;
    for (size_t i = 0; i < x.size(); ++i) gref.emplace_back(r.diff[i] ? x[i].size() : 0, m.fill);
    {
      auto xr = x, sr = saved;
      auto dr = dout;
      Ptrs xp = host_ptrs(xr), op = host_ptrs(sr), gp = host_ptrs(gref);
      r.bwd(kRefKernels, xp, op, Ptr(dr.data()), gp, ints_h, m.acc);
    }
    Bufs bufs(mem);
    Ptrs xp, op, gp;
    Ints ip;
    for (size_t i = 0; i < x.size(); ++i) xp.push_back(bufs.add(x[i], b16 && r.act[i]));
    for (size_t k = 0; k < r.out.size(); ++k) op.push_back(bufs.add(saved[k], b16 && r.out_act[k]));
    Ptr dp = bufs.add(dout, b16 && r.out_act[0]);
    for (size_t i = 0; i < x.size(); ++i)
      gp.push_back(bufs.add(r.diff[i] ? std::vector<float>(x[i].size(), m.fill) : std::vector<float>{}, b16 && !r.param[i]));
    for (auto& v : r.ints) ip.push_back(bufs.add_ints(v));
    on_table([&](const auto& table) { r.bwd(table, xp, op, dp, gp, ip, m.acc); });
    mem.sync();
    const size_t nin = x.size() + r.out.size() + 1;
    for (size_t k = 0; k < nin; ++k) {
      bool g;
      auto v = bufs.read(k, g);
      const auto& want = k < x.size() ? x[k] : k < x.size() + r.out.size() ? saved[k - x.size()] : dout;
      INFO("backward input buffer #", k, " sentinels intact and untouched");
      CHECK(g);
      CHECK(v == want);
    }
    for (size_t i = 0; i < x.size(); ++i) {
      bool g;
      auto v = bufs.read(nin + i, g);
      INFO("gradient #", i);
      CHECK(g);
      if (!r.diff[i]) continue;
      const bool act_grad = !r.param[i];
      const double e = rel_l2(v.data(), gref[i].data(), v.size());
      INFO("rel L2 error vs ref = ", e, " (tol ", tol_of(act_grad), ")");
      CHECK(e <= tol_of(act_grad));
      if (m.fill == 0.0f) {
        res.dev_grad0.push_back(v);
      } else if (!b16) {  // the convention on the backend's own result
        const bool adds = r.mode_of(i, m.acc) == kAccumulate || r.param[i];
        std::vector<double> expect(v.size());
        for (size_t j = 0; j < v.size(); ++j) expect[j] = double(res.dev_grad0[i][j]) + (adds ? m.fill : 0.0);
        const double ec = rel_l2(v.data(), expect.data(), v.size());
        INFO("convention: adds=", adds, " err ", ec);
        CHECK(ec <= tol.mode[mode]);  // a wrong convention is off by the fill, O(1)
      }
    }
    if (m.fill == 0.0f) {
      std::vector<std::vector<float>> compact;
      for (size_t i = 0, j = 0; i < x.size(); ++i) compact.push_back(r.diff[i] ? res.dev_grad0[j++] : std::vector<float>{});
      res.dev_grad0 = compact;
    }
  }
  return res;
}

// The float reference against the double one, and the double reference backward against
// central finite differences of its forward: |fd - an| <= 1e-6 (|fd| + |an|) + 1e-8, h = 1e-6.
template <class F>
void check_fd(const F& r) {
  if (!r.fd || r.fwd_only) return;
  INFO("row ", r.name, ": reference vs finite differences");
  std::mt19937_64 rng(r.seed + 17);
  const auto R = randn(r.out[0], rng);
  auto ints = host_ints(r.ints);
  std::vector<std::vector<double>> xd = r.x, od, gd;
  for (size_t n : r.out) od.emplace_back(n, 0.0);
  for (auto& x : r.x) gd.emplace_back(x.size(), 0.0);
  auto dptrs = [](std::vector<std::vector<double>>& v) {
    Ptrs p;
    for (auto& e : v) p.push_back(e.empty() ? Ptr() : Ptr(e.data()));
    return p;
  };
  Ptrs xp = dptrs(xd), op = dptrs(od), gp = dptrs(gd);
  for (size_t i = 0; i < r.x.size(); ++i)
    if (!r.diff[i]) gp[i] = Ptr();
  r.fwd(kRefDouble, xp, op, ints);
  auto Rc = R;
  r.bwd(kRefDouble, xp, op, Ptr(Rc.data()), gp, ints, kOverwrite);
  {  // the float reference's gradients agree with the double one's
    std::vector<std::vector<float>> xf, of, gf;
    for (auto& v : r.x) xf.emplace_back(v.begin(), v.end());
    for (size_t n : r.out) of.emplace_back(n, 0.0f);
    for (size_t i = 0; i < r.x.size(); ++i) gf.emplace_back(r.diff[i] ? r.x[i].size() : 0, 0.0f);
    std::vector<float> Rf(R.begin(), R.end());
    Ptrs xfp = host_ptrs(xf), ofp = host_ptrs(of), gfp = host_ptrs(gf);
    r.fwd(kRefKernels, xfp, ofp, ints);
    r.bwd(kRefKernels, xfp, ofp, Ptr(Rf.data()), gfp, ints, kOverwrite);
    for (size_t i = 0; i < r.x.size(); ++i) {
      if (!r.diff[i]) continue;
      const double e = rel_l2(gf[i].data(), gd[i].data(), gd[i].size());
      INFO("ref float vs ref double gradient #", i, " err ", e);
      CHECK(e <= F::tol().mode[kFp32]);
    }
  }
  auto loss = [&]() {
    std::vector<std::vector<double>> o2;
    for (size_t n : r.out) o2.emplace_back(n, 0.0);
    Ptrs op2 = dptrs(o2);
    r.fwd(kRefDouble, xp, op2, ints);
    double L = 0;
    for (size_t j = 0; j < r.out[0]; ++j) L += (o2[0][j] - od[0][j]) * R[j];  // minus L(x): no cancellation
    return L;
  };
  for (size_t i = 0; i < r.x.size(); ++i) {
    if (!r.diff[i]) continue;
    const size_t n = xd[i].size();
    std::vector<size_t> idx;
    if (n <= 24)
      for (size_t j = 0; j < n; ++j) idx.push_back(j);
    else
      for (int j = 0; j < 24; ++j) idx.push_back(std::uniform_int_distribution<size_t>(0, n - 1)(rng));
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

}  // namespace mr::optest
