# make bench: one side-by-side run of authcore and its peers on this machine
# (tools/bench/run.py prints the table and writes build/bench/results.md),
# then the proxy section (make bench-proxy, below: build/bench/proxy.md) and
# the shared-store section (make bench-redis, below: build/bench/redis.md).
# Targets from the design brief are printed next to the measured ratios; the
# benchmark never fails on them.
BENCH_OUT := $(B)/bench

# Native driver: the core objects as `make lib` builds them, libjwt (Debian
# libjwt-dev, OpenSSL flavour) and OpenSSL's libcrypto.
# --wrap=ac_sha256_class: the core's calls to its internal SHA-256 class
# selector go through the driver's __wrap_ac_sha256_class, which can ask the
# real one for the portable class (the "authcore native portable" PBKDF2
# row) without rebuilding or changing the core objects.
$(BENCH_OUT)/bench_native: tools/bench/bench_native.c $(CORE_OBJS) $(CORE_HDRS) tools/bench/bench.mk
	@mkdir -p $(@D)
	$(CC) -std=c11 $(WARN) $(CFLAGS) -Icore $< $(CORE_OBJS) -o $@ \
	  -Wl,--wrap=ac_sha256_class $(NATIVE_LIBS) -ljwt -lcrypto

# The core's verify path and ac_pbkdf2 as wasm (Emscripten, the edge
# module's EM_LIBS), exported directly for tools/bench/bench_node.mjs and,
# unchanged, for the workerd Worker tools/bench/bench_worker.mjs.
BENCH_EM_EXPORTS := _bw_alloc,_bw_setup,_bw_verify,_bw_verify_loop,_bw_pbkdf2,_bw_es_setup,_bw_es_check_loop
$(BENCH_OUT)/wasm/acbench.mjs $(BENCH_OUT)/wasm/acbench.wasm &: tools/bench/bench_wasm.c $(CORE_HDRS) $(EM_LIBS) tools/bench/bench.mk
	@mkdir -p $(BENCH_OUT)/wasm/.link
	$(EMCC) -O2 -std=c11 $(WARN) -Icore \
	  -sMODULARIZE=1 -sEXPORT_ES6=1 -sEXPORT_NAME=createBench -sENVIRONMENT=web \
	  --no-entry -sEXPORTED_FUNCTIONS=$(BENCH_EM_EXPORTS) -sEXPORTED_RUNTIME_METHODS=HEAPU8 \
	  -sDYNAMIC_EXECUTION=0 -sFILESYSTEM=0 -sALLOW_MEMORY_GROWTH=1 \
	  -sINCOMING_MODULE_JS_API=locateFile,instantiateWasm \
	  tools/bench/bench_wasm.c $(EM_LIBS) -o $(BENCH_OUT)/wasm/.link/acbench.js
	mv $(BENCH_OUT)/wasm/.link/acbench.wasm $(BENCH_OUT)/wasm/acbench.wasm
	mv $(BENCH_OUT)/wasm/.link/acbench.js $(BENCH_OUT)/wasm/acbench.mjs
	@rmdir $(BENCH_OUT)/wasm/.link

# make bench-buckets: a rate-limit bucket check at 1,000,000 live keys (the
# store path and a whole decision), and the table's bytes per key.
# BENCH_BUCKET_KEYS sets the live keys (1000000): 4096 make a table that
# fits the caches, so a check costs its own work, not a cache miss.
# BENCH_BUCKET_STORE sets the policy's rate_limits.store (one 64-byte group
# per 2 keys, 8 buckets to a group): less memory per live key, and the
# fill line says how many live keys the full groups gave up for it.
BENCH_BUCKET_KEYS ?= 1000000
BENCH_BUCKET_STORE ?= $(BENCH_BUCKET_KEYS)
$(BENCH_OUT)/bench_buckets: tools/bench/bench_buckets.c $(CORE_OBJS) $(CORE_HDRS) tools/bench/bench.mk
	@mkdir -p $(@D)
	$(CC) -std=c11 $(WARN) $(CFLAGS) -Icore $< $(CORE_OBJS) -o $@ $(NATIVE_LIBS)

.PHONY: bench-buckets
bench-buckets: $(BENCH_OUT)/bench_buckets
	@$(BENCH_OUT)/bench_buckets $(BENCH_BUCKET_KEYS) $(BENCH_BUCKET_STORE)

.PHONY: bench bench-bins
bench-bins: $(BENCH_OUT)/bench_native $(BENCH_OUT)/wasm/acbench.mjs

