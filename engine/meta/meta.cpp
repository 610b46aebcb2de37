#include "engine/meta/meta.h"

#include <algorithm>
#include <cstring>

#include "base/check.h"

namespace mr::meta {

MetaLearner::MetaLearner(ParamStore& ps, std::function<bool(const std::string&)> in_scope, MetaConfig cfg)
    : ps_(ps), cfg_(std::move(cfg)) {
  MR_CHECK(ps.finalized(), "MetaLearner needs a finalized ParamStore");
  MR_CHECK(ps.device() == Device::CPU, "MetaLearner runs on CPU parameters for now");
  MR_CHECK(cfg_.algorithm == "fomaml" || cfg_.algorithm == "reptile" || cfg_.algorithm == "metasgd" ||
               cfg_.algorithm == "none",
           "meta.algorithm must be fomaml, reptile, metasgd or none, got '{}'", cfg_.algorithm);
  MR_CHECK(cfg_.inner_steps >= 0 && cfg_.inner_lr >= 0, "meta.inner_steps and meta.inner_lr must be >= 0");
  MR_CHECK(cfg_.algorithm != "reptile" || (cfg_.inner_steps > 0 && cfg_.inner_lr > 0),
           "reptile needs meta.inner_steps > 0 and meta.inner_lr > 0");
  for (const Param& p : ps.all()) {
    scope_.push_back(in_scope(p.name));
    base_frozen_.push_back(p.frozen);
  }
  theta_.resize(size_t(ps.numel()));
  const size_t n = size_t(ps.numel());
  acc_.assign((cfg_.algorithm == "metasgd" ? 2 * n : n) + 2, 0.0);
  if (cfg_.algorithm == "metasgd") {
    rates_ = std::make_unique<ParamStore>();
    rates_->add("meta.inner_lr", Shape{ps.numel()}, false);
    rates_->finalize();
    float* a = rates_->flat_params().f32();
    for (int64_t j = 0; j < ps.numel(); ++j) a[j] = cfg_.inner_lr;
    gs_sum_.assign(size_t(ps.numel()), 0.0f);
  }
}

void MetaLearner::clamp_inner_rates() {
  if (!rates_) return;
  float* a = rates_->flat_params().f32();
  for (int64_t j = 0; j < rates_->numel(); ++j) a[j] = std::max(a[j], 0.0f);
}

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

float MetaLearner::adapt(Tape& t, const LossFn& support, int steps, float lr) {
  set_scope_frozen(true);
  float first = 0;
  const float* rate = rates_ ? rates_->flat_params().f32() : nullptr;
  if (rates_) std::fill(gs_sum_.begin(), gs_sum_.end(), 0.0f);
  try {
    for (int s = 0; s < steps; ++s) {
      const float l = backward_into_grads(t, support);
      if (s == 0) first = l;
      float* w = ps_.flat_params().f32();
      const float* g = ps_.flat_grads().f32();
      size_t i = 0;
      for (const Param& p : ps_.all()) {
        if (scope_[i] && !base_frozen_[i]) {
          if (rate) {
            for (int64_t j = p.offset, e = p.offset + p.w.numel(); j < e; ++j) {
              w[j] -= rate[j] * g[j];
              gs_sum_[size_t(j)] += g[j];
            }
          } else {
            for (int64_t j = p.offset, e = p.offset + p.w.numel(); j < e; ++j) w[j] -= lr * g[j];
          }
        }
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

float MetaLearner::task(Tape& t, const LossFn& support, const LossFn& query) {
  snapshot();
  const size_t n = theta_.size();
  float lq = 0;
  if (cfg_.algorithm == "none") {
    lq = backward_into_grads(t, query);
    const float* g = ps_.flat_grads().f32();
    for (size_t j = 0; j < n; ++j) acc_[j] += g[j];
    accumulate_extra();
    backward_into_grads(t, support);
    for (size_t j = 0; j < n; ++j) acc_[j] += g[j];
    accumulate_extra();
  } else {
    adapt(t, support);
    lq = backward_into_grads(t, query);  // at theta'
    const float* g = ps_.flat_grads().f32();
    const float* w = ps_.flat_params().f32();
    accumulate_extra();  // outside the scope: the query gradient at theta', for every algorithm
    if (cfg_.algorithm == "fomaml" || cfg_.algorithm == "metasgd") {
      for (size_t j = 0; j < n; ++j) acc_[j] += g[j];
      if (rates_) {
        double* ra = rate_acc();
        for (size_t j = 0; j < n; ++j) ra[j] -= g[j] * gs_sum_[j];
      }
    } else {  // reptile
      const float inv = 1.0f / (float(cfg_.inner_steps) * cfg_.inner_lr);
      size_t i = 0;
      for (const Param& p : ps_.all()) {
        for (int64_t j = p.offset, e = p.offset + p.w.numel(); j < e; ++j)
          acc_[j] += scope_[i] ? (theta_[j] - w[j]) * inv : g[j];
        ++i;
      }
    }
  }
  restore();
  t.reset();
  ps_.zero_grad();
  n_tasks_++;
  acc_[acc_.size() - 2] += lq;
  acc_[acc_.size() - 1] += 1;
  return lq;
}

void MetaLearner::set_extra_grad(float* g, size_t n) {
  MR_CHECK(n_tasks_ == 0, "set_extra_grad in the middle of a meta-batch");
  if (n != n_extra_) {  // between meta-batches acc_ is all zeros: re-lay it out
    acc_.assign(theta_.size() * (rates_ ? 2 : 1) + n + 2, 0.0);
    n_extra_ = n;
  }
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
  if (rates_) {
    float* ga = rates_->flat_grads().f32();
    const double* ra = rate_acc();
    for (int64_t j = 0; j < rates_->numel(); ++j) ga[j] = float(ra[j] * inv);
  }
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
