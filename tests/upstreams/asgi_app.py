"""The ASGI upstream of the request-confusion corpus (tests/upstreams/):
a FastAPI app with the same routes as wsgi_app.py, and that WSGI app mounted
under /wsgi through a2wsgi's WSGIMiddleware (the way FastAPI's documentation
mounts Flask), where header names are folded into the WSGI environ.

Answers carry the same report as wsgi_app.py (body and X-Upstream-Report
header); here user/roles are the x-authcore-user / x-authcore-roles values in
the ASGI scope's headers (a repeated header joined with ","), route_path is
the path Starlette routes (scope path less root_path, percent-decoded by the
server).

Run: uvicorn tests.upstreams.asgi_app:app --http httptools|h11
"""
import json
import os
import sys

from a2wsgi import WSGIMiddleware
from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wsgi_app  # noqa: E402

NAME = os.environ.get("UPSTREAM_NAME", "asgi")
app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)


def header(scope, name):
    vals = [v.decode("latin-1") for n, v in scope["headers"] if n.decode("latin-1").lower() == name]
    return ",".join(vals) if vals else None


def report(request: Request, handler, acts_as=None, status=200):
    scope = request.scope
    root = scope.get("root_path", "")
    path = scope["path"]
    r = {
        "server": NAME,
        "handler": handler,
        "acts_as": acts_as or request.method,
        "method": request.method,
        "route_path": path[len(root):] if root and path.startswith(root) else path,
        "script_name": root,
        "mount": "",
        "user": header(scope, "x-authcore-user"),
        "roles": header(scope, "x-authcore-roles"),
        "authorization": header(scope, "authorization") is not None,
        "cookie": header(scope, "cookie") is not None,
        "api_key": header(scope, "x-api-key") is not None,
    }
    text = json.dumps(r, ensure_ascii=True)
    return Response(text, status_code=status, media_type="application/json",
                    headers={"X-Upstream-Report": text})


@app.get("/api/secret")
def secret(request: Request):
    return report(request, "secret", "GET")


@app.delete("/api/admin/users/{uid}")
def admin_delete_user(uid: str, request: Request):
    return report(request, "admin_delete_user", "DELETE")


@app.api_route("/api/items/{iid}", methods=["POST", "DELETE"])
def item(iid: str, request: Request):
    return report(request, "item_" + request.method.lower())


@app.get("/api/items")
def items(request: Request):
    return report(request, "items", "GET")


@app.post("/dash/api/tasks")
def dash_tasks(request: Request):
    return report(request, "dash_tasks", "POST")


@app.get("/static/{p:path}")
def static_file(p: str, request: Request):
    return report(request, "static", "GET")


@app.exception_handler(StarletteHTTPException)
def not_routed(request: Request, exc):
    return report(request, "none", status=exc.status_code)


def mounted_wsgi(environ, start_response):
    environ["upstream.mount"] = "/wsgi"
    return wsgi_app.app(environ, start_response)


app.mount("/wsgi", WSGIMiddleware(mounted_wsgi))
