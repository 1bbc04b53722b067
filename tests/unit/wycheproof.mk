# Wycheproof vectors through the core's JWS checks: native and ASan+UBSan.
$(UT)/wycheproof: tests/unit/test_wycheproof.c $(B)/lib/libauthcore.a
	@mkdir -p $(@D)
	$(CC) -std=c11 -Wall -Wextra -Werror -O2 -g -Icore $< -o $@ $(B)/lib/libauthcore.a $(NATIVE_LIBS)
$(UT)/wycheproof-asan: tests/unit/test_wycheproof.c $(CORE_SRCS) $(CORE_HDRS)
	@mkdir -p $(@D)
	clang -std=c11 -Wall -Wextra -Werror -O1 -g $(SAN) -Icore tests/unit/test_wycheproof.c $(CORE_SRCS) -o $@ $(NATIVE_LIBS)
TEST_BINS += $(UT)/wycheproof $(UT)/wycheproof-asan
