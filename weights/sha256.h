// SHA-256 (FIPS 180-4), for the checksums of model folders and training checkpoints.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace mr {

class Sha256 {
 public:
  Sha256();
  void update(const void* data, size_t n);
  std::string hex();  // finishes; the object is spent afterwards

 private:
  void block(const uint8_t* p);
  uint32_t h_[8];
  uint8_t buf_[64];
  size_t len_ = 0;
  uint64_t total_ = 0;
};

std::string sha256_hex(const void* data, size_t n);
std::string sha256_file(const std::string& path);  // error naming the file if unreadable

}  // namespace mr
