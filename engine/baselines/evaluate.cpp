#include "engine/baselines/evaluate.h"

#include <algorithm>

#include "base/check.h"
#include "engine/metrics/metrics.h"

namespace mr::baselines {

static uint64_t mix(uint64_t z) {
  z += 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

size_t eval_tile(const EvalOptions& opt, size_t n_items) {
  if (opt.tile) return opt.tile;
  const size_t fit = (size_t(64) << 20) / (sizeof(float) * std::max<size_t>(n_items, 1));  // 64 MiB of scores
  return std::clamp<size_t>(fit, 16, 1024);
}

void Model::rank_tile(std::span<const data::EvalCase* const>, std::span<const metrics::RankQuery>,
                      std::span<const uint8_t>, size_t, size_t, std::span<metrics::Ranking>) const {
  throw Error(fmt::format("model {} does not rank on its own (Model::can_rank_tile)", name()));
}

void Model::score_tile(std::span<const data::EvalCase* const> cases, std::span<float> out) const {
  const size_t n = cases.empty() ? 0 : out.size() / cases.size();
  std::string err;
#pragma omp parallel for schedule(dynamic, 4)
  for (size_t r = 0; r < cases.size(); r++) {
    try {
      score(*cases[r], out.subspan(r * n, n));
    } catch (const std::exception& e) {
#pragma omp critical
      if (err.empty()) err = e.what();
    }
  }
  if (!err.empty()) throw Error(err);
}

namespace {

// A CaseResult as doubles (exact: counts and item ids are below 2^53), for the ranks' sum.
size_t packed_size(size_t nk, size_t kmax) { return 5 * nk + 7 + kmax; }
void pack(const metrics::CaseResult& r, size_t kmax, double* o) {
  const size_t nk = r.hit.size();
  for (size_t j = 0; j < nk; j++) {
    o[j] = r.hit[j];
    o[nk + j] = r.recall[j];
    o[2 * nk + j] = r.precision[j];
    o[3 * nk + j] = r.ndcg[j];
    o[4 * nk + j] = r.mrr_k[j];
  }
  o += 5 * nk;
  o[0] = r.mrr, o[1] = r.auc, o[2] = r.has_auc, o[3] = r.n_targets, o[4] = r.tied_targets, o[5] = r.tied_items;
  o[6] = double(r.top.size());
  for (size_t p = 0; p < r.top.size() && p < kmax; p++) o[7 + p] = r.top[p];
}
metrics::CaseResult unpack(const double* o, size_t nk) {
  metrics::CaseResult r;
  auto vec = [&](size_t at) { return std::vector<double>(o + at * nk, o + (at + 1) * nk); };
  r.hit = vec(0), r.recall = vec(1), r.precision = vec(2), r.ndcg = vec(3), r.mrr_k = vec(4);
  o += 5 * nk;
  r.mrr = o[0], r.auc = o[1], r.has_auc = o[2] != 0, r.n_targets = uint32_t(o[3]);
  r.tied_targets = uint32_t(o[4]), r.tied_items = uint32_t(o[5]);
  r.top.resize(size_t(o[6]));
  for (size_t p = 0; p < r.top.size(); p++) r.top[p] = uint32_t(o[7 + p]);
  return r;
}

}  // namespace

nlohmann::json evaluate(const data::Split& sp, const Model& model, const EvalOptions& opt) {
  MR_CHECK(opt.part == "test" || opt.part == "valid", "part must be test or valid, got '{}'", opt.part);
  const auto& cases = opt.part == "test" ? sp.test : sp.valid;
  const auto& cand = opt.part == "test" ? sp.test_candidates : sp.valid_candidates;
  if (cases.empty()) throw Error(fmt::format("protocol {}: no {} cases to evaluate", sp.protocol, opt.part));
  const int P = std::max(opt.ranks, 1);
  MR_CHECK(opt.rank >= 0 && opt.rank < P, "evaluation rank {} of {}", opt.rank, P);
  MR_CHECK(P == 1 || opt.allreduce_sum, "a sharded evaluation ({} ranks) needs allreduce_sum", P);
  size_t n_cand = cand.empty() ? sp.n_items : static_cast<size_t>(std::count(cand.begin(), cand.end(), 1));
  metrics::Accumulator acc(sp.n_items, opt.ks, n_cand), acc_s(sp.n_items, opt.ks, n_cand);
  // Cases are scored a tile at a time (the model may batch a tile: one product), then ranked;
  // only one tile's scores and each tile's ranks and top K are held. The tiles depend on the
  // data alone, not on the number of ranks: with P ranks, rank r scores tiles r, r + P, ...,
  // every tile of a round of P is summed across ranks (each rank's slot zero elsewhere) and
  // every rank adds the results in case order, so the metrics equal one process's exactly.
  const size_t tile = std::min(cases.size(), eval_tile(opt, sp.n_items));
  const size_t n_tiles = (cases.size() + tile - 1) / tile;
  const size_t nk = opt.ks.size(), kmax = opt.ks.empty() ? 0 : size_t(*std::max_element(opt.ks.begin(), opt.ks.end()));
  const size_t F = packed_size(nk, kmax), per_case = opt.sampled ? 2 * F : F;
  // ranking where the model scores: only each case's top max(K) and target counts come back
  using R = EvalOptions::Ranking;
  const bool on_backend = opt.ranking != R::Host && !opt.sampled && kmax <= 2048 && model.can_rank_tile() &&
                          (opt.ranking == R::Backend || model.scores_on_device());
  std::vector<float> tile_scores(on_backend ? 0 : tile * sp.n_items);
  std::vector<metrics::RankQuery> queries(on_backend ? tile : 0);
  std::vector<metrics::Ranking> rankings(on_backend ? tile : 0);
  std::vector<const data::EvalCase*> tile_cases;
  std::vector<metrics::CaseResult> full(tile), sampled(opt.sampled ? tile : 0);
  std::vector<double> gathered(P > 1 ? size_t(P) * (1 + tile * per_case) : 0);
  std::string err;
  for (size_t round = 0; round * size_t(P) < n_tiles; round++) {
    const size_t g = round * size_t(P) + size_t(opt.rank), t0 = g * tile;
    const size_t nt = g < n_tiles ? std::min(tile, cases.size() - t0) : 0;
    std::string mine;  // this rank's error in this round
    if (nt) {
      tile_cases.clear();
      for (size_t c = t0; c < t0 + nt; c++) tile_cases.push_back(&cases[c]);
      try {
        if (on_backend) {
          static const std::vector<uint32_t> none;
          for (size_t c = t0; c < t0 + nt; c++)
            queries[c - t0] = metrics::rank_query(sp.n_items, cases[c].targets, opt.mask_known ? cases[c].known : none,
                                                  cand, n_cand);
          model.rank_tile(tile_cases, std::span(queries.data(), nt), cand, std::max<size_t>(kmax, 1), opt.item_tile,
                          std::span(rankings.data(), nt));
          for (size_t k = 0; k < nt; k++) {
            if (rankings[k].top.size() > kmax) rankings[k].top.resize(kmax);
            full[k] = metrics::case_result(rankings[k], opt.ks);
          }
        } else {
          model.score_tile(tile_cases, std::span<float>(tile_scores.data(), nt * sp.n_items));
        }
      } catch (const std::exception& e) {
        mine = e.what();
      }
    }
    if (nt && mine.empty() && !on_backend) {
#pragma omp parallel
      {
        std::vector<uint8_t> mask;
        static const std::vector<uint32_t> none;
#pragma omp for schedule(dynamic, 16)
        for (size_t c = t0; c < t0 + nt; c++) {
          try {
            const auto& ec = cases[c];
            std::span<const float> scores(tile_scores.data() + (c - t0) * sp.n_items, sp.n_items);
            const auto& excl = opt.mask_known ? ec.known : none;
            full[c - t0] = metrics::score_case(scores, ec.targets, excl, cand, opt.ks);
            if (opt.sampled) {
              // candidates: the targets plus N negatives drawn uniformly (with replacement
              // rejected) from the items that are neither known nor targets
              mask.assign(sp.n_items, 0);
              std::vector<uint8_t> banned(sp.n_items, 0);
              for (auto i : ec.known) banned[i] = 1;
              for (auto i : ec.targets) { banned[i] = 1; mask[i] = 1; }
              size_t avail = 0;
              for (size_t i = 0; i < sp.n_items; i++) avail += !banned[i] && (cand.empty() || cand[i]);
              size_t want = std::min(opt.sampled, avail), got = 0;
              uint64_t s = mix(opt.seed ^ mix(c));
              while (got < want) {
                s = mix(s);
                size_t i = s % sp.n_items;
                if (banned[i] || mask[i] || (!cand.empty() && !cand[i])) continue;
                mask[i] = 1;
                got++;
              }
              sampled[c - t0] = metrics::score_case(scores, ec.targets, none, mask, opt.ks);
            }
          } catch (const std::exception& e) {
#pragma omp critical
            if (mine.empty()) mine = e.what();
          }
        }
      }
    }
    if (P == 1) {
      if (!mine.empty()) throw Error(mine);
      for (size_t k = 0; k < nt; k++) {
        acc.add(full[k]);
        if (opt.on_case) opt.on_case(t0 + k, cases[t0 + k], full[k]);
        if (opt.sampled) acc_s.add(sampled[k]);
      }
      continue;
    }
    // the round's tiles to every rank: slot s = [error flag, tile s's cases x per_case]
    std::fill(gathered.begin(), gathered.end(), 0.0);
    double* slot = gathered.data() + size_t(opt.rank) * (1 + tile * per_case);
    slot[0] = mine.empty() ? 0.0 : 1.0;
    if (mine.empty())
      for (size_t k = 0; k < nt; k++) {
        pack(full[k], kmax, slot + 1 + k * per_case);
        if (opt.sampled) pack(sampled[k], kmax, slot + 1 + k * per_case + F);
      }
    opt.allreduce_sum(gathered.data(), int64_t(gathered.size()));
    for (int r = 0; r < P; r++) {
      const double* sl = gathered.data() + size_t(r) * (1 + tile * per_case);
      if (sl[0] != 0.0) {
        if (!mine.empty()) throw Error(mine);
        throw Error(fmt::format("evaluation failed on rank {} (its error is on its stderr)", r));
      }
      const size_t gr = round * size_t(P) + size_t(r);
      const size_t ntr = gr < n_tiles ? std::min(tile, cases.size() - gr * tile) : 0;
      for (size_t k = 0; k < ntr; k++) {
        const metrics::CaseResult cr = unpack(sl + 1 + k * per_case, nk);
        acc.add(cr);
        if (opt.on_case) opt.on_case(gr * tile + k, cases[gr * tile + k], cr);
        if (opt.sampled) acc_s.add(unpack(sl + 1 + k * per_case + F, nk));
      }
    }
  }
  nlohmann::json j = acc.result();
  if (opt.sampled) {
    auto js = acc_s.result(fmt::format("sampled{}_", opt.sampled));
    js.erase("cases");
    for (auto it = js.begin(); it != js.end(); ++it)
      if (it.key().find("coverage") == std::string::npos) j[it.key()] = it.value();
  }
  j["model"] = model.name();
  j["protocol"] = sp.protocol;
  j["part"] = opt.part;
  j["masked_known_items"] = opt.mask_known;
  j["ranking"] = "full";
  j["ranked_on"] = on_backend ? "backend" : "host";
  j["candidates"] = n_cand;
  return j;
}

}  // namespace mr::baselines
