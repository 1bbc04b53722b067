/*
 * Tests of the verified-signature cache (core/ac_cache.c, authcore_cache.h)
 * through the decision and ac_policy_verify_jwt_cached: that it cannot turn
 * a bad token good, that it keeps its bound, and that a hit really skips the
 * signature check (the cache's own count of the checks it let run).
 *
 * Tokens are signed here with BearSSL's private operations: RS256 with the
 * 2048-bit test key of fixtures.h (test use only), ES256 with P-256 keys
 * made from fixed seeds (br_ec_keygen over HMAC-DRBG). Self-contained (no
 * files, no clock), so the same program runs natively with every heap call
 * counted, under ASan+UBSan, and as WASI wasm under Node.
 */
#include <bearssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "authcore.h"
#include "fixtures.h"
#include "es256.h"

#define NOW 1800000000

/* ---- keys and tokens ---- */
typedef struct {
	int rsa;
	rsa_priv rk;
	signer ec;
	char jwk[1024];
} ksigner;

static void rsa_signer(ksigner *s)
{
	uint8_t n[256];
	char nb[400];

	memset(s, 0, sizeof *s);
	s->rsa = 1;
	load_priv(&s->rk, 2048, N2048, P2048, Q2048, DP2048, DQ2048, IQ2048);
	from_hex(n, sizeof n, N2048);
	b64(nb, sizeof nb, n, sizeof n);
	snprintf(s->jwk, sizeof s->jwk,
	    "{\"kty\":\"RSA\",\"alg\":\"RS256\",\"n\":\"%s\",\"e\":\"AQAB\"}", nb);
}

static void ec_signer(ksigner *s, const char *seed, const char *kid)
{
	memset(s, 0, sizeof *s);
	make_signer(&s->ec, seed, kid);
	snprintf(s->jwk, sizeof s->jwk, "%s", s->ec.jwk);
}

/* A compact token over `payload` (JSON) signed by s, in out. */
static const char *mint(const ksigner *s, const char *payload, char *out,
    size_t cap)
{
	static const char hdr[] = "{\"alg\":\"RS256\",\"typ\":\"JWT\"}";
	uint8_t hash[32], sig[256];
	size_t n, sl = 256;

	if (!s->rsa)
		return sign_jws(&s->ec, "{\"alg\":\"ES256\",\"typ\":\"JWT\"}",
		    payload, out, cap);
	n = jws_input(hdr, payload, out, cap, hash);
	if (br_rsa_i31_pkcs1_sign(BR_HASH_OID_SHA256, hash, 32, &s->rk.sk,
	    sig) != 1)
		sl = 0;
	return jws_finish(out, n, cap, sig, sl);
}

/* ---- policies ---- */
static uint8_t pmem[4][262144];

static const ac_policy *policy(int slot, const ksigner *s, const char *more)
{
	static char js[4096];
	ac_policy_error err;
	size_t used;
	const ac_policy *P;

	snprintf(js, sizeof js, "{\"jwt\":{\"keys\":[{\"jwk\":%s}]%s},"
	    "\"default\":\"authenticated\"}", s->jwk, more);
	P = ac_policy_load(pmem[slot], sizeof pmem[slot], js, strlen(js), &used,
	    &err);
	if (P == NULL)
		printf("# policy: %s: %s\n", err.path, err.message);
	return P;
}

/* ---- deciding ---- */
static uint64_t decm[2][65536 / 8]; /* ac_sizeof_decision() each, zeroed */
#define dec (*(ac_decision *)(void *)decm[0])
#define plain (*(ac_decision *)(void *)decm[1])

static const ac_answer *decide(const ac_policy *P, ac_jwt_cache *c,
    ac_decision *d, const char *tok, int64_t now)
{
	static char auth[AC_TOKEN_MAX + 16];
	ac_request r;
	ac_header h[1];

	snprintf(auth, sizeof auth, "Bearer %s", tok);
	memset(&r, 0, sizeof r);
	r.method.ptr = "GET";
	r.method.len = 3;
	r.path.ptr = "/x";
	r.path.len = 2;
	h[0].name.ptr = "authorization";
	h[0].name.len = 13;
	h[0].value.ptr = auth;
	h[0].value.len = strlen(auth);
	r.headers = h;
	r.n_headers = 1;
	ac_decision_use_jwt_cache(d, c);
	ac_decide(P, NULL, &r, now, NULL, 0, d);
	return ac_decision_answer(d);
}

