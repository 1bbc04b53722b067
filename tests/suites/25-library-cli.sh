#!/usr/bin/env bash
# The C library as users take it (make install, pkg-config, static and shared
# linking, SONAME) and the CLI's exit-code contract (0 valid, 1 invalid with
# the reason on stderr, 2 usage or key problems).
cd "$(dirname "$0")/../.."
top=$(pwd)
t=$(mktemp -d); trap 'rm -rf "$t"' EXIT
ok() { echo "ok - $1"; }
no() { echo "not ok - $1: $2"; }

if make -s install PREFIX="$t/prefix" >"$t/install.log" 2>&1; then ok "make install PREFIX=..."
else no "make install PREFIX=..." "$(tail -3 "$t/install.log")"; fi
soname=$(readelf -d "$t/prefix/lib/libauthcore.so.0" 2>/dev/null | sed -n 's/.*SONAME.*\[\(.*\)\]/\1/p')
[ "$soname" = "libauthcore.so.0" ] && ok "shared library SONAME is libauthcore.so.0" || no "SONAME" "got '$soname'"

cat > "$t/app.c" <<'C'
#include <authcore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
static unsigned char mem[1 << 20];
int main(void) {
	ac_decision *d = calloc(1, ac_sizeof_decision());
	const ac_answer *a;
	const char *pol = "{\"jwt\":{\"keys\":[{\"alg\":\"HS256\",\"secret\":\"0123456789abcdef0123456789abcdef\"}]},\"public\":[\"/open\"]}";
	ac_policy_error err; size_t used;
	const ac_policy *p = ac_policy_load(mem, sizeof mem, pol, strlen(pol), &used, &err);
	ac_request r; memset(&r, 0, sizeof r);
	if (!p) { printf("load: %s %s\n", err.path, err.message); return 1; }
	r.method.ptr = "GET"; r.method.len = 3; r.path.ptr = "/x"; r.path.len = 2;
	if (!d) return 1;
	ac_decide(p, NULL, &r, 1000, 0, 0, d);
	a = ac_decision_answer(d);
	printf("%d %s %d\n", a->status, ac_reason_name(a->reason), a->action == AC_RESPOND);
	return 0;
}
C
export PKG_CONFIG_PATH="$t/prefix/lib/pkgconfig"
if cc -std=c11 $(pkg-config --cflags authcore) "$t/app.c" -o "$t/app-shared" $(pkg-config --libs authcore) -Wl,-rpath,"$t/prefix/lib" 2>"$t/cc.log" \
   && out=$("$t/app-shared") && [ "$out" = "401 missing_token 1" ]; then
  ok "program built with pkg-config links the shared library and decides"
else no "pkg-config + shared library" "${out:-$(head -3 "$t/cc.log")}"; fi
if ldd "$t/app-shared" 2>/dev/null | grep -q "$t/prefix/lib/libauthcore.so.0"; then ok "program uses the installed libauthcore.so.0"
else no "program uses the installed libauthcore.so.0" "$(ldd "$t/app-shared" | grep authcore)"; fi
if cc -std=c11 $(pkg-config --cflags authcore) "$t/app.c" -o "$t/app-static" "$t/prefix/lib/libauthcore.a" $(pkg-config --libs-only-other --static authcore) -lbearssl -lcjson 2>"$t/cc2.log" \
   && out=$("$t/app-static") && [ "$out" = "401 missing_token 1" ] && ! ldd "$t/app-static" | grep -q authcore; then
  ok "program links the static archive and decides"
else no "static archive" "${out:-$(head -3 "$t/cc2.log")}"; fi

