#!/usr/bin/env python3
"""AuthcoreMiddleware in a real ASGI server: uvicorn serving a FastAPI app
(tests/hosts/python_app.py) on 127.0.0.1, driven by real HTTP clients
(http.client; the websockets client for the upgrade).

Checked: the login page; a login post (its body read because the core asks)
answered 303 with the session and CSRF cookies; the session cookie reaching
the app as identity (scope["authcore"] and the policy's identity headers,
client-sent copies gone); an unsafe method refused without the CSRF token
and passed with it; an API key and a JWT as identities of their own; a rate
limit keyed on the client counting per peer address (127.0.0.1 refused 429
with Retry-After, 127.0.0.2 still served); the client address and scheme
from the ASGI scope in the audit line; a password check running off the
event loop (other requests answered meanwhile, far faster than the check);
the policy's login.max_pending answering 503 overloaded while a check runs;
a check whose client went away giving its place back at once; a WebSocket
upgrade with the session passed to the app, and refused with 401 without;
https from the connection (a TLS listener), never from a client's
X-Forwarded-Proto; connection caps (one WebSocket and one event stream per
client address): the next is 429 while one is open, and the place is back
once the client closes it (the app's call ends) and once a stream ends.

Prints "ok - ..." / "not ok - ...: why" (tests/run.sh counts them). The
server is stopped by its own PID; every wait is bounded.
"""
import http.client
import json
import os
import socket
import ssl
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "lib"))
import authformats  # noqa: E402
import hostkit  # noqa: E402
import vectors  # noqa: E402
from checks import failed, ok  # noqa: E402

WORK = os.path.join(ROOT, "build", "tests", "python-request")
PY = os.path.join(ROOT, "build", "venv", "bin", "python")
# enough iterations that a check lasts well over the waits below
ITERATIONS = 4000000
PASSWORD = "alice-long-password-42"
JWT_SECRET = "python-request-jwt-secret-0123456789abcdef"

def request(port, method, path, headers=(), body=None, source="127.0.0.1", timeout=20, tls_ca=None):
    """(status, {lower name: joined value}, [set-cookie values], body bytes).
    tls_ca: talk TLS, verifying the server with that certificate."""
    if tls_ca:
        conn = http.client.HTTPSConnection("127.0.0.1", port, timeout=timeout,
                                           source_address=(source, 0),
                                           context=ssl.create_default_context(cafile=tls_ca))
    else:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout,
                                          source_address=(source, 0))
    try:
        conn.putrequest(method, path, skip_accept_encoding=True)
        for n, v in headers:
            conn.putheader(n, v)
        data = None
        if body is not None:
            data = body.encode()
            conn.putheader("Content-Length", str(len(data)))
        conn.endheaders(data)
        r = conn.getresponse()
        b = r.read()
        hs, cookies = {}, []
        for k, v in r.getheaders():
            k = k.lower()
            hs[k] = hs[k] + ", " + v if k in hs else v
            if k == "set-cookie":
                cookies.append(v)
        return r.status, hs, cookies, b
    finally:
        conn.close()


FORM = [("Content-Type", "application/x-www-form-urlencoded")]
LOGIN_BODY = "username=alice&password=" + PASSWORD.replace("-", "%2D") + "&next=%2Fapi%2Fwhoami"


def policy(api_key_sha):
    return {
        "realm": "app",
        "sessions": {"keys": [{"kid": "s1", "secret": "python-request-session-key-0123456789abcdef"}],
                     "cookie": "app_session", "csrf_cookie": "app_csrf", "ttl": 3600},
        "users": [{"name": "alice", "password_hash": authformats.phc_pbkdf2_sha256(PASSWORD, ITERATIONS),
                   "roles": ["admin", "ops"]}],
        "login": {"prefix": "/app", "max_pending": 1, "attempts": "50/minute",
                  "client_attempts": "50/minute"},
        "api_keys": {"header": "x-api-key",
                     "keys": [{"name": "bot", "sha256": api_key_sha, "role": "reporter"}]},
        "jwt": {"keys": [{"kid": "k1", "alg": "HS256", "secret": JWT_SECRET}]},
        "public": ["/public/*"],
        "rate_limits": {"limits": [{"name": "limited", "path": "/public/limited", "key": "client",
                                    "limit": "3/minute"}], "headers": True,
                        # streams open at once per client address
                        "connections": [{"name": "chat", "path": "/public/chat", "key": "client", "max": 1},
                                        {"name": "events", "path": "/public/events", "key": "client",
                                         "max": 1}]},
        "default": "authenticated",
    }


