/*
 * The SHA-256 class ac_sha256_class(0) picks on aarch64 (ARMv8 SHA2
 * instructions when the CPU has them) against BearSSL's portable
 * br_sha256_vtable, built by tests/unit/arm64.mk and run under qemu-aarch64
 * by tests/suites/27-arm64.sh:
 *   - the choice: the ARMv8 class exactly when the kernel (here qemu)
 *     reports SHA2 in AT_HWCAP, BearSSL's otherwise and always for
 *     portable=1;
 *   - byte for byte equal digests on thousands of random messages of every
 *     length 0..300, in one update and in random split updates, on longer
 *     messages in random chunks, and through the state/set_state export
 *     BearSSL's HMAC keys rely on;
 *   - FIPS 180 digests, RFC 4231 HMAC-SHA256 (BearSSL's HMAC on the class),
 *     RFC 7914 section 11 PBKDF2-HMAC-SHA256 through ac_pbkdf2;
 *   - a 600,000-iteration PBKDF2 on each class: equal keys, and a "# " line
 *     with the (emulated, informational) time of each.
 * Also builds and runs natively (the choice is then only reported).
 *   test_sha256_arm            every check
 *   test_sha256_arm --quick    without the 600,000-iteration timing runs
 *   test_sha256_arm --probe    prints "sha2 1" or "sha2 0" (what AT_HWCAP
 *                              says) and exits: the suite's CPU-model scan
 */
#define _POSIX_C_SOURCE 200809L
#include <bearssl.h>
#include <time.h>

#include "check.h"
#include "ac_internal.h"
#include "authcore_password.h"

#if defined(__aarch64__) && defined(__linux__)
#include <sys/auxv.h>
#ifndef HWCAP_SHA2
#define HWCAP_SHA2 (1 << 6)
#endif
#define ARM_LINUX 1
#endif

/* what the kernel says: -1 unknown (not aarch64 Linux), else 0 or 1 */
static int hwcap_sha2(void)
{
#ifdef ARM_LINUX
	return (getauxval(AT_HWCAP) & HWCAP_SHA2) != 0;
#else
	return -1;
#endif
}

static uint64_t rng = 0x9e3779b97f4a7c15u;
static uint32_t rnd(void)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return (uint32_t)((rng * 0x2545f4914f6cdd1du) >> 32);
}
static void fill(unsigned char *p, size_t n)
{
	while (n-- > 0)
		*p++ = (unsigned char)rnd();
}

static void digest(const br_hash_class *c, const void *m, size_t n,
    unsigned char *out)
{
	br_hash_compat_context ctx;
	c->init(&ctx.vtable);
	c->update(&ctx.vtable, m, n);
	c->out(&ctx.vtable, out);
}

static const br_hash_class *fast, *port;

static void test_choice(void)
{
	int hw = hwcap_sha2();

	begin("class choice follows the CPU's SHA2 feature");
#ifdef ARM_LINUX
	{
		/* the core reads the ID register; the kernel's HWCAP must agree */
		uint64_t isar0;
		__asm__ volatile("mrs %0, ID_AA64ISAR0_EL1" : "=r"(isar0));
		CHECK((((isar0 >> 12) & 0xf) != 0) == (hw == 1));
		printf("# ID_AA64ISAR0_EL1.SHA2 = %u, AT_HWCAP SHA2 = %d: "
		    "ac_sha256_class(0) is %s\n",
		    (unsigned)((isar0 >> 12) & 0xf), hw, fast == port ?
		    "BearSSL's br_sha256_vtable" : "the ARMv8 SHA2 class");
	}
#else
	printf("# not aarch64 Linux: ac_sha256_class(0) is %s\n", fast == port ?
	    "BearSSL's br_sha256_vtable" : "the SHA-extension class");
#endif
	CHECK(port == &br_sha256_vtable);
	if (hw == 1) {
		CHECK(fast != &br_sha256_vtable);
		CHECK(fast->desc == br_sha256_vtable.desc);
		CHECK(fast->context_size <= sizeof(br_hash_compat_context));
	} else if (hw == 0) {
		CHECK(fast == &br_sha256_vtable);
	}
	end();
}

