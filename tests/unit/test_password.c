/*
 * Unit tests for PBKDF2 and password hash strings (core/ac_password.c).
 * Self-contained (no files, no clock) so the same program runs natively,
 * under ASan+UBSan, and as WASI wasm under Node. Prints "ok - name" /
 * "not ok - name: where" per check group.
 *
 * Known answers were computed with Python's hashlib.pbkdf2_hmac and base64,
 * not with authcore; the RFC 7914 section 11 vectors are the RFC's.
 * tests/unit/password_xcheck.py checks more strings both ways at run time
 * through the helper modes below (native build only):
 *   --verify HASH                  password on stdin (all of it, as bytes);
 *                                  prints the status name
 *   --hash 256|512 ITERATIONS SALT_HEX   password on stdin; prints the string
 *   --bench ITERATIONS             times PBKDF2-HMAC-SHA256 (dkLen 32)
 *
 * Built with -DAC_TEST_COUNT_HEAP natively: malloc and friends are wrapped
 * so the run proves hashing and verifying make no heap call at all.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "authcore.h"

#include "check.h"

static size_t unhex(uint8_t *out, size_t cap, const char *h)
{
	size_t n = strlen(h) / 2, i;
	if (n > cap)
		return (size_t)-1;
	for (i = 0; i < n; i++) {
		unsigned v;
		if (sscanf(h + 2 * i, "%2x", &v) != 1)
			return (size_t)-1;
		out[i] = (uint8_t)v;
	}
	return n;
}

static ac_password_status verify_s(const char *h, const char *pw)
{
	return ac_password_verify(h, strlen(h), pw, strlen(pw), NULL);
}

/* ---- PBKDF2 known answers ---- */
typedef struct {
	const char *name;
	int hash;
	const char *pw;
	size_t plen;
	const char *salt;
	size_t slen;
	uint32_t iterations;
	const char *dk_hex;
} kat;

static char LONG_X[201], LONG_Y[301];

static const kat KATS[] = {
	{ "rfc7914 11 #1 (sha256, c=1, 2 blocks)", AC_PBKDF2_SHA256, "passwd",
	    6, "salt", 4, 1,
	    "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc"
	    "49ca9cccf179b645991664b39d77ef317c71b845b1e30bd509112041d3a19783" },
	{ "rfc7914 11 #2 (sha256, c=80000, 2 blocks)", AC_PBKDF2_SHA256,
	    "Password", 8, "NaCl", 4, 80000,
	    "4ddcd8f60b98be21830cee5ef22701f9641a4418d04c0414aeff08876b34ab56"
	    "a1d425a1225833549adb841b51c9b3176a272bdebba1d078478f62b397f33c8d" },
	{ "sha512 c=2", AC_PBKDF2_SHA512, "password", 8, "salt", 4, 2,
	    "e1d9c16aa681708a45f5c7c4e215ceb66e011a2e9f0040713f18aefdb866d53c"
	    "f76cab2868a39b9f7840edce4fef5a82be67335c77a6068e04112754f27ccf4e" },
	{ "sha512 NULs, dkLen 65 (2 blocks)", AC_PBKDF2_SHA512, "pass\0word",
	    9, "sa\0lt", 5, 7,
	    "58d9a18c4a11c27b8070a916ce3debd302dcf2f051c02705cde69cc16c4bbf28"
	    "1ebe2d9defcc37058d1a12eb5fc7d4797ce8a229dba153c27fd2e4fe632a88d3"
	    "aa" },
	{ "sha256 200-byte password (hashed key)", AC_PBKDF2_SHA256, LONG_X,
	    200, "salt", 4, 3,
	    "287c49d10c76a257901dd1040c538f08b846734d343bbe2e0330f601abf41c81" },
	{ "sha512 300-byte password (hashed key)", AC_PBKDF2_SHA512, LONG_Y,
	    300, "salt", 4, 3,
	    "989b8fb3e8f570f7ffdbfe09e6c973dd57c6cebe89338732bc1c092464c4f5da"
	    "d5ba1c2ed2b1ee41d8a5be3d4b885255c92de994aaf8e4700939dfa35bfa34c9" },
};

static void test_kats(void)
{
	size_t i;
	for (i = 0; i < sizeof KATS / sizeof KATS[0]; i++) {
		const kat *k = &KATS[i];
		uint8_t want[AC_PBKDF2_DK_MAX], got[AC_PBKDF2_DK_MAX];
		size_t n = unhex(want, sizeof want, k->dk_hex);
		begin(k->name);
		memset(got, 0xee, sizeof got);
		CHECK(ac_pbkdf2(got, k->hash, k->pw, k->plen, k->salt, k->slen,
		    k->iterations, n) == 0);
		CHECK(memcmp(got, want, n) == 0);
		CHECK(got[n] == 0xee); /* nothing written past dk_len */
		end();
	}
}

/* ---- resumption ---- */
static uint32_t rng_state = 12345;
static uint32_t rnd(void)
{
	rng_state = rng_state * 1103515245u + 12345u;
	return rng_state >> 8;
}

static void test_resume(void)
{
	static const int hashes[2] = { AC_PBKDF2_SHA256, AC_PBKDF2_SHA512 };
	static const size_t lens[4] = { 16, 32, 65, 128 };
	int h, trial;
	size_t li;
	begin("step-wise resumption equals one-shot (random split points)");
	for (h = 0; h < 2; h++) {
		for (li = 0; li < 4; li++) {
			uint8_t one[AC_PBKDF2_DK_MAX], res[AC_PBKDF2_DK_MAX];
			uint32_t it = 500 + rnd() % 500;
			CHECK(ac_pbkdf2(one, hashes[h], "pw", 2, "saltsalt", 8,
			    it, lens[li]) == 0);
			for (trial = 0; trial < 3; trial++) {
				ac_pbkdf2_ctx ctx, copy;
				size_t left, prev = it - 1u;
				char pw[3] = "pw", salt[9] = "saltsalt";
				CHECK(ac_pbkdf2_begin(&ctx, hashes[h], pw, 2, salt,
				    8, it, lens[li]) == 0);
				/* inputs may change once begin returned */
				memset(pw, 'X', sizeof pw);
				memset(salt, 'Y', sizeof salt);
				CHECK(ac_pbkdf2_remaining(&ctx) == prev);
				CHECK(ac_pbkdf2_step(&ctx, 0) == prev);
				CHECK(ac_pbkdf2_finish(&ctx, res) == -1 ||
				    prev == 0);
				do {
					size_t chunk = 1 + rnd() % 300;
					left = ac_pbkdf2_step(&ctx, chunk);
					CHECK(left == (prev > chunk ? prev - chunk
					    : 0));
					prev = left;
					if (trial == 1 && left > 0 && left < 200) {
						/* memcpy clones a context */
						memcpy(&copy, &ctx, sizeof ctx);
						ac_pbkdf2_wipe(&ctx);
						memcpy(&ctx, &copy, sizeof ctx);
						ac_pbkdf2_wipe(&copy);
					}
				} while (left > 0);
				CHECK(ac_pbkdf2_step(&ctx, 100) == 0);
				CHECK(ac_pbkdf2_finish(&ctx, res) == 0);
				CHECK(memcmp(one, res, lens[li]) == 0);
				/* finish wiped it: a second finish refuses */
				CHECK(ac_pbkdf2_finish(&ctx, res) == -1);
			}
		}
	}
	end();
}

