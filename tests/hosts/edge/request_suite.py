#!/usr/bin/env python3
"""The edge module owns the request, in the real runtimes:

  request_suite.py node     nodeHandler() in a Node http (and https) server
  request_suite.py deno     Deno.serve with serve(request, next, { info })
  request_suite.py workerd  workerd, with runtime: "workers", and without it
                            (Cloudflare's `cf` object, or nothing)

Every server decides with the client address its runtime gives: the socket
peer in Node and Deno (the test connects from 127.0.0.1 and from 127.0.0.2,
both loopback), CF-Connecting-IP on Workers (the test plays Cloudflare's
edge, which sets it). Checked: that address reaches the audit line and the
app; login throttling counts per address (failures from one address never
throttle another); a login post's body reaches the core and the session
cookies come back as two Set-Cookie; https is the connection's scheme (a TLS
listener in Node and Deno), never a header; at most MAX_PENDING
password checks are under way (the policy's login.max_pending: the core's
cap), the next login is answered 503 overloaded with Retry-After while other
requests are served, and a login succeeds again once they are done; in Node
and Deno a check whose client went away stops (request.signal) and gives its
slot back to the core at once, well before it would lapse (60 s) (workerd
here never aborts an incoming request's signal when its client closes: not
tested there). A rate limit keyed on the client counts per address (its
RateLimit headers counting down, then 429 with Retry-After, RateLimit-Policy
and an audit line rate_limited for that address), and in workerd
another Worker (another isolate) counts the same client from zero: the
limits are per isolate. A login is counted in the client's buckets before
its password check runs: a request decided while the check yields sees it
counted, and the count after both holds both, once each. A connection
cap (one event stream per client) refuses a second stream 429
too_many_connections while one is open, and the place is back once the
stream's client goes (the runtime cancels the body), once a stream ends and
once one fails; in Deno, a WebSocket the app upgrades (Deno.upgradeWebSocket)
and releases on close (serve()'s release) the same.
Without a runtime address (workerd's runtime "workers" without
CF-Connecting-IP) the module refuses the request rather than deciding
without one.

Prints "ok - ..." / "not ok - ...: why" (tests/run.sh counts them). Servers
listen on 127.0.0.1, are stopped by their own PID, every wait is bounded.
"""
import http.client
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
sys.path.insert(0, os.path.join(ROOT, "tests", "lib"))
import authformats  # noqa: E402
import hostkit  # noqa: E402
from checks import failed, ok  # noqa: E402

PKG = os.path.join(ROOT, "build", "edge")
WORK = os.path.join(ROOT, "build", "tests", "edge-request")
WORKERD = os.path.join(ROOT, "node_modules", ".bin", "workerd")
DENO = os.path.join(ROOT, "node_modules", "@deno", "linux-x64-glibc", "deno")
FILES = ["authcore.mjs", "authcore_glue.mjs", "authcore.wasm", "request_app.mjs"]
START_TIMEOUT = 20
TIMEOUT = 20
A, B, C = "127.0.0.1", "127.0.0.2", "127.0.0.3"  # loopback peers
CF_A, CF_B = "203.0.113.7", "2001:db8::7"  # what Cloudflare's edge would set
SLICE = 2000
MAX_PENDING = 2                          # the policy's login.max_pending
SLOW_ITERATIONS = 1000000                # a check that outlives several requests
LIMIT = 2                                # the policy's rate limit on /pub/limited*
SHARED = 100                             # its limit per X-RL-Test value a day, any path


