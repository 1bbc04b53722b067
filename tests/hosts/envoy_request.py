#!/usr/bin/env python3
"""The request as the filter hands it to the core, in a real Envoy (V8):
what the client cannot choose.

One Envoy with two listeners in front of tests/lib/echo.py, both with the
same filter and policy: plain TCP (HTTP/1.1, and HTTP/2 with prior
knowledge) and TLS (a self-signed certificate openssl makes here for
authcore.test; HTTP/1.1 and HTTP/2 by ALPN). The policy's login answers a
successful post with a session cookie that is `Secure` exactly when the
core was told the connection is TLS, so the cookie shows what the filter
passed as `https`. Checks:
 - over plain TCP the cookies are never Secure, whatever the client says:
   HTTP/1.1 with `X-Forwarded-Proto: https`, HTTP/2 with `:scheme: https`;
 - over TLS they are Secure, HTTP/1.1 (with `X-Forwarded-Proto: http`)
   and HTTP/2 alike.
HTTP/2 frames come from the h2 package (PyPI), so the pseudo-headers are
exactly the ones written here.

Then the filter's side of a decision that rewrites the request, on a test
build (--hook-wasm, `make build/tests/authcore-proxy-hook.wasm`): the
shipped filter source with its ac_decide call wrapped by
tests/hosts/envoy_hook.c, where request headers ask for a rewritten path
or a consumed cookie after the real decision (until the core makes such
decisions for a policy, this is how they reach the filter):
 - path_rewritten: the upstream gets the decision's path and query, not
   the request's (and, without the ask, the request's);
 - remove then add of one name: Cookie, sent as one header (HTTP/1.1) and
   as two header fields (HTTP/2), reaches the upstream as the core's value
   only;
 - the filter hands each decision its root's cache of verified signatures:
   the same RS256 token three times is checked once (the hook reports the
   cache's lookups, hits and checks upstream), a forgery sharing its
   header.payload is checked and refused while it is cached, and the token
   still hits afterwards.

Prints TAP-like lines. Loopback only; every wait is bounded; Envoy and the
upstream are always stopped.

Usage: envoy_request.py --wasm build/authcore-proxy.wasm --workdir DIR
                        [--envoy PATH]
"""
import argparse
import http.client
import json
import os
import socket
import ssl
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from envoy_vectors import bootstrap, listener, runner_args  # noqa: E402
from hostkit import free_port, start_echo, stop  # noqa: E402
import authformats  # noqa: E402
import vectors  # noqa: E402

import h2.config  # noqa: E402
import h2.connection  # noqa: E402
import h2.events  # noqa: E402

HOST = "authcore.test"
PASSWORD = "tls or not tls"
FORM = "username=alice&password=" + PASSWORD.replace(" ", "+") + "&next=/app/home"
TIMEOUT = 10.0


def policy():
    return json.dumps({
        "realm": "app",
        "sessions": {"keys": [{"kid": "s1",
                               "secret": "request-test-session-key-0123456789abcdef"}],
                     "cookie": "app_session", "csrf_cookie": "app_csrf", "ttl": 3600},
        "users": [{"name": "alice",
                   "password_hash": authformats.phc_pbkdf2_sha256(PASSWORD, 1000),
                   "roles": ["viewer"]}],
        "login": {"prefix": "/app", "attempts": "50 per 10 minutes"},
        "public": ["/open/*"],
        "jwt": {"keys": [{"alg": "RS256", "pem": RSA_PUB}]},
        "default": "authenticated",
    })


with open(os.path.join(vectors.ROOT, "tests", "vectors", "keys", "rsa.pub.pem")) as _f:
    RSA_PUB = _f.read()


def make_cert(workdir):
    """A self-signed P-256 certificate for authcore.test: (cert, key) paths."""
    cert, key = os.path.join(workdir, "tls.crt"), os.path.join(workdir, "tls.key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-days", "2", "-subj",
                    "/CN=" + HOST, "-addext", "subjectAltName=DNS:" + HOST,
                    "-keyout", key, "-out", cert], check=True, capture_output=True,
                   timeout=30)
    return cert, key


