#!/usr/bin/env bash
# WebSocket upgrades decided like any request: a real WebSocket client and a
# real WebSocket upstream (the websockets package) through Envoy with the
# proxy-wasm filter (upgrade_configs websocket) and nginx with the module
# (HTTP/1.1 upstream, Upgrade/Connection passed on), and workerd with the
# edge module in front of a Worker answering with a WebSocketPair: tokens from the
# Authorization header, a query parameter and a Sec-WebSocket-Protocol
# entry open the connection (101, an echo round trip, the token never at
# the upstream); none, a forged one or a missing role never upgrade
# (tests/hosts/websocket.py). Logs and configs: build/tests/websocket/.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
work=build/tests/websocket
rm -rf "$work" && mkdir -p "$work/envoy" "$work/nginx" "$work/workerd"
rc=0
timeout -k 5 120 build/venv/bin/python tests/hosts/websocket.py --host envoy \
  --wasm build/authcore-proxy.wasm --workdir "$work/envoy" || rc=1
timeout -k 5 120 build/venv/bin/python tests/hosts/websocket.py --host nginx \
  --module build/nginx/ngx_http_authcore_module.so --workdir "$work/nginx" || rc=1
timeout -k 5 120 build/venv/bin/python tests/hosts/websocket.py --host workerd \
  --edge build/edge --workdir "$work/workerd" || rc=1
exit $rc
