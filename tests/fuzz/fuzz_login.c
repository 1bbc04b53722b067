/*
 * libFuzzer target: the login parsers (core/ac_read.c, core/ac_identify.c):
 * form-encoded and JSON login bodies, HTTP Basic credentials and the
 * Cookie header, driven through ac_decide_begin with a small login policy
 * (user alice, password "pw", one PBKDF2 iteration so the time goes to
 * parsing) and a state that persists across inputs, and ac_req_cookie.
 *
 * The first byte of the input picks the parser (its low 3 bits: 0-1 form,
 * 2 JSON, 3-4 Basic, 5-6 cookies, 7 the raw Authorization value); the rest
 * is that parser's input.
 *
 * Properties, against readings written here:
 *  - form body: the core refuses (400 invalid_request) exactly the bodies
 *    an x-www-form-urlencoded reading refuses (bad %XX, a field twice,
 *    username or password missing, a username empty, over 128 bytes or with
 *    control bytes, a password over 4096 bytes); otherwise it names the
 *    same user, and logs in exactly when the pair is alice / pw;
 *  - Basic: "Basic " + base64(input): refused as malformed exactly when
 *    the input has no ':' or its user part is empty, over 128 bytes or has
 *    control bytes; otherwise the same user, allowed exactly for alice / pw;
 *  - JSON body: a session only ever for alice;
 *  - cookies: a cookie built here ("a=1; <name>=<value>; b=2") is found
 *    with its value; twice, it is ambiguous (-1); a cookie found in any
 *    header is a non-empty b64token inside that header;
 *  - every decision passes fz_check_decision; Location and HX-Redirect
 *    hold only URL-safe bytes and never start with "//".
 */
#include <stdio.h>
#include <string.h>

#include "authcore.h"
#include "fz.h"

#define MAX 16384

static _Alignas(16) unsigned char pmem[1 << 18];
static const ac_policy *P;
static ac_state S;
static ac_decision dec;
static char b64[2 * MAX + 16], ref_user[MAX], ref_pw[MAX], ref_next[MAX];
static char cookie[MAX + 64];

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char hash[AC_PASSWORD_HASH_MAX + 1], pol[1024];
	uint8_t salt[AC_PASSWORD_SALT_LEN];
	ac_policy_error err;
	size_t hl, used;

	(void)argc;
	(void)argv;
	memset(salt, 3, sizeof salt);
	hl = ac_password_hash(hash, sizeof hash, AC_PBKDF2_SHA256, "pw", 2,
	    salt, 1);
	snprintf(pol, sizeof pol,
	    "{\"realm\":\"fz\",\"sessions\":{\"keys\":[{\"kid\":\"k\",\"secret\":"
	    "\"fuzz-login-session-secret-0123456789ab\"}]},\"users\":[{\"name\":"
	    "\"alice\",\"password_hash\":\"%.*s\",\"roles\":[\"admin\"]}],"
	    "\"login\":{\"prefix\":\"/app\",\"basic\":true,"
	    "\"attempts\":\"100000000/second\"}}", (int)hl, hash);
	P = ac_policy_load(pmem, sizeof pmem, pol, strlen(pol), &used, &err);
	if (P == NULL) {
		fprintf(stderr, "%s: %s\n", err.path, err.message);
		fz_die("login policy refused");
	}
	if (ac_state_init(&S, (const uint8_t *)"fuzz-state-secret-0123456789abcd",
	    32) != 0)
		fz_die("state");
	fz_init("fuzz_login");
	return 0;
}

static int url_safe(ac_str v)
{
	size_t k;

	for (k = 0; k < v.len; k++)
		if ((unsigned char)v.ptr[k] < 0x21 ||
		    (unsigned char)v.ptr[k] >= 0x7f || v.ptr[k] == '"' ||
		    v.ptr[k] == '\\')
			return 0;
	return !(v.len >= 2 && v.ptr[0] == '/' && v.ptr[1] == '/');
}

/* Decides (stepping and resuming a pending check); 1 if a session was
 * issued. */
