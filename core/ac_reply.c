/*
 * Building the answer: status, upstream and response headers, cookies,
 * bodies (generic JSON errors, the login page), WWW-Authenticate,
 * Retry-After, the audit line and the decision as JSON.
 */
#include "ac_reply.h"
#include "ac_request_int.h"

const char *ac_reply_put(ac_decision *d, const char *s, size_t n)
{
	char *p;
	if (n > sizeof d->buf - d->buf_len)
		return NULL;
	p = d->buf + d->buf_len;
	memcpy(p, s, n);
	d->buf_len += n;
	return p;
}

void ac_reply_header_mode(ac_decision *d, ac_str name, const char *v,
    size_t vlen, ac_header_mode mode)
{
	size_t k = d->a.n_resp_headers;

	if (k >= AC_DECISION_HEADERS_MAX || v == NULL)
		return;
	d->a.resp_headers[k].name = name;
	d->a.resp_headers[k].value.ptr = v;
	d->a.resp_headers[k].value.len = vlen;
	d->a.resp_modes[k] = (uint8_t)mode;
	d->a.n_resp_headers++;
}

void ac_reply_header(ac_decision *d, const char *name, const char *v,
    size_t vlen)
{
	ac_str n;
	n.ptr = name;
	n.len = strlen(name);
	ac_reply_header_mode(d, n, v, vlen, AC_HDR_APPEND);
}

/* WWW-Authenticate per RFC 6750 section 3; error NULL when no credentials
 * were presented. */
void ac_reply_www_authenticate(ac_decision *d, const ac_policy *P,
    const char *error)
{
	size_t start = d->buf_len;
	ac_reply_put(d, "Bearer realm=\"", 14);
	ac_reply_put(d, P->realm.ptr, P->realm.len);
	ac_reply_put(d, "\"", 1);
	if (error != NULL) {
		ac_reply_put(d, ", error=\"", 9);
		ac_reply_put(d, error, strlen(error));
		ac_reply_put(d, "\"", 1);
	}
	ac_reply_header(d, "www-authenticate", d->buf + start, d->buf_len - start);
}

void ac_reply_respond(ac_decision *d, int status, ac_reason r)
{
	/* generic bodies: the reason code goes to the audit line only */
	static const struct { int status; const char *body; } bodies[] = {
		{ 400, "{\"error\":\"bad_request\"}" },
		{ 401, "{\"error\":\"unauthorized\"}" },
		{ 403, "{\"error\":\"forbidden\"}" },
		{ 413, "{\"error\":\"payload_too_large\"}" },
		{ 414, "{\"error\":\"uri_too_long\"}" },
		{ 429, "{\"error\":\"too_many_requests\"}" },
		{ 503, "{\"error\":\"unavailable\"}" },
	};
	const char *body = "{\"error\":\"server_error\"}";
	size_t i;

	for (i = 0; i < sizeof bodies / sizeof bodies[0]; i++)
		if (bodies[i].status == status)
			body = bodies[i].body;
	d->a.action = AC_RESPOND;
	d->a.status = status;
	d->a.reason = r;
	ac_reply_header(d, "content-type", "application/json", 16);
	ac_reply_header(d, "cache-control", "no-store", 8);
	d->a.body.ptr = body;
	d->a.body.len = strlen(body);
}

void ac_reply_upstream_header(ac_decision *d, ac_str name, const char *v, size_t n)
{
	if (d->a.n_add >= AC_DECISION_HEADERS_MAX)
		return;
	d->a.add[d->a.n_add].name = name;
	d->a.add[d->a.n_add].value.ptr = v;
	d->a.add[d->a.n_add].value.len = n;
	d->a.n_add++;
}

/* An identity value as upstreams will read it: HTTP parsers trim
 * surrounding whitespace and cannot carry control bytes, so a value with
 * either would reach the app as something other than what was checked.
 * Empty values are refused too (an empty user is nobody). */