# CLI exit codes
cli=build/bin/authcore
head -c 40 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$t/key"    # 80 hex chars
printf 'short' > "$t/shortkey"
tok=$($cli jwt sign --key-file "$t/key" --claims '{"sub":"a","exp":2000}')
out=$(echo "  $tok  " | $cli jwt verify --key-file "$t/key" --now 1000); rc=$?
[ $rc -eq 0 ] && [ "$out" = '{"sub":"a","exp":2000}' ] && ok "cli: valid token -> exit 0, payload on stdout (whitespace ignored)" || no "cli valid" "rc=$rc out=$out"
err=$(echo "$tok" | $cli jwt verify --key-file "$t/key" --now 3000 2>&1 >/dev/null); rc=$?
[ $rc -eq 1 ] && [ "$(echo "$err" | head -1)" = expired ] && ok "cli: expired token -> exit 1, reason first on stderr" || no "cli expired" "rc=$rc err=$err"
echo "$tok" | $cli jwt verify --key-file "$t/key" --aud x --now 1000 2>"$t/e" >/dev/null; rc=$?
[ $rc -eq 1 ] && [ "$(head -1 "$t/e")" = bad_audience ] && ok "cli: --aud mismatch -> exit 1 bad_audience" || no "cli aud" "rc=$rc $(cat "$t/e")"
echo "$tok" | $cli jwt verify --key-file "$t/missing" 2>/dev/null; rc=$?
[ $rc -eq 2 ] && ok "cli: missing key file -> exit 2" || no "cli missing key" "rc=$rc"
echo "$tok" | $cli jwt verify --key-file "$t/shortkey" 2>/dev/null; rc=$?
[ $rc -eq 2 ] && ok "cli: short key -> exit 2" || no "cli short key" "rc=$rc"
$cli jwt sign --key-file "$t/key" --bogus 1 >/dev/null 2>&1; rc=$?
[ $rc -eq 2 ] && ok "cli: unknown option -> exit 2" || no "cli unknown option" "rc=$rc"
$cli jwt sign --key-file "$t/key" --claims '[1]' >/dev/null 2>&1; rc=$?
[ $rc -eq 2 ] && ok "cli: claims not an object -> exit 2" || no "cli claims" "rc=$rc"
echo '{"jwt":{"keys":[{"alg":"HS256","secret":"x"}]}}' > "$t/bad.json"
msg=$($cli policy check "$t/bad.json" 2>&1); rc=$?
[ $rc -eq 2 ] && echo "$msg" | grep -q '\$.jwt.keys\[0\].secret' && ok "cli: bad policy -> exit 2 naming the JSON path" || no "cli bad policy" "rc=$rc $msg"

# apikey new: the key's SHA-256 (computed independently) is the entry's, and
# a policy holding the entry lets the key through.
out=$($cli apikey new --name bot --role reporter --permissions read --resources '/api/reports/*')
key=$(echo "$out" | sed -n 1p); entry=$(echo "$out" | sed -n 2p)
want=$(printf '%s' "$key" | sha256sum | cut -d' ' -f1)
if echo "$entry" | grep -q "\"sha256\":\"$want\""; then ok "cli: apikey new prints the key and its SHA-256 entry"
else no "cli apikey new" "$out"; fi
printf '{"api_keys":{"keys":[%s]}}' "$entry" > "$t/ak.json"
dec=$(printf '{"method":"GET","path":"/api/reports/x","headers":[["X-API-Key","%s"]]}' "$key" | $cli decide --policy "$t/ak.json")
if echo "$dec" | grep -q '"status":200' && echo "$dec" | grep -q '"x-authcore-user":"bot"'; then ok "cli: the new key is allowed by a policy holding its entry"
else no "cli apikey policy" "$dec"; fi
dec=$(printf '{"method":"GET","path":"/api/users","headers":[["X-API-Key","%s"]]}' "$key" | $cli decide --policy "$t/ak.json")
echo "$dec" | grep -q '"reason":"resource_not_allowed"' && ok "cli: the new key is held to its resources" || no "cli apikey resources" "$dec"

