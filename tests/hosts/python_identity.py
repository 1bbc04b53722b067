#!/usr/bin/env python3
"""authcore.identity: an app behind an authcore proxy verifying the signed
upstream_identity assertion.

The assertions are the core's own: a policy with upstream_identity decides
requests through the Python binding (Auth.decide), and the assertion is
read from the headers the core adds for the upstream; the ES256 verifier
takes its keys from the core's jwks_path answer. Checked with
IdentityVerifier: ES256 and HS256 assertions of a token's caller, a
session's (its sid) and an API key's verify with their claims; an altered
payload, another key with the same kid, an HS256 verifier given an ES256
assertion, an expired one (and leeway), another audience, another issuer,
none and garbage are refused with their codes. Then IdentityMiddleware in
uvicorn with real HTTP and WebSocket clients: 401 with a generic body
without a valid assertion (the app never runs), the app reached with
scope["authcore"] set by a valid one, public paths and required=False
passing the request on anonymous.

Prints "ok - ..." / "not ok - ...: why". The server is stopped by its own
PID; every wait is bounded.
"""
import base64
import hashlib
import http.client
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "lib"))
sys.path.insert(0, os.path.join(ROOT, "hosts", "python"))
import authformats  # noqa: E402
import hostkit  # noqa: E402
import vectors  # noqa: E402
from checks import failed, ok  # noqa: E402

import authcore  # noqa: E402

WORK = os.path.join(ROOT, "build", "tests", "python-identity")
PY = os.path.join(ROOT, "build", "venv", "bin", "python")
JWT_SECRET = "caller-token-secret-for-identity-tests-0123"
SESSION_SECRET = "session-key-for-identity-tests-0123456789"
SHARED = "assertion-secret-shared-with-the-app-0123456789"
JWKS_PATH = "/.well-known/authcore/jwks.json"
# two P-256 private keys (docs/policy.md's and another): the same kid on
# both, so only the signature tells them apart
D_MAIN = "oGzRb7to4wRN3Z8_HMMuI0FXrMjgGwTcdJBBuisXx0Q"
D_OTHER = "wQjN2wo1AkJB3TTsX0VVD1VVlU6LVo5Ti7eJHZtZbDk"
TTL = 300


def policy(key, issuer="authcore", header=None, apikey_sha=None):
    p = {"jwt": {"keys": [{"kid": "c1", "alg": "HS256", "secret": JWT_SECRET}]},
         "sessions": {"keys": [{"kid": "s1", "secret": SESSION_SECRET}], "cookie": "sess"},
         "upstream_identity": {"audience": "dashboard", "issuer": issuer, "ttl": TTL, "key": key},
         "default": "authenticated"}
    if key["alg"] == "ES256":
        p["upstream_identity"]["jwks_path"] = JWKS_PATH
    if header:
        p["upstream_identity"]["header"] = header
    if apikey_sha:
        p["api_keys"] = {"keys": [{"name": "robot", "sha256": apikey_sha, "role": "bot"}]}
    return p


def es(d):
    return {"kid": "a1", "alg": "ES256", "crv": "P-256", "d": d}


def caller_token(now, sub="alice", roles=("admin", "viewer")):
    return vectors.mint({"alg": "HS256", "kid": "c1", "key": "c1",
                         "claims": {"sub": sub, "roles": list(roles), "exp": "+600"}},
                        {"c1": JWT_SECRET}, now)


def assertion(auth, headers, now, header=b"x-authcore-identity"):
    """The assertion the core adds for the upstream to an allowed request."""
    d = auth.decide({"method": "GET", "path": "/app/home", "client_ip": "127.0.0.1",
                     "headers": headers}, now)
    got = [v for n, v in d.add if n.lower() == header]
    if d.status != 200 or len(got) != 1:
        raise RuntimeError("the core did not forward one assertion: %s %s %r" % (d.status, d.reason, d.add))
    return got[0].decode()


def refused(verifier, token, now, want):
    """None when verify() raises IdentityError with reason want, else why."""
    try:
        got = verifier.verify(token, now)
    except authcore.IdentityError as e:
        return None if e.reason == want else "reason %r (core: %s), want %r" % (e.reason, e.detail, want)
    return "verified: %r" % (got,)


