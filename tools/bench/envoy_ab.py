"""make bench-envoy: this tree's Envoy filter (B) against another revision's
(A, default `main`; ENVOY_AB_BASE or --base), side by side in one run.

Both filters are built on this tree's core (tools/bench/bench.mk builds A
from the revision's hosts/proxy-wasm/authcore_proxy.c), so only the shims
differ. Two Envoys (V8, --concurrency 1, log level warning) run at once, each
with its filter and the same policy, in front of a direct_response route (no
upstream process to saturate first). For each row, wrk (Debian `wrk`, one
thread, 8 connections) loads one Envoy for --seconds, then the other,
alternating which goes first, for --rounds rounds; the row reports each
run's requests/s, the median of each side and the ratio B/A. A run with any
non-2xx answer, or an Envoy whose first answer is not 200, fails the row.
Rows:
 - token: `Authorization: Bearer` HS256 JWT (minted here with Python's hmac)
   on a policy that also has a login (so the state is in shared data);
 - basic: HTTP Basic credentials already in the verified-credential cache
   (a request that needs the shared state).
Figures are benchmarks, never assertions; the table goes to stdout and to
build/bench/envoy-ab.md.

Usage: build/venv/bin/python tools/bench/envoy_ab.py [--base REV]
       [--base-wasm PATH] [--seconds 10] [--rounds 3] [--rows token,basic]
--base-wasm (ENVOY_AB_BASE_WASM) takes A whole from another build (core and
shim), for changes to the core's API that an older shim cannot build on.
"""
import argparse
import base64
import hashlib
import hmac
import http.client
import json
import os
import re
import statistics
import subprocess
import sys
import time

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(TOP, "tests", "hosts"))
sys.path.insert(0, os.path.join(TOP, "tests", "lib"))
from envoy_vectors import bootstrap, default_envoy, listener  # noqa: E402
from hostkit import free_port, stop  # noqa: E402
import authformats  # noqa: E402

OUT = os.path.join(TOP, "build", "bench", "envoy")
SECRET = "bench-envoy-hs256-secret-0123456789abcdef"
BASIC_PASSWORD = "bench basic password"


