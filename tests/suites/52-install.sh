#!/usr/bin/env bash
# What `make install` gives a user, used as the README says, from a scratch
# folder and a scratch PREFIX (the system is left as it was): the files it
# installs; Debian's nginx started with `load_module <installed module>`
# (the README's line with the prefix swapped), logging in through it with
# curl; a C program linked against the installed prefix through pkg-config,
# which finds libauthcore.so.0 at run time with -Wl,-rpath and without it
# does not (the README's reason to say so); the archive linked with cJSON
# dynamic, and why a fully -static link cannot be (no libcjson.a).
# Loopback only; every wait is bounded; nginx and the upstream are stopped
# by their PIDs.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
label=install
. "$top/tests/lib/services.sh"

# --- make install into a scratch prefix, staged with DESTDIR as packagers do
P=$t/prefix
if make -s -C "$top" install PREFIX="$P" >"$t/install.log" 2>&1; then ok "make install PREFIX=<scratch>"
else no "make install PREFIX=<scratch>" "$(tail -3 "$t/install.log")"; fi
missing=""
for f in lib/libauthcore.a lib/libauthcore.so.0 lib/libauthcore.so include/authcore.h \
         include/authcore_decide.h lib/pkgconfig/authcore.pc bin/authcore \
         lib/nginx/modules/ngx_http_authcore_module.so; do
  [ -e "$P/$f" ] || missing="$missing $f"
done
[ -z "$missing" ] && ok "installs the library, headers, authcore.pc, the CLI and the nginx module" \
  || no "installed files" "missing:$missing"
cmp -s "$top/build/nginx/ngx_http_authcore_module.so" "$P/lib/nginx/modules/ngx_http_authcore_module.so" \
  && ok "the installed nginx module is the one built" || no "installed nginx module" "differs from build/nginx/"
if make -s -C "$top" install PREFIX=/usr/local DESTDIR="$t/stage" >"$t/stage.log" 2>&1 \
   && [ -f "$t/stage/usr/local/lib/nginx/modules/ngx_http_authcore_module.so" ] \
   && grep -qx 'prefix=/usr/local' "$t/stage/usr/local/lib/pkgconfig/authcore.pc"; then
  ok "DESTDIR stages the default layout (module in /usr/local/lib/nginx/modules, .pc names /usr/local)"
else no "DESTDIR staging" "$(tail -3 "$t/stage.log"; ls -R "$t/stage" 2>/dev/null | head -5)"; fi
if make -s -C "$top" install-nginx PREFIX="$P" NGX_MODULES_DIR=/usr/lib/nginx/modules DESTDIR="$t/deb" >"$t/deb.log" 2>&1 \
   && [ -f "$t/deb/usr/lib/nginx/modules/ngx_http_authcore_module.so" ]; then
  ok "install-nginx NGX_MODULES_DIR=/usr/lib/nginx/modules (Debian's folder, staged)"
else no "install-nginx NGX_MODULES_DIR" "$(tail -3 "$t/deb.log")"; fi
# The README's load_module line names the module where a default install puts it.
readme_line=$(grep -m1 '^load_module ' "$top/README.md")
[ "$readme_line" = "load_module /usr/local/lib/nginx/modules/ngx_http_authcore_module.so;" ] \
  && ok "README's load_module names \$PREFIX/lib/nginx/modules for PREFIX=/usr/local" \
  || no "README load_module" "$readme_line"

# --- Debian's nginx with the installed module, a login policy, curl
cli=$P/bin/authcore
hash=$(printf 'install-test-pw' | "$cli" hash-password --iterations 20000)
cat > "$t/policy.json" <<J
{"sessions": {"keys": [{"kid": "s1", "secret": "install-suite-session-key-0123456789abcdef"}]},
 "users": [{"name": "ada", "password_hash": "$hash", "roles": ["admin"]}],
 "login": {"prefix": "/dash"},
 "rules": [{"path": "/dash/*", "role": "admin"}],
 "default": "deny"}
J
msg=$("$cli" policy check "$t/policy.json" 2>&1) && ok "the installed CLI checks the policy" || no "policy check" "$msg"
up=$(port); np=$(port)
python3 "$top/tests/lib/echo.py" "$up" > "$t/echo.out" 2>&1 &
pids+=($!); epid=$!
mkdir -p "$t/ngx"
module_line=${readme_line//\/usr\/local/$P}
cat > "$t/ngx/nginx.conf" <<C
$module_line
daemon off;
master_process on;
worker_processes 1;
pid $t/ngx/nginx.pid;
error_log $t/ngx/error.log info;
events {}
http {
  access_log $t/ngx/access.log;
  client_body_temp_path $t/ngx/client_body;
  proxy_temp_path $t/ngx/proxy;
  fastcgi_temp_path $t/ngx/fastcgi;
  uwsgi_temp_path $t/ngx/uwsgi;
  scgi_temp_path $t/ngx/scgi;
  server {
    listen 127.0.0.1:$np;
    authcore_policy $t/policy.json;
    location / { proxy_pass http://127.0.0.1:$up; }
  }
}
C
(cd "$t" && exec /usr/sbin/nginx -p "$t/ngx" -c "$t/ngx/nginx.conf" -e "$t/ngx/error.log") &
pids+=($!); npid=$!
if wait_port "$up" "$epid" && wait_port "$np" "$npid"; then
  ok "Debian's nginx starts with load_module <installed path>"
  c=$t/cookies
  code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "http://127.0.0.1:$np/dash/auth/login")
  [ "$code" = 200 ] && ok "nginx (installed module): login page 200" || no "login page" "$code"
  code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 -c "$c" \
    --data-urlencode username=ada --data-urlencode password=wrong "http://127.0.0.1:$np/dash/auth/login")
  [ "$code" = 401 ] && ok "nginx (installed module): wrong password 401" || no "wrong password" "$code"
  code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 -c "$c" \
    --data-urlencode username=ada --data-urlencode password=install-test-pw \
    --data-urlencode next=/dash/home "http://127.0.0.1:$np/dash/auth/login")
  [ "$code" = 303 ] && grep -q authcore_session "$c" && ok "nginx (installed module): login 303 with a session cookie" \
    || no "login" "$code $(tail -3 "$t/ngx/error.log")"
  body=$(curl -s --max-time 10 -b "$c" "http://127.0.0.1:$np/dash/home")
  echo "$body" | python3 -c 'import json,sys; h=json.load(sys.stdin)["headers"]; sys.exit(h.get("x-authcore-user")!="ada")' \
    && ok "nginx (installed module): the session reaches the upstream as ada" || no "session upstream" "$body"
  code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "http://127.0.0.1:$np/dash/home")
  [ "$code" = 401 ] && ok "nginx (installed module): no session 401" || no "no session" "$code"
