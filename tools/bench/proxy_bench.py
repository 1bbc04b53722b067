"""make bench, proxy section (also `make bench-proxy`): what authcore costs a
request in Envoy and in nginx, against the same proxy without it, in one run.

Every proxy forwards to one upstream, a separate nginx whose only location
is `return 200` (2 workers, loopback). The proxies run at once and differ
only in authcore:
 - Envoy (V8, --concurrency 1): no filter but the router; this tree's filter
   (build/authcore-proxy.wasm); Envoy's native jwt_authn with the HS256 key,
   as configured by default (token passed on) and doing what authcore does
   to an allowed request (token removed, sub and roles claims as headers)
   (the Envoys of tools/bench/envoy_cost.py, routed to the upstream); the
   filter again with the same policy plus one rate limit on every request
   (RATE_LIMIT: 1000/second per X-Client header value, the fastest window
   the policy allows; RateLimit headers only on refusals, the default);
 - nginx (Debian's): `proxy_pass` without the module; the same with this
   tree's module (build/nginx/ngx_http_authcore_module.so) and
   `authcore_policy`; each with 1 and with 2 workers (the configuration of
   tools/bench/bench_nginx.py).
One policy for every authcore: HS256, RS256 (2048-bit) and ES256 (P-256) keys
(made here with Python's `cryptography`, tokens signed by PyJWT), a session
key, a login under /app, /public/* public, /api/* for the role reader.

Rows: one request repeated (a public path; an HS256, RS256 or ES256 bearer
token; a session cookie, minted by tests/lib/authformats.py). Before a row,
each configuration must answer it 200, and each authcore configuration
must answer 401 to the same path without the credential. The rate-limit
row (the public path, under the limit) is driven through a wrk script that
names one of CLIENTS clients per request, round robin, in X-Client: one
bucket cannot pass more than 1000 requests/s, so wrk's one client is many
here, each far under its limit (every answer must still be 200); each
request reads and writes one shared-data group. Its baseline, the Envoy
without the filter, and the filter without the limit get the same script;
before the row, the limited Envoy must refuse a second request from one
client under a 1/minute probe limit on the same path (429 whose
RateLimit-Policy names the bench limit too: both are applied). Then wrk (Debian
`wrk`, one thread, 8 connections, as envoy_cost.py) loads each
configuration of the row for --seconds in turn, the order rotating each
round, for --rounds rounds; a run with any non-2xx answer fails the row.
A row gives each configuration's median requests/s, its ratio to the proxy
without authcore (the ratio of the medians), and the proxy's CPU per
request: the utime+stime growth of the Envoy process, or of the nginx
workers, over the run divided by the requests wrk made (median of the
rounds). The upstream and wrk share the machine: on 2 cores every figure
includes their contention.

The table puts the issue's figures (measured before this work, the same
way) and its goals next to this run's. Figures are benchmarks, never
assertions: the goals are printed, not enforced; only a failed row (an
unexpected status, a proxy that does not start) makes the exit status 1.
Writes build/bench/proxy.md (the whole report) and build/bench/proxy-table.md
(the summary table alone, for the README).

Usage: build/venv/bin/python tools/bench/proxy_bench.py [--seconds 10]
       [--rounds 3] [--rows envoy-public,...] [--also-module NAME=PATH ...]
       (BENCH_PROXY_SECONDS and BENCH_PROXY_ROUNDS are the defaults of
       --seconds and --rounds; --also-module adds another build of the nginx
       module to each nginx row, to measure a change in one run)
"""
import argparse
import http.client
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(TOP, "tools", "bench"))
sys.path.insert(0, os.path.join(TOP, "tests", "hosts"))
sys.path.insert(0, os.path.join(TOP, "tests", "lib"))
import envoy_cost  # noqa: E402
from envoy_cost import CostEnvoy, TICKS, jwt_authn_filter, wrk  # noqa: E402
from envoy_ab import SECRET, token  # noqa: E402
import bench_nginx  # noqa: E402
from envoy_vectors import default_envoy  # noqa: E402
from hostkit import free_port, stop, wait_port  # noqa: E402
import authformats  # noqa: E402
import jwt  # noqa: E402  PyJWT, tools/requirements.txt
from cryptography.hazmat.primitives import serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec, rsa  # noqa: E402

