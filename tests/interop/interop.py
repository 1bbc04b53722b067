"""Interop: for every algorithm, tokens minted by PyJWT and by jose verify in
authcore (HMAC secrets by --key-file, public keys by --pem and by --jwks);
tokens authcore signs (HMAC) verify in both; tampered, expired, wrong-audience,
alg-none and key-confusion tokens are refused by all three (authcore with the
right reason code; what PyJWT and jose say is recorded). JWS with an empty
payload ("header..signature", RFC 7515) that jose and PyJWT sign verify in
`authcore jws verify`, with no payload bytes out."""
import base64
import hashlib
import hmac
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time

import jwt  # PyJWT
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CLI = os.path.join(ROOT, "build", "bin", "authcore")
JOSE = os.path.join(ROOT, "tests", "interop", "jose_tool.mjs")
AUD, ISS = "dashboard", "https://issuer.example"
failed = 0


def report(name, probs):
    global failed
    if probs:
        failed += 1
        print("not ok - %s: %s" % (name, "; ".join(probs)), flush=True)
    else:
        print("ok - %s" % name, flush=True)


def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def ac_verify(tok, alg, keyfile, now=None, how="--key-file", extra=()):
    args = [CLI, "jwt", "verify", how, keyfile, "--alg", alg, "--aud", AUD, "--iss", ISS] + list(extra)
    if now is not None:
        args += ["--now", str(now)]
    p = subprocess.run(args, input=tok.encode(), capture_output=True, timeout=20)
    reason = p.stderr.decode().splitlines()[0] if p.stderr else ""
    return p.returncode, p.stdout.decode(), reason


def ac_sign(alg, keyfile, claims, kid=None):
    args = [CLI, "jwt", "sign", "--alg", alg, "--key-file", keyfile, "--claims", json.dumps(claims)]
    if kid:
        args += ["--kid", kid]
    p = subprocess.run(args, capture_output=True, timeout=20, check=True)
    return p.stdout.decode().strip()


def jose_sign(alg, keyfile, claims, kid=None):
    args = ["node", JOSE, "sign", alg, keyfile, json.dumps(claims)] + ([kid] if kid else [])
    return subprocess.run(args, capture_output=True, timeout=30, check=True, cwd=ROOT).stdout.decode().strip()


def jose_verify(tok, alg, keyfile):
    p = subprocess.run(["node", JOSE, "verify", alg, keyfile, AUD, ISS], input=tok.encode(),
                       capture_output=True, timeout=30, cwd=ROOT)
    return json.loads(p.stdout)


def jose_jws_empty(alg, keyfile):
    return subprocess.run(["node", JOSE, "jws-sign", alg, keyfile], capture_output=True,
                          timeout=30, check=True, cwd=ROOT).stdout.decode().strip()


def ac_jws_empty(name, tok, alg, how, keyfile):
    """authcore jws verify must take an empty-payload JWS and print nothing."""
    p = subprocess.run([CLI, "jws", "verify", how, keyfile, "--alg", alg], input=tok.encode(),
                       capture_output=True, timeout=20)
    probs = []
    if ".." not in tok:
        probs.append("not an empty payload: %s" % tok)
    if p.returncode != 0 or p.stdout != b"":
        probs.append("exit %d %r %s" % (p.returncode, p.stdout, p.stderr.decode().strip()))
    report("%s %s empty-payload JWS verifies in authcore jws verify (%s)" % (name, alg, how[2:]), probs)


def pyjwt_sign(alg, key, claims, kid=None):
    return jwt.encode(claims, key, algorithm=alg, headers={"kid": kid} if kid else None)


def pyjwt_verify(tok, alg, key):
    try:
        return {"ok": True, "payload": jwt.decode(tok, key, algorithms=[alg], audience=AUD, issuer=ISS)}
    except jwt.PyJWTError as e:
        return {"ok": False, "code": type(e).__name__}


def refused_by_all(alg, name, tok, want, ac_key, how, pyjwt_key, jose_key):
    """authcore must refuse with `want`, PyJWT and jose must refuse too; what
    each said is recorded."""
    probs = []
    rc, out, reason = ac_verify(tok, alg, ac_key, how=how)
    if rc != 1 or reason != want:
        probs.append("authcore exit %d reason %r, want 1 %r" % (rc, reason, want))
    pj, jo = pyjwt_verify(tok, alg, pyjwt_key), jose_verify(tok, alg, jose_key)
    if pj["ok"]:
        probs.append("PyJWT accepted it")
    if jo["ok"]:
        probs.append("jose accepted it")
    print("# %s %s: authcore=%s PyJWT=%s jose=%s" % (alg, name, reason, pj.get("code"), jo.get("code")))
    report("%s %s refused by authcore, PyJWT and jose" % (alg, name), probs)


