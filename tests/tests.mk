# Test binaries (built by `make test` before tests/run.sh runs the suites).
TEST_BINS :=
# wasm test programs: the stack first in linear memory, so an overflow traps
# instead of silently overwriting static data (wasm-ld's default puts the
# stack after the data, growing down into it), and room for test frames.
WASI_TEST_LDFLAGS := -Wl,--stack-first -Wl,-z,stack-size=1048576
-include $(wildcard tests/*/*.mk)
.PHONY: test-bins
test-bins: $(TEST_BINS)
