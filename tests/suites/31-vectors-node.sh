#!/usr/bin/env bash
# The wasm core under Node (the edge package in build/edge): auth.decide on
# every decision vector case (bodies, the file's env, one login state per
# file), auth.handle on the same cases as Fetch Requests (password checks in
# slices), every Set-Cookie and the body checked; bad policies rejecting with
# their JSON path; the apply layer (response headers, serve, the body cap).
# Driver: tests/hosts/edge/edge_suite.py. Then the request tests
# (tests/hosts/edge/request_suite.py): the client address the runtime gives,
# login throttling per address, https from the connection, bounded password
# checks, a rate limit counted per peer address.
# Then keys from a JWKS URL (tests/hosts/edge/jwks_edge.py): fetched from a
# real OpenID Provider while the decision waits, rotation, outage, hostile
# answers.
set -u
cd "$(dirname "$0")/../.."
timeout 150 python3 tests/hosts/edge/edge_suite.py node
rc=$?
timeout 150 python3 tests/hosts/edge/request_suite.py node || rc=$?
timeout 120 python3 tests/hosts/edge/jwks_edge.py node || rc=$?
exit $rc
