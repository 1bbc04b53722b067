/*
 * CORS: preflights answered by the core, before any credential is asked
 * for (a browser never sends credentials with a preflight), and the
 * origin echoed on the answers to the requests it allowed.
 *
 * An origin is allowed when it is listed exactly, matches a listed
 * pattern: scheme, "://", "*.", then a domain and optional port (one or
 * more DNS labels in place of the '*', never none), or the list holds "*" (never with credentials:
 * the loader refuses that). A request from any other origin goes on as
 * it would without "cors": its answer carries no Access-Control-* header,
 * so the browser keeps it from the page.
 */
#include "ac_reply.h"
#include "ac_request_int.h"
#include "ac_traffic.h"

/* 1 if `origin` matches a pattern scheme "://" "*." rest (checked at load):
 * same scheme, one or more labels of letters, digits and '-' joined by
 * '.', then exactly ".rest". */
static int pattern_match(ac_str pat, ac_str origin)
{
	const char *star = memchr(pat.ptr, '*', pat.len);
	size_t head = (size_t)(star - pat.ptr); /* "scheme://" */
	size_t tail = pat.len - head - 1;       /* ".rest" */
	size_t i, mid;

	if (origin.len <= head + tail ||
	    !ac_ascii_ieq(origin.ptr, head, pat.ptr, head) ||
	    !ac_ascii_ieq(origin.ptr + origin.len - tail, tail, star + 1, tail))
		return 0;
	mid = origin.len - head - tail;
	for (i = 0; i < mid; i++) {
		char ch = origin.ptr[head + i];
		int dot = ch == '.';
		if (dot && (i == 0 || origin.ptr[head + i - 1] == '.'))
			return 0;
		if (!dot && !((ch >= '0' && ch <= '9') ||
		    ((ch | 0x20) >= 'a' && (ch | 0x20) <= 'z') || ch == '-'))
			return 0;
	}
	return origin.ptr[head + mid - 1] != '.';
}

/* The request's Origin when the policy allows it: 1 (and *origin), else
 * 0 (absent, repeated, "null", or not allowed). */
static int allowed_origin(const ac_cors_policy *C, const ac_request *req,
    ac_str *origin)
{
	size_t i;

	if (ac_req_header(req, "origin", origin) != 1 || origin->len == 0 ||
	    ac_req_has_ctl(*origin) || ac_str_eq(*origin, "null", 4))
		return 0;
	for (i = 0; i < C->n_origins; i++) {
		ac_str o = C->origins[i];
		if (ac_str_eq(o, "*", 1))
			return 1;
		if (memchr(o.ptr, '*', o.len) != NULL ?
		    pattern_match(o, *origin) :
		    ac_ascii_ieq(o.ptr, o.len, origin->ptr, origin->len))
			return 1;
	}
	return 0;
}

/* 1 if every name of the comma-separated list is one of `names` (lower
 * case, from the policy) in any case. */
static int headers_allowed(const ac_cors_policy *C, ac_str list)
{
	size_t p = 0;

	while (p < list.len) {
		size_t e = p, k;
		ac_str n;
		int ok = 0;
		while (e < list.len && list.ptr[e] != ',')
			e++;
		n = ac_trim_ows(list.ptr + p, e - p);
		p = e + 1;
		if (n.len == 0)
			continue;
		for (k = 0; k < C->n_headers && !ok; k++)
			ok = ac_ascii_ieq(C->headers[k].ptr, C->headers[k].len,
			    n.ptr, n.len);
		if (!ok)
			return 0;
	}
	return 1;
}

/* ACAO: the origin itself, or "*" when any origin is allowed without
 * credentials (the answer is then the same for every origin). */
