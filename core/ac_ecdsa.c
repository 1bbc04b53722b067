/*
 * ECDSA signature verification on P-256, P-384 and P-521 (FIPS 186-5
 * section 6.4.2; curves from SP 800-186), and the check that a public key
 * is a point of its curve. Declared in ac_internal.h.
 *
 * Why not BearSSL's: Debian's BearSSL 0.6 has only its 15- and 31-bit
 * constant-time code for these curves (no m62/m64 builds), about 975 us
 * per P-256 verification against OpenSSL's 73 us. A verification handles
 * public data only (the key, the message and the signature), so this code
 * branches freely on values, as core/ac_rsa.c does for RSA. For the same
 * reason it MUST NOT be used where any input is secret (signing, ECDH).
 *
 * Field: Montgomery multiplication (CIOS order: Koc, Acar and Kaliski,
 * "Analyzing and comparing Montgomery multiplication algorithms", 1996)
 * and a squaring that forms each cross product once, with R = 2^(64
 * words) for both limb sizes, so the constants below serve both. Each
 * curve has its own copies of the arithmetic, compiled with the limb count
 * and the prime as constants (and, for P-256 with 64-bit limbs, the
 * products inlined into the point formulas). Points: Jacobian coordinates
 * (X/Z^2, Y/Z^3), a = -3 doubling (dbl-2001-b), the general addition
 * (add-2007-bl) and the mixed one (madd-2007-bl) with their equal-point
 * and opposite-point cases, from the Explicit-Formulas Database.
 *
 * u1 G + u2 Q: Shamir's trick over width-w NAFs, one shared doubling per
 * bit. For P-256 and P-384, ac_ec_pub_init keeps in the key the affine
 * odd multiples of Q, 2^h Q, G and 2^h G (h = half the order's bits) and
 * each scalar is split in halves, so a verification does h doublings and
 * only mixed additions (see init_g). P-521's points do not fit in the key:
 * there the odd multiples G..15G and Q..15Q are made per call. No table
 * lives anywhere but in the caller's key. s^-1 mod n: the binary extended
 * Euclidean algorithm (variable-time). x(R) mod n == r is tested as
 * X == r Z^2 or, when r + n < p, X == (r + n) Z^2, without an inversion
 * mod p.
 *
 * Limbs: 64-bit natively, 32-bit in wasm: in Node a P-256
 * verification took 348 us with 32-bit limbs against 1257 us with 64-bit
 * ones (the 128-bit product is a compiler-rt call there).
 *
 * tests/unit/test_ecdsa.c checks every answer, with and without the
 * tables, against BearSSL's br_ecdsa_i31_vrfy_raw on random and edge-case
 * inputs.
 */
#include <bearssl.h>

#include "ac_internal.h"

/* Limbs: the core's ac_limb (ac_internal.h), but 32-bit in wasm, where
 * ac_limb is 64-bit for ac_rsa.c's SIMD products and a 128-bit product
 * would be a compiler-rt call; AC_EC_LIMB64 or AC_EC_LIMB32 overrides. */
#if (AC_LIMB_BITS == 64 && !defined(__wasm__) && !defined(AC_EC_LIMB32)) || \
    (defined(AC_EC_LIMB64) && defined(__SIZEOF_INT128__))
typedef uint64_t limb;
__extension__ typedef unsigned __int128 dlimb;
#define W 64
#else
typedef uint32_t limb;
typedef uint64_t dlimb;
#define W 32
#endif
#define WPL (64 / W)            /* limbs per 64-bit word */
#define MAXL (9 * WPL)          /* P-521: nine 64-bit words */
#define MAXBITS 521

#if defined(__GNUC__)
#define AC_INLINE static inline __attribute__((always_inline))
#else
#define AC_INLINE static inline
#endif
/* Loops over limbs unrolled whole where the count is a constant: the
 * per-curve functions keep their operands in registers. */
#if defined(__clang__)
#define UNROLL _Pragma("clang loop unroll(full)")
#elif defined(__GNUC__)
#define UNROLL _Pragma("GCC unroll 18")
#else
#define UNROLL
#endif

/* One 64-bit word of a constant as limbs, least significant first. */
#if W == 64
#define LL(x) (limb)(x)
#else
#define LL(x) (limb)(x), (limb)((uint64_t)(x) >> 32)
#endif

/* A curve y^2 = x^3 - 3x + b over GF(p) with a generator G of prime order
 * n. Constants made with Python from the SP 800-186 parameters (as
 * printed by `openssl ecparam -param_enc explicit -text`); R = 2^(64
 * words) for both limb sizes. */
typedef struct {
	size_t len;                    /* limbs of p and n */
	size_t flen;                   /* bytes of a coordinate, r or s */
	unsigned nbits;                /* bit length of n */
	limb p0, n0;                   /* -p^-1, -n^-1 mod 2^W */
	limb p[MAXL], n[MAXL];
	limb b[MAXL];                  /* b R mod p */
	limb gx[MAXL], gy[MAXL];       /* G in Montgomery form */
	limb one[MAXL];                /* R mod p */
	limb rr_p[MAXL], rr_n[MAXL];   /* R^2 mod p, R^2 mod n */
	unsigned h;                    /* split point of the scalars (bits),
	                                * 0: no per-key tables */
	unsigned w[4];                 /* NAF widths for Q, 2^h Q, G, 2^h G */
} ec_curve;

/* -p^-1 and -n^-1 mod 2^64 are given; their low 32 bits are the values
 * mod 2^32 */
