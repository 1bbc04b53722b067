"""Decision vectors: load, expand into concrete requests, check answers.

A vector file (tests/vectors/decisions/*.json) holds a policy and cases:

  {"description": "...",
   "keys": {"k1": "<HMAC secret text>"},         # secrets tokens are minted with
   "private_keys": {"rsa": "keys/rsa.pem"},      # RS/PS/ES signing keys (test-only)
   "policy": { ...authcore policy... },
   "cases": [{
     "name": "...",
     "request": {"method": "GET", "path": "/api/x", "client_ip": "127.0.0.1",
                 "https": false,                 # true: the client talks TLS
                 "headers": [["Authorization", "Bearer {token}"]]},
     "token": {"key": "k1", "alg": "HS256", "kid": "k1",
               "header": {...extra JOSE header members...},
               "claims": {"sub": "alice", "exp": "+3600"},
               "mutate": "flip_signature" | "alg_none" | "pss_as_pkcs1" |
                         "hmac_with_public_pem" | "der_signature" |
                         "zero_signature" | null},
     "raw_token": "literal token",             # instead of "token"
     "token_from": {"case": "an earlier case's name",   # instead of "token":
                    "signature_of": "another earlier case",  # its token with
                    "mutate": "flip_signature"},  # this one's signature,
                                                  # or flipped (both optional)
     "skip": {"workerd": "why this host cannot express the case"},
     "expect": {"status": 200, "reason": "ok",
                "upstream": {"x-authcore-user": "alice"},   # allow: upstream sees
                                                 # (a null value: lacks it)
                "upstream_absent": ["x-authcore-roles"],     # allow: upstream lacks
                "upstream_jwt": {"x-authcore-identity": {    # allow: a signed
                    "alg": "ES256", "kid": "a1", "pub": "keys/ec256.pub.pem",
                    "claims": {"sub": "alice"}, "ttl": 60, "sid": false}},  # assertion
                "headers": {"www-authenticate": "Bearer ..."},  # response headers
                "reaches_upstream": true,  # default: status 200 outside the
                                           # login endpoints (<prefix>/auth/...)
                "audit": true | false | "sampled"},  # default: see audit_expected()
     "repeat": 40                            # the case sent this many times
   }]}

Every runner checks each case's status, reason code, response headers,
Set-Cookie values, body, and what the upstream saw; a runner that cannot
observe one of these for a case that expects it fails the case (see
check()). The Envoy and nginx runners also tag each request with a unique
REQUEST_ID_HEADER that the echo upstream records, and prove an allowed case
reached the upstream exactly once and a refused one never.

Tokens are minted here with Python's own hmac and, for RS*/PS*/ES*, the
openssl command (implementations independent of authcore), at run time, with "+N"/"-N" time claims relative to `now`, so the
same file runs against real hosts that read the real clock.
"""
import base64
import glob
import hashlib
import hmac
import json
import re
import os
import subprocess

import authformats

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VECTOR_DIR = os.path.join(ROOT, "tests", "vectors", "decisions")
# Sent with every case by the HTTP runners; tests/lib/echo.py records it.
REQUEST_ID_HEADER = "x-test-request-id"
# Each "Name: value" of this request header is a header the test upstream
# (tests/lib/echo.py, the edge test app) answers with of its own, so a case
# shows how the decision's response headers meet an upstream's.
UPSTREAM_HEADER = "x-test-upstream-header"
_HASH = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}


def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def _rel_time(v, now):
    if isinstance(v, str) and len(v) > 1 and v[0] in "+-" and v[1:].isdigit():
        return now + int(v)
    return v


def _der_ints(der):
    """(r, s) from a DER ECDSA signature."""
    def take(b, i):
        tag, ln = b[i], b[i + 1]
        i += 2
        if ln & 0x80:
            n = ln & 0x7F
            ln = int.from_bytes(b[i:i + n], "big")
            i += n
        return tag, b[i:i + ln], i + ln
    _, seq, _ = take(der, 0)
    _, r, i = take(seq, 0)
    _, s, _ = take(seq, i)
    return int.from_bytes(r, "big"), int.from_bytes(s, "big")


_EC_SIZE = {"ES256": 32, "ES384": 48, "ES512": 66}


