/*
 * Unit tests for sessions, CSRF tokens and API keys (core/ac_session.c,
 * core/ac_csrf.c, core/ac_apikey.c). Self-contained (no files, no clock) so
 * the same program runs natively, under ASan+UBSan, and as WASI wasm under
 * Node. Prints "ok - name" / "not ok - name: where" per check.
 *
 * Known-answer values were computed with Python's hmac/hashlib/base64 from
 * docs/formats.md, not with authcore. tests/unit/session_xcheck.py checks
 * more vectors both ways at run time through the helper modes below
 * (native build only):
 *   --emit                                  vectors made by the C code
 *   --verify SECRET_HEX KID TOKEN NOW       verify a token made elsewhere
 *   --cred-tag HASH                         a password hash's credential tag
 *   --csrf-check SECRET_HEX KID SESSION HEADER
 *   --lookup KEY HASH_HEX                   one-entry table lookup
 *
 * Built with -DAC_TEST_COUNT_HEAP natively: malloc and friends are wrapped
 * (the linker's --wrap) so the run proves issue/verify/lookup make no heap
 * call at all.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bearssl.h>

#include "authcore.h"

#include "check.h"

/* ---- fixtures ---- */
static uint8_t SECRET1[32], SECRET2[40], SECRET1B[32];
static ac_session_key K1, K2, K1B; /* K1B: kid "k1", another secret */
static const uint8_t SID[16] = { 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16,
	0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f };
static const int64_t NOW = 1700000000;

/* Computed with Python (see the header comment) for: secret bytes
 * 00..1f, kid "k1", sid 10..1f, user "alice", roles ["admin","reader"],
 * iat 1700000000, ttl 0 (so exp 1700086400). */
static const char KAT_TOKEN[] =
    "v1.k1.EBESExQVFhcYGRobHB0eHwAAAABlU_EAAAAAAGVVQoAFYWxpY2UCBWFkbWluBnJl"
    "YWRlcg.DlR8-OwcRoDR0ZjhUychi2_jLH49gBTgQ-mbGc5zt9I";
static const char KAT_CSRF[] = "uePq9bkQIO0ZzSSq6gsDDQw3MFTk3kAKmWIA-i-s0EM";
/* prefix "tf", entropy bytes 00..1f */
static const char KAT_APIKEY[] = "tf_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";
static const char KAT_APIKEY_HASH[] =
    "31e68ee40a486d77f60cb766afb56029f43cad849a984d2ae127de2a9f2b6759";

static const ac_str ROLES2[2] = { { "admin", 5 }, { "reader", 6 } };

static void setup(void)
{
	size_t i;
	for (i = 0; i < sizeof SECRET1; i++)
		SECRET1[i] = (uint8_t)i;
	for (i = 0; i < sizeof SECRET2; i++)
		SECRET2[i] = (uint8_t)(0xa0 + i);
	for (i = 0; i < sizeof SECRET1B; i++)
		SECRET1B[i] = (uint8_t)(0x55 ^ i);
	if (ac_session_key_init(&K1, SECRET1, sizeof SECRET1, "k1", 2) != 0 ||
	    ac_session_key_init(&K2, SECRET2, sizeof SECRET2, "k2", 2) != 0 ||
	    ac_session_key_init(&K1B, SECRET1B, sizeof SECRET1B, "k1", 2) != 0) {
		printf("not ok - fixtures: key init failed\n");
		exit(1);
	}
}

static char tokbuf[AC_SESSION_TOKEN_MAX + 64];

/* Issues with K1 for alice/admin,reader at NOW; NUL-terminated. */
static size_t issue_std(char *out, size_t cap, const uint8_t *sid)
{
	size_t n = ac_session_issue(out, cap - 1, &K1, sid, "alice", 5, ROLES2,
	    2, NOW, 0);
	out[n] = 0;
	return n;
}

static ac_reason verify1(const ac_session_key *keys, size_t n,
    const char *tok, size_t len, int64_t now)
{
	static ac_session s;
	return ac_session_verify(keys, n, tok, len, now, &s);
}

/* A token with a correct MAC over arbitrary payload text, made here with
 * BearSSL directly: lets the tests reach the payload parser with bytes
 * ac_session_issue would never write. */
static size_t forge_text(char *out, size_t cap, const uint8_t *secret,
    size_t slen, const char *kid, const char *pay_b64, size_t pay_len)
{
	br_hmac_key_context kc;
	br_hmac_context hc;
	uint8_t mac[32];
	size_t o = 0, kl = strlen(kid);

	if (3 + kl + 1 + pay_len + 1 + 43 + 1 > cap)
		return 0;
	memcpy(out, "v1.", 3);
	o = 3;
	memcpy(out + o, kid, kl);
	o += kl;
	out[o++] = '.';
	memcpy(out + o, pay_b64, pay_len);
	o += pay_len;
	br_hmac_key_init(&kc, &br_sha256_vtable, secret, slen);
	br_hmac_init(&hc, &kc, 0);
	br_hmac_update(&hc, "authcore-session-v1", 20); /* with the NUL */
	br_hmac_update(&hc, out, o);
	br_hmac_out(&hc, mac);
	out[o++] = '.';
	o += ac_b64url_encode(out + o, cap - o, mac, 32);
	out[o] = 0;
	return o;
}

static size_t forge(char *out, size_t cap, const uint8_t *payload,
    size_t plen)
{
	static char b64[4096];
	size_t bl = ac_b64url_encode(b64, sizeof b64, payload, plen);
	return forge_text(out, cap, SECRET1, sizeof SECRET1, "k1", b64, bl);
}

static void put64(uint8_t *p, int64_t v)
{
	uint64_t u = (uint64_t)v;
	int i;
	for (i = 7; i >= 0; i--) {
		p[i] = (uint8_t)u;
		u >>= 8;
	}
}

/* Builds a payload by the documented layout. */
static size_t build_payload(uint8_t *p, int64_t iat, int64_t exp,
    const char *user, size_t ulen, const ac_str *roles, size_t nr)
{
	size_t o = 0, i;
	memcpy(p, SID, 16);
	o = 16;
	put64(p + o, iat);
	o += 8;
	put64(p + o, exp);
	o += 8;
	p[o++] = (uint8_t)ulen;
	memcpy(p + o, user, ulen);
	o += ulen;
	p[o++] = (uint8_t)nr;
	for (i = 0; i < nr; i++) {
		p[o++] = (uint8_t)roles[i].len;
		memcpy(p + o, roles[i].ptr, roles[i].len);
		o += roles[i].len;
	}
	return o;
}

static int str_is(ac_str s, const char *lit)
{
	return s.len == strlen(lit) && memcmp(s.ptr, lit, s.len) == 0;
}

/* ---- session tokens ---- */
static void test_key_init(void)
{
	static uint8_t big[AC_SESSION_SECRET_MAX + 1];
	ac_session_key k;
	char kid33[33];

	memset(kid33, 'a', sizeof kid33);
	begin("session key: secret 32..4096 bytes, kid 1..32 of [A-Za-z0-9_-]");
	CHECK(ac_session_key_init(&k, SECRET1, 31, "k", 1) == -1);
	CHECK(ac_session_key_init(&k, SECRET1, 32, "k", 1) == 0);
	CHECK(ac_session_key_init(&k, big, AC_SESSION_SECRET_MAX, "k", 1) == 0);
	CHECK(ac_session_key_init(&k, big, AC_SESSION_SECRET_MAX + 1, "k", 1) ==
	    -1);
	CHECK(ac_session_key_init(&k, NULL, 32, "k", 1) == -1);
	CHECK(ac_session_key_init(&k, SECRET1, 32, "", 0) == -1);
	CHECK(ac_session_key_init(&k, SECRET1, 32, NULL, 0) == -1);
	CHECK(ac_session_key_init(&k, SECRET1, 32, kid33, 33) == -1);
	CHECK(ac_session_key_init(&k, SECRET1, 32, kid33, 32) == 0);
	CHECK(ac_session_key_init(&k, SECRET1, 32, "a.b", 3) == -1);
	CHECK(ac_session_key_init(&k, SECRET1, 32, "k 1", 3) == -1);
	CHECK(ac_session_key_init(&k, SECRET1, 32, "k/1", 3) == -1);
	CHECK(ac_session_key_init(&k, SECRET1, 32, "k=", 2) == -1);
	CHECK(ac_session_key_init(&k, SECRET1, 32, "Az09-_", 6) == 0);
	/* a refused key is zeroed, and wipe zeroes a good one */
	CHECK(ac_session_key_init(&k, SECRET1, 31, "k", 1) == -1 &&
	    k.kid_len == 0);
	CHECK(ac_session_key_init(&k, SECRET1, 32, "k", 1) == 0);
	ac_session_key_wipe(&k);
	{
		static const ac_session_key zero;
		CHECK(memcmp(&k, &zero, sizeof k) == 0);
	}
	CHECK(ac_sizeof_session_key() == sizeof(ac_session_key));
	CHECK(ac_sizeof_session() == sizeof(ac_session));
	CHECK(ac_const_session_token_max() == AC_SESSION_TOKEN_MAX);
	end();
}

