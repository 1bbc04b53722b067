// authcore for JavaScript runtimes: Cloudflare Workers (workerd), Deno, Node.
//
// A thin shim over the wasm core (wasm/acw.c): it serializes a request once,
// asks the core what deciding it needs (the body: login posts; the login
// state: login posts and Basic credentials), reads the body only then, makes
// one decision call and applies the decision once: the core's header
// removals then additions, and the request target the core chose. Every
// policy rule lives in the core, so this file decides nothing itself.
//
//   const auth = await createAuth(policy, { module, env });
//   // env: the caller's own settings, e.g. a Worker's `env`, Deno.env.toObject()
//   // or process.env; only AUTHCORE_* strings are passed to the core
//   // (AUTHCORE_ADMIN_USER + AUTHCORE_ADMIN_PASSWORD_HASH: the first admin).
//
//   // simplest: the local answer, or next()'s response with the decision's
//   // response headers (Set-Cookie...) appended. The client address comes
//   // from the runtime: Workers (createAuth's runtime: "workers", or a
//   // request carrying Cloudflare's `cf` object): CF-Connecting-IP; Deno:
//   // { info } (Deno.serve's second argument); Node: nodeHandler() below.
//   return auth.serve(request, (req, identity) => fetch(req));
//
//   // or step by step:
//   const r = await auth.handle(request, { info, now });
//   if (r.response) return r.response;       // 401 / 403 / login page, ...
//   const resp = await app(r.request, r.identity); // identity headers set
//   return withResponseHeaders(resp, r.responseHeaders); // MUST be applied
//
// A login post carries a password check (PBKDF2, often 600,000 iterations).
// By default it runs to its end inside the decision call; with
// options.passwordSlice = N, handle() runs N iterations at a time and yields
// to the event loop in between, so one login does not stall other requests.
// The policy's login.max_pending bounds the checks under way on an instance:
// past it the core answers 503 overloaded with Retry-After, before any
// hashing. A check whose client goes away (request.signal) gives its place
// back at once.
//
// A policy whose store is Redis ("store": {"redis": ...}) keeps its rate
// limits' buckets, connection caps' counters and session revocations there,
// shared by every instance of a fleet: each store step of a decision is one
// command (the core names it), sent with node-redis (the npm package
// `redis`) or options.redis, or in workerd over its TCP sockets as the
// core's RESP bytes, and its reply handed back to the core.
import createAuthcoreModule from "./authcore_glue.mjs";

const ENTROPY_LEN = 16;
const STATE_SEED_LEN = 32; // AC_STATE_SECRET_LEN
const SCRATCH_LEN = Math.max(ENTROPY_LEN, STATE_SEED_LEN);
// A body over the core's cap: sent as "-", never cut.
const TOO_LARGE = Symbol("too large");
// Random bytes are drawn in batches: one getRandomValues call costs about as
// much as the HMAC check itself under Node. Drawn on first use, never at
// module scope (Workers refuse randomness outside a request).
const POOL_LEN = 4096;
const ERR_CAP = 512;
// ac_needs bits (core/authcore_decide.h): the body; rate-limit buckets
// (AC_NEEDS_ENTRIES 64: kept in the instance's wasm memory and read and
// written inside the decision call, but placed by the state's key, so the
// state is keyed first); and the view's own bit for a decision that may
// wait (wasm/acw.c ACW_NEEDS_WAIT 256, from ac_needs_wait: a password
// check, a fetch, a step of a Redis store): made on a decision of its own
// (the stepped path), never in one call.
const NEEDS_BODY = 1;
const NEEDS_ENTRIES = 64;
const NEEDS_WAIT = 256;
// answer.wait (core/authcore_decide.h): what a pending decision waits for
const WAIT_FETCH = 3;
// the view's own wait (wasm/acw.c): a command for Redis to send first
const WAIT_REDIS = 4;
const REDIS_READS = 1; // AC_REDIS_READS: the reply is an array of strings
// Iterations per acw_step call when a password check runs whole.
const WHOLE = 1 << 20;
// Statuses whose responses must not carry a body (Fetch "null body status").
const NULL_BODY = new Set([101, 103, 204, 205, 304]);
const LEASE_MAX = 80; // AC_LEASE_MAX (66), rounded up
const noop = () => {};

const utf8 = new TextDecoder("utf-8");
const utf8enc = new TextEncoder();
// eslint-disable-next-line no-control-regex
const ASCII = /^[\x00-\x7f]*$/;

// Header values in Fetch are byte strings (one char per byte, Node and Deno),
// but workerd decodes them as UTF-8 and encodes set values as UTF-8. Probed
// once: only workerd accepts a character above U+00FF in a header value.
let headersAreText;
function textHeaders() {
  if (headersAreText === undefined) {
    try {
      new Headers({ x: "\u2603" });
      headersAreText = true;
    } catch {
      headersAreText = false;
    }
  }
  return headersAreText;
}

/**
 * Compiles `policy` (an object or a JSON string) into a new wasm instance.
 * options.module: a WebAssembly.Module (Workers: `import wasm from
 *   "./authcore.wasm"`) or the bytes of authcore.wasm (Node, Deno).
 * options.env: an object of settings the caller read from its environment
 *   (a Worker's env bindings, Deno.env.toObject(), process.env). Entries
 *   named AUTHCORE_* with string values go to the core; others are ignored.
 *   This module reads no globals itself. AUTHCORE_ADMIN_USER and
 *   AUTHCORE_ADMIN_PASSWORD_HASH add the first administrator to the users.
 * options.audit: called with each decision's audit line (JSON text) by
 *   handle(); defaults to console.log; false turns it off.
 * options.passwordSlice: PBKDF2 iterations handle() runs between yields to
 *   the event loop during a password check; 0 (default) runs it whole.
 * options.runtime: "workers" when the instance serves Cloudflare Workers:
 *   the client address is then CF-Connecting-IP, which Cloudflare's edge
 *   sets (a request carrying Cloudflare's `cf` object is taken as such
 *   without the option; workerd serving its own socket gives the peer in
 *   cf.clientIp, which is taken first).
 * options.redis: under a policy whose store is Redis, a client the app made
 *   (anything with sendCommand(argv) resolving to Redis's reply: node-redis,
 *   or a wrapper around another client or an HTTP gateway). Without it the
 *   instance makes its own with the npm package `redis` from the policy's
 *   host, port, password and timeout_ms (offline queue off, reconnecting in
 *   the background), and close() closes it; in workerd it speaks RESP over
 *   workerd's TCP sockets itself (cloudflare:sockets; socketStore below).
 * Rejects with an Error whose message is "<JSON path>: <what is wrong>" when
 * the core refuses the policy (or "$env.AUTHCORE_...: ..." for the env).
 * Each instance keeps its own login state (attempt counters, verified Basic
 * credentials), keyed with 32 random bytes on its first decision.
 */
