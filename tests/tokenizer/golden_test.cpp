// The tokenizer against HuggingFace `tokenizers` on >= 5,000 texts and pairs
// (tests/data/tokenizer/cases_*.jsonl.gz, written by tools/golden/tokenizer_golden.py):
// ids, type ids, attention mask, offsets and decode must all be identical.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <unistd.h>

#include "base/check.h"
#include "tests/tokenizer/fixture.h"
#include "tokenizer/tokenizer.h"

using namespace mr::tok;
using json = nlohmann::json;

namespace {

NormalizerConfig norm_of(const std::string& name) {
  // (clean_text, handle_chinese_chars, strip_accents, lowercase): NORMS in the generator
  if (name == "lower") return {true, true, std::nullopt, true};
  if (name == "cased") return {true, true, std::nullopt, false};
  if (name == "cased_strip") return {true, true, true, false};
  if (name == "lower_nostrip") return {true, true, false, true};
  if (name == "raw") return {false, false, false, false};
  throw std::runtime_error("unknown norm " + name);
}

std::string unhex(const std::string& h) {
  std::string out;
  for (size_t i = 0; i + 1 < h.size(); i += 2) out.push_back(char(std::stoi(h.substr(i, 2), nullptr, 16)));
  return out;
}

struct Result {
  size_t cases = 0, failed = 0, errors_expected = 0;
  std::set<std::string> texts;
};

template <class T>
std::string show(const std::vector<T>& v) {
  std::string s;
  for (const auto& x : v) s += std::to_string(x) + " ";
  return s;
}

std::string show(const std::vector<Offset>& v) {
  std::string s;
  for (const auto& o : v) s += "(" + std::to_string(o.start) + "," + std::to_string(o.end) + ") ";
  return s;
}

// Runs every case of one fixture file through `make` (a tokenizer for a normalizer name).
template <class Make>
Result run_file(const std::string& file, Make&& make, bool only_plain = false) {
  Result r;
  std::map<std::string, std::unique_ptr<Tokenizer>> toks;
  for (const std::string& line : test::read_gz_lines(test::kDataDir + "/" + file)) {
    json c = json::parse(line);
    std::string norm = c["norm"];
    bool plain = !c.contains("max_len") && !c.contains("pad");
    if (only_plain && !plain) continue;
    auto& tk = toks[norm];
    if (!tk) tk = make(norm);
    if (!tk) continue;
    tk->truncation = {};
    tk->padding = {};
    if (c.contains("max_len")) {
      tk->truncation.max_length = c["max_len"];
      std::string st = c["strategy"];
      tk->truncation.strategy = st == "only_first"    ? TruncationStrategy::OnlyFirst
                                : st == "only_second" ? TruncationStrategy::OnlySecond
                                                      : TruncationStrategy::LongestFirst;
    }
    if (c.contains("pad")) {
      tk->padding.strategy = PaddingStrategy::Fixed;
      tk->padding.length = c["pad"];
    }
    std::string a = c.contains("a_hex") ? unhex(c["a_hex"]) : c["a"].get<std::string>();
    r.texts.insert(a);
    ++r.cases;
    bool pair = c.contains("b");
    if (pair) r.texts.insert(c["b"].get<std::string>());
    if (c.contains("error")) {
      ++r.errors_expected;
      bool threw = false;
      try {
        if (pair)
          tk->encode(a, c["b"].get<std::string>());
        else
          tk->encode(a);
      } catch (const mr::Error&) {
        threw = true;
      }
      if (!threw && r.failed++ < 10) FAIL_CHECK(file << ": HF refused but we encoded: " << line);
      continue;
    }
    Encoding e;
    try {
      e = pair ? tk->encode(a, c["b"].get<std::string>()) : tk->encode(a);
    } catch (const mr::Error& ex) {
      if (r.failed++ < 10) FAIL_CHECK(file << ": we refused (" << ex.what() << ") but HF encoded: " << line);
      continue;
    }
    auto ids = c["ids"].get<std::vector<int32_t>>();
    auto types = c["type_ids"].get<std::vector<int32_t>>();
    auto mask = c["mask"].get<std::vector<int32_t>>();
    std::vector<Offset> offs;
    for (const auto& o : c["offsets"]) offs.push_back({o[0].get<uint32_t>(), o[1].get<uint32_t>()});
    std::string dec = tk->decode(e.ids);
    bool ok = e.ids == ids && e.type_ids == types && e.attention_mask == mask && e.offsets == offs && dec == c["decode"];
    if (!ok && r.failed++ < 10) {
      FAIL_CHECK(file << " case: " << line << "\n ours ids: " << show(e.ids) << "\n ours types: " << show(e.type_ids)
                      << "\n ours mask: " << show(e.attention_mask) << "\n ours offsets: " << show(e.offsets)
                      << "\n ours decode: " << dec);
    }
  }
  return r;
}

std::unique_ptr<Tokenizer> from_json(const std::string& norm) {
  auto tk = std::make_unique<Tokenizer>(Tokenizer::from_tokenizer_json(test::kModelDir + "/tokenizer.json"));
  tk->normalizer = norm_of(norm);
  return tk;
}

bool have_all() {
  return test::have_model() && test::have_fixture("cases_single_lower.jsonl.gz") &&
         test::have_fixture("cases_single_other.jsonl.gz") && test::have_fixture("cases_pair.jsonl.gz");
}

}  // namespace

