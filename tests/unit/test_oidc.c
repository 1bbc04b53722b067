/*
 * Tests of sign-in through an OpenID provider (core/ac_oidc.c) through the
 * decision, playing the host and the provider's answers: each fetch the
 * decision asks for (the configuration, the token request, the keys) gets
 * the answer a provider would give, through ac_decide_fetched.
 *
 * What they show: the policy's faults are refused with their path; the
 * start sends the browser to the authorization endpoint with a state, a
 * nonce and an S256 challenge, and a cookie bound to the state; the
 * callback POSTs the code with the verifier whose challenge was sent,
 * checks the ID token (keys, iss, aud, azp, exp, nonce) and the claims
 * (email_verified, allow lists), maps roles, and issues a session that
 * then works; every fault has its reason code; logout goes on to the
 * provider; the login page shows the providers and no form when
 * "password" is false. No heap call anywhere.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "authcore.h"
#include "check.h"
#include "es256.h"

#define NOW 1800000000
#define ISS "https://idp.example"
#define CONF ISS "/.well-known/openid-configuration"
#define HOST "dash.example"
#define CB "/dash/auth/oidc/corp/callback"

static signer k1, k2;
static char set1[2048];

static const char CONFIG[] =
    "{\"issuer\":\"" ISS "\",\"authorization_endpoint\":\"" ISS "/auth\","
    "\"token_endpoint\":\"" ISS "/token\",\"jwks_uri\":\"" ISS "/jwks\","
    "\"end_session_endpoint\":\"" ISS "/session/end\"}";

/* ---- policies ---- */
static uint8_t pmem[262144];

static const char *POLICY_FMT =
    "{\"sessions\":{\"keys\":[{\"kid\":\"s1\",\"secret\":"
    "\"c2Vzc2lvbi1zZWNyZXQtZm9yLXRoZS1vaWRjLXRlc3QtMDEyMzQ1\"}]},"
    "\"login\":{\"prefix\":\"/dash\",\"password\":false},"
    "\"oidc\":{\"providers\":[{\"name\":\"corp\",\"label\":\"Sign in with Corp\","
    "\"issuer\":\"" ISS "\",\"client_id\":\"dash\",\"client_secret\":\"s3cr:et\","
    "\"algorithms\":[\"ES256\"],\"scopes\":[\"openid\",\"email\",\"groups\"],"
    "\"allow\":{\"domains\":[\"example.com\"]%s},"
    "\"admin_emails\":[\"alice@example.com\"],\"roles\":[\"viewer\"],"
    "\"group_roles\":{\"ops\":\"operator\"},\"end_session\":true}]},"
    "\"rules\":[{\"path\":\"/dash/*\"}],\"default\":\"deny\"}";

static const ac_policy *load_json(const char *js, ac_policy_error *err)
{
	size_t used;
	return ac_policy_load(pmem, sizeof pmem, js, strlen(js), &used, err);
}

static const ac_policy *policy(const char *allow_more)
{
	static char js[4096];
	ac_policy_error err;
	const ac_policy *P;

	snprintf(js, sizeof js, POLICY_FMT, allow_more);
	P = load_json(js, &err);
	if (P == NULL)
		printf("# policy: %s: %s\n", err.path, err.message);
	return P;
}

/* ---- playing the host ---- */
static uint64_t decm[(1u << 17) / 8];
#define dec (*(ac_decision *)(void *)decm)
static uint64_t cachem[(1u << 19) / 8];

static ac_request req;
static ac_header hdr[3];
static char target[2048], cookies[2048];
static uint8_t entropy[32];

static void request(const char *method, const char *path, const char *cookie)
{
	size_t n = 0;

	snprintf(target, sizeof target, "%s", path);
	snprintf(cookies, sizeof cookies, "%s", cookie ? cookie : "");
	memset(&req, 0, sizeof req);
	req.method.ptr = method;
	req.method.len = strlen(method);
	req.path.ptr = target;
	req.path.len = strlen(target);
	hdr[n].name.ptr = "host";
	hdr[n].name.len = 4;
	hdr[n].value.ptr = HOST;
	hdr[n++].value.len = strlen(HOST);
	hdr[n].name.ptr = "accept";
	hdr[n].name.len = 6;
	hdr[n].value.ptr = "text/html";
	hdr[n++].value.len = 9;
	if (cookie != NULL) {
		hdr[n].name.ptr = "cookie";
		hdr[n].name.len = 6;
		hdr[n].value.ptr = cookies;
		hdr[n++].value.len = strlen(cookies);
	}
	req.headers = hdr;
	req.n_headers = n;
	req.https = 1;
}

