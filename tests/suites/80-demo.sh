#!/usr/bin/env bash
# `make demo` end to end: Envoy + filter + demo upstream, a freshly minted
# token (200, identity echoed), none (401), a reader on an admin route (403).
cd "$(dirname "$0")/../.."
out=$(AUTHCORE_DEMO_SELFTEST=1 timeout 120 bash tools/demo.sh 2>&1)
rc=$?
echo "$out" | sed 's/^/# /' | tail -8
if [ $rc -eq 0 ]; then echo "ok - make demo self-test: 200 with identity, 401, 403"
else echo "not ok - make demo self-test exited $rc"; fi
