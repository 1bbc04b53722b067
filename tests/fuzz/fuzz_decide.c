/*
 * libFuzzer target: whole decisions (ac_decide, ac_decide_finish) under
 * fixed policies, from one input read several ways:
 *   1. lines as a JOSE header, a payload and a path, *signed* with the
 *      fixed HMAC keys, so the claim checks and the decision see arbitrary
 *      payloads behind a valid signature (and a token ac_jwt_sign_hmac made
 *      never comes back as a signature failure);
 *   2. requests: the bytes as a bearer token, and lines as path,
 *      Authorization value, method and extra headers;
 *   3. sessions, CSRF tokens and API keys;
 *   4. the login flow: login `next` targets and redirected paths, Basic
 *      credentials and login bodies, with pending decisions stepped and
 *      resumed against a state that persists across inputs;
 *   5. rate limits over the store protocol: a local table that persists
 *      across inputs, and arbitrary bytes supplied as the store's groups;
 *   6. session revocation: logouts and an administrator's revocations
 *      against a persisting table, and arbitrary bytes as the group a
 *      session's check reads.
 * Every decision passes fz_check_decision (JSON within 16 KiB, audit line,
 * no CR, LF or NUL in any header value a client or upstream gets).
 * The parsers each have their own, faster target; this one keeps the
 * regress-* inputs of the single target it grew from.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bearssl.h>

#include "authcore.h"
#include "fz.h"

#define FUZZ_MAX 16384 /* bytes of input looked at (-max_len in the suite) */
#define NOW FZ_NOW

/* ---- fixed keys (the corpus tokens are signed with these) ------------ */
static const char HS256_SECRET[] = "fuzz-hs256-secret-0123456789abcdef";
static const char HS384_SECRET[] =
    "fuzz-hs384-secret-0123456789abcdef0123456789abcdef";
static const char HS512_SECRET[] =
    "fuzz-hs512-secret-0123456789abcdef0123456789abcdef0123456789abcdef";
static const char HS256B_SECRET[] = "fuzz-hs256-second-key-abcdefghijklmnop";

static const char RSA_PEM[] =
    "-----BEGIN PUBLIC KEY-----\n"
    "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAxH4XW2vSg5AhR5J2rrBj\n"
    "jiQztGrMDu0XaPzr2SB8mBuJrgWmUYKb8CfqYvcQWntBhXPdpUqzIRhKT9UApaoe\n"
    "CAT3j8I8kx3GNpBG8JkfJfhxOLrxP62YtErG1M2lJniLRYgm04PES8LNe++bfsys\n"
    "m/7/+4j4JwS/ulDIHWEYCx3C43FqDgZmPMd19HEc1fD2UZhb01XIzH23h7nohgN9\n"
    "ci7QBI6LEEGCC+P5i1HOl0DCsJFeYZVojW89/Ww6YHR271ROUteHXB8q0QhUIeZ0\n"
    "zJwviis4bA/oKgKLr+qf0FbVkp49opIwYvLx+/O0Wlnsi/sK1or6wVbtJo+thbnG\n"
    "vwIDAQAB\n"
    "-----END PUBLIC KEY-----\n";
static const char EC_PEM[] =
    "-----BEGIN PUBLIC KEY-----\n"
    "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEX83iSzHT6KI+yHJC/J2BOHkpeoOb\n"
    "HyCvCgFbw1oSovtwXE+5Qmuk5OHtkQeNIMlhtPpWkGkSIrlL22yDzvXIag==\n"
    "-----END PUBLIC KEY-----\n";

/* A valid HS256 token (kid hs256) for NOW: sub alice, roles [reader,admin],
 * iss/aud as in FIXED_POLICY, exp 2000000000. Used where the input is the
 * policy or the keys, not the token. */
static char fixed_token[512];
static size_t fixed_token_len;

static const char FIXED_POLICY[] =
    "{\"realm\":\"fuzz\",\"jwt\":{\"keys\":["
    "{\"kid\":\"hs256\",\"alg\":\"HS256\",\"secret\":\"fuzz-hs256-secret-0123456789abcdef\"},"
    "{\"kid\":\"hs384\",\"alg\":\"HS384\",\"secret\":\"fuzz-hs384-secret-0123456789abcdef0123456789abcdef\"},"
    "{\"alg\":\"HS512\",\"secret\":\"fuzz-hs512-secret-0123456789abcdef0123456789abcdef0123456789abcdef\"}],"
    "\"issuer\":\"https://issuer.example\",\"audience\":[\"api\",\"dashboard\"],"
    "\"leeway\":60,\"require_exp\":true,\"user_claim\":\"sub\",\"roles_claim\":\"roles\"},"
    "\"identity_headers\":{\"user\":\"x-authcore-user\",\"roles\":\"x-authcore-roles\"},"
    "\"public\":[\"/healthz\",\"/static/*\"],"
    "\"rules\":[{\"methods\":[\"POST\",\"DELETE\"],\"path\":\"/api/admin/*\",\"role\":\"admin\"},"
    "{\"path\":\"/api/*\",\"role\":\"reader\"},{\"path\":\"/x/*/y\"}],"
    "\"default\":\"authenticated\"}";

