/*
 * Unit tests for the login flow (core/ac_login.c, core/ac_identify.c),
 * its state (core/ac_state.c) and the policy sections behind them
 * ("users", "login", "passwords", sessions.ttl, the administrator from the
 * environment).
 *
 * What the decision vectors cannot show is tested here: the pending
 * decision (no answer until resumed, slices counting down), a verdict that
 * cannot be replayed for other credentials, Secure cookies under HTTPS, the
 * Basic cache's expiry and its binding to the stored hash, attempt windows
 * lapsing, a full throttle table, the session a login issues verifying with
 * ac_session_verify, and zero heap calls on the whole path; and the bounds
 * on password work: the per-client budget against username rotation, locked
 * counters that no flood can evict (a full table refuses instead), and the
 * cap on checks in flight with its lapsing slots.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "authcore.h"
#include "ac_decision_int.h"
#include "ac_policy_int.h"
#include "ac_state_int.h"
#include "check.h"

static unsigned char mem[1 << 20];
static ac_state state;
static ac_decision d;
static const uint8_t ENT[32] = "0123456789abcdef0123456789abcdef";
static char alice_hash[AC_PASSWORD_HASH_MAX + 1];
static char root_hash[AC_PASSWORD_HASH_MAX + 1];
static char policy_json[4096];

#define ITER 2000u

static const ac_policy *load(const char *json, const ac_policy_env *env,
    ac_policy_error *err)
{
	size_t used;
	return ac_policy_load_env(mem, sizeof mem, json, strlen(json), env,
	    &used, err);
}

/* A second policy beside the first: a reload. */
static unsigned char mem2[1 << 18];
static const ac_policy *reload(const char *json, const ac_policy_env *env)
{
	ac_policy_error err;
	size_t used;
	const ac_policy *Q = ac_policy_load_env(mem2, sizeof mem2, json,
	    strlen(json), env, &used, &err);
	if (Q == NULL)
		printf("# reload refused: %s: %s\n", err.path, err.message);
	return Q;
}

static void make_hash(char *out, const char *pw, uint8_t salt_byte)
{
	uint8_t salt[AC_PASSWORD_SALT_LEN];
	size_t n;
	memset(salt, salt_byte, sizeof salt);
	n = ac_password_hash(out, AC_PASSWORD_HASH_MAX, AC_PBKDF2_SHA256, pw,
	    strlen(pw), salt, ITER);
	out[n] = 0;
}

static const char *policy_text(const char *login_extra)
{
	snprintf(policy_json, sizeof policy_json,
	    "{\"realm\":\"t\",\"sessions\":{\"keys\":[{\"kid\":\"k\",\"secret\":"
	    "\"unit-session-secret-0123456789abcdef\"}],\"ttl\":600},"
	    "\"users\":[{\"name\":\"alice\",\"password_hash\":\"%s\",\"roles\":"
	    "[\"admin\",\"ops\"]}],\"login\":{\"prefix\":\"/app\",\"attempts\":"
	    "\"2/minute\",\"basic\":true%s}}", alice_hash, login_extra);
	return policy_json;
}

static ac_header H[8];

static void request(ac_request *r, const char *method, const char *path,
    const char *body, int n_headers)
{
	memset(r, 0, sizeof *r);
	r->method.ptr = method;
	r->method.len = strlen(method);
	r->path.ptr = path;
	r->path.len = strlen(path);
	r->client_ip.ptr = "192.0.2.7";
	r->client_ip.len = 9;
	r->headers = H;
	r->n_headers = (size_t)n_headers;
	if (body != NULL) {
		r->body.ptr = body;
		r->body.len = strlen(body);
	}
}

static void header(int i, const char *n, const char *v)
{
	H[i].name.ptr = n;
	H[i].name.len = strlen(n);
	H[i].value.ptr = v;
	H[i].value.len = strlen(v);
}

/* The value of the k-th response header called `name`, or NULL. */
static const char *resp(const char *name, int k, size_t *len)
{
	size_t i;
	for (i = 0; i < d.a.n_resp_headers; i++) {
		if (d.a.resp_headers[i].name.len == strlen(name) &&
		    memcmp(d.a.resp_headers[i].name.ptr, name, strlen(name)) == 0 &&
		    k-- == 0) {
			*len = d.a.resp_headers[i].value.len;
			return d.a.resp_headers[i].value.ptr;
		}
	}
	return NULL;
}

static int resp_has(const char *name, int k, const char *needle)
{
	size_t len;
	const char *v = resp(name, k, &len);
	char tmp[4096];
	if (v == NULL || len >= sizeof tmp)
		return 0;
	memcpy(tmp, v, len);
	tmp[len] = 0;
	return strstr(tmp, needle) != NULL;
}

/* Steps a pending decision to the end in slices, counting them. */
static int finish(const ac_policy *P, const ac_request *r, int64_t now)
{
	int slices = 0;
	while (ac_decide_step(&d, 500) > 0)
		slices++;
	ac_decide_finish(P, &state, r, now, ENT, 16, &d);
	return slices;
}

