"""Verifying authcore's signed assertion (the policy's upstream_identity) in
an app that sits behind a proxy running authcore (nginx, Envoy, the edge
module), so the app trusts who the caller is only when authcore signed it,
not because a header arrived.

The check is the core's own JWT verifier, through the same ctypes binding
as AuthcoreMiddleware: the verifier compiles a policy whose only section is
"jwt", trusting the assertion key (the JWKS authcore serves at jwks_path,
or the HS256 secret shared with it), with the assertion's issuer, audience
and typ required and exp checked. Python only picks the header, maps the
core's reason to a short code and shapes the answer; no signature or claim
is checked here.

    from authcore import IdentityMiddleware, IdentityVerifier
    verifier = IdentityVerifier("dashboard", jwks=jwks_text)
    app = IdentityMiddleware(app, verifier)
"""
import base64
import json
import logging

from ._core import Auth, AuthcoreError
from .asgi import target

_log = logging.getLogger("authcore")

# The core's reasons (core/authcore_base.h) as the codes IdentityError
# gives: an app tells "no assertion" from "not one authcore signed" from
# "signed, but not for us or no longer", and nothing finer it could misuse.
_CODES = {
    "missing_token": "missing",
    "malformed": "malformed",
    "token_too_large": "malformed",
    "header_not_allowed": "malformed",
    "crit_unsupported": "malformed",
    "bad_typ": "malformed",
    "bad_signature": "bad_signature",
    "unknown_kid": "bad_signature",
    "alg_not_allowed": "bad_signature",
    "unsupported_alg": "bad_signature",
    "expired": "expired",
    "not_yet_valid": "not_yet_valid",
    "bad_audience": "wrong_audience",
    "bad_issuer": "wrong_issuer",
    "missing_claim": "bad_claims",
    "bad_claim": "bad_claims",
    "too_old": "bad_claims",
}

# upstream_identity.ttl's upper bound (docs/policy.md)
MAX_TTL = 3600

# The body of every refusal, the one the core's own 401 carries: the code
# goes to the log, not to the client.
UNAUTHORIZED = b'{"error":"unauthorized"}'


class IdentityError(Exception):
    """An assertion that does not verify. reason: one of "missing",
    "malformed", "bad_signature", "expired", "not_yet_valid",
    "wrong_audience", "wrong_issuer", "bad_claims", "invalid" (anything
    else). detail: the core's own reason code (core/authcore_base.h)."""

    def __init__(self, reason, detail=None):
        super().__init__("authcore: identity assertion refused: %s" % reason)
        self.reason = reason
        self.detail = detail or reason


def _jwks_doc(jwks):
    if isinstance(jwks, bytes):
        jwks = jwks.decode("utf-8")
    try:
        doc = json.loads(jwks) if isinstance(jwks, str) else jwks
    except ValueError as e:
        raise AuthcoreError("authcore: jwks is not JSON: %s" % e) from None
    if not isinstance(doc, dict) or not isinstance(doc.get("keys"), list):
        raise AuthcoreError('authcore: jwks must be a JWKS document ({"keys": [...]})')
    return doc


def _secret_key(secret):
    if isinstance(secret, str):
        return {"alg": "HS256", "secret": secret}
    if isinstance(secret, (bytes, bytearray)):
        return {"alg": "HS256",
                "secret_base64url": base64.urlsafe_b64encode(bytes(secret)).rstrip(b"=").decode()}
    raise TypeError("authcore: secret must be str or bytes")


class IdentityVerifier:
    """Verifies the assertion authcore adds to each request it forwards
    (docs/policy.md, upstream_identity).

    audience: the policy's upstream_identity.audience (a string, or a list
    of which the token's aud must hold one). issuer: its issuer (default
    "authcore"). Exactly one of jwks (ES256: the JWKS authcore serves at
    jwks_path, a dict or JSON text) and secret (HS256: the shared secret,
    str as the policy writes it, or bytes). leeway: seconds of clock skew
    allowed on exp and iat (0..86400). lib: the shared library's path
    (default as Auth). Raises AuthcoreError when the core refuses the key
    or settings, TypeError when both or neither key is given.
    """

    def __init__(self, audience, issuer="authcore", jwks=None, secret=None, leeway=0, *, lib=None):
        if (jwks is None) == (secret is None):
            raise TypeError("authcore: pass jwks= or secret=, exactly one")
        if jwks is not None:
            keys = {"jwks": _jwks_doc(jwks), "algorithms": ["ES256"]}
        else:
            keys = {"keys": [_secret_key(secret)], "algorithms": ["HS256"]}
        # max_age: an assertion lives at most upstream_identity's longest
        # ttl, so none that verifies is refused by it, and one issued in
        # the future (the proxy's clock ahead of the app's) is named so
        section = dict(keys, issuer=issuer, audience=audience, leeway=int(leeway),
                       typ="JWT", require_exp=True, max_age=MAX_TTL)
        self._section, self._lib = section, lib
        try:
            self._auth = Auth({"jwt": section}, env={}, lib=lib)
        except AuthcoreError as e:
            raise AuthcoreError("authcore: the identity verifier's settings were refused: %s"
                                % str(e).replace("authcore: invalid policy: ", "", 1)) from None

    def verify(self, token, now=None):
        """The caller an assertion names: {"user", "roles", "auth_method",
        "session", "claims"} (auth_method: the assertion's auth claim,
        "jwt", "session", "api_key" or "basic"; session: its sid, None
        unless a session; claims: every claim). token: str or bytes, None
        or empty for a request that carried none. now: unix seconds
        (default the clock). Raises IdentityError."""
        if token is None or len(token) == 0:
            raise IdentityError("missing", "missing_token")
        v = self._auth.verify(token, now)
        if not v.valid:
            raise IdentityError(_CODES.get(v.reason, "invalid"), v.reason)
        claims = v.claims or {}
        return {"user": v.user, "roles": list(v.roles), "auth_method": claims.get("auth"),
                "session": claims.get("sid"), "claims": claims}

    def close(self):
        self._auth.close()