static int run(const char *method, const char *path, const ac_header *h,
    size_t nh, const char *body, size_t blen)
{
	ac_request r;
	size_t i;
	int session = 0;

	fz_request(&r, method, strlen(method), path, strlen(path), h, nh);
	if (body != NULL) {
		r.body.ptr = body;
		r.body.len = blen;
	}
	fz_begin();
	ac_decide_begin(P, &S, &r, FZ_NOW, (const uint8_t *)"0123456789abcdef", 16,
	    &dec);
	fz_end("ac_decide");
	fz_check_decision(&dec);
	if (dec.a.action == AC_PENDING) {
		fz_begin();
		while (ac_decide_step(&dec, 1000) > 0)
			;
		ac_decide_finish(P, &S, &r, FZ_NOW,
		    (const uint8_t *)"0123456789abcdef", 16, &dec);
		fz_end("ac_decide_finish");
		fz_check_decision(&dec);
		if (dec.a.action == AC_PENDING)
			fz_die("a resumed decision is pending again");
	}
	for (i = 0; i < dec.a.n_resp_headers; i++) {
		const ac_header *x = &dec.a.resp_headers[i];
		if (ac_ascii_ieq(x->name.ptr, x->name.len, "set-cookie", 10) &&
		    x->value.len > 18 &&
		    memcmp(x->value.ptr, "authcore_session=v", 18) == 0)
			session = 1;
		if ((ac_ascii_ieq(x->name.ptr, x->name.len, "location", 8) ||
		    ac_ascii_ieq(x->name.ptr, x->name.len, "hx-redirect", 11)) &&
		    !url_safe(x->value)) {
			fz_dump("location", x->value.ptr, x->value.len);
			fz_die("an unsafe Location");
		}
	}
	if (session && !(dec.a.user.len == 5 && memcmp(dec.a.user.ptr, "alice", 5) == 0))
		fz_die("a session was issued for someone not in the policy");
	return session;
}

static int hexv(int c)
{
	if (c >= '0' && c <= '9') return c - '0';
	if (c >= 'a' && c <= 'f') return c - 'a' + 10;
	if (c >= 'A' && c <= 'F') return c - 'A' + 10;
	return -1;
}

/* x-www-form-urlencoded value; -1 on a bad escape or over cap. */
static long ref_form_decode(const char *s, size_t n, char *out, size_t cap)
{
	size_t i, o = 0;

	for (i = 0; i < n; i++) {
		int c = (unsigned char)s[i];
		if (c == '+') {
			c = ' ';
		} else if (c == '%') {
			if (n - i < 3 || hexv(s[i + 1]) < 0 || hexv(s[i + 2]) < 0)
				return -1;
			c = hexv(s[i + 1]) * 16 + hexv(s[i + 2]);
			i += 2;
		}
		if (o == cap)
			return -1;
		out[o++] = (char)c;
	}
	return (long)o;
}

static int bad_user(const char *u, size_t l)
{
	size_t i;

	if (l == 0 || l > AC_SESSION_USER_MAX)
		return 1;
	for (i = 0; i < l; i++)
		if ((unsigned char)u[i] < 0x20 || u[i] == 0x7f)
			return 1;
	return 0;
}

/* The password "pw" exactly. HMAC pads a key shorter than its 64-byte
 * block with zeros, so "pw" followed by NUL bytes would be the same PBKDF2
 * key: the core refuses NUL in passwords, and this holds it to that. */
static int is_pw(const char *p, size_t l)
{
	return l == 2 && p[0] == 'p' && p[1] == 'w';
}

/* The form body; returns 0 with the user and password, or -1. */
static int ref_form(const char *b, size_t n, long *ul, long *pl)
{
	size_t p = 0;
	int su = 0, sp = 0, sn = 0;

	while (p < n) {
		const char *amp = memchr(b + p, '&', n - p);
		size_t e = amp ? (size_t)(amp - b) : n;
		const char *eq = memchr(b + p, '=', e - p);
		size_t nl = eq ? (size_t)(eq - (b + p)) : e - p;
		const char *v = eq ? eq + 1 : b + e;
		size_t vl = eq ? e - (size_t)(eq - b) - 1 : 0;
		if (nl == 8 && memcmp(b + p, "username", 8) == 0) {
			if (su++ || (*ul = ref_form_decode(v, vl, ref_user, MAX)) < 0)
				return -1;
		} else if (nl == 8 && memcmp(b + p, "password", 8) == 0) {
			if (sp++ || (*pl = ref_form_decode(v, vl, ref_pw, 4096)) < 0)
				return -1;
		} else if (nl == 4 && memcmp(b + p, "next", 4) == 0) {
			if (sn++ || ref_form_decode(v, vl, ref_next, MAX) < 0)
				return -1;
		}
		p = e + 1;
	}
	return su && sp ? 0 : -1;
}

