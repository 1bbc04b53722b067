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

/* "discovery": true: the issuer's configuration URL (OpenID Connect
 * Discovery 1.0, section 4: the issuer with any terminating "/" removed,
 * then the well-known path) as P->jwks_uri. */
static int discovery_url(ac_loader *L, ac_policy *P, const cJSON *jwt)
{
	const cJSON *iss = cJSON_GetObjectItemCaseSensitive(jwt, "issuer");
	size_t save, n;
	char *u;
	ac_str s;

	ac_pl_push_key(L, "discovery", &save);
	if (!cJSON_IsString(iss))
		return ac_pl_bad(L, "needs \"issuer\": the keys are found from the issuer's openid-configuration");
	s.ptr = iss->valuestring;
	s.len = strlen(iss->valuestring);
	if (!ac_url_ok(s) || memchr(s.ptr, '?', s.len) != NULL)
		return ac_pl_bad(L, "needs an \"issuer\" that is an http:// or https:// URL without a query");
	n = s.len;
	if (s.ptr[n - 1] == '/')
		n--;
	if (n + sizeof WELL_KNOWN - 1 > AC_JWKS_URI_MAX)
		return ac_pl_bad(L, "the issuer is too long to discover from");
	u = ac_pl_take(L, n + sizeof WELL_KNOWN);
	if (u == NULL)
		return ac_pl_bad(L, "the policy does not fit its memory");
	memcpy(u, s.ptr, n);
	memcpy(u + n, WELL_KNOWN, sizeof WELL_KNOWN);
	P->jwks_uri.ptr = u;
	P->jwks_uri.len = n + sizeof WELL_KNOWN - 1;
	ac_pl_pop(L, save);
	return 0;
}

int ac_pl_jwks_remote(ac_loader *L, ac_policy *P, const cJSON *jwt,
    const ac_alg *algs, size_t n_algs)
{
	const cJSON *v;
	size_t save, i;
	int64_t x;
	br_sha256_context h;

	P->jwks_ttl = 600;
	P->jwks_stale_for = 3600;
	P->jwks_min_interval = 30;
	P->jwks_max_bytes = 65536;
	P->jwks_timeout_ms = 5000;
	v = cJSON_GetObjectItemCaseSensitive(jwt, "jwks_fetch");
	if (ac_pl_member_bool(L, jwt, "discovery", &P->jwks_discovery) < 0)
		return -1;
	if (P->jwks_discovery) {
		if (discovery_url(L, P, jwt) < 0)
			return -1;
		ac_pl_push_key(L, "discovery", &save);
	} else if (cJSON_GetObjectItemCaseSensitive(jwt, "jwks_uri") != NULL) {
		if (ac_pl_member_str(L, jwt, "jwks_uri", 1, AC_JWKS_URI_MAX,
		    &P->jwks_uri) < 0)
			return -1;
		ac_pl_push_key(L, "jwks_uri", &save);
		if (!ac_url_ok(P->jwks_uri))
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
	if (P->jwks_discovery &&
	    cJSON_GetObjectItemCaseSensitive(jwt, "jwks_uri") != NULL)
		return ac_pl_bad(L, "give \"jwks_uri\" or \"discovery\", not both");
	if (n_algs == 0)
		return ac_pl_bad(L, "needs \"algorithms\": a fetched key without \"alg\" is bound to the one of them its type fits");
	for (i = 0; i < n_algs; i++)
		if (ac_alg_family(algs[i]) == 'H')
			return ac_pl_bad(L, "keys fetched from a URL are public: an HMAC algorithm would take a published secret (give HS* keys inline)");
	ac_pl_pop(L, save);
	memcpy(P->jwks_algs, algs, n_algs * sizeof algs[0]);
	P->n_jwks_algs = n_algs;
	br_sha256_init(&h);
	br_sha256_update(&h, P->jwks_uri.ptr, P->jwks_uri.len);
	br_sha256_out(&h, P->jwks_uri_digest);
	if (v == NULL)
		return 0;
	ac_pl_push_key(L, "jwks_fetch", &save);
	if (ac_pl_members(L, v, fetch_members) < 0)
		return -1;
	if (ac_pl_member_int(L, v, "ttl", 1, 86400, &P->jwks_ttl,
	    "must be an integer number of seconds from 1 to 86400") < 0 ||
	    ac_pl_member_int(L, v, "stale_for", 0, 604800, &P->jwks_stale_for,
	    "must be an integer number of seconds from 0 to 604800") < 0 ||
	    ac_pl_member_int(L, v, "min_interval", 1, 3600,
	    &P->jwks_min_interval,
	    "must be an integer number of seconds from 1 to 3600") < 0)
		return -1;
	x = (int64_t)P->jwks_max_bytes;
	if (ac_pl_member_int(L, v, "max_bytes", 256, AC_JWKS_BODY_MAX, &x,
	    "must be an integer number of bytes from 256 to 262144") < 0)
		return -1;
	P->jwks_max_bytes = (size_t)x;
	x = P->jwks_timeout_ms;
	if (ac_pl_member_int(L, v, "timeout_ms", 100, 60000, &x,
	    "must be an integer number of milliseconds from 100 to 60000") < 0)
		return -1;
	P->jwks_timeout_ms = (uint32_t)x;
	ac_pl_pop(L, save);
	return 0;
}
