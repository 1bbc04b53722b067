/*
 * The decision: one request in, one answer out.
 *
 * Order: request sanity (header count, path), spoofed identity headers are
 * always scheduled for removal, public paths, the bearer token, then the
 * first route rule that matches. Every outcome carries a stable reason code
 * and an audit line; clients get generic bodies.
 */
#include "ac_internal.h"

const char *ac_d_put(ac_decision *d, const char *s, size_t n)
{
	char *p;
	if (n > sizeof d->buf - d->buf_len)
		return NULL;
	p = d->buf + d->buf_len;
	memcpy(p, s, n);
	d->buf_len += n;
	return p;
}

void ac_d_resp_header(ac_decision *d, const char *name, const char *v,
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
void ac_d_www_authenticate(ac_decision *d, const ac_policy *P,
    const char *error)
{
	size_t start = d->buf_len;
	ac_d_put(d, "Bearer realm=\"", 14);
	ac_d_put(d, P->realm.ptr, P->realm.len);
	ac_d_put(d, "\"", 1);
	if (error != NULL) {
		ac_d_put(d, ", error=\"", 9);
		ac_d_put(d, error, strlen(error));
		ac_d_put(d, "\"", 1);
	}
	ac_d_resp_header(d, "www-authenticate", d->buf + start, d->buf_len - start);
}

void ac_d_respond(ac_decision *d, int status, ac_reason r)
{
	static const char b400[] = "{\"error\":\"bad_request\"}";
	static const char b401[] = "{\"error\":\"unauthorized\"}";
	static const char b403[] = "{\"error\":\"forbidden\"}";
	static const char b413[] = "{\"error\":\"payload_too_large\"}";
	static const char b414[] = "{\"error\":\"uri_too_long\"}";
	static const char b429[] = "{\"error\":\"too_many_requests\"}";
	static const char b503[] = "{\"error\":\"unavailable\"}";
	static const char b500[] = "{\"error\":\"server_error\"}";

	d->action = AC_RESPOND;
	d->status = status;
	d->reason = r;
	ac_d_resp_header(d, "content-type", "application/json", 16);
	ac_d_resp_header(d, "cache-control", "no-store", 8);
	if (status == 400) {
		d->body.ptr = b400;
		d->body.len = sizeof b400 - 1;
	} else if (status == 401) {
		d->body.ptr = b401;
		d->body.len = sizeof b401 - 1;
	} else if (status == 403) {
		d->body.ptr = b403;
		d->body.len = sizeof b403 - 1;
	} else if (status == 413) {
		d->body.ptr = b413;
		d->body.len = sizeof b413 - 1;
	} else if (status == 414) {
		d->body.ptr = b414;
		d->body.len = sizeof b414 - 1;
	} else if (status == 429) {
		d->body.ptr = b429;
		d->body.len = sizeof b429 - 1;
	} else if (status == 503) {
		d->body.ptr = b503;
		d->body.len = sizeof b503 - 1;
	} else {
		d->body.ptr = b500;
		d->body.len = sizeof b500 - 1;
	}
}

/* What happened, for the audit line: the request went upstream (allow),
 * was refused or challenged (deny), was answered by the core itself
 * (respond: the login page, whoami), started a session (login) or ended
 * one (logout), or waits for a password check (pending). */
static const char *audit_action(const ac_decision *d)
{
	if (d->action == AC_ALLOW)
		return "allow";
	if (d->action == AC_PENDING)
		return "pending";
	if (d->reason == AC_LOGGED_OUT)
		return "logout";
	if (d->status >= 400 || (d->reason != AC_OK && d->reason != AC_PUBLIC))
		return "deny";
	if (d->reason == AC_OK && ac_str_eq(d->auth_method, "password", 8))
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

/* One JSON line per decision. Attacker-chosen fields get output budgets
 * that fit AC_AUDIT_MAX together whatever they hold, so hostile requests are
 * always logged (cut short and marked, never dropped). Credentials never
 * appear: no cookies, no Authorization, no token query values. */
static void audit(const ac_policy *P, ac_decision *d, const ac_request *req,
    int64_t now)
{
	aj_writer w = { d->audit, sizeof d->audit, 0, 0 };
	char target[416];
	size_t tlen;
	int cut;

	aj_w_lit(&w, "{\"ts\":");
	aj_w_int(&w, now);
	aj_w_lit(&w, ",\"event\":\"authcore.decision\",\"action\":\"");
	aj_w_lit(&w, audit_action(d));
	aj_w_lit(&w, "\",\"status\":");
	aj_w_int(&w, d->status);
	aj_w_lit(&w, ",\"reason\":\"");
	aj_w_lit(&w, ac_reason_name(d->reason));
	aj_w_lit(&w, "\",\"method\":");
	(void)aj_w_str_max(&w, req->method.ptr, req->method.len, 32);
	aj_w_lit(&w, ",\"path\":");
	tlen = audit_target(P, d->path, target, sizeof target);
	cut = aj_w_str_max(&w, target, tlen, 400) || d->path.len > tlen;
	if (cut)
		aj_w_lit(&w, ",\"path_truncated\":true");
	aj_w_lit(&w, ",\"client_ip\":");
	(void)aj_w_str_max(&w, d->client.ptr, d->client.len, 64);
	if (d->auth_method.len) {
		aj_w_lit(&w, ",\"auth\":\"");
		aj_w_raw(&w, d->auth_method.ptr, d->auth_method.len);
		aj_w_lit(&w, "\"");
	}
	aj_w_lit(&w, ",\"user\":");
	if (d->user.ptr != NULL)
		(void)aj_w_str_max(&w, d->user.ptr, d->user.len, 256);
	else
		aj_w_lit(&w, "null");
	if (d->login_user.ptr != NULL && d->user.ptr == NULL) {
		aj_w_lit(&w, ",\"login_user\":");
		(void)aj_w_str_max(&w, d->login_user.ptr, d->login_user.len, 128);
	}
	aj_w_lit(&w, "}");
	d->audit_len = w.overflow ? 0 : w.len;
}

static int is_b64token_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
	    c == '~' || c == '+' || c == '/' || c == '=';
}

static int valid_token_chars(ac_str t)
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

static ac_str trim(const char *p, size_t n)
{
	return ac_trim_ows(p, n);
}

/* Header source: 0 none, 1 found, -1 ambiguous or malformed. */
static int from_header(const ac_request *req, const ac_source *S, ac_str *tok)
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
		v = trim(h->value.ptr, h->value.len);
		if (S->prefix.len > 0) {
			size_t sp = 0;
			while (sp < v.len && v.ptr[sp] != ' ')
				sp++;
			if (!ac_ascii_ieq(v.ptr, sp, S->prefix.ptr, S->prefix.len))
				continue; /* another scheme: not this source */
			v = trim(v.ptr + sp, v.len - sp);
		}
		if (!valid_token_chars(v))
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
static int next_cookie(const ac_request *req, ac_str name, size_t *hi,
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
			pair = trim(h->value.ptr + p, e - p);
			for (eq = 0; eq < pair.len && pair.ptr[eq] != '='; eq++)
				;
			if (eq == pair.len ||
			    !ac_str_eq(trim(pair.ptr, eq), name.ptr, name.len))
				continue;
			v = trim(pair.ptr + eq + 1, pair.len - eq - 1);
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
static int from_cookie(const ac_request *req, const ac_source *S, ac_str *tok)
{
	size_t hi = 0, pos = 0, seen = 0;
	ac_str v;

	while (next_cookie(req, S->name, &hi, &pos, &v)) {
		/* the same cookie twice (path or domain variants) is
		 * ambiguous: refuse rather than guess */
		if (++seen > 1 || !valid_token_chars(v))
			return -1;
		*tok = v;
	}
	return seen ? 1 : 0;
}

int ac_d_cookie(const ac_request *req, ac_str name, ac_str *val)
{
	ac_source src;
	memset(&src, 0, sizeof src);
	src.kind = 'C';
	src.name = name;
	return from_cookie(req, &src, val);
}

int ac_d_header(const ac_request *req, const char *name, ac_str *val)
{
	size_t i, seen = 0;
	for (i = 0; i < req->n_headers; i++) {
		const ac_header *h = &req->headers[i];
		if (!ac_ascii_ieq(h->name.ptr, h->name.len, name, strlen(name)))
			continue;
		if (++seen > 1)
			return -1;
		*val = trim(h->value.ptr, h->value.len);
	}
	return seen ? 1 : 0;
}

static int from_query(const ac_request *req, const ac_source *S, ac_str *tok)
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
			if (++seen > 1 || !valid_token_chars(v))
				return -1;
			*tok = v;
		}
		p = e + 1;
	}
	return seen ? 1 : 0;
}

