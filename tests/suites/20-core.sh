#!/usr/bin/env bash
# Core unit tests: natively (with heap-call counting), under ASan+UBSan, and
# the same tests compiled to wasm32-wasi and run under Node. test_redis_gateway:
# the shared store through an HTTP gateway (core/ac_redis_gateway.c).
cd "$(dirname "$0")/../.." && . tests/lib/suite.sh
for t in test_core test_cache test_jwks test_oidc test_revoke test_redis test_redis_gateway; do
  need build/tests/$t build/tests/$t-asan build/tests/$t.wasm
  run native build/tests/$t
  ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 run asan+ubsan build/tests/$t-asan
  run wasm-node node --no-warnings tests/unit/run_wasi.mjs build/tests/$t.wasm
done
exit $rc