static void test_policy_errors(void)
{
	ac_policy_error e;
	ac_policy_env env;
	char j[4096];
	static const struct { const char *json, *path, *msg; } bad[] = {
		{ "{\"sessions\":{\"keys\":[{\"kid\":\"k\",\"secret\":\"unit-session-secret-0123456789abcdef\"}]},\"users\":[]}",
		  "$.users", "login" },
		{ "{\"jwt\":{\"keys\":[{\"kid\":\"k\",\"alg\":\"HS256\",\"secret\":\"unit-jwt-secret-0123456789abcdef0123\"}]},\"login\":{}}",
		  "$.login", "sessions" },
		{ "{\"sessions\":{\"keys\":[{\"kid\":\"k\",\"secret\":\"unit-session-secret-0123456789abcdef\"}]},\"login\":{}}",
		  "$.users", "at least one user" },
		{ "{\"sessions\":{\"keys\":[{\"kid\":\"k\",\"secret\":\"unit-session-secret-0123456789abcdef\"}],\"ttl\":5},\"login\":{}}",
		  "$.sessions.ttl", "seconds" },
		{ "{\"sessions\":{\"keys\":[{\"kid\":\"k\",\"secret\":\"unit-session-secret-0123456789abcdef\"}]},\"users\":[{\"name\":\"a\",\"password_hash\":\"$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA\"}],\"login\":{}}",
		  "$.users[0].password_hash", "unsupported" },
		{ "{\"sessions\":{\"keys\":[{\"kid\":\"k\",\"secret\":\"unit-session-secret-0123456789abcdef\"}]},\"users\":[{\"name\":\"a\",\"password_hash\":\"pbkdf2_sha256$1000$salt$bad\"}],\"login\":{}}",
		  "$.users[0].password_hash", "malformed" },
		{ "{\"sessions\":{\"keys\":[{\"kid\":\"k\",\"secret\":\"unit-session-secret-0123456789abcdef\"}]},\"users\":[{\"name\":\" a\",\"password_hash\":\"x\"}],\"login\":{}}",
		  "$.users[0].name", "space" },
		{ "{\"sessions\":{\"keys\":[{\"kid\":\"k\",\"secret\":\"unit-session-secret-0123456789abcdef\"}]},\"users\":[{\"name\":\"a\",\"password_hash\":\"x\",\"roles\":[\"a,b\"]}],\"login\":{}}",
		  "$.users[0].password_hash", "" },
		{ "{\"sessions\":{\"keys\":[{\"kid\":\"k\",\"secret\":\"unit-session-secret-0123456789abcdef\"}]},\"login\":{\"prefix\":\"app/\"}}",
		  "$.login.prefix", "start with '/'" },
		{ "{\"sessions\":{\"keys\":[{\"kid\":\"k\",\"secret\":\"unit-session-secret-0123456789abcdef\"}]},\"login\":{\"prefix\":\"/a//b\"}}",
		  "$.login.prefix", "single '/'" },
		{ "{\"sessions\":{\"keys\":[{\"kid\":\"k\",\"secret\":\"unit-session-secret-0123456789abcdef\"}]},\"login\":{\"attempts\":\"10/m\"}}",
		  "$.login.attempts", "\"m\" is ambiguous (minute or month)" },
		{ "{\"sessions\":{\"keys\":[{\"kid\":\"k\",\"secret\":\"unit-session-secret-0123456789abcdef\"}]},\"login\":{\"attempts\":\"10/fortnight\"}}",
		  "$.login.attempts", "the unit must be second (s, sec), minute (min)" },
		{ "{\"sessions\":{\"keys\":[{\"kid\":\"k\",\"secret\":\"unit-session-secret-0123456789abcdef\"}]},\"login\":{\"attempts\":\"0/minute\"}}",
		  "$.login.attempts", "count must be 1 to 100000000" },
		{ "{\"sessions\":{\"keys\":[{\"kid\":\"k\",\"secret\":\"unit-session-secret-0123456789abcdef\"}]},\"login\":{\"attempts\":\"10/hour;100/day\"}}",
		  "$.login.attempts", "one limit" },
		{ "{\"sessions\":{\"keys\":[{\"kid\":\"k\",\"secret\":\"unit-session-secret-0123456789abcdef\"}]},\"login\":{\"basic_cache_ttl\":7200}}",
		  "$.login.basic_cache_ttl", "3600" },
		{ "{\"sessions\":{\"keys\":[{\"kid\":\"k\",\"secret\":\"unit-session-secret-0123456789abcdef\"}]},\"passwords\":{\"max_length\":0},\"login\":{}}",
		  "$.passwords.max_length", "4096" },
		{ "{\"sessions\":{\"keys\":[{\"kid\":\"k\",\"secret\":\"unit-session-secret-0123456789abcdef\"}]},\"login\":{\"colour\":1}}",
		  "$.login", "unknown member" },
		{ "{\"sessions\":{\"keys\":[{\"kid\":\"k\",\"secret\":\"unit-session-secret-0123456789abcdef\"}]},\"login\":{\"client_attempts\":\"20/15 M\"}}",
		  "$.login.client_attempts", "\"m\" is ambiguous" },
		{ "{\"sessions\":{\"keys\":[{\"kid\":\"k\",\"secret\":\"unit-session-secret-0123456789abcdef\"}]},\"login\":{\"client_attempts\":20}}",
		  "$.login.client_attempts", "one limit" },
		{ "{\"sessions\":{\"keys\":[{\"kid\":\"k\",\"secret\":\"unit-session-secret-0123456789abcdef\"}]},\"login\":{\"client_attempts\":\"10/hour;100/day\"}}",
		  "$.login.client_attempts", "one limit" },
		{ "{\"sessions\":{\"keys\":[{\"kid\":\"k\",\"secret\":\"unit-session-secret-0123456789abcdef\"}]},\"login\":{\"max_pending\":0}}",
		  "$.login.max_pending", "1 to 64" },
		{ "{\"sessions\":{\"keys\":[{\"kid\":\"k\",\"secret\":\"unit-session-secret-0123456789abcdef\"}]},\"login\":{\"max_pending\":65}}",
		  "$.login.max_pending", "1 to 64" },
		{ "{\"sessions\":{\"keys\":[{\"kid\":\"k\",\"secret\":\"unit-session-secret-0123456789abcdef\"}]},\"login\":{\"max_pending\":2.5}}",
		  "$.login.max_pending", "1 to 64" },
		{ "{\"sessions\":{\"keys\":[{\"kid\":\"k\",\"secret\":\"unit-session-secret-0123456789abcdef\"}]},\"login\":{\"max_pending\":\"8\"}}",
		  "$.login.max_pending", "1 to 64" },
		{ "{\"sessions\":{\"keys\":[{\"kid\":\"k\",\"secret\":\"unit-session-secret-0123456789abcdef\"}]},\"login\":{\"landing\":\"tasks\"}}",
		  "$.login.landing", "path on this site" },
		{ "{\"sessions\":{\"keys\":[{\"kid\":\"k\",\"secret\":\"unit-session-secret-0123456789abcdef\"}]},\"login\":{\"landing\":\"//evil.example/\"}}",
		  "$.login.landing", "path on this site" },
		{ "{\"sessions\":{\"keys\":[{\"kid\":\"k\",\"secret\":\"unit-session-secret-0123456789abcdef\"}]},\"login\":{\"landing\":\"/a b\"}}",
		  "$.login.landing", "path on this site" },
		{ "{\"sessions\":{\"keys\":[{\"kid\":\"k\",\"secret\":\"unit-session-secret-0123456789abcdef\"}]},\"login\":{\"whoami\":\"/api/whoami?x=1\"}}",
		  "$.login.whoami", "path alone" },
		{ "{\"sessions\":{\"keys\":[{\"kid\":\"k\",\"secret\":\"unit-session-secret-0123456789abcdef\"}]},\"login\":{\"whoami\":\"/auth/login\"}}",
		  "$.login.whoami", "login or the logout path" },
		{ "{\"sessions\":{\"keys\":[{\"kid\":\"k\",\"secret\":\"unit-session-secret-0123456789abcdef\"}]},\"login\":{\"prefix\":\"/dash\",\"whoami\":\"/dash/auth/logout\"}}",
		  "$.login.whoami", "login or the logout path" },
		{ "{\"sessions\":{\"keys\":[{\"kid\":\"k\",\"secret\":\"unit-session-secret-0123456789abcdef\"}]},\"login\":{\"prefix\":\"/dash\"},\"login_url\":\"/auth/login\"}",
		  "$.login_url", "needs credentials" },
	};
	size_t i;

	begin("policy: users, login, passwords and ttl errors name the JSON path");
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		const ac_policy *P = load(bad[i].json, NULL, &e);
		CHECK(P == NULL);
		if (P == NULL && (strcmp(e.path, bad[i].path) != 0 ||
		    strstr(e.message, bad[i].msg) == NULL)) {
			printf("# case %zu: %s: %s\n", i, e.path, e.message);
			CHECK(0 && "path or message");
		}
	}
	/* a hash over the policy's iteration limit */
	snprintf(j, sizeof j, "{\"sessions\":{\"keys\":[{\"kid\":\"k\",\"secret\":"
	    "\"unit-session-secret-0123456789abcdef\"}]},\"passwords\":"
	    "{\"max_iterations\":1000},\"users\":[{\"name\":\"a\",\"password_hash\":"
	    "\"%s\"}],\"login\":{}}", alice_hash);
	CHECK(load(j, NULL, &e) == NULL);
	CHECK(strcmp(e.path, "$.users[0].password_hash") == 0 &&
	    strstr(e.message, "iterations_over_limit") != NULL);
	/* a landing with a query, a whoami beside the login routes, and a
	 * login_url that is the built-in page load */
	snprintf(j, sizeof j, "{\"sessions\":{\"keys\":[{\"kid\":\"k\",\"secret\":"
	    "\"unit-session-secret-0123456789abcdef\"}]},\"users\":[{\"name\":"
	    "\"a\",\"password_hash\":\"%s\"}],\"login\":{\"prefix\":\"/dash\","
	    "\"landing\":\"/dash/tasks?view=board\",\"whoami\":\"/dash/auth/who\"},"
	    "\"login_url\":\"/dash/auth/login?from=app\"}", alice_hash);
	CHECK(load(j, NULL, &e) != NULL);
	end();

	begin("policy: attempt limits in the `limits` grammar");
	{
		static const struct {
			const char *s;
			uint32_t count;
			int64_t window;
		} ok[] = { { "5/minute", 5, 60 }, { "10 per 15 minutes", 10, 900 },
			{ "100/day", 100, 86400 }, { "3 Per 2 Hours", 3, 7200 },
			{ "1/second", 1, 1 }, { "7 / 30 seconds", 7, 30 },
			{ "2/month", 2, 2592000 }, { "1 per year", 1, 31104000 },
			/* the abbreviations people write, and week */
			{ "5/min", 5, 60 }, { "5/s", 5, 1 }, { "5/sec", 5, 1 },
			{ "5/15 mins", 5, 900 }, { "5/h", 5, 3600 },
			{ "5/hr", 5, 3600 }, { "5 per 2 HRS", 5, 7200 },
			{ "5/d", 5, 86400 }, { "5/week", 5, 604800 },
			{ "5/2 weeks", 5, 1209600 }, { "5/w", 5, 604800 },
			{ "5/y", 5, 31104000 }, { "5/yr", 5, 31104000 },
			{ "10/secs", 10, 1 } };
		const ac_policy *P;
		for (i = 0; i < sizeof ok / sizeof ok[0]; i++) {
			snprintf(j, sizeof j, "{\"sessions\":{\"keys\":[{\"kid\":\"k\","
			    "\"secret\":\"unit-session-secret-0123456789abcdef\"}]},"
			    "\"users\":[{\"name\":\"a\",\"password_hash\":\"%s\"}],"
			    "\"login\":{\"attempts\":\"%s\"}}", alice_hash, ok[i].s);
			P = load(j, NULL, &e);
			if (P == NULL) {
				printf("# %s: %s %s\n", ok[i].s, e.path, e.message);
				CHECK(0 && "limit refused");
			} else if (P->attempts != ok[i].count ||
			    P->attempts_window != ok[i].window) {
				printf("# %s: %u per %lld s\n", ok[i].s, P->attempts,
				    (long long)P->attempts_window);
				CHECK(0 && "limit read wrong");
			}
		}
		static const char *const no[] = { "0/minute", "5", "5/", "5/fortnight",
			"5 minutes", "-1/minute", "5/0 minutes", "5/minutesx",
			"5/m", "5/M", "5/ms", "5/ss", "5/hs", "5/mo", "5/minn",
			"5/1000001 days", "5/min;10/hour" };
		for (i = 0; i < sizeof no / sizeof no[0]; i++) {
			snprintf(j, sizeof j, "{\"sessions\":{\"keys\":[{\"kid\":\"k\","
			    "\"secret\":\"unit-session-secret-0123456789abcdef\"}]},"
			    "\"users\":[{\"name\":\"a\",\"password_hash\":\"%s\"}],"
			    "\"login\":{\"attempts\":\"%s\"}}", alice_hash, no[i]);
			CHECK(load(j, NULL, &e) == NULL);
		}
	}
	end();

	begin("policy: the administrator from the environment");
	memset(&env, 0, sizeof env);
	env.admin_user.ptr = "root";
	env.admin_user.len = 4;
	CHECK(load(policy_text(""), &env, &e) == NULL);
	CHECK(strcmp(e.path, "$env.AUTHCORE_ADMIN_PASSWORD_HASH") == 0);
	env.admin_password_hash.ptr = "not-a-hash";
	env.admin_password_hash.len = 10;
	CHECK(load(policy_text(""), &env, &e) == NULL);
	CHECK(strcmp(e.path, "$env.AUTHCORE_ADMIN_PASSWORD_HASH") == 0);
	env.admin_password_hash.ptr = root_hash;
	env.admin_password_hash.len = strlen(root_hash);
	env.admin_user.ptr = "alice";
	env.admin_user.len = 5;
	CHECK(load(policy_text(""), &env, &e) == NULL);
	CHECK(strcmp(e.path, "$env.AUTHCORE_ADMIN_USER") == 0 &&
	    strstr(e.message, "already") != NULL);
	env.admin_user.ptr = "root";
	env.admin_user.len = 4;
	CHECK(load(policy_text(""), &env, &e) != NULL);
	/* the environment alone can supply the only user */
	CHECK(load("{\"sessions\":{\"keys\":[{\"kid\":\"k\",\"secret\":"
	    "\"unit-session-secret-0123456789abcdef\"}]},\"login\":{}}", &env,
	    &e) != NULL);
	/* hosts loading several policies from one environment */
	env.admin_optional = 1;
	CHECK(load("{\"sessions\":{\"keys\":[{\"kid\":\"k\",\"secret\":"
	    "\"unit-session-secret-0123456789abcdef\"}]}}", &env, &e) != NULL);
	env.admin_optional = 0;
	/* without "login" there is nothing for the administrator to use */
	CHECK(load("{\"sessions\":{\"keys\":[{\"kid\":\"k\",\"secret\":"
	    "\"unit-session-secret-0123456789abcdef\"}]}}", &env, &e) == NULL);
	CHECK(strcmp(e.path, "$env.AUTHCORE_ADMIN_USER") == 0);
	end();
}