int ac_reply_value_ok(const char *s, size_t n)
{
	size_t k;
	if (n == 0 || s[0] == ' ' || s[0] == '\t' || s[n - 1] == ' ' ||
	    s[n - 1] == '\t')
		return 0;
	for (k = 0; k < n; k++)
		if ((unsigned char)s[k] < 0x20 || s[k] == 0x7f)
			return 0;
	return 1;
}

/* Appends one scalar claim value (string decoded, number or boolean as
 * written) to the decision buffer; -1 if it is not a ac_reply_value_ok() or,
 * inside an array, holds a comma (which would forge a second element). */
static int put_scalar(ac_decision *d, aj_type t, ac_str raw, int in_array)
{
	if (t == AJ_STRING) {
		size_t l;
		char *dst = d->buf + d->buf_len;
		if (aj_str_decode(raw, dst, sizeof d->buf - d->buf_len, &l) < 0)
			return -1;
		if (!ac_reply_value_ok(dst, l) ||
		    (in_array && memchr(dst, ',', l) != NULL))
			return -1;
		d->buf_len += l;
		return 0;
	}
	if (t == AJ_NUMBER || t == AJ_TRUE || t == AJ_FALSE)
		return ac_reply_put(d, raw.ptr, raw.len) ? 0 : -1;
	return -1;
}

/* Forwards a claim as a header: scalars as text, arrays comma-joined.
 * Absent claims, nulls and objects add nothing. */
int ac_reply_claim_header(ac_decision *d, const ac_claim_header *C)
{
	aj_type t;
	ac_str raw;
	size_t start = d->buf_len;
	int r = ac_claim_find(d->jwt.payload, d->jwt.payload_len, C->claim, &t,
	    &raw);

	if (r <= 0 || t == AJ_NULL || t == AJ_OBJECT)
		return r < 0 ? -1 : 0;
	if (t == AJ_ARRAY) {
		size_t pos = 0, k = 0;
		aj_type et;
		ac_str e;
		while (aj_array_next(raw, &pos, &et, &e)) {
			if (k++ > 0 && !ac_reply_put(d, ",", 1))
				return -1;
			if (put_scalar(d, et, e, 1) < 0)
				return -1;
		}
	} else if (put_scalar(d, t, raw, 0) < 0) {
		return -1;
	}
	ac_reply_upstream_header(d, C->header, d->buf + start, d->buf_len - start);
	return 0;
}

/* The Cookie header without the consumed cookie, for the upstream. */
static void drop_cookie(ac_decision *d, const ac_request *req, ac_str name)
{
	static const ac_str cookie = { "cookie", 6 };
	size_t i, start = d->buf_len, n = 0;

	for (i = 0; i < req->n_headers; i++) {
		const ac_header *h = &req->headers[i];
		size_t p = 0;
		if (!ac_ascii_ieq(h->name.ptr, h->name.len, "cookie", 6))
			continue;
		while (p < h->value.len) {
			size_t e = p, eq;
			ac_str pair;
			while (e < h->value.len && h->value.ptr[e] != ';')
				e++;
			pair = ac_trim_ows(h->value.ptr + p, e - p);
			p = e + 1;
			for (eq = 0; eq < pair.len && pair.ptr[eq] != '='; eq++)
				;
			if (pair.len == 0 || (eq < pair.len &&
			    ac_str_eq(ac_trim_ows(pair.ptr, eq), name.ptr, name.len)))
				continue;
			if ((n++ > 0 && !ac_reply_put(d, "; ", 2)) ||
			    !ac_reply_put(d, pair.ptr, pair.len)) {
				d->buf_len = start; /* no room: drop them all */
				n = 0;
				break;
			}
		}
	}
	if (d->a.n_remove < AC_DECISION_HEADERS_MAX)
		d->a.remove[d->a.n_remove++] = cookie;
	if (n > 0)
		ac_reply_upstream_header(d, cookie, d->buf + start, d->buf_len - start);
}

