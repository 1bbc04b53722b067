/*
 * The "jwt" section of a policy: signing keys (secrets, PEM, JWK, JWKS),
 * the algorithms and claims checked (core/ac_jwt.c), the token sources
 * and the claims forwarded as headers (core/ac_decide.c).
 */
#include <stdio.h>

#include "ac_cache_int.h"
#include "ac_policy_load.h"
#include "ac_reply.h"

/* A cJSON subtree back to text, in the arena (cJSON's hooks serve it). */
static const char *subtree_text(const cJSON *v)
{
	return cJSON_PrintUnformatted(v);
}

static int load_jwk_entry(ac_loader *L, ac_policy *P, const cJSON *k)
{
	const cJSON *jv = cJSON_GetObjectItemCaseSensitive(k, "jwk");
	const cJSON *av = cJSON_GetObjectItemCaseSensitive(k, "alg");
	ac_alg alg = AC_ALG_NONE;
	const char *text, *why = "invalid";
	char msg[160];
	size_t s2;

	if (cJSON_GetObjectItemCaseSensitive(k, "secret") ||
	    cJSON_GetObjectItemCaseSensitive(k, "secret_base64url") ||
	    cJSON_GetObjectItemCaseSensitive(k, "pem"))
		return ac_pl_bad(L, "\"jwk\" cannot be combined with \"secret\" or \"pem\"");
	if (cJSON_GetObjectItemCaseSensitive(k, "kid"))
		return ac_pl_bad(L, "give the kid inside the JWK");
	if (av != NULL) {
		ac_pl_push_key(L, "alg", &s2);
		if (!cJSON_IsString(av) || (alg = ac_alg_from_name(av->valuestring,
		    strlen(av->valuestring))) == AC_ALG_NONE)
			return ac_pl_bad(L, "unsupported algorithm");
		ac_pl_pop(L, s2);
	}
	ac_pl_push_key(L, "jwk", &s2);
	if (!cJSON_IsObject(jv))
		return ac_pl_bad(L, "must be a JWK object");
	text = subtree_text(jv);
	if (text == NULL)
		return ac_pl_bad(L, "policy needs more memory than given");
	if (ac_jwt_key_jwk(&P->keys[P->n_keys], alg, text, strlen(text),
	    &why) < 0) {
		snprintf(msg, sizeof msg, "JWK refused: %s", why);
		return ac_pl_bad(L, msg);
	}
	P->n_keys++;
	ac_pl_pop(L, s2);
	return 0;
}

static int load_jwks(ac_loader *L, ac_policy *P, const cJSON *jwks,
    const ac_alg *allowed, size_t n_allowed)
{
	const char *text, *why = "invalid";
	char msg[160];
	int bad_index, n;

	if (!cJSON_IsObject(jwks))
		return ac_pl_bad(L, "must be a JWKS object ({\"keys\": [...]})");
	text = subtree_text(jwks);
	if (text == NULL)
		return ac_pl_bad(L, "policy needs more memory than given");
	n = ac_jwks_load(P->keys + P->n_keys, AC_KEYS_MAX - P->n_keys, text,
	    strlen(text), allowed, n_allowed, &bad_index, &why);
	if (n < 0) {
		size_t s2;
		if (bad_index >= 0) {
			ac_pl_push_key(L, "keys", &s2);
			ac_pl_push_index(L, bad_index, &s2);
		}
		snprintf(msg, sizeof msg, "%s", why);
		return ac_pl_bad(L, msg);
	}
	P->n_keys += (size_t)n;
	return 0;
}

