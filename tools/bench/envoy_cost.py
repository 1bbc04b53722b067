"""make bench-envoy-cost: what the Envoy filter costs a request, against the
same Envoy without it, side by side in one run.

Envoys (V8, --concurrency 1, log level warning) run at once, each in front
of a direct_response route (no upstream process to saturate first), and
differ only in their HTTP filters:
 - none: no filter but the router (the reference);
 - empty: a proxy-wasm module that does nothing (tools/bench/empty_proxy.c):
   what any Wasm filter costs in Envoy before it does any work;
 - authcore: this tree's filter (build/authcore-proxy.wasm), or --wasm;
 - jwt_authn: Envoy's native JWT filter with the same HS256 key, the token
   passed on as it came (forward: true) and nothing added;
 - jwt_authn_fwd: the same filter doing what authcore does to an allowed
   request besides its role check: the token removed and the subject and
   roles claims sent upstream as headers (claim_to_headers).
Rows: `public` (a path the policy makes public: authcore decides and lets it
through, no credential) and `token` (an HS256 bearer token on a path that
needs a role). For each row, wrk (Debian `wrk`, one thread, 8 connections)
loads each Envoy for --seconds in turn, the order rotating each round, for
--rounds rounds. The row gives each configuration's median requests/s, its
ratio to `none`, and Envoy's CPU per request: the utime+stime growth of the
Envoy process (/proc/PID/stat) over the run divided by the requests wrk
made. A run with a non-2xx answer fails the row. Figures are benchmarks,
never assertions; the table goes to stdout and build/bench/envoy-cost.md.

Usage: build/venv/bin/python tools/bench/envoy_cost.py [--seconds 10]
       [--rounds 3] [--rows public,token]
       [--configs none,empty,authcore,jwt_authn,jwt_authn_fwd]
       [--wasm PATH] [--also NAME=PATH ...]
--also adds another authcore build as a configuration of its own (A/B).
"""
import argparse
import base64
import os
import re
import statistics
import subprocess
import sys
import time

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(TOP, "tools", "bench"))
sys.path.insert(0, os.path.join(TOP, "tests", "hosts"))
sys.path.insert(0, os.path.join(TOP, "tests", "lib"))
import envoy_ab  # noqa: E402
from envoy_ab import SECRET, token  # noqa: E402
from envoy_vectors import bootstrap, default_envoy, listener  # noqa: E402
from hostkit import free_port  # noqa: E402
import json  # noqa: E402

OUT = os.path.join(TOP, "build", "bench", "envoy-cost")
TICKS = os.sysconf("SC_CLK_TCK")

ROWS = {
    "public": ("/public/ping", None),
    "token": ("/api/items", lambda: "Bearer " + token()),
}


def policy():
    p = json.loads(envoy_ab.policy())
    p["public"] = ["/public/*"]
    return json.dumps(p)


def jwt_authn_filter(forward_identity=False):
    """Envoy's jwt_authn with the policy's HS256 key. forward_identity: it
    also does what authcore does to an allowed request: the token is
    removed (forward: false) and the subject and roles claims go upstream
    as x-authcore-user and x-authcore-roles (claim_to_headers)."""
    k = base64.urlsafe_b64encode(SECRET.encode()).rstrip(b"=").decode()
    jwks = json.dumps({"keys": [{"kty": "oct", "kid": "k1", "alg": "HS256", "k": k}]})
    provider = {"audiences": ["api"], "local_jwks": {"inline_string": jwks},
                "forward": not forward_identity}
    if forward_identity:
        provider["claim_to_headers"] = [
            {"header_name": "x-authcore-user", "claim_name": "sub"},
            {"header_name": "x-authcore-roles", "claim_name": "roles"}]
    return {
        "name": "envoy.filters.http.jwt_authn",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3."
                     "JwtAuthentication",
            "providers": {"bench": provider},
            "rules": [{"match": {"prefix": "/api/"}, "requires": {"provider_name": "bench"}},
                      {"match": {"prefix": "/"}}],
        },
    }


class CostEnvoy(envoy_ab.BenchEnvoy):
    """One Envoy whose HTTP filters are `wasm` (a proxy-wasm module, or None)
    and `native` (a native filter's config, or None) before the router.
    upstream: a port on 127.0.0.1 to route to (else a direct_response);
    policy_text: the filter's policy (else policy()); out: the folder for
    its config and log; concurrency: its worker threads."""

    def __init__(self, envoy_bin, tag, wasm, native=None, upstream=None, policy_text=None,
                 out=None, concurrency=1):
        out = out or OUT
        self.port, self.admin = free_port(), free_port()
        lst = listener(self.port, os.path.abspath(wasm or "/nonexistent"),
                       policy_text or policy())
        hcm = lst["filter_chains"][0]["filters"][0]["typed_config"]
        if upstream is None:
            hcm["route_config"]["virtual_hosts"][0]["routes"] = [{
                "match": {"prefix": "/"},
                "direct_response": {"status": 200, "body": {"inline_string": "ok\n"}}}]
        if wasm is None:
            hcm["http_filters"] = hcm["http_filters"][1:]
        if native is not None:
            hcm["http_filters"].insert(0, native)
        boot = bootstrap(self.admin, upstream or free_port(), lst)
        self.config = os.path.join(out, "envoy-%s.json" % tag)
        with open(self.config, "w") as f:
            json.dump(boot, f, indent=1)
        self.stdio = open(os.path.join(out, "envoy-%s.log" % tag), "wb")
        self.proc = subprocess.Popen(
            [envoy_bin, "-c", self.config, "--concurrency", str(concurrency),
             "--use-dynamic-base-id", "--log-level", "warning"], stdout=self.stdio,
            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)

    def cpu_ticks(self):
        with open("/proc/%d/stat" % self.proc.pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])  # utime, stime


