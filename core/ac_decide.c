/*
 * The decision: one request in, one answer out.
 *
 * Spoofed identity headers are always scheduled for removal; then the
 * stages run in the order of their table (below): request sanity and the
 * canonical target, the login endpoints, public paths, who the caller is
 * (ac_identify.c), the first route rule that matches, and what goes
 * upstream. Every outcome carries a stable reason code and, unless it is
 * an allow the policy's "audit" leaves out, an audit line (ac_reply.c);
 * clients get generic bodies.
 */
#include "ac_assert.h"
#include "ac_conn.h"
#include "ac_decision_int.h"
#include "ac_identify.h"
#include "ac_jwks_int.h"
#include "ac_login.h"
#include "ac_ratelimit.h"
#include "ac_reply.h"
#include "ac_revoke.h"
#include "ac_request_int.h"
#include "ac_throttle.h"
#include "ac_stage.h"
#include "ac_state_int.h"
#include "ac_traffic.h"

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

/* ---- the stages, in the order of the table below */

/* The request as the upstream will read it: canonical target (wire form in
 * d->target, decoded in d->a.match), the client and the scheme. */
static int stage_request(ac_ctx *c)
{
	const ac_policy *P = c->P;
	const ac_request *req = c->raw;
	ac_decision *d = c->d;
	const char *q = req->path.len ? memchr(req->path.ptr, '?',
	    req->path.len) : NULL;
	size_t raw_len = q ? (size_t)(q - req->path.ptr) : req->path.len;
	size_t qlen = req->path.len - raw_len, wlen, mlen;
	const ac_str *ov;
	size_t i, n_ov;

	if (req->too_many_headers) {
		ac_reply_respond(d, 400, AC_INVALID_REQUEST);
		return AC_STAGE_DONE;
	}
	if (ac_req_headers_check(P, req) < 0) {
		ac_reply_respond(d, 400, AC_BAD_HEADER);
		return AC_STAGE_DONE;
	}
	if (req->path.len > AC_TARGET_MAX) {
		ac_reply_respond(d, 414, AC_BAD_PATH);
		return AC_STAGE_DONE;
	}
	if (ac_path_canon(req->path.ptr, raw_len, d->target, &wlen,
	    d->match_buf, &mlen) < 0 ||
	    ac_query_check(req->path.ptr + raw_len, qlen) < 0) {
		ac_reply_respond(d, 400, AC_BAD_PATH);
		return AC_STAGE_DONE;
	}
	if (wlen != raw_len || memcmp(d->target, req->path.ptr, wlen) != 0) {
		/* another spelling of a canonical path: forward that one, or
		 * refuse, as the policy says */
		if (!P->rewrite_paths) {
			ac_reply_respond(d, 400, AC_BAD_PATH);
			return AC_STAGE_DONE;
		}
		d->a.path_rewritten = 1;
	}
	memcpy(d->target + wlen, req->path.ptr + raw_len, qlen);
	d->a.path.ptr = d->target;
	d->a.path.len = wlen + qlen;
	d->a.match.ptr = d->match_buf;
	d->a.match.len = mlen;
	ac_req_client(P, req, &d->a.client, &d->a.https);
	c->req = *req;
	c->req.path = d->a.path;
	c->req.client_ip = d->a.client;
	c->req.https = d->a.https;
	c->path_len = wlen;
	/* the method the rules saw is the method the upstream runs */
	n_ov = ac_req_override_names(&ov);
	for (i = 0; i < n_ov && d->a.n_remove < AC_DECISION_HEADERS_MAX; i++)
		d->a.remove[d->a.n_remove++] = ov[i];
	return AC_STAGE_NEXT;
}

/* The login endpoints under the policy's prefix (ac_login.c). */
static int stage_login(ac_ctx *c)
{
	int route;

	if (!c->P->login)
		return AC_STAGE_NEXT;
	route = ac_login_route(c->P, &c->req, c->path_len);
	if (route == AC_ROUTE_WHOAMI && (ac_str_eq(c->req.method, "GET", 3) ||
	    ac_str_eq(c->req.method, "HEAD", 4))) {
		if (ac_identify(c->P, c->S, &c->req, c->now, c->v, c->d,
		    &c->id)) {
			c->d->a.user = c->id.user;
			ac_login_whoami(c->d, &c->id);
		}
		return AC_STAGE_DONE;
	}
	if (route == 0)
		return AC_STAGE_NEXT;
	ac_login_decide(c->P, c->S, &c->req, c->path_len, c->now, c->entropy,
	    c->entropy_len, c->v, c->d);
	return AC_STAGE_DONE;
}

