"""make bench-redis (also a section of make bench): the shared store on Redis
against each host's own store, side by side in one run.

One redis-server (Debian's, loopback, nothing saved) serves every host; the
hosts run at once, two of each, the same policy but for `store`:
 - local: one rate limit on every request, counted in the host's own store;
 - redis: the same, counted in Redis ("store": {"redis": ...}).
The limit is 1000/second (the fastest window the policy allows) per
X-Client header value; wrk's script names one of CLIENTS clients per
request, round robin, so no bucket is ever full and every request takes a
store step: under `redis`, an EVAL reading the client's entry and one
writing it (docs/policy.md, "store"). A second limit, 1/minute per X-Probe
(a header wrk never sends), shows before the runs that the limits apply:
a second request from one probe client must be refused 429.
Hosts:
 - nginx (Debian's, 2 workers, reuseport): the module
   (build/nginx/ngx_http_authcore_module.so) in front of a static file;
   hiredis on the workers' event loops;
 - Envoy (V8, --concurrency 2): the filter (build/authcore-proxy.wasm) in
   front of a direct_response route; under `redis` each step is a fetch to
   webdis (Debian's, 2 threads) in front of the same redis-server;
 - Node: the edge module (build/edge) in front of the echo app of
   tests/hosts/edge (tests/hosts/edge/redis_node.mjs), npm's `redis` client;
 - cli: `authcore decide` (the C library, one blocking hiredis connection)
   deciding CLI_REQUESTS requests read from stdin, one process per run.
After a warm-up run of each (WARMUP_SECONDS, not counted), for each round
(--rounds) and host, the two configurations run one after
the other, the order alternating between rounds:
 - throughput: wrk (Debian's, -t1 -c8, --seconds) with the clients script:
   requests/s, and with --latency its p50/p99 under that load;
 - latency: wrk -t1 -c1 --latency (--latency-seconds), one request at a
   time: p50/p99 of a request that waits for nothing but its own work.
   "added p50/p99" is the median over the rounds of redis's minus local's
   in that round (the two ran one after the other), or "within noise" and
   their range when the rounds disagree on its sign;
 - cli: decisions/s of CLI_REQUESTS decisions, the time of a one-request
   run (process start, policy load) taken off; the added time is a mean
   per decision (the CLI prints decisions, not their times).
A run counts only if every answer was 2xx (every CLI decision 200) and,
under `redis`, Redis ran at least REDIS_STEPS EVALs per request (INFO
commandstats before and after the run): a request counted locally after a
failed step would not. The row gives medians over the rounds and the ratio
redis/local of the median requests/s. wrk, the hosts and Redis share the
machine: on 2 cores every figure includes their contention; the load
average is printed before and after. Figures are benchmarks, never
assertions; a failed run (a host that does not start, an unexpected status,
a step not sent) makes the exit status 1.

Writes build/bench/redis.md (the whole report) and build/bench/redis-table.md
(the README's table). Every process started here is stopped by its PID.

Usage: build/venv/bin/python tools/bench/redis_bench.py [--seconds 10]
       [--rounds 3] [--latency-seconds 5] [--hosts nginx,envoy,node,cli]
       [--cli-requests 20000]
(BENCH_REDIS_SECONDS, BENCH_REDIS_ROUNDS, BENCH_REDIS_LATENCY_SECONDS and
BENCH_REDIS_CLI_REQUESTS are the defaults of the options.)
"""
import argparse
import http.client
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(TOP, "tools", "bench"))
sys.path.insert(0, os.path.join(TOP, "tests", "hosts"))
sys.path.insert(0, os.path.join(TOP, "tests", "lib"))
from envoy_vectors import bootstrap, default_envoy, listener  # noqa: E402
from hostkit import free_port, stop, wait_port  # noqa: E402
from rediskit import Redis  # noqa: E402
from redis_envoy import gateway_cluster  # noqa: E402

