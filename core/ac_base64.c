/* Strict base64url (RFC 4648 section 5) without padding. */
#include "authcore.h"
#include "ac_internal.h"

static const char b64url_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

size_t ac_b64url_encoded_len(size_t len)
{
	return (len / 3) * 4 + ((len % 3) ? (len % 3) + 1 : 0);
}

size_t ac_b64url_encode(char *dst, size_t dst_cap, const void *src,
    size_t src_len)
{
	const uint8_t *s = src;
	size_t need = ac_b64url_encoded_len(src_len), i, o = 0;

	if (need > dst_cap)
		return 0;
	for (i = 0; i + 3 <= src_len; i += 3) {
		uint32_t v = ((uint32_t)s[i] << 16) | ((uint32_t)s[i + 1] << 8) |
		    s[i + 2];
		dst[o++] = b64url_alphabet[(v >> 18) & 63];
		dst[o++] = b64url_alphabet[(v >> 12) & 63];
		dst[o++] = b64url_alphabet[(v >> 6) & 63];
		dst[o++] = b64url_alphabet[v & 63];
	}
	if (src_len - i == 1) {
		uint32_t v = (uint32_t)s[i] << 16;
		dst[o++] = b64url_alphabet[(v >> 18) & 63];
		dst[o++] = b64url_alphabet[(v >> 12) & 63];
	} else if (src_len - i == 2) {
		uint32_t v = ((uint32_t)s[i] << 16) | ((uint32_t)s[i + 1] << 8);
		dst[o++] = b64url_alphabet[(v >> 18) & 63];
		dst[o++] = b64url_alphabet[(v >> 12) & 63];
		dst[o++] = b64url_alphabet[(v >> 6) & 63];
	}
	return o;
}

/* Value of each byte as a base64url digit, 0xff for none. Branch-free on
 * the input; tokens are public data anyway. Read-only, so no mutable state. */
static const uint8_t b64url_value[256] = {
#define X 0xff
	X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
	X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
	X, X, X, X, X, X, X, X, X, X, X, X, X, 62, X, X,
	52, 53, 54, 55, 56, 57, 58, 59, 60, 61, X, X, X, X, X, X,
	X, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14,
	15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, X, X, X, X, 63,
	X, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40,
	41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, X, X, X, X, X,
	X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
	X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
	X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
	X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
	X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
	X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
	X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
	X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
#undef X
};

int ac_b64url_decode(uint8_t *dst, size_t dst_cap, size_t *out_len,
    const char *src, size_t src_len)
{
	const unsigned char *s = (const unsigned char *)src;
	size_t i, o = 0, rem = src_len % 4, full = src_len - rem, need;
	uint32_t v, bad;

	if (rem == 1)
		return -1;
	need = (src_len / 4) * 3 + (rem ? rem - 1 : 0);
	if (need > dst_cap)
		return -1;
	/* four digits at a time; any 0xff lookup sets bits above 24 */
	for (i = 0; i < full; i += 4) {
		uint32_t a = b64url_value[s[i]], b = b64url_value[s[i + 1]];
		uint32_t c = b64url_value[s[i + 2]], d = b64url_value[s[i + 3]];
		if ((a | b | c | d) & 0x80)
			return -1;
		v = (a << 18) | (b << 12) | (c << 6) | d;
		dst[o] = (uint8_t)(v >> 16);
		dst[o + 1] = (uint8_t)(v >> 8);
		dst[o + 2] = (uint8_t)v;
		o += 3;
	}
	if (rem) {
		uint32_t a = b64url_value[s[i]], b = b64url_value[s[i + 1]];
		uint32_t c = rem == 3 ? b64url_value[s[i + 2]] : 0;
		bad = (a | b | c) & 0x80;
		if (bad)
			return -1;
		v = (a << 18) | (b << 12) | (c << 6);
		/* canonical: the bits past the last whole byte MUST be zero */
		if (rem == 2) {
			if (v & 0xffffu)
				return -1;
			dst[o++] = (uint8_t)(v >> 16);
		} else {
			if (v & 0xffu)
				return -1;
			dst[o++] = (uint8_t)(v >> 16);
			dst[o++] = (uint8_t)(v >> 8);
		}
	}
	*out_len = o;
	return 0;
}
