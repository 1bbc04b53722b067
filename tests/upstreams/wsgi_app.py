"""The WSGI upstream of the request-confusion corpus (tests/upstreams/):
a Flask app with the routes an authcore policy protects, wrapped in the
method-override middleware from Flask's documentation ("Adding HTTP Method
Overrides"), as deployed apps use it.

Every answer, the "no handler" one included, carries a report of what ran,
as JSON both in the body and in the X-Upstream-Report header (a HEAD answer
has no body):
  handler     the view that ran ("none" when no route matched)
  acts_as     the method the view was written for (a GET view answering
              HEAD acts as GET)
  method      the method Flask saw (after the override middleware)
  route_path  the path Flask routed (PATH_INFO, percent-decoded by the server)
  script_name SCRIPT_NAME as the server set it
  mount       where the app is really mounted ("" at the root; asgi_app.py
              sets "/wsgi"), whatever SCRIPT_NAME says
  user/roles  HTTP_X_AUTHCORE_USER / HTTP_X_AUTHCORE_ROLES exactly as the
              WSGI environ holds them (None when absent)
  authorization/cookie/api_key  whether those credentials arrived
  server      "wsgi" (or what UPSTREAM_NAME says)

Run: gunicorn tests.upstreams.wsgi_app:app, or waitress; the ASGI app
mounts it too (asgi_app.py).
"""
import json
import os

from flask import Flask, request


class HTTPMethodOverrideMiddleware:
    """Flask's documented pattern: the X-HTTP-Method-Override header picks
    the method the app sees."""
    allowed_methods = frozenset(["GET", "HEAD", "POST", "DELETE", "PUT", "PATCH", "OPTIONS"])
    bodyless_methods = frozenset(["GET", "HEAD", "OPTIONS", "DELETE"])

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        method = environ.get("HTTP_X_HTTP_METHOD_OVERRIDE", "").upper()
        if method in self.allowed_methods:
            environ["REQUEST_METHOD"] = method
        if method in self.bodyless_methods:
            environ["CONTENT_LENGTH"] = "0"
        return self.app(environ, start_response)


NAME = os.environ.get("UPSTREAM_NAME", "wsgi")
flask_app = Flask(__name__, static_folder=None)  # /static/ is a route of its own here


def report(handler, acts_as=None, status=200):
    env = request.environ
    r = {
        "server": NAME,
        "handler": handler,
        "acts_as": acts_as or request.method,
        "method": request.method,
        "route_path": env.get("PATH_INFO", ""),
        "script_name": env.get("SCRIPT_NAME", ""),
        "mount": env.get("upstream.mount", ""),
        "user": env.get("HTTP_X_AUTHCORE_USER"),
        "roles": env.get("HTTP_X_AUTHCORE_ROLES"),
        "authorization": "HTTP_AUTHORIZATION" in env,
        "cookie": "HTTP_COOKIE" in env,
        "api_key": "HTTP_X_API_KEY" in env,
    }
    text = json.dumps(r, ensure_ascii=True)
    return text, status, {"Content-Type": "application/json", "X-Upstream-Report": text}


@flask_app.route("/api/secret", methods=["GET"])
def secret():
    return report("secret", "GET")


@flask_app.route("/api/admin/users/<uid>", methods=["DELETE"])
def admin_delete_user(uid):
    return report("admin_delete_user", "DELETE")


@flask_app.route("/api/items/<iid>", methods=["POST", "DELETE"])
def item(iid):
    return report("item_" + request.method.lower())


@flask_app.route("/api/items", methods=["GET"])
def items():
    return report("items", "GET")


@flask_app.route("/dash/api/tasks", methods=["POST"])
def dash_tasks():
    return report("dash_tasks", "POST")


@flask_app.route("/static/<path:p>", methods=["GET"])
def static_file(p):
    return report("static", "GET")


@flask_app.route("/", defaults={"p": ""}, methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
@flask_app.route("/<path:p>", methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
def no_handler(p):
    return report("none", status=404)


@flask_app.errorhandler(404)
@flask_app.errorhandler(405)
def not_routed(e):
    return report("none", status=e.code)


app = HTTPMethodOverrideMiddleware(flask_app)
