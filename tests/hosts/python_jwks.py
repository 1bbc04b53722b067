#!/usr/bin/env python3
"""Keys from a JWKS URL in the Python package: AuthcoreMiddleware in uvicorn
(tests/hosts/python_app.py) fetches the provider's keys off the event loop
(an executor thread, a deadline on the whole answer, a byte cap, no
redirects) while the request's decision waits; tests/lib/jwkskit.py says
what is checked against a real OpenID Provider. Each server is started with
the policy the check gives, on 127.0.0.1, and stopped by its own PID."""
import json
import os
import signal
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "lib"))
import hostkit  # noqa: E402
import jwkskit  # noqa: E402
from checks import failed, ok  # noqa: E402
sys.path.insert(0, os.path.join(ROOT, "hosts", "python"))
from authcore import Auth  # noqa: E402

PY = sys.executable
WORK = os.path.join(ROOT, "build", "tests", "python-jwks")
count = 0


def start(policy):
    global count
    count += 1
    pol = os.path.join(WORK, "policy-%d.json" % count)
    with open(pol, "w") as f:
        json.dump(policy, f)
    port = hostkit.free_port()
    env = dict(os.environ, AUTHCORE_TEST_POLICY=pol, PYTHONDONTWRITEBYTECODE="1")
    env.pop("AUTHCORE_ADMIN_USER", None)
    env.pop("AUTHCORE_ADMIN_PASSWORD_HASH", None)
    srv = hostkit.Server([PY, "-m", "uvicorn", "--app-dir", HERE, "python_app:app", "--host", "127.0.0.1",
                          "--port", str(port), "--no-access-log", "--log-level", "warning"],
                         os.path.join(WORK, "uvicorn-%d.log" % count), env=env)
    if not hostkit.wait_port(port, srv.proc, 20):
        srv.stop()
        raise RuntimeError("uvicorn did not start: %s" % srv.log_text()[-800:])
    return port, srv.stop


def blocking():
    """Auth.decide, the blocking entry point, fetches inside the call."""
    keys = os.path.join(WORK, "keys-sync.json")
    jwkskit.make_keys(keys, "ks")
    idp = jwkskit.Provider(WORK, hostkit.free_port())
    try:
        idp.start(keys)
        auth = Auth(jwkskit.policy(idp.issuer + "/jwks", idp.issuer))
        d = auth.decide({"method": "GET", "path": "/api/x", "client_ip": "127.0.0.1",
                         "headers": [("authorization", "Bearer " + idp.token())]})
        ok("python jwks_uri: Auth.decide fetches the keys inside the call",
           None if d.action == "allow" and d.user == "authcore-test" else "%s %d %s" % (d.action, d.status, d.reason))
        auth.close()
    except Exception as e:  # noqa: BLE001 (a crash is a failure, reported)
        ok("python jwks_uri: Auth.decide fetches the keys inside the call", repr(e))
    finally:
        idp.stop()


def main():
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(124))
    os.makedirs(WORK, exist_ok=True)
    blocking()
    jwkskit.run("python jwks_uri", start, WORK)
    return 1 if failed() else 0


if __name__ == "__main__":
    sys.exit(main())
