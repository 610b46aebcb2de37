// metarec model folders and HuggingFace export.
//
// A metarec model folder (written by `metarec convert`, later by training):
//   config.json          the HuggingFace config of its family (bert, roberta, xlm-roberta,
//                        distilbert, electra: engine/family.h), model_type always present
//   model.safetensors    weights, F32, the family's HF names without prefix (a valid *Model file)
//   vocab.txt, tokenizer.json, tokenizer_config.json, special_tokens_map.json (as present)
//   metarec.json         {"format": "metarec-model", "version": 1, "source": ..., "family":
//                        model_type, "pooling":
//                        "mean"|"cls", "normalize": bool, "sha256": {file: hex, ...}}
// Loading verifies every checksum and names the file that does not match.
#pragma once
#include <string>
#include <vector>

namespace mr {

struct ConvertReport {
  std::string family;                   // the model_type converted
  std::vector<std::string> unexpected;  // tensors of the source that were dropped (heads, ...)
  std::string pooling;                  // from sentence-transformers' 1_Pooling if present
  bool normalize = false;
  bool pooler = false;
};

// HF folder (config.json + model.safetensors + vocab.txt/tokenizer.json) -> metarec folder.
// A model_type outside the supported families is refused (naming it and the list) before
// anything is written.
ConvertReport convert_from_hf(const std::string& src, const std::string& dst);
// metarec folder -> a folder `transformers` AutoModel/AutoTokenizer load.
void export_hf(const std::string& src, const std::string& dst);
// Checks metarec.json's checksums; a folder without metarec.json (plain HF) passes.
void verify_model_dir(const std::string& dir);

struct ModelInfo {
  std::string pooling = "mean";
  bool normalize = false;
};
ModelInfo read_model_info(const std::string& dir);

class BertModel;
class ParamStore;
// Writes a metarec model folder from a BertModel in memory (e.g. after fine-tuning): its
// parameters (names without model.prefix()), config.json from config_json (HF config file to
// copy; the model's own sizes must agree), the tokenizer files of tokenizer_dir, metarec.json.
void save_model_dir(const std::string& dst, const BertModel& model, ParamStore& ps, const std::string& config_json,
                    const std::string& tokenizer_dir, const ModelInfo& info, const std::string& source);

}  // namespace mr
