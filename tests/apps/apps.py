"""The dashboards as a deployment runs them behind authcore: each with its
own auth off and the glue its migration guide (docs/migrating/) gives, the
user read from scope["authcore"] (set by AuthcoreMiddleware in-process, or
by the assertion's verifier behind a proxy). build(name, job) -> ASGI app.
"""


def fastapi_taskflow(job):
    import asyncio
    from contextlib import asynccontextmanager

    from fastapi import FastAPI
    from fastapi_taskflow import TaskAdmin, TaskManager
    from fastapi_taskflow import router as taskflow_router
    from fastapi_taskflow.wrapper import ManagedBackgroundTasks

    tm = TaskManager()

    @tm.task(retries=0, name="resize_images")
    async def resize_images():
        raise RuntimeError("disk full")

    # docs/migrating/fastapi-taskflow.md, "How the app learns the user":
    # taskflow's audit log takes its actor from here
    taskflow_router._actor = lambda request, secret_key: \
        (request.scope.get("authcore") or {}).get("user") or "anonymous"

    @asynccontextmanager
    async def lifespan(app):
        # one failed task for the dashboard's Retry
        ManagedBackgroundTasks(tm).add_task(resize_images, eager=True)
        await asyncio.sleep(0)
        yield

    app = FastAPI(lifespan=lifespan)
    TaskAdmin(app, tm)  # no auth=: authcore's users, sessions and login
    return app


def guide_code(guide, name, preset=None):
    """Runs the guide's Python block that defines name, as the guide has
    it (preset: names the block takes as given, such as the app's broker);
    returns the block's namespace."""
    import os
    import sys
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    sys.path.insert(0, os.path.join(root, "tests", "docs"))
    from blocks import blocks
    found = [b for b in blocks(os.path.join(root, "docs", "migrating", guide))
             if b.info == "python" and ("def %s(" % name) in b.text]
    if len(found) != 1:
        raise RuntimeError("%s: %d Python blocks define %s" % (guide, len(found), name))
    ns = dict(preset or {}, __name__="guide")
    exec(compile(found[0].text, "%s:%d" % (guide, found[0].line), "exec"), ns)
    return ns


def taskito_serve(job, verifier):
    """taskito's dashboard is its own http.server, not ASGI: it runs behind
    a proxy only, with the handler docs/migrating/taskito.md gives (run
    from the guide as it is): the assertion verified before taskito's code
    runs, the SPA's auth status, whoami and sign-out answered from it."""
    from http.server import ThreadingHTTPServer

    from taskito import Queue

    queue = Queue(db_path="taskito.db")

    @queue.task(max_retries=0)
    def resize_images():
        raise RuntimeError("disk full")

    resize_images.delay()  # no worker runs: a pending job in the default queue
    handler = guide_code("taskito.md", "authcore_dashboard_handler")["authcore_dashboard_handler"](queue, verifier)
    ThreadingHTTPServer(("127.0.0.1", job["port"]), handler).serve_forever()


def taskiq_flow(job):
    """taskiq-flow with its security off and the /dag and /ws routers
    given authcore's user, by the guide's block as it is (which reads
    policy.json from the working directory and wraps the app itself; the
    app under that wrapper is what runs here, behind a proxy or inside
    serve.py's AuthcoreMiddleware)."""
    from taskiq import InMemoryBroker
    return guide_code("taskiq-flow.md", "authcore_user", {"broker": InMemoryBroker()})["flow"].app


def token_issuer(issuer, app):
    """What issues asyncmq's tokens (its JWTAuthBackend only verifies
    them): a sign-in page at /admin/login that checks the test's users and
    sets an HS256 token (sub, is_admin, exp) in the asyncmq_token cookie,
    and /admin/logout that clears it. Stands in for the deployment's
    identity provider; the rest goes to app."""
    import html
    import time
    from urllib.parse import parse_qs

    import jwt

    page = ("<!doctype html><title>Sign in</title><h1>Sign in to AsyncMQ</h1>%s"
            "<form method=post action=/admin/login><input type=hidden name=next value=\"%s\">"
            "<label for=u>Username</label><input id=u name=username>"
            "<label for=p>Password</label><input id=p name=password type=password>"
            "<button type=submit>Sign in</button></form>")

    async def answer(send, status, body=b"", headers=()):
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"text/html; charset=utf-8")] + list(headers)})
        await send({"type": "http.response.body", "body": body})

    async def wrapped(scope, receive, send):
        path = scope.get("path")
        if scope["type"] != "http" or path not in ("/admin/login", "/admin/logout"):
            return await app(scope, receive, send)
        if path == "/admin/logout":
            return await answer(send, 303, headers=[
                (b"location", b"/admin/login"),
                (b"set-cookie", b"asyncmq_token=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax")])
        nxt = parse_qs(scope.get("query_string", b"").decode()).get("next", ["/admin/"])[0]
        if scope["method"] != "POST":
            return await answer(send, 200, (page % ("", html.escape(nxt))).encode())
        raw = b""
        while True:
            m = await receive()
            raw += m.get("body", b"")
            if not m.get("more_body"):
                break
        form = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
        nxt = form.get("next", "/admin/")
        if not nxt.startswith("/") or nxt.startswith("//"):
            nxt = "/admin/"
        u = issuer["users"].get(form.get("username", ""))
        if u is None or u["password"] != form.get("password"):
            return await answer(send, 401, (page % ("<p role=alert>Invalid username or password.</p>",
                                                    html.escape(nxt))).encode())
        now = int(time.time())
        tok = jwt.encode({"sub": form["username"], "is_admin": u["is_admin"], "iat": now, "exp": now + 3600},
                         issuer["secret"], algorithm="HS256", headers={"kid": issuer["kid"]})
        return await answer(send, 303, headers=[
            (b"location", nxt.encode()),
            (b"set-cookie", ("asyncmq_token=%s; Path=/; HttpOnly; SameSite=Lax" % tok).encode())])
    return wrapped


def asyncmq(job):
    """asyncmq's dashboard with enable_login=False (an in-memory backend and
    one queue) and its audit trail given the user, by the guide's block as
    it is, behind the test's token issuer."""
    import asyncio

    from asyncmq import monkay
    from asyncmq.backends.memory import InMemoryBackend
    from asyncmq.queues import Queue

    monkay.settings.backend = InMemoryBackend()
    monkay.settings.secret_key = job["issuer"]["secret"]
    asyncio.run(Queue("images").add("resize_images", args=[], kwargs={}))
    return token_issuer(job["issuer"], guide_code("asyncmq.md", "authcore_user_state")["app"])


BUILDERS = {"fastapi-taskflow": fastapi_taskflow, "taskiq-flow": taskiq_flow, "asyncmq": asyncmq}
SERVERS = {"taskito": taskito_serve}


def build(name, job):
    return BUILDERS[name](job)
