"""Keys from a JWKS URL ("jwt"."jwks_uri"), end to end in a real host: the
same checks for every host, against a real OpenID Provider on loopback (npm
oidc-provider, started by tests/lib/idp.mjs, its access tokens ES256 JWTs)
and, for the answers a provider should never give, a hostile JWKS server
here.

A host's suite calls run(label, start) where start(policy) starts the host
with that policy (a dict) in front of an app that answers 200 with the
identity it was given, and returns (port, stop): stop() ends what it
started. Checked, in order:

  - a token from the provider passes: the host fetched the provider's JWKS
    on its own (the policy holds no key), and the app sees the user;
  - a forged token (payload changed) and a token of another issuer's key
    are 401, no token is 401 missing_token (never 503);
  - rotation: the provider restarts with a new key; its new tokens pass
    without a restart of the host (the unknown kid refetches), and tokens
    of the dropped key are refused 401;
  - outage: the provider stops; held keys keep serving past ttl until
    ttl + stale_for, then 503 with Retry-After; the provider back, tokens
    pass again;
  - hostile answers, each refused (503: no keys were ever held) within a
    bounded time: too large, chunked and too large, wrong Content-Type,
    a redirect, not JSON, no usable key, private key material, headers
    never sent (slow), a body that never ends; then a good answer from the
    same URL passes;
  - the request the JWKS server receives is the one the core names and
    nothing of the client's: GET of the URL's target with the core's
    Accept, no body, none of the client's Cookie, Authorization,
    X-Forwarded-* or other headers (the client sends all of them);
  - discovery: a policy naming only the issuer finds jwks_uri in the
    provider's /.well-known/openid-configuration, and its tokens pass.

Every wait is bounded; the provider and the hostile server are stopped by
this module."""
import http.client
import http.server
import json
import os
import socket
import ssl
import subprocess
import threading
import time

import hostkit
from checks import ok

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
IDP = os.path.join(HERE, "idp.mjs")
RESOURCE = "urn:authcore:test"
CLIENT = ("authcore-test", "authcore-test-secret")
TTL, STALE_FOR, MIN_INTERVAL, TIMEOUT_MS = 2, 3, 1, 800


def make_keys(path, kid):
    """A private ES256 JWK set for the provider, written to path."""
    out = subprocess.run(["node", IDP, "keys", kid], capture_output=True, text=True,
                         timeout=30, cwd=ROOT, check=True).stdout
    with open(path, "w") as f:
        f.write(out)


class Provider:
    """oidc-provider on a fixed loopback port (restarted on the same port
    to rotate its keys, or stopped for an outage)."""

    def __init__(self, work, port):
        self.work, self.port, self.srv = work, port, None
        self.issuer = "http://127.0.0.1:%d" % port

    def start(self, keys):
        self.stop()
        self.srv = hostkit.Server(["node", IDP, str(self.port), keys], os.path.join(
            self.work, "idp-%d.log" % int(time.time() * 1000)), cwd=ROOT)
        if not hostkit.wait_port(self.port, self.srv.proc, 20):
            raise RuntimeError("oidc-provider did not start: %s" % self.srv.log_text()[-600:])

    def stop(self):
        if self.srv is not None:
            self.srv.stop()
            self.srv = None

    def token(self):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        import base64
        basic = base64.b64encode(("%s:%s" % CLIENT).encode()).decode()
        c.request("POST", "/token", "grant_type=client_credentials&scope=api&resource=" + RESOURCE,
                  {"Authorization": "Basic " + basic,
                   "Content-Type": "application/x-www-form-urlencoded"})
        r = c.getresponse()
        body = r.read()
        c.close()
        if r.status != 200:
            raise RuntimeError("token endpoint: %d %r" % (r.status, body[:200]))
        return json.loads(body)["access_token"]

    def jwks(self):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        c.request("GET", "/jwks")
        r = c.getresponse()
        body = r.read()
        c.close()
        return body


