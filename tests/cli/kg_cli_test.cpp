// `metarec recommend` names the knowledge-graph paths from each recommendation to the history
// (issue 25 item 4), on the hand-built KG of tests/data/recdata/kgmini (its lines are listed at
// the top of tests/recdata/kg_test.cpp): a 2-step run of the tiny BERT, history Beta (2), Zeta (9).
// The ranking is whatever 2 steps give; the paths do not depend on it, only their order does
// (the contributing history items first), so each line is checked for the paths it must have.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "tests/cli/run_cli.h"
#include "tests/core/tiny_model_dir.h"

namespace fs = std::filesystem;

namespace {
// the recommendation line of the item labelled `label` ("Gamma (3)")
std::string line_of(const std::string& out, const std::string& label) {
  std::istringstream in(out);
  std::string line;
  while (std::getline(in, line))
    if (line.find(". " + label + " ") != std::string::npos) return line;
  return "";
}
bool has(const std::string& s, const std::string& what) { return s.find(what) != std::string::npos; }
}  // namespace

TEST_CASE("cli recommend: KG paths to the history" * doctest::skip(!fs::exists("tests/data/tiny_bert/model.safetensors"))) {
  mr::test::TinyModelDir d("kg");
  const fs::path run_dir = d.dir / "run", names = d.dir / "names.tsv";
  std::ofstream(names) << "m.dir\tJane Doe\n";
  const Result t = run("train --data tests/data/recdata/kgmini --model " + d.dir.string() + " --out " + run_dir.string() +
                       " --set data.protocol=loo --set train.steps=2 --set encoder.cache= --set encoder.max_len=8"
                       " --set model.dim=16 --set model.ffn=32 --set train.meta_batch=2 --set eval.baselines="
                       " --set task.k_shots=1 --set eval.k_shots=1 --set train.threads=1");
  INFO(t.err);
  REQUIRE(t.rc == 0);
  const std::string rec = "recommend --run " + run_dir.string() + " --history 2,9 -k 4";

  const Result r = run(rec + " --kg-paths 3");
  INFO(r.out);
  REQUIRE(r.rc == 0);
  // Alpha: its prequel is Beta's entity, it shares Beta's director and Zeta's genre
  const std::string alpha = line_of(r.out, "Alpha (1)");
  CHECK(has(alpha, "sequel to Beta (1991), which you watched"));
  CHECK(has(alpha, "same director as Beta (1991), which you watched"));
  CHECK(has(alpha, "same genre as Zeta (1995), which you watched"));
  // Gamma and Delta share only the director with the history, Epsilon only Zeta's genre
  for (const char* l : {"Gamma (3)", "Delta (4)"}) {
    const std::string x = line_of(r.out, l);
    CHECK(has(x, "same director as Beta (1991), which you watched"));
    CHECK(!has(x, "Zeta (1995)"));
  }
  const std::string eps = line_of(r.out, "Epsilon (10)");
  CHECK(has(eps, "same genre as Zeta (1995), which you watched"));
  CHECK(!has(eps, "Beta (1991)"));
  // at most --kg-paths paths: the default 2 leaves one of Alpha's three out
  const Result r2 = run(rec);
  REQUIRE(r2.rc == 0);
  const std::string a2 = line_of(r2.out, "Alpha (1)");
  CHECK(int(has(a2, "sequel to Beta")) + int(has(a2, "same director as Beta")) + int(has(a2, "same genre as Zeta")) == 2);

  // names from --kg-names; the KG from --kg-data
  const Result n = run(rec + " --kg-names " + names.string() + " --kg-data tests/data/recdata/kgmini");
  REQUIRE(n.rc == 0);
  CHECK(has(line_of(n.out, "Gamma (3)"), "same director (Jane Doe) as Beta (1991), which you watched"));
  // --kg-paths 0: none
  const Result z = run(rec + " --kg-paths 0");
  REQUIRE(z.rc == 0);
  CHECK(has(z.out, "Gamma (3)"));
  CHECK(!has(z.out, "which you watched"));
  // --kg-data without a KG
  const Result e = run(rec + " --kg-data tests/data/recdata/ml100k");
  CHECK(e.rc != 0);
  CHECK(has(e.err, "no knowledge graph"));
}

TEST_CASE("cli prepare --kg: the split is required, recorded, and a run or an evaluation on another split is refused") {
  const fs::path dir = fs::temp_directory_path() / ("mr_cli_kg_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  const std::string prep = "prepare --data tests/data/recdata/kgmini --out " + (dir / "p").string();
  // --kg without --protocol, and split options without --kg: usage errors, nothing written
  Result r = run(prep + " --kg");
  CHECK(r.rc == 2);
  CHECK(has(r.err, "--kg needs --protocol"));
  r = run(prep + " --seed 3");
  CHECK(r.rc == 2);
  CHECK(has(r.err, "--seed is only for --kg"));
  CHECK(!fs::exists(dir / "p"));
  // the texts of tests/recdata/kg_test.cpp, and the split in the meta
  r = run(prep + " --kg --kg-max 2 --protocol loo --show");
  INFO(r.err);
  REQUIRE(r.rc == 0);
  CHECK(has(r.err, "item 3: Gamma (1992). directed by: the director of Beta (1991) and Alpha (1990)\n"));
  CHECK(has(r.out, "\"kg_popularity_split\": {\n    \"protocol\": \"loo\",\n    \"train_interactions\": 10\n  }"));
  // the same split: accepted; another: refused, naming both
  r = run("eval --data " + (dir / "p").string() + " --protocol loo --model pop");
  CHECK(r.rc == 0);
  r = run("eval --data " + (dir / "p").string() + " --protocol cold-user --min-inter 2 --model pop");
  CHECK(r.rc == 1);
  CHECK(has(r.err, "its KG text took titles from the training part of {\"protocol\":\"loo\"}, this split is "
                   "{\"max_inter\":100,\"min_inter\":2,\"protocol\":\"cold-user\",\"seed\":0,"));
  r = run("train --data " + (dir / "p").string() + " --out " + (dir / "run").string() +
          " --set data.protocol=loo-mirror --set eval.part=valid --set train.steps=1");
  CHECK(r.rc == 1);
  CHECK(has(r.err, "this split is {\"protocol\":\"loo-mirror\"}"));
  fs::remove_all(dir);
}
