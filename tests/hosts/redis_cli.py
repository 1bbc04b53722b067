"""The shared store on a real Redis (Debian's redis-server on loopback),
with the CLI as the host: each `authcore decide` run is a member of a fleet
with its own state (its own random key, from its own --state file), and
all of them share one Redis. A limit admits N across members, also when
they race; a logout, a "log out everywhere" and an administrator's revoke
through one member are refused by the others; Redis killed: limits count
locally (the audit line says so) and sessions fail closed; Redis restarted:
both work again. Policies that would keep nothing there, or fall back to
nothing, are refused with their JSON path."""
import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from checks import failed, report  # noqa: E402
from rediskit import CliMember, Redis  # noqa: E402

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CLI = os.path.join(TOP, "build", "bin", "authcore")
SECRET = "fleet-placement-secret-0123456789abcdef"


def hash_pw(pw):
    return subprocess.run([CLI, "hash-password", "--iterations", "1000"], input=pw + "\n",
                          capture_output=True, text=True, check=True).stdout.strip()


def policy(port, limit="100/minute", store=True):
    p = {"sessions": {"keys": [{"kid": "s1", "secret": "fleet-session-key-0123456789abcdef0123"}],
                      "ttl": 3600, "revocation": {}},
         "users": [{"name": "alice", "password_hash": hash_pw("pw-alice"), "roles": ["viewer"]},
                   {"name": "root", "password_hash": hash_pw("pw-root"), "roles": ["admin"]}],
         "login": {"prefix": "/dash"},
         "default": "authenticated",
         "rate_limits": {"limits": [{"path": "/api/*", "key": "client", "limit": limit},
                                    {"path": "/dash/jobs", "key": "client", "limit": "1000/minute"},
                                    {"path": "/dash/auth/login", "key": "client",
                                     "limit": "1000/minute"}]},
         "public": ["/api/*"]}
    if store:
        p["store"] = {"redis": {"port": port, "timeout_ms": 200, "prefix": "t:"}, "secret": SECRET}
    return p


def Member(folder, name, policy_path):
    return CliMember(CLI, folder, name, policy_path)


def get(path, client="10.0.0.1", cookie=None, headers=None):
    h = dict(headers or {})
    if cookie:
        h["cookie"] = cookie
    h.setdefault("accept", "application/json")
    return {"method": "GET", "path": path, "client_ip": client, "headers": h}


def login(member, user, pw):
    d = member.decide({"method": "POST", "path": "/dash/auth/login", "client_ip": "10.9.9.9",
                       "headers": {"content-type": "application/x-www-form-urlencoded"},
                       "body": "username=%s&password=%s" % (user, pw)})[0]
    jar = {}
    for name, value in d.get("headers", []):
        if name == "set-cookie":
            k, v = value.split(";")[0].split("=", 1)
            jar[k] = v
    return d["status"], jar


def cookie_of(jar):
    return "; ".join("%s=%s" % kv for kv in jar.items())


def statuses(ds):
    return [d["status"] for d in ds]


def header(d, name):
    for k, v in d.get("headers", []):
        if k == name:
            return v
    return None


def check_refusals(folder):
    cases = [
        ({"store": {"secret": SECRET}}, "$.store", "needs \"redis\""),
        ({"store": {"redis": {}}}, "$.store", "needs \"secret\""),
        ({"store": {"redis": {}, "secret": "short"}}, "$.store.secret", "too short"),
        ({"store": {"redis": {"prefix": "a b"}, "secret": SECRET}}, "$.store.redis.prefix", "visible ASCII"),
        ({"store": {"redis": {"port": 0}, "secret": SECRET}}, "$.store.redis.port", "TCP port"),
        ({"store": {"redis": {}, "secret": SECRET}, "rate_limits": None, "sessions": "norev",
          "login": None, "users": None},
         "$.store", "no \"rate_limits\", \"sessions.revocation\" or password \"login\""),
        # a sign-in through a provider only checks no password: nothing to count
        ({"store": {"redis": {}, "secret": SECRET}, "rate_limits": None, "sessions": "norev",
          "users": None, "login": {"prefix": "/dash", "password": False},
          "oidc": {"providers": [{"name": "corp", "issuer": "https://sso.example.com",
                                  "client_id": "dash", "client_secret": "change-me"}]}},
         "$.store", "or password \"login\" keep entries"),
        ({"store": {"redis": {}, "secret": SECRET}, "login": {"prefix": "/dash", "attempts": "5000/second"}},
         "$.login.attempts", "too fast for the shared store"),
        ({"store": None, "rate_limits": {"default": {"key": "client", "limit": "1/s"},
                                         "on_store_error": "local"}},
         "$.rate_limits.on_store_error", "the policy has none"),
    ]
    for i, (change, path, words) in enumerate(cases):
        p = policy(1)
        for k, v in change.items():
            if v is None:
                p.pop(k, None)
            elif v == "norev":
                p["sessions"].pop("revocation")
            else:
                p[k] = v
        f = os.path.join(folder, "bad%d.json" % i)
        with open(f, "w") as fh:
            json.dump(p, fh)
        r = subprocess.run([CLI, "policy", "check", f], capture_output=True, text=True)
        report("a policy with %s is refused at %s" % (json.dumps(change)[:60], path),
               r.returncode == 2 and path + ":" in r.stderr and words in r.stderr,
               "rc=%d %s" % (r.returncode, r.stderr.strip()[:300]))