def openssl_sign(alg, key_path, data, pss=None):
    """RS*/PS*/ES* signature over data with the openssl command (ES* in
    openssl's DER form; mint() converts them to JWS's P1363 form). pss
    overrides whether RSA-PSS padding is used (default: alg is PS*)."""
    args = ["openssl", "dgst", "-sha" + alg[2:], "-sign", key_path]
    if pss if pss is not None else alg.startswith("PS"):
        args += ["-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:digest"]
    return subprocess.run(args, input=data, capture_output=True, check=True, timeout=30).stdout


def mint(spec, keys, now, private_keys=None):
    """Mints a compact JWS from a case's "token" spec."""
    alg = spec.get("alg", "HS256")
    header = {"alg": alg, "typ": "JWT"}
    if spec.get("kid") is not None:
        header["kid"] = spec["kid"]
    header.update(spec.get("header", {}))
    mutate = spec.get("mutate")
    claims = {k: _rel_time(v, now) for k, v in spec.get("claims", {}).items()}
    p = b64url(json.dumps(claims, separators=(",", ":")).encode())
    if mutate == "alg_none":
        h = b64url(json.dumps({"alg": "none", "typ": "JWT"}).encode())
        return h + "." + p + "."
    if mutate == "hmac_with_public_pem":
        # the classic confusion: HS256 keyed with the verifier's public key
        header["alg"] = "HS256"
        pem_path = os.path.join(VECTOR_DIR, "..", private_keys[spec["key"]])
        pub = subprocess.run(["openssl", "pkey", "-in", pem_path, "-pubout"],
                             capture_output=True, check=True, timeout=30).stdout
        h = b64url(json.dumps(header, separators=(",", ":")).encode())
        sig = hmac.new(pub, (h + "." + p).encode(), hashlib.sha256).digest()
        return h + "." + p + "." + b64url(sig)
    h = b64url(json.dumps(header, separators=(",", ":")).encode())
    signing_input = (h + "." + p).encode()
    if alg in _HASH:
        secret = keys[spec.get("key", "k1")].encode()
        sig = hmac.new(secret, signing_input, _HASH[alg]).digest()
    else:
        path = os.path.join(VECTOR_DIR, "..", private_keys[spec["key"]])
        sig = openssl_sign(alg, path, signing_input,
                           pss=True if mutate == "pss_as_pkcs1" else None)
        if alg.startswith("ES") and mutate != "der_signature":
            r, s = _der_ints(sig)
            n = _EC_SIZE[alg]
            sig = r.to_bytes(n, "big") + s.to_bytes(n, "big")
        if mutate == "zero_signature":
            sig = bytes(len(sig))
    if mutate == "flip_signature":
        sig = bytes([sig[0] ^ 1]) + sig[1:]
    return h + "." + p + "." + b64url(sig)


class Case:
    def __init__(self, vfile, name, method, path, client_ip, headers, expect, skip=None,
                 body=None, https=False, reaches_upstream=None):
        self.skip = skip or {}
        self.https = bool(https)
        # whether an answer must come from the upstream (an allow the host
        # forwards), not from the host itself
        if reaches_upstream is None:
            reaches_upstream = expect.get("reaches_upstream", expect.get("status") == 200)
        self.reaches_upstream = bool(reaches_upstream)
        self.body = body  # request body text (login posts), or None
        self.file = vfile
        self.name = name
        self.method = method
        self.path = path
        self.client_ip = client_ip
        self.headers = headers  # list of (name, value)
        self.expect = expect
        self.audit = "one"  # audit_expected(); VectorFile.cases() sets it
        self.group = self.id  # the case as written (repeats share it)

    @property
    def id(self):
        return "%s/%s" % (self.file, self.name)