/* The token from the policy's sources, in order. 0: none, 1: found,
 * -1: invalid request. */
static int find_token(const ac_policy *P, const ac_request *req, ac_str *tok,
    const ac_source **src)
{
	size_t i;
	for (i = 0; i < P->n_sources; i++) {
		const ac_source *S = &P->sources[i];
		int r = S->kind == 'H' ? from_header(req, S, tok) :
		    S->kind == 'C' ? from_cookie(req, S, tok) :
		    from_query(req, S, tok);
		*src = S;
		if (r != 0)
			return r;
	}
	return 0;
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

/* An identity value as upstreams will read it: HTTP parsers trim
 * surrounding whitespace and cannot carry control bytes, so a value with
 * either would reach the app as something other than what was checked.
 * Empty values are refused too (an empty user is nobody). */
static int value_ok(const char *s, size_t n)
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
 * written) to the decision buffer; -1 if it is not a value_ok() or,
 * inside an array, holds a comma (which would forge a second element). */
static int put_scalar(ac_decision *d, aj_type t, ac_str raw, int in_array)
{
	if (t == AJ_STRING) {
		size_t l;
		char *dst = d->buf + d->buf_len;
		if (aj_str_decode(raw, dst, sizeof d->buf - d->buf_len, &l) < 0)
			return -1;
		if (!value_ok(dst, l) ||
		    (in_array && memchr(dst, ',', l) != NULL))
			return -1;
		d->buf_len += l;
		return 0;
	}
	if (t == AJ_NUMBER || t == AJ_TRUE || t == AJ_FALSE)
		return ac_d_put(d, raw.ptr, raw.len) ? 0 : -1;
	return -1;
}

