// Node server for the Redis store tests (tests/hosts/edge/redis_edge.py):
// node redis_node.mjs <pkg dir> <policy.json> [app-client]: nodeHandler in
// front of the echo on 127.0.0.1, a port the system picks; prints
// "listening <port>". The policy's store is Redis: the instance makes its
// own client, or with "app-client" gets one the app made (options.redis,
// node-redis without an offline queue, at the policy's host and port). Test
// routes (never decided): GET /__test/audit answers (and clears) the audit
// lines written, GET /__test/stats the instance's stats() and the lines it
// logged through `warn`.
import { readFileSync } from "node:fs";
import { createServer } from "node:http";
import { join } from "node:path";

const [pkg, policyPath, mode] = process.argv.slice(2);
const { createAuth, nodeHandler } = await import(join(pkg, "authcore.mjs"));
const { echo } = await import(join(pkg, "request_app.mjs"));
const audits = [];
const warnings = [];
const policy = readFileSync(policyPath, "utf8");
let redis;
if (mode === "app-client") {
  const { createClient } = await import("redis");
  const { host, port } = JSON.parse(policy).store.redis;
  redis = createClient({ socket: { host, port, reconnectStrategy: () => 200 }, disableOfflineQueue: true });
  redis.on("error", () => {});
  await redis.connect();
}
const auth = await createAuth(policy, {
  module: readFileSync(join(pkg, "authcore.wasm")),
  redis,
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
