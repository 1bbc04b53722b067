#!/usr/bin/env bash
# nginx host: the decision vectors through Debian's nginx with the authcore
# dynamic module (build/nginx/ngx_http_authcore_module.so, built by `make all`)
# in front of tests/lib/echo.py, plus `nginx -t` checks of bad policies.
# Loopback only; every wait is bounded (tests/hosts/nginx_vectors.py).
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
module=$top/build/nginx/ngx_http_authcore_module.so
if [ ! -f "$module" ]; then
  echo "not ok - nginx module: $module is not built (run make all)"
  exit 1
fi
exec timeout -k 10 600 python3 tests/hosts/nginx_vectors.py "$module"