static void test_pbkdf2_args(void)
{
	ac_pbkdf2_ctx ctx;
	uint8_t out[AC_PBKDF2_DK_MAX + 1], z[sizeof(ac_pbkdf2_ctx)];
	begin("pbkdf2 argument limits");
	memset(z, 0, sizeof z);
	CHECK(ac_pbkdf2(out, 384, "p", 1, "s", 1, 1, 32) == -1);
	CHECK(ac_pbkdf2(out, AC_PBKDF2_SHA256, "p", 1, "s", 1, 0, 32) == -1);
	CHECK(ac_pbkdf2(out, AC_PBKDF2_SHA256, "p", 1, "s", 1, 1, 0) == -1);
	CHECK(ac_pbkdf2(out, AC_PBKDF2_SHA256, "p", 1, "s", 1, 1,
	    AC_PBKDF2_DK_MAX + 1) == -1);
	CHECK(ac_pbkdf2(out, AC_PBKDF2_SHA256, NULL, 1, "s", 1, 1, 32) == -1);
	CHECK(ac_pbkdf2(out, AC_PBKDF2_SHA256, NULL, 0, NULL, 0, 1, 32) == 0);
	CHECK(ac_pbkdf2(out, AC_PBKDF2_SHA512, "p", 1, "s", 1, 1,
	    AC_PBKDF2_DK_MAX) == 0);
	memset(&ctx, 0x5a, sizeof ctx);
	CHECK(ac_pbkdf2_begin(&ctx, 1, "p", 1, "s", 1, 1, 32) == -1);
	CHECK(memcmp(&ctx, z, sizeof ctx) == 0); /* wiped on refusal */
	CHECK(ac_pbkdf2_step(&ctx, 10) == 0);
	CHECK(ac_pbkdf2_finish(&ctx, out) == -1);
	CHECK(ac_pbkdf2_begin(&ctx, AC_PBKDF2_SHA256, "p", 1, "s", 1, 5, 32) ==
	    0);
	CHECK(ac_pbkdf2_finish(&ctx, out) == -1); /* 4 iterations left */
	ac_pbkdf2_wipe(&ctx);
	CHECK(memcmp(&ctx, z, sizeof ctx) == 0);
	CHECK(ac_pbkdf2_remaining(&ctx) == 0);
	CHECK(ac_sizeof_pbkdf2_ctx() == sizeof(ac_pbkdf2_ctx));
	CHECK(ac_sizeof_password_verify_ctx() == sizeof(ac_password_verify_ctx));
	CHECK(ac_sizeof_password_limits() == sizeof(ac_password_limits));
	CHECK(ac_const_pbkdf2_dk_max() == AC_PBKDF2_DK_MAX);
	CHECK(ac_const_password_salt_len() == 16);
	CHECK(ac_const_password_hash_max() == AC_PASSWORD_HASH_MAX);
	CHECK(ac_const_password_string_max() == AC_PASSWORD_STRING_MAX);
	CHECK(ac_const_password_iterations_max_default() == 10000000u);
	CHECK(ac_const_password_len_max_default() == 1024);
	CHECK(ac_const_password_iterations_recommended(AC_PBKDF2_SHA256) ==
	    600000u);
	CHECK(ac_const_password_iterations_recommended(AC_PBKDF2_SHA512) ==
	    220000u);
	CHECK(ac_const_password_iterations_recommended(1) == 0);
	end();
}

/* ---- hash strings ---- */
static const uint8_t SALT16[16] = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11,
	12, 13, 14, 15 };
static const char PHC256[] = "$pbkdf2-sha256$i=1000$AAECAwQFBgcICQoLDA0ODw$"
    "yRTMTwbMbo9G0VfjobWqerzuuxe7BETNTErBbKKumGQ";
static const char PHC512[] = "$pbkdf2-sha512$i=1000$AAECAwQFBgcICQoLDA0ODw$"
    "Xpx07WjVx4vCIvrmBRj8uOoVVtGqJqtUv2J5bhizSQs7osCteF7W4A61dZDqSIqQjO+dx"
    "O6p5FT/Uy7QRBXSXA";

static void test_hash(void)
{
	char out[AC_PASSWORD_HASH_MAX + 8];
	size_t n;
	uint8_t dk[64];
	ac_pbkdf2_ctx ctx;

	begin("ac_password_hash writes the PHC string (hashlib known answer)");
	n = ac_password_hash(out, sizeof out, AC_PBKDF2_SHA256,
	    "correct horse", 13, SALT16, 1000);
	CHECK(n == strlen(PHC256) && memcmp(out, PHC256, n) == 0);
	n = ac_password_hash(out, sizeof out, AC_PBKDF2_SHA512,
	    "correct horse", 13, SALT16, 1000);
	CHECK(n == strlen(PHC512) && memcmp(out, PHC512, n) == 0);
	/* exact cap fits, one less does not (and out is untouched) */
	CHECK(ac_password_hash(out, strlen(PHC512), AC_PBKDF2_SHA512,
	    "correct horse", 13, SALT16, 1000) == strlen(PHC512));
	memset(out, '#', sizeof out);
	CHECK(ac_password_hash(out, strlen(PHC512) - 1, AC_PBKDF2_SHA512,
	    "correct horse", 13, SALT16, 1000) == 0);
	CHECK(out[0] == '#');
	CHECK(ac_password_hash(out, sizeof out, 1, "x", 1, SALT16, 1000) == 0);
	CHECK(ac_password_hash(out, sizeof out, AC_PBKDF2_SHA256, "x", 1,
	    SALT16, 0) == 0);
	CHECK(ac_password_hash(out, sizeof out, AC_PBKDF2_SHA256, LONG_X,
	    AC_PASSWORD_LEN_MAX_DEFAULT + 1, SALT16, 1) == 0);
	/* the longest string: sha512 with 2^32-1 iterations (format only) */
	memset(dk, 0xff, sizeof dk);
	n = ac_password_hash_format(out, sizeof out, AC_PBKDF2_SHA512,
	    4294967295u, SALT16, dk, 64);
	CHECK(n == AC_PASSWORD_HASH_MAX);
	CHECK(ac_password_hash_format(out, sizeof out, AC_PBKDF2_SHA512, 1,
	    SALT16, dk, 32) == 0); /* dk MUST be the hash length */
	/* non-blocking hashing: begin/step/finish, then format */
	CHECK(ac_pbkdf2_begin(&ctx, AC_PBKDF2_SHA256, "correct horse", 13,
	    SALT16, 16, 1000, 32) == 0);
	while (ac_pbkdf2_step(&ctx, 77) > 0)
		;
	CHECK(ac_pbkdf2_finish(&ctx, dk) == 0);
	n = ac_password_hash_format(out, sizeof out, AC_PBKDF2_SHA256, 1000,
	    SALT16, dk, 32);
	CHECK(n == strlen(PHC256) && memcmp(out, PHC256, n) == 0);
	end();

	begin("strings we write verify; wrong passwords do not");
	CHECK(verify_s(PHC256, "correct horse") == AC_PW_MATCH);
	CHECK(verify_s(PHC512, "correct horse") == AC_PW_MATCH);
	CHECK(verify_s(PHC256, "correct horsf") == AC_PW_MISMATCH);
	CHECK(verify_s(PHC512, "") == AC_PW_MISMATCH);
	CHECK(ac_password_verify(PHC256, strlen(PHC256), "correct horse!", 13,
	    NULL) == AC_PW_MATCH); /* the length is plen */
	end();
}

