/*
 * Mutable state: login attempt counters and verified Basic credentials.
 *
 * Both tables are fixed arrays probed in groups of AC_STATE_WAYS slots from
 * a keyed position, so an attacker who does not know the state's secret
 * cannot aim at one slot. A full group gives up its stalest slot: memory
 * stays bounded whatever the traffic, and what is lost first is the oldest
 * record. Nothing here holds a password: counters are keyed by a MAC of
 * (client, user), cache entries by a MAC of (user, password, stored hash),
 * so a cached pair dies as soon as the stored hash changes.
 */
#include <bearssl.h>

#include "ac_internal.h"

#define AC_STATE_MAGIC 0x61637374u /* "acst" */
#define AC_STATE_WAYS 8u

int ac_state_init(ac_state *s, const uint8_t *entropy, size_t entropy_len)
{
	memset(s, 0, sizeof *s);
	if (entropy == NULL || entropy_len < AC_STATE_SECRET_LEN)
		return -1;
	memcpy(s->secret, entropy, AC_STATE_SECRET_LEN);
	s->magic = AC_STATE_MAGIC;
	return 0;
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

static ac_throttle_slot *throttle_find(ac_state *S, const ac_policy *P,
    ac_str client, ac_str user, int create, int64_t now, int64_t window)
{
	uint8_t k[32];
	ac_str none = { "", 0 };
	size_t g, i, victim;

	keyed(S, P, "authcore-throttle-v1", client, user, none, k);
	g = group(k, AC_THROTTLE_SLOTS);
	for (i = g; i < g + AC_STATE_WAYS; i++)
		if (S->throttle[i].used &&
		    memcmp(S->throttle[i].key, k, sizeof S->throttle[i].key) == 0)
			return &S->throttle[i];
	if (!create)
		return NULL;
	/* a free or lapsed slot, else the one with the oldest window */
	victim = g;
	for (i = g; i < g + AC_STATE_WAYS; i++) {
		const ac_throttle_slot *t = &S->throttle[i];
		if (!t->used || now - t->since >= window) {
			victim = i;
			break;
		}
		if (t->since < S->throttle[victim].since)
			victim = i;
	}
	memset(&S->throttle[victim], 0, sizeof S->throttle[victim]);
	memcpy(S->throttle[victim].key, k, sizeof S->throttle[victim].key);
	S->throttle[victim].used = 1;
	S->throttle[victim].since = now;
	return &S->throttle[victim];
}

int64_t ac_throttle_check(ac_state *S, const ac_policy *P, ac_str client,
    ac_str user, int64_t now)
{
	ac_throttle_slot *t = throttle_find(S, P, client, user, 0, now,
	    P->attempts_window);

	if (t == NULL || now - t->since >= P->attempts_window ||
	    t->fails < P->attempts)
		return 0;
	return t->since + P->attempts_window - now;
}

void ac_throttle_fail(ac_state *S, const ac_policy *P, ac_str client,
    ac_str user, int64_t now)
{
	ac_throttle_slot *t = throttle_find(S, P, client, user, 1, now,
	    P->attempts_window);

	if (now - t->since >= P->attempts_window) {
		t->since = now;
		t->fails = 0;
	}
	if (t->fails < UINT32_MAX)
		t->fails++;
}

void ac_throttle_clear(ac_state *S, const ac_policy *P, ac_str client,
    ac_str user)
{
	ac_throttle_slot *t = throttle_find(S, P, client, user, 0, 0, 0);

	if (t != NULL)
		memset(t, 0, sizeof *t);
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

void ac_cred_insert(ac_state *S, const uint8_t tag[32], int64_t until)
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
}
