#include "engine/rec/sampled.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <unordered_set>

#include "base/check.h"

namespace mr::rec {

NegativeSampler::NegativeSampler(int64_t n_items, SamplerKind kind, double alpha, const std::vector<double>& counts)
    : n_(n_items), uniform_(kind == SamplerKind::Uniform) {
  MR_CHECK(n_items > 0, "no items to sample");
  if (uniform_) return;
  MR_CHECK(int64_t(counts.size()) == n_items, "popularity sampler: {} counts for {} items", counts.size(), n_items);
  MR_CHECK(alpha >= 0, "loss.alpha must be >= 0, got {}", alpha);
  p_.resize(size_t(n_items));
  double z = 0;
  for (size_t j = 0; j < p_.size(); ++j) z += p_[j] = std::pow(counts[j] + 1.0, alpha);
  cdf_.resize(p_.size());
  double acc = 0;
  for (size_t j = 0; j < p_.size(); ++j) {
    p_[j] /= z;
    cdf_[j] = acc += p_[j];
  }
}

std::vector<int32_t> NegativeSampler::draw(int n, std::mt19937_64& rng) const {
  std::vector<int32_t> out;
  if (n <= 0) return out;
  if (uniform_) {
    if (n >= n_) {
      out.resize(size_t(n_));
      std::iota(out.begin(), out.end(), 0);
      return out;
    }
    std::unordered_set<int64_t> seen;  // Floyd's algorithm: n distinct items, uniformly
    for (int64_t j = n_ - n; j < n_; ++j) {
      const int64_t k = int64_t(rng() % uint64_t(j + 1));
      const int64_t pick = seen.count(k) ? j : k;
      seen.insert(pick);
      out.push_back(int32_t(pick));
    }
    return out;
  }
  for (int i = 0; i < n; ++i) {
    const double u = double(rng() >> 11) * 0x1.0p-53 * cdf_.back();
    auto it = std::upper_bound(cdf_.begin(), cdf_.end(), u);
    out.push_back(int32_t(std::min<ptrdiff_t>(it - cdf_.begin(), ptrdiff_t(n_ - 1))));
  }
  return out;
}

double NegativeSampler::log_expected_count(int32_t item, int n) const {
  if (uniform_) return std::log(double(std::min<int64_t>(n, n_)) / double(n_));
  return std::log(double(n) * p_[size_t(item)]);
}

Candidates make_candidates(const std::vector<int32_t>& targets, const NegativeSampler& s, int n_neg,
                           std::mt19937_64& rng) {
  Candidates c;
  const size_t B = targets.size();
  c.label.assign(B, -100);
  for (size_t r = 0; r < B; ++r) {
    if (targets[r] < 0) continue;
    MR_CHECK(targets[r] < s.n_items(), "target {} out of range", targets[r]);
    c.label[r] = int32_t(c.items.size());
    c.items.push_back(targets[r]);
  }
  auto neg = s.draw(n_neg, rng);
  c.items.insert(c.items.end(), neg.begin(), neg.end());
  const size_t M = c.items.size();
  std::vector<float> corr(M);
  for (size_t m = 0; m < M; ++m) corr[m] = float(-s.log_expected_count(c.items[m], n_neg));
  c.shift.resize(B * M);
  for (size_t r = 0; r < B; ++r)
    for (size_t m = 0; m < M; ++m)
      c.shift[r * M + m] = (targets[r] >= 0 && c.items[m] == targets[r] && int32_t(m) != c.label[r]) ? -1e9f : corr[m];
  return c;
}

}  // namespace mr::rec
