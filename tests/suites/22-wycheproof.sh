#!/usr/bin/env bash
# Wycheproof HMAC, ECDSA (P1363) and RSA PKCS#1 vectors through the core's
# JWS checks and key loaders, natively and under ASan+UBSan.
cd "$(dirname "$0")/../.." && . tests/lib/suite.sh
dir=$(shared_dir)/vectors/wycheproof
need build/tests/test_wycheproof build/tests/test_wycheproof-asan
run native build/tests/test_wycheproof "$dir"
run asan+ubsan build/tests/test_wycheproof-asan "$dir"
exit $rc
