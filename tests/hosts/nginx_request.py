"""The nginx module decides on the request the upstream gets.

Against Debian's nginx with the authcore module in front of
tests/lib/echo.py (loopback only, every wait bounded):
- rewrites and internal redirects: `rewrite ... last` and `... break`,
  `set $args`, `try_files` falling back to a URI, `error_page` to a URI
  (`=`: the redirect's answer; POST turns into GET) and to a named location,
  a `return` answered before the access phase, and `proxy_pass http://...$authcore_uri`. For
  each request: the status the policy gives for the request the upstream
  gets (a viewer's POST rewritten to an admin-only path is refused), and
  for every forwarded one, the method and target of the module's last
  audit event equal the method and target the upstream received, with one
  copy of each identity header (a later pass replaces the earlier one's).
- raw targets nginx forwards as they came are decided as they came: dot
  segments and a double slash (which merge_slashes hides from location
  matching) refused, escapes kept.
- a decision that rewrites the target: the upstream gets exactly that
  target (proxy_pass without a URI part, and with $authcore_uri), and
  $request_uri, $uri and $args follow it. Until a policy can make the core
  rewrite, the module built with its test hook (build/nginx-test, `make
  test-bins`) stands a request header in for the core's rewrite; the
  forwarding under test is nginx's and the module's own. Likewise a
  decision that removes Cookie and adds it again (a consumed session
  cookie): the upstream gets only the new one, and $http_cookie and
  $cookie_NAME see it.
- the worker's cache of verified signatures (the test module reports its
  lookups, hits and checks upstream): the same RS256 token three times is
  checked once, a forgery of it is checked and refused while it is cached,
  and the token hits again after.
- login.max_pending 1 (the core's cap, counted in the shared zone; the
  module has none of its own): while one password check runs, a second
  login gets the core's 503 overloaded with Retry-After and audit line
  before any hashing, and logs in once the first is over; with the thread
  pool and with event-loop slices.
- a login post whose client closes the socket mid-check gives its slot
  back at once: with login.max_pending 1, a login 0.1 s after the abort is
  served, not answered 503 (without ac_decide_abandon the slot stays taken
  until the check ends, over a second later); with the thread pool and
  with event-loop slices.
- `nginx -t` refuses the removed authcore_max_pending directive.

Prints "ok - ...", "not ok - ...: why" per check.
Usage: python3 nginx_request.py [MODULE.so]
"""
import base64
import hashlib
import hmac
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import nginx_vectors as nv  # noqa: E402
from nginx_vectors import Fail, Stopped, not_ok, ok, send_full  # noqa: E402
import vectors  # noqa: E402
from hostkit import NGINX_HEAD  # noqa: E402

CLI = nv.CLI
TEST_MODULE = os.path.join(nv.ROOT, "build", "nginx-test", "ngx_http_authcore_module.so")
SECRET = "nginx-request-test-hs256-secret-0123456789"
PASSWORD = "pending-cap-password-1"
SLOW_ITERATIONS = 2000000
WAIT = 30.0


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def token(sub, roles):
    head = b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": "k1"}).encode())
    body = b64(json.dumps({"sub": sub, "roles": roles,
                           "exp": int(time.time()) + 3600}).encode())
    sig = hmac.new(SECRET.encode(), (head + "." + body).encode(), hashlib.sha256).digest()
    return head + "." + body + "." + b64(sig)


def policy(slow_hash=None, quick_hash=None):
    p = {
        "realm": "request",
        "jwt": {"keys": [{"kid": "k1", "alg": "HS256", "secret": SECRET}],
                "user_claim": "sub", "roles_claim": "roles"},
        "identity_headers": {"user": "x-authcore-user", "roles": "x-authcore-roles"},
        "public": ["/pub/*"],
        "rules": [
            {"methods": ["POST", "PUT", "DELETE"], "path": "/dash/api/*", "role": "admin"},
            {"path": "/dash/api/*", "role": "viewer"},
        ],
        "default": "authenticated",
        # the rewrite checks compare each forwarded request's audit line
        # with what the upstream received
        "audit": {"allowed": "all"},
    }
    if slow_hash:
        p["sessions"] = {"keys": [{"kid": "s1", "secret": "nginx-request-session-key-0123456789"}]}
        p["users"] = [{"name": "slow", "password_hash": slow_hash, "roles": ["viewer"]}]
        if quick_hash:
            p["users"].append({"name": "quick", "password_hash": quick_hash, "roles": ["viewer"]})
        # one check in flight at once (the core's cap, for the whole zone);
        # every loopback login is one client
        p["login"] = {"prefix": "/login", "attempts": "100/minute", "max_pending": 1,
                      "client_attempts": "1000/minute"}
        p["passwords"] = {"max_iterations": 10000000}
    return json.dumps(p)


