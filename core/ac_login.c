/*
 * The login endpoints under the mount prefix, and the answer an
 * unauthenticated client understands.
 *
 *   GET  <prefix>/auth/login   the login page (keeps a safe `next`)
 *   POST <prefix>/auth/login   form or JSON: session + CSRF cookies, then
 *                              303 to `next` (form), 200 JSON, or 200 with
 *                              HX-Redirect (htmx)
 *   GET|POST <prefix>/auth/logout   clears both cookies
 *   GET  <prefix>/auth/whoami  the identity as JSON
 *
 * The password check itself is ac_identify.c's (login posts and Basic
 * credentials share it).
 */
#include "ac_login.h"
#include "ac_reply.h"
#include "ac_request_int.h"
#include "ac_state_int.h"

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
	if (P->whoami.ptr != NULL ? ac_str_eq(P->whoami, req->path.ptr,
	    path_len) : is_route(P, req->path.ptr, path_len, "/auth/whoami"))
		return R_WHOAMI;
	return R_NONE;
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

int ac_login_next_ok(ac_str raw)
{
	size_t i;
	int ok = raw.len >= 1 && raw.len <= AC_NEXT_MAX && raw.ptr[0] == '/' &&
	    !(raw.len >= 2 && (raw.ptr[1] == '/' || raw.ptr[1] == '\\'));

	for (i = 0; ok && i < raw.len; i++) {
		unsigned char c = (unsigned char)raw.ptr[i];
		if (c < 0x21 || c == 0x7f || c == '\\')
			ok = 0;
	}
	return ok;
}

ac_str ac_login_safe_next(const ac_policy *P, ac_str raw)
{
	static const char root[] = "/";
	ac_str home;

	if (ac_login_next_ok(raw))
		return raw;
	if (P->landing.ptr != NULL)
		return P->landing;
	home.ptr = P->prefix.len ? P->prefix.ptr : root;
	home.len = P->prefix.len ? P->prefix.len : 1;
	return home;
}

/* prefix + "/auth/login" [+ "?next=" + next] into the buffer. */
static ac_str login_url(const ac_policy *P, ac_decision *d, ac_str next)
{
	ac_str u;
	size_t start = d->buf_len;

	ac_reply_put(d, P->prefix.ptr, P->prefix.len);
	ac_reply_lit(d, LOGIN_PATH);
	if (next.len) {
		ac_reply_lit(d, "?next=");
		ac_reply_pct(d, next.ptr, next.len);
	}
	u.ptr = d->buf + start;
	u.len = d->buf_len - start;
	return u;
}

/* login_url [+ "?" or "&" + "next=" + next] into the buffer. */
static ac_str external_url(const ac_policy *P, ac_decision *d, ac_str next)
{
	ac_str u;
	size_t start = d->buf_len;

	ac_reply_put(d, P->login_url.ptr, P->login_url.len);
	if (ac_login_next_ok(next)) {
		ac_reply_lit(d, memchr(P->login_url.ptr, '?',
		    P->login_url.len) != NULL ? "&next=" : "?next=");
		ac_reply_pct(d, next.ptr, next.len);
	}
	u.ptr = d->buf + start;
	u.len = d->buf_len - start;
	return u;
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

	if (s->exp - now < 1 || (tl = ac_session_issue_cred(tok, sizeof tok,
	    &P->session_keys[0], s->sid, s->user.ptr, s->user.len, s->roles,
	    s->n_roles, now, s->exp - now, s->has_cred ? s->cred : NULL)) == 0)
		return;
	ac_reply_cookie(P, req, d, P->session_cookie, tok, tl, s->exp - now, 1);
	if (P->csrf && ac_csrf_token(csrf, &P->session_keys[0], tok, tl) != 0)
		ac_reply_cookie(P, req, d, P->csrf_cookie, csrf, sizeof csrf,
		    s->exp - now, 0);
	memset(tok, 0, sizeof tok);
}

