# Runs the example Worker in workerd, from the package folder's example/:
#   npx workerd serve config.capnp      then   curl -i localhost:8787/api/x
# A token for the policy's key (the authcore CLI, or any HS256 library):
#   printf %s example-secret-change-me-0123456789abcdef > key
#   authcore jwt sign --alg HS256 --key-file key --kid k1 \
#     --claims "{\"sub\":\"ada\",\"roles\":[\"reader\"],\"exp\":$(( $(date +%s) + 600 ))}"
#   curl -H "Authorization: Bearer <token>" localhost:8787/api/x
using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [ (name = "main", worker = .authWorker) ],
  sockets = [ (name = "http", address = "127.0.0.1:8787", http = (), service = "main") ],
);

const authWorker :Workerd.Worker = (
  modules = [
    (name = "worker", esModule = embed "worker.mjs"),
    (name = "authcore.mjs", esModule = embed "../authcore.mjs"),
    (name = "authcore_glue.mjs", esModule = embed "../authcore_glue.mjs"),
    (name = "authcore.wasm", wasm = embed "../authcore.wasm"),
  ],
  bindings = [
    # For a policy with a "login", the first administrator (the Worker passes
    # env to createAuth; on Cloudflare make these secrets):
    #   (name = "AUTHCORE_ADMIN_USER", text = "admin"),
    #   (name = "AUTHCORE_ADMIN_PASSWORD_HASH", text = "<authcore hash-password output>"),
    # The policy as JSON text; `json = embed "policy.json"` reads it from a file.
    (name = "AUTHCORE_POLICY", json = "{\"realm\": \"example\", \"jwt\": {\"keys\": [{\"kid\": \"k1\", \"alg\": \"HS256\", \"secret\": \"example-secret-change-me-0123456789abcdef\"}], \"leeway\": 30}, \"public\": [\"/healthz\"], \"rules\": [{\"path\": \"/api/*\", \"role\": \"reader\"}], \"default\": \"authenticated\"}"),
  ],
  compatibilityDate = "2025-01-01",
);
