#!/usr/bin/env python3
"""The edge package (build/edge) against the decision vectors, three ways:

  edge_suite.py node     the wasm core under Node: auth.decide on every case
                         as the vector gives it, auth.handle on a Fetch Request
  edge_suite.py workerd  real workerd serving a Worker that imports the module
                         and authcore.wasm; every case over HTTP
  edge_suite.py deno     real Deno (Deno.serve); every case over HTTP

Each vector file runs in order against one instance (one login state), with
the file's "env" passed the host's way (createAuth's env in Node, text
bindings in workerd, environment variables in Deno), case bodies sent, and
every Set-Cookie and the response body handed to vectors.check. A file with
"https": true cases gets a second, TLS, listener on the same instance (a
self-signed certificate made with openssl: a workerd https socket, a second
Deno.serve with cert and key); the runner verifies the certificate. Node
hands such cases to decide() with https set and to handle() as https URLs.

Prints "ok - ...", "not ok - ...: why", "skip - ...: why" and "# ..." lines
(tests/run.sh counts the first two). Servers listen on 127.0.0.1 only, every
wait is bounded and every server is stopped on the way out.
"""
import copy
import http.client
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
sys.path.insert(0, os.path.join(ROOT, "tests", "lib"))
import vectors  # noqa: E402
import hostkit  # noqa: E402
from checks import failed, ok  # noqa: E402

PKG = os.path.join(ROOT, "build", "edge")
WORK = os.path.join(ROOT, "build", "tests", "edge")
WORKERD = os.path.join(ROOT, "node_modules", ".bin", "workerd")
DENO = os.path.join(ROOT, "node_modules", "@deno", "linux-x64-glibc", "deno")
PKG_FILES = ["authcore.mjs", "authcore_glue.mjs", "authcore.wasm"]
TEST_IP = "x-authcore-test-ip"
START_TIMEOUT = 20
REQUEST_TIMEOUT = 10
# The variables deno_server.mjs reads (and --allow-env grants).
DENO_ENV = ["AUTHCORE_ADMIN_USER", "AUTHCORE_ADMIN_PASSWORD_HASH"]


def skip(name, why):
    print("skip - %s: %s" % (name, why), flush=True)


def cases_with_skips(vf, now):
    """(case, skip map) pairs."""
    return [(c, c.skip) for c in vf.cases(now)]


def bad_policies():
    """Policies the core must refuse, with what the message must name."""
    out = [("invalid JSON text", "{\"rules\": [", "$")]
    basic = os.path.join(vectors.VECTOR_DIR, "basic.json")
    if os.path.exists(basic):
        with open(basic) as f:
            p = copy.deepcopy(json.load(f)["policy"])
        if len(p.get("rules", [])) >= 2:
            p["rules"][1]["path"] = 42
            out.append(("rule path that is not a string", json.dumps(p), "$.rules[1].path"))
    # valid for the core, but its table (67108864 keys x 32 bytes) does not
    # fit in a wasm instance: refused at load, naming the member
    out.append(("rate-limit table larger than wasm memory", json.dumps({
        "jwt": {"keys": [{"kid": "k", "alg": "HS256", "secret": "edge-suite-secret-0123456789abcdef"}]},
        "rate_limits": {"default": {"key": "client", "limit": "10/minute"}, "store": 67108864}}),
        "$.rate_limits.store"))
    return out


def need_package():
    missing = [f for f in PKG_FILES if not os.path.exists(os.path.join(PKG, f))]
    if missing:
        ok("edge package is built", "missing %s in build/edge (run make all)" % ", ".join(missing))
        sys.exit(1)


def stage(dest, extra):
    """A folder holding the package files plus the given test files."""
    shutil.rmtree(dest, ignore_errors=True)
    os.makedirs(dest)
    for f in PKG_FILES:
        shutil.copy(os.path.join(PKG, f), dest)
    for f in extra:
        shutil.copy(os.path.join(HERE, f), dest)


# --- node ------------------------------------------------------------------


