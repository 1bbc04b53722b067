"""Decision vectors through Debian's nginx with the authcore dynamic module.

For each vector file: starts /usr/sbin/nginx (foreground, loopback only) with
the file's policy in front of tests/lib/echo.py and the file's environment
(listed with `env` so nginx keeps it), sends every case over HTTP exactly as
written (raw path, headers in order, duplicates kept, the body if any) and
checks status, response headers (every Set-Cookie), the body and the headers
the upstream saw, and the reason code read from the audit line the module
logs in error.log for the request (the product's own output; none for an
allow the policy's "audit" leaves out). Each request
carries a unique x-test-request-id that the echo upstream records: an allowed
case must have reached it exactly once, a refused one never (per case, and
again for the whole file once nginx has stopped). Cases with "https": true go
to a second `listen ... ssl` of the same server (a self-signed certificate
made with openssl for 127.0.0.1; the runner verifies it). The cases of a file
run in order against one nginx, so against one shared ac_state. Also checks
`authcore_policy off;`, and that `nginx -t` refuses bad policies naming the
JSON path.

Prints "ok - ...", "not ok - ...: why" or "skip - ...: why" per check.
Usage: python3 nginx_vectors.py [MODULE.so]
"""
import http.client
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "lib"))
import vectors  # noqa: E402
from hostkit import free_port, send, stop, upstream_view, wait_port  # noqa: E402
import hostkit  # noqa: E402

NGINX = os.environ.get("AUTHCORE_NGINX", "/usr/sbin/nginx")
MODULE = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else
                         os.path.join(ROOT, "build", "nginx", "ngx_http_authcore_module.so"))
ECHO = os.path.join(ROOT, "tests", "lib", "echo.py")
CLI = os.path.join(ROOT, "build", "bin", "authcore")
HOST = "nginx"
START_TIMEOUT = 10.0
REQUEST_TIMEOUT = 10.0
CLIENT_IP_HEADER = "X-Authcore-Test-Client-Ip"


class Fail(Exception):
    pass


class Stopped(BaseException):
    """A stop signal (timeout, ^C): unwinds to main through every finally."""


CHILDREN = []  # every process we start, stopped at the end whatever happens
_STOP_SIGNALS = {signal.SIGTERM, signal.SIGALRM, signal.SIGINT}


def spawn(args, **kw):
    """Popen with our stop signals held off until the child is registered in
    CHILDREN (the child itself gets the caller's signal mask back)."""
    old = signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)
    try:
        p = subprocess.Popen(args, preexec_fn=lambda: signal.pthread_sigmask(
            signal.SIG_SETMASK, old), **kw)
        CHILDREN.append(p)
        return p
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def ok(name):
    print("ok - %s %s" % (HOST, name), flush=True)


def not_ok(name, why):
    print("not ok - %s %s: %s" % (HOST, name, " ".join(str(why).split())), flush=True)


def write(path, text):
    with open(path, "w") as f:
        f.write(text)


# the administrator bootstrap variables (VectorFile.env); nginx drops every
# variable its configuration does not list with `env`
ENV_NAMES = ("AUTHCORE_ADMIN_USER", "AUTHCORE_ADMIN_PASSWORD_HASH")


def nginx_env(file_env):
    """The environment nginx starts with: ours without the bootstrap
    variables, plus the vector file's."""
    env = {k: v for k, v in os.environ.items() if k not in ENV_NAMES}
    env.update(file_env or {})
    return env


