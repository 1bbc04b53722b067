#!/usr/bin/env bash
# libFuzzer over the core (tests/fuzz/fuzz_jwt.c, ASan+UBSan) for a bounded
# time. AUTHCORE_FUZZ_SECONDS (default 60) sets -max_total_time.
#
# Works on a copy of tests/fuzz/corpus in build/tests/fuzz/corpus, which keeps
# what earlier runs found (git-ignored); crash, leak and timeout inputs go to
# build/tests/fuzz/artifacts/. Any crash, leak, sanitizer report, per-input
# timeout (10 s), or a run that does not end by itself is a failure.
# tests/fuzz/corpus/regress-* are inputs that once found core bugs.
cd "$(dirname "$0")/../.." || exit 1
bin=build/tests/fuzz_jwt
secs=${AUTHCORE_FUZZ_SECONDS:-60}
work=build/tests/fuzz
corpus=$work/corpus
art=$work/artifacts
log=$work/fuzz.log

if [ ! -x "$bin" ]; then
  echo "not ok - fuzz fuzz_jwt: $bin not built (make test-bins)"
  exit 1
fi
case $secs in ''|*[!0-9]*|0) echo "not ok - fuzz fuzz_jwt: AUTHCORE_FUZZ_SECONDS=$secs is not a positive integer"; exit 1;; esac

mkdir -p "$corpus"
rm -rf "$art" && mkdir -p "$art"
cp -n tests/fuzz/corpus/* "$corpus"/

# libFuzzer stops itself after -max_total_time; the outer timeout only
# catches a hang outside any single input (it then counts as a failure).
ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
timeout -k 10 $((secs + 120)) "$bin" \
  -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 -max_len=16384 \
  -print_final_stats=1 -artifact_prefix="$art/" \
  "$corpus" > "$log" 2>&1
rc=$?

execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
secs_run=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$log" | tail -1)
cov=$(grep -E '^#[0-9]+.*(DONE|pulse|NEW|REDUCE).*cov:' "$log" | tail -1 | sed -n 's/.*cov: \([0-9]*\).*/\1/p')
units=$(ls "$corpus" | wc -l)

arts=$(ls -1 "$art" 2>/dev/null | sed "s|^|$art/|" | tr '\n' ' ')
if [ "$rc" -eq 0 ] && [ -z "$arts" ] && [ -n "$execs" ]; then
  rate=$(( execs / (secs_run > 0 ? secs_run : 1) ))
  echo "ok - fuzz fuzz_jwt (${secs}s): $execs execs (~$rate/s), coverage $cov, corpus $units, no crash"
  exit 0
fi
if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
  why="did not stop after ${secs}s (killed)"
else
  why=$(grep -m1 -E '^==[0-9]+==ERROR|runtime error:|^SUMMARY:|fuzz_jwt: invariant broken|fuzz_jwt: core called|ERROR: libFuzzer' "$log" | sed 's/^==[0-9]*==//')
  [ -n "$why" ] || why="fuzzer exited $rc"
fi
echo "not ok - fuzz fuzz_jwt: $why; input: ${arts:-none}(full log: $log)"
# the report and stack, for the log of this suite
grep -E 'fuzz_jwt:|runtime error|ERROR|SUMMARY|^    #[0-9]+ ' "$log" | grep -v 'in fuzzer::' | head -40 >&2
for a in $arts; do
  echo "# input $a (hex): $(head -c 256 "$a" | xxd -p | tr -d '\n')$( [ "$(stat -c %s "$a")" -gt 256 ] && echo ...)" >&2
done
exit 1
