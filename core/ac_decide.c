/*
 * The decision: one request in, one answer out.
 *
 * Order: request sanity (header count, path), spoofed identity headers are
 * always scheduled for removal, public paths, the bearer token, then the
 * first route rule that matches. Every outcome carries a stable reason code
 * and an audit line; clients get generic bodies.
 */
#include "ac_internal.h"

int ac_glob_match(ac_str pat, const char *s, size_t n)
{
	size_t p = 0, i = 0, star_p = (size_t)-1, star_i = 0;

	while (i < n) {
		if (p < pat.len && pat.ptr[p] == '*') {
			star_p = p++;
			star_i = i;
		} else if (p < pat.len && pat.ptr[p] == s[i]) {
			p++;
			i++;
		} else if (star_p != (size_t)-1) {
			p = star_p + 1;
			i = ++star_i;
		} else {
			return 0;
		}
	}
	while (p < pat.len && pat.ptr[p] == '*')
		p++;
	return p == pat.len;
}

/* Paths that different servers would read differently are refused: dot
 * segments, empty segments, encoded '/', '\' or '.', backslashes and control
 * bytes. What remains means the same to us and to the upstream. */
static int path_ok(const char *p, size_t n)
{
	size_t i, seg = 1;

	if (n == 0 || p[0] != '/')
		return 0;
	for (i = 1; i <= n; i++) {
		if (i == n || p[i] == '/') {
			size_t len = i - seg;
			if (i < n && len == 0)
				return 0; /* "//" */
			if ((len == 1 && p[seg] == '.') ||
			    (len == 2 && p[seg] == '.' && p[seg + 1] == '.'))
				return 0;
			seg = i + 1;
			continue;
		}
		if ((unsigned char)p[i] < 0x21 || p[i] == 0x7f || p[i] == '\\')
			return 0;
		if (p[i] == '%' && i + 2 < n) {
			char a = p[i + 1], b = (char)(p[i + 2] | 0x20);
			if ((a == '2' && (b == 'f' || b == 'e')) ||
			    (a == '5' && b == 'c'))
				return 0;
		}
	}
	return 1;
}

static const char *buf_put(ac_decision *d, const char *s, size_t n)
{
	char *p;
	if (n > sizeof d->buf - d->buf_len)
		return NULL;
	p = d->buf + d->buf_len;
	memcpy(p, s, n);
	d->buf_len += n;
	return p;
}

static void resp_header(ac_decision *d, const char *name, const char *v,
    size_t vlen)
{
	if (d->n_resp_headers >= AC_DECISION_HEADERS_MAX || v == NULL)
		return;
	d->resp_headers[d->n_resp_headers].name.ptr = name;
	d->resp_headers[d->n_resp_headers].name.len = strlen(name);
	d->resp_headers[d->n_resp_headers].value.ptr = v;
	d->resp_headers[d->n_resp_headers].value.len = vlen;
	d->n_resp_headers++;
}

/* WWW-Authenticate per RFC 6750 section 3; error NULL when no credentials
 * were presented. */
static void www_authenticate(ac_decision *d, const ac_policy *P,
    const char *error)
{
	size_t start = d->buf_len;
	buf_put(d, "Bearer realm=\"", 14);
	buf_put(d, P->realm.ptr, P->realm.len);
	buf_put(d, "\"", 1);
	if (error != NULL) {
		buf_put(d, ", error=\"", 9);
		buf_put(d, error, strlen(error));
		buf_put(d, "\"", 1);
	}
	resp_header(d, "www-authenticate", d->buf + start, d->buf_len - start);
}

static void respond(ac_decision *d, int status, ac_reason r)
{
	static const char b400[] = "{\"error\":\"bad_request\"}";
	static const char b401[] = "{\"error\":\"unauthorized\"}";
	static const char b403[] = "{\"error\":\"forbidden\"}";

	d->action = AC_RESPOND;
	d->status = status;
	d->reason = r;
	resp_header(d, "content-type", "application/json", 16);
	resp_header(d, "cache-control", "no-store", 8);
	if (status == 400) {
		d->body.ptr = b400;
		d->body.len = sizeof b400 - 1;
	} else if (status == 401) {
		d->body.ptr = b401;
		d->body.len = sizeof b401 - 1;
	} else {
		d->body.ptr = b403;
		d->body.len = sizeof b403 - 1;
	}
}

