// Sampled softmax (loss.negatives = N > 0): the candidate columns of one batch and their
// logQ correction.
//
//   columns   the batch's targets, one column per row that has a target, in row order (in-batch
//             negatives for the other rows; duplicates allowed), then N sampled negatives.
//   label     row r's label is its own in-batch column.
//   masking   an accidental hit (a column other than row r's own whose item is row r's target)
//             gets -1e9 in row r, so it is neither a negative nor a second positive.
//   logQ      every other column m of item j gets -log E[count_j], E[count_j] the expected number
//             of times j is among the N sampled negatives (Bengio & Senecal 2008; TensorFlow's
//             sampled_softmax_loss subtracts the same log expected count, also from the true
//             column). This makes the sampled logits unbiased estimates of the full softmax's
//             ranking of j against the rest: items the sampler draws often are pushed down
//             less per draw. In-batch columns get the same correction for their item (they are
//             drawn from the data, i.e. about popularity, which the popularity sampler models;
//             with the uniform sampler the correction is one constant and cancels).
//   samplers  uniform: N distinct items without replacement (Floyd), every item once when
//             N >= n; E[count_j] = min(N, n) / n, the same for every item.
//             popularity: N draws with replacement from p_j = (c_j + 1)^alpha / Z, c_j the
//             item's count in the training interactions (+1: items never seen stay drawable and
//             have a finite correction); E[count_j] = N p_j.
#pragma once
#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace mr::rec {

enum class SamplerKind { Uniform, Popularity };  // loss.sampler

class NegativeSampler {
 public:
  // counts: one per item, needed for popularity.
  NegativeSampler(int64_t n_items, SamplerKind kind, double alpha, const std::vector<double>& counts);
  std::vector<int32_t> draw(int n, std::mt19937_64& rng) const;
  double log_expected_count(int32_t item, int n) const;
  int64_t n_items() const { return n_; }

 private:
  int64_t n_;
  bool uniform_;
  std::vector<double> p_, cdf_;
};

struct Candidates {
  std::vector<int32_t> items;  // M column items
  std::vector<int32_t> label;  // per row: its column, -100 for a row without a target
  std::vector<float> shift;    // (B, M): added to the logits (logQ correction and masking)
};

// targets: the batch's targets (-100 = none).
Candidates make_candidates(const std::vector<int32_t>& targets, const NegativeSampler& s, int n_neg,
                           std::mt19937_64& rng);

}  // namespace mr::rec
