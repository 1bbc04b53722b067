#!/usr/bin/env bash
# The login flow in a real browser: headless Debian Chromium, driven by
# playwright-core (npm, pinned; the system browser, never a downloaded one),
# against Envoy, nginx and workerd each in front of the demo dashboard
# (tools/demo/dashboard.py) with the demo policy and the administrator from
# the environment: redirect to the login page, a wrong password, login by
# the labelled fields, a CSRF-protected Retry, a POST without the token
# refused 403, sign out, redirect again. One "ok - <host>: <step>" per step.
# Then CORS: pages on two other origins fetch with credentials from each
# host whose policy allows the first only; the browser itself lets that one
# read the answers and keeps them from the other ("ok - <host>: cors: ...").
# Loopback only; every wait is bounded. Driver: tests/browser/run.py.
set -u
cd "$(dirname "$0")/../.."
exec timeout -k 10 600 python3 tests/browser/run.py
