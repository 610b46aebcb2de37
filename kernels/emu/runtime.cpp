// SIMT emulator: the CUDA runtime API on the host. "Device" memory is host memory (new
// allocations are filled with 0xff bytes, NaN in float/half/bf16, as a stand-in for
// uninitialised GPU memory); every stream is the same in-order queue, so all work is done
// when the call returns; events record host time. Errors follow CUDA: a return code and a
// sticky last error for cudaGetLastError.
#include <chrono>
#include <cstdlib>
#include <mutex>
#include <new>
#include <unordered_map>

#include "kernels/emu/emu.h"

struct CUstream_st {
  unsigned flags;
};
struct CUevent_st {
  std::chrono::steady_clock::time_point t;
  bool recorded;
};

namespace mr::emu {
namespace {
thread_local cudaError_t tl_last_error = cudaSuccess;
std::mutex g_mu;
std::unordered_map<void*, size_t>& allocations() {
  static std::unordered_map<void*, size_t> m;
  return m;
}
cudaError_t fail_with(cudaError_t e) {
  tl_last_error = e;
  return e;
}
cudaError_t alloc(void** p, size_t bytes) {
  if (!p) return fail_with(cudaErrorInvalidValue);
  size_t n = (std::max<size_t>(bytes, 1) + 255) / 256 * 256;
  void* m = ::operator new(n, std::align_val_t(256), std::nothrow);
  if (!m) return fail_with(cudaErrorMemoryAllocation);
  std::memset(m, 0xff, n);
  std::lock_guard<std::mutex> lk(g_mu);
  allocations()[m] = n;
  *p = m;
  return cudaSuccess;
}
cudaError_t release(void* p) {
  if (!p) return cudaSuccess;
  {
    std::lock_guard<std::mutex> lk(g_mu);
    auto it = allocations().find(p);
    if (it == allocations().end()) return fail_with(cudaErrorInvalidDevicePointer);
    allocations().erase(it);
  }
  ::operator delete(p, std::align_val_t(256));
  return cudaSuccess;
}
}  // namespace
void set_last_error(cudaError_t e) { tl_last_error = e; }
}  // namespace mr::emu

using mr::emu::fail_with;

cudaError_t cudaMalloc(void** p, size_t bytes) { return mr::emu::alloc(p, bytes); }
cudaError_t cudaMallocHost(void** p, size_t bytes) { return mr::emu::alloc(p, bytes); }
cudaError_t cudaMallocAsync(void** p, size_t bytes, cudaStream_t) { return mr::emu::alloc(p, bytes); }
cudaError_t cudaFree(void* p) { return mr::emu::release(p); }
cudaError_t cudaFreeHost(void* p) { return mr::emu::release(p); }
cudaError_t cudaFreeAsync(void* p, cudaStream_t) { return mr::emu::release(p); }

cudaError_t cudaMemcpy(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind) {
  if (int(kind) < 0 || int(kind) > 4) return fail_with(cudaErrorInvalidMemcpyDirection);
  if (bytes == 0) return cudaSuccess;
  if (!dst || !src) return fail_with(cudaErrorInvalidValue);
  std::memmove(dst, src, bytes);
  return cudaSuccess;
}
cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind, cudaStream_t) {
  return cudaMemcpy(dst, src, bytes, kind);
}
cudaError_t cudaMemset(void* p, int value, size_t bytes) {
  if (bytes == 0) return cudaSuccess;
  if (!p) return fail_with(cudaErrorInvalidValue);
  std::memset(p, value, bytes);
  return cudaSuccess;
}
cudaError_t cudaMemsetAsync(void* p, int value, size_t bytes, cudaStream_t) { return cudaMemset(p, value, bytes); }

cudaError_t cudaStreamCreate(cudaStream_t* s) { return cudaStreamCreateWithFlags(s, 0); }
cudaError_t cudaStreamCreateWithFlags(cudaStream_t* s, unsigned flags) {
  if (!s) return fail_with(cudaErrorInvalidValue);
  *s = new CUstream_st{flags};
  return cudaSuccess;
}
cudaError_t cudaStreamDestroy(cudaStream_t s) {
  if (s == cudaStreamLegacy || s == cudaStreamPerThread) return fail_with(cudaErrorInvalidResourceHandle);
  delete s;
  return cudaSuccess;
}
cudaError_t cudaStreamSynchronize(cudaStream_t) { return cudaSuccess; }
cudaError_t cudaStreamWaitEvent(cudaStream_t, cudaEvent_t, unsigned) { return cudaSuccess; }
cudaError_t cudaStreamQuery(cudaStream_t) { return cudaSuccess; }

cudaError_t cudaEventCreate(cudaEvent_t* e) { return cudaEventCreateWithFlags(e, 0); }
cudaError_t cudaEventCreateWithFlags(cudaEvent_t* e, unsigned) {
  if (!e) return fail_with(cudaErrorInvalidValue);
  *e = new CUevent_st{{}, false};
  return cudaSuccess;
}
cudaError_t cudaEventDestroy(cudaEvent_t e) {
  delete e;
  return cudaSuccess;
}
cudaError_t cudaEventRecord(cudaEvent_t e, cudaStream_t) {
  if (!e) return fail_with(cudaErrorInvalidResourceHandle);
  e->t = std::chrono::steady_clock::now();
  e->recorded = true;
  return cudaSuccess;
}
cudaError_t cudaEventSynchronize(cudaEvent_t e) { return e ? cudaSuccess : fail_with(cudaErrorInvalidResourceHandle); }
cudaError_t cudaEventQuery(cudaEvent_t e) { return e ? cudaSuccess : fail_with(cudaErrorInvalidResourceHandle); }
cudaError_t cudaEventElapsedTime(float* ms, cudaEvent_t a, cudaEvent_t b) {
  if (!ms || !a || !b) return fail_with(cudaErrorInvalidValue);
  if (!a->recorded || !b->recorded) return fail_with(cudaErrorInvalidResourceHandle);
  *ms = std::chrono::duration<float, std::milli>(b->t - a->t).count();
  return cudaSuccess;
}

