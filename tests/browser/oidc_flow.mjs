// OpenID Connect sign-in in a real browser: headless Debian Chromium driven
// by playwright-core (never a downloaded browser), through a real provider's
// own login and consent pages (npm oidc-provider, tests/lib/idp.mjs login).
// Driven by tests/hosts/oidc_login.py; run as
//   node oidc_flow.mjs '<job JSON>'
// Two kinds of job:
//   {kind: "provider", prefix, auth_url, callback, login, password, chromium, shots}
//     the provider alone: from an authorization URL the test made, its login
//     form and consent page, up to the client's redirect URI (a loopback
//     page of the test's, which records the code).
//   {kind: "host", prefix, base, idp, label, login, password, email, roles,
//    chromium, shots}
//     a host's protected page: its login page's provider button, the
//     provider's login and consent, back on the page at the upstream, which
//     shows the identity it was handed; then logout through the provider's
//     confirmation, and the provider asks for the login again.
// Requests off loopback are refused (the provider's pages import a web
// font). Prints one "ok - <prefix>: <step>" / "not ok - <prefix>: <step>: why"
// per step; kit.mjs launches the browser and runs the steps. Every wait is
// bounded (15 s per action).
import { fail, runSteps } from "./kit.mjs";

const job = JSON.parse(process.argv[2]);
const steps = [];
function step(name, fn) { steps.push({ name, fn }); }
let context;
let page;
const requests = [];

async function providerLogin(login, password) {
  const form = page.locator('form:has(input[name="login"])');
  await form.waitFor();
  await page.getByPlaceholder("Enter any login").fill(login);
  await page.getByPlaceholder("and password").fill(password);
  await page.getByRole("button", { name: "Sign-in" }).click();
  await page.getByRole("button", { name: "Continue" }).waitFor();
}

async function cookies(base) {
  const m = {};
  for (const c of await context.cookies(`${base}/dash/`)) m[c.name] = c;
  return m;
}

