"""Decision vectors through the Python package (hosts/python), two ways:

  python       Auth.decide() on each case as the vector gives it (the body
               sent when the core asks, a password check run whole)
  python-asgi  AuthcoreMiddleware in front of a recording ASGI app: each case
               as an ASGI scope (the case's client address in scope["client"],
               https as scope["scheme"], the path's bytes as raw_path and
               query_string, the body as http.request messages), the answer
               read from the messages the middleware sends, what the app saw
               from the scope it got

Each vector file runs in order against one Auth per way (one login state),
with the file's env. The ASGI run reads the reason from the audit line, as
the proxy runners do, and counts the audit lines each request leaves.
Prints "ok - ..." / "not ok - ...: why" lines (tests/run.sh counts them).
"""
import asyncio
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "lib"))
sys.path.insert(0, os.path.join(ROOT, "hosts", "python"))
import vectors  # noqa: E402
import authcore  # noqa: E402


def run_decide(vf, now):
    ok = True
    auth = authcore.Auth(vf.policy_json, env=vf.env)
    try:
        for case in vf.cases(now):
            if vectors.skipped(case, "python"):
                continue
            dec = auth.decide(vectors.request_json(case), now=now).as_json()
            own = vectors.upstream_own_headers(case) if dec["action"] == "allow" else []
            hdrs = vectors.joined(vectors.apply_response_headers(own, dec["headers"]))
            cookies = [e[1] for e in dec["headers"] if e[0].lower() == "set-cookie"]
            # an allowed request reaches the app; the core answers its own
            # endpoints (login, whoami, logout) with action "respond"
            up = vectors.apply_decision(case, dec) if dec["action"] == "allow" else None
            probs = vectors.check(case, dec["status"], hdrs, up, dec["reason"], cookies,
                                  dec["body"])
            audit = dec["audit"]
            probs += vectors.audit_seen(case, "python", 0 if audit is None else 1)
            if audit is not None and audit.get("reason") != dec["reason"]:
                probs.append("audit reason %r, decision %r" % (audit.get("reason"), dec["reason"]))
            ok &= vectors.report(case, probs, "python")
    finally:
        auth.close()
    return ok


class Recorder:
    """The app behind the middleware: records the scope it got and answers
    200 with the case's own upstream headers (vectors.UPSTREAM_HEADER)."""

    def __init__(self):
        self.seen = []

    async def __call__(self, scope, receive, send):
        self.seen.append(scope)
        own = []
        for n, v in scope["headers"]:
            if n.decode("latin-1") == vectors.UPSTREAM_HEADER:
                for spec in v.decode("latin-1").split(","):
                    name, _, value = spec.partition(":")
                    if name.strip():
                        own.append((name.strip().lower().encode(), value.strip().encode()))
        if scope["type"] == "websocket":
            await send({"type": "websocket.accept", "headers": own})
            await send({"type": "websocket.close", "code": 1000})
            return
        await send({"type": "http.response.start", "status": 200, "headers": own})
        await send({"type": "http.response.body", "body": b"upstream"})


async def asgi_case(mw, app, case, audits):
    path = case.path.encode("utf-8")
    p, _, q = path.partition(b"?")
    ws = any(n.lower() == "upgrade" and v.lower() == "websocket" for n, v in case.headers)
    scope = {"type": "websocket" if ws else "http", "asgi": {"version": "3.0"},
             "http_version": "1.1", "method": case.method,
             "scheme": ("wss" if ws else "https") if case.https else ("ws" if ws else "http"),
             "path": p.decode("latin-1"), "raw_path": p, "query_string": q, "root_path": "",
             "headers": [(n.lower().encode("utf-8"), v.encode("utf-8")) for n, v in case.headers],
             "client": (case.client_ip, 40000), "server": ("127.0.0.1", 8000),
             "extensions": {"websocket.http.response": {}} if ws else {}}
    body = (case.body or "").encode("utf-8")
    msgs = [{"type": "websocket.connect"}] if ws else [
        {"type": "http.request", "body": body, "more_body": False}]
    sent = []

    async def receive():
        if msgs:
            return msgs.pop(0)
        await asyncio.sleep(3600)

    async def send(m):
        sent.append(m)
    del audits[:]
    before = len(app.seen)
    await asyncio.wait_for(mw(scope, receive, send), 30)
    start = sent[0] if sent else {}
    status = start.get("status")
    if start.get("type") == "websocket.accept":
        status = 101 if case.expect["status"] == 101 else 200
    hs = [(n.decode("latin-1"), v.decode("utf-8")) for n, v in start.get("headers", [])]
    body = b"".join(m.get("body", b"") for m in sent[1:]).decode("utf-8", "replace")
    up = None
    if len(app.seen) > before:
        got = app.seen[-1]
        up = vectors.joined([(n.decode("latin-1"), v.decode("utf-8")) for n, v in got["headers"]])
    cookies = [v for n, v in hs if n.lower() == "set-cookie"]
    events = [json.loads(a) for a in audits]
    reason, probs = vectors.audit_problems(case, status, events, "python-asgi")
    probs += vectors.check(case, status, vectors.joined(hs), up, reason, cookies, body)
    return probs


def run_asgi(vf, now):
    ok = True
    audits = []
    app = Recorder()
    mw = authcore.AuthcoreMiddleware(app, vf.policy_json, env=vf.env, audit=audits.append,
                                     now=lambda: now)
    loop = asyncio.new_event_loop()
    try:
        for case in vf.cases(now):
            if vectors.skipped(case, "python-asgi"):
                continue
            try:
                probs = loop.run_until_complete(asgi_case(mw, app, case, audits))
            except Exception as e:  # a crash is a failed case, not a dead run
                probs = ["%s: %s" % (type(e).__name__, e)]
            ok &= vectors.report(case, probs, "python-asgi")
    finally:
        loop.close()
        mw.auth.close()
    return ok


def main():
    ok = True
    now = int(time.time())
    for vf in vectors.load_vector_files():
        ok &= run_decide(vf, now)
        ok &= run_asgi(vf, now)
    ok &= vectors.sampling_report("python")
    ok &= vectors.sampling_report("python-asgi")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