/* The Sec-WebSocket-Protocol list without the entry that carried the
 * token, for the upstream: the other entries stay, so the upstream still
 * picks its subprotocol from them. The lines are replaced by one. */
static void drop_protocol(ac_decision *d, const ac_request *req,
    ac_str prefix)
{
	static const ac_str swp = { "sec-websocket-protocol", 22 };
	size_t hi = 0, pos = 0, start = d->buf_len, n = 0;
	ac_str v;

	while (ac_req_next_protocol(req, &hi, &pos, &v)) {
		if (v.len == 0 || (v.len >= prefix.len &&
		    memcmp(v.ptr, prefix.ptr, prefix.len) == 0))
			continue;
		if ((n++ > 0 && !ac_reply_put(d, ", ", 2)) ||
		    !ac_reply_put(d, v.ptr, v.len)) {
			d->buf_len = start; /* no room: drop them all */
			n = 0;
			break;
		}
	}
	if (d->a.n_remove < AC_DECISION_HEADERS_MAX)
		d->a.remove[d->a.n_remove++] = swp;
	if (n > 0)
		ac_reply_upstream_header(d, swp, d->buf + start, d->buf_len - start);
}

/* The target without the consumed query parameter; forwarded instead. */
static void drop_query_param(ac_decision *d, ac_str name)
{
	char *t = d->target;
	size_t len = d->a.path.len, q, p, o;

	for (q = 0; q < len && t[q] != '?'; q++)
		;
	if (q == len)
		return;
	o = q + 1;
	p = q + 1;
	while (p < len) {
		size_t e = p, eq;
		while (e < len && t[e] != '&')
			e++;
		for (eq = p; eq < e && t[eq] != '='; eq++)
			;
		if (!(eq - p == name.len && memcmp(t + p, name.ptr, name.len) == 0)) {
			if (o > q + 1)
				t[o++] = '&';
			memmove(t + o, t + p, e - p);
			o += e - p;
		}
		p = e + 1;
	}
	if (o == q + 1)
		o = q; /* no parameter left: no '?' */
	d->a.path.len = o;
	d->a.path_rewritten = 1;
}

/* The credential the core consumed does not go on to the upstream (a Basic
 * password, a bearer token, an API key, a session cookie), unless the
 * policy forwards credentials. */
void ac_reply_drop_credential(const ac_policy *P, const ac_request *req,
    ac_decision *d, int kind, ac_str name)
{
	if (P->forward_credentials)
		return;
	if (kind == 'H' && d->a.n_remove < AC_DECISION_HEADERS_MAX)
		d->a.remove[d->a.n_remove++] = name;
	else if (kind == 'C')
		drop_cookie(d, req, name);
	else if (kind == 'Q')
		drop_query_param(d, name);
	else if (kind == 'P')
		drop_protocol(d, req, name);
}

/* What happened, for the audit line: the request went upstream (allow),
 * was refused or challenged (deny), was answered by the core itself
 * (respond: the login page, whoami), started a session (login) or ended
 * one (logout), or waits for a password check (pending). */
static const char *audit_action(const ac_decision *d)
{
	if (d->a.action == AC_ALLOW)
		return "allow";
	if (d->a.action == AC_PENDING)
		return "pending";
	if (d->a.reason == AC_LOGGED_OUT)
		return "logout";
	if (d->a.reason == AC_CORS_PREFLIGHT)
		return "respond";
	if (d->a.status >= 400 || (d->a.reason != AC_OK && d->a.reason != AC_PUBLIC))
		return "deny";
	if (d->a.reason == AC_OK && ac_str_eq(d->a.auth_method, "password", 8))
		return "login";
	return "respond";
}

/* The request target for the audit line: values of query parameters that
 * carry tokens are replaced, so a token never reaches a log. */
