/*
 * Identifying the caller, in the policy's order: the API key header, HTTP
 * Basic credentials (with "login"), the JWT sources, the session cookie.
 *
 * A password check never runs inside a decision: the decision says
 * AC_PENDING and carries a resumable PBKDF2 verification; the host runs it
 * in slices and finishes, and the verdict comes back bound (by a keyed MAC)
 * to the user, password and stored hash it checked. An unknown user costs
 * the same work as a known one (the first user's hash is run as a decoy).
 * Attempts count per client address (a budget whatever user it names)
 * and per (client address, user); past either limit the answer is 429
 * before any hashing, and past the cap on checks in flight it is 503.
 */
#include "ac_jwks_int.h"
#include "ac_revoke.h"
#include "ac_identify.h"
#include "ac_throttle.h"
#include "ac_reply.h"
#include "ac_request_int.h"
#include "ac_state_int.h"

/* The token from the policy's sources, in order. 0: none, 1: found,
 * -1: invalid request. */
static int find_token(const ac_policy *P, const ac_request *req, ac_str *tok,
    const ac_source **src)
{
	size_t i;
	for (i = 0; i < P->n_sources; i++) {
		const ac_source *S = &P->sources[i];
		int r = S->kind == 'H' ? ac_req_source_header(req, S, tok) :
		    S->kind == 'C' ? ac_req_source_cookie(req, S, tok) :
		    S->kind == 'P' ? ac_req_source_protocol(req, S, tok) :
		    ac_req_source_query(req, S, tok);
		*src = S;
		if (r != 0)
			return r;
	}
	return 0;
}

static void set_method(ac_decision *d, const char *m)
{
	d->a.auth_method.ptr = m;
	d->a.auth_method.len = strlen(m);
}

static void set_cred(ac_ident *id, int kind, ac_str name)
{
	id->cred_kind = kind;
	id->cred_name = name;
}

/* 1: identified (id set), 0: decided already (a refusal is in d). */
static int by_api_key(const ac_policy *P, ac_decision *d, ac_str key,
    ac_str from, ac_ident *id)
{
	const ac_apikey_entry *e = ac_apikey_lookup(P->api_keys, P->n_api_keys,
	    key.ptr, key.len);

	set_method(d, "api_key");
	if (e == NULL) {
		ac_reply_www_authenticate(d, P, "invalid_token");
		ac_reply_respond(d, 401, AC_BAD_API_KEY);
		return 0;
	}
	d->a.user = e->name;
	if (e->n_resources > 0 &&
	    !ac_resource_allowed(e, d->a.match.ptr, d->a.match.len)) {
		ac_reply_respond(d, 403, AC_RESOURCE_NOT_ALLOWED);
		return 0;
	}
	id->user = e->name;
	id->roles = e->role.ptr ? &e->role : NULL;
	id->n_roles = e->role.ptr ? 1 : 0;
	id->perms = e->permissions;
	id->n_perms = e->n_permissions;
	set_cred(id, 'H', from);
	return 1;
}

/* 1 if a JWT source reads Authorization: Bearer, the place a bearer API
 * key shares. */
static int jwt_reads_bearer(const ac_policy *P)
{
	size_t i;
	for (i = 0; P->has_jwt && i < P->n_sources; i++)
		if (P->sources[i].kind == 'H' &&
		    ac_str_eq(P->sources[i].name, "authorization", 13) &&
		    ac_ascii_ieq(P->sources[i].prefix.ptr,
		    P->sources[i].prefix.len, "Bearer", 6))
			return 1;
	return 0;
}

