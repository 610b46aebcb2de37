// NumPy .npy (format version 1.0) writer and reader for float32 C-order matrices.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace mr {

// Writes rows x cols little-endian float32 ('<f4'), atomically (tmp + rename).
void write_npy_f32(const std::string& path, const float* data, int64_t rows, int64_t cols);
// Reads a '<f4' 1-D or 2-D C-order array; error naming the file and byte offset otherwise.
std::vector<float> read_npy_f32(const std::string& path, int64_t* rows, int64_t* cols);

}  // namespace mr
