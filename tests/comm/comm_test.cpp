// Communicators (engine/comm). Run plainly these cases check the single-process backend; the
// multi-rank driver (tools/mpi_test.sh) runs this binary again under `mpirun -np 2` and `-np 3`,
// where make_communicator("auto") is MPI. Every expected value is a closed form in the rank r
// and the size S, written out by hand: rank r contributes (r + 1) * a_i + b_i, so the sum is
// a_i * S(S+1)/2 + b_i * S. The values are small integers and quarters, exact in fp32.
#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <cstdlib>
#include <string>
#include <vector>

#include "engine/comm/comm.h"

using namespace mr;

namespace {

std::unique_ptr<comm::Communicator> world() { return comm::make_communicator("auto"); }

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

template <class T>
void check_sum(comm::Communicator& c, int64_t n) {
  const int r = c.rank(), S = c.size();
  std::vector<T> x(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) x[size_t(i)] = T(r + 1) * T(i % 1000) + T(0.25);
  c.allreduce_sum(x.data(), n);
  int64_t bad = 0;
  for (int64_t i = 0; i < n; ++i) bad += x[size_t(i)] != T(i % 1000) * T(S * (S + 1) / 2) + T(0.25) * T(S);
  CHECK(bad == 0);
}

}  // namespace

TEST_CASE("communicator: backend, rank and size") {
  auto c = world();
  CHECK(c->size() >= 1);
  CHECK(c->rank() >= 0);
  CHECK(c->rank() < c->size());
  if (comm::launched_by_mpirun()) {
    // the driver starts this binary under mpirun: auto must pick MPI with the launcher's size
    CHECK(c->name() == "mpi");
    const char* s = std::getenv("OMPI_COMM_WORLD_SIZE");
    if (s) CHECK(c->size() == std::atoi(s));
  } else {
    CHECK(c->name() == "single");
    CHECK(c->size() == 1);
  }
  auto one = comm::make_communicator("single");
  CHECK(one->rank() == 0);
  CHECK(one->size() == 1);
}

TEST_CASE("communicator: all-reduce sum, fp32 and fp64, short, awkward and long buffers") {
  auto c = world();
  for (int64_t n : {1, 7, 33, 1025}) {
    check_sum<float>(*c, n);
    check_sum<double>(*c, n);
  }
  check_sum<float>(*c, int64_t(3) << 20);  // 12 MiB: several MPI segments / pipeline chunks
}

TEST_CASE("communicator: all-reduce average") {
  auto c = world();
  const int r = c->rank(), S = c->size();
  std::vector<float> x(65);
  for (size_t i = 0; i < x.size(); ++i) x[i] = float(2 * r) + float(i);  // mean over r of 2r = S - 1
  c->allreduce_avg(x.data(), int64_t(x.size()));
  for (size_t i = 0; i < x.size(); ++i) CHECK(x[i] == doctest::Approx(double(S - 1) + double(i)).epsilon(1e-6));
}

TEST_CASE("communicator: broadcast from the last rank, fp32 and fp64") {
  auto c = world();
  const int root = c->size() - 1;
  std::vector<float> f(1000, NAN);
  std::vector<double> d(17, NAN);
  if (c->rank() == root) {
    for (size_t i = 0; i < f.size(); ++i) f[i] = 0.5f * float(i) + 7.0f;
    for (size_t i = 0; i < d.size(); ++i) d[i] = 1.0 / 3.0 + double(i);
  }
  c->broadcast(f.data(), int64_t(f.size()), root);
  c->broadcast(d.data(), int64_t(d.size()), root);
  int bad = 0;
  for (size_t i = 0; i < f.size(); ++i) bad += f[i] != 0.5f * float(i) + 7.0f;
  for (size_t i = 0; i < d.size(); ++i) bad += d[i] != 1.0 / 3.0 + double(i);
  CHECK(bad == 0);
  CHECK(error_of([&] { c->broadcast(f.data(), 1, c->size()); }) != "no error");  // no such root
}

TEST_CASE("communicator: zero-length collectives and barriers keep the ranks in step") {
  auto c = world();
  c->allreduce_sum(static_cast<float*>(nullptr), 0);
  c->allreduce_sum(static_cast<double*>(nullptr), 0);
  c->broadcast(static_cast<float*>(nullptr), 0, 0);
  for (int k = 0; k < 3; ++k) c->barrier();
  // still in step: a collective after them sums correctly
  double one = 1;
  c->allreduce_sum(&one, 1);
  CHECK(one == double(c->size()));
}

TEST_CASE("communicator: factory errors name the choices") {
  CHECK(error_of([] { comm::make_communicator("gloo"); }).find("auto, single or mpi") != std::string::npos);
  CHECK(error_of([] { comm::make_communicator("nccl"); }).find("make cuda") != std::string::npos);
  if (!comm::have_mpi()) CHECK(error_of([] { comm::make_communicator("mpi"); }).find("without MPI") != std::string::npos);
}

TEST_CASE("fault hook: inert without the variables, throws at the configured rank and step") {
  auto c = world();
  unsetenv("METAREC_FAULT_RANK");
  CHECK_NOTHROW(comm::fault_hook(c->rank(), 2));
  setenv("METAREC_FAULT_RANK", std::to_string(c->rank()).c_str(), 1);
  setenv("METAREC_FAULT_STEP", "2", 1);
  setenv("METAREC_FAULT_MODE", "throw", 1);
  CHECK_NOTHROW(comm::fault_hook(c->rank(), 1));
  CHECK_NOTHROW(comm::fault_hook(c->rank() + 1, 2));
  CHECK(error_of([&] { comm::fault_hook(c->rank(), 2); }).find("injected fault at step 2") != std::string::npos);
  setenv("METAREC_FAULT_MODE", "bogus", 1);
  CHECK(error_of([&] { comm::fault_hook(c->rank(), 2); }).find("throw, exit or kill") != std::string::npos);
  unsetenv("METAREC_FAULT_RANK");
  unsetenv("METAREC_FAULT_STEP");
  unsetenv("METAREC_FAULT_MODE");
}
