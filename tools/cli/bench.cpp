// metarec bench train-step: times one BERT training step (forward + backward + clipping +
// AdamW) on random tokens. Defaults are all-MiniLM-L6-v2's shapes at batch 32 x seq 64.
#include <omp.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <random>
#include <vector>

#include "engine/bert.h"
#include "engine/optim.h"
#include "engine/profile.h"
#include "tools/cli/command.h"

namespace {

int run(int argc, char** argv) {
  CLI::App app("time one BERT training step: forward + backward + clip + AdamW", "metarec bench");
  app.require_subcommand(1);
  auto* ts = app.add_subcommand("train-step", "BERT training step on random tokens");
  mr::BertConfig cfg;
  cfg.num_hidden_layers = 6;
  cfg.hidden_size = 384;
  cfg.num_attention_heads = 12;
  cfg.intermediate_size = 1536;
  cfg.vocab_size = 30522;
  int batch = 32, seq = 64, threads = 0, steps = 10, warmup = 2;
  float dropout = 0.1f;
  bool profile = false;
  ts->add_option("--layers", cfg.num_hidden_layers, "encoder layers")->capture_default_str();
  ts->add_option("--hidden", cfg.hidden_size, "hidden size")->capture_default_str();
  ts->add_option("--heads", cfg.num_attention_heads, "attention heads")->capture_default_str();
  ts->add_option("--ffn", cfg.intermediate_size, "intermediate (FFN) size")->capture_default_str();
  ts->add_option("--vocab", cfg.vocab_size, "vocabulary size")->capture_default_str();
  ts->add_option("--batch", batch, "sequences per step")->capture_default_str()->check(CLI::PositiveNumber);
  ts->add_option("--seq", seq, "tokens per sequence")->capture_default_str()->check(CLI::PositiveNumber);
  ts->add_option("--threads", threads, "OpenMP/OpenBLAS threads (0: all cores)")->capture_default_str();
  ts->add_option("--steps", steps, "timed steps")->capture_default_str()->check(CLI::PositiveNumber);
  ts->add_option("--warmup", warmup, "untimed steps first")->capture_default_str();
  ts->add_option("--dropout", dropout, "hidden and attention dropout")->capture_default_str();
  ts->add_flag("--profile", profile, "print where the time goes, per op and phase");
  mr::cli::parse(app, argc, argv);

  if (threads > 0) omp_set_num_threads(threads);
  cfg.max_position_embeddings = std::max(512, seq);
  cfg.hidden_dropout_prob = cfg.attention_probs_dropout_prob = dropout;
  mr::ParamStore ps;
  mr::BertModel bert(cfg, ps);
  mr::Param& head_w = ps.add("head.weight", mr::Shape{1, cfg.hidden_size});
  mr::Param& head_b = ps.add("head.bias", mr::Shape{1}, false);
  ps.finalize();
  bert.init_random(1);
  mr::AdamW opt(ps);

  mr::HostTensor ids(mr::Shape{batch, seq}, mr::DType::I32), mask(mr::Shape{batch, seq}, mr::DType::I32),
      target(mr::Shape{batch, 1});
  std::mt19937_64 rng(3);
  for (int64_t i = 0; i < ids->numel(); ++i) {
    ids->i32()[i] = int32_t(rng() % uint64_t(cfg.vocab_size));
    mask->i32()[i] = 1;
  }
  for (int b = 0; b < batch; ++b) target->f32()[b] = float(b % 3) - 1.0f;

  std::fprintf(stderr, "bench train-step: layers %d hidden %d heads %d ffn %d vocab %d batch %d seq %d threads %d, %lld params\n",
               cfg.num_hidden_layers, cfg.hidden_size, cfg.num_attention_heads, cfg.intermediate_size, cfg.vocab_size,
               batch, seq, omp_get_max_threads(), (long long)ps.numel());
  mr::Arena arena;
  std::vector<double> times;
  for (int s = 0; s < warmup + steps; ++s) {
    if (s == warmup) mr::prof::set_enabled(profile);
    const double t0 = mr::prof::now_ms();
    mr::Tape t(arena, uint64_t(s));
    ps.zero_grad();
    auto out = bert.forward(t, *ids, mr::Tensor{}, *mask);
    mr::Var* pooled = mr::ops::mean_pool(t, out.hidden, *mask, batch, seq);
    mr::Var* pred = mr::ops::linear(t, pooled, t.param(head_w), t.param(head_b));
    mr::Var* loss = mr::ops::mse(t, pred, *target);
    t.backward(loss);
    mr::clip_grad_norm(ps, 1.0);
    opt.step();
    t.reset();
    const double ms = mr::prof::now_ms() - t0;
    if (s >= warmup) times.push_back(ms);
    std::fprintf(stderr, "\r  step %d/%d  %.1f ms  loss %.4f   ", s + 1, warmup + steps, ms, loss->v.f32()[0]);
  }
  std::fprintf(stderr, "\n");
  std::vector<double> sorted = times;
  std::sort(sorted.begin(), sorted.end());
  const double median = sorted[sorted.size() / 2];
  std::printf("train-step ms: %.2f\n", median);
  std::printf("train-step ms min/max: %.2f / %.2f\n", sorted.front(), sorted.back());
  std::printf("tokens/s: %.0f\n", double(batch) * seq / (median / 1000.0));
  std::printf("arena high water: %.1f MiB\n", double(arena.high_water()) / (1 << 20));
  if (profile) mr::prof::report(stdout, steps, median);
  return 0;
}

mr::cli::Command reg{"bench", "benchmarks: `metarec bench train-step` (BERT forward+backward+AdamW)", run};

}  // namespace