bench: deps
	@$(MAKE) --no-print-directory all bench-bins
	@build/venv/bin/python tools/bench/run.py
	@$(MAKE) --no-print-directory bench-proxy-run
	@$(MAKE) --no-print-directory bench-redis-run

# make bench-proxy: Envoy and nginx with authcore against the same proxy
# without it (and Envoy's jwt_authn), one upstream nginx `return 200`, one
# run (tools/bench/proxy_bench.py; needs Debian's wrk). Writes
# build/bench/proxy.md and build/bench/proxy-table.md (the README's table).
# BENCH_PROXY_SECONDS per wrk run (10) and BENCH_PROXY_ROUNDS (3): the
# default takes about 10 minutes; 2 and 1 make a smoke run of under one.
# BENCH_PROXY_ROWS (every row when empty): a comma-separated list of rows,
# e.g. nginx-hs256-1w.
BENCH_PROXY_SECONDS ?= 10
BENCH_PROXY_ROUNDS ?= 3
BENCH_PROXY_ROWS ?=
.PHONY: bench-proxy bench-proxy-run
bench-proxy: deps
	@$(MAKE) --no-print-directory $(B)/authcore-proxy.wasm $(NGX_MODULE)
	@$(MAKE) --no-print-directory bench-proxy-run

bench-proxy-run:
	@command -v wrk >/dev/null || apt-get install -y wrk
	@BENCH_PROXY_SECONDS=$(BENCH_PROXY_SECONDS) BENCH_PROXY_ROUNDS=$(BENCH_PROXY_ROUNDS) \
	  build/venv/bin/python tools/bench/proxy_bench.py \
	  $(if $(BENCH_PROXY_ROWS),--rows $(BENCH_PROXY_ROWS))

# make bench-redis: each host with its rate limit counted in Redis against
# the same host counting in its own store, side by side in one run: nginx
# (2 workers), Envoy (2 workers, through webdis), the Node edge server and
# the CLI, one redis-server (tools/bench/redis_bench.py; needs Debian's wrk,
# redis-server and webdis). Writes build/bench/redis.md and
# build/bench/redis-table.md (the README's table). BENCH_REDIS_SECONDS per
# wrk run (10), BENCH_REDIS_ROUNDS (3), BENCH_REDIS_LATENCY_SECONDS per
# one-connection latency run (5): the default takes about 6 minutes; 2, 1
# and 1 make a smoke run of about one.
BENCH_REDIS_SECONDS ?= 10
BENCH_REDIS_ROUNDS ?= 3
BENCH_REDIS_LATENCY_SECONDS ?= 5
.PHONY: bench-redis bench-redis-run
bench-redis: deps
	@$(MAKE) --no-print-directory $(B)/authcore-proxy.wasm $(NGX_MODULE) $(EDGE_PKG) $(B)/bin/authcore
	@$(MAKE) --no-print-directory bench-redis-run

bench-redis-run:
	@command -v wrk >/dev/null || apt-get install -y wrk
	@BENCH_REDIS_SECONDS=$(BENCH_REDIS_SECONDS) BENCH_REDIS_ROUNDS=$(BENCH_REDIS_ROUNDS) \
	  BENCH_REDIS_LATENCY_SECONDS=$(BENCH_REDIS_LATENCY_SECONDS) \
	  build/venv/bin/python tools/bench/redis_bench.py

# make bench-nginx: ES256 requests/s through nginx with 1 and 2 workers, this
# tree's module against the module built from NGINX_BENCH_BASE (default: the
# last commit whose module held the state lock around every decision),
# alternating, 10 s wrk runs, 3 rounds (tools/bench/bench_nginx.py; needs
# Debian's wrk). Writes build/bench/nginx.md.
NGINX_BENCH_BASE ?= 84333de
NGINX_BENCH_DIR := $(BENCH_OUT)/nginx-base-$(NGINX_BENCH_BASE)

.PHONY: bench-nginx
bench-nginx: $(NGX_MODULE)
	@command -v wrk >/dev/null || apt-get install -y wrk
	@if [ ! -f $(NGINX_BENCH_DIR)/ngx_http_authcore_module.so ]; then \
	  rm -rf $(NGINX_BENCH_DIR) && mkdir -p $(NGINX_BENCH_DIR)/src && \
	  git archive $(NGINX_BENCH_BASE) | tar -x -C $(NGINX_BENCH_DIR)/src && \
	  env -u MAKEFLAGS $(MAKE) --no-print-directory -C $(NGINX_BENCH_DIR)/src build/nginx/ngx_http_authcore_module.so && \
	  cp $(NGINX_BENCH_DIR)/src/build/nginx/ngx_http_authcore_module.so $(NGINX_BENCH_DIR)/ && \
	  rm -rf $(NGINX_BENCH_DIR)/src; fi
	build/venv/bin/python tools/bench/bench_nginx.py \
	  --before $(NGINX_BENCH_DIR)/ngx_http_authcore_module.so --after $(NGX_MODULE) \
	  --out $(BENCH_OUT)/nginx.md

