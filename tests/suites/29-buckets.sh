#!/usr/bin/env bash
# Rate-limit buckets (core/ac_bucket.c, tests/unit/test_bucket.c): the keyed
# placement against SipHash-2-4's vectors, GCRA against an exact token
# bucket and its bounds, the 64-byte groups' slot rules and how many live
# buckets a table at 32 bytes per key evicts. Rate limits over the store
# protocol (tests/unit/test_store.c): the rate_limits loader, reads /
# supply / finish / writes, lost compare-and-sets, store errors, the local
# table and the stage's answers. Each natively (heap calls counted), under
# ASan+UBSan, and as wasm32-wasi under Node.
cd "$(dirname "$0")/../.." && . tests/lib/suite.sh
for t in test_bucket test_store; do
  need build/tests/$t build/tests/$t-asan build/tests/$t.wasm
  [ -x build/tests/$t ] && run native build/tests/$t
  [ -x build/tests/$t-asan ] && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
    run asan+ubsan build/tests/$t-asan
  [ -e build/tests/$t.wasm ] && run wasm-node node --no-warnings tests/unit/run_wasi.mjs build/tests/$t.wasm
done
exit $rc
