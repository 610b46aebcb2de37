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

// What the device Buffers (base/tensor.h) of this process hold: every device allocation goes
// through one (the parameters, optimizer state, arenas, caches), so these count all of them.
struct DeviceMemStats {
  uint64_t allocs = 0;       // allocations so far
  size_t bytes = 0;          // held now
  size_t peak_bytes = 0;     // most held at once (since the start, or reset_device_peak)
};
DeviceMemStats device_mem_stats();
void reset_device_peak();

}  // namespace mr
