/*
 * SHA-256 with the CPU's SHA extensions (x86-64 SHA-NI, ARMv8 SHA2), as a
 * BearSSL hash class so BearSSL's HMAC (and everything built on it) runs on
 * it unchanged. BearSSL has no such code path; its portable SHA-256 remains
 * the fallback, chosen whenever the CPU (asked when a key is made: CPUID on
 * x86-64, the ID_AA64ISAR0_EL1 register on aarch64) or the target (wasm,
 * other architectures) lacks the instructions.
 *
 * The compression function follows FIPS 180-4 with each instruction set's
 * own data layout. x86-64: the state is kept as the ABEF and CDGH halves
 * that sha256rnds2 works on, and the message schedule is extended four
 * words at a time with sha256msg1/sha256msg2. aarch64: the state is kept as
 * ABCD and EFGH, the order SHA256H/SHA256H2 take (four rounds each), and
 * SHA256SU0/SHA256SU1 extend the schedule four words at a time. Everything
 * else (buffering, padding, the BearSSL state export HMAC relies on) is
 * shared.
 */
#include <bearssl.h>

#include "ac_internal.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
#include <immintrin.h>
#define AC_HAVE_SHANI 1
#endif

/*
 * aarch64 (little-endian). Two ways in:
 * - the build's baseline already has the instructions (-march=...+crypto,
 *   or a target such as Apple's whose baseline has them: the compiler
 *   defines __ARM_FEATURE_SHA2): used always, no attribute, no question;
 * - otherwise, on Linux with GCC, only the compression function is compiled
 *   for "+crypto" (GCC's <arm_neon.h> declares the SHA-256 intrinsics under
 *   that extension; "+sha2" alone does not satisfy it) and the rest of the
 *   file stays baseline armv8-a; whether to call it is asked at run time
 *   (cpu_has_armsha2 below). Clang's <arm_neon.h> (14, Debian 12's)
 *   declares the intrinsics only when the whole build targets them, and
 *   other systems may not let a program read the ID registers, so those
 *   builds keep BearSSL's code.
 */
#if defined(__aarch64__) && defined(__AARCH64EL__) && \
    (defined(__GNUC__) || defined(__clang__))
#if defined(__ARM_FEATURE_SHA2) || defined(__ARM_FEATURE_CRYPTO)
#include <arm_neon.h>
#define AC_HAVE_ARMSHA2 1
#define AC_ARMSHA2_BASELINE 1
#define AC_ARMSHA2_TARGET
#elif defined(__linux__) && !defined(__clang__) && __GNUC__ >= 6
#include <arm_neon.h>
#define AC_HAVE_ARMSHA2 1
#define AC_ARMSHA2_TARGET __attribute__((target("+crypto")))
#endif
#endif

#if defined(AC_HAVE_SHANI) || defined(AC_HAVE_ARMSHA2)
#define AC_HAVE_HWSHA 1
#endif

#ifdef AC_HAVE_HWSHA

typedef struct {
	const br_hash_class *vtable;
	unsigned char buf[64];
	uint64_t count;
	uint32_t val[8];
} hw_ctx;

static const uint32_t K[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1,
	0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3,
	0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
	0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
	0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147,
	0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
	0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
	0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
	0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
	0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
	0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};
#endif

#ifdef AC_HAVE_SHANI
__attribute__((target("sha,sse4.1,ssse3")))
static void compress(uint32_t val[8], const unsigned char *p, size_t blocks)
{
	/* byte order of each 32-bit word within the 128-bit lanes */
	const __m128i bswap = _mm_set_epi64x(0x0c0d0e0f08090a0bLL,
	    0x0405060700010203LL);
	__m128i dcba = _mm_loadu_si128((const __m128i *)(const void *)&val[0]);
	__m128i hgfe = _mm_loadu_si128((const __m128i *)(const void *)&val[4]);
	__m128i cdab = _mm_shuffle_epi32(dcba, 0xb1);
	__m128i efgh = _mm_shuffle_epi32(hgfe, 0x1b);
	__m128i abef = _mm_alignr_epi8(cdab, efgh, 8);
	__m128i cdgh = _mm_blend_epi16(efgh, cdab, 0xf0);

	while (blocks-- > 0) {
		__m128i w[16], save0 = abef, save1 = cdgh, m;
		int i;
		for (i = 0; i < 16; i++) {
			if (i < 4) {
				w[i] = _mm_shuffle_epi8(_mm_loadu_si128(
				    (const __m128i *)(const void *)(p + 16 * i)),
				    bswap);
			} else {
				/* w[t] = s1(w[t-2]) + w[t-7] + s0(w[t-15]) + w[t-16] */
				__m128i x = _mm_sha256msg1_epu32(w[i - 4], w[i - 3]);
				x = _mm_add_epi32(x,
				    _mm_alignr_epi8(w[i - 1], w[i - 2], 4));
				w[i] = _mm_sha256msg2_epu32(x, w[i - 1]);
			}
			m = _mm_add_epi32(w[i], _mm_loadu_si128(
			    (const __m128i *)(const void *)&K[4 * i]));
			cdgh = _mm_sha256rnds2_epu32(cdgh, abef, m);
			m = _mm_shuffle_epi32(m, 0x0e);
			abef = _mm_sha256rnds2_epu32(abef, cdgh, m);
		}
		abef = _mm_add_epi32(abef, save0);
		cdgh = _mm_add_epi32(cdgh, save1);
		p += 64;
	}
	{
		__m128i feba = _mm_shuffle_epi32(abef, 0x1b);
		__m128i dchg = _mm_shuffle_epi32(cdgh, 0xb1);
		dcba = _mm_blend_epi16(feba, dchg, 0xf0);
		hgfe = _mm_alignr_epi8(dchg, feba, 8);
		_mm_storeu_si128((__m128i *)(void *)&val[0], dcba);
		_mm_storeu_si128((__m128i *)(void *)&val[4], hgfe);
	}
}
#endif

