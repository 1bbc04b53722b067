# nginx dynamic module (hosts/nginx), built against Debian's nginx-dev tree.
# Included by the top Makefile; uses B, CORE_HDRS and the native core archive.
#
# Binary compatibility with Debian's /usr/sbin/nginx comes from configuring
# the copied source tree with Debian's own flags (conf_flags, which include
# --with-compat) and the same compiler options.
NGX_DEB_SRC := /usr/share/nginx/src
NGX_DIR := $(B)/nginx
NGX_SRC := $(NGX_DIR)/src
NGX_MODULE := $(NGX_DIR)/ngx_http_authcore_module.so
NGX_CC_OPT := -g -O2 -fstack-protector-strong -Wformat -Werror=format-security -fPIC -Wdate-time -D_FORTIFY_SOURCE=2
NGX_LD_OPT := -Wl,-z,relro -Wl,-z,now -fPIC

$(NGX_SRC)/configure: $(NGX_DEB_SRC)/configure
	@mkdir -p $(NGX_DIR)
	rm -rf $(NGX_SRC) && cp -a $(NGX_DEB_SRC) $(NGX_SRC)
	@touch $@

# configure reads CFLAGS/LDFLAGS from the environment; keep them out so the
# module's ABI follows Debian's build, not the caller's (e.g. sanitizer) flags.
$(NGX_SRC)/objs/Makefile: $(NGX_SRC)/configure hosts/nginx/config hosts/nginx/build.mk
	cd $(NGX_SRC) && . ./conf_flags && \
	  env -u CFLAGS -u CPPFLAGS -u LDFLAGS \
	    AUTHCORE_INC=$(abspath core) AUTHCORE_LIB=$(abspath $(B)/lib/libauthcore.a) \
	    ./configure "$${NGX_CONF_FLAGS[@]}" \
	      --with-cc-opt='$(NGX_CC_OPT)' --with-ld-opt='$(NGX_LD_OPT)' \
	      --add-dynamic-module=$(abspath hosts/nginx) > ../configure.log 2>&1 \
	  || { tail -30 ../configure.log >&2; exit 1; }

# objs/Makefile knows neither the core archive nor the core's headers, so
# the old module is removed to force a relink and the module's object to
# force a recompile (a header that changed a struct's layout would
# otherwise leave it compiled against the old one). A plain `make` without MAKEFLAGS: variables given
# on our command line (CFLAGS=...) must not override nginx's own, and
# `make -n` must not run it.
$(NGX_MODULE): $(NGX_SRC)/objs/Makefile hosts/nginx/ngx_http_authcore_module.c hosts/nginx/ngx_http_authcore_redis.c hosts/nginx/ngx_http_authcore_redis.h $(CORE_HDRS) $(B)/lib/libauthcore.a
	rm -f $(NGX_SRC)/objs/ngx_http_authcore_module.so \
	  $(NGX_SRC)/objs/addon/nginx/ngx_http_authcore_module.o \
	  $(NGX_SRC)/objs/addon/nginx/ngx_http_authcore_redis.o
	env -u MAKEFLAGS -u MFLAGS make -s -C $(NGX_SRC) -f objs/Makefile modules
	cp $(NGX_SRC)/objs/ngx_http_authcore_module.so $@

.PHONY: nginx-module
nginx-module: $(NGX_MODULE)

ALL_HOSTS += $(NGX_MODULE)

# make install (or install-nginx alone): the module goes under PREFIX, where
# `load_module /usr/local/lib/nginx/modules/ngx_http_authcore_module.so;`
# finds it; NGX_MODULES_DIR=/usr/lib/nginx/modules puts it beside Debian's
# own modules instead (`load_module modules/ngx_http_authcore_module.so;`).
NGX_MODULES_DIR ?= $(PREFIX)/lib/nginx/modules
.PHONY: install-nginx
install-nginx: $(NGX_MODULE)
	install -d $(DESTDIR)$(NGX_MODULES_DIR)
	install -m 644 $(NGX_MODULE) $(DESTDIR)$(NGX_MODULES_DIR)/

# The module with test hooks (AC_NGX_TEST_REWRITE: a request header stands
# in for a decision that rewrites the target or consumes a cookie;
# AC_NGX_TEST_NO_SHARED_KEYS in the master's environment stands in for a
# zone without room for shared keys), for tests/hosts/nginx_request.py and
# nginx_jwks.py only: its own copy of the nginx tree, never installed.
NGX_TEST_DIR := $(B)/nginx-test
NGX_TEST_SRC := $(NGX_TEST_DIR)/src
NGX_TEST_MODULE := $(NGX_TEST_DIR)/ngx_http_authcore_module.so

$(NGX_TEST_SRC)/configure: $(NGX_DEB_SRC)/configure
	@mkdir -p $(NGX_TEST_DIR)
	rm -rf $(NGX_TEST_SRC) && cp -a $(NGX_DEB_SRC) $(NGX_TEST_SRC)
	@touch $@

$(NGX_TEST_SRC)/objs/Makefile: $(NGX_TEST_SRC)/configure hosts/nginx/config hosts/nginx/build.mk
	cd $(NGX_TEST_SRC) && . ./conf_flags && \
	  env -u CFLAGS -u CPPFLAGS -u LDFLAGS \
	    AUTHCORE_INC=$(abspath core) AUTHCORE_LIB=$(abspath $(B)/lib/libauthcore.a) \
	    ./configure "$${NGX_CONF_FLAGS[@]}" \
	      --with-cc-opt='$(NGX_CC_OPT) -DAC_NGX_TEST_REWRITE' --with-ld-opt='$(NGX_LD_OPT)' \
	      --add-dynamic-module=$(abspath hosts/nginx) > ../configure.log 2>&1 \
	  || { tail -30 ../configure.log >&2; exit 1; }

$(NGX_TEST_MODULE): $(NGX_TEST_SRC)/objs/Makefile hosts/nginx/ngx_http_authcore_module.c hosts/nginx/ngx_http_authcore_redis.c hosts/nginx/ngx_http_authcore_redis.h $(CORE_HDRS) $(B)/lib/libauthcore.a
	rm -f $(NGX_TEST_SRC)/objs/ngx_http_authcore_module.so \
	  $(NGX_TEST_SRC)/objs/addon/nginx/ngx_http_authcore_module.o \
	  $(NGX_TEST_SRC)/objs/addon/nginx/ngx_http_authcore_redis.o
	env -u MAKEFLAGS -u MFLAGS make -s -C $(NGX_TEST_SRC) -f objs/Makefile modules
	cp $(NGX_TEST_SRC)/objs/ngx_http_authcore_module.so $@
