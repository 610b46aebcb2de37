// --device / --precision for the commands that run a trained model (eval, recommend): where the
// model adapts to a user and scores the items (engine/rec/run.h move_run). cuda needs
// build/metarec-cuda; a trained recommender runs in fp32 or tf32.
#pragma once
#include <CLI/CLI.hpp>
#include <string>

#include "base/check.h"
#include "engine/backend.h"

namespace mr::cli {

struct DeviceArgs {
  std::string device = "cpu", precision = "fp32";
  void add(CLI::App& app) {
    app.add_option("--device", device, "where a run's model adapts and scores: cpu, or cuda (build/metarec-cuda)")
        ->capture_default_str();
    app.add_option("--precision", precision, "fp32, or tf32 on cuda")->capture_default_str();
  }
  // After parsing: the ready backend (a clear error for a binary without CUDA, or bf16). gpu:
  // the device's GPU (-1: the default one; under mpirun, each rank its local rank's).
  Backend backend(int gpu = -1) const {
    Backend be = parse_backend(device, precision, "--device/--precision");
    MR_CHECK(be.precision != Precision::bf16, "--precision bf16: a trained recommender runs in fp32 or tf32");
    if (be.dev != Device::CPU && gpu >= 0) be.gpu = gpu;
    init_backend(be);
    return be;
  }
};

}  // namespace mr::cli