def audit_lines(server):
    out = []
    for ln in server.log_text().splitlines():
        if ln.startswith("{"):
            try:
                out.append(json.loads(ln))
            except ValueError:
                pass
    return out


def main():
    os.makedirs(WORK, exist_ok=True)
    key, sha = authformats.apikey("ak", os.urandom(32))
    pol = os.path.join(WORK, "policy.json")
    with open(pol, "w") as f:
        json.dump(policy(sha), f)
    port = hostkit.free_port()
    env = dict(os.environ, AUTHCORE_TEST_POLICY=pol, PYTHONDONTWRITEBYTECODE="1")
    env.pop("AUTHCORE_ADMIN_USER", None)
    env.pop("AUTHCORE_ADMIN_PASSWORD_HASH", None)
    # no proxy-header rewriting: scope["client"] is the peer, the policy's
    # trusted_proxies (none here) decides about X-Forwarded-For
    cmd = [PY, "-m", "uvicorn", "--app-dir", HERE, "python_app:app", "--host", "127.0.0.1",
           "--no-proxy-headers", "--no-access-log", "--ws", "websockets-sansio",
           "--log-level", "warning"]
    server = hostkit.Server(cmd + ["--port", str(port)], os.path.join(WORK, "uvicorn.log"), env=env)
    tls = None
    try:
        if not hostkit.wait_port(port, server.proc, 20):
            ok("uvicorn serves the app", "did not start: " + server.log_text()[-800:])
            return 1
        print("# uvicorn on 127.0.0.1:%d" % port, flush=True)
        run(port, server, key)
        # the same app on a TLS listener: https is the connection's scheme
        cert, tkey = hostkit.make_tls_cert(WORK)
        tport = hostkit.free_port()
        tls = hostkit.Server(cmd + ["--port", str(tport), "--ssl-certfile", cert, "--ssl-keyfile", tkey],
                             os.path.join(WORK, "uvicorn-tls.log"), env=env)
        if not hostkit.wait_port(tport, tls.proc, 20):
            ok("uvicorn serves the app over TLS", "did not start: " + tls.log_text()[-800:])
            return 1
        st, _, _, body = request(tport, "GET", "/api/whoami", [("X-API-Key", key)], tls_ca=cert)
        a = (json.loads(body) if st == 200 else {}).get("authcore") or {}
        ok("over TLS the core takes https from scope[\"scheme\"]",
           None if st == 200 and a.get("https") is True else "status %s %r" % (st, body[:160]))
        st, _, _, body = request(port, "GET", "/api/whoami",
                                 [("X-API-Key", key), ("X-Forwarded-Proto", "https")])
        a = (json.loads(body) if st == 200 else {}).get("authcore") or {}
        ok("over plain HTTP a client's X-Forwarded-Proto: https is not https (no trusted proxy)",
           None if st == 200 and a.get("https") is False else "status %s %r" % (st, body[:160]))
    finally:
        server.stop()
        if tls is not None:
            tls.stop()
    return 1 if failed() else 0


