// Encode throughput of the metarec tokenizer: reads a corpus (one text per line), encodes it
// with encode_batch on T threads R times and prints one line per run:
//   seconds texts tokens
// Used by bench/tokenizer.sh, which runs HuggingFace tokenizers on the same corpus.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "tokenizer/tokenizer.h"

int main(int argc, char** argv) {
  if (argc < 5) {
    std::fprintf(stderr, "usage: %s MODEL_DIR CORPUS THREADS REPEAT\n", argv[0]);
    return 2;
  }
  mr::tok::Tokenizer tk = mr::tok::Tokenizer::from_dir(argv[1]);
  tk.truncation = {};
  tk.padding = {};
  std::vector<std::string> texts;
  std::ifstream f(argv[2]);
  for (std::string line; std::getline(f, line);) texts.push_back(line);
  int threads = std::atoi(argv[3]), repeat = std::atoi(argv[4]);
  (void)tk.encode_batch(texts, threads);  // warm-up
  for (int r = 0; r < repeat; ++r) {
    auto t0 = std::chrono::steady_clock::now();
    std::vector<mr::tok::Encoding> enc = tk.encode_batch(texts, threads);
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    size_t tokens = 0;
    for (const auto& e : enc) tokens += e.ids.size();
    std::printf("%.6f %zu %zu\n", s, texts.size(), tokens);
  }
  return 0;
}
