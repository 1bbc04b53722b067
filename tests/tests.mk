# Test binaries (built by `make test` before tests/run.sh runs the suites).
TEST_BINS :=
-include $(wildcard tests/*/*.mk)
.PHONY: test-bins
test-bins: $(TEST_BINS)
