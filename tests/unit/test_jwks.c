/*
 * Tests of keys fetched from "jwt"."jwks_uri" (core/ac_jwks.c,
 * authcore_jwks.h) through the decision, playing the host: a decision
 * pending on a fetch gets the answer a provider would give (or a failure)
 * through ac_decide_fetched, then ac_decide_finish.
 *
 * What they show: a cold worker fetches once and then serves from its
 * cache; an unknown kid refetches, at most once per min_interval; a
 * rotation is followed without a reload; while the provider is down held
 * keys serve up to ttl + stale_for, then 503 jwks_unavailable; a hostile
 * or malformed answer never replaces good keys; a host that cannot fetch
 * fails closed and its loop ends; keys of another URL are never used; and
 * the verified-signature cache never accepts a token its current key set
 * would not.
 *
 * ES256 tokens are signed here with BearSSL (P-256 keys from fixed seeds),
 * so the program is self-contained and runs natively with every heap call
 * counted, under ASan+UBSan, and as WASI wasm under Node.
 */
#include <bearssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "authcore.h"
#include "check.h"
#include "es256.h"

#define NOW 1800000000
#define URI "https://idp.example/jwks"
#define ISS "https://idp.example/realm/"
#define CONF_URL "https://idp.example/realm/.well-known/openid-configuration"
#define KEYS_URL "https://keys.idp.example/certs"

/* ---- keys and tokens ---- */
/* An ES256 token for sub, expiring at exp, with header kid `kid` (may
 * differ from the signer's: a forgery under another's kid) and, unless
 * iss is NULL, an "iss" claim. */
static const char *mint(const signer *s, const char *kid, const char *iss,
    const char *sub, int64_t exp, char *out, size_t cap)
{
	char hdr[96], pl[256], ic[160] = "";

	snprintf(hdr, sizeof hdr, "{\"alg\":\"ES256\",\"typ\":\"JWT\",\"kid\":\"%s\"}",
	    kid);
	if (iss != NULL)
		snprintf(ic, sizeof ic, "\"iss\":\"%s\",", iss);
	snprintf(pl, sizeof pl, "{%s\"sub\":\"%s\",\"exp\":%lld}", ic, sub,
	    (long long)exp);
	return sign_jws(s, hdr, pl, out, cap);
}

/* ---- policies ---- */
static uint8_t pmem[2][262144];

static const ac_policy *load(int slot, const char *jwt_members,
    ac_policy_error *err)
{
	static char js[4096];
	size_t used;

	snprintf(js, sizeof js, "{\"jwt\":{%s},\"default\":\"authenticated\"}",
	    jwt_members);
	return ac_policy_load(pmem[slot], sizeof pmem[slot], js, strlen(js),
	    &used, err);
}

static const ac_policy *policy(int slot, const char *uri, const char *more)
{
	char m[2048];
	ac_policy_error err;
	const ac_policy *P;

	snprintf(m, sizeof m, "\"jwks_uri\":\"%s\",\"algorithms\":[\"ES256\"],"
	    "\"jwks_fetch\":{\"ttl\":600,\"stale_for\":3600,"
	    "\"min_interval\":30,\"max_bytes\":4096,\"timeout_ms\":2000}%s",
	    uri, more);
	P = load(slot, m, &err);
	if (P == NULL)
		printf("# policy: %s: %s\n", err.path, err.message);
	return P;
}

/* ---- playing the host ---- */
static uint64_t decm[65536 / 8];
#define dec (*(ac_decision *)(void *)decm)
static uint64_t cachem[(1u << 19) / 8];
static uint64_t sigm[(1u << 14) / 8];

static ac_request req;
static ac_header hdr[1];
static char auth[AC_TOKEN_MAX + 16];

static void request(const char *tok)
{
	snprintf(auth, sizeof auth, "Bearer %s", tok);
	memset(&req, 0, sizeof req);
	req.method.ptr = "GET";
	req.method.len = 3;
	req.path.ptr = "/x";
	req.path.len = 2;
	hdr[0].name.ptr = "authorization";
	hdr[0].name.len = 13;
	hdr[0].value.ptr = auth;
	hdr[0].value.len = strlen(auth);
	req.headers = hdr;
	req.n_headers = 1;
}

/* What a fetch brings back: status, Content-Type, body. */
typedef struct {
	int status;
	const char *ctype;
	const char *body;
} reply;

/* The reply to a fetch of url: NULL when the host cannot fetch (it
 * finishes without an outcome). */
typedef const reply *(*replier)(ac_str url);

/* The URLs fetched by the last decide_with, in order, space-separated. */
static char seen[1024];

