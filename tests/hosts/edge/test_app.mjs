// The app behind authcore in the workerd and Deno tests. In Workers the app
// is the upstream, so on allow it answers like tests/lib/echo.py: 200 and
// {"method", "path", "headers"} of the request it was handed (values decoded
// as UTF-8, where echo.py reads Latin-1; equal for ASCII). Every answer
// carries the decision's reason and action in x-authcore-test-* headers.
//
// The client address a case wants crosses as x-authcore-test-ip; it is
// removed before authcore sees the request, so the core sees the case's
// headers exactly. The decision's response headers on allow (Set-Cookie...)
// are applied to the echo's answer (their modes against its own headers,
// x-test-upstream-header), as an app must.
import { createAuth, withResponseHeaders } from "./authcore.mjs";

export const TEST_IP = "x-authcore-test-ip";
// As tests/lib/echo.py: each "Name: value" in this request header becomes a
// header of the app's own answer (an upstream that sets X-Frame-Options).
export const UPSTREAM_HEADER = "x-test-upstream-header";

export function upstreamHeaders(request) {
  const out = [];
  const v = request.headers.get(UPSTREAM_HEADER);
  for (const spec of v ? v.split(/,\s*/) : []) {
    const i = spec.indexOf(":");
    if (i > 0) out.push([spec.slice(0, i).trim(), spec.slice(i + 1).trim()]);
  }
  return out;
}

// The echo reports header values as the UTF-8 text an upstream would read:
// Deno's Headers hold bytes one char each, workerd's hold decoded text.
const utf8 = new TextDecoder();
let textHeaders = true;
try { new Headers({ x: "\u2603" }); } catch { textHeaders = false; }
function fromByteString(v) {
  return textHeaders ? v : utf8.decode(Uint8Array.from(v, (c) => c.charCodeAt(0)));
}

// env: the host's settings object (a Worker's env, the variables Deno read);
// passwordSlice: 0 (Deno) runs password checks whole, > 0 (workerd) in
// slices with a yield between them.
export function loadAuth(policy, module, env, passwordSlice = 0) {
  const p = createAuth(policy, { module, env, passwordSlice });
  p.catch(() => {}); // reported per request below, not as an unhandled rejection
  return p;
}

export async function testFetch(authPromise, request, fallbackIp = "") {
  let auth;
  try {
    auth = await authPromise;
  } catch (e) {
    return new Response(String(e && e.message), { status: 500, headers: { "x-authcore-test-error": "1" } });
  }
  let clientIp = fallbackIp;
  if (request.headers.has(TEST_IP)) {
    clientIp = request.headers.get(TEST_IP);
    const h = new Headers(request.headers);
    h.delete(TEST_IP);
    request = new Request(request, { headers: h });
  }
  const r = await auth.handle(request, { clientIp });
  if (r.response) {
    const resp = new Response(r.response.body, r.response);
    resp.headers.set("x-authcore-test-reason", r.decision.reason);
    resp.headers.set("x-authcore-test-action", "respond");
    return resp;
  }
  const url = new URL(r.request.url);
  const headers = {};
  for (const [n, v] of r.request.headers) headers[n] = fromByteString(v);
  const body = JSON.stringify({ method: r.request.method, path: url.pathname + url.search, headers });
  const own = new Headers({
    "content-type": "application/json",
    "x-echo": "1",
    "x-authcore-test-reason": r.decision.reason,
    "x-authcore-test-action": "allow",
  });
  for (const [n, v] of upstreamHeaders(request)) own.append(n, v);
  return withResponseHeaders(new Response(body, { headers: own }), r.responseHeaders);
}