else
  no "nginx with the installed module" "$(tail -5 "$t/ngx/error.log" 2>/dev/null; cat "$t/echo.out")"
fi

# --- the C library from the installed prefix
cat > "$t/app.c" <<'C'
#include <authcore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
static _Alignas(16) unsigned char mem[1 << 20];
int main(void) {
	static const char pol[] = "{\"jwt\":{\"keys\":[{\"alg\":\"HS256\",\"secret\":\"0123456789abcdef0123456789abcdef\"}]}}";
	static const uint8_t random32[32] = {1, 2, 3};
	ac_policy_error err; size_t used;
	const ac_policy *p = ac_policy_load(mem, sizeof mem, pol, strlen(pol), &used, &err);
	ac_state *st = malloc(ac_sizeof_state());
	ac_decision *d = calloc(1, ac_sizeof_decision());
	ac_request r;
	if (p == NULL || d == NULL || st == NULL || ac_state_init(st, random32, 32) != 0)
		return 1;
	memset(&r, 0, sizeof r);
	r.method.ptr = "GET"; r.method.len = 3; r.path.ptr = "/x"; r.path.len = 2;
	ac_decide(p, NULL, &r, 1000, NULL, 0, d);
	printf("%d %s\n", ac_decision_answer(d)->status, ac_reason_name(ac_decision_answer(d)->reason));
	return 0;
}
C
export PKG_CONFIG_PATH=$P/lib/pkgconfig
cd "$t"
libs=$(pkg-config --libs authcore 2>&1 | sed "s/ *$//")
[ "$libs" = "-L$P/lib -lauthcore" ] && ok "pkg-config --libs authcore names the installed prefix" || no "pkg-config --libs" "$libs"
if cc -std=c11 -Wall -Wextra -Werror $(pkg-config --cflags authcore) app.c -o app-norpath $(pkg-config --libs authcore) 2>cc0.log; then
  out=$(./app-norpath 2>&1); rc=$?
  [ $rc -ne 0 ] && echo "$out" | grep -q 'libauthcore.so.0' \
    && ok "without -rpath or ldconfig the loader cannot find libauthcore.so.0 (why the README says so)" \
    || no "no-rpath program" "rc=$rc $out"
  out=$(LD_LIBRARY_PATH=$P/lib ./app-norpath 2>&1)
  [ "$out" = "401 missing_token" ] && ok "the same program runs with LD_LIBRARY_PATH" || no "LD_LIBRARY_PATH" "$out"
else no "compile with -Wall -Werror against the installed headers" "$(head -3 cc0.log)"; fi
if cc -std=c11 app.c $(pkg-config --cflags --libs authcore) -Wl,-rpath,"$P/lib" -o app-rpath 2>cc1.log \
   && out=$(./app-rpath 2>&1) && [ "$out" = "401 missing_token" ] \
   && ldd ./app-rpath | grep -q "$P/lib/libauthcore.so.0"; then
  ok "README's -Wl,-rpath line: runs with the installed libauthcore.so.0"
else no "rpath link" "${out:-$(head -3 cc1.log)}"; fi
if cc -std=c11 app.c $(pkg-config --cflags authcore) "$P/lib/libauthcore.a" -l:libbearssl.a -lcjson -o app-archive 2>cc2.log \
   && out=$(./app-archive) && [ "$out" = "401 missing_token" ] && ! ldd ./app-archive | grep -q -E 'authcore|bearssl' \
   && ldd ./app-archive | grep -q libcjson; then
  ok "README's archive line: authcore and BearSSL linked in, cJSON dynamic"
else no "archive link" "${out:-$(head -3 cc2.log)}"; fi
# The README says a fully static link cannot be made from Debian's packages
# (no libcjson.a); if that ever changes, this says so and the README must.
if cc -static -std=c11 app.c $(pkg-config --cflags authcore) "$P/lib/libauthcore.a" -lbearssl -lcjson -o app-static 2>cc3.log; then
  no "README: -static is not possible" "it linked: update the README's C library paragraph"
elif grep -q -- '-lcjson' cc3.log; then ok "-static fails on the missing libcjson.a, as the README says"
else no "-static failure" "$(head -3 cc3.log)"; fi
exit 0
