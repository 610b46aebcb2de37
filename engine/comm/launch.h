// `metarec train --gpus N` on one workstation without mpirun: the process that was started
// becomes a launcher that runs N workers (this executable again, with the same arguments
// minus --gpus), one per GPU, and waits for them. The workers form an NCCL clique from an id
// the launcher made (the NCCL communicator's launch mode: no MPI anywhere) and find their rank,
// the rank count and the id in their environment:
//   METAREC_LAUNCH_RANK, METAREC_LAUNCH_SIZE, METAREC_LAUNCH_ID (hex), LOCAL_RANK (= the rank).
// A worker that fails (non-zero exit, a signal) ends the others: SIGTERM, then SIGKILL after
// 10 s; the launcher exits non-zero naming the worker. SIGINT/SIGTERM to the launcher reach
// every worker, and a launcher killed outright takes them along (PR_SET_PDEATHSIG). mpirun and srun remain the way across nodes (docs/comm.md).
#pragma once
#include <string>
#include <vector>

namespace mr::comm {

struct LaunchEnv {
  int rank = -1, size = 0;
  std::string id;  // hex of the NCCL unique id
};
// This process's launch environment; rank -1 when not started by a launcher. Malformed values
// throw an Error naming the variable.
LaunchEnv launch_env();

// The launch hooks of the NCCL communicator (registered by comm_nccl.cu): make an id for n
// ranks (hex) and release it when the workers are done.
struct LaunchHooks {
  std::string (*make_id)(int n) = nullptr;
  void (*release)(const std::string& id) = nullptr;
};
void register_nccl_launch(LaunchHooks h);
bool have_nccl_launch();

// Runs n workers of /proc/self/exe with `args` (argv[1..], --gpus removed) and returns the exit
// status the launcher should end with: 0 when every worker exited 0.
int launch_workers(int n, const std::vector<std::string>& args);

// hex <-> bytes (the id travels in the environment)
std::string to_hex(const void* p, size_t n);
bool from_hex(const std::string& h, void* p, size_t n);

}  // namespace mr::comm
