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

// Options show what they default to (CLI11's "INT=32"), unless their description says it.
static void show_defaults(CLI::App& app) {
  for (CLI::Option* o : app.get_options())
    if (o->get_default_str().empty() && o->get_description().find("default") == std::string::npos) {
      o->capture_default_str();
      if (o->get_default_str() == "[]") o->default_str("");
    }
  for (CLI::App* sub : app.get_subcommands([](CLI::App*) { return true; })) show_defaults(*sub);
}

void parse(CLI::App& app, int argc, char** argv) {
  app.name(argv[0]);
  show_defaults(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::Success&) {  // --help, -h (CallForHelp); CLI11's other "success" exits alike
    std::fputs(app.help("", CLI::AppFormatMode::All).c_str(), stdout);
    throw Exit{0};
  } catch (const CLI::ParseError& e) {
    std::string msg = e.what();
    for (char& c : msg)
      if (c == '\n') c = ' ';
    std::fprintf(stderr, "%s: error: %s\nrun '%s --help' for the options\n", argv[0], msg.c_str(), argv[0]);
    throw Exit{2};
  }
}

void usage_error(const CLI::App& app, const std::string& msg) {
  const std::string prog = app.get_name();
  std::fprintf(stderr, "%s: error: %s\nrun '%s --help' for the options\n", prog.c_str(), msg.c_str(), prog.c_str());
  throw Exit{2};
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
  } catch (const Exit& e) {
    return e.code;
  } catch (const mr::Error& e) {
    std::fprintf(stderr, "metarec %s: error: %s\n", it->first.c_str(), e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "metarec %s: error: %s\n", it->first.c_str(), e.what());
    return 1;
  }
}
