"""OpenID Connect sign-in against a real provider: what the OIDC suite's
host runners (tests/hosts/oidc_login.py) share.

  - Idp: npm oidc-provider in sign-in mode (tests/lib/idp.mjs login): its
    own login and consent pages, one confidential client, RS256 ID
    tokens, the ACCOUNTS below, RP-initiated logout; started on a loopback
    port and stopped by its PID.
  - Agent: an HTTP client with a cookie jar that follows no redirect (each
    hop is looked at), and provider_login(): the provider's login form and
    consent page completed over HTTP, as a browser would, up to the
    redirect back to the client.
  - policy(): the host's policy, with the provider `test` pointing at the
    Idp (SSO only: no password form).
  - provider_checks(): the provider alone, as the relying party sees it: a
    code for PKCE S256 exchanged with client_secret_basic for an ID token
    whose signature (the provider's JWKS) and claims check; the code works
    once; no verifier, no token; a denied consent comes back as
    error=access_denied.
  - host_checks(): the negative cases against a host (forged state, a
    replayed callback with and without the start's cookie, a changed
    nonce, an unverified email, a domain outside the allowlist, the
    provider's error) and a sign-in over HTTP, each status checked and the
    reason read from the host's audit line; then token_posts(): two
    sign-ins at once, each token request the provider records exactly the
    core's and of its own; sign_in() alone; https_checks() for a host on a
    TLS listener.

Every wait is bounded."""
import base64
import hashlib
import html
import http.client
import http.cookiejar
import json
import os
import re
import secrets
import ssl
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

import hostkit
from checks import ok

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
IDP = os.path.join(HERE, "idp.mjs")

PROVIDER = "test"
LABEL = "Sign in with Test IdP"
CLIENT_ID = "authcore-dash"
PREFIX = "/dash"
CALLBACK = PREFIX + "/auth/oidc/%s/callback" % PROVIDER
START = PREFIX + "/auth/oidc/%s" % PROVIDER
LOGIN_PAGE = PREFIX + "/auth/login"
LOGOUT = PREFIX + "/auth/logout"
OIDC_COOKIE = "authcore_oidc"
SESSION_COOKIE = "authcore_session"

# login name -> the account's claims. alice is an administrator by email,
# bob by group (ops); carol's email is not verified; mallory's domain is
# outside allow.domains.
ACCOUNTS = {
    "alice": {"email": "alice@example.com", "email_verified": True, "groups": ["staff"]},
    "bob": {"email": "bob@example.com", "email_verified": True, "groups": ["ops"]},
    "carol": {"email": "carol@example.com", "email_verified": False, "groups": []},
    "mallory": {"email": "mallory@elsewhere.test", "email_verified": True, "groups": ["ops"]},
}
TIMEOUT = 10


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def make_keys(path, kid):
    """A private RS256 JWK set for the provider's ID tokens, written to path."""
    out = subprocess.run(["node", IDP, "keys", kid, "RS256"], capture_output=True, text=True,
                         timeout=60, cwd=ROOT, check=True).stdout
    with open(path, "w") as f:
        f.write(out)


