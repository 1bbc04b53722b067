"""Echo upstream for host tests: answers every request with 200 and a JSON
body {"method", "path", "headers": {lower-case name: value}}. Loopback only.
With IDS_FILE it also appends, for every request it serves, one line to that
file: the request's x-test-request-id header (or "-"), written before the
answer, so a runner can tell which requests a host forwarded and how often.
Each x-test-upstream-header "Name: value" (several: comma-separated) the
request carries becomes a header of the answer (an upstream that sets,
say, its own X-Frame-Options).
A request whose query has hold=1 gets an event stream instead: "data:
open", then a heartbeat every 0.2 s until the client (the proxy) goes or 60
s pass (a long-lived stream, for connection caps).
Usage: python3 echo.py PORT [IDS_FILE]   (prints "ready" when listening)"""
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ID_HEADER = "x-test-request-id"
UPSTREAM_HEADER = "x-test-upstream-header"
_ids = None
_ids_lock = threading.Lock()


class Echo(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # the headers and the body leave in two writes: with Nagle on, the body
    # waits for the ACK of the headers, which a proxy on a kept-alive
    # connection (Envoy) delays ~40 ms
    disable_nagle_algorithm = True

    def _answer(self):
        n = int(self.headers.get("content-length") or 0)
        if n:
            self.rfile.read(n)
        hdrs = {}
        for k, v in self.headers.items():
            k = k.lower()
            # http.server decodes header bytes as Latin-1; clients send UTF-8
            v = v.encode("latin-1", "replace").decode("utf-8", "replace")
            hdrs[k] = hdrs[k] + "," + v if k in hdrs else v
        if _ids is not None:
            rid = "".join(c for c in hdrs.get(ID_HEADER, "-") if c.isprintable())
            with _ids_lock:
                _ids.write(rid + "\n")
                _ids.flush()
        if "hold=1" in self.path.partition("?")[2].split("&"):
            self._hold()
            return
        body = json.dumps({"method": self.command, "path": self.path, "headers": hdrs}).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("x-echo", "1")
        # headers of its own the case asks the upstream to answer with
        # (vectors.UPSTREAM_HEADER: "Name: value"), to show how the
        # decision's response headers meet an upstream's
        for specs in self.headers.get_all(UPSTREAM_HEADER) or []:
            for spec in specs.split(","):
                name, _, value = spec.partition(":")
                if name.strip():
                    self.send_header(name.strip(), value.strip())
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _hold(self):
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("x-accel-buffering", "no")  # nginx passes each event on
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()
        deadline = time.monotonic() + 60
        data = b"data: open\n\n"
        try:
            while time.monotonic() < deadline:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                self.wfile.flush()
                time.sleep(0.2)
                data = b": beat\n\n"
            self.wfile.write(b"0\r\n\r\n")
        except OSError:
            pass  # the client went: the stream ends
        self.close_connection = True

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _answer

    def log_message(self, *a):
        pass


if __name__ == "__main__":
    if len(sys.argv) > 2:
        _ids = open(sys.argv[2], "a", encoding="utf-8")
    srv = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Echo)
    print("ready", flush=True)
    srv.serve_forever()
