// libFuzzer target for the tokenizer's file readers: arbitrary bytes as tokenizer.json,
// vocab.txt or tokenizer_config.json must load or fail with mr::Error, never crash; a
// tokenizer that loads must encode and decode a few texts.
//   make fuzz-tokenizer && build/fuzz/tokenizer_load_fuzz -max_total_time=600 build/fuzz/load_corpus
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

#include "base/check.h"
#include "tokenizer/tokenizer.h"

namespace fs = std::filesystem;
using mr::tok::Tokenizer;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  static const fs::path dir = fs::temp_directory_path() / ("mr_tok_load_fuzz_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  const int mode = data[0] % 3;
  std::string body(reinterpret_cast<const char*>(data + 1), size - 1);
  if (mode == 0) {
    std::ofstream(dir / "tokenizer.json", std::ios::binary) << body;
  } else if (mode == 1) {
    std::ofstream(dir / "vocab.txt", std::ios::binary) << body;
  } else {
    std::ofstream(dir / "vocab.txt") << "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nhello\n##s\n";
    std::ofstream(dir / "tokenizer_config.json", std::ios::binary) << body;
  }
  try {
    Tokenizer tk = Tokenizer::from_dir(dir.string());
    tk.truncation = {};
    tk.padding = {};
    for (const char* text : {"hello [CLS] worlds", "", "\xc3\xa9t\xc3\xa9 \xe4\xbd\xa0 hellos"}) {
      mr::tok::Encoding e = tk.encode(text, "hello");
      (void)tk.decode(e.ids);
    }
  } catch (const mr::Error&) {
  }
  return 0;
}