static void form_login(const char *s, size_t n)
{
	ac_header h[2];
	long ul = 0, pl = 0;
	int ok, session;

	if (n > AC_LOGIN_BODY_MAX)
		n = AC_LOGIN_BODY_MAX;
	ok = ref_form(s, n, &ul, &pl) == 0 && !bad_user(ref_user, (size_t)ul);
	fz_hdr(&h[0], "content-type", "application/x-www-form-urlencoded", 33);
	fz_hdr(&h[1], "host", "app.example", 11);
	session = run("POST", "/app/auth/login", h, 2, s, n);
	if (!ok) {
		if (dec.a.reason != AC_INVALID_REQUEST || session) {
			fz_dump("body", s, n);
			fz_die("a login form malformed by the reading here was not refused as invalid_request");
		}
		return;
	}
	if (dec.a.reason == AC_INVALID_REQUEST) {
		fz_dump("body", s, n);
		fz_die("a well-formed login form was refused as invalid_request");
	}
	if (dec.login_user.len != (size_t)ul ||
	    memcmp(dec.login_user.ptr, ref_user, (size_t)ul) != 0) {
		fz_dump("body", s, n);
		fz_dump("core's user", dec.login_user.ptr, dec.login_user.len);
		fz_die("the core read another user from a login form");
	}
	if (session != (ul == 5 && memcmp(ref_user, "alice", 5) == 0 &&
	    is_pw(ref_pw, (size_t)pl)) &&
	    dec.a.reason != AC_TOO_MANY_ATTEMPTS) {
		/* a form whose fields fill the answer's buffer is refused
		 * (413), never answered ok without its cookies */
		if (!session && dec.a.reason == AC_BODY_TOO_LARGE)
			return;
		fz_dump("body", s, n);
		fprintf(stderr, "fuzz_login: status %d reason %s\n", dec.a.status,
		    ac_reason_name(dec.a.reason));
		fz_die(session ? "logged in without alice / pw" :
		    "alice / pw did not log in");
	}
}

static void basic(const char *s, size_t n)
{
	static const char A[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const char *colon = memchr(s, ':', n);
	size_t o = 6, i, cl = colon ? (size_t)(colon - s) : 0;
	ac_header h[2];
	int ok = colon != NULL && !bad_user(s, cl), session;
	int allowed;

	memcpy(b64, "Basic ", 6);
	for (i = 0; i + 2 < n; i += 3) {
		uint32_t v = (uint32_t)(unsigned char)s[i] << 16 |
		    (uint32_t)(unsigned char)s[i + 1] << 8 | (unsigned char)s[i + 2];
		b64[o++] = A[v >> 18];
		b64[o++] = A[v >> 12 & 63];
		b64[o++] = A[v >> 6 & 63];
		b64[o++] = A[v & 63];
	}
	if (n - i == 1) {
		uint32_t v = (uint32_t)(unsigned char)s[i] << 16;
		b64[o++] = A[v >> 18];
		b64[o++] = A[v >> 12 & 63];
		b64[o++] = '=';
		b64[o++] = '=';
	} else if (n - i == 2) {
		uint32_t v = (uint32_t)(unsigned char)s[i] << 16 |
		    (uint32_t)(unsigned char)s[i + 1] << 8;
		b64[o++] = A[v >> 18];
		b64[o++] = A[v >> 12 & 63];
		b64[o++] = A[v >> 6 & 63];
		b64[o++] = '=';
	}
	fz_hdr(&h[0], "authorization", b64, o);
	fz_hdr(&h[1], "host", "app.example", 11);
	session = run("GET", "/app/api/items", h, 2, NULL, 0);
	(void)session;
	if (n == 0 || n > AC_SESSION_USER_MAX + 1 + 4096 + 3)
		return; /* "Basic " trims to no credentials; over the core's
		           buffer: refused, checked as generic */
	if (!ok) {
		if (dec.a.reason != AC_INVALID_REQUEST) {
			fz_dump("credentials", s, n);
			fz_die("malformed Basic credentials not refused as invalid_request");
		}
		return;
	}
	if (dec.a.reason == AC_INVALID_REQUEST || dec.login_user.len != cl ||
	    memcmp(dec.login_user.ptr, s, cl) != 0) {
		fz_dump("credentials", s, n);
		fz_die("the core read another Basic user");
	}
	allowed = dec.a.action == AC_ALLOW;
	if (allowed != (cl == 5 && memcmp(s, "alice", 5) == 0 &&
	    is_pw(s + 6, n - 6)) && dec.a.reason != AC_TOO_MANY_ATTEMPTS) {
		fz_dump("credentials", s, n);
		fz_die(allowed ? "Basic allowed without alice / pw" :
		    "Basic alice / pw not allowed");
	}
}

static int b64token(ac_str v)
{
	size_t k;

	if (v.len == 0)
		return 0;
	for (k = 0; k < v.len; k++) {
		unsigned char c = (unsigned char)v.ptr[k];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
		    c == '~' || c == '+' || c == '/' || c == '='))
			return 0;
	}
	return 1;
}

