#include "weights/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>

namespace mr {

using json = nlohmann::json;

static size_t st_size(StDType t) {
  switch (t) {
    case StDType::F32: case StDType::I32: return 4;
    case StDType::F16: case StDType::BF16: return 2;
    case StDType::I64: case StDType::F64: return 8;
    case StDType::U8: case StDType::BOOL: return 1;
  }
  return 0;
}

static bool parse_dtype(const std::string& s, StDType* t) {
  static const std::pair<const char*, StDType> table[] = {
      {"F32", StDType::F32}, {"F16", StDType::F16}, {"BF16", StDType::BF16}, {"I64", StDType::I64},
      {"I32", StDType::I32}, {"F64", StDType::F64}, {"U8", StDType::U8},     {"BOOL", StDType::BOOL}};
  for (auto& [n, v] : table)
    if (s == n) { *t = v; return true; }
  return false;
}

static const char* dtype_str(StDType t) {
  switch (t) {
    case StDType::F32: return "F32"; case StDType::F16: return "F16"; case StDType::BF16: return "BF16";
    case StDType::I64: return "I64"; case StDType::I32: return "I32"; case StDType::F64: return "F64";
    case StDType::U8: return "U8"; case StDType::BOOL: return "BOOL";
  }
  return "?";
}

int64_t StTensor::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

SafeTensors::SafeTensors(const std::string& path) : path_(path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) FAIL_INPUT(path, "open", "{}", std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    ::close(fd);
    FAIL_INPUT(path, "stat", "{}", std::strerror(errno));
  }
  size_ = size_t(st.st_size);
  if (size_ < 8) {
    ::close(fd);
    FAIL_INPUT(path, "byte 0", "file is {} bytes, shorter than the 8-byte header length", size_);
  }
  map_ = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (map_ == MAP_FAILED) {
    map_ = nullptr;
    FAIL_INPUT(path, "mmap", "{}", std::strerror(errno));
  }
  try {
    const uint8_t* base = static_cast<const uint8_t*>(map_);
    uint64_t n = 0;
    for (int i = 0; i < 8; ++i) n |= uint64_t(base[i]) << (8 * i);
    if (n > size_ - 8) FAIL_INPUT(path, "byte 0", "header length {} runs past the end of the {}-byte file", n, size_);
    const char* hdr = reinterpret_cast<const char*>(base + 8);
    json j;
    try {
      j = json::parse(hdr, hdr + n);
    } catch (const json::parse_error& e) {
      FAIL_INPUT(path, fmt::format("byte {}", 8 + e.byte - (e.byte ? 1 : 0)), "invalid JSON header: {}", e.what());
    } catch (const json::exception& e) {  // e.g. a number too large for any C++ type
      FAIL_INPUT(path, "header (bytes 8.." + std::to_string(8 + n) + ")", "invalid JSON header: {}", e.what());
    }
    if (!j.is_object()) FAIL_INPUT(path, "byte 8", "the header is not a JSON object");
    const size_t data_start = 8 + size_t(n), data_len = size_ - data_start;
    std::vector<std::pair<size_t, size_t>> spans;
    for (auto& item : j.items()) {
      const std::string name = item.key();
      auto& v = item.value();
      if (name == "__metadata__") {
        if (!v.is_object()) FAIL_INPUT(path, "header", "__metadata__ is not an object");
        for (auto& [mk, mv] : v.items()) {
          if (!mv.is_string()) FAIL_INPUT(path, "header", "__metadata__[{}] is not a string", mk);
          metadata_[mk] = mv.get<std::string>();
        }
        continue;
      }
      auto bad = [&](const std::string& why) { FAIL_INPUT(path, fmt::format("header, tensor '{}'", name), "{}", why); };
      if (!v.is_object() || !v.contains("dtype") || !v.contains("shape") || !v.contains("data_offsets"))
        bad("needs dtype, shape and data_offsets");
      StTensor t;
      t.name = name;
      if (!v["dtype"].is_string() || !parse_dtype(v["dtype"].get<std::string>(), &t.dtype))
        bad(fmt::format("unknown dtype {}", v["dtype"].dump()));
      if (!v["shape"].is_array()) bad("shape is not an array");
      int64_t numel = 1;
      for (auto& d : v["shape"]) {
        if (!d.is_number_unsigned()) bad(fmt::format("bad dimension {}", d.dump()));
        const uint64_t dim = d.get<uint64_t>();
        if (dim > (uint64_t(1) << 40) || (numel && uint64_t(numel) > (uint64_t(1) << 50) / (dim ? dim : 1)))
          bad("shape too large");
        t.shape.push_back(int64_t(dim));
        numel *= int64_t(dim);
      }
      auto& off = v["data_offsets"];
      if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() || !off[1].is_number_unsigned())
        bad("data_offsets must be [begin, end]");
      const uint64_t b = off[0].get<uint64_t>(), e = off[1].get<uint64_t>();
      if (b > e || e > data_len)
        bad(fmt::format("data_offsets [{}, {}] outside the {}-byte data section (file bytes {}..{})", b, e, data_len,
                        data_start, size_));
      if (e - b != uint64_t(numel) * st_size(t.dtype))
        bad(fmt::format("shape needs {} bytes of {}, data_offsets give {}", uint64_t(numel) * st_size(t.dtype),
                        dtype_str(t.dtype), e - b));
      t.file_offset = data_start + b;
      t.data = base + t.file_offset;
      t.nbytes = e - b;
      spans.emplace_back(b, e);
      tensors_[name] = std::move(t);
    }
    std::sort(spans.begin(), spans.end());
    for (size_t i = 1; i < spans.size(); ++i)
      if (spans[i].first < spans[i - 1].second)
        FAIL_INPUT(path, fmt::format("byte {}", data_start + spans[i].first), "two tensors overlap");
  } catch (...) {
    ::munmap(map_, size_);
    map_ = nullptr;
    throw;
  }
}

