/*
 * libFuzzer target: the answers a host hands back for keys from a URL
 * (ac_decide_fetched with "jwt"."jwks_uri" or "discovery"): any status,
 * Content-Type and body, as the refetch of a worker that already holds a
 * good key set.
 *
 * Input: byte 0 picks the policy (discovery or not), the status (200 or
 * another) and the Content-Type (JSON, other, none); the rest is the body.
 *
 * Properties: no heap call, no crash; an answer the core refuses never
 * touches the held keys (the token they verify is still allowed, as stale
 * keys serve); a discovery answer it takes names an http(s) URL, fetched
 * next; every final decision passes fz_check_decision and no request is
 * pending on more than two fetches.
 */
#include <stdio.h>
#include <string.h>

#include "fz.h"

#define MAX 65536
#define ISS "https://idp.fuzz"

static uint8_t pmem[2][1 << 18];
static const ac_policy *pol[2];
static uint64_t cmem[(1u << 19) / 8];
static uint64_t dmem[(1u << 16) / 8];
static char tok[512], auth[600];
static char good_jwks[256];
static const char good_conf[] = "{\"issuer\":\"" ISS "\",\"jwks_uri\":\"" ISS "/keys\"}";

/* tok: an ES256 token (kid "k") by a P-256 key from a fixed seed, whose
 * public half is good_jwks (fetched keys are public: no HMAC) */
static void es256_fixture(void)
{
	static const char hdr[] = "{\"alg\":\"ES256\",\"kid\":\"k\"}";
	static const char pl[] = "{\"iss\":\"" ISS "\",\"sub\":\"ann\",\"exp\":2000000000}";
	static fz_es256 k;

	fz_es256_key(&k, "fuzz_fetch fixed key", good_jwks, sizeof good_jwks);
	fz_es256_sign(&k, hdr, pl, tok, sizeof tok);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const char *const js[2] = {
		"{\"jwt\":{\"jwks_uri\":\"" ISS "/keys\",\"algorithms\":[\"ES256\"],"
		"\"issuer\":\"" ISS "\",\"jwks_fetch\":{\"ttl\":60,\"stale_for\":600,"
		"\"min_interval\":1,\"max_bytes\":65536}},\"default\":\"authenticated\"}",
		"{\"jwt\":{\"discovery\":true,\"algorithms\":[\"ES256\"],"
		"\"issuer\":\"" ISS "\",\"jwks_fetch\":{\"ttl\":60,\"stale_for\":600,"
		"\"min_interval\":1,\"max_bytes\":65536}},\"default\":\"authenticated\"}",
	};
	size_t used, i;
	ac_policy_error err;

	(void)argc;
	(void)argv;
	es256_fixture();
	for (i = 0; i < 2; i++) {
		pol[i] = ac_policy_load(pmem[i], sizeof pmem[i], js[i],
		    strlen(js[i]), &used, &err);
		if (pol[i] == NULL) {
			fprintf(stderr, "%s: %s\n", err.path, err.message);
			fz_die("policy");
		}
	}
	if (ac_sizeof_decision() > sizeof dmem ||
	    ac_sizeof_jwks_cache() > sizeof cmem)
		fz_die("decision or cache buffer");
	snprintf(auth, sizeof auth, "Bearer %s", tok);
	fz_init("fuzz_fetch");
	return 0;
}

/* The first fetch's answer: *arg when given, else a good provider's. */
static fz_reply answer(const ac_fetch *f, int nth, const void *arg)
{
	if (nth == 1 && arg != NULL)
		return *(const fz_reply *)arg;
	return fz_provider_reply(f, good_jwks, good_conf);
}

/* One request with the token at now; the first fetch answered with
 * first (NULL: as a good provider would), and any next as a good provider
 * would. The number of fetches asked for goes to *fetches, and with
 * first_rc what ac_decide_fetched returned for the first. */
static const ac_answer *run(const ac_policy *P, ac_jwks_cache *c, int64_t now,
    const fz_reply *first, int *fetches, int *first_rc)
{
	ac_request r;
	ac_header h;
	int rc[2] = { -2, -2 };
	const ac_answer *a;

	fz_hdr(&h, "authorization", auth, strlen(auth));
	fz_request(&r, "GET", 3, "/x", 2, &h, 1);
	a = fz_fetch_run(P, (ac_decision *)(void *)dmem, c, &r, now, NULL, 0,
	    2, answer, first, fetches, rc);
	if (first_rc != NULL)
		*first_rc = rc[0];
	return a;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const types[] = { "application/json",
		"application/jwk-set+json; charset=utf-8", "text/html", NULL };
	const ac_policy *P;
	ac_jwks_cache *c;
	const ac_answer *a;
	ac_jwks_counts k;
	size_t nk;
	int64_t at;
	char *body;
	fz_reply fz;
	int f, rc = -2;

	if (size < 1)
		return 0;
	P = pol[data[0] & 1];
	body = fz_copy(data + 1, size - 1 > MAX ? MAX : size - 1);
	fz.status = (data[0] & 2) ? 200 : (int)data[0];
	fz.ctype = types[(data[0] >> 2) & 3];
	fz.body = body;
	fz.len = size - 1 > MAX ? MAX : size - 1;

	c = ac_jwks_cache_init(cmem, sizeof cmem);
	/* warm: a good provider */
	a = run(P, c, FZ_NOW, NULL, &f, NULL);
	if (a->action != AC_ALLOW || f != (P == pol[1] ? 2 : 1))
		fz_die("a good provider's answers did not let the token in");
	/* past ttl: the refetch gets the fuzzed answer first */
	a = run(P, c, FZ_NOW + 61, &fz, &f, &rc);
	if (f < 1)
		fz_die("no refetch past ttl");
	ac_jwks_cache_counts_get(c, &k, &nk, &at);
	if (nk < 1 || nk > AC_JWKS_REMOTE_KEYS_MAX)
		fz_die("held keys out of 1..16");
	if (rc == -1) {
		/* refused: the held keys are the good ones, still serving */
		if (a->action != AC_ALLOW)
			fz_die("a refused answer changed what the held keys allow");
		if (at != FZ_NOW)
			fz_die("a refused answer replaced the keys");
	}
	fz_free(body);
	return 0;
}
