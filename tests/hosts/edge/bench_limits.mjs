// What a rate limit costs a decision in the edge module, in Node
// (make bench-edge-limits; a benchmark, never a test: it prints figures and
// fails only when a decision is not the one expected).
//
//   node bench_limits.mjs PKG_DIR
//
// One public GET per call through auth.decide (the shipped module in
// PKG_DIR: request encoding, the core's decision, the decision object), the
// client address cycling over a pool, three instances of one policy:
//   anchor       no rate_limits
//   limited      a limit keyed on the client on that path (1000/second,
//                never reached here), the default store (65,536 keys),
//                10,000 clients
//   limited-1M   the same limit with store 1,000,000, and 500,000 clients
//                whose buckets are live before the measured runs
//   capped       no limit but a connection cap keyed on the client on that
//                path (rate_limits.connections, max 1000, the default
//                store), 10,000 clients; each call is auth.decide and then
//                auth.release of its lease (a stream opened and ended)
// Runs alternate anchor, limited, limited-1M, capped (rotating which goes first);
// each figure is the median of RUNS runs of N calls after a warm-up run.
// Then the wasm memory of an instance per store size (the table is
// rate_limits.store keys x 32 bytes + 64, allocated at load).
// Output: "RESULT <impl> <ns/op> <N> <RUNS>", "RATIO <impl> <x anchor>",
// "MEMORY <store> <bytes>".
import { readFileSync } from "node:fs";
import { join } from "node:path";

const PKG = process.argv[2];
if (!PKG) throw new Error("usage: node bench_limits.mjs PKG_DIR");
const { createAuth } = await import(join(PKG, "authcore.mjs"));
const bytes = readFileSync(join(PKG, "authcore.wasm"));
const module = new WebAssembly.Module(bytes);

const RUNS = 9;
const N = 50000;
const NOW = Math.floor(Date.now() / 1000);

function policy(store, caps) {
  const p = {
    jwt: { keys: [{ kid: "k1", alg: "HS256", secret: "bench-limits-secret-0123456789abcdef" }] },
    public: ["/pub/*"],
  };
  if (caps) {
    p.rate_limits = { connections: [{ name: "pub", path: "/pub/*", key: "client", max: 1000 }], store };
  } else if (store) {
    p.rate_limits = {
      limits: [{ name: "pub", path: "/pub/*", key: "client", limit: "1000/second" }],
      store,
    };
  }
  return p;
}

function addr(i) {
  return `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
}

function requests(n) {
  const out = new Array(n);
  for (let i = 0; i < n; i++) {
    out[i] = { method: "GET", path: "/pub/x", client_ip: addr(i), https: false, headers: [] };
  }
  return out;
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

// One run: n calls, the client cycling over reqs from *pos. ns per call.
function run(impl, n) {
  const { auth, reqs } = impl;
  let pos = impl.pos;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) {
    const d = auth.decide(reqs[pos], { now: NOW });
    if (d.status !== 200) throw new Error(`${impl.name}: status ${d.status} (${d.reason})`);
    if (impl.caps && auth.release(d.leaseBytes, { now: NOW }) !== "ok") throw new Error(`${impl.name}: release failed`);
    if (++pos === reqs.length) pos = 0;
  }
  const ns = Number(process.hrtime.bigint() - t0) / n;
  impl.pos = pos;
  return ns;
}

const impls = [
  { name: "anchor", store: 0, clients: 10000 },
  { name: "limited", store: 65536, clients: 10000 },
  { name: "limited-1M", store: 1000000, clients: 500000 },
  { name: "capped", store: 65536, clients: 10000, caps: true },
];
for (const impl of impls) {
  impl.auth = await createAuth(policy(impl.store, impl.caps), { module, audit: false });
  impl.reqs = requests(impl.clients);
  impl.pos = 0;
  impl.per = [];
  // every client once (limited-1M: its 500,000 live buckets), and a warm-up
  run(impl, impl.clients);
  run(impl, N);
}
for (let r = 0; r < RUNS; r++) {
  for (let k = 0; k < impls.length; k++) {
    const impl = impls[(r + k) % impls.length];
    impl.per.push(run(impl, N));
  }
}
const anchor = median(impls[0].per);
for (const impl of impls) {
  const m = median(impl.per);
  console.log(`RESULT ${impl.name} ${m.toFixed(1)} ${N} ${RUNS}`);
  console.log(`RATIO ${impl.name} ${(m / anchor).toFixed(3)}`);
  impl.auth.close();
}

// Wasm memory of one instance per store size: the module's memory is read
// from the instance the module's loader makes (the glue's instantiate).
const instantiate = WebAssembly.instantiate;
for (const store of [0, 65536, 1000000, 3000000]) {
  let memory = null;
  WebAssembly.instantiate = async (...args) => {
    const got = await instantiate(...args);
    const inst = got.instance ?? got;
    memory = Object.values(inst.exports).find((x) => x instanceof WebAssembly.Memory) ?? null;
    return got;
  };
  const auth = await createAuth(policy(store), { module, audit: false });
  WebAssembly.instantiate = instantiate;
  const d = auth.decide(requests(1)[0], { now: NOW });
  if (d.status !== 200) throw new Error(`memory ${store}: status ${d.status}`);
  console.log(`MEMORY ${store} ${memory ? memory.buffer.byteLength : -1}`);
  auth.close();
}
