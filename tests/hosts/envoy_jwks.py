#!/usr/bin/env python3
"""Keys from a JWKS URL ("jwt"."jwks_uri") in the proxy-wasm filter, in a
real Envoy: the filter pauses the request, fetches the keys with
proxy_dispatch_http_call from the cluster named as the URL's authority
(host:port as jwks_uri writes it), and resumes it with the answer.

Each start(policy) writes an Envoy config with the filter holding that
policy, a route to tests/lib/echo.py, and the fetch cluster: a STATIC
cluster named exactly as the jwks_uri's authority ("127.0.0.1:PORT"),
pointing at that port. tests/lib/jwkskit.py says what is checked (a real
OpenID Provider, rotation, outage, nine hostile answers). Then, here:

  - a jwks_uri with no cluster of that name: a token is answered 503
    jwks_unavailable with Retry-After at once (never let through, never
    held), and Envoy's log names the cluster the filter looked for;
  - one fetch for many: 4 requests that need keys at once, while a slow
    JWKS server (answers after 0.6 s, no usable key) holds the first
    fetch, make one fetch between them; each is answered 503;
  - a client that goes away while its request waits for keys: 3 requests
    at once, 2 of them hung up on after 0.2 s; the third is still
    answered (503) within the fetch's time, one fetch was made, and Envoy
    serves the next request (401 without a token);
  - an https jwks_uri ("https://localhost:PORT/jwks", the provider's keys
    served over TLS with a self-signed certificate) through a cluster
    "localhost:PORT" with a TLS transport socket as the README shows it
    (SNI localhost, the certificate trusted, its DNS name matched): the
    provider's token passes; the same cluster trusting another
    certificate: 503, the keys never taken from an unverified server;
  - an upload larger than Envoy's buffer limit (3 MiB against its 1 MiB
    default) whose token waits for keys (a JWKS server that answers the
    provider's keys after 0.6 s): it waits under flow control, is allowed,
    and reaches the app whole (never 413 while the request is paused).

One worker (--concurrency 1), so the checks' timings meet one key cache.
Loopback only; every wait is bounded; each Envoy and the echo upstream are
stopped by their PID.

Usage: envoy_jwks.py --wasm build/authcore-proxy.wasm --workdir DIR
                     [--envoy PATH]
"""
import argparse
import base64
import http.client
import http.server
import json
import os
import socket
import sys
import threading
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "lib"))
from envoy_vectors import START_TIMEOUT, bootstrap, listener, runner_args  # noqa: E402
import hostkit  # noqa: E402
import jwkskit  # noqa: E402
from checks import failed, ok  # noqa: E402


def fetch_cluster(uri, ca=None):
    """The cluster the filter fetches uri from: named as the URL's
    authority, exactly as written, its port on 127.0.0.1. ca: TLS to it,
    with SNI the URL's host, trusting the certificate file ca and matching
    the host among its DNS names (hosts/proxy-wasm/README.md's cluster)."""
    u = urllib.parse.urlsplit(uri)
    c = {
        "name": u.netloc, "type": "STATIC", "connect_timeout": "1s",
        "load_assignment": {"cluster_name": u.netloc, "endpoints": [{"lb_endpoints": [{
            "endpoint": {"address": {"socket_address": {
                "address": "127.0.0.1", "port_value": u.port}}}}]}]},
    }
    if ca:
        c["transport_socket"] = {
            "name": "envoy.transport_sockets.tls",
            "typed_config": {
                "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3."
                         "UpstreamTlsContext",
                "sni": u.hostname,
                "common_tls_context": {"validation_context": {
                    "trusted_ca": {"filename": ca},
                    "match_typed_subject_alt_names": [{
                        "san_type": "DNS", "matcher": {"exact": u.hostname}}]}}}}
    return c


class Envoys:
    """Starts one Envoy per policy (start), each stopped by its own stop."""

    def __init__(self, envoy_bin, wasm, work, echo_port):
        self.envoy_bin, self.wasm, self.work, self.echo_port = envoy_bin, wasm, work, echo_port
        self.count = 0

    def start(self, policy, cluster=True, ca=None):
        self.count += 1
        tag = "jwks-%d" % self.count
        listen, admin = hostkit.free_port(), hostkit.free_port()
        boot = bootstrap(admin, self.echo_port,
                         listener(listen, self.wasm, json.dumps(policy)))
        if cluster:
            # the keys' URL, or with discovery the issuer's (the provider's
            # configuration and keys share its authority here)
            jwt = policy["jwt"]
            boot["static_resources"]["clusters"].append(
                fetch_cluster(jwt.get("jwks_uri") or jwt["issuer"], ca))
        config = os.path.join(self.work, "envoy-%s.json" % tag)
        with open(config, "w") as f:
            json.dump(boot, f, indent=1)
        srv = hostkit.Server([self.envoy_bin, "-c", config, "--concurrency", "1",
                              "--use-dynamic-base-id", "--log-level", "info",
                              "--component-log-level", "wasm:debug"],
                             os.path.join(self.work, "envoy-%s.log" % tag))
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if srv.proc.poll() is not None:
                break
            if ready(admin) and hostkit.wait_port(listen, srv.proc, 1):
                return listen, srv
            time.sleep(0.1)
        tail = srv.log_text()[-800:]
        srv.stop()
        raise RuntimeError("envoy did not start: %s" % tail)


