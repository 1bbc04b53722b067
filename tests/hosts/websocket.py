#!/usr/bin/env python3
"""WebSocket upgrades through real hosts, decided like any request.

A real WebSocket client (the `websockets` package, tools/requirements.txt)
talks to a real WebSocket upstream (a `websockets` echo server started here
as a child, `--serve`) through the host with the authcore filter, on
loopback only. The policy takes the token from `Authorization: Bearer`, the
`access_token` query parameter or a Sec-WebSocket-Protocol entry starting
with PREFIX (the way browsers, which cannot set headers on a WebSocket,
send one). Tokens are HS256, minted here with Python's hmac. Per host:
 - with a valid token in each place: the handshake ends in 101 with the
   subprotocol the upstream picked (chat.v1) and the policy's security
   headers (the core's additions keep the upgrade), a message comes back echoed,
   and the upstream saw the user the core forwarded, but neither the token
   nor the Sec-WebSocket-Protocol entry that carried it (the other entries
   reach it: it picked chat.v1 from them), nor the query parameter;
 - without a token, with a forged one in the subprotocol list or in the
   header, and with a valid one lacking the role a path needs: 401 / 403,
   no upgrade, and the upstream saw no handshake at all.
Hosts: Envoy (the proxy-wasm filter; the HTTP connection manager with
upgrade_configs websocket), nginx (the dynamic module; proxy_http_version
1.1 and the Upgrade/Connection headers passed on) and workerd (the edge
module's serve() in front of a Worker app that answers the upgrade with a
WebSocketPair, tests/hosts/websocket_worker.mjs).

Prints "ok - ..." / "not ok - ...: why". Every child is stopped by its pid;
every wait is bounded.
Usage: websocket.py --host envoy --wasm W --workdir D [--envoy BIN]
       websocket.py --host nginx --module M --workdir D
       websocket.py --host workerd --workdir D [--edge build/edge]
       websocket.py --serve PORT LOG   (the upstream; prints "ready")
"""
import argparse
import base64
import hashlib
import hmac
import json
import os
import select
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "lib"))
sys.path.insert(0, HERE)
from hostkit import NGINX_HEAD  # noqa: E402

SECRET = "websocket-host-test-secret-0123456789abcdef"
PREFIX = "base64url.bearer.authorization.k8s.io."
SUBPROTOCOL = "chat.v1"
TIMEOUT = 10.0
CAP_USER = 2
CAP_ALL = 3
POLICY = {
    "jwt": {
        "keys": [{"kid": "k1", "alg": "HS256", "secret": SECRET}],
        "audience": "ws",
        "sources": [{"header": "authorization", "prefix": "Bearer"},
                    {"query": "access_token"},
                    {"protocol": PREFIX}],
    },
    "rules": [{"path": "/ws/admin", "role": "admin"}],
    "default": "authenticated",
    # answers the core adds headers to: the 101 must keep its upgrade
    "security_headers": {},
    # streams alive at once on /ws/capped: 2 per user, 3 in all
    "rate_limits": {"connections": [
        {"name": "per-user", "path": "/ws/capped", "key": "user", "max": CAP_USER},
        {"name": "all", "path": "/ws/capped", "key": "global", "max": CAP_ALL}]},
}


# ---- the upstream (a child process) ------------------------------------

def serve(port, log_path):
    """A websockets echo server on 127.0.0.1:port: each handshake it takes
    is appended to log_path as one JSON line (path, headers); the first
    message of a connection is answered with that same record, every later
    one echoed. It speaks only SUBPROTOCOL, picked from those offered."""
    from websockets.sync.server import serve as ws_serve

    def handler(conn):
        rec = {"path": conn.request.path,
               "headers": [[k.lower(), v] for k, v in conn.request.headers.raw_items()],
               "subprotocol": conn.subprotocol}
        with open(log_path, "a") as f:
            f.write(json.dumps(rec) + "\n")
        first = True
        for msg in conn:
            if msg == "bye":  # the upstream ends the stream itself
                conn.close()
                break
            conn.send(json.dumps(rec) if first and msg == "who" else msg)
            first = False

    with ws_serve(handler, "127.0.0.1", port, subprotocols=[SUBPROTOCOL]) as srv:
        # stopped by its pid: nothing to finish (the handshake log is
        # written whole, line by line)
        signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
        print("ready", flush=True)
        srv.serve_forever()