export async function createAuth(policy, options = {}) {
  const {
    module, audit = console.log, env = {}, passwordSlice = 0,
    runtime, warn = console.warn,
  } = options;
  if (audit !== false && audit !== null && typeof audit !== "function") {
    throw new TypeError("authcore: options.audit must be a function or false");
  }
  if (!Number.isSafeInteger(passwordSlice) || passwordSlice < 0) {
    throw new TypeError("authcore: options.passwordSlice must be a non-negative integer");
  }
  if ("maxPendingChecks" in options) {
    throw new TypeError("authcore: options.maxPendingChecks is gone: the policy's login.max_pending bounds password checks");
  }
  if (runtime !== undefined && runtime !== "workers") {
    throw new TypeError('authcore: options.runtime must be "workers" or left out');
  }
  const json = typeof policy === "string" ? policy : JSON.stringify(policy);
  if (typeof json !== "string") {
    throw new TypeError("authcore: policy must be an object or a JSON string");
  }
  const envBytes = utf8enc.encode(envText(env));
  const M = await instantiate(module);
  const policyBytes = utf8enc.encode(json);

  // Scratch that lives as long as the instance: random bytes (a call's
  // entropy, or the state's key), then *out_len.
  // entropy or the state's key, then *out_len, then acw_redis_reply_resp's *used
  const scratch = M._acw_alloc(SCRATCH_LEN + 8) >>> 0;
  const lenPtr = scratch + SCRATCH_LEN;
  const usedPtr = lenPtr + 4;
  const jsonPtr = M._acw_alloc(policyBytes.length) >>> 0;
  const errPtr = M._acw_alloc(ERR_CAP) >>> 0;
  const envPtr = M._acw_alloc(envBytes.length) >>> 0;
  if (!scratch || !jsonPtr || !errPtr || !envPtr) throw new Error("authcore: out of wasm memory");
  let heap = M.HEAPU8;
  heap.set(policyBytes, jsonPtr);
  heap.set(envBytes, envPtr);
  const ctx = M._acw_load(jsonPtr, policyBytes.length, errPtr, ERR_CAP, envPtr, envBytes.length) >>> 0;
  heap = M.HEAPU8;
  heap.fill(0, envPtr, envPtr + envBytes.length);
  const err = ctx ? "" : cString(heap, errPtr, ERR_CAP);
  for (const p of [jsonPtr, errPtr, envPtr]) M._acw_free(p);
  if (!ctx) {
    M._acw_free(scratch);
    throw new Error(`authcore: invalid policy: ${err}`);
  }
  // What the policy cannot do as written (ac_policy_warnings): logged once
  // here, as nginx and Envoy log them at load, and kept on auth.warnings.
  const warnPtr = M._acw_alloc(ERR_CAP) >>> 0;
  if (!warnPtr) throw new Error("authcore: out of wasm memory");
  const nWarn = M._acw_warnings(ctx, warnPtr, ERR_CAP) >>> 0;
  const warnings = nWarn ? cString(M.HEAPU8, warnPtr, ERR_CAP).split("\n").filter(Boolean) : [];
  M._acw_free(warnPtr);
  if (typeof warn === "function") for (const w of warnings) warn(`authcore: policy warning at ${w}`);
  const bodyMax = M._acw_body_max() >>> 0;

  // The shared store, when the policy names one (null: the instance's own
  // table, inside the decision calls).
  let store = null;
  const rcfg = redisConfig(M, ctx);
  if (rcfg) {
    // the AUTH a raw connection sends first, as the core encodes it
    const a = M._acw_redis_auth(ctx, lenPtr) >>> 0;
    rcfg.auth = a ? M.HEAPU8.slice(a, a + M.HEAPU32[lenPtr >>> 2]) : null;
    try {
      store = await redisStore(rcfg, options.redis, warn);
    } catch (e) {
      M._acw_unload(ctx);
      M._acw_free(scratch);
      throw e;
    }
  }

  let reqPtr = 0;
  let reqCap = 0;
  const pool = new Uint8Array(POOL_LEN);
  let poolPos = POOL_LEN;

  // Writes a request into wasm memory in acw's format (wasm/acw.c): fields
  // NUL-terminated (byte strings one byte per character, text as UTF-8),
  // then, when body is given, the body section. Returns its length. The
  // buffer is shared: write it again after any await.
  function put(fields, body, byteStrings) {
    written = -1;
    for (const f of fields) {
      if (f.includes("\0")) throw new TypeError("authcore: a request field contains NUL");
    }
    let wire = fields.join("\0") + "\0";
    if (body) wire += "\0" + (body === TOO_LARGE ? "-" : String(body.length)) + "\0";
    const bodyLen = body && body !== TOO_LARGE ? body.length : 0;
    const max = wire.length * 3 + bodyLen; // UTF-8 needs at most 3 bytes per UTF-16 unit
    if (max > reqCap) {
      if (reqPtr) M._acw_free(reqPtr);
      reqCap = Math.max(max, 4096);
      reqPtr = M._acw_alloc(reqCap) >>> 0;
      if (!reqPtr) {
        reqCap = 0;
        throw new Error("authcore: out of wasm memory");
      }
    }
    const h = M.HEAPU8; // read after the alloc: memory growth replaces it
    let len = utf8enc.encodeInto(wire, h.subarray(reqPtr, reqPtr + max)).written;
    if (len !== wire.length && byteStrings) {
      // not all ASCII, and header values are byte strings (one byte per
      // character) in this runtime: write them as such
      len = wire.length;
      for (let i = 0; i < len; i++) {
        const c = wire.charCodeAt(i);
        if (c > 0xff) throw new TypeError("authcore: header values must be byte strings");
        h[reqPtr + i] = c;
      }
    }
    if (bodyLen) {
      h.set(body, reqPtr + len);
      len += bodyLen;
    }
    return len;
  }

  // Fresh random bytes for one call, at scratch. The first call that
  // touches the login state or the rate limits' buckets also keys the state
  // (here, not in createAuth: Workers give randomness only while a request
  // is handled).
  let seeded = false;
  function putEntropy(state) {
    if (state && !seeded) {
      const h = M.HEAPU8;
      crypto.getRandomValues(h.subarray(scratch, scratch + STATE_SEED_LEN));
      const rc = M._acw_seed(ctx, scratch, STATE_SEED_LEN);
      M.HEAPU8.fill(0, scratch, scratch + STATE_SEED_LEN);
      if (rc !== 0) throw new Error("authcore: the core refused the state's key");
      seeded = true;
    }
    if (poolPos + ENTROPY_LEN > POOL_LEN) {
      crypto.getRandomValues(pool);
      poolPos = 0;
    }
    M.HEAPU8.set(pool.subarray(poolPos, poolPos + ENTROPY_LEN), scratch);
    pool.fill(0, poolPos, poolPos + ENTROPY_LEN); // each byte is used once
    poolPos += ENTROPY_LEN;
  }

  // Decisions come back as a view (wasm/acw.c, view_out): u32 words with
  // (pointer, length) strings, read here without any JSON parsing. The
  // object is the one ac_decision_json describes; `audit` is parsed only
  // when read.
  M._acw_set_view(ctx, 1);
  const REASONS = [];
  for (let i = 0; i < 256; i++) {
    const name = cString(M.HEAPU8, M._acw_reason_name(i) >>> 0, 64);
    if (name === "unknown") break;
    REASONS.push(name);
  }
  // Names (headers to remove or add, response header names) point into the
  // policy or static storage: decoded once per (pointer, length).
  const names = new Map();
  function nameAt(h, p, n) {
    const key = p * 65536 + n;
    let s = names.get(key);
    if (s === undefined) {
      s = textAt(h, p, n);
      names.set(key, s);
    }
    return s;
  }

  function result(out) {
    if (!out) throw new Error("authcore: the core returned no decision");
    const h = M.HEAPU8;
    const W = M.HEAPU32;
    let k = out >>> 2;
    const nr = W[k + 3], na = W[k + 4], nh = W[k + 5];
    const d = new Decision(ACTIONS[W[k]], W[k + 1], REASONS[W[k + 2]] ?? "unknown",
      textAt(h, W[k + 6], W[k + 7]), W[k + 8] ? textAt(h, W[k + 8], W[k + 9]) : null,
      textAt(h, W[k + 10], W[k + 11]));
    d.path = textAt(h, W[k + 12], W[k + 13]);
    d.path_rewritten = W[k + 14] !== 0;
    d.client = textAt(h, W[k + 15], W[k + 16]);
    d.https = W[k + 17] !== 0;
    k += 18; // ACW_VIEW_FIXED
    for (let i = 0; i < nr; i++, k += 2) d.remove.push(nameAt(h, W[k], W[k + 1]));
    for (let i = 0; i < na; i++, k += 4) d.add[nameAt(h, W[k], W[k + 1])] = textAt(h, W[k + 2], W[k + 3]);
    for (let i = 0; i < nh; i++, k += 5) {
      const entry = [nameAt(h, W[k], W[k + 1]), textAt(h, W[k + 2], W[k + 3])];
      if (W[k + 4] !== 0) entry.push(MODES[W[k + 4]]);
      d.headers.push(entry);
    }
    k += 2; // auth_method
    if (W[k + 1] !== 0) d.leaseBytes = h.slice(W[k], W[k] + W[k + 1]); // a copy: the view goes
    k += 2;
    d.wait = W[k];
    // the command for Redis, after the fetch's words and its shareable
    // word (wasm/acw.c, view_out)
    const e = k + 8 + 4 * W[k + 7] + 2 + 1;
    if (W[e] !== 0) {
      const argv = [];
      for (let i = 0, n = W[e + 1]; i < n; i++) argv.push(textAt(h, W[e + 2 + 2 * i], W[e + 3 + 2 * i]));
      d.redis = { kind: W[e], argv };
    }
    if (d.wait === WAIT_FETCH) {
      // the whole request the core names: fetchCapped sends exactly it
      const headers = [];
      let j = k + 8;
      for (let i = 0, n = W[k + 7]; i < n; i++, j += 4) {
        headers.push([textAt(h, W[j], W[j + 1]), textAt(h, W[j + 2], W[j + 3])]);
      }
      d.fetch = {
        url: textAt(h, W[k + 1], W[k + 2]), maxBytes: W[k + 3], timeoutMs: W[k + 4],
        method: textAt(h, W[k + 5], W[k + 6]), headers,
        body: W[j + 1] !== 0 ? h.slice(W[j], W[j] + W[j + 1]) : null, // a copy: the view goes
      };
    }
    return d;
  }

  // What deciding the request needs (NEEDS_* bits). The request stays
  // written, so the decision right after it (no await between) reuses it.
  let written = -1;
  function needsOf(fields, byteStrings) {
    const len = put(fields, null, byteStrings);
    const n = M._acw_needs(ctx, reqPtr, len);
    if (n < 0) throw new Error("authcore: the core could not read the request");
    written = len;
    return n;
  }

  function write(fields, body, byteStrings) {
    return written >= 0 && !body ? written : put(fields, body, byteStrings);
  }

  // The one place a request is decided. One that neither touches the state
  // nor may wait for a fetch: one call on the context's decision (it cannot
  // go pending). Others: on a decision of their own (the core's
  // login.max_pending bounds how many are pending); when the core answers
  // pending, the password check runs (whole, or `slice` iterations at a
  // time with a turn of the event loop between), or the keys of
  // jwt.jwks_uri are fetched (always awaited), and the decision resumes; a
  // client gone meanwhile (signal aborted) ends the wait there, gives its
  // slot back to the core, and rejects with an Error. Under a policy whose
  // store is Redis every request that needs entries takes this path too:
  // each command the core names is sent and awaited (redisStep), whatever
  // the answer's action, until none is due. Returns the Decision, or a
  // Promise of it when it yields.
  function decideRequest(fields, body, needs, now, byteStrings, slice, signal) {
    if (!(needs & NEEDS_WAIT)) {
      const len = write(fields, body, byteStrings);
      written = -1;
      putEntropy((needs & NEEDS_ENTRIES) !== 0);
      return result(M._acw_decide(ctx, reqPtr, len, now, scratch, ENTROPY_LEN, lenPtr) >>> 0);
    }
    const d = M._acw_decision_new() >>> 0;
    if (!d) throw new Error("authcore: out of wasm memory");
    let later = false;
    try {
      const len = write(fields, body, byteStrings);
      written = -1;
      putEntropy(true);
      const first = result(M._acw_begin(ctx, d, reqPtr, len, now, scratch, ENTROPY_LEN, lenPtr) >>> 0);
      if (first.action !== "pending" && first.wait !== WAIT_REDIS) return first;
      if (slice === 0 && first.wait !== WAIT_FETCH && store === null) {
        let r;
        do {
          while (M._acw_step(d, WHOLE) !== 0);
          r = resume(d, fields, body, now, byteStrings);
        } while (r.action === "pending");
        return r;
      }
      later = true;
      return (async () => {
        // the decision's own connection, when the store speaks over a raw socket
        const sess = { conn: null };
        try {
          // pending again after resume: a rate-limit write lost to a request
          // decided meanwhile, decided again with a check of its own
          let r = first;
          for (;;) {
            if (r.wait === WAIT_REDIS) {
              // the store step the core names (reads, or writes): sent, its
              // reply handed back; the answer may name the next one
              r = await redisStep(d, r, fields, body, now, byteStrings, sess);
              continue;
            }
            if (r.action !== "pending") return r;
            if (r.wait === WAIT_FETCH) {
              // the request the core names (keys, a token): fetched here, handed to the core
              const got = await fetchCapped(r.fetch);
              live();
              if (signal && signal.aborted) {
                M._acw_abandon(ctx, d);
                throw new Error("authcore: the client went away during a key fetch");
              }
              fetched(d, got, now);
              r = resume(d, fields, body, now, byteStrings);
              continue;
            }
            while (M._acw_step(d, slice || WHOLE) !== 0) {
              await yieldTurn();
              live();
              if (signal && signal.aborted) {
                M._acw_abandon(ctx, d);
                throw new Error("authcore: the client went away during a password check");
              }
            }
            r = resume(d, fields, body, now, byteStrings);
          }
        } finally {
          if (sess.conn) store.done(sess);
          release(d);
        }
      })();
    } finally {
      if (!later) release(d);
    }
  }

  // Hands a fetch's outcome ({status, type, body}) to a pending decision.
  function fetched(d, got, now) {
    const type = new TextEncoder().encode(got.type);
    const p = M._acw_alloc(type.length + got.body.length) >>> 0;
    if (!p) throw new Error("authcore: out of wasm memory");
    try {
      M.HEAPU8.set(type, p);
      M.HEAPU8.set(got.body, p + type.length);
      M._acw_fetched(ctx, d, got.status, p, type.length, p + type.length, got.body.length, now);
    } finally {
      M._acw_free(p);
    }
  }

  function resume(d, fields, body, now, byteStrings) {
    const len = put(fields, body, byteStrings); // again: others ran meanwhile
    putEntropy(true);
    return result(M._acw_resume(ctx, d, reqPtr, len, now, scratch, ENTROPY_LEN, lenPtr) >>> 0);
  }

  // Sends the command a decision's view names (r.redis) and hands the reply
  // to the core (fields null: a release). Returns the next view. Over a raw
  // socket (store.raw: workerd) the command goes as the core's RESP bytes on
  // the decision's connection (sess) and the core reads the reply's bytes.
  async function redisStep(d, r, fields, body, now, byteStrings, sess) {
    const { kind, argv } = r.redis;
    let reply;
    if (store.raw) {
      const out = M._acw_redis_resp(ctx, d, lenPtr) >>> 0;
      const cmd = M.HEAPU8.slice(out, out + M.HEAPU32[lenPtr >>> 2]);
      const got = await store.exchange(sess, cmd, (bytes) => replyBytes(d, bytes, fields, body, now, byteStrings));
      live();
      if (got !== REDIS_FAILED) return got; // the core read it (or found it no reply: failed)
      reply = REDIS_FAILED; // no reply: handed over as error 1 below
    } else {
      reply = await store.send(argv);
      live();
    }
    let items = [];
    let applied = -1;
    let error = reply === REDIS_FAILED ? 1 : 0;
    if (!error && kind === REDIS_READS) {
      if (Array.isArray(reply) && reply.every((x) => x === null || typeof x === "string" || x instanceof Uint8Array)) items = reply;
      else error = store.failed(new Error("a reply of the wrong shape to a read"));
    } else if (!error) {
      if (typeof reply === "number" || typeof reply === "bigint") applied = Number(reply);
      else error = store.failed(new Error("a reply of the wrong shape to a write"));
    }
    const parts = items.map((x) => (x === null ? null : typeof x === "string" ? utf8enc.encode(x) : x));
    let size = 0;
    for (const b of parts) size += 4 + (b === null ? 0 : b.length);
    const p = M._acw_alloc(size) >>> 0;
    if (!p) throw new Error("authcore: out of wasm memory");
    try {
      const h = M.HEAPU8;
      const v = new DataView(h.buffer, h.byteOffset);
      let at = p;
      for (const b of parts) {
        v.setUint32(at, b === null ? 0xffffffff : b.length, true);
        at += 4;
        if (b !== null) {
          h.set(b, at);
          at += b.length;
        }
      }
      const len = fields === null ? 0 : put(fields, body, byteStrings); // again: others ran meanwhile
      putEntropy(fields !== null);
      return result(M._acw_redis_reply(ctx, d, reqPtr, len, now, scratch, ENTROPY_LEN, error, p, size,
        parts.length, applied, lenPtr) >>> 0);
    } finally {
      M._acw_free(p);
    }
  }

  // The bytes read so far of a reply, handed to the core: the next view
  // ({ view, used }: used > 0, the bytes the reply took, or -1, no reply
  // of the command's shape, handed over as a failed store), or null while
  // more bytes are needed (nothing handed over).
  function replyBytes(d, bytes, fields, body, now, byteStrings) {
    const p = M._acw_alloc(bytes.length) >>> 0;
    if (!p) throw new Error("authcore: out of wasm memory");
    try {
      M.HEAPU8.set(bytes, p);
      const len = fields === null ? 0 : put(fields, body, byteStrings); // again: others ran meanwhile
      putEntropy(fields !== null);
      const out = M._acw_redis_reply_resp(ctx, d, reqPtr, len, now, scratch, ENTROPY_LEN, p, bytes.length,
        usedPtr, lenPtr) >>> 0;
      const used = M.HEAPU32[usedPtr >>> 2] | 0; // a signed long
      if (used === 0) return null;
      return { view: result(out), used };
    } finally {
      M._acw_free(p);
    }
  }

  function release(d) {
    M._acw_decision_free(d); // wipes the check's key material (its own block: also after close)
  }

  // A connection cap's lease, released once when its stream ends: a
  // function that hands the bytes back to the core (acw_release, inside the
  // call against this instance's table) the first time it is called and
  // does nothing after. A null lease: a function that does nothing.
  let leasePtr = 0;
  function releaseBytes(bytes, now) {
    if (!(bytes instanceof Uint8Array) || bytes.length === 0 || bytes.length > LEASE_MAX) {
      return "invalid_request";
    }
    if (!leasePtr && !(leasePtr = M._acw_alloc(LEASE_MAX) >>> 0)) {
      throw new Error("authcore: out of wasm memory");
    }
    if (store !== null) return releaseShared(bytes, now);
    M.HEAPU8.set(bytes, leasePtr);
    const rc = M._acw_release(ctx, leasePtr, bytes.length, now) >>> 0;
    return REASONS[rc] ?? "unknown";
  }

  // A release whose counters are Redis's: on a decision of its own, each
  // store step awaited. Resolves to the core's reason.
  async function releaseShared(bytes, now) {
    const d = M._acw_decision_new() >>> 0;
    if (!d) throw new Error("authcore: out of wasm memory");
    const sess = { conn: null };
    try {
      M.HEAPU8.set(bytes, leasePtr);
      const out = M._acw_release_begin(ctx, d, leasePtr, bytes.length, now, lenPtr) >>> 0;
      if (!out) return "invalid_request";
      let r = result(out);
      while (r.wait === WAIT_REDIS) r = await redisStep(d, r, null, null, now, false, sess);
      return r.reason;
    } finally {
      if (sess.conn) store.done(sess);
      release(d);
    }
  }

  function leaseRelease(lease) {
    if (!lease) return noop;
    return () => {
      if (lease === null || closed) return;
      const bytes = lease;
      lease = null;
      const report = (why) => {
        if (why !== "ok" && typeof warn === "function") {
          warn(`authcore: a connection lease was not released: ${why}`);
        }
      };
      const why = releaseBytes(bytes, nowOf());
      if (typeof why === "string") return report(why);
      // a promise (Redis): a body's end awaits it (watchBody), so workerd,
      // which ends a request's I/O with its response, lets it finish
      return why.then(report, (e) => report(e && e.message));
    };
  }

  function fieldsOf(method, path, clientIp, https, headers, host) {
    const fields = [String(method), String(path), String(clientIp ?? ""), https ? "1" : "0"];
    let hasHost = false;
    for (const [n, v] of headerPairs(headers)) {
      const name = String(n);
      if (name === "") throw new TypeError("authcore: a header name is empty");
      if (!hasHost && name.length === 4 && name.toLowerCase() === "host") hasHost = true;
      fields.push(name, String(v));
    }
    // the authority the runtime built the URL from, where it keeps no Host
    if (!hasHost && host) fields.push("host", host);
    return fields;
  }

  // The address of the peer that connected, as the runtime gives it: an
  // explicit clientIp (the caller vouches for it), Deno's info.remoteAddr,
  // workerd's own listener's peer (cf.clientIp, "address:port", when no
  // Cloudflare edge is in front), or behind Cloudflare's edge (its `cf`
  // object, or runtime "workers") CF-Connecting-IP, which the edge sets.
  // Never empty by default: when the runtime gives none, the request is
  // refused with an Error.
  function clientOf(request, opts) {
    if (opts.clientIp !== undefined && opts.clientIp !== null) return String(opts.clientIp);
    const ra = opts.info && opts.info.remoteAddr;
    if (ra && typeof ra.hostname === "string") return ra.hostname;
    const cf = request.cf !== null && typeof request.cf === "object" ? request.cf : null;
    if (cf && typeof cf.clientIp === "string") return withoutPort(cf.clientIp);
    if (cf || runtime === "workers") {
      const ip = request.headers.get("cf-connecting-ip");
      if (ip) return ip;
      throw new Error("authcore: a Workers request without CF-Connecting-IP");
    }
    throw new TypeError("authcore: no client address: pass { info } (Deno.serve's second " +
      'argument), use nodeHandler() (Node), createAuth(..., { runtime: "workers" }) ' +
      "(Workers), or { clientIp }");
  }

  let closed = false;
  function live() {
    if (closed) throw new Error("authcore: used after close()");
  }

  async function handle(request, opts = {}) {
    live();
    const url = new URL(request.url);
    const byteStrings = !textHeaders();
    // https: the scheme of the URL the runtime built for this connection
    const fields = fieldsOf(request.method, url.pathname + url.search, clientOf(request, opts),
      url.protocol === "https:", request.headers, url.host);
    const now = nowOf(opts.now);
    const needs = needsOf(fields, byteStrings);
    let body = null;
    if (needs & NEEDS_BODY) {
      body = await readBody(request, bodyMax);
      live();
    }
    const d = await decideRequest(fields, body, needs, now, byteStrings, passwordSlice, request.signal);
    const release = leaseRelease(d.leaseBytes);
    let out;
    try {
      if (audit && d.auditText) audit(d.auditText);
      if (d.action !== "allow") return { response: toResponse(d), decision: d };
      out = forward(request, d);
    } catch (e) {
      release();
      throw e;
    }
    return {
      // client, https: as the core took them (trusted proxies applied)
      identity: { user: d.user ?? null, reason: d.reason, client: d.client, https: d.https },
      request: out,
      responseHeaders: (d.headers ?? []).map(([n, v, m]) => (m ? [n, headerValue(v), m] : [n, headerValue(v)])),
      decision: d,
      release,
      hold: (response) => holdStream(response, release),
    };
  }

  return {
    /** The policy's warnings, "path: message" each (empty for most). */
    warnings,
    /**
     * Decides a standard Request (async: a login post's body is read, from
     * a clone, at most acw_body_max() = 8192 bytes; a longer one is refused
     * as body_too_large, never cut). The client address: options.clientIp
     * when given (the host vouches for it), else options.info.remoteAddr
     * (Deno.serve's second argument), else on Workers CF-Connecting-IP;
     * with none of them the call rejects. options.now: unix seconds
     * (default Date.now() / 1000). Resolves to
     * { response, decision } to send as is, or
     * { identity, request, responseHeaders, decision } where request is the
     * original with the decision's header removals and additions applied
     * (and its URL's path and query replaced by the decision's path when
     * the core rewrote it) and responseHeaders ([name, value] pairs, maybe
     * empty) MUST be
     * appended to the upstream's response (withResponseHeaders does it).
     * An allowed answer also has release() and hold(response): under a
     * connection cap (rate_limits.connections) the stream counts until it
     * ends; hold(response) returns the response to send, which releases
     * its count once when the stream ends (the body read to its end,
     * cancelled or failed; a workerd WebSocket closed; a response without
     * body at once), and release() does it by hand (the app threw, or a
     * WebSocket this module cannot see: Deno's upgradeWebSocket). Both do
     * nothing when no cap counts the request, and release only once.
     */
    handle,

    /**
     * handle(), then on allow `await next(request, identity, release)` and
     * its response with the decision's response headers appended, held
     * (hold() above) so a connection cap's count ends with the stream; next
     * throwing releases it. release is handle()'s: only a 101 response
     * without a workerd `webSocket` (Deno's upgradeWebSocket) needs it,
     * called by the app when its socket closes.
     */
    async serve(request, next, opts = {}) {
      const r = await handle(request, opts);
      if (r.response) return r.response;
      let resp;
      try {
        resp = withResponseHeaders(await next(r.request, r.identity, r.release), r.responseHeaders);
      } catch (e) {
        r.release();
        throw e;
      }
      return r.hold(resp);
    },

    /**
     * Decides a plain request object {method, path, client_ip, https,
     * headers, body} (headers: [[name, value], ...], a Headers or a plain
     * object; body: a string or bytes, sent only when the core wants it)
     * and returns the core's decision as parsed JSON. Synchronous: a
     * password check runs whole (under a policy whose store is Redis, a
     * request that needs store entries gives a Promise: Redis is awaited).
     * Strings are text and cross as UTF-8, as a client would send them. No
     * audit call.
     */
    decide(req, opts = {}) {
      live();
      const fields = fieldsOf(req.method ?? "GET", req.path ?? "/", req.client_ip ?? req.clientIp,
        req.https, req.headers ?? []);
      const needs = needsOf(fields, false);
      let body = null;
      if (req.body != null && (needs & NEEDS_BODY)) {
        body = typeof req.body === "string" ? utf8enc.encode(req.body) : new Uint8Array(req.body);
        if (body.length > bodyMax) body = TOO_LARGE;
      }
      return decideRequest(fields, body, needs, nowOf(opts.now), false, 0);
    },

    /**
     * Verifies a compact JWS/JWT with the policy's "jwt" keys and claim
     * checks only (no routing, token sources or identity headers), for code
     * that holds a token already. Synchronous. Returns { valid, reason,
     * user, roles, claims } — claims (the payload, parsed when first read)
     * and user are null unless valid. options.now: unix seconds.
     */
    verify(token, opts = {}) {
      live();
      const t = String(token);
      if (t.length * 3 > reqCap) {
        if (reqPtr) M._acw_free(reqPtr);
        reqCap = Math.max(t.length * 3, 4096);
        reqPtr = M._acw_alloc(reqCap) >>> 0;
        if (!reqPtr) {
          reqCap = 0;
          throw new Error("authcore: out of wasm memory");
        }
      }
      written = -1;
      const len = utf8enc.encodeInto(t, M.HEAPU8.subarray(reqPtr, reqPtr + reqCap)).written;
      let k = M._acw_jwt_verify(ctx, reqPtr, len, nowOf(opts.now)) >>> 2;
      const h = M.HEAPU8;
      const W = M.HEAPU32;
      const reason = REASONS[W[k]] ?? "unknown";
      const valid = reason === "ok";
      const roles = [];
      const n = valid ? W[k + 3] : 0;
      const payload = valid ? textAt(h, W[k + 4], W[k + 5]) : "";
      const user = valid && W[k + 1] ? textAt(h, W[k + 1], W[k + 2]) : null;
      k += 6;
      for (let i = 0; i < n; i++, k += 2) roles.push(textAt(h, W[k], W[k + 1]));
      return new Verified(valid, reason, user, roles, payload);
    },

    /**
     * Ends a connection cap's count by hand, for decide() callers: `lease`
     * is a decision's leaseBytes, handed back once when its stream has
     * ended. Returns the core's reason: "ok", "invalid_request" (no lease
     * of this policy), or store_unavailable / store_conflict (the release
     * failed; the count stays one too high). options.now: unix seconds.
     * Under a policy whose store is Redis: a Promise of that reason.
     */
    release(lease, opts = {}) {
      live();
      return releaseBytes(lease, nowOf(opts.now));
    },

    /**
     * Counters of this instance: { store: "redis" | "local", store_errors:
     * Redis commands that failed (refused, timed out, an error reply),
     * store_down: whether the last one failed }.
     */
    stats() {
      return {
        store: store === null ? "local" : "redis",
        store_errors: store === null ? 0 : store.errors,
        store_down: store !== null && store.down,
      };
    },

    /** Frees the wasm-side policy, state and buffers (and closes the Redis client it made). */
    close() {
      if (closed) return;
      closed = true;
      if (store !== null) store.close();
      if (reqPtr) M._acw_free(reqPtr);
      if (leasePtr) M._acw_free(leasePtr);
      M._acw_unload(ctx);
      M._acw_free(scratch);
    },
  };
}

