// A tiny CLI over the `jose` library so the interop driver can use it like
// PyJWT:  sign ALG KEYFILE CLAIMS_JSON [KID]  -> token on stdout
//         verify ALG KEYFILE AUD ISS         (token on stdin) -> JSON result
//         jws-sign ALG KEYFILE               -> a compact JWS of an empty
//                                               payload ("header..sig")
// KEYFILE: raw HMAC secret bytes, or a PEM (PKCS#8 private key to sign,
// SPKI public key to verify) for RS*/PS*/ES*.
import { readFileSync } from "node:fs";
import { CompactSign, SignJWT, jwtVerify, importPKCS8, importSPKI } from "jose";

const [cmd, alg, keyFile, a, b] = process.argv.slice(2);
const raw = readFileSync(keyFile);
async function key(kind) {
  if (alg.startsWith("HS")) return new Uint8Array(raw);
  const pem = raw.toString("utf8");
  return kind === "sign" ? importPKCS8(pem, alg) : importSPKI(pem, alg);
}
if (cmd === "sign") {
  const hdr = { alg, typ: "JWT" };
  if (b) hdr.kid = b;
  const tok = await new SignJWT(JSON.parse(a)).setProtectedHeader(hdr).sign(await key("sign"));
  process.stdout.write(tok + "\n");
} else if (cmd === "jws-sign") {
  const tok = await new CompactSign(new Uint8Array(0)).setProtectedHeader({ alg }).sign(await key("sign"));
  process.stdout.write(tok + "\n");
} else if (cmd === "verify") {
  const tok = readFileSync(0, "utf8").trim();
  try {
    const { payload } = await jwtVerify(tok, await key("verify"), { algorithms: [alg], audience: a, issuer: b });
    process.stdout.write(JSON.stringify({ ok: true, payload }) + "\n");
  } catch (e) {
    process.stdout.write(JSON.stringify({ ok: false, code: e.code || e.name }) + "\n");
  }
} else {
  process.stderr.write("usage: jose_tool.mjs sign|verify|jws-sign ...\n");
  process.exit(2);
}
