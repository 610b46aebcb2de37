// `metarec embed --device cuda` end to end: build/metarec-emu (the CLI with the CUDA backend
// under the SIMT emulator) embeds lines of the all-MiniLM-L6-v2 fixture and writes what
// sentence-transformers gave (within 1e-5 max abs, the bound of tests/core/minilm_test.cpp);
// build/metarec, the CPU-only build, refuses --device cuda with what to do instead and writes
// nothing; --precision tf32 reaches the kernels. `metarec-emu train --set encoder.device=cuda` embeds a small catalogue on the CUDA
// backend and trains on the CPU: its item embeddings equal the CPU run's within 1e-5, and with
// a trainable top layer the frozen bottom's hidden states within 1e-4.
// Built only in the plain build (not under ASan: the CLI is not rebuilt there).
#include <cuda_runtime.h>  // defines MR_EMU under the emulator
#include <doctest/doctest.h>

#if defined(MR_EMU) && defined(MR_METAREC_EMU) && defined(MR_METAREC)
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "weights/npy.h"
#include "tests/core/minilm.h"
#include "tests/cuda/cli_fixture.h"
#include "weights/safetensors.h"

namespace fs = std::filesystem;

namespace {
const std::string& kModel = mr::test::kMinilm;
const std::string& kGolden = mr::test::kMinilmGolden;
bool have() { return mr::test::have_minilm(); }

int run(const std::string& cmd, std::string& out) { return mr::test::run_cli(cmd, out); }
}  // namespace

TEST_CASE("metarec embed --device cuda (emulated) writes sentence-transformers' embeddings" * doctest::skip(!have())) {
  mr::SafeTensors g(kGolden);
  auto texts = mr::test::minilm_texts(g);
  texts.resize(3);
  const fs::path dir = fs::temp_directory_path() / "metarec_cli_cuda_test";
  fs::remove_all(dir);
  fs::create_directories(dir);
  {
    std::ofstream f(dir / "texts.txt");
    for (auto& t : texts) f << t << "\n";
  }
  const std::string args = " embed --model " + kModel + " --in " + (dir / "texts.txt").string() + " --max-len " +
                           g.metadata().at("max_len") + " --device cuda --out ";
  std::string out;
  REQUIRE_MESSAGE(run(std::string(MR_METAREC_EMU) + args + (dir / "e.npy").string(), out) == 0, out);
  CHECK(out.find("embed (cuda/fp32)") != std::string::npos);
  int64_t rows = 0, cols = 0;
  std::vector<float> e = mr::read_npy_f32((dir / "e.npy").string(), &rows, &cols);
  mr::HostTensor want = g.read_f32("embeddings");
  REQUIRE(rows == 3);
  REQUIRE(cols == want->size(1));
  double err = 0;
  for (size_t i = 0; i < e.size(); ++i) err = std::max(err, double(std::fabs(e[i] - want->f32()[i])));
  MESSAGE("metarec-emu embed --device cuda: max abs error ", err);
  CHECK(err <= 1e-5);

  // tf32 reaches the kernels: GEMM operands keep 10 mantissa bits, so the embeddings move off
  // the fp32 ones (which sit within 1.2e-7), yet stay within 1e-3 (a 2^-11 rounding per operand)
  REQUIRE_MESSAGE(run(std::string(MR_METAREC_EMU) + args + (dir / "t.npy").string() + " --precision tf32", out) == 0, out);
  CHECK(out.find("embed (cuda/tf32)") != std::string::npos);
  std::vector<float> t = mr::read_npy_f32((dir / "t.npy").string(), &rows, &cols);
  REQUIRE(t.size() == e.size());
  double tf = 0;
  for (size_t i = 0; i < t.size(); ++i) tf = std::max(tf, double(std::fabs(t[i] - want->f32()[i])));
  MESSAGE("metarec-emu embed --device cuda --precision tf32: max abs error ", tf);
  CHECK(tf > 1e-6);
  CHECK(tf <= 1e-3);

  // the CPU-only build says what to do and writes nothing
  CHECK(run(std::string(MR_METAREC) + args + (dir / "no.npy").string(), out) != 0);
  CHECK(out.find("metarec-cuda") != std::string::npos);
  CHECK(!fs::exists(dir / "no.npy"));
  // `--help` says which backends a binary has
  CHECK(run(std::string(MR_METAREC_EMU) + " --help", out) == 0);
  CHECK(out.find("backends: cpu, cuda (emulated)") != std::string::npos);
  CHECK(run(std::string(MR_METAREC) + " --help", out) == 0);
  CHECK(out.find("backends: cpu (this build has no CUDA backend") != std::string::npos);
  // bad names are errors, not defaults
  CHECK(run(std::string(MR_METAREC_EMU) + args + (dir / "no.npy").string() + " --precision fp16", out) != 0);
  CHECK(out.find("fp32, bf16 or tf32") != std::string::npos);
  CHECK(run(std::string(MR_METAREC) + " embed --model " + kModel + " --in " + (dir / "texts.txt").string() +
                " --out " + (dir / "no.npy").string() + " --precision bf16", out) != 0);
  CHECK(out.find("needs device cuda") != std::string::npos);
  CHECK(!fs::exists(dir / "no.npy"));
  fs::remove_all(dir);
}