def b64(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def token():
    now = int(time.time())
    hdr = {"alg": "HS256", "typ": "JWT"}
    pl = {"sub": "alice", "aud": "api", "iat": now, "exp": now + 7200, "roles": ["reader"]}
    si = b64(json.dumps(hdr, separators=(",", ":")).encode()) + "." + \
        b64(json.dumps(pl, separators=(",", ":")).encode())
    return si + "." + b64(hmac.new(SECRET.encode(), si.encode(), hashlib.sha256).digest())


def policy():
    return json.dumps({
        "realm": "bench",
        "jwt": {"keys": [{"kid": "k1", "alg": "HS256", "secret": SECRET}],
                "audience": "api", "roles_claim": "roles"},
        "sessions": {"keys": [{"kid": "s1", "secret": "bench-envoy-session-key-0123456789abcdef"}]},
        "users": [{"name": "bob", "roles": ["reader"],
                   "password_hash": authformats.phc_pbkdf2_sha256(BASIC_PASSWORD, 1000)}],
        "login": {"prefix": "/app", "basic": True, "attempts": "5/minute",
                  "basic_cache_ttl": 3600},
        "rules": [{"path": "/api/*", "role": "reader"}],
        "default": "authenticated",
    })


ROWS = {
    "token": ("/api/items", lambda: "Bearer " + token()),
    "basic": ("/api/items", lambda: "Basic " + base64.b64encode(
        ("bob:" + BASIC_PASSWORD).encode()).decode()),
}


class BenchEnvoy:
    def __init__(self, envoy_bin, tag, wasm):
        self.port, self.admin = free_port(), free_port()
        lst = listener(self.port, os.path.abspath(wasm), policy())
        hcm = lst["filter_chains"][0]["filters"][0]["typed_config"]
        hcm["route_config"]["virtual_hosts"][0]["routes"] = [{
            "match": {"prefix": "/"},
            "direct_response": {"status": 200, "body": {"inline_string": "ok\n"}}}]
        boot = bootstrap(self.admin, free_port(), lst)
        self.config = os.path.join(OUT, "envoy-%s.json" % tag)
        with open(self.config, "w") as f:
            json.dump(boot, f, indent=1)
        self.stdio = open(os.path.join(OUT, "envoy-%s.log" % tag), "wb")
        self.proc = subprocess.Popen(
            [envoy_bin, "-c", self.config, "--concurrency", "1", "--use-dynamic-base-id",
             "--log-level", "warning"], stdout=self.stdio, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True)

    def wait(self, timeout=60.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.proc.poll() is None:
            try:
                c = http.client.HTTPConnection("127.0.0.1", self.admin, timeout=1)
                c.request("GET", "/ready")
                if c.getresponse().status == 200:
                    return True
            except OSError:
                pass
            time.sleep(0.2)
        return False

    def status(self, path, auth):
        """Status of one request, retried while the listener starts."""
        for _ in range(50):
            try:
                c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
                c.request("GET", path, headers={"Host": "bench.test", "Authorization": auth})
                r = c.getresponse()
                r.read()
                return r.status
            except OSError:
                time.sleep(0.2)
        return None

    def close(self):
        stop(self.proc)
        self.stdio.close()


def wrk(port, path, auth, seconds):
    """(requests/s, problem or None) of one wrk run."""
    out = subprocess.run(
        ["wrk", "-t1", "-c8", "-d%ds" % seconds, "-H", "Host: bench.test",
         "-H", "Authorization: " + auth, "http://127.0.0.1:%d%s" % (port, path)],
        capture_output=True, text=True, timeout=seconds + 30).stdout
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if not m:
        return None, "wrk printed no Requests/sec: %s" % out[-200:]
    if bad:
        return float(m.group(1)), "%s non-2xx answers" % bad.group(1)
    return float(m.group(1)), None


def build(base):
    os.makedirs(OUT, exist_ok=True)
    src = subprocess.run(["git", "-C", TOP, "show", "%s:hosts/proxy-wasm/authcore_proxy.c"
                          % base], capture_output=True, text=True, check=True).stdout
    path = os.path.join(OUT, "base_proxy.c")
    old = open(path).read() if os.path.exists(path) else None
    if old != src:
        with open(path, "w") as f:
            f.write(src)
    subprocess.run(["make", "--no-print-directory", "-s", "build/authcore-proxy.wasm",
                    "build/bench/envoy/base-proxy.wasm"], cwd=TOP, check=True)
    rev = subprocess.run(["git", "-C", TOP, "rev-parse", "--short", base],
                         capture_output=True, text=True).stdout.strip()
    head = subprocess.run(["git", "-C", TOP, "describe", "--always", "--dirty"],
                          capture_output=True, text=True).stdout.strip()
    return (os.path.join(OUT, "base-proxy.wasm"), "%s (%s)" % (base, rev),
            os.path.join(TOP, "build", "authcore-proxy.wasm"), "this tree (%s)" % head)


def write_table(lines, name):
    """Prints the table and keeps it as build/bench/<name>."""
    text = "\n".join(lines) + "\n"
    print(text)
    with open(os.path.join(TOP, "build", "bench", name), "w") as f:
        f.write(text)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", default=os.environ.get("ENVOY_AB_BASE") or "main")
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--rows", default="token,basic")
    ap.add_argument("--envoy")
    # a whole earlier build (its core and its shim), e.g. another
    # checkout's build/authcore-proxy.wasm, instead of --base's shim on
    # this tree's core: for changes that touch the core's API too
    ap.add_argument("--base-wasm", default=os.environ.get("ENVOY_AB_BASE_WASM"))
    args = ap.parse_args()
    envoy_bin = args.envoy or default_envoy()
    wasm_a, name_a, wasm_b, name_b = build(args.base)
    if args.base_wasm:
        wasm_a, name_a = os.path.abspath(args.base_wasm), args.base_wasm
    version = subprocess.run([envoy_bin, "--version"], capture_output=True,
                             text=True).stdout.strip().split("version:")[-1].strip()
    envoys = {}
    lines = ["# Envoy filter A/B: wrk -t1 -c8, %d s runs, %d rounds, alternating order"
             % (args.seconds, args.rounds),
             "A = %s, B = %s; Envoy %s, --concurrency 1 each; %d CPUs; %s"
             % (name_a, name_b, version, os.cpu_count() or 0,
                time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())), "",
             "| row | A req/s (runs) | B req/s (runs) | median A | median B | B/A |",
             "|---|---|---|---|---|---|"]
    failed = False
    try:
        for side, wasm in (("A", wasm_a), ("B", wasm_b)):
            envoys[side] = BenchEnvoy(envoy_bin, side, wasm)
        for side, e in envoys.items():
            if not e.wait():
                print("envoy %s did not start (see %s)" % (side, e.stdio.name))
                return 1
        for row in args.rows.split(","):
            path, auth_of = ROWS[row]
            auth = auth_of()
            runs, probs = {"A": [], "B": []}, []
            for side, e in envoys.items():
                st = e.status(path, auth)  # warms the Basic cache too
                if st != 200:
                    probs.append("%s answers %s" % (side, st))
            for r in range(args.rounds if not probs else 0):
                order = ("A", "B") if r % 2 == 0 else ("B", "A")
                for side in order:
                    rps, why = wrk(envoys[side].port, path, auth, args.seconds)
                    if why:
                        probs.append("%s: %s" % (side, why))
                    if rps is not None:
                        runs[side].append(rps)
            if probs or not runs["A"] or not runs["B"]:
                failed = True
                lines.append("| %s | failed: %s | | | | |" % (row, "; ".join(probs)))
                continue
            ma, mb = statistics.median(runs["A"]), statistics.median(runs["B"])
            lines.append("| %s | %s | %s | %.0f | %.0f | %.2f |" % (
                row, " ".join("%.0f" % x for x in runs["A"]),
                " ".join("%.0f" % x for x in runs["B"]), ma, mb, mb / ma))
            print(lines[-1], flush=True)
    finally:
        for e in envoys.values():
            e.close()
    write_table(lines, "envoy-ab.md")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