static int load_sources(ac_loader *L, ac_policy *P, const cJSON *arr)
{
	static const char *const allowed[] = { "header", "prefix", "cookie",
		"query", "protocol", "csrf", NULL };
	const cJSON *e;
	int idx = 0;

	if (!cJSON_IsArray(arr) || cJSON_GetArraySize(arr) == 0)
		return ac_pl_bad(L, "must be a non-empty array of token sources");
	if (cJSON_GetArraySize(arr) > AC_SOURCES_MAX)
		return ac_pl_bad(L, "more than 8 sources");
	for (e = arr->child; e != NULL; e = e->next, idx++) {
		ac_source *S = &P->sources[P->n_sources];
		const cJSON *h, *c, *q, *w;
		size_t save;

		memset(S, 0, sizeof *S);
		ac_pl_push_index(L, idx, &save);
		if (ac_pl_members(L, e, allowed) < 0)
			return -1;
		h = cJSON_GetObjectItemCaseSensitive(e, "header");
		c = cJSON_GetObjectItemCaseSensitive(e, "cookie");
		q = cJSON_GetObjectItemCaseSensitive(e, "query");
		w = cJSON_GetObjectItemCaseSensitive(e, "protocol");
		if ((h != NULL) + (c != NULL) + (q != NULL) + (w != NULL) != 1)
			return ac_pl_bad(L, "needs exactly one of \"header\", \"cookie\", \"query\" or \"protocol\"");
		S->kind = h ? 'H' : c ? 'C' : q ? 'Q' : 'P';
		if (ac_pl_member_str(L, e, h ? "header" : c ? "cookie" : q ?
		    "query" : "protocol", 1, AC_NAME_MAX, &S->name) < 0)
			return -1;
		/* a subprotocol is a token (RFC 6455 4.1): so is its prefix */
		if (!ac_pl_is_token(S->name))
			return ac_pl_bad(L, S->kind == 'P' ?
			    "prefix must be an HTTP token (no ',' or spaces)" :
			    "name must be an HTTP token");
		if (ac_pl_member_str(L, e, "prefix", 1, 32, &S->prefix) < 0)
			return -1;
		if (S->prefix.ptr != NULL && S->kind != 'H')
			return ac_pl_bad(L, "\"prefix\" applies to headers only");
		/* a token in a cookie rides along on other sites' posts */
		S->csrf = S->kind == 'C';
		if (ac_pl_member_bool(L, e, "csrf", &S->csrf) < 0)
			return -1;
		if (cJSON_GetObjectItemCaseSensitive(e, "csrf") && S->kind != 'C')
			return ac_pl_bad(L, "\"csrf\" applies to cookies only");
		P->n_sources++;
		ac_pl_pop(L, save);
	}
	return 0;
}

static int load_claim_headers(ac_loader *L, ac_policy *P, const cJSON *arr)
{
	static const char *const allowed[] = { "claim", "header", NULL };
	const cJSON *e;
	int idx = 0;

	if (!cJSON_IsArray(arr))
		return ac_pl_bad(L, "must be an array of {\"claim\", \"header\"}");
	if (cJSON_GetArraySize(arr) > AC_CLAIM_HEADERS_MAX)
		return ac_pl_bad(L, "more than 8 claim headers");
	for (e = arr->child; e != NULL; e = e->next, idx++) {
		ac_claim_header *C = &P->claim_headers[P->n_claim_headers];
		size_t save, j;

		ac_pl_push_index(L, idx, &save);
		if (ac_pl_members(L, e, allowed) < 0)
			return -1;
		if (!cJSON_GetObjectItemCaseSensitive(e, "claim") ||
		    !cJSON_GetObjectItemCaseSensitive(e, "header"))
			return ac_pl_bad(L, "needs \"claim\" and \"header\"");
		if (ac_pl_member_str(L, e, "claim", 1, AC_NAME_MAX, &C->claim) < 0 ||
		    ac_pl_member_str(L, e, "header", 1, AC_NAME_MAX, &C->header) < 0)
			return -1;
		if (!ac_pl_is_token(C->header) || ac_pl_reserved_header(C->header))
			return ac_pl_bad(L, "header must be an HTTP token and not one hosts own (host, authorization, cookie, ...)");
		for (j = 0; j < P->n_claim_headers; j++)
			if (ac_ascii_ieq(P->claim_headers[j].header.ptr,
			    P->claim_headers[j].header.len, C->header.ptr,
			    C->header.len))
				return ac_pl_bad(L, "header named twice");
		P->n_claim_headers++;
		ac_pl_pop(L, save);
	}
	return 0;
}