/* 1 if a bearer value has a JWT's shape: exactly two dots. */
static int jwt_shaped(ac_str v)
{
	size_t i, dots = 0;
	for (i = 0; i < v.len; i++)
		dots += v.ptr[i] == '.';
	return dots == 2;
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
	ac_cache_use cu;
	const ac_jwt_key *keys = P->keys;
	size_t i, n_keys = P->n_keys;

	set_method(d, "jwt");
	/* where it came from, refused or not: a browser's cookie is sent
	 * to the login page, a tool's header gets its 401 */
	set_cred(id, src->kind, src->name);
	ac_cache_use_init(&cu, P, d->jwt_cache);
	/* keys fetched from jwks_uri: the decision may wait for a fetch
	 * first (ac_jwks.c), or be refused 503 without keys to judge by */
	if (P->jwks_src.uri.ptr != NULL &&
	    !ac_jwks_keys(&P->jwks_src, d, now, &keys, &n_keys, &cu))
		return 0;
	if (ac_jwt_verify_using(keys, n_keys, &P->checks, tok.ptr,
	    tok.len, now, &cu, j) != AC_OK) {
		if (P->jwks_src.uri.ptr != NULL &&
		    ac_jwks_after(&P->jwks_src, d, now, j->reason))
			return 0;
		ac_reply_www_authenticate(d, P, "invalid_token");
		ac_reply_respond(d, 401, j->reason);
		return 0;
	}
	if (j->user.ptr == NULL) {
		ac_reply_www_authenticate(d, P, "invalid_token");
		ac_reply_respond(d, 401, AC_MISSING_CLAIM);
		return 0;
	}
	if (!ac_reply_value_ok(j->user.ptr, j->user.len)) {
		ac_reply_www_authenticate(d, P, "invalid_token");
		ac_reply_respond(d, 401, AC_BAD_CLAIM);
		return 0;
	}
	/* roles earned from claims (asyncmq's "is_admin": true) join the
	 * roles claim's, before they are checked as forwarded */
	if (P->n_role_claims > 0 && (j->reason = ac_jwt_derive_roles(
	    P->role_claims, P->n_role_claims, j)) != AC_OK) {
		ac_reply_www_authenticate(d, P, "invalid_token");
		ac_reply_respond(d, 401, j->reason);
		return 0;
	}
	for (i = 0; i < j->n_roles; i++) {
		/* roles are forwarded comma-joined: a comma inside one would
		 * forge another; and compared exactly as forwarded */
		if (!ac_reply_value_ok(j->roles[i].ptr, j->roles[i].len) ||
		    memchr(j->roles[i].ptr, ',', j->roles[i].len) != NULL) {
			ac_reply_www_authenticate(d, P, "invalid_token");
			ac_reply_respond(d, 401, AC_BAD_CLAIM);
			return 0;
		}
	}
	d->a.user = j->user;
	if (src->kind == 'C' && src->csrf && !cookie_csrf_ok(req)) {
		ac_reply_respond(d, 403, AC_CSRF_FAILED);
		return 0;
	}
	id->user = j->user;
	id->roles = id->perms = j->roles;
	id->n_roles = id->n_perms = j->n_roles;
	id->jwt = 1;
	set_cred(id, src->kind, src->name);
	return 1;
}

static const ac_user *find_user(const ac_policy *P, ac_str name);

/* A session signed in with a password lasts as long as that password: its
 * credential tag must be the tag of the hash the policy holds for its user
 * now. A changed hash (a password change) or a removed user ends it, with
 * the reason a revocation gives. Sessions without a tag (OIDC) pass. */
static ac_reason cred_current(const ac_policy *P, const ac_session *s)
{
	const ac_user *u;

	if (!s->has_cred)
		return AC_OK;
	u = find_user(P, s->user);
	if (u == NULL || u->hash.len == 0 ||
	    !ac_ct_equal(u->cred, s->cred, AC_SESSION_CRED_LEN))
		return AC_SESSION_REVOKED;
	return AC_OK;
}

/* The session cookie. Several cookies of that name (another app on the
 * same host may set one with Path=/) are resolved, not refused: the one
 * that verifies is taken; two that verify as different users are
 * ambiguous (400). */