def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def with_payload(tok, **changes):
    """tok with claims changed, its signature kept (a forgery)."""
    h, p, s = tok.split(".")
    claims = json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)))
    claims.update(changes)
    return h + "." + b64url(json.dumps(claims, separators=(",", ":")).encode()) + "." + s


def check_verifier(now):
    es_auth = authcore.Auth(policy(es(D_MAIN)), env={})
    other_auth = authcore.Auth(policy(es(D_OTHER)), env={})
    key, sha = authformats.apikey("ak", os.urandom(32))
    hs_auth = authcore.Auth(policy({"kid": "h1", "alg": "HS256", "secret": SHARED},
                                   issuer="https://auth.example", header="x-upstream-assertion",
                                   apikey_sha=sha), env={})
    bearer = [("Authorization", "Bearer " + caller_token(now))]

    jw = es_auth.decide({"method": "GET", "path": JWKS_PATH, "client_ip": "127.0.0.1"}, now)
    ok("the core serves the assertion key's JWKS at jwks_path",
       None if jw.status == 200 and b'"keys"' in jw.body else "%s %s %r" % (jw.status, jw.reason, jw.body[:200]))
    jwks_text = jw.body.decode()

    # --- ES256 with the JWKS the core served -----------------------------
    v = authcore.IdentityVerifier("dashboard", jwks=jwks_text)
    tok = assertion(es_auth, bearer, now)
    try:
        got = v.verify(tok, now)
    except authcore.IdentityError as e:
        got = {"error": e.reason, "detail": e.detail}
    ok("ES256: a token's caller verifies against the served JWKS (JSON text)",
       None if (got.get("user"), got.get("roles"), got.get("auth_method"), got.get("session")) ==
       ("alice", ["admin", "viewer"], "jwt", None) and got["claims"].get("aud") == "dashboard"
       and got["claims"].get("iss") == "authcore" and got["claims"].get("exp") == now + TTL
       else repr(got))
    v2 = authcore.IdentityVerifier("dashboard", jwks=json.loads(jwks_text))
    ok("ES256: a JWKS given as a dict verifies the same",
       None if v2.verify(tok, now)["user"] == "alice" else "no")
    ok("ES256: str and bytes tokens alike",
       None if v.verify(tok.encode(), now)["user"] == "alice" else "no")

    ok("forged: another user written into the payload, signature kept -> bad_signature",
       refused(v, with_payload(tok, sub="mallory"), now, "bad_signature"))
    ok("forged: another role added to the payload -> bad_signature",
       refused(v, with_payload(tok, roles=["admin", "viewer", "root"]), now, "bad_signature"))
    forged = assertion(other_auth, bearer, now)
    ok("forged: signed by another P-256 key under the same kid -> bad_signature",
       refused(v, forged, now, "bad_signature"))
    ok("the other key's assertion verifies with its own JWKS (the refusal is the key's)",
       None if authcore.IdentityVerifier("dashboard", jwks=other_auth.decide(
           {"method": "GET", "path": JWKS_PATH, "client_ip": "127.0.0.1"}, now).body).verify(forged, now)["user"]
       == "alice" else "no")
    ok("expired: one second past exp -> expired",
       refused(v, tok, now + TTL + 1, "expired"))
    ok("at exp minus one second it still verifies",
       None if v.verify(tok, now + TTL - 1)["user"] == "alice" else "no")
    lv = authcore.IdentityVerifier("dashboard", jwks=jwks_text, leeway=30)
    ok("leeway=30: 20 s past exp verifies, 31 s past is expired",
       None if lv.verify(tok, now + TTL + 20)["user"] == "alice" and
       refused(lv, tok, now + TTL + 31, "expired") is None else "no")
    ok("issued in the future (the proxy's clock ahead by 10 s) -> not_yet_valid",
       refused(v, tok, now - 10, "not_yet_valid"))
    ok("leeway=30 covers a proxy clock 10 s ahead",
       None if lv.verify(tok, now - 10)["user"] == "alice" else "no")
    ok("wrong audience -> wrong_audience",
       refused(authcore.IdentityVerifier("billing", jwks=jwks_text), tok, now, "wrong_audience"))
    ok("wrong issuer -> wrong_issuer",
       refused(authcore.IdentityVerifier("dashboard", issuer="https://auth.example", jwks=jwks_text),
               tok, now, "wrong_issuer"))
    ok("no assertion (None) -> missing", refused(v, None, now, "missing"))
    ok("an empty assertion -> missing", refused(v, "", now, "missing"))
    ok("garbage -> malformed", refused(v, "not.a-jwt", now, "malformed"))
    ok("a caller's own HS256 token (not an assertion) -> bad_signature",
       refused(v, bearer[0][1][len("Bearer "):], now, "bad_signature"))

    # --- HS256 with the shared secret ------------------------------------
    hv = authcore.IdentityVerifier("dashboard", issuer="https://auth.example", secret=SHARED)
    htok = assertion(hs_auth, bearer, now, b"x-upstream-assertion")
    try:
        got = hv.verify(htok, now)
    except authcore.IdentityError as e:
        got = {"error": e.reason}
    ok("HS256: a token's caller verifies with the shared secret (custom issuer and header)",
       None if (got.get("user"), got.get("roles"), got.get("auth_method")) == ("alice", ["admin", "viewer"], "jwt")
       else repr(got))
    ok("HS256: the secret as bytes verifies the same",
       None if authcore.IdentityVerifier("dashboard", issuer="https://auth.example",
                                         secret=SHARED.encode()).verify(htok, now)["user"] == "alice" else "no")
    ok("HS256 forged: another secret -> bad_signature",
       refused(authcore.IdentityVerifier("dashboard", issuer="https://auth.example",
                                         secret=SHARED[::-1]), htok, now, "bad_signature"))
    ok("HS256 forged: altered payload -> bad_signature",
       refused(hv, with_payload(htok, sub="mallory"), now, "bad_signature"))
    ok("an ES256 assertion put to an HS256 verifier -> bad_signature",
       refused(hv, with_payload(tok, iss="https://auth.example"), now, "bad_signature"))
    ok("an HS256 assertion put to the ES256 verifier -> bad_signature",
       refused(v, with_payload(htok, iss="authcore"), now, "bad_signature"))
    ok("HS256: wrong issuer -> wrong_issuer",
       refused(authcore.IdentityVerifier("dashboard", secret=SHARED), htok, now, "wrong_issuer"))
    ok("HS256: expired -> expired", refused(hv, htok, now + TTL + 1, "expired"))

    sid = hashlib.sha256(b"identity-test-sid").digest()[:16]
    sess = authformats.session_token(SESSION_SECRET.encode(), "s1", sid, now - 10, 3600, b"carol", [b"viewer"])
    stok = assertion(hs_auth, [("Cookie", "sess=" + sess)], now, b"x-upstream-assertion")
    got = hv.verify(stok, now)
    ok("a session's caller: auth_method session, session the session's id",
       None if (got["user"], got["roles"], got["auth_method"], got["session"]) ==
       ("carol", ["viewer"], "session", b64url(sid)) else repr(got))
    atok = assertion(hs_auth, [("X-API-Key", key)], now, b"x-upstream-assertion")
    got = hv.verify(atok, now)
    ok("an API key's caller: auth_method api_key, no session",
       None if (got["user"], got["roles"], got["auth_method"], got["session"]) ==
       ("robot", ["bot"], "api_key", None) else repr(got))

    # --- settings --------------------------------------------------------
    for name, kw in (("both jwks and secret", {"jwks": jwks_text, "secret": SHARED}), ("neither", {})):
        try:
            authcore.IdentityVerifier("dashboard", **kw)
            ok("%s is refused (TypeError)" % name, "accepted")
        except TypeError:
            ok("%s is refused (TypeError)" % name)
    for name, kw in (("a secret under 32 bytes", {"secret": "short"}),
                     ("a JWKS without usable keys", {"jwks": {"keys": []}}),
                     ("a JWKS that is not JSON", {"jwks": "<html>"})):
        try:
            authcore.IdentityVerifier("dashboard", **kw)
            ok("%s is refused by the core (AuthcoreError)" % name, "accepted")
        except authcore.AuthcoreError as e:
            ok("%s is refused by the core (AuthcoreError)" % name,
               None if "identity verifier" in str(e) or "jwks" in str(e) else str(e))
    # a policy whose store is Redis: without the redis package this host
    # cannot send its commands (refused, naming the extra); with it, it loads
    redis_policy = {"jwt": {"keys": [{"kid": "k", "alg": "HS256", "secret": SHARED}]},
                    "rate_limits": {"default": {"key": "client", "limit": "10/minute"}},
                    "store": {"redis": {"port": 6379}, "secret": SHARED}}
    hidden = {m: sys.modules.get(m) for m in ("redis", "redis.asyncio")}
    sys.modules.update({m: None for m in hidden})  # import redis raises ImportError
    try:
        authcore.Auth(redis_policy, env={}).close()
        ok("a policy whose store is Redis is refused without redis (AuthcoreError)", "accepted")
    except authcore.AuthcoreError as e:
        ok("a policy whose store is Redis is refused without redis (AuthcoreError)",
           None if "Redis" in str(e) and "authcore[redis]" in str(e) else str(e))
    finally:
        for m, v in hidden.items():
            if v is None:
                sys.modules.pop(m, None)
            else:
                sys.modules[m] = v
    a = authcore.Auth(redis_policy, env={})
    ok("with redis installed it loads, its store Redis's",
       None if a.stats() == {"store": "redis", "store_errors": 0} else str(a.stats()))
    a.close()
    del redis_policy["store"]
    authcore.Auth(redis_policy, env={}).close()
    ok("the same policy without its store loads")
    for a in (es_auth, other_auth, hs_auth):
        a.close()
    return jwks_text, tok, forged


