#include "engine/backend.h"

#include "base/check.h"

namespace mr {

namespace {
CudaProvider g_cuda{"none", nullptr};
}  // namespace

const char* precision_name(Precision p) {
  return p == Precision::bf16 ? "bf16" : p == Precision::tf32 ? "tf32" : "fp32";
}

void register_cuda_provider(const CudaProvider& p) { g_cuda = p; }

const char* cuda_backend_kind() { return g_cuda.kind; }

void init_backend(Backend& b) {
  if (b.dev == Device::CPU) {
    MR_CHECK(b.precision == Precision::fp32, "the CPU backend computes in fp32 only, got precision {}",
             precision_name(b.precision));
    b.kernels = &kCpuKernels;
    return;
  }
  if (!g_cuda.init)
    throw Error(
        "this metarec has no CUDA backend (it is the CPU-only build, build/metarec): run build/metarec-cuda for "
        "device cuda (`make metarec-cuda`; nvcc to build it, a GPU to run it), or use device cpu");
  b.kernels = g_cuda.init(b.precision, b.gpu);
}

Backend parse_backend(const std::string& device, const std::string& precision, const std::string& where) {
  Backend b;
  if (device == "cpu") b.dev = Device::CPU;
  else if (device == "cuda") b.dev = Device::CUDA;
  else throw Error(fmt::format("{}: device must be cpu or cuda, got '{}'", where, device));
  if (precision == "fp32") b.precision = Precision::fp32;
  else if (precision == "bf16") b.precision = Precision::bf16;
  else if (precision == "tf32") b.precision = Precision::tf32;
  else throw Error(fmt::format("{}: precision must be fp32, bf16 or tf32, got '{}'", where, precision));
  if (b.dev == Device::CPU && b.precision != Precision::fp32)
    throw Error(fmt::format("{}: the CPU backend computes in fp32 only (precision {} needs device cuda)", where, precision));
  if (b.dev == Device::CUDA) b.kernels = nullptr;
  return b;
}

Backend make_backend(const std::string& device, const std::string& precision, const std::string& where) {
  Backend b = parse_backend(device, precision, where);
  init_backend(b);
  return b;
}

}  // namespace mr
