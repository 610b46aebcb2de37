// The meta-learning ops over flat buffers (kernels/ops.def: acc_f64, acc_diff_f64,
// acc_prod_f64, f64_to_f32, metasgd_step, clamp_min) are no table row (no gradient): this case
// runs them on any backend's table (memory through a runner.h Mem) against kernels/ref. Their
// per-element arithmetic is the op list's, so every result is bit-identical to the reference,
// except metasgd_step's w - rate * g (the reference rounds once from double; a backend may round
// the product first or fuse it: within 1e-6). Every buffer has sentinels on both sides, inputs
// stay untouched, and the accumulators start at non-zero doubles that are no floats, so a write
// instead of an add, or an add in float, shows.
#pragma once
#include "tests/ops/runner.h"

namespace mr::optest {

// A typed buffer (float or double) on a Mem, with kGuard sentinel elements (0x7f bytes) on both
// sides; get() reads the payload back and checks the sentinels.
template <class T>
class Typed {
 public:
  Typed(Mem& m, const std::vector<T>& v) : mem_(m), n_(v.size()) {
    std::vector<unsigned char> h(bytes(), 0x7f);
    if (n_) std::memcpy(h.data() + kGuard * sizeof(T), v.data(), n_ * sizeof(T));  // an empty v's data() may be null
    base_ = mem_.alloc(h.size());
    mem_.put(base_, h.data(), h.size());
  }
  ~Typed() { mem_.release(base_); }
  Typed(const Typed&) = delete;
  Typed& operator=(const Typed&) = delete;
  T* p() const { return reinterpret_cast<T*>(static_cast<unsigned char*>(base_) + kGuard * sizeof(T)); }
  std::vector<T> get() const {
    std::vector<unsigned char> h(bytes());
    mem_.get(h.data(), base_, h.size());
    const size_t g = kGuard * sizeof(T), tail = g + n_ * sizeof(T);
    bool guards = true;
    for (size_t i = 0; i < g; ++i) guards = guards && h[i] == 0x7f && h[tail + i] == 0x7f;
    CHECK_MESSAGE(guards, "sentinels overwritten");
    std::vector<T> v(n_);
    if (n_) std::memcpy(v.data(), h.data() + g, n_ * sizeof(T));
    return v;
  }

