// `metarec train --set train.device=cuda` end to end: build/metarec-emu (the CLI with the CUDA
// backend under the SIMT emulator) meta-trains on the device and must give the CPU run's
// numbers: for every meta algorithm (fomaml, reptile, metasgd) x every adapt scope (head,
// user, all) x encoder.train_layers 0 and 1, in fp32, the per-step query losses and meta-gradient
// norms within 1e-5 relative, the final parameters within 1e-5 relative L2 and the evaluation's
// metrics (the device run evaluates on the device: adaptation and scoring per test user) to 4
// decimals, and the device run allocates no device memory after its first step.
// Both runs embed the items on the CPU (the same item embeddings), so the
// difference is the training alone. Then a run started on the CPU resumes on the device and the
// reverse, and both end where an uninterrupted CPU run ends.
// AdamW's epsilon is 1e-6 here, not 1e-8: with 1e-8, fomaml/user/train_layers=1 ended 1.56e-5
// apart (relative L2) because of three weights of the top layer whose first gradient was at the
// rounding-noise level (-3.4e-9 on the CPU, -4.8e-9 on the device: a sum that cancels), which
// AdamW turns into steps of lr |g| / (|g| + eps) = 7.5e-4 and 9.7e-4. That is the optimizer
// amplifying rounding, not a difference in what the backends compute; at eps 1e-6 such a
// gradient moves a weight by < 2e-5 while real gradients (1e-5 and up) still take ~full steps.
// The model is the tiny random BERT of tests/data/tiny_bert (2 layers, hidden 64) with a
// vocabulary written here, so the trainable top layer costs little under the emulator.
// Built only in the plain build (not under ASan: the CLI is not rebuilt there).
#include <cuda_runtime.h>  // defines MR_EMU under the emulator
#include <doctest/doctest.h>

#if defined(MR_EMU) && defined(MR_METAREC_EMU) && defined(MR_METAREC)
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include <unistd.h>

#include "engine/io/checkpoint.h"
#include "tests/cuda/cli_fixture.h"
#include "weights/safetensors.h"

namespace fs = std::filesystem;

namespace {

int run(const std::string& cmd, std::string& out) { return mr::test::run_cli(cmd, out); }

// 30 users x 14 interactions over 24 items, and a model folder: tiny_bert + a vocabulary of the titles' words
fs::path make_inputs() {
  // per process: two checkouts' suites running at once must not share (and delete) one folder
  const fs::path dir = fs::temp_directory_path() / ("metarec_train_cuda_test." + std::to_string(getpid()));
  fs::remove_all(dir);
  mr::test::write_syn_catalogue(dir / "syn");
  fs::create_directories(dir / "model");
  std::ofstream vocab(dir / "model/vocab.txt");
  for (const char* w : {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "red", "kettle", "blue", "lamp", "oak", "table",
                        "wool", "scarf", "model"})
    vocab << w << "\n";
  for (int i = 0; i < 24; ++i) vocab << i << "\n";
  fs::copy_file("tests/data/tiny_bert/config.json", dir / "model/config.json");
  fs::copy_file("tests/data/tiny_bert/model.safetensors", dir / "model/model.safetensors");
  return dir;
}

std::string base_args(const fs::path& dir) {
  return " train --data " + (dir / "syn").string() + " --model " + (dir / "model").string() +
         " --set encoder.cache= --set encoder.max_len=8 --set model.dim=16 --set model.ffn=32 --set train.meta_batch=2"
         " --set train.warmup=0 --set train.log_every=1 --set eval.baselines= --set eval.k_shots=3"
         " --set task.k_shots=1,3 --set data.min_inter=5 --set train.seed=3 --set train.adam_eps=1e-6";
}

// a per-step series of metrics.jsonl: "query_loss" or "grad_norm"
std::vector<double> series(const fs::path& run_dir, const char* key) {
  std::vector<double> v;
  std::ifstream f(run_dir / "metrics.jsonl");
  std::string line;
  while (std::getline(f, line)) {
    auto j = nlohmann::json::parse(line);
    if (j.contains(key) && j.contains("step")) v.push_back(j[key].get<double>());
  }
  return v;
}

// every "param.*" tensor of the run's latest checkpoint (and of its inner_rates part), in one vector
std::vector<double> params(const fs::path& run_dir) {
  std::vector<double> v;
  for (const fs::path& d : {run_dir, run_dir / "inner_rates"}) {
    if (!fs::exists(d / "latest")) continue;
    mr::SafeTensors st(mr::latest_checkpoint(d.string()));
    for (const std::string& n : st.names()) {
      if (n.rfind("param.", 0) != 0) continue;
      mr::HostTensor t = st.read_f32(n);
      for (int64_t i = 0; i < t->numel(); ++i) v.push_back(t->f32()[i]);
    }
  }
  return v;
}

double rel_l2(const std::vector<double>& a, const std::vector<double>& b) {
  double d = 0, n = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    d += (a[i] - b[i]) * (a[i] - b[i]);
    n += b[i] * b[i];
  }
  return std::sqrt(d / std::max(n, 1e-300));
}

