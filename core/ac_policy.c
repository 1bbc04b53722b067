/*
 * Policy loading: JSON -> compiled ac_policy, in caller memory.
 *
 * cJSON parses the document; its allocator hooks are pointed at a bump
 * arena carved from the top of the caller's buffer while the compiled policy
 * grows from the bottom. cJSON's hooks are process-global, so they are set
 * just for the parse and restored right after (the one place that touches
 * them). Nothing comes from the system heap.
 *
 * Every value is validated with its JSON path ("$.jwt.keys[0].secret") and
 * unknown members are refused, so a typo never silently weakens a policy.
 */
#include <cjson/cJSON.h>
#include <stdio.h>

#include "ac_internal.h"
#include "ac_policy_int.h"
#include "ac_request_int.h"

typedef struct {
	uint8_t *base;
	size_t lo;  /* next free byte for the compiled policy */
	size_t hi;  /* cJSON's arena grows down from here */
	size_t min_hi;
	ac_policy_error *err;
	char path[256];
	size_t path_len;
} loader;

/* The only mutable state outside caller memory: the arena cJSON's global
 * allocator hooks serve during one parse. Thread-local so concurrent loads
 * on different threads do not share it. */
static _Thread_local loader *active_loader;

static void *arena_alloc(size_t n)
{
	loader *L = active_loader;
	size_t a = (n + 15u) & ~(size_t)15u;

	if (L == NULL || a < n || L->hi < a || L->hi - a < L->lo)
		return NULL;
	L->hi -= a;
	if (L->hi < L->min_hi)
		L->min_hi = L->hi;
	return L->base + L->hi;
}

static void arena_free(void *p)
{
	(void)p; /* the whole arena is dropped after the parse */
}

static void *take(loader *L, size_t n)
{
	size_t start = (L->lo + 15u) & ~(size_t)15u;
	void *p;

	if (start < L->lo || start > L->hi || L->hi - start < n)
		return NULL;
	p = L->base + start;
	L->lo = start + n;
	return p;
}

size_t ac_policy_mem_bound(size_t json_len)
{
	/* cJSON: at most one node (<= 64 bytes, +16 alignment) and one
	 * string copy per input byte, in the worst case; plus the compiled
	 * policy, whose strings are copies of input strings. */
	return 15u + sizeof(ac_policy) + 160u * json_len + 65536u;
}

/* ---- error reporting with a JSON path */
static void path_push_key(loader *L, const char *k, size_t *save)
{
	int n;
	*save = L->path_len;
	n = snprintf(L->path + L->path_len, sizeof L->path - L->path_len,
	    ".%s", k);
	if (n > 0 && (size_t)n < sizeof L->path - L->path_len)
		L->path_len += (size_t)n;
}

static void path_push_index(loader *L, int idx, size_t *save)
{
	int n;
	*save = L->path_len;
	n = snprintf(L->path + L->path_len, sizeof L->path - L->path_len,
	    "[%d]", idx);
	if (n > 0 && (size_t)n < sizeof L->path - L->path_len)
		L->path_len += (size_t)n;
}

static void path_pop(loader *L, size_t save)
{
	L->path_len = save;
	L->path[save] = 0;
}

static int bad(loader *L, const char *msg)
{
	snprintf(L->err->path, sizeof L->err->path, "%s", L->path);
	snprintf(L->err->message, sizeof L->err->message, "%s", msg);
	return -1;
}

/* Refuses members not in `allowed` (NULL-terminated) and duplicates. */
static int check_members(loader *L, const cJSON *obj, const char *const *allowed)
{
	const cJSON *c, *d;
	char msg[200];

	if (!cJSON_IsObject(obj))
		return bad(L, "must be an object");
	for (c = obj->child; c != NULL; c = c->next) {
		const char *const *a;
		int ok = 0;
		for (a = allowed; *a != NULL; a++)
			if (strcmp(*a, c->string) == 0)
				ok = 1;
		for (d = obj->child; d != c; d = d->next) {
			if (strcmp(d->string, c->string) == 0) {
				snprintf(msg, sizeof msg,
				    "duplicate member \"%.100s\"", c->string);
				return bad(L, msg);
			}
		}
		if (!ok) {
			snprintf(msg, sizeof msg, "unknown member \"%.100s\"",
			    c->string);
			return bad(L, msg);
		}
	}
	return 0;
}

/* Copies a JSON string value into the compiled policy. */
static int get_str(loader *L, const cJSON *v, size_t min, size_t max,
    ac_str *out)
{
	size_t n;
	char *p;

	if (!cJSON_IsString(v))
		return bad(L, "must be a string");
	n = strlen(v->valuestring);
	if (n < min)
		return bad(L, min == 1 ? "must not be empty" : "is too short");
	if (n > max)
		return bad(L, "is too long");
	p = take(L, n + 1);
	if (p == NULL)
		return bad(L, "policy needs more memory than given");
	memcpy(p, v->valuestring, n + 1);
	out->ptr = p;
	out->len = n;
	return 0;
}

/* HTTP token characters (RFC 9110 tchar), for header names and methods. */
static int is_token(ac_str s)
{
	size_t i;
	if (s.len == 0)
		return 0;
	for (i = 0; i < s.len; i++) {
		unsigned char c = (unsigned char)s.ptr[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || strchr("!#$%&'*+-.^_`|~", c)))
			return 0;
	}
	return 1;
}

/* Names whose meaning hosts and proxies own: an identity header must not
 * overwrite or be confused with them. */
static int reserved_header(ac_str n)
{
	static const char *const names[] = { "host", "authorization",
		"proxy-authorization", "cookie", "content-length",
		"content-type", "transfer-encoding", "connection", "keep-alive",
		"te", "trailer", "upgrade", "expect", "forwarded",
		"x-forwarded-for", "x-forwarded-proto", "x-forwarded-host",
		"x-real-ip", "user-agent", "x-csrf-token", NULL };
	const char *const *p;
	for (p = names; *p != NULL; p++)
		if (ac_ascii_ieq(n.ptr, n.len, *p, strlen(*p)))
			return 1;
	return 0;
}

static int get_member_str(loader *L, const cJSON *obj, const char *name,
    size_t min, size_t max, ac_str *out)
{
	size_t save;
	int r;
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
	if (v == NULL)
		return 0;
	path_push_key(L, name, &save);
	r = get_str(L, v, min, max, out);
	if (r == 0)
		path_pop(L, save);
	return r;
}

static int is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
	    (c >= 'A' && c <= 'F');
}

/* Patterns match the decoded, canonical path (core/ac_request.c): a
 * pattern that spells something no canonical path holds would never
 * match, so it is refused here rather than silently ignored. */
static const char *pattern_problem(ac_str p)
{
	size_t i, seg = 1;

	for (i = 0; i < p.len; i++) {
		unsigned char c = (unsigned char)p.ptr[i];
		if (c == '%' && i + 2 < p.len && is_hex(p.ptr[i + 1]) &&
		    is_hex(p.ptr[i + 2]))
			return "patterns match the decoded path: write the character, not its %-escape";
		if (c < 0x20 || c == 0x7f || c == '#' || c == ';' || c == '\\' ||
		    c == '?')
			return "holds a character no request path is matched with (control, '#', ';', '\\', '?')";
	}
	for (i = 1; i <= p.len; i++) {
		if (i == p.len || p.ptr[i] == '/') {
			size_t len = i - seg;
			if (i < p.len && len == 0)
				return "holds \"//\", which no canonical path has";
			if ((len == 1 && p.ptr[seg] == '.') ||
			    (len == 2 && p.ptr[seg] == '.' && p.ptr[seg + 1] == '.'))
				return "holds a dot segment, which no canonical path has";
			seg = i + 1;
		}
	}
	return NULL;
}

static int load_path_pattern(loader *L, const cJSON *v, ac_str *out)
{
	const char *why;
	if (get_str(L, v, 1, 512, out) < 0)
		return -1;
	if (out->ptr[0] != '/' && !(out->len == 1 && out->ptr[0] == '*'))
		return bad(L, "must start with '/'");
	if ((why = pattern_problem(*out)) != NULL)
		return bad(L, why);
	return 0;
}

