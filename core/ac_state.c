/*
 * Mutable state: login attempt counters, password checks in flight and
 * verified Basic credentials.
 *
 * The counter tables are fixed arrays probed in groups of AC_STATE_WAYS
 * slots from a keyed position, so an attacker who does not know the
 * state's secret cannot aim at one slot. Memory stays bounded whatever the
 * traffic; a full group gives up its unlocked slot whose window ends first,
 * and never a locked one (a count at its limit inside its window): when a
 * whole group is locked, the attempt is refused instead, so no amount of
 * other traffic makes a locked counter forget. Each slot carries the
 * window end and limit it was counted under, so policies with different
 * limits may share one state. Nothing here holds a password: counters are
 * keyed by a MAC of the client (and user), cache entries by a MAC of
 * (user, password, stored hash), so a cached pair dies as soon as the
 * stored hash changes.
 */
#include <bearssl.h>

#include "ac_bucket.h"
#include "ac_state_int.h"

#define AC_STATE_MAGIC 0x61637333u /* "acs3": the layout with budgets,
                                      checks in flight and the bucket key */
#define AC_STATE_WAYS 8u

int ac_state_init(ac_state *s, const uint8_t *entropy, size_t entropy_len)
{
	memset(s, 0, sizeof *s);
	if (entropy == NULL || entropy_len < AC_STATE_SECRET_LEN)
		return -1;
	memcpy(s->secret, entropy, AC_STATE_SECRET_LEN);
	{
		/* a key of its own for bucket placement, so SipHash never
		 * holds the HMAC key */
		static const char label[] = "authcore-bucket-v1";
		ac_bucket_key_derive(s->secret, sizeof s->secret, label,
		    sizeof label, s->bucket_key);
	}
	s->magic = AC_STATE_MAGIC;
	return 0;
}

const uint8_t *ac_state_bucket_key(const ac_state *S)
{
	return S->bucket_key;
}

int ac_state_ok(const ac_state *S)
{
	return S != NULL && S->magic == AC_STATE_MAGIC;
}

size_t ac_sizeof_state(void)
{
	return sizeof(ac_state);
}

/* HMAC-SHA256(secret, label 0 a 0 b 0 c) */
static void keyed(const ac_state *S, const ac_policy *P, const char *label,
    ac_str a, ac_str b, ac_str c, uint8_t out[32])
{
	br_hmac_key_context kc;
	br_hmac_context hc;
	static const uint8_t zero = 0;

	br_hmac_key_init(&kc, (const br_hash_class *)P->sha256, S->secret,
	    sizeof S->secret);
	br_hmac_init(&hc, &kc, 32);
	br_hmac_update(&hc, label, strlen(label) + 1);
	br_hmac_update(&hc, a.ptr, a.len);
	br_hmac_update(&hc, &zero, 1);
	br_hmac_update(&hc, b.ptr, b.len);
	br_hmac_update(&hc, &zero, 1);
	if (c.len)
		br_hmac_update(&hc, c.ptr, c.len);
	br_hmac_out(&hc, out);
}

static size_t group(const uint8_t *k, size_t slots)
{
	uint32_t h = (uint32_t)k[0] | (uint32_t)k[1] << 8 |
	    (uint32_t)k[2] << 16 | (uint32_t)k[3] << 24;
	return (size_t)(h % (slots / AC_STATE_WAYS)) * AC_STATE_WAYS;
}

/* The part of a client address its budget is kept for: an IPv6 address's
 * /64 (one subscriber's network, where addresses cost nothing), an IPv4
 * address (also written IPv4-mapped, "::ffff:192.0.2.1") as its 4 bytes,
 * anything else as given. */
ac_str ac_client_net(ac_str client, uint8_t buf[9])
{
	uint8_t a[16];
	ac_str out = client, addr = client;
	const char *zone;
	int v4;

	/* as a host may write a peer: "[2001:db8::1]", "fe80::1%eth0" */
	if (addr.len >= 2 && addr.ptr[0] == '[' &&
	    addr.ptr[addr.len - 1] == ']') {
		addr.ptr++;
		addr.len -= 2;
	}
	if (addr.len > 0 && (zone = memchr(addr.ptr, '%', addr.len)) != NULL)
		addr.len = (size_t)(zone - addr.ptr);
	if (ac_ip_parse(addr.ptr, addr.len, a, &v4) < 0)
		return out;
	buf[0] = v4 ? '4' : '6';
	memcpy(buf + 1, a, v4 ? 4 : 8);
	out.len = v4 ? 5 : 9;
	out.ptr = (const char *)buf;
	return out;
}

