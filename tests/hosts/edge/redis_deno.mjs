// Deno server for the Redis store tests (tests/hosts/edge/redis_edge.py):
// deno run redis_deno.mjs <pkg dir> <policy.json>: Deno.serve in front of
// the echo on 127.0.0.1, a port the system picks; prints "listening
// <port>". The same test routes as redis_node.mjs. The instance makes its
// own Redis client (npm's redis through Deno's Node compatibility).
const [pkg, policyPath] = Deno.args;
const { createAuth } = await import(new URL(`file://${pkg}/authcore.mjs`).href);
const { echo } = await import(new URL(`file://${pkg}/request_app.mjs`).href);
const audits = [];
const warnings = [];
const auth = await createAuth(await Deno.readTextFile(policyPath), {
  module: await Deno.readFile(`${pkg}/authcore.wasm`),
  audit: (line) => audits.push(JSON.parse(line)),
  warn: (line) => {
    warnings.push(line);
    console.warn(line);
  },
});

Deno.serve({
  hostname: "127.0.0.1", port: 0,
  onListen: ({ port }) => console.log(`listening ${port}`),
}, (request, info) => {
  const path = new URL(request.url).pathname;
  if (path === "/__test/audit") return Response.json(audits.splice(0));
  if (path === "/__test/stats") return Response.json({ stats: auth.stats(), warnings });
  return auth.serve(request, echo, { info });
});
