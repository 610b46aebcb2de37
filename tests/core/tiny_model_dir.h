// A HuggingFace model folder made of the tiny BERT fixture (tests/data/tiny_bert: 2 layers,
// hidden 64, max_position_embeddings 64, vocabulary 512) and a vocab.txt of its 512 ids,
// [PAD] [UNK] [CLS] [SEP] [MASK] w0 ... w506, in a temporary folder removed at the end: a model
// `metarec embed` and TextEncoder load. Header-only, no library (the CLI suite links none).
#pragma once
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

namespace mr::test {

struct TinyModelDir {
  std::filesystem::path dir;
  explicit TinyModelDir(const std::string& tag)
      : dir(std::filesystem::temp_directory_path() / ("mr_tiny_model_" + tag + "_" + std::to_string(::getpid()))) {
    std::filesystem::create_directories(dir);
    for (const char* f : {"config.json", "model.safetensors"})
      std::filesystem::copy_file(std::string("tests/data/tiny_bert/") + f, dir / f,
                                 std::filesystem::copy_options::overwrite_existing);
    std::ofstream v(dir / "vocab.txt");
    v << "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n";
    for (int i = 0; i < 507; ++i) v << "w" << i << "\n";
  }
  ~TinyModelDir() { std::filesystem::remove_all(dir); }
  TinyModelDir(const TinyModelDir&) = delete;
  TinyModelDir& operator=(const TinyModelDir&) = delete;
};

}  // namespace mr::test
