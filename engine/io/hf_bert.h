// HuggingFace BERT-family checkpoints: which file holds the weights, and the mapping from HF
// tensor names onto a BertModel's parameters, through the family's row (engine/family.h,
// model.config().family()): distilbert's transformer.layer.N.attention.q_lin is our
// encoder.layer.N.attention.self.query, and so on.
//   * names with or without the family's prefix ("bert.", "roberta.", "distilbert.", ...;
//     *Model vs *For* checkpoints);
//   * legacy LayerNorm names gamma/beta;
//   * the pooler is optional (hf_has_pooler tells whether to build the model with one);
//   * buffers (embeddings.position_ids, embeddings.token_type_ids) are skipped;
//   * missing and unexpected tensors are reported by name.
// PyTorch .bin files (pickles) are refused with instructions: reading them would mean
// executing a pickle format; convert them to safetensors with transformers first.
#pragma once
#include <string>
#include <vector>

#include "engine/bert.h"
#include "weights/safetensors.h"

namespace mr {

// DIR/model.safetensors (or the single *.safetensors file in DIR); an error naming the file
// for pytorch_model.bin, tf_model.h5 or nothing at all.
std::string hf_weights_file(const std::string& dir);

struct HfLoadReport {
  std::vector<std::string> missing;     // parameters the file did not have
  std::vector<std::string> unexpected;  // tensors the model does not use (heads, ...), ignored
  std::string prefix;                   // the family's prefix ("bert.", ...) or ""
};

// The HF name prefix used by the file (the family's, e.g. "bert.", or "").
std::string hf_prefix(const SafeTensors& st, const Family& f = bert_family());
// Whether the file holds a pooler the family may have (never for distilbert, electra).
bool hf_has_pooler(const SafeTensors& st, const Family& f = bert_family());

// Copies every parameter of `model` (declared in ps under model.prefix()) from st. Missing
// parameters are an error naming them all (unless allow_missing, then they keep their values
// and are listed in the report).
HfLoadReport load_hf_bert(const SafeTensors& st, const BertModel& model, ParamStore& ps, bool allow_missing = false);

}  // namespace mr
