#!/usr/bin/env python3
"""Independent check of the password hash formats (docs/passwords.md).

Builds strings with nothing but Python's standard library
(hashlib.pbkdf2_hmac, base64, secrets) and checks authcore both ways:
  - Python -> C: PHC, Django, Werkzeug, passlib and taskito strings
    written here by hand, to each project's documented syntax (no
    third-party packages; tests/unit/taskito_xcheck.py uses taskito's own
    code), for random passwords (any bytes, up to the 1024-byte limit),
    salts and small counts, must verify with `build/tests/test_password --verify
    HASH` (password on stdin) and fail with a changed password;
  - near misses: each of those strings changed by one random edit (a byte
    deleted, inserted, replaced or doubled) is judged by an independent
    reference grammar written here (docs/passwords.md, one regular
    expression and length rule per format); the C code must say exactly
    what the reference says: "malformed" or "unsupported" for a string no
    format explains, else "match" or "mismatch" as hashlib computes it;
  - C -> Python: PHC strings made by `--hash` must be exactly what hashlib
    computes for the same password, salt and count.
Prints "ok - ..." / "not ok - ...: why" lines, like the other suites.

usage: password_xcheck.py build/tests/test_password
"""
import base64
import hashlib
import random
import re
import subprocess
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from checks import failed, report  # noqa: E402

rng = random.Random(20261122)


def b64(b: bytes) -> str:  # PHC: standard alphabet, no padding
    return base64.b64encode(b).decode().rstrip("=")


def ab64(b: bytes) -> str:  # passlib's adapted base64
    return b64(b).replace("+", ".")


TEXT_SALT = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


def text_salt(n: int) -> str:
    return "".join(rng.choice(TEXT_SALT) for _ in range(n))


def make(fmt: str, alg: str, pw: bytes, it: int) -> str:
    if fmt == "phc":
        salt = rng.randbytes(rng.choice([8, 16, 32]))
        dk = hashlib.pbkdf2_hmac(alg, pw, salt, it)
        return f"$pbkdf2-{alg}$i={it}${b64(salt)}${b64(dk)}"
    if fmt == "phc-l":
        salt = rng.randbytes(16)
        n = rng.choice([16, 24, 40, 65, 128])
        dk = hashlib.pbkdf2_hmac(alg, pw, salt, it, n)
        return f"$pbkdf2-{alg}$i={it},l={n}${b64(salt)}${b64(dk)}"
    if fmt == "django":  # django.contrib.auth.hashers.PBKDF2PasswordHasher
        salt = text_salt(rng.choice([12, 22]))
        dk = hashlib.pbkdf2_hmac(alg, pw, salt.encode(), it)
        return f"pbkdf2_{alg}${it}${salt}${base64.b64encode(dk).decode()}"
    if fmt == "werkzeug":  # werkzeug.security.generate_password_hash
        salt = text_salt(16)
        dk = hashlib.pbkdf2_hmac(alg, pw, salt.encode(), it)
        return f"pbkdf2:{alg}:{it}${salt}${dk.hex()}"
    if fmt == "passlib":  # passlib.hash.pbkdf2_sha256 / pbkdf2_sha512
        salt = rng.randbytes(16)
        dk = hashlib.pbkdf2_hmac(alg, pw, salt, it)
        return f"$pbkdf2-{alg}${it}${ab64(salt)}${ab64(dk)}"
    if fmt == "taskito":  # taskito.dashboard.auth.hash_password
        salt = rng.randbytes(16)
        dk = hashlib.pbkdf2_hmac(alg, pw, salt, it, 32)
        return f"pbkdf2_{alg}${it}${salt.hex()}${dk.hex()}"
    raise ValueError(fmt)