def main():
    folder = tempfile.mkdtemp(prefix="authcore-redis-")
    redis = Redis(folder).start()
    try:
        check_refusals(folder)
        pf = os.path.join(folder, "policy.json")
        with open(pf, "w") as f:
            json.dump(policy(redis.port, limit="6/minute"), f)
        a, b = Member(folder, "a", pf), Member(folder, "b", pf)

        # a limit across members with their own state keys
        got = []
        for i in range(10):
            got += (a if i % 2 == 0 else b).decide(get("/api/x", client="10.1.0.1"))
        report("6/minute across two members admits 6 of 10, then 429 with Retry-After",
               statuses(got) == [200] * 6 + [429] * 4 and header(got[6], "retry-after") is not None,
               str(statuses(got)))
        keys = redis.command("KEYS", "t:*")
        ttl = redis.command("TTL", keys[0]) if keys else -3
        entry = redis.command("HGETALL", keys[0]) if keys else []
        report("the buckets live in Redis under the prefix: a hash of n (its version) and v "
               "(128 hex digits), with an expiry",
               len(keys) >= 1 and isinstance(ttl, int) and 0 < ttl <= 120 and "n" in entry and
               len(entry[entry.index("v") + 1]) == 128, "keys=%s ttl=%s entry=%s" % (keys, ttl, entry))

        # members racing on one limit: compare-and-set keeps the count exact
        with open(pf, "w") as f:
            json.dump(policy(redis.port, limit="10/minute"), f)
        racers = [Member(folder, "r%d" % i, pf) for i in range(4)]
        with ThreadPoolExecutor(4) as ex:
            runs = list(ex.map(lambda m: m.decide(*[get("/api/y", client="10.2.0.2")] * 8), racers))
        allowed = sum(statuses(r).count(200) for r in runs)
        limited = sum(statuses(r).count(429) for r in runs)
        conflict = sum(1 for r in runs for d in r if d["reason"] == "store_conflict")
        # a request whose compare-and-set lost AC_STORE_ATTEMPTS times gets
        # the defined 503 store_conflict: never an extra admission
        report("four members racing (8 requests each) on 10/minute admit exactly 10 "
               "(the rest 429, or 503 store_conflict after three lost writes)",
               allowed == 10 and limited + conflict == 22,
               "allowed %d, 429 %d, conflict %d" % (allowed, limited, conflict))
        print("# racing: %d allowed, %d limited, %d store_conflict" % (allowed, limited, conflict))

        # sessions: a logout through one member is refused by the others
        st, jar = login(a, "alice", "pw-alice")
        c1 = cookie_of(jar)
        before = b.decide(get("/dash/jobs", cookie=c1))[0]
        out = a.decide(get("/dash/auth/logout", cookie=c1))[0]
        after_b = b.decide(get("/dash/jobs", cookie=c1))[0]
        after_a = a.decide(get("/dash/jobs", cookie=c1))[0]
        report("a logout through A: the copied cookie is refused by B (401 session_revoked) and A",
               st == 303 and before["status"] == 200 and out["status"] in (200, 303) and
               (after_b["status"], after_b["reason"]) == (401, "session_revoked") and
               after_a["reason"] == "session_revoked",
               "login %s, before %s, logout %s, after B %s %s, after A %s" % (
                   st, before["status"], out["status"], after_b["status"], after_b["reason"],
                   after_a["reason"]))

        # log out everywhere, through B: every session of alice issued until then
        time.sleep(1.1)  # revocations are kept to the millisecond; sessions to the second
        _, j2 = login(a, "alice", "pw-alice")
        _, j3 = login(b, "alice", "pw-alice")
        b.decide(get("/dash/auth/logout?everywhere=1", cookie=cookie_of(j3)))
        r2 = a.decide(get("/dash/jobs", cookie=cookie_of(j2)))[0]
        report("log out everywhere through B revokes alice's other session, signed in at A",
               r2["reason"] == "session_revoked", "%s %s" % (r2["status"], r2["reason"]))

        check_throttle(a, b, redis)
        check_one_read(a, redis)
        check_login_batched(a, redis)

        # an operator revokes a user through the admin endpoint of one member
        time.sleep(1.1)
        _, j4 = login(a, "alice", "pw-alice")
        _, jr = login(b, "root", "pw-root")
        rv = b.decide({"method": "POST", "path": "/dash/auth/revoke?user=alice", "client_ip": "10.9.9.9",
                       "headers": {"cookie": cookie_of(jr), "x-csrf-token": jr.get("authcore_csrf", ""),
                                   "accept": "application/json"}})[0]
        r4 = a.decide(get("/dash/jobs", cookie=cookie_of(j4)))[0]
        rr = a.decide(get("/dash/jobs", cookie=cookie_of(jr)))[0]
        report("an admin's POST /auth/revoke?user=alice at B: alice's session is refused at A, "
               "the admin's own still passes",
               rv["status"] == 200 and r4["reason"] == "session_revoked" and rr["status"] == 200,
               "revoke %s %s, alice %s, root %s" % (rv["status"], rv["reason"], r4["reason"], rr["status"]))

        # an operator revokes a user with the CLI: every member refuses her
        time.sleep(1.1)
        _, j6 = login(a, "alice", "pw-alice")
        r = subprocess.run([CLI, "revoke", "--policy", pf, "--user", "alice"], capture_output=True,
                           text=True, timeout=30)
        r6 = b.decide(get("/dash/jobs", cookie=cookie_of(j6)))[0]
        report("authcore revoke --user alice (an operator, no HTTP): alice's session is refused "
               "by the members",
               r.returncode == 0 and json.loads(r.stdout) == {"ok": True, "revoked": "alice"} and
               r6["reason"] == "session_revoked",
               "rc=%d %s %s; member: %s" % (r.returncode, r.stdout.strip(), r.stderr.strip(), r6["reason"]))
        bad = subprocess.run([CLI, "revoke", "--policy", pf, "--user", "a\tb"], capture_output=True,
                             text=True, timeout=30)
        report("authcore revoke refuses a name with control bytes (exit 1, invalid_request)",
               bad.returncode == 1 and "invalid_request" in bad.stderr, "rc=%d %s" % (
                   bad.returncode, bad.stderr.strip()))

        # Redis killed: limits count locally, sessions fail closed, nothing crashes
        time.sleep(1.1)
        _, j5 = login(a, "alice", "pw-alice")
        redis.kill()
        down = a.decide(get("/api/z", client="10.3.0.3"), get("/dash/jobs", cookie=cookie_of(j5)))
        audit = down[0].get("audit") or {}
        report("Redis down: a limited request is still decided, counted in the host's own store, "
               "its audit line says store_unavailable and the fallback",
               down[0]["status"] == 200 and audit.get("store") == "store_unavailable" and
               audit.get("store_fallback") == "local", json.dumps(audit)[:300])
        report("Redis down: a session fails closed, 503 store_unavailable with Retry-After",
               (down[1]["status"], down[1]["reason"]) == (503, "store_unavailable") and
               header(down[1], "retry-after") == "1", "%s %s" % (down[1]["status"], down[1]["reason"]))
        local = a.decide(*[get("/api/z", client="10.3.0.4")] * 12)
        report("Redis down: the local count still limits (10/minute: 10 of 12)",
               statuses(local).count(200) == 10, str(statuses(local)))
        dl = [login_from(a, "alice", "wrong", "10.7.7.9")["status"] for _ in range(6)]
        dr = login_from(a, "alice", "pw-alice", "10.7.7.10")
        report("Redis down: the login throttle counts in the member's own state (5 failures "
               "then 429), a right password still signs in",
               dl == [401] * 5 + [429] and dr["status"] == 200, "%s; right: %s" % (dl, dr["status"]))
        r = subprocess.run([CLI, "revoke", "--policy", pf, "--user", "alice"], capture_output=True,
                           text=True, timeout=30)
        report("Redis down: authcore revoke says nothing was revoked (exit 1, store_unavailable)",
               r.returncode == 1 and "store_unavailable" in r.stderr and r.stdout == "",
               "rc=%d %s %s" % (r.returncode, r.stdout.strip(), r.stderr.strip()))

        # restarted (empty, nothing was saved): both work again, counting resumes in Redis
        redis.start()
        up = b.decide(get("/dash/jobs", cookie=cookie_of(j5)), get("/api/w", client="10.4.0.4"))
        keys = redis.command("KEYS", "t:*")
        report("Redis restarted: the session passes again and the limit counts in Redis again",
               up[0]["status"] == 200 and up[1]["status"] == 200 and "store" not in (up[1].get("audit") or {})
               and len(keys) >= 1, "session %s, limit %s, keys %s" % (up[0]["status"], up[1]["status"], keys))
        check_local_revoke(folder)
    finally:
        redis.stop()
    return 1 if failed() else 0


