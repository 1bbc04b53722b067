/*
 * The login flow: the endpoints under the mount prefix, password checks
 * (form, JSON and HTTP Basic) and the answer an unauthenticated client
 * understands.
 *
 *   GET  <prefix>/auth/login   the login page (keeps a safe `next`)
 *   POST <prefix>/auth/login   form or JSON: session + CSRF cookies, then
 *                              303 to `next` (form), 200 JSON, or 200 with
 *                              HX-Redirect (htmx)
 *   GET|POST <prefix>/auth/logout   clears both cookies
 *   GET  <prefix>/auth/whoami  the identity as JSON (ac_decide.c)
 *
 * A password check never runs inside a decision: the decision says
 * AC_PENDING and carries a resumable PBKDF2 verification; the host runs it
 * in slices and resumes, and the verdict comes back bound (by a keyed MAC)
 * to the user, password and stored hash it checked. An unknown user costs
 * the same work as a known one (the first user's hash is run as a decoy).
 * Attempts count per client address (a budget whatever user it names)
 * and per (client address, user); past either limit the answer is 429
 * before any hashing, and past the cap on checks in flight it is 503.
 */
#include "ac_internal.h"

enum { R_NONE = 0, R_LOGIN = AC_ROUTE_LOGIN, R_LOGOUT = AC_ROUTE_LOGOUT,
	R_WHOAMI = AC_ROUTE_WHOAMI };

static const char LOGIN_PATH[] = "/auth/login";

/* path[0..n) == prefix + tail */
static int is_route(const ac_policy *P, const char *p, size_t n,
    const char *tail)
{
	size_t t = strlen(tail);
	return n == P->prefix.len + t &&
	    memcmp(p, P->prefix.ptr, P->prefix.len) == 0 &&
	    memcmp(p + P->prefix.len, tail, t) == 0;
}

int ac_login_route(const ac_policy *P, const ac_request *req, size_t path_len)
{
	if (!P->login)
		return R_NONE;
	if (is_route(P, req->path.ptr, path_len, LOGIN_PATH))
		return R_LOGIN;
	if (is_route(P, req->path.ptr, path_len, "/auth/logout"))
		return R_LOGOUT;
	if (is_route(P, req->path.ptr, path_len, "/auth/whoami"))
		return R_WHOAMI;
	return R_NONE;
}

int ac_wants_body(const ac_policy *P, const char *method, size_t method_len,
    const char *path, size_t path_len)
{
	const char *q = path_len ? memchr(path, '?', path_len) : NULL;

	if (P == NULL || !P->login || method_len != 4 ||
	    memcmp(method, "POST", 4) != 0)
		return 0;
	if (q != NULL)
		path_len = (size_t)(q - path);
	return is_route(P, path, path_len, LOGIN_PATH);
}

unsigned ac_needs(const ac_policy *P, const ac_request *req)
{
	unsigned n = 0;
	size_t i, path_len = req->path.len;
	const char *q = path_len ? memchr(req->path.ptr, '?', path_len) : NULL;

	if (P == NULL || !P->login)
		return 0;
	if (ac_wants_body(P, req->method.ptr, req->method.len, req->path.ptr,
	    req->path.len))
		n |= AC_NEEDS_BODY;
	if (q != NULL)
		path_len = (size_t)(q - req->path.ptr);
	if (ac_login_route(P, req, path_len) == R_LOGIN &&
	    ac_str_eq(req->method, "POST", 4))
		n |= AC_NEEDS_STATE;
	for (i = 0; P->basic && i < req->n_headers; i++) {
		const ac_header *h = &req->headers[i];
		if (ac_ascii_ieq(h->name.ptr, h->name.len, "authorization", 13) &&
		    h->value.len >= 5 &&
		    ac_ascii_ieq(h->value.ptr, 5, "basic", 5))
			n |= AC_NEEDS_STATE;
	}
	return n;
}

/* ---- small text helpers */

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

static int has_ctl(ac_str s)
{
	size_t i;
	for (i = 0; i < s.len; i++)
		if ((unsigned char)s.ptr[i] < 0x20 || s.ptr[i] == 0x7f)
			return 1;
	return 0;
}

