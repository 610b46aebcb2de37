// Error handling for all of metarec: one macro family that names file, line, the failing
// call or condition, and a formatted message.
//   MR_CHECK(cond, fmt, args...)  internal invariants and user-input checks; throws mr::Error
//   CUDA_CHECK / CUBLAS_CHECK / NCCL_CHECK / MPI_CHECK live next to their libraries
//   (kernels/cuda/cuda_check.cuh, engine/comm) and throw the same mr::Error.
// Bad user input (a corrupt file, an unknown option) must say which file and line/offset:
// use FAIL_INPUT(path, where, fmt, ...) so the message always carries them.
#pragma once
#include <fmt/format.h>

#include "base/error.h"

#define MR_STR2(x) #x
#define MR_CHECK(cond, ...)                                                                        \
  do {                                                                                          \
    if (!(cond)) ::mr::throw_error(__FILE__, __LINE__, "check failed (" #cond ")",              \
                                   ::fmt::format(__VA_ARGS__));                                 \
  } while (0)

// An error in something the user gave us: names the file and the position inside it.
#define FAIL_INPUT(path, where, ...)                                                            \
  throw ::mr::Error(::fmt::format("{}: {}: {}", (path), (where), ::fmt::format(__VA_ARGS__)))
