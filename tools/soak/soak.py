"""make soak: Envoy and nginx with authcore under a steady mix of requests for
minutes; their workers' memory must stay flat and every answer must be the
one its request expects.

Per host (Envoy with --concurrency 2, then nginx with 2 workers; the
proxies of tools/bench/proxy_bench.py with its policy, in front of one
nginx `return 200` upstream), wrk (Debian `wrk`, tools/soak/mix.lua,
--connections threads of one connection each) sends this mix in turn for
--seconds, each kind with its expected status:

  hs256, rs256, es256  a valid bearer token                  200
  session              a valid session cookie                200
  public               a public path, no credential          200
  login-page           GET the login page                    200
  bad-signature        an HS256 token with another signature 401
  expired              an HS256 token expired an hour ago    401
  alg-none             an unsigned token (alg none)          401
  no-credential        a protected path, nothing sent        401
  failed-login         a form login with a wrong password    401

(login limits raised past what the run can reach, so that failed logins
are answered 401, not 429: this soaks the password check, not the
throttle). Each kind is first sent once with Python's http.client; then
wrk runs. Every --interval seconds the RSS (VmRSS) of each worker is
sampled: the Envoy process (its workers are threads), each nginx worker
process. The report gives, per worker, the first sample, the sample
after --warmup seconds (the reference), the last and the maximum; "flat"
means last <= reference x (1 + --margin/100). A host fails on any
unexpected status, any wrk socket error, a worker that is not the same
process at the end (a crash and respawn), or RSS past the margin; then
the exit status is 1. Writes build/soak/soak.md.

Usage: build/venv/bin/python tools/soak/soak.py [--seconds 300]
       [--hosts envoy,nginx] [--connections 4] [--interval 5]
       [--warmup 60] [--margin 10]   (SOAK_SECONDS: the default of --seconds;
       --warmup defaults to a fifth of --seconds, at least 10 s)
"""
import argparse
import base64
import hashlib
import hmac
import json
import os
import re
import subprocess
import sys
import threading
import time

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(TOP, "tools", "bench"))
import proxy_bench  # noqa: E402
from proxy_bench import CostEnvoy, Nginx, Material, status  # noqa: E402
from envoy_ab import SECRET, BASIC_PASSWORD  # noqa: E402
from envoy_vectors import default_envoy  # noqa: E402

OUT = os.path.join(TOP, "build", "soak")
MIX = os.path.join(TOP, "tools", "soak", "mix.lua")
HOST = "soak.test"


