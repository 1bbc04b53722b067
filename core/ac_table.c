/*
 * The local table (contract: authcore_store.h): store entries in caller
 * memory for hosts that keep them in one process or one shared zone.
 *
 * Layout: a 64-byte header, then the groups (64 bytes each: 8 buckets of
 * 8 bytes, core/ac_bucket.h), nothing else. The policy's
 * rate_limits.store keys at 32 bytes each give the number of groups
 * (ac_ratelimit_policy.c), so a table of K keys takes 32 K bytes and holds
 * 2 live keys per 8-slot group on average; a full group gives up the
 * bucket nearest to lapsing.
 *
 * A group's version is a 63-bit hash of its 64 bytes (never 0; an all-zero
 * group is absent, version 0), not a stored counter: a compare-and-set on
 * the whole value is what it protects, and the same bytes mean the same
 * buckets, so a value that came back (A, B, A) is still right to replace.
 * A check then touches one cache line, not a group and a version apart.
 * A write wrongly taken needs another writer in between and two different
 * groups with one 63-bit hash.
 */
#include "ac_decision_int.h"
#include "ac_ratelimit.h"

#define TABLE_MAGIC 0x61637431u /* "act1" */
#define TABLE_HEAD 64u

struct ac_table {
	uint32_t magic;
	uint32_t n_groups;
};

static uint8_t *groups(const ac_table *t)
{
	return (uint8_t *)t + TABLE_HEAD;
}

/* The version of group g (above): 0 for all zero bytes. */
static uint64_t version_of(const uint8_t *g)
{
	uint64_t a = 0, b = 0, z = 0;
	size_t i;

	for (i = 0; i < AC_GROUP_BYTES; i += 16) {
		uint64_t x, y;
		memcpy(&x, g + i, 8);
		memcpy(&y, g + i + 8, 8);
		z |= x | y;
		a = (a ^ x) * UINT64_C(0x9e3779b97f4a7c15);
		b = (b ^ y) * UINT64_C(0xc2b2ae3d27d4eb4f);
		a ^= a >> 29;
		b ^= b >> 31;
	}
	if (z == 0)
		return 0;
	a ^= b * UINT64_C(0xff51afd7ed558ccd);
	a ^= a >> 32;
	return a | 1;
}

size_t ac_table_size(const ac_policy *P)
{
	if (P == NULL || (P->n_rate_limits == 0 && P->n_conn_caps == 0 &&
	    P->rev_groups == 0))
		return 0;
	return TABLE_HEAD + ((size_t)P->rl_groups + P->conn_groups +
	    P->rev_groups) * AC_GROUP_BYTES;
}

ac_table *ac_table_init(void *mem, size_t len, const ac_policy *P)
{
	ac_table *t = mem;
	size_t need = ac_table_size(P);

	if (mem == NULL || need == 0 || len < need ||
	    ((uintptr_t)mem & 7u) != 0)
		return NULL;
	memset(mem, 0, need);
	t->magic = TABLE_MAGIC;
	t->n_groups = P->rl_groups + P->conn_groups + P->rev_groups;
	return t;
}

ac_table *ac_table_attach(void *mem, size_t len, const ac_policy *P)
{
	ac_table *t = mem;
	size_t need = ac_table_size(P);

	if (mem == NULL || need == 0 || len < need ||
	    ((uintptr_t)mem & 7u) != 0 || t->magic != TABLE_MAGIC ||
	    t->n_groups != P->rl_groups + P->conn_groups + P->rev_groups)
		return NULL;
	return t;
}

/* The group a key names, or -1. */
static int64_t group_of(const ac_table *t, ac_str key)
{
	uint64_t g = 0;
	size_t i;

	if (t == NULL || t->magic != TABLE_MAGIC || key.len < 2 ||
	    key.len > 11 || key.ptr[0] != 'g' ||
	    (key.len > 2 && key.ptr[1] == '0'))
		return -1;
	for (i = 1; i < key.len; i++) {
		if (key.ptr[i] < '0' || key.ptr[i] > '9')
			return -1;
		g = g * 10 + (uint64_t)(key.ptr[i] - '0');
	}
	return g < t->n_groups ? (int64_t)g : -1;
}

int ac_table_read(const ac_table *t, ac_str key,
    uint8_t out[AC_STORE_VALUE_MAX], size_t *len, uint64_t *version)
{
	int64_t g = group_of(t, key);

	*len = 0;
	*version = 0;
	if (g < 0)
		return -1;
	memcpy(out, groups(t) + (size_t)g * AC_GROUP_BYTES, AC_GROUP_BYTES);
	*version = version_of(out);
	if (*version != 0)
		*len = AC_GROUP_BYTES;
	return 0;
}

int ac_table_write(ac_table *t, ac_str key, const void *value, size_t len,
    uint64_t expected)
{
	int64_t g = group_of(t, key);
	uint8_t *p;

	if (g < 0 || len != AC_GROUP_BYTES || value == NULL)
		return -1;
	p = groups(t) + (size_t)g * AC_GROUP_BYTES;
	if (version_of(p) != expected)
		return 1;
	memcpy(p, value, AC_GROUP_BYTES);
	return 0;
}

void ac_table_settle(const ac_policy *P, ac_state *S, ac_table *t,
    const ac_request *req, int64_t now, const uint8_t *entropy,
    size_t entropy_len, ac_decision *d)
{
	const ac_answer *a = ac_decision_answer(d);

	for (;;) {
		size_t i;
		int r = 0;

		if (a->store_shared)
			return; /* the shared store's step (authcore_redis.h) */
		for (i = 0; i < a->n_writes && r == 0; i++)
			r = t == NULL ? -1 : ac_table_write(t,
			    a->writes[i].key, a->writes[i].value,
			    a->writes[i].len, a->writes[i].version);
		if (r > 0) {
			ac_decide_store_lost(P, S, req, now, entropy,
			    entropy_len, d);
			continue;
		}
		if (r < 0) {
			ac_decide_store_error(P, S, req, now, entropy,
			    entropy_len, d);
			continue;
		}
		if (a->action != AC_PENDING || a->wait != AC_WAIT_STORE)
			return; /* final, or a password check to run */
		for (i = 0; i < a->n_reads && r == 0; i++) {
			uint8_t buf[AC_STORE_VALUE_MAX];
			size_t len;
			uint64_t ver;

			r = t == NULL || ac_table_read(t, a->reads[i].key,
			    buf, &len, &ver) < 0 ||
			    ac_decide_supply(d, i, buf, len, ver) < 0;
		}
		if (r)
			ac_decide_store_error(P, S, req, now, entropy,
			    entropy_len, d);
		else
			ac_decide_finish(P, S, req, now, entropy, entropy_len,
			    d);
	}
}

void ac_decide_local(const ac_policy *P, ac_state *S, ac_table *t,
    const ac_request *req, int64_t now, const uint8_t *entropy,
    size_t entropy_len, ac_decision *d)
{
	(void)ac_decide_begin(P, S, req, now, entropy, entropy_len, d);
	for (;;) {
		ac_table_settle(P, S, t, req, now, entropy, entropy_len, d);
		if (ac_decision_answer(d)->action != AC_PENDING)
			return;
		/* a password check: run whole, as a blocking caller may */
		ac_decide_finish(P, S, req, now, entropy, entropy_len, d);
	}
}