/* The provider's answers, and what the host was asked to send. */
static int token_status = 200;
static const char *token_body;     /* the token endpoint's JSON */
static char sent_body[2048], sent_auth[512], sent_method[8], seen[4096];
/* the token request's shareable bit; GETs the core did not mark shareable */
static int sent_shareable = -1, unshared_gets;

static void answer(const ac_answer *a, int64_t now)
{
	char url[1024];
	const char *body = NULL, *ct = "application/json";
	int status = 200;
	size_t i, l = strlen(seen);

	snprintf(url, sizeof url, "%.*s", (int)a->fetch.url.len,
	    a->fetch.url.ptr);
	snprintf(seen + l, sizeof seen - l, "%s%s %s", l ? " " : "",
	    a->fetch.method.len == 4 ? "POST" : "GET", url);
	if (a->fetch.method.len == 3 && !a->fetch.shareable)
		unshared_gets++;
	if (strcmp(url, CONF) == 0) {
		body = CONFIG;
	} else if (strcmp(url, ISS "/jwks") == 0) {
		body = set1;
	} else if (strcmp(url, ISS "/token") == 0) {
		snprintf(sent_method, sizeof sent_method, "%.*s",
		    (int)a->fetch.method.len, a->fetch.method.ptr);
		sent_shareable = a->fetch.shareable;
		snprintf(sent_body, sizeof sent_body, "%.*s",
		    (int)a->fetch.body.len, a->fetch.body.ptr);
		sent_auth[0] = 0;
		for (i = 0; i < a->fetch.n_headers; i++)
			if (a->fetch.headers[i].name.len == 13)
				snprintf(sent_auth, sizeof sent_auth, "%.*s",
				    (int)a->fetch.headers[i].value.len,
				    a->fetch.headers[i].value.ptr);
		status = token_status;
		body = token_body;
	} else {
		status = 404;
	}
	(void)ac_decide_fetched(&dec, status, ct, strlen(ct), body,
	    body ? strlen(body) : 0, now);
}

static const ac_answer *decide(const ac_policy *P, ac_jwks_cache *c,
    int64_t now)
{
	const ac_answer *a = ac_decision_answer(&dec);
	int rounds = 0;

	seen[0] = 0;
	entropy[0]++;
	ac_decision_use_jwks(&dec, c);
	ac_decide_begin(P, NULL, &req, now, entropy, sizeof entropy, &dec);
	while (a->action == AC_PENDING && rounds++ < 8) {
		if (a->wait == AC_WAIT_FETCH)
			answer(a, now);
		entropy[1]++;
		ac_decide_finish(P, NULL, &req, now, entropy, sizeof entropy,
		    &dec);
	}
	return a;
}

static const char *header(const ac_answer *a, const char *name, int nth)
{
	static char v[4][2048];
	static int k;
	size_t i;

	for (i = 0; i < a->n_resp_headers; i++)
		if (a->resp_headers[i].name.len == strlen(name) &&
		    memcmp(a->resp_headers[i].name.ptr, name, strlen(name)) == 0 &&
		    nth-- == 0) {
			k = (k + 1) & 3;
			snprintf(v[k], sizeof v[k], "%.*s",
			    (int)a->resp_headers[i].value.len,
			    a->resp_headers[i].value.ptr);
			return v[k];
		}
	return NULL;
}

/* The value of a query parameter in url (no decoding), into out. */
static int param(const char *url, const char *name, char *out, size_t cap)
{
	const char *p = strchr(url, '?');
	size_t nl = strlen(name);

	while (p != NULL) {
		p++;
		if (strncmp(p, name, nl) == 0 && p[nl] == '=') {
			size_t n = strcspn(p + nl + 1, "&");
			snprintf(out, cap, "%.*s", (int)n, p + nl + 1);
			return 1;
		}
		p = strchr(p, '&');
	}
	return 0;
}

static int audit_has(const ac_answer *a, const char *s)
{
	char line[AC_AUDIT_MAX + 1];
	snprintf(line, sizeof line, "%.*s", (int)a->audit_len, a->audit);
	return strstr(line, s) != NULL;
}

