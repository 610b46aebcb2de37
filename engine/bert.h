// BertModel with HuggingFace semantics: post-LN encoder layers, erf GELU, layer_norm_eps
// from the config, token_type_ids, attention_mask (1 = token, 0 = padding), optional pooler
// (tanh(W h_CLS + b)). It computes every family of engine/family.h: the config says where
// positions start (RoBERTa/XLM-R: pad_token_id + 1), whether there are token types
// (DistilBERT: none) and the embedding width (ELECTRA: embeddings_project (H, E) when
// embedding_size E != hidden_size H). Parameter names are HuggingFace's without the "bert." prefix, e.g.
// encoder.layer.0.attention.self.query.weight; query/key/value are declared adjacently so
// the three projections run as one (3C, C) GEMM.
// MPNet (all-mpnet-base-v2) is the same encoder plus a relative position bias
// (relative_attention_num_buckets > 0: encoder.relative_attention_bias.weight (buckets, H), one
// (H, T, T) additive attention bias shared by every layer); its positions and names are its
// family row's (engine/family.h).
#pragma once
#include <string>
#include <vector>

#include "engine/family.h"
#include "engine/ops.h"
#include "engine/params.h"

namespace mr {

struct BertConfig {
  int vocab_size = 30522, hidden_size = 768, num_hidden_layers = 12, num_attention_heads = 12;
  int intermediate_size = 3072, max_position_embeddings = 512, type_vocab_size = 2;
  float layer_norm_eps = 1e-12f, hidden_dropout_prob = 0.1f, attention_probs_dropout_prob = 0.1f;
  std::string hidden_act = "gelu";
  std::string model_type = "bert";  // the row of engine/family.h
  int pad_token_id = 0;
  int embedding_size = 0;           // ELECTRA: the embeddings' width; 0: hidden_size
  // MPNet: the buckets of the relative position bias (0: none; HF buckets relative positions
  // into 32 whatever the table size, so a table needs at least 32 rows; an mpnet config without
  // the key has 32, MPNetConfig's default).
  int relative_attention_num_buckets = 0;
  // Reads a HuggingFace config.json of any supported family (model_type, else architectures,
  // else bert), through the family's key names; unknown keys are ignored, a wrong type or an
  // unsupported value (a model_type not in the table or refused, hidden_act other than gelu,
  // hidden not divisible by heads) is an error naming the key and, for model_type, the list.
  static BertConfig from_json_file(const std::string& path);
  void validate(const std::string& where) const;
  const Family& family() const;
  // The first position id (RoBERTa/XLM-R: pad_token_id + 1, else 0): row position_offset() + t
  // of the position table embeds token t; sequences hold at most max_positions() tokens.
  int position_offset() const { return family().positions_after_pad ? pad_token_id + 1 : 0; }
  int max_positions() const { return max_position_embeddings - position_offset(); }
  bool token_types() const { return family().token_types; }
  int embed_width() const { return embedding_size > 0 ? embedding_size : hidden_size; }
};

// MPNetEncoder.relative_position_bucket (transformers, modeling_mpnet.py) of relative position
// key - query: 0..15 for keys at or before the query (exact below 8, log-spaced up to
// max_distance), 16..31 for keys after it. float32 arithmetic, as torch computes it.
int mpnet_relative_position_bucket(int relative_position, int num_buckets = 32, int max_distance = 128);

class BertModel {
 public:
  // Declares the parameters in ps under prefix (e.g. "" or "bert.").
  BertModel(const BertConfig& cfg, ParamStore& ps, const std::string& prefix = "", bool pooler = true);
  // Only encoder layers [first_layer, first_layer + n_layers) under their HF names (no
  // embeddings, no pooler): e.g. the trainable top of a model whose bottom ran once and was
  // cached. load_hf_bert fills them from a full checkpoint (the rest of the file is unused).
  static BertModel top_layers(const BertConfig& cfg, ParamStore& ps, const std::string& prefix, int first_layer,
                              int n_layers);

  struct Output {
    Var* hidden = nullptr;  // (B*T, C) last hidden state
    Var* pooled = nullptr;  // (B, C), null without pooler
  };
  // ids, types, mask: (B, T) i32 CPU/device tensors; types and mask may be undefined.
  Output forward(Tape& t, const Tensor& ids, const Tensor& types, const Tensor& mask);
  // The pieces of forward(): embeddings (+ LayerNorm, dropout) -> (B*T, C), and encoder layers
  // [first, first + n) (absolute indices; they must be declared) over hidden states x (B*T, C).
  // With bf16 storage (Tape::set_act_dtype) embed returns bf16 and the layers run in bf16;
  // forward_layers takes f32 or bf16 and returns f32. Under NoGrad it keeps only the layer being
  // computed: each layer's temporaries are released (an arena rewind) once its output is copied
  // into one hidden-state buffer, so the activation memory does not grow with depth; the values
  // are bit for bit those of the recording forward.
  Var* embed(Tape& t, const Tensor& ids, const Tensor& types);
  Var* forward_layers(Tape& t, Var* x, const Tensor& mask, int B, int T, int first, int n);
  // MPNet: the attention bias (H, T, T) [h, i, j] = relative_attention_bias[bucket(j - i), h],
  // a gather from the table that records its gradient (null without relative buckets).
  Var* position_bias(Tape& t, int T);
  int first_layer() const { return first_layer_; }
  int declared_layers() const { return int(layers_.size()); }

  // HF's _init_weights: N(0, std) weights and embeddings, zero biases, LayerNorm 1 / 0.
  void init_random(uint64_t seed, float std = 0.02f);
  // Freezes the embeddings and the first n layers.
  void freeze_bottom(int n);
  const BertConfig& config() const { return cfg_; }
  bool has_pooler() const { return pooler_; }
  const std::string& prefix() const { return prefix_; }

 private:
  BertModel(const BertConfig& cfg, ParamStore& ps, const std::string& prefix, int first_layer, int n_layers);
  void add_layer(int l);
  struct Layer {
    Param *q_w, *k_w, *v_w, *q_b, *k_b, *v_b, *ao_w, *ao_b, *ln1_g, *ln1_b, *i_w, *i_b, *o_w, *o_b, *ln2_g, *ln2_b;
  };
  BertConfig cfg_;
  ParamStore& ps_;
  std::string prefix_;
  bool pooler_;
  int first_layer_ = 0;  // layers_[i] is encoder layer first_layer_ + i
  Param *wte_ = nullptr, *wpe_ = nullptr, *wtt_ = nullptr, *eln_g_ = nullptr, *eln_b_ = nullptr;
  Param *proj_w_ = nullptr, *proj_b_ = nullptr;  // ELECTRA's embeddings_project (H, E), (H); else null
  Param *pool_w_ = nullptr, *pool_b_ = nullptr;
  Param* rel_ = nullptr;             // (buckets, H) MPNet relative attention bias, or null
  std::vector<int32_t> bucket_idx_;  // (H, T, T) rows of rel_ viewed as (buckets * H, 1), for bucket_T_
  int bucket_T_ = -1;
  std::vector<Layer> layers_;
};

}  // namespace mr
