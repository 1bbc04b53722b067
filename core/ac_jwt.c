/*
 * JWT (RFC 7519) over compact JWS (RFC 7515), HMAC algorithms.
 *
 * Order of work is chosen so that an attacker pays before we do: sizes and
 * structure first, then the header, the key (bound to one algorithm when it
 * was made; the header never picks the key type), the signature in constant
 * time, and only then the payload and its claims.
 */
#include <bearssl.h>

#include "ac_cache_int.h"

_Static_assert(sizeof(br_hmac_key_context) <= sizeof(((ac_jwt_key *)0)->state),
    "ac_jwt_key.state too small for br_hmac_key_context");

static const char *const alg_names[AC_ALG_COUNT] = {
	"none", "HS256", "HS384", "HS512", "RS256", "RS384", "RS512",
	"PS256", "PS384", "PS512", "ES256", "ES384", "ES512",
};

ac_alg ac_alg_from_name(const char *name, size_t len)
{
	int i;
	/* exact, case-sensitive: "none", "None", "hs256" are all refused */
	for (i = 1; i < AC_ALG_COUNT; i++)
		if (strlen(alg_names[i]) == len && memcmp(alg_names[i], name, len) == 0)
			return (ac_alg)i;
	return AC_ALG_NONE;
}

const char *ac_alg_name(ac_alg alg)
{
	if ((unsigned)alg >= AC_ALG_COUNT)
		return "none";
	return alg_names[alg];
}

int ac_jwt_key_hmac(ac_jwt_key *key, ac_alg alg, const uint8_t *secret,
    size_t secret_len, const char *kid, size_t kid_len)
{
	const br_hash_class *h = ac_alg_hash_class(alg);

	memset(key, 0, sizeof *key);
	if (ac_alg_family(alg) != 'H' || secret_len < ac_alg_hash_len(alg) ||
	    secret_len > 4096)
		return -1;
	if (kid != NULL) {
		if (kid_len > sizeof key->kid)
			return -1;
		memcpy(key->kid, kid, kid_len);
		key->kid_len = kid_len;
		key->has_kid = 1;
	}
	key->alg = alg;
	br_hmac_key_init((br_hmac_key_context *)(void *)key->state, h,
	    secret, secret_len);
	return 0;
}

static size_t hmac_compute(const br_hmac_key_context *kc, ac_alg alg,
    const char *msg, size_t len, uint8_t out[64])
{
	br_hmac_context hc;

	br_hmac_init(&hc, kc, 0);
	br_hmac_update(&hc, msg, len);
	br_hmac_out(&hc, out);
	return ac_alg_hash_len(alg);
}

void ac_jwt_checks_init(ac_jwt_checks *c)
{
	memset(c, 0, sizeof *c);
	c->user_claim.ptr = "sub";
	c->user_claim.len = 3;
	c->roles_claim.ptr = "roles";
	c->roles_claim.len = 5;
}

static int has_ctl(const char *s, size_t n)
{
	size_t i;
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return 1;
	return 0;
}

/* Copies a decoded JSON string into res->text; fails on control chars. */
static int keep_text(ac_jwt_result *res, ac_str raw, ac_str *out)
{
	size_t l;
	char *dst = res->text + res->text_len;

	if (aj_str_decode(raw, dst, sizeof res->text - res->text_len, &l) < 0)
		return -1;
	if (has_ctl(dst, l))
		return -1;
	out->ptr = dst;
	out->len = l;
	res->text_len += l;
	return 0;
}

static int is_unsupported_alg(const char *a, size_t len)
{
	static const char *const names[] = { "EdDSA", "Ed25519", "Ed448",
		"ES256K", NULL };
	const char *const *p;
	for (p = names; *p != NULL; p++)
		if (strlen(*p) == len && memcmp(*p, a, len) == 0)
			return 1;
	return 0;
}

/* A key without a kid serves any token (as Envoy's jwt_authn does); a key
 * with one serves tokens naming it, or naming none. */
static int key_matches_kid(const ac_jwt_key *k, int has_kid, const char *kid,
    size_t kid_len)
{
	if (!has_kid || !k->has_kid)
		return 1;
	return k->kid_len == kid_len && memcmp(k->kid, kid, kid_len) == 0;
}

/* Walks a dot path. `top`/`ntop`, when not NULL, are the already scanned
 * members of the outermost object (so a top-level name costs no rescan);
 * otherwise `obj` is scanned. Iterative, with one member array, so a long
 * path costs no stack per segment. */
