#!/usr/bin/env bash
# Login-flow unit tests (tests/unit/test_login.c): policy errors for users,
# login, passwords and the administrator from the environment; pending
# decisions stepped and resumed; verdicts bound to their credentials; cookies;
# attempt limits; the Basic cache. Natively (with heap-call counting), under
# ASan+UBSan, and as wasm32-wasi under Node.
cd "$(dirname "$0")/../.." && . tests/lib/suite.sh
need build/tests/login build/tests/login-asan build/tests/login.wasm
[ -x build/tests/login ] && run native build/tests/login
[ -x build/tests/login-asan ] && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
  run asan+ubsan build/tests/login-asan
[ -e build/tests/login.wasm ] && run wasm-node node --no-warnings tests/unit/run_wasi.mjs build/tests/login.wasm
exit $rc
