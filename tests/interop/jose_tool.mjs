// A tiny CLI over the `jose` library so the interop driver can use it like
// PyJWT:  sign ALG KEYFILE CLAIMS_JSON [KID]  -> token on stdout
//         verify ALG KEYFILE AUD ISS         (token on stdin) -> JSON result
import { readFileSync } from "node:fs";
import { SignJWT, jwtVerify } from "jose";

const [cmd, alg, keyFile, a, b] = process.argv.slice(2);
const key = new Uint8Array(readFileSync(keyFile));
if (cmd === "sign") {
  const hdr = { alg, typ: "JWT" };
  if (b) hdr.kid = b;
  const tok = await new SignJWT(JSON.parse(a)).setProtectedHeader(hdr).sign(key);
  process.stdout.write(tok + "\n");
} else if (cmd === "verify") {
  const tok = readFileSync(0, "utf8").trim();
  try {
    const { payload } = await jwtVerify(tok, key, { algorithms: [alg], audience: a, issuer: b });
    process.stdout.write(JSON.stringify({ ok: true, payload }) + "\n");
  } catch (e) {
    process.stdout.write(JSON.stringify({ ok: false, code: e.code || e.name }) + "\n");
  }
} else {
  process.stderr.write("usage: jose_tool.mjs sign|verify ...\n");
  process.exit(2);
}
