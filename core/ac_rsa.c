/*
 * The RSA public operation, s^e mod n, for signature verification
 * (RFC 8017 RSAVP1). Declared in ac_internal.h.
 *
 * Why not BearSSL's: its modpow runs in constant time over every bit of
 * the exponent buffer, with a multiplication per bit whether the bit is set
 * or not, and redoes the key setup (n0', R^2 mod n) on each call: about
 * 225 us for RSA-2048. In a signature check nothing is secret (the key, the
 * signature and the message are all public), so this code branches freely
 * on values and on the exponent's bits and walks only the bits e has:
 * e = 65537 is 16 squarings and one multiplication. For the same reason it
 * MUST NOT be used where any input is secret (private keys, decryption).
 *
 * Arithmetic: Montgomery multiplication (P. Montgomery, "Modular
 * multiplication without trial division", 1985) column by column, the
 * product and the reduction interleaved (the "finely integrated product
 * scanning" order of Koc, Acar and Kaliski, "Analyzing and comparing
 * Montgomery multiplication algorithms", 1996), with a squaring that forms
 * each cross product once. Column sums stay in registers, and the
 * compilers' carry idioms replace assembly. Limbs are ac_limb
 * (ac_internal.h): 64-bit with a 128-bit product, 64-bit with the product
 * made of four 32-bit ones (wasm, or -DAC_RSA_LANES natively), or 32-bit
 * with a 64-bit product; only the column sum (col below) differs. n0' =
 * -n^-1 mod 2^w and R^2 mod n are made once, by ac_rsa_pub_init, when the
 * key is loaded.
 *
 * Every value handed between functions is fully reduced (< n), so results
 * are the unique s^e mod n, identical to BearSSL's br_rsa_i31_public
 * (tests/unit/test_rsa.c checks this on random inputs).
 */
#include "ac_internal.h"

/* In wasm, the products of a column (dot below) are made two at a time
 * with wasm SIMD (i64x2.extmul of 32-bit lanes), which every runtime the
 * hosts run on has (V8 in Envoy, Node, Deno and workerd; wasmtime, WAMR):
 * only this file's functions are compiled for it, the rest of the module
 * is not. -DAC_RSA_NO_SIMD keeps the scalar lanes. */
#if defined(__wasm__) && AC_LIMB_BITS == 64 && !defined(AC_RSA_NO_SIMD)
#define AC_RSA_SIMD_PATH 1
#pragma clang attribute push(__attribute__((target("simd128"))), \
    apply_to = function)
#include <wasm_simd128.h>
#endif

#if AC_LIMB_BITS == 64 && (defined(__wasm__) || defined(AC_RSA_LANES))
#define AC_RSA_LANES_PATH 1 /* no 128-bit type: see col below */
#elif AC_LIMB_BITS == 64
__extension__ typedef unsigned __int128 ac_dlimb;
#else
typedef uint64_t ac_dlimb;
#endif
#define W AC_LIMB_BITS

#if defined(__GNUC__)
#define AC_INLINE static inline __attribute__((always_inline))
#else
#define AC_INLINE static inline
#endif

/*
 * A column's running sum, and its operations: MAC adds one product,
 * col_low is the column's low limb, col_next moves the sum on to the next
 * column (2^w higher, dropping the low limb), col_add2 adds twice another
 * sum. Counts cannot overflow: a column has at most 2 * AC_RSA_MAX_LIMBS
 * + 1 products.
 */
#if defined(AC_RSA_LANES_PATH)
/* 64-bit limbs without a 128-bit type (wasm32, where it would be a
 * compiler-rt call): l0 + l1 2^32 + l2 2^64 + l3 2^96. Each 64x64 product
 * is four 32x32->64 ones, each split in halves over two lanes, so no
 * addition can carry: a lane takes at most three 32-bit halves per
 * product, below 2^44 over a whole column. In Node this took about 0.7
 * of the time of 32-bit limbs, whose every product needs a carry check
 * (and with dot() in SIMD, below, about 0.4). */
typedef struct {
	uint64_t l0, l1, l2, l3;
} col;

