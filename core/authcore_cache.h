/*
 * authcore - a cache of verified token signatures.
 * Part of the authcore API (core/authcore.h includes every part); the
 * contract at the top of authcore.h holds for every function here.
 *
 * Licensed under the MIT license (see LICENSE).
 */
#ifndef AUTHCORE_CACHE_H
#define AUTHCORE_CACHE_H

#include "authcore_base.h"
#include "authcore_decide.h"
#include "authcore_jwt.h"
#include "authcore_policy.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ */
/* Verified-signature cache (core/ac_cache.c). An RS*, PS* or ES*      */
/* signature check costs 10 to 1000 times an HMAC; a client sends the  */
/* same token on every request until it expires. The cache remembers   */
/* one fact per entry: "these exact token bytes carry a signature that */
/* key k of this key set verified". Its lookup key is SHA-256 over the */
/* policy's key-set digest and the whole token (header.payload.        */
/* signature), so another signature, another byte anywhere, or another */
/* key set (a reloaded policy with other keys) never hits. On a hit     */
/* only the signature check is skipped: the header (alg, kid, bound    */
/* key, jku/crit refusals), the payload and every claim check (exp,    */
/* nbf, iat, leeway, iss, aud, typ, max_age, user and roles claims)    */
/* run as without a cache, on every request. Only tokens that passed   */
/* every check are entered.                                            */
/*                                                                     */
/* HS* tokens are not cached: the cache's SHA-256 over the token costs */
/* about what the HMAC does.                                           */
/*                                                                     */
/* Bounded and caller-owned: a set-associative table of                */
/* AC_JWT_CACHE_WAYS entries per set, placed by ac_sizeof_jwt_cache(). */
/* A new entry takes, in its set, an empty way, else one whose token   */
/* has expired (exp + leeway passed), else the least recently used     */
/* one. No clock: `now` comes with each call. One cache per worker     */
/* (calls on one cache MUST be serialized); it may serve several       */
/* policies, since entries of another key set never hit.               */
/* ------------------------------------------------------------------ */
#define AC_JWT_CACHE_WAYS 4
#define AC_JWT_CACHE_DEFAULT 100     /* entries: jwt.cache true or absent */
#define AC_JWT_CACHE_MAX 65536       /* entries, at most */

typedef struct ac_jwt_cache ac_jwt_cache;

/* Counters since ac_jwt_cache_init (ac_jwt_cache_clear keeps them). */
typedef struct {
	uint64_t lookups;   /* tokens looked up (RS*, PS*, ES* only) */
	uint64_t hits;      /* ... found: their signature check skipped */
	uint64_t checks;    /* signature checks run for looked-up tokens */
	uint64_t inserts;   /* entries written */
	uint64_t evictions; /* live entries replaced by another token */
} ac_jwt_cache_counts;

/* Bytes a cache of `entries` entries takes (rounded up to whole sets);
 * 0 if entries is 0 or over AC_JWT_CACHE_MAX. */
size_t ac_sizeof_jwt_cache(size_t entries);

/* The entries the policy's "jwt"."cache" asks for: 0 when off (no "jwt",
 * or "cache": false), else AC_JWT_CACHE_DEFAULT or the number given. */
size_t ac_policy_jwt_cache_entries(const ac_policy *policy);

/* Places an empty cache of `entries` entries in mem (8-aligned, at least
 * ac_sizeof_jwt_cache(entries) bytes). Returns it, or NULL if mem is NULL
 * or misaligned, mem_len too small, or entries out of range. */
ac_jwt_cache *ac_jwt_cache_init(void *mem, size_t mem_len, size_t entries);

/* Empties the cache (a host calls it when its keys change; entries of
 * other keys could not hit anyway, but hold their ways until replaced). */
void ac_jwt_cache_clear(ac_jwt_cache *cache);

/* The cache's counters. */
void ac_jwt_cache_counts_get(const ac_jwt_cache *cache,
    ac_jwt_cache_counts *out);

/* Lets the decision use `cache` (NULL: none) for the tokens it verifies,
 * when its policy's "jwt"."cache" is not false. The decision keeps the
 * pointer until it is called again (d zeroed: no cache); the cache MUST
 * outlive every decision made with it. Hosts call it before each
 * ac_decide_* call, with their worker's cache. */
void ac_decision_use_jwt_cache(ac_decision *d, ac_jwt_cache *cache);

/* As ac_policy_verify_jwt, with `cache` (may be NULL) as a decision uses
 * it. */
AC_MUST_CHECK ac_reason ac_policy_verify_jwt_cached(const ac_policy *policy,
    ac_jwt_cache *cache, const char *token, size_t token_len, int64_t now,
    ac_jwt_result *res);

#ifdef __cplusplus
}
#endif
#endif