static void test_form_login(void)
{
	ac_policy_error e;
	const ac_policy *P = load(policy_text(""), NULL, &e);
	ac_request r;
	ac_session s;
	size_t len;
	const char *v;
	int slices;

	begin("login: a form post is pending until stepped and resumed");
	CHECK(P != NULL);
	if (P == NULL)
		return;
	CHECK(ac_state_init(&state, ENT, sizeof ENT) == 0);
	header(0, "Content-Type", "application/x-www-form-urlencoded");
	request(&r, "POST", "/app/auth/login",
	    "username=alice&password=s3cret+pw&next=%2Fapp%2Fq", 1);
	CHECK(ac_wants_body(P, "POST", 4, "/app/auth/login?x=1", 19) == 1);
	CHECK(ac_wants_body(P, "GET", 3, "/app/auth/login", 15) == 0);
	CHECK(ac_wants_body(P, "POST", 4, "/app/auth/logout", 16) == 0);
	ac_decide_begin(P, &state, &r, 1000, ENT, 16, &d);
	CHECK(d.a.action == AC_PENDING && d.a.status == 0 &&
	    d.a.reason == AC_PENDING_REASON);
	CHECK(d.a.n_resp_headers == 0 && d.a.n_add == 0);
	CHECK(strstr(d.a.audit, "\"action\":\"pending\"") != NULL);
	CHECK(ac_decide_step(&d, 0) == ITER - 1);
	slices = finish(P, &r, 1001);
	CHECK(slices == (int)(ITER / 500) - 1);
	CHECK(d.a.action == AC_RESPOND && d.a.status == 303 && d.a.reason == AC_OK);
	v = resp("location", 0, &len);
	CHECK(v != NULL && len == 6 && memcmp(v, "/app/q", 6) == 0);
	CHECK(resp_has("set-cookie", 0, "authcore_session=v1.k."));
	CHECK(resp_has("set-cookie", 0, "; Path=/app; Max-Age=600; HttpOnly; SameSite=Strict"));
	CHECK(!resp_has("set-cookie", 0, "Secure"));
	CHECK(resp_has("set-cookie", 1, "authcore_csrf="));
	CHECK(!resp_has("set-cookie", 1, "HttpOnly"));
	CHECK(strstr(d.a.audit, "\"auth\":\"password\"") != NULL &&
	    strstr(d.a.audit, "\"user\":\"alice\"") != NULL);
	end();

	begin("login: the issued session verifies and carries the user's roles; its CSRF cookie matches");
	{
		char tok[AC_SESSION_TOKEN_MAX], csrf[AC_CSRF_TOKEN_LEN];
		size_t tl, cl;
		const char *c0 = resp("set-cookie", 0, &len);
		const char *c1 = resp("set-cookie", 1, &cl);
		const char *p = c0 ? memchr(c0, '=', len) : NULL;
		const char *semi = p ? memchr(p, ';', len - (size_t)(p - c0)) : NULL;
		CHECK(semi != NULL);
		if (semi != NULL) {
			ac_session_key k;
			static const char sec[] = "unit-session-secret-0123456789abcdef";
			tl = (size_t)(semi - p - 1);
			memcpy(tok, p + 1, tl);
			CHECK(ac_session_key_init(&k, (const uint8_t *)sec,
			    sizeof sec - 1, "k", 1) == 0);
			CHECK(ac_session_verify(&k, 1, tok, tl, 1001, &s) == AC_OK);
			CHECK(s.user.len == 5 && memcmp(s.user.ptr, "alice", 5) == 0);
			CHECK(s.n_roles == 2 && s.exp - s.iat == 600);
			CHECK(memcmp(s.sid, ENT, AC_SESSION_ID_LEN) == 0);
			CHECK(ac_csrf_check(&k, 1, tok, tl, c1 + 14, AC_CSRF_TOKEN_LEN) == 1);
			p = memchr(c1, '=', cl);
			memcpy(csrf, p + 1, AC_CSRF_TOKEN_LEN);
			/* verify through the decision path: whoami and a CSRF POST */
			{
				char cookie[AC_SESSION_TOKEN_MAX + 32];
				char hdr[AC_CSRF_TOKEN_LEN + 1];
				ac_request w;
				snprintf(cookie, sizeof cookie, "authcore_session=%.*s", (int)tl, tok);
				memcpy(hdr, csrf, AC_CSRF_TOKEN_LEN);
				hdr[AC_CSRF_TOKEN_LEN] = 0;
				header(0, "Cookie", cookie);
				request(&w, "GET", "/app/auth/whoami", NULL, 1);
				ac_decide_begin(P, &state, &w, 1002, ENT, 16, &d);
				CHECK(d.a.status == 200 && d.a.body.len > 0);
				CHECK(strstr(d.a.body.ptr, "\"roles\":[\"admin\",\"ops\"]") != NULL);
				header(1, "X-CSRF-Token", hdr);
				request(&w, "POST", "/app/jobs", NULL, 2);
				ac_decide_begin(P, &state, &w, 1002, ENT, 16, &d);
				CHECK(d.a.action == AC_ALLOW && d.a.reason == AC_OK);
				/* after the session's ttl (600 s) it is over */
				ac_decide_begin(P, &state, &w, 1001 + 600, ENT, 16, &d);
				CHECK(d.a.reason == AC_EXPIRED);
			}
		}
	}
	end();

	begin("login: Secure cookies under HTTPS");
	header(0, "Content-Type", "application/x-www-form-urlencoded");
	request(&r, "POST", "/app/auth/login", "username=alice&password=s3cret+pw", 1);
	r.https = 1;
	ac_decide_begin(P, &state, &r, 1000, ENT, 16, &d);
	finish(P, &r, 1000);
	CHECK(d.a.status == 303);
	CHECK(resp_has("set-cookie", 0, "; SameSite=Strict; Secure"));
	CHECK(resp_has("set-cookie", 1, "; SameSite=Strict; Secure"));
	v = resp("location", 0, &len);
	CHECK(v != NULL && len == 4 && memcmp(v, "/app", 4) == 0);
	end();

	begin("login: a verdict is bound to the credentials it checked");
	request(&r, "POST", "/app/auth/login", "username=alice&password=s3cret+pw", 1);
	ac_decide_begin(P, &state, &r, 1000, ENT, 16, &d);
	CHECK(d.a.action == AC_PENDING);
	while (ac_decide_step(&d, 1000) > 0)
		;
	{
		/* resumed with another password: no reuse of the match, a
		 * fresh check begins */
		ac_request r2;
		request(&r2, "POST", "/app/auth/login", "username=alice&password=guess", 1);
		ac_decide_finish(P, &state, &r2, 1000, ENT, 16, &d);
		CHECK(d.a.action == AC_PENDING);
		finish(P, &r2, 1000);
		CHECK(d.a.status == 401 && d.a.reason == AC_BAD_PASSWORD);
		CHECK(resp("set-cookie", 0, &len) == NULL);
	}
	end();

	begin("login: no state, no entropy, short entropy are server errors, not logins");
	/* a fresh state: earlier checks count as attempts */
	CHECK(ac_state_init(&state, ENT, sizeof ENT) == 0);
	request(&r, "POST", "/app/auth/login", "username=alice&password=s3cret+pw", 1);
	ac_decide_begin(P, NULL, &r, 1000, ENT, 16, &d);
	CHECK(d.a.status == 500 && d.a.reason == AC_NO_STATE);
	ac_decide_begin(P, &state, &r, 1000, ENT, 16, &d);
	while (ac_decide_step(&d, 1000) > 0)
		;
	ac_decide_finish(P, &state, &r, 1000, ENT, 8, &d);
	CHECK(d.a.status == 500 && resp("set-cookie", 0, &len) == NULL);
	{
		ac_state dead;
		CHECK(ac_state_init(&dead, ENT, 8) == -1);
		ac_decide_begin(P, &dead, &r, 1000, ENT, 16, &d);
		CHECK(d.a.status == 500 && d.a.reason == AC_NO_STATE);
	}
	end();

	begin("login: unknown users cost a password check too, and fail the same way");
	/* a fresh state: earlier checks count as attempts */
	CHECK(ac_state_init(&state, ENT, sizeof ENT) == 0);
	request(&r, "POST", "/app/auth/login", "username=zed&password=s3cret+pw", 1);
	ac_decide_begin(P, &state, &r, 1000, ENT, 16, &d);
	CHECK(d.a.action == AC_PENDING && ac_decide_step(&d, 0) == ITER - 1);
	finish(P, &r, 1000);
	CHECK(d.a.status == 401 && d.a.reason == AC_UNKNOWN_USER);
	CHECK(strstr(d.a.audit, "\"login_user\":\"zed\"") != NULL);
	end();
}

/* Signs in by form and returns "authcore_session=<token>" in `cookie`. */
static int sign_in(const ac_policy *P, const char *user, const char *pw,
    const ac_policy_env *env, char *cookie, size_t cap)
{
	ac_request r;
	char body[256];
	const char *c;
	size_t len, n;

	(void)env;
	header(0, "Content-Type", "application/x-www-form-urlencoded");
	snprintf(body, sizeof body, "username=%s&password=%s", user, pw);
	request(&r, "POST", "/app/auth/login", body, 1);
	ac_decide_begin(P, &state, &r, 1000, ENT, 16, &d);
	finish(P, &r, 1000);
	if (d.a.status != 303 || (c = resp("set-cookie", 0, &len)) == NULL)
		return 0;
	n = (size_t)((const char *)memchr(c, ';', len) - c);
	if (n >= cap)
		return 0;
	memcpy(cookie, c, n);
	cookie[n] = 0;
	return 1;
}

