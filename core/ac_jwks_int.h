/* Keys fetched from "jwt"."jwks_uri" as a decision uses them (ac_jwks.c,
 * ac_identify.c, ac_decide.c). Internal: not part of the public API
 * (authcore_jwks.h). */
#ifndef AC_JWKS_INT_H
#define AC_JWKS_INT_H

#include "ac_cache_int.h"

/* The keys a token under P's jwks_uri is checked with: 1 with *keys, *n
 * and cu's key set (cu made by ac_cache_use_init) to check it; 0 with d's
 * answer made: pending on a fetch, or 503 jwks_unavailable. */
int ac_jwks_keys(const ac_policy *P, ac_decision *d, int64_t now,
    const ac_jwt_key **keys, size_t *n, ac_cache_use *cu);

/* After the check with those keys answered r: 1 if d is now pending on a
 * fetch (r is unknown_kid: the provider may have rotated, and no fetch
 * was asked for in the last min_interval), else 0. */
int ac_jwks_after(const ac_policy *P, ac_decision *d, int64_t now,
    ac_reason r);

/* 1 if s is an absolute http(s) URL with a host, in printable ASCII,
 * without a fragment (jwks_uri, a discovered jwks_uri, an issuer to
 * discover from). */
int ac_url_ok(ac_str s);

/* The host finished a decision pending on a fetch without handing over
 * its outcome: a failed fetch. */
void ac_jwks_unanswered(ac_decision *d, int64_t now);

#endif
