// The app behind authcore in the request tests (tests/hosts/edge/request_suite.py),
// shared by the workerd, Deno and Node servers. serve() decides with the
// client address the runtime gives (never one passed by the test), then the
// echo answers with what it was handed: method, path + query, headers, body
// and the identity. GET /__test/audit answers (and clears) the audit lines
// the instance wrote; it is the only request that bypasses authcore.
import { createAuth } from "./authcore.mjs";

export function load(policy, module, options) {
  const audits = [];
  const auth = createAuth(policy, { module, audit: (line) => audits.push(JSON.parse(line)), ...options });
  auth.catch(() => {}); // reported per request
  return { auth, audits };
}

export async function echo(request, identity) {
  const u = new URL(request.url);
  const headers = {};
  for (const [n, v] of request.headers) headers[n] = v;
  return Response.json({
    method: request.method, path: u.pathname + u.search, headers, identity,
    body: await request.text(),
  }, { headers: { "x-echo": "1" } });
}

// The test's own route, or null for requests that go through authcore.
export function testRoute(url, audits) {
  if (new URL(url, "http://x").pathname !== "/__test/audit") return null;
  return new Response(JSON.stringify(audits.splice(0)), { headers: { "content-type": "application/json" } });
}