/* Case-insensitive substring test for header values (Accept). */
static int contains(ac_str h, const char *needle)
{
	size_t n = strlen(needle), i;
	for (i = 0; i + n <= h.len; i++)
		if (ac_ascii_ieq(h.ptr + i, n, needle, n))
			return 1;
	return 0;
}

static int is_htmx(const ac_request *req)
{
	ac_str v;
	return ac_d_header(req, "hx-request", &v) == 1 &&
	    ac_str_eq(v, "true", 4);
}

/* A login post another site made (login CSRF: the victim is logged in as
 * the attacker). Refused when Sec-Fetch-Site is sent and is not
 * same-origin or none (same-site is another origin too), or when Origin is
 * sent and is not this request's own. Clients that send neither (curl,
 * scripts) pass. */
static int cross_site(const ac_request *req)
{
	return !ac_req_same_origin(req, req->https);
}

static int wants_json(const ac_request *req)
{
	ac_str v;
	if (ac_d_header(req, "content-type", &v) == 1 &&
	    v.len >= 16 && ac_ascii_ieq(v.ptr, 16, "application/json", 16))
		return 1;
	return ac_d_header(req, "accept", &v) == 1 &&
	    contains(v, "application/json") && !contains(v, "text/html");
}

/* Appends text to the decision buffer, HTML-escaped. */
static void put_html(ac_decision *d, const char *s, size_t n)
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
			ac_d_put(d, e, strlen(e));
		else
			ac_d_put(d, s + i, 1);
	}
}

static void put_lit(ac_decision *d, const char *s)
{
	ac_d_put(d, s, strlen(s));
}

/* Percent-encodes everything but RFC 3986 unreserved characters and '/'. */
static void put_pct(ac_decision *d, const char *s, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t i;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
		    c == '~' || c == '/') {
			ac_d_put(d, s + i, 1);
		} else {
			char e[3] = { '%', hex[c >> 4], hex[c & 15] };
			ac_d_put(d, e, 3);
		}
	}
}

/* A redirect target as a header value: bytes a URI may not hold raw
 * (non-ASCII, spaces, quotes, <>\^`{|}) percent-encoded, everything else
 * (the path and query structure, '%' escapes already there) as it is. */
static ac_str put_location(ac_decision *d, ac_str next)
{
	static const char hex[] = "0123456789ABCDEF";
	ac_str out;
	size_t start = d->buf_len, i;

	for (i = 0; i < next.len; i++) {
		unsigned char c = (unsigned char)next.ptr[i];
		if (c < 0x21 || c >= 0x7f || strchr("\"<>\\^`{|}", c) != NULL) {
			char e[3] = { '%', hex[c >> 4], hex[c & 15] };
			ac_d_put(d, e, 3);
		} else {
			ac_d_put(d, next.ptr + i, 1);
		}
	}
	out.ptr = d->buf + start;
	out.len = d->buf_len - start;
	return out;
}

/* A JSON writer over the free end of the decision buffer (the caller adds
 * w.len to buf_len when done). */
static aj_writer buf_writer(ac_decision *d)
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
	ac_d_put(d, tmp, w.len);
}

/* Where a login goes back to: a same-origin absolute path ("/x", never
 * "//host" or "/\host", which browsers read as another origin), no control
 * bytes or backslashes; anything else becomes the prefix's root. */
static ac_str safe_next(const ac_policy *P, ac_str raw)
{
	static const char root[] = "/";
	ac_str home;
	size_t i;
	int ok = raw.len >= 1 && raw.len <= AC_NEXT_MAX && raw.ptr[0] == '/' &&
	    !(raw.len >= 2 && (raw.ptr[1] == '/' || raw.ptr[1] == '\\'));

	for (i = 0; ok && i < raw.len; i++) {
		unsigned char c = (unsigned char)raw.ptr[i];
		if (c < 0x21 || c == 0x7f || c == '\\')
			ok = 0;
	}
	if (ok)
		return raw;
	home.ptr = P->prefix.len ? P->prefix.ptr : root;
	home.len = P->prefix.len ? P->prefix.len : 1;
	return home;
}

/* The `next` query parameter of the request, percent-decoded into the
 * decision buffer (empty if absent or undecodable). */
