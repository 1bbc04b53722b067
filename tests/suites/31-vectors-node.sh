#!/usr/bin/env bash
# The wasm core under Node (the edge package in build/edge): auth.decide on
# every decision vector case, auth.handle on the same cases as Fetch Requests,
# bad policies rejecting with their JSON path.
# Driver: tests/hosts/edge/edge_suite.py.
set -u
cd "$(dirname "$0")/../.."
exec timeout 150 python3 tests/hosts/edge/edge_suite.py node