static void test_random_lengths(void)
{
	static unsigned char m[300];
	unsigned char a[32], b[32];
	size_t len, rep, n = 0;

	begin("random messages of every length 0..300 (10 each), one update");
	for (len = 0; len <= sizeof m; len++) {
		for (rep = 0; rep < 10; rep++, n++) {
			fill(m, len);
			digest(fast, m, len, a);
			digest(port, m, len, b);
			CHECK(memcmp(a, b, 32) == 0);
		}
	}
	CHECK(n == 3010);
	end();
}

/* Feeds m[0..len) to ctx in 1..8 random pieces (empty ones included),
 * taking an out() partway through to show out leaves the state alone. */
static void split_update(const br_hash_class *c, br_hash_compat_context *ctx,
    const unsigned char *m, size_t len)
{
	size_t off = 0, pieces = 1 + rnd() % 8;
	unsigned char scratch[32];
	c->init(&ctx->vtable);
	while (pieces-- > 1 && off < len) {
		size_t take = rnd() % (len - off + 1);
		c->update(&ctx->vtable, m + off, take);
		if (rnd() % 4 == 0)
			c->out(&ctx->vtable, scratch);
		off += take;
	}
	c->update(&ctx->vtable, m + off, len - off);
}

static void test_split_updates(void)
{
	static unsigned char m[300];
	br_hash_compat_context ctx;
	unsigned char a[32], b[32];
	size_t len, rep, n = 0;

	begin("random messages of every length 0..300 (10 each), split updates");
	for (len = 0; len <= sizeof m; len++) {
		for (rep = 0; rep < 10; rep++, n++) {
			fill(m, len);
			split_update(fast, &ctx, m, len);
			fast->out(&ctx.vtable, a);
			digest(port, m, len, b);
			CHECK(memcmp(a, b, 32) == 0);
			/* and the other way round: BearSSL split, ours whole */
			split_update(port, &ctx, m, len);
			port->out(&ctx.vtable, b);
			digest(fast, m, len, a);
			CHECK(memcmp(a, b, 32) == 0);
		}
	}
	CHECK(n == 3010);
	end();

	begin("200 longer messages (up to 8 KiB) in random chunks");
	{
		static unsigned char big[8192];
		for (rep = 0; rep < 200; rep++) {
			len = rnd() % (sizeof big + 1);
			fill(big, len);
			split_update(fast, &ctx, big, len);
			fast->out(&ctx.vtable, a);
			digest(port, big, len, b);
			CHECK(memcmp(a, b, 32) == 0);
		}
	}
	end();
}

static void test_state_export(void)
{
	static unsigned char m[64 * 6 + 300];
	br_hash_compat_context x, y;
	unsigned char sx[32], sy[32], a[32], b[32];
	size_t blocks, tail;

	begin("state/set_state move a context both ways (HMAC key contexts)");
	fill(m, sizeof m);
	for (blocks = 0; blocks <= 6; blocks++) {
		for (tail = 0; tail <= 300; tail += 23) {
			uint64_t cx, cy;
			fast->init(&x.vtable);
			fast->update(&x.vtable, m, 64 * blocks);
			port->init(&y.vtable);
			port->update(&y.vtable, m, 64 * blocks);
			cx = fast->state(&x.vtable, sx);
			cy = port->state(&y.vtable, sy);
			CHECK(cx == 64 * blocks && cx == cy &&
			    memcmp(sx, sy, 32) == 0);
			/* ours into BearSSL's and BearSSL's into ours */
			port->init(&y.vtable);
			port->set_state(&y.vtable, sx, cx);
			fast->init(&x.vtable);
			fast->set_state(&x.vtable, sy, cy);
			fast->update(&x.vtable, m + 64 * blocks, tail);
			port->update(&y.vtable, m + 64 * blocks, tail);
			fast->out(&x.vtable, a);
			port->out(&y.vtable, b);
			CHECK(memcmp(a, b, 32) == 0);
			digest(port, m, 64 * blocks + tail, b);
			CHECK(memcmp(a, b, 32) == 0);
		}
	}
	end();
}