OUT = os.path.join(TOP, "build", "bench")
WORK = os.path.join(OUT, "proxy")
NGINX = bench_nginx.NGINX
SESSION_SECRET = "bench-proxy-session-key-0123456789abcdef"

# The table ("Cheaper than Envoy's own filters", Why), measured the
# same way before this work: (req/s vs the proxy without authcore, proxy CPU
# per request without -> with), and its goals (ratio, or a comparison).
BEFORE = {
    "envoy-public": (0.79, "140 → 202 µs"),
    "envoy-hs256": (0.75, "144 → 222 µs"),
    "envoy-session": (0.73, "137 → 230 µs"),
    "envoy-jwt_authn": (0.84, "141 → 204 µs"),
    "envoy-jwt_authn-fwd": (None, ""),
    "envoy-ratelimit": (None, ""),
    "envoy-ratelimit-off": (None, ""),
    "envoy-rs256": (0.38, "141 → 428 µs"),
    "envoy-es256": (0.11, "141 → 1436 µs"),
    "nginx-hs256-1w": (0.76, "33 → 43 µs"),
    "nginx-es256-1w": (0.035, "35 → 1436 µs"),
    "nginx-es256-2w": (None, ""),
}
GOALS = {
    "envoy-public": ("≥ 0.95", lambda r: r["ratio"] >= 0.95),
    "envoy-hs256": ("≥ 0.90, and less Envoy CPU than jwt_authn",
                    lambda r: r["ratio"] >= 0.90 and r.get("vs_native", 1) < 1),
    "envoy-ratelimit": ("≥ 0.90", lambda r: r["ratio"] >= 0.90),
    "nginx-hs256-1w": ("≥ 0.90", lambda r: r["ratio"] >= 0.90),
}
LABELS = {
    "envoy-public": "Envoy, public path (authcore lets it through)",
    "envoy-hs256": "Envoy, HS256 token",
    "envoy-session": "Envoy, session cookie",
    "envoy-jwt_authn": "Envoy, Envoy's native `jwt_authn`, same HS256 token",
    "envoy-jwt_authn-fwd": "Envoy, `jwt_authn` also doing what authcore does to the "
                           "request (token removed; sub and roles claims as headers)",
    "envoy-rs256": "Envoy, RS256 token",
    "envoy-es256": "Envoy, ES256 token",
    "envoy-ratelimit": "Envoy, one rate limit on every request (public path)",
    "envoy-ratelimit-off": "Envoy, the same without the limit (same wrk script)",
    "nginx-hs256-1w": "nginx, HS256 token, 1 worker",
    "nginx-es256-1w": "nginx, ES256 token, 1 worker",
    "nginx-es256-2w": "nginx, ES256 token, 2 workers",
}


# The rate-limit row: one limit on every request, counted per X-Client
# value, which the wrk script varies over CLIENTS values; "probe" (per
# X-Probe, which wrk never sends) shows before the row that both apply.
RATE_LIMIT = {"limits": [{"name": "bench", "path": "/public/*", "key": "header:x-client",
                          "limit": "1000/second"},
                         {"name": "probe", "path": "/public/*", "key": "header:x-probe",
                          "limit": "1/minute"}]}
# a row's config measured under another name than the row's
ROW_NAMES = {("envoy-ratelimit", "authcore"): "envoy-ratelimit-off",
             ("envoy-hs256", "jwt_authn"): "envoy-jwt_authn",
             ("envoy-hs256", "jwt_authn_fwd"): "envoy-jwt_authn-fwd"}
CLIENTS = 256
CLIENTS_LUA = """-- one of %d clients per request, round robin, in X-Client
local n = 0
request = function()
  n = n + 1
  local h = {}
  for k, v in pairs(wrk.headers) do h[k] = v end
  h["X-Client"] = tostring(n %% %d)
  return wrk.format(nil, nil, h)
end
""" % (CLIENTS, CLIENTS)
SCRIPTED = {"envoy-ratelimit": "clients.lua"}