def hostile_corpus(key, now):
    """One or more tokens per attack class of ../shared/security.md, each
    with the reason authcore must give. HS256 with `key` unless noted."""
    def enc(obj):
        return b64url(json.dumps(obj, separators=(",", ":")).encode()) if not isinstance(obj, bytes) else b64url(obj)

    def raw(h, p):
        """Signs exactly the text given (a careless issuer's encoding)."""
        return h + "." + p + "." + b64url(hmac.new(key, (h + "." + p).encode(), hashlib.sha256).digest())

    def hs(header, payload_bytes):
        return raw(enc(header), b64url(payload_bytes))

    good = {"sub": "alice", "aud": AUD, "iss": ISS, "exp": now + 600}
    gp = json.dumps(good).encode()
    tok = hs({"alg": "HS256"}, gp)
    h, p, sg = tok.split(".")
    c = []
    # alg none, any case, empty signature
    for a in ("none", "None", "NONE", "nOnE"):
        c.append(("alg none: %s" % a, enc({"alg": a}) + "." + p + ".", "alg_not_allowed"))
    c.append(("empty signature with alg HS256", h + "." + p + ".", "bad_signature"))
    # algorithm confusion is covered per public-key alg in main()
    # psychic signature: ES256 r = s = 0
    eh = enc({"alg": "ES256"})
    c.append(("ES256 r = s = 0 (psychic)", eh + "." + p + "." + b64url(bytes(64)), "alg_not_allowed"))
    # kid abuse: opaque bytes for lookup only
    # (verified against a key whose kid is "k1": a foreign kid is only a
    # failed lookup, never a path or a query)
    c.append(("kid path traversal", hs({"alg": "HS256", "kid": "../../../../dev/null"}, gp), "unknown_kid"))
    c.append(("kid SQL", hs({"alg": "HS256", "kid": "x' OR '1'='1"}, gp), "unknown_kid"))
    # jku / x5u / jwk / x5c
    for m, v in (("jku", "https://evil.example/jwks"), ("x5u", "https://evil.example/c.pem"),
                 ("jwk", {"kty": "oct", "k": b64url(key)}), ("x5c", ["MIIB"])):
        c.append(("%s header" % m, hs({"alg": "HS256", m: v}, gp), "header_not_allowed"))
    # non-canonical base64
    c.append(("padding in the payload, signed as sent", raw(h, p + "="), "malformed"))
    c.append(("'+' and '/' in the header", h.replace("J", "+", 1) + "." + p + "." + sg, "malformed"))
    last = sg[-1]
    alt = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    nz = alt[(alt.index(last) | 1)] if alt.index(last) % 2 == 0 else alt[alt.index(last) & ~1]
    c.append(("non-zero trailing bits in the signature", h + "." + p + "." + sg[:-1] + nz, "malformed"))
    c.append(("whitespace inside the payload, signed as sent", raw(h, p[:5] + " " + p[5:]), "malformed"))
    # duplicate names / parser differentials
    dup = ('{"sub":"alice","aud":"%s","iss":"%s","exp":%d,"sub":"admin"}' % (AUD, ISS, now + 600)).encode()
    c.append(("duplicate claim (first alice, last admin)", hs({"alg": "HS256"}, dup), "malformed"))
    c.append(("duplicate alg in the header", hs({"alg": "HS256"}, gp).replace(h, b64url(b'{"alg":"HS256","alg":"none"}'), 1), "malformed"))
    c.append(("escaped duplicate name", hs({"alg": "HS256"}, ('{"sub":"a","s\u0075b":"b","aud":"%s","iss":"%s","exp":%d}' % (AUD, ISS, now + 600)).encode()), "malformed"))
    # claim type confusion
    for name, claims in (("exp as a string", dict(good, exp=str(now + 600))),
                         ("exp as a float", dict(good, exp=now + 600.5)),
                         ("nbf as a string", dict(good, nbf="0")),
                         ("iat as a boolean", dict(good, iat=True))):
        c.append(("type confusion: " + name, hs({"alg": "HS256"}, json.dumps(claims).encode()), "bad_claim"))
    c.append(("aud array with a number", hs({"alg": "HS256"}, json.dumps(dict(good, aud=[1, AUD])).encode()), "bad_audience"))
    c.append(("exp beyond 64 bits", hs({"alg": "HS256"}, ('{"sub":"a","aud":"%s","iss":"%s","exp":99999999999999999999}' % (AUD, ISS)).encode()), "bad_claim"))
    # crit
    c.append(("crit with an unknown extension", hs({"alg": "HS256", "crit": ["x-ext"], "x-ext": 1}, gp), "crit_unsupported"))
    # size and work amplification
    c.append(("10,000 dots", "a" + "." * 10000, "token_too_large"))
    c.append(("many dots under the size cap", "." * 4000, "malformed"))
    c.append(("oversized token", h + "." + b64url(b"x" * 9000) + "." + sg, "token_too_large"))
    c.append(("JSON nested 100 deep", hs({"alg": "HS256"}, ('{"sub":"a","aud":"%s","iss":"%s","exp":%d,"x":%s%s}' % (AUD, ISS, now + 600, "[" * 100, "]" * 100)).encode()), "malformed"))
    return c