static ac_jwt_cache_counts counts(const ac_jwt_cache *c)
{
	ac_jwt_cache_counts k;
	ac_jwt_cache_counts_get(c, &k);
	return k;
}

static uint64_t cmem[(1u << 16) / 8];
static ac_jwt_cache *fresh(size_t entries)
{
	return ac_jwt_cache_init(cmem, sizeof cmem, entries);
}

static ksigner rs, es1, es2;
static char tok[4][2048];

static void test_sizes(void)
{
	begin("cache sizes: bounded, whole sets, caller memory checked");
	CHECK(ac_sizeof_jwt_cache(0) == 0);
	CHECK(ac_sizeof_jwt_cache(AC_JWT_CACHE_MAX + 1) == 0);
	CHECK(ac_sizeof_jwt_cache(1) == ac_sizeof_jwt_cache(AC_JWT_CACHE_WAYS));
	CHECK(ac_sizeof_jwt_cache(5) > ac_sizeof_jwt_cache(4));
	CHECK(ac_sizeof_jwt_cache(100) < 8192);
	CHECK(ac_jwt_cache_init(NULL, 1u << 16, 4) == NULL);
	CHECK(ac_jwt_cache_init((uint8_t *)cmem + 1, 4096, 4) == NULL);
	CHECK(ac_jwt_cache_init(cmem, ac_sizeof_jwt_cache(100) - 1, 100) == NULL);
	CHECK(ac_jwt_cache_init(cmem, ac_sizeof_jwt_cache(100), 100) != NULL);
	CHECK(ac_jwt_cache_init(cmem, sizeof cmem, 0) == NULL);
	end();
}

static void test_policy_setting(void)
{
	static const struct {
		const char *more;
		size_t entries;
	} ok[] = {
		{ "", AC_JWT_CACHE_DEFAULT }, { ",\"cache\":true", AC_JWT_CACHE_DEFAULT },
		{ ",\"cache\":false", 0 }, { ",\"cache\":7", 7 },
		{ ",\"cache\":65536", 65536 },
	};
	static const char *const bad[] = { ",\"cache\":0", ",\"cache\":65537",
		",\"cache\":1.5", ",\"cache\":\"100\"", ",\"cache\":null" };
	ac_policy_error err;
	size_t i, used;
	char js[2048];

	begin("policy jwt.cache: true/absent 100, false 0, 1..65536 entries");
	for (i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		const ac_policy *P = policy(0, &es1, ok[i].more);
		CHECK(P != NULL && ac_policy_jwt_cache_entries(P) == ok[i].entries);
	}
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		snprintf(js, sizeof js, "{\"jwt\":{\"keys\":[{\"jwk\":%s}]%s}}",
		    es1.jwk, bad[i]);
		CHECK(ac_policy_load(pmem[0], sizeof pmem[0], js, strlen(js),
		    &used, &err) == NULL);
		CHECK(strcmp(err.path, "$.jwt.cache") == 0);
	}
	snprintf(js, sizeof js, "{\"api_keys\":{\"header\":\"x-api-key\","
	    "\"keys\":[]}}");
	{
		const ac_policy *P = ac_policy_load(pmem[0], sizeof pmem[0], js,
		    strlen(js), &used, &err);
		CHECK(P == NULL || ac_policy_jwt_cache_entries(P) == 0);
	}
	end();
}

/* The same RS256 / ES256 token, again and again: one signature check, the
 * same decision as without the cache. */
