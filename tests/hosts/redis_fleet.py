"""The whole fleet on one Redis (Debian's redis-server, loopback): two
Envoys (two workers each, reaching Redis through Debian's webdis, as
proxy-wasm has no Redis call), nginx with two workers, a Node edge server
(npm's redis client) and the CLI as members, one policy with a shared
store.
- A limit of N per minute admits N across all of them.
- A login throttle (login.attempts, 5/minute) holds across them: a
  failure through each member counts once for the fleet.
- A session logged out through any member is refused by every other, each
  member taking its turn as the one logged out through; an admin's revoke
  through nginx holds at the CLI.
- Redis killed mid-run: every member still answers limited paths (counted
  in its own store, the audit lines saying so) and refuses sessions 503
  store_unavailable, nginx's $authcore_store_errors and each Envoy's
  authcore.store_errors counter counting them; no worker or process dies. Redis restarted: sessions
  pass and counting in Redis resumes, with nothing done to any of them.
Prints "ok - ..." / "not ok - ...: why".

Usage: redis_fleet.py --wasm build/authcore-proxy.wasm --workdir DIR
"""
import argparse
import json
import os
import socket
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
import nginx_vectors as nv  # noqa: E402
from nginx_vectors import Fail, Nginx, Stopped, send_full  # noqa: E402
from rediskit import CliMember, Redis  # noqa: E402
from checks import failed, report  # noqa: E402
import redis_envoy  # noqa: E402
from envoy_vectors import CLIENT_IP_HEADER, default_envoy  # noqa: E402

sys.path.insert(0, os.path.join(HERE, "edge"))
import redis_edge  # noqa: E402

N = 8
CAP = 3
SECRET = "fleet-placement-secret-0123456789abcdef"
WORKER_HEADER = "    add_header X-Worker $pid always;\n"
ARGS = None
# a status location: the store steps Redis failed, by every worker
STATS_SERVER = ("    server {\n        listen 127.0.0.1:%d;\n"
                "        location = /stats { return 200 \"$authcore_store_errors\"; }\n    }\n")


def policy(port, gateway):
    return {
        "sessions": {"keys": [{"kid": "s1", "secret": "fleet-session-key-0123456789abcdef0123"}],
                     "ttl": 3600, "revocation": {}},
        "users": [{"name": "alice", "password_hash": nv.hash_password("pw-alice", 1000),
                   "roles": ["viewer"]},
                  {"name": "root", "password_hash": nv.hash_password("pw-root", 1000),
                   "roles": ["admin"]}],
        "login": {"prefix": "/dash"},
        "public": ["/api/*", "/pub/*"],
        "trusted_proxies": ["127.0.0.1"],
        "rate_limits": {"limits": [{"path": "/api/*", "key": "client",
                                    "limit": "%d/minute" % N}],
                        # event streams open at once per client, fleet-wide
                        "connections": [{"name": "streams", "path": "/pub/stream",
                                         "key": "client", "max": CAP}]},
        "store": {"redis": {"port": port, "timeout_ms": 300, "prefix": "f:", "gateway": gateway},
                  "secret": SECRET},
    }


def check(cond, name, why):
    report("fleet: " + name, cond, why)
    return cond


