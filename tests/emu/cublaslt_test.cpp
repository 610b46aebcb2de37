// The emulator's cuBLASLt stand-in (kernels/emu/include/cublasLt.h) against a naive
// column-major product written here from the cublasLtMatmul documentation: D = alpha op(A)
// op(B) + beta C (+ bias(m) on every column), element (r, c) at ptr[r + c * ld]. Checks every
// transpose pair with ld > rows, alpha/beta, D aliasing C, the bias epilogue, bf16 and tf32
// input rounding, the shape errors the library reports, and the stand-in's alignment rule.
#include <cublasLt.h>
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

namespace {

struct Mat {
  int rows, cols, ld;
  std::vector<float> v;
  Mat(int r, int c, int l, std::mt19937& g) : rows(r), cols(c), ld(l), v(size_t(l) * c) {
    std::uniform_real_distribution<float> u(-1.0f, 1.0f);
    for (auto& x : v) x = u(g);
  }
  float at(int r, int c) const { return v[size_t(r) + size_t(c) * ld]; }
};

float round_bits(float x, int drop) {  // round to nearest even, keeping 23 - drop mantissa bits
  uint32_t u;
  std::memcpy(&u, &x, 4);
  u = (u + (1u << (drop - 1)) - 1 + ((u >> drop) & 1u)) & ~((1u << drop) - 1);
  std::memcpy(&x, &u, 4);
  return x;
}

struct Lt {
  cublasLtHandle_t h;
  Lt() { REQUIRE(cublasLtCreate(&h) == CUBLAS_STATUS_SUCCESS); }
  ~Lt() { cublasLtDestroy(h); }
};

cublasLtMatrixLayout_t layout(const Mat& m) {
  cublasLtMatrixLayout_t l;
  REQUIRE(cublasLtMatrixLayoutCreate(&l, CUDA_R_32F, uint64_t(m.rows), uint64_t(m.cols), m.ld) == CUBLAS_STATUS_SUCCESS);
  return l;
}

// A preference with every minimum alignment (A, B, C, D) set to `align` bytes.
cublasLtMatmulPreference_t aligned_pref(uint32_t align) {
  cublasLtMatmulPreference_t pref;
  REQUIRE(cublasLtMatmulPreferenceCreate(&pref) == CUBLAS_STATUS_SUCCESS);
  for (auto attr : {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES,
                    CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES})
    REQUIRE(cublasLtMatmulPreferenceSetAttribute(pref, attr, &align, sizeof align) == CUBLAS_STATUS_SUCCESS);
  return pref;
}

cublasLtMatmulDesc_t desc(cublasComputeType_t ct, bool ta, bool tb, const void* bias) {
  cublasLtMatmulDesc_t d;
  REQUIRE(cublasLtMatmulDescCreate(&d, ct, CUDA_R_32F) == CUBLAS_STATUS_SUCCESS);
  int32_t oa = ta ? CUBLAS_OP_T : CUBLAS_OP_N, ob = tb ? CUBLAS_OP_T : CUBLAS_OP_N;
  REQUIRE(cublasLtMatmulDescSetAttribute(d, CUBLASLT_MATMUL_DESC_TRANSA, &oa, sizeof oa) == CUBLAS_STATUS_SUCCESS);
  REQUIRE(cublasLtMatmulDescSetAttribute(d, CUBLASLT_MATMUL_DESC_TRANSB, &ob, sizeof ob) == CUBLAS_STATUS_SUCCESS);
  if (bias) {
    uint32_t e = CUBLASLT_EPILOGUE_BIAS;
    REQUIRE(cublasLtMatmulDescSetAttribute(d, CUBLASLT_MATMUL_DESC_EPILOGUE, &e, sizeof e) == CUBLAS_STATUS_SUCCESS);
    REQUIRE(cublasLtMatmulDescSetAttribute(d, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof bias) ==
            CUBLAS_STATUS_SUCCESS);
  }
  return d;
}

// D = alpha op(A) op(B) + beta C (+ bias); D may be C. The algorithm comes from the heuristic
// with every minimum alignment set to `align` bytes (host vectors are 16-byte aligned).
cublasStatus_t matmul(const Lt& lt, cublasComputeType_t ct, bool ta, bool tb, float alpha, const Mat& A, const Mat& B,
                      float beta, const Mat& C, Mat& D, const float* bias, uint32_t align = 4) {
  auto d = desc(ct, ta, tb, bias);
  auto la = layout(A), lb = layout(B), lc = layout(C), ld = layout(D);
  cublasLtMatmulPreference_t pref = aligned_pref(align);
  cublasLtMatmulHeuristicResult_t res{};
  int found = 0;
  cublasStatus_t st = cublasLtMatmulAlgoGetHeuristic(lt.h, d, la, lb, lc, ld, pref, 1, &res, &found);
  if (st == CUBLAS_STATUS_SUCCESS)
    st = cublasLtMatmul(lt.h, d, &alpha, A.v.data(), la, B.v.data(), lb, &beta, C.v.data(), lc, D.v.data(), ld,
                        &res.algo, nullptr, 0, 0);
  cublasLtMatmulPreferenceDestroy(pref);
  cublasLtMatrixLayoutDestroy(la), cublasLtMatrixLayoutDestroy(lb), cublasLtMatrixLayoutDestroy(lc),
      cublasLtMatrixLayoutDestroy(ld), cublasLtMatmulDescDestroy(d);
  return st;
}

}  // namespace