SafeTensors::~SafeTensors() {
  if (map_) ::munmap(map_, size_);
}

const StTensor& SafeTensors::get(const std::string& name) const {
  auto it = tensors_.find(name);
  if (it == tensors_.end()) FAIL_INPUT(path_, "tensor '" + name + "'", "no such tensor");
  return it->second;
}

std::vector<std::string> SafeTensors::names() const {
  std::vector<std::string> n;
  for (auto& [k, v] : tensors_) n.push_back(k);
  return n;
}

void SafeTensors::read_into(const std::string& name, const Tensor& dst) const {
  const StTensor& t = get(name);
  if (t.numel() != dst.numel())
    FAIL_INPUT(path_, "tensor '" + name + "'", "has {} elements, expected {} ({})", t.numel(), dst.numel(),
               dst.shape.str());
  MR_CHECK(dst.device == Device::CPU, "read_into needs a CPU tensor");
  const int64_t n = t.numel();
  auto rd = [&](auto tag, int64_t i) {
    using V = decltype(tag);
    V v;
    std::memcpy(&v, t.data + size_t(i) * sizeof(V), sizeof(V));  // unaligned-safe
    return v;
  };
  if (dst.dtype == DType::F32) {
    float* o = dst.f32();
    for (int64_t i = 0; i < n; ++i) {
      switch (t.dtype) {
        case StDType::F32: o[i] = rd(float{}, i); break;
        case StDType::F64: o[i] = float(rd(double{}, i)); break;
        case StDType::F16: o[i] = f16_to_f32(rd(uint16_t{}, i)); break;
        case StDType::BF16: o[i] = bf16_to_f32(rd(uint16_t{}, i)); break;
        default: FAIL_INPUT(path_, "tensor '" + name + "'", "is {}, not a floating-point tensor", dtype_str(t.dtype));
      }
    }
  } else if (dst.dtype == DType::I32) {
    int32_t* o = dst.i32();
    for (int64_t i = 0; i < n; ++i) {
      int64_t v;
      if (t.dtype == StDType::I64) v = rd(int64_t{}, i);
      else if (t.dtype == StDType::I32) v = rd(int32_t{}, i);
      else FAIL_INPUT(path_, "tensor '" + name + "'", "is {}, not an integer tensor", dtype_str(t.dtype));
      if (v < INT32_MIN || v > INT32_MAX) FAIL_INPUT(path_, "tensor '" + name + "'", "value {} does not fit in int32", v);
      o[i] = int32_t(v);
    }
  } else {
    MR_CHECK(false, "read_into: unsupported destination {}", dst.str());
  }
}

static Shape shape_of(const StTensor& t) {
  Shape s;
  MR_CHECK(t.shape.size() <= size_t(kMaxDims), "tensor '{}' has {} dimensions", t.name, t.shape.size());
  s.ndim = int(t.shape.size());
  for (int i = 0; i < s.ndim; ++i) s.d[i] = t.shape[i];
  return s;
}

HostTensor SafeTensors::read_f32(const std::string& name) const {
  HostTensor h(shape_of(get(name)), DType::F32);
  read_into(name, *h);
  return h;
}

HostTensor SafeTensors::read_i32(const std::string& name) const {
  HostTensor h(shape_of(get(name)), DType::I32);
  read_into(name, *h);
  return h;
}

void write_safetensors(const std::string& path, const std::vector<StEntry>& entries,
                       const std::map<std::string, std::string>& metadata) {
  json hdr = json::object();
  if (!metadata.empty()) hdr["__metadata__"] = metadata;
  size_t off = 0;
  for (auto& e : entries) {
    MR_CHECK(e.t.device == Device::CPU, "write_safetensors: {} is not on the CPU", e.name);
    const char* dt = e.t.dtype == DType::F32 ? "F32" : e.t.dtype == DType::I32 ? "I32"
                   : e.t.dtype == DType::BF16 ? "BF16" : "F16";
    std::vector<int64_t> shape(e.t.shape.d, e.t.shape.d + e.t.ndim());
    hdr[e.name] = {{"dtype", dt}, {"shape", shape}, {"data_offsets", {off, off + e.t.nbytes()}}};
    off += e.t.nbytes();
  }
  std::string h = hdr.dump();
  while ((h.size() + 8) % 8) h.push_back(' ');  // align the data section
  const std::string tmp = path + ".tmp";
  FILE* f = std::fopen(tmp.c_str(), "wb");
  if (!f) FAIL_INPUT(tmp, "open", "{}", std::strerror(errno));
  uint8_t len[8];
  for (int i = 0; i < 8; ++i) len[i] = uint8_t(uint64_t(h.size()) >> (8 * i));
  bool ok = std::fwrite(len, 1, 8, f) == 8 && std::fwrite(h.data(), 1, h.size(), f) == h.size();
  for (auto& e : entries) ok = ok && std::fwrite(e.t.data, 1, e.t.nbytes(), f) == e.t.nbytes();
  ok = ok && std::fflush(f) == 0 && ::fsync(fileno(f)) == 0;
  ok = (std::fclose(f) == 0) && ok;
  if (!ok || std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    FAIL_INPUT(path, "write", "{}", std::strerror(errno));
  }
}

}  // namespace mr
