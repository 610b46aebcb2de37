// Helpers for the recdata suite: where fixtures and downloaded data live.
#pragma once
#include <string>
#include <sys/stat.h>

namespace rt {

inline bool exists(const std::string& p) {
  struct stat st;
  return ::stat(p.c_str(), &st) == 0;
}

// The repository root: the test runs from it (make test), or from build/tests.
inline std::string root() {
  for (const char* r : {".", "..", "../.."})
    if (exists(std::string(r) + "/tests/data/recdata")) return r;
  return ".";
}
inline std::string fixture(const std::string& rel) { return root() + "/tests/data/recdata/" + rel; }
inline std::string ml100k() { return root() + "/data/ml-100k"; }
inline std::string amazon() { return root() + "/../shared/data/amazon-scientific"; }
inline bool have_ml100k() { return exists(ml100k() + "/ml-100k.inter"); }
inline bool have_amazon() { return exists(amazon() + "/Scientific.test.inter"); }

}  // namespace rt
