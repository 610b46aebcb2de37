// TextEncoder: tokenizer + BertModel + pooling, loaded from a metarec model folder or a
// HuggingFace folder. Used by `metarec embed`, the text baseline and the item tower.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/backend.h"
#include "engine/bert.h"
#include "tokenizer/tokenizer.h"

namespace mr {

inline constexpr int kDefaultMaxLen = 256;

struct EmbedOptions {
  std::string pool;      // "mean" or "cls"; empty: the model folder's default
  int normalize = -1;    // 1: L2-normalise rows, 0: no, -1: the model folder's default
  // tokens per text including [CLS]/[SEP]; longer texts are truncated. 0: the default,
  // min(kDefaultMaxLen, the model's max_positions(): RoBERTa's start at pad_token_id + 1) (max_len_for).
  int max_len = 0;
  int batch = 32;        // texts per forward pass
};

class TextEncoder {
 public:
  // be: where the encoder runs (parameters, activations) and in which precision; a CUDA
  // backend must be ready (make_backend / init_backend). Results come back to the
  // host either way. On a device the parameters have no gradients (inference only).
  explicit TextEncoder(const std::string& dir, const Backend& be = {});

  // (texts.size(), hidden) row-major embeddings, rows in input order. Texts are batched by
  // length to waste little on padding; progress(done) is called after every batch.
  std::vector<float> embed(const std::vector<std::string>& texts, const EmbedOptions& opt,
                           const std::function<void(size_t)>& progress = {});
  // Last hidden states of one batch: out[i] is (tokens_i, hidden) for text i, unpadded.
  std::vector<std::vector<float>> hidden_states(const std::vector<std::string>& texts, int max_len);

  // The max_len embed() uses for opt.max_len (0: min(kDefaultMaxLen, max_positions())).
  int max_len_for(int max_len) const;
  const BertConfig& config() const { return cfg_; }
  tok::Tokenizer& tokenizer() { return tok_; }
  ParamStore& params() { return ps_; }
  BertModel& model() { return *model_; }
  const std::string& default_pool() const { return pool_; }
  bool default_normalize() const { return normalize_; }
  const Backend& backend() const { return be_; }
  // Activation memory the last embed() or hidden_states() needed at its largest batch (the
  // arena's high water, on the backend's device): what to watch when raising the batch size.
  size_t arena_high_water() const { return high_water_; }
  // Bytes of the bf16 weight copies (bf16 precision; 0 otherwise), beside the fp32 weights.
  size_t bf16_weight_bytes() const { return w16_.bytes(); }

 private:
  void begin();                  // before a pass: a fresh weight cache
  void inference_tape(Tape& t);  // dropout off, the backend's activation type, the weight cache
  Backend be_;
  BertConfig cfg_;
  tok::Tokenizer tok_;
  ParamStore ps_;
  std::unique_ptr<BertModel> model_;
  std::string pool_ = "mean";
  bool normalize_ = false;
  size_t high_water_ = 0;
  Bf16WeightCache w16_;  // bf16 precision: the weights rounded once (they never change here)
};

}  // namespace mr