static ac_str query_next(const ac_request *req, ac_decision *d)
{
	ac_str out = { NULL, 0 };
	const char *q = memchr(req->path.ptr, '?', req->path.len);
	size_t p, n = req->path.len;

	if (q == NULL)
		return out;
	p = (size_t)(q - req->path.ptr) + 1;
	while (p < n) {
		size_t e = p;
		while (e < n && req->path.ptr[e] != '&')
			e++;
		if (e - p > 5 && memcmp(req->path.ptr + p, "next=", 5) == 0) {
			if (decode_to_buf(d, req->path.ptr + p + 5, e - p - 5,
			    &out) < 0)
				out.len = 0;
			return out;
		}
		p = e + 1;
	}
	return out;
}

/* prefix + "/auth/login" [+ "?next=" + next] into the buffer. */
static ac_str login_url(const ac_policy *P, ac_decision *d, ac_str next)
{
	ac_str u;
	size_t start = d->buf_len;

	ac_d_put(d, P->prefix.ptr, P->prefix.len);
	put_lit(d, LOGIN_PATH);
	if (next.len) {
		put_lit(d, "?next=");
		put_pct(d, next.ptr, next.len);
	}
	u.ptr = d->buf + start;
	u.len = d->buf_len - start;
	return u;
}

static void header_str(ac_decision *d, const char *name, ac_str v)
{
	ac_d_resp_header(d, name, v.ptr, v.len);
}

/* ---- the login page */

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
static const char PAGE_TAIL[] =
    "><button type=\"submit\">Sign in</button></form></main></body></html>\n";

static void page_headers(ac_decision *d)
{
	static const char csp[] = "default-src 'none'; style-src 'unsafe-inline'; "
	    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'";
	ac_d_resp_header(d, "content-type", "text/html; charset=utf-8", 24);
	ac_d_resp_header(d, "cache-control", "no-store", 8);
	ac_d_resp_header(d, "content-security-policy", csp, sizeof csp - 1);
	ac_d_resp_header(d, "x-frame-options", "DENY", 4);
	ac_d_resp_header(d, "x-content-type-options", "nosniff", 7);
	ac_d_resp_header(d, "referrer-policy", "same-origin", 11);
}

/* The page; `user` (may be empty) refills the username field after a
 * failed attempt, and the password field has the focus. */
static void login_page(const ac_policy *P, ac_decision *d, int status,
    ac_reason r, ac_str next, ac_str user, const char *error)
{
	size_t start;
	ac_str action;

	d->action = AC_RESPOND;
	d->status = status;
	d->reason = r;
	action = login_url(P, d, (ac_str){ NULL, 0 });
	start = d->buf_len;
	put_lit(d, PAGE_HEAD);
	put_html(d, P->title.ptr, P->title.len);
	put_lit(d, PAGE_STYLE);
	put_html(d, P->title.ptr, P->title.len);
	put_lit(d, "</h1>");
	if (error != NULL) {
		put_lit(d, "<p id=\"login-error\" role=\"alert\">");
		put_lit(d, error);
		put_lit(d, "</p><form method=\"post\" action=\"");
		put_html(d, action.ptr, action.len);
		put_lit(d, "\" aria-describedby=\"login-error\">");
	} else {
		put_lit(d, "<form method=\"post\" action=\"");
		put_html(d, action.ptr, action.len);
		put_lit(d, "\">");
	}
	put_lit(d, PAGE_FORM);
	put_html(d, next.ptr, next.len);
	put_lit(d, PAGE_USER);
	put_html(d, user.ptr, user.len);
	/* the focus goes to the first field still to fill in */
	put_lit(d, user.len ? "\"" : "\" autofocus");
	put_lit(d, PAGE_PASSWORD);
	put_lit(d, user.len ? " autofocus" : "");
	put_lit(d, PAGE_TAIL);
	d->body.ptr = d->buf + start;
	d->body.len = d->buf_len - start;
	page_headers(d);
}

static void json_answer(ac_decision *d, int status, ac_reason r,
    const char *body)
{
	d->action = AC_RESPOND;
	d->status = status;
	d->reason = r;
	d->body.ptr = body;
	d->body.len = strlen(body);
	ac_d_resp_header(d, "content-type", "application/json", 16);
	ac_d_resp_header(d, "cache-control", "no-store", 8);
}

/* ---- cookies */