/* Decides tok at now with cache c and the jwt cache j (either may be
 * NULL), answering each fetch the decision asks for with answer(url).
 * *fetched (may be NULL) counts the fetches asked for. Returns the final
 * answer. */
static const ac_answer *decide_with(const ac_policy *P, ac_jwks_cache *c,
    ac_jwt_cache *j, const char *tok, int64_t now, replier answer,
    int *fetched)
{
	const ac_answer *a = ac_decision_answer(&dec);
	int rounds = 0;

	seen[0] = 0;
	request(tok);
	if (fetched != NULL)
		*fetched = 0;
	ac_decision_use_jwks(&dec, c);
	ac_decision_use_jwt_cache(&dec, j);
	ac_decide_begin(P, NULL, &req, now, NULL, 0, &dec);
	while (a->action == AC_PENDING && rounds++ < 6) {
		if (a->wait == AC_WAIT_FETCH) {
			const reply *r = answer(a->fetch.url);
			size_t l = strlen(seen);
			snprintf(seen + l, sizeof seen - l, "%s%.*s", l ? " " : "",
			    (int)a->fetch.url.len, a->fetch.url.ptr);
			if (fetched != NULL)
				(*fetched)++;
			if (r != NULL)
				(void)ac_decide_fetched(&dec, r->status,
				    r->ctype, r->ctype ? strlen(r->ctype) : 0,
				    r->body, r->body ? strlen(r->body) : 0,
				    now);
		}
		ac_decide_finish(P, NULL, &req, now, NULL, 0, &dec);
	}
	return a;
}

/* decide_with, every fetch answered with r (NULL: none). */
static const reply *fixed;
static const reply *fixed_reply(ac_str url)
{
	(void)url;
	return fixed;
}

static const ac_answer *decide(const ac_policy *P, ac_jwks_cache *c,
    ac_jwt_cache *j, const char *tok, int64_t now, const reply *r,
    int *fetched)
{
	fixed = r;
	return decide_with(P, c, j, tok, now, fixed_reply, fetched);
}

static signer k1, k2, k3;
static char t1[1024], t2[1024], tforged[1024], tmadeup[1024];
static char tiss[1024], tiss2[1024];
static char set1[2048], set12[2048], set2[2048];

static int has_header(const ac_answer *a, const char *name, const char *v)
{
	size_t i;
	for (i = 0; i < a->n_resp_headers; i++)
		if (a->resp_headers[i].name.len == strlen(name) &&
		    memcmp(a->resp_headers[i].name.ptr, name, strlen(name)) == 0 &&
		    a->resp_headers[i].value.len == strlen(v) &&
		    memcmp(a->resp_headers[i].value.ptr, v, strlen(v)) == 0)
			return 1;
	return 0;
}

static void test_policy(void)
{
	static const struct {
		const char *members, *path, *msg_part;
	} bad[] = {
		{ "\"jwks_uri\":\"ftp://idp/jwks\",\"algorithms\":[\"ES256\"]",
		  "$.jwt.jwks_uri", "absolute http" },
		{ "\"jwks_uri\":\"https:///jwks\",\"algorithms\":[\"ES256\"]",
		  "$.jwt.jwks_uri", "with a host" },
		{ "\"jwks_uri\":\"https://idp/a b\",\"algorithms\":[\"ES256\"]",
		  "$.jwt.jwks_uri", "URL" },
		{ "\"jwks_uri\":\"https://user:pw@idp/jwks\",\"algorithms\":[\"ES256\"]",
		  "$.jwt.jwks_uri", "user information" },
		{ "\"jwks_uri\":\"" URI "\",\"algorithms\":[\"ES256\",\"HS256\"]",
		  "$.jwt.jwks_uri", "HMAC" },
		{ "\"jwks_uri\":\"" URI "\"", "$.jwt.jwks_uri", "algorithms" },
		{ "\"jwks_uri\":\"" URI "\",\"algorithms\":[\"ES256\",\"HS256\"],"
		  "\"keys\":[{\"secret\":\"0123456789abcdef0123456789abcdef\","
		  "\"alg\":\"HS256\"}]", "$.jwt.jwks_uri", "not both" },
		{ "\"keys\":[{\"secret\":\"0123456789abcdef0123456789abcdef\","
		  "\"alg\":\"HS256\"}],\"jwks_fetch\":{}", "$.jwt.jwks_fetch",
		  "only with" },
		{ "\"jwks_uri\":\"" URI "\",\"algorithms\":[\"ES256\"],"
		  "\"jwks_fetch\":{\"ttl\":0}", "$.jwt.jwks_fetch.ttl", "seconds" },
		{ "\"jwks_uri\":\"" URI "\",\"algorithms\":[\"ES256\"],"
		  "\"jwks_fetch\":{\"max_bytes\":1000000}",
		  "$.jwt.jwks_fetch.max_bytes", "bytes" },
		{ "\"jwks_uri\":\"" URI "\",\"algorithms\":[\"ES256\"],"
		  "\"jwks_fetch\":{\"refresh\":1}", "$.jwt.jwks_fetch", "refresh" },
	};
	ac_policy_error err;
	size_t i;
	ac_str u;

	begin("policy jwt.jwks_uri: loaded with its fetch settings; a bad one refused with its path");
	u = ac_policy_jwks_uri(policy(0, URI, ""));
	CHECK(u.len == strlen(URI) && memcmp(u.ptr, URI, u.len) == 0);
	u = ac_policy_jwks_uri(load(1, "\"keys\":[{\"secret\":"
	    "\"0123456789abcdef0123456789abcdef\",\"alg\":\"HS256\"}]", &err));
	CHECK(u.ptr == NULL && u.len == 0);
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		int refused = load(1, bad[i].members, &err) == NULL;
		CHECK(refused);
		if (refused && (strcmp(err.path, bad[i].path) != 0 ||
		    strstr(err.message, bad[i].msg_part) == NULL))
			printf("# case %u: %s: %s\n", (unsigned)i, err.path,
			    err.message);
		CHECK(!refused || strcmp(err.path, bad[i].path) == 0);
		CHECK(!refused || strstr(err.message, bad[i].msg_part) != NULL);
	}
	end();
}