class VectorFile:
    def __init__(self, path):
        with open(path) as f:
            self.doc = json.load(f)
        self.name = os.path.splitext(os.path.basename(path))[0]
        self.path = path
        self.policy = self.doc["policy"]
        self.policy_json = json.dumps(self.policy)
        self.keys = self.doc.get("keys", {})
        self.private_keys = self.doc.get("private_keys", {})
        # environment the host is started with (the administrator
        # bootstrap); every host passes it to the core its own way
        self.env = self.doc.get("env", {})

    def _session(self, spec, now):
        return _session_tokens(spec, self.doc.get("session_secrets", {}), now)

    def cases(self, now):
        """The file's cases made concrete at unix time `now`."""
        out = []
        minted = {}  # case name -> its token, for "token_from"
        for c in self.doc["cases"]:
            token = ""
            if "token" in c:
                token = mint(c["token"], self.keys, now, self.private_keys)
            elif "raw_token" in c:
                token = c["raw_token"]
            elif "token_from" in c:
                token = token_from(c["token_from"], minted)
            minted[c["name"]] = token
            r = c["request"]
            subst = {"{token}": token}
            if "session" in c:
                subst.update(self._session(c["session"], now))
            for name, key in self.doc.get("api_keys_raw", {}).items():
                subst["{apikey:%s}" % name] = key

            def fill(v):
                for k, x in subst.items():
                    v = v.replace(k, x)
                return v
            headers = [(n, fill(v)) for n, v in r.get("headers", [])]
            path = r.get("path", "/").replace("{token}", token)
            reach = c["expect"].get("reaches_upstream")
            if reach is None:
                reach = c["expect"]["status"] == 200 and not login_endpoint(self.policy, path)
            repeat = c.get("repeat", 1)
            for i in range(repeat):
                case = Case(self.name, c["name"] + ("#%d" % (i + 1) if repeat > 1 else ""),
                            r.get("method", "GET"), path, r.get("client_ip", "127.0.0.1"),
                            list(headers), c["expect"], c.get("skip"), r.get("body"),
                            r.get("https", False), reach)
                case.audit = audit_expected(self.policy, case)
                case.keys = self.keys  # for checking what the host signed
                case.group = "%s/%s" % (self.name, c["name"])
                out.append(case)
        return out

    @property
    def has_https(self):
        return any(c["request"].get("https") for c in self.doc["cases"])


def token_from(spec, minted):
    """The token of an earlier case, byte for byte (a repeated token), or
    its header.payload with another case's signature, or with its
    signature's first byte flipped (forgeries that share its bytes)."""
    tok = minted[spec["case"]]
    head, sig = tok.rsplit(".", 1)
    if "signature_of" in spec:
        sig = minted[spec["signature_of"]].rsplit(".", 1)[1]
    if spec.get("mutate") == "flip_signature":
        raw = base64.urlsafe_b64decode(sig + "=" * (-len(sig) % 4))
        sig = b64url(bytes([raw[0] ^ 1]) + raw[1:])
    return head + "." + sig


def audit_expected(policy, case):
    """How many audit lines a case's answer leaves: "one", "none" or
    "sampled" (none or one). A case may say ("audit": true, false,
    "sampled"); otherwise an answer that reaches the upstream (an allow) is
    audited as the policy's audit.allowed says (default "none") and every
    other answer is audited."""
    want = case.expect.get("audit")
    if want is not None:
        return {True: "one", False: "none"}.get(want, want)
    if not case.reaches_upstream:
        return "one"
    allowed = (policy.get("audit") or {}).get("allowed", "none")
    return {"all": "one", "100%": "one", "none": "none"}.get(allowed, "sampled")


# How a host reports the reason of an answer it leaves no audit line for
# (Envoy and nginx report reasons only there): check() then leaves the
# reason out and checks the rest.
UNLOGGED = "(no audit line)"

# {host: {case group: [audited, sent]}} for cases whose audit is sampled
_sampled = {}


def audit_seen(case, host, n):
    """What is wrong with `n` audit lines for one request of the case, as
    audit_expected() says; sampled ones are tallied for sampling_report()."""
    want = case.audit
    if want == "sampled":
        t = _sampled.setdefault(host, {}).setdefault(case.group, [0, 0])
        t[0] += n == 1
        t[1] += 1
        return [] if n <= 1 else ["%d audit lines, want at most 1 (sampled)" % n]
    if want == "none":
        return [] if n == 0 else ["%d audit lines, want none (an allow audit.allowed leaves out)" % n]
    return [] if n == 1 else ["%d audit lines for the request, want 1" % n]


