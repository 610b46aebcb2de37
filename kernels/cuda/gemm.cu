// cuBLASLt behind kernels/cuda/gemm.cuh. Row-major C = op(A) op(B) is the column-major
// C^T = op(B)^T op(A)^T, so cuBLASLt gets (m, n, k) = (N, M, K) with B in its A slot and A in
// its B slot; a row-major (r, c) buffer is the column-major (c, r) matrix with ld c. One plan
// (descriptors and the heuristic's algorithm) per shape, transposes, bias, compute type and
// pointer alignments and data types, made on first use and kept (the 1024 most recently used);
// one 32 MiB workspace.
// Types: fp32 throughout, or (bf16 storage) A and B CUDA_R_16BF with C/D CUDA_R_16BF or
// CUDA_R_32F, accumulated in fp32 (both listed as supported by cublasLtMatmul).
// Alignment: the heuristic assumes 256-byte aligned matrices unless told otherwise, and our
// parameters sit in one flat buffer at any 4-byte offset, so each plan states the alignment of
// the pointers it serves (MIN_ALIGNMENT_*). A bias that is not 16-byte aligned is copied to
// aligned scratch for the epilogue. Not thread-safe: one host thread drives
// the CUDA backend.
#include <cublasLt.h>

#include <map>
#include <tuple>

#include "kernels/cuda/bf16.cuh"
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
constexpr size_t kDefaultPlanLimit = 1024;

struct Plan {
  cublasLtMatmulDesc_t desc = nullptr;
  cublasLtMatrixLayout_t a = nullptr, b = nullptr, c = nullptr;
  uint64_t last_use = 0;  // Lt::clock when the plan last served a call
  cublasLtMatmulAlgo_t algo{};
};

struct Lt {
  cublasLtHandle_t handle = nullptr;
  void* workspace = nullptr;
  std::map<std::tuple<int, int, int, bool, bool, bool, int, uint32_t, uint32_t, uint32_t, int, int>, Plan> plans;
  uint64_t clock = 0, misses = 0;
  size_t limit = kDefaultPlanLimit;
  Lt() {
    CUBLAS_CHECK(cublasLtCreate(&handle));
    CUDA_CHECK(cudaMalloc(&workspace, kWorkspace));
  }
};
Lt& lt() {
  static Lt* l = new Lt;  // never destroyed: the CUDA context may be gone at exit
  return *l;
}

// Destroys a plan's descriptors (those that were made; statuses ignored: this also runs on the
// error path of plan_for).
void destroy(Plan& p) {
  if (p.a) cublasLtMatrixLayoutDestroy(p.a);
  if (p.b) cublasLtMatrixLayoutDestroy(p.b);
  if (p.c) cublasLtMatrixLayoutDestroy(p.c);
  if (p.desc) cublasLtMatmulDescDestroy(p.desc);
  p = Plan{};
}

// Drops the least recently used plans until at most n are left. Sequence lengths vary from
// batch to batch, and every new row count B*T makes new plans; the cap keeps a long run's
// cache (host memory, a heuristic query per miss) bounded. A linear scan per eviction: misses
// are rare once the shapes of a run have been seen.
void evict_to(Lt& l, size_t n) {
  while (l.plans.size() > n) {
    auto oldest = l.plans.begin();
    for (auto it = l.plans.begin(); it != l.plans.end(); ++it)
      if (it->second.last_use < oldest->second.last_use) oldest = it;
    destroy(oldest->second);
    l.plans.erase(oldest);
  }
}

void build(Plan& p, Lt& l, int m, int n, int k, bool ta, bool tb, bool bias, cublasComputeType_t compute,
           uint32_t al_a, uint32_t al_b, uint32_t al_c, cudaDataType tab, cudaDataType tc);

// The cuBLASLt plan for column-major D(m, n) = op(A)(m, k) op(B)(k, n) (+ bias(m)), where
// A is stored (m, k) or, transposed, (k, m), and likewise B.
// al_a, al_b, al_c: the alignments (bytes) of the pointers in cuBLASLt's A, B and C/D slots.
// tab: the type of A and B, tc: the type of C and D (and of the bias).
Plan& plan_for(int m, int n, int k, bool ta, bool tb, bool bias, cublasComputeType_t compute, uint32_t al_a,
               uint32_t al_b, uint32_t al_c, cudaDataType tab, cudaDataType tc) {
  Lt& l = lt();
  auto key = std::make_tuple(m, n, k, ta, tb, bias, int(compute), al_a, al_b, al_c, int(tab), int(tc));
  auto it = l.plans.find(key);
  if (it != l.plans.end()) {
    it->second.last_use = ++l.clock;
    return it->second;
  }
  ++l.misses;
  Plan p;
  try {
    build(p, l, m, n, k, ta, tb, bias, compute, al_a, al_b, al_c, tab, tc);
  } catch (...) {
    destroy(p);  // a plan that could not be made leaves nothing behind, and evicts nothing
    throw;
  }
  p.last_use = ++l.clock;
  evict_to(l, l.limit - 1);
  return l.plans.emplace(key, p).first->second;
}

