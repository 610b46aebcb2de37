// The MetaLearner: theta's snapshot, the adapt scope, the inner loop and the meta-gradient
// accumulators shared by every algorithm (engine/meta/meta.h).
#include "engine/meta/meta.h"

#include <algorithm>
#include <cstring>

#include "base/check.h"
#include "engine/meta/algorithm.h"

namespace mr::meta {

MetaLearner::MetaLearner(ParamStore& ps, std::function<bool(const std::string&)> in_scope, MetaConfig cfg)
    : ps_(ps), cfg_(cfg) {
  MR_CHECK(ps.finalized(), "MetaLearner needs a finalized ParamStore");
  MR_CHECK(ps.device() == Device::CPU, "MetaLearner runs on CPU parameters for now");
  MR_CHECK(cfg_.inner_steps >= 0 && cfg_.inner_lr >= 0, "meta.inner_steps and meta.inner_lr must be >= 0");
  for (const Param& p : ps.all()) {
    scope_.push_back(in_scope(p.name));
    base_frozen_.push_back(p.frozen);
  }
  theta_.resize(size_t(ps.numel()));
  alg_ = make_algorithm(cfg_, ps);
  own_numel_ = alg_->own_numel();
  layout(0);
}

MetaLearner::~MetaLearner() = default;

void MetaLearner::layout(size_t n_extra) {
  acc_.assign(theta_.size() + own_numel_ + n_extra + 2, 0.0);
  n_extra_ = n_extra;
}

ParamStore* MetaLearner::inner_rates() { return alg_->own_params(); }
void MetaLearner::after_update() { alg_->after_update(); }

void MetaLearner::snapshot() { std::memcpy(theta_.data(), ps_.flat_params().f32(), sizeof(float) * theta_.size()); }
void MetaLearner::restore() { std::memcpy(ps_.flat_params().f32(), theta_.data(), sizeof(float) * theta_.size()); }

void MetaLearner::set_scope_frozen(bool on) {
  size_t i = 0;
  for (Param& p : ps_.all()) {
    p.frozen = base_frozen_[i] || (on && !scope_[i]);
    ++i;
  }
}

float MetaLearner::backward_into_grads(Tape& t, const LossFn& f) {
  t.reset();  // also drops cached parameter vars, whose requires_grad follows Param::frozen
  ps_.zero_grad();
  if (extra_) std::fill(extra_, extra_ + n_extra_, 0.0f);
  Var* loss = f(t);
  const float l = loss->v.f32()[0];
  if (loss->requires_grad) t.backward(loss);
  return l;
}

float MetaLearner::inner_loop(Tape& t, const LossFn& support, int steps, const StepFn& step) {
  set_scope_frozen(true);
  float first = 0;
  try {
    for (int s = 0; s < steps; ++s) {
      const float l = backward_into_grads(t, support);
      if (s == 0) first = l;
      float* w = ps_.flat_params().f32();
      const float* g = ps_.flat_grads().f32();
      size_t i = 0;
      for (const Param& p : ps_.all()) {
        if (scope_[i] && !base_frozen_[i]) step(w, g, p.offset, p.offset + p.w.numel());
        ++i;
      }
    }
  } catch (...) {
    set_scope_frozen(false);
    throw;
  }
  set_scope_frozen(false);
  t.reset();
  ps_.zero_grad();
  return first;
}

float MetaLearner::adapt(Tape& t, const LossFn& support, int steps, float lr) {
  return alg_->adapt(*this, t, support, steps, lr);
}

float MetaLearner::task(Tape& t, const LossFn& support, const LossFn& query) {
  snapshot();
  const float lq = alg_->outer(*this, t, support, query);
  restore();
  t.reset();
  ps_.zero_grad();
  n_tasks_++;
  acc_[acc_.size() - 2] += lq;
  acc_[acc_.size() - 1] += 1;
  return lq;
}

void MetaLearner::accumulate_grads() {
  const float* g = ps_.flat_grads().f32();
  for (size_t j = 0; j < theta_.size(); ++j) acc_[j] += g[j];
}

void MetaLearner::set_extra_grad(float* g, size_t n) {
  MR_CHECK(n_tasks_ == 0, "set_extra_grad in the middle of a meta-batch");
  if (n != n_extra_) layout(n);  // between meta-batches acc_ is all zeros: re-lay it out
  extra_ = g;
}

void MetaLearner::accumulate_extra() {
  if (!extra_) return;
  double* a = extra_acc();
  for (size_t j = 0; j < n_extra_; ++j) a[j] += extra_[j];
}

double MetaLearner::finish(const Reduce& reduce) {
  if (reduce) reduce(acc_.data(), acc_.size());
  const double tasks = acc_.back(), loss_sum = acc_[acc_.size() - 2];
  MR_CHECK(tasks > 0, "MetaLearner::finish without tasks");
  float* g = ps_.flat_grads().f32();
  const double inv = 1.0 / tasks;
  for (const Param& p : ps_.all())
    for (int64_t j = p.offset, e = p.offset + p.w.numel(); j < e; ++j) g[j] = p.frozen ? 0.0f : float(acc_[j] * inv);
  alg_->finish(own_acc(), inv);
  if (extra_) {
    const double* ea = extra_acc();
    for (size_t j = 0; j < n_extra_; ++j) extra_[j] = float(ea[j] * inv);
    extra_ = nullptr;
  }
  std::fill(acc_.begin(), acc_.end(), 0.0);
  n_tasks_ = 0;
  return loss_sum * inv;
}

}  // namespace mr::meta