/* whoami with the cookie under policy P: the status. */
static int whoami(const ac_policy *P, const char *cookie, int64_t now)
{
	ac_request w;
	header(0, "Cookie", cookie);
	request(&w, "GET", "/app/auth/whoami", NULL, 1);
	ac_decide_begin(P, &state, &w, now, ENT, 16, &d);
	return d.a.status;
}

static void test_password_change(void)
{
	ac_policy_error e;
	ac_policy_env env;
	static char cookie[AC_SESSION_TOKEN_MAX + 32], root_cookie[sizeof cookie];
	static char text[4096];
	char new_hash[AC_PASSWORD_HASH_MAX + 1];
	const ac_policy *P, *Q;
	ac_session s;
	ac_session_key k;
	static const char sec[] = "unit-session-secret-0123456789abcdef";
	uint8_t tag[AC_SESSION_CRED_LEN];

	memset(&env, 0, sizeof env);
	env.admin_user.ptr = "root";
	env.admin_user.len = 4;
	env.admin_password_hash.ptr = root_hash;
	env.admin_password_hash.len = strlen(root_hash);
	P = load(policy_text(""), &env, &e);
	begin("password change: a password session carries its hash's tag and ends when the hash changes");
	CHECK(P != NULL);
	if (P == NULL)
		return;
	CHECK(ac_state_init(&state, ENT, sizeof ENT) == 0);
	CHECK(sign_in(P, "alice", "s3cret+pw", NULL, cookie, sizeof cookie));
	CHECK(sign_in(P, "root", "root+pw", NULL, root_cookie,
	    sizeof root_cookie));
	CHECK(ac_session_key_init(&k, (const uint8_t *)sec, sizeof sec - 1,
	    "k", 1) == 0);
	CHECK(ac_session_verify(&k, 1, cookie + 17, strlen(cookie + 17), 1001,
	    &s) == AC_OK);
	ac_session_cred_tag(tag, alice_hash, strlen(alice_hash));
	CHECK(s.has_cred && memcmp(s.cred, tag, sizeof tag) == 0);
	CHECK(whoami(P, cookie, 1001) == 200);
	/* the same policy loaded again: the same hash, the session goes on */
	CHECK((Q = reload(policy_text(""), &env)) != NULL);
	CHECK(Q != NULL && whoami(Q, cookie, 1002) == 200);
	CHECK(Q != NULL && whoami(Q, root_cookie, 1002) == 200);
	/* alice's hash changed (even to the same password, new salt) */
	make_hash(new_hash, "s3cret pw", 0x33);
	snprintf(text, sizeof text, "%s", policy_text(""));
	{
		char *at = strstr(text, alice_hash);
		CHECK(at != NULL && strlen(new_hash) == strlen(alice_hash));
		if (at != NULL)
			memcpy(at, new_hash, strlen(new_hash));
	}
	CHECK((Q = reload(text, &env)) != NULL);
	CHECK(Q != NULL && whoami(Q, cookie, 1003) == 401 &&
	    d.a.reason == AC_SESSION_REVOKED);
	CHECK(strstr(d.a.audit, "\"reason\":\"session_revoked\"") != NULL);
	/* the other user's session is untouched */
	CHECK(Q != NULL && whoami(Q, root_cookie, 1003) == 200);
	/* and a page asks the browser to sign in again, not a bare 401 */
	{
		ac_request g;
		header(0, "Cookie", cookie);
		header(1, "Accept", "text/html");
		request(&g, "GET", "/app/jobs", NULL, 2);
		ac_decide_begin(Q, &state, &g, 1003, ENT, 16, &d);
		CHECK(d.a.reason == AC_SESSION_REVOKED && d.a.status == 302);
	}
	end();

	begin("password change: the administrator's hash from the environment counts too; a removed user's sessions end");
	env.admin_password_hash.ptr = new_hash;
	env.admin_password_hash.len = strlen(new_hash);
	CHECK((Q = reload(policy_text(""), &env)) != NULL);
	CHECK(Q != NULL && whoami(Q, root_cookie, 1004) == 401);
	CHECK(Q != NULL && whoami(Q, cookie, 1004) == 200);
	snprintf(text, sizeof text, "%s", policy_text(""));
	{
		char *at = strstr(text, "\"name\":\"alice\"");
		CHECK(at != NULL);
		if (at != NULL)
			memcpy(at, "\"name\":\"alicf\"", 14);
	}
	CHECK((Q = reload(text, &env)) != NULL);
	CHECK(Q != NULL && whoami(Q, cookie, 1004) == 401 &&
	    d.a.reason == AC_SESSION_REVOKED);
	end();

	begin("password change: a session without a tag (issued by the library, or by OIDC) is not tied to a hash");
	{
		static char tok[AC_SESSION_TOKEN_MAX];
		static const ac_str role = { "admin", 5 };
		size_t tl = ac_session_issue(tok, sizeof tok, &k, ENT, "alice",
		    5, &role, 1, 1000, 600);
		CHECK(tl > 0);
		snprintf(cookie, sizeof cookie, "authcore_session=%.*s",
		    (int)tl, tok);
		CHECK(whoami(P, cookie, 1004) == 200);
		CHECK((Q = reload(text, &env)) != NULL);
		CHECK(Q != NULL && whoami(Q, cookie, 1004) == 200);
	}
	end();
}

static void test_throttle(void)
{
	ac_policy_error e;
	const ac_policy *P = load(policy_text(""), NULL, &e);
	ac_request r;
	size_t len;
	const char *v;
	int i;

	begin("attempts: 2/minute per client and user, then 429 before hashing, then the window lapses");
	CHECK(P != NULL && ac_state_init(&state, ENT, sizeof ENT) == 0);
	if (P == NULL)
		return;
	header(0, "Content-Type", "application/x-www-form-urlencoded");
	for (i = 0; i < 2; i++) {
		request(&r, "POST", "/app/auth/login", "username=alice&password=no", 1);
		ac_decide_begin(P, &state, &r, 5000 + i, ENT, 16, &d);
		finish(P, &r, 5000 + i);
		CHECK(d.a.status == 401);
	}
	request(&r, "POST", "/app/auth/login", "username=alice&password=s3cret+pw", 1);
	ac_decide_begin(P, &state, &r, 5010, ENT, 16, &d);
	CHECK(d.a.action == AC_RESPOND && d.a.status == 429 &&
	    d.a.reason == AC_TOO_MANY_ATTEMPTS);
	v = resp("retry-after", 0, &len);
	CHECK(v != NULL && len == 2 && memcmp(v, "50", 2) == 0);
	/* another client address is counted apart */
	r.client_ip.ptr = "192.0.2.8";
	ac_decide_begin(P, &state, &r, 5010, ENT, 16, &d);
	CHECK(d.a.action == AC_PENDING);
	ac_decide_step(&d, 1u << 30);
	r.client_ip.ptr = "192.0.2.7";
	/* the window lapses */
	ac_decide_begin(P, &state, &r, 5060, ENT, 16, &d);
	CHECK(d.a.action == AC_PENDING);
	finish(P, &r, 5060);
	CHECK(d.a.status == 303);
	end();

	begin("attempts: guesses sent side by side are counted when their checks begin");
	{
		static ac_decision d1, d2;
		ac_request r1;
		header(0, "Content-Type", "application/x-www-form-urlencoded");
		request(&r1, "POST", "/app/auth/login", "username=alice&password=x1", 1);
		r1.client_ip.ptr = "192.0.2.99";
		r1.client_ip.len = 10;
		ac_decide_begin(P, &state, &r1, 8000, ENT, 16, &d1);
		ac_decide_begin(P, &state, &r1, 8000, ENT, 16, &d2);
		CHECK(d1.a.action == AC_PENDING && d2.a.action == AC_PENDING);
		/* two checks under way: the limit (2) is reached already */
		ac_decide_begin(P, &state, &r1, 8000, ENT, 16, &d);
		CHECK(d.a.status == 429);
		ac_password_verify_wipe(&d1.work.verify);
		ac_password_verify_wipe(&d2.work.verify);
	}
	end();

	begin("attempts: a success clears the count");
	for (i = 0; i < 2; i++) {
		request(&r, "POST", "/app/auth/login",
		    i ? "username=alice&password=no" : "username=alice&password=s3cret+pw", 1);
		ac_decide_begin(P, &state, &r, 6000, ENT, 16, &d);
		finish(P, &r, 6000);
	}
	request(&r, "POST", "/app/auth/login", "username=alice&password=no", 1);
	ac_decide_begin(P, &state, &r, 6000, ENT, 16, &d);
	CHECK(d.a.action == AC_PENDING);
	end();

	begin("attempts: a flood of distinct clients stays in the fixed table and still counts");
	{
		/* a one-iteration hash keeps thousands of attempts cheap */
		char fast[AC_PASSWORD_HASH_MAX + 1], j[4096];
		const ac_policy *F;
		char ip[32];
		int refused = 0;
		uint8_t salt[AC_PASSWORD_SALT_LEN];
		size_t n;
		memset(salt, 7, sizeof salt);
		n = ac_password_hash(fast, AC_PASSWORD_HASH_MAX, AC_PBKDF2_SHA256,
		    "pw", 2, salt, 1);
		fast[n] = 0;
		snprintf(j, sizeof j, "{\"sessions\":{\"keys\":[{\"kid\":\"k\","
		    "\"secret\":\"unit-session-secret-0123456789abcdef\"}]},"
		    "\"users\":[{\"name\":\"alice\",\"password_hash\":\"%s\"}],"
		    "\"login\":{\"attempts\":\"2/hour\"}}", fast);
		F = load(j, NULL, &e);
		CHECK(F != NULL);
		for (i = 0; F != NULL && i < 3 * AC_THROTTLE_SLOTS + 2; i++) {
			snprintf(ip, sizeof ip, "10.%d.%d.%d", i / 65536,
			    (i / 256) % 256, i % 256);
			if (i >= 3 * AC_THROTTLE_SLOTS)
				snprintf(ip, sizeof ip, "198.51.100.1");
			request(&r, "POST", "/auth/login", "username=alice&password=no", 1);
			r.client_ip.ptr = ip;
			r.client_ip.len = strlen(ip);
			ac_decide_begin(F, &state, &r, 7000 + i / 1000, ENT, 16, &d);
			if (d.a.action == AC_PENDING)
				finish(F, &r, 7000 + i / 1000);
			if (d.a.status != 401)
				refused++;
		}
		CHECK(refused == 0);
		/* the newest pair's two failures are still counted */
		if (F != NULL) {
			ac_decide_begin(F, &state, &r, 7010, ENT, 16, &d);
			CHECK(d.a.status == 429);
		}
	}
	end();
}

