#!/usr/bin/env bash
# The Python package (hosts/python) over the native flat ABI
# (build/lib/libauthcore_acw.so): every decision vector case through
# Auth.decide and through the ASGI middleware (tests/hosts/python_vectors.py).
set -u
cd "$(dirname "$0")/../.."
PY=build/venv/bin/python
rc=0
timeout 300 $PY tests/hosts/python_vectors.py || rc=$?
exit $rc
