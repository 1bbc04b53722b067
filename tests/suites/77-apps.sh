#!/usr/bin/env bash
# The seed dashboards behind authcore, for real: fastapi-taskflow, taskito,
# asyncmq and taskiq-flow from PyPI (pinned, tests/apps/requirements.txt),
# each with its own auth off and its migration guide's policy and glue
# (docs/migrating/), behind Envoy and nginx (the app verifies the
# upstream_identity assertion) and in-process (AuthcoreMiddleware) where the
# app is ASGI. Headless Chromium signs in, sees the app show the user's
# name, uses the app's CSRF-protected action, is refused from another
# origin, signs out, and a viewer is refused the action. One
# "ok - <app> <host>: <check>" per check. Loopback only; every wait is
# bounded. Driver: tests/apps/run.py.
set -u
cd "$(dirname "$0")/../.."
exec timeout -k 10 420 build/apps-venv/bin/python tests/apps/run.py