/* Second fixed policy: default deny, no issuer/audience, custom claims,
 * roles earned from claims, API keys also read from Authorization: Bearer
 * (beside JWTs there), and browsers sent to a login_url. */
static const char FIXED_POLICY_DENY[] =
    "{\"jwt\":{\"keys\":["
    "{\"alg\":\"HS256\",\"secret\":\"fuzz-hs256-secret-0123456789abcdef\"},"
    "{\"kid\":\"hs384\",\"alg\":\"HS384\",\"secret\":\"fuzz-hs384-secret-0123456789abcdef0123456789abcdef\"}],"
    "\"require_exp\":false,\"user_claim\":\"email\",\"roles_claim\":\"groups\","
    "\"role_claims\":[{\"claim\":\"is_admin\",\"equals\":true,\"role\":\"reader\"},"
    "{\"claim\":\"org.role\",\"equals\":\"viewer\",\"role\":\"viewer\"},"
    "{\"claim\":\"ro\",\"equals\":false,\"role\":\"writer\"}]},"
    "\"api_keys\":{\"bearer\":true,\"keys\":[{\"name\":\"old\",\"role\":\"reader\","
    "\"sha256\":\"8a2b8d1aa56b9f3d2fa4cb3ac2b1e9cbd9c5c9b1b1a5f56e3d14bb2c3b6d2ad0\"}]},"
    "\"login_url\":\"https://idp.example/login?a=b\","
    "\"rules\":[{\"methods\":[\"GET\"],\"path\":\"/api/*\",\"role\":\"reader\"}],"
    "\"default\":\"deny\"}";

/* Third fixed policy, built at start (the PEMs need JSON escapes): RS256
 * and ES256 keys from PEM, token sources (header with prefix, cookie,
 * query, bare header, a Sec-WebSocket-Protocol entry), claims copied to
 * headers, typ and max_age. */
static char policy3[4096];
static size_t policy3_len;

static void p3_put(const char *s, int escape)
{
	for (; *s && policy3_len + 3 < sizeof policy3; s++) {
		if (escape && *s == '\n') {
			policy3[policy3_len++] = '\\';
			policy3[policy3_len++] = 'n';
		} else {
			policy3[policy3_len++] = *s;
		}
	}
	policy3[policy3_len] = 0;
}

static void build_policy3(void)
{
	p3_put("{\"realm\":\"fuzz3\",\"jwt\":{\"keys\":["
	    "{\"kid\":\"rs\",\"alg\":\"RS256\",\"pem\":\"", 0);
	p3_put(RSA_PEM, 1);
	p3_put("\"},{\"kid\":\"es\",\"alg\":\"ES256\",\"pem\":\"", 0);
	p3_put(EC_PEM, 1);
	p3_put("\"},{\"kid\":\"hs256\",\"alg\":\"HS256\",\"secret\":\"", 0);
	p3_put(HS256_SECRET, 0);
	p3_put("\"}],\"algorithms\":[\"RS256\",\"ES256\",\"HS256\"],"
	    "\"sources\":[{\"header\":\"authorization\",\"prefix\":\"Bearer\"},"
	    "{\"cookie\":\"session\"},{\"query\":\"access_token\"},"
	    "{\"header\":\"x-token\"},{\"protocol\":\"bearer.\"}],"
	    "\"claims_to_headers\":[{\"claim\":\"email\",\"header\":\"x-user-email\"},"
	    "{\"claim\":\"tenant\",\"header\":\"x-tenant\"}],"
	    "\"issuer\":\"https://issuer.example\",\"audience\":\"api\","
	    "\"typ\":\"JWT\",\"max_age\":86400,\"leeway\":5},"
	    "\"rules\":[{\"path\":\"/api/*\",\"role\":\"reader\"}],"
	    "\"default\":\"deny\"}", 0);
}

/* ---- static state -------------------------------------------------- */
static ac_jwt_key keys[8];
static size_t n_keys;
static ac_jwt_checks checks_strict, checks_lax;
static _Alignas(16) uint8_t fixed_mem[3][1 << 20];
static const ac_policy *fixed_policy[3];
static int n_fixed = 2;

static ac_jwt_result res;
static ac_decision dec;
static ac_policy_error perr;
static char tok[3 * FUZZ_MAX];
static char line_buf[FUZZ_MAX + 16];
static ac_header hdrs[AC_HEADERS_MAX + 4];

#define die fz_die
#define dump fz_dump
#define split_lines fz_lines
#define set_hdr fz_hdr

static void check_decision_json(void)
{
	fz_check_decision(&dec);
}

/* ac_decide, then the checks (each stage runs in the no-heap window). */
static void decide_req(const ac_policy *P, ac_state *S, const ac_request *r)
{
	ac_decide_begin(P, S, r, NOW, (const uint8_t *)"0123456789abcdef", 16, &dec);
	check_decision_json();
}

static void decide(const ac_policy *P, const char *method, size_t mlen,
    const char *path, size_t plen, const ac_header *h, size_t nh)
{
	ac_request r;

	fz_request(&r, method, mlen, path, plen, h, nh);
	r.https = (int)(plen & 1);
	decide_req(P, NULL, &r);
}

