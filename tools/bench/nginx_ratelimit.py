"""make bench-nginx-ratelimit: rate-limit buckets in nginx, the authcore
module's table against nginx's own limit_req zone, side by side.

One nginx (Debian's, one worker, loopback) serves three servers that differ
only in the limit in front of one static file:
  - none:      no limit (the cost of the request itself);
  - authcore0: the authcore policy below without its rate_limits (the
               cost of the module's decision for a public path);
  - limit_req: `limit_req_zone $http_x_key zone=rl:1m rate=1r/m` and
               `limit_req zone=rl` (no burst);
  - authcore:  a public policy with one limit keyed on `header:x-key`,
               `1/hour`, and `rate_limits.store` STORE (a table of
               ac_table_size = 64 + 32 * STORE bytes in the module's zone).
Each round starts nginx anew (empty zones) and, for each server in turn
(the order alternates between rounds), sends FILL requests with distinct
keys (X-Key: k00000000, ...), one each, pipelined over one keep-alive
connection: every request looks its key up, finds none and takes a new
bucket (once the zone is full, after giving one up). Then the keys are asked
again from the newest to the oldest: a key still held is refused (429), a
key given up passes.

Reported, medians over the rounds:
  - microseconds per request while filling, and the check's cost: that minus
    the same request's without the limit in the same round (limit_req: minus `none`;
    authcore: minus `authcore0`, the same module and policy without
    rate_limits);
  - keys held and the memory they are held in: the limit_req zone's 1 MiB
    (its slab pool, red-black tree nodes and LRU queue included), the
    authcore table's ac_table_size bytes. limit_req gives up its least
    recently used node when it cannot allocate another, so the keys it holds
    are the newest ones: counting stops at the first key that passes. The
    authcore table gives up, in a full 8-slot group, the bucket nearest to
    lapsing, so the keys it holds are spread over the fill: every key is
    asked, and one that had been given up takes a slot again (giving up
    another, not asked yet), so its count is a lower bound.
Figures are measurements on this machine, never assertions.

Usage: python3 nginx_ratelimit.py --module M.so [--fill N] [--store N]
       [--rounds R] [--out FILE]
"""
import argparse
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "lib"))
from hostkit import free_port, stop, wait_port  # noqa: E402

NGINX = os.environ.get("AUTHCORE_NGINX", "/usr/sbin/nginx")
MIB = 1 << 20
PIPELINE = 64  # requests written at once on the connection


CONF = """daemon off;
master_process on;
worker_processes 1;
load_module {module};
pid {d}/nginx.pid;
error_log {d}/error.log crit;
events {{ worker_connections 64; }}
http {{
    access_log off;
    keepalive_requests 1000000;
    client_body_temp_path {d}/cb;
    proxy_temp_path {d}/px;
    fastcgi_temp_path {d}/fc;
    uwsgi_temp_path {d}/uw;
    scgi_temp_path {d}/sc;
    limit_req_zone $http_x_key zone=rl:1m rate=1r/m;
    limit_req_status 429;
    server {{
        listen 127.0.0.1:{p_none};
        location / {{ root {d}/www; }}
    }}
    server {{
        listen 127.0.0.1:{p_ac0};
        location / {{ authcore_policy {pol0}; root {d}/www; }}
    }}
    server {{
        listen 127.0.0.1:{p_ngx};
        location / {{ limit_req zone=rl; root {d}/www; }}
    }}
    server {{
        listen 127.0.0.1:{p_ac};
        location / {{ authcore_policy {pol}; root {d}/www; }}
    }}
}}
"""