def policy():
    return {
        "realm": "edge-request",
        "sessions": {"keys": [{"kid": "s1", "secret": "edge-request-session-key-0123456789abcdef"}]},
        "users": [
            {"name": "alice", "password_hash": authformats.phc_pbkdf2_sha256("alice-pw", 1000),
             "roles": ["admin"]},
            {"name": "carol", "password_hash": authformats.phc_pbkdf2_sha256("carol-pw", SLOW_ITERATIONS),
             "roles": ["viewer"]},
            # the probe of the pending cap: a cheap check when admitted
            {"name": "dave", "password_hash": authformats.phc_pbkdf2_sha256("dave-pw", 1000),
             "roles": ["viewer"]},
        ],
        # every check from one address: the client budget is not under test
        "login": {"prefix": "/app", "attempts": "2/minute", "max_pending": MAX_PENDING,
                  "client_attempts": "1000/minute"},
        "public": ["/pub/*"],
        # decided by the core, buckets in the instance's memory (per isolate)
        "rate_limits": {"limits": [{"name": "burst", "path": "/pub/limited*", "key": "client",
                                    "limit": "%d/minute" % LIMIT},
                                   # counts only requests that send the header;
                                   # per day: nothing refills during a test
                                   {"name": "shared", "key": "header:x-rl-test",
                                    "limit": "%d/day" % SHARED}],
                        # event streams open at once per client
                        "connections": [{"name": "streams", "path": "/pub/stream", "key": "client",
                                         "max": 1},
                                        {"name": "sockets", "path": "/pub/socket", "key": "client",
                                         "max": 1}],
                        "headers": True},
        "default": "authenticated",
        # the client checks read the audit line of an allowed public GET
        "audit": {"allowed": "all"},
    }


class Client:
    """HTTP(S) to one server, from a chosen loopback source address."""

    def __init__(self, port, tls=False):
        self.port, self.tls = port, tls

    def send(self, method, path, headers=(), body=None, source=A):
        if self.tls:
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            conn = http.client.HTTPSConnection("127.0.0.1", self.port, timeout=TIMEOUT,
                                               source_address=(source, 0), context=ctx)
        else:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=TIMEOUT,
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
            raw = r.read()
            hdrs = {}
            for k, v in r.getheaders():
                hdrs.setdefault(k.lower(), []).append(v)
            return r.status, hdrs, raw
        finally:
            conn.close()

    def audits(self):
        status, _, raw = self.send("GET", "/__test/audit")
        return json.loads(raw) if status == 200 else []


def login(c, user, password, headers=(), source=A):
    form = "username=%s&password=%s" % (user, password)
    return c.send("POST", "/app/auth/login",
                  [("Content-Type", "application/x-www-form-urlencoded")] + list(headers), form, source)


def check_client(label, c, want, headers=(), source=A):
    """A public GET: the app and the audit line both see `want`."""
    c.audits()
    status, _, raw = c.send("GET", "/pub/who?q=1", headers, source=source)
    lines = c.audits()
    if status != 200:
        return ok(label, "status %d: %r" % (status, raw[:200]))
    got = json.loads(raw)
    probs = []
    if got["identity"].get("client") != want:
        probs.append("app identity.client %r" % got["identity"].get("client"))
    if got["path"] != "/pub/who?q=1":
        probs.append("app got path %r" % got["path"])
    if len(lines) != 1 or lines[0].get("client_ip") != want:
        probs.append("audit %r" % lines)
    ok(label, "; ".join(probs) or None)


def check_throttle(label, c, a_headers=(), b_headers=(), a=A, b=B):
    """Two failures from A for alice, then A is throttled and B is not."""
    got = []
    for _ in range(3):
        got.append(login(c, "alice", "wrong", a_headers, a)[0])
    got.append(login(c, "alice", "wrong", b_headers, b)[0])
    lines = c.audits()
    keys = [(x.get("client_ip"), x.get("reason")) for x in lines]
    want_status = [401, 401, 429, 401]
    probs = []
    if got != want_status:
        probs.append("statuses %r, want %r" % (got, want_status))
    if len(keys) < 4 or keys[2][1] != "too_many_attempts" or keys[3][1] != "bad_password":
        probs.append("audit %r" % keys)
    ok(label, "; ".join(probs) or None)


def limited(c, headers=(), source=A):
    """LIMIT + 1 GETs of the limited path: statuses and each answer's
    RateLimit, Retry-After and RateLimit-Policy headers."""
    got = []
    for _ in range(LIMIT + 1):
        status, hdrs, _ = c.send("GET", "/pub/limited", headers, source=source)
        got.append((status, hdrs.get("ratelimit", [""])[0], hdrs.get("retry-after", [""])[0],
                    hdrs.get("ratelimit-policy", [""])[0]))
    return got