if (job.kind === "provider") {
  step("the provider shows its login form for the client's authorization request", async () => {
    await page.goto(job.auth_url);
    if (!new URL(page.url()).pathname.startsWith("/interaction/")) fail(`at ${page.url()}`);
    await page.locator('input[name="login"]').waitFor();
  });
  step("its login form (any password) leads to its consent page, which names the scopes", async () => {
    await providerLogin(job.login, job.password);
    for (const s of ["email", "groups"]) {
      await page.locator("li", { hasText: new RegExp(`^${s}$`) }).first().waitFor();
    }
  });
  step("Continue sends the browser to the client's redirect URI", async () => {
    await page.getByRole("button", { name: "Continue" }).click();
    await page.waitForURL((u) => u.href.startsWith(job.callback + "?"));
    await page.getByText("callback received").waitFor();
  });
} else {
  const { base, email } = job;
  const idpOrigin = new URL(job.idp).origin;
  const callback = `${base}/dash/auth/oidc/test/callback`;
  let authorize;

  step("a protected page redirects to the login page, which offers the provider and no password form", async () => {
    const resp = await page.goto(`${base}/dash/`);
    const u = new URL(page.url());
    if (u.pathname !== "/dash/auth/login") fail(`at ${page.url()}`);
    if (u.searchParams.get("next") !== "/dash/") fail(`no next=/dash/ in ${page.url()}`);
    if (resp.status() !== 200) fail(`login page answered ${resp.status()}`);
    const link = page.getByRole("link", { name: job.label });
    await link.waitFor();
    const href = new URL(await link.getAttribute("href"), base);
    if (href.origin !== base || href.pathname !== "/dash/auth/oidc/test"
        || href.searchParams.get("next") !== "/dash/") fail(`button href ${href}`);
    const pw = await page.locator('input[type="password"]').count();
    if (pw !== 0) fail(`${pw} password field(s) on an SSO-only login page`);
  });

  step("the provider's button goes to the provider with a code + S256 PKCE request", async () => {
    requests.length = 0;
    await page.getByRole("link", { name: job.label }).click();
    await page.waitForURL((u) => u.origin === idpOrigin && u.pathname.startsWith("/interaction/"));
    await page.locator('input[name="login"]').waitFor();
    authorize = requests.find((r) => r.startsWith(`${idpOrigin}/auth?`));
    if (!authorize) fail("no request to the provider's authorization endpoint");
    const q = new URL(authorize).searchParams;
    const want = { response_type: "code", client_id: "authcore-dash",
      redirect_uri: callback, code_challenge_method: "S256" };
    for (const [k, v] of Object.entries(want)) {
      if (q.get(k) !== v) fail(`${k}=${q.get(k)}, want ${v}`);
    }
    const scope = (q.get("scope") || "").split(" ");
    for (const s of ["openid", "email", "groups"]) if (!scope.includes(s)) fail(`scope ${q.get("scope")}`);
    for (const k of ["state", "nonce"]) if (!q.get(k) || q.get(k).length < 16) fail(`${k}=${q.get(k)}`);
    if (!/^[A-Za-z0-9_-]{43}$/.test(q.get("code_challenge") || "")) fail(`code_challenge ${q.get("code_challenge")}`);
    // the cookie goes to the callback only (its Path)
    const c = (await context.cookies(callback)).find((x) => x.name === "authcore_oidc");
    if (!c) fail("no authcore_oidc cookie for the callback");
    if (!c.httpOnly || c.sameSite !== "Lax") fail(`authcore_oidc httpOnly=${c.httpOnly} sameSite=${c.sameSite}`);
  });

  step("the provider's login form (any password) leads to its consent page", async () => {
    await providerLogin(job.login, job.password);
  });

  step("consent lands on the protected page; the upstream got the user", async () => {
    // the callback answers a page that moves on by itself (its session
    // cookie is SameSite=Strict); anything else is reported as it is
    const [cb] = await Promise.all([
      page.waitForResponse((r) => r.url().startsWith(callback + "?")),
      page.getByRole("button", { name: "Continue" }).click(),
    ]);
    if (cb.status() !== 200) fail(`the callback answered ${cb.status()}: ${(await cb.text()).slice(0, 200)}`);
    await page.waitForURL((u) => u.origin === base && u.pathname === "/dash/");
    const text = await page.locator("body").innerText();
    let seen;
    try { seen = JSON.parse(text); } catch { fail(`not the upstream's JSON: ${text.slice(0, 200)}`); }
    const h = seen.headers || {};
    const user = h["x-authcore-user"] ?? seen.identity?.user;
    if (user !== email) fail(`the upstream was handed user ${JSON.stringify(user)}, want ${email}`);
    const roles = (h["x-authcore-roles"] ?? (seen.identity?.roles || []).join(",")).split(",").map((r) => r.trim());
    for (const r of job.roles) if (!roles.includes(r)) fail(`roles ${JSON.stringify(roles)} lack ${r}`);
    console.log(`# ${job.prefix}: the upstream was handed ${user}, roles ${roles.join(",")}`);
    const c = await cookies(base);
    if (!c.authcore_session?.httpOnly) fail("no HttpOnly session cookie");
    if ((await context.cookies(callback)).some((x) => x.name === "authcore_oidc")) fail("authcore_oidc left set");
  });

  step("logout goes through the provider's confirmation back to the login page", async () => {
    await page.goto(`${base}/dash/auth/logout`);
    if (new URL(page.url()).origin !== idpOrigin) fail(`at ${page.url()}, not the provider`);
    await page.getByRole("button", { name: "Yes, sign me out" }).click();
    await page.waitForURL((u) => u.origin === base && u.pathname === "/dash/auth/login");
    await page.getByRole("link", { name: job.label }).waitFor();
    const c = await cookies(base);
    if (c.authcore_session) fail("the session cookie is left");
  });

  step("signed out at the provider too: its button asks for the login again", async () => {
    await page.goto(`${base}/dash/`);
    if (new URL(page.url()).pathname !== "/dash/auth/login") fail(`at ${page.url()}`);
    await page.getByRole("link", { name: job.label }).click();
    await page.waitForURL((u) => u.origin === idpOrigin && u.pathname.startsWith("/interaction/"));
    await page.locator('input[name="login"]').waitFor();
  });
}

await runSteps(job.prefix, steps, { chromium: job.chromium, shots: job.shots }, async (b) => {
  ({ context, page } = b);
  // loopback only: the provider's pages @import a web font
  await context.route((u) => u.hostname !== "127.0.0.1", (route) => route.abort());
  page.on("request", (r) => requests.push(r.url()));
});
process.exitCode = 0; // failures are "not ok" lines; the runner counts them
