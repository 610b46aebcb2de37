// `metarec CMD --help` and usage errors for every registered subcommand (issue 24, item 1):
// the subcommands are read from `metarec --help`, so a new one is covered without editing this.
// Exit codes: 0 ok (and --help), 1 runtime error, 2 usage error.
#include <doctest/doctest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "tests/cli/run_cli.h"

namespace fs = std::filesystem;

namespace {

std::vector<std::string> lines(const std::string& s) {
  std::vector<std::string> v;
  std::istringstream in(s);
  for (std::string l; std::getline(in, l);) v.push_back(l);
  return v;
}

// The commands listed by `metarec --help`: the indented lines between "commands:" and the
// next blank line.
std::vector<std::string> commands() {
  const Result r = run("--help");
  REQUIRE(r.rc == 0);
  std::vector<std::string> names;
  bool in = false;
  for (const std::string& l : lines(r.out)) {
    if (l == "commands:") in = true;
    else if (in && l.empty()) break;
    else if (in) {
      std::smatch m;
      if (std::regex_search(l, m, std::regex("^  ([a-z][a-z0-9-]*) "))) names.push_back(m[1]);
    }
  }
  return names;
}

// The long options of a help text's option lines ("  -k,--k INT ...", "  --out TEXT REQUIRED").
std::vector<std::string> long_options(const std::string& help) {
  std::vector<std::string> v;
  const std::regex opt("^\\s+(?:-[A-Za-z0-9],)?(--[a-z][a-z0-9-]*)");
  for (const std::string& l : lines(help)) {
    std::smatch m;
    if (std::regex_search(l, m, opt)) v.push_back(m[1]);
  }
  return v;
}

// A usage error: nothing on stdout, exit 2, stderr = one error line naming the command + the hint.
void check_usage_error(const std::string& cmd, const std::string& args, const std::string& mention = "") {
  const Result r = run(cmd + " " + args);
  INFO("metarec ", cmd, " ", args, "\nstdout:\n", r.out, "stderr:\n", r.err);
  CHECK(r.rc == 2);
  CHECK(r.out.empty());
  const auto e = lines(r.err);
  REQUIRE(e.size() == 2);
  CHECK(e[0].rfind("metarec " + cmd + ": error: ", 0) == 0);
  CHECK(e[0].size() > ("metarec " + cmd + ": error: ").size());
  if (!mention.empty()) CHECK(e[0].find(mention) != std::string::npos);
  CHECK(e[1] == "run 'metarec " + cmd + " --help' for the options");
}

}  // namespace

TEST_CASE("metarec: no arguments is a usage error, --help lists the commands") {
  REQUIRE(fs::exists(kBin));
  const Result none = run("");
  CHECK(none.rc == 2);
  CHECK(none.err.find("commands:") != std::string::npos);
  const Result help = run("--help");
  CHECK(help.rc == 0);
  CHECK(help.out.find("commands:") != std::string::npos);
  const Result unknown = run("no-such-command");
  CHECK(unknown.rc == 2);
  CHECK(unknown.err.find("unknown command 'no-such-command'") != std::string::npos);
}

TEST_CASE("metarec CMD --help and -h print the command's options and exit 0, for every command") {
  REQUIRE(fs::exists(kBin));
  const auto cmds = commands();
  // the list parsed: a few commands that exist today
  for (const char* known : {"train", "eval", "prepare", "tokenize", "bench"})
    CHECK_MESSAGE(std::find(cmds.begin(), cmds.end(), known) != cmds.end(), known);
  for (const std::string& cmd : cmds) {
    const Result r = run(cmd + " --help");
    INFO("metarec ", cmd, " --help\nstdout:\n", r.out, "stderr:\n", r.err);
    CHECK(r.rc == 0);
    CHECK(r.err.empty());
    CHECK(r.out.find("Usage: metarec " + cmd) != std::string::npos);
    CHECK(r.out.find("Options") != std::string::npos);
    // at least one real option besides --help
    const auto opts = long_options(r.out);
    CHECK(std::count_if(opts.begin(), opts.end(), [](const std::string& o) { return o != "--help"; }) > 0);
    const Result h = run(cmd + " -h");
    CHECK(h.rc == 0);
    CHECK(h.out == r.out);
  }
}

TEST_CASE("metarec CMD --no-such-option: one error line naming the command, a hint, exit 2, for every command") {
  REQUIRE(fs::exists(kBin));
  for (const std::string& cmd : commands()) check_usage_error(cmd, "--no-such-option");
}

