/*
 * libFuzzer target: the token JSON scanner (core/ac_json.c) that reads
 * every JWS header and payload on the request path: aj_object,
 * aj_str_decode / aj_str_eq, aj_int64, aj_array_next, ac_claim_find and
 * the writer (aj_w_str).
 *
 * Input: the bytes as a document; if a line break comes within the first
 * 64 bytes, the text before it is also a claim path for ac_claim_find over
 * the rest.
 *
 * Properties:
 *  - a document the scanner accepts, cJSON (the policy parser) accepts too,
 *    and where both decode a string member they agree byte for byte;
 *  - member slices lie inside the input; no more members than the cap;
 *  - aj_str_decode fits in raw.len bytes, fails one byte short, and
 *    aj_str_eq(raw, decoded) holds (and fails for a changed last byte);
 *  - aj_int64 accepts exactly -?[0-9]+ in int64 range, with strtoll's value;
 *  - array iteration stays inside the array;
 *  - every top-level member (and one level of nesting) is found by
 *    ac_claim_find under its name, with the same type and raw slice;
 *  - a decoded string written with aj_w_str is a JSON string that decodes
 *    back to the same bytes (valid UTF-8), or to U+FFFD replacements.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "fz.h"

#define MAX 16384

static aj_member mem[AC_JSON_MEMBERS_MAX], sub[AC_JSON_MEMBERS_MAX];
static char dec[MAX], dec2[MAX], wbuf[MAX * 6 + 16], path[2 * AC_NAME_MAX + 2];

static void inside(const char *doc, size_t n, ac_str s, const char *what)
{
	if (s.len > 0 && (s.ptr < doc || s.ptr + s.len > doc + n))
		fz_die(what);
}

/* Decodes raw with every check; returns the decoded length or -1. */
static long check_string(ac_str raw)
{
	size_t l = 0, l2 = 0;
	int r;
	char *d;

	fz_begin();
	r = aj_str_decode(raw, dec, raw.len, &l);
	fz_end("aj_str_decode");
	if (r < 0)
		return -1; /* a bad escape the scanner let through is caught
		              below by the cJSON comparison */
	if (l > raw.len)
		fz_die("aj_str_decode wrote more than raw.len bytes");
	if (l > 0) {
		d = fz_alloc(l - 1);
		fz_begin();
		r = aj_str_decode(raw, d, l - 1, &l2);
		fz_end("aj_str_decode short");
		fz_free(d);
		if (r == 0)
			fz_die("aj_str_decode into one byte too few succeeded");
	}
	fz_begin();
	r = aj_str_eq(raw, dec, l);
	fz_end("aj_str_eq");
	if (r != 1) {
		fz_dump("raw", raw.ptr, raw.len);
		fz_die("aj_str_eq(raw, its own decoding) is not 1");
	}
	if (l > 0) {
		dec[l - 1] ^= 1;
		fz_begin();
		r = aj_str_eq(raw, dec, l);
		fz_end("aj_str_eq");
		dec[l - 1] ^= 1;
		if (r != 0)
			fz_die("aj_str_eq matched a different string");
	}
	/* writer round trip */
	{
		aj_writer w = { wbuf, sizeof wbuf - 16, 0, 0 };
		aj_member m[1];
		size_t cnt, l3 = 0;
		memcpy(wbuf, "{\"k\":", 5);
		w.len = 5;
		fz_begin();
		aj_w_str(&w, dec, l);
		aj_w_raw(&w, "}", 1);
		fz_end("aj_w_str");
		if (w.overflow)
			fz_die("aj_w_str overflowed 6x its input");
		fz_begin();
		r = aj_object(wbuf, w.len, m, 1, &cnt);
		fz_end("aj_object of written");
		if (r != 0 || cnt != 1 || m[0].type != AJ_STRING) {
			fz_dump("written", wbuf, w.len);
			fz_die("aj_w_str wrote a string the scanner refuses");
		}
		fz_begin();
		r = aj_str_decode(m[0].raw, dec2, sizeof dec2, &l3);
		fz_end("aj_str_decode of written");
		if (r != 0)
			fz_die("the written string does not decode");
		if (fz_utf8(dec, l) &&
		    (l3 != l || memcmp(dec, dec2, l) != 0)) {
			fz_dump("decoded", dec, l);
			fz_dump("written", wbuf, w.len);
			fz_die("aj_w_str then decode changed valid UTF-8");
		}
		if (!fz_utf8(dec2, l3))
			fz_die("aj_w_str wrote text that decodes to bad UTF-8");
	}
	return (long)l;
}