void ac_login_cookie(const ac_policy *P, const ac_request *req,
    ac_decision *d, ac_str name, const char *val, size_t vlen,
    int64_t max_age, int http_only)
{
	size_t start = d->buf_len;

	ac_d_put(d, name.ptr, name.len);
	put_lit(d, "=");
	ac_d_put(d, val, vlen);
	put_lit(d, "; Path=");
	if (P->prefix.len)
		ac_d_put(d, P->prefix.ptr, P->prefix.len);
	else
		put_lit(d, "/");
	put_lit(d, "; Max-Age=");
	put_num(d, max_age);
	if (http_only)
		put_lit(d, "; HttpOnly");
	put_lit(d, "; SameSite=Strict");
	if (req->https)
		put_lit(d, "; Secure");
	ac_d_resp_header(d, "set-cookie", d->buf + start, d->buf_len - start);
}

/* ---- users */

static const ac_user *find_user(const ac_policy *P, ac_str name)
{
	size_t i;
	for (i = 0; i < P->n_users; i++)
		if (ac_str_eq(P->users[i].name, name.ptr, name.len))
			return &P->users[i];
	return NULL;
}

/* Outcome of the password step shared by the form and Basic paths. */
enum { PW_MATCH, PW_FAIL, PW_PENDING, PW_THROTTLED, PW_OVERLOADED };

/* Checks (user, password): a verdict for exactly these credentials, or a
 * refusal, or a new pending check in d->work. In order, before any
 * hashing: the client's budget (login.client_attempts, whatever user it
 * names), then the (client, user) count (login.attempts), both
 * PW_THROTTLED (429); then room for the check: an in-flight slot
 * (login.max_pending) and a counter slot in both tables, else
 * PW_OVERLOADED (503). Only then is the attempt counted and the check
 * begun; *retry is the Retry-After of a refusal. The client is the one
 * the decision took (d->client: trusted proxies applied). */
static int password_step(const ac_policy *P, ac_state *S,
    const ac_request *req, int64_t now, const ac_verdict *v, int kind,
    ac_str name, ac_str password, const ac_user **who, ac_decision *d,
    int64_t *retry)
{
	const ac_user *u = find_user(P, name);
	ac_str hash = u != NULL ? u->hash : P->users[0].hash;
	ac_str client = d->client;
	uint8_t tag[32];
	uint32_t slot = 0;
	uint64_t ticket = 0;
	ac_password_status st;

	(void)req;
	*who = u;
	ac_cred_tag(S, P, name, password, hash, tag);
	if (v != NULL && v->kind == kind && ac_ct_equal(v->tag, tag, 32)) {
		memset(tag, 0, sizeof tag);
		if (v->match && u != NULL) {
			ac_attempt_success(S, P, client, name, v->began);
			return PW_MATCH;
		}
		/* the failure was counted when the check began */
		d->reason = u == NULL ? AC_UNKNOWN_USER : AC_BAD_PASSWORD;
		return PW_FAIL;
	}
	*retry = ac_budget_check(S, P, client, now);
	if (*retry == 0)
		*retry = ac_throttle_check(S, P, client, name, now);
	if (*retry > 0) {
		memset(tag, 0, sizeof tag);
		return PW_THROTTLED;
	}
	st = ac_password_verify_begin(&d->work.verify, hash.ptr, hash.len,
	    password.ptr, password.len, &P->pw_limits);
	if (st == AC_PW_PENDING &&
	    ac_pending_take(S, P, now, &slot, &ticket) < 0) {
		/* checks in flight are at the cap: none more starts */
		ac_password_verify_wipe(&d->work.verify);
		memset(tag, 0, sizeof tag);
		*retry = 1;
		return PW_OVERLOADED;
	}
	/* counted now, cleared if it matches: guesses sent side by side
	 * while checks run cannot get past the limits */
	if (ac_attempt_begin(S, P, client, name, now, retry) < 0) {
		/* every counter slot it could take is locked: refuse rather
		 * than forget a locked count */
		ac_pending_release(S, slot, ticket);
		ac_password_verify_wipe(&d->work.verify);
		memset(tag, 0, sizeof tag);
		return PW_OVERLOADED;
	}
	if (st != AC_PW_PENDING) {
		/* over the length limit (hashes were checked at load): a
		 * failure, counted, with no hashing */
		ac_password_verify_wipe(&d->work.verify);
		memset(tag, 0, sizeof tag);
		d->reason = u == NULL ? AC_UNKNOWN_USER : AC_BAD_PASSWORD;
		return PW_FAIL;
	}
	memcpy(d->work.tag, tag, sizeof tag);
	memset(tag, 0, sizeof tag);
	d->work.kind = kind;
	d->work.known = u != NULL;
	d->work.slot = slot;
	d->work.ticket = ticket;
	d->work.began = now;
	d->action = AC_PENDING;
	return PW_PENDING;
}

