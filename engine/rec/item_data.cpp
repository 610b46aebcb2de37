// The item tower's inputs from a run's config and data (engine/rec/item_data.h).
#include "engine/rec/item_data.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>

#include "base/check.h"
#include "engine/data/item_text.h"
#include "engine/data/prepared.h"
#include "engine/encoder.h"
#include "engine/io/hf_bert.h"
#include "engine/io/model_dir.h"
#include "engine/progress.h"
#include "engine/rec/run.h"
#include "weights/npy.h"

namespace fs = std::filesystem;

namespace mr::rec {

Backend encoder_backend(const EncoderSettings& e) {
  return parse_backend(name(e.device), name(e.precision), "encoder.device/encoder.precision");
}

std::vector<std::string> item_texts(const data::Dataset& ds) {
  data::TextTemplate tt(data::default_template(ds));
  return data::render_items(ds, tt, {});
}

uint64_t item_text_key(const Config& c, const std::vector<std::string>& texts) {
  const std::string& model = c.encoder.model;
  uint64_t h = data::fnv1a64(model.data(), model.size());
  std::string key = fmt::format("{}|{}|{}", name(c.encoder.pool), c.encoder.max_len, texts.size());
  // reduced precision gives other embeddings; fp32 on either device keys as before
  if (c.encoder.precision != Precision::Fp32) key += std::string("|") + name(c.encoder.precision);
  h = data::fnv1a64(key.data(), key.size(), h);
  for (auto& t : texts) h = data::fnv1a64(t.data(), t.size() + 1, h);
  // the model's weights: size and modification time of its safetensors
  for (auto* f : {"model.safetensors", "config.json"}) {
    std::error_code ec;
    auto sz = fs::file_size(fs::path(model) / f, ec);
    if (!ec) h = data::fnv1a64(&sz, sizeof sz, h);
  }
  return h;
}

std::vector<float> item_embeddings(const Config& c, const data::Dataset& ds, int64_t* D) {
  // checked even when the embeddings come from a file or the cache, so a typo fails every time
  Backend be = encoder_backend(c.encoder);
  if (const std::string& pre = c.encoder.embeddings; !pre.empty()) {  // e.g. `metarec embed` output
    int64_t rows = 0;
    auto v = read_npy_f32(pre, &rows, D);
    if (rows != int64_t(ds.n_items()))
      throw Error(fmt::format("{}: {} rows, the data has {} items", pre, rows, ds.n_items()));
    return v;
  }
  std::vector<std::string> texts = item_texts(ds);
  const uint64_t h = item_text_key(c, texts);
  const std::string& cache = c.encoder.cache;
  const std::string file = cache.empty() ? "" : fmt::format("{}/emb-{:016x}.npy", cache, h);
  if (!file.empty() && fs::exists(file)) {
    int64_t rows = 0;
    auto v = read_npy_f32(file, &rows, D);
    MR_CHECK(rows == int64_t(ds.n_items()), "{}: {} rows for {} items", file, rows, ds.n_items());
    std::fprintf(stderr, "item embeddings: %s (cached)\n", file.c_str());
    return v;
  }
  init_backend(be);
  TextEncoder enc(c.encoder.model, be);
  EmbedOptions eo;
  eo.pool = name(c.encoder.pool);
  eo.normalize = 1;
  eo.max_len = int(c.encoder.max_len);
  eo.batch = int(c.encoder.batch);
  Progress bar(be.dev == Device::CPU ? "embed items" : "embed items (" + be.str() + ")", int64_t(texts.size()), "items");
  auto v = enc.embed(texts, eo, [&](size_t d) { bar.update(int64_t(d)); });
  bar.finish();
  *D = enc.config().hidden_size;
  if (!file.empty()) {
    fs::create_directories(cache);
    write_npy_f32(file, v.data(), int64_t(texts.size()), *D);
  }
  return v;
}

ItemBertSpec item_bert_spec(const Config& c, const data::Dataset& ds, bool with_cache) {
  const std::string& model = c.encoder.model;
  const std::vector<std::string> texts = item_texts(ds);
  // the frozen bottom runs on encoder.device; the trainable top layers train on the CPU
  Backend be = encoder_backend(c.encoder);
  verify_model_dir(model);
  ItemBertSpec s;
  s.bert = BertConfig::from_json_file((fs::path(model) / "config.json").string());
  s.train_layers = int(c.encoder.train_layers);
  s.pool = c.encoder.pool;
  s.weights = hf_weights_file(model);
  const int n = s.bert.num_hidden_layers, max_len = int(c.encoder.max_len);
  if (s.train_layers < 1 || s.train_layers > n)
    throw Error(fmt::format("encoder.train_layers = {}: {} has {} layers", s.train_layers, model, n));
  MR_CHECK(max_len >= 2 && max_len <= s.bert.max_positions(), "encoder.max_len {} outside [2, {}]", max_len,
           s.bert.max_positions());
  const int bottom = n - s.train_layers;
  if (!with_cache) return s;
  const std::string& cache = c.encoder.cache;
  const std::string file =
      cache.empty() ? "" : fmt::format("{}/hid-{:016x}-b{}.npy", cache, item_text_key(c, texts), bottom);
  if (!file.empty() && fs::exists(file)) {
    auto h = std::make_shared<HiddenCache>(load_hidden(file, max_len, s.bert.hidden_size));
    if (h->n != int64_t(ds.n_items())) FAIL_INPUT(file, "rows", "{} rows, the data has {} items", h->n, ds.n_items());
    std::fprintf(stderr, "item hidden states: %s (cached)\n", file.c_str());
    s.cache = h;
    return s;
  }
  std::fprintf(stderr, "item hidden states: embeddings + %d of %d layers over %zu items (%s)\n", bottom, n, texts.size(),
               be.str().c_str());
  init_backend(be);
  TextEncoder enc(model, be);
  enc.tokenizer().truncation.max_length = size_t(max_len);
  std::vector<tok::Encoding> items;
  items.reserve(texts.size());
  for (auto& t : texts) items.push_back(enc.tokenizer().encode(t));
  s.cache = std::make_shared<HiddenCache>(
      bottom_hidden(enc.model(), items, max_len, bottom, int(c.encoder.batch), be));
  if (!file.empty()) {
    fs::create_directories(cache);
    save_hidden(file, *s.cache);
  }
  return s;
}

std::vector<double> train_item_counts(const Config& c, const data::Dataset& ds) {
  const auto& ks = c.task.k_shots;
  MR_CHECK(!ks.empty(), "task.k_shots is empty");
  const data::Split sp = make_split(c, ds, size_t(std::max(*std::max_element(ks.begin(), ks.end()), 1)));
  std::vector<double> n(ds.n_items(), 0.0);
  for (auto& x : sp.train) n[x.item] += 1;
  return n;
}

}  // namespace mr::rec
