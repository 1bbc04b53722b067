"""Echo upstream for host tests: answers every request with 200 and a JSON
body {"method", "path", "headers": {lower-case name: value}}. Loopback only.
Usage: python3 echo.py PORT   (prints "ready" when listening)"""
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Echo(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

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
        body = json.dumps({"method": self.command, "path": self.path, "headers": hdrs}).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("x-echo", "1")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _answer

    def log_message(self, *a):
        pass


if __name__ == "__main__":
    srv = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Echo)
    print("ready", flush=True)
    srv.serve_forever()
