# authcore - one Makefile for every build and test.
#   make          install deps, then build everything (make all: build only)
#   make test     install deps, build, run every test; ends with "N passed, N failed"
#                 (SUITES="24-login 40-envoy": build for and run only those suites)
#   make demo     Envoy + authcore in front of a demo dashboard behind a login page
#   make deps     install what the builds and tests need (idempotent)
#   make install PREFIX=/usr/local   (DESTDIR= to stage; install-lib, install-nginx: parts)
.DEFAULT_GOAL := default
SHELL := /bin/bash
B := build
TP := $(B)/third_party
PREFIX ?= /usr/local

CC := cc
WARN := -Wall -Wextra -Wconversion -Wshadow -Wstrict-prototypes -Werror
CFLAGS ?= -O2 -g
CORE_CFLAGS := -std=c11 $(WARN) -fPIC -Icore

CORE_SRCS := $(wildcard core/*.c)
CORE_HDRS := $(wildcard core/*.h)
CORE_OBJS := $(patsubst core/%.c,$(B)/obj/core/%.o,$(CORE_SRCS))
NATIVE_LIBS := -lbearssl -lcjson

# --- deps ---------------------------------------------------------------
.PHONY: deps
deps:
	@bash tools/deps.sh

# --- native library -----------------------------------------------------
$(B)/obj/core/%.o: core/%.c $(CORE_HDRS)
	@mkdir -p $(@D)
	$(CC) $(CORE_CFLAGS) $(CFLAGS) -c $< -o $@

$(B)/lib/libauthcore.a: $(CORE_OBJS)
	@mkdir -p $(@D)
	rm -f $@ && ar rcs $@ $^

$(B)/lib/libauthcore.so.0: $(CORE_OBJS)
	@mkdir -p $(@D)
	$(CC) -shared -Wl,-soname,libauthcore.so.0 -o $@ $^ $(NATIVE_LIBS)
	ln -sf libauthcore.so.0 $(B)/lib/libauthcore.so

AC_VER = $(shell sed -n 's/^#define AC_VERSION "\(.*\)"/\1/p' core/authcore_base.h)
# the in-tree .pc points at the build folder, for use without installing
$(B)/lib/pkgconfig/authcore.pc: tools/authcore.pc.in Makefile
	@mkdir -p $(@D)
	sed -e 's|@PREFIX@|$(abspath $(B))|' -e 's|@VERSION@|$(AC_VER)|' \
	  -e 's|^includedir=.*|includedir=$(abspath core)|' $< > $@

.PHONY: lib
lib: $(B)/lib/libauthcore.a $(B)/lib/libauthcore.so.0 $(B)/lib/pkgconfig/authcore.pc

# --- CLI ----------------------------------------------------------------
$(B)/bin/authcore: tools/authcore_cli.c $(B)/lib/libauthcore.a
	@mkdir -p $(@D)
	$(CC) -std=c11 $(WARN) $(CFLAGS) -Icore $< -o $@ $(B)/lib/libauthcore.a $(NATIVE_LIBS) -lhiredis

.PHONY: cli
cli: $(B)/bin/authcore

# --- wasm builds (wasm/wasm.mk: BearSSL + cJSON + core for WASI and Emscripten)
include wasm/wasm.mk
# --- hosts (each folder owns its build fragment) -------------------------
-include $(wildcard hosts/*/build.mk)
# --- benchmarks (tools/bench) ---------------------------------------------
-include $(wildcard tools/*/*.mk)

.PHONY: all default
all: lib cli $(ALL_WASM) $(ALL_HOSTS)

# plain `make`: install what the build needs, then build everything
default: deps
	@$(MAKE) --no-print-directory all

# --- tests ----------------------------------------------------------------
# make test SUITES="24-login 40-envoy": build only what those suites need
# (SUITE_NEEDS_<suite>, tests/tests.mk) and run only them.
include tests/tests.mk

.PHONY: test
test: deps
	@$(MAKE) --no-print-directory $(if $(strip $(SUITES)),suite-bins,all test-bins)
	@$(if $(strip $(SUITES)),AUTHCORE_SUITES="$(strip $(SUITES))" )bash tests/run.sh

.PHONY: demo
demo: deps
	@$(MAKE) --no-print-directory all
	@bash tools/demo.sh

# make install: the C library, its headers and authcore.pc, the CLI, and the
# nginx module (hosts/nginx/build.mk: install-nginx, NGX_MODULES_DIR).
.PHONY: install install-lib
install: install-lib install-nginx

install-lib: lib cli
	@test -n "$(AC_VER)"
	install -d $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/bin
	install -m 644 $(B)/lib/libauthcore.a $(DESTDIR)$(PREFIX)/lib/
	install -m 755 $(B)/lib/libauthcore.so.0 $(DESTDIR)$(PREFIX)/lib/
	ln -sf libauthcore.so.0 $(DESTDIR)$(PREFIX)/lib/libauthcore.so
	install -m 644 $(wildcard core/authcore*.h) $(DESTDIR)$(PREFIX)/include/
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(AC_VER)|' tools/authcore.pc.in \
	  > $(DESTDIR)$(PREFIX)/lib/pkgconfig/authcore.pc
	install -m 755 $(B)/bin/authcore $(DESTDIR)$(PREFIX)/bin/

.PHONY: clean
clean:
	rm -rf $(B)/obj $(B)/lib $(B)/bin $(B)/wasm $(B)/*.wasm $(B)/edge $(B)/nginx $(B)/tests
