"""The core through ctypes: a thin shim over the flat ABI of wasm/acw.c.

A request crosses as one byte string of NUL-terminated fields (method, path
with query, client address, https "0"/"1", then header name/value pairs, then
an optional body section); the decision comes back as a view of
pointer-wide words that this module copies out at once. Every policy rule
lives in the core: nothing here decides.
"""
import asyncio
import collections
import concurrent.futures
import ctypes
import http.client
import json
import logging
import os
import ssl
import threading
import time
import urllib.parse

# ac_needs bits (core/authcore_decide.h)
NEEDS_BODY = 1
# the decision may wait (a password check, a fetch, a step of a Redis
# store: the view's ACW_NEEDS_WAIT, wasm/acw.c): decided on the stepped
# path, never in one call
NEEDS_WAIT = 256
WAIT_FETCH = 3  # answer.wait: what a pending decision waits for
WAIT_REDIS = 4  # the view's wait (wasm/acw.c ACW_WAIT_REDIS): a command for Redis first
REDIS_READS = 1  # AC_REDIS_READS: the reply is an array of bulk strings (nil: None)
ENTROPY_LEN = 16
STATE_SEED_LEN = 32  # AC_STATE_SECRET_LEN
ERR_CAP = 512
VIEW_FIXED = 18  # ACW_VIEW_FIXED
WHOLE = 1 << 20  # iterations per acw_step when a check runs whole
ACTIONS = ("allow", "respond", "pending")
MODES = ("append", "set", "set_if_absent")
LIB_NAME = "libauthcore_acw.so"

_log = logging.getLogger("authcore")

# A body over the core's cap: sent as "-", never cut.
TOO_LARGE = object()


class AuthcoreError(Exception):
    """The core refused a policy, or a request could not be put to it."""


def _find_lib(path=None):
    """The shared library: the argument, else $AUTHCORE_LIB, else next to
    this package (a wheel ships it there), else the build folder of the
    repository this file lives in."""
    here = os.path.dirname(os.path.abspath(__file__))
    cands = [path, os.environ.get("AUTHCORE_LIB"), os.path.join(here, LIB_NAME),
             os.path.join(here, "..", "..", "..", "build", "lib", LIB_NAME)]
    for c in cands:
        if c and os.path.exists(c):
            return os.path.abspath(c)
    raise AuthcoreError("authcore: %s not found (make lib python; or set AUTHCORE_LIB)" % LIB_NAME)


_libs = {}
_libs_lock = threading.Lock()


def _load(path):
    with _libs_lock:
        if path in _libs:
            return _libs[path]
        L = ctypes.CDLL(path)
        P, S, D = ctypes.c_void_p, ctypes.c_size_t, ctypes.c_double
        SP = ctypes.POINTER(ctypes.c_size_t)
        sigs = {
            "acw_load": (P, [ctypes.c_char_p, S, ctypes.c_char_p, S, ctypes.c_char_p, S]),
            "acw_unload": (None, [P]),
            "acw_seed": (ctypes.c_int, [P, ctypes.c_char_p, S]),
            "acw_warnings": (S, [P, ctypes.c_char_p, S]),
            "acw_body_max": (S, []),
            "acw_set_view": (None, [P, ctypes.c_int]),
            "acw_reason_name": (ctypes.c_char_p, [ctypes.c_int]),
            "acw_needs": (ctypes.c_int, [P, ctypes.c_char_p, S]),
            "acw_decide": (P, [P, ctypes.c_char_p, S, D, ctypes.c_char_p, S, SP]),
            "acw_decision_new": (P, []),
            "acw_decision_free": (None, [P]),
            "acw_begin": (P, [P, P, ctypes.c_char_p, S, D, ctypes.c_char_p, S, SP]),
            "acw_step": (S, [P, S]),
            "acw_resume": (P, [P, P, ctypes.c_char_p, S, D, ctypes.c_char_p, S, SP]),
            "acw_abandon": (None, [P, P]),
            "acw_jwt_verify": (P, [P, ctypes.c_char_p, S, D]),
            "acw_release": (ctypes.c_int, [P, ctypes.c_char_p, S, D]),
            "acw_policy_redis": (P, [P]),
            "acw_release_begin": (P, [P, P, ctypes.c_char_p, S, D, SP]),
            "acw_redis_reply": (P, [P, P, ctypes.c_char_p, S, D, ctypes.c_char_p, S,
                                    ctypes.c_int, ctypes.c_char_p, S, S, D, SP]),
            "acw_fetched": (ctypes.c_int, [P, P, ctypes.c_int, ctypes.c_char_p, S,
                                           ctypes.c_char_p, S, D]),
        }
        for name, (res, args) in sigs.items():
            f = getattr(L, name)
            f.restype, f.argtypes = res, args
        reasons = []
        for i in range(256):
            n = L.acw_reason_name(i).decode()
            if n == "unknown":
                break
            reasons.append(n)
        _libs[path] = (L, reasons)
        return _libs[path]


