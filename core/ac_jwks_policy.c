/*
 * "jwt"."jwks_uri" and "jwt"."jwks_fetch": where a policy's token keys are
 * fetched from and how long fetched keys serve (core/ac_jwks.c uses them).
 */
#include <bearssl.h>

#include "ac_policy_load.h"

static const char *const fetch_members[] = { "ttl", "stale_for",
	"min_interval", "max_bytes", "timeout_ms", NULL };

/* 1 if s is an absolute http(s) URL with a host, in printable ASCII. */
static int url_ok(ac_str s)
{
	size_t i, skip;

	if (s.len > 8 && memcmp(s.ptr, "https://", 8) == 0)
		skip = 8;
	else if (s.len > 7 && memcmp(s.ptr, "http://", 7) == 0)
		skip = 7;
	else
		return 0;
	if (s.ptr[skip] == '/' || s.ptr[skip] == '?' || s.ptr[skip] == '#')
		return 0;
	for (i = 0; i < s.len; i++)
		if ((unsigned char)s.ptr[i] <= 0x20 ||
		    (unsigned char)s.ptr[i] >= 0x7f)
			return 0;
	return memchr(s.ptr, '#', s.len) == NULL;
}

int ac_pl_jwks_remote(ac_loader *L, ac_policy *P, const cJSON *jwt,
    const ac_alg *algs, size_t n_algs)
{
	const cJSON *v;
	size_t save;
	int64_t x;
	br_sha256_context h;

	P->jwks_ttl = 600;
	P->jwks_stale_for = 3600;
	P->jwks_min_interval = 30;
	P->jwks_max_bytes = 65536;
	P->jwks_timeout_ms = 5000;
	v = cJSON_GetObjectItemCaseSensitive(jwt, "jwks_fetch");
	if (cJSON_GetObjectItemCaseSensitive(jwt, "jwks_uri") == NULL) {
		if (v != NULL) {
			ac_pl_push_key(L, "jwks_fetch", &save);
			return ac_pl_bad(L, "only with \"jwks_uri\"");
		}
		return 0;
	}
	if (ac_pl_member_str(L, jwt, "jwks_uri", 1, 1024, &P->jwks_uri) < 0)
		return -1;
	ac_pl_push_key(L, "jwks_uri", &save);
	if (!url_ok(P->jwks_uri))
		return ac_pl_bad(L, "must be an absolute http:// or https:// URL with a host");
	if (cJSON_GetObjectItemCaseSensitive(jwt, "keys") != NULL ||
	    cJSON_GetObjectItemCaseSensitive(jwt, "jwks") != NULL)
		return ac_pl_bad(L, "give the keys either inline (\"keys\", \"jwks\") or by URL, not both");
	if (n_algs == 0)
		return ac_pl_bad(L, "needs \"algorithms\": a fetched key without \"alg\" is bound to the one of them its type fits");
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