static void test_session_kat(void)
{
	static ac_session s;
	size_t n, i;

	begin("session token: known answer (Python hmac) and round trip");
	n = issue_std(tokbuf, sizeof tokbuf, SID);
	CHECK(n == strlen(KAT_TOKEN) && memcmp(tokbuf, KAT_TOKEN, n) == 0);
	CHECK(ac_session_verify(&K1, 1, KAT_TOKEN, strlen(KAT_TOKEN), NOW, &s) ==
	    AC_OK);
	CHECK(s.reason == AC_OK);
	CHECK(str_is(s.user, "alice"));
	CHECK(s.n_roles == 2 && str_is(s.roles[0], "admin") &&
	    str_is(s.roles[1], "reader"));
	CHECK(s.iat == NOW && s.exp == NOW + 86400);
	CHECK(memcmp(s.sid, SID, 16) == 0);
	CHECK(s.key_index == 0);
	/* cookie-safe: only [A-Za-z0-9._-] */
	for (i = 0; i < n; i++)
		CHECK(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
		    "0123456789._-", tokbuf[i]) != NULL);
	end();
}

static void test_session_time(void)
{
	static ac_session s;
	char t[512];
	size_t n;
	int64_t big = INT64_MAX - 100;

	begin("session token: expiry and issued-at boundaries");
	n = issue_std(t, sizeof t, SID);
	CHECK(verify1(&K1, 1, t, n, NOW + 86400 - 1) == AC_OK);
	CHECK(verify1(&K1, 1, t, n, NOW + 86400) == AC_EXPIRED);
	CHECK(verify1(&K1, 1, t, n, NOW + 86400 + 1) == AC_EXPIRED);
	CHECK(verify1(&K1, 1, t, n, INT64_MAX) == AC_EXPIRED);
	CHECK(verify1(&K1, 1, t, n, NOW - AC_SESSION_SKEW) == AC_OK);
	CHECK(verify1(&K1, 1, t, n, NOW - AC_SESSION_SKEW - 1) ==
	    AC_NOT_YET_VALID);
	CHECK(verify1(&K1, 1, t, n, INT64_MIN) == AC_NOT_YET_VALID);
	/* ttl: 1 s, explicit, the cap, beyond it, negative, overflow */
	n = ac_session_issue(t, sizeof t, &K1, SID, "u", 1, NULL, 0, NOW, 1);
	CHECK(n > 0 && verify1(&K1, 1, t, n, NOW) == AC_OK);
	CHECK(verify1(&K1, 1, t, n, NOW + 1) == AC_EXPIRED);
	n = ac_session_issue(t, sizeof t, &K1, SID, "u", 1, NULL, 0, NOW, 3600);
	CHECK(n > 0 && ac_session_verify(&K1, 1, t, n, NOW, &s) == AC_OK &&
	    s.exp == NOW + 3600);
	n = ac_session_issue(t, sizeof t, &K1, SID, "u", 1, NULL, 0, NOW,
	    AC_SESSION_TTL_MAX);
	CHECK(n > 0 && ac_session_verify(&K1, 1, t, n, NOW, &s) == AC_OK &&
	    s.exp == NOW + AC_SESSION_TTL_MAX);
	CHECK(ac_session_issue(t, sizeof t, &K1, SID, "u", 1, NULL, 0, NOW,
	    AC_SESSION_TTL_MAX + 1) == 0);
	CHECK(ac_session_issue(t, sizeof t, &K1, SID, "u", 1, NULL, 0, NOW,
	    -1) == 0);
	CHECK(ac_session_issue(t, sizeof t, &K1, SID, "u", 1, NULL, 0,
	    INT64_MAX - 10, 100) == 0);
	n = ac_session_issue(t, sizeof t, &K1, SID, "u", 1, NULL, 0, big, 100);
	CHECK(n > 0 && ac_session_verify(&K1, 1, t, n, big, &s) == AC_OK &&
	    s.exp == INT64_MAX);
	/* negative times round-trip through the two's complement encoding */
	n = ac_session_issue(t, sizeof t, &K1, SID, "u", 1, NULL, 0, -5, 10);
	CHECK(n > 0 && ac_session_verify(&K1, 1, t, n, -5, &s) == AC_OK &&
	    s.iat == -5 && s.exp == 5);
	CHECK(verify1(&K1, 1, t, n, 5) == AC_EXPIRED);
	end();
}

/* Replaces t[i] and verifies; the original is put back. */
static ac_reason with_char(char *t, size_t n, size_t i, char c,
    const ac_session_key *keys, size_t nk)
{
	char old = t[i];
	ac_reason r;
	t[i] = c;
	r = verify1(keys, nk, t, n, NOW);
	t[i] = old;
	return r;
}

static void test_session_tamper(void)
{
	static const char alts[] = "AaQ09-_.=+/ \n";
	static ac_session s;
	ac_session_key both[2];
	char t[512], u[600];
	size_t n, i, j, d2, d3;
	int any_ok = 0;

	both[0] = K1;
	both[1] = K2;
	n = issue_std(t, sizeof t, SID);
	d2 = (size_t)(strchr(t + 3, '.') - t);
	d3 = (size_t)(strrchr(t, '.') - t);

	begin("session token: every single-byte change is refused");
	for (i = 0; i < n; i++)
		for (j = 0; alts[j]; j++)
			if (alts[j] != t[i])
				any_ok |= with_char(t, n, i, alts[j], both, 2) ==
				    AC_OK;
	CHECK(!any_ok);
	/* and every truncation */
	for (i = 0; i < n; i++)
		CHECK(verify1(both, 2, t, i, NOW) != AC_OK);
	end();

	begin("session token: tampered version, kid, payload, mac give their reasons");
	CHECK(with_char(t, n, 1, '2', both, 2) == AC_MALFORMED);   /* v2 */
	CHECK(with_char(t, n, 0, 'V', both, 2) == AC_MALFORMED);   /* V1 */
	CHECK(with_char(t, n, 4, '2', both, 2) == AC_BAD_SIGNATURE); /* k2 */
	CHECK(with_char(t, n, 4, '3', both, 2) == AC_UNKNOWN_KID); /* k3 */
	CHECK(with_char(t, n, d2 + 5, t[d2 + 5] == 'A' ? 'B' : 'A', both, 2) ==
	    AC_BAD_SIGNATURE);
	CHECK(with_char(t, n, d3 + 1, t[d3 + 1] == 'A' ? 'B' : 'A', both, 2) ==
	    AC_BAD_SIGNATURE);
	/* last MAC character with a non-zero unused bit: non-canonical */
	{
		static const char b64[] =
		    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
		size_t v = (size_t)(strchr(b64, t[n - 1]) - b64);
		CHECK((v & 3) == 0);
		CHECK(with_char(t, n, n - 1, b64[v | 1], both, 2) ==
		    AC_MALFORMED);
	}
	end();

	begin("session token: malformed structure (padding, dots, segments, alphabet)");
	CHECK(verify1(both, 2, "", 0, NOW) == AC_MALFORMED);
	CHECK(verify1(both, 2, NULL, 0, NOW) == AC_MALFORMED);
	CHECK(verify1(both, 2, "v1.", 3, NOW) == AC_MALFORMED);
	memcpy(u, t, n);
	memcpy(u + n, "=", 2);
	CHECK(verify1(both, 2, u, n + 1, NOW) == AC_MALFORMED);   /* padding */
	memcpy(u + n, ".", 2);
	CHECK(verify1(both, 2, u, n + 1, NOW) == AC_MALFORMED);   /* 4 dots */
	memcpy(u + n, ".AA", 4);
	CHECK(verify1(both, 2, u, n + 3, NOW) == AC_MALFORMED);   /* 5th part */
	memcpy(u + n, "A", 2);
	CHECK(verify1(both, 2, u, n + 1, NOW) == AC_MALFORMED);   /* mac 44 */
	CHECK(verify1(both, 2, t, n - 1, NOW) == AC_MALFORMED);   /* mac 42 */
	/* a dot doubled inside: kid..payload and payload..mac */
	snprintf(u, sizeof u, "v1.k1.%s", t + 5);
	CHECK(verify1(both, 2, u, strlen(u), NOW) == AC_MALFORMED);
	snprintf(u, sizeof u, "%.*s.%s", (int)d3, t, t + d3);
	CHECK(verify1(both, 2, u, strlen(u), NOW) == AC_MALFORMED);
	/* missing payload, missing kid, missing segment */
	snprintf(u, sizeof u, "v1.k1.%s", t + d3);
	CHECK(verify1(both, 2, u, strlen(u), NOW) == AC_MALFORMED);
	snprintf(u, sizeof u, "v1.%s", t + d2);
	CHECK(verify1(both, 2, u, strlen(u), NOW) == AC_MALFORMED);
	snprintf(u, sizeof u, "v1.k1%s", t + d3);
	CHECK(verify1(both, 2, u, strlen(u), NOW) == AC_MALFORMED);
	/* surrounding whitespace is not trimmed */
	snprintf(u, sizeof u, " %s", t);
	CHECK(verify1(both, 2, u, strlen(u), NOW) == AC_MALFORMED);
	snprintf(u, sizeof u, "%s\n", t);
	CHECK(verify1(both, 2, u, strlen(u), NOW) == AC_MALFORMED);
	/* a NUL inside */
	memcpy(u, t, n);
	u[d2 + 3] = 0;
	CHECK(verify1(both, 2, u, n, NOW) == AC_MALFORMED);
	/* kid longer than any key may have */
	snprintf(u, sizeof u, "v1.%s%s", "abcdefghijabcdefghijabcdefghijabc",
	    t + d2);
	CHECK(verify1(both, 2, u, strlen(u), NOW) == AC_MALFORMED);
	/* a refused token leaves nothing behind */
	CHECK(ac_session_verify(both, 2, u, strlen(u), NOW, &s) ==
	    AC_MALFORMED && s.reason == AC_MALFORMED && s.user.ptr == NULL &&
	    s.n_roles == 0 && s.payload_len == 0);
	end();

	begin("session token: over the size cap is token_too_large");
	{
		static char big[AC_SESSION_TOKEN_MAX + 2];
		memset(big, 'A', sizeof big);
		memcpy(big, "v1.k1.", 6);
		CHECK(verify1(both, 2, big, AC_SESSION_TOKEN_MAX + 1, NOW) ==
		    AC_TOKEN_TOO_LARGE);
		CHECK(verify1(both, 2, big, AC_SESSION_TOKEN_MAX, NOW) ==
		    AC_MALFORMED);
	}
	end();
}