def _text(b):
    return b.decode("utf-8", "replace")


class Fetch(collections.namedtuple("Fetch", "url max_bytes timeout_ms method headers body")):
    """The request a decision pending on a fetch names: the URL, the byte
    cap and the timeout of the answer, the method, the headers to send
    ([(name, value)], bytes) and the body (bytes; empty for a GET)."""
    __slots__ = ()


class Decision:
    """A decision as ac_decision_json describes it, plus the request as
    decided (path, client, https) and auth_method. Header names and values
    are bytes (as ASGI carries them); user and audit_text are text. lease:
    the bytes a connection cap counts the stream by (None: none), for
    Auth.release when the stream ends."""

    __slots__ = ("action", "status", "reason", "remove", "add", "headers", "body",
                 "user", "audit_text", "path", "path_rewritten", "client", "https",
                 "auth_method", "lease", "wait", "fetch", "redis")

    def as_json(self):
        """The object ac_decision_json() writes (text values)."""
        hs = []
        for n, v, m in self.headers:
            e = [_text(n), _text(v)]
            if m != "append":
                e.append(m)
            hs.append(e)
        out = {"action": self.action, "status": self.status, "reason": self.reason,
                "remove": [_text(n) for n in self.remove],
                "add": {_text(n): _text(v) for n, v in self.add},
                "headers": hs, "body": _text(self.body), "user": self.user,
                "audit": json.loads(self.audit_text) if self.audit_text else None,
                "path": _text(self.path), "path_rewritten": self.path_rewritten,
                "client": _text(self.client), "https": self.https,
                "auth_method": self.auth_method}
        if self.lease:
            out["lease"] = self.lease.hex()
        return out


class Verified:
    __slots__ = ("valid", "reason", "user", "roles", "claims")

    def __init__(self, valid, reason, user, roles, claims):
        self.valid, self.reason, self.user, self.roles, self.claims = (
            valid, reason, user, roles, claims)


def _fields(method, path, client, https, headers):
    """The request's fields as bytes (str is taken as UTF-8, as a client
    would send it)."""
    def b(x):
        return x if isinstance(x, bytes) else str(x).encode("utf-8")
    out = [b(method), b(path), b(client or b""), b"1" if https else b"0"]
    for n, v in headers:
        n = b(n)
        if not n:
            raise AuthcoreError("authcore: a header name is empty")
        out.append(n)
        out.append(b(v))
    for f in out:
        if b"\0" in f:
            raise AuthcoreError("authcore: a request field contains NUL")
    return out


def _wire(fields, body=None):
    w = b"\0".join(fields) + b"\0"
    if body is TOO_LARGE:
        w += b"\0-\0"
    elif body is not None:
        w += b"\0" + str(len(body)).encode() + b"\0" + bytes(body)
    return w