/* Strings of each format for password "hunter2", made with hashlib. */
static const char *const HUNTER2[] = {
	"pbkdf2_sha256$1000$abcdefgh12345678$"
	"VHk6Yk3IsPTRPdslvwGv+QdR5OE0I1ygMIPI80XHhQU=",
	"pbkdf2:sha256:1001$Wz3kSalt$"
	"6ab2cb0885520744bf5ac0a4df76f71dc8c60c486d66b00da141724ec342d830",
	"pbkdf2:sha512:1001$Wz3kSalt$"
	"b732a71cb973ca8ae87c9149d77ddf41039438886cb7a0c6442675ce93775faa"
	"3513f17328f6face2bcf3108cc74df58b5cf0ecb0de07ee421243fa521d9dc6a",
	"$pbkdf2-sha256$1002$ZGVmZ2hpamtsbW5vcHFycw$"
	"iQjYCJgqls5taH6mxnd9wLOMc8hV4jJIsXyVBVuNku4",
	"$pbkdf2-sha512$1002$ZGVmZ2hpamtsbW5vcHFycw$"
	"ZPMQuzOeiRF0.AFhtIPDJc3nXqb/zMj2k11kuBOe7OCHFuW3cuQhPBeuTb14xuY6ZJ7"
	"NmEkXB0uuPKUFVtkAHQ",
	"$pbkdf2-sha256$i=1003,l=24$ZGVmZ2hpamtsbW5vcHFycw$"
	"jE7WVkeSBPS7WVnxnM6UCO9fBoufUykJ",
	"$pbkdf2-sha512$i=1003,l=24$ZGVmZ2hpamtsbW5vcHFycw$"
	"kvfR+OxaP4I0Afj8Eklpr/aE2fnVQOIF",
	/* taskito's dashboard: salt bytes 00..0f as hex, hash as hex */
	"pbkdf2_sha256$1004$000102030405060708090a0b0c0d0e0f$"
	"a1ee98475385ab2754fea76cc74cfcb259db0846b35bf9b9d9bb51a4fc16ee29",
	/* Django whose salt text happens to be those 32 hex characters */
	"pbkdf2_sha256$1004$000102030405060708090a0b0c0d0e0f$"
	"mo5aC3wDdccXoKMBC4fmGsP0oPlpsvfZjmdyOqgMSlw=",
};

static void test_formats(void)
{
	size_t i;
	begin("Django, Werkzeug, passlib, PHC, taskito strings (hashlib) verify");
	for (i = 0; i < sizeof HUNTER2 / sizeof HUNTER2[0]; i++)
		CHECK(verify_s(HUNTER2[i], "hunter2") == AC_PW_MATCH);
	end();
	begin("wrong passwords fail in all five formats");
	for (i = 0; i < sizeof HUNTER2 / sizeof HUNTER2[0]; i++) {
		CHECK(verify_s(HUNTER2[i], "hunter3") == AC_PW_MISMATCH);
		CHECK(verify_s(HUNTER2[i], "") == AC_PW_MISMATCH);
		CHECK(verify_s(HUNTER2[i], "Hunter2") == AC_PW_MISMATCH);
		CHECK(ac_password_verify(HUNTER2[i], strlen(HUNTER2[i]),
		    "hunter2", 6, NULL) == AC_PW_MISMATCH);
	}
	end();
	begin("taskito and Django share a prefix: the hash field tells them apart");
	/* the same salt field is the 16 bytes its hex stands for in taskito's
	 * form and 32 bytes of text in Django's; each verifies only as its
	 * own format, so reading one as the other would be a mismatch */
	CHECK(verify_s(HUNTER2[7], "hunter2") == AC_PW_MATCH);
	CHECK(verify_s(HUNTER2[8], "hunter2") == AC_PW_MATCH);
	/* non-ASCII: taskito hashes the password's UTF-8 bytes */
	CHECK(verify_s("pbkdf2_sha256$1005$101112131415161718191a1b1c1d1e1f$"
	    "f4f404671139a8bda888d315c36f5d4d84de8c008028c29eea4477c82c634edd",
	    "p\xc3\xa4ssw\xc3\xb6rd-\xd0\xba\xd0\xbb\xd1\x8e\xd1\x87") ==
	    AC_PW_MATCH);
	CHECK(ac_password_needs_rehash(HUNTER2[7], strlen(HUNTER2[7]),
	    AC_PBKDF2_SHA256, 1) == 1);
	end();
	begin("security.md examples verify with \"password\"");
	CHECK(verify_s("$pbkdf2-sha256$6400$0ZrzXitFSGltTQnBWOsdAw$"
	    "Y11AchqV4b0sUisdZd0Xr97KWoymNE0LNNrnEgY4H9M",
	    "password") == AC_PW_MATCH);
	CHECK(verify_s("$pbkdf2-sha256$6400$0ZrzXitFSGltTQnBWOsdAw$"
	    "Y11AchqV4b0sUisdZd0Xr97KWoymNE0LNNrnEgY4H9M",
	    "passwore") == AC_PW_MISMATCH);
#ifndef AC_TEST_SKIP_SLOW
	/* 1,200,000 iterations: skipped in the wasm build (portable SHA-256) */
	CHECK(verify_s("pbkdf2_sha256$1200000$seasalt0123456789ABCDE$"
	    "y+4YfvOBXPd34wWHSz4Y5Mxgn6WIClbEsBowGsKpjNs=",
	    "password") == AC_PW_MATCH);
#endif
	end();
}

