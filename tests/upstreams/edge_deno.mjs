// Deno server of the request-confusion corpus:
//   deno run --allow-read=DIR --allow-net=127.0.0.1 edge_deno.mjs POLICY UPSTREAM
// authcore in front of UPSTREAM (http://127.0.0.1:PORT); prints "listening <port>".
import { createAuth } from "./authcore.mjs";
import { forwardTo } from "./edge_forward.mjs";

const wasm = await Deno.readFile(new URL("./authcore.wasm", import.meta.url));
const auth = await createAuth(await Deno.readTextFile(Deno.args[0]), { module: wasm, env: {} });
const forward = forwardTo(Deno.args[1]);

Deno.serve({
  hostname: "127.0.0.1",
  port: 0,
  onListen: ({ port }) => console.log(`listening ${port}`),
}, (request, info) => auth.serve(request, forward, { clientIp: info.remoteAddr.hostname }));