// the numeric metrics of every results row, keyed by row model/k and metric
std::map<std::string, double> metrics(const fs::path& run_dir) {
  std::map<std::string, double> m;
  std::ifstream f(run_dir / "results.json");
  nlohmann::json j;
  f >> j;
  for (auto& row : j["rows"]) {
    const std::string key = row["model"].get<std::string>() + " k=" + std::to_string(row["k_shot"].get<int>()) + " ";
    for (auto& [k, v] : row.items())
      if (v.is_number() && k != "seconds") m[key + k] = v.get<double>();
  }
  return m;
}

struct Compared {
  double loss_rel = 0, grad_rel = 0, param_rel = 0, metric_abs = 0;
};

double max_rel(const std::vector<double>& a, const std::vector<double>& b) {
  REQUIRE(a.size() >= 2);
  REQUIRE(b.size() == a.size());
  double r = 0;
  for (size_t i = 0; i < a.size(); ++i) r = std::max(r, std::fabs(a[i] - b[i]) / std::fabs(a[i]));
  return r;
}

Compared compare(const fs::path& cpu, const fs::path& dev) {
  Compared c;
  c.loss_rel = max_rel(series(cpu, "query_loss"), series(dev, "query_loss"));
  c.grad_rel = max_rel(series(cpu, "grad_norm"), series(dev, "grad_norm"));
  const auto pa = params(cpu), pb = params(dev);
  REQUIRE(!pa.empty());
  REQUIRE(pa.size() == pb.size());
  c.param_rel = rel_l2(pb, pa);
  const auto ma = metrics(cpu), mb = metrics(dev);
  REQUIRE(!ma.empty());
  REQUIRE(ma.size() == mb.size());
  for (auto& [k, v] : ma) {
    REQUIRE_MESSAGE(mb.count(k), k);
    c.metric_abs = std::max(c.metric_abs, std::fabs(v - mb.at(k)));
  }
  return c;
}

}  // namespace

TEST_CASE("metarec train --set train.device=cuda (emulated) gives the CPU run: every algorithm x scope x train_layers") {
  const fs::path dir = make_inputs();
  const std::string args = base_args(dir) + " --set train.steps=3";
  std::string out;
  // the CPU-only build refuses a device run before it writes anything
  CHECK(run(std::string(MR_METAREC) + args + " --out " + (dir / "none").string() + " --set train.device=cuda", out) != 0);
  CHECK(out.find("metarec-cuda") != std::string::npos);
  CHECK(!fs::exists(dir / "none" / "config.json"));
  double worst_loss = 0, worst_grad = 0, worst_param = 0, worst_metric = 0, some_param = 0;
  for (const char* alg : {"fomaml", "reptile", "metasgd"})
    for (const char* scope : {"head", "user", "all"})
      for (int layers : {0, 1}) {
        const std::string name = std::string(alg) + "-" + scope + "-" + std::to_string(layers);
        CAPTURE(name);
        const std::string a = args + " --set meta.algorithm=" + alg + " --set meta.scope=" + scope +
                              " --set encoder.train_layers=" + std::to_string(layers) +
                              (layers ? " --set loss.negatives=6" : "");
        REQUIRE_MESSAGE(run(std::string(MR_METAREC) + a + " --out " + (dir / ("cpu-" + name)).string(), out) == 0, out);
        REQUIRE_MESSAGE(
            run(std::string(MR_METAREC_EMU) + a + " --set train.device=cuda --out " + (dir / ("cuda-" + name)).string(), out) == 0,
            out);
        CHECK(out.find("on cuda/fp32") != std::string::npos);
        // every device buffer counts (base/device.h): after the first step, no step allocates
        CHECK_MESSAGE(out.find("; 0 device allocations after the first step") != std::string::npos, out);
        const Compared c = compare(dir / ("cpu-" + name), dir / ("cuda-" + name));
        MESSAGE(name, ": query loss rel ", c.loss_rel, ", gradient norm rel ", c.grad_rel, ", params rel L2 ", c.param_rel,
                ", metrics abs ", c.metric_abs);
        CHECK(c.loss_rel <= 1e-5);
        CHECK(c.grad_rel <= 1e-5);
        CHECK(c.param_rel <= 1e-5);
        CHECK(c.metric_abs <= 5e-5);
        worst_loss = std::max(worst_loss, c.loss_rel);
        worst_grad = std::max(worst_grad, c.grad_rel);
        worst_param = std::max(worst_param, c.param_rel);
        worst_metric = std::max(worst_metric, c.metric_abs);
        some_param = std::max(some_param, c.param_rel);
      }
  MESSAGE("emulated CUDA training vs CPU over 18 runs: worst query-loss rel ", worst_loss, ", gradient norm rel ",
          worst_grad, ", params rel L2 ", worst_param, ", metrics abs ", worst_metric);
  CHECK(some_param > 0);  // the device kernels ran (other summation orders), not the CPU's bits
  fs::remove_all(dir);
}

