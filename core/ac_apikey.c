/*
 * API keys, stored as SHA-256 hashes, and the resource patterns they are
 * allowed. New keys are <prefix>_<43 base64url chars>; keys of any format
 * are looked up by their hash. Contract in authcore_session.h;
 * format in docs/formats.md.
 */
#include <bearssl.h>

#include "ac_internal.h"
#include "authcore_session.h"

#define SEP_FROM_END (AC_APIKEY_SECRET_CHARS + 1) /* "_" + secret */

_Static_assert(AC_APIKEY_MAX == AC_APIKEY_PREFIX_MAX + SEP_FROM_END,
    "AC_APIKEY_MAX out of date");
_Static_assert(AC_RESOURCE_PATTERN_MAX <= 255,
    "KMP table entries are bytes");

size_t ac_const_apikey_max(void)
{
	return AC_APIKEY_MAX;
}

size_t ac_sizeof_apikey_entry(void)
{
	return sizeof(ac_apikey_entry);
}

static int prefix_ok(const char *p, size_t n)
{
	size_t i;

	if (n == 0 || n > AC_APIKEY_PREFIX_MAX)
		return 0;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')))
			return 0;
	}
	return 1;
}

/* 0xffffffff if lo <= c <= hi, else 0, without a branch on c: the secret
 * part of a key is checked without timing that depends on its characters.
 * c, lo, hi < 256, so a negative difference sets bit 31. */
static uint32_t in_range(uint32_t c, uint32_t lo, uint32_t hi)
{
	return ((((c - lo) | (hi - c)) >> 31) & 1u) - 1u;
}

/* Base64url alphabet and canonical last character, in constant time. */
static int secret_ok(const char *s)
{
	uint32_t bad = 0, v = 0;
	size_t i;

	for (i = 0; i < AC_APIKEY_SECRET_CHARS; i++) {
		uint32_t c = (unsigned char)s[i];
		uint32_t up = in_range(c, 'A', 'Z'), lo = in_range(c, 'a', 'z');
		uint32_t dg = in_range(c, '0', '9');
		uint32_t dash = in_range(c, '-', '-'), us = in_range(c, '_', '_');
		bad |= ~(up | lo | dg | dash | us);
		v = (up & (c - 'A')) | (lo & (c - 'a' + 26)) |
		    (dg & (c - '0' + 52)) | (dash & 62u) | (us & 63u);
	}
	/* 43 characters carry 258 bits for 256: the last one's low two bits
	 * MUST be zero, or two spellings would name one key */
	bad |= v & 3u;
	return bad == 0;
}

int ac_apikey_well_formed(const char *key, size_t len)
{
	size_t plen;

	if (key == NULL || len < 1 + SEP_FROM_END || len > AC_APIKEY_MAX)
		return 0;
	plen = len - SEP_FROM_END;
	/* the prefix alphabet has no '_', so the separator's place is fixed */
	if (!prefix_ok(key, plen) || key[plen] != '_')
		return 0;
	return secret_ok(key + plen + 1);
}

static void hash_key(const char *key, size_t len,
    uint8_t out[AC_APIKEY_HASH_LEN])
{
	br_sha256_context sc;

	br_sha256_init(&sc);
	br_sha256_update(&sc, key, len);
	br_sha256_out(&sc, out);
	ac_wipe(&sc, sizeof sc); /* it buffered key bytes */
}

