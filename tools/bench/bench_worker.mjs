// workerd Worker for make bench (tools/bench/bench_workerd.py serves it):
// ac_pbkdf2 from the bench wasm build (build/bench/wasm, the same module
// bench_node.mjs runs), imported as a compiled WebAssembly.Module as
// Workers require.
//
//   GET /pbkdf2?i=<iterations>&pw=<password>&salt=<hex>
//       one PBKDF2-HMAC-SHA256 (dkLen 32) in this request; the body is the
//       derived key in hex
//   GET /pbkdf2?i=0&pw=<password>&salt=<hex>
//       the same request, parsed and copied into wasm memory, without the
//       derivation: the driver's empty-request baseline
//
// workerd freezes Date.now() (and performance.now()) while a request runs,
// so the Worker cannot time itself: the driver times the HTTP round trip.
import wasm from "./acbench.wasm";
import createBench from "./acbench.mjs";

let bench; // the instance, made on the first request
let scratch; // SCRATCH bytes of wasm memory: password, salt, output
const SCRATCH = 1024;

function hex(bytes) {
  let s = "";
  for (const b of bytes) s += b.toString(16).padStart(2, "0");
  return s;
}

function unhex(s) {
  if (!/^([0-9a-f]{2})*$/i.test(s)) return null;
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.substr(2 * i, 2), 16);
  return out;
}

export default {
  async fetch(request) {
    bench ??= createBench({
      locateFile: (p) => p,
      instantiateWasm(imports, done) {
        WebAssembly.instantiate(wasm, imports).then((inst) => done(inst, wasm));
        return {};
      },
    });
    const B = await bench;
    const url = new URL(request.url);
    if (url.pathname !== "/pbkdf2") return new Response("ready\n");
    const iters = Number(url.searchParams.get("i"));
    const pw = new TextEncoder().encode(url.searchParams.get("pw") ?? "");
    const salt = unhex(url.searchParams.get("salt") ?? "");
    if (!Number.isInteger(iters) || iters < 0 || iters > 0xffffffff || salt === null ||
        pw.length + salt.length + 32 > SCRATCH) {
      return new Response("bad i, pw or salt\n", { status: 400 });
    }
    scratch ??= B._bw_alloc(SCRATCH) >>> 0;
    const p = scratch;
    B.HEAPU8.set(pw, p);
    B.HEAPU8.set(salt, p + pw.length);
    const out = p + pw.length + salt.length;
    B.HEAPU8.fill(0, out, out + 32);
    if (iters === 0) return new Response("baseline\n");
    const rc = B._bw_pbkdf2(out, 32, p, pw.length, p + pw.length, salt.length, iters);
    if (rc !== 0) return new Response(`bw_pbkdf2 returned ${rc}\n`, { status: 500 });
    return new Response(hex(B.HEAPU8.subarray(out, out + 32)) + "\n");
  },
};
