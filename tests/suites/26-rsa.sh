#!/usr/bin/env bash
# The RSA public operation (core/ac_rsa.c) against BearSSL's, and the RS*/PS*
# signature checks on it (tests/unit/test_rsa.c): natively (with heap-call
# counting), under ASan+UBSan with 64-bit and with 32-bit limbs (the wasm
# arithmetic), and compiled to wasm32-wasi under Node.
cd "$(dirname "$0")/../.." && . tests/lib/suite.sh
need build/tests/rsa build/tests/rsa-asan build/tests/rsa32-asan build/tests/rsa.wasm
[ -x build/tests/rsa ] && run native build/tests/rsa
[ -x build/tests/rsa-asan ] && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
  run asan+ubsan build/tests/rsa-asan
[ -x build/tests/rsa32-asan ] && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
  run asan+ubsan-limb32 build/tests/rsa32-asan
[ -e build/tests/rsa.wasm ] && run wasm-node node --no-warnings tests/unit/run_wasi.mjs build/tests/rsa.wasm
exit $rc
