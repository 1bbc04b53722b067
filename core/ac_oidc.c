/*
 * Sign-in through an OpenID provider: the authorization code flow with
 * S256 PKCE (OpenID Connect Core 1.0 section 3.1; RFC 7636).
 *
 *   GET <prefix>/auth/oidc/<name>[?next=]  302 to the provider's
 *       authorization endpoint, with a short-lived signed cookie holding
 *       the state, bound to this browser
 *   GET <redirect_path>?code=&state=       the callback: the state checked
 *       against the cookie; the code exchanged at the token endpoint (a
 *       POST the host makes: a pending fetch); the ID token verified with
 *       the provider's published keys (iss, aud, azp, exp, nonce); the
 *       claims mapped to a user and roles; then the ordinary session and
 *       CSRF cookies, and on to `next`
 *   <prefix>/auth/logout                   with "end_session", on to the
 *       provider's end_session_endpoint (RP-Initiated Logout 1.0)
 *
 * The state is 16 random bytes the host's entropy gives. The nonce and the
 * PKCE verifier are HMACs of it under the session key, so the cookie
 * carries neither: the code is worth nothing to whoever sees the URL, and
 * a token minted for another sign-in carries another nonce. The callback
 * clears the cookie; the provider takes a code once. Everything the
 * provider's endpoints say comes from its discovery document (ac_jwks.c),
 * fetched and cached like its keys.
 */
#include <bearssl.h>

#include "ac_jwks_int.h"
#include "ac_login.h"
#include "ac_reply.h"
#include "ac_request_int.h"
#include "ac_stage.h"

#define STATE_BYTES 16
#define STATE_LEN 22            /* base64url of STATE_BYTES */
#define MAC_LEN 43              /* base64url of an HMAC-SHA256 */
#define COOKIE_TTL 600          /* seconds a sign-in may take */
#define LEEWAY 60               /* seconds of clock skew for the ID token */

static const char STATE_COOKIE[] = "authcore_oidc";
static const char IDP_COOKIE[] = "authcore_idp";
static const char START[] = "/auth/oidc/";

/* ---- the keyed values: the cookie's MAC, the nonce, the verifier */

/* base64url(HMAC-SHA256(key, label NUL a NUL b)) into out (MAC_LEN). */
static void keyed(const ac_session_key *k, const char *label, ac_str a,
    ac_str b, char out[MAC_LEN + 1])
{
	br_hmac_context hc;
	uint8_t mac[32];

	br_hmac_init(&hc, (const br_hmac_key_context *)(const void *)k->state,
	    32);
	br_hmac_update(&hc, label, strlen(label) + 1);
	br_hmac_update(&hc, a.ptr, a.len);
	br_hmac_update(&hc, "", 1);
	br_hmac_update(&hc, b.ptr, b.len);
	br_hmac_out(&hc, mac);
	(void)ac_b64url_encode(out, MAC_LEN + 1, mac, sizeof mac);
	ac_wipe(mac, sizeof mac);
}

static ac_str S(const char *p, size_t n)
{
	ac_str s;
	s.ptr = p;
	s.len = n;
	return s;
}

/* ---- routes */

/* The provider whose start route the path is, or -1. */
static int start_route(const ac_policy *P, ac_str path)
{
	size_t i, base = P->prefix.len + sizeof START - 1;

	if (path.len <= base || memcmp(path.ptr, P->prefix.ptr,
	    P->prefix.len) != 0 || memcmp(path.ptr + P->prefix.len, START,
	    sizeof START - 1) != 0)
		return -1;
	for (i = 0; i < P->n_oidc; i++)
		if (ac_str_eq(P->oidc[i].name, path.ptr + base,
		    path.len - base))
			return (int)i;
	return -1;
}

static int callback_route(const ac_policy *P, ac_str path)
{
	size_t i;

	for (i = 0; i < P->n_oidc; i++)
		if (ac_str_eq(P->oidc[i].redirect_path, path.ptr, path.len))
			return (int)i;
	return -1;
}

/* The request's own origin for redirect_uri: scheme and a Host that is a
 * name, an IPv4 or bracketed IPv6 literal, with an optional port. */
