// A real OpenID Provider on loopback for the tests: npm oidc-provider
// (OpenID Certified). Two modes.
//
// Tokens for an API (tests/lib/jwkskit.py): one confidential client for the
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
//
// Sign-in (tests/lib/oidckit.py): the authorization code flow with the
// provider's own login and consent pages (its built-in interactions: any
// password; the login name typed is the account), one confidential client
// (client_secret_basic, response type code, PKCE S256 required), ID tokens
// signed RS256 carrying the account's claims, and RP-initiated logout with
// the provider's confirmation page.
//
//   node tests/lib/idp.mjs login PORT CONFIG.json
//
// CONFIG.json: {"keys": [private RS256 JWKs],
//   "client": {"client_id", "client_secret", "redirect_uris": [...],
//              "post_logout_redirect_uris": [...]},
//   "accounts": {"<login name>": {"email", "email_verified", "groups": [...]}},
//   "record": FILE, "token_delay_ms": N}
// A login name not in accounts is refused by the provider's login page
// (the flow ends with an error at the client's redirect URI). With
// "record", every POST /token is appended to FILE as one JSON line
// {"line": request line, "headers": [[lower-case name, value]], "body":
// the body as latin-1 text}, exactly as it arrived, before the provider
// reads it; with "token_delay_ms", each is answered that much later (so
// that requests a host makes at once are in flight together).
//
//   node tests/lib/idp.mjs keys KID [ALG]
//
// prints a new private JWK set (one key, kid KID, ALG: ES256 by default, or
// RS256) for KEYS.json or CONFIG.json's keys.
import { appendFileSync, readFileSync } from "node:fs";
import { exportJWK, generateKeyPair } from "jose";

if (process.argv[2] === "keys") {
  const keyAlg = process.argv[4] ?? "ES256";
  const { privateKey } = await generateKeyPair(keyAlg, { extractable: true });
  const jwk = { ...(await exportJWK(privateKey)), kid: process.argv[3] ?? "k1", alg: keyAlg, use: "sig" };
  console.log(JSON.stringify({ keys: [jwk] }));
  process.exit(0);
}
const { default: Provider } = await import("oidc-provider");
if (process.argv[2] === "login") {
  await signIn(process.argv[3], process.argv[4]);
} else {
  await clientCredentials();
}

function serve(provider, issuer, port) {
  provider.proxy = false;
  const server = provider.listen(Number(port), "127.0.0.1", () => {
    console.log(`listening ${issuer}`);
  });
  for (const sig of ["SIGTERM", "SIGINT"]) process.on(sig, () => server.close(() => process.exit(0)));
  // connections a browser keeps open must not hold up the exit
  process.on("SIGTERM", () => server.closeAllConnections?.());
}

async function signIn(port, configFile) {
  if (!port || !configFile) {
    console.error("usage: idp.mjs login PORT CONFIG.json");
    process.exit(2);
  }
  const issuer = `http://127.0.0.1:${port}`;
  const config = JSON.parse(readFileSync(configFile, "utf8"));
  const accounts = config.accounts ?? {};
  const c = config.client;
  const provider = new Provider(issuer, {
    jwks: { keys: config.keys },
    clients: [{
      client_id: c.client_id,
      client_secret: c.client_secret,
      token_endpoint_auth_method: "client_secret_basic",
      grant_types: ["authorization_code"],
      response_types: ["code"],
      redirect_uris: c.redirect_uris,
      post_logout_redirect_uris: c.post_logout_redirect_uris ?? [],
      id_token_signed_response_alg: "RS256",
    }],
    scopes: ["openid", "email", "profile", "groups"],
    claims: {
      openid: ["sub"],
      email: ["email", "email_verified"],
      profile: ["name"],
      groups: ["groups"],
    },
    // the ID token carries the granted claims (the relying party reads
    // them there, not from userinfo)
    conformIdTokenClaims: false,
    pkce: { required: () => true },
    async findAccount(ctx, id) {
      const a = Object.hasOwn(accounts, id) ? accounts[id] : undefined;
      if (!a) return undefined;
      return {
        accountId: id,
        async claims() {
          return {
            sub: id,
            name: a.name ?? id,
            email: a.email,
            email_verified: a.email_verified,
            groups: a.groups ?? [],
          };
        },
      };
    },
    features: {
      devInteractions: { enabled: true },
      rpInitiatedLogout: { enabled: true },
    },
    ttl: {
      AccessToken: 600, AuthorizationCode: 60, IdToken: 600, Interaction: 600,
      Session: 3600, Grant: 3600,
    },
  });
  if (config.record || config.token_delay_ms) provider.use(tokenRecorder(config));
  serve(provider, issuer, port);
}

// Records (and delays) each token request (see "record" above). The body
// is read here and handed on as req.body, which the provider parses in
// place of the stream.
function tokenRecorder(config) {
  return async (ctx, next) => {
    if (ctx.method === "POST" && ctx.path === "/token") {
      const chunks = [];
      for await (const c of ctx.req) chunks.push(c);
      const body = Buffer.concat(chunks).toString("latin1");
      ctx.req.body = body;
      if (config.record) {
        const h = ctx.req.rawHeaders;
        const headers = [];
        for (let i = 0; i + 1 < h.length; i += 2) headers.push([h[i].toLowerCase(), h[i + 1]]);
        appendFileSync(config.record, JSON.stringify({
          line: `${ctx.method} ${ctx.url} HTTP/${ctx.req.httpVersion}`, headers, body,
        }) + "\n");
      }
      if (config.token_delay_ms) await new Promise((r) => setTimeout(r, config.token_delay_ms));
    }
    await next();
  };
}

async function clientCredentials() {
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
  serve(provider, issuer, port);
}
