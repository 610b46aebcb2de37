// The text encoder on the CUDA backend (TextEncoder with Backend{CUDA, ...}; the SIMT emulator
// here, a GPU natively): the real all-MiniLM-L6-v2 (models/, tools/setup.sh models) against the
// sentence embeddings and hidden states HuggingFace transformers + sentence-transformers gave
// (tests/data/minilm, tools/golden/minilm.py), and `metarec embed --device cuda` end to end.
// Bounds, set before the first run:
//   fp32: sentence embeddings within 1e-5 max abs, last hidden states within 1e-4 max abs (the
//     bounds of the CPU test, tests/core/minilm_test.cpp);
//   bf16 (bf16 activations, bf16 tensor-core products, fp32 parameters): per text, cosine with
//     the reference >= 0.9995; over all texts, relative L2 error <= 2e-2 (as the bf16-storage
//     tiny-BERT gradients, the op table, tests/ops/op_table.h).
// The emulator runs 6 layers of hidden 384 slowly (about 1 s per text), so it takes the first
// few texts of the fixture.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "engine/encoder.h"
#include "engine/ops.h"
#include "kernels/cuda/cuda_ops.h"
#include "weights/npy.h"
#include "tests/core/minilm.h"
#include "weights/safetensors.h"

using namespace mr;
namespace fs = std::filesystem;

namespace {
#if defined(__SANITIZE_ADDRESS__)
constexpr size_t kTexts = 2;  // ASan makes the emulator slower still
#else
constexpr size_t kTexts = 4;
#endif

struct Golden {
  SafeTensors g{test::kMinilmGolden};
  std::vector<std::string> texts;
  int max_len;
  HostTensor emb = g.read_f32("embeddings");
  Golden() {
    texts = test::minilm_texts(g);
    texts.resize(kTexts);
    max_len = std::stoi(g.metadata().at("max_len"));
  }
  const float* row(size_t i) const { return emb->f32() + i * size_t(emb->size(1)); }
  int dim() const { return int(emb->size(1)); }
};

double max_abs(const float* a, const float* b, size_t n) {
  double m = 0;
  for (size_t i = 0; i < n; ++i) {
    if (!std::isfinite(a[i]) || !std::isfinite(b[i])) return INFINITY;
    m = std::max(m, double(std::fabs(a[i] - b[i])));
  }
  return m;
}

struct Embedded {
  std::vector<float> e;
  size_t arena = 0;  // the encoder's activation high water
  size_t w16 = 0;    // its bf16 weight copies
};

Embedded embed_on(const std::string& precision, const Golden& g) {
  const Backend be = make_backend("cuda", precision, "test");
  TextEncoder enc(test::kMinilm, be);
  EmbedOptions opt;
  opt.max_len = g.max_len;
  opt.batch = 3;  // two batches, the second one short (one batch under ASan)
  Embedded r{enc.embed(g.texts, opt), enc.arena_high_water(), enc.bf16_weight_bytes()};
  REQUIRE(r.e.size() == kTexts * size_t(g.dim()));
  return r;
}
}  // namespace

TEST_CASE("cuda encoder: last hidden states in fp32 match transformers" * doctest::skip(!test::have_minilm())) {
  Golden g;
  HostTensor lens = g.g.read_i32("hidden_lengths"), hid = g.g.read_f32("hidden");
  const Backend be = make_backend("cuda", "fp32", "test");
  TextEncoder enc(test::kMinilm, be);
  // inference only on the device: no gradient buffer (a second copy of the model), all frozen
  CHECK(!enc.params().has_grads());
  CHECK_THROWS_WITH_AS(enc.params().flat_grads(), doctest::Contains("no gradients"), Error);
  CHECK_THROWS_WITH_AS(enc.params().set_frozen("", false), doctest::Contains("cannot unfreeze"), Error);
  CHECK(std::all_of(enc.params().all().begin(), enc.params().all().end(), [](const Param& p) { return p.frozen; }));
  std::vector<std::string> two(g.texts.begin(), g.texts.begin() + 2);
  auto hs = enc.hidden_states(two, g.max_len);
  REQUIRE(hs.size() == 2);
  const size_t C = size_t(g.dim());
  size_t off_tok = 0;  // the fixture packs the texts' tokens one after another
  double worst = 0;
  for (size_t i = 0; i < 2; ++i) {
    CAPTURE(i);
    const size_t L = size_t(lens->i32()[i]);
    REQUIRE(hs[i].size() == L * C);
    worst = std::max(worst, max_abs(hs[i].data(), hid->f32() + off_tok * C, L * C));
    off_tok += L;
  }
  MESSAGE("cuda fp32: last hidden states of 2 texts, max abs error ", worst);
  CHECK(worst <= 1e-4);
}