def run(port, server, key):
    # --- no credentials, the login page ---------------------------------
    st, hs, _, body = request(port, "GET", "/api/whoami", [("Accept", "application/json")])
    ok("no credentials: 401 from the core, not the app",
       None if st == 401 and b"unauthorized" in body else "status %s body %r" % (st, body[:80]))
    st, hs, _, body = request(port, "GET", "/app/auth/login")
    ok("the login page is served in-process",
       None if st == 200 and b"<form" in body and "text/html" in hs.get("content-type", "")
       else "status %s %r" % (st, body[:80]))

    # --- login post -------------------------------------------------------
    t0 = time.monotonic()
    st, hs, cookies, body = request(port, "POST", "/app/auth/login", FORM, LOGIN_BODY)
    check_time = time.monotonic() - t0
    sess = next((c.split(";")[0] for c in cookies if c.startswith("app_session=")), None)
    csrf = next((c.split(";")[0] for c in cookies if c.startswith("app_csrf=")), None)
    ok("login post: 303 to next with the session and CSRF cookies",
       None if st == 303 and hs.get("location") == "/api/whoami" and sess and csrf
       else "status %s location %r cookies %r" % (st, hs.get("location"), cookies))
    print("# one login with %d PBKDF2 iterations: %.2f s" % (ITERATIONS, check_time), flush=True)
    if not (sess and csrf):
        return

    # --- the session reaches the app ---------------------------------------
    st, hs, _, body = request(port, "GET", "/api/whoami",
                              [("Cookie", sess), ("X-Authcore-User", "mallory"),
                               ("X-Authcore-Roles", "admin")])
    got = json.loads(body) if st == 200 else {}
    a = got.get("authcore") or {}
    ok("session cookie: the app sees the user in scope and the identity headers",
       None if st == 200 and a.get("user") == "alice" and a.get("auth_method") == "session"
       and sorted(a.get("roles") or []) == ["admin", "ops"] and a.get("client") == "127.0.0.1"
       and a.get("https") is False and got.get("user_header") == "alice"
       else "status %s %r" % (st, got))
    ok("client-sent identity headers never reach the app",
       None if got.get("user_header") == "alice" and got.get("roles_header") != "admin"
       else "app saw %r" % got)

    # --- CSRF on unsafe methods --------------------------------------------
    st, _, _, body = request(port, "POST", "/api/items", [("Cookie", sess)], "x=1")
    last = (audit_lines(server) or [{}])[-1]
    ok("session POST without the CSRF token is refused 403 csrf_failed",
       None if st == 403 and last.get("reason") == "csrf_failed" and last.get("path") == "/api/items"
       else "status %s, last audit line %r" % (st, last))
    token = csrf.split("=", 1)[1]
    st, _, _, body = request(port, "POST", "/api/items",
                             [("Cookie", sess + "; " + csrf), ("X-CSRF-Token", token)], "x=1")
    got = json.loads(body) if st == 200 else {}
    ok("session POST with the CSRF token reaches the app with its body",
       None if st == 200 and got.get("created") == "x=1" else "status %s %r" % (st, body[:120]))

    # --- API key, JWT -----------------------------------------------------
    st, _, _, body = request(port, "GET", "/api/whoami", [("X-API-Key", key),
                                                          ("X-Authcore-User", "alice")])
    a = (json.loads(body) if st == 200 else {}).get("authcore") or {}
    ok("API key: identity bot, role reporter, auth_method api_key",
       None if st == 200 and a.get("user") == "bot" and a.get("roles") == ["reporter"]
       and a.get("auth_method") == "api_key" else "status %s %r" % (st, body[:160]))
    st, _, _, _ = request(port, "GET", "/api/whoami", [("X-API-Key", key[:-1] + ("B" if key[-1] == "A" else "A"))])
    ok("a wrong API key is refused 401", None if st == 401 else "status %s" % st)
    now = int(time.time())
    jwt = vectors.mint({"key": "k1", "kid": "k1", "claims": {"sub": "carol", "exp": "+600"}},
                       {"k1": JWT_SECRET}, now)
    st, _, _, body = request(port, "GET", "/api/whoami", [("Authorization", "Bearer " + jwt)])
    a = (json.loads(body) if st == 200 else {}).get("authcore") or {}
    ok("JWT: identity carol, auth_method jwt",
       None if st == 200 and a.get("user") == "carol" and a.get("auth_method") == "jwt"
       else "status %s %r" % (st, body[:160]))
    bad = vectors.mint({"key": "k1", "kid": "k1", "claims": {"sub": "carol", "exp": "+600"},
                        "mutate": "flip_signature"}, {"k1": JWT_SECRET}, now)
    st, _, _, _ = request(port, "GET", "/api/whoami", [("Authorization", "Bearer " + bad)])
    ok("a JWT with a flipped signature is refused 401", None if st == 401 else "status %s" % st)

    # --- rate limit per peer address -------------------------------------
    got = [request(port, "GET", "/public/limited")[:2] for _ in range(4)]
    sts = [s for s, _ in got]
    last = got[-1][1]
    ok("rate limit: the 4th request from 127.0.0.1 within a minute is 429 with Retry-After",
       None if sts == [200, 200, 200, 429] and last.get("retry-after")
       and "ratelimit-policy" in last else "statuses %s headers %r" % (sts, last))
    st, hs, _, body = request(port, "GET", "/public/limited", source="127.0.0.2")
    ok("rate limit counts per peer address: 127.0.0.2 is still served",
       None if st == 200 and json.loads(body).get("client") == "127.0.0.2"
       else "status %s %r" % (st, body[:80]))
    lines = audit_lines(server)
    rl = [e for e in lines if e.get("reason") == "rate_limited"]
    ok("the 429's audit line names the peer address from the ASGI scope",
       None if rl and rl[-1].get("client_ip") == "127.0.0.1" else "audit lines %r" % rl)

    # --- password checks off the event loop ------------------------------
    box = {}

    def login(tag):
        t = time.monotonic()
        box[tag] = request(port, "POST", "/app/auth/login", FORM, LOGIN_BODY)
        box[tag + "_t"] = time.monotonic() - t
    th = threading.Thread(target=login, args=("slow",))
    th.start()
    time.sleep(min(0.3, check_time / 4))
    lat = []
    second = None
    while th.is_alive() and len(lat) < 50:
        t = time.monotonic()
        request(port, "GET", "/public/hello")
        lat.append(time.monotonic() - t)
        if second is None:
            second = request(port, "POST", "/app/auth/login", FORM, LOGIN_BODY)
    th.join(60)
    slow_ok = box.get("slow", (0,))[0] == 303
    ok("other requests are answered while a password check runs",
       None if slow_ok and lat and max(lat) < box["slow_t"] / 3
       else "login %s in %.2fs, %d requests meanwhile, slowest %.3fs"
       % (box.get("slow", (None,))[0], box.get("slow_t", 0), len(lat), max(lat or [0])))
    print("# during a %.2f s check: %d requests, slowest %.1f ms" % (
        box.get("slow_t", 0), len(lat), 1000 * max(lat or [0])), flush=True)
    ok("login.max_pending 1: a second login while one is checked is 503 overloaded",
       None if second is not None and second[0] == 503 and second[1].get("retry-after")
       else "got %r" % (second[:2] if second else None,))

    # --- a client gone during its check gives its place back -------------
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    data = LOGIN_BODY.encode()
    s.sendall(("POST /app/auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
               "application/x-www-form-urlencoded\r\nContent-Length: %d\r\n\r\n" % len(data)).encode()
              + data)
    time.sleep(min(0.2, check_time / 5))
    s.close()
    time.sleep(min(0.2, check_time / 5))
    t = time.monotonic()
    st = request(port, "POST", "/app/auth/login", FORM, LOGIN_BODY)[0]
    ok("a check whose client went away is abandoned: the next login is checked at once",
       None if st == 303 else "status %s after %.2fs (the slot was still taken)"
       % (st, time.monotonic() - t))

    # --- WebSocket ---------------------------------------------------------
    try:
        from websockets.sync.client import connect
        from websockets.exceptions import InvalidStatus
    except ImportError as e:
        ok("websockets client", str(e))
        return
    check_caps(port, server)
    try:
        with connect("ws://127.0.0.1:%d/ws" % port, additional_headers={"Cookie": sess},
                     open_timeout=10) as ws:
            got = json.loads(ws.recv(timeout=10))
        a = got.get("authcore") or {}
        ok("WebSocket upgrade with the session: the app sees alice",
           None if a.get("user") == "alice" and got.get("user_header") == "alice" else repr(got))
    except Exception as e:
        ok("WebSocket upgrade with the session: the app sees alice", "%s: %s" % (type(e).__name__, e))
    try:
        with connect("ws://127.0.0.1:%d/ws" % port, open_timeout=10) as ws:
            ws.recv(timeout=5)
        ok("WebSocket upgrade without credentials is refused 401", "it was accepted")
    except InvalidStatus as e:
        st = e.response.status_code
        ok("WebSocket upgrade without credentials is refused 401",
           None if st == 401 else "status %s" % st)
    except Exception as e:
        ok("WebSocket upgrade without credentials is refused 401", "%s: %s" % (type(e).__name__, e))