static size_t audit_target(const ac_policy *P, ac_str t, char *out,
    size_t cap)
{
	const char *q = memchr(t.ptr, '?', t.len);
	size_t o, p, i;

	if (q == NULL || P == NULL) {
		o = t.len < cap ? t.len : cap;
		memcpy(out, t.ptr, o);
		return o;
	}
	o = (size_t)(q - t.ptr) + 1;
	if (o > cap)
		o = cap;
	memcpy(out, t.ptr, o);
	p = (size_t)(q - t.ptr) + 1;
	while (p < t.len && o < cap) {
		size_t e = p, eq;
		int secret = 0;
		while (e < t.len && t.ptr[e] != '&')
			e++;
		for (eq = p; eq < e && t.ptr[eq] != '='; eq++)
			;
		for (i = 0; i < P->n_sources; i++)
			if (P->sources[i].kind == 'Q' &&
			    eq - p == P->sources[i].name.len &&
			    memcmp(t.ptr + p, P->sources[i].name.ptr, eq - p) == 0)
				secret = 1;
		if (secret) {
			size_t n = eq - p + 1;
			static const char red[] = "=REDACTED";
			if (o + n + 8 > cap)
				break;
			memcpy(out + o, t.ptr + p, eq - p);
			o += eq - p;
			memcpy(out + o, red, sizeof red - 1);
			o += sizeof red - 1;
		} else {
			size_t n = e - p < cap - o ? e - p : cap - o;
			memcpy(out + o, t.ptr + p, n);
			o += n;
		}
		if (e < t.len && o < cap)
			out[o++] = '&';
		p = e + 1;
	}
	return o;
}

/* Whether the decision gets an audit line: every answer but an allow
 * does, and so does an allow decided without its rate limits (the store
 * failed and on_store_error said "allow") or with the host's own store in
 * place of the shared one ("local"); any other allow as the
 * policy's "audit.allowed" says, sampled with the
 * decision's own entropy (its last 4 bytes), so no counter is kept and
 * a host passing no entropy gets every line. */
int ac_reply_audited(const ac_policy *P, const ac_decision *d,
    const uint8_t *entropy, size_t entropy_len)
{
	uint32_t r;

	if (d->a.action != AC_ALLOW || P->audit_allowed >= 1000000u ||
	    d->store.failed != AC_OK || d->store.fell_back)
		return 1;
	if (P->audit_allowed == 0)
		return 0;
	if (entropy == NULL || entropy_len < 4)
		return 1;
	entropy += entropy_len - 4;
	r = (uint32_t)entropy[0] << 24 | (uint32_t)entropy[1] << 16 |
	    (uint32_t)entropy[2] << 8 | entropy[3];
	return (uint32_t)(((uint64_t)r * 1000000u) >> 32) < P->audit_allowed;
}

/* One JSON line per audited decision. Attacker-chosen fields get output budgets
 * that fit AC_AUDIT_MAX together whatever they hold, so hostile requests are
 * always logged (cut short and marked, never dropped). Credentials never
 * appear: no cookies, no Authorization, no token query values. */
