// The meta-learning algorithms behind one interface: adapt theta to a task's support set, and
// add the task's outer update (its meta-gradient) into the MetaLearner's accumulator. One is
// made when the MetaLearner is (make_algorithm); the training loop never asks which.
//   fomaml   meta-gradient += dL_query(theta')/dtheta'          (every trainable parameter)
//   reptile  meta-gradient += (theta - theta') / (k alpha)       (scope parameters; equal to
//            the support gradient when k = 1) and dL_query(theta')/dtheta' for the trainable
//            parameters outside the scope (which the inner loop does not move)
//   metasgd  first-order Meta-SGD: the inner step is theta'_s -= alpha_s * g_s with a learned
//            rate per parameter (own_params(), initialised to inner_lr); theta gets the FOMAML
//            gradient and alpha gets dL_query/dalpha = -g_query(theta') * sum of the inner
//            steps' support gradients (first order: the support gradients are constants)
//   none     meta-gradient += dL_query(theta) + dL_support(theta): plain multi-task training on
//            the same examples, no inner loop (the non-meta comparison; adapt() is plain SGD,
//            for fine-tuning at evaluation)
// In every algorithm the extra gradient (MetaLearner::set_extra_grad) counts where theta's
// gradient outside the scope does: at theta' (at theta for none, from both losses).
#pragma once
#include <memory>

#include "engine/meta/meta.h"

namespace mr::meta {

class MetaAlgorithm {
 public:
  virtual ~MetaAlgorithm() = default;
  // theta -> theta' in place: `steps` inner steps on the support loss (SGD at rate lr, unless
  // the algorithm learns its rates). Returns the support loss before the first step.
  virtual float adapt(MetaLearner& ml, Tape& t, const LossFn& support, int steps, float lr);
  // One task, from theta (the learner's snapshot): adapts or not, and adds the task's
  // meta-gradient into ml's accumulators. Returns the query loss it was judged on. The learner
  // restores theta afterwards.
  virtual float outer(MetaLearner& ml, Tape& t, const LossFn& support, const LossFn& query) = 0;
  // The algorithm's own meta-parameters (null: none) and its accumulator segment: own_numel()
  // doubles at ml.own_acc(); finish() turns their mean (scaled by inv = 1 / tasks) into the
  // own parameters' gradient.
  virtual ParamStore* own_params() { return nullptr; }
  virtual size_t own_numel() const { return 0; }
  virtual void finish(MetaLearner& ml, const double* own_acc, double inv) {}
  virtual void after_update(MetaLearner& ml) {}  // after the outer optimizer stepped own_params()
};

// Its state lives on ps's device; every flat update runs through the learner's kernels (ml.k()).
std::unique_ptr<MetaAlgorithm> make_algorithm(const MetaConfig& c, const ParamStore& ps);

}  // namespace mr::meta
