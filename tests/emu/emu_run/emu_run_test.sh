#!/usr/bin/env bash
# Checks of tools/emu-run (docs/emulator.md, "Running your own kernel") on the example kernels
# next to this script: reduce.cu (correct), reduce_no_barrier.cu (a missing __syncthreads),
# divergent_barrier.cu (threads at different __syncthreads), and small files it writes itself.
# `make test` runs it as the test binary BUILD/tests/emu_run_tests (kernels/emu/emu.mk), with
# EMU_RUN_MAKEFLAGS naming that build; it prints a doctest-style summary line that
# tools/run_tests.sh counts. The ThreadSanitizer cases are skipped, saying so, where TSan
# cannot run (old runtimes refuse some address-space layouts, as in tests/emu/tsan_test.cpp).
set -uo pipefail
cd "$(dirname "$0")/../../.." || exit 1
EX=tests/emu/emu_run
N_CASES=10
passed=0; failed=0
ok()  { echo "emu_run_test: PASS $1"; passed=$((passed + 1)); }
bad() { echo "emu_run_test: FAIL $1"; echo "---- output:"; cat "$T/out"; echo "----"; failed=$((failed + 1)); }
T=$(mktemp -d /tmp/emu_run_test.XXXXXX)
progs=()  # cache entries of the files written here, removed at the end
trap 'for p in "${progs[@]}"; do rm -rf "$(dirname "$p")"; done; rm -rf "$T"' EXIT