static void test_no_cache(void)
{
	const ac_policy *P = policy(0, URI, "");
	const ac_answer *a;
	int f;

	begin("jwks: a host that placed no cache answers 503 jwks_unavailable, never allows");
	a = decide(P, NULL, NULL, t1, NOW, NULL, &f);
	CHECK(a->action == AC_RESPOND && a->status == 503);
	CHECK(a->reason == AC_JWKS_UNAVAILABLE && f == 0);
	CHECK(has_header(a, "retry-after", "30") || has_header(a, "Retry-After", "30"));
	end();
}

static void test_cold_then_cached(void)
{
	const ac_policy *P = policy(0, URI, "");
	ac_jwks_cache *c = ac_jwks_cache_init(cachem, sizeof cachem);
	reply ok = { 200, "application/json; charset=utf-8", set1 };
	const ac_answer *a;
	ac_jwks_counts k;
	size_t n;
	int64_t at;
	int f;

	begin("jwks: a cold worker asks for one fetch of the URL, then serves from its cache");
	CHECK(ac_sizeof_jwks_cache() <= sizeof cachem && c != NULL);
	CHECK(ac_jwks_cache_init((uint8_t *)cachem + 4, sizeof cachem - 8) == NULL);
	request(t1);
	ac_decision_use_jwks(&dec, c);
	ac_decision_use_jwt_cache(&dec, NULL);
	CHECK(ac_decide_begin(P, NULL, &req, NOW, NULL, 0, &dec) == AC_PENDING);
	a = ac_decision_answer(&dec);
	CHECK(a->wait == AC_WAIT_FETCH && a->status == 0);
	CHECK(a->fetch.url.len == strlen(URI) &&
	    memcmp(a->fetch.url.ptr, URI, a->fetch.url.len) == 0);
	CHECK(a->fetch.max_bytes == 4096 && a->fetch.timeout_ms == 2000);
	CHECK(a->fetch.authority.len == 11 &&
	    memcmp(a->fetch.authority.ptr, "idp.example", 11) == 0);
	CHECK(a->fetch.target.len == 5 && memcmp(a->fetch.target.ptr, "/jwks", 5) == 0);
	/* the keys are the same GET for every request: a host may share it */
	CHECK(a->fetch.method.len == 3 && memcmp(a->fetch.method.ptr, "GET", 3) == 0);
	CHECK(a->fetch.body.len == 0 && a->fetch.shareable == 1);
	CHECK(ac_decide_step(&dec, 100) == 0);
	CHECK(ac_decide_fetched(&dec, 200, "application/json", 16, set1,
	    strlen(set1), NOW) == 0);
	/* one outcome per fetch */
	CHECK(ac_decide_fetched(&dec, 200, "application/json", 16, set1,
	    strlen(set1), NOW) == -1);
	ac_decide_finish(P, NULL, &req, NOW, NULL, 0, &dec);
	CHECK(a->action == AC_ALLOW && a->user.len == 3 &&
	    memcmp(a->user.ptr, "ann", 3) == 0);
	a = decide(P, c, NULL, t1, NOW + 599, &ok, &f);
	CHECK(a->action == AC_ALLOW && f == 0);
	ac_jwks_cache_counts_get(c, &k, &n, &at);
	CHECK(k.fetches == 1 && k.answers == 1 && k.failures == 0);
	CHECK(n == 1 && at == NOW);
	/* past ttl: fetched again */
	a = decide(P, c, NULL, t1, NOW + 600, &ok, &f);
	CHECK(a->action == AC_ALLOW && f == 1);
	end();
}

