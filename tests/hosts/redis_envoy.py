"""Envoy in a fleet on one Redis, through an HTTP gateway (Debian's
webdis; proxy-wasm has no Redis call): two Envoys with two workers each
(--concurrency 2), the filter sending each store step as a GET to the
cluster named as store.redis.gateway's authority, and the CLI as a third
member speaking to Redis itself. One policy with a shared store.
- A limit of N per minute admits N across both Envoys and the CLI.
- A session signed in through Envoy A and logged out through it is refused
  401 session_revoked by Envoy B and by the CLI.
- A connection cap of CAP streams across both Envoys (counters in Redis):
  CAP long-lived streams (an upstream the test holds open) spread over A
  and B, the next one 429 too_many_connections at either; once they end
  (the client going away, or the upstream finishing) their releases reach
  Redis from the filter's root context: the counter in Redis is back to
  0 and CAP new streams are admitted again.
- Redis killed: both Envoys still answer limited paths (counted in their
  own shared data, the audit lines saying store_fallback local) and refuse
  sessions 503; no Envoy process dies. Redis restarted (webdis left
  running): sessions pass again and counting in Redis resumes. A capped
  stream admitted while Redis was down and ended once it is back is
  released in the Envoy's own store, where it was counted.
- A policy whose store has no gateway is refused at configure (Envoy
  exits, the log says why).
- "# " lines: the added latency, p50/p99 of a limited request through
  Envoy with the gateway against the same policy without "store", a few
  hundred each, alternating.
Prints "ok - ..." / "not ok - ...: why". Loopback only; every service is
started here and stopped by its PID.

Usage: redis_envoy.py --wasm build/authcore-proxy.wasm --workdir DIR
                      [--envoy PATH]
"""
import argparse
import http.client
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "lib"))
from envoy_vectors import (CLIENT_IP_HEADER, START_TIMEOUT, audit_events, bootstrap,  # noqa: E402
                           listener, runner_args)
import hostkit  # noqa: E402
from checks import failed, ok  # noqa: E402
from rediskit import CliMember, Redis  # noqa: E402

CLI = os.path.join(ROOT, "build", "bin", "authcore")
N = 8
SECRET = "fleet-placement-secret-0123456789abcdef"
LATENCY_EACH = 300
CAP = 3  # streams under /held/ at once, across the fleet


def hash_password(password):
    p = subprocess.run([CLI, "hash-password", "--iterations", "1000"],
                       input=password.encode(), capture_output=True, timeout=30)
    if p.returncode != 0:
        raise RuntimeError("authcore hash-password: %s" % p.stderr.decode()[:200])
    return p.stdout.decode().strip()


def policy(redis_port, gateway, store=True):
    p = {
        "sessions": {"keys": [{"kid": "s1", "secret": "fleet-session-key-0123456789abcdef0123"}],
                     "ttl": 3600, "revocation": {}},
        "users": [{"name": "alice", "password_hash": hash_password("pw-alice"),
                   "roles": ["viewer"]}],
        "login": {"prefix": "/dash"},
        "public": ["/api/*", "/held/*"],
        "trusted_proxies": ["127.0.0.1"],
        "rate_limits": {"limits": [{"path": "/api/*", "key": "client",
                                    "limit": "%d/minute" % N}],
                        "connections": [{"name": "held", "path": "/held/*",
                                         "key": "global", "max": CAP}]},
    }
    if store:
        redis = {"port": redis_port, "timeout_ms": 300, "prefix": "e:"}
        if gateway:
            redis["gateway"] = gateway
        p["store"] = {"redis": redis, "secret": SECRET}
    return p


def static_cluster(name, port):
    return {
        "name": name, "type": "STATIC", "connect_timeout": "1s",
        "load_assignment": {"cluster_name": name, "endpoints": [{"lb_endpoints": [{
            "endpoint": {"address": {"socket_address": {
                "address": "127.0.0.1", "port_value": port}}}}]}]},
    }


def gateway_cluster(port):
    """The cluster the filter reaches the gateway through: named as the
    URL's authority, exactly as written."""
    return static_cluster("127.0.0.1:%d" % port, port)


