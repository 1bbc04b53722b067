#!/usr/bin/env bash
# Wycheproof HMAC, ECDSA (P1363) and RSA PKCS#1 vectors through the core's
# JWS checks and key loaders, natively and under ASan+UBSan.
cd "$(dirname "$0")/../.."
dir=../shared/vectors/wycheproof
rc=0
build/tests/wycheproof "$dir" | sed 's/^\(not \)\?ok - /&native: /' || rc=1
build/tests/wycheproof-asan "$dir" | sed 's/^\(not \)\?ok - /&asan+ubsan: /'
[ "${PIPESTATUS[0]}" -eq 0 ] || rc=1
exit $rc
