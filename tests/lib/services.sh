# Sourced by suites that start real services. Set `label` first (the prefix
# of every check line). Gives: $t, a scratch folder removed on exit; pids,
# the PIDs to stop on exit (TERM, up to 2 s, then KILL); ok NAME / no NAME
# WHY, check lines; port, a free loopback port; wait_port PORT PID
# [SECONDS], until 127.0.0.1:PORT accepts (default 15 s) while PID lives.
# A launcher's children (npx starts workerd as a child of its own) are
# stopped with it: cleanup stops every descendant of each PID in pids too,
# taken before the PIDs themselves are stopped.
t=$(mktemp -d)
pids=()
descendants() {
  local c
  for c in $(pgrep -P "$1" 2>/dev/null); do echo "$c"; descendants "$c"; done
}
cleanup() {
  local p
  for p in "${pids[@]}"; do pids+=($(descendants "$p")); done
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${pids[@]}"; do
    for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$p" 2>/dev/null || break; sleep 0.2; done
    kill -9 "$p" 2>/dev/null
  done
  rm -rf "$t"
}
trap cleanup EXIT
ok() { echo "ok - $label: $1"; }
no() { echo "not ok - $label: $1: $2"; }
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_port() {
  local i
  for i in $(seq $(( ${3:-15} * 10 ))); do
    kill -0 "$2" 2>/dev/null || return 1
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}
