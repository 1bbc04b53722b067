"""The ASGI app tests/hosts/python_redis.py runs in uvicorn: AuthcoreMiddleware
(policy from $AUTHCORE_TEST_POLICY, whose store is Redis) over a small app,
plus test routes outside the middleware: /__test/audit (the audit lines since
the last call), /__test/stats (middleware.stats() and the authcore logger's
warnings)."""
import json
import logging
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "hosts", "python"))
from authcore import AuthcoreMiddleware  # noqa: E402

AUDIT = []
WARNINGS = []


class Keep(logging.Handler):
    def emit(self, record):
        WARNINGS.append(record.getMessage())


logging.getLogger("authcore").addHandler(Keep(level=logging.WARNING))


async def send_json(send, status, obj):
    body = json.dumps(obj).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


async def inner(scope, receive, send):
    if scope["type"] == "websocket":
        # an echo, open until the client goes
        while True:
            m = await receive()
            if m["type"] == "websocket.connect":
                await send({"type": "websocket.accept"})
            elif m["type"] == "websocket.receive":
                await send({"type": "websocket.send", "text": m.get("text")})
            else:
                return
    if scope["type"] != "http":
        return
    if scope["path"] == "/pub/stream":
        # an event stream: open until the client goes (or ?end=1: one event)
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/event-stream")]})
        if scope.get("query_string") == b"end=1":
            await send({"type": "http.response.body", "body": b"data: open\n\n"})
            return
        await send({"type": "http.response.body", "body": b"data: open\n\n", "more_body": True})
        while (await receive())["type"] != "http.disconnect":
            pass
        return
    await send_json(send, 200, {"identity": scope.get("authcore")})


with open(os.environ["AUTHCORE_TEST_POLICY"]) as f:
    guarded = AuthcoreMiddleware(inner, f.read(), audit=AUDIT.append)


async def app(scope, receive, send):
    if scope["type"] == "http" and scope["path"] == "/__test/audit":
        lines = [json.loads(x) for x in AUDIT]
        del AUDIT[:]
        return await send_json(send, 200, lines)
    if scope["type"] == "http" and scope["path"] == "/__test/stats":
        return await send_json(send, 200, {"stats": guarded.stats(), "warnings": WARNINGS})
    return await guarded(scope, receive, send)