#define MAC(c, x, y)                                                \
	do {                                                        \
		uint64_t x0_ = (uint32_t)(x), x1_ = (uint64_t)(x) >> 32; \
		uint64_t y0_ = (uint32_t)(y), y1_ = (uint64_t)(y) >> 32; \
		uint64_t p00_ = x0_ * y0_, p01_ = x0_ * y1_;       \
		uint64_t p10_ = x1_ * y0_, p11_ = x1_ * y1_;       \
		(c).l0 += (uint32_t)p00_;                           \
		(c).l1 += (p00_ >> 32) + (uint32_t)p01_ +           \
		    (uint32_t)p10_;                                 \
		(c).l2 += (p01_ >> 32) + (p10_ >> 32) +             \
		    (uint32_t)p11_;                                 \
		(c).l3 += p11_ >> 32;                               \
	} while (0)

#define col_low(c) ((ac_limb)((c).l0 + ((c).l1 << 32)))

AC_INLINE col col_next(col c)
{
	col r;
	uint64_t c1 = c.l1 + (c.l0 >> 32);   /* from 2^32 up, exact */
	uint64_t c2 = c.l2 + (c1 >> 32);     /* from 2^64 up */

	r.l0 = (uint32_t)c2;
	r.l1 = c.l3 + (c2 >> 32);
	r.l2 = 0;
	r.l3 = 0;
	return r;
}

AC_INLINE col col_add2(col c, col x)
{
	c.l0 += x.l0 << 1;
	c.l1 += x.l1 << 1;
	c.l2 += x.l2 << 1;
	c.l3 += x.l3 << 1;
	return c;
}
#elif AC_LIMB_BITS == 64
/* (lo + lo_c 2^w) + (hi + hi_c 2^w) 2^w: low halves of products go to lo,
 * high halves to hi, and each carry out is counted in lo_c or hi_c. The two
 * chains are independent, and carries come from comparisons, a form GCC
 * and Clang both compile to add/adc. */
typedef struct {
	ac_limb lo, lo_c, hi, hi_c;
} col;

#define MAC(c, x, y)                                                \
	do {                                                        \
		ac_dlimb p_ = (ac_dlimb)(x) * (y);                  \
		ac_limb l_ = (ac_limb)p_, h_ = (ac_limb)(p_ >> W);  \
		(c).lo += l_;                                       \
		(c).lo_c += (ac_limb)((c).lo < l_);                 \
		(c).hi += h_;                                       \
		(c).hi_c += (ac_limb)((c).hi < h_);                 \
	} while (0)

#define col_low(c) ((c).lo)

AC_INLINE col col_next(col c)
{
	col r;

	r.lo = c.lo_c + c.hi;
	r.lo_c = c.hi_c + (ac_limb)(r.lo < c.hi);
	r.hi = 0;
	r.hi_c = 0;
	return r;
}

AC_INLINE col col_add2(col c, col x)
{
	/* x as three limbs, doubled (a column's sum is below 2^(2w+7)) */
	ac_limb x0 = x.lo, x1 = x.lo_c + x.hi;
	ac_limb x2 = x.hi_c + (ac_limb)(x1 < x.hi);

	x2 = (ac_limb)(x2 << 1) | x1 >> (W - 1);
	x1 = (ac_limb)(x1 << 1) | x0 >> (W - 1);
	x0 = (ac_limb)(x0 << 1);
	c.lo += x0;
	c.lo_c += (ac_limb)(c.lo < x0);
	c.hi += x1;
	c.hi_c += (ac_limb)(c.hi < x1) + x2;
	return c;
}
#else
/* sum + ov 2^(2w): whole products are added to sum, each carry out of it
 * counted in ov. */
typedef struct {
	ac_dlimb sum;
	ac_limb ov;
} col;

#define MAC(c, x, y)                                                \
	do {                                                        \
		ac_dlimb p_ = (ac_dlimb)(x) * (y);                  \
		(c).sum += p_;                                      \
		(c).ov += (ac_limb)((c).sum < p_);                  \
	} while (0)

#define col_low(c) ((ac_limb)(c).sum)

AC_INLINE col col_next(col c)
{
	col r;

	r.sum = (c.sum >> W) + ((ac_dlimb)c.ov << W);
	r.ov = 0;
	return r;
}