static void audit(ac_decision *d, const ac_request *req, int64_t now,
    size_t path_len)
{
	aj_writer w = { d->audit, sizeof d->audit, 0, 0 };
	size_t plen = path_len > 256 ? 256 : path_len;
	size_t mlen = req->method.len > 32 ? 32 : req->method.len;
	size_t ilen = req->client_ip.len > 64 ? 64 : req->client_ip.len;

	aj_w_lit(&w, "{\"ts\":");
	aj_w_int(&w, now);
	aj_w_lit(&w, ",\"event\":\"authcore.decision\",\"action\":");
	aj_w_lit(&w, d->action == AC_ALLOW ? "\"allow\"" : "\"deny\"");
	aj_w_lit(&w, ",\"status\":");
	aj_w_int(&w, d->status);
	aj_w_lit(&w, ",\"reason\":\"");
	aj_w_lit(&w, ac_reason_name(d->reason));
	aj_w_lit(&w, "\",\"method\":");
	aj_w_str(&w, req->method.ptr, mlen);
	aj_w_lit(&w, ",\"path\":");
	aj_w_str(&w, req->path.ptr, plen);
	if (plen < path_len)
		aj_w_lit(&w, ",\"path_truncated\":true");
	aj_w_lit(&w, ",\"client_ip\":");
	aj_w_str(&w, req->client_ip.ptr, ilen);
	aj_w_lit(&w, ",\"user\":");
	if (d->user.ptr != NULL)
		aj_w_str(&w, d->user.ptr, d->user.len > 128 ? 128 : d->user.len);
	else
		aj_w_lit(&w, "null");
	aj_w_lit(&w, "}");
	d->audit_len = w.overflow ? 0 : w.len;
}

static int has_role(const ac_jwt_result *j, ac_str role)
{
	size_t i;
	for (i = 0; i < j->n_roles; i++)
		if (j->roles[i].len == role.len &&
		    memcmp(j->roles[i].ptr, role.ptr, role.len) == 0)
			return 1;
	return 0;
}

static int is_b64token_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
	    c == '~' || c == '+' || c == '/' || c == '=';
}

/* Finds the bearer token. 0: none, 1: found, -1: invalid request. */
static int find_bearer(const ac_request *req, ac_str *tok)
{
	size_t i, seen = 0;

	for (i = 0; i < req->n_headers; i++) {
		const ac_header *h = &req->headers[i];
		size_t j = 0, sp;
		if (!ac_ascii_ieq(h->name.ptr, h->name.len, "authorization", 13))
			continue;
		if (++seen > 1)
			return -1;
		while (j < h->value.len && h->value.ptr[j] == ' ')
			j++;
		sp = j;
		while (sp < h->value.len && h->value.ptr[sp] != ' ')
			sp++;
		if (!ac_ascii_ieq(h->value.ptr + j, sp - j, "bearer", 6))
			continue; /* another scheme: no bearer token */
		while (sp < h->value.len && h->value.ptr[sp] == ' ')
			sp++;
		tok->ptr = h->value.ptr + sp;
		tok->len = h->value.len - sp;
		while (tok->len > 0 && (tok->ptr[tok->len - 1] == ' ' ||
		    tok->ptr[tok->len - 1] == '\t'))
			tok->len--;
		if (tok->len == 0)
			return -1;
		/* RFC 6750 b64token; a comma means two credentials were
		 * folded into one header line */
		for (j = 0; j < tok->len; j++)
			if (!is_b64token_char((unsigned char)tok->ptr[j]))
				return -1;
	}
	return seen && tok->ptr != NULL ? 1 : 0;
}

static void add_header(ac_decision *d, ac_str name, const char *v, size_t n)
{
	if (d->n_add >= AC_DECISION_HEADERS_MAX)
		return;
	d->add[d->n_add].name = name;
	d->add[d->n_add].value.ptr = v;
	d->add[d->n_add].value.len = n;
	d->n_add++;
}

