/*
 * Allocation-free JSON scanning for token headers and payloads.
 *
 * Token JSON is attacker-controlled, so the scanner validates the whole
 * document (RFC 8259 grammar), bounds nesting, and rejects duplicate member
 * names: parsers disagree on which duplicate wins (cJSON keeps the first,
 * JavaScript and Python the last), so a token with duplicates could mean
 * different things to us and to the application behind us.
 */
#include "ac_internal.h"

typedef struct {
	const char *p;
	size_t n, i;
} aj_cur;

static void skip_ws(aj_cur *c)
{
	while (c->i < c->n && (c->p[c->i] == ' ' || c->p[c->i] == '\t' ||
	    c->p[c->i] == '\n' || c->p[c->i] == '\r'))
		c->i++;
}

static int hexval(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* Validates UTF-8 sequence at s[i]; returns its length or 0. */
static size_t utf8_len(const unsigned char *s, size_t n, size_t i)
{
	unsigned char c = s[i];
	size_t len, k;
	uint32_t cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
		cp = c & 0x1fu;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		cp = c & 0x0fu;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		cp = c & 0x07u;
	} else {
		return 0;
	}
	if (i + len > n)
		return 0;
	for (k = 1; k < len; k++) {
		if ((s[i + k] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i + k] & 0x3fu);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

/* At an opening quote: scans the string, sets raw (without quotes). */
static int scan_string(aj_cur *c, ac_str *raw)
{
	size_t start;

	if (c->i >= c->n || c->p[c->i] != '"')
		return -1;
	start = ++c->i;
	while (c->i < c->n) {
		unsigned char ch = (unsigned char)c->p[c->i];
		if (ch == '"') {
			raw->ptr = c->p + start;
			raw->len = c->i - start;
			c->i++;
			return 0;
		}
		if (ch < 0x20)
			return -1;
		if (ch == '\\') {
			char e;
			if (++c->i >= c->n)
				return -1;
			e = c->p[c->i];
			if (e == 'u') {
				int k;
				if (c->i + 4 >= c->n)
					return -1;
				for (k = 1; k <= 4; k++)
					if (hexval(c->p[c->i + (size_t)k]) < 0)
						return -1;
				c->i += 5;
				continue;
			}
			if (e != '"' && e != '\\' && e != '/' && e != 'b' &&
			    e != 'f' && e != 'n' && e != 'r' && e != 't')
				return -1;
			c->i++;
			continue;
		}
		if (ch < 0x80) {
			c->i++;
		} else {
			size_t l = utf8_len((const unsigned char *)c->p, c->n,
			    c->i);
			if (l == 0)
				return -1;
			c->i += l;
		}
	}
	return -1;
}

static int scan_number(aj_cur *c)
{
	size_t start = c->i;

	if (c->i < c->n && c->p[c->i] == '-')
		c->i++;
	if (c->i >= c->n)
		return -1;
	if (c->p[c->i] == '0') {
		c->i++;
	} else if (c->p[c->i] >= '1' && c->p[c->i] <= '9') {
		while (c->i < c->n && c->p[c->i] >= '0' && c->p[c->i] <= '9')
			c->i++;
	} else {
		return -1;
	}
	if (c->i < c->n && c->p[c->i] == '.') {
		c->i++;
		if (c->i >= c->n || c->p[c->i] < '0' || c->p[c->i] > '9')
			return -1;
		while (c->i < c->n && c->p[c->i] >= '0' && c->p[c->i] <= '9')
			c->i++;
	}
	if (c->i < c->n && (c->p[c->i] == 'e' || c->p[c->i] == 'E')) {
		c->i++;
		if (c->i < c->n && (c->p[c->i] == '+' || c->p[c->i] == '-'))
			c->i++;
		if (c->i >= c->n || c->p[c->i] < '0' || c->p[c->i] > '9')
			return -1;
		while (c->i < c->n && c->p[c->i] >= '0' && c->p[c->i] <= '9')
			c->i++;
	}
	return c->i > start ? 0 : -1;
}

/* 1 if the raw (undecoded) string text holds an escape */
static int has_escape(ac_str raw)
{
	size_t i;

	for (i = 0; i < raw.len; i++)
		if (raw.ptr[i] == '\\')
			return 1;
	return 0;
}

static int scan_lit(aj_cur *c, const char *lit)
{
	size_t l = strlen(lit);
	if (c->n - c->i < l || memcmp(c->p + c->i, lit, l) != 0)
		return -1;
	c->i += l;
	return 0;
}

static int scan_value(aj_cur *c, int depth, aj_type *type, ac_str *raw);

/* Scans an object or array body; for the top-level object, collects members
 * into m (when m != NULL). */
static int scan_container(aj_cur *c, int depth, int is_obj, aj_member *m,
    size_t cap, size_t *count)
{
	size_t k = 0;

	if (depth > AC_JSON_DEPTH_MAX)
		return -1;
	c->i++; /* '{' or '[' */
	skip_ws(c);
	if (c->i < c->n && c->p[c->i] == (is_obj ? '}' : ']')) {
		c->i++;
		if (count)
			*count = 0;
		return 0;
	}
	for (;;) {
		ac_str key = { 0, 0 }, raw;
		aj_type t;

		skip_ws(c);
		if (is_obj) {
			if (scan_string(c, &key) < 0)
				return -1;
			skip_ws(c);
			if (c->i >= c->n || c->p[c->i] != ':')
				return -1;
			c->i++;
			skip_ws(c);
		}
		if (scan_value(c, depth + 1, &t, &raw) < 0)
			return -1;
		if (m != NULL) {
			char tmp[AC_NAME_MAX];
			const char *name = tmp;
			size_t j, tl;
			if (k >= cap)
				return -1;
			/* compare decoded names; names longer than
			 * AC_NAME_MAX are refused rather than truncated.
			 * A name without escapes is its own decoding. */
			if (!has_escape(key)) {
				if (key.len > sizeof tmp)
					return -1;
				name = key.ptr;
				tl = key.len;
			} else if (aj_str_decode(key, tmp, sizeof tmp, &tl) < 0) {
				return -1;
			}
			for (j = 0; j < k; j++)
				if (aj_str_eq(m[j].key, name, tl))
					return -1;
			m[k].key = key;
			m[k].type = t;
			m[k].raw = raw;
		}
		k++;
		skip_ws(c);
		if (c->i >= c->n)
			return -1;
		if (c->p[c->i] == ',') {
			c->i++;
			continue;
		}
		if (c->p[c->i] == (is_obj ? '}' : ']')) {
			c->i++;
			break;
		}
		return -1;
	}
	if (count)
		*count = k;
	return 0;
}

static int scan_value(aj_cur *c, int depth, aj_type *type, ac_str *raw)
{
	size_t start;

	skip_ws(c);
	if (c->i >= c->n)
		return -1;
	start = c->i;
	switch (c->p[c->i]) {
	case '"':
		*type = AJ_STRING;
		return scan_string(c, raw);
	case '{':
		*type = AJ_OBJECT;
		if (scan_container(c, depth, 1, NULL, 0, NULL) < 0)
			return -1;
		break;
	case '[':
		*type = AJ_ARRAY;
		if (scan_container(c, depth, 0, NULL, 0, NULL) < 0)
			return -1;
		break;
	case 't':
		*type = AJ_TRUE;
		if (scan_lit(c, "true") < 0)
			return -1;
		break;
	case 'f':
		*type = AJ_FALSE;
		if (scan_lit(c, "false") < 0)
			return -1;
		break;
	case 'n':
		*type = AJ_NULL;
		if (scan_lit(c, "null") < 0)
			return -1;
		break;
	default:
		*type = AJ_NUMBER;
		if (scan_number(c) < 0)
			return -1;
		break;
	}
	raw->ptr = c->p + start;
	raw->len = c->i - start;
	return 0;
}

int aj_object(const char *p, size_t n, aj_member *m, size_t cap,
    size_t *count)
{
	aj_cur c = { p, n, 0 };

	skip_ws(&c);
	if (c.i >= c.n || c.p[c.i] != '{')
		return -1;
	if (scan_container(&c, 1, 1, m, cap, count) < 0)
		return -1;
	skip_ws(&c);
	return c.i == c.n ? 0 : -1;
}

/* Decoder for one raw JSON string, yielding bytes one at a time. */
typedef struct {
	const char *p;
	size_t n, i;
	unsigned char pend[4];
	size_t npend, ipend;
} aj_dec;

static uint32_t read_hex4(const char *p)
{
	return (uint32_t)((hexval(p[0]) << 12) | (hexval(p[1]) << 8) |
	    (hexval(p[2]) << 4) | hexval(p[3]));
}

/* Next decoded byte, or -1 at the end / on a bad escape. */
static int dec_next(aj_dec *d)
{
	char ch;

	if (d->ipend < d->npend)
		return d->pend[d->ipend++];
	if (d->i >= d->n)
		return -1;
	ch = d->p[d->i++];
	if (ch != '\\')
		return (unsigned char)ch;
	if (d->i >= d->n)
		return -1;
	ch = d->p[d->i++];
	switch (ch) {
	case 'b': return '\b';
	case 'f': return '\f';
	case 'n': return '\n';
	case 'r': return '\r';
	case 't': return '\t';
	case 'u': {
		uint32_t cp;
		if (d->n - d->i < 4)
			return -1;
		cp = read_hex4(d->p + d->i);
		d->i += 4;
		if (cp >= 0xd800 && cp <= 0xdbff && d->n - d->i >= 6 &&
		    d->p[d->i] == '\\' && d->p[d->i + 1] == 'u') {
			uint32_t lo = read_hex4(d->p + d->i + 2);
			if (lo >= 0xdc00 && lo <= 0xdfff) {
				cp = 0x10000 + ((cp - 0xd800) << 10) +
				    (lo - 0xdc00);
				d->i += 6;
			}
		}
		if (cp >= 0xd800 && cp <= 0xdfff)
			cp = 0xfffd; /* lone surrogate: replacement char */
		d->npend = 0;
		d->ipend = 0;
		if (cp < 0x80) {
			d->pend[d->npend++] = (unsigned char)cp;
		} else if (cp < 0x800) {
			d->pend[d->npend++] = (unsigned char)(0xc0 | (cp >> 6));
			d->pend[d->npend++] = (unsigned char)(0x80 | (cp & 63));
		} else if (cp < 0x10000) {
			d->pend[d->npend++] = (unsigned char)(0xe0 | (cp >> 12));
			d->pend[d->npend++] =
			    (unsigned char)(0x80 | ((cp >> 6) & 63));
			d->pend[d->npend++] = (unsigned char)(0x80 | (cp & 63));
		} else {
			d->pend[d->npend++] = (unsigned char)(0xf0 | (cp >> 18));
			d->pend[d->npend++] =
			    (unsigned char)(0x80 | ((cp >> 12) & 63));
			d->pend[d->npend++] =
			    (unsigned char)(0x80 | ((cp >> 6) & 63));
			d->pend[d->npend++] = (unsigned char)(0x80 | (cp & 63));
		}
		return d->pend[d->ipend++];
	}
	default: return (unsigned char)ch; /* " \ / */
	}
}

int aj_str_eq(ac_str raw, const char *s, size_t len)
{
	aj_dec d;
	size_t i = 0;
	int b;

	/* every escape decodes to fewer bytes than it takes, so a raw text
	 * shorter than s never matches, one of the same length matches only
	 * if it is s itself without escapes, and only a longer one needs
	 * decoding */
	if (raw.len < len)
		return 0;
	/* names are short (claims, members): a plain loop, not a libc call
	 * per comparison */
	if (raw.len == len) {
		for (i = 0; i < len; i++)
			if (raw.ptr[i] != s[i] || raw.ptr[i] == '\\')
				return 0;
		return 1;
	}
	if (!has_escape(raw))
		return 0;
	memset(&d, 0, sizeof d);
	d.p = raw.ptr;
	d.n = raw.len;
	while ((b = dec_next(&d)) >= 0) {
		if (i >= len || (unsigned char)s[i] != (unsigned)b)
			return 0;
		i++;
	}
	return i == len;
}

int aj_str_decode(ac_str raw, char *dst, size_t cap, size_t *len)
{
	aj_dec d;
	size_t i = 0;
	int b;

	if (!has_escape(raw)) {
		if (raw.len > cap)
			return -1;
		if (raw.len)
			memcpy(dst, raw.ptr, raw.len);
		*len = raw.len;
		return 0;
	}
	memset(&d, 0, sizeof d);
	d.p = raw.ptr;
	d.n = raw.len;
	while ((b = dec_next(&d)) >= 0) {
		if (i >= cap)
			return -1;
		dst[i++] = (char)b;
	}
	*len = i;
	return 0;
}

int aj_int64(ac_str raw, int64_t *out)
{
	size_t i = 0;
	int neg = 0;
	uint64_t v = 0, lim;

	if (raw.len == 0)
		return -1;
	if (raw.ptr[0] == '-') {
		neg = 1;
		i = 1;
	}
	if (i >= raw.len)
		return -1;
	lim = neg ? (uint64_t)INT64_MAX + 1u : (uint64_t)INT64_MAX;
	for (; i < raw.len; i++) {
		char ch = raw.ptr[i];
		if (ch < '0' || ch > '9')
			return -1;
		if (v > (lim - (uint64_t)(ch - '0')) / 10u)
			return -1;
		v = v * 10u + (uint64_t)(ch - '0');
	}
	*out = neg ? (int64_t)(0u - v) : (int64_t)v;
	return 0;
}

int aj_array_next(ac_str raw, size_t *pos, aj_type *type, ac_str *elem)
{
	aj_cur c = { raw.ptr, raw.len, *pos };

	if (c.i == 0) {
		c.i = 1; /* past '[' */
		skip_ws(&c);
		if (c.i < c.n && c.p[c.i] == ']')
			return 0;
	} else {
		skip_ws(&c);
		if (c.i >= c.n || c.p[c.i] != ',')
			return 0;
		c.i++;
	}
	if (scan_value(&c, 1, type, elem) < 0)
		return 0;
	*pos = c.i;
	return 1;
}

/* ---- writer */
void aj_w_raw(aj_writer *w, const char *s, size_t n)
{
	if (w->overflow || n > w->cap - w->len) {
		w->overflow = 1;
		return;
	}
	memcpy(w->p + w->len, s, n);
	w->len += n;
}

void aj_w_lit(aj_writer *w, const char *s)
{
	aj_w_raw(w, s, strlen(s));
}

int aj_w_str_max(aj_writer *w, const char *s, size_t n, size_t max)
{
	static const char hex[] = "0123456789abcdef";
	static const char repl[] = "\\ufffd";
	size_t i = 0, used = 0;
	int cut = 0;

	aj_w_raw(w, "\"", 1);
	while (i < n) {
		unsigned char ch = (unsigned char)s[i];
		char e[6];
		const char *out = e;
		size_t len, adv = 1;
		if (ch == '"' || ch == '\\') {
			e[0] = '\\';
			e[1] = (char)ch;
			len = 2;
		} else if (ch < 0x20 || ch == 0x7f) {
			e[0] = '\\';
			e[1] = 'u';
			e[2] = '0';
			e[3] = '0';
			e[4] = hex[ch >> 4];
			e[5] = hex[ch & 15];
			len = 6;
		} else if (ch < 0x80) {
			/* a run of plain ASCII goes out in one copy */
			size_t j = i + 1;
			while (j < n && (unsigned char)s[j] >= 0x20 &&
			    (unsigned char)s[j] < 0x7f && s[j] != '"' &&
			    s[j] != '\\')
				j++;
			out = s + i;
			len = adv = j - i;
			if (used + len > max) {
				len = adv = max - used; /* cut inside the run */
				if (len == 0) {
					cut = 1;
					break;
				}
				aj_w_raw(w, out, len);
				used += len;
				cut = 1;
				break;
			}
		} else if ((adv = utf8_len((const unsigned char *)s, n, i)) != 0) {
			out = s + i;
			len = adv;
		} else {
			/* not UTF-8: JSON text must be, so say so visibly */
			out = repl;
			len = 6;
			adv = 1;
		}
		if (used + len > max) {
			cut = 1;
			break;
		}
		aj_w_raw(w, out, len);
		used += len;
		i += adv;
	}
	aj_w_raw(w, "\"", 1);
	return cut;
}

void aj_w_str(aj_writer *w, const char *s, size_t n)
{
	(void)aj_w_str_max(w, s, n, (size_t)-1);
}

void aj_w_int(aj_writer *w, int64_t v)
{
	char tmp[24];
	size_t i = sizeof tmp;
	uint64_t u = v < 0 ? 0u - (uint64_t)v : (uint64_t)v;

	do {
		tmp[--i] = (char)('0' + (u % 10u));
		u /= 10u;
	} while (u);
	if (v < 0)
		tmp[--i] = '-';
	aj_w_raw(w, tmp + i, sizeof tmp - i);
}
