/*
 * Session revocation ("sessions"."revocation"): logout revokes the
 * session for the rest of its life, "everywhere" revokes every session of
 * its user issued until then, and every request a session authenticates
 * checks both, in one store entry.
 *
 * Sessions are stateless tokens, so a revocation is state: entries in
 * 64-byte groups of the store (the rate limits' protocol,
 * core/authcore_store.h), after the caps' groups. A user's revocations
 * live in the one group its name is placed in (a keyed hash under the
 * state's key), so a check reads one entry: a local table read, a shared
 * data get, one remote round trip. A slot (the bucket slot's layout,
 * core/ac_bucket.h: a 24-bit tag over a 40-bit time in ms since 2020) is
 *   - a session: the tag of its id, the time its token expires: until
 *     then a token with that id is refused;
 *   - a user: the tag of its name with the top bit set, the moment T of
 *     "log out everywhere": a session of that user issued at T or before
 *     is refused, until T + sessions.ttl (when all of them have expired);
 *   - the floor: tag 0xFFFFFF, a moment T for every user of the group.
 * A slot whose moment has passed (T + ttl for the last two) is free. A group
 * whose 8 slots all hold live revocations takes a new one by becoming a
 * floor at now: every session placed there that was issued until now is
 * refused (each of them had been issued by then), so a full group never
 * forgets a revocation; its users sign in again. "store" sizes the groups
 * so that this stays rare.
 *
 * A store that cannot be read refuses the session (503; on_store_error
 * "allow" lets it through): revocation fails closed by default, also when
 * the rate limits fell back from a shared store to the host's own.
 */
#include "ac_bucket.h"
#include "ac_identify.h"
#include "ac_login.h"
#include "ac_ratelimit.h"
#include "ac_reply.h"
#include "ac_request_int.h"
#include "ac_revoke.h"
#include "ac_state_int.h"

#define BEFORE_BIT 0x800000u   /* a user's or the floor's slot */
#define FLOOR_TAG 0xFFFFFFu
#define TAG_MASK 0xFFFFFFu

typedef struct {
	int ent;          /* the decision's store entry */
	uint32_t user;    /* the user's tag */
	uint32_t sid;     /* the session's tag */
} place;

static uint64_t slot_at(const uint8_t *g, size_t i)
{
	uint64_t s = 0;
	size_t k;

	for (k = 0; k < 8; k++)
		s |= (uint64_t)g[8 * i + k] << (8 * k);
	return s;
}

/* ms since the bucket epoch for unix seconds t */
static uint64_t btime(int64_t t)
{
	return ac_bucket_time(t > INT64_MAX / 1000 ? INT64_MAX :
	    t < INT64_MIN / 1000 ? INT64_MIN : t * 1000);
}

/* When slot s stops mattering (bucket time); 0 for an empty slot. */
static uint64_t lapse(const ac_policy *P, uint64_t s)
{
	uint32_t tag = (uint32_t)(s >> AC_BUCKET_TIME_BITS);
	uint64_t t = s & AC_BUCKET_TIME_MAX;

	if (s == 0)
		return 0;
	return (tag & BEFORE_BIT) ? t + (uint64_t)P->session_ttl * 1000 : t;
}

/* The group of user and the tags of the user and of session sid; the
 * entry added to the decision (unsupplied) if new. -1 with d answered
 * (503: the decision holds too many entries). */
static int place_of(const ac_policy *P, const ac_state *S, ac_str user,
    const uint8_t *sid, ac_decision *d, place *out)
{
	uint8_t name[4 + AC_SESSION_USER_MAX];
	uint32_t g, t;
	size_t n = user.len < AC_SESSION_USER_MAX ? user.len :
	    AC_SESSION_USER_MAX;

	memcpy(name, "rv1u", 4);
	memcpy(name + 4, user.ptr, n);
	ac_bucket_place(ac_store_place_key(P, S), name, 4 + n, P->rev_groups,
	    &g, &t);
	out->user = (t | BEFORE_BIT) & TAG_MASK;
	if (out->user == FLOOR_TAG)
		out->user = FLOOR_TAG - 1;
	memcpy(name, "rv1s", 4);
	memcpy(name + 4, sid, AC_SESSION_ID_LEN);
	ac_bucket_place(ac_store_place_key(P, S), name, 4 + AC_SESSION_ID_LEN,
	    1, &t, &out->sid);
	out->sid &= ~BEFORE_BIT;
	if (out->sid == 0)
		out->sid = 1;
	out->ent = ac_store_entry(d, P->rl_groups + P->conn_groups + g);
	if (out->ent < 0) {
		ac_reply_respond(d, 503, AC_STORE_UNAVAILABLE);
		ac_reply_retry_after(d, 1);
	}
	return out->ent;
}

/* The store's state for this decision: 1 go on, 0 answered (pending on
 * the read, 503, 500), 2 let through (on_store_error "allow"). */