// The response to send for a stream a connection cap counts: release()
// runs once when the stream ends. A body is wrapped (a ReadableStream
// pulling from the original), so its end, a cancel (the client gone) and a
// read error all release. A workerd WebSocket (a 101 with `webSocket`) is
// relayed through a WebSocketPair of this module's, both ends accepted, so
// its close or error is seen here; the client gets the new pair's end. A
// 101 without one (Deno's upgradeWebSocket) is the app's to release. Any
// other response without a body: its stream is over once it is sent.
function holdStream(response, release) {
  if (release === noop) return response;
  try {
    if (response.status === 101) {
      if (response.webSocket) return relaySocket(response, release);
      return response;
    }
    if (response.body === null) {
      release();
      return response;
    }
    return new Response(watchBody(response.body, release), response);
  } catch (e) {
    release();
    throw e;
  }
}

function watchBody(body, release) {
  const reader = body.getReader();
  return new ReadableStream({
    async pull(ctrl) {
      let r;
      try {
        r = await reader.read();
      } catch (e) {
        release();
        ctrl.error(e);
        return;
      }
      if (r.done) {
        await release(); // before the end: a release through Redis runs in the request
        ctrl.close();
      } else {
        ctrl.enqueue(r.value);
      }
    },
    cancel(reason) {
      return Promise.all([release(), reader.cancel(reason)]);
    },
  }, { highWaterMark: 0 });
}