# jws verify: RFC 7520 section 4.4 (HS256 with kid; the payload is prose)
cat > "$t/rfc7520.jwks" <<'J'
{"keys":[{"kty":"oct","kid":"018c0ae5-4d9b-471b-bfd6-eef314bc7037","use":"sig","alg":"HS256","k":"hJtXIZ2uSN5kbQfbtTNWbpdmhkV8FJG-Onbc6mxCcYg"}]}
J
tok='eyJhbGciOiJIUzI1NiIsImtpZCI6IjAxOGMwYWU1LTRkOWItNDcxYi1iZmQ2LWVlZjMxNGJjNzAzNyJ9.SXTigJlzIGEgZGFuZ2Vyb3VzIGJ1c2luZXNzLCBGcm9kbywgZ29pbmcgb3V0IHlvdXIgZG9vci4gWW91IHN0ZXAgb250byB0aGUgcm9hZCwgYW5kIGlmIHlvdSBkb24ndCBrZWVwIHlvdXIgZmVldCwgdGhlcmXigJlzIG5vIGtub3dpbmcgd2hlcmUgeW91IG1pZ2h0IGJlIHN3ZXB0IG9mZiB0by4.s0h6KThzkfBBBkLspW1h84VsJZFTsPPqMDA7g1Md7p0'
out=$(echo "$tok" | $cli jws verify --jwks "$t/rfc7520.jwks" --alg HS256); rc=$?
[ $rc -eq 0 ] && echo "$out" | grep -q "^It’s a dangerous business, Frodo" && ok "cli: jws verify RFC 7520 4.4 prints the payload" || no "cli jws verify" "rc=$rc $out"
err=$(echo "${tok%?}A" | $cli jws verify --jwks "$t/rfc7520.jwks" --alg HS256 2>&1 >/dev/null); rc=$?
[ $rc -eq 1 ] && [ "$err" = bad_signature ] && ok "cli: jws verify refuses a changed signature" || no "cli jws tamper" "rc=$rc $err"
echo "$tok" | $cli jwt verify --jwks "$t/rfc7520.jwks" --alg HS256 2>"$t/e" >/dev/null; rc=$?
[ $rc -eq 1 ] && [ "$(cat "$t/e")" = malformed ] && ok "cli: jwt verify refuses the same token (payload is not a JSON object)" || no "cli jwt on prose" "rc=$rc $(cat "$t/e")"
# jws verify: an empty payload (RFC 7515 allows "header..signature"),
# signed here with Python's hmac under the same key file
etok=$(python3 - "$t/key" <<'PY'
import base64, hashlib, hmac, sys
b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()
inp = b64(b'{"alg":"HS256","typ":"JOSE"}') + "."
key = open(sys.argv[1], "rb").read()
print(inp + "." + b64(hmac.new(key, inp.encode(), hashlib.sha256).digest()))
PY
)
echo "$etok" | $cli jws verify --key-file "$t/key" > "$t/p" 2>"$t/e"; rc=$?
[ $rc -eq 0 ] && [ ! -s "$t/p" ] && case $etok in *..*) true;; *) false;; esac && ok "cli: jws verify accepts an empty payload (exit 0, no payload bytes)" || no "cli jws empty payload" "rc=$rc $(cat "$t/e") tok=$etok"
err=$(echo "${etok%?}$( [ "${etok: -1}" = A ] && echo Q || echo A)" | $cli jws verify --key-file "$t/key" 2>&1 >/dev/null); rc=$?
[ $rc -eq 1 ] && [ "$err" = bad_signature ] && ok "cli: jws verify refuses an empty-payload token with a changed signature" || no "cli jws empty payload tamper" "rc=$rc $err"
err=$(echo "$etok" | $cli jwt verify --key-file "$t/key" 2>&1 >/dev/null); rc=$?
[ $rc -eq 1 ] && [ "$err" = malformed ] && ok "cli: jwt verify refuses the empty payload (no claims object)" || no "cli jwt empty payload" "rc=$rc $err"
echo '{"keys":[{"kty":"RSA","n":"AQAB","e":"AQAB"}]}' > "$t/bad.jwks"
msg=$(echo "$tok" | $cli jws verify --jwks "$t/bad.jwks" 2>&1); rc=$?
[ $rc -eq 2 ] && echo "$msg" | grep -q 'keys\[0\]' && ok "cli: a JWKS it refuses -> exit 2 naming the key" || no "cli bad jwks" "rc=$rc $msg"

# hash-password / verify-password (password on stdin, never argv)
h=$(printf 'correct horse\n' | $cli hash-password --iterations 20000); rc=$?
if [ $rc -eq 0 ] && python3 - "$h" <<'PY'
import base64, hashlib, sys
_, alg, it, salt, dk = sys.argv[1].split("$")
d = lambda s: base64.b64decode(s + "=" * (-len(s) % 4))
ok = alg == "pbkdf2-sha256" and hashlib.pbkdf2_hmac("sha256", b"correct horse", d(salt), int(it[2:])) == d(dk)
sys.exit(0 if ok else 1)
PY
then ok "cli: hash-password prints a PHC string hashlib agrees with"; else no "cli hash-password" "rc=$rc $h"; fi
printf 'correct horse' | $cli verify-password "$h"; rc=$?
[ $rc -eq 0 ] && ok "cli: verify-password -> exit 0 on match" || no "cli verify match" "rc=$rc"
printf 'wrong horse' | $cli verify-password "$h" 2>"$t/e"; rc=$?
[ $rc -eq 1 ] && [ "$(cat "$t/e")" = mismatch ] && ok "cli: verify-password -> exit 1 on mismatch" || no "cli verify mismatch" "rc=$rc $(cat "$t/e")"
printf 'password' | $cli verify-password '$pbkdf2-sha256$6400$0ZrzXitFSGltTQnBWOsdAw$Y11AchqV4b0sUisdZd0Xr97KWoymNE0LNNrnEgY4H9M'; rc=$?
[ $rc -eq 0 ] && ok "cli: verify-password accepts a passlib hash" || no "cli passlib" "rc=$rc"
printf 'password' | $cli verify-password 'pbkdf2:sha256:99999999999$salt$00' 2>"$t/e"; rc=$?
[ $rc -eq 2 ] && ok "cli: over-limit iteration count -> exit 2 ($(cat "$t/e"))" || no "cli over limit" "rc=$rc $(cat "$t/e")"

