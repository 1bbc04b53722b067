#!/usr/bin/env bash
# ECDSA verification on P-256, P-384 and P-521 (core/ac_ecdsa.c) against
# BearSSL's, and the ES* checks and EC key loading on it
# (tests/unit/test_ecdsa.c): natively (with heap-call counting), under
# ASan+UBSan with 64-bit and with 32-bit limbs (the wasm arithmetic), and
# compiled to wasm32-wasi under Node.
cd "$(dirname "$0")/../.." && . tests/lib/suite.sh
need build/tests/test_ecdsa build/tests/test_ecdsa-asan build/tests/test_ecdsa-limb32-asan build/tests/test_ecdsa.wasm
# natively one curve per run: BearSSL's P-384 and P-521 checks are slow
for c in P-256 P-384 P-521; do
  [ -x build/tests/test_ecdsa ] && run "native-$c" build/tests/test_ecdsa $c
done
[ -x build/tests/test_ecdsa-asan ] && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
  run asan+ubsan build/tests/test_ecdsa-asan
[ -x build/tests/test_ecdsa-limb32-asan ] && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
  run asan+ubsan-limb32 build/tests/test_ecdsa-limb32-asan
[ -e build/tests/test_ecdsa.wasm ] && run wasm-node node --no-warnings tests/unit/run_wasi.mjs build/tests/test_ecdsa.wasm
exit $rc