SERVER = """
        location / {{
            proxy_pass http://127.0.0.1:{echo};
        }}
        location /legacy/ {{
            rewrite ^/legacy/(.*)$ /dash/api/$1 last;
        }}
        location /old/ {{
            rewrite ^/old/(.*)$ /dash/api/$1 break;
            proxy_pass http://127.0.0.1:{echo};
        }}
        location /args/ {{
            set $args "page=2";
            proxy_pass http://127.0.0.1:{echo};
        }}
        location /tf/ {{
            root {d}/www;
            try_files $uri /dash/api/fallback;
        }}
        location /ep/ {{
            error_page 418 = /dash/api/teapot;
            return 418;
        }}
        location /named/ {{
            error_page 418 = @up;
            return 418;
        }}
        location @up {{
            proxy_pass http://127.0.0.1:{echo};
        }}
        location /ret/ {{
            return 200 "answered before the access phase\\n";
        }}
        location /v/ {{
            proxy_pass http://127.0.0.1:{echo}$authcore_uri;
        }}
"""


def conf(d, port, echo, http_extra="", server=SERVER, workers=1, module=None):
    return (NGINX_HEAD + """    authcore_policy {d}/policy.json;
{http_extra}
    server {{
        listen 127.0.0.1:{port};
{server}
    }}
}}
""").format(workers=workers, module=module or nv.MODULE, d=d, port=port, http_extra=http_extra,
           server=server.format(echo=echo, d=d))


class Ngx:
    def __init__(self, d, echo, policy_json, http_extra="", server=SERVER, module=None):
        self.d, self.echo, self.http_extra = d, echo, http_extra
        self.server, self.module = server, module
        nv.write(os.path.join(d, "policy.json"), policy_json)
        self.proc = None

    def start(self):
        why = ""
        for _ in range(3):
            self.port = nv.free_port()
            path = os.path.join(self.d, "nginx.conf")
            nv.write(path, conf(self.d, self.port, self.echo, self.http_extra, self.server,
                                module=self.module))
            self.out = open(os.path.join(self.d, "nginx.out"), "wb")
            self.proc = nv.spawn([nv.NGINX, "-p", self.d, "-c", path],
                                 stdout=self.out, stderr=subprocess.STDOUT)
            if nv.wait_port(self.port, self.proc):
                return
            nv.stop(self.proc)
            self.out.close()
            why = nv.tail(os.path.join(self.d, "nginx.out")) + nv.tail(
                os.path.join(self.d, "error.log"))
            if "Address already in use" not in why:
                break
        raise Fail("nginx did not start: " + why)

    def stop(self):
        nv.stop(self.proc, signal.SIGQUIT)
        if self.proc is not None:
            self.out.close()

    def events(self):
        return nv.audit_events(os.path.join(self.d, "error.log"))


VIEWER = token("vera", ["viewer"])
ADMIN = token("ada", ["admin", "viewer"])

