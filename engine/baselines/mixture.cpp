#include "engine/baselines/mixture.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include <fmt/format.h>

#include "base/error.h"

namespace mr::baselines {
namespace {

// p = softmax(s), in double
void softmax(const std::vector<float>& s, std::vector<double>& p) {
  double mx = -INFINITY, z = 0;
  for (float v : s) mx = std::max(mx, double(v));
  p.resize(s.size());
  for (size_t i = 0; i < s.size(); ++i) z += p[i] = std::exp(double(s[i]) - mx);
  for (double& v : p) v /= z;
}

class Mixture : public Model {
 public:
  Mixture(std::unique_ptr<Model> a, std::unique_ptr<Model> b, double w) : a_(std::move(a)), b_(std::move(b)), w_(w) {
    if (!(w >= 0.0 && w <= 1.0)) throw Error(fmt::format("mixture weight {} is not in [0, 1]", w));
  }
  std::string name() const override { return fmt::format("{} + {} {:g}", a_->name(), b_->name(), w_); }
  void fit(const data::Split& sp) override {
    a_->fit(sp);
    b_->fit(sp);
  }
  void score(const data::EvalCase& c, std::span<float> out) const override {
    const size_t n = out.size();
    std::vector<float> sb(n);
    a_->score(c, out);
    b_->score(c, sb);
    blend(out, sb);
  }
  // both models score the tile (each may batch it), then each row is blended
  void score_tile(std::span<const data::EvalCase* const> cases, std::span<float> out) const override {
    std::vector<float> sb(out.size());
    a_->score_tile(cases, out);
    b_->score_tile(cases, sb);
    const size_t n = cases.empty() ? 0 : out.size() / cases.size();
#pragma omp parallel for schedule(dynamic, 4)
    for (size_t r = 0; r < cases.size(); ++r) blend(out.subspan(r * n, n), std::span<const float>(sb).subspan(r * n, n));
  }
  nlohmann::json config() const override {
    return {{"mixture", {{"a", a_->name()}, {"b", b_->name()}, {"weight", w_}}}, {"a", a_->config()}, {"b", b_->config()}};
  }

 private:
  // out = log((1 - w) softmax(a) + w b / sum(b)), with out holding a's scores on entry
  void blend(std::span<float> out, std::span<const float> sb) const {
    const size_t n = out.size();
    std::vector<double> pa;
    softmax(std::vector<float>(out.begin(), out.end()), pa);
    double zb = 0;
    for (float v : sb) zb += std::max(0.0, double(v));
    for (size_t i = 0; i < n; ++i) {
      const double p = pa[i], q = zb > 0 ? std::max(0.0, double(sb[i])) / zb : p;
      out[i] = float(std::log(std::max((1 - w_) * p + w_ * q, 1e-300)));
    }
  }
  std::unique_ptr<Model> a_, b_;
  double w_;
};

class Ensemble : public Model {
 public:
  explicit Ensemble(std::vector<std::unique_ptr<Model>> m) : m_(std::move(m)) {
    if (m_.size() < 2) throw Error(fmt::format("an ensemble needs at least two models, got {}", m_.size()));
  }
  std::string name() const override {
    std::string s = "ensemble(";
    for (size_t k = 0; k < m_.size(); ++k) s += (k ? ", " : "") + m_[k]->name();
    return s + ")";
  }
  void fit(const data::Split& sp) override {
    for (auto& m : m_) m->fit(sp);
  }
  void score(const data::EvalCase& c, std::span<float> out) const override {
    const size_t n = out.size();
    std::vector<float> s(n);
    std::vector<double> p(n, 0.0), pk;
    for (auto& m : m_) {
      m->score(c, s);
      softmax(s, pk);
      for (size_t i = 0; i < n; ++i) p[i] += pk[i];
    }
    for (size_t i = 0; i < n; ++i) out[i] = float(std::log(std::max(p[i] / double(m_.size()), 1e-300)));
  }
  nlohmann::json config() const override {
    nlohmann::json j = nlohmann::json::array();
    for (auto& m : m_) j.push_back({{"name", m->name()}, {"config", m->config()}});
    return {{"ensemble", j}};
  }

 private:
  std::vector<std::unique_ptr<Model>> m_;
};

class Borrowed : public Model {
 public:
  explicit Borrowed(Model& m) : m_(m) {}
  std::string name() const override { return m_.name(); }
  void fit(const data::Split& sp) override { m_.fit(sp); }
  void score(const data::EvalCase& c, std::span<float> out) const override { m_.score(c, out); }
  nlohmann::json config() const override { return m_.config(); }

 private:
  Model& m_;
};

}  // namespace

std::unique_ptr<Model> borrow(Model& m) { return std::make_unique<Borrowed>(m); }

void parse_blend(const std::string& spec, const std::string& where, std::string* name, double* w) {
  const auto colon = spec.rfind(':');
  double v = -1;
  if (colon != std::string::npos && colon + 1 < spec.size()) {
    try {
      size_t used = 0;
      v = std::stod(spec.substr(colon + 1), &used);
      if (used != spec.size() - colon - 1) v = -1;
    } catch (const std::exception&) {
      v = -1;
    }
  }
  if (colon == std::string::npos || colon == 0 || !(v >= 0 && v <= 1))
    throw Error(fmt::format("{} '{}': expected NAME:W with W in [0, 1], e.g. itemknn:0.3", where, spec));
  *name = spec.substr(0, colon);
  *w = v;
}

std::unique_ptr<Model> make_mixture(std::unique_ptr<Model> a, std::unique_ptr<Model> b, double w) {
  return std::make_unique<Mixture>(std::move(a), std::move(b), w);
}

std::unique_ptr<Model> make_ensemble(std::vector<std::unique_ptr<Model>> members) {
  return std::make_unique<Ensemble>(std::move(members));
}

}  // namespace mr::baselines
