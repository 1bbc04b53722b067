/*
 * The core's verify path, ES256/384/512 signature checks and PBKDF2 as
 * wasm, for the Node benchmark
 * (tools/bench/bench_node.mjs) and the workerd one (tools/bench/
 * bench_worker.mjs): the same library the edge module links (EM_LIBS),
 * with ac_jwt_verify and ac_pbkdf2 exported directly, so the figures have
 * no request encoding and no decision JSON in them. Built by
 * tools/bench/bench.mk with Debian's emcc; never shipped.
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

/* One PBKDF2-HMAC-SHA256 (ac_pbkdf2; in wasm the core always uses BearSSL's
 * portable SHA-256) into out[dk_len]. Returns 0, or -1 if ac_pbkdf2
 * refused an argument. */
EMSCRIPTEN_KEEPALIVE int bw_pbkdf2(uint8_t *out, size_t dk_len,
    const uint8_t *pw, size_t plen, const uint8_t *salt, size_t slen,
    uint32_t iterations)
{
	return ac_pbkdf2(out, AC_PBKDF2_SHA256, pw, plen, salt, slen,
	    iterations, dk_len);
}

static ac_jwt_key es_key;

/* An EC key for ES256, ES384 or ES512 (bits 256, 384, 512) from PEM
 * (SPKI). Returns 0, or -1 if refused. */
EMSCRIPTEN_KEEPALIVE int bw_es_setup(int bits, const char *pem, size_t len)
{
	ac_alg alg = bits == 384 ? AC_ALG_ES384 :
	    bits == 512 ? AC_ALG_ES512 : AC_ALG_ES256;

	return ac_jwt_key_pem(&es_key, alg, pem, len, NULL, 0);
}

/* n checks (ac_jws_check: hash and ECDSA verification) of the raw r || s
 * signature over in[0..len) inside wasm. Returns how many passed. */
EMSCRIPTEN_KEEPALIVE int bw_es_check_loop(const char *in, size_t len,
    const uint8_t *sig, size_t sig_len, int n)
{
	int ok = 0;
	for (int k = 0; k < n; k++)
		ok += ac_jws_check(&es_key, in, len, sig, sig_len);
	return ok;
}
