#include "engine/backend.h"

#include "base/check.h"

namespace mr {

namespace {
void (*g_cuda_init)(const std::string&) = nullptr;
const char* g_kind = "none";
}  // namespace

void register_cuda_backend(void (*init)(const std::string& precision), const char* kind) {
  g_cuda_init = init;
  g_kind = kind;
}

const char* cuda_backend_kind() { return g_kind; }

void init_backend(const Backend& b) {
  if (b.dev == Device::CPU) {
    MR_CHECK(b.precision == "fp32", "the CPU backend computes in fp32 only, got precision {}", b.precision);
    return;
  }
  if (!g_cuda_init)
    throw Error(
        "this metarec has no CUDA backend (it is the CPU-only build, build/metarec): run build/metarec-cuda for "
        "device cuda (`make metarec-cuda`; nvcc to build it, a GPU to run it), or use device cpu");
  g_cuda_init(b.precision);
}

Backend parse_backend(const std::string& device, const std::string& precision, const std::string& where) {
  Backend b;
  if (device == "cpu") b.dev = Device::CPU;
  else if (device == "cuda") b.dev = Device::CUDA;
  else throw Error(fmt::format("{}: device must be cpu or cuda, got '{}'", where, device));
  if (precision != "fp32" && precision != "bf16" && precision != "tf32")
    throw Error(fmt::format("{}: precision must be fp32, bf16 or tf32, got '{}'", where, precision));
  if (b.dev == Device::CPU && precision != "fp32")
    throw Error(fmt::format("{}: the CPU backend computes in fp32 only (precision {} needs device cuda)", where, precision));
  b.precision = precision;
  return b;
}

}  // namespace mr