static int claim_walk(const aj_member *top, size_t ntop, const char *obj,
    size_t olen, ac_str path, aj_type *type, ac_str *raw)
{
	aj_member m[AC_JSON_MEMBERS_MAX];
	const aj_member *cur = top;
	size_t n = ntop, i, start = 0;

	if (path.len == 0)
		return 0;
	for (;;) {
		size_t end = start;
		const aj_member *hit = NULL;
		while (end < path.len && path.ptr[end] != '.')
			end++;
		if (cur == NULL) {
			if (aj_object(obj, olen, m, AC_JSON_MEMBERS_MAX, &n) < 0)
				return -1;
			cur = m;
		}
		for (i = 0; i < n; i++)
			if (aj_str_eq(cur[i].key, path.ptr + start, end - start))
				hit = &cur[i];
		if (hit == NULL)
			return 0;
		if (end == path.len) {
			*type = hit->type;
			*raw = hit->raw;
			return 1;
		}
		if (hit->type != AJ_OBJECT)
			return 0;
		obj = hit->raw.ptr;
		olen = hit->raw.len;
		cur = NULL;
		start = end + 1;
	}
}

int ac_claim_find(const uint8_t *payload, size_t len, ac_str path,
    aj_type *type, ac_str *raw)
{
	return claim_walk(NULL, 0, (const char *)payload, len, path, type, raw);
}

static ac_reason fail(ac_jwt_result *res, ac_reason r)
{
	res->reason = r;
	return r;
}

ac_reason ac_jwt_derive_roles(const ac_role_claim *rc, size_t n,
    ac_jwt_result *res)
{
	size_t i;

	for (i = 0; i < n; i++) {
		aj_type t;
		ac_str raw;
		int r = ac_claim_find(res->payload, res->payload_len,
		    rc[i].claim, &t, &raw);
		if (r < 0)
			return AC_MALFORMED;
		/* a string compares decoded; true and false by type alone,
		 * so "true" (a string) or 1 never passes for true */
		if (r == 0 || (int)t != rc[i].kind || (t == AJ_STRING &&
		    !aj_str_eq(raw, rc[i].value.ptr, rc[i].value.len)))
			continue;
		if (ac_str_in_list(res->roles, res->n_roles, rc[i].role))
			continue;
		if (res->n_roles >= AC_ROLES_MAX)
			return AC_BAD_CLAIM;
		res->roles[res->n_roles++] = rc[i].role;
	}
	return AC_OK;
}