class IdentityMiddleware:
    """An ASGI middleware for an app behind an authcore proxy: each HTTP
    request and WebSocket handshake carries the assertion in `header`; a
    verified one sets scope["authcore"] = {"user", "roles", "auth_method",
    "client", "https", "reason": "ok"}, the shape AuthcoreMiddleware
    gives (client: the peer that connected, that is the proxy; https: from
    the scope's scheme).

    required=True: a request without a valid assertion is answered 401
    with the core's generic body (a WebSocket handshake: 401 where the
    server supports websocket.http.response, else closed with 1008) and
    never reaches the app, unless its path matches one of `public`.
    required=False, or a public path: it reaches the app with user None,
    roles [] and reason the IdentityError code ("missing", "expired",
    ...). public: the policy's public patterns (authcore forwards no
    assertion on those paths), matched by the core on the request's
    canonical target, as the proxy's policy matches them. The code of a
    refusal is logged to the "authcore" logger at INFO (DEBUG when there
    was no assertion). now: a callable
    giving unix seconds (tests). Other scope types (lifespan) pass
    through.
    """

    def __init__(self, app, verifier, header="x-authcore-identity", required=True, public=(), *,
                 now=None):
        self.app = app
        self.verifier = verifier
        self.header = header.lower().encode("latin-1")
        self.required = bool(required)
        if isinstance(public, str):
            raise TypeError("authcore: public is a list of patterns")
        # which paths are public is the core's to say, on the target it
        # makes canonical, with the patterns exactly as the proxy's policy
        # matches them: a policy of those patterns and the verifier's keys
        self._public = None
        if public:
            try:
                self._public = Auth({"jwt": verifier._section, "public": list(public),
                                     "default": "authenticated"}, env={}, lib=verifier._lib)
            except AuthcoreError as e:
                raise AuthcoreError("authcore: the public patterns were refused: %s"
                                    % str(e).replace("authcore: invalid policy: ", "", 1)) from None
        self.now = now

    def _is_public(self, scope):
        if self._public is None:
            return False
        method = scope.get("method", "GET") if scope["type"] == "http" else "GET"
        d = self._public.decide({"method": method, "path": target(scope), "client_ip": "",
                                 "headers": []})
        return d.action == "allow" and d.reason == "public"

    async def __call__(self, scope, receive, send):
        kind = scope["type"]
        if kind not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        values = [v for n, v in scope.get("headers", []) if n.lower() == self.header]
        ident = None
        try:
            if len(values) > 1:
                raise IdentityError("malformed", "invalid_request")
            ident = self.verifier.verify(values[0] if values else None,
                                         None if self.now is None else int(self.now()))
            reason = "ok"
        except IdentityError as e:
            reason = e.reason
            # none at all is every public path's normal case
            _log.log(logging.DEBUG if e.reason == "missing" else logging.INFO,
                     "authcore: identity assertion refused: %s (%s)", e.reason, e.detail)
            if self.required and not self._is_public(scope):
                return await self._refuse(scope, send)
        client = scope.get("client")
        scope = dict(scope)
        scope["authcore"] = {
            "user": ident["user"] if ident else None,
            "roles": ident["roles"] if ident else [],
            "auth_method": ident["auth_method"] if ident else None,
            "client": client[0] if client else "",
            "https": scope.get("scheme") in ("https", "wss"),
            "reason": reason,
        }
        return await self.app(scope, receive, send)

    async def _refuse(self, scope, send):
        hs = [(b"content-type", b"application/json"),
              (b"content-length", str(len(UNAUTHORIZED)).encode()),
              (b"cache-control", b"no-store")]
        if scope["type"] == "websocket":
            if "websocket.http.response" in (scope.get("extensions") or {}):
                await send({"type": "websocket.http.response.start", "status": 401, "headers": hs})
                await send({"type": "websocket.http.response.body", "body": UNAUTHORIZED})
            else:
                await send({"type": "websocket.close", "code": 1008})
            return
        await send({"type": "http.response.start", "status": 401, "headers": hs})
        await send({"type": "http.response.body", "body": UNAUTHORIZED})


__all__ = ["IdentityError", "IdentityMiddleware", "IdentityVerifier"]
