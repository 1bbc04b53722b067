// The upstream call of the edge hosts in the request-confusion corpus: what
// auth.serve() hands on (the request with its identity headers) goes to the
// real upstream by fetch, at the same path and query, method, headers and
// body, redirects not followed.
export function forwardTo(upstream) {
  return async (req) => {
    const u = new URL(req.url);
    const init = { method: req.method, headers: req.headers, redirect: "manual" };
    if (req.method !== "GET" && req.method !== "HEAD" && req.body) {
      init.body = await req.arrayBuffer();
    }
    return fetch(upstream + u.pathname + u.search, init);
  };
}
