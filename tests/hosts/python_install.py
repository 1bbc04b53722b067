#!/usr/bin/env python3
"""The Python package as a user installs it: `pip install hosts/python`
(offline, --no-index: the build backend needs nothing) into a fresh venv
outside the tree; the installed package finds the library it ships (not
the build folder's), decides a request, and AUTHCORE_LIB overrides where
the library is loaded from; the redis extra is declared, and without
redis-py a policy whose store is Redis is refused naming it. Prints "ok - ..." / "not ok - ...: why"."""
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "lib"))
from checks import failed, ok  # noqa: E402

WORK = os.path.join(ROOT, "build", "tests", "python-install")
PY = os.path.join(ROOT, "build", "venv", "bin", "python")

CHECK = r'''
import importlib.metadata, json, os, sys
import authcore, authcore._core as c
pol = {"jwt": {"keys": [{"kid": "k", "alg": "HS256", "secret": "install-test-secret-0123456789abcdef"}]},
       "public": ["/health"], "default": "authenticated"}
a = authcore.Auth(pol)
d1 = a.decide({"method": "GET", "path": "/health", "client_ip": "127.0.0.1"})
d2 = a.decide({"method": "GET", "path": "/api", "client_ip": "127.0.0.1"})
# no redis package in this venv: a policy whose store is Redis is refused
try:
    authcore.Auth(dict(pol, rate_limits={"default": {"key": "client", "limit": "9/minute"}},
                       store={"redis": {"port": 6379}, "secret": "install-test-fleet-0123456789abcdef"}))
    no_redis = "accepted"
except authcore.AuthcoreError as e:
    no_redis = str(e)
print(json.dumps({"lib": c._find_lib(), "pkg": os.path.dirname(authcore.__file__),
                  "version": authcore.__version__, "dist": importlib.metadata.version("authcore"),
                  "requires": importlib.metadata.requires("authcore") or [], "no_redis": no_redis,
                  "public": d1.status, "api": d2.status, "reason": d2.reason,
                  "identity": [n for n in ("IdentityVerifier", "IdentityMiddleware", "IdentityError")
                               if getattr(authcore, n, None) is None]}))
'''


def main():
    import json
    shutil.rmtree(WORK, ignore_errors=True)
    os.makedirs(WORK)
    venv = os.path.join(WORK, "venv")
    r = subprocess.run([PY, "-m", "venv", venv], capture_output=True, text=True, timeout=120)
    ok("a fresh venv", None if r.returncode == 0 else r.stderr[-400:])
    vpy = os.path.join(venv, "bin", "python")
    env = dict(os.environ, PIP_DISABLE_PIP_VERSION_CHECK="1", PYTHONDONTWRITEBYTECODE="1")
    env.pop("AUTHCORE_LIB", None)
    r = subprocess.run([vpy, "-m", "pip", "install", "--no-index", os.path.join(ROOT, "hosts", "python")],
                       capture_output=True, text=True, timeout=300, env=env, cwd=WORK)
    ok("pip install hosts/python (offline)", None if r.returncode == 0 else (r.stdout + r.stderr)[-800:])
    if r.returncode != 0:
        return 1
    r = subprocess.run([vpy, "-c", CHECK], capture_output=True, text=True, timeout=60, env=env, cwd=WORK)
    try:
        got = json.loads(r.stdout)
    except ValueError:
        ok("the installed package decides", (r.stdout + r.stderr)[-800:])
        return 1
    ok("the installed package loads the library it ships",
       None if os.path.dirname(got["lib"]) == got["pkg"] and got["pkg"].startswith(venv)
       else "lib %s, package %s" % (got["lib"], got["pkg"]))
    ok("the distribution's version is the package's",
       None if got["version"] == got["dist"] else "%s vs %s" % (got["version"], got["dist"]))
    ok("the installed package decides (public 200, no token 401 missing_token)",
       None if (got["public"], got["api"], got["reason"]) == (200, 401, "missing_token") else repr(got))
    ok("the package declares the redis extra (authcore[redis]: redis-py)",
       None if any(x.replace(" ", "").startswith("redis>=") and 'extra=="redis"' in x.replace(" ", "")
                   for x in got["requires"]) else "requires %r" % got["requires"])
    ok("without redis installed it imports and decides, and a Redis policy is refused naming the extra",
       None if "authcore[redis]" in got["no_redis"] else got["no_redis"])
    ok("the installed package exports the identity verifier",
       None if got["identity"] == [] else "missing: %r" % got["identity"])
    bogus = os.path.join(WORK, "no-such-lib.so")
    r = subprocess.run([vpy, "-c", "import os, authcore._core as c; print(c._find_lib())"],
                       capture_output=True, text=True, timeout=60, env=dict(env, AUTHCORE_LIB=bogus), cwd=WORK)
    built = os.path.join(ROOT, "build", "lib", "libauthcore_acw.so")
    r2 = subprocess.run([vpy, "-c", "import authcore, authcore._core as c; print(c._find_lib())"],
                        capture_output=True, text=True, timeout=60, env=dict(env, AUTHCORE_LIB=built), cwd=WORK)
    ok("AUTHCORE_LIB names the library to load",
       None if r2.stdout.strip() == built and r.stdout.strip() != bogus
       else "with it %r, with a missing file %r" % (r2.stdout.strip(), r.stdout.strip()))
    return 1 if failed() else 0


if __name__ == "__main__":
    sys.exit(main())