def limit_problems(got):
    """What differs from LIMIT answers 200 counting down, then a 429."""
    probs = []
    for i, (status, rl, _, _) in enumerate(got[:LIMIT]):
        if status != 200 or ";r=%d;" % (LIMIT - 1 - i) not in rl:
            probs.append("request %d: %d RateLimit %r" % (i + 1, status, rl))
    status, rl, retry, pol = got[LIMIT]
    if (status != 429 or not retry.isdigit() or ";r=0;" not in rl
            or pol != '"burst";q=%d;w=60' % LIMIT):
        probs.append("request %d: %d RateLimit %r Retry-After %r RateLimit-Policy %r, want 429"
                     % (LIMIT + 1, status, rl, retry, pol))
    return probs


def check_rate_limit(label, c, a_headers=(), b_headers=(), a=A, b=B, client=None):
    """A client's LIMIT requests pass, the next is 429 with an audit line
    (rate_limited, that client); another client's bucket is its own."""
    c.audits()
    probs = limit_problems(limited(c, a_headers, a))
    keys = [(x.get("reason"), x.get("client_ip")) for x in c.audits()]
    if keys[-1:] != [("rate_limited", client or a)] or [k[0] for k in keys].count("rate_limited") != 1:
        probs.append("audit %r, want the last line, only, rate_limited for %s" % (keys, client or a))
    status, hdrs, raw = c.send("GET", "/pub/limited", b_headers, source=b)
    if status != 200 or ";r=%d;" % (LIMIT - 1) not in hdrs.get("ratelimit", [""])[0]:
        probs.append("another client: %d %r %r" % (status, hdrs.get("ratelimit"), raw[:100]))
    ok(label, "; ".join(probs) or None)


def check_counted_first(label, c, headers=(), source=C):
    """A login counted before its password check: the login (carol's slow
    check) is counted in the "shared" bucket of its X-RL-Test value as the
    check starts, so a GET with that value decided while the check yields
    sees 2 requests counted; the GET after both sees 3. A login counted
    only when its check ends would show 1, then 3 (or 2 with its write
    lost or applied stale); one counted twice would show 4."""
    h = list(headers) + [("X-RL-Test", "lost-write")]
    res = {}

    def slow():
        try:
            res["login"] = login(c, "carol", "carol-pw", h, source)
        except Exception as e:  # noqa: BLE001 (reported below)
            res["login"] = (0, {}, repr(e).encode())
    t = threading.Thread(target=slow)
    t0 = time.time()
    t.start()
    time.sleep(0.1)
    during = c.send("GET", "/pub/who", h, source=source)
    overlapped = t.is_alive()
    t.join(TIMEOUT * 2)
    took = time.time() - t0
    after = c.send("GET", "/pub/who", h, source=source)
    print("# %s: login answered after %.2fs" % (label, took), flush=True)
    rl = lambda r: r[1].get("ratelimit", [""])[0]  # noqa: E731
    probs = []
    if not overlapped:
        probs.append("the login ended before the GET (%.2fs): nothing was tested" % took)
    if during[0] != 200 or '"shared";r=%d;' % (SHARED - 2) not in rl(during):
        probs.append("GET during the check: %d %r" % (during[0], rl(during)))
    if res.get("login", (0,))[0] != 303:
        probs.append("login: %r" % (res.get("login", (0, {}, b"no answer"))[::2],))
    if after[0] != 200 or '"shared";r=%d;' % (SHARED - 3) not in rl(after):
        probs.append("GET after both: %d %r, want r=%d" % (after[0], rl(after), SHARED - 3))
    ok(label, "; ".join(probs) or None)


def open_stream(c, headers=(), source=A):
    """GET /pub/stream on a socket of its own, read up to its first event:
    (socket, status), the socket still open (the stream alive)."""
    s = socket.create_connection(("127.0.0.1", c.port), TIMEOUT, source_address=(source, 0))
    if c.tls:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        s = ctx.wrap_socket(s)
    hdrs = "".join("%s: %s\r\n" % h for h in headers)
    s.sendall(("GET /pub/stream HTTP/1.1\r\nHost: 127.0.0.1\r\n%s\r\n" % hdrs).encode())
    got = b""
    while b"data: open" not in got and not (b"\r\n\r\n" in got and not got.startswith(b"HTTP/1.1 200")):
        chunk = s.recv(4096)
        if not chunk:
            break
        got += chunk
    status = int(got.split(b" ", 2)[1]) if got.startswith(b"HTTP/1.1 ") else 0
    return s, status