void ac_reply_audit(const ac_policy *P, ac_decision *d, const ac_request *req,
    int64_t now)
{
	aj_writer w = { d->audit_buf, sizeof d->audit_buf, 0, 0 };
	char target[416];
	size_t tlen;
	int cut;

	aj_w_lit(&w, "{\"ts\":");
	aj_w_int(&w, now);
	aj_w_lit(&w, ",\"event\":\"authcore.decision\",\"action\":\"");
	aj_w_lit(&w, audit_action(d));
	aj_w_lit(&w, "\",\"status\":");
	aj_w_int(&w, d->a.status);
	aj_w_lit(&w, ",\"reason\":\"");
	aj_w_lit(&w, ac_reason_name(d->a.reason));
	aj_w_lit(&w, "\",\"method\":");
	(void)aj_w_str_max(&w, req->method.ptr, req->method.len, 32);
	aj_w_lit(&w, ",\"path\":");
	tlen = audit_target(P, d->a.path, target, sizeof target);
	cut = aj_w_str_max(&w, target, tlen, 400) || d->a.path.len > tlen;
	if (cut)
		aj_w_lit(&w, ",\"path_truncated\":true");
	aj_w_lit(&w, ",\"client_ip\":");
	(void)aj_w_str_max(&w, d->a.client.ptr, d->a.client.len, 64);
	if (d->a.auth_method.len) {
		aj_w_lit(&w, ",\"auth\":\"");
		aj_w_raw(&w, d->a.auth_method.ptr, d->a.auth_method.len);
		aj_w_lit(&w, "\"");
	}
	aj_w_lit(&w, ",\"user\":");
	if (d->a.user.ptr != NULL)
		(void)aj_w_str_max(&w, d->a.user.ptr, d->a.user.len, 256);
	else
		aj_w_lit(&w, "null");
	if (d->store.failed != AC_OK && d->a.reason != d->store.failed) {
		/* decided without the limits (on_store_error "allow") */
		aj_w_lit(&w, ",\"store\":\"");
		aj_w_lit(&w, ac_reason_name(d->store.failed));
		aj_w_lit(&w, "\"");
	} else if (d->store.fell_back) {
		/* the shared store failed: counted in the host's own */
		aj_w_lit(&w, ",\"store\":\"store_unavailable\",\"store_fallback\":\"local\"");
	}
	if (d->login_user.ptr != NULL && d->a.user.ptr == NULL) {
		aj_w_lit(&w, ",\"login_user\":");
		(void)aj_w_str_max(&w, d->login_user.ptr, d->login_user.len, 128);
	}
	aj_w_lit(&w, "}");
	d->a.audit = d->audit_buf;
	d->a.audit_len = w.overflow ? 0 : w.len;
}

static void w_headers_obj(aj_writer *w, const ac_header *h, size_t n)
{
	size_t i;
	aj_w_lit(w, "{");
	for (i = 0; i < n; i++) {
		if (i)
			aj_w_lit(w, ",");
		aj_w_str(w, h[i].name.ptr, h[i].name.len);
		aj_w_lit(w, ":");
		aj_w_str(w, h[i].value.ptr, h[i].value.len);
	}
	aj_w_lit(w, "}");
}

size_t ac_decision_json(const ac_decision *d, char *out, size_t cap)
{
	aj_writer w = { out, cap, 0, 0 };
	size_t i;

	aj_w_lit(&w, "{\"action\":");
	aj_w_lit(&w, d->a.action == AC_ALLOW ? "\"allow\"" :
	    d->a.action == AC_PENDING ? "\"pending\"" : "\"respond\"");
	aj_w_lit(&w, ",\"status\":");
	aj_w_int(&w, d->a.status);
	aj_w_lit(&w, ",\"reason\":\"");
	aj_w_lit(&w, ac_reason_name(d->a.reason));
	aj_w_lit(&w, "\",\"remove\":[");
	for (i = 0; i < d->a.n_remove; i++) {
		if (i)
			aj_w_lit(&w, ",");
		aj_w_str(&w, d->a.remove[i].ptr, d->a.remove[i].len);
	}
	aj_w_lit(&w, "],\"add\":");
	w_headers_obj(&w, d->a.add, d->a.n_add);
	/* response headers as [name, value] pairs (Set-Cookie repeats), a
	 * third element naming the mode when it is not append */
	aj_w_lit(&w, ",\"headers\":[");
	for (i = 0; i < d->a.n_resp_headers; i++) {
		if (i)
			aj_w_lit(&w, ",");
		aj_w_lit(&w, "[");
		aj_w_str(&w, d->a.resp_headers[i].name.ptr,
		    d->a.resp_headers[i].name.len);
		aj_w_lit(&w, ",");
		aj_w_str(&w, d->a.resp_headers[i].value.ptr,
		    d->a.resp_headers[i].value.len);
		if (d->a.resp_modes[i] == AC_HDR_SET)
			aj_w_lit(&w, ",\"set\"");
		else if (d->a.resp_modes[i] == AC_HDR_SET_IF_ABSENT)
			aj_w_lit(&w, ",\"set_if_absent\"");
		aj_w_lit(&w, "]");
	}
	aj_w_lit(&w, "]");
	aj_w_lit(&w, ",\"body\":");
	aj_w_str(&w, d->a.body.ptr, d->a.body.len);
	aj_w_lit(&w, ",\"user\":");
	if (d->a.user.ptr != NULL)
		aj_w_str(&w, d->a.user.ptr, d->a.user.len);
	else
		aj_w_lit(&w, "null");
	if (d->a.lease_len) {
		static const char hex[] = "0123456789abcdef";
		aj_w_lit(&w, ",\"lease\":\"");
		for (i = 0; i < d->a.lease_len; i++) {
			char x[2] = { hex[d->a.lease[i] >> 4],
			    hex[d->a.lease[i] & 15] };
			aj_w_raw(&w, x, 2);
		}
		aj_w_lit(&w, "\"");
	}
	aj_w_lit(&w, ",\"audit\":");
	if (d->a.audit_len)
		aj_w_raw(&w, d->a.audit, d->a.audit_len);
	else
		aj_w_lit(&w, "null");
	aj_w_lit(&w, "}");
	return w.overflow ? 0 : w.len;
}

