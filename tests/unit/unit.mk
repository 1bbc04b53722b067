# Unit test programs. A suite NN-NAME (tests/suites/NN-NAME.sh) runs the
# programs built from tests/unit/test_NAME.c, each named after its source:
#
#   $(eval $(call unit_test,SUITE,test_NAME,KINDS[,OPT])) builds, for each kind:
#     heap    build/tests/test_NAME        native, every heap call counted
#             (-DAC_TEST_COUNT_HEAP and the linker's --wrap of malloc, calloc,
#             realloc, free: the run proves the core makes none)
#     native  build/tests/test_NAME        native, heap calls not counted
#     asan    build/tests/test_NAME-asan   ASan+UBSan (clang), the core
#             compiled from source with the sanitizers
#     wasm    build/tests/test_NAME.wasm   WASI, run under Node
#             (tests/unit/run_wasi.mjs) against the WASI archives (wasm/wasm.mk)
#   and adds them to TEST_BINS and to the suite's SUITE_NEEDS_<suite>.
#   OPT is the native builds' optimisation (default -O2; ASan builds -O1).
#   test_NAME_WASM_CFLAGS, if set, adds to the wasm build's flags.
UT := $(B)/tests
UNIT_SAN := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
UNIT_HEAP_WRAP := -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=free
UNIT_DEPS := tests/unit/check.h tests/unit/fixtures.h $(CORE_HDRS)

# $(call unit_native,NAME,OPT,CFLAGS,LDFLAGS)
define unit_native
$(UT)/$(1): tests/unit/$(1).c $(UNIT_DEPS) $(B)/lib/libauthcore.a
	@mkdir -p $$(@D)
	$$(CC) -std=c11 $$(WARN) $(or $(2),-O2) -g -Icore $(3) $$< -o $$@ $(B)/lib/libauthcore.a $$(NATIVE_LIBS) $(4)
endef
# $(call unit_asan,NAME,SUFFIX,CFLAGS): also used for extra sanitizer builds
define unit_asan
$(UT)/$(1)$(2)-asan: tests/unit/$(1).c $(UNIT_DEPS) $(CORE_SRCS)
	@mkdir -p $$(@D)
	clang -std=c11 $$(WARN) -O1 -g $$(UNIT_SAN) $(3) -Icore $$< $$(CORE_SRCS) -o $$@ $$(NATIVE_LIBS)
endef
define unit_wasm
$(UT)/$(1).wasm: tests/unit/$(1).c $(UNIT_DEPS) $(WASI_LIBS)
	@mkdir -p $$(@D)
	$$(WASI_CC) -std=c11 $$(WARN) -O2 $$($(1)_WASM_CFLAGS) -Icore $$(BR_INC) $$< -o $$@ $$(WASI_TEST_LDFLAGS) $$(WASI_LIBS)
endef
unit_bin = $(UT)/$(1)$(if $(filter asan,$(2)),-asan)$(if $(filter wasm,$(2)),.wasm)
define unit_test
$(if $(filter heap,$(3)),$(call unit_native,$(2),$(4),-DAC_TEST_COUNT_HEAP,$(UNIT_HEAP_WRAP)))
$(if $(filter native,$(3)),$(call unit_native,$(2),$(4)))
$(if $(filter asan,$(3)),$(call unit_asan,$(2)))
$(if $(filter wasm,$(3)),$(call unit_wasm,$(2)))
TEST_BINS += $(foreach k,$(3),$(call unit_bin,$(2),$(k)))
SUITE_NEEDS_$(1) += $(foreach k,$(3),$(call unit_bin,$(2),$(k)))
endef

$(eval $(call unit_test,20-core,test_core,heap asan wasm,-O1))
$(eval $(call unit_test,20-core,test_cache,heap asan wasm,-O1))
$(eval $(call unit_test,20-core,test_jwks,heap asan wasm,-O1))
$(eval $(call unit_test,20-core,test_oidc,heap asan wasm,-O1))
$(eval $(call unit_test,20-core,test_revoke,heap asan wasm,-O1))
$(eval $(call unit_test,20-core,test_redis,heap asan wasm,-O1))
$(eval $(call unit_test,20-core,test_redis_gateway,heap asan wasm,-O1))
$(eval $(call unit_test,21-session,test_session,heap asan wasm,-O1))
$(eval $(call unit_test,22-wycheproof,test_wycheproof,native asan))
# without the 1,200,000-iteration Django example in wasm (portable SHA-256
# there); the Wycheproof PBKDF2 vectors; the CLI for tests/unit/taskito_xcheck.py
$(eval $(call unit_test,23-password,test_password,heap asan wasm))
test_password_WASM_CFLAGS := -DAC_TEST_SKIP_SLOW
$(eval $(call unit_test,23-password,test_password_wycheproof,native asan))
SUITE_NEEDS_23-password += $(B)/bin/authcore
$(eval $(call unit_test,24-login,test_login,heap asan wasm,-O1))
# and under the sanitizers with -DAC_RSA_LANES (the 64-bit limbs without a
# 128-bit product that wasm uses) and -DAC_RSA_LIMB32 (32-bit limbs)
$(eval $(call unit_test,26-rsa,test_rsa,heap asan wasm))
$(eval $(call unit_asan,test_rsa,-lanes,-DAC_RSA_LANES))
$(eval $(call unit_asan,test_rsa,-limb32,-DAC_RSA_LIMB32))
TEST_BINS += $(UT)/test_rsa-lanes-asan $(UT)/test_rsa-limb32-asan
SUITE_NEEDS_26-rsa += $(UT)/test_rsa-lanes-asan $(UT)/test_rsa-limb32-asan
# ECDSA against BearSSL: natively with heap counting, under ASan+UBSan with
# 64-bit and 32-bit limbs (the wasm arithmetic), and as WASI wasm; the
# sanitizer and wasm builds with fewer random signatures
$(eval $(call unit_test,28-ecdsa,test_ecdsa,heap wasm))
$(eval $(call unit_asan,test_ecdsa,,-DAC_TEST_ECDSA_ROUNDS=200))
$(eval $(call unit_asan,test_ecdsa,-limb32,-DAC_RSA_LIMB32 -DAC_TEST_ECDSA_ROUNDS=200))
test_ecdsa_WASM_CFLAGS := -DAC_TEST_ECDSA_ROUNDS=300
TEST_BINS += $(UT)/test_ecdsa-asan $(UT)/test_ecdsa-limb32-asan
SUITE_NEEDS_28-ecdsa += $(UT)/test_ecdsa-asan $(UT)/test_ecdsa-limb32-asan
$(eval $(call unit_test,29-buckets,test_bucket,heap asan wasm))
$(eval $(call unit_test,29-buckets,test_store,heap asan wasm,-O1))