AC_INLINE col col_add2(col c, col x)
{
	ac_dlimb d = x.sum << 1;

	c.sum += d;
	c.ov += (ac_limb)(c.sum < d) + (ac_limb)(x.ov << 1) +
	    (ac_limb)(x.sum >> (2 * W - 1));
	return c;
}
#endif

static const col col_zero;

#if defined(AC_RSA_SIMD_PATH)
/* dot() below with the column's lanes in three SIMD registers, L = (l0,
 * l1 part), M = (l1 part, l2 part), H = (l2 part, l3): each 64x64 product
 * is two i64x2.extmul of (x0, x1) by (y0, y0) and by (y1, y1), whose four
 * 64-bit products go by halves to the lanes of their weights, as MAC does.
 * In Node, about 0.6 of the time of the scalar lanes. */
AC_INLINE void dot(col *c, const ac_limb *x, const ac_limb *y, size_t cnt)
{
	v128_t L = wasm_i64x2_make((int64_t)c->l0, (int64_t)c->l1);
	v128_t M = wasm_i64x2_make(0, (int64_t)c->l2);
	v128_t H = wasm_i64x2_make(0, (int64_t)c->l3);
	const v128_t low = wasm_i64x2_splat(0xffffffff);
	size_t j;

	for (j = 0; j < cnt; j++) {
		v128_t X = wasm_i64x2_splat((int64_t)x[j]);
		v128_t Y = wasm_i64x2_splat((int64_t)y[cnt - 1 - j]);
		v128_t Yd = wasm_i32x4_shuffle(Y, Y, 0, 0, 1, 1);
		v128_t P0 = wasm_u64x2_extmul_low_u32x4(X, Yd);  /* x y0 */
		v128_t P1 = wasm_u64x2_extmul_high_u32x4(X, Yd); /* x y1 */

		L = wasm_i64x2_add(L, wasm_v128_and(P0, low));
		M = wasm_i64x2_add(M, wasm_u64x2_shr(P0, 32));
		M = wasm_i64x2_add(M, wasm_v128_and(P1, low));
		H = wasm_i64x2_add(H, wasm_u64x2_shr(P1, 32));
	}
	c->l0 = (uint64_t)wasm_i64x2_extract_lane(L, 0);
	c->l1 = (uint64_t)wasm_i64x2_extract_lane(L, 1) +
	    (uint64_t)wasm_i64x2_extract_lane(M, 0);
	c->l2 = (uint64_t)wasm_i64x2_extract_lane(M, 1) +
	    (uint64_t)wasm_i64x2_extract_lane(H, 0);
	c->l3 = (uint64_t)wasm_i64x2_extract_lane(H, 1);
}
#else
/* c += the sum of x[j] y[cnt-1-j] for j < cnt: products of one column, x
 * walking up, y down. Unrolled by four; inlined so that the sum stays in
 * registers (a call per column costs more than the column's products). */
AC_INLINE void dot(col *c, const ac_limb *x, const ac_limb *y, size_t cnt)
{
	col r = *c;
	size_t j = 0;

	for (; j + 4 <= cnt; j += 4) {
		MAC(r, x[j], y[cnt - 1 - j]);
		MAC(r, x[j + 1], y[cnt - 2 - j]);
		MAC(r, x[j + 2], y[cnt - 3 - j]);
		MAC(r, x[j + 3], y[cnt - 4 - j]);
	}
	for (; j < cnt; j++)
		MAC(r, x[j], y[cnt - 1 - j]);
	*c = r;
}
#endif

/* 1 if a >= b, both len limbs. */
static int geq(const ac_limb *a, const ac_limb *b, size_t len)
{
	size_t i = len;

	while (i-- > 0)
		if (a[i] != b[i])
			return a[i] > b[i];
	return 1;
}

/* a -= b over len limbs; the borrow out is dropped (callers subtract only
 * where the true value is >= b, or where it cancels a carry). */
