// metarec recommend: adapt a trained run to a new user from a few interactions and print the
// top items with their scores and, for each, the history items that contributed most
// (leave-one-out: the drop in the item's score when that history item is removed), and the
// knowledge-graph paths that join it to the history when the data has a KG ("same director as X,
// which you watched"; engine/data/kg.h), the contributing history items first.
// metarec adapt: the same adaptation, writing the adapted parameters as a checkpoint.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <memory>
#include <cstdio>
#include <numeric>

#include "base/check.h"
#include "engine/data/kg.h"
#include "engine/data/readers.h"
#include "engine/rec/run_dir.h"
#include "engine/rec/scorer.h"
#include "tools/cli/command.h"
#include "tools/cli/device_args.h"
#include "engine/io/checkpoint.h"

namespace {

std::vector<uint32_t> parse_history(const mr::data::Dataset& ds, const std::string& s) {
  std::vector<uint32_t> h;
  for (auto part : mr::data::split(s, ',')) {
    std::string p(part);
    while (!p.empty() && p.front() == ' ') p.erase(p.begin());
    while (!p.empty() && p.back() == ' ') p.pop_back();
    if (p.empty()) continue;
    int64_t id = ds.items.find(p);
    if (id < 0)
      for (uint32_t i = 0; i < ds.n_items(); ++i)
        if (ds.item_field("title", i) == p) { id = i; break; }
    if (id < 0) throw mr::Error(fmt::format("--history: '{}' is neither an item id nor an exact title", p));
    h.push_back(uint32_t(id));
  }
  if (h.empty()) throw mr::Error("--history is empty");
  return h;
}

std::string label(const mr::data::Dataset& ds, uint32_t i) {
  const std::string& t = ds.item_field("title", i);
  return t.empty() ? ds.items.names[i] : fmt::format("{} ({})", t, ds.items.names[i]);
}

int recommend(int argc, char** argv) {
  CLI::App app("metarec recommend: adapt to a new user from a few interactions and rank every item");
  std::string dir, hist;
  int k = 10, steps = -1, explain = 2;
  app.add_option("--run", dir, "run folder (metarec train --out)")->required();
  app.add_option("--history", hist, "the user's items, oldest first: item ids or exact titles, comma separated")->required();
  app.add_option("-k,--k", k, "how many items to print");
  app.add_option("--adapt-steps", steps, "inner-loop steps (default: the run's meta.inner_steps; 0 for none)");
  app.add_option("--explain", explain, "history items shown per recommendation");
  std::string kg_data, kg_names;
  int kg_paths = 2;
  app.add_option("--kg-paths", kg_paths,
                 "knowledge-graph paths to the history shown per recommendation (0: none); they need a KG: the run's "
                 "data (RecBole .kg + .link) or --kg-data");
  app.add_option("--kg-data", kg_data,
                 "a dataset whose .kg + .link (and titles) name the paths, items matched by id (e.g. data/ml-100k for a "
                 "run trained on a prepared copy); default: the run's data");
  app.add_option("--kg-names", kg_names, "entity<TAB>name file: names in the paths (\"same director (NAME) as ...\")");
  mr::cli::DeviceArgs dev;
  dev.add(app);
  mr::cli::parse(app, argc, argv);
  const mr::Backend be = dev.backend();
  auto r = mr::rec::load_run(dir);
  mr::rec::move_run(r, be);
  auto h = parse_history(r.ds, hist);
  // the KG: the run's data, or --kg-data; run item i is kg item to_kg[i] (-1: not in it)
  std::unique_ptr<mr::data::Dataset> kg_own;
  const mr::data::Dataset* kgds = r.ds.kg.empty() ? nullptr : &r.ds;
  if (!kg_data.empty()) {
    kg_own = std::make_unique<mr::data::Dataset>(mr::data::load_dataset(kg_data, mr::data::LoadOptions{}));
    if (kg_own->kg.empty() || kg_own->item_entity.empty())
      throw mr::Error(fmt::format("--kg-data {}: no knowledge graph (.kg and .link)", kg_data));
    kgds = kg_own.get();
  }
  std::unique_ptr<mr::data::KgIndex> kg;
  std::vector<int64_t> to_kg;
  if (kgds && kg_paths > 0) {
    std::unordered_map<std::string, std::string> names;
    if (!kg_names.empty())
      names = mr::data::read_entity_names(kg_names, mr::data::ReadOptions{}, kg_own ? kg_own->report : r.ds.report);
    kg = std::make_unique<mr::data::KgIndex>(*kgds, std::move(names));
    for (uint32_t i = 0; i < r.ds.n_items(); ++i)
      to_kg.push_back(kgds == &r.ds ? int64_t(i) : kgds->items.find(r.ds.items.names[i]));
  } else if (!kg_data.empty() || !kg_names.empty()) {
    std::fprintf(stderr, "note: --kg-paths 0: no KG paths shown\n");
  }
  if (steps < 0) steps = mr::rec::inner_adapt_steps(r.cfg);
  mr::rec::AdaptedScorer sc("run", r, steps);
  auto s = sc.scores(h);
  std::vector<uint32_t> order(r.ds.n_items());
  std::iota(order.begin(), order.end(), 0);
  std::vector<uint8_t> known(r.ds.n_items(), 0);
  for (auto i : h) known[i] = 1;
  std::stable_sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) { return s[a] > s[b]; });
  // leave-one-out contributions
  std::vector<std::vector<float>> without;
  if (h.size() > 1)
    for (size_t j = 0; j < h.size(); ++j) {
      auto hj = h;
      hj.erase(hj.begin() + long(j));
      without.push_back(sc.scores(hj));
    }
  std::printf("history (%zu): ", h.size());
  for (size_t j = 0; j < h.size(); ++j) std::printf("%s%s", j ? "; " : "", label(r.ds, h[j]).c_str());
  std::printf("\nadapted with %d step(s); run %s at step %lld\n", steps, dir.c_str(), (long long)r.step);
  int shown = 0;
  for (uint32_t i : order) {
    if (known[i]) continue;
    if (shown++ == k) break;
    std::printf("%3d. %-60s score %8.4f", shown, label(r.ds, i).c_str(), s[i]);
    std::vector<size_t> priority;  // history positions: the contributing ones first, then the most recent
    bool because = false;
    if (!without.empty()) {
      std::vector<std::pair<float, size_t>> c;
      for (size_t j = 0; j < h.size(); ++j) c.push_back({s[i] - without[j][i], j});
      std::sort(c.begin(), c.end(), [](auto& a, auto& b) { return a.first > b.first; });
      // only history items that raise the score
      for (int e = 0, shown_e = 0; e < int(c.size()) && shown_e < explain && c[size_t(e)].first > 0; ++e, ++shown_e) {
        std::printf("%s %s (%+.3f)", shown_e ? "," : "  because:", label(r.ds, h[c[size_t(e)].second]).c_str(),
                    c[size_t(e)].first);
        because = true;
      }
      for (auto& [d, j] : c)
        if (d > 0) priority.push_back(j);
    }
    for (size_t j = h.size(); j-- > 0;)
      if (std::find(priority.begin(), priority.end(), j) == priority.end()) priority.push_back(j);
    if (kg && to_kg[i] >= 0) {
      std::vector<uint32_t> hk;
      for (size_t j : priority)
        if (to_kg[h[j]] >= 0) hk.push_back(uint32_t(to_kg[h[j]]));
      std::vector<std::string> said;
      for (auto& p : kg->paths(uint32_t(to_kg[i]), hk))
        if (int(said.size()) < kg_paths && std::find(said.begin(), said.end(), p.text) == said.end()) {
          std::printf("%s%s", said.empty() ? (because ? "; " : "  ") : "; ", p.text.c_str());
          said.push_back(p.text);
        }
    }
    std::printf("\n");
  }
  return 0;
}

