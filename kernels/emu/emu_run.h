// --grid and --block of tools/emu-run for a host main (docs/emulator.md, "Running your own
// kernel"). tools/emu-run passes them to the program as the environment variables
// EMU_RUN_GRID and EMU_RUN_BLOCK, each "X", "X,Y" or "X,Y,Z"; these two functions read them
// and return the program's own default when the variable is unset or empty:
//   dim3 grid = emu_run_grid(dim3(4)), block = emu_run_block(dim3(128));
//   LAUNCH(my_k, grid, block, smem_bytes, 0)(...);
// Plain host code that compiles with nvcc as well, so the same main runs natively on a GPU
// (`EMU_RUN_BLOCK=256 ./a.out`). A malformed value ends the program with exit status 2.
#pragma once
#include <cuda_runtime.h>

#include <cstdio>
#include <cstdlib>

inline dim3 emu_run_dim(const char* var, dim3 dflt) {
  const char* v = std::getenv(var);
  if (!v || !*v) return dflt;
  unsigned d[3] = {1, 1, 1};
  const char* p = v;
  for (int i = 0; i < 3; ++i) {
    char* end = nullptr;
    unsigned long x = (*p >= '0' && *p <= '9') ? std::strtoul(p, &end, 10) : 0;
    if (x == 0 || x > 0x7fffffffUL) break;
    d[i] = unsigned(x);
    if (*end == 0) return dim3(d[0], d[1], d[2]);
    if (*end != ',') break;
    p = end + 1;
  }
  std::fprintf(stderr, "%s=%s: expected X, X,Y or X,Y,Z with positive integers\n", var, v);
  std::exit(2);
}
inline dim3 emu_run_grid(dim3 dflt) { return emu_run_dim("EMU_RUN_GRID", dflt); }
inline dim3 emu_run_block(dim3 dflt) { return emu_run_dim("EMU_RUN_BLOCK", dflt); }