OUT = os.path.join(TOP, "build", "bench")
NGINX = os.environ.get("AUTHCORE_NGINX", "/usr/sbin/nginx")
CLI = os.path.join(TOP, "build", "bin", "authcore")
EDGE = os.path.join(TOP, "build", "edge")
EDGE_TESTS = os.path.join(TOP, "tests", "hosts", "edge")
SECRET = "bench-redis-hs256-secret-0123456789abcdef"
STORE_SECRET = "bench-redis-placement-secret-0123456789abcdef"
TIMEOUT_MS = 1000  # the store's; the runs check that no step failed
PATH = "/pub/item"
CLIENTS = 1024
WARMUP_SECONDS = 2
REDIS_STEPS = 2  # EVALs of an allowed request under one limit: read, write
CONFIGS = ("local", "redis")
HOSTS = ("nginx", "envoy", "node", "cli")
LABELS = {
    "nginx": "nginx, 2 workers",
    "envoy": "Envoy, 2 workers (webdis)",
    "node": "Node edge server",
    "cli": "CLI `authcore decide`, decisions/s (the C library, blocking hiredis)",
}
CLIENTS_LUA = """-- one of %d clients per request, round robin, in X-Client
local n = 0
request = function()
  n = n + 1
  local h = {}
  for k, v in pairs(wrk.headers) do h[k] = v end
  h["X-Client"] = "c" .. tostring(n %% %d)
  return wrk.format(nil, nil, h)
end
""" % (CLIENTS, CLIENTS)


def policy(config, redis_port, prefix, gateway=None):
    """The policy every host runs; config "redis" adds the store."""
    p = {
        "jwt": {"keys": [{"kid": "k1", "alg": "HS256", "secret": SECRET}]},
        "public": ["/pub/*"],
        "rate_limits": {"limits": [
            {"name": "bench", "path": "/pub/*", "key": "header:x-client", "limit": "1000/second"},
            {"name": "probe", "path": "/pub/*", "key": "header:x-probe", "limit": "1/minute"}]},
    }
    if config == "redis":
        redis = {"host": "127.0.0.1", "port": redis_port, "prefix": prefix,
                 "timeout_ms": TIMEOUT_MS}
        if gateway:
            redis["gateway"] = gateway
        p["store"] = {"redis": redis, "secret": STORE_SECRET}
    return json.dumps(p)


def get(port, path, headers):
    """Status of one GET (retried while a listener starts), or None."""
    for _ in range(50):
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            c.request("GET", path, headers=dict({"Host": "bench.test"}, **headers))
            r = c.getresponse()
            r.read()
            c.close()
            return r.status
        except OSError:
            time.sleep(0.2)
    return None


UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def wrk(port, seconds, connections, script):
    """One wrk run: {"rps", "n", "p50", "p99" (ms)} or {"problem"}."""
    cmd = ["wrk", "-t1", "-c%d" % connections, "-d%ds" % seconds, "--latency",
           "-H", "Host: bench.test", "-s", script, "http://127.0.0.1:%d%s" % (port, PATH)]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 30).stdout
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    n = re.search(r"(\d+) requests in", out)
    pct = {q: float(v) * UNITS[u] for q, v, u in
           re.findall(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)}
    if not m or not n or "50" not in pct or "99" not in pct:
        return {"problem": "wrk printed no Requests/sec or latency: %s" % out[-300:]}
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errs = re.search(r"Socket errors: (.*)", out)
    r = {"rps": float(m.group(1)), "n": int(n.group(1)), "p50": pct["50"], "p99": pct["99"]}
    if bad:
        r["problem"] = "%s non-2xx answers" % bad.group(1)
    elif errs:
        r["problem"] = "socket errors: " + errs.group(1)
    return r


class Proc:
    """A process started here, its output in a log, stopped by its PID."""

    def __init__(self, cmd, log, first_signal=signal.SIGTERM, cwd=None):
        self.log_path = log
        self.log = open(log, "wb")
        self.first = first_signal
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, cwd=cwd, start_new_session=True)

    def tail(self, n=600):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()[-n:]
        except OSError:
            return ""

    def stop(self):
        stop(self.proc, self.first)
        self.log.close()


