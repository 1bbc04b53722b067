#!/usr/bin/env bash
# The request-confusion corpus (tests/vectors/confusion.json) through Envoy,
# nginx, workerd, Deno and Node in front of real Python upstreams (Flask under
# gunicorn and waitress; FastAPI, with the Flask app mounted through a2wsgi,
# under uvicorn with httptools and with h11), and through the native and wasm
# cores' decisions: no spelling of a request may reach a handler the policy
# denies its caller, no identity but the token's may reach an app, no
# consumed credential may be forwarded, and refusals carry the core's status
# (tests/upstreams/confusion.py). Loopback only; logs and configs in
# build/tests/confusion/.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
for f in build/bin/authcore build/authcore-proxy.wasm build/nginx/ngx_http_authcore_module.so \
    build/edge/authcore.mjs; do
  [ -e "$f" ] || { echo "not ok - confusion corpus: $f is not built (make all)"; exit 1; }
done
for m in flask gunicorn waitress fastapi a2wsgi uvicorn httptools h11; do
  build/venv/bin/python -c "import $m" 2>/dev/null ||
    { echo "not ok - confusion corpus: Python package $m missing (make deps)"; exit 1; }
done
exec timeout -k 10 500 python3 tests/upstreams/confusion.py