static void test_resumable_verify(void)
{
	size_t i;
	begin("resumable verification matches one-shot");
	for (i = 0; i < sizeof HUNTER2 / sizeof HUNTER2[0]; i++) {
		ac_password_verify_ctx ctx;
		size_t left, steps = 0;
		int pass;
		for (pass = 0; pass < 2; pass++) {
			char pw[8] = "hunter2";
			if (pass)
				pw[0] = 'H';
			CHECK(ac_password_verify_begin(&ctx, HUNTER2[i],
			    strlen(HUNTER2[i]), pw, 7, NULL) == AC_PW_PENDING);
			memset(pw, 0, sizeof pw); /* not needed any more */
			CHECK(ac_password_verify_finish(&ctx) == AC_PW_PENDING);
			do {
				left = ac_password_verify_step(&ctx,
				    1 + rnd() % 250);
				steps++;
			} while (left > 0);
			CHECK(steps > 3);
			CHECK(ac_password_verify_finish(&ctx) ==
			    (pass ? AC_PW_MISMATCH : AC_PW_MATCH));
			/* finished: never "match" a second time */
			CHECK(ac_password_verify_finish(&ctx) != AC_PW_MATCH);
			CHECK(ac_password_verify_step(&ctx, 10) == 0);
		}
		CHECK(ac_password_verify_begin(&ctx, HUNTER2[i],
		    strlen(HUNTER2[i]), "hunter2", 7, NULL) == AC_PW_PENDING);
		ac_password_verify_wipe(&ctx); /* abandoned */
		CHECK(ac_password_verify_finish(&ctx) != AC_PW_MATCH);
	}
	end();
}

typedef struct {
	const char *s;
	ac_password_status want;
} bad_case;

