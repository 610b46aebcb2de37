// metarec eval: evaluate a model under a protocol, print a JSON object of metrics.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <sys/stat.h>

#include "engine/baselines/evaluate.h"
#include "engine/baselines/mixture.h"
#include "base/check.h"
#include "engine/data/kg.h"
#include "engine/data/prepared.h"
#include "engine/data/readers.h"
#include "engine/data/split.h"
#include "engine/rec/config.h"
#include "engine/rec/item_data.h"
#include "engine/rec/run_dir.h"
#include "engine/rec/scorer.h"
#include "tools/cli/command.h"
#include "engine/comm/comm.h"
#include "tools/cli/device_args.h"
#include "engine/data/cli_args.h"

namespace {

std::vector<int> parse_ks(const std::string& s) {
  std::vector<int> ks;
  for (auto p : mr::data::split(s, ',')) {
    unsigned long long k;
    if (!mr::data::parse_u64(p, k) || k == 0 || k > 100000) throw mr::Error(fmt::format("--k: bad cutoff '{}'", p));
    ks.push_back(static_cast<int>(k));
  }
  return ks;
}

int run(int argc, char** argv) {
  CLI::App app("metarec eval: rank all items for each evaluation case and print the metrics as JSON");
  mr::cli::DataArgs da;
  da.add(app);
  std::string protocol = "loo", model = "pop", ks = "10,20,50", mask = "auto", part = "test", blend;
  int adapt_steps = -2;
  size_t sampled = 0, tile = 0, item_tile = 0;
  std::string ranking = "auto";
  mr::data::ColdUserOptions cu;
  mr::data::ColdItemOptions ci;
  size_t max_history = 50;
  mr::baselines::Options mo;
  uint64_t seed = 0;
  std::string encoder = "models/all-MiniLM-L6-v2";
  app.add_option("--encoder", encoder, "text: the pretrained encoder's directory (HF BERT, mean pooling)");
  app.add_option("--protocol", protocol,
                 "loo | loo-mirror (loo whose validation part mirrors the test case; no test part) | cold-user | "
                 "cold-item")
      ->check(CLI::IsMember({"loo", "loo-mirror", "cold-user", "cold-item"}));
  app.add_option("--model", model,
                 "random | pop | itemknn | bpr | text | RUN_DIR | RUN_DIR,RUN_DIR,... (an ensemble: the mean of the "
                 "runs' softmax distributions)");
  app.add_option("--k", ks, "cutoffs, comma separated");
  app.add_option("--mask", mask,
                 "remove the case's known items from the ranking: yes | no | auto (auto: no for loo, as RecBole's "
                 "sequential full ranking; yes for cold-user/cold-item)")
      ->check(CLI::IsMember({"yes", "no", "auto"}));
  app.add_option("--part", part, "test | valid")->check(CLI::IsMember({"test", "valid"}));
  app.add_option("--sampled", sampled, "also report metrics over N sampled negatives (keys sampled<N>_...)");
  app.add_option("--tile", tile, "cases scored at once (memory: tile x items scores; 0: as many as 64 MiB hold, "
                                 "16..1024); under mpirun the ranks share the tiles out");
  app.add_option("--ranking", ranking,
                 "where a tile of scores is ranked: auto (on the GPU when the run is scored there, else the host) | "
                 "host (every score copied to the host) | backend (the run's backend ranks, the CPU too); the "
                 "metrics are the same")
      ->check(CLI::IsMember({"auto", "host", "backend"}));
  app.add_option("--item-tile", item_tile,
                 "ranking on the backend: items scored at once (0: as many as keep tile x items scores within 64 MiB)");
  app.add_option("--seed", seed, "seed of the cold-user/cold-item splits, BPR and sampled negatives");
  app.add_option("--max-history", max_history, "loo/cold-item: model input truncated to the last N items");
  app.add_option("--k-shot", cu.k_shot, "cold-user: support set size K");
  app.add_option("--min-inter", cu.min_interactions, "cold-user: keep users with at least this many interactions");
  app.add_option("--max-inter", cu.max_interactions, "cold-user: keep users with at most this many interactions");
  app.add_option("--test-fraction", cu.test_fraction, "cold-user/cold-item: fraction of users/items in meta-test");
  app.add_option("--valid-fraction", cu.valid_fraction, "cold-user/cold-item: fraction in meta-valid");
  app.add_option("--adapt-steps", adapt_steps, "RUN_DIR: SGD steps on the history (default: the run's eval.adapt_steps)");
  app.add_option("--blend", blend,
                 "NAME:W: rank by log((1-W) softmax(model) + W NAME's normalised scores), e.g. itemknn:0.3 (a hybrid)");
  app.add_option("--knn-k", mo.knn_k, "itemknn: neighbours per item");
  app.add_option("--knn-shrink", mo.knn_shrink, "itemknn: shrinkage of the cosine denominator");
  app.add_option("--knn-decay", mo.knn_decay,
                 "itemknn: weight decay^p of the history item p places before the most recent (1 = all equal)");
  app.add_option("--bpr-dim", mo.bpr_dim, "bpr: embedding size");
  app.add_option("--bpr-epochs", mo.bpr_epochs, "bpr: epochs");
  app.add_option("--bpr-lr", mo.bpr_lr, "bpr: SGD learning rate");
  app.add_option("--bpr-reg", mo.bpr_reg, "bpr: L2 regularisation");
  mr::cli::DeviceArgs dev;
  dev.add(app);
  mr::cli::parse(app, argc, argv);
  // under mpirun every rank scores its share of the cases (engine/baselines/evaluate.h) on its
  // node's GPU (local rank) or CPU; rank 0 prints one process's metrics
  std::unique_ptr<mr::comm::Communicator> comm = mr::comm::make_communicator("auto");
  // a rank that fails anywhere (its GPU, the data, the run) must not leave the others waiting in
  // the evaluation's collectives: it ends the whole job
  try {
    const mr::Backend be = dev.backend(comm->size() > 1 ? std::max(0, mr::comm::local_rank()) : -1);

    cu.seed = ci.seed = mo.seed = seed;
    ci.test_fraction = cu.test_fraction;
    ci.valid_fraction = cu.valid_fraction;
    ci.max_history = max_history;

    auto ds = da.load();
    // prepared KG text ranks titles by one split's training part (metarec prepare --kg --protocol)
    if (mr::data::PreparedDataset::is_prepared(da.path)) {
      const std::string why = mr::data::kg_split_mismatch(mr::data::PreparedDataset::open(da.path, false).meta(),
                                                          mr::data::kg_split_desc(protocol, cu));
      if (!why.empty())
        throw mr::Error(fmt::format("--data {}: {} (--protocol, --seed, ...): its test interactions may have chosen "
                                    "titles; prepare it again with this split",
                                    da.path, why));
    }
    std::unique_ptr<mr::baselines::Model> m;
    std::vector<std::unique_ptr<mr::rec::LoadedRun>> runs;  // outlive m, which refers to them
    nlohmann::json run_info;
    if (model == "text") {
      mr::rec::Config c;
      c.encoder.model = encoder;
      int64_t D = 0;
      auto emb = mr::rec::item_embeddings(c, ds, &D);
      m = mr::baselines::make_text_model(std::move(emb), static_cast<size_t>(D));
      run_info = {{"encoder", encoder}, {"pool", mr::rec::name(c.encoder.pool)}, {"max_len", c.encoder.max_len}};
    } else if (model == "random" || model == "pop" || model == "itemknn" || model == "bpr") {
      m = mr::baselines::make_model(model, mo);
    } else {
      // one run directory, or several separated by commas: an ensemble (the mean of their next-item
      // distributions, each run adapted to the case as its config says)
      std::vector<std::unique_ptr<mr::baselines::Model>> members;
      std::vector<nlohmann::json> infos;
      for (const auto dir_view : mr::data::split(model, ',')) {
        const std::string dir(dir_view);
        struct stat st;
        if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
          throw mr::Error(fmt::format("--model '{}': expected random, pop, itemknn, bpr, text or a run directory", dir));
        runs.push_back(std::make_unique<mr::rec::LoadedRun>(mr::rec::load_run(dir)));
        mr::rec::move_run(*runs.back(), be);
        const auto& run = *runs.back();
        if (run.ds.items.names != ds.items.names)
          throw mr::Error(fmt::format("--model {}: the run was trained on other data ({} items) than --data {} ({} items)",
                                      dir, run.ds.n_items(), da.path, ds.n_items()));
        const int steps = mr::rec::eval_adapt_steps(run.cfg, adapt_steps);
        members.push_back(std::make_unique<mr::rec::AdaptedScorer>(dir, *runs.back(), steps));
        infos.push_back({{"run", dir}, {"step", run.step}, {"algorithm", mr::rec::name(run.cfg.meta.algorithm)},
                         {"adapt_steps", steps}});
      }
      if (members.size() == 1) {
        m = std::move(members[0]);
        run_info = infos[0];
      } else {
        m = mr::baselines::make_ensemble(std::move(members));
        run_info = {{"ensemble", infos}};
      }
    }
    if (!blend.empty()) {
      std::string name;
      double w = 0;
      mr::baselines::parse_blend(blend, "--blend", &name, &w);
      m = mr::baselines::make_mixture(std::move(m), mr::baselines::make_model(name, mo), w);
      run_info["blend"] = blend;
    }
    const bool loo = mr::data::is_loo(protocol);
    mr::data::Split sp = loo                       ? mr::data::split_loo(ds, max_history, protocol == "loo-mirror")
                         : protocol == "cold-user" ? mr::data::split_cold_user(ds, cu)
                                                   : mr::data::split_cold_item(ds, ci);
    m->fit(sp);
    mr::baselines::EvalOptions eo;
    eo.ks = parse_ks(ks);
    eo.mask_known = mask == "auto" ? !loo : mask == "yes";
    eo.part = part;
    eo.sampled = sampled;
    eo.seed = seed;
    eo.tile = tile;
    eo.item_tile = item_tile;
    eo.ranking = ranking == "host"      ? mr::baselines::EvalOptions::Ranking::Host
                 : ranking == "backend" ? mr::baselines::EvalOptions::Ranking::Backend
                                        : mr::baselines::EvalOptions::Ranking::Auto;
    if (comm->size() > 1) {
      eo.rank = comm->rank();
      eo.ranks = comm->size();
      eo.allreduce_sum = [&comm](double* x, int64_t n) { comm->allreduce_sum(x, n); };
    }
    nlohmann::json j = mr::baselines::evaluate(sp, *m, eo);
    if (comm->rank() != 0) return 0;
    if (comm->size() > 1) j["ranks"] = comm->size();
    j["dataset"] = ds.name;
    j["source"] = ds.source;
    if (da.thr && da.thr->count()) j["threshold"] = da.threshold;
    j["users"] = ds.n_users();
    j["items"] = ds.n_items();
    j["interactions"] = ds.inter.size();
    j["train_interactions"] = sp.train.size();
    j["skipped_lines"] = ds.report.total_skipped();
    if (sp.dropped_users) j["users_not_evaluated"] = sp.dropped_users;
    if (loo) j["max_history"] = max_history;
    if (protocol == "cold-user") {
      j["k_shot"] = cu.k_shot;
      j["user_filter"] = {cu.min_interactions, cu.max_interactions};
      j["seed"] = seed;
    }
    if (protocol == "cold-item") j["seed"] = seed;
    if (!m->config().empty()) j["config"] = m->config();
    if (!run_info.empty()) j["model_info"] = run_info;
    std::printf("%s\n", j.dump(2).c_str());
    return 0;
  } catch (const std::exception& e) {
    if (comm->size() > 1) comm->abort(std::string("metarec eval: error: ") + e.what(), 1);
    throw;
  }
}

mr::cli::Command reg{"eval", "evaluate random/pop/itemknn/bpr under loo, cold-user or cold-item; prints JSON metrics", run};

}  // namespace
