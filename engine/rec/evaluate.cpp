// Evaluation of a run and the results table (engine/rec/evaluate.h).
#include "engine/rec/evaluate.h"

#include <chrono>
#include <cmath>
#include <cstdio>

#include "engine/baselines/evaluate.h"
#include "engine/baselines/mixture.h"
#include "engine/comm/comm.h"
#include "engine/optim.h"
#include "engine/rec/run_dir.h"
#include "engine/rec/scorer.h"

namespace mr::rec {

namespace {

const char* kMetricKeys[] = {"recall@10", "ndcg@10", "recall@50", "ndcg@50", "mrr", "auc"};

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

}  // namespace

std::vector<int> table_kshots(const Config& c) {
  return c.data.protocol == Protocol::ColdUser ? c.eval.k_shots : std::vector<int>{};
}

std::string results_table(const std::vector<nlohmann::json>& results, const std::vector<int>& kshots) {
  std::string s = "| protocol | K | model | R@10 | N@10 | R@50 | N@50 | MRR | AUC | cases |\n"
                  "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n";
  std::vector<nlohmann::json> rows;
  for (auto& r : results)
    for (auto& row : r["rows"]) rows.push_back(row);
  std::vector<int> ks = kshots;
  if (ks.empty()) ks = {0};
  for (int k : ks) {
    std::vector<std::string> seen;
    for (auto& row : rows) {
      if (row.value("k_shot", 0) != k) continue;
      std::string name = row["model"].get<std::string>();
      if (std::find(seen.begin(), seen.end(), name) != seen.end()) continue;  // baselines repeat across runs
      seen.push_back(name);
      s += fmt::format("| {} | {} | {} |", row.value("protocol", ""), k ? std::to_string(k) : "-", name);
      for (auto* key : kMetricKeys) s += row.contains(key) ? fmt::format(" {:.4f} |", row[key].get<double>()) : " - |";
      s += fmt::format(" {} |\n", row.value("cases", 0));
    }
  }
  return s;
}

nlohmann::json evaluate(LoadedRun& r, const std::string& out, comm::Communicator* cm) {
  const Config& c = r.cfg;
  // load_run refuses such a checkpoint; a model built in memory is checked here
  const std::string bad = first_nonfinite(r.model->params(), false);
  if (!bad.empty())
    throw Error(fmt::format("the model of step {} has non-finite parameters (first: {}): it cannot be evaluated "
                            "(docs/troubleshooting.md)", r.step, bad));
  const bool root = !cm || cm->rank() == 0;  // only rank 0 prints and writes
  const RunDir dir(root ? out : std::string());
  const bool cold = c.data.protocol == Protocol::ColdUser;
  const std::vector<int> kshots = cold ? c.eval.k_shots : std::vector<int>{0};
  const int steps = eval_adapt_steps(c);
  const meta::Algorithm alg = c.meta.algorithm;
  const bool meta = alg != meta::Algorithm::None;
  AdaptedScorer scorer(meta ? fmt::format("meta ({}, k={})", name(alg), steps) : "non-meta (multi-task)", r, steps);
  baselines::EvalOptions eo;
  eo.ks = c.eval.ks;
  eo.part = name(c.eval.part);
  eo.mask_known = cold;
  eo.tile = size_t(c.eval.tile);
  if (cm && cm->size() > 1) {  // every rank scores its share of the cases (baselines::EvalOptions)
    eo.rank = cm->rank();
    eo.ranks = cm->size();
    eo.allreduce_sum = [cm](double* x, int64_t n) { cm->allreduce_sum(x, n); };
  }
  baselines::Options bo;
  bo.seed = uint64_t(c.data.seed);
  bo.knn_shrink = c.eval.knn_shrink;
  bo.knn_decay = c.eval.knn_decay;
  nlohmann::json res = {{"protocol", name(c.data.protocol)}, {"rows", nlohmann::json::array()},
                        {"data", c.data.path}, {"step", r.step}};
  for (int k : kshots) {
    data::Split sp = make_split(c, r.ds, size_t(std::max(k, 1)));
    std::vector<std::unique_ptr<baselines::Model>> models;
    for (auto& b : c.eval.baselines) models.push_back(baselines::make_model(b, bo));
    // fits m (the scorer's fit does nothing) and evaluates it: one row, its time included
    auto row = [&](baselines::Model& m) {
      const double t0 = now_s();
      m.fit(sp);
      auto j = baselines::evaluate(sp, m, eo);
      j["k_shot"] = k;
      j["seconds"] = std::round((now_s() - t0) * 100) / 100;
      res["rows"].push_back(j);
      if (!root) return;
      nlohmann::json line = {{"eval", true}, {"model", j["model"]}, {"k_shot", k}};
      for (auto* key : kMetricKeys)
        if (j.contains(key)) line[key] = j[key];
      dir.append_metrics(line);
      std::fprintf(stderr, "eval K=%d %-28s R@10 %.4f N@10 %.4f\n", k, m.name().c_str(), j.value("recall@10", 0.0),
                   j.value("ndcg@10", 0.0));
    };
    row(scorer);  // the evaluator's threads all wait on the scorer's lock; adaptation itself uses them
    for (auto& spec : c.eval.blend) {
      std::string bname;
      double w = 0;
      baselines::parse_blend(spec, "eval.blend", &bname, &w);
      row(*baselines::make_mixture(baselines::borrow(scorer), baselines::make_model(bname, bo), w));
    }
    if (!meta && c.eval.adapt_steps < 0 && c.meta.inner_steps > 0) {
      AdaptedScorer ft("non-meta + fine-tune", r, int(c.meta.inner_steps));
      row(ft);
    }
    for (auto& m : models) row(*m);
  }
  for (auto& row : res["rows"]) row["protocol"] = name(c.data.protocol);
  if (root) dir.write_results(res, results_table({res}, cold ? kshots : std::vector<int>{}));
  return res;
}

}  // namespace mr::rec
