// Config parsing, the run folder, and resume: a run interrupted after 3 steps and resumed to 6
// ends with the same parameters, bit for bit, as one trained to 6 in one go.
#include <doctest/doctest.h>

#include <filesystem>
#include <algorithm>
#include <fstream>
#include <map>
#include <random>

#include "base/check.h"
#include "engine/rec/evaluate.h"
#include "engine/rec/run_dir.h"
#include "engine/rec/trainer.h"
#include "engine/io/checkpoint.h"
#include "tests/rec/rec_test_util.h"
#include "weights/npy.h"

using namespace mr;
using mr::rec_test::small_config;
using mr::rec_test::synthetic;
namespace fs = std::filesystem;

TEST_CASE("config: defaults, TOML subset, --set, errors with file and line") {
  rec::Config c;
  CHECK(c.meta.algorithm == meta::Algorithm::FOMAML);
  c.load_toml_text("# comment\n[meta]\nalgorithm = \"reptile\"  # trailing\ninner_steps = 3\n[train]\nlr = 1e-3\n"
                   "[eval]\nk_shots = [1, 5]\nbaselines = [\"pop\"]\n",
                   "x.toml");
  CHECK(c.meta.algorithm == meta::Algorithm::Reptile);
  CHECK(c.meta.inner_steps == 3);
  CHECK(c.train.lr == doctest::Approx(1e-3));
  CHECK(c.eval.k_shots == std::vector<int>{1, 5});
  CHECK(c.eval.baselines == std::vector<std::string>{"pop"});
  c.set("eval.k_shots=3,10");
  CHECK(c.eval.k_shots == std::vector<int>{3, 10});
  c.set("eval.k_shots=5");
  CHECK(c.eval.k_shots == std::vector<int>{5});
  c.set("meta.scope=user");
  CHECK(c.meta.scope == rec::Scope::User);
  c.set("eval.baselines=");
  CHECK(c.eval.baselines.empty());
  c.set("loss.weights=1,0.5,0");
  CHECK(c.loss.weights == std::vector<double>{1.0, 0.5, 0.0});
  // the resolved config round-trips through its TOML rendering and its JSON
  rec::Config d;
  d.load_toml_text(c.to_toml(), "resolved");
  CHECK(d.to_json() == c.to_json());
  CHECK(rec::Config::from_json(c.to_json()).to_json() == c.to_json());
  CHECK(c.to_json().size() == 70);  // every key
  auto msg = [](auto f) {
    try { f(); } catch (const Error& e) { return std::string(e.what()); }
    return std::string("no error");
  };
  CHECK(msg([&] { c.load_toml_text("[meta]\n\nalgoritm = 1\n", "bad.toml"); }).find("bad.toml:3") != std::string::npos);
  CHECK(msg([&] { c.load_toml_text("[meta]\ninner_steps = \"x\"\n", "t.toml"); }).find("t.toml:2") != std::string::npos);
  CHECK(msg([&] { c.load_toml_text("[meta]\ninner_steps = 1.5\n", "t.toml"); }).find("integer") != std::string::npos);
  CHECK(msg([&] { c.load_toml_text("[meta\n", "h.toml"); }).find("h.toml: line 1") != std::string::npos);
  CHECK(msg([&] { c.set("nope.key=1"); }).find("unknown config key") != std::string::npos);
}