# --help on the program and every command: usage on stdout, exit 0, nothing
# on stderr; an unknown option: usage on stderr, exit 2, nothing on stdout
out=$($cli --help 2>"$t/e"); rc=$?
if [ $rc -eq 0 ] && [ ! -s "$t/e" ] && [ "$(echo "$out" | head -1)" = usage: ] \
   && echo "$out" | grep -q '^exit codes: 0 ' \
   && [ "$(echo "$out" | grep -c '^  authcore ')" -eq 10 ]; then ok "cli: --help -> usage of the 10 commands and the exit codes on stdout, exit 0"
else no "cli --help" "rc=$rc $(head -2 "$t/e") $(echo "$out" | head -3)"; fi
bad=""
for c in "jwt sign" "jwt verify" "jws verify" decide revoke "apikey new" hash-password verify-password "policy check" version; do
  for h in --help -h; do
    # shellcheck disable=SC2086
    out=$($cli $c $h 2>"$t/e"); rc=$?
    { [ $rc -eq 0 ] && [ ! -s "$t/e" ] && echo "$out" | grep -q "^  authcore $c\b" \
      && [ "$(echo "$out" | grep -c '^  authcore ')" -eq 1 ] && echo "$out" | grep -q '^exit codes:'; } || bad="$bad [$c $h rc=$rc]"
  done
  [ "$c" = verify-password ] && continue   # its one argument is the hash
  # shellcheck disable=SC2086
  out=$($cli $c --bogus 1 2>"$t/e" </dev/null); rc=$?
  { [ $rc -eq 2 ] && [ -z "$out" ] && grep -q 'unknown option --bogus' "$t/e" \
    && grep -q "^  authcore $c\b" "$t/e"; } || bad="$bad [$c --bogus rc=$rc]"
done
[ -z "$bad" ] && ok "cli: every command's --help/-h prints its usage on stdout (exit 0); an unknown option prints it on stderr (exit 2)" || no "cli per-command help" "$bad"
$cli jwt >/dev/null 2>"$t/e"; rc=$?
out=$($cli jwt --help); rc2=$?
[ $rc -eq 2 ] && grep -q '^  authcore jwt sign' "$t/e" && [ $rc2 -eq 0 ] && echo "$out" | grep -q '^  authcore jwt verify' \
  && ok "cli: a command group alone -> its commands on stderr (exit 2); with --help on stdout (exit 0)" || no "cli group" "rc=$rc rc2=$rc2"

# The README's CLI block and the usage name the same options, command by
# command
if python3 - "$cli" README.md <<'PY'
import re, subprocess, sys
cli, readme = sys.argv[1], open(sys.argv[2]).read()
block = readme.split("\n## CLI\n", 1)[1].split("```sh\n", 1)[1].split("```", 1)[0]
usage = subprocess.run([cli, "--help"], capture_output=True, text=True).stdout
def commands(text, prefix):
    out, cur = {}, None
    for line in text.splitlines():
        m = re.match(prefix + r"authcore ((?:jwt|jws|apikey|policy) \w+|[\w-]+)(.*)", line)
        if m:
            cur = m.group(1)
            rest = m.group(2)
        elif cur and line.startswith(" ") and not line.strip().startswith("("):
            rest = line
        else:
            cur = None
            continue
        rest = rest.split("#")[0]
        out.setdefault(cur, set()).update(re.findall(r"--[a-z][a-z-]*", rest))
    return out
r, u = commands(block, ""), commands(usage, "  ")
bad = []
for c in sorted(set(r) | set(u)):
    if r.get(c) != u.get(c):
        bad.append("%s: README %s, usage %s" % (c, sorted(r.get(c, [])), sorted(u.get(c, []))))
