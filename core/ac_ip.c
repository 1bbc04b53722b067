/*
 * IP addresses and CIDR ranges: the peer and forwarded hops the request
 * names (core/ac_request.c), the trusted_proxies ranges the policy lists
 * (core/ac_request_policy.c) and the client a login budget is kept for
 * (core/ac_state.c).
 */
#include "ac_internal.h"

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)(c | 0x20);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static int parse_v4(const char *s, size_t n, uint8_t out[4])
{
	size_t i = 0, part = 0;

	while (part < 4) {
		unsigned v = 0;
		size_t digits = 0;
		while (i < n && s[i] >= '0' && s[i] <= '9' && digits < 4) {
			v = v * 10 + (unsigned)(s[i] - '0');
			i++;
			digits++;
		}
		/* no leading zeros: "010" is octal to some parsers */
		if (digits == 0 || digits > 3 || v > 255 ||
		    (digits > 1 && s[i - digits] == '0'))
			return -1;
		out[part++] = (uint8_t)v;
		if (part < 4) {
			if (i >= n || s[i] != '.')
				return -1;
			i++;
		}
	}
	return i == n ? 0 : -1;
}

static int parse_v6(const char *s, size_t n, uint8_t out[16])
{
	uint8_t a[16];
	size_t i = 0, k = 0;
	int gap = -1;

	memset(a, 0, sizeof a);
	if (n >= 2 && s[0] == ':' && s[1] == ':') {
		gap = 0;
		i = 2;
		if (i == n)
			goto done;
	} else if (n > 0 && s[0] == ':') {
		return -1;
	}
	while (i < n) {
		size_t start = i, digits = 0;
		unsigned v = 0;
		if (k >= 16)
			return -1;
		while (i < n && digits < 5 && hexval(s[i]) >= 0) {
			v = v * 16 + (unsigned)hexval(s[i]);
			i++;
			digits++;
		}
		if (i < n && s[i] == '.') {
			/* embedded IPv4 in the last 32 bits */
			if (k > 12 || parse_v4(s + start, n - start, a + k) < 0)
				return -1;
			k += 4;
			i = n;
			break;
		}
		if (digits == 0 || digits > 4)
			return -1;
		a[k++] = (uint8_t)(v >> 8);
		a[k++] = (uint8_t)v;
		if (i == n)
			break;
		if (s[i] != ':')
			return -1;
		i++;
		if (i < n && s[i] == ':') {
			if (gap >= 0)
				return -1;
			gap = (int)k;
			i++;
			if (i == n)
				break;
		} else if (i == n) {
			return -1;
		}
	}
done:
	if (gap >= 0) {
		size_t tail = k - (size_t)gap;
		if (k >= 16)
			return -1;
		memmove(a + 16 - tail, a + gap, tail);
		memset(a + gap, 0, 16 - k);
	} else if (k != 16) {
		return -1;
	}
	memcpy(out, a, 16);
	return 0;
}

int ac_ip_parse(const char *s, size_t n, uint8_t out[16], int *v4)
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
		0xff, 0xff };

	if (n == 0 || n > 64)
		return -1;
	if (memchr(s, ':', n) == NULL) {
		*v4 = 1;
		memset(out, 0, 16);
		return parse_v4(s, n, out);
	}
	if (parse_v6(s, n, out) < 0)
		return -1;
	*v4 = 0;
	/* Node reports IPv4 peers on dual-stack sockets as ::ffff:a.b.c.d */
	if (memcmp(out, mapped, 12) == 0) {
		memmove(out, out + 12, 4);
		memset(out + 4, 0, 12);
		*v4 = 1;
	}
	return 0;
}

int ac_cidr_parse(const char *s, size_t n, ac_cidr *c)
{
	const char *slash = memchr(s, '/', n);
	size_t alen = slash ? (size_t)(slash - s) : n;
	unsigned bits = 0, max;
	int v4;
	size_t i;

	if (ac_ip_parse(s, alen, c->addr, &v4) < 0)
		return -1;
	/* "::ffff:10.0.0.0/104" would mean a v4 range in v6 bits: refuse
	 * rather than guess */
	if (!v4 && memchr(s, '.', alen) != NULL && slash != NULL)
		return -1;
	max = v4 ? 32 : 128;
	if (slash == NULL) {
		bits = max;
	} else {
		if (alen + 1 >= n || n - alen - 1 > 3)
			return -1;
		for (i = alen + 1; i < n; i++) {
			if (s[i] < '0' || s[i] > '9')
				return -1;
			bits = bits * 10 + (unsigned)(s[i] - '0');
		}
		if (bits > max || (n - alen - 1 > 1 && s[alen + 1] == '0'))
			return -1;
	}
	/* host bits set ("10.0.0.1/8") are a typo more often than not */
	for (i = 0; i < 16; i++) {
		unsigned at = (unsigned)i * 8u;
		unsigned keep = bits > at ? (bits - at >= 8 ? 8 : bits - at) : 0;
		uint8_t mask = (uint8_t)(keep ? 0xffu << (8 - keep) : 0);
		if ((c->addr[i] & (uint8_t)~mask) != 0)
			return -1;
	}
	c->bits = (uint8_t)bits;
	c->v4 = (uint8_t)v4;
	return 0;
}

int ac_cidr_has(const ac_cidr *c, const uint8_t a[16], int v4)
{
	unsigned full = c->bits / 8u, rest = c->bits % 8u;

	if (c->v4 != v4)
		return 0;
	if (memcmp(c->addr, a, full) != 0)
		return 0;
	if (rest == 0)
		return 1;
	return ((c->addr[full] ^ a[full]) & (uint8_t)(0xff << (8 - rest))) == 0;
}
