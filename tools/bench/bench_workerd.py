"""workerd driver for make bench (tools/bench/run.py runs it).

    python bench_workerd.py ITERATIONS PASSWORD SALT_HEX

Serves tools/bench/bench_worker.mjs with the bench wasm build
(build/bench/wasm/acbench.{mjs,wasm}) in a real workerd process (npm
workerd, node_modules/.bin/workerd) on a loopback socket this driver binds
and hands over (--socket-fd), and times PBKDF2-HMAC-SHA256 in it.

workerd freezes Date.now() and performance.now() while a request runs, so
the time is taken here, outside the Worker: the HTTP round trip of a
request that derives one key, minus the empty-request baseline (the same
request with i=0: parsed and copied into wasm memory, no derivation). Over
one keep-alive connection, after a warm-up request that instantiates the
wasm:
  baseline  the fastest of BASELINE_RUNS empty requests
  pbkdf2    the fastest of PBKDF2_RUNS derivations, minus the baseline
Output, as the other drivers: "RESULT pbkdf2 wasm-workerd <ns> 1 <runs>",
"RESULT pbkdf2 workerd-empty <ns> 1 <runs>", "DK pbkdf2 wasm-workerd <hex>",
"VERSION workerd <text>", "FAILED pbkdf2 wasm-workerd <why>".
Every wait is bounded; the workerd process is stopped on every path.
"""
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.parse

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
WORKERD = os.path.join(TOP, "node_modules", ".bin", "workerd")
WASM = os.path.join(TOP, "build", "bench", "wasm")
WORK = os.path.join(TOP, "build", "bench", "workerd")
PBKDF2_RUNS = 5
BASELINE_RUNS = 20
START_TIMEOUT = 20      # seconds until workerd answers
REQUEST_TIMEOUT = 120   # seconds for one request (one derivation)

CONFIG = """using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [ (name = "main", worker = .benchWorker) ],
  sockets = [ (name = "http", address = "127.0.0.1:0", http = (), service = "main") ],
);

const benchWorker :Workerd.Worker = (
  modules = [
    (name = "worker", esModule = embed "bench_worker.mjs"),
    (name = "acbench.mjs", esModule = embed "acbench.mjs"),
    (name = "acbench.wasm", wasm = embed "acbench.wasm"),
  ],
  compatibilityDate = "2025-01-01",
);
"""


def fail(why):
    print(f"FAILED pbkdf2 wasm-workerd {why}", flush=True)
    return 1


def stage():
    os.makedirs(WORK, exist_ok=True)
    shutil.copy(os.path.join(TOP, "tools", "bench", "bench_worker.mjs"), WORK)
    for f in ("acbench.mjs", "acbench.wasm"):
        shutil.copy(os.path.join(WASM, f), WORK)
    config = os.path.join(WORK, "config.capnp")
    with open(config, "w") as f:
        f.write(CONFIG)
    return config


def get(conn, path):
    """One GET on the keep-alive connection: (status, body, seconds)."""
    t0 = time.perf_counter_ns()
    conn.request("GET", path)
    resp = conn.getresponse()
    body = resp.read()
    return resp.status, body.decode(errors="replace").strip(), time.perf_counter_ns() - t0


def measure(proc, log_path, port, iterations, password, salt_hex):
    deadline = time.time() + START_TIMEOUT
    while True:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT)
            status, body, _ = get(conn, "/ready")  # instantiates the wasm
            break
        except (OSError, http.client.HTTPException) as e:
            if proc.poll() is not None:
                with open(log_path, errors="replace") as f:
                    return fail(f"workerd exited {proc.returncode}: {f.read()[-400:]!r}")
            if time.time() > deadline:
                return fail(f"workerd not answering after {START_TIMEOUT} s: {e!r}")
            time.sleep(0.1)
    if status != 200:
        return fail(f"warm-up request: status {status}: {body[:200]}")
    q = urllib.parse.urlencode({"pw": password, "salt": salt_hex})
    base = []
    for _ in range(BASELINE_RUNS):
        status, body, dt = get(conn, f"/pbkdf2?i=0&{q}")
        if status != 200:
            return fail(f"empty request: status {status}: {body[:200]}")
        base.append(dt)
    baseline = min(base)
    best, dk = None, None
    for _ in range(PBKDF2_RUNS):
        status, body, dt = get(conn, f"/pbkdf2?i={iterations}&{q}")
        if status != 200:
            return fail(f"status {status}: {body[:200]}")
        if dk is not None and body != dk:
            return fail("derived keys differ between runs")
        dk = body
        best = dt if best is None else min(best, dt)
    conn.close()
    print(f"RESULT pbkdf2 wasm-workerd {best - baseline} 1 {PBKDF2_RUNS}")
    print(f"RESULT pbkdf2 workerd-empty {baseline} 1 {BASELINE_RUNS}")
    print(f"DK pbkdf2 wasm-workerd {dk}", flush=True)
    return 0


def main():
    if len(sys.argv) != 4:
        print("usage: bench_workerd.py ITERATIONS PASSWORD SALT_HEX", file=sys.stderr)
        return 2
    iterations, password, salt_hex = sys.argv[1:]
    if not os.access(WORKERD, os.X_OK):
        return fail("node_modules/.bin/workerd missing (run make deps)")
    ver = subprocess.run([WORKERD, "--version"], capture_output=True, text=True,
                         timeout=30).stdout.strip()
    try:
        with open(os.path.join(TOP, "node_modules", "workerd", "package.json")) as f:
            ver += " (npm workerd %s)" % json.load(f)["version"]
    except (OSError, ValueError, KeyError):
        pass
    print(f"VERSION workerd {ver}", flush=True)
    config = stage()
    # the port is ours before workerd starts, so it is never raced
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    port = sock.getsockname()[1]
    log_path = os.path.join(WORK, "workerd.log")
    with open(log_path, "w") as log:
        proc = subprocess.Popen([WORKERD, "serve", config, "--socket-fd", f"http={sock.fileno()}"],
                                cwd=WORK, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, pass_fds=(sock.fileno(),))
    sock.close()  # workerd holds its own copy
    try:
        rc = measure(proc, log_path, port, iterations, password, salt_hex)
    except (OSError, http.client.HTTPException) as e:
        rc = fail(f"request failed: {e!r} (log: {os.path.relpath(log_path, TOP)})")
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
    return rc


if __name__ == "__main__":
    sys.exit(main())
