// The four meta-learning algorithms (engine/meta/algorithm.h says what each adds) and
// make_algorithm, which picks one.
#include <algorithm>

#include "base/check.h"
#include "engine/meta/algorithm.h"

namespace mr::meta {

float MetaAlgorithm::adapt(MetaLearner& ml, Tape& t, const LossFn& support, int steps, float lr) {
  const KernelTable& k = ml.k();
  return ml.inner_loop(t, support, steps, [&k, lr](float* w, const float* g, int64_t j, int64_t e) {
    k.axpy(w + j, g + j, -lr, e - j, kAccumulate);  // w -= lr g
  });
}

namespace {

class FOMAML : public MetaAlgorithm {
 public:
  explicit FOMAML(const MetaConfig& c) : c_(c) {}
  float outer(MetaLearner& ml, Tape& t, const LossFn& support, const LossFn& query) override {
    adapt(ml, t, support, c_.inner_steps, c_.inner_lr);
    const float lq = ml.backward_into_grads(t, query, true);  // at theta'
    ml.accumulate_extra();
    ml.accumulate_grads();
    return lq;
  }

 protected:
  MetaConfig c_;
};

class Reptile : public MetaAlgorithm {
 public:
  explicit Reptile(const MetaConfig& c) : c_(c) {
    MR_CHECK(c.inner_steps > 0 && c.inner_lr > 0, "reptile needs meta.inner_steps > 0 and meta.inner_lr > 0");
  }
  float outer(MetaLearner& ml, Tape& t, const LossFn& support, const LossFn& query) override {
    adapt(ml, t, support, c_.inner_steps, c_.inner_lr);
    const float lq = ml.backward_into_grads(t, query, true);  // at theta'
    ml.accumulate_extra();
    const float inv = 1.0f / (float(c_.inner_steps) * c_.inner_lr);
    const float *g = ml.params().flat_grads().f32(), *w = ml.params().flat_params().f32(), *theta = ml.theta();
    double* acc = ml.meta_grad();
    const KernelTable& k = ml.k();
    size_t i = 0;
    for (const Param& p : ml.params().all()) {
      const int64_t j = p.offset, n = p.w.numel();
      if (ml.in_scope(i)) k.acc_diff_f64(acc + j, theta + j, w + j, inv, n);  // (theta - theta') / (k alpha)
      else k.acc_f64(acc + j, g + j, n);
      ++i;
    }
    return lq;
  }

 private:
  MetaConfig c_;
};

class MetaSGD : public FOMAML {
 public:
  MetaSGD(const MetaConfig& c, const ParamStore& ps) : FOMAML(c), n_(ps.numel()) {
    rates_.add("meta.inner_lr", Shape{n_}, false);
    rates_.finalize();
    float* a = rates_.flat_params().f32();
    for (int64_t j = 0; j < n_; ++j) a[j] = c.inner_lr;
    rates_.to(ps.device());
    gs_sum_ = OwnedTensor(Shape{n_}, DType::F32, ps.device());
  }
  float adapt(MetaLearner& ml, Tape& t, const LossFn& support, int steps, float) override {
    fill_zero(*gs_sum_);
    const float* rate = rates_.flat_params().f32();
    float* gs = gs_sum_->f32();
    const KernelTable& k = ml.k();
    return ml.inner_loop(t, support, steps, [&](float* w, const float* g, int64_t j, int64_t e) {
      k.metasgd_step(w + j, gs + j, g + j, rate + j, e - j);  // w -= rate g; gs += g
    });
  }
  float outer(MetaLearner& ml, Tape& t, const LossFn& support, const LossFn& query) override {
    const float lq = FOMAML::outer(ml, t, support, query);
    ml.k().acc_prod_f64(ml.own_acc(), ml.params().flat_grads().f32(), gs_sum_->f32(), -1.0f, n_);  // -= g_q gs
    return lq;
  }
  ParamStore* own_params() override { return &rates_; }
  size_t own_numel() const override { return size_t(n_); }
  void finish(MetaLearner& ml, const double* ra, double inv) override {
    ml.k().f64_to_f32(rates_.flat_grads().f32(), ra, inv, n_);
  }
  void after_update(MetaLearner& ml) override { ml.k().clamp_min(rates_.flat_params().f32(), n_, 0.0f); }

 private:
  int64_t n_;
  ParamStore rates_;
  OwnedTensor gs_sum_;  // the inner steps' support gradients, summed
};

// the non-meta twin: plain multi-task training on the same examples
class NoMeta : public MetaAlgorithm {
 public:
  float outer(MetaLearner& ml, Tape& t, const LossFn& support, const LossFn& query) override {
    const float lq = ml.backward_into_grads(t, query, true);  // at theta
    ml.accumulate_grads();
    ml.accumulate_extra();
    ml.backward_into_grads(t, support);
    ml.accumulate_grads();
    ml.accumulate_extra();
    return lq;
  }
};

}  // namespace

std::unique_ptr<MetaAlgorithm> make_algorithm(const MetaConfig& c, const ParamStore& ps) {
  switch (c.algorithm) {
    case Algorithm::FOMAML: return std::make_unique<FOMAML>(c);
    case Algorithm::Reptile: return std::make_unique<Reptile>(c);
    case Algorithm::MetaSGD: return std::make_unique<MetaSGD>(c, ps);
    case Algorithm::None: return std::make_unique<NoMeta>();
  }
  throw Error("unknown meta algorithm");
}

}  // namespace mr::meta