size_t ac_apikey_new(char *out, size_t cap, const char *prefix,
    size_t prefix_len, const uint8_t entropy[AC_APIKEY_ENTROPY_LEN],
    char hash_out[AC_APIKEY_HASH_HEX_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	uint8_t h[AC_APIKEY_HASH_LEN];
	size_t o, i;

	if (prefix == NULL || prefix_len == 0) {
		prefix = AC_APIKEY_PREFIX_DEFAULT;
		prefix_len = sizeof AC_APIKEY_PREFIX_DEFAULT - 1;
	}
	if (out == NULL || entropy == NULL || !prefix_ok(prefix, prefix_len) ||
	    cap < prefix_len + SEP_FROM_END)
		return 0;
	memcpy(out, prefix, prefix_len);
	o = prefix_len;
	out[o++] = '_';
	o += ac_b64url_encode(out + o, cap - o, entropy, AC_APIKEY_ENTROPY_LEN);
	if (hash_out != NULL) {
		hash_key(out, o, h);
		for (i = 0; i < AC_APIKEY_HASH_LEN; i++) {
			hash_out[2 * i] = hex[h[i] >> 4];
			hash_out[2 * i + 1] = hex[h[i] & 15];
		}
		hash_out[AC_APIKEY_HASH_HEX_LEN] = '\0';
		ac_wipe(h, sizeof h);
	}
	return o;
}

int ac_apikey_hash_parse(uint8_t hash[AC_APIKEY_HASH_LEN], const char *hex,
    size_t len)
{
	size_t i;

	if (hex == NULL || len != AC_APIKEY_HASH_HEX_LEN)
		return -1;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)hex[i];
		unsigned v;
		if (c >= '0' && c <= '9')
			v = (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v = (unsigned)(c - 'a' + 10);
		else
			return -1;
		if (i % 2 == 0)
			hash[i / 2] = (uint8_t)(v << 4);
		else
			hash[i / 2] = (uint8_t)(hash[i / 2] | v);
	}
	return 0;
}

const ac_apikey_entry *ac_apikey_lookup(const ac_apikey_entry *tab, size_t n,
    const char *key, size_t len)
{
	uint8_t h[AC_APIKEY_HASH_LEN];
	size_t i, sel = 0;

	if (key == NULL || len < AC_APIKEY_INPUT_MIN ||
	    len > AC_APIKEY_INPUT_MAX || tab == NULL)
		return NULL;
	for (i = 0; i < len; i++)
		if ((unsigned char)key[i] < 0x21 || (unsigned char)key[i] > 0x7e)
			return NULL;
	hash_key(key, len, h);
	/* Every entry is compared over its full length and the hit is picked
	 * with masks, not branches: the time is the same for the first entry,
	 * the last, or none. sel is 1 + the index of the (last) match. */
	for (i = 0; i < n; i++) {
		size_t m = (size_t)0 -
		    (size_t)ac_ct_equal(h, tab[i].hash, AC_APIKEY_HASH_LEN);
		sel = (sel & ~m) | ((i + 1) & m);
	}
	ac_wipe(h, sizeof h);
	return sel == 0 ? NULL : &tab[sel - 1];
}

int ac_apikey_has_permission(const ac_apikey_entry *e, const char *perm,
    size_t len)
{
	size_t i, n;

	if (e == NULL || perm == NULL)
		return 0;
	n = e->n_permissions < AC_APIKEY_PERMISSIONS_MAX ?
	    e->n_permissions : AC_APIKEY_PERMISSIONS_MAX;
	for (i = 0; i < n; i++)
		if (e->permissions[i].len == len && e->permissions[i].ptr != NULL &&
		    memcmp(e->permissions[i].ptr, perm, len) == 0)
			return 1;
	return 0;
}

int ac_resource_match(const char *pat, size_t plen, const char *s, size_t n)
{
	if (pat == NULL || plen > AC_RESOURCE_PATTERN_MAX ||
	    n > AC_RESOURCE_MAX || (s == NULL && n > 0))
		return 0;
	return ac_wild_match(pat, plen, s ? s : "", n);
}

int ac_resource_allowed(const ac_apikey_entry *e, const char *resource,
    size_t len)
{
	size_t i, n;

	if (e == NULL || len > AC_RESOURCE_MAX)
		return 0;
	n = e->n_resources < AC_APIKEY_RESOURCES_MAX ?
	    e->n_resources : AC_APIKEY_RESOURCES_MAX;
	for (i = 0; i < n; i++)
		if (e->resources[i].ptr != NULL &&
		    ac_resource_match(e->resources[i].ptr, e->resources[i].len,
		    resource, len))
			return 1;
	return 0;
}