/* Appends text to the decision buffer, HTML-escaped. */
void ac_reply_html(ac_decision *d, const char *s, size_t n)
{
	size_t i;
	for (i = 0; i < n; i++) {
		const char *e = NULL;
		switch (s[i]) {
		case '&': e = "&amp;"; break;
		case '<': e = "&lt;"; break;
		case '>': e = "&gt;"; break;
		case '"': e = "&quot;"; break;
		case '\'': e = "&#39;"; break;
		default: break;
		}
		if (e != NULL)
			ac_reply_put(d, e, strlen(e));
		else
			ac_reply_put(d, s + i, 1);
	}
}

void ac_reply_lit(ac_decision *d, const char *s)
{
	ac_reply_put(d, s, strlen(s));
}

/* Percent-encodes everything but RFC 3986 unreserved characters and '/'. */
void ac_reply_pct(ac_decision *d, const char *s, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t i;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
		    c == '~' || c == '/') {
			ac_reply_put(d, s + i, 1);
		} else {
			char e[3] = { '%', hex[c >> 4], hex[c & 15] };
			ac_reply_put(d, e, 3);
		}
	}
}

/* A redirect target as a header value: bytes a URI may not hold raw
 * (non-ASCII, spaces, quotes, <>\^`{|}) percent-encoded, everything else
 * (the path and query structure, '%' escapes already there) as it is. */
ac_str ac_reply_location(ac_decision *d, ac_str next)
{
	static const char hex[] = "0123456789ABCDEF";
	ac_str out;
	size_t start = d->buf_len, i;

	for (i = 0; i < next.len; i++) {
		unsigned char c = (unsigned char)next.ptr[i];
		if (c < 0x21 || c >= 0x7f || strchr("\"<>\\^`{|}", c) != NULL) {
			char e[3] = { '%', hex[c >> 4], hex[c & 15] };
			ac_reply_put(d, e, 3);
		} else {
			ac_reply_put(d, next.ptr + i, 1);
		}
	}
	out.ptr = d->buf + start;
	out.len = d->buf_len - start;
	return out;
}

/* A JSON writer over the free end of the decision buffer (the caller adds
 * w.len to buf_len when done). */
aj_writer ac_reply_writer(ac_decision *d)
{
	aj_writer w;
	w.p = d->buf + d->buf_len;
	w.cap = sizeof d->buf - d->buf_len;
	w.len = 0;
	w.overflow = 0;
	return w;
}

static void put_num(ac_decision *d, int64_t v)
{
	char tmp[24];
	aj_writer w = { tmp, sizeof tmp, 0, 0 };
	aj_w_int(&w, v);
	ac_reply_put(d, tmp, w.len);
}

void ac_reply_header_str(ac_decision *d, const char *name, ac_str v)
{
	ac_reply_header(d, name, v.ptr, v.len);
}

