/*
 * Unit tests for core/. Self-contained (no files, no clock) so the same
 * program runs natively, under ASan+UBSan, and as WASI wasm under Node.
 * Prints "ok - name" / "not ok - name: where" per check (tests/run.sh counts).
 *
 * Built with -DAC_TEST_COUNT_HEAP natively: malloc and friends are wrapped
 * (the linker's --wrap) so the run proves that policy loading, signing and
 * deciding make no heap call at all, not only that core objects lack the
 * symbols.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <bearssl.h>

#include "authcore.h"
#include "ac_decision_int.h"
#include "ac_internal.h"
#include "ac_request_int.h"
#include "ac_state_int.h"

#include "fixtures.h"

/* ---- helpers (and SECRET, sign, load, str_is: fixtures.h) ---- */
static ac_reason verify_with(const char *secret, ac_alg alg,
    const ac_jwt_checks *ck, const char *tok, int64_t now)
{
	static ac_jwt_result res;
	ac_jwt_key k;
	if (ac_jwt_key_hmac(&k, alg, (const uint8_t *)secret, strlen(secret),
	    NULL, 0) < 0)
		return AC_REASON_COUNT;
	return ac_jwt_verify(&k, 1, ck, tok, strlen(tok), now, &res);
}

/* Builds header.payload.AA from raw JSON: a token whose signature is wrong,
 * for checks that are decided before the signature (the header's). */
static const char *forge(const char *header, const char *payload)
{
	static char tok[AC_TOKEN_MAX];
	size_t o;

	o = ac_b64url_encode(tok, sizeof tok, header, strlen(header));
	tok[o++] = '.';
	o += ac_b64url_encode(tok + o, sizeof tok - o, payload, strlen(payload));
	memcpy(tok + o, ".AA", 4);
	return tok;
}

/* ---- tests ---- */
static void test_base64url(void)
{
	static const struct {
		const char *plain, *enc;
	} v[] = { { "", "" }, { "f", "Zg" }, { "fo", "Zm8" }, { "foo", "Zm9v" },
		{ "foob", "Zm9vYg" }, { "fooba", "Zm9vYmE" },
		{ "foobar", "Zm9vYmFy" }, { "\xfb\xff", "-_8" } };
	uint8_t buf[64];
	char enc[64];
	size_t n, i;

	begin("base64url RFC 4648 vectors round-trip");
	for (i = 0; i < sizeof v / sizeof v[0]; i++) {
		size_t pl = strlen(v[i].plain);
		n = ac_b64url_encode(enc, sizeof enc, v[i].plain, pl);
		CHECK(n == strlen(v[i].enc) && memcmp(enc, v[i].enc, n) == 0);
		CHECK(ac_b64url_decode(buf, sizeof buf, &n, v[i].enc,
		    strlen(v[i].enc)) == 0);
		CHECK(n == pl && memcmp(buf, v[i].plain, n) == 0);
	}
	end();

	begin("base64url decoder is strict");
	CHECK(ac_b64url_decode(buf, sizeof buf, &n, "Zg==", 4) < 0); /* padding */
	CHECK(ac_b64url_decode(buf, sizeof buf, &n, "+_8", 3) < 0);  /* '+' */
	CHECK(ac_b64url_decode(buf, sizeof buf, &n, "/_8", 3) < 0);  /* '/' */
	CHECK(ac_b64url_decode(buf, sizeof buf, &n, "Zm 9v", 5) < 0); /* space */
	CHECK(ac_b64url_decode(buf, sizeof buf, &n, "Zm9vY", 5) < 0); /* len%4==1 */
	CHECK(ac_b64url_decode(buf, sizeof buf, &n, "Zh", 2) < 0); /* trailing bits */
	CHECK(ac_b64url_decode(buf, sizeof buf, &n, "Zm9", 3) < 0); /* trailing bits */
	CHECK(ac_b64url_decode(buf, 2, &n, "Zm9v", 4) < 0);          /* no room */
	end();
}

static void test_ct_equal(void)
{
	begin("constant-time equal");
	CHECK(ac_ct_equal("abcd", "abcd", 4) == 1);
	CHECK(ac_ct_equal("abcd", "abce", 4) == 0);
	CHECK(ac_ct_equal("\x80", "\x00", 1) == 0);
	CHECK(ac_ct_equal("", "", 0) == 1);
	end();
}

static void test_rfc4231(void)
{
	/* RFC 4231 cases 6 and 7 (131-byte key); cases 1-4 use keys shorter
	 * than any JWS HMAC allows (RFC 7518 3.2), which must be refused */
	static const char d6[] = "Test Using Larger Than Block-Size Key - Hash Key First";
	static const char d7[] = "This is a test using a larger than block-size key and "
	    "a larger than block-size data. The key needs to be hashed before "
	    "being used by the HMAC algorithm.";
	static const struct {
		const char *data;
		ac_alg alg;
		const char *mac;
	} v[] = {
		{ d6, AC_ALG_HS256, "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54" },
		{ d6, AC_ALG_HS384, "4ece084485813e9088d2c63a041bc5b44f9ef1012a2b588f3cd11f05033ac4c60c2ef6ab4030fe8296248df163f44952" },
		{ d6, AC_ALG_HS512, "80b24263c7c1a3ebb71493c1dd7be8b49b46d1f41b4aeec1121b013783f8f3526b56d037e05f2598bd0fd2215d6a1e5295e64f73f63f0aec8b915a985d786598" },
		{ d7, AC_ALG_HS256, "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2" },
		{ d7, AC_ALG_HS384, "6617178e941f020d351e2f254e8fd32c602420feb0b8fb9adccebb82461e99c5a678cc31e799176d3860e6110c46523e" },
		{ d7, AC_ALG_HS512, "e37b6a775dc87dbaa4dfa9f96e5e3ffddebd71f8867289865df5a32d20cdc944b6022cac3c4982b10d5eeb55c3e4de15134676fb6de0446065c97440fa8c6a58" },
	};
	static const size_t short_keys[] = { 20, 4, 20, 25 };
	uint8_t key[131], mac[64];
	ac_jwt_key k;
	size_t i, ml;

	begin("RFC 4231 HMAC-SHA-256/384/512 (cases 6, 7; short keys of 1-4 refused)");
	memset(key, 0xaa, sizeof key);
	for (i = 0; i < sizeof v / sizeof v[0]; i++) {
		ml = from_hex(mac, sizeof mac, v[i].mac);
		CHECK(ac_jwt_key_hmac(&k, v[i].alg, key, sizeof key, NULL, 0) == 0);
		CHECK(ac_jws_check(&k, v[i].data, strlen(v[i].data), mac, ml) == 1);
		mac[ml - 1] ^= 1;
		CHECK(ac_jws_check(&k, v[i].data, strlen(v[i].data), mac, ml) == 0);
		CHECK(ac_jws_check(&k, v[i].data, strlen(v[i].data), mac, ml - 1) == 0);
	}
	for (i = 0; i < 4; i++)
		CHECK(ac_jwt_key_hmac(&k, AC_ALG_HS256, key, short_keys[i], NULL, 0) < 0);
	end();
}

static void test_rfc7515_a1(void)
{
	/* RFC 7515 Appendix A.1: HS256, key from the JWK "k" */
	static const char k64[] = "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T"
	    "-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow";
	static const char tok[] =
	    "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9."
	    "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFt"
	    "cGxlLmNvbS9pc19yb290Ijp0cnVlfQ."
	    "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
	static ac_jwt_result res;
	uint8_t key[64];
	size_t kl;
	ac_jwt_key k;
	ac_jwt_checks ck;
	char bad[sizeof tok];

	begin("RFC 7515 A.1 HS256 verifies; expiry honoured; tamper fails");
	CHECK(ac_b64url_decode(key, sizeof key, &kl, k64, strlen(k64)) == 0);
	CHECK(ac_jwt_key_hmac(&k, AC_ALG_HS256, key, kl, NULL, 0) == 0);
	ac_jwt_checks_init(&ck);
	ck.issuer.ptr = "joe";
	ck.issuer.len = 3;
	CHECK(ac_jwt_verify(&k, 1, &ck, tok, strlen(tok), 1300819379, &res) ==
	    AC_OK);
	CHECK(res.has_exp && res.exp == 1300819380);
	CHECK(ac_jwt_verify(&k, 1, &ck, tok, strlen(tok), 1300819380, &res) ==
	    AC_EXPIRED);
	ck.leeway = 5;
	CHECK(ac_jwt_verify(&k, 1, &ck, tok, strlen(tok), 1300819384, &res) ==
	    AC_OK);
	CHECK(ac_jwt_verify(&k, 1, &ck, tok, strlen(tok), 1300819385, &res) ==
	    AC_EXPIRED);
	memcpy(bad, tok, sizeof tok);
	bad[strlen(bad) - 2] = bad[strlen(bad) - 2] == 'X' ? 'Y' : 'X';
	CHECK(ac_jwt_verify(&k, 1, &ck, bad, strlen(bad), 1300819379, &res) ==
	    AC_BAD_SIGNATURE);
	ck.issuer.ptr = "jim";
	CHECK(ac_jwt_verify(&k, 1, &ck, tok, strlen(tok), 1300819379, &res) ==
	    AC_BAD_ISSUER);
	end();
}

static void test_rfc7520_4_4(void)
{
	/* RFC 7520 section 4.4: HS256 with kid. Its payload is prose, not a
	 * JSON object, so a JWT verifier must refuse it as malformed AFTER the
	 * signature holds; a wrong kid or a flipped bit fails earlier. */
	static const char k64[] = "hJtXIZ2uSN5kbQfbtTNWbpdmhkV8FJG-Onbc6mxCcYg";
	static const char kid[] = "018c0ae5-4d9b-471b-bfd6-eef314bc7037";
	static const char tok[] =
	    "eyJhbGciOiJIUzI1NiIsImtpZCI6IjAxOGMwYWU1LTRkOWItNDcxYi1iZmQ2LWVl"
	    "ZjMxNGJjNzAzNyJ9."
	    "SXTigJlzIGEgZGFuZ2Vyb3VzIGJ1c2luZXNzLCBGcm9kbywgZ29pbmcgb3V0IHlvd"
	    "XIgZG9vci4gWW91IHN0ZXAgb250byB0aGUgcm9hZCwgYW5kIGlmIHlvdSBkb24ndC"
	    "BrZWVwIHlvdXIgZmVldCwgdGhlcmXigJlzIG5vIGtub3dpbmcgd2hlcmUgeW91IG1"
	    "pZ2h0IGJlIHN3ZXB0IG9mZiB0by4."
	    "s0h6KThzkfBBBkLspW1h84VsJZFTsPPqMDA7g1Md7p0";
	static ac_jwt_result res;
	uint8_t key[32];
	size_t kl;
	ac_jwt_key k;
	ac_jwt_checks ck;
	char bad[sizeof tok];

	begin("RFC 7520 4.4 HS256 with kid: signature holds, kid selects");
	ac_jwt_checks_init(&ck);
	CHECK(ac_b64url_decode(key, sizeof key, &kl, k64, strlen(k64)) == 0);
	CHECK(ac_jwt_key_hmac(&k, AC_ALG_HS256, key, kl, kid, strlen(kid)) == 0);
	CHECK(ac_jwt_verify(&k, 1, &ck, tok, strlen(tok), 0, &res) ==
	    AC_MALFORMED);
	memcpy(bad, tok, sizeof tok);
	bad[strlen(bad) - 3] = bad[strlen(bad) - 3] == 'a' ? 'b' : 'a';
	CHECK(ac_jwt_verify(&k, 1, &ck, bad, strlen(bad), 0, &res) ==
	    AC_BAD_SIGNATURE);
	CHECK(ac_jwt_key_hmac(&k, AC_ALG_HS256, key, kl, "other", 5) == 0);
	CHECK(ac_jwt_verify(&k, 1, &ck, tok, strlen(tok), 0, &res) ==
	    AC_UNKNOWN_KID);
	end();
}

static void test_sign_verify_roundtrip(void)
{
	static const struct {
		ac_alg alg;
		const char *secret;
	} v[] = {
		{ AC_ALG_HS256, "0123456789abcdef0123456789abcdef" },
		{ AC_ALG_HS384, "0123456789abcdef0123456789abcdef0123456789abcdef" },
		{ AC_ALG_HS512, "0123456789abcdef0123456789abcdef0123456789abcdef"
		    "0123456789abcdef" },
	};
	static char tok[AC_TOKEN_MAX];
	static ac_jwt_result res;
	ac_jwt_checks ck;
	ac_jwt_key k[2];
	size_t i, n;
	const char *okp = "{\"sub\":\"alice\",\"roles\":[\"r1\",\"r2\"],\"exp\":100}";
	const char *payload = "{\"sub\":\"al\\u0069ce\",\"roles\":[\"a\",\"b\\n\"],\"exp\":100}";

	begin("sign/verify round trip for HS256, HS384, HS512; alg binding");
	ac_jwt_checks_init(&ck);
	for (i = 0; i < 3; i++) {
		n = ac_jwt_sign_hmac(tok, sizeof tok, v[i].alg,
		    (const uint8_t *)v[i].secret, strlen(v[i].secret), "kid1", 4,
		    okp, strlen(okp));
		CHECK(n > 0);
		CHECK(ac_jwt_key_hmac(&k[0], v[i].alg, (const uint8_t *)v[i].secret,
		    strlen(v[i].secret), "kid1", 4) == 0);
		CHECK(ac_jwt_verify(k, 1, &ck, tok, n, 99, &res) == AC_OK);
		CHECK(res.alg == v[i].alg);
		CHECK(res.user.len == 5 && memcmp(res.user.ptr, "alice", 5) == 0);
		CHECK(res.n_roles == 2 && res.roles[1].len == 2);
		/* the same secret bound to another alg never verifies it */
		CHECK(ac_jwt_key_hmac(&k[0], v[(i + 1) % 3].alg,
		    (const uint8_t *)v[2].secret, strlen(v[2].secret), NULL, 0) == 0);
		CHECK(ac_jwt_verify(k, 1, &ck, tok, n, 99, &res) ==
		    AC_ALG_NOT_ALLOWED);
	}
	/* short keys are refused for every alg */
	CHECK(ac_jwt_key_hmac(&k[0], AC_ALG_HS256, (const uint8_t *)"short", 5,
	    NULL, 0) < 0);
	CHECK(ac_jwt_key_hmac(&k[0], AC_ALG_HS512, (const uint8_t *)v[0].secret,
	    32, NULL, 0) < 0);
	CHECK(ac_jwt_sign_hmac(tok, sizeof tok, AC_ALG_HS256,
	    (const uint8_t *)"short", 5, NULL, 0, "{}", 2) == 0);
	/* a payload that is not an object is not signed */
	CHECK(ac_jwt_sign_hmac(tok, sizeof tok, AC_ALG_HS256,
	    (const uint8_t *)v[0].secret, 32, NULL, 0, "[1]", 3) == 0);
	/* escapes resolve; a control character in a role is refused */
	n = ac_jwt_sign_hmac(tok, sizeof tok, AC_ALG_HS256,
	    (const uint8_t *)v[0].secret, 32, NULL, 0, payload, strlen(payload));
	CHECK(ac_jwt_key_hmac(&k[0], AC_ALG_HS256, (const uint8_t *)v[0].secret,
	    32, NULL, 0) == 0);
	CHECK(ac_jwt_verify(k, 1, &ck, tok, n, 99, &res) == AC_BAD_CLAIM);
	end();
}

