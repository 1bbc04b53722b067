"""Rate limits through nginx with two workers: one bucket in the shared zone.

Debian's nginx with the authcore module, worker_processes 2 and `listen ...
reuseport`, so connections are spread over both workers; a policy with one
limit, N per minute keyed on the client, on a public path. For DURATION
seconds, requests from one client (127.0.0.1), each on its own connection,
from THREADS threads at once (each pausing PAUSE between its requests, a
few hundred a second in all), race for the bucket through both workers, so
the burst goes at once and every refill (one per 60/N seconds) is taken as
soon as it comes. Checks:
- both workers answered (else the run shows nothing about sharing);
- the 200s, across workers, are what GCRA allows one client (docs/policy.md,
  "Algorithm and precision"): the burst of N, plus one per interval of the
  whole seconds (nginx's clock) between the first decision and the last: at
  least those of DURATION - 1 seconds, at most those of the run's length
  rounded up, and never more than 2N-1; a request may fall short of that
  only when a worker lost its compare-and-set AC_STORE_ATTEMPTS times (503
  store_conflict), each such 503 counted;
- every other answer is a 429 with Retry-After (whole seconds, at least 1),
  RateLimit-Policy and RateLimit, and its audit line says rate_limited;
- the upstream saw exactly the allowed requests.
Then a client limit in front of the credential checks (a policy with a login
whose password hash takes SLOW_ITERATIONS PBKDF2 iterations, login.max_pending
1, a limit of 1 per minute on the login post and one on /api/*):
- once one login post was checked (303), more posts from the same client
  with a wrong password, sent at once, are all 429 rate_limited: none is
  answered 401 (its password checked) or 503 overloaded (it reached the
  pending checks). (Posts sent while the first is still being checked are
  not counted yet: the core counts a login in the answer that ends its
  check, so they may reach the verifier; hosts/nginx/README.md.)
- requests with a forged token: the first 401 (counted, then refused for the
  token), every one after it 429, never looked at.

Prints "ok - ..." / "not ok - ...: why".
Usage: python3 nginx_ratelimit.py [MODULE.so]
"""
import http.client
import json
import os
import re
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import nginx_vectors as nv  # noqa: E402
from nginx_vectors import Fail, Nginx, Stopped, not_ok, ok, send_full  # noqa: E402

N = 20            # the limit: N per minute on the client
DURATION = 8.0    # seconds of requests: 2 or 3 refills of N/minute
THREADS = 16      # at once, each request on a new connection
PAUSE = 0.02      # seconds a thread waits between its requests
WAIT = 10.0

POLICY = {
    "jwt": {"keys": [{"kid": "k1", "alg": "HS256",
                      "secret": "nginx-rate-limit-test-secret-0123456789"}]},
    "public": ["/open*"],
    "rate_limits": {
        "limits": [{"name": "open", "path": "/open*", "key": "client",
                    "limit": "%d/minute" % N}],
        "headers": True,
    },
}

WORKER_HEADER = "    add_header X-Worker $pid always;\n"


def fire(ngx, ledger):
    """GETs from THREADS threads for DURATION seconds; returns [(t, status,
    headers, rid)] in the order they were answered, and the seconds from
    the first sent to the last answered."""
    out = []
    lock = threading.Lock()
    count = iter(range(1 << 30))

    def go():
        while time.monotonic() < end:
            with lock:
                i = next(count)
            rid = ledger.new()
            try:
                st, hdrs, _, _ = send_full(ngx.port, "GET", "/open/%d" % i,
                                           [(nv.vectors.REQUEST_ID_HEADER, rid)], None,
                                           timeout=WAIT)
            except (OSError, http.client.HTTPException) as e:
                st, hdrs = repr(e), {}
            with lock:
                out.append((time.monotonic(), st, hdrs, rid))
            time.sleep(PAUSE)
    ths = [threading.Thread(target=go, daemon=True) for _ in range(THREADS)]
    t0 = time.monotonic()
    end = t0 + DURATION
    for t in ths:
        t.start()
    for t in ths:
        t.join(60)
    return out, time.monotonic() - t0


def audit_reasons(log):
    return [e.get("reason") for e in nv.audit_events(log)]


