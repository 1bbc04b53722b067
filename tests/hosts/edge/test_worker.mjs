// Worker for tests/suites/60-workerd.sh: the policy arrives as the POLICY
// text binding, the wasm as an imported module (as Workers require).
import wasm from "./authcore.wasm";
import { loadAuth, testFetch } from "./test_app.mjs";

let auth;

export default {
  fetch(request, env) {
    auth ??= loadAuth(env.POLICY, wasm);
    return testFetch(auth, request);
  },
};
