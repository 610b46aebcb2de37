// The cuBLASLt stand-in of the SIMT emulator (kernels/emu/include/cublasLt.h): the matmul
// subset kernels/cuda uses, on the host. Descriptors are plain structs; cublasLtMatmul checks
// the shapes as the library does, then computes D = alpha op(A) op(B) + beta C (+ bias) in
// double from the (possibly bf16/tf32-rounded) fp32 inputs, column-major throughout. Types:
// fp32, or bf16 A and B with bf16 or fp32 C/D (the result rounded to bf16 once on store).
#include "kernels/emu/include/cublasLt.h"

#include <cstring>
#include <vector>

struct cublasLtContext {
  int magic = 0x4c74;
};
struct cublasLtMatrixLayoutOpaque {
  cudaDataType type;
  uint64_t rows, cols;
  int64_t ld;
  int32_t batch = 1, order = 0;  // order 0: CUBLASLT_ORDER_COL
  int64_t stride = 0;
};
struct cublasLtMatmulDescOpaque {
  cublasComputeType_t compute;
  cudaDataType_t scale;
  int32_t transa = CUBLAS_OP_N, transb = CUBLAS_OP_N;
  uint32_t epilogue = CUBLASLT_EPILOGUE_DEFAULT;
  const void* bias = nullptr;
  int32_t bias_type = -1;  // -1: default (the D type)
};
struct cublasLtMatmulPreferenceOpaque {
  uint64_t max_workspace = 0;
  uint32_t min_align[4] = {256, 256, 256, 256};  // A, B, C, D
};

namespace {

template <class T>
cublasStatus_t set_from(T& dst, const void* buf, size_t size) {
  if (!buf || size != sizeof(T)) return CUBLAS_STATUS_INVALID_VALUE;
  std::memcpy(&dst, buf, sizeof(T));
  return CUBLAS_STATUS_SUCCESS;
}

// fp32 -> the compute type's input precision, round to nearest even (NaN stays NaN).
float round_input(float x, cublasComputeType_t compute) {
  if (compute == CUBLAS_COMPUTE_32F) return x;
  const int drop = compute == CUBLAS_COMPUTE_32F_FAST_16BF ? 16 : 13;  // bf16: 7 mantissa bits, tf32: 10
  uint32_t u;
  std::memcpy(&u, &x, 4);
  if ((u & 0x7f800000u) == 0x7f800000u) return x;  // inf / NaN
  const uint32_t half = (1u << (drop - 1)) - 1 + ((u >> drop) & 1u);
  u = (u + half) & ~((1u << drop) - 1);
  std::memcpy(&x, &u, 4);
  return x;
}

// Element i of a buffer of type t (fp32, or bf16 bits widened exactly), and its store
// (bf16: rounded to nearest even).
float load(const void* p, cudaDataType t, int64_t i) {
  if (t == CUDA_R_32F) return static_cast<const float*>(p)[i];
  const uint32_t u = uint32_t(static_cast<const uint16_t*>(p)[i]) << 16;
  float x;
  std::memcpy(&x, &u, 4);
  return x;
}
void store(void* p, cudaDataType t, int64_t i, float x) {
  if (t == CUDA_R_32F) {
    static_cast<float*>(p)[i] = x;
    return;
  }
  const float r = round_input(x, CUBLAS_COMPUTE_32F_FAST_16BF);
  uint32_t u;
  std::memcpy(&u, &r, 4);
  static_cast<uint16_t*>(p)[i] = x != x ? uint16_t(0x7fc0) : uint16_t(u >> 16);  // a NaN stays a NaN
}

// The shapes of one call, checked as cuBLASLt checks them.
struct Shape {
  uint64_t m, n, k;
};
cublasStatus_t check(const cublasLtMatmulDescOpaque& d, const cublasLtMatrixLayoutOpaque& A,
                     const cublasLtMatrixLayoutOpaque& B, const cublasLtMatrixLayoutOpaque& C,
                     const cublasLtMatrixLayoutOpaque& D, Shape& s) {
  for (const auto* l : {&A, &B, &C, &D}) {
    if ((l->type != CUDA_R_32F && l->type != CUDA_R_16BF) || l->order != 0 || l->batch != 1)
      return CUBLAS_STATUS_NOT_SUPPORTED;
    if (l->ld < int64_t(l->rows) || l->ld < 1) return CUBLAS_STATUS_INVALID_VALUE;
  }
  // The documented combinations of this subset (compute 32F, scale 32F): A, B, C, D all 32F;
  // or A and B 16BF with C = D in 16BF or 32F, compute CUBLAS_COMPUTE_32F.
  if (A.type != B.type || C.type != D.type) return CUBLAS_STATUS_NOT_SUPPORTED;
  if (A.type == CUDA_R_32F && C.type != CUDA_R_32F) return CUBLAS_STATUS_NOT_SUPPORTED;
  if (A.type == CUDA_R_16BF && d.compute != CUBLAS_COMPUTE_32F) return CUBLAS_STATUS_NOT_SUPPORTED;
  if (d.scale != CUDA_R_32F || (d.transa != CUBLAS_OP_N && d.transa != CUBLAS_OP_T) ||
      (d.transb != CUBLAS_OP_N && d.transb != CUBLAS_OP_T))
    return CUBLAS_STATUS_NOT_SUPPORTED;
  if (d.compute != CUBLAS_COMPUTE_32F && d.compute != CUBLAS_COMPUTE_32F_FAST_16BF &&
      d.compute != CUBLAS_COMPUTE_32F_FAST_TF32)
    return CUBLAS_STATUS_NOT_SUPPORTED;
  if (d.epilogue != CUBLASLT_EPILOGUE_DEFAULT && d.epilogue != CUBLASLT_EPILOGUE_BIAS)
    return CUBLAS_STATUS_NOT_SUPPORTED;
  // the bias has D's type (the default; the stand-in takes no other)
  if (d.epilogue == CUBLASLT_EPILOGUE_BIAS && (!d.bias || (d.bias_type != -1 && d.bias_type != int32_t(D.type))))
    return CUBLAS_STATUS_INVALID_VALUE;
  const bool ta = d.transa == CUBLAS_OP_T, tb = d.transb == CUBLAS_OP_T;
  s.m = ta ? A.cols : A.rows;
  s.k = ta ? A.rows : A.cols;
  s.n = tb ? B.rows : B.cols;
  const uint64_t kb = tb ? B.cols : B.rows;
  if (kb != s.k || D.rows != s.m || D.cols != s.n || C.rows != s.m || C.cols != s.n)
    return CUBLAS_STATUS_INVALID_VALUE;
  if (s.m == 0 || s.n == 0 || s.k == 0) return CUBLAS_STATUS_INVALID_VALUE;
  return CUBLAS_STATUS_SUCCESS;
}

}  // namespace