def check(d, ngx, ledger):
    got, elapsed = fire(ngx, ledger)
    log = os.path.join(d, "error.log")
    name = "2 workers, %.0f s of requests on %d connections at once: one bucket of %d/minute" % (
        DURATION, THREADS, N)
    allowed = [g for g in got if g[1] == 200]
    refused = [g for g in got if g[1] == 429]
    conflict = [g for g in got if g[1] == 503]
    other = [g for g in got if g[1] not in (200, 429, 503)]
    workers = {g[2].get("x-worker") for g in got if g[2].get("x-worker")}
    # GCRA: the burst, then one more per interval (60 s / N, rounded up to a
    # millisecond) of the whole seconds between the first decision and the
    # last, which are at least DURATION - 1 (the first request leaves at
    # once, the last one at DURATION) and at most the run's length rounded
    # up; at most 2N-1 in any minute
    interval_ms = -(-60000 // N)
    most = min(N + (int(elapsed) + 1) * 1000 // interval_ms, 2 * N - 1)
    least = N + (int(DURATION) - 1) * 1000 // interval_ms - len(conflict)
    probs = []
    if other:
        probs.append("%d other answers, e.g. %s" % (len(other), other[0][1]))
    if len(workers) < 2:
        probs.append("only worker(s) %s answered" % sorted(workers))
    if not least <= len(allowed) <= most:
        probs.append("%d allowed in %.2f s, want %d..%d" % (len(allowed), elapsed, least, most))
    if probs:
        not_ok(name, "; ".join(probs))
    else:
        ok(name + " (%d allowed, %d refused, %d store_conflict in %.2f s; workers %s)" % (
            len(allowed), len(refused), len(conflict), elapsed, ", ".join(sorted(workers))))

    name = "2 workers: every 429 carries Retry-After, RateLimit-Policy and RateLimit"
    probs = []
    for _, _, h, _ in refused:
        ra = h.get("retry-after", "")
        if not re.fullmatch(r"[1-9][0-9]*", ra) or int(ra) > 60:
            probs.append("Retry-After %r" % ra)
        if h.get("ratelimit-policy") != '"open";q=%d;w=60' % N:
            probs.append("RateLimit-Policy %r" % h.get("ratelimit-policy"))
        if not re.fullmatch(r'"open";r=0;t=[0-9]+', h.get("ratelimit", "")):
            probs.append("RateLimit %r" % h.get("ratelimit"))
    for _, _, h, _ in allowed:
        if not re.fullmatch(r'"open";r=[0-9]+;t=[0-9]+', h.get("ratelimit", "")):
            probs.append("allowed with RateLimit %r" % h.get("ratelimit"))
    reasons = audit_reasons(log)
    if reasons.count("rate_limited") != len(refused):
        probs.append("%d audit lines say rate_limited, %d answers were 429" % (
            reasons.count("rate_limited"), len(refused)))
    if not refused:
        probs.append("no request was refused")
    if probs:
        not_ok(name, "; ".join(sorted(set(probs))[:4]))
    else:
        ok(name + " (%d refusals)" % len(refused))

    name = "2 workers: the upstream saw exactly the allowed requests"
    counts = ledger.counts()
    wrong = [g[1] for g in got if counts[g[3]] != (1 if g[1] == 200 else 0)]
    if wrong:
        not_ok(name, "%d requests reached the upstream wrongly (statuses %s)" % (
            len(wrong), sorted(set(map(str, wrong)))))
    else:
        ok(name + " (%d)" % len(allowed))


SLOW_ITERATIONS = 1000000
PASSWORD = "rate-limit-test-password-1"
GUESSES = 8       # wrong-password posts sent while the login is checked
FORM = [("Content-Type", "application/x-www-form-urlencoded")]


def login_policy(slow_hash):
    return {
        "realm": "rl",
        "jwt": {"keys": [{"kid": "k1", "alg": "HS256",
                          "secret": "nginx-rate-limit-test-secret-0123456789"}]},
        "sessions": {"keys": [{"kid": "s1", "secret": "nginx-rate-limit-session-key-0123456789"}],
                     "cookie": "s", "csrf_cookie": "c", "ttl": 3600},
        "users": [{"name": "slow", "password_hash": slow_hash, "roles": ["admin"]}],
        "login": {"prefix": "/dash", "attempts": "100/minute", "max_pending": 1},
        "default": "authenticated",
        "rate_limits": {"limits": [
            {"name": "login", "path": "/dash/auth/login", "key": "client", "limit": "1/minute"},
            {"name": "api", "path": "/api/*", "key": "client", "limit": "1/minute"}]},
    }


def post_login(ngx, password, out, lock):
    t0 = time.monotonic()
    body = "username=slow&password=%s&next=/dash/x" % password
    try:
        st = send_full(ngx.port, "POST", "/dash/auth/login", FORM, body, timeout=WAIT * 3)[0]
    except (OSError, http.client.HTTPException) as e:
        st = repr(e)
    with lock:
        out.append((password == PASSWORD, st, time.monotonic() - t0))


def check_before_verify(d, ngx):
    log = os.path.join(d, "error.log")
    name = ("over the limit, login posts are refused before their password check "
            "(%d wrong guesses at once after a %d-iteration login)" % (GUESSES, SLOW_ITERATIONS))
    out, lock = [], threading.Lock()
    post_login(ngx, PASSWORD, out, lock)
    ths = [threading.Thread(target=post_login, args=(ngx, "wrong-%d" % i, out, lock),
                            daemon=True) for i in range(GUESSES)]
    for t in ths:
        t.start()
    for t in ths:
        t.join(WAIT * 3)
    probs = []
    passed = [o for o in out if o[1] != 429]
    refused = [o for o in out if o[1] == 429]
    if len(out) != GUESSES + 1:
        probs.append("%d of %d posts answered" % (len(out), GUESSES + 1))
    if [(o[0], o[1]) for o in passed] != [(True, 303)]:
        probs.append("posts past the limit: %s, want the first alone, 303"
                     % [(o[0], o[1]) for o in passed])
    reasons = audit_reasons(log)
    if reasons.count("rate_limited") != len(refused):
        probs.append("%d audit lines say rate_limited, %d answers were 429"
                     % (reasons.count("rate_limited"), len(refused)))
    if "overloaded" in reasons:
        probs.append("a post reached the pending password checks (503 overloaded)")
    if probs:
        not_ok(name, "; ".join(probs))
    else:
        slow = [o[2] for o in passed]
        print("# nginx: the login past the limit took %.0f ms; the %d refused: median "
              "%.1f ms" % (slow[0] * 1000, len(refused),
                           sorted(o[2] for o in refused)[len(refused) // 2] * 1000), flush=True)
        ok(name)

    name = "over the limit, a forged token is refused 429 before it is verified"
    got = []
    for i in range(4):
        try:
            got.append(send_full(ngx.port, "GET", "/api/%d" % i,
                                 [("Authorization", "Bearer e30.e30.forged")], None,
                                 timeout=WAIT)[0])
        except (OSError, http.client.HTTPException) as e:
            got.append(repr(e))
    if got != [401, 429, 429, 429]:
        not_ok(name, "answers %s, want [401, 429, 429, 429]" % got)
    else:
        ok(name)


def main():
    def body():
        with tempfile.TemporaryDirectory(prefix="authcore-nginx-rl-") as d:
            os.chmod(d, 0o755)  # nginx workers may run as another user
            ledger = nv.hostkit.Ledger(os.path.join(d, "ids"))
            _, echo_port = nv.hostkit.start_echo(nv.spawn, ids_path=ledger.path)
            ngx = Nginx(d, echo_port, json.dumps(POLICY), workers=2,
                        listen_extra=" reuseport", http_extra=WORKER_HEADER)
            try:
                ngx.start()
                check(d, ngx, ledger)
            finally:
                ngx.stop()
        with tempfile.TemporaryDirectory(prefix="authcore-nginx-rl-") as d:
            os.chmod(d, 0o755)
            _, echo_port = nv.hostkit.start_echo(nv.spawn)
            pol = login_policy(nv.hash_password(PASSWORD, SLOW_ITERATIONS))
            ngx = Nginx(d, echo_port, json.dumps(pol), workers=2, listen_extra=" reuseport")
            try:
                ngx.start()
                check_before_verify(d, ngx)
            finally:
                ngx.stop()
    return nv.run_suite(body, "rate limits", tools=[("cli", nv.CLI, "not built (make all)")],
                        catch=(Fail, Stopped, OSError, RuntimeError))


if __name__ == "__main__":
    sys.exit(main())
