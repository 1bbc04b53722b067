// Node server of the request-confusion corpus:
//   node edge_node.mjs PKG_DIR POLICY UPSTREAM
// node:http turned into Fetch Requests (the request target parsed as a URL,
// as every Fetch-based host does), authcore's serve() in front of UPSTREAM,
// the answer written back. Prints "listening <port>".
import { createServer } from "node:http";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { forwardTo } from "./edge_forward.mjs";

const [pkg, policyPath, upstream] = process.argv.slice(2);
const { createAuth } = await import(join(pkg, "authcore.mjs"));
const auth = await createAuth(readFileSync(policyPath, "utf8"), {
  module: readFileSync(join(pkg, "authcore.wasm")), env: {},
});
const forward = forwardTo(upstream);

const server = createServer(async (req, res) => {
  try {
    const chunks = [];
    for await (const c of req) chunks.push(c);
    const headers = new Headers();
    for (let i = 0; i < req.rawHeaders.length; i += 2) headers.append(req.rawHeaders[i], req.rawHeaders[i + 1]);
    const init = { method: req.method, headers };
    if (chunks.length && req.method !== "GET" && req.method !== "HEAD") init.body = Buffer.concat(chunks);
    const request = new Request("http://" + (req.headers.host || "127.0.0.1") + req.url, init);
    const resp = await auth.serve(request, forward, { clientIp: req.socket.remoteAddress ?? "" });
    const body = Buffer.from(await resp.arrayBuffer());
    const out = [];
    for (const [n, v] of resp.headers) {
      if (n !== "content-length" && n !== "transfer-encoding" && n !== "content-encoding") out.push(n, v);
    }
    res.writeHead(resp.status, out);
    res.end(req.method === "HEAD" ? undefined : body);
  } catch (e) {
    res.writeHead(502, { "content-type": "text/plain" });
    res.end("edge_node: " + String(e && e.message));
  }
});
server.listen(0, "127.0.0.1", () => console.log(`listening ${server.address().port}`));
