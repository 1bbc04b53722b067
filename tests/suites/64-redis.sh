#!/usr/bin/env bash
# The shared store on a real Redis (Debian's redis-server, loopback), the CLI
# as each member of a fleet: limits across members and under races,
# revocation through one member seen by all, Redis killed and restarted.
# Driver: tests/hosts/redis_cli.py.
set -u
cd "$(dirname "$0")/../.."
exec timeout -k 10 300 python3 tests/hosts/redis_cli.py
