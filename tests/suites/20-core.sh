#!/usr/bin/env bash
# Core unit tests: natively (with heap-call counting), under ASan+UBSan, and
# the same tests compiled to wasm32-wasi and run under Node.
cd "$(dirname "$0")/../.." && . tests/lib/suite.sh
need build/tests/test_core build/tests/test_core-asan build/tests/test_core.wasm
run native build/tests/test_core
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 run asan+ubsan build/tests/test_core-asan
run wasm-node node --no-warnings tests/unit/run_wasi.mjs build/tests/test_core.wasm
exit $rc
