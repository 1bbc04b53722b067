# Login-flow unit tests (tests/unit/test_login.c), built like session.mk's:
# native with every heap call counted, ASan+UBSan with clang compiling the
# core from source, and WASI wasm for Node.
LOGIN_SRC := tests/unit/test_login.c
LOGIN_OUT := $(B)/tests
LOGIN_SAN := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer

$(LOGIN_OUT)/login: $(LOGIN_SRC) tests/unit/check.h $(B)/lib/libauthcore.a $(CORE_HDRS)
	@mkdir -p $(@D)
	$(CC) -std=c11 $(WARN) -O1 -g -Icore -DAC_TEST_COUNT_HEAP $< -o $@ \
	  $(B)/lib/libauthcore.a $(NATIVE_LIBS) \
	  -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=free

$(LOGIN_OUT)/login-asan: $(LOGIN_SRC) tests/unit/check.h $(CORE_SRCS) $(CORE_HDRS)
	@mkdir -p $(@D)
	clang -std=c11 $(WARN) -O1 -g $(LOGIN_SAN) -Icore $(LOGIN_SRC) $(CORE_SRCS) -o $@ $(NATIVE_LIBS)

$(LOGIN_OUT)/login.wasm: $(LOGIN_SRC) tests/unit/check.h $(WASI_LIBS) $(CORE_HDRS)
	@mkdir -p $(@D)
	$(WASI_CC) -std=c11 $(WARN) -O2 -Icore $(BR_INC) $< -o $@ $(WASI_TEST_LDFLAGS) $(WASI_LIBS)

TEST_BINS += $(LOGIN_OUT)/login $(LOGIN_OUT)/login-asan $(LOGIN_OUT)/login.wasm
