#!/usr/bin/env bash
# Session, CSRF and API-key unit tests (tests/unit/test_session.c): natively
# (with heap-call counting), under ASan+UBSan, and compiled to wasm32-wasi
# under Node; then the independent Python re-implementation of the three
# formats (tests/unit/session_xcheck.py) checks the C code both ways.
# Each run has a time limit: the wildcard tests include patterns that would
# never finish under a backtracking matcher.
cd "$(dirname "$0")/../.." && . tests/lib/suite.sh
need build/tests/test_session build/tests/test_session-asan build/tests/test_session.wasm
[ -x build/tests/test_session ] && run native build/tests/test_session
[ -x build/tests/test_session-asan ] && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
  run asan+ubsan build/tests/test_session-asan
[ -e build/tests/test_session.wasm ] && run wasm-node node --no-warnings tests/unit/run_wasi.mjs build/tests/test_session.wasm
[ -x build/tests/test_session ] && run python-xcheck python3 tests/unit/session_xcheck.py build/tests/test_session
exit $rc