/* ---- a sign-in, step by step ---- */
typedef struct {
	char state[64], nonce[64], challenge[64], cookie[1400];
} started;

/* The start: the 302 and what it carries. */
static int start(const ac_policy *P, ac_jwks_cache *c, const char *next,
    started *s)
{
	const ac_answer *a;
	const char *loc, *sc;
	char path[512];

	snprintf(path, sizeof path, "/dash/auth/oidc/corp%s%s",
	    next ? "?next=" : "", next ? next : "");
	request("GET", path, NULL);
	a = decide(P, c, NOW);
	loc = header(a, "location", 0);
	sc = header(a, "set-cookie", 0);
	if (a->status != 302 || loc == NULL || sc == NULL ||
	    !param(loc, "state", s->state, sizeof s->state) ||
	    !param(loc, "nonce", s->nonce, sizeof s->nonce) ||
	    !param(loc, "code_challenge", s->challenge, sizeof s->challenge) ||
	    strncmp(sc, "authcore_oidc=", 14) != 0)
		return 0;
	snprintf(s->cookie, sizeof s->cookie, "%.*s",
	    (int)strcspn(sc, ";"), sc);
	return 1;
}

static char idt[4096], tokjson[4600];

/* An ID token with these claims, as the token endpoint's answer. */
static void id_token(const signer *k, const char *claims)
{
	char jh[128];

	snprintf(jh, sizeof jh, "{\"alg\":\"ES256\",\"kid\":\"%s\"}",
	    k->kid);
	sign_jws(k, jh, claims, idt, sizeof idt);
	snprintf(tokjson, sizeof tokjson, "{\"access_token\":\"at\","
	    "\"token_type\":\"Bearer\",\"expires_in\":3600,\"id_token\":\"%s\"}",
	    idt);
	token_body = tokjson;
	token_status = 200;
}

static void claims_for(char *out, size_t cap, const char *nonce,
    const char *email, const char *verified, const char *aud,
    const char *more)
{
	snprintf(out, cap, "{\"iss\":\"" ISS "\",\"sub\":\"u1\",\"aud\":\"%s\","
	    "\"exp\":%lld,\"iat\":%lld,\"nonce\":\"%s\",\"email\":\"%s\","
	    "\"email_verified\":%s,\"groups\":[\"ops\",\"staff\"]%s}", aud,
	    (long long)NOW + 300, (long long)NOW, nonce, email, verified,
	    more);
}

/* The callback with code and state, and the start's cookie. */
static const ac_answer *callback(const ac_policy *P, ac_jwks_cache *c,
    const char *state, const char *cookie, int64_t now)
{
	char path[512];

	snprintf(path, sizeof path, CB "?code=abc123&state=%s", state);
	request("GET", path, cookie);
	return decide(P, c, now);
}