static void retry_after(ac_decision *d, int64_t secs)
{
	size_t start = d->buf_len;
	put_num(d, secs);
	ac_d_resp_header(d, "retry-after", d->buf + start, d->buf_len - start);
}

/* A session that verified under an older key, re-signed with the current
 * one (same id, user, roles and expiry), with its new CSRF token: rotation
 * moves live sessions to the new key as they are used. */
void ac_login_reissue(const ac_policy *P, const ac_request *req,
    int64_t now, ac_decision *d)
{
	const ac_session *s = &d->session;
	char tok[AC_SESSION_TOKEN_MAX];
	char csrf[AC_CSRF_TOKEN_LEN];
	size_t tl;

	if (s->exp - now < 1 || (tl = ac_session_issue(tok, sizeof tok,
	    &P->session_keys[0], s->sid, s->user.ptr, s->user.len, s->roles,
	    s->n_roles, now, s->exp - now)) == 0)
		return;
	ac_login_cookie(P, req, d, P->session_cookie, tok, tl, s->exp - now, 1);
	if (P->csrf && ac_csrf_token(csrf, &P->session_keys[0], tok, tl) != 0)
		ac_login_cookie(P, req, d, P->csrf_cookie, csrf, sizeof csrf,
		    s->exp - now, 0);
	memset(tok, 0, sizeof tok);
}

/* ---- POST <prefix>/auth/login */

typedef struct {
	ac_str user, next;
	char password[4096];
	size_t password_len;
} login_form;

/* 0 ok; -1 malformed (or a field repeated, or missing). */
static int parse_form(const ac_request *req, ac_decision *d, login_form *f)
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

static int parse_json(const ac_request *req, ac_decision *d, login_form *f)
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

/* A failed login: the generic answer each kind of client reads. */
static void login_failed(const ac_policy *P, const ac_request *req,
    ac_decision *d, int json, int status, ac_reason r, ac_str next,
    ac_str user, const char *msg)
{
	if (json) {
		json_answer(d, status, r, status == 429 ?
		    "{\"error\":\"too_many_attempts\"}" : status == 503 ?
		    "{\"error\":\"overloaded\"}" : status == 400 ?
		    "{\"error\":\"bad_request\"}" :
		    "{\"error\":\"invalid_credentials\"}");
	} else {
		login_page(P, d, status, r, next, user, msg);
	}
	(void)req;
}

static void logged_in(const ac_policy *P, const ac_request *req,
    int64_t now, const uint8_t *entropy, size_t entropy_len,
    const ac_user *u, ac_str next, int json, ac_decision *d)
{
	char tok[AC_SESSION_TOKEN_MAX];
	char csrf[AC_CSRF_TOKEN_LEN];
	size_t tl, before;

	if (entropy == NULL || entropy_len < AC_SESSION_ID_LEN ||
	    (tl = ac_session_issue(tok, sizeof tok, &P->session_keys[0],
	    entropy, u->name.ptr, u->name.len, u->roles, u->n_roles, now,
	    P->session_ttl)) == 0 ||
	    ac_csrf_token(csrf, &P->session_keys[0], tok, tl) == 0) {
		ac_d_respond(d, 500, AC_NO_STATE);
		return;
	}
	before = d->n_resp_headers;
	/* the form's fields may have filled the answer's buffer: a login
	 * whose cookies cannot be sent whole must not answer as if it
	 * worked (each cookie's attributes take well under 256 bytes) */
	if (sizeof d->buf - d->buf_len < tl + sizeof csrf + 2 * 256 +
	    2 * P->prefix.len) {
		memset(tok, 0, sizeof tok);
		ac_d_respond(d, 413, AC_BODY_TOO_LARGE);
		return;
	}
	ac_login_cookie(P, req, d, P->session_cookie, tok, tl, P->session_ttl, 1);
	ac_login_cookie(P, req, d, P->csrf_cookie, csrf, sizeof csrf, P->session_ttl, 0);
	memset(tok, 0, sizeof tok);
	if (d->n_resp_headers != before + 2) {
		d->n_resp_headers = before;
		ac_d_respond(d, 413, AC_BODY_TOO_LARGE);
		return;
	}
	d->user = u->name;
	d->action = AC_RESPOND;
	d->reason = AC_OK;
	if (json) {
		size_t start = d->buf_len;
		aj_writer w = buf_writer(d);
		aj_w_lit(&w, "{\"ok\":true,\"user\":");
		aj_w_str(&w, u->name.ptr, u->name.len);
		aj_w_lit(&w, ",\"next\":");
		aj_w_str(&w, next.ptr, next.len);
		aj_w_lit(&w, "}");
		d->buf_len += w.len;
		d->status = 200;
		d->body.ptr = d->buf + start;
		d->body.len = w.len;
		ac_d_resp_header(d, "content-type", "application/json", 16);
	} else if (is_htmx(req)) {
		d->status = 200;
		header_str(d, "hx-redirect", put_location(d, next));
	} else {
		d->status = 303;
		header_str(d, "location", put_location(d, next));
	}
	ac_d_resp_header(d, "cache-control", "no-store", 8);
}

