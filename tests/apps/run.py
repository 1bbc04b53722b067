#!/usr/bin/env python3
"""The seed dashboards behind authcore, for real: tests/suites/77-apps.sh.

Each app (pinned from PyPI in tests/apps/requirements.txt, run from
build/apps-venv with its own auth off and its guide's glue, tests/apps/apps.py)
behind each host: Envoy (build/authcore-proxy.wasm) and Debian's nginx
(build/nginx/ngx_http_authcore_module.so), started as tests/browser/run.py
starts them, and in-process (AuthcoreMiddleware, hosts/python) where the app
is ASGI. The policy is the app's guide's (docs/migrating/<app>.md) as
written, but for its users' password hashes (fresh passwords, 1000 PBKDF2
iterations, so a login costs milliseconds) and, behind a proxy, an
upstream_identity the app verifies (authcore.identity, hosts/python).

Per app and host: the app side refuses a plain x-authcore-user header and
a forged assertion (401) and takes a real one; then flowkit.mjs drives
Chromium through the login, the user's name as the app shows it, the app's
CSRF-protected UI action, a cross-origin POST, sign-out and a viewer's
refused action. taskiq-flow has API keys only (no login page, so no
browser session to drive): its keys, pipeline ACLs, HTTPS redirect and a
WebSocket through the host are checked with an HTTP and a WebSocket
client. Prints "ok - <app> <host>: <check>" lines. Loopback only;
every wait is bounded; every process started here is stopped by its pid.
AUTHCORE_APPS / AUTHCORE_APP_HOSTS pick apps and hosts.
"""
import hashlib
import http.client as httpc
import importlib.util
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "lib"))
sys.path.insert(0, os.path.join(ROOT, "tests", "docs"))
from hostkit import free_port, wait_port  # noqa: E402
from blocks import blocks  # noqa: E402
from checks import report  # noqa: E402

_spec = importlib.util.spec_from_file_location("browser_hosts", os.path.join(ROOT, "tests", "browser", "run.py"))
hosts = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(hosts)

WORK = os.path.join(ROOT, "build", "tests", "apps")
VENV_PY = os.path.join(ROOT, "build", "apps-venv", "bin", "python")
SERVE = os.path.join(HERE, "serve.py")
FLOW = os.path.join(HERE, "flowkit.mjs")
CLI = hosts.CLI
FLOW_TIMEOUT = 150
ASSERT_HEADER = "x-authcore-identity"

# name -> guide, users (admin, viewer) as the guide's policy names them, a
# path the app answers 200 to for any identified user, paths the app leaves
# open, and whether it is ASGI (in-process needs that)
APPS = {
    "fastapi-taskflow": {"guide": "fastapi-taskflow.md", "admin": "alice", "viewer": "bob",
                         "probe": "/tasks", "public": [], "asgi": True},
    "taskito": {"guide": "taskito.md", "admin": "ops", "viewer": "watcher",
                "probe": "/api/stats", "public": ["/health"], "asgi": False},
    # JWT only: the test's token issuer signs in at /admin/login (public in
    # the guide's policy) and sets the token in a cookie, the source the
    # guide adds for browsers
    "asyncmq": {"guide": "asyncmq.md", "admin": "maria", "viewer": "sam", "probe": "/admin/queues",
                "public": ["/admin/login", "/admin/logout", "/admin/static/*", "/admin/assets/*"],
                "asgi": True, "issuer": True},
    # API keys only (no users, no login page, no browser session): checked
    # over HTTP and a WebSocket client, not in the browser
    "taskiq-flow": {"guide": "taskiq-flow.md", "admin": "admin-key", "viewer": "viewer-key",
                    "probe": "/ws/pipelines", "public": [], "asgi": True, "api": True},
}
HOSTS = ("envoy", "nginx", "inproc")

say = hosts.say


def not_ok(prefix, step, why):
    hosts.not_ok(prefix, step, why)