static void test_policy(void)
{
	static const struct {
		const char *json, *path, *part;
	} bad[] = {
		{ "{\"sessions\":{\"keys\":[{\"kid\":\"s\",\"secret\":\"c2Vzc2lvbi1zZWNyZXQtZm9yLXRoZS1vaWRjLXRlc3QtMDEyMzQ1\"}]},"
		  "\"oidc\":{\"providers\":[]}}", "$.oidc", "needs \"login\"" },
		{ "{\"sessions\":{\"keys\":[{\"kid\":\"s\",\"secret\":\"c2Vzc2lvbi1zZWNyZXQtZm9yLXRoZS1vaWRjLXRlc3QtMDEyMzQ1\"}]},"
		  "\"login\":{\"password\":false}}", "$.login.password", "no way to sign in" },
		{ "{\"sessions\":{\"keys\":[{\"kid\":\"s\",\"secret\":\"c2Vzc2lvbi1zZWNyZXQtZm9yLXRoZS1vaWRjLXRlc3QtMDEyMzQ1\"}]},"
		  "\"login\":{},\"oidc\":{\"providers\":[{\"name\":\"a\",\"issuer\":\"https://i\",\"client_id\":\"c\",\"client_secret\":\"s\"}]}}",
		  "$.users", "\"password\": false" },
		{ "{\"sessions\":{\"keys\":[{\"kid\":\"s\",\"secret\":\"c2Vzc2lvbi1zZWNyZXQtZm9yLXRoZS1vaWRjLXRlc3QtMDEyMzQ1\"}]},"
		  "\"login\":{\"password\":false},\"oidc\":{\"providers\":[{\"name\":\"A\",\"issuer\":\"https://i\",\"client_id\":\"c\",\"client_secret\":\"s\"}]}}",
		  "$.oidc.providers[0].name", "a-z" },
		{ "{\"sessions\":{\"keys\":[{\"kid\":\"s\",\"secret\":\"c2Vzc2lvbi1zZWNyZXQtZm9yLXRoZS1vaWRjLXRlc3QtMDEyMzQ1\"}]},"
		  "\"login\":{\"password\":false},\"oidc\":{\"providers\":[{\"name\":\"a\",\"issuer\":\"ftp://i\",\"client_id\":\"c\",\"client_secret\":\"s\"}]}}",
		  "$.oidc.providers[0].issuer", "http" },
		{ "{\"sessions\":{\"keys\":[{\"kid\":\"s\",\"secret\":\"c2Vzc2lvbi1zZWNyZXQtZm9yLXRoZS1vaWRjLXRlc3QtMDEyMzQ1\"}]},"
		  "\"login\":{\"password\":false},\"oidc\":{\"providers\":[{\"name\":\"a\",\"issuer\":\"https://i\",\"client_id\":\"c\"}]}}",
		  "$.oidc.providers[0]", "client_secret" },
		{ "{\"sessions\":{\"keys\":[{\"kid\":\"s\",\"secret\":\"c2Vzc2lvbi1zZWNyZXQtZm9yLXRoZS1vaWRjLXRlc3QtMDEyMzQ1\"}]},"
		  "\"login\":{\"password\":false},\"oidc\":{\"providers\":[{\"name\":\"a\",\"issuer\":\"https://i\",\"client_id\":\"c\",\"client_secret\":\"s\",\"scopes\":[\"email\"]}]}}",
		  "$.oidc.providers[0].scopes", "openid" },
		{ "{\"sessions\":{\"keys\":[{\"kid\":\"s\",\"secret\":\"c2Vzc2lvbi1zZWNyZXQtZm9yLXRoZS1vaWRjLXRlc3QtMDEyMzQ1\"}]},"
		  "\"login\":{\"password\":false},\"oidc\":{\"providers\":[{\"name\":\"a\",\"issuer\":\"https://i\",\"client_id\":\"c\",\"client_secret\":\"s\",\"algorithms\":[\"HS256\"]}]}}",
		  "$.oidc.providers[0].algorithms", "HS*" },
		{ "{\"sessions\":{\"keys\":[{\"kid\":\"s\",\"secret\":\"c2Vzc2lvbi1zZWNyZXQtZm9yLXRoZS1vaWRjLXRlc3QtMDEyMzQ1\"}]},"
		  "\"login\":{\"password\":false},\"oidc\":{\"providers\":[{\"name\":\"a\",\"issuer\":\"https://i\",\"client_id\":\"c\",\"client_secret\":\"s\",\"allow\":{\"domains\":[\"Example.com\"]}}]}}",
		  "$.oidc.providers[0].allow.domains", "lower case" },
		{ "{\"sessions\":{\"keys\":[{\"kid\":\"s\",\"secret\":\"c2Vzc2lvbi1zZWNyZXQtZm9yLXRoZS1vaWRjLXRlc3QtMDEyMzQ1\"}]},"
		  "\"login\":{\"password\":false},\"oidc\":{\"providers\":[{\"name\":\"a\",\"issuer\":\"https://i\",\"client_id\":\"c\",\"client_secret\":\"s\",\"user_claim\":\"sub\",\"admin_emails\":[\"a@b.c\"]}]}}",
		  "$.oidc.providers[0].user_claim", "e-mail" },
		{ "{\"sessions\":{\"keys\":[{\"kid\":\"s\",\"secret\":\"c2Vzc2lvbi1zZWNyZXQtZm9yLXRoZS1vaWRjLXRlc3QtMDEyMzQ1\"}]},"
		  "\"login\":{\"password\":false},\"oidc\":{\"providers\":[{\"name\":\"a\",\"issuer\":\"https://i\",\"client_id\":\"c\",\"client_secret\":\"s\"},"
		  "{\"name\":\"a\",\"issuer\":\"https://j\",\"client_id\":\"c\",\"client_secret\":\"s\"}]}}",
		  "$.oidc.providers[1]", "two providers" },
		{ "{\"sessions\":{\"keys\":[{\"kid\":\"s\",\"secret\":\"c2Vzc2lvbi1zZWNyZXQtZm9yLXRoZS1vaWRjLXRlc3QtMDEyMzQ1\"}]},"
		  "\"login\":{\"password\":false},\"oidc\":{\"providers\":[{\"name\":\"a\",\"issuer\":\"https://i\",\"client_id\":\"c\",\"client_secret\":\"s\",\"redirect_path\":\"/auth/login\"}]}}",
		  "$.oidc.providers[0]", "login endpoint" },
		{ "{\"sessions\":{\"keys\":[{\"kid\":\"s\",\"secret\":\"c2Vzc2lvbi1zZWNyZXQtZm9yLXRoZS1vaWRjLXRlc3QtMDEyMzQ1\"}]},"
		  "\"login\":{\"password\":false},\"oidc\":{\"providers\":[{\"name\":\"a\",\"issuer\":\"https://i\",\"client_id\":\"c\",\"client_secret\":\"s\",\"colour\":1}]}}",
		  "$.oidc.providers[0]", "colour" },
	};
	ac_policy_error err;
	size_t i;

	begin("oidc policy: faults are refused with their path");
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		const ac_policy *P = load_json(bad[i].json, &err);
		int right = P == NULL && strcmp(err.path, bad[i].path) == 0 &&
		    strstr(err.message, bad[i].part) != NULL;
		if (!right)
			printf("# %zu: %s: %s\n", i, P ? "loaded" : err.path,
			    P ? "" : err.message);
		CHECK(right);
	}
	CHECK(policy("") != NULL);
	end();

	begin("oidc policy: the client secret from an AUTHCORE_* variable the host passed");
	{
		static const char js[] = "{\"sessions\":{\"keys\":[{\"kid\":\"s\",\"secret\":\"c2Vzc2lvbi1zZWNyZXQtZm9yLXRoZS1vaWRjLXRlc3QtMDEyMzQ1\"}]},"
		    "\"login\":{\"password\":false},\"oidc\":{\"providers\":[{\"name\":\"a\",\"issuer\":\"https://i\",\"client_id\":\"c\",\"client_secret_env\":\"%s\"}]}}";
		char j2[1024];
		ac_str vars[2] = { { "AUTHCORE_OTHER=x", 16 },
			{ "AUTHCORE_IDP_SECRET=s3cr3t", 27 } };
		ac_policy_env env;
		size_t used;
		const ac_policy *P;

		memset(&env, 0, sizeof env);
		env.vars = vars;
		env.n_vars = 2;
		snprintf(j2, sizeof j2, js, "AUTHCORE_IDP_SECRET");
		P = ac_policy_load_env(pmem, sizeof pmem, j2, strlen(j2), &env,
		    &used, &err);
		CHECK(P != NULL);
		env.n_vars = 1;
		P = ac_policy_load_env(pmem, sizeof pmem, j2, strlen(j2), &env,
		    &used, &err);
		CHECK(P == NULL && strcmp(err.path,
		    "$.oidc.providers[0].client_secret_env") == 0 &&
		    strstr(err.message, "does not set") != NULL);
		snprintf(j2, sizeof j2, js, "IDP_SECRET");
		P = ac_policy_load_env(pmem, sizeof pmem, j2, strlen(j2), &env,
		    &used, &err);
		CHECK(P == NULL && strstr(err.message, "AUTHCORE_") != NULL);
	}
	end();
}

