"""App side of upstream_identity: verify the assertion authcore adds to each
request it forwards, and give the app its user.

# replaced by authcore.identity: this is a stand-in with the same API
# (IdentityVerifier, IdentityError, IdentityMiddleware) over PyJWT, until
# the package's own verifier lands; then the apps import it from there and
# this file goes.

    verifier = IdentityVerifier(audience="taskflow", secret=KEY)   # or jwks=
    verifier.verify(token) -> {"user", "roles", "auth_method", "session", "claims"}
    app = IdentityMiddleware(app, verifier, header="x-authcore-identity")

The middleware sets scope["authcore"] in the shape AuthcoreMiddleware sets
it, so the same app glue serves in-process and behind a proxy. A request
without a valid assertion is answered 401 (a WebSocket handshake: closed
1008) unless its path is one of `public` (exact, or a prefix ending in *).
"""
import json

import jwt


class IdentityError(Exception):
    def __init__(self, reason):
        super().__init__(reason)
        self.reason = reason


class IdentityVerifier:
    def __init__(self, audience, issuer="authcore", jwks=None, secret=None, leeway=0):
        if (jwks is None) == (secret is None):
            raise TypeError("pass jwks= or secret=, not both")
        self.audience, self.issuer, self.leeway = audience, issuer, leeway
        if secret is not None:
            self.keys = {None: (secret.encode() if isinstance(secret, str) else secret, "HS256")}
        else:
            doc = json.loads(jwks) if isinstance(jwks, (str, bytes)) else jwks
            self.keys = {k.get("kid"): (jwt.PyJWK(k).key, "ES256") for k in doc["keys"]}

    def verify(self, token, now=None):
        if not token:
            raise IdentityError("missing")
        try:
            head = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise IdentityError("malformed")
        key = self.keys.get(None) or self.keys.get(head.get("kid"))
        if key is None:
            raise IdentityError("unknown_key")
        try:
            claims = jwt.decode(token, key[0], algorithms=[key[1]], audience=self.audience,
                                issuer=self.issuer, leeway=self.leeway,
                                options={"require": ["exp", "iat", "sub", "aud", "iss"]})
        except jwt.ExpiredSignatureError:
            raise IdentityError("expired")
        except jwt.ImmatureSignatureError:
            raise IdentityError("not_yet_valid")
        except jwt.InvalidAudienceError:
            raise IdentityError("wrong_audience")
        except jwt.InvalidIssuerError:
            raise IdentityError("wrong_issuer")
        except jwt.InvalidSignatureError:
            raise IdentityError("bad_signature")
        except jwt.PyJWTError:
            raise IdentityError("malformed")
        return {"user": claims["sub"], "roles": list(claims.get("roles") or []),
                "auth_method": claims.get("auth"), "session": claims.get("sid"),
                "claims": claims}


class IdentityMiddleware:
    def __init__(self, app, verifier, header="x-authcore-identity", required=True, public=()):
        self.app, self.verifier, self.required = app, verifier, required
        self.header = header.lower().encode()
        self.public = tuple(public)

    def _public(self, path):
        return any(path == p or (p.endswith("*") and path.startswith(p[:-1])) for p in self.public)

    async def __call__(self, scope, receive, send):
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        token = next((v.decode("latin-1") for k, v in scope["headers"] if k == self.header), "")
        try:
            who = self.verifier.verify(token)
        except IdentityError:
            if self.required and not self._public(scope["path"]):
                return await self._refuse(scope, receive, send)
            who = None
        scope = dict(scope)
        scope["authcore"] = None if who is None else {
            "user": who["user"], "roles": who["roles"], "auth_method": who["auth_method"],
            "client": (scope.get("client") or ("", 0))[0], "https": scope.get("scheme") in ("https", "wss"),
            "reason": "ok"}
        return await self.app(scope, receive, send)

    async def _refuse(self, scope, receive, send):
        if scope["type"] == "websocket":
            await receive()  # websocket.connect
            await send({"type": "websocket.close", "code": 1008})
            return
        body = b'{"error":"unauthenticated"}'
        await send({"type": "http.response.start", "status": 401,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})