class NginxHost:
    """nginx with the module and the policy, 2 workers, a static file."""

    def __init__(self, work, config, pol):
        self.dir = os.path.join(work, "nginx-" + config)
        os.makedirs(os.path.join(self.dir, "www", "pub"))
        with open(os.path.join(self.dir, "www", "pub", "item"), "w") as f:
            f.write("ok\n")
        with open(os.path.join(self.dir, "policy.json"), "w") as f:
            f.write(pol)
        self.port = free_port()
        conf = os.path.join(self.dir, "nginx.conf")
        with open(conf, "w") as f:
            f.write(NGINX_CONF.format(d=self.dir, port=self.port, module=os.path.join(
                TOP, "build", "nginx", "ngx_http_authcore_module.so")))
        self.proc = Proc([NGINX, "-p", self.dir, "-c", conf], os.path.join(self.dir, "nginx.out"),
                         signal.SIGQUIT)

    def wait(self):
        if wait_port(self.port, self.proc.proc):
            return None
        with open(os.path.join(self.dir, "error.log"), errors="replace") as f:
            return "nginx did not start: " + f.read()[-400:]

    def stop(self):
        self.proc.stop()


NGINX_CONF = """daemon off;
master_process on;
worker_processes 2;
load_module {module};
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
            authcore_policy {d}/policy.json;
            root {d}/www;
        }}
    }}
}}
"""