ac_reason ac_session_verify_in(const ac_policy *P, ac_decision *d,
    ac_str tok, int64_t now)
{
	ac_reason r;

	if (d->sess_policy == P && d->sess_now == now &&
	    d->sess_len == tok.len && tok.len > 0 &&
	    memcmp(d->sess_tok, tok.ptr, tok.len) == 0)
		return AC_OK;
	d->sess_policy = NULL;
	r = ac_session_verify(P->session_keys, P->n_session_keys, tok.ptr,
	    tok.len, now, &d->session);
	if (r == AC_OK)
		r = cred_current(P, &d->session);
	if (r == AC_OK && tok.len <= sizeof d->sess_tok) {
		memcpy(d->sess_tok, tok.ptr, tok.len);
		d->sess_len = tok.len;
		d->sess_now = now;
		d->sess_policy = P;
	}
	return r;
}

static int by_session(const ac_policy *P, ac_state *S,
    const ac_request *req, ac_decision *d, int64_t now, ac_ident *id)
{
	ac_session *s = &d->session;
	ac_str v, tok = { NULL, 0 };
	char user[AC_SESSION_USER_MAX];
	size_t hi = 0, pos = 0, user_len = 0;
	ac_reason fail = AC_OK, r;
	int found = 0, last_is_tok = 0;

	set_method(d, "session");
	while (ac_req_next_cookie(req, P->session_cookie, &hi, &pos, &v)) {
		r = ac_req_token_ok(v) ? ac_session_verify_in(P, d, v, now) :
		    AC_MALFORMED;
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
			ac_reply_respond(d, 400, AC_INVALID_REQUEST);
			return 0;
		}
	}
	if (!found) {
		ac_reply_www_authenticate(d, P, "invalid_token");
		ac_reply_respond(d, 401, fail);
		return 0;
	}
	if (!last_is_tok && ac_session_verify_in(P, d, tok, now) != AC_OK) {
		ac_reply_respond(d, 500, AC_INVALID_REQUEST); /* cannot happen */
		return 0;
	}
	/* a session logged out (under "revocation") ends here */
	if (!ac_revoke_check(P, S, now, d))
		return 0;
	d->a.user = s->user;
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
			ok = ac_req_source_header(req, &src, &h) == 1 && ac_csrf_check(
			    P->session_keys, P->n_session_keys, tok.ptr, tok.len,
			    h.ptr, h.len);
		if (!ok) {
			ac_reply_respond(d, 403, AC_CSRF_FAILED);
			return 0;
		}
	}
	id->user = s->user;
	id->roles = id->perms = s->roles;
	id->n_roles = id->n_perms = s->n_roles;
	set_cred(id, 'C', P->session_cookie);
	return 1;
}

static const ac_user *find_user(const ac_policy *P, ac_str name)
{
	size_t i;
	for (i = 0; i < P->n_users; i++)
		if (ac_str_eq(P->users[i].name, name.ptr, name.len))
			return &P->users[i];
	return NULL;
}

/* Checks (user, password): a verdict for exactly these credentials, or a
 * refusal, or a new pending check in d->work. In order, before any
 * hashing: the client's budget (login.client_attempts, whatever user it
 * names), then the (client, user) count (login.attempts), both
 * AC_ID_THROTTLED (429); then room for the check: an in-flight slot
 * (login.max_pending) and a counter slot in both tables, else
 * AC_ID_OVERLOADED (503). Only then is the attempt counted and the check
 * begun; *retry is the Retry-After of a refusal. The client is the one
 * the decision took (d->a.client: trusted proxies applied). Under a
 * shared store both counts are the fleet's (core/ac_throttle.c): their
 * entries are read first (AC_ID_PENDING), and a match waits once more to
 * clear them. */