TEST_CASE("cuda encoder: all-MiniLM-L6-v2 sentence embeddings match sentence-transformers, fp32 and bf16" *
          doctest::skip(!test::have_minilm())) {
  Golden g;
  const Embedded f = embed_on("fp32", g);
  const double err = max_abs(f.e.data(), g.row(0), f.e.size());
  MESSAGE("cuda fp32: ", kTexts, " sentence embeddings, max abs error ", err, "; arena ", f.arena, " bytes");
  CHECK(err <= 1e-5);

  const Embedded h = embed_on("bf16", g);
  const std::vector<float>& e = h.e;
  const size_t C = size_t(g.dim());
  double num = 0, den = 0, worst_cos = 1;
  for (size_t i = 0; i < kTexts; ++i) {
    double dot = 0, na = 0, nb = 0;
    for (size_t c = 0; c < C; ++c) {
      const double a = e[i * C + c], b = g.row(i)[c];
      REQUIRE(std::isfinite(a));
      dot += a * b, na += a * a, nb += b * b;
      num += (a - b) * (a - b), den += b * b;
    }
    worst_cos = std::min(worst_cos, dot / std::sqrt(na * nb));
  }
  const double rel = std::sqrt(num / den);
  MESSAGE("cuda bf16: ", kTexts, " sentence embeddings, relative L2 error ", rel, ", worst cosine ", worst_cos, "; arena ",
          h.arena, " bytes, bf16 weight copies ", h.w16, " bytes");
  CHECK(worst_cos >= 0.9995);
  CHECK(rel <= 2e-2);
  // bf16 activations really are stored (half the bytes), and the weights were rounded once,
  // outside the arena: 2 bytes for each of the 6 layers' 4 C^2 + 2 C F linear weights and 5 C + F
  // biases (the pooler runs after the cast back, in fp32)
  CHECK(h.arena < f.arena * 3 / 4);
  const size_t Cs = 384, Fs = 1536;
  CHECK(h.w16 == 6 * 2 * (4 * Cs * Cs + 2 * Cs * Fs + 5 * Cs + Fs));
  CHECK(f.w16 == 0);
}

TEST_CASE("bf16 weight cache: constant weights are rounded once; trainable ones at every call") {
  REQUIRE(cuda::init());
  const int N = 2, IN = 4, OUT = 3;
  HostTensor hx(Shape{N, IN}), hw(Shape{OUT, IN});
  for (int i = 0; i < N * IN; ++i) hx->f32()[i] = 0.25f * float(i + 1);
  for (int i = 0; i < OUT * IN; ++i) hw->f32()[i] = 0.5f;
  Buffer wb(size_t(OUT * IN) * 4, Device::CUDA), gb(size_t(OUT * IN) * 4, Device::CUDA);
  Tensor w = wb.as(Shape{OUT, IN}, DType::F32), g = gb.as(Shape{OUT, IN}, DType::F32);
  copy(w, *hw);
  fill_zero(g);
  Arena arena(Device::CUDA);
  const Backend be = make_backend("cuda", "fp32", "test");
  Bf16WeightCache cache;
  // y[0][0] = sum_k x[0][k] w[0][k]; after w += 0.5 it grows by 0.5 * (0.25 + 0.5 + 0.75 + 1) = 1.25
  auto first = [&](bool trainable, bool no_grad) {
    Tape t(arena, be);
    t.set_bf16_weights(&cache);
    if (no_grad) t.set_grad_enabled(false);
    Tensor x = arena.alloc(Shape{N, IN});
    copy(x, *hx);
    Var* y = ops::cast(t, ops::linear(t, ops::cast(t, t.input(x), DType::BF16), t.param_view(w, g, !trainable), nullptr),
                       DType::F32);
    const HostTensor hy = host_copy(y->v);
    t.reset();
    return hy->f32()[0];
  };
  auto bump = [&] {
    for (int i = 0; i < OUT * IN; ++i) hw->f32()[i] += 0.5f;
    copy(w, *hw);
  };
  CHECK(first(true, false) == 1.25f);
  bump();
  CHECK(first(true, false) == 2.5f);  // trainable, gradients on: rounded again, the new weights
  CHECK(cache.size() == 0);
  CHECK(first(false, false) == 2.5f);  // frozen: rounded once, into the cache
  CHECK(cache.size() == 1);
  bump();
  CHECK(first(false, false) == 2.5f);  // ... and kept: the cache's contract is constant weights
  CHECK(first(true, true) == 2.5f);    // under NoGrad too
  CHECK(cache.bytes() == size_t(OUT * IN) * 2);

  // an activation used as a weight is never cached, NoGrad or not: its arena memory is reused,
  // so a copy keyed on its address would serve another tensor's values the next time
  cache.clear();
  auto with_arena_weight = [&](float v) {
    Tape t(arena, be);
    t.set_bf16_weights(&cache);
    t.set_grad_enabled(false);
    for (int i = 0; i < OUT * IN; ++i) hw->f32()[i] = v;
    Tensor x = arena.alloc(Shape{N, IN}), aw = arena.alloc(Shape{OUT, IN});
    copy(x, *hx);
    copy(aw, *hw);
    Var* y = ops::cast(t, ops::linear(t, ops::cast(t, t.input(x), DType::BF16), t.input(aw), nullptr), DType::F32);
    const HostTensor hy = host_copy(y->v);
    t.reset();
    return hy->f32()[0];
  };
  CHECK(with_arena_weight(1.0f) == 2.5f);
  CHECK(with_arena_weight(3.0f) == 7.5f);  // same address as the first call's weight, new values
  CHECK(cache.size() == 0);
}

