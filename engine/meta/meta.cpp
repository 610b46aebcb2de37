// The MetaLearner: theta's snapshot, the adapt scope, the inner loop and the meta-gradient
// accumulators shared by every algorithm (engine/meta/meta.h).
#include "engine/meta/meta.h"

#include <algorithm>
#include <cstring>

#include "base/check.h"
#include "engine/meta/algorithm.h"

namespace mr::meta {

MetaLearner::MetaLearner(ParamStore& ps, std::function<bool(const std::string&)> in_scope, MetaConfig cfg,
                         const Backend& be)
    : ps_(ps), cfg_(cfg), be_(be), k_(be.kernels), numel_(size_t(ps.numel())) {
  MR_CHECK(ps.finalized(), "MetaLearner needs a finalized ParamStore");
  MR_CHECK(be.ready() && be.dev == ps.device(), "MetaLearner: parameters on {} need a ready backend of their device, got {}",
           device_name(ps.device()), be.str());
  MR_CHECK(cfg_.inner_steps >= 0 && cfg_.inner_lr >= 0, "meta.inner_steps and meta.inner_lr must be >= 0");
  for (const Param& p : ps.all()) {
    scope_.push_back(in_scope(p.name));
    base_frozen_.push_back(p.frozen);
  }
  theta_ = OwnedTensor(Shape{ps.numel()}, DType::F32, ps.device());
  alg_ = make_algorithm(cfg_, ps);
  own_numel_ = alg_->own_numel();
  layout(0);
}

MetaLearner::~MetaLearner() = default;

void MetaLearner::layout(size_t n_extra) {
  acc_ = OwnedTensor(Shape{int64_t(numel_ + own_numel_ + n_extra + 2)}, DType::F64, ps_.device());
  n_extra_ = n_extra;
}

ParamStore* MetaLearner::inner_rates() { return alg_->own_params(); }
void MetaLearner::after_update() { alg_->after_update(*this); }

void MetaLearner::snapshot() { copy(*theta_, ps_.flat_params()); }
void MetaLearner::restore() { copy(ps_.flat_params(), *theta_); }

void MetaLearner::set_scope_frozen(bool on) {
  size_t i = 0;
  for (Param& p : ps_.all()) {
    p.frozen = base_frozen_[i] || (on && !scope_[i]);
    ++i;
  }
}

float MetaLearner::backward_into_grads(Tape& t, const LossFn& f, bool query) {
  t.reset();  // also drops cached parameter vars, whose requires_grad follows Param::frozen
  ps_.zero_grad();
  if (extra_) fill_zero(Tensor{extra_, Shape{int64_t(n_extra_)}, DType::F32, ps_.device()});
  Var* loss = f(t);
  MR_CHECK(loss->v.numel() == 1 && loss->v.dtype == DType::F32 && loss->v.device == ps_.device(),
           "a meta-learning loss is one f32 value on the parameters' device");
  if (query) k_->acc_f64(acc_->f64() + acc_size() - 2, loss->v.f32(), 1);
  const float l = loss->v.device == Device::CPU ? loss->v.f32()[0] : std::nanf("");
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
  return lq;
}

void MetaLearner::accumulate_grads() { k_->acc_f64(acc_->f64(), ps_.flat_grads().f32(), int64_t(numel_)); }

void MetaLearner::set_extra_grad(float* g, size_t n) {
  MR_CHECK(n_tasks_ == 0, "set_extra_grad in the middle of a meta-batch");
  if (n != n_extra_) layout(n);  // between meta-batches acc_ is all zeros: re-lay it out
  extra_ = g;
}

void MetaLearner::accumulate_extra() {
  if (extra_) k_->acc_f64(extra_acc(), extra_, int64_t(n_extra_));
}

double MetaLearner::finish(const Reduce& reduce) {
  const size_t n = acc_size();
  double tail[2] = {0, double(n_tasks_)};  // [query-loss sum, tasks]: the count is the host's
  copy(acc_->rows(int64_t(n) - 1, int64_t(n)), Tensor{&tail[1], Shape{1}, DType::F64, Device::CPU});
  if (reduce) reduce(acc_->f64(), n);  // on the accumulator's device (NCCL for GPU parameters)
  copy(Tensor{tail, Shape{2}, DType::F64, Device::CPU}, acc_->rows(int64_t(n) - 2, int64_t(n)));
  const double tasks = tail[1], loss_sum = tail[0];
  MR_CHECK(tasks > 0, "MetaLearner::finish without tasks");
  const double inv = 1.0 / tasks;
  float* g = ps_.flat_grads().f32();
  ps_.zero_grad();  // frozen parameters get 0
  for (const ParamStore::Run& r : ps_.runs()) k_->f64_to_f32(g + r.offset, acc_->f64() + r.offset, inv, r.n);
  alg_->finish(*this, own_acc(), inv);
  if (extra_) {
    k_->f64_to_f32(extra_, extra_acc(), inv, int64_t(n_extra_));
    extra_ = nullptr;
  }
  fill_zero(*acc_);
  n_tasks_ = 0;
  return loss_sum * inv;
}

}  // namespace mr::meta
