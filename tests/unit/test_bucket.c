/*
 * Rate-limit buckets (core/ac_bucket.c): SipHash-2-4 against its authors'
 * vectors, GCRA against a token bucket kept in exact rational arithmetic,
 * its bounds on random schedules, and the groups' slot rules.
 */
#include "check.h"

#include "ac_bucket.h"

static const uint8_t KEY[16] = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,
    13, 14, 15 };

static uint64_t rng = 0x9e3779b97f4a7c15u;
static uint64_t next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* Places a name in 2^31 groups: the group is the low 32 bits of the hash
 * halved, the tag its top 24 bits, so both show the whole hash. */
static uint64_t hash_of(const uint8_t *m, size_t n)
{
	uint32_t g, t;

	ac_bucket_place(KEY, m, n, UINT32_C(0x80000000), &g, &t);
	return (uint64_t)t << 40 | (uint64_t)g << 1;
}

static void test_siphash(void)
{
	uint8_t m[64];
	size_t i;

	begin("bucket: placement is SipHash-2-4 (the paper's vectors)");
	for (i = 0; i < sizeof m; i++)
		m[i] = (uint8_t)i;
	/* key 00..0f: the empty message and 00..0e (Aumasson-Bernstein,
	 * appendix A); compared on the bits placement uses (top 24, and
	 * bits 1..31) */
	CHECK((hash_of(m, 0) & UINT64_C(0xffffff00fffffffe)) ==
	    (UINT64_C(0x726fdb47dd0e0e31) & UINT64_C(0xffffff00fffffffe)));
	CHECK((hash_of(m, 15) & UINT64_C(0xffffff00fffffffe)) ==
	    (UINT64_C(0xa129ca6149be45e5) & UINT64_C(0xffffff00fffffffe)));
	/* another key, another place */
	{
		uint8_t k2[16];
		uint32_t g1, t1, g2, t2;
		memcpy(k2, KEY, 16);
		k2[0] ^= 1;
		ac_bucket_place(KEY, "client:10.0.0.1", 15, 1u << 20, &g1, &t1);
		ac_bucket_place(k2, "client:10.0.0.1", 15, 1u << 20, &g2, &t2);
		CHECK(g1 < (1u << 20) && g2 < (1u << 20));
		CHECK(g1 != g2 || t1 != t2);
		CHECK(t1 != 0 && t1 < (1u << 24));
	}
	end();
}

static void test_gcra_simple(void)
{
	ac_window w = { 5, 60 }; /* 5/minute: one per 12 s */
	ac_gcra_result r;
	uint64_t tat = 0, now = 1000000;
	int i;

	begin("bucket: 5/minute allows 5 at once, then one per 12 s");
	CHECK(ac_window_interval(&w) == 12000);
	for (i = 0; i < 5; i++) {
		ac_gcra(&tat, now, &w, &r);
		CHECK(r.allowed && r.remaining == (uint32_t)(4 - i));
	}
	ac_gcra(&tat, now, &w, &r);
	CHECK(!r.allowed && r.retry_ms == 12000 && r.reset_ms == 60000);
	ac_gcra(&tat, now + 11999, &w, &r);
	CHECK(!r.allowed && r.retry_ms == 1);
	ac_gcra(&tat, now + 12000, &w, &r);
	CHECK(r.allowed && r.remaining == 0);
	/* an idle period refills the whole bucket, no more */
	ac_gcra(&tat, now + 12000 + 600000, &w, &r);
	CHECK(r.allowed && r.remaining == 4);
	end();

	begin("bucket: windows faster than 1000/s or empty are refused");
	w.count = 1000;
	w.period = 1;
	CHECK(ac_window_interval(&w) == 1);
	w.count = 1001;
	CHECK(ac_window_interval(&w) == 0);
	w.count = 0;
	CHECK(ac_window_interval(&w) == 0);
	w.count = 7;
	w.period = 60; /* 8571.4 ms, rounded up */
	CHECK(ac_window_interval(&w) == 8572);
	tat = 0;
	w.count = 1001;
	w.period = 1;
	ac_gcra(&tat, now, &w, &r);
	CHECK(!r.allowed && tat == 0);
	end();
}