 private:
  size_t bytes() const { return (n_ + 2 * kGuard) * sizeof(T); }
  Mem& mem_;
  size_t n_;
  void* base_ = nullptr;
};

// Elements where got and want differ in any bit.
template <class T>
size_t bits_differ(const std::vector<T>& got, const std::vector<T>& want) {
  if (got.size() != want.size()) return std::max(got.size(), want.size());
  size_t d = 0;
  for (size_t j = 0; j < got.size(); ++j) d += std::memcmp(&got[j], &want[j], sizeof(T)) != 0;
  return d;
}

inline void check_meta_ops(const KernelTable& k, Mem& mem) {
  for (int64_t n : {1, 33, 1025, 40000}) {
    CAPTURE(n);
    std::mt19937_64 rng(uint64_t(n) + 5);
    auto floats = [&](double scale) {
      auto d = randn(size_t(n), rng, scale);
      return std::vector<float>(d.begin(), d.end());
    };
    std::vector<double> acc0(static_cast<size_t>(n));
    for (auto& e : acc0) e = std::normal_distribution<double>(0.0, 10.0)(rng);  // not floats
    const auto a = floats(1.0), b = floats(1.0), x = floats(2.0);
    auto same = [](const char* what, size_t differ) {
      INFO(std::string(what), ": ", differ, " element(s) differ from the reference");
      CHECK(differ == 0);
    };
    {  // acc_f64, twice: acc += a; acc += x
      auto want = acc0;
      kRefKernels.acc_f64(want.data(), a.data(), n);
      kRefKernels.acc_f64(want.data(), x.data(), n);
      Typed<double> acc(mem, acc0);
      Typed<float> pa(mem, a), px(mem, x);
      k.acc_f64(acc.p(), pa.p(), n);
      k.acc_f64(acc.p(), px.p(), n);
      mem.sync();
      same("acc_f64", bits_differ(acc.get(), want));
      same("acc_f64 input", bits_differ(pa.get(), a) + bits_differ(px.get(), x));
    }
    for (float s : {0.37f, -1.0f}) {  // acc_diff_f64 and acc_prod_f64 on one accumulator
      CAPTURE(s);
      auto want = acc0;
      kRefKernels.acc_diff_f64(want.data(), a.data(), b.data(), s, n);
      kRefKernels.acc_prod_f64(want.data(), x.data(), b.data(), s, n);
      Typed<double> acc(mem, acc0);
      Typed<float> pa(mem, a), pb(mem, b), px(mem, x);
      k.acc_diff_f64(acc.p(), pa.p(), pb.p(), s, n);
      const auto after_diff = acc.get();
      k.acc_prod_f64(acc.p(), px.p(), pb.p(), s, n);
      mem.sync();
      auto want_diff = acc0;
      kRefKernels.acc_diff_f64(want_diff.data(), a.data(), b.data(), s, n);
      same("acc_diff_f64", bits_differ(after_diff, want_diff));
      same("acc_diff_f64 then acc_prod_f64", bits_differ(acc.get(), want));
      same("acc_diff/prod inputs", bits_differ(pa.get(), a) + bits_differ(pb.get(), b) + bits_differ(px.get(), x));
    }
    {  // f64_to_f32: y = float(acc / 3) over a prefilled y
      std::vector<float> want(size_t(n), 5.0f);
      kRefKernels.f64_to_f32(want.data(), acc0.data(), 1.0 / 3.0, n);
      Typed<float> y(mem, std::vector<float>(size_t(n), 5.0f));
      Typed<double> acc(mem, acc0);
      k.f64_to_f32(y.p(), acc.p(), 1.0 / 3.0, n);
      mem.sync();
      same("f64_to_f32", bits_differ(y.get(), want));
      same("f64_to_f32 input", bits_differ(acc.get(), acc0));
    }
    {  // metasgd_step, two inner steps: w -= rate * g; gsum += g
      auto rate = floats(0.01);
      for (auto& r : rate) r = std::fabs(r);
      const auto g2 = floats(1.0);
      std::vector<float> w = a, gsum = b;
      kRefKernels.metasgd_step(w.data(), gsum.data(), x.data(), rate.data(), n);
      kRefKernels.metasgd_step(w.data(), gsum.data(), g2.data(), rate.data(), n);
      Typed<float> pw(mem, a), pg(mem, b), px(mem, x), pg2(mem, g2), pr(mem, rate);
      k.metasgd_step(pw.p(), pg.p(), px.p(), pr.p(), n);
      k.metasgd_step(pw.p(), pg.p(), pg2.p(), pr.p(), n);
      mem.sync();
      same("metasgd_step gsum", bits_differ(pg.get(), gsum));
      const auto got = pw.get();
      const double e = rel_l2(got.data(), w.data(), got.size());
      INFO("metasgd_step w: rel L2 error vs ref ", e);
      CHECK(e <= 1e-6);
      same("metasgd_step inputs", bits_differ(px.get(), x) + bits_differ(pg2.get(), g2) + bits_differ(pr.get(), rate));
    }
    for (float lo : {0.0f, 0.25f}) {  // clamp_min, with values equal to lo and -0
      CAPTURE(lo);
      auto v = x;
      v[0] = lo;
      if (n > 2) v[1] = -0.0f, v[2] = std::nextafter(lo, -1.0f);
      auto want = v;
      kRefKernels.clamp_min(want.data(), n, lo);
      Typed<float> pv(mem, v);
      k.clamp_min(pv.p(), n, lo);
      mem.sync();
      same("clamp_min", bits_differ(pv.get(), want));
    }
  }
}

}  // namespace mr::optest