static const char PAGE_HEAD[] =
    "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
    "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
    "<title>Sign in - ";
static const char PAGE_STYLE[] =
    "</title><style>"
    "body{font-family:system-ui,sans-serif;background:#f3f4f6;margin:0;"
    "display:flex;min-height:100vh;align-items:center;justify-content:center}"
    "main{background:#fff;padding:2rem;border-radius:8px;width:100%;"
    "max-width:22rem;box-shadow:0 1px 4px rgba(0,0,0,.2)}"
    "h1{font-size:1.4rem;margin:0 0 1rem}"
    "label{display:block;margin:.9rem 0 .3rem;font-weight:600}"
    "input{width:100%;box-sizing:border-box;padding:.55rem;font-size:1rem;"
    "border:1px solid #6b7280;border-radius:4px}"
    "input:focus,button:focus{outline:3px solid #1d4ed8;outline-offset:2px}"
    "button{margin-top:1.3rem;width:100%;padding:.65rem;font-size:1rem;"
    "background:#1d4ed8;color:#fff;border:0;border-radius:4px;cursor:pointer}"
    "#login-error{color:#b91c1c;margin:0 0 .5rem}"
    "a.sso{display:block;margin-top:1rem;padding:.65rem;text-align:center;"
    "border:1px solid #1d4ed8;border-radius:4px;color:#1d4ed8;"
    "text-decoration:none}"
    "</style></head><body><main><h1>Sign in to ";
static const char PAGE_FORM[] =
    "<input type=\"hidden\" name=\"next\" value=\"";
static const char PAGE_USER[] =
    "\"><label for=\"username\">Username</label>"
    "<input id=\"username\" name=\"username\" autocomplete=\"username\" "
    "autocapitalize=\"none\" spellcheck=\"false\" required value=\"";
static const char PAGE_PASSWORD[] =
    "><label for=\"password\">Password</label>"
    "<input id=\"password\" name=\"password\" type=\"password\" "
    "autocomplete=\"current-password\" required";
static const char PAGE_SUBMIT[] =
    "><button type=\"submit\">Sign in</button></form>";
static const char PAGE_TAIL[] = "</main></body></html>\n";

static void page_headers(ac_decision *d)
{
	static const char csp[] = "default-src 'none'; style-src 'unsafe-inline'; "
	    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'";
	ac_reply_header(d, "content-type", "text/html; charset=utf-8", 24);
	ac_reply_header(d, "cache-control", "no-store", 8);
	ac_reply_header(d, "content-security-policy", csp, sizeof csp - 1);
	/* X-Frame-Options, X-Content-Type-Options, Referrer-Policy (and HSTS
	 * over https) come from the policy's security headers, as on every
	 * answer (core/ac_https.c) */
	d->page = 1;
}

/* The page; `user` (may be empty) refills the username field after a
 * failed attempt, and the password field has the focus. */