def ready(admin):
    try:
        c = http.client.HTTPConnection("127.0.0.1", admin, timeout=1)
        c.request("GET", "/ready")
        live = c.getresponse().status == 200
        c.close()
        return live
    except OSError:
        return False


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned_token(issuer):
    """Well formed, signed by nobody: its keys must be fetched to judge it."""
    now = int(time.time())
    return ".".join([b64(json.dumps({"alg": "ES256", "typ": "JWT", "kid": "k1"}).encode()),
                     b64(json.dumps({"iss": issuer, "aud": jwkskit.RESOURCE, "sub": "x",
                                     "iat": now, "exp": now + 300}).encode()),
                     b64(b"\x01" * 64)])


NO_USABLE_KEY = json.dumps({"keys": [{"kty": "OKP", "crv": "Ed25519",
                                      "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}).encode()


class SlowJwks:
    """Answers every GET after `delay` seconds with `body` (by default a
    JWKS that has no usable key), and counts the GETs."""

    def __init__(self, delay, body=NO_USABLE_KEY):
        self.gets, kit = 0, self
        self.lock = threading.Lock()

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_GET(self):
                with kit.lock:
                    kit.gets += 1
                time.sleep(delay)
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:
                    pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def count(self):
        with self.lock:
            return self.gets

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def at_once(listen, token, n, hang_up=0, hang_after=0.2):
    """n requests with token at once, each on its own connection; the
    first hang_up of them are closed after hang_after seconds. Returns
    the others' (status, seconds) or an exception text."""
    out = [None] * n

    def one(i):
        t = time.monotonic()
        try:
            if i < hang_up:
                s = socket.create_connection(("127.0.0.1", listen), timeout=5)
                s.sendall(("GET /api/x HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                           "Authorization: Bearer %s\r\n\r\n" % token).encode())
                time.sleep(hang_after)
                s.close()
                out[i] = ("hung up", 0.0)
                return
            st = jwkskit.get(listen, token)[0]
            out[i] = (st, time.monotonic() - t)
        except (OSError, http.client.HTTPException) as e:
            out[i] = (repr(e), time.monotonic() - t)

    ts = [threading.Thread(target=one, args=(i,), daemon=True) for i in range(n)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(15)
    return out[hang_up:]


def one_fetch(envoys):
    """Requests that need keys while a fetch is in flight share it; a
    client that hangs up while waiting leaves the others answered."""
    jwks = SlowJwks(0.6)
    issuer = "http://127.0.0.1:%d" % jwks.port
    listen, srv = envoys.start(jwkskit.policy(issuer + "/jwks", issuer))
    try:
        token = unsigned_token(issuer)
        got = at_once(listen, token, 4)
        probs = ["%r" % (g,) for g in got if g is None or g[0] != 503 or g[1] > 3]
        if jwks.count() != 1:
            probs.append("%d fetches, want 1" % jwks.count())
        ok("envoy jwks_uri: 4 requests needing keys at once share one fetch, each answered 503",
           "; ".join(probs) or None)

        time.sleep(jwkskit.MIN_INTERVAL + 0.2)  # the failed fetch's min_interval
        before = jwks.count()
        got = at_once(listen, token, 3, hang_up=2)
        probs = ["%r" % (g,) for g in got if g is None or g[0] != 503 or g[1] > 3]
        if jwks.count() - before != 1:
            probs.append("%d fetches, want 1" % (jwks.count() - before))
        time.sleep(0.5)
        st = jwkskit.get(listen)[0]
        if st != 401:
            probs.append("the next request: %d, want 401" % st)
        if srv.proc.poll() is not None:
            probs.append("Envoy exited")
        ok("envoy jwks_uri: clients that hang up while waiting for keys: the one left is "
           "answered, one fetch, Envoy serves on", "; ".join(probs) or None)
    finally:
        srv.stop()
        jwks.stop()


def https_cluster(envoys, work):
    """An https jwks_uri through a TLS cluster: the keys come over a
    verified connection, and only over one."""
    d = os.path.join(work, "https")
    other = os.path.join(d, "other")
    os.makedirs(other, exist_ok=True)
    cert, key = hostkit.make_tls_cert(d)
    wrong_ca, _ = hostkit.make_tls_cert(other)
    keys = os.path.join(d, "keys-t1.json")
    jwkskit.make_keys(keys, "t1")
    idp = jwkskit.Provider(d, hostkit.free_port())
    tls = None
    try:
        idp.start(keys)
        token, good = idp.token(), idp.jwks()
        idp.stop()  # the keys come from the TLS server only
        tls = jwkskit.Hostile(good, tls=(cert, key))
        uri = "https://localhost:%d/jwks" % tls.port
        for ca, want, what in ((cert, 200, "the provider's token passes"),
                               (wrong_ca, 503, "a cluster that does not trust the server: 503")):
            listen, srv = envoys.start(jwkskit.policy(uri, idp.issuer), ca=ca)
            try:
                jwkskit.expect("envoy jwks_uri: https through a TLS cluster named localhost:PORT: "
                               + what, jwkskit.get(listen, token), want,
                               "authcore-test" if want == 200 else None,
                               reason_hdr=want == 503)
            finally:
                srv.stop()
    finally:
        idp.stop()
        if tls is not None:
            tls.stop()


def provider_keys(work, kid):
    """A token of a real provider and its JWKS; the provider is stopped
    again (the keys come from a server of the check's own)."""
    keys = os.path.join(work, "keys-%s.json" % kid)
    jwkskit.make_keys(keys, kid)
    idp = jwkskit.Provider(work, hostkit.free_port())
    try:
        idp.start(keys)
        return idp.issuer, idp.token(), idp.jwks()
    finally:
        idp.stop()


def big_upload(envoys, work):
    """A body past Envoy's buffer limit while the request waits for keys."""
    d = os.path.join(work, "upload")
    os.makedirs(d, exist_ok=True)
    issuer, token, good = provider_keys(d, "u1")
    jwks = SlowJwks(0.6, good)
    listen, srv = envoys.start(jwkskit.policy("http://127.0.0.1:%d/jwks" % jwks.port, issuer))
    size = 3 * 1024 * 1024
    try:
        c = http.client.HTTPConnection("127.0.0.1", listen, timeout=10)
        try:
            c.request("POST", "/api/upload", body=b"u" * size,
                      headers={"Authorization": "Bearer " + token,
                               "Content-Type": "application/octet-stream"})
            r = c.getresponse()
            st, body = r.status, r.read()
        finally:
            c.close()
        probs = []
        if st != 200:
            probs.append("status %d (%r), want 200" % (st, body[:120]))
        else:
            seen = json.loads(body).get("headers", {})
            if seen.get("x-authcore-user") != "authcore-test" or \
                    seen.get("content-length") != str(size):
                probs.append("the app saw user %r, content-length %r" % (
                    seen.get("x-authcore-user"), seen.get("content-length")))
        if jwks.count() != 1:
            probs.append("%d fetches, want 1" % jwks.count())
        ok("envoy jwks_uri: a 3 MiB upload whose token waits for keys reaches the app whole, "
           "never 413", "; ".join(probs) or None)
    finally:
        srv.stop()
        jwks.stop()


def no_cluster(envoys):
    """A jwks_uri whose cluster is missing: 503 at once, the cluster named
    in the log."""
    port = hostkit.free_port()  # nothing listens; no cluster names it
    uri = "http://127.0.0.1:%d/jwks" % port
    issuer = "http://127.0.0.1:%d" % port
    token = unsigned_token(issuer)
    listen, srv = envoys.start(jwkskit.policy(uri, issuer), cluster=False)
    try:
        st, hdrs, body, took = jwkskit.get(listen, token)
        probs = []
        if st != 503 or "retry-after" not in hdrs:
            probs.append("status %d (%r), want 503 with Retry-After" % (st, body[:120]))
        if took > 2:
            probs.append("took %.2f s" % took)
        want = 'the cluster "127.0.0.1:%d"' % port
        deadline = time.monotonic() + 3
        while want not in srv.log_text() and time.monotonic() < deadline:
            time.sleep(0.1)
        if want not in srv.log_text():
            probs.append("Envoy's log does not name the cluster 127.0.0.1:%d" % port)
        ok("envoy jwks_uri: no cluster named as the URL's authority: 503 with Retry-After "
           "at once, the log names the cluster", "; ".join(probs) or None)
    finally:
        srv.stop()


def main():
    ap = argparse.ArgumentParser()
    args, envoy_bin = runner_args(ap)
    if not envoy_bin:
        return 1
    wasm = os.path.abspath(args.wasm)
    echo, echo_port = hostkit.start_echo()
    envoys = Envoys(envoy_bin, wasm, args.workdir, echo_port)
    try:
        def start(policy):
            listen, srv = envoys.start(policy)
            return listen, srv.stop

        jwkskit.run("envoy jwks_uri", start, os.path.join(args.workdir, "kit"))
        for check in (no_cluster, one_fetch, https_cluster, big_upload):
            try:
                if check in (https_cluster, big_upload):
                    check(envoys, args.workdir)
                else:
                    check(envoys)
            except Exception as e:  # noqa: BLE001 (a crash is a failure, reported)
                ok("envoy jwks_uri: %s ran" % check.__name__, repr(e))
    finally:
        hostkit.stop(echo)
    return 1 if failed() else 0


if __name__ == "__main__":
    sys.exit(main())
