#!/usr/bin/env python3
"""Keys from a JWKS URL in the nginx module, through Debian's nginx:

  nginx_jwks.py [MODULE.so]

The module fetches the provider's keys with an in-memory subrequest to the
internal location `authcore_fetch` names, which proxies to
$authcore_fetch_url, while the request's decision waits; its own timer
bounds the wait. tests/lib/jwkskit.py says what is checked (a real OpenID
Provider, rotation, outage, hostile answers). Besides:
  - `nginx -t` refuses a policy with jwt.jwks_uri where no authcore_fetch
    is set, naming the directive, and accepts it with one;
  - the JWKS server receives exactly the request the core names (GET, its
    Accept), none of the client's headers (its token, its cookies, its
    X-Forwarded-*), even in a server whose own proxy_set_header lines
    would send the client's address: the README's fetch location sets one
    of its own, so they are not inherited (and without it, they arrive);
  - an https jwks_uri: the keys are fetched over TLS when the snippet's
    CA file is the one that signed the provider's certificate, and refused
    (503) with the snippet as written, whose system CAs do not trust it;
  - the workers share the fetched keys through the zone (check_shared: 3
    workers, fetches counted at the JWKS server): warm-up, rotation and
    reload each cost one fetch for them all, or none; a changed policy
    fetches anew; without room in the zone each worker fetches its own.
The fetch location is hosts/nginx/README.md's own snippet, as written
there. Each nginx (one worker, three for the shared keys) runs in front of
tests/lib/echo.py on 127.0.0.1 and is stopped by its own PID."""
import json
import os
import shutil
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "lib"))
sys.path.insert(0, os.path.join(ROOT, "tests", "docs"))
import blocks  # noqa: E402
import hostkit  # noqa: E402
import jwkskit  # noqa: E402
from checks import failed, ok  # noqa: E402

NGINX = os.environ.get("AUTHCORE_NGINX", "/usr/sbin/nginx")
MODULE = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else
                         os.path.join(ROOT, "build", "nginx", "ngx_http_authcore_module.so"))
WORK = os.path.join(ROOT, "build", "tests", "nginx-jwks")
START_TIMEOUT = 10.0

SERVER = """    server {{
        listen 127.0.0.1:{port};
        authcore_policy {policy};
{fetch}
        location / {{
            proxy_pass http://127.0.0.1:{echo};
        }}
    }}
}}
"""


README = os.path.join(ROOT, "hosts", "nginx", "README.md")


def readme_block(start, kind=None):
    """The text of the README's code block that starts with `start` and
    mentions authcore_fetch (of that doc-test kind, if given)."""
    for b in blocks.blocks(README):
        if (kind is None or b.kind == kind) and b.text.lstrip().startswith(start) \
                and "authcore_fetch" in b.text:
            return b.text
    raise RuntimeError("no block starting %r in %s" % (start, README))


# The README's snippet (its server-context block), as the user copies it.
FETCH = "".join("        " + ln + "\n"
                for ln in readme_block("resolver", "nginx-fragment").splitlines())

count = 0


# The module with its test hooks (hosts/nginx/build.mk, never installed).
TEST_MODULE = os.path.join(ROOT, "build", "nginx-test", "ngx_http_authcore_module.so")


def stage(policy, fetch=None, module=None):
    """A folder with the policy and an nginx.conf on a free port: (folder,
    conf, port)."""
    global count
    count += 1
    d = os.path.join(WORK, "nginx-%d" % count)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    os.chmod(d, 0o755)  # workers may run as another user
    pol = os.path.join(d, "policy.json")
    with open(pol, "w") as f:
        json.dump(policy, f)
    port = hostkit.free_port()
    conf = os.path.join(d, "nginx.conf")
    with open(conf, "w") as f:
        f.write(hostkit.NGINX_HEAD.format(workers=1, module=module or MODULE, d=d)
                + SERVER.format(port=port, policy=pol, echo=ECHO_PORT,
                                fetch=FETCH if fetch is None else fetch))
    return d, conf, port


def start(policy, fetch=None, module=None):
    """jwkskit's start(): nginx with this policy; (port, stop)."""
    for _ in range(3):  # a free port can be taken between probe and bind
        d, conf, port = stage(policy, fetch, module)
        srv = hostkit.Server([NGINX, "-p", d, "-c", conf], os.path.join(d, "nginx.out"))
        if hostkit.wait_port(port, srv.proc, START_TIMEOUT):
            return port, srv.stop
        srv.stop()
        out = srv.log_text() + error_log(d)
        if "Address already in use" not in out:
            break
    raise RuntimeError("nginx did not start: %s" % out[-800:])


