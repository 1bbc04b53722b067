"""The FastAPI app the Python request tests serve with uvicorn, behind
AuthcoreMiddleware. The policy comes from the file AUTHCORE_TEST_POLICY
names; audit lines go to stdout (the server's log)."""
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "hosts", "python"))
import asyncio  # noqa: E402

from fastapi import FastAPI, Request, WebSocket, WebSocketDisconnect  # noqa: E402
from fastapi.responses import StreamingResponse  # noqa: E402
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


@api.get("/api/x")
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


@api.get("/public/events")
async def events(end: int = 0):
    """An event stream (a connection cap covers it): "data: open", then it
    ends (?end=1) or stays open, a heartbeat every 100 ms, until the client
    goes."""
    async def gen():
        yield b"data: open\n\n"
        while not end:
            await asyncio.sleep(0.1)
            yield b": beat\n\n"
    return StreamingResponse(gen(), media_type="text/event-stream")


@api.websocket("/public/chat")
async def chat(websocket: WebSocket):
    """An echo for as long as the client stays (a connection cap covers it)."""
    await websocket.accept()
    try:
        while True:
            await websocket.send_text(await websocket.receive_text())
    except WebSocketDisconnect:
        pass


with open(os.environ["AUTHCORE_TEST_POLICY"]) as f:
    app = AuthcoreMiddleware(api, f.read(), audit=lambda line: print(line, flush=True))