static void test_claims(void)
{
	ac_jwt_checks ck;
	static const char *const bad_time[] = {
		"{\"exp\":\"9999999999\"}", "{\"exp\":1e10}", "{\"exp\":99.5}",
		"{\"exp\":true}", "{\"exp\":null}", "{\"nbf\":[1]}",
		"{\"iat\":\"1\"}", "{\"exp\":99999999999999999999}",
	};
	size_t i;

	begin("time claims must be 64-bit JSON integers");
	ac_jwt_checks_init(&ck);
	for (i = 0; i < sizeof bad_time / sizeof bad_time[0]; i++)
		CHECK(verify_with(SECRET, AC_ALG_HS256, &ck, sign(bad_time[i]),
		    100) == AC_BAD_CLAIM);
	CHECK(verify_with(SECRET, AC_ALG_HS256, &ck,
	    sign("{\"exp\":9223372036854775807}"), 100) == AC_OK);
	CHECK(verify_with(SECRET, AC_ALG_HS256, &ck,
	    sign("{\"exp\":-1}"), 100) == AC_EXPIRED);
	end();

	begin("exp/nbf boundaries with leeway; require_exp");
	ac_jwt_checks_init(&ck);
	CHECK(verify_with(SECRET, AC_ALG_HS256, &ck, sign("{\"exp\":100}"), 99) == AC_OK);
	CHECK(verify_with(SECRET, AC_ALG_HS256, &ck, sign("{\"exp\":100}"), 100) == AC_EXPIRED);
	CHECK(verify_with(SECRET, AC_ALG_HS256, &ck, sign("{\"nbf\":100}"), 100) == AC_OK);
	CHECK(verify_with(SECRET, AC_ALG_HS256, &ck, sign("{\"nbf\":100}"), 99) == AC_NOT_YET_VALID);
	ck.leeway = 60;
	CHECK(verify_with(SECRET, AC_ALG_HS256, &ck, sign("{\"exp\":100}"), 159) == AC_OK);
	CHECK(verify_with(SECRET, AC_ALG_HS256, &ck, sign("{\"exp\":100}"), 160) == AC_EXPIRED);
	CHECK(verify_with(SECRET, AC_ALG_HS256, &ck, sign("{\"nbf\":100}"), 40) == AC_OK);
	CHECK(verify_with(SECRET, AC_ALG_HS256, &ck, sign("{\"nbf\":100}"), 39) == AC_NOT_YET_VALID);
	CHECK(verify_with(SECRET, AC_ALG_HS256, &ck, sign("{}"), 1) == AC_OK);
	ck.require_exp = 1;
	CHECK(verify_with(SECRET, AC_ALG_HS256, &ck, sign("{}"), 1) == AC_MISSING_CLAIM);
	end();

	begin("aud: string or array of strings, any match");
	ac_jwt_checks_init(&ck);
	ck.audiences[0].ptr = "api";
	ck.audiences[0].len = 3;
	ck.audiences[1].ptr = "web";
	ck.audiences[1].len = 3;
	ck.n_audiences = 2;
	CHECK(verify_with(SECRET, AC_ALG_HS256, &ck, sign("{\"aud\":\"web\"}"), 1) == AC_OK);
	CHECK(verify_with(SECRET, AC_ALG_HS256, &ck, sign("{\"aud\":[\"x\",\"api\"]}"), 1) == AC_OK);
	CHECK(verify_with(SECRET, AC_ALG_HS256, &ck, sign("{\"aud\":\"API\"}"), 1) == AC_BAD_AUDIENCE);
	CHECK(verify_with(SECRET, AC_ALG_HS256, &ck, sign("{\"aud\":[\"api\",1]}"), 1) == AC_BAD_AUDIENCE);
	CHECK(verify_with(SECRET, AC_ALG_HS256, &ck, sign("{\"aud\":{\"api\":1}}"), 1) == AC_BAD_AUDIENCE);
	CHECK(verify_with(SECRET, AC_ALG_HS256, &ck, sign("{}"), 1) == AC_BAD_AUDIENCE);
	CHECK(verify_with(SECRET, AC_ALG_HS256, &ck, sign("{\"aud\":[]}"), 1) == AC_BAD_AUDIENCE);
	end();

	begin("duplicate claim names are refused, even via escapes");
	ac_jwt_checks_init(&ck);
	CHECK(verify_with(SECRET, AC_ALG_HS256, &ck, sign("{\"sub\":\"a\",\"sub\":\"b\"}"), 1) == AC_MALFORMED);
	CHECK(verify_with(SECRET, AC_ALG_HS256, &ck, sign("{\"sub\":\"a\",\"s\\u0075b\":\"b\"}"), 1) == AC_MALFORMED);
	/* the escaped name first: the plain one is compared to its decoding */
	CHECK(verify_with(SECRET, AC_ALG_HS256, &ck, sign("{\"s\\u0075b\":\"a\",\"sub\":\"b\"}"), 1) == AC_MALFORMED);
	CHECK(verify_with(SECRET, AC_ALG_HS256, &ck, sign("{\"s\\u0075b\":\"a\",\"\\u0073ub\":\"b\"}"), 1) == AC_MALFORMED);
	/* names that only look alike are two names */
	CHECK(verify_with(SECRET, AC_ALG_HS256, &ck, sign("{\"s\\u0075c\":\"a\",\"sub\":\"b\"}"), 1) == AC_OK);
	CHECK(verify_with(SECRET, AC_ALG_HS256, &ck, sign("{\"sub\":\"a\",\"s\\u0075bx\":\"b\"}"), 1) == AC_OK);
	/* lookups are case-sensitive: "EXP" is not exp */
	CHECK(verify_with(SECRET, AC_ALG_HS256, &ck, sign("{\"EXP\":1}"), 100) == AC_OK);
	end();

	begin("JSON nesting is bounded (header scanned before the signature)");
	{
		char deep[128] = "{\"alg\":\"HS256\",\"a\":";
		static char tok[256];
		ac_jwt_key k;
		static ac_jwt_result res;
		size_t i2, l = strlen(deep);
		for (i2 = 0; i2 < 20; i2++)
			deep[l++] = '[';
		for (i2 = 0; i2 < 20; i2++)
			deep[l++] = ']';
		deep[l++] = '}';
		deep[l] = 0;
		CHECK(ac_jwt_key_hmac(&k, AC_ALG_HS256, (const uint8_t *)SECRET,
		    strlen(SECRET), NULL, 0) == 0);
		CHECK(ac_jwt_verify(&k, 1, &ck, forge(deep, "{}"),
		    strlen(forge(deep, "{}")), 1, &res) == AC_MALFORMED);
		/* and the signer refuses to sign such a payload */
		deep[14] = '{'; /* {"a":[[...]]} */
		CHECK(ac_jwt_sign_hmac(tok, sizeof tok, AC_ALG_HS256,
		    (const uint8_t *)SECRET, strlen(SECRET), NULL, 0, deep + 14,
		    strlen(deep + 14)) == 0);
		CHECK(ac_jwt_sign_hmac(tok, sizeof tok, AC_ALG_HS256,
		    (const uint8_t *)SECRET, strlen(SECRET), NULL, 0,
		    "{\"a\":[[[]]]}", 12) > 0);
	}
	end();
}

static void test_hostile_tokens(void)
{
	static ac_jwt_result res;
	ac_jwt_checks ck;
	ac_jwt_key k;
	static char big[AC_TOKEN_MAX + 10];
	static const struct {
		const char *hdr;
		ac_reason want;
	} h[] = {
		{ "{\"alg\":\"none\"}", AC_ALG_NOT_ALLOWED },
		{ "{\"alg\":\"None\"}", AC_ALG_NOT_ALLOWED },
		{ "{\"alg\":\"NONE\"}", AC_ALG_NOT_ALLOWED },
		{ "{\"alg\":\"hs256\"}", AC_ALG_NOT_ALLOWED },
		{ "{\"alg\":\"RS256\"}", AC_ALG_NOT_ALLOWED },
		{ "{\"alg\":\"HS384\"}", AC_ALG_NOT_ALLOWED },
		{ "{\"typ\":\"JWT\"}", AC_ALG_NOT_ALLOWED },
		{ "{\"alg\":256}", AC_MALFORMED },
		{ "{\"alg\":\"HS256\",\"alg\":\"none\"}", AC_MALFORMED },
		{ "{\"alg\":\"HS256\",\"jku\":\"https://x\"}", AC_HEADER_NOT_ALLOWED },
		{ "{\"alg\":\"HS256\",\"x5u\":\"https://x\"}", AC_HEADER_NOT_ALLOWED },
		{ "{\"alg\":\"HS256\",\"jwk\":{}}", AC_HEADER_NOT_ALLOWED },
		{ "{\"alg\":\"HS256\",\"x5c\":[]}", AC_HEADER_NOT_ALLOWED },
		{ "{\"alg\":\"HS256\",\"crit\":[\"exp\"]}", AC_CRIT_UNSUPPORTED },
		{ "{\"alg\":\"HS256\",\"kid\":7}", AC_MALFORMED },
		{ "{\"alg\":\"HS256\"", AC_MALFORMED },
		{ "[\"alg\",\"HS256\"]", AC_MALFORMED },
		{ "{\"alg\":\"HS256\"} x", AC_MALFORMED },
		{ "{\"alg\":\"HS256\",}", AC_MALFORMED },
		{ "{\"alg\":\"HS256\"}", AC_BAD_SIGNATURE }, /* sig "AA" is wrong */
	};
	size_t i;

	begin("hostile headers: none, confusion, jku/x5u/jwk/x5c, crit, dups");
	ac_jwt_checks_init(&ck);
	CHECK(ac_jwt_key_hmac(&k, AC_ALG_HS256, (const uint8_t *)SECRET,
	    strlen(SECRET), NULL, 0) == 0);
	for (i = 0; i < sizeof h / sizeof h[0]; i++) {
		const char *t = forge(h[i].hdr, "{}");
		ac_reason r = ac_jwt_verify(&k, 1, &ck, t, strlen(t), 1, &res);
		if (r != h[i].want)
			printf("# header %s gave %s\n", h[i].hdr, ac_reason_name(r));
		CHECK(r == h[i].want);
	}
	end();

	begin("hostile structure: dots, empty parts, size cap, bad base64");
	{
		const char *good = sign("{}");
		char t[256];
		CHECK(ac_jwt_verify(&k, 1, &ck, good, strlen(good), 1, &res) == AC_OK);
		snprintf(t, sizeof t, "%s.", good);
		CHECK(ac_jwt_verify(&k, 1, &ck, t, strlen(t), 1, &res) == AC_MALFORMED);
		CHECK(ac_jwt_verify(&k, 1, &ck, "a.b", 3, 1, &res) == AC_MALFORMED);
		CHECK(ac_jwt_verify(&k, 1, &ck, "..", 2, 1, &res) == AC_MALFORMED);
		CHECK(ac_jwt_verify(&k, 1, &ck, "", 0, 1, &res) == AC_MALFORMED);
		CHECK(ac_jwt_verify(&k, 1, &ck, "a.b.c.d.e", 9, 1, &res) == AC_MALFORMED);
		/* empty signature (the alg-none shape) with a real alg */
		snprintf(t, sizeof t, "%s", good);
		*(strrchr(t, '.') + 1) = 0;
		CHECK(ac_jwt_verify(&k, 1, &ck, t, strlen(t), 1, &res) == AC_BAD_SIGNATURE);
		/* padded or '+' signature */
		snprintf(t, sizeof t, "%s=", good);
		CHECK(ac_jwt_verify(&k, 1, &ck, t, strlen(t), 1, &res) == AC_MALFORMED);
		memset(big, 'A', sizeof big);
		big[10] = '.';
		big[20] = '.';
		CHECK(ac_jwt_verify(&k, 1, &ck, big, sizeof big, 1, &res) == AC_TOKEN_TOO_LARGE);
	}
	end();
}

/* RFC 7515 allows an empty payload ("header..signature"): the JWS
 * verifies (with no payload bytes); as a JWT it is malformed (no claims
 * object). Signed here with BearSSL's HMAC directly, not with authcore's
 * signer, which only takes JSON objects. */
static void test_empty_payload(void)
{
	static ac_jwt_result res;
	static const char hdr[] = "{\"alg\":\"HS256\"}";
	char tok[128];
	uint8_t mac[32], payload[16];
	br_hmac_key_context kc;
	br_hmac_context hc;
	ac_jwt_key k;
	ac_jws_header h;
	ac_jwt_checks ck;
	size_t n, plen = 99;

	begin("JWS with an empty payload verifies; as a JWT it is malformed");
	ac_jwt_checks_init(&ck);
	ck.require_exp = 0;
	CHECK(ac_jwt_key_hmac(&k, AC_ALG_HS256, (const uint8_t *)SECRET,
	    strlen(SECRET), NULL, 0) == 0);
	n = ac_b64url_encode(tok, sizeof tok, hdr, strlen(hdr));
	tok[n++] = '.';
	br_hmac_key_init(&kc, &br_sha256_vtable, SECRET, strlen(SECRET));
	br_hmac_init(&hc, &kc, 0);
	br_hmac_update(&hc, tok, n);
	br_hmac_out(&hc, mac);
	tok[n++] = '.';
	n += ac_b64url_encode(tok + n, sizeof tok - n, mac, sizeof mac);
	tok[n] = 0;
	CHECK(ac_jws_verify(&k, 1, tok, n, &h, payload, sizeof payload, &plen) ==
	    AC_OK);
	CHECK(plen == 0 && h.alg == AC_ALG_HS256);
	CHECK(ac_jwt_verify(&k, 1, &ck, tok, n, 1, &res) == AC_MALFORMED);
	/* the signature still counts: one bit off, or over another input */
	tok[n - 1] = tok[n - 1] == 'A' ? 'Q' : 'A';
	CHECK(ac_jws_verify(&k, 1, tok, n, &h, payload, sizeof payload, &plen) ==
	    AC_BAD_SIGNATURE);
	/* no header, or nothing at all, is still not a JWS */
	CHECK(ac_jws_verify(&k, 1, "..", 2, &h, payload, sizeof payload, &plen) ==
	    AC_MALFORMED);
	CHECK(ac_jws_verify(&k, 1, tok + strlen("eyJhbGciOiJIUzI1NiJ9"),
	    n - strlen("eyJhbGciOiJIUzI1NiJ9"), &h, payload, sizeof payload,
	    &plen) == AC_MALFORMED);
	end();
}

static const char POLICY[] =
    "{\"realm\":\"unit\",\"jwt\":{\"keys\":[{\"kid\":\"k1\",\"alg\":\"HS256\","
    "\"secret\":\"unit-test-secret-0123456789abcdefghij\"}],\"audience\":\"api\","
    "\"leeway\":30},\"public\":[\"/health\",\"/pub/*\"],"
    "\"rules\":[{\"methods\":[\"POST\"],\"path\":\"/admin/*\",\"role\":\"admin\"},"
    "{\"path\":\"/api/*\",\"role\":\"reader\"}],\"default\":\"deny\"}";

static void decide_case(const ac_policy *P, const char *method,
    const char *path, const char *auth, ac_decision *d, int64_t now)
{
	ac_header h[2];
	ac_request r;
	memset(&r, 0, sizeof r);
	r.method.ptr = method;
	r.method.len = strlen(method);
	r.path.ptr = path;
	r.path.len = strlen(path);
	r.client_ip.ptr = "10.0.0.1";
	r.client_ip.len = 8;
	h[0].name.ptr = "X-Authcore-User";
	h[0].name.len = 15;
	h[0].value.ptr = "mallory";
	h[0].value.len = 7;
	r.headers = h;
	r.n_headers = 1;
	if (auth != NULL) {
		h[1].name.ptr = "authorization";
		h[1].name.len = 13;
		h[1].value.ptr = auth;
		h[1].value.len = strlen(auth);
		r.n_headers = 2;
	}
	ac_decide(P, NULL, &r, now, NULL, 0, d);
}

static void test_policy_and_decide(void)
{
	static ac_decision d;
	ac_policy_error err;
	const ac_policy *P;
	static char auth[AC_TOKEN_MAX + 16];
	static char js[8192];
	size_t n;

	begin("policy loads; decide: public, 401, 403, allow, default deny");
	P = load(POLICY, &err);
	CHECK(P != NULL);
	if (P == NULL) {
		printf("# %s: %s\n", err.path, err.message);
		end();
		return;
	}
	decide_case(P, "GET", "/pub/x?y=1", NULL, &d, 1000);
	CHECK(d.a.action == AC_ALLOW && d.a.reason == AC_PUBLIC && d.a.n_add == 0);
	/* identity headers and the three method-override headers */
	CHECK(d.a.n_remove == 5 && d.a.remove[0].len == 15);
	decide_case(P, "GET", "/api/x", NULL, &d, 1000);
	CHECK(d.a.action == AC_RESPOND && d.a.status == 401 && d.a.reason == AC_MISSING_TOKEN);
	snprintf(auth, sizeof auth, "Bearer %s",
	    sign("{\"sub\":\"u1\",\"roles\":[\"reader\"],\"aud\":\"api\",\"exp\":2000}"));
	decide_case(P, "GET", "/api/x", auth, &d, 1000);
	CHECK(d.a.action == AC_ALLOW && d.a.reason == AC_OK && d.a.n_add == 2);
	CHECK(d.a.add[0].value.len == 2 && memcmp(d.a.add[0].value.ptr, "u1", 2) == 0);
	CHECK(d.a.add[1].value.len == 6);
	decide_case(P, "POST", "/admin/x", auth, &d, 1000);
	CHECK(d.a.status == 403 && d.a.reason == AC_INSUFFICIENT_ROLE);
	decide_case(P, "GET", "/other", auth, &d, 1000);
	CHECK(d.a.status == 403 && d.a.reason == AC_NO_RULE);
	decide_case(P, "GET", "/api/x", auth, &d, 2029);
	CHECK(d.a.status == 200);
	decide_case(P, "GET", "/api/x", auth, &d, 2030);
	CHECK(d.a.status == 401 && d.a.reason == AC_EXPIRED);
	/* a sub-less token has no identity to forward */
	snprintf(auth, sizeof auth, "Bearer %s",
	    sign("{\"roles\":[\"reader\"],\"aud\":\"api\",\"exp\":2000}"));
	decide_case(P, "GET", "/api/x", auth, &d, 1000);
	CHECK(d.a.status == 401 && d.a.reason == AC_MISSING_CLAIM);
	/* a credential outside RFC 6750's b64token is a bad request: two
	 * folded into one line, a space, a byte past ASCII */
	{
		static const char *const bad[] = { "Bearer a.b.c,a.b.c",
			"Bearer a.b c", "Bearer a.b.\xc3\xa9", "Bearer a.b.c!",
			"Bearer a.b.c\x7f" };
		size_t bi;
		for (bi = 0; bi < sizeof bad / sizeof bad[0]; bi++) {
			decide_case(P, "GET", "/api/x", bad[bi], &d, 1000);
			CHECK(d.a.status == 400 && d.a.reason == AC_INVALID_REQUEST);
		}
		/* every b64token character is taken as a token's (the
		 * signature then fails: 401, not 400) */
		decide_case(P, "GET", "/api/x", "Bearer aZ09-._~+/=", &d, 1000);
		CHECK(d.a.status == 401 && d.a.reason != AC_INVALID_REQUEST);
	}
	/* a comma inside a role would forge a second one downstream */
	snprintf(auth, sizeof auth, "Bearer %s",
	    sign("{\"sub\":\"u\",\"roles\":[\"reader,admin\"],\"aud\":\"api\",\"exp\":2000}"));
	decide_case(P, "GET", "/api/x", auth, &d, 1000);
	CHECK(d.a.status == 401 && d.a.reason == AC_BAD_CLAIM);
	n = ac_decision_json(&d, js, sizeof js);
	CHECK(n > 0 && strstr(js, "\"reason\":\"bad_claim\"") != NULL);
	CHECK(strstr(js, "[\"www-authenticate\",\"Bearer realm=\\\"unit\\\", error=\\\"invalid_token\\\"\"]") != NULL);
	CHECK(ac_decision_json(&d, js, 10) == 0);
	end();

	begin("decide refuses ambiguous paths");
	{
		static const char *const bad_paths[] = { "/pub/../api", "/pub/./x",
			"//api/x", "/pub/%2e%2e/api", "/pub%2Fx", "/pub\\x",
			"api", "", "/a/..", "/pub/%5cx",
			/* a query with a control byte, a space or DEL */
			"/pub/x?a=1\x01", "/pub/x?a=b c", "/pub/x?\x7f", "/pub?\t" };
		size_t i;
		for (i = 0; i < sizeof bad_paths / sizeof bad_paths[0]; i++) {
			decide_case(P, "GET", bad_paths[i], NULL, &d, 1000);
			CHECK(d.a.status == 400 && d.a.reason == AC_BAD_PATH);
		}
		decide_case(P, "GET", "/pub/a.b/..x/%2A", NULL, &d, 1000);
		CHECK(d.a.reason == AC_PUBLIC);
		decide_case(P, "GET", "/pub/x?a=%01&b=\xc3\xa9", NULL, &d, 1000);
		CHECK(d.a.reason == AC_PUBLIC);
		/* another spelling of a canonical path: refused by default */
		decide_case(P, "GET", "/pub/a.b/..x/%41", NULL, &d, 1000);
		CHECK(d.a.status == 400 && d.a.reason == AC_BAD_PATH);
	}
	end();
}

