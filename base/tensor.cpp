#include "base/tensor.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <new>
#include <utility>

namespace mr {

size_t dtype_size(DType t) {
  switch (t) {
    case DType::F32: return 4;
    case DType::I32: return 4;
    case DType::BF16: return 2;
    case DType::F16: return 2;
    case DType::F64: return 8;
  }
  return 0;
}

const char* dtype_name(DType t) {
  switch (t) {
    case DType::F32: return "f32";
    case DType::I32: return "i32";
    case DType::BF16: return "bf16";
    case DType::F16: return "f16";
    case DType::F64: return "f64";
  }
  return "?";
}

const char* device_name(Device d) { return d == Device::CPU ? "cpu" : "cuda"; }

Shape::Shape(std::initializer_list<int64_t> dims) {
  MR_CHECK(dims.size() <= kMaxDims, "at most {} dimensions, got {}", kMaxDims, dims.size());
  ndim = int(dims.size());
  int i = 0;
  for (int64_t v : dims) {
    MR_CHECK(v >= 0, "negative dimension {}", v);
    d[i++] = v;
  }
}

int64_t Shape::numel() const {
  int64_t n = 1;
  for (int i = 0; i < ndim; ++i) n *= d[i];
  return n;
}

bool Shape::operator==(const Shape& o) const {
  if (ndim != o.ndim) return false;
  for (int i = 0; i < ndim; ++i)
    if (d[i] != o.d[i]) return false;
  return true;
}

std::string Shape::str() const {
  std::string s = "[";
  for (int i = 0; i < ndim; ++i) s += (i ? "," : "") + std::to_string(d[i]);
  return s + "]";
}

Tensor Tensor::view(Shape s) const {
  MR_CHECK(s.numel() == numel(), "view {} of {} changes the element count", s.str(), shape.str());
  Tensor t = *this;
  t.shape = s;
  return t;
}

Tensor Tensor::rows(int64_t begin, int64_t end) const {
  MR_CHECK(ndim() >= 1 && 0 <= begin && begin <= end && end <= shape.d[0], "rows [{}, {}) of {}",
        begin, end, shape.str());
  Tensor t = *this;
  int64_t row = numel() / (shape.d[0] ? shape.d[0] : 1);
  t.data = static_cast<char*>(data) + size_t(begin * row) * dtype_size(dtype);
  t.shape.d[0] = end - begin;
  return t;
}

std::string Tensor::str() const {
  return std::string(dtype_name(dtype)) + shape.str() + "@" + device_name(device);
}

uint16_t f32_to_bf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return uint16_t((u >> 16) | 0x40);  // quiet NaN
  u += 0x7fffu + ((u >> 16) & 1u);
  return uint16_t(u >> 16);
}

