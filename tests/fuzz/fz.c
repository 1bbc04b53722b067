/* Shared harness for the libFuzzer targets (fz.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sanitizer/allocator_interface.h>

#include <bearssl.h>

#include "fz.h"

const char *fz_name = "fuzz";

/* The hooks only count: a sanitizer or libFuzzer report that allocates
 * while the core runs must not be turned into a second, misleading abort.
 * fz_end checks the count. */
static _Thread_local int in_core;
static _Thread_local size_t heap_calls, heap_last;

static void on_malloc(const volatile void *p, size_t n)
{
	(void)p;
	if (in_core) {
		heap_calls++;
		heap_last = n;
	}
}

static void on_free(const volatile void *p)
{
	if (in_core && p != NULL)
		heap_calls++;
}

void fz_init(const char *name)
{
	fz_name = name;
	if (__sanitizer_install_malloc_and_free_hooks(on_malloc, on_free) == 0)
		fz_die("could not install malloc hooks");
}

void fz_begin(void)
{
	heap_calls = 0;
	in_core = 1;
}

void fz_end(const char *what)
{
	in_core = 0;
	if (heap_calls != 0) {
		fprintf(stderr, "%s: %s: the core made %zu heap calls (last "
		    "malloc size %zu)\n", fz_name, what, heap_calls, heap_last);
		fz_die("the core used the heap");
	}
}

_Noreturn void fz_die(const char *what)
{
	in_core = 0;
	fprintf(stderr, "%s: invariant broken: %s\n", fz_name, what);
	abort();
}

void fz_dump(const char *what, const void *p, size_t n)
{
	const unsigned char *s = p;
	size_t i;
	int was = in_core;

	in_core = 0;
	fprintf(stderr, "%s: %s (%zu bytes): ", fz_name, what, n);
	for (i = 0; i < n && i < 4096; i++) {
		if (s[i] >= 0x20 && s[i] < 0x7f && s[i] != '\\')
			fputc(s[i], stderr);
		else
			fprintf(stderr, "\\x%02x", s[i]);
	}
	fputc('\n', stderr);
	in_core = was;
}

int fz_utf8(const void *p, size_t n)
{
	const unsigned char *s = p;
	size_t i = 0, len, k;
	uint32_t cp;

	while (i < n) {
		unsigned char c = s[i];
		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) len = 2, cp = c & 0x1fu;
		else if (c >= 0xe0 && c <= 0xef) len = 3, cp = c & 0x0fu;
		else if (c >= 0xf0 && c <= 0xf4) len = 4, cp = c & 0x07u;
		else return 0;
		if (n - i < len)
			return 0;
		for (k = 1; k < len; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (s[i + k] & 0x3fu);
		}
		if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
		    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += len;
	}
	return 1;
}

/* A strict RFC 8259 validator, built without the fuzzer's coverage (its
 * output checks are not a search target) and without allocation. */
typedef struct {
	const unsigned char *p;
	size_t n, i;
} jv;

static void jv_ws(jv *v)
{
	while (v->i < v->n && (v->p[v->i] == ' ' || v->p[v->i] == '\t' ||
	    v->p[v->i] == '\n' || v->p[v->i] == '\r'))
		v->i++;
}

static int jv_hex(unsigned char c)
{
	return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f');
}

static int jv_string(jv *v)
{
	if (v->i >= v->n || v->p[v->i] != '"')
		return 0;
	for (v->i++; v->i < v->n; v->i++) {
		unsigned char c = v->p[v->i];
		if (c == '"') {
			v->i++;
			return 1;
		}
		if (c < 0x20)
			return 0;
		if (c == '\\') {
			if (++v->i >= v->n)
				return 0;
			c = v->p[v->i];
			if (c == 'u') {
				if (v->n - v->i < 5 || !jv_hex(v->p[v->i + 1]) ||
				    !jv_hex(v->p[v->i + 2]) || !jv_hex(v->p[v->i + 3]) ||
				    !jv_hex(v->p[v->i + 4]))
					return 0;
				v->i += 4;
			} else if (!strchr("\"\\/bfnrt", c) || c == 0) {
				return 0;
			}
		}
	}
	return 0;
}

static int jv_digits(jv *v)
{
	size_t s = v->i;
	while (v->i < v->n && v->p[v->i] >= '0' && v->p[v->i] <= '9')
		v->i++;
	return v->i > s;
}

