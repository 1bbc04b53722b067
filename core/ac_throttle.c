/*
 * The login throttle in a shared store (contract: ac_throttle.h).
 *
 * A host's own throttle (core/ac_state.c) counts failures per (client,
 * user) in fixed windows, and checks begun per client network. Several
 * hosts behind one load balancer would each allow that many, so under a
 * policy's "store" both counts live in the store, as rate-limit buckets
 * do: one 64-bit slot per count (the bucket slot's layout,
 * core/ac_bucket.h: a 24-bit tag over a 40-bit time), placed by the
 * fleet's key among AC_THROTTLE_GROUPS groups after the revocations'.
 *
 * A count is a GCRA bucket (ac_gcra) of login.attempts per window: that
 * many attempts at once, then one more per window / attempts, so the same
 * number per window in the long run. A check is counted as it begins
 * (like the host's own throttle), the pair's count is cleared when it
 * matches and the client's budget gets that attempt back. Two slots, the
 * budget's and the pair's, at most two entries, read in one round trip.
 *
 * A group whose 8 slots all hold live counts takes no new one: the
 * attempt is refused (503 overloaded) rather than a count forgotten, as
 * the host's own throttle does. A store that fails puts the request on the
 * host's own throttle (the decision's "local" fallback, which every host
 * has: its ac_state), never on none.
 */
#include "ac_bucket.h"
#include "ac_identify.h"
#include "ac_login.h"
#include "ac_request_int.h"
#include "ac_ratelimit.h"
#include "ac_state_int.h"
#include "ac_throttle.h"

typedef struct {
	int ent;          /* the decision's store entry */
	uint32_t tag;
	ac_window w;
} counter;

int ac_throttle_shared(const ac_policy *P, const ac_decision *d)
{
	return P->store_redis && P->th_groups > 0 && !d->store.local &&
	    d->store.failed == AC_OK;
}

static uint64_t btime(int64_t t)
{
	return ac_bucket_time(t > INT64_MAX / 1000 ? INT64_MAX :
	    t < INT64_MIN / 1000 ? INT64_MIN : t * 1000);
}

static uint32_t period(int64_t secs)
{
	return secs > (int64_t)UINT32_MAX ? UINT32_MAX : (uint32_t)secs;
}

/* The budget's (kind 'c': the client's network) or the pair's ('p': the
 * client and the user) counter; ent -1 if the decision is full. */
static void place(const ac_policy *P, const ac_state *S, ac_decision *d,
    int kind, ac_str client, ac_str user, counter *c)
{
	uint8_t name[6 + 128 + AC_SESSION_USER_MAX], net[9];
	size_t n = 0, cl;
	uint32_t g;

	if (kind == 'c')
		client = ac_client_net(client, net);
	cl = client.len < 128 ? client.len : 128;
	memcpy(name, kind == 'c' ? "th1c" : "th1p", 4);
	n = 4;
	name[n++] = (uint8_t)cl;
	memcpy(name + n, client.ptr, cl);
	n += cl;
	if (kind == 'p') {
		size_t ul = user.len < AC_SESSION_USER_MAX ? user.len :
		    AC_SESSION_USER_MAX;
		name[n++] = 0;
		memcpy(name + n, user.ptr, ul);
		n += ul;
	}
	ac_bucket_place(ac_store_place_key(P, S), name, n, P->th_groups, &g,
	    &c->tag);
	c->ent = ac_store_entry(d, P->rl_groups + P->conn_groups +
	    P->rev_groups + g);
	if (kind == 'c') {
		c->w.count = P->client_attempts;
		c->w.period = period(P->client_window);
	} else {
		c->w.count = P->attempts;
		c->w.period = period(P->attempts_window);
	}
}

int ac_stage_throttle_prefetch(ac_ctx *c)
{
	const ac_policy *P = c->P;
	ac_decision *d = c->d;
	ac_login_form f;
	counter k[2];
	size_t keep = d->buf_len;

	if (!ac_throttle_shared(P, d) || !P->password_login ||
	    c->req.body_too_large || !ac_str_eq(c->req.method, "POST", 4) ||
	    ac_login_route(P, &c->req, c->path_len) != AC_ROUTE_LOGIN ||
	    d->store.n + 2 > AC_STORE_OPS_MAX)
		return AC_STAGE_NEXT;
	memset(&f, 0, sizeof f);
	if (ac_req_login_form(&c->req, d, &f) == 0 && f.user.len > 0 &&
	    f.user.len <= AC_SESSION_USER_MAX) {
		/* only named: read with the client limits' buckets */
		place(P, c->S, d, 'c', d->a.client, f.user, &k[0]);
		place(P, c->S, d, 'p', d->a.client, f.user, &k[1]);
	}
	/* the login stage reads the form again, for itself */
	ac_wipe(f.password, sizeof f.password);
	ac_wipe(d->buf + keep, d->buf_len - keep);
	d->buf_len = keep;
	return AC_STAGE_NEXT;
}

