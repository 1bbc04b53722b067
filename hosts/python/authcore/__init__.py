"""authcore in-process for Python: the C core through ctypes, and an ASGI
middleware that makes the whole decision (login page, sessions, CSRF, API
keys, JWTs, rules, limits) before the app runs.

    from authcore import AuthcoreMiddleware
    app = AuthcoreMiddleware(app, policy)   # policy: a dict or JSON text

Behind a proxy running authcore, the app verifies the signed assertion
(the policy's upstream_identity) with the core's own JWT verifier:

    from authcore import IdentityMiddleware, IdentityVerifier
    app = IdentityMiddleware(app, IdentityVerifier("dashboard", jwks=jwks))
"""
from ._core import Auth, AuthcoreError, Decision, Verified
from .asgi import AuthcoreMiddleware
from .identity import IdentityError, IdentityMiddleware, IdentityVerifier

__all__ = ["Auth", "AuthcoreError", "AuthcoreMiddleware", "Decision", "IdentityError",
           "IdentityMiddleware", "IdentityVerifier", "Verified"]
__version__ = "0.1.0"
