#include "engine/rec/item_data.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>

#include "base/check.h"
#include "engine/encoder.h"
#include "engine/rec/run.h"
#include "engine/io/hf_bert.h"
#include "engine/io/model_dir.h"

namespace fs = std::filesystem;

namespace mr::rec {

ItemBertSpec item_bert_spec(const Config& c, const data::Dataset& ds, bool with_cache) {
  const std::string model = c.str("encoder.model");
  const std::vector<std::string> texts = item_texts(ds);
  // the frozen bottom runs on encoder.device; the trainable top layers train on the CPU
  const Backend be = parse_backend(c.str("encoder.device"), c.str("encoder.precision"), "encoder.device/encoder.precision");
  verify_model_dir(model);
  ItemBertSpec s;
  s.bert = BertConfig::from_json_file((fs::path(model) / "config.json").string());
  s.train_layers = int(c.integer("encoder.train_layers"));
  s.pool = c.str("encoder.pool");
  s.weights = hf_weights_file(model);
  const int n = s.bert.num_hidden_layers, max_len = int(c.integer("encoder.max_len"));
  if (s.train_layers < 1 || s.train_layers > n)
    throw Error(fmt::format("encoder.train_layers = {}: {} has {} layers", s.train_layers, model, n));
  MR_CHECK(max_len >= 2 && max_len <= s.bert.max_position_embeddings, "encoder.max_len {} outside [2, {}]", max_len,
           s.bert.max_position_embeddings);
  const int bottom = n - s.train_layers;
  if (!with_cache) return s;
  const std::string cache = c.str("encoder.cache");
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
      bottom_hidden(enc.model(), items, max_len, bottom, int(c.integer("encoder.batch")), be));
  if (!file.empty()) {
    fs::create_directories(cache);
    save_hidden(file, *s.cache);
  }
  return s;
}

std::vector<double> train_item_counts(const Config& c, const data::Dataset& ds) {
  const auto ks = c.ints("task.k_shots");
  MR_CHECK(!ks.empty(), "task.k_shots is empty");
  const data::Split sp = make_split(c, ds, size_t(std::max(*std::max_element(ks.begin(), ks.end()), 1)));
  std::vector<double> n(ds.n_items(), 0.0);
  for (auto& x : sp.train) n[x.item] += 1;
  return n;
}

}  // namespace mr::rec