/* A failed login: the generic answer each kind of client reads. */
static void login_failed(const ac_policy *P, const ac_request *req,
    ac_decision *d, int json, int status, ac_reason r, ac_str next,
    ac_str user, const char *msg)
{
	if (json) {
		ac_reply_json(d, status, r, status == 429 ?
		    "{\"error\":\"too_many_attempts\"}" : status == 503 ?
		    "{\"error\":\"overloaded\"}" : status == 400 ?
		    "{\"error\":\"bad_request\"}" :
		    "{\"error\":\"invalid_credentials\"}");
	} else {
		ac_reply_login_page(P, d, status, r, login_url(P, d,
		    (ac_str){ NULL, 0 }), next, user, msg);
	}
	(void)req;
}

void ac_login_issue(const ac_policy *P, const ac_request *req,
    int64_t now, const uint8_t *entropy, size_t entropy_len,
    const ac_user *u, ac_str next, int how, ac_decision *d)
{
	char tok[AC_SESSION_TOKEN_MAX];
	char csrf[AC_CSRF_TOKEN_LEN];
	size_t tl, before;

	if (entropy == NULL || entropy_len < AC_SESSION_ID_LEN ||
	    (tl = ac_session_issue_cred(tok, sizeof tok, &P->session_keys[0],
	    entropy, u->name.ptr, u->name.len, u->roles, u->n_roles, now,
	    P->session_ttl, u->hash.len > 0 ? u->cred : NULL)) == 0 ||
	    ac_csrf_token(csrf, &P->session_keys[0], tok, tl) == 0) {
		ac_reply_respond(d, 500, AC_NO_STATE);
		return;
	}
	before = d->a.n_resp_headers;
	/* the form's fields may have filled the answer's buffer: a login
	 * whose cookies cannot be sent whole must not answer as if it
	 * worked (each cookie's attributes take well under 256 bytes) */
	if (sizeof d->buf - d->buf_len < tl + sizeof csrf + 2 * 256 +
	    2 * P->prefix.len) {
		memset(tok, 0, sizeof tok);
		ac_reply_respond(d, 413, AC_BODY_TOO_LARGE);
		return;
	}
	ac_reply_cookie(P, req, d, P->session_cookie, tok, tl, P->session_ttl, 1);
	ac_reply_cookie(P, req, d, P->csrf_cookie, csrf, sizeof csrf, P->session_ttl, 0);
	memset(tok, 0, sizeof tok);
	if (d->a.n_resp_headers != before + 2) {
		d->a.n_resp_headers = before;
		ac_reply_respond(d, 413, AC_BODY_TOO_LARGE);
		return;
	}
	d->a.user = u->name;
	d->a.action = AC_RESPOND;
	d->a.reason = AC_OK;
	if (how == 'P') {
		/* a page that moves on by itself: the session cookie is
		 * SameSite=Strict, and a redirect chain that began on the
		 * provider's site would reach `next` without it */
		ac_str to = ac_reply_location(d, next);
		size_t start = d->buf_len;
		ac_reply_lit(d, "<!doctype html>\n<html lang=\"en\"><head>"
		    "<meta charset=\"utf-8\"><meta http-equiv=\"refresh\" "
		    "content=\"0;url=");
		ac_reply_html(d, to.ptr, to.len);
		ac_reply_lit(d, "\"><title>Signed in</title></head><body>"
		    "<p><a href=\"");
		ac_reply_html(d, to.ptr, to.len);
		ac_reply_lit(d, "\">Continue</a></p></body></html>\n");
		d->a.status = 200;
		d->a.body.ptr = d->buf + start;
		d->a.body.len = d->buf_len - start;
		ac_reply_header(d, "content-type", "text/html; charset=utf-8",
		    24);
		ac_reply_header(d, "content-security-policy",
		    "default-src 'none'; frame-ancestors 'none'", 42);
		d->page = 1;
	} else if (how == 'J') {
		size_t start = d->buf_len;
		aj_writer w = ac_reply_writer(d);
		aj_w_lit(&w, "{\"ok\":true,\"user\":");
		aj_w_str(&w, u->name.ptr, u->name.len);
		aj_w_lit(&w, ",\"next\":");
		aj_w_str(&w, next.ptr, next.len);
		aj_w_lit(&w, "}");
		d->buf_len += w.len;
		d->a.status = 200;
		d->a.body.ptr = d->buf + start;
		d->a.body.len = w.len;
		ac_reply_header(d, "content-type", "application/json", 16);
	} else if (ac_req_htmx(req)) {
		d->a.status = 200;
		ac_reply_header_str(d, "hx-redirect", ac_reply_location(d, next));
	} else {
		d->a.status = 303;
		ac_reply_header_str(d, "location", ac_reply_location(d, next));
	}
	ac_reply_header(d, "cache-control", "no-store", 8);
}