static void test_unknown_kid(void)
{
	const ac_policy *P = policy(0, URI, "");
	ac_jwks_cache *c = ac_jwks_cache_init(cachem, sizeof cachem);
	reply r1 = { 200, "application/json", set1 };
	reply r12 = { 200, "application/jwk-set+json", set12 };
	const ac_answer *a;
	ac_jwks_counts k;
	size_t n;
	int64_t at;
	int f;

	begin("jwks: an unknown kid refetches (a rotation), at most once per min_interval");
	a = decide(P, c, NULL, t1, NOW, &r1, &f);
	CHECK(a->action == AC_ALLOW && f == 1);
	/* the provider added k2: a k2 token fetches and passes */
	a = decide(P, c, NULL, t2, NOW + 1, &r12, &f);
	CHECK(a->action == AC_ALLOW && f == 1);
	CHECK(a->user.len == 3 && memcmp(a->user.ptr, "bob", 3) == 0);
	/* a made-up kid: past min_interval one fetch, then refused */
	a = decide(P, c, NULL, tmadeup, NOW + 40, &r12, &f);
	CHECK(a->status == 401 && a->reason == AC_UNKNOWN_KID && f == 1);
	/* a flood of made-up kids within min_interval: no fetch */
	a = decide(P, c, NULL, tmadeup, NOW + 41, &r12, &f);
	CHECK(a->status == 401 && a->reason == AC_UNKNOWN_KID && f == 0);
	a = decide(P, c, NULL, tmadeup, NOW + 69, &r12, &f);
	CHECK(a->status == 401 && f == 0);
	a = decide(P, c, NULL, tmadeup, NOW + 70, &r12, &f);
	CHECK(a->status == 401 && f == 1);
	/* a forgery under a held kid is a bad signature, and fetches nothing */
	a = decide(P, c, NULL, tforged, NOW + 100, &r12, &f);
	CHECK(a->status == 401 && a->reason == AC_BAD_SIGNATURE && f == 0);
	ac_jwks_cache_counts_get(c, &k, &n, &at);
	CHECK(k.kid_fetches == 3 && k.fetches == 4 && n == 2);
	end();
}

static void test_rotation_and_sig_cache(void)
{
	const ac_policy *P = policy(0, URI, ",\"cache\":16");
	ac_jwks_cache *c = ac_jwks_cache_init(cachem, sizeof cachem);
	ac_jwt_cache *j = ac_jwt_cache_init(sigm, sizeof sigm, 16);
	reply r12 = { 200, "application/json", set12 };
	reply r2 = { 200, "application/json", set2 };
	const ac_answer *a;
	ac_jwt_cache_counts jc;
	int f;

	begin("jwks: a rotation that drops a key refuses its tokens at once, cached signatures too");
	CHECK(j != NULL);
	a = decide(P, c, j, t1, NOW, &r12, &f);
	CHECK(a->action == AC_ALLOW && f == 1);
	a = decide(P, c, j, t1, NOW + 1, &r12, &f);
	CHECK(a->action == AC_ALLOW && f == 0);
	ac_jwt_cache_counts_get(j, &jc);
	CHECK(jc.hits == 1);
	/* ttl passes; the provider now publishes k2 only */
	a = decide(P, c, j, t1, NOW + 600, &r2, &f);
	CHECK(a->status == 401 && a->reason == AC_UNKNOWN_KID && f == 1);
	a = decide(P, c, j, t2, NOW + 601, &r2, &f);
	CHECK(a->action == AC_ALLOW && f == 0);
	ac_jwt_cache_counts_get(j, &jc);
	CHECK(jc.hits == 1);
	end();
}

