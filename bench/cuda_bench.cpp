// cuda_bench: times the CUDA backend (issue 6). Built natively as build/bench/cuda_bench (nvcc
// kernels, cudart, cuBLASLt) and under the SIMT emulator as build/bench/cuda_bench_emu (a smoke
// test at tiny shapes only: emulated times mean nothing).
//   cuda_bench train-step [--math fp32|bf16|tf32] [--storage fp32|bf16] [shape options]
//     one BERT training step on the device (forward, backward, global-norm clipping at 1.0,
//     AdamW), the loss of `metarec bench train-step` (masked mean pool -> Linear(C, 1) -> MSE)
//     on random tokens; prints `train-step ms: <median>`, tokens/s and the model FLOP rate
//     (6 x weights x tokens for the dense layers, plus 12 L B T^2 C for attention), and the
//     arena's high water (activations, their gradients, bf16 weight copies). --storage bf16
//     keeps the activations in bf16 (Tape::set_act_dtype).
//   cuda_bench attention [--math fp32|bf16] [--storage fp32|bf16] --batch B --seq T --heads H
//     --head-dim D [--dump DIR]
//     attention forward + backward alone (dropout 0); --storage bf16 times the bf16-storage
//     entries, which take bf16 tensors as cuDNN's SDPA does; prints `attention ms: <median>` (fwd+bwd)
//     and both parts, and the FLOP rate (fwd 4 B H T^2 D, bwd 10 B H T^2 D, as FlashAttention-2
//     counts: backward recomputes S).
// Times are wall clock around cudaDeviceSynchronize, medians over --steps after --warmup.
#include <cuda_runtime.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <random>
#include <vector>

#include "engine/bert.h"
#include "engine/optim.h"
#include "kernels/cuda/cuda_ops.h"

// The backend of the run: the CUDA fp32-storage table of --math (set in main).
static mr::cuda::Math g_math = mr::cuda::Math::fp32;
static mr::Backend g_be;