static void test_page(void)
{
	const ac_policy *P = policy("");
	const ac_answer *a;
	char body[8192];

	begin("oidc: the login page links each provider with next, and has no form without passwords");
	request("GET", "/dash/auth/login?next=/dash/jobs", NULL);
	a = decide(P, NULL, NOW);
	snprintf(body, sizeof body, "%.*s", (int)a->body.len, a->body.ptr);
	CHECK(a->status == 200);
	CHECK(strstr(body, "href=\"/dash/auth/oidc/corp?next=/dash/jobs\"") != NULL);
	CHECK(strstr(body, ">Sign in with Corp</a>") != NULL);
	CHECK(strstr(body, "<form") == NULL && strstr(body, "password") == NULL);
	request("POST", "/dash/auth/login", NULL);
	a = decide(P, NULL, NOW);
	CHECK(a->status == 405);
	end();
}

static void test_sign_in(void)
{
	const ac_policy *P = policy("");
	ac_jwks_cache *c = ac_jwks_cache_init(cachem, sizeof cachem);
	const ac_answer *a;
	started s;
	const char *loc, *sess;
	char cl[2048], sc[1400], ch[64];
	uint8_t dg[32];
	br_sha256_context h;

	begin("oidc: start sends the browser to the provider with state, nonce, S256 challenge and a bound cookie");
	CHECK(start(P, c, "/dash/jobs%3Fpage%3D2", &s));
	CHECK(strcmp(seen, "GET " CONF) == 0);
	request("GET", "/dash/auth/oidc/corp", NULL);
	a = decide(P, c, NOW);
	loc = header(a, "location", 0);
	CHECK(loc != NULL && strncmp(loc, ISS "/auth?response_type=code&client_id=dash&redirect_uri=https%3A//" HOST "/dash/auth/oidc/corp/callback&scope=openid%20email%20groups&state=", 150) == 0);
	CHECK(strstr(loc, "&code_challenge_method=S256") != NULL);
	CHECK(seen[0] == 0); /* the configuration is cached */
	CHECK(strlen(s.state) == 22 && strlen(s.nonce) == 43 &&
	    strlen(s.challenge) == 43);
	CHECK(strstr(header(a, "set-cookie", 0), "; Path=" CB "; Max-Age=600; HttpOnly; SameSite=Lax; Secure") != NULL);
	CHECK(a->reason == AC_OIDC_STARTED);
	end();

	begin("oidc: the callback POSTs the code with the verifier, checks the ID token, issues a session");
	claims_for(cl, sizeof cl, s.nonce, "Alice@Example.com", "true", "dash", "");
	id_token(&k1, cl);
	a = callback(P, c, s.state, s.cookie, NOW);
	CHECK(strcmp(seen, "POST " ISS "/token GET " ISS "/jwks") == 0);
	CHECK(strcmp(sent_method, "POST") == 0);
	/* one login's code and the client's secret: never shared; the
	 * configuration and the keys are */
	CHECK(sent_shareable == 0 && unshared_gets == 0);
	/* client_secret_basic: form-encoded id and secret ("s3cr:et") */
	CHECK(strcmp(sent_auth, "Basic ZGFzaDpzM2NyJTNBZXQ=") == 0);
	CHECK(strncmp(sent_body, "grant_type=authorization_code&code=abc123&redirect_uri=https%3A//" HOST CB "&code_verifier=", 110) == 0);
	{
		const char *cv = strstr(sent_body, "code_verifier=");
		CHECK(cv != NULL && strlen(cv + 14) == 43);
		br_sha256_init(&h);
		br_sha256_update(&h, cv + 14, 43);
		br_sha256_out(&h, dg);
		b64(ch, sizeof ch, dg, 32);
		CHECK(strcmp(ch, s.challenge) == 0);
	}
	CHECK(a->action == AC_RESPOND && a->status == 200);
	snprintf(cl, sizeof cl, "%.*s", (int)a->body.len, a->body.ptr);
	CHECK(strstr(cl, "url=/dash/jobs?page=2\"") != NULL);
	if (!audit_has(a, "alice@example.com"))
		printf("# audit: %.*s\n", (int)a->audit_len, a->audit);
	CHECK(audit_has(a, "\"reason\":\"ok\"") && audit_has(a, "alice@example.com"));
	sess = header(a, "set-cookie", 0);
	CHECK(sess != NULL && strncmp(sess, "authcore_session=", 17) == 0);
	snprintf(sc, sizeof sc, "%.*s", sess ? (int)strcspn(sess, ";") : 0,
	    sess ? sess : "");
	CHECK(header(a, "set-cookie", 2) != NULL &&
	    strncmp(header(a, "set-cookie", 2), "authcore_oidc=;", 15) == 0);
	CHECK(header(a, "set-cookie", 3) != NULL &&
	    strncmp(header(a, "set-cookie", 3), "authcore_idp=corp;", 18) == 0);
	end();

	begin("oidc: the session works, with the user and the roles the claims give");
	request("GET", "/dash/auth/whoami", sc);
	a = decide(P, c, NOW + 1);
	if (a->status != 200)
		printf("# whoami: %d %s %.*s\n", a->status,
		    ac_reason_name(a->reason), (int)a->audit_len, a->audit);
	CHECK(a->status == 200);
	snprintf(cl, sizeof cl, "%.*s", (int)a->body.len, a->body.ptr);
	CHECK(strcmp(cl, "{\"user\":\"alice@example.com\",\"roles\":[\"viewer\",\"admin\",\"operator\"],\"auth\":\"session\"}") == 0);
	end();

	begin("oidc: logout clears the session and goes on to the provider's end_session_endpoint");
	snprintf(cl, sizeof cl, "%s; authcore_idp=corp", sc);
	request("POST", "/dash/auth/logout", cl);
	a = decide(P, c, NOW + 2);
	loc = header(a, "location", 0);
	CHECK(a->status == 303 && loc != NULL && strcmp(loc, ISS "/session/end?client_id=dash&post_logout_redirect_uri=https%3A//" HOST "/dash/auth/login") == 0);
	CHECK(a->reason == AC_LOGGED_OUT);
	request("POST", "/dash/auth/logout", sc);
	a = decide(P, c, NOW + 2);
	loc = header(a, "location", 0);
	CHECK(a->status == 303 && loc != NULL && strcmp(loc, "/dash/auth/login") == 0);
	end();
}