void build(Plan& p, Lt& l, int m, int n, int k, bool ta, bool tb, bool bias, cublasComputeType_t compute,
           uint32_t al_a, uint32_t al_b, uint32_t al_c, cudaDataType tab, cudaDataType tc) {
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
  CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&p.a, tab, ta ? k : m, ta ? m : k, ta ? k : m));
  CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&p.b, tab, tb ? n : k, tb ? k : n, tb ? n : k));
  CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&p.c, tc, m, n, m));
  cublasLtMatmulPreference_t pref;
  CUBLAS_CHECK(cublasLtMatmulPreferenceCreate(&pref));
  const uint64_t ws = kWorkspace;
  CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof ws));
  CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, &al_a, sizeof al_a));
  CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, &al_b, sizeof al_b));
  CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, &al_c, sizeof al_c));
  CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, &al_c, sizeof al_c));
  cublasLtMatmulHeuristicResult_t res{};
  int found = 0;
  CUBLAS_CHECK(cublasLtMatmulAlgoGetHeuristic(l.handle, p.desc, p.a, p.b, p.c, p.c, pref, 1, &res, &found));
  CUBLAS_CHECK(cublasLtMatmulPreferenceDestroy(pref));
  if (found < 1)
    throw_error(__FILE__, __LINE__, "cublasLtMatmulAlgoGetHeuristic",
                "no algorithm for m=" + std::to_string(m) + " n=" + std::to_string(n) + " k=" + std::to_string(k));
  p.algo = res.algo;
}

// The largest power of two up to 256 that divides the address.
uint32_t alignment(const void* p) {
  const auto a = reinterpret_cast<uintptr_t>(p);
  uint32_t al = 256;
  while (al > 1 && a % al) al >>= 1;
  return al;
}

constexpr uint32_t kBiasAlign = 16;  // the epilogue's bias: at least this aligned

template <class T> constexpr cudaDataType kType = CUDA_R_32F;
template <> constexpr cudaDataType kType<bf16_t> = CUDA_R_16BF;

// C (type TC) = or += op(A) op(B) (+ bias, type TC), A and B of type TAB.
template <class TC, class TAB>
void run(TC* C, const TAB* A, bool ta, const TAB* B, bool tb, const TC* bias, int M, int N, int K, bool acc,
         cublasComputeType_t compute) {
  if (M == 0 || N == 0) return;
  if (K == 0)
    throw_error(__FILE__, __LINE__, "gemm", "inner dimension 0 (M=" + std::to_string(M) + ", N=" + std::to_string(N) + ")");
  // column-major C^T(N, M) = op(B)^T op(A)^T: cuBLASLt's A slot takes B (transposed iff tb),
  // its B slot takes A (transposed iff ta)
  // The epilogue needs a 16-byte aligned bias, and parameters sit at any offset of the flat
  // buffer: a misaligned bias is first copied to scratch (slot 3, cudaMalloc-aligned), so the
  // result is still rounded once, in the epilogue.
  if (bias && alignment(bias) < kBiasAlign) {
    void* aligned = scratch(size_t(N) * sizeof(TC), 3);
    CUDA_CHECK(cudaMemcpyAsync(aligned, bias, size_t(N) * sizeof(TC), cudaMemcpyDeviceToDevice, 0));
    bias = static_cast<const TC*>(aligned);
  }
  Plan& p = plan_for(N, M, K, tb, ta, bias != nullptr, compute, alignment(B), alignment(A), alignment(C), kType<TAB>,
                     kType<TC>);
  if (bias) CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(p.desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof bias));
  const float one = 1.0f, beta = acc ? 1.0f : 0.0f;
  CUBLAS_CHECK(cublasLtMatmul(lt().handle, p.desc, &one, B, p.a, A, p.b, &beta, C, p.c, C, p.c, &p.algo,
                              lt().workspace, kWorkspace, 0));
}

}  // namespace

size_t gemm_plan_count() { return lt().plans.size(); }
uint64_t gemm_plan_misses() { return lt().misses; }

void set_gemm_plan_limit(size_t n) {
  if (n < 1) throw_error(__FILE__, __LINE__, "set_gemm_plan_limit", "the limit must be at least 1");
  lt().limit = n;
  evict_to(lt(), n);
}

void gemm(float* C, const float* A, bool ta, const float* B, bool tb, const float* bias, int M, int N, int K,
          bool acc, Math m) {
  const cublasComputeType_t compute = m == Math::bf16   ? CUBLAS_COMPUTE_32F_FAST_16BF
                                      : m == Math::tf32 ? CUBLAS_COMPUTE_32F_FAST_TF32
                                                        : CUBLAS_COMPUTE_32F;
  run(C, A, ta, B, tb, bias, M, N, K, acc, compute);
}

void gemm(bf16_t* C, const bf16_t* A, bool ta, const bf16_t* B, bool tb, const bf16_t* bias, int M, int N, int K,
          bool acc) {
  run(C, A, ta, B, tb, bias, M, N, K, acc, CUBLAS_COMPUTE_32F);
}

void gemm(float* C, const bf16_t* A, bool ta, const bf16_t* B, bool tb, int M, int N, int K, bool acc) {
  run(C, A, ta, B, tb, static_cast<const float*>(nullptr), M, N, K, acc, CUBLAS_COMPUTE_32F);
}

}  // namespace mr::cuda
