#!/usr/bin/env bash
# Core unit tests: natively (with heap-call counting), under ASan+UBSan, and
# the same tests compiled to wasm32-wasi and run under Node.
cd "$(dirname "$0")/../.."
rc=0
build/tests/unit | sed 's/^\(not \)\?ok - /&native: /' || rc=1
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 build/tests/unit-asan | sed 's/^\(not \)\?ok - /&asan+ubsan: /'
[ "${PIPESTATUS[0]}" -eq 0 ] || rc=1
node --no-warnings tests/unit/run_wasi.mjs build/tests/unit.wasm | sed 's/^\(not \)\?ok - /&wasm-node: /'
[ "${PIPESTATUS[0]}" -eq 0 ] || rc=1
exit $rc
