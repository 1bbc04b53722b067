// One dashboard behind authcore in headless Chromium (tests/browser/kit.mjs
// launches it): run as  node flowkit.mjs '<job JSON>'  with job = {app, host,
// base, admin: {name, password}, viewer: {name, password}, chromium, shots,
// login_timeout_ms}. Driven by tests/apps/run.py, which starts the app and
// the host (Envoy, nginx, or the app itself with AuthcoreMiddleware).
// Steps: the app's page sends a browser to the login page; the
// administrator signs in by the labelled fields and lands on the app; the
// app shows the user's name it was given (the assertion, or the in-process
// identity); the app's state-changing UI action succeeds with CSRF on; the
// same POST with the session but from another origin is refused 403; sign
// out; the viewer signs in and the same UI action is refused 403; sign out.
// Prints "ok - <app> <host>: <step>" lines; every wait is bounded.
import { fail, runSteps } from "../browser/kit.mjs";

const job = JSON.parse(process.argv[2]);
const { base } = job;
const prefix = `${job.app} ${job.host}`;
const loginTimeout = job.login_timeout_ms ?? 20000;
const OTHER_ORIGIN = "http://127.0.0.1:9";

async function waitPath(page, want, timeout = 15000) {
  await page.waitForURL((u) => u.pathname === want, { timeout });
}

async function signIn(page, app, who) {
  await page.goto(base + app.entry);
  const u = new URL(page.url());
  if (u.pathname !== app.login) fail(`${app.entry} led to ${page.url()}, not ${app.login}`);
  await page.getByLabel("Username").fill(who.name);
  await page.getByLabel("Password").fill(who.password);
  await page.getByRole("button", { name: "Sign in" }).click({ timeout: loginTimeout });
  await waitPath(page, app.landing, loginTimeout);
}

async function signOut(page, context, app) {
  await app.signOut(page);
  const left = (await context.cookies(base)).filter((c) => c.name === app.session);
  if (left.length) fail(`session cookie ${app.session} left after signing out`);
  await page.goto(base + app.entry);
  if (new URL(page.url()).pathname !== app.login) fail(`after signing out ${app.entry} is ${page.url()}`);
}

// ---- fastapi-taskflow 0.12.1: the dashboard at /tasks/dashboard ----------
const taskflow = {
  entry: "/tasks/dashboard", login: "/tasks/auth/login", landing: "/tasks/dashboard",
  session: "taskflow_session",
  async failedTask(page) {
    const tasks = await page.evaluate(() => fetch("/tasks").then((r) => r.json()));
    const t = tasks.find((x) => x.status === "failed");
    if (!t) fail(`no failed task in ${JSON.stringify(tasks).slice(0, 200)}`);
    return t.task_id;
  },
  async audit(page) {
    return page.evaluate(() => fetch("/tasks/audit").then((r) => r.json()));
  },
  // the task's Retry button in its detail panel; returns the POST's response
  async act(page) {
    const id = await this.failedTask(page);
    await page.locator(`#tasks-tbody tr.row[data-id="${id}"]`).click();
    const [resp] = await Promise.all([
      page.waitForResponse((r) => r.request().method() === "POST" && r.url() === `${base}/tasks/${id}/retry`),
      page.getByRole("button", { name: "Retry this task" }).click(),
    ]);
    return { id, status: resp.status() };
  },
  async showsUser(page, name, acted) {
    // taskflow's audit log records who retried: the name the app was given
    const a = await this.audit(page);
    const e = a.find((x) => x.action === "retry" && x.task_id === acted.id);
    if (!e) fail(`no audit entry for the retry: ${JSON.stringify(a).slice(0, 200)}`);
    if (e.actor !== name) fail(`the app recorded the actor ${JSON.stringify(e.actor)}`);
  },
  async crossOrigin(page, context) {
    const id = await this.failedTask(page);
    const before = (await this.audit(page)).length;
    const r = await context.request.post(`${base}/tasks/${id}/retry`, {
      headers: { Origin: OTHER_ORIGIN, "Sec-Fetch-Site": "cross-site" }, failOnStatusCode: false });
    const after = (await this.audit(page)).length;
    return { status: r.status(), changed: after !== before };
  },
  // with its auth off taskflow shows no Sign out: authcore's logout path
  async signOut(page) {
    await page.goto(`${base}/tasks/auth/logout`);
    await waitPath(page, this.login);
  },
};

