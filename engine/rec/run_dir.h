// A run folder and its checkpoints:
//   OUT/config.toml, config.json   the resolved configuration (Config::to_toml / to_json)
//   OUT/item_emb.npy               the frozen encoder's pooled item embeddings (n_items, D)
//   OUT/metrics.jsonl              one JSON object per logged step and per evaluation
//   OUT/ckpt-<step>.safetensors    checkpoints (engine/io/checkpoint.h), OUT/latest; a trained
//                                  part with its own subfolder (metasgd's learned inner rates:
//                                  OUT/inner_rates/) has its own
//   OUT/results.json, results.md   evaluation at every K: this model and the baselines
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/io/checkpoint.h"
#include "engine/rec/config.h"
#include "engine/rec/run.h"

namespace mr::rec {

inline constexpr const char* kInnerRatesDir = "inner_rates";

// Parameters the outer optimisation trains, with their optimizer, checkpointed in OUT/subdir.
struct TrainedPart {
  ParamStore* ps;
  AdamW* opt;
  std::string subdir;  // "" = OUT itself
};

class RunDir {
 public:
  explicit RunDir(std::string path) : path_(std::move(path)) {}  // "": no folder, every write a no-op
  const std::string& path() const { return path_; }
  void create() const;
  void write_config(const Config& c) const;
  void write_item_emb(const std::vector<float>& emb, int64_t n_items, int64_t D) const;
  void clear_metrics() const;
  void append_metrics(const nlohmann::json& line) const;
  void write_results(const nlohmann::json& res, const std::string& table) const;
  bool has_checkpoint() const;
  void save(const std::vector<TrainedPart>& parts, const TrainState& st) const;
  // Every part from the newest step of OUT that verifies (engine/io/checkpoint.h): the one `latest`
  // names, else the next older one, and so on; a step verifies when every part's checkpoint of
  // it does. Each one skipped gets a line on stderr (the file and why), the one used is named.
  // `from` (a checkpoint file): that one or an error; its parts are looked for beside it.
  // Returns false (nothing loaded) when OUT has no checkpoint; throws when none verifies,
  // listing what was tried. Deletes nothing and leaves `latest` as it is.
  bool resume(const std::vector<TrainedPart>& parts, TrainState* st, const std::string& from = "") const;

 private:
  std::string path_;
};

// Opens OUT: config.json, item_emb.npy, the latest checkpoint (or `checkpoint` when given) and
// the other parts' checkpoints of its step. A checkpoint with a non-finite parameter is refused.
LoadedRun load_run(const std::string& dir, const std::string& checkpoint = "");

}  // namespace mr::rec
