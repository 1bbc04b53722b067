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
# The brief's shared test vectors: $AUTHCORE_SHARED if set, else ../shared
# beside this checkout, else ../shared beside the local checkout this one was
# cloned from (a clone made in a temporary folder, as CI's clean-clone check
# does). Prints the folder, or the first candidate when none exists (the
# suites then report the files they cannot read).
shared_dir() {
  local origin
  if [ -n "${AUTHCORE_SHARED:-}" ]; then echo "$AUTHCORE_SHARED"; return; fi
  if [ -d ../shared ]; then echo ../shared; return; fi
  origin=$(git remote get-url origin 2>/dev/null)
  if [ -n "$origin" ] && [ -d "$origin/../shared" ]; then echo "$origin/../shared"; return; fi
  echo ../shared
}

