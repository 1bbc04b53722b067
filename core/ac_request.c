/*
 * The request as the upstream will read it.
 *
 * A rule is only as good as the agreement between the path the core matched
 * and the path the application routes, and between the client address the
 * core keyed a throttle on and the real client. This file makes both
 * canonical before anything is matched:
 *  - the path: one wire form (RFC 3986 section 6.2.2: escaped unreserved
 *    characters decoded, other escapes in upper-case hex) that is what gets
 *    forwarded, and one match form (every escape decoded, as ASGI and WSGI
 *    servers and Express decode before routing) that rules see; spellings
 *    that servers read differently are refused;
 *  - the client address and scheme: X-Forwarded-For / Forwarded and
 *    X-Forwarded-Proto are believed only when the peer that connected is a
 *    trusted proxy, and the client is the right-most hop that is not;
 *  - header names that upstreams would fold together ('_' and '-' are one
 *    key to WSGI), and requests whose Origin says another site.
 */
#include "ac_request_int.h"

static int hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (unsigned char)(c | 0x20);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static int unreserved(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
	    c == '~';
}

/* Length of the UTF-8 sequence at s[0..n) in shortest form (no overlong
 * forms, no surrogates, at most U+10FFFF), or 0 if it is not one. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	uint32_t cp;
	size_t len, i;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		len = 2;
		cp = s[0] & 0x1fu;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		len = 3;
		cp = s[0] & 0x0fu;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		len = 4;
		cp = s[0] & 0x07u;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3fu);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

int ac_path_canon(const char *path, size_t n, char *wire, size_t *wire_len,
    char *match, size_t *match_len)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *p = (const unsigned char *)path;
	size_t i = 0, w = 0, m = 0, seg;

	if (n == 0 || p[0] != '/')
		return -1;
	while (i < n) {
		unsigned char c = p[i];
		if (c == '%') {
			int hi, lo;
			unsigned char v;
			if (i + 2 >= n)
				return -1; /* truncated escape */
			hi = hexval(p[i + 1]);
			lo = hexval(p[i + 2]);
			if (hi < 0 || lo < 0)
				return -1; /* malformed escape */
			v = (unsigned char)(hi << 4 | lo);
			/* control bytes and NUL; encoded '/', '\' and '.' change
			 * the segments some servers see (Envoy CVE-2019-9900,
			 * CVE-2021-29492) */
			if (v < 0x20 || v == 0x7f || v == '/' || v == '\\' ||
			    v == '.')
				return -1;
			/* an encoded '#' or '?' is a literal to Starlette and
			 * Flask, but a server or framework that parses the
			 * decoded path again cuts it there */
			if (v == '#' || v == '?')
				return -1;
			if (unreserved(v)) {
				wire[w++] = (char)v;
			} else {
				wire[w++] = '%';
				wire[w++] = hex[v >> 4];
				wire[w++] = hex[v & 15];
			}
			match[m++] = (char)v;
			i += 3;
			continue;
		}
		/* raw: controls and space, a fragment (dropped by most
		 * servers, kept by others), backslashes (a separator on some),
		 * and ';' (a path parameter to Tomcat and Spring, a literal to
		 * Starlette and Flask) */
		if (c < 0x21 || c == 0x7f || c == '#' || c == '\\' || c == ';' ||
		    c == '?')
			return -1;
		wire[w++] = (char)c;
		match[m++] = (char)c;
		i++;
	}
	/* decoded once, it must not hold an escape a second decoding would
	 * read ("%25%32%65" is "%2e", then ".") */
	for (i = 0; i + 2 < m; i++)
		if (match[i] == '%' && hexval((unsigned char)match[i + 1]) >= 0 &&
		    hexval((unsigned char)match[i + 2]) >= 0)
			return -1;
	/* what the upstream decodes MUST be UTF-8 in shortest form: overlong
	 * forms ("%C0%AE" for '.') are how "../" hides from matchers */
	for (i = 0; i < m;) {
		size_t l = utf8_len((const unsigned char *)match + i, m - i);
		if (l == 0)
			return -1;
		i += l;
	}
	/* segments: no empty ones ("//") and no dot segments */
	for (seg = 1, i = 1; i <= m; i++) {
		if (i == m || match[i] == '/') {
			size_t len = i - seg;
			if (i < m && len == 0)
				return -1;
			if ((len == 1 && match[seg] == '.') ||
			    (len == 2 && match[seg] == '.' && match[seg + 1] == '.'))
				return -1;
			seg = i + 1;
		}
	}
	*wire_len = w;
	*match_len = m;
	return 0;
}