static void test_hit_skips_check(const ksigner *s, const char *name)
{
	static char js1[16384], js2[16384];
	const ac_policy *P = policy(0, s, "");
	ac_jwt_cache *c = fresh(100);
	const ac_answer *a;
	ac_jwt_cache_counts k;
	int i, same = 1;

	begin(name);
	CHECK(P != NULL && c != NULL);
	if (P == NULL || c == NULL) {
		end();
		return;
	}
	mint(s, "{\"sub\":\"ann\",\"roles\":[\"reader\"],\"exp\":1800000600}",
	    tok[0], sizeof tok[0]);
	for (i = 0; i < 10; i++) {
		a = decide(P, c, &dec, tok[0], NOW + i);
		CHECK(a->action == AC_ALLOW && a->reason == AC_OK);
		CHECK(a->user.len == 3 && memcmp(a->user.ptr, "ann", 3) == 0);
		(void)decide(P, NULL, &plain, tok[0], NOW + i);
		same &= ac_decision_json(&dec, js1, sizeof js1) ==
		    ac_decision_json(&plain, js2, sizeof js2) &&
		    strcmp(js1, js2) == 0;
	}
	CHECK(same);
	k = counts(c);
	CHECK(k.lookups == 10 && k.hits == 9 && k.checks == 1 && k.inserts == 1);
	/* cleared: checked again */
	ac_jwt_cache_clear(c);
	a = decide(P, c, &dec, tok[0], NOW);
	k = counts(c);
	CHECK(a->reason == AC_OK && k.checks == 2 && k.hits == 9);
	/* ac_policy_verify_jwt_cached: the same cache, the same fact */
	{
		static ac_jwt_result res;
		CHECK(ac_policy_verify_jwt_cached(P, c, tok[0], strlen(tok[0]),
		    NOW, &res) == AC_OK);
		k = counts(c);
		CHECK(k.hits == 10 && k.checks == 2);
		CHECK(res.user.len == 3 && res.n_roles == 1);
	}
	end();
}

/* Forged tokens that share the good one's bytes, tried while it is
 * cached: every one is checked and refused; the good one still hits. */
static void test_forged_prefix(void)
{
	const ac_policy *P = policy(0, &rs, "");
	ac_jwt_cache *c = fresh(100);
	static char f[2048];
	const ac_answer *a;
	ac_jwt_cache_counts k0, k;
	char *dot;
	size_t n;

	begin("cache: a forged token sharing a cached token's header.payload is refused");
	CHECK(P != NULL && c != NULL);
	if (P == NULL || c == NULL) {
		end();
		return;
	}
	mint(&rs, "{\"sub\":\"ann\",\"roles\":[\"admin\"],\"exp\":1800000600}",
	    tok[0], sizeof tok[0]);
	a = decide(P, c, &dec, tok[0], NOW);
	CHECK(a->reason == AC_OK);
	k0 = counts(c);
	/* one signature byte flipped (in its last base64url character's
	 * significant bits) */
	strcpy(f, tok[0]);
	n = strlen(f);
	dot = strrchr(f, '.');
	dot[5] = dot[5] == 'A' ? 'B' : 'A';
	a = decide(P, c, &dec, f, NOW);
	CHECK(a->status == 401 && a->reason == AC_BAD_SIGNATURE);
	/* another valid token's signature on this header.payload */
	mint(&rs, "{\"sub\":\"eve\",\"roles\":[\"admin\"],\"exp\":1800000600}",
	    tok[1], sizeof tok[1]);
	strcpy(f, tok[0]);
	strcpy(strrchr(f, '.'), strrchr(tok[1], '.'));
	a = decide(P, c, &dec, f, NOW);
	CHECK(a->status == 401 && a->reason == AC_BAD_SIGNATURE);
	/* the good signature on another payload */
	strcpy(f, tok[1]);
	strcpy(strrchr(f, '.'), strrchr(tok[0], '.'));
	a = decide(P, c, &dec, f, NOW);
	CHECK(a->status == 401 && a->reason == AC_BAD_SIGNATURE);
	/* no signature, a truncated one, one with a byte more */
	strcpy(f, tok[0]);
	strrchr(f, '.')[1] = 0;
	a = decide(P, c, &dec, f, NOW);
	CHECK(a->status == 401);
	strcpy(f, tok[0]);
	f[n - 1] = 0;
	a = decide(P, c, &dec, f, NOW);
	CHECK(a->status == 401);
	strcpy(f, tok[0]);
	f[n] = 'A';
	f[n + 1] = 0;
	a = decide(P, c, &dec, f, NOW);
	CHECK(a->status == 401);
	k = counts(c);
	/* each forgery was a miss and ran its check (the empty signature
	 * fails to decode before one can run) */
	CHECK(k.hits == k0.hits && k.inserts == k0.inserts);
	CHECK(k.checks - k0.checks >= 5);
	a = decide(P, c, &dec, tok[0], NOW);
	CHECK(a->reason == AC_OK && counts(c).hits == k0.hits + 1);
	end();
}

