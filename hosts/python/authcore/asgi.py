"""An ASGI middleware that makes the whole decision in-process.

Each HTTP request and WebSocket handshake is serialized once (method, path
with query, the peer address from scope["client"], https from
scope["scheme"], every header), put to the core, and the answer applied
once: a local answer (401, 403, 429, the login page, a redirect) is sent as
the core wrote it; an allowed request reaches the app with the core's
header removals then additions (client-sent identity headers gone, the
policy's identity headers set), its target rewritten when the core says so,
and scope["authcore"] = {"user", "roles", "auth_method", "client", "https",
"reason"}; the core's response headers (a re-signed session's Set-Cookie,
security and CORS headers) are applied to the app's answer. Nothing here
decides: every rule lives in the core.

The body is read only when the core asks for it (login posts), at most the
core's cap (8192 bytes; a longer one is refused as body_too_large, never
cut), and replayed to the app. Under a connection cap
(rate_limits.connections) a request counts while the app's call for it
runs: the count ends when the call returns or raises, for an HTTP response
(a streamed one too) and a WebSocket alike. A password check (login post, Basic
credentials) runs in a thread, so the event loop keeps serving; a client
that goes away meanwhile ends the check and gives its place back.

Under a policy whose store is Redis ("store": {"redis": ...}; needs
`pip install authcore[redis]`), each store step the core names is one
command sent with redis-py's asyncio client and awaited, so the event loop
keeps serving; connection caps are released there too (see Auth and
RedisStore in _core.py).

Behind a proxy, the policy's trusted_proxies decides which X-Forwarded-For
hops count: run the server without its own proxy-header rewriting
(uvicorn --no-proxy-headers), so scope["client"] is the peer that connected.
"""
import asyncio
import logging
import time
from urllib.parse import quote, unquote

from ._core import NEEDS_BODY, TOO_LARGE, Auth, AuthcoreError, _fields

# Statuses whose responses carry no body.
NULL_BODY = {101, 103, 204, 205, 304}
_log = logging.getLogger("authcore")


def _default_audit(line):
    logging.getLogger("authcore.audit").info("%s", line)


def _apply(headers, decided):
    """headers ([(name, value)] bytes) with the decision's response headers
    applied in order: append; "set" replaces every value of the name;
    "set_if_absent" adds only when none is there."""
    out = list(headers)
    for n, v, mode in decided:
        ln = n.lower()
        if mode == "set":
            out = [(k, x) for k, x in out if k.lower() != ln]
        elif mode == "set_if_absent" and any(k.lower() == ln for k, _ in out):
            continue
        out.append((ln, v))
    return out



def target(scope):
    """The request target as the client sent it (bytes, path and query),
    for the core to make canonical; a server that keeps no raw_path gives
    the decoded path, encoded back here."""
    path = scope.get("raw_path") or quote(scope["path"], safe="/!$&'()*+,;=:@-._~").encode()
    qs = scope.get("query_string") or b""
    if qs and b"?" not in path:
        path += b"?" + qs
    return path