# (name, method, target, token, status, upstream method, upstream target or
# None when the answer is not the upstream's)
CASES = [
    ("rewrite last: viewer POST to an admin path", "POST", "/legacy/tasks", VIEWER, 403,
     None, None),
    ("rewrite last: admin POST", "POST", "/legacy/tasks", ADMIN, 200, "POST", "/dash/api/tasks"),
    ("rewrite last: viewer GET keeps the query", "GET", "/legacy/tasks?q=a%20b", VIEWER, 200,
     "GET", "/dash/api/tasks?q=a%20b"),
    ("rewrite last: escapes survive", "GET", "/legacy/a%25zz%20c", VIEWER, 200, "GET",
     "/dash/api/a%25zz%20c"),
    ("rewrite break: viewer DELETE refused", "DELETE", "/old/tasks/7", VIEWER, 403, None, None),
    ("rewrite break: admin DELETE", "DELETE", "/old/tasks/7", ADMIN, 200, "DELETE",
     "/dash/api/tasks/7"),
    ("set $args", "GET", "/args/list?page=1", VIEWER, 200, "GET", "/args/list?page=2"),
    ("try_files to a URI: viewer POST refused there", "POST", "/tf/missing", VIEWER, 403,
     None, None),
    ("try_files to a URI: admin POST (the query is dropped)", "POST", "/tf/missing?x=1",
     ADMIN, 200, "POST", "/dash/api/fallback"),
    ("try_files to a URI: no token", "GET", "/tf/missing", None, 401, None, None),
    ("error_page to a URI: POST becomes GET", "POST", "/ep/x", VIEWER, 200, "GET",
     "/dash/api/teapot"),
    ("error_page to a named location: raw target", "GET", "/named/a/../b%2Fc?k=v", ADMIN, 400,
     None, None),
    ("error_page to a named location", "PUT", "/named/x?k=v", VIEWER, 200, "PUT",
     "/named/x?k=v"),
    ("return runs before the access phase", "GET", "/ret/x", None, 200, None, None),
    ("proxy_pass with $authcore_uri", "POST", "/v/a%20b?c=d", VIEWER, 200, "POST",
     "/v/a%20b?c=d"),
    ("raw target: dot segments refused", "GET", "/pub/../dash/api/x", None, 400, None, None),
    ("raw target: double slash refused (merge_slashes hides it from locations)", "GET",
     "/pub//x", None, 400, None, None),
    ("raw target: forwarded as it came", "GET", "/pub/x%3A?y", None, 200, "GET",
     "/pub/x%3A?y"),
]


def check_targets(echo):
    with tempfile.TemporaryDirectory(prefix="authcore-nginx-req-") as d:
        os.chmod(d, 0o755)
        os.mkdir(os.path.join(d, "www"))
        ngx = Ngx(d, echo, policy())
        try:
            ngx.start()
            for name, method, target, tok, status, up_method, up_target in CASES:
                name = "request: " + name
                headers = [("x-authcore-user", "mallory")]
                if tok:
                    headers.append(("Authorization", "Bearer " + tok))
                body = "{}" if method in ("POST", "PUT") else None
                before = len(ngx.events())
                try:
                    st, hdrs, _, rbody = send_full(ngx.port, method, target, headers, body)
                except OSError as e:
                    not_ok(name, "request failed: %s" % e)
                    continue
                if st != status:
                    not_ok(name, "status %d, want %d: %r" % (st, status, rbody[:200]))
                    continue
                from_echo = hdrs.get("x-echo") == "1"
                if up_target is None:
                    if from_echo:
                        not_ok(name, "the upstream answered")
                    else:
                        ok(name)
                    continue
                if not from_echo:
                    not_ok(name, "not the upstream's answer: %r" % rbody[:200])
                    continue
                seen = json.loads(rbody)
                evs = ngx.events()[before:]
                why = []
                if (seen["method"], seen["path"]) != (up_method, up_target):
                    why.append("upstream got %s %s, want %s %s" % (
                        seen["method"], seen["path"], up_method, up_target))
                if not evs:
                    why.append("no audit event")
                else:
                    last = evs[-1]
                    if (last.get("method"), last.get("path")) != (seen["method"], seen["path"]):
                        why.append("decided on %s %s, upstream got %s %s" % (
                            last.get("method"), last.get("path"), seen["method"], seen["path"]))
                    if last.get("action") != "allow":
                        why.append("last decision %r" % last)
                user = seen["headers"].get("x-authcore-user")
                want = "ada" if tok == ADMIN else "vera" if tok == VIEWER else None
                if user != want:
                    why.append("x-authcore-user %r, want %r" % (user, want))
                if why:
                    not_ok(name, "; ".join(why))
                else:
                    ok(name)
        finally:
            ngx.stop()


REWRITE_SERVER = """
        location / {{
            proxy_set_header X-Seen-Uri $uri;
            proxy_set_header X-Seen-Args $args;
            proxy_set_header X-Seen-Request-Uri $request_uri;
            proxy_set_header X-Seen-Cookie-Var $http_cookie;
            proxy_set_header X-Seen-Cookie-A $cookie_a;
            proxy_pass http://127.0.0.1:{echo};
        }}
        location /v/ {{
            proxy_pass http://127.0.0.1:{echo}$authcore_uri;
        }}
        location /legacy/ {{
            rewrite ^/legacy/(.*)$ /dash/api/$1 last;
        }}
"""

