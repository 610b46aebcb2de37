// metarec train: meta-train (or plain multi-task train) the recommender into a run folder.
#include <CLI/CLI.hpp>
#include <cstdio>

#include "engine/comm/comm.h"
#include "engine/comm/launch.h"
#include "engine/rec/evaluate.h"
#include "engine/rec/trainer.h"
#include "tools/cli/command.h"

namespace {

int run(int argc, char** argv) {
  CLI::App app("metarec train: fine-tune the recommender with first-order meta-learning (or plain multi-task "
               "training with --set meta.algorithm=none) and evaluate it against the baselines");
  std::string data, model, out, config;
  std::vector<std::string> sets;
  bool resume = false;
  std::string comm_kind = "auto", resume_from, dump_tasks;
  int gpus = 0;
  app.add_option("--data", data, "dataset: raw (ml-100k, RecBole atomic, ...) or prepared directory");
  app.add_option("--model", model, "encoder model folder (default models/all-MiniLM-L6-v2)");
  app.add_option("--out", out, "run folder")->required();
  app.add_option("--config", config, "TOML config (see configs/)");
  app.add_option("--set", sets, "override a config key: section.key=value (repeatable)");
  app.add_flag("--resume", resume, "continue from the run folder's newest checkpoint that verifies (a corrupt latest "
                                   "one is reported and skipped)");
  app.add_option("--resume-from", resume_from, "continue from this checkpoint file (implies --resume; an error when it "
                                               "does not verify)");
  app.add_option("--comm", comm_kind, "multi-process backend: auto (under mpirun: nccl when training on the GPU, "
                                      "else mpi), single, mpi or nccl (docs/comm.md)")
      ->check(CLI::IsMember({"auto", "single", "mpi", "nccl"}));
  app.add_option("--dump-tasks", dump_tasks, "write every step's meta-batch (support and query batches) to this "
                                             "file as JSON lines, to replay the run elsewhere (bench/torch_twin; one process); "
                                             "with loss.negatives > 0 also each loss's candidates, with "
                                             "encoder.train_layers > 0 also FILE.items.json (engine/rec/trainer.h)");
  app.add_option("--gpus", gpus, "train on N GPUs of this machine without mpirun: starts one worker per GPU "
                                 "(NCCL; needs train.device=cuda and metarec-cuda; docs/comm.md)")
      ->check(CLI::Range(1, 1024));
  mr::cli::parse(app, argc, argv);
  mr::rec::Config c;
  if (!config.empty()) c.load_toml(config);
  if (!data.empty()) c.data.path = data;
  if (!model.empty()) c.encoder.model = model;
  for (auto& s : sets) c.set(s);
  const bool gpu = c.train.device == mr::rec::EncoderDevice::Cuda;
  const mr::comm::LaunchEnv le = mr::comm::launch_env();
  if (gpus > 0 && le.rank < 0) {  // the launcher: the workers get the same arguments without --gpus
    if (!gpu) mr::cli::usage_error(app, "--gpus needs --set train.device=cuda");
    if (mr::comm::launched_by_mpirun())
      mr::cli::usage_error(app, "--gpus starts its own workers: under mpirun, start one process per GPU without --gpus");
    if (comm_kind != "auto" && comm_kind != "nccl") mr::cli::usage_error(app, "--gpus trains over NCCL: leave --comm out");
    std::vector<std::string> args{"train"};
    for (int i = 1; i < argc; ++i) {
      const std::string a = argv[i];
      if (a == "--gpus") { ++i; continue; }
      if (a.rfind("--gpus=", 0) == 0) continue;
      args.push_back(a);
    }
    return mr::comm::launch_workers(gpus, args);
  }
  if (le.rank >= 0) comm_kind = "nccl";  // a worker of the launcher
  if (comm_kind == "auto" && gpu && mr::comm::launched_by_mpirun()) comm_kind = "nccl";
  auto comm = mr::comm::make_communicator(comm_kind, comm_kind == "nccl" ? mr::rec::train_gpu(c) : -1);
  nlohmann::json res;
  try {
    res = mr::rec::train(c, out, resume, comm.get(), resume_from, dump_tasks);
  } catch (const std::exception& e) {
    // one rank failing must not leave the others waiting in a collective: end the whole job
    if (comm->size() > 1) comm->abort(std::string("metarec train: error: ") + e.what(), 1);
    throw;
  }
  if (comm->rank() != 0) return 0;
  std::printf("%s", mr::rec::results_table({res}, mr::rec::table_kshots(c)).c_str());
  return 0;
}

mr::cli::Command reg{"train", "meta-train the BERT recommender into a run folder and evaluate it", run};

}  // namespace
