#!/usr/bin/env python3
"""Checks a proxy-wasm module's import and export sections.

Imports must be proxy_* host functions from module "env", plus at most the
WASI functions the filter needs: clock_time_get (the clock), random_get
(session ids, the state key), environ_sizes_get and environ_get (the
administrator from AUTHCORE_ADMIN_USER / AUTHCORE_ADMIN_PASSWORD_HASH).
Every proxy-wasm host implements those (Envoy and Istio through
proxy-wasm-cpp-host, Kong's ngx_wasm_module), so the same .wasm loads
everywhere. The exports the hosts look up must be present.

Reads the binary directly (llvm-objdump-14 cannot dump a linked module's
imports). Usage: check_imports.py MODULE.wasm; prints one line per import and
exits 1 on a disallowed import or a missing export, 2 on an unreadable file.
"""
import sys

ALLOWED_WASI = {"clock_time_get", "random_get", "environ_sizes_get", "environ_get"}
REQUIRED_EXPORTS = ["proxy_abi_version_0_2_1", "_initialize", "malloc",
                    "proxy_on_memory_allocate", "proxy_on_context_create",
                    "proxy_on_vm_start", "proxy_on_configure",
                    "proxy_on_request_headers", "proxy_on_request_body",
                    "proxy_on_request_trailers", "proxy_on_response_headers",
                    "proxy_on_tick", "proxy_on_http_call_response",
                    "proxy_on_done", "proxy_on_delete"]
KINDS = {0: "func", 1: "table", 2: "memory", 3: "global", 4: "tag"}


class Reader:
    def __init__(self, data, pos=0, end=None):
        self.d, self.p = data, pos
        self.end = len(data) if end is None else end

    def byte(self):
        if self.p >= self.end:
            raise ValueError("truncated module")
        b = self.d[self.p]
        self.p += 1
        return b

    def uleb(self):
        v = shift = 0
        while True:
            b = self.byte()
            v |= (b & 0x7F) << shift
            shift += 7
            if b < 0x80:
                return v

    def name(self):
        n = self.uleb()
        if self.p + n > self.end:
            raise ValueError("truncated name")
        s = self.d[self.p:self.p + n].decode("utf-8")
        self.p += n
        return s

    def skip_limits(self):
        flags = self.byte()
        self.uleb()
        if flags & 1:
            self.uleb()


def sections(data):
    if data[:4] != b"\0asm":
        raise ValueError("not a wasm module")
    r = Reader(data, 8)
    while r.p < r.end:
        sid = r.byte()
        size = r.uleb()
        yield sid, Reader(data, r.p, r.p + size)
        r.p += size


def imports_exports(data):
    imports, exports = [], []
    for sid, r in sections(data):
        if sid == 2:
            for _ in range(r.uleb()):
                mod, name, kind = r.name(), r.name(), r.byte()
                if kind == 0:
                    r.uleb()
                elif kind == 1:
                    r.byte()
                    r.skip_limits()
                elif kind == 2:
                    r.skip_limits()
                elif kind == 3:
                    r.byte()
                    r.byte()
                else:
                    raise ValueError("unknown import kind %d" % kind)
                imports.append((mod, name, KINDS.get(kind, "?")))
        elif sid == 7:
            for _ in range(r.uleb()):
                name, kind = r.name(), r.byte()
                r.uleb()
                exports.append((name, KINDS.get(kind, "?")))
    return imports, exports


def main():
    if len(sys.argv) != 2:
        print("usage: check_imports.py MODULE.wasm", file=sys.stderr)
        return 2
    try:
        with open(sys.argv[1], "rb") as f:
            imports, exports = imports_exports(f.read())
    except (OSError, ValueError) as e:
        print("check_imports: %s: %s" % (sys.argv[1], e), file=sys.stderr)
        return 2
    bad = []
    for mod, name, kind in imports:
        ok = kind == "func" and (
            (mod == "env" and name.startswith("proxy_")) or
            (mod.startswith("wasi_") and name in ALLOWED_WASI))
        print("import %s.%s (%s)%s" % (mod, name, kind, "" if ok else ": NOT ALLOWED"))
        if not ok:
            bad.append("%s.%s" % (mod, name))
    names = {n for n, _ in exports}
    missing = [n for n in REQUIRED_EXPORTS if n not in names]
    for n in missing:
        print("export %s: MISSING" % n)
    if bad or missing:
        print("check_imports: disallowed imports %s; missing exports %s"
              % (bad or "none", missing or "none"), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