// train.batch_tasks (engine/rec/batched.h): the meta-batch's tasks adapted together. With
// dropout 0 the CPU's batched run equals its per-task run and the emulated device's batched run
// equals both (same bounds as above), for every algorithm; with dropout the batched runs draw
// other masks than the per-task loop, so there the device is compared with the CPU's batched run.
TEST_CASE("train.batch_tasks: per-task loop = batched on the CPU = batched on the device (emulated)") {
  const fs::path dir = make_inputs();
  const std::string args = base_args(dir) + " --set train.steps=3 --set train.meta_batch=3 --set meta.scope=head";
  std::string out;
  auto go = [&](const std::string& bin, const std::string& a, const std::string& name) {
    REQUIRE_MESSAGE(run(bin + a + " --out " + (dir / name).string(), out) == 0, out);
  };
  double worst = 0;
  auto check = [&](const std::string& ref, const std::string& got) {
    CAPTURE(ref);
    CAPTURE(got);
    const Compared c = compare(dir / ref, dir / got);
    MESSAGE(ref, " vs ", got, ": query loss rel ", c.loss_rel, ", gradient norm rel ", c.grad_rel, ", params rel L2 ",
            c.param_rel, ", metrics abs ", c.metric_abs);
    CHECK(c.loss_rel <= 1e-5);
    CHECK(c.grad_rel <= 1e-5);
    CHECK(c.param_rel <= 1e-5);
    CHECK(c.metric_abs <= 5e-5);
    worst = std::max({worst, c.loss_rel, c.grad_rel, c.param_rel});
  };
  for (const char* alg : {"fomaml", "reptile", "metasgd", "none"}) {
    const std::string a = args + " --set model.dropout=0 --set meta.algorithm=" + alg + " --set meta.inner_steps=2";
    go(MR_METAREC, a, std::string("loop-") + alg);
    go(MR_METAREC, a + " --set train.batch_tasks=true", std::string("cpu-") + alg);
    go(MR_METAREC_EMU, a + " --set train.batch_tasks=true --set train.device=cuda", std::string("cuda-") + alg);
    CHECK_MESSAGE(out.find("; 0 device allocations after the first step") != std::string::npos, out);
    check(std::string("loop-") + alg, std::string("cpu-") + alg);
    check(std::string("loop-") + alg, std::string("cuda-") + alg);
  }
  const std::string d = args + " --set train.batch_tasks=true";  // dropout 0.1
  go(MR_METAREC, d, "cpu-dropout");
  go(MR_METAREC_EMU, d + " --set train.device=cuda", "cuda-dropout");
  check("cpu-dropout", "cuda-dropout");
  MESSAGE("train.batch_tasks: worst loss / gradient norm / params rel difference ", worst);
  // a configuration it cannot batch is refused before anything is written
  CHECK(run(std::string(MR_METAREC) + d + " --set meta.scope=user --out " + (dir / "refused").string(), out) != 0);
  CHECK_MESSAGE(out.find("train.batch_tasks = true needs meta.scope = \"head\"") != std::string::npos, out);
  fs::remove_all(dir);
}