class Upstream:
    def __init__(self, workdir):
        from hostkit import free_port, stop, wait_port
        self._stop = stop
        self.log = os.path.join(workdir, "ws-upstream.jsonl")
        open(self.log, "w").close()
        for _ in range(3):
            self.port = free_port()
            self.proc = subprocess.Popen(
                [sys.executable, os.path.abspath(__file__), "--serve", str(self.port), self.log],
                stdout=subprocess.PIPE, stderr=open(os.path.join(workdir, "ws-upstream.err"), "w"),
                stdin=subprocess.DEVNULL)
            ready, _, _ = select.select([self.proc.stdout], [], [], TIMEOUT)
            if ready and self.proc.stdout.readline().strip() == b"ready" and \
                    wait_port(self.port, self.proc):
                return
            stop(self.proc)
        raise RuntimeError("websocket upstream did not start")

    def handshakes(self):
        with open(self.log) as f:
            return [json.loads(ln) for ln in f if ln.strip()]

    def close(self):
        self._stop(self.proc)


# ---- tokens ------------------------------------------------------------

def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def token(sub="alice", roles=None, key=SECRET):
    now = int(time.time())
    claims = {"sub": sub, "aud": "ws", "iat": now - 5, "exp": now + 600}
    if roles is not None:
        claims["roles"] = roles
    h = b64url(json.dumps({"alg": "HS256", "typ": "JWT", "kid": "k1"}).encode())
    p = b64url(json.dumps(claims).encode())
    sig = hmac.new(key.encode(), ("%s.%s" % (h, p)).encode(), hashlib.sha256).digest()
    return "%s.%s.%s" % (h, p, b64url(sig))


# ---- the client checks -------------------------------------------------

def attempt(port, path, headers=(), subprotocols=(SUBPROTOCOL,)):
    """One WebSocket handshake and, if it succeeds, a round trip: returns
    ("open", upstream's record, subprotocol, echo ok) or ("refused", status,
    None, None)."""
    from websockets.exceptions import InvalidStatus
    from websockets.sync.client import connect
    try:
        with connect("ws://127.0.0.1:%d%s" % (port, path), additional_headers=list(headers),
                     subprotocols=list(subprotocols), open_timeout=TIMEOUT,
                     close_timeout=TIMEOUT) as ws:
            ws.send("who")
            rec = json.loads(ws.recv(timeout=TIMEOUT))
            ws.send("ping \u2713")
            echoed = ws.recv(timeout=TIMEOUT) == "ping \u2713"
            rec["answer_headers"] = {k.lower(): v for k, v in ws.response.headers.raw_items()}
            return "open", rec, ws.subprotocol, echoed
    except InvalidStatus as e:
        return "refused", e.response.status_code, None, None


def check_open(host, name, up, port, path, headers=(), subprotocols=(SUBPROTOCOL,),
               secret=None, want_protocols=SUBPROTOCOL, want_user="alice"):
    before = len(up.handshakes())
    probs = []
    try:
        kind, rec, sub, echoed = attempt(port, path, headers, subprotocols)
    except Exception as e:  # noqa: BLE001 - any failure is this check's
        kind, rec, sub, echoed = "error", repr(e)[:300], None, None
    if kind != "open":
        probs.append("handshake %s %s, want 101" % (kind, rec))
    else:
        hdrs = {}
        for k, v in rec["headers"]:
            hdrs[k] = hdrs[k] + ", " + v if k in hdrs else v
        if sub != SUBPROTOCOL:
            probs.append("subprotocol %r, want %r" % (sub, SUBPROTOCOL))
        if not echoed:
            probs.append("the message did not come back")
        if rec["answer_headers"].get("x-content-type-options") != "nosniff":
            probs.append("the 101 lacks the policy's X-Content-Type-Options: %r"
                         % rec["answer_headers"])
        if hdrs.get("x-authcore-user") != want_user:
            probs.append("upstream x-authcore-user %r" % hdrs.get("x-authcore-user"))
        if hdrs.get("sec-websocket-protocol") != want_protocols:
            probs.append("upstream Sec-WebSocket-Protocol %r, want %r"
                         % (hdrs.get("sec-websocket-protocol"), want_protocols))
        if secret and (secret in json.dumps(rec) or PREFIX in json.dumps(rec)):
            probs.append("the token reached the upstream: %s" % json.dumps(rec)[:300])
        if "authorization" in hdrs:
            probs.append("upstream got Authorization")
        if len(up.handshakes()) != before + 1:
            probs.append("upstream took %d handshakes, want 1" % (len(up.handshakes()) - before))
    report(host, name, probs)