static void test_session_payload(void)
{
	static uint8_t p[AC_SESSION_PAYLOAD_MAX + 16];
	static char t[AC_SESSION_TOKEN_MAX + 64];
	static char b64[4096];
	static ac_session s;
	static const ac_str r17[17] = { { "a", 1 }, { "b", 1 }, { "c", 1 },
		{ "d", 1 }, { "e", 1 }, { "f", 1 }, { "g", 1 }, { "h", 1 },
		{ "i", 1 }, { "j", 1 }, { "k", 1 }, { "l", 1 }, { "m", 1 },
		{ "n", 1 }, { "o", 1 }, { "p", 1 }, { "q", 1 } };
	static const ac_str comma[1] = { { "a,b", 3 } };
	static const ac_str empty[1] = { { "", 0 } };
	static const ac_str space[1] = { { "a ", 2 } };
	char u129[129];
	size_t pl, n;

	memset(u129, 'u', sizeof u129);
	begin("session payload: parsed strictly after the MAC (structure: malformed)");
	pl = build_payload(p, NOW, NOW + 10, "bob", 3, ROLES2, 2);
	n = forge(t, sizeof t, p, pl);
	CHECK(ac_session_verify(&K1, 1, t, n, NOW, &s) == AC_OK &&
	    str_is(s.user, "bob") && s.n_roles == 2);
	p[pl] = 0;
	n = forge(t, sizeof t, p, pl + 1); /* trailing byte */
	CHECK(verify1(&K1, 1, t, n, NOW) == AC_MALFORMED);
	n = forge(t, sizeof t, p, pl - 1); /* last role cut short */
	CHECK(verify1(&K1, 1, t, n, NOW) == AC_MALFORMED);
	n = forge(t, sizeof t, p, 32); /* no user length */
	CHECK(verify1(&K1, 1, t, n, NOW) == AC_MALFORMED);
	n = forge(t, sizeof t, p, 33 + 3); /* no role count */
	CHECK(verify1(&K1, 1, t, n, NOW) == AC_MALFORMED);
	n = forge(t, sizeof t, p, 20); /* shorter than the fixed part */
	CHECK(verify1(&K1, 1, t, n, NOW) == AC_MALFORMED);
	p[32] = 200; /* user length beyond the end */
	n = forge(t, sizeof t, p, pl);
	CHECK(verify1(&K1, 1, t, n, NOW) == AC_MALFORMED);
	pl = build_payload(p, NOW, NOW + 10, "bob", 3, ROLES2, 2);
	p[33 + 3] = 3; /* three roles announced, two present */
	n = forge(t, sizeof t, p, pl);
	CHECK(verify1(&K1, 1, t, n, NOW) == AC_MALFORMED);
	/* larger than any payload issue writes: refused by the decoder */
	memset(p, 'x', AC_SESSION_PAYLOAD_MAX + 3);
	n = forge(t, sizeof t, p, AC_SESSION_PAYLOAD_MAX + 3);
	CHECK(n > 0 && n <= AC_SESSION_TOKEN_MAX);
	CHECK(verify1(&K1, 1, t, n, NOW) == AC_MALFORMED);
	/* non-canonical base64url (a set unused bit), with a valid MAC */
	pl = build_payload(p, NOW, NOW + 10, "bob", 3, ROLES2, 2);
	CHECK(pl % 3 != 0);
	{
		static const char al[] =
		    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
		size_t bl = ac_b64url_encode(b64, sizeof b64, p, pl);
		size_t v = (size_t)(strchr(al, b64[bl - 1]) - al);
		b64[bl - 1] = al[v | 1];
		n = forge_text(t, sizeof t, SECRET1, sizeof SECRET1, "k1", b64,
		    bl);
		CHECK(verify1(&K1, 1, t, n, NOW) == AC_MALFORMED);
	}
	end();

	begin("session payload: values issue would refuse are bad_claim");
	pl = build_payload(p, NOW, NOW + 10, "", 0, NULL, 0);
	n = forge(t, sizeof t, p, pl);
	CHECK(verify1(&K1, 1, t, n, NOW) == AC_BAD_CLAIM);
	pl = build_payload(p, NOW, NOW + 10, u129, 129, NULL, 0);
	n = forge(t, sizeof t, p, pl);
	CHECK(verify1(&K1, 1, t, n, NOW) == AC_BAD_CLAIM);
	pl = build_payload(p, NOW, NOW + 10, "a\nb", 3, NULL, 0);
	n = forge(t, sizeof t, p, pl);
	CHECK(verify1(&K1, 1, t, n, NOW) == AC_BAD_CLAIM);
	pl = build_payload(p, NOW, NOW + 10, "a\x7f", 2, NULL, 0);
	n = forge(t, sizeof t, p, pl);
	CHECK(verify1(&K1, 1, t, n, NOW) == AC_BAD_CLAIM);
	pl = build_payload(p, NOW, NOW + 10, " a", 2, NULL, 0);
	n = forge(t, sizeof t, p, pl);
	CHECK(verify1(&K1, 1, t, n, NOW) == AC_BAD_CLAIM);
	pl = build_payload(p, NOW, NOW + 10, "a", 1, r17, 17);
	n = forge(t, sizeof t, p, pl);
	CHECK(verify1(&K1, 1, t, n, NOW) == AC_BAD_CLAIM);
	pl = build_payload(p, NOW, NOW + 10, "a", 1, r17, 16);
	n = forge(t, sizeof t, p, pl);
	CHECK(verify1(&K1, 1, t, n, NOW) == AC_OK);
	pl = build_payload(p, NOW, NOW + 10, "a", 1, comma, 1);
	n = forge(t, sizeof t, p, pl);
	CHECK(verify1(&K1, 1, t, n, NOW) == AC_BAD_CLAIM);
	pl = build_payload(p, NOW, NOW + 10, "a", 1, empty, 1);
	n = forge(t, sizeof t, p, pl);
	CHECK(verify1(&K1, 1, t, n, NOW) == AC_BAD_CLAIM);
	pl = build_payload(p, NOW, NOW + 10, "a", 1, space, 1);
	n = forge(t, sizeof t, p, pl);
	CHECK(verify1(&K1, 1, t, n, NOW) == AC_BAD_CLAIM);
	pl = build_payload(p, NOW, NOW, "a", 1, NULL, 0); /* exp == iat */
	n = forge(t, sizeof t, p, pl);
	CHECK(verify1(&K1, 1, t, n, NOW - 1) == AC_BAD_CLAIM);
	pl = build_payload(p, NOW, NOW - 5, "a", 1, NULL, 0); /* exp < iat */
	n = forge(t, sizeof t, p, pl);
	CHECK(verify1(&K1, 1, t, n, NOW - 10) == AC_BAD_CLAIM);
	end();
}