/* ---- addresses */

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
		while (i < n && digits < 5 && hexval((unsigned char)s[i]) >= 0) {
			v = v * 16 + (unsigned)hexval((unsigned char)s[i]);
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

static int cidr_has(const ac_cidr *c, const uint8_t a[16], int v4)
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

/* A hop as written in X-Forwarded-For or a Forwarded "for=": the address
 * without brackets, quotes or port. */
static ac_str hop_addr(ac_str h)
{
	size_t i;
	if (h.len >= 2 && h.ptr[0] == '"' && h.ptr[h.len - 1] == '"') {
		h.ptr++;
		h.len -= 2;
	}
	if (h.len > 0 && h.ptr[0] == '[') {
		for (i = 1; i < h.len && h.ptr[i] != ']'; i++)
			;
		h.ptr++;
		h.len = i - 1;
		return h;
	}
	/* one colon: IPv4 with a port */
	{
		const char *c = memchr(h.ptr, ':', h.len);
		if (c != NULL && memchr(c + 1, ':', h.len -
		    (size_t)(c + 1 - h.ptr)) == NULL)
			h.len = (size_t)(c - h.ptr);
	}
	return h;
}

static int trusted(const ac_policy *P, ac_str addr)
{
	uint8_t a[16];
	int v4;
	size_t i;

	addr = hop_addr(addr);
	if (ac_ip_parse(addr.ptr, addr.len, a, &v4) < 0)
		return 0;
	for (i = 0; i < P->n_proxies; i++)
		if (cidr_has(&P->proxies[i], a, v4))
			return 1;
	return 0;
}

/* The k-th list element from the right (k = 0: last) across every line of
 * header `name`, in order: lines are one comma-separated list (RFC 9110
 * section 5.3). For Forwarded, the element's "for" (or "proto") parameter.
 * Returns 1 and the element, 0 past the left end. */
static int nth_from_right(const ac_request *req, const char *name,
    const char *param, size_t k, ac_str *out)
{
	size_t i = req->n_headers, nlen = strlen(name);

	while (i-- > 0) {
		const ac_header *h = &req->headers[i];
		size_t e;
		if (!ac_ascii_ieq(h->name.ptr, h->name.len, name, nlen))
			continue;
		e = h->value.len;
		while (1) {
			size_t s = e;
			while (s > 0 && h->value.ptr[s - 1] != ',')
				s--;
			if (k == 0) {
				ac_str el = ac_trim_ows(h->value.ptr + s, e - s);
				if (param == NULL) {
					*out = el;
					return 1;
				}
				/* Forwarded: pairs separated by ';' */
				out->ptr = NULL;
				out->len = 0;
				while (el.len > 0) {
					size_t j = 0, eq;
					ac_str pair;
					while (j < el.len && el.ptr[j] != ';')
						j++;
					pair = ac_trim_ows(el.ptr, j);
					eq = 0;
					while (eq < pair.len && pair.ptr[eq] != '=')
						eq++;
					if (eq < pair.len && ac_ascii_ieq(pair.ptr,
					    eq, param, strlen(param)))
						*out = ac_trim_ows(pair.ptr + eq + 1,
						    pair.len - eq - 1);
					el.ptr += j < el.len ? j + 1 : j;
					el.len -= j < el.len ? j + 1 : j;
				}
				return 1;
			}
			k--;
			if (s == 0)
				break;
			e = s - 1;
		}
	}
	return 0;
}

void ac_req_client(const ac_policy *P, const ac_request *req, ac_str *client,
    int *https)
{
	const char *hdr = P->client_header == 'F' ? "forwarded" :
	    "x-forwarded-for";
	const char *param = P->client_header == 'F' ? "for" : NULL;
	ac_str hop, last = { NULL, 0 }, proto = { NULL, 0 };
	size_t k;

	*client = req->client_ip;
	*https = req->https;
	if (P->n_proxies == 0 || !trusted(P, req->client_ip))
		return;
	/* the peer is a proxy we trust: walk the hops it reports from the
	 * right, skipping proxies we trust; the first other is the client */
	for (k = 0; nth_from_right(req, hdr, param, k, &hop); k++) {
		if (hop.len == 0)
			break; /* an empty element: stop believing the list */
		last = hop_addr(hop);
		if (!trusted(P, hop))
			break;
	}
	if (last.len > 0)
		*client = last;
	/* the scheme from the nearest trusted proxy */
	if (P->client_header == 'F')
		(void)nth_from_right(req, "forwarded", "proto", 0, &proto);
	else
		(void)nth_from_right(req, "x-forwarded-proto", NULL, 0, &proto);
	if (proto.len > 0) {
		if (ac_ascii_ieq(proto.ptr, proto.len, "https", 5))
			*https = 1;
		else if (ac_ascii_ieq(proto.ptr, proto.len, "http", 4))
			*https = 0;
	}
}

/* ---- headers */

static const char *const override_names[] = { "x-http-method-override",
	"x-method-override", "x-http-method", NULL };

int ac_req_headers_check(const ac_policy *P, const ac_request *req)
{
	size_t i;
	const char *const *o;

	for (i = 0; i < req->n_headers; i++) {
		const ac_header *h = &req->headers[i];
		if (!P->allow_underscore &&
		    memchr(h->name.ptr, '_', h->name.len) != NULL)
			return -1;
		for (o = override_names; P->refuse_override && *o; o++)
			if (ac_ascii_ieq(h->name.ptr, h->name.len, *o,
			    strlen(*o)))
				return -1;
	}
	return 0;
}

size_t ac_req_override_names(const ac_str **names)
{
	static const ac_str n[] = { { "x-http-method-override", 22 },
		{ "x-method-override", 17 }, { "x-http-method", 13 } };
	*names = n;
	return sizeof n / sizeof n[0];
}

/* ---- origin */

/* host[:port] without a default port, for comparing origins */
static ac_str strip_default_port(ac_str h, int https)
{
	if (h.len > 4 && !https && memcmp(h.ptr + h.len - 3, ":80", 3) == 0)
		h.len -= 3;
	else if (h.len > 5 && https &&
	    memcmp(h.ptr + h.len - 4, ":443", 4) == 0)
		h.len -= 4;
	return h;
}

int ac_req_same_origin(const ac_request *req, int https)
{
	ac_str site = { NULL, 0 }, origin = { NULL, 0 }, host = { NULL, 0 };

	if (ac_req_header(req, "sec-fetch-site", &site) < 0 ||
	    ac_req_header(req, "origin", &origin) < 0)
		return 0;
	if (site.ptr != NULL && !ac_str_eq(site, "same-origin", 11) &&
	    !ac_str_eq(site, "none", 4))
		return 0;
	if (origin.ptr != NULL) {
		size_t sl = https ? 8 : 7;
		ac_str oh;
		if (ac_req_header(req, "host", &host) != 1 &&
		    ac_req_header(req, ":authority", &host) != 1)
			return 0;
		if (origin.len <= sl || !ac_ascii_ieq(origin.ptr, sl,
		    https ? "https://" : "http://", sl))
			return 0;
		oh.ptr = origin.ptr + sl;
		oh.len = origin.len - sl;
		oh = strip_default_port(oh, https);
		host = strip_default_port(host, https);
		if (!ac_ascii_ieq(oh.ptr, oh.len, host.ptr, host.len))
			return 0;
	}
	return 1;
}