// Close codes an endpoint may send (1005, 1006, 1015 are only reported).
function sendableCode(code) {
  return code === 1000 || (code >= 1001 && code <= 1014 && code !== 1004 && code !== 1005 &&
    code !== 1006) || (code >= 3000 && code <= 4999);
}

function relaySocket(response, release) {
  const app = response.webSocket;
  const [client, mine] = Object.values(new WebSocketPair());
  app.accept();
  mine.accept();
  const pass = (from, to) => {
    from.addEventListener("message", (ev) => {
      try {
        to.send(ev.data);
      } catch {
        // the other end is closing: its close event ends the relay
      }
    });
    from.addEventListener("close", (ev) => {
      release();
      try {
        // an abnormal end (1006: no close frame) is "going away" to the other side
        if (sendableCode(ev.code)) to.close(ev.code, ev.reason);
        else to.close(ev.code === 1006 ? 1001 : 1000);
      } catch {
        // already closed
      }
    });
    from.addEventListener("error", () => {
      release();
      try {
        to.close(1011);
      } catch {
        // already closed
      }
    });
  };
  pass(app, mine);
  pass(mine, app);
  return new Response(null, { status: 101, webSocket: client, headers: response.headers });
}

/**
 * The upstream's response with `headers` (as handle() gives them in
 * responseHeaders: [name, value] pairs, appended, every one, so two
 * Set-Cookie stay two; or [name, value, mode] with mode "set", replacing the
 * upstream's own values of the name, or "set_if_absent", added only when
 * the upstream sent none) applied in order. The response itself when there
 * is nothing to add, else a copy (responses from fetch() have immutable
 * headers).
 */