static void sub(ac_limb *a, const ac_limb *b, size_t len)
{
	ac_limb borrow = 0;
	size_t i;

	for (i = 0; i < len; i++) {
		ac_limb d = a[i] - b[i] - borrow;
		borrow = (ac_limb)(a[i] < b[i] || (a[i] == b[i] && borrow));
		a[i] = d;
	}
}

/*
 * Montgomery multiplication and squaring by columns ("product scanning",
 * the FIPS order of Koc, Acar and Kaliski): column i of a b + m n,
 * m = sum of m[j] 2^(wj), holds every a[j] b[i-j] and m[j] n[i-j]. For
 * i < s, m[i] is chosen to clear the column's low limb (m[i] = that limb
 * times n0' mod 2^w); for i >= s the low limb is limb i - s of
 * (a b + m n) / R. That value is < 2n for a, b < n, so one conditional
 * subtraction of n leaves it reduced; a carry out of the top limb means it
 * is >= R > n, and the subtraction's borrow cancels it.
 *
 * out may alias a or b: out[i - s] is written after the last column that
 * reads index i - s.
 */
static void mont_mul(ac_limb *out, const ac_limb *a, const ac_limb *b,
    const ac_rsa_pub *k)
{
	const ac_limb *n = k->nw;
	ac_limb m[AC_RSA_MAX_LIMBS];
	col c = col_zero;
	size_t s = k->limbs, i, j0;

	for (i = 0; i < s; i++) {
		dot(&c, a, b, i + 1);
		dot(&c, m, n + 1, i);
		m[i] = col_low(c) * k->n0inv;
		MAC(c, m[i], n[0]);
		c = col_next(c);
	}
	for (i = s; i < 2 * s - 1; i++) {
		j0 = i - s + 1;
		dot(&c, a + j0, b + j0, s - j0);
		dot(&c, m + j0, n + j0, s - j0);
		out[i - s] = col_low(c);
		c = col_next(c);
	}
	out[s - 1] = col_low(c);
	c = col_next(c);
	if (col_low(c) || geq(out, n, s))
		sub(out, n, s);
}

/* out = a^2 R^-1 mod n, as mont_mul(out, a, a, k) but forming each cross
 * product a[j] a[i-j] (j < i - j) once and doubling the column's sum of
 * them: about 3/4 of mont_mul's multiplications. */
static void mont_sqr(ac_limb *out, const ac_limb *a, const ac_rsa_pub *k)
{
	const ac_limb *n = k->nw;
	ac_limb m[AC_RSA_MAX_LIMBS];
	col c = col_zero, x;
	size_t s = k->limbs, i, j0, cnt;

	for (i = 0; i < 2 * s - 1; i++) {
		/* cross products: j from j0 while j < i - j */
		j0 = i < s ? 0 : i - s + 1;
		cnt = (i + 1) / 2 - j0;
		x = col_zero;
		dot(&x, a + j0, a + (i + 1 - j0 - cnt), cnt);
		c = col_add2(c, x);
		if (!(i & 1))
			MAC(c, a[i / 2], a[i / 2]);
		if (i < s) {
			dot(&c, m, n + 1, i);
			m[i] = col_low(c) * k->n0inv;
			MAC(c, m[i], n[0]);
		} else {
			dot(&c, m + j0, n + j0, s - j0); /* j0 = i - s + 1 */
			out[i - s] = col_low(c);
		}
		c = col_next(c);
	}
	out[s - 1] = col_low(c);
	c = col_next(c);
	if (col_low(c) || geq(out, n, s))
		sub(out, n, s);
}

/* Big-endian bytes x[0..len) into s limbs, least significant first. */
static void decode(ac_limb *w, size_t s, const uint8_t *x, size_t len)
{
	size_t i, bit;

	memset(w, 0, s * sizeof *w);
	for (i = 0; i < len; i++) {
		bit = 8 * (len - 1 - i);
		w[bit / W] |= (ac_limb)x[i] << (bit % W);
	}
}

static void encode(uint8_t *x, size_t len, const ac_limb *w)
{
	size_t i, bit;

	for (i = 0; i < len; i++) {
		bit = 8 * (len - 1 - i);
		x[i] = (uint8_t)(w[bit / W] >> (bit % W));
	}
}

