#!/usr/bin/env bash
# The Envoy example as the docs give it: build/envoy-example.yaml (written by
# make with the filter's absolute path) started by build/venv/bin/envoy from
# a scratch folder outside the checkout, its three ports moved to free ones
# (nothing else changed), in front of tests/lib/echo.py: /healthz is public,
# /api/x needs a token (401 without, the upstream sees the user with one).
# The source copy, whose path is relative, is shown to fail from there.
# Loopback only; every wait is bounded; each server is stopped by its PID.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
label=envoy-example
. "$top/tests/lib/services.sh"
envoy=$top/build/venv/bin/envoy
ex=$top/build/envoy-example.yaml
[ -x "$envoy" ] || { no "envoy" "$envoy missing (make deps)"; exit 1; }
[ -f "$ex" ] || { no "build/envoy-example.yaml" "not built (make build/envoy-example.yaml)"; exit 1; }
wasm=$(sed -n 's/.*filename: \(\/[^}]*\)}.*/\1/p' "$ex")
[ "$wasm" = "$top/build/authcore-proxy.wasm" ] && [ -f "$wasm" ] \
  && ok "build/envoy-example.yaml names the built filter by absolute path" || no "absolute wasm path" "'$wasm'"

cd "$t"
lp=$(port); ap=$(port); up=$(port)
# ports only: 8080 (listener), 9901 (admin), 8081 (the upstream)
ports() { sed -e "s/port_value: 8080}/port_value: $lp}/" -e "s/port_value: 9901}/port_value: $ap}/" \
  -e "s/port_value: 8081}/port_value: $up}/" "$1"; }
ports "$ex" > envoy.yaml
ports "$top/hosts/proxy-wasm/envoy-example.yaml" > envoy-src.yaml
[ "$(diff "$ex" envoy.yaml | grep -c '^>')" = 3 ] && ok "only the three ports differ from the built example" \
  || no "port edit" "$(diff "$ex" envoy.yaml | head -8)"

python3 "$top/tests/lib/echo.py" "$up" > echo.out 2>&1 &
pids+=($!); epid=$!
"$envoy" -c envoy.yaml --concurrency 1 --use-dynamic-base-id --log-path envoy.log > envoy.out 2>&1 &
pids+=($!); xpid=$!
if wait_port "$up" "$epid" 10 && wait_port "$lp" "$xpid" 60; then
  ok "envoy starts from a folder outside the checkout with build/envoy-example.yaml"
  body=$(curl -s --max-time 10 "http://127.0.0.1:$lp/healthz")
  echo "$body" | grep -q '"path": *"/healthz"' && ok "public /healthz reaches the upstream" || no "healthz" "$body"
  code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "http://127.0.0.1:$lp/api/x")
  [ "$code" = 401 ] && ok "no token 401" || no "no token" "$code"
  printf %s 'replace-me-with-32-or-more-random-bytes!' > key
  tok=$("$top/build/bin/authcore" jwt sign --alg HS256 --key-file key --kid k1 \
    --claims "{\"sub\":\"ada\",\"roles\":[\"reader\"],\"iss\":\"https://issuer.example\",\"aud\":\"api\",\"exp\":$(( $(date +%s) + 600 ))}")
  body=$(curl -s --max-time 10 -H "Authorization: Bearer $tok" "http://127.0.0.1:$lp/api/x")
  echo "$body" | python3 -c 'import json,sys; h=json.load(sys.stdin)["headers"]; sys.exit(h.get("x-authcore-user")!="ada")' \
    && ok "a token for the example's key reaches the upstream as ada" || no "token" "$body"
else
  no "envoy starts with build/envoy-example.yaml" "$(tail -5 envoy.log envoy.out 2>/dev/null)"
fi
for p in "$xpid"; do kill "$p" 2>/dev/null; for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done; done

# the source copy's relative filename does not resolve outside the checkout
timeout 60 "$envoy" -c envoy-src.yaml --concurrency 1 --use-dynamic-base-id --mode validate > src.out 2>&1; rc=$?
if [ $rc -ne 0 ] && grep -q 'authcore-proxy.wasm' src.out; then
  ok "the source copy (relative path) is refused outside the checkout: why make writes build/envoy-example.yaml"
else no "source copy outside the checkout" "rc=$rc $(tail -3 src.out)"; fi
exit 0
