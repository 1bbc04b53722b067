"""The nginx module's login machinery, beyond the decision vectors.

Against Debian's nginx with the authcore module in front of
tests/lib/echo.py (loopback only, every wait bounded):
- a login whose password hash has 600,000 PBKDF2 iterations does not stall
  the worker (worker_processes 1): GETs sent while it is pending all finish
  before it, both as the client sees it and in nginx's own access log (they
  start after the login starts and end before it ends); the login then
  succeeds. Once with the thread pool, once with event-loop slices
  (`authcore_thread_pool off`). Prints "# " lines with the figures.
- a client that leaves while its login is pending: nginx logs 499, the
  worker keeps serving and logs no alert or crash, and the abandoned
  attempt still counts (three abandoned wrong guesses, then a right one:
  429).
- login bodies nginx reads chunked, over the cap while chunked, and written
  to a temporary file (small client_body_buffer_size).
- the attempt counters live in shared memory: with 4 workers (reuseport),
  failures counted by one worker refuse the attempt another worker serves;
  they survive a reload, and a login pending during the reload completes.
- `nginx -t` refuses half an administrator in the environment and an
  undeclared thread pool.
- a named thread pool whose queue is full: the checks that do not fit step
  on the event loop instead, and every login succeeds.

Prints "ok - ...", "not ok - ...: why" per check.
Usage: python3 nginx_login.py [MODULE.so]
"""
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import nginx_vectors as nv  # noqa: E402
from nginx_vectors import Fail, Nginx, Stopped, not_ok, ok, send_full  # noqa: E402

CLI = nv.CLI
SLOW_ITERATIONS = 600000
PASSWORD = "stall-test-password-1"
N_GETS = 20
WAIT = 30.0  # bound on any single wait below
FORM = [("Content-Type", "application/x-www-form-urlencoded")]
TIMING_LOG = """    log_format authcore_timing '$pid $msec $request_time $status "$request"';
    access_log {d}/timing.log authcore_timing;
    add_header X-Worker $pid always;
"""


def policy(slow_hash, quick_hash):
    users = [{"name": n, "password_hash": slow_hash, "roles": ["admin"]}
             for n in ("slow", "leaver")]
    users += [{"name": n, "password_hash": quick_hash, "roles": ["viewer"]}
              for n in ("quick", "shared", "reloader")]
    return json.dumps({
        "realm": "stall",
        "sessions": {"keys": [{"kid": "s1", "secret": "nginx-login-test-session-key-0123456789"}],
                     "cookie": "s", "csrf_cookie": "c", "ttl": 3600},
        "users": users,
        "login": {"prefix": "/dash", "attempts": "3 per 10 minutes"},
        "public": ["/pub/*"],
        "default": "authenticated",
    })


def login_body(user, password=PASSWORD, pad=0):
    body = "username=%s&password=%s&next=/dash/x" % (user, password)
    return ("pad=%s&" % ("a" * pad) if pad else "") + body


def timing(d):
    """nginx's access log: [(pid, start, end, status, request line)], in
    milliseconds of nginx's clock."""
    out = []
    try:
        with open(os.path.join(d, "timing.log")) as f:
            for line in f:
                m = re.match(r'(\d+) (\d+)\.(\d+) (\d+)\.(\d+) (\d+) "(.*)"', line)
                if m:
                    end = int(m.group(2)) * 1000 + int(m.group(3))
                    took = int(m.group(4)) * 1000 + int(m.group(5))
                    out.append((int(m.group(1)), end - took, end, int(m.group(6)),
                                m.group(7)))
    except OSError:
        pass
    return out


def wait_for(pred, timeout=WAIT):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.02)
    return pred()


def log_problems(d):
    """Alerts, crashes and worse in error.log."""
    bad = []
    try:
        with open(os.path.join(d, "error.log"), errors="replace") as f:
            for line in f:
                if re.search(r"\[(alert|crit|emerg)\]|exited on signal", line):
                    bad.append(line.strip()[:200])
    except OSError as e:
        bad.append(str(e))
    return bad


