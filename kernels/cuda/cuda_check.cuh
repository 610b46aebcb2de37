// CUDA_CHECK / CUBLAS_CHECK: name the file, the line, the failing call and the error string,
// and throw mr::Error like every other check in metarec (base/check.h).
#pragma once
#include <cuda_runtime.h>

#include <string>

#include "base/error.h"

#define CUDA_CHECK(call)                                                                     \
  do {                                                                                       \
    cudaError_t mr_err_ = (call);                                                            \
    if (mr_err_ != cudaSuccess)                                                              \
      ::mr::throw_error(__FILE__, __LINE__, #call,                                           \
                        std::string(cudaGetErrorString(mr_err_)) + " (" + cudaGetErrorName(mr_err_) + ")"); \
  } while (0)

namespace mr::cuda {
// "CUBLAS_STATUS_... (text)" for a cublasStatus_t (kernels/cuda/gemm.cu).
std::string cublas_status_text(int status);
}  // namespace mr::cuda

#define CUBLAS_CHECK(call)                                                                   \
  do {                                                                                       \
    const int mr_st_ = int(call);                                                            \
    if (mr_st_ != 0) ::mr::throw_error(__FILE__, __LINE__, #call, ::mr::cuda::cublas_status_text(mr_st_)); \
  } while (0)
