/*
 * Connection caps ("rate_limits.connections"): how many streams may be
 * alive at once (WebSocket upgrades, server-sent event streams, any long
 * request), globally or per client, user, API key, role or header.
 *
 * A cap is a counter in a store entry, like a rate-limit bucket
 * (core/authcore_store.h): an allowed request a cap covers reads the
 * counter's group, and its answer writes the count plus one with
 * compare-and-set, or, at the cap, is refused 429 too_many_connections.
 * The allowed answer carries a lease naming the counters it took and the
 * store that holds them; the host keeps it for the stream's life and, when
 * the stream ends, hands it to ac_release_begin, a decision of its own over
 * the same protocol that takes each counter down by one, in that store.
 *
 * Counters live in 64-byte groups of 8 slots, in a range of groups of
 * their own after the rate limits' (so a bucket's eviction never touches
 * one): a slot is a 24-bit tag (placed as buckets are, by the state's
 * key) above a 32-bit count; a count of 0 frees its slot. A group whose 8
 * slots all hold live counters of other keys cannot count another: 503
 * store_unavailable (rare: 8 live keys meeting in one group).
 */
#include "ac_conn.h"
#include "ac_ratelimit.h"
#include "ac_reply.h"

#define LEASE_ITEM 8u   /* group (u32 LE), tag (u32 LE) */
/* a group with live counters is kept this long after its last change
 * (stores that expire entries; the local ones never do) */
#define COUNTER_TTL (30 * 86400)

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24;
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

/* Slot i of a group: count in bytes 0..3, tag in 4..7. The slot holding
 * tag, else a free one (*found 0), else AC_GROUP_SLOTS: full. */
static size_t slot_of(const uint8_t *g, uint32_t tag, int *found)
{
	size_t i, free_i = AC_GROUP_SLOTS;

	*found = 0;
	for (i = 0; i < AC_GROUP_SLOTS; i++) {
		uint32_t n = get32(g + 8 * i), t = get32(g + 8 * i + 4);
		if (n != 0 && t == tag) {
			*found = 1;
			return i;
		}
		if (n == 0 && free_i == AC_GROUP_SLOTS)
			free_i = i;
	}
	return free_i;
}

static int64_t expiry(const uint8_t *g, int64_t now)
{
	size_t i;

	for (i = 0; i < AC_GROUP_SLOTS; i++)
		if (get32(g + 8 * i) != 0)
			return now + COUNTER_TTL;
	return now; /* every counter is 0: the same as absent */
}