/* ---- helpers ------------------------------------------------------- */
int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const char fixed_payload[] =
	    "{\"sub\":\"alice\",\"iss\":\"https://issuer.example\","
	    "\"aud\":\"api\",\"exp\":2000000000,\"iat\":1700000000,"
	    "\"roles\":[\"reader\",\"admin\"]}";
	size_t used;
	(void)argc;
	(void)argv;

	if (ac_jwt_key_hmac(&keys[n_keys++], AC_ALG_HS256,
	    (const uint8_t *)HS256_SECRET, strlen(HS256_SECRET), "hs256", 5) ||
	    ac_jwt_key_hmac(&keys[n_keys++], AC_ALG_HS256,
	    (const uint8_t *)HS256B_SECRET, strlen(HS256B_SECRET), "k2", 2) ||
	    ac_jwt_key_hmac(&keys[n_keys++], AC_ALG_HS384,
	    (const uint8_t *)HS384_SECRET, strlen(HS384_SECRET), "hs384", 5) ||
	    ac_jwt_key_hmac(&keys[n_keys++], AC_ALG_HS512,
	    (const uint8_t *)HS512_SECRET, strlen(HS512_SECRET), NULL, 0))
		die("fixed HMAC keys refused");
	if (ac_jwt_key_pem(&keys[n_keys], AC_ALG_RS256, RSA_PEM,
	    strlen(RSA_PEM), "rs", 2) != 0 ||
	    ac_jwt_key_pem(&keys[n_keys + 1], AC_ALG_ES256, EC_PEM,
	    strlen(EC_PEM), "es", 2) != 0)
		die("fixed PEM keys refused");
	n_keys += 2;
	ac_jwt_checks_init(&checks_lax);
	ac_jwt_checks_init(&checks_strict);
	checks_strict.leeway = 60;
	checks_strict.require_exp = 1;
	checks_strict.issuer.ptr = "https://issuer.example";
	checks_strict.issuer.len = strlen(checks_strict.issuer.ptr);
	checks_strict.audiences[0].ptr = "api";
	checks_strict.audiences[0].len = 3;
	checks_strict.audiences[1].ptr = "dashboard";
	checks_strict.audiences[1].len = 9;
	checks_strict.n_audiences = 2;

	fixed_policy[0] = ac_policy_load(fixed_mem[0], sizeof fixed_mem[0],
	    FIXED_POLICY, strlen(FIXED_POLICY), &used, &perr);
	if (fixed_policy[0] == NULL) {
		fprintf(stderr, "%s: %s\n", perr.path, perr.message);
		die("FIXED_POLICY refused");
	}
	fixed_policy[1] = ac_policy_load(fixed_mem[1], sizeof fixed_mem[1],
	    FIXED_POLICY_DENY, strlen(FIXED_POLICY_DENY), &used, &perr);
	if (fixed_policy[1] == NULL) {
		fprintf(stderr, "%s: %s\n", perr.path, perr.message);
		die("FIXED_POLICY_DENY refused");
	}
	build_policy3();
	fixed_policy[2] = ac_policy_load(fixed_mem[2], sizeof fixed_mem[2],
	    policy3, policy3_len, &used, &perr);
	if (fixed_policy[2] == NULL) {
		fprintf(stderr, "%s: %s\n", perr.path, perr.message);
		die("third fixed policy refused");
	}
	n_fixed = 3;
	fixed_token_len = ac_jwt_sign_hmac(fixed_token, sizeof fixed_token,
	    AC_ALG_HS256, (const uint8_t *)HS256_SECRET, strlen(HS256_SECRET),
	    "hs256", 5, fixed_payload, strlen(fixed_payload));
	if (fixed_token_len == 0 ||
	    ac_jwt_verify(keys, n_keys, &checks_strict, fixed_token,
	    fixed_token_len, NOW, &res) != AC_OK)
		die("fixed token does not verify");

	fz_init("fuzz_decide");
	return 0;
}

/* Lines: header JSON, payload JSON, path. One line: the payload under a
 * plain HS256 header. Each HMAC key signs; the core must accept its own. */