static void decide_hdrs(const ac_policy *P, const char *path,
    const ac_header *h, size_t n, ac_decision *d)
{
	ac_request r;
	memset(&r, 0, sizeof r);
	r.method.ptr = "GET";
	r.method.len = 3;
	r.path.ptr = path;
	r.path.len = strlen(path);
	r.headers = h;
	r.n_headers = n;
	ac_decide(P, NULL, &r, 1000, NULL, 0, d);
}

static const char *add_value(const ac_decision *d, const char *name)
{
	static char v[512];
	size_t i;
	for (i = 0; i < d->a.n_add; i++) {
		if (d->a.add[i].name.len == strlen(name) &&
		    memcmp(d->a.add[i].name.ptr, name, d->a.add[i].name.len) == 0) {
			memcpy(v, d->a.add[i].value.ptr, d->a.add[i].value.len);
			v[d->a.add[i].value.len] = 0;
			return v;
		}
	}
	return NULL;
}

#define H(n, v) { { n, sizeof n - 1 }, { v, strlen(v) } }

static void test_sources_and_claims(void)
{
	static ac_decision d;
	static char auth[AC_TOKEN_MAX + 16], cookie[AC_TOKEN_MAX + 64],
	    path[AC_TOKEN_MAX + 64];
	ac_policy_error err;
	const ac_policy *P;
	const char *tok;
	static const char pol[] =
	    "{\"jwt\":{\"keys\":[{\"alg\":\"HS256\",\"secret\":\"unit-test-secret-0123456789abcdefghij\"}],"
	    "\"user_claim\":\"user.id\",\"roles_claim\":\"scope\",\"typ\":\"JWT\",\"max_age\":300,\"require_exp\":false,"
	    "\"sources\":[{\"header\":\"x-token\"},{\"cookie\":\"jwt\"},{\"query\":\"access_token\"}],"
	    "\"claims_to_headers\":[{\"claim\":\"email\",\"header\":\"x-email\"},"
	    "{\"claim\":\"groups\",\"header\":\"x-groups\"},{\"claim\":\"user.n\",\"header\":\"x-n\"}]}}";

	begin("token sources (header, cookie, query), dot paths, scope roles, claim headers");
	P = load(pol, &err);
	CHECK(P != NULL);
	if (P == NULL) {
		printf("# %s: %s\n", err.path, err.message);
		end();
		return;
	}
	tok = sign("{\"user\":{\"id\":\"u7\",\"n\":42},\"scope\":\"read  write\",\"iat\":900,"
	    "\"email\":\"a@b.c\",\"groups\":[\"g1\",2,true]}");
	{
		ac_header h[] = { H("X-Token", tok) };
		decide_hdrs(P, "/x", h, 1, &d);
		CHECK(d.a.status == 200 && d.a.reason == AC_OK);
		CHECK(add_value(&d, "x-authcore-user") && strcmp(add_value(&d, "x-authcore-user"), "u7") == 0);
		CHECK(add_value(&d, "x-authcore-roles") && strcmp(add_value(&d, "x-authcore-roles"), "read,write") == 0);
		CHECK(add_value(&d, "x-email") && strcmp(add_value(&d, "x-email"), "a@b.c") == 0);
		CHECK(add_value(&d, "x-groups") && strcmp(add_value(&d, "x-groups"), "g1,2,true") == 0);
		CHECK(add_value(&d, "x-n") && strcmp(add_value(&d, "x-n"), "42") == 0);
		/* identity, claim and override headers, and the token */
		CHECK(d.a.n_remove == 9);
		CHECK(d.a.remove[8].len == 7 && strncasecmp(d.a.remove[8].ptr, "x-token", 7) == 0);
	}
	snprintf(cookie, sizeof cookie, "a=1; jwt=\"%s\"; b=2", tok);
	{
		ac_header h[] = { H("Cookie", cookie) };
		decide_hdrs(P, "/x", h, 1, &d);
		CHECK(d.a.status == 200);
	}
	{
		ac_header h[] = { H("Cookie", cookie), H("cookie", "jwt=x.y.z") };
		decide_hdrs(P, "/x", h, 2, &d);
		CHECK(d.a.status == 400 && d.a.reason == AC_INVALID_REQUEST);
	}
	snprintf(path, sizeof path, "/x?a=1&access_token=%s", tok);
	decide_hdrs(P, path, NULL, 0, &d);
	CHECK(d.a.status == 200);
	snprintf(path, sizeof path, "/x?access_token=%s&access_token=%s", tok, tok);
	decide_hdrs(P, path, NULL, 0, &d);
	CHECK(d.a.status == 400);
	/* Authorization is not a source in this policy */
	snprintf(auth, sizeof auth, "Bearer %s", tok);
	{
		ac_header h[] = { H("Authorization", auth) };
		decide_hdrs(P, "/x", h, 1, &d);
		CHECK(d.a.status == 401 && d.a.reason == AC_MISSING_TOKEN);
	}
	/* max_age: iat 900, now 1000, 300 s allowed; too old at iat 600 */
	{
		ac_header h[] = { H("X-Token", sign("{\"user\":{\"id\":\"u\"},\"iat\":600}")) };
		decide_hdrs(P, "/x", h, 1, &d);
		CHECK(d.a.status == 401 && d.a.reason == AC_TOO_OLD);
	}
	{
		ac_header h[] = { H("X-Token", sign("{\"user\":{\"id\":\"u\"}}")) };
		decide_hdrs(P, "/x", h, 1, &d);
		CHECK(d.a.status == 401 && d.a.reason == AC_MISSING_CLAIM);
	}
	/* a comma inside an array claim element would forge another */
	{
		ac_header h[] = { H("X-Token", sign("{\"user\":{\"id\":\"u\"},\"iat\":990,\"groups\":[\"a,b\"]}")) };
		decide_hdrs(P, "/x", h, 1, &d);
		CHECK(d.a.status == 401 && d.a.reason == AC_BAD_CLAIM && d.a.n_add == 0);
	}
	end();

	begin("typ is checked when the policy names one");
	{
		/* sign() writes typ "JWT"; a policy asking for at+jwt refuses it */
		static const char pol2[] =
		    "{\"jwt\":{\"keys\":[{\"alg\":\"HS256\",\"secret\":\"unit-test-secret-0123456789abcdefghij\"}],\"typ\":\"at+jwt\",\"require_exp\":false,\"sources\":[{\"header\":\"x-token\"}]}}";
		const ac_policy *P2 = load(pol2, &err);
		ac_header h[] = { H("X-Token", sign("{\"sub\":\"u\"}")) };
		CHECK(P2 != NULL);
		if (P2 != NULL) {
			decide_hdrs(P2, "/x", h, 1, &d);
			CHECK(d.a.status == 401 && d.a.reason == AC_BAD_TYP);
		}
	}
	end();
}

/* The token as one Sec-WebSocket-Protocol entry: found by its prefix,
 * the entry removed from what the upstream gets, the others kept. */
static void test_protocol_source(void)
{
	static ac_decision d;
	static char swp[AC_TOKEN_MAX + 128];
	ac_policy_error err;
	const ac_policy *P;
	const char *tok, *v;
	static const char pol[] =
	    "{\"jwt\":{\"keys\":[{\"alg\":\"HS256\",\"secret\":\"unit-test-secret-0123456789abcdefghij\"}],"
	    "\"require_exp\":false,"
	    "\"sources\":[{\"header\":\"authorization\",\"prefix\":\"Bearer\"},"
	    "{\"protocol\":\"base64url.bearer.authorization.k8s.io.\"}]}}";
	static const char fwd[] =
	    "{\"jwt\":{\"keys\":[{\"alg\":\"HS256\",\"secret\":\"unit-test-secret-0123456789abcdefghij\"}],"
	    "\"require_exp\":false,\"sources\":[{\"protocol\":\"t.\"}]},"
	    "\"request\":{\"forward_credentials\":true}}";
	size_t i, removed;

	begin("token from a Sec-WebSocket-Protocol entry, the entry not forwarded");
	P = load(pol, &err);
	CHECK(P != NULL);
	if (P == NULL) {
		printf("# %s: %s\n", err.path, err.message);
		end();
		return;
	}
	tok = sign("{\"sub\":\"ws-user\"}");
	snprintf(swp, sizeof swp, "chat.v2, base64url.bearer.authorization.k8s.io.%s ,binary", tok);
	{
		ac_header h[] = { H("Upgrade", "websocket"),
			H("Sec-WebSocket-Protocol", swp) };
		decide_hdrs(P, "/ws", h, 2, &d);
		CHECK(d.a.status == 200 && d.a.reason == AC_OK);
		v = add_value(&d, "x-authcore-user");
		CHECK(v != NULL && strcmp(v, "ws-user") == 0);
		v = add_value(&d, "sec-websocket-protocol");
		CHECK(v != NULL && strcmp(v, "chat.v2, binary") == 0);
		for (i = removed = 0; i < d.a.n_remove; i++)
			removed += d.a.remove[i].len == 22 && strncasecmp(
			    d.a.remove[i].ptr, "sec-websocket-protocol", 22) == 0;
		CHECK(removed == 1);
	}
	/* entries over several lines are one list; the token's line goes */
	snprintf(swp, sizeof swp, "base64url.bearer.authorization.k8s.io.%s", tok);
	{
		ac_header h[] = { H("Sec-WebSocket-Protocol", "a"),
			H("Sec-WebSocket-Protocol", swp) };
		decide_hdrs(P, "/ws", h, 2, &d);
		CHECK(d.a.status == 200);
		v = add_value(&d, "sec-websocket-protocol");
		CHECK(v != NULL && strcmp(v, "a") == 0);
	}
	/* the token alone: no Sec-WebSocket-Protocol goes upstream */
	{
		ac_header h[] = { H("Sec-WebSocket-Protocol", swp) };
		decide_hdrs(P, "/ws", h, 1, &d);
		CHECK(d.a.status == 200);
		CHECK(add_value(&d, "sec-websocket-protocol") == NULL);
	}
	/* no entry with the prefix: no token */
	{
		ac_header h[] = { H("Sec-WebSocket-Protocol", "chat, base64url.bearer.authorization.k8s.i") };
		decide_hdrs(P, "/ws", h, 1, &d);
		CHECK(d.a.status == 401 && d.a.reason == AC_MISSING_TOKEN);
	}
	/* the prefix is case-sensitive, like subprotocol names */
	snprintf(swp, sizeof swp, "Base64url.bearer.authorization.k8s.io.%s", tok);
	{
		ac_header h[] = { H("Sec-WebSocket-Protocol", swp) };
		decide_hdrs(P, "/ws", h, 1, &d);
		CHECK(d.a.status == 401 && d.a.reason == AC_MISSING_TOKEN);
	}
	/* the prefix with nothing after it, or two entries: refused */
	{
		ac_header h[] = { H("Sec-WebSocket-Protocol", "chat, base64url.bearer.authorization.k8s.io.") };
		decide_hdrs(P, "/ws", h, 1, &d);
		CHECK(d.a.status == 400 && d.a.reason == AC_INVALID_REQUEST);
	}
	snprintf(swp, sizeof swp, "base64url.bearer.authorization.k8s.io.%s", tok);
	{
		ac_header h[] = { H("Sec-WebSocket-Protocol", swp),
			H("Sec-WebSocket-Protocol", swp) };
		decide_hdrs(P, "/ws", h, 2, &d);
		CHECK(d.a.status == 400 && d.a.reason == AC_INVALID_REQUEST);
	}
	/* an entry that is not a token (a control byte, a space inside, a
	 * '/'): the list would be forwarded rebuilt */
	snprintf(swp, sizeof swp, "a\rb, base64url.bearer.authorization.k8s.io.%s", tok);
	{
		ac_header h[] = { H("Sec-WebSocket-Protocol", swp) };
		decide_hdrs(P, "/ws", h, 1, &d);
		CHECK(d.a.status == 400 && d.a.reason == AC_INVALID_REQUEST);
	}
	snprintf(swp, sizeof swp, "base64url.bearer.authorization.k8s.io.%s, x base64url.bearer.authorization.k8s.io.%s", tok, tok);
	{
		ac_header h[] = { H("Sec-WebSocket-Protocol", swp) };
		decide_hdrs(P, "/ws", h, 1, &d);
		CHECK(d.a.status == 400 && d.a.reason == AC_INVALID_REQUEST);
	}
	{
		ac_header h[] = { H("Sec-WebSocket-Protocol", "chat/1") };
		decide_hdrs(P, "/ws", h, 1, &d);
		CHECK(d.a.status == 400 && d.a.reason == AC_INVALID_REQUEST);
	}
	/* empty entries are skipped, as list syntax allows */
	snprintf(swp, sizeof swp, ", chat,,base64url.bearer.authorization.k8s.io.%s,", tok);
	{
		ac_header h[] = { H("Sec-WebSocket-Protocol", swp) };
		decide_hdrs(P, "/ws", h, 1, &d);
		CHECK(d.a.status == 200);
		v = add_value(&d, "sec-websocket-protocol");
		CHECK(v != NULL && strcmp(v, "chat") == 0);
	}
	/* a bad signature: 401 invalid_token like any source */
	snprintf(swp, sizeof swp, "base64url.bearer.authorization.k8s.io.%sx", tok);
	{
		ac_header h[] = { H("Sec-WebSocket-Protocol", swp) };
		decide_hdrs(P, "/ws", h, 1, &d);
		CHECK(d.a.status == 401 && d.a.reason != AC_OK &&
		    d.a.reason != AC_MISSING_TOKEN);
	}
	/* sources keep their order: the Authorization header comes first */
	{
		static char auth[AC_TOKEN_MAX + 16];
		ac_header h[] = { H("Authorization", auth),
			H("Sec-WebSocket-Protocol", swp) };
		snprintf(auth, sizeof auth, "Bearer %s", tok);
		h[0].value.len = strlen(auth);
		decide_hdrs(P, "/ws", h, 2, &d);
		CHECK(d.a.status == 200);
		CHECK(add_value(&d, "sec-websocket-protocol") == NULL);
	}
	/* forward_credentials: the list goes on untouched */
	P = load(fwd, &err);
	CHECK(P != NULL);
	snprintf(swp, sizeof swp, "chat, t.%s", tok);
	if (P != NULL) {
		ac_header h[] = { H("Sec-WebSocket-Protocol", swp) };
		decide_hdrs(P, "/ws", h, 1, &d);
		CHECK(d.a.status == 200);
		CHECK(add_value(&d, "sec-websocket-protocol") == NULL);
		for (i = removed = 0; i < d.a.n_remove; i++)
			removed += d.a.remove[i].len == 22 && strncasecmp(
			    d.a.remove[i].ptr, "sec-websocket-protocol", 22) == 0;
		CHECK(removed == 0);
	} else {
		printf("# %s: %s\n", err.path, err.message);
	}
	end();
}

/* The SHA-256 the core picks (SHA-NI where the CPU has it) against
 * BearSSL's portable one: every length 0..300, split updates, and the
 * state/set_state round trip HMAC key contexts rely on. */
static void test_sha256_paths(void)
{
	const br_hash_class *fast = ac_sha256_class(0);
	const br_hash_class *port = ac_sha256_class(1);
	static unsigned char msg[300];
	br_hash_compat_context a, b;
	unsigned char da[32], db[32], st[32];
	size_t len, cut;
	uint64_t cnt;

	begin("SHA-256 fast path equals BearSSL's for every length and split");
	printf("# sha256 fast path: %s\n", fast == port ? "none (BearSSL)" :
#if defined(__aarch64__)
	    "ARMv8 SHA2"
#else
	    "SHA-NI"
#endif
	    );
	for (len = 0; len < sizeof msg; len++)
		msg[len] = (unsigned char)(len * 131u + 7u);
	for (len = 0; len <= sizeof msg; len++) {
		for (cut = 0; cut <= len; cut += (len / 5) + 1) {
			fast->init(&a.vtable);
			fast->update(&a.vtable, msg, cut);
			fast->update(&a.vtable, msg + cut, len - cut);
			fast->out(&a.vtable, da);
			port->init(&b.vtable);
			port->update(&b.vtable, msg, len);
			port->out(&b.vtable, db);
			CHECK(memcmp(da, db, 32) == 0);
		}
	}
	/* state after whole blocks moves between contexts (HMAC's ksi/kso) */
	fast->init(&a.vtable);
	fast->update(&a.vtable, msg, 128);
	cnt = fast->state(&a.vtable, st);
	port->init(&b.vtable);
	port->set_state(&b.vtable, st, cnt);
	fast->update(&a.vtable, msg + 128, 77);
	port->update(&b.vtable, msg + 128, 77);
	fast->out(&a.vtable, da);
	port->out(&b.vtable, db);
	CHECK(cnt == 128 && memcmp(da, db, 32) == 0);
	end();
}

