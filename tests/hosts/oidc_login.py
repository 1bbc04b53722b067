#!/usr/bin/env python3
"""OpenID Connect sign-in end to end: a real provider (npm oidc-provider
with its own login and consent pages, tests/lib/idp.mjs login), headless
Debian Chromium (playwright-core), and each host (Envoy with the
proxy-wasm filter, Debian's nginx with the module, workerd with the edge
package) in front of an echo upstream that shows the identity it was
handed. For tests/suites/78-oidc.sh.

First the provider alone, as the relying party uses it
(oidckit.provider_checks over HTTP; then Chromium completes its login and
consent for the client and lands on a loopback callback page of ours,
whose code we exchange for an ID token that we verify).

Then per host (AUTHCORE_OIDC_HOSTS, default "envoy nginx workerd"): a fresh
provider whose client allows this host's callback and post-logout URIs,
the host with the policy of oidckit.policy() pointing at it (Envoy: the
fetch cluster named by the issuer's authority; nginx: the README's
authcore_fetch location; workerd: a loopback network service), then
tests/browser/oidc_flow.mjs (the login page's provider button, the
provider's pages, the upstream sees the email, logout through the
provider's confirmation) and oidckit.host_checks (the refusals over HTTP,
each reason read from the host's audit line: Envoy's log, nginx's error
log, the Worker's audit callback; then two sign-ins at once, whose token
requests the provider records: two POSTs, each exactly the core's and
nothing of the client's request). Then the same host once more with the
client secret named by an AUTHCORE_* variable of its environment
(client_secret_env), signed in over HTTP; and for Envoy, a TLS listener:
the redirect URI is https:// and every cookie of the sign-in Secure.

Prints "ok - ..." / "not ok - ...: why" and "# " lines. Loopback only;
every wait is bounded; every process started here is stopped by its PID.
"""
import http.server
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "edge"))
sys.path.insert(0, os.path.join(ROOT, "tests", "lib"))
sys.path.insert(0, os.path.join(ROOT, "tests", "browser"))
sys.path.insert(0, os.path.join(ROOT, "tests", "docs"))
import hostkit  # noqa: E402
import oidckit  # noqa: E402
from checks import failed, ok  # noqa: E402
from envoy_vectors import (START_TIMEOUT, audit_events as envoy_audits, bootstrap,  # noqa: E402
                           default_envoy, listener)
from envoy_jwks import fetch_cluster, ready  # noqa: E402
from jwks_edge import FILES as EDGE_FILES, WORKERD_CONFIG  # noqa: E402  (tests/hosts/edge)
from nginx_jwks import FETCH, INHERITED, SERVER as NGINX_SERVER  # noqa: E402  (the README's fetch location)
from nginx_vectors import audit_events as nginx_audits  # noqa: E402
from run import run_flow  # noqa: E402  (tests/browser/run.py)

WORK = os.path.join(ROOT, "build", "tests", "oidc")
WASM = os.path.join(ROOT, "build", "authcore-proxy.wasm")
NGINX = os.environ.get("AUTHCORE_NGINX", "/usr/sbin/nginx")
NGINX_MODULE = os.path.join(ROOT, "build", "nginx", "ngx_http_authcore_module.so")
EDGE = os.path.join(ROOT, "build", "edge")
WORKERD = os.path.join(ROOT, "node_modules", ".bin", "workerd")
CHROMIUM = os.environ.get("AUTHCORE_CHROMIUM", "/usr/bin/chromium")
PLAYWRIGHT = os.path.join(ROOT, "node_modules", "playwright-core", "package.json")
FLOW = os.path.join(ROOT, "tests", "browser", "oidc_flow.mjs")
FLOW_TIMEOUT = 150
HOSTS = ("envoy", "nginx", "workerd")
PASSWORD = "whatever-the-provider-takes"


def say(line):
    print(line, flush=True)


def tail(text, n=600):
    return " ".join(text.split())[-n:]


# --- the provider alone ------------------------------------------------------

