# Unit test binaries: native (with heap-call counting), ASan+UBSan (clang,
# core compiled from source with the sanitizers), and WASI wasm for Node.
UNIT_SRC := tests/unit/test_core.c
UT := $(B)/tests

$(UT)/unit: $(UNIT_SRC) $(B)/lib/libauthcore.a
	@mkdir -p $(@D)
	$(CC) -std=c11 -Wall -Wextra -Werror -O1 -g -Icore -DAC_TEST_COUNT_HEAP $< -o $@ \
	  $(B)/lib/libauthcore.a $(NATIVE_LIBS) \
	  -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=free

SAN := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
$(UT)/unit-asan: $(UNIT_SRC) $(CORE_SRCS) $(CORE_HDRS)
	@mkdir -p $(@D)
	clang -std=c11 -Wall -Wextra -Werror -O1 -g $(SAN) -Icore $(UNIT_SRC) $(CORE_SRCS) -o $@ $(NATIVE_LIBS)

$(UT)/unit.wasm: $(UNIT_SRC) $(WASI_LIBS)
	@mkdir -p $(@D)
	$(WASI_CC) -std=c11 -O2 -Icore $(BR_INC) $< -o $@ $(WASI_TEST_LDFLAGS) $(WASI_LIBS)

TEST_BINS += $(UT)/unit $(UT)/unit-asan $(UT)/unit.wasm