static void test_audit_always_logged(void)
{
	static ac_decision d;
	static char path[600], method[64], ip[128];
	static char js[16384];
	ac_policy_error err;
	const ac_policy *P = load(POLICY, &err);
	ac_request r;
	size_t i;

	begin("audit line survives hostile fields; JSON out is always UTF-8");
	CHECK(P != NULL);
	if (P == NULL) {
		end();
		return;
	}
	/* worst case for escaping: control bytes everywhere (6 bytes each) */
	path[0] = '/';
	for (i = 1; i < sizeof path - 1; i++)
		path[i] = 1;
	memset(method, 2, sizeof method - 1);
	memset(ip, '"', sizeof ip - 1);
	memset(&r, 0, sizeof r);
	r.method.ptr = method;
	r.method.len = sizeof method - 1;
	r.path.ptr = path;
	r.path.len = sizeof path - 1;
	r.client_ip.ptr = ip;
	r.client_ip.len = sizeof ip - 1;
	ac_decide(P, NULL, &r, 1000, NULL, 0, &d);
	CHECK(d.a.status == 400 && d.a.audit_len > 0);
	CHECK(strstr(d.a.audit, "\"path_truncated\":true") != NULL);
	CHECK(d.a.audit_len > 0 && d.a.audit[d.a.audit_len - 1] == '}');
	/* bytes that are not UTF-8 are replaced, visibly */
	decide_case(P, "GET", "/api/\xd5x", NULL, &d, 1000);
	CHECK(ac_decision_json(&d, js, sizeof js) > 0);
	CHECK(strstr(js, "/api/\\ufffdx") != NULL);
	/* and valid multi-byte UTF-8 passes unchanged */
	decide_case(P, "GET", "/api/caf\xc3\xa9", NULL, &d, 1000);
	CHECK(d.a.status == 401 && strstr(d.a.audit, "/api/caf\xc3\xa9") != NULL);
	end();
}

/* AC_NEEDS_TLS: asked for only where the scheme can change the answer
 * (cookies); where it is not asked for, the answer is the same for http
 * and https but for the `https` it echoes. */
static void test_needs_tls(void)
{
	static ac_decision d1, d2;
	static char j1[16384], j2[16384];
	static const char *const pols[] = {
		/* tokens from a header: never */
		"{\"jwt\":{\"keys\":[{\"alg\":\"HS256\",\"secret\":\"unit-test-secret-0123456789abcdefghij\"}]},"
		"\"public\":[\"/pub\"],\"trusted_proxies\":[\"10.0.0.0/8\"]}",
		/* a cookie source: requests with a Cookie */
		"{\"jwt\":{\"keys\":[{\"alg\":\"HS256\",\"secret\":\"unit-test-secret-0123456789abcdefghij\"}],"
		"\"sources\":[{\"cookie\":\"jwt\"}]}}",
	};
	const char *tok = sign("{\"sub\":\"bob\",\"roles\":[\"reader\"]}");
	char auth[1024], cookie[1100];
	size_t i, k;

	begin("needs: the scheme only where cookies can use it");
	snprintf(auth, sizeof auth, "Bearer %s", tok);
	snprintf(cookie, sizeof cookie, "jwt=%s", tok);
	for (i = 0; i < 2; i++) {
		ac_policy_error err;
		const ac_policy *P = load(pols[i], &err);
		ac_header h[] = { H("Authorization", auth), H("Host", "a.test"),
			H("Origin", "https://a.test"), H("X-Forwarded-Proto", "https"),
			H("Cookie", cookie) };
		static const char *const methods[] = { "GET", "POST" };

		CHECK(P != NULL);
		if (P == NULL)
			continue;
		for (k = 0; k < 4; k++) {
			ac_request r;
			unsigned n;
			size_t l1, l2;

			memset(&r, 0, sizeof r);
			r.method.ptr = methods[k & 1];
			r.method.len = strlen(r.method.ptr);
			r.path.ptr = "/api/x";
			r.path.len = 6;
			r.client_ip.ptr = "10.1.1.1";
			r.client_ip.len = 8;
			r.headers = h;
			r.n_headers = k < 2 ? 4 : 5; /* with the Cookie or not */
			n = ac_needs(P, &r);
			CHECK(!!(n & AC_NEEDS_TLS) == (i == 1 && k >= 2));
			if (n & AC_NEEDS_TLS)
				continue;
			r.https = 0;
			ac_decide(P, NULL, &r, 1000, NULL, 0, &d1);
			r.https = 1;
			ac_decide(P, NULL, &r, 1000, NULL, 0, &d2);
			d1.a.https = d2.a.https = 0;
			l1 = ac_decision_json(&d1, j1, sizeof j1);
			l2 = ac_decision_json(&d2, j2, sizeof j2);
			CHECK(l1 > 0 && l1 == l2 && memcmp(j1, j2, l1) == 0);
		}
	}
	{
		/* sessions and a login: the login endpoints and any Cookie */
		ac_policy_error err;
		const ac_policy *P = load("{\"sessions\":{\"keys\":[{\"kid\":\"s1\","
		    "\"secret\":\"unit-test-session-secret-0123456789abcd\"}]}}", &err);
		ac_header c[] = { H("Cookie", "a=1") };
		ac_request r;

		CHECK(P != NULL);
		if (P != NULL) {
			memset(&r, 0, sizeof r);
			r.method.ptr = "GET";
			r.method.len = 3;
			r.path.ptr = "/x";
			r.path.len = 2;
			CHECK(!(ac_needs(P, &r) & AC_NEEDS_TLS));
			r.headers = c;
			r.n_headers = 1;
			CHECK(ac_needs(P, &r) & AC_NEEDS_TLS);
		}
	}
	{
		/* require_https and HSTS: every request, no cookie needed */
		static const char *const tls_pols[] = {
			"{\"jwt\":{\"keys\":[{\"alg\":\"HS256\",\"secret\":\"unit-test-secret-0123456789abcdefghij\"}]},"
			"\"public\":[\"/*\"],\"require_https\":true}",
			"{\"jwt\":{\"keys\":[{\"alg\":\"HS256\",\"secret\":\"unit-test-secret-0123456789abcdefghij\"}]},"
			"\"public\":[\"/*\"],\"security_headers\":{\"hsts\":\"max-age=600\"}}",
		};
		ac_request r;

		for (i = 0; i < 2; i++) {
			ac_policy_error err;
			const ac_policy *P = load(tls_pols[i], &err);

			CHECK(P != NULL);
			if (P == NULL)
				continue;
			memset(&r, 0, sizeof r);
			r.method.ptr = "GET";
			r.method.len = 3;
			r.path.ptr = "/x";
			r.path.len = 2;
			CHECK(ac_needs(P, &r) & AC_NEEDS_TLS);
		}
	}
	end();
}

/* "audit": allowed requests get a line as the policy says (sampled with
 * the decision's entropy), every other answer always; no line is an empty
 * audit string, and the decision JSON says null. */
static void test_audit_allowed(void)
{
	static ac_decision d;
	static char js[16384];
	static const char *const good[][2] = {
		{ "", "0" }, { ",\"audit\":{}", "0" },
		{ ",\"audit\":{\"allowed\":\"none\"}", "0" },
		{ ",\"audit\":{\"allowed\":\"all\"}", "1000000" },
		{ ",\"audit\":{\"allowed\":\"100%\"}", "1000000" },
		{ ",\"audit\":{\"allowed\":\"12.5%\"}", "125000" },
		{ ",\"audit\":{\"allowed\":\"0.0001%\"}", "1" },
		{ ",\"audit\":{\"allowed\":\"50%\"}", "500000" },
	};
	static const char *const bad[] = { "0%", "0.00001%", "100.0001%",
		"101%", "05%", ".5%", "5.%", "5", "5 %", " 5%", "all ", "ALL",
		"1/10" };
	ac_policy_error err;
	char pol[1024];
	size_t i;
	uint8_t ent[32];

	begin("audit: allowed requests none, all or sampled; denials always");
	for (i = 0; i < sizeof good / sizeof good[0]; i++) {
		const ac_policy *P;
		snprintf(pol, sizeof pol, "{\"api_keys\":{\"keys\":[]},"
		    "\"public\":[\"/pub\"]%s}", good[i][0]);
		P = load(pol, &err);
		CHECK(P != NULL && P->audit_allowed ==
		    (uint32_t)strtoul(good[i][1], NULL, 10));
	}
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		snprintf(pol, sizeof pol, "{\"api_keys\":{\"keys\":[]},"
		    "\"audit\":{\"allowed\":\"%s\"}}", bad[i]);
		CHECK(load(pol, &err) == NULL &&
		    strcmp(err.path, "$.audit.allowed") == 0);
	}
	CHECK(load("{\"api_keys\":{\"keys\":[]},\"audit\":{\"allowed\":1}}",
	    &err) == NULL && strcmp(err.path, "$.audit.allowed") == 0);
	CHECK(load("{\"api_keys\":{\"keys\":[]},\"audit\":{\"denied\":\"none\"}}",
	    &err) == NULL && strcmp(err.path, "$.audit") == 0);
	for (i = 0; i < 3; i++) {
		static const char *const setting[] = { "none", "all", "50%" };
		const ac_policy *P;
		ac_request r;
		int n = 0, k;

		snprintf(pol, sizeof pol, "{\"api_keys\":{\"keys\":[]},"
		    "\"public\":[\"/pub\"],\"audit\":{\"allowed\":\"%s\"}}",
		    setting[i]);
		P = load(pol, &err);
		CHECK(P != NULL);
		if (P == NULL)
			continue;
		memset(&r, 0, sizeof r);
		r.method.ptr = "GET";
		r.method.len = 3;
		for (k = 0; k < 256; k++) {
			/* the last 4 entropy bytes decide: k / 256 of 2^32 */
			memset(ent, 0xa5, sizeof ent);
			ent[28] = (uint8_t)k;
			r.path.ptr = "/pub";
			r.path.len = 4;
			ac_decide(P, NULL, &r, 1000, ent, sizeof ent, &d);
			CHECK(d.a.action == AC_ALLOW && d.a.reason == AC_PUBLIC);
			CHECK((d.a.audit_len == 0) == (d.a.audit[0] == 0));
			n += d.a.audit_len > 0;
			if (d.a.audit_len > 0)
				CHECK(strstr(d.a.audit, "\"action\":\"allow\"") != NULL);
			else
				CHECK(ac_decision_json(&d, js, sizeof js) > 0 &&
				    strstr(js, "\"audit\":null}") != NULL);
			/* a refusal is audited whatever the setting */
			r.path.ptr = "/api";
			ac_decide(P, NULL, &r, 1000, ent, sizeof ent, &d);
			CHECK(d.a.status == 401 && d.a.audit_len > 0 &&
			    strstr(d.a.audit, "\"action\":\"deny\"") != NULL);
		}
		CHECK(n == (i == 0 ? 0 : i == 1 ? 256 : 128));
		/* without entropy a sampled setting loses no line */
		r.path.ptr = "/pub";
		r.path.len = 4;
		ac_decide(P, NULL, &r, 1000, NULL, 0, &d);
		CHECK((d.a.audit_len > 0) == (i != 0));
	}
	end();
}

/* RFC 7517 section 4.3 key_ops, alone and beside "use", on single JWKs
 * and in JWKS documents. The key is SECRET as an HS256 JWK, so a key that
 * loads is also shown to verify a token signed with SECRET. */
#define OCT "\"kty\":\"oct\",\"alg\":\"HS256\",\"k\":\"dW5pdC10ZXN0LXNlY3JldC0wMTIzNDU2Nzg5YWJjZGVmZ2hpag\""
static void test_jwk_key_ops(void)
{
	static const struct {
		const char *members; /* after OCT */
		const char *why;     /* NULL: loads */
	} v[] = {
		{ "", NULL },
		{ ",\"key_ops\":[\"verify\"]", NULL },
		{ ",\"key_ops\":[\"sign\",\"verify\"]", NULL },
		{ ",\"use\":\"sig\",\"key_ops\":[\"verify\"]", NULL },
		{ ",\"key_ops\":[\"verify\",\"x-audit\"]", NULL }, /* unregistered: allowed */
		{ ",\"key_ops\":[\"encrypt\"]", "does not include \"verify\"" },
		{ ",\"key_ops\":[\"sign\"]", "does not include \"verify\"" },
		{ ",\"key_ops\":[]", "does not include \"verify\"" },
		{ ",\"key_ops\":[\"Verify\"]", "does not include \"verify\"" },
		{ ",\"key_ops\":\"verify\"", "not an array of distinct strings" },
		{ ",\"key_ops\":null", "not an array of distinct strings" },
		{ ",\"key_ops\":[\"verify\",1]", "not an array of distinct strings" },
		{ ",\"key_ops\":[[\"verify\"]]", "not an array of distinct strings" },
		{ ",\"key_ops\":[\"verify\",\"verify\"]", "not an array of distinct strings" },
		{ ",\"key_ops\":[\"verify\",\"ver\\u0069fy\"]", "not an array of distinct strings" },
		{ ",\"key_ops\":[\"verify\",\"a\",\"b\",\"c\",\"d\",\"e\",\"f\",\"g\",\"h\",\"i\",\"j\",\"k\",\"l\",\"m\",\"n\",\"o\",\"p\"]",
		  "not an array of distinct strings" },
		{ ",\"key_ops\":[\"verify\",\"x-0123456789abcdef0123456789abcdef\"]",
		  "not an array of distinct strings" },
		{ ",\"use\":\"sig\",\"key_ops\":[\"verify\",\"encrypt\"]", "disagree" },
		{ ",\"use\":\"sig\",\"key_ops\":[\"verify\",\"deriveBits\"]", "disagree" },
		{ ",\"use\":\"enc\",\"key_ops\":[\"verify\"]", "\"use\" is not \"sig\"" },
	};
	static ac_jwt_result res;
	ac_jwt_key k[4];
	ac_jwt_checks ck;
	char jwk[512];
	const char *why, *tok;
	size_t i;
	int bad, n;

	begin("JWK key_ops: a key not for verifying, malformed or contradicting use is refused");
	ac_jwt_checks_init(&ck);
	ck.require_exp = 0;
	tok = sign("{\"sub\":\"u\"}");
	for (i = 0; i < sizeof v / sizeof v[0]; i++) {
		int r;
		snprintf(jwk, sizeof jwk, "{" OCT "%s}", v[i].members);
		why = "";
		r = ac_jwt_key_jwk(&k[0], AC_ALG_NONE, jwk, strlen(jwk), &why);
		if ((r == 0) != (v[i].why == NULL) ||
		    (v[i].why != NULL && strstr(why, v[i].why) == NULL))
			printf("# %s: %d %s\n", jwk, r, why);
		if (v[i].why == NULL) {
			CHECK(r == 0);
			CHECK(r == 0 && ac_jwt_verify(&k[0], 1, &ck, tok,
			    strlen(tok), 1, &res) == AC_OK);
		} else {
			CHECK(r < 0 && strstr(why, v[i].why) != NULL);
		}
	}
	end();

	begin("JWKS key_ops: keys not for verifying are skipped like use:enc; malformed ones refuse the document");
	/* skipped: key_ops without verify (with or without use:enc), use:enc,
	 * a use outside the registry (nothing for key_ops to contradict) */
	{
		static const char doc[] = "{\"keys\":["
		    "{" OCT ",\"kid\":\"a\",\"key_ops\":[\"encrypt\",\"decrypt\"]},"
		    "{" OCT ",\"kid\":\"b\",\"use\":\"enc\",\"key_ops\":[\"wrapKey\"]},"
		    "{" OCT ",\"kid\":\"c\",\"use\":\"enc\"},"
		    "{" OCT ",\"kid\":\"d\",\"key_ops\":[\"sign\"]},"
		    "{" OCT ",\"kid\":\"g\",\"use\":\"tls\",\"key_ops\":[\"verify\"]},"
		    "{" OCT ",\"kid\":\"e\",\"use\":\"sig\",\"key_ops\":[\"verify\"]},"
		    "{" OCT ",\"kid\":\"f\",\"key_ops\":[\"sign\",\"verify\"]}]}";
		n = ac_jwks_load(k, 4, doc, strlen(doc), NULL, 0, &bad, &why);
		CHECK(n == 2);
		CHECK(n == 2 && k[0].kid_len == 1 && k[0].kid[0] == 'e' &&
		    k[1].kid_len == 1 && k[1].kid[0] == 'f');
	}
	/* refused, naming the key: malformed, or contradicting use */
	{
		static const char *const docs[] = {
			"{\"keys\":[{" OCT ",\"kid\":\"e\"},{" OCT ",\"key_ops\":[\"verify\",\"verify\"]}]}",
			"{\"keys\":[{" OCT ",\"kid\":\"e\"},{" OCT ",\"key_ops\":\"encrypt\"}]}",
			"{\"keys\":[{" OCT ",\"kid\":\"e\"},{" OCT ",\"use\":\"enc\",\"key_ops\":[\"verify\"]}]}",
			"{\"keys\":[{" OCT ",\"kid\":\"e\"},{" OCT ",\"use\":\"sig\",\"key_ops\":[\"encrypt\"]}]}",
		};
		for (i = 0; i < sizeof docs / sizeof docs[0]; i++) {
			why = "";
			n = ac_jwks_load(k, 4, docs[i], strlen(docs[i]), NULL, 0,
			    &bad, &why);
			if (n >= 0 || bad != 1 || strstr(why, "key_ops") == NULL)
				printf("# %s: %d %d %s\n", docs[i], n, bad, why);
			CHECK(n < 0 && bad == 1 && strstr(why, "key_ops") != NULL);
		}
	}
	/* nothing left to verify with */
	{
		static const char doc[] = "{\"keys\":[{" OCT ",\"key_ops\":[\"encrypt\"]}]}";
		n = ac_jwks_load(k, 4, doc, strlen(doc), NULL, 0, &bad, &why);
		CHECK(n < 0 && strstr(why, "no usable signature key") != NULL);
	}
	end();
}
#undef OCT

