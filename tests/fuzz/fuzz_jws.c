/*
 * libFuzzer target: compact JWS parsing (ac_jws_verify) and the claim
 * checks behind a valid signature (ac_jwt_verify), against HMAC keys only,
 * so that the fuzzer's time goes to parsing rather than to RSA or ECDSA.
 *
 * Input, two ways:
 *  1. the bytes as a token (libFuzzer's exact-size buffer, so a read past
 *     its end is an ASan report);
 *  2. lines as a JOSE header and a payload (one line: the payload under
 *     {"alg":"HS256","kid":"hs256"}), signed here with one of the fixed
 *     HMAC keys (by input length; HS256 with the default header) into an exact-size buffer: the parser and the claim checks see
 *     arbitrary headers and payloads behind a valid signature.
 *
 * Properties: a token verifies only with its payload decoded exactly and
 * the header's alg; a token this target signed under the default header
 * verifies, and so does one ac_jwt_sign_hmac made; changing one bit of a
 * token that verifies makes it fail; ac_jwt_verify's return and
 * res->reason agree, and a verified result has at most AC_ROLES_MAX roles
 * and user/roles slices inside the result.
 */
#include <stdio.h>
#include <string.h>

#include "fz.h"

#define MAX 16384

static const char HS256_SECRET[] = "fuzz-hs256-secret-0123456789abcdef";
static const char HS384_SECRET[] =
    "fuzz-hs384-secret-0123456789abcdef0123456789abcdef";
static const char HS512_SECRET[] =
    "fuzz-hs512-secret-0123456789abcdef0123456789abcdef0123456789abcdef";
static const char HS256B_SECRET[] = "fuzz-hs256-second-key-abcdefghijklmnop";

static ac_jwt_key keys[4];
static ac_jwt_checks strict, lax;
static ac_jws_header hdr;
static ac_jwt_result res;
static char tok[3 * MAX];
/* exactly AC_JWT_PAYLOAD_MAX bytes on the heap: a write past the cap the
 * core is given is an ASan report */
static uint8_t *pbuf, *pbuf2;

static void check_result(ac_reason r)
{
	size_t i;

	if (r != res.reason)
		fz_die("ac_jwt_verify return and res->reason differ");
	if (r != AC_OK)
		return;
	if (res.n_roles > AC_ROLES_MAX)
		fz_die("too many roles");
	if (res.payload_len > sizeof res.payload)
		fz_die("payload_len past the payload buffer");
	for (i = 0; i <= res.n_roles; i++) {
		ac_str s = i < res.n_roles ? res.roles[i] : res.user;
		if (s.ptr != NULL && s.len > 0 &&
		    (s.ptr < res.text || s.ptr + s.len > res.text + sizeof res.text) &&
		    (s.ptr < (const char *)res.payload ||
		    s.ptr + s.len > (const char *)res.payload + sizeof res.payload))
			fz_die("user or role slice outside the result");
	}
}

/* Verifies tok[0..tl) from an exact-size copy; returns the JWS reason. */
static ac_reason verify_copy(size_t tl, uint8_t **payload, size_t *plen)
{
	char *c = fz_copy(tok, tl);
	ac_reason r;

	*payload = pbuf;
	fz_begin();
	r = ac_jws_verify(keys, 4, c, tl, &hdr, *payload, AC_JWT_PAYLOAD_MAX,
	    plen);
	fz_end("ac_jws_verify (signed here)");
	fz_begin();
	check_result(ac_jwt_verify(keys, 4, tl & 1 ? &lax : &strict, c, tl,
	    FZ_NOW, &res));
	fz_end("ac_jwt_verify (signed here)");
	fz_free(c);
	return r;
}