def run_node():
    print("# node %s" % subprocess.run(["node", "--version"], capture_output=True,
                                       text=True).stdout.strip(), flush=True)
    now = int(time.time())
    files, runs = [], []
    for vf in vectors.load_vector_files():
        jcases = []
        for case, skips in cases_with_skips(vf, now):
            runs.append((case, skips))
            r = vectors.request_json(case)
            jcases.append({"id": case.id, "request": r, "now": now})
        files.append({"name": vf.name, "policy_json": vf.policy_json, "env": vf.env,
                      "cases": jcases})
    bads = bad_policies()
    job = {"pkg": PKG, "files": files,
           "bad": [{"name": n, "policy_json": p} for n, p, _ in bads]}
    try:
        p = subprocess.run(["node", os.path.join(HERE, "decide.mjs")], input=json.dumps(job),
                           capture_output=True, text=True, timeout=90)
    except subprocess.TimeoutExpired:
        ok("node driver", "timed out after 90s")
        return
    if p.returncode != 0:
        ok("node driver", "exit %d: %s" % (p.returncode, p.stderr.strip()[-800:]))
        return
    out = json.loads(p.stdout)
    for case, skips in runs:
        res = out["cases"].get(case.id, {"error": "no answer"})
        # decide(): the request exactly as the vector gives it
        if "node" in skips:
            skip("node %s" % case.id, skips["node"])
        elif "error" in res:
            vectors.report(case, [res["error"]], "node")
        else:
            d = res["decision"]
            own = vectors.upstream_own_headers(case) if d.get("action") == "allow" else []
            hdrs = vectors.joined(vectors.apply_response_headers(own, d["headers"]))
            cookies = [e[1] for e in d["headers"] if e[0].lower() == "set-cookie"]
            up = vectors.apply_decision(case, d) if d.get("action") == "allow" else None
            vectors.report(case, vectors.check(case, d["status"], hdrs, up, d.get("reason"),
                                               cookies, d["body"]), "node")
        # handle(): the same case through a Fetch Request and Response
        h = res.get("handle", {"error": "no answer"})
        label = "node-fetch %s" % case.id
        if "node-fetch" in skips or "node" in skips:
            skip(label, skips.get("node-fetch") or skips["node"])
        elif "skip" in h:
            skip(label, h["skip"])
        elif "error" in h:
            vectors.report(case, [h["error"]], "node-fetch")
        else:
            probs = vectors.check(case, h["status"], h["headers"], h.get("upstream"), h["reason"],
                                  h["set_cookies"], h.get("body"))
            probs += vectors.audit_seen(case, "node-fetch", h["audit_calls"])
            if not h["audit_same"]:
                probs.append("audit callback not called with the decision's audit line")
            if h.get("body_ok") is False:
                probs.append("response body differs from the decision body")
            if h.get("same_target") is False:
                probs.append("forwarded request changed method or URL")
            vectors.report(case, probs, "node-fetch")
    for name, _, want in bads:
        b = out["bad"].get(name, {})
        label = "node bad policy rejects naming %s (%s)" % (want, name)
        if not b.get("rejected"):
            ok(label, "createAuth resolved")
        elif not b.get("is_error"):
            ok(label, "rejected with a non-Error")
        elif want not in b.get("message", ""):
            ok(label, "message %r lacks %r" % (b.get("message"), want))
        else:
            ok(label)
    for name, problem in out["checks"]:
        ok(name, problem)
    vectors.sampling_report("node-fetch")


# --- HTTP hosts ------------------------------------------------------------


def http_send(port, method, path, headers, body=None, timeout=REQUEST_TIMEOUT):
    """hostkit.exchange, as (status, headers, body bytes, Set-Cookie values)."""
    status, hdrs, cookies, rbody = hostkit.exchange(port, method, path, headers, body, None, timeout)
    return status, hdrs, rbody, cookies