def sampling_report(host):
    """One check per sampled case group the host ran: some of its requests
    were audited and some not (each is a coin flip at the vectors' rate, so
    a group of 40 at 50% fails by chance once in 2^39 runs)."""
    ok = True
    for group, (audited, sent) in sorted(_sampled.pop(host, {}).items()):
        name = "%s %s: sampled audit lines for some of the %d requests, not all" % (
            host, group, sent)
        if 0 < audited < sent:
            print("ok - %s (%d audited)" % (name, audited), flush=True)
        else:
            print("not ok - %s: %d audited" % (name, audited), flush=True)
            ok = False
    return ok


def login_endpoint(policy, path):
    """True for <login.prefix>/auth/..., which a host answers itself (200
    included); every other allowed request goes to the upstream."""
    login = policy.get("login")
    if not isinstance(login, dict):
        return False
    prefix = login.get("prefix", "").rstrip("/")
    return path.split("?", 1)[0].startswith(prefix + "/auth/")


def _session_tokens(spec, secrets, now):
    """{session}, {csrf}, {session_other} (a valid session of another user,
    "someone-else") and {csrf_other} (its CSRF token) for a case's "session"
    spec:
    {"key": secret name, "kid": kid written (default: key), "user", "roles",
     "iat": "+/-N", "ttl": seconds, "mutate": "flip_mac"}."""
    secret = secrets[spec["key"]].encode()
    sid = hashlib.sha256(("sid:%s:%s" % (spec.get("user"), now)).encode()).digest()[:16]
    tok = authformats.session_token(secret, spec.get("kid", spec["key"]), sid,
                                    _rel_time(spec.get("iat", "+0"), now), spec.get("ttl", 3600),
                                    spec["user"].encode(), [r.encode() for r in spec.get("roles", [])])
    other = authformats.session_token(secret, spec.get("kid", spec["key"]), bytes(16), now, 3600,
                                      b"someone-else", [])
    if spec.get("mutate") == "flip_mac":
        last = tok[-2]
        tok = tok[:-2] + ("A" if last != "A" else "B") + tok[-1]
    return {"{session}": tok, "{csrf}": authformats.csrf_token(secret, tok),
            "{session_other}": other,
            "{csrf_other}": authformats.csrf_token(secret, other)}


def load_vector_files(pattern="*.json"):
    return [VectorFile(p) for p in sorted(glob.glob(os.path.join(VECTOR_DIR, pattern)))]


def check(case, status, resp_headers, upstream_headers=None, reason=None,
          set_cookies=None, body=None):
    """Returns a list of problems (empty if the answer matches).

    status: the HTTP status the client saw (200 when allowed through);
    resp_headers: response headers, dict with lower-case names;
    upstream_headers: request headers the upstream saw (dict, lower-case
    names), or None when the answer did not come from the upstream (a
    case that must reach the upstream then fails);
    reason: the decision's reason code as the host reported it (an audit
    line, the decision object); None fails a case that expects a reason,
    UNLOGGED (no audit line, as the case expects) leaves it unchecked;
    set_cookies: every Set-Cookie value the client got, in order (a list),
    or None when the host runner cannot collect them;
    body: the response body text, or None when not collected.

    Expectations beyond status/reason/headers: "headers_match" (name ->
    regular expression the whole value must match), "set_cookies" (regular
    expressions, one per Set-Cookie, in order; [] means none at all),
    "body_contains" (strings the body must hold)."""
    e = case.expect
    # an expectation no runner checks would pass silently: refuse it
    probs = ["unknown expectation %r" % k for k in sorted(set(e) - KNOWN_EXPECT)]
    for n, rx in e.get("headers_match", {}).items():
        got = resp_headers.get(n.lower())
        if got is None or not re.fullmatch(rx, got):
            probs.append("response header %s = %r, want /%s/" % (n, got, rx))
    if "set_cookies" in e:
        if set_cookies is None:
            probs.append("runner did not collect Set-Cookie headers")
        elif len(set_cookies) != len(e["set_cookies"]) or not all(
                re.fullmatch(rx, v) for rx, v in zip(e["set_cookies"], set_cookies)):
            probs.append("set-cookie %r, want %r" % (set_cookies, e["set_cookies"]))
    if "body_contains" in e:
        if body is None:
            probs.append("runner did not collect the body")
        else:
            for want in e["body_contains"]:
                if want not in body:
                    probs.append("body lacks %r (body starts %r)" % (want, body[:120]))
    if status != e["status"]:
        probs.append("status %s, want %s" % (status, e["status"]))
    if "reason" in e and reason != UNLOGGED and reason != e["reason"]:
        probs.append("reason %s, want %s" % (reason, e["reason"]))
    for n, v in e.get("headers", {}).items():
        got = resp_headers.get(n.lower())
        if got != v:
            probs.append("response header %s = %r, want %r" % (n, got, v))
    if case.reaches_upstream and upstream_headers is None:
        probs.append("the answer did not come from the upstream")
    elif not case.reaches_upstream and upstream_headers is not None:
        probs.append("the request reached the upstream")
    elif upstream_headers is not None:
        for n, v in e.get("upstream", {}).items():
            got = upstream_headers.get(n.lower())
            if got != v:
                probs.append("upstream header %s = %r, want %r" % (n, got, v))
        for n in e.get("upstream_absent", []):
            if n.lower() in upstream_headers:
                probs.append("upstream header %s present (%r), want absent"
                             % (n, upstream_headers[n.lower()]))
        for n, spec in e.get("upstream_jwt", {}).items():
            probs += check_jwt(case, upstream_headers.get(n.lower()), spec)
    return probs