static void login_post(const ac_policy *P, ac_state *S, const ac_request *req,
    int64_t now, const uint8_t *entropy, size_t entropy_len,
    const ac_verdict *v, ac_decision *d)
{
	login_form f;
	ac_str next, pw;
	const ac_user *u;
	int json = wants_json(req), r;
	int64_t retry = 0;
	static const ac_str none = { NULL, 0 };

	if (req->body_too_large) {
		ac_d_respond(d, 413, AC_BODY_TOO_LARGE);
		return;
	}
	if (cross_site(req)) {
		/* login CSRF: another site's form would sign the victim in
		 * as the attacker */
		ac_d_respond(d, 403, AC_CSRF_FAILED);
		return;
	}
	if (!ac_state_ok(S)) {
		ac_d_respond(d, 500, AC_NO_STATE);
		return;
	}
	memset(&f, 0, sizeof f);
	d->auth_method.ptr = "password";
	d->auth_method.len = 8;
	{
		ac_str ct = { NULL, 0 };
		int is_json = ac_d_header(req, "content-type", &ct) == 1 &&
		    ct.len >= 16 && ac_ascii_ieq(ct.ptr, 16, "application/json", 16);
		r = is_json ? parse_json(req, d, &f) : parse_form(req, d, &f);
	}
	if (r < 0 || f.user.len == 0 || f.user.len > AC_SESSION_USER_MAX ||
	    has_ctl(f.user)) {
		memset(&f, 0, sizeof f);
		login_failed(P, req, d, json, 400, AC_INVALID_REQUEST, none, none,
		    "Enter a username and a password.");
		return;
	}
	d->login_user = f.user;
	next = safe_next(P, f.next);
	pw.ptr = f.password;
	pw.len = f.password_len;
	r = password_step(P, S, req, now, v, 'L', f.user, pw, &u, d, &retry);
	memset(f.password, 0, sizeof f.password);
	switch (r) {
	case PW_MATCH:
		logged_in(P, req, now, entropy, entropy_len, u, next, json, d);
		return;
	case PW_PENDING:
		return;
	case PW_THROTTLED:
		login_failed(P, req, d, json, 429, AC_TOO_MANY_ATTEMPTS, next,
		    f.user, "Too many failed attempts. Try again later.");
		retry_after(d, retry);
		return;
	case PW_OVERLOADED:
		login_failed(P, req, d, json, 503, AC_OVERLOADED, next,
		    f.user, "Too many sign-ins at once. Try again in a moment.");
		retry_after(d, retry);
		return;
	default:
		login_failed(P, req, d, json, 401, d->reason, next, f.user,
		    "Invalid username or password.");
		return;
	}
}