// train.precision = bf16 (emulated): every GEMM and attention in bf16 math (inputs rounded to
// bf16, fp32 accumulation) and the trainable top BERT layers on bf16 activations, fp32 master
// weights, accumulators and optimizer. Against the fp32 CPU run, 3 steps: per-step query losses,
// gradient norms and the final parameters (relative L2) within 5u = 2e-2, u = 2^-8 the unit
// roundoff of bf16's 8-bit significand: every product reads inputs rounded once (relative error
// <= u each) and accumulates in fp32, and AdamW's steps follow the gradients' direction, so
// nothing should move by more than a few u; an indexing or dtype error moves them by O(1).
// Measured (2026-12-08): losses 3.6e-4, gradient norms 1.3e-2, parameters 6.1e-3 at worst. The
// ranking metrics are printed, not bounded: on a 24-item catalogue one swapped pair of scores
// moves a metric by 0.02-0.05.
TEST_CASE("train.precision = bf16 on the device (emulated) against the fp32 CPU run") {
  const fs::path dir = make_inputs();
  const std::string args = base_args(dir) + " --set train.steps=3";
  std::string out;
  for (const char* alg : {"fomaml", "metasgd"})
    for (int layers : {0, 1}) {
      const std::string name = std::string(alg) + "-" + std::to_string(layers);
      CAPTURE(name);
      const std::string a = args + " --set meta.algorithm=" + alg + " --set meta.scope=" + (layers ? "user" : "head") +
                            " --set encoder.train_layers=" + std::to_string(layers) + (layers ? " --set loss.negatives=6" : "");
      REQUIRE_MESSAGE(run(std::string(MR_METAREC) + a + " --out " + (dir / ("cpu-" + name)).string(), out) == 0, out);
      REQUIRE_MESSAGE(run(std::string(MR_METAREC_EMU) + a + " --set train.device=cuda --set train.precision=bf16 --out " +
                              (dir / ("bf16-" + name)).string(), out) == 0, out);
      CHECK(out.find("on cuda/bf16") != std::string::npos);
      CHECK_MESSAGE(out.find("; 0 device allocations after the first step") != std::string::npos, out);
      const Compared c = compare(dir / ("cpu-" + name), dir / ("bf16-" + name));
      MESSAGE(name, " bf16 vs fp32: query loss rel ", c.loss_rel, ", gradient norm rel ", c.grad_rel, ", params rel L2 ",
              c.param_rel, ", metrics abs ", c.metric_abs);
      CHECK(c.loss_rel <= 2e-2);
      CHECK(c.grad_rel <= 2e-2);
      CHECK(c.param_rel <= 2e-2);
      CHECK(c.param_rel > 1e-5);  // bf16 math ran (the fp32 device run is within 1e-5, the test above)
    }
  fs::remove_all(dir);
}

TEST_CASE("a run started on the CPU resumes on the device (emulated) and the reverse") {
  const fs::path dir = make_inputs();
  // no lr decay: its schedule depends on train.steps, which the first half of a resumed run sets to 2
  const std::string a = base_args(dir) + " --set meta.algorithm=metasgd --set meta.scope=user --set train.ckpt_every=2" +
                        " --set train.decay=none";
  std::string out;
  REQUIRE_MESSAGE(run(std::string(MR_METAREC) + a + " --set train.steps=4 --out " + (dir / "whole").string(), out) == 0, out);
  // cpu (2 steps) -> cuda (to 4)
  REQUIRE_MESSAGE(run(std::string(MR_METAREC) + a + " --set train.steps=2 --out " + (dir / "c2d").string(), out) == 0, out);
  REQUIRE_MESSAGE(run(std::string(MR_METAREC_EMU) + a + " --set train.steps=4 --set train.device=cuda --resume --out " +
                          (dir / "c2d").string(),
                      out) == 0,
                  out);
  CHECK(out.find("on cuda/fp32") != std::string::npos);
  // cuda (2 steps) -> cpu (to 4)
  REQUIRE_MESSAGE(run(std::string(MR_METAREC_EMU) + a + " --set train.steps=2 --set train.device=cuda --out " +
                          (dir / "d2c").string(),
                      out) == 0,
                  out);
  REQUIRE_MESSAGE(
      run(std::string(MR_METAREC) + a + " --set train.steps=4 --resume --out " + (dir / "d2c").string(), out) == 0, out);
  const auto whole = params(dir / "whole");
  for (const std::string r : {"c2d", "d2c"}) {
    CAPTURE(r);
    const auto p = params(dir / r);
    REQUIRE(p.size() == whole.size());
    const double e = rel_l2(p, whole);
    MESSAGE(r, ": params after 4 steps vs the uninterrupted CPU run, rel L2 ", e);
    CHECK(e <= 1e-5);
    CHECK(std::string(fs::path(mr::latest_checkpoint((dir / r).string())).filename()) == "ckpt-000000004.safetensors");
  }
  fs::remove_all(dir);
}