/* Forwards a claim as a header: scalars as text, arrays comma-joined.
 * Absent claims, nulls and objects add nothing. */
static int claim_header(ac_decision *d, const ac_claim_header *C)
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
			if (k++ > 0 && !ac_d_put(d, ",", 1))
				return -1;
			if (put_scalar(d, et, e, 1) < 0)
				return -1;
		}
	} else if (put_scalar(d, t, raw, 0) < 0) {
		return -1;
	}
	add_header(d, C->header, d->buf + start, d->buf_len - start);
	return 0;
}

static int in_list(const ac_str *l, size_t n, ac_str want)
{
	size_t i;
	for (i = 0; i < n; i++)
		if (l[i].len == want.len && memcmp(l[i].ptr, want.ptr, want.len) == 0)
			return 1;
	return 0;
}

static void set_method(ac_decision *d, const char *m)
{
	d->auth_method.ptr = m;
	d->auth_method.len = strlen(m);
}

static void set_cred(ac_ident *id, int kind, ac_str name)
{
	id->cred_kind = kind;
	id->cred_name = name;
}

/* 1: identified (id set), 0: decided already (a refusal is in d). */
static int by_api_key(const ac_policy *P, ac_decision *d, ac_str key,
    ac_ident *id)
{
	const ac_apikey_entry *e = ac_apikey_lookup(P->api_keys, P->n_api_keys,
	    key.ptr, key.len);

	set_method(d, "api_key");
	if (e == NULL) {
		ac_d_www_authenticate(d, P, "invalid_token");
		ac_d_respond(d, 401, AC_BAD_API_KEY);
		return 0;
	}
	d->user = e->name;
	if (e->n_resources > 0 &&
	    !ac_resource_allowed(e, d->match.ptr, d->match.len)) {
		ac_d_respond(d, 403, AC_RESOURCE_NOT_ALLOWED);
		return 0;
	}
	id->user = e->name;
	id->roles = e->role.ptr ? &e->role : NULL;
	id->n_roles = e->role.ptr ? 1 : 0;
	id->perms = e->permissions;
	id->n_perms = e->n_permissions;
	set_cred(id, 'H', P->api_key_header);
	return 1;
}