class Held:
    """The upstream of /held/*: each answer's headers and a first chunk go
    at once, the end of its body only when finish(path) is called (or after
    a minute), so the stream stays alive until then or until its client
    goes away."""

    def __init__(self):
        self.lock = threading.Lock()
        self.gates = {}
        held = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def do_GET(self):
                gate = held.gate(self.path)
                self.send_response(200)
                self.send_header("content-type", "text/event-stream")
                self.send_header("transfer-encoding", "chunked")
                self.end_headers()
                try:
                    self.wfile.write(b"6\r\nopen\n\n\r\n")
                    gate.wait(60)
                    self.wfile.write(b"0\r\n\r\n")
                except OSError:
                    pass

            def log_message(self, *a):
                pass

        self.srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.srv.daemon_threads = True
        self.port = self.srv.server_address[1]
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()

    def gate(self, path):
        with self.lock:
            return self.gates.setdefault(path, threading.Event())

    def finish(self, path):
        self.gate(path).set()

    def stop(self):
        with self.lock:
            for g in self.gates.values():
                g.set()
        self.srv.shutdown()
        self.srv.server_close()


class Envoy:
    """One Envoy with two workers, the filter's policy, the echo upstream,
    the held upstream (/held/*) and the gateway's cluster."""

    def __init__(self, envoy_bin, wasm, work, tag, echo_port, pol, gw_port, held_port=None):
        self.port, self.admin = hostkit.free_port(), hostkit.free_port()
        # the client's address is the filter's peer (source.address),
        # from a test header through Envoy's original-IP detection
        lst = listener(self.port, wasm, json.dumps(pol), client_ip_header=True)
        # the latency path is answered by Envoy itself after the filter:
        # the upstream's own delays stay out of the measurement
        hcm = lst["filter_chains"][0]["filters"][0]["typed_config"]
        hcm["route_config"]["virtual_hosts"][0]["routes"].insert(0, {
            "match": {"path": "/api/lat"},
            "direct_response": {"status": 200, "body": {"inline_string": "ok\n"}}})
        if held_port:
            # streams that stay open: no route timeout
            hcm["route_config"]["virtual_hosts"][0]["routes"].insert(0, {
                "match": {"prefix": "/held/"},
                "route": {"cluster": "held", "timeout": "0s"}})
        boot = bootstrap(self.admin, echo_port, lst)
        boot["static_resources"]["clusters"].append(gateway_cluster(gw_port))
        if held_port:
            boot["static_resources"]["clusters"].append(static_cluster("held", held_port))
        self.config = os.path.join(work, "envoy-%s.json" % tag)
        with open(self.config, "w") as f:
            json.dump(boot, f, indent=1)
        self.srv = hostkit.Server([envoy_bin, "-c", self.config, "--concurrency", "2",
                                   "--use-dynamic-base-id", "--log-level", "info"],
                                  os.path.join(work, "envoy-%s.log" % tag))

    def wait(self):
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.srv.proc.poll() is not None:
                return "exited"
            try:
                c = http.client.HTTPConnection("127.0.0.1", self.admin, timeout=1)
                c.request("GET", "/ready")
                live = c.getresponse().status == 200
                c.close()
                if live and hostkit.wait_port(self.port, self.srv.proc, 1):
                    return "ready"
            except OSError:
                pass
            time.sleep(0.1)
        return "timeout"

    def alive(self):
        return self.srv.proc.poll() is None

    def stat(self, name):
        """A counter of the filter's from the admin port's /stats (-1: not
        there). Envoy lists a Wasm module's metrics under "wasmcustom."."""
        c = http.client.HTTPConnection("127.0.0.1", self.admin, timeout=2)
        c.request("GET", "/stats?filter=%s$" % name.replace(".", "\\."))
        text = c.getresponse().read().decode()
        c.close()
        for line in text.splitlines():
            k, _, v = line.partition(": ")
            if k in (name, "wasmcustom." + name):
                return int(v)
        return -1

    def request(self, method, path, client="10.0.0.1", cookie=None, body=None):
        h = [(CLIENT_IP_HEADER, client), ("Accept", "application/json")]
        if cookie:
            h.append(("Cookie", cookie))
        if body is not None:
            h.append(("Content-Type", "application/x-www-form-urlencoded"))
        st, hdrs, cookies, _ = hostkit.exchange(self.port, method, path, h, body)
        return st, hdrs, cookies

    def events(self):
        return audit_events(self.srv.log_text())

    def open_stream(self, path, client="10.0.0.1"):
        """A GET of path whose answer may stay open: (status, connection,
        response); a stream admitted (200) stays open until the caller
        ends it, any other answer is read whole and its connection closed
        (connection and response None)."""
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        c.request("GET", path, headers={CLIENT_IP_HEADER: client,
                                        "Accept": "application/json"})
        r = c.getresponse()
        if r.status == 200:
            r.read1(64)  # its first chunk: the upstream answered
            return r.status, c, r
        r.read()
        c.close()
        return r.status, None, None

    def stop(self):
        self.srv.stop()