static void stage_signed(const char *s, size_t n)
{
	static const char def_hdr[] = "{\"alg\":\"HS256\",\"kid\":\"hs256\"}";
	static const struct { ac_alg alg; const char *secret; } K[] = {
		{ AC_ALG_HS256, HS256_SECRET },
		{ AC_ALG_HS384, HS384_SECRET },
		{ AC_ALG_HS512, HS512_SECRET },
	};
	ac_str L[4];
	const char *hdr = def_hdr, *pl = s;
	size_t hl = strlen(def_hdr), pll = n, nl, tl, i;
	ac_header h[3];
	const char *path = "/api/items";
	size_t path_len = 10;

	nl = split_lines(s, n, L, 4);
	if (nl >= 2) {
		hdr = L[0].ptr;
		hl = L[0].len;
		pl = L[1].ptr;
		pll = L[1].len;
	}
	if (nl >= 3) {
		path = L[2].ptr;
		path_len = L[2].len;
	}
	for (i = 0; i < 3; i++) {
		if (nl < 2 && i > 0)
			break;
		tl = fz_mint(tok, sizeof tok, K[i].alg, K[i].secret, hdr, hl, pl, pll);
		if (tl == 0)
			continue;
		(void)!ac_jwt_verify(keys, n_keys, &checks_strict, tok, tl,
		    NOW, &res);
		(void)!ac_jwt_verify(keys, n_keys, &checks_lax, tok, tl,
		    NOW + (int64_t)(n * 977), &res);
		memcpy(line_buf, "Bearer ", 7);
		if (tl + 7 <= sizeof line_buf) {
			memcpy(line_buf + 7, tok, tl);
			set_hdr(&h[0], "Authorization", line_buf, tl + 7);
			set_hdr(&h[1], "X-Authcore-User", "mallory", 7);
			set_hdr(&h[2], "x-authcore-roles", "admin", 5);
			decide(fixed_policy[0], "GET", 3, path, path_len, h, 3);
			decide(fixed_policy[1], "GET", 3, path, path_len, h, 1);
			if (n_fixed > 2) {
				set_hdr(&h[1], "x-user-email", "spoof", 5);
				decide(fixed_policy[2], "GET", 3, path,
				    path_len, h, 3);
			}
		}
	}

	/* the core's own signer: never bad_signature on what it signed */
	tl = ac_jwt_sign_hmac(tok, sizeof tok, AC_ALG_HS384,
	    (const uint8_t *)HS384_SECRET, strlen(HS384_SECRET), "hs384", 5,
	    pl, pll);
	if (tl > 0) {
		ac_reason r = ac_jwt_verify(keys, n_keys, &checks_lax, tok, tl,
		    NOW, &res);
		if (r == AC_BAD_SIGNATURE || r == AC_ALG_NOT_ALLOWED ||
		    r == AC_UNKNOWN_KID || r == AC_HEADER_NOT_ALLOWED ||
		    r == AC_CRIT_UNSUPPORTED)
			die("a token ac_jwt_sign_hmac made fails its signature");
	}
}

/* The bytes as a bearer token; then lines as path, Authorization value,
 * method and "name: value" headers. */
static void stage_requests(const char *s, size_t n)
{
	ac_str L[AC_HEADERS_MAX + 8];
	size_t nl, nh = 0, i;
	const char *method = "GET";
	size_t mlen = 3;
	int pi;

	if (n + 7 <= sizeof line_buf) {
		memcpy(line_buf, "Bearer ", 7);
		memcpy(line_buf + 7, s, n);
		set_hdr(&hdrs[0], "authorization", line_buf, n + 7);
		decide(fixed_policy[0], "GET", 3, "/api/items", 10, hdrs, 1);
	}

	nl = split_lines(s, n, L, sizeof L / sizeof L[0]);
	if (nl >= 2) {
		hdrs[nh].name.ptr = "Authorization";
		hdrs[nh].name.len = 13;
		hdrs[nh].value = L[1];
		nh++;
	}
	if (nl >= 3 && L[2].len > 0) {
		method = L[2].ptr;
		mlen = L[2].len;
	}
	for (i = 3; i < nl && nh < sizeof hdrs / sizeof hdrs[0]; i++) {
		const char *c = memchr(L[i].ptr, ':', L[i].len);
		size_t k = c ? (size_t)(c - L[i].ptr) : L[i].len;
		hdrs[nh].name.ptr = L[i].ptr;
		hdrs[nh].name.len = k;
		hdrs[nh].value.ptr = c ? c + 1 : L[i].ptr + k;
		hdrs[nh].value.len = c ? L[i].len - k - 1 : 0;
		nh++;
	}
	for (pi = 0; pi < n_fixed; pi++) {
		ac_request r;
		memset(&r, 0, sizeof r);
		r.method.ptr = method;
		r.method.len = mlen;
		r.path = L[0];
		r.headers = hdrs;
		r.n_headers = nh > AC_HEADERS_MAX ? AC_HEADERS_MAX : nh;
		r.too_many_headers = nh > AC_HEADERS_MAX;
		r.https = pi & 1;
		ac_decide_begin(fixed_policy[pi], NULL, &r, NOW, NULL, 0, &dec);
		check_decision_json();
	}
}

/* 7. Sessions, CSRF and API keys: the input as a session token, as the
 *    payload of a correctly MACed session token (so the payload parser is
 *    reached), as a CSRF header, as an API key, and split into a resource
 *    pattern and a resource. */