TEST_CASE("emu cuBLASLt stand-in: column-major D = alpha op(A) op(B) + beta C + bias, every transpose pair") {
  Lt lt;
  std::mt19937 g(5);
  const int m = 5, n = 7, k = 3;
  for (bool ta : {false, true})
    for (bool tb : {false, true})
      for (bool bias : {false, true}) {
        CAPTURE(ta); CAPTURE(tb); CAPTURE(bias);
        Mat A(ta ? k : m, ta ? m : k, (ta ? k : m) + 2, g), B(tb ? n : k, tb ? k : n, (tb ? n : k) + 1, g);
        Mat C(m, n, m + 3, g), D(m, n, m + 3, g);
        std::vector<float> bv(m);
        for (int i = 0; i < m; ++i) bv[size_t(i)] = float(i) - 2.5f;
        const Mat C0 = C;
        Mat& out = bias ? C : D;  // with a bias, D aliases C
        REQUIRE(matmul(lt, CUBLAS_COMPUTE_32F, ta, tb, 0.5f, A, B, 2.0f, C, out, bias ? bv.data() : nullptr) ==
                CUBLAS_STATUS_SUCCESS);
        for (int i = 0; i < m; ++i)
          for (int j = 0; j < n; ++j) {
            double s = 0;
            for (int p = 0; p < k; ++p) s += double(ta ? A.at(p, i) : A.at(i, p)) * (tb ? B.at(j, p) : B.at(p, j));
            const double want = 0.5 * s + 2.0 * C0.at(i, j) + (bias ? bv[size_t(i)] : 0.0);
            CHECK(out.at(i, j) == doctest::Approx(want).epsilon(1e-6));
          }
        // the padding rows between m and ld are not written
        for (int j = 0; j < n; ++j)
          for (int r = m; r < out.ld; ++r) CHECK(out.at(r, j) == (bias ? C0.at(r, j) : D.at(r, j)));
      }
}

TEST_CASE("emu cuBLASLt stand-in: FAST_16BF and FAST_TF32 round the inputs, COMPUTE_32F does not") {
  Lt lt;
  std::mt19937 g(9);
  const int m = 4, n = 6, k = 33;
  Mat A(m, k, m, g), B(k, n, k, g), C(m, n, m, g);
  for (auto [ct, drop] : {std::pair{CUBLAS_COMPUTE_32F, 0}, {CUBLAS_COMPUTE_32F_FAST_16BF, 16},
                          {CUBLAS_COMPUTE_32F_FAST_TF32, 13}}) {
    CAPTURE(int(ct));
    Mat D(m, n, m, g);
    REQUIRE(matmul(lt, ct, false, false, 1.0f, A, B, 0.0f, C, D, nullptr) == CUBLAS_STATUS_SUCCESS);
    for (int i = 0; i < m; ++i)
      for (int j = 0; j < n; ++j) {
        double s = 0;
        for (int p = 0; p < k; ++p) {
          const float a = drop ? round_bits(A.at(i, p), drop) : A.at(i, p);
          const float b = drop ? round_bits(B.at(p, j), drop) : B.at(p, j);
          s += double(a) * b;
        }
        CHECK(D.at(i, j) == doctest::Approx(s).epsilon(1e-6));
      }
  }
  // a bf16 rounding by hand: 1 + 2^-8 is a tie between 1 and 1 + 2^-7 and goes to even (1)
  CHECK(round_bits(1.0f + 1.0f / 256, 16) == 1.0f);
  CHECK(round_bits(1.0f + 3.0f / 256, 16) == 1.0f + 4.0f / 256);
}