TEST_CASE("config errors: an unknown key names the file, line and the section's keys; a bad enum value lists the allowed ones") {
  auto msg = [](auto f) {
    try { f(); } catch (const Error& e) { return std::string(e.what()); }
    return std::string("no error");
  };
  rec::Config c;
  // an unknown key in a TOML file: file and line, and the keys its section has
  CHECK(msg([&] { c.load_toml_text("[train]\nsteps = 3\n\n# x\nstep = 4\n", "run.toml"); }) ==
        "run.toml:5: unknown config key 'train.step' (keys of [train]: steps, meta_batch, lr, weight_decay, adam_eps, warmup, "
        "decay, clip, seed, log_every, ckpt_every, threads, step_item_table, batch_tasks, device, precision, gpus)");
  CHECK(msg([&] { c.load_toml_text("[trian]\nsteps = 3\n", "run.toml"); }).starts_with("run.toml:2: unknown config key 'trian.steps' (sections: data,"));
  CHECK(c.train.steps == 3);  // the lines before the bad one were applied
  // a bad enum value: file, line, key and the allowed values; the field keeps its value
  CHECK(msg([&] { c.load_toml_text("[meta]\nalgorithm = \"maml\"\n", "run.toml"); }) ==
        "run.toml:2: meta.algorithm must be one of fomaml, reptile, metasgd, none; got 'maml'");
  CHECK(c.meta.algorithm == meta::Algorithm::FOMAML);
  CHECK(msg([&] { c.load_toml_text("[data]\nprotocol = 3\n", "p.toml"); }) ==
        "p.toml:2: data.protocol must be one of cold-user, loo, loo-mirror; got '3'");
  // every enum key checks its value when it is read
  for (const char* kv : {"data.protocol=x", "encoder.pool=x", "encoder.device=x", "encoder.precision=x", "model.pool=x",
                         "model.score=x", "loss.sampler=x", "loss.weighting=x", "task.target=x", "meta.algorithm=x",
                         "meta.scope=x", "train.decay=x", "eval.part=x"}) {
    CAPTURE(kv);
    CHECK(msg([&] { c.set(kv); }).find("must be one of") != std::string::npos);
  }
  // a bad --set: the option is named, as given
  CHECK(msg([&] { c.set("meta.scope=users"); }) == "--set meta.scope=users: meta.scope must be one of head, user, all; got 'users'");
  CHECK(msg([&] { c.set("train.stepz=1"); }).starts_with("--set train.stepz=1: unknown config key 'train.stepz' (keys of [train]: steps,"));
  CHECK(msg([&] { c.set("train.steps=many"); }) == "--set train.steps=many: train.steps must be an integer, got \"many\"");
  CHECK(msg([&] { c.set("eval.ks=10,x"); }) == "--set eval.ks=10,x: eval.ks: 'x' is not a number");
  CHECK(msg([&] { c.set("model.item_id=1"); }) == "--set model.item_id=1: model.item_id must be true or false, got 1");
  CHECK(msg([&] { c.set("train.lr"); }) == "--set 'train.lr': expected key=value");
  // a resolved config.json read back: its origin is named
  nlohmann::json j = c.to_json();
  j["meta.scope"] = "everything";
  CHECK(msg([&] { rec::Config::from_json(j, "runs/x/config.json"); }) ==
        "runs/x/config.json: meta.scope must be one of head, user, all; got 'everything'");
}

namespace {

std::vector<float> final_params(const std::string& dir) {
  auto r = rec::load_run(dir);
  auto t = r.model->params().flat_params();
  return {t.f32(), t.f32() + t.numel()};
}

// item embeddings read from a file (what `metarec embed` writes; the data's item order): 45 x 6
// normal values from `seed`, written to ROOT/emb.npy; returns its path
std::string random_emb(const std::string& root, uint64_t seed) {
  std::vector<float> emb(45 * 6);
  std::mt19937_64 r(seed);
  std::normal_distribution<float> nd;
  for (auto& x : emb) x = nd(r);
  write_npy_f32(root + "/emb.npy", emb.data(), 45, 6);
  return root + "/emb.npy";
}

}  // namespace