def asym_keys(d):
    """Fresh keys per family: {alg: (private PEM path, public PEM path,
    PyJWT signing key, PyJWT verifying key, JWKS path)}."""
    out = {}
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ecs = {"ES256": ec.SECP256R1(), "ES384": ec.SECP384R1(), "ES512": ec.SECP521R1()}
    for alg in ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"):
        k = rsa_key if alg[0] != "E" else ec.generate_private_key(ecs[alg])
        priv = k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                               serialization.NoEncryption())
        pub = k.public_key().public_bytes(serialization.Encoding.PEM,
                                          serialization.PublicFormat.SubjectPublicKeyInfo)
        pp, qp, jp = (os.path.join(d, "%s.%s" % (alg, x)) for x in ("key.pem", "pub.pem", "jwks.json"))
        with open(pp, "wb") as f:
            f.write(priv)
        with open(qp, "wb") as f:
            f.write(pub)
        algo = jwt.get_algorithm_by_name(alg)
        jwk = json.loads(algo.to_jwk(k.public_key()))
        jwk.update({"alg": alg, "kid": "kid-1", "use": "sig"})
        with open(jp, "w") as f:
            json.dump({"keys": [jwk]}, f)
        out[alg] = (pp, qp, priv, pub, jp)
    return out


def main():
    now = int(time.time())
    key = secrets.token_bytes(64)  # long enough for HS512
    print("# PyJWT %s; jose %s" % (jwt.__version__, json.load(open(os.path.join(ROOT, "node_modules", "jose", "package.json")))["version"]))
    with tempfile.TemporaryDirectory() as d:
        kf = os.path.join(d, "key")
        with open(kf, "wb") as f:
            f.write(key)
        base = {"sub": "alice", "roles": ["reader", "ops"], "aud": AUD, "iss": ISS, "iat": now, "exp": now + 600}
        for alg in ("HS256", "HS384", "HS512"):
            # peers mint, authcore verifies
            for lib, mint in (("PyJWT", lambda c, k=None: pyjwt_sign(alg, key, c, k)),
                              ("jose", lambda c, k=None: jose_sign(alg, kf, c, k))):
                tok = mint(base, "kid-1")
                rc, out, reason = ac_verify(tok, alg, kf)
                probs = []
                if rc != 0:
                    probs.append("exit %d reason %s" % (rc, reason))
                elif json.loads(out) != base:
                    probs.append("payload differs: %s" % out)
                report("%s %s token verifies in authcore" % (lib, alg), probs)
            # authcore mints, peers verify
            tok = ac_sign(alg, kf, base, "kid-1")
            for lib, ver in (("PyJWT", lambda t: pyjwt_verify(t, alg, key)),
                             ("jose", lambda t: jose_verify(t, alg, kf))):
                r = ver(tok)
                report("authcore %s token verifies in %s" % (alg, lib),
                       [] if r["ok"] and r["payload"] == base else ["%s" % r])
            # hostile tokens: all three refuse
            good = pyjwt_sign(alg, key, base)
            h, p, s = good.split(".")
            sig = bytearray(base64.urlsafe_b64decode(s + "=" * (-len(s) % 4)))
            sig[len(sig) // 2] ^= 0x01
            hostile = {
                "tampered signature": (h + "." + p + "." + b64url(bytes(sig)), "bad_signature"),
                "tampered payload": (h + "." + b64url(json.dumps(dict(base, sub="root")).encode()) + "." + s,
                                     "bad_signature"),
                "expired": (pyjwt_sign(alg, key, dict(base, exp=now - 3600)), "expired"),
                "wrong audience": (pyjwt_sign(alg, key, dict(base, aud="billing")), "bad_audience"),
                "alg none": (b64url(b'{"alg":"none","typ":"JWT"}') + "." + p + ".", "alg_not_allowed"),
                "alg none, any case": (b64url(b'{"alg":"nOnE"}') + "." + p + ".", "alg_not_allowed"),
            }
            for name, (tok, want) in hostile.items():
                refused_by_all(alg, name, tok, want, kf, "--key-file", key, kf)
        # empty payloads (RFC 7515 allows them): jose and PyJWT sign, authcore verifies
        ac_jws_empty("jose", jose_jws_empty("HS256", kf), "HS256", "--key-file", kf)
        ac_jws_empty("PyJWT", jwt.api_jws.encode(b"", key, algorithm="HS512"), "HS512", "--key-file", kf)
        # hostile corpus: every attack class in security.md (HS256 key)
        for name, tok, want in hostile_corpus(key[:32], now):
            k32 = os.path.join(d, "k32")
            with open(k32, "wb") as f:
                f.write(key[:32])
            rc, out, reason = ac_verify(tok, "HS256", k32, extra=["--kid", "k1"] if "kid" in name else [])
            ok_reasons = (want,)
            pj = pyjwt_verify(tok, "HS256", key[:32])
            jo = jose_verify(tok, "HS256", k32)
            print("# hostile %s: authcore=%s PyJWT=%s jose=%s" % (
                name, reason or "ACCEPTED", "ACCEPTED" if pj["ok"] else pj.get("code"),
                "ACCEPTED" if jo["ok"] else jo.get("code")))
            report("hostile corpus: %s refused by authcore as %s" % (name, "/".join(ok_reasons)),
                   [] if rc == 1 and reason in ok_reasons else
                   ["authcore exit %d reason %r" % (rc, reason)])
        # public-key algorithms: peers mint, authcore verifies via PEM and JWKS
        keys = asym_keys(d)
        for alg, (priv_path, pub_path, priv, pub, jwks_path) in keys.items():
            for lib, mint in (("PyJWT", lambda c: pyjwt_sign(alg, priv, c, "kid-1")),
                              ("jose", lambda c: jose_sign(alg, priv_path, c, "kid-1"))):
                tok = mint(base)
                for how, path in (("--pem", pub_path), ("--jwks", jwks_path)):
                    rc, out, reason = ac_verify(tok, alg, path, how=how)
                    probs = []
                    if rc != 0:
                        probs.append("exit %d reason %s" % (rc, reason))
                    elif json.loads(out) != base:
                        probs.append("payload differs: %s" % out)
                    report("%s %s token verifies in authcore (%s)" % (lib, alg, how[2:]), probs)
            ac_jws_empty("jose", jose_jws_empty(alg, priv_path), alg, "--jwks", jwks_path)
            good = pyjwt_sign(alg, priv, base)
            h, p, sg = good.split(".")
            sig = bytearray(base64.urlsafe_b64decode(sg + "=" * (-len(sg) % 4)))
            sig[len(sig) // 2] ^= 0x01
            # HS256 keyed with the public key's PEM text: the confusion class
            ch = b64url(b'{"alg":"HS256","typ":"JWT"}')
            confused = ch + "." + p + "." + b64url(hmac.new(pub, (ch + "." + p).encode(), hashlib.sha256).digest())
            hostile = {
                "tampered signature": (h + "." + p + "." + b64url(bytes(sig)), "bad_signature"),
                "expired": (pyjwt_sign(alg, priv, dict(base, exp=now - 3600)), "expired"),
                "wrong audience": (pyjwt_sign(alg, priv, dict(base, aud="billing")), "bad_audience"),
                "alg none": (b64url(b'{"alg":"none"}') + "." + p + ".", "alg_not_allowed"),
                "HS256 keyed with the public key": (confused, "alg_not_allowed"),
            }
            for name, (tok, want) in hostile.items():
                refused_by_all(alg, name, tok, want, pub_path, "--pem", pub, pub_path)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