/* Both counters placed and supplied: 0; else AC_ID_PENDING (d pending on
 * the reads) or AC_ID_OVERLOADED (no entry for one). */
static int ready(const ac_policy *P, const ac_state *S, ac_str client,
    ac_str user, ac_decision *d, counter c[2])
{
	place(P, S, d, 'c', client, user, &c[0]);
	place(P, S, d, 'p', client, user, &c[1]);
	if (c[0].ent < 0 || c[1].ent < 0 || d->store.missing)
		return AC_ID_OVERLOADED;
	if (!d->store.e[c[0].ent].supplied || !d->store.e[c[1].ent].supplied) {
		d->a.action = AC_PENDING;
		d->a.wait = AC_WAIT_STORE;
		return AC_ID_PENDING;
	}
	return 0;
}

/* Seconds until the first live slot of g lapses (a full group). */
static int64_t first_lapse(const uint8_t *g, uint64_t now)
{
	uint64_t soonest = UINT64_MAX;
	size_t i, k;

	for (i = 0; i < AC_GROUP_SLOTS; i++) {
		uint64_t s = 0;
		for (k = 0; k < 8; k++)
			s |= (uint64_t)g[8 * i + k] << (8 * k);
		s &= AC_BUCKET_TIME_MAX;
		if (s > now && s - now < soonest)
			soonest = s - now;
	}
	return soonest == UINT64_MAX ? 1 : (int64_t)((soonest + 999) / 1000);
}

int ac_throttle_store_count(const ac_policy *P, const ac_state *S,
    ac_str client, ac_str user, int64_t now, int commit, ac_decision *d,
    int64_t *retry)
{
	counter c[2];
	uint8_t buf[2][AC_GROUP_BYTES], *g[2];
	uint64_t t = btime(now), wait = 0;
	int r, full = 0;
	size_t i;

	*retry = 1;
	if ((r = ready(P, S, client, user, d, c)) != 0)
		return r;
	/* the two counters may share a group: then one copy of it */
	memcpy(buf[0], d->store.e[c[0].ent].cur, AC_GROUP_BYTES);
	memcpy(buf[1], d->store.e[c[1].ent].cur, AC_GROUP_BYTES);
	g[0] = buf[0];
	g[1] = c[1].ent == c[0].ent ? buf[0] : buf[1];
	for (i = 0; i < 2; i++) {
		ac_gcra_result res;
		uint64_t tat;
		int evicted;
		size_t slot = ac_group_find(g[i], c[i].tag, t, &tat, &evicted);

		if (evicted) {
			/* every slot counts someone: never forget one */
			*retry = first_lapse(g[i], t);
			full = 1;
			break;
		}
		ac_gcra(&tat, t, &c[i].w, &res);
		if (!res.allowed) {
			if (res.retry_ms > wait)
				wait = res.retry_ms;
			continue;
		}
		ac_group_store(g[i], slot, c[i].tag, tat);
	}
	if (full)
		return AC_ID_OVERLOADED;
	if (wait > 0) {
		*retry = (int64_t)((wait + 999) / 1000);
		return AC_ID_THROTTLED;
	}
	for (i = 0; commit && i < 2; i++) {
		ac_store_ent *E = &d->store.e[c[i].ent];
		memcpy(E->cur, g[i], AC_GROUP_BYTES);
		E->changed = 1;
		E->expires = ac_group_expiry(E->cur);
	}
	return 0;
}

int ac_throttle_store_success(const ac_policy *P, const ac_state *S,
    ac_str client, ac_str user, int64_t now, ac_decision *d)
{
	counter c[2];
	uint64_t t = btime(now);
	size_t i;
	int r;

	if ((r = ready(P, S, client, user, d, c)) != 0)
		return r == AC_ID_PENDING ? r : 0;
	for (i = 0; i < 2; i++) {
		ac_store_ent *E = &d->store.e[c[i].ent];
		uint64_t tat, iv = ac_window_interval(&c[i].w);
		int evicted;
		size_t slot = ac_group_find(E->cur, c[i].tag, t, &tat,
		    &evicted);

		if (evicted || tat <= t)
			continue; /* nothing counted, or lapsed already */
		/* the pair starts afresh; the budget gets one attempt back */
		tat = i == 1 || tat - t <= iv ? 0 : tat - iv;
		ac_group_store(E->cur, slot, tat ? c[i].tag : 0, tat);
		E->changed = 1;
		E->expires = ac_group_expiry(E->cur);
	}
	return 0;
}