static const ec_curve P256 = {
	.len = 4 * WPL, .flen = 32, .nbits = 256,
	.p0 = (limb)0x0000000000000001u, .n0 = (limb)0xccd1c8aaee00bc4fu,
	.p = { LL(0xffffffffffffffff), LL(0x00000000ffffffff),
		LL(0x0000000000000000), LL(0xffffffff00000001) },
	.n = { LL(0xf3b9cac2fc632551), LL(0xbce6faada7179e84),
		LL(0xffffffffffffffff), LL(0xffffffff00000000) },
	.b = { LL(0xd89cdf6229c4bddf), LL(0xacf005cd78843090),
		LL(0xe5a220abf7212ed6), LL(0xdc30061d04874834) },
	.gx = { LL(0x79e730d418a9143c), LL(0x75ba95fc5fedb601),
		LL(0x79fb732b77622510), LL(0x18905f76a53755c6) },
	.gy = { LL(0xddf25357ce95560a), LL(0x8b4ab8e4ba19e45c),
		LL(0xd2e88688dd21f325), LL(0x8571ff1825885d85) },
	.one = { LL(0x0000000000000001), LL(0xffffffff00000000),
		LL(0xffffffffffffffff), LL(0x00000000fffffffe) },
	.rr_p = { LL(0x0000000000000003), LL(0xfffffffbffffffff),
		LL(0xfffffffffffffffe), LL(0x00000004fffffffd) },
	.rr_n = { LL(0x83244c95be79eea2), LL(0x4699799c49bd6fa6),
		LL(0x2845b2392b6bec59), LL(0x66e12d94f3d95620) },
	.h = 128, .w = { 5, 4, 4, 4 },  /* 8 + 4 + 4 + 4 points */
};

static const ec_curve P384 = {
	.len = 6 * WPL, .flen = 48, .nbits = 384,
	.p0 = (limb)0x0000000100000001u, .n0 = (limb)0x6ed46089e88fdc45u,
	.p = { LL(0x00000000ffffffff), LL(0xffffffff00000000),
		LL(0xfffffffffffffffe), LL(0xffffffffffffffff),
		LL(0xffffffffffffffff), LL(0xffffffffffffffff) },
	.n = { LL(0xecec196accc52973), LL(0x581a0db248b0a77a),
		LL(0xc7634d81f4372ddf), LL(0xffffffffffffffff),
		LL(0xffffffffffffffff), LL(0xffffffffffffffff) },
	.b = { LL(0x081188719d412dcc), LL(0xf729add87a4c32ec),
		LL(0x77f2209b1920022e), LL(0xe3374bee94938ae2),
		LL(0xb62b21f41f022094), LL(0xcd08114b604fbff9) },
	.gx = { LL(0x3dd0756649c0b528), LL(0x20e378e2a0d6ce38),
		LL(0x879c3afc541b4d6e), LL(0x6454868459a30eff),
		LL(0x812ff723614ede2b), LL(0x4d3aadc2299e1513) },
	.gy = { LL(0x23043dad4b03a4fe), LL(0xa1bfa8bf7bb4a9ac),
		LL(0x8bade7562e83b050), LL(0xc6c3521968f4ffd9),
		LL(0xdd8002263969a840), LL(0x2b78abc25a15c5e9) },
	.one = { LL(0xffffffff00000001), LL(0x00000000ffffffff),
		LL(0x0000000000000001), LL(0x0000000000000000),
		LL(0x0000000000000000), LL(0x0000000000000000) },
	.rr_p = { LL(0xfffffffe00000001), LL(0x0000000200000000),
		LL(0xfffffffe00000000), LL(0x0000000200000000),
		LL(0x0000000000000001), LL(0x0000000000000000) },
	.rr_n = { LL(0x2d319b2419b409a9), LL(0xff3d81e5df1aa419),
		LL(0xbc3e483afcb82947), LL(0xd40d49174aab1cc5),
		LL(0x3fb05b7a28266895), LL(0x0c84ee012b39bf21) },
	.h = 192, .w = { 4, 4, 3, 3 },  /* 4 + 4 + 2 + 2 points */
};

static const ec_curve P521 = {
	.len = 9 * WPL, .flen = 66, .nbits = 521,
	.p0 = (limb)0x0000000000000001u, .n0 = (limb)0x1d2f5ccd79a995c7u,
	.p = { LL(0xffffffffffffffff), LL(0xffffffffffffffff),
		LL(0xffffffffffffffff), LL(0xffffffffffffffff),
		LL(0xffffffffffffffff), LL(0xffffffffffffffff),
		LL(0xffffffffffffffff), LL(0xffffffffffffffff),
		LL(0x00000000000001ff) },
	.n = { LL(0xbb6fb71e91386409), LL(0x3bb5c9b8899c47ae),
		LL(0x7fcc0148f709a5d0), LL(0x51868783bf2f966b),
		LL(0xfffffffffffffffa), LL(0xffffffffffffffff),
		LL(0xffffffffffffffff), LL(0xffffffffffffffff),
		LL(0x00000000000001ff) },
	.b = { LL(0x8014654fae586387), LL(0x78f7a28fea35a81f),
		LL(0x839ab9efc41e961a), LL(0xbd8b29605e9dd8df),
		LL(0xf0ab0c9ca8f63f49), LL(0xf9dc5a44c8c77884),
		LL(0x77516d392dccd98a), LL(0x0fc94d10d05b42a0),
		LL(0x000000000000004d) },
	.gx = { LL(0xb331a16381adc101), LL(0x4dfcbf3f18e172de),
		LL(0x6f19a459e0c2b521), LL(0x947f0ee093d17fd4),
		LL(0xdd50a5af3bf7f3ac), LL(0x90fc1457b035a69e),
		LL(0x214e32409c829fda), LL(0xe6cf1f65b311cada),
		LL(0x0000000000000074) },
	.gy = { LL(0x28460e4a5a9e268e), LL(0x20445f4a3b4fe8b3),
		LL(0xb09a9e3843513961), LL(0x2062a85c809fd683),
		LL(0x164bf7394caf7a13), LL(0x340bd7de8b939f33),
		LL(0xeccc7aa224abcda2), LL(0x022e452fda163e8d),
		LL(0x00000000000001e0) },
	.one = { LL(0x0080000000000000), LL(0x0000000000000000),
		LL(0x0000000000000000), LL(0x0000000000000000),
		LL(0x0000000000000000), LL(0x0000000000000000),
		LL(0x0000000000000000), LL(0x0000000000000000),
		LL(0x0000000000000000) },
	.rr_p = { LL(0x0000000000000000), LL(0x0000400000000000),
		LL(0x0000000000000000), LL(0x0000000000000000),
		LL(0x0000000000000000), LL(0x0000000000000000),
		LL(0x0000000000000000), LL(0x0000000000000000),
		LL(0x0000000000000000) },
	.rr_n = { LL(0x137cd04dcf15dd04), LL(0xf707badce5547ea3),
		LL(0x12a78d38794573ff), LL(0xd3721ef557f75e06),
		LL(0xdd6e23d82e49c7db), LL(0xcff3d142b7756e3e),
		LL(0x5bcc6d61a8e567bc), LL(0x2d8e03d1492d0d45),
		LL(0x000000000000003d) },
};