def error_log(d):
    try:
        with open(os.path.join(d, "error.log"), errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def check_config():
    """nginx -t without and with authcore_fetch."""
    policy = jwkskit.policy("http://127.0.0.1:9/jwks", "http://127.0.0.1:9")
    for fetch in (False, True):
        d, conf, _ = stage(policy, None if fetch else "")
        try:
            r = subprocess.run([NGINX, "-t", "-p", d, "-c", conf], capture_output=True,
                               text=True, timeout=30)
            out = (r.stdout + r.stderr).strip()
        except subprocess.TimeoutExpired:
            ok("nginx -t with a jwks_uri policy", "timed out")
            continue
        if not fetch:
            # the message the README documents, with this policy's path
            doc = " ".join(readme_block("[emerg] authcore_policy").split())[len("[emerg] "):]
            doc = doc.replace("/etc/authcore/policy.json", os.path.join(d, "policy.json"))
            ok("nginx jwks_uri: nginx -t refuses a jwks_uri policy without authcore_fetch "
               "with the README's message",
               None if r.returncode != 0 and doc in " ".join(out.split())
               else "exit %d: %s; README: %s" % (r.returncode, out[-300:], doc))
        else:
            ok("nginx jwks_uri: nginx -t accepts it with authcore_fetch",
               None if r.returncode == 0 else "exit %d: %s" % (r.returncode, out[-300:]))


# proxy_set_header lines a server commonly has for its own upstreams; the
# fetch location inherits them unless it sets one of its own (the README's
# snippet does).
INHERITED = ("        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n"
             "        proxy_set_header X-Real-IP $remote_addr;\n"
             "        proxy_set_header X-Client-Cookie $http_cookie;\n")


def check_headers():
    """The provider receives exactly the core's request, even under a server
    whose proxy_set_header lines would send the client's address: with the
    README's snippet nothing of them arrives; without its own
    proxy_set_header line, X-Forwarded-For and X-Real-IP do (so the check
    sees a leak when there is one)."""
    server = jwkskit.Hostile(b'{"keys":[]}')
    # a token whose header names a kid: the core asks for keys
    token = "eyJhbGciOiJFUzI1NiIsImtpZCI6ImsxIn0.eyJzdWIiOiJ4In0.AAAA"
    secrets = [token] + [v for k, v in jwkskit.CLIENT_HEADERS.items() if k != "X-Forwarded-Proto"]
    bare = "".join(ln + "\n" for ln in FETCH.splitlines()
                   if not ln.strip().startswith("proxy_set_header")
                   and not ln.strip().startswith("#"))
    try:
        for name, fetch, leak in (
                ("nginx jwks_uri: under a server's proxy_set_header X-Forwarded-For/X-Real-IP, the "
                 "README's fetch location sends exactly the core's request", INHERITED + FETCH, False),
                ("nginx jwks_uri: without the snippet's own proxy_set_header the server's "
                 "X-Forwarded-For and X-Real-IP reach the provider (the check sees a leak)",
                 INHERITED + bare, True)):
            stop = None
            server.requests.clear()
            try:
                if bare == FETCH:
                    raise RuntimeError("the README's snippet sets no proxy_set_header")
                port, stop = start(jwkskit.policy("http://127.0.0.1:%d/jwks" % server.port,
                                                  "http://127.0.0.1:9"), fetch)
                st = jwkskit.get(port, token, extra=jwkskit.CLIENT_HEADERS)[0]
                probs = [] if st == 503 else ["status %d, want 503 (no usable key)" % st]
                if len(server.requests) != 1:
                    probs.append("%d fetches, want 1" % len(server.requests))
                for r in server.requests:
                    got = jwkskit.fetch_problems(r, "GET", "/jwks", [("accept", jwkskit.JWKS_ACCEPT)],
                                                 secrets=secrets)
                    if leak:
                        names = {k for k, _ in r[1]}
                        if not {"x-forwarded-for", "x-real-ip"} <= names:
                            probs.append("no X-Forwarded-For/X-Real-IP arrived: %s" % sorted(names))
                        if any(k == "x-client-cookie" or "cookie" in k for k in names):
                            probs.append("the client's cookie arrived (headers_in not dropped)")
                    else:
                        probs += got
                ok(name, "; ".join(probs) or None)
            except Exception as e:  # noqa: BLE001 (a crash is a failure, reported)
                ok(name, repr(e))
            finally:
                if stop:
                    stop()
    finally:
        server.stop()


def check_tls():
    """An https jwks_uri, through the README's snippet."""
    work = os.path.join(WORK, "tls")
    os.makedirs(work)
    cert, key = os.path.join(work, "cert.pem"), os.path.join(work, "key.pem")
    # 127.0.0.1 as a DNS name too: nginx checks the proxied name with
    # X509_check_host
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1,DNS:127.0.0.1",
                    "-keyout", key, "-out", cert], check=True, capture_output=True, timeout=30)
    keys = os.path.join(work, "keys.json")
    jwkskit.make_keys(keys, "t1")
    idp = jwkskit.Provider(work, hostkit.free_port())
    try:
        idp.start(keys)
        token, body = idp.token(), idp.jwks()
    finally:
        idp.stop()

    server = jwkskit.Hostile(body, tls=(cert, key))
    policy = jwkskit.policy("https://127.0.0.1:%d/jwks" % server.port, idp.issuer)
    system_ca = "/etc/ssl/certs/ca-certificates.crt"
    try:
        for name, fetch, status in (
                ("nginx jwks_uri: an https provider's keys are fetched, its certificate verified",
                 FETCH.replace(system_ca, cert), 200),
                ("nginx jwks_uri: an https provider whose certificate the CAs do not sign is refused",
                 FETCH, 503)):
            stop = None
            try:
                if system_ca not in FETCH:
                    raise RuntimeError("the README's snippet names no %s" % system_ca)
                port, stop = start(policy, fetch)
                jwkskit.expect(name, jwkskit.get(port, token), status,
                               "authcore-test" if status == 200 else None)
            except Exception as e:  # noqa: BLE001 (a crash is a failure, reported)
                ok(name, repr(e))
            finally:
                if stop:
                    stop()
    finally:
        server.stop()