class Auth:
    """A compiled policy with its own login state and rate-limit table.

    policy: a dict or JSON text. env: a mapping; its AUTHCORE_* string
    entries go to the core (AUTHCORE_ADMIN_USER and
    AUTHCORE_ADMIN_PASSWORD_HASH add the first administrator); default
    os.environ. lib: the shared library's path (default: see _find_lib).
    Raises AuthcoreError "authcore: invalid policy: <JSON path>: <what>".

    Calls on the context are serialized by a lock; password checks (the
    stepped path) run outside it, so other requests are decided meanwhile.
    """

    def __init__(self, policy, env=None, lib=None):
        self._lib, self._reasons = _load(_find_lib(lib))
        L = self._lib
        text = policy if isinstance(policy, (str, bytes)) else json.dumps(policy)
        pj = text if isinstance(text, bytes) else text.encode("utf-8")
        self.policy = json.loads(pj)
        env = os.environ if env is None else env
        envb = b"".join(("%s=%s" % (k, v)).encode() + b"\0" for k, v in env.items()
                        if k.startswith("AUTHCORE_") and isinstance(v, str)
                        and "=" not in k and "\0" not in k + v)
        err = ctypes.create_string_buffer(ERR_CAP)
        self._ctx = L.acw_load(pj, len(pj), err, ERR_CAP, envb, len(envb))
        if not self._ctx:
            raise AuthcoreError("authcore: invalid policy: " + _text(err.value))
        self._store = None
        cfg = _redis_config(L, self._ctx)
        if cfg is not None:
            try:
                self._store = RedisStore(cfg)
            except AuthcoreError:
                L.acw_unload(self._ctx)
                self._ctx = None
                raise
        self._lock = threading.Lock()
        L.acw_set_view(self._ctx, 1)
        wb = ctypes.create_string_buffer(ERR_CAP)
        n = L.acw_warnings(self._ctx, wb, ERR_CAP)
        self.warnings = [w for w in _text(wb.value).split("\n") if w] if n else []
        # Python has randomness at any time: the state is keyed here
        if L.acw_seed(self._ctx, os.urandom(STATE_SEED_LEN), STATE_SEED_LEN) != 0:
            L.acw_unload(self._ctx)
            self._ctx = None
            raise AuthcoreError("authcore: the core refused the state's key")
        self.body_max = L.acw_body_max()
        ih = self.policy.get("identity_headers") or {}
        # the header the core puts the roles in (docs/policy.md's default)
        self.roles_header = str(ih.get("roles", "x-authcore-roles")).lower().encode()
        self._outlen = ctypes.c_size_t()

    # -- the view ---------------------------------------------------------

    def _read(self, out):
        if not out:
            raise AuthcoreError("authcore: the core could not read the request")
        W = (ctypes.c_size_t * VIEW_FIXED).from_address(out)
        nr, na, nh = W[3], W[4], W[5]
        total = VIEW_FIXED + 2 * nr + 4 * na + 5 * nh + 12
        W = (ctypes.c_size_t * total).from_address(out)
        nf = W[total - 1]  # the fetch's header count
        total += 4 * nf + 2
        W = (ctypes.c_size_t * total).from_address(out)
        s = ctypes.string_at

        def at(p, n):
            return s(p, n) if n else b""
        d = Decision()
        d.action = ACTIONS[W[0]]
        d.status = W[1]
        d.reason = self._reasons[W[2]] if W[2] < len(self._reasons) else "unknown"
        d.body = at(W[6], W[7])
        d.user = _text(at(W[8], W[9])) if W[8] else None
        d.audit_text = _text(at(W[10], W[11]))
        d.path = at(W[12], W[13])
        d.path_rewritten = W[14] != 0
        d.client = at(W[15], W[16])
        d.https = W[17] != 0
        k = VIEW_FIXED
        d.remove = []
        for _ in range(nr):
            d.remove.append(at(W[k], W[k + 1]))
            k += 2
        d.add = []
        for _ in range(na):
            d.add.append((at(W[k], W[k + 1]), at(W[k + 2], W[k + 3])))
            k += 4
        d.headers = []
        for _ in range(nh):
            d.headers.append((at(W[k], W[k + 1]), at(W[k + 2], W[k + 3]), MODES[W[k + 4]]))
            k += 5
        d.auth_method = _text(at(W[k], W[k + 1])) or None
        d.lease = at(W[k + 2], W[k + 3]) or None
        d.wait = W[k + 4]
        # the request a pending decision waits for, exactly as the core
        # names it (fetch() sends it)
        d.fetch = None
        if d.wait == WAIT_FETCH:
            hs = [(at(W[k + 12 + 4 * i], W[k + 13 + 4 * i]), at(W[k + 14 + 4 * i], W[k + 15 + 4 * i]))
                  for i in range(W[k + 11])]
            j = k + 12 + 4 * W[k + 11]
            d.fetch = Fetch(_text(at(W[k + 5], W[k + 6])), W[k + 7], W[k + 8],
                            _text(at(W[k + 9], W[k + 10])), hs, at(W[j], W[j + 1]))
        # then shareable, and the command for Redis: kind, argc, argv
        d.redis = None
        if d.wait == WAIT_REDIS:
            W = (ctypes.c_size_t * (total + 3)).from_address(out)
            kind, argc = W[total + 1], W[total + 2]
            W = (ctypes.c_size_t * (total + 3 + 2 * argc)).from_address(out)
            d.redis = (kind, [at(W[total + 3 + 2 * i], W[total + 4 + 2 * i]) for i in range(argc)])
        return d

    def _live(self):
        if self._ctx is None:
            raise AuthcoreError("authcore: used after close()")

    # -- deciding ---------------------------------------------------------

    def needs(self, fields):
        """The AC_NEEDS_* bits of a request (fields as _fields gives)."""
        self._live()
        w = _wire(fields)
        with self._lock:
            n = self._lib.acw_needs(self._ctx, w, len(w))
        if n < 0:
            raise AuthcoreError("authcore: the core could not read the request")
        return n

    def _call(self, fn, *args):
        ent = os.urandom(ENTROPY_LEN)
        with self._lock:
            self._live()
            return self._read(fn(self._ctx, *args, ent, ENTROPY_LEN, ctypes.byref(self._outlen)))

    def stepped(self, needs):
        """Whether a request with these AC_NEEDS_* bits is decided on the
        stepped path: the core says it may wait (ACW_NEEDS_WAIT, from
        ac_needs_wait: a password check, a fetch, a step of a Redis store)."""
        return bool(needs & NEEDS_WAIT)

    def _decide_fields(self, fields, body, needs, now):
        """Decides whole (a password check runs inside the call; a Redis
        command is sent with the blocking client)."""
        w = _wire(fields, body)
        if not self.stepped(needs):
            return self._call(self._lib.acw_decide, w, len(w), float(now))
        d = self._lib.acw_decision_new()
        if not d:
            raise MemoryError("authcore: no memory for a decision")
        try:
            r = self._call(self._lib.acw_begin, d, w, len(w), float(now))
            while r.action == "pending" or r.wait == WAIT_REDIS:
                if r.wait == WAIT_REDIS:
                    r = self._redis_reply(d, r, w, now, self._store.send(r.redis[1]))
                    continue
                if r.wait == WAIT_FETCH:
                    self._fetched(d, fetch(*r.fetch), now)
                while self._lib.acw_step(d, WHOLE) != 0:
                    pass
                r = self._call(self._lib.acw_resume, d, w, len(w), float(now))
            return r
        finally:
            self._lib.acw_decision_free(d)

    async def decide_fields_async(self, fields, body, needs, now, slice_=20000, executor=None):
        """As _decide_fields, but a password check runs in an executor's
        thread, `slice_` iterations per acw_step, so the event loop keeps
        serving. Cancelled while a check runs (the client went away): the
        check stops after its slice and gives its place back to the core
        (acw_abandon), then CancelledError propagates."""
        w = _wire(fields, body)
        if not self.stepped(needs):
            return self._call(self._lib.acw_decide, w, len(w), float(now))
        L = self._lib
        d = L.acw_decision_new()
        if not d:
            raise MemoryError("authcore: no memory for a decision")
        cf = None
        try:
            r = self._call(L.acw_begin, d, w, len(w), float(now))
            while r.action == "pending" or r.wait == WAIT_REDIS:
                if r.wait == WAIT_REDIS:
                    # the store step the core names (reads, or writes),
                    # awaited on the event loop; the answer may name the
                    # next one, whatever its action
                    try:
                        got = await self._store.send_async(r.redis[1])
                    except asyncio.CancelledError:
                        with self._lock:
                            if self._ctx is not None:
                                L.acw_abandon(self._ctx, d)
                        raise
                    r = self._redis_reply(d, r, w, now, got)
                    continue
                stop = threading.Event()

                def run(r=r):
                    if r.wait == WAIT_FETCH:
                        # the request the core names, fetched off the loop
                        return fetch(*r.fetch)
                    while not stop.is_set():
                        if L.acw_step(d, slice_) == 0:
                            return True
                    return False
                cf = (executor or _executor()).submit(run)
                try:
                    got = await asyncio.wrap_future(cf)
                except asyncio.CancelledError:
                    stop.set()
                    concurrent.futures.wait([cf])  # at most one slice
                    with self._lock:
                        if self._ctx is not None:
                            L.acw_abandon(self._ctx, d)
                    raise
                cf = None
                if r.wait == WAIT_FETCH:
                    self._fetched(d, got, now)
                r = self._call(L.acw_resume, d, w, len(w), float(now))
            return r
        finally:
            if cf is not None:
                concurrent.futures.wait([cf])
            L.acw_decision_free(d)  # wipes the check's key material

    def _redis_reply(self, d, r, w, now, reply):
        """Hands Redis's reply (or REDIS_FAILED) to the command r names, for
        the request bytes w (b"": a release); returns the next view."""
        kind = r.redis[0]
        items, applied, error = [], -1.0, 0
        if reply is REDIS_FAILED:
            error = 1
        elif kind == REDIS_READS:
            if isinstance(reply, list) and all(x is None or isinstance(x, bytes) for x in reply):
                items = reply
            else:
                error = self._store.failed("a reply of the wrong shape to a read")
        elif isinstance(reply, int) and not isinstance(reply, bool):
            applied = float(reply)
        else:
            error = self._store.failed("a reply of the wrong shape to a write")
        packed = b"".join(b"\xff\xff\xff\xff" if x is None else len(x).to_bytes(4, "little") + x
                          for x in items)
        ent = os.urandom(ENTROPY_LEN)
        with self._lock:
            self._live()
            return self._read(self._lib.acw_redis_reply(
                self._ctx, d, w, len(w), float(now), ent, ENTROPY_LEN, error, packed, len(packed),
                len(items), applied, ctypes.byref(self._outlen)))

    def _fetched(self, d, got, now):
        """Hands a fetch's (status, content type, body) to the pending d."""
        status, ctype, body = got
        with self._lock:
            self._live()
            self._lib.acw_fetched(self._ctx, d, status, ctype, len(ctype), body, len(body), float(now))

    def decide(self, request, now=None):
        """Decides a plain request {method, path, client_ip, https, headers,
        body} (headers: [(name, value)], str or bytes; body sent only when
        the core asks for it). A password check runs whole. Returns a
        Decision."""
        fields = _fields(request.get("method", "GET"), request.get("path", "/"),
                         request.get("client_ip", ""), request.get("https", False),
                         request.get("headers", []))
        needs = self.needs(fields)
        body = None
        if needs & NEEDS_BODY:
            body = request.get("body") or b""
            if isinstance(body, str):
                body = body.encode("utf-8")
            if len(body) > self.body_max:
                body = TOO_LARGE
        return self._decide_fields(fields, body, needs, int(time.time() if now is None else now))

    def release(self, lease, now=None):
        """Ends a connection cap's count (a Decision's lease) once its stream
        has ended, for any reason; call it once per lease. Returns the
        reason: "ok", or store_unavailable / store_conflict when the
        release failed (the counter then stays one too high). Under a
        policy whose store is Redis the commands are sent with the blocking
        client: on an event loop, await release_async instead."""
        now = int(time.time() if now is None else now)
        if self._store is not None:
            return self._release_shared(lease, now, None)
        with self._lock:
            if self._ctx is None:
                return "ok"  # the table went with the context
            rc = self._lib.acw_release(self._ctx, lease, len(lease), float(now))
        return self._reasons[rc] if rc < len(self._reasons) else "unknown"

    async def release_async(self, lease, now=None):
        """As release, each Redis command awaited on the event loop."""
        now = int(time.time() if now is None else now)
        if self._store is None:
            return self.release(lease, now)
        return await self._release_shared(lease, now, self._store.send_async)

    def _release_shared(self, lease, now, send_async):
        """A release whose counters are Redis's, on a decision of its own:
        its store steps sent (send_async None: blocking; else a coroutine
        is returned)."""
        L = self._lib
        d = L.acw_decision_new()
        if not d:
            raise MemoryError("authcore: no memory for a decision")

        def begin():
            with self._lock:
                self._live()
                out = L.acw_release_begin(self._ctx, d, lease, len(lease), float(now),
                                          ctypes.byref(self._outlen))
                return self._read(out) if out else None

        if send_async is None:
            try:
                r = begin()
                if r is None:
                    return "invalid_request"
                while r.wait == WAIT_REDIS:
                    r = self._redis_reply(d, r, b"", now, self._store.send(r.redis[1]))
                return r.reason
            finally:
                L.acw_decision_free(d)

        async def run():
            try:
                r = begin()
                if r is None:
                    return "invalid_request"
                while r.wait == WAIT_REDIS:
                    r = self._redis_reply(d, r, b"", now, await send_async(r.redis[1]))
                return r.reason
            finally:
                L.acw_decision_free(d)
        return run()

    def stats(self):
        """Counters of this policy's context: {"store": "redis" or "local",
        "store_errors": Redis commands that failed (refused, timed out, an
        error reply, a reply of the wrong shape)}."""
        if self._store is None:
            return {"store": "local", "store_errors": 0}
        return {"store": "redis", "store_errors": self._store.errors}

    def verify(self, token, now=None):
        """Verifies a compact JWS/JWT with the policy's "jwt" keys and claim
        checks only. Returns Verified(valid, reason, user, roles, claims)."""
        t = token if isinstance(token, bytes) else str(token).encode("utf-8")
        now = int(time.time() if now is None else now)
        with self._lock:
            self._live()
            out = self._lib.acw_jwt_verify(self._ctx, t, len(t), float(now))
            W = (ctypes.c_size_t * 6).from_address(out)
            reason = self._reasons[W[0]] if W[0] < len(self._reasons) else "unknown"
            valid = reason == "ok"
            n = W[3] if valid else 0
            W = (ctypes.c_size_t * (6 + 2 * n)).from_address(out)
            user = _text(ctypes.string_at(W[1], W[2])) if valid and W[1] else None
            payload = ctypes.string_at(W[4], W[5]) if valid and W[5] else b""
            roles = [_text(ctypes.string_at(W[6 + 2 * i], W[7 + 2 * i])) for i in range(n)]
        return Verified(valid, reason, user, roles, json.loads(payload) if payload else None)

    def close(self):
        """Frees the policy, state and table (wiped), and drops the Redis
        clients (aclose() also closes their connections)."""
        with self._lock:
            if self._ctx is not None:
                self._lib.acw_unload(self._ctx)
                self._ctx = None
        if self._store is not None:
            self._store.close()

    async def aclose(self):
        """As close(), then the event loop's Redis connections are closed."""
        self.close()
        if self._store is not None:
            await self._store.aclose()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass


_exec = None


FETCH_FAILED = (0, b"", b"")


def fetch(url, max_bytes, timeout_ms, method="GET", headers=(), body=b""):
    """The fetch a pending decision asks for (a Fetch: keys from
    jwt.jwks_uri, a provider's configuration, a token request): sends
    exactly the request the core names (method, headers, body; nothing
    else of the client's request), follows no redirect, takes the whole
    answer within timeout_ms (a body that trickles in is cut off by the
    deadline, not per read) and at most max_bytes. Returns (status,
    Content-Type bytes, body bytes); any failure (network, TLS, timeout, a
    longer body: never cut) is status 0, which the core counts as a failed
    fetch. Blocking: run it off the event loop."""
    deadline = time.monotonic() + timeout_ms / 1000.0
    u = urllib.parse.urlsplit(url)
    conn = None
    try:
        if u.scheme == "https":
            conn = http.client.HTTPSConnection(u.hostname, u.port, timeout=timeout_ms / 1000.0,
                                               context=ssl.create_default_context())
        else:
            conn = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout_ms / 1000.0)
        hs = {n.decode("latin-1"): v for n, v in headers}
        hs["Connection"] = b"close"
        # a body (even an empty one) only when the core names one, or a
        # method that carries one: http.client then sends its Content-Length
        conn.request(method, (u.path or "/") + ("?" + u.query if u.query else ""),
                     body=body if body or method not in ("GET", "HEAD") else None, headers=hs)
        sock = conn.sock  # the response reads from it even once conn lets go
        r = conn.getresponse()
        ctype = (r.getheader("Content-Type") or "").encode("latin-1", "replace")
        if r.status != 200:
            return (r.status, ctype, b"")
        chunks, n = [], 0
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return FETCH_FAILED
            sock.settimeout(left)
            b = r.read1(16384) if hasattr(r, "read1") else r.read(16384)
            if not b:
                break
            n += len(b)
            if n > max_bytes:
                return FETCH_FAILED
            chunks.append(b)
        return (200, ctype, b"".join(chunks))
    except (OSError, http.client.HTTPException, ValueError):
        return FETCH_FAILED
    finally:
        if conn is not None:
            conn.close()