cudaError_t cudaDeviceSynchronize() { return cudaSuccess; }
cudaError_t cudaDeviceReset() { return cudaSuccess; }
cudaError_t cudaGetLastError() {
  cudaError_t e = mr::emu::tl_last_error;
  mr::emu::tl_last_error = cudaSuccess;
  return e;
}
cudaError_t cudaPeekAtLastError() { return mr::emu::tl_last_error; }

const char* cudaGetErrorName(cudaError_t e) {
  switch (e) {
    case cudaSuccess: return "cudaSuccess";
    case cudaErrorInvalidValue: return "cudaErrorInvalidValue";
    case cudaErrorMemoryAllocation: return "cudaErrorMemoryAllocation";
    case cudaErrorInitializationError: return "cudaErrorInitializationError";
    case cudaErrorInvalidConfiguration: return "cudaErrorInvalidConfiguration";
    case cudaErrorInvalidDevicePointer: return "cudaErrorInvalidDevicePointer";
    case cudaErrorInvalidMemcpyDirection: return "cudaErrorInvalidMemcpyDirection";
    case cudaErrorInvalidDevice: return "cudaErrorInvalidDevice";
    case cudaErrorInvalidResourceHandle: return "cudaErrorInvalidResourceHandle";
    case cudaErrorNotReady: return "cudaErrorNotReady";
    case cudaErrorLaunchFailure: return "cudaErrorLaunchFailure";
    default: return "cudaErrorUnknown";
  }
}
const char* cudaGetErrorString(cudaError_t e) {
  switch (e) {
    case cudaSuccess: return "no error";
    case cudaErrorInvalidValue: return "invalid argument";
    case cudaErrorMemoryAllocation: return "out of memory";
    case cudaErrorInitializationError: return "initialization error";
    case cudaErrorInvalidConfiguration: return "invalid configuration argument";
    case cudaErrorInvalidDevicePointer: return "invalid device pointer";
    case cudaErrorInvalidMemcpyDirection: return "invalid copy direction for memcpy";
    case cudaErrorInvalidDevice: return "invalid device ordinal";
    case cudaErrorInvalidResourceHandle: return "invalid resource handle";
    case cudaErrorNotReady: return "device not ready";
    case cudaErrorLaunchFailure: return "unspecified launch failure";
    default: return "unknown error";
  }
}

// One emulated device per process, or METAREC_EMU_DEVICES of them (identical, all this process's
// memory) so that a test can run one process per "GPU" of a multi-GPU node (tools/mpi_test.sh).
static int emu_devices() {
  const char* v = std::getenv("METAREC_EMU_DEVICES");
  const int n = v && *v ? std::atoi(v) : 1;
  return n > 0 ? n : 1;
}
static int g_device = 0;
cudaError_t cudaGetDeviceCount(int* n) {
  if (!n) return fail_with(cudaErrorInvalidValue);
  *n = emu_devices();
  return cudaSuccess;
}
cudaError_t cudaGetDevice(int* d) {
  if (!d) return fail_with(cudaErrorInvalidValue);
  *d = g_device;
  return cudaSuccess;
}
cudaError_t cudaSetDevice(int d) {
  if (d < 0 || d >= emu_devices()) return fail_with(cudaErrorInvalidDevice);
  g_device = d;
  return cudaSuccess;
}
cudaError_t cudaGetDeviceProperties(cudaDeviceProp* p, int device) {
  if (!p) return fail_with(cudaErrorInvalidValue);
  if (device < 0 || device >= emu_devices()) return fail_with(cudaErrorInvalidDevice);
  *p = cudaDeviceProp{};
  std::snprintf(p->name, sizeof p->name, "metarec SIMT emulator (sm_90 semantics)");
  p->totalGlobalMem = size_t(16) << 30;
  p->sharedMemPerBlock = 48 << 10;
  p->sharedMemPerBlockOptin = 227 << 10;
  p->regsPerBlock = 65536;
  p->warpSize = 32;
  p->maxThreadsPerBlock = 1024;
  p->maxThreadsDim[0] = 1024, p->maxThreadsDim[1] = 1024, p->maxThreadsDim[2] = 64;
  p->maxGridSize[0] = 2147483647, p->maxGridSize[1] = 65535, p->maxGridSize[2] = 65535;
  p->major = 9;
  p->minor = 0;
  p->multiProcessorCount = 1;
  p->maxThreadsPerMultiProcessor = 2048;
  return cudaSuccess;
}
cudaError_t cudaDeviceGetAttribute(int* v, cudaDeviceAttr attr, int device) {
  if (!v) return fail_with(cudaErrorInvalidValue);
  if (device != 0) return fail_with(cudaErrorInvalidDevice);
  switch (attr) {
    case cudaDevAttrMaxThreadsPerBlock: *v = 1024; break;
    case cudaDevAttrMaxSharedMemoryPerBlock: *v = 48 << 10; break;
    case cudaDevAttrWarpSize: *v = 32; break;
    case cudaDevAttrMultiProcessorCount: *v = 1; break;
    case cudaDevAttrComputeCapabilityMajor: *v = 9; break;
    case cudaDevAttrComputeCapabilityMinor: *v = 0; break;
    case cudaDevAttrMaxSharedMemoryPerBlockOptin: *v = 227 << 10; break;
    default: return fail_with(cudaErrorInvalidValue);
  }
  return cudaSuccess;
}