def check_refused(host, name, up, port, path, want, headers=(), subprotocols=(SUBPROTOCOL,)):
    before = len(up.handshakes())
    probs = []
    try:
        kind, status, _, _ = attempt(port, path, headers, subprotocols)
    except Exception as e:  # noqa: BLE001
        kind, status = "error", repr(e)[:300]
    if kind != "refused" or status != want:
        probs.append("handshake %s %s, want refused %d" % (kind, status, want))
    time.sleep(0.1)
    if len(up.handshakes()) != before:
        probs.append("the upstream took a handshake")
    report(host, name, probs)


FAILED = []


def report(host, name, probs):
    if probs:
        FAILED.append(name)
        print("not ok - %s websocket %s: %s" % (host, name, "; ".join(probs)), flush=True)
    else:
        print("ok - %s websocket %s" % (host, name), flush=True)


def hold(port, path, tok):
    """An open WebSocket on path with tok (the caller closes it), or the
    refusal's status."""
    from websockets.exceptions import InvalidStatus
    from websockets.sync.client import connect
    try:
        ws = connect("ws://127.0.0.1:%d%s" % (port, path),
                     additional_headers=[("Authorization", "Bearer " + tok)],
                     subprotocols=[SUBPROTOCOL], open_timeout=TIMEOUT, close_timeout=TIMEOUT)
    except InvalidStatus as e:
        return e.response.status_code
    ws.send("ping")
    if ws.recv(timeout=TIMEOUT) != "ping":
        ws.close()
        return "no echo"
    return ws


def until_open(port, path, tok, seconds=5.0):
    """Retries a handshake until it opens (a release lands when the host
    sees the stream end): the socket, or the last refusal."""
    end = time.time() + seconds
    while True:
        got = hold(port, path, tok)
        if not isinstance(got, (int, str)) or time.time() > end:
            return got
        time.sleep(0.1)


def check_caps(host, port):
    """Connection caps: streams alive at once, released when they end."""
    carol, dave = token("carol"), token("dave")
    held, probs = [], []
    try:
        for i in range(CAP_USER):
            ws = until_open(port, "/ws/capped", carol)
            if isinstance(ws, (int, str)):
                probs.append("carol's stream %d: %r, want 101" % (i + 1, ws))
            else:
                held.append(ws)
        over = hold(port, "/ws/capped", carol)
        if over != 429:
            probs.append("carol's stream %d: %r, want 429 (per-user cap %d)"
                         % (CAP_USER + 1, over, CAP_USER))
            if not isinstance(over, (int, str)):
                over.close()
        other = hold(port, "/ws/chat", carol)
        if isinstance(other, (int, str)):
            probs.append("carol on a path no cap covers: %r, want 101" % (other,))
        else:
            other.close()
        report(host, "connection cap per user: %d streams open, the next 429, other paths free"
               % CAP_USER, probs)
        probs = []
        ws = until_open(port, "/ws/capped", dave)
        if isinstance(ws, (int, str)):
            probs.append("dave's first stream: %r, want 101" % (ws,))
        else:
            held.append(ws)
        over = hold(port, "/ws/capped", dave)
        if over != 429:
            probs.append("dave's second stream: %r, want 429 (%d in all)" % (over, CAP_ALL))
            if not isinstance(over, (int, str)):
                over.close()
        report(host, "connection cap in all: %d streams across users, the next 429" % CAP_ALL,
               probs)
        probs = []
        if held:
            held.pop(0).close()
        ws = until_open(port, "/ws/capped", dave)
        if isinstance(ws, (int, str)):
            probs.append("after one stream closed, dave: %r, want 101 (released)" % (ws,))
        else:
            held.append(ws)
        for ws in held:
            ws.close()
        held = []
        opened = []
        for who in (carol, carol):
            ws = until_open(port, "/ws/capped", who)
            if isinstance(ws, (int, str)):
                probs.append("after every stream closed: %r, want 101" % (ws,))
            else:
                opened.append(ws)
        held = opened
        report(host, "connection caps released when streams close (client close)", probs)
        probs = []
        # carol holds her 2: the upstream ends one; then she has room again
        if len(held) == 2:
            ws = held.pop()
            ws.send("bye")
            try:
                ws.recv(timeout=TIMEOUT)
                probs.append("the upstream did not close the stream")
            except Exception:  # noqa: BLE001 - closed, as asked
                pass
            ws = until_open(port, "/ws/capped", carol)
            if isinstance(ws, (int, str)):
                probs.append("after the upstream closed a stream: %r, want 101" % (ws,))
            else:
                held.append(ws)
        else:
            probs.append("carol does not hold 2 streams")
        report(host, "connection caps released when the upstream closes a stream", probs)
    finally:
        for ws in held:
            try:
                ws.close()
            except Exception:  # noqa: BLE001
                pass


