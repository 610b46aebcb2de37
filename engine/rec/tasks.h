// Meta-training tasks (one per training user): the users' sequences and, per task, the support
// and query batches (the query targets carry their signal, e.g. the rating, NaN when none).
//   support  "predict item j from the items before it" for the first K items
//   query    up to query_size items drawn from the rest of the sequence, the K items as history
//            (target "future"), or the next_positions items after a random cut point, each from
//            everything before it (target "next")
#pragma once
#include <random>
#include <string>
#include <vector>

#include "engine/data/split.h"
#include "engine/rec/model.h"

namespace mr::rec {

struct UserSeq {
  std::vector<uint32_t> items;
  std::vector<float> signal;  // per item, NaN when none
};

// Training users' sequences (sp.train_users, or every user for loo) with 2 or more items.
std::vector<UserSeq> task_sequences(const data::Split& sp, size_t n_users);

// future: the query's items come from the rest of the sequence, the K items as history;
// next: the items right after a random cut point
enum class Target { Future, Next };

struct TaskOptions {
  std::vector<int> k_shots;
  Target target = Target::Future;
  size_t query_size = 16;
  size_t next_positions = 1;  // target "next": the query predicts this many items after the cut
};

struct TaskBatches {
  Batch support, query;
};

// One task: the user, K, the cut and the query items are drawn from rng (in this order).
TaskBatches sample_task(const std::vector<UserSeq>& seqs, const TaskOptions& o, std::mt19937_64& rng);

}  // namespace mr::rec
