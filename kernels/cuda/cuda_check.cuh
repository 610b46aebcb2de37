// CUDA_CHECK / CUBLAS_CHECK: name the file, the line, the failing call and the error string,
// and throw mr::Error like every other check in metarec (engine/check.h).
#pragma once
#include <cuda_runtime.h>

#include <string>

#include "engine/error.h"

#define CUDA_CHECK(call)                                                                     \
  do {                                                                                       \
    cudaError_t mr_err_ = (call);                                                            \
    if (mr_err_ != cudaSuccess)                                                              \
      ::mr::throw_error(__FILE__, __LINE__, #call,                                           \
                        std::string(cudaGetErrorString(mr_err_)) + " (" + cudaGetErrorName(mr_err_) + ")"); \
  } while (0)
