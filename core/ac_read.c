/*
 * Reading the request: headers, cookies, query parameters, and the form or
 * JSON body of a login post. Nothing here decides: each reader says what
 * it found, none, or that the request is ambiguous.
 */
#include "ac_request_int.h"

static int is_b64token_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
	    c == '~' || c == '+' || c == '/' || c == '=';
}

int ac_req_token_ok(ac_str t)
{
	size_t j;
	if (t.len == 0)
		return 0;
	/* RFC 6750 b64token; a comma means two credentials were folded
	 * into one header line */
	for (j = 0; j < t.len; j++)
		if (!is_b64token_char((unsigned char)t.ptr[j]))
			return 0;
	return 1;
}


/* Header source: 0 none, 1 found, -1 ambiguous or malformed. */
int ac_req_source_header(const ac_request *req, const ac_source *S, ac_str *tok)
{
	size_t i, seen = 0;
	int found = 0;

	for (i = 0; i < req->n_headers; i++) {
		const ac_header *h = &req->headers[i];
		ac_str v;
		if (!ac_ascii_ieq(h->name.ptr, h->name.len, S->name.ptr,
		    S->name.len))
			continue;
		if (++seen > 1)
			return -1;
		v = ac_trim_ows(h->value.ptr, h->value.len);
		if (S->prefix.len > 0) {
			size_t sp = 0;
			while (sp < v.len && v.ptr[sp] != ' ')
				sp++;
			if (!ac_ascii_ieq(v.ptr, sp, S->prefix.ptr, S->prefix.len))
				continue; /* another scheme: not this source */
			v = ac_trim_ows(v.ptr + sp, v.len - sp);
		}
		if (!ac_req_token_ok(v))
			return -1;
		*tok = v;
		found = 1;
	}
	return found;
}

/* Cookie source (RFC 6265 cookie-string, names case-sensitive). */
/* Iterates the values of cookie `name` (case-sensitive, RFC 6265) across
 * every Cookie header line: *hi and *pos start at 0. Returns 1 with the
 * value (surrounding quotes removed), 0 at the end. */
int ac_req_next_cookie(const ac_request *req, ac_str name, size_t *hi,
    size_t *pos, ac_str *val)
{
	for (; *hi < req->n_headers; (*hi)++, *pos = 0) {
		const ac_header *h = &req->headers[*hi];
		if (!ac_ascii_ieq(h->name.ptr, h->name.len, "cookie", 6))
			continue;
		while (*pos < h->value.len) {
			size_t p = *pos, e = p, eq;
			ac_str pair, v;
			while (e < h->value.len && h->value.ptr[e] != ';')
				e++;
			*pos = e + 1;
			pair = ac_trim_ows(h->value.ptr + p, e - p);
			for (eq = 0; eq < pair.len && pair.ptr[eq] != '='; eq++)
				;
			if (eq == pair.len ||
			    !ac_str_eq(ac_trim_ows(pair.ptr, eq), name.ptr, name.len))
				continue;
			v = ac_trim_ows(pair.ptr + eq + 1, pair.len - eq - 1);
			if (v.len >= 2 && v.ptr[0] == '"' &&
			    v.ptr[v.len - 1] == '"') {
				v.ptr++;
				v.len -= 2;
			}
			*val = v;
			return 1;
		}
	}
	return 0;
}

/* Cookie source: 0 none, 1 found, -1 ambiguous or malformed. */
int ac_req_source_cookie(const ac_request *req, const ac_source *S, ac_str *tok)
{
	size_t hi = 0, pos = 0, seen = 0;
	ac_str v;

	while (ac_req_next_cookie(req, S->name, &hi, &pos, &v)) {
		/* the same cookie twice (path or domain variants) is
		 * ambiguous: refuse rather than guess */
		if (++seen > 1 || !ac_req_token_ok(v))
			return -1;
		*tok = v;
	}
	return seen ? 1 : 0;
}

int ac_req_cookie(const ac_request *req, ac_str name, ac_str *val)
{
	ac_source src;
	memset(&src, 0, sizeof src);
	src.kind = 'C';
	src.name = name;
	return ac_req_source_cookie(req, &src, val);
}

int ac_req_header(const ac_request *req, const char *name, ac_str *val)
{
	size_t i, seen = 0;
	for (i = 0; i < req->n_headers; i++) {
		const ac_header *h = &req->headers[i];
		if (!ac_ascii_ieq(h->name.ptr, h->name.len, name, strlen(name)))
			continue;
		if (++seen > 1)
			return -1;
		*val = ac_trim_ows(h->value.ptr, h->value.len);
	}
	return seen ? 1 : 0;
}

