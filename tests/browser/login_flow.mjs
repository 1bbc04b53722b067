// The login flow in a real browser: headless Debian Chromium driven by
// playwright-core (never a downloaded browser), against one host (Envoy,
// nginx, workerd) in front of the demo dashboard (tools/demo/dashboard.py).
// Driven by tests/browser/run.py, which starts the host; run as
//   node login_flow.mjs '<job JSON>'
// with job = {host, base, user, password, chromium, shots, login_timeout_ms}.
// Prints one "ok - <host>: <step>" or "not ok - <host>: <step>: why" line
// per step and "# " comment lines (timings); kit.mjs launches the browser
// and runs the steps. Every wait is bounded (15 s per action,
// login_timeout_ms for a login's PBKDF2 check).
import { join } from "node:path";
import { fail, runSteps } from "./kit.mjs";

const job = JSON.parse(process.argv[2]);
const { host, base, user, password } = job;
const SESSION = "dash_session";
const CSRF = "dash_csrf";
const loginTimeout = job.login_timeout_ms ?? 30000;

const steps = [];
function step(name, fn) { steps.push({ name, fn }); }
const path = (page) => new URL(page.url()).pathname;

async function cookieMap(context) {
  const m = {};
  for (const c of await context.cookies(`${base}/dash/`)) m[c.name] = c; // Path=/dash
  return m;
}

// The login page for /dash/, reached by a redirect that carries next=/dash/.
async function expectLoginPage(page, how) {
  const u = new URL(page.url());
  if (u.pathname !== "/dash/auth/login") fail(`${how}: at ${page.url()}, not the login page`);
  if (u.searchParams.get("next") !== "/dash/") fail(`${how}: URL ${page.url()} lacks next=/dash/`);
  await page.getByRole("heading", { name: "Sign in to Task queue" }).waitFor();
}

async function submitLogin(page, name, pw) {
  await page.getByLabel("Username").fill(name);
  await page.getByLabel("Password").fill(pw);
  // the click waits for the navigation it starts: the host's password check
  await page.getByRole("button", { name: "Sign in" }).click({ timeout: loginTimeout });
}

let context;
let page;

step("/dash/ redirects to the login page with next=/dash/", async () => {
  const resp = await page.goto(`${base}/dash/`);
  const chain = [];
  for (let r = resp.request().redirectedFrom(); r; r = r.redirectedFrom()) {
    chain.push(`${(await r.response()).status()} ${new URL(r.url()).pathname}`);
  }
  if (!chain.includes("302 /dash/")) fail(`no 302 for /dash/ (redirects: ${chain.join(", ") || "none"})`);
  if (resp.status() !== 200) fail(`login page answered ${resp.status()}`);
  await expectLoginPage(page, "after GET /dash/");
});

step("a wrong password shows the generic error and sets no cookie", async () => {
  await submitLogin(page, user, password + "-wrong");
  await page.getByRole("alert").filter({ hasText: "Invalid username or password." })
    .waitFor({ timeout: loginTimeout });
  if (path(page) !== "/dash/auth/login") fail(`at ${page.url()}`);
  const c = await cookieMap(context);
  if (c[SESSION] || c[CSRF]) fail(`cookies set: ${Object.keys(c).join(", ")}`);
  await page.screenshot({ path: join(job.shots, `${host}-login-error.png`) });
});

step("login by the labelled fields lands on /dash/ showing the user", async () => {
  const t0 = Date.now();
  await submitLogin(page, user, password);
  await page.waitForURL((u) => u.pathname === "/dash/", { timeout: loginTimeout });
  console.log(`# ${host}: login to dashboard ${Date.now() - t0} ms`);
  const shown = (await page.locator("#user").textContent({ timeout: 5000 }))?.trim();
  if (shown !== user) fail(`page shows user ${JSON.stringify(shown)}`);
  const c = await cookieMap(context);
  if (!c[SESSION]) fail("no session cookie");
  if (!c[SESSION].httpOnly) fail("the session cookie is not HttpOnly");
  if (c[SESSION].path !== "/dash") fail(`session cookie path ${c[SESSION].path}`);
  if (!c[CSRF] || c[CSRF].httpOnly) fail("no CSRF cookie readable by the page");
});

step("Retry sends X-CSRF-Token and the POST succeeds (shown on the page)", async () => {
  const csrf = (await cookieMap(context))[CSRF].value;
  const [req] = await Promise.all([
    page.waitForRequest((r) => r.method() === "POST" && r.url() === `${base}/dash/api/tasks/1/retry`),
    page.getByRole("button", { name: "Retry task 1 resize-images" }).click(),
  ]);
  const resp = await req.response();
  if (req.headers()["x-csrf-token"] !== csrf) fail("the request did not carry the CSRF cookie's token");
  if (!resp || resp.status() !== 200) fail(`POST answered ${resp ? resp.status() : "nothing"}`);
  await page.locator("#result").filter({ hasText: `queued for retry by ${user}` }).waitFor();
  const st = await page.locator('tr[data-task="1"] .status').textContent();
  if (st !== "queued") fail(`task row shows ${st}`);
  await page.screenshot({ path: join(job.shots, `${host}-dashboard.png`) });
});

step("a fetch POST without X-CSRF-Token (or a wrong one) is refused 403", async () => {
  const r = await page.evaluate(async () => {
    const post = (headers) => fetch("/dash/api/tasks/2/retry", { method: "POST", headers })
      .then((x) => x.status);
    const none = await post({});
    const wrong = await post({ "X-CSRF-Token": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" });
    const tasks = await fetch("/dash/api/tasks").then((x) => x.json());
    return { none, wrong, task2: tasks.tasks.find((t) => t.id === 2) };
  });
  if (r.none !== 403) fail(`without the header: ${r.none}`);
  if (r.wrong !== 403) fail(`with a wrong token: ${r.wrong}`);
  // the refusal came from the proxy: the dashboard never saw either POST
  if (r.task2.status !== "failed" || r.task2.attempts !== 1) fail(`task 2 changed: ${JSON.stringify(r.task2)}`);
});

step("Sign out returns to the login page and clears the session cookie", async () => {
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.waitForURL((u) => u.pathname === "/dash/auth/login");
  await page.getByRole("heading", { name: "Sign in to Task queue" }).waitFor();
  const c = await cookieMap(context);
  if (c[SESSION] || c[CSRF]) fail(`cookies left: ${Object.keys(c).join(", ")}`);
});

step("/dash/ redirects to the login page again", async () => {
  await page.goto(`${base}/dash/`);
  await expectLoginPage(page, "after signing out");
});

await runSteps(host, steps, { chromium: job.chromium, shots: job.shots, navTimeoutMs: loginTimeout },
  (b) => { ({ context, page } = b); });
process.exitCode = 0; // failures are "not ok" lines; run.py checks the count
