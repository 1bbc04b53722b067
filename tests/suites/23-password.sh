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
need build/tests/password build/tests/password-asan build/tests/password.wasm \
  build/tests/password-wycheproof build/tests/password-wycheproof-asan build/bin/authcore
[ -x build/tests/password ] && run native build/tests/password
[ -x build/tests/password-asan ] && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
  run asan+ubsan build/tests/password-asan
[ -e build/tests/password.wasm ] && run wasm-node node --no-warnings tests/unit/run_wasi.mjs build/tests/password.wasm
[ -x build/tests/password-wycheproof ] && run wycheproof build/tests/password-wycheproof "$WP"
[ -x build/tests/password-wycheproof-asan ] && ASAN_OPTIONS=detect_leaks=1 \
  run wycheproof-asan+ubsan build/tests/password-wycheproof-asan "$WP"
[ -x build/tests/password ] && run python-xcheck python3 tests/unit/password_xcheck.py build/tests/password
[ -x build/tests/password ] && [ -x build/bin/authcore ] && run taskito \
  build/venv/bin/python tests/unit/taskito_xcheck.py build/tests/password build/bin/authcore
exit $rc
