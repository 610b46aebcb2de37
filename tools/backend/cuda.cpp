// The CUDA backend of build/metarec-cuda (kernels compiled by nvcc) and, compiled again with
// MR_BACKEND_EMULATED, of build/metarec-emu (the same kernels under the SIMT emulator). Linked
// as an object, not from an archive, so the registration below runs before main.
#include "engine/backend.h"
#include "base/check.h"
#include "engine/tape.h"
#include "kernels/cuda/cuda_ops.h"

namespace mr {
namespace {

void init_cuda(const std::string& precision) {
  static bool ready = false;
  if (!ready && !cuda::init())
    throw Error(fmt::format("device cuda: no usable CUDA device ({}; check the driver, which must support the CUDA 13 "
                            "runtime this binary uses, and CUDA_VISIBLE_DEVICES), or use device cpu",
                            cuda::init_error()));
  register_cuda_kernels(&kCudaKernels);
  ready = true;
  cuda::Math m;
  MR_CHECK(cuda::parse_math(precision, m), "unknown precision '{}'", precision);
  cuda::set_math(m);
}

#ifdef MR_BACKEND_EMULATED
constexpr const char* kKind = "emulated";
#else
constexpr const char* kKind = "cuda";
#endif

const bool registered = (register_cuda_backend(init_cuda, kKind), true);

}  // namespace
}  // namespace mr