def _executor():
    """The threads password checks run in (one per CPU: a check is pure
    CPU; the policy's login.max_pending bounds how many wait)."""
    global _exec
    with _libs_lock:
        if _exec is None:
            _exec = concurrent.futures.ThreadPoolExecutor(
                max_workers=os.cpu_count() or 2, thread_name_prefix="authcore-check")
        return _exec


# ---- the shared store on Redis ------------------------------------------

# A command that failed: what the core is handed as error 1.
REDIS_FAILED = object()


def _redis_config(L, ctx):
    """The policy's Redis (acw_policy_redis), or None when its store is the
    context's own."""
    W = (ctypes.c_size_t * 8).from_address(L.acw_policy_redis(ctx))
    if not W[0]:
        return None
    s = ctypes.string_at
    return {"host": _text(s(W[1], W[2])), "port": W[3], "timeout_ms": W[4], "pool": W[5],
            "password": _text(s(W[6], W[7])) if W[7] else None}


class RedisStore:
    """The clients a policy's Redis commands go through, made from its
    store.redis with redis-py (`pip install authcore[redis]`).

    send_async(argv): on the event loop, through redis.asyncio with a
    BlockingConnectionPool of at most store.redis.pool connections (a
    command waits for a free one); send(argv): the same with the blocking
    client, for Auth.decide and Auth.release. Each is bounded by
    store.redis.timeout_ms as a whole (waiting for a connection, connecting,
    the reply), and returns the reply, or REDIS_FAILED after the timeout, a
    refused or lost connection or an error reply: nothing is retried (the
    core's on_store_error applies; the next command connects again). AUTH
    with store.redis.password. Each failure is counted (errors); the first
    after a success, and the first success after failures, are logged
    once."""

    def __init__(self, cfg):
        try:
            import redis
            import redis.asyncio
        except ImportError as e:
            raise AuthcoreError('authcore: the policy\'s store is Redis ("store"."redis"), which '
                                "needs the Python package redis: pip install authcore[redis] "
                                "(%s)" % e)
        self.cfg = cfg
        self.where = ("[%s]:%d" if ":" in cfg["host"] else "%s:%d") % (cfg["host"], cfg["port"])
        self.timeout = cfg["timeout_ms"] / 1000.0
        self.errors = 0
        self._down = False
        self._count_lock = threading.Lock()
        self._mods = (redis, redis.asyncio)
        self._async = {}  # event loop -> its client (a client belongs to one loop)
        self._sync = None

    def _kwargs(self):
        # a pool's connections retry nothing unless told to: a failure is
        # the core's to handle at once
        c = self.cfg
        return dict(host=c["host"], port=c["port"], password=c["password"],
                    max_connections=c["pool"], timeout=self.timeout,
                    socket_timeout=self.timeout, socket_connect_timeout=self.timeout)

    def _client_async(self):
        loop = asyncio.get_running_loop()
        cl = self._async.get(loop)
        if cl is None:
            aio = self._mods[1]
            pool = aio.BlockingConnectionPool(**self._kwargs())
            cl = self._async[loop] = aio.Redis(connection_pool=pool)
        return cl

    def _client_sync(self):
        with self._count_lock:
            if self._sync is None:
                redis = self._mods[0]
                pool = redis.BlockingConnectionPool(**self._kwargs())
                self._sync = redis.Redis(connection_pool=pool)
            return self._sync

    def failed(self, why):
        """Counts a failure (logs the first of a run); returns 1, the
        core's error flag."""
        with self._count_lock:
            self.errors += 1
            first, self._down = not self._down, True
        if first:
            _log.warning("authcore: Redis at %s failed (%s): the policy's rate_limits.on_store_error "
                         "applies (revocation checks answer 503) until it answers", self.where, why)
        return 1

    def _ok(self, reply):
        if self._down:
            with self._count_lock:
                was, self._down = self._down, False
            if was:
                _log.warning("authcore: Redis at %s answers again", self.where)
        return reply

    async def send_async(self, argv):
        try:
            cl = self._client_async()
            return self._ok(await asyncio.wait_for(cl.execute_command(*argv), self.timeout))
        except asyncio.TimeoutError:
            self.failed("no reply within %d ms" % self.cfg["timeout_ms"])
        except Exception as e:  # refused, lost, an error reply: all a failed store
            self.failed("%s: %s" % (type(e).__name__, e))
        return REDIS_FAILED

    def send(self, argv):
        try:
            return self._ok(self._client_sync().execute_command(*argv))
        except Exception as e:
            self.failed("%s: %s" % (type(e).__name__, e))
        return REDIS_FAILED

    def close(self):
        with self._count_lock:
            cl, self._sync = self._sync, None
        if cl is not None:
            cl.close()

    async def aclose(self):
        clients, self._async = list(self._async.values()), {}
        for cl in clients:
            try:
                await cl.aclose()
            except Exception:
                pass