/* The same token against another key set, through the same cache:
 * refused; a reloaded policy with the same keys hits. */
static void test_other_key_set(void)
{
	const ac_policy *A = policy(0, &es1, "");
	const ac_policy *B = policy(1, &es2, "");
	const ac_policy *A2 = policy(2, &es1, ",\"leeway\":5");
	ac_jwt_cache *c = fresh(100);
	const ac_answer *a;
	ac_jwt_cache_counts k;

	begin("cache: the same token under another key set is refused");
	CHECK(A != NULL && B != NULL && A2 != NULL);
	if (A == NULL || B == NULL || A2 == NULL) {
		end();
		return;
	}
	mint(&es1, "{\"sub\":\"ann\",\"exp\":1800000600}", tok[0], sizeof tok[0]);
	a = decide(A, c, &dec, tok[0], NOW);
	CHECK(a->reason == AC_OK);
	a = decide(B, c, &dec, tok[0], NOW);
	CHECK(a->status == 401 && a->reason == AC_BAD_SIGNATURE);
	a = decide(B, c, &dec, tok[0], NOW);
	CHECK(a->status == 401 && a->reason == AC_BAD_SIGNATURE);
	k = counts(c);
	CHECK(k.hits == 0 && k.checks == 3 && k.inserts == 1);
	/* the same keys in another policy: the same fact */
	a = decide(A2, c, &dec, tok[0], NOW);
	CHECK(a->reason == AC_OK && counts(c).hits == 1);
	/* a key set with the cached one and another: another set */
	{
		static char more[1200];
		const ac_policy *AB;
		snprintf(more, sizeof more, ",\"jwks\":{\"keys\":[%s]}", es2.jwk);
		AB = policy(3, &es1, more);
		CHECK(AB != NULL);
		if (AB != NULL) {
			a = decide(AB, c, &dec, tok[0], NOW);
			CHECK(a->reason == AC_OK);
			k = counts(c);
			CHECK(k.hits == 1 && k.checks == 4);
		}
	}
	end();
}

/* Claims are checked on every hit. */
static void test_claims_on_hit(void)
{
	const ac_policy *A = policy(0, &rs, ",\"leeway\":30");
	const ac_policy *S = policy(1, &rs, ",\"issuer\":\"https://idp\","
	    "\"audience\":\"api\"");
	const ac_policy *T = policy(2, &rs, ",\"typ\":\"at+jwt\"");
	ac_jwt_cache *c = fresh(100);
	const ac_answer *a;
	ac_jwt_cache_counts k;

	begin("cache: exp, nbf, iss, aud, typ still refuse on a hit");
	CHECK(A != NULL && S != NULL && T != NULL);
	if (A == NULL || S == NULL || T == NULL) {
		end();
		return;
	}
	mint(&rs, "{\"sub\":\"ann\",\"exp\":1800000100,\"nbf\":1799999900,"
	    "\"iss\":\"https://other\",\"aud\":\"web\"}", tok[0], sizeof tok[0]);
	a = decide(A, c, &dec, tok[0], NOW);
	CHECK(a->reason == AC_OK);
	/* exp passes while cached (leeway 30): refused as expired */
	a = decide(A, c, &dec, tok[0], 1800000129);
	CHECK(a->reason == AC_OK);
	a = decide(A, c, &dec, tok[0], 1800000130);
	CHECK(a->status == 401 && a->reason == AC_EXPIRED);
	a = decide(A, c, &dec, tok[0], 1900000000);
	CHECK(a->status == 401 && a->reason == AC_EXPIRED);
	/* before nbf - leeway */
	a = decide(A, c, &dec, tok[0], 1799999869);
	CHECK(a->status == 401 && a->reason == AC_NOT_YET_VALID);
	/* same keys, stricter checks */
	a = decide(S, c, &dec, tok[0], NOW);
	CHECK(a->status == 401 && a->reason == AC_BAD_ISSUER);
	a = decide(T, c, &dec, tok[0], NOW);
	CHECK(a->status == 401 && a->reason == AC_BAD_TYP);
	k = counts(c);
	CHECK(k.checks == 1 && k.hits == 6);
	/* a token refused by its claims is not entered */
	mint(&rs, "{\"sub\":\"ann\",\"exp\":1700000000}", tok[1], sizeof tok[1]);
	a = decide(A, c, &dec, tok[1], NOW);
	CHECK(a->reason == AC_EXPIRED);
	a = decide(A, c, &dec, tok[1], NOW);
	CHECK(a->reason == AC_EXPIRED);
	k = counts(c);
	CHECK(k.checks == 3 && k.inserts == 1);
	/* aud on a hit */
	mint(&rs, "{\"sub\":\"ann\",\"exp\":1800000600,\"iss\":\"https://idp\","
	    "\"aud\":\"api\"}", tok[2], sizeof tok[2]);
	a = decide(S, c, &dec, tok[2], NOW);
	CHECK(a->reason == AC_OK);
	{
		const ac_policy *S2 = policy(3, &rs, ",\"issuer\":\"https://idp\","
		    "\"audience\":[\"web\",\"admin\"]");
		CHECK(S2 != NULL);
		if (S2 != NULL) {
			a = decide(S2, c, &dec, tok[2], NOW);
			CHECK(a->status == 401 && a->reason == AC_BAD_AUDIENCE);
		}
	}
	end();
}