class AuthcoreMiddleware:
    """authcore in front of an ASGI app.

    policy: a dict or JSON text (or pass auth=Auth(...) to share one).
    env: mapping whose AUTHCORE_* entries go to the core (default
    os.environ). audit: called with each audit line (JSON text); default
    logs it to the "authcore.audit" logger at INFO; None turns it off.
    password_slice: PBKDF2 iterations per step of a password check (run in
    a thread; between steps the check can be abandoned). now: a callable
    giving unix seconds (tests). Other scope types (lifespan) pass through.
    """

    def __init__(self, app, policy=None, *, auth=None, env=None, audit=_default_audit,
                 password_slice=20000, now=None, lib=None):
        if (policy is None) == (auth is None):
            raise TypeError("authcore: pass a policy or auth=, not both")
        self.app = app
        self.auth = auth if auth is not None else Auth(policy, env=env, lib=lib)
        for w in self.auth.warnings:
            _log.warning("authcore: policy warning at %s", w)
        self.audit = audit
        self.password_slice = int(password_slice)
        self.now = now or time.time

    async def __call__(self, scope, receive, send):
        kind = scope["type"]
        if kind not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        client = scope.get("client")
        if not client or not client[0]:
            # no peer address (a Unix socket): refuse, never guess
            _log.error("authcore: no client address in the ASGI scope")
            return await self._refuse(scope, send, 500)
        method = scope.get("method", "GET") if kind == "http" else "GET"
        path = target(scope)
        https = scope.get("scheme") in ("https", "wss")
        auth = self.auth
        try:
            fields = _fields(method, path, client[0], https, scope.get("headers", []))
            needs = auth.needs(fields)
        except AuthcoreError as e:
            _log.error("%s", e)
            return await self._refuse(scope, send, 400)

        buffered = []  # messages read from receive, replayed to the app
        body = None
        if needs & NEEDS_BODY:
            chunks, n = [], 0
            while True:
                m = await receive()
                buffered.append(m)
                if m["type"] != "http.request":
                    return  # the client went away
                c = m.get("body", b"")
                n += len(c)
                if n > auth.body_max:
                    body = TOO_LARGE
                    break
                chunks.append(c)
                if not m.get("more_body", False):
                    body = b"".join(chunks)
                    break
        now = int(self.now())
        leftover = None
        if auth.stepped(needs):
            r = await self._decide_watching(fields, body, needs, now, receive, buffered)
            if r is None:
                return  # the client went away during the check
            d, leftover = r
        else:
            d = auth._decide_fields(fields, body, needs, now)
        try:
            await self._apply(scope, receive, send, d, buffered, leftover)
        finally:
            if leftover is not None:
                leftover.cancel()
            if d.lease:
                # the stream a connection cap counts is over once the app's
                # call is: sent, failed, cancelled or closed (shielded: a
                # release that goes to Redis finishes even if this call is
                # cancelled meanwhile)
                await asyncio.shield(self._release(d.lease))

    async def _apply(self, scope, receive, send, d, buffered, leftover):
        """Sends the local answer, or runs the app with the decision
        applied."""
        auth = self.auth
        if self.audit and d.audit_text:
            self.audit(d.audit_text)
        if d.action != "allow":
            return await self._respond(scope, send, d)

        scope = dict(scope)
        rm = {n.lower() for n in d.remove}
        hs = [(n, v) for n, v in scope.get("headers", []) if n.lower() not in rm]
        roles = []
        for n, v in d.add:
            ln = n.lower()
            hs = [(k, x) for k, x in hs if k != ln]
            hs.append((ln, v))
            if ln == auth.roles_header:
                roles = [r for r in v.decode("utf-8", "replace").split(",") if r]
        scope["headers"] = hs
        if scope["type"] == "websocket":
            # the server parsed the subprotocols before the core removed a
            # token entry: the app sees what the core forwards
            scope["subprotocols"] = [p.strip() for n, v in hs if n == b"sec-websocket-protocol"
                                     for p in v.decode("latin-1").split(",") if p.strip()]
        if d.path_rewritten:
            p, _, q = d.path.partition(b"?")
            scope["raw_path"] = p
            scope["query_string"] = q
            scope["path"] = unquote(p.decode("latin-1"))
        scope["authcore"] = {"user": d.user, "roles": roles, "auth_method": d.auth_method,
                             "client": d.client.decode("utf-8", "replace"),
                             "https": d.https, "reason": d.reason}

        async def replay():
            if buffered:
                return buffered.pop(0)
            nonlocal leftover
            if leftover is not None:
                t, leftover = leftover, None
                return await t
            return await receive()

        extra = d.headers

        async def send_with(m):
            t = m["type"]
            if extra and t in ("http.response.start", "websocket.accept"):
                m = dict(m)
                m["headers"] = _apply(list(m.get("headers") or []), extra)
            await send(m)

        await self.app(scope, replay if (buffered or leftover) else receive, send_with)

    async def _release(self, lease):
        why = await self.auth.release_async(lease, int(self.now()))
        if why != "ok":
            _log.warning("authcore: a connection lease was not released: %s", why)

    def stats(self):
        """{"store": "redis" or "local", "store_errors": n}: Redis commands
        that failed (refused, timed out, an error reply), each answered as
        the policy's on_store_error says."""
        return self.auth.stats()

    async def _decide_watching(self, fields, body, needs, now, receive, buffered):
        """Decides a request that may carry a password check, watching the
        client meanwhile. Returns (decision, the task reading the next
        message or None), or None when the client went away (the check is
        then abandoned)."""
        task = asyncio.ensure_future(self.auth.decide_fields_async(
            fields, body, needs, now, self.password_slice))
        while True:
            nxt = asyncio.ensure_future(receive())
            done, _ = await asyncio.wait({task, nxt}, return_when=asyncio.FIRST_COMPLETED)
            if nxt in done:
                m = nxt.result()
                if m["type"] in ("http.disconnect", "websocket.disconnect"):
                    task.cancel()
                    try:
                        await task
                    except asyncio.CancelledError:
                        pass
                    return None
                buffered.append(m)
                continue
            if task.exception() is not None:
                nxt.cancel()  # the error propagates; nothing reads on
            return task.result(), nxt

    async def _respond(self, scope, send, d):
        hs = [(n.lower(), v) for n, v, _ in d.headers]
        body = b"" if d.status in NULL_BODY else d.body
        if d.status not in NULL_BODY and not any(n == b"content-length" for n, _ in hs):
            hs.append((b"content-length", str(len(body)).encode()))
        if scope["type"] == "websocket":
            if "websocket.http.response" in (scope.get("extensions") or {}):
                await send({"type": "websocket.http.response.start", "status": d.status,
                            "headers": hs})
                await send({"type": "websocket.http.response.body", "body": body})
            else:
                await send({"type": "websocket.close", "code": 1008})
            return
        await send({"type": "http.response.start", "status": d.status, "headers": hs})
        await send({"type": "http.response.body", "body": body})

    async def _refuse(self, scope, send, status):
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1011})
            return
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-length", b"0")]})
        await send({"type": "http.response.body", "body": b""})


__all__ = ["AuthcoreMiddleware", "Auth"]
