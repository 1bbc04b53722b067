# proxy-wasm filter (hosts/proxy-wasm): plain C against ABI 0.2.1, no SDK.
# A WASI reactor: the host calls _initialize once, then the proxy_on_*
# callbacks. `malloc` is exported next to proxy_on_memory_allocate because
# Envoy looks `malloc` up first. The stack comes first in linear memory so an
# overflow traps instead of silently overwriting data.
# -lc-printscan-long-double: wasi-libc's default printf/strtod (used by cJSON
# and the policy loader) carry a "long double unsupported" message written to
# stderr, which drags in the stderr FILE and with it the WASI imports fd_close
# and fd_seek; the full implementation has no such path, so the module
# imports nothing from WASI but clock_time_get, random_get and (called
# directly, not through getenv) environ_sizes_get / environ_get.
# --strip-debug: wasi-libc's archives carry DWARF (115 KB of a 205 KB module).
PXW_SRC := hosts/proxy-wasm/authcore_proxy.c
PXW_LDFLAGS := -mexec-model=reactor -Wl,--export=malloc -Wl,--stack-first -Wl,--strip-debug \
  -Wl,-z,stack-size=1048576

$(B)/authcore-proxy.wasm: $(PXW_SRC) $(WASI_LIBS) $(CORE_HDRS) hosts/proxy-wasm/build.mk
	@mkdir -p $(@D)
	$(WASI_CC) $(WASI_CFLAGS) $(WARN) -Icore $(PXW_LDFLAGS) $(PXW_SRC) -o $@ $(WASI_LIBS) \
	  -lc-printscan-long-double

ALL_WASM += $(B)/authcore-proxy.wasm

# Imports must stay within proxy_* plus WASI clock_time_get, random_get,
# environ_sizes_get, environ_get, so the module loads in every proxy-wasm host.
.PHONY: check-proxy-wasm-imports
check-proxy-wasm-imports: $(B)/authcore-proxy.wasm
	@python3 hosts/proxy-wasm/check_imports.py $<

# Test build (tests/hosts/envoy_request.py): the same filter source with its
# ac_decide call wrapped by tests/hosts/envoy_hook.c, which lets a request
# header ask for a rewritten path or a consumed cookie after the real
# decision. Never installed or shipped.
$(B)/tests/authcore-proxy-hook.wasm: $(PXW_SRC) tests/hosts/envoy_hook.c $(WASI_LIBS) $(CORE_HDRS) hosts/proxy-wasm/build.mk
	@mkdir -p $(@D)
	$(WASI_CC) $(WASI_CFLAGS) $(WARN) -Icore $(PXW_LDFLAGS) -Wl,--wrap=ac_decide_next \
	  $(PXW_SRC) tests/hosts/envoy_hook.c -o $@ $(WASI_LIBS) -lc-printscan-long-double

# The example bootstrap with the filter's absolute path filled in, so
# `envoy -c build/envoy-example.yaml` works from any directory (the source
# copy names build/authcore-proxy.wasm relative to the checkout).
$(B)/envoy-example.yaml: hosts/proxy-wasm/envoy-example.yaml hosts/proxy-wasm/build.mk
	@mkdir -p $(@D)
	sed 's|filename: build/authcore-proxy.wasm|filename: $(abspath $(B))/authcore-proxy.wasm|' $< > $@
	@grep -q 'filename: /' $@ || { echo "$@: wasm path not filled in" >&2; rm -f $@; exit 1; }

ALL_HOSTS += $(B)/envoy-example.yaml

# Profiling build (tools/bench/envoy_cost.py --also
# profile=build/bench/authcore-proxy-profile.wasm): host calls counted
# and callbacks timed per stream, logged at warning level. Never shipped.
$(B)/bench/authcore-proxy-profile.wasm: $(PXW_SRC) $(WASI_LIBS) $(CORE_HDRS) hosts/proxy-wasm/build.mk
	@mkdir -p $(@D)
	$(WASI_CC) $(WASI_CFLAGS) $(WARN) -DAPX_PROFILE -Icore $(PXW_LDFLAGS) $(PXW_SRC) -o $@ \
	  $(WASI_LIBS) -lc-printscan-long-double
