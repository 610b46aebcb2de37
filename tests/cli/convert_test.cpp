// `metarec convert` on the BERT family (issue 27): a supported family converts and says which;
// any other model_type exits 1 with
// one message naming the type and the supported list, and writes nothing. And the round trip
// through the binary for every family fixture (tests/data/families, mpnet included): convert,
// export-hf, then `embed` on the export equals transformers' masked means of texts.txt
// (golden text_mean) within 1e-5 max abs, as tests/core/families_test.cpp in process.
#include <doctest/doctest.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

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

std::string slurp(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// One F32 tensor of a safetensors file (this suite links no library: the format by hand).
std::vector<float> safetensors_f32(const fs::path& file, const std::string& name) {
  const std::string b = slurp(file);
  REQUIRE(b.size() >= 8);
  uint64_t n = 0;
  std::memcpy(&n, b.data(), 8);
  REQUIRE(8 + n <= b.size());
  const nlohmann::json h = nlohmann::json::parse(b.substr(8, n));
  REQUIRE(h.contains(name));
  REQUIRE(h[name]["dtype"] == "F32");
  const size_t from = h[name]["data_offsets"][0], to = h[name]["data_offsets"][1];
  REQUIRE(8 + n + to <= b.size());
  std::vector<float> v((to - from) / 4);
  std::memcpy(v.data(), b.data() + 8 + n + from, to - from);
  return v;
}

// The data of a float32 .npy file (format 1.0 or 2.0).
std::vector<float> npy_f32(const fs::path& file) {
  const std::string b = slurp(file);
  REQUIRE(b.size() >= 12);
  REQUIRE(b.substr(1, 5) == "NUMPY");
  size_t hl = 0, off = 0;
  if (b[6] == 1) {
    hl = uint8_t(b[8]) | size_t(uint8_t(b[9])) << 8;
    off = 10;
  } else {
    hl = uint8_t(b[8]) | size_t(uint8_t(b[9])) << 8 | size_t(uint8_t(b[10])) << 16 | size_t(uint8_t(b[11])) << 24;
    off = 12;
  }
  REQUIRE(b.substr(off, hl).find("'<f4'") != std::string::npos);
  std::vector<float> v((b.size() - off - hl) / 4);
  std::memcpy(v.data(), b.data() + off + hl, v.size() * 4);
  return v;
}

}  // namespace

TEST_CASE("cli convert / export-hf / embed: every family round trips through the binary, as transformers computes it" *
          doctest::skip(!fs::exists(kFamilies + "mpnet/model.safetensors"))) {
  const fs::path root = fs::temp_directory_path() / ("mr_cli_roundtrip_" + std::to_string(::getpid()));
  fs::remove_all(root);
  fs::create_directories(root);
  for (const std::string fam : {"bert", "roberta", "xlm-roberta", "distilbert", "electra", "mpnet"}) {
    CAPTURE(fam);
    const fs::path m = root / ("m_" + fam), hf = root / ("hf_" + fam), npy = root / (fam + ".npy");
    const Result c = run("convert --from-hf " + kFamilies + fam + " --out " + m.string());
    INFO(c.err);
    REQUIRE(c.rc == 0);
    CHECK(c.out.find("(" + fam + ", pooler: ") != std::string::npos);
    const Result x = run("export-hf --from " + m.string() + " --out " + hf.string());
    INFO(x.err);
    REQUIRE(x.rc == 0);
    const nlohmann::json src = nlohmann::json::parse(slurp(kFamilies + fam + "/config.json")),
                         out = nlohmann::json::parse(slurp(hf / "config.json"));
    CHECK(out["model_type"] == fam);
    CHECK(out["architectures"] == src["architectures"]);
    if (fam == "mpnet") {
      CHECK(out["architectures"] == nlohmann::json::array({"MPNetModel"}));
      CHECK(out["relative_attention_num_buckets"] == 32);
      CHECK(out["pad_token_id"] == 1);
      CHECK(!out.contains("type_vocab_size"));
    }
    CHECK(fs::exists(hf / "tokenizer.json"));
    const Result e = run("embed --model " + hf.string() + " --in " + kFamilies + "texts.txt --out " + npy.string() +
                         " --pool mean --no-normalize --threads 1");
    INFO(e.err);
    REQUIRE(e.rc == 0);
    const std::vector<float> got = npy_f32(npy), want = safetensors_f32(kFamilies + fam + "/golden.safetensors", "text_mean");
    REQUIRE(got.size() == want.size());
    double worst = 0;
    for (size_t i = 0; i < got.size(); ++i) worst = std::max(worst, std::isnan(got[i]) ? INFINITY : std::fabs(double(got[i]) - want[i]));
    MESSAGE(fam, ": embed of the export vs transformers, max abs error ", worst);
    CHECK(worst <= 1e-5);
  }
  fs::remove_all(root);
}

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
