/*
 * libFuzzer target: the request path canonicaliser (ac_path_canon,
 * core/ac_request.c), checked differentially against plain %XX decoding
 * (what urllib.parse.unquote does to bytes, and so what an ASGI server
 * hands the application as the path).
 *
 * Input: one path, or two separated by the first '\n'.
 *
 * Properties, for each path (wire and match in exact-size buffers of the
 * path's length, so writing past it is an ASan report):
 *  - refused: raw or decoded control bytes and NUL, raw or decoded '#' and
 *    '\', encoded '/', '\' or '.', "%25" followed by two hex digits,
 *    malformed escapes, dot segments, "//", a path not starting with '/';
 *  - accepted: match is the path %XX-decoded, byte for byte; wire decodes
 *    to the same; wire's escapes are upper-case and never of an unreserved
 *    character, and for a path of URI characters only, wire is exactly the
 *    RFC 3986 §6.2.2 normal form computed here; match holds none of the
 *    refused bytes or sequences; canonicalising wire again gives the same
 *    wire and match (idempotent);
 *  - two accepted paths that decode to the same bytes have the same match.
 */
#include <stdio.h>
#include <string.h>

#include "fz.h"

/* Declared by core/ac_internal.h once the canonicaliser is in; the same
 * prototype here keeps the target's contract in view. */
int ac_path_canon(const char *path, size_t n, char *wire, size_t *wire_len,
    char *match, size_t *match_len);

#define MAX 8192

static char dq[2][MAX], mt[2][MAX], wr[MAX], tmp[MAX];

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fz_init("fuzz_canon");
	return 0;
}

static int hexv(int c)
{
	if (c >= '0' && c <= '9') return c - '0';
	if (c >= 'a' && c <= 'f') return c - 'a' + 10;
	if (c >= 'A' && c <= 'F') return c - 'A' + 10;
	return -1;
}

static int unreserved(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~';
}

/* urllib.parse.unquote_to_bytes: %XX with two hex digits is a byte, any
 * other '%' stays. */
static size_t unquote(const char *s, size_t n, char *out)
{
	size_t i, o = 0;

	for (i = 0; i < n; i++) {
		if (s[i] == '%' && n - i >= 3 && hexv(s[i + 1]) >= 0 &&
		    hexv(s[i + 2]) >= 0) {
			out[o++] = (char)(hexv(s[i + 1]) * 16 + hexv(s[i + 2]));
			i += 2;
		} else {
			out[o++] = s[i];
		}
	}
	return o;
}

static int ctl(int c)
{
	c &= 0xff;
	return c < 0x20 || c == 0x7f;
}

/* Must the canonicaliser refuse this path? */
static int must_refuse(const char *s, size_t n)
{
	size_t i, seg = 1;

	if (n == 0 || s[0] != '/')
		return 1;
	for (i = 0; i < n; i++) {
		int c = (unsigned char)s[i];
		if (ctl(c) || c == '#' || c == '\\')
			return 1;
		if (c == '%') {
			int h, d;
			if (n - i < 3 || hexv(s[i + 1]) < 0 || hexv(s[i + 2]) < 0)
				return 1;
			d = hexv(s[i + 1]) * 16 + hexv(s[i + 2]);
			if (ctl(d) || d == '#' || d == '\\' || d == '/' || d == '.')
				return 1;
			if (d == '%' && n - i >= 5 && (h = hexv(s[i + 3])) >= 0 &&
			    hexv(s[i + 4]) >= 0)
				return 1;
		}
	}
	/* "//" and dot segments, raw */
	for (i = 1; i <= n; i++) {
		if (i == n || s[i] == '/') {
			size_t len = i - seg;
			if (i < n && len == 0)
				return 1;
			if ((len == 1 && s[seg] == '.') ||
			    (len == 2 && s[seg] == '.' && s[seg + 1] == '.'))
				return 1;
			seg = i + 1;
		}
	}
	return 0;
}

/* What no accepted match may hold. */
static const char *bad_match(const char *m, size_t n)
{
	size_t i, seg = 1;

	if (n == 0 || m[0] != '/')
		return "match does not start with '/'";
	for (i = 0; i < n; i++) {
		int c = (unsigned char)m[i];
		if (ctl(c))
			return "control byte or NUL in match";
		if (c == '#')
			return "'#' in match";
		if (c == '\\')
			return "backslash in match";
		if (c == '%' && n - i >= 3 && hexv(m[i + 1]) >= 0 &&
		    hexv(m[i + 2]) >= 0)
			return "an escape left in match (double decoding)";
	}
	for (i = 1; i <= n; i++) {
		if (i == n || m[i] == '/') {
			size_t len = i - seg;
			if (i < n && len == 0)
				return "\"//\" in match";
			if ((len == 1 && m[seg] == '.') ||
			    (len == 2 && m[seg] == '.' && m[seg + 1] == '.'))
				return "dot segment in match";
			seg = i + 1;
		}
	}
	return NULL;
}

/* RFC 3986 characters allowed raw in a path: unreserved, sub-delims,
 * ':', '@', '/', and '%' for escapes. */
static int uri_char(int c)
{
	return unreserved(c) || (c && strchr("!$&'()*+,;=:@/%", c) != NULL);
}

/* §6.2.2 normal form of an accepted path: escapes of unreserved
 * characters decoded, other escapes with upper-case hex. */
