#!/usr/bin/env python3
"""Rate limits shared by Envoy's workers: Envoy --concurrency 2 runs one wasm
VM per worker, and the filter keeps the rate-limit groups in proxy-wasm
shared data (one key per group, compare-and-set), so a client's limit holds
across workers.

One client (loopback) with "N/minute" on every request loads Envoy over
CONNS keep-alive connections at once: with wrk (Debian's wrk, when
installed: 2 threads, WRK_SECONDS s, a Lua script that tallies the
statuses and checks every 429's headers), else from CONNS Python threads
(EACH requests each). Envoy spreads the connections over its workers (read
from the listener's per-worker counters on the admin port). Checks:
 - both workers took connections, and the 200s over both stay within what
   GCRA allows one client in the elapsed time: the burst of N, plus one per
   60/N s of the core's clock (whole seconds: the elapsed time rounded
   down, plus one), plus at most WORKERS - 1 for the first
   write of the group (shared data has no create-if-absent; see
   hosts/proxy-wasm/README.md), and never more than 2N - 1 (the documented
   bound for any minute). A count kept per worker would let about N through
   on each;
 - at least N requests pass (the burst is not cut short by lost writes or
   store errors: no 503);
 - every refusal is 429 with Retry-After (whole seconds, at least 1) and
   the RateLimit-Policy and RateLimit headers naming the limit;
 - the filter's audit lines say rate_limited for the refusals (with wrk,
   up to one more per connection: a request in flight when wrk stops).
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
import shutil
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from envoy_vectors import runner_args, start_workers, worker_counts  # noqa: E402
from hostkit import start_echo, stop  # noqa: E402

WORKERS = 2
N = 100           # per minute, one client: a burst long enough for the workers to race
CONNS = 8
EACH = 25         # requests per connection: 200 in all, 2 N
WRK_SECONDS = 3
NAME = "per-client"

# wrk: each thread tallies statuses and refusals whose headers are wrong
# (its first such answer kept); done() prints the sums for all threads.
WRK_LUA = r"""
local threads = {}
function setup(thread) table.insert(threads, thread) end
counts, bad, sample = {}, 0, ""
local pol_want = '"%(name)s";q=%(n)d;w=60'
local rl_want = '^"%(lname)s";r=0;t=%%d+$'
function response(status, headers, body)
  counts[status] = (counts[status] or 0) + 1
  if status ~= 429 then return end
  local h = {}
  for k, v in pairs(headers) do h[string.lower(k)] = v end
  local ra = tonumber(h["retry-after"] or "")
  local ok = ra ~= nil and ra >= 1 and string.match(h["retry-after"], "^%%d+$") ~= nil
    and h["ratelimit-policy"] ~= nil
    and string.find(h["ratelimit-policy"], pol_want, 1, true) ~= nil
    and h["ratelimit"] ~= nil and string.match(h["ratelimit"], rl_want) ~= nil
  if not ok then
    bad = bad + 1
    if sample == "" then
      sample = string.format("Retry-After %%s; RateLimit-Policy %%s; RateLimit %%s",
        tostring(h["retry-after"]), tostring(h["ratelimit-policy"]), tostring(h["ratelimit"]))
    end
  end
end
function done(summary, latency, requests)
  local all, nbad, first = {}, 0, ""
  for _, t in ipairs(threads) do
    for st, n in pairs(t:get("counts")) do all[st] = (all[st] or 0) + n end
    nbad = nbad + t:get("bad")
    if first == "" then first = t:get("sample") end
  end
  for st, n in pairs(all) do io.write(string.format("status %%d %%d\n", st, n)) end
  io.write(string.format("badrefusals %%d\n", nbad))
  io.write("sample " .. first .. "\n")
  io.write(string.format("errors %%d\n", summary.errors.connect + summary.errors.read
    + summary.errors.write + summary.errors.timeout))