int ac_identify_password(const ac_policy *P, ac_state *S,
    const ac_request *req, int64_t now, const ac_verdict *v, int kind,
    ac_str name, ac_str password, const ac_user **who, ac_decision *d,
    int64_t *retry)
{
	const ac_user *u = find_user(P, name);
	ac_str hash = u != NULL ? u->hash : P->users[0].hash;
	ac_str client = d->a.client;
	uint8_t tag[32];
	uint32_t slot = 0;
	uint64_t ticket = 0;
	ac_password_status st;
	int shared = ac_throttle_shared(P, d);

	(void)req;
	*who = u;
	ac_cred_tag(S, P, name, password, hash, tag);
	if (v != NULL && v->kind == kind && ac_ct_equal(v->tag, tag, 32)) {
		memset(tag, 0, sizeof tag);
		if (v->match && u != NULL) {
			if (!ac_throttle_shared(P, d))
				ac_attempt_success(S, P, client, name, v->began,
				    &d->a.state_written);
			else if (ac_throttle_store_success(P, S, client, name,
			    now, d) == AC_ID_PENDING)
				return AC_ID_PENDING; /* its entries' reads */
			return AC_ID_MATCH;
		}
		/* the failure was counted when the check began */
		d->a.reason = u == NULL ? AC_UNKNOWN_USER : AC_BAD_PASSWORD;
		return AC_ID_FAIL;
	}
	if (shared) {
		/* the fleet's counts, from the shared store */
		int r = ac_throttle_store_count(P, S, client, name, now, 0, d,
		    retry);
		if (r != 0) {
			memset(tag, 0, sizeof tag);
			return r;
		}
	} else {
		*retry = ac_budget_check(S, P, client, now);
		if (*retry == 0)
			*retry = ac_throttle_check(S, P, client, name, now);
		if (*retry > 0) {
			memset(tag, 0, sizeof tag);
			return AC_ID_THROTTLED;
		}
	}
	st = ac_password_verify_begin(&d->work.verify, hash.ptr, hash.len,
	    password.ptr, password.len, &P->pw_limits);
	if (st == AC_PW_PENDING &&
	    ac_pending_take(S, P, now, &slot, &ticket, &d->a.state_written) < 0) {
		/* checks in flight are at the cap: none more starts */
		ac_password_verify_wipe(&d->work.verify);
		memset(tag, 0, sizeof tag);
		*retry = 1;
		return AC_ID_OVERLOADED;
	}
	/* counted now, cleared if it matches: guesses sent side by side
	 * while checks run cannot get past the limits */
	if (shared ? ac_throttle_store_count(P, S, client, name, now, 1, d,
	    retry) != 0 : ac_attempt_begin(S, P, client, name, now, retry,
	    &d->a.state_written) < 0) {
		/* every counter slot it could take is locked: refuse rather
		 * than forget a locked count */
		ac_pending_release(S, slot, ticket, &d->a.state_written);
		ac_password_verify_wipe(&d->work.verify);
		memset(tag, 0, sizeof tag);
		return AC_ID_OVERLOADED;
	}
	if (st != AC_PW_PENDING) {
		/* over the length limit (hashes were checked at load): a
		 * failure, counted, with no hashing */
		ac_password_verify_wipe(&d->work.verify);
		memset(tag, 0, sizeof tag);
		d->a.reason = u == NULL ? AC_UNKNOWN_USER : AC_BAD_PASSWORD;
		return AC_ID_FAIL;
	}
	memcpy(d->work.tag, tag, sizeof tag);
	memset(tag, 0, sizeof tag);
	d->work.kind = kind;
	d->work.known = u != NULL;
	d->work.slot = slot;
	d->work.ticket = ticket;
	d->work.began = now;
	d->a.action = AC_PENDING;
	return AC_ID_PENDING;
}