if len(r) != 10:
    bad.append("README names %d commands" % len(r))
if bad: print("; ".join(bad))
sys.exit(1 if bad else 0)
PY
then ok "cli: the README's CLI block and the usage name the same commands and options"
else no "cli README vs usage" "see above"; fi

# decide: the state lives for the run without --state, so a login post
# works; several requests on stdin are decided in order against it
h=$(printf 'pw\n' | $cli hash-password --iterations 1000)
cat > "$t/login.json" <<J
{"sessions":{"keys":[{"kid":"k","secret":"cli-test-session-secret-0123456789abcdef"}]},
 "users":[{"name":"alice","password_hash":"$h","roles":["staff"]}],
 "login":{"prefix":"/app","attempts":"2/min"},
 "rules":[{"path":"/app/*","role":"staff"}]}
J
post() { printf '{"method":"POST","path":"/app/auth/login","https":%s,"headers":[["host","x.test"],["origin","%s://x.test"],["content-type","application/x-www-form-urlencoded"]],"body":"username=alice&password=%s"}\n' "$1" "$( [ "$1" = true ] && echo https || echo http)" "$2"; }
out=$(post true pw | $cli decide --policy "$t/login.json" 2>"$t/e"); rc=$?
if [ $rc -eq 0 ] && echo "$out" | python3 -c '
import json, sys
d = json.loads(sys.stdin.read())
c = [v for k, v in d["headers"] if k == "set-cookie" and v.startswith("authcore_session=")]
sys.exit(0 if d["status"] == 303 and d["reason"] == "ok" and c and "; Secure" in c[0] and "Path=/app;" in c[0] else 1)'
then ok "cli: decide without --state logs in (303, a Secure session cookie for https), exit 0"
else no "cli decide login without --state" "rc=$rc $(cat "$t/e") ${out:0:300}"; fi
out=$({ post false bad; post false bad; post false bad; post false pw; } | $cli decide --policy "$t/login.json"); rc=$?
got=$(echo "$out" | python3 -c 'import json,sys; print(" ".join("%d/%s" % (d["status"], d["reason"]) for d in map(json.loads, sys.stdin)))')
[ $rc -eq 0 ] && [ "$got" = "401/bad_password 401/bad_password 429/too_many_attempts 429/too_many_attempts" ] \
  && ok "cli: decide reads several requests and keeps one state for the run (attempts 2/min: 401 401 429 429)" || no "cli decide several" "rc=$rc got=$got"
rm -f "$t/st"
for i in 1 2 3; do post false bad | $cli decide --policy "$t/login.json" --state "$t/st" >/dev/null; done
out=$(post false pw | $cli decide --policy "$t/login.json" --state "$t/st")
echo "$out" | grep -q '"reason":"too_many_attempts"' && ok "cli: --state FILE keeps the counters between runs" || no "cli --state" "${out:0:200}"
out=$(post false pw | $cli decide --policy "$t/login.json")
echo "$out" | grep -q '"status":303' && ok "cli: without --state each run starts afresh" || no "cli fresh state" "${out:0:200}"
printf '{"method":"GET"} [1]' | $cli decide --policy "$t/login.json" >"$t/o" 2>"$t/e"; rc=$?
[ $rc -eq 2 ] && [ "$(wc -l <"$t/o")" -eq 1 ] && grep -q 'request 2' "$t/e" && ok "cli: decide -> exit 2 naming the request that is not an object" || no "cli decide bad request" "rc=$rc $(cat "$t/e")"
$cli decide --policy "$t/login.json" </dev/null >/dev/null 2>&1; rc=$?
[ $rc -eq 2 ] && ok "cli: decide with no request -> exit 2" || no "cli decide empty" "rc=$rc"

# decide with rate_limits: the run keeps a local table (and --state FILE
# keeps it between runs), so limits count end to end natively
cat > "$t/rl.json" <<'J'
{"jwt":{"keys":[{"kid":"k1","alg":"HS256","secret":"cli-rate-limit-secret-0123456789abcdef"}]},
 "public":["/open*"],
 "rate_limits":{"limits":[{"name":"open","path":"/open*","key":"client","limit":"4/minute"},
                          {"name":"u","path":"/api/*","key":"user","limit":"2/minute"}]}}
