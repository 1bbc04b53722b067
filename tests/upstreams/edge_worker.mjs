// workerd Worker of the request-confusion corpus: authcore in front of the
// upstream named by the UPSTREAM text binding (policy: POLICY binding).
import wasm from "./authcore.wasm";
import { createAuth } from "./authcore.mjs";
import { forwardTo } from "./edge_forward.mjs";

let auth;

export default {
  async fetch(request, env) {
    auth ??= createAuth(env.POLICY, { module: wasm, env });
    return (await auth).serve(request, forwardTo(env.UPSTREAM), {
      clientIp: request.headers.get("cf-connecting-ip") ?? "",
    });
  },
};