KNOWN_EXPECT = {"status", "reason", "headers", "headers_match", "set_cookies", "body_contains",
                "upstream", "upstream_absent", "upstream_jwt", "reaches_upstream", "audit"}


def openssl_verify(alg, pub_path, data, sig_der):
    """True if openssl verifies a DER ECDSA (or RSA) signature over data."""
    import tempfile
    with tempfile.NamedTemporaryFile() as f:
        f.write(sig_der)
        f.flush()
        r = subprocess.run(["openssl", "dgst", "-sha" + alg[2:], "-verify", pub_path,
                            "-signature", f.name], input=data, capture_output=True, timeout=30)
    return r.returncode == 0


def _der_sig(r, s):
    def der_int(v):
        b = v.to_bytes((v.bit_length() + 8) // 8 or 1, "big")
        return b"\x02" + bytes([len(b)]) + b
    body = der_int(r) + der_int(s)
    return b"\x30" + bytes([len(body)]) + body


def check_jwt(case, token, spec):
    """An upstream identity assertion (a JWT the host forwarded): its
    signature checked here, independently of authcore (hmac, or the
    openssl command against "pub" / the file's private key's .pub.pem),
    its header's alg and kid, the claims spec["claims"] gives exactly,
    exp - iat == spec["ttl"], iat within 10 minutes of this machine's
    clock, and "sid" present or absent as spec["sid"] says."""
    import time
    if token is None:
        return ["upstream lacks the identity assertion"]
    parts = token.split(".")
    if len(parts) != 3:
        return ["assertion %r is not a compact JWS" % token[:80]]

    def unb64(x):
        return base64.urlsafe_b64decode(x + "=" * (-len(x) % 4))
    try:
        head, claims, sig = json.loads(unb64(parts[0])), json.loads(unb64(parts[1])), unb64(parts[2])
    except ValueError as ex:
        return ["assertion does not decode: %r" % ex]
    probs = []
    alg = spec.get("alg", "ES256")
    if head.get("alg") != alg or head.get("kid") != spec.get("kid") or head.get("typ") != "JWT":
        probs.append("assertion header %r" % head)
    signing_input = (parts[0] + "." + parts[1]).encode()
    if alg == "HS256":
        secret = case.keys[spec["key"]].encode()
        ok = hmac.compare_digest(hmac.new(secret, signing_input, hashlib.sha256).digest(), sig)
    else:
        pub = os.path.join(VECTOR_DIR, "..", spec["pub"])
        ok = len(sig) == 64 and openssl_verify(
            alg, pub, signing_input, _der_sig(int.from_bytes(sig[:32], "big"),
                                              int.from_bytes(sig[32:], "big")))
    if not ok:
        probs.append("assertion signature does not verify")
    for k, v in spec.get("claims", {}).items():
        if claims.get(k) != v:
            probs.append("assertion claim %s = %r, want %r" % (k, claims.get(k), v))
    iat, exp = claims.get("iat"), claims.get("exp")
    if not isinstance(iat, int) or not isinstance(exp, int) or exp - iat != spec.get("ttl", 60) \
            or abs(iat - time.time()) > 600:
        probs.append("assertion iat %r exp %r, want now and now + %d" % (iat, exp, spec.get("ttl", 60)))
    if "sid" in spec and ("sid" in claims) != spec["sid"]:
        probs.append("assertion sid %r, want %s" % (claims.get("sid"), "one" if spec["sid"] else "none"))
    return probs


def skipped(case, host):
    """Prints a skip line (not counted) when the case says this host cannot
    express it, e.g. a runtime that normalizes URLs before user code runs."""
    why = case.skip.get(host)
    if why:
        print("skip - %s %s: %s" % (host, case.id, why), flush=True)
        return True
    return False


def report(case, probs, host):
    if probs:
        print("not ok - %s %s: %s" % (host, case.id, "; ".join(probs)), flush=True)
    else:
        print("ok - %s %s" % (host, case.id), flush=True)
    return not probs


def apply_decision(case, d):
    """For in-process runs: the upstream's view of headers after a decision's
    remove/add lists (what a host would forward)."""
    rm = {n.lower() for n in d.get("remove", [])}
    up = {}
    for n, v in case.headers:
        if n.lower() not in rm:
            up[n.lower()] = v
    for n, v in d.get("add", {}).items():
        up[n.lower()] = v
    return up


def upstream_own_headers(case):
    """The headers the test upstream answers this case with of its own:
    [(name, value)] from the case's UPSTREAM_HEADER values."""
    out = []
    for n, v in case.headers:
        if n.lower() == UPSTREAM_HEADER:
            for spec in v.split(","):
                name, _, value = spec.partition(":")
                if name.strip():
                    out.append((name.strip(), value.strip()))
    return out


def apply_response_headers(own, decided):
    """What a host makes of an upstream's answer headers `own` [(name,
    value)] and a decision's "headers" entries ([name, value] or [name,
    value, mode]), applied in order: append; "set" replaces every value of
    the name; "set_if_absent" adds only when none is there. The reference
    the in-process runners check the core's modes against (the HTTP hosts
    apply them for real). Returns [(name, value)]."""
    out = list(own)
    for e in decided:
        n, v, mode = e[0], e[1], (e[2] if len(e) > 2 else "append")
        have = any(k.lower() == n.lower() for k, _ in out)
        if mode == "set":
            out = [(k, x) for k, x in out if k.lower() != n.lower()]
        elif mode == "set_if_absent" and have:
            continue
        out.append((n, v))
    return out


def joined(pairs):
    """Headers as an HTTP client reads them: lower-case names, repeated
    ones joined with ", "."""
    d = {}
    for k, v in pairs:
        k = k.lower()
        d[k] = d[k] + ", " + v if k in d else v
    return d


def request_json(case):
    r = {"method": case.method, "path": case.path, "client_ip": case.client_ip,
         "https": case.https, "headers": [[n, v] for n, v in case.headers]}
    if case.body is not None:
        r["body"] = case.body
    return r


def audit_problems(case, status, events, host):
    """The case's reason code from its audit line, and what is wrong with the
    audit lines the request left in a host's log (as audit_seen() says, for
    this request): Envoy and nginx runners read the reason from there, and
    get UNLOGGED when there is rightly none."""
    probs = audit_seen(case, host, len(events))
    if probs:
        return None, probs
    if not events:
        return UNLOGGED, []
    ev = events[0]
    if ev.get("method") != case.method:
        probs.append("audit line for %r, not this %s" % (ev.get("method"), case.method))
    if ev.get("status") != status:
        probs.append("audit status %r, client saw %s" % (ev.get("status"), status))
    return ev.get("reason"), probs


def reach_problems(case, served):
    """What is wrong with how often the upstream served the case's request
    (by the request id the echo upstream records)."""
    want = 1 if case.reaches_upstream else 0
    if served != want:
        return ["the upstream served the request %d times, want %d" % (served, want)]
    return []
