#!/usr/bin/env python3
"""The login state shared by Envoy's workers: Envoy --concurrency 2 runs one
wasm VM per worker, and the filter keeps the state (attempt counters, the
Basic credential cache) in proxy-wasm shared data, so what one worker
learns holds on the other.

Which worker took a connection is read from Envoy itself: the listener's
per-worker counters (listener.<address>.worker_<n>.downstream_cx_total on
the admin port) before and after each request, every request on a new
connection; the Envoy log's thread id ([%t] in its default format) on each
audit line is checked against them afterwards. Checks:
 - attempts: with "attempts": "3 per 10 minutes", failed logins over new
   connections are answered 401, 401, 401, then 429 whichever worker takes
   them, and until a 429 came from a worker that itself answered fewer
   than 3 of the failures (a per-worker count would have let it try again);
 - Basic cache: a Basic credential verified on one worker is a cache hit
   on the other: every request is allowed, both workers answer some, and
   exactly one password check runs (one "password check queued" line for
   that user's hash), the rest are decided with no check;
 - concurrent Basic requests on both workers at once: every one is allowed;
 - no lost update: a second Envoy with "40 per 10 minutes" takes 40 failed
   logins at once from 8 clients over both workers (all 401), and the 41st
   attempt is 429 only if all 40 were counted, i.e. every write that lost a
   CAS race to the other worker was redone;
 - the VMs use one stored state: the log has one "login state: stored"
   line and a "found" line for every other VM.
The cost of each state round trip (read, copy, compare, write back) is
printed as "# " lines from the filter's debug lines.

Prints TAP-like lines. Loopback only; every wait is bounded; Envoy and the
upstream are always stopped.

Usage: envoy_shared.py --wasm build/authcore-proxy.wasm --workdir DIR
                       [--envoy PATH]
"""
import argparse
import base64
import http.client
import json
import os
import re
import statistics
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from envoy_vectors import http_request, runner_args, start_workers, worker_counts  # noqa: E402
from hostkit import start_echo, stop, upstream_view  # noqa: E402
import authformats  # noqa: E402

WORKERS = 2
MAX_TRIES = 40
BURST = 40                # concurrent failed logins under "40 per 10 minutes"
ALICE_ITERATIONS = 1000   # the user whose logins fail
BOB_ITERATIONS = 2000     # the Basic user (a distinct count marks his checks)
BOB_PASSWORD = "bob's basic secret"
FORM = [("Content-Type", "application/x-www-form-urlencoded")]
BAD_LOGIN = "username=alice&password=wrong+guess&next=/app/home"


def policy(attempts="3 per 10 minutes"):
    return json.dumps({
        "realm": "app",
        "sessions": {"keys": [{"kid": "s1",
                               "secret": "shared-test-session-key-0123456789abcdef"}],
                     "cookie": "app_session", "csrf_cookie": "app_csrf", "ttl": 3600},
        "users": [{"name": "alice", "password_hash": authformats.phc_pbkdf2_sha256("alice's real password",
                                                               ALICE_ITERATIONS),
                   "roles": ["viewer"]},
                  {"name": "bob", "password_hash": authformats.phc_pbkdf2_sha256(BOB_PASSWORD, BOB_ITERATIONS),
                   "roles": ["viewer"]}],
        "login": {"prefix": "/app", "attempts": attempts, "basic": True,
                  # 40 concurrent failures from one loopback client: the
                  # per-user counter is under test, not the client budget
                  "client_attempts": "1000/minute", "max_pending": 64},
        "default": "authenticated",
        # each Basic request's audit line names the worker that decided it
        "audit": {"allowed": "all"},
    })


def on_worker(envoy, method, path, headers, body=None):
    """One request on a new connection: (status, headers, body, worker)."""
    before = worker_counts(envoy)
    status, hdrs, _, rbody = http_request(envoy.listen_port, method, path, headers, body)
    after = worker_counts(envoy)
    took = [w for w in after if after[w] != before.get(w, 0)]
    return status, hdrs, rbody, took[0] if len(took) == 1 else None


def settle(envoy, timeout=5.0):
    """Waits until the per-worker connection counts stop moving: the
    readiness probe's connection may be accepted after it was closed, and
    counted in the middle of the first request's before/after."""
    deadline, last = time.monotonic() + timeout, None
    while time.monotonic() < deadline:
        now = worker_counts(envoy)
        if now == last:
            return
        last = now
        time.sleep(0.2)


def attempts(envoy):
    """Failed logins until a worker that answered fewer than 3 of the
    failures answers 429. Returns (problems, [(status, worker)])."""
    settle(envoy)
    seen, fails = [], {}
    for _ in range(MAX_TRIES):
        status, _, _, w = on_worker(envoy, "POST", "/app/auth/login", FORM, BAD_LOGIN)
        if w is None:
            return ["cannot tell which worker took a connection"], seen
        seen.append((status, w))
        want = 401 if len(seen) <= 3 else 429
        if status != want:
            return ["attempt %d on worker %d: %d, want %d" % (len(seen), w, status, want)], seen
        if status == 401:
            fails[w] = fails.get(w, 0) + 1
        elif fails.get(w, 0) < 3:
            return [], seen  # refused on the count of another worker's failures
    return ["no 429 from a worker with fewer than 3 own failures in %d attempts"
            % MAX_TRIES], seen