/* A JSON number that is a whole number in [lo, hi]. The range is checked
 * before any conversion: casting an out-of-range double is undefined. */
static int whole_in_range(const cJSON *v, double lo, double hi)
{
	double d;
	if (!cJSON_IsNumber(v))
		return 0;
	d = v->valuedouble;
	if (!(d >= lo && d <= hi)) /* also false for NaN */
		return 0;
	return d == (double)(int64_t)d;
}

/* A whole-number member in [lo, hi]; absent leaves *out as it is. */
static int get_member_int(loader *L, const cJSON *o, const char *name,
    double lo, double hi, int64_t *out, const char *msg)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
	size_t save;

	if (v == NULL)
		return 0;
	path_push_key(L, name, &save);
	if (!whole_in_range(v, lo, hi))
		return bad(L, msg);
	*out = (int64_t)v->valuedouble;
	path_pop(L, save);
	return 0;
}

static int get_member_bool(loader *L, const cJSON *o, const char *name,
    int *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
	size_t save;

	if (v == NULL)
		return 0;
	path_push_key(L, name, &save);
	if (!cJSON_IsBool(v))
		return bad(L, "must be true or false");
	*out = cJSON_IsTrue(v);
	path_pop(L, save);
	return 0;
}

/* A cJSON subtree back to text, in the arena (cJSON's hooks serve it). */
static const char *subtree_text(const cJSON *v)
{
	return cJSON_PrintUnformatted(v);
}

static int load_jwk_entry(loader *L, ac_policy *P, const cJSON *k)
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
		return bad(L, "\"jwk\" cannot be combined with \"secret\" or \"pem\"");
	if (cJSON_GetObjectItemCaseSensitive(k, "kid"))
		return bad(L, "give the kid inside the JWK");
	if (av != NULL) {
		path_push_key(L, "alg", &s2);
		if (!cJSON_IsString(av) || (alg = ac_alg_from_name(av->valuestring,
		    strlen(av->valuestring))) == AC_ALG_NONE)
			return bad(L, "unsupported algorithm");
		path_pop(L, s2);
	}
	path_push_key(L, "jwk", &s2);
	if (!cJSON_IsObject(jv))
		return bad(L, "must be a JWK object");
	text = subtree_text(jv);
	if (text == NULL)
		return bad(L, "policy needs more memory than given");
	if (ac_jwt_key_jwk(&P->keys[P->n_keys], alg, text, strlen(text),
	    &why) < 0) {
		snprintf(msg, sizeof msg, "JWK refused: %s", why);
		return bad(L, msg);
	}
	P->n_keys++;
	path_pop(L, s2);
	return 0;
}

static int load_jwks(loader *L, ac_policy *P, const cJSON *jwks,
    const ac_alg *allowed, size_t n_allowed)
{
	const char *text, *why = "invalid";
	char msg[160];
	int bad_index, n;

	if (!cJSON_IsObject(jwks))
		return bad(L, "must be a JWKS object ({\"keys\": [...]})");
	text = subtree_text(jwks);
	if (text == NULL)
		return bad(L, "policy needs more memory than given");
	n = ac_jwks_load(P->keys + P->n_keys, AC_KEYS_MAX - P->n_keys, text,
	    strlen(text), allowed, n_allowed, &bad_index, &why);
	if (n < 0) {
		size_t s2;
		if (bad_index >= 0) {
			path_push_key(L, "keys", &s2);
			path_push_index(L, bad_index, &s2);
		}
		snprintf(msg, sizeof msg, "%s", why);
		return bad(L, msg);
	}
	P->n_keys += (size_t)n;
	return 0;
}

static int load_sources(loader *L, ac_policy *P, const cJSON *arr)
{
	static const char *const allowed[] = { "header", "prefix", "cookie",
		"query", "csrf", NULL };
	const cJSON *e;
	int idx = 0;

	if (!cJSON_IsArray(arr) || cJSON_GetArraySize(arr) == 0)
		return bad(L, "must be a non-empty array of token sources");
	if (cJSON_GetArraySize(arr) > AC_SOURCES_MAX)
		return bad(L, "more than 8 sources");
	for (e = arr->child; e != NULL; e = e->next, idx++) {
		ac_source *S = &P->sources[P->n_sources];
		const cJSON *h, *c, *q;
		size_t save;

		memset(S, 0, sizeof *S);
		path_push_index(L, idx, &save);
		if (check_members(L, e, allowed) < 0)
			return -1;
		h = cJSON_GetObjectItemCaseSensitive(e, "header");
		c = cJSON_GetObjectItemCaseSensitive(e, "cookie");
		q = cJSON_GetObjectItemCaseSensitive(e, "query");
		if ((h != NULL) + (c != NULL) + (q != NULL) != 1)
			return bad(L, "needs exactly one of \"header\", \"cookie\" or \"query\"");
		S->kind = h ? 'H' : c ? 'C' : 'Q';
		if (get_member_str(L, e, h ? "header" : c ? "cookie" : "query",
		    1, AC_NAME_MAX, &S->name) < 0)
			return -1;
		if (!is_token(S->name))
			return bad(L, "name must be an HTTP token");
		if (get_member_str(L, e, "prefix", 1, 32, &S->prefix) < 0)
			return -1;
		if (S->prefix.ptr != NULL && S->kind != 'H')
			return bad(L, "\"prefix\" applies to headers only");
		/* a token in a cookie rides along on other sites' posts */
		S->csrf = S->kind == 'C';
		if (get_member_bool(L, e, "csrf", &S->csrf) < 0)
			return -1;
		if (cJSON_GetObjectItemCaseSensitive(e, "csrf") && S->kind != 'C')
			return bad(L, "\"csrf\" applies to cookies only");
		P->n_sources++;
		path_pop(L, save);
	}
	return 0;
}

static int load_claim_headers(loader *L, ac_policy *P, const cJSON *arr)
{
	static const char *const allowed[] = { "claim", "header", NULL };
	const cJSON *e;
	int idx = 0;

	if (!cJSON_IsArray(arr))
		return bad(L, "must be an array of {\"claim\", \"header\"}");
	if (cJSON_GetArraySize(arr) > AC_CLAIM_HEADERS_MAX)
		return bad(L, "more than 8 claim headers");
	for (e = arr->child; e != NULL; e = e->next, idx++) {
		ac_claim_header *C = &P->claim_headers[P->n_claim_headers];
		size_t save, j;

		path_push_index(L, idx, &save);
		if (check_members(L, e, allowed) < 0)
			return -1;
		if (!cJSON_GetObjectItemCaseSensitive(e, "claim") ||
		    !cJSON_GetObjectItemCaseSensitive(e, "header"))
			return bad(L, "needs \"claim\" and \"header\"");
		if (get_member_str(L, e, "claim", 1, AC_NAME_MAX, &C->claim) < 0 ||
		    get_member_str(L, e, "header", 1, AC_NAME_MAX, &C->header) < 0)
			return -1;
		if (!is_token(C->header) || reserved_header(C->header))
			return bad(L, "header must be an HTTP token and not one hosts own (host, authorization, cookie, ...)");
		for (j = 0; j < P->n_claim_headers; j++)
			if (ac_ascii_ieq(P->claim_headers[j].header.ptr,
			    P->claim_headers[j].header.len, C->header.ptr,
			    C->header.len))
				return bad(L, "header named twice");
		P->n_claim_headers++;
		path_pop(L, save);
	}
	return 0;
}