def b64(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def hs256(payload, alg="HS256", sign=True):
    hdr = {"alg": alg, "typ": "JWT"}
    si = b64(json.dumps(hdr, separators=(",", ":")).encode()) + "." + \
        b64(json.dumps(payload, separators=(",", ":")).encode())
    if not sign:
        return si + "."
    return si + "." + b64(hmac.new(SECRET.encode(), si.encode(), hashlib.sha256).digest())


def kinds(m):
    """[(kind, expected status, method, path, [headers], body)]"""
    now = int(time.time())
    good = {"sub": "alice", "aud": "api", "iat": now, "exp": now + 7200, "roles": ["reader"]}
    expired = dict(good, iat=now - 7200, exp=now - 3600)
    forged = hs256(good).rsplit(".", 1)[0] + "." + b64(hashlib.sha256(b"not the key").digest())
    bearer = lambda t: ["Authorization: Bearer " + t]  # noqa: E731
    form = "username=bob&password=wrong-" + BASIC_PASSWORD.replace(" ", "+") + "&next=/app/"
    return [
        ("hs256", 200, "GET", "/api/items", m.creds["hs256"], ""),
        ("rs256", 200, "GET", "/api/items", m.creds["rs256"], ""),
        ("es256", 200, "GET", "/api/items", m.creds["es256"], ""),
        ("session", 200, "GET", "/api/items", m.creds["session"], ""),
        ("public", 200, "GET", "/public/ping", [], ""),
        ("login-page", 200, "GET", "/app/auth/login", ["Accept: text/html"], ""),
        ("bad-signature", 401, "GET", "/api/items", bearer(forged), ""),
        ("expired", 401, "GET", "/api/items", bearer(hs256(expired)), ""),
        ("alg-none", 401, "GET", "/api/items", bearer(hs256(good, "none", False)), ""),
        ("no-credential", 401, "GET", "/api/items", [], ""),
        ("failed-login", 401, "POST", "/app/auth/login",
         ["Content-Type: application/x-www-form-urlencoded", "Accept: text/html"], form),
    ]


def raw(method, path, headers, body):
    lines = ["%s %s HTTP/1.1" % (method, path), "Host: " + HOST] + list(headers)
    if method == "POST":
        lines.append("Content-Length: %d" % len(body))
    return "\r\n".join(lines) + "\r\n\r\n" + body


def lua_requests(mix, path):
    """The requests as the Lua chunk mix.lua loads."""
    def q(s):
        assert "]==]" not in s
        return "[==[" + s + "]==]"
    with open(path, "w") as f:
        f.write("return {\n")
        for kind, st, method, p, headers, body in mix:
            # a long bracket drops a first newline only; none starts one
            f.write("  {kind=%s, status=%d, raw=%s},\n" % (
                q(kind), st, q(raw(method, p, headers, body))))
        f.write("}\n")


def preflight(port, mix):
    """Each kind once over http.client: [problems]."""
    import http.client
    probs = []
    for kind, want, method, path, headers, body in mix:
        hdrs = {"Host": HOST}
        for h in headers:
            k, v = h.split(": ", 1)
            hdrs[k] = v
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            c.request(method, path, body=body.encode() if method == "POST" else None,
                      headers=hdrs)
            r = c.getresponse()
            r.read()
            c.close()
            got = r.status
        except OSError as e:
            got = "error %s" % e
        if got != want:
            probs.append("%s: %s, expected %d" % (kind, got, want))
    return probs


def rss_kb(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


class Sampler(threading.Thread):
    def __init__(self, pids, interval):
        super().__init__(daemon=True)
        self.pids, self.interval = pids, interval
        self.halt = threading.Event()
        self.samples = []  # (seconds since start, {pid: kB})
        self.t0 = time.monotonic()

    def take(self):
        self.samples.append((time.monotonic() - self.t0,
                             {p: rss_kb(p) for p in self.pids}))

    def run(self):
        self.take()
        while not self.halt.wait(self.interval):
            self.take()
        self.take()


def soak_one(name, proc, pids, mix, args):
    """Runs wrk against one proxy; returns (report lines, failures)."""
    fails = []
    probs = preflight(proc.port, mix)
    if probs:
        return ["- preflight: " + "; ".join(probs)], ["%s preflight: %s" % (name, "; ".join(probs))]
    data = os.path.join(OUT, "requests-%s.lua" % name)
    lua_requests(mix, data)
    sampler = Sampler(pids, args.interval)
    sampler.start()
    cmd = ["wrk", "-t%d" % args.connections, "-c%d" % args.connections,
           "-d%ds" % args.seconds, "--timeout", "10s", "-s", MIX,
           "http://127.0.0.1:%d/" % proc.port, "--", data]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=args.seconds + 120)
    sampler.halt.set()
    sampler.join()
    out = p.stdout
    with open(os.path.join(OUT, "wrk-%s.txt" % name), "w") as f:
        f.write(out + p.stderr)
    sent = {m.group(1): int(m.group(2)) for m in re.finditer(r"^SOAK-SENT (\S+) (\d+)$", out, re.M)}
    bad = {m.group(1): int(m.group(2)) for m in re.finditer(r"^SOAK-BAD (\S+ \S+) (\d+)$", out, re.M)}
    lat = re.search(r"^SOAK-LATENCY (\d+) (\d+) (\d+)$", out, re.M)
    total = re.search(r"(\d+) requests in", out)
    errs = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    lines = []
    if p.returncode != 0 or not total or not sent:
        fails.append("%s: wrk failed (exit %d): %s" % (name, p.returncode,
                                                      (out + p.stderr)[-300:]))
        return lines, fails
    n = int(total.group(1))
    nbad = sum(bad.values())
    lines.append("- %d requests in %d s (%.0f/s), %d connections; latency p50 %.1f ms, "
                 "p99 %.1f ms, max %.1f ms" % (
                     n, args.seconds, n / args.seconds, args.connections,
                     int(lat.group(1)) / 1000 if lat else -1,
                     int(lat.group(2)) / 1000 if lat else -1,
                     int(lat.group(3)) / 1000 if lat else -1))
    lines.append("- sent per kind: " + ", ".join(
        "%s %d" % (k, sent.get(k, 0)) for k, *_ in mix))
    lines.append("- unexpected statuses: %d%s" % (nbad, (" (" + ", ".join(
        "%s: %d" % kv for kv in sorted(bad.items())) + ")") if bad else ""))
    if nbad:
        fails.append("%s: %d unexpected statuses: %s" % (
            name, nbad, ", ".join("%s %d" % kv for kv in sorted(bad.items()))))
    if errs and any(int(x) for x in errs.groups()):
        lines.append("- wrk socket errors: " + errs.group(0))
        fails.append("%s: %s" % (name, errs.group(0)))
    # RSS
    lines.append("")
    lines.append("| worker (pid) | first | after %d s warm-up | last | max | last / warm-up | |"
                 % args.warmup)
    lines.append("|---|---:|---:|---:|---:|---:|---|")
    for pid in pids:
        series = [(t, s[pid]) for t, s in sampler.samples if s.get(pid) is not None]
        if not series or sampler.samples[-1][1].get(pid) is None:
            lines.append("| %d | gone | | | | | not flat |" % pid)
            fails.append("%s: worker %d is gone" % (name, pid))
            continue
        ref = next((v for t, v in series if t >= args.warmup), series[-1][1])
        first, last, top = series[0][1], series[-1][1], max(v for _, v in series)
        flat = last <= ref * (1 + args.margin / 100.0)
        lines.append("| %d | %.1f MB | %.1f MB | %.1f MB | %.1f MB | %.3f | %s |" % (
            pid, first / 1024, ref / 1024, last / 1024, top / 1024, last / ref,
            "flat" if flat else "GREW"))
        if not flat:
            fails.append("%s: worker %d RSS %.1f MB after warm-up, %.1f MB at the end "
                         "(margin %g%%)" % (name, pid, ref / 1024, last / 1024, args.margin))
    lines.append("")
    lines.append("RSS samples (MB, every %g s): " % args.interval + "; ".join(
        "%d: %s" % (pid, " ".join("%.1f" % (s[pid] / 1024) for _, s in sampler.samples
                                 if s.get(pid) is not None)) for pid in pids))
    return lines, fails


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=int(os.environ.get("SOAK_SECONDS") or 300))
    ap.add_argument("--hosts", default="envoy,nginx")
    ap.add_argument("--connections", type=int, default=4)
    ap.add_argument("--interval", type=float, default=5.0)
    ap.add_argument("--warmup", type=int, default=None)
    ap.add_argument("--margin", type=float, default=10.0)
    ap.add_argument("--wasm", default=os.path.join(TOP, "build", "authcore-proxy.wasm"))
    ap.add_argument("--module", default=os.path.join(TOP, "build", "nginx",
                                                     "ngx_http_authcore_module.so"))
    ap.add_argument("--envoy")
    args = ap.parse_args()
    if args.warmup is None:
        args.warmup = max(10, args.seconds // 5)
    os.makedirs(OUT, exist_ok=True)
    m = Material()
    pol = json.loads(m.policy)
    # failed logins must stay 401: limits far past what one run reaches
    pol["login"].update({"attempts": "100000000/second",
                         "client_attempts": "100000000/second", "max_pending": 64})
    m.policy = json.dumps(pol)
    mix = kinds(m)
    head = subprocess.run(["git", "-C", TOP, "describe", "--always", "--dirty"],
                          capture_output=True, text=True).stdout.strip()
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    report = ["# Soak (%s)" % stamp, "",
              "authcore %s; %d cores; %d s per host, wrk %d threads x 1 connection, mix of %d "
              "kinds in turn (tools/soak/soak.py); RSS flat = last <= value after %d s "
              "x %.2f" % (head, os.cpu_count() or 0, args.seconds, args.connections, len(mix),
                          args.warmup, 1 + args.margin / 100), ""]
    failures = []
    upstream = Nginx("soak-upstream", None, 2, None)
    try:
        if not upstream.wait():
            print("the upstream nginx did not start (%s)" % upstream.log)
            return 1
        for host in args.hosts.split(","):
            if host == "envoy":
                proc = CostEnvoy(args.envoy or default_envoy(), "soak", args.wasm,
                                 upstream=upstream.port, policy_text=m.policy, out=OUT,
                                 concurrency=2)
                title = "Envoy, --concurrency 2 (RSS of the Envoy process)"
            elif host == "nginx":
                proc = Nginx("soak", args.module, 2, upstream.port, m.policy)
                title = "nginx, 2 workers (RSS of each worker process)"
            else:
                ap.error("unknown host %s" % host)
            try:
                if not proc.wait():
                    failures.append("%s did not start" % host)
                    report += ["## " + title, "", "- did not start", ""]
                    continue
                pids = [proc.proc.pid] if host == "envoy" else proc.worker_pids()
                print("# soaking %s for %d s ..." % (host, args.seconds), flush=True)
                lines, fails = soak_one(host, proc, pids, mix, args)
                if host == "nginx" and sorted(proc.worker_pids()) != sorted(pids):
                    fails.append("nginx: worker processes changed %s -> %s" % (
                        pids, proc.worker_pids()))
                    lines.append("- worker processes changed: %s -> %s"
                                 % (pids, proc.worker_pids()))
                if proc.proc.poll() is not None:
                    fails.append("%s exited during the soak" % host)
                if host == "nginx":
                    with open(proc.log, errors="replace") as f:
                        log = f.read()
                    with open(os.path.join(OUT, "nginx-error.log"), "w") as f:
                        f.write(log)
                    worse = [ln for ln in log.splitlines()
                             if re.search(r"\[(alert|crit|emerg)\]|exited on signal", ln)]
                    if worse:
                        fails.append("nginx logged %d alert/crit lines, e.g. %s"
                                     % (len(worse), worse[0][-200:]))
                report += ["## " + title, ""] + lines + [""]
                failures += fails
                print("\n".join(lines), flush=True)
            finally:
                proc.close()
    finally:
        upstream.close()
    report.append("Result: " + ("FAILED: " + "; ".join(failures) if failures else
                                "no unexpected status, RSS flat"))
    text = "\n".join(report) + "\n"
    print(text)
    with open(os.path.join(OUT, "soak.md"), "w") as f:
        f.write(text)
    print("(written to build/soak/soak.md)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
