// Every BERT family trains and serves (issue 27 item 4): for each tiny random checkpoint of
// tests/data/families (tools/golden/families_golden.py; their own tokenizers), `metarec train`
// with the HF folder as encoder.model, encoder.train_layers 0 and 1 (the cached bottom, then the
// family's top layer trained under its own names), 2 steps on the hand-built kgmini catalogue,
// then `metarec recommend` on the run. What is checked: both commands succeed, the run says which
// encoder it read, the losses are finite, and recommend lists the asked number of items. That
// the family's numbers are right is tests/core/families_test.cpp's job (against transformers).
#include <doctest/doctest.h>
#include <unistd.h>

#include <cctype>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "tests/cli/run_cli.h"

namespace fs = std::filesystem;

TEST_CASE("cli: every BERT family trains (train_layers 0 and 1) and recommends" *
          doctest::skip(!fs::exists("tests/data/families/roberta/model.safetensors"))) {
  const fs::path root = fs::temp_directory_path() / ("mr_cli_family_train_" + std::to_string(::getpid()));
  fs::remove_all(root);
  int families = 0;
  for (const char* fam : {"bert", "roberta", "xlm-roberta", "distilbert", "electra", "mpnet"}) {
    const fs::path src = fs::path("tests/data/families") / fam;
    if (!fs::exists(src / "model.safetensors")) continue;  // a family whose fixture is not generated yet
    ++families;
    for (int layers : {0, 1}) {
      const std::string name = std::string(fam) + "-" + std::to_string(layers);
      CAPTURE(name);
      const fs::path out = root / name;
      const Result t = run("train --data tests/data/recdata/kgmini --model " + src.string() + " --out " + out.string() +
                           " --set data.protocol=loo --set train.steps=2 --set encoder.cache= --set encoder.max_len=12"
                           " --set model.dim=16 --set model.ffn=32 --set train.meta_batch=2 --set eval.baselines="
                           " --set task.k_shots=1 --set eval.k_shots=1 --set train.threads=1 --set train.log_every=1"
                           " --set encoder.train_layers=" + std::to_string(layers));
      INFO(t.err);
      REQUIRE(t.rc == 0);
      int steps = 0;
      std::ifstream m(out / "metrics.jsonl");
      for (std::string line; std::getline(m, line);) {
        const size_t at = line.find("\"query_loss\":");
        if (at == std::string::npos || line.find("\"step\"") == std::string::npos) continue;
        const double loss = std::stod(line.substr(at + 13));
        CHECK(std::isfinite(loss));
        ++steps;
      }
      CHECK(steps == 2);
      const Result r = run("recommend --run " + out.string() + " --history 2,9 -k 3");
      INFO(r.err);
      REQUIRE(r.rc == 0);
      int listed = 0;
      std::istringstream in(r.out);
      for (std::string line; std::getline(in, line);) {  // "  1. Title (id)   score ..."
        const size_t a = line.find_first_not_of(' ');
        if (a != std::string::npos && a + 2 < line.size() && std::isdigit(static_cast<unsigned char>(line[a])) &&
            line.compare(a + 1, 2, ". ") == 0)
          ++listed;
      }
      INFO(r.out);
      CHECK(listed == 3);
    }
  }
  CHECK(families >= 5);
  fs::remove_all(root);
}