static void logout(const ac_policy *P, const ac_request *req, int64_t now,
    ac_decision *d)
{
	ac_str tok;

	/* the audit line names who logged out when the session is valid */
	if (ac_d_cookie(req, P->session_cookie, &tok) == 1 &&
	    ac_session_verify(P->session_keys, P->n_session_keys, tok.ptr,
	    tok.len, now, &d->session) == AC_OK) {
		d->user = d->session.user;
		d->auth_method.ptr = "session";
		d->auth_method.len = 7;
	}
	ac_login_cookie(P, req, d, P->session_cookie, "", 0, 0, 1);
	ac_login_cookie(P, req, d, P->csrf_cookie, "", 0, 0, 0);
	if (wants_json(req)) {
		json_answer(d, 200, AC_LOGGED_OUT, "{\"ok\":true}");
		return;
	}
	d->action = AC_RESPOND;
	d->reason = AC_LOGGED_OUT;
	ac_d_resp_header(d, "cache-control", "no-store", 8);
	if (is_htmx(req)) {
		d->status = 200;
		header_str(d, "hx-redirect", login_url(P, d, (ac_str){ NULL, 0 }));
	} else {
		d->status = 303;
		header_str(d, "location", login_url(P, d, (ac_str){ NULL, 0 }));
	}
}

void ac_login_decide(const ac_policy *P, ac_state *S, const ac_request *req,
    size_t path_len, int64_t now, const uint8_t *entropy, size_t entropy_len,
    const ac_verdict *v, ac_decision *d)
{
	int route = ac_login_route(P, req, path_len);
	ac_str m = req->method;
	int get = ac_str_eq(m, "GET", 3) || ac_str_eq(m, "HEAD", 4);

	if (route == R_LOGIN && get) {
		login_page(P, d, 200, AC_PUBLIC, safe_next(P,
		    query_next(req, d)), (ac_str){ NULL, 0 }, NULL);
	} else if (route == R_LOGIN && ac_str_eq(m, "POST", 4)) {
		login_post(P, S, req, now, entropy, entropy_len, v, d);
	} else if (route == R_LOGOUT && (get || ac_str_eq(m, "POST", 4))) {
		logout(P, req, now, d);
	} else {
		static const char body[] = "{\"error\":\"method_not_allowed\"}";
		d->action = AC_RESPOND;
		d->status = 405;
		d->reason = AC_INVALID_REQUEST;
		d->body.ptr = body;
		d->body.len = sizeof body - 1;
		ac_d_resp_header(d, "allow", route == R_WHOAMI ? "GET, HEAD" :
		    "GET, HEAD, POST", route == R_WHOAMI ? 9 : 15);
		ac_d_resp_header(d, "content-type", "application/json", 16);
	}
}

/* ---- HTTP Basic */

/* WWW-Authenticate: Basic (RFC 7617), with the UTF-8 charset parameter. */
static void basic_challenge(const ac_policy *P, ac_decision *d)
{
	size_t start = d->buf_len;
	put_lit(d, "Basic realm=\"");
	ac_d_put(d, P->realm.ptr, P->realm.len);
	put_lit(d, "\", charset=\"UTF-8\"");
	ac_d_resp_header(d, "www-authenticate", d->buf + start,
	    d->buf_len - start);
}

