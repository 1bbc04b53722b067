/* Keys fetched from "jwt"."jwks_uri" as a decision uses them (ac_jwks.c,
 * ac_identify.c, ac_decide.c). Internal: not part of the public API
 * (authcore_jwks.h). */
#ifndef AC_JWKS_INT_H
#define AC_JWKS_INT_H

#include "ac_cache_int.h"
#include "ac_policy_int.h"

/* Sources of keys a cache holds at once: "jwt"'s and the providers'. */
#define AC_JWKS_SOURCES (1 + AC_OIDC_PROVIDERS_MAX)

/* What a provider's configuration names (discovery). */
#define AC_EP_JWKS 0
#define AC_EP_AUTHZ 1
#define AC_EP_TOKEN 2
#define AC_EP_END_SESSION 3
#define AC_EP_COUNT 4
typedef struct {
	char b[AC_JWKS_URI_MAX];
	size_t len;
} ac_str_buf;

/* The keys a token from source s is checked with: 1 with *keys, *n and
 * cu's key set (cu made by ac_cache_use_init) to check it; 0 with d's
 * answer made: pending on a fetch, or 503 jwks_unavailable. */
int ac_jwks_keys(const ac_jwks_src *s, ac_decision *d, int64_t now,
    const ac_jwt_key **keys, size_t *n, ac_cache_use *cu);

/* After the check with those keys answered r: 1 if d is now pending on a
 * fetch (r is unknown_kid: the provider may have rotated, and no fetch
 * was asked for in the last min_interval), else 0. */
int ac_jwks_after(const ac_jwks_src *s, ac_decision *d, int64_t now,
    ac_reason r);

/* An endpoint (AC_EP_*) the source's configuration names: 1 with *url
 * (pointing into the cache), 0 with d pending on the configuration, -1
 * when it cannot be had (no cache, a failed read, not named). */
int ac_jwks_endpoint(const ac_jwks_src *s, ac_decision *d, int64_t now,
    int which, ac_str *url);

/* d pending on a GET of url for source s: kind 'K' keys, 'D' the
 * configuration, 'T' (a caller that then makes it a POST: ac_oidc.c). */
void ac_jwks_ask(const ac_jwks_src *s, ac_decision *d, ac_str url, int kind,
    int for_kid);

/* 503 with Retry-After (when the source may be asked again) and r. */
void ac_jwks_unavailable(const ac_jwks_src *s, ac_decision *d, int64_t now,
    ac_reason r);

/* 1 if a Content-Type value is application/json or
 * application/jwk-set+json (any case, parameters allowed). */
int ac_json_type(const char *t, size_t n);

/* 1 if s is an absolute http(s) URL with a host, in printable ASCII,
 * without a fragment (jwks_uri, a discovered jwks_uri, an issuer to
 * discover from). */
int ac_url_ok(ac_str s);

/* The host finished a decision pending on a fetch without handing over
 * its outcome: a failed fetch. */
void ac_jwks_unanswered(ac_decision *d, int64_t now);

/* A token endpoint's answer for a decision pending on it (ac_oidc.c):
 * json is 1 for a JSON body within the cap. 0 if it holds an ID token. */
int ac_oidc_token_answer(ac_decision *d, int status, int json,
    const void *body, size_t len);

#endif
