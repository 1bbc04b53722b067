#!/usr/bin/env python3
"""Pending password checks in a real Envoy (V8, --concurrency 1: one worker,
one VM): a login in progress must not hold up other requests on the worker.

The policy's user has a 600,000-iteration PBKDF2-SHA256 hash, made here with
Python's hashlib (an implementation independent of authcore). Checks:
 - while one login is pending, 20 sequential GETs on another connection all
   complete, and the login then succeeds (303 + session and CSRF cookies).
   Proved by order, not by a timing threshold: on the client, every GET
   answer arrives before the login's; in Envoy's log, the check is queued
   before the first of those GETs is decided and the login is decided after
   the last one. Latencies are printed as "# " lines.
 - a login body that arrives in several chunks is buffered whole;
 - two logins pending at once both complete;
 - a login whose client goes away while pending is dropped (debug line), and
   the worker keeps serving;
 - it gives its slot back at once: QUEUE_MAX slow logins fill every slot of
   login.max_pending, their clients close, and a login 0.1 s later is
   checked (303), not answered 503 (the slots would otherwise stay taken
   until they lapse, 60 s);
 - the checks in flight are bounded by the core (the policy's
   login.max_pending, QUEUE_MAX; the filter has no cap of its own): QUEUE_MAX
   + 2 logins at once (another user, QUEUE_ITERATIONS each, so all are still
   pending when the last arrives) get QUEUE_MAX successes and 2 answers 503
   overloaded with Retry-After and the core's audit line, the 503s before
   any success;
 - so is its list of login posts waiting for their body: with WAITING_MAX
   posts whose body has not come, two more are answered 503 with
   Retry-After at once; once those clients leave, a login succeeds;
 - without allow_on_headers_stop_iteration in the PluginConfig (Envoy keeps
   the body from a filter that paused the headers), a login post fails
   closed after the filter's 10 s wait and the log says what to set.

The upstream is this script's own --serve mode: tests/lib/echo.py writes
its headers and body in two sends, which Nagle's algorithm and delayed ACKs
turn into ~40 ms per keep-alive request, and that would swamp the figures.

Prints TAP-like lines. Loopback only; every wait is bounded; Envoy and the
upstream are always stopped.

Usage: envoy_pending.py --wasm build/authcore-proxy.wasm --workdir DIR
                        [--envoy PATH]
       envoy_pending.py --serve PORT   (the upstream; prints "ready")
"""
import argparse
import http.client
import json
import os
import re
import select
import socket
import statistics
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from envoy_vectors import Envoy, http_request, runner_args  # noqa: E402
from hostkit import free_port, stop, wait_port  # noqa: E402
import authformats  # noqa: E402

ITERATIONS = 600000
PASSWORD = "slow but sure 600k"
QUEUE_MAX = 8               # the policy's login.max_pending
WAITING_MAX = 64            # the filter's APX_WAITING_MAX
QUEUE_ITERATIONS = 200000
QUEUE_PASSWORD = "one of many"
N_OTHERS = 20
LOGIN_TIMEOUT = 30.0
COOKIES = [r"app_session=v1\.s1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}; Path=/app; "
           r"Max-Age=3600; HttpOnly; SameSite=Strict",
           r"app_csrf=[A-Za-z0-9_-]{43}; Path=/app; Max-Age=3600; SameSite=Strict"]


class Upstream(BaseHTTPRequestHandler):
    """200 "ok" with x-echo: 1, headers and body in one send."""
    protocol_version = "HTTP/1.1"
    wbufsize = -1  # buffered: handle_one_request flushes once per answer

    def do_GET(self):
        n = int(self.headers.get("content-length") or 0)
        if n:
            self.rfile.read(n)
        self.send_response(200)
        self.send_header("content-type", "text/plain")
        self.send_header("x-echo", "1")
        self.send_header("content-length", "3")
        self.end_headers()
        self.wfile.write(b"ok\n")

    do_POST = do_GET

    def log_message(self, *a):
        pass


def serve(port):
    srv = ThreadingHTTPServer(("127.0.0.1", port), Upstream)
    print("ready", flush=True)
    srv.serve_forever()


def start_upstream(timeout=10.0):
    port = free_port()
    proc = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--serve", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    if ready and proc.stdout.readline().strip() == b"ready" and wait_port(port, proc):
        return proc, port
    stop(proc)
    raise RuntimeError("upstream did not start")