static void test_fips180(void)
{
	static unsigned char million[1000000];
	static const char two_block[] =
	    "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
	br_hash_compat_context ctx;
	uint8_t want[32];
	unsigned char got[32];
	size_t i;

	begin("FIPS 180 SHA-256: \"abc\", 448-bit message, a million 'a'");
	from_hex(want, 32,
	    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	digest(fast, "abc", 3, got);
	CHECK(memcmp(got, want, 32) == 0);
	from_hex(want, 32,
	    "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
	digest(fast, two_block, 56, got);
	CHECK(memcmp(got, want, 32) == 0);
	from_hex(want, 32,
	    "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
	memset(million, 'a', sizeof million);
	digest(fast, million, sizeof million, got);
	CHECK(memcmp(got, want, 32) == 0);
	/* the same a million bytes in odd-sized updates */
	fast->init(&ctx.vtable);
	for (i = 0; i < sizeof million; i += 997) {
		size_t n = sizeof million - i < 997 ? sizeof million - i : 997;
		fast->update(&ctx.vtable, million + i, n);
	}
	fast->out(&ctx.vtable, got);
	CHECK(memcmp(got, want, 32) == 0);
	end();
}

static void test_rfc4231(void)
{
	static const struct {
		const char *key, *data, *mac; /* hex; mac may be truncated */
	} v[] = {
		{ "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b", "4869205468657265",
		    "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7" },
		{ "4a656665",
		    "7768617420646f2079612077616e7420666f72206e6f7468696e673f",
		    "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843" },
		{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
		    "dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd",
		    "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe" },
		{ "0102030405060708090a0b0c0d0e0f10111213141516171819",
		    "cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd",
		    "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b" },
		{ "0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c",
		    "546573742057697468205472756e636174696f6e",
		    "a3b6167473100ee06e0c796c2955552b" },
		{ NULL, /* 131 bytes of 0xaa */
		    "54657374205573696e67204c6172676572205468616e20426c6f636b2d53697a65204b6579202d2048617368204b6579204669727374",
		    "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54" },
		{ NULL,
		    "5468697320697320612074657374207573696e672061206c6172676572207468616e20626c6f636b2d73697a65206b657920616e642061206c6172676572207468616e20626c6f636b2d73697a6520646174612e20546865206b6579206e6565647320746f20626520686173686564206265666f7265206265696e6720757365642062792074686520484d414320616c676f726974686d2e",
		    "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2" },
	};
	size_t i;

	begin("RFC 4231 HMAC-SHA256 test cases 1-7 (BearSSL HMAC on the class)");
	for (i = 0; i < sizeof v / sizeof v[0]; i++) {
		uint8_t key[131], data[160], want[32], got[32];
		size_t kl, dl, ml;
		br_hmac_key_context kc;
		br_hmac_context hc;
		if (v[i].key != NULL) {
			kl = from_hex(key, sizeof key, v[i].key);
		} else {
			kl = sizeof key;
			memset(key, 0xaa, kl);
		}
		dl = from_hex(data, sizeof data, v[i].data);
		ml = from_hex(want, sizeof want, v[i].mac);
		CHECK(kl > 0 && dl > 0 && ml >= 16);
		br_hmac_key_init(&kc, fast, key, kl);
		br_hmac_init(&hc, &kc, 0);
		br_hmac_update(&hc, data, dl);
		CHECK(br_hmac_out(&hc, got) == 32);
		CHECK(memcmp(got, want, ml) == 0);
	}
	end();
}

static void test_rfc7914(void)
{
	uint8_t want[64], got[64];
#ifdef AC_TEST_COUNT_HEAP
	size_t h0 = heap_calls;
#endif

	begin("RFC 7914 section 11 PBKDF2-HMAC-SHA256 through ac_pbkdf2");
	from_hex(want, 64, "55ac046e56e3089fec1691c22544b605f94185216dde0465"
	    "e68b9d57c20dacbc49ca9cccf179b645991664b39d77ef317c71b845b1e30bd5"
	    "09112041d3a19783");
	CHECK(ac_pbkdf2(got, AC_PBKDF2_SHA256, "passwd", 6, "salt", 4, 1,
	    64) == 0);
	CHECK(memcmp(got, want, 64) == 0);
	from_hex(want, 64, "4ddcd8f60b98be21830cee5ef22701f9641a4418d04c0414"
	    "aeff08876b34ab56a1d425a1225833549adb841b51c9b3176a272bdebba1d078"
	    "478f62b397f33c8d");
	CHECK(ac_pbkdf2(got, AC_PBKDF2_SHA256, "Password", 8, "NaCl", 4,
	    80000, 64) == 0);
	CHECK(memcmp(got, want, 64) == 0);
#ifdef AC_TEST_COUNT_HEAP
	CHECK(heap_calls == h0); /* the core made no heap call */
#endif
	end();
}

/* PBKDF2-HMAC-SHA256, one 32-byte block, on a given class: the same two
 * compressions per iteration as ac_pbkdf2 (BearSSL keeps the key's inner
 * and outer states), so the two classes compare fairly. */
static void pbkdf2_on(const br_hash_class *c, const char *pw, const char *salt,
    uint32_t iter, uint8_t out[32])
{
	br_hmac_key_context kc;
	br_hmac_context hc;
	uint8_t u[32];
	uint32_t i;
	size_t j;

	br_hmac_key_init(&kc, c, pw, strlen(pw));
	br_hmac_init(&hc, &kc, 0);
	br_hmac_update(&hc, salt, strlen(salt));
	br_hmac_update(&hc, "\0\0\0\1", 4);
	br_hmac_out(&hc, u);
	memcpy(out, u, 32);
	for (i = 1; i < iter; i++) {
		br_hmac_init(&hc, &kc, 0);
		br_hmac_update(&hc, u, 32);
		br_hmac_out(&hc, u);
		for (j = 0; j < 32; j++)
			out[j] ^= u[j];
	}
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_pbkdf2_600k(void)
{
	uint8_t a[32], b[32], c[32], want[32];
	double t0, t1, t2, t3;

	begin("600,000-iteration PBKDF2: both classes and ac_pbkdf2 agree");
	/* Python's hashlib.pbkdf2_hmac("sha256", ...) gives the same */
	from_hex(want, 32, "6c4a646aad10d067add5fb79d9078a16"
	    "da83d50f81670a8e7593b249e6d94936");
	t0 = now();
	pbkdf2_on(fast, "correct horse battery staple", "0123456789abcdef",
	    600000, a);
	t1 = now();
	pbkdf2_on(port, "correct horse battery staple", "0123456789abcdef",
	    600000, b);
	t2 = now();
	CHECK(ac_pbkdf2(c, AC_PBKDF2_SHA256, "correct horse battery staple",
	    28, "0123456789abcdef", 16, 600000, 32) == 0);
	t3 = now();
	CHECK(memcmp(a, want, 32) == 0);
	CHECK(memcmp(b, want, 32) == 0);
	CHECK(memcmp(c, want, 32) == 0);
	printf("# PBKDF2-HMAC-SHA256, 600,000 iterations%s: %s %.2f s, "
	    "BearSSL's portable class %.2f s, ac_pbkdf2 %.2f s\n",
#ifdef ARM_LINUX
	    " (emulated if under qemu: for information only)",
#else
	    "",
#endif
	    fast == port ? "chosen class (BearSSL's)" :
#ifdef ARM_LINUX
	    "ARMv8 SHA2 class",
#else
	    "SHA-extension class",
#endif
	    t1 - t0, t2 - t1, t3 - t2);
	end();
}

int main(int argc, char **argv)
{
	int quick = argc > 1 && strcmp(argv[1], "--quick") == 0;

	if (argc > 1 && strcmp(argv[1], "--probe") == 0) {
		printf("sha2 %d\n", hwcap_sha2());
		return 0;
	}
	fast = ac_sha256_class(0);
	port = ac_sha256_class(1);
	test_choice();
	test_random_lengths();
	test_split_updates();
	test_state_export();
	test_fips180();
	test_rfc4231();
	test_rfc7914();
	if (!quick)
		test_pbkdf2_600k();
	return failures ? 1 : 0;
}