/* A token bucket in exact arithmetic, time in ms scaled by count so a
 * token is `period_ms` units: tokens * period_ms kept as an integer. */
typedef struct {
	uint64_t units, last;
	int started;
} model;

static int model_take(model *m, uint64_t now, uint32_t count,
    uint64_t period_ms)
{
	uint64_t full = (uint64_t)count * period_ms;

	if (!m->started) {
		m->units = full;
		m->started = 1;
	} else {
		m->units += (now - m->last) * count;
		if (m->units > full)
			m->units = full;
	}
	m->last = now;
	if (m->units < period_ms)
		return 0;
	m->units -= period_ms;
	return 1;
}

static void test_gcra_model(void)
{
	static const ac_window ws[] = { { 1, 1 }, { 10, 1 }, { 100, 60 },
		{ 1000, 1 }, { 3, 3600 }, { 250, 10 }, { 40, 2 } };
	size_t k;
	int agree = 1;

	begin("bucket: GCRA decides as a token bucket of count tokens "
	    "(exact intervals, random schedules)");
	for (k = 0; k < sizeof ws / sizeof ws[0]; k++) {
		const ac_window *w = &ws[k];
		uint64_t iv = ac_window_interval(w), now = 5000000, tat = 0;
		model m = { 0, 0, 0 };
		int i;

		CHECK(iv * w->count == (uint64_t)w->period * 1000);
		for (i = 0; i < 20000 && agree; i++) {
			ac_gcra_result r;
			int want;

			now += next_rand() % (2 * iv + 1);
			ac_gcra(&tat, now, w, &r);
			want = model_take(&m, now, w->count,
			    (uint64_t)w->period * 1000);
			if (r.allowed != want)
				agree = 0;
		}
	}
	CHECK(agree);
	end();
}

static void test_gcra_bounds(void)
{
	static const ac_window ws[] = { { 7, 60 }, { 100, 60 }, { 3, 1 },
		{ 999, 1 }, { 13, 17 } };
	size_t k;

	begin("bucket: at most 2*count-1 in any period, count per period in "
	    "the long run (rounded intervals included)");
	for (k = 0; k < sizeof ws / sizeof ws[0]; k++) {
		const ac_window *w = &ws[k];
		uint64_t iv = ac_window_interval(w), p = (uint64_t)w->period * 1000;
		uint64_t now = 7000000, tat = 0, start = now;
		static uint64_t times[200000];
		size_t n = 0, a = 0, b;

		while (n < sizeof times / sizeof times[0] &&
		    now - start < 400 * p) {
			ac_gcra_result r;
			now += next_rand() % (iv / 2 + 1);
			ac_gcra(&tat, now, w, &r);
			if (r.allowed)
				times[n++] = now;
		}
		/* any window [t, t + p): at most 2 * count - 1 */
		for (b = 0; b < n; b++) {
			while (times[b] - times[a] >= p)
				a++;
			CHECK(b - a + 1 <= 2 * (size_t)w->count - 1);
		}
		/* the long run: between count per period (rounded down by the
		 * rounded-up interval) and count per period plus one burst */
		{
			uint64_t span = now - start;
			uint64_t lo = span / iv, hi = span * w->count / p +
			    w->count + 1;
			CHECK(n + 1 >= lo && n <= hi);
		}
	}
	end();
}

