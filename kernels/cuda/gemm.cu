// cuBLASLt behind kernels/cuda/gemm.cuh. Row-major C = op(A) op(B) is the column-major
// C^T = op(B)^T op(A)^T, so cuBLASLt gets (m, n, k) = (N, M, K) with B in its A slot and A in
// its B slot; a row-major (r, c) buffer is the column-major (c, r) matrix with ld c. One plan
// (descriptors and the heuristic's algorithm) per shape, transposes, bias and compute type,
// made on first use and kept; one 32 MiB workspace. Not thread-safe: one host thread drives
// the CUDA backend.
#include <cublasLt.h>

#include <map>
#include <tuple>

#include "kernels/cuda/common.cuh"
#include "kernels/cuda/cuda_ops.h"
#include "kernels/cuda/gemm.cuh"

namespace mr::cuda {

std::string cublas_status_text(int status) {
  const auto st = cublasStatus_t(status);
  return std::string(cublasLtGetStatusName(st)) + " (" + cublasLtGetStatusString(st) + ")";
}

namespace {

constexpr size_t kWorkspace = size_t(32) << 20;

struct Plan {
  cublasLtMatmulDesc_t desc = nullptr;
  cublasLtMatrixLayout_t a = nullptr, b = nullptr, c = nullptr;
  cublasLtMatmulAlgo_t algo{};
};

struct Lt {
  cublasLtHandle_t handle = nullptr;
  void* workspace = nullptr;
  std::map<std::tuple<int, int, int, bool, bool, bool, int>, Plan> plans;
  Lt() {
    CUBLAS_CHECK(cublasLtCreate(&handle));
    CUDA_CHECK(cudaMalloc(&workspace, kWorkspace));
  }
};
Lt& lt() {
  static Lt* l = new Lt;  // never destroyed: the CUDA context may be gone at exit
  return *l;
}

// The cuBLASLt plan for column-major D(m, n) = op(A)(m, k) op(B)(k, n) (+ bias(m)), where
// A is stored (m, k) or, transposed, (k, m), and likewise B.
Plan& plan_for(int m, int n, int k, bool ta, bool tb, bool bias, cublasComputeType_t compute) {
  Lt& l = lt();
  auto key = std::make_tuple(m, n, k, ta, tb, bias, int(compute));
  auto it = l.plans.find(key);
  if (it != l.plans.end()) return it->second;
  Plan p;
  CUBLAS_CHECK(cublasLtMatmulDescCreate(&p.desc, compute, CUDA_R_32F));
  const int32_t opa = ta ? CUBLAS_OP_T : CUBLAS_OP_N, opb = tb ? CUBLAS_OP_T : CUBLAS_OP_N;
  CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(p.desc, CUBLASLT_MATMUL_DESC_TRANSA, &opa, sizeof opa));
  CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(p.desc, CUBLASLT_MATMUL_DESC_TRANSB, &opb, sizeof opb));
  const uint32_t epi = bias ? CUBLASLT_EPILOGUE_BIAS : CUBLASLT_EPILOGUE_DEFAULT;
  CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(p.desc, CUBLASLT_MATMUL_DESC_EPILOGUE, &epi, sizeof epi));
  if (bias) {  // a placeholder until each call sets its own pointer; the heuristic wants one
    const void* ph = l.workspace;
    CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(p.desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &ph, sizeof ph));
  }
  CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&p.a, CUDA_R_32F, ta ? k : m, ta ? m : k, ta ? k : m));
  CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&p.b, CUDA_R_32F, tb ? n : k, tb ? k : n, tb ? n : k));
  CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&p.c, CUDA_R_32F, m, n, m));
  cublasLtMatmulPreference_t pref;
  CUBLAS_CHECK(cublasLtMatmulPreferenceCreate(&pref));
  const uint64_t ws = kWorkspace;
  CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof ws));
  cublasLtMatmulHeuristicResult_t res{};
  int found = 0;
  CUBLAS_CHECK(cublasLtMatmulAlgoGetHeuristic(l.handle, p.desc, p.a, p.b, p.c, p.c, pref, 1, &res, &found));
  CUBLAS_CHECK(cublasLtMatmulPreferenceDestroy(pref));
  if (found < 1)
    throw_error(__FILE__, __LINE__, "cublasLtMatmulAlgoGetHeuristic",
                "no algorithm for m=" + std::to_string(m) + " n=" + std::to_string(n) + " k=" + std::to_string(k));
  p.algo = res.algo;
  return l.plans.emplace(key, p).first->second;
}

}  // namespace

void gemm(float* C, const float* A, bool ta, const float* B, bool tb, const float* bias, int M, int N, int K,
          bool acc) {
  if (M == 0 || N == 0) return;
  if (K == 0)
    throw_error(__FILE__, __LINE__, "gemm", "inner dimension 0 (M=" + std::to_string(M) + ", N=" + std::to_string(N) + ")");
  const cublasComputeType_t compute = math() == Math::bf16 ? CUBLAS_COMPUTE_32F_FAST_16BF : CUBLAS_COMPUTE_32F;
  // column-major C^T(N, M) = op(B)^T op(A)^T: cuBLASLt's A slot takes B (transposed iff tb),
  // its B slot takes A (transposed iff ta)
  Plan& p = plan_for(N, M, K, tb, ta, bias != nullptr, compute);
  if (bias) CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(p.desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof bias));
  const float one = 1.0f, beta = acc ? 1.0f : 0.0f;
  CUBLAS_CHECK(cublasLtMatmul(lt().handle, p.desc, &one, B, p.a, A, p.b, &beta, C, p.c, C, p.c, &p.algo,
                              lt().workspace, kWorkspace, 0));
}

}  // namespace mr::cuda