def run_http_case(host, port, case, tls=None):
    """tls: (port, certificate) of the instance's TLS listener."""
    ca = None
    if case.https:
        if tls is None:
            return vectors.report(case, ["no TLS listener for an https case"], host)
        port, ca = tls
    try:
        status, hdrs, cookies, body = hostkit.exchange(
            port, case.method, case.path, case.headers + [(TEST_IP, case.client_ip)],
            case.body, None, REQUEST_TIMEOUT, ca)
    except (OSError, http.client.HTTPException) as e:
        return vectors.report(case, ["request failed: %r" % e], host)
    probs = []
    upstream = None
    if hdrs.get("x-authcore-test-error"):
        probs.append("policy not loaded: %s" % body.decode(errors="replace"))
    elif hdrs.get("x-authcore-test-action") == "allow":
        if hdrs.get("x-echo") != "1":
            probs.append("allowed but no echo")
        else:
            upstream = {k.lower(): v for k, v in json.loads(body)["headers"].items()}
    elif "x-authcore-test-action" not in hdrs:
        probs.append("answer did not come from the test app (status %d): %r" % (status, body[:200]))
    probs += vectors.check(case, status, hdrs, upstream, hdrs.get("x-authcore-test-reason"),
                           cookies, body.decode("utf-8", errors="replace"))
    return vectors.report(case, probs, host)


def wait_ready(server, port):
    """Bounded wait until the server answers any request."""
    deadline = time.time() + START_TIMEOUT
    while time.time() < deadline:
        if server.proc.poll() is not None:
            return "exited %d: %s" % (server.proc.returncode, server.log_text()[-800:])
        try:
            http_send(port, "GET", "/__authcore_ready", [], timeout=2)
            return None
        except (OSError, http.client.HTTPException):
            time.sleep(0.1)
    return "not answering after %ds: %s" % (START_TIMEOUT, server.log_text()[-800:])


WORKERD_CONFIG = """using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [ (name = "main", worker = .testWorker) ],
  sockets = [ (name = "http", address = "127.0.0.1:0", http = (), service = "main") ],
);

const testWorker :Workerd.Worker = (
  modules = [
    (name = "worker", esModule = embed "test_worker.mjs"),
    (name = "test_app.mjs", esModule = embed "test_app.mjs"),
    (name = "authcore.mjs", esModule = embed "authcore.mjs"),
    (name = "authcore_glue.mjs", esModule = embed "authcore_glue.mjs"),
    (name = "authcore.wasm", wasm = embed "authcore.wasm"),
  ],
  bindings = [ (name = "POLICY", text = embed "policy.json")%s ],
  compatibilityDate = "2025-01-01",
);
"""


WORKERD_TLS_SOCKET = """(name = "https", address = "127.0.0.1:0", service = "main",
    https = (options = (), tlsOptions = (keypair = (
      privateKey = embed "tls-key.pem", certificateChain = embed "tls-cert.pem")))), """


def workerd_config(env, tls=False):
    """The test config; each env variable (the vector file's "env") is a text
    binding read from a file of its own, so no value needs escaping. tls: a
    second socket, https, with the folder's tls-cert.pem and tls-key.pem."""
    extra = "".join(', (name = "%s", text = embed "env-%s.txt")' % (n, n) for n in sorted(env))
    text = WORKERD_CONFIG % extra
    if tls:
        text = text.replace("sockets = [ ", "sockets = [ " + WORKERD_TLS_SOCKET, 1)
    return text


def workerd_start(config, log_path, tls=False):
    """workerd on sockets we bound (--socket-fd), so the ports are never
    raced: (server, port, TLS port or None)."""
    socks = [hostkit.listening_socket()] + ([hostkit.listening_socket()] if tls else [])
    args = [WORKERD, "serve", config, "--socket-fd", "http=%d" % socks[0].fileno()]
    if tls:
        args += ["--socket-fd", "https=%d" % socks[1].fileno()]
    ports = [s.getsockname()[1] for s in socks]
    try:
        srv = hostkit.Server(args, log_path, pass_fds=tuple(s.fileno() for s in socks))
    finally:
        for s in socks:
            s.close()  # workerd holds its own copies
    return srv, ports[0], (ports[1] if tls else None)