# (name, method, target, rewritten target, upstream target, $uri, $args)
REWRITES = [
    ("query parameter removed", "GET", "/pub/a?access_token=t&b=1", "/pub/a?b=1", "/pub/a?b=1",
     "/pub/a", "b=1"),
    ("escapes kept, query dropped", "GET", "/pub/x%20?q", "/pub/x%20y", "/pub/x%20y",
     "/pub/x y", ""),
    ("with $authcore_uri", "POST", "/v/a?access_token=t", "/v/a%7Eb?c=d", "/v/a%7Eb?c=d",
     None, None),
    ("after a rewrite", "GET", "/legacy/tasks?access_token=t", "/dash/api/tasks",
     "/dash/api/tasks", "/dash/api/tasks", ""),
]


def check_rewritten(echo):
    if not os.path.exists(TEST_MODULE):
        not_ok("request: rewritten target", "%s not built (make test-bins)" % TEST_MODULE)
        return
    with tempfile.TemporaryDirectory(prefix="authcore-nginx-rw-") as d:
        os.chmod(d, 0o755)
        ngx = Ngx(d, echo, policy(), server=REWRITE_SERVER, module=TEST_MODULE)
        try:
            ngx.start()
            for name, method, target, rewritten, up_target, uri, args in REWRITES:
                name = "request: rewritten target: " + name
                headers = [("Authorization", "Bearer " + VIEWER),
                           ("X-Authcore-Test-Rewrite", rewritten)]
                try:
                    st, hdrs, _, rbody = send_full(ngx.port, method, target, headers,
                                                   "{}" if method == "POST" else None)
                except OSError as e:
                    not_ok(name, "request failed: %s" % e)
                    continue
                if st != 200 or hdrs.get("x-echo") != "1":
                    not_ok(name, "status %d: %r" % (st, rbody[:200]))
                    continue
                seen = json.loads(rbody)
                why = []
                if seen["path"] != up_target:
                    why.append("upstream got %r, want %r" % (seen["path"], up_target))
                h = seen["headers"]
                if uri is not None:
                    got = (h.get("x-seen-uri"), h.get("x-seen-args", ""),
                           h.get("x-seen-request-uri"))
                    if got != (uri, args, up_target):
                        why.append("$uri, $args, $request_uri: %r, want %r" % (
                            got, (uri, args, up_target)))
                if why:
                    not_ok(name, "; ".join(why))
                else:
                    ok(name)
            # without the hook's header the target is forwarded untouched
            name = "request: rewritten target: none asked, none made"
            st, hdrs, _, rbody = send_full(ngx.port, "GET", "/pub/a%20b?c",
                                           [("Authorization", "Bearer " + VIEWER)])
            seen = json.loads(rbody) if hdrs.get("x-echo") == "1" else {}
            if seen.get("path") == "/pub/a%20b?c":
                ok(name)
            else:
                not_ok(name, "%d %r" % (st, rbody[:200]))
            name = "request: Cookie removed and added again"
            st, hdrs, _, rbody = send_full(ngx.port, "GET", "/pub/c", [
                ("Authorization", "Bearer " + VIEWER), ("Cookie", "a=0; tok=secret"),
                ("Cookie", "z=9"), ("X-Authcore-Test-Cookie", "a=1; b=2")])
            h = json.loads(rbody)["headers"] if hdrs.get("x-echo") == "1" else {}
            got = (h.get("cookie"), h.get("x-seen-cookie-var"), h.get("x-seen-cookie-a"))
            if got == ("a=1; b=2", "a=1; b=2", "1"):
                ok(name)
            else:
                not_ok(name, "%d: Cookie, $http_cookie, $cookie_a: %r" % (st, got))
        finally:
            ngx.stop()