namespace {

double now_ms() {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
void sync() {
  if (cudaDeviceSynchronize() != cudaSuccess) throw std::runtime_error("cudaDeviceSynchronize failed");
}
double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// A device tensor filled from a host tensor.
struct OnDevice {
  mr::Buffer buf;
  mr::Tensor t;
  explicit OnDevice(const mr::Tensor& host) : buf(host.nbytes(), mr::Device::CUDA), t(buf.as(host.shape, host.dtype)) {
    mr::copy(t, host);
  }
};

struct Common {
  int batch = 32, seq = 128, steps = 10, warmup = 3;
  std::string math = "bf16", storage = "fp32";
};

void add_common(CLI::App* c, Common& o) {
  c->add_option("--batch", o.batch, "sequences per step")->capture_default_str()->check(CLI::PositiveNumber);
  c->add_option("--seq", o.seq, "tokens per sequence")->capture_default_str()->check(CLI::PositiveNumber);
  c->add_option("--steps", o.steps, "timed steps")->capture_default_str()->check(CLI::PositiveNumber);
  c->add_option("--warmup", o.warmup, "untimed steps first")->capture_default_str();
  c->add_option("--math", o.math, "fp32, bf16 (tensor cores: attention and GEMMs) or tf32 (GEMMs)")
      ->capture_default_str()
      ->check(CLI::IsMember({"fp32", "bf16", "tf32"}));
  c->add_option("--storage", o.storage,
                "activations in fp32, or bf16 (fp32 master weights; docs/cuda.md). With bf16 the encoder's GEMMs "
                "and attention (head dims 16-128) use bf16 tensor cores whatever --math says")
      ->capture_default_str()
      ->check(CLI::IsMember({"fp32", "bf16"}));
}

int train_step(const Common& o, mr::BertConfig cfg, float dropout) {
  cfg.max_position_embeddings = std::max(512, o.seq);
  cfg.hidden_dropout_prob = cfg.attention_probs_dropout_prob = dropout;
  // weights made on the host (the same init as `metarec bench train-step`), then copied
  mr::ParamStore hps, ps;
  mr::BertModel hbert(cfg, hps), bert(cfg, ps);
  for (mr::ParamStore* s : {&hps, &ps}) {
    s->add("head.weight", mr::Shape{1, cfg.hidden_size});
    s->add("head.bias", mr::Shape{1}, false);
  }
  hps.finalize();
  hbert.init_random(1);
  ps.finalize(mr::Device::CUDA);
  for (mr::Param& p : ps.all()) mr::copy(p.w, hps.at(p.name).w);
  mr::AdamW opt(ps, {}, g_be);
  mr::HostTensor ids(mr::Shape{o.batch, o.seq}, mr::DType::I32), mask(mr::Shape{o.batch, o.seq}, mr::DType::I32),
      target(mr::Shape{o.batch, 1});
  std::mt19937_64 rng(3);
  for (int64_t i = 0; i < ids->numel(); ++i) ids->i32()[i] = int32_t(rng() % uint64_t(cfg.vocab_size)), mask->i32()[i] = 1;
  for (int b = 0; b < o.batch; ++b) target->f32()[b] = float(b % 3) - 1.0f;
  OnDevice dids(*ids), dmask(*mask), dtarget(*target);
  mr::Param& head_w = ps.at("head.weight");
  mr::Param& head_b = ps.at("head.bias");

  // model FLOPs per step: 6 x (weights used in products) x tokens + attention 12 L B T^2 C
  const double tokens = double(o.batch) * o.seq, C = cfg.hidden_size, L = cfg.num_hidden_layers;
  const double dense = L * (4 * C * C + 2 * C * cfg.intermediate_size);
  const double flops = 6 * dense * tokens + 12 * L * o.batch * double(o.seq) * o.seq * C;
  std::fprintf(stderr, "cuda_bench train-step: math %s, storage %s, layers %d hidden %d heads %d ffn %d vocab %d batch %d seq %d, %lld params\n",
               o.math.c_str(), o.storage.c_str(), cfg.num_hidden_layers, cfg.hidden_size, cfg.num_attention_heads, cfg.intermediate_size,
               cfg.vocab_size, o.batch, o.seq, (long long)ps.numel());
  mr::Arena arena(mr::Device::CUDA);
  std::vector<double> times;
  float last_loss = 0;
  for (int s = 0; s < o.warmup + o.steps; ++s) {
    sync();
    const double t0 = now_ms();
    mr::Tape t(arena, g_be, uint64_t(s));
    if (o.storage == "bf16") t.set_act_dtype(mr::DType::BF16);
    ps.zero_grad();
    auto out = bert.forward(t, dids.t, mr::Tensor{}, dmask.t);
    mr::Var* pooled = mr::ops::mean_pool(t, out.hidden, dmask.t, o.batch, o.seq);
    mr::Var* pred = mr::ops::linear(t, pooled, t.param(head_w), t.param(head_b));
    mr::Var* loss = mr::ops::mse(t, pred, dtarget.t);
    t.backward(loss);
    mr::clip_grad_norm(ps, 1.0, g_be);
    opt.step();
    sync();
    const double ms = now_ms() - t0;
    mr::HostTensor l(loss->v.shape);
    mr::copy(*l, loss->v);
    last_loss = l->f32()[0];
    t.reset();
    if (s >= o.warmup) times.push_back(ms);
    std::fprintf(stderr, "\r  step %d/%d  %.2f ms  loss %.4f   ", s + 1, o.warmup + o.steps, ms, last_loss);
  }
  std::fprintf(stderr, "\n");
  const double med = median(times);
  std::printf("train-step ms: %.3f\n", med);
  std::printf("tokens/s: %.0f\n", tokens / (med / 1000.0));
  std::printf("model TFLOP/s: %.2f\n", flops / (med / 1000.0) / 1e12);
  std::printf("final loss: %.5f\n", last_loss);
  std::printf("arena high water: %.2f MiB (%zu bytes)\n", double(arena.high_water()) / (1 << 20), arena.high_water());
  return 0;
}

// Raw float32 of a device buffer into dir/name.f32 (for bench/cuda_torch.py check).
void dump(const std::string& dir, const std::string& name, const float* dev, size_t n) {
  std::vector<float> h(n);
  if (cudaMemcpy(h.data(), dev, n * 4, cudaMemcpyDeviceToHost) != cudaSuccess) throw std::runtime_error("cudaMemcpy");
  const std::string path = dir + "/" + name + ".f32";
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f || std::fwrite(h.data(), 4, n, f) != n) throw std::runtime_error("cannot write " + path);
  std::fclose(f);
}

// A device buffer of n elements of the storage type (fp32, or bf16 bits).
struct DevBuf {
  bool bf16;
  mr::Buffer buf;
  DevBuf(bool b16, size_t n) : bf16(b16), buf(n * (b16 ? 2 : 4), mr::Device::CUDA) {}
  float* f() const { return static_cast<float*>(buf.data()); }
  mr::bf16_t* h() const { return static_cast<mr::bf16_t*>(buf.data()); }
};

int attention(const Common& o, int heads, int head_dim, const std::string& dump_dir) {
  const int B = o.batch, T = o.seq, H = heads, C = heads * head_dim;
  const bool b16 = o.storage == "bf16";
  std::mt19937_64 rng(5);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  mr::HostTensor qkv(mr::Shape{B, T, 3 * C}), dout(mr::Shape{B, T, C});
  for (int64_t i = 0; i < qkv->numel(); ++i) qkv->f32()[i] = nd(rng);
  for (int64_t i = 0; i < dout->numel(); ++i) dout->f32()[i] = nd(rng);
  OnDevice dq(*qkv), dg(*dout);
  const size_t nq = size_t(qkv->numel()), no = size_t(B) * T * C;
  // bf16 storage: the inputs rounded to bf16 on the device, outputs in bf16
  DevBuf q(b16, b16 ? nq : 0), g(b16, b16 ? no : 0), out(b16, no), dqkv(b16, nq);  // q, g: bf16 copies
  if (b16) {
    mr::cuda::bf16::to_bf16(q.h(), dq.t.f32(), int64_t(nq), mr::kOverwrite);
    mr::cuda::bf16::to_bf16(g.h(), dg.t.f32(), int64_t(no), mr::kOverwrite);
  }
  mr::Buffer lse(size_t(B) * H * T * 4, mr::Device::CUDA);
  float* pl = static_cast<float*>(lse.data());
  const double f_fwd = 4.0 * B * H * double(T) * T * head_dim, f_bwd = 2.5 * f_fwd;
  std::fprintf(stderr, "cuda_bench attention: math %s, storage %s, batch %d seq %d heads %d head dim %d\n",
               o.math.c_str(), o.storage.c_str(), B, T, H, head_dim);
  std::vector<double> tf, tb;
  for (int s = 0; s < o.warmup + o.steps; ++s) {
    sync();
    const double t0 = now_ms();
    if (b16) mr::cuda::bf16::attention_fwd(out.h(), pl, q.h(), nullptr, nullptr, B, T, C, H, 0.0f, 1, 0);
    else mr::cuda::attention_fwd(out.f(), pl, dq.t.f32(), nullptr, nullptr, B, T, C, H, 0.0f, 1, 0, g_math);
    sync();
    const double t1 = now_ms();
    if (b16) mr::cuda::bf16::attention_bwd(dqkv.h(), nullptr, g.h(), q.h(), out.h(), pl, nullptr, nullptr, B, T, C, H, 0.0f, 1, 0, mr::kOverwrite);
    else mr::cuda::attention_bwd(dqkv.f(), nullptr, dg.t.f32(), dq.t.f32(), out.f(), pl, nullptr, nullptr, B, T, C, H, 0.0f, 1, 0, mr::kOverwrite, g_math);
    sync();
    const double t2 = now_ms();
    if (s >= o.warmup) tf.push_back(t1 - t0), tb.push_back(t2 - t1);
  }
  const double mf = median(tf), mb = median(tb);
  std::printf("attention ms: %.4f\n", mf + mb);
  std::printf("attention fwd ms: %.4f  bwd ms: %.4f\n", mf, mb);
  std::printf("attention TFLOP/s: fwd %.2f  bwd %.2f  fwd+bwd %.2f\n", f_fwd / mf / 1e9, f_bwd / mb / 1e9,
              (f_fwd + f_bwd) / (mf + mb) / 1e9);
  if (!dump_dir.empty()) {  // fp32 files either way (bf16 widened exactly): the inputs as used
    auto dump_act = [&](const char* name, const DevBuf& a, const float* f32, size_t n) {
      if (!a.bf16) return dump(dump_dir, name, f32 ? f32 : a.f(), n);
      mr::Buffer wide(n * 4, mr::Device::CUDA);
      mr::cuda::bf16::to_f32(static_cast<float*>(wide.data()), a.h(), int64_t(n), mr::kOverwrite);
      dump(dump_dir, name, static_cast<float*>(wide.data()), n);
    };
    dump_act("qkv", q, dq.t.f32(), nq);
    dump_act("dout", g, dg.t.f32(), no);
    dump_act("out", out, nullptr, no);
    dump_act("dqkv", dqkv, nullptr, nq);
    std::printf("dumped qkv, dout, out, dqkv to %s\n", dump_dir.c_str());
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app("times the CUDA backend: a BERT training step, or attention alone", "cuda_bench");
  app.require_subcommand(1);
  Common o;
  mr::BertConfig cfg;  // BERT-base
  cfg.num_hidden_layers = 12;
  cfg.hidden_size = 768;
  cfg.num_attention_heads = 12;
  cfg.intermediate_size = 3072;
  cfg.vocab_size = 30522;
  float dropout = 0.1f;
  auto* ts = app.add_subcommand("train-step", "BERT training step on random tokens (default: BERT-base, 32 x 128)");
  add_common(ts, o);
  ts->add_option("--layers", cfg.num_hidden_layers, "encoder layers")->capture_default_str();
  ts->add_option("--hidden", cfg.hidden_size, "hidden size")->capture_default_str();
  ts->add_option("--heads", cfg.num_attention_heads, "attention heads")->capture_default_str();
  ts->add_option("--ffn", cfg.intermediate_size, "intermediate (FFN) size")->capture_default_str();
  ts->add_option("--vocab", cfg.vocab_size, "vocabulary size")->capture_default_str();
  ts->add_option("--dropout", dropout, "hidden and attention dropout")->capture_default_str();
  int heads = 12, head_dim = 64;
  std::string dump_dir;
  auto* at = app.add_subcommand("attention", "attention forward + backward alone (default 32 x 128, 12 heads of 64)");
  add_common(at, o);
  at->add_option("--heads", heads, "heads")->capture_default_str()->check(CLI::PositiveNumber);
  at->add_option("--head-dim", head_dim, "head dim")->capture_default_str()->check(CLI::PositiveNumber);
  at->add_option("--dump", dump_dir, "write qkv, dout, out, dqkv (raw float32) here, for cuda_torch.py check")
      ->check(CLI::ExistingDirectory);
  CLI11_PARSE(app, argc, argv);
  try {
    if (!mr::cuda::init()) {
      std::fprintf(stderr, "cuda_bench: no usable CUDA device\n");
      return 2;
    }
    mr::cuda::parse_math(o.math, g_math);
    g_be = mr::Backend{mr::Device::CUDA, mr::Precision::fp32, &mr::cuda::kernels(g_math)};
    return ts->parsed() ? train_step(o, cfg, dropout) : attention(o, heads, head_dim, dump_dir);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "cuda_bench: %s\n", e.what());
    return 1;
  }
}
