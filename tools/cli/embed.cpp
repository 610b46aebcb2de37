// metarec embed --model DIR --in texts.txt --out emb.npy [--pool mean|cls] [--normalize]
//               [--max-len N] [--batch N] [--device cpu|cuda] [--precision fp32|bf16|tf32]
// --device cuda needs build/metarec-cuda (engine/backend.h).
#include <omp.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <fstream>

#include "engine/encoder.h"
#include "engine/progress.h"
#include "tools/cli/command.h"
#include "weights/npy.h"

namespace {

int run(int argc, char** argv) {
  CLI::App app("sentence embeddings of UTF-8 lines, as a float32 .npy matrix (rows in input order)", "metarec embed");
  std::string model, in, out, pool;
  bool normalize = false, no_normalize = false;
  mr::EmbedOptions opt;
  int threads = 0;
  std::string device = "cpu", precision = "fp32";
  app.add_option("--model", model, "metarec or HuggingFace model folder")->required()->check(CLI::ExistingDirectory);
  app.add_option("--in", in, "text file, one text per line")->required()->check(CLI::ExistingFile);
  app.add_option("--out", out, "output .npy")->required();
  app.add_option("--pool", pool, "mean or cls (default: the model folder's)")->check(CLI::IsMember({"mean", "cls"}));
  app.add_flag("--normalize", normalize, "L2-normalise every embedding");
  app.add_flag("--no-normalize", no_normalize, "do not normalise even if the model folder says so");
  app.add_option("--max-len", opt.max_len,
                 "tokens per text, [CLS]/[SEP] included (default: the model's max_position_embeddings, less "
                 "pad_token_id + 1 for roberta/xlm-roberta, at most " +
                     std::to_string(mr::kDefaultMaxLen) + ")")
      ->check(CLI::PositiveNumber);
  app.add_option("--batch", opt.batch, "texts per forward pass")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--threads", threads, "threads (0: all cores)");
  app.add_option("--device", device, "cpu, or cuda (build/metarec-cuda)")->capture_default_str();
  app.add_option("--precision", precision, "fp32; on cuda also bf16 (bf16 activations and tensor-core products) or tf32")
      ->capture_default_str();
  mr::cli::parse(app, argc, argv);
  const mr::Backend be = mr::make_backend(device, precision, "--device/--precision");  // before reading the texts
  if (threads > 0) omp_set_num_threads(threads);
  opt.pool = pool;
  opt.normalize = normalize ? 1 : no_normalize ? 0 : -1;

  std::ifstream f(in);
  std::vector<std::string> texts;
  std::string line;
  while (std::getline(f, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    texts.push_back(line);
  }
  if (f.bad()) FAIL_INPUT(in, fmt::format("line {}", texts.size() + 1), "read error");
  mr::TextEncoder enc(model, be);
  mr::Progress bar(be.dev == mr::Device::CPU ? "embed" : "embed (" + be.str() + ")", int64_t(texts.size()), "texts");
  std::vector<float> e = enc.embed(texts, opt, [&](size_t done) { bar.update(int64_t(done)); });
  bar.finish();
  mr::write_npy_f32(out, e.data(), int64_t(texts.size()), enc.config().hidden_size);
  std::fprintf(stderr, "wrote %s: %zu x %d float32 (%s, max length %d)\n", out.c_str(), texts.size(),
               enc.config().hidden_size, be.str().c_str(), enc.max_len_for(opt.max_len));
  // the arena's high water over all batches, on the backend's device (weights not included)
  std::fprintf(stderr, "activations: peak %.1f MiB (%zu bytes, batch %d)\n", double(enc.arena_high_water()) / (1 << 20),
               enc.arena_high_water(), opt.batch);
  return 0;
}

mr::cli::Command reg{"embed", "sentence embeddings of text lines -> .npy (mean/CLS pooling, normalisation)", run};

}  // namespace