// ---- taskito 0.22.0: the SPA at /, its API under /api ----------------------
const taskito = {
  entry: "/queues", login: "/auth/login", landing: "/queues", session: "taskito_session",
  async paused(page) {
    return page.evaluate(() => fetch("/api/queues/paused").then((r) => r.json()));
  },
  // the Queues page's Pause (or Resume) on the default queue; the SPA
  // echoes the taskito_csrf cookie in X-CSRF-Token
  async act(page, context) {
    const button = page.getByRole("button", { name: /^(Pause|Resume)$/ }).first();
    await button.waitFor();
    const before = JSON.stringify(await this.paused(page));
    const csrf = (await context.cookies(base)).find((c) => c.name === "taskito_csrf");
    const [resp] = await Promise.all([
      page.waitForResponse((r) => r.request().method() === "POST" &&
        /\/api\/queues\/default\/(pause|resume)$/.test(new URL(r.url()).pathname)),
      button.click(),
    ]);
    const changed = JSON.stringify(await this.paused(page)) !== before;
    if (resp.status() === 200) {
      if (!csrf || resp.request().headers()["x-csrf-token"] !== csrf.value) {
        fail("the POST did not carry the taskito_csrf cookie's token");
      }
      if (!changed) fail(`the queue's state did not change: ${before}`);
    } else if (changed) {
      fail(`answered ${resp.status()}, yet the queue's state changed`);
    }
    return { status: resp.status() };
  },
  async showsUser(page, name) {
    // the account menu, filled from whoami: the name from the assertion
    const menu = page.getByRole("button", { name: "Account menu" });
    await menu.filter({ hasText: name }).waitFor({ timeout: 10000 })
      .catch(async () => fail(`the account menu shows ${JSON.stringify(await menu.innerText().catch(() => null))}`));
  },
  async crossOrigin(page, context) {
    const before = JSON.stringify(await this.paused(page));
    const r = await context.request.post(`${base}/api/queues/default/resume`, {
      headers: { Origin: OTHER_ORIGIN, "Sec-Fetch-Site": "cross-site" }, failOnStatusCode: false });
    return { status: r.status(), changed: JSON.stringify(await this.paused(page)) !== before };
  },
  // the account menu's Sign out: the SPA posts its logout, which the app
  // sends to authcore's
  async signOut(page) {
    await page.getByRole("button", { name: "Account menu" }).click();
    await Promise.all([
      page.waitForResponse((r) => r.url() === `${base}/auth/logout`),
      page.getByRole("menuitem", { name: /sign out/i }).click(),
    ]);
  },
};