/* ---- multi-limb helpers (len limbs, least significant first) */

/* 1 if a >= b. */
AC_INLINE int geq(const limb *a, const limb *b, size_t len)
{
	size_t i = len;

	while (i-- > 0)
		if (a[i] != b[i])
			return a[i] > b[i];
	return 1;
}

AC_INLINE int is_zero(const limb *a, size_t len)
{
	limb z = 0;
	size_t i;

	for (i = 0; i < len; i++)
		z |= a[i];
	return z == 0;
}

/* r = a + b; returns the carry out. */
AC_INLINE limb add_n(limb *r, const limb *a, const limb *b, size_t len)
{
	limb c = 0;
	size_t i;

	UNROLL
	for (i = 0; i < len; i++) {
		dlimb z = (dlimb)a[i] + b[i] + c;
		r[i] = (limb)z;
		c = (limb)(z >> W);
	}
	return c;
}

/* r = a - b; returns the borrow out (0 or 1). */
AC_INLINE limb sub_n(limb *r, const limb *a, const limb *b, size_t len)
{
	limb c = 0;
	size_t i;

	UNROLL
	for (i = 0; i < len; i++) {
		dlimb z = (dlimb)a[i] - b[i] - c;
		r[i] = (limb)z;
		c = (limb)(z >> W) & 1;
	}
	return c;
}

/* add_n and sub_n for lengths not known when compiling (the scalar code):
 * not unrolled */
static limb addv(limb *r, const limb *a, const limb *b, size_t len)
{
	limb c = 0;
	size_t i;

	for (i = 0; i < len; i++) {
		dlimb z = (dlimb)a[i] + b[i] + c;
		r[i] = (limb)z;
		c = (limb)(z >> W);
	}
	return c;
}

static limb subv(limb *r, const limb *a, const limb *b, size_t len)
{
	limb c = 0;
	size_t i;

	for (i = 0; i < len; i++) {
		dlimb z = (dlimb)a[i] - b[i] - c;
		r[i] = (limb)z;
		c = (limb)(z >> W) & 1;
	}
	return c;
}

/*
 * Montgomery multiplication, CIOS: for each limb b[i], t += a b[i], then
 * t = (t + u m) / 2^W with u = t[0] m0 mod 2^W. For a, b < m the result
 * is < 2m before the final subtraction, and t never exceeds len + 1 limbs
 * plus a carry bit. r may alias a or b. Inlined into the per-curve
 * functions below, where len and m are constants.
 */
AC_INLINE void mont_mul(limb *r, const limb *a, const limb *b,
    const limb *m, limb m0, size_t len)
{
	limb t[MAXL + 2];
	size_t i, j;

	memset(t, 0, (len + 2) * sizeof(limb));
	UNROLL
	for (i = 0; i < len; i++) {
		limb c = 0, u;
		dlimb z;

		UNROLL
		for (j = 0; j < len; j++) {
			z = (dlimb)a[j] * b[i] + t[j] + c;
			t[j] = (limb)z;
			c = (limb)(z >> W);
		}
		z = (dlimb)t[len] + c;
		t[len] = (limb)z;
		t[len + 1] = (limb)(z >> W);
		u = t[0] * m0;
		z = (dlimb)u * m[0] + t[0];
		c = (limb)(z >> W);
		UNROLL
		for (j = 1; j < len; j++) {
			z = (dlimb)u * m[j] + t[j] + c;
			t[j - 1] = (limb)z;
			c = (limb)(z >> W);
		}
		z = (dlimb)t[len] + c;
		t[len - 1] = (limb)z;
		t[len] = t[len + 1] + (limb)(z >> W);
	}
	if (t[len] || geq(t, m, len))
		sub_n(t, t, m, len);
	UNROLL
	for (j = 0; j < len; j++)
		r[j] = t[j];
}

/*
 * Montgomery squaring: the product a^2 formed with each cross product once
 * (doubled), then reduced limb by limb (separated operand scanning). t
 * holds 2 len limbs and a carry; the reduction leaves (t + U m) / R < 2m.
 */
AC_INLINE void mont_sqr(limb *r, const limb *a, const limb *m, limb m0,
    size_t len)
{
	limb t[2 * MAXL + 1], c, hi;
	size_t i, j;
	dlimb z;

	UNROLL
	for (j = 0; j < 2 * len + 1; j++)
		t[j] = 0;
	/* cross products a[i] a[j], i < j */
	UNROLL
	for (i = 0; i + 1 < len; i++) {
		c = 0;
		UNROLL
		for (j = i + 1; j < len; j++) {
			z = (dlimb)a[i] * a[j] + t[i + j] + c;
			t[i + j] = (limb)z;
			c = (limb)(z >> W);
		}
		t[i + len] = c;
	}
	/* doubled, plus the squares a[i]^2 */
	hi = 0;
	UNROLL
	for (j = 0; j < 2 * len; j++) {
		limb v = t[j];
		t[j] = (limb)(v << 1) | hi;
		hi = v >> (W - 1);
	}
	c = 0;
	UNROLL
	for (i = 0; i < len; i++) {
		z = (dlimb)a[i] * a[i] + t[2 * i] + c;
		t[2 * i] = (limb)z;
		z = (dlimb)t[2 * i + 1] + (limb)(z >> W);
		t[2 * i + 1] = (limb)z;
		c = (limb)(z >> W);
	}
	/* reduction: clear one low limb per step */
	c = 0; /* the carry into t[len + i] from the previous step */
	UNROLL
	for (i = 0; i < len; i++) {
		limb u = t[i] * m0, k = 0;

		UNROLL
		for (j = 0; j < len; j++) {
			z = (dlimb)u * m[j] + t[i + j] + k;
			t[i + j] = (limb)z;
			k = (limb)(z >> W);
		}
		z = (dlimb)t[i + len] + k + c;
		t[i + len] = (limb)z;
		c = (limb)(z >> W);
	}
	if (c || geq(t + len, m, len))
		sub_n(t + len, t + len, m, len);
	UNROLL
	for (j = 0; j < len; j++)
		r[j] = t[len + j];
}

