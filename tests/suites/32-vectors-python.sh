#!/usr/bin/env bash
# The Python package (hosts/python) over the native flat ABI
# (build/lib/libauthcore_acw.so): every decision vector case through
# Auth.decide and through the ASGI middleware (tests/hosts/python_vectors.py);
# then the middleware in uvicorn with real HTTP and WebSocket clients
# (tests/hosts/python_request.py); then authcore.identity verifying the
# core's upstream_identity assertions, and its middleware in uvicorn
# (tests/hosts/python_identity.py); then keys from a JWKS URL fetched off
# the event loop from a real OpenID Provider (tests/hosts/python_jwks.py);
# then two uvicorn processes sharing a store on a real redis-server: limits,
# connection caps (a stream, a WebSocket), revocation and the login
# throttle counted once for both, Redis killed, hung and back
# (tests/hosts/python_redis.py);
# then `pip install hosts/python` into a
# fresh venv (tests/hosts/python_install.py).
set -u
cd "$(dirname "$0")/../.."
PY=build/venv/bin/python
rc=0
timeout 300 $PY tests/hosts/python_vectors.py || rc=$?
timeout 300 $PY tests/hosts/python_request.py || rc=$?
timeout 300 $PY tests/hosts/python_identity.py || rc=$?
timeout 120 $PY tests/hosts/python_jwks.py || rc=$?
timeout 90 $PY tests/hosts/python_redis.py || rc=$?
timeout 300 $PY tests/hosts/python_install.py || rc=$?
exit $rc