static void test_session_rotation(void)
{
	static ac_session s;
	ac_session_key set[3];
	char t[512];
	size_t n;

	n = issue_std(t, sizeof t, SID);
	begin("session keys: rotation by kid (old key verifies, unknown kid refused)");
	set[0] = K2;
	set[1] = K1;
	CHECK(ac_session_verify(set, 2, t, n, NOW, &s) == AC_OK &&
	    s.key_index == 1);
	CHECK(verify1(&K2, 1, t, n, NOW) == AC_UNKNOWN_KID);
	CHECK(verify1(set, 0, t, n, NOW) == AC_UNKNOWN_KID);
	CHECK(verify1(&K1B, 1, t, n, NOW) == AC_BAD_SIGNATURE);
	set[0] = K1B;
	set[1] = K1;
	set[2] = K2;
	CHECK(ac_session_verify(set, 3, t, n, NOW, &s) == AC_OK &&
	    s.key_index == 1);
	set[0] = K1;
	set[1] = K1B;
	CHECK(ac_session_verify(set, 3, t, n, NOW, &s) == AC_OK &&
	    s.key_index == 0);
	/* a token made with the new key is refused by a set without it */
	n = ac_session_issue(t, sizeof t, &K2, SID, "alice", 5, ROLES2, 2, NOW,
	    0);
	CHECK(n > 0 && verify1(&K1, 1, t, n, NOW) == AC_UNKNOWN_KID);
	set[0] = K1;
	set[1] = K2;
	CHECK(ac_session_verify(set, 2, t, n, NOW, &s) == AC_OK &&
	    s.key_index == 1 && memcmp(t, "v1.k2.", 6) == 0);
	/* keys are plain data: a memcpy clone verifies like the original */
	memcpy(&set[2], &K1, sizeof K1);
	n = issue_std(t, sizeof t, SID);
	CHECK(verify1(&set[2], 1, t, n, NOW) == AC_OK);
	end();
}

static void test_session_caps(void)
{
	static char t[AC_SESSION_TOKEN_MAX + 64];
	static char roles_text[AC_SESSION_ROLES_MAX][AC_SESSION_ROLE_MAX + 1];
	static ac_session s;
	ac_str roles[AC_SESSION_ROLES_MAX + 1];
	ac_session_key k32;
	char user[AC_SESSION_USER_MAX + 1], kid[AC_SESSION_KID_MAX];
	size_t i, n;
	int all = 1;

	memset(user, 'u', sizeof user);
	memset(kid, 'K', sizeof kid);
	for (i = 0; i < AC_SESSION_ROLES_MAX; i++) {
		memset(roles_text[i], 'r', sizeof roles_text[i]);
		roles_text[i][0] = (char)('A' + i); /* distinct roles */
		roles[i].ptr = roles_text[i];
		roles[i].len = AC_SESSION_ROLE_MAX;
	}
	roles[AC_SESSION_ROLES_MAX] = roles[0];

	begin("session caps: the largest token (with a credential tag) is exactly AC_SESSION_TOKEN_MAX and verifies");
	CHECK(ac_session_key_init(&k32, SECRET1, 32, kid, sizeof kid) == 0);
	n = ac_session_issue(t, sizeof t, &k32, SID, user, AC_SESSION_USER_MAX,
	    roles, AC_SESSION_ROLES_MAX, NOW, 0);
	/* without a credential tag: 8 bytes, 11 base64url characters, less */
	CHECK(n == AC_SESSION_TOKEN_MAX - 11);
	CHECK(ac_session_verify(&k32, 1, t, n, NOW, &s) == AC_OK);
	CHECK(s.user.len == AC_SESSION_USER_MAX &&
	    s.n_roles == AC_SESSION_ROLES_MAX);
	for (i = 0; i < s.n_roles; i++)
		all &= s.roles[i].len == AC_SESSION_ROLE_MAX &&
		    memcmp(s.roles[i].ptr, roles_text[i], AC_SESSION_ROLE_MAX) ==
		    0;
	CHECK(all);
	CHECK(!s.has_cred);
	/* with a credential tag it is the largest token there is */
	{
		static const uint8_t cred[AC_SESSION_CRED_LEN] = { 1, 2, 3, 4,
			5, 6, 7, 8 };
		n = ac_session_issue_cred(t, sizeof t, &k32, SID, user,
		    AC_SESSION_USER_MAX, roles, AC_SESSION_ROLES_MAX, NOW, 0,
		    cred);
		CHECK(n == AC_SESSION_TOKEN_MAX);
		CHECK(ac_session_verify(&k32, 1, t, n, NOW, &s) == AC_OK);
		CHECK(s.has_cred && memcmp(s.cred, cred, sizeof cred) == 0 &&
		    s.n_roles == AC_SESSION_ROLES_MAX);
		/* one byte of room short: nothing is written */
		memset(t, 'X', sizeof t);
		CHECK(ac_session_issue_cred(t, AC_SESSION_TOKEN_MAX - 1, &k32,
		    SID, user, AC_SESSION_USER_MAX, roles,
		    AC_SESSION_ROLES_MAX, NOW, 0, cred) == 0);
		CHECK(t[0] == 'X' && t[AC_SESSION_TOKEN_MAX - 2] == 'X');
	}
	end();

	begin("session caps: issue refuses users and roles outside the limits");
	CHECK(ac_session_issue(t, sizeof t, &K1, SID, user,
	    AC_SESSION_USER_MAX + 1, NULL, 0, NOW, 0) == 0);
	CHECK(ac_session_issue(t, sizeof t, &K1, SID, user, 0, NULL, 0, NOW,
	    0) == 0);
	CHECK(ac_session_issue(t, sizeof t, &K1, SID, NULL, 1, NULL, 0, NOW,
	    0) == 0);
	CHECK(ac_session_issue(t, sizeof t, &K1, SID, "u", 1, roles,
	    AC_SESSION_ROLES_MAX + 1, NOW, 0) == 0);
	roles[0].len = AC_SESSION_ROLE_MAX + 1;
	CHECK(ac_session_issue(t, sizeof t, &K1, SID, "u", 1, roles, 1, NOW,
	    0) == 0);
	roles[0].len = AC_SESSION_ROLE_MAX;
	{
		static const ac_str bad[] = { { "a,b", 3 }, { "", 0 },
			{ " a", 2 }, { "a ", 2 }, { "a\tb", 3 }, { "a\x7f", 2 },
			{ "a\0b", 3 }, { NULL, 1 } };
		for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
			CHECK(ac_session_issue(t, sizeof t, &K1, SID, "u", 1,
			    &bad[i], 1, NOW, 0) == 0);
		for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
			if (bad[i].ptr != NULL && bad[i].len > 0 &&
			    memchr(bad[i].ptr, ',', bad[i].len) == NULL)
				CHECK(ac_session_issue(t, sizeof t, &K1, SID,
				    bad[i].ptr, bad[i].len, NULL, 0, NOW, 0) ==
				    0);
	}
	CHECK(ac_session_issue(t, sizeof t, &K1, SID, "u", 1, NULL, 1, NOW,
	    0) == 0);
	CHECK(ac_session_issue(t, sizeof t, &K1, NULL, "u", 1, NULL, 0, NOW,
	    0) == 0);
	/* commas and inner spaces are fine in a user name; UTF-8 passes */
	n = ac_session_issue(t, sizeof t, &K1, SID, "Jos\xc3\xa9, Jr.", 10,
	    NULL, 0, NOW, 0);
	CHECK(n > 0 && ac_session_verify(&K1, 1, t, n, NOW, &s) == AC_OK &&
	    s.user.len == 10 && s.n_roles == 0);
	end();
}

