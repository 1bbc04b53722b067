#!/usr/bin/env bash
# The aarch64 SHA-256 fast path (ARMv8 SHA2 instructions, chosen at run time
# in core/ac_sha256.c): tests/unit/test_sha256_arm.c cross-compiled by
# tests/unit/arm64.mk and run under qemu-user with Debian's aarch64 sysroot.
#   -cpu max         SHA2 field 2 (SHA-256 and SHA-512): every check, and the
#                    600,000-iteration PBKDF2 timings (emulated: information)
#   -cpu cortex-a53  SHA2 field 1 (SHA-256 only): every check but the timings
#   a model without SHA2, if this qemu has one (found by asking each model
#   with --probe): the fallback choice; qemu 7.2 (Debian 12) has none, and
#   no property turns the feature off, so that half is skipped, said in a
#   "# " line (not counted as a pass).
cd "$(dirname "$0")/../.." && . tests/lib/suite.sh
bin=build/arm64/test_sha256_arm
need "$bin"
sysroot=/usr/aarch64-linux-gnu
if ! command -v qemu-aarch64 >/dev/null 2>&1; then
  echo "not ok - qemu-aarch64 is installed (tools/deps.sh: qemu-user)"; exit 1
fi
if [ ! -e "$sysroot/lib/ld-linux-aarch64.so.1" ]; then
  echo "not ok - aarch64 sysroot at $sysroot (tools/deps.sh: libc6-dev-arm64-cross)"; exit 1
fi
[ -e "$bin" ] || exit 1

# which CPU models lack SHA2 (what the kernel qemu emulates reports in AT_HWCAP)
without=""
for m in $(qemu-aarch64 -cpu help | awk 'NR > 1 && NF { print $1 }'); do
  case "$(timeout 30 qemu-aarch64 -cpu "$m" -L "$sysroot" "$bin" --probe 2>/dev/null)" in
    "sha2 0") without="$without $m" ;;
    "sha2 1") ;;
    *) echo "not ok - qemu -cpu $m answers --probe"; rc=1 ;;
  esac
done
if [ -z "$without" ]; then
  echo "# skipped: the fallback choice on a CPU without SHA2 - no qemu-aarch64 $(qemu-aarch64 --version | awk 'NR == 1 { print $3 }') CPU model lacks it"
fi

run qemu-max qemu-aarch64 -cpu max -L "$sysroot" "$bin"
run qemu-cortex-a53 qemu-aarch64 -cpu cortex-a53 -L "$sysroot" "$bin" --quick
for m in $without; do run "qemu-$m-no-sha2" qemu-aarch64 -cpu "$m" -L "$sysroot" "$bin" --quick; done
exit $rc