static const bad_case BAD[] = {
	{ "", AC_PW_MALFORMED },
	{ "password", AC_PW_MALFORMED },
	{ "$", AC_PW_MALFORMED },
	{ "$$", AC_PW_MALFORMED },
	{ "$pbkdf2-sha256", AC_PW_MALFORMED },
	{ "$pbkdf2-sha256$", AC_PW_MALFORMED },
	{ "$pbkdf2-sha256$i=1000$AAECAwQFBgcICQoLDA0ODw", AC_PW_MALFORMED },
	/* extra field */
	{ "$pbkdf2-sha256$i=1000$AAECAwQFBgcICQoLDA0ODw$"
	  "yRTMTwbMbo9G0VfjobWqerzuuxe7BETNTErBbKKumGQ$", AC_PW_MALFORMED },
	/* padding in PHC */
	{ "$pbkdf2-sha256$i=1000$AAECAwQFBgcICQoLDA0ODw==$"
	  "yRTMTwbMbo9G0VfjobWqerzuuxe7BETNTErBbKKumGQ", AC_PW_MALFORMED },
	/* non-canonical last character (unused bits set): ...ODw -> ODx */
	{ "$pbkdf2-sha256$i=1000$AAECAwQFBgcICQoLDA0ODx$"
	  "yRTMTwbMbo9G0VfjobWqerzuuxe7BETNTErBbKKumGQ", AC_PW_MALFORMED },
	/* base64url characters */
	{ "$pbkdf2-sha256$i=1000$AAECAwQFBgcICQoLDA0OD_$"
	  "yRTMTwbMbo9G0VfjobWqerzuuxe7BETNTErBbKKumGQ", AC_PW_MALFORMED },
	/* counts: zero, leading zero, sign, empty, letters */
	{ "$pbkdf2-sha256$i=0$AAECAwQFBgcICQoLDA0ODw$"
	  "yRTMTwbMbo9G0VfjobWqerzuuxe7BETNTErBbKKumGQ", AC_PW_MALFORMED },
	{ "$pbkdf2-sha256$i=01000$AAECAwQFBgcICQoLDA0ODw$"
	  "yRTMTwbMbo9G0VfjobWqerzuuxe7BETNTErBbKKumGQ", AC_PW_MALFORMED },
	{ "$pbkdf2-sha256$i=+1000$AAECAwQFBgcICQoLDA0ODw$"
	  "yRTMTwbMbo9G0VfjobWqerzuuxe7BETNTErBbKKumGQ", AC_PW_MALFORMED },
	{ "$pbkdf2-sha256$i=$AAECAwQFBgcICQoLDA0ODw$"
	  "yRTMTwbMbo9G0VfjobWqerzuuxe7BETNTErBbKKumGQ", AC_PW_MALFORMED },
	{ "$pbkdf2-sha256$i=1e3$AAECAwQFBgcICQoLDA0ODw$"
	  "yRTMTwbMbo9G0VfjobWqerzuuxe7BETNTErBbKKumGQ", AC_PW_MALFORMED },
	/* unknown parameter; l= that disagrees with the hash */
	{ "$pbkdf2-sha256$i=1000,x=1$AAECAwQFBgcICQoLDA0ODw$"
	  "yRTMTwbMbo9G0VfjobWqerzuuxe7BETNTErBbKKumGQ", AC_PW_MALFORMED },
	{ "$pbkdf2-sha256$i=1000,l=31$AAECAwQFBgcICQoLDA0ODw$"
	  "yRTMTwbMbo9G0VfjobWqerzuuxe7BETNTErBbKKumGQ", AC_PW_MALFORMED },
	/* empty salt; hash shorter than 16 bytes */
	{ "$pbkdf2-sha256$i=1000$$yRTMTwbMbo9G0VfjobWqerzuuxe7BETNTErBbKKumGQ",
	  AC_PW_MALFORMED },
	{ "$pbkdf2-sha256$i=1000$AAECAwQFBgcICQoLDA0ODw$yRTMTwbMbo9G0Vfjob",
	  AC_PW_MALFORMED },
	/* passlib with '+' (its alphabet has '.') */
	{ "$pbkdf2-sha512$1002$ZGVmZ2hpamtsbW5vcHFycw$"
	  "ZPMQuzOeiRF0+AFhtIPDJc3nXqb/zMj2k11kuBOe7OCHFuW3cuQhPBeuTb14xuY6ZJ7"
	  "NmEkXB0uuPKUFVtkAHQ", AC_PW_MALFORMED },
	/* Django: missing padding, salt with a space, sha512 (no such hasher) */
	{ "pbkdf2_sha256$1000$abcdefgh12345678$"
	  "VHk6Yk3IsPTRPdslvwGv+QdR5OE0I1ygMIPI80XHhQU", AC_PW_MALFORMED },
	{ "pbkdf2_sha256$1000$abcd fgh12345678$"
	  "VHk6Yk3IsPTRPdslvwGv+QdR5OE0I1ygMIPI80XHhQU=", AC_PW_MALFORMED },
	{ "pbkdf2_sha256$1000$$VHk6Yk3IsPTRPdslvwGv+QdR5OE0I1ygMIPI80XHhQU=",
	  AC_PW_MALFORMED },
	{ "pbkdf2_sha512$1000$abcdefgh12345678$"
	  "VHk6Yk3IsPTRPdslvwGv+QdR5OE0I1ygMIPI80XHhQU=", AC_PW_UNSUPPORTED },
	/* Werkzeug: uppercase hex, odd length, no count */
	{ "pbkdf2:sha256:1001$Wz3kSalt$"
	  "6AB2CB0885520744BF5AC0A4DF76F71DC8C60C486D66B00DA141724EC342D830",
	  AC_PW_MALFORMED },
	{ "pbkdf2:sha256:1001$Wz3kSalt$"
	  "6ab2cb0885520744bf5ac0a4df76f71dc8c60c486d66b00da141724ec342d83",
	  AC_PW_MALFORMED },
	{ "pbkdf2:sha256$Wz3kSalt$"
	  "6ab2cb0885520744bf5ac0a4df76f71dc8c60c486d66b00da141724ec342d830",
	  AC_PW_MALFORMED },
	{ "pbkdf2:sha256:1001:x$Wz3kSalt$"
	  "6ab2cb0885520744bf5ac0a4df76f71dc8c60c486d66b00da141724ec342d830",
	  AC_PW_MALFORMED },
	/* Near misses, format by format: each differs from a string that
	 * verifies (HUNTER2) in one way no format explains. */
	/* Django: hash of 33, 24 and 48 bytes (the full SHA-256 output is
	 * 32), unused bits set, base64url, a trailing byte after the
	 * padding, a leading-zero count, a non-ASCII salt */
	{ "pbkdf2_sha256$1000$abcdefgh12345678$"
	  "VHk6Yk3IsPTRPdslvwGv+QdR5OE0I1ygMIPI80XHhQUA", AC_PW_MALFORMED },
	{ "pbkdf2_sha256$1000$abcdefgh12345678$"
	  "VHk6Yk3IsPTRPdslvwGv+QdR5OE0I1yg", AC_PW_MALFORMED },
	{ "pbkdf2_sha256$1000$abcdefgh12345678$"
	  "11LCxR+6DimqGQVwqdQlPkQHegWNMpf6OlYw1b0BJiL5fCisrtMTtcg7uZDKp9qF",
	  AC_PW_MALFORMED },
	{ "pbkdf2_sha256$1000$abcdefgh12345678$"
	  "VHk6Yk3IsPTRPdslvwGv+QdR5OE0I1ygMIPI80XHhQV=", AC_PW_MALFORMED },
	{ "pbkdf2_sha256$1000$abcdefgh12345678$"
	  "VHk6Yk3IsPTRPdslvwGv-QdR5OE0I1ygMIPI80XHhQU=", AC_PW_MALFORMED },
	{ "pbkdf2_sha256$1000$abcdefgh12345678$"
	  "VHk6Yk3IsPTRPdslvwGv+QdR5OE0I1ygMIPI80XHhQU=A", AC_PW_MALFORMED },
	{ "pbkdf2_sha256$01000$abcdefgh12345678$"
	  "VHk6Yk3IsPTRPdslvwGv+QdR5OE0I1ygMIPI80XHhQU=", AC_PW_MALFORMED },
	{ "pbkdf2_sha256$1000$abcdefgh1234567\xc3\xa9$"
	  "VHk6Yk3IsPTRPdslvwGv+QdR5OE0I1ygMIPI80XHhQU=", AC_PW_MALFORMED },
	/* taskito: upper-case hex in the hash and in the salt; salts of 15
	 * and 17 bytes; a salt that is not hex; a text salt with a hex hash;
	 * hashes of 31, 33 and 64 bytes of hex; a count in another notation */
	{ "pbkdf2_sha256$1004$000102030405060708090a0b0c0d0e0f$"
	  "A1EE98475385AB2754FEA76CC74CFCB259DB0846B35BF9B9D9BB51A4FC16EE29",
	  AC_PW_MALFORMED },
	{ "pbkdf2_sha256$1004$000102030405060708090A0B0C0D0E0F$"
	  "a1ee98475385ab2754fea76cc74cfcb259db0846b35bf9b9d9bb51a4fc16ee29",
	  AC_PW_MALFORMED },
	{ "pbkdf2_sha256$1004$000102030405060708090a0b0c0d0e$"
	  "a1ee98475385ab2754fea76cc74cfcb259db0846b35bf9b9d9bb51a4fc16ee29",
	  AC_PW_MALFORMED },
	{ "pbkdf2_sha256$1004$000102030405060708090a0b0c0d0e0f10$"
	  "a1ee98475385ab2754fea76cc74cfcb259db0846b35bf9b9d9bb51a4fc16ee29",
	  AC_PW_MALFORMED },
	{ "pbkdf2_sha256$1004$000102030405060708090a0b0c0d0e0g$"
	  "a1ee98475385ab2754fea76cc74cfcb259db0846b35bf9b9d9bb51a4fc16ee29",
	  AC_PW_MALFORMED },
	{ "pbkdf2_sha256$1004$abcdefgh12345678$"
	  "a1ee98475385ab2754fea76cc74cfcb259db0846b35bf9b9d9bb51a4fc16ee29",
	  AC_PW_MALFORMED },
	{ "pbkdf2_sha256$1004$000102030405060708090a0b0c0d0e0f$"
	  "a1ee98475385ab2754fea76cc74cfcb259db0846b35bf9b9d9bb51a4fc16ee",
	  AC_PW_MALFORMED },
	{ "pbkdf2_sha256$1004$000102030405060708090a0b0c0d0e0f$"
	  "a1ee98475385ab2754fea76cc74cfcb259db0846b35bf9b9d9bb51a4fc16ee2900",
	  AC_PW_MALFORMED },
	{ "pbkdf2_sha256$1004$000102030405060708090a0b0c0d0e0f$"
	  "a1ee98475385ab2754fea76cc74cfcb259db0846b35bf9b9d9bb51a4fc16ee29"
	  "a1ee98475385ab2754fea76cc74cfcb259db0846b35bf9b9d9bb51a4fc16ee29",
	  AC_PW_MALFORMED },
	{ "pbkdf2_sha256$1e3$000102030405060708090a0b0c0d0e0f$"
	  "a1ee98475385ab2754fea76cc74cfcb259db0846b35bf9b9d9bb51a4fc16ee29",
	  AC_PW_MALFORMED },
	{ "pbkdf2_sha512$1004$000102030405060708090a0b0c0d0e0f$"
	  "a1ee98475385ab2754fea76cc74cfcb259db0846b35bf9b9d9bb51a4fc16ee29",
	  AC_PW_UNSUPPORTED },
	/* Werkzeug: a sha512-sized hash under sha256 and the reverse, a
	 * 20-byte hash, a salt with a space, no hash name and no count */
	{ "pbkdf2:sha256:1001$Wz3kSalt$"
	  "b732a71cb973ca8ae87c9149d77ddf41039438886cb7a0c6442675ce93775faa"
	  "3513f17328f6face2bcf3108cc74df58b5cf0ecb0de07ee421243fa521d9dc6a",
	  AC_PW_MALFORMED },
	{ "pbkdf2:sha512:1001$Wz3kSalt$"
	  "6ab2cb0885520744bf5ac0a4df76f71dc8c60c486d66b00da141724ec342d830",
	  AC_PW_MALFORMED },
	{ "pbkdf2:sha256:1001$Wz3kSalt$"
	  "6ab2cb0885520744bf5ac0a4df76f71dc8c60c48", AC_PW_MALFORMED },
	{ "pbkdf2:sha256:1001$Wz3k Salt$"
	  "6ab2cb0885520744bf5ac0a4df76f71dc8c60c486d66b00da141724ec342d830",
	  AC_PW_MALFORMED },
	{ "pbkdf2$Wz3kSalt$"
	  "6ab2cb0885520744bf5ac0a4df76f71dc8c60c486d66b00da141724ec342d830",
	  AC_PW_MALFORMED },
	/* passlib: a sha512-sized checksum under sha256 and the reverse,
	 * padding, unused bits set, an empty salt, a leading-zero count */
	{ "$pbkdf2-sha256$1002$ZGVmZ2hpamtsbW5vcHFycw$"
	  "ZPMQuzOeiRF0.AFhtIPDJc3nXqb/zMj2k11kuBOe7OCHFuW3cuQhPBeuTb14xuY6ZJ7"
	  "NmEkXB0uuPKUFVtkAHQ", AC_PW_MALFORMED },
	{ "$pbkdf2-sha512$1002$ZGVmZ2hpamtsbW5vcHFycw$"
	  "iQjYCJgqls5taH6mxnd9wLOMc8hV4jJIsXyVBVuNku4", AC_PW_MALFORMED },
	{ "$pbkdf2-sha256$1002$ZGVmZ2hpamtsbW5vcHFycw$"
	  "iQjYCJgqls5taH6mxnd9wLOMc8hV4jJIsXyVBVuNku4=", AC_PW_MALFORMED },
	{ "$pbkdf2-sha256$1002$ZGVmZ2hpamtsbW5vcHFycw$"
	  "iQjYCJgqls5taH6mxnd9wLOMc8hV4jJIsXyVBVuNku5", AC_PW_MALFORMED },
	{ "$pbkdf2-sha256$1002$$"
	  "iQjYCJgqls5taH6mxnd9wLOMc8hV4jJIsXyVBVuNku4", AC_PW_MALFORMED },
	{ "$pbkdf2-sha256$01002$ZGVmZ2hpamtsbW5vcHFycw$"
	  "iQjYCJgqls5taH6mxnd9wLOMc8hV4jJIsXyVBVuNku4", AC_PW_MALFORMED },
	/* PHC: l= twice, before i=, with a leading zero, a dangling comma,
	 * a space; a hash of 15 bytes */
	{ "$pbkdf2-sha256$i=1003,l=24,l=24$ZGVmZ2hpamtsbW5vcHFycw$"
	  "jE7WVkeSBPS7WVnxnM6UCO9fBoufUykJ", AC_PW_MALFORMED },
	{ "$pbkdf2-sha256$l=24,i=1003$ZGVmZ2hpamtsbW5vcHFycw$"
	  "jE7WVkeSBPS7WVnxnM6UCO9fBoufUykJ", AC_PW_MALFORMED },
	{ "$pbkdf2-sha256$i=1003,l=024$ZGVmZ2hpamtsbW5vcHFycw$"
	  "jE7WVkeSBPS7WVnxnM6UCO9fBoufUykJ", AC_PW_MALFORMED },
	{ "$pbkdf2-sha256$i=1003,$ZGVmZ2hpamtsbW5vcHFycw$"
	  "jE7WVkeSBPS7WVnxnM6UCO9fBoufUykJ", AC_PW_MALFORMED },
	{ "$pbkdf2-sha256$i=1003, l=24$ZGVmZ2hpamtsbW5vcHFycw$"
	  "jE7WVkeSBPS7WVnxnM6UCO9fBoufUykJ", AC_PW_MALFORMED },
	{ "$pbkdf2-sha256$i=1003$ZGVmZ2hpamtsbW5vcHFycw$"
	  "jE7WVkeSBPS7WVnxnM6U", AC_PW_MALFORMED },
	/* other schemes */
	{ "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$aGFzaGhhc2g",
	  AC_PW_UNSUPPORTED },
	{ "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW",
	  AC_PW_UNSUPPORTED },
	{ "pbkdf2_sha1$260000$abc$AAAA", AC_PW_UNSUPPORTED },
	{ "pbkdf2:sha1:1000$abc$00", AC_PW_UNSUPPORTED },
	{ "scrypt:32768:8:1$salt$00", AC_PW_UNSUPPORTED },
	{ "$pbkdf2$1000$abc$def", AC_PW_UNSUPPORTED },
};