def login_from(member, user, pw, client):
    return member.decide({"method": "POST", "path": "/dash/auth/login", "client_ip": client,
                          "headers": {"content-type": "application/x-www-form-urlencoded",
                                      "accept": "application/json"},
                          "body": "username=%s&password=%s" % (user, pw)})[0]


def check_throttle(a, b, redis):
    """login.attempts (5/minute by default) counts for the fleet: failures
    through either member add up, a right password clears the count."""
    before = set(redis.command("KEYS", "t:*"))
    ip = "10.7.7.7"
    first = [login_from(m, "alice", "wrong", ip) for m in (a, b)]
    ok = login_from(b, "alice", "pw-alice", ip)
    fails = [login_from(m, "alice", "wrong", ip)["status"] for m in (a, b, a, b, a)]
    over = login_from(b, "alice", "pw-alice", ip)
    other = login_from(a, "alice", "pw-alice", "10.7.7.8")
    report("a login throttle holds across members: 2 failures, a right password (clears the "
           "count), then 5 failures through A and B alternately; the 6th attempt at B, even with "
           "the right password, is 429 too_many_attempts with Retry-After; another client is not held",
           [d["status"] for d in first] == [401, 401] and ok["status"] == 200 and
           fails == [401] * 5 and (over["status"], over["reason"]) == (429, "too_many_attempts") and
           header(over, "retry-after") is not None and other["status"] == 200,
           "first %s, ok %s, fails %s, over %s %s, other %s" % (
               [d["status"] for d in first], ok["status"], fails, over["status"], over["reason"],
               other["status"]))
    added = set(redis.command("KEYS", "t:*")) - before
    report("the throttle's counts live in Redis (new entries under the prefix)", len(added) >= 1,
           str(sorted(added)))