/* 1 if a dot path names a claim a token can hold: no empty segment. */
static int dot_path_ok(ac_str p)
{
	size_t i;
	if (p.ptr[0] == '.' || p.ptr[p.len - 1] == '.')
		return 0;
	for (i = 1; i < p.len; i++)
		if (p.ptr[i] == '.' && p.ptr[i - 1] == '.')
			return 0;
	return 1;
}

/* "role_claims": roles a token earns from a claim equal to true, false or
 * a string. Loads after the user claim and the issuer, so that a rule a
 * verified token could never meet is refused here: the time claims (whole
 * numbers when the token verifies), the user claim (a string), the roles
 * claim (an array or a string) and a checked "aud" with true or false,
 * and "iss" with another value than the issuer required. */
static int load_role_claims(ac_loader *L, ac_policy *P, const cJSON *arr)
{
	static const char *const allowed[] = { "claim", "equals", "role",
		NULL };
	const cJSON *e, *eq;
	int idx = 0;

	if (!cJSON_IsArray(arr) || cJSON_GetArraySize(arr) == 0)
		return ac_pl_bad(L, "must be a non-empty array of {\"claim\", \"equals\", \"role\"}");
	if (cJSON_GetArraySize(arr) > AC_ROLE_CLAIMS_MAX)
		return ac_pl_bad(L, "more than 16 role claims");
	for (e = arr->child; e != NULL; e = e->next, idx++) {
		ac_role_claim *R = &P->role_claims[P->n_role_claims];
		size_t save, s2, j;

		memset(R, 0, sizeof *R);
		ac_pl_push_index(L, idx, &save);
		if (ac_pl_members(L, e, allowed) < 0)
			return -1;
		eq = cJSON_GetObjectItemCaseSensitive(e, "equals");
		if (!cJSON_GetObjectItemCaseSensitive(e, "claim") || eq == NULL ||
		    !cJSON_GetObjectItemCaseSensitive(e, "role"))
			return ac_pl_bad(L, "needs \"claim\", \"equals\" and \"role\"");
		if (ac_pl_member_str(L, e, "claim", 1, AC_NAME_MAX, &R->claim) < 0 ||
		    ac_pl_member_str(L, e, "role", 1, AC_NAME_MAX, &R->role) < 0)
			return -1;
		ac_pl_push_key(L, "claim", &s2);
		if (!dot_path_ok(R->claim))
			return ac_pl_bad(L, "must be a claim name or a dot path (\"user.is_admin\") without an empty part");
		if (ac_str_eq(R->claim, "exp", 3) || ac_str_eq(R->claim, "nbf", 3) ||
		    ac_str_eq(R->claim, "iat", 3))
			return ac_pl_bad(L, "is a time claim, a whole number in every token that verifies: it never equals true, false or a string");
		ac_pl_pop(L, s2);
		ac_pl_push_key(L, "equals", &s2);
		if (cJSON_IsTrue(eq)) {
			R->kind = AJ_TRUE;
		} else if (cJSON_IsFalse(eq)) {
			R->kind = AJ_FALSE;
		} else if (cJSON_IsString(eq)) {
			R->kind = AJ_STRING;
			if (ac_pl_str(L, eq, 1, 1024, &R->value) < 0)
				return -1;
		} else {
			return ac_pl_bad(L, "must be true, false or a non-empty string");
		}
		if (R->kind != AJ_STRING && ac_str_eq(R->claim,
		    P->checks.user_claim.ptr, P->checks.user_claim.len))
			return ac_pl_bad(L, "the user claim is a string in every token that verifies: it never equals true or false");
		if (R->kind != AJ_STRING && ac_str_eq(R->claim,
		    P->checks.roles_claim.ptr, P->checks.roles_claim.len))
			return ac_pl_bad(L, "the roles claim is an array or a string in every token that verifies: it never equals true or false");
		if (R->kind != AJ_STRING && ac_str_eq(R->claim, "aud", 3) &&
		    P->checks.n_audiences > 0)
			return ac_pl_bad(L, "\"aud\" is checked against jwt.audience (a string or an array) in every token that verifies: it never equals true or false");
		if (ac_str_eq(R->claim, "iss", 3) && P->checks.issuer.ptr != NULL &&
		    (R->kind != AJ_STRING || !ac_str_eq(R->value,
		    P->checks.issuer.ptr, P->checks.issuer.len)))
			return ac_pl_bad(L, "\"iss\" equals jwt.issuer in every token that verifies: this value never matches");
		ac_pl_pop(L, s2);
		ac_pl_push_key(L, "role", &s2);
		/* as roles are forwarded: comma-joined, one header value */
		if (memchr(R->role.ptr, ',', R->role.len) != NULL ||
		    !ac_reply_value_ok(R->role.ptr, R->role.len))
			return ac_pl_bad(L, "a role must not hold a comma or control characters, or start or end with a space");
		ac_pl_pop(L, s2);
		for (j = 0; j < P->n_role_claims; j++) {
			const ac_role_claim *o = &P->role_claims[j];
			if (ac_str_eq(o->claim, R->claim.ptr, R->claim.len) &&
			    o->kind == R->kind && (R->kind != AJ_STRING ||
			    ac_str_eq(o->value, R->value.ptr, R->value.len)) &&
			    ac_str_eq(o->role, R->role.ptr, R->role.len))
				return ac_pl_bad(L, "the same claim, value and role twice");
		}
		P->n_role_claims++;
		ac_pl_pop(L, save);
	}
	return 0;
}