def guide_policy(guide):
    path = os.path.join(ROOT, "docs", "migrating", guide)
    found = [b for b in blocks(path) if b.kind == "policy"]
    if len(found) != 1:
        raise RuntimeError("%s: %d policy blocks, not 1" % (guide, len(found)))
    return json.loads(found[0].text)


def test_policy(spec, mode, hashes, assertion_secret):
    """The guide's policy with this run's users' hashes (API keys' SHA-256),
    and behind a proxy the assertion the app verifies. A policy that
    requires HTTPS trusts loopback's X-Forwarded-Proto: the test's clients
    stand in for the TLS-terminating proxy there."""
    p = guide_policy(spec["guide"])
    for u in p.get("users", []):
        if u["name"] in hashes:
            u["password_hash"] = hashes[u["name"]]
    for k in p.get("api_keys", {}).get("keys", []):
        if k["name"] in hashes:
            k["sha256"] = hashes[k["name"]]
    if spec.get("issuer"):  # docs/migrating/asyncmq.md: browsers hold the token in a cookie
        p["jwt"]["sources"] = [{"header": "authorization", "prefix": "Bearer"},
                               {"cookie": "asyncmq_token", "csrf": True}]
    if p.get("require_https"):
        p["trusted_proxies"] = ["127.0.0.1/32"]
    if mode == "proxy":
        p["upstream_identity"] = {"audience": spec["audience"], "ttl": 60,
                                  "key": {"kid": "apps", "alg": "HS256", "secret": assertion_secret}}
    return json.dumps(p)


def status(port, path, headers=None, method="GET", data=None):
    """The status of one request (redirects not followed)."""
    c = httpc.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        c.request(method, path, body=data, headers=headers or {})
        return c.getresponse().status
    finally:
        c.close()


def assertion(spec, secret, user, roles):
    import jwt  # PyJWT, in the project venv and the apps venv
    now = int(time.time())
    return jwt.encode({"iss": "authcore", "aud": spec["audience"], "sub": user, "roles": roles,
                       "auth": "session", "iat": now, "exp": now + 60}, secret, algorithm="HS256",
                      headers={"kid": "apps"})


def app_side_checks(prefix, spec, port, mode, secret):
    """What reaches the app without the proxy: a plain identity header and a
    forged assertion are refused 401 by the app side; a real one is taken."""
    probe = spec["probe"]
    xfp = {"X-Forwarded-Proto": "https"}  # where the policy requires HTTPS
    forged = assertion(spec, secrets.token_hex(32), spec["admin"], ["admin"])
    st = status(port, probe, dict(xfp, **{"x-authcore-user": spec["admin"], "x-authcore-roles": "admin"}))
    report("%s: a plain x-authcore-user header is refused 401 by the app side" % prefix, st == 401,
           "answered %s" % st)
    st = status(port, probe, dict(xfp, **{ASSERT_HEADER: forged}))
    report("%s: a forged assertion is refused 401 by the app side" % prefix, st == 401, "answered %s" % st)
    if mode == "proxy":
        st = status(port, probe, dict(xfp, **{ASSERT_HEADER: assertion(spec, secret, spec["admin"], ["admin"])}))
        report("%s: an assertion signed with the policy's key is taken (200)" % prefix, st == 200,
               "answered %s" % st)


