# Test binaries (built by `make test` before tests/run.sh runs the suites).
TEST_BINS :=
# wasm test programs: the stack first in linear memory, so an overflow traps
# instead of silently overwriting static data (wasm-ld's default puts the
# stack after the data, growing down into it), and room for test frames.
WASI_TEST_LDFLAGS := -Wl,--stack-first -Wl,-z,stack-size=1048576
-include $(wildcard tests/*/*.mk)
.PHONY: test-bins
test-bins: $(TEST_BINS)

# What each suite needs built: SUITE_NEEDS_<suite> lists make targets. The
# unit suites declare theirs where their programs are built
# (tests/unit/unit.mk, tests/unit/arm64.mk); the others are declared here.
# `make test SUITES="24-login 40-envoy"` builds only the union of the
# suites' lists (make suite-bins) and runs only those suites; plain `make test`
# builds everything (all test-bins) and runs every suite.
CLI := $(B)/bin/authcore
PXW := $(B)/authcore-proxy.wasm
SUITE_NEEDS_10-core-no-heap := $(B)/lib/libauthcore.a $(WASI_LIBS) $(EM_LIBS) $(A64)/libauthcore.a
# make install (25, 52) installs the nginx module too
SUITE_NEEDS_25-library-cli := lib $(CLI) $(NGX_MODULE)
SUITE_NEEDS_30-vectors-native := $(CLI)
SUITE_NEEDS_31-vectors-node := $(EDGE_PKG)
SUITE_NEEDS_32-vectors-python := $(PY_LIB)
SUITE_NEEDS_40-envoy := $(PXW) $(B)/tests/authcore-proxy-hook.wasm
SUITE_NEEDS_41-envoy-example := $(PXW) $(B)/envoy-example.yaml $(CLI)
SUITE_NEEDS_45-confusion := $(CLI) $(PXW) $(NGX_MODULE) $(EDGE_PKG)
SUITE_NEEDS_46-websocket := $(PXW) $(NGX_MODULE) $(EDGE_PKG)
SUITE_NEEDS_50-nginx := $(CLI) $(NGX_MODULE) $(NGX_TEST_MODULE)
SUITE_NEEDS_52-install := lib $(CLI) $(NGX_MODULE)
SUITE_NEEDS_60-workerd := $(EDGE_PKG)
SUITE_NEEDS_61-deno := $(EDGE_PKG)
SUITE_NEEDS_62-edge-install := $(EDGE_PKG) $(CLI)
SUITE_NEEDS_63-edge-redis := $(EDGE_PKG) $(CLI)
SUITE_NEEDS_64-redis := $(CLI) $(NGX_MODULE) $(EDGE_PKG) $(PXW)
SUITE_NEEDS_70-interop := $(CLI)
SUITE_NEEDS_75-browser := $(CLI) $(PXW) $(NGX_MODULE) $(EDGE_PKG)
SUITE_NEEDS_77-apps := $(CLI) $(PXW) $(NGX_MODULE) $(PY_LIB) $(APPS_VENV)
SUITE_NEEDS_78-oidc := $(PXW) $(NGX_MODULE) $(EDGE_PKG)
SUITE_NEEDS_80-demo := $(CLI) $(PXW)
SUITE_NEEDS_90-fuzz := $(FUZZ_BINS)

ALL_SUITES := $(patsubst tests/suites/%.sh,%,$(wildcard tests/suites/*.sh))
ifneq ($(strip $(SUITES)),)
  ifneq ($(filter-out $(ALL_SUITES),$(SUITES)),)
    $(error SUITES: no such suite: $(filter-out $(ALL_SUITES),$(SUITES)) (suites: $(ALL_SUITES)))
  endif
  SUITES_UNDECLARED := $(strip $(foreach s,$(SUITES),$(if $(filter undefined,$(origin SUITE_NEEDS_$(s))),$(s))))
  ifneq ($(SUITES_UNDECLARED),)
    $(error SUITES: $(SUITES_UNDECLARED) declare no SUITE_NEEDS_<suite> (tests/tests.mk))
  endif
endif
.PHONY: suite-bins
suite-bins: $(sort $(foreach s,$(SUITES),$(SUITE_NEEDS_$(s))))