static int ready(const ac_policy *P, const ac_state *S, ac_decision *d,
    ac_str user, const uint8_t *sid, place *pl)
{
	/* a request that fell back to the host's own store (the shared
	 * one failed) cannot see the fleet's revocations */
	if (d->store.failed != AC_OK || d->store.missing || d->store.local) {
		if (P->rev_fail_open)
			return 2;
		ac_reply_respond(d, 503, d->store.failed != AC_OK ?
		    d->store.failed : AC_STORE_UNAVAILABLE);
		ac_reply_retry_after(d, 1);
		return 0;
	}
	if (!ac_state_ok(S)) {
		ac_reply_respond(d, 500, AC_NO_STATE);
		return 0;
	}
	if (place_of(P, S, user, sid, d, pl) < 0)
		return 0;
	if (!d->store.e[pl->ent].supplied) {
		d->a.action = AC_PENDING;
		d->a.wait = AC_WAIT_STORE;
		return 0;
	}
	return 1;
}

/* 1 if group g revokes session s. */
static int revoked(const ac_policy *P, const uint8_t *g, const place *pl,
    const ac_session *s, uint64_t now)
{
	uint64_t iat = btime(s->iat);
	size_t i;

	for (i = 0; i < AC_GROUP_SLOTS; i++) {
		uint64_t v = slot_at(g, i);
		uint32_t tag = (uint32_t)(v >> AC_BUCKET_TIME_BITS);
		uint64_t t = v & AC_BUCKET_TIME_MAX;

		if (v == 0 || lapse(P, v) <= now)
			continue;
		if ((tag & BEFORE_BIT) ? (tag == pl->user ||
		    tag == FLOOR_TAG) && iat <= t : tag == pl->sid)
			return 1;
	}
	return 0;
}

int ac_revoke_check(const ac_policy *P, ac_state *S, int64_t now,
    ac_decision *d)
{
	place pl;
	int r;

	if (P->rev_groups == 0)
		return 1;
	r = ready(P, S, d, d->session.user, d->session.sid, &pl);
	if (r != 1)
		return r == 2;
	if (revoked(P, d->store.e[pl.ent].cur, &pl, &d->session, btime(now))) {
		ac_reply_www_authenticate(d, P, "invalid_token");
		ac_reply_respond(d, 401, AC_SESSION_REVOKED);
		return 0;
	}
	return 1;
}

/* Adds (tag, t) to group g at time now: the same tag keeps the later
 * time; else a free slot; else the group becomes a floor at now. */
static void add(const ac_policy *P, uint8_t *g, uint32_t tag, uint64_t t,
    uint64_t now)
{
	size_t i, free_i = AC_GROUP_SLOTS;

	for (i = 0; i < AC_GROUP_SLOTS; i++) {
		uint64_t v = slot_at(g, i);
		if (v != 0 && lapse(P, v) <= now) {
			ac_group_store(g, i, 0, 0);
			v = 0;
		}
		if (v == 0) {
			if (free_i == AC_GROUP_SLOTS)
				free_i = i;
			continue;
		}
		if ((uint32_t)(v >> AC_BUCKET_TIME_BITS) == tag) {
			if ((v & AC_BUCKET_TIME_MAX) < t)
				ac_group_store(g, i, tag, t);
			return;
		}
	}
	if (free_i < AC_GROUP_SLOTS) {
		ac_group_store(g, free_i, tag, t);
		return;
	}
	/* full of live revocations: a floor at now revokes each of them
	 * (every session they name was issued by now) and this one */
	memset(g, 0, AC_GROUP_BYTES);
	ac_group_store(g, 0, FLOOR_TAG, now - now % 1000);
}

/* When every slot of g has lapsed, in unix seconds. */
static int64_t expiry(const ac_policy *P, const uint8_t *g)
{
	uint64_t last = 0;
	size_t i;

	for (i = 0; i < AC_GROUP_SLOTS; i++) {
		uint64_t l = lapse(P, slot_at(g, i));
		if (l > last)
			last = l;
	}
	return AC_BUCKET_EPOCH + (int64_t)((last + 999) / 1000);
}

int ac_stage_revoke_prefetch(ac_ctx *c)
{
	const ac_policy *P = c->P;
	ac_decision *d = c->d;
	ac_str tok;
	place pl;

	if (P->rev_groups == 0 || !P->store_redis || d->store.local ||
	    d->store.failed != AC_OK || d->store.n >= AC_STORE_OPS_MAX ||
	    ac_req_cookie(&c->req, P->session_cookie, &tok) != 1 ||
	    ac_session_verify_in(P, d, tok, c->now) != AC_OK)
		return AC_STAGE_NEXT;
	/* only named: the entry is read with the client limits' */
	(void)place_of(P, c->S, d->session.user, d->session.sid, d, &pl);
	return AC_STAGE_NEXT;
}