static int by_basic(const ac_policy *P, ac_state *S, const ac_request *req,
    int64_t now, const ac_verdict *v, ac_decision *d, ac_ident *id)
{
	ac_str h, b64, name, pw;
	uint8_t raw[AC_SESSION_USER_MAX + 1 + 4096 + 3];
	size_t rl, colon;
	const ac_user *u;
	int64_t retry = 0;
	int r;

	if (ac_req_header(req, "authorization", &h) != 1 || h.len < 6 ||
	    !ac_ascii_ieq(h.ptr, 6, "Basic ", 6))
		return -1; /* not Basic: the other sources decide */
	d->a.auth_method.ptr = "basic";
	d->a.auth_method.len = 5;
	b64.ptr = h.ptr + 6;
	b64.len = h.len - 6;
	while (b64.len && b64.ptr[0] == ' ')
		b64.ptr++, b64.len--;
	if (ac_b64_decode(raw, sizeof raw, &rl, b64.ptr, b64.len, '+', 1) < 0) {
		ac_reply_respond(d, 400, AC_INVALID_REQUEST);
		return 0;
	}
	for (colon = 0; colon < rl && raw[colon] != ':'; colon++)
		;
	name.ptr = ac_reply_put(d, (const char *)raw, colon);
	name.len = colon;
	if (colon == rl || colon == 0 || colon > AC_SESSION_USER_MAX ||
	    name.ptr == NULL || ac_req_has_ctl(name)) {
		memset(raw, 0, sizeof raw);
		ac_reply_respond(d, 400, AC_INVALID_REQUEST);
		return 0;
	}
	d->login_user = name;
	if (!ac_state_ok(S)) {
		memset(raw, 0, sizeof raw);
		ac_reply_respond(d, 500, AC_NO_STATE);
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
	r = ac_identify_password(P, S, req, now, v, 'B', name, pw, &u, d, &retry);
	if (r == AC_ID_MATCH) {
		uint8_t tag[32];
		ac_cred_tag(S, P, name, pw, u->hash, tag);
		ac_cred_insert(S, tag, now + P->basic_cache_ttl,
		    &d->a.state_written);
		memset(tag, 0, sizeof tag);
	}
	memset(raw, 0, sizeof raw);
	if (r == AC_ID_PENDING)
		return 0;
	if (r == AC_ID_THROTTLED) {
		ac_reply_respond(d, 429, AC_TOO_MANY_ATTEMPTS);
		ac_reply_retry_after(d, retry);
		return 0;
	}
	if (r == AC_ID_OVERLOADED) {
		ac_reply_json(d, 503, AC_OVERLOADED, "{\"error\":\"overloaded\"}");
		ac_reply_retry_after(d, retry);
		return 0;
	}
	if (r == AC_ID_FAIL) {
		ac_reply_basic_challenge(P, d);
		ac_reply_respond(d, 401, d->a.reason);
		return 0;
	}
identified:
	d->a.user = u->name;
	id->user = u->name;
	id->roles = id->perms = u->roles;
	id->n_roles = id->n_perms = u->n_roles;
	return 1;
}

/* Finds who the request is: API key, Basic credentials (with "login"),
 * then the JWT sources, then the session cookie. 1: identified; 0: decided
 * already. */
int ac_identify(const ac_policy *P, ac_state *S, const ac_request *req,
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
		r = ac_req_source_header(req, &src, &tok);
		if (r != 0)
			return r < 0 ? (ac_reply_respond(d, 400, AC_INVALID_REQUEST), 0) :
			    by_api_key(P, d, tok, P->api_key_header, id);
	}
	if (P->api_key_bearer) {
		/* Authorization: Bearer carries a key too (metrics scrapers
		 * send one there): a value with a JWT's two dots is left to
		 * the JWT sources that read it; any other is a key */
		src.kind = 'H';
		src.name = authorization;
		src.prefix.ptr = "Bearer";
		src.prefix.len = 6;
		r = ac_req_source_header(req, &src, &tok);
		if (r < 0) {
			ac_reply_respond(d, 400, AC_INVALID_REQUEST);
			return 0;
		}
		if (r > 0 && !(jwt_shaped(tok) && jwt_reads_bearer(P)))
			return by_api_key(P, d, tok, authorization, id);
	}
	if (P->basic) {
		r = by_basic(P, S, req, now, v, d, id);
		if (r == 1)
			set_cred(id, 'H', authorization);
		if (r >= 0)
			return r;
	}
	if (P->has_jwt) {
		r = find_token(P, req, &tok, &from);
		if (r < 0) {
			ac_reply_www_authenticate(d, P, "invalid_request");
			ac_reply_respond(d, 400, AC_INVALID_REQUEST);
			return 0;
		}
		if (r > 0)
			return by_jwt(P, req, d, tok, from, now, id);
	}
	if (P->n_session_keys > 0 && ac_req_has_cookie(req, P->session_cookie))
		return by_session(P, S, req, d, now, id);
	ac_reply_www_authenticate(d, P, NULL);
	ac_reply_respond(d, 401, AC_MISSING_TOKEN);
	return 0;
}
