#include "engine/family.h"

namespace mr {

namespace {

const std::vector<Family>& table() {
  static const std::vector<Family> rows = {
      // model_type, refused, architecture, arch_stem, prefix, positions_after_pad, token_types,
      // pooler, embedding_size, tokenizer_json, tokenizer_class, keys, layer_norm_eps, layers, layer_names
      {"bert", nullptr, "BertModel", "Bert", "bert.", false, true, true, false, false, "BertTokenizer", {}, 1e-12f, "encoder.layer.", {}},
      {"roberta", nullptr, "RobertaModel", "Roberta", "roberta.", true, true, true, false, true, "RobertaTokenizer", {}, 1e-12f, "encoder.layer.", {}},
      {"xlm-roberta", nullptr, "XLMRobertaModel", "XLMRoberta", "roberta.", true, true, true, false, true, "XLMRobertaTokenizer", {}, 1e-12f,
       "encoder.layer.", {}},
      {"distilbert", nullptr, "DistilBertModel", "DistilBert", "distilbert.", false, false, false, false, false,
       "DistilBertTokenizer",
       {{"hidden_size", "dim"},
        {"num_hidden_layers", "n_layers"},
        {"num_attention_heads", "n_heads"},
        {"intermediate_size", "hidden_dim"},
        {"hidden_act", "activation"},
        {"hidden_dropout_prob", "dropout"},
        {"attention_probs_dropout_prob", "attention_dropout"},
        {"type_vocab_size", ""},
        {"layer_norm_eps", ""}},
       1e-12f,
       "transformer.layer.",
       {{"attention.self.query.", "attention.q_lin."},
        {"attention.self.key.", "attention.k_lin."},
        {"attention.self.value.", "attention.v_lin."},
        {"attention.output.dense.", "attention.out_lin."},
        {"attention.output.LayerNorm.", "sa_layer_norm."},
        {"intermediate.dense.", "ffn.lin1."},
        {"output.dense.", "ffn.lin2."},
        {"output.LayerNorm.", "output_layer_norm."}}},
      {"electra", nullptr, "ElectraModel", "Electra", "electra.", false, true, false, true, false, "ElectraTokenizer", {}, 1e-12f, "encoder.layer.", {}},
      // MPNet: BertModel with relative_attention_num_buckets (the shared relative position bias,
      // encoder.relative_attention_bias.weight, the same name in both), positions after the pad,
      // no token types; its tokenizer.json (WordPiece with <s> ... </s>) is required.
      {"mpnet", nullptr, "MPNetModel", "MPNet", "mpnet.", true, false, true, false, true, "MPNetTokenizer",
       {{"type_vocab_size", ""}},
       1e-12f,
       "encoder.layer.",
       {{"attention.self.query.", "attention.attn.q."},
        {"attention.self.key.", "attention.attn.k."},
        {"attention.self.value.", "attention.attn.v."},
        {"attention.output.dense.", "attention.attn.o."},
        {"attention.output.LayerNorm.", "attention.LayerNorm."}}},
  };
  return rows;
}

}  // namespace

std::string Family::key(const std::string& bert_key) const {
  for (auto& [ours, theirs] : keys)
    if (ours == bert_key) return theirs;
  return bert_key;
}

std::string Family::hf_name(const std::string& n) const {
  static const std::string kLayers = "encoder.layer.";
  if (n.rfind(kLayers, 0) != 0) return n;  // embeddings, embeddings_project, pooler: the same everywhere
  const size_t dot = n.find('.', kLayers.size());
  if (dot == std::string::npos) return n;
  const std::string num = n.substr(kLayers.size(), dot + 1 - kLayers.size());  // "N."
  const std::string rest = n.substr(dot + 1);
  for (auto& [ours, theirs] : layer_names)
    if (rest.rfind(ours, 0) == 0) return layers + num + theirs + rest.substr(ours.size());
  return layers + num + rest;
}

const Family* find_family(const std::string& model_type) {
  for (const Family& f : table())
    if (model_type == f.model_type) return &f;
  return nullptr;
}

const Family* family_of_architecture(const std::string& architecture) {
  // the stem, then "Model" or "For...": RobertaPreLayerNormModel is not a roberta
  for (const Family& f : table()) {
    const std::string stem = f.arch_stem;
    if (architecture.rfind(stem, 0) != 0) continue;
    const std::string rest = architecture.substr(stem.size());
    if (rest == "Model" || rest.rfind("For", 0) == 0) return &f;
  }
  return nullptr;
}

const Family& bert_family() { return table()[0]; }

std::string supported_families() {
  std::string s;
  for (const Family& f : table())
    if (!f.refused) s += (s.empty() ? "" : ", ") + std::string(f.model_type);
  return s;
}

}  // namespace mr
