/*
 * The verified-signature cache (authcore_cache.h): a set-associative table
 * in caller memory, AC_JWT_CACHE_WAYS entries per set, the set chosen by
 * the entry's tag (SHA-256 over the key-set digest and the whole token, so
 * its bits are uniform whatever the tokens look like).
 *
 * An entry is only a tag, the index of the key that verified the token,
 * and when the token's claims will refuse it for good (exp + leeway) so that
 * such entries are replaced first. A lookup ignores time: the signature of
 * those bytes under that key set stays valid, and the claims that decide
 * whether the token is still good run on every request (core/ac_jwt.c).
 */
#include <bearssl.h>

#include "ac_cache_int.h"
#include "ac_decision_int.h"
#include "ac_policy_int.h"

#define AC_CACHE_MAGIC 0x61636a63u /* "acjc" */

typedef struct {
	uint8_t tag[32];
	int64_t dead_after; /* claims refuse the token from then on */
	uint64_t used;      /* 0: empty; else the cache's clock when last
	                       written or hit */
	uint32_t key;       /* index of the key that verified it */
	uint32_t pad_;
} ac_cache_entry;

struct ac_jwt_cache {
	uint32_t magic;
	uint32_t n_sets;
	uint64_t clock;
	ac_jwt_cache_counts counts;
	ac_cache_entry e[];
};

size_t ac_sizeof_jwt_cache(size_t entries)
{
	size_t sets = (entries + AC_JWT_CACHE_WAYS - 1) / AC_JWT_CACHE_WAYS;

	if (entries == 0 || entries > AC_JWT_CACHE_MAX)
		return 0;
	return sizeof(ac_jwt_cache) + sets * AC_JWT_CACHE_WAYS *
	    sizeof(ac_cache_entry);
}

size_t ac_policy_jwt_cache_entries(const ac_policy *P)
{
	return P != NULL && P->has_jwt ? P->jwt_cache_entries : 0;
}

ac_jwt_cache *ac_jwt_cache_init(void *mem, size_t mem_len, size_t entries)
{
	size_t need = ac_sizeof_jwt_cache(entries);
	ac_jwt_cache *c = mem;

	if (mem == NULL || ((uintptr_t)mem & 7u) != 0 || need == 0 ||
	    mem_len < need)
		return NULL;
	memset(mem, 0, need);
	c->magic = AC_CACHE_MAGIC;
	c->n_sets = (uint32_t)((entries + AC_JWT_CACHE_WAYS - 1) /
	    AC_JWT_CACHE_WAYS);
	return c;
}

void ac_jwt_cache_clear(ac_jwt_cache *c)
{
	if (c == NULL || c->magic != AC_CACHE_MAGIC)
		return;
	memset(c->e, 0, (size_t)c->n_sets * AC_JWT_CACHE_WAYS *
	    sizeof(ac_cache_entry));
	c->clock = 0;
}

void ac_jwt_cache_counts_get(const ac_jwt_cache *c, ac_jwt_cache_counts *out)
{
	if (c == NULL || c->magic != AC_CACHE_MAGIC)
		memset(out, 0, sizeof *out);
	else
		*out = c->counts;
}

void ac_decision_use_jwt_cache(ac_decision *d, ac_jwt_cache *c)
{
	d->jwt_cache = c != NULL && c->magic == AC_CACHE_MAGIC ? c : NULL;
}

static void put64(uint8_t b[8], uint64_t v)
{
	int i;
	for (i = 0; i < 8; i++)
		b[i] = (uint8_t)(v >> (8 * i));
}

void ac_cache_keyset(const void *sha256, const ac_jwt_key *keys, size_t n,
    uint8_t out[32])
{
	static const char label[] = "authcore jwt key set v1";
	const br_hash_class *h = sha256;
	br_hash_compat_context hc;
	uint8_t b[8];
	size_t i;

	h->init(&hc.vtable);
	h->update(&hc.vtable, label, sizeof label);
	put64(b, n);
	h->update(&hc.vtable, b, 8);
	for (i = 0; i < n; i++) {
		put64(b, (uint64_t)keys[i].alg);
		h->update(&hc.vtable, b, 8);
		put64(b, keys[i].has_kid ? keys[i].kid_len + 1 : 0);
		h->update(&hc.vtable, b, 8);
		h->update(&hc.vtable, keys[i].kid, keys[i].kid_len);
		h->update(&hc.vtable, keys[i].state, sizeof keys[i].state);
	}
	h->out(&hc.vtable, out);
}