class Idp:
    """oidc-provider in sign-in mode on a free loopback port, its client
    allowing the redirect and post-logout URIs given. Every token request
    it receives is recorded (token_requests()); token_delay_ms: each is
    answered that much later."""

    def __init__(self, work, redirect_uris, logout_uris, keys=None, token_delay_ms=0):
        work = os.path.abspath(work)
        os.makedirs(work, exist_ok=True)
        self.work = work
        self.secret = secrets.token_urlsafe(24)
        if keys is None:
            keys = os.path.join(work, "idp-keys.json")
            make_keys(keys, "r1")
        with open(keys) as f:
            jwks = json.load(f)["keys"]
        self.config = os.path.join(work, "idp-config.json")
        self.record = os.path.join(work, "idp-token-requests.jsonl")
        if os.path.exists(self.record):
            os.remove(self.record)
        with open(self.config, "w") as f:
            json.dump({"keys": jwks, "record": self.record, "token_delay_ms": token_delay_ms,
                       "client": {"client_id": CLIENT_ID, "client_secret": self.secret,
                                  "redirect_uris": list(redirect_uris),
                                  "post_logout_redirect_uris": list(logout_uris)},
                       "accounts": ACCOUNTS}, f)
        self.srv = None
        for _ in range(3):  # a free port can be taken between probe and bind
            self.port = hostkit.free_port()
            self.issuer = "http://127.0.0.1:%d" % self.port
            self.srv = hostkit.Server(["node", IDP, "login", str(self.port), self.config],
                                      os.path.join(work, "idp.log"), cwd=ROOT)
            if hostkit.wait_port(self.port, self.srv.proc, 20):
                return
            log = self.srv.log_text()
            self.srv.stop()
            self.srv = None
            if "EADDRINUSE" not in log:
                break
        raise RuntimeError("oidc-provider did not start: %s" % log[-600:])

    def stop(self):
        if self.srv is not None:
            self.srv.stop()
            self.srv = None

    def token_requests(self):
        """Every POST /token received so far, in order, as the recorder
        wrote it: (request line, [(lower-case name, value)], body bytes)."""
        try:
            with open(self.record) as f:
                lines = f.read().splitlines()
        except FileNotFoundError:
            return []
        out = []
        for ln in lines:
            j = json.loads(ln)
            out.append((j["line"], [(k, v) for k, v in j["headers"]], j["body"].encode("latin-1")))
        return out

    def configuration(self):
        st, _, body = Agent().get(self.issuer + "/.well-known/openid-configuration")
        if st != 200:
            raise RuntimeError("discovery: %d %r" % (st, body[:200]))
        return json.loads(body)

    def token(self, code, redirect_uri, verifier=None, secret=None):
        """POST /token (authorization_code, client_secret_basic): (status,
        JSON body or {})."""
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
        if verifier is not None:
            form["code_verifier"] = verifier
        basic = base64.b64encode(("%s:%s" % (
            urllib.parse.quote(CLIENT_ID, safe=""),
            urllib.parse.quote(secret or self.secret, safe=""))).encode()).decode()
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=TIMEOUT)
        try:
            c.request("POST", "/token", urllib.parse.urlencode(form),
                      {"Authorization": "Basic " + basic,
                       "Content-Type": "application/x-www-form-urlencoded"})
            r = c.getresponse()
            body = r.read()
        finally:
            c.close()
        try:
            return r.status, json.loads(body)
        except ValueError:
            return r.status, {}


def policy(issuer, secret, session_secret, scheme_note=None):
    """The host's policy: sessions, SSO-only login under /dash, one provider."""
    return {
        "realm": "authcore-oidc",
        "sessions": {"keys": [{"kid": "s1", "secret": session_secret}], "csrf": True, "ttl": 3600},
        "login": {"prefix": PREFIX, "password": False, "title": "OIDC test"},
        "oidc": {"providers": [{
            "name": PROVIDER,
            "label": LABEL,
            "issuer": issuer,
            "client_id": CLIENT_ID,
            "client_secret": secret,
            "scopes": ["openid", "email", "profile", "groups"],
            "redirect_path": CALLBACK,
            "algorithms": ["RS256"],
            "user_claim": "email",
            "groups_claim": "groups",
            "allow": {"domains": ["example.com"]},
            "admin_emails": ["alice@example.com"],
            "roles": ["viewer"],
            "group_roles": {"ops": "admin"},
            "end_session": True,
        }]},
        "rules": [{"path": PREFIX + "/admin/*", "role": "admin"}],
        "default": "authenticated",
        "audit": {"allowed": "all"},
    }


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *a, **kw):
        return None


class Agent:
    """A client with its own cookie jar that follows no redirect. ca: a
    certificate file to trust for https (verified, 127.0.0.1 in its names)."""

    def __init__(self, ca=None):
        self.jar = http.cookiejar.CookieJar()
        handlers = [urllib.request.HTTPCookieProcessor(self.jar), NoRedirect()]
        if ca:
            handlers.append(urllib.request.HTTPSHandler(context=ssl.create_default_context(cafile=ca)))
        self.opener = urllib.request.build_opener(*handlers)

    def request(self, url, data=None, headers=None, method=None):
        """(status, headers with lower-case names (Set-Cookie values joined
        by "\\n"), body bytes). method: other than GET (no data) or POST."""
        h = {"Accept": "text/html,application/xhtml+xml"}
        h.update(headers or {})
        body = urllib.parse.urlencode(data).encode() if isinstance(data, dict) else data
        req = urllib.request.Request(url, data=body, headers=h, method=method)
        try:
            r = self.opener.open(req, timeout=TIMEOUT)
        except urllib.error.HTTPError as e:
            r = e
        hdrs = {}
        for k, v in r.headers.items():
            k = k.lower()
            hdrs[k] = hdrs[k] + ("\n" if k == "set-cookie" else ", ") + v if k in hdrs else v
        return r.status, hdrs, r.read()

    def get(self, url, headers=None):
        return self.request(url, None, headers)

    def cookie(self, name):
        for c in self.jar:
            if c.name == name:
                return c
        return None

    def set_cookie(self, c):
        self.jar.set_cookie(c)

    def drop_cookie(self, name):
        for c in list(self.jar):
            if c.name == name:
                self.jar.clear(c.domain, c.path, c.name)