float bf16_to_f32(uint16_t h) {
  uint32_t u = uint32_t(h) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

// IEEE binary16 by hand (no _Float16: not every compiler has it on x86), round to nearest even.
uint16_t f32_to_f16(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  const uint32_t sign = (x >> 16) & 0x8000u, exp = (x >> 23) & 0xffu;
  uint32_t mant = x & 0x7fffffu;
  if (exp == 0xff) return uint16_t(sign | 0x7c00u | (mant ? 0x200u | (mant >> 13) : 0u));  // inf, NaN
  const int e = int(exp) - 127 + 15;
  if (e >= 31) return uint16_t(sign | 0x7c00u);  // overflow -> inf
  if (e <= 0) {                                   // half subnormal (or zero)
    if (e < -10) return uint16_t(sign);
    mant |= 0x800000u;
    const int shift = 14 - e;
    uint32_t h = mant >> shift;
    const uint32_t rem = mant & ((1u << shift) - 1), mid = 1u << (shift - 1);
    if (rem > mid || (rem == mid && (h & 1u))) ++h;
    return uint16_t(sign | h);
  }
  uint32_t h = (uint32_t(e) << 10) | (mant >> 13);
  const uint32_t rem = mant & 0x1fffu;
  if (rem > 0x1000u || (rem == 0x1000u && (h & 1u))) ++h;  // a carry into the exponent is right
  return uint16_t(sign | h);
}

float f16_to_f32(uint16_t h) {
  const uint32_t sign = uint32_t(h & 0x8000u) << 16, exp = (h >> 10) & 0x1fu, mant = h & 0x3ffu;
  uint32_t x;
  if (exp == 0) {
    const float v = std::ldexp(float(mant), -24);
    return sign ? -v : v;
  }
  if (exp == 31) x = sign | 0x7f800000u | (mant << 13);
  else x = sign | ((exp + 112u) << 23) | (mant << 13);
  float f;
  std::memcpy(&f, &x, 4);
  return f;
}

void convert(const Tensor& dst, const Tensor& src) {
  MR_CHECK(dst.device == Device::CPU && src.device == Device::CPU, "convert runs on cpu tensors");
  MR_CHECK(dst.numel() == src.numel(), "convert {} -> {}", src.str(), dst.str());
  MR_CHECK(dst.dtype != DType::F64 && src.dtype != DType::F64, "convert {} -> {}: not for f64", src.str(), dst.str());
  const int64_t n = src.numel();
  auto get = [&](int64_t i) -> float {
    switch (src.dtype) {
      case DType::F32: return static_cast<const float*>(src.data)[i];
      case DType::I32: return float(static_cast<const int32_t*>(src.data)[i]);
      case DType::BF16: return bf16_to_f32(static_cast<const uint16_t*>(src.data)[i]);
      case DType::F16: return f16_to_f32(static_cast<const uint16_t*>(src.data)[i]);
      case DType::F64: break;
    }
    return 0;
  };
  for (int64_t i = 0; i < n; ++i) {
    float v = get(i);
    switch (dst.dtype) {
      case DType::F32: static_cast<float*>(dst.data)[i] = v; break;
      case DType::I32: static_cast<int32_t*>(dst.data)[i] = int32_t(v); break;
      case DType::BF16: static_cast<uint16_t*>(dst.data)[i] = f32_to_bf16(v); break;
      case DType::F16: static_cast<uint16_t*>(dst.data)[i] = f32_to_f16(v); break;
      case DType::F64: break;
    }
  }
}

static DeviceAllocator g_cuda;
static DeviceMemStats g_stats;

DeviceMemStats device_mem_stats() { return g_stats; }
void reset_device_peak() { g_stats.peak_bytes = g_stats.bytes; }

void set_cuda_allocator(const DeviceAllocator& a) { g_cuda = a; }

Buffer::Buffer(size_t bytes, Device dev) : bytes_(bytes), dev_(dev) {
  if (bytes == 0) return;
  if (dev == Device::CPU) {
    ptr_ = std::aligned_alloc(64, (bytes + 63) / 64 * 64);
    if (!ptr_) throw std::bad_alloc();
  } else {
    MR_CHECK(g_cuda.alloc, "a CUDA buffer was requested but no CUDA backend is ready (make_backend)");
    ptr_ = g_cuda.alloc(bytes);
    g_stats.allocs++;
    g_stats.bytes += bytes;
    g_stats.peak_bytes = std::max(g_stats.peak_bytes, g_stats.bytes);
  }
}

Buffer::~Buffer() { release(); }

void Buffer::release() {
  if (!ptr_) return;
  if (dev_ == Device::CPU) std::free(ptr_);
  else {
    g_cuda.free(ptr_);
    g_stats.bytes -= bytes_;
  }
  ptr_ = nullptr;
  bytes_ = 0;
}

Buffer::Buffer(Buffer&& o) noexcept
    : ptr_(std::exchange(o.ptr_, nullptr)), bytes_(std::exchange(o.bytes_, 0)), dev_(o.dev_) {}

Buffer& Buffer::operator=(Buffer&& o) noexcept {
  if (this != &o) {
    release();
    ptr_ = std::exchange(o.ptr_, nullptr);
    bytes_ = std::exchange(o.bytes_, 0);
    dev_ = o.dev_;
  }
  return *this;
}

Tensor Buffer::as(Shape s, DType t) const {
  MR_CHECK(size_t(s.numel()) * dtype_size(t) <= bytes_, "{} does not fit in a {}-byte buffer", s.str(), bytes_);
  Tensor x;
  x.data = ptr_;
  x.shape = s;
  x.dtype = t;
  x.device = dev_;
  return x;
}

HostTensor::HostTensor(Shape s, DType dt) : buf(size_t(s.numel()) * dtype_size(dt), Device::CPU) {
  t = buf.as(s, dt);
  if (t.numel()) std::memset(t.data, 0, t.nbytes());
}

OwnedTensor::OwnedTensor(Shape s, DType dt, Device dev) : buf(size_t(s.numel()) * dtype_size(dt), dev) {
  t = buf.as(s, dt);
  fill_zero(t);
}

void fill_zero(const Tensor& t) {
  if (!t.numel()) return;
  if (t.device == Device::CPU) std::memset(t.data, 0, t.nbytes());
  else g_cuda.memset0(t.data, t.nbytes());
}

void copy(const Tensor& dst, const Tensor& src) {
  MR_CHECK(dst.dtype == src.dtype && dst.numel() == src.numel(), "copy {} -> {}", src.str(), dst.str());
  if (!src.numel()) return;
  if (dst.device == Device::CPU && src.device == Device::CPU) std::memcpy(dst.data, src.data, src.nbytes());
  else g_cuda.copy(dst.data, dst.device, src.data, src.device, src.nbytes());
}

HostTensor host_copy(const Tensor& t) {
  HostTensor h(t.shape, t.dtype);
  copy(*h, t);
  return h;
}

}  // namespace mr
