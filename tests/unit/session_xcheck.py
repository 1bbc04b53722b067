#!/usr/bin/env python3
"""Independent check of the session-token, CSRF-token and API-key formats.

Re-implements docs/formats.md with nothing but Python's standard library
(hmac, hashlib, base64, struct) and checks authcore both ways:
  - C -> Python: every vector `build/tests/test_session --emit` prints is rebuilt
    here from its inputs and must match byte for byte;
  - Python -> C: tokens, CSRF tokens and API keys minted here are accepted by
    the C code (`--verify`, `--csrf-check`, `--lookup`), with the same
    fields, and deliberately broken ones are refused with the documented
    reason.
Prints "ok - ..." / "not ok - ...: why" lines, like the other suites.

usage: session_xcheck.py build/tests/test_session
"""
import hashlib
import os
import random
import re
import struct
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from checks import failed, report  # noqa: E402
from authformats import (CSRF_CONTEXT, TTL_DEFAULT, apikey, b64d,  # noqa: E402
                         csrf_token, payload, session_token)



def parse_session(token: str):
    """Reads a token per docs/formats.md (no MAC check): dict of fields."""
    m = re.fullmatch(r"v1\.([A-Za-z0-9_-]{1,32})\.([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]{43})", token)
    if not m:
        return None
    p = b64d(m.group(2))
    sid, (iat, exp) = p[:16], struct.unpack(">qq", p[16:32])
    pos = 32
    ulen = p[pos]; pos += 1
    user = p[pos:pos + ulen]; pos += ulen
    n = p[pos]; pos += 1
    roles = []
    for _ in range(n):
        rl = p[pos]; pos += 1
        roles.append(p[pos:pos + rl]); pos += rl
    if pos != len(p):
        return None
    return {"kid": m.group(1), "sid": sid, "iat": iat, "exp": exp, "user": user, "roles": roles}


def unhex_list(field):
    return [] if field == "-" else [bytes.fromhex(x) for x in field.split(",")]