/* A policy whose user alice has a one-iteration hash of "pw" (thousands of
 * attempts stay cheap), passwords up to 16 bytes, and `login` members. */
static const ac_policy *fast_policy(const char *login_members)
{
	static char fast[AC_PASSWORD_HASH_MAX + 1], j[4096];
	uint8_t salt[AC_PASSWORD_SALT_LEN];
	ac_policy_error e;
	const ac_policy *F;
	size_t n;

	memset(salt, 7, sizeof salt);
	n = ac_password_hash(fast, AC_PASSWORD_HASH_MAX, AC_PBKDF2_SHA256,
	    "pw", 2, salt, 1);
	fast[n] = 0;
	snprintf(j, sizeof j, "{\"sessions\":{\"keys\":[{\"kid\":\"k\","
	    "\"secret\":\"unit-session-secret-0123456789abcdef\"}]},"
	    "\"passwords\":{\"max_length\":16},\"users\":[{\"name\":\"alice\","
	    "\"password_hash\":\"%s\"}],\"login\":{\"basic\":true%s%s}}", fast,
	    *login_members ? "," : "", login_members);
	F = load(j, NULL, &e);
	if (F == NULL)
		printf("# fast policy: %s: %s\n", e.path, e.message);
	return F;
}

/* One login post from `ip` as `user` with `pw`, decided at `now`; a
 * pending check is run and resumed. Returns 1 if it was pending (a
 * password was hashed), 0 if answered at once. */
static int attempt(const ac_policy *F, const char *ip, const char *user,
    const char *pw, int64_t now)
{
	static char body[256];
	ac_request r;
	int pending;

	snprintf(body, sizeof body, "username=%s&password=%s", user, pw);
	header(0, "Content-Type", "application/x-www-form-urlencoded");
	request(&r, "POST", "/auth/login", body, 1);
	r.client_ip.ptr = ip;
	r.client_ip.len = strlen(ip);
	ac_decide_begin(F, &state, &r, now, ENT, 16, &d);
	pending = d.a.action == AC_PENDING;
	if (pending)
		finish(F, &r, now);
	return pending;
}

/* A failed login from `ip` for a user no other call names. */
static int fail_once(const ac_policy *F, const char *ip, int64_t now)
{
	static unsigned n;
	char user[32];
	snprintf(user, sizeof user, "nobody%u", n++);
	return attempt(F, ip, user, "x", now);
}

static int retry_is(const char *want)
{
	size_t len;
	const char *v = resp("retry-after", 0, &len);
	return v != NULL && len == strlen(want) && memcmp(v, want, len) == 0;
}

static int retry_positive(void)
{
	size_t len;
	const char *v = resp("retry-after", 0, &len);
	return v != NULL && len > 0 && v[0] >= '1' && v[0] <= '9';
}

static void test_budget(void)
{
	const ac_policy *F = fast_policy("");
	char user[32];
	int i, hashed = 0, answered401 = 0, refused = 0, late_pending = 0;
	unsigned seed = 12345;

	begin("budget: rotating usernames from one client: hashing stops at the budget (default 20/minute), then 429 before any check");
	CHECK(F != NULL && ac_state_init(&state, ENT, sizeof ENT) == 0);
	if (F == NULL)
		return;
	for (i = 0; i < 200; i++) {
		int p;
		seed = seed * 1103515245u + 12345u;
		snprintf(user, sizeof user, "u%08x", seed);
		/* every third guess is over the length limit: no hashing,
		 * but it spends the budget all the same */
		p = attempt(F, "203.0.113.5", user, i % 3 == 2 ?
		    "over-the-limit-password" : "guess", 2000 + i / 10);
		hashed += p;
		if (d.a.status == 401 && d.a.reason == AC_UNKNOWN_USER)
			answered401++;
		if (d.a.status == 429 && d.a.reason == AC_TOO_MANY_ATTEMPTS &&
		    retry_positive())
			refused++;
		if (i >= 20 && p)
			late_pending++;
	}
	printf("# 200 guesses, random users, one client: %d hashed, %d answered 401, %d refused 429\n",
	    hashed, answered401, refused);
	CHECK(answered401 == 20 && refused == 180 && late_pending == 0);
	CHECK(hashed == 14); /* 20 counted, 6 of them over-long */
	/* the right password and Basic credentials from that client wait too */
	CHECK(attempt(F, "203.0.113.5", "alice", "pw", 2019) == 0 &&
	    d.a.status == 429 && d.a.reason == AC_TOO_MANY_ATTEMPTS);
	{
		ac_request r;
		header(0, "Authorization", "Basic YWxpY2U6cHc="); /* alice:pw */
		request(&r, "GET", "/x", NULL, 1);
		r.client_ip.ptr = "203.0.113.5";
		r.client_ip.len = 11;
		ac_decide_begin(F, &state, &r, 2019, ENT, 16, &d);
		CHECK(d.a.action == AC_RESPOND && d.a.status == 429 &&
		    d.a.reason == AC_TOO_MANY_ATTEMPTS && retry_is("41"));
	}
	/* other clients are not held back; the window lapses */
	CHECK(attempt(F, "203.0.113.6", "alice", "pw", 2019) == 1 &&
	    d.a.status == 303);
	CHECK(attempt(F, "203.0.113.5", "alice", "pw", 2060) == 1 &&
	    d.a.status == 303);
	end();

	begin("budget: Basic credentials spend it; a cache hit does not");
	{
		ac_request r;
		int n = 0;
		header(0, "Authorization", "Basic YWxpY2U6cHc="); /* alice:pw */
		request(&r, "GET", "/x", NULL, 1);
		r.client_ip.ptr = "203.0.113.9";
		r.client_ip.len = 11;
		for (i = 0; i < 19; i++)
			fail_once(F, "203.0.113.9", 3000);
		header(0, "Authorization", "Basic YWxpY2U6cHc=");
		ac_decide_begin(F, &state, &r, 3000, ENT, 16, &d);
		CHECK(d.a.action == AC_PENDING);
		finish(F, &r, 3000);
		CHECK(d.a.action == AC_ALLOW);
		for (i = 0; i < 30; i++) {
			ac_decide_begin(F, &state, &r, 3001, ENT, 16, &d);
			n += d.a.action == AC_ALLOW;
		}
		CHECK(n == 30);
		/* the success gave back its own attempt: one failure left */
		CHECK(fail_once(F, "203.0.113.9", 3001) == 1 &&
		    d.a.status == 401);
		CHECK(fail_once(F, "203.0.113.9", 3001) == 0 &&
		    d.a.status == 429);
		header(0, "Authorization", "Basic bm9ib2R5Ong="); /* nobody:x */
		ac_decide_begin(F, &state, &r, 3001, ENT, 16, &d);
		CHECK(d.a.status == 429 && d.a.reason == AC_TOO_MANY_ATTEMPTS);
	}
	end();

	begin("budget: successes neither spend nor refill it");
	CHECK(ac_state_init(&state, ENT, sizeof ENT) == 0);
	for (i = 0; i < 10; i++)
		fail_once(F, "198.51.100.20", 4000);
	for (i = 0; i < 5; i++)
		CHECK(attempt(F, "198.51.100.20", "alice", "pw", 4000) == 1 &&
		    d.a.status == 303);
	for (i = 0; i < 10; i++)
		CHECK(fail_once(F, "198.51.100.20", 4001) == 1 &&
		    d.a.status == 401);
	CHECK(fail_once(F, "198.51.100.20", 4001) == 0 &&
	    d.a.status == 429);
	CHECK(attempt(F, "198.51.100.20", "alice", "pw", 4001) == 0 &&
	    d.a.status == 429);
	end();

	begin("budget: a check begun in the last window gives nothing back to the next");
	{
		ac_request r;
		static ac_decision late;
		CHECK(ac_state_init(&state, ENT, sizeof ENT) == 0);
		fail_once(F, "198.51.100.21", 5000); /* window 5000..5060 */
		header(0, "Content-Type", "application/x-www-form-urlencoded");
		request(&r, "POST", "/auth/login", "username=alice&password=pw", 1);
		r.client_ip.ptr = "198.51.100.21";
		r.client_ip.len = 13;
		ac_decide_begin(F, &state, &r, 5059, ENT, 16, &late);
		CHECK(late.a.action == AC_PENDING);
		for (i = 0; i < 20; i++)
			CHECK(fail_once(F, "198.51.100.21", 5060) == 1);
		ac_decide_finish(F, &state, &r, 5061, ENT, 16, &late);
		CHECK(late.a.status == 303);
		CHECK(fail_once(F, "198.51.100.21", 5061) == 0 &&
		    d.a.status == 429);
	}
	end();

	begin("budget: clocks at the ends of int64 count and refuse without overflow");
	{
		static const int64_t ends[] = { INT64_MAX - 5, INT64_MIN + 5,
			INT64_MIN };
		size_t k;
		for (k = 0; k < sizeof ends / sizeof ends[0]; k++) {
			CHECK(ac_state_init(&state, ENT, sizeof ENT) == 0);
			for (i = 0; i < 20; i++)
				CHECK(fail_once(F, "198.51.100.30", ends[k]) == 1 &&
				    d.a.status == 401);
			CHECK(fail_once(F, "198.51.100.30", ends[k]) == 0 &&
			    d.a.status == 429 && retry_positive());
		}
	}
	end();

	begin("budget: IPv6 clients share one per /64; IPv4 is the same written mapped");
	{
		static const struct { const char *spend, *probe; int same; } c[] = {
			{ "2001:db8:1:2::1", "2001:DB8:1:2:ffff::9", 1 },
			{ "2001:db8:1:2::1", "2001:db8:1:3::1", 0 },
			{ "[2001:db8:7:0:1:2:3:4]", "2001:db8:7::%eth0", 1 },
			{ "192.0.2.1", "::ffff:192.0.2.1", 1 },
			{ "::ffff:192.0.2.1", "::ffff:192.0.2.2", 0 },
			{ "::1", "::2", 1 },
			{ "not-an-address", "not-an-address", 1 },
			{ "not-an-address", "not-an-addresS", 0 },
		};
		size_t k;
		for (k = 0; k < sizeof c / sizeof c[0]; k++) {
			CHECK(ac_state_init(&state, ENT, sizeof ENT) == 0);
			for (i = 0; i < 20; i++)
				fail_once(F, c[k].spend, 6000);
			fail_once(F, c[k].probe, 6000);
			if ((d.a.status == 429) != c[k].same) {
				printf("# %s then %s: %d\n", c[k].spend,
				    c[k].probe, d.a.status);
				CHECK(0 && "budget shared or not as expected");
			}
		}
	}
	end();
}