static void test_policy_errors(void)
{
	static const struct {
		const char *json, *path, *msg;
	} v[] = {
		{ "{\"jwt\":", "$", "invalid JSON at line 1" },
		{ "{\"jwt\":{\"keys\":[{\"alg\":\"HS256\",\"secret\":\"0123456789abcdef0123456789abcdef\"}]},\"upstream_identity\":{\"key\":{\"kid\":\"a\",\"alg\":\"ES256\",\"d\":\"oGzRb7to4wRN3Z8_HMMuI0FXrMjgGwTcdJBBuisXx0Q\"}}}",
		    "$.upstream_identity", "missing \"audience\"" },
		{ "{\"jwt\":{\"keys\":[{\"alg\":\"HS256\",\"secret\":\"0123456789abcdef0123456789abcdef\"}]},\"upstream_identity\":{\"audience\":\"a\"}}",
		    "$.upstream_identity", "missing \"key\"" },
		{ "{\"jwt\":{\"keys\":[{\"alg\":\"HS256\",\"secret\":\"0123456789abcdef0123456789abcdef\"}]},\"upstream_identity\":{\"audience\":\"a\",\"key\":{\"alg\":\"ES256\",\"d\":\"x\"}}}",
		    "$.upstream_identity.key", "missing \"kid\"" },
		{ "{\"jwt\":{\"keys\":[{\"alg\":\"HS256\",\"secret\":\"0123456789abcdef0123456789abcdef\"}]},\"upstream_identity\":{\"audience\":\"a\",\"key\":{\"kid\":\"a\",\"alg\":\"RS256\"}}}",
		    "$.upstream_identity.key.alg", "\"ES256\" or \"HS256\"" },
		{ "{\"jwt\":{\"keys\":[{\"alg\":\"HS256\",\"secret\":\"0123456789abcdef0123456789abcdef\"}]},\"upstream_identity\":{\"audience\":\"a\",\"key\":{\"kid\":\"a\",\"alg\":\"ES256\",\"d\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"}}}",
		    "$.upstream_identity.key.d", "not a P-256 private key" },
		{ "{\"jwt\":{\"keys\":[{\"alg\":\"HS256\",\"secret\":\"0123456789abcdef0123456789abcdef\"}]},\"upstream_identity\":{\"audience\":\"a\",\"key\":{\"kid\":\"a\",\"alg\":\"ES256\",\"d\":\"_____wAAAAD__________7zm-q2nF56E87nKwvxjJVE\"}}}",
		    "$.upstream_identity.key.d", "not a P-256 private key" },
		{ "{\"jwt\":{\"keys\":[{\"alg\":\"HS256\",\"secret\":\"0123456789abcdef0123456789abcdef\"}]},\"upstream_identity\":{\"audience\":\"a\",\"key\":{\"kid\":\"a\",\"alg\":\"ES256\",\"d\":\"oGzR\"}}}",
		    "$.upstream_identity.key.d", "32 bytes in base64url" },
		{ "{\"jwt\":{\"keys\":[{\"alg\":\"HS256\",\"secret\":\"0123456789abcdef0123456789abcdef\"}]},\"upstream_identity\":{\"audience\":\"a\",\"key\":{\"kid\":\"a\",\"alg\":\"ES256\",\"x\":\"2Ws4JpGYES5xEQFEZ9K8NBcH0ZeQ-6hNPlOIPIyb9EQ\",\"d\":\"oGzRb7to4wRN3Z8_HMMuI0FXrMjgGwTcdJBBuisXx0Q\"}}}",
		    "$.upstream_identity.key", "not the public key of \"d\"" },
		{ "{\"jwt\":{\"keys\":[{\"alg\":\"HS256\",\"secret\":\"0123456789abcdef0123456789abcdef\"}]},\"upstream_identity\":{\"audience\":\"a\",\"key\":{\"kid\":\"a\",\"alg\":\"ES256\",\"crv\":\"P-384\",\"d\":\"oGzRb7to4wRN3Z8_HMMuI0FXrMjgGwTcdJBBuisXx0Q\"}}}",
		    "$.upstream_identity.key.crv", "P-256" },
		{ "{\"jwt\":{\"keys\":[{\"alg\":\"HS256\",\"secret\":\"0123456789abcdef0123456789abcdef\"}]},\"upstream_identity\":{\"audience\":\"a\",\"key\":{\"kid\":\"a\",\"alg\":\"HS256\",\"secret\":\"short\"}}}",
		    "$.upstream_identity.key.secret", "" },
		{ "{\"jwt\":{\"keys\":[{\"alg\":\"HS256\",\"secret\":\"0123456789abcdef0123456789abcdef\"}]},\"upstream_identity\":{\"audience\":\"a\",\"jwks_path\":\"/jwks\",\"key\":{\"kid\":\"a\",\"alg\":\"HS256\",\"secret\":\"0123456789abcdef0123456789abcdef\"}}}",
		    "$.upstream_identity.jwks_path", "no public key to serve" },
		{ "{\"jwt\":{\"keys\":[{\"alg\":\"HS256\",\"secret\":\"0123456789abcdef0123456789abcdef\"}]},\"upstream_identity\":{\"audience\":\"a\",\"jwks_path\":\"/jwks*\",\"key\":{\"kid\":\"a\",\"alg\":\"ES256\",\"d\":\"oGzRb7to4wRN3Z8_HMMuI0FXrMjgGwTcdJBBuisXx0Q\"}}}",
		    "$.upstream_identity.jwks_path", "no pattern or query" },
		{ "{\"jwt\":{\"keys\":[{\"alg\":\"HS256\",\"secret\":\"0123456789abcdef0123456789abcdef\"}]},\"upstream_identity\":{\"audience\":\"a\",\"ttl\":5,\"key\":{\"kid\":\"a\",\"alg\":\"ES256\",\"d\":\"oGzRb7to4wRN3Z8_HMMuI0FXrMjgGwTcdJBBuisXx0Q\"}}}",
		    "$.upstream_identity.ttl", "10 to 3600" },
		{ "{\"jwt\":{\"keys\":[{\"alg\":\"HS256\",\"secret\":\"0123456789abcdef0123456789abcdef\"}]},\"upstream_identity\":{\"audience\":\"a\",\"header\":\"authorization\",\"key\":{\"kid\":\"a\",\"alg\":\"ES256\",\"d\":\"oGzRb7to4wRN3Z8_HMMuI0FXrMjgGwTcdJBBuisXx0Q\"}}}",
		    "$.upstream_identity.header", "of its own" },
		{ "{\"jwt\":{\"keys\":[{\"alg\":\"HS256\",\"secret\":\"0123456789abcdef0123456789abcdef\"}]},\"upstream_identity\":{\"audience\":\"a\",\"header\":\"x-authcore-user\",\"key\":{\"kid\":\"a\",\"alg\":\"ES256\",\"d\":\"oGzRb7to4wRN3Z8_HMMuI0FXrMjgGwTcdJBBuisXx0Q\"}}}",
		    "$.upstream_identity.header", "of its own" },
		{ "{\"jwt\":{\"keys\":[{\"alg\":\"HS256\",\"secret\":\"0123456789abcdef0123456789abcdef\"}]},\"upstream_identity\":{\"audience\":\"a\",\"header\":\"x_id\",\"key\":{\"kid\":\"a\",\"alg\":\"ES256\",\"d\":\"oGzRb7to4wRN3Z8_HMMuI0FXrMjgGwTcdJBBuisXx0Q\"}}}",
		    "$.upstream_identity", "names a header with '_'" },
		{ "{\"jwt\":{\"keys\":[{\"alg\":\"HS256\",\"secret\":\"0123456789abcdef0123456789abcdef\"}]},\"upstream_identity\":{\"audience\":\"a\",\"aud\":\"b\",\"key\":{\"kid\":\"a\",\"alg\":\"ES256\",\"d\":\"oGzRb7to4wRN3Z8_HMMuI0FXrMjgGwTcdJBBuisXx0Q\"}}}",
		    "$.upstream_identity", "unknown member \"aud\"" },
		{ "[]", "$", "must be an object" },
		{ "{}", "$", "missing \"jwt\"" },
		{ "{\"jwt\":{\"keys\":[]}}", "$.jwt", "holds no key" },
		{ "{\"jwt\":{\"keys\":[{\"alg\":\"RS256\",\"secret\":\"0123456789abcdef0123456789abcdef\"}]}}",
		    "$.jwt.keys[0].secret", "public-key algorithm takes" },
		{ "{\"jwt\":{\"keys\":[{\"alg\":\"HS256\",\"pem\":\"x\"}]}}",
		    "$.jwt.keys[0].pem", "HMAC algorithm takes a secret" },
		{ "{\"jwt\":{\"keys\":[{\"alg\":\"ES256\",\"pem\":\"-----BEGIN PUBLIC KEY-----\\nAAAA\\n-----END PUBLIC KEY-----\\n\"}]}}",
		    "$.jwt.keys[0].pem", "not a PEM public key" },
		{ "{\"jwt\":{\"keys\":[{\"jwk\":{\"kty\":\"RSA\",\"n\":\"AQAB\",\"e\":\"AQAB\"}}]}}",
		    "$.jwt.keys[0].jwk", "names no algorithm" },
		{ "{\"jwt\":{\"keys\":[{\"jwk\":{\"kty\":\"oct\",\"alg\":\"HS256\",\"k\":\"c2hvcnQ\"}}]}}",
		    "$.jwt.keys[0].jwk", "shorter than the hash" },
		{ "{\"jwt\":{\"jwks\":{\"keys\":[{\"kty\":\"oct\",\"k\":\"MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY\"}]}}}",
		    "$.jwt.jwks.keys[0]", "names no algorithm" },
		{ "{\"jwt\":{\"keys\":[{\"jwk\":{\"kty\":\"oct\",\"alg\":\"HS256\",\"key_ops\":[\"encrypt\"],\"k\":\"MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY\"}}]}}",
		    "$.jwt.keys[0].jwk", "does not include \"verify\"" },
		{ "{\"jwt\":{\"jwks\":{\"keys\":[{\"kty\":\"oct\",\"alg\":\"HS256\",\"key_ops\":[\"verify\",\"verify\"],\"k\":\"MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY\"}]}}}",
		    "$.jwt.jwks.keys[0]", "\"key_ops\" is not an array" },
		{ "{\"jwt\":{\"keys\":[{\"alg\":\"HS256\",\"secret\":\"0123456789abcdef0123456789abcdef\"}],\"sources\":[{\"cookie\":\"s\",\"prefix\":\"Bearer\"}]}}",
		    "$.jwt.sources[0]", "applies to headers only" },
		{ "{\"jwt\":{\"keys\":[{\"alg\":\"HS256\",\"secret\":\"0123456789abcdef0123456789abcdef\"}],\"sources\":[{\"header\":\"x\"},{\"protocol\":\"bearer, x\"}]}}",
		    "$.jwt.sources[1]", "prefix must be an HTTP token" },
		{ "{\"jwt\":{\"keys\":[{\"alg\":\"HS256\",\"secret\":\"0123456789abcdef0123456789abcdef\"}],\"sources\":[{\"protocol\":\"\"}]}}",
		    "$.jwt.sources[0].protocol", "" },
		{ "{\"jwt\":{\"keys\":[{\"alg\":\"HS256\",\"secret\":\"0123456789abcdef0123456789abcdef\"}],\"sources\":[{\"protocol\":\"t.\",\"query\":\"t\"}]}}",
		    "$.jwt.sources[0]", "exactly one of" },
		{ "{\"jwt\":{\"keys\":[{\"alg\":\"HS256\",\"secret\":\"0123456789abcdef0123456789abcdef\"}],\"sources\":[{\"protocol\":\"t.\",\"prefix\":\"Bearer\"}]}}",
		    "$.jwt.sources[0]", "applies to headers only" },
		{ "{\"jwt\":{\"keys\":[{\"alg\":\"HS256\",\"secret\":\"0123456789abcdef0123456789abcdef\"}],\"sources\":[{\"protocol\":7}]}}",
		    "$.jwt.sources[0].protocol", "" },
		{ "{\"jwt\":{\"keys\":[{\"alg\":\"HS256\",\"secret\":\"0123456789abcdef0123456789abcdef\"}],\"claims_to_headers\":[{\"claim\":\"email\",\"header\":\"Cookie\"}]}}",
		    "$.jwt.claims_to_headers[0]", "not one hosts own" },
		{ "{\"jwt\":{\"keys\":[{\"alg\":\"HS256\",\"secret\":\"0123456789abcdef0123456789abcdef\"}],\"claims_to_headers\":[{\"claim\":\"p\",\"header\":\"Sec-WebSocket-Protocol\"}]}}",
		    "$.jwt.claims_to_headers[0]", "not one hosts own" },
		{ "{\"jwt\":{\"keys\":[{\"alg\":\"HS256\",\"secret\":\"0123456789abcdef0123456789abcdef\"}],\"algorithms\":[\"RS256\"]}}",
		    "$.jwt", "not in \"algorithms\"" },
		{ "{\"jwt\":{\"keys\":[{\"alg\":\"HS256\",\"secret\":\"short\"}]}}",
		    "$.jwt.keys[0].secret", "must be at least 32 bytes for HS256" },
		{ "{\"jwt\":{\"keys\":[{\"alg\":\"none\",\"secret\":\"x\"}]}}",
		    "$.jwt.keys[0].alg", "unsupported algorithm" },
		{ "{\"jwt\":{\"keys\":[{\"secret\":\"0123456789abcdef0123456789abcdef\"}]}}",
		    "$.jwt.keys[0]", "missing \"alg\"" },
		{ "{\"jwt\":{\"keys\":[{\"alg\":\"HS256\",\"secret\":\"0123456789abcdef0123456789abcdef\"}],\"audiance\":\"x\"}}",
		    "$.jwt", "unknown member \"audiance\"" },
		{ "{\"jwt\":{\"keys\":[{\"alg\":\"HS256\",\"secret\":\"0123456789abcdef0123456789abcdef\"}]},\"rules\":[{\"path\":\"/a\"},{\"path\":\"b\"}]}",
		    "$.rules[1].path", "must start with '/'" },
		{ "{\"jwt\":{\"keys\":[{\"alg\":\"HS256\",\"secret\":\"0123456789abcdef0123456789abcdef\"}],\"leeway\":\"60\"}}",
		    "$.jwt.leeway", "integer number of seconds" },
		/* found by the fuzzer: out-of-range numbers were cast (UB) */
		{ "{\"jwt\":{\"keys\":[{\"alg\":\"HS256\",\"secret\":\"0123456789abcdef0123456789abcdef\"}],\"leeway\":1e10}}",
		    "$.jwt.leeway", "integer number of seconds" },
		{ "{\"jwt\":{\"keys\":[{\"alg\":\"HS256\",\"secret\":\"0123456789abcdef0123456789abcdef\"}],\"max_age\":1e19}}",
		    "$.jwt.max_age", "integer number of seconds" },
		{ "{\"jwt\":{\"keys\":[{\"alg\":\"HS256\",\"secret\":\"0123456789abcdef0123456789abcdef\"}],\"leeway\":-1e300}}",
		    "$.jwt.leeway", "integer number of seconds" },
		{ "{\"realm\":\"a\",\"realm\":\"b\",\"jwt\":{}}", "$", "duplicate member \"realm\"" },
		{ "{\"jwt\":{\"keys\":[{\"alg\":\"HS256\",\"secret\":\"0123456789abcdef0123456789abcdef\"}]},\"default\":\"allow\"}",
		    "$.default", "\"authenticated\" or \"deny\"" },
		{ "{\"jwt\":{\"keys\":[{\"alg\":\"HS256\",\"secret\":\"0123456789abcdef0123456789abcdef\"}]},\"rules\":[{\"path\":\"/a\",\"methods\":[\"GE T\"]}]}",
		    "$.rules[0].methods[0]", "HTTP method" },
		{ "{\"jwt\":{\"keys\":[{\"kid\":\"a\",\"alg\":\"HS256\",\"secret\":\"0123456789abcdef0123456789abcdef\"},{\"kid\":\"a\",\"alg\":\"HS256\",\"secret\":\"0123456789abcdef0123456789abcdef\"}]}}",
		    "$.jwt.keys[1].kid", "duplicate kid" },
		{ "{\"jwt\":{\"keys\":[{\"alg\":\"HS256\",\"secret\":\"0123456789abcdef0123456789abcdef\"}]},\"identity_headers\":{\"user\":\"Authorization\"}}",
		    "$.identity_headers", "must not name a header" },
		{ "{\"jwt\":{\"keys\":[{\"alg\":\"HS256\",\"secret\":\"0123456789abcdef0123456789abcdef\"}]},\"cors\":{\"origins\":[\"https://a.example\",\"*\"],\"credentials\":true}}",
		    "$.cors.origins[1]", "with \"credentials\"" },
		{ "{\"jwt\":{\"keys\":[{\"alg\":\"HS256\",\"secret\":\"0123456789abcdef0123456789abcdef\"}]},\"cors\":{\"origins\":[\"null\"]}}",
		    "$.cors.origins[0]", "never allowed" },
		{ "{\"jwt\":{\"keys\":[{\"alg\":\"HS256\",\"secret\":\"0123456789abcdef0123456789abcdef\"}]},\"cors\":{\"origins\":[\"https://a.example/app\"]}}",
		    "$.cors.origins[0]", "must not have a path" },
		{ "{\"jwt\":{\"keys\":[{\"alg\":\"HS256\",\"secret\":\"0123456789abcdef0123456789abcdef\"}]},\"cors\":{\"origins\":[\"https://a.*.example\"]}}",
		    "$.cors.origins[0]", "one '*' in front" },
		{ "{\"jwt\":{\"keys\":[{\"alg\":\"HS256\",\"secret\":\"0123456789abcdef0123456789abcdef\"}]},\"cors\":{\"origins\":[\"https://App.example\"]}}",
		    "$.cors.origins[0]", "lower case" },
		{ "{\"jwt\":{\"keys\":[{\"alg\":\"HS256\",\"secret\":\"0123456789abcdef0123456789abcdef\"}]},\"cors\":{\"methods\":[\"GET\"]}}",
		    "$.cors", "missing \"origins\"" },
		{ "{\"jwt\":{\"keys\":[{\"alg\":\"HS256\",\"secret\":\"0123456789abcdef0123456789abcdef\"}]},\"cors\":{\"origins\":[\"*\"],\"max_age\":90000}}",
		    "$.cors.max_age", "0 to 86400" },
		{ "{\"jwt\":{\"keys\":[{\"alg\":\"HS256\",\"secret\":\"0123456789abcdef0123456789abcdef\"}]},\"cors\":{\"origins\":[\"*\"],\"headers\":[\"x y\"]}}",
		    "$.cors.headers[0]", "not a header name" },
		{ "{\"jwt\":{\"keys\":[{\"alg\":\"HS256\",\"secret\":\"0123456789abcdef0123456789abcdef\"}],\"role_claims\":[]}}",
		    "$.jwt.role_claims", "non-empty array" },
		{ "{\"jwt\":{\"keys\":[{\"alg\":\"HS256\",\"secret\":\"0123456789abcdef0123456789abcdef\"}],\"role_claims\":[{\"claim\":\"is_admin\",\"role\":\"admin\"}]}}",
		    "$.jwt.role_claims[0]", "needs \"claim\", \"equals\" and \"role\"" },
		{ "{\"jwt\":{\"keys\":[{\"alg\":\"HS256\",\"secret\":\"0123456789abcdef0123456789abcdef\"}],\"role_claims\":[{\"claim\":\"is_admin\",\"equals\":1,\"role\":\"admin\"}]}}",
		    "$.jwt.role_claims[0].equals", "true, false or a non-empty string" },
		{ "{\"jwt\":{\"keys\":[{\"alg\":\"HS256\",\"secret\":\"0123456789abcdef0123456789abcdef\"}],\"role_claims\":[{\"claim\":\"is_admin\",\"equals\":null,\"role\":\"admin\"}]}}",
		    "$.jwt.role_claims[0].equals", "true, false or a non-empty string" },
		{ "{\"jwt\":{\"keys\":[{\"alg\":\"HS256\",\"secret\":\"0123456789abcdef0123456789abcdef\"}],\"role_claims\":[{\"claim\":\"is_admin\",\"equals\":\"\",\"role\":\"admin\"}]}}",
		    "$.jwt.role_claims[0].equals", "" },
		{ "{\"jwt\":{\"keys\":[{\"alg\":\"HS256\",\"secret\":\"0123456789abcdef0123456789abcdef\"}],\"role_claims\":[{\"claim\":\"exp\",\"equals\":true,\"role\":\"admin\"}]}}",
		    "$.jwt.role_claims[0].claim", "time claim" },
		{ "{\"jwt\":{\"keys\":[{\"alg\":\"HS256\",\"secret\":\"0123456789abcdef0123456789abcdef\"}],\"role_claims\":[{\"claim\":\"org..admin\",\"equals\":true,\"role\":\"admin\"}]}}",
		    "$.jwt.role_claims[0].claim", "dot path" },
		{ "{\"jwt\":{\"keys\":[{\"alg\":\"HS256\",\"secret\":\"0123456789abcdef0123456789abcdef\"}],\"role_claims\":[{\"claim\":\"org.\",\"equals\":true,\"role\":\"admin\"}]}}",
		    "$.jwt.role_claims[0].claim", "dot path" },
		{ "{\"jwt\":{\"keys\":[{\"alg\":\"HS256\",\"secret\":\"0123456789abcdef0123456789abcdef\"}],\"role_claims\":[{\"claim\":\"sub\",\"equals\":true,\"role\":\"admin\"}]}}",
		    "$.jwt.role_claims[0].equals", "user claim" },
		{ "{\"jwt\":{\"keys\":[{\"alg\":\"HS256\",\"secret\":\"0123456789abcdef0123456789abcdef\"}],\"user_claim\":\"user.id\",\"role_claims\":[{\"claim\":\"user.id\",\"equals\":false,\"role\":\"admin\"}]}}",
		    "$.jwt.role_claims[0].equals", "user claim" },
		{ "{\"jwt\":{\"keys\":[{\"alg\":\"HS256\",\"secret\":\"0123456789abcdef0123456789abcdef\"}],\"issuer\":\"https://idp\",\"role_claims\":[{\"claim\":\"iss\",\"equals\":\"https://other\",\"role\":\"admin\"}]}}",
		    "$.jwt.role_claims[0].equals", "never matches" },
		{ "{\"jwt\":{\"keys\":[{\"alg\":\"HS256\",\"secret\":\"0123456789abcdef0123456789abcdef\"}],\"role_claims\":[{\"claim\":\"roles\",\"equals\":true,\"role\":\"admin\"}]}}",
		    "$.jwt.role_claims[0].equals", "roles claim" },
		{ "{\"jwt\":{\"keys\":[{\"alg\":\"HS256\",\"secret\":\"0123456789abcdef0123456789abcdef\"}],\"roles_claim\":\"scope\",\"role_claims\":[{\"claim\":\"scope\",\"equals\":true,\"role\":\"admin\"}]}}",
		    "$.jwt.role_claims[0].equals", "roles claim" },
		{ "{\"jwt\":{\"keys\":[{\"alg\":\"HS256\",\"secret\":\"0123456789abcdef0123456789abcdef\"}],\"audience\":\"api\",\"role_claims\":[{\"claim\":\"aud\",\"equals\":true,\"role\":\"admin\"}]}}",
		    "$.jwt.role_claims[0].equals", "jwt.audience" },
		{ "{\"jwt\":{\"keys\":[{\"alg\":\"HS256\",\"secret\":\"0123456789abcdef0123456789abcdef\"}],\"role_claims\":[{\"claim\":\"is_admin\",\"equals\":true,\"role\":\"a,b\"}]}}",
		    "$.jwt.role_claims[0].role", "comma" },
		{ "{\"jwt\":{\"keys\":[{\"alg\":\"HS256\",\"secret\":\"0123456789abcdef0123456789abcdef\"}],\"role_claims\":[{\"claim\":\"is_admin\",\"equals\":true,\"role\":\" admin\"}]}}",
		    "$.jwt.role_claims[0].role", "space" },
		{ "{\"jwt\":{\"keys\":[{\"alg\":\"HS256\",\"secret\":\"0123456789abcdef0123456789abcdef\"}],\"role_claims\":[{\"claim\":\"is_admin\",\"equals\":true,\"role\":\"admin\"},{\"claim\":\"is_admin\",\"equals\":true,\"role\":\"admin\"}]}}",
		    "$.jwt.role_claims[1]", "twice" },
		{ "{\"jwt\":{\"keys\":[{\"alg\":\"HS256\",\"secret\":\"0123456789abcdef0123456789abcdef\"}],\"role_claims\":[{\"claim\":\"is_admin\",\"value\":true,\"role\":\"admin\"}]}}",
		    "$.jwt.role_claims[0]", "unknown member" },
		{ "{\"api_keys\":{\"bearer\":\"yes\",\"keys\":[]}}",
		    "$.api_keys.bearer", "true or false" },
		{ "{\"jwt\":{\"keys\":[{\"alg\":\"HS256\",\"secret\":\"0123456789abcdef0123456789abcdef\"}]},\"login_url\":\"/signin\"}",
		    "$.login_url", "needs credentials" },
		{ "{\"jwt\":{\"keys\":[{\"alg\":\"HS256\",\"secret\":\"0123456789abcdef0123456789abcdef\"}]},\"login_url\":\"//idp.example/login\"}",
		    "$.login_url", "single '/'" },
		{ "{\"jwt\":{\"keys\":[{\"alg\":\"HS256\",\"secret\":\"0123456789abcdef0123456789abcdef\"}]},\"login_url\":\"ftp://idp.example/login\"}",
		    "$.login_url", "http:// or https://" },
		{ "{\"jwt\":{\"keys\":[{\"alg\":\"HS256\",\"secret\":\"0123456789abcdef0123456789abcdef\"}]},\"login_url\":\"https:///login\"}",
		    "$.login_url", "with a host" },
		{ "{\"jwt\":{\"keys\":[{\"alg\":\"HS256\",\"secret\":\"0123456789abcdef0123456789abcdef\"}]},\"login_url\":\"https://idp.example/login#x\"}",
		    "$.login_url", "fragment" },
		{ "{\"jwt\":{\"keys\":[{\"alg\":\"HS256\",\"secret\":\"0123456789abcdef0123456789abcdef\"}]},\"login_url\":\"https://idp.example/log in\"}",
		    "$.login_url", "spaces" },
		{ "{\"jwt\":{\"keys\":[{\"alg\":\"HS256\",\"secret\":\"0123456789abcdef0123456789abcdef\"}]},\"login_url\":7}",
		    "$.login_url", "" },
		{ "{\"jwt\":{\"keys\":[{\"alg\":\"HS256\",\"secret\":\"0123456789abcdef0123456789abcdef\"}]},\"require_https\":\"yes\"}",
		    "$.require_https", "true or false" },
		{ "{\"jwt\":{\"keys\":[{\"alg\":\"HS256\",\"secret\":\"0123456789abcdef0123456789abcdef\"}]},\"security_headers\":{\"frame_options\":\"ALLOW-FROM x\"}}",
		    "$.security_headers.frame_options", "\"DENY\", \"SAMEORIGIN\" or false" },
		{ "{\"jwt\":{\"keys\":[{\"alg\":\"HS256\",\"secret\":\"0123456789abcdef0123456789abcdef\"}]},\"security_headers\":{\"hsts\":\"includeSubDomains\"}}",
		    "$.security_headers.hsts", "max-age=" },
		{ "{\"jwt\":{\"keys\":[{\"alg\":\"HS256\",\"secret\":\"0123456789abcdef0123456789abcdef\"}]},\"security_headers\":{\"referrer_policy\":\"a\\nb\"}}",
		    "$.security_headers.referrer_policy", "printable ASCII" },
		{ "{\"jwt\":{\"keys\":[{\"alg\":\"HS256\",\"secret\":\"0123456789abcdef0123456789abcdef\"}]},\"security_headers\":{\"frame_ancestors\":\"'self'; script-src *\"}}",
		    "$.security_headers.frame_ancestors", "without ';'" },
		{ "{\"jwt\":{\"keys\":[{\"alg\":\"HS256\",\"secret\":\"0123456789abcdef0123456789abcdef\"}]},\"security_headers\":{\"x_frame\":\"DENY\"}}",
		    "$.security_headers", "unknown member" },
		{ "{\"jwt\":{\"keys\":[{\"alg\":\"HS256\",\"secret\":\"0123456789abcdef0123456789abcdef\"}]},\"rules\":[{\"path\":\"/a\",\"role\":[]}]}",
		    "$.rules[0].role", "non-empty array" },
		{ "{\"jwt\":{\"keys\":[{\"alg\":\"HS256\",\"secret\":\"0123456789abcdef0123456789abcdef\"}]},\"rules\":[{\"path\":\"/a\",\"role\":[\"a\",7]}]}",
		    "$.rules[0].role[1]", "must be a string" },
		{ "{\"jwt\":{\"keys\":[{\"alg\":\"HS256\",\"secret\":\"0123456789abcdef0123456789abcdef\"}]},\"roles\":{\"a\":[\"read\"],\"a\":[\"x\"]}}",
		    "$.roles", "duplicate member \"a\"" },
		{ "{\"jwt\":{\"keys\":[{\"alg\":\"HS256\",\"secret\":\"0123456789abcdef0123456789abcdef\"}]},\"roles\":{\"a\":\"read\"}}",
		    "$.roles.a", "array of permission names" },
		{ "{\"jwt\":{\"keys\":[{\"alg\":\"HS256\",\"secret\":\"0123456789abcdef0123456789abcdef\"}]},\"resources\":[{\"path\":\"/api/pipelines/*\",\"methods\":{\"GET\":\"read\"}}]}",
		    "$.resources[0].path", "{id}" },
		{ "{\"jwt\":{\"keys\":[{\"alg\":\"HS256\",\"secret\":\"0123456789abcdef0123456789abcdef\"}]},\"resources\":[{\"path\":\"/api/p{id}/*\",\"methods\":{\"GET\":\"read\"}}]}",
		    "$.resources[0].path", "whole path segment" },
		{ "{\"jwt\":{\"keys\":[{\"alg\":\"HS256\",\"secret\":\"0123456789abcdef0123456789abcdef\"}]},\"resources\":[{\"path\":\"/api/*/{id}\",\"methods\":{\"GET\":\"read\"}}]}",
		    "$.resources[0].path", "only the part after {id}" },
		{ "{\"jwt\":{\"keys\":[{\"alg\":\"HS256\",\"secret\":\"0123456789abcdef0123456789abcdef\"}]},\"resources\":[{\"path\":\"/p/{id}\"}]}",
		    "$.resources[0]", "missing \"methods\"" },
		{ "{\"jwt\":{\"keys\":[{\"alg\":\"HS256\",\"secret\":\"0123456789abcdef0123456789abcdef\"}]},\"resources\":[{\"path\":\"/p/{id}\",\"methods\":{\"GET\":\"read\"},\"acl\":{\"r_*\":{\"write\":[\"a\"]}}}]}",
		    "$.resources[0].acl.r_*.write", "could never grant" },
		{ "{\"jwt\":{\"keys\":[{\"alg\":\"HS256\",\"secret\":\"0123456789abcdef0123456789abcdef\"}]},\"resources\":[{\"path\":\"/p/{id}\",\"methods\":{\"GET\":\"read\"},\"acl\":{\"r*x\":{\"read\":[\"a\"]}}}]}",
		    "$.resources[0].acl.r*x", "at its end" },
		{ "{\"jwt\":{\"keys\":[{\"alg\":\"HS256\",\"secret\":\"0123456789abcdef0123456789abcdef\"}]},\"resources\":[{\"path\":\"/p/{id}\",\"methods\":{\"GET\":\"read\"},\"acl\":{\"r\":{\"read\":[]}}}]}",
		    "$.resources[0].acl.r.read", "non-empty array" },
		{ "{\"jwt\":{\"keys\":[{\"alg\":\"HS256\",\"secret\":\"0123456789abcdef0123456789abcdef\"}]},\"resources\":[{\"path\":\"/p/{id}\",\"methods\":{\"GET\":\"read\"},\"acl\":{\"r\":{\"read\":[\"a\"]},\"r\":{\"read\":[\"b\"]}}}]}",
		    "$.resources[0].acl", "duplicate member" },
		{ "{\"jwt\":{\"keys\":[{\"alg\":\"HS256\",\"secret\":\"0123456789abcdef0123456789abcdef\"}]},\"resources\":[{\"path\":\"/p/{id}\",\"methods\":{\"GET\":\"read\",\"GET\":\"x\"}}]}",
		    "$.resources[0].methods", "duplicate member" },
	};
	ac_policy_error err;
	size_t i, used;

	begin("bad policies are refused with a JSON path and a reason");
	for (i = 0; i < sizeof v / sizeof v[0]; i++) {
		const ac_policy *P = load(v[i].json, &err);
		CHECK(P == NULL);
		if (P == NULL && (strcmp(err.path, v[i].path) != 0 ||
		    strstr(err.message, v[i].msg) == NULL))
			printf("# %s -> %s: %s\n", v[i].json, err.path, err.message);
		CHECK(P == NULL && strcmp(err.path, v[i].path) == 0);
		CHECK(strstr(err.message, v[i].msg) != NULL);
	}
	end();

	begin("policy load with too little memory fails cleanly");
	{
		static _Alignas(16) uint8_t small[4096];
		size_t sz;
		CHECK(ac_policy_load(small, sizeof small, POLICY, strlen(POLICY),
		    &used, &err) == NULL);
		CHECK(strstr(err.message, "more memory") != NULL);
		/* the documented bound is enough */
		sz = ac_policy_mem_bound(strlen(POLICY));
		CHECK(sz <= sizeof policy_mem);
		CHECK(ac_policy_load(policy_mem, sz, POLICY, strlen(POLICY), &used,
		    &err) != NULL);
		CHECK(used <= sz);
		/* any alignment works within the same bound (wasm malloc gives 8) */
		for (size_t off = 1; off < 16; off++)
			CHECK(ac_policy_load(policy_mem + off, sz, POLICY,
			    strlen(POLICY), &used, &err) != NULL);
	}
	end();
}

