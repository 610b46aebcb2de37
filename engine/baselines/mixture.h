// A mixture of two recommenders' next-item distributions (a hybrid, e.g. the meta-learned model
// with ItemKNN's co-occurrence evidence):
//   p_a = softmax(a's scores)        a: a model whose scores are logits (a metarec run)
//   p_b = max(b's scores, 0) / sum   b: non-negative evidence (itemknn, pop); when it sums to 0
//                                       for a case, p_b = p_a (the case keeps a's ranking)
//   score = log((1 - w) p_a + w p_b),  0 <= w <= 1; w = 0 ranks as a, w = 1 as b (ties aside).
#pragma once
#include <memory>
#include <vector>

#include "engine/baselines/model.h"

namespace mr::baselines {

std::unique_ptr<Model> make_mixture(std::unique_ptr<Model> a, std::unique_ptr<Model> b, double w);

// An ensemble of models whose scores are logits (metarec runs): score = log(mean_k softmax(s_k)),
// the log of the mean next-item distribution. At least two members.
std::unique_ptr<Model> make_ensemble(std::vector<std::unique_ptr<Model>> members);

// A non-owning view of m (name, fit, score and config forward to it); m must outlive it.
std::unique_ptr<Model> borrow(Model& m);

// "NAME:W" (e.g. "itemknn:0.8") -> NAME and W in [0, 1]; mr::Error naming `where` otherwise.
void parse_blend(const std::string& spec, const std::string& where, std::string* name, double* w);

}  // namespace mr::baselines
