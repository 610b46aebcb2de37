// tools/emu-run example: reduce.cu without the __syncthreads between the stores to shared
// memory and the first step of the tree, so thread t may read s[t + h] before thread t + h
// stored it. Forward order and random orders get a wrong sum; reverse order happens to run
// the upper threads first and hides the bug, which --tsan reports as a data race anyway.
#define REDUCE_WITHOUT_STORE_BARRIER
#include "reduce.cu"
