/*
 * The "sessions" section of a policy: signed session cookies
 * (core/ac_session.c) and their CSRF protection (core/ac_csrf.c).
 */
#include "ac_bucket.h"
#include "ac_policy_load.h"

const char *const ac_pl_sessions_members[] = { "keys", "cookie", "csrf",
	"csrf_header", "csrf_cookie", "ttl", "revocation", NULL };

/* "revocation": {"store": N, "on_store_error": "deny" | "allow"}: logout
 * revokes the session (core/ac_revoke.c), its entries kept in groups of
 * the store beside the rate limits'. */
static int revocation(ac_loader *L, ac_policy *P, const cJSON *v)
{
	static const char *const members[] = { "store", "on_store_error",
		NULL };
	static const char *const on_error[] = { "deny", "allow", NULL };
	int64_t store = 65536;
	int fail = 0;

	if (ac_pl_members(L, v, members) < 0 ||
	    ac_pl_member_int(L, v, "store", 64, 1 << 24, &store,
	    "must be the number of revocations kept at once, 64 to 16777216 (16 bytes each)") < 0 ||
	    ac_pl_member_enum(L, v, "on_store_error", on_error,
	    "must be \"deny\" (a session that cannot be checked is refused) or \"allow\"",
	    &fail) < 0)
		return -1;
	/* 8 slots a group, kept at most half full on average: 16 bytes a
	 * revocation */
	P->rev_groups = (uint32_t)(((uint64_t)store * 16) / AC_GROUP_BYTES);
	P->rev_fail_open = fail == 1;
	return 0;
}

/* "sessions": the keys that sign and verify session cookies (the first
 * signs, all verify), the cookie, its lifetime and CSRF protection. */
int ac_pl_sessions(ac_loader *L, ac_policy *P, const cJSON *o)
{
	static const char *const key_allowed[] = { "kid", "secret",
		"secret_base64url", NULL };
	const cJSON *v, *k;
	size_t save, s2;
	int idx = 0;

	v = cJSON_GetObjectItemCaseSensitive(o, "keys");
	ac_pl_push_key(L, "keys", &save);
	if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) == 0)
		return ac_pl_bad(L, "must be a non-empty array of {\"kid\", \"secret\"} (the first signs, all verify)");
	if (cJSON_GetArraySize(v) > AC_KEYS_MAX)
		return ac_pl_bad(L, "more than 16 keys");
	for (k = v->child; k != NULL; k = k->next, idx++) {
		ac_str kid = { NULL, 0 };
		const cJSON *sv, *bv;
		uint8_t raw[4096];
		const uint8_t *sec;
		size_t sl, s3, i;
		int r;
		ac_pl_push_index(L, idx, &s2);
		if (ac_pl_members(L, k, key_allowed) < 0 ||
		    ac_pl_member_str(L, k, "kid", 1, 32, &kid) < 0)
			return -1;
		if (kid.ptr == NULL)
			return ac_pl_bad(L, "missing \"kid\" (it travels in the token for rotation)");
		for (i = 0; i < kid.len; i++) {
			char c = kid.ptr[i];
			if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
			    (c >= '0' && c <= '9') || c == '-' || c == '_')) {
				ac_pl_push_key(L, "kid", &s3);
				return ac_pl_bad(L, "must be 1 to 32 of [A-Za-z0-9_-]");
			}
		}
		sv = cJSON_GetObjectItemCaseSensitive(k, "secret");
		bv = cJSON_GetObjectItemCaseSensitive(k, "secret_base64url");
		if ((sv != NULL) == (bv != NULL))
			return ac_pl_bad(L, "needs exactly one of \"secret\" or \"secret_base64url\"");
		ac_pl_push_key(L, sv != NULL ? "secret" : "secret_base64url", &s3);
		if (sv != NULL) {
			if (!cJSON_IsString(sv))
				return ac_pl_bad(L, "must be a string");
			sec = (const uint8_t *)sv->valuestring;
			sl = strlen(sv->valuestring);
		} else {
			if (!cJSON_IsString(bv) || ac_b64url_decode(raw, sizeof raw,
			    &sl, bv->valuestring, strlen(bv->valuestring)) < 0)
				return ac_pl_bad(L, "must be strict base64url of at most 4096 bytes");
			sec = raw;
		}
		r = ac_session_key_init(&P->session_keys[P->n_session_keys], sec,
		    sl, kid.ptr, kid.len);
		memset(raw, 0, sizeof raw);
		if (r < 0)
			return ac_pl_bad(L, sv != NULL ? "must be 32 to 4096 bytes" :
			    "must decode to 32 to 4096 bytes");
		ac_pl_pop(L, s3);
		P->n_session_keys++;
		ac_pl_pop(L, s2);
	}
	ac_pl_pop(L, save);
	P->session_cookie.ptr = "authcore_session";
	P->session_cookie.len = 16;
	P->csrf_header.ptr = "x-csrf-token";
	P->csrf_header.len = 12;
	P->csrf_cookie.ptr = "authcore_csrf";
	P->csrf_cookie.len = 13;
	P->csrf = 1;
	P->session_ttl = AC_SESSION_TTL_DEFAULT;
	if (ac_pl_member_int(L, o, "ttl", 60, AC_SESSION_TTL_MAX, &P->session_ttl,
	    "must be a whole number of seconds from 60 to 34560000 (400 days)") < 0)
		return -1;
	if (ac_pl_member_str(L, o, "cookie", 1, AC_NAME_MAX, &P->session_cookie) < 0 ||
	    ac_pl_member_str(L, o, "csrf_header", 1, AC_NAME_MAX, &P->csrf_header) < 0 ||
	    ac_pl_member_str(L, o, "csrf_cookie", 1, AC_NAME_MAX, &P->csrf_cookie) < 0)
		return -1;
	if (!ac_pl_is_token(P->session_cookie) || !ac_pl_is_token(P->csrf_header) ||
	    !ac_pl_is_token(P->csrf_cookie))
		return ac_pl_bad(L, "cookie and header names must be HTTP tokens");
	v = cJSON_GetObjectItemCaseSensitive(o, "revocation");
	if (v != NULL) {
		ac_pl_push_key(L, "revocation", &save);
		if (revocation(L, P, v) < 0)
			return -1;
		ac_pl_pop(L, save);
	}
	v = cJSON_GetObjectItemCaseSensitive(o, "csrf");
	if (v != NULL) {
		ac_pl_push_key(L, "csrf", &save);
		if (cJSON_IsString(v) && strcmp(v->valuestring, "origin") == 0)
			P->csrf = 2;
		else if (cJSON_IsBool(v))
			P->csrf = cJSON_IsTrue(v);
		else
			return ac_pl_bad(L, "must be true (the CSRF token), \"origin\" (same-origin requests only) or false");
		ac_pl_pop(L, save);
	}
	return 0;
}