#if defined(__GNUC__)
#define NOINLINE __attribute__((noinline))
#else
#define NOINLINE
#endif

/* ---- field: values mod p, fully reduced, in Montgomery form. Every
 * function below that takes `c` is inlined into per-curve copies, where c
 * is one of the constants above and its fields are constants too. */

/* Out-of-line products per curve, the limb count and prime constant. */
#define FIELD_FUNCS(name, C)                                               \
	static NOINLINE void name##_mul(limb *r, const limb *a,            \
	    const limb *b)                                                 \
	{                                                                  \
		mont_mul(r, a, b, (C).p, (C).p0, (C).len);                 \
	}                                                                  \
	static NOINLINE void name##_sqr(limb *r, const limb *a)            \
	{                                                                  \
		mont_sqr(r, a, (C).p, (C).p0, (C).len);                    \
	}                                                                  \
	static NOINLINE void name##_nmul(limb *r, const limb *a,           \
	    const limb *b)                                                 \
	{                                                                  \
		mont_mul(r, a, b, (C).n, (C).n0, (C).len);                 \
	}
FIELD_FUNCS(p256, P256)
FIELD_FUNCS(p384, P384)
FIELD_FUNCS(p521, P521)

/* P-256 with 64-bit limbs: products of four limbs, inlined where used */
#if W == 64 && !defined(AC_EC_NO_INLINE)
#define INLINE_P256 1
#else
#define INLINE_P256 0
#endif

AC_INLINE void fmul(const ec_curve *c, limb *r, const limb *a, const limb *b)
{
	if (c == &P256) {
		if (INLINE_P256)
			mont_mul(r, a, b, P256.p, P256.p0, P256.len);
		else
			p256_mul(r, a, b);
	} else if (c == &P384) {
		p384_mul(r, a, b);
	} else {
		p521_mul(r, a, b);
	}
}

AC_INLINE void fsqr(const ec_curve *c, limb *r, const limb *a)
{
	if (c == &P256) {
		if (INLINE_P256)
			mont_sqr(r, a, P256.p, P256.p0, P256.len);
		else
			p256_sqr(r, a);
	} else if (c == &P384) {
		p384_sqr(r, a);
	} else {
		p521_sqr(r, a);
	}
}

/* a b R^-1 mod n */
AC_INLINE void nmul(limb *r, const limb *a, const limb *b, const ec_curve *c)
{
	if (c == &P256)
		p256_nmul(r, a, b);
	else if (c == &P384)
		p384_nmul(r, a, b);
	else
		p521_nmul(r, a, b);
}

/* The same, always as calls: for the few products outside the point
 * arithmetic */
AC_INLINE void cmul(const ec_curve *c, limb *r, const limb *a, const limb *b)
{
	if (c == &P256)
		p256_mul(r, a, b);
	else
		fmul(c, r, a, b);
}

AC_INLINE void csqr(const ec_curve *c, limb *r, const limb *a)
{
	if (c == &P256)
		p256_sqr(r, a);
	else
		fsqr(c, r, a);
}

AC_INLINE void fadd(const ec_curve *c, limb *r, const limb *a, const limb *b)
{
	limb carry = add_n(r, a, b, c->len);

	if (carry || geq(r, c->p, c->len))
		sub_n(r, r, c->p, c->len);
}

AC_INLINE void fsub(const ec_curve *c, limb *r, const limb *a, const limb *b)
{
	if (sub_n(r, a, b, c->len))
		add_n(r, r, c->p, c->len);
}

/* ---- points: Jacobian (X/Z^2, Y/Z^3); Z = 0 is the point at infinity */
typedef struct {
	limb x[MAXL], y[MAXL], z[MAXL];
} jpoint;

AC_INLINE void pcopy(const ec_curve *c, jpoint *r, const jpoint *a)
{
	size_t n = c->len * sizeof(limb);

	memcpy(r->x, a->x, n);
	memcpy(r->y, a->y, n);
	memcpy(r->z, a->z, n);
}

/* r = 2a (r may be a). dbl-2001-b, a = -3: 3M + 5S. Infinity stays
 * infinity (Z3 = 2 Y Z = 0); no point of these prime-order curves has
 * Y = 0. */
AC_INLINE void pdouble_g(const ec_curve *c, jpoint *r, const jpoint *a)
{
	limb delta[MAXL], gamma[MAXL], beta[MAXL], alpha[MAXL], t[MAXL];

	fsqr(c, delta, a->z);
	fsqr(c, gamma, a->y);
	fmul(c, beta, a->x, gamma);
	fsub(c, t, a->x, delta);
	fadd(c, alpha, a->x, delta);
	fmul(c, alpha, alpha, t);
	fadd(c, t, alpha, alpha);
	fadd(c, alpha, alpha, t);            /* 3 (X - delta)(X + delta) */
	fadd(c, r->z, a->y, a->z);
	fsqr(c, r->z, r->z);
	fsub(c, r->z, r->z, gamma);
	fsub(c, r->z, r->z, delta);          /* (Y + Z)^2 - gamma - delta */
	fadd(c, beta, beta, beta);
	fadd(c, beta, beta, beta);           /* 4 beta */
	fsqr(c, r->x, alpha);
	fsub(c, r->x, r->x, beta);
	fsub(c, r->x, r->x, beta);           /* alpha^2 - 8 beta */
	fsub(c, t, beta, r->x);
	fmul(c, t, alpha, t);
	fsqr(c, gamma, gamma);
	fadd(c, gamma, gamma, gamma);
	fadd(c, gamma, gamma, gamma);
	fadd(c, gamma, gamma, gamma);        /* 8 gamma^2 */
	fsub(c, r->y, t, gamma);
}

#define DBL_FUNCS(name, C)                                                 \
	static NOINLINE void name##_dbl(jpoint *r, const jpoint *a)        \
	{                                                                  \
		pdouble_g(&(C), r, a);                                     \
	}
