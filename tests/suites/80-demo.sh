#!/usr/bin/env bash
# `make demo` end to end (AUTHCORE_DEMO_SELFTEST=1 tools/demo.sh): Envoy +
# filter + the demo upstreams; tokens (200 with identity, 401, 403) and the
# login flow with the password the demo prints (login page, wrong password
# 401, login 303 with cookies, dashboard, CSRF-protected retry, logout).
# Each "<name>: <status> (want <status>)" line of the self-test becomes one
# ok / not ok line; a "  but ..." line under it fails that check.
cd "$(dirname "$0")/../.."
out=$(AUTHCORE_DEMO_SELFTEST=1 timeout -k 10 180 bash tools/demo.sh 2>&1)
rc=$?
checks=0 bad=0 prev=""
flush() { # reports the previous check, failed if a "but" line followed it
  [ -n "$prev" ] || return 0
  if [ -n "$why" ]; then echo "not ok - make demo: $prev:$why"; bad=$((bad + 1))
  else echo "ok - make demo: $prev"; fi
  prev=""
}
why=""
while IFS= read -r line; do
  if [[ "$line" =~ ^(.+):\ ([0-9]+|error)\ \(want\ ([0-9]+)[^\)]*\)$ ]]; then
    flush
    checks=$((checks + 1))
    [[ "$line" != *" ms)" ]] || echo "# $line"
    prev="${BASH_REMATCH[1]} answers ${BASH_REMATCH[3]}"
    why=""
    [ "${BASH_REMATCH[2]}" = "${BASH_REMATCH[3]}" ] || why=" got ${BASH_REMATCH[2]}"
  elif [[ "$line" =~ ^\ \ but\ (.*)$ ]]; then
    why="$why ${BASH_REMATCH[1]}"
  else
    [ -z "$line" ] || echo "# $line"
  fi
done <<< "$out"
flush
if [ "$checks" -lt 12 ]; then
  echo "not ok - make demo self-test ran $checks checks (want 12), exit $rc"
elif [ "$rc" -ne 0 ] && [ "$bad" -eq 0 ]; then
  echo "not ok - make demo self-test exited $rc"
fi
exit 0
