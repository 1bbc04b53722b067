#!/usr/bin/env python3
"""Rate limits shared by Envoy's workers: Envoy --concurrency 2 runs one wasm
VM per worker, and the filter keeps the rate-limit groups in proxy-wasm
shared data (one key per group, compare-and-set), so a client's limit holds
across workers.

One client (loopback) with "N/minute" on every request sends REQUESTS
requests over CONNS keep-alive connections at once, from CONNS threads;
Envoy spreads the connections over its workers (read from the listener's
per-worker counters on the admin port). Checks:
 - both workers took connections, and the 200s over both stay within what
   GCRA allows one client in the elapsed time: the burst of N, plus one per
   60/N s since the first request, plus at most WORKERS - 1 for the first
   write of the group (shared data has no create-if-absent; see
   hosts/proxy-wasm/README.md), and never more than 2N - 1 (the documented
   bound for any minute). A count kept per worker would let about N through
   on each;
 - at least N requests pass (the burst is not cut short by lost writes or
   store errors: no 503);
 - every refusal is 429 with Retry-After (whole seconds, at least 1) and
   the RateLimit-Policy and RateLimit headers naming the limit;
 - the filter's audit lines say rate_limited for the refusals.
How many writes lost a CAS race to the other worker (and were decided
again) is printed as a "# " line from the filter's debug lines.

Prints TAP-like lines. Loopback only; every wait is bounded; Envoy and the
upstream are always stopped.

Usage: envoy_ratelimit.py --wasm build/authcore-proxy.wasm --workdir DIR
                          [--envoy PATH]
"""
import argparse
import http.client
import json
import os
import re
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from envoy_vectors import Envoy, runner_args  # noqa: E402
from hostkit import start_echo, stop  # noqa: E402

WORKERS = 2
N = 20            # per minute, one client
CONNS = 8
EACH = 25         # requests per connection: 200 in all, 10 N
NAME = "per-client"


def policy():
    return json.dumps({
        "jwt": {"keys": [{"kid": "k1", "alg": "HS256",
                          "secret": "rate-limit-test-key-0123456789abcdef"}]},
        "public": ["/*"],
        "rate_limits": {"default": {"name": NAME, "key": "client",
                                    "limit": "%d/minute" % N}},
    })


def worker_counts(envoy):
    c = http.client.HTTPConnection("127.0.0.1", envoy.admin_port, timeout=5)
    try:
        c.request("GET", "/stats?filter=%s" % re.escape(
            "127.0.0.1_%d.worker_" % envoy.listen_port))
        text = c.getresponse().read().decode()
    finally:
        c.close()
    return {int(m.group(1)): int(m.group(2)) for m in re.finditer(
        r"\.worker_(\d+)\.downstream_cx_total: (\d+)", text)}


def client(port, results, lock, start):
    got = []
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        start.wait(10)
        for i in range(EACH):
            conn.request("GET", "/r/%d" % i)
            resp = conn.getresponse()
            resp.read()
            got.append((resp.status, {k.lower(): v for k, v in resp.getheaders()}))
    except (OSError, http.client.HTTPException) as e:
        got.append((None, {"error": str(e)}))
    finally:
        conn.close()
    with lock:
        results.extend(got)


def refusal_problems(hdrs):
    probs = []
    ra = hdrs.get("retry-after", "")
    if not ra.isdigit() or int(ra) < 1:
        probs.append("Retry-After %r" % ra)
    pol = hdrs.get("ratelimit-policy", "")
    if not re.search(r'"%s";q=%d;w=60' % (re.escape(NAME), N), pol):
        probs.append("RateLimit-Policy %r" % pol)
    rl = hdrs.get("ratelimit", "")
    if not re.search(r'"%s";r=0;t=\d+' % re.escape(NAME), rl):
        probs.append("RateLimit %r" % rl)
    return probs