static void login_post(const ac_policy *P, ac_state *S, const ac_request *req,
    int64_t now, const uint8_t *entropy, size_t entropy_len,
    const ac_verdict *v, ac_decision *d)
{
	ac_login_form f;
	ac_str next, pw;
	const ac_user *u;
	int json = ac_req_wants_json(req), r;
	int64_t retry = 0;
	static const ac_str none = { NULL, 0 };

	if (req->body_too_large) {
		ac_reply_respond(d, 413, AC_BODY_TOO_LARGE);
		return;
	}
	if (cross_site(req)) {
		/* login CSRF: another site's form would sign the victim in
		 * as the attacker */
		ac_reply_respond(d, 403, AC_CSRF_FAILED);
		return;
	}
	if (!ac_state_ok(S)) {
		ac_reply_respond(d, 500, AC_NO_STATE);
		return;
	}
	memset(&f, 0, sizeof f);
	d->a.auth_method.ptr = "password";
	d->a.auth_method.len = 8;
	r = ac_req_login_form(req, d, &f);
	if (r < 0 || f.user.len == 0 || f.user.len > AC_SESSION_USER_MAX ||
	    ac_req_has_ctl(f.user)) {
		memset(&f, 0, sizeof f);
		login_failed(P, req, d, json, 400, AC_INVALID_REQUEST, none, none,
		    "Enter a username and a password.");
		return;
	}
	d->login_user = f.user;
	next = ac_login_safe_next(P, f.next);
	pw.ptr = f.password;
	pw.len = f.password_len;
	r = ac_identify_password(P, S, req, now, v, 'L', f.user, pw, &u, d, &retry);
	memset(f.password, 0, sizeof f.password);
	switch (r) {
	case AC_ID_MATCH:
		ac_login_issue(P, req, now, entropy, entropy_len, u, next,
		    json ? 'J' : 'R', d);
		return;
	case AC_ID_PENDING:
		return;
	case AC_ID_THROTTLED:
		login_failed(P, req, d, json, 429, AC_TOO_MANY_ATTEMPTS, next,
		    f.user, "Too many failed attempts. Try again later.");
		ac_reply_retry_after(d, retry);
		return;
	case AC_ID_OVERLOADED:
		login_failed(P, req, d, json, 503, AC_OVERLOADED, next,
		    f.user, "Too many sign-ins at once. Try again in a moment.");
		ac_reply_retry_after(d, retry);
		return;
	default:
		login_failed(P, req, d, json, 401, d->a.reason, next, f.user,
		    "Invalid username or password.");
		return;
	}
}

void ac_login_logout(const ac_policy *P, const ac_request *req, int64_t now,
    ac_str to, ac_decision *d)
{
	ac_str tok, none = { NULL, 0 };

	/* the audit line names who logged out when the session is valid */
	if (ac_req_cookie(req, P->session_cookie, &tok) == 1 &&
	    ac_session_verify_in(P, d, tok, now) == AC_OK) {
		d->a.user = d->session.user;
		d->a.auth_method.ptr = "session";
		d->a.auth_method.len = 7;
	}
	ac_reply_cookie(P, req, d, P->session_cookie, "", 0, 0, 1);
	ac_reply_cookie(P, req, d, P->csrf_cookie, "", 0, 0, 0);
	if (ac_req_wants_json(req)) {
		ac_reply_json(d, 200, AC_LOGGED_OUT, "{\"ok\":true}");
		return;
	}
	d->a.action = AC_RESPOND;
	d->a.reason = AC_LOGGED_OUT;
	ac_reply_header(d, "cache-control", "no-store", 8);
	/* back to where a login starts: the external page when there is
	 * one (the built-in page is then not where users sign in) */
	if (to.ptr == NULL)
		to = P->login_url.ptr != NULL ? external_url(P, d, none) :
		    login_url(P, d, none);
	if (ac_req_htmx(req)) {
		d->a.status = 200;
		ac_reply_header_str(d, "hx-redirect", to);
	} else {
		d->a.status = 303;
		ac_reply_header_str(d, "location", to);
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
		ac_str next = ac_login_safe_next(P, ac_req_query_next(req, d));
		ac_reply_login_page(P, d, 200, AC_PUBLIC, login_url(P, d,
		    (ac_str){ NULL, 0 }), next, (ac_str){ NULL, 0 }, NULL);
	} else if (route == R_LOGIN && ac_str_eq(m, "POST", 4) &&
	    P->password_login) {
		login_post(P, S, req, now, entropy, entropy_len, v, d);
	} else if (route == R_LOGOUT && (get || ac_str_eq(m, "POST", 4))) {
		ac_login_logout(P, req, now, (ac_str){ NULL, 0 }, d);
	} else {
		static const char body[] = "{\"error\":\"method_not_allowed\"}";
		d->a.action = AC_RESPOND;
		d->a.status = 405;
		d->a.reason = AC_INVALID_REQUEST;
		d->a.body.ptr = body;
		d->a.body.len = sizeof body - 1;
		int post = route == R_LOGOUT || (route == R_LOGIN &&
		    P->password_login);
		ac_reply_header(d, "allow", post ? "GET, HEAD, POST" :
		    "GET, HEAD", post ? 15 : 9);
		ac_reply_header(d, "content-type", "application/json", 16);
	}
}