def check_cache(echo):
    """The worker's signature cache, through the test module's report."""
    name = ("request: the same RS256 token three times is checked once; a forgery "
            "of it is checked and refused while it is cached")
    if not os.path.exists(TEST_MODULE):
        not_ok(name, "%s not built (make test-bins)" % TEST_MODULE)
        return
    p = json.loads(policy())
    with open(os.path.join(nv.ROOT, "tests", "vectors", "keys", "rsa.pub.pem")) as f:
        p["jwt"]["keys"].append({"kid": "rs", "alg": "RS256", "pem": f.read()})
    tok = vectors.mint({"alg": "RS256", "key": "rsa", "kid": "rs",
                        "claims": {"sub": "alice", "exp": "+3600"}},
                       {}, int(time.time()), {"rsa": "keys/rsa.pem"})
    forged = vectors.token_from({"case": "t", "mutate": "flip_signature"}, {"t": tok})
    with tempfile.TemporaryDirectory(prefix="authcore-nginx-cache-") as d:
        os.chmod(d, 0o755)
        ngx = Ngx(d, echo, json.dumps(p), module=TEST_MODULE)
        try:
            ngx.start()
            seen = []
            for t in (tok, tok, tok, forged, tok):
                st, hdrs, _, rbody = send_full(ngx.port, "GET", "/x", [
                    ("Authorization", "Bearer " + t), ("X-Authcore-Test-Cache", "1")])
                h = json.loads(rbody)["headers"] if hdrs.get("x-echo") == "1" else {}
                seen.append((st, h.get("x-authcore-test-cache-seen")))
            want = [(200, "1,0,1"), (200, "2,1,1"), (200, "3,2,1"), (401, None),
                    (200, "5,3,2")]
            if seen == want:
                ok(name)
            else:
                not_ok(name, "(status, lookups,hits,checks) %r, want %r" % (seen, want))
        finally:
            ngx.stop()


def login(port, timeout=WAIT, user="slow"):
    body = json.dumps({"username": user, "password": PASSWORD})
    t0 = time.monotonic()
    st, hdrs, cookies, rbody = send_full(port, "POST", "/login/auth/login",
                                         [("Content-Type", "application/json")], body,
                                         timeout=timeout)
    return st, hdrs, cookies, time.monotonic() - t0


def check_pending_cap(echo, slow_hash, label, http_extra):
    name = "request: login.max_pending 1 (%s)" % label
    with tempfile.TemporaryDirectory(prefix="authcore-nginx-cap-") as d:
        os.chmod(d, 0o755)
        ngx = Ngx(d, echo, policy(slow_hash), http_extra)
        try:
            ngx.start()
            first = {}

            def run_first():
                try:
                    first["r"] = login(ngx.port)
                except OSError as e:
                    first["e"] = e
            t = threading.Thread(target=run_first)
            t.start()
            # the check takes well over a second (2,000,000 iterations);
            # this gives the first login time to reach the worker and start
            # it. Were it over already, the second login would be served
            # and the check below fail.
            time.sleep(0.3)
            st2, hdrs2, cookies2, took2 = login(ngx.port)
            t.join(WAIT)
            why = []
            if "r" not in first:
                why.append("first login: %s" % first.get("e", "did not finish"))
            else:
                st1, _, cookies1, took1 = first["r"]
                if st1 != 200 or not cookies1:
                    why.append("first login answered %d" % st1)
                if took2 >= took1:
                    why.append("the refused login took %.3f s, the check %.3f s" % (took2, took1))
            if st2 != 503 or hdrs2.get("retry-after") != "1":
                why.append("second login: %d, Retry-After %r" % (st2, hdrs2.get("retry-after")))
            st3, _, cookies3, _ = login(ngx.port)
            if st3 != 200 or not cookies3:
                why.append("a login after the first ended: %d" % st3)
            with open(os.path.join(d, "error.log"), errors="replace") as f:
                over = [ln for ln in f if '"reason":"overloaded"' in ln and '"status":503' in ln]
            if len(over) != 1:
                why.append("%d audit lines for the refused check, want 1" % len(over))
            if why:
                not_ok(name, "; ".join(why))
            else:
                ok(name)
        finally:
            ngx.stop()