# Shared keys: nginx with several workers, the kernel spreading connections
# over them (reuseport), each answer naming the worker that made it.
SHARED_WORKERS = 3
SHARED_SPREAD = 60
SHARED_SERVER = """    server {{
        listen 127.0.0.1:{port} reuseport;
        authcore_policy {policy};
        add_header X-Worker $pid always;
{fetch}
        location / {{
            proxy_pass http://127.0.0.1:{echo};
        }}
    }}
}}
"""


def shared_start(policy, module=None, env=None):
    """nginx with SHARED_WORKERS workers and this policy: (Server, port,
    folder)."""
    global count
    for _ in range(3):  # a free port can be taken between probe and bind
        count += 1
        d = os.path.join(WORK, "nginx-%d" % count)
        os.makedirs(d)
        os.chmod(d, 0o755)
        pol = os.path.join(d, "policy.json")
        with open(pol, "w") as f:
            json.dump(policy, f)
        port = hostkit.free_port()
        conf = os.path.join(d, "nginx.conf")
        with open(conf, "w") as f:
            f.write(hostkit.NGINX_HEAD.format(workers=SHARED_WORKERS, module=module or MODULE, d=d)
                    + SHARED_SERVER.format(port=port, policy=pol, echo=ECHO_PORT, fetch=FETCH))
        srv = hostkit.Server([NGINX, "-p", d, "-c", conf], os.path.join(d, "nginx.out"), env=env)
        if hostkit.wait_port(port, srv.proc, START_TIMEOUT):
            return srv, port, d
        srv.stop()
        out = srv.log_text() + error_log(d)
        if "Address already in use" not in out:
            break
    raise RuntimeError("nginx did not start: %s" % out[-800:])


