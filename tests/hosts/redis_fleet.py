"""A fleet on one Redis (Debian's redis-server, loopback): nginx with two
workers, a Node edge server (the edge module with npm's redis client) and
the CLI as members, one policy with a shared store.
- A limit of N per minute admits N across nginx's workers, Node and the CLI.
- A session signed in through one member and logged out through it is
  refused by the other (both ways), and an admin's revoke through nginx
  holds at the CLI.
- A logout through Node is refused by nginx and the CLI.
- Redis killed mid-run: nginx and Node still answer limited paths (counted
  in their own stores, the audit lines saying so) and refuse sessions 503
  store_unavailable; no worker or process dies. Redis restarted: sessions
  pass and counting in Redis resumes, with nothing done to either.
Prints "ok - ..." / "not ok - ...: why"."""
import json
import os
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

sys.path.insert(0, os.path.join(HERE, "edge"))
import redis_edge  # noqa: E402

N = 8
SECRET = "fleet-placement-secret-0123456789abcdef"
WORKER_HEADER = "    add_header X-Worker $pid always;\n"


def policy(port):
    return {
        "sessions": {"keys": [{"kid": "s1", "secret": "fleet-session-key-0123456789abcdef0123"}],
                     "ttl": 3600, "revocation": {}},
        "users": [{"name": "alice", "password_hash": nv.hash_password("pw-alice", 1000),
                   "roles": ["viewer"]},
                  {"name": "root", "password_hash": nv.hash_password("pw-root", 1000),
                   "roles": ["admin"]}],
        "login": {"prefix": "/dash"},
        "public": ["/api/*"],
        "trusted_proxies": ["127.0.0.1"],
        "rate_limits": {"limits": [{"path": "/api/*", "key": "client",
                                    "limit": "%d/minute" % N}]},
        "store": {"redis": {"port": port, "timeout_ms": 300, "prefix": "f:"}, "secret": SECRET},
    }


def check(cond, name, why):
    report("fleet: " + name, cond, why)
    return cond


class Fleet:
    def __init__(self, d, ngx, cli):
        self.d, self.ngx, self.cli = d, ngx, cli
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

    def cli_get(self, path, client="10.0.0.1", cookie=None):
        h = {"accept": "application/json", "x-forwarded-for": client}
        if cookie:
            h["cookie"] = cookie
        return self.cli.decide({"method": "GET", "path": path, "client_ip": "127.0.0.1",
                                "headers": h})[0]


def jar_of(cookies):
    jar = {}
    for c in cookies:
        k, v = c.split(";")[0].split("=", 1)
        jar[k] = v
    return jar


def cookie_of(jar):
    return "; ".join("%s=%s" % kv for kv in jar.items())


