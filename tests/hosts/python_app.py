"""The FastAPI app the Python request tests serve with uvicorn, behind
AuthcoreMiddleware. The policy comes from the file AUTHCORE_TEST_POLICY
names; audit lines go to stdout (the server's log)."""
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "hosts", "python"))
from fastapi import FastAPI, Request, WebSocket  # noqa: E402
from authcore import AuthcoreMiddleware  # noqa: E402

api = FastAPI()


def seen(scope, headers):
    return {"authcore": scope.get("authcore"),
            "user_header": headers.get("x-authcore-user"),
            "roles_header": headers.get("x-authcore-roles")}


@api.get("/public/limited")
@api.get("/public/hello")
async def public(request: Request):
    return {"public": True, "client": request.client.host}


@api.get("/api/whoami")
async def whoami(request: Request):
    return seen(request.scope, request.headers)


@api.post("/api/items")
async def create(request: Request):
    return {"created": (await request.body()).decode(), **seen(request.scope, request.headers)}


@api.websocket("/ws")
async def ws(websocket: WebSocket):
    await websocket.accept()
    await websocket.send_text(json.dumps(seen(websocket.scope, websocket.headers)))
    await websocket.close()


with open(os.environ["AUTHCORE_TEST_POLICY"]) as f:
    app = AuthcoreMiddleware(api, f.read(), audit=lambda line: print(line, flush=True))