static void test_malformed(void)
{
	size_t i;
	char big[AC_PASSWORD_STRING_MAX + 2];
	begin("malformed and unsupported strings refused with their reason");
	for (i = 0; i < sizeof BAD / sizeof BAD[0]; i++) {
		ac_password_status r = verify_s(BAD[i].s, "hunter2");
		if (r != BAD[i].want && check_ok)
			printf("# case %zu %s: got %s\n", i, BAD[i].s,
			    ac_password_status_name(r));
		CHECK(r == BAD[i].want);
		CHECK(ac_password_needs_rehash(BAD[i].s, strlen(BAD[i].s),
		    AC_PBKDF2_SHA256, 1) == 1);
	}
	/* every string that verifies, with one byte more at either end:
	 * no format explains it */
	for (i = 0; i < sizeof HUNTER2 / sizeof HUNTER2[0]; i++) {
		static const char extra[] = " \n\t$#=,\x80";
		char t[AC_PASSWORD_STRING_MAX];
		size_t k, n = strlen(HUNTER2[i]);
		for (k = 0; k < sizeof extra; k++) { /* the NUL too */
			memcpy(t, HUNTER2[i], n);
			t[n] = extra[k];
			CHECK(ac_password_verify(t, n + 1, "hunter2", 7, NULL) ==
			    AC_PW_MALFORMED);
			t[0] = extra[k];
			memcpy(t + 1, HUNTER2[i], n);
			CHECK(ac_password_verify(t, n + 1, "hunter2", 7, NULL) ==
			    AC_PW_MALFORMED);
		}
	}
	/* salts of 128 bytes (171 base64 characters: the most) and 129
	 * (172) */
	{
		static const char H[] =
		    "$yRTMTwbMbo9G0VfjobWqerzuuxe7BETNTErBbKKumGQ";
		char t[AC_PASSWORD_STRING_MAX];
		memcpy(t, "$pbkdf2-sha256$i=1000$", 22);
		memset(t + 22, 'A', 172);
		memcpy(t + 22 + 171, H, sizeof H - 1);
		CHECK(ac_password_verify(t, 22 + 171 + sizeof H - 1, "x", 1,
		    NULL) == AC_PW_MISMATCH);
		memcpy(t + 22 + 172, H, sizeof H - 1);
		CHECK(ac_password_verify(t, 22 + 172 + sizeof H - 1, "x", 1,
		    NULL) == AC_PW_MALFORMED);
	}
	/* an embedded NUL is just a bad byte */
	CHECK(ac_password_verify(PHC256, sizeof PHC256, "correct horse", 13,
	    NULL) == AC_PW_MALFORMED);
	CHECK(ac_password_verify(NULL, 0, "x", 1, NULL) == AC_PW_MALFORMED);
	/* too long a string, even a valid-looking one */
	memset(big, 'A', sizeof big);
	memcpy(big, "$pbkdf2-sha256$i=1000$", 22);
	CHECK(ac_password_verify(big, AC_PASSWORD_STRING_MAX + 1, "x", 1,
	    NULL) == AC_PW_MALFORMED);
	CHECK(ac_password_verify(PHC256, strlen(PHC256), NULL, 3, NULL) ==
	    AC_PW_MALFORMED);
	CHECK(strcmp(ac_password_status_name(AC_PW_ITERATIONS_OVER_LIMIT),
	    "iterations_over_limit") == 0);
	CHECK(strcmp(ac_password_status_name(AC_PW_STATUS_COUNT), "unknown") ==
	    0);
	end();
}

