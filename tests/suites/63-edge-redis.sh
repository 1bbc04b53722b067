#!/usr/bin/env bash
# The edge package with a shared store on Redis: Debian's redis-server on
# loopback (a free port, nothing saved) and two edge servers with the same
# policy sharing it, two Node servers, then a Node and a Deno one, then a
# Node and a workerd one (Redis over workerd's TCP sockets): a rate
# limit and a connection cap count once for the fleet, a logout at one
# server revokes the session at the other; Redis killed, limits count in
# each server's own table (audited "store_fallback":"local") and sessions
# answer 503 store_unavailable, no server exits; Redis back, both work in
# it again. Driver: tests/hosts/edge/redis_edge.py.
set -u
cd "$(dirname "$0")/../.."
timeout 120 python3 tests/hosts/edge/redis_edge.py node deno workerd
