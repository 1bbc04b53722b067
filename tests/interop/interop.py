"""Interop: tokens minted by PyJWT and by jose verify in authcore; tokens
authcore signs verify in both; tampered, expired, wrong-audience and alg-none
tokens are refused by all three (authcore with the right reason code)."""
import base64
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time

import jwt  # PyJWT

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


def ac_verify(tok, alg, keyfile, now=None):
    args = [CLI, "jwt", "verify", "--key-file", keyfile, "--alg", alg, "--aud", AUD, "--iss", ISS]
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
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