/* A browser sends cookies on any site's form post: a state-changing
 * request carried by a cookie MUST come from this origin. 1 if it may
 * go on. */
static int cookie_csrf_ok(const ac_request *req)
{
	return !ac_method_is_unsafe(req->method.ptr, req->method.len) ||
	    ac_req_same_origin(req, req->https);
}

static int by_jwt(const ac_policy *P, const ac_request *req, ac_decision *d,
    ac_str tok, const ac_source *src, int64_t now, ac_ident *id)
{
	ac_jwt_result *j = &d->jwt;
	size_t i;

	set_method(d, "jwt");
	if (ac_jwt_verify(P->keys, P->n_keys, &P->checks, tok.ptr, tok.len, now,
	    j) != AC_OK) {
		ac_d_www_authenticate(d, P, "invalid_token");
		ac_d_respond(d, 401, j->reason);
		return 0;
	}
	if (j->user.ptr == NULL) {
		ac_d_www_authenticate(d, P, "invalid_token");
		ac_d_respond(d, 401, AC_MISSING_CLAIM);
		return 0;
	}
	if (!value_ok(j->user.ptr, j->user.len)) {
		ac_d_www_authenticate(d, P, "invalid_token");
		ac_d_respond(d, 401, AC_BAD_CLAIM);
		return 0;
	}
	for (i = 0; i < j->n_roles; i++) {
		/* roles are forwarded comma-joined: a comma inside one would
		 * forge another; and compared exactly as forwarded */
		if (!value_ok(j->roles[i].ptr, j->roles[i].len) ||
		    memchr(j->roles[i].ptr, ',', j->roles[i].len) != NULL) {
			ac_d_www_authenticate(d, P, "invalid_token");
			ac_d_respond(d, 401, AC_BAD_CLAIM);
			return 0;
		}
	}
	d->user = j->user;
	if (src->kind == 'C' && src->csrf && !cookie_csrf_ok(req)) {
		ac_d_respond(d, 403, AC_CSRF_FAILED);
		return 0;
	}
	id->user = j->user;
	id->roles = id->perms = j->roles;
	id->n_roles = id->n_perms = j->n_roles;
	id->jwt = 1;
	set_cred(id, src->kind, src->name);
	return 1;
}

/* The session cookie. Several cookies of that name (another app on the
 * same host may set one with Path=/) are resolved, not refused: the one
 * that verifies is taken; two that verify as different users are
 * ambiguous (400). */
