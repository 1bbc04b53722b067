// Node server for the Redis store tests (tests/hosts/edge/redis_edge.py):
// node redis_node.mjs <pkg dir> <policy.json>: nodeHandler in front of the
// echo on 127.0.0.1, a port the system picks; prints "listening <port>".
// The policy's store is Redis: the instance makes its own client. Test
// routes (never decided): GET /__test/audit answers (and clears) the audit
// lines written, GET /__test/stats the instance's stats() and the lines it
// logged through `warn`.
import { readFileSync } from "node:fs";
import { createServer } from "node:http";
import { join } from "node:path";

const [pkg, policyPath] = process.argv.slice(2);
const { createAuth, nodeHandler } = await import(join(pkg, "authcore.mjs"));
const { echo } = await import(join(pkg, "request_app.mjs"));
const audits = [];
const warnings = [];
const auth = await createAuth(readFileSync(policyPath, "utf8"), {
  module: readFileSync(join(pkg, "authcore.wasm")),
  audit: (line) => audits.push(JSON.parse(line)),
  warn: (line) => {
    warnings.push(line);
    console.warn(line);
  },
});
const listener = nodeHandler(auth, echo);

const server = createServer((req, res) => {
  const path = new URL(req.url, "http://x").pathname;
  if (path === "/__test/audit" || path === "/__test/stats") {
    res.setHeader("content-type", "application/json");
    res.end(JSON.stringify(path === "/__test/audit" ? audits.splice(0) : { stats: auth.stats(), warnings }));
    return;
  }
  listener(req, res);
});
server.listen(0, "127.0.0.1", () => console.log(`listening ${server.address().port}`));