static void test_outage(void)
{
	const ac_policy *P = policy(0, URI, "");
	ac_jwks_cache *c = ac_jwks_cache_init(cachem, sizeof cachem);
	reply ok = { 200, "application/json", set1 };
	reply down = { 0, NULL, NULL };
	const ac_answer *a;
	ac_jwks_counts k;
	size_t n;
	int64_t at;
	int f;

	begin("jwks: while the provider is down, held keys serve up to ttl + stale_for, then 503");
	a = decide(P, c, NULL, t1, NOW, &ok, &f);
	CHECK(a->action == AC_ALLOW && f == 1);
	a = decide(P, c, NULL, t1, NOW + 600, &down, &f);
	CHECK(a->action == AC_ALLOW && f == 1);
	/* within min_interval of the failure: no fetch, stale keys */
	a = decide(P, c, NULL, t1, NOW + 629, &down, &f);
	CHECK(a->action == AC_ALLOW && f == 0);
	a = decide(P, c, NULL, t1, NOW + 630, &down, &f);
	CHECK(a->action == AC_ALLOW && f == 1);
	/* a token's own fault is still its own */
	a = decide(P, c, NULL, tforged, NOW + 631, &down, &f);
	CHECK(a->status == 401 && a->reason == AC_BAD_SIGNATURE);
	/* ttl + stale_for passed: closed, with Retry-After */
	a = decide(P, c, NULL, t1, NOW + 600 + 3600, &down, &f);
	CHECK(a->status == 503 && a->reason == AC_JWKS_UNAVAILABLE && f == 1);
	CHECK(has_header(a, "Retry-After", "30") || has_header(a, "retry-after", "30"));
	a = decide(P, c, NULL, t1, NOW + 600 + 3610, &down, &f);
	CHECK(a->status == 503 && f == 0);
	CHECK(has_header(a, "Retry-After", "20") || has_header(a, "retry-after", "20"));
	/* back up: served again */
	a = decide(P, c, NULL, t1, NOW + 600 + 3630, &ok, &f);
	CHECK(a->action == AC_ALLOW && f == 1);
	ac_jwks_cache_counts_get(c, &k, &n, &at);
	CHECK(k.failures == 3 && k.answers == 2 && k.stale_uses >= 3);
	end();
}

static void test_hostile(void)
{
	static char big[8192], priv[1024], okp[512], many[40000];
	const ac_policy *P = policy(0, URI, "");
	ac_jwks_cache *c = ac_jwks_cache_init(cachem, sizeof cachem);
	reply ok = { 200, "application/json", set1 };
	reply bad[10];
	const ac_answer *a;
	size_t i, n;
	int f;

	memset(big, ' ', sizeof big - 1);
	memcpy(big, set1, strlen(set1)); /* valid JSON, then 4 KiB of spaces */
	snprintf(priv, sizeof priv, "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\","
	    "\"kid\":\"k1\",\"x\":\"AA\",\"y\":\"AA\",\"d\":\"AA\"}]}");
	snprintf(okp, sizeof okp, "{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"Ed25519\","
	    "\"kid\":\"e\",\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\"}]}");
	n = (size_t)snprintf(many, sizeof many, "{\"keys\":[");
	for (i = 0; i < AC_JWKS_REMOTE_KEYS_MAX + 1; i++)
		n += (size_t)snprintf(many + n, sizeof many - n, "%s%s",
		    i ? "," : "", k1.jwk);
	snprintf(many + n, sizeof many - n, "]}");
	bad[0] = (reply){ 500, "application/json", set1 };
	bad[1] = (reply){ 200, "text/html", set1 };
	bad[2] = (reply){ 200, NULL, set1 };
	bad[3] = (reply){ 200, "application/json", big };
	bad[4] = (reply){ 200, "application/json", "<html>nope</html>" };
	bad[5] = (reply){ 200, "application/json", priv };
	bad[6] = (reply){ 200, "application/json", okp };
	bad[7] = (reply){ 200, "application/json", "{\"keys\":[]}" };
	bad[8] = (reply){ 200, "application/json", "" };
	bad[9] = (reply){ 200, "application/jsonx", set1 };

	begin("jwks: a hostile or malformed answer is a failed fetch: it never replaces keys, never opens");
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		/* cold: nothing to serve, so closed */
		c = ac_jwks_cache_init(cachem, sizeof cachem);
		a = decide(P, c, NULL, t1, NOW, &bad[i], &f);
		CHECK(a->status == 503 && a->reason == AC_JWKS_UNAVAILABLE);
		/* warm: the held keys stay, untouched */
		a = decide(P, c, NULL, t1, NOW + 100, &ok, &f);
		CHECK(a->action == AC_ALLOW && f == 1);
		a = decide(P, c, NULL, t1, NOW + 700, &bad[i], &f);
		CHECK(a->action == AC_ALLOW && f == 1);
		a = decide(P, c, NULL, t1, NOW + 701, &bad[i], &f);
		CHECK(a->action == AC_ALLOW && f == 0);
	}
	/* more keys than a cache holds: refused whole, not cut; as many
	 * as it holds: taken */
	{
		ac_policy_error err;
		const ac_policy *Pbig = load(1, "\"jwks_uri\":\"" URI "\","
		    "\"algorithms\":[\"ES256\"],\"jwks_fetch\":"
		    "{\"max_bytes\":65536}", &err);
		reply r = { 200, "application/json", many };
		CHECK(Pbig != NULL && strlen(many) < 65536);
		c = ac_jwks_cache_init(cachem, sizeof cachem);
		a = decide(Pbig, c, NULL, t1, NOW, &r, &f);
		CHECK(a->status == 503 && f == 1);
		n = (size_t)snprintf(many, sizeof many, "{\"keys\":[");
		for (i = 0; i < AC_JWKS_REMOTE_KEYS_MAX; i++)
			n += (size_t)snprintf(many + n, sizeof many - n,
			    "%s%s", i ? "," : "", k1.jwk);
		snprintf(many + n, sizeof many - n, "]}");
		c = ac_jwks_cache_init(cachem, sizeof cachem);
		a = decide(Pbig, c, NULL, t1, NOW, &r, &f);
		CHECK(a->action == AC_ALLOW && f == 1);
	}
	end();
}

