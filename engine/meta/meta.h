// First-order meta-learning over a ParamStore's flat buffers.
//
// A task supplies two losses built on a tape: support (what the inner loop adapts on) and
// query (what the adapted model is judged on). For one task:
//   inner loop   theta' = theta; k times: theta'_s -= alpha * dL_support(theta')/dtheta'_s for the
//                parameters s in the adapt scope (the others are frozen meanwhile, so their
//                gradients are not even computed)
//   fomaml       meta-gradient += dL_query(theta')/dtheta'          (every trainable parameter)
//   reptile      meta-gradient += (theta - theta') / (k alpha)       (scope parameters; equal to
//                the support gradient when k = 1) and dL_query(theta')/dtheta' for the trainable
//                parameters outside the scope (which the inner loop does not move)
//   metasgd      first-order Meta-SGD: the inner step is theta'_s -= alpha_s * g_s with a learned
//                rate per parameter (inner_rates(), initialised to inner_lr); theta gets the
//                FOMAML gradient and alpha gets dL_query/dalpha = -g_query(theta') * sum of the
//                inner steps' support gradients (first order: the support gradients are constants)
//   none         meta-gradient += dL_query(theta) + dL_support(theta): plain multi-task training
//                on the same examples, no inner loop (the non-meta comparison)
//   theta is restored (one memcpy) before the next task. finish() writes the mean over the
// meta-batch into the gradient buffer, where clip_grad_norm and AdamW take it.
// Sharded meta-batches (engine/comm, docs/comm.md): each rank runs some of the tasks, then
// finish(reduce) sums the accumulators across ranks in one buffer before dividing by the total
// task count. The accumulators are fp64, so the sum does not depend (beyond fp64 rounding) on
// how the tasks were split, and 1 and N processes give the same fp32 gradient.
// Gradients never leak across tasks: the gradient buffer is zeroed before every backward.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/params.h"
#include "engine/tape.h"

namespace mr::meta {

struct MetaConfig {
  std::string algorithm = "fomaml";  // fomaml | reptile | metasgd | none
  int inner_steps = 1;               // k
  float inner_lr = 0.1f;             // alpha (SGD)
};

using LossFn = std::function<Var*(Tape&)>;

class MetaLearner {
 public:
  // in_scope(name): whether a parameter is adapted by the inner loop.
  MetaLearner(ParamStore& ps, std::function<bool(const std::string&)> in_scope, MetaConfig cfg);

  // k SGD steps on the scope parameters, in place (theta becomes theta'); metasgd uses the
  // learned per-parameter rates instead of lr. Returns the support loss before the first step.
  float adapt(Tape& t, const LossFn& support, int steps, float lr);
  float adapt(Tape& t, const LossFn& support) { return adapt(t, support, cfg_.inner_steps, cfg_.inner_lr); }

  // One task: accumulates its meta-gradient, restores theta. Returns the query loss at theta'.
  float task(Tape& t, const LossFn& support, const LossFn& query);
  // Writes the mean accumulated meta-gradient into ps.flat_grads() (metasgd: and the rate
  // gradient), clears the accumulators and returns the mean query loss of the meta-batch.
  // reduce, when given, sums the accumulator buffer over all ranks in place first; its layout:
  // meta-gradient (numel), metasgd rate gradient (numel, metasgd only), the extra gradient
  // (set_extra_grad), query-loss sum, task count. A rank may have run no task; the meta-batch as a whole must have one.
  using Reduce = std::function<void(double* buf, size_t n)>;
  double finish(const Reduce& reduce = {});
  // A gradient buffer outside the ParamStore (RecModel's per-step item table dV): zeroed with the
  // parameters' gradients before every backward, accumulated, reduced and averaged exactly like
  // the gradient of a trainable parameter outside the adapt scope; finish() writes its mean back
  // into it and forgets it. Set it before the meta-batch's first task (n fixed for a run).
  void set_extra_grad(float* g, size_t n);
  int tasks() const { return n_tasks_; }

  // theta snapshot / restore (used around evaluation-time adaptation as well).
  void snapshot();
  void restore();

  const MetaConfig& config() const { return cfg_; }
  // metasgd: the learned inner rates (one parameter "meta.inner_lr" with theta's flat layout;
  // entries outside the scope are unused) with their meta-gradient after finish(); null otherwise.
  // The caller steps an optimizer on it, then calls clamp_inner_rates().
  ParamStore* inner_rates() { return rates_.get(); }
  void clamp_inner_rates();

 private:
  void set_scope_frozen(bool on);
  float backward_into_grads(Tape& t, const LossFn& f);  // zero_grad, forward, backward
  double* rate_acc() { return acc_.data() + theta_.size(); }  // metasgd's part of acc_
  double* extra_acc() { return acc_.data() + theta_.size() * (rates_ ? 2 : 1); }
  void accumulate_extra();  // acc += the extra buffer (after a backward whose gradient counts)

  ParamStore& ps_;
  MetaConfig cfg_;
  std::vector<bool> scope_, base_frozen_;
  std::vector<float> theta_;
  std::vector<double> acc_;  // [meta-gradient | rate gradient (metasgd) | extra | query-loss sum | tasks]
  float* extra_ = nullptr;
  size_t n_extra_ = 0;
  std::unique_ptr<ParamStore> rates_;
  std::vector<float> gs_sum_;
  int n_tasks_ = 0;
};

}  // namespace mr::meta
