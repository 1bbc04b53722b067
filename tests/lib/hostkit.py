"""Loopback plumbing shared by the host end-to-end suites: free ports, a
bound listening socket to hand to a child, waiting for a listener, stopping
children with bounded waits, a server child logging to a file, the echo
upstream and the ledger of request ids it served, a self-signed loopback
certificate, and sending a request exactly as a vector case writes it (raw
path, headers in order, duplicates kept), over plain HTTP or TLS."""
import collections
import http.client
import json
import os
import select
import signal
import socket
import ssl
import subprocess
import sys
import time
import uuid

ECHO = os.path.join(os.path.dirname(os.path.abspath(__file__)), "echo.py")


# The head of every test nginx.conf: one folder d for the pid, logs and
# temp paths, the module loaded, loopback servers added by the caller after
# it (the http block is left open). A str.format template: a caller appends
# its own http lines (braces doubled) and formats the whole with workers,
# module and d as well as its own fields.
NGINX_HEAD = """daemon off;
master_process on;
worker_processes {workers};
load_module {module};
pid {d}/nginx.pid;
error_log {d}/error.log info;
events {{ worker_connections 64; }}
http {{
    access_log {d}/access.log;
    client_body_temp_path {d}/client_body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
"""


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc, timeout=10.0):
    """True once 127.0.0.1:port accepts; False if proc exits or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False


def stop(proc, first=signal.SIGTERM):
    """Stops a child we started, by its pid, with bounded waits: `first`,
    then SIGTERM, then SIGKILL."""
    if proc is None:
        return
    for sig in (first, signal.SIGTERM, signal.SIGKILL):
        if proc.poll() is not None:
            return
        try:
            proc.send_signal(sig)
            proc.wait(timeout=5)
        except ProcessLookupError:
            return
        except subprocess.TimeoutExpired:
            continue


def listening_socket():
    """A listening loopback socket on a free port, bound before the child
    that serves on it starts (workerd's --socket-fd), so the port is never
    raced. The caller closes its copy once the child has started."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", 0))
    s.listen(64)
    return s


class Server:
    """A server process we started, its output in a log file; stop() ends
    exactly that process (SIGTERM, then SIGKILL, bounded waits)."""

    def __init__(self, cmd, log_path, cwd=None, pass_fds=(), env=None):
        self.log_path = log_path
        self.log = open(log_path, "w")
        self.proc = subprocess.Popen(cmd, cwd=cwd, stdout=self.log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, pass_fds=pass_fds, env=env)

    def log_text(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def announced_port(self, timeout=20.0):
        """The port of a child that prints "listening PORT" once it serves;
        RuntimeError (with its log's tail) if it exits or time runs out."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.log_text().splitlines():
                if line.startswith("listening ") and line[10:].isdigit():
                    return int(line[10:])
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        raise RuntimeError("server did not start: %s" % self.log_text()[-800:])

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.log.close()


def start_echo(spawn=subprocess.Popen, timeout=10.0, ids_path=None):
    """Starts tests/lib/echo.py on a free loopback port: (proc, port). With
    ids_path the echo records there the request id of every request it
    serves (see Ledger)."""
    for _ in range(3):
        port = free_port()
        proc = spawn([sys.executable, ECHO, str(port)] + ([ids_path] if ids_path else []),
                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        ready, _, _ = select.select([proc.stdout], [], [], timeout)
        if ready and proc.stdout.readline().strip() == b"ready" and wait_port(port, proc):
            return proc, port
        stop(proc)
    raise RuntimeError("echo upstream did not start")


class Ledger:
    """The request ids an echo upstream served (its IDS_FILE): new() makes a
    unique id to send in REQUEST_ID_HEADER, served(id) says how many times
    the upstream saw it so far."""

    def __init__(self, path):
        self.path = path
        open(path, "w").close()

    @staticmethod
    def new():
        return uuid.uuid4().hex

    def counts(self):
        with open(self.path, encoding="utf-8", errors="replace") as f:
            return collections.Counter(ln.strip() for ln in f)

    def served(self, rid):
        return self.counts()[rid]


def make_tls_cert(folder):
    """A self-signed P-256 certificate for 127.0.0.1 and localhost, made
    with the openssl command: (certificate path, key path)."""
    cert, key = os.path.join(folder, "tls-cert.pem"), os.path.join(folder, "tls-key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-days", "2", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
                    "-keyout", key, "-out", cert], check=True, capture_output=True, timeout=30)
    return cert, key


def exchange(port, method, path, headers, body=None, host=None, timeout=10.0, tls_ca=None):
    """Sends one request exactly as given (raw path, headers in order,
    duplicates kept; vector text goes out as UTF-8; a body goes with its
    Content-Length). tls_ca: talk TLS, trusting that certificate (verified,
    127.0.0.1 in its names). Returns (status, headers with lower-case names
    and repeated ones joined with ", ", every Set-Cookie value in order, body
    bytes)."""
    if tls_ca:
        ctx = ssl.create_default_context(cafile=tls_ca)
        conn = http.client.HTTPSConnection("127.0.0.1", port, timeout=timeout, context=ctx)
    else:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        if not any(n.lower() == "host" for n, _ in headers):
            conn.putheader("Host", host or "127.0.0.1:%d" % port)
        for n, v in headers:
            conn.putheader(n, v.encode("utf-8"))
        data = None
        if body is not None:
            data = body.encode("utf-8") if isinstance(body, str) else body
            conn.putheader("Content-Length", str(len(data)))
        conn.endheaders(data)
        resp = conn.getresponse()
        rbody = resp.read()
        hdrs, cookies = {}, []
        for k, v in resp.getheaders():
            k = k.lower()
            hdrs[k] = hdrs[k] + ", " + v if k in hdrs else v
            if k == "set-cookie":
                cookies.append(v)
        return resp.status, hdrs, cookies, rbody
    finally:
        conn.close()


def send(port, method, path, headers, host=None, timeout=10.0):
    """exchange() without a body; returns (status, headers, body bytes)."""
    status, hdrs, _, body = exchange(port, method, path, headers, None, host, timeout)
    return status, hdrs, body


def upstream_view(status, hdrs, body):
    """The request headers echo.py saw, when the answer came from it."""
    if status != 200 or hdrs.get("x-echo") != "1":
        return None
    try:
        return json.loads(body)["headers"]
    except (ValueError, KeyError):
        return None