static int by_session(const ac_policy *P, const ac_request *req,
    ac_decision *d, int64_t now, ac_ident *id)
{
	ac_session *s = &d->session;
	ac_str v, tok = { NULL, 0 };
	char user[AC_SESSION_USER_MAX];
	size_t hi = 0, pos = 0, user_len = 0;
	ac_reason fail = AC_OK, r;
	int found = 0, last_is_tok = 0;

	set_method(d, "session");
	while (next_cookie(req, P->session_cookie, &hi, &pos, &v)) {
		r = valid_token_chars(v) ? ac_session_verify(P->session_keys,
		    P->n_session_keys, v.ptr, v.len, now, s) : AC_MALFORMED;
		last_is_tok = 0;
		if (r != AC_OK) {
			if (fail == AC_OK)
				fail = r;
			continue;
		}
		if (!found) {
			found = 1;
			tok = v;
			last_is_tok = 1;
			user_len = s->user.len < sizeof user ? s->user.len :
			    sizeof user;
			memcpy(user, s->user.ptr, user_len);
		} else if (s->user.len != user_len ||
		    memcmp(s->user.ptr, user, user_len) != 0) {
			ac_d_respond(d, 400, AC_INVALID_REQUEST);
			return 0;
		}
	}
	if (!found) {
		ac_d_www_authenticate(d, P, "invalid_token");
		ac_d_respond(d, 401, fail);
		return 0;
	}
	if (!last_is_tok && ac_session_verify(P->session_keys,
	    P->n_session_keys, tok.ptr, tok.len, now, s) != AC_OK) {
		ac_d_respond(d, 500, AC_INVALID_REQUEST); /* cannot happen */
		return 0;
	}
	d->user = s->user;
	/* state-changing methods must also carry the session's CSRF token,
	 * which another site cannot read (csrf: true), or come from this
	 * origin (csrf: "origin") */
	if (P->csrf && ac_method_is_unsafe(req->method.ptr, req->method.len)) {
		ac_source src;
		ac_str h = { NULL, 0 };
		int ok;
		memset(&src, 0, sizeof src);
		src.kind = 'H';
		src.name = P->csrf_header;
		if (P->csrf == 2)
			ok = ac_req_same_origin(req, req->https);
		else
			ok = from_header(req, &src, &h) == 1 && ac_csrf_check(
			    P->session_keys, P->n_session_keys, tok.ptr, tok.len,
			    h.ptr, h.len);
		if (!ok) {
			ac_d_respond(d, 403, AC_CSRF_FAILED);
			return 0;
		}
	}
	id->user = s->user;
	id->roles = id->perms = s->roles;
	id->n_roles = id->n_perms = s->n_roles;
	set_cred(id, 'C', P->session_cookie);
	return 1;
}

/* 1 if the request carries a cookie named `name`. */
static int has_cookie(const ac_request *req, ac_str name)
{
	size_t hi = 0, pos = 0;
	ac_str v;
	return next_cookie(req, name, &hi, &pos, &v);
}

/* Finds who the request is: API key, Basic credentials (with "login"),
 * then the JWT sources, then the session cookie. 1: identified; 0: decided
 * already. */
static int identify(const ac_policy *P, ac_state *S, const ac_request *req,
    int64_t now, const ac_verdict *v, ac_decision *d, ac_ident *id)
{
	static const ac_str authorization = { "authorization", 13 };
	ac_str tok = { NULL, 0 };
	const ac_source *from = NULL;
	ac_source src;
	int r;

	memset(&src, 0, sizeof src);
	if (P->api_key_header.ptr != NULL) {
		src.kind = 'H';
		src.name = P->api_key_header;
		r = from_header(req, &src, &tok);
		if (r != 0)
			return r < 0 ? (ac_d_respond(d, 400, AC_INVALID_REQUEST), 0) :
			    by_api_key(P, d, tok, id);
	}
	if (P->basic) {
		r = ac_login_basic(P, S, req, now, v, d, id);
		if (r == 1)
			set_cred(id, 'H', authorization);
		if (r >= 0)
			return r;
	}
	if (P->has_jwt) {
		r = find_token(P, req, &tok, &from);
		if (r < 0) {
			ac_d_www_authenticate(d, P, "invalid_request");
			ac_d_respond(d, 400, AC_INVALID_REQUEST);
			return 0;
		}
		if (r > 0)
			return by_jwt(P, req, d, tok, from, now, id);
	}
	if (P->n_session_keys > 0 && has_cookie(req, P->session_cookie))
		return by_session(P, req, d, now, id);
	ac_d_www_authenticate(d, P, NULL);
	ac_d_respond(d, 401, AC_MISSING_TOKEN);
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
			pair = trim(h->value.ptr + p, e - p);
			p = e + 1;
			for (eq = 0; eq < pair.len && pair.ptr[eq] != '='; eq++)
				;
			if (pair.len == 0 || (eq < pair.len &&
			    ac_str_eq(trim(pair.ptr, eq), name.ptr, name.len)))
				continue;
			if ((n++ > 0 && !ac_d_put(d, "; ", 2)) ||
			    !ac_d_put(d, pair.ptr, pair.len)) {
				d->buf_len = start; /* no room: drop them all */
				n = 0;
				break;
			}
		}
	}
	if (d->n_remove < AC_DECISION_HEADERS_MAX)
		d->remove[d->n_remove++] = cookie;
	if (n > 0)
		add_header(d, cookie, d->buf + start, d->buf_len - start);
}

