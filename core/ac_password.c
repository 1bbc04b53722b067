/*
 * PBKDF2-HMAC-SHA256/512 (RFC 8018 section 5.2) and password hash strings.
 * Contract in authcore_password.h; formats in docs/passwords.md.
 *
 * The password becomes one BearSSL HMAC key context at begin: BearSSL keeps
 * the hash state after the inner and outer pads, so every later HMAC costs
 * two compressions (for a one-block message) and a long password is hashed
 * once, not once per iteration (Django CVE-2013-1443 was that cost times
 * the iteration count). Every block's U_1 is computed at begin too, so the
 * context needs neither the password nor the salt afterwards.
 */
#include <bearssl.h>

#include "ac_internal.h"
#include "authcore_password.h"

#define PB_MAGIC 0x50424b32u /* "PBK2": a begun, unfinished context */

typedef struct {
	br_hmac_key_context kc;
	uint8_t u[AC_PBKDF2_DK_MAX]; /* U_j of every block, side by side */
	uint8_t t[AC_PBKDF2_DK_MAX]; /* running XOR of every block (128 is a
	                               whole number of 32- and 64-byte blocks) */
	size_t remaining, dk_len, hlen, nblocks;
	uint32_t magic;
} pb_state;

_Static_assert(sizeof(pb_state) <= sizeof(((ac_pbkdf2_ctx *)0)->state),
    "ac_pbkdf2_ctx.state too small");
_Static_assert(AC_PASSWORD_HASH_MAX == 28 + 22 + 1 + 86,
    "AC_PASSWORD_HASH_MAX out of date");

static pb_state *st(ac_pbkdf2_ctx *ctx)
{
	return (pb_state *)(void *)ctx->state;
}

static const pb_state *cst(const ac_pbkdf2_ctx *ctx)
{
	return (const pb_state *)(const void *)ctx->state;
}

static const br_hash_class *hash_class(int hash, size_t *hlen)
{
	if (hash == AC_PBKDF2_SHA256) {
		*hlen = 32;
		return (const br_hash_class *)ac_sha256_class(0);
	}
	if (hash == AC_PBKDF2_SHA512) {
		*hlen = 64;
		return &br_sha512_vtable;
	}
	return NULL;
}

size_t ac_const_pbkdf2_dk_max(void) { return AC_PBKDF2_DK_MAX; }
size_t ac_const_password_salt_len(void) { return AC_PASSWORD_SALT_LEN; }
size_t ac_const_password_hash_max(void) { return AC_PASSWORD_HASH_MAX; }
size_t ac_const_password_string_max(void) { return AC_PASSWORD_STRING_MAX; }
uint32_t ac_const_password_iterations_max_default(void)
{
	return AC_PASSWORD_ITERATIONS_MAX_DEFAULT;
}
size_t ac_const_password_len_max_default(void)
{
	return AC_PASSWORD_LEN_MAX_DEFAULT;
}
uint32_t ac_const_password_iterations_recommended(int hash)
{
	if (hash == AC_PBKDF2_SHA256)
		return AC_PASSWORD_ITERATIONS_SHA256;
	if (hash == AC_PBKDF2_SHA512)
		return AC_PASSWORD_ITERATIONS_SHA512;
	return 0;
}
size_t ac_sizeof_pbkdf2_ctx(void) { return sizeof(ac_pbkdf2_ctx); }
size_t ac_sizeof_password_verify_ctx(void)
{
	return sizeof(ac_password_verify_ctx);
}
size_t ac_sizeof_password_limits(void) { return sizeof(ac_password_limits); }

/* ------------------------------------------------------------------ */
/* PBKDF2                                                              */
/* ------------------------------------------------------------------ */

void ac_pbkdf2_wipe(ac_pbkdf2_ctx *ctx)
{
	ac_wipe(ctx, sizeof *ctx);
}