def api_checks(prefix, port, keys):
    """taskiq-flow through the host: its API keys, pipeline ACLs, HTTPS and
    WebSocket, and the app's /dag and /ws routers given the user."""
    from websockets.sync.client import connect
    from websockets.exceptions import InvalidStatus

    https = {"X-Forwarded-Proto": "https"}
    admin = dict(https, **{"X-API-Key": keys["admin-key"]})
    viewer = dict(https, **{"X-API-Key": keys["viewer-key"]})

    def check(name, got, want):
        report("%s: %s" % (prefix, name), got == want, "%r, not %r" % (got, want))

    check("plain HTTP is redirected to https (308)", status(port, "/pipelines", {"X-API-Key": keys["admin-key"]}), 308)
    check("no key: 401", status(port, "/pipelines", https), 401)
    check("the app's /ws router takes the user authcore gives (its get_current_user override): 200",
          status(port, "/ws/pipelines", admin), 200)
    check("the admin key registers pipeline1 (POST /pipelines/pipeline1): 200",
          status(port, "/pipelines/pipeline1", dict(admin, **{"Content-Type": "application/json"}), "POST", b"[]"), 200)
    listed = body(port, "/pipelines", viewer)
    check("the viewer key lists it", "pipeline1" in [p.get("id") for p in (listed or {}).get("pipelines", [])], True)
    check("the viewer key's POST /pipelines/pipeline1 is refused 403",
          status(port, "/pipelines/pipeline1", dict(viewer, **{"Content-Type": "application/json"}), "POST", b"[]"), 403)
    check("the viewer key's /dag/pipeline2 is refused 403", status(port, "/dag/pipeline2", viewer), 403)
    base = "ws://127.0.0.1:%d" % port

    def ws_refused(path, headers):
        try:
            with connect(base + path, additional_headers=headers, open_timeout=10):
                return "accepted"
        except InvalidStatus as e:
            return e.response.status_code
        except Exception as e:  # noqa: BLE001
            return "%s: %s" % (type(e).__name__, e)

    try:
        with connect(base + "/ws/pipeline1", additional_headers=viewer, open_timeout=10) as ws:
            ws.send("ping")
            count = (body(port, "/ws/clients/pipeline1", admin) or {}).get("client_count")
        check("the viewer key's WebSocket to /ws/pipeline1 opens through the host and the app counts it",
              count, 1)
    except Exception as e:  # noqa: BLE001
        say("not ok - %s: the viewer key's WebSocket to /ws/pipeline1: %s: %s" % (prefix, type(e).__name__, e))
    check("the viewer key's WebSocket to /ws/pipeline2 is refused 403", ws_refused("/ws/pipeline2", viewer), 403)
    check("a WebSocket without a key is refused 401", ws_refused("/ws/pipeline1", https), 401)


def body(port, path, headers):
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path), headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.loads(r.read())
    except (urllib.error.URLError, ValueError):
        return None


def start_app(d, name, job):
    for _ in range(3):
        port = free_port()
        job = dict(job, port=port)
        log = os.path.join(d, "app.log")
        env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
        p = hosts.spawn([VENV_PY, SERVE, json.dumps(job)], log, env=env, cwd=d)
        if wait_port(port, p, 30.0):
            return p, port
        hosts.finish(p)
    raise RuntimeError("%s did not start: %s" % (name, hosts.tail(log)))


def run_one(name, spec, host, users, hashes):
    prefix = "%s %s" % (name, host)
    d = os.path.join(WORK, "%s-%s" % (name, host))
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    mode = "inproc" if host == "inproc" else "proxy"
    secret = secrets.token_hex(24)
    policy = test_policy(spec, mode, hashes, secret)
    with open(os.path.join(d, "policy.json"), "w") as f:
        f.write(policy)
    procs = []
    try:
        try:
            job = {"app": name, "mode": mode}
            if spec.get("issuer"):
                key = json.loads(policy)["jwt"]["keys"][0]
                job["issuer"] = {"secret": key["secret"], "kid": key["kid"], "users": {
                    spec["admin"]: {"password": users[spec["admin"]], "is_admin": True},
                    spec["viewer"]: {"password": users[spec["viewer"]], "is_admin": False}}}
            if mode == "proxy":
                job["identity"] = {"audience": spec["audience"], "secret": secret, "public": spec["public"]}
            else:
                job["policy"] = policy
            app, app_port = start_app(d, name, job)
            procs.append((app, signal.SIGTERM))
            if mode == "proxy":
                proc, port = hosts.STARTERS[host](d, policy, {}, app_port)
                procs.append((proc, signal.SIGQUIT if host == "nginx" else signal.SIGTERM))
            else:
                port = app_port
        except RuntimeError as e:
            not_ok(prefix, "starts", e)
            return
        app_side_checks(prefix, spec, app_port, mode, secret)
        if spec.get("api"):
            api_checks(prefix, port, users)
            return
        job = {"app": name, "host": host, "base": "http://127.0.0.1:%d" % port,
               "admin": {"name": spec["admin"], "password": users[spec["admin"]]},
               "viewer": {"name": spec["viewer"], "password": users[spec["viewer"]]},
               "chromium": hosts.CHROMIUM, "shots": WORK, "login_timeout_ms": 20000}
        hosts.run_flow(FLOW, job, prefix, os.path.join(d, "node.err"), FLOW_TIMEOUT)
    finally:
        for p, sig in reversed(procs):
            hosts.finish(p, sig)


