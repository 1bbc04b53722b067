/*
 * The core's verify path as wasm, for the Node benchmark (tools/bench/
 * bench_node.mjs): the same library the edge module links (EM_LIBS), with
 * ac_jwt_verify exported directly, so the figure has no request encoding
 * and no decision JSON in it. Built by tools/bench/bench.mk with Debian's
 * emcc; never shipped.
 */
#include <stdlib.h>
#include <string.h>

#include <emscripten.h>

#include "authcore.h"

static ac_jwt_key key;
static ac_jwt_checks checks;
static ac_jwt_result res;
static char iss[256], aud[256];

EMSCRIPTEN_KEEPALIVE void *bw_alloc(size_t n)
{
	return malloc(n ? n : 1);
}

/* HS256 key and the checks every driver applies: exp required (leeway
 * 60 s), iss, aud. Returns 0, or -1 if the key or strings are refused. */
EMSCRIPTEN_KEEPALIVE int bw_setup(const uint8_t *secret, size_t secret_len,
    const char *i, size_t ilen, const char *a, size_t alen)
{
	if (ilen >= sizeof iss || alen >= sizeof aud)
		return -1;
	memcpy(iss, i, ilen);
	memcpy(aud, a, alen);
	ac_jwt_checks_init(&checks);
	checks.leeway = 60;
	checks.require_exp = 1;
	checks.issuer.ptr = iss;
	checks.issuer.len = ilen;
	checks.audiences[0].ptr = aud;
	checks.audiences[0].len = alen;
	checks.n_audiences = 1;
	return ac_jwt_key_hmac(&key, AC_ALG_HS256, secret, secret_len, NULL,
	    0);
}

/* One verification (+ sub present): 1 if the token passes, else 0. */
EMSCRIPTEN_KEEPALIVE int bw_verify(const char *tok, size_t len, double now)
{
	return ac_jwt_verify(&key, 1, &checks, tok, len, (int64_t)now,
	    &res) == AC_OK && res.user.ptr != NULL;
}

/* n verifications inside wasm (no JS call per verification). Returns how
 * many passed. */
EMSCRIPTEN_KEEPALIVE int bw_verify_loop(const char *tok, size_t len,
    double now, int n)
{
	int ok = 0;
	for (int k = 0; k < n; k++)
		ok += bw_verify(tok, len, now);
	return ok;
}
