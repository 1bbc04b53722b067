// The wasm core's decisions for the request-confusion corpus:
//   node wasm_decide.mjs PKG_DIR < {"policy": "...", "now": N, "requests": [...]}
// prints {"decisions": [...]} (auth.decide on each request as given).
import { readFileSync } from "node:fs";
import { join } from "node:path";

const [pkg] = process.argv.slice(2);
const job = JSON.parse(readFileSync(0, "utf8"));
const { createAuth } = await import(join(pkg, "authcore.mjs"));
const auth = await createAuth(job.policy, { module: readFileSync(join(pkg, "authcore.wasm")), env: {}, audit: false });
const decisions = job.requests.map((r) => {
  try {
    return auth.decide(r, { now: job.now });
  } catch (e) {
    return { error: String(e && e.message) };
  }
});
auth.close();
process.stdout.write(JSON.stringify({ decisions }));