def deno_start(folder, policy_path, log_path, vector_env, tls=None):
    """Deno with the vector file's env in its environment; the server reads
    the AUTHCORE_* variables it is allowed (--allow-env) and passes them.
    tls: (certificate, key) for a second, TLS, Deno.serve. Returns (server,
    port, TLS port)."""
    env = dict(os.environ, DENO_DIR=os.path.join(WORK, "deno-dir"), DENO_NO_UPDATE_CHECK="1",
               NO_COLOR="1")
    for n in list(env):
        if n.startswith("AUTHCORE_"):
            del env[n]  # only the vector file's settings
    env.update(vector_env)
    srv = hostkit.Server([DENO, "run", "--no-config", "--no-lock", "--no-prompt",
                  "--allow-read=" + folder, "--allow-net=127.0.0.1",
                  "--allow-env=" + ",".join(DENO_ENV),
                  os.path.join(folder, "deno_server.mjs"), policy_path] + list(tls or []),
                 log_path, cwd=folder, env=env)
    deadline = time.time() + START_TIMEOUT
    while time.time() < deadline:
        text = srv.log_text()
        m = re.search(r"^listening (\d+)$", text, re.M)
        t = re.search(r"^listening-tls (\d+)$", text, re.M)
        if m and (t or not tls):
            return srv, int(m.group(1)), int(t.group(1)) if t else None
        if srv.proc.poll() is not None:
            break
        time.sleep(0.1)
    return srv, None, None


def host_setup(host, folder, policy_text, env, https=False):
    """Starts one server for one policy and environment; returns (server,
    port, problem, (TLS port, certificate) or None). https: listen with TLS
    too."""
    os.makedirs(folder, exist_ok=True)
    cert = hostkit.make_tls_cert(folder) if https else None
    tls_port = None
    policy_path = os.path.join(folder, "policy.json")
    with open(policy_path, "w") as f:
        f.write(policy_text)
    log = os.path.join(folder, "server.log")
    if host == "workerd":
        for n, v in env.items():
            with open(os.path.join(folder, "env-%s.txt" % n), "w") as f:
                f.write(v)
        config = os.path.join(folder, "config.capnp")
        with open(config, "w") as f:
            f.write(workerd_config(env, https))
        srv, port, tls_port = workerd_start(config, log, https)
    else:
        unknown = sorted(set(env) - set(DENO_ENV))
        if unknown:
            return None, None, "deno_server.mjs reads no %s" % ", ".join(unknown), None
        srv, port, tls_port = deno_start(folder, policy_path, log, env, cert)
        if port is None:
            return srv, None, "deno did not report a port: %s" % srv.log_text()[-800:], None
    problem = wait_ready(srv, port)
    return srv, port, problem, (tls_port, cert[0]) if https else None


def run_http(host):
    binary = WORKERD if host == "workerd" else DENO
    if not os.access(binary, os.X_OK):
        ok("%s is installed" % host, "%s missing (run make deps)" % os.path.relpath(binary, ROOT))
        return
    if host == "workerd":
        ver = subprocess.run([WORKERD, "--version"], capture_output=True, text=True).stdout.strip()
        with open(os.path.join(ROOT, "node_modules", "workerd", "package.json")) as f:
            npmver = json.load(f)["version"]
        print("# %s (npm workerd %s)" % (ver, npmver), flush=True)
        extra = ["test_worker.mjs", "test_app.mjs"]
    else:
        ver = subprocess.run([DENO, "--version"], capture_output=True, text=True).stdout
        print("# %s" % " / ".join(ver.strip().splitlines()[:2]), flush=True)
        extra = ["deno_server.mjs", "test_app.mjs"]
    base = os.path.join(WORK, host)
    for vf in vectors.load_vector_files():
        folder = os.path.join(base, vf.name)
        stage(folder, extra)
        srv, port, problem, tls = host_setup(host, folder, vf.policy_json, vf.env,
                                             vf.has_https)
        try:
            label = "%s %s: server starts" % (host, vf.name)
            ok(label, problem)
            for case, skips in cases_with_skips(vf, int(time.time())):
                if host in skips:
                    skip("%s %s" % (host, case.id), skips[host])
                elif problem:
                    vectors.report(case, ["server did not start"], host)
                else:
                    run_http_case(host, port, case, tls)
        finally:
            if srv is not None:
                srv.stop()
    bads = bad_policies()
    if host == "workerd":
        # Workers reach Redis over their own TCP sockets: a Redis store loads
        # (it used to be refused at load), and with no Redis reachable (this
        # config's outbound network allows no loopback address) requests are
        # still decided, by the policy's on_store_error, never a 500
        folder = os.path.join(base, "redis-store")
        stage(folder, extra)
        srv, port, problem, _ = host_setup(host, folder, json.dumps({
            "jwt": {"keys": [{"kid": "k", "alg": "HS256", "secret": "edge-suite-secret-0123456789abcdef"}]},
            "rate_limits": {"default": {"key": "client", "limit": "10/minute"}},
            "store": {"redis": {"host": "127.0.0.1", "port": 6379, "timeout_ms": 200},
                      "secret": "edge-suite-store-secret-0123456789abcdef"}}), {})
        try:
            if problem:
                ok("workerd a Redis store loads; Redis unreachable, requests are decided", problem)
            else:
                status, hdrs, body, _ = http_send(port, "GET", "/healthz", [])
                ok("workerd a Redis store loads; Redis unreachable, requests are decided",
                   None if status == 401 and not hdrs.get("x-authcore-test-error")
                   else "status %d %r, want 401 (no token)" % (status, body[:200]))
        finally:
            if srv is not None:
                srv.stop()
    for i, (name, policy, want) in enumerate(bads):
        folder = os.path.join(base, "bad-policy-%d" % i)
        stage(folder, extra)
        srv, port, problem, _ = host_setup(host, folder, policy, {})
        label = "%s bad policy fails closed naming %s (%s)" % (host, want, name)
        try:
            if problem:
                ok(label, problem)
                continue
            status, hdrs, body, _ = http_send(port, "GET", "/healthz", [])
            text = body.decode(errors="replace")
            if status != 500 or not hdrs.get("x-authcore-test-error"):
                ok(label, "status %d, want a 500 from a rejected createAuth" % status)
            elif want not in text:
                ok(label, "message %r lacks %r" % (text, want))
            else:
                ok(label)
        finally:
            if srv is not None:
                srv.stop()
    if host == "workerd":
        run_workerd_example()