class Callback:
    """A loopback page standing in for a client's redirect URI: answers
    "callback received" and records each query it was sent."""

    def __init__(self):
        self.queries = []
        kit = self

        class H(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                kit.queries.append(urllib.parse.urlsplit(self.path).query)
                body = b"<!doctype html><title>callback</title><p>callback received</p>"
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.httpd.daemon_threads = True
        self.url = "http://127.0.0.1:%d/client/callback" % self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def provider_alone():
    d = os.path.join(WORK, "provider")
    cb = Callback()
    idp = None
    try:
        idp = oidckit.Idp(d, [cb.url], [])
        oidckit.provider_checks("provider", idp, cb.url)
        cfg = idp.configuration()
        verifier, challenge = oidckit.pkce()
        state, nonce = oidckit.b64url(os.urandom(16)), oidckit.b64url(os.urandom(16))
        job = {"kind": "provider", "prefix": "provider chromium", "chromium": CHROMIUM,
               "shots": WORK, "login": "alice", "password": PASSWORD, "callback": cb.url,
               "auth_url": oidckit.auth_url(cfg, cb.url, state, nonce, challenge)}
        run_flow(FLOW, job, "provider chromium", os.path.join(d, "node.err"), FLOW_TIMEOUT)
        probs = []
        if len(cb.queries) != 1:
            probs.append("the callback page was sent %d requests" % len(cb.queries))
        q = dict(urllib.parse.parse_qsl(cb.queries[-1])) if cb.queries else {}
        if q.get("state") != state or not q.get("code"):
            probs.append("callback query %r" % q)
        else:
            st, j = idp.token(q["code"], cb.url, verifier)
            if st != 200 or "id_token" not in j:
                probs.append("token endpoint %d %r" % (st, j))
            else:
                p = oidckit.verify_id_token(j["id_token"], idp.issuer, oidckit.CLIENT_ID)["payload"]
                got = {k: p.get(k) for k in ("sub", "email", "email_verified", "nonce")}
                want = {"sub": "alice", "email": "alice@example.com", "email_verified": True,
                        "nonce": nonce}
                if got != want:
                    probs.append("ID token claims %r, want %r" % (got, want))
        ok("provider chromium: the code Chromium brought to the callback is exchanged for alice's "
           "verified ID token with the request's nonce", "; ".join(probs) or None)
    except Exception as e:  # noqa: BLE001 (a crash is a failure, reported)
        ok("provider: checks ran", repr(e))
    finally:
        if idp is not None:
            idp.stop()
        cb.stop()


# --- hosts: start(d, port_or_socket, policy, echo_port) -> (stop, audits) ---------

def start_envoy(d, port, policy, echo_port, env, tls=None):
    if not os.path.exists(WASM):
        raise RuntimeError("build/authcore-proxy.wasm missing")
    envoy = default_envoy()
    if not envoy:
        raise RuntimeError("Envoy is not installed (make deps)")
    admin = hostkit.free_port()
    # env: the VM's environment (vm_config.environment_variables)
    # tls: (certificate, key) for a TLS listener
    boot = bootstrap(admin, echo_port, listener(port, WASM, json.dumps(policy), env=env or None,
                                                tls=tls))
    # the core's fetches (discovery, token, keys) go to the cluster named
    # as the issuer's authority
    issuer = policy["oidc"]["providers"][0]["issuer"]
    boot["static_resources"]["clusters"].append(fetch_cluster(issuer))
    conf = os.path.join(d, "envoy.json")
    with open(conf, "w") as f:
        json.dump(boot, f, indent=1)
    srv = hostkit.Server([envoy, "-c", conf, "--concurrency", "1", "--use-dynamic-base-id",
                          "--log-level", "info", "--component-log-level", "wasm:debug"],
                         os.path.join(d, "envoy.log"))
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline and srv.proc.poll() is None:
        if ready(admin) and hostkit.wait_port(port, srv.proc, 1):
            return srv.stop, lambda: envoy_audits(srv.log_text())
        time.sleep(0.1)
    text = srv.log_text()
    srv.stop()
    said = [ln[ln.find("authcore: bad policy"):] for ln in text.splitlines()
            if "authcore: bad policy" in ln]  # a refused policy, as the filter says
    raise RuntimeError("Envoy did not start: %s" % tail("\n".join(said[-2:]) or text))


def start_nginx(d, port, policy, echo_port, env):
    if not os.path.exists(NGINX_MODULE):
        raise RuntimeError("build/nginx/ngx_http_authcore_module.so missing")
    os.chmod(d, 0o755)  # workers may run as another user
    pol = os.path.join(d, "policy.json")
    with open(pol, "w") as f:
        json.dump(policy, f)
    conf = os.path.join(d, "nginx.conf")
    with open(conf, "w") as f:
        # env: nginx keeps the variables its configuration lists with `env`
        head = hostkit.NGINX_HEAD.format(workers=1, module=NGINX_MODULE, d=d)
        head = head.replace("events {", "".join("env %s;\n" % n for n in env) + "events {", 1)
        # under server-level proxy_set_header lines the README's fetch
        # location must keep from the provider
        f.write(head + NGINX_SERVER.format(port=port, policy=pol, echo=echo_port,
                                           fetch=INHERITED + FETCH))
    srv = hostkit.Server([NGINX, "-p", d, "-c", conf], os.path.join(d, "nginx.out"),
                         env=dict(os.environ, **env))
    if hostkit.wait_port(port, srv.proc, 10):
        def stop():
            hostkit.stop(srv.proc, signal.SIGQUIT)
            srv.log.close()
        return stop, lambda: nginx_audits(os.path.join(d, "error.log"))
    text = srv.log_text()
    srv.stop()
    raise RuntimeError("nginx did not start: %s %s" % (tail(text), tail(error_log_text(d))))


def error_log_text(d):
    try:
        with open(os.path.join(d, "error.log"), errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def start_workerd(d, sock, policy, echo_port, env):
    """The request tests' Worker (tests/hosts/edge/request_worker.mjs: the
    module in front of an echo; GET /__test/audit answers the audit lines
    the instance wrote since the last call) on the socket we bound; env
    as text bindings, which the Worker hands the module as its env."""
    missing = [f for f in EDGE_FILES if not os.path.exists(os.path.join(EDGE, f))]
    if missing:
        raise RuntimeError("build/edge lacks %s" % ", ".join(missing))
    for f in EDGE_FILES:
        shutil.copy(os.path.join(EDGE, f), d)
    for f in ("request_worker.mjs", "request_app.mjs"):
        shutil.copy(os.path.join(HERE, "edge", f), d)
    with open(os.path.join(d, "policy.json"), "w") as f:
        json.dump(policy, f)
    conf = os.path.join(d, "config.capnp")
    bindings = '(name = "POLICY", text = embed "policy.json")'
    if bindings not in WORKERD_CONFIG:
        raise RuntimeError("jwks_edge.WORKERD_CONFIG has no POLICY binding to add to")
    with open(conf, "w") as f:
        # json.dumps gives a double-quoted string with escapes capnp reads alike
        f.write(WORKERD_CONFIG.replace(bindings, ", ".join(
            [bindings] + ['(name = "%s", text = %s)' % (n, json.dumps(v)) for n, v in env.items()])))
    port = sock.getsockname()[1]
    srv = hostkit.Server([WORKERD, "serve", conf, "--socket-fd", "http=%d" % sock.fileno()],
                         os.path.join(d, "workerd.log"), pass_fds=[sock.fileno()])
    if not hostkit.wait_port(port, srv.proc, 20):
        text = srv.log_text()
        srv.stop()
        raise RuntimeError("workerd did not start: %s" % tail(text))
    seen = []

    def audits():
        st, _, body = oidckit.Agent().get("http://127.0.0.1:%d/__test/audit" % port)
        if st == 200:
            seen.extend(json.loads(body))
        return list(seen)
    return srv.stop, audits


STARTERS = {"envoy": start_envoy, "nginx": start_nginx, "workerd": start_workerd}


def serves(base, timeout=10.0):
    """Waits until the host answers its login page 200 (a Worker that
    refused its policy answers every request 500); RuntimeError if not."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            st, _, body = oidckit.Agent().get(base + oidckit.LOGIN_PAGE)
            if st == 200:
                return
            got = "%d %r" % (st, body[:200])
        except OSError as e:
            got = repr(e)
        if time.monotonic() > deadline:
            raise RuntimeError("the login page answered %s" % got)
        time.sleep(0.2)


SECRET_ENV = "AUTHCORE_OIDC_TEST_SECRET"


def endpoint(host):
    """(what the host's starter takes, base URL): a socket we bound for
    workerd, a free port for the others."""
    if host == "workerd":
        sock = hostkit.listening_socket()
        return sock, "http://127.0.0.1:%d" % sock.getsockname()[1]
    port = hostkit.free_port()
    return port, "http://127.0.0.1:%d" % port


def run_host(host):
    """The host with the provider's client secret in its policy (Chromium,
    then the HTTP checks), then a second one of the same host whose policy
    names the secret by an AUTHCORE_* variable of its environment
    (client_secret_env), signed in over HTTP."""
    d = os.path.join(WORK, host)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(os.path.join(d, "env"))
    stops = []
    idp = None
    ends = [endpoint(host), endpoint(host)]
    try:
        try:
            echo, echo_port = hostkit.start_echo()
            stops.append(lambda: hostkit.stop(echo))
            bases = [b for _, b in ends]
            # token requests answered late: token_posts' two are in flight together
            idp = oidckit.Idp(os.path.join(d, "idp"), [b + oidckit.CALLBACK for b in bases],
                              [b + oidckit.LOGIN_PAGE for b in bases], token_delay_ms=500)
            pol = oidckit.policy(idp.issuer, idp.secret, secrets.token_hex(32))
            stop, audits = STARTERS[host](d, ends[0][0], pol, echo_port, {})
            stops.append(stop)
            serves(bases[0])
        except (RuntimeError, OSError, subprocess.SubprocessError) as e:
            ok("%s: starts with the OIDC policy in front of the echo upstream" % host, str(e))
            return
        base = bases[0]
        say("# %s: on %s, provider %s" % (host, base, idp.issuer))
        job = {"kind": "host", "prefix": host + " chromium", "base": base, "idp": idp.issuer,
               "label": oidckit.LABEL, "login": "alice", "password": PASSWORD,
               "email": "alice@example.com", "roles": ["admin", "viewer"],
               "chromium": CHROMIUM, "shots": WORK}
        run_flow(FLOW, job, host + " chromium", os.path.join(d, "node.err"), FLOW_TIMEOUT)
        # a body on the callback GET: Envoy and nginx pass one to the
        # filter and module (which must not send it on)
        oidckit.host_checks(host, oidckit.Host(base, audits), idp,
                            client_body=host in ("envoy", "nginx"))

        name = "%s: client_secret_env: the secret from an AUTHCORE_* variable of the host's " \
               "environment signs in" % host
        pol = oidckit.policy(idp.issuer, idp.secret, secrets.token_hex(32))
        prov = pol["oidc"]["providers"][0]
        del prov["client_secret"]
        prov["client_secret_env"] = SECRET_ENV
        try:
            stop, audits = STARTERS[host](os.path.join(d, "env"), ends[1][0], pol, echo_port,
                                          {SECRET_ENV: idp.secret})
            stops.append(stop)
            serves(bases[1])
        except (RuntimeError, OSError, subprocess.SubprocessError) as e:
            ok(name, str(e))
            return
        ok(name, oidckit.sign_in(oidckit.Host(bases[1], audits), idp, "bob"))
    finally:
        for s in reversed(stops):
            s()
        if idp is not None:
            idp.stop()
        for where, _ in ends:
            if not isinstance(where, int):
                where.close()  # ours; a started workerd holds its own copy


def envoy_https():
    """Envoy on a TLS listener (a self-signed certificate for 127.0.0.1):
    the scheme the core writes into the redirect URI and its cookies'
    Secure come from the connection."""
    d = os.path.join(WORK, "envoy-https")
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    echo = idp = stop = None
    try:
        try:
            cert, key = hostkit.make_tls_cert(d)
            echo, echo_port = hostkit.start_echo()
            port = hostkit.free_port()
            base = "https://127.0.0.1:%d" % port
            idp = oidckit.Idp(os.path.join(d, "idp"), [base + oidckit.CALLBACK],
                              [base + oidckit.LOGIN_PAGE])
            pol = oidckit.policy(idp.issuer, idp.secret, secrets.token_hex(32))
            stop, audits = start_envoy(d, port, pol, echo_port, {}, tls=(cert, key))
        except (RuntimeError, OSError, subprocess.SubprocessError) as e:
            ok("envoy https: starts with a TLS listener", str(e))
            return
        oidckit.https_checks("envoy https", oidckit.Host(base, audits), idp, cert)
    except Exception as e:  # noqa: BLE001 (a crash is a failure, reported)
        ok("envoy https: checks ran", repr(e))
    finally:
        if stop is not None:
            stop()
        if echo is not None:
            hostkit.stop(echo)
        if idp is not None:
            idp.stop()


def main():
    # `timeout` in the suite sends SIGTERM: unwind so every child is stopped
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(124))
    missing = []
    if not os.access(CHROMIUM, os.X_OK):
        missing.append("%s (Debian chromium; make deps)" % CHROMIUM)
    if not os.path.exists(PLAYWRIGHT):
        missing.append("node_modules/playwright-core (make deps)")
    if not os.path.isdir(os.path.join(ROOT, "node_modules", "oidc-provider")):
        missing.append("node_modules/oidc-provider (make deps)")
    if missing:
        ok("OIDC test prerequisites", "missing %s" % ", ".join(missing))
        return 1
    os.makedirs(WORK, exist_ok=True)
    with open(os.path.join(ROOT, "node_modules", "oidc-provider", "package.json")) as f:
        say("# oidc-provider %s" % json.load(f)["version"])
    provider_alone()
    for host in os.environ.get("AUTHCORE_OIDC_HOSTS", " ".join(HOSTS)).split():
        if host not in STARTERS:
            ok("%s: a known host" % host, "not one of %s" % ", ".join(HOSTS))
            continue
        try:
            run_host(host)
        except Exception as e:  # noqa: BLE001 (a crash is a failure, reported)
            ok("%s: OIDC checks ran" % host, repr(e))
        if host == "envoy":
            envoy_https()
    return 1 if failed() else 0


if __name__ == "__main__":
    sys.exit(main())