int adapt(int argc, char** argv) {
  CLI::App app("metarec adapt: inner-loop adaptation of a trained run to one user; writes the adapted parameters");
  std::string dir, hist, out;
  int steps = -1;
  app.add_option("--run", dir, "run folder")->required();
  app.add_option("--history", hist, "the user's items, oldest first: ids or exact titles")->required();
  app.add_option("--out", out, "folder for the adapted checkpoint")->required();
  app.add_option("--adapt-steps", steps, "inner-loop steps (default: the run's meta.inner_steps)");
  mr::cli::parse(app, argc, argv);
  auto r = mr::rec::load_run(dir);
  auto h = parse_history(r.ds, hist);
  if (steps < 0) steps = int(r.cfg.meta.inner_steps);
  mr::Arena a;
  mr::Tape t(a);
  t.set_training(false);
  auto sb = mr::rec::support_batch(h, size_t(r.model->config().max_history));
  float before = r.ml->adapt(t, [&](mr::Tape& tt) { return r.model->loss(tt, sb); }, steps, float(r.cfg.meta.inner_lr));
  float after;
  {
    mr::NoGrad ng(t);
    after = r.model->loss(t, sb)->v.f32()[0];
  }
  mr::TrainState st;
  st.step = r.step;
  st.config = r.cfg.to_json().dump();
  auto path = mr::save_checkpoint(out, r.model->params(), nullptr, st);
  std::printf("support loss %.4f -> %.4f after %d step(s); wrote %s\n", before, after, steps, path.c_str());
  return 0;
}

mr::cli::Command reg{"recommend", "adapt a trained run to a new user's few interactions and print ranked items", recommend};
mr::cli::Command reg2{"adapt", "adapt a trained run to one user and save the adapted parameters", adapt};

}  // namespace