# make bench-nginx-ratelimit: the module's rate-limit table against nginx's
# own limit_req zone in one nginx, alternating rounds, medians: the check's
# cost per request and the keys each holds per MiB
# (tools/bench/nginx_ratelimit.py). Writes build/bench/nginx-ratelimit.md.
.PHONY: bench-nginx-ratelimit
bench-nginx-ratelimit: $(NGX_MODULE)
	build/venv/bin/python tools/bench/nginx_ratelimit.py --module $(NGX_MODULE) \
	  --out $(BENCH_OUT)/nginx-ratelimit.md

# make bench-envoy: the Envoy filter against another revision's, side by side
# in one run (tools/bench/envoy_ab.py; ENVOY_AB_BASE=main by default). The
# base filter's source is that revision's hosts/proxy-wasm/authcore_proxy.c,
# written by the script to $(BENCH_OUT)/envoy/base_proxy.c and built here
# like build/authcore-proxy.wasm, on this tree's core: only the shims differ.
$(BENCH_OUT)/envoy/base-proxy.wasm: $(BENCH_OUT)/envoy/base_proxy.c $(WASI_LIBS) $(CORE_HDRS) hosts/proxy-wasm/build.mk
	$(WASI_CC) $(WASI_CFLAGS) $(WARN) -Icore $(PXW_LDFLAGS) $< -o $@ $(WASI_LIBS) \
	  -lc-printscan-long-double

.PHONY: bench-envoy
bench-envoy: deps
	@$(MAKE) --no-print-directory $(B)/authcore-proxy.wasm
	@build/venv/bin/python tools/bench/envoy_ab.py

# make bench-envoy-cost: what the filter costs a request against the same
# Envoy without it (and with a do-nothing Wasm module, and with Envoy's own
# jwt_authn, as configured by default and forwarding the identity as
# authcore does), side by side in one run (tools/bench/envoy_cost.py).
$(BENCH_OUT)/empty-proxy.wasm: tools/bench/empty_proxy.c tools/bench/bench.mk
	@mkdir -p $(@D)
	$(WASI_CC) $(WASI_CFLAGS) $(WARN) -mexec-model=reactor $< -o $@

.PHONY: bench-envoy-cost
bench-envoy-cost: deps
	@$(MAKE) --no-print-directory $(B)/authcore-proxy.wasm $(BENCH_OUT)/empty-proxy.wasm
	@build/venv/bin/python tools/bench/envoy_cost.py

# make bench-envoy-profile: the HS256 row with the filter's profiling build
# beside the release one (host calls counted; the callbacks and the core's
# own call timed per stream), then the profile's last per-stream lines
# from its Envoy's log.
.PHONY: bench-envoy-profile
bench-envoy-profile: deps
	@$(MAKE) --no-print-directory $(B)/authcore-proxy.wasm $(BENCH_OUT)/empty-proxy.wasm \
	  $(BENCH_OUT)/authcore-proxy-profile.wasm
	@build/venv/bin/python tools/bench/envoy_cost.py --rows token --configs none,empty,authcore \
	  --also profile=$(BENCH_OUT)/authcore-proxy-profile.wasm
	@grep -h 'authcore profile' $(BENCH_OUT)/envoy-cost/envoy-profile.log | tail -n 3 | \
	  sed 's/.*authcore profile: //'

# make bench-python: fastapi-taskflow's request inside AuthcoreMiddleware,
# with taskflow's own auth, and behind nginx with authcore, side by side in
# one run (tools/bench/python_ab.py; the apps venv of tests/apps; needs
# Debian's wrk). BENCH_PYTHON_SECONDS per wrk run (10), BENCH_PYTHON_ROUNDS (3).
.PHONY: bench-python
bench-python: deps
	@$(MAKE) --no-print-directory $(PY_LIB) $(NGX_MODULE) $(APPS_VENV)
	@command -v wrk >/dev/null || apt-get install -y wrk
	@build/apps-venv/bin/python tools/bench/python_ab.py
