// What every browser flow here shares: headless Debian Chromium launched by
// playwright-core (never a downloaded browser), and steps that print one
// "ok - <prefix>: <step>" or "not ok - <prefix>: <step>: why" line each.
// Steps depend on each other: once one fails, the rest are reported
// "not ok ... not run". Used by login_flow.mjs and tests/apps/flowkit.mjs.
import { chromium } from "playwright-core";
import { mkdirSync } from "node:fs";
import { join } from "node:path";

export function fail(why) { throw new Error(why); }

// {browser, context, page} or throws; navigations wait navTimeoutMs at most.
export async function launch(chromiumPath, navTimeoutMs = 15000) {
  const browser = await chromium.launch({
    executablePath: chromiumPath,
    args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-dev-shm-usage"],
    timeout: 30000,
  });
  const context = await browser.newContext();
  context.setDefaultTimeout(15000);
  context.setDefaultNavigationTimeout(Math.max(15000, navTimeoutMs));
  const page = await context.newPage();
  return { browser, context, page };
}

// Runs steps [{name, fn}] in order against a browser launched here; prints
// the result lines (prefix names the run) and screenshots failures into
// shots. Returns nothing: failures are "not ok" lines.
export async function runSteps(prefix, steps, { chromium: chromiumPath, shots, navTimeoutMs }, setup) {
  let failed = false;
  let shot = 0;
  let b;
  try {
    mkdirSync(shots, { recursive: true });
    b = await launch(chromiumPath, navTimeoutMs);
    console.log(`# ${prefix}: Chromium ${b.browser.version()}`);
    if (setup) await setup(b);
  } catch (e) {
    console.log(`not ok - ${prefix}: Chromium starts: ${String(e.message).split("\n")[0]}`);
    failed = true;
  }
  for (const s of steps) {
    if (failed) {
      console.log(`not ok - ${prefix}: ${s.name}: not run (an earlier step failed)`);
      continue;
    }
    try {
      await s.fn(b);
      console.log(`ok - ${prefix}: ${s.name}`);
    } catch (e) {
      failed = true;
      const why = String(e.message).split("\n").filter((l) => l.trim()).slice(0, 2).join(" | ");
      console.log(`not ok - ${prefix}: ${s.name}: ${why} (at ${b.page.url()})`);
      try {
        await b.page.screenshot({ path: join(shots, `${prefix.replace(/[^\w.-]+/g, "-")}-failed-${++shot}.png`) });
      } catch { /* the page may be gone */ }
    }
  }
  if (b) await b.browser.close();
}
