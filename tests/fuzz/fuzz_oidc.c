/*
 * libFuzzer target: an OpenID sign-in's callback (core/ac_oidc.c) with any
 * query and any token endpoint answer: status, Content-Type and body.
 *
 * Input: byte 0 picks whether the request carries the state cookie and
 * state of a real start (bit 0), the token answer's status (bit 1: 200,
 * else byte 0 itself) and its Content-Type (bits 2-3); then, up to the
 * first '\n', the callback's query (appended after the real state when
 * bit 0 is set); the rest is the token endpoint's body.
 *
 * Properties: no heap call, no crash; every final decision passes
 * fz_check_decision; no request is pending on more than three fetches;
 * a session is issued only for the real state with the one ID token this
 * harness signed for its nonce in the body, never otherwise.
 */
#include <stdio.h>
#include <string.h>

#include "fz.h"

#define MAX 16384
#define ISS "https://idp.fuzz"
#define CB "/auth/oidc/f/callback"

static uint8_t pmem[1 << 18];
static const ac_policy *P;
static uint64_t cmem[(1u << 19) / 8];
static uint64_t dmem[(1u << 17) / 8];
static char good_jwks[256], idtok[1024], state_cookie[1400], state[64];
static const char good_conf[] = "{\"issuer\":\"" ISS "\","
    "\"authorization_endpoint\":\"" ISS "/auth\","
    "\"token_endpoint\":\"" ISS "/token\",\"jwks_uri\":\"" ISS "/keys\"}";
static const uint8_t entropy[32] = { 7, 7, 7 };
static fz_es256 key;

/* The ID token for nonce, signed with the fixture's key. */
static void mint(const char *nonce)
{
	static const char hdr[] = "{\"alg\":\"ES256\",\"kid\":\"k\"}";
	char pl[512];

	snprintf(pl, sizeof pl, "{\"iss\":\"" ISS "\",\"aud\":\"c\","
	    "\"sub\":\"u\",\"email\":\"ann@fuzz.example\","
	    "\"email_verified\":true,\"nonce\":\"%s\",\"exp\":%lld}", nonce,
	    (long long)FZ_NOW + 300);
	fz_es256_sign(&key, hdr, pl, idtok, sizeof idtok);
}

static const char *header(const ac_answer *a, const char *name)
{
	size_t i;
	for (i = 0; i < a->n_resp_headers; i++)
		if (a->resp_headers[i].name.len == strlen(name) &&
		    memcmp(a->resp_headers[i].name.ptr, name, strlen(name)) == 0)
			return a->resp_headers[i].value.ptr;
	return NULL;
}

static size_t param(const char *url, const char *name, char *out, size_t cap)
{
	const char *p = strstr(url, name);
	size_t n;

	if (p == NULL)
		fz_die("the start's location lacks a parameter");
	p += strlen(name);
	n = strcspn(p, "&");
	if (n >= cap)
		fz_die("parameter too long");
	memcpy(out, p, n);
	out[n] = 0;
	return n;
}

/* 1 if needle occurs in p[0..n). */
static int contains(const char *p, size_t n, const char *needle)
{
	size_t k = strlen(needle), i;
	for (i = 0; k <= n && i <= n - k; i++)
		if (memcmp(p + i, needle, k) == 0)
			return 1;
	return 0;
}

/* The token request answered with *arg (given), the others as a good
 * provider would. */
static fz_reply answer(const ac_fetch *f, int nth, const void *arg)
{
	(void)nth;
	if (f->method.len == 4 && arg != NULL)
		return *(const fz_reply *)arg;
	return fz_provider_reply(f, good_jwks, good_conf);
}

/* One request; each fetch answered: the token request with tok, the
 * others as a good provider would. */