def check_stream_cap(label, c, headers=(), source=A):
    """A connection cap (1 stream per client on /pub/stream): an event
    stream held open makes the next one 429 too_many_connections; once its
    client goes (the runtime cancels the body) the next one is served; a
    stream that ends, and one that fails, free the place by their end (the
    next right after is served, no wait)."""
    c.audits()
    probs = []
    s, status = open_stream(c, headers, source)
    try:
        if status != 200:
            probs.append("first stream: status %d, want 200 and its first event" % status)
        st, _, raw = c.send("GET", "/pub/stream?end=1", headers, source=source)
        reasons = [x.get("reason") for x in c.audits()]
        if st != 429 or reasons[-1:] != ["too_many_connections"]:
            probs.append("while one is open: %d %r (audit %r), want 429 too_many_connections"
                         % (st, raw[:100], reasons[-1:]))
    finally:
        s.close()
    t0 = time.time()
    while True:
        st, _, raw = c.send("GET", "/pub/stream?end=1", headers, source=source)
        if st != 429 or time.time() - t0 > 5:
            break
        time.sleep(0.05)
    print("# %s: a place back %.2fs after the client went" % (label, time.time() - t0), flush=True)
    if st != 200 or raw != b"data: open\n\n":
        probs.append("after the client went: %d %r, want 200 and the whole stream" % (st, raw[:100]))
    st, _, raw = c.send("GET", "/pub/stream?end=1", headers, source=source)
    if st != 200:
        probs.append("right after a stream ended: %d %r, want 200" % (st, raw[:100]))
    try:
        c.send("GET", "/pub/stream?fail=1", headers, source=source)
    except Exception:  # noqa: BLE001 (the runtime may cut the connection)
        pass
    st, _, raw = c.send("GET", "/pub/stream?end=1", headers, source=source)
    if st != 200:
        probs.append("right after a stream failed: %d %r, want 200" % (st, raw[:100]))
    ok(label, "; ".join(probs) or None)


def ws_open(c, source=A):
    """A WebSocket handshake on /pub/socket (a socket of its own, TLS when
    the server is): (socket, status)."""
    s = socket.create_connection(("127.0.0.1", c.port), TIMEOUT, source_address=(source, 0))
    if c.tls:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        s = ctx.wrap_socket(s)
    s.sendall(b"GET /pub/socket HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
              b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
              b"Sec-WebSocket-Version: 13\r\n\r\n")
    got = b""
    while b"\r\n\r\n" not in got:
        chunk = s.recv(4096)
        if not chunk:
            break
        got += chunk
    return s, int(got.split(b" ", 2)[1]) if got.startswith(b"HTTP/1.1 ") else 0


def ws_echo(s):
    """One masked text frame "ping" sent; True if it comes back."""
    mask = b"\x01\x02\x03\x04"
    s.sendall(b"\x81\x84" + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(b"ping")))
    got = b""
    while len(got) < 6:
        chunk = s.recv(64)
        if not chunk:
            break
        got += chunk
    return got[:6] == b"\x81\x04ping"


def check_socket_cap(label, c, source=A):
    """Deno: a WebSocket the app upgrades itself (Deno.upgradeWebSocket)
    under a cap of one per client: the next handshake is 429 while it is
    open, and once its client goes the app's release (serve()'s third
    argument to next, called on close) gives the place back."""
    probs = []
    s, st = ws_open(c, source)
    try:
        if st != 101 or not ws_echo(s):
            probs.append("first WebSocket: status %d, want 101 and an echo" % st)
        s2, st2 = ws_open(c, source)
        s2.close()
        if st2 != 429:
            probs.append("second WebSocket while the first is open: %d, want 429" % st2)
    finally:
        s.close()
    t0 = time.time()
    while True:
        s3, st = ws_open(c, source)
        s3.close()
        if st != 429 or time.time() - t0 > 5:
            break
        time.sleep(0.05)
    if st != 101:
        probs.append("after the client went: %d, want 101" % st)
    else:
        print("# %s: a place back %.2fs after the client went" % (label, time.time() - t0), flush=True)
    ok(label, "; ".join(probs) or None)