def location(base_url, hdrs):
    loc = hdrs.get("location")
    return urllib.parse.urljoin(base_url, loc) if loc else None


FORM_ACTION = re.compile(rb'<form[^>]*action="([^"]+)"[^>]*method="post"')


def provider_login(agent, auth_url, login, consent=True, password="any-password"):
    """Completes the provider's pages from auth_url as `login` (its login
    form, then its consent page: Continue, or Cancel when consent is
    False), following the provider's redirects only. Returns the URL the
    provider sends the browser to off its own origin (the client's
    redirect URI with code or error), or raises RuntimeError."""
    idp = urllib.parse.urlsplit(auth_url).netloc
    url, seen = auth_url, []
    for _ in range(12):
        st, hdrs, body = agent.get(url)
        seen.append("%d %s" % (st, urllib.parse.urlsplit(url).path))
        if st in (302, 303):
            nxt = location(url, hdrs)
            if urllib.parse.urlsplit(nxt).netloc != idp:
                return nxt
            url = nxt
            continue
        if st != 200:
            raise RuntimeError("provider answered %d at %s: %r" % (st, url, body[:300]))
        m = FORM_ACTION.search(body)
        if not m:
            raise RuntimeError("no form on the provider's page %s: %r" % (url, body[:300]))
        action = urllib.parse.urljoin(url, m.group(1).decode())
        if b'name="login"' in body:
            st, hdrs, body = agent.request(action, {"prompt": "login", "login": login,
                                                    "password": password})
        elif b'value="consent"' in body:
            if consent:
                st, hdrs, body = agent.request(action, {"prompt": "consent"})
            else:
                abort = re.search(rb'href="([^"]*/abort)"', body)
                if not abort:
                    raise RuntimeError("no Cancel link on the consent page")
                st, hdrs, body = agent.get(urllib.parse.urljoin(url, abort.group(1).decode()))
        else:
            raise RuntimeError("an unknown provider page at %s: %r" % (url, body[:300]))
        seen.append("%d POST %s" % (st, urllib.parse.urlsplit(action).path))
        if st not in (302, 303):
            raise RuntimeError("the provider's form answered %d: %r" % (st, body[:300]))
        nxt = location(action, hdrs)
        if urllib.parse.urlsplit(nxt).netloc != idp:
            return nxt
        url = nxt
    raise RuntimeError("no redirect back to the client after %s" % ", ".join(seen))


def verify_id_token(token, issuer, audience):
    """The ID token's payload, verified with npm jose against the
    provider's JWKS (RS256, issuer, audience, lifetime); RuntimeError if not."""
    script = ("import {createRemoteJWKSet, jwtVerify} from 'jose';"
              "const [t, iss, aud] = process.argv.slice(1);"
              "const {payload, protectedHeader} = await jwtVerify(t, "
              "createRemoteJWKSet(new URL(iss + '/jwks')), "
              "{issuer: iss, audience: aud, algorithms: ['RS256']});"
              "console.log(JSON.stringify({payload, protectedHeader}));")
    p = subprocess.run(["node", "--input-type=module", "-e", script, token, issuer, audience],
                       capture_output=True, text=True, timeout=30, cwd=ROOT)
    if p.returncode != 0:
        raise RuntimeError("the ID token does not verify: %s" % p.stderr.strip()[-300:])
    return json.loads(p.stdout)


def pkce():
    verifier = b64url(secrets.token_bytes(32))
    return verifier, b64url(hashlib.sha256(verifier.encode()).digest())


def auth_url(cfg, redirect_uri, state, nonce, challenge, scope="openid email profile groups"):
    return cfg["authorization_endpoint"] + "?" + urllib.parse.urlencode({
        "response_type": "code", "client_id": CLIENT_ID, "redirect_uri": redirect_uri,
        "scope": scope, "state": state, "nonce": nonce, "code_challenge": challenge,
        "code_challenge_method": "S256"})