end
""" % {"name": NAME, "n": N,
       "lname": "".join(c if c.isalnum() else "%" + c for c in NAME)}  # a Lua pattern


def policy():
    return json.dumps({
        "jwt": {"keys": [{"kid": "k1", "alg": "HS256",
                          "secret": "rate-limit-test-key-0123456789abcdef"}]},
        "public": ["/*"],
        "rate_limits": {"default": {"name": NAME, "key": "client",
                                    "limit": "%d/minute" % N}},
    })


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


def run_wrk(port, workdir):
    """Loads the listener with wrk; returns ({status: count}, refusals with
    wrong headers, a sample of them, socket errors, elapsed s) or a
    problem string."""
    script = os.path.join(workdir, "tally.lua")
    with open(script, "w") as f:
        f.write(WRK_LUA)
    t0 = time.monotonic()
    try:
        out = subprocess.run(["wrk", "-t2", "-c%d" % CONNS, "-d%ds" % WRK_SECONDS,
                              "-s", script, "http://127.0.0.1:%d/r" % port],
                             capture_output=True, text=True, timeout=WRK_SECONDS + 30)
    except subprocess.TimeoutExpired:
        return "wrk did not finish"
    elapsed = time.monotonic() - t0
    counts = {int(a): int(b) for a, b in re.findall(r"^status (\d+) (\d+)$", out.stdout, re.M)}
    bad = re.search(r"^badrefusals (\d+)$", out.stdout, re.M)
    errs = re.search(r"^errors (\d+)$", out.stdout, re.M)
    sample = re.search(r"^sample (.*)$", out.stdout, re.M)
    if not counts or not bad or not errs:
        return "wrk printed no tally: %s %s" % (out.stdout[-300:], out.stderr[-300:])
    return counts, int(bad.group(1)), sample.group(1) if sample else "", \
        int(errs.group(1)), elapsed


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
    use_wrk = shutil.which("wrk") is not None
    load = ("wrk -t2 -c%d -d%ds" % (CONNS, WRK_SECONDS) if use_wrk else
            "%d requests over %d connections" % (CONNS * EACH, CONNS))
    name = ("envoy --concurrency %d: %d/minute on one client holds across workers "
            "(%s)" % (WORKERS, N, load))
    hname = "envoy --concurrency %d: every refusal is 429 with Retry-After, " \
            "RateLimit-Policy and RateLimit, audited rate_limited" % WORKERS
    echo, echo_port = start_echo()
    envoy = None
    results, lock = [], threading.Lock()
    try:
        envoy, why = start_workers(envoy_bin, args.workdir, "ratelimit", args.wasm, policy(),
                                   echo_port, WORKERS)
        if why:
            print("not ok - %s: %s" % (name, why), flush=True)
            return 1
        time.sleep(0.5)  # the readiness probe's connection is counted
        before = worker_counts(envoy)
        if use_wrk:
            os.makedirs(args.workdir, exist_ok=True)
            tally = run_wrk(envoy.listen_port, args.workdir)
            elapsed = tally[4] if not isinstance(tally, str) else 0.0
        else:
            start = threading.Event()
            threads = [threading.Thread(target=client, args=(envoy.listen_port, results,
                                                              lock, start))
                       for _ in range(CONNS)]
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
    probs = []
    if use_wrk:
        if isinstance(tally, str):
            print("not ok - %s: %s" % (name, tally), flush=True)
            print("not ok - %s: no answers to check" % hname, flush=True)
            return 1
        counts, bad, sample, errors, _ = tally
        total = sum(counts.values())
        ok, n_refused = counts.get(200, 0), counts.get(429, 0)
        other = sorted(str(st) for st in counts if st not in (200, 429))
        if errors:
            probs.append("%d socket errors" % errors)
    else:
        statuses = [st for st, _ in results]
        total = len(results)
        ok = statuses.count(200)
        refused = [h for st, h in results if st == 429]
        n_refused = len(refused)
        other = sorted({str(st) for st in statuses if st not in (200, 429)})
        if total != CONNS * EACH:
            probs.append("%d answers for %d requests" % (total, CONNS * EACH))
    # GCRA: a burst of N, then one per 60/N s of the core's clock, whole
    # seconds (the first and last second counted span up to int(elapsed)
    # + 1); the first write of a group is not compare-and-set, so each
    # other worker may count from empty once
    allowed = N + int((int(elapsed) + 1) * N / 60.0) + (WORKERS - 1)
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
    print("# %s: %d requests in %.2f s: %d x 200, %d x 429; connections per worker %r"
          % ("wrk" if use_wrk else "Python threads (wrk not installed)", total, elapsed, ok,
             n_refused, took), flush=True)

    probs = []
    if not n_refused:
        probs.append("no refusals")
    if use_wrk:
        if bad:
            probs.append("%d refusals with wrong headers, e.g. %s" % (bad, sample))
    else:
        for h in refused:
            p = refusal_problems(h)
            if p:
                probs.append("; ".join(p))
                break
    lines = envoy.log_text().splitlines()
    audited = sum(1 for ln in lines if "authcore.decision" in ln and "rate_limited" in ln)
    # wrk stops with up to one request in flight per connection: Envoy may
    # have answered (and audited) those without wrk counting them
    slack = CONNS if use_wrk else 0
    if not n_refused <= audited <= n_refused + slack:
        probs.append("%d audit lines say rate_limited for %d refusals%s" % (
            audited, n_refused, " (+ at most %d in flight)" % slack if slack else ""))
    print("not ok - %s: %s" % (hname, "; ".join(probs)) if probs else "ok - %s" % hname,
          flush=True)
    print("# writes that lost a CAS race and were decided again: %d"
          % sum(1 for ln in lines if "a write lost its CAS race" in ln), flush=True)
    if not use_wrk and refused:
        h = refused[-1]
        print("# last refusal: Retry-After: %s; RateLimit-Policy: %s; RateLimit: %s"
              % (h.get("retry-after"), h.get("ratelimit-policy"), h.get("ratelimit")),
              flush=True)
    return 1 if probs else 0


if __name__ == "__main__":
    sys.exit(main())
