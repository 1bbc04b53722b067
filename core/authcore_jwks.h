/*
 * authcore - keys fetched from a JWKS URL ("jwt"."jwks_uri").
 * Part of the authcore API (core/authcore.h includes every part); the
 * contract at the top of authcore.h holds for every function here.
 *
 * Licensed under the MIT license (see LICENSE).
 */
#ifndef AUTHCORE_JWKS_H
#define AUTHCORE_JWKS_H

#include "authcore_base.h"
#include "authcore_decide.h"
#include "authcore_jwt.h"
#include "authcore_policy.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ */
/* Remote keys (core/ac_jwks.c). The core does no I/O, so a token that */
/* needs keys the worker does not hold makes the decision pending on a */
/* fetch, as a password check or a store read does:                    */
/*                                                                     */
/*  1. ac_decide_begin (or _finish) answers AC_PENDING with            */
/*     answer.wait == AC_WAIT_FETCH and answer.fetch: GET this URL,    */
/*     read at most max_bytes of the body, give up after timeout_ms.   */
/*  2. The host fetches without blocking (Envoy: an HTTP call to a     */
/*     cluster; nginx: a subrequest; the edge: fetch) and hands the    */
/*     outcome to ac_decide_fetched: the status, the Content-Type and  */
/*     the body, or status 0 for a failure (connect error, timeout, a  */
/*     body over max_bytes: never truncated).                          */
/*  3. ac_decide_finish decides the request again with the keys now    */
/*     held. A host that finishes without step 2 (it cannot fetch) is  */
/*     taken as a failed fetch: the request is never pending on a      */
/*     fetch of the same kind twice (the configuration, the keys, a    */
/*     token request: at most three fetches), so a host loop ends.     */
/*                                                                     */
/* The keys live in a cache the host places per worker (like the        */
/* verified-signature cache) and attaches to each decision with         */
/* ac_decision_use_jwks. Without one, a token needing remote keys is   */
/* answered 503 jwks_unavailable: fail closed, never open.             */
/*                                                                     */
/* When the core asks (now is the decision's time; the figures are the */
/* policy's "jwt"."jwks_fetch", in seconds):                           */
/*  - no keys yet, or keys older than ttl: fetch, unless a fetch       */
/*    failed less than min_interval ago;                               */
/*  - a token whose kid the held keys lack: fetch (the provider may     */
/*    have rotated), at most once per min_interval, so made-up kids     */
/*    cannot make the worker hammer the provider;                       */
/*  - while fetches fail, keys up to ttl + stale_for old keep serving;  */
/*    past that, or with none, tokens are answered 503                  */
/*    jwks_unavailable with Retry-After (a token's own faults are still */
/*    answered 401 when the held keys can judge it).                    */
/* An answer replaces the held keys only when it is status 200, a JSON  */
/* Content-Type (application/json or application/jwk-set+json), at     */
/* most max_bytes, and a JWKS with at least one key usable under the    */
/* policy's "algorithms" (keys for other uses, of other types, secrets */
/* (kty "oct": a fetched set is public, so a policy with a jwks_uri     */
/* allows no HS* algorithm), or of algorithms the policy does not allow */
/* are passed over; a key bound                                        */
/* to two allowed algorithms refuses the answer). Keys are bound to one */
/* algorithm exactly as inline "jwks" keys are. A refused answer counts */
/* as a failed fetch.                                                  */
/* ------------------------------------------------------------------ */
#define AC_JWKS_REMOTE_KEYS_MAX 16   /* keys held from one answer */
#define AC_JWKS_URI_MAX 1024         /* bytes of jwks_uri */
#define AC_JWKS_BODY_MAX 262144      /* jwks_fetch.max_bytes, at most */

typedef struct ac_jwks_cache ac_jwks_cache;

/* Counters since ac_jwks_cache_init. */
typedef struct {
	uint64_t fetches;      /* fetches asked for */
	uint64_t kid_fetches;  /* ... of them, for an unknown kid */
	uint64_t answers;      /* answers that replaced the keys */
	uint64_t failures;     /* failed or refused fetches */
	uint64_t stale_uses;   /* tokens checked with keys past their ttl */
} ac_jwks_counts;

/* Bytes of a cache (the same for every policy). */
size_t ac_sizeof_jwks_cache(void);

/* Places an empty cache in mem (8-aligned, at least ac_sizeof_jwks_cache()
 * bytes); NULL if mem is NULL, misaligned or short. A cache holds a slot
 * per source of keys: the policy's jwt.jwks_uri (or its discovery) and
 * each "oidc" provider (its configuration, endpoints and keys), at most
 * 1 + 3 at once. Keys are bound to the source they were fetched for: a
 * reloaded policy's other sources never use them, and take the slots
 * used least recently. Calls on one cache MUST be serialized (one per
 * worker). */
ac_jwks_cache *ac_jwks_cache_init(void *mem, size_t mem_len);

/* The policy's jwks_uri, or its first OpenID provider's configuration
 * URL; an empty ac_str when it fetches nothing (a host places a cache
 * only otherwise). */
ac_str ac_policy_jwks_uri(const ac_policy *policy);

/* Lets the decision use `cache` (NULL: none) for tokens that need remote
 * keys. Kept until called again (d zeroed: none); the cache MUST outlive
 * every decision made with it. Hosts call it before each ac_decide_* call,
 * with their worker's cache. */
void ac_decision_use_jwks(ac_decision *d, ac_jwks_cache *cache);

/* The fetch's outcome for a decision pending on it (answer.wait ==
 * AC_WAIT_FETCH): status 200 with the Content-Type value (may be NULL/0)
 * and the whole body; status 0 (or any other) for a failure. `now` is
 * unix seconds. Updates the decision's cache (the keys, or the failure);
 * then call ac_decide_finish. Returns 0 if the answer replaced the keys,
 * -1 if it counted as a failure (or d was not waiting for a fetch). */
int ac_decide_fetched(ac_decision *d, int status, const char *content_type,
    size_t content_type_len, const void *body, size_t body_len,
    int64_t now);

/* The cache's counters, the number of keys it holds and when they were
 * fetched (0: none). */
void ac_jwks_cache_counts_get(const ac_jwks_cache *cache,
    ac_jwks_counts *out, size_t *n_keys, int64_t *fetched);

#ifdef __cplusplus
}
#endif
#endif
