#!/usr/bin/env bash
# Decision vectors through the native core (the CLI's `decide`).
cd "$(dirname "$0")/../.." && exec python3 tests/hosts/native_vectors.py
