/*
 * Tests of the ECDSA verification (core/ac_ecdsa.c) and of the ES* checks
 * and EC key loading built on it (core/ac_jws.c, core/ac_keys.c). Every
 * answer is compared with a reference: BearSSL's br_ecdsa_i31_vrfy_raw
 * over br_ec_all_m31 (the verification the core used before), except
 * where the hash is 0 mod n (see reference() below: BearSSL refuses every
 * signature there); the two must agree on every input. Self-contained (no
 * files, no clock unless --bench) so the same program runs natively, under
 * ASan+UBSan with 64-bit and with 32-bit limbs, and as WASI wasm under
 * Node. Prints "ok - name" / "not ok - name: where" per check group.
 *
 * Each key is checked twice: as loaded (no tables: u1 G + u2 Q with
 * per-call odd multiples) and after ac_ec_pub_init (P-256 and P-384:
 * the split sum over the key's tables).
 *
 *  - P-256, P-384, P-521: random keys, hashes of 32, 48 and 64 bytes (so
 *    truncated to the order's length where longer, and P-521 with SHA-512
 *    not truncated), signed by BearSSL's br_ecdsa_i31_sign_raw; each valid
 *    signature, its (r, n - s) twin, and altered copies: flipped bits in the
 *    signature or the hash, r or s = 0, = n, = n - 1, > n, r and s swapped,
 *    another key, another hash length;
 *  - edge cases built with a small bignum here (independent of the code
 *    under test): hashes of all zeros (u1 = 0) and all ones; Q = G and
 *    Q = -G; u1 G = u2 Q (a doubling inside the sum, also inside the
 *    split sum over a key's tables; valid signatures); hashes of 20, 66
 *    and 80 bytes (truncated where longer than the order);
 *    u1 G + u2 Q = the point at infinity; a public key whose x is >= n and
 *    a valid signature on it (x mod n = x - n);
 *  - public keys: random points, points with a flipped bit, coordinates
 *    >= p (x + p for a point found here), through ac_ec_point_check and
 *    BearSSL's point decoding, and through JWK loading;
 *  - ES256/384/512 JWS signatures through ac_jwt_key_jwk + ac_jws_check;
 *  - natively, with -DAC_TEST_COUNT_HEAP: no heap call anywhere in this.
 *
 * Counts: AC_TEST_ECDSA_ROUNDS signatures for P-256 (default 1000) and a
 * fifth of that for P-384 and P-521, whose BearSSL verification is slower;
 * each one checked valid, as its twin and altered three ways. The wasm and
 * sanitizer builds pass smaller counts (tests/unit/unit.mk). The random
 * stream is fixed, so a failure repeats. Arguments: [CURVE [SEED]], one
 * curve ("P-256", "P-384" or "P-521") and a seed, or every curve.
 *
 * --bench prints "# " lines with the time of one verification here and in
 * BearSSL (not checks); --bench raw: keys without their tables.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <bearssl.h>

#include "authcore.h"
#include "ac_internal.h"

#include "fixtures.h"

#ifndef AC_TEST_ECDSA_ROUNDS
#define AC_TEST_ECDSA_ROUNDS 1000
#endif

/* ---- a small, slow bignum: 19 32-bit words, least significant first.
 * Shift-and-add products, Fermat inverses; only for building edge cases. */
#define BNW 19
typedef struct {
	uint32_t w[BNW];
} bn;

static void bn_from(bn *a, const uint8_t *b, size_t len)
{
	size_t i;
	memset(a, 0, sizeof *a);
	for (i = 0; i < len; i++) {
		size_t bit = 8 * (len - 1 - i);
		a->w[bit / 32] |= (uint32_t)b[i] << (bit % 32);
	}
}
static void bn_to(uint8_t *b, size_t len, const bn *a)
{
	size_t i;
	for (i = 0; i < len; i++) {
		size_t bit = 8 * (len - 1 - i);
		b[i] = (uint8_t)(a->w[bit / 32] >> (bit % 32));
	}
}
static void bn_hex(bn *a, const char *hex)
{
	uint8_t b[BNW * 4];
	size_t n = from_hex(b, sizeof b, hex);
	bn_from(a, b, n);
}
static void bn_small(bn *a, uint32_t v)
{
	memset(a, 0, sizeof *a);
	a->w[0] = v;
}
static int bn_cmp(const bn *a, const bn *b)
{
	size_t i = BNW;
	while (i-- > 0)
		if (a->w[i] != b->w[i])
			return a->w[i] > b->w[i] ? 1 : -1;
	return 0;
}
static int bn_is_zero(const bn *a)
{
	bn z;
	bn_small(&z, 0);
	return bn_cmp(a, &z) == 0;
}
static uint32_t bn_add(bn *r, const bn *a, const bn *b)
{
	uint64_t c = 0;
	size_t i;
	for (i = 0; i < BNW; i++) {
		c += (uint64_t)a->w[i] + b->w[i];
		r->w[i] = (uint32_t)c;
		c >>= 32;
	}
	return (uint32_t)c;
}
static uint32_t bn_sub(bn *r, const bn *a, const bn *b)
{
	uint64_t c = 0;
	size_t i;
	for (i = 0; i < BNW; i++) {
		uint64_t d = (uint64_t)a->w[i] - b->w[i] - c;
		r->w[i] = (uint32_t)d;
		c = (d >> 32) & 1;
	}
	return (uint32_t)c;
}
/* a, b < m */
static void bn_addm(bn *r, const bn *a, const bn *b, const bn *m)
{
	bn t;
	bn_add(&t, a, b);
	if (bn_cmp(&t, m) >= 0)
		bn_sub(&t, &t, m);
	*r = t;
}
static void bn_subm(bn *r, const bn *a, const bn *b, const bn *m)
{
	bn t;
	if (bn_sub(&t, a, b))
		bn_add(&t, &t, m);
	*r = t;
}
static void bn_mulm(bn *r, const bn *a, const bn *b, const bn *m)
{
	bn acc;
	int i;
	bn_small(&acc, 0);
	for (i = 32 * BNW - 1; i >= 0; i--) {
		bn_addm(&acc, &acc, &acc, m);
		if (b->w[i / 32] >> (i % 32) & 1)
			bn_addm(&acc, &acc, a, m);
	}
	*r = acc;
}
static void bn_powm(bn *r, const bn *a, const bn *e, const bn *m)
{
	bn acc;
	int i;
	bn_small(&acc, 1);
	for (i = 32 * BNW - 1; i >= 0; i--) {
		bn_mulm(&acc, &acc, &acc, m);
		if (e->w[i / 32] >> (i % 32) & 1)
			bn_mulm(&acc, &acc, a, m);
	}
	*r = acc;
}
/* a^-1 mod a prime m */
static void bn_invm(bn *r, const bn *a, const bn *m)
{
	bn e, two;
	bn_small(&two, 2);
	bn_sub(&e, m, &two);
	bn_powm(r, a, &e, m);
}
/* x mod m for x < 2^(32 BNW - 1), by shifts and subtractions */
static void bn_mod(bn *r, const bn *x, const bn *m)
{
	bn acc, one;
	int i;
	bn_small(&acc, 0);
	bn_small(&one, 1);
	for (i = 32 * BNW - 1; i >= 0; i--) {
		bn_addm(&acc, &acc, &acc, m);
		if (x->w[i / 32] >> (i % 32) & 1)
			bn_addm(&acc, &acc, &one, m);
	}
	*r = acc;
}