TEST_CASE("cuda encoder: the CPU encoder is fp32 only; device and precision names are checked") {
  Backend cpu16;
  cpu16.precision = Precision::bf16;
  CHECK_THROWS_WITH_AS(TextEncoder(test::kMinilm, cpu16), doctest::Contains("fp32 only"), Error);
  CHECK_THROWS_WITH_AS(parse_backend("gpu", "fp32", "--device"), doctest::Contains("cpu or cuda"), Error);
  CHECK_THROWS_WITH_AS(parse_backend("cuda", "fp16", "--precision"), doctest::Contains("fp32, bf16 or tf32"), Error);
  CHECK_THROWS_WITH_AS(parse_backend("cpu", "tf32", "x"), doctest::Contains("needs device cuda"), Error);
  CHECK(parse_backend("cuda", "bf16", "x").act_dtype() == DType::BF16);
  CHECK(parse_backend("cuda", "tf32", "x").act_dtype() == DType::F32);
  // one Backend object carries the table of its precision: no process-wide math mode
  CHECK(!parse_backend("cuda", "fp32", "x").ready());
  CHECK_THROWS_WITH_AS(Tape(*std::make_unique<Arena>(Device::CUDA), parse_backend("cuda", "fp32", "x")),
                       doctest::Contains("ready backend"), Error);
  const Backend f = make_backend("cuda", "fp32", "x"), t = make_backend("cuda", "tf32", "x"),
                b = make_backend("cuda", "bf16", "x");
  CHECK(f.kernels == &kCudaKernels);
  CHECK(t.kernels == &cuda::kernels(cuda::Math::tf32));
  CHECK(b.kernels == &cuda::kernels(cuda::Math::bf16));
  CHECK(reinterpret_cast<const void*>(f.kernels->linear_fwd) != reinterpret_cast<const void*>(t.kernels->linear_fwd));
  CHECK(reinterpret_cast<const void*>(f.kernels->attention_fwd) !=
        reinterpret_cast<const void*>(b.kernels->attention_fwd));
  // only the GEMMs and attention have a math mode
  CHECK(reinterpret_cast<const void*>(f.kernels->layernorm_fwd) ==
        reinterpret_cast<const void*>(b.kernels->layernorm_fwd));
  CHECK(f.kernels->bf16 == b.kernels->bf16);
  CHECK(make_backend("cpu", "fp32", "x").kernels == &kCpuKernels);
}

TEST_CASE("tape: a tensor on another device than the tape's is refused by name") {
  Arena host, dev(Device::CUDA);
  Tape ht(host), dt(dev, make_backend("cuda", "fp32", "test"));
  HostTensor mask(Shape{1, 4}, DType::I32), w(Shape{3, 4});
  Buffer db(16, Device::CUDA);
  const Tensor dw = db.as(Shape{4}, DType::F32);
  // the emulator would run these (its device memory is host memory); a GPU would fault
  CHECK_THROWS_WITH_AS(dt.input(*w), doctest::Contains("input"), Error);
  CHECK_THROWS_WITH_AS(ht.param_view(dw, Tensor{}, true), doctest::Contains("parameter"), Error);
  Var* qkv = dt.alloc(Shape{4, 12}, false);
  CHECK_THROWS_WITH_AS(ops::attention(dt, qkv, *mask, 1, 4, 2, 0.0f), doctest::Contains("attention: mask"), Error);
  CHECK_THROWS_WITH_AS(ops::mean_pool(dt, qkv, *mask, 1, 4), doctest::Contains("is on cpu, but this tape computes on cuda"),
                       Error);
  CHECK_NOTHROW(ht.input(*w));
  CHECK_NOTHROW(dt.input(dw));
}
