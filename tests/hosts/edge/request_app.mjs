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
  if (u.pathname === "/pub/stream") return events(u.searchParams);
  const headers = {};
  for (const [n, v] of request.headers) headers[n] = v;
  return Response.json({
    method: request.method, path: u.pathname + u.search, headers, identity,
    body: await request.text(),
  }, { headers: { "x-echo": "1" } });
}

// An event stream (the path a connection cap covers): "data: open", then
// ?end=1 ends it, ?fail=1 fails it, and otherwise it stays open, a
// heartbeat comment every 100 ms, until the client goes (the runtime
// cancels it).
function events(params) {
  let gone;
  const cancelled = new Promise((resolve) => { gone = () => resolve(false); });
  let sent = false;
  const body = new ReadableStream({
    async pull(ctrl) {
      if (!sent) {
        sent = true;
        ctrl.enqueue(new TextEncoder().encode("data: open\n\n"));
      } else if (params.get("end") === "1") {
        ctrl.close();
      } else if (params.get("fail") === "1") {
        ctrl.error(new Error("the stream failed"));
      } else {
        // a heartbeat, as event streams send: a client gone is seen when
        // it cannot be written (workerd notices no other way)
        const beat = new Promise((resolve) => setTimeout(() => resolve(true), 100));
        if (await Promise.race([cancelled, beat])) ctrl.enqueue(new TextEncoder().encode(": beat\n\n"));
      }
    },
    cancel() {
      gone();
    },
  }, { highWaterMark: 0 });
  return new Response(body, { headers: { "content-type": "text/event-stream", "cache-control": "no-store" } });
}

// The test's own route, or null for requests that go through authcore.
export function testRoute(url, audits) {
  if (new URL(url, "http://x").pathname !== "/__test/audit") return null;
  return new Response(JSON.stringify(audits.splice(0)), { headers: { "content-type": "application/json" } });
}