def wrk(port, path, auth, seconds, headers=(), script=None):
    """(requests/s, requests, problem or None) of one wrk run; headers:
    more "Name: value" lines to send; script: a wrk Lua script (-s)."""
    cmd = ["wrk", "-t1", "-c8", "-d%ds" % seconds, "-H", "Host: bench.test"]
    if auth:
        cmd += ["-H", "Authorization: " + auth]
    for h in headers:
        cmd += ["-H", h]
    if script:
        cmd += ["-s", script]
    out = subprocess.run(cmd + ["http://127.0.0.1:%d%s" % (port, path)],
                         capture_output=True, text=True, timeout=seconds + 30).stdout
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    n = re.search(r"(\d+) requests in", out)
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if not m or not n:
        return None, 0, "wrk printed no Requests/sec: %s" % out[-200:]
    if bad:
        return float(m.group(1)), int(n.group(1)), "%s non-2xx answers" % bad.group(1)
    return float(m.group(1)), int(n.group(1)), None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--rows", default="public,token")
    ap.add_argument("--configs", default="none,empty,authcore,jwt_authn,jwt_authn_fwd")
    ap.add_argument("--wasm", default=os.path.join(TOP, "build", "authcore-proxy.wasm"))
    ap.add_argument("--empty-wasm", default=os.path.join(TOP, "build", "bench",
                                                         "empty-proxy.wasm"))
    ap.add_argument("--also", action="append", default=[],
                    help="NAME=PATH: another authcore build, as one more configuration")
    ap.add_argument("--envoy")
    args = ap.parse_args()
    os.makedirs(OUT, exist_ok=True)
    envoy_bin = args.envoy or default_envoy()
    version = subprocess.run([envoy_bin, "--version"], capture_output=True,
                             text=True).stdout.strip().split("version:")[-1].strip()
    head = subprocess.run(["git", "-C", TOP, "describe", "--always", "--dirty"],
                          capture_output=True, text=True).stdout.strip()
    configs = {}
    for c in filter(None, args.configs.split(",")):
        configs[c] = {"none": (None, None), "empty": (args.empty_wasm, None),
                      "authcore": (args.wasm, None),
                      "jwt_authn": (None, jwt_authn_filter()),
                      "jwt_authn_fwd": (None, jwt_authn_filter(True))}[c]
    for a in args.also:
        name, path = a.split("=", 1)
        configs[name] = (path, None)
    names = list(configs)
    lines = ["# Envoy filter cost: wrk -t1 -c8, %d s runs, %d rounds, rotating order"
             % (args.seconds, args.rounds),
             "authcore = %s (this tree, %s); Envoy %s, --concurrency 1 each; %d CPUs; %s"
             % (os.path.relpath(args.wasm, TOP), head, version, os.cpu_count() or 0,
                time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())), "",
             "| row | config | req/s (runs) | median req/s | vs none | Envoy CPU/request |",
             "|---|---|---|---|---|---|"]
    envoys, failed = {}, False
    try:
        for c in names:
            envoys[c] = CostEnvoy(envoy_bin, c, *configs[c])
        for c, e in envoys.items():
            if not e.wait():
                print("envoy %s did not start (see %s)" % (c, e.stdio.name))
                return 1
        for row in args.rows.split(","):
            path, auth_of = ROWS[row]
            auth = auth_of() if auth_of else ""
            runs = {c: [] for c in names}
            cpu = {c: [] for c in names}
            probs = []
            for c, e in envoys.items():
                st = e.status(path, auth)
                if st != 200:
                    probs.append("%s answers %s" % (c, st))
            for r in range(args.rounds if not probs else 0):
                order = names[r % len(names):] + names[:r % len(names)]
                for c in order:
                    t0 = envoys[c].cpu_ticks()
                    rps, n, why = wrk(envoys[c].port, path, auth, args.seconds)
                    t1 = envoys[c].cpu_ticks()
                    if why:
                        probs.append("%s: %s" % (c, why))
                    if rps is not None:
                        runs[c].append(rps)
                        cpu[c].append((t1 - t0) / TICKS / n * 1e6 if n else 0.0)
            if probs or not all(runs.values()):
                failed = True
                lines.append("| %s | failed: %s | | | | |" % (row, "; ".join(probs)))
                print(lines[-1], flush=True)
                continue
            base = statistics.median(runs[names[0]])
            for c in names:
                m = statistics.median(runs[c])
                lines.append("| %s | %s | %s | %.0f | %.2f | %.0f us |" % (
                    row, c, " ".join("%.0f" % x for x in runs[c]), m, m / base,
                    statistics.median(cpu[c])))
                print(lines[-1], flush=True)
    finally:
        for e in envoys.values():
            e.close()
    envoy_ab.write_table(lines, "envoy-cost.md")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