/* ---- the curves */
typedef struct {
	const char *name;
	int id;
	size_t flen;
	unsigned nbits;
	ac_alg alg;
	const br_hash_class *hf;
	const char *p, *n, *b;
} tcurve;

static const tcurve CURVES[] = {
	{ "P-256", BR_EC_secp256r1, 32, 256, AC_ALG_ES256, &br_sha256_vtable,
	  "ffffffff00000001000000000000000000000000ffffffffffffffffffffffff",
	  "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551",
	  "5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604b" },
	{ "P-384", BR_EC_secp384r1, 48, 384, AC_ALG_ES384, &br_sha384_vtable,
	  "fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffe"
	  "ffffffff0000000000000000ffffffff",
	  "ffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf"
	  "581a0db248b0a77aecec196accc52973",
	  "b3312fa7e23ee7e4988e056be3f82d19181d9c6efe8141120314088f5013875a"
	  "c656398d8a2ed19d2a85c8edd3ec2aef" },
	{ "P-521", BR_EC_secp521r1, 66, 521, AC_ALG_ES512, &br_sha512_vtable,
	  "01ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
	  "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
	  "ffff",
	  "01ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
	  "fffa51868783bf2f966b7fcc0148f709a5d03bb5c9b8899c47aebb6fb71e9138"
	  "6409",
	  "0051953eb9618e1c9a1f929a21a0b68540eea2da725b99b315f3b8b489918ef1"
	  "09e156193951ec7e937b1652c0bd3bb1bf073573df883d2c34f1ef451fd46b50"
	  "3f00" },
};

static const br_ec_impl *const EC = &br_ec_all_m31;

/* ---- the comparison itself */
static long n_checked, n_valid, n_mismatch;

static void hexdump(const char *label, const uint8_t *p, size_t n)
{
	size_t i;
	printf("#   %s ", label);
	for (i = 0; i < n; i++)
		printf("%02x", p[i]);
	printf("\n");
}

static int br_point_ok(const tcurve *tc, const uint8_t *q, size_t qlen);

/*
 * The reference answer. BearSSL's br_ecdsa_i31_vrfy_raw, except when the
 * truncated hash is 0 mod n: then u1 = 0, and BearSSL's muladd, which
 * cannot add the point at infinity (0 G), refuses every signature, valid
 * or not. There the reference follows FIPS 186-5 with BearSSL's point
 * multiplication and the bignum here: r, s in [1, n-1], Q a point of the
 * curve, R = (r s^-1 mod n) Q, x(R) mod n == r.
 */
static int reference(const tcurve *tc, const uint8_t *q, const uint8_t *hash,
    size_t hl, const uint8_t *sig, size_t sl, int *zero_hash)
{
	br_ec_public_key pk;
	uint8_t R[133], u2b[66];
	size_t keep = hl, ql = 1 + 2 * tc->flen, i;
	bn e, n, r, s, t;

	bn_hex(&n, tc->n);
	if (8 * hl > tc->nbits)
		keep = (tc->nbits + 7) / 8;
	bn_from(&e, hash, keep);
	for (i = 0; 8 * hl > tc->nbits && i < 8 * keep - tc->nbits; i++) {
		size_t w;
		for (w = 0; w < BNW; w++)
			e.w[w] = e.w[w] >> 1 | (w + 1 < BNW ? e.w[w + 1] << 31 : 0);
	}
	bn_mod(&e, &e, &n);
	*zero_hash = bn_is_zero(&e);
	if (!*zero_hash) {
		pk.curve = tc->id;
		pk.q = (unsigned char *)(uintptr_t)q;
		pk.qlen = ql;
		return (int)br_ecdsa_i31_vrfy_raw(EC, hash, hl, &pk, sig, sl);
	}
	if (sl != 2 * tc->flen || !br_point_ok(tc, q, ql))
		return 0;
	bn_from(&r, sig, tc->flen);
	bn_from(&s, sig + tc->flen, tc->flen);
	if (bn_is_zero(&r) || bn_is_zero(&s) || bn_cmp(&r, &n) >= 0 ||
	    bn_cmp(&s, &n) >= 0)
		return 0;
	bn_invm(&t, &s, &n);
	bn_mulm(&t, &r, &t, &n);
	bn_to(u2b, tc->flen, &t);
	memcpy(R, q, ql);
	if (EC->mul(R, ql, u2b, tc->flen, tc->id) != 1)
		return 0;
	bn_from(&t, R + 1, tc->flen);
	bn_mod(&t, &t, &n);
	return bn_cmp(&t, &r) == 0;
}

