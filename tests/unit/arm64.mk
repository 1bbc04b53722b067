# aarch64 cross build for the ARMv8 SHA2 SHA-256 path (core/ac_sha256.c),
# run under qemu-aarch64 by tests/suites/27-sha256-arm.sh: BearSSL from
# Debian's source (build/third_party/bearssl) and every core source, built by
# wasm/wasm.mk's cross_libs template, and tests/unit/test_sha256_arm.c, all
# with Debian's aarch64-linux-gnu-gcc for baseline armv8-a, so the SHA2 code
# is reached only through the run-time choice. Heap calls are counted as in
# unit.mk.
A64_CC := aarch64-linux-gnu-gcc
A64_AR := aarch64-linux-gnu-ar
A64_CFLAGS := -O2 -std=c11 -march=armv8-a
A64 := $(B)/arm64
$(eval $(call cross_libs,A64,$(A64),$$(A64_CC),$$(A64_AR),$$(A64_CFLAGS)))

$(A64)/test_sha256_arm: tests/unit/test_sha256_arm.c tests/unit/check.h $(CORE_HDRS) $(A64)/libauthcore.a $(A64)/libbearssl.a
	@mkdir -p $(@D)
	$(A64_CC) $(A64_CFLAGS) $(WARN) -g -Icore $(BR_INC) -DAC_TEST_COUNT_HEAP $< -o $@ \
	  $(A64)/libauthcore.a $(A64)/libbearssl.a \
	  -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=free
TEST_BINS += $(A64)/test_sha256_arm
SUITE_NEEDS_27-sha256-arm := $(A64)/test_sha256_arm
