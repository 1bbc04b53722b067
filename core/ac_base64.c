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

/* Value of a base64url character, or -1. Branches only on the character,
 * which for tokens is public data. */
static int b64url_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

int ac_b64url_decode(uint8_t *dst, size_t dst_cap, size_t *out_len,
    const char *src, size_t src_len)
{
	size_t i, o = 0, rem = src_len % 4, need;
	uint32_t acc = 0;
	int bits = 0;

	if (rem == 1)
		return -1;
	need = (src_len / 4) * 3 + (rem ? rem - 1 : 0);
	if (need > dst_cap)
		return -1;
	for (i = 0; i < src_len; i++) {
		int v = b64url_value((unsigned char)src[i]);
		if (v < 0)
			return -1;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			dst[o++] = (uint8_t)(acc >> bits);
			acc &= (1u << bits) - 1u;
		}
	}
	/* canonical: the bits left over MUST be zero */
	if (acc != 0)
		return -1;
	*out_len = o;
	return 0;
}
