// The tasks of a meta-batch adapted together (train.batch_tasks, issue 20 item 2). With
// meta.scope = "head", the per-step item table (encoder.train_layers = 0) and the full softmax,
// the inner loop moves only the head, so every task's fast weights are one slice of a (T, C, C)
// weight and a (T, C) bias, and each pass over the meta-batch (the user tower, the head, the
// logits, the loss, their backward) is one set of launches whatever the number of tasks T (the
// per-task loop, MetaLearner::task, launches every op once per task). Still per task: the flat
// fp64 accumulation of each task's head term (2-4 small launches) and Meta-SGD's inner step (2):
//   support features  P = user tower (every support row of every task, at theta; no gradient)
//   inner step        u = grouped_linear(P, W, b) (row r uses its task's W_t, b_t)
//                     logits = (u V^T + bias) / tau: one GEMM for all tasks (V is shared)
//                     loss = sum over tasks of the task's mean cross-entropy (row weights 1 / S_t)
//                     backward -> dW (T, C, C), db (T, C); W -= lr dW (Meta-SGD: the learned rates)
//   query             the same forward from the query rows at theta with W', b', backpropagated
//                     into the user tower, the step table (dV) and dW', db'
//   accumulate        the learner's fp64 accumulators: theta's gradient outside the head and dV
//                     (already summed over the tasks by the backward), and per task the head's
//                     term: dW'_t (fomaml, metasgd, none), (theta - W'_t) / (k alpha) (reptile),
//                     Meta-SGD's rate gradient -dW'_t * (sum of the task's inner gradients)
// meta.algorithm = none runs the query and the support rows at theta (W_t = theta's head).
// The result equals the per-task loop up to fp32 summation order when dropout is 0
// (tests/rec/batched_test.cpp). With dropout the draws differ: one mask per pass over the whole
// meta-batch, and the support features (so their masks) are computed once for all inner steps,
// where the per-task loop draws new ones at every inner step. Across ranks the sum over a rank's
// tasks is inside fp32 GEMMs, so N processes equal one to fp32 rounding, not bit for bit. The
// per-task loop names the first task with a non-finite query loss on the CPU; this names the step.
// The tape's arena holds a whole meta-batch's activations: it grows (on a device, a new chunk) when
// a step has more rows than every step before it, as the per-task loop's does for a larger task.
#pragma once
#include <string>
#include <vector>

#include "engine/meta/meta.h"
#include "engine/rec/config.h"
#include "engine/rec/model.h"
#include "engine/rec/tasks.h"

namespace mr::rec {

class TaskBatcher {
 public:
  // Why c cannot batch its tasks (empty: it can).
  static std::string unsupported(const Config& c);
  // max_tasks: the most tasks one run() gets (a rank's share of the meta-batch); every buffer is
  // allocated here, none in run().
  TaskBatcher(const Config& c, RecModel& m, meta::MetaLearner& ml, int max_tasks);
  // One meta-batch's tasks (this rank's share), between RecModel::begin_step and
  // MetaLearner::finish: adds their meta-gradient, dV, query-loss sum and count to the learner.
  void run(Tape& t, const std::vector<const TaskBatches*>& tasks);

 private:
  struct Rows {  // the tasks' batches as one
    Batch b;
    std::vector<int32_t> offsets{0};
    std::vector<float> weight;  // 1 / (rows of the task with a target)
  };
  static Rows concat(const std::vector<const TaskBatches*>& tasks, bool query);
  // The sum of the tasks' mean cross-entropies of features P (rows r) at W, b, table V.
  Var* loss(Tape& t, const Rows& r, Var* P, Var* V);
  void accumulate_head(int T);

  meta::Algorithm alg_;
  int steps_;
  float lr_;
  RecModel& m_;
  meta::MetaLearner& ml_;
  int max_;
  int64_t CC_, C_;
  OwnedTensor W_, b_, dW_, db_;  // (max, C, C), (max, C): the fast weights and their gradients
  OwnedTensor gsW_, gsb_;        // Meta-SGD: the inner steps' gradients, summed
};

}  // namespace mr::rec