int ac_pbkdf2_begin(ac_pbkdf2_ctx *ctx, int hash, const void *password,
    size_t plen, const void *salt, size_t slen, uint32_t iterations,
    size_t dk_len)
{
	pb_state *s = st(ctx);
	br_hmac_context hc;
	const br_hash_class *hc_class;
	size_t hlen = 0, i;

	ac_wipe(ctx, sizeof *ctx);
	hc_class = hash_class(hash, &hlen);
	if (hc_class == NULL || iterations == 0 || dk_len == 0 ||
	    dk_len > AC_PBKDF2_DK_MAX || (password == NULL && plen > 0) ||
	    (salt == NULL && slen > 0))
		return -1;
	/* memcpy(dst, NULL, 0) inside BearSSL would be undefined behaviour */
	br_hmac_key_init(&s->kc, hc_class, plen > 0 ? password : "", plen);
	s->hlen = hlen;
	s->dk_len = dk_len;
	s->nblocks = (dk_len + hlen - 1) / hlen;
	for (i = 0; i < s->nblocks; i++) {
		uint8_t be[4];
		uint32_t n = (uint32_t)(i + 1);
		be[0] = (uint8_t)(n >> 24);
		be[1] = (uint8_t)(n >> 16);
		be[2] = (uint8_t)(n >> 8);
		be[3] = (uint8_t)n;
		br_hmac_init(&hc, &s->kc, 0);
		if (slen > 0)
			br_hmac_update(&hc, salt, slen);
		br_hmac_update(&hc, be, 4);
		br_hmac_out(&hc, s->u + i * hlen);
	}
	memcpy(s->t, s->u, s->nblocks * hlen);
	s->remaining = (size_t)iterations - 1;
	s->magic = PB_MAGIC;
	ac_wipe(&hc, sizeof hc);
	return 0;
}

size_t ac_pbkdf2_remaining(const ac_pbkdf2_ctx *ctx)
{
	const pb_state *s = cst(ctx);
	return s->magic == PB_MAGIC ? s->remaining : 0;
}

size_t ac_pbkdf2_step(ac_pbkdf2_ctx *ctx, size_t max_iterations)
{
	pb_state *s = st(ctx);
	br_hmac_context hc;
	size_t n, b, k, hlen;

	if (s->magic != PB_MAGIC)
		return 0;
	n = max_iterations < s->remaining ? max_iterations : s->remaining;
	if (n == 0)
		return s->remaining;
	hlen = s->hlen;
	for (b = 0; b < s->nblocks; b++) {
		uint8_t *u = s->u + b * hlen, *t = s->t + b * hlen;
		for (k = 0; k < n; k++) {
			size_t j;
			br_hmac_init(&hc, &s->kc, 0);
			br_hmac_update(&hc, u, hlen);
			br_hmac_out(&hc, u);
			for (j = 0; j < hlen; j++)
				t[j] ^= u[j];
		}
	}
	s->remaining -= n;
	ac_wipe(&hc, sizeof hc);
	return s->remaining;
}

int ac_pbkdf2_finish(ac_pbkdf2_ctx *ctx, uint8_t *out)
{
	pb_state *s = st(ctx);
	if (s->magic != PB_MAGIC)
		return -1;
	if (s->remaining != 0)
		return -1;
	memcpy(out, s->t, s->dk_len);
	ac_wipe(ctx, sizeof *ctx);
	return 0;
}

int ac_pbkdf2(uint8_t *out, int hash, const void *password, size_t plen,
    const void *salt, size_t slen, uint32_t iterations, size_t dk_len)
{
	ac_pbkdf2_ctx ctx;
	if (ac_pbkdf2_begin(&ctx, hash, password, plen, salt, slen, iterations,
	    dk_len) != 0)
		return -1;
	(void)ac_pbkdf2_step(&ctx, (size_t)iterations);
	return ac_pbkdf2_finish(&ctx, out);
}

/* ------------------------------------------------------------------ */
/* Encodings                                                           */
/* ------------------------------------------------------------------ */

