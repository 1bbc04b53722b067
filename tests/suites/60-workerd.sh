#!/usr/bin/env bash
# The edge package in real workerd: a Worker that imports authcore.mjs and
# authcore.wasm, one config per vector file (its env as text bindings), every
# case over HTTP on loopback with its body, every Set-Cookie and the body
# checked; a bad policy fails closed; the shipped example runs as is.
# Driver: tests/hosts/edge/edge_suite.py. Then the request tests
# (tests/hosts/edge/request_suite.py): the client address the runtime gives,
# login throttling per address, https from the connection, bounded password
# checks, a rate limit counted per CF-Connecting-IP and per isolate (another
# Worker counts the same client from zero).
# Then keys from a JWKS URL (tests/hosts/edge/jwks_edge.py): fetched from a
# real OpenID Provider while the decision waits, rotation, outage, hostile
# answers.
set -u
cd "$(dirname "$0")/../.."
timeout 150 python3 tests/hosts/edge/edge_suite.py workerd
rc=$?
timeout 150 python3 tests/hosts/edge/request_suite.py workerd || rc=$?
timeout 120 python3 tests/hosts/edge/jwks_edge.py workerd || rc=$?
exit $rc