TEST_CASE("emu cuBLASLt stand-in: shapes that do not fit are CUBLAS_STATUS_INVALID_VALUE") {
  Lt lt;
  std::mt19937 g(1);
  Mat A(4, 3, 4, g), B(3, 5, 3, g), C(4, 5, 4, g), D(4, 5, 4, g);
  CHECK(matmul(lt, CUBLAS_COMPUTE_32F, false, false, 1, A, B, 0, C, D, nullptr) == CUBLAS_STATUS_SUCCESS);
  Mat Bk(2, 5, 2, g);  // k mismatch
  CHECK(matmul(lt, CUBLAS_COMPUTE_32F, false, false, 1, A, Bk, 0, C, D, nullptr) == CUBLAS_STATUS_INVALID_VALUE);
  CHECK(matmul(lt, CUBLAS_COMPUTE_32F, true, false, 1, A, B, 0, C, D, nullptr) == CUBLAS_STATUS_INVALID_VALUE);
  Mat Dn(4, 6, 4, g);  // n mismatch
  CHECK(matmul(lt, CUBLAS_COMPUTE_32F, false, false, 1, A, B, 0, C, Dn, nullptr) == CUBLAS_STATUS_INVALID_VALUE);
  Mat Al(4, 3, 4, g);
  Al.ld = 3;  // ld < rows
  CHECK(matmul(lt, CUBLAS_COMPUTE_32F, false, false, 1, Al, B, 0, C, D, nullptr) == CUBLAS_STATUS_INVALID_VALUE);
  const char* name = cublasLtGetStatusName(CUBLAS_STATUS_INVALID_VALUE);
  CHECK(std::string(name) == "CUBLAS_STATUS_INVALID_VALUE");
}

TEST_CASE("emu cuBLASLt stand-in: pointers less aligned than the algorithm was chosen for are refused") {
  Lt lt;
  std::mt19937 g(2);
  Mat A(4, 3, 4, g), B(3, 5, 3, g), C(4, 5, 4, g), D(4, 5, 4, g);
  // the documented default preference is 256 bytes, which a std::vector does not promise
  Mat A1(4, 3, 4, g);
  A1.v.insert(A1.v.begin(), 0.0f);  // data() + 1 is 4 bytes off any 8-byte boundary
  auto d = desc(CUBLAS_COMPUTE_32F, false, false, nullptr);
  auto la = layout(A), lb = layout(B), lc = layout(C);
  cublasLtMatmulPreference_t pref = aligned_pref(16);
  cublasLtMatmulHeuristicResult_t res{};
  int found = 0;
  REQUIRE(cublasLtMatmulAlgoGetHeuristic(lt.h, d, la, lb, lc, lc, pref, 1, &res, &found) == CUBLAS_STATUS_SUCCESS);
  const float one = 1, zero = 0;
  CHECK(cublasLtMatmul(lt.h, d, &one, A.v.data(), la, B.v.data(), lb, &zero, C.v.data(), lc, D.v.data(), lc, &res.algo,
                       nullptr, 0, 0) == CUBLAS_STATUS_SUCCESS);
  const float* off = A1.v.data() + 1;
  if (reinterpret_cast<uintptr_t>(off) % 16)
    CHECK(cublasLtMatmul(lt.h, d, &one, off, la, B.v.data(), lb, &zero, C.v.data(), lc, D.v.data(), lc, &res.algo,
                         nullptr, 0, 0) == CUBLAS_STATUS_INVALID_VALUE);
  // a bias that is not 16-byte aligned is refused by the epilogue
  std::vector<float> bv(8, 1.0f);
  const float* bias = bv.data() + (reinterpret_cast<uintptr_t>(bv.data()) % 16 ? 0 : 1);
  CHECK(matmul(lt, CUBLAS_COMPUTE_32F, false, false, 1, A, B, 0, C, D, bias) == CUBLAS_STATUS_INVALID_VALUE);
  cublasLtMatmulPreferenceDestroy(pref);
  cublasLtMatrixLayoutDestroy(la), cublasLtMatrixLayoutDestroy(lb), cublasLtMatrixLayoutDestroy(lc);
  cublasLtMatmulDescDestroy(d);
}

namespace {

uint16_t bf16_bits(float x) {  // round to nearest even, the top 16 bits
  uint32_t u;
  const float r = round_bits(x, 16);
  std::memcpy(&u, &r, 4);
  return uint16_t(u >> 16);
}
float from_bits(uint16_t h) {
  const uint32_t u = uint32_t(h) << 16;
  float x;
  std::memcpy(&x, &u, 4);
  return x;
}

// One call with explicit types: every minimum alignment 2 bytes.
cublasStatus_t typed_matmul(const Lt& lt, cublasComputeType_t ct, cudaDataType tab, cudaDataType tc, bool tb, int m,
                            int n, int k, const void* A, const void* B, float beta, void* C, const void* bias) {
  cublasLtMatmulDesc_t d = desc(ct, false, tb, bias);
  cublasLtMatrixLayout_t la, lb, lc;
  REQUIRE(cublasLtMatrixLayoutCreate(&la, tab, uint64_t(m), uint64_t(k), m) == CUBLAS_STATUS_SUCCESS);
  REQUIRE(cublasLtMatrixLayoutCreate(&lb, tab, uint64_t(tb ? n : k), uint64_t(tb ? k : n), tb ? n : k) ==
          CUBLAS_STATUS_SUCCESS);
  REQUIRE(cublasLtMatrixLayoutCreate(&lc, tc, uint64_t(m), uint64_t(n), m) == CUBLAS_STATUS_SUCCESS);
  cublasLtMatmulPreference_t pref = aligned_pref(2);
  cublasLtMatmulHeuristicResult_t res{};
  int found = 0;
  cublasStatus_t st = cublasLtMatmulAlgoGetHeuristic(lt.h, d, la, lb, lc, lc, pref, 1, &res, &found);
  const float one = 1.0f;
  if (st == CUBLAS_STATUS_SUCCESS)
    st = cublasLtMatmul(lt.h, d, &one, A, la, B, lb, &beta, C, lc, C, lc, &res.algo, nullptr, 0, 0);
  cublasLtMatmulPreferenceDestroy(pref);
  cublasLtMatrixLayoutDestroy(la), cublasLtMatrixLayoutDestroy(lb), cublasLtMatrixLayoutDestroy(lc);
  cublasLtMatmulDescDestroy(d);
  return st;
}

}  // namespace

