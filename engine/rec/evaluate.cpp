// Evaluation of a run and the results table (engine/rec/evaluate.h).
#include "engine/rec/evaluate.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>

#include "engine/baselines/evaluate.h"
#include "engine/baselines/mixture.h"
#include "engine/comm/comm.h"
#include "engine/metrics/metrics.h"
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

void parse_finetune(const std::string& spec, const std::string& where, int* steps, double* lr) {
  const auto colon = spec.find(':');
  long st = -1;
  double v = -1;
  if (colon != std::string::npos && colon > 0 && colon + 1 < spec.size()) {
    try {
      size_t used = 0;
      st = std::stol(spec.substr(0, colon), &used);
      if (used != colon) st = -1;
      v = std::stod(spec.substr(colon + 1), &used);
      if (used != spec.size() - colon - 1) v = -1;
    } catch (const std::exception&) {
      st = -1;
    }
  }
  if (!(st >= 1 && st <= 1000 && v > 0 && std::isfinite(v)))
    throw Error(fmt::format("{} '{}': expected STEPS:LR with STEPS in [1, 1000] and LR > 0, e.g. 3:0.1", where, spec));
  *steps = int(st);
  *lr = v;
}

std::string finetune_name(int steps, double lr) { return fmt::format("non-meta + fine-tune ({} x {:g})", steps, lr); }

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
  if (c.eval.tile < 0) throw Error(fmt::format("eval.tile = {}: expected 0 (automatic) or a number of cases", c.eval.tile));
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
  std::vector<std::pair<int, double>> finetunes;  // checked before any evaluation
  for (auto& spec : c.eval.finetune) {
    finetunes.emplace_back();
    parse_finetune(spec, "eval.finetune", &finetunes.back().first, &finetunes.back().second);
  }
  // eval.per_case: OUT/cases.jsonl, one line per row x K x case, written by rank 0 after each row
  const bool per_case = c.eval.per_case && root && !out.empty();
  const std::string cases_path = out + "/cases.jsonl";
  if (per_case) {
    std::ofstream f(cases_path, std::ios::trunc);
    if (!f) throw Error(fmt::format("{}: cannot write", cases_path));
  }
  std::string case_lines;  // the current row's lines
  for (int k : kshots) {
    data::Split sp = make_split(c, r.ds, size_t(std::max(k, 1)));
    std::vector<std::unique_ptr<baselines::Model>> models;
    for (auto& b : c.eval.baselines) models.push_back(baselines::make_model(b, bo));
    // fits m (the scorer's fit does nothing) and evaluates it: one row, its time included
    auto row = [&](baselines::Model& m) {
      const double t0 = now_s();
      m.fit(sp);
      case_lines.clear();
      baselines::EvalOptions o = eo;
      if (per_case)
        o.on_case = [&](size_t i, const data::EvalCase& ec, const metrics::CaseResult& cr) {
          nlohmann::json l = {{"model", m.name()}, {"k_shot", k}, {"part", eo.part}, {"case", i}, {"user", ec.user}};
          for (size_t q = 0; q < eo.ks.size(); q++) {
            l[fmt::format("recall@{}", eo.ks[q])] = cr.recall[q];
            l[fmt::format("ndcg@{}", eo.ks[q])] = cr.ndcg[q];
          }
          l["mrr"] = cr.mrr;
          l["auc"] = cr.has_auc ? nlohmann::json(cr.auc) : nlohmann::json(nullptr);  // the mean is over cases with one
          l["targets"] = cr.n_targets;
          case_lines += l.dump() + "\n";
        };
      auto j = baselines::evaluate(sp, m, o);
      if (per_case) {
        std::ofstream f(cases_path, std::ios::app);
        if (!(f << case_lines)) throw Error(fmt::format("{}: cannot append", cases_path));
      }
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
    for (auto& [st, lr] : finetunes)
      if (!meta) {
        AdaptedScorer ft(finetune_name(st, lr), *r.model, *r.ml, st, float(lr), c.meta.scope != Scope::All);
        row(ft);
      }
    if (!meta && finetunes.empty() && c.eval.adapt_steps < 0 && c.meta.inner_steps > 0) {
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