static int load_keys(loader *L, ac_policy *P, const cJSON *arr)
{
	static const char *const allowed[] = { "kid", "alg", "secret",
		"secret_base64url", "pem", "jwk", NULL };
	const cJSON *k;
	int idx = 0;

	if (!cJSON_IsArray(arr))
		return bad(L, "must be an array of keys");
	if (cJSON_GetArraySize(arr) > AC_KEYS_MAX)
		return bad(L, "more than 16 keys");
	for (k = arr->child; k != NULL; k = k->next, idx++) {
		size_t save, s2;
		ac_str kid = { NULL, 0 }, alg_s;
		uint8_t raw[4096];
		const uint8_t *sec;
		size_t sec_len;
		ac_alg alg;
		const cJSON *sv, *bv, *pv;
		size_t j;

		path_push_index(L, idx, &save);
		if (check_members(L, k, allowed) < 0)
			return -1;
		if (get_member_str(L, k, "kid", 1, AC_NAME_MAX, &kid) < 0)
			return -1;
		for (j = 0; kid.ptr != NULL && j < P->n_keys; j++) {
			if (P->keys[j].has_kid && P->keys[j].kid_len == kid.len &&
			    memcmp(P->keys[j].kid, kid.ptr, kid.len) == 0) {
				path_push_key(L, "kid", &s2);
				return bad(L, "duplicate kid");
			}
		}
		if (P->n_keys >= AC_KEYS_MAX)
			return bad(L, "more than 16 keys in all");
		if (cJSON_GetObjectItemCaseSensitive(k, "jwk") != NULL) {
			if (load_jwk_entry(L, P, k) < 0)
				return -1;
			path_pop(L, save);
			continue;
		}
		if (cJSON_GetObjectItemCaseSensitive(k, "alg") == NULL)
			return bad(L, "missing \"alg\" (each key is bound to one algorithm)");
		if (get_member_str(L, k, "alg", 1, 16, &alg_s) < 0)
			return -1;
		alg = ac_alg_from_name(alg_s.ptr, alg_s.len);
		if (alg == AC_ALG_NONE) {
			path_push_key(L, "alg", &s2);
			return bad(L, "unsupported algorithm (HS256/384/512, RS256/384/512, PS256/384/512, ES256/384/512)");
		}
		sv = cJSON_GetObjectItemCaseSensitive(k, "secret");
		bv = cJSON_GetObjectItemCaseSensitive(k, "secret_base64url");
		pv = cJSON_GetObjectItemCaseSensitive(k, "pem");
		if ((sv != NULL) + (bv != NULL) + (pv != NULL) != 1)
			return bad(L, "needs exactly one of \"secret\", \"secret_base64url\", \"pem\" or \"jwk\"");
		if (pv != NULL) {
			path_push_key(L, "pem", &s2);
			if (!cJSON_IsString(pv))
				return bad(L, "must be a string");
			if (ac_alg_family(alg) == 'H')
				return bad(L, "an HMAC algorithm takes a secret, not a public key");
			if (ac_jwt_key_pem(&P->keys[P->n_keys], alg, pv->valuestring,
			    strlen(pv->valuestring), kid.ptr, kid.len) < 0)
				return bad(L, "not a PEM public key (SPKI or PKCS#1) that fits \"alg\" (RSA 2048-4096 bits; EC P-256/384/521 by alg)");
			P->n_keys++;
			path_pop(L, save);
			continue;
		}
		if (ac_alg_family(alg) != 'H') {
			path_push_key(L, sv != NULL ? "secret" : "secret_base64url", &s2);
			return bad(L, "a public-key algorithm takes \"pem\" or \"jwk\", not a secret");
		}
		if (sv != NULL) {
			path_push_key(L, "secret", &s2);
			if (!cJSON_IsString(sv))
				return bad(L, "must be a string");
			sec = (const uint8_t *)sv->valuestring;
			sec_len = strlen(sv->valuestring);
		} else {
			path_push_key(L, "secret_base64url", &s2);
			if (!cJSON_IsString(bv) ||
			    ac_b64url_decode(raw, sizeof raw, &sec_len,
			    bv->valuestring, strlen(bv->valuestring)) < 0)
				return bad(L, "must be strict base64url of at most 4096 bytes");
			sec = raw;
		}
		if (sec_len < ac_alg_hash_len(alg))
			return bad(L, alg == AC_ALG_HS256 ?
			    "secret must be at least 32 bytes for HS256" :
			    alg == AC_ALG_HS384 ?
			    "secret must be at least 48 bytes for HS384" :
			    "secret must be at least 64 bytes for HS512");
		if (ac_jwt_key_hmac(&P->keys[P->n_keys], alg, sec, sec_len,
		    kid.ptr, kid.len) < 0)
			return bad(L, "secret must be at most 4096 bytes");
		memset(raw, 0, sizeof raw);
		P->n_keys++;
		path_pop(L, save);
	}
	return 0;
}

static int load_jwt(loader *L, ac_policy *P, const cJSON *jwt)
{
	static const char *const allowed[] = { "keys", "jwks", "algorithms",
		"issuer", "audience", "leeway", "require_exp", "user_claim",
		"roles_claim", "typ", "max_age", "sources", "claims_to_headers",
		NULL };
	const cJSON *v;
	size_t save;
	ac_alg algs[AC_ALG_COUNT];
	size_t n_algs = 0;

	if (check_members(L, jwt, allowed) < 0)
		return -1;
	if (!cJSON_GetObjectItemCaseSensitive(jwt, "keys") &&
	    !cJSON_GetObjectItemCaseSensitive(jwt, "jwks"))
		return bad(L, "missing \"keys\" or \"jwks\"");
	v = cJSON_GetObjectItemCaseSensitive(jwt, "keys");
	if (v != NULL) {
		path_push_key(L, "keys", &save);
		if (load_keys(L, P, v) < 0)
			return -1;
		path_pop(L, save);
	}
	v = cJSON_GetObjectItemCaseSensitive(jwt, "algorithms");
	if (v != NULL) {
		const cJSON *a;
		int idx = 0;
		size_t s2;
		path_push_key(L, "algorithms", &save);
		if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) == 0 ||
		    cJSON_GetArraySize(v) >= AC_ALG_COUNT)
			return bad(L, "must be a non-empty array of algorithm names");
		for (a = v->child; a != NULL; a = a->next, idx++) {
			path_push_index(L, idx, &s2);
			if (!cJSON_IsString(a) || (algs[n_algs] = ac_alg_from_name(
			    a->valuestring, strlen(a->valuestring))) == AC_ALG_NONE)
				return bad(L, "unsupported algorithm");
			n_algs++;
			path_pop(L, s2);
		}
		path_pop(L, save);
	}
	v = cJSON_GetObjectItemCaseSensitive(jwt, "jwks");
	if (v != NULL) {
		path_push_key(L, "jwks", &save);
		if (load_jwks(L, P, v, algs, n_algs) < 0)
			return -1;
		path_pop(L, save);
	}
	if (P->n_keys == 0)
		return bad(L, "holds no key (give \"keys\" or \"jwks\")");
	if (n_algs > 0) {
		/* "algorithms" also limits keys given one by one */
		size_t i, j;
		for (i = 0; i < P->n_keys; i++) {
			int ok = 0;
			for (j = 0; j < n_algs; j++)
				ok |= P->keys[i].alg == algs[j];
			if (!ok)
				return bad(L, "a key's algorithm is not in \"algorithms\"");
		}
	}
	v = cJSON_GetObjectItemCaseSensitive(jwt, "sources");
	if (v != NULL) {
		path_push_key(L, "sources", &save);
		if (load_sources(L, P, v) < 0)
			return -1;
		path_pop(L, save);
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
		path_push_key(L, "claims_to_headers", &save);
		if (load_claim_headers(L, P, v) < 0)
			return -1;
		path_pop(L, save);
	}
	if (get_member_str(L, jwt, "typ", 1, 63, &P->checks.typ) < 0)
		return -1;
	v = cJSON_GetObjectItemCaseSensitive(jwt, "max_age");
	if (v != NULL) {
		path_push_key(L, "max_age", &save);
		if (!whole_in_range(v, 1, 31536000))
			return bad(L, "must be an integer number of seconds from 1 to 31536000");
		P->checks.max_age = (int64_t)v->valuedouble;
		path_pop(L, save);
	}
	if (get_member_str(L, jwt, "issuer", 1, 1024, &P->checks.issuer) < 0)
		return -1;
	v = cJSON_GetObjectItemCaseSensitive(jwt, "audience");
	if (v != NULL) {
		path_push_key(L, "audience", &save);
		if (cJSON_IsString(v)) {
			if (get_str(L, v, 1, 1024, &P->checks.audiences[0]) < 0)
				return -1;
			P->checks.n_audiences = 1;
		} else if (cJSON_IsArray(v)) {
			const cJSON *a;
			int idx = 0;
			size_t s2;
			if (cJSON_GetArraySize(v) == 0)
				return bad(L, "must not be empty");
			if (cJSON_GetArraySize(v) > AC_AUD_MAX)
				return bad(L, "more than 8 audiences");
			for (a = v->child; a != NULL; a = a->next, idx++) {
				path_push_index(L, idx, &s2);
				if (get_str(L, a, 1, 1024,
				    &P->checks.audiences[P->checks.n_audiences]) < 0)
					return -1;
				P->checks.n_audiences++;
				path_pop(L, s2);
			}
		} else {
			return bad(L, "must be a string or an array of strings");
		}
		path_pop(L, save);
	}
	v = cJSON_GetObjectItemCaseSensitive(jwt, "leeway");
	if (v != NULL) {
		path_push_key(L, "leeway", &save);
		if (!whole_in_range(v, 0, 86400))
			return bad(L, "must be an integer number of seconds from 0 to 86400");
		P->checks.leeway = (int64_t)v->valuedouble;
		path_pop(L, save);
	}
	v = cJSON_GetObjectItemCaseSensitive(jwt, "require_exp");
	if (v != NULL) {
		path_push_key(L, "require_exp", &save);
		if (!cJSON_IsBool(v))
			return bad(L, "must be true or false");
		P->checks.require_exp = cJSON_IsTrue(v);
		path_pop(L, save);
	}
	if (get_member_str(L, jwt, "user_claim", 1, AC_NAME_MAX,
	    &P->checks.user_claim) < 0)
		return -1;
	if (get_member_str(L, jwt, "roles_claim", 1, AC_NAME_MAX,
	    &P->checks.roles_claim) < 0)
		return -1;
	return 0;
}