def nginx_conf(d, port, echo_port, policy_file, real_ip=False, main_extra="",
               http_extra="", workers=1, listen_extra="", tls=None):
    """An nginx.conf with everything inside d, listening on 127.0.0.1 only.
    tls: (port, certificate, key): the server listens there with TLS too."""
    if tls:
        listen_extra += (";\n        listen 127.0.0.1:%d ssl;\n        ssl_certificate %s;\n"
                         "        ssl_certificate_key %s" % tls)
    real = ""
    if real_ip:
        # lets a case's client_ip reach the module as the connection address
        real = "        set_real_ip_from 127.0.0.1;\n        real_ip_header %s;\n" % CLIENT_IP_HEADER
    return """daemon off;
master_process on;
worker_processes {workers};
load_module {module};
pid {d}/nginx.pid;
error_log {d}/error.log info;
{env}{main_extra}events {{ worker_connections 64; }}
http {{
    access_log {d}/access.log;
{http_extra}
    client_body_temp_path {d}/client_body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    # room for tokens up to the core's own cap, so the core decides on them
    large_client_header_buffers 8 64k;
    authcore_policy {policy};
    server {{
        listen 127.0.0.1:{port}{listen_extra};
{real}        location / {{
            proxy_pass http://127.0.0.1:{echo};
        }}
        location /__authcore_off/ {{
            authcore_policy off;
            proxy_pass http://127.0.0.1:{echo};
        }}
        location /__authcore_any/ {{
            satisfy any;
            allow 127.0.0.1;
            deny all;
            proxy_pass http://127.0.0.1:{echo};
        }}
    }}
}}
""".format(module=MODULE, d=d, policy=policy_file, port=port, echo=echo_port, real=real,
           env="".join("env %s;\n" % n for n in ENV_NAMES), main_extra=main_extra,
           http_extra=http_extra, workers=workers, listen_extra=listen_extra)


class Nginx:
    """One nginx master in the foreground, started and stopped by us."""

    def __init__(self, d, echo_port, policy_json, real_ip=False, env=None, main_extra="",
                 http_extra="", workers=1, listen_extra="", tls=None):
        """tls: (certificate, key): a second port, tls_port, with TLS."""
        self.d = d
        self.tls = tls
        self.tls_port = None
        self.workers = workers
        self.listen_extra = listen_extra
        self.env = nginx_env(env)
        self.main_extra = main_extra
        self.http_extra = http_extra
        self.proc = None
        self.port = None
        self.policy = os.path.join(d, "policy.json")
        write(self.policy, policy_json)
        self.conf = os.path.join(d, "nginx.conf")
        self.echo_port = echo_port
        self.real_ip = real_ip

    def start(self):
        why = ""
        for _ in range(3):  # a free port can be taken between probe and bind
            self.port = free_port()
            tls = None
            if self.tls:
                self.tls_port = free_port()
                tls = (self.tls_port,) + tuple(self.tls)
            write(self.conf, nginx_conf(self.d, self.port, self.echo_port, self.policy,
                                        self.real_ip, self.main_extra, self.http_extra,
                                        self.workers, self.listen_extra, tls))
            self.out = open(os.path.join(self.d, "nginx.out"), "wb")
            self.proc = spawn([NGINX, "-p", self.d, "-c", self.conf],
                              stdout=self.out, stderr=subprocess.STDOUT, env=self.env)
            if wait_port(self.port, self.proc) and (
                    self.tls_port is None or wait_port(self.tls_port, self.proc)):
                return
            stop(self.proc)
            self.out.close()
            why = tail(os.path.join(self.d, "nginx.out")) + tail(os.path.join(self.d, "error.log"))
            if "Address already in use" not in why:
                break
        raise Fail("nginx did not start: " + why)

    def stop(self):
        stop(self.proc, signal.SIGQUIT)
        if self.proc is not None:
            self.out.close()


def tail(path, n=5):
    try:
        with open(path, errors="replace") as f:
            return " | ".join(f.read().splitlines()[-n:])
    except OSError:
        return ""


def send_full(port, method, path, headers, body=None, timeout=REQUEST_TIMEOUT, tls_ca=None):
    """hostkit.exchange: (status, headers, Set-Cookie values, body bytes)."""
    return hostkit.exchange(port, method, path, headers, body, None, timeout, tls_ca)


def audit_events(path):
    """The JSON objects logged by the module ("authcore: {...}"), in order."""
    events = []
    dec = json.JSONDecoder()
    try:
        with open(path, errors="replace") as f:
            lines = f.readlines()
    except OSError:
        return events
    for line in lines:
        i = line.find("authcore: {")
        if i < 0:
            continue
        try:
            obj, _ = dec.raw_decode(line, i + len("authcore: "))
        except ValueError:
            obj = {"__unparsed__": line[i:].strip()}
        events.append(obj)
    return events


