// Runs the metarec binary the suite was built against (MR_METAREC, tests/cli.mk) as a user
// would, stdout and stderr captured apart: for the tests of tests/cli.
#pragma once
#include <doctest/doctest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace {

const std::string kBin = MR_METAREC;

struct Result {
  int rc = -1;  // exit status; -1: it did not exit
  std::string out, err;
};

// Runs `kBin ARGS`, stdout and stderr captured apart.
Result run(const std::string& args) {
  const std::filesystem::path err =
      std::filesystem::temp_directory_path() / ("mr_cli_err_" + std::to_string(::getpid()));
  Result r;
  FILE* p = popen((kBin + " " + args + " 2>" + err.string() + " </dev/null").c_str(), "r");
  REQUIRE(p != nullptr);
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof buf, p)) r.out.append(buf, n);
  const int st = pclose(p);
  r.rc = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  std::ifstream f(err);
  std::stringstream ss;
  ss << f.rdbuf();
  r.err = ss.str();
  std::filesystem::remove(err);
  return r;
}

}  // namespace
