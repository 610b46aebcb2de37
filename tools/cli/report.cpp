// metarec report: merge the results of one or more runs into one table (Markdown), and write
// the training curves and the metric-against-K series as CSV (plots: tools/plot_rec.py).
#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "base/check.h"
#include "engine/rec/evaluate.h"
#include "tools/cli/command.h"

namespace {

nlohmann::json read_json(const std::string& path) {
  std::ifstream f(path);
  if (!f) throw mr::Error(fmt::format("{}: cannot open (has the run finished?)", path));
  try {
    nlohmann::json j;
    f >> j;
    return j;
  } catch (const std::exception& e) {
    throw mr::Error(fmt::format("{}: {}", path, e.what()));
  }
}

int run(int argc, char** argv) {
  CLI::App app("metarec report: results table of runs (meta, non-meta, baselines), training curves and metric vs K as CSV");
  std::vector<std::string> runs;
  std::string out;
  bool plot = true;
  app.add_option("--run", runs, "run folder (repeatable)")->required();
  app.add_option("--out", out, "write results.md, curves.csv, metric_vs_k.csv (and PNGs) here");
  app.add_option("--plot", plot, "draw PNGs with tools/plot_rec.py when python3 + matplotlib are available");
  mr::cli::parse(app, argc, argv);
  std::vector<nlohmann::json> res;
  std::vector<int> ks;
  bool cold = false;
  for (auto& r : runs) {
    res.push_back(read_json(r + "/results.json"));
    if (res.back().value("protocol", "") == mr::rec::name(mr::rec::Protocol::ColdUser)) {
      cold = true;
      for (auto& row : res.back()["rows"]) {
        int k = row.value("k_shot", 0);
        if (std::find(ks.begin(), ks.end(), k) == ks.end()) ks.push_back(k);
      }
    }
  }
  std::sort(ks.begin(), ks.end());
  std::string table = mr::rec::results_table(res, cold ? ks : std::vector<int>{});
  std::string compute;
  for (size_t i = 0; i < runs.size(); ++i)
    if (res[i].contains("train_seconds"))
      compute += fmt::format("- {}: trained {} s on {} thread(s), {} steps\n", runs[i], res[i]["train_seconds"].dump(),
                             res[i].value("threads", 0), res[i].value("step", 0));
  std::printf("%s\n%s", table.c_str(), compute.c_str());
  if (out.empty()) return 0;
  std::filesystem::create_directories(out);
  std::ofstream(out + "/results.md") << table << "\n" << compute;
  // curves: run, step, query_loss, lr
  std::ofstream cv(out + "/curves.csv");
  cv << "run,step,query_loss,lr,grad_norm,tasks_per_s\n";
  for (auto& r : runs) {
    std::ifstream f(r + "/metrics.jsonl");
    std::string line;
    while (std::getline(f, line)) {
      auto j = nlohmann::json::parse(line, nullptr, false);
      if (j.is_discarded() || !j.contains("step") || j.contains("eval")) continue;
      cv << std::filesystem::path(r).filename().string() << "," << j["step"] << "," << j["query_loss"] << "," << j["lr"]
         << "," << j["grad_norm"] << "," << j["tasks_per_s"] << "\n";
    }
  }
  std::ofstream mk(out + "/metric_vs_k.csv");
  mk << "model,k_shot,recall@10,ndcg@10,recall@50,ndcg@50\n";
  std::vector<std::string> seen;
  for (auto& r : res)
    for (auto& row : r["rows"]) {
      std::string key = row["model"].get<std::string>() + "/" + std::to_string(row.value("k_shot", 0));
      if (std::find(seen.begin(), seen.end(), key) != seen.end()) continue;
      seen.push_back(key);
      mk << "\"" << row["model"].get<std::string>() << "\"," << row.value("k_shot", 0) << "," << row.value("recall@10", 0.0)
         << "," << row.value("ndcg@10", 0.0) << "," << row.value("recall@50", 0.0) << "," << row.value("ndcg@50", 0.0)
         << "\n";
    }
  cv.close();
  mk.close();
  // the PATH's python3 first, then Debian's (python3-matplotlib from tools/setup.sh deps lives
  // there when PATH's python3 is another installation)
  std::string py;
  for (const char* cand : {"python3", "/usr/bin/python3"})
    if (plot && py.empty() && std::system(fmt::format("{} -c 'import matplotlib' >/dev/null 2>&1", cand).c_str()) == 0) py = cand;
  if (plot && !py.empty()) {
    std::string cmd = fmt::format("{} tools/plot_rec.py '{}'", py, out);
    if (std::system(cmd.c_str()) != 0) std::fprintf(stderr, "report: %s failed (CSV files are written)\n", cmd.c_str());
  } else if (plot) {
    std::fprintf(stderr, "report: no python3 matplotlib: CSV only (%s/curves.csv, metric_vs_k.csv)\n", out.c_str());
  }
  return 0;
}

mr::cli::Command reg{"report", "results table of runs against the baselines; curves and metric-vs-K CSV/PNG", run};

}  // namespace