def basic_header():
    return [("Authorization", "Basic " + base64.b64encode(
        ("bob:" + BOB_PASSWORD).encode()).decode())]


def basic_requests(envoy):
    """Basic requests on new connections until both workers answered one
    after the first (at least 4). Returns (problems, [(path, worker)])."""
    done, workers = [], set()
    for i in range(MAX_TRIES):
        path = "/app/basic-%d" % i
        status, hdrs, body, w = on_worker(envoy, "GET", path, basic_header())
        if status != 200 or upstream_view(status, hdrs, body) is None:
            return ["%s: %d, want 200 from the upstream" % (path, status)], done
        if w is None:
            return ["cannot tell which worker took a connection"], done
        done.append((path, w))
        if i > 0:
            workers.add(w)
        if len(done) >= 4 and len(workers) == WORKERS:
            return [], done
    return ["both workers did not answer in %d requests" % MAX_TRIES], done


def concurrent_basic(envoy, threads=4, each=10):
    """threads x each Basic requests at once, each on a new connection."""
    bad, lock = [], threading.Lock()

    def run(t):
        for i in range(each):
            path = "/app/burst-%d-%d" % (t, i)
            try:
                status, hdrs, _, body = http_request(envoy.listen_port, "GET", path,
                                                     basic_header())
                ok = status == 200 and upstream_view(status, hdrs, body) is not None
            except (OSError, http.client.HTTPException) as e:
                ok, status = False, str(e)
            if not ok:
                with lock:
                    bad.append("%s: %s" % (path, status))

    ts = [threading.Thread(target=run, args=(t,), daemon=True) for t in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(60)
    return bad


def lost_updates(envoy, threads=8, each=BURST // 8):
    """BURST failed logins at once from `threads` clients, each on new
    connections over both workers, under "BURST per 10 minutes": none can
    be throttled (fewer than BURST failures are counted before each), so
    all are 401; then the next attempt must be 429, which it is only if
    every one of the BURST failures was counted (a write that lost to
    another worker's and was not redone would leave the count short)."""
    statuses, lock = [], threading.Lock()

    def run():
        for _ in range(each):
            try:
                st = http_request(envoy.listen_port, "POST", "/app/auth/login", FORM,
                                  BAD_LOGIN)[0]
            except (OSError, http.client.HTTPException) as e:
                st = str(e)
            with lock:
                statuses.append(st)

    ts = [threading.Thread(target=run, daemon=True) for _ in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(60)
    probs = []
    if statuses.count(401) != BURST:
        probs.append("burst answers %r, want %d x 401" % (sorted(map(str, statuses)), BURST))
    last = on_worker(envoy, "POST", "/app/auth/login", FORM, BAD_LOGIN)
    if last[0] != 429:
        probs.append("attempt %d after the burst: %d, want 429" % (BURST + 1, last[0]))
    counts = worker_counts(envoy)
    if sum(1 for v in counts.values() if v > 0) < WORKERS:
        probs.append("the burst did not reach both workers: %r" % counts)
    return probs


def thread_of(line):
    m = re.match(r"\[[^\]]*\]\[(\d+)\]", line)
    return m.group(1) if m else None


def audit_threads(lines, path_prefix):
    """[(path, thread id)] of the final audit lines of paths with this
    prefix, in log order."""
    out = []
    for ln in lines:
        if "authcore.decision" not in ln or '"action":"pending"' in ln:
            continue
        m = re.search(r'"path":"(%s[^"]*)"' % re.escape(path_prefix), ln)
        if m:
            out.append((m.group(1), thread_of(ln)))
    return out


def check_threads(pairs, workers):
    """The log's thread ids agree with the workers the stats named: one
    thread per worker, one worker per thread. pairs and workers are in
    request order."""
    if len(pairs) != len(workers):
        return ["%d audit lines for %d requests" % (len(pairs), len(workers))]
    by_worker = {}
    for (_, t), w in zip(pairs, workers):
        by_worker.setdefault(w, set()).add(t)
    threads = [t for ts in by_worker.values() for t in ts]
    if None in threads or len(threads) != len(by_worker) or \
            len(set(threads)) != len(threads):
        return ["audit thread ids %r do not match the workers" % by_worker]
    return []


def figures(lines):
    out, written, unchanged, conflicts = [], [], [], 0
    for ln in lines:
        m = re.search(r"shared state: (\d+) bytes read, (written back|unchanged), "
                      r"(\d+) CAS conflicts, (\d+) us copying \(core call (\d+) us\)", ln)
        if m:
            (written if m.group(2) == "written back" else unchanged).append(int(m.group(4)))
            conflicts += int(m.group(3))
    for what, xs in (("written back", written), ("unchanged", unchanged)):
        if xs:
            out.append("# shared state round trips (%s): %d, copying p50 %d us, max %d us"
                       % (what, len(xs), statistics.median(xs), max(xs)))
    out.append("# CAS conflicts retried: %d" % conflicts)
    return out


def main():
    args, envoy_bin = runner_args(argparse.ArgumentParser(), old_logs=("shared", "shared-cas"))
    if not envoy_bin:
        return 1

    names = {
        "attempts": "envoy --concurrency %d: failed logins counted on one worker are "
                    "refused (429) on another" % WORKERS,
        "basic": "envoy --concurrency %d: a Basic credential verified on one worker "
                 "is a cache hit on another (one password check)" % WORKERS,
        "burst": "envoy --concurrency %d: concurrent Basic requests on both workers "
                 "are all allowed" % WORKERS,
        "one": "envoy --concurrency %d: every VM uses the one stored state" % WORKERS,
        "cas": "envoy --concurrency %d: %d concurrent failed logins over both workers "
               "are all counted (CAS conflicts redone, none lost)" % (WORKERS, BURST),
    }
    echo, echo_port = start_echo()
    envoy = None
    results = {}
    try:
        envoy, why = start_workers(envoy_bin, args.workdir, "shared", args.wasm, policy(),
                                   echo_port, WORKERS)
        if why:
            print("not ok - envoy shared state: %s" % why, flush=True)
            return 1
        try:
            results["attempts"] = attempts(envoy)
            results["basic"] = basic_requests(envoy)
            results["burst"] = (concurrent_basic(envoy), None)
        except (OSError, http.client.HTTPException) as e:
            print("not ok - envoy shared state: a request failed: %s" % e, flush=True)
            return 1
        envoy.close()  # flushes the log
        cas_envoy, why = start_workers(envoy_bin, args.workdir, "shared-cas", args.wasm,
                                       policy("%d per 10 minutes" % BURST), echo_port,
                                       WORKERS)
        try:
            results["cas"] = [why] if why else lost_updates(cas_envoy)
        except (OSError, http.client.HTTPException) as e:
            results["cas"] = ["a request failed: %s" % e]
        finally:
            cas_envoy.close()
    finally:
        if envoy is not None:
            envoy.close()
        stop(echo)

    lines = envoy.log_text().splitlines()
    rc = 0

    probs, seen = results["attempts"]
    if not probs:
        probs = check_threads(audit_threads(lines, "/app/auth/login"),
                              [w for _, w in seen])
    print("not ok - %s: %s" % (names["attempts"], "; ".join(probs)) if probs else
          "ok - %s" % names["attempts"], flush=True)
    print("# attempts (status@worker): " + " ".join("%d@%d" % sw for sw in seen), flush=True)
    rc |= bool(probs)

    probs, done = results["basic"]
    if not probs:
        queued = [ln for ln in lines if re.search(
            r"password check queued: (%d|%d) iterations" % (BOB_ITERATIONS - 1,
                                                            BOB_ITERATIONS), ln)]
        if len(queued) != 1:
            probs.append("%d password checks for the Basic user, want 1" % len(queued))
        pairs = dict(audit_threads(lines, "/app/basic-"))
        probs += check_threads([(p, pairs.get(p)) for p, _ in done],
                               [w for _, w in done])
    print("not ok - %s: %s" % (names["basic"], "; ".join(probs)) if probs else
          "ok - %s" % names["basic"], flush=True)
    print("# Basic requests (worker): " + " ".join(str(w) for _, w in done), flush=True)
    rc |= bool(probs)

    bad = results["burst"][0]
    print("not ok - %s: %s" % (names["burst"], "; ".join(bad[:5])) if bad else
          "ok - %s" % names["burst"], flush=True)
    rc |= bool(bad)

    stored = [ln for ln in lines if "login state: stored in proxy-wasm shared data" in ln]
    found = [ln for ln in lines if "login state: found in proxy-wasm shared data" in ln]
    # Envoy starts a VM on the main thread, then one per worker
    probs = [] if len(stored) == 1 and len(found) >= WORKERS else [
        "%d 'stored' and %d 'found' lines, want 1 and at least %d"
        % (len(stored), len(found), WORKERS)]
    print("not ok - %s: %s" % (names["one"], "; ".join(probs)) if probs else
          "ok - %s" % names["one"], flush=True)
    rc |= bool(probs)
    probs = results["cas"]
    print("not ok - %s: %s" % (names["cas"], "; ".join(probs)) if probs else
          "ok - %s" % names["cas"], flush=True)
    rc |= bool(probs)
    for f in figures(lines + cas_envoy.log_text().splitlines()):
        print(f, flush=True)
    return 1 if rc else 0


if __name__ == "__main__":
    sys.exit(main())
