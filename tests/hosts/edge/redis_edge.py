#!/usr/bin/env python3
"""The edge module with a shared store on Redis, with real parts: Debian's
redis-server on 127.0.0.1 (a free port, no persistence) and two edge
servers (nodeHandler in Node; then a Node and a Deno one) loading the same
policy, whose "store" is that Redis: a rate limit of LIMIT a minute keyed on
the client, a connection cap (one event stream per client), sessions with
revocation, a login.

  redis_edge.py node   two Node servers (A makes its own client, B is
                       given one the app made: options.redis)
  redis_edge.py deno   a Node server and a Deno one (npm's redis through
                       Deno's Node compatibility)
  redis_edge.py workerd  a Node server and a workerd one (no client library:
                       the module speaks RESP over workerd's TCP sockets,
                       cloudflare:sockets, with the core's own bytes)

Checked: a session from a login at one server passes at the other; requests
spread over both are admitted exactly LIMIT times within the minute, then
429 with Retry-After, and the buckets are in Redis; a stream open at A
makes one at B 429, and once A's client goes (its lease released through
Redis) B serves one; a logout at A makes the
same cookie 401 session_revoked at B, another session still passing. Redis
killed (SIGKILL): the limit still answers, counted in the server's own
table (its audit line says "store_fallback":"local"), a session answers 503
store_unavailable, both servers live on, count the failures (stats()) and
log the outage once. Redis started again on the same port: sessions pass
again and the limit counts in Redis again (LIMIT admitted, keys there), and
the recovery is logged once.

Prints "ok - ..." / "not ok - ...: why" (tests/run.sh counts them). Every
process is stopped by its own PID, every wait is bounded.
"""
import concurrent.futures
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
sys.path.insert(0, os.path.join(ROOT, "tests", "lib"))
import hostkit  # noqa: E402
import rediskit  # noqa: E402
from checks import failed, ok  # noqa: E402

PKG = os.path.join(ROOT, "build", "edge")
CLI = os.path.join(ROOT, "build", "bin", "authcore")
WORK = os.path.join(ROOT, "build", "tests", "edge-redis")
DENO = os.path.join(ROOT, "node_modules", "@deno", "linux-x64-glibc", "deno")
WORKERD = os.path.join(ROOT, "node_modules", ".bin", "workerd")
FILES = ["authcore.mjs", "authcore_glue.mjs", "authcore.wasm"]
PREFIX = "actest:"
LIMIT = 10
TIMEOUT_MS = 300  # the policy's store.redis.timeout_ms
PASSWORD = "edge-redis-pw"
JSON_ACCEPT = [("Accept", "application/json")]


def policy(redis_port, hash_, password=None, pool=None):
    return {
        "sessions": {"keys": [{"kid": "s1", "secret": "edge-redis-session-key-0123456789abcdef"}],
                     "ttl": 3600, "revocation": {"store": 4096}},
        "users": [{"name": "ada", "password_hash": hash_, "roles": ["admin"]}],
        "login": {"prefix": "/dash"},
        "public": ["/pub/*"],
        "rules": [{"path": "/dash/*", "role": "admin"}],
        "rate_limits": {"limits": [{"name": "pub", "path": "/pub/r*", "key": "client",
                                    "limit": "%d/minute" % LIMIT},
                                   {"name": "burst", "path": "/pub/b*", "key": "client",
                                    "limit": "%d/minute" % LIMIT}],
                        # event streams open at once per client, fleet-wide
                        "connections": [{"name": "streams", "path": "/pub/stream", "key": "client",
                                         "max": 1}]},
        "store": {"redis": dict({"host": "127.0.0.1", "port": redis_port, "prefix": PREFIX,
                                 "timeout_ms": TIMEOUT_MS},
                                **({"password": password} if password else {}),
                                **({"pool": pool} if pool else {})),
                  "secret": "edge-redis-fleet-secret-0123456789abcdef"},
        "default": "deny",
    }


