// authcore for JavaScript runtimes: Cloudflare Workers (workerd), Deno, Node.
//
// A thin shim over the wasm core (wasm/acw.c): it serializes a request once,
// makes one acw_decide call and applies the decision once. Every policy rule
// lives in the core, so this file decides nothing itself.
//
//   const auth = await createAuth(policy, { module });
//   const r = auth.handle(request, { clientIp, now });
//   if (r.response) return r.response;          // 401 / 403 / 400 ...
//   return app(r.request, r.identity);          // allowed, identity headers set
import createAuthcoreModule from "./authcore_glue.mjs";

const ENTROPY_LEN = 16;
// Random bytes are drawn in batches: one getRandomValues call costs about as
// much as the HMAC check itself under Node. Drawn on first use, never at
// module scope (Workers refuse randomness outside a request).
const POOL_LEN = 4096;
const ERR_CAP = 512;
// Statuses whose responses must not carry a body (Fetch "null body status").
const NULL_BODY = new Set([101, 103, 204, 205, 304]);

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
 * options.audit: called with each decision's audit line (JSON text) by
 *   handle(); defaults to console.log; false turns it off.
 * Rejects with an Error whose message is "<JSON path>: <what is wrong>" when
 * the core refuses the policy.
 */
export async function createAuth(policy, options = {}) {
  const { module, audit = console.log } = options;
  if (audit !== false && audit !== null && typeof audit !== "function") {
    throw new TypeError("authcore: options.audit must be a function or false");
  }
  const json = typeof policy === "string" ? policy : JSON.stringify(policy);
  if (typeof json !== "string") {
    throw new TypeError("authcore: policy must be an object or a JSON string");
  }
  const M = await instantiate(module);
  const policyBytes = utf8enc.encode(json);

  // Scratch that lives as long as the instance: entropy, then *out_len.
  const scratch = M._acw_alloc(ENTROPY_LEN + 4) >>> 0;
  const jsonPtr = M._acw_alloc(policyBytes.length) >>> 0;
  const errPtr = M._acw_alloc(ERR_CAP) >>> 0;
  if (!scratch || !jsonPtr || !errPtr) throw new Error("authcore: out of wasm memory");
  M.HEAPU8.set(policyBytes, jsonPtr);
  const ctx = M._acw_load(jsonPtr, policyBytes.length, errPtr, ERR_CAP) >>> 0;
  const err = ctx ? "" : cString(M.HEAPU8, errPtr, ERR_CAP);
  M._acw_free(jsonPtr);
  M._acw_free(errPtr);
  if (!ctx) {
    M._acw_free(scratch);
    throw new Error(`authcore: invalid policy: ${err}`);
  }

  let reqPtr = 0;
  let reqCap = 0;
  const pool = new Uint8Array(POOL_LEN);
  let poolPos = POOL_LEN;

  // One call into the core. The request crosses as one NUL-separated string
  // (wasm/acw.c): byte strings one byte per character, text as UTF-8.
  function decideFields(fields, now, byteStrings) {
    for (const f of fields) {
      if (f.includes("\0")) throw new TypeError("authcore: a request field contains NUL");
    }
    const wire = fields.join("\0") + "\0";
    const ascii = ASCII.test(wire);
    const max = ascii || byteStrings ? wire.length : wire.length * 3;
    if (max > reqCap) {
      if (reqPtr) M._acw_free(reqPtr);
      reqCap = Math.max(max, 4096);
      reqPtr = M._acw_alloc(reqCap) >>> 0;
      if (!reqPtr) {
        reqCap = 0;
        throw new Error("authcore: out of wasm memory");
      }
    }
    const heap = M.HEAPU8; // read after the alloc: memory growth replaces it
    let len = wire.length;
    if (ascii) {
      utf8enc.encodeInto(wire, heap.subarray(reqPtr, reqPtr + len));
    } else if (byteStrings) {
      for (let i = 0; i < len; i++) {
        const c = wire.charCodeAt(i);
        if (c > 0xff) throw new TypeError("authcore: header values must be byte strings");
        heap[reqPtr + i] = c;
      }
    } else {
      len = utf8enc.encodeInto(wire, heap.subarray(reqPtr, reqPtr + max)).written;
    }
    if (poolPos + ENTROPY_LEN > POOL_LEN) {
      crypto.getRandomValues(pool);
      poolPos = 0;
    }
    heap.set(pool.subarray(poolPos, poolPos + ENTROPY_LEN), scratch);
    pool.fill(0, poolPos, poolPos + ENTROPY_LEN); // each byte is used once
    poolPos += ENTROPY_LEN;
    const lenPtr = scratch + ENTROPY_LEN;
    const out = M._acw_decide(ctx, reqPtr, len, now, scratch, ENTROPY_LEN, lenPtr) >>> 0;
    const h = M.HEAPU8;
    const outLen = (h[lenPtr] | (h[lenPtr + 1] << 8) | (h[lenPtr + 2] << 16) | (h[lenPtr + 3] << 24)) >>> 0;
    if (!out || !outLen) throw new Error("authcore: the core returned no decision");
    return JSON.parse(utf8.decode(h.subarray(out, out + outLen)));
  }

  function fieldsOf(method, path, clientIp, https, headers) {
    const fields = [String(method), String(path), String(clientIp ?? ""), https ? "1" : "0"];
    for (const [n, v] of headerPairs(headers)) fields.push(String(n), String(v));
    return fields;
  }

  let closed = false;
  function live() {
    if (closed) throw new Error("authcore: used after close()");
  }

  return {
    /**
     * Decides a standard Request. options.clientIp: the client address the
     * host vouches for (never read from headers here); options.now: unix
     * seconds (default Date.now() / 1000). Returns { response, decision } to
     * send as is, or { identity, request, decision } where request is the
     * original with the decision's header removals and additions applied.
     */
    handle(request, opts = {}) {
      live();
      const url = new URL(request.url);
      const fields = fieldsOf(request.method, url.pathname + url.search, opts.clientIp,
        url.protocol === "https:", request.headers);
      const d = decideFields(fields, nowOf(opts.now), !textHeaders());
      if (audit) audit(JSON.stringify(d.audit));
      if (d.action !== "allow") return { response: toResponse(d), decision: d };
      return { identity: { user: d.user ?? null, reason: d.reason }, request: forward(request, d), decision: d };
    },

    /**
     * Decides a plain request object {method, path, client_ip, https,
     * headers} (headers: [[name, value], ...], a Headers or a plain object)
     * and returns the core's decision as parsed JSON. Strings are text and
     * cross as UTF-8, as a client would send them. No audit call.
     */
    decide(req, opts = {}) {
      live();
      const fields = fieldsOf(req.method ?? "GET", req.path ?? "/", req.client_ip ?? req.clientIp,
        req.https, req.headers ?? []);
      return decideFields(fields, nowOf(opts.now), false);
    },

    /** Frees the wasm-side policy and buffers. */
    close() {
      if (closed) return;
      closed = true;
      if (reqPtr) M._acw_free(reqPtr);
      M._acw_unload(ctx);
      M._acw_free(scratch);
    },
  };
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

function forward(request, d) {
  const remove = d.remove ?? [];
  const add = Object.entries(d.add ?? {});
  if (remove.length === 0 && add.length === 0) return request;
  const headers = new Headers(request.headers);
  for (const n of remove) headers.delete(n);
  for (const [n, v] of add) headers.set(n, headerValue(v));
  return new Request(request, { headers });
}
