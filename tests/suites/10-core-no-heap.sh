#!/usr/bin/env bash
# core/ never touches the heap: no core object file (native, WASI, Emscripten,
# aarch64 cross build)
# may reference malloc, calloc, realloc, free (or their aligned/strdup kin),
# and core/ may not include headers that bring I/O or clocks.
cd "$(dirname "$0")/../.."
bad_syms='^(malloc|calloc|realloc|free|aligned_alloc|posix_memalign|memalign|valloc|strdup|strndup|reallocarray)$'
rc=0
for dir in build/obj/core build/wasm/wasi/core build/wasm/em/core build/arm64/core; do
  objs=$(ls $dir/*.o 2>/dev/null)
  if [ -z "$objs" ]; then echo "not ok - heap symbols in $dir: no object files built"; rc=1; continue; fi
  n=$(echo "$objs" | wc -w)
  hits=$(for o in $objs; do llvm-nm-14 --undefined-only "$o" 2>/dev/null | awk '{print $NF}' | grep -E "$bad_syms" | sed "s|^|$(basename $o): |"; done)
  # the check itself must be able to see undefined symbols: every object
  # references something (memcpy, BearSSL, cJSON), so an empty listing means nm failed
  seen=$(for o in $objs; do llvm-nm-14 --undefined-only "$o"; done 2>/dev/null | wc -l)
  if [ "$seen" -eq 0 ]; then echo "not ok - heap symbols in $dir: nm saw no undefined symbols"; rc=1
  elif [ -n "$hits" ]; then echo "not ok - heap symbols in $dir: $hits"; rc=1
  else echo "ok - no heap symbols in $n core objects in $dir"; fi
done
# I/O, clocks, randomness: none of these may appear in core sources
io=$(grep -nE '\b(fopen|fread|fwrite|printf|fprintf|puts|time|clock_gettime|gettimeofday|getrandom|rand|srand|getenv)\s*\(' core/*.c | grep -v 'snprintf' || true)
if [ -n "$io" ]; then echo "not ok - core has no I/O, clock or env calls: $io"; rc=1
else echo "ok - core has no I/O, clock or env calls"; fi
exit $rc
