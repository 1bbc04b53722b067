// A real OpenID Provider on loopback for the tests: npm oidc-provider
// (OpenID Certified), with one confidential client for the
// client_credentials grant whose access tokens are JWTs for one resource,
// signed with the private keys the test hands over, so a test controls
// rotation by restarting it with other keys on the same port.
//
//   node tests/lib/idp.mjs PORT KEYS.json [ALG]
//
// KEYS.json: {"keys": [private JWKs]} (the first key of ALG's type signs).
// Prints "listening http://127.0.0.1:PORT" once it serves; the JWKS is at
// /jwks, discovery at /.well-known/openid-configuration, tokens at /token:
//   POST /token  grant_type=client_credentials&scope=api&resource=urn:authcore:test
//   with Basic auth authcore-test:authcore-test-secret
//   node tests/lib/idp.mjs keys KID
//
// prints a new private ES256 JWK set (one key, kid KID) for KEYS.json.
import { readFileSync } from "node:fs";
import { exportJWK, generateKeyPair } from "jose";

if (process.argv[2] === "keys") {
  const { privateKey } = await generateKeyPair("ES256", { extractable: true });
  const jwk = { ...(await exportJWK(privateKey)), kid: process.argv[3] ?? "k1", alg: "ES256", use: "sig" };
  console.log(JSON.stringify({ keys: [jwk] }));
  process.exit(0);
}
const { default: Provider } = await import("oidc-provider");
const [port, keysFile, alg = "ES256"] = process.argv.slice(2);
if (!port || !keysFile) {
  console.error("usage: idp.mjs PORT KEYS.json [ALG]");
  process.exit(2);
}
const RESOURCE = "urn:authcore:test";
const issuer = `http://127.0.0.1:${port}`;
const jwks = JSON.parse(readFileSync(keysFile, "utf8"));

const provider = new Provider(issuer, {
  jwks,
  clients: [{
    client_id: "authcore-test",
    client_secret: "authcore-test-secret",
    id_token_signed_response_alg: alg,
    grant_types: ["client_credentials"],
    redirect_uris: [],
    response_types: [],
  }],
  scopes: ["api"],
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => RESOURCE,
      useGrantedResource: () => true,
      getResourceServerInfo: (ctx, indicator) => {
        if (indicator !== RESOURCE) throw new Error("unknown resource");
        return {
          scope: "api",
          audience: RESOURCE,
          accessTokenTTL: 600,
          accessTokenFormat: "jwt",
          jwt: { sign: { alg } },
        };
      },
    },
  },
});
provider.proxy = false;
const server = provider.listen(Number(port), "127.0.0.1", () => {
  console.log(`listening ${issuer}`);
});
for (const sig of ["SIGTERM", "SIGINT"]) process.on(sig, () => server.close(() => process.exit(0)));
