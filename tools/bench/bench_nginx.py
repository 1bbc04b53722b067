"""make bench-nginx: ES256 requests per second through nginx with the authcore
module, two builds of the module side by side in one run.

Each configuration is Debian's nginx (worker_processes 1 or 2, `listen ...
reuseport`, loopback only) with `authcore_policy` on `location /`, which
proxies over keep-alive connections to a `return 200` server in the same
nginx (authcore_policy off there). One ES256 (P-256) token, minted here with
Python's `cryptography`, goes with every request; wrk (Debian's `wrk`) runs
for SECONDS per configuration. Before each run a request with the token must
get 200 and one without it 401, and a run counting any non-2xx answer is
reported as failed. During each run the workers' main threads are sampled
every 5 ms (/proc/PID/syscall): the share of samples in which a worker is
asleep in futex(2) is the time it waits for the shared zone's mutex (the
module's only lock; nginx's accept mutex is off with reuseport). The builds
alternate (A B, then B A, ...) for ROUNDS
rounds; the table gives the median requests/s of each, the ratio after /
before, and the 2-worker / 1-worker ratio of each build. The figures are
measurements, never assertions.

Usage: python3 bench_nginx.py --before A.so --after B.so
       [--seconds 10] [--rounds 3] [--connections 32] [--threads 2] [--out FILE]
"""
import argparse
import datetime
import http.client
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import jwt  # PyJWT, from build/venv (tools/requirements.txt)
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

NGINX = os.environ.get("AUTHCORE_NGINX", "/usr/sbin/nginx")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def keys():
    priv = ec.generate_private_key(ec.SECP256R1())
    pub = priv.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo)
    now = int(time.time())
    tok = jwt.encode({"sub": "bench", "roles": ["reader"], "iat": now, "exp": now + 86400},
                     priv, algorithm="ES256", headers={"kid": "e1"})
    return pub.decode(), tok


def conf(d, module, workers, port, up_port, serve_upstream=True):
    """nginx.conf for folder d: `location /` proxies to 127.0.0.1:up_port
    with the module's policy d/policy.json (module None: no module, the
    same proxy without it); serve_upstream: this nginx also serves the
    `return 200` upstream on up_port (else another process does)."""
    load = "load_module %s;" % module if module else ""
    policy = "authcore_policy %s/policy.json;" % d if module else ""
    upstream = """
    server {{
        listen 127.0.0.1:{up} reuseport;
        location / {{
            return 200 "ok\\n";
        }}
    }}""".format(up=up_port) if serve_upstream else ""
    return """daemon off;
master_process on;
worker_processes {workers};
{load}
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {d}/cb;
    proxy_temp_path {d}/px;
    fastcgi_temp_path {d}/fc;
    uwsgi_temp_path {d}/uw;
    scgi_temp_path {d}/sc;
    upstream up {{
        server 127.0.0.1:{up};
        keepalive 64;
    }}
    server {{
        listen 127.0.0.1:{port} reuseport;
        location / {{
            {policy}
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_pass http://up;
        }}
    }}{upstream}
}}
""".format(d=d, load=load, policy=policy, workers=workers, port=port, up=up_port,
           upstream=upstream)


def get(port, headers):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        c.request("GET", "/api/items", headers=headers)
        r = c.getresponse()
        r.read()
        return r.status
    finally:
        c.close()