def check_login_ok(label, c, headers=(), source=A, https=False):
    status, hdrs, raw = login(c, "alice", "alice-pw", headers, source)
    cookies = hdrs.get("set-cookie", [])
    probs = []
    if status != 303:
        probs.append("status %d %r" % (status, raw[:200]))
    if len(cookies) != 2:
        probs.append("%d Set-Cookie: %r" % (len(cookies), cookies))
    elif any(("Secure" in v) != https for v in cookies):
        probs.append("Secure attribute %s expected: %r" % ("is" if https else "not", cookies))
    ok(label, "; ".join(probs) or None)
    # the session works: whoami answers with the user and the connection's scheme
    sess = [v.split(";", 1)[0] for v in cookies]
    if sess and status == 303:
        st, _, raw = c.send("GET", "/app/auth/whoami", [("Cookie", "; ".join(sess))] + list(headers),
                            source=source)
        ok(label + ": the session cookie authenticates whoami",
           None if st == 200 and json.loads(raw).get("user") == "alice" else "status %d %r" % (st, raw[:200]))
        st, _, raw = c.send("GET", "/app/page", [("Cookie", "; ".join(sess))] + list(headers), source=source)
        ident = json.loads(raw).get("identity", {}) if st == 200 else {}
        ok(label + ": the app sees the user and https=%s" % str(https).lower(),
           None if ident.get("user") == "alice" and ident.get("https") is https
           else "status %d %r" % (st, raw[:200]))


def check_https_header_ignored(label, c, headers=()):
    """Scheme headers a client sends never make a plain connection https."""
    status, _, raw = c.send("GET", "/pub/who", [("X-Forwarded-Proto", "https"),
                                               ("Forwarded", "proto=https")] + list(headers))
    got = json.loads(raw) if status == 200 else {}
    ok(label, None if got.get("identity", {}).get("https") is False else "status %d %r" % (status, raw[:200]))


def check_queue(label, c, headers_for):
    """MAX_PENDING slow logins under way: a login post is then answered 503
    overloaded with Retry-After before any hashing, a public request is
    served meanwhile, and once they are done a login is checked again.
    The probe is dave's login (1,000 iterations): when admitted it holds a
    slot for one slice only; it is sent until both slow checks are under way."""
    results = {}

    def slow(i):
        try:
            results[i] = login(c, "carol", "carol-pw", headers_for(i), A)
        except Exception as e:  # noqa: BLE001 (reported below)
            results[i] = (0, {}, repr(e).encode())
    c.audits()
    threads = [threading.Thread(target=slow, args=(i,)) for i in range(MAX_PENDING)]
    t0 = time.time()
    for t in threads:
        t.start()
    over = None
    probes = 0
    while all(t.is_alive() for t in threads) and time.time() - t0 < TIMEOUT:
        probes += 1
        r = login(c, "dave", "dave-pw", headers_for("probe"), A)
        if r[0] == 503:
            over = r
            break
        time.sleep(0.05)
    seen = time.time() - t0
    # another login over the cap (carol's own would be throttled first:
    # her two checks under way count as attempts)
    real = login(c, "dave", "dave-pw", headers_for(9), A) if over else None
    pub = c.send("GET", "/pub/while", headers_for(8))
    busy = all(t.is_alive() for t in threads)
    print("# %s: real login and public request answered after %.2fs" % (label, time.time() - t0), flush=True)
    for t in threads:
        t.join(TIMEOUT)
    after = login(c, "carol", "carol-pw", headers_for(7), A)
    lines = c.audits()
    print("# %s: 503 after %.2fs, %d probes" % (label, seen, probes), flush=True)
    probs = []
    if over is None:
        probs.append("no 503 while %d checks were under way (%d probes, %.2fs)" % (MAX_PENDING, probes, seen))
    elif over[1].get("retry-after") != ["1"]:
        probs.append("503 without Retry-After: %r" % over[1])
    if real is not None and real[0] != 503:
        probs.append("a real login over the cap: status %d" % real[0])
    if not busy:
        probs.append("the slow checks ended before the test was done overlapping them")
    if pub[0] != 200:
        probs.append("public request meanwhile: status %d" % pub[0])
    for i in range(MAX_PENDING):
        if results.get(i, (0,))[0] != 303:
            probs.append("slow login %d: %r" % (i, results.get(i)))
    if after[0] != 303:
        probs.append("login after the checks: status %d %r" % (after[0], after[2][:200]))
    reasons = [x.get("reason") for x in lines]
    if reasons.count("overloaded") != 2 or reasons.count("ok") < MAX_PENDING + 1:
        probs.append("audit reasons %r" % reasons)
    ok(label, "; ".join(probs) or None)


