// Evaluation of a run: its model (adapted per test user, engine/rec/scorer.h), the configured
// hybrids (eval.blend) and baselines (eval.baselines), at every eval.k_shots (cold-user) or once
// (loo), ranked by the data module's evaluator (engine/baselines/evaluate.h); and the Markdown
// table of results.
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/rec/config.h"
#include "engine/rec/run.h"

namespace mr {
namespace comm { class Communicator; }
}  // namespace mr

namespace mr::rec {

// Appends to OUT/metrics.jsonl and writes OUT/results.{json,md} when out is not empty. With a
// communicator of several ranks, every rank calls it (same run, same config): each scores its
// share of the cases, every rank returns the metrics one process would, and rank 0 alone writes.
nlohmann::json evaluate(LoadedRun& r, const std::string& out, comm::Communicator* cm = nullptr);
// Markdown table of results.json objects (several runs may be merged).
std::string results_table(const std::vector<nlohmann::json>& results, const std::vector<int>& ks);
// One eval.finetune spec "STEPS:LR" (STEPS >= 1 SGD steps at rate LR > 0); errors name `where`.
void parse_finetune(const std::string& spec, const std::string& where, int* steps, double* lr);
// The name of a fine-tune row: "non-meta + fine-tune (STEPS x LR)".
std::string finetune_name(int steps, double lr);
// The K values a run's results table lists: eval.k_shots for cold-user, none for loo.
std::vector<int> table_kshots(const Config& c);

}  // namespace mr::rec
