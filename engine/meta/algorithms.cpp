// The four meta-learning algorithms (engine/meta/algorithm.h says what each adds) and
// make_algorithm, which picks one.
#include <algorithm>

#include "base/check.h"
#include "engine/meta/algorithm.h"

namespace mr::meta {

float MetaAlgorithm::adapt(MetaLearner& ml, Tape& t, const LossFn& support, int steps, float lr) {
  return ml.inner_loop(t, support, steps, [lr](float* w, const float* g, int64_t j, int64_t e) {
    for (; j < e; ++j) w[j] -= lr * g[j];
  });
}

namespace {

class FOMAML : public MetaAlgorithm {
 public:
  explicit FOMAML(const MetaConfig& c) : c_(c) {}
  float outer(MetaLearner& ml, Tape& t, const LossFn& support, const LossFn& query) override {
    adapt(ml, t, support, c_.inner_steps, c_.inner_lr);
    const float lq = ml.backward_into_grads(t, query);  // at theta'
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
    const float lq = ml.backward_into_grads(t, query);  // at theta'
    ml.accumulate_extra();
    const float inv = 1.0f / (float(c_.inner_steps) * c_.inner_lr);
    const float *g = ml.params().flat_grads().f32(), *w = ml.params().flat_params().f32(), *theta = ml.theta();
    double* acc = ml.meta_grad();
    size_t i = 0;
    for (const Param& p : ml.params().all()) {
      for (int64_t j = p.offset, e = p.offset + p.w.numel(); j < e; ++j)
        acc[j] += ml.in_scope(i) ? (theta[j] - w[j]) * inv : g[j];
      ++i;
    }
    return lq;
  }

 private:
  MetaConfig c_;
};

class MetaSGD : public FOMAML {
 public:
  MetaSGD(const MetaConfig& c, const ParamStore& ps) : FOMAML(c), n_(size_t(ps.numel())), gs_sum_(n_, 0.0f) {
    rates_.add("meta.inner_lr", Shape{ps.numel()}, false);
    rates_.finalize();
    float* a = rates_.flat_params().f32();
    for (size_t j = 0; j < n_; ++j) a[j] = c.inner_lr;
  }
  float adapt(MetaLearner& ml, Tape& t, const LossFn& support, int steps, float) override {
    std::fill(gs_sum_.begin(), gs_sum_.end(), 0.0f);
    const float* rate = rates_.flat_params().f32();
    return ml.inner_loop(t, support, steps, [&](float* w, const float* g, int64_t j, int64_t e) {
      for (; j < e; ++j) {
        w[j] -= rate[j] * g[j];
        gs_sum_[size_t(j)] += g[j];
      }
    });
  }
  float outer(MetaLearner& ml, Tape& t, const LossFn& support, const LossFn& query) override {
    const float lq = FOMAML::outer(ml, t, support, query);
    const float* g = ml.params().flat_grads().f32();
    double* ra = ml.own_acc();
    for (size_t j = 0; j < n_; ++j) ra[j] -= g[j] * gs_sum_[j];
    return lq;
  }
  ParamStore* own_params() override { return &rates_; }
  size_t own_numel() const override { return n_; }
  void finish(const double* ra, double inv) override {
    float* ga = rates_.flat_grads().f32();
    for (size_t j = 0; j < n_; ++j) ga[j] = float(ra[j] * inv);
  }
  void after_update() override {
    float* a = rates_.flat_params().f32();
    for (size_t j = 0; j < n_; ++j) a[j] = std::max(a[j], 0.0f);
  }

 private:
  size_t n_;
  ParamStore rates_;
  std::vector<float> gs_sum_;  // the inner steps' support gradients, summed
};

class NoMeta : public MetaAlgorithm {
 public:
  float outer(MetaLearner& ml, Tape& t, const LossFn& support, const LossFn& query) override {
    const float lq = ml.backward_into_grads(t, query);  // at theta
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