/* ---- CSRF ---- */
static void test_csrf(void)
{
	static const uint8_t sid2[16] = { 1 };
	char a[512], b[512], ca[AC_CSRF_TOKEN_LEN + 1], cb[AC_CSRF_TOKEN_LEN + 1];
	char h[AC_CSRF_TOKEN_LEN + 2];
	ac_session_key set[2];
	size_t na, nb, i;
	int any = 0;

	na = issue_std(a, sizeof a, SID);
	nb = issue_std(b, sizeof b, sid2);
	begin("csrf: known answer (Python hmac) and check");
	CHECK(ac_csrf_token(ca, &K1, a, na) == AC_CSRF_TOKEN_LEN);
	ca[AC_CSRF_TOKEN_LEN] = 0;
	CHECK(strcmp(ca, KAT_CSRF) == 0);
	CHECK(ac_csrf_check(&K1, 1, a, na, ca, AC_CSRF_TOKEN_LEN) == 1);
	CHECK(ac_const_csrf_token_len() == AC_CSRF_TOKEN_LEN);
	/* never the session MAC itself (the context strings differ) */
	CHECK(strstr(a, ca) == NULL);
	end();

	begin("csrf: a token minted for one session is refused for another");
	CHECK(ac_csrf_token(cb, &K1, b, nb) == AC_CSRF_TOKEN_LEN);
	cb[AC_CSRF_TOKEN_LEN] = 0;
	CHECK(strcmp(ca, cb) != 0);
	CHECK(ac_csrf_check(&K1, 1, b, nb, cb, AC_CSRF_TOKEN_LEN) == 1);
	CHECK(ac_csrf_check(&K1, 1, b, nb, ca, AC_CSRF_TOKEN_LEN) == 0);
	CHECK(ac_csrf_check(&K1, 1, a, na, cb, AC_CSRF_TOKEN_LEN) == 0);
	end();

	begin("csrf: altered, short, long or padded headers are refused");
	memcpy(h, ca, AC_CSRF_TOKEN_LEN);
	for (i = 0; i < AC_CSRF_TOKEN_LEN; i++) {
		char old = h[i];
		h[i] = old == 'A' ? 'B' : 'A';
		any |= ac_csrf_check(&K1, 1, a, na, h, AC_CSRF_TOKEN_LEN);
		h[i] = old;
	}
	CHECK(!any);
	CHECK(ac_csrf_check(&K1, 1, a, na, ca, AC_CSRF_TOKEN_LEN - 1) == 0);
	h[AC_CSRF_TOKEN_LEN] = ' ';
	CHECK(ac_csrf_check(&K1, 1, a, na, h, AC_CSRF_TOKEN_LEN + 1) == 0);
	h[AC_CSRF_TOKEN_LEN] = '=';
	CHECK(ac_csrf_check(&K1, 1, a, na, h, AC_CSRF_TOKEN_LEN + 1) == 0);
	CHECK(ac_csrf_check(&K1, 1, a, na, "", 0) == 0);
	CHECK(ac_csrf_check(&K1, 1, a, na, NULL, AC_CSRF_TOKEN_LEN) == 0);
	/* one session token byte different: a different session */
	a[na - 1] = a[na - 1] == 'A' ? 'B' : 'A';
	CHECK(ac_csrf_check(&K1, 1, a, na, ca, AC_CSRF_TOKEN_LEN) == 0);
	na = issue_std(a, sizeof a, SID);
	CHECK(ac_csrf_check(&K1, 1, a, na - 1, ca, AC_CSRF_TOKEN_LEN) == 0);
	CHECK(ac_csrf_token(ca, &K1, a, 0) == 0);
	CHECK(ac_csrf_token(ca, &K1, a, AC_SESSION_TOKEN_MAX + 1) == 0);
	CHECK(ac_csrf_check(&K1, 1, a, 0, ca, AC_CSRF_TOKEN_LEN) == 0);
	end();

	begin("csrf: any key of the rotation set, and only those");
	CHECK(ac_csrf_token(ca, &K1, a, na) == AC_CSRF_TOKEN_LEN);
	set[0] = K2;
	set[1] = K1;
	CHECK(ac_csrf_check(set, 2, a, na, ca, AC_CSRF_TOKEN_LEN) == 1);
	set[0] = K1;
	set[1] = K2;
	CHECK(ac_csrf_check(set, 2, a, na, ca, AC_CSRF_TOKEN_LEN) == 1);
	CHECK(ac_csrf_check(&K2, 1, a, na, ca, AC_CSRF_TOKEN_LEN) == 0);
	CHECK(ac_csrf_check(&K1B, 1, a, na, ca, AC_CSRF_TOKEN_LEN) == 0);
	CHECK(ac_csrf_check(set, 0, a, na, ca, AC_CSRF_TOKEN_LEN) == 0);
	/* a wiped key in the set is skipped, not used */
	set[0] = K1;
	ac_session_key_wipe(&set[0]);
	CHECK(ac_csrf_check(set, 1, a, na, ca, AC_CSRF_TOKEN_LEN) == 0);
	CHECK(ac_csrf_token(cb, &set[0], a, na) == 0);
	CHECK(ac_session_issue(b, sizeof b, &set[0], SID, "u", 1, NULL, 0,
	    NOW, 0) == 0);
	CHECK(verify1(set, 1, a, na, NOW) == AC_UNKNOWN_KID);
	end();

	begin("csrf: methods needing the check (fails closed on unknown ones)");
	CHECK(ac_method_is_unsafe("POST", 4) == 1);
	CHECK(ac_method_is_unsafe("PUT", 3) == 1);
	CHECK(ac_method_is_unsafe("PATCH", 5) == 1);
	CHECK(ac_method_is_unsafe("DELETE", 6) == 1);
	CHECK(ac_method_is_unsafe("GET", 3) == 0);
	CHECK(ac_method_is_unsafe("HEAD", 4) == 0);
	CHECK(ac_method_is_unsafe("OPTIONS", 7) == 0);
	CHECK(ac_method_is_unsafe("TRACE", 5) == 0);
	CHECK(ac_method_is_unsafe("post", 4) == 1);
	CHECK(ac_method_is_unsafe("get", 3) == 1);
	CHECK(ac_method_is_unsafe("PROPFIND", 8) == 1);
	CHECK(ac_method_is_unsafe("GETX", 4) == 1);
	CHECK(ac_method_is_unsafe("GET", 2) == 1);
	CHECK(ac_method_is_unsafe("", 0) == 1);
	CHECK(ac_method_is_unsafe(NULL, 0) == 1);
	end();
}

/* ---- API keys ---- */
static uint8_t ENT[3][32];

static void make_entry(ac_apikey_entry *e, const char *key, size_t len)
{
	br_sha256_context sc;
	br_sha256_init(&sc);
	br_sha256_update(&sc, key, len);
	br_sha256_out(&sc, e->hash);
}