class Fleet:
    """Every member answers (status, headers, Set-Cookie values) for a
    request from client (the address each member takes from its trusted
    hop) with an optional cookie and form body."""

    def __init__(self, d, ngx, cli, envoys):
        self.d, self.ngx, self.cli, self.envoys = d, ngx, cli, envoys
        self.workers = set()

    def nginx(self, method, path, client="10.0.0.1", cookie=None, body=None, extra=None):
        h = {"X-Forwarded-For": client, "Accept": "application/json"}
        if cookie:
            h["Cookie"] = cookie
        if body is not None:
            h["Content-Type"] = "application/x-www-form-urlencoded"
        h.update(extra or {})
        st, hdrs, cookies, _ = send_full(self.ngx.port, method, path, list(h.items()),
                                         body.encode() if body is not None else None)
        w = hdrs.get("x-worker")
        if w:
            self.workers.add(w)
        return st, hdrs, cookies

    def node(self, method, path, client="10.0.0.1", cookie=None, body=None):
        h = {"X-Forwarded-For": client, "Accept": "application/json"}
        if cookie:
            h["Cookie"] = cookie
        if body is not None:
            h["Content-Type"] = "application/x-www-form-urlencoded"
        st, hdrs, cookies, _ = nv.hostkit.exchange(self.node_port, method, path, list(h.items()),
                                                   body.encode() if body is not None else None)
        return st, hdrs, cookies

    def envoy(self, i, method, path, client="10.0.0.1", cookie=None, body=None):
        return self.envoys[i].request(method, path, client=client, cookie=cookie,
                                      body=body.encode() if body is not None else None)

    def cli_call(self, method, path, client="10.0.0.1", cookie=None, body=None):
        h = {"accept": "application/json", "x-forwarded-for": client}
        if cookie:
            h["cookie"] = cookie
        req = {"method": method, "path": path, "client_ip": "127.0.0.1", "headers": h}
        if body is not None:
            h["content-type"] = "application/x-www-form-urlencoded"
            req["body"] = body
        d = self.cli.decide(req)[0]
        hdrs = {k: v for k, v in d.get("headers", [])}
        cookies = [v for k, v in d.get("headers", []) if k == "set-cookie"]
        return d["status"], dict(hdrs, **{"x-reason": d["reason"]}), cookies

    def cli_get(self, path, client="10.0.0.1", cookie=None):
        h = {"accept": "application/json", "x-forwarded-for": client}
        if cookie:
            h["cookie"] = cookie
        return self.cli.decide({"method": "GET", "path": path, "client_ip": "127.0.0.1",
                                "headers": h})[0]

    def members(self):
        """(name, call) for every member."""
        return [("nginx", self.nginx), ("Node", self.node),
                ("Envoy A", lambda *a, **k: self.envoy(0, *a, **k)),
                ("Envoy B", lambda *a, **k: self.envoy(1, *a, **k)),
                ("CLI", self.cli_call)]


def jar_of(cookies):
    jar = {}
    for c in cookies:
        k, v = c.split(";")[0].split("=", 1)
        jar[k] = v
    return jar


def cookie_of(jar):
    return "; ".join("%s=%s" % kv for kv in jar.items())