static int cookie_name(ac_str v)
{
	size_t k;

	if (v.len == 0)
		return 0;
	for (k = 0; k < v.len; k++) {
		unsigned char c = (unsigned char)v.ptr[k];
		if (c <= 0x20 || c >= 0x7f || strchr("()<>@,;:\\\"/[]?={}", c))
			return 0;
	}
	return 1;
}

static void cookies(const char *s, size_t n)
{
	ac_header h[2];
	ac_request r;
	ac_str L[2], name, val = { NULL, 0 };
	int k;
	size_t nl;

	/* the input as the Cookie header, the first line as the name */
	nl = fz_lines(s, n, L, 2);
	name = L[0];
	fz_hdr(&h[0], "cookie", s, n);
	fz_request(&r, "GET", 3, "/", 1, h, 1);
	fz_begin();
	k = ac_req_cookie(&r, name, &val);
	fz_end("ac_req_cookie");
	if (k == 1 && (!b64token(val) || val.ptr < s || val.ptr + val.len > s + n))
		fz_die("a cookie value that is not a b64token inside the header");
	/* built here: name = first line, value = the rest */
	if (nl < 2 || !cookie_name(L[0]) || !b64token(L[1]) ||
	    (L[0].len == 1 && (L[0].ptr[0] == 'a' || L[0].ptr[0] == 'b')))
		goto session;
	{
		int l = snprintf(cookie, sizeof cookie, "a=1; %.*s=%.*s; b=2",
		    (int)L[0].len, L[0].ptr, (int)L[1].len, L[1].ptr);
		fz_hdr(&h[0], "Cookie", cookie, (size_t)l);
		fz_begin();
		k = ac_req_cookie(&r, name, &val);
		fz_end("ac_req_cookie (built)");
		if (k != 1 || val.len != L[1].len ||
		    memcmp(val.ptr, L[1].ptr, val.len) != 0) {
			fz_dump("cookie", cookie, (size_t)l);
			fz_die("a cookie built here is not found with its value");
		}
		/* the same cookie in a second header: ambiguous */
		fz_hdr(&h[1], "cookie", cookie + 5, (size_t)l - 5);
		r.n_headers = 2;
		fz_begin();
		k = ac_req_cookie(&r, name, &val);
		fz_end("ac_req_cookie (twice)");
		if (k != -1)
			fz_die("a cookie sent twice is not ambiguous");
	}
session:
	/* the input as the session cookie's value, through a decision */
	{
		int l = snprintf(cookie, sizeof cookie, "authcore_session=%.*s",
		    (int)(n < MAX ? n : MAX), s);
		fz_hdr(&h[0], "cookie", cookie, (size_t)l);
		fz_hdr(&h[1], "host", "app.example", 11);
		(void)run("GET", "/app/api/items", h, 2, NULL, 0);
	}
}

static void json_login(const char *s, size_t n)
{
	ac_header h[3];

	if (n > AC_LOGIN_BODY_MAX)
		n = AC_LOGIN_BODY_MAX;
	fz_hdr(&h[0], "content-type", "application/json", 16);
	fz_hdr(&h[1], "host", "app.example", 11);
	fz_hdr(&h[2], "hx-request", "true", 4);
	(void)run("POST", "/app/auth/login", h, n & 1 ? 3 : 2, s, n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t n;
	char *c;
	unsigned mode;

	if (size == 0)
		return 0;
	/* the first byte picks the parser, the rest is its input */
	mode = data[0] & 7u;
	n = size - 1 > MAX ? MAX : size - 1;
	c = fz_copy(data + 1, n); /* exact size for every parser */
	switch (mode) {
	case 0: case 1: form_login(c, n); break;
	case 2: json_login(c, n); break;
	case 3: case 4: basic(c, n); break;
	case 5: case 6: cookies(c, n); break;
	default: {
		/* the input as the raw Authorization value */
		ac_header h[1];
		fz_hdr(&h[0], "authorization", c, n);
		(void)run("GET", "/app/api/items", h, 1, NULL, 0);
	}
	}
	fz_free(c);
	return 0;
}