def query(url):
    return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))


def provider_checks(label, idp, redirect_uri):
    """The provider alone, as the relying party uses it (run before a
    host takes part): discovery, code + PKCE S256, client_secret_basic,
    the ID token's signature and claims, a code used twice, a missing
    verifier, a denied consent."""
    try:
        cfg = idp.configuration()
        probs = []
        for k, want in (("issuer", idp.issuer),
                        ("code_challenge_methods_supported", ["S256"])):
            if cfg.get(k) != want:
                probs.append("%s %r, want %r" % (k, cfg.get(k), want))
        for k in ("authorization_endpoint", "token_endpoint", "jwks_uri", "end_session_endpoint"):
            if not str(cfg.get(k, "")).startswith(idp.issuer + "/"):
                probs.append("%s %r" % (k, cfg.get(k)))
        if "client_secret_basic" not in cfg.get("token_endpoint_auth_methods_supported", []):
            probs.append("no client_secret_basic")
        ok("%s: discovery names the endpoints on the issuer, S256 PKCE, client_secret_basic" % label,
           "; ".join(probs) or None)

        verifier, challenge = pkce()
        state, nonce = b64url(secrets.token_bytes(16)), b64url(secrets.token_bytes(16))
        back = provider_login(Agent(), auth_url(cfg, redirect_uri, state, nonce, challenge), "bob")
        q = query(back)
        probs = []
        if not back.startswith(redirect_uri + "?"):
            probs.append("sent to %s" % back)
        if q.get("state") != state or not q.get("code") or q.get("iss") != idp.issuer:
            probs.append("query %r" % q)
        ok("%s: the provider's login form and consent page send the browser back with a code "
           "and the state" % label, "; ".join(probs) or None)
        code = q.get("code", "")

        st, j = idp.token(code, redirect_uri, verifier=None)
        ok("%s: the code without its PKCE verifier is refused (invalid_grant)" % label,
           None if st == 400 and j.get("error") == "invalid_grant" else "%d %r" % (st, j))
        verifier, challenge = pkce()
        state, nonce = b64url(secrets.token_bytes(16)), b64url(secrets.token_bytes(16))
        back = provider_login(Agent(), auth_url(cfg, redirect_uri, state, nonce, challenge), "bob")
        code = query(back).get("code", "")
        st, j = idp.token(code, redirect_uri, verifier, secret="not-the-secret")
        ok("%s: a wrong client secret is refused (invalid_client)" % label,
           None if st == 401 and j.get("error") == "invalid_client" else "%d %r" % (st, j))
        st, j = idp.token(code, redirect_uri, verifier)
        probs = []
        if st != 200 or not j.get("id_token"):
            probs.append("token endpoint %d %r" % (st, j))
        else:
            v = verify_id_token(j["id_token"], idp.issuer, CLIENT_ID)
            p, h = v["payload"], v["protectedHeader"]
            want = {"sub": "bob", "email": "bob@example.com", "email_verified": True,
                    "groups": ["ops"], "nonce": nonce}
            got = {k: p.get(k) for k in want}
            if got != want:
                probs.append("claims %r, want %r" % (got, want))
            if h.get("alg") != "RS256" or h.get("kid") != "r1":
                probs.append("header %r" % h)
        ok("%s: the code with its verifier and client_secret_basic gives an RS256 ID token "
           "with email, email_verified, groups and the nonce" % label, "; ".join(probs) or None)
        st, j = idp.token(code, redirect_uri, verifier)
        ok("%s: the same code a second time is refused (invalid_grant)" % label,
           None if st == 400 and j.get("error") == "invalid_grant" else "%d %r" % (st, j))

        verifier, challenge = pkce()
        back = provider_login(Agent(), auth_url(cfg, redirect_uri, "s-deny", "n", challenge),
                              "bob", consent=False)
        q = query(back)
        ok("%s: cancelling consent sends the browser back with error=access_denied and the state"
           % label, None if back.startswith(redirect_uri + "?") and q.get("error") == "access_denied"
           and q.get("state") == "s-deny" and "code" not in q else "sent to %s" % back)
    except Exception as e:  # noqa: BLE001 (a crash is a failure, reported)
        ok("%s: provider checks ran" % label, repr(e))