/* A policy's users: every string that verifies loads; every near miss is
 * refused at load, named by its JSON path. */
static _Alignas(16) uint8_t policy_mem[1 << 18];

static const ac_policy *load_users(const char *second_hash,
    ac_policy_error *err)
{
	static char json[2048];
	size_t used;
	int n = snprintf(json, sizeof json,
	    "{\"sessions\":{\"keys\":[{\"kid\":\"s1\",\"secret\":"
	    "\"0123456789abcdef0123456789abcdef\"}]},\"login\":{\"prefix\":"
	    "\"/dash\"},\"users\":[{\"name\":\"a\",\"password_hash\":\"%s\"},"
	    "{\"name\":\"b\",\"password_hash\":\"%s\"}]}", HUNTER2[0],
	    second_hash);
	if (n < 0 || (size_t)n >= sizeof json)
		return NULL;
	return ac_policy_load(policy_mem, sizeof policy_mem, json, (size_t)n,
	    &used, err);
}

static void test_policy_users(void)
{
	ac_policy_error err;
	size_t i, n = 0;
	begin("policy users: each format loads; each near miss is refused at "
	    "$.users[i].password_hash");
	for (i = 0; i < sizeof HUNTER2 / sizeof HUNTER2[0]; i++)
		CHECK(load_users(HUNTER2[i], &err) != NULL);
	for (i = 0; i < sizeof BAD / sizeof BAD[0]; i++) {
		const ac_policy *P;
		if (BAD[i].s[0] == 0)
			continue; /* an empty member is refused as such */
		P = load_users(BAD[i].s, &err);
		CHECK(P == NULL);
		if (P == NULL && (strcmp(err.path, "$.users[1].password_hash") ||
		    strncmp(err.message, ac_password_status_name(BAD[i].want),
		    strlen(ac_password_status_name(BAD[i].want)))))
			printf("# %s: %s: %s\n", BAD[i].s, err.path, err.message);
		CHECK(P == NULL &&
		    strcmp(err.path, "$.users[1].password_hash") == 0);
		CHECK(P == NULL && strncmp(err.message,
		    ac_password_status_name(BAD[i].want),
		    strlen(ac_password_status_name(BAD[i].want))) == 0);
		n++;
	}
	CHECK(n > 60);
	end();
}

static void test_limits(void)
{
	ac_password_limits lim;
	ac_password_verify_ctx ctx;
	char pw[AC_PASSWORD_LEN_MAX_DEFAULT + 1];
	/* would run for hours if begin did any of the work */
	static const char HUGE[] = "$pbkdf2-sha256$i=4294967295$"
	    "AAECAwQFBgcICQoLDA0ODw$yRTMTwbMbo9G0VfjobWqerzuuxe7BETNTErBbKKumGQ";
	static const char HUGER[] = "pbkdf2_sha256$99999999999999999999999$"
	    "abcdefgh12345678$VHk6Yk3IsPTRPdslvwGv+QdR5OE0I1ygMIPI80XHhQU=";

	begin("over-limit iterations and passwords refused before any work");
	CHECK(verify_s(HUGE, "x") == AC_PW_ITERATIONS_OVER_LIMIT);
	CHECK(verify_s(HUGER, "x") == AC_PW_ITERATIONS_OVER_LIMIT);
	CHECK(verify_s("pbkdf2:sha256:10000001$s$"
	    "6ab2cb0885520744bf5ac0a4df76f71dc8c60c486d66b00da141724ec342d830",
	    "x") == AC_PW_ITERATIONS_OVER_LIMIT);
	lim.max_iterations = 1001;
	lim.max_password_len = 0;
	CHECK(ac_password_verify(HUNTER2[0], strlen(HUNTER2[0]), "hunter2", 7,
	    &lim) == AC_PW_MATCH); /* 1000 */
	CHECK(ac_password_verify(HUNTER2[1], strlen(HUNTER2[1]), "hunter2", 7,
	    &lim) == AC_PW_MATCH); /* 1001 */
	CHECK(ac_password_verify(HUNTER2[3], strlen(HUNTER2[3]), "hunter2", 7,
	    &lim) == AC_PW_ITERATIONS_OVER_LIMIT); /* 1002 */
	lim.max_iterations = 4294967295u;
	CHECK(ac_password_verify_begin(&ctx, HUGE, strlen(HUGE), "x", 1, &lim)
	    == AC_PW_PENDING);
	CHECK(ac_password_verify_step(&ctx, 10) == 4294967294u - 10u);
	ac_password_verify_wipe(&ctx);
	memset(pw, 'a', sizeof pw);
	CHECK(ac_password_verify(PHC256, strlen(PHC256), pw,
	    AC_PASSWORD_LEN_MAX_DEFAULT + 1, NULL) == AC_PW_PASSWORD_TOO_LONG);
	CHECK(ac_password_verify(PHC256, strlen(PHC256), pw,
	    AC_PASSWORD_LEN_MAX_DEFAULT, NULL) == AC_PW_MISMATCH);
	lim.max_iterations = 0;
	lim.max_password_len = 7;
	CHECK(ac_password_verify(HUNTER2[0], strlen(HUNTER2[0]), "hunter2", 7,
	    &lim) == AC_PW_MATCH);
	CHECK(ac_password_verify(HUNTER2[0], strlen(HUNTER2[0]), "hunter22", 8,
	    &lim) == AC_PW_PASSWORD_TOO_LONG);
	/* HMAC zero-pads short keys: "hunter2" followed by NULs would give
	 * the same PBKDF2 output, so a NUL is refused before hashing */
	lim.max_password_len = 0;
	CHECK(ac_password_verify(HUNTER2[0], strlen(HUNTER2[0]), "hunter2\0", 8,
	    &lim) == AC_PW_PASSWORD_NUL);
	CHECK(ac_password_verify(HUNTER2[0], strlen(HUNTER2[0]), "hunter2\0\0\0",
	    10, &lim) == AC_PW_PASSWORD_NUL);
	CHECK(strcmp(ac_password_status_name(AC_PW_PASSWORD_NUL),
	    "password_nul") == 0);
	CHECK(ac_password_verify_begin(&ctx, HUGE, strlen(HUGE), "x", 1, NULL)
	    == AC_PW_ITERATIONS_OVER_LIMIT);
	CHECK(ac_password_verify_step(&ctx, 10) == 0);
	CHECK(ac_password_verify_finish(&ctx) == AC_PW_ITERATIONS_OVER_LIMIT);
	end();
}