static int origin(const ac_request *req, ac_str *host)
{
	size_t i;

	if (ac_req_header(req, "host", host) != 1 &&
	    ac_req_header(req, ":authority", host) != 1)
		return 0;
	if (host->len == 0 || host->len > 255)
		return 0;
	for (i = 0; i < host->len; i++) {
		char c = host->ptr[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '.' || c == '-' ||
		    c == ':' || c == '[' || c == ']'))
			return 0;
	}
	return 1;
}

static void put_origin(ac_decision *d, const ac_request *req, ac_str host)
{
	ac_reply_lit(d, req->https ? "https://" : "http://");
	ac_reply_put(d, host.ptr, host.len);
}

/* <scheme>://<Host><path><tail>, percent-encoded as a query value, into
 * the buffer (a redirect URI). 0, or -1 if it is too long. */
static int put_own_url(ac_decision *d, const ac_request *req, ac_str host,
    ac_str path, const char *tail)
{
	char tmp[768];
	size_t at = d->buf_len, n;

	put_origin(d, req, host);
	ac_reply_put(d, path.ptr, path.len);
	ac_reply_lit(d, tail);
	n = d->buf_len - at;
	d->buf_len = at;
	if (n > sizeof tmp)
		return -1;
	memcpy(tmp, d->buf + at, n);
	ac_reply_pct(d, tmp, n);
	return 0;
}

/* A provider's endpoint with its query begun: url, '?' (or '&' after a
 * query of its own), lead, then client_id. */
static void put_endpoint(ac_decision *d, ac_str url, const char *lead,
    const ac_oidc_provider *O)
{
	ac_reply_put(d, url.ptr, url.len);
	ac_reply_lit(d, memchr(url.ptr, '?', url.len) ? "&" : "?");
	ac_reply_lit(d, lead);
	ac_reply_lit(d, "client_id=");
	ac_reply_pct(d, O->client_id.ptr, O->client_id.len);
}

/* A Set-Cookie of ours: Path, Max-Age, HttpOnly, SameSite=Lax (the
 * callback is a top-level navigation from the provider's site), Secure
 * over https. */