/* x = 2x mod n, for x < n (s limbs). */
static void double_mod(ac_limb *x, const ac_rsa_pub *k)
{
	size_t s = k->limbs, i;
	ac_limb top = x[s - 1] >> (W - 1);

	for (i = s - 1; i > 0; i--)
		x[i] = (ac_limb)(x[i] << 1) | (x[i - 1] >> (W - 1));
	x[0] = (ac_limb)(x[0] << 1);
	if (top || geq(x, k->nw, s))
		sub(x, k->nw, s);
}

int ac_rsa_pub_init(ac_rsa_pub *k)
{
	ac_limb x[AC_RSA_MAX_LIMBS], inv;
	size_t s, i, nbits, rbits, odd, squarings;
	uint32_t e = 0;

	if (k->n_len == 0 || k->n_len > AC_RSA_MAX_BYTES || k->n[0] == 0 ||
	    !(k->n[k->n_len - 1] & 1) || (k->n_len == 1 && k->n[0] == 1) ||
	    k->e_len == 0 || k->e_len > 4)
		return -1;
	for (i = 0; i < k->e_len; i++)
		e = e << 8 | k->e[i];
	if (e < 3 || !(e & 1))
		return -1;
	k->e_val = e;
	s = (8 * (size_t)k->n_len + W - 1) / W;
	k->limbs = (uint32_t)s;
	decode(k->nw, AC_RSA_MAX_LIMBS, k->n, k->n_len);

	/* n^-1 mod 2^w by Newton's iteration: an odd n is its own inverse mod
	 * 8, and each step doubles the correct low bits (3, 6, ..., 96) */
	inv = k->nw[0];
	for (i = 0; i < 5; i++)
		inv *= (ac_limb)(2 - k->nw[0] * inv);
	k->n0inv = (ac_limb)(0 - inv);

	/* R^2 mod n. Write the bits of R, w s, as odd 2^squarings. Doubling
	 * 2^(nbits-1) < n up to 2^(odd + w s) mod n gives the Montgomery form
	 * of 2^odd; squaring it `squarings` times gives the Montgomery form of
	 * 2^(w s) = R, which is R^2 mod n. At most w + s doublings and 12
	 * squarings (w s <= 4096). */
	nbits = 8 * (size_t)k->n_len;
	for (i = 0x80; !(k->n[0] & i); i >>= 1)
		nbits--;
	rbits = W * s;
	for (odd = rbits, squarings = 0; !(odd & 1); odd >>= 1)
		squarings++;
	memset(x, 0, sizeof x);
	x[(nbits - 1) / W] = (ac_limb)1 << ((nbits - 1) % W);
	for (i = nbits - 1; i < rbits + odd; i++)
		double_mod(x, k);
	for (i = 0; i < squarings; i++)
		mont_sqr(x, x, k);
	memcpy(k->rr, x, sizeof k->rr);
	return 0;
}

int ac_rsa_public(const ac_rsa_pub *k, uint8_t *x, size_t len)
{
	ac_limb b[AC_RSA_MAX_LIMBS], bm[AC_RSA_MAX_LIMBS], acc[AC_RSA_MAX_LIMBS];
	size_t s = k->limbs;
	int bit;

	/* equal lengths: big-endian byte order is numeric order */
	if (len != k->n_len || memcmp(x, k->n, len) >= 0)
		return 0;
	decode(b, s, x, len);
	mont_mul(bm, b, k->rr, k); /* b R mod n */
	memcpy(acc, bm, s * sizeof *acc);
	/* left to right from below e's top bit; the last bit (e is odd) is a
	 * multiplication by b itself, not b R, which leaves Montgomery form:
	 * (b^(e-1) R) b R^-1 = b^e */
	for (bit = 30; !(k->e_val >> (bit + 1)); bit--)
		;
	for (; bit >= 1; bit--) {
		mont_sqr(acc, acc, k);
		if (k->e_val >> bit & 1)
			mont_mul(acc, acc, bm, k);
	}
	mont_sqr(acc, acc, k);
	mont_mul(acc, acc, b, k);
	encode(x, len, acc);
	return 1;
}

#if defined(AC_RSA_SIMD_PATH)
#pragma clang attribute pop
#endif
