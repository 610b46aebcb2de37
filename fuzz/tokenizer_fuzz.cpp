// libFuzzer target for the tokenizer: arbitrary bytes as one text, a pair, with random
// normalizer / truncation / padding settings; encode, batch encode, decode and normalize must
// never crash, and every offset must stay inside its text.
//   make fuzz-tokenizer && build/fuzz/tokenizer_fuzz -max_total_time=600 build/fuzz/corpus
// Tokenizers: WordPiece from models/all-MiniLM-L6-v2 when present (MR_FUZZ_MODEL overrides),
// else a small built-in vocabulary; plus the byte-level BPE and Unigram tokenizer.json files
// that `make fuzz-tokenizer` unpacks from tests/data/tokenizer into build/fuzz (MR_FUZZ_HF_DIR
// overrides). The third input byte picks one.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "base/check.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode.h"

using namespace mr::tok;

static Tokenizer wordpiece() {
  const char* env = std::getenv("MR_FUZZ_MODEL");
  std::string dir = env ? env : "models/all-MiniLM-L6-v2";
  if (std::filesystem::exists(dir)) return Tokenizer::from_dir(dir);
  std::string path = std::filesystem::temp_directory_path() / "mr_fuzz_vocab.txt";
  std::ofstream(path) << "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\na\nb\n##a\n##b\nab\n\xc3\xa9\n##\xc3\xa9\n,\n";
  return Tokenizer::from_vocab_txt(path);
}

static std::vector<Tokenizer>& tokenizers() {
  static std::vector<Tokenizer> all = [] {
    std::vector<Tokenizer> v;
    v.push_back(wordpiece());
    const char* env = std::getenv("MR_FUZZ_HF_DIR");
    std::filesystem::path dir = env ? env : "build/fuzz";
    std::vector<std::string> files;
    if (std::filesystem::exists(dir))
      for (const auto& f : std::filesystem::directory_iterator(dir))
        if (f.path().filename().string().rfind("hf_", 0) == 0 && f.path().extension() == ".json") files.push_back(f.path());
    std::sort(files.begin(), files.end());
    for (const std::string& f : files) v.push_back(Tokenizer::from_tokenizer_json(f));
    return v;
  }();
  return all;
}

// Offsets inside their text. Type ids tell the texts apart only where the template gives the
// second text type id 1 (RoBERTa-style templates give 0 to both): there, the longer one bounds.
static void check_offsets(const Encoding& e, size_t n_a, size_t n_b, bool typed) {
  for (size_t i = 0; i < e.size(); ++i) {
    const Offset& o = e.offsets[i];
    size_t n = !typed ? std::max(n_a, n_b) : e.type_ids[i] == 0 ? n_a : n_b;
    if (o.start > o.end || o.end > n) std::abort();
  }
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 3) return 0;
  Tokenizer& tk = tokenizers()[data[2] % tokenizers().size()];
  const uint8_t flags = data[0], knobs = data[1];
  std::string_view rest(reinterpret_cast<const char*>(data + 3), size - 3);
  tk.normalizer.clean_text = flags & 1;
  tk.normalizer.handle_chinese_chars = flags & 2;
  tk.normalizer.lowercase = flags & 4;
  tk.normalizer.strip_accents = (flags & 8) ? std::optional<bool>(bool(flags & 16)) : std::nullopt;
  tk.truncation = {};
  if (flags & 32) {
    tk.truncation.max_length = knobs % 24;
    tk.truncation.strategy = TruncationStrategy(knobs / 24 % 3);
    tk.truncation.left = knobs & 0x80;
  }
  tk.padding = {};
  if (flags & 64) {
    tk.padding.strategy = (knobs & 1) ? PaddingStrategy::Fixed : PaddingStrategy::BatchLongest;
    tk.padding.length = knobs % 40;
    tk.padding.multiple_of = knobs % 5;
  }
  size_t tab = rest.find('\t');
  try {
    if (flags & 128 && tab != std::string_view::npos) {
      std::string_view a = rest.substr(0, tab), b = rest.substr(tab + 1);
      Encoding e = tk.encode(a, b);
      bool typed = std::find(e.type_ids.begin(), e.type_ids.end(), 1) != e.type_ids.end();
      check_offsets(e, count_chars(a), count_chars(b), typed);
      (void)tk.decode(e.ids, knobs & 2);
    } else {
      Encoding e = tk.encode(rest);
      check_offsets(e, count_chars(rest), 0, true);
      (void)tk.decode(e.ids, knobs & 2);
      std::vector<std::string> batch{std::string(rest), std::string(rest.substr(rest.size() / 2))};
      auto many = tk.encode_batch(batch, 2);
      if (tk.padding.strategy == PaddingStrategy::None && many[0].ids != e.ids) std::abort();
    }
    (void)tk.normalize(rest);
  } catch (const mr::Error&) {
    // truncation that HF refuses too: a clean error, not a crash
  }
  return 0;
}