static void stage_session(const char *s, size_t n)
{
	static ac_session_key keys[2];
	static ac_apikey_entry tab[2];
	static ac_session sess;
	static int ready;
	static char tok[4096], b64[4096];
	static const char ctx[] = "authcore-session-v1";
	br_hmac_key_context kc;
	br_hmac_context hc;
	unsigned char mac[32];
	size_t o, half;
	ac_reason r;

	if (!ready) {
		static const char k1[] = "fuzz-session-key-one-0123456789abcdef";
		static const char k2[] = "fuzz-session-key-two-0123456789abcdef";
		if (ac_session_key_init(&keys[0], (const uint8_t *)k1,
		    sizeof k1 - 1, "s1", 2) != 0 ||
		    ac_session_key_init(&keys[1], (const uint8_t *)k2,
		    sizeof k2 - 1, "s2", 2) != 0 ||
		    ac_apikey_hash_parse(tab[0].hash, "0000000000000000000000000000000000000000000000000000000000000000", 64) != 0)
			die("session stage setup");
		tab[0].name.ptr = "a";
		tab[0].name.len = 1;
		tab[0].resources[0].ptr = "/r/*";
		tab[0].resources[0].len = 4;
		tab[0].n_resources = 1;
		tab[1] = tab[0];
		tab[1].hash[0] = 1;
		ready = 1;
	}
	r = ac_session_verify(keys, 2, s, n, NOW, &sess);
	if (r == AC_OK) {
		if (sess.user.len == 0 || sess.user.len > 128 || sess.n_roles > 16)
			die("session verified with out-of-range fields");
		(void)ac_csrf_check(keys, 2, s, n, s, n);
	}
	/* a MACed token around the input as payload */
	if (n <= 2000) {
		o = ac_b64url_encode(b64, sizeof b64, s, n);
		if (o > 0 || n == 0) {
			int l = snprintf(tok, sizeof tok, "v1.s1.%.*s", (int)o, b64);
			if (l > 0 && (size_t)l + 45 < sizeof tok) {
				br_hmac_key_init(&kc, &br_sha256_vtable,
				    "fuzz-session-key-one-0123456789abcdef", 37);
				br_hmac_init(&hc, &kc, 0);
				br_hmac_update(&hc, ctx, sizeof ctx); /* with its NUL */
				br_hmac_update(&hc, tok, (size_t)l);
				br_hmac_out(&hc, mac);
				tok[l] = '.';
				o = ac_b64url_encode(tok + l + 1, sizeof tok - (size_t)l - 1,
				    mac, 32);
				r = ac_session_verify(keys, 2, tok, (size_t)l + 1 + o,
				    NOW, &sess);
				if (r == AC_BAD_SIGNATURE || r == AC_UNKNOWN_KID)
					die("a correctly MACed session token failed its MAC");
			}
		}
	}
	(void)ac_apikey_lookup(tab, 2, s, n);
	half = n / 2;
	(void)ac_resource_match(s, half, s + half, n - half);
	(void)ac_resource_allowed(&tab[0], s, n);
}

/* 8. The login flow: the input as a form body and as a JSON body of a
 *    login post, as Basic credentials (encoded and raw), as a login page's
 *    `next` and as a protected path a browser is redirected from. Pending
 *    decisions are stepped and resumed. The state persists across inputs,
 *    so its tables fill and evict. A login may only ever issue a session
 *    for a user of the policy; a redirect's Location holds only URL-safe
 *    bytes. */
static const char LOGIN_POLICY_HEAD[] =
    "{\"realm\":\"fz\",\"sessions\":{\"keys\":[{\"kid\":\"k\",\"secret\":"
    "\"fuzz-login-session-secret-0123456789ab\"}]},\"users\":[{\"name\":\"alice\","
    "\"password_hash\":\"";
static const char LOGIN_POLICY_TAIL[] =
    "\",\"roles\":[\"admin\"]}],\"login\":{\"prefix\":\"/app\",\"basic\":true,"
    "\"attempts\":\"1000/minute\",\"landing\":\"/app/home?tab=1\","
    "\"whoami\":\"/api/auth/whoami\"},\"login_url\":\"/app/auth/login\"}";

static void login_decide(const ac_policy *P, ac_state *S, const char *method,
    const char *path, size_t plen, const ac_header *h, size_t nh,
    const char *body, size_t blen)
{
	ac_request r;
	size_t i;

	memset(&r, 0, sizeof r);
	r.method.ptr = method;
	r.method.len = strlen(method);
	r.path.ptr = path;
	r.path.len = plen;
	r.client_ip.ptr = "192.0.2.9";
	r.client_ip.len = 9;
	r.headers = h;
	r.n_headers = nh;
	if (blen > AC_LOGIN_BODY_MAX)
		r.body_too_large = 1;
	else {
		r.body.ptr = body;
		r.body.len = blen;
	}
	ac_decide_begin(P, S, &r, NOW, (const uint8_t *)"0123456789abcdef", 16, &dec);
	check_decision_json();
	if (dec.a.action == AC_PENDING) {
		while (ac_decide_step(&dec, 1000) > 0)
			;
		ac_decide_finish(P, S, &r, NOW, (const uint8_t *)"0123456789abcdef",
		    16, &dec);
		check_decision_json();
		if (dec.a.action == AC_PENDING)
			die("a resumed decision is pending again for the same request");
	}
	for (i = 0; i < dec.a.n_resp_headers; i++) {
		const ac_header *x = &dec.a.resp_headers[i];
		size_t k;
		if (ac_ascii_ieq(x->name.ptr, x->name.len, "set-cookie", 10) &&
		    x->value.len > 17 && memcmp(x->value.ptr, "authcore_session=v", 18) == 0 &&
		    !(dec.a.user.len == 5 && memcmp(dec.a.user.ptr, "alice", 5) == 0))
			die("a session was issued for someone not in the policy");
		if (ac_ascii_ieq(x->name.ptr, x->name.len, "location", 8))
			for (k = 0; k < x->value.len; k++)
				if ((unsigned char)x->value.ptr[k] < 0x21 ||
				    (unsigned char)x->value.ptr[k] >= 0x7f ||
				    x->value.ptr[k] == '"' || x->value.ptr[k] == '\\' ||
				    (k == 1 && x->value.ptr[0] == '/' &&
				    x->value.ptr[1] == '/'))
					die("an unsafe Location");
	}
}

