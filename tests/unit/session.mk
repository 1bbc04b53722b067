# Session, CSRF and API-key unit tests (tests/unit/test_session.c), built
# like unit.mk's: native (heap calls counted; also the helper modes that
# tests/unit/session_xcheck.py drives), ASan+UBSan with clang compiling the
# core from source, and WASI wasm for Node. The tests use BearSSL directly to
# forge MACs over payloads the issuer would never write.
SESSION_SRC := tests/unit/test_session.c
SESSION_OUT := $(B)/tests
SESSION_SAN := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer

$(SESSION_OUT)/session: $(SESSION_SRC) $(B)/lib/libauthcore.a $(CORE_HDRS)
	@mkdir -p $(@D)
	$(CC) -std=c11 $(WARN) -O1 -g -Icore -DAC_TEST_COUNT_HEAP $< -o $@ \
	  $(B)/lib/libauthcore.a $(NATIVE_LIBS) \
	  -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=free

$(SESSION_OUT)/session-asan: $(SESSION_SRC) $(CORE_SRCS) $(CORE_HDRS)
	@mkdir -p $(@D)
	clang -std=c11 $(WARN) -O1 -g $(SESSION_SAN) -Icore $(SESSION_SRC) $(CORE_SRCS) -o $@ $(NATIVE_LIBS)

$(SESSION_OUT)/session.wasm: $(SESSION_SRC) $(WASI_LIBS) $(CORE_HDRS)
	@mkdir -p $(@D)
	$(WASI_CC) -std=c11 $(WARN) -O2 -Icore $(BR_INC) $< -o $@ $(WASI_TEST_LDFLAGS) $(WASI_LIBS)

TEST_BINS += $(SESSION_OUT)/session $(SESSION_OUT)/session-asan $(SESSION_OUT)/session.wasm