def policy(slow_hash, many_hash):
    return json.dumps({
        "realm": "app",
        "sessions": {"keys": [{"kid": "s1",
                               "secret": "pending-test-session-key-0123456789abcdef"}],
                     "cookie": "app_session", "csrf_cookie": "app_csrf", "ttl": 3600},
        "users": [{"name": "slow", "password_hash": slow_hash, "roles": ["viewer"]},
                  {"name": "leaver", "password_hash": slow_hash, "roles": ["viewer"]},
                  {"name": "many", "password_hash": many_hash, "roles": ["viewer"]}],
        "login": {"prefix": "/app", "attempts": "10 per 10 minutes",
                  # the core's cap on checks in flight is under test here
                  # (one worker, one VM: one state), and every loopback
                  # login is one client
                  "max_pending": QUEUE_MAX, "client_attempts": "1000/minute"},
        "public": ["/open/*"],
        "default": "authenticated",
        # the log order check reads the audit lines of allowed public GETs
        "audit": {"allowed": "all"},
    })


FORM = [("Content-Type", "application/x-www-form-urlencoded")]
BODY = "username=slow&password=" + PASSWORD.replace(" ", "+") + "&next=/app/home"
MANY_BODY = ("username=many&password=" + QUEUE_PASSWORD.replace(" ", "+") +
             "&next=/app/home")


def login_problems(status, headers, cookies):
    probs = []
    if status != 303:
        probs.append("status %s, want 303" % status)
    if headers.get("location") != "/app/home":
        probs.append("location %r, want /app/home" % headers.get("location"))
    if len(cookies) != 2 or not all(re.fullmatch(rx, c) for rx, c in zip(COOKIES, cookies)):
        probs.append("set-cookie %r" % cookies)
    return probs


class Login(threading.Thread):
    """One login POST on its own connection; records when it was sent and
    when its answer arrived (monotonic seconds)."""

    def __init__(self, port, body=BODY):
        super().__init__(daemon=True)
        self.port, self.body = port, body
        self.sent = threading.Event()
        self.t_sent = self.t_done = None
        self.result, self.error = None, None

    def run(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=LOGIN_TIMEOUT)
        try:
            data = self.body.encode()
            conn.putrequest("POST", "/app/auth/login", skip_host=True,
                            skip_accept_encoding=True)
            conn.putheader("Host", "authcore.test")
            for n, v in FORM:
                conn.putheader(n, v)
            conn.putheader("Content-Length", str(len(data)))
            conn.endheaders(data)
            self.t_sent = time.monotonic()
            self.sent.set()
            resp = conn.getresponse()
            resp.read()
            self.t_done = time.monotonic()
            hdrs = {k.lower(): v for k, v in resp.getheaders()}
            cookies = [v for k, v in resp.getheaders() if k.lower() == "set-cookie"]
            self.result = (resp.status, hdrs, cookies)
        except (OSError, http.client.HTTPException) as e:
            self.error = e
        finally:
            self.sent.set()
            conn.close()


def gets(port, label, n):
    """n sequential GETs on one keep-alive connection; returns a list of
    (status, from the upstream, start, end) in monotonic seconds."""
    out = []
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        for i in range(n):
            t0 = time.monotonic()
            conn.request("GET", "/open/%s-%d" % (label, i), headers={"Host": "authcore.test"})
            resp = conn.getresponse()
            resp.read()
            t1 = time.monotonic()
            out.append((resp.status, resp.getheader("x-echo") == "1", t0, t1))
    finally:
        conn.close()
    return out


