// CORS in a real browser: headless Debian Chromium driven by playwright-core
// (never a downloaded browser). Pages on two other origins fetch, with
// credentials, from an API behind one host (Envoy, nginx, workerd) whose
// policy allows only the first origin. Driven by tests/browser/run.py, which
// starts the host and the two page origins; run as
//   node cors_flow.mjs '<job JSON>'
// with job = {host, api, allowed, other, token, chromium}.
// Prints one "ok - <host>: cors: <step>" or "not ok - ..." line per step.
// The browser itself decides what a page may read: a refusal shows as a
// rejected fetch(), never as a status the page sees.
import { chromium } from "playwright-core";

const job = JSON.parse(process.argv[2]);
const { host, api, allowed, other, token } = job;

// fetch() from a page; the outcome as the page sees it.
function pageFetch(page, path, opts) {
  return page.evaluate(async ({ url, opts }) => {
    try {
      const r = await fetch(url, opts);
      return { status: r.status, type: r.type, body: await r.text() };
    } catch (e) {
      return { error: `${e.name}: ${e.message}` };
    }
  }, { url: api + path, opts });
}

const withToken = { credentials: "include", headers: { Authorization: `Bearer ${token}` } };
const steps = [
  ["the allowed origin reads an answer made with its credentials (preflight, then GET)", allowed, async (page) => {
    const r = await pageFetch(page, "/api/items", withToken);
    if (r.error) throw new Error(`fetch failed: ${r.error}`);
    if (r.status !== 200) throw new Error(`status ${r.status}: ${r.body.slice(0, 200)}`);
    const seen = JSON.parse(r.body).headers["x-authcore-user"];
    if (seen !== "alice") throw new Error(`the upstream saw user ${seen}`);
    // (Access-Control-Allow-Origin itself is not readable by the page: the
    // browser let it read the answer only because the host named it)
  }],
  ["the allowed origin reads a 401 (no credential): the CORS headers are on refusals too", allowed, async (page) => {
    const r = await pageFetch(page, "/api/items", { credentials: "include" });
    if (r.error) throw new Error(`fetch failed: ${r.error}`);
    if (r.status !== 401) throw new Error(`status ${r.status}`);
  }],
  ["another origin: the preflight is refused and the browser never sends the request", other, async (page) => {
    const r = await pageFetch(page, "/api/items", withToken);
    if (!r.error) throw new Error(`the page read status ${r.status}`);
    if (!/TypeError/.test(r.error)) throw new Error(r.error);
  }],
  ["another origin: a simple GET with credentials is answered, and the browser keeps it from the page", other, async (page) => {
    const r = await pageFetch(page, "/public/ping", { credentials: "include" });
    if (!r.error) throw new Error(`the page read status ${r.status}`);
    // the same request without CORS: the host did answer (an opaque
    // response), so the refusal above is the browser's own
    const o = await pageFetch(page, "/public/ping", { credentials: "include", mode: "no-cors" });
    if (o.error || o.type !== "opaque") throw new Error(`no-cors: ${o.error ?? o.type}`);
  }],
];

let browser;
let failed = false;
try {
  browser = await chromium.launch({
    executablePath: job.chromium,
    args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-dev-shm-usage"],
    timeout: 30000,
  });
  const context = await browser.newContext();
  context.setDefaultTimeout(15000);
  const pages = {};
  for (const [name, origin, fn] of steps) {
    if (failed) {
      console.log(`not ok - ${host}: cors: ${name}: not run (an earlier step failed)`);
      continue;
    }
    try {
      if (!pages[origin]) {
        pages[origin] = await context.newPage();
        await pages[origin].goto(`${origin}/`);
      }
      await fn(pages[origin]);
      console.log(`ok - ${host}: cors: ${name}`);
    } catch (e) {
      failed = true;
      console.log(`not ok - ${host}: cors: ${name}: ${String(e.message).split("\n")[0]}`);
    }
  }
} catch (e) {
  console.log(`not ok - ${host}: cors: Chromium starts: ${String(e.message).split("\n")[0]}`);
}
if (browser) await browser.close();
process.exitCode = 0; // failures are "not ok" lines
