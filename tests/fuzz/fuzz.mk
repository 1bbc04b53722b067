# libFuzzer targets over the core, one per parser plus the whole decision
# (tests/fuzz/fuzz_*.c, harness in fz.c). The core is compiled once with
# the fuzzer's coverage and ASan+UBSan; each target links those objects.
# Seeds: tests/fuzz/corpus/<target>/. tests/suites/90-fuzz.sh runs every
# target for a few seconds inside `make test`; `make fuzz` runs each for
# AUTHCORE_FUZZ_SECONDS (default 60) and prints its execution count.
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=all \
	-fno-omit-frame-pointer
FUZZ_CFLAGS := -std=c11 -Wall -Wextra -Werror -O1 -g $(FUZZ_SAN) -Icore
FUZZ_TARGETS := fuzz_b64 fuzz_json fuzz_jws fuzz_jwk fuzz_policy fuzz_limits \
	fuzz_login fuzz_decide fuzz_fetch fuzz_oidc fuzz_redis
# the path canonicaliser's target, once the core has it (core/ac_request.c)
FUZZ_TARGETS += $(if $(wildcard core/ac_request.c),fuzz_canon)
FUZZ_CORE_OBJS := $(patsubst core/%.c,$(B)/obj/fuzz/core/%.o,$(CORE_SRCS))

$(B)/obj/fuzz/core/%.o: core/%.c $(CORE_HDRS) tests/fuzz/fuzz.mk
	@mkdir -p $(@D)
	clang $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@

# the harness without coverage: its output checks are no search target
$(B)/obj/fuzz/fz.o: tests/fuzz/fz.c tests/fuzz/fz.h $(CORE_HDRS) tests/fuzz/fuzz.mk
	@mkdir -p $(@D)
	clang $(FUZZ_CFLAGS) -c $< -o $@

$(B)/tests/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fz.h $(B)/obj/fuzz/fz.o \
    $(FUZZ_CORE_OBJS) $(CORE_HDRS)
	@mkdir -p $(@D)
	clang $(FUZZ_CFLAGS) -fsanitize=fuzzer $< $(B)/obj/fuzz/fz.o \
	  $(FUZZ_CORE_OBJS) -o $@ $(NATIVE_LIBS)

# kept between builds (make would delete them as intermediates)
.SECONDARY: $(FUZZ_CORE_OBJS) $(B)/obj/fuzz/fz.o
FUZZ_BINS := $(addprefix $(B)/tests/,$(FUZZ_TARGETS))
TEST_BINS += $(FUZZ_BINS)

# make fuzz: every target for AUTHCORE_FUZZ_SECONDS (default 60) each, one
# after another, on build/tests/fuzz/<target>/corpus (seeded from the
# committed corpus); prints each target's execution count and rate.
.PHONY: fuzz fuzz-bins
fuzz-bins: $(FUZZ_BINS)
fuzz: $(FUZZ_BINS)
	@AUTHCORE_FUZZ_SECONDS=$${AUTHCORE_FUZZ_SECONDS:-60} bash tests/fuzz/run.sh $(FUZZ_TARGETS)