class Pipe:
    """One keep-alive connection: GET /x with X-Key, PIPELINE at a time."""

    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def close(self):
        self.s.close()

    def _response(self):
        while True:
            i = self.buf.find(b"\r\n\r\n")
            if i >= 0:
                break
            chunk = self.s.recv(1 << 16)
            if not chunk:
                raise RuntimeError("nginx closed the connection")
            self.buf += chunk
        head = self.buf[:i].decode("latin-1")
        status = int(head[9:12])
        m = re.search(r"(?im)^content-length:\s*(\d+)", head)
        if m is None:
            raise RuntimeError("answer without Content-Length: " + head[:200])
        if re.search(r"(?im)^connection:\s*close", head):
            raise RuntimeError("nginx closes the connection after %d" % status)
        end = i + 4 + int(m.group(1))
        while len(self.buf) < end:
            chunk = self.s.recv(1 << 16)
            if not chunk:
                raise RuntimeError("nginx closed the connection")
            self.buf += chunk
        self.buf = self.buf[end:]
        return status

    def statuses(self, keys):
        """The answer to a GET for each key, in order."""
        out = []
        for j in range(0, len(keys), PIPELINE):
            batch = keys[j:j + PIPELINE]
            self.s.sendall(b"".join(
                b"GET /x HTTP/1.1\r\nHost: b\r\nX-Key: " + k.encode() + b"\r\n\r\n"
                for k in batch))
            out.extend(self._response() for _ in batch)
        return out


def key(i):
    return "k%08d" % i


CHUNK = 2000  # keys a server fills before the next server's turn


