# libFuzzer target over the core (tests/fuzz/fuzz_jwt.c): tokens, policies,
# JWK/JWKS, base64url and decisions. The core is compiled from source with the
# fuzzer's coverage and ASan+UBSan; tests/suites/90-fuzz.sh runs it for a
# bounded time on a copy of tests/fuzz/corpus.
FUZZ_SAN := -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
	-fno-omit-frame-pointer
$(B)/tests/fuzz_jwt: tests/fuzz/fuzz_jwt.c $(CORE_SRCS) $(CORE_HDRS) tests/fuzz/fuzz.mk
	@mkdir -p $(@D)
	clang -std=c11 -Wall -Wextra -Werror -O1 -g $(FUZZ_SAN) -Icore \
	  tests/fuzz/fuzz_jwt.c $(CORE_SRCS) -o $@ $(NATIVE_LIBS)

TEST_BINS += $(B)/tests/fuzz_jwt