def run_workerd_example():
    """The shipped example (build/edge/example/config.capnp) as it is."""
    config = os.path.join(PKG, "example", "config.capnp")
    label = "workerd example worker"
    if not os.path.exists(config):
        ok(label, "build/edge/example/config.capnp missing")
        return
    with open(config) as f:
        m = re.search(r'json = "((?:[^"\\]|\\.)*)"', f.read())
    policy = json.loads(json.loads('"%s"' % m.group(1)))
    secret = policy["jwt"]["keys"][0]["secret"]
    kid = policy["jwt"]["keys"][0].get("kid")
    os.makedirs(os.path.join(WORK, "workerd"), exist_ok=True)
    srv, port, _ = workerd_start(config, os.path.join(WORK, "workerd", "example.log"))
    try:
        problem = wait_ready(srv, port)
        if problem:
            ok(label + " starts", problem)
            return
        status, hdrs, _, _ = http_send(port, "GET", "/healthz", [])
        ok(label + ": /healthz is public", None if status == 200 else "status %d" % status)
        status, hdrs, _, _ = http_send(port, "GET", "/api/x", [])
        ok(label + ": no token is 401 with WWW-Authenticate",
           None if status == 401 and "www-authenticate" in hdrs else "status %d, %r" % (status, hdrs))
        token = vectors.mint({"kid": kid, "claims": {"sub": "ex", "roles": ["reader"], "exp": "+600"}},
                             {"k1": secret}, int(time.time()))
        status, hdrs, body, _ = http_send(port, "GET", "/api/x", [("Authorization", "Bearer " + token),
                                                               ("X-Authcore-User", "mallory")])
        want = {"hello": "ex", "path": "/api/x", "user_header": "ex"}
        got = json.loads(body) if status == 200 else None
        ok(label + ": a valid token reaches the app with its identity",
           None if got == want else "status %d, body %r" % (status, body[:300]))
    finally:
        srv.stop()


def main():
    host = sys.argv[1] if len(sys.argv) > 1 else ""
    if host not in ("node", "workerd", "deno"):
        sys.exit("usage: edge_suite.py node|workerd|deno")
    # `timeout` in the suite sends SIGTERM: unwind so every finally stops its server
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(124))
    need_package()
    if host == "node":
        run_node()
    else:
        run_http(host)
    # every failure was printed as "not ok"; a crash exits non-zero by itself
    return 1 if failed() else 0


if __name__ == "__main__":
    sys.exit(main())