def tls_listener(port, wasm, policy_text, cert, key):
    lst = listener(port, wasm, policy_text)
    lst["name"] = "authcore-tls"
    lst["filter_chains"][0]["transport_socket"] = {
        "name": "envoy.transport_sockets.tls",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3."
                     "DownstreamTlsContext",
            "common_tls_context": {
                "alpn_protocols": ["h2", "http/1.1"],
                "tls_certificates": [{"certificate_chain": {"filename": cert},
                                      "private_key": {"filename": key}}]}}}
    return lst


class TwoListenerEnvoy:
    """One Envoy: a plain and a TLS listener, the same filter on both."""

    def __init__(self, envoy_bin, workdir, wasm, policy_text, echo_port, cert, key,
                 tag="request"):
        self.plain_port, self.tls_port, self.admin_port = free_port(), free_port(), free_port()
        plain = listener(self.plain_port, wasm, policy_text)
        plain["name"] = "authcore-plain"
        boot = bootstrap(self.admin_port, echo_port)
        boot["static_resources"]["listeners"] = [
            plain, tls_listener(self.tls_port, wasm, policy_text, cert, key)]
        self.config = os.path.join(workdir, "envoy-%s.json" % tag)
        self.log = os.path.join(workdir, "envoy-%s.log" % tag)
        with open(self.config, "w") as f:
            json.dump(boot, f, indent=1)
        self.stdio = open(os.path.join(workdir, "envoy-%s.stdio" % tag), "wb")
        self.proc = subprocess.Popen(
            [envoy_bin, "-c", self.config, "--concurrency", "1", "--use-dynamic-base-id",
             "--log-level", "info", "--log-path", self.log],
            stdout=self.stdio, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True)

    def wait(self, timeout=30.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return "exited"
            try:
                c = http.client.HTTPConnection("127.0.0.1", self.admin_port, timeout=1)
                c.request("GET", "/ready")
                live = c.getresponse().status == 200
                c.close()
                if live:
                    for p in (self.plain_port, self.tls_port):
                        socket.create_connection(("127.0.0.1", p), timeout=1).close()
                    return "ready"
            except OSError:
                pass
            time.sleep(0.1)
        return "timeout"

    def log_tail(self, n=5):
        try:
            with open(self.log, errors="replace") as f:
                lines = [ln for ln in f.read().splitlines() if ln.strip()]
        except OSError:
            lines = []
        return " | ".join(ln[-200:] for ln in lines[-n:])

    def close(self):
        stop(self.proc)
        if not self.stdio.closed:
            self.stdio.close()


def client_tls(alpn):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # self-signed, loopback
    ctx.set_alpn_protocols([alpn])
    return ctx


def http1(port, headers, tls=False):
    """A login post over HTTP/1.1: (status, [Set-Cookie])."""
    if tls:
        conn = http.client.HTTPSConnection("127.0.0.1", port, timeout=TIMEOUT,
                                           context=client_tls("http/1.1"))
    else:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
    try:
        conn.putrequest("POST", "/app/auth/login", skip_host=True, skip_accept_encoding=True)
        conn.putheader("Host", HOST)
        conn.putheader("Content-Type", "application/x-www-form-urlencoded")
        for n, v in headers:
            conn.putheader(n, v)
        conn.putheader("Content-Length", str(len(FORM)))
        conn.endheaders(FORM.encode())
        resp = conn.getresponse()
        resp.read()
        return resp.status, [v for k, v in resp.getheaders() if k.lower() == "set-cookie"]
    finally:
        conn.close()


def http2(port, scheme, tls=False):
    """A login post over HTTP/2 (prior knowledge on plain TCP, ALPN h2 on
    TLS) with this :scheme: (status, [Set-Cookie])."""
    status, headers, _ = h2_exchange(
        port, scheme, "POST", "/app/auth/login",
        [("content-type", "application/x-www-form-urlencoded")], FORM.encode(), tls)
    return status, [v for n, v in headers if n == "set-cookie"]


def h2_exchange(port, scheme, method, path, headers, body=b"", tls=False):
    """One HTTP/2 request (prior knowledge on plain TCP, ALPN h2 on TLS),
    header fields exactly as given: (status, [(name, value)], body)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
    if tls:
        sock = client_tls("h2").wrap_socket(sock, server_hostname=HOST)
        if sock.selected_alpn_protocol() != "h2":
            sock.close()
            raise OSError("TLS listener did not select h2")
    conn = h2.connection.H2Connection(h2.config.H2Configuration(
        client_side=True, header_encoding="utf-8"))
    try:
        conn.initiate_connection()
        sid = conn.get_next_available_stream_id()
        fields = [(":method", method), (":scheme", scheme), (":authority", HOST),
                  (":path", path)] + list(headers)
        if body:
            conn.send_headers(sid, fields + [("content-length", str(len(body)))])
            conn.send_data(sid, body, end_stream=True)
        else:
            conn.send_headers(sid, fields, end_stream=True)
        sock.sendall(conn.data_to_send())
        status, got, data_in = None, [], b""
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            data = sock.recv(65536)
            if not data:
                break
            for ev in conn.receive_data(data):
                if isinstance(ev, h2.events.ResponseReceived) and ev.stream_id == sid:
                    for n, v in ev.headers:
                        if n == ":status":
                            status = int(v)
                        else:
                            got.append((n, v))
                elif isinstance(ev, h2.events.DataReceived):
                    data_in += ev.data
                    conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
                elif isinstance(ev, (h2.events.StreamEnded, h2.events.StreamReset)) \
                        and ev.stream_id == sid:
                    return status, got, data_in
            sock.sendall(conn.data_to_send())
        raise OSError("no complete HTTP/2 answer")
    finally:
        sock.close()


def echo_seen(status, headers, body):
    """(path, headers) the echo upstream saw, or None if it did not answer."""
    if status != 200 or dict(headers).get("x-echo") != "1":
        return None
    try:
        doc = json.loads(body)
        return doc["path"], doc["headers"]
    except (ValueError, KeyError):
        return None


def h1_get(port, path, headers):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
    try:
        conn.putrequest("GET", path, skip_host=True, skip_accept_encoding=True)
        conn.putheader("Host", HOST)
        for n, v in headers:
            conn.putheader(n, v)
        conn.endheaders()
        resp = conn.getresponse()
        body = resp.read()
        return resp.status, [(k.lower(), v) for k, v in resp.getheaders()], body
    finally:
        conn.close()


RAW = "/open/raw?access_token=t0p&x=1"
CANONICAL = "/open/raw?x=1"


def rewrite_cases(port):
    """(name, problems) for the hook build's checks."""
    out = []
    seen = echo_seen(*h1_get(port, RAW, [("X-Test-Forward-Path", CANONICAL)]))
    want = CANONICAL
    out.append(("path_rewritten: the upstream gets the decision's path and query",
                ["upstream did not answer"] if seen is None else
                [] if seen[0] == want else ["upstream path %r, want %r" % (seen[0], want)]))
    seen = echo_seen(*h1_get(port, RAW, []))
    out.append(("without path_rewritten the upstream gets the request's target",
                ["upstream did not answer"] if seen is None else
                [] if seen[0] == RAW else ["upstream path %r, want %r" % (seen[0], RAW)]))
    seen = echo_seen(*h1_get(port, "/open/c1", [
        ("Cookie", "session=consumed; other=1"), ("X-Test-Consume-Cookie", "other=1")]))
    out.append(("HTTP/1.1: Cookie removed then added reaches the upstream as the "
                "core's value only", ["upstream did not answer"] if seen is None else
                [] if seen[1].get("cookie") == "other=1" else
                ["upstream cookie %r, want 'other=1'" % seen[1].get("cookie")]))
    seen = echo_seen(*h2_exchange(port, "http", "GET", "/open/c2", [
        ("cookie", "session=consumed"), ("cookie", "other=1"),
        ("x-test-consume-cookie", "other=1")]))
    out.append(("HTTP/2: two cookie fields removed then one added reach the upstream "
                "as the core's value only", ["upstream did not answer"] if seen is None else
                [] if seen[1].get("cookie") == "other=1" else
                ["upstream cookie %r, want 'other=1'" % seen[1].get("cookie")]))
    return out


def cache_cases(port):
    """(name, problems) for the signature cache through the hook build."""
    tok = vectors.mint({"alg": "RS256", "key": "rsa", "claims": {"sub": "alice", "exp": "+3600"}},
                       {}, int(time.time()), {"rsa": "keys/rsa.pem"})
    forged = vectors.token_from({"case": "t", "mutate": "flip_signature"}, {"t": tok})
    ask = [("X-Test-Cache-Counts", "1")]
    seen = []
    for t in (tok, tok, tok, forged, tok):
        status, headers, body = h1_get(port, "/data", [("Authorization", "Bearer " + t)] + ask)
        up = echo_seen(status, headers, body)
        seen.append((status, up[1].get("x-test-cache-seen") if up else None))
    want = [(200, "1,0,1"), (200, "2,1,1"), (200, "3,2,1"), (401, None), (200, "5,3,2")]
    return [("the same RS256 token three times: one signature check, the same answer; "
             "a forgery of it refused while it is cached, then the token hits again",
             [] if seen == want else ["(status, lookups,hits,checks) %r, want %r" % (seen, want)])]


def secure_problems(status, cookies, want_secure):
    if status != 303:
        return ["login status %s, want 303" % status]
    if len(cookies) != 2:
        return ["%d Set-Cookie, want 2: %r" % (len(cookies), cookies)]
    bad = [c for c in cookies if ("; Secure" in c) != want_secure]
    if bad:
        return ["%s: %r" % ("not Secure" if want_secure else "Secure over plain TCP", bad)]
    return []


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--hook-wasm")
    args, envoy_bin = runner_args(ap, old_logs=("request", "hook"))
    if not envoy_bin:
        return 1
    cert, key = make_cert(args.workdir)
    wasm = os.path.abspath(args.wasm)
    cases = [
        ("plain HTTP/1.1 with X-Forwarded-Proto: https: cookies not Secure",
         lambda e: http1(e.plain_port, [("X-Forwarded-Proto", "https")]), False),
        ("plain HTTP/2 with :scheme https: cookies not Secure",
         lambda e: http2(e.plain_port, "https"), False),
        ("TLS HTTP/1.1 with X-Forwarded-Proto: http: cookies Secure",
         lambda e: http1(e.tls_port, [("X-Forwarded-Proto", "http")], tls=True), True),
        ("TLS HTTP/2 (ALPN h2): cookies Secure",
         lambda e: http2(e.tls_port, "https", tls=True), True),
    ]
    echo, echo_port = start_echo()
    envoy, rc = None, 0
    try:
        envoy = TwoListenerEnvoy(envoy_bin, args.workdir, wasm, policy(), echo_port,
                                 cert, key)
        state = envoy.wait()
        if state != "ready":
            print("not ok - envoy request: envoy %s: %s" % (state, envoy.log_tail()),
                  flush=True)
            return 1
        for name, send, secure in cases:
            try:
                status, cookies = send(envoy)
                probs = secure_problems(status, cookies, secure)
            except (OSError, http.client.HTTPException, ssl.SSLError) as e:
                probs = ["request failed: %s" % e]
            print("not ok - envoy: %s: %s" % (name, "; ".join(probs)) if probs else
                  "ok - envoy: %s" % name, flush=True)
            rc |= bool(probs)
        envoy.close()
        if args.hook_wasm:
            envoy = TwoListenerEnvoy(envoy_bin, args.workdir, os.path.abspath(args.hook_wasm),
                                     policy(), echo_port, cert, key, tag="hook")
            state = envoy.wait()
            if state != "ready":
                print("not ok - envoy request (hook build): envoy %s: %s"
                      % (state, envoy.log_tail()), flush=True)
                return 1
            try:
                results = rewrite_cases(envoy.plain_port) + cache_cases(envoy.plain_port)
            except (OSError, http.client.HTTPException) as e:
                results = [("rewrites (hook build)", ["request failed: %s" % e])]
            for name, probs in results:
                print("not ok - envoy: %s: %s" % (name, "; ".join(probs)) if probs else
                      "ok - envoy: %s" % name, flush=True)
                rc |= bool(probs)
    finally:
        if envoy is not None:
            envoy.close()
        stop(echo)
    return 1 if rc else 0


if __name__ == "__main__":
    sys.exit(main())