def main():
    binary = sys.argv[1]

    def run(*args):
        return subprocess.run([binary, *args], capture_output=True, text=True, check=False).stdout.strip()

    # ---- C -> Python ---------------------------------------------------
    emitted = subprocess.run([binary, "--emit"], capture_output=True, text=True, check=False)
    lines = emitted.stdout.splitlines()
    report("C helper emits vectors", emitted.returncode == 0 and len(lines) >= 12,
           f"exit {emitted.returncode}, {len(lines)} lines")
    n_session = n_csrf = n_key = 0
    for line in lines:
        f = line.split(" ")
        if f[0] == "session":
            secret, kid, sid = bytes.fromhex(f[1]), f[2], bytes.fromhex(f[3])
            iat, ttl, user, roles, token = int(f[4]), int(f[5]), bytes.fromhex(f[6]), unhex_list(f[7]), f[8]
            want = session_token(secret, kid, sid, iat, ttl, user, roles)
            parsed = parse_session(token)
            report(f"C session token for kid {kid} equals the documented format rebuilt in Python",
                   token == want, f"C {token[:60]}... Python {want[:60]}...")
            report(f"C session token for kid {kid} parses with the documented layout",
                   parsed is not None and parsed["user"] == user and parsed["roles"] == roles
                   and parsed["iat"] == iat and parsed["exp"] == iat + (ttl or TTL_DEFAULT),
                   repr(parsed)[:200])
            n_session += 1
        elif f[0] == "csrf":
            secret, session, token = bytes.fromhex(f[1]), f[2], f[3]
            report(f"C CSRF token #{n_csrf} equals HMAC-SHA256 recomputed in Python",
                   token == csrf_token(secret, session), token)
            n_csrf += 1
        elif f[0] == "apikey":
            prefix, entropy, key, digest = f[1], bytes.fromhex(f[2]), f[3], f[4]
            want_key, want_hash = apikey(prefix, entropy)
            report(f"C API key with prefix {prefix} equals prefix_base64url(entropy) in Python",
                   key == want_key, f"{key} != {want_key}")
            report(f"C API key hash with prefix {prefix} equals hashlib.sha256(key).hexdigest()",
                   digest == want_hash, f"{digest} != {want_hash}")
            n_key += 1
    report("every format was cross-checked from C", n_session >= 4 and n_csrf >= 4 and n_key >= 4,
           f"{n_session} sessions, {n_csrf} csrf, {n_key} keys")

    # ---- Python -> C ---------------------------------------------------
    rng = random.Random(20240601)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    text = [c for c in (bytes(range(0x20, 0x7f)) + bytes(range(0x80, 0x100)))]
    agree = True
    why = ""
    for i in range(24):
        secret = bytes(rng.randrange(256) for _ in range(rng.randrange(32, 100)))
        kid = "".join(rng.choice(alphabet) for _ in range(rng.randrange(1, 33)))
        sid = bytes(rng.randrange(256) for _ in range(16))
        ulen = rng.choice([1, 2, 17, 128])
        user = bytes([ord("u")]) + bytes(rng.choice(text) for _ in range(ulen - 2)) + (b"z" if ulen > 1 else b"")
        user = user[:ulen]
        roles = []
        for _ in range(rng.randrange(0, 17)):
            rl = rng.choice([1, 5, 128])
            roles.append(bytes(rng.choice(b"abcdefghijklmnopqrstuvwxyz:-_./0123456789") for _ in range(rl)))
        iat = rng.choice([0, 1700000000, -12345, 2**62])
        ttl = rng.choice([0, 1, 3600, 34560000])
        token = session_token(secret, kid, sid, iat, ttl, user, roles)
        exp = iat + (ttl or TTL_DEFAULT)
        got = run("--verify", secret.hex(), kid, token, str(iat))
        roles_hex = ",".join(r.hex() for r in roles) or "-"
        want = f"ok {sid.hex()} {iat} {exp} {user.hex()} {roles_hex}"
        if got != want:
            agree, why = False, f"#{i}: C said {got[:120]!r}, expected {want[:120]!r}"
            break
        # the CSRF token made here is the one C expects for this session
        if run("--csrf-check", secret.hex(), kid, token, csrf_token(secret, token)) != "1":
            agree, why = False, f"#{i}: CSRF token from Python refused"
            break
    report("24 random session tokens minted in Python verify in C with the same fields, and their CSRF tokens pass", agree, why)

    secret = bytes(range(100, 140))
    sid = bytes(16)
    good = session_token(secret, "py", sid, 1000, 60, b"carol", [b"ops"])
    cases = [
        ("a token minted in Python at its last valid second", good, "1059", "ok"),
        ("a token minted in Python, at exp", good, "1060", "expired"),
        ("a token minted in Python, iat 61 s ahead", good, "939", "not_yet_valid"),
        ("a MAC without the context string", session_token(secret, "py", sid, 1000, 60, b"carol", [b"ops"], context=b""), "1000", "bad_signature"),
        ("a MAC with the CSRF context string", session_token(secret, "py", sid, 1000, 60, b"carol", [b"ops"], context=CSRF_CONTEXT), "1000", "bad_signature"),
        ("a payload with a trailing byte", session_token(secret, "py", sid, 1000, 60, b"", [], raw_payload=payload(sid, 1000, 1060, b"carol", [b"ops"]) + b"\x00"), "1000", "malformed"),
        ("a role with a comma", session_token(secret, "py", sid, 1000, 60, b"carol", [b"ops,admin"]), "1000", "bad_claim"),
        ("17 roles", session_token(secret, "py", sid, 1000, 60, b"carol", [b"r"] * 17), "1000", "bad_claim"),
        ("exp equal to iat", session_token(secret, "py", sid, 1000, 60, b"", [], raw_payload=payload(sid, 1000, 1000, b"carol", [])), "999", "bad_claim"),
        ("another kid", session_token(secret, "other", sid, 1000, 60, b"carol", [b"ops"]), "1000", "unknown_kid"),
        ("padding on the MAC", good + "=", "1000", "malformed"),
        ("a JWT-style token", "eyJhbGciOiJIUzI1NiJ9.e30.ZRrHA1JJJW8opsbCGfG_HACGpVUMN_a9IV7pAx_Zmeo", "1000", "malformed"),
        ("a credential tag of 7 bytes", session_token(secret, "py", sid, 1000, 60, b"", [], raw_payload=payload(sid, 1000, 1060, b"carol", [b"ops"]) + bytes(7)), "1000", "malformed"),
        ("a credential tag of 9 bytes", session_token(secret, "py", sid, 1000, 60, b"", [], raw_payload=payload(sid, 1000, 1060, b"carol", [b"ops"]) + bytes(9)), "1000", "malformed"),
    ]
    # a password session carries its hash's credential tag after the roles
    hash_text = "$pbkdf2-sha256$1000$" + "A" * 22 + "$" + "B" * 43
    tag = hashlib.sha256(b"authcore-credential-v1\0" + hash_text.encode()).digest()[:8]
    report("the credential tag of a hash string is the first 8 bytes of SHA-256 over the context and the hash, in C and here",
           run("--cred-tag", hash_text) == tag.hex(), run("--cred-tag", hash_text))
    tagged = session_token(secret, "py", sid, 1000, 60, b"", [],
                           raw_payload=payload(sid, 1000, 1060, b"carol", [b"ops"]) + tag)
    got = run("--verify", secret.hex(), "py", tagged, "1000")
    report("a session minted here with a credential tag verifies in C and reads the tag back",
           got.startswith("ok ") and got.endswith(" cred=" + tag.hex()), got)
    for name, token, now, want in cases:
        got = run("--verify", secret.hex(), "py", token, now).split(" ")[0]
        report(f"C verify of {name} is {want}", got == want, f"got {got!r}")
    other = session_token(secret, "py", bytes([1]) + bytes(15), 1000, 60, b"carol", [b"ops"])
    report("C refuses a Python CSRF token minted for another session",
           run("--csrf-check", secret.hex(), "py", good, csrf_token(secret, other)) == "0")

    hits = True
    for i in range(8):
        prefix = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(rng.randrange(1, 17)))
        key, digest = apikey(prefix, bytes(rng.randrange(256) for _ in range(32)))
        other_key, _ = apikey(prefix, bytes(rng.randrange(256) for _ in range(32)))
        if run("--lookup", key, digest) != "hit" or run("--lookup", other_key, digest) != "miss":
            hits = False
            break
    report("8 random API keys made in Python are found by their sha256 hex in C, and other keys are not", hits, key)
    key, digest = apikey("ak", bytes(32))
    odd = key[:-1] + "B"
    report("C finds a key of another spelling by its own hash only (keys of any format migrate)",
           run("--lookup", odd, hashlib.sha256(odd.encode()).hexdigest()) == "hit" and
           run("--lookup", odd, digest) == "miss")
    report("C refuses a key under 16 bytes even if its hash is stored",
           run("--lookup", "k" * 15, hashlib.sha256(b"k" * 15).hexdigest()) == "miss" and
           run("--lookup", "k" * 16, hashlib.sha256(b"k" * 16).hexdigest()) == "hit")
    return 1 if failed() else 0


if __name__ == "__main__":
    sys.exit(main())
