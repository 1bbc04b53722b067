#!/usr/bin/env bash
# libFuzzer over the core, one target per parser plus the whole decision
# (tests/fuzz/fuzz_*.c, ASan+UBSan), each for a bounded time:
# AUTHCORE_FUZZ_SECONDS per target (default 8 here; `make fuzz` runs them
# longer). One line per target; see tests/fuzz/run.sh.
cd "$(dirname "$0")/../.." || exit 1
export AUTHCORE_FUZZ_SECONDS=${AUTHCORE_FUZZ_SECONDS:-8}
targets="fuzz_b64 fuzz_json fuzz_jws fuzz_jwk fuzz_policy fuzz_limits fuzz_login fuzz_decide fuzz_fetch fuzz_oidc fuzz_redis"
# the path canonicaliser's target, once the core has it (as in fuzz.mk)
[ -f core/ac_request.c ] && targets="$targets fuzz_canon"
exec bash tests/fuzz/run.sh $targets
