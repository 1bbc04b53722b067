#!/usr/bin/env bash
# Session, CSRF and API-key unit tests (tests/unit/test_session.c): natively
# (with heap-call counting), under ASan+UBSan, and compiled to wasm32-wasi
# under Node; then the independent Python re-implementation of the three
# formats (tests/unit/session_xcheck.py) checks the C code both ways.
# Each run has a time limit: the wildcard tests include patterns that would
# never finish under a backtracking matcher.
cd "$(dirname "$0")/../.." && . tests/lib/suite.sh
need build/tests/session build/tests/session-asan build/tests/session.wasm
[ -x build/tests/session ] && run native build/tests/session
[ -x build/tests/session-asan ] && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
  run asan+ubsan build/tests/session-asan
[ -e build/tests/session.wasm ] && run wasm-node node --no-warnings tests/unit/run_wasi.mjs build/tests/session.wasm
[ -x build/tests/session ] && run python-xcheck python3 tests/unit/session_xcheck.py build/tests/session
exit $rc