TEST_CASE("golden: single texts, lowercased, identical to HuggingFace" * doctest::skip(!have_all())) {
  Result r = run_file("cases_single_lower.jsonl.gz", from_json);
  MESSAGE(r.cases << " cases over " << r.texts.size() << " texts, " << r.failed << " differ");
  CHECK(r.cases >= 5000);
  CHECK(r.texts.size() >= 5000);
  CHECK(r.failed == 0);
}

TEST_CASE("golden: single texts, not lowercased and other normalizer settings" * doctest::skip(!have_all())) {
  Result r = run_file("cases_single_other.jsonl.gz", from_json);
  MESSAGE(r.cases << " cases, " << r.failed << " differ");
  CHECK(r.cases >= 5000);
  CHECK(r.failed == 0);
}

TEST_CASE("golden: pairs with truncation and padding" * doctest::skip(!have_all())) {
  Result r = run_file("cases_pair.jsonl.gz", from_json);
  MESSAGE(r.cases << " cases (" << r.errors_expected << " that HF refuses), " << r.failed << " differ");
  CHECK(r.cases >= 1000);
  CHECK(r.errors_expected > 0);
  CHECK(r.failed == 0);
}

TEST_CASE("golden: vocab.txt + tokenizer_config.json give the same as tokenizer.json" * doctest::skip(!have_all())) {
  namespace fs = std::filesystem;
  fs::path dir = fs::temp_directory_path() / ("mr_tok_vocab_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  fs::copy_file(test::kModelDir + "/vocab.txt", dir / "vocab.txt", fs::copy_options::overwrite_existing);
  auto with_config = [&](bool lower) {
    std::ofstream(dir / "tokenizer_config.json") << (lower ? R"({"do_lower_case": true})" : R"({"do_lower_case": false})");
    return std::make_unique<Tokenizer>(Tokenizer::from_dir(dir.string()));
  };
  Result lower = run_file("cases_single_lower.jsonl.gz",
                          [&](const std::string& n) { return n == "lower" ? with_config(true) : nullptr; }, true);
  Result cased = run_file("cases_single_other.jsonl.gz",
                          [&](const std::string& n) { return n == "cased" ? with_config(false) : nullptr; }, true);
  fs::remove_all(dir);
  MESSAGE(lower.cases << " + " << cased.cases << " cases through vocab.txt");
  CHECK(lower.cases > 4000);
  CHECK(cased.cases > 4000);
  CHECK(lower.failed == 0);
  CHECK(cased.failed == 0);
}

TEST_CASE("golden: encode_batch with padding and truncation in both directions" *
          doctest::skip(!test::have_model() || !test::have_fixture("cases_batch.jsonl.gz"))) {
  std::map<std::string, std::unique_ptr<Tokenizer>> toks;
  size_t batches = 0, encodings = 0, failed = 0, refused = 0;
  for (const std::string& line : test::read_gz_lines(test::kDataDir + "/cases_batch.jsonl.gz")) {
    json c = json::parse(line);
    auto& tk = toks[c["norm"]];
    if (!tk) tk = from_json(c["norm"]);
    tk->truncation = {};
    tk->padding = {};
    if (c.contains("max_len")) {
      tk->truncation.max_length = c["max_len"];
      std::string st = c["strategy"];
      tk->truncation.strategy = st == "only_first"    ? TruncationStrategy::OnlyFirst
                                : st == "only_second" ? TruncationStrategy::OnlySecond
                                                      : TruncationStrategy::LongestFirst;
      tk->truncation.left = c["trunc_dir"] == "left";
    }
    if (c["pad"] != 0) {
      tk->padding.strategy = c["pad"] == "longest" ? PaddingStrategy::BatchLongest : PaddingStrategy::Fixed;
      if (c["pad"] != "longest") tk->padding.length = c["pad"];
      tk->padding.left = c["pad_dir"] == "left";
      tk->padding.multiple_of = c["pad_multiple"];
    }
    ++batches;
    std::vector<Encoding> got;
    try {
      if (c["pair"]) {
        std::vector<std::pair<std::string, std::string>> items;
        for (const auto& p : c["batch"]) items.emplace_back(p[0], p[1]);
        got = tk->encode_batch(items, 2);
      } else {
        got = tk->encode_batch(c["batch"].get<std::vector<std::string>>(), 2);
      }
    } catch (const mr::Error& e) {
      if (!c.contains("error") && failed++ < 10) FAIL_CHECK("we refused (" << std::string(e.what()) << "): " << line);
      refused += c.contains("error");
      continue;
    }
    if (c.contains("error")) {
      if (failed++ < 10) FAIL_CHECK("HF refused but we encoded: " << line);
      continue;
    }
    const json& want = c["results"];
    REQUIRE(got.size() == want.size());
    for (size_t i = 0; i < got.size(); ++i, ++encodings) {
      std::vector<Offset> offs;
      for (const auto& o : want[i]["offsets"]) offs.push_back({o[0].get<uint32_t>(), o[1].get<uint32_t>()});
      bool ok = got[i].ids == want[i]["ids"].get<std::vector<int32_t>>() &&
                got[i].type_ids == want[i]["type_ids"].get<std::vector<int32_t>>() &&
                got[i].attention_mask == want[i]["mask"].get<std::vector<int32_t>>() && got[i].offsets == offs;
      if (!ok && failed++ < 10)
        FAIL_CHECK("batch item " << i << " differs: " << line.substr(0, 2000) << "\n ours ids: " << show(got[i].ids)
                                 << "\n ours offsets: " << show(got[i].offsets));
    }
  }
  MESSAGE(batches << " batches, " << encodings << " encodings, " << refused << " refused like HF, " << failed << " differ");
  CHECK(batches >= 100);
  CHECK(failed == 0);
}
