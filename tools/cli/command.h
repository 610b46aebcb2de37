// Subcommands of the `metarec` CLI register themselves: one file per command in tools/cli/,
//   static mr::cli::Command reg{"tokenize", "BERT WordPiece token ids of stdin lines", run};
// where run(argc, argv) gets the arguments after the command name (argv[0] = "metarec NAME")
// and returns the exit code. Errors: throw mr::Error with a clear message; main prints it and
// exits with status 1 (2 for usage errors via CLI11).
#pragma once
#include <functional>
#include <string>

namespace mr::cli {

using Main = std::function<int(int argc, char** argv)>;

struct Command {
  Command(const char* name, const char* summary, Main run);
};

}  // namespace mr::cli