/* A stage's policy pol, loaded into mem, and its state S seeded; with
 * tmem, the policy's table placed in it (*T). Dies naming the stage. */
static const ac_policy *stage_setup(const char *what, void *mem, size_t cap,
    const char *pol, ac_state *S, void *tmem, size_t tcap, ac_table **T)
{
	size_t used;
	ac_policy_error err;
	const ac_policy *P = ac_policy_load(mem, cap, pol, strlen(pol), &used,
	    &err);

	if (P == NULL || ac_state_init(S, (const uint8_t *)
	    "fuzz-state-secret-0123456789abcd", 32) != 0 ||
	    (tmem != NULL && (*T = ac_table_init(tmem, tcap, P)) == NULL))
		die(what);
	return P;
}

static void stage_login(const char *s, size_t n)
{
	static unsigned char mem[1 << 16];
	static const ac_policy *P;
	static ac_state S;
	static char b64[2 * FUZZ_MAX + 16], path[FUZZ_MAX + 64];
	static int ready;
	ac_header h[3];
	size_t o;

	if (!ready) {
		char hash[AC_PASSWORD_HASH_MAX + 1], pol[1024];
		uint8_t salt[AC_PASSWORD_SALT_LEN];
		size_t hl;
		memset(salt, 3, sizeof salt);
		/* one iteration: the fuzzer should spend its time parsing */
		hl = ac_password_hash(hash, sizeof hash, AC_PBKDF2_SHA256, "pw", 2,
		    salt, 1);
		hash[hl] = 0;
		snprintf(pol, sizeof pol, "%s%s%s", LOGIN_POLICY_HEAD, hash,
		    LOGIN_POLICY_TAIL);
		P = stage_setup("login stage setup", mem, sizeof mem, pol, &S,
		    NULL, 0, NULL);
		ready = 1;
	}
	set_hdr(&h[0], "content-type", "application/x-www-form-urlencoded", 33);
	login_decide(P, &S, "POST", "/app/auth/login", 15, h, 1, s, n);
	set_hdr(&h[0], "content-type", "application/json", 16);
	set_hdr(&h[1], "hx-request", "true", 4);
	login_decide(P, &S, "POST", "/app/auth/login", 15, h, 2, s, n);
	memcpy(b64, "Basic ", 6);
	o = n <= FUZZ_MAX ? ac_b64url_encode(b64 + 6, sizeof b64 - 6, s, n) : 0;
	/* base64url to standard base64, padded */
	{
		size_t k;
		for (k = 6; k < 6 + o; k++)
			b64[k] = b64[k] == '-' ? '+' : b64[k] == '_' ? '/' : b64[k];
		while (o % 4)
			b64[6 + o++] = '=';
	}
	set_hdr(&h[0], "authorization", b64, 6 + o);
	login_decide(P, &S, "GET", "/app/api", 8, h, 1, NULL, 0);
	set_hdr(&h[0], "authorization", s, n);
	login_decide(P, &S, "GET", "/app/api", 8, h, 1, NULL, 0);
	set_hdr(&h[0], "accept", "text/html", 9);
	o = (size_t)snprintf(path, sizeof path, "/app/auth/login?next=%.*s",
	    (int)n, s);
	login_decide(P, &S, "GET", path, o < sizeof path ? o : sizeof path - 1,
	    h, 1, NULL, 0);
	o = (size_t)snprintf(path, sizeof path, "/app/%.*s", (int)n, s);
	login_decide(P, &S, "GET", path, o < sizeof path ? o : sizeof path - 1,
	    h, 1, NULL, 0);
	login_decide(P, &S, "POST", "/app/auth/logout", 16, h, 1, NULL, 0);
}

/* ---- 5. rate limits: lines as path, client address, tenant header,
 *    bearer payload (signed) and method, decided through a local table
 *    that persists across inputs (its groups fill and evict); then the
 *    same request by hand with the input's bytes supplied as every group
 *    (arbitrary store contents). A 429 carries Retry-After of at least
 *    1 s; writes are whole groups under "g<index>" keys; a finished
 *    decision is never pending on the store again for the same entries. */