def rate_limit_probe(port, path):
    """(status, RateLimit-Policy) of the second of two requests from one
    client under the probe limit, or None."""
    try:
        for _ in range(2):
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            c.request("GET", path, headers={"Host": "bench.test", "X-Client": "probe",
                                            "X-Probe": "probe"})
            r = c.getresponse()
            r.read()
            c.close()
    except OSError:
        return None
    return r.status, r.getheader("RateLimit-Policy", "")


class Material:
    """The keys, the policy and one credential of each kind."""

    def __init__(self):
        now = int(time.time())
        claims = {"sub": "alice", "aud": "api", "iat": now, "exp": now + 7200,
                  "roles": ["reader"]}
        rkey = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        ekey = ec.generate_private_key(ec.SECP256R1())

        def pem(k):
            return k.public_key().public_bytes(
                serialization.Encoding.PEM,
                serialization.PublicFormat.SubjectPublicKeyInfo).decode()

        p = json.loads(envoy_cost.policy())
        p["jwt"]["keys"] += [{"kid": "r1", "alg": "RS256", "pem": pem(rkey)},
                             {"kid": "e1", "alg": "ES256", "pem": pem(ekey)}]
        p["sessions"] = {"keys": [{"kid": "s1", "secret": SESSION_SECRET}]}
        self.policy = json.dumps(p)
        p["rate_limits"] = RATE_LIMIT
        self.rl_policy = json.dumps(p)
        session = authformats.session_token(SESSION_SECRET.encode(), "s1", os.urandom(16),
                                            now, 7200, b"alice", [b"reader"])
        self.creds = {
            "public": [],
            "hs256": ["Authorization: Bearer " + token()],
            "rs256": ["Authorization: Bearer " + jwt.encode(
                claims, rkey, algorithm="RS256", headers={"kid": "r1"})],
            "es256": ["Authorization: Bearer " + jwt.encode(
                claims, ekey, algorithm="ES256", headers={"kid": "e1"})],
            "session": ["Cookie: %s=%s" % (p["sessions"].get("cookie", "authcore_session"),
                                           session)],
        }


# row -> (proxy, credential kind, path, [(config, its baseline)])
ROWS = {
    "envoy-public": ("envoy", "public", "/public/ping", ["none", "authcore"]),
    "envoy-hs256": ("envoy", "hs256", "/api/items",
                    ["none", "authcore", "jwt_authn", "jwt_authn_fwd"]),
    "envoy-session": ("envoy", "session", "/api/items", ["none", "authcore"]),
    "envoy-rs256": ("envoy", "rs256", "/api/items", ["none", "authcore"]),
    "envoy-es256": ("envoy", "es256", "/api/items", ["none", "authcore"]),
    "envoy-ratelimit": ("envoy", "public", "/public/ping", ["none", "authcore", "authcore-rl"]),
    "nginx-hs256-1w": ("nginx", "hs256", "/api/items", ["plain-1w", "authcore-1w"]),
    "nginx-es256-1w": ("nginx", "es256", "/api/items", ["plain-1w", "authcore-1w"]),
    "nginx-es256-2w": ("nginx", "es256", "/api/items", ["plain-2w", "authcore-2w"]),
}


def status(port, path, headers):
    """Status of one GET (retried while a listener starts), or None."""
    hdrs = {"Host": "bench.test"}
    for h in headers:
        k, v = h.split(": ", 1)
        hdrs[k] = v
    for _ in range(50):
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            c.request("GET", path, headers=hdrs)
            r = c.getresponse()
            r.read()
            c.close()
            return r.status
        except OSError:
            time.sleep(0.2)
    return None


