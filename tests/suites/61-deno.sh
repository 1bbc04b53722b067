#!/usr/bin/env bash
# The edge package in real Deno: Deno.serve on loopback loading authcore.wasm
# as bytes, one server per vector file (its env in the environment), every
# case over HTTP with its body, every Set-Cookie and the body checked; a bad
# policy fails closed.
# Driver: tests/hosts/edge/edge_suite.py. Then the request tests
# (tests/hosts/edge/request_suite.py): the client address the runtime gives,
# login throttling per address, https from the connection, bounded password
# checks, a rate limit counted per peer address.
# Then keys from a JWKS URL (tests/hosts/edge/jwks_edge.py): fetched from a
# real OpenID Provider while the decision waits, rotation, outage, hostile
# answers.
set -u
cd "$(dirname "$0")/../.."
timeout 150 python3 tests/hosts/edge/edge_suite.py deno
rc=$?
timeout 150 python3 tests/hosts/edge/request_suite.py deno || rc=$?
timeout 120 python3 tests/hosts/edge/jwks_edge.py deno || rc=$?
exit $rc