static int load_rules(loader *L, ac_policy *P, const cJSON *arr)
{
	static const char *const allowed[] = { "methods", "path", "role",
		"permission", NULL };
	const cJSON *r;
	int idx = 0, n;

	if (!cJSON_IsArray(arr))
		return bad(L, "must be an array of rules");
	n = cJSON_GetArraySize(arr);
	if (n > AC_RULES_MAX)
		return bad(L, "more than 256 rules");
	P->rules = take(L, sizeof(ac_rule) * (size_t)(n ? n : 1));
	if (P->rules == NULL)
		return bad(L, "policy needs more memory than given");
	for (r = arr->child; r != NULL; r = r->next, idx++) {
		ac_rule *R = &P->rules[P->n_rules];
		const cJSON *v;
		size_t save, s2;

		memset(R, 0, sizeof *R);
		path_push_index(L, idx, &save);
		if (check_members(L, r, allowed) < 0)
			return -1;
		v = cJSON_GetObjectItemCaseSensitive(r, "path");
		if (v == NULL)
			return bad(L, "missing \"path\"");
		path_push_key(L, "path", &s2);
		if (load_path_pattern(L, v, &R->path) < 0)
			return -1;
		path_pop(L, s2);
		v = cJSON_GetObjectItemCaseSensitive(r, "methods");
		if (v != NULL) {
			const cJSON *m;
			int mi = 0;
			size_t s3;
			path_push_key(L, "methods", &s2);
			if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) == 0)
				return bad(L, "must be a non-empty array of method names");
			if (cJSON_GetArraySize(v) > AC_METHODS_MAX)
				return bad(L, "more than 16 methods");
			for (m = v->child; m != NULL; m = m->next, mi++) {
				path_push_index(L, mi, &s3);
				if (get_str(L, m, 1, 32, &R->methods[R->n_methods]) < 0)
					return -1;
				if (!is_token(R->methods[R->n_methods]))
					return bad(L, "is not an HTTP method token");
				R->n_methods++;
				path_pop(L, s3);
			}
			path_pop(L, s2);
		}
		if (get_member_str(L, r, "role", 1, AC_NAME_MAX, &R->role) < 0 ||
		    get_member_str(L, r, "permission", 1, AC_NAME_MAX,
		    &R->permission) < 0)
			return -1;
		P->n_rules++;
		path_pop(L, save);
	}
	return 0;
}

/* A list of strings into slices (patterns checked by `pattern`). */
static int load_str_list(loader *L, const cJSON *arr, ac_str *out,
    size_t cap, size_t max_len, size_t *n)
{
	const cJSON *e;
	int idx = 0;
	size_t s2;

	if (!cJSON_IsArray(arr))
		return bad(L, "must be an array of strings");
	if ((size_t)cJSON_GetArraySize(arr) > cap)
		return bad(L, "too many entries");
	for (e = arr->child; e != NULL; e = e->next, idx++) {
		path_push_index(L, idx, &s2);
		if (get_str(L, e, 1, max_len, &out[*n]) < 0)
			return -1;
		(*n)++;
		path_pop(L, s2);
	}
	return 0;
}

static int load_sessions(loader *L, ac_policy *P, const cJSON *o)
{
	static const char *const allowed[] = { "keys", "cookie", "csrf",
		"csrf_header", "csrf_cookie", "ttl", NULL };
	static const char *const key_allowed[] = { "kid", "secret",
		"secret_base64url", NULL };
	const cJSON *v, *k;
	size_t save, s2;
	int idx = 0;

	if (check_members(L, o, allowed) < 0)
		return -1;
	v = cJSON_GetObjectItemCaseSensitive(o, "keys");
	path_push_key(L, "keys", &save);
	if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) == 0)
		return bad(L, "must be a non-empty array of {\"kid\", \"secret\"} (the first signs, all verify)");
	if (cJSON_GetArraySize(v) > AC_KEYS_MAX)
		return bad(L, "more than 16 keys");
	for (k = v->child; k != NULL; k = k->next, idx++) {
		ac_str kid = { NULL, 0 };
		const cJSON *sv, *bv;
		uint8_t raw[4096];
		const uint8_t *sec;
		size_t sl;
		int r;
		path_push_index(L, idx, &s2);
		if (check_members(L, k, key_allowed) < 0 ||
		    get_member_str(L, k, "kid", 1, 32, &kid) < 0)
			return -1;
		if (kid.ptr == NULL)
			return bad(L, "missing \"kid\" (it travels in the token for rotation)");
		sv = cJSON_GetObjectItemCaseSensitive(k, "secret");
		bv = cJSON_GetObjectItemCaseSensitive(k, "secret_base64url");
		if ((sv != NULL) == (bv != NULL))
			return bad(L, "needs exactly one of \"secret\" or \"secret_base64url\"");
		if (sv != NULL) {
			if (!cJSON_IsString(sv))
				return bad(L, "\"secret\" must be a string");
			sec = (const uint8_t *)sv->valuestring;
			sl = strlen(sv->valuestring);
		} else {
			if (!cJSON_IsString(bv) || ac_b64url_decode(raw, sizeof raw,
			    &sl, bv->valuestring, strlen(bv->valuestring)) < 0)
				return bad(L, "\"secret_base64url\" must be strict base64url of at most 4096 bytes");
			sec = raw;
		}
		r = ac_session_key_init(&P->session_keys[P->n_session_keys], sec,
		    sl, kid.ptr, kid.len);
		memset(raw, 0, sizeof raw);
		if (r < 0)
			return bad(L, "secret must be 32 to 4096 bytes and kid 1 to 32 of [A-Za-z0-9_-]");
		P->n_session_keys++;
		path_pop(L, s2);
	}
	path_pop(L, save);
	P->session_cookie.ptr = "authcore_session";
	P->session_cookie.len = 16;
	P->csrf_header.ptr = "x-csrf-token";
	P->csrf_header.len = 12;
	P->csrf_cookie.ptr = "authcore_csrf";
	P->csrf_cookie.len = 13;
	P->csrf = 1;
	P->session_ttl = AC_SESSION_TTL_DEFAULT;
	if (get_member_int(L, o, "ttl", 60, AC_SESSION_TTL_MAX, &P->session_ttl,
	    "must be a whole number of seconds from 60 to 34560000 (400 days)") < 0)
		return -1;
	if (get_member_str(L, o, "cookie", 1, AC_NAME_MAX, &P->session_cookie) < 0 ||
	    get_member_str(L, o, "csrf_header", 1, AC_NAME_MAX, &P->csrf_header) < 0 ||
	    get_member_str(L, o, "csrf_cookie", 1, AC_NAME_MAX, &P->csrf_cookie) < 0)
		return -1;
	if (!is_token(P->session_cookie) || !is_token(P->csrf_header) ||
	    !is_token(P->csrf_cookie))
		return bad(L, "cookie and header names must be HTTP tokens");
	v = cJSON_GetObjectItemCaseSensitive(o, "csrf");
	if (v != NULL) {
		path_push_key(L, "csrf", &save);
		if (cJSON_IsString(v) && strcmp(v->valuestring, "origin") == 0)
			P->csrf = 2;
		else if (cJSON_IsBool(v))
			P->csrf = cJSON_IsTrue(v);
		else
			return bad(L, "must be true (the CSRF token), \"origin\" (same-origin requests only) or false");
		path_pop(L, save);
	}
	return 0;
}