static void test_groups(void)
{
	uint8_t g[AC_GROUP_BYTES];
	uint64_t tat;
	int ev;
	size_t i, s;

	begin("bucket: a group keeps 8 buckets, reuses lapsed slots and "
	    "evicts the one nearest to lapsing");
	memset(g, 0, sizeof g);
	for (i = 0; i < 8; i++) {
		s = ac_group_find(g, (uint32_t)(100 + i), 1000, &tat, &ev);
		CHECK(s == i && tat == 0 && !ev);
		ac_group_store(g, s, (uint32_t)(100 + i), 5000 + 100 * i);
	}
	/* found again, with its time */
	s = ac_group_find(g, 103, 1000, &tat, &ev);
	CHECK(s == 3 && tat == 5300 && !ev);
	/* full and all live: the earliest (tag 100, 5000) goes */
	s = ac_group_find(g, 200, 1000, &tat, &ev);
	CHECK(s == 0 && tat == 0 && ev);
	ac_group_store(g, s, 200, 9000);
	/* at 5250 the buckets of tags 101 and 102 have lapsed: the first is
	 * taken, nothing evicted */
	s = ac_group_find(g, 300, 5250, &tat, &ev);
	CHECK(s == 1 && tat == 0 && !ev);
	/* a lapsed bucket of the same tag is found with its old time */
	s = ac_group_find(g, 102, 5250, &tat, &ev);
	CHECK(s == 2 && tat == 5200 && !ev);
	/* the encoding: little-endian, tag over 40 bits of time */
	ac_group_store(g, 7, 0xabcdef, 0x0102030405);
	CHECK(g[56] == 0x05 && g[57] == 0x04 && g[60] == 0x01 &&
	    g[61] == 0xef && g[62] == 0xcd && g[63] == 0xab);
	end();

	begin("bucket: times are ms since 2020 in 40 bits");
	CHECK(ac_bucket_time(AC_BUCKET_EPOCH * 1000) == 0);
	CHECK(ac_bucket_time(AC_BUCKET_EPOCH * 1000 + 1) == 1);
	CHECK(ac_bucket_time(0) == 0);
	CHECK(ac_bucket_time(INT64_C(1893456000000)) ==
	    UINT64_C(315619200000)); /* 2030-01-01 */
	CHECK(ac_bucket_time(INT64_MAX / 2) == AC_BUCKET_TIME_MAX);
	end();
}

/* A table of groups as a local store keeps it, filled with live buckets
 * of random names: how many of the first fill's buckets an overfull
 * group evicts at 32 bytes per key. */
static void test_table_fill(void)
{
	enum { GROUPS = 1 << 14, KEYS = GROUPS * 2 }; /* 4 slots per key */
	static uint8_t table[GROUPS][AC_GROUP_BYTES];
	size_t i, evictions = 0, found = 0;
	char name[32];

	begin("bucket: at 32 bytes per key (2 keys per group of 8) under 1% "
	    "of live buckets are evicted, and the others are found again");
	memset(table, 0, sizeof table);
	for (i = 0; i < KEYS; i++) {
		uint32_t gi, tag;
		uint64_t tat;
		int ev;
		size_t s;
		int len = snprintf(name, sizeof name, "client:10.%zu", i);

		ac_bucket_place(KEY, name, (size_t)len, GROUPS, &gi, &tag);
		s = ac_group_find(table[gi], tag, 1000, &tat, &ev);
		evictions += (size_t)ev;
		ac_group_store(table[gi], s, tag, 1000000 + i);
	}
	for (i = 0; i < KEYS; i++) {
		uint32_t gi, tag;
		uint64_t tat;
		int ev;
		int len = snprintf(name, sizeof name, "client:10.%zu", i);

		ac_bucket_place(KEY, name, (size_t)len, GROUPS, &gi, &tag);
		(void)ac_group_find(table[gi], tag, 1000, &tat, &ev);
		found += tat == 1000000 + i;
	}
	CHECK(evictions * 100 < KEYS);
	CHECK(found + evictions >= KEYS - KEYS / 10000);
	printf("# %d keys in %d groups: %zu evicted, %zu found\n", KEYS,
	    GROUPS, evictions, found);
	end();
}

int main(void)
{
	test_siphash();
	test_gcra_simple();
	test_gcra_model();
	test_gcra_bounds();
	test_groups();
	test_table_fill();
	return failures ? 1 : 0;
}