static void test_apikey(void)
{
	static const ac_str perms[] = { { "tasks:read", 10 },
		{ "tasks:retry", 11 } };
	static const ac_str res[] = { { "report_*", 8 }, { "queue_a", 7 } };
	static ac_apikey_entry tab[4];
	char key[AC_APIKEY_MAX + 8], hex[AC_APIKEY_HASH_HEX_LEN + 1];
	char keys[3][AC_APIKEY_MAX + 1];
	size_t lens[3];
	uint8_t ent[32], h[32];
	size_t n, i, j;

	for (i = 0; i < 32; i++)
		ent[i] = (uint8_t)i;
	for (i = 0; i < 3; i++)
		for (j = 0; j < 32; j++)
			ENT[i][j] = (uint8_t)(i * 77 + j * 13 + 5);

	begin("api key: known answer (Python hashlib) and format");
	n = ac_apikey_new(key, sizeof key, "tf", 2, ent, hex);
	CHECK(n == strlen(KAT_APIKEY) && memcmp(key, KAT_APIKEY, n) == 0);
	CHECK(strcmp(hex, KAT_APIKEY_HASH) == 0);
	CHECK(ac_apikey_well_formed(key, n) == 1);
	n = ac_apikey_new(key, sizeof key, NULL, 0, ent, hex);
	CHECK(n == 3 + 43 && memcmp(key, "ak_", 3) == 0);
	n = ac_apikey_new(key, sizeof key, "", 0, ent, NULL);
	CHECK(n == 46 && memcmp(key, "ak_", 3) == 0);
	n = ac_apikey_new(key, sizeof key, "abcdefghij012345", 16, ent, hex);
	CHECK(n == AC_APIKEY_MAX && ac_apikey_well_formed(key, n));
	CHECK(ac_apikey_new(key, AC_APIKEY_MAX - 1, "abcdefghij012345", 16,
	    ent, hex) == 0);
	CHECK(ac_apikey_new(key, sizeof key, "abcdefghij0123456", 17, ent,
	    hex) == 0);
	CHECK(ac_apikey_new(key, sizeof key, "TF", 2, ent, hex) == 0);
	CHECK(ac_apikey_new(key, sizeof key, "t_f", 3, ent, hex) == 0);
	CHECK(ac_apikey_new(key, sizeof key, "t-f", 3, ent, hex) == 0);
	CHECK(ac_apikey_new(key, sizeof key, "tf", 2, NULL, hex) == 0);
	CHECK(ac_const_apikey_max() == AC_APIKEY_MAX);
	CHECK(ac_sizeof_apikey_entry() == sizeof(ac_apikey_entry));
	end();

	begin("api key: well-formedness (prefix, separator, length, alphabet, canonical)");
	strcpy(key, KAT_APIKEY);
	n = strlen(key);
	CHECK(ac_apikey_well_formed(key, n));
	CHECK(!ac_apikey_well_formed(key, n - 1));
	CHECK(!ac_apikey_well_formed(NULL, 0));
	key[0] = 'T';
	CHECK(!ac_apikey_well_formed(key, n));
	strcpy(key, KAT_APIKEY);
	key[2] = '-';
	CHECK(!ac_apikey_well_formed(key, n));
	strcpy(key, KAT_APIKEY);
	CHECK(key[n - 1] == '8');
	key[n - 1] = '9'; /* unused low bits set */
	CHECK(!ac_apikey_well_formed(key, n));
	key[n - 1] = '4'; /* 56: canonical */
	CHECK(ac_apikey_well_formed(key, n));
	strcpy(key, KAT_APIKEY);
	{
		static const char bad[] = "+/=. \n*\x80";
		for (i = 0; bad[i]; i++) {
			key[10] = bad[i];
			CHECK(!ac_apikey_well_formed(key, n));
		}
	}
	strcpy(key, KAT_APIKEY);
	memmove(key, key + 2, n - 1); /* "_AAEC...": no prefix */
	CHECK(!ac_apikey_well_formed(key, n - 2));
	snprintf(key, sizeof key, "x%s", KAT_APIKEY); /* "xtf_..." fine */
	CHECK(ac_apikey_well_formed(key, n + 1));
	snprintf(key, sizeof key, "%sA", KAT_APIKEY); /* 44 chars: "tf_A.." */
	CHECK(!ac_apikey_well_formed(key, n + 1));
	end();

	begin("api key: stored hash is exactly 64 lowercase hex digits");
	CHECK(ac_apikey_hash_parse(h, KAT_APIKEY_HASH, 64) == 0);
	CHECK(h[0] == 0x31 && h[1] == 0xe6 && h[31] == 0x59);
	CHECK(ac_apikey_hash_parse(h, KAT_APIKEY_HASH, 63) == -1);
	CHECK(ac_apikey_hash_parse(h, KAT_APIKEY_HASH, 65) == -1);
	strcpy(hex, KAT_APIKEY_HASH);
	hex[2] = 'E';
	CHECK(ac_apikey_hash_parse(h, hex, 64) == -1);
	hex[2] = 'g';
	CHECK(ac_apikey_hash_parse(h, hex, 64) == -1);
	hex[2] = ' ';
	CHECK(ac_apikey_hash_parse(h, hex, 64) == -1);
	end();

	begin("api key: lookup hits the right entry, of any format, misses unknown, short and non-ASCII keys");
	memset(tab, 0, sizeof tab);
	for (i = 0; i < 3; i++) {
		lens[i] = ac_apikey_new(keys[i], sizeof keys[i], "tf", 2, ENT[i],
		    hex);
		keys[i][lens[i]] = 0;
		CHECK(ac_apikey_hash_parse(tab[i].hash, hex, 64) == 0);
		tab[i].name.ptr = "ci-worker";
		tab[i].name.len = 9;
	}
	tab[1].role.ptr = "worker";
	tab[1].role.len = 6;
	memcpy(tab[1].permissions, perms, sizeof perms);
	tab[1].n_permissions = 2;
	memcpy(tab[1].resources, res, sizeof res);
	tab[1].n_resources = 2;
	for (i = 0; i < 3; i++)
		CHECK(ac_apikey_lookup(tab, 3, keys[i], lens[i]) == &tab[i]);
	CHECK(ac_apikey_lookup(tab, 2, keys[2], lens[2]) == NULL);
	CHECK(ac_apikey_lookup(tab, 0, keys[0], lens[0]) == NULL);
	CHECK(ac_apikey_lookup(NULL, 3, keys[0], lens[0]) == NULL);
	CHECK(ac_apikey_lookup(tab, 3, KAT_APIKEY, strlen(KAT_APIKEY)) == NULL);
	/* the same secret under another prefix is another key */
	strcpy(key, keys[1]);
	key[0] = 'x';
	CHECK(ac_apikey_lookup(tab, 3, key, lens[1]) == NULL);
	/* a key of another format is found by its hash (keys an app issued
	 * before migrate), and only by its own */
	strcpy(key, keys[0]);
	key[5] = '+';
	make_entry(&tab[3], key, lens[0]);
	CHECK(ac_apikey_lookup(tab, 4, key, lens[0]) == &tab[3]);
	CHECK(ac_apikey_lookup(tab, 3, key, lens[0]) == NULL);
	make_entry(&tab[3], "tsk-0123456789ab", 16);
	CHECK(ac_apikey_lookup(tab, 4, "tsk-0123456789ab", 16) == &tab[3]);
	/* under 16 bytes, or a byte outside 0x21..0x7e: refused before
	 * hashing, even with its hash in the table */
	make_entry(&tab[3], "tsk-0123456789a", 15);
	CHECK(ac_apikey_lookup(tab, 4, "tsk-0123456789a", 15) == NULL);
	make_entry(&tab[3], "tsk-01234 56789ab", 17);
	CHECK(ac_apikey_lookup(tab, 4, "tsk-01234 56789ab", 17) == NULL);
	make_entry(&tab[3], "tsk-01234\x7f" "56789ab", 17);
	CHECK(ac_apikey_lookup(tab, 4, "tsk-01234\x7f" "56789ab", 17) == NULL);
	make_entry(&tab[3], "tsk-01234\xc3" "56789ab", 17);
	CHECK(ac_apikey_lookup(tab, 4, "tsk-01234\xc3" "56789ab", 17) == NULL);
	{
		static char big[AC_APIKEY_INPUT_MAX + 1];
		memset(big, 'k', sizeof big);
		make_entry(&tab[3], big, AC_APIKEY_INPUT_MAX);
		CHECK(ac_apikey_lookup(tab, 4, big, AC_APIKEY_INPUT_MAX) ==
		    &tab[3]);
		make_entry(&tab[3], big, sizeof big);
		CHECK(ac_apikey_lookup(tab, 4, big, sizeof big) == NULL);
	}
	CHECK(ac_apikey_lookup(tab, 3, keys[0], lens[0] - 1) == NULL);
	CHECK(ac_apikey_lookup(tab, 3, "", 0) == NULL);
	/* an entry made independently (SHA-256 here) matches */
	make_entry(&tab[3], KAT_APIKEY, strlen(KAT_APIKEY));
	CHECK(ac_apikey_lookup(tab, 4, KAT_APIKEY, strlen(KAT_APIKEY)) ==
	    &tab[3]);
	end();

	begin("api key: permissions are exact, resources are patterns");
	CHECK(ac_apikey_has_permission(&tab[1], "tasks:read", 10));
	CHECK(ac_apikey_has_permission(&tab[1], "tasks:retry", 11));
	CHECK(!ac_apikey_has_permission(&tab[1], "tasks:rea", 9));
	CHECK(!ac_apikey_has_permission(&tab[1], "TASKS:READ", 10));
	CHECK(!ac_apikey_has_permission(&tab[1], "tasks:write", 11));
	CHECK(!ac_apikey_has_permission(&tab[1], "", 0));
	CHECK(!ac_apikey_has_permission(&tab[0], "tasks:read", 10));
	CHECK(ac_resource_allowed(&tab[1], "report_daily", 12));
	CHECK(ac_resource_allowed(&tab[1], "report_", 7));
	CHECK(!ac_resource_allowed(&tab[1], "report", 6));
	CHECK(!ac_resource_allowed(&tab[1], "xreport_1", 9));
	CHECK(ac_resource_allowed(&tab[1], "queue_a", 7));
	CHECK(!ac_resource_allowed(&tab[1], "queue_ab", 8));
	CHECK(!ac_resource_allowed(&tab[1], "", 0));
	CHECK(!ac_resource_allowed(&tab[0], "report_daily", 12));
	tab[0].resources[0].ptr = "*";
	tab[0].resources[0].len = 1;
	tab[0].n_resources = 1;
	CHECK(ac_resource_allowed(&tab[0], "anything/at all", 15));
	CHECK(ac_resource_allowed(&tab[0], "", 0));
	{
		static char big[AC_RESOURCE_MAX + 1];
		memset(big, 'r', sizeof big);
		CHECK(ac_resource_allowed(&tab[0], big, AC_RESOURCE_MAX));
		CHECK(!ac_resource_allowed(&tab[0], big, AC_RESOURCE_MAX + 1));
	}
	/* counts beyond the caps are read as the caps, never past the arrays */
	tab[0].n_resources = (size_t)-1;
	tab[0].n_permissions = (size_t)-1;
	CHECK(!ac_apikey_has_permission(&tab[0], "x", 1));
	CHECK(ac_resource_allowed(&tab[0], "x", 1));
	end();
}

