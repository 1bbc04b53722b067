# hosts/python: the Python package (hosts/python/authcore) loads the flat ABI
# the JavaScript hosts call (wasm/acw.c), compiled natively with the core
# into one shared library, through ctypes. One byte string crosses per call
# and a view comes back, so Python never mirrors a C struct.
PY_LIB := $(B)/lib/libauthcore_acw.so

$(PY_LIB): wasm/acw.c $(CORE_OBJS) $(CORE_HDRS) hosts/python/build.mk
	@mkdir -p $(@D)
	$(CC) -std=c11 $(WARN) $(CFLAGS) -fPIC -Icore -shared -o $@ wasm/acw.c $(CORE_OBJS) $(NATIVE_LIBS)

.PHONY: python
python: $(PY_LIB)

ALL_HOSTS += $(PY_LIB)

# `make lib` builds it too: `pip install hosts/python` packs it in the wheel.
lib: $(PY_LIB)