static void test_flood(void)
{
	const ac_policy *F = fast_policy("\"attempts\":\"3/minute\"");
	char ip[32], user[32];
	int i, k, ok_refused = 1;
	long flood = 0, over503 = 0, locked_pairs = 0;

	begin("flood: thousands of cheap failures from many clients leave alice's locked counter locked until its window ends");
	CHECK(F != NULL && ac_state_init(&state, ENT, sizeof ENT) == 0);
	if (F == NULL)
		return;
	for (i = 0; i < 3; i++)
		CHECK(attempt(F, "192.0.2.7", "alice", "no", 1000) == 1 &&
		    d.a.status == 401);
	CHECK(attempt(F, "192.0.2.7", "alice", "pw", 1000) == 0 &&
	    d.a.status == 429 && retry_is("60"));
	/* 2,000 clients, 10 failures each (under their budget of 20):
	 * over-long passwords and random users, every pair a new one */
	for (i = 0; i < 2000; i++) {
		snprintf(ip, sizeof ip, "10.9.%d.%d", i / 256, i % 256);
		for (k = 0; k < 10; k++) {
			snprintf(user, sizeof user, "f%d-%d", i, k);
			attempt(F, ip, user, k & 1 ? "over-the-limit-password" :
			    "x", 1001 + i / 200);
			flood++;
			if (d.a.status != 401 && d.a.status != 503)
				ok_refused = 0;
		}
	}
	printf("# flood: %ld failed logins from 2000 clients\n", flood);
	CHECK(ok_refused);
	CHECK(attempt(F, "192.0.2.7", "alice", "pw", 1030) == 0 &&
	    d.a.status == 429 && d.a.reason == AC_TOO_MANY_ATTEMPTS &&
	    retry_is("30"));
	CHECK(attempt(F, "192.0.2.7", "alice", "pw", 1059) == 0 &&
	    d.a.status == 429);
	CHECK(attempt(F, "192.0.2.7", "alice", "pw", 1060) == 1 &&
	    d.a.status == 303);
	end();

	begin("flood: with every counter slot locked, new attempts are refused 503 (fail closed), never by forgetting a lock");
	CHECK(ac_state_init(&state, ENT, sizeof ENT) == 0);
	for (i = 0; i < 3; i++)
		attempt(F, "192.0.2.7", "alice", "no", 8000);
	/* lock pairs (3 over-long failures each, 6 per client, 18 < the
	 * budget of 20) until most new pairs find no slot */
	for (i = 0; i < 3000 && over503 < 300; i++) {
		snprintf(ip, sizeof ip, "10.8.%d.%d", i / 256, i % 256);
		for (k = 0; k < 18; k++) {
			snprintf(user, sizeof user, "l%d-%d", i, k / 3);
			attempt(F, ip, user, "over-the-limit-password", 8000);
			if (d.a.status == 503)
				over503++;
			else if (k % 3 == 2 && d.a.status == 401)
				locked_pairs++;
		}
	}
	printf("# %ld pairs locked, %ld attempts refused 503 (%d slots)\n",
	    locked_pairs, over503, AC_THROTTLE_SLOTS);
	CHECK(over503 >= 300 && locked_pairs <= AC_THROTTLE_SLOTS);
	/* alice's lock held through all of it */
	CHECK(attempt(F, "192.0.2.7", "alice", "pw", 8001) == 0 &&
	    d.a.status == 429 && d.a.reason == AC_TOO_MANY_ATTEMPTS);
	/* a new pair that lands in a full group: 503, no hashing */
	{
		int seen = 0;
		for (i = 0; i < 2000 && !seen; i++) {
			snprintf(user, sizeof user, "probe%d", i);
			snprintf(ip, sizeof ip, "10.7.%d.%d", i / 256, i % 256);
			if (attempt(F, ip, user, "pw", 8002) == 0 &&
			    d.a.status == 503) {
				seen = 1;
				CHECK(d.a.reason == AC_OVERLOADED && retry_positive());
				CHECK(d.a.action == AC_RESPOND);
			}
		}
		CHECK(seen);
		/* when the windows end, the same attempt goes through */
		CHECK(attempt(F, ip, user, "pw", 8060) == 1 &&
		    d.a.status == 401);
	}
	end();
}

static void test_pending_cap(void)
{
	const ac_policy *F = fast_policy("\"attempts\":\"1/minute\",\"max_pending\":3");
	const ac_policy *D;
	static ac_decision p[9];
	static ac_request rq[9];
	static char ips[9][32];
	int i, n;

	begin("pending: max_pending checks in flight, the next is 503 overloaded with Retry-After, before hashing or counting");
	CHECK(F != NULL && ac_state_init(&state, ENT, sizeof ENT) == 0);
	if (F == NULL)
		return;
	header(0, "Content-Type", "application/x-www-form-urlencoded");
	for (i = 0; i < 4; i++) {
		snprintf(ips[i], sizeof ips[i], "192.0.2.%d", 50 + i);
		request(&rq[i], "POST", "/auth/login", "username=alice&password=pw", 1);
		rq[i].client_ip.ptr = ips[i];
		rq[i].client_ip.len = strlen(ips[i]);
		ac_decide_begin(F, &state, &rq[i], 1000, ENT, 16, &p[i]);
	}
	CHECK(p[0].a.action == AC_PENDING && p[1].a.action == AC_PENDING &&
	    p[2].a.action == AC_PENDING);
	CHECK(p[3].a.action == AC_RESPOND && p[3].a.status == 503 &&
	    p[3].a.reason == AC_OVERLOADED);
	d = p[3];
	CHECK(retry_is("1"));
	CHECK(strstr(p[3].a.audit, "\"reason\":\"overloaded\"") != NULL);
	/* JSON clients read a JSON answer */
	{
		ac_request rj;
		header(0, "Content-Type", "application/json");
		request(&rj, "POST", "/auth/login",
		    "{\"username\":\"alice\",\"password\":\"pw\"}", 1);
		ac_decide_begin(F, &state, &rj, 1000, ENT, 16, &d);
		CHECK(d.a.status == 503 && d.a.body.len == 22 &&
		    memcmp(d.a.body.ptr, "{\"error\":\"overloaded\"}", 22) == 0);
		header(0, "Content-Type", "application/x-www-form-urlencoded");
	}
	end();

	begin("pending: a resume frees its slot for a new check; the refused one was not counted");
	while (ac_decide_step(&p[0], 1000) > 0)
		;
	ac_decide_finish(F, &state, &rq[0], 1001, ENT, 16, &p[0]);
	CHECK(p[0].a.action == AC_RESPOND && p[0].a.status == 303);
	/* "1/minute" per pair: had the 503 been counted, this would be 429 */
	ac_decide_begin(F, &state, &rq[3], 1001, ENT, 16, &p[3]);
	CHECK(p[3].a.action == AC_PENDING);
	ac_decide_begin(F, &state, &rq[0], 1001, ENT, 16, &p[0]);
	CHECK(p[0].a.status == 503);
	end();

	begin("pending: slots of checks never resumed lapse after AC_PENDING_TIMEOUT; a stale resume frees nobody else's");
	/* p[1] and p[2] (taken at 1000) and p[3] (at 1001) are dropped by
	 * their host (client aborts) */
	ac_decide_begin(F, &state, &rq[0], 999 + AC_PENDING_TIMEOUT, ENT, 16, &p[0]);
	CHECK(p[0].a.status == 503);
	ac_decide_begin(F, &state, &rq[0], 1000 + AC_PENDING_TIMEOUT, ENT, 16, &p[0]);
	CHECK(p[0].a.action == AC_PENDING);
	snprintf(ips[4], sizeof ips[4], "192.0.2.54");
	request(&rq[4], "POST", "/auth/login", "username=alice&password=pw", 1);
	rq[4].client_ip.ptr = ips[4];
	rq[4].client_ip.len = strlen(ips[4]);
	ac_decide_begin(F, &state, &rq[4], 1000 + AC_PENDING_TIMEOUT, ENT, 16, &p[4]);
	CHECK(p[4].a.action == AC_PENDING);
	/* the stale p[1] resumes late: its slot is someone else's now */
	ac_decide_finish(F, &state, &rq[1], 1060, ENT, 16, &p[1]);
	CHECK(p[1].a.status == 303);
	request(&rq[6], "POST", "/auth/login", "username=alice&password=pw", 1);
	rq[6].client_ip.ptr = "192.0.2.60";
	rq[6].client_ip.len = 10;
	ac_decide_begin(F, &state, &rq[6], 1060, ENT, 16, &p[6]);
	CHECK(p[6].a.status == 503);
	for (i = 0; i < 7; i++)
		if (p[i].a.action == AC_PENDING)
			ac_password_verify_wipe(&p[i].work.verify);
	end();

	begin("pending: a host that drops a check abandons it: its slot is free at once, its attempt stays counted");
	CHECK(ac_state_init(&state, ENT, sizeof ENT) == 0);
	for (i = 0; i < 3; i++) {
		ac_decide_begin(F, &state, &rq[i], 2000, ENT, 16, &p[i]);
		CHECK(p[i].a.action == AC_PENDING);
	}
	ac_decide_begin(F, &state, &rq[3], 2000, ENT, 16, &p[3]);
	CHECK(p[3].a.status == 503);
	ac_decide_abandon(&state, &p[1]);
	CHECK(p[1].a.action != AC_PENDING && ac_decide_step(&p[1], 1) == 0);
	ac_decide_abandon(&state, &p[1]); /* twice: nothing more */
	ac_decide_begin(F, &state, &rq[3], 2000, ENT, 16, &p[3]);
	CHECK(p[3].a.action == AC_PENDING);
	ac_decide_begin(F, &state, &rq[4], 2000, ENT, 16, &p[4]);
	CHECK(p[4].a.status == 503);
	/* "1/minute": the abandoned guess was counted */
	ac_decide_abandon(&state, &p[3]);
	ac_decide_begin(F, &state, &rq[1], 2000, ENT, 16, &p[1]);
	CHECK(p[1].a.status == 429 && p[1].a.reason == AC_TOO_MANY_ATTEMPTS);
	/* not pending: untouched */
	ac_decide_abandon(&state, &p[1]);
	CHECK(p[1].a.status == 429);
	for (i = 0; i < 5; i++)
		ac_decide_abandon(&state, &p[i]);
	end();

	begin("pending: the default cap is 8; Basic checks take slots too");
	D = fast_policy(""); /* in the same memory: F is done with */
	CHECK(D != NULL && ac_state_init(&state, ENT, sizeof ENT) == 0);
	for (i = 0, n = 0; D != NULL && i < 9; i++) {
		snprintf(ips[i], sizeof ips[i], "192.0.2.%d", 70 + i);
		header(0, "Authorization", "Basic YWxpY2U6cHc="); /* alice:pw */
		request(&rq[i], "GET", "/x", NULL, 1);
		rq[i].client_ip.ptr = ips[i];
		rq[i].client_ip.len = strlen(ips[i]);
		ac_decide_begin(D, &state, &rq[i], 1000, ENT, 16, &p[i]);
		n += p[i].a.action == AC_PENDING;
	}
	CHECK(n == 8 && p[8].a.status == 503 && p[8].a.reason == AC_OVERLOADED);
	d = p[8];
	CHECK(retry_is("1"));
	for (i = 0; i < 9; i++)
		if (p[i].a.action == AC_PENDING)
			ac_password_verify_wipe(&p[i].work.verify);
	printf("# ac_state: %zu bytes\n", ac_sizeof_state());
	end();
}