def raw_post(port, path, headers, chunks):
    """A POST over a plain socket with Transfer-Encoding: chunked, one chunk
    per item of chunks; returns (status, set-cookies, body)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
    try:
        head = "POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n" % path
        head += "".join("%s: %s\r\n" % h for h in headers) + "\r\n"
        s.sendall(head.encode())
        for c in chunks:
            s.sendall(b"%x\r\n%s\r\n" % (len(c), c.encode()))
        s.sendall(b"0\r\n\r\n")
        resp = http.client.HTTPResponse(s)
        resp.begin()
        body = resp.read()
        return resp.status, resp.headers.get_all("set-cookie") or [], body
    finally:
        s.close()


def get_latencies(ngx, n, tag):
    """n GETs of public paths one after the other: (sorted latencies in
    seconds, completion times, problems)."""
    lat, done, probs = [], [], []
    for i in range(n):
        t = time.monotonic()
        try:
            status, hdrs, _, _ = send_full(ngx.port, "GET", "/pub/%s%d" % (tag, i), [],
                                           timeout=WAIT)
        except (OSError, http.client.HTTPException) as e:
            probs.append("GET %d failed: %r" % (i, e))
            break
        done.append(time.monotonic())
        lat.append(done[-1] - t)
        if status != 200 or hdrs.get("x-echo") != "1":
            probs.append("GET %d: status %s" % (i, status))
    return sorted(lat), done, probs


def ms(lat):
    return "p50 %.1f ms, max %.1f ms" % (lat[len(lat) // 2] * 1000, lat[-1] * 1000)


def check_stall(d, ngx, mode):
    name = "login in progress does not stall the worker (%s)" % mode
    res = {}
    # the same GETs with nothing else going on, for comparison
    idle, _, probs = get_latencies(ngx, N_GETS, "idle")
    if probs:
        not_ok(name, "; ".join(probs))
        return
    wait_for(lambda: len(timing(d)) >= N_GETS)
    skip = len(timing(d))

    def login():
        t0 = time.monotonic()
        try:
            res["resp"] = send_full(ngx.port, "POST", "/dash/auth/login", FORM,
                                    login_body("slow"), timeout=WAIT)
        except (OSError, http.client.HTTPException) as e:
            res["err"] = e
        res["t"] = (t0, time.monotonic())

    th = threading.Thread(target=login, daemon=True)
    th.start()
    # lets nginx read the login before the GETs come; that it did is
    # checked below from nginx's own clock
    time.sleep(0.05)
    lat, done, probs = get_latencies(ngx, N_GETS, "busy")
    th.join(WAIT)
    if th.is_alive() or "t" not in res:
        not_ok(name, "login did not finish")
        return
    if "err" in res:
        not_ok(name, "login failed: %r" % res["err"])
        return
    status, hdrs, cookies, _ = res["resp"]
    login_t0, login_t1 = res["t"]
    if status != 303 or len(cookies) != 2 or hdrs.get("location") != "/dash/x":
        probs.append("login answered %s, %d cookies, location %r"
                     % (status, len(cookies), hdrs.get("location")))
    if done and max(done) >= login_t1:
        probs.append("client: %d of %d GETs finished after the login"
                     % (sum(1 for t in done if t >= login_t1), len(done)))
    # nginx logs a request after its answer went out
    wait_for(lambda: len(timing(d)) >= skip + N_GETS + 1)
    rows = timing(d)[skip:]
    logins = [r for r in rows if r[4].startswith("POST /dash/auth/login")]
    gets = [r for r in rows if r[4].startswith("GET /pub/")]
    if len(logins) != 1 or len(gets) != N_GETS:
        probs.append("access log has %d logins, %d GETs" % (len(logins), len(gets)))
    else:
        _, ls, le, _, _ = logins[0]
        early = [g for g in gets if g[1] < ls]
        late = [g for g in gets if g[2] > le]
        if early:
            probs.append("nginx: %d GETs started before the login" % len(early))
        if late:
            probs.append("nginx: %d GETs ended after the login (login %d..%d ms, last GET end %d)"
                         % (len(late), ls, le, max(g[2] for g in gets)))
    if probs:
        not_ok(name, "; ".join(probs))
        return
    print("# nginx %s: login with %d PBKDF2 iterations took %.0f ms; %d GETs meanwhile: "
          "%s (idle: %s)" % (mode, SLOW_ITERATIONS, (login_t1 - login_t0) * 1000, len(lat),
                             ms(lat), ms(idle)), flush=True)
    ok(name + " (%d GETs done before the login)" % len(lat))


def check_abort(d, ngx, mode):
    name = "client leaving a pending login (%s)" % mode
    probs = []
    body = login_body("leaver", "wrong-guess").encode()
    req = (b"POST /dash/auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\n"
           b"Content-Type: application/x-www-form-urlencoded\r\n"
           b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
    def logins():
        return [r[3] for r in timing(d) if r[4].startswith("POST /dash/auth/login")]
    for i in range(3):
        before = len(logins())
        s = socket.create_connection(("127.0.0.1", ngx.port), timeout=WAIT)
        try:
            s.sendall(req)
            time.sleep(0.05)  # the check is under way (it takes far longer)
        finally:
            s.close()
        # the check is abandoned, then nginx logs the request
        if not wait_for(lambda: len(logins()) > before):
            probs.append("abandoned login %d never ended" % (i + 1))
            break
        status, _, _, _ = send_full(ngx.port, "GET", "/pub/alive", [], timeout=WAIT)
        if status != 200:
            probs.append("GET after abandoned login %d: %s" % (i + 1, status))
    statuses = logins()
    if statuses[-3:] != [499, 499, 499]:
        probs.append("abandoned logins logged %s, want 499s" % statuses[-3:])
    # the three abandoned wrong guesses counted: the right password is refused
    status, _, cookies, body = send_full(ngx.port, "POST", "/dash/auth/login", FORM,
                                         login_body("leaver"), timeout=WAIT)
    if status != 429 or cookies:
        probs.append("login after 3 abandoned wrong guesses: %s, %d cookies, want 429"
                     % (status, len(cookies)))
    probs += log_problems(d)
    if probs:
        not_ok(name, "; ".join(probs[:4]))
    else:
        ok(name + ": 499 logged, attempts still counted, worker serving")


def check_bodies(d, ngx):
    name = "login body sent chunked"
    try:
        status, cookies, _ = raw_post(ngx.port, "/dash/auth/login", FORM,
                                      ["username=quick&pass", "word=" + PASSWORD, "&next=/dash/x"])
        if status == 303 and len(cookies) == 2:
            ok(name)
        else:
            not_ok(name, "status %s, %d cookies" % (status, len(cookies)))
    except (OSError, http.client.HTTPException) as e:
        not_ok(name, "request failed: %r" % e)

    name = "chunked login body over 8192 bytes is refused"
    try:
        big = login_body("quick", pad=9000)
        status, cookies, _ = raw_post(ngx.port, "/dash/auth/login", FORM,
                                      [big[i:i + 1000] for i in range(0, len(big), 1000)])
        ev = nv.audit_events(os.path.join(d, "error.log"))
        last = ev[-1] if ev else {}
        if status == 413 and not cookies and "body_too_large" in set(nv.strings_in(last)):
            ok(name)
        else:
            not_ok(name, "status %s, %d cookies, audit %s" % (status, len(cookies),
                                                               json.dumps(last)[:200]))
    except (OSError, http.client.HTTPException) as e:
        not_ok(name, "request failed: %r" % e)

    name = "login body nginx wrote to a temporary file"
    try:
        status, _, cookies, _ = send_full(ngx.port, "POST", "/dash/auth/login", FORM,
                                          login_body("quick", pad=4000), timeout=WAIT)
        if status == 303 and len(cookies) == 2:
            ok(name)
        else:
            not_ok(name, "status %s, %d cookies" % (status, len(cookies)))
    except (OSError, http.client.HTTPException) as e:
        not_ok(name, "request failed: %r" % e)


def check_shared(d, ngx):
    name = "attempt counters are shared by the workers"
    probs = []
    pids = []
    for i in range(3):
        status, hdrs, _, _ = send_full(ngx.port, "POST", "/dash/auth/login", FORM,
                                       login_body("shared", "wrong-%d" % i), timeout=WAIT)
        pids.append(hdrs.get("x-worker"))
        if status != 401:
            probs.append("wrong guess %d: %s, want 401" % (i + 1, status))
    # the right password, from fresh connections, until another worker
    # than the first one answers: every answer is 429
    other = None
    for i in range(40):
        status, hdrs, _, _ = send_full(ngx.port, "POST", "/dash/auth/login", FORM,
                                       login_body("shared"), timeout=WAIT)
        if status != 429:
            probs.append("attempt from worker %s: %s, want 429" % (hdrs.get("x-worker"), status))
            break
        if hdrs.get("x-worker") not in (None, pids[0]):
            other = hdrs.get("x-worker")
            break
    if other is None and not probs:
        probs.append("40 connections all reached worker %s" % pids[0])
    probs += log_problems(d)
    if probs:
        not_ok(name, "; ".join(probs[:4]))
    else:
        ok(name + " (failures via worker %s, refused by worker %s)" % (pids[0], other))


def concurrent_logins(ngx, n, user):
    """n logins at once; returns their (status, cookies) or exceptions."""
    out = [None] * n

    def go(i):
        try:
            st, _, cookies, _ = send_full(ngx.port, "POST", "/dash/auth/login", FORM,
                                          login_body(user), timeout=WAIT)
            out[i] = (st, len(cookies))
        except (OSError, http.client.HTTPException) as e:
            out[i] = e
    ths = [threading.Thread(target=go, args=(i,), daemon=True) for i in range(n)]
    for t in ths:
        t.start()
    for t in ths:
        t.join(WAIT)
    return out


def check_overflow(d, ngx, _mode):
    name = "thread pool queue full: checks step on the event loop"
    # 3 at once: one runs, one waits in the queue of 1, one overflows;
    # each counts as an attempt while under way (limit 3), so a 4th would
    # rightly be refused
    got = concurrent_logins(ngx, 3, "slow")
    overflow = False
    try:
        with open(os.path.join(d, "error.log"), errors="replace") as f:
            overflow = "queue overflow" in f.read()
    except OSError:
        pass
    probs = []
    if got != [(303, 2)] * 3:
        probs.append("3 concurrent logins answered %s, want 303 with 2 cookies each" % got)
    if not overflow:
        probs.append("no \"queue overflow\" in error.log: the fallback did not run")
    probs += log_problems(d)
    if probs:
        not_ok(name, "; ".join(probs[:4]))
    else:
        ok(name + " (3 logins, pool of 1 thread with a queue of 1)")


def check_reload(d, ngx, _mode):
    name = "reload during a pending login; attempt counters survive it"
    probs = []
    for i in range(3):
        st, hdrs, _, _ = send_full(ngx.port, "POST", "/dash/auth/login", FORM,
                                   login_body("reloader", "wrong-%d" % i), timeout=WAIT)
        if st != 401:
            probs.append("wrong guess %d: %s" % (i + 1, st))
    old = hdrs.get("x-worker")
    res = {}

    def login():
        try:
            res["r"] = send_full(ngx.port, "POST", "/dash/auth/login", FORM,
                                 login_body("slow"), timeout=WAIT)
        except (OSError, http.client.HTTPException) as e:
            res["r"] = e
    th = threading.Thread(target=login, daemon=True)
    th.start()
    time.sleep(0.05)  # the check is under way
    ngx.proc.send_signal(signal.SIGHUP)
    th.join(WAIT)
    r = res.get("r")
    if not isinstance(r, tuple) or r[0] != 303 or len(r[2]) != 2:
        probs.append("login pending across the reload: %r" % (r if not isinstance(r, tuple)
                                                              else r[:1] + (r[2],)))

    def new_worker():
        st, h, _, _ = send_full(ngx.port, "GET", "/pub/reload", [], timeout=WAIT)
        return st == 200 and h.get("x-worker") not in (None, old)
    if not wait_for(new_worker):
        probs.append("no new worker after the reload")
    st, _, cookies, _ = send_full(ngx.port, "POST", "/dash/auth/login", FORM,
                                  login_body("reloader"), timeout=WAIT)
    if st != 429:
        probs.append("right password after 3 wrong guesses and a reload: %s, want 429" % st)
    probs += log_problems(d)
    if probs:
        not_ok(name, "; ".join(probs[:4]))
    else:
        ok(name)


def check_config(echo_port, pol):
    """nginx -t: an administrator half given in the environment, and an
    undeclared thread pool, are refused naming the culprit."""
    cases = [("nginx -t refuses AUTHCORE_ADMIN_USER without the hash",
              {"AUTHCORE_ADMIN_USER": "root"}, "", "$env.AUTHCORE_ADMIN_PASSWORD_HASH"),
             ("nginx -t refuses an undeclared authcore_thread_pool", {},
              "    authcore_thread_pool nosuch;\n", 'unknown thread pool "nosuch"')]
    for name, env, http_extra, want in cases:
        with tempfile.TemporaryDirectory(prefix="authcore-nginx-t-") as d:
            pf = os.path.join(d, "policy.json")
            nv.write(pf, pol)
            conf = os.path.join(d, "nginx.conf")
            nv.write(conf, nv.nginx_conf(d, nv.free_port(), echo_port, pf,
                                         http_extra=http_extra))
            p = nv.spawn([nv.NGINX, "-t", "-p", d, "-c", conf], stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, env=nv.nginx_env(env))
            try:
                out = p.communicate(timeout=WAIT)[0].decode(errors="replace")
            except subprocess.TimeoutExpired:
                nv.stop(p)
                out = "timed out"
            if p.returncode not in (0, None) and want in out:
                ok(name)
            else:
                not_ok(name, "exit %s: %s" % (p.returncode, out.strip()[-300:]))


def run(echo_port, pol, mode, checks, workers=1, listen_extra="", http_extra="",
        main_extra=""):
    with tempfile.TemporaryDirectory(prefix="authcore-nginx-login-") as d:
        os.chmod(d, 0o755)  # nginx workers may run as another user
        ngx = Nginx(d, echo_port, pol, workers=workers, listen_extra=listen_extra,
                    http_extra=TIMING_LOG.format(d=d) + http_extra, main_extra=main_extra)
        try:
            ngx.start()
            for check in checks:
                check(d, ngx, mode)
        finally:
            ngx.stop()


def main():
    def body():
        pol = policy(nv.hash_password(PASSWORD, SLOW_ITERATIONS), nv.hash_password(PASSWORD, 1000))
        _, echo_port = nv.hostkit.start_echo(nv.spawn)
        check_config(echo_port, pol)
        run(echo_port, pol, "thread pool", [check_stall, check_abort])
        run(echo_port, pol, "event-loop slices", [check_stall, check_abort],
            http_extra="    authcore_thread_pool off;\n")
        run(echo_port, pol, "bodies", [lambda d, ngx, _: check_bodies(d, ngx)],
            http_extra="    client_body_buffer_size 1k;\n")
        run(echo_port, pol, "shared", [lambda d, ngx, _: check_shared(d, ngx), check_reload],
            workers=4, listen_extra=" reuseport")
        run(echo_port, pol, "small pool", [check_overflow],
            main_extra="thread_pool authcore_small threads=1 max_queue=1;\n",
            http_extra="    authcore_thread_pool authcore_small;\n")
    return nv.run_suite(body, "suite", tools=[("cli", CLI, "not built (make all)")],
                        catch=(Fail, Stopped, OSError, RuntimeError))


if __name__ == "__main__":
    sys.exit(main())
