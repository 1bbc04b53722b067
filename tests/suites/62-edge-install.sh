#!/usr/bin/env bash
# The edge package as a user takes it, from scratch folders outside the
# checkout: `npm install <build/edge>` and the README's Node lines (import
# "authcore", nodeHandler) in real Node; a deno.json import map naming
# build/edge and the README's Deno lines in real Deno; the Worker example
# run the way the README says (`cd build/edge/example && npx workerd serve
# config.capnp`, its socket moved to a free port). Each serves the login
# page, takes a login and passes its session to the app; the Worker answers
# 401 without a token and the app's JSON with one.
# Loopback only; every wait is bounded; each server is stopped by its PID.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
label=edge-install
. "$top/tests/lib/services.sh"
edge=$top/build/edge
cli=$top/build/bin/authcore
for f in authcore.mjs authcore_glue.mjs authcore.wasm package.json example/worker.mjs example/config.capnp; do
  [ -f "$edge/$f" ] || { no "build/edge/$f" "not built (make edge)"; exit 1; }
done

hash=$(printf 'edge-install-pw' | "$cli" hash-password --iterations 20000)
cat > "$t/policy.json" <<J
{"sessions": {"keys": [{"kid": "s1", "secret": "edge-install-session-key-0123456789abcdef"}]},
 "users": [{"name": "ada", "password_hash": "$hash", "roles": ["admin"]}],
 "login": {"prefix": "/dash"},
 "rules": [{"path": "/dash/*", "role": "admin"}],
 "default": "deny"}
J

# login_flow NAME PORT: the login page, a login, the session at the app
login_flow() {
  local name=$1 p=$2 c="$t/$1.cookies" code body
  body=$(curl -s --max-time 10 -w '\n%{http_code} %{content_type}' "http://127.0.0.1:$p/dash/auth/login")
  case $body in
    *'<form'*'200 text/html'*) ok "$name: serves the login page";;
    *) no "$name: login page" "$(echo "$body" | tail -1)";;
  esac
  code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 20 -c "$c" \
    --data-urlencode username=ada --data-urlencode password=edge-install-pw \
    --data-urlencode next=/dash/home "http://127.0.0.1:$p/dash/auth/login")
  [ "$code" = 303 ] && grep -q authcore_session "$c" && ok "$name: login 303 with a session cookie" \
    || no "$name: login" "$code"
  body=$(curl -s --max-time 10 -b "$c" "http://127.0.0.1:$p/dash/home")
  [ "$body" = '{"user":"ada","path":"/dash/home"}' ] && ok "$name: the session reaches the app as ada" \
    || no "$name: session at the app" "$body"
  code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 -H 'Accept: application/json' "http://127.0.0.1:$p/dash/home")
  [ "$code" = 401 ] && ok "$name: no session 401" || no "$name: no session" "$code"
}

# --- Node: npm install <build/edge>, then the README's lines
mkdir -p "$t/node-app"
cd "$t/node-app"
printf '{"name": "node-app", "private": true, "type": "module"}\n' > package.json
if npm install --no-audit --no-fund --offline "$edge" > npm.log 2>&1 && [ -f node_modules/authcore/authcore.mjs ]; then
  ok "node: npm install <build/edge> installs the package authcore"
else no "node: npm install <build/edge>" "$(tail -3 npm.log)"; fi
grep -q '"authcore"' package.json && ok "node: the app's package.json depends on authcore" || no "node: dependency" "$(cat package.json)"
cat > server.mjs <<'JS'
import { readFile } from "node:fs/promises";
import { createServer } from "node:http";
import { createAuth, nodeHandler } from "authcore";

const policy = JSON.parse(await readFile(process.argv[2], "utf8"));
const app = (req, identity) => Response.json({ user: identity.user, path: new URL(req.url).pathname });
const wasm = await readFile(new URL(import.meta.resolve("authcore/authcore.wasm")));
const auth = createAuth(policy, { module: wasm, env: process.env, passwordSlice: 50000, audit: false });
createServer(nodeHandler(auth, (req, identity) => app(req, identity))).listen(Number(process.argv[3]), "127.0.0.1");
JS
np=$(port)
node server.mjs "$t/policy.json" "$np" > node.log 2>&1 &
pids+=($!)
if wait_port "$np" $!; then login_flow node "$np"
else no "node: server starts" "$(tail -5 node.log)"; fi

# --- Deno: an import map in deno.json, then the README's lines
deno=$top/node_modules/@deno/linux-x64-glibc/deno
mkdir -p "$t/deno-app"
cd "$t/deno-app"
printf '{"imports": {"authcore": "%s/authcore.mjs", "authcore/": "%s/"}}\n' "$edge" "$edge" > deno.json
cat > server.mjs <<'JS'
import { createAuth } from "authcore";

const policy = await Deno.readTextFile(Deno.args[0]);
const app = (req, identity) => Response.json({ user: identity.user, path: new URL(req.url).pathname });
const wasm = await Deno.readFile(new URL(import.meta.resolve("authcore/authcore.wasm")));
const auth = await createAuth(policy, { module: wasm, env: Deno.env.toObject(), passwordSlice: 50000, audit: false });
Deno.serve({ hostname: "127.0.0.1", port: Number(Deno.args[1]), onListen() {} },
  (request, info) => auth.serve(request, (req, identity) => app(req, identity), { info }));
JS
dp=$(port)
DENO_DIR=$t/deno-dir DENO_NO_UPDATE_CHECK=1 "$deno" run --allow-net=127.0.0.1 --allow-read \
  --allow-env server.mjs "$t/policy.json" "$dp" > deno.log 2>&1 &
pids+=($!)
if wait_port "$dp" $! 30; then login_flow deno "$dp"
else no "deno: server starts with the import map" "$(tail -5 deno.log)"; fi

# --- the Worker example, from build/edge/example as the README says
wp=$(port)
cd "$edge/example"
npx workerd serve config.capnp --socket-addr "http=127.0.0.1:$wp" > "$t/workerd.log" 2>&1 &
pids+=($!)
cd "$t"
if wait_port "$wp" $! 30; then
  ok "worker: npx workerd serve config.capnp starts in build/edge/example"
  code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "http://127.0.0.1:$wp/api/x")
  [ "$code" = 401 ] && ok "worker: no token 401" || no "worker: no token" "$code"
  printf %s example-secret-change-me-0123456789abcdef > "$t/key"
  tok=$("$cli" jwt sign --alg HS256 --key-file "$t/key" --kid k1 \
    --claims "{\"sub\":\"ada\",\"roles\":[\"reader\"],\"exp\":$(( $(date +%s) + 600 ))}")
  body=$(curl -s --max-time 10 -H "Authorization: Bearer $tok" "http://127.0.0.1:$wp/api/x")
  echo "$body" | grep -q '"hello":"ada"' && ok "worker: the example's token reaches the app as ada" \
    || no "worker: token" "$body"
else no "worker: example starts" "$(tail -5 "$t/workerd.log")"; fi
exit 0