DBL_FUNCS(p256, P256)
DBL_FUNCS(p384, P384)
DBL_FUNCS(p521, P521)

AC_INLINE void pdouble(const ec_curve *c, jpoint *r, const jpoint *a)
{
	if (c == &P256)
		p256_dbl(r, a);
	else if (c == &P384)
		p384_dbl(r, a);
	else
		p521_dbl(r, a);
}

/* r = a + (neg ? -b : b); r may be a. add-2007-bl (11M + 5S), with its
 * special cases: either input at infinity, a = b (doubling) and a = -b
 * (infinity). */
AC_INLINE void padd_g(const ec_curve *c, jpoint *r, const jpoint *a,
    const jpoint *b, int neg)
{
	limb z1z1[MAXL], z2z2[MAXL], u1[MAXL], u2[MAXL], s1[MAXL], s2[MAXL];
	limb h[MAXL], i[MAXL], j[MAXL], rr[MAXL], v[MAXL];
	size_t len = c->len;

	if (is_zero(b->z, len)) {
		if (r != a)
			pcopy(c, r, a);
		return;
	}
	if (is_zero(a->z, len)) {
		pcopy(c, r, b);
		if (neg && !is_zero(r->y, len))
			sub_n(r->y, c->p, r->y, len);
		return;
	}
	fsqr(c, z1z1, a->z);
	fsqr(c, z2z2, b->z);
	fmul(c, u1, a->x, z2z2);
	fmul(c, u2, b->x, z1z1);
	fmul(c, s1, a->y, b->z);
	fmul(c, s1, s1, z2z2);                /* Y1 Z2^3 */
	fmul(c, s2, b->y, a->z);
	fmul(c, s2, s2, z1z1);                /* Y2 Z1^3 */
	if (neg && !is_zero(s2, len))
		sub_n(s2, c->p, s2, len);
	fsub(c, h, u2, u1);
	fsub(c, rr, s2, s1);
	if (is_zero(h, len)) {
		if (is_zero(rr, len)) {
			pdouble(c, r, a);    /* a == b */
		} else {
			memset(r->z, 0, len * sizeof(limb)); /* a == -b */
			memcpy(r->x, c->one, len * sizeof(limb));
			memcpy(r->y, c->one, len * sizeof(limb));
		}
		return;
	}
	fadd(c, i, h, h);
	fsqr(c, i, i);                        /* I = (2H)^2 */
	fmul(c, j, h, i);                     /* J = H I */
	fadd(c, rr, rr, rr);                 /* r = 2 (S2 - S1) */
	fmul(c, v, u1, i);                    /* V = U1 I */
	/* Z3 = ((Z1 + Z2)^2 - Z1Z1 - Z2Z2) H */
	fadd(c, r->z, a->z, b->z);
	fsqr(c, r->z, r->z);
	fsub(c, r->z, r->z, z1z1);
	fsub(c, r->z, r->z, z2z2);
	fmul(c, r->z, r->z, h);
	/* X3 = r^2 - J - 2V */
	fsqr(c, r->x, rr);
	fsub(c, r->x, r->x, j);
	fsub(c, r->x, r->x, v);
	fsub(c, r->x, r->x, v);
	/* Y3 = r (V - X3) - 2 S1 J */
	fsub(c, v, v, r->x);
	fmul(c, v, rr, v);
	fmul(c, s1, s1, j);
	fadd(c, s1, s1, s1);
	fsub(c, r->y, v, s1);
}

#define ADD_FUNCS(name, C)                                                 \
	static NOINLINE void name##_add(jpoint *r, const jpoint *a,        \
	    const jpoint *b, int neg)                                      \
	{                                                                  \
		padd_g(&(C), r, a, b, neg);                                \
	}
ADD_FUNCS(p256, P256)
ADD_FUNCS(p384, P384)
ADD_FUNCS(p521, P521)

AC_INLINE void padd(const ec_curve *c, jpoint *r, const jpoint *a,
    const jpoint *b, int neg)
{
	if (c == &P256)
		p256_add(r, a, b, neg);
	else if (c == &P384)
		p384_add(r, a, b, neg);
	else
		p521_add(r, a, b, neg);
}

/* r = a + (neg ? -b : b) for an affine b = (bx, by) (r may be a):
 * madd-2007-bl, 7M + 4S, with the same special cases as padd_g. */
AC_INLINE void padd_aff_g(const ec_curve *c, jpoint *r, const jpoint *a,
    const limb *bx, const limb *by, int neg)
{
	limb z1z1[MAXL], u2[MAXL], s2[MAXL], h[MAXL], hh[MAXL], i[MAXL];
	limb j[MAXL], rr[MAXL], v[MAXL], x3[MAXL], t[MAXL];
	size_t len = c->len, n = len * sizeof(limb);

	if (is_zero(a->z, len)) {
		memcpy(r->x, bx, n);
		memcpy(r->y, by, n);
		if (neg && !is_zero(r->y, len))
			sub_n(r->y, c->p, r->y, len);
		memcpy(r->z, c->one, n);
		return;
	}
	fsqr(c, z1z1, a->z);
	fmul(c, u2, bx, z1z1);               /* U2 = X2 Z1^2 */
	fmul(c, s2, by, a->z);
	fmul(c, s2, s2, z1z1);               /* S2 = Y2 Z1^3 */
	if (neg && !is_zero(s2, len))
		sub_n(s2, c->p, s2, len);
	fsub(c, h, u2, a->x);                /* H = U2 - X1 */
	fsub(c, rr, s2, a->y);
	if (is_zero(h, len)) {
		if (is_zero(rr, len)) {
			pdouble(c, r, a);    /* a == b */
		} else {
			memset(r->z, 0, n);  /* a == -b */
			memcpy(r->x, c->one, n);
			memcpy(r->y, c->one, n);
		}
		return;
	}
	fsqr(c, hh, h);
	fadd(c, i, hh, hh);
	fadd(c, i, i, i);                    /* I = 4 HH */
	fmul(c, j, h, i);                    /* J = H I */
	fadd(c, rr, rr, rr);                 /* r = 2 (S2 - Y1) */
	fmul(c, v, a->x, i);                 /* V = X1 I */
	fsqr(c, x3, rr);
	fsub(c, x3, x3, j);
	fsub(c, x3, x3, v);
	fsub(c, x3, x3, v);                  /* X3 = r^2 - J - 2V */
	fmul(c, t, a->y, j);
	fadd(c, t, t, t);                    /* 2 Y1 J */
	fsub(c, v, v, x3);
	fmul(c, v, rr, v);
	fadd(c, r->z, a->z, h);
	fsqr(c, r->z, r->z);
	fsub(c, r->z, r->z, z1z1);
	fsub(c, r->z, r->z, hh);             /* Z3 = (Z1 + H)^2 - Z1Z1 - HH */
	fsub(c, r->y, v, t);                 /* Y3 = r (V - X3) - 2 Y1 J */
	memcpy(r->x, x3, n);
}

