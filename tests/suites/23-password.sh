#!/usr/bin/env bash
# PBKDF2 and password hash strings (tests/unit/test_password.c): natively
# (with heap-call counting), under ASan+UBSan, and compiled to wasm32-wasi
# under Node; the Wycheproof PBKDF2 vectors natively and under ASan+UBSan;
# then tests/unit/password_xcheck.py checks the C code against Python's
# hashlib both ways, and tests/unit/taskito_xcheck.py checks the C API, the
# CLI and a login against the users taskito's own dashboard code stores.
# Each run has a time limit: a verifier that did the work
# of an over-limit count before refusing it would never finish.
cd "$(dirname "$0")/../.." && . tests/lib/suite.sh
WP=$(shared_dir)/vectors/wycheproof
need build/tests/test_password build/tests/test_password-asan build/tests/test_password.wasm \
  build/tests/test_password_wycheproof build/tests/test_password_wycheproof-asan build/bin/authcore
[ -x build/tests/test_password ] && run native build/tests/test_password
[ -x build/tests/test_password-asan ] && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
  run asan+ubsan build/tests/test_password-asan
[ -e build/tests/test_password.wasm ] && run wasm-node node --no-warnings tests/unit/run_wasi.mjs build/tests/test_password.wasm
[ -x build/tests/test_password_wycheproof ] && run wycheproof build/tests/test_password_wycheproof "$WP"
[ -x build/tests/test_password_wycheproof-asan ] && ASAN_OPTIONS=detect_leaks=1 \
  run wycheproof-asan+ubsan build/tests/test_password_wycheproof-asan "$WP"
[ -x build/tests/test_password ] && run python-xcheck python3 tests/unit/password_xcheck.py build/tests/test_password
[ -x build/tests/test_password ] && [ -x build/bin/authcore ] && run taskito \
  build/venv/bin/python tests/unit/taskito_xcheck.py build/tests/test_password build/bin/authcore
exit $rc