def check_abandoned(label, c, headers_for):
    """Slow logins whose clients go away stop their checks: once they are
    under way (a probe is refused 503), their connections close; the probe is
    admitted again and no decision for them is ever written (a check run to
    its end would log carol's login). Without acw_abandon the core would keep
    their slots until they lapse (60 s), past this test's wait."""
    c.audits()
    conns = []
    form = "username=carol&password=carol-pw"
    for i in range(MAX_PENDING):
        s = socket.create_connection(("127.0.0.1", c.port), TIMEOUT, source_address=(A, 0))
        hdrs = "".join("%s: %s\r\n" % h for h in headers_for(i))
        s.sendall(("POST /app/auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\n%s"
                   "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n\r\n%s"
                   % (hdrs, len(form), form)).encode())
        conns.append(s)
    t0 = time.time()
    full = False
    while time.time() - t0 < TIMEOUT:
        if login(c, "dave", "dave-pw", headers_for("probe"), A)[0] == 503:
            full = True
            break
        time.sleep(0.05)
    for s in conns:
        s.close()
    t1 = time.time()
    freed = None
    while time.time() - t1 < TIMEOUT:
        if login(c, "dave", "dave-pw", headers_for("probe"), A)[0] != 503:
            freed = time.time() - t1
            break
        time.sleep(0.05)
    time.sleep(0.5)
    lines = c.audits()
    carol = [x for x in lines if x.get("user") == "carol" or x.get("login_user") == "carol"]
    probs = []
    if not full:
        probs.append("the abandoned checks were never both under way")
    if freed is None:
        probs.append("their places were not given back")
    if carol:
        probs.append("abandoned checks ran to a decision: %r" % carol)
    if freed is not None:
        print("# %s: places back %.2fs after the clients went" % (label, freed), flush=True)
    ok(label, "; ".join(probs) or None)


# --- servers ---------------------------------------------------------------

class Server(hostkit.Server):
    """A server that prints "listening PORT" once it serves."""

    def port(self):
        return self.announced_port(START_TIMEOUT)


def stage(name, extra):
    folder = os.path.join(WORK, name)
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder)
    for f in FILES:
        shutil.copy(os.path.join(PKG if f != "request_app.mjs" else HERE, f), folder)
    for f in extra:
        shutil.copy(os.path.join(HERE, f), folder)
    with open(os.path.join(folder, "policy.json"), "w") as f:
        json.dump(policy(), f)
    return folder


def make_cert(folder):
    cert, key = os.path.join(folder, "cert.pem"), os.path.join(folder, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-keyout", key, "-out", cert],
                   check=True, capture_output=True, timeout=60)
    return cert, key


def socket_host(run, tls):
    """The Node and Deno checks: the socket peer is the client."""
    s = "https " if tls else ""
    srv, c = run(tls)
    try:
        check_client("%s %sclient address is the socket peer (%s)" % (HOST, s, A), c, A)
        check_client("%s %sclient address is the socket peer (%s)" % (HOST, s, B), c, B, source=B)
        check_client("%s %sX-Forwarded-For and CF-Connecting-IP from a client are not the address" % (HOST, s),
                     c, B, [("X-Forwarded-For", "198.51.100.1"), ("CF-Connecting-IP", "198.51.100.2")],
                     source=B)
        check_throttle("%s %sfailed logins throttle per peer address" % (HOST, s), c)
        check_rate_limit("%s %srate limit: %d per minute per peer address, then 429" % (HOST, s, LIMIT), c)
        check_stream_cap("%s %sconnection cap: an event stream counts until it ends, is cancelled or fails"
                         % (HOST, s), c)
        if HOST == "deno":
            check_socket_cap("deno %sconnection cap: a WebSocket the app upgrades counts until the app "
                             "releases it on close" % s, c)
        check_login_ok("%s %slogin" % (HOST, s), c, source=C, https=tls)
        if not tls:
            check_counted_first("%s a login is counted before its password check: a request "
                             "during the check sees it" % HOST, c)
            check_https_header_ignored("%s scheme headers from a client never make https" % HOST, c)
            check_queue("%s bounded password checks" % HOST, c, lambda i: [])
            check_abandoned("%s a password check ends when its client goes away" % HOST, c, lambda i: [])
            st, _, raw = c.send("POST", "/pub/echo?x=1", [("Content-Type", "text/plain")], "the body")
            got = json.loads(raw) if st == 200 else {}
            ok("%s a public POST reaches the app with its body and target" % HOST,
               None if got.get("body") == "the body" and got.get("path") == "/pub/echo?x=1"
               else "status %d %r" % (st, raw[:200]))
    finally:
        srv.stop()