void ac_login_challenge(const ac_policy *P, const ac_request *req,
    size_t path_len, const ac_ident *id, ac_decision *d)
{
	ac_str accept, next, m = d->a.auth_method, to;
	int under = P->login_url.ptr != NULL || P->prefix.len == 0 ||
	    (path_len >= P->prefix.len &&
	    memcmp(req->path.ptr, P->prefix.ptr, P->prefix.len) == 0 &&
	    (path_len == P->prefix.len || req->path.ptr[P->prefix.len] == '/'));
	/* what a browser carries by itself: nothing, the session cookie or
	 * a token cookie; htmx is a browser whatever header its page adds */
	int cookie = m.len == 0 || ac_str_eq(m, "session", 7) ||
	    (ac_str_eq(m, "jwt", 3) && id->cred_kind == 'C');
	int htmx = ac_req_htmx(req) && (cookie || ac_str_eq(m, "jwt", 3));

	/* tools that sent a token, an API key or Basic credentials get the
	 * 401 they can act on; browsers are sent to the login page */
	if (!under || !(cookie || htmx))
		return;
	if (P->basic)
		ac_reply_basic_challenge(P, d);
	next.ptr = req->path.ptr;
	next.len = req->path.len;
	if (htmx) {
		to = P->login_url.ptr != NULL ? external_url(P, d, next) :
		    login_url(P, d, next);
		ac_reply_header_str(d, "hx-redirect", to);
		return;
	}
	if ((ac_str_eq(req->method, "GET", 3) ||
	    ac_str_eq(req->method, "HEAD", 4)) &&
	    ac_req_header(req, "accept", &accept) == 1 &&
	    ac_req_contains(accept, "text/html")) {
		d->a.n_resp_headers = 0;
		d->a.status = 302;
		d->a.body.ptr = "";
		d->a.body.len = 0;
		to = P->login_url.ptr != NULL ? external_url(P, d, next) :
		    login_url(P, d, next);
		ac_reply_header_str(d, "location", to);
		ac_reply_header(d, "cache-control", "no-store", 8);
	}
}

void ac_login_whoami(ac_decision *d, const ac_ident *id)
{
	size_t start = d->buf_len, i;
	aj_writer w = ac_reply_writer(d);

	aj_w_lit(&w, "{\"user\":");
	aj_w_str(&w, id->user.ptr, id->user.len);
	aj_w_lit(&w, ",\"roles\":[");
	for (i = 0; i < id->n_roles; i++) {
		if (i)
			aj_w_lit(&w, ",");
		aj_w_str(&w, id->roles[i].ptr, id->roles[i].len);
	}
	aj_w_lit(&w, "],\"auth\":");
	aj_w_str(&w, d->a.auth_method.ptr, d->a.auth_method.len);
	aj_w_lit(&w, "}");
	d->buf_len += w.len;
	ac_reply_json(d, 200, AC_OK, "");
	d->a.body.ptr = d->buf + start;
	d->a.body.len = w.len;
}