/* ---- wildcards ---- */

/* Reference matcher for small inputs: dynamic programming, obviously
 * right, quadratic. */
static int ref_match(const char *p, size_t pl, const char *s, size_t sl)
{
	static unsigned char dp[64][64];
	size_t i, j;

	for (i = 0; i <= pl; i++)
		for (j = 0; j <= sl; j++) {
			int v;
			if (i == 0)
				v = j == 0;
			else if (p[i - 1] == '*')
				v = dp[i - 1][j] || (j > 0 && dp[i][j - 1]);
			else
				v = j > 0 && p[i - 1] == s[j - 1] &&
				    dp[i - 1][j - 1];
			dp[i][j] = (unsigned char)v;
		}
	return dp[pl][sl];
}

static int m(const char *p, const char *s)
{
	return ac_resource_match(p, strlen(p), s, strlen(s));
}

static void test_wildcards(void)
{
	static const struct {
		const char *p, *s;
		int want;
	} v[] = {
		{ "report_*", "report_2024", 1 }, { "report_*", "report_", 1 },
		{ "report_*", "report", 0 }, { "report_*", "Report_x", 0 },
		{ "*", "", 1 }, { "*", "a/b c", 1 }, { "", "", 1 },
		{ "", "a", 0 }, { "abc", "abc", 1 }, { "abc", "abcd", 0 },
		{ "*_daily", "sales_daily", 1 }, { "*_daily", "_daily", 1 },
		{ "*_daily", "sales_daily_x", 0 }, { "a*b*c", "abc", 1 },
		{ "a*b*c", "aXbYc", 1 }, { "a*b*c", "acb", 0 },
		{ "a*b*c", "abcbc", 1 }, { "**", "x", 1 }, { "a**b", "ab", 1 },
		{ "*a*", "bab", 1 }, { "*a*", "bbb", 0 },
		{ "*aab*", "aaab", 1 }, { "*abab*", "abaabab", 1 },
		{ "*abab*", "abaaba", 0 }, { "*ab*ab", "abab", 1 },
		{ "*ab*ab", "aba", 0 }, { "ab*ba", "aba", 0 },
		{ "ab*ba", "abba", 1 }, { "a*a", "a", 0 }, { "a*a", "aa", 1 },
		{ "*aXa*aXa", "aXaXa", 0 }, { "*aXa*aXa", "aXaaXa", 1 },
	};
	static char p[AC_RESOURCE_PATTERN_MAX + 2], s[AC_RESOURCE_MAX + 2];
	uint32_t x = 12345;
	size_t i, k;
	int agree = 1;

	begin("wildcards: '*' matches any run, everything else itself");
	for (i = 0; i < sizeof v / sizeof v[0]; i++) {
		int got = m(v[i].p, v[i].s);
		if (got != v[i].want)
			printf("# pattern %s resource %s: got %d\n", v[i].p,
			    v[i].s, got);
		CHECK(got == v[i].want);
	}
	CHECK(ac_resource_match("a", 1, NULL, 0) == 0);
	CHECK(ac_resource_match("*", 1, NULL, 0) == 1);
	CHECK(ac_resource_match(NULL, 0, "", 0) == 0);
	end();

	begin("wildcards: agree with a reference matcher on 50000 random cases");
	for (k = 0; k < 50000 && agree; k++) {
		size_t pl, sl;
		x = x * 1103515245u + 12345u;
		pl = (x >> 16) % 12;
		x = x * 1103515245u + 12345u;
		sl = (x >> 16) % 16;
		for (i = 0; i < pl; i++) {
			x = x * 1103515245u + 12345u;
			p[i] = "ab*"[(x >> 16) % 3];
		}
		for (i = 0; i < sl; i++) {
			x = x * 1103515245u + 12345u;
			s[i] = "ab"[(x >> 16) % 2];
		}
		if (ac_resource_match(p, pl, s, sl) != ref_match(p, pl, s, sl)) {
			printf("# disagree: pattern %.*s resource %.*s\n",
			    (int)pl, p, (int)sl, s);
			agree = 0;
		}
	}
	CHECK(agree);
	end();

	begin("wildcards: pathological patterns run in linear time at the caps");
	/* "*a*a*...*a*b" (128 bytes) against 1024 'a': backtracking matchers
	 * take exponential time here; this one scans the text once */
	for (i = 0; i < 62; i++) {
		p[2 * i] = '*';
		p[2 * i + 1] = 'a';
	}
	memcpy(p + 124, "*b*", 3);
	memset(s, 'a', AC_RESOURCE_MAX);
	for (k = 0; k < 1000; k++)
		CHECK(ac_resource_match(p, 127, s, AC_RESOURCE_MAX) == 0);
	s[AC_RESOURCE_MAX / 2] = 'b';
	CHECK(ac_resource_match(p, 127, s, AC_RESOURCE_MAX) == 1);
	s[AC_RESOURCE_MAX / 2] = 'a';
	/* the same with the 'b' as a suffix */
	memcpy(p + 124, "*a*b", 4);
	for (k = 0; k < 1000; k++)
		CHECK(ac_resource_match(p, AC_RESOURCE_PATTERN_MAX, s,
		    AC_RESOURCE_MAX) == 0);
	s[AC_RESOURCE_MAX - 1] = 'b';
	CHECK(ac_resource_match(p, AC_RESOURCE_PATTERN_MAX, s,
	    AC_RESOURCE_MAX) == 1);
	/* the worst case for naive substring search: "*aaa...ab*" */
	memset(p, 'a', AC_RESOURCE_PATTERN_MAX);
	p[0] = '*';
	p[AC_RESOURCE_PATTERN_MAX - 2] = 'b';
	p[AC_RESOURCE_PATTERN_MAX - 1] = '*';
	memset(s, 'a', AC_RESOURCE_MAX);
	for (k = 0; k < 1000; k++)
		CHECK(ac_resource_match(p, AC_RESOURCE_PATTERN_MAX, s,
		    AC_RESOURCE_MAX) == 0);
	memset(s + AC_RESOURCE_MAX - 200, 'a', 200);
	s[AC_RESOURCE_MAX - 1] = 'b';
	CHECK(ac_resource_match(p, AC_RESOURCE_PATTERN_MAX, s,
	    AC_RESOURCE_MAX) == 1);
	/* over the caps: never a match */
	memset(p, '*', sizeof p);
	CHECK(ac_resource_match(p, AC_RESOURCE_PATTERN_MAX, s, 1) == 1);
	CHECK(ac_resource_match(p, AC_RESOURCE_PATTERN_MAX + 1, s, 1) == 0);
	CHECK(ac_resource_match("*", 1, s, AC_RESOURCE_MAX + 1) == 0);
	end();
}