TEST_CASE("run folder: config, item embeddings, metrics, checkpoints, results; resume is bit-identical") {
  const std::string root = (fs::temp_directory_path() / "metarec_rec_run_test").string();
  const std::string data = synthetic(root);
  random_emb(root, 2);
  auto ds = rec::load_data(small_config(data, root + "/emb.npy"));
  REQUIRE(ds.n_items() == 45);

  auto c = small_config(data, root + "/emb.npy");
  c.set("train.steps=6");
  auto res = rec::train(c, root + "/a", false);
  for (const char* f : {"config.json", "config.toml", "item_emb.npy", "metrics.jsonl", "results.json", "results.md", "latest"})
    CHECK(fs::exists(root + "/a/" + f));
  CHECK(list_checkpoints(root + "/a").size() == 2);  // steps 3 and 6
  REQUIRE(res["rows"].size() == 2);                  // the model and pop at K = 3
  CHECK(res["rows"][0]["k_shot"] == 3);
  CHECK(res["rows"][1]["model"] == "pop");
  CHECK(res["rows"][0]["cases"].get<int>() > 0);
  int lines = 0;
  {
    std::ifstream m(root + "/a/metrics.jsonl");
    std::string l;
    while (std::getline(m, l)) lines++;
  }
  CHECK(lines == 6 + 2);  // 6 logged steps, 2 evaluations

  auto c3 = small_config(data, root + "/emb.npy");
  c3.set("train.steps=3");
  rec::train(c3, root + "/b", false);
  CHECK(final_params(root + "/b") != final_params(root + "/a"));
  rec::train(c, root + "/b", true);
  CHECK(final_params(root + "/b") == final_params(root + "/a"));

  // evaluating a loaded run leaves its parameters untouched (adaptation is undone)
  auto lr = rec::load_run(root + "/a");
  auto before = final_params(root + "/a");
  rec::evaluate(lr, "");
  auto t = lr.model->params().flat_params();
  CHECK(std::vector<float>(t.f32(), t.f32() + t.numel()) == before);

  // eval.blend adds a hybrid row after the model's: W = 0 ranks exactly as the model (the
  // mixture's log of the softmax is monotone in the scores), W = 1 exactly as pop
  lr.cfg.set("eval.blend=pop:0,pop:1");
  auto hyb = rec::evaluate(lr, "");
  REQUIRE(hyb["rows"].size() == 4);  // model, model + pop 0, model + pop 1, pop
  CHECK(hyb["rows"][1]["model"].get<std::string>().ends_with(" + pop 0"));
  CHECK(hyb["rows"][2]["model"].get<std::string>().ends_with(" + pop 1"));
  CHECK(hyb["rows"][1]["recall@10"] == hyb["rows"][0]["recall@10"]);
  CHECK(hyb["rows"][1]["ndcg@10"].get<double>() == doctest::Approx(hyb["rows"][0]["ndcg@10"].get<double>()).epsilon(1e-9));
  CHECK(hyb["rows"][2]["recall@10"] == hyb["rows"][3]["recall@10"]);
  lr.cfg.set("eval.blend=pop:1.5");
  CHECK_THROWS_WITH_AS(rec::evaluate(lr, ""), doctest::Contains("eval.blend 'pop:1.5'"), Error);
  fs::remove_all(root);
}

TEST_CASE("run folder with sampled negatives (popularity) and the click head: resume is bit-identical") {
  const std::string root = (fs::temp_directory_path() / "metarec_rec_run_sampled_test").string();
  const std::string data = synthetic(root);
  random_emb(root, 3);
  auto cfg = [&](int steps) {
    auto c = small_config(data, root + "/emb.npy");
    for (const char* kv : {"loss.negatives=8", "loss.sampler=popularity", "loss.alpha=0.5", "loss.weights=1,0.5,0"}) c.set(kv);
    c.set(fmt::format("train.steps={}", steps));
    return c;
  };
  auto res = rec::train(cfg(6), root + "/a", false);
  CHECK(res["rows"][0]["cases"].get<int>() > 0);
  rec::train(cfg(3), root + "/b", false);
  CHECK(final_params(root + "/b") != final_params(root + "/a"));
  rec::train(cfg(6), root + "/b", true);
  CHECK(final_params(root + "/b") == final_params(root + "/a"));
  auto bad = small_config(data, root + "/emb.npy");
  bad.set("loss.weights=1,1,0");  // the click head without negatives
  CHECK_THROWS_WITH_AS(rec::train(bad, root + "/c", false), doctest::Contains("loss.negatives > 0"), Error);
  // loo-mirror: trains and evaluates its validation part; its missing test part is an error
  // before any training (not after it)
  auto mirror = small_config(data, root + "/emb.npy");
  for (const char* kv : {"data.protocol=loo-mirror", "train.steps=2", "eval.part=valid"}) mirror.set(kv);
  auto mres = rec::train(mirror, root + "/m", false);
  CHECK(mres["rows"][0]["protocol"] == "loo-mirror");
  CHECK(mres["rows"][0]["cases"].get<int>() > 0);
  mirror.set("eval.part=test");
  CHECK_THROWS_WITH_AS(rec::train(mirror, root + "/n", false), doctest::Contains("no test part"), Error);
  CHECK(!fs::exists(root + "/n"));
  fs::remove_all(root);
}

