# wasm builds of the third-party C code and the core, for two toolchains:
#   WASI SDK (clang --target=wasm32-wasi + wasi-libc + wasm-ld): proxy-wasm
#     filter, WASI unit tests
#   Emscripten (Debian's emcc): the edge module for JS runtimes
# BearSSL and cJSON sources come from Debian's source packages
# (tools/deps.sh unpacks them into build/third_party; nothing is committed).

WASI_CC := clang --target=wasm32-wasi
WASI_AR := llvm-ar-14
WASI_CFLAGS := -O2 -std=c11 -fvisibility=hidden
EMCC := NODE_PATH=/usr/share/nodejs emcc
EM_AR := emar
EM_CFLAGS := -O2 -std=c11

BR_SRCS := $(shell find $(TP)/bearssl/src -name '*.c' 2>/dev/null | sort)
BR_INC := -isystem $(TP)/bearssl/inc -isystem $(TP)/bearssl/src
CJ_SRC := $(TP)/cjson/cJSON.c
CJ_INC := -isystem $(TP)/include -isystem $(TP)/cjson

# $(eval $(call cross_libs,NAME,DIR,CC,AR,CFLAGS)): BearSSL, cJSON and the
# core built by one cross toolchain into DIR (DIR/br/, DIR/cJSON.o, DIR/core/ and the
# three archives DIR/lib{bearssl,cjson,authcore}.a); NAME_LIBS lists the
# archives in link order. CC, AR and CFLAGS are passed as $$(VAR) so the
# recipes read the variables when they run, as written by hand. Used for
# WASI and Emscripten below and for the aarch64 test build.
define cross_libs
$(2)/br/%.o: $(TP)/bearssl/src/%.c
	@mkdir -p $$(@D)
	@$(3) $(5) -w $$(BR_INC) -c $$< -o $$@
$(2)/libbearssl.a: $$(patsubst $(TP)/bearssl/src/%.c,$(2)/br/%.o,$$(BR_SRCS))
	@test -n "$$^" || { echo "$$@: no BearSSL sources were found when make started" \
	  "(run make deps, then make again)" >&2; exit 1; }
	rm -f $$@ && $(4) rcs $$@ $$^
$(2)/cJSON.o: $$(CJ_SRC)
	@mkdir -p $$(@D)
	$(3) $(5) -w $$(CJ_INC) -c $$< -o $$@
$(2)/libcjson.a: $(2)/cJSON.o
	rm -f $$@ && $(4) rcs $$@ $$^
$(2)/core/%.o: core/%.c $$(CORE_HDRS)
	@mkdir -p $$(@D)
	$(3) $(5) $$(WARN) -Icore $$(BR_INC) $$(CJ_INC) -c $$< -o $$@
$(2)/libauthcore.a: $$(patsubst core/%.c,$(2)/core/%.o,$$(CORE_SRCS))
	rm -f $$@ && $(4) rcs $$@ $$^
$(1)_LIBS := $(2)/libauthcore.a $(2)/libcjson.a $(2)/libbearssl.a
endef

W := $(B)/wasm/wasi
EW := $(B)/wasm/em
$(eval $(call cross_libs,WASI,$(W),$$(WASI_CC),$$(WASI_AR),$$(WASI_CFLAGS)))
$(eval $(call cross_libs,EM,$(EW),$$(EMCC),$$(EM_AR),$$(EM_CFLAGS)))

# The flat ABI that JavaScript hosts call (wasm/acw.c) is linked by each
# wasm host build; see hosts/edge/build.mk.
