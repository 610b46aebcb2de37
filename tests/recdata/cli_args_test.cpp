#include <doctest/doctest.h>

#include <fstream>

#include "base/check.h"
#include "engine/data/cli_args.h"
#include "tests/recdata/common.h"

using namespace mr;

static data::Dataset load(std::vector<std::string> args) {
  CLI::App app("t");
  cli::DataArgs da;
  da.add(app);
  args.insert(args.begin(), "prog");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  app.parse(static_cast<int>(argv.size()), argv.data());
  return da.load();
}

TEST_CASE("data options: --map, --threshold, --delimiter, --no-header, --lenient") {
  char dir[] = "/tmp/mr_cli_XXXXXX";
  REQUIRE(mkdtemp(dir));
  std::string f = std::string(dir) + "/r.tsv";
  std::ofstream(f) << "7\tx\t5\t2\n7\ty\t1\t1\n8\tx\t4\t3\n";
  auto ds = load({"--data", f, "--map", "user=0,item=1,rating=2,time=3", "--delimiter", "\\t", "--no-header"});
  CHECK(ds.inter.size() == 3);
  CHECK(ds.items.names[ds.of_user(0)[0].item] == "y");  // time 1 before time 2
  auto pos = load({"--data", f, "--map", "user=0,item=1,rating=2,time=3", "--delimiter", "\\t", "--no-header",
                   "--threshold", "4"});
  CHECK(pos.inter.size() == 2);
  CHECK_THROWS_AS(load({"--data", f, "--map", "user=0,thing=1", "--no-header"}), Error);
  CHECK_THROWS_AS(load({"--data", f, "--map", "user0", "--no-header"}), Error);
  CHECK_THROWS_AS(load({"--data", f, "--map", "user=0,item=1", "--delimiter", "ab", "--no-header"}), Error);
  std::ofstream(f) << "7\tx\n7\n";
  CHECK_THROWS_AS(load({"--data", f, "--map", "user=0,item=1", "--delimiter", "\\t", "--no-header"}), Error);
  auto len = load({"--data", f, "--map", "user=0,item=1", "--delimiter", "\\t", "--no-header", "--lenient"});
  CHECK(len.report.total_skipped() == 1);
  std::remove(f.c_str());
  rmdir(dir);
  CHECK(load({"--data", rt::fixture("ml1m")}).source == "ml-1m");
  CHECK(load({"--data", rt::fixture("tiny"), "--format", "recbole"}).source == "recbole-atomic");
  CHECK_THROWS_AS(load({"--data", rt::fixture("tiny"), "--format", "nope"}), Error);
}

TEST_CASE("data options: --name replaces the name from the files; a bad one is a usage error") {
  CHECK(load({"--data", rt::fixture("mllatest")}).name == "ml-latest-small");
  CHECK(load({"--data", rt::fixture("mllatest"), "--name", "ratings 2018"}).name == "ratings 2018");
  CHECK(load({"--data", rt::fixture("tiny"), "--format", "recbole", "--name", "t"}).name == "t");
  for (const char* bad : {"", "a/b", "..", "tab\there", "esc\x1b"}) {
    INFO("--name '", bad, "'");
    std::string what;
    try {
      load({"--data", rt::fixture("tiny"), "--name", bad});
    } catch (const CLI::ValidationError& e) {
      what = e.what();
    }
    CHECK(what.rfind("--name: '", 0) == 0);
    CHECK(what.find('\x1b') == std::string::npos);
  }
}