static void pair_key(const ac_state *S, const ac_policy *P, ac_str client,
    ac_str user, uint8_t k[32])
{
	ac_str none = { "", 0 };
	keyed(S, P, "authcore-throttle-v1", client, user, none, k);
}

static void client_key(const ac_state *S, const ac_policy *P, ac_str client,
    uint8_t k[32])
{
	uint8_t buf[9];
	ac_str none = { "", 0 };
	keyed(S, P, "authcore-client-v1", ac_client_net(client, buf), none, none,
	    k);
}

/* now + secs and until - now (until > now), saturated: `now` comes from
 * the host, which may pass anything. */
static int64_t later(int64_t now, int64_t secs)
{
	return now > INT64_MAX - secs ? INT64_MAX : now + secs;
}

static int64_t left(int64_t until, int64_t now)
{
	return now < 0 && until > INT64_MAX + now ? INT64_MAX : until - now;
}

static int locked(const ac_throttle_slot *t, int64_t now)
{
	return t->limit != 0 && t->fails >= t->limit && now < t->until;
}

static ac_throttle_slot *find(ac_throttle_slot *tab, size_t slots,
    const uint8_t *k)
{
	size_t g = group(k, slots), i;

	for (i = g; i < g + AC_STATE_WAYS; i++)
		if (tab[i].limit != 0 && memcmp(tab[i].key, k,
		    sizeof tab[i].key) == 0)
			return &tab[i];
	return NULL;
}

/* The slot key k is counted in: its own, else a free or lapsed one, else
 * the unlocked one whose window ends first; NULL when every slot of the
 * group is locked (*retry: seconds until the first one unlocks). */
static ac_throttle_slot *slot_for(ac_throttle_slot *tab, size_t slots,
    const uint8_t *k, int64_t now, int64_t *retry)
{
	ac_throttle_slot *t = find(tab, slots, k), *victim = NULL;
	size_t g = group(k, slots), i;
	int64_t soonest = INT64_MAX;

	if (t != NULL)
		return t;
	for (i = g; i < g + AC_STATE_WAYS; i++) {
		t = &tab[i];
		if (t->limit == 0 || now >= t->until)
			return t;
		if (locked(t, now)) {
			if (left(t->until, now) < soonest)
				soonest = left(t->until, now);
		} else if (victim == NULL || t->until < victim->until) {
			victim = t;
		}
	}
	if (victim == NULL)
		*retry = soonest;
	return victim;
}

static void count(ac_throttle_slot *t, const uint8_t *k, uint32_t limit,
    int64_t window, int64_t now)
{
	if (t->limit == 0 || memcmp(t->key, k, sizeof t->key) != 0 ||
	    now >= t->until) {
		memset(t, 0, sizeof *t);
		memcpy(t->key, k, sizeof t->key);
		t->until = later(now, window);
	}
	t->limit = limit;
	if (t->fails < UINT32_MAX)
		t->fails++;
}

/* Seconds until a slot counted under (limit) opens again; 0 if open. */
static int64_t wait_for(const ac_throttle_slot *t, uint32_t limit,
    int64_t now)
{
	if (t == NULL || now >= t->until || t->fails < limit)
		return 0;
	return left(t->until, now);
}

int64_t ac_budget_check(ac_state *S, const ac_policy *P, ac_str client,
    int64_t now)
{
	uint8_t k[32];

	client_key(S, P, client, k);
	return wait_for(find(S->clients, AC_CLIENT_SLOTS, k),
	    P->client_attempts, now);
}

int64_t ac_throttle_check(ac_state *S, const ac_policy *P, ac_str client,
    ac_str user, int64_t now)
{
	uint8_t k[32];

	pair_key(S, P, client, user, k);
	return wait_for(find(S->throttle, AC_THROTTLE_SLOTS, k), P->attempts,
	    now);
}

int ac_attempt_begin(ac_state *S, const ac_policy *P, ac_str client,
    ac_str user, int64_t now, int64_t *retry, int *written)
{
	uint8_t kc[32], kp[32];
	ac_throttle_slot *c, *p;
	int64_t rc = 0, rp = 0;

	client_key(S, P, client, kc);
	pair_key(S, P, client, user, kp);
	c = slot_for(S->clients, AC_CLIENT_SLOTS, kc, now, &rc);
	p = slot_for(S->throttle, AC_THROTTLE_SLOTS, kp, now, &rp);
	if (c == NULL || p == NULL) {
		/* nothing counted: both tables must have room */
		*retry = rc > rp ? rc : rp;
		return -1;
	}
	count(c, kc, P->client_attempts, P->client_window, now);
	count(p, kp, P->attempts, P->attempts_window, now);
	*written = 1;
	return 0;
}

