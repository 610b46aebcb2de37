// The compute backend: one object that says where ops run and how, created in one place
// (make_backend, or parse_backend + init_backend) and passed to what needs it (Tape,
// TextEncoder, the item tower). It carries the device, the precision and the kernel table
// whose arithmetic follows that precision (the CUDA tables bind their GEMM/attention math mode;
// there is no process-wide mode). build/metarec has only the CPU backend (it runs on any
// machine); build/metarec-cuda links the CUDA backend (kernels/cuda, cuBLASLt); build/metarec-emu
// is the same program with the kernels under the SIMT emulator. A binary has the CUDA backend
// when tools/backend/cuda.cpp is linked into it: it registers a CudaProvider here before main
// (the one hook; the provider also gives base/ its device memory).
#pragma once
#include <string>

#include "base/device.h"
#include "base/tensor.h"
#include "kernels/kernel_table.h"

namespace mr {

// fp32: fp32 everywhere (the CPU's only precision). bf16 (CUDA): bf16 activations in the
// arena and bf16 tensor-core products with fp32 accumulation, fp32 parameters. tf32 (CUDA):
// fp32 storage, GEMM operands rounded to tf32.
enum class Precision : uint8_t { fp32, bf16, tf32 };
const char* precision_name(Precision p);

struct Backend {
  Device dev = Device::CPU;
  Precision precision = Precision::fp32;
  // The ops (fp32 storage; ->bf16 for bf16 storage), the precision's math mode bound in.
  // Null until the backend is ready (init_backend); the default is the CPU's.
  const KernelTable* kernels = &kCpuKernels;
  // CUDA: which GPU of the machine (-1: the one this process already uses, GPU 0 unless a
  // backend chose another). A process uses one GPU: init_backend refuses a second.
  int gpu = -1;

  bool ready() const { return kernels != nullptr; }
  DType act_dtype() const { return precision == Precision::bf16 ? DType::BF16 : DType::F32; }
  std::string str() const { return std::string(device_name(dev)) + "/" + precision_name(precision); }
};

// Parses --device (cpu | cuda) and --precision (fp32 | bf16 | tf32); a clear error otherwise,
// naming `where` (an option or a config key). A CUDA backend comes back not ready: nothing is
// touched until init_backend.
Backend parse_backend(const std::string& device, const std::string& precision, const std::string& where);

// Makes b ready: nothing for the CPU. For CUDA: starts the device (once per process) and sets
// b.kernels to the table of b's precision. Throws mr::Error, with what to do, when this binary
// has no CUDA backend or no CUDA device answers.
void init_backend(Backend& b);

// parse_backend + init_backend.
Backend make_backend(const std::string& device, const std::string& precision, const std::string& where);

// The name of this binary's CUDA backend: "none" (build/metarec), "cuda" or "emulated".
const char* cuda_backend_kind();

// What tools/backend/cuda.cpp registers: init selects GPU `gpu` (-1: keep the current one) and
// starts it (installing base/'s device memory), and returns the kernel table of a precision; it
// throws mr::Error when it cannot (no device, gpu out of range, a second GPU in one process).
struct CudaProvider {
  const char* kind;  // "cuda" or "emulated"
  const KernelTable* (*init)(Precision p, int gpu);
};
void register_cuda_provider(const CudaProvider& p);

}  // namespace mr