def versions():
    out = subprocess.run([VENV_PY, "-m", "pip", "freeze"], capture_output=True, text=True, timeout=60).stdout
    keep = ("fastapi-taskflow", "taskito", "asyncmq", "taskiq-flow", "fastapi", "uvicorn", "PyJWT")
    pins = [l for l in out.splitlines() if l.split("==")[0] in keep]
    say("# apps: " + " ".join(pins))
    ngx = subprocess.run([hosts.NGINX, "-v"], capture_output=True, text=True, timeout=30).stderr.strip()
    try:
        env = subprocess.run([hosts.envoy_binary(), "--version"], capture_output=True, text=True,
                             timeout=60).stdout.split("version:")[-1].strip()
    except (RuntimeError, OSError) as e:
        env = "not found (%s)" % e
    say("# hosts: %s; Envoy %s" % (ngx, env))


def main():
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(124))
    names = os.environ.get("AUTHCORE_APPS", " ".join(APPS)).split()
    want_hosts = os.environ.get("AUTHCORE_APP_HOSTS", " ".join(HOSTS)).split()
    missing = [m for m, ok in ((VENV_PY + " (make build/apps-venv/.stamp)", os.access(VENV_PY, os.X_OK)),
                               (hosts.CHROMIUM, os.access(hosts.CHROMIUM, os.X_OK)),
                               ("node_modules/playwright-core", os.path.exists(hosts.PLAYWRIGHT)),
                               (CLI, os.access(CLI, os.X_OK))) if not ok]
    if missing:
        say("not ok - apps prerequisites: missing %s" % ", ".join(missing))
        return 1
    os.makedirs(WORK, exist_ok=True)
    versions()
    try:
        for name in names:
            spec = APPS.get(name)
            if spec is None:
                not_ok(name, "known app", "not one of %s" % ", ".join(APPS))
                continue
            spec = dict(spec, audience=name)
            if spec.get("api"):  # API keys: each key's SHA-256
                users = {spec["admin"]: "ak_" + secrets.token_urlsafe(24),
                         spec["viewer"]: "ak_" + secrets.token_urlsafe(24)}
                hashes = {u: hashlib.sha256(k.encode()).hexdigest() for u, k in users.items()}
                say("# %s: API keys only, no login page: no browser session, so no browser flow "
                    "(CSRF and cross-origin refusals concern cookies)" % name)
            else:
                users = {spec["admin"]: secrets.token_urlsafe(12), spec["viewer"]: secrets.token_urlsafe(12)}
                hashes = {u: hosts.hash_password(pw, 1000) for u, pw in users.items()}
            for host in want_hosts:
                if host == "inproc" and not spec["asgi"]:
                    say("# %s: not ASGI, so behind the proxies only (no in-process run)" % name)
                    continue
                if host not in HOSTS:
                    not_ok(name, "known host", "%s is not one of %s" % (host, ", ".join(HOSTS)))
                    continue
                run_one(name, spec, host, users, hashes)
    finally:
        for p in list(hosts.CHILDREN):
            hosts.finish(p)
    return 0


if __name__ == "__main__":
    sys.exit(main())
