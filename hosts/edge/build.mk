# hosts/edge: the ES module package for Cloudflare Workers (workerd), Deno and
# Node. wasm/acw.c + the core, linked by Emscripten into $(B)/edge/, which is a
# self-contained package: authcore.mjs (the API), authcore_glue.mjs (the
# Emscripten factory), authcore.wasm, package.json, README.md, example/.
#
# Why these link flags:
#  - MODULARIZE + EXPORT_ES6 + ENVIRONMENT=web: a factory the API calls with an
#    instantiateWasm hook, so the caller supplies the WebAssembly.Module
#    (Workers forbid compiling wasm from bytes at run time).
#  - DYNAMIC_EXECUTION=0, FILESYSTEM=0: no eval, no fs shims in the glue.
#  - ALLOW_MEMORY_GROWTH: a policy of up to 1 MiB is compiled into the heap;
#    authcore.mjs re-reads HEAPU8 after every call that may allocate.
#  - The link writes authcore.js, renamed to authcore_glue.mjs, so the glue
#    and the .wasm keep the names the package ships.
EDGE_OUT := $(B)/edge
EDGE_SRC := hosts/edge
# _acw_needs says what a request needs (body, state); _acw_decide decides
# in one call; _acw_begin/_acw_step/_acw_resume/
# _acw_decision_new/_acw_decision_free are the stepped path for a pending
# password check or a key fetch (_acw_fetched hands its outcome over);
# _acw_release ends a connection cap's lease when its stream
# ends; _ac_pbkdf2 (one-shot PBKDF2) is for benchmarks. Under a policy whose
# store is Redis: _acw_policy_redis (where it is), _acw_redis_reply (a
# command's reply handed back) and _acw_release_begin (a release that may
# wait for Redis); _acw_redis_resp, _acw_redis_reply_resp and
# _acw_redis_auth: the same over a raw socket (workerd), the command (and a
# connection's AUTH) as RESP bytes and the reply read as bytes.
EDGE_EXPORTS := _acw_alloc,_acw_free,_acw_load,_acw_unload,_acw_decide
EDGE_EXPORTS := $(EDGE_EXPORTS),_acw_seed,_acw_body_max,_acw_needs
EDGE_EXPORTS := $(EDGE_EXPORTS),_acw_decision_new,_acw_decision_free
EDGE_EXPORTS := $(EDGE_EXPORTS),_acw_begin,_acw_step,_acw_resume,_acw_abandon,_ac_pbkdf2
EDGE_EXPORTS := $(EDGE_EXPORTS),_acw_set_view,_acw_reason_name,_acw_jwt_verify
EDGE_EXPORTS := $(EDGE_EXPORTS),_acw_release,_acw_fetched
EDGE_EXPORTS := $(EDGE_EXPORTS),_acw_policy_redis,_acw_redis_reply,_acw_release_begin
EDGE_EXPORTS := $(EDGE_EXPORTS),_acw_redis_resp,_acw_redis_reply_resp,_acw_redis_auth
EDGE_LDFLAGS := -O2 -std=c11 $(WARN) -Icore \
	-sMODULARIZE=1 -sEXPORT_ES6=1 -sEXPORT_NAME=createAuthcoreModule \
	-sENVIRONMENT=web --no-entry \
	-sEXPORTED_FUNCTIONS=$(EDGE_EXPORTS) -sEXPORTED_RUNTIME_METHODS=HEAPU8,HEAPU32 \
	-sDYNAMIC_EXECUTION=0 -sFILESYSTEM=0 -sMALLOC=emmalloc \
	-sALLOW_MEMORY_GROWTH=1 -sINITIAL_MEMORY=4194304 -sTOTAL_STACK=262144 \
	-sINCOMING_MODULE_JS_API=locateFile,instantiateWasm

$(EDGE_OUT)/authcore.wasm $(EDGE_OUT)/authcore_glue.mjs &: wasm/acw.c $(CORE_HDRS) $(EM_LIBS) $(EDGE_SRC)/build.mk
	@mkdir -p $(EDGE_OUT)/.link
	$(EMCC) $(EDGE_LDFLAGS) wasm/acw.c $(EM_LIBS) -o $(EDGE_OUT)/.link/authcore.js
	mv $(EDGE_OUT)/.link/authcore.wasm $(EDGE_OUT)/authcore.wasm
	mv $(EDGE_OUT)/.link/authcore.js $(EDGE_OUT)/authcore_glue.mjs
	@rmdir $(EDGE_OUT)/.link
	@echo "edge: authcore.wasm $$(stat -c %s $(EDGE_OUT)/authcore.wasm) bytes, authcore_glue.mjs $$(stat -c %s $(EDGE_OUT)/authcore_glue.mjs) bytes"

$(EDGE_OUT)/%: $(EDGE_SRC)/%
	@mkdir -p $(@D)
	cp $< $@

EDGE_PKG := $(addprefix $(EDGE_OUT)/,authcore.wasm authcore_glue.mjs authcore.mjs \
	package.json README.md example/worker.mjs example/config.capnp)

.PHONY: edge
edge: $(EDGE_PKG)

ALL_WASM += $(EDGE_PKG)

# make bench-edge-limits: what a rate limit costs auth.decide in Node (a
# public GET without limits, with one client limit, with 1,000,000 keys
# of which 500,000 live, and under a connection cap, decided and released),
# alternating runs, medians and ratios to the run without limits; then the
# wasm memory of an instance per store size.
.PHONY: bench-edge-limits
bench-edge-limits: $(EDGE_PKG)
	@node tests/hosts/edge/bench_limits.mjs $(abspath $(EDGE_OUT))