/* One refused callback: the reason and the status. */
static void refused(const char *name, const ac_policy *P, ac_jwks_cache *c,
    const char *state, const char *cookie, int64_t now, int status,
    ac_reason r)
{
	const ac_answer *a = callback(P, c, state, cookie, now);

	begin(name);
	CHECK(a->action == AC_RESPOND && a->status == status && a->reason == r);
	CHECK(header(a, "set-cookie", 0) == NULL ||
	    strncmp(header(a, "set-cookie", 0), "authcore_session=", 17) != 0);
	if (a->reason != r)
		printf("# got %s\n", ac_reason_name(a->reason));
	end();
}

static void test_refusals(void)
{
	const ac_policy *P = policy(",\"groups\":[\"staff\",\"ops\"]");
	ac_jwks_cache *c = ac_jwks_cache_init(cachem, sizeof cachem);
	started s, s2;
	char cl[2048], other[1400];

	CHECK(start(P, c, NULL, &s) && start(P, c, NULL, &s2));
	claims_for(cl, sizeof cl, s.nonce, "bob@example.com", "true", "dash", "");
	id_token(&k1, cl);
	refused("oidc: a forged state is refused", P, c, s2.state, s.cookie,
	    NOW, 400, AC_OIDC_STATE_INVALID);
	refused("oidc: a callback without the browser's cookie (replayed) is refused",
	    P, c, s.state, NULL, NOW, 400, AC_OIDC_STATE_INVALID);
	snprintf(other, sizeof other, "%s", s.cookie);
	other[20] ^= 1;
	refused("oidc: a tampered cookie is refused", P, c, s.state, other,
	    NOW, 400, AC_OIDC_STATE_INVALID);
	refused("oidc: an expired cookie is refused", P, c, s.state, s.cookie,
	    NOW + 601, 400, AC_OIDC_STATE_INVALID);
	token_status = 400;
	token_body = "{\"error\":\"invalid_grant\"}";
	refused("oidc: a code the provider refuses (used twice) is oidc_token_error",
	    P, c, s.state, s.cookie, NOW, 401, AC_OIDC_TOKEN_ERROR);
	token_status = 0;
	token_body = NULL;
	refused("oidc: a token endpoint that does not answer is 503 oidc_unavailable",
	    P, c, s.state, s.cookie, NOW, 503, AC_OIDC_UNAVAILABLE);
	claims_for(cl, sizeof cl, s2.nonce, "bob@example.com", "true", "dash", "");
	id_token(&k1, cl);
	refused("oidc: an ID token of another sign-in (its nonce) is refused",
	    P, c, s.state, s.cookie, NOW, 401, AC_OIDC_NONCE_MISMATCH);
	claims_for(cl, sizeof cl, s.nonce, "bob@example.com", "true", "other", "");
	id_token(&k1, cl);
	refused("oidc: an ID token for another client (aud) is refused", P, c,
	    s.state, s.cookie, NOW, 401, AC_BAD_AUDIENCE);
	claims_for(cl, sizeof cl, s.nonce, "bob@example.com", "true", "dash",
	    ",\"azp\":\"other\"");
	id_token(&k1, cl);
	refused("oidc: an ID token authorized to another party (azp) is refused",
	    P, c, s.state, s.cookie, NOW, 401, AC_BAD_AUDIENCE);
	claims_for(cl, sizeof cl, s.nonce, "bob@example.com", "false", "dash", "");
	id_token(&k1, cl);
	refused("oidc: an unverified e-mail is refused", P, c, s.state,
	    s.cookie, NOW, 403, AC_OIDC_EMAIL_UNVERIFIED);
	claims_for(cl, sizeof cl, s.nonce, "eve@example.org", "true", "dash", "");
	id_token(&k1, cl);
	refused("oidc: a domain outside the allow list is refused", P, c,
	    s.state, s.cookie, NOW, 403, AC_OIDC_NOT_ALLOWED);
	snprintf(cl, sizeof cl, "{\"iss\":\"" ISS "\",\"sub\":\"u1\",\"aud\":\"dash\","
	    "\"exp\":%lld,\"nonce\":\"%s\",\"email\":\"bob@example.com\","
	    "\"email_verified\":true,\"groups\":[\"guests\"]}",
	    (long long)NOW + 300, s.nonce);
	id_token(&k1, cl);
	refused("oidc: groups outside the allow list are refused", P, c,
	    s.state, s.cookie, NOW, 403, AC_OIDC_NOT_ALLOWED);
	claims_for(cl, sizeof cl, s.nonce, "bob@example.com", "true", "dash", "");
	id_token(&k2, cl);
	refused("oidc: an ID token signed with a key the provider does not publish is refused",
	    P, c, s.state, s.cookie, NOW, 401, AC_UNKNOWN_KID);
	id_token(&k1, cl);
	refused("oidc: an expired ID token is refused", P, c, s.state,
	    s.cookie, NOW + 400, 401, AC_EXPIRED);
	{
		char path[256];
		const ac_answer *a;
		snprintf(path, sizeof path, CB "?error=access_denied&state=%s",
		    s.state);
		request("GET", path, s.cookie);
		a = decide(P, c, NOW);
		begin("oidc: the provider's error is refused with its reason");
		CHECK(a->status == 403 && a->reason == AC_OIDC_PROVIDER_ERROR);
		end();
	}
	begin("oidc: the same sign-in still works after every refusal above");
	{
		const ac_answer *a;
		claims_for(cl, sizeof cl, s.nonce, "bob@example.com", "true",
		    "dash", "");
		id_token(&k1, cl);
		a = callback(P, c, s.state, s.cookie, NOW);
		CHECK(a->status == 200 && header(a, "set-cookie", 0) != NULL &&
		    strncmp(header(a, "set-cookie", 0), "authcore_session=", 17) == 0);
	}
	end();
}

