#!/usr/bin/env bash
# nginx host: the decision vectors through Debian's nginx with the authcore
# dynamic module (build/nginx/ngx_http_authcore_module.so, built by `make all`)
# in front of tests/lib/echo.py, plus `nginx -t` checks of bad policies
# (tests/hosts/nginx_vectors.py); then the login machinery: pending password
# checks that do not stall the worker, clients leaving mid-check, login
# bodies, attempt counters shared by workers (tests/hosts/nginx_login.py);
# then the request decided is the one the upstream gets, after rewrites and
# internal redirects, and the cap on pending checks
# (tests/hosts/nginx_request.py); then one rate-limit bucket shared by two
# workers under many connections at once, and a client over its limit
# refused before its password or token is checked
# (tests/hosts/nginx_ratelimit.py); then keys from a policy's jwt.jwks_uri,
# fetched through the authcore_fetch location from a real OpenID Provider
# (npm oidc-provider), rotated, out of service, and hostile JWKS answers,
# and shared by the workers through the zone: one fetch for all of them
# (tests/hosts/nginx_jwks.py, tests/lib/jwkskit.py).
# Loopback only; every wait is bounded.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
module=$top/build/nginx/ngx_http_authcore_module.so
if [ ! -f "$module" ]; then
  echo "not ok - nginx module: $module is not built (run make all)"
  exit 1
fi
rc=0
timeout -k 10 600 python3 tests/hosts/nginx_vectors.py "$module" || rc=1
timeout -k 10 300 python3 tests/hosts/nginx_login.py "$module" || rc=1
timeout -k 10 300 python3 tests/hosts/nginx_request.py "$module" || rc=1
timeout -k 10 120 python3 tests/hosts/nginx_ratelimit.py "$module" || rc=1
timeout -k 10 120 python3 tests/hosts/nginx_jwks.py "$module" || rc=1
exit $rc