namespace {
// the JSON object a command printed (eval prints its metrics as one JSON object)
nlohmann::json json_in(const std::string& out) {
  const size_t a = out.find('{'), b = out.rfind('}');
  REQUIRE_MESSAGE((a != std::string::npos && b != std::string::npos && b > a), out);
  return nlohmann::json::parse(out.substr(a, b - a + 1));
}
// the ranked item labels of `metarec recommend` ("  1. LABEL   score ...")
std::vector<std::string> ranked(const std::string& out) {
  std::vector<std::string> v;
  std::istringstream in(out);
  std::string line;
  while (std::getline(in, line)) {
    const size_t dot = line.find(". "), sc = line.find(" score ");
    if (dot != std::string::npos && sc != std::string::npos && dot < 4) v.push_back(line.substr(dot + 2, sc - dot - 2));
  }
  return v;
}
}  // namespace

TEST_CASE("metarec eval and recommend --device cuda (emulated) give the CPU's results") {
  const fs::path dir = make_inputs();
  const fs::path r = dir / "run";
  std::string out;
  REQUIRE_MESSAGE(run(std::string(MR_METAREC) + base_args(dir) + " --set train.steps=2 --set meta.algorithm=metasgd" +
                          " --set meta.scope=user --out " + r.string(),
                      out) == 0,
                  out);
  // eval: the run adapted to every leave-one-out case and scored, on the CPU and on the device
  const std::string ev = " eval --data " + (dir / "syn").string() + " --model " + r.string() + " --protocol loo --k 5,10";
  REQUIRE_MESSAGE(run(std::string(MR_METAREC) + ev, out) == 0, out);
  const nlohmann::json a = json_in(out);
  REQUIRE_MESSAGE(run(std::string(MR_METAREC_EMU) + ev + " --device cuda", out) == 0, out);
  const nlohmann::json b = json_in(out);
  int compared = 0;
  for (auto& [k, v] : a.items())
    if (v.is_number() && k != "seconds") {
      CAPTURE(k);
      REQUIRE(b.contains(k));
      CHECK(std::fabs(v.get<double>() - b[k].get<double>()) <= 5e-5);
      ++compared;
    }
  MESSAGE("eval --device cuda vs cpu: ", compared, " metrics compared");
  CHECK(compared >= 8);
  // the device ranked its own scores (topk_merge/topk_count): only K ids and the targets' counts
  // came back; ranking the same device scores on the host (--ranking host) gives the same JSON to
  // the last printed digit, with one product or item tiles of 7 (a running top merged over 4
  // tiles), with the known items masked or not
  CHECK(b["ranked_on"] == "backend");
  auto text = [](nlohmann::json j) {
    j.erase("ranked_on");
    j.erase("seconds");
    return j.dump();
  };
  for (const std::string mask : {"no", "yes"}) {
    CAPTURE(mask);
    const std::string evm = std::string(MR_METAREC_EMU) + ev + " --device cuda --mask " + mask;
    REQUIRE_MESSAGE(run(evm + " --ranking host", out) == 0, out);
    const nlohmann::json h = json_in(out);
    CHECK(h["ranked_on"] == "host");
    for (const std::string tiles : {"", " --item-tile 7"}) {
      if (mask == "no" && tiles.empty()) {  // b above
        CHECK(text(b) == text(h));
        continue;
      }
      CAPTURE(tiles);
      REQUIRE_MESSAGE(run(evm + tiles, out) == 0, out);
      const nlohmann::json d = json_in(out);
      CHECK(d["ranked_on"] == "backend");
      CHECK(text(d) == text(h));
    }
  }
  // recommend: the same ranking
  const std::string rc = " recommend --run " + r.string() + " --history i1,i2,i3 -k 8";
  REQUIRE_MESSAGE(run(std::string(MR_METAREC) + rc, out) == 0, out);
  const auto ra = ranked(out);
  REQUIRE_MESSAGE(run(std::string(MR_METAREC_EMU) + rc + " --device cuda", out) == 0, out);
  const auto rb = ranked(out);
  CHECK(ra.size() == 8);
  CHECK(ra == rb);
  // the CPU-only build says which binary has the device
  CHECK(run(std::string(MR_METAREC) + rc + " --device cuda", out) != 0);
  CHECK(out.find("metarec-cuda") != std::string::npos);
  fs::remove_all(dir);
}
#endif