static void test_no_cache(void)
{
	const ac_policy *P = policy("");
	const ac_answer *a;

	begin("oidc: a host without a key cache cannot sign in: 503, never open");
	request("GET", "/dash/auth/oidc/corp", NULL);
	a = decide(P, NULL, NOW);
	CHECK(a->status == 503 && a->reason == AC_OIDC_UNAVAILABLE);
	end();
}

#ifdef AC_TEST_COUNT_HEAP
static void test_no_heap(void)
{
	const ac_policy *P = policy("");
	ac_jwks_cache *c = ac_jwks_cache_init(cachem, sizeof cachem);
	size_t before;
	started s;
	char cl[2048];

	begin("oidc: no heap call in a whole sign-in");
	before = heap_calls;
	CHECK(start(P, c, NULL, &s));
	claims_for(cl, sizeof cl, s.nonce, "alice@example.com", "true", "dash", "");
	id_token(&k1, cl);
	CHECK(callback(P, c, s.state, s.cookie, NOW)->status == 200);
	CHECK(heap_calls == before);
	end();
}
#endif

int main(void)
{
	if (ac_sizeof_decision() > sizeof decm ||
	    ac_sizeof_jwks_cache() > sizeof cachem) {
		printf("not ok - a decision and a cache fit the test's buffers\n");
		return 1;
	}
	make_signer(&k1, "authcore oidc test key 1", "k1");
	make_signer(&k2, "authcore oidc test key 2", "k2");
	jwks(set1, sizeof set1, &k1, NULL);
	test_policy();
	test_page();
	test_sign_in();
	test_refusals();
	test_no_cache();
#ifdef AC_TEST_COUNT_HEAP
	test_no_heap();
#endif
	printf("# %d failed\n", failures);
	return failures ? 1 : 0;
}
