// Node server for the request tests: node request_node.mjs <pkg dir>
// <policy.json> <slice> [<cert.pem> <key.pem>]: nodeHandler in
// front of the echo, on http (or https with the certificate), 127.0.0.1, a
// port the system picks; prints "listening <port>".
import { readFileSync } from "node:fs";
import { createServer } from "node:http";
import { createServer as createTlsServer } from "node:https";
import { join } from "node:path";

const [pkg, policyPath, slice, cert, key] = process.argv.slice(2);
const { nodeHandler } = await import(join(pkg, "authcore.mjs"));
const { echo, load, testRoute } = await import(join(pkg, "request_app.mjs"));
const inst = load(readFileSync(policyPath, "utf8"), readFileSync(join(pkg, "authcore.wasm")),
  { passwordSlice: Number(slice) });
const listener = nodeHandler(inst.auth, echo);

async function handler(req, res) {
  const own = testRoute(req.url, inst.audits);
  if (!own) return listener(req, res);
  res.setHeader("content-type", "application/json");
  res.end(await own.text());
}

const server = cert ? createTlsServer({ cert: readFileSync(cert), key: readFileSync(key) }, handler)
  : createServer(handler);
server.listen(0, "127.0.0.1", () => console.log(`listening ${server.address().port}`));