# run ARGS...: tools/emu-run with stdout and stderr in $T/out, its exit status in $rc
run() {
  tools/emu-run "$@" >"$T/out" 2>&1
  rc=$?
  local p
  p=$(sed -n 's/^emu-run: .* -> \(.*\) (\(compiled\|cached\).*/\1/p' "$T/out")
  case "${1:-}" in "$T"/*) [ -n "$p" ] && progs+=("$p") ;; esac
  return 0
}
has()   { grep -qF -- "$1" "$T/out"; }
lines() { grep -cF -- "$1" "$T/out"; }
tsan_unavailable() { grep -q "unexpected memory mapping" "$T/out"; }

# 1: --help exits 0 and documents the environment variables the program reads
run --help
if [ $rc -eq 0 ] && has "EMU_RUN_GRID" && has "EMU_RUN_BLOCK" && has "random:SEED"; then ok "1-help"
else bad "1-help (exit $rc)"; fi

# 2: bad usage exits 2 with one line: an unknown order, a bad seed, a missing file, a bad
# --grid, no file, an unknown option
c=2-usage; good=1
for args in "--schedule sideways $EX/reduce.cu" "--schedule random:x $EX/reduce.cu" "$T/missing.cu" \
            "$EX/reduce.cu --grid 0" "$EX/reduce.cu --block 4,4,4,4" "" "--fast $EX/reduce.cu"; do
  # shellcheck disable=SC2086  # each case is a list of words
  run $args
  if [ $rc -ne 2 ] || [ "$(wc -l <"$T/out")" -ne 1 ] || ! grep -q "^emu-run: " "$T/out"; then
    echo "emu_run_test: '$args' gave exit $rc and $(wc -l <"$T/out") lines"; good=0; break
  fi
done
if [ $good = 1 ] && run --schedule sideways $EX/reduce.cu && has "forward, reverse, random:SEED or all" &&
   run "$T/missing.cu" && has "$T/missing.cu: no such file"; then ok $c; else bad $c; fi

# 3: a compile error exits 3 and shows the compiler's message with the file and line
printf '#include <cstdio>\nint main() {\n  int x = ;\n  return x;\n}\n' >"$T/syntax.cu"
run "$T/syntax.cu"
if [ $rc -eq 3 ] && has "$T/syntax.cu:3:" && has "error: expected primary-expression"; then ok "3-compile-error"
else bad "3-compile-error (exit $rc)"; fi

# 4: the correct reduction passes under all five orders (the default, `all`)
run $EX/reduce.cu
if [ $rc -eq 0 ] && [ "$(lines "reduce: grid 4, block 64: all sums right")" -eq 5 ] &&
   has "emu-run: passed under forward, reverse, random:1, random:2, random:3"; then ok "4-reduce-all-orders"
else bad "4-reduce-all-orders (exit $rc)"; fi

# 5: --grid and --block reach the program (EMU_RUN_GRID/EMU_RUN_BLOCK through
# kernels/emu/emu_run.h), and the second run of the same file is served from the cache
run $EX/reduce.cu --schedule reverse --grid 3 --block 128
if [ $rc -eq 0 ] && has "reduce: grid 3, block 128: all sums right" && has "(cached)" &&
   has "emu-run: --- reverse ---" && ! has "emu-run: --- forward ---"; then ok "5-grid-block-cache"
else bad "5-grid-block-cache (exit $rc)"; fi

# 6: ARGS after -- reach the program, from the caller's folder, with 2-D and 3-D shapes;
# the cache is keyed by content (an edit compiles again) and a non-zero exit is reported
cat >"$T/args.cu" <<'EOF'
#include <cstdio>
#include "kernels/emu/emu_run.h"
int main(int argc, char** argv) {
  dim3 g = emu_run_grid(dim3(9)), b = emu_run_block(dim3(7));
  std::printf("args: grid %u,%u,%u block %u,%u,%u argc %d", g.x, g.y, g.z, b.x, b.y, b.z, argc);
  for (int i = 1; i < argc; ++i) std::printf(" [%s]", argv[i]);
  std::printf("\n");
  return argc > 1 && argv[1][0] == 'x' ? 5 : 0;
}
EOF
c=6-args; good=0
run "$T/args.cu" --schedule forward
if [ $rc -eq 0 ] && has "(compiled)" && has "args: grid 9,1,1 block 7,1,1 argc 1"; then
  run "$T/args.cu" --schedule=random:42 --grid 2,3 --block=4,5,6 -- "two words" --help
  if [ $rc -eq 0 ] && has "(cached)" && has "args: grid 2,3,1 block 4,5,6 argc 3 [two words] [--help]" &&
     has "emu-run: --- random:42 ---"; then
    echo "// edited" >>"$T/args.cu"
    run "$T/args.cu" --schedule reverse -- x
    if [ $rc -eq 1 ] && has "(compiled)" && has "emu-run: reverse: FAILED, exit 5" &&
       has "emu-run: FAILED under reverse"; then good=1; fi
  fi
fi
if [ $good = 1 ]; then ok $c; else bad "$c (exit $rc)"; fi

# 7: the reduction without its barrier fails, and emu-run names the orders under which it does
# (reverse order runs the upper threads first, which hides this bug)
run $EX/reduce_no_barrier.cu
if [ $rc -eq 1 ] && has "emu-run: forward: FAILED, exit 1" && has "emu-run: reverse: ok" &&
   has "emu-run: FAILED under forward, random:1, random:2, random:3; passed under reverse" &&
   has "reduce: block 0: sum -nan, expected 253"; then ok "7-missing-barrier-orders"
else bad "7-missing-barrier-orders (exit $rc)"; fi

# 8: the same under --tsan, in reverse order (whose answer is right): a data race naming the
# store (reduce.cu:18) and the read in the tree (reduce.cu:23), in the kernel's CUDA threads
run $EX/reduce_no_barrier.cu --tsan --schedule reverse
if tsan_unavailable; then
  echo "emu_run_test: SKIP 8-tsan-race: ThreadSanitizer cannot run here: $(grep -m1 "unexpected memory mapping" "$T/out")"
elif [ $rc -eq 1 ] && has "WARNING: ThreadSanitizer: data race" &&
     has "block_sum_k(float*, float const*) tests/emu/emu_run/reduce.cu:18" &&
     has "block_sum_k(float*, float const*) tests/emu/emu_run/reduce.cu:23" &&
     has "'block_sum_k b(" && has "reduce: grid 4, block 64: all sums right" &&
     has "emu-run: reverse: FAILED, exit 66: ThreadSanitizer reported a data race"; then ok "8-tsan-race"
else bad "8-tsan-race (exit $rc)"; fi

# 9: --tsan on the correct reduction, under every order: no report
run $EX/reduce.cu --tsan
if tsan_unavailable; then
  echo "emu_run_test: SKIP 9-tsan-clean: ThreadSanitizer cannot run here"
elif [ $rc -eq 0 ] && ! has "ThreadSanitizer:" && [ "$(lines "all sums right")" -eq 5 ]; then ok "9-tsan-clean"
else bad "9-tsan-clean (exit $rc)"; fi

# 10: divergent barriers: the emulator's report names the kernel, the thread, both barriers
# and their lines; emu-run says the run was aborted
run $EX/divergent_barrier.cu --schedule forward
if [ $rc -eq 1 ] && has "emu: kernel 'swap_pairs_k' (launched at tests/emu/emu_run/divergent_barrier.cu:30)" &&
   has "thread (1,0,0): threads at different __syncthreads calls: thread (0,0,0) waits at tests/emu/emu_run/divergent_barrier.cu:16, thread (1,0,0) arrived at tests/emu/emu_run/divergent_barrier.cu:19" &&
   has "emu-run: forward: FAILED, killed by SIGABRT" && has "emu-run: FAILED under forward"; then ok "10-divergent-barriers"
else bad "10-divergent-barriers (exit $rc)"; fi

skipped=$((N_CASES - passed - failed))
echo "[doctest] test cases: $N_CASES | $passed passed | $failed failed | $skipped skipped"
[ "$failed" -eq 0 ]