static void test_cannot_fetch(void)
{
	const ac_policy *P = policy(0, URI, "");
	ac_jwks_cache *c = ac_jwks_cache_init(cachem, sizeof cachem);
	const ac_answer *a;
	int f;

	begin("jwks: a host that finishes without fetching gets 503, and its loop ends");
	a = decide(P, c, NULL, t1, NOW, NULL, &f);
	CHECK(a->action == AC_RESPOND && a->status == 503 && f == 1);
	CHECK(a->reason == AC_JWKS_UNAVAILABLE);
	/* the one-shot ac_decide is such a host */
	request(t1);
	ac_decision_use_jwks(&dec, c);
	ac_decide(P, NULL, &req, NOW + 100, NULL, 0, &dec);
	CHECK(a->action == AC_RESPOND && a->status == 503);
	/* a dropped request: nothing left pending */
	c = ac_jwks_cache_init(cachem, sizeof cachem);
	ac_decision_use_jwks(&dec, c);
	CHECK(ac_decide_begin(P, NULL, &req, NOW, NULL, 0, &dec) == AC_PENDING);
	ac_decide_abandon(NULL, &dec);
	CHECK(a->action != AC_PENDING);
	CHECK(ac_decide_fetched(&dec, 200, "application/json", 16, set1,
	    strlen(set1), NOW) == -1);
	end();
}

static void test_other_uri_and_algs(void)
{
	const ac_policy *P = policy(0, URI, "");
	const ac_policy *Q = policy(1, "https://other.example/jwks", "");
	ac_jwks_cache *c = ac_jwks_cache_init(cachem, sizeof cachem);
	reply ok = { 200, "application/json", set1 };
	static char mixed[4096];
	reply rmixed = { 200, "application/json", mixed };
	const ac_answer *a;
	ac_jwks_counts k;
	size_t n;
	int64_t at;
	int f;

	begin("jwks: keys of another URL are never used; keys of other algorithms are passed over");
	a = decide(P, c, NULL, t1, NOW, &ok, &f);
	CHECK(a->action == AC_ALLOW && f == 1);
	a = decide(Q, c, NULL, t1, NOW + 1, NULL, &f);
	CHECK(a->status == 503 && f == 1);
	/* the same URL under a reloaded policy that dropped ES256: the held
	 * ES256 keys are not its keys */
	{
		ac_policy_error err;
		const ac_policy *R = load(1, "\"jwks_uri\":\"" URI "\","
		    "\"algorithms\":[\"RS256\"]", &err);
		CHECK(R != NULL);
		if (R != NULL) {
			a = decide(R, c, NULL, t1, NOW + 2, NULL, &f);
			CHECK(a->action != AC_ALLOW && f == 1);
		}
	}
	/* an RS256 key and an HS256 key beside k2, under an ES256-only policy */
	snprintf(mixed, sizeof mixed, "{\"keys\":[{\"kty\":\"oct\",\"alg\":"
	    "\"HS256\",\"kid\":\"h\",\"k\":\"MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY\"},"
	    "{\"kty\":\"RSA\",\"alg\":\"RS256\",\"kid\":\"r\",\"use\":\"sig\","
	    "\"n\":\"AQAB\",\"e\":\"AQAB\"},%s]}", k2.jwk);
	c = ac_jwks_cache_init(cachem, sizeof cachem);
	a = decide(P, c, NULL, t2, NOW, &rmixed, &f);
	ac_jwks_cache_counts_get(c, &k, &n, &at);
	/* the RSA key is malformed: a set naming it is refused whole, even
	 * though its algorithm is not allowed here */
	CHECK(a->status == 503 && n == 0);
	snprintf(mixed, sizeof mixed, "{\"keys\":[{\"kty\":\"oct\",\"alg\":"
	    "\"HS256\",\"kid\":\"h\",\"k\":\"MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY\"},"
	    "%s]}", k2.jwk);
	c = ac_jwks_cache_init(cachem, sizeof cachem);
	a = decide(P, c, NULL, t2, NOW, &rmixed, &f);
	ac_jwks_cache_counts_get(c, &k, &n, &at);
	CHECK(a->action == AC_ALLOW && n == 1);
	/* a secret in a fetched set (no "alg": it would bind to nothing
	 * allowed) is passed over, never taken or fatal */
	snprintf(mixed, sizeof mixed, "{\"keys\":[{\"kty\":\"oct\",\"kid\":\"h\","
	    "\"k\":\"MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY\"},%s]}", k2.jwk);
	c = ac_jwks_cache_init(cachem, sizeof cachem);
	a = decide(P, c, NULL, t2, NOW, &rmixed, &f);
	ac_jwks_cache_counts_get(c, &k, &n, &at);
	CHECK(a->action == AC_ALLOW && n == 1);
	end();
}