static void check_int(ac_str raw)
{
	int64_t v = 0;
	size_t i = raw.ptr[0] == '-';
	int digits = raw.len > i, r;
	char tmp[64];

	for (; i < raw.len; i++)
		if (raw.ptr[i] < '0' || raw.ptr[i] > '9')
			digits = 0;
	fz_begin();
	r = aj_int64(raw, &v);
	fz_end("aj_int64");
	if (!digits) {
		if (r == 0)
			fz_die("aj_int64 accepted a number that is not an integer");
		return;
	}
	if (raw.len >= sizeof tmp) {
		/* more than 63 characters: only leading zeros could fit, and
		 * JSON has none */
		if (r == 0 && raw.len > 21)
			fz_die("aj_int64 accepted a 64+ digit number");
		return;
	}
	memcpy(tmp, raw.ptr, raw.len);
	tmp[raw.len] = 0;
	errno = 0;
	{
		long long ref = strtoll(tmp, NULL, 10);
		int fits = errno != ERANGE;
		if ((r == 0) != fits) {
			fz_dump("number", raw.ptr, raw.len);
			fz_die(r == 0 ? "aj_int64 accepted an out-of-range integer" :
			    "aj_int64 refused an int64 integer");
		}
		if (r == 0 && v != ref)
			fz_die("aj_int64 and strtoll disagree");
	}
}

static void check_array(const char *doc, size_t n, ac_str raw)
{
	size_t pos = 0, k = 0;
	aj_type t;
	ac_str e;

	for (;;) {
		int r;
		size_t before = pos;
		fz_begin();
		r = aj_array_next(raw, &pos, &t, &e);
		fz_end("aj_array_next");
		if (!r)
			break;
		if (pos <= before || pos > raw.len)
			fz_die("aj_array_next did not move forward inside the array");
		inside(doc, n, e, "array element outside the document");
		if (t == AJ_STRING)
			(void)check_string(e);
		else if (t == AJ_NUMBER)
			check_int(e);
		if (++k > n)
			fz_die("more array elements than bytes");
	}
}

static void check_find(const char *doc, size_t n, const char *p, size_t pl,
    aj_type want_t, ac_str want)
{
	ac_str path_s = { p, pl }, raw = { NULL, 0 };
	aj_type t = AJ_NULL;
	int r;

	fz_begin();
	r = ac_claim_find((const uint8_t *)doc, n, path_s, &t, &raw);
	fz_end("ac_claim_find");
	if (r != 1 || t != want_t || raw.ptr != want.ptr || raw.len != want.len) {
		fz_dump("claim path", p, pl);
		fz_die("ac_claim_find does not find a member by its name");
	}
}

/* cJSON's decoding of the same member, where it has one without NUL. */
static void cjson_agree(const cJSON *root, const char *key, size_t kl,
    const aj_member *m, long dl)
{
	const cJSON *it;
	char k0[MAX + 1];

	if (root == NULL || kl > MAX || memchr(key, 0, kl) != NULL)
		return;
	memcpy(k0, key, kl);
	k0[kl] = 0;
	it = cJSON_GetObjectItemCaseSensitive(root, k0);
	if (it == NULL)
		fz_die("cJSON lacks a member the scanner found");
	if (m->type == AJ_STRING && cJSON_IsString(it) && dl >= 0 &&
	    memchr(dec, 0, (size_t)dl) == NULL) {
		if (strlen(it->valuestring) != (size_t)dl ||
		    memcmp(it->valuestring, dec, (size_t)dl) != 0) {
			fz_dump("scanner", dec, (size_t)dl);
			fz_dump("cJSON", it->valuestring, strlen(it->valuestring));
			fz_die("the scanner and cJSON decode a string differently");
		}
	}
}