/* The message says what is wrong with the member the path names, and
 * only that: no member name repeated, no other member lumped in. */
static void test_policy_messages(void)
{
	static const struct {
		const char *json, *path, *msg;
	} v[] = {
		{ "{\"jwt\":{\"keys\":[{\"kid\":\"a\",\"alg\":\"HS256\",\"secret\":\"short\"}]}}",
		    "$.jwt.keys[0].secret", "must be at least 32 bytes for HS256" },
		{ "{\"jwt\":{\"keys\":[{\"alg\":\"HS384\",\"secret\":\"0123456789abcdef0123456789abcdef\"}]}}",
		    "$.jwt.keys[0].secret", "must be at least 48 bytes for HS384" },
		{ "{\"jwt\":{\"keys\":[{\"alg\":\"HS512\",\"secret_base64url\":\"c2hvcnQ\"}]}}",
		    "$.jwt.keys[0].secret_base64url", "must decode to at least 64 bytes for HS512" },
		{ "{\"sessions\":{\"keys\":[{\"kid\":\"k\",\"secret\":\"short\"}]}}",
		    "$.sessions.keys[0].secret", "must be 32 to 4096 bytes" },
		{ "{\"sessions\":{\"keys\":[{\"kid\":\"k\",\"secret_base64url\":\"c2hvcnQ\"}]}}",
		    "$.sessions.keys[0].secret_base64url", "must decode to 32 to 4096 bytes" },
		{ "{\"sessions\":{\"keys\":[{\"kid\":\"k.1\",\"secret\":\"0123456789abcdef0123456789abcdef\"}]}}",
		    "$.sessions.keys[0].kid", "must be 1 to 32 of [A-Za-z0-9_-]" },
		{ "{\"sessions\":{\"keys\":[{\"kid\":\"k\",\"secret\":7}]}}",
		    "$.sessions.keys[0].secret", "must be a string" },
	};
	ac_policy_error err;
	size_t i;

	begin("key errors name the member that is wrong, and only what is wrong");
	for (i = 0; i < sizeof v / sizeof v[0]; i++) {
		const ac_policy *P = load(v[i].json, &err);
		CHECK(P == NULL);
		if (P == NULL && (strcmp(err.path, v[i].path) != 0 ||
		    strcmp(err.message, v[i].msg) != 0))
			printf("# %s -> %s: %s\n", v[i].json, err.path, err.message);
		CHECK(P == NULL && strcmp(err.path, v[i].path) == 0 &&
		    strcmp(err.message, v[i].msg) == 0);
	}
	end();
}