static size_t normal_form(const char *s, size_t n, char *out)
{
	static const char H[] = "0123456789ABCDEF";
	size_t i, o = 0;

	for (i = 0; i < n; i++) {
		if (s[i] == '%') {
			int d = hexv(s[i + 1]) * 16 + hexv(s[i + 2]);
			if (unreserved(d)) {
				out[o++] = (char)d;
			} else {
				out[o++] = '%';
				out[o++] = H[d >> 4];
				out[o++] = H[d & 15];
			}
			i += 2;
		} else {
			out[o++] = s[i];
		}
	}
	return o;
}

static int canon(const char *s, size_t n, char *w, size_t *wl, char *m,
    size_t *ml)
{
	char *c = fz_copy(s, n), *wb = fz_alloc(n), *mb = fz_alloc(n);
	int r;

	*wl = *ml = (size_t)-1;
	fz_begin();
	r = ac_path_canon(c, n, wb, wl, mb, ml);
	fz_end("ac_path_canon");
	if (r == 0) {
		if (*wl > n || *ml > n)
			fz_die("wire or match longer than the path");
		memcpy(w, wb, *wl);
		memcpy(m, mb, *ml);
	} else if (r != -1) {
		fz_die("ac_path_canon returned neither 0 nor -1");
	}
	fz_free(mb);
	fz_free(wb);
	fz_free(c);
	return r;
}

/* Checks one path; 1 if accepted (match in mt[k], decoded in dq[k]). */
static int one(const char *s, size_t n, int k, size_t *mlen, size_t *dlen)
{
	size_t wl, ml, wl2, ml2, i, dl;
	const char *why;
	int r, refuse = must_refuse(s, n);

	r = canon(s, n, wr, &wl, mt[k], &ml);
	if (r != 0)
		return 0; /* it may refuse more than the list (raw spaces) */
	if (refuse) {
		fz_dump("path", s, n);
		fz_dump("match", mt[k], ml);
		fz_die("ac_path_canon accepted a path it must refuse");
	}
	if ((why = bad_match(mt[k], ml)) != NULL) {
		fz_dump("path", s, n);
		fz_dump("match", mt[k], ml);
		fz_die(why);
	}
	dl = unquote(s, n, dq[k]);
	if (dl != ml || memcmp(dq[k], mt[k], ml) != 0) {
		fz_dump("path", s, n);
		fz_dump("match", mt[k], ml);
		fz_die("match is not the path with every escape decoded");
	}
	dl = unquote(wr, wl, tmp);
	if (dl != ml || memcmp(tmp, mt[k], ml) != 0) {
		fz_dump("path", s, n);
		fz_dump("wire", wr, wl);
		fz_die("wire does not decode to match");
	}
	for (i = 0; i < wl; i++) {
		if (wr[i] != '%')
			continue;
		if (wl - i < 3 || !((wr[i + 1] >= '0' && wr[i + 1] <= '9') ||
		    (wr[i + 1] >= 'A' && wr[i + 1] <= 'F')) ||
		    !((wr[i + 2] >= '0' && wr[i + 2] <= '9') ||
		    (wr[i + 2] >= 'A' && wr[i + 2] <= 'F')) ||
		    unreserved(hexv(wr[i + 1]) * 16 + hexv(wr[i + 2]))) {
			fz_dump("wire", wr, wl);
			fz_die("wire has a lower-case escape or an escaped unreserved character");
		}
		i += 2;
	}
	for (i = 0; i < n && uri_char((unsigned char)s[i]); i++)
		;
	if (i == n) {
		size_t nl = normal_form(s, n, tmp);
		if (nl != wl || memcmp(tmp, wr, wl) != 0) {
			fz_dump("path", s, n);
			fz_dump("wire", wr, wl);
			fz_dump("normal form", tmp, nl);
			fz_die("wire is not the RFC 3986 normal form of the path");
		}
	}
	/* idempotent: wire canonicalises to itself and the same match */
	memcpy(tmp, wr, wl);
	{
		static char w2[MAX], m2[MAX];
		r = canon(tmp, wl, w2, &wl2, m2, &ml2);
		if (r != 0 || wl2 != wl || memcmp(w2, wr, wl) != 0 || ml2 != ml ||
		    memcmp(m2, mt[k], ml) != 0) {
			fz_dump("path", s, n);
			fz_dump("wire", wr, wl);
			fz_die("canonicalising wire again changes it or its match");
		}
	}
	*mlen = ml;
	*dlen = ml;
	return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	size_t n = size > MAX ? MAX : size, m0 = 0, m1 = 0, d0 = 0, d1 = 0;
	const char *nl = memchr(s, '\n', n);
	size_t n0 = nl ? (size_t)(nl - s) : n;
	int a, b;

	a = one(s, n0, 0, &m0, &d0);
	if (nl == NULL)
		return 0;
	b = one(nl + 1, n - n0 - 1, 1, &m1, &d1);
	/* same decoded bytes (as an ASGI server sees them), same match */
	if (a && b && d0 == d1 && memcmp(dq[0], dq[1], d0) == 0 &&
	    (m0 != m1 || memcmp(mt[0], mt[1], m0) != 0)) {
		fz_dump("path 1", s, n0);
		fz_dump("path 2", nl + 1, n - n0 - 1);
		fz_die("two paths that decode the same have different match forms");
	}
	return 0;
}
