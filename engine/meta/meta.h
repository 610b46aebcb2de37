// First-order meta-learning over a ParamStore's flat buffers: the MetaLearner, which holds what
// every algorithm shares (theta's snapshot, the adapt scope, the inner SGD loop, the fp64
// meta-gradient accumulator), and the algorithm it was made with (engine/meta/algorithm.h:
// fomaml, reptile, metasgd or none, chosen once at construction).
//
// A task supplies two losses built on a tape: support (what the inner loop adapts on) and
// query (what the adapted model is judged on). For one task:
//   inner loop   theta' = theta; k times: theta'_s -= alpha * dL_support(theta')/dtheta'_s for the
//                parameters s in the adapt scope (the others are frozen meanwhile, so their
//                gradients are not even computed)
//   outer        the algorithm adds the task's meta-gradient into the accumulator
//                (algorithm.h says what each one adds); theta is restored (one memcpy) before the
//                next task. finish() writes the mean over the meta-batch into the gradient
//                buffer, where clip_grad_norm and AdamW take it.
// Sharded meta-batches (engine/comm, docs/comm.md): each rank runs some of the tasks, then
// finish(reduce) sums the accumulators across ranks in one buffer before dividing by the total
// task count. The accumulators are fp64, so the sum does not depend (beyond fp64 rounding) on
// how the tasks were split, and 1 and N processes give the same fp32 gradient.
// Gradients never leak across tasks: the gradient buffer is zeroed before every backward.
// Device: the learner works wherever its ParamStore lives, through the kernel table of the
// backend it is given (the flat ops of kernels/ops.def: acc_f64, acc_diff_f64, acc_prod_f64,
// f64_to_f32, metasgd_step, axpy, clamp_min): theta's snapshot, the fp64 accumulators and
// Meta-SGD's rates stay on the device and nothing is copied to the host inside a task. The
// query losses are summed on the device too; the losses adapt() and task() return are NaN on a
// device (reading them would synchronise every task), and finish() returns the mean.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/backend.h"
#include "engine/params.h"
#include "engine/tape.h"

namespace mr::meta {

enum class Algorithm { FOMAML, Reptile, MetaSGD, None };

struct MetaConfig {
  Algorithm algorithm = Algorithm::FOMAML;
  int inner_steps = 1;    // k
  float inner_lr = 0.1f;  // alpha (SGD)
};

using LossFn = std::function<Var*(Tape&)>;
class MetaAlgorithm;

class MetaLearner {
 public:
  // in_scope(name): whether a parameter is adapted by the inner loop.
  // be: the backend of ps's device (its kernels run the flat updates).
  MetaLearner(ParamStore& ps, std::function<bool(const std::string&)> in_scope, MetaConfig cfg, const Backend& be = {});
  ~MetaLearner();

  // k SGD steps on the scope parameters, in place (theta becomes theta'); metasgd uses the
  // learned per-parameter rates instead of lr. Returns the support loss before the first step.
  float adapt(Tape& t, const LossFn& support, int steps, float lr);
  float adapt(Tape& t, const LossFn& support) { return adapt(t, support, cfg_.inner_steps, cfg_.inner_lr); }

  // One task: accumulates its meta-gradient, restores theta. Returns the query loss at theta'.
  float task(Tape& t, const LossFn& support, const LossFn& query);
  // Writes the mean accumulated meta-gradient into ps.flat_grads() (metasgd: and the rate
  // gradient), clears the accumulators and returns the mean query loss of the meta-batch.
  // reduce, when given, sums the accumulator buffer over all ranks in place first (the buffer is
  // on the parameters' device: a device pointer for GPU parameters, NCCL's); its layout:
  // meta-gradient (numel), the algorithm's own gradient (metasgd's rates: numel), the extra
  // gradient (set_extra_grad), query-loss sum, task count. A rank may have run no task; the
  // meta-batch as a whole must have one.
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
  // The algorithm's own meta-parameters, trained by the outer optimizer next to theta (metasgd:
  // the learned inner rates, one parameter "meta.inner_lr" with theta's flat layout; entries
  // outside the scope are unused), with their meta-gradient after finish(); null otherwise.
  // The caller steps an optimizer on it, then calls after_update().
  ParamStore* inner_rates();
  void after_update();  // metasgd: clamps the rates at 0

  // ---- for the algorithms (engine/meta/algorithm.h)
  // Zeroes the gradients (and the extra buffer), builds f on a fresh tape and backpropagates it;
  // returns the loss (NaN on a device). query: the loss is the task's query loss, added (on the
  // device) into the accumulator's query-loss sum.
  float backward_into_grads(Tape& t, const LossFn& f, bool query = false);
  // The inner loop: `steps` times backward_into_grads(support) with only the scope trainable,
  // then step(w, g, begin, end) over the flat range of every trainable scope parameter. Returns
  // the loss before the first step; leaves the tape reset and the gradients zero.
  using StepFn = std::function<void(float* w, const float* g, int64_t begin, int64_t end)>;
  float inner_loop(Tape& t, const LossFn& support, int steps, const StepFn& step);
  void accumulate_grads();  // meta-gradient += the gradient buffer
  void accumulate_extra();  // the extra accumulator += the extra buffer (after a backward whose gradient counts)
  void add_tasks(int n) { n_tasks_ += n; }  // tasks run outside task() (engine/rec/batched.h)
  // Freezes every trainable parameter outside the adapt scope (as the inner loop does), or thaws.
  void freeze_outside_scope(bool on) { set_scope_frozen(on); }
  double* meta_grad() { return acc_->f64(); }               // the meta-gradient accumulator (numel)
  double* own_acc() { return acc_->f64() + numel_; }        // the algorithm's own segment
  const float* theta() const { return theta_->f32(); }      // the snapshot
  const KernelTable& k() const { return *k_; }              // the flat ops on the parameters' device
  const Backend& backend() const { return be_; }
  bool in_scope(size_t param) const { return scope_[param]; }
  ParamStore& params() { return ps_; }

 private:
  void set_scope_frozen(bool on);
  double* extra_acc() { return own_acc() + own_numel_; }
  void layout(size_t n_extra);  // acc_ = [meta-gradient | own | extra | query-loss sum | tasks], zeros
  size_t acc_size() const { return size_t(acc_->numel()); }

  ParamStore& ps_;
  MetaConfig cfg_;
  Backend be_;
  const KernelTable* k_;
  size_t numel_;
  std::vector<bool> scope_, base_frozen_;
  OwnedTensor theta_;  // (numel) f32 on the device
  std::unique_ptr<MetaAlgorithm> alg_;
  size_t own_numel_ = 0;
  OwnedTensor acc_;    // f64 on the device
  float* extra_ = nullptr;
  size_t n_extra_ = 0;
  int n_tasks_ = 0;
};

}  // namespace mr::meta