def main():
    args, envoy_bin = runner_args(argparse.ArgumentParser(), old_logs=("ratelimit",))
    if not envoy_bin:
        return 1
    name = ("envoy --concurrency %d: %d/minute on one client holds across workers "
            "(%d requests over %d connections)" % (WORKERS, N, CONNS * EACH, CONNS))
    hname = "envoy --concurrency %d: every refusal is 429 with Retry-After, " \
            "RateLimit-Policy and RateLimit, audited rate_limited" % WORKERS
    echo, echo_port = start_echo()
    envoy = None
    results, lock = [], threading.Lock()
    try:
        envoy = Envoy(envoy_bin, args.workdir, "ratelimit", os.path.abspath(args.wasm),
                      policy(), echo_port, concurrency=WORKERS,
                      extra_args=["--component-log-level", "wasm:debug"])
        state = envoy.wait()
        if state != "ready":
            print("not ok - %s: envoy %s: %s" % (name, state, envoy.log_tail()), flush=True)
            return 1
        time.sleep(0.5)  # the readiness probe's connection is counted
        before = worker_counts(envoy)
        start = threading.Event()
        threads = [threading.Thread(target=client, args=(envoy.listen_port, results, lock,
                                                          start)) for _ in range(CONNS)]
        for t in threads:
            t.start()
        t0 = time.monotonic()
        start.set()
        for t in threads:
            t.join(60)
        elapsed = time.monotonic() - t0
        after = worker_counts(envoy)
        envoy.close()  # flushes the log
    finally:
        if envoy is not None:
            envoy.close()
        stop(echo)

    took = {w: after.get(w, 0) - before.get(w, 0) for w in after}
    statuses = [st for st, _ in results]
    ok = statuses.count(200)
    refused = [h for st, h in results if st == 429]
    other = sorted({str(st) for st in statuses if st not in (200, 429)})
    # GCRA: a burst of N, then one per 60/N s; the first write of a group
    # is not compare-and-set, so each other worker may count from empty once
    allowed = N + int(elapsed * N / 60.0) + 1 + (WORKERS - 1)
    probs = []
    if len(results) != CONNS * EACH:
        probs.append("%d answers for %d requests" % (len(results), CONNS * EACH))
    if other:
        probs.append("statuses other than 200/429: %s" % ", ".join(other))
    if sum(1 for n in took.values() if n > 0) < WORKERS:
        probs.append("connections per worker %r: not every worker took one" % took)
    if ok < N:
        probs.append("%d passed, fewer than the burst of %d" % (ok, N))
    if ok > min(allowed, 2 * N - 1):
        probs.append("%d passed in %.1f s, more than %d" % (ok, elapsed,
                                                           min(allowed, 2 * N - 1)))
    print("not ok - %s: %s" % (name, "; ".join(probs)) if probs else "ok - %s" % name,
          flush=True)
    print("# %d requests in %.2f s: %d x 200, %d x 429; connections per worker %r"
          % (len(results), elapsed, ok, len(refused), took), flush=True)

    probs = []
    if not refused:
        probs.append("no refusals")
    for h in refused:
        p = refusal_problems(h)
        if p:
            probs.append("; ".join(p))
            break
    lines = envoy.log_text().splitlines()
    audited = sum(1 for ln in lines if "authcore.decision" in ln and "rate_limited" in ln)
    if audited != len(refused):
        probs.append("%d audit lines say rate_limited for %d refusals" % (audited,
                                                                          len(refused)))
    print("not ok - %s: %s" % (hname, "; ".join(probs)) if probs else "ok - %s" % hname,
          flush=True)
    print("# writes that lost a CAS race and were decided again: %d"
          % sum(1 for ln in lines if "a write lost its CAS race" in ln), flush=True)
    if refused:
        h = refused[-1]
        print("# last refusal: Retry-After: %s; RateLimit-Policy: %s; RateLimit: %s"
              % (h.get("retry-after"), h.get("ratelimit-policy"), h.get("ratelimit")),
              flush=True)
    return 1 if probs else 0


if __name__ == "__main__":
    sys.exit(main())