/* The rules, resources and API keys loaders (core/ac_rules_policy.c,
 * core/ac_resource_policy.c, core/ac_apikey_policy.c) share their list
 * heads, required members and name lists (core/ac_policy_load.c): each
 * refusal is checked whole, path and message, with lists one over their
 * limits, and the limits themselves load. */
static void test_policy_lists(void)
{
#define J "{\"jwt\":{\"keys\":[{\"alg\":\"HS256\",\"secret\":\"0123456789abcdef0123456789abcdef\"}]},"
#define RES(more) J "\"resources\":[{\"path\":\"/p/{id}\",\"methods\":{\"GET\":\"read\"}" more "}]}"
	static const struct {
		const char *json, *path, *msg;
	} v[] = {
		{ J "\"rules\":{}}", "$.rules", "must be an array of rules" },
		{ J "\"rules\":[{\"methods\":[\"GET\"]}]}", "$.rules[0]", "missing \"path\"" },
		{ J "\"rules\":[{\"path\":\"/a\",\"x\":1}]}", "$.rules[0]", "unknown member \"x\"" },
		{ J "\"rules\":[{\"path\":7}]}", "$.rules[0].path", "must be a string" },
		{ J "\"rules\":[{\"path\":\"/a\",\"methods\":[]}]}", "$.rules[0].methods",
		    "must be a non-empty array of method names" },
		{ J "\"rules\":[{\"path\":\"/a\",\"role\":7}]}", "$.rules[0].role",
		    "must be a role name or a non-empty array of role names (any one suffices)" },
		{ J "\"rules\":[{\"path\":\"/a\",\"role\":\"\"}]}", "$.rules[0].role", "must not be empty" },
		{ J "\"rules\":[{\"path\":\"/a\",\"role\":[\"a\",\"\"]}]}", "$.rules[0].role[1]", "must not be empty" },
		{ J "\"resources\":{}}", "$.resources", "must be an array of resources" },
		{ J "\"resources\":[{\"methods\":{\"GET\":\"read\"}}]}", "$.resources[0]", "missing \"path\"" },
		{ J "\"resources\":[{\"path\":\"/p/{id}\"}]}", "$.resources[0]",
		    "missing \"methods\" (method -> permission)" },
		{ RES(",\"x\":1"), "$.resources[0]", "unknown member \"x\"" },
		{ J "\"resources\":[{\"path\":\"/p/{id}\",\"methods\":{}}]}", "$.resources[0].methods",
		    "must map 1 to 17 methods (or \"*\") to permissions" },
		{ RES(",\"acl\":{\"r\":{\"read\":\"a\"}}"), "$.resources[0].acl.r.read",
		    "must be a non-empty array of role names" },
		{ RES(",\"acl\":{\"r\":{\"read\":[7]}}"), "$.resources[0].acl.r.read[0]", "must be a string" },
		{ J "\"roles\":{\"a\":\"read\"}}", "$.roles.a", "must be an array of permission names" },
		{ J "\"roles\":{\"a\":[\"\"]}}", "$.roles.a[0]", "must not be empty" },
		{ "{\"api_keys\":{\"keys\":{}}}", "$.api_keys.keys", "must be an array of keys" },
	};
	static char big[65536];
	ac_policy_error err;
	size_t i, n;
	int k;

	begin("rules, resources, roles and API keys: lists, required members and name lists refused with their path and message");
	for (i = 0; i < sizeof v / sizeof v[0]; i++) {
		const ac_policy *P = load(v[i].json, &err);
		if (P != NULL || strcmp(err.path, v[i].path) != 0 ||
		    strcmp(err.message, v[i].msg) != 0)
			printf("# %s -> %s: %s\n", v[i].json, P ? "loaded" : err.path,
			    P ? "" : err.message);
		CHECK(P == NULL && strcmp(err.path, v[i].path) == 0 &&
		    strcmp(err.message, v[i].msg) == 0);
	}
	/* one over each list's limit */
	n = (size_t)snprintf(big, sizeof big, J "\"rules\":[");
	for (k = 0; k < 257; k++)
		n += (size_t)snprintf(big + n, sizeof big - n, "%s{\"path\":\"/a\"}", k ? "," : "");
	snprintf(big + n, sizeof big - n, "]}");
	CHECK(load(big, &err) == NULL && strcmp(err.path, "$.rules") == 0 &&
	    strcmp(err.message, "more than 256 rules") == 0);
	n = (size_t)snprintf(big, sizeof big, J "\"resources\":[");
	for (k = 0; k < 65; k++)
		n += (size_t)snprintf(big + n, sizeof big - n,
		    "%s{\"path\":\"/p%d/{id}\",\"methods\":{\"GET\":\"read\"}}", k ? "," : "", k);
	snprintf(big + n, sizeof big - n, "]}");
	CHECK(load(big, &err) == NULL && strcmp(err.path, "$.resources") == 0 &&
	    strcmp(err.message, "more than 64 resources") == 0);
	n = (size_t)snprintf(big, sizeof big, J "\"rules\":[{\"path\":\"/a\",\"role\":[");
	for (k = 0; k < AC_ROLES_MAX + 1; k++)
		n += (size_t)snprintf(big + n, sizeof big - n, "%s\"r%d\"", k ? "," : "", k);
	snprintf(big + n, sizeof big - n, "]}]}");
	CHECK(load(big, &err) == NULL && strcmp(err.path, "$.rules[0].role") == 0 &&
	    strcmp(err.message, "too many entries") == 0);
	n = (size_t)snprintf(big, sizeof big, J "\"roles\":{\"a\":[");
	for (k = 0; k < AC_ROLES_MAX + 1; k++)
		n += (size_t)snprintf(big + n, sizeof big - n, "%s\"p%d\"", k ? "," : "", k);
	snprintf(big + n, sizeof big - n, "]}}");
	CHECK(load(big, &err) == NULL && strcmp(err.path, "$.roles.a") == 0 &&
	    strcmp(err.message, "too many entries") == 0);
	n = (size_t)snprintf(big, sizeof big, "{\"api_keys\":{\"keys\":[");
	for (k = 0; k < 257; k++)
		n += (size_t)snprintf(big + n, sizeof big - n, "%s{}", k ? "," : "");
	snprintf(big + n, sizeof big - n, "]}}");
	CHECK(load(big, &err) == NULL && strcmp(err.path, "$.api_keys.keys") == 0 &&
	    strcmp(err.message, "more than 256 API keys") == 0);
	/* and what they take: a role alone or listed, a role with no
	 * permission, and exactly the limits */
	CHECK(load(J "\"rules\":[{\"path\":\"/a\",\"role\":\"r\"},{\"path\":\"/b\",\"role\":[\"r\",\"s\"]}],"
	    "\"roles\":{\"r\":[]}}", &err) != NULL);
	n = (size_t)snprintf(big, sizeof big, J "\"rules\":[");
	for (k = 0; k < 256; k++)
		n += (size_t)snprintf(big + n, sizeof big - n, "%s{\"path\":\"/a\"}", k ? "," : "");
	snprintf(big + n, sizeof big - n, "]}");
	CHECK(load(big, &err) != NULL);
	n = (size_t)snprintf(big, sizeof big, J "\"resources\":[");
	for (k = 0; k < 64; k++)
		n += (size_t)snprintf(big + n, sizeof big - n,
		    "%s{\"path\":\"/p%d/{id}\",\"methods\":{\"GET\":\"read\"}}", k ? "," : "", k);
	snprintf(big + n, sizeof big - n, "]}");
	CHECK(load(big, &err) != NULL);
	end();
#undef RES
#undef J
}

/* The warnings of a policy, as "path|path|..." (cap 8). */
static size_t warnings_of(const char *json, char *paths, size_t cap)
{
	ac_policy_error err;
	ac_policy_warning w[8];
	const ac_policy *P = load(json, &err);
	size_t n, i, o = 0;

	paths[0] = 0;
	if (P == NULL) {
		printf("# %s: %s: %s\n", json, err.path, err.message);
		return 99;
	}
	n = ac_policy_warnings(P, w, 8);
	for (i = 0; i < n && i < 8; i++)
		o += (size_t)snprintf(paths + o, cap - o, "%s%s", i ? "|" : "",
		    w[i].path);
	return n;
}

static void test_policy_warnings(void)
{
	static char j[4096];
	char hash[AC_PASSWORD_HASH_MAX + 1], got[1024];
	uint8_t salt[AC_PASSWORD_SALT_LEN];
	size_t hl, n;
	static const char SESS[] = "\"sessions\":{\"keys\":[{\"kid\":\"k\","
	    "\"secret\":\"0123456789abcdef0123456789abcdef\"}]}";
	static const char AK[] = "\"api_keys\":{\"keys\":[{\"name\":\"bot\","
	    "\"sha256\":\"0000000000000000000000000000000000000000000000000000000000000000\","
	    "\"role\":\"reporter\",\"permissions\":[\"read\"]}]}";

	memset(salt, 7, sizeof salt);
	hl = ac_password_hash(hash, sizeof hash, AC_PBKDF2_SHA256, "pw", 2,
	    salt, 1);
	hash[hl] = 0;

	begin("policy warnings: a role or permission nothing can grant");
	/* users only: their roles are roles and permissions */
	snprintf(j, sizeof j, "{%s,\"users\":[{\"name\":\"a\",\"password_hash\":"
	    "\"%s\",\"roles\":[\"staff\"]}],\"login\":{},\"rules\":["
	    "{\"path\":\"/a\",\"role\":\"admni\"},{\"path\":\"/b\",\"role\":\"staff\"},"
	    "{\"path\":\"/c\",\"permission\":\"staff\"},{\"path\":\"/d\",\"permission\":\"write\"},"
	    "{\"path\":\"/e\",\"role\":\"admin\"}]}", SESS, hash);
	n = warnings_of(j, got, sizeof got);
	CHECK(n == 2 && strcmp(got, "$.rules[0].role|$.rules[3].permission") == 0);
	/* the message names the role and what follows */
	{
		ac_policy_error err;
		ac_policy_warning w[1];
		const ac_policy *P = load(j, &err);
		CHECK(P != NULL && ac_policy_warnings(P, w, 1) == 2);
		CHECK(strstr(w[0].message, "\"admni\"") != NULL &&
		    strstr(w[0].message, "403") != NULL);
		/* out NULL, cap 0: only the count */
		CHECK(P != NULL && ac_policy_warnings(P, NULL, 0) == 2);
	}
	/* API keys: the role is a role, the permissions permissions */
	snprintf(j, sizeof j, "{%s,\"rules\":[{\"path\":\"/a\",\"role\":\"reporter\"},"
	    "{\"path\":\"/b\",\"permission\":\"read\"},{\"path\":\"/c\",\"permission\":\"reporter\"},"
	    "{\"path\":\"/d\",\"role\":\"read\"},{\"path\":\"/e\",\"role\":\"admin\"}]}", AK);
	n = warnings_of(j, got, sizeof got);
	CHECK(n == 3 && strcmp(got, "$.rules[2].permission|$.rules[3].role|"
	    "$.rules[4].role") == 0);
	/* a JWT's roles claim can carry any role: nothing to say */
	snprintf(j, sizeof j, "{%s,\"jwt\":{\"keys\":[{\"alg\":\"HS256\",\"secret\":"
	    "\"0123456789abcdef0123456789abcdef\"}]},\"rules\":[{\"path\":\"/a\","
	    "\"role\":\"admni\",\"permission\":\"x\"}]}", AK);
	CHECK(warnings_of(j, got, sizeof got) == 0);
	/* sessions without login are signed elsewhere: roles unknown */
	snprintf(j, sizeof j, "{%s,\"rules\":[{\"path\":\"/a\",\"role\":\"admni\"}]}",
	    SESS);
	CHECK(warnings_of(j, got, sizeof got) == 0);
	end();

	begin("policy warnings: roles in rules and resource ACLs, permissions of resources");
	/* with "roles", a role it does not define is most likely a typo */
	snprintf(j, sizeof j, "{\"jwt\":{\"keys\":[{\"alg\":\"HS256\",\"secret\":"
	    "\"0123456789abcdef0123456789abcdef\"}]},\"roles\":{\"viewer\":[\"read\"],"
	    "\"admin\":[\"read\",\"run\"]},\"rules\":[{\"path\":\"/a\",\"role\":"
	    "[\"admin\",\"admn\"]}],\"resources\":[{\"path\":\"/p/{id}/*\",\"methods\":"
	    "{\"GET\":\"read\",\"POST\":\"run\"},\"acl\":{\"r_*\":{\"read\":[\"viewer\","
	    "\"veiwer\"],\"run\":[\"admin\"]}}}]}");
	n = warnings_of(j, got, sizeof got);
	CHECK(n == 2 && strcmp(got, "$.rules[0].role|$.resources[0].acl.r_*.read") == 0);
	/* API keys only: a role no key holds, a permission nothing grants,
	 * one "roles" grants to a key's role */
	snprintf(j, sizeof j, "{%s,\"roles\":{\"reporter\":[\"export\"]},"
	    "\"resources\":[{\"path\":\"/r/{id}\",\"methods\":{\"GET\":\"read\","
	    "\"PUT\":\"write\",\"POST\":\"export\"}},{\"path\":\"/s/{id}\",\"methods\":"
	    "{\"GET\":\"read\"},\"acl\":{\"*\":{\"read\":[\"auditor\"]}}}]}", AK);
	n = warnings_of(j, got, sizeof got);
	CHECK(n == 2 && strcmp(got, "$.resources[0].methods.PUT|$.resources[1].acl.*.read") == 0);
	end();

	begin("policy warnings: rules outside the session cookie's Path");
	snprintf(j, sizeof j, "{%s,\"users\":[{\"name\":\"a\",\"password_hash\":"
	    "\"%s\"}],\"login\":{\"prefix\":\"/app\"},\"rules\":["
	    "{\"path\":\"/api/*\"},{\"path\":\"/app/*\"},{\"path\":\"/app\"},"
	    "{\"path\":\"/apple\"},{\"path\":\"/a*\"},{\"path\":\"*\"},"
	    "{\"path\":\"/app/x/*/y\"},{\"path\":\"/ap\"},{\"path\":\"/app*\"},"
	    "{\"path\":\"/appx*\"}]}", SESS, hash);
	n = warnings_of(j, got, sizeof got);
	CHECK(n == 4 && strcmp(got, "$.rules[0].path|$.rules[3].path|"
	    "$.rules[7].path|$.rules[9].path") == 0);
	/* another credential reaches those paths: Basic, a JWT, an API key */
	snprintf(j, sizeof j, "{%s,\"users\":[{\"name\":\"a\",\"password_hash\":"
	    "\"%s\"}],\"login\":{\"prefix\":\"/app\",\"basic\":true},\"rules\":["
	    "{\"path\":\"/api/*\"}]}", SESS, hash);
	CHECK(warnings_of(j, got, sizeof got) == 0);
	snprintf(j, sizeof j, "{%s,%s,\"users\":[{\"name\":\"a\",\"password_hash\":"
	    "\"%s\"}],\"login\":{\"prefix\":\"/app\"},\"rules\":["
	    "{\"path\":\"/api/*\"}]}", SESS, AK, hash);
	CHECK(warnings_of(j, got, sizeof got) == 0);
	/* the root prefix: the cookie goes everywhere */
	snprintf(j, sizeof j, "{%s,\"users\":[{\"name\":\"a\",\"password_hash\":"
	    "\"%s\"}],\"login\":{\"prefix\":\"/\"},\"rules\":[{\"path\":\"/api/*\"}]}",
	    SESS, hash);
	CHECK(warnings_of(j, got, sizeof got) == 0);
	/* the count goes on past the cap */
	{
		ac_policy_error err;
		ac_policy_warning w[1];
		const ac_policy *P;
		snprintf(j, sizeof j, "{%s,\"users\":[{\"name\":\"a\",\"password_hash\":"
		    "\"%s\"}],\"login\":{\"prefix\":\"/app\"},\"rules\":["
		    "{\"path\":\"/x\",\"role\":\"nobody\"},{\"path\":\"/y\"}]}",
		    SESS, hash);
		P = load(j, &err);
		memset(w, 0, sizeof w);
		CHECK(P != NULL && ac_policy_warnings(P, w, 1) == 3);
		CHECK(strcmp(w[0].path, "$.rules[0].path") == 0 &&
		    strstr(w[0].message, "\"/app\"") != NULL &&
		    strstr(w[0].message, "401") != NULL);
	}
	end();
}

#ifdef AC_TEST_COUNT_HEAP
static void test_no_heap(void)
{
	static ac_decision d;
	ac_policy_error err;
	const ac_policy *P;
	static char auth[AC_TOKEN_MAX + 16];
	const char *tok;
	size_t before;

	begin("no heap call while loading policies, signing and deciding");
	tok = sign("{\"sub\":\"u1\",\"roles\":[\"reader\"],\"aud\":\"api\",\"exp\":2000}");
	snprintf(auth, sizeof auth, "Bearer %s", tok);
	before = heap_calls;
	P = load(POLICY, &err);
	CHECK(P != NULL);
	(void)load("{\"jwt\":", &err);
	(void)sign("{\"a\":[1,2,{\"b\":null}]}");
	if (P != NULL) {
		ac_policy_warning w[2];
		decide_case(P, "GET", "/api/x", auth, &d, 1000);
		decide_case(P, "GET", "/api/x", "Bearer x.y.z", &d, 1000);
		(void)ac_policy_warnings(P, w, 2);
	}
	CHECK(heap_calls == before);
	/* and the wrapper really counts (the test could fail) */
	{
		void *volatile p = malloc(16);
		free(p);
	}
	CHECK(heap_calls == before + 2);
	end();
}
#endif