static void decide(const ac_policy *P, const ac_request *req, int64_t now,
    ac_decision *d, size_t path_len)
{
	ac_str tok = { NULL, 0 };
	const ac_rule *rule = NULL;
	ac_jwt_result *j = &d->jwt;
	size_t i;
	int fb;

	if (req->too_many_headers) {
		respond(d, 400, AC_INVALID_REQUEST);
		return;
	}
	if (!path_ok(req->path.ptr, path_len)) {
		respond(d, 400, AC_BAD_PATH);
		return;
	}
	for (i = 0; i < P->n_public; i++) {
		if (ac_glob_match(P->public_paths[i], req->path.ptr, path_len)) {
			d->reason = AC_PUBLIC;
			return;
		}
	}
	fb = find_bearer(req, &tok);
	if (fb < 0) {
		www_authenticate(d, P, "invalid_request");
		respond(d, 400, AC_INVALID_REQUEST);
		return;
	}
	if (fb == 0) {
		www_authenticate(d, P, NULL);
		respond(d, 401, AC_MISSING_TOKEN);
		return;
	}
	if (ac_jwt_verify(P->keys, P->n_keys, &P->checks, tok.ptr, tok.len, now,
	    j) != AC_OK) {
		www_authenticate(d, P, "invalid_token");
		respond(d, 401, j->reason);
		return;
	}
	if (j->user.ptr == NULL) {
		www_authenticate(d, P, "invalid_token");
		respond(d, 401, AC_MISSING_CLAIM);
		return;
	}
	for (i = 0; i < j->n_roles; i++) {
		/* roles are forwarded comma-joined: a comma inside one would
		 * forge another */
		if (memchr(j->roles[i].ptr, ',', j->roles[i].len) != NULL) {
			www_authenticate(d, P, "invalid_token");
			respond(d, 401, AC_BAD_CLAIM);
			return;
		}
	}
	d->user = j->user;
	for (i = 0; i < P->n_rules; i++) {
		const ac_rule *r = &P->rules[i];
		size_t k;
		int mok = r->n_methods == 0;
		for (k = 0; k < r->n_methods; k++)
			mok |= ac_str_eq(r->methods[k], req->method.ptr,
			    req->method.len);
		if (mok && ac_glob_match(r->path, req->path.ptr, path_len)) {
			rule = r;
			break;
		}
	}
	if (rule == NULL && P->default_deny) {
		respond(d, 403, AC_NO_RULE);
		return;
	}
	if (rule != NULL && rule->role.ptr != NULL && !has_role(j, rule->role)) {
		www_authenticate(d, P, "insufficient_scope");
		respond(d, 403, AC_INSUFFICIENT_ROLE);
		return;
	}
	d->reason = AC_OK;
	add_header(d, P->user_header, j->user.ptr, j->user.len);
	{
		size_t start = d->buf_len;
		for (i = 0; i < j->n_roles; i++) {
			if (i > 0)
				buf_put(d, ",", 1);
			buf_put(d, j->roles[i].ptr, j->roles[i].len);
		}
		add_header(d, P->roles_header, d->buf + start,
		    d->buf_len - start);
	}
}

void ac_decide(const ac_policy *P, const ac_request *req, int64_t now,
    const uint8_t *entropy, size_t entropy_len, ac_decision *d)
{
	size_t path_len = req->path.len;
	const char *q;

	(void)entropy;
	(void)entropy_len;
	d->action = AC_ALLOW;
	d->status = 200;
	d->reason = AC_OK;
	d->n_remove = d->n_add = d->n_resp_headers = 0;
	d->body.ptr = "";
	d->body.len = 0;
	d->user.ptr = NULL;
	d->user.len = 0;
	d->buf_len = 0;
	d->audit_len = 0;

	/* identity headers never pass through from the client */
	d->remove[d->n_remove++] = P->user_header;
	d->remove[d->n_remove++] = P->roles_header;

	q = req->path.len ? memchr(req->path.ptr, '?', req->path.len) : NULL;
	if (q != NULL)
		path_len = (size_t)(q - req->path.ptr);
	decide(P, req, now, d, path_len);
	audit(d, req, now, req->path.len);
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
	aj_w_lit(&w, d->action == AC_ALLOW ? "\"allow\"" : "\"respond\"");
	aj_w_lit(&w, ",\"status\":");
	aj_w_int(&w, d->status);
	aj_w_lit(&w, ",\"reason\":\"");
	aj_w_lit(&w, ac_reason_name(d->reason));
	aj_w_lit(&w, "\",\"remove\":[");
	for (i = 0; i < d->n_remove; i++) {
		if (i)
			aj_w_lit(&w, ",");
		aj_w_str(&w, d->remove[i].ptr, d->remove[i].len);
	}
	aj_w_lit(&w, "],\"add\":");
	w_headers_obj(&w, d->add, d->n_add);
	aj_w_lit(&w, ",\"headers\":");
	w_headers_obj(&w, d->resp_headers, d->n_resp_headers);
	aj_w_lit(&w, ",\"body\":");
	aj_w_str(&w, d->body.ptr, d->body.len);
	aj_w_lit(&w, ",\"user\":");
	if (d->user.ptr != NULL)
		aj_w_str(&w, d->user.ptr, d->user.len);
	else
		aj_w_lit(&w, "null");
	aj_w_lit(&w, ",\"audit\":");
	if (d->audit_len)
		aj_w_raw(&w, d->audit, d->audit_len);
	else
		aj_w_lit(&w, "null");
	aj_w_lit(&w, "}");
	return w.overflow ? 0 : w.len;
}