def wait_port(port, proc, timeout=10.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False


def stop(proc):
    for sig in (signal.SIGQUIT, signal.SIGTERM, signal.SIGKILL):
        if proc.poll() is not None:
            return
        proc.send_signal(sig)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass


SYS_FUTEX = "202"  # x86-64


class Sampler(threading.Thread):
    """Samples the main thread of each nginx worker: (futex, samples)."""

    def __init__(self, master_pid):
        super().__init__(daemon=True)
        self.master = master_pid
        self.halt = threading.Event()
        self.futex = 0
        self.samples = 0

    def workers(self):
        try:
            with open("/proc/%d/task/%d/children" % (self.master, self.master)) as f:
                return [int(x) for x in f.read().split()]
        except OSError:
            return []

    def run(self):
        pids = self.workers()
        while not self.halt.wait(0.005):
            for pid in pids:
                try:
                    with open("/proc/%d/syscall" % pid) as f:
                        nr = f.read().split(" ", 1)[0]
                except OSError:
                    continue
                self.samples += 1
                self.futex += nr == SYS_FUTEX


def run_one(module, workers, pub, tok, args):
    """(requests/s, share of worker samples asleep on futex) of one wrk
    run, or an error string."""
    d = tempfile.mkdtemp(prefix="authcore-bench-nginx-")
    os.chmod(d, 0o755)
    proc = None
    try:
        with open(os.path.join(d, "policy.json"), "w") as f:
            json.dump({"jwt": {"keys": [{"kid": "e1", "alg": "ES256", "pem": pub}],
                               "user_claim": "sub", "roles_claim": "roles"},
                       "default": "authenticated"}, f)
        port, up = free_port(), free_port()
        with open(os.path.join(d, "nginx.conf"), "w") as f:
            f.write(conf(d, module, workers, port, up))
        proc = subprocess.Popen([NGINX, "-p", d, "-c", os.path.join(d, "nginx.conf")],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if not wait_port(port, proc):
            with open(os.path.join(d, "error.log"), errors="replace") as f:
                return "nginx did not start: " + f.read()[-300:]
        auth = {"Authorization": "Bearer " + tok}
        if get(port, auth) != 200 or get(port, {}) != 401:
            return "the policy does not answer 200 with the token and 401 without"
        sampler = Sampler(proc.pid)
        sampler.start()
        out = subprocess.run(
            ["wrk", "-t", str(args.threads), "-c", str(args.connections),
             "-d", "%ds" % args.seconds, "-H", "Authorization: Bearer " + tok,
             "http://127.0.0.1:%d/api/items" % port],
            capture_output=True, text=True, timeout=args.seconds + 60).stdout
        sampler.halt.set()
        sampler.join()
        m = re.search(r"Requests/sec:\s+([0-9.]+)", out)
        if not m:
            return "no wrk figure: " + out[-300:]
        if "Non-2xx" in out or re.search(r"Socket errors:.*(read|write|timeout) [1-9]", out):
            return "wrk saw errors: " + " | ".join(out.splitlines()[-4:])
        return float(m.group(1)), sampler.futex / max(sampler.samples, 1)
    finally:
        if proc is not None:
            stop(proc)
        shutil.rmtree(d, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--before", required=True)
    ap.add_argument("--after", required=True)
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    if shutil.which("wrk") is None:
        print("wrk not found (Debian package wrk)", file=sys.stderr)
        return 1
    mods = {"before": os.path.abspath(args.before), "after": os.path.abspath(args.after)}
    pub, tok = keys()
    res = {(s, w): [] for s in mods for w in (1, 2)}
    wait = {(s, w): [] for s in mods for w in (1, 2)}
    failed = []
    order = ["before", "after"]
    for rnd in range(args.rounds):
        for w in (1, 2):
            for side in (order if rnd % 2 == 0 else order[::-1]):
                r = run_one(mods[side], w, pub, tok, args)
                if isinstance(r, str):
                    failed.append("%s, %d worker(s), round %d: %s" % (side, w, rnd + 1, r))
                    print("# FAILED %s" % failed[-1], flush=True)
                else:
                    res[(side, w)].append(r[0])
                    wait[(side, w)].append(r[1])
                    print("# round %d, %d worker(s), %s: %.0f req/s, %.0f%% of worker samples "
                          "on the lock" % (rnd + 1, w, side, r[0], 100 * r[1]), flush=True)

    def med(side, w, table=res):
        v = table[(side, w)]
        return statistics.median(v) if v else float("nan")

    lines = [
        "# nginx + authcore, ES256 (P-256) token on every request",
        "",
        "%s; %s; %d cores; wrk -t%d -c%d, %d s runs, %d rounds alternating, medians" % (
            datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            subprocess.run([NGINX, "-v"], capture_output=True, text=True).stderr.strip(),
            os.cpu_count() or 0, args.threads, args.connections, args.seconds, args.rounds),
        "before: %s" % mods["before"],
        "after:  %s" % mods["after"],
        "",
        "| workers | before req/s | after req/s | after / before "
        "| before: on the lock | after: on the lock |",
        "|---|---|---|---|---|---|",
    ]
    for w in (1, 2):
        b, a = med("before", w), med("after", w)
        lines.append("| %d | %.0f | %.0f | %.2f | %.0f%% | %.0f%% |" % (
            w, b, a, a / b if b else float("nan"), 100 * med("before", w, wait),
            100 * med("after", w, wait)))
    lines.append("")
    lines.append("2 workers / 1 worker: before %.2f, after %.2f" % (
        med("before", 2) / med("before", 1), med("after", 2) / med("after", 1)))
    lines.append("runs (req/s): " + "; ".join(
        "%s %dw %s" % (s, w, ",".join("%.0f" % x for x in res[(s, w)]))
        for s in mods for w in (1, 2)))
    for f in failed:
        lines.append("FAILED: " + f)
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        with open(args.out, "w") as f:
            f.write(text)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