static int load_api_keys(loader *L, ac_policy *P, const cJSON *o)
{
	static const char *const allowed[] = { "header", "keys", NULL };
	static const char *const key_allowed[] = { "name", "sha256", "role",
		"permissions", "resources", NULL };
	const cJSON *v, *k;
	size_t save, s2, s3;
	int idx = 0, n;

	if (check_members(L, o, allowed) < 0)
		return -1;
	P->api_key_header.ptr = "x-api-key";
	P->api_key_header.len = 9;
	if (get_member_str(L, o, "header", 1, AC_NAME_MAX, &P->api_key_header) < 0)
		return -1;
	if (!is_token(P->api_key_header) || reserved_header(P->api_key_header)) {
		path_push_key(L, "header", &save);
		return bad(L, "must be an HTTP token and not a header hosts own");
	}
	v = cJSON_GetObjectItemCaseSensitive(o, "keys");
	path_push_key(L, "keys", &save);
	if (!cJSON_IsArray(v))
		return bad(L, "must be an array of keys");
	n = cJSON_GetArraySize(v);
	if (n > AC_APIKEYS_MAX)
		return bad(L, "more than 256 API keys");
	P->api_keys = take(L, sizeof(ac_apikey_entry) * (size_t)(n ? n : 1));
	if (P->api_keys == NULL)
		return bad(L, "policy needs more memory than given");
	for (k = v->child; k != NULL; k = k->next, idx++) {
		ac_apikey_entry *E = &P->api_keys[P->n_api_keys];
		const cJSON *h;
		size_t j;
		memset(E, 0, sizeof *E);
		path_push_index(L, idx, &s2);
		if (check_members(L, k, key_allowed) < 0 ||
		    get_member_str(L, k, "name", 1, AC_NAME_MAX, &E->name) < 0 ||
		    get_member_str(L, k, "role", 1, AC_NAME_MAX, &E->role) < 0)
			return -1;
		if (E->name.ptr == NULL)
			return bad(L, "missing \"name\" (it becomes the user)");
		for (j = 0; j < E->name.len; j++)
			if ((unsigned char)E->name.ptr[j] < 0x20 || E->name.ptr[j] == 0x7f)
				return bad(L, "\"name\" must not hold control characters");
		if (E->role.ptr != NULL && memchr(E->role.ptr, ',', E->role.len))
			return bad(L, "\"role\" must not hold a comma");
		h = cJSON_GetObjectItemCaseSensitive(k, "sha256");
		path_push_key(L, "sha256", &s3);
		if (!cJSON_IsString(h) || ac_apikey_hash_parse(E->hash,
		    h->valuestring, strlen(h->valuestring)) < 0)
			return bad(L, "must be the SHA-256 of the key as 64 lowercase hex digits (authcore apikey new prints it)");
		path_pop(L, s3);
		for (j = 0; j < P->n_api_keys; j++)
			if (memcmp(P->api_keys[j].hash, E->hash, 32) == 0)
				return bad(L, "the same key hash twice");
		if ((h = cJSON_GetObjectItemCaseSensitive(k, "permissions")) != NULL) {
			path_push_key(L, "permissions", &s3);
			if (load_str_list(L, h, E->permissions,
			    AC_APIKEY_PERMISSIONS_MAX, AC_NAME_MAX,
			    &E->n_permissions) < 0)
				return -1;
			path_pop(L, s3);
		}
		if ((h = cJSON_GetObjectItemCaseSensitive(k, "resources")) != NULL) {
			path_push_key(L, "resources", &s3);
			if (load_str_list(L, h, E->resources,
			    AC_APIKEY_RESOURCES_MAX, AC_RESOURCE_PATTERN_MAX,
			    &E->n_resources) < 0)
				return -1;
			for (n = 0; n < (int)E->n_resources; n++) {
				size_t s4;
				const char *why = pattern_problem(E->resources[n]);
				path_push_index(L, n, &s4);
				if (why != NULL)
					return bad(L, why);
				path_pop(L, s4);
			}
			path_pop(L, s3);
		}
		P->n_api_keys++;
		path_pop(L, s2);
	}
	path_pop(L, save);
	return 0;
}

/* One rate limit (ac_internal.h). */
int ac_limit_parse(const char *s, uint32_t *count, int64_t *window)
{
	static const struct { const char *name; int64_t secs; } units[] = {
		{ "second", 1 }, { "minute", 60 }, { "hour", 3600 },
		{ "day", 86400 }, { "month", 2592000 }, { "year", 31104000 },
	};
	uint64_t c = 0, n = 1;
	size_t i, u, ul;
	int digits = 0;

	for (i = 0; s[i] == ' '; i++)
		;
	for (; s[i] >= '0' && s[i] <= '9' && c <= 100000000u; i++, digits++)
		c = c * 10 + (uint64_t)(s[i] - '0');
	if (digits == 0 || c == 0 || c > 100000000u)
		return -1;
	while (s[i] == ' ')
		i++;
	if (s[i] == '/')
		i++;
	else if ((s[i] | 0x20) == 'p' && (s[i + 1] | 0x20) == 'e' &&
	    (s[i + 2] | 0x20) == 'r' && s[i + 3] == ' ')
		i += 3;
	else
		return -1;
	while (s[i] == ' ')
		i++;
	if (s[i] >= '0' && s[i] <= '9') {
		n = 0;
		for (digits = 0; s[i] >= '0' && s[i] <= '9' && n <= 1000000u;
		    i++, digits++)
			n = n * 10 + (uint64_t)(s[i] - '0');
		if (n == 0 || n > 1000000u)
			return -1;
		while (s[i] == ' ')
			i++;
	}
	for (ul = 0; (s[i + ul] | 0x20) >= 'a' && (s[i + ul] | 0x20) <= 'z'; ul++)
		;
	for (u = 0; u < sizeof units / sizeof units[0]; u++) {
		size_t k = strlen(units[u].name);
		if ((ul == k || (ul == k + 1 && (s[i + k] | 0x20) == 's')) &&
		    ac_ascii_ieq(s + i, k, units[u].name, k))
			break;
	}
	if (u == sizeof units / sizeof units[0])
		return -1;
	i += ul;
	while (s[i] == ' ')
		i++;
	if (s[i] != 0)
		return -1;
	*count = (uint32_t)c;
	*window = (int64_t)n * units[u].secs;
	return 0;
}

/* A stored password hash the verifier will take, within the limits. */
static int check_hash(loader *L, const ac_policy *P, ac_str h)
{
	ac_password_verify_ctx v;
	ac_password_status st = ac_password_verify_begin(&v, h.ptr, h.len,
	    NULL, 0, &P->pw_limits);
	char msg[200];

	ac_password_verify_wipe(&v);
	if (st == AC_PW_PENDING)
		return 0;
	snprintf(msg, sizeof msg, "%s: %s", ac_password_status_name(st),
	    st == AC_PW_UNSUPPORTED ? "want a PBKDF2 hash in PHC, Django, Werkzeug or passlib form (authcore hash-password makes one)" :
	    st == AC_PW_ITERATIONS_OVER_LIMIT ? "more iterations than passwords.max_iterations" :
	    "not a valid PBKDF2 hash string (authcore hash-password makes one)");
	return bad(L, msg);
}

