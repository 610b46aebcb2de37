// `metarec convert` on the BERT family (issue 27): a supported family converts and says which;
// any other model_type exits 1 with
// one message naming the type and the supported list, and writes nothing.
#include <doctest/doctest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "tests/cli/run_cli.h"

namespace fs = std::filesystem;

namespace {

const std::string kFamilies = "tests/data/families/";

// A copy of the bert fixture whose config.json says model_type `type`.
fs::path fixture_as(const std::string& type, const fs::path& root) {
  const fs::path d = root / ("src_" + type);
  fs::create_directories(d);
  for (auto& e : fs::directory_iterator(kFamilies + "bert")) fs::copy_file(e.path(), d / e.path().filename());
  std::ifstream f(kFamilies + "bert/config.json");
  std::stringstream ss;
  ss << f.rdbuf();
  std::string cfg = ss.str();
  const std::string from = "\"model_type\": \"bert\"";
  const size_t at = cfg.find(from);
  REQUIRE(at != std::string::npos);
  cfg.replace(at, from.size(), "\"model_type\": \"" + type + "\"");
  std::ofstream(d / "config.json") << cfg;
  return d;
}

}  // namespace

TEST_CASE("cli convert: a family converts; an unsupported model_type is refused, named, nothing written" *
          doctest::skip(!fs::exists(kFamilies + "roberta/model.safetensors"))) {
  const fs::path root = fs::temp_directory_path() / ("mr_cli_convert_" + std::to_string(::getpid()));
  fs::remove_all(root);
  fs::create_directories(root);
  const Result ok = run("convert --from-hf " + kFamilies + "roberta --out " + (root / "rob").string());
  INFO(ok.err);
  CHECK(ok.rc == 0);
  CHECK(ok.out.find("(roberta, pooler: yes") != std::string::npos);
  CHECK(fs::exists(root / "rob" / "metarec.json"));
  for (const std::string type : {"gpt2", "deberta-v2", "BERT"}) {
    CAPTURE(type);
    const fs::path src = fixture_as(type, root), out = root / ("out_" + type);
    const Result r = run("convert --from-hf " + src.string() + " --out " + out.string());
    CHECK(r.rc == 1);
    CHECK(r.err.find("\"" + type + "\"") != std::string::npos);
    CHECK(r.err.find("bert, roberta, xlm-roberta, distilbert, electra, mpnet") != std::string::npos);
    CHECK(r.out.empty());
    CHECK(!fs::exists(out));
  }
  fs::remove_all(root);
}