// ---- asyncmq 0.10.1: the dashboard under /admin, JWT only ------------------
// The token comes from the issuer's sign-in page at /admin/login (the
// test's stand-in, tests/apps/apps.py) in the asyncmq_token cookie.
const asyncmqApp = {
  entry: "/admin/queues", login: "/admin/login", landing: "/admin/queues", session: "asyncmq_token",
  async pausedNow(page) {
    const html = await page.evaluate(() => fetch("/admin/queues").then((r) => r.text()));
    if (html.includes("Resume Queue")) return true;
    if (html.includes("Pause Queue")) return false;
    fail("the queues page shows neither Pause nor Resume");
  },
  // the images queue's Pause Queue (or Resume Queue): an htmx-free form POST
  async act(page) {
    await page.goto(`${base}/admin/queues`);
    const before = await this.pausedNow(page);
    const button = page.getByRole("button", { name: before ? "Resume Queue" : "Pause Queue" });
    const [resp] = await Promise.all([
      page.waitForResponse((r) => r.request().method() === "POST" && r.url() === `${base}/admin/queues/images`),
      button.click(),
    ]);
    const ok = resp.status() < 400;
    if (ok && (await this.pausedNow(page)) === before) fail("the queue's state did not change");
    return { status: ok ? 200 : resp.status() };
  },
  // a viewer's token has no admin: every /admin page is refused, so the
  // same POST the button sends is made from the page's origin
  async viewerAct(page, context) {
    const r = await context.request.post(`${base}/admin/queues/images`, {
      form: { action: "pause" }, headers: { Origin: base, "Sec-Fetch-Site": "same-origin" },
      failOnStatusCode: false, maxRedirects: 0 });
    const shown = await page.goto(`${base}/admin/queues`);
    if (shown.status() !== 403) fail(`the viewer's /admin/queues answered ${shown.status()}`);
    return { status: r.status() };
  },
  async showsUser(page, name) {
    // asyncmq's audit trail names the actor of the pause: the user it was given
    await page.goto(`${base}/admin/audit`);
    const rows = page.locator("tbody tr").filter({ hasText: /pause|resume/i });
    const n = await rows.count();
    if (!n) fail("no pause or resume in the audit trail");
    const text = await rows.first().innerText();
    if (!text.includes(name)) fail(`the audit row names no ${name}: ${text.replace(/\s+/g, " ").slice(0, 200)}`);
  },
  async crossOrigin(page, context) {
    const before = await this.pausedNow(page);
    const r = await context.request.post(`${base}/admin/queues/images`, {
      form: { action: before ? "resume" : "pause" },
      headers: { Origin: OTHER_ORIGIN, "Sec-Fetch-Site": "cross-site" }, failOnStatusCode: false, maxRedirects: 0 });
    return { status: r.status(), changed: (await this.pausedNow(page)) !== before };
  },
  // the sidebar's Logout posts /admin/logout: the issuer clears the cookie
  async signOut(page) {
    await page.goto(`${base}/admin/queues`).catch(() => {});
    await page.getByRole("button", { name: "Logout" }).first().click();
    await waitPath(page, this.login);
  },
  async viewerSignOut(page) { await page.goto(`${base}/admin/logout`); await waitPath(page, this.login); },
};

const APPS = { "fastapi-taskflow": taskflow, taskito, asyncmq: asyncmqApp };

const app = APPS[job.app];
let context;
let page;
let acted;
const steps = [
  { name: "the app's page sends a browser to the login page; the administrator signs in and lands on it",
    fn: async () => { await signIn(page, app, job.admin); } },
  { name: "the CSRF-protected UI action succeeds",
    fn: async () => {
      acted = await app.act(page, context);
      if (acted.status !== 200) fail(`the action answered ${acted.status}`);
    } },
  { name: "the app shows the user's name it was given",
    fn: async () => { await app.showsUser(page, job.admin.name, acted); } },
  { name: "the same POST with the session from another origin is refused 403 and changes nothing",
    fn: async () => {
      const r = await app.crossOrigin(page, context);
      if (r.status !== 403) fail(`answered ${r.status}`);
      if (r.changed) fail("the app acted on it");
    } },
  { name: "sign out ends the session and the app's page asks for a login again",
    fn: async () => { await signOut(page, context, app); } },
  { name: "the viewer signs in and the same UI action is refused 403",
    fn: async () => {
      await signIn(page, app, job.viewer);
      const r = await (app.viewerAct ?? app.act).call(app, page, context);
      if (r.status !== 403) fail(`the viewer's action answered ${r.status}`);
    } },
  { name: "the viewer signs out",
    fn: async () => {
      await signOut(page, context, app.viewerSignOut ? { ...app, signOut: app.viewerSignOut } : app);
    } },
];

if (!app) {
  console.log(`not ok - ${prefix}: known app: no flow for ${job.app}`);
} else {
  await runSteps(prefix, steps, { chromium: job.chromium, shots: job.shots, navTimeoutMs: loginTimeout },
    (b) => { ({ context, page } = b); });
}
process.exitCode = 0; // failures are "not ok" lines; run.py checks the count
