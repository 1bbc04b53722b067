// Worker for the browser test (tests/browser/run.py): authcore from the
// edge package (hosts/edge/authcore.mjs, built into build/edge) in front of
// the demo dashboard, which it reaches with fetch() on loopback.
// Bindings: POLICY (the policy JSON), UPSTREAM ("http://127.0.0.1:PORT"),
// AUTHCORE_ADMIN_USER / AUTHCORE_ADMIN_PASSWORD_HASH (the administrator;
// createAuth takes them from `env`).
import wasm from "./authcore.wasm";
import { createAuth } from "./authcore.mjs";

let auth;

export default {
  async fetch(request, env) {
    // created on the first request: Workers draw no randomness at module scope
    // (a policy the core refuses rejects here, on every request: fail closed)
    auth ??= createAuth(env.POLICY, { module: wasm, env, passwordSlice: 20000 });
    return (await auth).serve(request, (req) => {
      const u = new URL(req.url);
      return fetch(env.UPSTREAM + u.pathname + u.search, {
        method: req.method,
        headers: req.headers,
        body: req.body,
        redirect: "manual",
      });
    }); // the client address is workerd's: the socket peer (cf.clientIp)
  },
};
