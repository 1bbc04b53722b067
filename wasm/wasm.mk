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

# --- WASI -----------------------------------------------------------------
W := $(B)/wasm/wasi
$(W)/br/%.o: $(TP)/bearssl/src/%.c
	@mkdir -p $(@D)
	@$(WASI_CC) $(WASI_CFLAGS) -w $(BR_INC) -c $< -o $@
$(W)/libbearssl.a: $(patsubst $(TP)/bearssl/src/%.c,$(W)/br/%.o,$(BR_SRCS))
	rm -f $@ && $(WASI_AR) rcs $@ $^
$(W)/cJSON.o: $(CJ_SRC)
	@mkdir -p $(@D)
	$(WASI_CC) $(WASI_CFLAGS) -w $(CJ_INC) -c $< -o $@
$(W)/libcjson.a: $(W)/cJSON.o
	rm -f $@ && $(WASI_AR) rcs $@ $^
$(W)/core/%.o: core/%.c $(CORE_HDRS)
	@mkdir -p $(@D)
	$(WASI_CC) $(WASI_CFLAGS) $(WARN) -Icore $(BR_INC) $(CJ_INC) -c $< -o $@
$(W)/libauthcore.a: $(patsubst core/%.c,$(W)/core/%.o,$(CORE_SRCS))
	rm -f $@ && $(WASI_AR) rcs $@ $^
WASI_LIBS := $(W)/libauthcore.a $(W)/libcjson.a $(W)/libbearssl.a

# --- Emscripten -----------------------------------------------------------
EW := $(B)/wasm/em
$(EW)/br/%.o: $(TP)/bearssl/src/%.c
	@mkdir -p $(@D)
	@$(EMCC) $(EM_CFLAGS) -w $(BR_INC) -c $< -o $@
$(EW)/libbearssl.a: $(patsubst $(TP)/bearssl/src/%.c,$(EW)/br/%.o,$(BR_SRCS))
	rm -f $@ && $(EM_AR) rcs $@ $^
$(EW)/cJSON.o: $(CJ_SRC)
	@mkdir -p $(@D)
	$(EMCC) $(EM_CFLAGS) -w $(CJ_INC) -c $< -o $@
$(EW)/libcjson.a: $(EW)/cJSON.o
	rm -f $@ && $(EM_AR) rcs $@ $^
$(EW)/core/%.o: core/%.c $(CORE_HDRS)
	@mkdir -p $(@D)
	$(EMCC) $(EM_CFLAGS) $(WARN) -Icore $(BR_INC) $(CJ_INC) -c $< -o $@
$(EW)/libauthcore.a: $(patsubst core/%.c,$(EW)/core/%.o,$(CORE_SRCS))
	rm -f $@ && $(EM_AR) rcs $@ $^
EM_LIBS := $(EW)/libauthcore.a $(EW)/libcjson.a $(EW)/libbearssl.a

# The flat ABI that JavaScript hosts call (wasm/acw.c) is linked by each
# wasm host build; see hosts/edge/build.mk.