class Host:
    """A host under test: base ("http://127.0.0.1:PORT") and audits(), every
    audit event (a dict) the host logged so far, in order."""

    def __init__(self, base, audits):
        self.base, self.audits = base, audits


def reason_after(host, seen, want, timeout=3.0):
    """The reasons of the audit events after the first `seen`, once one is
    `want` or time runs out (hosts flush their logs a little later)."""
    deadline = time.monotonic() + timeout
    while True:
        reasons = [e.get("reason") for e in host.audits()[seen:]]
        if want in reasons or time.monotonic() > deadline:
            return reasons
        time.sleep(0.05)


def expect(label, host, call, status, reason, extra=None):
    """Runs call() -> (status, headers, body) and checks its status and the
    reason of the audit line it left; extra(result) may name more problems."""
    seen = len(host.audits())
    got = call()
    st, hdrs, body = got
    probs = []
    if st != status:
        probs.append("status %d, want %d (%r)" % (st, status, body[:160]))
    if hdrs.get("x-echo"):
        probs.append("the upstream was reached")
    reasons = reason_after(host, seen, reason)
    if reason not in reasons:
        probs.append("audit reasons %r, want %r" % (reasons, reason))
    if extra:
        p = extra(got)
        if p:
            probs.append(p)
    ok(label, "; ".join(probs) or None)
    return got


def begin(agent, host, idp, nxt="/dash/"):
    """GET the provider's start route: (the authorization URL it redirects
    to, the raw Set-Cookie header), or RuntimeError."""
    st, hdrs, body = agent.get(host.base + START + "?next=" + urllib.parse.quote(nxt, safe=""))
    loc = location(host.base, hdrs) or ""
    if st != 302 or not loc.startswith(idp.issuer + "/auth?"):
        raise RuntimeError("the start route answered %d to %r (%r)" % (st, loc, body[:200]))
    if agent.cookie(OIDC_COOKIE) is None:
        raise RuntimeError("the start route set no %s cookie: %r" % (OIDC_COOKIE, hdrs.get("set-cookie")))
    return loc, hdrs.get("set-cookie", "")


def with_query(url, **changes):
    u = urllib.parse.urlsplit(url)
    q = urllib.parse.parse_qsl(u.query)
    q = [(k, changes.get(k, v)) for k, v in q]
    return urllib.parse.urlunsplit(u._replace(query=urllib.parse.urlencode(q)))


REFRESH = re.compile(r'<meta http-equiv="refresh" content="0;url=([^"]*)"')


def signed_in(agent, base, got):
    """The callback's answer to a sign-in: a page that moves on by itself
    (200, a meta refresh: the session cookie is SameSite=Strict, so a
    redirect chain begun at the provider would arrive without it), the
    session cookie set, the start's cookie cleared. (where it moves on
    to, resolved against base, or None; the problems found)."""
    st, hdrs, body = got
    probs = []
    m = REFRESH.search(body.decode("utf-8", "replace"))
    to = urllib.parse.urljoin(base + "/", html.unescape(m.group(1))) if m else None
    if st != 200 or not m or not hdrs.get("content-type", "").startswith("text/html"):
        probs.append("callback answered %d %r (%r)" % (st, hdrs.get("content-type"), body[:200]))
    if agent.cookie(SESSION_COOKIE) is None:
        probs.append("no session cookie: %r" % hdrs.get("set-cookie"))
    if agent.cookie(OIDC_COOKIE) is not None:
        probs.append("%s not cleared" % OIDC_COOKIE)
    return to, probs


def sign_in(host, idp, login):
    """A sign-in over HTTP as `login` ending on a page at the upstream:
    None, or the problems found."""
    a = Agent()
    auth, _ = begin(a, host, idp)
    to, probs = signed_in(a, host.base, a.get(provider_login(a, auth, login)))
    if not probs:
        st, _, body = a.get(to)
        user = user_seen(body)[0]
        if st != 200 or user != ACCOUNTS[login]["email"]:
            probs.append("then %s: %d, user %r (%r)" % (to, st, user, body[:160]))
    return "; ".join(probs) or None


# What token_posts' callbacks carry beside the browser's own cookie; none
# of it may reach the provider.
CLIENT_EXTRAS = {"X-Forwarded-For": "203.0.113.77", "X-Forwarded-Host": "client-host.example",
                 "X-Client-Secret": "client-secret-value"}
CLIENT_BODY = b"client-body-value"


