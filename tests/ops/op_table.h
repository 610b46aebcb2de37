// The op test table: every op family of kernels/ops.def declared once, with its shapes (the
// awkward ones too), its buffers (inputs, which of them have gradients and whether those are
// parameter gradients, outputs, int buffers), the storage of each buffer under bf16 storage,
// and its tolerance per storage dtype and math mode. A family's forward and backward are
// written once, as templates over the table they call: a KernelTable (kernels/ref, kernels/cpu,
// cuda::kernels(m)), a KernelTableBf16, or RefDouble (kernels/ref in double, for finite
// differences). The runners (tests/ops/runner.h) iterate it per backend.
//
// Adding an op (after its line in kernels/ops.def; the build fails until it has a row, see
// "completeness" at the end): one block here, nothing in the runners.
//   struct GatherRows : Row {
//     static constexpr bool kBf16 = true;                 // = the op's bf16 flag in ops.def
//     static constexpr const char* kName = "gather_rows";
//     static constexpr std::string_view kOps[] = {"gather_rows_fwd", "gather_rows_bwd"};
//     static Tol tol() { return {{1e-5, -1, -1, 1e-2}}; }  // fp32, bf16 math, tf32 math, bf16 storage
//     int N, C;                                            // the row's shape, read by fwd/bwd
//     static std::vector<GatherRows> rows();               // shapes: 1, awkward (33, 129, 1025), one
//                                                          // `big` BERT-base row (native CUDA only)
//     template <class K> void fwd(const K& k, Ptrs& x, Ptrs& o, Ints& i) const;
//     template <class K> void bwd(const K& k, Ptrs& x, Ptrs& o, Ptr dout, Ptrs& g, Ints& i, GradMode acc) const;
//   };
// and X(GatherRows) in MR_OP_FAMILIES. rows() fills, per row: name (with the shape), x (float
// inputs; an empty one is a null pointer), diff (has a gradient), param (its gradient always
// accumulates), act (stored as bf16 under bf16 storage), out (output sizes; out[0] is what the
// loss of the finite differences reads), out_act, ints (int inputs), and where needed flip
// (a gradient with the opposite GradMode), exact_zeros, fd, fwd_only, big, seed. fwd/bwd call
// the op through k (any table: K is KernelTable, KernelTableBf16 or RefDouble), with x, o, g, i
// in the order of those vectors; bwd reads saved outputs from o. Every runner (CPU; emulated and
// native CUDA in every math mode and bf16 storage) then runs every row. An op that is no table
// row (no gradient) goes in kSpecialOps, with a test case in the runners.
//
// Tolerances: relative L2 error against the double-accumulating reference (a NaN is +inf):
//   fp32 kernels 1e-5 (fp32 unit roundoff 6e-8; our longest reductions, ~1e3 terms, stay below
//   1e-5, while an indexing or formula error is O(1)); reduced-precision math on inputs rounded
//   to that format: the fp32 tolerance where only fp32 accumulation is left (linear), 5u = 1e-2
//   where an intermediate is rounded (attention's P' and dS, u = 2^-9); bf16 storage: 5u for
//   a bf16 output, 1e-5 for an fp32 output computed from the exact bf16 inputs.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "kernels/kernel_table.h"
#include "kernels/ref/ref.h"

