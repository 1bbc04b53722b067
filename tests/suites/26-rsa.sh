#!/usr/bin/env bash
# The RSA public operation (core/ac_rsa.c) against BearSSL's, and the RS*/PS*
# signature checks on it (tests/unit/test_rsa.c): natively (with heap-call
# counting), under ASan+UBSan with 64-bit limbs, with 64-bit limbs whose
# products are made of 32-bit ones (the wasm arithmetic) and with 32-bit
# limbs, and compiled to wasm32-wasi under Node.
cd "$(dirname "$0")/../.." && . tests/lib/suite.sh
need build/tests/test_rsa build/tests/test_rsa-asan build/tests/test_rsa-lanes-asan build/tests/test_rsa-limb32-asan build/tests/test_rsa.wasm
[ -x build/tests/test_rsa ] && run native build/tests/test_rsa
[ -x build/tests/test_rsa-asan ] && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
  run asan+ubsan build/tests/test_rsa-asan
[ -x build/tests/test_rsa-lanes-asan ] && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
  run asan+ubsan-lanes build/tests/test_rsa-lanes-asan
[ -x build/tests/test_rsa-limb32-asan ] && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
  run asan+ubsan-limb32 build/tests/test_rsa-limb32-asan
[ -e build/tests/test_rsa.wasm ] && run wasm-node node --no-warnings tests/unit/run_wasi.mjs build/tests/test_rsa.wasm
exit $rc
