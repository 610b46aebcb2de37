// metarec test-kernels [--native | --emulated] [-- DOCTEST_ARGS...]
// Runs the CUDA kernel regression suite (tests/cuda: every op of the kernel table against the
// kernels/ref reference, sentinels, NaN fails, stated tolerances, a whole tiny-BERT step):
//   --native    build/tests/cuda_gpu_tests: kernels compiled by nvcc on this machine's GPU,
//               plus BERT-base-sized shapes (built by `make test-kernels-gpu`);
//   --emulated  build/tests/cuda_tests: the same kernels under the SIMT emulator on the CPU
//               (built by `make test-kernels`).
// Default: native when the machine has an NVIDIA GPU (/dev/nvidia0) and the native suite is
// built, emulated otherwise. The suites sit next to this binary (build/tests/). Arguments
// after `--` go to doctest (e.g. -tc="cuda op: attention*"). Exit status: the suite's.
#include <CLI/CLI.hpp>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "base/check.h"
#include "tools/cli/command.h"

namespace fs = std::filesystem;

namespace {

bool have_gpu() { return fs::exists("/dev/nvidia0"); }

int run(int argc, char** argv) {
  CLI::App app("Runs the CUDA kernel regression suite (natively on a GPU, or under the SIMT emulator)", argv[0]);
  bool native = false, emulated = false;
  std::vector<std::string> rest;
  app.add_flag("--native", native, "the nvcc-compiled suite on this machine's GPU (make test-kernels-gpu)");
  app.add_flag("--emulated", emulated, "the suite under the SIMT emulator on the CPU (make test-kernels)");
  app.add_option("doctest", rest, "arguments for doctest, after --");
  mr::cli::parse(app, argc, argv);
  MR_CHECK(!(native && emulated), "--native and --emulated exclude each other");

  const fs::path dir = fs::read_symlink("/proc/self/exe").parent_path() / "tests";
  const fs::path nat = dir / "cuda_gpu_tests", emu = dir / "cuda_tests";
  if (!native && !emulated) {
    native = have_gpu() && fs::exists(nat);
    std::fprintf(stderr, "metarec test-kernels: %s\n",
                 native ? "GPU found: running the native suite"
                        : (have_gpu() ? "GPU found but the native suite is not built (make test-kernels-gpu): "
                                        "running the emulated suite"
                                      : "no GPU: running the suite under the SIMT emulator"));
  }
  const fs::path bin = native ? nat : emu;
  MR_CHECK(fs::exists(bin), "{} is not built: run `make {}` first", bin.string(),
           native ? "test-kernels-gpu" : "test-kernels");
  std::vector<std::string> args{bin.string()};
  args.insert(args.end(), rest.begin(), rest.end());
  std::vector<char*> cargs;
  for (auto& a : args) cargs.push_back(a.data());
  cargs.push_back(nullptr);
  std::fflush(nullptr);
  execv(bin.c_str(), cargs.data());
  MR_CHECK(false, "cannot run {}", bin.string());
  return 1;
}

mr::cli::Command reg{"test-kernels", "CUDA kernel regression suite (native GPU or SIMT emulator)", run};

}  // namespace
