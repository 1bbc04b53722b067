# Sourced by the unit-test suites. run LABEL COMMAND...: runs one test
# program with a time limit, prefixes its check lines with LABEL, and marks
# the suite failed (rc=1) on a non-zero exit, a crash or a timeout, so a
# program that dies part-way is never mistaken for one that passed.
rc=0
run() {
  local label=$1; shift
  timeout 120 "$@" | sed "s/^\(not \)\?ok - /&$label: /"
  local st=${PIPESTATUS[0]}
  if [ "$st" -eq 124 ]; then echo "not ok - $label: timed out after 120 s"
  elif [ "$st" -ne 0 ]; then echo "not ok - $label: exit status $st"; fi
  [ "$st" -eq 0 ] || rc=1
}
# need FILE...: each test binary must have been built.
need() {
  local b
  for b in "$@"; do [ -e "$b" ] || { echo "not ok - $b is built (make test-bins)"; rc=1; }; done
}
