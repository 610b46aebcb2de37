// bench/cuda_bench under the SIMT emulator at tiny shapes: the benchmark the GPU run depends on
// builds, runs a whole training step (fp32 and bf16 math, bf16 storage) and attention alone
// (fp32 and bf16 storage), and prints the
// lines bench/gpu.sh reads. Emulated times mean nothing and are not checked.
#include <cuda_runtime.h>  // defines MR_EMU under the emulator
#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <string>

#if defined(MR_EMU) && defined(MR_CUDA_BENCH)
namespace {
int run(const std::string& args, std::string& out) {
  out.clear();
  FILE* p = popen((std::string(MR_CUDA_BENCH) + " " + args + " 2>&1").c_str(), "r");
  REQUIRE(p != nullptr);
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  const int st = pclose(p);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}
double value_after(const std::string& out, const std::string& key) {
  const size_t at = out.find(key);
  REQUIRE_MESSAGE(at != std::string::npos, "no '", key, "' in:\n", out);
  return std::stod(out.substr(at + key.size()));
}
}  // namespace

TEST_CASE("cuda_bench (emulated): a BERT train step in fp32 and bf16 math, and attention alone") {
  std::string out;
  for (const char* math : {"fp32", "bf16", "bf16 --storage bf16"}) {
    CAPTURE(math);
    REQUIRE(run(std::string("train-step --layers 2 --hidden 64 --heads 4 --ffn 128 --vocab 100 --batch 2 --seq 16 "
                            "--steps 2 --warmup 1 --math ") + math, out) == 0);
    CHECK(value_after(out, "arena high water: ") > 0);
    CHECK(value_after(out, "train-step ms: ") > 0);
    const double loss = value_after(out, "final loss: ");
    CHECK(std::isfinite(loss));
    CHECK(loss < 0.4);  // it falls from 0.43 in 3 AdamW steps (`metarec bench train-step` on the CPU: 0.4316, 0.3297, 0.2278)
  }
  for (const char* storage : {"fp32", "bf16"}) {
    CAPTURE(storage);
    REQUIRE(run(std::string("attention --batch 1 --seq 65 --heads 2 --head-dim 32 --steps 1 --warmup 0 --math bf16 "
                            "--storage ") + storage, out) == 0);
    CHECK(value_after(out, "attention ms: ") > 0);
  }
  CHECK(run("attention --storage fp16", out) != 0);
  CHECK(run("attention --math fp16", out) != 0);  // a bad option is an error, not a default
}
#endif
