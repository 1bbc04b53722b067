// Worker for the request tests in real workerd. The policy is the POLICY
// binding; RUNTIME "workers" makes the instance a Workers one (client
// address from CF-Connecting-IP); without it the module must find Cloudflare's
// `cf` object on the request (the config's cfBlobHeader socket stands in for
// Cloudflare's edge) or refuse the request. SLICE: the password
// check option. AUTHCORE_* bindings are the core's environment.
import wasm from "./authcore.wasm";
import { echo, load, testRoute } from "./request_app.mjs";

let inst;

export default {
  async fetch(request, env) {
    inst ??= load(env.POLICY, wasm, {
      env, // its AUTHCORE_* bindings reach the core (a policy's *_env members)
      runtime: env.RUNTIME || undefined,
      passwordSlice: Number(env.SLICE || 0),
    });
    const own = testRoute(request.url, inst.audits);
    if (own) return own;
    return (await inst.auth).serve(request, echo);
  },
};