/* The core's and the reference's verifications of (q, hash, sig); they
 * must agree, and equal `expect` when it is 0 or 1. Returns the core's
 * answer. */
static long n_zero_hash;
static int agree(const tcurve *tc, const uint8_t *q, const uint8_t *hash,
    size_t hl, const uint8_t *sig, size_t sl, int expect, const char *what)
{
	static ac_ec_pub k, kt;
	int ac, act, ref, zero;

	ref = reference(tc, q, hash, hl, sig, sl, &zero);
	/* the key without its tables (the per-call path), and with them
	 * (ac_ec_pub_init: the split path on P-256 and P-384) */
	memset(&k, 0, sizeof k);
	k.curve = tc->id;
	k.q_len = (uint32_t)(1 + 2 * tc->flen);
	memcpy(k.q, q, k.q_len);
	memcpy(&kt, &k, sizeof k);
	ac = ac_ecdsa_verify(&k, hash, hl, sig, sl);
	act = 0;
	if (ac_ec_pub_init(&kt) == 0) {
		CHECK(kt.tables == (tc->id != BR_EC_secp521r1));
		act = ac_ecdsa_verify(&kt, hash, hl, sig, sl);
	}
	n_checked++;
	n_valid += ac == 1;
	n_zero_hash += zero;
	if (ac != ref || act != ref || (expect >= 0 && ac != expect)) {
		n_mismatch++;
		CHECK(ac == ref && act == ref && (expect < 0 || ac == expect));
		printf("# %s %s: core %d (with tables %d), reference %d%s, "
		    "expected %d\n", tc->name, what, ac, act, ref,
		    zero ? " (hash 0 mod n)" : "", expect);
		if (n_mismatch <= 5) {
			hexdump("q", q, k.q_len);
			hexdump("hash", hash, hl);
			hexdump("sig", sig, sl);
		}
	}
	return ac;
}

/* A random private key in [1, n-1] and its public point. */
static void keygen(const tcurve *tc, uint8_t *x, uint8_t *q)
{
	bn n, v;
	bn_hex(&n, tc->n);
	do {
		rnd_bytes(x, tc->flen);
		if (tc->flen == 66)
			x[0] &= 1;
		bn_from(&v, x, tc->flen);
	} while (bn_is_zero(&v) || bn_cmp(&v, &n) >= 0);
	CHECK(EC->mulgen(q, x, tc->flen, tc->id) == 1 + 2 * tc->flen);
}

/* The signature of hash (hf's length) under the private key x. */
static size_t sign_ec(const tcurve *tc, const br_hash_class *hf,
    const uint8_t *x, const uint8_t *hash, uint8_t *sig)
{
	br_ec_private_key sk;
	sk.curve = tc->id;
	sk.x = (unsigned char *)(uintptr_t)x;
	sk.xlen = tc->flen;
	return br_ecdsa_i31_sign_raw(EC, hf, hash, &sk, sig);
}

static size_t hash_len_of(const br_hash_class *hf)
{
	return (size_t)(hf->desc >> BR_HASHDESC_OUT_OFF) & BR_HASHDESC_OUT_MASK;
}

/* r or s (half = 0 or 1) of sig set to v */
static void set_half(const tcurve *tc, uint8_t *sig, int half, const bn *v)
{
	bn_to(sig + (size_t)half * tc->flen, tc->flen, v);
}

