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

nlohmann::json evaluate(const data::Split& sp, const Model& model, const EvalOptions& opt) {
  MR_CHECK(opt.part == "test" || opt.part == "valid", "part must be test or valid, got '{}'", opt.part);
  const auto& cases = opt.part == "test" ? sp.test : sp.valid;
  const auto& cand = opt.part == "test" ? sp.test_candidates : sp.valid_candidates;
  if (cases.empty()) throw Error(fmt::format("protocol {}: no {} cases to evaluate", sp.protocol, opt.part));
  size_t n_cand = cand.empty() ? sp.n_items : static_cast<size_t>(std::count(cand.begin(), cand.end(), 1));
  std::vector<metrics::CaseResult> full(cases.size()), sampled(opt.sampled ? cases.size() : 0);
  std::string err;
#pragma omp parallel
  {
    std::vector<float> scores(sp.n_items);
    std::vector<uint8_t> mask;
    static const std::vector<uint32_t> none;
#pragma omp for schedule(dynamic, 16)
    for (size_t c = 0; c < cases.size(); c++) {
      try {
        const auto& ec = cases[c];
        model.score(ec, scores);
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