static void test_rehash(void)
{
	static const char SHORT_SALT[] = "$pbkdf2-sha256$i=1000$AAECAw$"
	    "yRTMTwbMbo9G0VfjobWqerzuuxe7BETNTErBbKKumGQ";
	begin("needs_rehash");
	CHECK(ac_password_needs_rehash(PHC256, strlen(PHC256), AC_PBKDF2_SHA256,
	    1000) == 0);
	CHECK(ac_password_needs_rehash(PHC256, strlen(PHC256), AC_PBKDF2_SHA256,
	    999) == 0);
	CHECK(ac_password_needs_rehash(PHC256, strlen(PHC256), AC_PBKDF2_SHA256,
	    1001) == 1);
	CHECK(ac_password_needs_rehash(PHC256, strlen(PHC256), AC_PBKDF2_SHA512,
	    1000) == 1);
	CHECK(ac_password_needs_rehash(PHC512, strlen(PHC512), AC_PBKDF2_SHA512,
	    1000) == 0);
	CHECK(ac_password_needs_rehash(PHC512, strlen(PHC512), 7, 1) == 1);
	/* Django, Werkzeug, passlib, PHC with l=: always */
	CHECK(ac_password_needs_rehash(HUNTER2[0], strlen(HUNTER2[0]),
	    AC_PBKDF2_SHA256, 1) == 1);
	CHECK(ac_password_needs_rehash(HUNTER2[1], strlen(HUNTER2[1]),
	    AC_PBKDF2_SHA256, 1) == 1);
	CHECK(ac_password_needs_rehash(HUNTER2[3], strlen(HUNTER2[3]),
	    AC_PBKDF2_SHA256, 1) == 1);
	CHECK(ac_password_needs_rehash(HUNTER2[5], strlen(HUNTER2[5]),
	    AC_PBKDF2_SHA256, 1) == 1);
	/* a short salt */
	CHECK(ac_password_needs_rehash(SHORT_SALT, strlen(SHORT_SALT),
	    AC_PBKDF2_SHA256, 1) == 1);
	end();
}

static void test_no_heap(void)
{
#ifdef AC_TEST_COUNT_HEAP
	char out[AC_PASSWORD_HASH_MAX];
	size_t before = heap_calls, i;
	uint8_t dk[64];
	begin("no heap calls (hash, verify in all formats, pbkdf2, rehash)");
	CHECK(ac_password_hash(out, sizeof out, AC_PBKDF2_SHA256, "pw", 2,
	    SALT16, 10) > 0);
	CHECK(ac_password_hash(out, sizeof out, AC_PBKDF2_SHA512, "pw", 2,
	    SALT16, 10) > 0);
	for (i = 0; i < sizeof HUNTER2 / sizeof HUNTER2[0]; i++)
		CHECK(verify_s(HUNTER2[i], "hunter2") == AC_PW_MATCH);
	for (i = 0; i < sizeof BAD / sizeof BAD[0]; i++)
		CHECK(verify_s(BAD[i].s, "x") != AC_PW_MATCH);
	CHECK(ac_pbkdf2(dk, AC_PBKDF2_SHA512, LONG_Y, 300, "s", 1, 3, 64) == 0);
	CHECK(ac_password_needs_rehash(PHC256, strlen(PHC256),
	    AC_PBKDF2_SHA256, 1) == 0);
	CHECK(heap_calls == before);
	end();
#endif
}

/* ---- helper modes for password_xcheck.py ---- */
static size_t read_stdin(char *buf, size_t cap)
{
	size_t n = fread(buf, 1, cap, stdin);
	return n;
}

static int run_verify(const char *h)
{
	static char pw[1 << 16];
	size_t n = read_stdin(pw, sizeof pw);
	printf("%s\n", ac_password_status_name(ac_password_verify(h, strlen(h),
	    pw, n, NULL)));
	return 0;
}

static int run_hash(const char *alg, const char *iters, const char *salt_hex)
{
	static char pw[1 << 16];
	char out[AC_PASSWORD_HASH_MAX];
	uint8_t salt[16];
	size_t n = read_stdin(pw, sizeof pw), len;
	if (unhex(salt, sizeof salt, salt_hex) != 16)
		return 2;
	len = ac_password_hash(out, sizeof out, atoi(alg),
	    pw, n, salt, (uint32_t)strtoul(iters, NULL, 10));
	if (len == 0)
		return 1;
	printf("%.*s\n", (int)len, out);
	return 0;
}

static int run_bench(const char *iters)
{
	struct timespec a, b;
	uint8_t dk[32];
	uint32_t it = (uint32_t)strtoul(iters, NULL, 10);
	clock_gettime(CLOCK_MONOTONIC, &a);
	if (ac_pbkdf2(dk, AC_PBKDF2_SHA256, "password", 8, SALT16, 16, it,
	    32) != 0)
		return 1;
	clock_gettime(CLOCK_MONOTONIC, &b);
	printf("%.3f\n", (double)(b.tv_sec - a.tv_sec) +
	    (double)(b.tv_nsec - a.tv_nsec) / 1e9);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "--verify") == 0)
		return run_verify(argv[2]);
	if (argc == 5 && strcmp(argv[1], "--hash") == 0)
		return run_hash(argv[2], argv[3], argv[4]);
	if (argc == 3 && strcmp(argv[1], "--bench") == 0)
		return run_bench(argv[2]);
	memset(LONG_X, 'x', 200);
	memset(LONG_Y, 'y', 300);
	test_kats();
	test_pbkdf2_args();
	test_resume();
	test_hash();
	test_formats();
	test_resumable_verify();
	test_malformed();
	test_policy_users();
	test_limits();
	test_rehash();
	test_no_heap();
	return failures ? 1 : 0;
}