class EnvoyHost:
    """Envoy, --concurrency 2, the filter before a direct_response; the
    gateway's cluster in both configurations."""

    def __init__(self, work, config, pol, envoy_bin, gw_port):
        self.port, self.admin = free_port(), free_port()
        lst = listener(self.port, os.path.join(TOP, "build", "authcore-proxy.wasm"), pol)
        hcm = lst["filter_chains"][0]["filters"][0]["typed_config"]
        hcm["route_config"]["virtual_hosts"][0]["routes"] = [{
            "match": {"prefix": "/"},
            "direct_response": {"status": 200, "body": {"inline_string": "ok\n"}}}]
        boot = bootstrap(self.admin, free_port(), lst)
        boot["static_resources"]["clusters"].append(gateway_cluster(gw_port))
        conf = os.path.join(work, "envoy-%s.json" % config)
        with open(conf, "w") as f:
            json.dump(boot, f, indent=1)
        self.proc = Proc([envoy_bin, "-c", conf, "--concurrency", "2", "--use-dynamic-base-id",
                          "--log-level", "warning"], os.path.join(work, "envoy-%s.log" % config))

    def wait(self, timeout=60.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.proc.proc.poll() is None:
            try:
                c = http.client.HTTPConnection("127.0.0.1", self.admin, timeout=1)
                c.request("GET", "/ready")
                if c.getresponse().status == 200:
                    c.close()
                    return None
            except OSError:
                pass
            time.sleep(0.2)
        return "envoy did not start: " + self.proc.tail()

    def stop(self):
        self.proc.stop()


class NodeHost:
    """tests/hosts/edge/redis_node.mjs on the built edge package."""

    def __init__(self, work, config, pol):
        d = os.path.join(work, "node-" + config)
        os.makedirs(d)
        for f in ("authcore.mjs", "authcore_glue.mjs", "authcore.wasm"):
            shutil.copy(os.path.join(EDGE, f), d)
        for f in ("request_app.mjs", "redis_node.mjs"):
            shutil.copy(os.path.join(EDGE_TESTS, f), d)
        pf = os.path.join(d, "policy.json")
        with open(pf, "w") as f:
            f.write(pol)
        self.port = None
        self.proc = Proc(["node", os.path.join(d, "redis_node.mjs"), d, pf],
                         os.path.join(d, "server.log"))

    def wait(self, timeout=30.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.proc.tail(100000).splitlines():
                if line.startswith("listening ") and line[10:].isdigit():
                    self.port = int(line[10:])
                    return None
            if self.proc.proc.poll() is not None:
                break
            time.sleep(0.1)
        return "node did not start: " + self.proc.tail()

    def stop(self):
        self.proc.stop()


class CliHost:
    """`authcore decide` on a file of requests, one process per run."""

    def __init__(self, work, config, pol, requests):
        self.dir = os.path.join(work, "cli-" + config)
        os.makedirs(self.dir)
        self.policy = os.path.join(self.dir, "policy.json")
        with open(self.policy, "w") as f:
            f.write(pol)
        self.requests = requests
        self.input = os.path.join(self.dir, "requests.jsonl")
        with open(self.input, "w") as f:
            for i in range(requests):
                f.write(json.dumps(self.request({"x-client": "c%d" % (i % CLIENTS)})) + "\n")
        self.one = os.path.join(self.dir, "one.jsonl")
        with open(self.one, "w") as f:
            f.write(json.dumps(self.request({"x-client": "c0"})) + "\n")

    @staticmethod
    def request(headers):
        return {"method": "GET", "path": PATH, "client_ip": "127.0.0.1",
                "headers": dict({"host": "bench.test"}, **headers)}

    def decide(self, path):
        """(seconds, statuses) of one `authcore decide` run."""
        with open(path, "rb") as f:
            t0 = time.perf_counter()
            p = subprocess.run([CLI, "decide", "--policy", self.policy], stdin=f,
                               capture_output=True, timeout=600)
            took = time.perf_counter() - t0
        if p.returncode != 0:
            raise RuntimeError("authcore decide exited %d: %s" % (
                p.returncode, p.stderr.decode(errors="replace")[-300:]))
        return took, [json.loads(x)["status"] for x in p.stdout.splitlines()]

    def probe(self):
        """The statuses of two requests from one probe client, in one run."""
        path = os.path.join(self.dir, "probe.jsonl")
        with open(path, "w") as f:
            for _ in range(2):
                f.write(json.dumps(self.request({"x-client": "probe", "x-probe": "p"})) + "\n")
        return self.decide(path)[1]

    def run(self):
        """{"rps", "n", "mean_us"} or {"problem"} of one measured run."""
        one, st1 = self.decide(self.one)
        took, st = self.decide(self.input)
        if st1 != [200] or st != [200] * self.requests:
            bad = [s for s in st1 + st if s != 200]
            return {"problem": "%d decisions were not 200 (e.g. %s)" % (len(bad), bad[:1])}
        net = max(took - one, 1e-9)
        return {"rps": (self.requests - 1) / net, "n": self.requests,
                "mean_us": net / (self.requests - 1) * 1e6}


def evals(redis):
    """EVAL and EVALSHA calls Redis has answered so far."""
    text = redis.command("INFO", "commandstats") or ""
    return sum(int(m) for m in re.findall(r"^cmdstat_eval(?:sha)?:calls=(\d+)", text, re.M))


def settled_evals(redis):
    """evals() once it has stopped moving: a host may still be answering
    the requests wrk had in flight when it stopped (bounded: 5 s)."""
    last, deadline = evals(redis), time.monotonic() + 5
    while time.monotonic() < deadline:
        time.sleep(0.2)
        now = evals(redis)
        if now == last:
            break
        last = now
    return last


def loadavg():
    try:
        with open("/proc/loadavg") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return "?"


def med(xs):
    return statistics.median(xs) if xs else None


def fmt_ms(x, signed=False):
    if x is None:
        return "-"
    if abs(x) < 1:
        return ("%+.0f µs" if signed else "%.0f µs") % (x * 1000)
    return ("%+.2f ms" if signed else "%.2f ms") % x


def fmt_added(d):
    """The median of per-round differences, or, when the rounds disagree
    on its sign, their range: the host's own jitter is larger than what
    the store adds."""
    if min(d) < 0 < max(d):
        return "within noise (%s to %s)" % (fmt_ms(min(d), True), fmt_ms(max(d), True))
    return fmt_ms(med(d), True)


def main():
    ap = argparse.ArgumentParser()
    env = os.environ.get
    ap.add_argument("--seconds", type=int, default=int(env("BENCH_REDIS_SECONDS") or 10))
    ap.add_argument("--rounds", type=int, default=int(env("BENCH_REDIS_ROUNDS") or 3))
    ap.add_argument("--latency-seconds", type=int,
                    default=int(env("BENCH_REDIS_LATENCY_SECONDS") or 5))
    ap.add_argument("--cli-requests", type=int,
                    default=int(env("BENCH_REDIS_CLI_REQUESTS") or 20000))
    ap.add_argument("--hosts", default=",".join(HOSTS))
    ap.add_argument("--envoy")
    args = ap.parse_args()
    hosts = [h for h in args.hosts.split(",") if h]
    for h in hosts:
        if h not in HOSTS:
            ap.error("unknown host %s (hosts: %s)" % (h, ", ".join(HOSTS)))
    for tool in ["wrk", "redis-server"] + (["webdis"] if "envoy" in hosts else []):
        if shutil.which(tool) is None:
            print("redis bench: %s is not installed (tools/deps.sh)" % tool)
            return 1
    # a SIGTERM (timeout, make interrupted) ends through the finally below
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    os.makedirs(OUT, exist_ok=True)
    work = tempfile.mkdtemp(prefix="redis-", dir=OUT)
    os.chmod(work, 0o755)
    script = os.path.join(work, "clients.lua")
    with open(script, "w") as f:
        f.write(CLIENTS_LUA)

    load_before = loadavg()
    t_start = time.time()
    started = []  # everything with a stop(), stopped in reverse
    servers = {}  # (host, config) -> server with .port, or CliHost
    problems = {h: [] for h in hosts}
    runs = {(h, c): [] for h in hosts for c in CONFIGS}
    lat = {(h, c): [] for h in hosts for c in CONFIGS}
    steps = {h: [] for h in hosts}
    versions = {}
    rounds_load = []
    try:
        redis = Redis(work).start()
        started.append(redis)
        versions["redis"] = (redis.command("INFO", "server") or "").split(
            "redis_version:")[-1].split("\r")[0].split("\n")[0]
        gw_port = None
        if "envoy" in hosts:
            gw_port = free_port()
            conf = os.path.join(work, "webdis.json")
            with open(conf, "w") as f:
                json.dump({"redis_host": "127.0.0.1", "redis_port": redis.port,
                           "http_host": "127.0.0.1", "http_port": gw_port, "threads": 2,
                           "daemonize": False, "database": 0, "verbosity": 1,
                           "logfile": os.path.join(work, "webdis.log")}, f)
            webdis = Proc(["webdis", conf], os.path.join(work, "webdis.stdio"))
            started.append(webdis)
            if not wait_port(gw_port, webdis.proc):
                raise RuntimeError("webdis did not start: " + webdis.tail())
            envoy_bin = args.envoy or default_envoy()
            v = subprocess.run([envoy_bin, "--version"], capture_output=True,
                               text=True).stdout.split("version:")[-1].strip().split("/")
            versions["envoy"] = v[1] if len(v) > 1 else v[0]
        for h in hosts:
            for c in CONFIGS:
                pol = policy(c, redis.port, "bench-%s:" % h,
                             "http://127.0.0.1:%d" % gw_port if h == "envoy" else None)
                if h == "nginx":
                    s = NginxHost(work, c, pol)
                elif h == "envoy":
                    s = EnvoyHost(work, c, pol, envoy_bin, gw_port)
                elif h == "node":
                    s = NodeHost(work, c, pol)
                else:
                    s = CliHost(work, c, pol, args.cli_requests)
                servers[(h, c)] = s
                if h != "cli":
                    started.append(s)
        # every host up, answering, its limits applied, and (redis) its
        # entries in Redis
        for h in hosts:
            for c in CONFIGS:
                s = servers[(h, c)]
                if h == "cli":
                    st = [CliHost.decide(s, s.one)[1][0]] + s.probe()
                else:
                    why = s.wait()
                    if why:
                        problems[h].append("%s: %s" % (c, why))
                        continue
                    st = [get(s.port, PATH, {"X-Client": "c0"})] + [
                        get(s.port, PATH, {"X-Client": "probe", "X-Probe": "p"})
                        for _ in range(2)]
                if st != [200, 200, 429]:
                    problems[h].append("%s: a request answers %s, two from one probe client %s "
                                       "(want 200, then 200 and 429)" % (c, st[0], st[1:]))
                if c == "redis" and not redis.command("KEYS", "bench-%s:*" % h):
                    problems[h].append("redis: no bench-%s:* entry in Redis" % h)
        # a warm-up run each (V8's and Node's compilers, Redis's entries),
        # not counted
        for h in hosts:
            for c in CONFIGS:
                if h != "cli" and not problems[h]:
                    res = wrk(servers[(h, c)].port, WARMUP_SECONDS, 8, script)
                    if "problem" in res:
                        problems[h].append("%s warm-up: %s" % (c, res["problem"]))
        for r in range(args.rounds):
            rounds_load.append(loadavg())
            for h in hosts:
                if problems[h]:
                    continue
                order = CONFIGS if r % 2 == 0 else CONFIGS[::-1]
                for c in order:
                    s = servers[(h, c)]
                    e0 = settled_evals(redis)
                    res = s.run() if h == "cli" else wrk(s.port, args.seconds, 8, script)
                    e1 = settled_evals(redis)
                    if "problem" in res:
                        problems[h].append("%s round %d: %s" % (c, r + 1, res["problem"]))
                        continue
                    per = (e1 - e0) / res["n"]
                    if c == "redis":
                        steps[h].append(per)
                        if per < REDIS_STEPS:
                            problems[h].append("redis round %d: %.2f EVALs per request, want %d "
                                               "(a step failed, counted locally)"
                                               % (r + 1, per, REDIS_STEPS))
                    elif e1 != e0:
                        problems[h].append("local round %d: %d EVALs" % (r + 1, e1 - e0))
                    runs[(h, c)].append(res)
                    if h != "cli":
                        lr = wrk(s.port, args.latency_seconds, 1, script)
                        if "problem" in lr:
                            problems[h].append("%s round %d, one connection: %s"
                                               % (c, r + 1, lr["problem"]))
                        else:
                            lat[(h, c)].append(lr)
                    print("# round %d %s %s: %s" % (
                        r + 1, h, c, "%.0f/s" % res["rps"] + (
                            "" if h == "cli" else ", one connection p50 %s p99 %s" % (
                                fmt_ms(lat[(h, c)][-1]["p50"]), fmt_ms(lat[(h, c)][-1]["p99"]))
                            if lat[(h, c)] else "")), flush=True)
    finally:
        # a second SIGTERM must not cut the stopping short
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        for s in reversed(started):
            s.stop()
        shutil.rmtree(work, ignore_errors=True)
    load_after = loadavg()
    elapsed = time.time() - t_start

    table = ["| host | req/s, local store | req/s, Redis | Redis / local | added p50 | added p99 |",
             "|---|---:|---:|---:|---:|---:|"]
    detail = ["| host | store | req/s (runs) | p50 / p99 under load (8 connections) | "
              "p50 / p99, one connection | EVALs per request |",
              "|---|---|---|---|---|---|"]
    rounds = ["| host | added p50, per round | added p99, per round |", "|---|---|---|"]
    failed = False
    for h in hosts:
        label = LABELS[h]
        if problems[h] or not all(runs[(h, c)] for c in CONFIGS):
            failed = True
            why = "; ".join(problems[h]) or "no run"
            table.append("| %s | failed: %s | | | | |" % (label, why))
            detail.append("| %s | failed: %s | | | | |" % (label, why))
            continue
        rps = {c: med([x["rps"] for x in runs[(h, c)]]) for c in CONFIGS}

        def added(src, q, scale=1.0):
            """Redis's minus local's, per round (the two ran one after
            the other), in ms."""
            return [(b[q] - a[q]) * scale for a, b in zip(src[(h, "local")], src[(h, "redis")])]

        if h == "cli":
            d = added(runs, "mean_us", 1e-3)
            table.append("| %s | %.0f | %.0f | %.2f | mean %s per decision | |" % (
                label, rps["local"], rps["redis"], rps["redis"] / rps["local"], fmt_added(d)))
            rounds.append("| %s | mean %s | |" % (label, " ".join(fmt_ms(x, True) for x in d)))
        else:
            d50, d99 = added(lat, "p50"), added(lat, "p99")
            table.append("| %s | %.0f | %.0f | %.2f | %s | %s |" % (
                label, rps["local"], rps["redis"], rps["redis"] / rps["local"],
                fmt_added(d50), fmt_added(d99)))
            rounds.append("| %s | %s | %s |" % (label, " ".join(fmt_ms(x, True) for x in d50),
                                                 " ".join(fmt_ms(x, True) for x in d99)))
        for c in CONFIGS:
            rs = runs[(h, c)]
            if h == "cli":
                load, one = "-", "mean %s per decision" % fmt_ms(
                    med([x["mean_us"] for x in rs]) / 1000)
            else:
                load = "%s / %s" % (fmt_ms(med([x["p50"] for x in rs])),
                                    fmt_ms(med([x["p99"] for x in rs])))
                one = "%s / %s" % (fmt_ms(med([x["p50"] for x in lat[(h, c)]])),
                                   fmt_ms(med([x["p99"] for x in lat[(h, c)]])))
            detail.append("| %s | %s | %s (%s) | %s | %s | %s |" % (
                label, c, "%.0f" % rps[c], " ".join("%.0f" % x["rps"] for x in rs), load, one,
                "%.2f" % med(steps[h]) if c == "redis" else "0"))

    head = subprocess.run(["git", "-C", TOP, "describe", "--always", "--dirty"],
                          capture_output=True, text=True).stdout.strip()
    lines = [
        "# Shared store on Redis against the local store (make bench-redis)", "",
        "authcore %s; %s; Redis %s%s; %d CPUs; %s" % (
            head, subprocess.run([NGINX, "-v"], capture_output=True,
                                 text=True).stderr.strip().replace("nginx version: ", ""),
            versions.get("redis", "?"),
            "; Envoy %s" % versions["envoy"] if versions.get("envoy") else "",
            os.cpu_count() or 0, time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())),
        "One limit on every request (1000/second per X-Client, %d clients round robin); "
        "wrk -t1 -c8 %d s runs (requests/s, medians of %d rounds, local and Redis "
        "alternating), then wrk -t1 -c1 %d s runs for the added p50/p99 (the median over "
        "the rounds of Redis's minus local's in the round); the CLI: %d decisions per run, "
        "startup taken off, the mean time per decision. Load average before %s, per round "
        "%s, after %s; %.0f s in all."
        % (CLIENTS, args.seconds, args.rounds, args.latency_seconds, args.cli_requests,
           load_before, ", ".join(rounds_load) or "-", load_after, elapsed), ""]
    text = "\n".join(lines + table + ["", "Runs:", ""] + detail + [
        "", "Added latency, one connection, Redis minus local in each round:", ""] + rounds) + "\n"
    sys.stdout.write(text)
    with open(os.path.join(OUT, "redis.md"), "w") as f:
        f.write(text)
    with open(os.path.join(OUT, "redis-table.md"), "w") as f:
        f.write("\n".join(table) + "\n")
    print("(written to build/bench/redis.md and build/bench/redis-table.md)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
