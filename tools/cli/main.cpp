// metarec: one binary, many subcommands (see tools/cli/command.h).
#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstring>
#include <map>
#include <string>

#include "engine/backend.h"
#include "base/check.h"
#include "tools/cli/command.h"

namespace mr::cli {

struct Entry {
  std::string summary;
  Main run;
};

static std::map<std::string, Entry>& registry() {
  static std::map<std::string, Entry> r;
  return r;
}

Command::Command(const char* name, const char* summary, Main run) { registry()[name] = Entry{summary, std::move(run)}; }

static void usage(FILE* f) {
  std::fprintf(f, "usage: metarec COMMAND [options]   (metarec COMMAND --help for a command's options)\n\ncommands:\n");
  for (auto& [name, e] : registry()) std::fprintf(f, "  %-14s %s\n", name.c_str(), e.summary.c_str());
  const std::string kind = mr::cuda_backend_kind();
  if (kind == "none")
    std::fprintf(f, "\nbackends: cpu (this build has no CUDA backend; build/metarec-cuda has one: make metarec-cuda)\n");
  else
    std::fprintf(f, "\nbackends: cpu, cuda (%s): --device cuda on embed, encoder.device = cuda in train\n", kind.c_str());
}

}  // namespace mr::cli

int main(int argc, char** argv) {
  using namespace mr::cli;
  if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h") || !std::strcmp(argv[1], "help")) {
    usage(argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  auto it = registry().find(argv[1]);
  if (it == registry().end()) {
    std::fprintf(stderr, "metarec: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
  }
  std::string prog = std::string("metarec ") + argv[1];
  argv[1] = prog.data();
  try {
    return it->second.run(argc - 1, argv + 1);
  } catch (const CLI::ParseError& e) {
    CLI::App app(prog);
    return app.exit(e);
  } catch (const mr::Error& e) {
    std::fprintf(stderr, "metarec %s: error: %s\n", it->first.c_str(), e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "metarec %s: error: %s\n", it->first.c_str(), e.what());
    return 1;
  }
}