export function withResponseHeaders(response, headers) {
  if (!headers || headers.length === 0) return response;
  const out = new Response(response.body, response);
  for (const [n, v, m] of headers) {
    if (m === "set") out.headers.set(n, v);
    else if (m !== "set_if_absent" || !out.headers.has(n)) out.headers.append(n, v);
  }
  return out;
}

/**
 * A Node `http` request listener: authcore in front of `next`, a Fetch-style
 * app `(request, identity) => Response`. Each http.IncomingMessage becomes
 * a Request (every raw header, the body as a stream, the URL built from the
 * Host header and the connection's scheme: https when the socket is TLS)
 * decided with the socket's peer address as the client; the response (local
 * or the app's, with the decision's response headers, every Set-Cookie)
 * is written back. `auth` is createAuth()'s result or its promise.
 *
 *   http.createServer(nodeHandler(createAuth(policy, { module }), app)).listen(8080);
 *
 * options.now: unix seconds (tests); options.onError(error): called when
 * deciding or the app throws (default console.error), the client then gets
 * a 500. A request target that is not a path ("*", absolute form) or a Host
 * that is not an authority is answered 400 without deciding. HTTP/1 only.
 */
export function nodeHandler(auth, next, options = {}) {
  const { now, onError = console.error } = options;
  return async function authcoreListener(req, res) {
    let response;
    try {
      const a = await auth;
      const peer = req.socket.remoteAddress; // undefined once the socket is gone
      const request = peer ? await nodeRequest(req, res) : null;
      response = request === null ? new Response(null, { status: 400 })
        : await a.serve(request, next, { clientIp: peer, now });
    } catch (e) {
      onError(e);
      response = new Response(null, { status: 500 });
    }
    await nodeRespond(res, response);
  };
}

