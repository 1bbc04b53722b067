"""make bench-python: what authcore costs an ASGI app's request, in the
process and in front of it, against the app's own auth, in one run.

The app: fastapi-taskflow 0.12.1 (build/apps-venv, tests/apps/requirements.txt),
one uvicorn worker each, one request repeated: GET /tasks/metrics with the
same taskflow_token cookie (HS256, sub alice, as taskflow's create_token
makes it), which every configuration verifies:
 (a) in-process: TaskAdmin without auth inside AuthcoreMiddleware
     (hosts/python) with the policy of docs/migrating/fastapi-taskflow.md,
     whose jwt reads that cookie;
 (b) own: TaskAdmin with auth= and the same secret_key, taskflow's own
     guard (PyJWT) on every request, no authcore;
 (c) nginx: Debian's nginx (1 worker) with build/nginx/ngx_http_authcore_module.so
     and the same policy in front of the app without auth.
Before the run each must answer 200 with the cookie and 401 (or taskflow's
redirect) without it. Then wrk (Debian, one thread, 8 connections) loads
each for --seconds in turn, the order rotating each round, for --rounds
rounds; the table gives each one's median requests/s and its ratio to (b).
A run with any non-2xx answer fails. Figures are benchmarks, not
assertions; the table goes to stdout and build/bench/python.md.
"""
import argparse
import importlib.util
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import time

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(TOP, "tests", "lib"))
sys.path.insert(0, os.path.join(TOP, "tests", "docs"))
from blocks import blocks  # noqa: E402
from hostkit import free_port, stop, wait_port  # noqa: E402

_spec = importlib.util.spec_from_file_location("browser_hosts", os.path.join(TOP, "tests", "browser", "run.py"))
hosts = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(hosts)

PY = os.path.join(TOP, "build", "apps-venv", "bin", "python")
APP = os.path.join(TOP, "tools", "bench", "python_app.py")
OUT = os.path.join(TOP, "build", "bench", "python")
PATH = "/tasks/metrics"


def token():
    sys.path.insert(0, os.path.join(TOP, "tools", "bench"))
    from python_app import SECRET
    out = subprocess.run([PY, "-c", "from fastapi_taskflow.auth import create_token; "
                          "print(create_token(%r, 7200, username='alice'))" % SECRET],
                         capture_output=True, text=True, timeout=60)
    if out.returncode != 0:
        sys.exit("python_ab: no token: " + out.stderr[-300:])
    return out.stdout.strip()


def policy():
    found = [b for b in blocks(os.path.join(TOP, "docs", "migrating", "fastapi-taskflow.md"))
             if b.kind == "policy"]
    return found[0].text


def status(port, cookie=None):
    import http.client
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        c.request("GET", PATH, headers={"Cookie": "taskflow_token=" + cookie} if cookie else {})
        return c.getresponse().status
    finally:
        c.close()


def wrk(port, cookie, seconds):
    cmd = ["wrk", "-t1", "-c8", "-d%ds" % seconds, "-H", "Cookie: taskflow_token=" + cookie,
           "http://127.0.0.1:%d%s" % (port, PATH)]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 30).stdout
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if not m:
        return None, "wrk printed no Requests/sec: %s" % out[-200:]
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return float(m.group(1)), ("%s non-2xx answers" % bad.group(1)) if bad else None


def start_app(mode, log, policy_file=None):
    port = free_port()
    args = [PY, APP, mode, str(port)] + ([policy_file] if policy_file else [])
    with open(log, "wb") as f:
        p = subprocess.Popen(args, stdout=f, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    if not wait_port(port, p, 30.0):
        stop(p)
        sys.exit("python_ab: %s app did not start: %s" % (mode, hosts.tail(log)))
    return p, port


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=int(os.environ.get("BENCH_PYTHON_SECONDS", "10")))
    ap.add_argument("--rounds", type=int, default=int(os.environ.get("BENCH_PYTHON_ROUNDS", "3")))
    a = ap.parse_args()
    os.makedirs(OUT, exist_ok=True)
    pol = policy()
    pf = os.path.join(OUT, "policy.json")
    with open(pf, "w") as f:
        f.write(pol)
    cookie = token()
    procs = []
    try:
        inproc, p_in = start_app("inproc", os.path.join(OUT, "inproc.log"), pf)
        procs.append((inproc, signal.SIGTERM))
        own, p_own = start_app("own", os.path.join(OUT, "own.log"))
        procs.append((own, signal.SIGTERM))
        plain, p_plain = start_app("plain", os.path.join(OUT, "plain.log"))
        procs.append((plain, signal.SIGTERM))
        try:
            ngx, p_ngx = hosts.start_nginx(OUT, pol, {}, p_plain)
        except RuntimeError as e:
            sys.exit("python_ab: %s" % e)
        procs.append((ngx, signal.SIGQUIT))
        rows = [("(a) AuthcoreMiddleware in-process", p_in), ("(b) taskflow's own auth", p_own),
                ("(c) nginx + authcore in front", p_ngx)]
        for name, port in rows:
            ok, no = status(port, cookie), status(port)
            if ok != 200 or no not in (401, 302, 303):
                sys.exit("python_ab: %s answers %s with the cookie, %s without" % (name, ok, no))
        runs = {name: [] for name, _ in rows}
        for r in range(a.rounds):
            order = rows[r % len(rows):] + rows[:r % len(rows)]
            for name, port in order:
                rps, problem = wrk(port, cookie, a.seconds)
                if problem:
                    sys.exit("python_ab: %s: %s" % (name, problem))
                runs[name].append(rps)
        base = statistics.median(runs[rows[1][0]])
        lines = ["| configuration | req/s (each run) | median | vs own auth |", "|---|---|---|---|"]
        for name, _ in rows:
            med = statistics.median(runs[name])
            lines.append("| %s | %s | %.0f | %.2fx |" % (name, ", ".join("%.0f" % x for x in runs[name]),
                                                       med, med / base))
        head = ("fastapi-taskflow 0.12.1, GET %s with a taskflow_token cookie, uvicorn 1 worker, "
                "wrk -t1 -c8, %d s x %d rounds, order rotating" % (PATH, a.seconds, a.rounds))
        text = head + "\n\n" + "\n".join(lines) + "\n"
        print(text)
        with open(os.path.join(TOP, "build", "bench", "python.md"), "w") as f:
            f.write(text)
    finally:
        for p, sig in reversed(procs):
            stop(p, sig)


if __name__ == "__main__":
    main()