static void rl_check(void)
{
	size_t i;

	check_decision_json();
	if (dec.a.action == AC_PENDING)
		return;
	if (dec.a.status == 429) {
		int retry = 0;
		for (i = 0; i < dec.a.n_resp_headers; i++)
			if (ac_str_eq(dec.a.resp_headers[i].name, "retry-after", 11) &&
			    dec.a.resp_headers[i].value.len > 0 &&
			    dec.a.resp_headers[i].value.ptr[0] != '0')
				retry = 1;
		if (!retry)
			die("a 429 without a Retry-After of at least 1");
	}
	if (dec.a.n_writes > AC_STORE_OPS_MAX)
		die("more writes than AC_STORE_OPS_MAX");
	for (i = 0; i < dec.a.n_writes; i++)
		if (dec.a.writes[i].len != AC_STORE_VALUE_MAX ||
		    dec.a.writes[i].key.len < 2 ||
		    dec.a.writes[i].key.ptr[0] != 'g')
			die("a write that is not a whole group under a g<index> key");
}

static void stage_ratelimit(const char *s, size_t n)
{
	static unsigned char mem[1 << 16];
	static uint64_t tmem[(4096 * 32 + 64) / 8];
	static const ac_policy *P;
	static ac_table *T;
	static ac_state S;
	static int ready;
	static char tok[AC_TOKEN_MAX], bearer[AC_TOKEN_MAX + 8];
	static const char pol[] =
	    "{\"jwt\":{\"keys\":[{\"alg\":\"HS256\",\"secret\":"
	    "\"fuzz-hs256-secret-0123456789abcdef\"}],\"require_exp\":false},"
	    "\"public\":[\"/open*\"],\"rate_limits\":{\"limits\":["
	    "{\"path\":\"/open*\",\"key\":\"client\",\"limit\":\"3/minute\"},"
	    "{\"key\":\"header:x-tenant\",\"limit\":\"2/second;5/hour\"},"
	    "{\"methods\":[\"POST\"],\"key\":\"user\",\"limit\":\"1/minute\"},"
	    "{\"key\":\"role\",\"limit\":\"4/minute\"}],"
	    "\"default\":{\"key\":\"client\",\"limit\":\"10/minute\"},"
	    "\"store\":4096,\"headers\":true}}";
	ac_str ln[5];
	ac_header h[2];
	ac_request r;
	size_t nl, nh = 0, tl, i;
	static const char hdr[] = "{\"alg\":\"HS256\"}";

	if (!ready) {
		P = stage_setup("rate-limit stage setup", mem, sizeof mem, pol,
		    &S, tmem, sizeof tmem, &T);
		ready = 1;
	}
	memset(ln, 0, sizeof ln);
	nl = split_lines(s, n, ln, 5);
	memset(&r, 0, sizeof r);
	r.method.ptr = nl > 4 && ln[4].len ? ln[4].ptr : "GET";
	r.method.len = nl > 4 && ln[4].len ? ln[4].len : 3;
	r.path.ptr = nl > 0 ? ln[0].ptr : "/";
	r.path.len = nl > 0 ? ln[0].len : 1;
	r.client_ip.ptr = nl > 1 ? ln[1].ptr : "";
	r.client_ip.len = nl > 1 ? ln[1].len : 0;
	if (nl > 2 && ln[2].len)
		set_hdr(&h[nh++], "x-tenant", ln[2].ptr, ln[2].len);
	if (nl > 3 && (tl = fz_mint(tok, sizeof tok, AC_ALG_HS256,
	    HS256_SECRET, hdr, sizeof hdr - 1, ln[3].ptr, ln[3].len)) > 0) {
		memcpy(bearer, "Bearer ", 7);
		memcpy(bearer + 7, tok, tl);
		set_hdr(&h[nh++], "authorization", bearer, tl + 7);
	}
	r.headers = h;
	r.n_headers = nh;
	ac_decide_local(P, &S, T, &r, NOW, NULL, 0, &dec);
	rl_check();
	if (dec.a.action == AC_PENDING)
		die("ac_decide_local left a decision pending");
	/* by hand, the input's bytes as every group the decision reads */
	ac_decide_begin(P, &S, &r, NOW, NULL, 0, &dec);
	rl_check();
	for (i = 0; i < 3 && dec.a.action == AC_PENDING &&
	    dec.a.wait == AC_WAIT_STORE; i++) {
		size_t k;
		for (k = 0; k < dec.a.n_reads; k++) {
			uint8_t g[AC_STORE_VALUE_MAX];
			size_t off = n >= sizeof g ? (k * 7) % (n - sizeof g + 1) : 0;
			memset(g, 0, sizeof g);
			memcpy(g, s + off, n < sizeof g ? n : sizeof g);
			if (ac_decide_supply(&dec, k, g, sizeof g, 1) != 0)
				die("a read the decision named was refused");
		}
		ac_decide_finish(P, &S, &r, NOW, NULL, 0, &dec);
		rl_check();
	}
	if (dec.a.action == AC_PENDING && dec.a.wait == AC_WAIT_STORE)
		die("pending on the store after every limit's groups were supplied");
}

/* Session revocation: a valid session of a user the input names, on a
 * path the input names (logout, logout everywhere, an administrator's
 * revoke, any other), against a table that persists across inputs; then
 * by hand with the input's bytes as the group the check reads. A group
 * of zeros (nothing revoked) never refuses the session. */
