#!/usr/bin/env bash
# The shared store on a real Redis (Debian's redis-server, loopback). First
# the CLI as each member of a fleet: limits across members and under races,
# revocation through one member seen by all, Redis killed and restarted
# (tests/hosts/redis_cli.py). Then the whole fleet: two Envoys (two
# workers each, through webdis), nginx with two workers, a Node edge server
# and the CLI: one limit and one login throttle across all, a session
# signed out through any member refused by every other, Redis killed
# mid-run and restarted with every member left running
# (tests/hosts/redis_fleet.py). Then two Envoys (two workers each) beside
# the CLI, reaching Redis through webdis: the same checks, a connection cap
# across both Envoys (streams held open, released in Redis when they end), a
# policy without a gateway refused, and the latency the gateway adds
# (tests/hosts/redis_envoy.py).
set -u
cd "$(dirname "$0")/../.."
rc=0
timeout -k 10 300 python3 tests/hosts/redis_cli.py || rc=1
timeout -k 10 300 python3 tests/hosts/redis_fleet.py --wasm build/authcore-proxy.wasm \
  --workdir build/tests/redis-fleet || rc=1
timeout -k 10 300 python3 tests/hosts/redis_envoy.py --wasm build/authcore-proxy.wasm \
  --workdir build/tests/redis-envoy || rc=1
exit $rc