#ifdef AC_HAVE_ARMSHA2
/* Four rounds: SHA256H makes the new ABCD from the old ABCD and EFGH,
 * SHA256H2 the new EFGH from the old EFGH and the old ABCD. */
AC_ARMSHA2_TARGET
static inline void rounds4(uint32x4_t *abcd, uint32x4_t *efgh, uint32x4_t w,
    const uint32_t *k)
{
	uint32x4_t wk = vaddq_u32(w, vld1q_u32(k));
	uint32x4_t abcd0 = *abcd;
	*abcd = vsha256hq_u32(abcd0, *efgh, wk);
	*efgh = vsha256h2q_u32(*efgh, abcd0, wk);
}

/* Schedule words t..t+3 from the sixteen before them (w0 holds t-16..t-13,
 * w3 t-4..t-1): SHA256SU0 adds s0(w[t-15]) to w[t-16], SHA256SU1 adds
 * w[t-7] and s1(w[t-2]) (for t+2 and t+3 those are words it makes itself). */
AC_ARMSHA2_TARGET
static inline uint32x4_t sched4(uint32x4_t w0, uint32x4_t w1, uint32x4_t w2,
    uint32x4_t w3)
{
	return vsha256su1q_u32(vsha256su0q_u32(w0, w1), w2, w3);
}

AC_ARMSHA2_TARGET
static void compress(uint32_t val[8], const unsigned char *p, size_t blocks)
{
	uint32x4_t abcd = vld1q_u32(&val[0]);
	uint32x4_t efgh = vld1q_u32(&val[4]);

	while (blocks-- > 0) {
		/* message words are big-endian: reverse each word's bytes */
		uint32x4_t w0 = vreinterpretq_u32_u8(vrev32q_u8(vld1q_u8(p)));
		uint32x4_t w1 = vreinterpretq_u32_u8(vrev32q_u8(vld1q_u8(p + 16)));
		uint32x4_t w2 = vreinterpretq_u32_u8(vrev32q_u8(vld1q_u8(p + 32)));
		uint32x4_t w3 = vreinterpretq_u32_u8(vrev32q_u8(vld1q_u8(p + 48)));
		uint32x4_t save0 = abcd, save1 = efgh;
		int i;

		for (i = 0; i < 64; i += 16) {
			if (i > 0) {
				w0 = sched4(w0, w1, w2, w3);
				w1 = sched4(w1, w2, w3, w0);
				w2 = sched4(w2, w3, w0, w1);
				w3 = sched4(w3, w0, w1, w2);
			}
			rounds4(&abcd, &efgh, w0, &K[i]);
			rounds4(&abcd, &efgh, w1, &K[i + 4]);
			rounds4(&abcd, &efgh, w2, &K[i + 8]);
			rounds4(&abcd, &efgh, w3, &K[i + 12]);
		}
		abcd = vaddq_u32(abcd, save0);
		efgh = vaddq_u32(efgh, save1);
		p += 64;
	}
	vst1q_u32(&val[0], abcd);
	vst1q_u32(&val[4], efgh);
}
#endif

#ifdef AC_HAVE_HWSHA
static const uint32_t IV[8] = { 0x6a09e667, 0xbb67ae85, 0x3c6ef372,
	0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19 };

static void hw_init(const br_hash_class **vt);

static void hw_update(const br_hash_class **vt, const void *data, size_t len)
{
	hw_ctx *c = (hw_ctx *)(void *)vt;
	const unsigned char *d = data;
	size_t have = (size_t)(c->count & 63);

	c->count += len;
	if (have) {
		size_t take = 64 - have < len ? 64 - have : len;
		memcpy(c->buf + have, d, take);
		d += take;
		len -= take;
		if (have + take < 64)
			return;
		compress(c->val, c->buf, 1);
	}
	if (len >= 64) {
		compress(c->val, d, len / 64);
		d += len & ~(size_t)63;
		len &= 63;
	}
	if (len)
		memcpy(c->buf, d, len);
}

