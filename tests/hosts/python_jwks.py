#!/usr/bin/env python3
"""Keys from a JWKS URL in the Python package: AuthcoreMiddleware in uvicorn
(tests/hosts/python_app.py) fetches the provider's keys off the event loop
(an executor thread, a deadline on the whole answer, a byte cap, no
redirects) while the request's decision waits; tests/lib/jwkskit.py says
what is checked against a real OpenID Provider. Besides, the package's
fetch sends a POST as a decision names one (a Fetch of method, headers and
body, as the core will name an OpenID token request): the server receives
exactly that request and its answer comes back whole. Each server is
started with the policy the check gives, on 127.0.0.1, and stopped by its
own PID."""
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
from authcore import _core  # noqa: E402

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


def post_fetch():
    """_core.fetch of a Fetch named as a POST, against a loopback server."""
    name = ("python jwks_uri: a fetch named as a POST is sent as named (method, Content-Type, "
            "Authorization, body, its length), its answer handed back")
    server = jwkskit.Hostile(b'{"access_token":"t","token_type":"Bearer"}')
    body = b"grant_type=authorization_code&code=c-1&redirect_uri=x"
    named = [("accept", "application/json"),
             ("content-type", "application/x-www-form-urlencoded"),
             ("authorization", "Basic dGVzdC1jbGllbnQ6dGVzdC1zZWNyZXQ=")]
    try:
        f = _core.Fetch("http://127.0.0.1:%d/token?x=1" % server.port, 65536, 2000, "POST",
                        [(k.encode(), v.encode()) for k, v in named], body)
        status, ctype, got = _core.fetch(*f)
        probs = []
        if (status, got) != (200, server.good):
            probs.append("answer %r %r, want 200 and the body" % (status, got[:60]))
        if len(server.requests) != 1:
            probs.append("%d requests, want 1" % len(server.requests))
        for r in server.requests:
            probs += jwkskit.fetch_problems(r, "POST", "/token?x=1",
                                            named + [("content-length", str(len(body)))], body=body)
        ok(name, "; ".join(probs) or None)
    except Exception as e:  # noqa: BLE001 (a crash is a failure, reported)
        ok(name, repr(e))
    finally:
        server.stop()


def main():
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(124))
    os.makedirs(WORK, exist_ok=True)
    blocking()
    post_fetch()
    jwkskit.run("python jwks_uri", start, WORK)
    return 1 if failed() else 0


if __name__ == "__main__":
    sys.exit(main())