static ac_reason check_claims(const ac_jwt_checks *ck, int64_t now,
    ac_jwt_result *res)
{
	aj_member m[AC_JSON_MEMBERS_MAX];
	size_t n, i;
	const aj_member *iss = NULL, *aud = NULL;
	aj_type ut, rt;
	ac_str uraw, rraw;
	int has_user, has_roles;

	if (aj_object((const char *)res->payload, res->payload_len, m,
	    AC_JSON_MEMBERS_MAX, &n) < 0)
		return fail(res, AC_MALFORMED);
	for (i = 0; i < n; i++) {
		int64_t *tv = NULL;
		int *th = NULL;
		if (aj_str_eq(m[i].key, "exp", 3)) {
			tv = &res->exp;
			th = &res->has_exp;
		} else if (aj_str_eq(m[i].key, "nbf", 3)) {
			tv = &res->nbf;
			th = &res->has_nbf;
		} else if (aj_str_eq(m[i].key, "iat", 3)) {
			tv = &res->iat;
			th = &res->has_iat;
		} else if (aj_str_eq(m[i].key, "iss", 3)) {
			iss = &m[i];
		} else if (aj_str_eq(m[i].key, "aud", 3)) {
			aud = &m[i];
		}
		if (tv != NULL) {
			/* integers only: "123", 1.5, 1e3 and true are refused */
			if (m[i].type != AJ_NUMBER || aj_int64(m[i].raw, tv) < 0)
				return fail(res, AC_BAD_CLAIM);
			*th = 1;
		}
	}
	if (ck->require_exp && !res->has_exp)
		return fail(res, AC_MISSING_CLAIM);
	if (res->has_exp && res->exp <= now - ck->leeway)
		return fail(res, AC_EXPIRED);
	if (res->has_nbf && res->nbf > now + ck->leeway)
		return fail(res, AC_NOT_YET_VALID);
	if (ck->max_age > 0) {
		if (!res->has_iat)
			return fail(res, AC_MISSING_CLAIM);
		if (res->iat > now + ck->leeway)
			return fail(res, AC_NOT_YET_VALID);
		if (now - res->iat > ck->max_age + ck->leeway)
			return fail(res, AC_TOO_OLD);
	}
	if (ck->issuer.ptr != NULL) {
		if (iss == NULL || iss->type != AJ_STRING ||
		    !aj_str_eq(iss->raw, ck->issuer.ptr, ck->issuer.len))
			return fail(res, AC_BAD_ISSUER);
	}
	if (ck->n_audiences > 0) {
		int ok = 0;
		if (aud == NULL)
			return fail(res, AC_BAD_AUDIENCE);
		if (aud->type == AJ_STRING) {
			for (i = 0; i < ck->n_audiences; i++)
				ok |= aj_str_eq(aud->raw, ck->audiences[i].ptr,
				    ck->audiences[i].len);
		} else if (aud->type == AJ_ARRAY) {
			size_t pos = 0;
			aj_type t;
			ac_str e;
			while (aj_array_next(aud->raw, &pos, &t, &e)) {
				if (t != AJ_STRING)
					return fail(res, AC_BAD_AUDIENCE);
				for (i = 0; i < ck->n_audiences; i++)
					ok |= aj_str_eq(e, ck->audiences[i].ptr,
					    ck->audiences[i].len);
			}
		} else {
			return fail(res, AC_BAD_AUDIENCE);
		}
		if (!ok)
			return fail(res, AC_BAD_AUDIENCE);
	}
	has_user = claim_walk(m, n, NULL, 0, ck->user_claim, &ut, &uraw);
	if (has_user < 0)
		return fail(res, AC_MALFORMED);
	if (has_user) {
		if (ut != AJ_STRING || keep_text(res, uraw, &res->user) < 0)
			return fail(res, AC_BAD_CLAIM);
	}
	has_roles = claim_walk(m, n, NULL, 0, ck->roles_claim, &rt,
	    &rraw);
	if (has_roles < 0)
		return fail(res, AC_MALFORMED);
	if (has_roles && rt == AJ_ARRAY) {
		size_t pos = 0;
		aj_type t;
		ac_str e;
		while (aj_array_next(rraw, &pos, &t, &e)) {
			if (t != AJ_STRING || res->n_roles >= AC_ROLES_MAX ||
			    keep_text(res, e, &res->roles[res->n_roles]) < 0)
				return fail(res, AC_BAD_CLAIM);
			res->n_roles++;
		}
	} else if (has_roles && rt == AJ_STRING) {
		/* OAuth "scope" style: one space-delimited string */
		ac_str all;
		size_t i2 = 0;
		if (keep_text(res, rraw, &all) < 0)
			return fail(res, AC_BAD_CLAIM);
		while (i2 < all.len) {
			size_t st;
			while (i2 < all.len && all.ptr[i2] == ' ')
				i2++;
			st = i2;
			while (i2 < all.len && all.ptr[i2] != ' ')
				i2++;
			if (i2 > st) {
				if (res->n_roles >= AC_ROLES_MAX)
					return fail(res, AC_BAD_CLAIM);
				res->roles[res->n_roles].ptr = all.ptr + st;
				res->roles[res->n_roles].len = i2 - st;
				res->n_roles++;
			}
		}
	} else if (has_roles) {
		return fail(res, AC_BAD_CLAIM);
	}
	res->reason = AC_OK;
	return AC_OK;
}

/* The JWS check, with a cache when cu->cache is set: an RS*, PS* or ES*
 * token whose tag (key set and whole token) is cached skips only the
 * signature check, and only when the key it names is one the header's alg
 * and kid select; everything before and after runs as without. */