static int jv_value(jv *v, int depth)
{
	unsigned char c;

	if (depth > 64)
		return 0;
	jv_ws(v);
	if (v->i >= v->n)
		return 0;
	c = v->p[v->i];
	if (c == '"')
		return jv_string(v);
	if (c == '{' || c == '[') {
		unsigned char close = c == '{' ? '}' : ']';
		v->i++;
		jv_ws(v);
		if (v->i < v->n && v->p[v->i] == close) {
			v->i++;
			return 1;
		}
		for (;;) {
			if (c == '{') {
				jv_ws(v);
				if (!jv_string(v))
					return 0;
				jv_ws(v);
				if (v->i >= v->n || v->p[v->i] != ':')
					return 0;
				v->i++;
			}
			if (!jv_value(v, depth + 1))
				return 0;
			jv_ws(v);
			if (v->i >= v->n)
				return 0;
			if (v->p[v->i] == close) {
				v->i++;
				return 1;
			}
			if (v->p[v->i] != ',')
				return 0;
			v->i++;
		}
	}
	if (c == '-' || (c >= '0' && c <= '9')) {
		if (c == '-')
			v->i++;
		if (v->i < v->n && v->p[v->i] == '0')
			v->i++;
		else if (!jv_digits(v))
			return 0;
		if (v->i < v->n && v->p[v->i] == '.') {
			v->i++;
			if (!jv_digits(v))
				return 0;
		}
		if (v->i < v->n && (v->p[v->i] | 0x20) == 'e') {
			v->i++;
			if (v->i < v->n && (v->p[v->i] == '+' || v->p[v->i] == '-'))
				v->i++;
			if (!jv_digits(v))
				return 0;
		}
		return 1;
	}
	if (v->n - v->i >= 4 && memcmp(v->p + v->i, "true", 4) == 0)
		return v->i += 4, 1;
	if (v->n - v->i >= 5 && memcmp(v->p + v->i, "false", 5) == 0)
		return v->i += 5, 1;
	if (v->n - v->i >= 4 && memcmp(v->p + v->i, "null", 4) == 0)
		return v->i += 4, 1;
	return 0;
}

int fz_json_object(const char *p, size_t n)
{
	jv v = { (const unsigned char *)p, n, 0 };

	jv_ws(&v);
	if (v.i >= n || p[v.i] != '{' || !jv_value(&v, 0))
		return 0;
	jv_ws(&v);
	return v.i == n;
}

/* Output invariants found broken once (both fixed in the core): JSON
 * output must be valid UTF-8 (request bytes that are not UTF-8 once passed
 * through as they were), and every decision but an allow the policy does
 * not audit has an audit line (one that overflowed AC_AUDIT_MAX after
 * escaping was once dropped). */
static char json_out[65536]; /* what wasm/acw.c gives a decision (ACW_OUT_MAX) */

static void check_object(const char *what, const char *p, size_t n)
{
	if (!fz_utf8(p, n)) {
		fz_dump(what, p, n);
		fz_die("JSON output is not valid UTF-8");
	}
	if (!fz_json_object(p, n)) {
		fz_dump(what, p, n);
		fz_die("JSON output is not a JSON object");
	}
}

void fz_check_decision(const ac_decision *d)
{
	size_t n, i, k;

	n = ac_decision_json(d, json_out, sizeof json_out);
	if (n == 0)
		fz_die("decision JSON does not fit the 64 KiB wasm/acw.c gives it");
	check_object("decision JSON", json_out, n);
	if (d->a.audit_len > sizeof d->audit_buf ||
	    (d->a.audit_len > 0 && d->a.audit != d->audit_buf))
		fz_die("audit line past or outside the audit buffer");
	/* only an allow may go without one (the policy's audit.allowed), and
	 * then its audit string is empty */
	if (d->a.audit_len == 0 && d->a.action != AC_ALLOW) {
		fz_dump("decision JSON", json_out, n);
		fz_die("decision has an empty audit line (dropped on overflow)");
	}
	if (d->a.audit_len == 0 && (d->a.audit == NULL || d->a.audit[0] != 0))
		fz_die("a decision without an audit line has a non-empty audit string");
	if (d->a.audit_len > 0)
		check_object("audit line", d->a.audit, d->a.audit_len);
	if (d->a.action == AC_PENDING) {
		if (d->a.status != 0 || d->a.n_resp_headers != 0 || d->a.n_add != 0)
			fz_die("a pending decision carries an answer");
		return;
	}
	/* local answers may be 200 too (login page, whoami) */
	if (d->a.action == AC_ALLOW && d->a.status != 200)
		fz_die("allow without 200");
	if (d->a.action != AC_ALLOW && d->a.action != AC_RESPOND)
		fz_die("an action that is neither allow, respond nor pending");
	if (d->a.n_resp_headers > AC_DECISION_HEADERS_MAX ||
	    d->a.n_add > AC_DECISION_HEADERS_MAX ||
	    d->a.n_remove > AC_DECISION_HEADERS_MAX)
		fz_die("more header changes than AC_DECISION_HEADERS_MAX");
	/* no header a client or upstream gets can be split in two */
	for (i = 0; i < d->a.n_resp_headers + d->a.n_add; i++) {
		const ac_header *h = i < d->a.n_resp_headers ?
		    &d->a.resp_headers[i] : &d->a.add[i - d->a.n_resp_headers];
		for (k = 0; k < h->value.len; k++)
			if (h->value.ptr[k] == '\r' || h->value.ptr[k] == '\n' ||
			    h->value.ptr[k] == 0) {
				fz_dump("header value", h->value.ptr, h->value.len);
				fz_die("CR, LF or NUL in a header value");
			}
	}
	if (d->a.action == AC_ALLOW && d->a.path_rewritten) {
		/* the forwarded target: one line, no bytes a server splits on */
		for (k = 0; k < d->a.path.len; k++)
			if ((unsigned char)d->a.path.ptr[k] <= 0x20 ||
			    d->a.path.ptr[k] == 0x7f) {
				fz_dump("forwarded path", d->a.path.ptr, d->a.path.len);
				fz_die("control byte or space in the forwarded path");
			}
		if (d->a.path.len == 0 || d->a.path.ptr[0] != '/')
			fz_die("forwarded path does not start with '/'");
	}
}

