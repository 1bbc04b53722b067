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
#include <string.h>
static unsigned char mem[1 << 20];
static ac_decision d;
int main(void) {
	const char *pol = "{\"jwt\":{\"keys\":[{\"alg\":\"HS256\",\"secret\":\"0123456789abcdef0123456789abcdef\"}]},\"public\":[\"/open\"]}";
	ac_policy_error err; size_t used;
	const ac_policy *p = ac_policy_load(mem, sizeof mem, pol, strlen(pol), &used, &err);
	ac_request r; memset(&r, 0, sizeof r);
	if (!p) { printf("load: %s %s\n", err.path, err.message); return 1; }
	r.method.ptr = "GET"; r.method.len = 3; r.path.ptr = "/x"; r.path.len = 2;
	ac_decide(p, &r, 1000, 0, 0, &d);
	printf("%d %s %zu\n", d.status, ac_reason_name(d.reason), ac_sizeof_decision() == sizeof d);
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
