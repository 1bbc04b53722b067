# aarch64 cross build for the ARMv8 SHA2 SHA-256 path (core/ac_sha256.c),
# run under qemu-aarch64 by tests/suites/27-arm64.sh: BearSSL from Debian's
# source (build/third_party/bearssl, as wasm/wasm.mk builds it), every core
# source and tests/unit/test_sha256_arm.c, all with Debian's
# aarch64-linux-gnu-gcc for baseline armv8-a, so the SHA2 code is reached
# only through the run-time choice. Heap calls are counted as in unit.mk.
A64_CC := aarch64-linux-gnu-gcc
A64_AR := aarch64-linux-gnu-ar
A64_CFLAGS := -O2 -std=c11 -march=armv8-a
A64 := $(B)/arm64

$(A64)/br/%.o: $(TP)/bearssl/src/%.c
	@mkdir -p $(@D)
	@$(A64_CC) $(A64_CFLAGS) -w $(BR_INC) -c $< -o $@
$(A64)/libbearssl.a: $(patsubst $(TP)/bearssl/src/%.c,$(A64)/br/%.o,$(BR_SRCS))
	rm -f $@ && $(A64_AR) rcs $@ $^
$(A64)/core/%.o: core/%.c $(CORE_HDRS)
	@mkdir -p $(@D)
	$(A64_CC) $(A64_CFLAGS) $(WARN) -Icore $(BR_INC) $(CJ_INC) -c $< -o $@
$(A64)/libauthcore.a: $(patsubst core/%.c,$(A64)/core/%.o,$(CORE_SRCS))
	rm -f $@ && $(A64_AR) rcs $@ $^

$(A64)/sha256-arm: tests/unit/test_sha256_arm.c tests/unit/check.h $(A64)/libauthcore.a $(A64)/libbearssl.a $(CORE_HDRS)
	@mkdir -p $(@D)
	$(A64_CC) $(A64_CFLAGS) $(WARN) -g -Icore $(BR_INC) -DAC_TEST_COUNT_HEAP $< -o $@ \
	  $(A64)/libauthcore.a $(A64)/libbearssl.a \
	  -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=free

TEST_BINS += $(A64)/sha256-arm
