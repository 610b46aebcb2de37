// Meta-training a run (engine/rec/trainer.cpp): per outer step, a meta-batch of tasks (users)
// is drawn, each task adapts on its support set and adds its outer update (the meta algorithm,
// engine/meta/algorithm.h), and AdamW steps theta on the meta-batch mean; the run folder gets
// the log, the checkpoints and, at the end, the evaluation (engine/rec/evaluate.h).
#pragma once
#include <string>

#include <nlohmann/json.hpp>

#include "engine/rec/config.h"

namespace mr::comm {
class Communicator;
}

namespace mr::rec {

// Trains (resuming when resume: from OUT's newest checkpoint that verifies, RunDir::resume; from
// the checkpoint file resume_from when given) and evaluates; returns results. A non-finite query
// loss, gradient or updated parameter stops it with an Error naming the step, before that step's
// checkpoint.
// comm (null: one process): the meta-batch's tasks are dealt round-robin over the ranks, one
// all-reduce per step, rank 0's start state is broadcast; rank 0 alone writes OUT, evaluates and
// returns the results; the other ranks return {"rank": r, "step": steps} (docs/comm.md).
// With train.device = cuda, several processes need comm's NCCL flavour (one process per GPU).
// dump_tasks (one process only): appends every step's meta-batch to that file as one JSON line,
// {"step": s, "tasks": [{"support": [[history, target, signal], ...], "query": [...]}, ...]}
// (signal null when absent), for replaying the run elsewhere (bench/torch_twin). With the sampled
// softmax (loss.negatives > 0) each task also has "candidates": {"support": [draw, ...], "query":
// [draw]}, one draw per loss call in call order, draw = {"items": [...], "log_q": [...]}
// (RecModel::Drawn). With encoder.train_layers > 0, FILE.items.json holds the items' texts, the
// hidden-state cache file of the frozen bottom (in encoder.cache), its layer count and max_len.
nlohmann::json train(const Config& c, const std::string& out, bool resume, comm::Communicator* comm = nullptr,
                     const std::string& resume_from = "", const std::string& dump_tasks = "");

// The GPU this process trains on: train.gpus[local rank] when the list is given, else the local
// rank (comm::local_rank(); 0 outside a launcher). Throws when the list is too short.
int train_gpu(const Config& c);

}  // namespace mr::rec