static void test_basic(void)
{
	ac_policy_error e;
	const ac_policy *P = load(policy_text(",\"basic_cache_ttl\":30"), NULL, &e);
	ac_request r;
	static const char creds[] = "Basic YWxpY2U6czNjcmV0IHB3"; /* alice:s3cret pw */
	static const char wrong[] = "Basic YWxpY2U6czNjcmV0IHB4"; /* alice:s3cret px */

	begin("basic: first use is checked (pending), then served from the cache until it lapses");
	CHECK(P != NULL && ac_state_init(&state, ENT, sizeof ENT) == 0);
	if (P == NULL)
		return;
	header(0, "Authorization", creds);
	request(&r, "GET", "/app/api/x", NULL, 1);
	ac_decide_begin(P, &state, &r, 1000, ENT, 16, &d);
	CHECK(d.a.action == AC_PENDING);
	finish(P, &r, 1000);
	CHECK(d.a.action == AC_ALLOW && d.a.reason == AC_OK);
	/* checked against the hash: a login, audited; from the cache: an
	 * allowed request, not audited by default */
	CHECK(strstr(d.a.audit, "\"auth\":\"basic\"") != NULL);
	ac_decide_begin(P, &state, &r, 1029, ENT, 16, &d);
	CHECK(d.a.action == AC_ALLOW && d.a.audit_len == 0);
	ac_decide_begin(P, &state, &r, 1030, ENT, 16, &d);
	CHECK(d.a.action == AC_PENDING);
	ac_decide_step(&d, 1u << 30);
	end();

	begin("basic: a wrong password is never cached and gets a Basic challenge");
	/* a fresh state: earlier checks count as attempts */
	CHECK(ac_state_init(&state, ENT, sizeof ENT) == 0);
	header(0, "Authorization", wrong);
	request(&r, "GET", "/app/api/x", NULL, 1);
	ac_decide_begin(P, &state, &r, 1000, ENT, 16, &d);
	CHECK(d.a.action == AC_PENDING);
	finish(P, &r, 1000);
	CHECK(d.a.status == 401 && d.a.reason == AC_BAD_PASSWORD);
	CHECK(resp_has("www-authenticate", 0, "Basic realm=\"t\", charset=\"UTF-8\""));
	ac_decide_begin(P, &state, &r, 1000, ENT, 16, &d);
	CHECK(d.a.action == AC_PENDING);
	ac_decide_step(&d, 1u << 30);
	end();

	begin("basic: the cache is bound to the stored hash (a changed password ends it)");
	/* a fresh state: earlier checks count as attempts */
	CHECK(ac_state_init(&state, ENT, sizeof ENT) == 0);
	{
		char j[4096];
		char other[AC_PASSWORD_HASH_MAX + 1];
		const ac_policy *P2;
		header(0, "Authorization", creds);
		request(&r, "GET", "/app/api/x", NULL, 1);
		ac_decide_begin(P, &state, &r, 2000, ENT, 16, &d);
		finish(P, &r, 2000);
		CHECK(d.a.action == AC_ALLOW);
		/* same state, a policy where alice's hash is new (same
		 * password, other salt) */
		make_hash(other, "s3cret pw", 0x55);
		snprintf(j, sizeof j, "{\"realm\":\"t\",\"sessions\":{\"keys\":[{\"kid\":\"k\","
		    "\"secret\":\"unit-session-secret-0123456789abcdef\"}]},\"users\":"
		    "[{\"name\":\"alice\",\"password_hash\":\"%s\"}],\"login\":"
		    "{\"prefix\":\"/app\",\"basic\":true}}", other);
		P2 = load(j, NULL, &e);
		CHECK(P2 != NULL);
		if (P2 != NULL) {
			ac_decide_begin(P2, &state, &r, 2001, ENT, 16, &d);
			CHECK(d.a.action == AC_PENDING);
			ac_decide_step(&d, 1u << 30);
		}
	}
	end();
}

/* ac_needs names the state entries a request touches, and the decision
 * says whether it wrote the state: a host holding a copy of a shared state
 * writes it back only then. */