#define MADD_FUNCS(name, C)                                                \
	static NOINLINE void name##_madd(jpoint *r, const jpoint *a,       \
	    const limb *bx, const limb *by, int neg)                       \
	{                                                                  \
		padd_aff_g(&(C), r, a, bx, by, neg);                       \
	}
MADD_FUNCS(p256, P256)
MADD_FUNCS(p384, P384)

AC_INLINE void padd_aff(const ec_curve *c, jpoint *r, const jpoint *a,
    const limb *bx, const limb *by, int neg)
{
	if (c == &P256)
		p256_madd(r, a, bx, by, neg);
	else
		p384_madd(r, a, bx, by, neg);
}

/* ---- scalars and encodings */

/* Big-endian x[0..blen) into len limbs (blen <= len W / 8). */
static void decode(limb *w, size_t len, const uint8_t *x, size_t blen)
{
	size_t i, bit;

	memset(w, 0, len * sizeof *w);
	for (i = 0; i < blen; i++) {
		bit = 8 * (blen - 1 - i);
		w[bit / W] |= (limb)x[i] << (bit % W);
	}
}

/* a >>= 1 over len limbs, with `top` shifted in as the new top bit. */
static void shr1(limb *a, size_t len, limb top)
{
	size_t i;

	for (i = 0; i + 1 < len; i++)
		a[i] = a[i] >> 1 | (limb)(a[i + 1] << (W - 1));
	a[len - 1] = a[len - 1] >> 1 | (limb)(top << (W - 1));
}

/* x = x / 2 mod m, for x < m, m odd. */
static void half_mod(limb *x, const limb *m, size_t len)
{
	limb carry = 0;

	if (x[0] & 1)
		carry = addv(x, x, m, len);
	shr1(x, len, carry);
}

/*
 * r = a^-1 mod m, for m an odd prime and 0 < a < m: the binary extended
 * Euclidean algorithm (Hankerson, Menezes, Vanstone, "Guide to Elliptic
 * Curve Cryptography", algorithm 2.22), with the invariants x1 a = u and
 * x2 a = v (mod m). Variable-time: a is public here.
 */
static void inv_mod(limb *r, const limb *a, const limb *m, size_t len)
{
	limb u[MAXL], v[MAXL], x1[MAXL], x2[MAXL], one[MAXL];

	memcpy(u, a, len * sizeof(limb));
	memcpy(v, m, len * sizeof(limb));
	memset(x1, 0, len * sizeof(limb));
	memset(x2, 0, len * sizeof(limb));
	memset(one, 0, len * sizeof(limb));
	x1[0] = 1;
	one[0] = 1;
	for (;;) {
		if (memcmp(u, one, len * sizeof(limb)) == 0) {
			memcpy(r, x1, len * sizeof(limb));
			return;
		}
		if (memcmp(v, one, len * sizeof(limb)) == 0) {
			memcpy(r, x2, len * sizeof(limb));
			return;
		}
		while (!(u[0] & 1)) {
			shr1(u, len, 0);
			half_mod(x1, m, len);
		}
		while (!(v[0] & 1)) {
			shr1(v, len, 0);
			half_mod(x2, m, len);
		}
		if (geq(u, v, len)) {
			subv(u, u, v, len);
			if (subv(x1, x1, x2, len))
				addv(x1, x1, m, len);
		} else {
			subv(v, v, u, len);
			if (subv(x2, x2, x1, len))
				addv(x2, x2, m, len);
		}
	}
}

/*
 * Width-5 NAF of k (k < n, so k + 16 fits in len limbs): digits odd in
 * [-15, 15] or 0, least significant first, no two non-zero digits within
 * 5 places. Returns the digit count (0 for k = 0).
 */
/*
 * Width-w NAF of k (len limbs; w <= 7): digits odd in [-(2^(w-1) - 1),
 * 2^(w-1) - 1] or 0, least significant first, no two non-zero digits
 * within w places. Returns the digit count (0 for k = 0), at most
 * len W + 1.
 */
static size_t wnaf(int8_t *out, const limb *k, size_t len, unsigned w)
{
	limb x[MAXL + 1], d[MAXL + 1];
	size_t i = 0;

	memcpy(x, k, len * sizeof(limb));
	x[len] = 0; /* k + 2^(w-1) may need it */
	memset(d, 0, sizeof d);
	while (!is_zero(x, len + 1)) {
		int digit = 0;

		if (x[0] & 1) {
			digit = (int)(x[0] & ((1u << w) - 1));
			if (digit >= 1 << (w - 1))
				digit -= 1 << w;
			if (digit > 0) {
				d[0] = (limb)digit;
				subv(x, x, d, len + 1);
			} else {
				d[0] = (limb)-digit;
				addv(x, x, d, len + 1);
			}
		}
		out[i++] = (int8_t)digit;
		shr1(x, len + 1, 0);
	}
	return i;
}

/* t[0..cnt) = P, 3P, ..., (2 cnt - 1) P for P = t[0] (Jacobian). */
AC_INLINE void odd_multiples(const ec_curve *c, jpoint *t, size_t cnt)
{
	jpoint p2;
	size_t i;

	pdouble(c, &p2, &t[0]);
	for (i = 1; i < cnt; i++)
		padd(c, &t[i], &t[i - 1], &p2, 0);
}

