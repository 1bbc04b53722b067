// Node driver for tests/suites/31-vectors-node.sh (driven by edge_suite.py).
// Reads one JSON job on stdin:
//   {"pkg": "<dir of the built package>",
//    "files": [{"name", "policy_json", "env", "cases": [{"id", "request", "now"}]}],
//    "bad": [{"name", "policy_json"}]}
// and writes one JSON answer on stdout:
//   {"cases": {id: {"decision": {...}, "handle": {...}}},
//    "bad": {name: {"rejected": bool, "is_error": bool, "message": "..."}},
//    "checks": [[name, problem-or-null], ...]}
// "decision" comes from auth.decide (the request as the vector gives it,
// body included; a password check runs whole in one call); "handle" from
// auth.handle on a real Fetch Request, or {"skip": why} when Fetch cannot
// carry the request target unchanged (URL parsing removes dot segments, as
// in every Fetch-based runtime). handle runs on an instance of its own with
// passwordSlice set, so password checks go the stepped way there. Each
// instance sees a file's cases in order (one login state per file), loaded
// with the file's env. Repeated headers are joined with ", " by Fetch and
// still run: the core must decide the same.
import { readFileSync } from "node:fs";
import { join } from "node:path";

const job = JSON.parse(readFileSync(0, "utf8"));
const { createAuth, withResponseHeaders } = await import(join(job.pkg, "authcore.mjs"));
const wasmBytes = readFileSync(join(job.pkg, "authcore.wasm"));
const wasmModule = new WebAssembly.Module(wasmBytes);
const out = { cases: {}, bad: {}, checks: [] };
// The policy the apply checks below run on: basic.json's (public /healthz,
// /api/x refused without credentials), whatever order the files come in.
const basicFile = job.files.find((f) => f.name === "basic");
const UPSTREAM_HEADER = "x-test-upstream-header"; // tests/lib/vectors.py
const check = (name, problem) => out.checks.push([name, problem || null]);

// Iterations per slice for the handle() instances: small, so the vectors'
// hashes (1000 iterations) take several slices.
const SLICE = 128;

function fetchRequest(r) {
  const url = (r.https ? "https" : "http") + "://127.0.0.1" + r.path;
  const u = new URL(url);
  if (u.pathname + u.search !== r.path) return { skip: `Fetch URL parsing turns ${r.path} into ${u.pathname + u.search}` };
  // Vector text goes on the wire as UTF-8; Fetch holds those bytes one per char.
  const headers = r.headers.map(([n, v]) => [n, String.fromCharCode(...new TextEncoder().encode(v))]);
  const init = { method: r.method, headers };
  if (r.body !== undefined) init.body = r.body;
  return { request: new Request(url, init) };
}

// Node's Headers hold bytes one char each; compare as the UTF-8 text sent.
const text = (v) => new TextDecoder().decode(Uint8Array.from(v, (c) => c.charCodeAt(0)));
const lower = (h) => Object.fromEntries([...h].map(([n, v]) => [n.toLowerCase(), text(v)]));