# ---- the reference grammar (docs/passwords.md), independent of the C code
DIGEST = {"sha256": 32, "sha512": 64}
COUNT = r"([1-9][0-9]*)"
TEXT_SALT_RE = r"([\x21-\x23\x25-\x7e]{1,128})"  # printable ASCII but '$'
FORMATS = [
    # (name, regex, salt decoder, hash decoder, hash must be the full digest)
    ("phc", re.compile(r"\$pbkdf2-(sha256|sha512)\$i=" + COUNT + r"(?:,l=" + COUNT +
                       r")?\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)"), "b64", "b64", False),
    ("passlib", re.compile(r"\$pbkdf2-(sha256|sha512)\$" + COUNT + r"()\$([A-Za-z0-9./]+)\$"
                           r"([A-Za-z0-9./]+)"), "ab64", "ab64", True),
    ("taskito", re.compile(r"pbkdf2_(sha256)\$" + COUNT + r"()\$([0-9a-f]{32})\$([0-9a-f]{64})"),
     "hex", "hex", True),
    ("django", re.compile(r"pbkdf2_(sha256)\$" + COUNT + r"()\$" + TEXT_SALT_RE +
                          r"\$([A-Za-z0-9+/]{43}=)"), "text", "b64pad", True),
    ("werkzeug", re.compile(r"pbkdf2:(sha256|sha512):" + COUNT + r"()\$" + TEXT_SALT_RE +
                            r"\$([0-9a-f]+)"), "text", "hex", True),
]


def decode(kind: str, t: str):
    """Bytes, or None if t is not the one canonical spelling of them."""
    try:
        if kind == "text":
            return t.encode()
        if kind == "hex":
            b = bytes.fromhex(t)
            return b if b.hex() == t else None
        if kind == "b64pad":
            b = base64.b64decode(t, validate=True)
            return b if base64.b64encode(b).decode() == t else None
        u = t.replace(".", "+") if kind == "ab64" else t
        if kind == "ab64" and "+" in t:
            return None
        b = base64.b64decode(u + "=" * (-len(u) % 4), validate=True)
        return b if b64(b) == u else None
    except ValueError:
        return None


def reference(h: str):
    """(alg, count, salt, hash) if some format explains all of h, else None."""
    for name, rx, sk, hk, full in FORMATS:
        m = rx.fullmatch(h)
        if not m:
            continue
        alg, count, l, salt_t, hash_t = m.groups()
        salt, dk = decode(sk, salt_t), decode(hk, hash_t)
        if salt is None or dk is None or not 1 <= len(salt) <= 128:
            continue
        if not 16 <= len(dk) <= 128 or (full and len(dk) != DIGEST[alg]):
            continue
        if name == "phc" and l is not None and int(l) != len(dk):
            continue
        return alg, int(count), salt, dk
    return None


def mutate(h: str) -> str:
    """One random edit: delete, insert, replace or double a byte."""
    alphabet = "$=.,:+/-_ilAZaz09fgG \t"
    i = rng.randrange(len(h) + 1)
    op = rng.randrange(4)
    if op == 0 and i < len(h):
        return h[:i] + h[i + 1:]
    if op == 1:
        return h[:i] + rng.choice(alphabet) + h[i:]
    if op == 2 and i < len(h):
        return h[:i] + rng.choice(alphabet) + h[i + 1:]
    if i < len(h):
        return h[:i] + h[i] + h[i:]
    return h + rng.choice(alphabet)


def c_verify(binary: str, h: str, pw: bytes) -> str:
    r = subprocess.run([binary, "--verify", h], input=pw, capture_output=True,
                       timeout=60)
    return r.stdout.decode().strip()


def random_password() -> bytes:
    # any bytes but NUL: a password holding NUL is refused before hashing
    # (password_nul, tests/unit/test_password.c), as HMAC's zero padding
    # would make "pw" and "pw\0" the same key
    kind = rng.randrange(4)
    if kind == 0:
        return b""
    if kind == 1:
        return rng.randbytes(rng.randrange(1, 40)).replace(b"\0", b"\1")
    if kind == 2:
        return "pässwörd-ключ-🔑".encode()[: rng.randrange(1, 30)]
    return rng.randbytes(rng.choice([64, 65, 128, 129, 300, 1024])).replace(b"\0", b"\1")


