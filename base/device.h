// Devices and the hooks through which the CUDA backend provides device memory. Kept free of
// other headers so CUDA sources can include it.
#pragma once
#include <cstddef>
#include <cstdint>

namespace mr {

enum class Device : uint8_t { CPU, CUDA };

// Device memory hooks: the CUDA backend installs these; without it, CUDA tensors are an error.
struct DeviceAllocator {
  void* (*alloc)(size_t bytes) = nullptr;
  void (*free)(void* p) = nullptr;
  void (*memset0)(void* p, size_t bytes) = nullptr;
  void (*copy)(void* dst, Device dd, const void* src, Device sd, size_t bytes) = nullptr;
};
void set_cuda_allocator(const DeviceAllocator& a);

}  // namespace mr