for (const f of job.files) {
  let authD, authH;
  const audits = [];
  try {
    authD = await createAuth(f.policy_json, { module: wasmModule, env: f.env, audit: false });
    authH = await createAuth(f.policy_json, {
      module: wasmModule, env: f.env, audit: (l) => audits.push(l), passwordSlice: SLICE,
    });
  } catch (e) {
    for (const c of f.cases) out.cases[c.id] = { error: `createAuth: ${e.message}` };
    continue;
  }
  for (const c of f.cases) {
    const res = {};
    try {
      res.decision = authD.decide(c.request, { now: c.now });
    } catch (e) {
      res.error = `decide: ${e.message}`;
    }
    try {
      const fr = fetchRequest(c.request);
      if (fr.skip) {
        res.handle = { skip: fr.skip };
      } else {
        const n = audits.length;
        // the case's clock, as decide() has it: a file's cases share one
        // moment, so "the 101st of 100/minute" does not depend on how
        // fast the 100 before it ran
        const r = await authH.handle(fr.request, { clientIp: c.request.client_ip, now: c.now });
        // audit calls for this request, and whether they match the decision
        const calls = audits.length - n;
        const h = {
          reason: r.decision.reason, audit_calls: calls,
          audit_same: calls === 0 ? r.decision.audit === null
            : JSON.stringify(JSON.parse(audits[n])) === JSON.stringify(r.decision.audit),
        };
        if (r.response) {
          h.status = r.response.status;
          h.headers = lower(r.response.headers);
          h.set_cookies = r.response.headers.getSetCookie().map(text);
          h.body = await r.response.text();
          h.body_ok = h.body === (r.decision.body ?? "");
        } else {
          h.status = 200;
          // the answer of an upstream with its own headers (as the test
          // upstreams give them), after withResponseHeaders
          const own = new Headers();
          for (const spec of (fr.request.headers.get(UPSTREAM_HEADER) ?? "").split(/,\s*/)) {
            const i = spec.indexOf(":");
            if (i > 0) own.append(spec.slice(0, i).trim(), spec.slice(i + 1).trim());
          }
          h.headers = lower(withResponseHeaders(new Response("{}", { headers: own }), r.responseHeaders).headers);
          h.set_cookies = r.responseHeaders.filter(([n]) => n.toLowerCase() === "set-cookie").map(([, v]) => text(v));
          h.upstream = lower(r.request.headers);
          h.user = r.identity.user;
          // the request goes on unchanged, or to the target the decision
          // rewrote it to (a consumed token parameter removed)
          const u = new URL(r.request.url);
          const want = r.decision.path_rewritten ? new URL(r.decision.path, fr.request.url).href : fr.request.url;
          h.same_target = u.href === want && r.request.method === fr.request.method;
        }
        res.handle = h;
      }
    } catch (e) {
      res.handle = { error: `handle: ${e.message}` };
    }
    out.cases[c.id] = res;
  }
  authD.close();
  authH.close();
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
if (basicFile) {
  const fails = [];
  for (let pad = 0; pad < 16; pad++) {
    try {
      (await createAuth(basicFile.policy_json + " ".repeat(pad), { module: wasmModule })).close();
    } catch (e) {
      fails.push(`+${pad} spaces: ${e.message}`);
    }
  }
  check("node policy loads whatever its length (16 paddings)", fails.length ? `${fails.length}/16 failed, e.g. ${fails[0]}` : null);
} else {
  check("node apply checks", "basic.json is not among the vector files");
}

// The apply layer, independent of what the policy says: a POST body and the
// request target survive forwarding, the original Request is left alone.
try {
  const policy = basicFile ? basicFile.policy_json : "{}";
  const auth = await createAuth(policy, { module: wasmModule, audit: false });
  const orig = new Request("https://example.test/healthz?x=1", {
    method: "POST", body: "payload", headers: { "x-authcore-user": "mallory", "x-keep": "1" },
  });
  const r = await auth.handle(orig, { clientIp: "192.0.2.1", now: Date.now() / 1000 });
  if (r.response) {
    check("node apply: allowed request keeps body and target", `not allowed (${r.decision.reason}); basic.json's policy must make /healthz public`);
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
  // the request as decided comes back through the view: the target to
  // forward, the client and the scheme (the core took them as sent here:
  // no trusted proxies in this policy)
  {
    const probs = [];
    for (const [path, ip, https] of [["/healthz?a=%41&b", "192.0.2.44", true], ["/api/x", "2001:db8::9", false]]) {
      const v = auth.decide({ method: "GET", path, client_ip: ip, https, headers: [] });
      if (v.path !== path || v.path_rewritten !== false || v.client !== ip || v.https !== https) {
        probs.push(`${path}: ${JSON.stringify({ path: v.path, rw: v.path_rewritten, client: v.client, https: v.https })}`);
      }
    }
    const h = await auth.handle(new Request("https://h.example/healthz?x=1"), { clientIp: "198.51.100.3" });
    const got = h.response ? "refused" : h.identity;
    if (got === "refused" || got.client !== "198.51.100.3" || got.https !== true || h.decision.path !== "/healthz?x=1") {
      probs.push(`handle https: ${JSON.stringify(got)} ${h.decision.path}`);
    }
    let none = null;
    try { await auth.handle(new Request("http://h.example/healthz")); } catch (e) { none = e; }
    if (!(none instanceof TypeError) || !/client address/.test(none.message)) probs.push(`no address: ${none}`);
    check("node apply: decisions carry path, path_rewritten, client and https; no runtime address is a refusal", probs.join("; "));
  }
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

// auth.verify(token): tokens minted by jose (an independent JWS library)
// verify with user, roles and claims read back; tampered, expired and
// wrong-audience ones are refused with the core's reason codes.
{
  const label = "node verify: jose-minted tokens verify; tampered, expired, wrong audience refused";
  try {
    const jose = await import(join(job.pkg, "..", "..", "node_modules", "jose", "dist", "webapi", "index.js"))
      .catch(() => import("jose"));
    const secret = "edge-verify-test-secret-0123456789abcdef";
    const key = new TextEncoder().encode(secret);
    const auth = await createAuth({
      jwt: { keys: [{ alg: "HS256", secret }], audience: "api", roles_claim: "roles" },
      default: "authenticated",
    }, { module: wasmModule, audit: false });
    const now = Math.floor(Date.now() / 1000);
    const mint = (claims) => new jose.SignJWT(claims).setProtectedHeader({ alg: "HS256" }).sign(key);
    const good = await mint({ sub: "ada", aud: "api", exp: now + 60, roles: ["ops", "dev"], n: "\u00e9" });
    const probs = [];
    const v = auth.verify(good, { now });
    if (!v.valid || v.reason !== "ok" || v.user !== "ada" || JSON.stringify(v.roles) !== '["ops","dev"]' ||
        v.claims.n !== "\u00e9" || v.claims.exp !== now + 60) probs.push(`good: ${JSON.stringify(v)}`);
    const bad = good.slice(0, -2) + (good.at(-2) === "A" ? "B" : "A") + good.at(-1);
    const want = [[bad, "bad_signature"], [await mint({ sub: "ada", aud: "api", exp: now - 10 }), "expired"],
      [await mint({ sub: "ada", aud: "web", exp: now + 60 }), "bad_audience"], ["not.a.token", "malformed"]];
    for (const [t, reason] of want) {
      const r = auth.verify(t, { now });
      if (r.valid || r.reason !== reason || r.user !== null || r.claims !== null) probs.push(`${reason}: ${JSON.stringify(r)}`);
    }
    const noJwt = await createAuth({ api_keys: { keys: [] } }, { module: wasmModule, audit: false });
    if (noJwt.verify(good, { now }).reason !== "alg_not_allowed") probs.push("a policy without jwt verified a token");
    check(label, probs.join("; "));
  } catch (e) {
    check(label, `threw ${e.stack}`);
  }
}

// Response headers for the upstream's answer: every pair appended, also to
// a response with immutable headers (as fetch() returns), two Set-Cookie
// kept as two; nothing to add leaves the response as it is.
try {
  const up = Response.redirect("https://example.test/next", 302);
  const got = withResponseHeaders(up, [["set-cookie", "a=1; Path=/"], ["set-cookie", "b=2; Path=/"], ["x-extra", "1"]]);
  const probs = [];
  if (got.status !== 302 || got.headers.get("location") !== "https://example.test/next") probs.push("status or location lost");
  if (JSON.stringify(got.headers.getSetCookie()) !== JSON.stringify(["a=1; Path=/", "b=2; Path=/"])) probs.push(`set-cookie ${JSON.stringify(got.headers.getSetCookie())}`);
  if (got.headers.get("x-extra") !== "1") probs.push("x-extra missing");
  if (withResponseHeaders(up, []) !== up) probs.push("a copy made with nothing to add");
  check("node apply: withResponseHeaders appends every header", probs.join("; "));
} catch (e) {
  check("node apply: withResponseHeaders appends every header", `threw ${e.stack}`);
}

// Modes: "set" replaces every value the upstream sent of the name (any
// case), "set_if_absent" adds only where it sent none, a pair appends.
{
  const label = "node apply: withResponseHeaders applies each header's mode";
  try {
    const up = new Response("x", { headers: [["X-Frame-Options", "SAMEORIGIN"], ["Referrer-Policy", "no-referrer"],
      ["Vary", "Accept"], ["Access-Control-Allow-Origin", "*"]] });
    const got = withResponseHeaders(up, [["x-frame-options", "DENY", "set_if_absent"],
      ["x-content-type-options", "nosniff", "set_if_absent"], ["referrer-policy", "same-origin", "set"],
      ["vary", "Origin"], ["access-control-allow-origin", "https://app.example", "set"]]);
    const want = { "x-frame-options": "SAMEORIGIN", "x-content-type-options": "nosniff",
      "referrer-policy": "same-origin", vary: "Accept, Origin", "access-control-allow-origin": "https://app.example" };
    const probs = Object.entries(want).filter(([n, v]) => got.headers.get(n) !== v)
      .map(([n, v]) => `${n} ${JSON.stringify(got.headers.get(n))}, want ${JSON.stringify(v)}`);
    check(label, probs.join("; "));
  } catch (e) {
    check(label, `threw ${e.stack}`);
  }
}

// serve(): next() only on allow, its response returned; a refusal answered
// locally without calling next().
if (basicFile) {
  const label = "node apply: serve calls next only on allow";
  try {
    const auth = await createAuth(basicFile.policy_json, { module: wasmModule, audit: false });
    const calls = [];
    const next = async (req, identity) => {
      calls.push([new URL(req.url).pathname, identity.reason]);
      return new Response("from next", { headers: { "x-next": "1" } });
    };
    const probs = [];
    const a = await auth.serve(new Request("http://127.0.0.1/healthz"), next, { clientIp: "192.0.2.1" });
    if (a.status !== 200 || (await a.text()) !== "from next" || calls.length !== 1) probs.push(`public path: status ${a.status}, ${calls.length} calls`);
    const want = auth.decide({ method: "GET", path: "/api/x", headers: [] });
    if (want.action === "allow") probs.push("basic.json's policy must refuse GET /api/x without credentials");
    const b = await auth.serve(new Request("http://127.0.0.1/api/x"), next, { clientIp: "192.0.2.1" });
    if (b.status !== want.status || calls.length !== 1) probs.push(`refused path: status ${b.status} (want ${want.status}), ${calls.length} calls`);
    auth.close();
    check(label, probs.join("; "));
  } catch (e) {
    check(label, `threw ${e.stack}`);
  }
}

// Connection caps: a decision's lease, released once by handle()'s
// release, by serve() when next throws, when a body-less response is
// produced and when a body is read to its end; auth.release for decide().
{
  const label = "node caps: a lease per allowed stream, released once: by hand, a throw, no body, a body's end";
  try {
    const auth = await createAuth({ api_keys: { keys: [] }, public: ["/s", "/other"], default: "authenticated",
      rate_limits: { connections: [{ name: "s", path: "/s", key: "client", max: 2 }] } },
    { module: wasmModule, audit: false });
    const req = { method: "GET", path: "/s", client_ip: "192.0.2.9", headers: [] };
    const fetchReq = () => new Request("http://127.0.0.1/s");
    const opts = { clientIp: "192.0.2.9" };
    const probs = [];
    // how many of 3 more streams the cap admits now; each admitted one is
    // released again, so the count is left as found
    const room = () => {
      let n = 0;
      for (let i = 0; i < 3; i++) {
        const d = auth.decide(req);
        if (d.action !== "allow") {
          if (d.status !== 429 || d.reason !== "too_many_connections") probs.push(`refusal ${d.status} ${d.reason}`);
          break;
        }
        n++;
        held.push(d.leaseBytes);
      }
      while (held.length) auth.release(held.pop());
      return n;
    };
    const held = [];
    const d1 = auth.decide(req);
    if (!(d1.leaseBytes instanceof Uint8Array) || !/^[0-9a-f]+$/.test(d1.toJSON().lease ?? "")) probs.push(`no lease: ${JSON.stringify(d1)}`);
    if (room() !== 1) probs.push("one stream held: the cap of 2 should admit 1 more");
    if (auth.release(d1.leaseBytes) !== "ok") probs.push("auth.release did not say ok");
    if (room() !== 2) probs.push("after auth.release: want room for 2");
    if (auth.release(new Uint8Array(5)) !== "invalid_request") probs.push("a lease of 5 zero bytes was taken");
    if (auth.decide({ ...req, path: "/other" }).leaseBytes !== null) probs.push("a path no cap covers has a lease");
    // handle(): two held, one released twice: the count goes down once
    const a = await auth.handle(fetchReq(), opts);
    const b = await auth.handle(fetchReq(), opts);
    a.release();
    a.release();
    if (room() !== 1) probs.push("release() twice: want room for 1 (released once)");
    b.release();
    // serve(): next throwing releases
    let threw = false;
    try {
      await auth.serve(fetchReq(), () => { throw new Error("app failed"); }, opts);
    } catch {
      threw = true;
    }
    if (!threw || room() !== 2) probs.push("next threw: want the error and room for 2");
    // a body-less response: over once produced
    const e = await auth.serve(fetchReq(), () => new Response(null, { status: 204 }), opts);
    if (e.status !== 204 || room() !== 2) probs.push("a 204: want room for 2 at once");
    // a body: counted until it is read to its end, or cancelled
    const f = await auth.serve(fetchReq(), () => new Response("a body"), opts);
    if (room() !== 1) probs.push("a body not yet read: want room for 1");
    if ((await f.text()) !== "a body" || room() !== 2) probs.push("a body read: want it whole and room for 2");
    const g = await auth.serve(fetchReq(), () => new Response("another"), opts);
    await g.body.cancel();
    if (room() !== 2) probs.push("a body cancelled: want room for 2");
    auth.close();
    check(label, probs.join("; "));
  } catch (e) {
    check(label, `threw ${e.stack}`);
  }
}

// The login policy among the vector files (users and a login section).
const loginFile = job.files.find((f) => {
  const p = JSON.parse(f.policy_json);
  return p.login && Array.isArray(p.users) && p.users.length;
});
if (loginFile) {
  const policy = JSON.parse(loginFile.policy_json);
  const loginUrl = `http://127.0.0.1${policy.login.prefix ?? ""}/auth/login`;
  const form = { "content-type": "application/x-www-form-urlencoded" };
  const user = policy.users[0].name;

  // The stepped path yields to the event loop between slices: a timer
  // ticks while one password check runs.
  {
    const label = "node handle with passwordSlice yields during a password check";
    try {
      const auth = await createAuth(policy, { module: wasmModule, env: loginFile.env, audit: false, passwordSlice: 100 });
      let ticks = 0;
      const timer = setInterval(() => ticks++, 0);
      let r;
      try {
        r = await auth.handle(new Request(loginUrl, {
          method: "POST", headers: form, body: `username=${encodeURIComponent(user)}&password=not-the-password`,
        }), { clientIp: "192.0.2.7" });
      } finally {
        clearInterval(timer);
      }
      auth.close();
      check(label, r.decision.reason !== "bad_password" ? `reason ${r.decision.reason}, want bad_password`
        : ticks === 0 ? "no timer ran while the check was under way" : null);
    } catch (e) {
      check(label, `threw ${e.stack}`);
    }
  }

  // The body cap: exactly acw's maximum is read whole, one byte more is
  // body_too_large, through decide() and through handle()'s stream reading.
  {
    const label = "node login body: 8192 bytes decided, 8193 refused as body_too_large (decide and handle)";
    try {
      const auth = await createAuth(policy, { module: wasmModule, env: loginFile.env, audit: false });
      const bodyOf = (n) => {
        const head = "username=nobody&password=";
        return head + "x".repeat(n - head.length);
      };
      const probs = [];
      for (const [n, tooLarge] of [[8192, false], [8193, true]]) {
        const d = auth.decide({ method: "POST", path: new URL(loginUrl).pathname, client_ip: `192.0.2.${n & 255}`,
          headers: [["content-type", form["content-type"]]], body: bodyOf(n) });
        const r = await auth.handle(new Request(loginUrl, { method: "POST", headers: form, body: bodyOf(n) }),
          { clientIp: `198.51.100.${n & 255}` });
        for (const [how, reason, status] of [["decide", d.reason, d.status], ["handle", r.decision.reason, r.decision.status]]) {
          if ((reason === "body_too_large") !== tooLarge || (tooLarge && status !== 413)) probs.push(`${how} ${n} bytes: ${status} ${reason}`);
        }
      }
      auth.close();
      check(label, probs.join("; "));
    } catch (e) {
      check(label, `threw ${e.stack}`);
    }
  }

  // The environment reaches the core: one admin variable without the other
  // is refused, naming the variable's family.
  {
    const label = "node env: an incomplete admin bootstrap is refused naming $env";
    try {
      (await createAuth(policy, { module: wasmModule, env: { AUTHCORE_ADMIN_USER: "root" } })).close();
      check(label, "createAuth resolved");
    } catch (e) {
      check(label, String(e.message).includes("$env.AUTHCORE_ADMIN") ? null : `message ${e.message}`);
    }
  }
} else {
  check("node login checks", "no vector file has a login policy with users");
}

// Warnings (ac_policy_warnings): a rule's role nothing can carry is logged
// through options.warn at load and kept on auth.warnings; a policy without
// one warns about nothing.
{
  const label = "node warnings: a role nothing can carry is logged at load, with its JSON path";
  try {
    const warned = [];
    const pol = {
      api_keys: { keys: [{ name: "ci", role: "reader",
        sha256: "05bf621417102914e809c1764486094de0038c50820713e55767359e00c45268" }] },
      rules: [{ path: "/api/*", role: "reader" }, { path: "/audit/*", role: "auditor" }],
      default: "authenticated",
    };
    const auth = await createAuth(pol, { module: wasmModule, warn: (m) => warned.push(m) });
    const clean = await createAuth(JSON.parse(basicFile.policy_json),
      { module: wasmModule, warn: (m) => warned.push("basic: " + m) });
    const probs = [];
    if (auth.warnings.length !== 1 || !auth.warnings[0].startsWith("$.rules[1].role: "))
      probs.push(`warnings ${JSON.stringify(auth.warnings)}`);
    if (warned.length !== 1 || !warned[0].includes("policy warning at $.rules[1].role"))
      probs.push(`logged ${JSON.stringify(warned)}`);
    if (clean.warnings.length !== 0) probs.push(`basic.json warns: ${JSON.stringify(clean.warnings)}`);
    auth.close();
    clean.close();
    check(label, probs.join("; "));
  } catch (e) {
    check(label, `threw ${e.stack}`);
  }
}

process.stdout.write(JSON.stringify(out));
