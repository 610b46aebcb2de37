// Byte-level BPE and Unigram tokenizers against HuggingFace `tokenizers`: the tokenizer.json
// files and the expected encodings in tests/data/tokenizer/hf_*.gz were written by
// tools/golden/hf_models_golden.py (tokenizers trained and run by HF, never by us). Ids, type
// ids, attention mask, offsets and decoded text must be identical for every case.
#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include "base/check.h"
#include "tests/tokenizer/fixture.h"
#include "tokenizer/tokenizer.h"

using namespace mr::tok;
using json = nlohmann::json;
namespace fs = std::filesystem;

namespace {

// The gzip tokenizer.json of a fixture, written out as a plain file in a temporary directory.
std::string unpack(const std::string& name) {
  fs::path dir = fs::temp_directory_path() / ("mr_tok_hf_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  fs::path out = dir / (name + ".json");
  std::ofstream f(out, std::ios::binary);
  for (const std::string& line : test::read_gz_lines(test::kDataDir + "/" + name + ".json.gz")) f << line << '\n';
  return out.string();
}

template <class T>
std::string show(const std::vector<T>& v) {
  std::string s;
  for (const auto& x : v) s += std::to_string(x) + " ";
  return s;
}

struct Stats {
  size_t cases = 0, pairs = 0, truncated = 0, refused = 0, failed = 0, offsets_differ = 0;
};

Stats run(const std::string& name) {
  Tokenizer tk = Tokenizer::from_tokenizer_json(unpack(name));
  Stats st;
  for (const std::string& line : test::read_gz_lines(test::kDataDir + "/" + name + "_cases.jsonl.gz")) {
    json c = json::parse(line);
    ++st.cases;
    tk.truncation = {};
    tk.padding = {};
    if (c.contains("max_len")) {
      ++st.truncated;
      tk.truncation.max_length = c["max_len"];
      std::string s = c["strategy"];
      tk.truncation.strategy = s == "only_first"    ? TruncationStrategy::OnlyFirst
                               : s == "only_second" ? TruncationStrategy::OnlySecond
                                                    : TruncationStrategy::LongestFirst;
    }
    std::string a = c["a"];
    bool pair = c.contains("b");
    st.pairs += pair;
    Encoding e;
    bool threw = false;
    std::string why;
    try {
      e = pair ? tk.encode(a, c["b"].get<std::string>()) : tk.encode(a);
    } catch (const mr::Error& ex) {
      threw = true;
      why = ex.what();
    }
    if (c.contains("error")) {
      st.refused += threw;
      if (!threw && st.failed++ < 10) FAIL_CHECK(name << ": HF refused but we encoded: " << line);
      continue;
    }
    if (threw) {
      if (st.failed++ < 10) FAIL_CHECK(name << ": we refused (" << why << ") but HF encoded: " << line);
      continue;
    }
    auto ids = c["ids"].get<std::vector<int32_t>>();
    std::string dec = tk.decode(e.ids);
    bool ok = e.ids == ids && e.type_ids == c["type_ids"].get<std::vector<int32_t>>() &&
              e.attention_mask == c["mask"].get<std::vector<int32_t>>() && dec == c["decode"].get<std::string>();
    if (!ok && st.failed++ < 10)
      FAIL_CHECK(name << " case: " << line << "\n ours ids: " << show(e.ids) << "\n ours types: " << show(e.type_ids)
                      << "\n ours decode: " << dec);
    std::vector<Offset> offs;
    for (const auto& o : c["offsets"]) offs.push_back({o[0].get<uint32_t>(), o[1].get<uint32_t>()});
    if (e.offsets != offs && st.offsets_differ++ < (std::getenv("MR_SHOW_OFFSETS") ? 12 : 0)) {
      std::string o;
      for (size_t k = 0; k < e.offsets.size(); ++k) o += "(" + std::to_string(e.offsets[k].start) + "," + std::to_string(e.offsets[k].end) + ")";
      MESSAGE(name << " offsets differ: " << line << "\n ours: " << o);
    }
  }
  MESSAGE(name << ": " << st.cases << " cases (" << st.pairs << " pairs, " << st.truncated << " truncated, " << st.refused
               << " refused like HF), " << st.failed << " differ; offsets differ in " << st.offsets_differ);
  return st;
}

bool have(const std::string& name) {
  return test::have_fixture(name + ".json.gz") && test::have_fixture(name + "_cases.jsonl.gz");
}

}  // namespace

// Every case identical, offsets included.
static void check_fixture(const std::string& name) {
  Stats st = run(name);
  CHECK(st.cases >= 2000);
  CHECK(st.pairs >= 500);
  CHECK(st.truncated >= 300);
  CHECK(st.failed == 0);
  CHECK(st.offsets_differ == 0);
}

TEST_CASE("hf models: byte-level BPE RoBERTa style (RobertaProcessing; no prefix space)" * doctest::skip(!have("hf_bpe_roberta"))) {
  check_fixture("hf_bpe_roberta");
}

TEST_CASE("hf models: byte-level BPE with add_prefix_space and TemplateProcessing" * doctest::skip(!have("hf_bpe_prefix"))) {
  check_fixture("hf_bpe_prefix");
}

TEST_CASE("hf models: Unigram XLM-R style (Precompiled nmt_nfkc + Metaspace)" * doctest::skip(!have("hf_unigram_xlmr"))) {
  check_fixture("hf_unigram_xlmr");
}

TEST_CASE("hf models: Unigram with NFKC + Lowercase; Metaspace first; byte fallback" * doctest::skip(!have("hf_unigram_nfkc"))) {
  check_fixture("hf_unigram_nfkc");
}

TEST_CASE("hf models: unsupported parts name the file and the JSON path") {
  fs::path dir = fs::temp_directory_path() / ("mr_tok_hf_err_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const std::string path = (dir / "tokenizer.json").string();
  const std::string uni = R"("model": {"type": "Unigram", "unk_id": 0, "vocab": [["<unk>", 0.0], ["a", -1.0], ["▁a", -0.5]]})";
  const std::string bpe = R"("model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": ["a b"]})";
  auto error = [&](const std::string& body) {
    std::ofstream(path) << "{" << body << "}";
    try {
      Tokenizer::from_tokenizer_json(path);
    } catch (const mr::Error& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  auto names = [&](const std::string& body, const std::string& json_path) {
    std::string e = error(body);
    INFO(body << " -> " << e);
    CHECK(e.find(path) != std::string::npos);
    CHECK(e.find(json_path) != std::string::npos);
  };
  names(uni + R"(, "normalizer": {"type": "Sequence", "normalizers": [{"type": "NFKC"}, {"type": "BertNormalizer"}]})",
        "normalizer.normalizers[1].type");
  names(uni + R"(, "normalizer": {"type": "Replace", "pattern": {"Regex": "\\s+"}, "content": " "})", "normalizer.pattern.Regex");
  names(uni + R"(, "pre_tokenizer": {"type": "Whitespace"})", "pre_tokenizer.type");
  names(uni + R"(, "decoder": {"type": "WordPiece"})", "decoder.type");
  names(uni + R"(, "post_processor": {"type": "Sequence", "processors": [{"type": "ByteLevel"}, {"type": "Nope"}]})",
        "post_processor.processors[1].type");
  names(R"("model": {"type": "Unigram", "unk_id": 5, "vocab": [["a", 0.0]]})", "model.unk_id");
  names(R"("model": {"type": "BPE", "dropout": 0.1, "vocab": {"a": 0}, "merges": []})", "model.dropout");
  names(R"("model": {"type": "BPE", "vocab": {"a": 0}, "merges": ["a c"]})", "model.merges[0]");
  names(bpe + R"(, "added_tokens": [{"id": 3, "content": "<x>", "single_word": true}])", "added_tokens[0].single_word");
  names(uni + R"(, "normalizer": {"type": "NFKC"}, "added_tokens": [{"id": 3, "content": "<x>", "normalized": true}])",
        "added_tokens[0].normalized");
  names(uni + R"(, "normalizer": {"type": "Precompiled", "precompiled_charsmap": "!!"})", "normalizer.precompiled_charsmap");

  // the minimal files load and encode (expected ids from HF 0.23.3 on the same files, plus the
  // fields HF requires: trim_offsets / use_regex, split)
  std::ofstream(path) << "{" << bpe << R"(, "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false}})";
  CHECK(Tokenizer::from_tokenizer_json(path).encode("abba").ids == std::vector<int32_t>{2, 1, 0});
  std::ofstream(path) << "{" << uni << R"(, "pre_tokenizer": {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "always"}})";
  Tokenizer u = Tokenizer::from_tokenizer_json(path);
  CHECK(u.encode("a xa").ids == std::vector<int32_t>{2, 0, 1});  // ▁a, then ▁x unknown + a: "▁x" fused to one unk
  fs::remove_all(dir);
}