/* A user name or role as sessions carry them (ac_session_issue's rules). */
static int session_text_ok(ac_str s, int role)
{
	size_t i;
	if (s.len == 0 || s.ptr[0] == ' ' || s.ptr[s.len - 1] == ' ')
		return 0;
	for (i = 0; i < s.len; i++) {
		unsigned char c = (unsigned char)s.ptr[i];
		if (c < 0x20 || c == 0x7f || (role && c == ','))
			return 0;
	}
	return 1;
}

static int load_users(loader *L, ac_policy *P, const cJSON *arr)
{
	static const char *const allowed[] = { "name", "password_hash",
		"roles", NULL };
	const cJSON *u;
	size_t s2, s3, i, j;
	int idx = 0;

	if (!cJSON_IsArray(arr))
		return bad(L, "must be an array of {\"name\", \"password_hash\", \"roles\"}");
	if (cJSON_GetArraySize(arr) >= AC_USERS_MAX)
		return bad(L, "more than 255 users");
	for (u = arr->child; u != NULL; u = u->next, idx++) {
		ac_user *U = &P->users[P->n_users];
		const cJSON *r;
		memset(U, 0, sizeof *U);
		path_push_index(L, idx, &s2);
		if (check_members(L, u, allowed) < 0 ||
		    get_member_str(L, u, "name", 1, AC_SESSION_USER_MAX, &U->name) < 0 ||
		    get_member_str(L, u, "password_hash", 1, AC_PASSWORD_STRING_MAX, &U->hash) < 0)
			return -1;
		if (U->name.ptr == NULL)
			return bad(L, "missing \"name\"");
		if (U->hash.ptr == NULL)
			return bad(L, "missing \"password_hash\" (authcore hash-password makes one)");
		path_push_key(L, "name", &s3);
		if (!session_text_ok(U->name, 0))
			return bad(L, "must not hold control characters or start or end with a space");
		for (j = 0; j < P->n_users; j++)
			if (ac_str_eq(P->users[j].name, U->name.ptr, U->name.len))
				return bad(L, "the same user twice");
		path_pop(L, s3);
		path_push_key(L, "password_hash", &s3);
		if (check_hash(L, P, U->hash) < 0)
			return -1;
		path_pop(L, s3);
		if ((r = cJSON_GetObjectItemCaseSensitive(u, "roles")) != NULL) {
			path_push_key(L, "roles", &s3);
			if (load_str_list(L, r, U->roles, AC_SESSION_ROLES_MAX,
			    AC_SESSION_ROLE_MAX, &U->n_roles) < 0)
				return -1;
			for (i = 0; i < U->n_roles; i++)
				if (!session_text_ok(U->roles[i], 1))
					return bad(L, "a role must not hold a comma or control characters, or start or end with a space");
			path_pop(L, s3);
		}
		P->n_users++;
		path_pop(L, s2);
	}
	return 0;
}

static int load_login(loader *L, ac_policy *P, const cJSON *o)
{
	static const char *const allowed[] = { "prefix", "title", "attempts",
		"basic", "basic_cache_ttl", "client_attempts", "max_pending",
		NULL };
	int64_t max_pending = 8;
	const cJSON *v;
	size_t save, i;

	if (check_members(L, o, allowed) < 0)
		return -1;
	if (P->n_session_keys == 0)
		return bad(L, "needs \"sessions\" (a login issues a session cookie)");
	P->login = 1;
	P->title = P->realm;
	P->attempts = 5;
	P->attempts_window = 60;
	P->basic_cache_ttl = 60;
	P->client_attempts = 20;
	P->client_window = 60;
	P->prefix.ptr = "";
	if (get_member_str(L, o, "prefix", 1, AC_PREFIX_MAX, &P->prefix) < 0 ||
	    get_member_str(L, o, "title", 1, 128, &P->title) < 0 ||
	    get_member_bool(L, o, "basic", &P->basic) < 0 ||
	    get_member_int(L, o, "basic_cache_ttl", 0, 3600,
	    &P->basic_cache_ttl, "must be a whole number of seconds, 0 to 3600") < 0 ||
	    get_member_int(L, o, "max_pending", 1, AC_PENDING_SLOTS,
	    &max_pending, "must be a whole number of checks, 1 to 64") < 0)
		return -1;
	P->max_pending = (uint32_t)max_pending;
	path_push_key(L, "prefix", &save);
	if (P->prefix.len == 1 && P->prefix.ptr[0] == '/')
		P->prefix.len = 0;
	if (P->prefix.len > 0 && (P->prefix.ptr[0] != '/' ||
	    P->prefix.ptr[P->prefix.len - 1] == '/'))
		return bad(L, "must be \"/\" or start with '/' and not end with one (\"/dashboard\")");
	for (i = 0; i < P->prefix.len; i++) {
		char c = P->prefix.ptr[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '/' || c == '-' || c == '_' ||
		    c == '.' || c == '~') ||
		    (c == '/' && i > 0 && P->prefix.ptr[i - 1] == '/'))
			return bad(L, "only letters, digits, '-', '_', '.', '~' and single '/' between segments");
	}
	path_pop(L, save);
	v = cJSON_GetObjectItemCaseSensitive(o, "attempts");
	if (v != NULL) {
		path_push_key(L, "attempts", &save);
		if (!cJSON_IsString(v) || ac_limit_parse(v->valuestring,
		    &P->attempts, &P->attempts_window) < 0)
			return bad(L, "must be one limit such as \"5/minute\" or \"10 per 15 minutes\"");
		path_pop(L, save);
	}
	v = cJSON_GetObjectItemCaseSensitive(o, "client_attempts");
	if (v != NULL) {
		path_push_key(L, "client_attempts", &save);
		if (!cJSON_IsString(v) || ac_limit_parse(v->valuestring,
		    &P->client_attempts, &P->client_window) < 0)
			return bad(L, "must be one limit such as \"20/minute\" or \"100 per hour\"");
		path_pop(L, save);
	}
	return 0;
}

static int load_passwords(loader *L, ac_policy *P, const cJSON *o)
{
	static const char *const allowed[] = { "max_iterations", "max_length",
		NULL };
	int64_t it = AC_PASSWORD_ITERATIONS_MAX_DEFAULT;
	int64_t len = AC_PASSWORD_LEN_MAX_DEFAULT;

	if (check_members(L, o, allowed) < 0 ||
	    get_member_int(L, o, "max_iterations", 1, 4294967295.0, &it,
	    "must be a whole number from 1 to 4294967295") < 0 ||
	    get_member_int(L, o, "max_length", 1, 4096, &len,
	    "must be a whole number of bytes from 1 to 4096") < 0)
		return -1;
	P->pw_limits.max_iterations = (uint32_t)it;
	P->pw_limits.max_password_len = (size_t)len;
	return 0;
}

/* A member that is one of the strings in `names` (NULL-terminated): its
 * index, or -1 (error reported). Absent: *out unchanged. */
static int get_member_enum(loader *L, const cJSON *o, const char *name,
    const char *const *names, const char *msg, int *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
	size_t save;
	int i;

	if (v == NULL)
		return 0;
	path_push_key(L, name, &save);
	for (i = 0; cJSON_IsString(v) && names[i] != NULL; i++) {
		if (strcmp(names[i], v->valuestring) == 0) {
			*out = i;
			path_pop(L, save);
			return 0;
		}
	}
	return bad(L, msg);
}