/* t = the affine point (x, y) (Montgomery form) in Jacobian form */
AC_INLINE void from_affine(const ec_curve *c, jpoint *t, const limb *x,
    const limb *y)
{
	size_t n = c->len * sizeof(limb);

	memcpy(t->x, x, n);
	memcpy(t->y, y, n);
	memcpy(t->z, c->one, n);
}

/* (x, y) from 0x04 || X || Y into Montgomery form; 0 if a coordinate is
 * >= p or the point is not on y^2 = x^3 - 3x + b. */
AC_INLINE int point_load(const ec_curve *c, limb *x, limb *y, const uint8_t *q,
    size_t qlen)
{
	limb l[MAXL], r[MAXL];
	size_t len = c->len;

	if (qlen != 1 + 2 * c->flen || q[0] != 0x04)
		return 0;
	decode(x, len, q + 1, c->flen);
	decode(y, len, q + 1 + c->flen, c->flen);
	if (geq(x, c->p, len) || geq(y, c->p, len))
		return 0;
	cmul(c, x, x, c->rr_p);
	cmul(c, y, y, c->rr_p);
	csqr(c, l, y);                        /* y^2 */
	csqr(c, r, x);
	fsub(c, r, r, c->one);
	fsub(c, r, r, c->one);
	fsub(c, r, r, c->one);
	cmul(c, r, r, x);                     /* x^3 - 3x */
	fadd(c, r, r, c->b);
	return memcmp(l, r, len * sizeof(limb)) == 0;
}

/* r = a^-1 for a in Montgomery form (a != 0): (a R)^-1 by inv_mod, then
 * times R^2 twice (each a Montgomery product: times R) */
AC_INLINE void finv(const ec_curve *c, limb *r, const limb *a)
{
	inv_mod(r, a, c->p, c->len);
	cmul(c, r, r, c->rr_p);
	cmul(c, r, r, c->rr_p);
}

/* out = the affine (x, y) of each of pts[0..n) (none at infinity), one
 * inversion for all (Montgomery's trick) */
#define TABLE_POINTS 20
AC_INLINE void to_affine_all(const ec_curve *c, const jpoint *pts, size_t n,
    limb *out)
{
	limb pre[TABLE_POINTS][MAXL], inv[MAXL], zi[MAXL], z2[MAXL], t[MAXL];
	size_t i, len = c->len;

	memcpy(pre[0], pts[0].z, len * sizeof(limb));
	for (i = 1; i < n; i++)
		cmul(c, pre[i], pre[i - 1], pts[i].z);
	finv(c, inv, pre[n - 1]);               /* (z0 ... z(n-1))^-1 */
	for (i = n; i-- > 0;) {
		if (i > 0) {
			cmul(c, zi, inv, pre[i - 1]);   /* zi^-1 */
			cmul(c, inv, inv, pts[i].z);    /* (z0 ... z(i-1))^-1 */
		} else {
			memcpy(zi, inv, len * sizeof(limb));
		}
		csqr(c, z2, zi);
		cmul(c, out + 2 * i * len, pts[i].x, z2);
		cmul(c, t, z2, zi);
		cmul(c, out + (2 * i + 1) * len, pts[i].y, t);
	}
}

_Static_assert(sizeof(((ac_ec_pub *)0)->tab) >= TABLE_POINTS * 2 * 4 * 8 &&
    sizeof(((ac_ec_pub *)0)->tab) >= 12 * 2 * 6 * 8,
    "ac_ec_pub.tab too small for the P-256 or P-384 tables");

/*
 * Per-key tables (curves with h != 0): with u = a + 2^h b for each scalar,
 * u1 G + u2 Q = a2 Q + b2 Q' + a1 G + b1 G' where Q' = 2^h Q and
 * G' = 2^h G, so the sum takes h doublings instead of 2h. The odd
 * multiples of the four points (as many as the NAF widths in c->w need),
 * affine and in Montgomery form, are made here once per key and kept in
 * the key: no state outside it, and mixed additions (7M + 4S) in the sum.
 */
AC_INLINE int init_g(const ec_curve *c, ac_ec_pub *k)
{
	limb qx[MAXL], qy[MAXL];
	jpoint pts[TABLE_POINTS];
	size_t n = 0, t, i, cnt;

	k->tables = 0;
	memset(k->tab, 0, sizeof k->tab);
	if (!point_load(c, qx, qy, k->q, k->q_len))
		return -1;
	if (c->h == 0)
		return 0;
	for (t = 0; t < 4; t++) {
		jpoint *b = &pts[n];
		cnt = (size_t)1 << (c->w[t] - 2);
		if (t < 2)
			from_affine(c, b, qx, qy);
		else
			from_affine(c, b, c->gx, c->gy);
		if (t & 1)
			for (i = 0; i < c->h; i++)
				pdouble(c, b, b);
		odd_multiples(c, b, cnt);
		n += cnt;
	}
	to_affine_all(c, pts, n, (limb *)(void *)k->tab);
	k->tables = 1;
	return 0;
}

/* acc = u1 G + u2 Q from the key's tables (acc starts at infinity) */
AC_INLINE void split_sum(const ec_curve *c, const ac_ec_pub *k,
    const limb *u1, const limb *u2, jpoint *acc)
{
	int8_t naf[4][MAXBITS / 2 + 8];
	const limb *tab = (const limb *)(const void *)k->tab, *base[4], *pt;
	size_t hl = c->h / W, len = c->len, nd[4], i, t, top = 0, off = 0;
	const limb *part[4];
	int d;

	part[0] = u2;
	part[1] = u2 + hl;
	part[2] = u1;
	part[3] = u1 + hl;
	for (t = 0; t < 4; t++) {
		nd[t] = wnaf(naf[t], part[t], t & 1 ? len - hl : hl, c->w[t]);
		top = nd[t] > top ? nd[t] : top;
		base[t] = tab + off;
		off += ((size_t)1 << (c->w[t] - 2)) * 2 * len;
	}
	for (i = top; i-- > 0;) {
		if (!is_zero(acc->z, len))
			pdouble(c, acc, acc);
		for (t = 0; t < 4; t++) {
			if (i >= nd[t] || (d = naf[t][i]) == 0)
				continue;
			pt = base[t] + (size_t)((d < 0 ? -d : d) / 2) * 2 * len;
			padd_aff(c, acc, acc, pt, pt + len, d < 0);
		}
	}
}