/* A token that verifies stops verifying with any one bit changed. */
static void flip_check(const char *t, size_t tl, size_t at)
{
	char *c = fz_copy(t, tl);
	uint8_t *p = pbuf2;
	size_t pl;
	ac_reason r;

	c[at % tl] ^= (char)(1 << (at / tl % 8));
	fz_begin();
	r = ac_jws_verify(keys, 4, c, tl, &hdr, p, AC_JWT_PAYLOAD_MAX, &pl);
	fz_end("ac_jws_verify (one bit changed)");
	if (r == AC_OK) {
		fz_dump("token", t, tl);
		fz_dump("changed", c, tl);
		fz_die("a token with one bit changed still verifies");
	}
	fz_free(c);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if (ac_jwt_key_hmac(&keys[0], AC_ALG_HS256,
	    (const uint8_t *)HS256_SECRET, strlen(HS256_SECRET), "hs256", 5) ||
	    ac_jwt_key_hmac(&keys[1], AC_ALG_HS256,
	    (const uint8_t *)HS256B_SECRET, strlen(HS256B_SECRET), "k2", 2) ||
	    ac_jwt_key_hmac(&keys[2], AC_ALG_HS384,
	    (const uint8_t *)HS384_SECRET, strlen(HS384_SECRET), "hs384", 5) ||
	    ac_jwt_key_hmac(&keys[3], AC_ALG_HS512,
	    (const uint8_t *)HS512_SECRET, strlen(HS512_SECRET), NULL, 0))
		fz_die("fixed HMAC keys refused");
	ac_jwt_checks_init(&lax);
	ac_jwt_checks_init(&strict);
	strict.leeway = 60;
	strict.require_exp = 1;
	strict.issuer.ptr = "https://issuer.example";
	strict.issuer.len = strlen(strict.issuer.ptr);
	strict.audiences[0].ptr = "api";
	strict.audiences[0].len = 3;
	strict.audiences[1].ptr = "dashboard";
	strict.audiences[1].len = 9;
	strict.n_audiences = 2;
	strict.typ.ptr = "JWT";
	strict.typ.len = 3;
	strict.max_age = 86400;
	strict.user_claim.ptr = "user.id";
	strict.user_claim.len = 7;
	strict.roles_claim.ptr = "scope";
	strict.roles_claim.len = 5;
	pbuf = (uint8_t *)fz_alloc(AC_JWT_PAYLOAD_MAX);
	pbuf2 = (uint8_t *)fz_alloc(AC_JWT_PAYLOAD_MAX);
	fz_init("fuzz_jws");
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char def_hdr[] = "{\"alg\":\"HS256\",\"kid\":\"hs256\"}";
	static const struct { ac_alg alg; const char *secret; } K[] = {
		{ AC_ALG_HS256, HS256_SECRET },
		{ AC_ALG_HS384, HS384_SECRET },
		{ AC_ALG_HS512, HS512_SECRET },
	};
	const char *s = (const char *)data;
	size_t n = size > MAX ? MAX : size, pl = 0, tl, i, nl;
	uint8_t *payload;
	ac_reason r;
	ac_str L[2];

	/* 1. the bytes as a token */
	payload = pbuf;
	fz_begin();
	r = ac_jws_verify(keys, 4, s, n, &hdr, payload, AC_JWT_PAYLOAD_MAX, &pl);
	fz_end("ac_jws_verify");
	if (r == AC_OK) {
		if (pl > AC_JWT_PAYLOAD_MAX || ac_alg_family(hdr.alg) != 'H')
			fz_die("verified with a payload too long or a non-HMAC alg");
		flip_check(s, n, pl * 31 + n);
	}
	fz_begin();
	check_result(ac_jwt_verify(keys, 4, &strict, s, n, FZ_NOW, &res));
	check_result(ac_jwt_verify(keys, 4, &lax, s, n, FZ_NOW, &res));
	/* one key only, no kid */
	check_result(ac_jwt_verify(keys + 3, 1, &lax, s, n, FZ_NOW, &res));
	fz_end("ac_jwt_verify");

	/* 2. signed here: header and payload lines, or the payload alone */
	nl = fz_lines(s, n, L, 2);
	/* one key per input (by length), to keep the rate up */
	i = nl == 2 ? n % 3 : 0;
	do {
		const char *h = def_hdr, *p = s;
		size_t hl = strlen(def_hdr), pll = n;
		if (nl == 2) {
			h = L[0].ptr;
			hl = L[0].len;
			p = L[1].ptr;
			pll = L[1].len;
		}
		tl = fz_mint(tok, sizeof tok, K[i].alg, K[i].secret, h, hl, p, pll);
		if (tl == 0)
			continue;
		r = verify_copy(tl, &payload, &pl);
		if (r == AC_OK) {
			if (pl != pll || memcmp(payload, p, pll) != 0)
				fz_die("a verified payload differs from the one signed");
			if (hdr.alg != K[i].alg)
				fz_die("verified under an alg other than the signer's");
			flip_check(tok, tl, n * 7 + i);
		} else if (nl == 1 && pll > 0 && pll <= AC_JWT_PAYLOAD_MAX &&
		    tl <= AC_TOKEN_MAX) {
			fz_dump("payload", p, pll);
			fz_die("a token signed with the default header fails");
		}
	} while (0);

	/* the core's own signer: never a signature failure on what it signed */
	{
		const char *p = nl == 2 ? L[1].ptr : s;
		size_t pll = nl == 2 ? L[1].len : n;
		fz_begin();
		tl = ac_jwt_sign_hmac(tok, sizeof tok, AC_ALG_HS384,
		    (const uint8_t *)HS384_SECRET, strlen(HS384_SECRET), "hs384",
		    5, p, pll);
		fz_end("ac_jwt_sign_hmac");
		if (tl > 0) {
			r = verify_copy(tl, &payload, &pl);
			if (r != AC_OK && !(r == AC_MALFORMED && pll > AC_JWT_PAYLOAD_MAX)
			    && tl <= AC_TOKEN_MAX) {
				fz_dump("payload", p, pll);
				fprintf(stderr, "fuzz_jws: reason %s\n", ac_reason_name(r));
				fz_die("a token ac_jwt_sign_hmac made does not verify");
			}
		}
	}
	return 0;
}