namespace mr::optest {

// A buffer pointer that converts to whatever the called table's parameter is (float*,
// double*, bf16_t*, const or not): one forward/backward body serves every table.
struct Ptr {
  void* p = nullptr;
  Ptr(std::nullptr_t = nullptr) {}
  explicit Ptr(void* q) : p(q) {}
  template <class T>
  operator T*() const { return static_cast<T*>(p); }
};
using Ptrs = std::vector<Ptr>;
using Ints = std::vector<const int32_t*>;

// kernels/ref over double, with the KernelTable's member syntax (generated from the op list).
struct RefDouble {
#define MR_OP(op, ret, params, b16) \
  template <class... T>             \
  ret op(T... a) const { return ref::op<double>(a...); }
#include "kernels/ops.def"
};
inline constexpr RefDouble kRefDouble{};

enum Mode { kFp32, kBf16Math, kTf32Math, kBf16Store, kModes };
inline const char* mode_name(int m) {
  static const char* n[] = {"fp32", "bf16 math", "tf32 math", "bf16 storage"};
  return n[m];
}

// Per mode: the tolerance of a float output (< 0: the family does not run in that mode; bf16
// storage: of a bf16-stored output) and, for bf16 storage, of an fp32-stored one.
struct Tol {
  double mode[kModes] = {1e-5, -1, -1, -1};
  double f32_in_bf16 = 1e-5;
};

struct Row {
  std::string name;                      // with its shape
  std::vector<std::vector<double>> x;    // float inputs, initial values (empty: null)
  std::vector<bool> diff;                // has a gradient buffer
  std::vector<bool> param;               // its gradient always accumulates (parameter / table)
  std::vector<bool> act;                 // stored as bf16 under bf16 storage (A-typed)
  std::vector<size_t> out;               // output sizes (0: null); out[0] is what the loss reads
  std::vector<bool> out_act;             // output stored as bf16 under bf16 storage
  std::vector<bool> out_rounded;         // an fp32 output computed, under bf16 storage, from an
                                         // intermediate rounded to bf16: a bf16 output's tolerance
  std::vector<std::vector<int32_t>> ints;
  std::vector<bool> flip;                // gradient i gets the opposite GradMode (empty: none)
  static constexpr bool kBf16 = false;   // the bf16-storage table has the op (kernels/ops.def)
  bool exact_zeros = false;              // out[0]'s zero pattern equals the reference's bit for bit
  bool fd = true;                        // reference backward vs finite differences
  bool fwd_only = false;                 // no backward check (a degenerate shape)
  bool big = false;                      // full BERT-base shape: native runner only
  uint64_t seed = 0;
  GradMode mode_of(size_t i, GradMode acc) const {
    return (i < flip.size() && flip[i]) ? GradMode(!acc) : acc;
  }
};

inline std::vector<double> randn(size_t n, std::mt19937_64& rng, double scale = 1.0) {
  std::normal_distribution<double> d(0.0, scale);
  std::vector<double> v(n);
  for (auto& e : v) e = float(d(rng));  // representable in fp32: every table sees the same input
  return v;
}
inline std::vector<int32_t> rand_ints(size_t n, int lo, int hi, std::mt19937_64& rng) {
  std::vector<int32_t> v(n);
  for (auto& e : v) e = std::uniform_int_distribution<int>(lo, hi)(rng);
  return v;
}
// Padding mask: sequence b has its last (b * 3) % T tokens padded, but keeps token 0.
inline std::vector<int32_t> pad_mask(int B, int T) {
  std::vector<int32_t> m(size_t(B) * T, 1);
  for (int b = 0; b < B; ++b)
    for (int t = T - (b * 3) % T; t < T; ++t) m[size_t(b) * T + t] = t == 0 ? 1 : 0;
  return m;
}
inline std::string shape(std::initializer_list<std::pair<const char*, long>> kv) {
  std::string s;
  for (auto& [k, v] : kv) s += std::string(" ") + k + "=" + std::to_string(v);
  return s;
}

// ---------------------------------------------------------------- the families

struct Embedding : Row {
  static constexpr bool kBf16 = true;
  static constexpr const char* kName = "embedding";
  static constexpr std::string_view kOps[] = {"embedding_fwd", "embedding_bwd"};
  static Tol tol() { return {{1e-5, -1, -1, 1e-2}}; }
  int B, T, C;
  static std::vector<Embedding> rows() {
    std::vector<Embedding> r;
    struct S { int B, T, C, V, NT; bool typed, big = false, wte_only = false; };
    for (S s : {S{1, 1, 1, 1, 2, true}, S{3, 33, 5, 7, 2, true}, S{2, 129, 33, 3, 2, true}, S{3, 17, 64, 512, 2, true},
                S{3, 11, 33, 7, 2, true}, S{2, 33, 5, 3, 2, false}, S{1, 129, 32, 130, 2, true},
                S{2, 37, 9, 11, 7, true},  // more token types than the CUDA type kernel has blocks (4)
                S{3, 11, 33, 7, 2, true, false, true}, S{1, 129, 32, 130, 2, true, false, true},  // null dwpe, dwtt
                S{4, 128, 768, 30522, 2, true, true}}) {
      Embedding e;
      e.B = s.B, e.T = s.T, e.C = s.C;
      e.name = "embedding" + shape({{"B", s.B}, {"T", s.T}, {"C", s.C}, {"V", s.V}, {"types", s.typed ? s.NT : 0}}) +
               (s.wte_only ? " dwte only" : "");
      std::mt19937_64 rng(s.B * 100 + s.T);
      e.ints = {rand_ints(size_t(s.B) * s.T, 0, s.V - 1, rng),
                s.typed ? rand_ints(size_t(s.B) * s.T, 0, s.NT - 1, rng) : std::vector<int32_t>{}};
      if (s.NT > 2) e.ints[1][5] = s.NT - 1;  // the largest type occurs
      e.x = {randn(size_t(s.V) * s.C, rng), randn(size_t(s.T) * s.C, rng), randn(size_t(s.NT) * s.C, rng)};
      e.diff = {true, !s.wte_only, !s.wte_only};
      e.param = {true, true, true};
      e.act = {false, false, false};
      e.out = {size_t(s.B) * s.T * s.C};
      e.out_act = {true};
      e.big = s.big;
      e.fd = !s.big;
      r.push_back(e);
    }
    return r;
  }
  template <class K>
  void fwd(const K& k, Ptrs& x, Ptrs& o, Ints& i) const { k.embedding_fwd(o[0], i[0], i[1], x[0], x[1], x[2], B, T, C); }
  template <class K>
  void bwd(const K& k, Ptrs&, Ptrs&, Ptr d, Ptrs& g, Ints& i, GradMode) const {
    k.embedding_bwd(g[0], g[1], g[2], d, i[0], i[1], B, T, C);
  }
};

struct Linear : Row {
  static constexpr bool kBf16 = true;
  static constexpr const char* kName = "linear";
  static constexpr std::string_view kOps[] = {"linear_fwd", "linear_bwd"};
  static Tol tol() { return {{1e-5, 1e-5, 1e-5, 1e-2}}; }  // reduced math: inputs rounded, see above
  int N, IN, OUT;
  bool bias;
  static std::vector<Linear> rows() {
    std::vector<Linear> r;
    struct S { int N, IN, OUT; bool bias, big = false; };
    // N = 132 and 1025 span several chunks of the CUDA db column sum (64 rows each)
    for (S s : {S{1, 1, 1, true}, S{3, 33, 5, true}, S{33, 129, 3, false}, S{129, 64, 33, true}, S{51, 64, 192, true},
                S{33, 17, 40, true}, S{132, 64, 33, false}, S{132, 64, 33, true}, S{7, 129, 192, true},
                S{1025, 5, 3, true}, S{33, 129, 40, true}, S{1024, 768, 3072, true, true}, S{1024, 3072, 768, true, true}}) {
      Linear l;
      l.N = s.N, l.IN = s.IN, l.OUT = s.OUT, l.bias = s.bias;
      l.name = "linear" + shape({{"N", s.N}, {"IN", s.IN}, {"OUT", s.OUT}, {"bias", s.bias}});
      std::mt19937_64 rng(s.N * 7 + s.IN);
      l.x = {randn(size_t(s.N) * s.IN, rng), randn(size_t(s.OUT) * s.IN, rng, 0.2),
             s.bias ? randn(size_t(s.OUT), rng) : std::vector<double>{}};
      l.diff = {true, true, s.bias};
      l.param = {false, true, true};
      l.act = {true, true, true};  // the bf16 table reads bf16 copies of w and b
      l.out = {size_t(s.N) * s.OUT};
      l.out_act = {true};
      l.big = s.big;
      l.fd = s.N * s.IN < 20000;
      r.push_back(l);
    }
    return r;
  }
  template <class K>
  void fwd(const K& k, Ptrs& x, Ptrs& o, Ints&) const { k.linear_fwd(o[0], x[0], x[1], x[2], N, IN, OUT); }
  template <class K>
  void bwd(const K& k, Ptrs& x, Ptrs&, Ptr d, Ptrs& g, Ints&, GradMode acc) const {
    k.linear_bwd(g[0], g[1], g[2], d, x[0], x[1], N, IN, OUT, acc);
  }
};

// Grouped linear (the meta-batch's per-task head): groups of awkward sizes, an empty group, one
// group (= linear), no bias, and a null dinp (the gradient of a constant input).
struct GroupedLinear : Row {
  static constexpr const char* kName = "glinear";
  static constexpr std::string_view kOps[] = {"glinear_fwd", "glinear_bwd"};
  static Tol tol() { return {}; }
  int N, G, IN, OUT;
  bool bias;
  static std::vector<GroupedLinear> rows() {
    std::vector<GroupedLinear> r;
    struct S { std::vector<int> sizes; int IN, OUT; bool bias, dinp = true; };
    for (const S& s : {S{{1}, 1, 1, true}, S{{3, 0, 5}, 33, 5, true}, S{{7, 1, 33, 2}, 64, 64, true}, S{{4, 4}, 17, 40, false},
                       S{{0, 9}, 5, 3, true, false}, S{{129}, 64, 33, true}, S{{2, 3, 1, 4, 6, 5, 3, 2, 1, 1, 2, 3, 4, 5, 6, 7}, 64, 64, true}}) {
      GroupedLinear l;
      std::vector<int32_t> off = {0};
      for (int n : s.sizes) off.push_back(off.back() + n);
      l.N = off.back(), l.G = int(s.sizes.size()), l.IN = s.IN, l.OUT = s.OUT, l.bias = s.bias;
      l.name = "glinear" + shape({{"N", l.N}, {"G", l.G}, {"IN", s.IN}, {"OUT", s.OUT}, {"bias", s.bias}, {"dinp", s.dinp}});
      std::mt19937_64 rng(uint64_t(l.N * 7 + s.IN + l.G));
      l.x = {randn(size_t(l.N) * s.IN, rng), randn(size_t(l.G) * s.OUT * s.IN, rng, 0.2),
             s.bias ? randn(size_t(l.G) * s.OUT, rng) : std::vector<double>{}};
      l.ints = {off};
      l.diff = {s.dinp, true, s.bias};
      l.param = {false, true, true};
      l.act = {true, true, true};
      l.out = {size_t(l.N) * s.OUT};
      l.out_act = {true};
      r.push_back(l);
    }
    return r;
  }
  template <class K>
  void fwd(const K& k, Ptrs& x, Ptrs& o, Ints& i) const { k.glinear_fwd(o[0], x[0], x[1], x[2], i[0], N, G, IN, OUT); }
  template <class K>
  void bwd(const K& k, Ptrs& x, Ptrs&, Ptr d, Ptrs& g, Ints& i, GradMode acc) const {
    k.glinear_bwd(g[0], g[1], g[2], d, x[0], x[1], i[0], N, G, IN, OUT, acc);
  }
};

struct BiasAct : Row {
  static constexpr bool kBf16 = true;
  static constexpr const char* kName = "bias_act";
  static constexpr std::string_view kOps[] = {"bias_act_fwd", "bias_act_bwd"};
  static Tol tol() { return {{1e-5, -1, -1, 1e-2}}; }
  int N, C;
  Act a;
  static std::vector<BiasAct> rows() {
    std::vector<BiasAct> r;
    for (Act act : {Act::Gelu, Act::Tanh, Act::None})
      for (auto [N, C, big] : {std::tuple{1, 1, false}, {3, 33, false}, {129, 3, false}, {33, 129, false}, {33, 33, false},
                               {132, 7, false}, {1025, 3, false}, {1024, 3072, true}})
        for (bool bias : {true, false}) {
          BiasAct b;
          b.N = N, b.C = C, b.a = act;
          b.name = "bias_act" + shape({{"N", N}, {"C", C}, {"act", int(act)}, {"bias", bias}});
          std::mt19937_64 rng(N * 3 + C + int(act));
          b.x = {randn(size_t(N) * C, rng, 2.0), bias ? randn(size_t(C), rng) : std::vector<double>{}};
          b.diff = {true, bias};
          b.param = {false, true};
          b.act = {true, true};
          b.out = {size_t(N) * C};
          b.out_act = {true};
          b.big = big;
          b.fd = !big;
          r.push_back(b);
        }
    return r;
  }
  template <class K>
  void fwd(const K& k, Ptrs& x, Ptrs& o, Ints&) const { k.bias_act_fwd(o[0], x[0], x[1], N, C, a); }
  template <class K>
  void bwd(const K& k, Ptrs& x, Ptrs&, Ptr d, Ptrs& g, Ints&, GradMode acc) const {
    k.bias_act_bwd(g[0], g[1], d, x[0], x[1], N, C, a, acc);
  }
};

struct LayerNorm : Row {
  static constexpr bool kBf16 = true;
  static constexpr const char* kName = "layernorm";
  static constexpr std::string_view kOps[] = {"layernorm_fwd", "layernorm_bwd"};
  static Tol tol() { return {{1e-5, -1, -1, 1e-2}}; }
  int N, C;
  bool resid;
  float eps = 1e-12f;
  static std::vector<LayerNorm> rows() {
    std::vector<LayerNorm> r;
    // C = 1 normalizes to beta exactly and its exact gradient is 0, but with eps = 1e-12 rstd is
    // 1e6, so the rounding of dy * gamma is amplified to ~1e-2 (C = 2 likewise: both normalize to
    // +-1 exactly): C = 3 is the smallest checked.
    // C = 1 and 2 forward only; eps = 1e-5 as well (the bf16 suite's value, where C = 2 is not
    // degenerate).
    struct S { int N, C; bool big = false; float eps = 1e-12f; bool fwd_only = false; };
    for (S s : {S{1, 3}, S{3, 33}, S{129, 3}, S{33, 129}, S{51, 64}, S{33, 64}, S{132, 33}, S{1025, 5}, S{3, 1025},
                S{1, 1, false, 1e-12f, true}, S{1, 2, false, 1e-5f, true}, S{33, 64, false, 1e-5f}, S{1024, 768, true}})
      for (bool resid : {true, false})
        for (bool flip : {false, true}) {
          if (flip && !resid) continue;
          const int N = s.N, C = s.C;
          const bool big = s.big;
          LayerNorm l;
          l.N = N, l.C = C, l.resid = resid, l.eps = s.eps, l.fwd_only = s.fwd_only;
          l.name = "layernorm" + shape({{"N", N}, {"C", C}, {"resid", resid}, {"dr mode flipped", flip}}) +
                   " eps=" + std::to_string(s.eps);
          std::mt19937_64 rng(N * 11 + C);
          auto a = randn(size_t(N) * C, rng, 2.0);
          for (auto& v : a) v += 5.0;  // an offset mean: the variance must be centred
          auto gamma = randn(size_t(C), rng, 0.3);
          for (auto& g : gamma) g += 1.0;
          l.x = {a, resid ? randn(size_t(N) * C, rng) : std::vector<double>{}, gamma, randn(size_t(C), rng)};
          l.diff = {true, resid, true, true};
          l.param = {false, false, true, true};
          l.act = {true, true, false, false};
          l.flip = {false, flip, false, false};
          l.out = {size_t(N) * C, resid ? size_t(N) * C : 0, size_t(N), size_t(N)};  // y, s, mean, rstd
          l.out_act = {true, true, false, false};
          l.out_rounded = {false, false, resid, resid};  // the statistics of the bf16-rounded sum s
          l.big = big;
          l.fd = !big;
          r.push_back(l);
        }
    return r;
  }
  template <class K>
  void fwd(const K& k, Ptrs& x, Ptrs& o, Ints&) const {
    k.layernorm_fwd(o[0], o[1], o[2], o[3], x[0], x[1], x[2], x[3], N, C, eps);
  }
  template <class K>
  void bwd(const K& k, Ptrs& x, Ptrs& o, Ptr d, Ptrs& g, Ints&, GradMode acc) const {
    k.layernorm_bwd(g[0], g[1], g[2], g[3], d, resid ? o[1] : x[0], o[2], o[3], x[2], N, C, mode_of(0, acc),
                    mode_of(1, acc));
  }
};

struct Attention : Row {
  static constexpr bool kBf16 = true;
  static constexpr const char* kName = "attention";
  static constexpr std::string_view kOps[] = {"attention_fwd", "attention_bwd"};
  static Tol tol() { return {{1e-5, 1e-2, -1, 1e-2}}; }
  int B, T, C, H;
  float p;
  static constexpr uint64_t kSeed = 1234, kOff = 77;
  static std::vector<Attention> rows() {
    std::vector<Attention> r;
    struct S { int B, T, C, H; float p; bool masked, fd, big = false, bias = false; };
    // CUDA fp32 tiles are 32 x 32, bf16 tiles 64 x 64: T = 1, 7, 31 fit in one; 33, 40, 64, 70, 97,
    // 129, 1025 span several with a partial last one. Head dims 4 to 128. The rows with an
    // additive score bias (H, T, T) (MPNet's relative position bias; input #1, its gradient a
    // parameter-like += summed over the batch) cover T = 1 (dbias not compared), 7, 33, 70, 129, a sequence with no
    // real token, dropout, the CUDA-core head dims (4, 24) and the tensor-core ones (16, 32, 64).
    for (S s : {S{1, 1, 4, 1, 0.f, false, true}, S{2, 7, 8, 2, 0.f, true, true}, S{3, 17, 64, 4, 0.f, true, true},
                S{2, 33, 16, 2, 0.1f, true, true}, S{1, 129, 64, 2, 0.f, true, false}, S{2, 64, 64, 2, 0.25f, false, false},
                S{2, 97, 32, 2, 0.2f, true, false}, S{1, 1, 32, 1, 0.f, false, false}, S{2, 7, 128, 2, 0.1f, true, false},
                S{3, 64, 64, 2, 0.f, true, false}, S{1, 129, 64, 1, 0.2f, true, false}, S{2, 7, 64, 1, 0.5f, false, false},
                S{3, 33, 64, 2, 0.1f, true, false}, S{2, 31, 32, 1, 0.f, true, false}, S{1, 40, 128, 1, 0.1f, true, false},
                S{1, 1025, 32, 1, 0.1f, true, false}, S{3, 70, 32, 2, 0.1f, true, false},
                S{1, 129, 128, 1, 0.2f, true, false}, S{2, 40, 32, 2, 0.1f, true, false}, S{2, 33, 48, 2, 0.1f, true, false},
                S{1, 70, 16, 2, 0.f, false, false},
                S{2, 512, 768, 12, 0.1f, true, false, true},
                S{1, 1, 4, 1, 0.f, false, true, false, true}, S{2, 7, 8, 2, 0.f, true, true, false, true},
                S{3, 17, 64, 4, 0.1f, true, true, false, true}, S{2, 33, 16, 2, 0.1f, true, true, false, true},
                S{2, 33, 48, 2, 0.f, true, false, false, true}, S{3, 70, 32, 2, 0.1f, true, false, false, true},
                S{1, 129, 64, 1, 0.f, true, false, false, true},
                S{2, 512, 768, 12, 0.1f, true, false, true, true}}) {
      Attention a;
      a.B = s.B, a.T = s.T, a.C = s.C, a.H = s.H, a.p = s.p;
      a.name = "attention" +
               shape({{"B", s.B}, {"T", s.T}, {"C", s.C}, {"H", s.H}, {"masked", s.masked}, {"bias", s.bias}}) +
               " p=" + std::to_string(s.p);
      std::mt19937_64 rng(s.B * 13 + s.T);
      a.x = {randn(size_t(s.B) * s.T * 3 * s.C, rng)};
      a.x.push_back(s.bias ? randn(size_t(s.H) * s.T * s.T, rng) : std::vector<double>{});
      std::vector<int32_t> m;
      if (s.masked) {
        m = pad_mask(s.B, s.T);
        if (s.B == 3 && s.C >= 32)
          for (int t = 0; t < s.T; ++t) m[size_t(2) * s.T + t] = 0;  // a sequence with no real token
        if (s.T == 1025)
          for (int t = 500; t < s.T; ++t) m[t] = 0;  // whole key tiles of padding after real ones
        if (s.big)
          for (int b = 0; b < s.B; ++b)
            for (int t = 300; t < s.T; ++t) m[size_t(b) * s.T + t] = 0;  // padded after 300
      }
      a.ints = {m};
      // T = 1: a single key, whose probability is 1 whatever the bias, so dL/dbias is exactly 0
      // and every side holds rounding noise (P = exp(S - lse) with a rounded lse): that row
      // checks the forward and a null dbias; every other bias row checks dbias.
      a.diff = {true, s.bias && s.T > 1};
      a.param = {false, true};  // dbias always adds
      a.act = {true, false};    // the bias stays fp32 under bf16 storage
      a.out = {size_t(s.B) * s.T * s.C, size_t(s.B) * s.H * s.T};  // out, lse
      a.out_act = {true, false};
      a.fd = s.fd;
      a.big = s.big;
      r.push_back(a);
    }
    return r;
  }
  template <class K>
  void fwd(const K& k, Ptrs& x, Ptrs& o, Ints& i) const {
    k.attention_fwd(o[0], o[1], x[0], i[0], x[1], B, T, C, H, p, kSeed, kOff);
  }
  template <class K>
  void bwd(const K& k, Ptrs& x, Ptrs& o, Ptr d, Ptrs& g, Ints& i, GradMode acc) const {
    k.attention_bwd(g[0], g[1], d, x[0], o[0], o[1], i[0], x[1], B, T, C, H, p, kSeed, kOff, acc);
  }
};

struct Dropout : Row {
  static constexpr bool kBf16 = true;
  static constexpr const char* kName = "dropout";
  static constexpr std::string_view kOps[] = {"dropout_fwd", "dropout_bwd"};
  static Tol tol() { return {{1e-5, -1, -1, 1e-2}}; }
  int64_t n;
  float p;
  uint64_t off;
  static std::vector<Dropout> rows() {
    std::vector<Dropout> r;
    for (int64_t n : {int64_t(1), int64_t(33), int64_t(1025)})
      for (uint64_t off : {0ull, 3ull, 5ull, 1026ull})
        for (float p : {0.1f, 0.3f, 0.5f}) {
          Dropout d;
          d.n = n, d.p = p, d.off = off;
          d.name = "dropout" + shape({{"n", long(n)}, {"offset", long(off)}}) + " p=" + std::to_string(p);
          std::mt19937_64 rng(n + off);
          d.x = {randn(size_t(n), rng)};
          d.diff = {true};
          d.param = {false};
          d.act = {true};
          d.out = {size_t(n)};
          d.out_act = {true};
          d.exact_zeros = true;  // the Philox mask, bit for bit
          r.push_back(d);
        }
    return r;
  }
  template <class K>
  void fwd(const K& k, Ptrs& x, Ptrs& o, Ints&) const { k.dropout_fwd(o[0], x[0], n, p, 99, off); }
  template <class K>
  void bwd(const K& k, Ptrs&, Ptrs&, Ptr d, Ptrs& g, Ints&, GradMode acc) const { k.dropout_bwd(g[0], d, n, p, 99, off, acc); }
};

struct Xent : Row {
  static constexpr const char* kName = "xent";
  static constexpr std::string_view kOps[] = {"xent_fwd", "xent_bwd"};
  static Tol tol() { return {}; }
  int N, V;
  static std::vector<Xent> rows() {
    std::vector<Xent> r;
    for (auto [N, V, ignore, big] : {std::tuple{1, 1, 0, false}, {3, 33, 1, false}, {33, 5, 1, false}, {129, 129, 1, false},
                                     {1, 7, 0, false}, {33, 7, 5, false}, {5, 1025, 1, false}, {4, 3, 4, false},
                                     {64, 30522, 3, true}}) {
      Xent e;
      e.N = N, e.V = V;
      e.name = "xent" + shape({{"N", N}, {"V", V}, {"ignored", ignore}});
      std::mt19937_64 rng(N * 5 + V);
      auto t = rand_ints(size_t(N), 0, V - 1, rng);
      for (int k = 0; k < ignore; ++k) t[size_t(k) * 7 % N] = -100;  // ignore_index
      e.ints = {t};
      e.x = {randn(size_t(N) * V, rng, 3.0)};
      e.diff = {true};
      e.param = {false};
      e.act = {true};
      e.out = {1, size_t(N)};
      e.out_act = {true, false};
      e.big = big;
      e.fd = !big;
      r.push_back(e);
    }
    return r;
  }
  template <class K>
  void fwd(const K& k, Ptrs& x, Ptrs& o, Ints& i) const { k.xent_fwd(o[0], o[1], x[0], i[0], N, V); }
  template <class K>
  void bwd(const K& k, Ptrs& x, Ptrs& o, Ptr d, Ptrs& g, Ints& i, GradMode acc) const {
    k.xent_bwd(g[0], d, x[0], o[1], i[0], N, V, acc);
  }
};

// Row-weighted cross-entropy (the sum of a meta-batch's per-task means): weights 1 / (rows of
// the row's task), ignored rows, a single row.
struct XentW : Row {
  static constexpr const char* kName = "xent_w";
  static constexpr std::string_view kOps[] = {"xent_w_fwd", "xent_w_bwd"};
  static Tol tol() { return {}; }
  int N, V;
  static std::vector<XentW> rows() {
    std::vector<XentW> r;
    for (auto [N, V, ignore] : {std::tuple{1, 1, 0}, {3, 33, 1}, {33, 5, 1}, {129, 129, 2}, {5, 1025, 1}, {17, 7, 0}}) {
      XentW e;
      e.N = N, e.V = V;
      e.name = "xent_w" + shape({{"N", N}, {"V", V}, {"ignored", ignore}});
      std::mt19937_64 rng(uint64_t(N * 11 + V));
      auto t = rand_ints(size_t(N), 0, V - 1, rng);
      for (int k = 0; k < ignore; ++k) t[size_t(k) * 7 % N] = -100;
      std::vector<double> w(static_cast<size_t>(N));
      // tasks of 1..4 rows, over about N / 2.5 tasks: scaled by 4 / N so the loss is of a mean's
      // size, where the finite differences resolve the gradient (a sum over 129 rows is ~100x more)
      for (int n = 0; n < N; ++n) w[size_t(n)] = 4.0 / (double(1 + n % 4) * N);
      e.ints = {t};
      e.x = {randn(size_t(N) * V, rng, 3.0), w};
      e.diff = {true, false};
      e.param = {false, false};
      e.act = {true, false};
      e.out = {1, size_t(N)};
      e.out_act = {true, false};
      r.push_back(e);
    }
    return r;
  }
  template <class K>
  void fwd(const K& k, Ptrs& x, Ptrs& o, Ints& i) const { k.xent_w_fwd(o[0], o[1], x[0], i[0], x[1], N, V); }
  template <class K>
  void bwd(const K& k, Ptrs& x, Ptrs& o, Ptr d, Ptrs& g, Ints& i, GradMode acc) const {
    k.xent_w_bwd(g[0], d, x[0], o[1], i[0], x[1], N, V, acc);
  }
};

// BCE with logits (y in [0, 1], and y in {0, 1}) and MSE: one family, the loss a parameter.
struct PointLoss : Row {
  static constexpr const char* kName = "bce/mse";
  static constexpr std::string_view kOps[] = {"bce_fwd", "bce_bwd", "mse_fwd", "mse_bwd"};
  static Tol tol() { return {}; }
  int64_t n;
  bool bce;
  static std::vector<PointLoss> rows() {
    std::vector<PointLoss> r;
    for (int64_t n : {1, 3, 33, 1025})
      for (int kind : {0, 1, 2}) {  // bce with soft labels, bce with 0/1 labels, mse
        PointLoss l;
        l.n = n, l.bce = kind < 2;
        l.name = std::string(kind == 0 ? "bce soft" : kind == 1 ? "bce 0/1" : "mse") + shape({{"n", long(n)}});
        std::mt19937_64 rng(n * 3 + kind);
        auto y = randn(size_t(n), rng);
        if (kind == 0)
          for (auto& v : y) v = std::uniform_real_distribution<float>(0, 1)(rng);
        if (kind == 1)
          for (auto& v : y) v = v > 0 ? 1.0 : 0.0;
        l.x = {randn(size_t(n), rng, 4.0), y};
        l.diff = {true, false};
        l.param = {false, false};
        l.act = {true, true};
        l.out = {1};
        l.out_act = {true};
        r.push_back(l);
      }
    return r;
  }
  template <class K>
  void fwd(const K& k, Ptrs& x, Ptrs& o, Ints&) const {
    bce ? k.bce_fwd(o[0], x[0], x[1], n) : k.mse_fwd(o[0], x[0], x[1], n);
  }
  template <class K>
  void bwd(const K& k, Ptrs& x, Ptrs&, Ptr d, Ptrs& g, Ints&, GradMode acc) const {
    bce ? k.bce_bwd(g[0], d, x[0], x[1], n, acc) : k.mse_bwd(g[0], d, x[0], x[1], n, acc);
  }
};

struct Pool : Row {
  static constexpr const char* kName = "pool";
  static constexpr std::string_view kOps[] = {"mean_pool_fwd", "mean_pool_bwd", "cls_pool_fwd", "cls_pool_bwd"};
  static Tol tol() { return {}; }
  int B, T, C;
  bool cls;
  static std::vector<Pool> rows() {
    std::vector<Pool> r;
    for (auto [B, T, C, masked] : {std::tuple{1, 1, 1, true}, {3, 33, 5, true}, {2, 129, 3, true}, {3, 17, 64, true},
                                   {1, 1, 1, false}, {3, 7, 33, true}, {4, 64, 5, true}, {2, 129, 3, false}})
      for (bool cls : {false, true}) {
        if (cls && !masked) continue;
        Pool p;
        p.B = B, p.T = T, p.C = C, p.cls = cls;
        p.name = std::string(cls ? "cls_pool" : "mean_pool") + shape({{"B", B}, {"T", T}, {"C", C}, {"masked", masked}});
        std::mt19937_64 rng(B + T + C);
        auto m = masked ? pad_mask(B, T) : std::vector<int32_t>{};
        if (masked && B > 3)
          for (int t = 0; t < T; ++t) m[size_t(B - 1) * T + t] = 0;  // count 0 -> divided by 1e-9, out 0
        p.ints = {m};
        p.x = {randn(size_t(B) * T * C, rng)};
        p.diff = {true};
        p.param = {false};
        p.act = {true};
        p.out = {size_t(B) * C};
        p.out_act = {true};
        r.push_back(p);
      }
    return r;
  }
  template <class K>
  void fwd(const K& k, Ptrs& x, Ptrs& o, Ints& i) const {
    cls ? k.cls_pool_fwd(o[0], x[0], B, T, C) : k.mean_pool_fwd(o[0], x[0], i[0], B, T, C);
  }
  template <class K>
  void bwd(const K& k, Ptrs&, Ptrs&, Ptr d, Ptrs& g, Ints& i, GradMode acc) const {
    cls ? k.cls_pool_bwd(g[0], d, B, T, C, acc) : k.mean_pool_bwd(g[0], d, i[0], B, T, C, acc);
  }
};

// Row gather (the recommender's lookups) and its scatter-add backward: indices repeat and
// include -1 (a zero row, no gradient); the gradient always accumulates (param).
struct GatherRows : Row {
  static constexpr const char* kName = "gather_rows";
  static constexpr std::string_view kOps[] = {"gather_rows_fwd", "gather_rows_bwd"};
  static Tol tol() { return {}; }
  int64_t M, C;
  static std::vector<GatherRows> rows() {
    std::vector<GatherRows> r;
    for (auto [N, M, C, big] : {std::tuple{1, 1, 1, false}, {5, 33, 3, false}, {129, 17, 64, false},
                                {33, 1025, 5, false}, {4385, 1600, 384, true}}) {
      GatherRows g;
      g.M = M, g.C = C, g.big = big, g.fd = !big;
      g.name = "gather_rows" + shape({{"N", N}, {"M", M}, {"C", C}});
      std::mt19937_64 rng(uint64_t(N * 7 + M + C));
      g.ints = {rand_ints(size_t(M), -1, N - 1, rng)};  // repeats and -1s
      g.x = {randn(size_t(N) * C, rng)};
      g.diff = {true};
      g.param = {true};
      g.act = {true};
      g.out = {size_t(M) * C};
      g.out_act = {true};
      r.push_back(g);
    }
    return r;
  }
  template <class K>
  void fwd(const K& k, Ptrs& x, Ptrs& o, Ints& i) const {
    k.gather_rows_fwd(o[0], x[0], i[0], M, C);
  }
  template <class K>
  void bwd(const K& k, Ptrs&, Ptrs&, Ptr d, Ptrs& g, Ints& i, GradMode) const {
    k.gather_rows_bwd(g[0], d, i[0], M, C);
  }
};

// Row L2 normalisation (the recommender's embedding heads). A zero row (a zero row out, no
// gradient) has no finite differences (the forward jumps there): its rows have fd off, and
// twins without it are checked against them. C = 1 is forward only: the exact gradient is 0 and
// every backend's value is the rounding noise of dy - x <x, dy> / |x|^2, which no relative
// tolerance compares (LayerNorm's C = 1 likewise).
struct L2Rows : Row {
  static constexpr const char* kName = "l2_rows";
  static constexpr std::string_view kOps[] = {"l2_rows_fwd", "l2_rows_bwd"};
  static Tol tol() { return {}; }
  int64_t N, C;
  float s;
  static std::vector<L2Rows> rows() {
    std::vector<L2Rows> r;
    struct S { int N, C; float s; int zero_row = -1; bool big = false; };
    for (S q : {S{1, 1, 1.0f}, S{4, 1, 3.0f}, S{1, 33, 1.0f}, S{3, 33, 2.5f}, S{33, 5, 20.0f}, S{33, 5, 20.0f, 7},
                S{5, 33, 1.0f, 0}, S{129, 64, 0.5f}, S{2, 1025, 1.0f}, S{4385, 384, 1.0f, 100, true}}) {
      L2Rows l;
      l.N = q.N, l.C = q.C, l.s = q.s, l.big = q.big;
      l.name = "l2_rows" + shape({{"N", q.N}, {"C", q.C}, {"zero row", q.zero_row}}) + " s=" + std::to_string(q.s);
      std::mt19937_64 rng(uint64_t(q.N * 31 + q.C));
      l.x = {randn(size_t(q.N) * q.C, rng, 3.0)};
      if (q.zero_row >= 0)
        for (int c = 0; c < q.C; ++c) l.x[0][size_t(q.zero_row) * q.C + c] = 0.0;
      l.diff = {true};
      l.param = {false};
      l.act = {true};
      l.out = {size_t(q.N) * q.C};
      l.out_act = {true};
      l.fd = !q.big && q.zero_row < 0;
      l.fwd_only = q.C == 1;
      r.push_back(l);
    }
    return r;
  }
  template <class K>
  void fwd(const K& k, Ptrs& x, Ptrs& o, Ints&) const { k.l2_rows_fwd(o[0], x[0], N, C, s); }
  template <class K>
  void bwd(const K& k, Ptrs& x, Ptrs&, Ptr d, Ptrs& g, Ints&, GradMode acc) const {
    k.l2_rows_bwd(g[0], d, x[0], N, C, s, acc);
  }
};

// Uncertainty weighting of 1 to 3 scalar losses (the multitask loss): inputs l0, l1, l2 (absent:
// null) and the log-variances lv (a parameter, its gradient always accumulates), slots in any
// order of a longer lv; a present loss without a gradient (null dl), a null dlv, and a loss
// gradient in the opposite GradMode.
struct Uncertainty : Row {
  static constexpr const char* kName = "uncertainty";
  static constexpr std::string_view kOps[] = {"uncertainty_fwd", "uncertainty_bwd"};
  static Tol tol() { return {}; }
  int slot[3];
  static std::vector<Uncertainty> rows() {
    std::vector<Uncertainty> r;
    struct S { int losses, nlv, s0, s1, s2; bool dl1 = true, dlv = true, flip1 = false; };
    for (S q : {S{1, 1, 0, 0, 0}, S{2, 2, 0, 1, 0}, S{3, 3, 0, 1, 2}, S{2, 4, 3, 1, 0, true, true, true},
                S{3, 5, 4, 0, 2, false, true, true}, S{3, 3, 2, 0, 1, true, false}}) {
      Uncertainty u;
      u.slot[0] = q.s0, u.slot[1] = q.s1, u.slot[2] = q.s2;
      u.name = "uncertainty" + shape({{"losses", q.losses}, {"lv", q.nlv}, {"slot0", q.s0}, {"slot1", q.s1},
                                      {"slot2", q.s2}, {"dl1", q.dl1}, {"dlv", q.dlv}, {"dl1 mode flipped", q.flip1}});
      std::mt19937_64 rng(uint64_t(q.losses * 10 + q.nlv + q.s0));
      std::vector<std::vector<double>> l(3);
      for (int k = 0; k < q.losses; ++k) l[size_t(k)] = {double(std::uniform_real_distribution<float>(0.1f, 3.0f)(rng))};
      u.x = {l[0], l[1], l[2], randn(size_t(q.nlv), rng, 0.7)};
      u.diff = {true, q.losses > 1 && q.dl1, q.losses > 2, q.dlv};
      u.param = {false, false, false, true};
      u.act = {true, true, true, false};
      u.flip = {false, q.flip1, false, false};
      u.out = {1};
      u.out_act = {true};
      u.seed = uint64_t(q.losses * 7 + q.nlv);
      r.push_back(u);
    }
    return r;
  }
  template <class K>
  void fwd(const K& k, Ptrs& x, Ptrs& o, Ints&) const {
    k.uncertainty_fwd(o[0], x[0], x[1], x[2], x[3], slot[0], slot[1], slot[2]);
  }
  template <class K>
  void bwd(const K& k, Ptrs& x, Ptrs&, Ptr d, Ptrs& g, Ints&, GradMode acc) const {
    k.uncertainty_bwd(g[0], g[1], g[2], g[3], d, x[0], x[1], x[2], x[3], slot[0], slot[1], slot[2], mode_of(0, acc),
                      mode_of(1, acc), mode_of(2, acc));
  }
};

// Every family, for the runners: X(struct).
#define MR_OP_FAMILIES(X) \
  X(Embedding) X(Linear) X(GroupedLinear) X(BiasAct) X(LayerNorm) X(Attention) X(Dropout) X(Xent) X(XentW) X(PointLoss) X(Pool) X(GatherRows) \
      X(L2Rows) X(Uncertainty)

// The ops that are no table row (no gradient): checked by the special cases of the runners,
// the optimizers, reductions and meta-learning ops over flat buffers (tests/ops/cpu_ops_test.cpp,
// tests/cuda/ops_table_test.cpp), the ranking ops (tests/ops/topk_cases.h) and the bf16 conversions (tests/cuda/ops_table_test.cpp).
inline constexpr std::string_view kSpecialOps[] = {"adamw",        "sgd",          "sumsq",        "axpy",
                                                   "scale",        "to_bf16",      "to_f32",       "acc_f64",
                                                   "acc_diff_f64", "acc_prod_f64", "f64_to_f32",   "metasgd_step",
                                                   "clamp_min",    "topk_merge",   "topk_count"};

// ---------------------------------------------------------------- completeness
// Every op of kernels/ops.def is in exactly one family's kOps (or kSpecialOps), and a family's
// kBf16 is the op list's bf16 flag: a new op without a row, or a row for an op in the wrong
// storage, fails the build here.
template <class F>
constexpr int count_in(std::string_view op) {
  int n = 0;
  for (std::string_view o : F::kOps) n += o == op;
  return n;
}
constexpr int families_with(std::string_view op) {
#define MR_COUNT(F) count_in<F>(op) +
  return MR_OP_FAMILIES(MR_COUNT) 0;
#undef MR_COUNT
}
constexpr bool family_bf16(std::string_view op) {
#define MR_BF16(F) (count_in<F>(op) > 0 && F::kBf16) ||
  return MR_OP_FAMILIES(MR_BF16) false;
#undef MR_BF16
}
constexpr bool special(std::string_view op) {
  for (std::string_view o : kSpecialOps)
    if (o == op) return true;
  return false;
}
#define MR_OP(op, ret, params, b16)                                                                      \
  static_assert(families_with(#op) == 1 && !special(#op),                                               \
                "kernels/ops.def: op " #op " needs a row in one family of tests/ops/op_table.h (README)"); \
  static_assert(family_bf16(#op) == bool(b16), "tests/ops/op_table.h: kBf16 of " #op "'s family differs from kernels/ops.def");
#define MR_OP_F32(op, ret, params) \
  static_assert(special(#op) && families_with(#op) == 0, "kernels/ops.def: op " #op " has no test (kSpecialOps)");
#define MR_OP_CAST(op, ret, params) MR_OP_F32(op, ret, params)
#include "kernels/ops.def"

}  // namespace mr::optest
