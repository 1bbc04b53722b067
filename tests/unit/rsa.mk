# RSA public operation and RS/PS signature tests (tests/unit/test_rsa.c),
# built like session.mk's: native (heap calls counted), ASan+UBSan with
# clang compiling the core from source, the same with -DAC_RSA_LIMB32 (the
# 32-bit-limb arithmetic wasm uses, here under the sanitizers), and WASI
# wasm for Node. The tests call BearSSL directly (its public and private
# RSA operations are the reference and the signer).
RSA_SRC := tests/unit/test_rsa.c
RSA_OUT := $(B)/tests
RSA_SAN := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer

$(RSA_OUT)/rsa: $(RSA_SRC) $(B)/lib/libauthcore.a $(CORE_HDRS)
	@mkdir -p $(@D)
	$(CC) -std=c11 $(WARN) -O2 -g -Icore -DAC_TEST_COUNT_HEAP $< -o $@ \
	  $(B)/lib/libauthcore.a $(NATIVE_LIBS) \
	  -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=free

$(RSA_OUT)/rsa-asan: $(RSA_SRC) $(CORE_SRCS) $(CORE_HDRS)
	@mkdir -p $(@D)
	clang -std=c11 $(WARN) -O1 -g $(RSA_SAN) -Icore $(RSA_SRC) $(CORE_SRCS) -o $@ $(NATIVE_LIBS)

$(RSA_OUT)/rsa32-asan: $(RSA_SRC) $(CORE_SRCS) $(CORE_HDRS)
	@mkdir -p $(@D)
	clang -std=c11 $(WARN) -O1 -g $(RSA_SAN) -DAC_RSA_LIMB32 -Icore $(RSA_SRC) $(CORE_SRCS) -o $@ $(NATIVE_LIBS)

$(RSA_OUT)/rsa.wasm: $(RSA_SRC) $(WASI_LIBS) $(CORE_HDRS)
	@mkdir -p $(@D)
	$(WASI_CC) -std=c11 $(WARN) -O2 -Icore $(BR_INC) $< -o $@ $(WASI_TEST_LDFLAGS) $(WASI_LIBS)

TEST_BINS += $(RSA_OUT)/rsa $(RSA_OUT)/rsa-asan $(RSA_OUT)/rsa32-asan $(RSA_OUT)/rsa.wasm
