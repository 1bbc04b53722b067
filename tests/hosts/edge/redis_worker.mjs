// Worker for the Redis store tests in real workerd
// (tests/hosts/edge/redis_edge.py): the POLICY binding, whose store is
// Redis, reached through workerd's own TCP sockets (the module's client
// there). The same test routes as redis_node.mjs: GET /__test/audit
// answers (and clears) the audit lines written, GET /__test/stats the
// instance's stats() and the lines it logged through `warn`.
import wasm from "./authcore.wasm";
import { createAuth } from "./authcore.mjs";
import { echo } from "./request_app.mjs";

const audits = [];
const warnings = [];
let auth;

export default {
  async fetch(request, env) {
    auth ??= createAuth(env.POLICY, {
      module: wasm,
      audit: (line) => audits.push(JSON.parse(line)),
      warn: (line) => {
        warnings.push(line);
        console.warn(line);
      },
    });
    const a = await auth;
    const path = new URL(request.url).pathname;
    if (path === "/__test/audit") return Response.json(audits.splice(0));
    if (path === "/__test/stats") return Response.json({ stats: a.stats(), warnings });
    return a.serve(request, echo);
  },
};