def active_request(envoy, timeout=10.0):
    """Waits until Envoy's worker has taken the login (one active downstream
    request): headers and body came in one read, which the worker handles
    whole, so the check is queued before it reads anything we send next."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            c = http.client.HTTPConnection("127.0.0.1", envoy.admin_port, timeout=2)
            c.request("GET", "/stats?filter=^http%5C.authcore%5C.downstream_rq_active$")
            text = c.getresponse().read().decode()
            c.close()
            if re.search(r"downstream_rq_active: [1-9]", text):
                return True
        except (OSError, http.client.HTTPException):
            pass
        time.sleep(0.005)
    return False


def ms(seconds):
    return seconds * 1000.0


def audit_index(lines, pred):
    return [i for i, ln in enumerate(lines) if "authcore.decision" in ln and pred(ln)]


def non_blocking(envoy):
    """The main check: see the module docstring."""
    name = ("envoy: a pending login (600000 iterations) does not hold up %d other "
            "requests on the worker" % N_OTHERS)
    idle = gets(envoy.listen_port, "idle", N_OTHERS)
    login = Login(envoy.listen_port)
    login.start()
    if not login.sent.wait(10) or not active_request(envoy):
        return "not ok - %s: the login request did not reach Envoy" % name, None
    try:
        during = gets(envoy.listen_port, "during", N_OTHERS)
    except (OSError, http.client.HTTPException) as e:
        return "not ok - %s: a GET failed: %s" % (name, e), None
    login.join(LOGIN_TIMEOUT + 5)
    if login.is_alive() or login.error or login.result is None:
        return "not ok - %s: login failed: %s" % (name, login.error or "no answer"), None
    probs = ["login: " + p for p in login_problems(*login.result)]
    bad = [i for i, (st, up, _, _) in enumerate(during) if st != 200 or not up]
    if bad:
        probs.append("GETs %s were not answered 200 by the upstream" % bad)
    late = [i for i, (_, _, _, end) in enumerate(during) if end >= login.t_done]
    if late:
        probs.append("GETs %s finished after the login's answer (the login held them up)"
                     % late)
    lat = [ms(e - s) for _, _, s, e in during]
    lat_idle = [ms(e - s) for _, _, s, e in idle]
    figures = ("# login of %d iterations took %.0f ms (client); meanwhile %d GETs: "
               "p50 %.2f ms, max %.2f ms (idle: p50 %.2f ms, max %.2f ms)"
               % (ITERATIONS, ms(login.t_done - login.t_sent), N_OTHERS,
                  statistics.median(lat), max(lat), statistics.median(lat_idle),
                  max(lat_idle)))
    return probs, figures


def log_order(lines):
    """Envoy's side of the order: queued < every 'during' GET < the login."""
    queued = [i for i, ln in enumerate(lines) if "password check queued: " in ln]
    gets_i = audit_index(lines, lambda ln: '"path":"/open/during-' in ln)
    logins = audit_index(lines, lambda ln: '"path":"/app/auth/login"' in ln
                         and '"reason":"ok"' in ln)
    if not queued or len(gets_i) != N_OTHERS or not logins:
        return ["log: %d queued lines, %d GET audit lines (want %d), %d login lines"
                % (len(queued), len(gets_i), N_OTHERS, len(logins))]
    if not (queued[0] < min(gets_i) and max(gets_i) < logins[0]):
        return ["log order: queued at line %d, GETs decided at lines %d..%d, login at %d"
                % (queued[0], min(gets_i), max(gets_i), logins[0])]
    return []


def chunked_login(envoy):
    """A login body in three chunks, 50 ms apart: buffered until the end."""
    conn = http.client.HTTPConnection("127.0.0.1", envoy.listen_port, timeout=LOGIN_TIMEOUT)
    try:
        conn.putrequest("POST", "/app/auth/login", skip_host=True, skip_accept_encoding=True)
        conn.putheader("Host", "authcore.test")
        conn.putheader("Content-Type", "application/x-www-form-urlencoded")
        conn.putheader("Transfer-Encoding", "chunked")
        conn.endheaders()
        data = BODY.encode()
        thirds = [data[:10], data[10:25], data[25:]]
        for part in thirds:
            conn.send(b"%x\r\n%s\r\n" % (len(part), part))
            time.sleep(0.05)
        conn.send(b"0\r\n\r\n")
        resp = conn.getresponse()
        resp.read()
        hdrs = {k.lower(): v for k, v in resp.getheaders()}
        cookies = [v for k, v in resp.getheaders() if k.lower() == "set-cookie"]
        return login_problems(resp.status, hdrs, cookies)
    except (OSError, http.client.HTTPException) as e:
        return ["request failed: %s" % e]
    finally:
        conn.close()


