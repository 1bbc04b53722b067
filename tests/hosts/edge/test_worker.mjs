// Worker for tests/suites/60-workerd.sh: the policy arrives as the POLICY
// text binding, the vector file's env as AUTHCORE_* text bindings (the
// whole env object is passed; authcore takes only AUTHCORE_* strings), the
// wasm as an imported module (as Workers require). Password checks go the
// stepped way here (Deno's server runs them whole).
import wasm from "./authcore.wasm";
import { loadAuth, testFetch } from "./test_app.mjs";

let auth;

export default {
  fetch(request, env) {
    auth ??= loadAuth(env.POLICY, wasm, env, 200); // the stepped path, yielding
    // with setTimeout between slices of 200 PBKDF2 iterations
    return testFetch(auth, request);
  },
};