static ac_reason jws_verify(const ac_jwt_key *keys, size_t n_keys,
    const char *token, size_t token_len, ac_jws_header *h, uint8_t *payload,
    size_t payload_cap, size_t *payload_len, ac_cache_use *cu)
{
	uint8_t hdr[AC_JWT_HEADER_MAX], sig[AC_RSA_MAX_BYTES];
	aj_member m[AC_JSON_MEMBERS_MAX];
	size_t dot1, dot2, i, hlen, slen, nm;
	int matched = 0, tried = 0, ok = 0;
	uint32_t ki = 0;

	memset(h, 0, sizeof *h);
	*payload_len = 0;
	if (token_len > AC_TOKEN_MAX)
		return AC_TOKEN_TOO_LARGE;
	/* exactly two dots, found before decoding anything (many-dots
	 * amplification) */
	{
		const char *a = memchr(token, '.', token_len), *b;
		if (a == NULL)
			return AC_MALFORMED;
		dot1 = (size_t)(a - token);
		b = memchr(a + 1, '.', token_len - dot1 - 1);
		if (b == NULL)
			return AC_MALFORMED;
		dot2 = (size_t)(b - token);
		if (memchr(b + 1, '.', token_len - dot2 - 1) != NULL)
			return AC_MALFORMED;
	}
	/* an empty header is malformed; an empty payload is a JWS (RFC 7515
	 * allows any octets, none included), which a JWT's claims check
	 * then refuses as not a JSON object */
	if (dot1 == 0)
		return AC_MALFORMED;

	/* header */
	if (ac_b64url_decode(hdr, sizeof hdr, &hlen, token, dot1) < 0 ||
	    aj_object((const char *)hdr, hlen, m, AC_JSON_MEMBERS_MAX, &nm) < 0)
		return AC_MALFORMED;
	for (i = 0; i < nm; i++) {
		if (aj_str_eq(m[i].key, "alg", 3)) {
			char a[16];
			size_t al;
			if (m[i].type != AJ_STRING)
				return AC_MALFORMED;
			if (aj_str_decode(m[i].raw, a, sizeof a, &al) < 0)
				return AC_ALG_NOT_ALLOWED;
			h->alg = ac_alg_from_name(a, al);
			/* JWS algorithms BearSSL cannot verify: named so the
			 * audit says why, never accepted */
			if (h->alg == AC_ALG_NONE && is_unsupported_alg(a, al))
				return AC_UNSUPPORTED_ALG;
		} else if (aj_str_eq(m[i].key, "kid", 3)) {
			if (m[i].type != AJ_STRING || aj_str_decode(m[i].raw,
			    h->kid, sizeof h->kid, &h->kid_len) < 0)
				return AC_MALFORMED;
			h->has_kid = 1;
		} else if (aj_str_eq(m[i].key, "typ", 3)) {
			if (m[i].type != AJ_STRING || aj_str_decode(m[i].raw,
			    h->typ, sizeof h->typ, &h->typ_len) < 0)
				return AC_MALFORMED;
			h->has_typ = 1;
		} else if (aj_str_eq(m[i].key, "jku", 3) ||
		    aj_str_eq(m[i].key, "x5u", 3) ||
		    aj_str_eq(m[i].key, "jwk", 3) ||
		    aj_str_eq(m[i].key, "x5c", 3)) {
			return AC_HEADER_NOT_ALLOWED;
		} else if (aj_str_eq(m[i].key, "crit", 4)) {
			/* no extension is understood, so any crit refuses */
			return AC_CRIT_UNSUPPORTED;
		}
	}
	if (h->alg == AC_ALG_NONE)
		return AC_ALG_NOT_ALLOWED;

	/* keys bound to this alg; by kid when the header names one */
	for (i = 0; i < n_keys; i++) {
		if (keys[i].alg != h->alg)
			continue;
		matched = 1;
		if (key_matches_kid(&keys[i], h->has_kid, h->kid, h->kid_len))
			tried++;
	}
	if (!matched)
		return AC_ALG_NOT_ALLOWED;
	if (tried == 0)
		return AC_UNKNOWN_KID;

	if (cu->cache != NULL && ac_alg_family(h->alg) != 'H') {
		ac_cache_tag(cu->sha256, cu->keyset, token, token_len, cu->tag);
		cu->looked = 1;
		if (ac_cache_lookup(cu->cache, cu->tag, &ki) && ki < n_keys &&
		    keys[ki].alg == h->alg && key_matches_kid(&keys[ki],
		    h->has_kid, h->kid, h->kid_len)) {
			cu->hit = 1;
			cu->key = ki;
		}
	}
	if (!cu->hit) {
		if (ac_b64url_decode(sig, sizeof sig, &slen, token + dot2 + 1,
		    token_len - dot2 - 1) < 0)
			return AC_MALFORMED;
		if (cu->looked)
			ac_cache_count_check(cu->cache);
		for (i = 0; i < n_keys; i++) {
			if (keys[i].alg == h->alg && key_matches_kid(&keys[i],
			    h->has_kid, h->kid, h->kid_len) &&
			    ac_jws_check(&keys[i], token, dot2, sig, slen) &&
			    !ok) {
				ok = 1;
				cu->key = (uint32_t)i;
			}
		}
		if (!ok)
			return AC_BAD_SIGNATURE;
	}

	/* payload, only now that the signature holds */
	if (ac_b64url_decode(payload, payload_cap, payload_len,
	    token + dot1 + 1, dot2 - dot1 - 1) < 0)
		return AC_MALFORMED;
	return AC_OK;
}