class Nginx:
    """One nginx master; module None: the proxy without authcore; up_port
    None: it is the upstream itself (`return 200`, no proxy)."""

    def __init__(self, tag, module, workers, up_port, policy_text=""):
        self.dir = tempfile.mkdtemp(prefix="authcore-bench-proxy-%s-" % tag)
        os.chmod(self.dir, 0o755)
        self.port = free_port()
        self.log = os.path.join(self.dir, "error.log")
        if module:
            with open(os.path.join(self.dir, "policy.json"), "w") as f:
                f.write(policy_text)
        if up_port is None:
            text = UPSTREAM_CONF.format(d=self.dir, workers=workers, port=self.port)
        else:
            text = bench_nginx.conf(self.dir, module, workers, self.port, up_port,
                                    serve_upstream=False)
        with open(os.path.join(self.dir, "nginx.conf"), "w") as f:
            f.write(text)
        self.proc = subprocess.Popen([NGINX, "-p", self.dir, "-c",
                                      os.path.join(self.dir, "nginx.conf")],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        self.workers = workers

    def wait(self):
        if not wait_port(self.port, self.proc):
            return False
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and len(self.worker_pids()) < self.workers:
            time.sleep(0.05)
        return len(self.worker_pids()) == self.workers

    def worker_pids(self):
        try:
            with open("/proc/%d/task/%d/children" % (self.proc.pid, self.proc.pid)) as f:
                return [int(x) for x in f.read().split()]
        except OSError:
            return []

    def cpu_ticks(self):
        total = 0
        for pid in self.worker_pids():
            try:
                with open("/proc/%d/stat" % pid) as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                total += int(fields[11]) + int(fields[12])
            except OSError:
                pass
        return total

    def close(self):
        stop(self.proc)
        shutil.rmtree(self.dir, ignore_errors=True)


UPSTREAM_CONF = """daemon off;
master_process on;
worker_processes {workers};
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
    server {{
        listen 127.0.0.1:{port} reuseport;
        keepalive_requests 1000000;
        location / {{
            return 200 "ok\\n";
        }}
    }}
}}
"""


def fmt_ratio(x):
    return ("%.2f" if x >= 0.095 else "%.3f") % x if x is not None else "-"


def fmt_us(x):
    return "%.0f µs" % x if x is not None else "-"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int,
                    default=int(os.environ.get("BENCH_PROXY_SECONDS") or 10))
    ap.add_argument("--rounds", type=int,
                    default=int(os.environ.get("BENCH_PROXY_ROUNDS") or 3))
    ap.add_argument("--rows", default=",".join(ROWS))
    ap.add_argument("--wasm", default=os.path.join(TOP, "build", "authcore-proxy.wasm"))
    ap.add_argument("--module", default=os.path.join(TOP, "build", "nginx",
                                                     "ngx_http_authcore_module.so"))
    ap.add_argument("--also-module", action="append", default=[],
                    help="NAME=PATH: another build of the nginx module, as one more "
                         "configuration of each nginx row (A/B)")
    ap.add_argument("--envoy")
    args = ap.parse_args()
    also = dict(a.split("=", 1) for a in args.also_module)
    rows = [r for r in args.rows.split(",") if r]
    for r in rows:
        if r not in ROWS:
            ap.error("unknown row %s (rows: %s)" % (r, ", ".join(ROWS)))
    if shutil.which("wrk") is None:
        print("wrk not found (Debian package wrk)", file=sys.stderr)
        return 1
    os.makedirs(WORK, exist_ok=True)
    envoy_bin = args.envoy or default_envoy()
    version = subprocess.run([envoy_bin, "--version"], capture_output=True,
                             text=True).stdout.strip().split("version:")[-1].strip()
    nginx_version = subprocess.run([NGINX, "-v"], capture_output=True,
                                   text=True).stderr.strip().split("/")[-1]
    head = subprocess.run(["git", "-C", TOP, "describe", "--always", "--dirty"],
                          capture_output=True, text=True).stdout.strip()
    m = Material()
    for r in rows:
        if ROWS[r][0] == "nginx" and also:
            w = ROWS[r][3][0].split("-")[1]
            ROWS[r] = ROWS[r][:3] + (ROWS[r][3] + ["%s-%s" % (a, w) for a in also],)
    want = {c for r in rows for c in ROWS[r][3]}
    t_start = time.time()
    procs, failed, results = {}, [], {}
    upstream = None
    try:
        upstream = Nginx("upstream", None, 2, None)
        if not upstream.wait():
            print("the upstream nginx did not start (%s)" % upstream.log)
            return 1
        envoy_configs = {"none": (None, None, None), "authcore": (args.wasm, None, None),
                         "jwt_authn": (None, jwt_authn_filter(), None),
                         "jwt_authn_fwd": (None, jwt_authn_filter(True), None),
                         "authcore-rl": (args.wasm, None, m.rl_policy)}
        for c, (wasm, native, pol) in envoy_configs.items():
            if c in want:
                procs[c] = CostEnvoy(envoy_bin, c, wasm, native, upstream=upstream.port,
                                     policy_text=pol or m.policy, out=WORK)
        with open(os.path.join(WORK, "clients.lua"), "w") as f:
            f.write(CLIENTS_LUA)
        modules = dict(also, plain=None, authcore=args.module)
        for c in sorted(want):
            kind, _, w = c.rpartition("-")
            if kind in modules and c not in envoy_configs:
                procs[c] = Nginx(c, modules[kind], int(w[0]), upstream.port, m.policy)
        for c, p in procs.items():
            if not p.wait():
                print("%s did not start (see %s)" % (
                    c, p.stdio.name if isinstance(p, CostEnvoy) else p.log))
                return 1
        for row in rows:
            proxy, cred, path, configs = ROWS[row]
            headers = m.creds[cred]
            probs = []
            for c in configs:
                st = status(procs[c].port, path, headers)
                if st != 200:
                    probs.append("%s answers %s" % (c, st))
                if c.startswith(("authcore", "jwt_authn")) and cred != "public":
                    st = status(procs[c].port, path, [])
                    if st != 401:
                        probs.append("%s answers %s without the credential" % (c, st))
                if c == "authcore-rl":
                    rl = rate_limit_probe(procs[c].port, path)
                    if not rl or rl[0] != 429 or '"bench";q=1000;w=1' not in rl[1]:
                        probs.append("%s: a second request under the probe limit answers "
                                     "%r: the limits are not applied" % (c, rl))
            script = os.path.join(WORK, SCRIPTED[row]) if row in SCRIPTED else None
            runs = {c: [] for c in configs}
            cpu = {c: [] for c in configs}
            for r in range(args.rounds if not probs else 0):
                order = configs[r % len(configs):] + configs[:r % len(configs)]
                for c in order:
                    t0 = procs[c].cpu_ticks()
                    rps, n, why = wrk(procs[c].port, path, "", args.seconds, headers,
                                      script=script)
                    t1 = procs[c].cpu_ticks()
                    if why:
                        probs.append("%s: %s" % (c, why))
                    if rps is not None and n:
                        runs[c].append(rps)
                        cpu[c].append((t1 - t0) / TICKS / n * 1e6)
            if probs or not all(runs.values()):
                failed.append("%s: %s" % (row, "; ".join(probs) or "no runs"))
                print("# %s FAILED: %s" % (row, failed[-1]), flush=True)
                continue
            base = configs[0]
            mb = statistics.median(runs[base])
            for c in configs[1:]:
                name = ROW_NAMES.get((row, c), row)
                if c.rpartition("-")[0] in also:
                    name = "%s (%s)" % (row, c)
                    LABELS.setdefault(name, "%s: %s" % (LABELS[row], also[c.rpartition("-")[0]]))
                mc = statistics.median(runs[c])
                results[name] = {
                    "ratio": mc / mb, "base_rps": mb, "rps": mc,
                    "base_cpu": statistics.median(cpu[base]),
                    "cpu": statistics.median(cpu[c]),
                    "runs": runs[c], "base_runs": runs[base], "config": c, "base": base}
                print("# %s: %s %.0f req/s, %s %.0f req/s (%.2f); CPU/request %.0f -> %.0f us"
                      % (name, base, mb, c, mc, mc / mb, results[name]["base_cpu"],
                         results[name]["cpu"]), flush=True)
            if "envoy-jwt_authn" in results and row == "envoy-hs256":
                results[row]["vs_native"] = results[row]["cpu"] / results["envoy-jwt_authn"]["cpu"]
            if "envoy-jwt_authn-fwd" in results and row == "envoy-hs256":
                results[row]["vs_fwd"] = (results[row]["cpu"] /
                                          results["envoy-jwt_authn-fwd"]["cpu"])
    finally:
        for p in procs.values():
            p.close()
        if upstream is not None:
            upstream.close()

    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    model = "?"
    try:
        with open("/proc/cpuinfo") as f:
            model = next((ln.split(":", 1)[1].strip() for ln in f
                          if ln.startswith("model name")), "?")
    except OSError:
        pass
    load = os.getloadavg()
    table = [
        "| configuration | req/s vs the same proxy without authcore: before | today "
        "| proxy CPU per request: before | today | goal | |",
        "|---|---:|---:|---:|---:|---|---|",
    ]
    for name in LABELS:
        if name not in results and name not in [f.split(":")[0] for f in failed]:
            continue
        before = BEFORE.get(name, (None, ""))
        goal, ok = GOALS.get(name, ("", None))
        res = results.get(name)
        if res is None:
            table.append("| %s | %s | failed | %s | | %s | |" % (
                LABELS[name], fmt_ratio(before[0]), before[1] or "-", goal))
            continue
        today_cpu = "%s → %s" % (fmt_us(res["base_cpu"]), fmt_us(res["cpu"]))
        if name == "envoy-hs256" and "vs_native" in res:
            today_cpu += " (%.2fx jwt_authn's" % res["vs_native"]
            if "vs_fwd" in res:
                today_cpu += ", %.2fx when it forwards the identity" % res["vs_fwd"]
            today_cpu += ")"
        table.append("| %s | %s | %s | %s | %s | %s | %s |" % (
            LABELS[name], fmt_ratio(before[0]), fmt_ratio(res["ratio"]),
            before[1] or "-", today_cpu, goal,
            ("met" if ok(res) else "not met") if ok else ""))
    lines = [
        "# Proxies with and without authcore (%s)" % stamp, "",
        "- machine: %s, %d cores; load average %.2f %.2f %.2f at the end (other work on "
        "the machine shows in every figure)" % (model, os.cpu_count() or 0, *load),
        "- authcore %s: build/authcore-proxy.wasm, build/nginx/ngx_http_authcore_module.so; "
        "Envoy %s (V8, --concurrency 1); nginx %s" % (head, version, nginx_version),
        "- wrk -t1 -c8 on loopback, %d s runs, %d rounds, the order rotating each round; "
        "medians; upstream: nginx `return 200` (2 workers)" % (args.seconds, args.rounds),
        "- proxy CPU per request: utime+stime of the Envoy process or the nginx workers "
        "over a run / its requests; \"before\": the issue's figures, measured the same way "
        "before this work",
        "",
    ] + table + ["", "Runs (req/s, without authcore | with):", ""]
    for name in LABELS:
        res = results.get(name)
        if res:
            lines.append("- %s: %s %s | %s %s" % (
                name, res["base"], " ".join("%.0f" % x for x in res["base_runs"]),
                res["config"], " ".join("%.0f" % x for x in res["runs"])))
    for f in failed:
        lines.append("- FAILED %s" % f)
    some = "" if rows == list(ROWS) else " BENCH_PROXY_ROWS=%s" % ",".join(rows)
    lines += ["", "Total %.0f s (`make bench-proxy BENCH_PROXY_SECONDS=%d "
              "BENCH_PROXY_ROUNDS=%d%s`)." % (time.time() - t_start, args.seconds, args.rounds,
                                              some)]
    text = "\n".join(lines) + "\n"
    print(text)
    with open(os.path.join(OUT, "proxy.md"), "w") as f:
        f.write(text)
    with open(os.path.join(OUT, "proxy-table.md"), "w") as f:
        f.write("<!-- %s; %s; %d s x %d rounds -->\n" % (stamp, head, args.seconds, args.rounds)
                + "\n".join(table) + "\n")
    print("(written to build/bench/proxy.md and build/bench/proxy-table.md)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