let nodeStream;
function nodeStreams() {
  nodeStream ??= Promise.all([import("node:stream"), import("node:stream/promises")]);
  return nodeStream;
}

// An IncomingMessage as a Request, or null when its target or Host cannot
// make a URL that means the same.
async function nodeRequest(req, res) {
  const path = req.url ?? "";
  const host = req.headers.host ?? "";
  if (!path.startsWith("/") || host === "" || /[/?#@\\\s]/.test(host)) return null;
  const scheme = req.socket.encrypted ? "https" : "http";
  const headers = new Headers();
  const raw = req.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) headers.append(raw[i], raw[i + 1]);
  // aborted when the client goes before the answer is written
  const gone = new AbortController();
  res.on("close", () => { if (!res.writableFinished) gone.abort(); });
  const init = { method: req.method, headers, signal: gone.signal };
  if (req.method !== "GET" && req.method !== "HEAD") {
    const [{ Readable }] = await nodeStreams();
    init.body = Readable.toWeb(req);
    init.duplex = "half";
  }
  try {
    return new Request(`${scheme}://${host}${path}`, init);
  } catch {
    return null; // a method or URL Fetch refuses
  }
}

async function nodeRespond(res, response) {
  res.statusCode = response.status;
  for (const [n, v] of response.headers) {
    if (n.toLowerCase() !== "set-cookie") res.setHeader(n, v);
  }
  const cookies = response.headers.getSetCookie();
  if (cookies.length) res.setHeader("set-cookie", cookies);
  if (response.body === null) {
    res.end();
    return;
  }
  const [{ Readable }, { pipeline }] = await nodeStreams();
  await pipeline(Readable.fromWeb(response.body), res).catch(() => res.destroy());
}

// ---- the shared store on Redis -------------------------------------------

// The policy's Redis (acw_policy_redis), or null when its store is the
// instance's own.
function redisConfig(M, ctx) {
  const k = M._acw_policy_redis(ctx) >>> 2;
  const W = M.HEAPU32;
  if (W[k] === 0) return null;
  const h = M.HEAPU8;
  return {
    host: textAt(h, W[k + 1], W[k + 2]), port: W[k + 3], timeoutMs: W[k + 4], pool: W[k + 5],
    password: W[k + 7] ? textAt(h, W[k + 6], W[k + 7]) : "",
  };
}

// A failed command: what redisStep hands the core as error 1.
const REDIS_FAILED = Symbol("redis failed");

// The client an instance sends its commands with: options.redis, or one of
// node-redis's. One client (one connection) per instance: node-redis
// pipelines concurrent commands on it, so the policy's pool is not used
// for more. send(argv) resolves to the reply, or REDIS_FAILED after the
// policy's timeout_ms, a refused or lost connection (no offline queue: a
// down server fails at once) or an error reply. Each failure is counted;
// the first after a success, and the first success after failures, are
// logged (warn), once per transition.
async function redisStore(cfg, given, warn) {
  const where = `${cfg.host.includes(":") ? `[${cfg.host}]` : cfg.host}:${cfg.port}`;
  let client = given;
  let own = false;
  if ((client === undefined || client === null) && isWorkerd()) return socketStore(cfg, where, warn);
  if (client === undefined || client === null) {
    let mod;
    try {
      const name = "redis"; // not a literal: bundlers for Workers must not resolve it
      mod = await import(name);
    } catch (e) {
      throw new Error('authcore: the policy\'s store is Redis ("store"."redis"), which needs a TCP ' +
        "client: install the npm package redis (Node, Deno) or pass options.redis, a client with " +
        "sendCommand(argv) (" + (e && e.message) + ")");
    }
    client = mod.createClient({
      socket: {
        host: cfg.host, port: cfg.port, connectTimeout: cfg.timeoutMs,
        // a lost server is tried again in the background, at most every second
        reconnectStrategy: (n) => Math.min(50 * 2 ** n, 1000),
      },
      password: cfg.password || undefined,
      disableOfflineQueue: true,
    });
    client.on("error", () => {}); // reported per command (send)
    own = true;
    // a server that does not answer in time leaves the instance up: its
    // requests take the policy's on_store_error until the client connects
    let timer;
    await Promise.race([
      client.connect().catch(() => {}),
      new Promise((resolve) => { timer = setTimeout(resolve, cfg.timeoutMs); }),
    ]);
    clearTimeout(timer);
  } else if (typeof client.sendCommand !== "function") {
    throw new TypeError("authcore: options.redis must be a client with sendCommand(argv)");
  }
  const st = storeLog(where, warn);
  Object.assign(st, {
    async send(argv) {
      let timer;
      // node-redis's own per-command bounds too: a command still queued
      // when its time is up (the server hung, the socket backed up) is
      // dropped from the client's queue and never sent, so it cannot be
      // applied late, after the request was counted under on_store_error.
      // One already written may still be run by the server when it wakes.
      const ctl = new AbortController();
      try {
        const p = Promise.resolve(client.sendCommand(argv, { timeout: cfg.timeoutMs, abortSignal: ctl.signal }));
        p.catch(() => {}); // one that loses the race below is settled later
        const reply = await Promise.race([p, new Promise((_, reject) => {
          timer = setTimeout(() => {
            ctl.abort();
            reject(new Error(`no reply within ${cfg.timeoutMs} ms`));
          }, cfg.timeoutMs);
        })]);
        if (reply instanceof Error) throw reply;
        st.answered();
        return reply;
      } catch (e) {
        st.failed(e);
        return REDIS_FAILED;
      } finally {
        clearTimeout(timer);
      }
    },
    close() {
      if (!own) return;
      try {
        const p = typeof client.destroy === "function" ? client.destroy() : client.disconnect();
        Promise.resolve(p).catch(() => {});
      } catch {
        // already closed
      }
    },
  });
  return st;
}

// What every store counts and logs: failed commands (errors), whether the
// last one failed (down); the first failure after a success, and the first
// success after failures, logged once each.
function storeLog(where, warn) {
  const log = typeof warn === "function" ? warn : noop;
  const st = {
    raw: false,
    errors: 0,
    down: false,
    failed(e) {
      st.errors++;
      if (!st.down) {
        st.down = true;
        log(`authcore: Redis at ${where} failed (${e && e.message}): the policy's ` +
          "rate_limits.on_store_error applies (revocation checks answer 503) until it answers");
      }
      return 1;
    },
    answered() {
      if (st.down) {
        st.down = false;
        log(`authcore: Redis at ${where} answers again`);
      }
    },
  };
  return st;
}

function isWorkerd() {
  return typeof navigator !== "undefined" && navigator.userAgent === "Cloudflare-Workers";
}

// workerd: Redis over its TCP sockets (cloudflare:sockets), in RESP, with
// the core's own bytes: the command as acw_redis_resp writes it, the reply
// read until acw_redis_reply_resp says it is whole. A socket there belongs
// to the request that opened it (workerd refuses I/O on it from any
// other), so a connection serves one decision (a session: its reads and
// writes, a lost write's retry) and is closed when the decision ends. At
// most the policy's `pool` connections are open at once in the isolate; a
// decision past it waits for one. Each command gets timeout_ms in all
// (waiting for a connection, connecting, AUTH with the policy's password,
// writing, reading the whole reply); past it, a refused or lost
// connection, or an error reply, it fails (the core's on_store_error),
// and its connection is closed, so no late reply is ever read as another
// command's.
async function socketStore(cfg, where, warn) {
  const name = "cloudflare:sockets"; // not a literal: bundlers for Node and Deno must not resolve it
  const { connect } = await import(name);
  const st = storeLog(where, warn);
  const max = Math.max(1, cfg.pool || 1);
  let open = 0;
  const waiting = []; // resolvers of decisions waiting for a connection
  const auth = cfg.auth; // the core's RESP bytes of AUTH <password>, or null

  function slot(deadline) {
    if (open < max) {
      open++;
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => {
      const w = { resolve };
      waiting.push(w);
      setTimeout(() => {
        const i = waiting.indexOf(w);
        if (i < 0) return;
        waiting.splice(i, 1);
        reject(new Error("no connection free within the timeout (store.redis.pool)"));
      }, Math.max(0, deadline - Date.now()));
    });
  }

  function free() {
    const w = waiting.shift();
    if (w) w.resolve(); // the slot passes on as it is
    else open--;
  }

  function closeConn(c) {
    try {
      c.sock.close().catch(() => {});
    } catch {
      // already closed
    }
  }

  // Reads until done(bytes) gives something other than null.
  async function readUntil(c, done) {
    for (;;) {
      if (c.buf.length) {
        const got = done(c.buf);
        if (got !== null) return got;
      }
      const { value, done: end } = await c.reader.read();
      if (end) throw new Error("connection closed by Redis");
      const b = new Uint8Array(c.buf.length + value.length);
      b.set(c.buf);
      b.set(value, c.buf.length);
      c.buf = b;
    }
  }

  async function opened() {
    const sock = connect({ hostname: cfg.host, port: cfg.port });
    await sock.opened;
    const c = { sock, writer: sock.writable.getWriter(), reader: sock.readable.getReader(), buf: new Uint8Array(0) };
    if (auth) {
      await c.writer.write(auth);
      const line = await readUntil(c, (b) => {
        const e = b.indexOf(10);
        return e < 0 ? null : utf8.decode(b.subarray(0, e)).trim();
      });
      if (line !== "+OK") {
        closeConn(c);
        throw new Error(`AUTH refused: ${line.slice(0, 80)}`);
      }
      c.buf = new Uint8Array(0);
    }
    return c;
  }

  Object.assign(st, {
    raw: true,
    // Writes cmd on the session's connection (opened first if it has
    // none) and reads until parse(bytes) has the whole reply: its view, or
    // REDIS_FAILED (counted) when there was no reply in time.
    async exchange(sess, cmd, parse) {
      const deadline = Date.now() + cfg.timeoutMs;
      let timer;
      let gaveUp = false; // then nothing more is handed to the core
      const late = new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no reply within ${cfg.timeoutMs} ms`)), cfg.timeoutMs);
      });
      const over = () => new Error("given up");
      try {
        const work = (async () => {
          if (sess.conn === null) {
            await slot(deadline);
            if (gaveUp) {
              free();
              throw over();
            }
            sess.conn = "opening"; // holds the slot from here
            const c = await opened();
            if (gaveUp) {
              closeConn(c); // its slot went with the session
              throw over();
            }
            sess.conn = c;
          }
          const c = sess.conn;
          await c.writer.write(cmd);
          return readUntil(c, (b) => {
            if (gaveUp) throw over();
            return parse(b);
          });
        })();
        work.catch(() => {}); // one that loses the race below is settled later
        const got = await Promise.race([work, late]);
        if (got.used < 0 || got.used !== sess.conn.buf.length) {
          // an error reply, another shape, or bytes after it: failed
          // (the core took it so), and the connection is not used again
          st.failed(new Error("a reply of the wrong shape"));
          st.done(sess);
        } else {
          sess.conn.buf = new Uint8Array(0);
          st.answered();
        }
        return got.view;
      } catch (e) {
        gaveUp = true;
        st.failed(e);
        if (sess.conn !== null) st.done(sess);
        return REDIS_FAILED;
      } finally {
        clearTimeout(timer);
      }
    },
    // Ends the session: its connection closed, its slot freed.
    done(sess) {
      const c = sess.conn;
      sess.conn = null;
      if (c === null) return;
      if (typeof c === "object") closeConn(c);
      free();
    },
    close() {},
  });
  return st;
}

async function instantiate(module) {
  let wasm = module;
  if (!(wasm instanceof WebAssembly.Module)) {
    if (wasm instanceof ArrayBuffer || ArrayBuffer.isView(wasm)) {
      wasm = await WebAssembly.compile(wasm);
    } else {
      throw new TypeError("authcore: options.module must be a WebAssembly.Module or the bytes of authcore.wasm");
    }
  }
  let fail;
  const failed = new Promise((_, reject) => { fail = reject; });
  return Promise.race([failed, createAuthcoreModule({
    // Never let the glue resolve a URL for the .wasm (workerd has no base URL).
    locateFile: (p) => p,
    instantiateWasm(imports, done) {
      WebAssembly.instantiate(wasm, imports).then((instance) => done(instance, wasm), fail);
      return {};
    },
  })]);
}

// A turn of the event loop (a macrotask, so I/O gets its chance too). Node
// runs every expired timer before it polls I/O again, so two checks that
// yield with setTimeout(0) would keep it in its timer phase and accept no
// connection until they end: there, setImmediate (after the poll). Deno's
// setImmediate is the slow one (seconds per request while checks run), its
// setTimeout(0) lets I/O in, as workerd's does.
const nextTurn = typeof setImmediate === "function" && typeof Deno === "undefined" ? setImmediate
  : (f) => setTimeout(f, 0);
function yieldTurn() {
  return new Promise((resolve) => nextTurn(resolve));
}

// "NAME=value\0" for each AUTHCORE_* string entry of the caller's env.
function envText(env) {
  if (env === null || env === undefined) return "";
  if (typeof env !== "object") throw new TypeError("authcore: options.env must be an object");
  let out = "";
  for (const [n, v] of Object.entries(env)) {
    if (!n.startsWith("AUTHCORE_") || typeof v !== "string") continue;
    if (n.includes("=") || n.includes("\0") || v.includes("\0")) {
      throw new TypeError(`authcore: options.env.${n} contains "=" in its name or a NUL`);
    }
    out += `${n}=${v}\0`;
  }
  return out;
}

// A login post's body, at most max bytes, from a clone (the request keeps
// its own); TOO_LARGE once more arrive (the rest is not read).
async function readBody(request, max) {
  if (request.body === null) return new Uint8Array(0);
  return readCapped(request.clone().body, max);
}

// A stream's bytes, at most max; TOO_LARGE once more arrive (the rest is
// not read: the stream is cancelled).
async function readCapped(stream, max) {
  const reader = stream.getReader();
  const chunks = [];
  let n = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    n += value.byteLength;
    if (n > max) {
      reader.cancel().catch(() => {});
      return TOO_LARGE;
    }
    chunks.push(value);
  }
  const out = new Uint8Array(n);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

// The fetch a pending decision asks for (keys from jwt.jwks_uri, a
// provider's configuration, a token request): exactly the request the core
// names (method, headers, body; nothing of the client's request), no
// redirects, the whole body within timeoutMs and at most maxBytes. Any
// failure (network, timeout, a longer body: never cut) is status 0, which
// the core counts as a failed fetch.
const FETCH_FAILED = Object.freeze({ status: 0, type: "", body: new Uint8Array(0) });
async function fetchCapped(f) {
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(), f.timeoutMs);
  try {
    const r = await fetch(f.url, {
      method: f.method,
      headers: f.headers,
      body: f.body ?? undefined,
      redirect: "manual",
      signal: ctl.signal,
    });
    const type = r.headers.get("content-type") ?? "";
    if (r.status !== 200 || r.body === null) {
      if (r.body) await r.body.cancel().catch(() => {});
      return { status: r.status, type, body: new Uint8Array(0) };
    }
    const body = await readCapped(r.body, f.maxBytes);
    if (body === TOO_LARGE) return FETCH_FAILED;
    return { status: 200, type, body };
  } catch {
    return FETCH_FAILED;
  } finally {
    clearTimeout(timer);
  }
}

// "192.0.2.1:5678" -> "192.0.2.1", "[2001:db8::1]:5678" -> "2001:db8::1".
function withoutPort(a) {
  if (a.startsWith("[")) {
    const e = a.indexOf("]");
    return e > 0 ? a.slice(1, e) : a;
  }
  const c = a.indexOf(":");
  return c >= 0 && a.indexOf(":", c + 1) < 0 ? a.slice(0, c) : a;
}

function nowOf(now) {
  const t = now ?? Date.now() / 1000;
  if (typeof t !== "number" || !Number.isFinite(t)) throw new TypeError("authcore: now must be a finite number of seconds");
  return Math.floor(t);
}

function* headerPairs(h) {
  if (Array.isArray(h)) yield* h;
  else if (typeof h.entries === "function") yield* h.entries();
  else yield* Object.entries(h);
}

const ACTIONS = ["allow", "respond", "pending"];
// ac_header_mode (core/authcore_decide.h): how a response header meets the
// upstream's own of that name.
const MODES = ["append", "set", "set_if_absent"];

// A token verification; claims (the payload) parsed when first read.
class Verified {
  #payload;
  #claims;

  constructor(valid, reason, user, roles, payload) {
    this.valid = valid;
    this.reason = reason;
    this.user = user;
    this.roles = roles;
    this.#payload = payload;
  }

  get claims() {
    if (this.#claims === undefined) this.#claims = this.#payload === "" ? null : JSON.parse(this.#payload);
    return this.#claims;
  }

  toJSON() {
    const { valid, reason, user, roles, claims } = this;
    return { valid, reason, user, roles, claims };
  }
}

// A decision as ac_decision_json describes it; `audit` (the audit line as
// an object) is parsed only when read, auditText is the line as the core
// wrote it.
class Decision {
  #text;
  #parsed;

  constructor(action, status, reason, body, user, auditText) {
    this.action = action;
    this.status = status;
    this.reason = reason;
    this.remove = [];
    this.add = {};
    this.headers = [];
    this.body = body;
    this.user = user;
    // the request as decided: the target to forward (path + query; differs
    // from the request's when path_rewritten), the client address and
    // scheme the core took
    this.path = "";
    this.path_rewritten = false;
    this.client = "";
    this.https = false;
    // a connection cap's lease (bytes; the JSON's "lease" in hex), or null
    this.leaseBytes = null;
    this.#text = auditText;
  }

  get audit() {
    if (this.#parsed === undefined) this.#parsed = this.#text === "" ? null : JSON.parse(this.#text);
    return this.#parsed;
  }

  get auditText() {
    return this.#text;
  }

  toJSON() {
    const { action, status, reason, remove, add, headers, body, user, audit } = this;
    const { path, path_rewritten, client, https } = this;
    const out = { action, status, reason, remove, add, headers, body, user, audit, path, path_rewritten, client, https };
    if (this.leaseBytes) out.lease = Array.from(this.leaseBytes, (b) => b.toString(16).padStart(2, "0")).join("");
    return out;
  }
}

// UTF-8 text at heap[p, p + n): short ASCII (most names and values)
// without TextDecoder's per-call cost; invalid UTF-8 becomes U+FFFD, as
// the core's JSON writer does.
function textAt(h, p, n) {
  if (n === 0) return "";
  if (n <= 96) {
    let s = "";
    for (let i = p; i < p + n; i++) {
      const c = h[i];
      if (c > 0x7f) return utf8.decode(h.subarray(p, p + n));
      s += String.fromCharCode(c);
    }
    return s;
  }
  return utf8.decode(h.subarray(p, p + n));
}

function cString(heap, p, cap) {
  let e = p;
  while (e < p + cap && heap[e] !== 0) e++;
  return utf8.decode(heap.slice(p, e));
}

// The UTF-8 bytes the core produced, in the form this runtime's Headers
// put on the wire: as is where values are text, else one char per byte
// (never Latin-1 reinterpretations of the characters).
function headerValue(s) {
  if (ASCII.test(s) || textHeaders()) return s;
  let out = "";
  for (const b of utf8enc.encode(s)) out += String.fromCharCode(b);
  return out;
}

function toResponse(d) {
  const headers = new Headers();
  for (const [n, v] of d.headers ?? []) headers.append(n, headerValue(v));
  // Bytes, not a string: a string body would make the runtime add its own
  // content-type.
  const body = NULL_BODY.has(d.status) ? null : utf8enc.encode(d.body ?? "");
  return new Response(body, { status: d.status, headers });
}

// The request for the app: the decision's header removals (every case),
// then its additions (so a removed name, e.g. cookie, can come back with a
// new value), and when the core rewrote the target, its path and query.
function forward(request, d) {
  const remove = d.remove ?? [];
  const add = Object.entries(d.add ?? {});
  if (remove.length === 0 && add.length === 0 && !d.path_rewritten) return request;
  const headers = new Headers(request.headers);
  for (const n of remove) headers.delete(n);
  for (const [n, v] of add) headers.set(n, headerValue(v));
  if (!d.path_rewritten) return new Request(request, { headers });
  return new Request(new Request(target(request.url, d.path), request), { headers });
}

// request's URL with path + query replaced by `path` (the core's), or an
// Error when this runtime's URL parser would not keep it byte for byte.
function target(url, path) {
  const u = new URL(url);
  const t = path.startsWith("/") ? new URL(u.origin + path) : null;
  if (t === null || t.origin !== u.origin || t.pathname + t.search !== path) {
    throw new Error("authcore: the URL parser changes the decided path " + JSON.stringify(path));
  }
  return t.href;
}