def two_logins(envoy):
    """Two logins pending at once (round robin on the tick): both succeed."""
    a, b = Login(envoy.listen_port), Login(envoy.listen_port)
    a.start()
    b.start()
    probs = []
    for i, t in enumerate((a, b)):
        t.join(LOGIN_TIMEOUT + 5)
        if t.is_alive() or t.error or t.result is None:
            probs.append("login %d failed: %s" % (i, t.error or "no answer"))
        else:
            probs += ["login %d: %s" % (i, p) for p in login_problems(*t.result)]
    return probs


def abandoned_login(envoy):
    """The client sends a login and goes away while it is pending; the next
    request is still served."""
    data = BODY.encode()
    req = ("POST /app/auth/login HTTP/1.1\r\nHost: authcore.test\r\n"
           "Content-Type: application/x-www-form-urlencoded\r\n"
           "Content-Length: %d\r\n\r\n" % len(data)).encode() + data
    try:
        with socket.create_connection(("127.0.0.1", envoy.listen_port), timeout=5) as s:
            s.sendall(req)
            time.sleep(0.05)
        after = gets(envoy.listen_port, "after-abandon", 1)[0]
    except (OSError, http.client.HTTPException) as e:
        return ["request failed: %s" % e]
    if after[0] != 200 or not after[1]:
        return ["GET after the abandoned login: status %s" % after[0]]
    time.sleep(1.0)  # the check would have finished by now if it were not dropped
    return []


def abandoned_slots(envoy):
    """QUEUE_MAX slow logins (user leaver, whose attempts these abandoned
    checks spend) hold every slot; their clients close; a login right after
    is checked, not refused."""
    data = BODY.replace("username=slow", "username=leaver").encode()
    req = ("POST /app/auth/login HTTP/1.1\r\nHost: authcore.test\r\n"
           "Content-Type: application/x-www-form-urlencoded\r\n"
           "Content-Length: %d\r\n\r\n" % len(data)).encode() + data
    # each post's headers and body come in one read, which the worker
    # handles whole: an active stream is a queued check
    socks = []
    try:
        for _ in range(QUEUE_MAX):
            s = socket.create_connection(("127.0.0.1", envoy.listen_port), timeout=5)
            s.sendall(req)
            socks.append(s)
        deadline = time.monotonic() + 10
        while active_requests(envoy) < QUEUE_MAX and time.monotonic() < deadline:
            time.sleep(0.02)
        held = active_requests(envoy)
    finally:
        for s in socks:
            s.close()
    if held < QUEUE_MAX:
        return ["only %d of %d slow logins were queued" % (held, QUEUE_MAX)]
    time.sleep(0.1)
    login = Login(envoy.listen_port, MANY_BODY)
    login.start()
    login.join(LOGIN_TIMEOUT + 5)
    if login.error or login.result is None:
        return ["login after the aborted ones failed: %s" % (login.error or "no answer")]
    if login.result[0] != 303:
        return ["login 0.1 s after %d aborted ones: status %d, retry-after %r"
                % (QUEUE_MAX, login.result[0], login.result[1].get("retry-after"))]
    return []


def queue_cap(envoy):
    """QUEUE_MAX + 2 logins at once: QUEUE_MAX are checked (303), the
    others are answered 503 with Retry-After at once, before any success,
    by the core (its audit line, reason overloaded: counted once Envoy's
    log is flushed, in main)."""
    logins = [Login(envoy.listen_port, MANY_BODY) for _ in range(QUEUE_MAX + 2)]
    for t in logins:
        t.start()
    for t in logins:
        t.join(LOGIN_TIMEOUT + 5)
    probs = ["login failed: %s" % (t.error or "no answer") for t in logins
             if t.is_alive() or t.error or t.result is None]
    if probs:
        return probs, None
    ok = [t for t in logins if t.result[0] == 303]
    busy = [t for t in logins if t.result[0] == 503]
    if len(ok) != QUEUE_MAX or len(busy) != 2:
        probs.append("statuses %s, want %d x 303 and 2 x 503" % (
            sorted(t.result[0] for t in logins), QUEUE_MAX))
    for t in ok:
        probs += ["login: " + p for p in login_problems(*t.result)]
    for t in busy:
        if t.result[1].get("retry-after") != "1" or t.result[2]:
            probs.append("503 with retry-after %r and cookies %r" % (
                t.result[1].get("retry-after"), t.result[2]))
    if ok and busy and max(t.t_done for t in busy) >= min(t.t_done for t in ok):
        probs.append("a 503 came after a success: it waited for a check")
    fig = None
    if ok:
        fig = ("# queue cap: %d logins of %d iterations at once: %d checked in %.0f ms "
               "(last answer), %d answered 503 in at most %.0f ms"
               % (len(logins), QUEUE_ITERATIONS, len(ok),
                  ms(max(t.t_done - t.t_sent for t in ok)), len(busy),
                  ms(max((t.t_done - t.t_sent for t in busy), default=0))))
    return probs, fig


