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

nlohmann::json evaluate(const data::Split& sp, const Model& model, const EvalOptions& opt) {
  MR_CHECK(opt.part == "test" || opt.part == "valid", "part must be test or valid, got '{}'", opt.part);
  const auto& cases = opt.part == "test" ? sp.test : sp.valid;
  const auto& cand = opt.part == "test" ? sp.test_candidates : sp.valid_candidates;
  if (cases.empty()) throw Error(fmt::format("protocol {}: no {} cases to evaluate", sp.protocol, opt.part));
  size_t n_cand = cand.empty() ? sp.n_items : static_cast<size_t>(std::count(cand.begin(), cand.end(), 1));
  std::vector<metrics::CaseResult> full(cases.size()), sampled(opt.sampled ? cases.size() : 0);
  // cases are scored a tile at a time (the model may batch them: one product for the tile), then
  // ranked; only the tile's scores and each case's ranks and top K are kept
  const size_t tile = std::min(cases.size(), eval_tile(opt, sp.n_items));
  std::vector<float> tile_scores(tile * sp.n_items);
  std::vector<const data::EvalCase*> tile_cases;
  std::string err;
  for (size_t t0 = 0; t0 < cases.size() && err.empty(); t0 += tile) {
    const size_t nt = std::min(tile, cases.size() - t0);
    tile_cases.clear();
    for (size_t c = t0; c < t0 + nt; c++) tile_cases.push_back(&cases[c]);
    try {
      model.score_tile(tile_cases, std::span<float>(tile_scores.data(), nt * sp.n_items));
    } catch (const std::exception& e) {
      err = e.what();
      break;
    }
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
          full[c] = metrics::score_case(scores, ec.targets, excl, cand, opt.ks);
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
            sampled[c] = metrics::score_case(scores, ec.targets, none, mask, opt.ks);
          }
        } catch (const std::exception& e) {
#pragma omp critical
          if (err.empty()) err = e.what();
        }
      }
    }
  }
  if (!err.empty()) throw Error(err);
  metrics::Accumulator acc(sp.n_items, opt.ks, n_cand);
  for (auto& r : full) acc.add(r);
  nlohmann::json j = acc.result();
  if (opt.sampled) {
    metrics::Accumulator as(sp.n_items, opt.ks, n_cand);
    for (auto& r : sampled) as.add(r);
    auto js = as.result(fmt::format("sampled{}_", opt.sampled));
    js.erase("cases");
    for (auto it = js.begin(); it != js.end(); ++it)
      if (it.key().find("coverage") == std::string::npos) j[it.key()] = it.value();
  }
  j["model"] = model.name();
  j["protocol"] = sp.protocol;
  j["part"] = opt.part;
  j["masked_known_items"] = opt.mask_known;
  j["ranking"] = "full";
  j["candidates"] = n_cand;
  return j;
}

}  // namespace mr::baselines