def handshake_ms(port, path, subprotocols, n=20):
    """The median time to 101 of n handshakes (closed at once), in ms."""
    from websockets.sync.client import connect
    times = []
    for _ in range(n):
        t = time.perf_counter()
        with connect("ws://127.0.0.1:%d%s" % (port, path), subprotocols=subprotocols,
                     open_timeout=TIMEOUT, close_timeout=TIMEOUT):
            times.append((time.perf_counter() - t) * 1000)
    return sorted(times)[n // 2]


def echo_us(port, path, tok, n=2000):
    """The median echo round trip of one message on an open WebSocket, in
    microseconds."""
    from websockets.sync.client import connect
    with connect("ws://127.0.0.1:%d%s" % (port, path), subprotocols=[SUBPROTOCOL],
                 additional_headers=[("Authorization", "Bearer " + tok)],
                 open_timeout=TIMEOUT, close_timeout=TIMEOUT) as ws:
        ws.send("warm")
        ws.recv(timeout=TIMEOUT)
        times = []
        for _ in range(n):
            t = time.perf_counter()
            ws.send("ping")
            ws.recv(timeout=TIMEOUT)
            times.append((time.perf_counter() - t) * 1e6)
    return sorted(times)[n // 2]


def checks(host, up, port):
    tok = token()
    check_open(host, "token in Authorization: 101, echo, user forwarded, header removed",
               up, port, "/ws/chat", [("Authorization", "Bearer " + tok)], secret=tok)
    check_open(host, "token in ?access_token: 101, echo, parameter removed",
               up, port, "/ws/chat?room=1&access_token=" + tok, secret=tok)
    rec = up.handshakes()[-1] if up.handshakes() else {}
    report(host, "the upstream's path keeps the other parameters",
           [] if rec.get("path") == "/ws/chat?room=1" else ["path %r" % rec.get("path")])
    check_open(host, "token as a subprotocol entry: 101 with chat.v1, the entry removed",
               up, port, "/ws/chat", subprotocols=[SUBPROTOCOL, PREFIX + tok], secret=tok)
    check_open(host, "token entry first among three: the other two reach the upstream",
               up, port, "/ws/chat", subprotocols=[PREFIX + tok, "chat.v0", SUBPROTOCOL],
               secret=tok, want_protocols="chat.v0, " + SUBPROTOCOL)
    admin = token("root", ["admin"])
    check_open(host, "an admin token through the admin rule", up, port, "/ws/admin",
               subprotocols=[SUBPROTOCOL, PREFIX + admin], secret=admin, want_user="root")
    check_refused(host, "no token: 401, no upgrade", up, port, "/ws/chat", 401)
    check_refused(host, "a forged token as a subprotocol entry: 401, no upgrade", up, port,
                  "/ws/chat", 401, subprotocols=[SUBPROTOCOL, PREFIX + token(key="x" * 40)])
    check_refused(host, "a forged token in Authorization: 401, no upgrade", up, port,
                  "/ws/chat", 401, [("Authorization", "Bearer " + token(key="y" * 40))])
    check_refused(host, "a token without the admin role on the admin path: 403, no upgrade",
                  up, port, "/ws/admin", 403, subprotocols=[SUBPROTOCOL, PREFIX + tok])
    check_caps(host, port)
    try:
        via = handshake_ms(port, "/ws/chat", [SUBPROTOCOL, PREFIX + tok])
        direct = handshake_ms(up.port, "/ws/chat", [SUBPROTOCOL]) if hasattr(up, "proc") else None
        print("# %s: median handshake to 101 with a subprotocol token %.2f ms%s (20 each)" % (
            host, via, "" if direct is None else
            ", straight to the upstream %.2f ms" % direct), flush=True)
    except Exception as e:  # noqa: BLE001 - a measurement, not a check
        print("# %s: handshake timing failed: %r" % (host, e), flush=True)
    try:
        # a capped stream is one the host must see end (workerd relays it)
        erin = token("erin")
        print("# %s: median echo round trip %.0f us on /ws/chat, %.0f us on /ws/capped (2000 each)"
              % (host, echo_us(port, "/ws/chat", erin), echo_us(port, "/ws/capped", erin)), flush=True)
    except Exception as e:  # noqa: BLE001 - a measurement, not a check
        print("# %s: echo timing failed: %s" % (host, repr(e)[:120]), flush=True)


# ---- hosts -------------------------------------------------------------

def run_envoy(args):
    import envoy_vectors as ev
    from hostkit import free_port, stop
    envoy_bin = args.envoy or ev.default_envoy()
    if not envoy_bin or not os.access(envoy_bin, os.X_OK):
        report("envoy", "Envoy binary", ["not found (make deps)"])
        return
    up = Upstream(args.workdir)
    proc = None
    try:
        port, admin = free_port(), free_port()
        lst = ev.listener(port, os.path.abspath(args.wasm), json.dumps(POLICY))
        hcm = lst["filter_chains"][0]["filters"][0]["typed_config"]
        hcm["upgrade_configs"] = [{"upgrade_type": "websocket"}]
        # after the closing handshake both ends would wait for the other to
        # close TCP first (Envoy its delayed_close_timeout, 1 s by default)
        hcm["delayed_close_timeout"] = "0s"
        boot = ev.bootstrap(admin, up.port, lst)
        conf = os.path.join(args.workdir, "envoy-websocket.json")
        with open(conf, "w") as f:
            json.dump(boot, f, indent=1)
        log = os.path.join(args.workdir, "envoy-websocket.log")
        out = open(os.path.join(args.workdir, "envoy-websocket.stdio"), "wb")
        proc = subprocess.Popen([envoy_bin, "-c", conf, "--concurrency", "2",
                                 "--use-dynamic-base-id", "--log-level", "info",
                                 "--log-path", log], stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
        if not ready_envoy(admin, port, proc):
            report("envoy", "Envoy starts with upgrade_configs websocket", ["see " + log])
            return
        checks("envoy", up, port)
    finally:
        stop(proc)
        up.close()


def ready_envoy(admin, port, proc):
    import http.client
    import socket
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            c = http.client.HTTPConnection("127.0.0.1", admin, timeout=1)
            c.request("GET", "/ready")
            live = c.getresponse().status == 200
            c.close()
            if live:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return True
        except OSError:
            pass
        time.sleep(0.1)
    return False


NGINX_CONF = NGINX_HEAD + """    large_client_header_buffers 8 64k;
    map $http_upgrade $connection_upgrade {{
        default upgrade;
        ''      close;
    }}
    authcore_policy {policy};
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://127.0.0.1:{up};
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_read_timeout 30s;
        }}
    }}
}}
"""


WORKERD_CONFIG = """using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [ (name = "main", worker = .wsWorker) ],
  sockets = [ (name = "http", address = "127.0.0.1:0", http = (), service = "main") ],
);

const wsWorker :Workerd.Worker = (
  modules = [
    (name = "worker", esModule = embed "websocket_worker.mjs"),
    (name = "authcore.mjs", esModule = embed "authcore.mjs"),
    (name = "authcore_glue.mjs", esModule = embed "authcore_glue.mjs"),
    (name = "authcore.wasm", wasm = embed "authcore.wasm"),
  ],
  bindings = [ (name = "POLICY", text = embed "policy.json") ],
  compatibilityDate = "2025-01-01",
);
"""


class WorkerUpstream:
    """The app inside the Worker: its handshakes read from its test hook."""

    def __init__(self, port):
        self.port = port

    def handshakes(self):
        import http.client
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=TIMEOUT)
        try:
            c.request("GET", "/__ws_handshakes")
            return json.loads(c.getresponse().read())
        finally:
            c.close()


def run_workerd(args):
    import shutil
    from hostkit import Server, listening_socket, wait_port
    workerd = os.path.join(ROOT, "node_modules", ".bin", "workerd")
    pkg = os.path.abspath(args.edge)
    d = os.path.abspath(args.workdir)
    if not os.access(workerd, os.X_OK):
        report("workerd", "workerd", ["%s not installed (make deps)" % workerd])
        return
    for f in ("authcore.mjs", "authcore_glue.mjs", "authcore.wasm"):
        shutil.copy(os.path.join(pkg, f), os.path.join(d, f))
    shutil.copy(os.path.join(HERE, "websocket_worker.mjs"), d)
    with open(os.path.join(d, "policy.json"), "w") as f:
        json.dump(POLICY, f)
    conf = os.path.join(d, "config.capnp")
    with open(conf, "w") as f:
        f.write(WORKERD_CONFIG)
    sock = listening_socket()
    port = sock.getsockname()[1]
    try:
        srv = Server([workerd, "serve", conf, "--socket-fd", "http=%d" % sock.fileno()],
                     os.path.join(d, "workerd.log"), pass_fds=(sock.fileno(),))
    finally:
        sock.close()
    try:
        if not wait_port(port, srv.proc):
            report("workerd", "workerd starts", [srv.log_text()[-300:]])
            return
        checks("workerd", WorkerUpstream(port), port)
    finally:
        srv.stop()


def run_nginx(args):
    from hostkit import free_port, stop, wait_port
    nginx = os.environ.get("AUTHCORE_NGINX", "/usr/sbin/nginx")
    module = os.path.abspath(args.module)
    if not os.path.exists(module):
        report("nginx", "module", ["%s not built" % module])
        return
    d = os.path.abspath(args.workdir)
    up = Upstream(d)
    proc = None
    try:
        policy = os.path.join(d, "policy.json")
        with open(policy, "w") as f:
            json.dump(POLICY, f)
        for _ in range(3):
            port = free_port()
            conf = os.path.join(d, "nginx.conf")
            with open(conf, "w") as f:
                f.write(NGINX_CONF.format(workers=2, module=module, d=d, policy=policy, port=port,
                                          up=up.port))
            out = open(os.path.join(d, "nginx.out"), "wb")
            proc = subprocess.Popen([nginx, "-p", d, "-c", conf], stdout=out,
                                    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
            if wait_port(port, proc):
                break
            stop(proc, signal.SIGQUIT)
            proc = None
        if proc is None:
            report("nginx", "nginx starts", ["see %s/error.log" % d])
            return
        checks("nginx", up, port)
    finally:
        stop(proc, signal.SIGQUIT)
        up.close()


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "--serve":
        serve(int(sys.argv[2]), sys.argv[3])
        return 0
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", choices=["envoy", "nginx", "workerd"], required=True)
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--wasm")
    ap.add_argument("--envoy")
    ap.add_argument("--module")
    ap.add_argument("--edge", default=os.path.join(ROOT, "build", "edge"))
    args = ap.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    os.makedirs(args.workdir, exist_ok=True)
    try:
        import websockets  # noqa: F401
    except ImportError:
        report(args.host, "the websockets package", ["not installed (make deps)"])
        return 1
    {"envoy": run_envoy, "nginx": run_nginx, "workerd": run_workerd}[args.host](args)
    return 1 if FAILED else 0


if __name__ == "__main__":
    sys.exit(main())
