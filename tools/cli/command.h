// Subcommands of the `metarec` CLI register themselves: one file per command in tools/cli/,
//   static mr::cli::Command reg{"tokenize", "BERT WordPiece token ids of stdin lines", run};
// where run(argc, argv) gets the arguments after the command name (argv[0] = "metarec NAME")
// and returns the exit code. run() builds its CLI::App and parses with mr::cli::parse below
// (never app.parse), so that every command has the same --help and usage errors.
// Exit codes: 0 ok (and --help); 1 runtime error: throw mr::Error with a clear message, main
// prints `metarec NAME: error: MESSAGE`; 2 usage error (mr::cli::parse).
#pragma once
#include <functional>
#include <string>

namespace CLI {
class App;
}

namespace CLI {
class App;
}

namespace mr::cli {

using Main = std::function<int(int argc, char** argv)>;

struct Command {
  Command(const char* name, const char* summary, Main run);
};

// Parses the command line into app, named argv[0] ("metarec NAME"). --help / -h: prints the
// app's full help (its subcommands' options too) on stdout and ends the command with exit 0.
// A usage error (unknown option, missing required option, bad value, extra argument): prints
//   metarec NAME: error: CLI11's message
//   run 'metarec NAME --help' for the options
// on stderr and ends the command with exit 2. Options show their defaults in the help unless
// their description already says what the default is.
void parse(CLI::App& app, int argc, char** argv);

// Thrown by parse to end the command with this exit code; main returns it.
struct Exit {
  int code;
};

// A usage error parse cannot see (options that conflict): prints "PROG: error: MSG" and the
// --help hint, as parse does, and ends the command with exit code 2.
[[noreturn]] void usage_error(const CLI::App& app, const std::string& msg);

}  // namespace mr::cli
