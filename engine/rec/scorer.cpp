// A trained model adapted to a history (engine/rec/scorer.h).
#include "engine/rec/scorer.h"

namespace mr::rec {

int inner_adapt_steps(const Config& c) {
  return c.meta.algorithm == meta::Algorithm::None ? 0 : int(c.meta.inner_steps);
}

int eval_adapt_steps(const Config& c, int requested) {
  if (requested >= 0) return requested;
  if (c.eval.adapt_steps >= 0) return int(c.eval.adapt_steps);
  return inner_adapt_steps(c);
}

Batch support_batch(const std::vector<uint32_t>& h, size_t max_examples) {
  Batch b;
  const size_t n = h.size(), from = n > max_examples ? n - max_examples : 0;
  for (size_t j = from; j < n; ++j) b.add(std::vector<uint32_t>(h.begin(), h.begin() + j), int32_t(h[j]));
  return b;
}

AdaptedScorer::AdaptedScorer(std::string name, RecModel& m, meta::MetaLearner& ml, int adapt_steps, float lr,
                             bool item_tower_fixed)
    : name_(std::move(name)),
      m_(m),
      ml_(ml),
      steps_(adapt_steps),
      lr_(lr),
      arena_(m.backend().dev),
      tape_(std::make_unique<Tape>(arena_, m.backend())) {
  tape_->set_training(false);
  // adaptation does not touch the item tower: compute the item table once
  if (item_tower_fixed || steps_ == 0) m_.cache_item_table();
}

AdaptedScorer::AdaptedScorer(std::string name, LoadedRun& r, int adapt_steps)
    : AdaptedScorer(std::move(name), *r.model, *r.ml, adapt_steps, float(r.cfg.meta.inner_lr), r.cfg.meta.scope != Scope::All) {}

AdaptedScorer::~AdaptedScorer() { m_.clear_item_table(); }

std::vector<float> AdaptedScorer::scores(const std::vector<uint32_t>& history) const {
  std::lock_guard<std::mutex> lk(mu_);
  std::vector<float> s;
  if (steps_ > 0 && !history.empty()) {
    ml_.snapshot();
    Batch sb = support_batch(history, size_t(m_.config().max_history));
    try {
      ml_.adapt(*tape_, [&](Tape& t) { return m_.loss(t, sb); }, steps_, lr_);
      tape_->reset();
      s = m_.score(*tape_, history);
    } catch (...) {
      ml_.restore();
      throw;
    }
    ml_.restore();
  } else {
    tape_->reset();
    s = m_.score(*tape_, history);
  }
  tape_->reset();
  return s;
}

Tensor AdaptedScorer::user_rows(std::span<const data::EvalCase* const> cases) const {
  const size_t R = cases.size();
  const bool adapt = steps_ > 0;
  const int64_t C = m_.config().dim;
  if (!users_->defined() || users_->shape[0] < int64_t(R)) users_ = OwnedTensor(Shape{int64_t(R), C}, DType::F32, m_.backend().dev);
  const Tensor U = users_->rows(0, int64_t(R));
  if (!adapt) {  // one user-tower pass for the tile
    Batch b;
    for (auto* c : cases) b.add(c->history, -100);
    tape_->reset();
    copy(U, m_.users(*tape_, b)->v);
  } else {  // each case adapts its own copy of theta; its user vector goes into row r
    for (size_t r = 0; r < R; ++r) {
      const auto& h = cases[r]->history;
      Batch one;
      one.add(h, -100);
      tape_->reset();
      if (h.empty()) {
        copy(U.rows(int64_t(r), int64_t(r) + 1), m_.users(*tape_, one)->v);
        continue;
      }
      ml_.snapshot();
      Batch sb = support_batch(h, size_t(m_.config().max_history));
      try {
        ml_.adapt(*tape_, [&](Tape& t) { return m_.loss(t, sb); }, steps_, lr_);
        tape_->reset();
        copy(U.rows(int64_t(r), int64_t(r) + 1), m_.users(*tape_, one)->v);
      } catch (...) {
        ml_.restore();
        throw;
      }
      ml_.restore();
    }
  }
  return U;
}

void AdaptedScorer::score_tile(std::span<const data::EvalCase* const> cases, std::span<float> out) const {
  const size_t R = cases.size(), N = size_t(m_.n_items());
  MR_CHECK(out.size() == R * N, "score_tile: {} outputs for {} cases x {} items", out.size(), R, N);
  if (R == 0) return;
  const bool adapt = steps_ > 0;
  if (adapt && !m_.item_table_cached()) {  // the item tower adapts too (scope all): one case at a time
    for (size_t r = 0; r < R; ++r) score(*cases[r], out.subspan(r * N, N));
    return;
  }
  std::lock_guard<std::mutex> lk(mu_);
  try {
    const Tensor U = user_rows(cases);
    // theta is restored: the item table and biases are the model's own; one product for the tile
    tape_->reset();
    m_.score_users(*tape_, tape_->input(U), out);
  } catch (...) {
    tape_->reset();
    throw;
  }
  tape_->reset();
}

void AdaptedScorer::rank_tile(std::span<const data::EvalCase* const> cases, std::span<const metrics::RankQuery> queries,
                              std::span<const uint8_t> candidate, size_t k, size_t item_tile,
                              std::span<metrics::Ranking> out) const {
  MR_CHECK(can_rank_tile(), "{}: the item tower adapts per case (scope all); rank on the host", name_);
  MR_CHECK(queries.size() == cases.size() && out.size() == cases.size(), "rank_tile: {} queries, {} results for {} cases",
           queries.size(), out.size(), cases.size());
  if (cases.empty()) return;
  std::lock_guard<std::mutex> lk(mu_);
  try {
    const Tensor U = user_rows(cases);
    tape_->reset();
    if (item_tile == 0) {  // as many items as keep the tile's scores within 64 MiB (baselines::eval_tile's budget)
      const size_t budget = (size_t(64) << 20) / (sizeof(float) * cases.size());
      item_tile = budget >= size_t(m_.n_items()) + 1 ? 0 : std::max<size_t>(budget, 1);
    }
    m_.rank_users(*tape_, tape_->input(U), queries, candidate, k, item_tile, out);
  } catch (...) {
    tape_->reset();
    throw;
  }
  tape_->reset();
}

void AdaptedScorer::score(const data::EvalCase& c, std::span<float> out) const {
  auto s = scores(c.history);
  std::copy(s.begin(), s.begin() + std::min(s.size(), out.size()), out.begin());
}

}  // namespace mr::rec
