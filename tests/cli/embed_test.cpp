// `metarec embed` end to end on a model whose max_position_embeddings (64) is below the default
// max length (256, issue 27 item 1): without --max-len it follows the model (64) and writes
// the same file as --max-len 64; it reports the activation high water ("activations: peak").
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "tests/cli/run_cli.h"
#include "tests/core/tiny_model_dir.h"

namespace fs = std::filesystem;

namespace {
std::string slurp(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}
}  // namespace

TEST_CASE("cli embed: the default max length follows the model's 64 positions" *
          doctest::skip(!fs::exists("tests/data/tiny_bert/model.safetensors"))) {
  mr::test::TinyModelDir d("cli");
  const fs::path texts = d.dir / "texts.txt", def = d.dir / "def.npy", at64 = d.dir / "at64.npy";
  {
    std::ofstream f(texts);
    for (int i = 0; i < 100; ++i) f << "w" << (i * 7 % 507) << " ";  // 102 tokens
    f << "\nw1 w2 w3\n";
  }
  const std::string common = "embed --model " + d.dir.string() + " --in " + texts.string() + " --threads 1";
  const Result r = run(common + " --out " + def.string());
  INFO(r.err);
  REQUIRE(r.rc == 0);
  CHECK(r.err.find("max length 64") != std::string::npos);
  CHECK(r.err.find("activations: peak ") != std::string::npos);
  const Result r64 = run(common + " --max-len 64 --out " + at64.string());
  REQUIRE(r64.rc == 0);
  CHECK(slurp(def).size() > 128);
  CHECK(slurp(def) == slurp(at64));
  const Result r65 = run(common + " --max-len 65 --out " + at64.string());
  CHECK(r65.rc == 1);
  CHECK(r65.err.find("max_position_embeddings = 64") != std::string::npos);
}
