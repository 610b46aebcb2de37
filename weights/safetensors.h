// safetensors (https://github.com/huggingface/safetensors) reader and writer.
// File layout: 8-byte little-endian header length N, N bytes of JSON
//   {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, "__metadata__": {..}}
// then the data; offsets are relative to the end of the header.
// The reader mmaps the file and validates everything before handing out a view: header length
// within the file, valid JSON object, known dtypes, shapes whose byte size equals the offsets,
// offsets inside the data section, no two tensors overlapping. Any violation is an mr::Error
// naming the file and the byte offset (or the tensor) at fault.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "base/tensor.h"

namespace mr {

enum class StDType { F32, F16, BF16, I64, I32, F64, U8, BOOL };

struct StTensor {
  std::string name;
  StDType dtype;
  std::vector<int64_t> shape;
  const uint8_t* data = nullptr;  // into the mapping
  size_t nbytes = 0;
  size_t file_offset = 0;         // absolute byte offset of the data in the file
  int64_t numel() const;
};

class SafeTensors {
 public:
  explicit SafeTensors(const std::string& path);
  ~SafeTensors();
  SafeTensors(const SafeTensors&) = delete;
  SafeTensors& operator=(const SafeTensors&) = delete;

  const std::string& path() const { return path_; }
  bool has(const std::string& name) const { return tensors_.count(name) != 0; }
  const StTensor& get(const std::string& name) const;
  std::vector<std::string> names() const;
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

  // Copies tensor `name` into dst (f32 or i32 CPU tensor of the same element count),
  // converting from F32/F16/BF16/F64 (float dst) or I64/I32 (int dst; values must fit).
  void read_into(const std::string& name, const Tensor& dst) const;
  // Owning f32 / i32 copies.
  HostTensor read_f32(const std::string& name) const;
  HostTensor read_i32(const std::string& name) const;

 private:
  std::string path_;
  void* map_ = nullptr;
  size_t size_ = 0;
  std::map<std::string, StTensor> tensors_;
  std::map<std::string, std::string> metadata_;
};

struct StEntry {
  std::string name;
  Tensor t;  // CPU tensor; f32 -> F32, i32 -> I32, bf16 -> BF16, f16 -> F16
};
// Writes atomically: to path.tmp, fsync, rename.
void write_safetensors(const std::string& path, const std::vector<StEntry>& entries,
                       const std::map<std::string, std::string>& metadata = {});

}  // namespace mr
