#!/usr/bin/env bash
# Core unit tests: natively (with heap-call counting), under ASan+UBSan, and
# the same tests compiled to wasm32-wasi and run under Node.
cd "$(dirname "$0")/../.." && . tests/lib/suite.sh
need build/tests/unit build/tests/unit-asan build/tests/unit.wasm
run native build/tests/unit
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 run asan+ubsan build/tests/unit-asan
run wasm-node node --no-warnings tests/unit/run_wasi.mjs build/tests/unit.wasm
exit $rc