static void cookie(const ac_request *req, ac_decision *d, const char *name,
    ac_str val, ac_str path, int64_t max_age)
{
	size_t start = d->buf_len;
	char num[24];
	size_t n = 0;
	uint64_t v = max_age > 0 ? (uint64_t)max_age : 0;

	do {
		num[sizeof num - 1 - n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	ac_reply_lit(d, name);
	ac_reply_lit(d, "=");
	ac_reply_put(d, val.ptr, val.len);
	ac_reply_lit(d, "; Path=");
	ac_reply_put(d, path.ptr, path.len);
	ac_reply_lit(d, "; Max-Age=");
	ac_reply_put(d, num + sizeof num - n, n);
	ac_reply_lit(d, "; HttpOnly; SameSite=Lax");
	if (req->https)
		ac_reply_lit(d, "; Secure");
	ac_reply_header(d, "set-cookie", d->buf + start, d->buf_len - start);
}

static ac_str root_path(const ac_policy *P)
{
	return P->prefix.len ? P->prefix : S("/", 1);
}

/* ---- the state cookie: <p>.<exp>.<state>.<next, base64url>.<mac> */

typedef struct {
	int p;
	int64_t exp;
	ac_str state;
	char next[AC_NEXT_MAX];
	size_t next_len;
} state_cookie;

static size_t put_int(char *o, int64_t v)
{
	char t[24];
	size_t n = 0, i;
	uint64_t u = v > 0 ? (uint64_t)v : 0;

	do {
		t[n++] = (char)('0' + u % 10);
		u /= 10;
	} while (u != 0);
	for (i = 0; i < n; i++)
		o[i] = t[n - 1 - i];
	return n;
}

/* The cookie's value into out (cap bytes); its length, 0 if it does not
 * fit. */
static size_t cookie_make(const ac_policy *P, int p, int64_t exp,
    ac_str state, ac_str next, char *out, size_t cap)
{
	char mac[MAC_LEN + 1];
	size_t n = 0, nl = ac_b64url_encoded_len(next.len);

	if (cap < 2 + 21 + 2 + STATE_LEN + 1 + nl + 1 + MAC_LEN + 1)
		return 0;
	out[n++] = (char)('0' + p);
	out[n++] = '.';
	n += put_int(out + n, exp);
	out[n++] = '.';
	memcpy(out + n, state.ptr, state.len);
	n += state.len;
	out[n++] = '.';
	n += ac_b64url_encode(out + n, cap - n, next.ptr, next.len);
	keyed(&P->session_keys[0], "authcore-oidc-state-v1", S(out, n),
	    S("", 0), mac);
	out[n++] = '.';
	memcpy(out + n, mac, MAC_LEN);
	return n + MAC_LEN;
}

/* 1 if v is a cookie this policy made, not expired, for provider p. */
static int cookie_read(const ac_policy *P, ac_str v, int p, int64_t now,
    state_cookie *c)
{
	const char *dot[4];
	size_t i, k = 0;
	int ok = 0;

	if (v.len < MAC_LEN + 8 || v.len > 1200)
		return 0;
	for (i = 0; i < v.len && k < 4; i++)
		if (v.ptr[i] == '.')
			dot[k++] = v.ptr + i;
	if (k != 4 || v.ptr + v.len - dot[3] - 1 != MAC_LEN)
		return 0;
	for (i = 0; i < P->n_session_keys; i++) {
		char mac[MAC_LEN + 1];
		keyed(&P->session_keys[i], "authcore-oidc-state-v1",
		    S(v.ptr, (size_t)(dot[3] - v.ptr)), S("", 0), mac);
		ok |= ac_ct_equal(mac, dot[3] + 1, MAC_LEN);
	}
	if (!ok || dot[0] != v.ptr + 1 || v.ptr[0] != (char)('0' + p))
		return 0;
	c->p = p;
	c->exp = 0;
	for (i = 2; v.ptr + i < dot[1]; i++) {
		if (v.ptr[i] < '0' || v.ptr[i] > '9' || i > 20)
			return 0;
		c->exp = c->exp * 10 + (v.ptr[i] - '0');
	}
	if (c->exp <= now || c->exp > now + COOKIE_TTL + LEEWAY)
		return 0;
	c->state = S(dot[1] + 1, (size_t)(dot[2] - dot[1] - 1));
	if (c->state.len != STATE_LEN ||
	    ac_b64url_decode((uint8_t *)c->next, sizeof c->next, &c->next_len,
	    dot[2] + 1, (size_t)(dot[3] - dot[2] - 1)) != 0)
		return 0;
	return 1;
}

/* The nonce and the S256 code challenge (or verifier) of a state. */
static void nonce_of(const ac_policy *P, ac_str state, char out[MAC_LEN + 1])
{
	keyed(&P->session_keys[0], "authcore-oidc-nonce-v1", state, S("", 0),
	    out);
}

static void verifier_of(const ac_policy *P, ac_str state,
    char out[MAC_LEN + 1])
{
	keyed(&P->session_keys[0], "authcore-oidc-pkce-v1", state, S("", 0),
	    out);
}

static void challenge_of(const char verifier[MAC_LEN],
    char out[MAC_LEN + 1])
{
	br_sha256_context h;
	uint8_t dg[32];

	br_sha256_init(&h);
	br_sha256_update(&h, verifier, MAC_LEN);
	br_sha256_out(&h, dg);
	(void)ac_b64url_encode(out, MAC_LEN + 1, dg, sizeof dg);
}

/* ---- answers */

static void fail(ac_decision *d, int status, ac_reason r)
{
	ac_reply_respond(d, status, r);
	ac_reply_header(d, "cache-control", "no-store", 8);
}

/* An endpoint the provider's configuration names; 1, or 0 with d's
 * answer made (pending on the configuration, or 503). */
static int endpoint(const ac_oidc_provider *O, ac_decision *d, int64_t now,
    int which, ac_str *url)
{
	int r = ac_jwks_endpoint(&O->src, d, now, which, url);

	if (r < 0)
		ac_jwks_unavailable(&O->src, d, now, AC_OIDC_UNAVAILABLE);
	return r > 0;
}

static void start(ac_ctx *c, int p)
{
	const ac_policy *P = c->P;
	const ac_oidc_provider *O = &P->oidc[p];
	ac_decision *d = c->d;
	char state[STATE_LEN + 1], nonce[MAC_LEN + 1], ver[MAC_LEN + 1];
	char ch[MAC_LEN + 1], val[1200];
	ac_str authz, host, next;
	size_t vl, start_at;

	if (!ac_str_eq(c->req.method, "GET", 3) &&
	    !ac_str_eq(c->req.method, "HEAD", 4)) {
		fail(d, 405, AC_INVALID_REQUEST);
		ac_reply_header(d, "allow", "GET, HEAD", 9);
		return;
	}
	if (c->entropy == NULL || c->entropy_len < STATE_BYTES) {
		fail(d, 500, AC_NO_STATE);
		return;
	}
	if (!origin(&c->req, &host)) {
		fail(d, 400, AC_INVALID_REQUEST);
		return;
	}
	if (!endpoint(O, d, c->now, AC_EP_AUTHZ, &authz))
		return;
	next = ac_login_safe_next(P, ac_req_query_next(&c->req, d));
	(void)ac_b64url_encode(state, sizeof state, c->entropy, STATE_BYTES);
	nonce_of(P, S(state, STATE_LEN), nonce);
	verifier_of(P, S(state, STATE_LEN), ver);
	challenge_of(ver, ch);
	ac_wipe(ver, sizeof ver);
	vl = cookie_make(P, p, c->now + COOKIE_TTL, S(state, STATE_LEN), next,
	    val, sizeof val);
	if (vl == 0) {
		fail(d, 400, AC_INVALID_REQUEST);
		return;
	}
	start_at = d->buf_len;
	put_endpoint(d, authz, "response_type=code&", O);
	ac_reply_lit(d, "&redirect_uri=");
	if (put_own_url(d, &c->req, host, O->redirect_path, "") < 0) {
		fail(d, 400, AC_INVALID_REQUEST);
		return;
	}
	ac_reply_lit(d, "&scope=");
	ac_reply_pct(d, O->scope.ptr, O->scope.len);
	ac_reply_lit(d, "&state=");
	ac_reply_put(d, state, STATE_LEN);
	ac_reply_lit(d, "&nonce=");
	ac_reply_put(d, nonce, MAC_LEN);
	ac_reply_lit(d, "&code_challenge=");
	ac_reply_put(d, ch, MAC_LEN);
	ac_reply_lit(d, "&code_challenge_method=S256");
	d->a.action = AC_RESPOND;
	d->a.status = 302;
	d->a.reason = AC_OIDC_STARTED;
	d->a.body = S("", 0);
	ac_reply_header(d, "location", d->buf + start_at,
	    d->buf_len - start_at);
	cookie(&c->req, d, STATE_COOKIE, S(val, vl), O->redirect_path,
	    COOKIE_TTL);
	ac_reply_header(d, "cache-control", "no-store", 8);
	ac_wipe(state, sizeof state);
}

/* The token request: the code for tokens, with the PKCE verifier, the
 * client authenticated with HTTP Basic (client_secret_basic). */
static void token_request(ac_ctx *c, const ac_oidc_provider *O, ac_str url,
    ac_str code, ac_str state, ac_str host)
{
	ac_decision *d = c->d;
	ac_fetch *f = &d->a.fetch;
	char ver[MAC_LEN + 1];
	size_t save = d->buf_len, n;

	/* the body is built in the answer's buffer, then kept in d->oidc */
	ac_reply_lit(d, "grant_type=authorization_code&code=");
	ac_reply_pct(d, code.ptr, code.len);
	ac_reply_lit(d, "&redirect_uri=");
	if (put_own_url(d, &c->req, host, O->redirect_path, "") < 0) {
		d->buf_len = save;
		fail(d, 400, AC_INVALID_REQUEST);
		return;
	}
	ac_reply_lit(d, "&code_verifier=");
	verifier_of(c->P, state, ver);
	ac_reply_put(d, ver, MAC_LEN);
	ac_wipe(ver, sizeof ver);
	n = d->buf_len - save;
	if (n >= sizeof d->oidc.body) {
		ac_wipe(d->buf + save, n);
		d->buf_len = save;
		fail(d, 400, AC_INVALID_REQUEST);
		return;
	}
	memcpy(d->oidc.body, d->buf + save, n);
	ac_wipe(d->buf + save, n);
	d->buf_len = save;
	ac_jwks_ask(&O->src, d, url, 'T', 0);
	f->method = S("POST", 4);
	f->headers[0].value = S("application/json", 16);
	f->headers[1].name = S("content-type", 12);
	f->headers[1].value = S("application/x-www-form-urlencoded", 33);
	f->headers[2].name = S("authorization", 13);
	f->headers[2].value = O->basic;
	f->n_headers = 3;
	f->body = S(d->oidc.body, n);
	d->oidc.asked = 1;
}

int ac_oidc_token_answer(ac_decision *d, int status, int json,
    const void *body, size_t len)
{
	aj_member m[32];
	size_t n, i;
	const aj_member *tok = NULL;

	ac_wipe(d->oidc.body, sizeof d->oidc.body);
	d->a.fetch.body.len = 0;
	if (status < 200 || status >= 500) {
		/* no answer, or a failing server: the provider may be down
		 * (a 4xx is its refusal, whatever body a host passes on) */
		d->oidc.outcome = -2;
		return -1;
	}
	d->oidc.outcome = -1;
	if (status != 200 || !json || aj_object(body, len, m, 32, &n) < 0)
		return -1;
	for (i = 0; i < n; i++)
		if (aj_str_eq(m[i].key, "id_token", 8))
			tok = &m[i];
	if (tok == NULL || tok->type != AJ_STRING ||
	    aj_str_decode(tok->raw, d->oidc.token, sizeof d->oidc.token,
	    &d->oidc.token_len) < 0)
		return -1;
	d->oidc.outcome = 1;
	return 0;
}

/* 1 if s (lower case) is in l (lower case). */
static int in_list(const ac_str *l, size_t n, ac_str s)
{
	size_t i;
	for (i = 0; i < n; i++)
		if (ac_str_eq(l[i], s.ptr, s.len))
			return 1;
	return 0;
}

/* Adds a role unless held or there is no room: 0, or -1 when full. */
static int add_role(ac_user *u, ac_str r)
{
	if (in_list(u->roles, u->n_roles, r))
		return 0;
	if (u->n_roles == AC_SESSION_ROLES_MAX)
		return -1;
	u->roles[u->n_roles++] = r;
	return 0;
}

/* The ID token's claims to a user and roles; 0, or -1 with d answered. */
static int claims(const ac_policy *P, const ac_oidc_provider *O,
    ac_decision *d, ac_str nonce, ac_user *u, char *name, size_t cap)
{
	const ac_jwt_result *j = &d->jwt;
	aj_type t;
	ac_str raw, email, domain;
	size_t i, k;
	int allowed;

	(void)P;
	if (ac_claim_find(j->payload, j->payload_len, S("nonce", 5), &t,
	    &raw) != 1 || t != AJ_STRING || !aj_str_eq(raw, nonce.ptr,
	    nonce.len)) {
		fail(d, 401, AC_OIDC_NONCE_MISMATCH);
		return -1;
	}
	/* azp, when present, names the party the token was issued to */
	if (ac_claim_find(j->payload, j->payload_len, S("azp", 3), &t,
	    &raw) == 1 && (t != AJ_STRING || !aj_str_eq(raw,
	    O->client_id.ptr, O->client_id.len))) {
		fail(d, 401, AC_BAD_AUDIENCE);
		return -1;
	}
	if (j->user.ptr == NULL || j->user.len == 0 ||
	    j->user.len > AC_SESSION_USER_MAX || j->user.len > cap) {
		fail(d, 401, AC_MISSING_CLAIM);
		return -1;
	}
	for (i = 0; i < j->user.len; i++) {
		char ch = j->user.ptr[i];
		name[i] = !O->user_sub && ch >= 'A' && ch <= 'Z' ?
		    (char)(ch + 32) : ch;
	}
	memset(u, 0, sizeof *u);
	u->name = S(name, j->user.len);
	email = u->name;
	if (!O->user_sub) {
		/* an address the provider has not verified names nobody */
		if (ac_claim_find(j->payload, j->payload_len,
		    S("email_verified", 14), &t, &raw) != 1 || t != AJ_TRUE) {
			fail(d, 403, AC_OIDC_EMAIL_UNVERIFIED);
			return -1;
		}
		domain = S(NULL, 0);
		for (i = email.len; i > 0; i--)
			if (email.ptr[i - 1] == '@') {
				domain = S(email.ptr + i, email.len - i);
				break;
			}
		if (domain.ptr == NULL || domain.len == 0 || i < 2) {
			fail(d, 403, AC_OIDC_NOT_ALLOWED);
			return -1;
		}
		if ((O->n_emails || O->n_domains) &&
		    !in_list(O->emails, O->n_emails, email) &&
		    !in_list(O->domains, O->n_domains, domain)) {
			fail(d, 403, AC_OIDC_NOT_ALLOWED);
			return -1;
		}
	}
	/* the groups claim is the token's roles claim (ac_jwt_verify) */
	if (O->n_groups) {
		allowed = 0;
		for (k = 0; k < j->n_roles; k++)
			allowed |= in_list(O->groups, O->n_groups, j->roles[k]);
		if (!allowed) {
			fail(d, 403, AC_OIDC_NOT_ALLOWED);
			return -1;
		}
	}
	for (i = 0; i < O->n_roles; i++)
		if (add_role(u, O->roles[i]) < 0)
			goto full;
	if (!O->user_sub && in_list(O->admins, O->n_admins, email) &&
	    add_role(u, S("admin", 5)) < 0)
		goto full;
	for (k = 0; k < j->n_roles; k++)
		for (i = 0; i < O->n_group_roles; i++)
			if (ac_str_eq(O->group_from[i], j->roles[k].ptr,
			    j->roles[k].len) && add_role(u, O->group_to[i]) < 0)
				goto full;
	return 0;
full:
	fail(d, 403, AC_BAD_CLAIM);
	return -1;
}

static void callback(ac_ctx *c, int p)
{
	const ac_policy *P = c->P;
	const ac_oidc_provider *O = &P->oidc[p];
	ac_decision *d = c->d;
	state_cookie sc;
	ac_str v, state, code, err, host, url, path;
	ac_jwt_checks ck;
	ac_cache_use cu;
	const ac_jwt_key *keys;
	size_t n_keys;
	char nonce[MAC_LEN + 1];
	char name[AC_SESSION_USER_MAX];
	ac_user u;

	path = O->redirect_path;
	if (!ac_str_eq(c->req.method, "GET", 3)) {
		fail(d, 405, AC_INVALID_REQUEST);
		ac_reply_header(d, "allow", "GET", 3);
		return;
	}
	d->a.auth_method = S("oidc", 4);
	/* the state: the cookie this browser got at the start, and the
	 * parameter the provider sent back, equal */
	if (ac_req_cookie(&c->req, S(STATE_COOKIE, sizeof STATE_COOKIE - 1),
	    &v) != 1 || !cookie_read(P, v, p, c->now, &sc) ||
	    ac_req_query_param(&c->req, "state", d, &state) != 1 ||
	    state.len != STATE_LEN ||
	    !ac_ct_equal(state.ptr, sc.state.ptr, STATE_LEN)) {
		fail(d, 400, AC_OIDC_STATE_INVALID);
		cookie(&c->req, d, STATE_COOKIE, S("", 0), path, 0);
		return;
	}
	if (ac_req_query_param(&c->req, "error", d, &err) != 0) {
		fail(d, 403, AC_OIDC_PROVIDER_ERROR);
		cookie(&c->req, d, STATE_COOKIE, S("", 0), path, 0);
		return;
	}
	if (ac_req_query_param(&c->req, "code", d, &code) != 1 ||
	    code.len == 0 || code.len > 512 || !origin(&c->req, &host)) {
		fail(d, 400, AC_INVALID_REQUEST);
		cookie(&c->req, d, STATE_COOKIE, S("", 0), path, 0);
		return;
	}
	if (!d->oidc.asked) {
		if (!endpoint(O, d, c->now, AC_EP_TOKEN, &url))
			return;
		token_request(c, O, url, code, sc.state, host);
		return;
	}
	if (d->oidc.outcome != 1) {
		if (d->oidc.outcome == -2)
			ac_jwks_unavailable(&O->src, d, c->now,
			    AC_OIDC_UNAVAILABLE);
		else
			fail(d, 401, AC_OIDC_TOKEN_ERROR);
		cookie(&c->req, d, STATE_COOKIE, S("", 0), path, 0);
		return;
	}
	/* the ID token, with the provider's keys */
	ac_cache_use_init(&cu, P, NULL);
	if (!ac_jwks_keys(&O->src, d, c->now, &keys, &n_keys, &cu)) {
		if (d->a.action != AC_PENDING)
			d->a.reason = AC_OIDC_UNAVAILABLE;
		return;
	}
	ac_jwt_checks_init(&ck);
	ck.leeway = LEEWAY;
	ck.require_exp = 1;
	ck.issuer = O->src.issuer;
	ck.audiences[0] = O->client_id;
	ck.n_audiences = 1;
	ck.user_claim = O->user_sub ? S("sub", 3) : S("email", 5);
	ck.roles_claim = O->groups_claim;
	if (ac_jwt_verify_using(keys, n_keys, &ck, d->oidc.token,
	    d->oidc.token_len, c->now, &cu, &d->jwt) != AC_OK) {
		if (ac_jwks_after(&O->src, d, c->now, d->jwt.reason))
			return;
		fail(d, 401, d->jwt.reason);
		cookie(&c->req, d, STATE_COOKIE, S("", 0), path, 0);
		return;
	}
	nonce_of(P, sc.state, nonce);
	if (claims(P, O, d, S(nonce, MAC_LEN), &u, name, sizeof name) < 0) {
		d->a.user = S(NULL, 0);
		cookie(&c->req, d, STATE_COOKIE, S("", 0), path, 0);
		return;
	}
	ac_wipe(d->oidc.token, d->oidc.token_len);
	/* the answer names the user: into the decision, not this frame */
	u.name.ptr = ac_reply_put(d, u.name.ptr, u.name.len);
	if (u.name.ptr == NULL) {
		fail(d, 500, AC_NO_STATE);
		return;
	}
	ac_login_issue(P, &c->req, c->now, c->entropy, c->entropy_len, &u,
	    ac_login_safe_next(P, S(sc.next, sc.next_len)), 'P', d);
	if (d->a.status >= 400)
		return;
	cookie(&c->req, d, STATE_COOKIE, S("", 0), path, 0);
	cookie(&c->req, d, IDP_COOKIE, O->name, root_path(P), P->session_ttl);
}

/* Logout through a provider: the session's cookies cleared, then on to
 * its end_session_endpoint with client_id and the login page to come
 * back to. 1 if answered here. */
static int logout(ac_ctx *c)
{
	const ac_policy *P = c->P;
	ac_decision *d = c->d;
	const ac_oidc_provider *O = NULL;
	ac_str v, url, host;
	size_t i, at;

	if (ac_req_cookie(&c->req, S(IDP_COOKIE, sizeof IDP_COOKIE - 1),
	    &v) != 1)
		return 0;
	for (i = 0; i < P->n_oidc; i++)
		if (P->oidc[i].end_session && ac_str_eq(P->oidc[i].name,
		    v.ptr, v.len))
			O = &P->oidc[i];
	if (O == NULL || !origin(&c->req, &host) || ac_req_htmx(&c->req) ||
	    ac_req_wants_json(&c->req))
		return 0;
	if (ac_jwks_endpoint(&O->src, d, c->now, AC_EP_END_SESSION,
	    &url) == 0)
		return 1;
	if (url.ptr == NULL)
		return 0;   /* none named: the ordinary logout */
	at = d->buf_len;
	put_endpoint(d, url, "", O);
	ac_reply_lit(d, "&post_logout_redirect_uri=");
	if (put_own_url(d, &c->req, host, P->prefix, "/auth/login") < 0)
		return 0;
	ac_login_logout(P, &c->req, c->now, S(d->buf + at, d->buf_len - at),
	    d);
	cookie(&c->req, d, IDP_COOKIE, S("", 0), root_path(P), 0);
	return 1;
}

int ac_oidc_stage(ac_ctx *c)
{
	const ac_policy *P = c->P;
	ac_str path = S(c->req.path.ptr, c->path_len);
	int p;

	if (P->n_oidc == 0)
		return AC_STAGE_NEXT;
	if ((p = start_route(P, path)) >= 0) {
		start(c, p);
		return AC_STAGE_DONE;
	}
	if ((p = callback_route(P, path)) >= 0) {
		callback(c, p);
		return AC_STAGE_DONE;
	}
	if (ac_login_route(P, &c->req, c->path_len) == AC_ROUTE_LOGOUT &&
	    logout(c))
		return AC_STAGE_DONE;
	return AC_STAGE_NEXT;
}
