"""authcore in-process for Python: the C core through ctypes, and an ASGI
middleware that makes the whole decision (login page, sessions, CSRF, API
keys, JWTs, rules, limits) before the app runs.

    from authcore import AuthcoreMiddleware
    app = AuthcoreMiddleware(app, policy)   # policy: a dict or JSON text
"""
from ._core import Auth, AuthcoreError, Decision, Verified
from .asgi import AuthcoreMiddleware

__all__ = ["Auth", "AuthcoreError", "AuthcoreMiddleware", "Decision", "Verified"]
__version__ = "0.1.0"