ac_reason ac_jws_verify(const ac_jwt_key *keys, size_t n_keys,
    const char *token, size_t token_len, ac_jws_header *h, uint8_t *payload,
    size_t payload_cap, size_t *payload_len)
{
	ac_cache_use cu;

	memset(&cu, 0, sizeof cu);
	return jws_verify(keys, n_keys, token, token_len, h, payload,
	    payload_cap, payload_len, &cu);
}

ac_reason ac_jwt_verify(const ac_jwt_key *keys, size_t n_keys,
    const ac_jwt_checks *checks, const char *token, size_t token_len,
    int64_t now, ac_jwt_result *res)
{
	ac_cache_use cu;

	memset(&cu, 0, sizeof cu);
	return ac_jwt_verify_using(keys, n_keys, checks, token, token_len, now,
	    &cu, res);
}

ac_reason ac_jwt_verify_using(const ac_jwt_key *keys, size_t n_keys,
    const ac_jwt_checks *checks, const char *token, size_t token_len,
    int64_t now, ac_cache_use *cu, ac_jwt_result *res)
{
	ac_jws_header h;
	ac_reason r;

	res->reason = AC_MALFORMED;
	res->alg = AC_ALG_NONE;
	res->payload_len = 0;
	res->has_exp = res->has_nbf = res->has_iat = 0;
	res->exp = res->nbf = res->iat = 0;
	res->user.ptr = NULL;
	res->user.len = 0;
	res->n_roles = 0;
	res->text_len = 0;

	r = jws_verify(keys, n_keys, token, token_len, &h, res->payload,
	    sizeof res->payload, &res->payload_len, cu);
	res->alg = h.alg;
	if (r != AC_OK)
		return fail(res, r);
	if (checks->typ.ptr != NULL && (!h.has_typ ||
	    !ac_ascii_ieq(h.typ, h.typ_len, checks->typ.ptr, checks->typ.len)))
		return fail(res, AC_BAD_TYP);
	r = check_claims(checks, now, res);
	/* only a token that passed every check is entered: its entry is
	 * dead (replaced first) once exp + leeway has passed */
	if (r == AC_OK && cu->looked && !cu->hit)
		ac_cache_insert(cu->cache, cu->tag, cu->key, !res->has_exp ?
		    INT64_MAX : checks->leeway <= 0 ? res->exp :
		    res->exp > INT64_MAX - checks->leeway ? INT64_MAX :
		    res->exp + checks->leeway, now);
	return r;
}

size_t ac_jwt_sign_hmac(char *out, size_t out_cap, ac_alg alg,
    const uint8_t *secret, size_t secret_len, const char *kid,
    size_t kid_len, const char *payload_json, size_t payload_len)
{
	ac_jwt_key key;
	aj_member m[AC_JSON_MEMBERS_MAX];
	char hdr[AC_JWT_HEADER_MAX];
	aj_writer w = { hdr, sizeof hdr, 0, 0 };
	uint8_t mac[64];
	size_t n, o, l, ml;

	if (ac_jwt_key_hmac(&key, alg, secret, secret_len, NULL, 0) < 0)
		return 0;
	if (aj_object(payload_json, payload_len, m, AC_JSON_MEMBERS_MAX, &n) < 0)
		return 0;
	aj_w_lit(&w, "{\"alg\":\"");
	aj_w_lit(&w, ac_alg_name(alg));
	aj_w_lit(&w, "\",\"typ\":\"JWT\"");
	if (kid != NULL) {
		aj_w_lit(&w, ",\"kid\":");
		aj_w_str(&w, kid, kid_len);
	}
	aj_w_lit(&w, "}");
	if (w.overflow)
		return 0;
	o = ac_b64url_encode(out, out_cap, hdr, w.len);
	if (o == 0 || o >= out_cap)
		return 0;
	out[o++] = '.';
	l = ac_b64url_encode(out + o, out_cap - o, payload_json, payload_len);
	if (l == 0 && payload_len > 0)
		return 0;
	o += l;
	ml = hmac_compute((const br_hmac_key_context *)(const void *)
	    key.state, alg, out, o, mac);
	if (o >= out_cap)
		return 0;
	out[o++] = '.';
	l = ac_b64url_encode(out + o, out_cap - o, mac, ml);
	memset(&key, 0, sizeof key);
	memset(mac, 0, sizeof mac);
	if (l == 0)
		return 0;
	return o + l;
}
