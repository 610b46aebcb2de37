// Shared helpers of the tokenizer tests: paths and gzip fixture reading.
#pragma once
#include <zlib.h>

#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

namespace mr::tok::test {

inline const std::string kModelDir = "models/all-MiniLM-L6-v2";
inline const std::string kDataDir = "tests/data/tokenizer";
inline const std::string kAmazon = "../shared/data/amazon-scientific/Scientific.text";

inline bool have_model() { return std::filesystem::exists(kModelDir + "/tokenizer.json") && std::filesystem::exists(kModelDir + "/vocab.txt"); }

inline bool have_fixture(const std::string& name) { return std::filesystem::exists(kDataDir + "/" + name); }

// Lines of a gzip file (without the newline).
inline std::vector<std::string> read_gz_lines(const std::string& path) {
  gzFile f = gzopen(path.c_str(), "rb");
  if (!f) throw std::runtime_error("cannot open " + path);
  std::vector<std::string> lines;
  std::string cur;
  char buf[1 << 16];
  int n;
  while ((n = gzread(f, buf, sizeof buf)) > 0) {
    for (int i = 0; i < n; ++i) {
      if (buf[i] == '\n') {
        lines.push_back(std::move(cur));
        cur.clear();
      } else {
        cur.push_back(buf[i]);
      }
    }
  }
  bool bad = n < 0;
  gzclose(f);
  if (bad) throw std::runtime_error("corrupt gzip " + path);
  if (!cur.empty()) lines.push_back(std::move(cur));
  return lines;
}

}  // namespace mr::tok::test