static const char B64_STD[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Standard base64, no padding. dst must hold ((n + 2) / 3) * 4 bytes. */
static size_t b64_encode(char *dst, const uint8_t *src, size_t n)
{
	size_t i, o = 0;
	for (i = 0; i + 2 < n; i += 3) {
		uint32_t w = (uint32_t)src[i] << 16 | (uint32_t)src[i + 1] << 8 |
		    src[i + 2];
		dst[o++] = B64_STD[w >> 18];
		dst[o++] = B64_STD[(w >> 12) & 63];
		dst[o++] = B64_STD[(w >> 6) & 63];
		dst[o++] = B64_STD[w & 63];
	}
	if (n - i == 1) {
		uint32_t w = (uint32_t)src[i] << 16;
		dst[o++] = B64_STD[w >> 18];
		dst[o++] = B64_STD[(w >> 12) & 63];
	} else if (n - i == 2) {
		uint32_t w = (uint32_t)src[i] << 16 | (uint32_t)src[i + 1] << 8;
		dst[o++] = B64_STD[w >> 18];
		dst[o++] = B64_STD[(w >> 12) & 63];
		dst[o++] = B64_STD[(w >> 6) & 63];
	}
	return o;
}

static int b64_val(char c, char c62)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == c62)
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* Strict base64 with '/' as character 63 and c62 ('+' standard, '.'
 * passlib) as 62. padded: length a multiple of 4 with the '=' it needs
 * (none otherwise); unpadded: no '=' at all. Unused trailing bits MUST be
 * zero, so each byte string has one spelling. Returns 0 or -1. */