void fz_check_fetch(const ac_fetch *f)
{
	int get = f->method.len == 3 && memcmp(f->method.ptr, "GET", 3) == 0;
	int auth = 0;
	size_t i;

	if (f->url.len < 8 || (memcmp(f->url.ptr, "https://", 8) != 0 &&
	    memcmp(f->url.ptr, "http://", 7) != 0))
		fz_die("asked to fetch a URL that is not http(s)");
	if (f->method.len == 0)
		fz_die("a fetch without a method");
	if (f->n_headers > AC_FETCH_HEADERS_MAX)
		fz_die("more fetch headers than AC_FETCH_HEADERS_MAX");
	for (i = 0; i < f->n_headers; i++)
		auth |= ac_ascii_ieq(f->headers[i].name.ptr,
		    f->headers[i].name.len, "authorization", 13);
	if (f->shareable != (get && f->body.len == 0 && !auth))
		fz_die("a fetch shareable that is not a plain GET, or the "
		    "reverse");
}

fz_reply fz_provider_reply(const ac_fetch *f, const char *jwks,
    const char *conf)
{
	fz_reply rp;
	int keys = f->url.len >= 4 &&
	    memcmp(f->url.ptr + f->url.len - 4, "keys", 4) == 0;

	rp.status = 200;
	rp.ctype = "application/json";
	rp.body = keys ? jwks : conf;
	rp.len = strlen(rp.body);
	return rp;
}

const ac_answer *fz_fetch_run(const ac_policy *P, ac_decision *d,
    ac_jwks_cache *c, const ac_request *r, int64_t now,
    const uint8_t *entropy, size_t entropy_len, int max,
    fz_answer_fn answer, const void *arg, int *fetches, int *rcs)
{
	const ac_answer *a = ac_decision_answer(d);

	*fetches = 0;
	ac_decision_use_jwks(d, c);
	fz_begin();
	ac_decide_begin(P, NULL, r, now, entropy, entropy_len, d);
	fz_end("ac_decide_begin");
	while (a->action == AC_PENDING) {
		fz_reply rp;
		int rc;
		if (a->wait != AC_WAIT_FETCH)
			fz_die("pending on something else than a fetch");
		if (++*fetches > max) {
			char m[64];
			snprintf(m, sizeof m, "a request pending on more than "
			    "%d fetches", max);
			fz_die(m);
		}
		fz_check_fetch(&a->fetch);
		rp = answer(&a->fetch, *fetches, arg);
		fz_begin();
		rc = ac_decide_fetched(d, rp.status, rp.ctype,
		    rp.ctype ? strlen(rp.ctype) : 0, rp.body, rp.len, now);
		ac_decide_finish(P, NULL, r, now, entropy, entropy_len, d);
		fz_end("ac_decide_fetched + ac_decide_finish");
		if (rcs != NULL)
			rcs[*fetches - 1] = rc;
	}
	fz_check_decision(d);
	return a;
}