APP = r'''
import json, os
from authcore import IdentityMiddleware, IdentityVerifier

async def inner(scope, receive, send):
    who = scope.get("authcore")
    if scope["type"] == "websocket":
        m = await receive()
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.send", "text": json.dumps(who)})
        await send({"type": "websocket.close", "code": 1000})
        return
    body = json.dumps({"authcore": who, "path": scope["path"]}).encode()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})

with open(os.environ["IDENTITY_TEST_JWKS"]) as f:
    verifier = IdentityVerifier("dashboard", jwks=f.read())
strict = IdentityMiddleware(inner, verifier, public=["/health", "/static/*"])
optional = IdentityMiddleware(inner, verifier, required=False)

async def app(scope, receive, send):
    if scope["type"] in ("http", "websocket") and scope["path"].startswith("/optional"):
        return await optional(scope, receive, send)
    return await strict(scope, receive, send)
'''


def request(port, path, headers=(), timeout=20):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path, headers=dict(headers))
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        conn.close()


def who(body):
    try:
        return json.loads(body).get("authcore")
    except ValueError:
        return None


def check_middleware(jwks_text, tok, forged):
    with open(os.path.join(WORK, "jwks.json"), "w") as f:
        f.write(jwks_text)
    with open(os.path.join(WORK, "identity_app.py"), "w") as f:
        f.write(APP)
    port = hostkit.free_port()
    env = dict(os.environ, IDENTITY_TEST_JWKS=os.path.join(WORK, "jwks.json"),
               PYTHONPATH=os.path.join(ROOT, "hosts", "python"), PYTHONDONTWRITEBYTECODE="1")
    cmd = [PY, "-m", "uvicorn", "--app-dir", WORK, "identity_app:app", "--host", "127.0.0.1",
           "--port", str(port), "--no-proxy-headers", "--no-access-log", "--ws", "websockets-sansio",
           "--log-level", "warning"]
    server = hostkit.Server(cmd, os.path.join(WORK, "uvicorn.log"), env=env)
    try:
        if not hostkit.wait_port(port, server.proc, 20):
            ok("uvicorn serves the app behind IdentityMiddleware", "did not start: " + server.log_text()[-800:])
            return
        ok("uvicorn serves the app behind IdentityMiddleware")
        st, hs, body = request(port, "/reports")
        ok("HTTP without the assertion: 401 with the generic body, the app not run",
           None if st == 401 and body == authcore.identity.UNAUTHORIZED and b"authcore" not in body
           else "status %s %r" % (st, body[:200]))
        st, _, body2 = request(port, "/reports", [("X-Authcore-Identity", forged)])
        ok("HTTP with another key's assertion: the same 401 and body (no reason given away)",
           None if st == 401 and body2 == body else "status %s %r" % (st, body2[:200]))
        st, _, body = request(port, "/reports", [("X-Authcore-Identity", with_payload(tok, sub="mallory"))])
        ok("HTTP with an altered assertion: 401", None if st == 401 else "status %s %r" % (st, body[:200]))
        st, _, body = request(port, "/reports", [("X-Authcore-Identity", tok)])
        w = who(body)
        ok("HTTP with the core's assertion: the app runs with scope[\"authcore\"] set",
           None if st == 200 and w == {"user": "alice", "roles": ["admin", "viewer"], "auth_method": "jwt",
                                       "client": "127.0.0.1", "https": False, "reason": "ok"}
           else "status %s %r" % (st, body[:300]))
        st, _, body = request(port, "/health")
        w = who(body) or {}
        ok("a public path (exact) without the assertion: the app runs anonymous",
           None if st == 200 and w.get("user") is None and w.get("reason") == "missing"
           else "status %s %r" % (st, body[:300]))
        st, _, body = request(port, "/static/js/app.js")
        ok("a public path (a * pattern, / included) without the assertion: the app runs",
           None if st == 200 else "status %s %r" % (st, body[:300]))
        st, _, body = request(port, "/static/js/app.js", [("X-Authcore-Identity", tok)])
        w = who(body) or {}
        ok("a public path with the core's assertion: the caller",
           None if st == 200 and w.get("user") == "alice" else "status %s %r" % (st, body[:300]))
        st, _, body = request(port, "/healthz")
        ok("a path a public pattern only starts (/healthz): 401",
           None if st == 401 else "status %s %r" % (st, body[:300]))
        for sneaky in ("/static/../reports", "/static/%2e%2e/reports"):
            st, _, body = request(port, sneaky)
            ok("a target that only looks public (%s) is judged on its canonical path: 401" % sneaky,
               None if st == 401 else "status %s %r" % (st, body[:300]))
        st, _, body = request(port, "/optional/page")
        w = who(body)
        ok("required=False without the assertion: the app runs anonymous, reason missing",
           None if st == 200 and w == {"user": None, "roles": [], "auth_method": None, "client": "127.0.0.1",
                                       "https": False, "reason": "missing"}
           else "status %s %r" % (st, body[:300]))
        st, _, body = request(port, "/optional/page", [("X-Authcore-Identity", forged)])
        w = who(body) or {}
        ok("required=False with a forged assertion: anonymous, reason bad_signature",
           None if st == 200 and w.get("user") is None and w.get("reason") == "bad_signature"
           else "status %s %r" % (st, body[:300]))
        st, _, body = request(port, "/optional/page", [("X-Authcore-Identity", tok)])
        w = who(body) or {}
        ok("required=False with the core's assertion: the caller",
           None if st == 200 and w.get("user") == "alice" and w.get("reason") == "ok"
           else "status %s %r" % (st, body[:300]))

        try:
            from websockets.exceptions import InvalidStatus
            from websockets.sync.client import connect
        except ImportError as e:
            ok("websockets client", str(e))
            return
        url = "ws://127.0.0.1:%d/ws" % port
        try:
            with connect(url, open_timeout=10, close_timeout=5):
                pass
            ok("WebSocket without the assertion: the handshake is refused 401", "accepted")
        except InvalidStatus as e:
            ok("WebSocket without the assertion: the handshake is refused 401",
               None if e.response.status_code == 401 else "status %s" % e.response.status_code)
        try:
            with connect(url, additional_headers={"X-Authcore-Identity": tok},
                         open_timeout=10, close_timeout=5) as ws:
                w = json.loads(ws.recv(timeout=10))
            ok("WebSocket with the core's assertion: accepted, the app sees the caller",
               None if w.get("user") == "alice" and w.get("auth_method") == "jwt" and w.get("reason") == "ok"
               else repr(w))
        except Exception as e:  # noqa: BLE001 (reported)
            ok("WebSocket with the core's assertion: accepted, the app sees the caller", repr(e))
    finally:
        server.stop()


def main():
    os.makedirs(WORK, exist_ok=True)
    now = int(time.time())
    try:
        jwks_text, tok, forged = check_verifier(now)
    except Exception as e:  # noqa: BLE001 (a crash is a failure, reported)
        ok("the verifier checks ran", repr(e))
        return 1
    check_middleware(jwks_text, tok, forged)
    return 1 if failed() else 0


if __name__ == "__main__":
    sys.exit(main())