static void test_needs_and_writes(void)
{
	ac_policy_error e;
	const ac_policy *P = load(policy_text(",\"basic_cache_ttl\":30"), NULL, &e);
	ac_request r;
	static const char creds[] = "Basic YWxpY2U6czNjcmV0IHB3"; /* alice:s3cret pw */
	static const char form[] = "username=alice&password=s3cret+pw";
	unsigned n;

	begin("needs: login posts and Basic name their state entries, other requests none");
	CHECK(P != NULL && ac_state_init(&state, ENT, sizeof ENT) == 0);
	if (P == NULL)
		return;
	CHECK(AC_NEEDS_STATE == (AC_NEEDS_THROTTLE | AC_NEEDS_CLIENT_BUDGET |
	    AC_NEEDS_PENDING | AC_NEEDS_CREDS));
	CHECK((AC_NEEDS_STATE & AC_NEEDS_BODY) == 0);
	request(&r, "POST", "/app/auth/login", form, 0);
	n = ac_needs(P, &r);
	/* and the scheme: the session cookie's Secure flag, same-origin */
	CHECK(n == (AC_NEEDS_BODY | AC_NEEDS_THROTTLE | AC_NEEDS_CLIENT_BUDGET |
	    AC_NEEDS_PENDING | AC_NEEDS_TLS));
	header(0, "Authorization", creds);
	request(&r, "GET", "/app/api/x", NULL, 1);
	CHECK(ac_needs(P, &r) == AC_NEEDS_STATE);
	request(&r, "GET", "/app/auth/login", NULL, 0);
	CHECK(ac_needs(P, &r) == 0);
	header(0, "Authorization", "Bearer abc.def.ghi");
	request(&r, "GET", "/app/api/x", NULL, 1);
	CHECK(ac_needs(P, &r) == 0);
	/* the scheme for a logout (cookies cleared) and wherever a Cookie
	 * comes (a session) */
	request(&r, "GET", "/app/auth/logout", NULL, 0);
	CHECK(ac_needs(P, &r) == AC_NEEDS_TLS);
	request(&r, "GET", "/app/auth/whoami", NULL, 0);
	CHECK(ac_needs(P, &r) == 0);
	header(0, "Cookie", "authcore_session=x");
	request(&r, "GET", "/app/auth/whoami", NULL, 1);
	CHECK(ac_needs(P, &r) == AC_NEEDS_TLS);
	end();

	begin("needs: require_https and HSTS read the scheme of every request");
	{
#define JWT_ONLY "{\"jwt\":{\"keys\":[{\"kid\":\"k1\",\"alg\":\"HS256\"," \
    "\"secret\":\"unit-jwt-secret-0123456789abcdef\"}]},\"public\":[\"/*\"]"
		static const char *const pol[] = {
			JWT_ONLY ",\"require_https\":true}",
			JWT_ONLY ",\"security_headers\":{}}",
			JWT_ONLY ",\"security_headers\":{\"hsts\":false}}",
			JWT_ONLY "}" };
#undef JWT_ONLY
		static const unsigned want[] = { AC_NEEDS_TLS, AC_NEEDS_TLS, 0, 0 };
		size_t i;

		for (i = 0; i < sizeof pol / sizeof pol[0]; i++) {
			const ac_policy *Q = load(pol[i], NULL, &e);

			CHECK(Q != NULL);
			if (Q == NULL) {
				printf("# %s: %s\n", e.path, e.message);
				continue;
			}
			request(&r, "GET", "/x", NULL, 0);
			CHECK(ac_needs(Q, &r) == want[i]);
		}
		/* one policy buffer: the login policy again */
		P = load(policy_text(",\"basic_cache_ttl\":30"), NULL, &e);
		CHECK(P != NULL);
		if (P == NULL)
			return;
	}
	end();

	begin("state_written: set by what writes (a check begun, finished, cached), clear otherwise");
	header(0, "Authorization", creds);
	request(&r, "GET", "/app/api/x", NULL, 1);
	ac_decide_begin(P, &state, &r, 1000, ENT, 16, &d);
	CHECK(d.a.action == AC_PENDING && d.a.state_written == 1);
	finish(P, &r, 1000);
	CHECK(d.a.action == AC_ALLOW && d.a.state_written == 1);
	/* a cache hit reads the state and writes nothing */
	ac_decide_begin(P, &state, &r, 1001, ENT, 16, &d);
	CHECK(d.a.action == AC_ALLOW && d.a.state_written == 0);
	/* a request that needs no state */
	request(&r, "GET", "/app/auth/login", NULL, 0);
	ac_decide_begin(P, &state, &r, 1001, ENT, 16, &d);
	CHECK(d.a.status == 200 && d.a.state_written == 0);
	/* a dropped check frees its slot: a write */
	request(&r, "POST", "/app/auth/login", form, 0);
	ac_decide_begin(P, &state, &r, 1002, ENT, 16, &d);
	CHECK(d.a.action == AC_PENDING && d.a.state_written == 1);
	ac_decide_abandon(&state, &d);
	CHECK(d.a.action != AC_PENDING && d.a.state_written == 1);
	end();

	begin("decide: the one-shot call runs a check to the end; next begins or finishes");
	CHECK(ac_state_init(&state, ENT, sizeof ENT) == 0);
	request(&r, "POST", "/app/auth/login", form, 0);
	ac_decide(P, &state, &r, 3000, ENT, 16, &d);
	CHECK(d.a.action == AC_RESPOND && d.a.status == 303 &&
	    d.a.reason == AC_OK);
	CHECK(ac_state_init(&state, ENT, sizeof ENT) == 0);
	memset(&d, 0, sizeof d);
	ac_decide_next(P, &state, &r, 3000, ENT, 16, &d);
	CHECK(d.a.action == AC_PENDING);
	while (ac_decide_step(&d, 1000) > 0)
		;
	ac_decide_next(P, &state, &r, 3000, ENT, 16, &d);
	CHECK(d.a.action == AC_RESPOND && d.a.status == 303);
	ac_decide_next(P, &state, &r, 3000, ENT, 16, &d);
	CHECK(d.a.action == AC_PENDING); /* a finished decision: begins again */
	ac_decide_abandon(&state, &d);
	end();
}

static void test_pages(void)
{
	ac_policy_error e;
	const ac_policy *P = load(policy_text(""), NULL, &e);
	ac_request r;
	size_t len;
	const char *v;

	begin("pages: login page, logout, redirects and 405");
	CHECK(P != NULL);
	if (P == NULL)
		return;
	header(0, "Accept", "text/html");
	request(&r, "GET", "/app/auth/login?next=/app/x%3Fy%3D%3Cz%3E", NULL, 1);
	ac_decide_begin(P, &state, &r, 1000, ENT, 16, &d);
	CHECK(d.a.status == 200 && d.a.reason == AC_PUBLIC);
	CHECK(strstr(d.a.body.ptr, "value=\"/app/x?y=&lt;z&gt;\"") != NULL);
	CHECK(resp_has("content-security-policy", 0, "default-src 'none'"));
	request(&r, "GET", "/app/reports", NULL, 1);
	ac_decide_begin(P, &state, &r, 1000, ENT, 16, &d);
	v = resp("location", 0, &len);
	CHECK(d.a.status == 302 && v != NULL && len == 33 &&
	    memcmp(v, "/app/auth/login?next=/app/reports", 33) == 0);
	request(&r, "GET", "/app", NULL, 1);
	ac_decide_begin(P, &state, &r, 1000, ENT, 16, &d);
	CHECK(d.a.status == 302);
	request(&r, "GET", "/apple", NULL, 1);
	ac_decide_begin(P, &state, &r, 1000, ENT, 16, &d);
	CHECK(d.a.status == 401);
	request(&r, "POST", "/app/reports", NULL, 1);
	ac_decide_begin(P, &state, &r, 1000, ENT, 16, &d);
	CHECK(d.a.status == 401); /* only GET/HEAD navigations are redirected */
	request(&r, "DELETE", "/app/auth/logout", NULL, 0);
	ac_decide_begin(P, &state, &r, 1000, ENT, 16, &d);
	CHECK(d.a.status == 405);
	request(&r, "POST", "/app/auth/logout", NULL, 0);
	ac_decide_begin(P, &state, &r, 1000, ENT, 16, &d);
	CHECK(d.a.status == 303 && d.a.reason == AC_LOGGED_OUT);
	CHECK(resp_has("set-cookie", 0, "authcore_session=; Path=/app; Max-Age=0; HttpOnly"));
	CHECK(resp_has("set-cookie", 1, "authcore_csrf=; Path=/app; Max-Age=0; SameSite"));
	request(&r, "POST", "/app/auth/login", NULL, 0);
	r.body_too_large = 1;
	ac_decide_begin(P, &state, &r, 1000, ENT, 16, &d);
	CHECK(d.a.status == 413 && d.a.reason == AC_BODY_TOO_LARGE);
	end();
}

/* The header's promise: without a state only login posts and Basic
 * credentials answer no_state; everything else is decided the same. */
static void test_state_optional(void)
{
	ac_policy_error e;
	const ac_policy *P = load(policy_text(""), NULL, &e);
	static ac_decision with;
	static const struct { const char *method, *path, *body, *hn, *hv;
	    int needs; } reqs[] = {
		{ "GET", "/app/auth/login", NULL, "Accept", "text/html", 0 },
		{ "GET", "/app/x", NULL, "Accept", "text/html", 0 },
		{ "GET", "/app/auth/whoami", NULL, "Accept", "*/*", 0 },
		{ "POST", "/app/auth/logout", NULL, "Accept", "text/html", 0 },
		{ "POST", "/app/auth/login", "username=alice&password=x",
		  "Content-Type", "application/x-www-form-urlencoded", 1 },
		{ "POST", "/app/auth/login", "username=alice&password=x",
		  "Sec-Fetch-Site", "cross-site", 0 },
		{ "GET", "/app/x", NULL, "Authorization", "Basic YWxpY2U6eA==", 1 },
		{ "GET", "/app/x", NULL, "Authorization", "Basic !!", 0 },
		{ "GET", "/app/x", NULL, "Authorization", "Bearer abc", 0 },
	};
	size_t i;
	ac_request r;

	begin("state: only login posts and Basic credentials need it; the rest decide the same without");
	CHECK(P != NULL && ac_state_init(&state, ENT, sizeof ENT) == 0);
	for (i = 0; P != NULL && i < sizeof reqs / sizeof reqs[0]; i++) {
		header(0, reqs[i].hn, reqs[i].hv);
		request(&r, reqs[i].method, reqs[i].path, reqs[i].body, 1);
		ac_decide_begin(P, NULL, &r, 1000, ENT, 16, &d);
		ac_decide_begin(P, &state, &r, 1000, ENT, 16, &with);
		if (reqs[i].needs) {
			CHECK(d.a.status == 500 && d.a.reason == AC_NO_STATE);
			CHECK(with.a.reason != AC_NO_STATE);
		} else {
			CHECK(d.a.reason != AC_NO_STATE);
			CHECK(d.a.status == with.a.status && d.a.reason == with.a.reason &&
			    d.a.action == with.a.action && d.a.body.len == with.a.body.len);
		}
		if (with.a.action == AC_PENDING)
			ac_password_verify_wipe(&with.work.verify);
	}
	end();
}

#ifdef AC_TEST_COUNT_HEAP
static void test_no_heap(void)
{
	ac_policy_error e;
	const ac_policy *P;
	ac_request r;
	size_t before;

	begin("no heap: policy load, login, Basic, pages, state");
	before = heap_calls;
	P = load(policy_text(""), NULL, &e);
	CHECK(P != NULL && ac_state_init(&state, ENT, sizeof ENT) == 0);
	header(0, "Content-Type", "application/x-www-form-urlencoded");
	request(&r, "POST", "/app/auth/login", "username=alice&password=s3cret+pw", 1);
	ac_decide_begin(P, &state, &r, 1000, ENT, 16, &d);
	finish(P, &r, 1000);
	header(0, "Authorization", "Basic YWxpY2U6czNjcmV0IHB3");
	request(&r, "GET", "/app/x", NULL, 1);
	ac_decide_begin(P, &state, &r, 1000, ENT, 16, &d);
	finish(P, &r, 1000);
	ac_decide_begin(P, &state, &r, 1000, ENT, 16, &d);
	CHECK(d.a.action == AC_ALLOW);
	CHECK(heap_calls == before);
	end();
}
#endif

int main(void)
{
	make_hash(alice_hash, "s3cret pw", 0x11);
	make_hash(root_hash, "root pw", 0x22);
	test_policy_errors();
	test_form_login();
	test_password_change();
	test_throttle();
	test_budget();
	test_flood();
	test_pending_cap();
	test_basic();
	test_needs_and_writes();
	test_pages();
	test_state_optional();
#ifdef AC_TEST_COUNT_HEAP
	test_no_heap();
#endif
	printf("# %d failed\n", failures);
	return failures ? 1 : 0;
}
