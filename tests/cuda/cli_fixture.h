// What tests/cuda's end-to-end CLI tests share: running a command line, and a small synthetic
// catalogue in RecBole's atomic format.
#pragma once
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include <doctest/doctest.h>

namespace mr::test {

// Runs cmd, capturing its stdout and stderr together; its exit status (-1: it did not exit).
inline int run_cli(const std::string& cmd, std::string& out) {
  out.clear();
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  REQUIRE(p != nullptr);
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  const int st = pclose(p);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

// DIR/syn.inter and DIR/syn.item: 30 users x 14 interactions over 24 items i0..i23 with short
// titles ("red kettle model 7"); DIR is created.
inline void write_syn_catalogue(const std::filesystem::path& dir) {
  std::filesystem::create_directories(dir);
  std::ofstream in(dir / "syn.inter"), it(dir / "syn.item");
  in << "user_id:token\titem_id:token\ttimestamp:float\n";
  it << "item_id:token\ttitle:token_seq\n";
  for (int u = 0; u < 30; ++u)
    for (int j = 0; j < 14; ++j) in << "u" << u << "\ti" << (u * 5 + j * 7) % 24 << "\t" << (u * 100 + j) << "\n";
  const char* kinds[] = {"red kettle", "blue lamp", "oak table", "wool scarf"};
  for (int i = 0; i < 24; ++i) it << "i" << i << "\t" << kinds[i % 4] << " model " << i << "\n";
}

}  // namespace mr::test