static int stage_public(ac_ctx *c)
{
	const ac_policy *P = c->P;
	ac_str m = c->d->a.match;
	size_t i;

	for (i = 0; i < P->n_public; i++) {
		if (ac_wild_match(P->public_paths[i].ptr,
		    P->public_paths[i].len, m.ptr, m.len)) {
			c->d->a.reason = AC_PUBLIC;
			return AC_STAGE_DONE;
		}
	}
	return AC_STAGE_NEXT;
}

/* Who the caller is (ac_identify.c); under a login policy or a
 * login_url, a browser without valid credentials is sent to the login
 * page. */
static int stage_identify(ac_ctx *c)
{
	if (!ac_identify(c->P, c->S, &c->req, c->now, c->v, c->d, &c->id)) {
		if ((c->P->login || c->P->login_url.ptr != NULL) &&
		    c->d->a.status == 401)
			ac_login_challenge(c->P, &c->req, c->path_len, &c->id,
			    c->d);
		return AC_STAGE_DONE;
	}
	c->d->a.user = c->id.user;
	return AC_STAGE_NEXT;
}

/* 1 if the caller holds one of the rule's roles. */
static int any_role(const ac_ident *id, const ac_rule *r)
{
	size_t i;
	for (i = 0; i < r->n_roles; i++)
		if (ac_str_in_list(id->roles, id->n_roles, r->roles[i]))
			return 1;
	return 0;
}

/* The first rule that matches the method and the decoded path; a
 * permission it needs may come through "roles". */
static int stage_authorize(ac_ctx *c)
{
	const ac_policy *P = c->P;
	const ac_rule *rule = NULL;
	ac_decision *d = c->d;
	ac_str m = d->a.match;
	size_t i;

	for (i = 0; i < P->n_rules; i++) {
		const ac_rule *r = &P->rules[i];
		if (rule_method(r, c->req.method) &&
		    ac_wild_match(r->path.ptr, r->path.len, m.ptr, m.len)) {
			rule = r;
			break;
		}
	}
	if (rule == NULL && P->default_deny) {
		ac_reply_respond(d, 403, AC_NO_RULE);
		return AC_STAGE_DONE;
	}
	if (rule != NULL && rule->n_roles > 0 && !any_role(&c->id, rule)) {
		ac_reply_www_authenticate(d, P, "insufficient_scope");
		ac_reply_respond(d, 403, AC_INSUFFICIENT_ROLE);
		return AC_STAGE_DONE;
	}
	if (rule != NULL && rule->permission.ptr != NULL &&
	    !ac_ident_has_permission(P, &c->id, rule->permission)) {
		ac_reply_www_authenticate(d, P, "insufficient_scope");
		ac_reply_respond(d, 403, AC_INSUFFICIENT_PERMISSION);
		return AC_STAGE_DONE;
	}
	return AC_STAGE_NEXT;
}

/* Allowed: the identity goes upstream, the consumed credential does not. */
static int stage_forward(ac_ctx *c)
{
	const ac_policy *P = c->P;
	ac_decision *d = c->d;
	size_t i, start;

	d->a.reason = AC_OK;
	ac_reply_upstream_header(d, P->user_header, c->id.user.ptr,
	    c->id.user.len);
	start = d->buf_len;
	for (i = 0; i < c->id.n_roles; i++) {
		if (i > 0)
			ac_reply_put(d, ",", 1);
		ac_reply_put(d, c->id.roles[i].ptr, c->id.roles[i].len);
	}
	ac_reply_upstream_header(d, P->roles_header, d->buf + start,
	    d->buf_len - start);
	for (i = 0; c->id.jwt && i < P->n_claim_headers; i++) {
		if (ac_reply_claim_header(d, &P->claim_headers[i]) < 0) {
			d->a.n_add = 0;
			d->a.user.ptr = NULL;
			d->a.user.len = 0;
			ac_reply_www_authenticate(d, P, "invalid_token");
			ac_reply_respond(d, 401, AC_BAD_CLAIM);
			return AC_STAGE_DONE;
		}
	}
	if (ac_assert_add(c) < 0) {
		/* an identity too large to assert is not forwarded without */
		d->a.n_add = 0;
		d->a.user.ptr = NULL;
		d->a.user.len = 0;
		ac_reply_respond(d, 500, AC_BAD_CLAIM);
		return AC_STAGE_DONE;
	}
	ac_reply_drop_credential(P, &c->req, d, c->id.cred_kind,
	    c->id.cred_name);
	/* a session under an older key moves to the current one: the
	 * answer to this request carries the re-signed cookies */
	if (ac_str_eq(d->a.auth_method, "session", 7) &&
	    d->session.key_index != 0)
		ac_login_reissue(P, &c->req, c->now, d);
	return AC_STAGE_DONE;
}

