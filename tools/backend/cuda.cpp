// The CUDA backend of build/metarec-cuda (kernels compiled by nvcc) and, compiled again with
// MR_BACKEND_EMULATED, of build/metarec-emu (the same kernels under the SIMT emulator). Linked
// as an object, not from an archive, so the registration below runs before main.
#include "base/check.h"
#include "engine/backend.h"
#include "kernels/cuda/cuda_ops.h"

namespace mr {
namespace {

const KernelTable* init_cuda(Precision p, int gpu) {
  static bool ready = false;
  static int current = -1;  // the GPU this process selected (-1: none asked for, the runtime's 0)
  if (gpu >= 0 && gpu != current) {
    if (ready && current != gpu)
      throw Error(fmt::format("device cuda: GPU {} asked for, but this process already uses GPU {} (one GPU per "
                              "process: start one process per GPU)", gpu, current < 0 ? 0 : current));
    const int n = cuda::device_count();
    if (gpu >= n)
      throw Error(fmt::format("device cuda: GPU {} asked for, but {} visible ({}: more processes on this node "
                              "than GPUs? check mpirun -np, train.gpus and CUDA_VISIBLE_DEVICES)", gpu, n,
                              n ? "numbered from 0" : cuda::init_error()));
    cuda::select_device(gpu);
    current = gpu;
  }
  if (!ready && !cuda::init())
    throw Error(fmt::format("device cuda: no usable CUDA device ({}; check the driver, which must support the CUDA 13 "
                            "runtime this binary uses, and CUDA_VISIBLE_DEVICES), or use device cpu",
                            cuda::init_error()));
  ready = true;
  return &cuda::kernels(p == Precision::bf16 ? cuda::Math::bf16 : p == Precision::tf32 ? cuda::Math::tf32 : cuda::Math::fp32);
}

#ifdef MR_BACKEND_EMULATED
constexpr const char* kKind = "emulated";
#else
constexpr const char* kKind = "cuda";
#endif

const bool registered = (register_cuda_provider(CudaProvider{kKind, init_cuda}), true);

}  // namespace
}  // namespace mr