static void stage_revoke(const char *s, size_t n)
{
	static unsigned char mem[1 << 16];
	static uint64_t tmem[(4096 * 16 + 64) / 8];
	static const ac_policy *P;
	static ac_table *T;
	static ac_state S;
	static ac_session_key key;
	static int ready;
	static const char pol[] =
	    "{\"sessions\":{\"keys\":[{\"kid\":\"s1\",\"secret\":"
	    "\"fuzz-revoke-session-key-0123456789ab\"}],\"ttl\":3600,"
	    "\"revocation\":{\"store\":256}},\"login\":{\"password\":true},"
	    "\"users\":[{\"name\":\"u\",\"password_hash\":\"$pbkdf2-sha256$i=1000$AAECAwQFBgcICQoLDA0ODw$ppsXnjrdPB4KryJ6DrOqKqhkWrhv7PbKAMF1Eml8cZ4\"}],"
	    "\"default\":\"authenticated\"}";
	static const ac_str admin[1] = { { "admin", 5 } };
	static char tok[AC_SESSION_TOKEN_MAX + 32], cookie[AC_SESSION_TOKEN_MAX + 64];
	char csrf[AC_CSRF_TOKEN_LEN];
	uint8_t sid[AC_SESSION_ID_LEN];
	ac_str ln[3];
	ac_header h[2];
	ac_request r;
	size_t nl, tl, k;

	if (!ready) {
		P = stage_setup("revocation stage setup", mem, sizeof mem, pol,
		    &S, tmem, sizeof tmem, &T);
		if (ac_session_key_init(&key, (const uint8_t *)
		    "fuzz-revoke-session-key-0123456789ab", 36, "s1", 2) != 0)
			die("revocation stage setup");
		ready = 1;
	}
	memset(ln, 0, sizeof ln);
	nl = split_lines(s, n, ln, 3);
	memset(sid, 0, sizeof sid);
	memcpy(sid, s, n < sizeof sid ? n : sizeof sid);
	tl = ac_session_issue(tok, sizeof tok, &key, sid,
	    nl > 0 && ln[0].len ? ln[0].ptr : "u",
	    nl > 0 && ln[0].len ? ln[0].len : 1, admin,
	    n > 0 && (s[0] & 1), NOW - (n > 1 ? (unsigned char)s[1] : 0), 3600);
	if (tl == 0)
		return; /* a user name a session cannot carry */
	memcpy(cookie, "authcore_session=", 17);
	memcpy(cookie + 17, tok, tl);
	set_hdr(&h[0], "cookie", cookie, 17 + tl);
	(void)ac_csrf_token(csrf, &key, tok, tl);
	set_hdr(&h[1], "x-csrf-token", csrf, sizeof csrf);
	memset(&r, 0, sizeof r);
	r.method.ptr = n > 2 && (s[2] & 1) ? "GET" : "POST";
	r.method.len = n > 2 && (s[2] & 1) ? 3 : 4;
	r.path.ptr = nl > 1 && ln[1].len ? ln[1].ptr : "/auth/logout";
	r.path.len = nl > 1 && ln[1].len ? ln[1].len : 12;
	r.headers = h;
	r.n_headers = 2;
	ac_decide_local(P, &S, T, &r, NOW, NULL, 0, &dec);
	fz_check_decision(&dec);
	if (dec.a.action == AC_PENDING)
		die("ac_decide_local left a revocation pending");
	/* by hand: a GET the session authenticates, its group as given */
	r.method.ptr = "GET";
	r.method.len = 3;
	r.path.ptr = "/x";
	r.path.len = 2;
	for (k = 0; k < 2; k++) {
		uint8_t g[AC_STORE_VALUE_MAX];
		memset(g, 0, sizeof g);
		if (k == 1)
			memcpy(g, s, n < sizeof g ? n : sizeof g);
		memset(&dec, 0, sizeof dec);
		ac_decide_begin(P, &S, &r, NOW, NULL, 0, &dec);
		if (dec.a.action != AC_PENDING || dec.a.wait != AC_WAIT_STORE ||
		    dec.a.n_reads != 1)
			die("a session under revocation did not read its entry");
		if (ac_decide_supply(&dec, 0, g, k == 0 ? 0 : sizeof g,
		    k == 0 ? 0 : 1) != 0)
			die("the entry asked for was refused");
		ac_decide_finish(P, &S, &r, NOW, NULL, 0, &dec);
		fz_check_decision(&dec);
		if (k == 0 && dec.a.action != AC_ALLOW)
			die("a session with nothing revoked was refused");
		if (dec.a.action == AC_PENDING)
			die("pending after its entry was supplied");
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	size_t n = size > FUZZ_MAX ? FUZZ_MAX : size;

	fz_begin();
	stage_signed(s, n);
	fz_end("signed tokens");
	fz_begin();
	stage_requests(s, n);
	fz_end("requests");
	fz_begin();
	stage_session(s, n);
	fz_end("sessions");
	fz_begin();
	stage_login(s, n);
	fz_end("login flow");
	fz_begin();
	stage_ratelimit(s, n);
	fz_end("rate limits");
	fz_begin();
	stage_revoke(s, n);
	fz_end("revocation");
	return 0;
}