TEST_CASE("emu cuBLASLt stand-in: bf16 A and B with bf16 or fp32 C/D, and the combinations it refuses") {
  Lt lt;
  std::mt19937 g(11);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  const int m = 6, n = 5, k = 19;
  std::vector<uint16_t> A(size_t(m) * k), B(size_t(n) * k), bias(static_cast<size_t>(m));
  for (auto& x : A) x = bf16_bits(u(g));
  for (auto& x : B) x = bf16_bits(u(g));
  for (auto& x : bias) x = bf16_bits(u(g));
  std::vector<float> C0(size_t(m) * n);
  for (auto& x : C0) x = u(g);
  // want(i, j) = sum_p A(i, p) B^T(p, j) (+ beta C) (+ bias): B stored (n, k), transposed
  auto want = [&](int i, int j, double beta, const std::vector<float>& c, bool with_bias) {
    double s = 0;
    for (int p = 0; p < k; ++p) s += double(from_bits(A[size_t(i + p * m)])) * from_bits(B[size_t(j + p * n)]);
    return s + beta * c[size_t(i + j * m)] + (with_bias ? from_bits(bias[size_t(i)]) : 0.0);
  };
  SUBCASE("fp32 C/D, beta 1: the exact products accumulate into fp32") {
    std::vector<float> C = C0;
    REQUIRE(typed_matmul(lt, CUBLAS_COMPUTE_32F, CUDA_R_16BF, CUDA_R_32F, true, m, n, k, A.data(), B.data(), 1.0f,
                         C.data(), nullptr) == CUBLAS_STATUS_SUCCESS);
    for (int i = 0; i < m; ++i)
      for (int j = 0; j < n; ++j) CHECK(C[size_t(i + j * m)] == doctest::Approx(want(i, j, 1, C0, false)).epsilon(1e-6));
  }
  SUBCASE("bf16 C/D with a bf16 bias: rounded once, to nearest even") {
    std::vector<uint16_t> C(size_t(m) * n);
    std::vector<float> c0(C.size());
    for (size_t i = 0; i < C.size(); ++i) c0[i] = from_bits(C[i] = bf16_bits(C0[i]));
    REQUIRE(typed_matmul(lt, CUBLAS_COMPUTE_32F, CUDA_R_16BF, CUDA_R_16BF, true, m, n, k, A.data(), B.data(), 1.0f,
                         C.data(), bias.data()) == CUBLAS_STATUS_SUCCESS);
    for (int i = 0; i < m; ++i)
      for (int j = 0; j < n; ++j) {
        const double w = want(i, j, 1, c0, true);
        const float got = from_bits(C[size_t(i + j * m)]);
        CHECK(got == doctest::Approx(w).epsilon(1.0 / 256));  // half a bf16 ulp is 2^-9 relative
        CHECK(C[size_t(i + j * m)] == bf16_bits(float(w)));
      }
  }
  SUBCASE("refused: fp32 inputs with a bf16 result, bf16 inputs under FAST_16BF") {
    std::vector<float> Af(A.size(), 0.5f), Cf(C0);
    std::vector<uint16_t> Cb(C0.size());
    CHECK(typed_matmul(lt, CUBLAS_COMPUTE_32F, CUDA_R_32F, CUDA_R_16BF, true, m, n, k, Af.data(), Af.data(), 0.0f,
                       Cb.data(), nullptr) == CUBLAS_STATUS_NOT_SUPPORTED);
    CHECK(typed_matmul(lt, CUBLAS_COMPUTE_32F_FAST_16BF, CUDA_R_16BF, CUDA_R_32F, true, m, n, k, A.data(), B.data(),
                       0.0f, Cf.data(), nullptr) == CUBLAS_STATUS_NOT_SUPPORTED);
  }
}