/* decide_with, each fetch answered by its URL: config for ISS's
 * configuration URL, keys for KEYS_URL (NULL, or any other URL: a failed
 * fetch). */
static reply by_url_conf, by_url_keys, by_url_none;
static const reply *by_url(ac_str url)
{
	if (url.len == strlen(CONF_URL) && memcmp(url.ptr, CONF_URL, url.len) == 0)
		return &by_url_conf;
	if (url.len == strlen(KEYS_URL) && memcmp(url.ptr, KEYS_URL, url.len) == 0)
		return &by_url_keys;
	return &by_url_none;
}

static const ac_answer *decide_urls(const ac_policy *P, ac_jwks_cache *c,
    const char *tok, int64_t now, const char *config, const char *keys)
{
	by_url_conf = (reply){ config ? 200 : 0, "application/json", config };
	by_url_keys = (reply){ keys ? 200 : 0, "application/json", keys };
	by_url_none = (reply){ 0, NULL, NULL };
	return decide_with(P, c, NULL, tok, now, by_url, NULL);
}

static void test_discovery(void)
{
	static const struct {
		const char *members, *msg_part;
	} bad[] = {
		{ "\"discovery\":true,\"algorithms\":[\"ES256\"]", "needs \"issuer\"" },
		{ "\"discovery\":true,\"issuer\":\"idp\",\"algorithms\":[\"ES256\"]", "URL" },
		{ "\"discovery\":true,\"issuer\":\"" ISS "\",\"algorithms\":[\"ES256\"],"
		  "\"jwks_uri\":\"" KEYS_URL "\"", "not both" },
		{ "\"discovery\":true,\"issuer\":\"" ISS "\"", "algorithms" },
		{ "\"discovery\":\"yes\",\"issuer\":\"" ISS "\",\"algorithms\":[\"ES256\"]",
		  "true or false" },
	};
	static const char conf[] = "{\"issuer\":\"" ISS "\",\"authorization_endpoint\":"
	    "\"https://idp.example/auth\",\"jwks_uri\":\"https:\\/\\/keys.idp.example\\/certs\"}";
	static const char conf_other[] = "{\"issuer\":\"https://evil.example/\","
	    "\"jwks_uri\":\"" KEYS_URL "\"}";
	static const char conf_user[] = "{\"issuer\":\"" ISS "\",\"jwks_uri\":\"https://u@keys.idp.example/certs\"}";
	static const char conf_ftp[] = "{\"issuer\":\"" ISS "\",\"jwks_uri\":\"ftp://k/certs\"}";
	ac_policy_error err;
	const ac_policy *P;
	ac_jwks_cache *c;
	const ac_answer *a;
	ac_str u;
	size_t i;

	begin("jwks discovery: the issuer's configuration names jwks_uri; its issuer must be the policy's");
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		int refused = load(1, bad[i].members, &err) == NULL;
		CHECK(refused);
		if (refused && strstr(err.message, bad[i].msg_part) == NULL)
			printf("# case %u: %s: %s\n", (unsigned)i, err.path, err.message);
		CHECK(!refused || strstr(err.message, bad[i].msg_part) != NULL);
	}
	P = load(0, "\"discovery\":true,\"issuer\":\"" ISS "\",\"algorithms\":[\"ES256\"],"
	    "\"jwks_fetch\":{\"ttl\":600,\"min_interval\":30}", &err);
	CHECK(P != NULL);
	if (P == NULL) {
		printf("# %s: %s\n", err.path, err.message);
		end();
		return;
	}
	u = ac_policy_jwks_uri(P);
	CHECK(u.len == strlen(CONF_URL) && memcmp(u.ptr, CONF_URL, u.len) == 0);
	c = ac_jwks_cache_init(cachem, sizeof cachem);
	/* the token's issuer must be ISS too: a token without iss passes no
	 * issuer check, so mint one with it */
	a = decide_urls(P, c, t1, NOW, conf, set1);
	CHECK(strcmp(seen, CONF_URL " " KEYS_URL) == 0);
	/* t1 has no "iss": refused as a claim, after both fetches */
	CHECK(a->status == 401 && a->reason == AC_BAD_ISSUER);
	a = decide_urls(P, c, tiss, NOW + 1, conf, set1);
	CHECK(a->action == AC_ALLOW && seen[0] == 0);
	/* an unknown kid within ttl: the keys only */
	a = decide_urls(P, c, tiss2, NOW + 2, conf, set12);
	CHECK(a->action == AC_ALLOW && strcmp(seen, KEYS_URL) == 0);
	/* past ttl: the configuration again, then the keys */
	a = decide_urls(P, c, tiss, NOW + 700, conf, set12);
	CHECK(a->action == AC_ALLOW && strcmp(seen, CONF_URL " " KEYS_URL) == 0);
	/* a configuration of another issuer, or a jwks_uri that is no http
	 * URL: a failed fetch (cold: 503) */
	c = ac_jwks_cache_init(cachem, sizeof cachem);
	a = decide_urls(P, c, tiss, NOW, conf_other, set1);
	CHECK(a->status == 503 && strcmp(seen, CONF_URL) == 0);
	c = ac_jwks_cache_init(cachem, sizeof cachem);
	a = decide_urls(P, c, tiss, NOW, conf_ftp, set1);
	CHECK(a->status == 503 && strcmp(seen, CONF_URL) == 0);
	c = ac_jwks_cache_init(cachem, sizeof cachem);
	a = decide_urls(P, c, tiss, NOW, conf_user, set1);
	CHECK(a->status == 503 && strcmp(seen, CONF_URL) == 0);
	/* the configuration read, the keys failing: 503, and no refetch of
	 * either within min_interval */
	c = ac_jwks_cache_init(cachem, sizeof cachem);
	a = decide_urls(P, c, tiss, NOW, conf, NULL);
	CHECK(a->status == 503 && strcmp(seen, CONF_URL " " KEYS_URL) == 0);
	a = decide_urls(P, c, tiss, NOW + 10, conf, set1);
	CHECK(a->status == 503 && seen[0] == 0);
	a = decide_urls(P, c, tiss, NOW + 30, conf, set1);
	CHECK(a->action == AC_ALLOW && strcmp(seen, KEYS_URL) == 0);
	end();
}