size_t fz_lines(const char *s, size_t n, ac_str *out, size_t cap)
{
	size_t k = 0, start = 0, i;

	for (i = 0; i < n && k + 1 < cap; i++) {
		if (s[i] == '\n') {
			out[k].ptr = s + start;
			out[k].len = i - start;
			k++;
			start = i + 1;
		}
	}
	out[k].ptr = s + start;
	out[k].len = n - start;
	return k + 1;
}

void fz_hdr(ac_header *h, const char *name, const char *v, size_t n)
{
	h->name.ptr = name;
	h->name.len = strlen(name);
	h->value.ptr = v;
	h->value.len = n;
}

void fz_request(ac_request *r, const char *method, size_t mlen,
    const char *path, size_t plen, const ac_header *h, size_t nh)
{
	memset(r, 0, sizeof *r);
	r->method.ptr = method;
	r->method.len = mlen;
	r->path.ptr = path;
	r->path.len = plen;
	r->client_ip.ptr = "192.0.2.7";
	r->client_ip.len = 9;
	r->headers = h;
	r->n_headers = nh;
}

char *fz_alloc(size_t n)
{
	char *c = malloc(n ? n : 1);

	if (c == NULL)
		fz_die("out of memory (harness)");
	return c;
}

char *fz_copy(const void *p, size_t n)
{
	char *c = fz_alloc(n);

	if (n)
		memcpy(c, p, n);
	return c;
}

void fz_free(char *p)
{
	free(p);
}

size_t fz_mint(char *tok, size_t cap, ac_alg alg, const char *secret,
    const void *hdr, size_t hlen, const void *pl, size_t plen)
{
	const br_hash_class *hash = alg == AC_ALG_HS256 ? &br_sha256_vtable :
	    alg == AC_ALG_HS384 ? &br_sha384_vtable : &br_sha512_vtable;
	br_hmac_key_context kc;
	br_hmac_context hc;
	uint8_t mac[64];
	size_t o, ml;

	if (ac_b64url_encoded_len(hlen) + ac_b64url_encoded_len(plen) + 90 > cap)
		return 0;
	o = ac_b64url_encode(tok, cap, hdr, hlen);
	tok[o++] = '.';
	o += ac_b64url_encode(tok + o, cap - o, pl, plen);
	br_hmac_key_init(&kc, hash, secret, strlen(secret));
	br_hmac_init(&hc, &kc, 0);
	br_hmac_update(&hc, tok, o);
	ml = br_hmac_out(&hc, mac);
	tok[o++] = '.';
	return o + ac_b64url_encode(tok + o, cap - o, mac, ml);
}

void fz_es256_key(fz_es256 *k, const char *seed, char *jwks, size_t cap)
{
	br_hmac_drbg_context rng;
	br_ec_public_key pk;
	uint8_t pbuf[BR_EC_KBUF_PUB_MAX_SIZE];
	char x[48], y[48];

	br_hmac_drbg_init(&rng, &br_sha256_vtable, seed, strlen(seed));
	if (br_ec_keygen(&rng.vtable, br_ec_get_default(), &k->sk, k->kbuf,
	    BR_EC_secp256r1) == 0 || br_ec_compute_pub(br_ec_get_default(),
	    &pk, pbuf, &k->sk) == 0)
		fz_die("key");
	x[ac_b64url_encode(x, sizeof x - 1, pk.q + 1, 32)] = 0;
	y[ac_b64url_encode(y, sizeof y - 1, pk.q + 33, 32)] = 0;
	snprintf(jwks, cap, "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\","
	    "\"kid\":\"k\",\"x\":\"%s\",\"y\":\"%s\"}]}", x, y);
}

size_t fz_es256_sign(const fz_es256 *k, const char *hdr, const char *pl,
    char *tok, size_t cap)
{
	uint8_t hash[32], sig[64];
	br_sha256_context sc;
	size_t n, sl;

	if (ac_b64url_encoded_len(strlen(hdr)) +
	    ac_b64url_encoded_len(strlen(pl)) + 90 > cap)
		fz_die("token buffer");
	n = ac_b64url_encode(tok, cap, hdr, strlen(hdr));
	tok[n++] = '.';
	n += ac_b64url_encode(tok + n, cap - n, pl, strlen(pl));
	br_sha256_init(&sc);
	br_sha256_update(&sc, tok, n);
	br_sha256_out(&sc, hash);
	sl = br_ecdsa_i31_sign_raw(br_ec_get_default(), &br_sha256_vtable,
	    hash, &k->sk, sig);
	if (sl != 64)
		fz_die("signature");
	tok[n++] = '.';
	n += ac_b64url_encode(tok + n, cap - n, sig, sl);
	tok[n] = 0;
	return n;
}