cublasStatus_t cublasLtCreate(cublasLtHandle_t* handle) {
  if (!handle) return CUBLAS_STATUS_INVALID_VALUE;
  *handle = new cublasLtContext;
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasLtDestroy(cublasLtHandle_t handle) {
  if (!handle) return CUBLAS_STATUS_NOT_INITIALIZED;
  delete handle;
  return CUBLAS_STATUS_SUCCESS;
}

const char* cublasLtGetStatusName(cublasStatus_t status) {
  switch (status) {
    case CUBLAS_STATUS_SUCCESS: return "CUBLAS_STATUS_SUCCESS";
    case CUBLAS_STATUS_NOT_INITIALIZED: return "CUBLAS_STATUS_NOT_INITIALIZED";
    case CUBLAS_STATUS_ALLOC_FAILED: return "CUBLAS_STATUS_ALLOC_FAILED";
    case CUBLAS_STATUS_INVALID_VALUE: return "CUBLAS_STATUS_INVALID_VALUE";
    case CUBLAS_STATUS_ARCH_MISMATCH: return "CUBLAS_STATUS_ARCH_MISMATCH";
    case CUBLAS_STATUS_MAPPING_ERROR: return "CUBLAS_STATUS_MAPPING_ERROR";
    case CUBLAS_STATUS_EXECUTION_FAILED: return "CUBLAS_STATUS_EXECUTION_FAILED";
    case CUBLAS_STATUS_INTERNAL_ERROR: return "CUBLAS_STATUS_INTERNAL_ERROR";
    case CUBLAS_STATUS_NOT_SUPPORTED: return "CUBLAS_STATUS_NOT_SUPPORTED";
  }
  return "CUBLAS_STATUS_UNKNOWN";
}
const char* cublasLtGetStatusString(cublasStatus_t status) {
  switch (status) {
    case CUBLAS_STATUS_SUCCESS: return "the operation completed successfully";
    case CUBLAS_STATUS_INVALID_VALUE: return "an unsupported value or parameter was passed to the function";
    case CUBLAS_STATUS_NOT_SUPPORTED: return "the functionality requested is not supported";
    default: return cublasLtGetStatusName(status);
  }
}

cublasStatus_t cublasLtMatrixLayoutCreate(cublasLtMatrixLayout_t* layout, cudaDataType type, uint64_t rows,
                                          uint64_t cols, int64_t ld) {
  if (!layout) return CUBLAS_STATUS_INVALID_VALUE;
  *layout = new cublasLtMatrixLayoutOpaque{type, rows, cols, ld};
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasLtMatrixLayoutDestroy(cublasLtMatrixLayout_t layout) {
  delete layout;
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasLtMatrixLayoutSetAttribute(cublasLtMatrixLayout_t layout, cublasLtMatrixLayoutAttribute_t attr,
                                                const void* buf, size_t size) {
  if (!layout) return CUBLAS_STATUS_INVALID_VALUE;
  switch (attr) {
    case CUBLASLT_MATRIX_LAYOUT_TYPE: {
      uint32_t t;
      if (auto st = set_from(t, buf, size); st != CUBLAS_STATUS_SUCCESS) return st;
      layout->type = cudaDataType(t);
      return CUBLAS_STATUS_SUCCESS;
    }
    case CUBLASLT_MATRIX_LAYOUT_ORDER: return set_from(layout->order, buf, size);
    case CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT: return set_from(layout->batch, buf, size);
    case CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET: return set_from(layout->stride, buf, size);
  }
  return CUBLAS_STATUS_INVALID_VALUE;
}

cublasStatus_t cublasLtMatmulDescCreate(cublasLtMatmulDesc_t* desc, cublasComputeType_t compute,
                                        cudaDataType_t scale) {
  if (!desc) return CUBLAS_STATUS_INVALID_VALUE;
  *desc = new cublasLtMatmulDescOpaque{compute, scale};
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasLtMatmulDescDestroy(cublasLtMatmulDesc_t desc) {
  delete desc;
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasLtMatmulDescSetAttribute(cublasLtMatmulDesc_t desc, cublasLtMatmulDescAttributes_t attr,
                                              const void* buf, size_t size) {
  if (!desc) return CUBLAS_STATUS_INVALID_VALUE;
  switch (attr) {
    case CUBLASLT_MATMUL_DESC_TRANSA: return set_from(desc->transa, buf, size);
    case CUBLASLT_MATMUL_DESC_TRANSB: return set_from(desc->transb, buf, size);
    case CUBLASLT_MATMUL_DESC_EPILOGUE: return set_from(desc->epilogue, buf, size);
    case CUBLASLT_MATMUL_DESC_BIAS_POINTER: return set_from(desc->bias, buf, size);
    case CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE: return set_from(desc->bias_type, buf, size);
  }
  return CUBLAS_STATUS_INVALID_VALUE;
}

cublasStatus_t cublasLtMatmulPreferenceCreate(cublasLtMatmulPreference_t* pref) {
  if (!pref) return CUBLAS_STATUS_INVALID_VALUE;
  *pref = new cublasLtMatmulPreferenceOpaque;
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasLtMatmulPreferenceDestroy(cublasLtMatmulPreference_t pref) {
  delete pref;
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasLtMatmulPreferenceSetAttribute(cublasLtMatmulPreference_t pref,
                                                    cublasLtMatmulPreferenceAttributes_t attr, const void* buf,
                                                    size_t size) {
  if (!pref) return CUBLAS_STATUS_INVALID_VALUE;
  switch (attr) {
    case CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES: return set_from(pref->max_workspace, buf, size);
    case CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES: return set_from(pref->min_align[0], buf, size);
    case CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES: return set_from(pref->min_align[1], buf, size);
    case CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES: return set_from(pref->min_align[2], buf, size);
    case CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES: return set_from(pref->min_align[3], buf, size);
  }
  return CUBLAS_STATUS_INVALID_VALUE;
}

cublasStatus_t cublasLtMatmulAlgoGetHeuristic(cublasLtHandle_t handle, cublasLtMatmulDesc_t desc,
                                              cublasLtMatrixLayout_t A, cublasLtMatrixLayout_t B,
                                              cublasLtMatrixLayout_t C, cublasLtMatrixLayout_t D,
                                              cublasLtMatmulPreference_t pref, int requested,
                                              cublasLtMatmulHeuristicResult_t results[], int* returned) {
  if (!handle) return CUBLAS_STATUS_NOT_INITIALIZED;
  if (!desc || !A || !B || !C || !D || !pref || requested < 1 || !results || !returned)
    return CUBLAS_STATUS_INVALID_VALUE;
  Shape s;
  if (auto st = check(*desc, *A, *B, *C, *D, s); st != CUBLAS_STATUS_SUCCESS) return st;
  std::memset(&results[0], 0, sizeof(results[0]));
  results[0].algo.data[0] = 1;  // the stand-in's one algorithm, which needs the stated alignments
  for (int i = 0; i < 4; ++i) results[0].algo.data[1 + i] = pref->min_align[i];
  results[0].state = CUBLAS_STATUS_SUCCESS;
  results[0].wavesCount = 1.0f;
  *returned = 1;
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatmul(cublasLtHandle_t handle, cublasLtMatmulDesc_t desc, const void* alpha, const void* A,
                              cublasLtMatrixLayout_t Adesc, const void* B, cublasLtMatrixLayout_t Bdesc,
                              const void* beta, const void* C, cublasLtMatrixLayout_t Cdesc, void* D,
                              cublasLtMatrixLayout_t Ddesc, const cublasLtMatmulAlgo_t* algo, void* workspace,
                              size_t workspaceSize, cudaStream_t stream) {
  (void)workspace, (void)workspaceSize, (void)stream;
  if (!handle) return CUBLAS_STATUS_NOT_INITIALIZED;
  if (!desc || !Adesc || !Bdesc || !Cdesc || !Ddesc || !alpha || !beta || !A || !B || !D)
    return CUBLAS_STATUS_INVALID_VALUE;
  Shape s;
  if (auto st = check(*desc, *Adesc, *Bdesc, *Cdesc, *Ddesc, s); st != CUBLAS_STATUS_SUCCESS) return st;
  if (!algo || algo->data[0] != 1) return CUBLAS_STATUS_INVALID_VALUE;
  const void* ptrs[4] = {A, B, C, D};
  for (int i = 0; i < 4; ++i)
    if (ptrs[i] && reinterpret_cast<uintptr_t>(ptrs[i]) % algo->data[1 + i]) return CUBLAS_STATUS_INVALID_VALUE;
  if (desc->epilogue == CUBLASLT_EPILOGUE_BIAS && reinterpret_cast<uintptr_t>(desc->bias) % 16)
    return CUBLAS_STATUS_INVALID_VALUE;
  const float al = *static_cast<const float*>(alpha), be = *static_cast<const float*>(beta);
  if (be != 0.0f && !C) return CUBLAS_STATUS_INVALID_VALUE;
  const cudaDataType tab = Adesc->type, tc = Ddesc->type;
  const bool ta = desc->transa == CUBLAS_OP_T, tb = desc->transb == CUBLAS_OP_T;
  const int64_t lda = Adesc->ld, ldb = Bdesc->ld, ldc = Cdesc->ld, ldd = Ddesc->ld;
  // op(A)(i, p) and op(B)(p, j), rounded to the compute type's inputs
  auto opa = [&](uint64_t i, uint64_t p) {
    return round_input(load(A, tab, int64_t(ta ? p + i * lda : i + p * lda)), desc->compute);
  };
  auto opb = [&](uint64_t p, uint64_t j) {
    return round_input(load(B, tab, int64_t(tb ? j + p * ldb : p + j * ldb)), desc->compute);
  };
  std::vector<float> out(s.m * s.n);  // D may alias C: compute everything first
  for (uint64_t j = 0; j < s.n; ++j)
    for (uint64_t i = 0; i < s.m; ++i) {
      double acc = 0;
      for (uint64_t p = 0; p < s.k; ++p) acc += double(opa(i, p)) * double(opb(p, j));
      double v = double(al) * acc;
      if (be != 0.0f) v += double(be) * double(load(C, tc, int64_t(i + j * ldc)));
      if (desc->epilogue == CUBLASLT_EPILOGUE_BIAS) v += double(load(desc->bias, tc, int64_t(i)));
      out[i + j * s.m] = float(v);
    }
  for (uint64_t j = 0; j < s.n; ++j)
    for (uint64_t i = 0; i < s.m; ++i) store(D, tc, int64_t(i + j * ldd), out[i + j * s.m]);
  return CUBLAS_STATUS_SUCCESS;
}