def run_node():
    folder = stage("node", ["request_node.mjs"])

    def run(tls):
        extra = list(make_cert(folder)) if tls else []
        srv = Server(["node", os.path.join(folder, "request_node.mjs"), folder,
                      os.path.join(folder, "policy.json"), str(SLICE)] + extra,
                     os.path.join(folder, "server%s.log" % ("-tls" if tls else "")))
        return srv, Client(srv.port(), tls)
    socket_host(run, False)
    socket_host(run, True)


def run_deno():
    folder = stage("deno", ["request_deno.mjs"])
    env = dict(os.environ, DENO_DIR=os.path.join(WORK, "deno-dir"), DENO_NO_UPDATE_CHECK="1", NO_COLOR="1")

    def run(tls):
        extra = list(make_cert(folder)) if tls else []
        srv = Server([DENO, "run", "--no-config", "--no-lock", "--no-prompt", "--allow-read=" + folder,
                      "--allow-net=127.0.0.1", os.path.join(folder, "request_deno.mjs"),
                      os.path.join(folder, "policy.json"), str(SLICE)] + extra,
                     os.path.join(folder, "server%s.log" % ("-tls" if tls else "")), cwd=folder, env=env)
        return srv, Client(srv.port(), tls)
    socket_host(run, False)
    socket_host(run, True)


WORKERD_CONFIG = """using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [ (name = "workers", worker = .workersWorker), (name = "auto", worker = .autoWorker) ],
  sockets = [
    (name = "edge", address = "127.0.0.1:0", http = (cfBlobHeader = "x-test-cf-blob"), service = "auto"),
    (name = "direct", address = "127.0.0.1:0", http = (), service = "auto"),
    (name = "workers", address = "127.0.0.1:0", http = (cfBlobHeader = "x-test-cf-blob"), service = "workers"),
  ],
);

const modules :List(Workerd.Worker.Module) = [
  (name = "worker", esModule = embed "request_worker.mjs"),
  (name = "request_app.mjs", esModule = embed "request_app.mjs"),
  (name = "authcore.mjs", esModule = embed "authcore.mjs"),
  (name = "authcore_glue.mjs", esModule = embed "authcore_glue.mjs"),
  (name = "authcore.wasm", wasm = embed "authcore.wasm"),
];

const workersWorker :Workerd.Worker = (
  modules = .modules,
  bindings = [ (name = "POLICY", text = embed "policy.json"), (name = "RUNTIME", text = "workers") ],
  compatibilityDate = "2025-01-01",
);

const autoWorker :Workerd.Worker = (
  modules = .modules,
  bindings = [ (name = "POLICY", text = embed "policy.json"),
               (name = "SLICE", text = "%d") ],
  compatibilityDate = "2025-01-01",
);
"""


