// Server for tests/suites/61-deno.sh, run from a folder that holds it, the
// built package and test_app.mjs:   deno run ... deno_server.mjs <policy.json>
// Loads authcore.wasm as bytes (the Deno way), serves on 127.0.0.1 at a port
// the system picks and prints "listening <port>".
import { loadAuth, testFetch } from "./test_app.mjs";

const wasm = await Deno.readFile(new URL("./authcore.wasm", import.meta.url));
const auth = loadAuth(await Deno.readTextFile(Deno.args[0]), wasm);

Deno.serve({
  hostname: "127.0.0.1",
  port: 0,
  onListen: ({ port }) => console.log(`listening ${port}`),
}, (request, info) => testFetch(auth, request, info.remoteAddr.hostname));