#ifdef AC_TEST_COUNT_HEAP
static void test_no_heap(void)
{
	const ac_policy *P = policy(0, URI, "");
	ac_jwks_cache *c;
	reply ok = { 200, "application/json", set12 };
	size_t before;
	int f;

	begin("jwks: no heap call in fetch asks, answers, checks");
	before = heap_calls;
	c = ac_jwks_cache_init(cachem, sizeof cachem);
	CHECK(decide(P, c, NULL, t1, NOW, &ok, &f)->action == AC_ALLOW);
	CHECK(decide(P, c, NULL, tmadeup, NOW + 50, &ok, &f)->status == 401);
	CHECK(heap_calls == before);
	end();
}
#endif

int main(void)
{
	if (ac_sizeof_decision() > sizeof decm) {
		printf("not ok - a decision fits the test's buffer\n");
		return 1;
	}
	make_signer(&k1, "authcore jwks test key 1", "k1");
	make_signer(&k2, "authcore jwks test key 2", "k2");
	make_signer(&k3, "authcore jwks test key 3", "k3");
	mint(&k1, "k1", NULL, "ann", NOW + 86400 * 30, t1, sizeof t1);
	mint(&k2, "k2", NULL, "bob", NOW + 86400 * 30, t2, sizeof t2);
	mint(&k3, "k1", NULL, "eve", NOW + 86400 * 30, tforged, sizeof tforged);
	mint(&k3, "k9", NULL, "eve", NOW + 86400 * 30, tmadeup, sizeof tmadeup);
	mint(&k1, "k1", ISS, "ann", NOW + 86400 * 30, tiss, sizeof tiss);
	mint(&k2, "k2", ISS, "bob", NOW + 86400 * 30, tiss2, sizeof tiss2);
	jwks(set1, sizeof set1, &k1, NULL);
	jwks(set12, sizeof set12, &k1, &k2);
	jwks(set2, sizeof set2, &k2, NULL);
	test_policy();
	test_no_cache();
	test_cold_then_cached();
	test_unknown_kid();
	test_rotation_and_sig_cache();
	test_outage();
	test_hostile();
	test_cannot_fetch();
	test_other_uri_and_algs();
	test_discovery();
#ifdef AC_TEST_COUNT_HEAP
	test_no_heap();
#endif
	printf("# %d failed\n", failures);
	return failures ? 1 : 0;
}
