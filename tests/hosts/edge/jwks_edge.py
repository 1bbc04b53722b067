#!/usr/bin/env python3
"""Keys from a JWKS URL in the edge module, in the real runtimes:

  jwks_edge.py node|deno|workerd

The module fetches the provider's keys with the runtime's own fetch (Node's,
Deno's under --allow-net, workerd's through a network service that allows
loopback) while the request's decision waits; tests/lib/jwkskit.py says
what is checked. The servers are the request tests' (request_node.mjs,
request_deno.mjs, request_worker.mjs in front of request_app.mjs's echo),
each started with the policy the check gives, on 127.0.0.1, and stopped by
its own PID."""
import json
import os
import shutil
import signal
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
sys.path.insert(0, os.path.join(ROOT, "tests", "lib"))
import hostkit  # noqa: E402
import jwkskit  # noqa: E402
from checks import failed, ok  # noqa: E402

PKG = os.path.join(ROOT, "build", "edge")
WORK = os.path.join(ROOT, "build", "tests", "edge-jwks")
WORKERD = os.path.join(ROOT, "node_modules", ".bin", "workerd")
DENO = os.path.join(ROOT, "node_modules", "@deno", "linux-x64-glibc", "deno")
FILES = ["authcore.mjs", "authcore_glue.mjs", "authcore.wasm"]
START_TIMEOUT = 20

WORKERD_CONFIG = """using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [ (name = "main", worker = .worker),
               (name = "loopback", network = (allow = ["local"])) ],
  sockets = [ (name = "http", address = "127.0.0.1:0", http = (), service = "main") ],
);

const worker :Workerd.Worker = (
  modules = [
    (name = "worker", esModule = embed "request_worker.mjs"),
    (name = "request_app.mjs", esModule = embed "request_app.mjs"),
    (name = "authcore.mjs", esModule = embed "authcore.mjs"),
    (name = "authcore_glue.mjs", esModule = embed "authcore_glue.mjs"),
    (name = "authcore.wasm", wasm = embed "authcore.wasm"),
  ],
  bindings = [ (name = "POLICY", text = embed "policy.json") ],
  globalOutbound = "loopback",
  compatibilityDate = "2025-01-01",
);
"""

count = 0


def stage(host, policy, server):
    global count
    count += 1
    folder = os.path.join(WORK, "%s-%d" % (host, count))
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder)
    for f in FILES:
        shutil.copy(os.path.join(PKG, f), folder)
    for f in ("request_app.mjs", server):
        shutil.copy(os.path.join(HERE, f), folder)
    with open(os.path.join(folder, "policy.json"), "w") as f:
        json.dump(policy, f)
    return folder


def listening(srv):
    try:
        return srv.announced_port(START_TIMEOUT)
    except RuntimeError:
        srv.stop()
        raise


def start_node(policy):
    folder = stage("node", policy, "request_node.mjs")
    srv = hostkit.Server(["node", os.path.join(folder, "request_node.mjs"), folder,
                          os.path.join(folder, "policy.json"), "0"], os.path.join(folder, "server.log"))
    return listening(srv), srv.stop


def start_deno(policy):
    folder = stage("deno", policy, "request_deno.mjs")
    env = dict(os.environ, DENO_DIR=os.path.join(WORK, "deno-dir"), DENO_NO_UPDATE_CHECK="1", NO_COLOR="1")
    srv = hostkit.Server([DENO, "run", "--no-config", "--no-lock", "--no-prompt", "--allow-read=" + folder,
                          "--allow-net=127.0.0.1", os.path.join(folder, "request_deno.mjs"),
                          os.path.join(folder, "policy.json"), "0"],
                         os.path.join(folder, "server.log"), cwd=folder, env=env)
    return listening(srv), srv.stop


def start_workerd(policy):
    folder = stage("workerd", policy, "request_worker.mjs")
    config = os.path.join(folder, "config.capnp")
    with open(config, "w") as f:
        f.write(WORKERD_CONFIG)
    sock = hostkit.listening_socket()
    port = sock.getsockname()[1]
    try:
        srv = hostkit.Server([WORKERD, "serve", config, "--socket-fd", "http=%d" % sock.fileno()],
                             os.path.join(folder, "server.log"), pass_fds=[sock.fileno()])
    finally:
        sock.close()
    if not hostkit.wait_port(port, srv.proc, START_TIMEOUT):
        srv.stop()
        raise RuntimeError("workerd did not start: %s" % srv.log_text()[-800:])
    return port, srv.stop


def main():
    starts = {"node": start_node, "deno": start_deno, "workerd": start_workerd}
    host = sys.argv[1] if len(sys.argv) > 1 else ""
    if host not in starts:
        sys.exit("usage: jwks_edge.py node|deno|workerd")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(124))
    missing = [f for f in FILES if not os.path.exists(os.path.join(PKG, f))]
    if missing:
        ok("edge package is built", "missing %s in build/edge" % ", ".join(missing))
        return 1
    jwkskit.run(host + " jwks_uri", starts[host], os.path.join(WORK, host))
    return 1 if failed() else 0


if __name__ == "__main__":
    sys.exit(main())
