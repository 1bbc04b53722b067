// Server for tests/suites/61-deno.sh, run from a folder that holds it, the
// built package and test_app.mjs:
//   deno run --allow-env=AUTHCORE_ADMIN_USER,AUTHCORE_ADMIN_PASSWORD_HASH ...
//     deno_server.mjs <policy.json> [<cert.pem> <key.pem>]
// Loads authcore.wasm as bytes (the Deno way), passes the administrator
// bootstrap variables it finds in its environment, serves on 127.0.0.1 at a
// port the system picks and prints "listening <port>"; given a certificate
// and key, serves the same auth instance over TLS too, on a second port
// ("listening-tls <port>").
import { loadAuth, testFetch } from "./test_app.mjs";

const wasm = await Deno.readFile(new URL("./authcore.wasm", import.meta.url));
const env = {};
for (const name of ["AUTHCORE_ADMIN_USER", "AUTHCORE_ADMIN_PASSWORD_HASH"]) {
  const v = Deno.env.get(name);
  if (v !== undefined) env[name] = v;
}
const auth = loadAuth(await Deno.readTextFile(Deno.args[0]), wasm, env);

const handler = (request, info) => testFetch(auth, request, info.remoteAddr.hostname);
Deno.serve({
  hostname: "127.0.0.1",
  port: 0,
  onListen: ({ port }) => console.log(`listening ${port}`),
}, handler);
if (Deno.args.length >= 3) {
  Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    cert: await Deno.readTextFile(Deno.args[1]),
    key: await Deno.readTextFile(Deno.args[2]),
    onListen: ({ port }) => console.log(`listening-tls ${port}`),
  }, handler);
}
