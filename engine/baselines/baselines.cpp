// Baselines: popularity, ItemKNN (co-occurrence cosine), BPR-MF.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <unordered_set>

#include "engine/baselines/model.h"
#include "base/check.h"

namespace mr::baselines {

namespace {

uint64_t splitmix(uint64_t& s) {
  uint64_t z = (s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}
double uniform(uint64_t& s) { return (splitmix(s) >> 11) * 0x1.0p-53; }

// Popularity: the number of training interactions of each item.
class Pop : public Model {
 public:
  std::string name() const override { return "pop"; }
  void fit(const data::Split& sp) override {
    count_.assign(sp.n_items, 0.f);
    for (auto& x : sp.train) count_[x.item] += 1.f;
  }
  void score(const data::EvalCase&, std::span<float> out) const override {
    std::copy(count_.begin(), count_.end(), out.begin());
  }

 private:
  std::vector<float> count_;
};

// Random: uniform scores from a hash of (seed, user, item); the no-information reference.
class Random : public Model {
 public:
  explicit Random(uint64_t seed) : seed_(seed) {}
  std::string name() const override { return "random"; }
  void fit(const data::Split& sp) override { n_ = sp.n_items; }
  void score(const data::EvalCase& c, std::span<float> out) const override {
    for (size_t i = 0; i < n_; i++) {
      uint64_t s = seed_ ^ (static_cast<uint64_t>(c.user) << 32) ^ i;
      out[i] = static_cast<float>(uniform(s));
    }
  }

 private:
  uint64_t seed_;
  size_t n_ = 0;
};

// ItemKNN: cosine of the item-user co-occurrence (binary): sim(i,j) = c_ij / (sqrt(c_i c_j) +
// shrink), top-k neighbours per item; score(j) = sum over the case's distinct history items h of
// w_h sim(h,j), w_h = decay^p with p the number of places h's latest occurrence is before the
// most recent item (decay = 1: every item counts the same, the classic ItemKNN; decay < 1 leans
// on the recent items, as session-based KNN variants do).
class ItemKnn : public Model {
 public:
  explicit ItemKnn(const Options& o) : k_(o.knn_k), shrink_(o.knn_shrink), decay_(o.knn_decay) {
    MR_CHECK(decay_ > 0 && decay_ <= 1, "itemknn: the recency decay must be in (0, 1], got {}", decay_);
  }
  std::string name() const override { return "itemknn"; }
  nlohmann::json config() const override {
    nlohmann::json j = {{"k", k_}, {"shrink", shrink_}};
    if (decay_ != 1) j["decay"] = decay_;
    return j;
  }
  void fit(const data::Split& sp) override {
    size_t ni = sp.n_items;
    // unique items per user, users per item
    std::vector<std::vector<uint32_t>> ui(sp.n_users), iu(ni);
    for (auto& x : sp.train) ui[x.user].push_back(x.item);
    for (uint32_t u = 0; u < ui.size(); u++) {
      auto& v = ui[u];
      std::sort(v.begin(), v.end());
      v.erase(std::unique(v.begin(), v.end()), v.end());
      for (auto i : v) iu[i].push_back(u);
    }
    nbr_.assign(ni, {});
#pragma omp parallel
    {
      std::vector<float> c(ni, 0.f);
      std::vector<uint32_t> touched;
#pragma omp for schedule(dynamic, 64)
      for (size_t i = 0; i < ni; i++) {
        touched.clear();
        for (auto u : iu[i])
          for (auto j : ui[u]) {
            if (j == i) continue;
            if (c[j] == 0.f) touched.push_back(j);
            c[j] += 1.f;
          }
        std::vector<std::pair<float, uint32_t>> s;
        s.reserve(touched.size());
        for (auto j : touched) {
          double den = std::sqrt(static_cast<double>(iu[i].size()) * iu[j].size()) + shrink_;
          s.push_back({static_cast<float>(c[j] / den), j});
          c[j] = 0.f;
        }
        size_t k = std::min(k_, s.size());
        std::partial_sort(s.begin(), s.begin() + k, s.end(),
                          [](auto& a, auto& b) { return a.first > b.first || (a.first == b.first && a.second < b.second); });
        s.resize(k);
        nbr_[i] = std::move(s);
      }
    }
  }
  void score(const data::EvalCase& c, std::span<float> out) const override {
    std::fill(out.begin(), out.end(), 0.f);
    // (item, weight) per distinct history item, its latest occurrence counting
    std::vector<std::pair<uint32_t, float>> h;
    double w = 1;  // decay^p, p places before the most recent item
    for (auto it = c.history.rbegin(); it != c.history.rend(); ++it, w *= decay_) h.push_back({*it, float(w)});
    std::stable_sort(h.begin(), h.end(), [](auto& a, auto& b) { return a.first < b.first; });
    h.erase(std::unique(h.begin(), h.end(), [](auto& a, auto& b) { return a.first == b.first; }), h.end());
    for (auto& [i, w] : h)
      for (auto& [s, j] : nbr_[i]) out[j] += w * s;
  }

 private:
  size_t k_;
  double shrink_, decay_;
  std::vector<std::vector<std::pair<float, uint32_t>>> nbr_;
};

// BPR-MF (Rendle et al. 2009): SGD on -log sigmoid(p_u.(q_i - q_j)) + reg (|p_u|^2 + |q_i|^2 +
// |q_j|^2)/2, one uniformly sampled negative j per positive per epoch; deterministic.
class Bpr : public Model {
 public:
  explicit Bpr(const Options& o) : o_(o) {}
  std::string name() const override { return "bpr"; }
  nlohmann::json config() const override {
    return {{"dim", o_.bpr_dim}, {"epochs", o_.bpr_epochs}, {"lr", o_.bpr_lr}, {"reg", o_.bpr_reg}, {"seed", o_.seed}};
  }
  void fit(const data::Split& sp) override {
    size_t d = o_.bpr_dim, nu = sp.n_users, ni = sp.n_items;
    MR_CHECK(d > 0 && ni > 1, "bpr needs dim > 0 and at least two items");
    uint64_t rng = o_.seed * 0x2545F4914F6CDD1Dull + 1;
    auto normal = [&] {
      double a = std::max(uniform(rng), 1e-300), b = uniform(rng);
      return std::sqrt(-2 * std::log(a)) * std::cos(2 * M_PI * b);
    };
    n_items_ = ni;
    p_.resize(nu * d);
    q_.resize(ni * d);
    for (auto& x : p_) x = static_cast<float>(0.1 * normal());
    for (auto& x : q_) x = static_cast<float>(0.1 * normal());
    std::vector<std::pair<uint32_t, uint32_t>> pos;
    std::vector<std::unordered_set<uint32_t>> seen(nu);
    for (auto& x : sp.train)
      if (seen[x.user].insert(x.item).second) pos.push_back({x.user, x.item});
    if (pos.empty()) return;
    float lr = static_cast<float>(o_.bpr_lr), reg = static_cast<float>(o_.bpr_reg);
    std::vector<float> diff(d);
    for (size_t ep = 0; ep < o_.bpr_epochs; ep++) {
      for (size_t k = pos.size(); k > 1; k--) std::swap(pos[k - 1], pos[splitmix(rng) % k]);
      for (auto [u, i] : pos) {
        uint32_t j;
        int tries = 0;
        do j = static_cast<uint32_t>(splitmix(rng) % ni);
        while (seen[u].count(j) && ++tries < 100);
        if (seen[u].count(j)) continue;  // the user has (nearly) every item
        float* pu = &p_[u * d];
        float* qi = &q_[i * d];
        float* qj = &q_[j * d];
        double x = 0;
        for (size_t t = 0; t < d; t++) { diff[t] = qi[t] - qj[t]; x += pu[t] * diff[t]; }
        float g = static_cast<float>(1.0 / (1.0 + std::exp(x)));  // sigmoid(-x)
        for (size_t t = 0; t < d; t++) {
          float pu_t = pu[t];
          pu[t] += lr * (g * diff[t] - reg * pu_t);
          qi[t] += lr * (g * pu_t - reg * qi[t]);
          qj[t] += lr * (-g * pu_t - reg * qj[t]);
        }
      }
    }
  }
  void score(const data::EvalCase& c, std::span<float> out) const override {
    size_t d = o_.bpr_dim;
    const float* pu = &p_[c.user * d];
    for (size_t i = 0; i < n_items_; i++) {
      const float* qi = &q_[i * d];
      float s = 0;
      for (size_t t = 0; t < d; t++) s += pu[t] * qi[t];
      out[i] = s;
    }
  }

 private:
  Options o_;
  size_t n_items_ = 0;
  std::vector<float> p_, q_;  // (n_users, d), (n_items, d)
};

class TextSim : public Model {
 public:
  TextSim(std::vector<float> emb, size_t dim) : emb_(std::move(emb)), dim_(dim) {
    MR_CHECK(dim_ > 0 && emb_.size() % dim_ == 0, "text embeddings: {} values are not rows of {}", emb_.size(), dim_);
  }
  std::string name() const override { return "text"; }
  nlohmann::json config() const override { return {{"dim", dim_}}; }
  void fit(const data::Split& sp) override {
    MR_CHECK(emb_.size() / dim_ == sp.n_items, "text embeddings have {} rows, the data has {} items", emb_.size() / dim_,
             sp.n_items);
  }
  void score(const data::EvalCase& c, std::span<float> out) const override {
    std::vector<float> u(dim_, 0.f);
    for (auto h : c.history)
      for (size_t t = 0; t < dim_; t++) u[t] += emb_[h * dim_ + t];
    size_t n = out.size();
    for (size_t i = 0; i < n; i++) {
      const float* e = &emb_[i * dim_];
      float s = 0;
      for (size_t t = 0; t < dim_; t++) s += u[t] * e[t];
      out[i] = s;
    }
  }

 private:
  std::vector<float> emb_;  // (n_items, dim)
  size_t dim_;
};

}  // namespace

std::unique_ptr<Model> make_text_model(std::vector<float> emb, size_t dim) {
  return std::make_unique<TextSim>(std::move(emb), dim);
}

std::unique_ptr<Model> make_model(const std::string& name, const Options& opt) {
  if (name == "pop") return std::make_unique<Pop>();
  if (name == "random") return std::make_unique<Random>(opt.seed);
  if (name == "itemknn") return std::make_unique<ItemKnn>(opt);
  if (name == "bpr") return std::make_unique<Bpr>(opt);
  throw Error(fmt::format("unknown model '{}' (random, pop, itemknn, bpr; the text baseline needs the BERT encoder)", name));
}

}  // namespace mr::baselines
