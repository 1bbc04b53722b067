/*
 * "jwt"."jwks_uri" and "jwt"."jwks_fetch": where a policy's token keys are
 * fetched from and how long fetched keys serve (core/ac_jwks.c uses them).
 */
#include <bearssl.h>

#include "ac_jwks_int.h"
#include "ac_policy_load.h"

static const char *const fetch_members[] = { "ttl", "stale_for",
	"min_interval", "max_bytes", "timeout_ms", NULL };

#define WELL_KNOWN "/.well-known/openid-configuration"

int ac_pl_discovery(ac_loader *L, ac_jwks_src *S, ac_str iss)
{
	size_t n;
	char *u;

	if (!ac_url_ok(iss) || memchr(iss.ptr, '?', iss.len) != NULL)
		return ac_pl_bad(L, "needs an \"issuer\" that is an http:// or https:// URL without a query");
	n = iss.len;
	if (iss.ptr[n - 1] == '/')
		n--;
	if (n + sizeof WELL_KNOWN - 1 > AC_JWKS_URI_MAX)
		return ac_pl_bad(L, "the issuer is too long to discover from");
	u = ac_pl_take(L, n + sizeof WELL_KNOWN);
	if (u == NULL)
		return ac_pl_bad(L, "the policy does not fit its memory");
	memcpy(u, iss.ptr, n);
	memcpy(u + n, WELL_KNOWN, sizeof WELL_KNOWN);
	S->uri.ptr = u;
	S->uri.len = n + sizeof WELL_KNOWN - 1;
	S->discovery = 1;
	S->issuer = iss;
	return 0;
}

void ac_pl_jwks_src_init(ac_jwks_src *S, const ac_policy *P)
{
	br_sha256_context h;

	S->ttl = 600;
	S->stale_for = 3600;
	S->min_interval = 30;
	S->max_bytes = 65536;
	S->timeout_ms = 5000;
	S->sha256 = P->sha256;
	if (S->uri.ptr != NULL) {
		/* the URL and the algorithms its keys are bound to: a cache
		 * kept across a reload never serves keys of an algorithm the
		 * new policy dropped */
		uint8_t a[AC_ALG_COUNT];
		size_t i;
		for (i = 0; i < S->n_algs; i++)
			a[i] = (uint8_t)S->algs[i];
		br_sha256_init(&h);
		br_sha256_update(&h, S->uri.ptr, S->uri.len);
		br_sha256_update(&h, "", 1);
		br_sha256_update(&h, a, S->n_algs);
		br_sha256_out(&h, S->digest);
	}
}

int ac_pl_jwks_fetch(ac_loader *L, ac_jwks_src *S, const cJSON *v)
{
	int64_t x;

	if (ac_pl_members(L, v, fetch_members) < 0)
		return -1;
	if (ac_pl_member_int(L, v, "ttl", 1, 86400, &S->ttl,
	    "must be an integer number of seconds from 1 to 86400") < 0 ||
	    ac_pl_member_int(L, v, "stale_for", 0, 604800, &S->stale_for,
	    "must be an integer number of seconds from 0 to 604800") < 0 ||
	    ac_pl_member_int(L, v, "min_interval", 1, 3600,
	    &S->min_interval,
	    "must be an integer number of seconds from 1 to 3600") < 0)
		return -1;
	x = (int64_t)S->max_bytes;
	if (ac_pl_member_int(L, v, "max_bytes", 256, AC_JWKS_BODY_MAX, &x,
	    "must be an integer number of bytes from 256 to 262144") < 0)
		return -1;
	S->max_bytes = (size_t)x;
	x = S->timeout_ms;
	if (ac_pl_member_int(L, v, "timeout_ms", 100, 60000, &x,
	    "must be an integer number of milliseconds from 100 to 60000") < 0)
		return -1;
	S->timeout_ms = (uint32_t)x;
	return 0;
}

int ac_pl_jwks_remote(ac_loader *L, ac_policy *P, const cJSON *jwt,
    const ac_alg *algs, size_t n_algs)
{
	ac_jwks_src *S = &P->jwks_src;
	const cJSON *v;
	size_t save, i;
	int disc = 0;

	v = cJSON_GetObjectItemCaseSensitive(jwt, "jwks_fetch");
	if (ac_pl_member_bool(L, jwt, "discovery", &disc) < 0)
		return -1;
	if (disc) {
		ac_str iss = { NULL, 0 };
		if (!cJSON_IsString(cJSON_GetObjectItemCaseSensitive(jwt,
		    "issuer"))) {
			ac_pl_push_key(L, "discovery", &save);
			return ac_pl_bad(L, "needs \"issuer\": the keys are found from the issuer's openid-configuration");
		}
		if (ac_pl_member_str(L, jwt, "issuer", 1, 1024, &iss) < 0)
			return -1;
		ac_pl_push_key(L, "discovery", &save);
		if (ac_pl_discovery(L, S, iss) < 0)
			return -1;
	} else if (cJSON_GetObjectItemCaseSensitive(jwt, "jwks_uri") != NULL) {
		if (ac_pl_member_str(L, jwt, "jwks_uri", 1, AC_JWKS_URI_MAX,
		    &S->uri) < 0)
			return -1;
		ac_pl_push_key(L, "jwks_uri", &save);
		if (!ac_url_ok(S->uri))
			return ac_pl_bad(L, "must be an absolute http:// or https:// URL with a host and no user information");
	} else {
		if (v != NULL) {
			ac_pl_push_key(L, "jwks_fetch", &save);
			return ac_pl_bad(L, "only with \"jwks_uri\" or \"discovery\"");
		}
		return 0;
	}
	if (cJSON_GetObjectItemCaseSensitive(jwt, "keys") != NULL ||
	    cJSON_GetObjectItemCaseSensitive(jwt, "jwks") != NULL)
		return ac_pl_bad(L, "give the keys either inline (\"keys\", \"jwks\") or by URL, not both");
	if (disc && cJSON_GetObjectItemCaseSensitive(jwt, "jwks_uri") != NULL)
		return ac_pl_bad(L, "give \"jwks_uri\" or \"discovery\", not both");
	if (n_algs == 0)
		return ac_pl_bad(L, "needs \"algorithms\": a fetched key without \"alg\" is bound to the one of them its type fits");
	for (i = 0; i < n_algs; i++)
		if (ac_alg_family(algs[i]) == 'H')
			return ac_pl_bad(L, "keys fetched from a URL are public: an HMAC algorithm would take a published secret (give HS* keys inline)");
	ac_pl_pop(L, save);
	memcpy(S->algs, algs, n_algs * sizeof algs[0]);
	S->n_algs = n_algs;
	ac_pl_jwks_src_init(S, P);
	if (v == NULL)
		return 0;
	ac_pl_push_key(L, "jwks_fetch", &save);
	if (ac_pl_jwks_fetch(L, S, v) < 0)
		return -1;
	ac_pl_pop(L, save);
	return 0;
}
