#!/usr/bin/env bash
# Runs libFuzzer targets (build/tests/fuzz_*) one after another, each for
# AUTHCORE_FUZZ_SECONDS (-max_total_time), and prints one line per target:
#   ok - fuzz <target> (<s>s): <execs> execs (~<rate>/s), coverage N, corpus N
#   not ok - fuzz <target>: <why>; input: <artifact>
# Usage: tests/fuzz/run.sh fuzz_b64 fuzz_json ...
#
# Each target works on build/tests/fuzz/<target>/corpus, seeded from
# tests/fuzz/corpus/<target>/ and keeping what earlier runs found
# (git-ignored); crash, leak and timeout inputs go to
# build/tests/fuzz/<target>/artifacts/. Any crash, leak, sanitizer report,
# per-input timeout (10 s), or a run that does not end by itself is a
# failure. tests/fuzz/corpus/<target>/regress-* are inputs that once found
# core bugs. AUTHCORE_FUZZ_JOBS=2 runs two targets at a time.
cd "$(dirname "$0")/../.." || exit 1
secs=${AUTHCORE_FUZZ_SECONDS:-60}
jobs=${AUTHCORE_FUZZ_JOBS:-1}
case $secs in ''|*[!0-9]*|0) echo "not ok - fuzz: AUTHCORE_FUZZ_SECONDS=$secs is not a positive integer"; exit 1;; esac
case $jobs in 1|2|3|4) ;; *) jobs=1;; esac

one() {
  local t=$1 bin=build/tests/$1 work=build/tests/fuzz/$1
  local corpus=$work/corpus art=$work/artifacts log=$work/fuzz.log
  local rc execs secs_run cov units arts why rate
  if [ ! -x "$bin" ]; then
    echo "not ok - fuzz $t: $bin not built (make test-bins)"
    return 1
  fi
  mkdir -p "$corpus"
  rm -rf "$art" && mkdir -p "$art"
  if [ -d "tests/fuzz/corpus/$t" ]; then
    cp -n "tests/fuzz/corpus/$t"/* "$corpus"/ 2>/dev/null
  fi
  # libFuzzer stops itself after -max_total_time; the outer timeout only
  # catches a hang outside any single input (it then counts as a failure).
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  timeout -k 10 $((secs + 120)) nice "$bin" \
    -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 -max_len=16384 \
    -print_final_stats=1 -artifact_prefix="$art/" \
    "$corpus" > "$log" 2>&1
  rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  secs_run=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$log" | tail -1)
  cov=$(grep -E '^#[0-9]+.*(DONE|pulse|NEW|REDUCE|INITED).*cov:' "$log" | tail -1 | sed -n 's/.*cov: \([0-9]*\).*/\1/p')
  units=$(ls "$corpus" | wc -l)
  arts=$(ls -1 "$art" 2>/dev/null | sed "s|^|$art/|" | tr '\n' ' ')
  if [ "$rc" -eq 0 ] && [ -z "$arts" ] && [ -n "$execs" ]; then
    rate=$(( execs / (${secs_run:-0} > 0 ? secs_run : 1) ))
    echo "ok - fuzz $t (${secs}s): $execs execs (~$rate/s), coverage ${cov:-?}, corpus $units, no crash"
    return 0
  fi
  if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
    why="did not stop after ${secs}s (killed)"
  else
    why=$(grep -m1 -E '^==[0-9]+==ERROR|runtime error:|^SUMMARY:|fuzz_[a-z0-9]*: invariant broken|fuzz_[a-z0-9]*: .*heap calls|ERROR: libFuzzer' "$log" | sed 's/^==[0-9]*==//')
    [ -n "$why" ] || why="fuzzer exited $rc"
  fi
  echo "not ok - fuzz $t: $why; input: ${arts:-none}(full log: $log)"
  # the report and stack, for the log of the suite
  grep -E 'fuzz_[a-z0-9]*:|runtime error|ERROR|SUMMARY|^    #[0-9]+ ' "$log" | grep -v 'in fuzzer::' | head -40 >&2
  for a in $arts; do
    echo "# input $a (hex): $(head -c 256 "$a" | xxd -p | tr -d '\n')$( [ "$(stat -c %s "$a")" -gt 256 ] && echo ...)" >&2
  done
  return 1
}

fail=0
if [ "$jobs" -gt 1 ]; then
  tmp=$(mktemp -d)
  running=0
  for t in "$@"; do
    ( one "$t" > "$tmp/$t.out" ) &
    running=$((running + 1))
    if [ "$running" -ge "$jobs" ]; then wait -n; running=$((running - 1)); fi
  done
  wait
  for t in "$@"; do
    cat "$tmp/$t.out"
    grep -q '^not ok' "$tmp/$t.out" && fail=1
  done
  rm -rf "$tmp"
else
  for t in "$@"; do
    one "$t" || fail=1
  done
fi
exit $fail
