#include "engine/encoder.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <numeric>

#include "engine/ops.h"
#include "engine/io/hf_bert.h"
#include "engine/io/model_dir.h"
#include "weights/safetensors.h"

namespace mr {

TextEncoder::TextEncoder(const std::string& dir, const Backend& be) : be_(be) {
  MR_CHECK(be.ready(), "TextEncoder on {}: init_backend was not called", be.str());
  MR_CHECK(be.dev != Device::CPU || be.precision == Precision::fp32, "the CPU backend computes in fp32 only, got {}", be.str());
  verify_model_dir(dir);
  cfg_ = BertConfig::from_json_file((std::filesystem::path(dir) / "config.json").string());
  SafeTensors st(hf_weights_file(dir));
  model_ = std::make_unique<BertModel>(cfg_, ps_, "", hf_has_pooler(st, cfg_.family()));
  // on a device the encoder only infers: no gradient buffer (on the CPU, params() may be trained)
  ps_.finalize(be.dev, be.dev == Device::CPU);
  load_hf_bert(st, *model_, ps_);
  // roberta/xlm-roberta: tokenizer.json only (a vocab.txt beside it would be another tokenizer)
  if (cfg_.family().tokenizer_json && !std::filesystem::exists(std::filesystem::path(dir) / "tokenizer.json"))
    FAIL_INPUT(dir, "directory", "no tokenizer.json: a {} model's tokenizer is read from tokenizer.json only",
               cfg_.model_type);
  tok_ = tok::Tokenizer::from_dir(dir);
  // tokenizer.json may ask for fixed padding (all-MiniLM-L6-v2 pads to 128): batches are
  // padded here, to the longest text of each batch, with the attention mask marking padding.
  tok_.padding.strategy = tok::PaddingStrategy::None;
  ModelInfo info = read_model_info(dir);
  pool_ = info.pooling;
  normalize_ = info.normalize;
}

namespace {

struct Batch {
  HostTensor ids, types, mask;
  int B = 0, T = 0;
};

Batch make_batch(const tok::Tokenizer& tk, const std::vector<const std::string*>& texts, int max_len) {
  std::vector<tok::Encoding> enc(texts.size());
  for (size_t i = 0; i < texts.size(); ++i) enc[i] = tk.encode(*texts[i]);
  Batch b;
  b.B = int(texts.size());
  for (auto& e : enc) b.T = std::max(b.T, int(std::min<size_t>(e.size(), size_t(max_len))));
  b.T = std::max(b.T, 1);
  b.ids = HostTensor(Shape{b.B, b.T}, DType::I32);
  b.types = HostTensor(Shape{b.B, b.T}, DType::I32);
  b.mask = HostTensor(Shape{b.B, b.T}, DType::I32);
  for (int i = 0; i < b.B; ++i)
    for (int t = 0; t < int(std::min<size_t>(enc[i].size(), size_t(b.T))); ++t) {
      b.ids->i32()[i * b.T + t] = enc[i].ids[t];
      b.types->i32()[i * b.T + t] = enc[i].type_ids[t];
      b.mask->i32()[i * b.T + t] = enc[i].attention_mask[t];
    }
  return b;
}

}  // namespace

int TextEncoder::max_len_for(int max_len) const {
  return max_len > 0 ? max_len : std::min(kDefaultMaxLen, cfg_.max_positions());
}

void TextEncoder::begin() {
  w16_.clear();  // round the weights afresh, in case params() changed them
}

void TextEncoder::inference_tape(Tape& t) {
  t.set_training(false);
  t.set_act_dtype(be_.act_dtype());
  t.set_bf16_weights(&w16_);
}

std::vector<float> TextEncoder::embed(const std::vector<std::string>& texts, const EmbedOptions& opt,
                                      const std::function<void(size_t)>& progress) {
  const std::string pool = opt.pool.empty() ? pool_ : opt.pool;
  const bool norm = opt.normalize < 0 ? normalize_ : opt.normalize == 1;
  MR_CHECK(pool == "mean" || pool == "cls", "pooling must be mean or cls, got '{}'", pool);
  const int max_len = max_len_for(opt.max_len);
  if (cfg_.position_offset() == 0)
    MR_CHECK(max_len >= 2 && max_len <= cfg_.max_positions(), "max_len {} outside [2, max_position_embeddings = {}]",
             max_len, cfg_.max_positions());
  else  // RoBERTa, XLM-R: positions start at pad_token_id + 1
    MR_CHECK(max_len >= 2 && max_len <= cfg_.max_positions(),
             "max_len {} outside [2, {}]: max_position_embeddings = {} and positions start at {}", max_len,
             cfg_.max_positions(), cfg_.max_position_embeddings, cfg_.position_offset());
  tok_.truncation.max_length = size_t(max_len);
  const int C = cfg_.hidden_size;
  std::vector<float> out(texts.size() * size_t(C));
  // Order by byte length so a batch holds texts of similar token counts.
  std::vector<size_t> order(texts.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return texts[a].size() < texts[b].size(); });
  begin();
  Arena arena(be_.dev);
  size_t done = 0;
  for (size_t s = 0; s < order.size(); s += size_t(opt.batch)) {
    std::vector<const std::string*> bt;
    for (size_t k = s; k < std::min(order.size(), s + size_t(opt.batch)); ++k) bt.push_back(&texts[order[k]]);
    Batch b = make_batch(tok_, bt, max_len);
    Tape t(arena, be_);
    inference_tape(t);
    NoGrad ng(t);
    const Tensor mask = arena.copy_of(*b.mask);
    auto o = model_->forward(t, arena.copy_of(*b.ids), arena.copy_of(*b.types), mask);
    Var* pooled = pool == "mean" ? ops::mean_pool(t, o.hidden, mask, b.B, b.T) : ops::cls_pool(t, o.hidden, b.B, b.T);
    const HostTensor rows = host_copy(pooled->v);
    for (int i = 0; i < b.B; ++i) {
      float* dst = out.data() + order[s + size_t(i)] * size_t(C);
      const float* src = rows->f32() + size_t(i) * C;
      double n2 = 0;
      for (int c = 0; c < C; ++c) n2 += double(src[c]) * src[c];
      // sentence-transformers' Normalize: x / max(||x||, 1e-12)
      const float sc = norm ? float(1.0 / std::max(std::sqrt(n2), 1e-12)) : 1.0f;
      for (int c = 0; c < C; ++c) dst[c] = src[c] * sc;
    }
    t.reset();
    high_water_ = arena.high_water();
    done += size_t(b.B);
    if (progress) progress(done);
  }
  return out;
}

std::vector<std::vector<float>> TextEncoder::hidden_states(const std::vector<std::string>& texts, int max_len) {
  tok_.truncation.max_length = size_t(max_len);
  std::vector<const std::string*> bt;
  for (auto& s : texts) bt.push_back(&s);
  Batch b = make_batch(tok_, bt, max_len);
  begin();
  Arena arena(be_.dev);
  Tape t(arena, be_);
  inference_tape(t);
  NoGrad ng(t);
  auto o = model_->forward(t, arena.copy_of(*b.ids), arena.copy_of(*b.types), arena.copy_of(*b.mask));
  const HostTensor hidden = host_copy(o.hidden->v);
  high_water_ = arena.high_water();
  const int C = cfg_.hidden_size;
  std::vector<std::vector<float>> out(texts.size());
  for (int i = 0; i < b.B; ++i) {
    int len = 0;
    for (int k = 0; k < b.T; ++k) len += b.mask->i32()[i * b.T + k];
    const float* src = hidden->f32() + size_t(i) * b.T * C;
    out[size_t(i)].assign(src, src + size_t(len) * C);
  }
  return out;
}

}  // namespace mr
