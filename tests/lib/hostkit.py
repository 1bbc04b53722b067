"""Loopback plumbing shared by the host end-to-end suites: free ports,
waiting for a listener, stopping children with bounded waits, the echo
upstream, and sending a request exactly as a vector case writes it (raw path,
headers in order, duplicates kept)."""
import http.client
import json
import os
import select
import signal
import socket
import subprocess
import sys
import time

ECHO = os.path.join(os.path.dirname(os.path.abspath(__file__)), "echo.py")


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


def start_echo(spawn=subprocess.Popen, timeout=10.0):
    """Starts tests/lib/echo.py on a free loopback port: (proc, port)."""
    for _ in range(3):
        port = free_port()
        proc = spawn([sys.executable, ECHO, str(port)], stdout=subprocess.PIPE,
                     stderr=subprocess.DEVNULL)
        ready, _, _ = select.select([proc.stdout], [], [], timeout)
        if ready and proc.stdout.readline().strip() == b"ready" and wait_port(port, proc):
            return proc, port
        stop(proc)
    raise RuntimeError("echo upstream did not start")


def exchange(port, method, path, headers, body=None, host=None, timeout=10.0):
    """Sends one request exactly as given (raw path, headers in order,
    duplicates kept; vector text goes out as UTF-8; a body goes with its
    Content-Length). Returns (status, headers with lower-case names and
    repeated ones joined with ", ", every Set-Cookie value in order, body
    bytes)."""
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
