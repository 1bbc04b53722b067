// Example Cloudflare Worker: authcore in front of an application's fetch
// handler. The policy comes from the AUTHCORE_POLICY binding (JSON); the
// first administrator, for a policy with a login, from the AUTHCORE_ADMIN_USER
// and AUTHCORE_ADMIN_PASSWORD_HASH bindings (secrets) when they are set; the
// wasm module is imported, as Workers require.
import wasm from "./authcore.wasm";
import { createAuth } from "./authcore.mjs";

// The application being protected. In a real deployment this is your own
// handler, or `fetch(request)` to an origin.
const app = {
  async fetch(request, env, ctx, identity) {
    const url = new URL(request.url);
    return Response.json({
      hello: identity.user,
      path: url.pathname,
      user_header: request.headers.get("x-authcore-user"),
    });
  },
};

// Compiled once per isolate, on the first request (bindings arrive with it).
// A policy the core refuses fails every request closed, with a 500.
let auth;

export default {
  async fetch(request, env, ctx) {
    // env is passed whole: authcore reads only its AUTHCORE_* strings
    auth ??= createAuth(env.AUTHCORE_POLICY, { module: wasm, env });
    let a;
    try {
      a = await auth;
    } catch (e) {
      console.error(String(e));
      return new Response("authcore: policy not loaded\n", { status: 500 });
    }
    // serve() answers locally (401, login page, ...) or calls the app and
    // adds the decision's response headers (Set-Cookie) to its answer. The
    // client address is the runtime's: on Cloudflare, CF-Connecting-IP (set
    // by Cloudflare's edge); under workerd serving its own socket, the peer.
    return a.serve(request, (req, identity) => app.fetch(req, env, ctx, identity));
  },
};
