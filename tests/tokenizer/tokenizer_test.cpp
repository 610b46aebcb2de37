// Tokenizer behaviour beyond the HF fixtures: batch = one by one on several threads, bad
// files give clear errors, random bytes never crash, padding/truncation details.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <unistd.h>

#include "base/check.h"
#include "tests/tokenizer/fixture.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode.h"

using namespace mr::tok;
namespace fs = std::filesystem;

namespace {

struct TempDir {
  fs::path path;
  TempDir() : path(fs::temp_directory_path() / ("mr_tok_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter()++))) {
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
  static int& counter() {
    static int c = 0;
    return c;
  }
  void write(const std::string& name, const std::string& text) const { std::ofstream(path / name, std::ios::binary) << text; }
};

std::string error_of(auto&& f) {
  try {
    f();
  } catch (const mr::Error& e) {
    return e.what();
  }
  return "";
}

const std::string kTinyVocab = "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nhello\nworld\nun\n##aff\n##able\n,\n!\nthe\n";

std::vector<std::string> amazon_or_synthetic() {
  std::vector<std::string> texts;
  std::ifstream f(test::kAmazon);
  std::string line;
  if (f) {
    std::getline(f, line);
    while (std::getline(f, line)) texts.push_back(line.substr(line.find('\t') + 1));
  }
  std::mt19937 rng(5);
  for (int i = 0; i < 500; ++i) {
    std::string t;
    for (int k = rng() % 80; k > 0; --k) t.push_back("abcdef ,.XYZ\xc3\xa9\xe4\xbd\xa0"[rng() % 17]);
    texts.push_back(t);
  }
  return texts;
}

}  // namespace

TEST_CASE("tokenizer: a tiny vocab.txt, WordPiece and decode") {
  TempDir d;
  d.write("vocab.txt", kTinyVocab);
  Tokenizer tk = Tokenizer::from_dir(d.path.string());
  CHECK(tk.vocab_size() == 13);
  Encoding e = tk.encode("Hello, UNAFFABLE world!! xyz");
  CHECK(e.ids == std::vector<int32_t>{2, 5, 10, 7, 8, 9, 6, 11, 11, 1, 3});
  CHECK(e.offsets[3] == Offset{7, 9});
  CHECK(e.offsets[4] == Offset{9, 12});
  CHECK(e.offsets[9] == Offset{25, 28});
  CHECK(tk.decode(e.ids) == "hello, unaffable world!!");
  CHECK(tk.decode(e.ids, false) == "[CLS] hello, unaffable world!! [UNK] [SEP]");
  CHECK(tk.decode(std::vector<int32_t>{8, 5, 999, -1}) == "##aff hello");  // unknown ids are dropped
  // a special token in the text is one token
  CHECK(tk.encode("hello[MASK]world").ids == std::vector<int32_t>{2, 5, 4, 6, 3});
  CHECK(tk.encode("").ids == std::vector<int32_t>{2, 3});
}

TEST_CASE("tokenizer: truncation strategies and padding") {
  TempDir d;
  d.write("vocab.txt", kTinyVocab);
  Tokenizer tk = Tokenizer::from_dir(d.path.string());
  const std::string a = "hello world hello world hello", b = "the the";
  tk.truncation = {7, TruncationStrategy::LongestFirst};
  Encoding e = tk.encode(a, b);
  CHECK(e.ids == std::vector<int32_t>{2, 5, 6, 3, 12, 12, 3});
  CHECK(e.type_ids == std::vector<int32_t>{0, 0, 0, 0, 1, 1, 1});
  tk.truncation = {6, TruncationStrategy::OnlySecond};
  CHECK(!error_of([&] { tk.encode(a, b); }).empty());  // b has 2 tokens, 4 must go
  tk.truncation = {6, TruncationStrategy::OnlyFirst};
  CHECK(tk.encode(a, b).ids == std::vector<int32_t>{2, 5, 3, 12, 12, 3});
  tk.truncation = {2, TruncationStrategy::LongestFirst};
  // fewer than the 3 special tokens: nothing is truncated, as in HF (hf_models_test has HF's cases)
  CHECK(tk.encode(a, b).ids == std::vector<int32_t>{2, 5, 6, 5, 6, 5, 3, 12, 12, 3});
  tk.truncation = {4, TruncationStrategy::LongestFirst, true};  // from the left
  CHECK(tk.encode(a).ids == std::vector<int32_t>{2, 6, 5, 3});
  tk.truncation = {};
  tk.padding.strategy = PaddingStrategy::Fixed;
  tk.padding.length = 6;
  e = tk.encode("hello");
  CHECK(e.ids == std::vector<int32_t>{2, 5, 3, 0, 0, 0});
  CHECK(e.attention_mask == std::vector<int32_t>{1, 1, 1, 0, 0, 0});
  tk.padding.strategy = PaddingStrategy::BatchLongest;
  tk.padding.multiple_of = 4;
  auto batch = tk.encode_batch(std::vector<std::string>{"hello", "hello world hello world"}, 2);
  CHECK(batch[0].ids == std::vector<int32_t>{2, 5, 3, 0, 0, 0, 0, 0});
  CHECK(batch[1].ids.size() == 8);
  std::string m1;
  for (int32_t x : batch[1].attention_mask) m1 += std::to_string(x);
  CHECK(m1 == "11111100");
}

TEST_CASE("tokenizer: batch encoding on several threads equals one by one" * doctest::skip(!test::have_model())) {
  Tokenizer tk = Tokenizer::from_dir(test::kModelDir);
  tk.padding = {};
  std::vector<std::string> texts = amazon_or_synthetic();
  std::vector<std::pair<std::string, std::string>> pairs;
  for (size_t i = 0; i + 1 < texts.size(); i += 2) pairs.emplace_back(texts[i], texts[i + 1]);
  for (int threads : {1, 2, 4}) {
    auto many = tk.encode_batch(texts, threads);
    auto many_pairs = tk.encode_batch(pairs, threads);
    REQUIRE(many.size() == texts.size());
    size_t bad = 0;
    for (size_t i = 0; i < texts.size(); ++i) {
      Encoding e = tk.encode(texts[i]);
      bad += e.ids != many[i].ids || e.offsets != many[i].offsets;
    }
    for (size_t i = 0; i < pairs.size(); ++i) {
      Encoding e = tk.encode(pairs[i].first, pairs[i].second);
      bad += e.ids != many_pairs[i].ids || e.type_ids != many_pairs[i].type_ids;
    }
    CHECK_MESSAGE(bad == 0, threads << " threads: " << bad << " encodings differ");
  }
}

TEST_CASE("tokenizer: random bytes never crash and offsets stay inside the text" * doctest::skip(!test::have_model())) {
  Tokenizer tk = Tokenizer::from_dir(test::kModelDir);
  tk.truncation = {};
  tk.padding = {};
  std::mt19937 rng(42);
  const char* pieces[] = {"[CLS]", "[MASK]", "\xcc\x81", "\xe4\xbd\xa0", "\xf0\x9f\x98\x80", "\xc4\xb0", " ", "a"};
  for (int it = 0; it < 3000; ++it) {
    std::string s;
    for (int k = rng() % 64; k > 0; --k) {
      if (rng() % 3 == 0)
        s += pieces[rng() % 8];
      else
        s.push_back(char(rng() % 256));
    }
    Encoding e = tk.encode(s);
    size_t n = count_chars(s);
    REQUIRE(e.ids.size() >= 2);
    for (size_t i = 1; i + 1 < e.ids.size(); ++i) {
      REQUIRE(e.ids[i] >= 0);
      REQUIRE(size_t(e.ids[i]) < tk.vocab_size());
      REQUIRE(e.offsets[i].start < e.offsets[i].end);
      REQUIRE(e.offsets[i].end <= n);
    }
    (void)tk.decode(e.ids);
  }
}

TEST_CASE("tokenizer: bad files give errors that name the file") {
  TempDir d;
  CHECK(error_of([&] { Tokenizer::from_dir(d.path.string()); }).find("neither tokenizer.json nor vocab.txt") != std::string::npos);
  d.write("vocab.txt", "hello\nworld\n");
  std::string err = error_of([&] { Tokenizer::from_dir(d.path.string()); });
  CHECK(err.find("vocab.txt") != std::string::npos);
  CHECK(err.find("[UNK]") != std::string::npos);
  d.write("vocab.txt", kTinyVocab);
  d.write("tokenizer_config.json", "{\"do_lower_case\": tru");
  err = error_of([&] { Tokenizer::from_dir(d.path.string()); });
  CHECK(err.find("tokenizer_config.json") != std::string::npos);
  d.write("tokenizer_config.json", "51e551");  // found by the loader fuzzer: a number overflow
  err = error_of([&] { Tokenizer::from_dir(d.path.string()); });
  CHECK(err.find("tokenizer_config.json") != std::string::npos);
  CHECK(err.find("invalid JSON") != std::string::npos);
  d.write("tokenizer_config.json", "{\"do_lower_case\": \"yes\"}");
  err = error_of([&] { Tokenizer::from_dir(d.path.string()); });
  CHECK(err.find("do_lower_case") != std::string::npos);
  d.write("tokenizer_config.json", "{\"do_lower_case\": false}");
  Tokenizer cased = Tokenizer::from_dir(d.path.string());
  CHECK(cased.encode("Hello").ids == std::vector<int32_t>{2, 1, 3});
  CHECK(cased.encode("hello").ids == std::vector<int32_t>{2, 5, 3});

  // special token names from tokenizer_config.json
  d.write("vocab.txt", "<pad>\n<unk>\n<s>\n</s>\nhello\n");
  d.write("tokenizer_config.json",
          R"({"unk_token": "<unk>", "cls_token": {"content": "<s>"}, "sep_token": "</s>", "pad_token": "<pad>", "mask_token": null})");
  Tokenizer custom = Tokenizer::from_dir(d.path.string());
  CHECK(custom.encode("hello </s>x").ids == std::vector<int32_t>{2, 4, 3, 1, 3});
  CHECK(custom.decode(std::vector<int32_t>{2, 4, 1, 3}) == "hello");
  d.write("tokenizer_config.json", R"({"unk_token": 5})");
  CHECK(error_of([&] { Tokenizer::from_dir(d.path.string()); }).find("unk_token") != std::string::npos);

  d.write("tokenizer.json", "{\"model\": {\"type\": \"WordLevel\", \"vocab\": {}}}");
  err = error_of([&] { Tokenizer::from_dir(d.path.string()); });
  CHECK(err.find("tokenizer.json") != std::string::npos);
  CHECK(err.find("model.type") != std::string::npos);
  CHECK(err.find("WordLevel") != std::string::npos);
  d.write("tokenizer.json", "{\"model\": {\"type\": \"WordPiece\", \"vocab\": {\"a\": 0}}, \"pre_tokenizer\": {\"type\": \"BertPreTokenizer\"}}");
  err = error_of([&] { Tokenizer::from_dir(d.path.string()); });
  CHECK(err.find("[UNK]") != std::string::npos);
  d.write("tokenizer.json", "{\"model\": ");
  err = error_of([&] { Tokenizer::from_dir(d.path.string()); });
  CHECK(err.find("invalid JSON") != std::string::npos);
  d.write("tokenizer.json",
          "{\"model\": {\"type\": \"WordPiece\", \"vocab\": {\"[UNK]\": 0, \"a\": -3}}, \"pre_tokenizer\": {\"type\": \"BertPreTokenizer\"}}");
  err = error_of([&] { Tokenizer::from_dir(d.path.string()); });
  CHECK(err.find("not a valid id") != std::string::npos);
  // a huge id must not make us allocate a huge table
  d.write("tokenizer.json",
          "{\"model\": {\"type\": \"WordPiece\", \"vocab\": {\"[UNK]\": 0, \"a\": 1000000000}}, \"pre_tokenizer\": {\"type\": \"BertPreTokenizer\"}}");
  err = error_of([&] { Tokenizer::from_dir(d.path.string()); });
  CHECK(err.find("not a valid id") != std::string::npos);
  d.write("tokenizer.json",
          "{\"model\": {\"type\": \"WordPiece\", \"vocab\": {\"[UNK]\": 0}}, \"pre_tokenizer\": {\"type\": \"BertPreTokenizer\"}, "
          "\"added_tokens\": [{\"id\": 1, \"content\": \"<x>\", \"normalized\": true}]}");
  err = error_of([&] { Tokenizer::from_dir(d.path.string()); });
  CHECK(err.find("added_tokens[0]") != std::string::npos);
  CHECK(err.find("normalized") != std::string::npos);
}

// MPNet's tokenizer.json (all-mpnet-base-v2) is WordPiece with a <mask> added token that has
// lstrip: the whitespace before it joins the token's offsets (BertPreTokenizer would drop it
// anyway). Reference: the tokenizers library (0.22) on this file:
//   t = Tokenizer.from_str(json); [(t.encode(s).ids, t.encode(s).offsets) for s in texts]
TEST_CASE("tokenizer: WordPiece added tokens with lstrip / rstrip take the whitespace into their offsets, as HF") {
  TempDir d;
  d.write("tokenizer.json", R"({"added_tokens": [)"
          R"({"id": 3, "content": "<m>", "single_word": false, "lstrip": true, "rstrip": false, "normalized": false, "special": true},)"
          R"({"id": 4, "content": "<r>", "single_word": false, "lstrip": false, "rstrip": true, "normalized": false, "special": true}],)"
          R"("normalizer": {"type": "BertNormalizer", "clean_text": true, "handle_chinese_chars": true, "strip_accents": null, "lowercase": true},)"
          R"("pre_tokenizer": {"type": "BertPreTokenizer"}, "post_processor": null, "decoder": null,)"
          R"("model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##", "max_input_chars_per_word": 100,)"
          R"("vocab": {"[UNK]": 0, "a": 1, "b": 2, "<m>": 3, "<r>": 4, "é": 5}}})");
  Tokenizer tk = Tokenizer::from_dir(d.path.string());
  struct Case {
    std::string text;
    std::vector<int32_t> ids;
    std::vector<Offset> offsets;
  };
  const Case cases[] = {
      {"a <m>b", {1, 3, 2}, {{0, 1}, {1, 5}, {5, 6}}},
      {"\u00e9 \u3000 <m> <r>  a", {0, 3, 4, 1}, {{0, 1}, {1, 7}, {8, 13}, {13, 14}}},
      {"<m><r>\t<m>", {3, 4, 3}, {{0, 3}, {3, 7}, {7, 10}}},
      {"  <m>  ", {3}, {{0, 5}}},
      {"b<r> <r>\u00e9", {2, 4, 4, 0}, {{0, 1}, {1, 5}, {5, 8}, {8, 9}}},
  };
  for (const Case& c : cases) {
    CAPTURE(c.text);
    const Encoding e = tk.encode(c.text);
    CHECK(e.ids == c.ids);
    REQUIRE(e.offsets.size() == c.offsets.size());
    for (size_t k = 0; k < c.offsets.size(); ++k) {
      CAPTURE(k);
      CHECK(e.offsets[k] == c.offsets[k]);
    }
  }
}

TEST_CASE("tokenizer: words over max_input_chars_per_word are one [UNK]" * doctest::skip(!test::have_model())) {
  Tokenizer tk = Tokenizer::from_dir(test::kModelDir);
  tk.truncation = {};
  tk.padding = {};
  std::string w100(100, 'a'), w101(101, 'a');
  CHECK(tk.encode(w100).ids.size() > 3);
  Encoding e = tk.encode("x " + w101 + " y");
  CHECK(e.ids.size() == 5);
  CHECK(e.ids[2] == tk.unk_id());
  CHECK(e.offsets[2] == Offset{2, 103});
}

TEST_CASE("tokenizer: say which test inputs are absent") {
  if (!test::have_model())
    MESSAGE("SKIPPING the tests that need " << test::kModelDir
                                            << ": it is absent (tools/setup.sh models fetches it; make test does)");
  if (!fs::exists(test::kAmazon))
    MESSAGE(test::kAmazon << " is absent: the batch test uses synthetic texts only");
  for (const char* f : {"unicode_hf.txt.gz", "cases_single_lower.jsonl.gz", "cases_single_other.jsonl.gz",
                        "cases_pair.jsonl.gz", "cases_batch.jsonl.gz"})
    CHECK_MESSAGE(test::have_fixture(f), "committed fixture missing: " << test::kDataDir << "/" << f);
}

TEST_CASE("tokenizer: bytes of a bad file are quoted escaped (issue 24 item 5)") {
  TempDir d;
  // a JSON string may carry control characters (\u001b, \u0085): they come out as \xNN
  d.write("tokenizer.json", "{\"model\": {\"type\": \"BP\\u001b[2JE\\u0085\", \"vocab\": {}}}");
  std::string err = error_of([&] { Tokenizer::from_dir(d.path.string()); });
  CHECK(err.find("tokenizer.json: model.type: \"BP\\x1b[2JE\\xc2\\x85\" is not supported (WordPiece, BPE, Unigram)") != std::string::npos);
  CHECK(err.find('\x1b') == std::string::npos);
  // invalid UTF-8 in the JSON text: the parser's message quotes what it read, escaped
  d.write("tokenizer.json", "{\"model\": \"\xff\xfe\"}");
  err = error_of([&] { Tokenizer::from_dir(d.path.string()); });
  CHECK(err.find("invalid JSON") != std::string::npos);
  CHECK(err.find("\\xff") != std::string::npos);
  CHECK(err.find('\xff') == std::string::npos);
}