def fill_all(ports, order, fill):
    """Fills `fill` keys on every server, CHUNK keys at a time in turn (so
    a change in the machine's load meets them all alike): {name: seconds}."""
    keys = [key(i) for i in range(fill)]
    conns = {n: Pipe(ports[n]) for n in order}
    secs = {n: 0.0 for n in order}
    try:
        for j in range(0, fill, CHUNK):
            turn = order if (j // CHUNK) % 2 == 0 else list(reversed(order))
            for n in turn:
                t0 = time.perf_counter()
                got = conns[n].statuses(keys[j:j + CHUNK])
                secs[n] += time.perf_counter() - t0
                bad = [s for s in got if s != 200]
                if bad:
                    raise RuntimeError("fill %s: %d answers were not 200 (e.g. %d)" % (
                        n, len(bad), bad[0]))
    finally:
        for c in conns.values():
            c.close()
    return secs


def held(port, fill, stop_at_first_pass):
    """The filled keys asked newest first: how many are still held (429)."""
    newest = [key(i) for i in reversed(range(fill))]
    c = Pipe(port)
    n = 0
    try:
        if stop_at_first_pass:
            # in batches, stopping at the batch with the first 200
            for j in range(0, len(newest), 1024):
                st = c.statuses(newest[j:j + 1024])
                if 200 in st:
                    return n + st.index(200)
                n += len(st)
            return n
        st = c.statuses(newest)
        odd = [s for s in st if s not in (200, 429)]
        if odd:
            raise RuntimeError("probe: answer %d" % odd[0])
        return st.count(429)
    finally:
        c.close()


def table_bytes(store):
    """ac_table_size of a policy with this rate_limits.store
    (core/authcore_store.h): a 64-byte header and 32 bytes per key."""
    return 64 + 32 * store


def nginx_version():
    out = subprocess.run([NGINX, "-v"], capture_output=True, text=True)
    return (out.stderr or out.stdout).strip().split("/")[-1]


def round_(args, order):
    d = tempfile.mkdtemp(prefix="authcore-bench-rl-")
    try:
        os.chmod(d, 0o755)
        os.makedirs(os.path.join(d, "www"))
        with open(os.path.join(d, "www", "x"), "w") as f:
            f.write("ok\n")
        policy = {"jwt": {"keys": [{"kid": "k1", "alg": "HS256",
                                    "secret": "bench-rate-limit-zone-secret-0123456789"}]},
                  "public": ["/*"]}
        pol0 = os.path.join(d, "policy0.json")
        with open(pol0, "w") as f:
            json.dump(policy, f)
        policy["rate_limits"] = {"limits": [{"name": "k", "key": "header:x-key",
                                             "limit": "1/hour"}],
                                 "store": args.store}
        pol = os.path.join(d, "policy.json")
        with open(pol, "w") as f:
            json.dump(policy, f)
        ports = {n: free_port() for n in NAMES}
        conf = os.path.join(d, "nginx.conf")
        with open(conf, "w") as f:
            f.write(CONF.format(d=d, module=args.module, pol=pol, pol0=pol0, p_none=ports["none"], p_ac0=ports["authcore0"],
                                p_ngx=ports["limit_req"], p_ac=ports["authcore"]))
        proc = subprocess.Popen([NGINX, "-p", d, "-c", conf],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            if not all(wait_port(p, proc) for p in ports.values()):
                with open(os.path.join(d, "error.log"), errors="replace") as f:
                    raise RuntimeError("nginx did not start: " + f.read()[-400:])
            secs = fill_all(ports, order, args.fill)
            return {n: (secs[n], held(ports[n], args.fill, n == "limit_req")
                        if n in BASE else 0) for n in order}
        finally:
            stop(proc, signal.SIGQUIT)
    finally:
        shutil.rmtree(d, ignore_errors=True)


NAMES = ["none", "limit_req", "authcore0", "authcore"]
BASE = {"limit_req": "none", "authcore": "authcore0"}


def bench(args):
    names = NAMES
    runs = {n: [] for n in names}
    for r in range(args.rounds):
        order = names if r % 2 == 0 else list(reversed(names))
        for n, v in round_(args, order).items():
            runs[n].append(v)
    us = {n: statistics.median(s for s, _ in runs[n]) * 1e6 / args.fill for n in names}
    held = {n: statistics.median(h for _, h in runs[n]) for n in names}
    def cost(n):
        """the median over rounds of the round's difference to its base"""
        return statistics.median((a - b) * 1e6 / args.fill for (a, _), (b, _)
                                 in zip(runs[n], runs[BASE[n]]))

    mem = {"limit_req": MIB, "authcore": table_bytes(args.store)}
    lines = [
        "# Rate-limit buckets in nginx: authcore's table against limit_req "
        "(make bench-nginx-ratelimit)", "",
        "One nginx %s worker, %d distinct keys (X-Key) each, one request per key pipelined "
        "%d deep on one keep-alive connection per server, the servers taking turns "
        "%d keys at a time, in alternating order; %d rounds with fresh zones; medians." % (
            nginx_version(), args.fill, PIPELINE, CHUNK, args.rounds), "",
        "| server | us per request (fill) | check cost | runs (us) |",
        "|---|---:|---:|---|"]
    for n in names:
        lines.append("| %s | %.2f | %s | %s |" % (
            n, us[n], "%+.2f (minus %s)" % (cost(n), BASE[n]) if n in BASE else "-",
            ", ".join("%.2f" % (s * 1e6 / args.fill) for s, _ in runs[n])))
    lines += ["", "| store | memory (bytes) | keys held | keys per MiB | bytes per key |",
              "|---|---:|---:|---:|---:|"]
    for n, label in (("limit_req", "limit_req_zone $http_x_key zone=rl:1m (9-byte keys)"),
                     ("authcore", "authcore table, rate_limits.store %d" % args.store)):
        h = held[n]
        lines.append("| %s | %d | %d%s | %d | %.1f |" % (
            label, mem[n], h, " (at least)" if n == "authcore" else "",
            h * MIB // mem[n] if h else 0, mem[n] / h if h else float("inf")))
    ratio = (held["authcore"] * MIB / mem["authcore"]) / (held["limit_req"] * MIB / mem["limit_req"]) \
        if held["limit_req"] and held["authcore"] else float("nan")
    lines += ["", "Keys per MiB, authcore / limit_req: %.1fx. Check cost: the median over "
              "rounds of the fill time per request minus that of the same request without "
              "the limit in the same round; "
              "on a shared machine, read it as an order of magnitude." % ratio]
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--module", required=True)
    ap.add_argument("--fill", type=int, default=40000)
    ap.add_argument("--store", type=int, default=8192)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--out")
    args = ap.parse_args()
    args.module = os.path.abspath(args.module)
    text = bench(args)
    print(text, end="")
    if args.out:
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        with open(args.out, "w") as f:
            f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