def open_events(port, path="/public/events"):
    """GET path on a socket of its own, read up to its first event:
    (socket still open, status)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" % path).encode())
    got = b""
    while b"data: open" not in got and not (b"\r\n\r\n" in got and not got.startswith(b"HTTP/1.1 200")):
        chunk = s.recv(4096)
        if not chunk:
            break
        got += chunk
    return s, int(got.split(b" ", 2)[1]) if got.startswith(b"HTTP/1.1 ") else 0


def check_caps(port, server):
    """Connection caps: one WebSocket on /public/chat and one event stream
    on /public/events per client address, counted while the app's call
    runs."""
    from websockets.sync.client import connect
    from websockets.exceptions import InvalidStatus

    def chat():
        try:
            ws = connect("ws://127.0.0.1:%d/public/chat" % port, open_timeout=10, close_timeout=10)
        except InvalidStatus as e:
            return e.response.status_code
        ws.send("ping")
        if ws.recv(timeout=10) != "ping":
            ws.close()
            return "no echo"
        return ws

    def until(f, refused):
        """f() until it is not refused (a release lands once the server
        has seen the stream end), at most 5 s: (the last, seconds)."""
        t = time.monotonic()
        while True:
            got = f()
            if not refused(got) or time.monotonic() - t > 5:
                return got, time.monotonic() - t
            time.sleep(0.05)

    probs = []
    first = chat()
    second = chat()
    if isinstance(first, (int, str)):
        probs.append("first WebSocket: %r, want an echo" % (first,))
    if second != 429:
        probs.append("second WebSocket while the first is open: %r, want 429" % (second,))
    for w in (first, second):
        if not isinstance(w, (int, str)):
            w.close()
    again, took = until(chat, lambda g: g == 429)
    if isinstance(again, (int, str)):
        probs.append("after the client closed its WebSocket: %r, want an echo" % (again,))
    else:
        again.close()
        print("# a WebSocket's place back %.2fs after its client closed" % took, flush=True)
    ok("connection cap: one WebSocket per client, the next 429, the place back once it closes",
       "; ".join(probs) or None)

    probs = []
    s, st = open_events(port)
    try:
        if st != 200:
            probs.append("first event stream: status %d" % st)
        st = request(port, "GET", "/public/events?end=1")[0]
        if st != 429:
            probs.append("second event stream while the first is open: %d, want 429" % st)
    finally:
        s.close()
    (st, _, _, body), took = until(lambda: request(port, "GET", "/public/events?end=1"),
                                   lambda g: g[0] == 429)
    if st != 200 or body != b"data: open\n\n":
        probs.append("after the client went: %d %r, want 200 and the whole stream" % (st, body[:80]))
    else:
        print("# an event stream's place back %.2fs after its client went" % took, flush=True)
    st = request(port, "GET", "/public/events?end=1")[0]
    if st != 200:
        probs.append("right after a stream ended: %d, want 200" % st)
    lines = [e.get("path") for e in audit_lines(server) if e.get("reason") == "too_many_connections"]
    if "/public/chat" not in lines or "/public/events?end=1" not in lines:
        probs.append("audit lines too_many_connections for %r, want both paths" % lines)
    ok("connection cap: one event stream per client, the next 429, the place back once its "
       "client goes and once it ends", "; ".join(probs) or None)


if __name__ == "__main__":
    sys.exit(main())
