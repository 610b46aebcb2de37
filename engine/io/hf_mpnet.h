// HuggingFace MPNet checkpoints (all-mpnet-base-v2) in a BertModel: the config fields and the
// tensor names, kept apart from the BERT mapping (engine/io/hf_bert.h) so that a per-family
// table can call them.
//   config:  BertConfig fields plus relative_attention_num_buckets, position_offset =
//            pad_token_id + 1 (default pad 1), no token type table (type_vocab_size 0);
//   names:   ours (BERT's, without prefix)           HF MPNet (without "mpnet.")
//            encoder.layer.N.attention.self.query.*   encoder.layer.N.attention.attn.q.*
//            ...attention.self.key.* / value.*        ...attention.attn.k.* / v.*
//            ...attention.output.dense.*              ...attention.attn.o.*
//            ...attention.output.LayerNorm.*          ...attention.LayerNorm.*
//            everything else (embeddings.*, intermediate.*, output.*, pooler.*,
//            encoder.relative_attention_bias.weight) unchanged.
//   The file's prefix is "mpnet." (MPNetFor* checkpoints) or "" (MPNetModel, sentence-transformers);
//   the buffer embeddings.position_ids is skipped.
// What HF MPNet does that BertModel does not: a pad token (id pad_token_id) anywhere gets
// position padding_idx; BertModel gives token t position position_offset + t, which is the same
// for every real token of a right-padded sequence (only padded rows, which no real token attends
// to, differ).
#pragma once
#include <string>

#include "engine/bert.h"
#include "engine/io/hf_bert.h"

namespace mr {

// Whether a HF config.json says "model_type": "mpnet".
bool hf_config_is_mpnet(const std::string& config_json);
// The BertConfig of a HF MPNet config.json (errors name the file and key).
BertConfig mpnet_config_from_json_file(const std::string& path);
// The HF MPNet name (without "mpnet.") of a BertModel parameter name (without the model prefix).
std::string mpnet_hf_name(const std::string& bert_name);
// "mpnet." or "".
std::string mpnet_file_prefix(const SafeTensors& st);
// Copies every parameter of `model` from an MPNet file (as load_hf_bert does for BERT).
HfLoadReport load_hf_mpnet(const SafeTensors& st, const BertModel& model, ParamStore& ps, bool allow_missing = false);

}  // namespace mr