def cookie_of(cookies):
    return "; ".join(c.split(";")[0] for c in cookies)


def counts_in(redis, keys):
    """The connection counters the store entries `keys` hold in Redis (the
    hash's v: 8 slots of a 32-bit count and a 32-bit tag, little-endian),
    summed; an entry no longer there counts 0."""
    total = 0
    for k in keys:
        h = redis.command("HGETALL", k) or []
        v = dict(zip(h[0::2], h[1::2])).get("v")
        if v:
            b = bytes.fromhex(v)
            total += sum(int.from_bytes(b[8 * i:8 * i + 4], "little") for i in range(8))
    return total


def wait_counts(redis, keys, want, timeout=5.0):
    deadline = time.monotonic() + timeout
    got = counts_in(redis, keys)
    while got != want and time.monotonic() < deadline:
        time.sleep(0.05)
        got = counts_in(redis, keys)
    return got


def caps_across(a, b, redis, held):
    """A cap of CAP streams under /held/ across both Envoys, its counter
    in Redis; the releases at the streams' ends go there from the filter's
    root context."""
    before = set(redis.command("KEYS", "e:*") or [])
    streams, got = [], []
    try:
        for i in range(CAP):  # A, B, A, ...
            st, c, r = (a if i % 2 == 0 else b).open_stream("/held/r1-%d" % i)
            got.append(st)
            if c is not None:
                streams.append((c, r))
        over_a = a.open_stream("/held/r1-a")[0]
        over_b = b.open_stream("/held/r1-b")[0]
        keys = sorted(set(redis.command("KEYS", "e:*") or []) - before)
        held_n = counts_in(redis, keys)
        refused = [e for e in a.events() + b.events()
                   if e.get("reason") == "too_many_connections"]
        ok("a cap of %d streams across two Envoys: %d held open through A and B, the next "
           "429 too_many_connections at A and at B, Redis counting %d" % (CAP, CAP, CAP),
           None if got == [200] * CAP and over_a == 429 and over_b == 429 and keys
           and held_n == CAP and len(refused) >= 2 else
           "held %s, then A %s, B %s; counters %s in %s; %d refusal lines" % (
               got, over_a, over_b, held_n, keys, len(refused)))

        # the clients go away: each stream is reset, its release goes on
        # from the root context after the stream is gone
        for c, r in streams:
            r.close()
            c.close()
        streams = []
        left = wait_counts(redis, keys, 0)
        again = []
        for i in range(CAP):  # B, A, B, ...
            st, c, r = (b if i % 2 == 0 else a).open_stream("/held/r2-%d" % i)
            again.append(st)
            if c is not None:
                streams.append(("/held/r2-%d" % i, c, r))
        over = a.open_stream("/held/r2-a")[0]
        ok("streams closed by their clients: the releases reach Redis (the counter back to "
           "0) and %d new streams are admitted across both Envoys, the next 429" % CAP,
           None if left == 0 and again == [200] * CAP and over == 429 else
           "counter after closing %s, then %s, the next %s" % (left, again, over))

        # the upstream finishes them: each stream ends normally
        ended = []
        for path, c, r in streams:
            held.finish(path)
            r.read()  # to the body's end: the upstream ended it
            ended.append(r.isclosed())
            c.close()
        streams = []
        left2 = wait_counts(redis, keys, 0)
        last = []
        for e, path in ((a, "/held/r3-a"), (b, "/held/r3-b")):
            st, c, r = e.open_stream(path)
            last.append(st)
            if c is not None:
                streams.append((path, c, r))
        ok("streams the upstream ends: released in Redis too (counter 0, new streams "
           "admitted at both Envoys)",
           None if all(ended) and left2 == 0 and last == [200, 200] else
           "ended %s, counter %s, then %s" % (ended, left2, last))
        for path, c, r in streams:
            r.close()
            c.close()
        streams = []
        left3 = wait_counts(redis, keys, 0)
        released = [ln for ln in (a.srv.log_text() + b.srv.log_text()).splitlines()
                    if "connection caps were not released" in ln]
        ok("every release reached Redis (counter 0 at the end, no release logged as failed)",
           None if keys and left3 == 0 and not released else
           "counter %s in %s; %s" % (left3, keys, released[:2]))
    finally:
        for st in streams:
            st[-2].close()