def main():
    binary = sys.argv[1] if len(sys.argv) > 1 else "build/tests/test_password"
    combos = [("phc", "sha256"), ("phc", "sha512"), ("phc-l", "sha256"),
              ("phc-l", "sha512"), ("django", "sha256"),
              ("werkzeug", "sha256"), ("werkzeug", "sha512"),
              ("passlib", "sha256"), ("passlib", "sha512"),
              ("taskito", "sha256")]
    for fmt, alg in combos:
        bad = []
        n = 0
        for _ in range(6):
            pw = random_password()
            h = make(fmt, alg, pw, rng.randrange(1, 3000))
            got = c_verify(binary, h, pw)
            if got != "match":
                bad.append(f"{h} with {pw!r}: {got}")
            wrong = pw[:-1] + bytes([pw[-1] ^ 1]) if pw else b"x"
            got = c_verify(binary, h, wrong)
            if got != "mismatch":
                bad.append(f"{h} with wrong password: {got}")
            n += 1
        report(f"python -> C: {n} {fmt} pbkdf2-{alg} strings verify, "
               "changed passwords do not", not bad, "; ".join(bad[:3]))

    # near misses against the reference grammar
    bad = []
    n = valid = 0
    for fmt, alg in combos:
        for _ in range(40):
            pw = rng.randbytes(rng.randrange(0, 12)).replace(b"\0", b"\1")
            h = make(fmt, alg, pw, rng.randrange(1, 2000))
            if reference(h) is None:
                bad.append(f"reference refuses the unmutated {h}")
            m = mutate(h)
            ref = reference(m)
            if ref is None:
                want = ("malformed", "unsupported")
            elif ref[1] > 10_000_000:
                want = ("iterations_over_limit",)
            else:
                a, it, salt, dk = ref
                got_dk = hashlib.pbkdf2_hmac(a, pw, salt, it, len(dk))
                want = ("match",) if got_dk == dk else ("mismatch",)
                valid += 1
            got = c_verify(binary, m, pw)
            if got not in want:
                bad.append(f"{m!r}: C says {got}, reference {'/'.join(want)}")
            n += 1
    report(f"near misses: {n} one-edit changes of every format ({valid} still "
           "valid strings) judged as the reference grammar judges them",
           not bad and valid > 0, "; ".join(bad[:3]))

    # the examples in ../shared/security.md
    bad = []
    for h in ["pbkdf2_sha256$1200000$seasalt0123456789ABCDE$"
              "y+4YfvOBXPd34wWHSz4Y5Mxgn6WIClbEsBowGsKpjNs=",
              "$pbkdf2-sha256$6400$0ZrzXitFSGltTQnBWOsdAw$"
              "Y11AchqV4b0sUisdZd0Xr97KWoymNE0LNNrnEgY4H9M"]:
        got = c_verify(binary, h, b"password")
        if got != "match":
            bad.append(f"{h}: {got}")
    report("security.md example strings verify with 'password'", not bad,
           "; ".join(bad))

    # limits: over-limit count and password refused, named as documented
    h = f"$pbkdf2-sha256$i=10000001${b64(b'0123456789abcdef')}${b64(bytes(32))}"
    got1 = c_verify(binary, h, b"pw")
    h2 = make("django", "sha256", b"x" * 1025, 2)
    got2 = c_verify(binary, h2, b"x" * 1025)
    report("over-limit count and password refused by name",
           got1 == "iterations_over_limit" and got2 == "password_too_long",
           f"{got1}, {got2}")

    # C -> Python
    bad = []
    n = 0
    for alg, code in (("sha256", "256"), ("sha512", "512")):
        for _ in range(8):
            pw = random_password()
            salt = rng.randbytes(16)
            it = rng.randrange(1, 3000)
            r = subprocess.run([binary, "--hash", code, str(it), salt.hex()],
                               input=pw, capture_output=True, timeout=60)
            got = r.stdout.decode().strip()
            want = (f"$pbkdf2-{alg}$i={it}${b64(salt)}$"
                    f"{b64(hashlib.pbkdf2_hmac(alg, pw, salt, it))}")
            if r.returncode != 0 or got != want:
                bad.append(f"{pw!r} {it}: C {got!r} != hashlib {want!r}")
            n += 1
    report(f"C -> python: {n} PHC strings equal hashlib's", not bad,
           "; ".join(bad[:3]))
    return 1 if failed() else 0


if __name__ == "__main__":
    sys.exit(main())