/* The target without the consumed query parameter; forwarded instead. */
static void drop_query_param(ac_decision *d, ac_str name)
{
	char *t = d->target;
	size_t len = d->path.len, q, p, o;

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
	d->path.len = o;
	d->path_rewritten = 1;
}

/* The credential the core consumed does not go on to the upstream (a Basic
 * password, a bearer token, an API key, a session cookie), unless the
 * policy forwards credentials. */
static void drop_credential(const ac_policy *P, const ac_request *req,
    ac_decision *d, const ac_ident *id)
{
	if (P->forward_credentials)
		return;
	if (id->cred_kind == 'H' && d->n_remove < AC_DECISION_HEADERS_MAX)
		d->remove[d->n_remove++] = id->cred_name;
	else if (id->cred_kind == 'C')
		drop_cookie(d, req, id->cred_name);
	else if (id->cred_kind == 'Q')
		drop_query_param(d, id->cred_name);
}

/* 1 if rule r covers method m: HEAD runs the GET handler in most
 * frameworks, so a rule for GET covers HEAD too. */
static int rule_method(const ac_rule *r, ac_str m)
{
	size_t k;
	if (r->n_methods == 0)
		return 1;
	for (k = 0; k < r->n_methods; k++)
		if (ac_str_eq(r->methods[k], m.ptr, m.len) ||
		    (ac_str_eq(m, "HEAD", 4) && ac_str_eq(r->methods[k], "GET", 3)))
			return 1;
	return 0;
}

/* The request as the upstream will read it: canonical target (wire form in
 * d->target, decoded in d->match), the client and the scheme. Returns 0, or
 * -1 with a refusal in d. */
static int canonical(const ac_policy *P, const ac_request *req,
    ac_decision *d, ac_request *creq, size_t *path_len)
{
	const char *q = req->path.len ? memchr(req->path.ptr, '?',
	    req->path.len) : NULL;
	size_t raw_len = q ? (size_t)(q - req->path.ptr) : req->path.len;
	size_t qlen = req->path.len - raw_len, wlen, mlen;
	const ac_str *ov;
	size_t i, n_ov;

	if (req->too_many_headers) {
		ac_d_respond(d, 400, AC_INVALID_REQUEST);
		return -1;
	}
	if (ac_req_headers_check(P, req) < 0) {
		ac_d_respond(d, 400, AC_BAD_HEADER);
		return -1;
	}
	if (req->path.len > AC_TARGET_MAX) {
		ac_d_respond(d, 414, AC_BAD_PATH);
		return -1;
	}
	if (ac_path_canon(req->path.ptr, raw_len, d->target, &wlen,
	    d->match_buf, &mlen) < 0) {
		ac_d_respond(d, 400, AC_BAD_PATH);
		return -1;
	}
	if (wlen != raw_len || memcmp(d->target, req->path.ptr, wlen) != 0) {
		/* another spelling of a canonical path: forward that one, or
		 * refuse, as the policy says */
		if (!P->rewrite_paths) {
			ac_d_respond(d, 400, AC_BAD_PATH);
			return -1;
		}
		d->path_rewritten = 1;
	}
	memcpy(d->target + wlen, req->path.ptr + raw_len, qlen);
	d->path.ptr = d->target;
	d->path.len = wlen + qlen;
	d->match.ptr = d->match_buf;
	d->match.len = mlen;
	ac_req_client(P, req, &d->client, &d->https);
	*creq = *req;
	creq->path = d->path;
	creq->client_ip = d->client;
	creq->https = d->https;
	*path_len = wlen;
	/* the method the rules saw is the method the upstream runs */
	n_ov = ac_req_override_names(&ov);
	for (i = 0; i < n_ov && d->n_remove < AC_DECISION_HEADERS_MAX; i++)
		d->remove[d->n_remove++] = ov[i];
	return 0;
}