def evals(redis):
    for line in redis.command("INFO", "commandstats").splitlines():
        if line.startswith("cmdstat_eval:"):
            return int(line.split("calls=")[1].split(",")[0])
    return 0


def check_one_read(a, redis):
    """A session request under a client limit reads the limit's bucket and
    the session's revocation entry in one round trip, then writes once."""
    time.sleep(1.1)  # after the "log out everywhere" above (sessions are kept to the second)
    _, jar = login(a, "alice", "pw-alice")
    before = evals(redis)
    d = a.decide(get("/dash/jobs", cookie=cookie_of(jar)))[0]
    n = evals(redis) - before
    report("a session request under a client limit costs two Redis commands: one read of "
           "both entries, one write", d["status"] == 200 and n == 2,
           "status %s, EVAL calls %d" % (d["status"], n))


def check_login_batched(a, redis):
    """A login post under a client limit reads the limit's bucket and the
    throttle's two counters in one round trip: a wrong password costs a
    read and the write that counts the attempt, nothing more."""
    before = evals(redis)
    d = a.decide({"method": "POST", "path": "/dash/auth/login", "client_ip": "10.9.8.7",
                  "headers": {"content-type": "application/x-www-form-urlencoded"},
                  "body": "username=alice&password=not-hers"})[0]
    n = evals(redis) - before
    report("a login post under a client limit costs two Redis commands: one read of the "
           "limit's bucket and the throttle's counters, one write", d["status"] == 401 and n == 2,
           "status %s, EVAL calls %d" % (d["status"], n))


def check_local_revoke(folder):
    """Without a shared store, the CLI's revocation lives in its --state
    FILE: decide runs on that file refuse the user, others do not."""
    pf = os.path.join(folder, "local.json")
    with open(pf, "w") as f:
        json.dump(policy(0, store=False), f)
    m = Member(folder, "local", pf)
    other = Member(folder, "other", pf)
    _, j = login(m, "alice", "pw-alice")
    r = subprocess.run([CLI, "revoke", "--policy", pf, "--user", "alice", "--state", m.state],
                       capture_output=True, text=True, timeout=30)
    mine = m.decide(get("/dash/jobs", cookie=cookie_of(j)))[0]
    theirs = other.decide(get("/dash/jobs", cookie=cookie_of(j)))[0]
    report("without a shared store, authcore revoke --state FILE holds for runs on that file only",
           r.returncode == 0 and mine["reason"] == "session_revoked" and theirs["status"] == 200,
           "rc=%d, same file %s, other file %s" % (r.returncode, mine["reason"], theirs["status"]))


if __name__ == "__main__":
    sys.exit(main())