/* The decision, stage by stage: each answers or hands the request on. A
 * new feature that shapes requests is a stage here (see ac_stage.h). */
static const ac_stage_fn stages[] = {
	stage_request,   /* canonical target, client, scheme, header rules */
	ac_stage_https,  /* require_https: plain HTTP redirected or refused */
	ac_stage_cors,   /* CORS preflights: no credential asked for */
	ac_stage_jwks,   /* the upstream assertion's public key (ac_assert.c) */
	ac_stage_revoke_prefetch, /* a session's revocation entry, read
	                    with the client's limits (ac_revoke.c) */
	ac_stage_throttle_prefetch, /* a login post's throttle counters,
	                    read with the client's limits (ac_throttle.c) */
	ac_stage_ratelimit_client, /* limits on the client: before any
	                    verifier (ac_ratelimit.c) */
	ac_stage_revoke_logout, /* logout revokes the session (ac_revoke.c) */
	ac_oidc_stage,   /* sign-in through an OpenID provider (ac_oidc.c) */
	stage_login,     /* the login endpoints and whoami */
	stage_public,    /* public paths need no credential */
	stage_identify,  /* API key, Basic, JWT, session */
	ac_stage_revoke_admin, /* an administrator revokes a user's sessions */
	ac_stage_ratelimit_identity, /* limits on the identity */
	stage_authorize, /* route rules */
	ac_stage_resources, /* resource ACLs and permissions */
	stage_forward,   /* identity headers; consumed credentials removed */
};

/* Then, on every answer that is not pending, whichever stage gave it:
 * response headers a feature adds to every answer (each in the mode that
 * says how it meets an upstream's own). */
typedef void (*ac_finish_fn)(ac_ctx *c);
static const ac_finish_fn finishers[] = {
	ac_finish_cors,     /* the allowed origin echoed; Vary: Origin */
	ac_finish_security, /* HSTS, nosniff, frame options, referrer */
};

static void decide(const ac_policy *P, ac_state *S, const ac_request *raw,
    int64_t now, const uint8_t *entropy, size_t entropy_len,
    const ac_verdict *v, ac_decision *d)
{
	ac_ctx c;
	size_t i;

	memset(&c, 0, sizeof c);
	c.P = P;
	c.S = S;
	c.raw = raw;
	c.req = *raw;
	c.now = now;
	c.entropy = entropy;
	c.entropy_len = entropy_len;
	c.v = v;
	c.d = d;
	for (i = 0; i < sizeof stages / sizeof stages[0]; i++)
		if (stages[i](&c) == AC_STAGE_DONE)
			break;
	/* whichever stage allowed it (a public path too): a stream under a
	 * connection cap is counted last, once nothing else can refuse it */
	if (d->a.action == AC_ALLOW)
		(void)ac_conn_acquire(&c);
	if (d->a.action == AC_PENDING)
		return;
	for (i = 0; i < sizeof finishers / sizeof finishers[0]; i++)
		finishers[i](&c);
}

int ac_wants_body(const ac_policy *P, const char *method, size_t method_len,
    const char *path, size_t path_len)
{
	const char *q = path_len ? memchr(path, '?', path_len) : NULL;
	ac_request r;

	if (P == NULL || !P->login || method_len != 4 ||
	    memcmp(method, "POST", 4) != 0)
		return 0;
	memset(&r, 0, sizeof r);
	r.path.ptr = path;
	r.path.len = path_len;
	return ac_login_route(P, &r, q != NULL ? (size_t)(q - path) :
	    path_len) == AC_ROUTE_LOGIN;
}