def active_requests(envoy):
    c = http.client.HTTPConnection("127.0.0.1", envoy.admin_port, timeout=2)
    try:
        c.request("GET", "/stats?filter=^http%5C.authcore%5C.downstream_rq_active$")
        m = re.search(r"downstream_rq_active: (\d+)", c.getresponse().read().decode())
        return int(m.group(1)) if m else -1
    finally:
        c.close()


def waiting_cap(envoy):
    """WAITING_MAX login posts whose body never comes, then two more:
    503 with Retry-After at once. After the first ones leave, a login
    succeeds (the list drained)."""
    head = ("POST /app/auth/login HTTP/1.1\r\nHost: authcore.test\r\n"
            "Content-Type: application/x-www-form-urlencoded\r\n"
            "Content-Length: %d\r\n\r\n" % len(BODY)).encode()
    held, probs = [], []
    try:
        for _ in range(WAITING_MAX):
            s = socket.create_connection(("127.0.0.1", envoy.listen_port), timeout=5)
            s.sendall(head)
            held.append(s)
        deadline = time.monotonic() + 10
        while active_requests(envoy) < WAITING_MAX and time.monotonic() < deadline:
            time.sleep(0.05)
        if active_requests(envoy) < WAITING_MAX:
            return ["Envoy did not take %d login posts" % WAITING_MAX]
        for i in range(2):
            t0 = time.monotonic()
            st, hdrs, cookies, _ = http_request(envoy.listen_port, "POST",
                                                "/app/auth/login", FORM, BODY)
            took = time.monotonic() - t0
            if st != 503 or hdrs.get("retry-after") != "1" or cookies:
                probs.append("post %d past the cap: %s, retry-after %r" % (
                    WAITING_MAX + i + 1, st, hdrs.get("retry-after")))
            elif took > 5:
                probs.append("503 after %.1f s, want at once" % took)
    finally:
        for s in held:
            s.close()
    deadline = time.monotonic() + 10
    while active_requests(envoy) > 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    login = Login(envoy.listen_port)
    login.start()
    login.join(LOGIN_TIMEOUT + 5)
    if login.is_alive() or login.error or login.result is None:
        probs.append("login after the posts left: %s" % (login.error or "no answer"))
    else:
        probs += ["login after the posts left: " + p for p in login_problems(*login.result)]
    return probs


def without_stop_iteration(envoy_bin, workdir, wasm, policy_text, port):
    """The misconfiguration: the filter must answer 500 after its wait and
    name the missing setting, not hold the request."""
    name = ("envoy: without allow_on_headers_stop_iteration a login post fails closed "
            "and the log names the setting")
    envoy = Envoy(envoy_bin, workdir, "no-stop-iteration", wasm, policy_text, port,
                  stop_iteration=False)
    try:
        state = envoy.wait()
        if state != "ready":
            return "not ok - %s: envoy %s: %s" % (name, state, envoy.log_tail())
        t0 = time.monotonic()
        try:
            status = http_request(envoy.listen_port, "POST", "/app/auth/login", FORM, BODY,
                                  timeout=20)[0]
        except (OSError, http.client.HTTPException) as e:
            return "not ok - %s: request failed: %s" % (name, e)
        took = time.monotonic() - t0
    finally:
        envoy.close()
    hint = [ln for ln in envoy.log_text().splitlines()
            if "allow_on_headers_stop_iteration: true" in ln]
    if status != 500 or not hint:
        return "not ok - %s: status %s after %.1f s, %d hint lines" % (
            name, status, took, len(hint))
    return "ok - %s (500 after %.1f s)" % (name, took)


