/*
 * libFuzzer target: strict base64url (ac_b64url_decode / ac_b64url_encode).
 *
 * Properties: what decodes re-encodes to the same text (the decoder is
 * canonical: no padding, whitespace or non-zero trailing bits), and agrees
 * with an independent reference decoder written here; encode then decode
 * round-trips any bytes; the encoded length is ac_b64url_encoded_len; a
 * destination one byte short fails and writes nothing past its end.
 */
#include <stdio.h>
#include <string.h>

#include "fz.h"

#define MAX 16384

static uint8_t dec[MAX];
static char enc[MAX * 2];

/* Reference: RFC 4648 §5 alphabet, no padding, length % 4 != 1, unused
 * bits zero (RFC 7515 §2 base64url as JWS uses it, made strict). */
static int ref_val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z') return c - 'A';
	if (c >= 'a' && c <= 'z') return c - 'a' + 26;
	if (c >= '0' && c <= '9') return c - '0' + 52;
	if (c == '-') return 62;
	if (c == '_') return 63;
	return -1;
}

static long ref_decode(const unsigned char *s, size_t n, uint8_t *out)
{
	uint32_t acc = 0;
	size_t i, o = 0;
	int bits = 0;

	if (n % 4 == 1)
		return -1;
	for (i = 0; i < n; i++) {
		int v = ref_val(s[i]);
		if (v < 0)
			return -1;
		acc = acc << 6 | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (uint8_t)(acc >> bits);
		}
	}
	if (bits > 0 && (acc & ((1u << bits) - 1)) != 0)
		return -1;
	return (long)o;
}

static uint8_t ref[MAX];

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fz_init("fuzz_b64");
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	size_t n = size > MAX ? MAX : size, dl = 0, el, exp_len;
	long rl;
	int r;

	rl = ref_decode(data, n, ref);
	fz_begin();
	r = ac_b64url_decode(dec, sizeof dec, &dl, s, n);
	fz_end("decode");
	if ((r == 0) != (rl >= 0)) {
		fz_dump("text", s, n);
		fz_die(r == 0 ? "decoder accepted what strict base64url refuses" :
		    "decoder refused valid strict base64url");
	}
	if (r == 0) {
		if ((size_t)rl != dl || memcmp(ref, dec, dl) != 0)
			fz_die("decoder and reference decode differently");
		if (dl > n)
			fz_die("decoded more bytes than it read");
		fz_begin();
		el = ac_b64url_encode(enc, sizeof enc, dec, dl);
		fz_end("re-encode");
		if (el != n || memcmp(enc, s, n) != 0)
			fz_die("strict base64url accepted a non-canonical text");
		/* one byte short of the output: must fail, never overflow */
		if (dl > 0) {
			char *c = fz_copy(s, n);
			uint8_t *d = (uint8_t *)fz_alloc(dl - 1);
			size_t l2 = 0;
			fz_begin();
			r = ac_b64url_decode(d, dl - 1, &l2, c, n);
			fz_end("short decode");
			fz_free((char *)d);
			fz_free(c);
			if (r == 0)
				fz_die("decode into a destination too small succeeded");
		}
	}
	/* encode -> decode round trip of the raw bytes, exact-size buffers */
	exp_len = ac_b64url_encoded_len(n);
	if (exp_len != (n / 3) * 4 + (n % 3 ? n % 3 + 1 : 0))
		fz_die("ac_b64url_encoded_len");
	{
		char *e = fz_alloc(exp_len);
		fz_begin();
		el = ac_b64url_encode(e, exp_len, s, n);
		fz_end("encode");
		if (el != exp_len || (n > 0 && el == 0))
			fz_die("encode length");
		if (n > 0) {
			fz_begin();
			r = (int)ac_b64url_encode(e, exp_len - 1, s, n);
			fz_end("short encode");
			if (r != 0)
				fz_die("encode into a destination too small succeeded");
			fz_begin();
			(void)ac_b64url_encode(e, exp_len, s, n);
			fz_end("encode");
		}
		fz_begin();
		r = ac_b64url_decode(dec, sizeof dec, &dl, e, el);
		fz_end("decode own");
		if (r != 0 || dl != n || memcmp(dec, s, n) != 0)
			fz_die("base64url round trip");
		fz_free(e);
	}
	return 0;
}