/* "request": how the request is read before anything is matched. */
static int load_request(loader *L, ac_policy *P, const cJSON *o)
{
	static const char *const allowed[] = { "non_canonical_path",
		"underscore_headers", "method_override", "forward_credentials",
		"client_header", NULL };
	static const char *const paths[] = { "refuse", "rewrite", NULL };
	static const char *const under[] = { "refuse", "allow", NULL };
	static const char *const over[] = { "strip", "refuse", NULL };
	static const char *const client[] = { "x-forwarded-for", "forwarded",
		NULL };
	int ch = 0;

	if (check_members(L, o, allowed) < 0 ||
	    get_member_enum(L, o, "non_canonical_path", paths,
	    "must be \"refuse\" or \"rewrite\"", &P->rewrite_paths) < 0 ||
	    get_member_enum(L, o, "underscore_headers", under,
	    "must be \"refuse\" or \"allow\"", &P->allow_underscore) < 0 ||
	    get_member_enum(L, o, "method_override", over,
	    "must be \"strip\" or \"refuse\"", &P->refuse_override) < 0 ||
	    get_member_bool(L, o, "forward_credentials",
	    &P->forward_credentials) < 0 ||
	    get_member_enum(L, o, "client_header", client,
	    "must be \"x-forwarded-for\" or \"forwarded\"", &ch) < 0)
		return -1;
	P->client_header = ch ? 'F' : 'X';
	return 0;
}

/* "trusted_proxies": the peers whose X-Forwarded-For / Forwarded and
 * X-Forwarded-Proto are believed. */
static int load_proxies(loader *L, ac_policy *P, const cJSON *arr)
{
	const cJSON *e;
	int idx = 0;

	if (!cJSON_IsArray(arr))
		return bad(L, "must be an array of addresses or CIDR ranges");
	if (cJSON_GetArraySize(arr) > AC_PROXIES_MAX)
		return bad(L, "more than 32 trusted proxy ranges");
	for (e = arr->child; e != NULL; e = e->next, idx++) {
		size_t save;
		path_push_index(L, idx, &save);
		if (!cJSON_IsString(e) || ac_cidr_parse(e->valuestring,
		    strlen(e->valuestring), &P->proxies[P->n_proxies]) < 0)
			return bad(L, "must be an IPv4 or IPv6 address or CIDR range with no host bits set (\"10.0.0.0/8\", \"::1\")");
		P->n_proxies++;
		path_pop(L, save);
	}
	return 0;
}

/* Requests with '_' in a header name are refused (unless
 * request.underscore_headers is "allow"), so a header the policy names with
 * one could never be read: refused here, with where it was named. */
static int underscore_names(loader *L, ac_policy *P)
{
	size_t i;
	const char *where = NULL;
	ac_str n[4 + AC_SOURCES_MAX + AC_CLAIM_HEADERS_MAX];
	size_t k = 0;

	n[k++] = P->user_header;
	n[k++] = P->roles_header;
	n[k++] = P->api_key_header;
	n[k++] = P->n_session_keys ? P->csrf_header : (ac_str){ NULL, 0 };
	for (i = 0; i < P->n_sources; i++)
		if (P->sources[i].kind == 'H')
			n[k++] = P->sources[i].name;
	for (i = 0; i < P->n_claim_headers; i++)
		n[k++] = P->claim_headers[i].header;
	for (i = 0; i < k; i++)
		if (n[i].ptr != NULL && memchr(n[i].ptr, '_', n[i].len) != NULL)
			where = i < 2 ? "identity_headers" : i == 2 ? "api_keys" :
			    i == 3 ? "sessions" : "jwt";
	if (where == NULL)
		return 0;
	L->path_len = (size_t)snprintf(L->path, sizeof L->path, "$.%s", where);
	return bad(L, "names a header with '_', which requests may not carry unless \"request\": {\"underscore_headers\": \"allow\"}");
}

static int load_root(loader *L, ac_policy *P, const cJSON *root)
{
	static const char *const allowed[] = { "version", "realm", "jwt",
		"sessions", "api_keys", "identity_headers", "public", "rules",
		"default", "users", "login", "passwords", "request",
		"trusted_proxies", NULL };
	const cJSON *v;
	size_t save;

	if (check_members(L, root, allowed) < 0)
		return -1;
	P->client_header = 'X';
	v = cJSON_GetObjectItemCaseSensitive(root, "request");
	if (v != NULL) {
		path_push_key(L, "request", &save);
		if (load_request(L, P, v) < 0)
			return -1;
		path_pop(L, save);
	}
	v = cJSON_GetObjectItemCaseSensitive(root, "trusted_proxies");
	if (v != NULL) {
		path_push_key(L, "trusted_proxies", &save);
		if (load_proxies(L, P, v) < 0)
			return -1;
		path_pop(L, save);
	}
	v = cJSON_GetObjectItemCaseSensitive(root, "version");
	if (v != NULL) {
		path_push_key(L, "version", &save);
		if (!cJSON_IsNumber(v) || v->valuedouble != 1)
			return bad(L, "must be 1");
		path_pop(L, save);
	}
	P->realm.ptr = "authcore";
	P->realm.len = 8;
	if (get_member_str(L, root, "realm", 1, 128, &P->realm) < 0)
		return -1;
	{
		size_t i;
		for (i = 0; i < P->realm.len; i++) {
			unsigned char c = (unsigned char)P->realm.ptr[i];
			if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\') {
				path_push_key(L, "realm", &save);
				return bad(L, "must be printable ASCII without quotes or backslashes");
			}
		}
	}
	ac_jwt_checks_init(&P->checks);
	P->checks.require_exp = 1;
	if (!cJSON_GetObjectItemCaseSensitive(root, "jwt") &&
	    !cJSON_GetObjectItemCaseSensitive(root, "sessions") &&
	    !cJSON_GetObjectItemCaseSensitive(root, "api_keys"))
		return bad(L, "missing \"jwt\", \"sessions\" or \"api_keys\" (how clients authenticate)");
	v = cJSON_GetObjectItemCaseSensitive(root, "jwt");
	if (v != NULL) {
		path_push_key(L, "jwt", &save);
		if (load_jwt(L, P, v) < 0)
			return -1;
		path_pop(L, save);
		P->has_jwt = 1;
	}
	v = cJSON_GetObjectItemCaseSensitive(root, "sessions");
	if (v != NULL) {
		path_push_key(L, "sessions", &save);
		if (load_sessions(L, P, v) < 0)
			return -1;
		path_pop(L, save);
	}
	v = cJSON_GetObjectItemCaseSensitive(root, "api_keys");
	if (v != NULL) {
		path_push_key(L, "api_keys", &save);
		if (load_api_keys(L, P, v) < 0)
			return -1;
		path_pop(L, save);
	}
	P->pw_limits.max_iterations = AC_PASSWORD_ITERATIONS_MAX_DEFAULT;
	P->pw_limits.max_password_len = AC_PASSWORD_LEN_MAX_DEFAULT;
	v = cJSON_GetObjectItemCaseSensitive(root, "passwords");
	if (v != NULL) {
		path_push_key(L, "passwords", &save);
		if (load_passwords(L, P, v) < 0)
			return -1;
		path_pop(L, save);
	}
	v = cJSON_GetObjectItemCaseSensitive(root, "users");
	/* one spare slot for the administrator from the environment */
	P->users = take(L, sizeof(ac_user) *
	    (size_t)(cJSON_IsArray(v) ? cJSON_GetArraySize(v) + 1 : 1));
	if (P->users == NULL)
		return bad(L, "policy needs more memory than given");
	if (v != NULL) {
		path_push_key(L, "users", &save);
		if (!cJSON_GetObjectItemCaseSensitive(root, "login"))
			return bad(L, "users log in through \"login\": add it");
		if (load_users(L, P, v) < 0)
			return -1;
		path_pop(L, save);
	}
	v = cJSON_GetObjectItemCaseSensitive(root, "login");
	if (v != NULL) {
		path_push_key(L, "login", &save);
		if (load_login(L, P, v) < 0)
			return -1;
		path_pop(L, save);
	}

	P->user_header.ptr = "x-authcore-user";
	P->user_header.len = 15;
	P->roles_header.ptr = "x-authcore-roles";
	P->roles_header.len = 16;
	v = cJSON_GetObjectItemCaseSensitive(root, "identity_headers");
	if (v != NULL) {
		static const char *const ih[] = { "user", "roles", NULL };
		path_push_key(L, "identity_headers", &save);
		if (check_members(L, v, ih) < 0)
			return -1;
		if (get_member_str(L, v, "user", 1, AC_NAME_MAX, &P->user_header) < 0 ||
		    get_member_str(L, v, "roles", 1, AC_NAME_MAX, &P->roles_header) < 0)
			return -1;
		if (!is_token(P->user_header) || !is_token(P->roles_header))
			return bad(L, "header names must be HTTP tokens");
		if (reserved_header(P->user_header) ||
		    reserved_header(P->roles_header))
			return bad(L, "must not name a header HTTP or proxies give a meaning (host, authorization, cookie, content-length, ...)");
		if (ac_ascii_ieq(P->user_header.ptr, P->user_header.len,
		    P->roles_header.ptr, P->roles_header.len))
			return bad(L, "user and roles headers must differ");
		path_pop(L, save);
	}

	v = cJSON_GetObjectItemCaseSensitive(root, "public");
	if (v != NULL) {
		const cJSON *p;
		int idx = 0;
		size_t s2;
		path_push_key(L, "public", &save);
		if (!cJSON_IsArray(v))
			return bad(L, "must be an array of path patterns");
		if (cJSON_GetArraySize(v) > AC_PUBLIC_MAX)
			return bad(L, "more than 64 public paths");
		for (p = v->child; p != NULL; p = p->next, idx++) {
			path_push_index(L, idx, &s2);
			if (load_path_pattern(L, p, &P->public_paths[P->n_public]) < 0)
				return -1;
			P->n_public++;
			path_pop(L, s2);
		}
		path_pop(L, save);
	}
	v = cJSON_GetObjectItemCaseSensitive(root, "rules");
	if (v != NULL) {
		path_push_key(L, "rules", &save);
		if (load_rules(L, P, v) < 0)
			return -1;
		path_pop(L, save);
	}
	if (!P->allow_underscore && underscore_names(L, P) < 0)
		return -1;
	v = cJSON_GetObjectItemCaseSensitive(root, "default");
	if (v != NULL) {
		path_push_key(L, "default", &save);
		if (cJSON_IsString(v) && strcmp(v->valuestring, "deny") == 0)
			P->default_deny = 1;
		else if (!(cJSON_IsString(v) &&
		    strcmp(v->valuestring, "authenticated") == 0))
			return bad(L, "must be \"authenticated\" or \"deny\"");
		path_pop(L, save);
	}
	return 0;
}

