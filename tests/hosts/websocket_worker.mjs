// Worker for tests/hosts/websocket.py (workerd): the edge module in front
// of an app that answers WebSocket upgrades itself with a WebSocketPair, as
// a Worker does. The app speaks only the "chat.v1" subprotocol, picked from
// those it is handed; it answers a connection's first message "who" with
// what its upgrade request held (path, headers) and echoes every other
// message. The handshakes it took are listed at GET /__ws_handshakes, a
// test hook answered before authcore (the Python upstream's log file there).
import wasm from "./authcore.wasm";
import { createAuth } from "./authcore.mjs";

const SUBPROTOCOL = "chat.v1";
const handshakes = [];
let auth;

function app(request) {
  if ((request.headers.get("upgrade") ?? "").toLowerCase() !== "websocket") {
    return new Response("upgrade required\n", { status: 426 });
  }
  const offered = (request.headers.get("sec-websocket-protocol") ?? "")
    .split(",").map((s) => s.trim()).filter((s) => s !== "");
  if (!offered.includes(SUBPROTOCOL)) return new Response("no subprotocol\n", { status: 400 });
  const url = new URL(request.url);
  const rec = { path: url.pathname + url.search, headers: [...request.headers],
    subprotocol: SUBPROTOCOL };
  handshakes.push(rec);
  const [client, server] = Object.values(new WebSocketPair());
  server.accept();
  let first = true;
  server.addEventListener("message", (ev) => {
    if (ev.data === "bye") { server.close(1000, "bye"); return; } // the app ends it
    server.send(first && ev.data === "who" ? JSON.stringify(rec) : ev.data);
    first = false;
  });
  // the closing handshake: the client's close frame answered
  server.addEventListener("close", (ev) => server.close(ev.code === 1005 ? 1000 : ev.code));
  return new Response(null, { status: 101, webSocket: client,
    headers: { "sec-websocket-protocol": SUBPROTOCOL } });
}

export default {
  async fetch(request, env) {
    if (new URL(request.url).pathname === "/__ws_handshakes") {
      return new Response(JSON.stringify(handshakes), { headers: { "content-type": "application/json" } });
    }
    auth ??= createAuth(env.POLICY, { module: wasm, env });
    return (await auth).serve(request, app, { clientIp: "127.0.0.1" });
  },
};