TEST_CASE("the options listed by --help are the command's own (spot checks)") {
  REQUIRE(fs::exists(kBin));
  const std::vector<std::pair<std::string, std::vector<std::string>>> want = {
      {"train", {"--data", "--out", "--config", "--set", "--resume", "--comm"}},
      {"eval", {"--data", "--protocol", "--model", "--k"}},
      {"bench", {"--layers", "--batch", "--steps"}},  // its subcommand train-step's
      {"tokenize", {"--model", "--max-len"}},
  };
  for (const auto& [cmd, expected] : want) {
    const Result r = run(cmd + " --help");
    const auto opts = long_options(r.out);
    for (const std::string& o : expected) CHECK_MESSAGE(std::find(opts.begin(), opts.end(), o) != opts.end(), cmd, " ", o);
  }
  // defaults and types as CLI11 writes them
  const Result t = run("tokenize --help");
  CHECK(t.out.find("REQUIRED") != std::string::npos);
  const Result b = run("bench train-step --help");
  CHECK(b.rc == 0);
  CHECK(b.out.find("Usage: metarec bench train-step") != std::string::npos);
  CHECK(b.out.find("--batch INT:POSITIVE=32") != std::string::npos);  // type, check and default
}

TEST_CASE("usage errors exit 2 with one line; runtime errors exit 1") {
  REQUIRE(fs::exists(kBin));
  const fs::path tmp = fs::temp_directory_path() / ("mr_cli_help_" + std::to_string(::getpid()));
  check_usage_error("train", "--out " + tmp.string() + " --no-such-option", "--no-such-option");  // unknown option
  check_usage_error("train", "--data x", "--out");                                                // missing required
  check_usage_error("eval", "--protocol nope", "--protocol");                                     // bad checked value
  check_usage_error("train", "--out " + tmp.string() + " extra-positional", "extra-positional");   // extra positional
  check_usage_error("bench", "", "");                                                             // missing subcommand
  // a runtime error (mr::Error): exit 1, one line, no hint
  const Result r = run("report --run " + (tmp / "no-such-run").string());
  INFO(r.err);
  CHECK(r.rc == 1);
  CHECK(r.err.rfind("metarec report: error: ", 0) == 0);
  CHECK(r.err.find("--help") == std::string::npos);
  CHECK(!fs::exists(tmp));
}

TEST_CASE("--name (issue 24 item 5): a bad name is a usage error; a good one is recorded; file bytes come escaped") {
  REQUIRE(fs::exists(kBin));
  const fs::path tmp = fs::temp_directory_path() / ("mr_cli_name_" + std::to_string(::getpid()));
  fs::create_directories(tmp / "data");
  std::ofstream(tmp / "data" / "shop.inter") << "user_id:token\titem_id:token\nu1\ti1\nu1\ti2\nu2\ti1\n";
  const std::string data = "--data " + (tmp / "data").string() + " --out " + (tmp / "out").string();
  check_usage_error("prepare", data + " --name ''", "--name: '' is empty");
  check_usage_error("prepare", data + " --name a/b", "--name: 'a/b' has a path separator");
  check_usage_error("prepare", data + " --name \"$(printf 'a\\033[2Jb')\"", "--name: 'a\\x1b[2Jb' has a control character");
  check_usage_error("eval", "--data " + (tmp / "data").string() + " --name ..", "--name: '..' is not a name");
  CHECK(!fs::exists(tmp / "out"));

  // named after the file shop.inter, not the folder "data"; --name replaces it
  Result r = run("prepare " + data);
  CHECK(r.rc == 0);
  CHECK(r.out.find("\"name\": \"shop\"") != std::string::npos);
  r = run("prepare " + data + " --name 'shop 2026'");
  CHECK(r.rc == 0);
  CHECK(r.out.find("\"name\": \"shop 2026\"") != std::string::npos);

  // garbage in a field: exit 1, one line naming the file and line, the bytes escaped
  std::ofstream(tmp / "data" / "shop.inter") << "user_id:token\titem_id:token\trating:float\nu1\ti1\t4\xff\x1b[2J\n";
  r = run("prepare " + data);
  INFO(r.err);
  CHECK(r.rc == 1);
  CHECK(r.err == "metarec prepare: error: " + (tmp / "data" / "shop.inter").string() +
                     ": line 2: not a number: field rating = '4\\xff\\x1b[2J'\n");
  fs::remove_all(tmp);
}
