#!/usr/bin/env bash
# The edge package in real Deno: Deno.serve on loopback loading authcore.wasm
# as bytes, one server per vector file (its env in the environment), every
# case over HTTP with its body, every Set-Cookie and the body checked; a bad
# policy fails closed.
# Driver: tests/hosts/edge/edge_suite.py.
set -u
cd "$(dirname "$0")/../.."
exec timeout 150 python3 tests/hosts/edge/edge_suite.py deno
