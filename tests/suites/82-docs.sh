#!/usr/bin/env bash
# The documentation as a user runs it: every code block of README.md,
# hosts/*/README.md, docs/{policy,formats,passwords,login}.md and docs/examples/*.md
# is marked with what it is
# (<!-- doc-test: KIND -->) or why it cannot run, and each marked block runs
# from a scratch folder against this build: policies through `authcore
# policy check`, console lines with their output, the C program compiled
# with -Wall -Werror, nginx and Envoy started with the documented
# configuration, the Worker/Deno/Node code with the edge package. Driver:
# tests/docs/run_docs.py (tests/docs/blocks.py finds the blocks).
set -u
cd "$(dirname "$0")/../.."
exec timeout 600 python3 tests/docs/run_docs.py
