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
    held), and Envoy's log names the cluster the filter looked for.

One worker (--concurrency 1), so the checks' timings meet one key cache.
Loopback only; every wait is bounded; each Envoy and the echo upstream are
stopped by their PID.

Usage: envoy_jwks.py --wasm build/authcore-proxy.wasm --workdir DIR
                     [--envoy PATH]
"""
import argparse
import base64
import http.client
import json
import os
import sys
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


def fetch_cluster(uri):
    """The cluster the filter fetches uri from: named as the URL's
    authority, exactly as written, with the host and port it names."""
    u = urllib.parse.urlsplit(uri)
    return {
        "name": u.netloc, "type": "STATIC", "connect_timeout": "1s",
        "load_assignment": {"cluster_name": u.netloc, "endpoints": [{"lb_endpoints": [{
            "endpoint": {"address": {"socket_address": {
                "address": u.hostname, "port_value": u.port}}}}]}]},
    }


class Envoys:
    """Starts one Envoy per policy (start), each stopped by its own stop."""

    def __init__(self, envoy_bin, wasm, work, echo_port):
        self.envoy_bin, self.wasm, self.work, self.echo_port = envoy_bin, wasm, work, echo_port
        self.count = 0

    def start(self, policy, cluster=True):
        self.count += 1
        tag = "jwks-%d" % self.count
        listen, admin = hostkit.free_port(), hostkit.free_port()
        boot = bootstrap(admin, self.echo_port,
                         listener(listen, self.wasm, json.dumps(policy)))
        if cluster:
            boot["static_resources"]["clusters"].append(
                fetch_cluster(policy["jwt"]["jwks_uri"]))
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


def no_cluster(envoys):
    """A jwks_uri whose cluster is missing: 503 at once, the cluster named
    in the log."""
    port = hostkit.free_port()  # nothing listens; no cluster names it
    uri = "http://127.0.0.1:%d/jwks" % port
    issuer = "http://127.0.0.1:%d" % port
    # well formed, signed by nobody: its keys must be fetched to judge it
    now = int(time.time())
    token = ".".join([b64(json.dumps({"alg": "ES256", "typ": "JWT", "kid": "k1"}).encode()),
                      b64(json.dumps({"iss": issuer, "aud": jwkskit.RESOURCE, "sub": "x",
                                      "iat": now, "exp": now + 300}).encode()),
                      b64(b"\x01" * 64)])
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
        try:
            no_cluster(envoys)
        except Exception as e:  # noqa: BLE001 (a crash is a failure, reported)
            ok("envoy jwks_uri: a missing cluster ran", repr(e))
    finally:
        hostkit.stop(echo)
    return 1 if failed() else 0


if __name__ == "__main__":
    sys.exit(main())
