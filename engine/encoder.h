// TextEncoder: tokenizer + BertModel + pooling, loaded from a metarec model folder or a
// HuggingFace folder. Used by `metarec embed`, the text baseline and the item tower.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/bert.h"
#include "tokenizer/tokenizer.h"

namespace mr {

struct EmbedOptions {
  std::string pool;      // "mean" or "cls"; empty: the model folder's default
  int normalize = -1;    // 1: L2-normalise rows, 0: no, -1: the model folder's default
  int max_len = 256;     // tokens per text including [CLS]/[SEP]; longer texts are truncated
  int batch = 32;        // texts per forward pass
};

class TextEncoder {
 public:
  explicit TextEncoder(const std::string& dir);

  // (texts.size(), hidden) row-major embeddings, rows in input order. Texts are batched by
  // length to waste little on padding; progress(done) is called after every batch.
  std::vector<float> embed(const std::vector<std::string>& texts, const EmbedOptions& opt,
                           const std::function<void(size_t)>& progress = {});
  // Last hidden states of one batch: out[i] is (tokens_i, hidden) for text i, unpadded.
  std::vector<std::vector<float>> hidden_states(const std::vector<std::string>& texts, int max_len);

  const BertConfig& config() const { return cfg_; }
  tok::Tokenizer& tokenizer() { return tok_; }
  ParamStore& params() { return ps_; }
  BertModel& model() { return *model_; }
  const std::string& default_pool() const { return pool_; }
  bool default_normalize() const { return normalize_; }

 private:
  BertConfig cfg_;
  tok::Tokenizer tok_;
  ParamStore ps_;
  std::unique_ptr<BertModel> model_;
  std::string pool_ = "mean";
  bool normalize_ = false;
};

}  // namespace mr