int ac_conn_acquire(ac_ctx *c)
{
	const ac_policy *P = c->P;
	ac_decision *d = c->d;
	struct { size_t ent; uint32_t g, tag; const ac_rate_limit *R; }
	    cap[AC_CONN_CAPS_MAX];
	uint8_t scratch[AC_STORE_OPS_MAX][AC_GROUP_BYTES];
	int touched[AC_STORE_OPS_MAX];
	size_t n = 0, i;
	int waiting = 0, r;

	if (P->n_conn_caps == 0)
		return AC_STAGE_NEXT;
	for (i = 0; i < P->n_conn_caps; i++) {
		const ac_rate_limit *R = &P->conn_caps[i];
		uint8_t net[9];
		ac_str v;
		int e;

		if (!ac_rl_applies(R, c))
			continue;
		v = ac_rl_key_value(R, c, net);
		if (v.ptr == NULL)
			continue;
		if (n == 0 && (r = ac_store_gate(c)) >= 0)
			return r;
		e = ac_store_place(c, "cc1", i, 0, R, v, P->rl_groups,
		    P->conn_groups, &cap[n].g, &cap[n].tag);
		if (e < 0)
			return AC_STAGE_DONE;
		if (!d->store.e[e].supplied)
			waiting = 1;
		cap[n].ent = (size_t)e;
		cap[n].R = R;
		n++;
	}
	if (n == 0)
		return AC_STAGE_NEXT;
	if ((r = ac_store_ready(c, waiting)) != AC_STAGE_NEXT)
		return r;
	/* count the stream under every cap, or (one is at its max) none */
	memset(touched, 0, sizeof touched);
	for (i = 0; i < n; i++) {
		uint8_t *g = scratch[cap[i].ent];
		uint32_t count;
		size_t s;
		int found;

		if (!touched[cap[i].ent]) {
			memcpy(g, d->store.e[cap[i].ent].cur, AC_GROUP_BYTES);
			touched[cap[i].ent] = 1;
		}
		s = slot_of(g, cap[i].tag, &found);
		if (s == AC_GROUP_SLOTS) {
			ac_reply_respond(d, 503, AC_STORE_UNAVAILABLE);
			ac_reply_retry_after(d, 1);
			return AC_STAGE_DONE;
		}
		count = found ? get32(g + 8 * s) : 0;
		if (count >= cap[i].R->max_streams) {
			ac_reply_respond(d, 429, AC_TOO_MANY_CONNECTIONS);
			return AC_STAGE_DONE;
		}
		put32(g + 8 * s, count + 1);
		put32(g + 8 * s + 4, cap[i].tag);
	}
	/* which store counted: a release must take the counters down in
	 * the same one ('l': the host's own, also when the shared store
	 * failed and this request fell back to it) */
	d->lease[0] = P->store_redis && !d->store.local ? 'L' : 'l';
	d->lease[1] = (uint8_t)n;
	for (i = 0; i < n; i++) {
		put32(d->lease + 2 + LEASE_ITEM * i, cap[i].g);
		put32(d->lease + 2 + LEASE_ITEM * i + 4, cap[i].tag);
	}
	d->lease_len = 2 + LEASE_ITEM * n;
	d->a.lease = d->lease;
	d->a.lease_len = d->lease_len;
	for (i = 0; i < AC_STORE_OPS_MAX; i++) {
		ac_store_ent *E = &d->store.e[i];
		if (!touched[i])
			continue;
		memcpy(E->cur, scratch[i], AC_GROUP_BYTES);
		E->changed = 1;
		E->expires = expiry(E->cur, c->now);
	}
	return AC_STAGE_NEXT;
}

int ac_conn_lease_ok(const ac_policy *P, const uint8_t *lease, size_t len)
{
	size_t n, i;

	if (P == NULL || lease == NULL || len < 2 ||
	    (lease[0] != 'L' && lease[0] != 'l'))
		return 0;
	n = lease[1];
	if (n == 0 || n > P->n_conn_caps || len != 2 + LEASE_ITEM * n)
		return 0;
	for (i = 0; i < n; i++) {
		uint32_t g = get32(lease + 2 + LEASE_ITEM * i);
		if (g < P->rl_groups || g - P->rl_groups >= P->conn_groups)
			return 0;
	}
	return 1;
}

void ac_conn_release(const ac_policy *P, int64_t now, ac_decision *d)
{
	size_t n = d->lease[1], i;
	int waiting = 0;

	(void)P;
	for (i = 0; i < n; i++) {
		int e = ac_store_entry(d, get32(d->lease + 2 + LEASE_ITEM * i));
		if (e < 0)
			return; /* cannot be: n <= AC_CONN_CAPS_MAX */
		if (!d->store.e[e].supplied)
			waiting = 1;
	}
	if (waiting) {
		d->a.action = AC_PENDING;
		d->a.wait = AC_WAIT_STORE;
		return;
	}
	for (i = 0; i < n; i++) {
		int e = ac_store_entry(d, get32(d->lease + 2 + LEASE_ITEM * i));
		ac_store_ent *E = &d->store.e[e];
		uint32_t tag = get32(d->lease + 2 + LEASE_ITEM * i + 4);
		int found;
		size_t s = slot_of(E->cur, tag, &found);

		/* a counter already gone (a store that dropped it) stays 0 */
		if (!found)
			continue;
		put32(E->cur + 8 * s, get32(E->cur + 8 * s) - 1);
		if (get32(E->cur + 8 * s) == 0)
			put32(E->cur + 8 * s + 4, 0);
		E->changed = 1;
		E->expires = expiry(E->cur, now);
	}
}
