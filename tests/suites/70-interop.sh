#!/usr/bin/env bash
# Interop with PyJWT (pinned in tools/requirements.txt) and jose (package-lock.json).
cd "$(dirname "$0")/../.." && exec build/venv/bin/python tests/interop/interop.py
