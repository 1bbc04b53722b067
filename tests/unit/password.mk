# PBKDF2 and password hash string unit tests (tests/unit/test_password.c),
# built like session.mk's: native (heap calls counted; also the helper
# modes that tests/unit/password_xcheck.py drives), ASan+UBSan with clang
# compiling the core from source, and WASI wasm for Node (without the
# 1,200,000-iteration Django example: portable SHA-256 there). Plus the
# Wycheproof PBKDF2 vectors, native and ASan+UBSan.
PASSWORD_SRC := tests/unit/test_password.c
PASSWORD_WP_SRC := tests/unit/test_password_wycheproof.c
PASSWORD_OUT := $(B)/tests
PASSWORD_SAN := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer

$(PASSWORD_OUT)/password: $(PASSWORD_SRC) tests/unit/check.h $(B)/lib/libauthcore.a $(CORE_HDRS)
	@mkdir -p $(@D)
	$(CC) -std=c11 $(WARN) -O2 -g -Icore -DAC_TEST_COUNT_HEAP $< -o $@ \
	  $(B)/lib/libauthcore.a $(NATIVE_LIBS) \
	  -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=free

$(PASSWORD_OUT)/password-asan: $(PASSWORD_SRC) tests/unit/check.h $(CORE_SRCS) $(CORE_HDRS)
	@mkdir -p $(@D)
	clang -std=c11 $(WARN) -O1 -g $(PASSWORD_SAN) -Icore $(PASSWORD_SRC) $(CORE_SRCS) -o $@ $(NATIVE_LIBS)

$(PASSWORD_OUT)/password.wasm: $(PASSWORD_SRC) tests/unit/check.h $(WASI_LIBS) $(CORE_HDRS)
	@mkdir -p $(@D)
	$(WASI_CC) -std=c11 $(WARN) -O2 -DAC_TEST_SKIP_SLOW -Icore $(BR_INC) $< -o $@ $(WASI_TEST_LDFLAGS) $(WASI_LIBS)

$(PASSWORD_OUT)/password-wycheproof: $(PASSWORD_WP_SRC) $(B)/lib/libauthcore.a $(CORE_HDRS)
	@mkdir -p $(@D)
	$(CC) -std=c11 $(WARN) -O2 -g -Icore $< -o $@ $(B)/lib/libauthcore.a $(NATIVE_LIBS)

$(PASSWORD_OUT)/password-wycheproof-asan: $(PASSWORD_WP_SRC) $(CORE_SRCS) $(CORE_HDRS)
	@mkdir -p $(@D)
	clang -std=c11 $(WARN) -O1 -g $(PASSWORD_SAN) -Icore $(PASSWORD_WP_SRC) $(CORE_SRCS) -o $@ $(NATIVE_LIBS)

TEST_BINS += $(PASSWORD_OUT)/password $(PASSWORD_OUT)/password-asan $(PASSWORD_OUT)/password.wasm \
  $(PASSWORD_OUT)/password-wycheproof $(PASSWORD_OUT)/password-wycheproof-asan
