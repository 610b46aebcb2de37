// metarec convert --from-hf DIR --out DIR     HF BERT-family folder -> metarec model folder
// metarec export-hf --from DIR --out DIR      metarec model folder -> HF folder
#include <CLI/CLI.hpp>
#include <cstdio>

#include "tools/cli/command.h"
#include "engine/family.h"
#include "engine/io/model_dir.h"

namespace {

int convert(int argc, char** argv) {
  CLI::App app("convert a HuggingFace checkpoint of the BERT family (config.json + model.safetensors + tokenizer) into a "
               "metarec model folder; model_type " + mr::supported_families(),
               "metarec convert");
  std::string src, dst;
  app.add_option("--from-hf", src, "HuggingFace model folder")->required()->check(CLI::ExistingDirectory);
  app.add_option("--out", dst, "metarec model folder to write")->required();
  mr::cli::parse(app, argc, argv);
  mr::ConvertReport r = mr::convert_from_hf(src, dst);
  std::printf("converted %s -> %s (%s, pooler: %s, pooling: %s%s)\n", src.c_str(), dst.c_str(), r.family.c_str(),
              r.pooler ? "yes" : "no", r.pooling.c_str(), r.normalize ? ", normalized" : "");
  if (!r.unexpected.empty()) {
    std::printf("dropped %zu tensors the encoder does not use:", r.unexpected.size());
    for (auto& n : r.unexpected) std::printf(" %s", n.c_str());
    std::printf("\n");
  }
  return 0;
}

int export_hf(int argc, char** argv) {
  CLI::App app("write a metarec model folder as a HuggingFace folder that transformers loads", "metarec export-hf");
  std::string src, dst;
  app.add_option("--from", src, "metarec model folder")->required()->check(CLI::ExistingDirectory);
  app.add_option("--out", dst, "HuggingFace folder to write")->required();
  mr::cli::parse(app, argc, argv);
  mr::export_hf(src, dst);
  std::printf("exported %s -> %s (config.json, model.safetensors, tokenizer files)\n", src.c_str(), dst.c_str());
  return 0;
}

mr::cli::Command reg1{"convert", "HuggingFace BERT-family folder -> metarec model folder (checksummed)", convert};
mr::cli::Command reg2{"export-hf", "metarec model folder -> HuggingFace folder (transformers loads it)", export_hf};

}  // namespace