def check_abort_frees_slot(echo, slow_hash, quick_hash, label, http_extra):
    """login.max_pending 1: a slow login holds the only slot (a quick login
    is refused 503, which shows it), its client closes the socket, and a
    quick login 0.1 s later is served."""
    name = "request: an aborted login gives its slot back at once (%s)" % label
    with tempfile.TemporaryDirectory(prefix="authcore-nginx-abort-") as d:
        os.chmod(d, 0o755)
        ngx = Ngx(d, echo, policy(slow_hash, quick_hash), http_extra)
        try:
            ngx.start()
            body = json.dumps({"username": "slow", "password": PASSWORD}).encode()
            req = (b"POST /login/auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                   b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
                   % (len(body), body))
            why = []
            s = socket.create_connection(("127.0.0.1", ngx.port), timeout=WAIT)
            try:
                s.sendall(req)
                time.sleep(0.1)  # the slow post reaches the worker first
                held = False
                deadline = time.monotonic() + WAIT
                while not held and time.monotonic() < deadline:
                    held = login(ngx.port, user="quick")[0] == 503
                    if not held:
                        time.sleep(0.01)
                t_held = time.monotonic()
            finally:
                s.close()
            time.sleep(0.1)
            st, hdrs, cookies, _ = login(ngx.port, user="quick")
            after = time.monotonic() - t_held
            if not held:
                why.append("the slow check never held the slot")
            if st != 200 or not cookies:
                why.append("a login %.2f s after the abort: %d, Retry-After %r"
                           % (after, st, hdrs.get("retry-after")))
            with open(os.path.join(d, "error.log"), errors="replace") as f:
                text = f.read()
            if "check abandoned" not in text:
                why.append("no log line for the abandoned check")
            if '"login_user":"slow"' in text or '"user":"slow"' in text:
                why.append("the abandoned check ran to a decision")
            if why:
                not_ok(name, "; ".join(why))
            else:
                ok(name)
        finally:
            ngx.stop()


def check_config(echo):
    name = "request: nginx -t refuses the removed authcore_max_pending directive"
    with tempfile.TemporaryDirectory(prefix="authcore-nginx-t-") as d:
        os.chmod(d, 0o755)
        nv.write(os.path.join(d, "policy.json"), policy())
        path = os.path.join(d, "nginx.conf")
        nv.write(path, conf(d, nv.free_port(), echo, "    authcore_max_pending 1;\n"))
        p = subprocess.run([nv.NGINX, "-t", "-p", d, "-c", path], capture_output=True,
                           timeout=WAIT)
        err = p.stderr.decode(errors="replace")
        if p.returncode != 0 and 'unknown directive "authcore_max_pending"' in err:
            ok(name)
        else:
            not_ok(name, "exit %d: %s" % (p.returncode, err[-300:]))


def check_warnings(echo):
    """A policy the core loads but warns about (a rule's role nothing can
    carry): nginx -t accepts it and logs the warning with its JSON path."""
    name = "request: nginx -t logs the policy's warnings with their JSON path"
    pol = {"api_keys": {"keys": [{"name": "ci", "role": "reader", "sha256":
                                  "05bf621417102914e809c1764486094de0038c50820713e55767359e00c45268"}]},
           "rules": [{"path": "/api/*", "role": "reader"}, {"path": "/audit/*", "role": "auditor"}],
           "default": "authenticated"}
    with tempfile.TemporaryDirectory(prefix="authcore-nginx-t-") as d:
        os.chmod(d, 0o755)
        nv.write(os.path.join(d, "policy.json"), json.dumps(pol))
        path = os.path.join(d, "nginx.conf")
        nv.write(path, conf(d, nv.free_port(), echo))
        p = subprocess.run([nv.NGINX, "-t", "-p", d, "-c", path], capture_output=True,
                           timeout=WAIT)
        err = p.stderr.decode(errors="replace")
        if p.returncode == 0 and "[warn]" in err and "warning at $.rules[1].role: " in err:
            ok(name)
        else:
            not_ok(name, "exit %d: %s" % (p.returncode, err[-300:]))


def main():
    def body():
        _, echo = nv.hostkit.start_echo(nv.spawn)
        check_targets(echo)
        check_rewritten(echo)
        check_cache(echo)
        check_config(echo)
        check_warnings(echo)
        slow = nv.hash_password(PASSWORD, SLOW_ITERATIONS)
        check_pending_cap(echo, slow, "thread pool", "")
        check_pending_cap(echo, slow, "event-loop slices", "    authcore_thread_pool off;\n")
        quick = nv.hash_password(PASSWORD, 1000)
        check_abort_frees_slot(echo, slow, quick, "thread pool", "")
        check_abort_frees_slot(echo, slow, quick, "event-loop slices",
                               "    authcore_thread_pool off;\n")
    return nv.run_suite(body, "request suite", tools=[("cli", CLI, "not built (make all)")],
                        catch=(Fail, Stopped, OSError, RuntimeError))


if __name__ == "__main__":
    sys.exit(main())
