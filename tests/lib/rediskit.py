"""A real Redis for tests: Debian's redis-server on 127.0.0.1, a free port,
no persistence, stopped by its PID. restart() keeps the port, as an
operator restarting Redis would, and starts empty (nothing was saved)."""
import json
import os
import socket
import subprocess
import time

from hostkit import free_port, stop, wait_port


class Redis:
    def __init__(self, folder, port=None):
        self.folder = folder
        self.port = port or free_port()
        self.proc = None
        self.log_path = os.path.join(folder, "redis-%d.log" % self.port)

    def start(self):
        self.proc = subprocess.Popen(
            ["redis-server", "--bind", "127.0.0.1", "--port", str(self.port),
             "--save", "", "--appendonly", "no", "--dir", self.folder,
             "--logfile", self.log_path],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        if not wait_port(self.port, self.proc):
            raise RuntimeError("redis-server did not start on %d" % self.port)
        return self

    def kill(self):
        """Gone at once, as a crash: SIGKILL, no shutdown."""
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(5)
            self.proc = None

    def restart(self):
        self.kill()
        return self.start()

    def stop(self):
        stop(self.proc)
        self.proc = None

    def command(self, *args):
        """One command over a raw socket (RESP); the reply's first line and
        any bulk or array items as text."""
        out = b"*%d\r\n" % len(args)
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            out += b"$%d\r\n%s\r\n" % (len(a), a)
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as s:
            s.sendall(out)
            f = s.makefile("rb")
            return _read(f)


class CliMember:
    """One member of a fleet: the CLI (`authcore decide`) with a state
    file of its own, so its own random state key."""

    def __init__(self, cli, folder, name, policy_path):
        self.cli = cli
        self.state = os.path.join(folder, name + ".state")
        self.policy_path = policy_path

    def decide(self, *reqs):
        r = subprocess.run([self.cli, "decide", "--policy", self.policy_path, "--state", self.state],
                           input="\n".join(json.dumps(q) for q in reqs), capture_output=True,
                           text=True, timeout=60)
        if r.returncode != 0:
            raise RuntimeError("decide exited %d: %s" % (r.returncode, r.stderr[-400:]))
        return [json.loads(line) for line in r.stdout.splitlines()]


def _read(f):
    line = f.readline().rstrip(b"\r\n")
    kind, rest = line[:1], line[1:]
    if kind in (b"+", b"-"):
        return (kind + rest).decode()
    if kind == b":":
        return int(rest)
    if kind == b"$":
        n = int(rest)
        if n < 0:
            return None
        data = f.read(n + 2)[:n]
        return data.decode(errors="replace")
    if kind == b"*":
        n = int(rest)
        return None if n < 0 else [_read(f) for _ in range(n)]
    raise RuntimeError("not a RESP reply: %r" % line)


def wait_gone(port, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            time.sleep(0.05)
        except OSError:
            return True
    return False