class Stream:
    """GET /pub/stream?hold=1 through a member on a socket of its own, read
    up to the end of the answer's head: the stream lives until close()."""

    def __init__(self, port, client_header, client):
        self.sock = socket.create_connection(("127.0.0.1", port), 10)
        self.sock.sendall(("GET /pub/stream?hold=1 HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                           "%s: %s\r\n\r\n" % (client_header, client)).encode())
        got = b""
        while b"\r\n\r\n" not in got:
            chunk = self.sock.recv(4096)
            if not chunk:
                break
            got += chunk
        self.status = int(got.split(b" ", 2)[1]) if got.startswith(b"HTTP/1.1 ") else 0

    def close(self):
        self.sock.close()


def check_caps(fleet):
    """A cap of CAP streams per client for the whole fleet: held across
    nginx, Node and both Envoys; one more anywhere is 429; a stream's end
    (its client gone) releases its count in Redis for every member."""
    client = "10.9.0.1"
    where = [("nginx", fleet.ngx.port, "X-Forwarded-For"),
             ("Node", fleet.node_port, "X-Forwarded-For"),
             ("Envoy A", fleet.envoys[0].port, CLIENT_IP_HEADER),
             ("Envoy B", fleet.envoys[1].port, CLIENT_IP_HEADER)]
    held, probs = [], []

    def until(i, want, seconds=5.0):
        """A stream through member i, retried until its status is want."""
        deadline = time.monotonic() + seconds
        while True:
            s = Stream(where[i][1], where[i][2], client)
            if s.status == want or time.monotonic() > deadline:
                return s
            s.close()
            time.sleep(0.05)

    try:
        for i in range(CAP):
            held.append(Stream(where[i][1], where[i][2], client))
        if [s.status for s in held] != [200] * CAP:
            probs.append("first %d through %s: %s" % (CAP, [w[0] for w in where[:CAP]],
                                                       [s.status for s in held]))
        over = [Stream(w[1], w[2], client) for w in (where[3], where[0])]
        for s in over:
            s.close()
        if [s.status for s in over] != [429, 429]:
            probs.append("one more at Envoy B and nginx while %d live: %s, want 429s" % (
                CAP, [s.status for s in over]))
        held[0].close()  # nginx's client goes: its count is released
        s = until(3, 200)
        held[0] = s
        if s.status != 200:
            probs.append("Envoy B after nginx's stream ended: %d, want 200" % s.status)
        again = Stream(where[1][1], where[1][2], client)
        again.close()
        if again.status != 429:
            probs.append("Node while Node, Envoy A and Envoy B hold %d: %d, want 429" % (
                CAP, again.status))
    finally:
        for s in held:
            s.close()
    back = []
    for i in range(4):
        s = until(i, 200)
        s.close()
        back.append(s.status)
    if back != [200] * 4:
        probs.append("after every stream ended, one at each member in turn: %s" % back)
    check(not probs, "a connection cap of %d streams per client holds across nginx, Node and both "
          "Envoys: one more anywhere is 429; a stream's end releases its count for all" % CAP,
          "; ".join(probs))


def store_errors(port):
    st, _, _, body = nv.hostkit.exchange(port, "GET", "/stats", [])
    return int(body) if st == 200 else -1


def start_webdis(d, redis_port):
    port = nv.hostkit.free_port()
    conf = os.path.join(d, "webdis.json")
    with open(conf, "w") as f:
        json.dump({"redis_host": "127.0.0.1", "redis_port": redis_port,
                   "http_host": "127.0.0.1", "http_port": port, "threads": 2,
                   "daemonize": False, "database": 0, "verbosity": 3,
                   "logfile": os.path.join(d, "webdis.log")}, f)
    srv = nv.hostkit.Server(["webdis", conf], os.path.join(d, "webdis.stdio"))
    if not nv.hostkit.wait_port(port, srv.proc):
        srv.stop()
        raise RuntimeError("webdis did not start: %s" % srv.log_text()[-400:])
    return srv, port


def run(d):
    started = []
    redis = Redis(d).start()
    _, echo_port = nv.hostkit.start_echo(nv.spawn)
    node_srv = None
    try:
        webdis, gw_port = start_webdis(d, redis.port)
        started.append(webdis)
        pol = policy(redis.port, "http://127.0.0.1:%d" % gw_port)
        text = json.dumps(pol)
        stats_port = nv.hostkit.free_port()
        ngx = Nginx(d, echo_port, text, workers=2, listen_extra=" reuseport",
                    http_extra=WORKER_HEADER + STATS_SERVER % stats_port)
        started.append(ngx)
        pf = os.path.join(d, "cli-policy.json")
        with open(pf, "w") as f:
            f.write(text)
        envoys = []
        for tag in ("a", "b"):
            e = redis_envoy.Envoy(ARGS.envoy_bin, ARGS.wasm, ARGS.workdir, "fleet-" + tag,
                                  echo_port, pol, gw_port)
            started.append(e)
            envoys.append(e)
        fleet = Fleet(d, ngx, CliMember(nv.CLI, d, "cli", pf), envoys)
        ngx.start()
        node_srv, fleet.node_port = redis_edge.start_node("fleet-node", pf)
        for e, tag in zip(envoys, "AB"):
            st = e.wait()
            if st != "ready":
                raise RuntimeError("Envoy %s %s: %s" % (tag, st, e.srv.log_text()[-600:]))
        members = fleet.members()

        # one limit across all of them
        got = []
        for i in range(2 * N):
            name, call = members[i % len(members)]
            got.append(call("GET", "/api/x", client="10.5.0.1")[0])
        check(got.count(200) == N and got[N:] == [429] * (len(got) - N),
              "%d/minute across two Envoys, nginx's two workers, Node and the CLI admits "
              "%d of %d" % (N, N, len(got)), str(got))

        check_caps(fleet)

        # a login throttle: 5 failures, one through each member, hold at all
        fails = [call("POST", "/dash/auth/login", client="10.8.0.1",
                      body="username=alice&password=wrong")[0] for _, call in members]
        held = [(name, call("POST", "/dash/auth/login", client="10.8.0.1",
                            body="username=alice&password=pw-alice")) for name, call in members]
        other = fleet.envoy(1, "POST", "/dash/auth/login", client="10.8.0.2",
                            body="username=alice&password=pw-alice")[0]
        check(fails == [401] * 5 and all(r[0] == 429 and r[1].get("retry-after") for _, r in held)
              and other in (200, 303),
              "login.attempts 5/minute across the fleet: one failure through each of the five "
              "members, then the right password is 429 with Retry-After at every one of them; "
              "another client signs in",
              "failures %s, then %s, other client %s" % (
                  fails, [(n, r[0]) for n, r in held], other))

        # a logout through each member in turn: refused by every other
        for i, (name, call) in enumerate(members):
            by, sign_in = members[(i + 1) % len(members)]
            st, _, cookies = sign_in("POST", "/dash/auth/login",
                                     body="username=alice&password=pw-alice")
            c = cookie_of(jar_of(cookies))
            before = [call2("GET", "/dash/jobs", cookie=c)[0] for _, call2 in members]
            call("GET", "/dash/auth/logout", cookie=c)
            after = [(n2, call2("GET", "/dash/jobs", cookie=c)[0]) for n2, call2 in members]
            check(st in (200, 303) and before == [200] * len(members) and
                  all(s2 == 401 for _, s2 in after),
                  "signed in through %s and out through %s: every member refuses the cookie "
                  "(401)" % (by, name),
                  "login %s, before %s, after %s" % (st, before, after))
        reason = fleet.cli_get("/dash/jobs", cookie=c)["reason"]
        check(reason == "session_revoked", "the CLI's reason for a logged-out session is "
              "session_revoked", reason)

        # an admin revokes alice through nginx; the CLI refuses her session
        time.sleep(1.1)
        _, _, ca = fleet.nginx("POST", "/dash/auth/login", body="username=alice&password=pw-alice")
        _, _, cr = fleet.nginx("POST", "/dash/auth/login", body="username=root&password=pw-root")
        jr = jar_of(cr)
        rv = fleet.nginx("POST", "/dash/auth/revoke?user=alice", cookie=cookie_of(jr),
                         extra={"X-CSRF-Token": jr.get("authcore_csrf", "")})[0]
        r3 = fleet.cli_get("/dash/jobs", cookie=cookie_of(jar_of(ca)))
        r4 = fleet.envoy(0, "GET", "/dash/jobs", cookie=cookie_of(jar_of(ca)))[0]
        check(rv == 200 and r3["reason"] == "session_revoked" and r4 == 401,
              "an admin's revoke through nginx: alice's session is refused by the CLI and Envoy",
              "revoke %s, CLI %s, Envoy %s" % (rv, r3["reason"], r4))

        # Redis killed: every member goes on, limits locally, sessions fail closed
        time.sleep(1.1)
        _, _, c5 = fleet.nginx("POST", "/dash/auth/login", body="username=alice&password=pw-alice")
        c5 = cookie_of(jar_of(c5))
        workers_before = set(fleet.workers)
        errors_before = store_errors(stats_port)
        envoy_errors_before = [e.stat("authcore.store_errors") for e in envoys]
        redis.kill()
        t0 = time.monotonic()
        down = [fleet.nginx("GET", "/api/y", client="10.6.0.1")[0] for _ in range(N + 2)]
        sess = fleet.nginx("GET", "/dash/jobs", cookie=c5)
        took = time.monotonic() - t0
        print("# %d nginx requests with Redis down took %.0f ms" % (len(down) + 1, took * 1000))
        events = nv.audit_events(os.path.join(d, "error.log"))
        fell = [e for e in events if e.get("store_fallback") == "local"]
        check(down.count(200) >= N and down.count(429) >= 1 and len(fell) >= N,
              "Redis down: nginx still limits /api (counted in its zone per worker; "
              "the audit lines say store_fallback local)",
              "statuses %s, fallback lines %d" % (down, len(fell)))
        check(sess[0] == 503 and sess[1].get("retry-after") == "1",
              "Redis down: a session through nginx is refused 503 with Retry-After: 1",
              "%s %s" % (sess[0], sess[1]))
        errors_down = store_errors(stats_port)
        check(errors_down - errors_before >= len(down) + 1,
              "Redis down: $authcore_store_errors counts every failed step of both workers",
              "before %d, after %d requests %d" % (errors_before, len(down) + 1, errors_down))
        for name, call in members[1:]:
            t0 = time.monotonic()
            lim = [call("GET", "/api/y", client="10.6.0.2")[0] for _ in range(N + 2)]
            s = call("GET", "/dash/jobs", cookie=c5)[0]
            took = time.monotonic() - t0
            # (the CLI's own store is its --state file)
            check(lim[:N] == [200] * N and lim[N:] == [429, 429] and s == 503,
                  "Redis down: %s counts /api in its own store (%d of %d) and refuses the "
                  "session 503" % (name, N, N + 2), "statuses %s, session %s" % (lim, s))
            print("# %s: %d requests with Redis down took %.0f ms" % (name, N + 3, took * 1000))
        envoy_errors = [e.stat("authcore.store_errors") for e in envoys]
        # (a counter never counted yet is not listed: before it is 0)
        envoy_errors_before = [max(b, 0) for b in envoy_errors_before]
        check(all(a - b >= N + 3 for a, b in zip(envoy_errors, envoy_errors_before)),
              "Redis down: each Envoy's authcore.store_errors counter (its admin /stats) counts "
              "every answer decided without Redis",
              "before %s, after %s (%d requests each)" % (envoy_errors_before, envoy_errors, N + 3))
        fails = [fleet.envoy(0, "POST", "/dash/auth/login", client="10.8.1.1",
                             body="username=alice&password=wrong")[0] for _ in range(6)]
        check(fails == [401] * 5 + [429],
              "Redis down: Envoy A's login throttle counts in its own state (5 failures, then 429)",
              str(fails))

        redis.start()
        deadline = time.monotonic() + 10  # node-redis and webdis reconnect on their own
        while time.monotonic() < deadline:
            up = [call("GET", "/dash/jobs", cookie=c5)[0] for _, call in members]
            if up == [200] * len(members):
                break
            time.sleep(0.2)
        check(up == [200] * len(members), "Redis restarted: sessions pass at every member again",
              str(list(zip([n for n, _ in members], up))))
        lim = [members[i % len(members)][1]("GET", "/api/z", client="10.7.0.1")[0]
               for i in range(N + 2)]
        keys = redis.command("KEYS", "f:*")
        check(lim == [200] * N + [429, 429] and len(keys) >= 1,
              "Redis restarted: counting in Redis resumes (one limit across all members again)",
              "limit %s, keys %d" % (lim, len(keys)))
        log = open(os.path.join(d, "error.log"), errors="replace").read()
        alive = [node_srv.proc.poll() is None] + [e.alive() for e in envoys]
        check("exited on signal" not in log and all(alive) and len(workers_before) == 2,
              "no nginx worker, Node or Envoy process died; both nginx workers answered",
              "crash %s, alive (Node, A, B) %s, workers %s" % (
                  "exited on signal" in log, alive, workers_before))
    finally:
        if node_srv is not None:
            node_srv.stop()
        for s in reversed(started):
            s.stop()
        redis.stop()


def main():
    global ARGS
    ap = argparse.ArgumentParser()
    ap.add_argument("--wasm", required=True)
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--envoy")
    ARGS = ap.parse_args()
    ARGS.wasm = os.path.abspath(ARGS.wasm)
    ARGS.workdir = os.path.abspath(ARGS.workdir)
    os.makedirs(ARGS.workdir, exist_ok=True)
    ARGS.envoy_bin = ARGS.envoy or default_envoy()
    # the nginx module from its build folder (nginx_vectors reads argv[1])
    nv.MODULE = os.path.join(nv.ROOT, "build", "nginx", "ngx_http_authcore_module.so")

    def body():
        with tempfile.TemporaryDirectory(prefix="authcore-fleet-") as d:
            os.chmod(d, 0o755)
            run(d)
    rc = nv.run_suite(body, "fleet on Redis", tools=[("cli", nv.CLI, "not built (make all)"),
                                                      ("envoy", ARGS.envoy_bin, "(make deps)")],
                      catch=(Fail, Stopped, OSError, RuntimeError))
    return 1 if rc or failed() else 0


if __name__ == "__main__":
    sys.exit(main())
