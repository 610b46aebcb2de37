// The NCCL communicator on real GPUs (needs one; see docs/comm.md). Not part of `make test`:
//   make test-comm-gpu                                   one rank on GPU 0
//   mpirun -np 2 build/tests/comm_nccl_tests             one rank per GPU
// Expected values are the closed forms of tests/comm/comm_test.cpp: rank r contributes
// (r + 1) * a_i + b_i, so the sum is a_i * S(S+1)/2 + b_i * S, exact in fp32.
// (.cc, not _test.cpp: the CPU suite tests/comm must not pick it up.)
#include <doctest/doctest.h>
#include <cuda_runtime.h>

#include <cmath>
#include <vector>

#include "engine/comm/comm_nccl.h"

using namespace mr;

namespace {

comm::Communicator& world() {
  static auto c = comm::make_nccl_communicator();
  return *c;
}

template <class T>
struct Dev {
  explicit Dev(const std::vector<T>& h) : n(h.size()) {
    REQUIRE(cudaMalloc(&p, sizeof(T) * (n ? n : 1)) == cudaSuccess);
    REQUIRE(cudaMemcpy(p, h.data(), sizeof(T) * n, cudaMemcpyHostToDevice) == cudaSuccess);
  }
  ~Dev() { cudaFree(p); }
  std::vector<T> host() const {
    std::vector<T> h(n);
    REQUIRE(cudaMemcpy(h.data(), p, sizeof(T) * n, cudaMemcpyDeviceToHost) == cudaSuccess);
    return h;
  }
  T* p = nullptr;
  size_t n;
};

template <class T>
void check_sum(int64_t n) {
  auto& c = world();
  const int r = c.rank(), S = c.size();
  std::vector<T> h(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) h[size_t(i)] = T(r + 1) * T(i % 1000) + T(0.25);
  Dev<T> d(h);
  c.allreduce_sum(d.p, n);
  auto got = d.host();
  int64_t bad = 0;
  for (int64_t i = 0; i < n; ++i) bad += got[size_t(i)] != T(i % 1000) * T(S * (S + 1) / 2) + T(0.25) * T(S);
  CHECK(bad == 0);
}

}  // namespace

TEST_CASE("nccl: all-reduce sum on device buffers, fp32 and fp64, 1 to 12 MiB") {
  CHECK(world().name() == "nccl");
  for (int64_t n : {int64_t(1), int64_t(7), int64_t(1025), int64_t(3) << 20}) {
    check_sum<float>(n);
    check_sum<double>(n);
  }
}

TEST_CASE("nccl: average and broadcast from the last rank; zero length") {
  auto& c = world();
  const int r = c.rank(), S = c.size();
  std::vector<float> h(65);
  for (size_t i = 0; i < h.size(); ++i) h[i] = float(2 * r) + float(i);
  Dev<float> d(h);
  c.allreduce_avg(d.p, int64_t(h.size()));
  auto got = d.host();
  for (size_t i = 0; i < h.size(); ++i) CHECK(got[i] == doctest::Approx(double(S - 1) + double(i)).epsilon(1e-6));
  std::vector<double> b(100, r == S - 1 ? 0.0 : NAN);
  if (r == S - 1)
    for (size_t i = 0; i < b.size(); ++i) b[i] = 1.0 / 3.0 + double(i);
  Dev<double> db(b);
  c.broadcast(db.p, int64_t(b.size()), S - 1);
  auto gb = db.host();
  int bad = 0;
  for (size_t i = 0; i < gb.size(); ++i) bad += gb[i] != 1.0 / 3.0 + double(i);
  CHECK(bad == 0);
  c.allreduce_sum(static_cast<float*>(nullptr), 0);
  c.barrier();
}