def run(d):
    redis = Redis(d).start()
    _, echo_port = nv.hostkit.start_echo(nv.spawn)
    pol = json.dumps(policy(redis.port))
    ngx = Nginx(d, echo_port, pol, workers=2, listen_extra=" reuseport", http_extra=WORKER_HEADER)
    pf = os.path.join(d, "cli-policy.json")
    with open(pf, "w") as f:
        f.write(pol)
    fleet = Fleet(d, ngx, CliMember(nv.CLI, d, "cli", pf))
    node_srv = None
    try:
        ngx.start()
        node_srv, fleet.node_port = redis_edge.start_node("fleet-node", pf)
        # one limit across nginx's workers, Node and the CLI
        got = []
        for i in range(2 * N):
            if i % 4 == 3:
                got.append(fleet.cli_get("/api/x", client="10.5.0.1")["status"])
            elif i % 4 == 2:
                got.append(fleet.node("GET", "/api/x", client="10.5.0.1")[0])
            else:
                got.append(fleet.nginx("GET", "/api/x", client="10.5.0.1")[0])
        check(got.count(200) == N and got[N:] == [429] * (len(got) - N),
              "%d/minute across nginx's two workers, Node and the CLI admits %d of %d" % (
                  N, N, len(got)), str(got))

        # a logout through nginx holds at the CLI
        st, _, cookies = fleet.nginx("POST", "/dash/auth/login", body="username=alice&password=pw-alice")
        c1 = cookie_of(jar_of(cookies))
        before = fleet.cli_get("/dash/jobs", cookie=c1)
        fleet.nginx("GET", "/dash/auth/logout", cookie=c1)
        after = fleet.cli_get("/dash/jobs", cookie=c1)
        again = fleet.nginx("GET", "/dash/jobs", cookie=c1)[0]
        check(st in (200, 303) and before["status"] == 200 and after["reason"] == "session_revoked"
              and again == 401,
              "signed in and out through nginx: the copied cookie is refused by the CLI and nginx",
              "login %s, CLI before %s, CLI after %s, nginx after %s" % (
                  st, before["status"], after["reason"], again))

        # and the other way: signed in and out through the CLI
        time.sleep(1.1)
        d2 = fleet.cli.decide({"method": "POST", "path": "/dash/auth/login", "client_ip": "127.0.0.1",
                               "headers": {"content-type": "application/x-www-form-urlencoded"},
                               "body": "username=alice&password=pw-alice"})[0]
        j2 = {}
        for name, value in d2.get("headers", []):
            if name == "set-cookie":
                k, v = value.split(";")[0].split("=", 1)
                j2[k] = v
        c2 = cookie_of(j2)
        ngx_before = fleet.nginx("GET", "/dash/jobs", cookie=c2)[0]
        fleet.cli_get("/dash/auth/logout", cookie=c2)
        ngx_after = fleet.nginx("GET", "/dash/jobs", cookie=c2)[0]
        check(ngx_before == 200 and ngx_after == 401,
              "signed in and out through the CLI: nginx refuses the cookie",
              "nginx before %s, after %s" % (ngx_before, ngx_after))

        # signed in and out through Node: nginx and the CLI refuse the cookie
        time.sleep(1.1)
        st, _, cn = fleet.node("POST", "/dash/auth/login", body="username=alice&password=pw-alice")
        cn = cookie_of(jar_of(cn))
        n_before = fleet.nginx("GET", "/dash/jobs", cookie=cn)[0]
        fleet.node("GET", "/dash/auth/logout", cookie=cn)
        n_after = fleet.nginx("GET", "/dash/jobs", cookie=cn)[0]
        c_after = fleet.cli_get("/dash/jobs", cookie=cn)["reason"]
        check(st in (200, 303) and n_before == 200 and n_after == 401 and c_after == "session_revoked",
              "signed in and out through Node: nginx and the CLI refuse the cookie",
              "login %s, nginx before %s, after %s, CLI %s" % (st, n_before, n_after, c_after))

        # an admin revokes alice through nginx; the CLI refuses her session
        time.sleep(1.1)
        _, _, ca = fleet.nginx("POST", "/dash/auth/login", body="username=alice&password=pw-alice")
        _, _, cr = fleet.nginx("POST", "/dash/auth/login", body="username=root&password=pw-root")
        jr = jar_of(cr)
        rv = fleet.nginx("POST", "/dash/auth/revoke?user=alice", cookie=cookie_of(jr),
                         extra={"X-CSRF-Token": jr.get("authcore_csrf", "")})[0]
        r3 = fleet.cli_get("/dash/jobs", cookie=cookie_of(jar_of(ca)))
        check(rv == 200 and r3["reason"] == "session_revoked",
              "an admin's revoke through nginx: alice's session is refused by the CLI",
              "revoke %s, CLI %s" % (rv, r3["reason"]))

        # Redis killed: nginx goes on, limits locally, sessions fail closed
        time.sleep(1.1)
        _, _, c5 = fleet.nginx("POST", "/dash/auth/login", body="username=alice&password=pw-alice")
        c5 = cookie_of(jar_of(c5))
        workers_before = set(fleet.workers)
        redis.kill()
        t0 = time.monotonic()
        down = [fleet.nginx("GET", "/api/y", client="10.6.0.1")[0] for _ in range(N + 2)]
        sess = fleet.nginx("GET", "/dash/jobs", cookie=c5)
        took = time.monotonic() - t0
        node_down = [fleet.node("GET", "/api/y", client="10.6.0.2")[0] for _ in range(N + 2)]
        node_sess = fleet.node("GET", "/dash/jobs", cookie=c5)[0]
        check(node_down.count(200) == N and node_down[N:] == [429, 429] and node_sess == 503,
              "Redis down: Node counts /api in its own store (%d of %d) and refuses sessions 503" % (
                  N, N + 2), "statuses %s, session %s" % (node_down, node_sess))
        events = nv.audit_events(os.path.join(d, "error.log"))
        fell = [e for e in events if e.get("store_fallback") == "local"]
        check(down.count(200) >= N and down.count(429) >= 1 and len(fell) >= N,
              "Redis down: nginx still limits /api (counted in its zone per worker; "
              "the audit lines say store_fallback local)",
              "statuses %s, fallback lines %d" % (down, len(fell)))
        hdrs = sess[1]
        check(sess[0] == 503 and hdrs.get("retry-after") == "1",
              "Redis down: a session through nginx is refused 503 with Retry-After: 1",
              "%s %s" % (sess[0], hdrs))
        print("# %d requests with Redis down took %.0f ms" % (len(down) + 1, took * 1000))

        redis.start()
        time.sleep(0.2)
        up = fleet.nginx("GET", "/dash/jobs", cookie=c5)[0]
        deadline = time.monotonic() + 5  # node-redis reconnects on its own
        while fleet.node("GET", "/dash/jobs", cookie=c5)[0] != 200 and time.monotonic() < deadline:
            time.sleep(0.2)
        node_up = fleet.node("GET", "/dash/jobs", cookie=c5)[0]
        check(node_up == 200 and node_srv.proc.poll() is None,
              "Redis restarted: Node's sessions pass again; the process never exited",
              "session %s, exited %s" % (node_up, node_srv.proc.poll()))
        lim = fleet.nginx("GET", "/api/z", client="10.7.0.1")[0]
        keys = redis.command("KEYS", "f:*")
        log = open(os.path.join(d, "error.log"), errors="replace").read()
        check(up == 200 and lim == 200 and len(keys) >= 1 and "exited on signal" not in log
              and fleet.workers <= workers_before | fleet.workers,
              "Redis restarted: nginx's sessions pass and counting in Redis resumes; no worker died",
              "session %s, limit %s, keys %s, crash %s" % (up, lim, keys, "exited on signal" in log))
        check(len(workers_before) == 2, "both nginx workers answered",
              "workers seen: %s" % workers_before)
    finally:
        if node_srv is not None:
            node_srv.stop()
        ngx.stop()
        redis.stop()


def main():
    def body():
        with tempfile.TemporaryDirectory(prefix="authcore-fleet-") as d:
            os.chmod(d, 0o755)
            run(d)
    rc = nv.run_suite(body, "fleet on Redis", tools=[("cli", nv.CLI, "not built (make all)")],
                      catch=(Fail, Stopped, OSError, RuntimeError))
    return 1 if rc or failed() else 0


if __name__ == "__main__":
    sys.exit(main())