int ac_stage_revoke_logout(ac_ctx *c)
{
	const ac_policy *P = c->P;
	ac_decision *d = c->d;
	ac_session *s = &d->session;
	ac_store_ent *E;
	ac_str tok, every;
	place pl;
	uint64_t now = btime(c->now);
	int r;

	if (P->rev_groups == 0 || !P->login ||
	    ac_login_route(P, &c->req, c->path_len) != AC_ROUTE_LOGOUT ||
	    !(ac_str_eq(c->req.method, "GET", 3) ||
	    ac_str_eq(c->req.method, "HEAD", 4) ||
	    ac_str_eq(c->req.method, "POST", 4)))
		return AC_STAGE_NEXT;
	/* nothing to revoke without a session this policy signed */
	if (ac_req_cookie(&c->req, P->session_cookie, &tok) != 1 ||
	    ac_session_verify_in(P, d, tok, c->now) != AC_OK)
		return AC_STAGE_NEXT;
	r = ready(P, c->S, d, s->user, s->sid, &pl);
	if (r != 1)
		return r == 2 ? AC_STAGE_NEXT : AC_STAGE_DONE;
	E = &d->store.e[pl.ent];
	if (ac_req_query_param(&c->req, "everywhere", d, &every) == 1 &&
	    ac_str_eq(every, "1", 1))
		/* every session of the user issued until now */
		add(P, E->cur, pl.user, now - now % 1000, now);
	else
		add(P, E->cur, pl.sid, btime(s->exp), now);
	E->changed = 1;
	E->expires = expiry(P, E->cur);
	return AC_STAGE_NEXT;
}

void ac_revoke_user_run(const ac_policy *P, const ac_state *S, int64_t now,
    ac_decision *d)
{
	static const uint8_t no_sid[AC_SESSION_ID_LEN];
	ac_str user = { d->op_user, d->op_user_len };
	uint64_t t = btime(now);
	ac_store_ent *E;
	place pl;
	int r;

	if (P->rev_groups == 0 || user.len == 0 || ac_req_has_ctl(user)) {
		ac_reply_respond(d, 400, AC_INVALID_REQUEST);
		return;
	}
	r = ready(P, S, d, user, no_sid, &pl);
	if (r != 1) {
		if (r == 2) {
			/* nothing can be written: say so, never "done" */
			ac_reply_respond(d, 503, AC_STORE_UNAVAILABLE);
		}
		return;
	}
	E = &d->store.e[pl.ent];
	add(P, E->cur, pl.user, t - t % 1000, t);
	E->changed = 1;
	E->expires = expiry(P, E->cur);
}

/* POST <prefix>/auth/revoke?user=NAME, for the role "admin": every
 * session of that user issued until now is revoked (an operator's "sign
 * this user out everywhere"). */
int ac_stage_revoke_admin(ac_ctx *c)
{
	static const char tail[] = "/auth/revoke";
	static const uint8_t no_sid[AC_SESSION_ID_LEN];
	const ac_policy *P = c->P;
	ac_decision *d = c->d;
	ac_store_ent *E;
	ac_str user;
	place pl;
	uint64_t now = btime(c->now);
	size_t start;
	int r;

	if (P->rev_groups == 0 || !P->login ||
	    c->path_len != P->prefix.len + sizeof tail - 1 ||
	    memcmp(c->req.path.ptr, P->prefix.ptr, P->prefix.len) != 0 ||
	    memcmp(c->req.path.ptr + P->prefix.len, tail, sizeof tail - 1) != 0)
		return AC_STAGE_NEXT;
	if (!ac_str_eq(c->req.method, "POST", 4)) {
		ac_reply_json(d, 405, AC_INVALID_REQUEST,
		    "{\"error\":\"method_not_allowed\"}");
		ac_reply_header(d, "allow", "POST", 4);
		return AC_STAGE_DONE;
	}
	if (!ac_str_in_list(c->id.roles, c->id.n_roles, (ac_str){ "admin", 5 })) {
		ac_reply_www_authenticate(d, P, "insufficient_scope");
		ac_reply_respond(d, 403, AC_INSUFFICIENT_ROLE);
		return AC_STAGE_DONE;
	}
	if (ac_req_query_param(&c->req, "user", d, &user) != 1 ||
	    user.len == 0 || user.len > AC_SESSION_USER_MAX ||
	    ac_req_has_ctl(user)) {
		ac_reply_json(d, 400, AC_INVALID_REQUEST,
		    "{\"error\":\"bad_request\"}");
		return AC_STAGE_DONE;
	}
	r = ready(P, c->S, d, user, no_sid, &pl);
	if (r != 1) {
		if (r == 2) {
			/* nothing can be written: say so, never "done" */
			ac_reply_respond(d, 503, AC_STORE_UNAVAILABLE);
			ac_reply_retry_after(d, 1);
		}
		return AC_STAGE_DONE;
	}
	E = &d->store.e[pl.ent];
	add(P, E->cur, pl.user, now - now % 1000, now);
	E->changed = 1;
	E->expires = expiry(P, E->cur);
	start = d->buf_len;
	{
		aj_writer w = ac_reply_writer(d);
		aj_w_lit(&w, "{\"ok\":true,\"revoked\":");
		aj_w_str(&w, user.ptr, user.len);
		aj_w_lit(&w, "}");
		d->buf_len += w.len;
	}
	ac_reply_json(d, 200, AC_OK, "");
	d->a.body.ptr = d->buf + start;
	d->a.body.len = d->buf_len - start;
	return AC_STAGE_DONE;
}