def percentile(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def latency(a, plain):
    """p50/p99 (ms) of a limited request through a (gateway) and plain (no
    store), alternating, each from a client of its own (allowed: one read
    and one write per request), on one keep-alive connection each."""
    times = {"gateway": [], "local": []}
    conns = {"gateway": http.client.HTTPConnection("127.0.0.1", a.port, timeout=10),
             "local": http.client.HTTPConnection("127.0.0.1", plain.port, timeout=10)}
    bad = []
    try:
        for i in range(LATENCY_EACH):
            for kind in ("gateway", "local") if i % 2 == 0 else ("local", "gateway"):
                c = conns[kind]
                t0 = time.perf_counter()
                c.request("GET", "/api/lat", headers={
                    CLIENT_IP_HEADER: "10.%d.%d.%d" % (100 + i // 65536, i // 256 % 256,
                                                        i % 256)})
                r = c.getresponse()
                r.read()
                times[kind].append((time.perf_counter() - t0) * 1000)
                if r.status != 200:
                    bad.append((kind, r.status))
    finally:
        for c in conns.values():
            c.close()
    return times, bad


def refused_without_gateway(envoy_bin, wasm, work, echo_port, redis_port):
    e = Envoy(envoy_bin, wasm, work, "nogw", echo_port, policy(redis_port, None), 1)
    try:
        state = e.wait()
        log = e.srv.log_text()
        ok("a policy whose store has no gateway is refused at configure: Envoy does not start "
           "and the log says why",
           None if state != "ready" and "authcore: bad policy: $.store.redis" in log
           and "gateway" in log else "envoy %s; log: %s" % (state, log[-400:]))
    finally:
        e.stop()


def run(envoy_bin, wasm, work):
    started = []
    redis = Redis(work).start()
    started.append(redis)
    gw_port = hostkit.free_port()
    conf = os.path.join(work, "webdis.json")
    with open(conf, "w") as f:
        json.dump({"redis_host": "127.0.0.1", "redis_port": redis.port,
                   "http_host": "127.0.0.1", "http_port": gw_port, "threads": 2,
                   "daemonize": False, "database": 0, "verbosity": 3,
                   "logfile": os.path.join(work, "webdis.log")}, f)
    webdis = hostkit.Server(["webdis", conf], os.path.join(work, "webdis.stdio"))
    started.append(webdis)
    echo, echo_port = hostkit.start_echo()
    held = Held()
    started.append(held)
    try:
        if not hostkit.wait_port(gw_port, webdis.proc):
            raise RuntimeError("webdis did not start: %s" % webdis.log_text()[-400:])
        gateway = "http://127.0.0.1:%d" % gw_port
        pol = policy(redis.port, gateway)
        a = Envoy(envoy_bin, wasm, work, "a", echo_port, pol, gw_port, held.port)
        started.append(a)
        b = Envoy(envoy_bin, wasm, work, "b", echo_port, pol, gw_port, held.port)
        started.append(b)
        plain = Envoy(envoy_bin, wasm, work, "plain", echo_port,
                      policy(redis.port, None, store=False), gw_port)
        started.append(plain)
        for e, tag in ((a, "a"), (b, "b"), (plain, "plain")):
            st = e.wait()
            if st != "ready":
                raise RuntimeError("envoy %s %s: %s" % (tag, st, e.srv.log_text()[-600:]))
        pf = os.path.join(work, "cli-policy.json")
        with open(pf, "w") as f:
            json.dump(pol, f)
        cli = CliMember(CLI, work, "cli", pf)

        def cli_get(path, client="10.0.0.1", cookie=None):
            h = {"accept": "application/json", "x-forwarded-for": client}
            if cookie:
                h["cookie"] = cookie
            return cli.decide({"method": "GET", "path": path, "client_ip": "127.0.0.1",
                               "headers": h})[0]

        # one limit across both Envoys and the CLI
        got = []
        for i in range(3 * N // 2):
            if i % 3 == 2:
                got.append(cli_get("/api/x", client="10.5.0.1")["status"])
            else:
                got.append((a if i % 3 == 0 else b).request("GET", "/api/x",
                                                            client="10.5.0.1")[0])
        ok("%d/minute across two Envoys (2 workers each, through the gateway) and the CLI "
           "admits %d of %d" % (N, N, len(got)),
           None if got.count(200) == N and got[N:] == [429] * (len(got) - N) else str(got))
        keys = redis.command("KEYS", "e:*")
        ok("the Envoys' entries are in Redis", None if keys else "no e:* keys")

        # signed in and out through A: refused at B and at the CLI
        st, _, cookies = a.request("POST", "/dash/auth/login",
                                   body="username=alice&password=pw-alice")
        c1 = cookie_of(cookies)
        before = b.request("GET", "/dash/jobs", cookie=c1)[0]
        cli_before = cli_get("/dash/jobs", cookie=c1)["status"]
        a.request("GET", "/dash/auth/logout", cookie=c1)
        after = b.request("GET", "/dash/jobs", cookie=c1)[0]
        cli_after = cli_get("/dash/jobs", cookie=c1)
        revoked_b = [e for e in b.events() if e.get("reason") == "session_revoked"]
        ok("signed in and out through Envoy A: the cookie is 401 session_revoked at Envoy B "
           "and at the CLI",
           None if st in (200, 303) and before == 200 and cli_before == 200 and after == 401
           and revoked_b and cli_after["reason"] == "session_revoked" else
           "login %s, B before %s, CLI before %s, B after %s (%d revoked lines), CLI after %s" % (
               st, before, cli_before, after, len(revoked_b), cli_after.get("reason")))

        caps_across(a, b, redis, held)

        # Redis killed: both Envoys go on, limits locally, sessions 503
        time.sleep(1.1)
        _, _, c5 = a.request("POST", "/dash/auth/login", body="username=alice&password=pw-alice")
        c5 = cookie_of(c5)
        redis.kill()
        t0 = time.monotonic()
        down_a = [a.request("GET", "/api/y", client="10.6.0.1")[0] for _ in range(N + 2)]
        down_b = [b.request("GET", "/api/y", client="10.6.0.2")[0] for _ in range(N + 2)]
        sess_a = a.request("GET", "/dash/jobs", cookie=c5)
        sess_b = b.request("GET", "/dash/jobs", cookie=c5)
        took = time.monotonic() - t0
        fell = [e for e in a.events() + b.events() if e.get("store_fallback") == "local"]
        ok("Redis down: both Envoys still limit /api (in their own shared data; the audit "
           "lines say store_fallback local)",
           None if down_a.count(200) == N and down_b.count(200) == N
           and down_a[N:] == [429, 429] and down_b[N:] == [429, 429] and len(fell) >= 2 * N
           else "A %s, B %s, fallback lines %d" % (down_a, down_b, len(fell)))
        ok("Redis down: a session is refused 503 with Retry-After at both Envoys",
           None if sess_a[0] == 503 and sess_b[0] == 503 and sess_b[1].get("retry-after") == "1"
           else "A %s, B %s %s" % (sess_a[0], sess_b[0], sess_b[1]))
        ok("Redis down: no Envoy process died",
           None if a.alive() and b.alive() else "A alive %s, B alive %s" % (a.alive(), b.alive()))
        print("# %d requests with Redis down took %.0f ms" % (2 * (N + 3), took * 1000))

        # a capped stream with Redis down: counted in the worker's own
        # store; it stays open until Redis is back (below)
        st_h, c_h, r_h = a.open_stream("/held/down")
        ok("Redis down: a capped stream is admitted (counted in the worker's own store)",
           None if st_h == 200 else "status %s" % st_h)

        redis.start()
        up, lim = None, None
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # webdis reconnects by itself
            up = (a.request("GET", "/dash/jobs", cookie=c5)[0],
                  b.request("GET", "/dash/jobs", cookie=c5)[0])
            if up == (200, 200):
                break
            time.sleep(0.2)
        lim = [a.request("GET", "/api/z", client="10.7.0.1")[0] for _ in range(N // 2)] + \
              [b.request("GET", "/api/z", client="10.7.0.1")[0] for _ in range(N // 2 + 1)]
        keys = redis.command("KEYS", "e:*")
        ok("Redis restarted: sessions pass at both Envoys again and counting in Redis resumes "
           "(one limit across both)",
           None if up == (200, 200) and lim == [200] * N + [429] and keys else
           "sessions %s, limit %s, keys %s" % (up, lim, keys))
        # the stream counted locally ends with Redis back: its lease says
        # where it was counted, so the worker's own count goes down (not
        # Redis's). Redis down once more: A's own store admits CAP streams
        # again, the next 429
        if c_h is not None:
            r_h.close()
            c_h.close()
        time.sleep(0.3)
        said = [ln for ln in a.srv.log_text().splitlines() if "were not released" in ln]
        redis.kill()
        again = [a.open_stream("/held/down-%d" % i) for i in range(CAP + 1)]
        ok("a stream counted locally while Redis was down is released in the worker's own store "
           "once Redis is back: with Redis down again, A admits %d streams and refuses the next"
           % CAP, None if [x[0] for x in again] == [200] * CAP + [429] and not said else
           "statuses %s, not-released lines %s" % ([x[0] for x in again], said[-1:]))
        for _, c, r in again:
            if c is not None:
                r.close()
                c.close()
        redis.start()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if a.request("GET", "/dash/jobs", cookie=c5)[0] == 200:
                break
            time.sleep(0.2)
        ok("no Envoy process died", None if a.alive() and b.alive() and plain.alive() else
           "A %s, B %s, plain %s" % (a.alive(), b.alive(), plain.alive()))

        times, bad = latency(a, plain)
        g, loc = times["gateway"], times["local"]
        ok("%d limited requests each through the gateway and without a store all pass"
           % LATENCY_EACH, None if not bad else str(bad[:5]))
        print("# latency of a limited request (ms), %d each, alternating: through the gateway "
              "p50 %.2f p99 %.2f; same policy without store p50 %.2f p99 %.2f; added p50 %.2f "
              "p99 %.2f" % (LATENCY_EACH, percentile(g, 0.5), percentile(g, 0.99),
                            percentile(loc, 0.5), percentile(loc, 0.99),
                            percentile(g, 0.5) - percentile(loc, 0.5),
                            percentile(g, 0.99) - percentile(loc, 0.99)))
    finally:
        for s in reversed(started):
            s.stop()
        hostkit.stop(echo)
    refused_without_gateway(envoy_bin, wasm, work, echo_port, redis.port)


def main():
    ap = argparse.ArgumentParser()
    args, envoy_bin = runner_args(ap)
    if not envoy_bin:
        return 1
    for tool, path in (("webdis", shutil.which("webdis")), ("redis-server",
                                                           shutil.which("redis-server")),
                       ("cli", CLI if os.access(CLI, os.X_OK) else None)):
        if not path:
            print("not ok - %s: not installed (tools/deps.sh)" % tool, flush=True)
            return 1
    wasm = os.path.abspath(args.wasm)
    try:
        run(envoy_bin, wasm, os.path.abspath(args.workdir))
    except (RuntimeError, OSError, http.client.HTTPException) as e:
        print("not ok - Envoy fleet on Redis through webdis: %s" % str(e)[:600], flush=True)
        return 1
    return 1 if failed() else 0


if __name__ == "__main__":
    sys.exit(main())