static int load_keys(ac_loader *L, ac_policy *P, const cJSON *arr)
{
	static const char *const allowed[] = { "kid", "alg", "secret",
		"secret_base64url", "pem", "jwk", NULL };
	const cJSON *k;
	int idx = 0;

	if (!cJSON_IsArray(arr))
		return ac_pl_bad(L, "must be an array of keys");
	if (cJSON_GetArraySize(arr) > AC_KEYS_MAX)
		return ac_pl_bad(L, "more than 16 keys");
	for (k = arr->child; k != NULL; k = k->next, idx++) {
		size_t save, s2;
		ac_str kid = { NULL, 0 }, alg_s;
		uint8_t raw[4096];
		const uint8_t *sec;
		size_t sec_len;
		ac_alg alg;
		const cJSON *sv, *bv, *pv;
		size_t j;

		ac_pl_push_index(L, idx, &save);
		if (ac_pl_members(L, k, allowed) < 0)
			return -1;
		if (ac_pl_member_str(L, k, "kid", 1, AC_NAME_MAX, &kid) < 0)
			return -1;
		for (j = 0; kid.ptr != NULL && j < P->n_keys; j++) {
			if (P->keys[j].has_kid && P->keys[j].kid_len == kid.len &&
			    memcmp(P->keys[j].kid, kid.ptr, kid.len) == 0) {
				ac_pl_push_key(L, "kid", &s2);
				return ac_pl_bad(L, "duplicate kid");
			}
		}
		if (P->n_keys >= AC_KEYS_MAX)
			return ac_pl_bad(L, "more than 16 keys in all");
		if (cJSON_GetObjectItemCaseSensitive(k, "jwk") != NULL) {
			if (load_jwk_entry(L, P, k) < 0)
				return -1;
			ac_pl_pop(L, save);
			continue;
		}
		if (cJSON_GetObjectItemCaseSensitive(k, "alg") == NULL)
			return ac_pl_bad(L, "missing \"alg\" (each key is bound to one algorithm)");
		if (ac_pl_member_str(L, k, "alg", 1, 16, &alg_s) < 0)
			return -1;
		alg = ac_alg_from_name(alg_s.ptr, alg_s.len);
		if (alg == AC_ALG_NONE) {
			ac_pl_push_key(L, "alg", &s2);
			return ac_pl_bad(L, "unsupported algorithm (HS256/384/512, RS256/384/512, PS256/384/512, ES256/384/512)");
		}
		sv = cJSON_GetObjectItemCaseSensitive(k, "secret");
		bv = cJSON_GetObjectItemCaseSensitive(k, "secret_base64url");
		pv = cJSON_GetObjectItemCaseSensitive(k, "pem");
		if ((sv != NULL) + (bv != NULL) + (pv != NULL) != 1)
			return ac_pl_bad(L, "needs exactly one of \"secret\", \"secret_base64url\", \"pem\" or \"jwk\"");
		if (pv != NULL) {
			ac_pl_push_key(L, "pem", &s2);
			if (!cJSON_IsString(pv))
				return ac_pl_bad(L, "must be a string");
			if (ac_alg_family(alg) == 'H')
				return ac_pl_bad(L, "an HMAC algorithm takes a secret, not a public key");
			if (ac_jwt_key_pem(&P->keys[P->n_keys], alg, pv->valuestring,
			    strlen(pv->valuestring), kid.ptr, kid.len) < 0)
				return ac_pl_bad(L, "not a PEM public key (SPKI or PKCS#1) that fits \"alg\" (RSA 2048-4096 bits; EC P-256/384/521 by alg)");
			P->n_keys++;
			ac_pl_pop(L, save);
			continue;
		}
		if (ac_alg_family(alg) != 'H') {
			ac_pl_push_key(L, sv != NULL ? "secret" : "secret_base64url", &s2);
			return ac_pl_bad(L, "a public-key algorithm takes \"pem\" or \"jwk\", not a secret");
		}
		if (sv != NULL) {
			ac_pl_push_key(L, "secret", &s2);
			if (!cJSON_IsString(sv))
				return ac_pl_bad(L, "must be a string");
			sec = (const uint8_t *)sv->valuestring;
			sec_len = strlen(sv->valuestring);
		} else {
			ac_pl_push_key(L, "secret_base64url", &s2);
			if (!cJSON_IsString(bv) ||
			    ac_b64url_decode(raw, sizeof raw, &sec_len,
			    bv->valuestring, strlen(bv->valuestring)) < 0)
				return ac_pl_bad(L, "must be strict base64url of at most 4096 bytes");
			sec = raw;
		}
		/* the path names the member (.secret or .secret_base64url);
		 * the message says only what is wrong with it */
		if (sec_len < ac_alg_hash_len(alg))
			return ac_pl_bad(L, alg == AC_ALG_HS256 ?
			    (sv ? "must be at least 32 bytes for HS256" :
			    "must decode to at least 32 bytes for HS256") :
			    alg == AC_ALG_HS384 ?
			    (sv ? "must be at least 48 bytes for HS384" :
			    "must decode to at least 48 bytes for HS384") :
			    (sv ? "must be at least 64 bytes for HS512" :
			    "must decode to at least 64 bytes for HS512"));
		if (ac_jwt_key_hmac(&P->keys[P->n_keys], alg, sec, sec_len,
		    kid.ptr, kid.len) < 0)
			return ac_pl_bad(L, "must be at most 4096 bytes");
		memset(raw, 0, sizeof raw);
		P->n_keys++;
		ac_pl_pop(L, save);
	}
	return 0;
}