static const ac_answer *run(ac_jwks_cache *c, ac_request *r,
    const fz_reply *tok, int *fetches)
{
	return fz_fetch_run(P, (ac_decision *)(void *)dmem, c, r, FZ_NOW,
	    entropy, sizeof entropy, 3, answer, tok, fetches, NULL);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const char js[] =
	    "{\"sessions\":{\"keys\":[{\"kid\":\"s\",\"secret\":"
	    "\"fuzz-oidc-session-secret-of-32-bytes!\"}]},"
	    "\"login\":{\"password\":false},"
	    "\"oidc\":{\"providers\":[{\"name\":\"f\",\"issuer\":\"" ISS "\","
	    "\"client_id\":\"c\",\"client_secret\":\"s\",\"algorithms\":[\"ES256\"],"
	    "\"allow\":{\"domains\":[\"fuzz.example\"]}}]},"
	    "\"default\":\"authenticated\"}";
	static char nonce[64];
	ac_policy_error err;
	ac_request r;
	ac_header h;
	const ac_answer *a;
	const char *loc, *sc;
	size_t used;
	int f;

	(void)argc;
	(void)argv;
	fz_es256_key(&key, "fuzz_oidc fixed key", good_jwks, sizeof good_jwks);
	P = ac_policy_load(pmem, sizeof pmem, js, strlen(js), &used, &err);
	if (P == NULL) {
		fprintf(stderr, "%s: %s\n", err.path, err.message);
		fz_die("policy");
	}
	if (ac_sizeof_decision() > sizeof dmem ||
	    ac_sizeof_jwks_cache() > sizeof cmem)
		fz_die("buffers");
	fz_init("fuzz_oidc");
	/* a real start: its state, nonce and cookie (entropy is fixed) */
	fz_hdr(&h, "host", "dash.fuzz", 9);
	fz_request(&r, "GET", 3, "/auth/oidc/f", 12, &h, 1);
	a = run(ac_jwks_cache_init(cmem, sizeof cmem), &r, NULL, &f);
	loc = header(a, "location");
	sc = header(a, "set-cookie");
	if (a->status != 302 || loc == NULL || sc == NULL)
		fz_die("the start did not redirect");
	param(loc, "&state=", state, sizeof state);
	param(loc, "&nonce=", nonce, sizeof nonce);
	snprintf(state_cookie, sizeof state_cookie, "%.*s",
	    (int)strcspn(sc, ";"), sc);
	mint(nonce);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const types[] = { "application/json",
		"application/json; charset=utf-8", "text/html", NULL };
	static char path[4096];
	const uint8_t *nl;
	size_t qlen, blen, n;
	ac_request r;
	ac_header h[2];
	const ac_answer *a;
	const char *sc;
	char *body;
	fz_reply tok;
	int f, real;

	if (size < 1)
		return 0;
	real = data[0] & 1;
	nl = memchr(data + 1, '\n', size - 1);
	qlen = nl ? (size_t)(nl - (data + 1)) : size - 1;
	if (qlen > 2048)
		qlen = 2048;
	blen = nl ? size - 1 - qlen - 1 : 0;
	if (blen > MAX)
		blen = MAX;
	n = (size_t)snprintf(path, sizeof path, CB "?%s%s",
	    real ? "state=" : "", real ? state : "");
	if (real && qlen)
		path[n++] = '&';
	memcpy(path + n, data + 1, qlen);
	n += qlen;
	body = fz_copy(nl ? nl + 1 : (const uint8_t *)"", blen);
	tok.status = (data[0] & 2) ? 200 : (int)data[0];
	tok.ctype = types[(data[0] >> 2) & 3];
	tok.body = body;
	tok.len = blen;
	fz_hdr(&h[0], "host", "dash.fuzz", 9);
	fz_hdr(&h[1], "cookie", state_cookie, strlen(state_cookie));
	fz_request(&r, "GET", 3, path, n, h, real ? 2 : 1);
	a = run(ac_jwks_cache_init(cmem, sizeof cmem), &r, &tok, &f);
	sc = header(a, "set-cookie");
	if (sc != NULL && strncmp(sc, "authcore_session=", 17) == 0) {
		/* a session: only for the real state and the signed token */
		if (!real || tok.status != 200 ||
		    !contains(body, blen, idtok))
			fz_die("a session was issued without the real state and ID token");
	}
	fz_free(body);
	return 0;
}
