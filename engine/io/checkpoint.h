// Training checkpoints: parameters, AdamW state, RNG state, step, data cursor and the run's
// config, in one safetensors file per save:
//   DIR/ckpt-<step>.safetensors   tensors "param.<name>" (F32), "adamw.m", "adamw.v" (flat);
//                                 metadata: format, step, adamw_t, rng_seed, rng_offset,
//                                 cursor (JSON), config (text), sha256 of the data section
//   DIR/latest                    the file name of the newest checkpoint
// Written atomically (temp file, fsync, rename; then `latest` the same way), so a crash
// leaves the previous checkpoint intact. Loading validates the safetensors structure and the
// checksum: a truncated or corrupted file is refused with an error naming it, and older
// checkpoints (the last `keep` are kept) stay loadable. A save never overwrites a file that does
// not verify: one at the step being written is kept as NAME.corrupt (not counted, never pruned).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "engine/optim.h"
#include "engine/params.h"

namespace mr {

struct TrainState {
  int64_t step = 0;
  uint64_t rng_seed = 0, rng_offset = 0;
  std::string cursor = "{}";  // data position, JSON
  std::string config;         // the resolved run config, as text
};

// Returns the path written. Deletes checkpoints beyond the newest `keep` (by step).
std::string save_checkpoint(const std::string& dir, ParamStore& ps, const AdamW* opt, const TrainState& st,
                            int keep = 3);
// Restores into ps (same parameter names and shapes) and opt (may be null).
TrainState load_checkpoint(const std::string& path, ParamStore& ps, AdamW* opt);
// Checks PATH as load_checkpoint does before reading anything (the safetensors structure, the
// format, the sha256 of the data section) and returns its step. Throws mr::Error naming the file
// and what failed: missing, truncated, corrupt.
int64_t verify_checkpoint(const std::string& path);
// DIR/ckpt-<step>.safetensors
std::string checkpoint_path(const std::string& dir, int64_t step);
// DIR/<name in DIR/latest>, or "" when DIR has none.
std::string latest_checkpoint(const std::string& dir);
// All checkpoints in DIR, oldest first.
std::vector<std::string> list_checkpoints(const std::string& dir);

}  // namespace mr