def worker_pids(master, avoid=(), timeout=15.0):
    """The pids of master's SHARED_WORKERS workers (as strings), none of
    them in avoid (the workers before a reload), once there are exactly
    that many; RuntimeError after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        pids = set()
        for e in os.listdir("/proc"):
            if not e.isdigit():
                continue
            try:
                with open("/proc/%s/stat" % e) as f:
                    st = f.read()
            except OSError:
                continue
            fields = st[st.rfind(")") + 2:].split()
            if len(fields) > 1 and fields[1] == str(master) and fields[0] != "Z":
                pids.add(e)
        if len(pids) == SHARED_WORKERS and not pids & set(avoid):
            return pids
        if time.monotonic() > deadline:
            raise RuntimeError("workers of %d: %s, want %d new ones" % (master, sorted(pids),
                                                                       SHARED_WORKERS))
        time.sleep(0.1)


def spread(port, token, workers, parallel=6):
    """SHARED_SPREAD requests with token, each on its own connection, so the
    kernel spreads them over the workers: problems ([] if every one was 200
    for the provider's user and every worker in workers answered some)."""
    from concurrent.futures import ThreadPoolExecutor
    with ThreadPoolExecutor(parallel) as pool:
        got = list(pool.map(lambda _: jwkskit.get(port, token), range(SHARED_SPREAD)))
    probs = []
    bad = [g[0] for g in got if g[0] != 200 or jwkskit.user_of(g[2]) != "authcore-test"]
    if bad:
        probs.append("%d of %d requests failed (statuses %s)" % (len(bad), len(got), sorted(set(bad))))
    served = {g[1].get("x-worker") for g in got}
    if not set(workers) <= served:
        probs.append("workers %s answered, want every one of %s" % (sorted(served), sorted(workers)))
    return probs


def fetches(server, want):
    n = len(server.requests)
    return [] if n == want else ["%d fetches reached the JWKS server, want %d" % (n, want)]


def log_problems(d):
    bad = [ln for ln in error_log(d).splitlines()
           if "[alert]" in ln or "[crit]" in ln or "[emerg]" in ln]
    return ["error.log: %s" % bad[0][-200:]] if bad else []


def check_shared():
    """The workers share the fetched keys through the zone: after one
    request warms them, requests spread over every worker make no fetch; a
    rotation (unknown kid) is fetched once, then every worker verifies the
    new tokens without fetching; after a reload the new workers take the
    keys the zone holds (no fetch either), also after a reload that changes
    the policy but not where its keys come from nor their algorithms, and
    after a reload that changes its algorithms they fetch anew, once for
    them all. Then the fallback: a zone
    without room for them (the test build stands in for one) leaves each
    worker its own keys, fetched once per worker, with a warning. The JWKS
    server (jwkskit.Hostile, serving the provider's keys) counts fetches."""
    work = os.path.join(WORK, "shared")
    os.makedirs(work)
    k1, k2 = os.path.join(work, "keys-k1.json"), os.path.join(work, "keys-k2.json")
    jwkskit.make_keys(k1, "s1")
    jwkskit.make_keys(k2, "s2")
    idp = jwkskit.Provider(work, hostkit.free_port())
    server = srv = None
    pre = "nginx shared keys (%d workers): " % SHARED_WORKERS
    steps = ["nginx -t accepts the configuration, the zone sized for the shared keys, "
             "with no warning",
             "one request warms the keys with one fetch",
             "%d requests spread over every worker pass with no further fetch" % SHARED_SPREAD,
             "rotation: the new key is fetched once, on its unknown kid",
             "rotation: every worker then verifies the new tokens with no further fetch",
             "reload: the new workers verify with the keys the zone holds, no fetch",
             "reload with the policy changed elsewhere than its key source: the zone's keys "
             "serve, no fetch",
             "reload with the policy changed: its keys are fetched anew, once for every worker",
             "no room in the zone: a warning, each worker fetches its own keys once, "
             "and every worker verifies"]
    done = 0
    try:
        idp.start(k1)
        t1 = idp.token()
        server = jwkskit.Hostile(idp.jwks())
        pol = jwkskit.policy("http://127.0.0.1:%d/jwks" % server.port, idp.issuer)
        # a long ttl: every fetch counted here is a cold start or a rotation
        pol["jwt"]["jwks_fetch"].update({"ttl": 300, "stale_for": 300})
        srv, port, d = shared_start(pol)
        workers = worker_pids(srv.proc.pid)
        r = subprocess.run([NGINX, "-t", "-p", d, "-c", os.path.join(d, "nginx.conf")],
                           capture_output=True, text=True, timeout=30)
        out = (r.stdout + r.stderr).strip()
        ok(pre + steps[0], None if r.returncode == 0 and "[warn]" not in out
           and "[emerg]" not in out else "exit %d: %s" % (r.returncode, out[-300:]))
        done += 1

        got = jwkskit.get(port, t1)
        probs = [] if got[0] == 200 else ["status %d, want 200" % got[0]]
        ok(pre + steps[1], "; ".join(probs + fetches(server, 1)) or None)
        done += 1
        ok(pre + steps[2], "; ".join(spread(port, t1, workers) + fetches(server, 1)) or None)
        done += 1

        time.sleep(jwkskit.MIN_INTERVAL + 0.2)  # a kid fetch may follow the last fetch
        idp.start(k2)
        t2 = idp.token()
        server.good = idp.jwks()
        got = jwkskit.get(port, t2)
        probs = [] if got[0] == 200 else ["status %d, want 200" % got[0]]
        ok(pre + steps[3], "; ".join(probs + fetches(server, 2)) or None)
        done += 1
        ok(pre + steps[4], "; ".join(spread(port, t2, workers) + fetches(server, 2)) or None)
        done += 1

        srv.proc.send_signal(signal.SIGHUP)
        workers = worker_pids(srv.proc.pid, avoid=workers)
        ok(pre + steps[5], "; ".join(spread(port, t2, workers) + fetches(server, 2)
                                     + log_problems(d)) or None)
        done += 1

        # the same URL and algorithms: the keys the zone holds are the
        # ones this policy would fetch
        pol["jwt"]["jwks_fetch"]["stale_for"] = 299
        with open(os.path.join(d, "policy.json"), "w") as f:
            json.dump(pol, f)
        srv.proc.send_signal(signal.SIGHUP)
        workers = worker_pids(srv.proc.pid, avoid=workers)
        ok(pre + steps[6], "; ".join(spread(port, t2, workers) + fetches(server, 2)
                                     + log_problems(d)) or None)
        done += 1

        # other algorithms: the policy never takes keys the old one let in
        # (the core keeps them under their URL and algorithms)
        pol["jwt"]["algorithms"] = ["ES256", "ES384"]
        with open(os.path.join(d, "policy.json"), "w") as f:
            json.dump(pol, f)
        srv.proc.send_signal(signal.SIGHUP)
        workers = worker_pids(srv.proc.pid, avoid=workers)
        got = jwkskit.get(port, t2)
        probs = [] if got[0] == 200 else ["status %d, want 200" % got[0]]
        probs += fetches(server, 3)
        ok(pre + steps[7], "; ".join(probs + spread(port, t2, workers) + fetches(server, 3)
                                     + log_problems(d)) or None)
        done += 1
        srv.stop()
        srv = None

        # the fallback, in the test build: no shared copy, each worker its own
        if not os.path.exists(TEST_MODULE):
            raise RuntimeError("%s is not built (make test-bins)" % TEST_MODULE)
        server.requests.clear()
        srv, port, d = shared_start(pol, TEST_MODULE,
                                    dict(os.environ, AC_NGX_TEST_NO_SHARED_KEYS="1"))
        workers = worker_pids(srv.proc.pid)
        # one at a time: a worker's first request fetches, and only it
        probs = spread(port, t2, workers, parallel=1)
        probs += fetches(server, SHARED_WORKERS)
        if "no room to share fetched keys" not in error_log(d):
            probs.append("no warning in error.log")
        ok(pre + steps[8], "; ".join(probs + log_problems(d)) or None)
        done += 1
    except Exception as e:  # noqa: BLE001 (a crash is a failure, reported)
        for step in steps[done:]:
            ok(pre + step, repr(e))
    finally:
        if srv is not None:
            srv.stop()
        if server is not None:
            server.stop()
        idp.stop()


ECHO_PORT = None


def main():
    global ECHO_PORT
    if not os.path.exists(MODULE):
        ok("nginx jwks_uri: module is built", "%s is missing (make all)" % MODULE)
        return 1
    shutil.rmtree(WORK, ignore_errors=True)
    os.makedirs(WORK)
    echo, ECHO_PORT = hostkit.start_echo()
    try:
        check_config()
        check_headers()
        check_tls()
        check_shared()
        t = time.monotonic()
        jwkskit.run("nginx jwks_uri", start, os.path.join(WORK, "kit"))
        print("# nginx jwks_uri checks took %.1f s" % (time.monotonic() - t), flush=True)
    finally:
        hostkit.stop(echo)
    return 1 if failed() else 0


if __name__ == "__main__":
    sys.exit(main())
