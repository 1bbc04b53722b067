#!/usr/bin/env python3
"""AuthcoreMiddleware with a shared store on Redis, with real parts: Debian's
redis-server on 127.0.0.1 (a free port, no persistence) and two uvicorn
processes (A and B) serving tests/hosts/python_redis_app.py with the same
policy, whose "store" is that Redis: a rate limit of LIMIT a minute keyed on
the client, a connection cap (one event stream per client), sessions with
revocation, a login with login.attempts 5/minute.

Checked: a session from a login at A passes at B; requests spread over both
are admitted exactly LIMIT times within the minute, then 429 with
Retry-After, and the buckets are in Redis; a stream open at A makes one at
B 429, and once A's client goes (its lease released through Redis) B serves
one, and so for a WebSocket; a logout at A makes the same cookie 401 session_revoked at B, another
session still passing; five failed logins for one user and address spread
over A and B hold the right password at 429 at both, another address still
signing in. Redis killed (SIGKILL): the limit still answers, counted in the
process's own table (audited "store_fallback":"local"), a session answers
503 store_unavailable, both processes live on and count the failures
(stats()), the outage logged once. Redis started again on the same port:
sessions pass again and the limit counts in Redis again. Redis hung
(SIGSTOP): a request is answered once timeout_ms has passed, counted
locally; a session answers 503; once it runs again sessions pass.

Prints "ok - ..." / "not ok - ...: why" (tests/run.sh counts them). Every
process is stopped by its own PID, every wait is bounded.
"""
import http.client
import json
import os
import shutil
import signal
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "lib"))
import authformats  # noqa: E402
import hostkit  # noqa: E402
import rediskit  # noqa: E402
sys.path.insert(0, os.path.join(ROOT, "tests", "hosts", "edge"))
import redis_edge  # noqa: E402  (the stream cap check, the same for every host)
from checks import failed, ok  # noqa: E402

WORK = os.path.join(ROOT, "build", "tests", "python-redis")
PY = os.path.join(ROOT, "build", "venv", "bin", "python")
PREFIX = "pytest:"
LIMIT = 10
TIMEOUT_MS = 300  # the policy's store.redis.timeout_ms
PASSWORD = "python-redis-pw"


def policy(redis_port):
    return {
        "sessions": {"keys": [{"kid": "s1", "secret": "python-redis-session-key-0123456789abcdef"}],
                     "ttl": 3600, "revocation": {"store": 4096}},
        "users": [{"name": "ada", "password_hash": authformats.phc_pbkdf2_sha256(PASSWORD, 1000),
                   "roles": ["admin"]}],
        "login": {"prefix": "/dash", "attempts": "5/minute", "client_attempts": "50/minute"},
        "public": ["/pub/*"],
        "rules": [{"path": "/dash/*", "role": "admin"}],
        "rate_limits": {"limits": [{"name": "pub", "path": "/pub/r*", "key": "client",
                                    "limit": "%d/minute" % LIMIT}],
                        "connections": [{"name": "streams", "path": "/pub/stream", "key": "client",
                                         "max": 1},
                                        {"name": "sockets", "path": "/pub/ws", "key": "client",
                                         "max": 1}]},
        "store": {"redis": {"host": "127.0.0.1", "port": redis_port, "prefix": PREFIX,
                            "timeout_ms": TIMEOUT_MS, "pool": 2},
                  "secret": "python-redis-fleet-secret-0123456789abcdef"},
        "default": "deny",
    }


class Redis(rediskit.Redis):
    def keys(self):
        return rediskit.Redis.command(self, "KEYS", PREFIX + "*") or []


