// Helpers for the recdata suite: where fixtures and downloaded data live.
#pragma once
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <sys/stat.h>

#include "base/error.h"

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

// The message of the mr::Error that f throws, "" when it throws none.
inline std::string error_of(auto&& f) {
  try {
    f();
  } catch (const mr::Error& e) {
    return e.what();
  }
  return "";
}

// A fresh folder under /tmp, removed with its contents at the end of the scope.
struct TempDir {
  std::string path;
  TempDir() {
    char buf[] = "/tmp/mr_recdata_XXXXXX";
    if (!::mkdtemp(buf)) throw mr::Error("mkdtemp failed");
    path = buf;
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  // Writes (or replaces) the file `name` with exactly these bytes; returns its path.
  std::string write(const std::string& name, const std::string& bytes) const {
    std::string p = path + "/" + name;
    std::ofstream(p, std::ios::binary | std::ios::trunc) << bytes;
    return p;
  }
};

}  // namespace rt
