// Deno server for the request tests: deno run ... request_deno.mjs <policy.json>
// <slice> [<cert.pem> <key.pem>]. The client address is Deno's
// own (serve()'s { info }, Deno.serve's second argument). Prints
// "listening <port>".
import { echo, load, testRoute } from "./request_app.mjs";

const [policyPath, slice, cert, key] = Deno.args;
const wasm = await Deno.readFile(new URL("./authcore.wasm", import.meta.url));
const inst = load(await Deno.readTextFile(policyPath), wasm,
  { passwordSlice: Number(slice) });
const auth = await inst.auth;
const tls = cert ? { cert: await Deno.readTextFile(cert), key: await Deno.readTextFile(key) } : {};

Deno.serve({
  hostname: "127.0.0.1",
  port: 0,
  ...tls,
  onListen: ({ port }) => console.log(`listening ${port}`),
}, (request, info) => testRoute(request.url, inst.audits) ?? auth.serve(request, (req, identity, release) =>
  (new URL(req.url).pathname === "/pub/socket" ? socket(request, release) : echo(req, identity)), { info }));

// A WebSocket echo on /pub/socket (a connection cap covers it). The module
// cannot see a socket Deno.upgradeWebSocket makes: the app ends the count
// with serve()'s release when the socket closes. Upgraded from the request
// as Deno handed it (an upgrade of a copy, as serve() forwards when it
// changes headers, answers 101 but garbles the frames in Deno).
function socket(request, release) {
  const { socket: ws, response } = Deno.upgradeWebSocket(request);
  ws.onmessage = (ev) => ws.send(ev.data);
  ws.onclose = release;
  ws.onerror = release;
  return response;
}
