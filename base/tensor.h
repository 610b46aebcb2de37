// Tensor: a typed, shaped, non-owning view of contiguous memory on one device.
// Storage comes from Buffer (RAII), the Arena (per-step activations) or the ParamStore
// (one buffer for all parameters, one for all gradients). Tensors are cheap to copy.
#pragma once
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>

#include "base/check.h"
#include "base/device.h"

namespace mr {

enum class DType : uint8_t { F32, BF16, F16, I32, F64 };  // F64: accumulators (engine/meta)

size_t dtype_size(DType t);
const char* dtype_name(DType t);
const char* device_name(Device d);

constexpr int kMaxDims = 4;

struct Shape {
  int ndim = 0;
  int64_t d[kMaxDims] = {1, 1, 1, 1};

  Shape() = default;
  Shape(std::initializer_list<int64_t> dims);
  int64_t numel() const;
  int64_t operator[](int i) const { return d[i < 0 ? ndim + i : i]; }
  bool operator==(const Shape& o) const;
  std::string str() const;
};

struct Tensor {
  void* data = nullptr;
  Shape shape;
  DType dtype = DType::F32;
  Device device = Device::CPU;

  bool defined() const { return data != nullptr; }
  int ndim() const { return shape.ndim; }
  int64_t numel() const { return shape.numel(); }
  int64_t size(int i) const { return shape[i]; }
  size_t nbytes() const { return size_t(numel()) * dtype_size(dtype); }

  float* f32() const {
    MR_CHECK(dtype == DType::F32, "tensor is {}, not f32", dtype_name(dtype));
    return static_cast<float*>(data);
  }
  int32_t* i32() const {
    MR_CHECK(dtype == DType::I32, "tensor is {}, not i32", dtype_name(dtype));
    return static_cast<int32_t*>(data);
  }
  double* f64() const {
    MR_CHECK(dtype == DType::F64, "tensor is {}, not f64", dtype_name(dtype));
    return static_cast<double*>(data);
  }
  uint16_t* u16() const {
    MR_CHECK(dtype == DType::BF16 || dtype == DType::F16, "tensor is {}, not 16-bit", dtype_name(dtype));
    return static_cast<uint16_t*>(data);
  }
  // Same memory, another shape with the same number of elements.
  Tensor view(Shape s) const;
  // Rows [begin, end) along the first dimension.
  Tensor rows(int64_t begin, int64_t end) const;
  std::string str() const;  // "f32[3,17,64]@cpu"
};

// Round-to-nearest-even float -> bf16 / f16 and back (host side; CUDA has its own intrinsics).
uint16_t f32_to_bf16(float f);
float bf16_to_f32(uint16_t h);
uint16_t f32_to_f16(float f);
float f16_to_f32(uint16_t h);
// Converts between any two dtypes of CPU tensors with the same numel (f32 <-> bf16/f16/i32;
// not f64).
void convert(const Tensor& dst, const Tensor& src);

// Owning device memory, aligned to 64 bytes, copy disabled.
class Buffer {
 public:
  Buffer() = default;
  Buffer(size_t bytes, Device dev);
  ~Buffer();
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  Buffer(Buffer&& o) noexcept;
  Buffer& operator=(Buffer&& o) noexcept;

  void* data() const { return ptr_; }
  size_t size() const { return bytes_; }
  Device device() const { return dev_; }
  Tensor as(Shape s, DType t) const;

 private:
  void release();
  void* ptr_ = nullptr;
  size_t bytes_ = 0;
  Device dev_ = Device::CPU;
};

// An owning tensor (test code, small host-side state).
struct HostTensor {
  Buffer buf;
  Tensor t;
  HostTensor() = default;
  HostTensor(Shape s, DType dt = DType::F32);
  Tensor& operator*() { return t; }
  const Tensor* operator->() const { return &t; }
  Tensor* operator->() { return &t; }
};

// An owning tensor on any device, zeroed (device state: a model's tables, accumulators).
struct OwnedTensor {
  Buffer buf;
  Tensor t;
  OwnedTensor() = default;
  OwnedTensor(Shape s, DType dt, Device dev);
  Tensor& operator*() { return t; }
  const Tensor& operator*() const { return t; }
  const Tensor* operator->() const { return &t; }
  Tensor* operator->() { return &t; }
};

void fill_zero(const Tensor& t);
void copy(const Tensor& dst, const Tensor& src);  // same dtype and numel, any devices
HostTensor host_copy(const Tensor& t);             // t's values (any device) in host memory

}  // namespace mr