AC_INLINE int verify_g(const ec_curve *c, const ac_ec_pub *k,
    const uint8_t *hash, size_t hash_len, const uint8_t *sig, size_t sig_len)
{
	limb r[MAXL], s[MAXL], e[MAXL], w[MAXL], u1[MAXL], u2[MAXL];
	limb qx[MAXL], qy[MAXL], t[MAXL];
	int8_t n1[MAXBITS + 2], n2[MAXBITS + 2];
	jpoint tg[8], tq[8], acc;
	size_t len, l1, l2, i, hbits;
	int d;

	if (sig_len != 2 * c->flen)
		return 0;
	len = c->len;

	/* 1 <= r, s <= n - 1 */
	decode(r, len, sig, c->flen);
	decode(s, len, sig + c->flen, c->flen);
	if (is_zero(r, len) || is_zero(s, len) || geq(r, c->n, len) ||
	    geq(s, c->n, len))
		return 0;
	if (!point_load(c, qx, qy, k->q, k->q_len))
		return 0;

	/* e: the leftmost nbits bits of the hash, reduced mod n (one
	 * subtraction: e < 2^nbits < 2n) */
	hbits = 8 * hash_len;
	if (hbits > c->nbits) {
		size_t keep = (c->nbits + 7) / 8;
		decode(e, len, hash, keep);
		for (i = 0; i < 8 * keep - c->nbits; i++)
			shr1(e, len, 0);
	} else {
		decode(e, len, hash, hash_len);
	}
	if (geq(e, c->n, len))
		sub_n(e, e, c->n, len);

	/* w = s^-1, u1 = e w, u2 = r w (mod n): the Montgomery product
	 * x y R^-1, then times R^2 */
	inv_mod(w, s, c->n, len);
	nmul(t, e, w, c);
	nmul(u1, t, c->rr_n, c);
	nmul(t, r, w, c);
	nmul(u2, t, c->rr_n, c);

	memset(&acc, 0, sizeof acc);
	if (c->h && k->tables) {
		split_sum(c, k, u1, u2, &acc);
		goto sum_done;
	}
	/* u1 G + u2 Q, both NAFs walked together from the top */
	l1 = wnaf(n1, u1, len, 5);
	l2 = wnaf(n2, u2, len, 5);
	if (l1) {
		from_affine(c, &tg[0], c->gx, c->gy);
		odd_multiples(c, tg, 8);
	}
	from_affine(c, &tq[0], qx, qy);
	odd_multiples(c, tq, 8);
	for (i = l1 > l2 ? l1 : l2; i-- > 0;) {
		if (!is_zero(acc.z, len))
			pdouble(c, &acc, &acc);
		if (i < l1 && (d = n1[i]) != 0)
			padd(c, &acc, &acc, &tg[(d < 0 ? -d : d) / 2], d < 0);
		if (i < l2 && (d = n2[i]) != 0)
			padd(c, &acc, &acc, &tq[(d < 0 ? -d : d) / 2], d < 0);
	}
sum_done:
	if (is_zero(acc.z, len))
		return 0; /* the point at infinity */

	/* x = X / Z^2 (mod p) and x mod n == r: x < p < 2n, so x is r or
	 * r + n; compare X with r Z^2 and, if r + n < p, with (r + n) Z^2 */
	csqr(c, w, acc.z);
	cmul(c, t, r, c->rr_p);
	cmul(c, t, t, w);
	if (memcmp(t, acc.x, len * sizeof(limb)) == 0)
		return 1;
	if (add_n(t, r, c->n, len) || geq(t, c->p, len))
		return 0;
	cmul(c, t, t, c->rr_p);
	cmul(c, t, t, w);
	return memcmp(t, acc.x, len * sizeof(limb)) == 0;
}

#define CURVE_FUNCS(name, C)                                               \
	static NOINLINE int name##_point_ok(const uint8_t *q, size_t qlen) \
	{                                                                  \
		limb x[MAXL], y[MAXL];                                     \
		return point_load(&(C), x, y, q, qlen);                    \
	}                                                                  \
	static NOINLINE int name##_init(ac_ec_pub *k)                      \
	{                                                                  \
		return init_g(&(C), k);                                    \
	}                                                                  \
	static NOINLINE int name##_verify(const ac_ec_pub *k,              \
	    const uint8_t *hash, size_t hash_len, const uint8_t *sig,      \
	    size_t sig_len)                                                \
	{                                                                  \
		return verify_g(&(C), k, hash, hash_len, sig, sig_len);    \
	}
CURVE_FUNCS(p256, P256)
CURVE_FUNCS(p384, P384)
CURVE_FUNCS(p521, P521)

int ac_ec_point_check(int curve, const uint8_t *q, size_t qlen)
{
	int ok;

	switch (curve) {
	case BR_EC_secp256r1: ok = p256_point_ok(q, qlen); break;
	case BR_EC_secp384r1: ok = p384_point_ok(q, qlen); break;
	case BR_EC_secp521r1: ok = p521_point_ok(q, qlen); break;
	default: ok = 0; break;
	}
	return ok ? 0 : -1;
}

int ac_ec_pub_init(ac_ec_pub *k)
{
	switch (k->curve) {
	case BR_EC_secp256r1: return p256_init(k);
	case BR_EC_secp384r1: return p384_init(k);
	case BR_EC_secp521r1: return p521_init(k);
	default: return -1;
	}
}

int ac_ecdsa_verify(const ac_ec_pub *k, const uint8_t *hash,
    size_t hash_len, const uint8_t *sig, size_t sig_len)
{
	switch (k->curve) {
	case BR_EC_secp256r1:
		return p256_verify(k, hash, hash_len, sig, sig_len);
	case BR_EC_secp384r1:
		return p384_verify(k, hash, hash_len, sig, sig_len);
	case BR_EC_secp521r1:
		return p521_verify(k, hash, hash_len, sig, sig_len);
	default:
		return 0;
	}
}