static void decide(const ac_policy *P, ac_state *S, const ac_request *raw,
    int64_t now, const uint8_t *entropy, size_t entropy_len,
    const ac_verdict *v, ac_decision *d)
{
	const ac_rule *rule = NULL;
	ac_request creq;
	const ac_request *req = &creq;
	ac_ident id;
	size_t i, path_len;
	ac_str m;

	if (canonical(P, raw, d, &creq, &path_len) < 0)
		return;
	m = d->match;
	if (P->login) {
		int route = ac_login_route(P, req, path_len);
		if (route == AC_ROUTE_WHOAMI && (ac_str_eq(req->method, "GET", 3) ||
		    ac_str_eq(req->method, "HEAD", 4))) {
			memset(&id, 0, sizeof id);
			if (identify(P, S, req, now, v, d, &id)) {
				d->user = id.user;
				ac_login_whoami(d, &id);
			}
			return;
		}
		if (route != 0) {
			ac_login_decide(P, S, req, path_len, now, entropy,
			    entropy_len, v, d);
			return;
		}
	}
	for (i = 0; i < P->n_public; i++) {
		if (ac_wild_match(P->public_paths[i].ptr,
		    P->public_paths[i].len, m.ptr, m.len)) {
			d->reason = AC_PUBLIC;
			return;
		}
	}
	memset(&id, 0, sizeof id);
	if (!identify(P, S, req, now, v, d, &id)) {
		if (P->login && d->status == 401)
			ac_login_challenge(P, req, path_len, d);
		return;
	}
	d->user = id.user;
	for (i = 0; i < P->n_rules; i++) {
		const ac_rule *r = &P->rules[i];
		if (rule_method(r, req->method) &&
		    ac_wild_match(r->path.ptr, r->path.len, m.ptr, m.len)) {
			rule = r;
			break;
		}
	}
	if (rule == NULL && P->default_deny) {
		ac_d_respond(d, 403, AC_NO_RULE);
		return;
	}
	if (rule != NULL && rule->role.ptr != NULL &&
	    !in_list(id.roles, id.n_roles, rule->role)) {
		ac_d_www_authenticate(d, P, "insufficient_scope");
		ac_d_respond(d, 403, AC_INSUFFICIENT_ROLE);
		return;
	}
	if (rule != NULL && rule->permission.ptr != NULL &&
	    !in_list(id.perms, id.n_perms, rule->permission)) {
		ac_d_www_authenticate(d, P, "insufficient_scope");
		ac_d_respond(d, 403, AC_INSUFFICIENT_PERMISSION);
		return;
	}
	d->reason = AC_OK;
	add_header(d, P->user_header, id.user.ptr, id.user.len);
	{
		size_t start = d->buf_len;
		for (i = 0; i < id.n_roles; i++) {
			if (i > 0)
				ac_d_put(d, ",", 1);
			ac_d_put(d, id.roles[i].ptr, id.roles[i].len);
		}
		add_header(d, P->roles_header, d->buf + start,
		    d->buf_len - start);
	}
	for (i = 0; id.jwt && i < P->n_claim_headers; i++) {
		if (claim_header(d, &P->claim_headers[i]) < 0) {
			d->n_add = 0;
			d->user.ptr = NULL;
			d->user.len = 0;
			ac_d_www_authenticate(d, P, "invalid_token");
			ac_d_respond(d, 401, AC_BAD_CLAIM);
			return;
		}
	}
	drop_credential(P, req, d, &id);
	/* a session under an older key moves to the current one: the
	 * answer to this request carries the re-signed cookies */
	if (ac_str_eq(d->auth_method, "session", 7) && d->session.key_index != 0)
		ac_login_reissue(P, req, now, d);
}

ac_reason ac_policy_verify_jwt(const ac_policy *P, const char *token,
    size_t token_len, int64_t now, ac_jwt_result *res)
{
	if (!P->has_jwt) {
		memset(res, 0, sizeof *res);
		res->reason = AC_ALG_NOT_ALLOWED;
		return res->reason;
	}
	return ac_jwt_verify(P->keys, P->n_keys, &P->checks, token, token_len,
	    now, res);
}

