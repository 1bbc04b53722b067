// Node driver for tests/suites/31-vectors-node.sh (driven by edge_suite.py).
// Reads one JSON job on stdin:
//   {"pkg": "<dir of the built package>",
//    "files": [{"name", "policy_json", "cases": [{"id", "request", "now"}]}],
//    "bad": [{"name", "policy_json"}]}
// and writes one JSON answer on stdout:
//   {"cases": {id: {"decision": {...}, "handle": {...}}},
//    "bad": {name: {"rejected": bool, "is_error": bool, "message": "..."}},
//    "checks": [[name, problem-or-null], ...]}
// "decision" comes from auth.decide (the request as the vector gives it);
// "handle" from auth.handle on a real Fetch Request, or {"skip": why} when
// Fetch cannot carry the request target unchanged (URL parsing removes dot
// segments, as in every Fetch-based runtime). Repeated headers are joined
// with ", " by Fetch and still run: the core must decide the same.
import { readFileSync } from "node:fs";
import { join } from "node:path";

const job = JSON.parse(readFileSync(0, "utf8"));
const { createAuth } = await import(join(job.pkg, "authcore.mjs"));
const wasmBytes = readFileSync(join(job.pkg, "authcore.wasm"));
const wasmModule = new WebAssembly.Module(wasmBytes);
const out = { cases: {}, bad: {}, checks: [] };
const check = (name, problem) => out.checks.push([name, problem || null]);

function fetchRequest(r) {
  const url = "http://127.0.0.1" + r.path;
  const u = new URL(url);
  if (u.pathname + u.search !== r.path) return { skip: `Fetch URL parsing turns ${r.path} into ${u.pathname + u.search}` };
  // Vector text goes on the wire as UTF-8; Fetch holds those bytes one per char.
  const headers = r.headers.map(([n, v]) => [n, String.fromCharCode(...new TextEncoder().encode(v))]);
  return { request: new Request(url, { method: r.method, headers }) };
}

// Node's Headers hold bytes one char each; compare as the UTF-8 text sent.
const text = (v) => new TextDecoder().decode(Uint8Array.from(v, (c) => c.charCodeAt(0)));
const lower = (h) => Object.fromEntries([...h].map(([n, v]) => [n.toLowerCase(), text(v)]));

for (const f of job.files) {
  let auth;
  const audits = [];
  try {
    auth = await createAuth(f.policy_json, { module: wasmModule, audit: (l) => audits.push(l) });
  } catch (e) {
    for (const c of f.cases) out.cases[c.id] = { error: `createAuth: ${e.message}` };
    continue;
  }
  for (const c of f.cases) {
    const res = {};
    try {
      res.decision = auth.decide(c.request, { now: c.now });
    } catch (e) {
      res.error = `decide: ${e.message}`;
    }
    try {
      const fr = fetchRequest(c.request);
      if (fr.skip) {
        res.handle = { skip: fr.skip };
      } else {
        const n = audits.length;
        const r = auth.handle(fr.request, { clientIp: c.request.client_ip });
        const h = { reason: r.decision.reason, audited: audits.length === n + 1 && audits[n] === JSON.stringify(r.decision.audit) };
        if (r.response) {
          h.status = r.response.status;
          h.headers = lower(r.response.headers);
          h.body = await r.response.text();
          h.body_ok = h.body === (r.decision.body ?? "");
        } else {
          h.status = 200;
          h.headers = {};
          h.upstream = lower(r.request.headers);
          h.user = r.identity.user;
          h.same_target = r.request.url === fr.request.url && r.request.method === fr.request.method;
        }
        res.handle = h;
      }
    } catch (e) {
      res.handle = { error: `handle: ${e.message}` };
    }
    out.cases[c.id] = res;
  }
  auth.close();
}

for (const b of job.bad) {
  try {
    const a = await createAuth(b.policy_json, { module: wasmBytes });
    a.close();
    out.bad[b.name] = { rejected: false };
  } catch (e) {
    out.bad[b.name] = { rejected: true, is_error: e instanceof Error, message: String(e.message) };
  }
}

// A valid policy loads at any length: the heap hands out blocks at whatever
// alignment malloc gives, and the policy's length moves the next block.
if (job.files.length) {
  const fails = [];
  for (let pad = 0; pad < 16; pad++) {
    try {
      (await createAuth(job.files[0].policy_json + " ".repeat(pad), { module: wasmModule })).close();
    } catch (e) {
      fails.push(`+${pad} spaces: ${e.message}`);
    }
  }
  check("node policy loads whatever its length (16 paddings)", fails.length ? `${fails.length}/16 failed, e.g. ${fails[0]}` : null);
}

// The apply layer, independent of what the policy says: a POST body and the
// request target survive forwarding, the original Request is left alone.
try {
  const policy = job.files.length ? job.files[0].policy_json : "{}";
  const auth = await createAuth(policy, { module: wasmModule, audit: false });
  const orig = new Request("https://example.test/healthz?x=1", {
    method: "POST", body: "payload", headers: { "x-authcore-user": "mallory", "x-keep": "1" },
  });
  const r = auth.handle(orig, { now: Date.now() / 1000 });
  if (r.response) {
    check("node apply: allowed request keeps body and target", `not allowed (${r.decision.reason}); the first vector policy must make /healthz public`);
  } else {
    const body = await r.request.text();
    const probs = [];
    if (body !== "payload") probs.push(`body ${JSON.stringify(body)}`);
    if (r.request.url !== orig.url) probs.push(`url ${r.request.url}`);
    if (r.request.method !== "POST") probs.push(`method ${r.request.method}`);
    if (r.request.headers.get("x-keep") !== "1") probs.push("x-keep lost");
    for (const n of r.decision.remove) if (r.request.headers.has(n) && !(n in r.decision.add)) probs.push(`${n} not removed`);
    if (r.decision.remove.length && orig.headers.get("x-authcore-user") !== "mallory") probs.push("original request was modified");
    check("node apply: allowed request keeps body and target", probs.join("; "));
  }
  const d = auth.decide({ method: "GET", path: "/", client_ip: "", headers: [] }, { now: 0 });
  check("node apply: decide returns the decision JSON",
    typeof d.status === "number" && typeof d.reason === "string" && typeof d.action === "string" ? null : JSON.stringify(d));
  let threw = null;
  try { auth.decide({ method: "GET", path: "/\0", headers: [] }); } catch (e) { threw = e; }
  check("node apply: a NUL in a request field is refused, not truncated", threw instanceof TypeError ? null : "no TypeError");
  auth.close();
  threw = null;
  try { auth.decide({ method: "GET", path: "/", headers: [] }); } catch (e) { threw = e; }
  check("node apply: use after close() throws", threw ? null : "no error");
} catch (e) {
  check("node apply: allowed request keeps body and target", `threw ${e.stack}`);
}

process.stdout.write(JSON.stringify(out));
