/*
 * Rate-limit buckets: GCRA over one window, and the 64-byte groups a local
 * store keeps them in (contract: ac_bucket.h).
 *
 * Why GCRA: one 40-bit time per bucket and window carries the whole state
 * (a sliding log needs a time per request, a sliding-window counter two
 * counters and a window start); the step is a few additions; and it says
 * exactly when the next request will pass (Retry-After, RateLimit-Reset).
 * It behaves as a token bucket of `count` tokens refilled over `period`,
 * like Envoy's local_ratelimit.
 *
 * Why SipHash here: a bucket's group and tag must be unpredictable to
 * clients (or one client could fill a group with its own buckets and
 * evict another's) and cheap on every limited request. SipHash-2-4
 * (Aumasson and Bernstein, 2012) is the keyed hash made for that; BearSSL
 * offers HMAC and block ciphers, several times slower on names of a few
 * dozen bytes. It is not used for anything secret beyond the placement.
 */
#include "ac_bucket.h"
#include "authcore_base.h"

#include <string.h>

#include <bearssl.h>

static uint64_t le64(const uint8_t *p)
{
	return (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 |
	    (uint64_t)p[3] << 24 | (uint64_t)p[4] << 32 |
	    (uint64_t)p[5] << 40 | (uint64_t)p[6] << 48 | (uint64_t)p[7] << 56;
}

static void put_le64(uint8_t *p, uint64_t v)
{
	size_t i;

	for (i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

uint64_t ac_bucket_time(int64_t now_ms)
{
	int64_t t;

	if (now_ms <= AC_BUCKET_EPOCH * 1000)
		return 0;
	t = now_ms - AC_BUCKET_EPOCH * 1000;
	if ((uint64_t)t > AC_BUCKET_TIME_MAX)
		return AC_BUCKET_TIME_MAX;
	return (uint64_t)t;
}

uint64_t ac_window_interval(const ac_window *w)
{
	uint64_t period_ms = (uint64_t)w->period * 1000;

	if (w->count == 0 || w->period == 0 ||
	    (uint64_t)w->count > (uint64_t)w->period * AC_BUCKET_RATE_MAX)
		return 0;
	return (period_ms + w->count - 1) / w->count;
}

void ac_gcra(uint64_t *tat, uint64_t now, const ac_window *w,
    ac_gcra_result *r)
{
	uint64_t iv = ac_window_interval(w);
	uint64_t span = iv * w->count; /* tolerance + one interval */
	uint64_t start = *tat > now ? *tat : now;
	uint64_t next = start + iv;

	memset(r, 0, sizeof *r);
	if (iv == 0) /* the loader refuses such windows: fail closed */
		return;
	if (next > now + span) {
		/* the bucket is full: the next request fits at next - span */
		r->retry_ms = next - span - now;
		r->reset_ms = start - now;
		return;
	}
	*tat = next > AC_BUCKET_TIME_MAX ? AC_BUCKET_TIME_MAX : next;
	r->allowed = 1;
	r->remaining = (uint32_t)((now + span - next) / iv);
	r->reset_ms = next - now;
}

/* ---- SipHash-2-4 ---------------------------------------------------- */
#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND                                                         \
	do {                                                             \
		v0 += v1; v1 = ROTL(v1, 13); v1 ^= v0; v0 = ROTL(v0, 32); \
		v2 += v3; v3 = ROTL(v3, 16); v3 ^= v2;                    \
		v0 += v3; v3 = ROTL(v3, 21); v3 ^= v0;                    \
		v2 += v1; v1 = ROTL(v1, 17); v1 ^= v2; v2 = ROTL(v2, 32); \
	} while (0)

static uint64_t siphash24(const uint8_t key[16], const uint8_t *m, size_t n)
{
	uint64_t k0 = le64(key), k1 = le64(key + 8);
	uint64_t v0 = k0 ^ UINT64_C(0x736f6d6570736575);
	uint64_t v1 = k1 ^ UINT64_C(0x646f72616e646f6d);
	uint64_t v2 = k0 ^ UINT64_C(0x6c7967656e657261);
	uint64_t v3 = k1 ^ UINT64_C(0x7465646279746573);
	uint64_t b = (uint64_t)n << 56, mi;
	size_t i, left = n & 7;

	for (i = 0; i + 8 <= n; i += 8) {
		mi = le64(m + i);
		v3 ^= mi;
		SIPROUND;
		SIPROUND;
		v0 ^= mi;
	}
	while (left > 0) {
		left--;
		b |= (uint64_t)m[i + left] << (8 * left);
	}
	v3 ^= b;
	SIPROUND;
	SIPROUND;
	v0 ^= b;
	v2 ^= 0xff;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	return v0 ^ v1 ^ v2 ^ v3;
}

void ac_bucket_place(const uint8_t key[16], const void *name, size_t len,
    uint32_t n_groups, uint32_t *group, uint32_t *tag)
{
	uint64_t h = siphash24(key, (const uint8_t *)name, len);
	uint32_t t = (uint32_t)(h >> (64 - AC_BUCKET_TAG_BITS));

	/* the top 24 bits are the tag, the low 32 pick the group (Lemire's
	 * multiply-shift: no modulo bias worth a name, no division) */
	*tag = t != 0 ? t : 1;
	*group = n_groups == 0 ? 0 :
	    (uint32_t)(((uint64_t)(uint32_t)h * n_groups) >> 32);
}

size_t ac_group_find(const uint8_t g[AC_GROUP_BYTES], uint32_t tag,
    uint64_t now, uint64_t *tat, int *evicted)
{
	size_t i, free_i = AC_GROUP_SLOTS, old_i = 0;
	uint64_t old_t = UINT64_MAX;

	*evicted = 0;
	for (i = 0; i < AC_GROUP_SLOTS; i++) {
		uint64_t s = le64(g + 8 * i);
		uint64_t t = s & AC_BUCKET_TIME_MAX;

		if (s != 0 && (uint32_t)(s >> AC_BUCKET_TIME_BITS) == tag) {
			*tat = t;
			return i;
		}
		if (s == 0 || t <= now) {
			if (free_i == AC_GROUP_SLOTS)
				free_i = i;
		} else if (t < old_t) {
			old_t = t;
			old_i = i;
		}
	}
	*tat = 0;
	if (free_i != AC_GROUP_SLOTS)
		return free_i;
	*evicted = 1;
	return old_i;
}

void ac_group_store(uint8_t g[AC_GROUP_BYTES], size_t i, uint32_t tag,
    uint64_t tat)
{
	put_le64(g + 8 * i, (uint64_t)tag << AC_BUCKET_TIME_BITS |
	    (tat & AC_BUCKET_TIME_MAX));
}

void ac_bucket_key_derive(const void *secret, size_t len, const char *label,
    size_t label_len, uint8_t key[16])
{
	br_hmac_key_context kc;
	br_hmac_context hc;
	uint8_t out[32];

	br_hmac_key_init(&kc, &br_sha256_vtable, secret, len);
	br_hmac_init(&hc, &kc, 32);
	br_hmac_update(&hc, label, label_len);
	br_hmac_out(&hc, out);
	memcpy(key, out, 16);
	ac_wipe(out, sizeof out);
	ac_wipe(&kc, sizeof kc);
	ac_wipe(&hc, sizeof hc);
}