const char *const ac_pl_jwt_members[] = { "keys", "jwks", "algorithms",
	"issuer", "audience", "leeway", "require_exp", "user_claim",
	"roles_claim", "role_claims", "typ", "max_age", "sources",
	"claims_to_headers", "cache", "jwks_uri", "jwks_fetch", "discovery", NULL };

/* Token checks apply whether or not "jwt" is given. */
int ac_pl_jwt_init(ac_loader *L, ac_policy *P, const cJSON *v)
{
	(void)L;
	(void)v;
	ac_jwt_checks_init(&P->checks);
	P->checks.require_exp = 1;
	return 0;
}

/* "jwt": keys (one by one or a JWKS), the claims checked, where tokens are
 * looked for, and claims forwarded as headers. */
int ac_pl_jwt(ac_loader *L, ac_policy *P, const cJSON *jwt)
{
	const cJSON *v;
	size_t save;
	ac_alg algs[AC_ALG_COUNT];
	size_t n_algs = 0;

	if (!cJSON_GetObjectItemCaseSensitive(jwt, "keys") &&
	    !cJSON_GetObjectItemCaseSensitive(jwt, "jwks") &&
	    !cJSON_GetObjectItemCaseSensitive(jwt, "jwks_uri") &&
	    !cJSON_GetObjectItemCaseSensitive(jwt, "discovery"))
		return ac_pl_bad(L, "missing \"keys\" or \"jwks\" (or \"jwks_uri\", \"discovery\")");
	v = cJSON_GetObjectItemCaseSensitive(jwt, "keys");
	if (v != NULL) {
		ac_pl_push_key(L, "keys", &save);
		if (load_keys(L, P, v) < 0)
			return -1;
		ac_pl_pop(L, save);
	}
	v = cJSON_GetObjectItemCaseSensitive(jwt, "algorithms");
	if (v != NULL) {
		const cJSON *a;
		int idx = 0;
		size_t s2;
		ac_pl_push_key(L, "algorithms", &save);
		if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) == 0 ||
		    cJSON_GetArraySize(v) >= AC_ALG_COUNT)
			return ac_pl_bad(L, "must be a non-empty array of algorithm names");
		for (a = v->child; a != NULL; a = a->next, idx++) {
			ac_pl_push_index(L, idx, &s2);
			if (!cJSON_IsString(a) || (algs[n_algs] = ac_alg_from_name(
			    a->valuestring, strlen(a->valuestring))) == AC_ALG_NONE)
				return ac_pl_bad(L, "unsupported algorithm");
			n_algs++;
			ac_pl_pop(L, s2);
		}
		ac_pl_pop(L, save);
	}
	v = cJSON_GetObjectItemCaseSensitive(jwt, "jwks");
	if (v != NULL) {
		ac_pl_push_key(L, "jwks", &save);
		if (load_jwks(L, P, v, algs, n_algs) < 0)
			return -1;
		ac_pl_pop(L, save);
	}
	/* or keys fetched from a URL (core/ac_jwks_policy.c) */
	if (ac_pl_jwks_remote(L, P, jwt, algs, n_algs) < 0)
		return -1;
	if (P->n_keys == 0 && P->jwks_src.uri.ptr == NULL)
		return ac_pl_bad(L, "holds no key (give \"keys\" or \"jwks\")");
	if (n_algs > 0) {
		/* "algorithms" also limits keys given one by one */
		size_t i, j;
		for (i = 0; i < P->n_keys; i++) {
			int ok = 0;
			for (j = 0; j < n_algs; j++)
				ok |= P->keys[i].alg == algs[j];
			if (!ok)
				return ac_pl_bad(L, "a key's algorithm is not in \"algorithms\"");
		}
	}
	v = cJSON_GetObjectItemCaseSensitive(jwt, "sources");
	if (v != NULL) {
		ac_pl_push_key(L, "sources", &save);
		if (load_sources(L, P, v) < 0)
			return -1;
		ac_pl_pop(L, save);
	} else {
		/* default, as Envoy's jwt_authn: Authorization: Bearer */
		P->sources[0].kind = 'H';
		P->sources[0].name.ptr = "authorization";
		P->sources[0].name.len = 13;
		P->sources[0].prefix.ptr = "Bearer";
		P->sources[0].prefix.len = 6;
		P->n_sources = 1;
	}
	v = cJSON_GetObjectItemCaseSensitive(jwt, "claims_to_headers");
	if (v != NULL) {
		ac_pl_push_key(L, "claims_to_headers", &save);
		if (load_claim_headers(L, P, v) < 0)
			return -1;
		ac_pl_pop(L, save);
	}
	if (ac_pl_member_str(L, jwt, "typ", 1, 63, &P->checks.typ) < 0)
		return -1;
	v = cJSON_GetObjectItemCaseSensitive(jwt, "max_age");
	if (v != NULL) {
		ac_pl_push_key(L, "max_age", &save);
		if (!ac_pl_whole(v, 1, 31536000))
			return ac_pl_bad(L, "must be an integer number of seconds from 1 to 31536000");
		P->checks.max_age = (int64_t)v->valuedouble;
		ac_pl_pop(L, save);
	}
	if (ac_pl_member_str(L, jwt, "issuer", 1, 1024, &P->checks.issuer) < 0)
		return -1;
	v = cJSON_GetObjectItemCaseSensitive(jwt, "audience");
	if (v != NULL) {
		ac_pl_push_key(L, "audience", &save);
		if (cJSON_IsString(v)) {
			if (ac_pl_str(L, v, 1, 1024, &P->checks.audiences[0]) < 0)
				return -1;
			P->checks.n_audiences = 1;
		} else if (cJSON_IsArray(v)) {
			const cJSON *a;
			int idx = 0;
			size_t s2;
			if (cJSON_GetArraySize(v) == 0)
				return ac_pl_bad(L, "must not be empty");
			if (cJSON_GetArraySize(v) > AC_AUD_MAX)
				return ac_pl_bad(L, "more than 8 audiences");
			for (a = v->child; a != NULL; a = a->next, idx++) {
				ac_pl_push_index(L, idx, &s2);
				if (ac_pl_str(L, a, 1, 1024,
				    &P->checks.audiences[P->checks.n_audiences]) < 0)
					return -1;
				P->checks.n_audiences++;
				ac_pl_pop(L, s2);
			}
		} else {
			return ac_pl_bad(L, "must be a string or an array of strings");
		}
		ac_pl_pop(L, save);
	}
	v = cJSON_GetObjectItemCaseSensitive(jwt, "leeway");
	if (v != NULL) {
		ac_pl_push_key(L, "leeway", &save);
		if (!ac_pl_whole(v, 0, 86400))
			return ac_pl_bad(L, "must be an integer number of seconds from 0 to 86400");
		P->checks.leeway = (int64_t)v->valuedouble;
		ac_pl_pop(L, save);
	}
	v = cJSON_GetObjectItemCaseSensitive(jwt, "require_exp");
	if (v != NULL) {
		ac_pl_push_key(L, "require_exp", &save);
		if (!cJSON_IsBool(v))
			return ac_pl_bad(L, "must be true or false");
		P->checks.require_exp = cJSON_IsTrue(v);
		ac_pl_pop(L, save);
	}
	if (ac_pl_member_str(L, jwt, "user_claim", 1, AC_NAME_MAX,
	    &P->checks.user_claim) < 0)
		return -1;
	if (ac_pl_member_str(L, jwt, "roles_claim", 1, AC_NAME_MAX,
	    &P->checks.roles_claim) < 0)
		return -1;
	v = cJSON_GetObjectItemCaseSensitive(jwt, "role_claims");
	if (v != NULL) {
		ac_pl_push_key(L, "role_claims", &save);
		if (load_role_claims(L, P, v) < 0)
			return -1;
		ac_pl_pop(L, save);
	}
	/* verified RS/PS/ES signatures kept per worker (authcore_cache.h),
	 * bound to this key set */
	P->jwt_cache_entries = AC_JWT_CACHE_DEFAULT;
	v = cJSON_GetObjectItemCaseSensitive(jwt, "cache");
	if (v != NULL) {
		ac_pl_push_key(L, "cache", &save);
		if (cJSON_IsBool(v))
			P->jwt_cache_entries = cJSON_IsTrue(v) ?
			    AC_JWT_CACHE_DEFAULT : 0;
		else if (ac_pl_whole(v, 1, AC_JWT_CACHE_MAX))
			P->jwt_cache_entries = (size_t)v->valuedouble;
		else
			return ac_pl_bad(L, "must be true, false or a number of entries from 1 to 65536");
		ac_pl_pop(L, save);
	}
	ac_cache_keyset(P->sha256, P->keys, P->n_keys, P->jwt_keyset);
	P->has_jwt = 1;
	return 0;
}