def main():
    if "--serve" in sys.argv:
        serve(int(sys.argv[sys.argv.index("--serve") + 1]))
        return 0
    ap = argparse.ArgumentParser()
    ap.add_argument("--serve", type=int)
    args, envoy_bin = runner_args(ap)
    if not envoy_bin:
        return 1

    slow_hash = authformats.phc_pbkdf2_sha256(PASSWORD, ITERATIONS)
    many_hash = authformats.phc_pbkdf2_sha256(QUEUE_PASSWORD, QUEUE_ITERATIONS)
    echo, echo_port = start_upstream()
    envoy = None
    results, cap_fig = [], None
    try:
        envoy = Envoy(envoy_bin, args.workdir, "pending", os.path.abspath(args.wasm),
                      policy(slow_hash, many_hash), echo_port,
                      extra_args=["--component-log-level", "wasm:debug"])
        state = envoy.wait()
        if state != "ready":
            print("not ok - envoy pending checks: envoy %s: %s"
                  % (state, envoy.log_tail()), flush=True)
            return 1
        probs, figures = non_blocking(envoy)
        if isinstance(probs, str):
            print(probs, flush=True)
            probs = None
        results.append(("chunked", "envoy: a login body sent in three chunks is "
                        "buffered whole", chunked_login(envoy)))
        results.append(("two", "envoy: two logins pending at once both complete",
                        two_logins(envoy)))
        results.append(("abandon", "envoy: a login whose client leaves while pending "
                        "is dropped; the worker keeps serving", abandoned_login(envoy)))
        results.append(("slots", "envoy: %d logins whose clients leave while pending "
                        "give their slots back at once" % QUEUE_MAX, abandoned_slots(envoy)))
        cap_probs, cap_fig = queue_cap(envoy)
        results.append(("cap", "envoy: login.max_pending %d bounds the checks in "
                        "flight; past it the core answers 503 with Retry-After, at once"
                        % QUEUE_MAX, cap_probs))
        results.append(("waiting", "envoy: %d login posts waiting for their body per "
                        "worker at most; past that 503 with Retry-After, at once"
                        % WAITING_MAX, waiting_cap(envoy)))
        envoy.close()  # flushes the log
        misconfigured = without_stop_iteration(envoy_bin, args.workdir,
                                               os.path.abspath(args.wasm),
                                               policy(slow_hash, many_hash), echo_port)
    finally:
        if envoy is not None:
            envoy.close()
        stop(echo)

    lines = envoy.log_text().splitlines()
    name = ("envoy: a pending login (600000 iterations) does not hold up %d other "
            "requests on the worker" % N_OTHERS)
    if probs is not None:
        probs += log_order(lines)
        print("not ok - %s: %s" % (name, "; ".join(probs)) if probs else "ok - %s" % name,
              flush=True)
        print(figures, flush=True)
    for ln in lines:
        if "password checks run in slices" in ln:
            print("# " + ln.split("authcore: ", 1)[-1].split("authcore: ")[-1], flush=True)
            break
    timing = [ln.split("authcore: ")[-1] for ln in lines
              if "password check of %d iterations" % (ITERATIONS - 1) in ln
              or "password check of %d iterations" % ITERATIONS in ln]
    if timing:
        print("# first login in Envoy: " + timing[0], flush=True)
    dropped = [ln for ln in lines if "password check dropped" in ln]
    # the core's 503s of the cap check (the waiting list's are the filter's,
    # with no audit line)
    overloaded = audit_index(lines, lambda ln: '"reason":"overloaded"' in ln)
    for key, what, p in results:
        if key == "abandon" and not p and len(dropped) != 1 + QUEUE_MAX:
            p = ["%d 'password check dropped' debug lines, want %d (1, then %d in the "
                 "slots check)" % (len(dropped), 1 + QUEUE_MAX, QUEUE_MAX)]
        if key == "cap" and not p and len(overloaded) != 2:
            p = ["%d audit lines with reason overloaded, want 2" % len(overloaded)]
        if key == "abandon" and not p and len(timing) != 5:
            p = ["%d completed checks, want 5 (the abandoned one must not complete)"
                 % len(timing)]
        print("not ok - %s: %s" % (what, "; ".join(p)) if p else "ok - %s" % what,
              flush=True)
    if cap_fig:
        print(cap_fig, flush=True)
    print(misconfigured, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
