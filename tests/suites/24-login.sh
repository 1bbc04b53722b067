#!/usr/bin/env bash
# Login-flow unit tests (tests/unit/test_login.c): policy errors for users,
# login, passwords and the administrator from the environment; pending
# decisions stepped and resumed; verdicts bound to their credentials; cookies;
# attempt limits; the Basic cache. Natively (with heap-call counting), under
# ASan+UBSan, and as wasm32-wasi under Node.
cd "$(dirname "$0")/../.." && . tests/lib/suite.sh
need build/tests/test_login build/tests/test_login-asan build/tests/test_login.wasm
[ -x build/tests/test_login ] && run native build/tests/test_login
[ -x build/tests/test_login-asan ] && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
  run asan+ubsan build/tests/test_login-asan
[ -e build/tests/test_login.wasm ] && run wasm-node node --no-warnings tests/unit/run_wasi.mjs build/tests/test_login.wasm
exit $rc
