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

int ac_query_check(const char *query, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if ((unsigned char)query[i] < 0x21 || query[i] == 0x7f)
			return -1;
	return 0;
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
		if (ac_cidr_has(&P->proxies[i], a, v4))
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
		/* A Cookie header is the one the core may forward rebuilt
		 * (without a consumed credential): CR, LF or NUL in it (RFC
		 * 9110 5.5: never valid in a field value; servers refuse them
		 * before here) would be forwarded as header bytes. */
		if (ac_ascii_ieq(h->name.ptr, h->name.len, "cookie", 6) &&
		    (memchr(h->value.ptr, '\r', h->value.len) != NULL ||
		    memchr(h->value.ptr, '\n', h->value.len) != NULL ||
		    memchr(h->value.ptr, 0, h->value.len) != NULL))
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