static void allow_origin(const ac_cors_policy *C, ac_decision *d,
    ac_str origin, ac_header_mode mode)
{
	static const ac_str acao = { "access-control-allow-origin", 27 };
	static const ac_str acac = { "access-control-allow-credentials",
		32 };
	const char *v = origin.ptr;
	size_t n = origin.len;
	size_t i;

	for (i = 0; i < C->n_origins && !C->credentials; i++)
		if (ac_str_eq(C->origins[i], "*", 1)) {
			v = "*";
			n = 1;
		}
	if (v == origin.ptr) {
		const char *copy = ac_reply_put(d, origin.ptr, origin.len);
		if (copy == NULL)
			return;
		v = copy;
	}
	ac_reply_header_mode(d, acao, v, n, mode);
	if (C->credentials)
		ac_reply_header_mode(d, acac, "true", 4, mode);
}

int ac_stage_cors(ac_ctx *c)
{
	static const ac_str acam = { "access-control-allow-methods", 28 };
	static const ac_str acah = { "access-control-allow-headers", 28 };
	static const ac_str acma = { "access-control-max-age", 22 };
	static const char vary[] = "Origin, Access-Control-Request-Method, "
	    "Access-Control-Request-Headers";
	const ac_cors_policy *C = &c->P->cors;
	ac_decision *d = c->d;
	ac_str origin, method, hdrs;
	int rh;

	if (!C->on || !ac_str_eq(c->req.method, "OPTIONS", 7) ||
	    ac_req_header(&c->req, "access-control-request-method",
	    &method) == 0 || ac_req_header(&c->req, "origin", &origin) == 0)
		return AC_STAGE_NEXT;
	/* a preflight: answered here, whatever the path */
	rh = ac_req_header(&c->req, "access-control-request-headers", &hdrs);
	if (!allowed_origin(C, &c->req, &origin) ||
	    ac_req_header(&c->req, "access-control-request-method",
	    &method) != 1 || rh < 0 ||
	    !(ac_str_in_list(C->methods, C->n_methods, method) ||
	    ac_str_eq(method, "GET", 3) || ac_str_eq(method, "HEAD", 4) ||
	    ac_str_eq(method, "POST", 4)) ||
	    (rh == 1 && !headers_allowed(C, hdrs))) {
		ac_reply_respond(d, 403, AC_CORS_DENIED);
		ac_reply_header(d, "vary", "Origin", 6);
		return AC_STAGE_DONE;
	}
	d->a.action = AC_RESPOND;
	d->a.status = 204;
	d->a.reason = AC_CORS_PREFLIGHT;
	d->a.body.ptr = "";
	d->a.body.len = 0;
	allow_origin(C, d, origin, AC_HDR_APPEND);
	if (C->allow_methods.ptr != NULL)
		ac_reply_header_mode(d, acam, C->allow_methods.ptr,
		    C->allow_methods.len, AC_HDR_APPEND);
	if (C->allow_headers.ptr != NULL)
		ac_reply_header_mode(d, acah, C->allow_headers.ptr,
		    C->allow_headers.len, AC_HDR_APPEND);
	if (C->max_age.ptr != NULL)
		ac_reply_header_mode(d, acma, C->max_age.ptr, C->max_age.len,
		    AC_HDR_APPEND);
	ac_reply_header(d, "vary", vary, sizeof vary - 1);
	ac_reply_header(d, "cache-control", "no-store", 8);
	return AC_STAGE_DONE;
}

void ac_finish_cors(ac_ctx *c)
{
	static const ac_str aceh = { "access-control-expose-headers", 29 };
	const ac_cors_policy *C = &c->P->cors;
	ac_decision *d = c->d;
	ac_str origin;

	if (!C->on || d->a.reason == AC_CORS_PREFLIGHT ||
	    d->a.reason == AC_CORS_DENIED)
		return;
	/* the answer depends on Origin, whichever it was: caches must key
	 * on it */
	ac_reply_header(d, "vary", "Origin", 6);
	if (!allowed_origin(C, &c->req, &origin))
		return;
	/* the core decides who may read the answer: an upstream's own
	 * Access-Control-* values are replaced */
	allow_origin(C, d, origin, AC_HDR_SET);
	if (C->expose.ptr != NULL)
		ac_reply_header_mode(d, aceh, C->expose.ptr, C->expose.len,
		    AC_HDR_SET);
}