/* 1 if deciding req may read its scheme: require_https and HSTS on every
 * answer do for any request; otherwise only cookies do (the Secure flag
 * of those a login, a logout and a re-signed session set, the same-origin
 * checks of cookie credentials and login posts). The login page and
 * whoami use it only through a Cookie. */
static int needs_tls(const ac_policy *P, const ac_request *req,
    size_t path_len)
{
	size_t i;
	int cookies = P->login || P->n_session_keys > 0, route;

	/* plain HTTP refused or redirected; HSTS sent only over HTTPS */
	if (P->require_https || (P->sec.every && P->sec.hsts.ptr != NULL) ||
	    P->n_oidc > 0)
		return 1;
	for (i = 0; !cookies && i < P->n_sources; i++)
		cookies = P->sources[i].kind == 'C';
	if (!cookies)
		return 0;
	route = ac_login_route(P, req, path_len);
	if (route == AC_ROUTE_LOGOUT || (route == AC_ROUTE_LOGIN &&
	    !ac_str_eq(req->method, "GET", 3) &&
	    !ac_str_eq(req->method, "HEAD", 4)))
		return 1;
	for (i = 0; i < req->n_headers; i++)
		if (ac_ascii_ieq(req->headers[i].name.ptr,
		    req->headers[i].name.len, "cookie", 6))
			return 1;
	return 0;
}

int ac_needs_wait(const ac_policy *P, unsigned n)
{
	return (n & (AC_NEEDS_STATE | AC_NEEDS_FETCH)) != 0 ||
	    (P != NULL && P->store_redis && (n & AC_NEEDS_ENTRIES) != 0);
}