void ac_attempt_success(ac_state *S, const ac_policy *P, ac_str client,
    ac_str user, int64_t began, int *written)
{
	uint8_t k[32];
	ac_throttle_slot *t;

	pair_key(S, P, client, user, k);
	if ((t = find(S->throttle, AC_THROTTLE_SLOTS, k)) != NULL) {
		memset(t, 0, sizeof *t);
		*written = 1;
	}
	/* the budget gets back only the attempt this check spent, and only
	 * if it was spent in the window still running */
	client_key(S, P, client, k);
	t = find(S->clients, AC_CLIENT_SLOTS, k);
	if (t != NULL && t->fails > 0 && began < t->until &&
	    left(t->until, began) <= P->client_window) {
		t->fails--;
		*written = 1;
	}
}

/* A pending slot is live until it lapses; one that claims to live longer
 * than AC_PENDING_TIMEOUT from now (the clock went back) has lapsed. */
static int pending_live(const ac_pending_slot *p, int64_t now)
{
	return p->ticket != 0 && now < p->until &&
	    left(p->until, now) <= AC_PENDING_TIMEOUT;
}

int ac_pending_take(ac_state *S, const ac_policy *P, int64_t now,
    uint32_t *slot, uint64_t *ticket, int *written)
{
	size_t i, live = 0, free_at = AC_PENDING_SLOTS;

	for (i = 0; i < AC_PENDING_SLOTS; i++) {
		if (pending_live(&S->pending[i], now))
			live++;
		else if (free_at == AC_PENDING_SLOTS)
			free_at = i;
	}
	if (live >= P->max_pending || free_at == AC_PENDING_SLOTS)
		return -1;
	if (++S->tickets == 0)
		S->tickets = 1;
	S->pending[free_at].ticket = S->tickets;
	S->pending[free_at].until = later(now, AC_PENDING_TIMEOUT);
	*slot = (uint32_t)free_at;
	*ticket = S->tickets;
	*written = 1;
	return 0;
}

void ac_pending_release(ac_state *S, uint32_t slot, uint64_t ticket,
    int *written)
{
	if (ac_state_ok(S) && ticket != 0 && slot < AC_PENDING_SLOTS &&
	    S->pending[slot].ticket == ticket) {
		memset(&S->pending[slot], 0, sizeof S->pending[slot]);
		*written = 1;
	}
}

void ac_cred_tag(const ac_state *S, const ac_policy *P, ac_str user,
    ac_str password, ac_str hash, uint8_t tag[32])
{
	keyed(S, P, "authcore-cred-v1", user, password, hash, tag);
}

int ac_cred_lookup(const ac_state *S, const uint8_t tag[32], int64_t now)
{
	size_t g = group(tag, AC_CREDCACHE_SLOTS), i;
	int hit = 0;

	for (i = g; i < g + AC_STATE_WAYS; i++) {
		const ac_cred_slot *c = &S->creds[i];
		hit |= (c->used && now < c->until) &
		    ac_ct_equal(c->tag, tag, sizeof c->tag);
	}
	return hit;
}

void ac_cred_insert(ac_state *S, const uint8_t tag[32], int64_t until,
    int *written)
{
	size_t g = group(tag, AC_CREDCACHE_SLOTS), i, victim = g;

	/* the same pair, else a free slot, else the soonest to lapse */
	for (i = g; i < g + AC_STATE_WAYS; i++) {
		const ac_cred_slot *c = &S->creds[i];
		if (c->used && ac_ct_equal(c->tag, tag, sizeof c->tag)) {
			victim = i;
			break;
		}
		if (!c->used) {
			if (S->creds[victim].used)
				victim = i;
		} else if (S->creds[victim].used &&
		    c->until < S->creds[victim].until) {
			victim = i;
		}
	}
	memcpy(S->creds[victim].tag, tag, 32);
	S->creds[victim].until = until;
	S->creds[victim].used = 1;
	*written = 1;
}
_Static_assert(sizeof(struct ac_state) % 8 == 0, "ac_state is placed and copied in 64-bit words");