class Redis(rediskit.Redis):
    """With a password: every connection AUTHs first (CONFIG SET at each
    start, since a restart starts from nothing)."""
    password = None

    def start(self):
        rediskit.Redis.start(self)
        if self.password:
            rediskit.Redis.command(self, "CONFIG", "SET", "requirepass", self.password)
        return self

    def command(self, *args):
        if not self.password:
            return rediskit.Redis.command(self, *args)
        out = b""
        for cmd in (("AUTH", self.password), args):
            out += b"*%d\r\n" % len(cmd)
            for a in cmd:
                a = str(a).encode()
                out += b"$%d\r\n%s\r\n" % (len(a), a)
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as s:
            s.sendall(out)
            f = s.makefile("rb")
            auth = rediskit._read(f)
            if auth != "+OK":
                raise RuntimeError("AUTH refused: %r" % auth)
            return rediskit._read(f)

    def keys(self):
        return self.command("KEYS", PREFIX + "*") or []

    def entries(self):
        """Every entry of the prefix: key -> its hash's fields (version, value)."""
        return {k: sorted(self.command("HGETALL", k) or []) for k in self.keys()}


class Server(hostkit.Server):
    def port(self):
        return self.announced_port(30)


def stage(name, extra):
    folder = os.path.join(WORK, name)
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder)
    for f in FILES:
        shutil.copy(os.path.join(PKG, f), folder)
    for f in ["request_app.mjs"] + extra:
        shutil.copy(os.path.join(HERE, f), folder)
    return folder


def start_node(name, policy_path, mode=None):
    folder = stage(name, ["redis_node.mjs"])
    srv = Server(["node", os.path.join(folder, "redis_node.mjs"), folder, policy_path] +
                 ([mode] if mode else []), os.path.join(folder, "server.log"))
    return srv, srv.port()


def start_deno(name, policy_path):
    folder = stage(name, ["redis_deno.mjs"])
    env = dict(os.environ, DENO_DIR=os.path.join(WORK, "deno-dir"), DENO_NO_UPDATE_CHECK="1",
               NO_COLOR="1")
    # run from the checkout: its package.json and node_modules give npm's redis
    srv = Server([DENO, "run", "--no-lock", "--no-prompt", "--allow-read", "--allow-env",
                  "--allow-sys", "--allow-net=127.0.0.1", os.path.join(folder, "redis_deno.mjs"),
                  folder, policy_path], os.path.join(folder, "server.log"), cwd=ROOT, env=env)
    return srv, srv.port()


WORKERD_CONFIG = """using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [ (name = "main", worker = .worker),
               # connect() goes out through the Worker's globalOutbound:
               # loopback only, where the test's Redis listens
               (name = "loopback", network = (allow = ["local"])) ],
  sockets = [ (name = "http", address = "127.0.0.1:0", http = (), service = "main") ],
);

const worker :Workerd.Worker = (
  modules = [
    (name = "worker", esModule = embed "redis_worker.mjs"),
    (name = "request_app.mjs", esModule = embed "request_app.mjs"),
    (name = "authcore.mjs", esModule = embed "authcore.mjs"),
    (name = "authcore_glue.mjs", esModule = embed "authcore_glue.mjs"),
    (name = "authcore.wasm", wasm = embed "authcore.wasm"),
  ],
  bindings = [ (name = "POLICY", text = embed "policy.json") ],
  globalOutbound = "loopback",
  compatibilityDate = "2025-01-01",
);
"""


def start_workerd(name, policy_path):
    """workerd serving its own socket (the client is the socket peer, as
    Node's); Redis through its TCP sockets."""
    folder = stage(name, ["redis_worker.mjs"])
    shutil.copy(policy_path, os.path.join(folder, "policy.json"))
    config = os.path.join(folder, "config.capnp")
    with open(config, "w") as f:
        f.write(WORKERD_CONFIG)
    sock = hostkit.listening_socket()
    port = sock.getsockname()[1]
    try:
        srv = Server([WORKERD, "serve", config, "--socket-fd", "http=%d" % sock.fileno()],
                     os.path.join(folder, "server.log"), pass_fds=[sock.fileno()])
    finally:
        sock.close()
    if not hostkit.wait_port(port, srv.proc, 20):
        srv.stop()
        raise RuntimeError("workerd did not start: %s" % srv.log_text()[-800:])
    return srv, port


def get(port, path, cookie=None, method="GET", body=None, headers=()):
    h = list(JSON_ACCEPT) + list(headers)
    if cookie:
        h.append(("Cookie", cookie))
    status, hdrs, cookies, raw = hostkit.exchange(port, method, path, h, body)
    return status, hdrs, cookies, raw


def last_reason(port, path):
    """The reason of the last audit line the server wrote for path."""
    lines = [x for x in audits(port) if x.get("path") == path]
    return lines[-1].get("reason") if lines else None


