// libFuzzer target for the tokenizer: arbitrary bytes as one text, a pair, with random
// normalizer / truncation / padding settings; encode, batch encode, decode and normalize must
// never crash, and every offset must stay inside its text.
//   make fuzz-tokenizer && build/fuzz/tokenizer_fuzz -max_total_time=600 build/fuzz/corpus
// The vocabulary: models/all-MiniLM-L6-v2 when present (MR_FUZZ_MODEL overrides), else a
// small built-in one.
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

static Tokenizer& tokenizer() {
  static Tokenizer tk = [] {
    const char* env = std::getenv("MR_FUZZ_MODEL");
    std::string dir = env ? env : "models/all-MiniLM-L6-v2";
    if (std::filesystem::exists(dir)) return Tokenizer::from_dir(dir);
    std::string path = std::filesystem::temp_directory_path() / "mr_fuzz_vocab.txt";
    std::ofstream(path) << "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\na\nb\n##a\n##b\nab\n\xc3\xa9\n##\xc3\xa9\n,\n";
    return Tokenizer::from_vocab_txt(path);
  }();
  return tk;
}

static void check_offsets(const Encoding& e, size_t n_a, size_t n_b) {
  for (size_t i = 0; i < e.size(); ++i) {
    const Offset& o = e.offsets[i];
    size_t n = e.type_ids[i] == 0 ? n_a : n_b;
    if (o.start > o.end || o.end > n) std::abort();
  }
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  Tokenizer& tk = tokenizer();
  const uint8_t flags = data[0], knobs = data[1];
  std::string_view rest(reinterpret_cast<const char*>(data + 2), size - 2);
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
      check_offsets(e, count_chars(a), count_chars(b));
      (void)tk.decode(e.ids, knobs & 2);
    } else {
      Encoding e = tk.encode(rest);
      check_offsets(e, count_chars(rest), 0);
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