int ac_login_basic(const ac_policy *P, ac_state *S, const ac_request *req,
    int64_t now, const ac_verdict *v, ac_decision *d, ac_ident *id)
{
	ac_str h, b64, name, pw;
	uint8_t raw[AC_SESSION_USER_MAX + 1 + 4096 + 3];
	size_t rl, colon;
	const ac_user *u;
	int64_t retry = 0;
	int r;

	if (ac_d_header(req, "authorization", &h) != 1 || h.len < 6 ||
	    !ac_ascii_ieq(h.ptr, 6, "Basic ", 6))
		return -1; /* not Basic: the other sources decide */
	d->auth_method.ptr = "basic";
	d->auth_method.len = 5;
	b64.ptr = h.ptr + 6;
	b64.len = h.len - 6;
	while (b64.len && b64.ptr[0] == ' ')
		b64.ptr++, b64.len--;
	if (ac_b64_decode(raw, sizeof raw, &rl, b64.ptr, b64.len, '+', 1) < 0) {
		ac_d_respond(d, 400, AC_INVALID_REQUEST);
		return 0;
	}
	for (colon = 0; colon < rl && raw[colon] != ':'; colon++)
		;
	name.ptr = ac_d_put(d, (const char *)raw, colon);
	name.len = colon;
	if (colon == rl || colon == 0 || colon > AC_SESSION_USER_MAX ||
	    name.ptr == NULL || has_ctl(name)) {
		memset(raw, 0, sizeof raw);
		ac_d_respond(d, 400, AC_INVALID_REQUEST);
		return 0;
	}
	d->login_user = name;
	if (!ac_state_ok(S)) {
		memset(raw, 0, sizeof raw);
		ac_d_respond(d, 500, AC_NO_STATE);
		return 0;
	}
	pw.ptr = (const char *)raw + colon + 1;
	pw.len = rl - colon - 1;
	u = find_user(P, name);
	if (u != NULL) {
		uint8_t tag[32];
		int hit;
		ac_cred_tag(S, P, name, pw, u->hash, tag);
		hit = ac_cred_lookup(S, tag, now);
		memset(tag, 0, sizeof tag);
		if (hit) {
			memset(raw, 0, sizeof raw);
			goto identified;
		}
	}
	r = password_step(P, S, req, now, v, 'B', name, pw, &u, d, &retry);
	if (r == PW_MATCH) {
		uint8_t tag[32];
		ac_cred_tag(S, P, name, pw, u->hash, tag);
		ac_cred_insert(S, tag, now + P->basic_cache_ttl);
		memset(tag, 0, sizeof tag);
	}
	memset(raw, 0, sizeof raw);
	if (r == PW_PENDING)
		return 0;
	if (r == PW_THROTTLED) {
		ac_d_respond(d, 429, AC_TOO_MANY_ATTEMPTS);
		retry_after(d, retry);
		return 0;
	}
	if (r == PW_OVERLOADED) {
		json_answer(d, 503, AC_OVERLOADED, "{\"error\":\"overloaded\"}");
		retry_after(d, retry);
		return 0;
	}
	if (r == PW_FAIL) {
		basic_challenge(P, d);
		ac_d_respond(d, 401, d->reason);
		return 0;
	}
identified:
	d->user = u->name;
	id->user = u->name;
	id->roles = id->perms = u->roles;
	id->n_roles = id->n_perms = u->n_roles;
	return 1;
}

/* ---- what an unauthenticated client is told */

void ac_login_challenge(const ac_policy *P, const ac_request *req,
    size_t path_len, ac_decision *d)
{
	ac_str accept, next;
	int under = P->prefix.len == 0 || (path_len >= P->prefix.len &&
	    memcmp(req->path.ptr, P->prefix.ptr, P->prefix.len) == 0 &&
	    (path_len == P->prefix.len || req->path.ptr[P->prefix.len] == '/'));

	/* tools that sent a token, an API key or Basic credentials get the
	 * 401 they can act on; only cookie users are sent to the page */
	if (!under || (d->auth_method.len != 0 &&
	    !ac_str_eq(d->auth_method, "session", 7)))
		return;
	if (P->basic)
		basic_challenge(P, d);
	next.ptr = req->path.ptr;
	next.len = req->path.len;
	if (is_htmx(req)) {
		header_str(d, "hx-redirect", login_url(P, d, next));
		return;
	}
	if ((ac_str_eq(req->method, "GET", 3) ||
	    ac_str_eq(req->method, "HEAD", 4)) &&
	    ac_d_header(req, "accept", &accept) == 1 &&
	    contains(accept, "text/html")) {
		d->n_resp_headers = 0;
		d->status = 302;
		d->body.ptr = "";
		d->body.len = 0;
		header_str(d, "location", login_url(P, d, next));
		ac_d_resp_header(d, "cache-control", "no-store", 8);
	}
}

/* ---- GET <prefix>/auth/whoami, for ac_decide.c */

void ac_login_whoami(ac_decision *d, const ac_ident *id)
{
	size_t start = d->buf_len, i;
	aj_writer w = buf_writer(d);

	aj_w_lit(&w, "{\"user\":");
	aj_w_str(&w, id->user.ptr, id->user.len);
	aj_w_lit(&w, ",\"roles\":[");
	for (i = 0; i < id->n_roles; i++) {
		if (i)
			aj_w_lit(&w, ",");
		aj_w_str(&w, id->roles[i].ptr, id->roles[i].len);
	}
	aj_w_lit(&w, "],\"auth\":");
	aj_w_str(&w, d->auth_method.ptr, d->auth_method.len);
	aj_w_lit(&w, "}");
	d->buf_len += w.len;
	json_answer(d, 200, AC_OK, "");
	d->body.ptr = d->buf + start;
	d->body.len = w.len;
}
