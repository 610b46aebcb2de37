// The BERT family: what differs between the HuggingFace encoders metarec reads and writes,
// as one table row per config.json `model_type`. BertModel computes all of them (post-LN
// layers, erf GELU, absolute positions); a row says only what its checkpoints call things and
// which embedding pieces exist:
//   bert         BertModel: token types, optional pooler
//   roberta      RobertaModel: positions start at pad_token_id + 1, one token type, optional pooler
//   xlm-roberta  XLMRobertaModel: as roberta (Unigram tokenizer.json)
//   distilbert   DistilBertModel: no token types, no pooler, its own config keys (dim, n_layers,
//                n_heads, hidden_dim, activation, dropout, attention_dropout; LayerNorm eps 1e-12)
//                and tensor names (transformer.layer.N.attention.q_lin, sa_layer_norm, ffn.lin1, ...)
//   electra      ElectraModel: embedding_size may differ from hidden_size (then embeddings_project
//                maps the embeddings up), no pooler
//   mpnet        MPNetModel: the relative position bias shared by every layer
//                (relative_attention_num_buckets, 32 when absent), positions start at
//                pad_token_id + 1, no token types, optional pooler, its own attention names
//                (attention.attn.q/k/v/o, attention.LayerNorm), tokenizer.json only
// Parameters inside metarec keep BERT's names (engine/bert.h) whatever the family; hf_name()
// turns one into the family's checkpoint name.
#pragma once
#include <string>
#include <utility>
#include <vector>

namespace mr {

struct Family {
  const char* model_type;    // config.json "model_type"
  const char* refused;       // non-null: recognised, not supported yet; the reason
  const char* architecture;  // the AutoModel class export-hf writes in "architectures"
  const char* arch_stem;     // an "architectures" entry starting with it names this family
  const char* prefix;        // base-model prefix in *For* checkpoints ("roberta.")
  bool positions_after_pad;  // position ids start at pad_token_id + 1 (fairseq's make_positions)
  bool token_types;          // has token_type_embeddings
  bool pooler;               // may carry pooler.dense
  bool embedding_size;       // reads embedding_size (embeddings_project when != hidden_size)
  bool tokenizer_json;       // its tokenizer is tokenizer.json only (BPE/Unigram): a vocab.txt is not its
  const char* tokenizer_class;  // tokenizer_config.json's class when export-hf must write one
  // config keys: {BERT's name, the family's name}; "" = the family has no such key (default)
  std::vector<std::pair<std::string, std::string>> keys;
  float layer_norm_eps;      // when the family has no layer_norm_eps key
  // tensor names inside encoder layer N: the family's prefix for "encoder.layer.", then
  // {BERT's name after "encoder.layer.N.", the family's}; the first matching rule applies.
  std::string layers;
  std::vector<std::pair<std::string, std::string>> layer_names;

  // The family's config key for BERT's `key` ("" when it has none).
  std::string key(const std::string& bert_key) const;
  // A parameter name (BERT's, without prefix) as the family's checkpoints spell it.
  std::string hf_name(const std::string& bert_name) const;
};

// The row for a model_type, null if none (refused rows included: check `refused`).
const Family* find_family(const std::string& model_type);
// The row of an architecture "<stem>Model" or "<stem>For..." (e.g. "RobertaForMaskedLM"), null if none.
const Family* family_of_architecture(const std::string& architecture);
const Family& bert_family();
// "bert, roberta, xlm-roberta, distilbert, electra, mpnet": what convert accepts.
std::string supported_families();

}  // namespace mr
