// The emulator's ThreadSanitizer mode finds a missing __syncthreads as a data race between two
// CUDA threads, in any thread order, and stays quiet on correct kernels. Runs the TSan-built
// driver tests/emu/tsan/race_check.cpp (kernels/emu/emu.mk builds it next to this suite).
#include <cuda_runtime.h>
#include <doctest/doctest.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#if defined(MR_EMU) && defined(MR_EMU_TSAN_CHECK)
namespace {
int run(const std::string& args, std::string& out) {
  out.clear();
  std::string cmd = std::string(MR_EMU_TSAN_CHECK) + " " + args + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  REQUIRE(p != nullptr);
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  int st = pclose(p);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}
bool tsan_unavailable(const std::string& out) {  // old TSan runtimes refuse some kernels' ASLR layouts
  return out.find("unexpected memory mapping") != std::string::npos;
}
}  // namespace

TEST_CASE("emu: ThreadSanitizer mode reports a missing __syncthreads and passes correct kernels") {
  std::string out;
  int rc = run("ok", out);
  if (tsan_unavailable(out)) {
    MESSAGE("ThreadSanitizer cannot run on this machine: " << out.substr(0, 200));
    return;
  }
  CAPTURE(out);
  CHECK(rc == 0);
  CHECK(out.find("ThreadSanitizer") == std::string::npos);
  CHECK(out.find("race_check ok: y[1] = 1") != std::string::npos);
  for (const char* order : {"reverse", "random:3"}) {  // forward order is checked in detail below
    CAPTURE(order);
    std::string cmd = std::string("MR_EMU_ORDER=") + order + " " + MR_EMU_TSAN_CHECK + " bug > /dev/null 2>&1";
    CHECK(std::system(cmd.c_str()) != 0);  // TSan exits with 66 after a report
  }
  rc = run("bug", out);  // forward order: the order that hides this bug from the answer
  CHECK(rc == 66);
  CHECK(out.find("WARNING: ThreadSanitizer: data race") != std::string::npos);
  CHECK(out.find("emutest::neighbour_no_barrier_k(float*, float const*) tests/emu/kernels/bugs.cu:18") != std::string::npos);
  CHECK(out.find("emutest::neighbour_no_barrier_k(float*, float const*) tests/emu/kernels/bugs.cu:17") != std::string::npos);
  CHECK(out.find("neighbour_no_barrier_k b(0,0,0) t(") != std::string::npos);  // the CUDA threads are named
  // the same race with ldmatrix (a warp collective) as the reader: the write is in bugs.cu
  rc = run("ldm-bug", out);
  CHECK(rc == 66);
  CHECK(out.find("WARNING: ThreadSanitizer: data race") != std::string::npos);
  CHECK(out.find("tests/emu/kernels/bugs.cu:") != std::string::npos);
}
#endif