J
reqs() { for i in $(seq "$1"); do printf '{"method":"GET","path":"/open/x","client_ip":"%s"}\n' "$2"; done; }
summ() { python3 -c 'import json,sys; print(" ".join("%d/%s" % (d["status"], d["reason"]) for d in map(json.loads, sys.stdin)))'; }
out=$({ reqs 6 192.0.2.1; reqs 1 192.0.2.2; } | $cli decide --policy "$t/rl.json" --now 1800000000); rc=$?
got=$(echo "$out" | summ)
last=$(echo "$out" | sed -n 6p | python3 -c 'import json,sys; d=json.load(sys.stdin); h=dict(d["headers"]); print(h.get("retry-after"), h.get("ratelimit-policy"), h.get("ratelimit"))')
[ $rc -eq 0 ] && [ "$got" = "200/public 200/public 200/public 200/public 429/rate_limited 429/rate_limited 200/public" ] \
  && [ "$last" = '15 "open";q=4;w=60 "open";r=0;t=60' ] \
  && ok "cli: decide with a limit of 4/minute: 4 allowed, then 429 with Retry-After, RateLimit-Policy and RateLimit; another client has its own" \
  || no "cli rate limit" "rc=$rc got=$got last=$last"
tok_of() { $cli jwt sign --key-file <(printf 'cli-rate-limit-secret-0123456789abcdef') --claims "{\"sub\":\"$1\",\"exp\":1900000000}" 2>/dev/null; }
ta=$(tok_of ann); tb=$(tok_of bob)
areq() { printf '{"method":"GET","path":"/api/x","client_ip":"192.0.2.%s","headers":[["Authorization","Bearer %s"]]}\n' "$1" "$2"; }
out=$({ areq 1 "$ta"; areq 2 "$ta"; areq 3 "$ta"; areq 1 "$tb"; } | $cli decide --policy "$t/rl.json" --now 1800000000 | summ)
[ "$out" = "200/ok 200/ok 429/rate_limited 200/ok" ] \
  && ok "cli: a user-keyed limit counts per user whatever the address (2/minute: ann 200 200 429, bob 200)" \
  || no "cli user rate limit" "got=$out (tokens: ${#ta} ${#tb} bytes)"
rm -f "$t/rlst"
reqs 3 192.0.2.9 | $cli decide --policy "$t/rl.json" --now 1800000000 --state "$t/rlst" >/dev/null
out=$(reqs 2 192.0.2.9 | $cli decide --policy "$t/rl.json" --now 1800000000 --state "$t/rlst" | summ)
out2=$(reqs 2 192.0.2.9 | $cli decide --policy "$t/rl.json" --now 1800000000 | summ)
[ "$out" = "200/public 429/rate_limited" ] && [ "$out2" = "200/public 200/public" ] \
  && ok "cli: --state FILE keeps the rate-limit table between runs (3 then 1 of 4), a run without it starts afresh" \
  || no "cli --state rate limits" "with=$out without=$out2"

# policy check: warnings name the member, exit 0; --strict makes them exit 1
cat > "$t/warn.json" <<J
{"sessions":{"keys":[{"kid":"k","secret":"cli-test-session-secret-0123456789abcdef"}]},
 "users":[{"name":"alice","password_hash":"$h","roles":["staff"]}],
 "login":{"prefix":"/app"},
 "rules":[{"path":"/app/admin/*","role":"admni"},{"path":"/api/*","role":"staff"},{"path":"/app/*","role":"staff"}]}
J
out=$($cli policy check "$t/warn.json" 2>"$t/e"); rc=$?
if [ $rc -eq 0 ] && [ "$out" = "$t/warn.json: ok (2 warnings)" ] && [ "$(wc -l <"$t/e")" -eq 2 ] \
   && grep -q 'warning: \$\.rules\[0\]\.role: .*"admni"' "$t/e" && grep -q 'warning: \$\.rules\[1\]\.path: .*"/app"' "$t/e"; then
  ok "cli: policy check warns of a role nothing grants and a rule outside the cookie's path, naming the member (exit 0)"
else no "cli policy warnings" "rc=$rc $out $(cat "$t/e")"; fi
$cli policy check --strict "$t/warn.json" >/dev/null 2>&1; rc=$?
$cli policy check --strict "$t/login.json" >"$t/o" 2>"$t/e"; rc2=$?
[ $rc -eq 1 ] && [ $rc2 -eq 0 ] && [ ! -s "$t/e" ] && [ "$(cat "$t/o")" = "$t/login.json: ok" ] \
  && ok "cli: policy check --strict -> exit 1 with warnings, 0 without" || no "cli --strict" "rc=$rc rc2=$rc2 $(cat "$t/e")"
