// The compute backend a command runs on: where the encoder's parameters and activations live,
// and in which precision. build/metarec has only the CPU backend (it runs on any machine);
// build/metarec-cuda links the CUDA backend (kernels/cuda, cuBLASLt); build/metarec-emu is the
// same program with the kernels under the SIMT emulator (for tests on machines without a GPU).
// A binary has the CUDA backend when tools/backend/cuda.cpp is linked into it: its static
// initializer registers itself here (register_cuda_backend).
#pragma once
#include <string>

#include "base/device.h"
#include "base/tensor.h"

namespace mr {

struct Backend {
  Device dev = Device::CPU;
  // fp32: fp32 everywhere (the CPU's only precision). bf16 (CUDA): bf16 activations in the
  // arena and bf16 tensor-core products with fp32 accumulation, fp32 parameters.
  // tf32 (CUDA): fp32 storage, GEMM operands rounded to tf32.
  std::string precision = "fp32";
  DType act_dtype() const { return precision == "bf16" ? DType::BF16 : DType::F32; }
  std::string str() const { return std::string(device_name(dev)) + "/" + precision; }
};

// Parses --device (cpu | cuda) and --precision (fp32 | bf16 | tf32); a clear error otherwise,
// naming `where` (an option or a config key).
Backend parse_backend(const std::string& device, const std::string& precision, const std::string& where);

// Makes b usable in this process: nothing for the CPU in fp32. For CUDA: registers the CUDA
// kernels and the device allocator and sets the math mode. Throws mr::Error, with what to do,
// when this binary has no CUDA backend or no CUDA device answers.
void init_backend(const Backend& b);

// The name of this binary's CUDA backend: "none" (build/metarec), "cuda" or "emulated".
const char* cuda_backend_kind();

// Called once, before main, by tools/backend/cuda.cpp. init makes the device ready for the
// given precision (fp32, bf16 or tf32) and throws mr::Error when it cannot.
void register_cuda_backend(void (*init)(const std::string& precision), const char* kind);

}  // namespace mr