static void parse_error_at(loader *L, const char *json, size_t json_len,
    const char *at)
{
	size_t line = 1, col = 1, i, off;
	char msg[96];

	off = (at != NULL && at >= json && at <= json + json_len) ?
	    (size_t)(at - json) : json_len;
	for (i = 0; i < off; i++) {
		if (json[i] == '\n') {
			line++;
			col = 1;
		} else {
			col++;
		}
	}
	snprintf(msg, sizeof msg, "invalid JSON at line %zu, column %zu",
	    line, col);
	bad(L, msg);
}

/* The administrator from the environment, after the document loaded. */
static int load_env(loader *L, ac_policy *P, const ac_policy_env *env)
{
	static const char admin_role[] = "admin";
	ac_str u = env ? env->admin_user : (ac_str){ NULL, 0 };
	ac_str h = env ? env->admin_password_hash : (ac_str){ NULL, 0 };
	ac_user *U;
	char *p;
	size_t i;

	L->path_len = 0;
	if ((u.ptr == NULL) != (h.ptr == NULL)) {
		L->path_len = (size_t)snprintf(L->path, sizeof L->path, "$env.%s",
		    u.ptr == NULL ? "AUTHCORE_ADMIN_USER" :
		    "AUTHCORE_ADMIN_PASSWORD_HASH");
		return bad(L, "must be set too: the administrator needs a name and a password hash");
	}
	if (u.ptr != NULL) {
		L->path_len = (size_t)snprintf(L->path, sizeof L->path,
		    "$env.AUTHCORE_ADMIN_USER");
		if (!P->login && env->admin_optional)
			return 0;
		if (!P->login)
			return bad(L, "the policy has no \"login\" for the administrator to use");
		if (u.len > AC_SESSION_USER_MAX || !session_text_ok(u, 0))
			return bad(L, "must be 1 to 128 bytes without control characters or a leading or trailing space");
		for (i = 0; i < P->n_users; i++)
			if (ac_str_eq(P->users[i].name, u.ptr, u.len))
				return bad(L, "names a user the policy already has");
		L->path_len = (size_t)snprintf(L->path, sizeof L->path,
		    "$env.AUTHCORE_ADMIN_PASSWORD_HASH");
		if (h.len > AC_PASSWORD_STRING_MAX)
			return bad(L, "is too long");
		if (check_hash(L, P, h) < 0)
			return -1;
		U = &P->users[P->n_users];
		memset(U, 0, sizeof *U);
		if ((p = take(L, u.len + h.len + 2)) == NULL)
			return bad(L, "policy needs more memory than given");
		memcpy(p, u.ptr, u.len);
		p[u.len] = 0;
		memcpy(p + u.len + 1, h.ptr, h.len);
		p[u.len + 1 + h.len] = 0;
		U->name.ptr = p;
		U->name.len = u.len;
		U->hash.ptr = p + u.len + 1;
		U->hash.len = h.len;
		U->roles[0].ptr = admin_role;
		U->roles[0].len = 5;
		U->n_roles = 1;
		P->n_users++;
	}
	if (P->login && P->n_users == 0) {
		L->path_len = (size_t)snprintf(L->path, sizeof L->path, "$.users");
		return bad(L, "the login needs at least one user (in \"users\", or AUTHCORE_ADMIN_USER and AUTHCORE_ADMIN_PASSWORD_HASH)");
	}
	return 0;
}

const ac_policy *ac_policy_load(void *mem, size_t mem_len, const char *json,
    size_t json_len, size_t *used, ac_policy_error *err)
{
	return ac_policy_load_env(mem, mem_len, json, json_len, NULL, used, err);
}

const ac_policy *ac_policy_load_env(void *mem, size_t mem_len,
    const char *json, size_t json_len, const ac_policy_env *env,
    size_t *used, ac_policy_error *err)
{
	loader L;
	ac_policy *P;
	cJSON *root;
	cJSON_Hooks hooks = { arena_alloc, arena_free };
	const char *end = NULL;
	int rc;

	memset(&L, 0, sizeof L);
	memset(err, 0, sizeof *err);
	L.err = err;
	L.path[0] = '$';
	L.path_len = 1;
	{
		/* align the start ourselves: malloc in wasm gives only 8 */
		size_t skip = (16u - ((uintptr_t)mem & 15u)) & 15u;
		if (mem == NULL || mem_len < skip) {
			bad(&L, "policy needs more memory than given");
			return NULL;
		}
		L.base = (uint8_t *)mem + skip;
		mem_len -= skip;
	}
	/* cJSON's arena grows down from an aligned top */
	L.hi = L.min_hi = mem_len & ~(size_t)15u;
	if (json_len > AC_POLICY_JSON_MAX) {
		bad(&L, "policy larger than 1 MiB");
		return NULL;
	}
	P = take(&L, sizeof *P);
	if (P == NULL) {
		bad(&L, "policy needs more memory than given");
		return NULL;
	}
	memset(P, 0, sizeof *P);
	P->sha256 = ac_sha256_class(0);

	active_loader = &L;
	cJSON_InitHooks(&hooks);
	root = cJSON_ParseWithLengthOpts(json, json_len, &end, 0);
	if (root == NULL) {
		cJSON_InitHooks(NULL);
		active_loader = NULL;
		if (L.hi - L.lo < 256)
			bad(&L, "policy needs more memory than given");
		else
			parse_error_at(&L, json, json_len, end);
		return NULL;
	}
	rc = load_root(&L, P, root);
	if (rc == 0)
		rc = load_env(&L, P, env);
	cJSON_InitHooks(NULL);
	active_loader = NULL;
	/* wipe the parse tree: it held the key secrets */
	memset(L.base + L.min_hi, 0, (mem_len & ~(size_t)15u) - L.min_hi);
	if (rc < 0)
		return NULL;
	*used = (size_t)(L.base - (uint8_t *)mem) + L.lo;
	return P;
}