def strings_in(obj):
    if isinstance(obj, str):
        yield obj
    elif isinstance(obj, dict):
        for v in obj.values():
            yield from strings_in(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from strings_in(v)


def run_file(vf, echo_port, ledger):
    now = int(time.time())
    cases = vf.cases(now)
    todo = []
    for case in cases:  # a case with "repeat" is several
        why = case.skip.get(HOST)
        if why:
            print("skip - %s %s: %s" % (HOST, case.id, why), flush=True)
        else:
            todo.append(case)
    if not todo:
        return
    real_ip = any(c.client_ip != "127.0.0.1" for c in todo)
    with tempfile.TemporaryDirectory(prefix="authcore-nginx-") as d:
        os.chmod(d, 0o755)  # nginx workers may run as another user
        tls = hostkit.make_tls_cert(d) if any(c.https for c in todo) else None
        ngx = Nginx(d, echo_port, vf.policy_json, real_ip, vf.env, tls=tls)
        sent = []  # (case, request id)
        try:
            try:
                ngx.start()
            except Fail as e:
                for c in todo:
                    not_ok(c.id, e)
                return
            log = os.path.join(d, "error.log")
            seen = len(audit_events(log))
            for c in todo:
                rid = ledger.new()
                headers = list(c.headers) + [(vectors.REQUEST_ID_HEADER, rid)]
                if real_ip:
                    headers.append((CLIENT_IP_HEADER, c.client_ip))
                port, ca = (ngx.tls_port, tls[0]) if c.https else (ngx.port, None)
                try:
                    status, hdrs, cookies, body = send_full(port, c.method, c.path,
                                                            headers, c.body, tls_ca=ca)
                except (OSError, ValueError, http.client.HTTPException) as e:
                    not_ok(c.id, "request failed: %r" % e)
                    continue
                sent.append((c, rid))
                # the module logs before it answers, so the line is there now
                events = audit_events(log)
                reason, probs = vectors.audit_problems(c, status, events[seen:], HOST)
                seen = len(events)
                probs += vectors.reach_problems(c, ledger.served(rid))
                probs += vectors.check(c, status, hdrs, upstream_view(status, hdrs, body),
                                       reason, cookies, body.decode("utf-8", "replace"))
                vectors.report(c, probs, HOST)

            # a nested location switches the module off
            name = "%s/authcore_policy off in a nested location" % vf.name
            try:
                status, hdrs, body = send(ngx.port, "GET", "/__authcore_off/x", [])
                if status == 200 and hdrs.get("x-echo") == "1":
                    ok(name)
                else:
                    not_ok(name, "status %s without a token" % status)
            except (OSError, ValueError, http.client.HTTPException) as e:
                not_ok(name, "request failed: %r" % e)

            # "satisfy any": allow grants what authcore refuses, and client-sent
            # copies of the identity headers still do not reach the upstream
            spoof = sorted({n.lower() for c in todo for n in c.expect.get("upstream_absent", [])})
            if spoof:
                name = "%s/satisfy any strips client identity headers" % vf.name
                try:
                    status, hdrs, body = send(ngx.port, "GET", "/__authcore_any/x",
                                              [(n, "mallory") for n in spoof])
                    up = upstream_view(status, hdrs, body)
                    if up is None:
                        not_ok(name, "status %s, want 200 from the upstream" % status)
                    elif any(n in up for n in spoof):
                        not_ok(name, "upstream saw %s" % {n: up[n] for n in spoof if n in up})
                    else:
                        ok(name)
                except (OSError, ValueError, http.client.HTTPException) as e:
                    not_ok(name, "request failed: %r" % e)
        finally:
            ngx.stop()
        name = "%s: after nginx stopped, the upstream reached by exactly the " \
               "allowed requests" % vf.name
        if sent:
            counts = ledger.counts()
            probs = ["%s: %s" % (c.name, p) for c, rid in sent
                     for p in vectors.reach_problems(c, counts[rid])]
            if probs:
                not_ok(name, "; ".join(probs[:4]))
            else:
                ok(name + " (%d requests)" % len(sent))


def nginx_t(d, policy_text, echo_port):
    """Runs nginx -t on a config using policy_text; returns (rc, output, file)."""
    pol = os.path.join(d, "policy.json")
    write(pol, policy_text)
    conf = os.path.join(d, "nginx.conf")
    write(conf, nginx_conf(d, free_port(), echo_port, pol))
    p = spawn([NGINX, "-t", "-p", d, "-c", conf], stdout=subprocess.PIPE,
              stderr=subprocess.STDOUT)
    try:
        out, _ = p.communicate(timeout=START_TIMEOUT)
        return p.returncode, out.decode(errors="replace"), pol
    except subprocess.TimeoutExpired:
        stop(p)
        return None, "nginx -t timed out", pol


def config_checks(vfiles, echo_port):
    base = vfiles[0].policy if vfiles else {"jwt": {"keys": [
        {"kid": "k1", "alg": "HS256", "secret": "x" * 40}]}}
    checks = []
    short = json.loads(json.dumps(base))
    try:
        short["jwt"]["keys"][0]["secret"] = "short"
        checks.append(("nginx -t refuses a short jwt secret", json.dumps(short),
                       ["$.jwt.keys[0]"]))
    except (KeyError, IndexError, TypeError):
        pass
    checks.append(("nginx -t refuses invalid JSON", '{"jwt": {"keys": [', ["$"]))
    for name, text, wants in checks:
        with tempfile.TemporaryDirectory(prefix="authcore-nginx-t-") as d:
            rc, out, pol = nginx_t(d, text, echo_port)
            line = [ln for ln in out.splitlines() if "authcore_policy" in ln]
            probs = []
            if rc == 0:
                probs.append("exit 0")
            elif rc is None:
                probs.append(out)
            if not line:
                probs.append("no authcore_policy error in output: %s" % out.strip()[-300:])
            else:
                for w in wants + [pol]:
                    if w not in line[0]:
                        probs.append("%r missing from: %s" % (w, line[0][-300:]))
            if probs:
                not_ok(name, "; ".join(probs))
            else:
                ok(name + " naming the JSON path")
    if vfiles:
        with tempfile.TemporaryDirectory(prefix="authcore-nginx-t-") as d:
            rc, out, _ = nginx_t(d, vfiles[0].policy_json, echo_port)
            if rc == 0:
                ok("nginx -t accepts %s's policy" % vfiles[0].name)
            else:
                not_ok("nginx -t accepts %s's policy" % vfiles[0].name, out.strip()[-300:])


def run_suite(body, label="suite", tools=(), catch=(Fail, Stopped)):
    """The frame every nginx runner shares: a hard bound on the whole run
    (AUTHCORE_NGINX_TIMEOUT seconds, default 300: the alarm unwinds through
    every finally); the module built and each of `tools` ((name, path, hint))
    executable; body() run, a failure in `catch` reported as one not ok line
    under `label`; every child stopped at the end whatever happened.
    Returns the exit status."""
    def on_signal(sig, _frame):
        raise Stopped("suite stopped by signal %d (timed out?)" % sig)
    for sig in _STOP_SIGNALS:
        signal.signal(sig, on_signal)
    signal.alarm(int(os.environ.get("AUTHCORE_NGINX_TIMEOUT", "300")))

    if not os.path.exists(MODULE):
        not_ok("module", "%s not built (make all)" % MODULE)
        return 1
    for name, path, hint in tools:
        if not os.access(path, os.X_OK):
            not_ok(name, "%s %s" % (path, hint))
            return 1
    try:
        body()
    except catch as e:
        not_ok(label, e)
        return 1
    finally:
        for sig in _STOP_SIGNALS:  # cleanup is bounded; let it finish
            signal.signal(sig, signal.SIG_IGN)
        for p in reversed(CHILDREN):
            stop(p)
    return 0


def hash_password(password, iterations):
    """A password hash string made by the CLI's hash-password."""
    p = subprocess.run([CLI, "hash-password", "--iterations", str(iterations)],
                       input=password.encode(), capture_output=True, timeout=30.0)
    if p.returncode != 0:
        raise Fail("authcore hash-password: %s" % p.stderr.decode()[:200])
    return p.stdout.decode().strip()


def main():
    def body():
        vfiles = vectors.load_vector_files()
        ids = tempfile.NamedTemporaryFile(prefix="authcore-nginx-ids-", delete=False)
        ids.close()
        ledger = hostkit.Ledger(ids.name)
        try:
            _, echo_port = hostkit.start_echo(spawn, ids_path=ledger.path)
            config_checks(vfiles, echo_port)
            for vf in vfiles:
                run_file(vf, echo_port, ledger)
            vectors.sampling_report(HOST)
        finally:
            os.unlink(ids.name)
    return run_suite(body, tools=[("nginx", NGINX, "not found (make deps)")])

if __name__ == "__main__":
    sys.exit(main())