TEST_CASE("metarec train --set encoder.device=cuda (emulated): the item embeddings of the CPU run" *
          doctest::skip(!have())) {
  const fs::path dir = fs::temp_directory_path() / "metarec_cli_cuda_train";
  fs::remove_all(dir);
  mr::test::write_syn_catalogue(dir / "syn");  // 30 users x 14 interactions over 24 items with short titles
  const std::string args = " train --data " + (dir / "syn").string() + " --model " + kModel +
                           " --set encoder.cache= --set encoder.max_len=12 --set train.steps=2 --set eval.baselines= "
                           "--set eval.k_shots=3 --set task.k_shots=1,3 --set data.min_inter=5 --out ";
  std::string out;
  REQUIRE_MESSAGE(run(std::string(MR_METAREC) + args + (dir / "cpu").string(), out) == 0, out);
  REQUIRE_MESSAGE(run(std::string(MR_METAREC_EMU) + args + (dir / "cuda").string() + " --set encoder.device=cuda", out) == 0,
                  out);
  CHECK(out.find("embed items (cuda/fp32)") != std::string::npos);
  int64_t r1 = 0, c1 = 0, r2 = 0, c2 = 0;
  auto a = mr::read_npy_f32((dir / "cpu/item_emb.npy").string(), &r1, &c1);
  auto b = mr::read_npy_f32((dir / "cuda/item_emb.npy").string(), &r2, &c2);
  REQUIRE(r1 == 24);
  REQUIRE(r2 == r1);
  REQUIRE(c2 == c1);
  double err = 0;
  for (size_t i = 0; i < a.size(); ++i) err = std::max(err, double(std::fabs(a[i] - b[i])));
  MESSAGE("train: item embeddings on the emulated CUDA backend vs the CPU, max abs difference ", err);
  CHECK(err <= 1e-5);
  CHECK(err > 0);  // computed by the CUDA kernels, not the CPU's (under the emulator both could read the memory)
  // the CPU-only build refuses before it trains
  CHECK(run(std::string(MR_METAREC) + args + (dir / "none").string() + " --set encoder.device=cuda", out) != 0);
  CHECK(out.find("metarec-cuda") != std::string::npos);

  // with the top layer trainable, the frozen bottom's hidden states (cached per run here) come
  // from the device: within 1e-4 of the CPU's (the hidden-state bound of tests/core/minilm_test.cpp)
  const std::string top = " --set encoder.train_layers=1 --set model.dim=16 --set train.steps=1 --set encoder.cache=";
  REQUIRE_MESSAGE(run(std::string(MR_METAREC) + args + (dir / "cpu1").string() + top + (dir / "c_cpu").string(), out) == 0,
                  out);
  REQUIRE_MESSAGE(run(std::string(MR_METAREC_EMU) + args + (dir / "cuda1").string() + top + (dir / "c_cuda").string() +
                          " --set encoder.device=cuda",
                      out) == 0,
                  out);
  CHECK(out.find("(cuda/fp32)") != std::string::npos);
  auto hid = [&](const fs::path& d) {
    for (auto& f : fs::directory_iterator(d))
      if (f.path().filename().string().rfind("hid-", 0) == 0) return f.path().string();
    FAIL("no hid-*.npy in " << d);
    return std::string();
  };
  const std::string h1 = hid(dir / "c_cpu"), h2 = hid(dir / "c_cuda");
  CHECK(fs::path(h1).filename() == fs::path(h2).filename());  // fp32 on either device: the same cache key
  auto x = mr::read_npy_f32(h1, &r1, &c1);
  auto y = mr::read_npy_f32(h2, &r2, &c2);
  REQUIRE(r1 == 24);
  REQUIRE(r2 == r1);
  REQUIRE(c2 == c1);
  double herr = 0;
  for (size_t i = 0; i < x.size(); ++i) herr = std::max(herr, double(std::fabs(x[i] - y[i])));
  MESSAGE("train, 1 trainable layer: the frozen bottom's hidden states on the emulated CUDA backend vs the CPU, max abs "
          "difference ", herr);
  CHECK(herr <= 1e-4);
  CHECK(herr > 0);  // and computed by the CUDA kernels: other summation orders, not the CPU's bits

  // that run, its hidden states not cached, is served by the CPU-only build: where to compute
  // belongs to the machine, so the encoder falls back to the CPU with a note
  REQUIRE_MESSAGE(run(std::string(MR_METAREC_EMU) + args + (dir / "cuda2").string() + top + " --set encoder.device=cuda",
                      out) == 0,
                  out);
  REQUIRE_MESSAGE(run(std::string(MR_METAREC) + " recommend --run " + (dir / "cuda2").string() + " --history i1,i2 -k 3",
                      out) == 0,
                  out);
  CHECK(out.find("this binary has no CUDA backend, so the encoder runs on the CPU") != std::string::npos);
  fs::remove_all(dir);
}
#endif
