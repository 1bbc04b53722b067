/* Rate-limit buckets (core/ac_bucket.c): the GCRA step for one window, the
 * keyed tag and group of a bucket's key, and the 64-byte groups a local
 * store keeps buckets in. Internal: the rate-limit stage and the stores
 * use it; hosts see only opaque group bytes. */
#ifndef AC_BUCKET_H
#define AC_BUCKET_H

#include <stddef.h>
#include <stdint.h>

/* Bucket times are milliseconds since 2020-01-01T00:00:00Z, in 40 bits:
 * until the year 2054. 0 is "no bucket". */
#define AC_BUCKET_EPOCH 1577836800LL /* unix seconds */
#define AC_BUCKET_TIME_BITS 40
#define AC_BUCKET_TIME_MAX ((UINT64_C(1) << AC_BUCKET_TIME_BITS) - 1)
/* The fastest window GCRA keeps at millisecond precision: one request per
 * millisecond. Limits above it are refused at load. */
#define AC_BUCKET_RATE_MAX 1000 /* per second */

/* A group: 8 slots of 8 bytes, little-endian, one cache line. A slot is a
 * bucket: a 24-bit tag of its key (never 0) over its 40-bit theoretical
 * arrival time. All zero is an empty slot; a slot whose time is not after
 * now is a lapsed bucket, the same as no bucket (GCRA starts afresh), so
 * it is free to take. */
#define AC_GROUP_SLOTS 8
#define AC_GROUP_BYTES (8 * AC_GROUP_SLOTS)
#define AC_BUCKET_TAG_BITS 24

/* One window of a limit: count requests per period seconds. */
typedef struct {
	uint32_t count;
	uint32_t period;
} ac_window;

/* The outcome of one GCRA step, for the RateLimit headers. */
typedef struct {
	int allowed;          /* 1: counted; 0: refused, nothing counted */
	uint32_t remaining;   /* requests still allowed at once, after this */
	uint64_t retry_ms;    /* refused: the wait until one is allowed */
	uint64_t reset_ms;    /* until the bucket is as if unused */
} ac_gcra_result;

/* Milliseconds since the bucket epoch for unix time now_ms (ms); 0 before
 * the epoch, AC_BUCKET_TIME_MAX after its range. */
uint64_t ac_bucket_time(int64_t now_ms);

/* The emission interval of a window in ms: period / count, rounded up (a
 * limit is never looser than written). 0 if the window is faster than
 * AC_BUCKET_RATE_MAX or empty (the loader refuses those). */
uint64_t ac_window_interval(const ac_window *w);

/* One GCRA step (the generic cell rate algorithm, ITU-T I.371) at time now
 * (ac_bucket_time) for a bucket whose theoretical arrival time is *tat (0:
 * none): up to count requests at once, then one per interval, so count per
 * period in the long run, and at most 2 * count - 1 in any period
 * (a token bucket of count tokens refilled over period). Allowed: *tat
 * moves on by the interval. Refused: *tat is unchanged. The window must
 * have a nonzero interval. */
void ac_gcra(uint64_t *tat, uint64_t now, const ac_window *w,
    ac_gcra_result *r);

/* A bucket's place: which group (below n_groups) and its tag, from a keyed
 * hash (SipHash-2-4 under key[16]) of the bucket's name. The key keeps
 * both unpredictable, so no client can aim its buckets at one group. */
/* The 16-byte key that places buckets, derived from a secret (HMAC-SHA256
 * of label under it), so the placement hash never holds the secret
 * itself: the state's own (a host's random key) or a policy's store
 * secret (a fleet's). */
void ac_bucket_key_derive(const void *secret, size_t len, const char *label,
    size_t label_len, uint8_t key[16]);

void ac_bucket_place(const uint8_t key[16], const void *name, size_t len,
    uint32_t n_groups, uint32_t *group, uint32_t *tag);

/* The slot of group g for the bucket tagged tag at time now: the slot
 * holding tag (its time live or lapsed), else an empty or lapsed slot
 * (cleared to tag with time 0), else the live slot whose time is
 * earliest (the bucket nearest to lapsing, evicted: *evicted = 1; it
 * restarts empty). Returns the slot index; *tat gets its time. */
size_t ac_group_find(const uint8_t g[AC_GROUP_BYTES], uint32_t tag,
    uint64_t now, uint64_t *tat, int *evicted);

/* Stores time tat for tag in slot i of g. */
void ac_group_store(uint8_t g[AC_GROUP_BYTES], size_t i, uint32_t tag,
    uint64_t tat);

#endif