def token_posts(label, host, idp, client_body=False):
    """Two sign-ins whose callbacks arrive at once, while the provider
    (token_delay_ms) holds each token request, so both are in flight
    together: each is a token POST of its own, with its own code, and each
    browser is signed in as its own user (one answer shared would give one
    of them the other's ID token). The provider receives exactly the
    request the core names: POST to its token endpoint, Accept, the form
    Content-Type, client_secret_basic, the form with the code, the
    redirect URI and the verifier of the start's S256 challenge, its
    Content-Length; and nothing of the client's request: not its cookie
    nor CLIENT_EXTRAS, nor (client_body) a body it sent with its GET."""
    import jwkskit  # tests/lib: the provider-side request check
    name = ("%s: two sign-ins at once are two token POSTs, each exactly the core's (method, "
            "Accept, Content-Type, client_secret_basic, the form with code, redirect URI and "
            "PKCE verifier, its length) and nothing of the client's request" % label)
    logins = ("alice", "bob")
    agents, backs, challenges = [], [], []
    for login in logins:
        a = Agent()
        auth, _ = begin(a, host, idp)
        agents.append(a)
        challenges.append(query(auth).get("code_challenge"))
        backs.append(provider_login(a, auth, login))
    seen = len(idp.token_requests())
    cookies = [a.cookie(OIDC_COOKIE).value for a in agents]
    out = [None, None]

    def one(i):
        try:
            out[i] = agents[i].request(backs[i], CLIENT_BODY if client_body else None,
                                       CLIENT_EXTRAS, method="GET")
        except Exception as e:  # noqa: BLE001 (reported below)
            out[i] = e
    threads = [threading.Thread(target=one, args=(i,), daemon=True) for i in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(2 * TIMEOUT)
    probs = []
    for i, login in enumerate(logins):
        if not isinstance(out[i], tuple):
            probs.append("%s's callback: %r" % (login, out[i]))
            continue
        to, p = signed_in(agents[i], host.base, out[i])
        probs += ["%s: %s" % (login, x) for x in p]
        if not p:
            st, _, body = agents[i].get(to)
            user = user_seen(body)[0]
            if st != 200 or user != ACCOUNTS[login]["email"]:
                probs.append("%s then %s: %d, user %r" % (login, to, st, user))
    reqs = idp.token_requests()[seen:]
    codes = [query(b).get("code") for b in backs]
    basic = base64.b64encode(("%s:%s" % (urllib.parse.quote(CLIENT_ID, safe=""),
                                         urllib.parse.quote(idp.secret, safe=""))).encode()).decode()
    client_values = list(CLIENT_EXTRAS.values()) + cookies + ([CLIENT_BODY.decode()] if client_body else [])
    got = []
    for r in reqs:
        form = urllib.parse.parse_qs(r[2].decode("latin-1"), keep_blank_values=True)
        f = {k: v[0] for k, v in form.items()}
        if sorted(form) != ["code", "code_verifier", "grant_type", "redirect_uri"] \
                or any(len(v) != 1 for v in form.values()):
            probs.append("token request form %r" % r[2][:200])
        else:
            got.append(f["code"])
            if f["grant_type"] != "authorization_code" or f["redirect_uri"] != host.base + CALLBACK:
                probs.append("grant_type %r, redirect_uri %r" % (f["grant_type"], f["redirect_uri"]))
            if f["code"] in codes and b64url(hashlib.sha256(f["code_verifier"].encode()).digest()) \
                    != challenges[codes.index(f["code"])]:
                probs.append("a code_verifier that is not its start's challenge's")
        probs += jwkskit.fetch_problems(
            r, "POST", "/token",
            [("accept", "application/json"), ("content-type", "application/x-www-form-urlencoded"),
             ("authorization", "Basic " + basic), ("content-length", str(len(r[2])))],
            body=r[2], secrets=client_values)
    if sorted(got) != sorted(codes):
        probs.append("%d token requests with codes %r, want one each of %r" % (len(reqs), got, codes))
    ok(name, "; ".join(probs) or None)


def https_checks(label, host, idp, ca):
    """A host on a TLS listener: the redirect URI the provider is given is
    https://, and every cookie of the sign-in is Secure."""
    a = Agent(ca)
    auth, set_cookie = begin(a, host, idp)
    probs = []
    if query(auth).get("redirect_uri") != host.base + CALLBACK:
        probs.append("redirect_uri %r, want %s" % (query(auth).get("redirect_uri"), host.base + CALLBACK))
    if not a.cookie(OIDC_COOKIE).secure:
        probs.append("%s without Secure: %r" % (OIDC_COOKIE, set_cookie))
    ok("%s: over https the redirect URI is https:// and %s is Secure" % (label, OIDC_COOKIE),
       "; ".join(probs) or None)
    back = provider_login(a, auth, "alice")
    to, probs = signed_in(a, host.base, a.get(back))
    plain = sorted(c.name for c in a.jar if c.name.startswith("authcore_") and not c.secure)
    if plain:
        probs.append("cookies without Secure: %s" % ", ".join(plain))
    if not probs:
        st, _, body = a.get(to)
        if st != 200 or user_seen(body)[0] != "alice@example.com":
            probs.append("then %s: %d (%r)" % (to, st, body[:160]))
    ok("%s: over https the sign-in sets only Secure cookies and lands at the upstream" % label,
       "; ".join(probs) or None)


def user_seen(body):
    """(user, roles) the echo upstream was handed."""
    try:
        j = json.loads(body)
    except ValueError:
        return None, []
    h = j.get("headers") or {}
    ident = j.get("identity") or {}
    user = h.get("x-authcore-user", ident.get("user"))
    roles = h.get("x-authcore-roles")
    roles = [r.strip() for r in roles.split(",")] if roles is not None else list(ident.get("roles") or [])
    return user, roles


def host_checks(label, host, idp, client_body=False):
    """The sign-in over HTTP and its refusals, against one host; then
    token_posts (client_body: its callbacks carry a body too)."""
    cb = host.base + CALLBACK

    def step(name, fn):
        try:
            fn()
        except Exception as e:  # noqa: BLE001 (a crash is a failure, reported)
            ok("%s: %s" % (label, name), repr(e))

    def signin():
        a = Agent()
        auth, set_cookie = begin(a, host, idp)
        q = query(auth)
        probs = []
        want = {"response_type": "code", "client_id": CLIENT_ID, "redirect_uri": cb,
                "code_challenge_method": "S256"}
        for k, v in want.items():
            if q.get(k) != v:
                probs.append("%s=%r, want %r" % (k, q.get(k), v))
        if q.get("scope", "").split() != ["openid", "email", "profile", "groups"]:
            probs.append("scope %r" % q.get("scope"))
        if not re.fullmatch(r"[A-Za-z0-9_-]{43}", q.get("code_challenge", "")):
            probs.append("code_challenge %r" % q.get("code_challenge"))
        for k in ("state", "nonce"):
            if len(q.get(k, "")) < 16:
                probs.append("%s %r" % (k, q.get(k)))
        sc = [p.strip().lower() for p in set_cookie.split("\n")
              if p.startswith(OIDC_COOKIE + "=")]
        attrs = sc[0].split(";")[1:] if sc else []
        attrs = {p.strip().split("=")[0]: p.strip() for p in attrs}
        if not sc or "httponly" not in attrs or attrs.get("samesite") != "samesite=lax" \
                or attrs.get("max-age") != "max-age=600":
            probs.append("Set-Cookie %r" % set_cookie)
        ok("%s: the start route redirects to the provider with code, S256 PKCE, state, nonce and "
           "the redirect URI, and sets %s (HttpOnly, SameSite=Lax, 10 minutes)" % (label, OIDC_COOKIE),
           "; ".join(probs) or None)
        old = a.cookie(OIDC_COOKIE)
        back = provider_login(a, auth, "bob")
        to, probs = signed_in(a, host.base, a.get(back))
        if to != host.base + "/dash/":
            probs.append("the page moves on to %r, want %s/dash/" % (to, host.base))
        st, hdrs, body = a.get(host.base + "/dash/admin/x")
        user, roles = user_seen(body)
        if st != 200 or user != "bob@example.com" or not {"admin", "viewer"} <= set(roles):
            probs.append("then /dash/admin/x: %d, user %r, roles %r (%r)" % (st, user, roles, body[:160]))
        ok("%s: over HTTP: the callback signs bob in (a page moving on to next); the upstream gets "
           "his email, role viewer and admin by his group" % label, "; ".join(probs) or None)

        # the same callback again: the cookie was cleared
        expect("%s: the callback replayed without the cookie: 400 oidc_state_invalid" % label,
               host, lambda: a.get(back), 400, "oidc_state_invalid")
        # and with the start's cookie put back: the code is spent
        a.set_cookie(old)
        expect("%s: the callback replayed with the start's cookie: the code is used twice, 401 "
               "oidc_token_error" % label, host, lambda: a.get(back), 401, "oidc_token_error")

        # logout goes on to the provider's end_session_endpoint (with the
        # host's cookies only: none of the provider's own)
        a2 = Agent()
        for c in a.jar:
            if c.name.startswith("authcore_"):
                a2.set_cookie(c)
        st, hdrs, body = a2.get(host.base + LOGOUT)
        want = idp.configuration()["end_session_endpoint"] + "?" + urllib.parse.urlencode(
            {"client_id": CLIENT_ID, "post_logout_redirect_uri": host.base + LOGIN_PAGE})
        loc = location(host.base, hdrs)
        same = loc is not None and urllib.parse.urlsplit(loc)[:3] == urllib.parse.urlsplit(want)[:3] \
            and query(loc) == query(want)
        ok("%s: logout: 303 to the provider's end_session_endpoint with client_id and "
           "post_logout_redirect_uri, the session cookie cleared" % label,
           None if st == 303 and same and a2.cookie(SESSION_COOKIE) is None
           else "%d to %r, want %r; cookie %r" % (st, loc, want, hdrs.get("set-cookie")))

    def forged_state():
        a = Agent()
        auth, _ = begin(a, host, idp)
        back = provider_login(a, auth, "alice")
        expect("%s: a callback with another state: 400 oidc_state_invalid" % label, host,
               lambda: a.get(with_query(back, state=b64url(secrets.token_bytes(16)))),
               400, "oidc_state_invalid")

    def no_cookie():
        a = Agent()
        auth, _ = begin(a, host, idp)
        back = provider_login(a, auth, "alice")
        a.drop_cookie(OIDC_COOKIE)
        expect("%s: a callback without the start's cookie (another browser): 400 oidc_state_invalid"
               % label, host, lambda: a.get(back), 400, "oidc_state_invalid")

    def wrong_nonce():
        a = Agent()
        auth, _ = begin(a, host, idp)
        back = provider_login(a, with_query(auth, nonce=b64url(secrets.token_bytes(16))), "alice")
        expect("%s: an ID token with another nonce (the authorization URL's nonce changed): 401 "
               "oidc_nonce_mismatch" % label, host, lambda: a.get(back), 401, "oidc_nonce_mismatch")

    def refused(login, status, reason, what):
        a = Agent()
        auth, _ = begin(a, host, idp)
        back = provider_login(a, auth, login)
        expect("%s: %s: %d %s, no session" % (label, what, status, reason), host,
               lambda: a.get(back), status, reason,
               lambda got: "a session cookie was set" if a.cookie(SESSION_COOKIE) else None)

    def denied():
        a = Agent()
        auth, _ = begin(a, host, idp)
        back = provider_login(a, auth, "alice", consent=False)
        if query(back).get("error") != "access_denied":
            raise RuntimeError("the provider sent %s" % back)
        expect("%s: consent cancelled at the provider (error=access_denied): 403 oidc_provider_error"
               % label, host, lambda: a.get(back), 403, "oidc_provider_error")

    def offsite_next():
        a = Agent()
        auth, _ = begin(a, host, idp, nxt="//evil.example/steal")
        to, probs = signed_in(a, host.base, a.get(provider_login(a, auth, "alice")))
        u = urllib.parse.urlsplit(to or "")
        if to and (host.base != "%s://%s" % (u.scheme, u.netloc) or not u.path.startswith(PREFIX)):
            probs.append("the page moves on to %r" % to)
        ok("%s: a start with next=//evil.example/... signs in to a path on this site" % label,
           "; ".join(probs) or None)

    step("sign-in over HTTP ran", signin)
    step("offsite next ran", offsite_next)
    step("forged state ran", forged_state)
    step("callback without cookie ran", no_cookie)
    step("wrong nonce ran", wrong_nonce)
    step("unverified email ran", lambda: refused(
        "carol", 403, "oidc_email_unverified", "an account whose email is not verified"))
    step("domain outside allow.domains ran", lambda: refused(
        "mallory", 403, "oidc_not_allowed", "an account outside allow.domains"))
    step("provider error ran", denied)
    step("two sign-ins at once ran", lambda: token_posts(label, host, idp, client_body))
