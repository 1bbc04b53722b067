#!/usr/bin/env bash
# Runs every suite in tests/suites/ in name order. A suite is an executable
# script that prints one line per check: "ok - <name>" or "not ok - <name>: why".
# A suite that exits non-zero without reporting a failure counts as one failure.
# The run ends with exactly one line "N passed, N failed" and exits non-zero on
# any failure.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
log=build/tests/logs
mkdir -p "$log"
pass=0 fail=0
only=${AUTHCORE_SUITES:-}
start=$(date +%s)
for s in tests/suites/*.sh; do
  name=$(basename "$s" .sh)
  if [ -n "$only" ] && ! grep -qw -- "$name" <<<"$only"; then continue; fi
  t0=$(date +%s)
  echo "=== $name"
  bash "$s" > "$log/$name.out" 2> "$log/$name.err"
  rc=$?
  p=$(grep -c '^ok ' "$log/$name.out")
  f=$(grep -c '^not ok ' "$log/$name.out")
  grep -E '^# ' "$log/$name.out" | head -3
  grep -E '^not ok ' "$log/$name.out" | head -40
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
    echo "not ok - $name: suite exited $rc without reporting a failure"
    tail -20 "$log/$name.err" | sed 's/^/#   /'
    f=1
  elif [ "$f" -gt 0 ]; then
    tail -20 "$log/$name.err" | sed 's/^/#   /'
  fi
  echo "    $name: $p passed, $f failed ($(( $(date +%s) - t0 ))s)"
  pass=$((pass + p)); fail=$((fail + f))
done
echo "# total time $(( $(date +%s) - start ))s; logs in $log"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