int ac_req_source_query(const ac_request *req, const ac_source *S, ac_str *tok)
{
	const char *q = memchr(req->path.ptr, '?', req->path.len);
	size_t p, n, seen = 0;

	if (q == NULL)
		return 0;
	p = (size_t)(q - req->path.ptr) + 1;
	n = req->path.len;
	while (p < n) {
		size_t e = p, eq;
		while (e < n && req->path.ptr[e] != '&')
			e++;
		for (eq = p; eq < e && req->path.ptr[eq] != '='; eq++)
			;
		if (eq - p == S->name.len &&
		    memcmp(req->path.ptr + p, S->name.ptr, S->name.len) == 0) {
			ac_str v = { req->path.ptr + eq + 1,
				eq < e ? e - eq - 1 : 0 };
			if (++seen > 1 || !ac_req_token_ok(v))
				return -1;
			*tok = v;
		}
		p = e + 1;
	}
	return seen ? 1 : 0;
}

/* Walks the entries of every Sec-WebSocket-Protocol line (RFC 6455
 * 4.1/11.3.4: comma-separated tokens; several lines are one list): *hi
 * and *pos start at 0. 1 with the next entry (OWS trimmed; may be empty),
 * 0 at the end. */
int ac_req_next_protocol(const ac_request *req, size_t *hi, size_t *pos,
    ac_str *entry)
{
	for (; *hi < req->n_headers; (*hi)++, *pos = 0) {
		const ac_header *h = &req->headers[*hi];
		size_t p = *pos, e;
		if (!ac_ascii_ieq(h->name.ptr, h->name.len,
		    "sec-websocket-protocol", 22) || p > h->value.len)
			continue;
		for (e = p; e < h->value.len && h->value.ptr[e] != ','; e++)
			;
		*pos = e + 1;
		*entry = ac_trim_ows(h->value.ptr + p, e - p);
		return 1;
	}
	return 0;
}

/* RFC 9110 tchar: what a subprotocol name is made of (RFC 6455 4.1). */
static int is_tchar(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || (c != 0 && strchr("!#$%&'*+-.^_`|~", c));
}

/* Subprotocol source: the entry starting with S->name carries the token
 * after it. 0 none, 1 found, -1 ambiguous (two such entries) or
 * malformed: any entry not a token (no browser sends one) is, whether or
 * not it carries the token, as the list is forwarded rebuilt when it
 * does. Empty entries (",,") are skipped. */
int ac_req_source_protocol(const ac_request *req, const ac_source *S,
    ac_str *tok)
{
	size_t hi = 0, pos = 0, seen = 0, j;
	ac_str v;

	while (ac_req_next_protocol(req, &hi, &pos, &v)) {
		for (j = 0; j < v.len; j++)
			if (!is_tchar((unsigned char)v.ptr[j]))
				return -1;
		if (v.len < S->name.len ||
		    memcmp(v.ptr, S->name.ptr, S->name.len) != 0)
			continue;
		v.ptr += S->name.len;
		v.len -= S->name.len;
		if (++seen > 1 || !ac_req_token_ok(v))
			return -1;
		*tok = v;
	}
	return seen ? 1 : 0;
}

/* 1 if the request carries a cookie named `name`. */
int ac_req_has_cookie(const ac_request *req, ac_str name)
{
	size_t hi = 0, pos = 0;
	ac_str v;
	return ac_req_next_cookie(req, name, &hi, &pos, &v);
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)(c | 0x20);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* application/x-www-form-urlencoded value: '+' is a space, %XX a byte.
 * Returns the decoded length, or -1 (bad escape, no room). */
static long form_decode(const char *s, size_t n, char *dst, size_t cap)
{
	size_t i, o = 0;
	for (i = 0; i < n; i++) {
		int c = (unsigned char)s[i];
		if (c == '+') {
			c = ' ';
		} else if (c == '%') {
			int h, l;
			if (i + 2 >= n)
				return -1;
			h = hexval(s[i + 1]);
			l = hexval(s[i + 2]);
			if (h < 0 || l < 0)
				return -1;
			c = h << 4 | l;
			i += 2;
		}
		if (o >= cap)
			return -1;
		dst[o++] = (char)c;
	}
	return (long)o;
}

/* A form-encoded value, decoded into the decision's buffer. 0, or -1
 * (bad escape, no room; *out untouched). */
static int decode_to_buf(ac_decision *d, const char *v, size_t vl,
    ac_str *out)
{
	char *dst = d->buf + d->buf_len;
	long l = form_decode(v, vl, dst, sizeof d->buf - d->buf_len);

	if (l < 0)
		return -1;
	d->buf_len += (size_t)l;
	out->ptr = dst;
	out->len = (size_t)l;
	return 0;
}

int ac_req_has_ctl(ac_str s)
{
	size_t i;
	for (i = 0; i < s.len; i++)
		if ((unsigned char)s.ptr[i] < 0x20 || s.ptr[i] == 0x7f)
			return 1;
	return 0;
}

/* Case-insensitive substring test for header values (Accept). */
int ac_req_contains(ac_str h, const char *needle)
{
	size_t n = strlen(needle), i;
	for (i = 0; i + n <= h.len; i++)
		if (ac_ascii_ieq(h.ptr + i, n, needle, n))
			return 1;
	return 0;
}

