#include "weights/npy.h"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <regex>

#include "base/check.h"

namespace mr {

void write_npy_f32(const std::string& path, const float* data, int64_t rows, int64_t cols) {
  std::string hdr = fmt::format("{{'descr': '<f4', 'fortran_order': False, 'shape': ({}, {}), }}", rows, cols);
  while ((10 + hdr.size() + 1) % 64) hdr.push_back(' ');
  hdr.push_back('\n');
  // per process: several ranks may write the same cache file at once (the last rename wins, whole)
  const std::string tmp = path + ".tmp" + std::to_string(::getpid());
  FILE* f = std::fopen(tmp.c_str(), "wb");
  if (!f) FAIL_INPUT(tmp, "open", "{}", std::strerror(errno));
  const uint8_t magic[8] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0};
  const uint16_t hl = uint16_t(hdr.size());
  const uint8_t hlb[2] = {uint8_t(hl & 0xff), uint8_t(hl >> 8)};
  const size_t n = size_t(rows * cols);
  bool ok = std::fwrite(magic, 1, 8, f) == 8 && std::fwrite(hlb, 1, 2, f) == 2 &&
            std::fwrite(hdr.data(), 1, hdr.size(), f) == hdr.size() && std::fwrite(data, 4, n, f) == n;
  ok = std::fflush(f) == 0 && ::fsync(fileno(f)) == 0 && ok;
  ok = std::fclose(f) == 0 && ok;
  if (!ok || std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    FAIL_INPUT(path, "write", "{}", std::strerror(errno));
  }
}

std::vector<float> read_npy_f32(const std::string& path, int64_t* rows, int64_t* cols) {
  std::ifstream f(path, std::ios::binary);
  if (!f) FAIL_INPUT(path, "open", "cannot read");
  char magic[10];
  if (!f.read(magic, 10) || std::memcmp(magic, "\x93NUMPY", 6) != 0) FAIL_INPUT(path, "byte 0", "not a .npy file");
  size_t hl = uint8_t(magic[8]) | size_t(uint8_t(magic[9])) << 8;
  size_t pre = 10;
  if (magic[6] >= 2) {
    char b[2];
    if (!f.read(b, 2)) FAIL_INPUT(path, "byte 10", "truncated header length");
    hl |= size_t(uint8_t(b[0])) << 16 | size_t(uint8_t(b[1])) << 24;
    pre = 12;
  }
  std::string hdr(hl, '\0');
  if (!f.read(hdr.data(), std::streamsize(hl))) FAIL_INPUT(path, fmt::format("byte {}", pre), "truncated header");
  if (hdr.find("'<f4'") == std::string::npos) FAIL_INPUT(path, fmt::format("byte {}", pre), "dtype is not '<f4': {}", hdr);
  if (hdr.find("'fortran_order': False") == std::string::npos)
    FAIL_INPUT(path, fmt::format("byte {}", pre), "Fortran order is not supported");
  std::smatch m;
  if (std::regex_search(hdr, m, std::regex(R"('shape': \((\d+), (\d+)\))"))) {
    *rows = std::stoll(m[1]);
    *cols = std::stoll(m[2]);
  } else if (std::regex_search(hdr, m, std::regex(R"('shape': \((\d+),\))"))) {
    *rows = std::stoll(m[1]);
    *cols = 1;
  } else {
    FAIL_INPUT(path, fmt::format("byte {}", pre), "unsupported shape in header: {}", hdr);
  }
  std::vector<float> v(size_t(*rows * *cols));
  if (!f.read(reinterpret_cast<char*>(v.data()), std::streamsize(v.size() * 4)))
    FAIL_INPUT(path, fmt::format("byte {}", pre + hl), "data section shorter than {} floats", v.size());
  return v;
}

}  // namespace mr