def run_workerd():
    """Sockets: "edge" stands in for Cloudflare's edge (its cf object comes in
    a header the config names, and the test sets CF-Connecting-IP as the edge
    does); "direct" is workerd serving clients itself (its cf.clientIp is the
    socket peer); "workers" has no cf object at all, for runtime: "workers"."""
    folder = stage("workerd", ["request_worker.mjs"])
    config = os.path.join(folder, "config.capnp")
    with open(config, "w") as f:
        f.write(WORKERD_CONFIG % SLICE)
    socks = {n: hostkit.listening_socket() for n in ("edge", "direct", "workers")}
    ports = {n: s.getsockname()[1] for n, s in socks.items()}
    try:
        srv = Server([WORKERD, "serve", config] +
                     sum((["--socket-fd", "%s=%d" % (n, s.fileno())] for n, s in socks.items()), []),
                     os.path.join(folder, "server.log"), pass_fds=[s.fileno() for s in socks.values()])
    finally:
        for s in socks.values():
            s.close()
    try:
        edge, direct, workers = Client(ports["edge"]), Client(ports["direct"]), Client(ports["workers"])
        deadline = time.time() + START_TIMEOUT
        while True:
            try:
                edge.audits()
                break
            except OSError:
                if time.time() > deadline or srv.proc.poll() is not None:
                    raise RuntimeError("workerd did not start: %s" % srv.log_text()[-800:])
                time.sleep(0.1)
        blob = ("x-test-cf-blob", json.dumps({"colo": "TST", "asn": 64496}))
        cf = lambda ip: [blob, ("CF-Connecting-IP", ip)]  # noqa: E731
        for ip in (CF_A, CF_B):
            check_client("workerd behind Cloudflare's edge: the client is CF-Connecting-IP (%s)" % ip,
                         edge, ip, cf(ip))
        check_throttle("workerd behind Cloudflare's edge: failed logins throttle per CF-Connecting-IP",
                       edge, cf(CF_A), cf(CF_B))
        check_login_ok("workerd behind Cloudflare's edge: login", edge, cf("192.0.2.55"))
        check_rate_limit("workerd behind Cloudflare's edge: rate limit: %d per minute per CF-Connecting-IP, "
                         "then 429" % LIMIT, edge, cf("192.0.2.60"), cf("192.0.2.61"), client="192.0.2.60")
        # the "workers" service is another Worker, so another isolate: its
        # buckets are its own (the limits are per isolate, as documented),
        # while the "auto" isolate still refuses that client
        got = limited(workers, [("CF-Connecting-IP", "192.0.2.60")])
        status = edge.send("GET", "/pub/limited", cf("192.0.2.60"))[0]
        probs = limit_problems(got)
        if status != 429:
            probs.append("the first isolate answered %d, want 429 still" % status)
        ok("workerd rate limits are per isolate: another Worker counts the same client from zero",
           "; ".join(probs) or None)
        check_stream_cap("workerd behind Cloudflare's edge: connection cap: an event stream counts until it "
                         "ends, is cancelled or fails", edge, cf("192.0.2.80"))
        check_counted_first("workerd a login is counted before its password check: a request during the check sees it",
                         edge, cf("192.0.2.70"))
        check_https_header_ignored("workerd scheme headers from a client never make https", edge, cf(CF_A))
        check_queue("workerd bounded password checks", edge,
                    lambda i: cf(CF_A if i == "probe" else "198.51.100.%d" % (i + 1)))
        # workerd serving its own socket: the peer, never a client's header
        check_client("workerd serving clients itself: the client is the socket peer (%s)" % A, direct, A)
        check_client("workerd serving clients itself: a client's CF-Connecting-IP is not the address",
                     direct, B, [("CF-Connecting-IP", CF_A)], source=B)
        check_throttle("workerd serving clients itself: failed logins throttle per peer", direct,
                       a=A, b=C)
        # runtime "workers": CF-Connecting-IP even without a cf object; none is a refusal
        check_client("workerd runtime workers: the client is CF-Connecting-IP without a cf object",
                     workers, CF_B, [("CF-Connecting-IP", CF_B)])
        status, _, raw = workers.send("GET", "/pub/who")
        ok("workerd runtime workers: a request without CF-Connecting-IP is refused",
           None if status == 500 and not workers.audits() else "status %d %r" % (status, raw[:200]))
    finally:
        srv.stop()


def main():
    global HOST
    HOST = sys.argv[1] if len(sys.argv) > 1 else ""
    runs = {"node": run_node, "deno": run_deno, "workerd": run_workerd}
    if HOST not in runs:
        sys.exit("usage: request_suite.py node|deno|workerd")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(124))
    missing = [f for f in FILES[:3] if not os.path.exists(os.path.join(PKG, f))]
    if missing:
        ok("edge package is built", "missing %s in build/edge (run make all)" % ", ".join(missing))
        return 1
    try:
        runs[HOST]()
    except Exception as e:  # noqa: BLE001 (a crash is a failure, reported)
        ok("%s request tests ran" % HOST, repr(e))
    return 1 if failed() else 0


if __name__ == "__main__":
    sys.exit(main())
