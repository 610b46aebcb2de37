// The CUDA side of engine memory: installs cudaMalloc/cudaFree/cudaMemset/cudaMemcpy as the
// DeviceAllocator behind Buffer and fill_zero/copy for Device::CUDA tensors (base/tensor.h).
// Compiled by nvcc (`make cuda`) and, for tests, by g++ under the SIMT emulator, where the
// same calls map to host memory.
#include <string>

#include "base/device.h"
#include "kernels/cuda/cuda_check.cuh"

namespace mr::cuda {

namespace {

void* dev_alloc(size_t bytes) {
  void* p = nullptr;
  CUDA_CHECK(cudaMalloc(&p, bytes));
  return p;
}

void dev_free(void* p) { cudaFree(p); }  // never throws from a destructor path

void dev_memset0(void* p, size_t bytes) { CUDA_CHECK(cudaMemset(p, 0, bytes)); }

void dev_copy(void* dst, Device dd, const void* src, Device sd, size_t bytes) {
  cudaMemcpyKind kind = dd == Device::CUDA ? (sd == Device::CUDA ? cudaMemcpyDeviceToDevice : cudaMemcpyHostToDevice)
                                           : (sd == Device::CUDA ? cudaMemcpyDeviceToHost : cudaMemcpyHostToHost);
  CUDA_CHECK(cudaMemcpy(dst, src, bytes, kind));
}

}  // namespace

namespace {
std::string g_init_error;
}  // namespace

const std::string& init_error() { return g_init_error; }

int device_count() {
  int n = 0;
  const cudaError_t e = cudaGetDeviceCount(&n);
  if (e != cudaSuccess) {
    g_init_error = std::string("cudaGetDeviceCount: ") + cudaGetErrorString(e);
    cudaGetLastError();
    return 0;
  }
  return n;
}

void select_device(int gpu) { CUDA_CHECK(cudaSetDevice(gpu)); }

// Returns false (and installs nothing) when no CUDA device is usable, so callers fall back to
// the CPU with a message instead of failing later; init_error() then says why.
bool install_allocator() {
  int n = 0;
  const cudaError_t e = cudaGetDeviceCount(&n);
  if (e != cudaSuccess || n == 0) {
    g_init_error = e != cudaSuccess ? std::string("cudaGetDeviceCount: ") + cudaGetErrorString(e)
                                    : std::string("cudaGetDeviceCount found no device");
    cudaGetLastError();  // clear the sticky error of a machine without a driver
    return false;
  }
  set_cuda_allocator(DeviceAllocator{dev_alloc, dev_free, dev_memset0, dev_copy});
  return true;
}

}  // namespace mr::cuda
