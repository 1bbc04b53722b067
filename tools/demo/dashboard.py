"""Demo upstream for `make demo` and the browser test: a small "task queue
dashboard" served under /dash, meant to sit behind an authcore host (Envoy,
nginx, workerd) that owns the login page, the session and CSRF cookies and
the identity headers. The app itself checks no password, cookie or CSRF
token: it trusts x-authcore-user / x-authcore-roles because the proxy
removes client copies of them and is the only client that can reach this
loopback port.

  GET  /dash, /dash/                 the dashboard page (who is signed in,
                                     the tasks, Retry buttons, Sign out)
  GET  /dash/static/dash.js|.css     its script and style (no external assets)
  GET  /dash/api/tasks               the tasks as JSON
  POST /dash/api/tasks/<id>/retry    queues a task again; JSON answer

Usage: python3 dashboard.py PORT [--csrf-cookie NAME]
(prints "ready" when listening on 127.0.0.1:PORT; --csrf-cookie names the
JS-readable cookie the page reads the CSRF token from, as the policy's
sessions.csrf_cookie does; default authcore_csrf).
"""
import html
import json
import os
import re
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PREFIX = "/dash"
STATIC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "static")
ASSETS = {"dash.js": "text/javascript; charset=utf-8",
          "dash.css": "text/css; charset=utf-8"}
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
       "img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
RETRY = re.compile(r"^/dash/api/tasks/([0-9]{1,6})/retry$")

csrf_cookie = "authcore_csrf"
lock = threading.Lock()
tasks = [
    {"id": 1, "name": "resize-images", "queue": "media", "status": "failed", "attempts": 3},
    {"id": 2, "name": "send-digest-emails", "queue": "mail", "status": "failed", "attempts": 1},
    {"id": 3, "name": "rebuild-search-index", "queue": "search", "status": "running", "attempts": 1},
    {"id": 4, "name": "export-invoices", "queue": "billing", "status": "done", "attempts": 1},
]


def header_text(v):
    # http.server decodes header bytes as Latin-1; the proxy sends UTF-8
    return (v or "").encode("latin-1", "replace").decode("utf-8", "replace")


def page(user, roles):
    e = html.escape
    with lock:
        rows = "".join(
            '<tr data-task="{id}"><td>#{id}</td><td>{name}</td><td>{queue}</td>'
            '<td class="status">{status}</td><td class="attempts">{attempts}</td>'
            '<td><button type="button" class="retry" data-id="{id}" '
            'aria-label="Retry task {id} {name}">Retry</button></td></tr>'.format(
                **{k: e(str(v)) for k, v in t.items()})
            for t in tasks)
    return """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<title>Task queue</title><link rel="stylesheet" href="{p}/static/dash.css"></head>
<body data-csrf-cookie="{cookie}">
<header><h1>Task queue</h1>
<p id="whoami">Signed in as <strong id="user">{user}</strong>
<span id="roles">(roles: {roles})</span></p>
<form method="post" action="{p}/auth/logout"><button type="submit">Sign out</button></form>
</header>
<main>
<table><caption>Recent tasks</caption>
<thead><tr><th>Id</th><th>Task</th><th>Queue</th><th>Status</th><th>Attempts</th><th></th></tr></thead>
<tbody>{rows}</tbody></table>
<p id="result" role="status" aria-live="polite"></p>
</main>
<script src="{p}/static/dash.js"></script>
</body></html>
""".format(p=PREFIX, cookie=e(csrf_cookie), user=e(user), roles=e(roles or "none"), rows=rows)


class Dashboard(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "authcore-demo-dashboard"

    def send(self, status, ctype, body, extra=()):
        if isinstance(body, str):
            body = body.encode("utf-8")
        self.send_response(status)
        self.send_header("content-type", ctype)
        self.send_header("content-length", str(len(body)))
        self.send_header("cache-control", "no-store")
        self.send_header("x-content-type-options", "nosniff")
        for n, v in extra:
            self.send_header(n, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def send_json(self, status, obj):
        self.send(status, "application/json", json.dumps(obj))

    def user(self):
        return header_text(self.headers.get("x-authcore-user"))

    def do_GET(self):
        path = self.path.split("?", 1)[0]
        user = self.user()
        if not user:
            # only reachable without the proxy in front: never serve anonymously
            return self.send_json(401, {"error": "no identity from the proxy"})
        if path in (PREFIX, PREFIX + "/"):
            roles = header_text(self.headers.get("x-authcore-roles"))
            return self.send(200, "text/html; charset=utf-8", page(user, roles),
                             [("content-security-policy", CSP), ("x-frame-options", "DENY"),
                              ("referrer-policy", "same-origin")])
        if path.startswith(PREFIX + "/static/") and path[len(PREFIX) + 8:] in ASSETS:
            name = path[len(PREFIX) + 8:]
            with open(os.path.join(STATIC, name), "rb") as f:
                return self.send(200, ASSETS[name], f.read())
        if path == PREFIX + "/api/tasks":
            with lock:
                return self.send_json(200, {"tasks": tasks})
        return self.send_json(404, {"error": "not found"})

    do_HEAD = do_GET

    def do_POST(self):
        n = int(self.headers.get("content-length") or 0)
        if n:
            self.rfile.read(min(n, 65536))
        user = self.user()
        if not user:
            return self.send_json(401, {"error": "no identity from the proxy"})
        m = RETRY.match(self.path)
        if not m:
            return self.send_json(404, {"error": "not found"})
        with lock:
            t = next((t for t in tasks if t["id"] == int(m.group(1))), None)
            if t is None:
                return self.send_json(404, {"error": "no such task"})
            t["status"] = "queued"
            t["attempts"] += 1
            answer = dict(t, ok=True, by=user)
        self.send_json(200, answer)

    def log_message(self, fmt, *args):
        sys.stderr.write("dashboard: %s\n" % (fmt % args))


def main(argv):
    global csrf_cookie
    if len(argv) not in (2, 4) or (len(argv) == 4 and argv[2] != "--csrf-cookie"):
        sys.exit("usage: dashboard.py PORT [--csrf-cookie NAME]")
    if len(argv) == 4:
        csrf_cookie = argv[3]
    srv = ThreadingHTTPServer(("127.0.0.1", int(argv[1])), Dashboard)
    srv.daemon_threads = True
    print("ready", flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main(sys.argv)