void ac_cache_tag(const void *sha256, const uint8_t keyset[32],
    const char *token, size_t len, uint8_t tag[32])
{
	const br_hash_class *h = sha256;
	br_hash_compat_context hc;

	h->init(&hc.vtable);
	h->update(&hc.vtable, keyset, 32);
	h->update(&hc.vtable, token, len);
	h->out(&hc.vtable, tag);
}

static ac_cache_entry *set_of(ac_jwt_cache *c, const uint8_t tag[32])
{
	uint32_t x = (uint32_t)tag[0] | (uint32_t)tag[1] << 8 |
	    (uint32_t)tag[2] << 16 | (uint32_t)tag[3] << 24;

	return c->e + (size_t)(x % c->n_sets) * AC_JWT_CACHE_WAYS;
}

int ac_cache_lookup(ac_jwt_cache *c, const uint8_t tag[32], uint32_t *key)
{
	ac_cache_entry *s = set_of(c, tag);
	size_t w;

	c->counts.lookups++;
	for (w = 0; w < AC_JWT_CACHE_WAYS; w++) {
		if (s[w].used != 0 && ac_ct_equal(s[w].tag, tag, 32)) {
			s[w].used = ++c->clock;
			*key = s[w].key;
			c->counts.hits++;
			return 1;
		}
	}
	return 0;
}

void ac_cache_count_check(ac_jwt_cache *c)
{
	c->counts.checks++;
}

void ac_cache_insert(ac_jwt_cache *c, const uint8_t tag[32], uint32_t key,
    int64_t dead_after, int64_t now)
{
	ac_cache_entry *s = set_of(c, tag), *v = NULL;
	size_t w;

	for (w = 0; w < AC_JWT_CACHE_WAYS && v == NULL; w++)
		if (s[w].used != 0 && ac_ct_equal(s[w].tag, tag, 32))
			v = &s[w];
	for (w = 0; w < AC_JWT_CACHE_WAYS && v == NULL; w++)
		if (s[w].used == 0)
			v = &s[w];
	for (w = 0; w < AC_JWT_CACHE_WAYS && v == NULL; w++)
		if (now >= s[w].dead_after)
			v = &s[w];
	if (v == NULL) {
		v = &s[0];
		for (w = 1; w < AC_JWT_CACHE_WAYS; w++)
			if (s[w].used < v->used)
				v = &s[w];
	}
	if (v->used != 0 && !ac_ct_equal(v->tag, tag, 32))
		c->counts.evictions++;
	memcpy(v->tag, tag, 32);
	v->key = key;
	v->dead_after = dead_after;
	v->used = ++c->clock;
	c->counts.inserts++;
}

ac_reason ac_policy_verify_jwt_cached(const ac_policy *P, ac_jwt_cache *c,
    const char *token, size_t token_len, int64_t now, ac_jwt_result *res)
{
	ac_cache_use cu;

	if (!P->has_jwt)
		return ac_policy_verify_jwt(P, token, token_len, now, res);
	ac_cache_use_init(&cu, P, c);
	return ac_jwt_verify_using(P->keys, P->n_keys, &P->checks, token,
	    token_len, now, &cu, res);
}

void ac_cache_use_init(ac_cache_use *cu, const ac_policy *P,
    ac_jwt_cache *c)
{
	memset(cu, 0, sizeof *cu);
	if (c != NULL && c->magic == AC_CACHE_MAGIC && P->jwt_cache_entries > 0) {
		cu->cache = c;
		cu->keyset = P->jwt_keyset;
		cu->sha256 = P->sha256;
	}
}
