/* The verified-signature cache as the token check uses it (ac_cache.c,
 * ac_jwt.c). Internal: not part of the public API (authcore_cache.h). */
#ifndef AC_CACHE_INT_H
#define AC_CACHE_INT_H

#include "ac_internal.h"

/* One verification's use of a cache. */
typedef struct {
	ac_jwt_cache *cache;    /* NULL: verify without one */
	const uint8_t *keyset;  /* 32 bytes: ac_cache_keyset of the keys */
	const void *sha256;     /* the SHA-256 class (br_hash_class) */
	/* set by the verification */
	uint8_t tag[32];        /* the token's lookup key, when looked */
	int looked;
	int hit;
	uint32_t key;           /* index of the key that verified it */
} ac_cache_use;

/* cu for verifying with P's keys: a cache only when c is one and P's
 * "jwt"."cache" is not false. */
void ac_cache_use_init(ac_cache_use *cu, const ac_policy *P,
    ac_jwt_cache *c);

/* The digest of a key set (its algorithms, kids and key material). */
void ac_cache_keyset(const void *sha256, const ac_jwt_key *keys, size_t n,
    uint8_t out[32]);
/* The lookup key of a token under a key set: SHA-256(keyset || token). */
void ac_cache_tag(const void *sha256, const uint8_t keyset[32],
    const char *token, size_t len, uint8_t tag[32]);
/* 1 and *key if tag is cached (its entry becomes the most recent). */
int ac_cache_lookup(ac_jwt_cache *c, const uint8_t tag[32], uint32_t *key);
/* Enters tag (replacing per authcore_cache.h's rule). */
void ac_cache_insert(ac_jwt_cache *c, const uint8_t tag[32], uint32_t key,
    int64_t dead_after, int64_t now);
/* Counts a signature check run for a looked-up token. */
void ac_cache_count_check(ac_jwt_cache *c);

/* ac_jwt_verify with a cache use (cu->cache may be NULL). */
ac_reason ac_jwt_verify_using(const ac_jwt_key *keys, size_t n_keys,
    const ac_jwt_checks *checks, const char *token, size_t token_len,
    int64_t now, ac_cache_use *cu, ac_jwt_result *res);

#endif