#ifdef AC_TEST_COUNT_HEAP
static void test_no_heap(void)
{
	static ac_session s;
	static ac_apikey_entry tab[2];
	char t[512], c[AC_CSRF_TOKEN_LEN], key[AC_APIKEY_MAX];
	char hex[AC_APIKEY_HASH_HEX_LEN + 1];
	ac_session_key k;
	size_t before, n, kl;
	int r = 0;

	begin("no heap call while issuing, verifying, checking CSRF and looking up keys");
	before = heap_calls;
	r |= ac_session_key_init(&k, SECRET1, 32, "k1", 2);
	n = ac_session_issue(t, sizeof t, &k, SID, "alice", 5, ROLES2, 2, NOW,
	    0);
	r |= ac_session_verify(&k, 1, t, n, NOW, &s) != AC_OK;
	r |= ac_session_verify(&k, 1, "v1.k1.AA.AA", 11, NOW, &s) == AC_OK;
	r |= ac_csrf_token(c, &k, t, n) != AC_CSRF_TOKEN_LEN;
	r |= ac_csrf_check(&k, 1, t, n, c, sizeof c) != 1;
	kl = ac_apikey_new(key, sizeof key, NULL, 0, ENT[0], hex);
	r |= ac_apikey_hash_parse(tab[1].hash, hex, 64);
	r |= ac_apikey_lookup(tab, 2, key, kl) != &tab[1];
	r |= ac_resource_match("*a*b", 4, "xaxb", 4) != 1;
	ac_session_key_wipe(&k);
	CHECK(heap_calls == before);
	CHECK(r == 0);
	/* and the wrapper really counts (the test could fail) */
	{
		void *volatile p = malloc(16);
		free(p);
	}
	CHECK(heap_calls == before + 2);
	end();
}
#endif

/* ---- helper modes for tests/unit/session_xcheck.py (native) ---- */
static void print_hex(const void *p, size_t n)
{
	const uint8_t *b = p;
	size_t i;
	if (n == 0)
		printf("-");
	for (i = 0; i < n; i++)
		printf("%02x", b[i]);
}

/* One line per vector; fields are hex so any byte survives. */
static int emit(void)
{
	static char t[AC_SESSION_TOKEN_MAX + 1];
	static char rt[AC_SESSION_ROLES_MAX][AC_SESSION_ROLE_MAX];
	static const struct {
		const char *user;
		int n_roles, role_len;
		int64_t now, ttl;
		const char *kid;
	} v[] = {
		{ "alice", 2, 0, 1700000000, 0, "k1" },
		{ "bob@example.com", 0, 0, 1, 3600, "2024-06" },
		{ "Jos\xc3\xa9, Jr.", 3, 10, -100, 1, "A_-z" },
		{ "root", 16, 128, INT64_MAX - 5, 5, "kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk" },
	};
	uint8_t secret[48], sid[16], ent[32];
	ac_session_key k;
	ac_str roles[AC_SESSION_ROLES_MAX];
	char c[AC_CSRF_TOKEN_LEN], key[AC_APIKEY_MAX];
	char hex[AC_APIKEY_HASH_HEX_LEN + 1];
	size_t i, j, n;

	for (i = 0; i < sizeof secret; i++)
		secret[i] = (uint8_t)(i * 7 + 3);
	for (i = 0; i < sizeof v / sizeof v[0]; i++) {
		for (j = 0; j < sizeof sid; j++)
			sid[j] = (uint8_t)(i * 31 + j);
		if (ac_session_key_init(&k, secret, 32 + i * 4, v[i].kid,
		    strlen(v[i].kid)) != 0)
			return 1;
		for (j = 0; j < (size_t)v[i].n_roles; j++) {
			size_t rl = v[i].role_len ? (size_t)v[i].role_len : 5;
			memset(rt[j], 'r', sizeof rt[j]);
			memcpy(rt[j], j == 0 ? "admin" : "role-", 5);
			rt[j][4] = (char)('a' + j);
			roles[j].ptr = rt[j];
			roles[j].len = rl;
		}
		if (i == 0)
			memcpy(roles, ROLES2, sizeof ROLES2);
		n = ac_session_issue(t, sizeof t, &k, sid, v[i].user,
		    strlen(v[i].user), roles, (size_t)v[i].n_roles, v[i].now,
		    v[i].ttl);
		if (n == 0)
			return 1;
		printf("session ");
		print_hex(secret, 32 + i * 4);
		printf(" %s ", v[i].kid);
		print_hex(sid, 16);
		printf(" %lld %lld ", (long long)v[i].now, (long long)v[i].ttl);
		print_hex(v[i].user, strlen(v[i].user));
		printf(" ");
		if (v[i].n_roles == 0)
			printf("-");
		for (j = 0; j < (size_t)v[i].n_roles; j++) {
			if (j)
				printf(",");
			print_hex(roles[j].ptr, roles[j].len);
		}
		printf(" %.*s\n", (int)n, t);
		if (ac_csrf_token(c, &k, t, n) != AC_CSRF_TOKEN_LEN)
			return 1;
		printf("csrf ");
		print_hex(secret, 32 + i * 4);
		printf(" %.*s %.*s\n", (int)n, t, AC_CSRF_TOKEN_LEN, c);
	}
	for (i = 0; i < 4; i++) {
		static const char *const prefixes[] = { "ak", "tf", "x",
			"live0123456789ab" };
		for (j = 0; j < 32; j++)
			ent[j] = (uint8_t)(i * 53 + j * 11 + 1);
		n = ac_apikey_new(key, sizeof key, prefixes[i],
		    strlen(prefixes[i]), ent, hex);
		if (n == 0)
			return 1;
		printf("apikey %s ", prefixes[i]);
		print_hex(ent, 32);
		printf(" %.*s %s\n", (int)n, key, hex);
	}
	return 0;
}

static int run_verify(char **argv)
{
	static uint8_t secret[AC_SESSION_SECRET_MAX];
	static ac_session s;
	ac_session_key k;
	size_t sl = from_hex(secret, sizeof secret, argv[0]), i;
	ac_reason r;

	if (ac_session_key_init(&k, secret, sl, argv[1], strlen(argv[1])) != 0)
		return 2;
	r = ac_session_verify(&k, 1, argv[2], strlen(argv[2]),
	    strtoll(argv[3], NULL, 10), &s);
	printf("%s", ac_reason_name(r));
	if (r == AC_OK) {
		printf(" ");
		print_hex(s.sid, 16);
		printf(" %lld %lld ", (long long)s.iat, (long long)s.exp);
		print_hex(s.user.ptr, s.user.len);
		printf(" ");
		if (s.n_roles == 0)
			printf("-");
		for (i = 0; i < s.n_roles; i++) {
			if (i)
				printf(",");
			print_hex(s.roles[i].ptr, s.roles[i].len);
		}
		if (s.has_cred) {
			printf(" cred=");
			print_hex(s.cred, AC_SESSION_CRED_LEN);
		}
	}
	printf("\n");
	return 0;
}

static int run_cred_tag(char **argv)
{
	uint8_t tag[AC_SESSION_CRED_LEN];
	ac_session_cred_tag(tag, argv[0], strlen(argv[0]));
	print_hex(tag, sizeof tag);
	printf("\n");
	return 0;
}

static int run_csrf_check(char **argv)
{
	static uint8_t secret[AC_SESSION_SECRET_MAX];
	ac_session_key k;
	size_t sl = from_hex(secret, sizeof secret, argv[0]);

	if (ac_session_key_init(&k, secret, sl, argv[1], strlen(argv[1])) != 0)
		return 2;
	printf("%d\n", ac_csrf_check(&k, 1, argv[2], strlen(argv[2]), argv[3],
	    strlen(argv[3])));
	return 0;
}

static int run_lookup(char **argv)
{
	static ac_apikey_entry e;
	if (ac_apikey_hash_parse(e.hash, argv[1], strlen(argv[1])) != 0)
		return 2;
	printf("%s\n", ac_apikey_lookup(&e, 1, argv[0], strlen(argv[0])) ==
	    &e ? "hit" : "miss");
	return 0;
}

int main(int argc, char **argv)
{
	setup();
	if (argc >= 2 && strcmp(argv[1], "--emit") == 0)
		return emit();
	if (argc == 6 && strcmp(argv[1], "--verify") == 0)
		return run_verify(argv + 2);
	if (argc == 6 && strcmp(argv[1], "--csrf-check") == 0)
		return run_csrf_check(argv + 2);
	if (argc == 4 && strcmp(argv[1], "--lookup") == 0)
		return run_lookup(argv + 2);
	if (argc == 3 && strcmp(argv[1], "--cred-tag") == 0)
		return run_cred_tag(argv + 2);
	test_key_init();
	test_session_kat();
	test_session_time();
	test_session_tamper();
	test_session_payload();
	test_session_rotation();
	test_session_caps();
	test_csrf();
	test_apikey();
	test_wildcards();
#ifdef AC_TEST_COUNT_HEAP
	test_no_heap();
#endif
	printf("# %d failed\n", failures);
	return failures ? 1 : 0;
}
