// `metarec tokenize` against the HF fixtures: the CLI prints HF's ids, one line per input line.
// Needs build/metarec (built by `make test` before the suites run); skips when it is absent.
#include <doctest/doctest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <unistd.h>

#include "tests/tokenizer/fixture.h"
#include "tokenizer/tokenizer.h"

using json = nlohmann::json;
namespace fs = std::filesystem;

namespace {

const std::string kBin = "build/metarec";

bool can_run() { return fs::exists(kBin) && mr::tok::test::have_model() && mr::tok::test::have_fixture("cases_pair.jsonl.gz"); }

// Runs the CLI on `input` and returns its stdout lines.
std::vector<std::string> run_cli(const std::string& args, const std::string& input, int* rc = nullptr) {
  fs::path dir = fs::temp_directory_path();
  std::string tag = std::to_string(::getpid());
  fs::path in = dir / ("mr_tok_cli_in_" + tag), out = dir / ("mr_tok_cli_out_" + tag);
  std::ofstream(in, std::ios::binary) << input;
  std::string cmd = kBin + " tokenize " + args + " < " + in.string() + " > " + out.string() + " 2>/dev/null";
  int status = std::system(cmd.c_str());
  if (rc) *rc = status;
  std::vector<std::string> lines;
  std::ifstream f(out);
  for (std::string line; std::getline(f, line);) lines.push_back(line);
  fs::remove(in);
  fs::remove(out);
  return lines;
}

std::string join_ids(const json& ids) {
  std::string s;
  for (const auto& id : ids) s += (s.empty() ? "" : " ") + std::to_string(id.get<int>());
  return s;
}

// Plain cases (no truncation, no padding) of a fixture file whose texts survive line splitting.
struct Selected {
  std::string input;
  std::vector<std::string> want;
  std::vector<json> ids;
};

Selected select(const std::string& file, const std::string& norm, bool pair, size_t max_cases) {
  Selected s;
  for (const std::string& line : mr::tok::test::read_gz_lines(mr::tok::test::kDataDir + "/" + file)) {
    json c = json::parse(line);
    if (c.value("norm", std::string()) != norm || c.contains("b") != pair || c.contains("max_len") || c.contains("pad") || c.contains("error") || !c.contains("a")) continue;
    std::string a = c["a"], b = pair ? c["b"].get<std::string>() : "";
    if (a.find('\n') != std::string::npos || b.find('\n') != std::string::npos || a.find('\t') != std::string::npos) continue;
    s.input += pair ? a + "\t" + b + "\n" : a + "\n";
    s.want.push_back(join_ids(c["ids"]));
    s.ids.push_back(c["ids"]);
    if (s.want.size() >= max_cases) break;
  }
  return s;
}

}  // namespace

TEST_CASE("cli: metarec tokenize prints HF's ids" * doctest::skip(!can_run())) {
  struct Run {
    std::string file, norm, args;
    bool pair;
  };
  for (const Run& r : {Run{"cases_single_lower.jsonl.gz", "lower", "--max-len 0", false},
                       Run{"cases_single_other.jsonl.gz", "cased", "--max-len 0 --no-lower", false},
                       Run{"cases_pair.jsonl.gz", "lower", "--max-len 0 --pair", true}}) {
    Selected s = select(r.file, r.norm, r.pair, 3000);
    REQUIRE(s.want.size() > 50);
    int rc = 0;
    std::vector<std::string> got = run_cli("--model " + mr::tok::test::kModelDir + " " + r.args, s.input, &rc);
    CHECK(rc == 0);
    REQUIRE(got.size() == s.want.size());
    size_t bad = 0;
    for (size_t i = 0; i < got.size(); ++i)
      if (got[i] != s.want[i] && bad++ < 3) FAIL_CHECK(r.args << " line " << i + 1 << ": got " << got[i] << " want " << s.want[i]);
    MESSAGE(r.args << ": " << got.size() << " lines, " << bad << " differ");
    CHECK(bad == 0);
  }
}

TEST_CASE("cli: --tokens, --max-len and bad input" * doctest::skip(!can_run())) {
  auto tk = mr::tok::Tokenizer::from_dir(mr::tok::test::kModelDir);
  Selected s = select("cases_single_lower.jsonl.gz", "lower", false, 200);
  std::vector<std::string> got = run_cli("--model " + mr::tok::test::kModelDir + " --max-len 0 --tokens", s.input);
  REQUIRE(got.size() == s.ids.size());
  size_t bad = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    std::string want;
    for (const auto& id : s.ids[i]) want += (want.empty() ? "" : " ") + std::string(tk.id_to_token(id.get<int32_t>()));
    bad += got[i] != want;
  }
  CHECK(bad == 0);
  got = run_cli("--model " + mr::tok::test::kModelDir + " --max-len 4", "one two three four five\n");
  REQUIRE(got.size() == 1);
  CHECK(got[0] == "101 2028 2048 102");
  int rc = 0;
  run_cli("--model " + mr::tok::test::kModelDir + " --pair", "no tab here\n", &rc);
  CHECK(rc != 0);
  run_cli("--model /nonexistent/dir", "x\n", &rc);
  CHECK(rc != 0);
}

TEST_CASE("cli: metarec tokenize with byte-level BPE and Unigram tokenizer.json" *
          doctest::skip(!fs::exists(kBin) || !mr::tok::test::have_fixture("hf_bpe_roberta_cases.jsonl.gz"))) {
  fs::path dir = fs::temp_directory_path() / ("mr_tok_cli_hf_" + std::to_string(::getpid()));
  for (const std::string name : {"hf_bpe_roberta", "hf_unigram_xlmr"}) {
    fs::create_directories(dir);
    {
      std::ofstream f(dir / "tokenizer.json", std::ios::binary);
      for (const std::string& line : mr::tok::test::read_gz_lines(mr::tok::test::kDataDir + "/" + name + ".json.gz")) f << line << '\n';
    }
    for (bool pair : {false, true}) {
      Selected s = select(name + "_cases.jsonl.gz", "", pair, 3000);
      REQUIRE(s.want.size() > 50);
      int rc = 0;
      std::vector<std::string> got = run_cli("--model " + dir.string() + (pair ? " --pair" : ""), s.input, &rc);
      CHECK(rc == 0);
      REQUIRE(got.size() == s.want.size());
      size_t bad = 0;
      for (size_t i = 0; i < got.size(); ++i)
        if (got[i] != s.want[i] && bad++ < 3) FAIL_CHECK(name << " line " << i + 1 << ": got " << got[i] << " want " << s.want[i]);
      MESSAGE(name << std::string(pair ? " pairs" : "") << ": " << got.size() << " lines, " << bad << " differ");
      CHECK(bad == 0);
    }
    int rc = 0;
    run_cli("--model " + dir.string() + " --no-lower", "x\n", &rc);  // WordPiece only
    CHECK(rc != 0);
    fs::remove_all(dir);
  }
}
