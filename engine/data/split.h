// Evaluation protocols: which interactions a model may train on, and which (history, targets)
// cases it is scored on.
//   loo        leave-one-out (RecBole / UniSRec): per user with >= 3 interactions, the last item
//              is the test target, the second-to-last the validation target, the rest is
//              training data; the model input is the history before the target, truncated to
//              the last `max_history` items. Users with fewer interactions only train.
//   cold-user  MeLU-style: users with min..max interactions are split by seed into meta-train /
//              meta-valid / meta-test; a valid/test user's first K interactions are the support
//              set (known, given to the model, masked from the ranking) and the rest the query
//              set (targets). Meta-train users train on everything.
//   cold-item  items split by seed into warm / cold-valid / cold-test; training uses warm items
//              only; a user with interactions on cold-test items is scored on ranking exactly
//              those among all cold-test items, given the user's warm history.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "engine/data/dataset.h"

namespace mr::data {

struct EvalCase {
  uint32_t user = 0;
  std::vector<uint32_t> history;  // model input, chronological (truncated for loo)
  std::vector<uint32_t> known;    // every item known before the targets (what masking removes)
  std::vector<uint32_t> targets;  // positives to rank
};

struct Split {
  std::string protocol;
  size_t n_users = 0, n_items = 0;
  std::vector<Interaction> train;          // training interactions, grouped by user, chronological
  std::vector<EvalCase> valid, test;
  std::vector<uint8_t> valid_candidates, test_candidates;  // empty: every item; else 1 = ranked
  std::vector<uint32_t> train_users, valid_users, test_users;  // cold-user: the user partition
  std::vector<uint32_t> cold_valid_items, cold_test_items;     // cold-item: the item partition
  size_t dropped_users = 0;                // users outside the protocol's filter
};

// mirror_valid: a validation part that mirrors the test case, for choosing settings. A user with
// n >= 4 interactions trains on the first n-3 only, and the validation case predicts item n-2
// from the history up to it, which ends with item n-3: like a test case, the history's most
// recent item is one the model did not train on, and the target is two places after the training
// data. Users with 3 interactions keep the standard validation case. The test part is empty (its
// training data would lack an item per user); evaluate test on the standard split.
Split split_loo(const Dataset& ds, size_t max_history = 50, bool mirror_valid = false);
// "loo" or "loo-mirror"
inline bool is_loo(const std::string& protocol) { return protocol == "loo" || protocol == "loo-mirror"; }

struct ColdUserOptions {
  uint64_t seed = 0;
  size_t k_shot = 5;                      // support size (1, 3, 5, 10 in the papers)
  size_t min_interactions = 13, max_interactions = 100;  // MeLU's user filter
  double valid_fraction = 0.1, test_fraction = 0.2;
};
Split split_cold_user(const Dataset& ds, const ColdUserOptions& opt);

struct ColdItemOptions {
  uint64_t seed = 0;
  double valid_fraction = 0.1, test_fraction = 0.2;
  size_t max_history = 50;
};
Split split_cold_item(const Dataset& ds, const ColdItemOptions& opt);

// Reproducible shuffle (splitmix64 + Fisher-Yates; the same on every platform).
void seeded_shuffle(std::vector<uint32_t>& v, uint64_t seed);

}  // namespace mr::data