static void reset(ac_decision *d, const ac_request *req)
{
	d->action = AC_ALLOW;
	d->status = 200;
	d->reason = AC_OK;
	d->n_remove = d->n_add = d->n_resp_headers = 0;
	d->body.ptr = "";
	d->body.len = 0;
	d->user.ptr = NULL;
	d->user.len = 0;
	d->auth_method.ptr = "";
	d->auth_method.len = 0;
	d->login_user.ptr = NULL;
	d->login_user.len = 0;
	d->buf_len = 0;
	d->audit_len = 0;
	d->path = req->path;
	d->path_rewritten = 0;
	d->match.ptr = NULL;
	d->match.len = 0;
	d->client = req->client_ip;
	d->https = req->https;
	memset(&d->work, 0, sizeof d->work);
}

static void run(const ac_policy *P, ac_state *S, const ac_request *req,
    int64_t now, const uint8_t *entropy, size_t entropy_len,
    const ac_verdict *v, ac_decision *d)
{
	size_t i;

	reset(d, req);
	/* identity headers never pass through from the client */
	d->remove[d->n_remove++] = P->user_header;
	d->remove[d->n_remove++] = P->roles_header;
	for (i = 0; i < P->n_claim_headers; i++)
		d->remove[d->n_remove++] = P->claim_headers[i].header;

	decide(P, S, req, now, entropy, entropy_len, v, d);
	if (d->action == AC_PENDING) {
		/* nothing reaches the client or upstream until it resumes */
		d->status = 0;
		d->reason = AC_PENDING_REASON;
		d->n_add = d->n_resp_headers = 0;
	}
	audit(P, d, req, now);
}

void ac_decide(const ac_policy *P, ac_state *S, const ac_request *req,
    int64_t now, const uint8_t *entropy, size_t entropy_len, ac_decision *d)
{
	run(P, S, req, now, entropy, entropy_len, NULL, d);
}

size_t ac_decision_step(ac_decision *d, size_t max_iterations)
{
	if (d->action != AC_PENDING)
		return 0;
	return ac_password_verify_step(&d->work.verify, max_iterations);
}

void ac_decide_resume(const ac_policy *P, ac_state *S, const ac_request *req,
    int64_t now, const uint8_t *entropy, size_t entropy_len, ac_decision *d)
{
	ac_verdict v;
	ac_password_status st;

	if (d->action != AC_PENDING) {
		run(P, S, req, now, entropy, entropy_len, NULL, d);
		return;
	}
	while (ac_password_verify_step(&d->work.verify, 1u << 20) > 0)
		;
	st = ac_password_verify_finish(&d->work.verify);
	memcpy(v.tag, d->work.tag, sizeof v.tag);
	v.kind = d->work.kind;
	v.match = st == AC_PW_MATCH && d->work.known;
	v.began = d->work.began;
	/* the check is over: its in-flight slot is free for another */
	ac_pending_release(S, d->work.slot, d->work.ticket);
	run(P, S, req, now, entropy, entropy_len, &v, d);
	memset(&v, 0, sizeof v);
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
	aj_w_lit(&w, d->action == AC_ALLOW ? "\"allow\"" :
	    d->action == AC_PENDING ? "\"pending\"" : "\"respond\"");
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
	/* response headers as [name, value] pairs: Set-Cookie repeats */
	aj_w_lit(&w, ",\"headers\":[");
	for (i = 0; i < d->n_resp_headers; i++) {
		if (i)
			aj_w_lit(&w, ",");
		aj_w_lit(&w, "[");
		aj_w_str(&w, d->resp_headers[i].name.ptr,
		    d->resp_headers[i].name.len);
		aj_w_lit(&w, ",");
		aj_w_str(&w, d->resp_headers[i].value.ptr,
		    d->resp_headers[i].value.len);
		aj_w_lit(&w, "]");
	}
	aj_w_lit(&w, "]");
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