void ac_reply_login_page(const ac_policy *P, ac_decision *d, int status,
    ac_reason r, ac_str action, ac_str next, ac_str user, const char *error)
{
	size_t start, i;

	d->a.action = AC_RESPOND;
	d->a.status = status;
	d->a.reason = r;
	start = d->buf_len;
	ac_reply_lit(d, PAGE_HEAD);
	ac_reply_html(d, P->title.ptr, P->title.len);
	ac_reply_lit(d, PAGE_STYLE);
	ac_reply_html(d, P->title.ptr, P->title.len);
	ac_reply_lit(d, "</h1>");
	if (error != NULL)
		ac_reply_lit(d, "<p id=\"login-error\" role=\"alert\">");
	if (error != NULL) {
		ac_reply_lit(d, error);
		ac_reply_lit(d, "</p>");
	}
	if (P->password_login) {
		ac_reply_lit(d, "<form method=\"post\" action=\"");
		ac_reply_html(d, action.ptr, action.len);
		ac_reply_lit(d, error != NULL ?
		    "\" aria-describedby=\"login-error\">" : "\">");
		ac_reply_lit(d, PAGE_FORM);
		ac_reply_html(d, next.ptr, next.len);
		ac_reply_lit(d, PAGE_USER);
		ac_reply_html(d, user.ptr, user.len);
		/* the focus goes to the first field still to fill in */
		ac_reply_lit(d, user.len ? "\"" : "\" autofocus");
		ac_reply_lit(d, PAGE_PASSWORD);
		ac_reply_lit(d, user.len ? " autofocus" : "");
		ac_reply_lit(d, PAGE_SUBMIT);
	}
	/* one link per OpenID provider, carrying `next` */
	for (i = 0; i < P->n_oidc; i++) {
		ac_reply_lit(d, "<p><a class=\"sso\" href=\"");
		ac_reply_html(d, P->prefix.ptr, P->prefix.len);
		ac_reply_lit(d, "/auth/oidc/");
		ac_reply_html(d, P->oidc[i].name.ptr, P->oidc[i].name.len);
		if (next.len) {
			size_t at = d->buf_len, n;
			char tmp[AC_NEXT_MAX * 3];
			ac_reply_lit(d, "?next=");
			ac_reply_pct(d, next.ptr, next.len);
			n = d->buf_len - at;
			if (n <= sizeof tmp) {
				memcpy(tmp, d->buf + at, n);
				d->buf_len = at;
				ac_reply_html(d, tmp, n);
			}
		}
		ac_reply_lit(d, "\">");
		ac_reply_html(d, P->oidc[i].label.ptr, P->oidc[i].label.len);
		ac_reply_lit(d, "</a></p>");
	}
	ac_reply_lit(d, PAGE_TAIL);
	d->a.body.ptr = d->buf + start;
	d->a.body.len = d->buf_len - start;
	page_headers(d);
}

void ac_reply_json(ac_decision *d, int status, ac_reason r,
    const char *body)
{
	d->a.action = AC_RESPOND;
	d->a.status = status;
	d->a.reason = r;
	d->a.body.ptr = body;
	d->a.body.len = strlen(body);
	ac_reply_header(d, "content-type", "application/json", 16);
	ac_reply_header(d, "cache-control", "no-store", 8);
}

void ac_reply_cookie(const ac_policy *P, const ac_request *req,
    ac_decision *d, ac_str name, const char *val, size_t vlen,
    int64_t max_age, int http_only)
{
	size_t start = d->buf_len;

	ac_reply_put(d, name.ptr, name.len);
	ac_reply_lit(d, "=");
	ac_reply_put(d, val, vlen);
	ac_reply_lit(d, "; Path=");
	if (P->prefix.len)
		ac_reply_put(d, P->prefix.ptr, P->prefix.len);
	else
		ac_reply_lit(d, "/");
	ac_reply_lit(d, "; Max-Age=");
	put_num(d, max_age);
	if (http_only)
		ac_reply_lit(d, "; HttpOnly");
	ac_reply_lit(d, "; SameSite=Strict");
	if (req->https)
		ac_reply_lit(d, "; Secure");
	ac_reply_header(d, "set-cookie", d->buf + start, d->buf_len - start);
}

void ac_reply_retry_after(ac_decision *d, int64_t secs)
{
	size_t start = d->buf_len;
	put_num(d, secs);
	ac_reply_header(d, "retry-after", d->buf + start, d->buf_len - start);
}

/* WWW-Authenticate: Basic (RFC 7617), with the UTF-8 charset parameter. */
void ac_reply_basic_challenge(const ac_policy *P, ac_decision *d)
{
	size_t start = d->buf_len;
	ac_reply_lit(d, "Basic realm=\"");
	ac_reply_put(d, P->realm.ptr, P->realm.len);
	ac_reply_lit(d, "\", charset=\"UTF-8\"");
	ac_reply_header(d, "www-authenticate", d->buf + start,
	    d->buf_len - start);
}
