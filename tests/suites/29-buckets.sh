#!/usr/bin/env bash
# Rate-limit buckets (core/ac_bucket.c, tests/unit/test_bucket.c): the keyed
# placement against SipHash-2-4's vectors, GCRA against an exact token
# bucket and its bounds, the 64-byte groups' slot rules and how many live
# buckets a table at 32 bytes per key evicts: natively (heap calls
# counted), under ASan+UBSan, and as wasm32-wasi under Node.
cd "$(dirname "$0")/../.." && . tests/lib/suite.sh
need build/tests/test_bucket build/tests/test_bucket-asan build/tests/test_bucket.wasm
[ -x build/tests/test_bucket ] && run native build/tests/test_bucket
[ -x build/tests/test_bucket-asan ] && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
  run asan+ubsan build/tests/test_bucket-asan
[ -e build/tests/test_bucket.wasm ] && run wasm-node node --no-warnings tests/unit/run_wasi.mjs build/tests/test_bucket.wasm
exit $rc