int ac_req_htmx(const ac_request *req)
{
	ac_str v;
	return ac_req_header(req, "hx-request", &v) == 1 &&
	    ac_str_eq(v, "true", 4);
}

int ac_req_wants_json(const ac_request *req)
{
	ac_str v;
	if (ac_req_header(req, "content-type", &v) == 1 &&
	    v.len >= 16 && ac_ascii_ieq(v.ptr, 16, "application/json", 16))
		return 1;
	return ac_req_header(req, "accept", &v) == 1 &&
	    ac_req_contains(v, "application/json") && !ac_req_contains(v, "text/html");
}

int ac_req_query_param(const ac_request *req, const char *name,
    ac_decision *d, ac_str *out)
{
	const char *q = memchr(req->path.ptr, '?', req->path.len);
	size_t p, n = req->path.len, nl = strlen(name);
	int found = 0;

	out->ptr = NULL;
	out->len = 0;
	if (q == NULL)
		return 0;
	p = (size_t)(q - req->path.ptr) + 1;
	while (p < n) {
		size_t e = p;
		while (e < n && req->path.ptr[e] != '&')
			e++;
		if (e - p >= nl + 1 && memcmp(req->path.ptr + p, name, nl) == 0 &&
		    req->path.ptr[p + nl] == '=') {
			if (found || decode_to_buf(d, req->path.ptr + p + nl + 1,
			    e - p - nl - 1, out) < 0) {
				out->ptr = NULL;
				out->len = 0;
				return -1;
			}
			found = 1;
		}
		p = e + 1;
	}
	return found;
}

ac_str ac_req_query_next(const ac_request *req, ac_decision *d)
{
	ac_str out;

	if (ac_req_query_param(req, "next", d, &out) != 1)
		out.len = 0;
	return out;
}

/* 0 ok; -1 malformed (or a field repeated, or missing). */
static int parse_form(const ac_request *req, ac_decision *d, ac_login_form *f)
{
	const char *b = req->body.ptr;
	size_t p = 0, n = req->body.len;
	int seen_u = 0, seen_p = 0, seen_n = 0;

	while (p < n) {
		size_t e = p, eq;
		const char *v;
		size_t vl;
		long l;
		while (e < n && b[e] != '&')
			e++;
		for (eq = p; eq < e && b[eq] != '='; eq++)
			;
		v = b + eq + 1;
		vl = eq < e ? e - eq - 1 : 0;
		if (eq - p == 8 && memcmp(b + p, "username", 8) == 0) {
			if (seen_u++ || decode_to_buf(d, v, vl, &f->user) < 0)
				return -1;
		} else if (eq - p == 8 && memcmp(b + p, "password", 8) == 0) {
			/* never into the decision: a buffer wiped after use */
			if (seen_p++ || (l = form_decode(v, vl, f->password,
			    sizeof f->password)) < 0)
				return -1;
			f->password_len = (size_t)l;
		} else if (eq - p == 4 && memcmp(b + p, "next", 4) == 0) {
			if (seen_n++ || decode_to_buf(d, v, vl, &f->next) < 0)
				return -1;
		}
		p = e + 1;
	}
	return seen_u && seen_p ? 0 : -1;
}

static int parse_json(const ac_request *req, ac_decision *d, ac_login_form *f)
{
	aj_member m[8];
	size_t n, i;
	int seen_u = 0, seen_p = 0;

	if (aj_object(req->body.ptr, req->body.len, m, 8, &n) < 0)
		return -1;
	for (i = 0; i < n; i++) {
		size_t l;
		int is_u = aj_str_eq(m[i].key, "username", 8);
		int is_n = aj_str_eq(m[i].key, "next", 4);
		if (aj_str_eq(m[i].key, "password", 8)) {
			if (m[i].type != AJ_STRING || aj_str_decode(m[i].raw,
			    f->password, sizeof f->password, &l) < 0)
				return -1;
			f->password_len = l;
			seen_p = 1;
		} else if (is_u || is_n) {
			char *dst = d->buf + d->buf_len;
			if (m[i].type != AJ_STRING || aj_str_decode(m[i].raw,
			    dst, sizeof d->buf - d->buf_len, &l) < 0)
				return -1;
			d->buf_len += l;
			if (is_u) {
				f->user.ptr = dst;
				f->user.len = l;
				seen_u = 1;
			} else {
				f->next.ptr = dst;
				f->next.len = l;
			}
		}
	}
	return seen_u && seen_p ? 0 : -1;
}

int ac_req_login_form(const ac_request *req, ac_decision *d, ac_login_form *f)
{
	ac_str ct = { NULL, 0 };
	int is_json = ac_req_header(req, "content-type", &ct) == 1 &&
	    ct.len >= 16 && ac_ascii_ieq(ct.ptr, 16, "application/json", 16);
	return is_json ? parse_json(req, d, f) : parse_form(req, d, f);
}