/* A \uD800-\uDFFF escape: the scanner decodes a lone surrogate as U+FFFD
 * (RFC 8259 §8.2 allows such strings; Python's json takes them), cJSON
 * refuses the document. The only difference allowed. */
static int has_surrogate(const char *p, size_t n)
{
	size_t i;

	for (i = 0; i + 5 < n; i++)
		if (p[i] == '\\' && p[i + 1] == 'u' && (p[i + 2] | 0x20) == 'd' &&
		    ((p[i + 3] >= '8' && p[i + 3] <= '9') ||
		    ((p[i + 3] | 0x20) >= 'a' && (p[i + 3] | 0x20) <= 'f')))
			return 1;
	return 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fz_init("fuzz_json");
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *doc = (const char *)data;
	size_t n = size > MAX ? MAX : size, count = 0, i;
	const char *nl = memchr(doc, '\n', n < 64 ? n : 64);
	cJSON *root;
	int r;

	if (nl != NULL) {
		/* a claim path, then the document */
		ac_str p = { doc, (size_t)(nl - doc) }, raw;
		aj_type t;
		const char *d = nl + 1;
		size_t dn = n - (size_t)(nl - doc) - 1;
		fz_begin();
		r = ac_claim_find((const uint8_t *)d, dn, p, &t, &raw);
		fz_end("ac_claim_find (path from input)");
		if (r == 1)
			inside(d, dn, raw, "claim outside the document");
	}

	fz_begin();
	r = aj_object(doc, n, mem, AC_JSON_MEMBERS_MAX, &count);
	fz_end("aj_object");
	if (r != 0)
		return 0;
	if (count > AC_JSON_MEMBERS_MAX)
		fz_die("more members than the cap");
	root = cJSON_ParseWithLength(doc, n);
	if ((root == NULL || !cJSON_IsObject(root)) && !has_surrogate(doc, n)) {
		fz_dump("document", doc, n);
		fz_die("the scanner accepted a document cJSON refuses");
	}
	for (i = 0; i < count; i++) {
		aj_member *m = &mem[i];
		long kl, dl = -1;
		char key[AC_NAME_MAX];
		inside(doc, n, m->key, "member name outside the document");
		inside(doc, n, m->raw, "member value outside the document");
		kl = check_string(m->key);
		if (kl < 0)
			fz_die("a member name the scanner accepted does not decode");
		if ((size_t)kl > sizeof key)
			kl = -1;
		else
			memcpy(key, dec, (size_t)kl);
		switch (m->type) {
		case AJ_STRING:
			dl = check_string(m->raw);
			if (dl < 0)
				fz_die("a string the scanner accepted does not decode");
			break;
		case AJ_NUMBER:
			check_int(m->raw);
			break;
		case AJ_ARRAY:
			check_array(doc, n, m->raw);
			break;
		default:
			break;
		}
		if (kl < 0)
			continue;
		if (m->type == AJ_STRING)
			dl = check_string(m->raw); /* dec holds the value again */
		cjson_agree(root, key, (size_t)kl, m, dl);
		/* found by name (names with '.' are paths, not names) */
		if (memchr(key, '.', (size_t)kl) != NULL || kl == 0)
			continue;
		check_find(doc, n, key, (size_t)kl, m->type, m->raw);
		if (m->type == AJ_OBJECT && (size_t)kl < AC_NAME_MAX) {
			size_t sc = 0, j;
			fz_begin();
			r = aj_object(m->raw.ptr, m->raw.len, sub,
			    AC_JSON_MEMBERS_MAX, &sc);
			fz_end("aj_object nested");
			if (r != 0)
				continue; /* more members than the cap */
			for (j = 0; j < sc; j++) {
				long sl = check_string(sub[j].key);
				if (sl <= 0 || (size_t)sl >= AC_NAME_MAX ||
				    memchr(dec, '.', (size_t)sl) != NULL)
					continue;
				memcpy(path, key, (size_t)kl);
				path[kl] = '.';
				memcpy(path + kl + 1, dec, (size_t)sl);
				check_find(doc, n, path, (size_t)kl + 1 + (size_t)sl,
				    sub[j].type, sub[j].raw);
			}
		}
	}
	cJSON_Delete(root);
	return 0;
}