/* A flood of distinct valid tokens: the cache keeps its bound and its
 * memory, and the newest tokens stay. */
static void test_flood(void)
{
	static uint8_t guard[64 + 4096 + 64];
	const ac_policy *P = policy(0, &es1, "");
	size_t sz = ac_sizeof_jwt_cache(8), i;
	ac_jwt_cache *c;
	ac_jwt_cache_counts k;
	char pl[128];
	int clean = 1;

	begin("cache: a flood of distinct valid tokens keeps the bound");
	memset(guard, 0xa5, sizeof guard);
	CHECK(sz + 128 <= sizeof guard);
	c = ac_jwt_cache_init(guard + 64, sz, 8);
	CHECK(P != NULL && c != NULL);
	if (P == NULL || c == NULL) {
		end();
		return;
	}
	for (i = 0; i < 300; i++) {
		snprintf(pl, sizeof pl, "{\"sub\":\"u%zu\",\"exp\":%d}", i,
		    NOW + 600 + (int)(i % 7));
		mint(&es1, pl, tok[0], sizeof tok[0]);
		CHECK(decide(P, c, &dec, tok[0], NOW)->reason == AC_OK);
		if (i == 0)
			strcpy(tok[1], tok[0]);
	}
	k = counts(c);
	CHECK(k.inserts == 300 && k.evictions == 292 && k.hits == 0);
	for (i = 0; i < 64; i++)
		clean &= guard[i] == 0xa5 && guard[64 + sz + i] == 0xa5;
	CHECK(clean);
	/* the newest is there, the first long gone */
	CHECK(decide(P, c, &dec, tok[0], NOW)->reason == AC_OK);
	CHECK(counts(c).hits == 1);
	CHECK(decide(P, c, &dec, tok[1], NOW)->reason == AC_OK);
	k = counts(c);
	CHECK(k.hits == 1 && k.checks == 301);
	/* expired entries are replaced before live ones: one set of 4; the
	 * least recently used entry is the live one, the three after it
	 * expire; three new tokens take the expired ways, not the LRU one */
	c = ac_jwt_cache_init(guard + 64, ac_sizeof_jwt_cache(4), 4);
	CHECK(c != NULL);
	if (c == NULL) {
		end();
		return;
	}
	for (i = 0; i < 4; i++) {
		snprintf(pl, sizeof pl, "{\"sub\":\"v%zu\",\"exp\":%d}", i,
		    i == 0 ? NOW + 1000 : NOW + 10);
		mint(&es1, pl, tok[3 - i], sizeof tok[3 - i]);
		CHECK(decide(P, c, &dec, tok[3 - i], NOW)->reason == AC_OK);
	}
	for (i = 0; i < 3; i++) {
		snprintf(pl, sizeof pl, "{\"sub\":\"w%zu\",\"exp\":%d}", i,
		    NOW + 1000);
		mint(&es1, pl, tok[0], sizeof tok[0]);
		CHECK(decide(P, c, &dec, tok[0], NOW + 20)->reason == AC_OK);
	}
	k = counts(c);
	CHECK(k.evictions == 3);
	CHECK(decide(P, c, &dec, tok[3], NOW + 20)->reason == AC_OK);
	CHECK(counts(c).hits == k.hits + 1);
	CHECK(decide(P, c, &dec, tok[2], NOW + 20)->reason == AC_EXPIRED);
	CHECK(counts(c).hits == k.hits + 1);
	end();
}