/* One altered copy of (hash, sig), kind k; checked for agreement. */
static void altered(const tcurve *tc, const uint8_t *q, const uint8_t *q2,
    const uint8_t *hash, size_t hl, const uint8_t *sig, size_t sl, int k)
{
	uint8_t h2[80], s2[2 * 66];
	bn n, v, one;
	size_t half = (size_t)(rnd64() & 1), bit;

	bn_hex(&n, tc->n);
	bn_small(&one, 1);
	memcpy(h2, hash, hl);
	memcpy(s2, sig, sl);
	switch (k) {
	case 0: /* a flipped bit of the signature */
		bit = (size_t)(rnd64() % (8 * sl));
		s2[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		agree(tc, q, hash, hl, s2, sl, -1, "flipped signature bit");
		break;
	case 1: /* a flipped bit of the hash */
		bit = (size_t)(rnd64() % (8 * hl));
		h2[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		agree(tc, q, h2, hl, sig, sl, -1, "flipped hash bit");
		break;
	case 2: /* r or s = 0 */
		bn_small(&v, 0);
		set_half(tc, s2, (int)half, &v);
		agree(tc, q, hash, hl, s2, sl, 0, "r or s = 0");
		break;
	case 3: /* r or s = n */
		set_half(tc, s2, (int)half, &n);
		agree(tc, q, hash, hl, s2, sl, 0, "r or s = n");
		break;
	case 4: /* r or s = n - 1 */
		bn_sub(&v, &n, &one);
		set_half(tc, s2, (int)half, &v);
		agree(tc, q, hash, hl, s2, sl, -1, "r or s = n - 1");
		break;
	case 5: /* r or s > n: n + the value, or random top bytes */
		bn_from(&v, sig + half * tc->flen, tc->flen);
		if (rnd64() & 1) {
			bn_add(&v, &v, &n);
			bn_to(s2 + half * tc->flen, tc->flen, &v);
			if (bn_cmp(&v, &n) < 0 || v.w[tc->flen / 4] != 0 ||
			    (tc->flen == 66 && v.w[16] >> 16))
				break; /* n + value does not fit: skip */
		} else {
			memset(s2 + half * tc->flen, 0xff, 1 + rnd64() % 8);
			if (tc->flen == 66)
				s2[half * tc->flen] = 0x01;
		}
		agree(tc, q, hash, hl, s2, sl, -1, "r or s > n");
		break;
	case 6: /* r and s swapped */
		memcpy(s2, sig + tc->flen, tc->flen);
		memcpy(s2 + tc->flen, sig, tc->flen);
		agree(tc, q, hash, hl, s2, sl, -1, "r and s swapped");
		break;
	case 7: /* another key */
		agree(tc, q2, hash, hl, sig, sl, -1, "another key");
		break;
	case 8: /* another hash length (one byte less or more) */
		if (rnd64() & 1) {
			agree(tc, q, hash, hl - 1, sig, sl, -1, "hash cut");
		} else {
			h2[hl] = (uint8_t)rnd64();
			agree(tc, q, h2, hl + 1, sig, sl, -1, "hash longer");
		}
		break;
	default: /* a signature length one byte off */
		agree(tc, q, hash, hl, sig, sl - 1 - (size_t)(rnd64() & 1), 0,
		    "short signature");
		break;
	}
}

static void test_random(const tcurve *tc, long rounds)
{
	static const br_hash_class *const HF[] = { &br_sha256_vtable,
		&br_sha384_vtable, &br_sha512_vtable };
	static char name[256];
	uint8_t x[66], q[133], qprev[133], hash[64], sig[132], twin[132];
	long i;
	size_t sl, hl;
	bn n, s;
	long before_valid = n_valid, before = n_checked;

	snprintf(name, sizeof name, "%s: %ld random BearSSL signatures (32-, "
	    "48-, 64-byte hashes), each valid, as (r, n - s), and altered "
	    "three ways: the core agrees with br_ecdsa_i31_vrfy_raw", tc->name,
	    rounds);
	begin(name);
	bn_hex(&n, tc->n);
	keygen(tc, x, qprev); /* "another key" */
	keygen(tc, x, q);
	for (i = 0; i < rounds; i++) {
		const br_hash_class *hf = HF[rnd64() % 3];
		if (i % 4 == 0 && i > 0) { /* a new key every 4 signatures */
			memcpy(qprev, q, sizeof q);
			keygen(tc, x, q);
		}
		hl = hash_len_of(hf);
		rnd_bytes(hash, hl);
		sl = sign_ec(tc, hf, x, hash, sig);
		CHECK(sl == 2 * tc->flen);
		if (sl != 2 * tc->flen)
			break;
		agree(tc, q, hash, hl, sig, sl, 1, "valid");
		/* (r, n - s) is valid too */
		memcpy(twin, sig, sl);
		bn_from(&s, sig + tc->flen, tc->flen);
		bn_sub(&s, &n, &s);
		set_half(tc, twin, 1, &s);
		agree(tc, q, hash, hl, twin, sl, 1, "(r, n - s)");
		altered(tc, q, qprev, hash, hl, sig, sl, (int)(rnd64() % 10));
		altered(tc, q, qprev, hash, hl, sig, sl, (int)(rnd64() % 10));
		altered(tc, q, qprev, hash, hl, sig, sl, (int)(i % 10));
	}
	/* not vacuous: the valid ones verified, most altered ones did not */
	CHECK(n_valid - before_valid >= 2 * rounds);
	CHECK(n_valid - before_valid < (n_checked - before) * 3 / 4);
	end();
}

/* e as a hash that the truncation rule maps back to e: flen bytes, and for
 * P-521 (66 bytes = 528 bits > 521) shifted up by 7 bits. */
static size_t hash_of_int(const tcurve *tc, const bn *e, uint8_t *hash)
{
	bn v = *e;
	unsigned i, sh = (unsigned)(8 * tc->flen - tc->nbits);
	for (i = 0; i < sh; i++)
		bn_add(&v, &v, &v);
	bn_to(hash, tc->flen, &v);
	return tc->flen;
}

/* r = x(k G) mod n for a random k; returns 0 if r = 0 (retry). */
static int rand_nonce(const tcurve *tc, bn *k, bn *r)
{
	uint8_t kb[66], R[133];
	bn n, xr;
	bn_hex(&n, tc->n);
	do {
		rnd_bytes(kb, tc->flen);
		if (tc->flen == 66)
			kb[0] &= 1;
		bn_from(k, kb, tc->flen);
	} while (bn_is_zero(k) || bn_cmp(k, &n) >= 0);
	if (EC->mulgen(R, kb, tc->flen, tc->id) != 1 + 2 * tc->flen)
		return 0;
	bn_from(&xr, R + 1, tc->flen);
	bn_mod(r, &xr, &n);
	return !bn_is_zero(r);
}

static void test_edges(const tcurve *tc)
{
	static const br_hash_class *const HF[] = { &br_sha256_vtable,
		&br_sha384_vtable, &br_sha512_vtable };
	static char name[256];
	uint8_t x[66], q[133], qg[133], qng[133], hash[66], sig[132];
	bn n, p, b, d, e, r, s, k, t, one;
	size_t i, j, hl, sl;

	snprintf(name, sizeof name, "%s: edge cases (hash 0 and all ones, "
	    "Q = G and -G, u1 G = u2 Q also inside the split sum, hashes "
	    "longer than the order, the point at infinity, x(R) >= n) agree "
	    "with the reference and with the expected answer", tc->name);
	begin(name);
	bn_hex(&n, tc->n);
	bn_hex(&p, tc->p);
	bn_hex(&b, tc->b);
	bn_small(&one, 1);

	/* hashes of all zeros (e = 0, so u1 = 0) and all ones, valid and
	 * altered, for each hash length */
	for (j = 0; j < 3; j++) {
		hl = hash_len_of(HF[j]);
		for (i = 0; i < 8; i++) {
			keygen(tc, x, q);
			memset(hash, i & 1 ? 0xff : 0x00, hl);
			sl = sign_ec(tc, HF[j], x, hash, sig);
			agree(tc, q, hash, hl, sig, sl, 1, "hash 0 / ones");
			altered(tc, q, q, hash, hl, sig, sl, (int)i);
		}
	}

	/* Q = G (d = 1) and Q = -G (d = n - 1): signatures by BearSSL */
	memset(x, 0, sizeof x);
	x[tc->flen - 1] = 1;
	CHECK(EC->mulgen(qg, x, tc->flen, tc->id) == 1 + 2 * tc->flen);
	CHECK(memcmp(qg, EC->generator(tc->id, &hl), 1 + 2 * tc->flen) == 0);
	bn_sub(&t, &n, &one);
	bn_to(x, tc->flen, &t);
	CHECK(EC->mulgen(qng, x, tc->flen, tc->id) == 1 + 2 * tc->flen);
	for (i = 0; i < 8; i++) {
		rnd_bytes(hash, 32);
		memset(x, 0, sizeof x);
		x[tc->flen - 1] = 1;
		if (i & 1) {
			bn_sub(&t, &n, &one);
			bn_to(x, tc->flen, &t);
		}
		sl = sign_ec(tc, &br_sha256_vtable, x, hash, sig);
		agree(tc, i & 1 ? qng : qg, hash, 32, sig, sl, 1, "Q = +-G");
		agree(tc, i & 1 ? qg : qng, hash, 32, sig, sl, 0,
		    "Q = -+G (the other one)");
	}

	/* u1 G = u2 Q: e = r d, s = 2 r d / k makes R = k G with both halves
	 * equal; with Q = G (d = 1) the Shamir loop adds a point to itself */
	for (i = 0; i < 8; i++) {
		if (i == 0) {
			bn_small(&d, 1);
			memcpy(q, qg, sizeof qg);
		} else {
			keygen(tc, x, q);
			bn_from(&d, x, tc->flen);
		}
		if (!rand_nonce(tc, &k, &r))
			continue;
		bn_mulm(&e, &r, &d, &n);
		bn_addm(&s, &e, &e, &n);
		bn_invm(&t, &k, &n);
		bn_mulm(&s, &s, &t, &n);
		if (bn_is_zero(&s))
			continue;
		hl = hash_of_int(tc, &e, hash);
		set_half(tc, sig, 0, &r);
		set_half(tc, sig, 1, &s);
		agree(tc, q, hash, hl, sig, 2 * tc->flen, 1, "u1 G = u2 Q");
		/* with Q = -G instead, u1 G + u2 Q is the point at infinity */
		if (i == 0)
			agree(tc, qng, hash, hl, sig, 2 * tc->flen, 0,
			    "u1 G - u1 G = infinity");
	}

	/* the same inside the split sum over a key's tables (P-256, P-384:
	 * scalars split at h bits): with Q = G and u1 = u2 = 2^h b, only the
	 * high halves have digits, both the same, so the first point added
	 * twice is a doubling (and with Q = -G, infinity). R = 2^(h+1) b G,
	 * e = r, s = r (2^h b)^-1. */
	for (i = 0; i < 4; i++) {
		uint8_t kb[66], R[133];
		unsigned h = tc->nbits == 256 ? 128 : 192, sh;
		bn u, x2;
		rnd_bytes(kb, 8);
		bn_from(&u, kb, 8);           /* b: 64 random bits */
		if (bn_is_zero(&u))
			continue;
		for (sh = 0; sh < h; sh++)
			bn_add(&u, &u, &u);   /* u = 2^h b */
		bn_add(&x2, &u, &u);          /* 2^(h+1) b < n */
		bn_to(kb, tc->flen, &x2);
		CHECK(EC->mulgen(R, kb, tc->flen, tc->id) == 1 + 2 * tc->flen);
		bn_from(&r, R + 1, tc->flen);
		bn_mod(&r, &r, &n);
		bn_invm(&t, &u, &n);
		bn_mulm(&s, &r, &t, &n);
		hl = hash_of_int(tc, &r, hash);
		set_half(tc, sig, 0, &r);
		set_half(tc, sig, 1, &s);
		agree(tc, qg, hash, hl, sig, 2 * tc->flen, 1,
		    "u1 = u2 = 2^h b, Q = G");
		agree(tc, qng, hash, hl, sig, 2 * tc->flen, 0,
		    "u1 = u2 = 2^h b, Q = -G");
	}

	/* hashes longer than the order (20, 66 and 80 bytes; P-521 takes
	 * 521 of the 528 bits of a 66-byte hash): signatures made here,
	 * s = (e + r d) / k with e the leftmost nbits bits mod n */
	for (i = 0; i < 12; i++) {
		static const size_t LENS[] = { 20, 66, 80 };
		size_t w, keep, bits;
		keygen(tc, x, q);
		bn_from(&d, x, tc->flen);
		hl = LENS[i % 3];
		{
			uint8_t big[80];
			rnd_bytes(big, hl);
			if (!rand_nonce(tc, &k, &r))
				continue;
			keep = 8 * hl > tc->nbits ? (tc->nbits + 7) / 8 : hl;
			bn_from(&e, big, keep);
			for (bits = 0; 8 * hl > tc->nbits &&
			    bits < 8 * keep - tc->nbits; bits++)
				for (w = 0; w < BNW; w++)
					e.w[w] = e.w[w] >> 1 |
					    (w + 1 < BNW ? e.w[w + 1] << 31 : 0);
			bn_mod(&e, &e, &n);
			bn_mulm(&t, &r, &d, &n);
			bn_addm(&t, &t, &e, &n);
			bn_invm(&s, &k, &n);
			bn_mulm(&s, &s, &t, &n);
			if (bn_is_zero(&s))
				continue;
			set_half(tc, sig, 0, &r);
			set_half(tc, sig, 1, &s);
			agree(tc, q, big, hl, sig, 2 * tc->flen, 1, "long hash");
			big[hl - 1] ^= 1; /* beyond the order's bits only for
			                   * some lengths: either answer */
			agree(tc, q, big, hl, sig, 2 * tc->flen, -1,
			    "long hash, last bit flipped");
			big[0] ^= 0x80;
			agree(tc, q, big, hl, sig, 2 * tc->flen, 0,
			    "long hash, first bit flipped");
		}
	}

	/* u1 G + u2 Q = infinity: e = -r d, any s */
	for (i = 0; i < 8; i++) {
		keygen(tc, x, q);
		bn_from(&d, x, tc->flen);
		rnd_bytes(hash, tc->flen);
		bn_from(&r, hash, tc->flen);
		bn_mod(&r, &r, &n);
		rnd_bytes(hash, tc->flen);
		bn_from(&s, hash, tc->flen);
		bn_mod(&s, &s, &n);
		if (bn_is_zero(&r) || bn_is_zero(&s))
			continue;
		bn_mulm(&e, &r, &d, &n);
		bn_subm(&e, &n, &e, &n);
		hl = hash_of_int(tc, &e, hash);
		set_half(tc, sig, 0, &r);
		set_half(tc, sig, 1, &s);
		agree(tc, q, hash, hl, sig, 2 * tc->flen, 0, "infinity");
	}

	/* a key Q = (x, y) with n <= x < p; with e = 0 and r = s = x - n,
	 * u1 = 0 and u2 = 1, so R = Q and x(R) mod n = x - n = r: valid.
	 * r = x itself (>= n) is refused. */
	for (i = 0, j = 0; i < 64 && j < 2; i++) {
		bn y2, y, pe, xx;
		uint8_t rb[66];
		rnd_bytes(rb, tc->flen);
		bn_from(&t, rb, tc->flen);
		bn_sub(&xx, &p, &n);
		bn_mod(&t, &t, &xx);
		bn_add(&xx, &n, &t); /* n <= xx < p */
		/* y^2 = x^3 - 3x + b; p = 3 mod 4, so y = (y^2)^((p+1)/4) */
		bn_mulm(&y2, &xx, &xx, &p);
		bn_small(&t, 3);
		bn_subm(&y2, &y2, &t, &p);
		bn_mulm(&y2, &y2, &xx, &p);
		bn_addm(&y2, &y2, &b, &p);
		bn_add(&pe, &p, &one);
		for (k = pe, hl = 0; hl < 2; hl++) { /* (p + 1) / 4 */
			size_t w;
			for (w = 0; w < BNW; w++)
				k.w[w] = k.w[w] >> 1 |
				    (w + 1 < BNW ? k.w[w + 1] << 31 : 0);
		}
		bn_powm(&y, &y2, &k, &p);
		bn_mulm(&t, &y, &y, &p);
		if (bn_cmp(&t, &y2) != 0)
			continue; /* not a square: no point with this x */
		q[0] = 0x04;
		bn_to(q + 1, tc->flen, &xx);
		bn_to(q + 1 + tc->flen, tc->flen, &y);
		CHECK(ac_ec_point_check(tc->id, q, 1 + 2 * tc->flen) == 0);
		memset(hash, 0, sizeof hash);
		bn_sub(&r, &xx, &n);
		if (bn_is_zero(&r))
			continue;
		set_half(tc, sig, 0, &r);
		set_half(tc, sig, 1, &r);
		agree(tc, q, hash, 32, sig, 2 * tc->flen, 1, "x(R) >= n");
		set_half(tc, sig, 0, &xx);
		agree(tc, q, hash, 32, sig, 2 * tc->flen, 0, "r = x(R) >= n");
		set_half(tc, sig, 0, &r);
		hash[31] = 1; /* u1 = s^-1 != 0: another point */
		agree(tc, q, hash, 32, sig, 2 * tc->flen, -1,
		    "x(R) >= n, hash 1");
		j++;
	}
	CHECK(j == 2);
	end();
}

/* y for x on the curve (p = 3 mod 4), or 0 if x^3 - 3x + b is no square */
static int curve_y(const tcurve *tc, const bn *x, bn *y)
{
	bn p, b, y2, t, e, one;
	size_t w, i;
	bn_hex(&p, tc->p);
	bn_hex(&b, tc->b);
	bn_small(&one, 1);
	bn_mulm(&y2, x, x, &p);
	bn_small(&t, 3);
	bn_subm(&y2, &y2, &t, &p);
	bn_mulm(&y2, &y2, x, &p);
	bn_addm(&y2, &y2, &b, &p);
	bn_add(&e, &p, &one);
	for (i = 0; i < 2; i++)
		for (w = 0; w < BNW; w++)
			e.w[w] = e.w[w] >> 1 | (w + 1 < BNW ? e.w[w + 1] << 31 : 0);
	bn_powm(y, &y2, &e, &p);
	bn_mulm(&t, y, y, &p);
	return bn_cmp(&t, &y2) == 0;
}

/* BearSSL's decoding of a public point: 1 * Q succeeds only for a point
 * of the curve with coordinates below p */
static int br_point_ok(const tcurve *tc, const uint8_t *q, size_t qlen)
{
	uint8_t tmp[133];
	static const uint8_t one[1] = { 1 };
	if (qlen > sizeof tmp)
		return 0;
	memcpy(tmp, q, qlen);
	return EC->mul(tmp, qlen, one, 1, tc->id) == 1;
}

static void test_points(const tcurve *tc)
{
	static char name[256];
	uint8_t x[66], q[133], q2[133];
	size_t ql = 1 + 2 * tc->flen, i, bit;
	bn p, xs, y, t;
	int ac, br, found = 0;

	snprintf(name, sizeof name, "%s: public keys: random points, flipped "
	    "bits, coordinates + p, other prefixes and lengths; "
	    "ac_ec_point_check agrees with BearSSL's decoding", tc->name);
	begin(name);
	bn_hex(&p, tc->p);
	for (i = 0; i < 200; i++) {
		keygen(tc, x, q);
		CHECK(ac_ec_point_check(tc->id, q, ql) == 0);
		CHECK(br_point_ok(tc, q, ql));
		memcpy(q2, q, ql);
		bit = 8 + (size_t)(rnd64() % (8 * (ql - 1)));
		q2[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		ac = ac_ec_point_check(tc->id, q2, ql) == 0;
		br = br_point_ok(tc, q2, ql);
		CHECK(ac == br);
		CHECK(!ac);
	}
	/* the smallest x with a point, then x + p (it fits in the field's
	 * bytes for these primes) and y + p where it fits: not canonical,
	 * refused */
	for (i = 0; i < 100 && !found; i++) {
		bn_small(&xs, (uint32_t)i);
		found = curve_y(tc, &xs, &y);
	}
	CHECK(found);
	q[0] = 0x04;
	bn_to(q + 1, tc->flen, &xs);
	bn_to(q + 1 + tc->flen, tc->flen, &y);
	CHECK(ac_ec_point_check(tc->id, q, ql) == 0);
	CHECK(br_point_ok(tc, q, ql));
	memcpy(q2, q, ql);
	bn_add(&t, &xs, &p);
	bn_to(q2 + 1, tc->flen, &t);
	CHECK(ac_ec_point_check(tc->id, q2, ql) != 0);
	CHECK(!br_point_ok(tc, q2, ql));
	memcpy(q2, q, ql);
	bn_add(&t, &y, &p);
	bn_to(q2 + 1 + tc->flen, tc->flen, &t);
	bn_from(&xs, q2 + 1 + tc->flen, tc->flen);
	if (bn_cmp(&xs, &t) == 0) { /* y + p fits in the field's bytes */
		CHECK(ac_ec_point_check(tc->id, q2, ql) != 0);
		CHECK(!br_point_ok(tc, q2, ql));
	}
	/* (x, -y) is a point too; (x, 0) and (0, 0) are not */
	memcpy(q2, q, ql);
	bn_sub(&t, &p, &y);
	bn_to(q2 + 1 + tc->flen, tc->flen, &t);
	CHECK(ac_ec_point_check(tc->id, q2, ql) == 0);
	memset(q2 + 1 + tc->flen, 0, tc->flen);
	CHECK(ac_ec_point_check(tc->id, q2, ql) != 0);
	memset(q2 + 1, 0, 2 * tc->flen);
	CHECK(ac_ec_point_check(tc->id, q2, ql) != 0);
	CHECK(!br_point_ok(tc, q2, ql));
	/* other prefixes, lengths and curves */
	memcpy(q2, q, ql);
	q2[0] = 0x02;
	CHECK(ac_ec_point_check(tc->id, q2, ql) != 0);
	q2[0] = 0x00;
	CHECK(ac_ec_point_check(tc->id, q2, ql) != 0);
	CHECK(ac_ec_point_check(tc->id, q, ql - 1) != 0);
	CHECK(ac_ec_point_check(tc->id, q, 1 + tc->flen) != 0);
	CHECK(ac_ec_point_check(tc->id == BR_EC_secp256r1 ? BR_EC_secp384r1 :
	    BR_EC_secp256r1, q, ql) != 0);
	CHECK(ac_ec_point_check(0, q, ql) != 0);
	end();
}

/* JWK text of the public point q */
static size_t jwk_of(const tcurve *tc, const uint8_t *q, char *out, size_t cap)
{
	char xs[100], ys[100];
	size_t xl = ac_b64url_encode(xs, sizeof xs, q + 1, tc->flen);
	size_t yl = ac_b64url_encode(ys, sizeof ys, q + 1 + tc->flen, tc->flen);
	int n = snprintf(out, cap, "{\"kty\":\"EC\",\"crv\":\"%s\",\"x\":\"%.*s\","
	    "\"y\":\"%.*s\"}", tc->name, (int)xl, xs, (int)yl, ys);
	return n > 0 ? (size_t)n : 0;
}

static void test_jws(const tcurve *tc)
{
	static const char input[] = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9";
	static char name[256];
	char jwk[512];
	uint8_t x[66], q[133], hash[64], sig[132];
	br_hash_compat_context hc;
	ac_jwt_key key, copy;
	size_t sl, jl, i, bit;
	const char *why = NULL;

	snprintf(name, sizeof name, "%s: %s through ac_jwt_key_jwk and "
	    "ac_jws_check: BearSSL's signatures verify, altered ones do not, "
	    "off-curve keys are refused", tc->name,
	    tc->alg == AC_ALG_ES256 ? "ES256" : tc->alg == AC_ALG_ES384 ?
	    "ES384" : "ES512");
	begin(name);
	for (i = 0; i < 10; i++) {
		keygen(tc, x, q);
		jl = jwk_of(tc, q, jwk, sizeof jwk);
		CHECK(ac_jwt_key_jwk(&key, tc->alg, jwk, jl, &why) == 0);
		tc->hf->init(&hc.vtable);
		tc->hf->update(&hc.vtable, input, strlen(input));
		tc->hf->out(&hc.vtable, hash);
		sl = sign_ec(tc, tc->hf, x, hash, sig);
		CHECK(ac_jws_check(&key, input, strlen(input), sig, sl) == 1);
		memcpy(&copy, &key, sizeof key); /* a memcpy'd key works */
		CHECK(ac_jws_check(&copy, input, strlen(input), sig, sl) == 1);
		CHECK(ac_jws_check(&key, input, strlen(input) - 1, sig, sl) == 0);
		bit = (size_t)(rnd64() % (8 * sl));
		sig[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		CHECK(ac_jws_check(&key, input, strlen(input), sig, sl) == 0);
		sig[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		CHECK(ac_jws_check(&key, input, strlen(input), sig, sl - 1) == 0);
		/* the wrong algorithm for the curve; a point off the curve */
		CHECK(ac_jwt_key_jwk(&copy, tc->alg == AC_ALG_ES256 ?
		    AC_ALG_ES384 : AC_ALG_ES256, jwk, jl, &why) != 0);
		q[1 + tc->flen + tc->flen - 1] ^= 1;
		jl = jwk_of(tc, q, jwk, sizeof jwk);
		CHECK(ac_jwt_key_jwk(&copy, tc->alg, jwk, jl, &why) != 0);
	}
	end();
}

#ifdef AC_TEST_COUNT_HEAP
/* heap_calls read from memory: the compiler may assume that malloc and
 * free leave the program's variables alone, and reuse an earlier read */
static size_t heap_now(void)
{
	return *(volatile size_t *)&heap_calls;
}

static void test_no_heap(void)
{
	const tcurve *tc;
	uint8_t x[66], q[133], hash[64], sig[132];
	ac_ec_pub k;
	size_t before, i, sl;
	int r = 0;

	begin("no heap call while checking EC points and ECDSA signatures");
	for (i = 0; i < 3; i++) {
		tc = &CURVES[i];
		keygen(tc, x, q);
		rnd_bytes(hash, 64);
		sl = sign_ec(tc, &br_sha512_vtable, x, hash, sig);
		memset(&k, 0, sizeof k);
		k.curve = tc->id;
		k.q_len = (uint32_t)(1 + 2 * tc->flen);
		memcpy(k.q, q, k.q_len);
		before = heap_now();
		r |= ac_ec_point_check(tc->id, q, k.q_len) != 0;
		r |= ac_ec_pub_init(&k) != 0;
		r |= ac_ecdsa_verify(&k, hash, 64, sig, sl) != 1;
		sig[3] ^= 1;
		r |= ac_ecdsa_verify(&k, hash, 64, sig, sl) != 0;
		CHECK(heap_now() == before);
	}
	CHECK(r == 0);
	before = heap_now();
	{
		void *volatile p = malloc(16);
		free(p);
	}
	CHECK(heap_now() == before + 2); /* the counting works */
	end();
}
#endif

static void bench(int argc)
{
	size_t i, sl;
	int j, r, runs;
	uint8_t x[66], q[133], hash[64], sig[132];
	double t0, best_ac, best_br;
	ac_ec_pub k;
	br_ec_public_key pk;

	printf("# limbs of %d bits%s\n", AC_LIMB_BITS,
	    argc > 2 ? ", keys without tables" : "");
	for (i = 0; i < 3; i++) {
		const tcurve *tc = &CURVES[i];
		size_t hl = hash_len_of(tc->hf);
		keygen(tc, x, q);
		rnd_bytes(hash, hl);
		sl = sign_ec(tc, tc->hf, x, hash, sig);
		memset(&k, 0, sizeof k);
		k.curve = tc->id;
		k.q_len = (uint32_t)(1 + 2 * tc->flen);
		memcpy(k.q, q, k.q_len);
		pk.curve = tc->id;
		pk.q = q;
		pk.qlen = k.q_len;
		if (argc > 2 ? 0 : ac_ec_pub_init(&k) != 0)
			printf("# FAILED init\n");
		best_ac = best_br = 1e30;
		runs = 200;
		for (r = 0; r < 5; r++) {
			t0 = now_us();
			for (j = 0; j < runs; j++)
				if (ac_ecdsa_verify(&k, hash, hl, sig, sl) != 1)
					printf("# FAILED\n");
			t0 = (now_us() - t0) / runs;
			best_ac = t0 < best_ac ? t0 : best_ac;
			t0 = now_us();
			for (j = 0; j < runs / 10; j++)
				(void)br_ecdsa_i31_vrfy_raw(EC, hash, hl, &pk, sig, sl);
			t0 = (now_us() - t0) / (runs / 10);
			best_br = t0 < best_br ? t0 : best_br;
		}
		printf("# %s verify: core %.1f us, BearSSL %.1f us (best of 5)\n",
		    tc->name, best_ac, best_br);
	}
}

int main(int argc, char **argv)
{
	size_t i;
	/* BearSSL's P-384 and P-521 verifications (i31) are about 5 and 10
	 * times slower than its P-256 one (m31) */
	long rounds[3] = { AC_TEST_ECDSA_ROUNDS, AC_TEST_ECDSA_ROUNDS / 5,
		AC_TEST_ECDSA_ROUNDS / 5 };

	rng_state = 0x6a09e667f3bcc908ull; /* the default SEED (below) */
	if (argc >= 2 && strcmp(argv[1], "--bench") == 0) {
		bench(argc);
		return 0;
	}
	/* [CURVE [SEED]]: one curve ("P-256", "P-384", "P-521") or all */
	if (argc >= 3)
		rng_state = strtoull(argv[2], NULL, 0);
	printf("# seed 0x%016llx\n", (unsigned long long)rng_state);
	for (i = 0; i < 3; i++) {
		if (argc >= 2 && strcmp(argv[1], CURVES[i].name) != 0)
			continue;
		test_points(&CURVES[i]);
		test_jws(&CURVES[i]);
		test_edges(&CURVES[i]);
		test_random(&CURVES[i], rounds[i]);
	}
#ifdef AC_TEST_COUNT_HEAP
	test_no_heap();
#endif
	printf("# %ld verifications compared with the reference (%ld with a "
	    "hash 0 mod n), %ld valid, %ld disagreements\n", n_checked,
	    n_zero_hash, n_valid, n_mismatch);
	printf("# %d failed\n", failures);
	return failures ? 1 : 0;
}