def start(name, policy_path):
    port = hostkit.free_port()
    env = dict(os.environ, AUTHCORE_TEST_POLICY=policy_path, PYTHONDONTWRITEBYTECODE="1")
    env.pop("AUTHCORE_ADMIN_USER", None)
    env.pop("AUTHCORE_ADMIN_PASSWORD_HASH", None)
    srv = hostkit.Server([PY, "-m", "uvicorn", "--app-dir", HERE, "python_redis_app:app",
                          "--host", "127.0.0.1", "--port", str(port), "--no-proxy-headers",
                          "--no-access-log", "--ws", "websockets-sansio", "--log-level", "warning"],
                         os.path.join(WORK, name + ".log"), env=env)
    if not hostkit.wait_port(port, srv.proc, 20):
        raise RuntimeError("uvicorn %s did not start: %s" % (name, srv.log_text()[-800:]))
    return srv, port


def get(port, path, cookie=None, method="GET", body=None, source="127.0.0.1"):
    """(status, {lower name: value}, [set-cookie values], body bytes)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=20, source_address=(source, 0))
    try:
        h = {"Accept": "application/json"}
        if cookie:
            h["Cookie"] = cookie
        if body is not None:
            h["Content-Type"] = "application/x-www-form-urlencoded"
        conn.request(method, path, body=body, headers=h)
        r = conn.getresponse()
        raw = r.read()
        hs = {k.lower(): v for k, v in r.getheaders()}
        return r.status, hs, [v for k, v in r.getheaders() if k.lower() == "set-cookie"], raw
    finally:
        conn.close()


def login(port, password=PASSWORD, source="127.0.0.1"):
    """A login post asking for JSON: 200 and the session cookie, or 401."""
    st, hs, cookies, _ = get(port, "/dash/auth/login", method="POST", source=source,
                             body="username=ada&password=%s&next=/dash/home" % password)
    for c in cookies:
        if c.startswith("authcore_session="):
            return st, hs, c.split(";", 1)[0]
    return st, hs, None


def user_at(port, cookie):
    st, _, _, raw = get(port, "/dash/home", cookie)
    try:
        got = json.loads(raw)
    except ValueError:
        got = {}
    return st, (got.get("identity") or {}).get("user")


def spread(ports, n, path="/pub/r"):
    out = []
    for i in range(n):
        st, hs, _, _ = get(ports[i % len(ports)], path)
        out.append((st, hs.get("retry-after")))
    return out


def stats(port):
    st, _, _, raw = get(port, "/__test/stats")
    return json.loads(raw) if st == 200 else {}


def audits(port):
    st, _, _, raw = get(port, "/__test/audit")
    return json.loads(raw) if st == 200 else []


def last_reason(port, path):
    lines = [x for x in audits(port) if x.get("path") == path]
    return lines[-1].get("reason") if lines else None


def check_socket_cap(a, b):
    """One WebSocket per client for both processes: open at A, the next at
    B is refused 429; once A's is closed (its release through Redis) B
    takes one."""
    from websockets.exceptions import InvalidStatus
    from websockets.sync.client import connect

    def chat(port):
        try:
            ws = connect("ws://127.0.0.1:%d/pub/ws" % port, open_timeout=10, close_timeout=10)
        except InvalidStatus as e:
            return e.response.status_code
        ws.send("ping")
        if ws.recv(timeout=10) != "ping":
            ws.close()
            return "no echo"
        return ws

    probs = []
    first = chat(a)
    second = chat(b)
    if isinstance(first, (int, str)):
        probs.append("first WebSocket at A: %r, want an echo" % (first,))
    else:
        first.close()
    if second != 429:
        probs.append("at B while A's is open: %r, want 429" % (second,))
        if not isinstance(second, (int, str)):
            second.close()
    deadline = time.monotonic() + 5
    while True:
        third = chat(b)
        if third != 429 or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    if isinstance(third, (int, str)):
        probs.append("at B once A's is closed: %r, want an echo" % (third,))
    else:
        third.close()
    ok("a WebSocket cap counts once for both processes: one open at A makes B's 429, its close "
       "releases the count in Redis", "; ".join(probs) or None)


def main():
    shutil.rmtree(WORK, ignore_errors=True)
    os.makedirs(WORK)
    redis = Redis(WORK)
    policy_path = os.path.join(WORK, "policy.json")
    with open(policy_path, "w") as f:
        json.dump(policy(redis.port), f)
    servers = []
    try:
        redis.start()
        a_srv, a = start("a", policy_path)
        servers.append(a_srv)
        b_srv, b = start("b", policy_path)
        servers.append(b_srv)
        print("# redis on %d, uvicorn A on %d, B on %d" % (redis.port, a, b), flush=True)
        s = stats(a)
        ok("stats() says the store is Redis, no failures yet",
           None if s.get("stats") == {"store": "redis", "store_errors": 0} else "got %r" % s)

        # sessions: a login at one process passes at the other
        st, _, c1 = login(a)
        st2, _, c2 = login(b)
        ok("a login at each process gives a session",
           None if st == 200 and c1 and st2 == 200 and c2 else "status %s %s, cookies %r %r"
           % (st, st2, c1, c2))
        st, user = user_at(b, c1)
        ok("a session from A passes at B", None if st == 200 and user == "ada"
           else "status %d user %r" % (st, user))

        # one limit for both
        got = spread([a, b], LIMIT + 4)
        admitted = [x for x, _ in got if x == 200]
        first_no = [i for i, (x, _) in enumerate(got) if x != 200]
        ok("requests spread over A and B are admitted exactly %d times in the minute, then 429 "
           "with Retry-After" % LIMIT,
           None if len(admitted) == LIMIT and first_no and first_no[0] == LIMIT and
           all(x == 429 and ra for x, ra in got[LIMIT:]) else "got %r" % got)
        ok("the buckets are Redis's (%s* keys)" % PREFIX, None if redis.keys() else "no keys in Redis")
        redis_edge.check_stream_cap("two uvicorn processes", a, b)
        check_socket_cap(a, b)

        # a logout at A: the cookie is refused at B
        st = get(a, "/dash/auth/logout", c1, method="POST")[0]
        ok("logout at A", None if st == 200 else "status %d" % st)
        audits(b)
        st = get(b, "/dash/home", c1)[0]
        why = last_reason(b, "/dash/home")
        ok("the logged-out cookie is 401 session_revoked at B",
           None if st == 401 and why == "session_revoked" else "status %d reason %r" % (st, why))
        st, user = user_at(b, c2)
        ok("another session still passes at B", None if st == 200 and user == "ada"
           else "status %d user %r" % (st, user))

        # the login throttle: 5 failures for ada from 127.0.0.7 over A and B
        fails = [login((a, b)[i % 2], "wrong", "127.0.0.7")[0] for i in range(5)]
        held = [login(p, PASSWORD, "127.0.0.7")[:2] for p in (a, b)]
        other = login(b, PASSWORD, "127.0.0.8")
        ok("login.attempts 5/minute holds across both: five failures spread over A and B, then "
           "the right password is 429 with Retry-After at each; another address signs in",
           None if fails == [401] * 5 and all(x == 429 and hs.get("retry-after") for x, hs in held)
           and other[0] == 200 and other[2] else "failures %r, then %r, other %r"
           % (fails, [x for x, _ in held], other[0]))

        # Redis down
        audits(a)
        audits(b)
        redis.kill()
        got = spread([a], 3, "/pub/rdown")
        lines = [x for x in audits(a) if x.get("path", "").startswith("/pub/rdown")]
        ok("Redis down: the limit still answers, counted in the process's own table",
           None if [x for x, _ in got] == [200, 200, 200] else "got %r" % got)
        ok("Redis down: the audit line says \"store_fallback\":\"local\"",
           None if len(lines) == 3 and all(x.get("store_fallback") == "local" and
                                           x.get("store") == "store_unavailable" for x in lines)
           else "audit lines %r" % lines)
        st, hs, _, _ = get(b, "/dash/home", c2)
        why = last_reason(b, "/dash/home")
        ok("Redis down: a session answers 503 store_unavailable with Retry-After",
           None if st == 503 and why == "store_unavailable" and hs.get("retry-after")
           else "status %d reason %r" % (st, why))
        alive = [x.proc.poll() is None for x in servers]
        ok("Redis down: both processes live on", None if all(alive) else "alive %r" % alive)
        problems = []
        for name, port in (("A", a), ("B", b)):
            s = stats(port)
            downs = [w for w in s.get("warnings", []) if "failed" in w]
            if s.get("stats", {}).get("store") != "redis" or s.get("stats", {}).get("store_errors", 0) < 1:
                problems.append("%s stats %r" % (name, s.get("stats")))
            if len(downs) != 1:
                problems.append("%s logged %r" % (name, downs))
        ok("Redis down: failures counted (stats()), the outage logged once per process",
           "; ".join(problems) or None)

        # Redis back (empty: nothing saved)
        redis.start()
        deadline = time.monotonic() + 15
        st = 0
        while time.monotonic() < deadline:
            st, user = user_at(b, c2)
            if st == 200:
                break
            time.sleep(0.2)
        ok("Redis back: sessions pass again", None if st == 200 and user == "ada" else "status %d" % st)
        st, _ = user_at(a, c2)
        got = spread([a, b], LIMIT + 2, "/pub/rback")
        admitted = [x for x, _ in got if x == 200]
        keys = redis.keys()
        ok("Redis back: the limit counts in Redis again (%d admitted over both, keys there)" % LIMIT,
           None if len(admitted) == LIMIT and got[-1][0] == 429 and keys and st == 200
           else "got %r, keys %r, A %d" % (got, keys, st))
        problems = []
        for name, port in (("A", a), ("B", b)):
            ups = [w for w in stats(port).get("warnings", []) if "answers again" in w]
            if len(ups) != 1:
                problems.append("%s logged %r" % (name, ups))
        ok("Redis back: the recovery logged once per process", "; ".join(problems) or None)

        # Redis hung (SIGSTOP: connections stay, no reply comes): each
        # command gives up after the policy's timeout_ms
        audits(a)
        audits(b)
        redis.proc.send_signal(signal.SIGSTOP)
        try:
            t0 = time.monotonic()
            st = get(a, "/pub/rhung")[0]
            took = time.monotonic() - t0
            lines = audits(a)
            print("# Redis hung: answered in %.2fs" % took, flush=True)
            ok("Redis hung: the limit answers after the timeout (%d ms), counted locally" % TIMEOUT_MS,
               None if st == 200 and TIMEOUT_MS / 1000.0 <= took < 3 and lines and
               lines[-1].get("store_fallback") == "local"
               else "status %d after %.2fs, audit %r" % (st, took, lines[-1:]))
            st = get(b, "/dash/home", c2)[0]
            why = last_reason(b, "/dash/home")
            ok("Redis hung: a session answers 503 store_unavailable",
               None if st == 503 and why == "store_unavailable" else "status %d reason %r" % (st, why))
        finally:
            redis.proc.send_signal(signal.SIGCONT)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            st, _ = user_at(b, c2)
            if st == 200:
                break
            time.sleep(0.2)
        ok("Redis answering again: sessions pass", None if st == 200 else "status %d" % st)
        alive = [x.proc.poll() is None for x in servers]
        ok("no process exited", None if all(alive) else "alive %r" % alive)
    except (RuntimeError, OSError, ValueError) as e:
        ok("python-redis: runs", "%s: %s" % (type(e).__name__, e))
        for x in servers:
            print("# %s" % x.log_text()[-1500:].replace("\n", "\n# "))
    finally:
        for x in servers:
            x.stop()
        redis.kill()
    return 1 if failed() else 0


if __name__ == "__main__":
    sys.exit(main())