static void decide_req(const ac_policy *P, const char *method,
    const char *path, const char *peer, int https, const ac_header *h,
    size_t n, ac_decision *d)
{
	ac_request r;
	memset(&r, 0, sizeof r);
	r.method.ptr = method;
	r.method.len = strlen(method);
	r.path.ptr = path;
	r.path.len = strlen(path);
	r.client_ip.ptr = peer;
	r.client_ip.len = strlen(peer);
	r.https = https;
	r.headers = h;
	r.n_headers = n;
	ac_decide(P, NULL, &r, 1000, NULL, 0, d);
}

static int removes(const ac_decision *d, const char *name)
{
	size_t i;
	for (i = 0; i < d->a.n_remove; i++)
		if (d->a.remove[i].len == strlen(name) &&
		    memcmp(d->a.remove[i].ptr, name, d->a.remove[i].len) == 0)
			return 1;
	return 0;
}

static void test_canonical_path(void)
{
	static const char *const refused[] = { "/api#", "/api/%00", "/a/%1f",
		"/a/%2561", "/a/%25%32%65", "/a/%zz", "/a/%4", "/a/%", "/a;x/b",
		"/a/%C0%AE", "/a/\xff", "/a/%ED%A0%80", "/a/%2e%2e/b", "/a/%2F",
		"/a/%5C", "/a/\\b", "/a//b", "/a/./b", "/a/../b", "/a b",
		"/a/%F4%90%80%80", "/a/%23", "/a%3Fb", "a", "" };
	char w[64], m[64];
	size_t wl, ml, i;

	begin("canonical path: refusals, wire and match forms");
	for (i = 0; i < sizeof refused / sizeof refused[0]; i++) {
		int r = ac_path_canon(refused[i], strlen(refused[i]), w, &wl, m, &ml);
		if (r != -1)
			printf("# accepted %s\n", refused[i]);
		CHECK(r == -1);
	}
	CHECK(ac_path_canon("/%61pi/%7e%3a%e2%82%AC", 22, w, &wl, m, &ml) == 0);
	CHECK(wl == 18 && memcmp(w, "/api/~%3A%E2%82%AC", 18) == 0);
	CHECK(ml == 10 && memcmp(m, "/api/~:\xe2\x82\xac", 10) == 0);
	/* idempotent: the wire form is its own canonical form */
	CHECK(ac_path_canon(w, wl, w + 32, &wl, m + 32, &ml) == 0 && wl == 18 &&
	    memcmp(w + 32, "/api/~%3A%E2%82%AC", 18) == 0);
	CHECK(ac_path_canon("/a/%25zz", 8, w, &wl, m, &ml) == 0 && ml == 6 &&
	    memcmp(m, "/a/%zz", 6) == 0);
	end();
}

static void test_request_rules(void)
{
	static const char pol[] =
	    "{\"jwt\":{\"keys\":[{\"alg\":\"HS256\","
	    "\"secret\":\"unit-test-secret-0123456789abcdefghij\"}],"
	    "\"require_exp\":false,\"sources\":[{\"header\":\"authorization\","
	    "\"prefix\":\"Bearer\"},{\"cookie\":\"jwt\"},{\"query\":\"access_token\"}]},"
	    "\"trusted_proxies\":[\"10.0.0.0/8\",\"fd00::/8\"],"
	    "\"request\":{\"non_canonical_path\":\"rewrite\"},"
	    "\"audit\":{\"allowed\":\"all\"},"
	    "\"rules\":[{\"methods\":[\"GET\"],\"path\":\"/api/secret\",\"role\":\"admin\"},"
	    "{\"methods\":[\"DELETE\"],\"path\":\"/api/admin/*\",\"role\":\"admin\"}]}";
	ac_policy_error err;
	const ac_policy *P = load(pol, &err);
	static ac_decision d;
	char auth[1024], cookie[1100], target[1200];
	const char *tok;

	begin("request: rewrite, HEAD, headers, credentials, proxies, CSRF");
	CHECK(P != NULL);
	if (P == NULL) {
		printf("# %s: %s\n", err.path, err.message);
		end();
		return;
	}
	tok = sign("{\"sub\":\"bob\",\"roles\":[\"reader\"]}");
	snprintf(auth, sizeof auth, "Bearer %s", tok);
	{
		ac_header h[] = { H("Authorization", auth),
			H("X-HTTP-Method-Override", "DELETE") };
		/* an escaped spelling of an admin path is matched decoded */
		decide_req(P, "DELETE", "/%61pi/admin/users/7", "192.0.2.1", 0, h, 1, &d);
		CHECK(d.a.status == 403 && d.a.reason == AC_INSUFFICIENT_ROLE);
		decide_req(P, "DELETE", "/api/%61dmin/users/7", "192.0.2.1", 0, h, 1, &d);
		CHECK(d.a.status == 403 && d.a.reason == AC_INSUFFICIENT_ROLE);
		/* HEAD runs the GET handler */
		decide_req(P, "HEAD", "/api/secret", "192.0.2.1", 0, h, 1, &d);
		CHECK(d.a.status == 403 && d.a.reason == AC_INSUFFICIENT_ROLE);
		/* allowed: the canonical target is forwarded, the token and
		 * the override header are not */
		decide_req(P, "POST", "/api/it%65ms?x=1", "192.0.2.1", 0, h, 2, &d);
		CHECK(d.a.action == AC_ALLOW && d.a.reason == AC_OK);
		CHECK(d.a.path_rewritten == 1 && str_is(d.a.path, "/api/items?x=1"));
		CHECK(removes(&d, "authorization") && removes(&d, "x-http-method-override"));
		CHECK(strstr(d.a.audit, "\"action\":\"allow\"") != NULL);
	}
	{
		/* a token from the query is removed from the forwarded target
		 * and from the audit line */
		snprintf(target, sizeof target, "/api/items?a=1&access_token=%s&b=2", tok);
		decide_req(P, "GET", target, "192.0.2.1", 0, NULL, 0, &d);
		CHECK(d.a.action == AC_ALLOW && d.a.path_rewritten == 1 &&
		    str_is(d.a.path, "/api/items?a=1&b=2"));
		CHECK(strstr(d.a.audit, tok) == NULL);
		/* refused: the target as sent is logged, without the token */
		snprintf(target, sizeof target, "/api/items?access_token=%sx&b=2", tok);
		decide_req(P, "GET", target, "192.0.2.1", 0, NULL, 0, &d);
		CHECK(d.a.status == 401 && strstr(d.a.audit, tok) == NULL &&
		    strstr(d.a.audit, "access_token=REDACTED&b=2") != NULL);
	}
	{
		/* header names upstreams fold onto identity headers */
		ac_header h[] = { H("Authorization", auth), H("X_Authcore_User", "admin") };
		decide_req(P, "GET", "/api/items", "192.0.2.1", 0, h, 2, &d);
		CHECK(d.a.status == 400 && d.a.reason == AC_BAD_HEADER);
	}
	{
		/* a Cookie header the core would forward rebuilt (the token
		 * cookie consumed) never carries CR, LF or NUL on: refused */
		static const char v[3][24] = { "a=b\r; c=d", "a=b\n; c=d",
			"\0a=b; c=d" };
		size_t k;
		for (k = 0; k < 3; k++) {
			ac_header h[] = { H("Authorization", auth), H("Cookie", "") };
			h[1].value.ptr = v[k];
			h[1].value.len = k == 2 ? 10 : strlen(v[k]);
			decide_req(P, "GET", "/api/items", "192.0.2.1", 0, h, 2, &d);
			CHECK(d.a.status == 400 && d.a.reason == AC_BAD_HEADER);
		}
	}
	{
		/* identity values as upstreams will read them */
		static const char *const bad[] = {
			"{\"sub\":\"  alice  \",\"roles\":[\"reader\"]}",
			"{\"sub\":\"alice\",\"roles\":[\"reader\",\" admin\"]}",
			"{\"sub\":\"\",\"roles\":[\"reader\"]}",
			"{\"sub\":\"alice\\t\",\"roles\":[]}" };
		size_t i;
		for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
			static char a2[AC_TOKEN_MAX + 16];
			ac_header h[1];
			snprintf(a2, sizeof a2, "Bearer %s", sign(bad[i]));
			h[0].name.ptr = "Authorization";
			h[0].name.len = 13;
			h[0].value.ptr = a2;
			h[0].value.len = strlen(a2);
			decide_req(P, "GET", "/api/items", "192.0.2.1", 0, h, 1, &d);
			CHECK(d.a.status == 401 && d.a.reason == AC_BAD_CLAIM);
		}
	}
	{
		/* trusted proxies: the right-most untrusted hop is the client */
		ac_header h[2 + 1];
		tok = sign("{\"sub\":\"bob\",\"roles\":[\"reader\"]}");
		snprintf(auth, sizeof auth, "Bearer %s", tok);
		ac_header hh[] = { H("Authorization", auth),
			H("X-Forwarded-For", "203.0.113.9, 198.51.100.4, 10.1.2.3"),
			H("X-Forwarded-Proto", "https") };
		memcpy(h, hh, sizeof h);
		decide_req(P, "GET", "/api/items", "10.0.0.5", 0, h, 3, &d);
		CHECK(d.a.action == AC_ALLOW && str_is(d.a.client, "198.51.100.4") && d.a.https == 1);
		CHECK(strstr(d.a.audit, "\"client_ip\":\"198.51.100.4\"") != NULL);
		/* Node's IPv4-mapped peer is the same address */
		decide_req(P, "GET", "/api/items", "::ffff:10.0.0.5", 0, h, 3, &d);
		CHECK(str_is(d.a.client, "198.51.100.4"));
		/* from an untrusted peer the headers mean nothing */
		decide_req(P, "GET", "/api/items", "192.0.2.1", 0, h, 3, &d);
		CHECK(str_is(d.a.client, "192.0.2.1") && d.a.https == 0);
		decide_req(P, "GET", "/api/items", "fd00::1", 1, h, 3, &d);
		CHECK(str_is(d.a.client, "198.51.100.4") && d.a.https == 1);
	}
	{
		/* a JWT from a cookie: unsafe methods must be same-origin */
		snprintf(cookie, sizeof cookie, "other=1; jwt=%s", tok);
		ac_header evil[] = { H("Cookie", cookie), H("Host", "dash.test"),
			H("Origin", "https://evil.example") };
		ac_header site[] = { H("Cookie", cookie), H("Host", "dash.test"),
			H("Sec-Fetch-Site", "same-site") };
		ac_header same[] = { H("Cookie", cookie), H("Host", "dash.test"),
			H("Origin", "http://dash.test"), H("Sec-Fetch-Site", "same-origin") };
		decide_req(P, "POST", "/api/items", "192.0.2.1", 0, evil, 3, &d);
		if (d.a.reason != AC_CSRF_FAILED)
			printf("# %.*s\n", (int)d.a.audit_len, d.a.audit);
		CHECK(d.a.status == 403 && d.a.reason == AC_CSRF_FAILED);
		decide_req(P, "POST", "/api/items", "192.0.2.1", 0, site, 3, &d);
		CHECK(d.a.status == 403 && d.a.reason == AC_CSRF_FAILED);
		decide_req(P, "POST", "/api/items", "192.0.2.1", 0, same, 4, &d);
		CHECK(d.a.action == AC_ALLOW && d.a.reason == AC_OK);
		/* the consumed cookie does not go on; the others do */
		CHECK(removes(&d, "cookie") && add_value(&d, "cookie") &&
		    strcmp(add_value(&d, "cookie"), "other=1") == 0);
		decide_req(P, "GET", "/api/items", "192.0.2.1", 0, evil, 3, &d);
		CHECK(d.a.action == AC_ALLOW);
	}
	end();

	begin("request settings: refuse overrides, allow '_', forward credentials");
	P = load("{\"jwt\":{\"keys\":[{\"alg\":\"HS256\","
	    "\"secret\":\"unit-test-secret-0123456789abcdefghij\"}],"
	    "\"require_exp\":false},\"request\":{\"method_override\":\"refuse\","
	    "\"underscore_headers\":\"allow\",\"forward_credentials\":true}}", &err);
	CHECK(P != NULL);
	if (P != NULL) {
		ac_header h[] = { H("Authorization", auth), H("X_Thing", "1"),
			H("X-Method-Override", "DELETE") };
		decide_req(P, "GET", "/x", "192.0.2.1", 0, h, 2, &d);
		CHECK(d.a.action == AC_ALLOW && !removes(&d, "authorization"));
		decide_req(P, "GET", "/x", "192.0.2.1", 0, h, 3, &d);
		CHECK(d.a.status == 400 && d.a.reason == AC_BAD_HEADER);
		decide_req(P, "GET", "/%78", "192.0.2.1", 0, h, 2, &d);
		CHECK(d.a.status == 400 && d.a.reason == AC_BAD_PATH);
	}
	end();

	begin("request policy errors name the path");
	{
		static const struct { const char *json, *path; } bad[] = {
			{ "{\"jwt\":{\"keys\":[{\"alg\":\"HS256\",\"secret\":\"unit-test-secret-0123456789abcdefghij\"}]},\"public\":[\"/a%20b\"]}", "$.public[0]" },
			{ "{\"jwt\":{\"keys\":[{\"alg\":\"HS256\",\"secret\":\"unit-test-secret-0123456789abcdefghij\"}]},\"rules\":[{\"path\":\"/a//b\"}]}", "$.rules[0].path" },
			{ "{\"jwt\":{\"keys\":[{\"alg\":\"HS256\",\"secret\":\"unit-test-secret-0123456789abcdefghij\"}]},\"trusted_proxies\":[\"10.0.0.1/8\"]}", "$.trusted_proxies[0]" },
			{ "{\"jwt\":{\"keys\":[{\"alg\":\"HS256\",\"secret\":\"unit-test-secret-0123456789abcdefghij\"}]},\"request\":{\"non_canonical_path\":\"fix\"}}", "$.request.non_canonical_path" },
			{ "{\"jwt\":{\"keys\":[{\"alg\":\"HS256\",\"secret\":\"unit-test-secret-0123456789abcdefghij\"}]},\"identity_headers\":{\"user\":\"x_user\"}}", "$.identity_headers" },
		};
		size_t i;
		for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
			CHECK(load(bad[i].json, &err) == NULL);
			if (strcmp(err.path, bad[i].path) != 0)
				printf("# %s: %s\n", err.path, err.message);
			CHECK(strcmp(err.path, bad[i].path) == 0);
		}
	}
	end();
}

/* The shapes role_claims, login_url and bearer keys take load, and so
 * do the values the loader must not confuse with the ones it refuses. */
static void test_app_fit_policies(void)
{
	static const char *const good[] = {
		"{\"jwt\":{\"keys\":[{\"alg\":\"HS256\",\"secret\":\"0123456789abcdef0123456789abcdef\"}],"
		"\"role_claims\":[{\"claim\":\"is_admin\",\"equals\":true,\"role\":\"admin\"},"
		"{\"claim\":\"is_admin\",\"equals\":true,\"role\":\"staff\"},"
		"{\"claim\":\"role\",\"equals\":\"viewer\",\"role\":\"viewer\"},"
		"{\"claim\":\"sub\",\"equals\":\"root\",\"role\":\"admin\"},"
		"{\"claim\":\"expires\",\"equals\":false,\"role\":\"x\"},"
		"{\"claim\":\"org.exp\",\"equals\":true,\"role\":\"y\"},"
		"{\"claim\":\"iss\",\"equals\":\"https://idp\",\"role\":\"z\"},"
		"{\"claim\":\"aud\",\"equals\":true,\"role\":\"w\"},"
		"{\"claim\":\"roles\",\"equals\":\"ops\",\"role\":\"v\"}],"
		"\"issuer\":\"https://idp\"}}",
		"{\"jwt\":{\"keys\":[{\"alg\":\"HS256\",\"secret\":\"0123456789abcdef0123456789abcdef\"}]},"
		"\"login_url\":\"https://idp.example/login?app=x\"}",
		"{\"jwt\":{\"keys\":[{\"alg\":\"HS256\",\"secret\":\"0123456789abcdef0123456789abcdef\"}]},"
		"\"login_url\":\"/signin?from=app\",\"public\":[\"/sign*\"]}",
		"{\"api_keys\":{\"bearer\":true,\"keys\":[{\"name\":\"old\",\"sha256\":"
		"\"0000000000000000000000000000000000000000000000000000000000000000\"}]}}",
	};
	ac_policy_error err;
	size_t i;

	begin("policy: role_claims, login_url and bearer API keys that can match load");
	for (i = 0; i < sizeof good / sizeof good[0]; i++) {
		const ac_policy *P = load(good[i], &err);
		CHECK(P != NULL);
		if (P == NULL)
			printf("# case %zu: %s: %s\n", i, err.path, err.message);
	}
	end();
}

int main(void)
{
	test_base64url();
	test_ct_equal();
	test_rfc4231();
	test_rfc7515_a1();
	test_rfc7520_4_4();
	test_sign_verify_roundtrip();
	test_claims();
	test_hostile_tokens();
	test_empty_payload();
	test_policy_and_decide();
	test_jwk_key_ops();
	test_policy_errors();
	test_app_fit_policies();
	test_policy_messages();
	test_policy_lists();
	test_policy_warnings();
	test_sources_and_claims();
	test_protocol_source();
	test_audit_always_logged();
	test_audit_allowed();
	test_needs_tls();
	test_sha256_paths();
	test_canonical_path();
	test_request_rules();
#ifdef AC_TEST_COUNT_HEAP
	test_no_heap();
#endif
	printf("# %d failed\n", failures);
	return failures ? 1 : 0;
}