def login(port):
    body = "username=ada&password=%s&next=/dash/home" % PASSWORD
    st, _, cookies, raw = hostkit.exchange(
        port, "POST", "/dash/auth/login",
        [("Content-Type", "application/x-www-form-urlencoded")], body, timeout=20)
    for c in cookies:
        if c.startswith("authcore_session="):
            return st, c.split(";", 1)[0]
    return st, None


def user_at(port, cookie):
    st, hdrs, _, raw = get(port, "/dash/home", cookie)
    try:
        got = json.loads(raw)
    except ValueError:
        got = {}
    return st, (got.get("identity") or {}).get("user"), got


def spread(ports, n, path="/pub/r"):
    """n requests, alternating over the servers; their (status, Retry-After)."""
    out = []
    for i in range(n):
        st, hdrs, _, _ = get(ports[i % len(ports)], path)
        out.append((st, hdrs.get("retry-after")))
    return out


def burst(ports, n, path="/pub/b"):
    """n requests at once, 8 in flight, alternating over the servers: their
    statuses."""
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        return list(pool.map(lambda i: get(ports[i % len(ports)], path)[0], range(n)))


def open_stream(port):
    """GET /pub/stream on a socket of its own, read up to its first event:
    (socket, status), the socket still open (the stream alive)."""
    s = socket.create_connection(("127.0.0.1", port), 10)
    s.sendall(b"GET /pub/stream HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    got = b""
    while b"data: open" not in got and not (b"\r\n\r\n" in got and not got.startswith(b"HTTP/1.1 200")):
        chunk = s.recv(4096)
        if not chunk:
            break
        got += chunk
    return s, int(got.split(b" ", 2)[1]) if got.startswith(b"HTTP/1.1 ") else 0


def check_stream_cap(label, a, b):
    """One stream per client for the fleet: open at A, the next at B is 429;
    once A's client goes, A releases its count in Redis and B serves one."""
    probs = []
    s, status = open_stream(a)
    try:
        if status != 200:
            probs.append("first stream at A: status %d" % status)
        st, _, _, _ = get(b, "/pub/stream?end=1")
        if st != 429:
            probs.append("at B while A's is open: %d, want 429" % st)
    finally:
        s.close()
    deadline = time.monotonic() + 5
    while True:
        st, _, _, raw = get(b, "/pub/stream?end=1")
        if st != 429 or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    if st != 200 or raw != b"data: open\n\n":
        probs.append("at B after A's client went: %d %r, want 200 and the whole stream" % (st, raw[:80]))
    # a release is a round trip to Redis after the stream's last byte: a
    # request right after it may still see the count (for a moment)
    deadline = time.monotonic() + 2
    while True:
        st, _, _, _ = get(a, "/pub/stream?end=1")
        if st != 429 or time.monotonic() > deadline:
            break
        time.sleep(0.02)
    if st != 200:
        probs.append("at A after B's stream ended: %d, want 200" % st)
    ok("%s: a connection cap counts once for the fleet: a stream at A makes B's 429, its end "
       "releases the count in Redis" % label, "; ".join(probs) or None)


def stats(port):
    st, _, _, raw = get(port, "/__test/stats")
    return json.loads(raw) if st == 200 else {}


def audits(port):
    st, _, _, raw = get(port, "/__test/audit")
    return json.loads(raw) if st == 200 else []


def run(kind):
    os.makedirs(WORK, exist_ok=True)
    folder = os.path.join(WORK, kind)
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder)
    hash_ = subprocess.run([CLI, "hash-password", "--iterations", "1000"], input=PASSWORD,
                           capture_output=True, text=True, check=True, timeout=30).stdout.strip()
    redis = Redis(folder)
    if kind == "workerd":
        # a Redis that wants AUTH: workerd sends it on each connection it opens
        redis.password = "edge-redis-auth-0123456789"
    policy_path = os.path.join(folder, "policy.json")
    with open(policy_path, "w") as f:
        # workerd: 2 connections at once, so a burst waits for them
        json.dump(policy(redis.port, hash_, redis.password, 2 if kind == "workerd" else None), f)
    label = "edge-redis %s" % {"node": "node+node(app client)", "deno": "node+deno",
                               "workerd": "node+workerd(AUTH)"}[kind]
    servers = []
    try:
        redis.start()
        a_srv, a = start_node(kind + "-a", policy_path)
        servers.append(a_srv)
        if kind == "deno":
            b_srv, b = start_deno(kind + "-b", policy_path)
        elif kind == "workerd":
            b_srv, b = start_workerd(kind + "-b", policy_path)
        else:
            # B with a client the app made (options.redis)
            b_srv, b = start_node(kind + "-b", policy_path, "app-client")
        servers.append(b_srv)

        # sessions: a login at one server passes at the other
        st, c1 = login(a)
        st2, c2 = login(b)
        ok("%s: a login at each server gives a session" % label,
           None if st == 303 and c1 and st2 == 303 and c2 else "status %s %s, cookies %r %r" % (st, st2, c1, c2))
        st, user, _ = user_at(b, c1)
        ok("%s: a session from A passes at B" % label,
           None if st == 200 and user == "ada" else "status %d user %r" % (st, user))

        # the limit counts once for the fleet
        got = spread([a, b], LIMIT + 4)
        admitted = [s for s, _ in got if s == 200]
        first_no = [i for i, (s, _) in enumerate(got) if s != 200]
        ok("%s: requests spread over A and B are admitted exactly %d times in the minute, then 429 "
           "with Retry-After" % (label, LIMIT),
           None if len(admitted) == LIMIT and first_no and first_no[0] == LIMIT and
           all(s == 429 and ra for s, ra in got[LIMIT:]) else "got %r" % got)
        # at once: compare-and-set races between the servers; a request
        # that loses every retry is 503 store_conflict (documented), never
        # admitted past the limit
        audits(a)
        audits(b)
        got = burst([a, b], 3 * LIMIT)
        why = set(x.get("reason") for x in audits(a) + audits(b) if x.get("path") == "/pub/b" and
                  x.get("status") == 503)
        print("# %s: at once: %d admitted, %d 429, %d 503 %r" % (label, got.count(200), got.count(429),
                                                             got.count(503), sorted(why)), flush=True)
        ok("%s: requests at once over A and B (8 in flight) are admitted exactly %d times, the rest 429 "
           "(or 503 store_conflict: every retry of a write lost)" % (label, LIMIT),
           None if got.count(200) == LIMIT and got.count(429) + got.count(503) == 2 * LIMIT and
           got.count(429) > 0 and why <= {"store_conflict"} else "got %r, 503 reasons %r" % (got, why))
        keys = redis.keys()
        ok("%s: the buckets are Redis's (%s* keys)" % (label, PREFIX),
           None if keys else "no keys in Redis")
        check_stream_cap(label, a, b)

        # a logout at A revokes the session for B
        st, hdrs, _, raw = get(a, "/dash/auth/logout", c1, method="POST")
        ok("%s: logout at A" % label, None if st == 200 else "status %d %r" % (st, raw[:200]))
        audits(b)  # clear
        st, hdrs, _, raw = get(b, "/dash/home", c1)
        why = last_reason(b, "/dash/home")
        ok("%s: the logged-out cookie is 401 session_revoked at B" % label,
           None if st == 401 and why == "session_revoked" else "status %d reason %r" % (st, why))
        st, user, _ = user_at(b, c2)
        ok("%s: another session still passes at B" % label,
           None if st == 200 and user == "ada" else "status %d user %r" % (st, user))
        audits(a)  # clear

        # Redis down
        redis.kill()
        got = spread([a], 3, "/pub/rdown")
        lines = [x for x in audits(a) if x.get("path", "").startswith("/pub/rdown")]
        ok("%s: Redis down: the limit still answers, counted in the server's own table" % label,
           None if [s for s, _ in got] == [200, 200, 200] else "got %r" % got)
        ok("%s: Redis down: the audit line says \"store_fallback\":\"local\"" % label,
           None if lines and all(x.get("store_fallback") == "local" for x in lines)
           else "audit lines %r" % lines)
        audits(b)  # clear
        st, hdrs, _, raw = get(b, "/dash/home", c2)
        why = last_reason(b, "/dash/home")
        ok("%s: Redis down: a session answers 503 store_unavailable" % label,
           None if st == 503 and why == "store_unavailable" else "status %d reason %r" % (st, why))
        get(a, "/dash/home", c2)
        sa, sb = stats(a), stats(b)
        alive = [s.proc.poll() is None for s in servers]
        ok("%s: Redis down: both servers live on" % label, None if all(alive) else "alive %r" % alive)
        problems = []
        for name, s in (("A", sa), ("B", sb)):
            st_ = s.get("stats", {})
            downs = [w for w in s.get("warnings", []) if "failed" in w]
            if st_.get("store") != "redis" or st_.get("store_errors", 0) < 1 or not st_.get("store_down"):
                problems.append("%s stats %r" % (name, st_))
            if len(downs) != 1:
                problems.append("%s logged %r" % (name, downs))
        ok("%s: Redis down: failures counted (stats()), the outage logged once per server" % label,
           "; ".join(problems) or None)

        # Redis back (empty: nothing saved)
        redis.start()
        # each server finds Redis again on its own (node-redis reconnects
        # in the background, workerd connects per decision)
        deadline = time.monotonic() + 15
        st = 0
        while time.monotonic() < deadline:
            st, user, _ = user_at(b, c2)
            if st == 200:
                break
            time.sleep(0.2)
        ok("%s: Redis back: sessions pass again" % label,
           None if st == 200 and user == "ada" else "status %d" % st)
        while time.monotonic() < deadline:
            st, _, _ = user_at(a, c2)
            if st == 200:
                break
            time.sleep(0.2)
        got = spread([a, b], LIMIT + 2, "/pub/rback")
        admitted = [s for s, _ in got if s == 200]
        keys = redis.keys()
        ok("%s: Redis back: the limit counts in Redis again (%d admitted over both, keys there)"
           % (label, LIMIT),
           None if len(admitted) == LIMIT and got[-1][0] == 429 and keys and st == 200
           else "got %r, keys %r, A %d" % (got, keys, st))
        problems = []
        for name, port in (("A", a), ("B", b)):
            s = stats(port)
            ups = [w for w in s.get("warnings", []) if "answers again" in w]
            if s.get("stats", {}).get("store_down") or len(ups) != 1:
                problems.append("%s %r" % (name, s))
        ok("%s: Redis back: the recovery logged once per server" % label, "; ".join(problems) or None)

        # Redis hung (SIGSTOP: the connection stays, no reply comes): each
        # command gives up after the policy's timeout_ms
        audits(a)
        audits(b)
        before = redis.entries()
        redis.proc.send_signal(signal.SIGSTOP)
        try:
            t0 = time.monotonic()
            st, _, _, _ = get(a, "/pub/rhung")
            took = time.monotonic() - t0
            lines = audits(a)
            print("# %s: Redis hung: answered in %.2fs" % (label, took), flush=True)
            ok("%s: Redis hung: the limit answers after the timeout (%d ms), counted locally"
               % (label, TIMEOUT_MS),
               None if st == 200 and took < 3 and lines and lines[-1].get("store_fallback") == "local"
               else "status %d after %.2fs, audit %r" % (st, took, lines[-1:]))
            st, _, _, _ = get(b, "/dash/home", c2)
            why = last_reason(b, "/dash/home")
            ok("%s: Redis hung: a session answers 503 store_unavailable" % label,
               None if st == 503 and why == "store_unavailable" else "status %d reason %r" % (st, why))
        finally:
            redis.proc.send_signal(signal.SIGCONT)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            st, _, _ = user_at(b, c2)
            if st == 200:
                break
            time.sleep(0.2)
        ok("%s: Redis answering again: sessions pass" % label, None if st == 200 else "status %d" % st)
        # what was sent or queued while it hung and timed out must not be
        # applied when it wakes: the request was counted locally already
        time.sleep(0.3)
        after = redis.entries()
        ok("%s: Redis answering again: nothing a timed-out request sent was applied late (no double count)"
           % label, None if after == before else "entries before %r, after %r" % (before, after))
        alive = [s.proc.poll() is None for s in servers]
        ok("%s: no server exited" % label, None if all(alive) else "alive %r" % alive)
    except (RuntimeError, OSError, ValueError, subprocess.SubprocessError) as e:
        ok("%s: runs" % label, "%s: %s" % (type(e).__name__, e))
        for s in servers:
            print("# %s" % s.log_text()[-1500:].replace("\n", "\n# "))
    finally:
        for s in servers:
            s.stop()
        redis.kill()


if __name__ == "__main__":
    for k in sys.argv[1:] or ["node"]:
        run(k)
    sys.exit(1 if failed() else 0)
