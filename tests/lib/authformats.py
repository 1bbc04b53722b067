"""authcore's own token formats (docs/formats.md), written with Python's
standard library only: an implementation independent of the C code, used by
the cross-check and to mint session tokens, CSRF tokens and API keys for the
decision vectors."""
import base64
import hashlib
import hmac
import os
import struct

SESSION_CONTEXT = b"authcore-session-v1\x00"
CSRF_CONTEXT = b"authcore-csrf-v1\x00"
TTL_DEFAULT = 86400


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64d(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def payload(sid, iat, exp, user: bytes, roles):
    out = sid + struct.pack(">qq", iat, exp) + bytes([len(user)]) + user
    out += bytes([len(roles)])
    for r in roles:
        out += bytes([len(r)]) + r
    return out


def session_token(secret, kid, sid, iat, ttl, user, roles, context=SESSION_CONTEXT, raw_payload=None):
    exp = iat + (ttl or TTL_DEFAULT)
    p = raw_payload if raw_payload is not None else payload(sid, iat, exp, user, roles)
    signing = f"v1.{kid}.{b64(p)}"
    mac = hmac.new(secret, context + signing.encode(), hashlib.sha256).digest()
    return f"{signing}.{b64(mac)}"


def csrf_token(secret, session: str) -> str:
    return b64(hmac.new(secret, CSRF_CONTEXT + session.encode(), hashlib.sha256).digest())


def apikey(prefix: str, entropy: bytes):
    key = f"{prefix}_{b64(entropy)}"
    return key, hashlib.sha256(key.encode()).hexdigest()


def phc_pbkdf2_sha256(password: str, iterations: int, salt: bytes = None) -> str:
    """A PHC string ($pbkdf2-sha256$i=N$salt$hash, standard base64 without
    padding) made by Python's hashlib, independent of authcore."""
    salt = os.urandom(16) if salt is None else salt
    dk = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    enc = lambda b: base64.b64encode(b).rstrip(b"=").decode()  # noqa: E731
    return "$pbkdf2-sha256$i=%d$%s$%s" % (iterations, enc(salt), enc(dk))