class Hostile:
    """A JWKS server that answers as told (mode): the answers a provider
    should never give, and "good" (the provider's JWKS, kept). tls: (cert
    file, key file) to serve https."""

    def __init__(self, good, tls=None):
        self.mode, self.good = "good", good
        self.requests = []  # (request line, [(name lower-case, value)], body) as received
        kit = self

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def send(self, status, ctype, body, extra=()):
                self.send_response(status)
                if ctype:
                    self.send_header("Content-Type", ctype)
                for k, v in extra:
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def record(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(min(n, 1 << 20)) if n > 0 else b""
                kit.requests.append((self.requestline,
                                     [(k.lower(), v) for k, v in self.headers.items()], body))

            def do_POST(self):
                self.do_GET()

            def do_GET(self):
                self.record()
                m = kit.mode
                jtype = "application/jwk-set+json"
                try:
                    if m == "good":
                        self.send(200, jtype, kit.good)
                    elif m == "big":
                        keys = json.loads(kit.good)["keys"]
                        pad = {"kty": "oct", "use": "enc", "k": "A" * 1000}
                        self.send(200, jtype, json.dumps({"keys": keys + [pad] * 100}).encode())
                    elif m == "big_chunked":
                        self.send_response(200)
                        self.send_header("Content-Type", jtype)
                        self.send_header("Transfer-Encoding", "chunked")
                        self.end_headers()
                        chunk = b" " * 16384
                        for _ in range(16):
                            self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                        self.wfile.write(b"0\r\n\r\n")
                    elif m == "html":
                        self.send(200, "text/html", kit.good)
                    elif m == "redirect":
                        self.send(302, "text/plain", b"moved", [("Location", "/elsewhere")])
                    elif m == "notjson":
                        self.send(200, jtype, b"<html>maintenance</html>")
                    elif m == "nokey":
                        self.send(200, jtype, json.dumps({"keys": [{"kty": "OKP", "crv": "Ed25519",
                                  "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}).encode())
                    elif m == "private":
                        keys = json.loads(kit.good)["keys"]
                        for k in keys:
                            k["d"] = "AAAA"
                        self.send(200, jtype, json.dumps({"keys": keys}).encode())
                    elif m == "slow":
                        time.sleep(3)
                        self.send(200, jtype, kit.good)
                    elif m == "endless":
                        self.send_response(200)
                        self.send_header("Content-Type", jtype)
                        self.send_header("Transfer-Encoding", "chunked")
                        self.end_headers()
                        self.wfile.write(b"1\r\n{\r\n")
                        deadline = time.monotonic() + 5
                        while time.monotonic() < deadline:
                            self.wfile.write(b"1\r\n \r\n")
                            self.wfile.flush()
                            time.sleep(0.05)
                except OSError:
                    pass  # the host gave up: what it should do

        class Quiet(http.server.ThreadingHTTPServer):
            def handle_error(self, request, client_address):
                pass  # a host that hung up on a hostile answer: expected

        self.httpd = Quiet(("127.0.0.1", 0), H)
        if tls is not None:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(*tls)
            self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


# What a client sends that must never reach the provider: its token (in
# Authorization), its cookies, its X-Forwarded-* and any other header.
CLIENT_HEADERS = {"Cookie": "sid=client-cookie-value", "X-Forwarded-For": "203.0.113.77",
                  "X-Forwarded-Host": "client-host.example", "X-Forwarded-Proto": "https",
                  "X-Client-Secret": "client-secret-value"}
# Headers a runtime or proxy adds to any request it sends, beside those the
# core names (none of them carries anything of the client's request).
TRANSPORT = {"host", "connection", "user-agent", "accept-encoding", "accept-language",
             "sec-fetch-mode", "x-envoy-expected-rq-timeout-ms", "x-envoy-internal"}
JWKS_ACCEPT = "application/jwk-set+json, application/json"


def fetch_problems(req, method, target, named, body=b"", secrets=()):
    """What is wrong with one request a provider received (the Hostile's
    record) against the one the core names: method, target, its headers
    (named: [(name, value)], each exactly once), body; beside those, only
    TRANSPORT headers, none holding any of secrets. [] if it is exact."""
    line, hdrs, got_body = req
    probs = []
    parts = line.split(" ")
    if len(parts) != 3 or parts[0] != method or parts[1] != target:
        probs.append("request line %r, want %s %s" % (line, method, target))
    names = [k for k, _ in hdrs]
    for k, v in named:
        got = [hv for hk, hv in hdrs if hk == k.lower()]
        if got != [v]:
            probs.append("%s %r, want %r" % (k, got, v))
    allowed = TRANSPORT | {k.lower() for k, _ in named}
    if body or method not in ("GET", "HEAD"):
        allowed |= {"content-length"}
    extra = sorted(set(n for n in names if n not in allowed))
    if extra:
        probs.append("headers not named by the core: %s" % ", ".join(extra))
    for k, v in hdrs:
        for sec in secrets:
            if sec and sec in v:
                probs.append("the client's %r reached the provider in %s" % (sec[:24], k))
    if got_body != body:
        probs.append("body %r, want %r" % (got_body[:80], body[:80]))
    return probs


def policy(uri, issuer):
    return {
        "jwt": {"jwks_uri": uri, "algorithms": ["ES256"], "issuer": issuer, "audience": RESOURCE,
                "jwks_fetch": {"ttl": TTL, "stale_for": STALE_FOR, "min_interval": MIN_INTERVAL,
                               "timeout_ms": TIMEOUT_MS, "max_bytes": 65536}},
        "default": "authenticated",
    }


def get(port, token=None, timeout=10, extra=None):
    """(status, headers dict lower-case, body bytes, seconds taken)."""
    h = {"Authorization": "Bearer " + token} if token else {}
    h.update(extra or {})
    t = time.monotonic()
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request("GET", "/api/x", headers=h)
        r = c.getresponse()
        body = r.read()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, body, time.monotonic() - t
    finally:
        c.close()


def user_of(body):
    """The user the app was handed (the echo's identity, or its user header)."""
    try:
        j = json.loads(body)
    except ValueError:
        return None
    for k in ("identity", "authcore"):  # the edge echo's, the ASGI scope's
        ident = j.get(k) or {}
        if isinstance(ident, dict) and ident.get("user"):
            return ident["user"]
    hdrs = {k.lower(): v for k, v in (j.get("headers") or {}).items()}
    return hdrs.get("x-authcore-user")


def forge(token):
    """The token with one payload character changed (same header, signature)."""
    h, p, s = token.split(".")
    i = len(p) // 2
    p = p[:i] + ("A" if p[i] != "A" else "B") + p[i + 1:]
    return ".".join([h, p, s])


def expect(label, got, status, user=None, reason_hdr=False, max_s=None):
    st, hdrs, body, took = got
    probs = []
    if st != status:
        probs.append("status %d, want %d (%r)" % (st, status, body[:160]))
    if user is not None and st == 200 and user_of(body) != user:
        probs.append("the app was handed %r, want %r" % (user_of(body), user))
    if reason_hdr and "retry-after" not in hdrs:
        probs.append("no Retry-After")
    if max_s is not None and took > max_s:
        probs.append("took %.2f s, want at most %.1f" % (took, max_s))
    ok(label, "; ".join(probs) or None)


def run(label, start, work):
    os.makedirs(work, exist_ok=True)
    k1, k2 = os.path.join(work, "keys-k1.json"), os.path.join(work, "keys-k2.json")
    make_keys(k1, "k1")
    make_keys(k2, "k2")
    idp = Provider(work, hostkit.free_port())
    hostile = None
    stops = []
    try:
        idp.start(k1)
        port, stop = start(policy(idp.issuer + "/jwks", idp.issuer))
        stops.append(stop)
        t1 = idp.token()
        expect("%s: a token from the provider passes; the host fetched its keys" % label,
               get(port, t1), 200, "authcore-test")
        expect("%s: a forged token is refused" % label, get(port, forge(t1)), 401)
        expect("%s: no token is 401, never a fetch's 503" % label, get(port), 401)

        # rotation: the provider restarts with another key
        idp.start(k2)
        t2 = idp.token()
        good_jwks = idp.jwks()
        expect("%s: rotation: the provider's new key is fetched on its unknown kid, no restart" % label,
               get(port, t2), 200, "authcore-test")
        rotated = time.monotonic()
        expect("%s: rotation: a token of the dropped key is refused" % label, get(port, t1), 401)

        # outage
        idp.stop()
        time.sleep(max(0.0, rotated + TTL + 0.4 - time.monotonic()))
        expect("%s: outage: past ttl the held keys still serve" % label, get(port, t2), 200,
               "authcore-test", max_s=TIMEOUT_MS / 1000 + 2)
        time.sleep(max(0.0, rotated + TTL + STALE_FOR + 0.6 - time.monotonic()))
        expect("%s: outage: past ttl + stale_for, 503 with Retry-After" % label, get(port, t2), 503,
               reason_hdr=True)
        idp.start(k2)
        time.sleep(MIN_INTERVAL + 0.2)
        expect("%s: outage over: tokens pass again" % label, get(port, t2), 200, "authcore-test")
        idp.stop()

        # hostile answers, each on a host that never held keys
        hostile = Hostile(good_jwks)
        port, stop = start(policy("http://127.0.0.1:%d/jwks" % hostile.port, idp.issuer))
        stops.append(stop)
        # the request the provider receives: the core's, none of the client's
        hostile.mode = "nokey"
        got = get(port, t2, extra=CLIENT_HEADERS)
        reqs = list(hostile.requests)
        probs = [] if got[0] == 503 else ["status %d, want 503 (no usable key)" % got[0]]
        if len(reqs) != 1:
            probs.append("%d requests reached the JWKS server, want 1" % len(reqs))
        for r in reqs:
            probs += fetch_problems(r, "GET", "/jwks", [("accept", JWKS_ACCEPT)],
                                    secrets=[t2] + [v for k, v in CLIENT_HEADERS.items()
                                                          if k != "X-Forwarded-Proto"])
        ok("%s: the JWKS server receives exactly the core's request: GET, its Accept, no body, "
           "none of the client's Cookie, Authorization or X-Forwarded-*" % label, "; ".join(probs) or None)
        for mode, what in (("big", "a body over max_bytes"), ("big_chunked", "a chunked body over max_bytes"),
                           ("html", "a wrong Content-Type"), ("redirect", "a redirect"),
                           ("notjson", "a body that is not JSON"), ("nokey", "no usable key"),
                           ("private", "private key material"),
                           ("slow", "headers slower than timeout_ms"),
                           ("endless", "a body that never ends")):
            hostile.mode = mode
            time.sleep(MIN_INTERVAL + 0.1)
            expect("%s: hostile JWKS answer refused: %s (503, bounded)" % (label, what),
                   get(port, t2), 503, reason_hdr=True, max_s=TIMEOUT_MS / 1000 + 1.5)
        hostile.mode = "good"
        time.sleep(MIN_INTERVAL + 0.1)
        expect("%s: then a good answer from the same URL passes" % label, get(port, t2), 200, "authcore-test")

        # discovery: no URL in the policy, only the issuer
        idp.start(k2)
        pol = policy(None, idp.issuer)
        del pol["jwt"]["jwks_uri"]
        pol["jwt"]["discovery"] = True
        port, stop = start(pol)
        stops.append(stop)
        expect("%s: discovery: the keys are found through the issuer's openid-configuration" % label,
               get(port, idp.token()), 200, "authcore-test")
    except Exception as e:  # noqa: BLE001 (a crash is a failure, reported)
        ok("%s: keys from a JWKS URL ran" % label, repr(e))
    finally:
        for s in stops:
            s()
        idp.stop()
        if hostile is not None:
            hostile.stop()