int ac_b64_decode(uint8_t *dst, size_t cap, size_t *out_len,
    const char *src, size_t n, char c62, int padded)
{
	size_t i, o = 0, rem;
	uint32_t acc = 0;
	int bits = 0;

	if (padded) {
		size_t pad = 0;
		if (n % 4 != 0)
			return -1;
		while (pad < 2 && n > 0 && src[n - 1] == '=') {
			n--;
			pad++;
		}
		/* no '=' after a full quantum, one after 3 characters, two
		 * after 2 */
		if (n % 4 != (pad == 0 ? 0u : pad == 1 ? 3u : 2u))
			return -1;
	}
	rem = n % 4;
	if (rem == 1)
		return -1;
	if (n / 4 * 3 + (rem ? rem - 1 : 0) > cap)
		return -1;
	for (i = 0; i < n; i++) {
		int v = b64_val(src[i], c62);
		if (v < 0)
			return -1;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			dst[o++] = (uint8_t)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	if (acc != 0)
		return -1;
	*out_len = o;
	return 0;
}

static int hex_val(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Lowercase hex only (as Werkzeug writes it). */
static int hex_decode(uint8_t *dst, size_t cap, size_t *out_len,
    const char *src, size_t n)
{
	size_t i;
	if (n % 2 != 0 || n / 2 > cap)
		return -1;
	for (i = 0; i < n; i += 2) {
		int hi = hex_val(src[i]), lo = hex_val(src[i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		dst[i / 2] = (uint8_t)(hi << 4 | lo);
	}
	*out_len = n / 2;
	return 0;
}

/* A positive decimal count: digits only, no sign, no leading zero. Counts
 * beyond 64 bits saturate (they are over any limit anyway). */
static int parse_count(const char *p, size_t n, uint64_t *out)
{
	uint64_t v = 0;
	size_t i;
	if (n == 0 || p[0] == '0')
		return -1;
	for (i = 0; i < n; i++) {
		unsigned d;
		if (p[i] < '0' || p[i] > '9')
			return -1;
		d = (unsigned)(p[i] - '0');
		v = v > (UINT64_MAX - d) / 10 ? UINT64_MAX : v * 10 + d;
	}
	*out = v;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Parsing stored strings                                              */
/* ------------------------------------------------------------------ */

enum { FMT_PHC = 1, FMT_DJANGO, FMT_WERKZEUG, FMT_PASSLIB, FMT_TASKITO };

typedef struct {
	int fmt, hash, has_l;
	uint64_t iterations;
	uint8_t salt[AC_PASSWORD_SALT_MAX];
	size_t salt_len;
	uint8_t dk[AC_PBKDF2_DK_MAX];
	size_t dk_len;
} parsed;

static int has_prefix(const char *s, size_t n, const char *p)
{
	size_t k = strlen(p);
	return n >= k && memcmp(s, p, k) == 0;
}

/* Splits s[0..n) at '$' into exactly `want` fields. */
static int split(const char *s, size_t n, ac_str *f, size_t want)
{
	size_t i, k = 0, start = 0;
	for (i = 0; i <= n; i++) {
		if (i == n || s[i] == '$') {
			if (k == want)
				return -1;
			f[k].ptr = s + start;
			f[k].len = i - start;
			k++;
			start = i + 1;
		}
	}
	return k == want ? 0 : -1;
}

/* Salt given as text (Django, Werkzeug): its bytes, printable ASCII. */
static int salt_text(parsed *p, ac_str f)
{
	size_t i;
	if (f.len == 0 || f.len > AC_PASSWORD_SALT_MAX)
		return -1;
	for (i = 0; i < f.len; i++)
		if (f.ptr[i] < 0x21 || f.ptr[i] > 0x7e)
			return -1;
	memcpy(p->salt, f.ptr, f.len);
	p->salt_len = f.len;
	return 0;
}

/* The hash length of p->hash: the stored hash of a format that always
 * writes the full PBKDF2 output (Django, Werkzeug, passlib, taskito) MUST
 * be exactly this long. */
static size_t digest_len(const parsed *p)
{
	return p->hash == AC_PBKDF2_SHA512 ? 64 : 32;
}

/* A decoded salt of 1..AC_PASSWORD_SALT_MAX bytes and a stored hash of
 * AC_PASSWORD_HASH_MIN..AC_PBKDF2_DK_MAX bytes (the decoders' caps hold
 * the upper bounds); `full`: the hash is exactly the digest length. */
static int lengths_ok(const parsed *p, int full)
{
	if (p->salt_len < 1 || p->dk_len < AC_PASSWORD_HASH_MIN)
		return 0;
	return !full || p->dk_len == digest_len(p);
}

/* "i=N" or "i=N,l=L" (L must equal the stored hash length). */
static int phc_params(parsed *p, ac_str f)
{
	size_t i;
	uint64_t l;
	if (f.len < 3 || f.ptr[0] != 'i' || f.ptr[1] != '=')
		return -1;
	for (i = 2; i < f.len && f.ptr[i] != ','; i++)
		;
	if (parse_count(f.ptr + 2, i - 2, &p->iterations) != 0)
		return -1;
	if (i == f.len)
		return 0;
	if (f.len - i < 4 || f.ptr[i + 1] != 'l' || f.ptr[i + 2] != '=' ||
	    parse_count(f.ptr + i + 3, f.len - i - 3, &l) != 0 ||
	    l != p->dk_len)
		return -1;
	p->has_l = 1;
	return 0;
}

static int id_char(char c, int dollar_form)
{
	if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')
		return 1;
	if (dollar_form)
		return 0;
	return (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
}

/* AC_PW_UNSUPPORTED if s starts like a hash string of some scheme
 * ("$<id>$" or "<id>$"), else AC_PW_MALFORMED. */
static ac_password_status other_scheme(const char *s, size_t n)
{
	size_t i = 0, start;
	int dollar = n > 0 && s[0] == '$';
	start = i = dollar ? 1 : 0;
	while (i < n && id_char(s[i], dollar))
		i++;
	if (i > start && i < n && s[i] == '$')
		return AC_PW_UNSUPPORTED;
	return AC_PW_MALFORMED;
}

/* "pbkdf2_sha256$<n>$<salt>$<hash>" is written by Django (salt text,
 * hash as 44 characters of padded base64) and by taskito's dashboard
 * (salt as 32 and hash as 64 lowercase hex characters, the PBKDF2 salt
 * being the 16 bytes the salt's hex stands for). The hash field's length
 * alone tells them apart: no string is valid in both, and one valid in
 * neither is malformed. */
static ac_password_status parse_django_taskito(parsed *p, const char *s,
    size_t n)
{
	ac_str f[3];

	p->hash = AC_PBKDF2_SHA256;
	if (split(s, n, f, 3) != 0 ||
	    parse_count(f[0].ptr, f[0].len, &p->iterations) != 0)
		return AC_PW_MALFORMED;
	if (f[2].len == 2 * digest_len(p)) {
		p->fmt = FMT_TASKITO;
		if (f[1].len != 2 * AC_PASSWORD_SALT_LEN ||
		    hex_decode(p->salt, sizeof p->salt, &p->salt_len, f[1].ptr,
		    f[1].len) != 0 ||
		    hex_decode(p->dk, sizeof p->dk, &p->dk_len, f[2].ptr,
		    f[2].len) != 0 || !lengths_ok(p, 1))
			return AC_PW_MALFORMED;
		return AC_PW_PENDING;
	}
	p->fmt = FMT_DJANGO;
	if (salt_text(p, f[1]) != 0 ||
	    ac_b64_decode(p->dk, sizeof p->dk, &p->dk_len, f[2].ptr, f[2].len,
	    '+', 1) != 0 || !lengths_ok(p, 1))
		return AC_PW_MALFORMED;
	return AC_PW_PENDING;
}

static ac_password_status parse(parsed *p, const char *s, size_t n)
{
	ac_str f[4];

	memset(p, 0, sizeof *p);
	if (s == NULL || n == 0 || n > AC_PASSWORD_STRING_MAX)
		return AC_PW_MALFORMED;
	if (has_prefix(s, n, "$pbkdf2-sha256$") ||
	    has_prefix(s, n, "$pbkdf2-sha512$")) {
		int phc;
		p->hash = s[11] == '2' ? AC_PBKDF2_SHA256 : AC_PBKDF2_SHA512;
		if (split(s + 15, n - 15, f, 3) != 0)
			return AC_PW_MALFORMED;
		phc = f[0].len > 0 && f[0].ptr[0] == 'i';
		p->fmt = phc ? FMT_PHC : FMT_PASSLIB;
		/* PHC: any hash length, "l=" if given equal to it; passlib
		 * always stores the digest's full length */
		if (ac_b64_decode(p->salt, sizeof p->salt, &p->salt_len, f[1].ptr,
		    f[1].len, phc ? '+' : '.', 0) != 0 ||
		    ac_b64_decode(p->dk, sizeof p->dk, &p->dk_len, f[2].ptr,
		    f[2].len, phc ? '+' : '.', 0) != 0 || !lengths_ok(p, !phc))
			return AC_PW_MALFORMED;
		if (phc ? phc_params(p, f[0]) != 0 :
		    parse_count(f[0].ptr, f[0].len, &p->iterations) != 0)
			return AC_PW_MALFORMED;
		return AC_PW_PENDING;
	}
	if (has_prefix(s, n, "pbkdf2_sha256$"))
		return parse_django_taskito(p, s + 14, n - 14);
	if (has_prefix(s, n, "pbkdf2:sha256:") ||
	    has_prefix(s, n, "pbkdf2:sha512:")) {
		p->fmt = FMT_WERKZEUG;
		p->hash = s[10] == '2' ? AC_PBKDF2_SHA256 : AC_PBKDF2_SHA512;
		if (split(s + 14, n - 14, f, 3) != 0 ||
		    parse_count(f[0].ptr, f[0].len, &p->iterations) != 0 ||
		    salt_text(p, f[1]) != 0 ||
		    hex_decode(p->dk, sizeof p->dk, &p->dk_len, f[2].ptr,
		    f[2].len) != 0 || !lengths_ok(p, 1))
			return AC_PW_MALFORMED;
		return AC_PW_PENDING;
	}
	/* Our schemes without their count ("pbkdf2:sha256$salt$hex", or
	 * "pbkdf2$..." with neither hash nor count: the count would be some
	 * Werkzeug version's default) are malformed, not another scheme. */
	if (has_prefix(s, n, "pbkdf2:sha256$") ||
	    has_prefix(s, n, "pbkdf2:sha512$") || has_prefix(s, n, "pbkdf2$"))
		return AC_PW_MALFORMED;
	return other_scheme(s, n);
}

/* ------------------------------------------------------------------ */
/* Hash strings                                                        */
/* ------------------------------------------------------------------ */

const char *ac_password_status_name(ac_password_status s)
{
	switch (s) {
	case AC_PW_MATCH: return "match";
	case AC_PW_MISMATCH: return "mismatch";
	case AC_PW_PENDING: return "pending";
	case AC_PW_MALFORMED: return "malformed";
	case AC_PW_UNSUPPORTED: return "unsupported";
	case AC_PW_ITERATIONS_OVER_LIMIT: return "iterations_over_limit";
	case AC_PW_PASSWORD_TOO_LONG: return "password_too_long";
	case AC_PW_PASSWORD_NUL: return "password_nul";
	default: return "unknown";
	}
}

size_t ac_password_hash_format(char *out, size_t cap, int hash,
    uint32_t iterations, const uint8_t salt[AC_PASSWORD_SALT_LEN],
    const uint8_t *dk, size_t dk_len)
{
	char buf[AC_PASSWORD_HASH_MAX + 4], digits[10];
	size_t hlen = 0, n = 0, nd = 0;
	uint32_t it = iterations;

	if (out == NULL || salt == NULL || dk == NULL ||
	    hash_class(hash, &hlen) == NULL || iterations == 0 ||
	    dk_len != hlen)
		return 0;
	memcpy(buf, hash == AC_PBKDF2_SHA256 ? "$pbkdf2-sha256$i=" :
	    "$pbkdf2-sha512$i=", 17);
	n = 17;
	while (it > 0) {
		digits[nd++] = (char)('0' + it % 10);
		it /= 10;
	}
	while (nd > 0)
		buf[n++] = digits[--nd];
	buf[n++] = '$';
	n += b64_encode(buf + n, salt, AC_PASSWORD_SALT_LEN);
	buf[n++] = '$';
	n += b64_encode(buf + n, dk, dk_len);
	if (n > cap) {
		ac_wipe(buf, sizeof buf);
		return 0;
	}
	memcpy(out, buf, n);
	ac_wipe(buf, sizeof buf);
	return n;
}

size_t ac_password_hash(char *out, size_t cap, int hash,
    const char *password, size_t plen,
    const uint8_t salt[AC_PASSWORD_SALT_LEN], uint32_t iterations)
{
	uint8_t dk[64];
	size_t hlen = 0, n;

	if (hash_class(hash, &hlen) == NULL || salt == NULL ||
	    plen > AC_PASSWORD_LEN_MAX_DEFAULT ||
	    ac_pbkdf2(dk, hash, password, plen, salt, AC_PASSWORD_SALT_LEN,
	    iterations, hlen) != 0)
		return 0;
	n = ac_password_hash_format(out, cap, hash, iterations, salt, dk, hlen);
	ac_wipe(dk, sizeof dk);
	return n;
}

void ac_password_verify_wipe(ac_password_verify_ctx *ctx)
{
	ac_wipe(ctx, sizeof *ctx);
}

ac_password_status ac_password_verify_begin(ac_password_verify_ctx *ctx,
    const char *hash_string, size_t len, const char *password, size_t plen,
    const ac_password_limits *lim)
{
	parsed p;
	ac_password_status r;
	uint32_t max_it = AC_PASSWORD_ITERATIONS_MAX_DEFAULT;
	size_t max_pw = AC_PASSWORD_LEN_MAX_DEFAULT;

	ac_wipe(ctx, sizeof *ctx);
	if (lim != NULL && lim->max_iterations != 0)
		max_it = lim->max_iterations;
	if (lim != NULL && lim->max_password_len != 0)
		max_pw = lim->max_password_len;
	r = parse(&p, hash_string, len);
	if (r == AC_PW_PENDING && p.iterations > max_it)
		r = AC_PW_ITERATIONS_OVER_LIMIT;
	if (r == AC_PW_PENDING && plen > max_pw)
		r = AC_PW_PASSWORD_TOO_LONG;
	if (r == AC_PW_PENDING && plen > 0 && password != NULL &&
	    memchr(password, 0, plen) != NULL)
		r = AC_PW_PASSWORD_NUL;
	if (r == AC_PW_PENDING &&
	    ac_pbkdf2_begin(&ctx->kdf, p.hash, password, plen, p.salt,
	    p.salt_len, (uint32_t)p.iterations, p.dk_len) != 0)
		r = AC_PW_MALFORMED; /* only a NULL password with plen > 0 */
	if (r == AC_PW_PENDING) {
		memcpy(ctx->expected, p.dk, p.dk_len);
		ctx->expected_len = p.dk_len;
	} else {
		ac_wipe(ctx, sizeof *ctx);
	}
	ctx->status = (int)r;
	ac_wipe(&p, sizeof p);
	return r;
}

size_t ac_password_verify_step(ac_password_verify_ctx *ctx,
    size_t max_iterations)
{
	if (ctx->status != AC_PW_PENDING)
		return 0;
	return ac_pbkdf2_step(&ctx->kdf, max_iterations);
}

ac_password_status ac_password_verify_finish(ac_password_verify_ctx *ctx)
{
	uint8_t dk[AC_PBKDF2_DK_MAX];
	ac_password_status r;

	if (ctx->status != AC_PW_PENDING) {
		r = ctx->status >= 0 && ctx->status < AC_PW_STATUS_COUNT &&
		    ctx->status != AC_PW_MATCH ?
		    (ac_password_status)ctx->status : AC_PW_MALFORMED;
		ac_wipe(ctx, sizeof *ctx);
		ctx->status = (int)r;
		return r;
	}
	if (ac_pbkdf2_remaining(&ctx->kdf) != 0)
		return AC_PW_PENDING;
	if (ac_pbkdf2_finish(&ctx->kdf, dk) != 0) {
		r = AC_PW_MALFORMED; /* a context that was not begun */
	} else {
		r = ac_ct_equal(dk, ctx->expected, ctx->expected_len) ?
		    AC_PW_MATCH : AC_PW_MISMATCH;
	}
	ac_wipe(dk, sizeof dk);
	ac_wipe(ctx, sizeof *ctx);
	ctx->status = (int)(r == AC_PW_MATCH ? AC_PW_MISMATCH : r);
	return r;
}

ac_password_status ac_password_verify(const char *hash_string, size_t len,
    const char *password, size_t plen, const ac_password_limits *lim)
{
	ac_password_verify_ctx ctx;
	ac_password_status r = ac_password_verify_begin(&ctx, hash_string, len,
	    password, plen, lim);
	if (r != AC_PW_PENDING)
		return r;
	(void)ac_password_verify_step(&ctx, ac_pbkdf2_remaining(&ctx.kdf));
	return ac_password_verify_finish(&ctx);
}

int ac_password_needs_rehash(const char *hash_string, size_t len, int hash,
    uint32_t target_iterations)
{
	parsed p;
	size_t hlen = 0;
	int keep;

	if (hash_class(hash, &hlen) == NULL ||
	    parse(&p, hash_string, len) != AC_PW_PENDING) {
		ac_wipe(&p, sizeof p);
		return 1;
	}
	keep = p.fmt == FMT_PHC && !p.has_l && p.hash == hash &&
	    p.salt_len >= AC_PASSWORD_SALT_LEN && p.dk_len == hlen &&
	    p.iterations >= target_iterations;
	ac_wipe(&p, sizeof p);
	return !keep;
}