static void enc32be(unsigned char *p, uint32_t x)
{
	p[0] = (unsigned char)(x >> 24);
	p[1] = (unsigned char)(x >> 16);
	p[2] = (unsigned char)(x >> 8);
	p[3] = (unsigned char)x;
}

static uint32_t dec32be(const unsigned char *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
	    ((uint32_t)p[2] << 8) | p[3];
}

static void hw_out(const br_hash_class *const *vt, void *dst)
{
	const hw_ctx *c = (const hw_ctx *)(const void *)vt;
	unsigned char buf[128];
	uint32_t val[8];
	size_t have = (size_t)(c->count & 63), n, i;
	uint64_t bits = c->count << 3;

	memcpy(buf, c->buf, have);
	buf[have] = 0x80;
	n = have < 56 ? 64 : 128;
	memset(buf + have + 1, 0, n - have - 1 - 8);
	for (i = 0; i < 8; i++)
		buf[n - 1 - i] = (unsigned char)(bits >> (8 * i));
	memcpy(val, c->val, sizeof val);
	compress(val, buf, n / 64);
	for (i = 0; i < 8; i++)
		enc32be((unsigned char *)dst + 4 * i, val[i]);
}

static uint64_t hw_state(const br_hash_class *const *vt, void *dst)
{
	const hw_ctx *c = (const hw_ctx *)(const void *)vt;
	size_t i;
	for (i = 0; i < 8; i++)
		enc32be((unsigned char *)dst + 4 * i, c->val[i]);
	return c->count;
}

static void hw_set_state(const br_hash_class **vt, const void *stb,
    uint64_t count)
{
	hw_ctx *c = (hw_ctx *)(void *)vt;
	size_t i;
	for (i = 0; i < 8; i++)
		c->val[i] = dec32be((const unsigned char *)stb + 4 * i);
	c->count = count;
}

static const br_hash_class hw_vtable = {
	sizeof(hw_ctx),
	BR_HASHDESC_ID(br_sha256_ID) | BR_HASHDESC_OUT(32) |
	    BR_HASHDESC_STATE(32) | BR_HASHDESC_LBLEN(6) |
	    BR_HASHDESC_MD_PADDING | BR_HASHDESC_MD_PADDING_BE,
	hw_init, hw_update, hw_out, hw_state, hw_set_state,
};

static void hw_init(const br_hash_class **vt)
{
	hw_ctx *c = (hw_ctx *)(void *)vt;
	c->vtable = &hw_vtable;
	memcpy(c->val, IV, sizeof IV);
	c->count = 0;
}

_Static_assert(sizeof(hw_ctx) <= sizeof(br_hash_compat_context),
    "the SHA-extension context must fit where BearSSL places hash contexts");
#endif

#ifdef AC_HAVE_SHANI
static int cpu_has_shani(void)
{
	unsigned a, b, c, d;
	/* leaf 7 EBX bit 29: SHA; leaf 1 ECX bits 9, 19: SSSE3, SSE4.1 */
	if (__get_cpuid_max(0, NULL) < 7)
		return 0;
	__cpuid(1, a, b, c, d);
	if (!(c & (1u << 9)) || !(c & (1u << 19)))
		return 0;
	__cpuid_count(7, 0, a, b, c, d);
	return (b >> 29) & 1;
}
#endif

#ifdef AC_HAVE_ARMSHA2
/*
 * ID_AA64ISAR0_EL1 bits [15:12], SHA2: 0 none, 1 SHA-256, 2 SHA-256 and
 * SHA-512. The register belongs to EL1, but Linux (since 4.11, the kernel
 * advertising it as HWCAP_CPUID) traps a program's mrs of the ID registers
 * and answers with the value every CPU of the machine shares: one
 * instruction, no library call, no I/O and no state (the trap costs about
 * what CPUID does under a hypervisor, so callers ask once per key, as on
 * x86-64). qemu-user answers the same way. A kernel older than 4.11 would
 * end the program with SIGILL here.
 */
static int cpu_has_armsha2(void)
{
#ifdef AC_ARMSHA2_BASELINE
	return 1;
#else
	uint64_t isar0;
	__asm__("mrs %0, ID_AA64ISAR0_EL1" : "=r"(isar0));
	return ((isar0 >> 12) & 0xf) != 0;
#endif
}
#endif

const void *ac_sha256_class(int portable)
{
#if defined(AC_HAVE_SHANI)
	if (!portable && cpu_has_shani())
		return &hw_vtable;
#elif defined(AC_HAVE_ARMSHA2)
	if (!portable && cpu_has_armsha2())
		return &hw_vtable;
#else
	(void)portable;
#endif
	return &br_sha256_vtable;
}
