"""Interop: for every algorithm, tokens minted by PyJWT and by jose verify in
authcore (HMAC secrets by --key-file, public keys by --pem and by --jwks);
tokens authcore signs (HMAC) verify in both; tampered, expired, wrong-audience,
alg-none and key-confusion tokens are refused by all three (authcore with the
right reason code; what PyJWT and jose say is recorded)."""
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


def ac_verify(tok, alg, keyfile, now=None, how="--key-file"):
    args = [CLI, "jwt", "verify", how, keyfile, "--alg", alg, "--aud", AUD, "--iss", ISS]
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


def pyjwt_sign(alg, key, claims, kid=None):
    return jwt.encode(claims, key, algorithm=alg, headers={"kid": kid} if kid else None)


def pyjwt_verify(tok, alg, key):
    try:
        return {"ok": True, "payload": jwt.decode(tok, key, algorithms=[alg], audience=AUD, issuer=ISS)}
    except jwt.PyJWTError as e:
        return {"ok": False, "code": type(e).__name__}


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
                probs = []
                rc, out, reason = ac_verify(tok, alg, kf)
                if rc != 1 or reason != want:
                    probs.append("authcore exit %d reason %r, want 1 %r" % (rc, reason, want))
                pj, jo = pyjwt_verify(tok, alg, key), jose_verify(tok, alg, kf)
                if pj["ok"]:
                    probs.append("PyJWT accepted it")
                if jo["ok"]:
                    probs.append("jose accepted it")
                print("# %s %s: authcore=%s PyJWT=%s jose=%s" % (alg, name, reason, pj.get("code"), jo.get("code")))
                report("%s %s refused by authcore, PyJWT and jose" % (alg, name), probs)
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
                probs = []
                rc, out, reason = ac_verify(tok, alg, pub_path, how="--pem")
                if rc != 1 or reason != want:
                    probs.append("authcore exit %d reason %r, want 1 %r" % (rc, reason, want))
                try:
                    jwt.decode(tok, pub, algorithms=[alg], audience=AUD, issuer=ISS)
                    pj = {"ok": True}
                except jwt.PyJWTError as e:
                    pj = {"ok": False, "code": type(e).__name__}
                jo = jose_verify(tok, alg, pub_path)
                if pj["ok"]:
                    probs.append("PyJWT accepted it")
                if jo["ok"]:
                    probs.append("jose accepted it")
                print("# %s %s: authcore=%s PyJWT=%s jose=%s" % (alg, name, reason, pj.get("code"), jo.get("code")))
                report("%s %s refused by authcore, PyJWT and jose" % (alg, name), probs)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
