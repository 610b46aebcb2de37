#!/usr/bin/env bash
# Runs every test binary given on the command line and prints one closing line
# `N passed, N failed` counting doctest test cases over all binaries. A binary that crashes
# or prints no doctest summary counts as one failed case.
set -uo pipefail
passed=0; failed=0; skipped=0
for bin in "$@"; do
  echo "== $bin"
  log=$(mktemp)
  "$bin" --no-version 2>&1 | tee "$log"
  rc=${PIPESTATUS[0]}
  line=$(grep -E '^\[doctest\] test cases:' "$log" | tail -1)
  if [ -z "$line" ]; then
    echo "run_tests: $bin exited with $rc and printed no summary: counted as 1 failed" >&2
    failed=$((failed + 1))
  else
    p=$(echo "$line" | sed -E 's/.*\| *([0-9]+) passed.*/\1/')
    f=$(echo "$line" | sed -E 's/.*\| *([0-9]+) failed.*/\1/')
    s=$(echo "$line" | sed -E 's/.*\| *([0-9]+) skipped.*/\1/')
    passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
      echo "run_tests: $bin exited with $rc although no case failed: counted as 1 failed" >&2
      failed=$((failed + 1))
    fi
  fi
  rm -f "$log"
done
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
