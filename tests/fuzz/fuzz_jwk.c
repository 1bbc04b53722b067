/*
 * libFuzzer target: JWK and JWKS loading (ac_jwt_key_jwk, ac_jwks_load),
 * with the keys that load verifying a fixed HS256 token (which only an
 * HS256 key with the fixed secret accepts).
 *
 * Properties: ac_jwks_load returns -1 with a reason, or 1..cap keys, each
 * bound to an allowed algorithm; a refused JWK says why; a key made from
 * a JWK is bound to the alg asked for; the fixed HS256 token verifies
 * only under a set holding an HS256 key.
 */
#include <stdio.h>
#include <string.h>

#include "fz.h"

#define MAX 16384

static const char HS256_SECRET[] = "fuzz-hs256-secret-0123456789abcdef";
static ac_jwt_key jk[AC_KEYS_MAX];
static ac_jwt_checks lax;
static ac_jwt_result res;
static char fixed_token[512];
static size_t fixed_token_len;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const char payload[] = "{\"sub\":\"alice\",\"exp\":2000000000}";
	(void)argc;
	(void)argv;
	ac_jwt_checks_init(&lax);
	fixed_token_len = ac_jwt_sign_hmac(fixed_token, sizeof fixed_token,
	    AC_ALG_HS256, (const uint8_t *)HS256_SECRET, strlen(HS256_SECRET),
	    NULL, 0, payload, strlen(payload));
	if (fixed_token_len == 0)
		fz_die("fixed token");
	fz_init("fuzz_jwk");
	return 0;
}

static void verify_fixed(const ac_jwt_key *k, size_t nk)
{
	ac_reason r;
	size_t i;

	fz_begin();
	r = ac_jwt_verify(k, nk, &lax, fixed_token, fixed_token_len, FZ_NOW,
	    &res);
	fz_end("ac_jwt_verify with loaded keys");
	if (r != AC_OK)
		return;
	/* only an HS256 key of the fixed secret can have verified it */
	for (i = 0; i < nk; i++)
		if (k[i].alg == AC_ALG_HS256)
			return;
	fz_die("the fixed HS256 token verified under a key that is not HS256");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const ac_alg all[] = { AC_ALG_HS256, AC_ALG_HS384, AC_ALG_HS512,
		AC_ALG_RS256, AC_ALG_RS384, AC_ALG_RS512, AC_ALG_PS256,
		AC_ALG_PS384, AC_ALG_PS512, AC_ALG_ES256, AC_ALG_ES384,
		AC_ALG_ES512 };
	static const ac_alg rs[] = { AC_ALG_RS256 };
	const char *s = (const char *)data, *why = NULL;
	size_t n = size > MAX ? MAX : size;
	int bad = 0, k, r, i;

	fz_begin();
	r = ac_jwt_key_jwk(&jk[0], AC_ALG_NONE, s, n, &why);
	fz_end("ac_jwt_key_jwk");
	if (r == 0) {
		if (jk[0].alg <= AC_ALG_NONE || jk[0].alg >= AC_ALG_COUNT)
			fz_die("a JWK key bound to no algorithm");
		verify_fixed(jk, 1);
	} else if (why == NULL) {
		fz_die("ac_jwt_key_jwk refused without a reason");
	}
	fz_begin();
	r = ac_jwt_key_jwk(&jk[1], AC_ALG_ES256, s, n, &why);
	fz_end("ac_jwt_key_jwk ES256");
	if (r == 0 && jk[1].alg != AC_ALG_ES256)
		fz_die("a JWK asked for as ES256 bound to another alg");

	why = NULL;
	fz_begin();
	k = ac_jwks_load(jk, AC_KEYS_MAX, s, n, all, 12, &bad, &why);
	fz_end("ac_jwks_load");
	if (k > AC_KEYS_MAX || k == 0 || k < -1)
		fz_die("ac_jwks_load returned a count outside -1, 1..cap");
	if (k < 0 && why == NULL)
		fz_die("ac_jwks_load failed without a reason");
	if (k > 0)
		verify_fixed(jk, (size_t)k);
	fz_begin();
	k = ac_jwks_load(jk, 2, s, n, rs, 1, &bad, &why);
	fz_end("ac_jwks_load RS256 only");
	if (k > 2)
		fz_die("ac_jwks_load returned more keys than cap");
	for (i = 0; i < k; i++)
		if (jk[i].alg != AC_ALG_RS256)
			fz_die("ac_jwks_load bound a key to an alg not allowed");
	fz_begin();
	k = ac_jwks_load(jk, AC_KEYS_MAX, s, n, NULL, 0, &bad, &why);
	fz_end("ac_jwks_load any alg");
	for (i = 0; i < k; i++)
		if (jk[i].alg <= AC_ALG_NONE || jk[i].alg >= AC_ALG_COUNT)
			fz_die("a JWKS key bound to no algorithm");
	return 0;
}