namespace {

// cases.jsonl's lines grouped by (model, k_shot)
std::map<std::pair<std::string, int>, std::vector<nlohmann::json>> read_cases(const std::string& path) {
  std::map<std::pair<std::string, int>, std::vector<nlohmann::json>> g;
  std::ifstream f(path);
  std::string l;
  while (std::getline(f, l)) {
    auto j = nlohmann::json::parse(l);
    g[{j["model"].get<std::string>(), j["k_shot"].get<int>()}].push_back(j);
  }
  return g;
}

// every row of res: its cases' lines, in case order, average to the row's metrics (1e-12)
void check_cases(const nlohmann::json& res, const std::string& path, size_t n_ks) {
  auto g = read_cases(path);
  size_t lines = 0;
  for (auto& [key, v] : g) lines += v.size();
  size_t expect = 0;
  for (auto& row : res["rows"]) {
    const auto& v = g[{row["model"].get<std::string>(), row["k_shot"].get<int>()}];
    CAPTURE(row["model"].get<std::string>());
    REQUIRE(v.size() == row["cases"].get<size_t>());
    expect += v.size();
    for (size_t i = 0; i < v.size(); i++) {
      CHECK(v[i]["case"] == i);
      CHECK(v[i].size() == 8 + 2 * n_ks);  // model, k_shot, part, case, user, R/N@K, mrr, auc, targets
    }
    for (const char* key : {"recall@10", "ndcg@10", "recall@50", "ndcg@50", "mrr", "auc"}) {
      double s = 0;
      size_t n = 0;
      for (auto& l : v)
        if (!l[key].is_null()) s += l[key].get<double>(), n++;
      CAPTURE(key);
      REQUIRE(n > 0);
      CHECK(std::abs(s / double(n) - row[key].get<double>()) < 1e-12);
    }
  }
  CHECK(lines == expect);  // no line without its row
}

}  // namespace

TEST_CASE("eval.per_case: cases.jsonl averages to every row; eval.finetune adds one fine-tuned row per spec") {
  const std::string root = (fs::temp_directory_path() / "metarec_rec_per_case_test").string();
  const std::string data = synthetic(root);
  random_emb(root, 5);
  auto c = small_config(data, root + "/emb.npy");
  for (const char* kv : {"train.steps=3", "eval.per_case=true", "eval.k_shots=1,3", "eval.ks=10,50"}) c.set(kv);
  auto meta = rec::train(c, root + "/meta", false);
  REQUIRE(meta["rows"].size() == 4);  // model and pop at K = 1, 3
  check_cases(meta, root + "/meta/cases.jsonl", 2);

  c.set("meta.algorithm=none");
  c.set("eval.finetune=2:0.1,1:0.5");
  auto none = rec::train(c, root + "/none", false);
  REQUIRE(none["rows"].size() == 8);  // model, two fine-tunes, pop at K = 1, 3
  CHECK(none["rows"][1]["model"] == "non-meta + fine-tune (2 x 0.1)");
  CHECK(none["rows"][2]["model"] == "non-meta + fine-tune (1 x 0.5)");
  CHECK(none["rows"][1]["ndcg@10"] != none["rows"][0]["ndcg@10"]);  // the fine-tune changes the ranking
  check_cases(none, root + "/none/cases.jsonl", 2);
  // users in the same order in every row of a K (the pairing tools/experiment.py relies on)
  auto g = read_cases(root + "/none/cases.jsonl");
  auto& a = g[{none["rows"][0]["model"].get<std::string>(), 3}];
  auto& b = g[{"pop", 3}];
  REQUIRE(a.size() == b.size());
  for (size_t i = 0; i < a.size(); i++) CHECK(a[i]["user"] == b[i]["user"]);

  // re-evaluating rewrites the file (no stale lines); per_case off writes none
  auto lr = rec::load_run(root + "/none");
  lr.cfg.set("eval.k_shots=3");
  auto again = rec::evaluate(lr, root + "/none");
  check_cases(again, root + "/none/cases.jsonl", 2);
  fs::remove(root + "/none/cases.jsonl");
  lr.cfg.set("eval.per_case=false");
  rec::evaluate(lr, root + "/none");
  CHECK(!fs::exists(root + "/none/cases.jsonl"));

  // a bad spec is an error naming the key, before any training
  c.set("eval.finetune=2:0");
  CHECK_THROWS_WITH_AS(rec::train(c, root + "/bad", false), doctest::Contains("eval.finetune '2:0'"), Error);
  CHECK(!fs::exists(root + "/bad"));
  for (const char* bad : {"eval.finetune=x:0.1", "eval.finetune=0:0.1", "eval.finetune=3", "eval.finetune=3:0.1x"}) {
    lr.cfg.set(bad);
    CHECK_THROWS_WITH_AS(rec::evaluate(lr, ""), doctest::Contains("expected STEPS:LR"), Error);
  }
  fs::remove_all(root);
}