static void test_not_cached(void)
{
	const ac_policy *P = policy(0, &es1, ",\"cache\":false");
	const ac_policy *H;
	ac_jwt_cache *c = fresh(100);
	ac_policy_error err;
	size_t used, n;
	static const char js[] = "{\"jwt\":{\"keys\":[{\"alg\":\"HS256\","
	    "\"secret\":\"0123456789abcdef0123456789abcdef\"}]},"
	    "\"default\":\"authenticated\"}";
	static const char hs_claims[] = "{\"sub\":\"ann\",\"exp\":1800000600}";

	begin("cache: not used with jwt.cache false, nor for HS256");
	CHECK(P != NULL);
	if (P != NULL) {
		mint(&es1, "{\"sub\":\"ann\",\"exp\":1800000600}", tok[0],
		    sizeof tok[0]);
		CHECK(decide(P, c, &dec, tok[0], NOW)->reason == AC_OK);
		CHECK(decide(P, c, &dec, tok[0], NOW)->reason == AC_OK);
		CHECK(counts(c).lookups == 0 && counts(c).inserts == 0);
	}
	H = ac_policy_load(pmem[1], sizeof pmem[1], js, strlen(js), &used, &err);
	CHECK(H != NULL);
	n = ac_jwt_sign_hmac(tok[1], sizeof tok[1], AC_ALG_HS256,
	    (const uint8_t *)"0123456789abcdef0123456789abcdef", 32, NULL, 0,
	    hs_claims, strlen(hs_claims));
	CHECK(n > 0);
	if (H != NULL && n > 0) {
		tok[1][n] = 0;
		CHECK(decide(H, c, &dec, tok[1], NOW)->reason == AC_OK);
		CHECK(decide(H, c, &dec, tok[1], NOW)->reason == AC_OK);
		CHECK(counts(c).lookups == 0);
	}
	end();
}

#ifdef AC_TEST_COUNT_HEAP
static void test_no_heap(void)
{
	const ac_policy *P = policy(0, &rs, "");
	ac_jwt_cache *c = fresh(16);
	size_t before;

	begin("cache: no heap call in lookups, checks, inserts, clears");
	mint(&rs, "{\"sub\":\"ann\",\"exp\":1800000600}", tok[0], sizeof tok[0]);
	before = heap_calls;
	CHECK(P != NULL && decide(P, c, &dec, tok[0], NOW)->reason == AC_OK);
	CHECK(decide(P, c, &dec, tok[0], NOW)->reason == AC_OK);
	ac_jwt_cache_clear(c);
	CHECK(decide(P, c, &dec, tok[0], NOW)->reason == AC_OK);
	CHECK(heap_calls == before);
	end();
}
#endif

int main(void)
{
	if (ac_sizeof_decision() > sizeof decm[0]) {
		printf("not ok - a decision fits the test's buffer\n");
		return 1;
	}
	rsa_signer(&rs);
	ec_signer(&es1, "authcore cache test key 1", "e1");
	ec_signer(&es2, "authcore cache test key 2", "e2");
	test_sizes();
	test_policy_setting();
	test_hit_skips_check(&rs, "cache: a repeated RS256 token: one check, the same decisions");
	test_hit_skips_check(&es1, "cache: a repeated ES256 token: one check, the same decisions");
	test_forged_prefix();
	test_other_key_set();
	test_claims_on_hit();
	test_flood();
	test_not_cached();
#ifdef AC_TEST_COUNT_HEAP
	test_no_heap();
#endif
	printf("# %d failed\n", failures);
	return failures ? 1 : 0;
}