unsigned ac_needs(const ac_policy *P, const ac_request *req)
{
	unsigned n = 0;
	size_t i, path_len = req->path.len;
	const char *q = path_len ? memchr(req->path.ptr, '?', path_len) : NULL;

	if (P == NULL)
		return 0;
	if (P->n_rate_limits > 0 || P->n_conn_caps > 0 || P->rev_groups > 0 ||
	    P->th_groups > 0)
		n |= AC_NEEDS_ENTRIES;
	if (P->jwks_src.uri.ptr != NULL || P->n_oidc > 0)
		n |= AC_NEEDS_FETCH;
	if (q != NULL)
		path_len = (size_t)(q - req->path.ptr);
	if (needs_tls(P, req, path_len))
		n |= AC_NEEDS_TLS;
	if (!P->login)
		return n;
	if (ac_wants_body(P, req->method.ptr, req->method.len, req->path.ptr,
	    req->path.len))
		n |= AC_NEEDS_BODY;
	if (ac_login_route(P, req, path_len) == AC_ROUTE_LOGIN &&
	    ac_str_eq(req->method, "POST", 4))
		n |= AC_NEEDS_THROTTLE | AC_NEEDS_CLIENT_BUDGET |
		    AC_NEEDS_PENDING;
	for (i = 0; P->basic && i < req->n_headers; i++) {
		const ac_header *h = &req->headers[i];
		if (ac_ascii_ieq(h->name.ptr, h->name.len, "authorization", 13) &&
		    h->value.len >= 5 &&
		    ac_ascii_ieq(h->value.ptr, 5, "basic", 5))
			n |= AC_NEEDS_THROTTLE | AC_NEEDS_CLIENT_BUDGET |
			    AC_NEEDS_PENDING | AC_NEEDS_CREDS;
	}
	return n;
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

/* The answer a run starts from: allow, nothing added, no store ops; the
 * entries counted from as the host supplied them. A release has no
 * request (req NULL): no target, client or scheme. */
static void reset(ac_decision *d, const ac_request *req)
{
	static const ac_str none = { NULL, 0 };
	size_t i;

	d->a.action = AC_ALLOW;
	d->a.status = 200;
	d->a.reason = AC_OK;
	d->a.n_remove = d->a.n_add = d->a.n_resp_headers = 0;
	d->a.body.ptr = "";
	d->a.body.len = 0;
	d->a.user = none;
	d->a.auth_method.ptr = "";
	d->a.auth_method.len = 0;
	d->login_user = none;
	d->page = 0;
	d->buf_len = 0;
	d->a.audit = ""; /* ac_reply_audit points it at audit_buf */
	d->a.audit_len = 0;
	d->a.state_written = 0;
	d->a.path = req != NULL ? req->path : none;
	d->a.path_rewritten = 0;
	d->a.match = none;
	d->a.client = req != NULL ? req->client_ip : none;
	d->a.https = req != NULL ? req->https : 0;
	d->a.wait = AC_WAIT_NONE;
	d->a.reads = d->store.reads;
	d->a.n_reads = 0;
	d->a.writes = d->store.writes;
	d->a.n_writes = 0;
	d->a.store_shared = 0;
	d->a.lease = NULL;
	d->a.lease_len = 0;
	memset(&d->a.fetch, 0, sizeof d->a.fetch);
	memset(&d->work, 0, sizeof d->work);
	/* every run counts from the entries as the host supplied them */
	for (i = 0; i < d->store.n; i++) {
		ac_store_ent *e = &d->store.e[i];
		memcpy(e->cur, e->value, sizeof e->cur);
		e->changed = 0;
		e->expires = 0;
	}
}

/* The answer's store part: the keys still to read (pending on the store),
 * or the entries to write (a final answer). */
static void store_ops(const ac_policy *P, ac_decision *d)
{
	ac_store_io *io = &d->store;
	size_t i;

	for (i = 0; i < io->n; i++) {
		ac_store_ent *e = &io->e[i];
		ac_store_op *op;

		if (d->a.wait == AC_WAIT_STORE && !e->supplied) {
			op = &io->reads[d->a.n_reads];
			io->read_ent[d->a.n_reads++] = i;
			memset(op, 0, sizeof *op);
		} else if (e->changed && (d->a.action != AC_PENDING ||
		    d->a.wait == AC_WAIT_PASSWORD)) {
			/* a final answer; or the one starting a password
			 * check, so the client's limits count the attempt
			 * before its PBKDF2 work, not after */
			op = &io->writes[d->a.n_writes++];
			op->value = e->cur;
			op->len = sizeof e->cur;
			op->version = e->version;
			op->expires = e->expires;
		} else {
			continue;
		}
		op->key.ptr = e->key;
		op->key.len = e->key_len;
	}
	/* the policy's shared store, unless this request fell back */
	d->a.store_shared = P->store_redis && !io->local &&
	    (d->a.n_reads > 0 || d->a.n_writes > 0);
}

static void run(const ac_policy *P, ac_state *S, const ac_request *req,
    int64_t now, const uint8_t *entropy, size_t entropy_len,
    const ac_verdict *v, ac_decision *d)
{
	size_t i;

	reset(d, req);
	/* identity headers never pass through from the client */
	d->a.remove[d->a.n_remove++] = P->user_header;
	d->a.remove[d->a.n_remove++] = P->roles_header;
	for (i = 0; i < P->n_claim_headers; i++)
		d->a.remove[d->a.n_remove++] = P->claim_headers[i].header;
	if (P->assert_id.on)
		d->a.remove[d->a.n_remove++] = P->assert_id.header;

	decide(P, S, req, now, entropy, entropy_len, v, d);
	d->a.store_failed = d->store.failed == AC_STORE_UNAVAILABLE ||
	    d->store.fell_back;
	if (d->a.action == AC_PENDING && d->a.wait == AC_WAIT_NONE)
		d->a.wait = AC_WAIT_PASSWORD;
	store_ops(P, d);
	if (d->a.wait == AC_WAIT_PASSWORD && d->a.n_writes > 0)
		d->store.client_counted = 1;
	if (d->a.action == AC_PENDING) {
		/* nothing reaches the client or upstream until it resumes */
		d->a.status = 0;
		d->a.reason = AC_PENDING_REASON;
		d->a.n_add = d->a.n_resp_headers = 0;
	}
	/* audit_len stays 0 (no line, nothing formatted) for an allow the
	 * policy does not audit; one that ends a password check (Basic
	 * credentials checked against their hash) is a login: audited */
	if (v != NULL || ac_reply_audited(P, d, entropy, entropy_len))
		ac_reply_audit(P, d, req, now);
}

/* A new request: it has asked for no fetch (ac_jwks.c) and holds no
 * verified session. */
static void fetch_reset(ac_decision *d)
{
	d->fetch_src = NULL;
	d->fetch_asked = d->fetch_done = d->fetch_failed = 0;
	d->oidc.asked = d->oidc.outcome = 0;
	d->oidc.token_len = 0;
	d->sess_policy = NULL; /* a new request verifies its session */
	d->disc_asked = d->fetch_kind = 0;
}

ac_action ac_decide_begin(const ac_policy *P, ac_state *S,
    const ac_request *req, int64_t now, const uint8_t *entropy,
    size_t entropy_len, ac_decision *d)
{
	memset(&d->store, 0, sizeof d->store);
	d->release = 0;
	d->gw.pending = d->gw.done = 0;
	fetch_reset(d);
	run(P, S, req, now, entropy, entropy_len, NULL, d);
	ac_gateway_gate(P, d);
	return d->a.action;
}

size_t ac_decide_step(ac_decision *d, size_t max_iterations)
{
	if (d->a.action != AC_PENDING || d->a.wait != AC_WAIT_PASSWORD)
		return 0;
	return ac_password_verify_step(&d->work.verify, max_iterations);
}

static void store_rerun(const ac_policy *P, ac_state *S,
    const ac_request *req, int64_t now, const uint8_t *entropy,
    size_t entropy_len, ac_decision *d);

/* A release decision's run (ac_release_begin, ac_revoke_begin): an answer
 * with nothing but the store's reads or writes. */
static void release_run(const ac_policy *P, const ac_state *S, int64_t now,
    ac_decision *d)
{
	reset(d, NULL);
	d->a.reason = d->store.failed;
	d->a.store_failed = d->store.failed == AC_STORE_UNAVAILABLE ||
	    d->store.fell_back;
	if (d->release == 2)
		ac_revoke_user_run(P, S, now, d);
	else if (d->store.failed == AC_OK)
		ac_conn_release(P, now, d);
	store_ops(P, d);
}

ac_action ac_release_begin(const ac_policy *P, const uint8_t *lease,
    size_t len, int64_t now, ac_decision *d)
{
	memset(&d->store, 0, sizeof d->store);
	memset(&d->work, 0, sizeof d->work);
	d->release = 1;
	d->gw.pending = d->gw.done = 0;
	if (!ac_conn_lease_ok(P, lease, len)) {
		d->lease_len = 0;
		d->store.failed = AC_OK;
		release_run(P, NULL, now, d);
		d->a.action = AC_RESPOND;
		d->a.status = 400;
		d->a.reason = AC_INVALID_REQUEST;
		d->a.n_reads = d->a.n_writes = 0;
		d->a.wait = AC_WAIT_NONE;
		return d->a.action;
	}
	memcpy(d->lease, lease, len);
	d->lease_len = len;
	/* counted in the host's own store: released there */
	d->store.local = lease[0] == 'l';
	release_run(P, NULL, now, d);
	ac_gateway_gate(P, d);
	return d->a.action;
}

ac_action ac_revoke_begin(const ac_policy *P, ac_state *S, const char *user,
    size_t len, int64_t now, ac_decision *d)
{
	memset(&d->store, 0, sizeof d->store);
	memset(&d->work, 0, sizeof d->work);
	d->release = 2;
	d->op_user_len = 0;
	if (user != NULL && len > 0 && len <= sizeof d->op_user) {
		memcpy(d->op_user, user, len);
		d->op_user_len = len;
	}
	release_run(P, S, now, d);
	ac_gateway_gate(P, d);
	return d->a.action;
}

static void finish_run(const ac_policy *P, ac_state *S,
    const ac_request *req, int64_t now, const uint8_t *entropy,
    size_t entropy_len, ac_decision *d);

/* A store step sent to the policy's Redis gateway is answered first
 * (core/ac_redis_gateway.c); a next one due for it is sent as a fetch
 * again. */
void ac_decide_finish(const ac_policy *P, ac_state *S,
    const ac_request *req, int64_t now, const uint8_t *entropy,
    size_t entropy_len, ac_decision *d)
{
	if (!ac_gateway_resolve(P, S, req, now, entropy, entropy_len, d))
		finish_run(P, S, req, now, entropy, entropy_len, d);
	ac_gateway_gate(P, d);
}

static void finish_run(const ac_policy *P, ac_state *S,
    const ac_request *req, int64_t now, const uint8_t *entropy,
    size_t entropy_len, ac_decision *d)
{
	ac_verdict v;
	ac_password_status st;
	int written = 0;

	if (d->release) {
		if (d->a.action == AC_PENDING)
			release_run(P, S, now, d);
		return;
	}
	if (d->a.action != AC_PENDING) {
		memset(&d->store, 0, sizeof d->store);
		fetch_reset(d);
		run(P, S, req, now, entropy, entropy_len, NULL, d);
		return;
	}
	if (d->a.wait == AC_WAIT_FETCH) {
		/* with the keys the fetch brought, or its failure; the
		 * store entries read before it are kept */
		ac_jwks_unanswered(d, now);
		store_rerun(P, S, req, now, entropy, entropy_len, d);
		return;
	}
	if (d->a.wait == AC_WAIT_STORE) {
		store_rerun(P, S, req, now, entropy, entropy_len, d);
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
	ac_pending_release(S, d->work.slot, d->work.ticket, &written);
	if (d->store.client_counted) {
		/* the host stored the client's buckets before the check: an
		 * entry needed from here on is read afresh */
		memset(d->store.e, 0, sizeof d->store.e);
		d->store.n = 0;
	}
	/* kept for the runs after store reads this decision may still wait
	 * for (identity limits) */
	d->store.v = v;
	d->store.has_verdict = 1;
	d->store.verdict_spent = 0;
	run(P, S, req, now, entropy, entropy_len, &v, d);
	d->store.verdict_spent = 1;
	d->a.state_written |= written;
	memset(&v, 0, sizeof v);
}

/* A run after store reads: the entries supplied, and the verdict of a
 * password check the decision finished before them, whose effects on the
 * state (the budget's refund) were made by that first run and are not
 * made again. */
static void store_rerun(const ac_policy *P, ac_state *S,
    const ac_request *req, int64_t now, const uint8_t *entropy,
    size_t entropy_len, ac_decision *d)
{
	ac_verdict v;
	size_t i;

	for (i = 0; i < d->store.n; i++)
		if (!d->store.e[i].supplied)
			d->store.missing = 1;
	if (!d->store.has_verdict) {
		run(P, S, req, now, entropy, entropy_len, NULL, d);
		return;
	}
	v = d->store.v;
	if (d->store.verdict_spent)
		v.began = INT64_MIN; /* outside every budget window */
	run(P, S, req, now, entropy, entropy_len, &v, d);
	d->store.verdict_spent = 1;
	memset(&v, 0, sizeof v);
}

int ac_decide_supply(ac_decision *d, size_t i, const void *value,
    size_t len, uint64_t version)
{
	ac_store_ent *e;

	if (d == NULL || d->a.action != AC_PENDING ||
	    d->a.wait != AC_WAIT_STORE || i >= d->a.n_reads ||
	    (len != 0 && len != AC_STORE_VALUE_MAX) ||
	    (len != 0 && value == NULL) || (len == 0 && version != 0) ||
	    (len != 0 && version == 0))
		return -1;
	e = &d->store.e[d->store.read_ent[i]];
	memset(e->value, 0, sizeof e->value);
	if (len)
		memcpy(e->value, value, len);
	e->version = version;
	e->supplied = 1;
	return 0;
}

/* Decides d's request again with no entry supplied: the store's answer
 * `why` (AC_OK: read the entries again), the password check this request
 * passed kept, and the count of lost writes carried over. */
static void store_failed(const ac_policy *P, ac_state *S,
    const ac_request *req, int64_t now, const uint8_t *entropy,
    size_t entropy_len, ac_decision *d, ac_reason why)
{
	ac_store_io keep;
	int written = 0;
	int local;

	ac_gateway_restore(d); /* a store step the host did not send */
	keep = d->store;
	local = keep.local;

	if (why == AC_STORE_UNAVAILABLE && P->store_redis && !local &&
	    P->rl_fail_local) {
		/* the shared store failed: the limits count in the host's
		 * own from here on, for this request (the next tries the
		 * shared one again) */
		local = 1;
		why = AC_OK;
		keep.fell_back = 1;
	}
	if (d->release) {
		memset(&d->store, 0, sizeof d->store);
		d->store.failed = why;
		d->store.lost = keep.lost;
		d->store.local = local;
		d->store.fell_back = keep.fell_back;
		release_run(P, S, now, d);
		ac_wipe(&keep, sizeof keep);
		ac_gateway_gate(P, d);
		return;
	}
	if (d->a.action == AC_PENDING && d->a.wait == AC_WAIT_PASSWORD) {
		/* the writes of the answer starting a password check were
		 * not stored: the check never ran; its slot is given back */
		ac_pending_release(S, d->work.slot, d->work.ticket, &written);
		ac_password_verify_wipe(&d->work.verify);
		memset(&d->work, 0, sizeof d->work);
		d->a.action = AC_RESPOND;
	}
	memset(&d->store, 0, sizeof d->store);
	d->store.failed = why;
	d->store.lost = keep.lost;
	d->store.local = local;
	d->store.fell_back = keep.fell_back;
	if (keep.has_verdict) {
		/* the password check this request passed stays passed, and
		 * so do the client's counts stored as it began */
		d->store.has_verdict = 1;
		d->store.verdict_spent = keep.verdict_spent;
		d->store.v = keep.v;
		d->store.client_counted = keep.client_counted;
		d->a.action = AC_PENDING;
		d->a.wait = AC_WAIT_STORE;
		store_rerun(P, S, req, now, entropy, entropy_len, d);
	} else {
		run(P, S, req, now, entropy, entropy_len, NULL, d);
	}
	d->a.state_written |= written;
	ac_wipe(&keep, sizeof keep);
	ac_gateway_gate(P, d);
}

void ac_decide_store_error(const ac_policy *P, ac_state *S,
    const ac_request *req, int64_t now, const uint8_t *entropy,
    size_t entropy_len, ac_decision *d)
{
	store_failed(P, S, req, now, entropy, entropy_len, d,
	    AC_STORE_UNAVAILABLE);
}

void ac_decide_store_conflict(const ac_policy *P, ac_state *S,
    const ac_request *req, int64_t now, const uint8_t *entropy,
    size_t entropy_len, ac_decision *d)
{
	store_failed(P, S, req, now, entropy, entropy_len, d,
	    AC_STORE_CONFLICT);
}

void ac_decide_store_lost(const ac_policy *P, ac_state *S,
    const ac_request *req, int64_t now, const uint8_t *entropy,
    size_t entropy_len, ac_decision *d)
{
	unsigned lost;

	if (d == NULL || d->a.n_writes == 0)
		return;
	lost = d->store.lost + 1;
	store_failed(P, S, req, now, entropy, entropy_len, d,
	    lost < (d->release ? AC_RELEASE_ATTEMPTS : AC_STORE_ATTEMPTS) ?
	    AC_OK : AC_STORE_CONFLICT);
	d->store.lost = lost;
}

void ac_decide_next(const ac_policy *P, ac_state *S, const ac_request *req,
    int64_t now, const uint8_t *entropy, size_t entropy_len, ac_decision *d)
{
	if (d->a.action == AC_PENDING)
		ac_decide_finish(P, S, req, now, entropy, entropy_len, d);
	else
		(void)ac_decide_begin(P, S, req, now, entropy, entropy_len, d);
}

void ac_decide(const ac_policy *P, ac_state *S, const ac_request *req,
    int64_t now, const uint8_t *entropy, size_t entropy_len, ac_decision *d)
{
	if (ac_decide_begin(P, S, req, now, entropy, entropy_len, d) ==
	    AC_PENDING)
		ac_decide_finish(P, S, req, now, entropy, entropy_len, d);
}

void ac_decide_abandon(ac_state *S, ac_decision *d)
{
	if (d == NULL)
		return;
	ac_gateway_restore(d); /* a store step's fetch: the answer it was */
	if (d->a.action != AC_PENDING)
		return;
	d->a.state_written = 0;
	if (d->a.wait == AC_WAIT_STORE || d->a.wait == AC_WAIT_FETCH ||
	    d->release) {
		/* nothing in flight but the reads or the fetch: nothing to
		 * free */
		memset(&d->store, 0, sizeof d->store);
		d->a.wait = AC_WAIT_NONE;
		d->a.n_reads = 0;
		d->a.action = AC_RESPOND;
		return;
	}
	ac_pending_release(S, d->work.slot, d->work.ticket, &d->a.state_written);
	ac_password_verify_wipe(&d->work.verify);
	memset(&d->work, 0, sizeof d->work);
	d->a.action = AC_RESPOND;
}

const ac_answer *ac_decision_answer(const ac_decision *d)
{
	return &d->a;
}

void ac_decision_wipe(ac_decision *d)
{
	if (d != NULL)
		ac_wipe(&d->work, sizeof d->work);
}

size_t ac_sizeof_decision(void)
{
	return sizeof(ac_decision);
}
