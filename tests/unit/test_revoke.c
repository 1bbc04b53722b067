/*
 * Tests of session revocation ("sessions"."revocation", core/ac_revoke.c)
 * through the decision against a local table (ac_decide_local), and the
 * store protocol by hand for its failures.
 *
 * What they show: a logged-out session is refused (401 session_revoked)
 * for the rest of its life while the user's other sessions pass; "log out
 * everywhere" refuses every session of the user issued until then and
 * none issued later, nor another user's; a revocation lapses with the
 * session; a table far too small for the revocations never forgets one
 * (full groups become floors: more sessions refused, never fewer); a
 * store that cannot be read refuses sessions (on_store_error "deny") or
 * lets them through ("allow"); a policy without revocation never reads the
 * store; the policy's faults are refused with their path. No heap call.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "authcore.h"
#include "check.h"

#define NOW 1800000000
#define SECRET "revocation-test-session-secret-0123456789"

static uint8_t pmem[2][65536];
static uint64_t decm[(1u << 17) / 8];
#define dec (*(ac_decision *)(void *)decm)
static uint64_t statem[(1u << 17) / 8];
static uint64_t tablem[(1u << 20) / 8];

static const char *POLICY =
    "{\"sessions\":{\"keys\":[{\"kid\":\"s1\",\"secret\":\"" SECRET "\"}],"
    "\"ttl\":3600,\"revocation\":{\"store\":%d%s}},"
    "\"login\":{},\"users\":[{\"name\":\"ann\",\"password_hash\":"
    "\"$pbkdf2-sha256$i=1000$AAECAwQFBgcICQoLDA0ODw$ppsXnjrdPB4KryJ6DrOqKqhkWrhv7PbKAMF1Eml8cZ4\"}],"
    "\"default\":\"authenticated\"}";

static const ac_policy *policy(int slot, int store, const char *more)
{
	static char js[2048];
	ac_policy_error err;
	size_t used;
	const ac_policy *P;

	snprintf(js, sizeof js, POLICY, store, more);
	P = ac_policy_load(pmem[slot], sizeof pmem[slot], js, strlen(js),
	    &used, &err);
	if (P == NULL)
		printf("# policy: %s: %s\n", err.path, err.message);
	return P;
}

static ac_session_key skey;
static char toks[256][AC_SESSION_TOKEN_MAX + 1];

/* A session token for user issued at iat, sid from n, with the role
 * "admin" when admin is 1. */
static const char *session_as(int n, const char *user, int64_t iat,
    int admin)
{
	static const ac_str roles[1] = { { "admin", 5 } };
	uint8_t sid[AC_SESSION_ID_LEN];
	size_t l;

	memset(sid, 0, sizeof sid);
	memcpy(sid, &n, sizeof n);
	sid[15] = 0x5a;
	l = ac_session_issue(toks[n], AC_SESSION_TOKEN_MAX, &skey, sid, user,
	    strlen(user), roles, admin ? 1 : 0, iat, 3600);
	toks[n][l] = 0;
	return toks[n];
}

static const char *session(int n, const char *user, int64_t iat)
{
	return session_as(n, user, iat, 0);
}

static ac_request req;
static ac_header hdr[3];
static char csrf[AC_CSRF_TOKEN_LEN + 1];
static char cookie[AC_SESSION_TOKEN_MAX + 64], target[256];
static uint8_t entropy[32];

static void request(const char *method, const char *path, const char *tok)
{
	memset(&req, 0, sizeof req);
	snprintf(target, sizeof target, "%s", path);
	snprintf(cookie, sizeof cookie, "authcore_session=%s", tok);
	req.method.ptr = method;
	req.method.len = strlen(method);
	req.path.ptr = target;
	req.path.len = strlen(target);
	hdr[0].name.ptr = "cookie";
	hdr[0].name.len = 6;
	hdr[0].value.ptr = cookie;
	hdr[0].value.len = strlen(cookie);
	hdr[1].name.ptr = "accept";
	hdr[1].name.len = 6;
	hdr[1].value.ptr = "application/json";
	hdr[1].value.len = 16;
	req.headers = hdr;
	req.n_headers = 2;
	if (ac_csrf_token(csrf, &skey, tok, strlen(tok)) != 0) {
		hdr[2].name.ptr = "x-csrf-token";
		hdr[2].name.len = 12;
		hdr[2].value.ptr = csrf;
		hdr[2].value.len = AC_CSRF_TOKEN_LEN;
		req.n_headers = 3;
	}
	req.client_ip.ptr = "192.0.2.1";
	req.client_ip.len = 9;
}

static ac_state *S;
static ac_table *T;

static void fresh(const ac_policy *P)
{
	uint8_t seed[AC_STATE_SECRET_LEN];

	memset(seed, 7, sizeof seed);
	S = (ac_state *)(void *)statem;
	if (ac_sizeof_state() > sizeof statem || ac_state_init(S, seed,
	    sizeof seed) != 0 || ac_table_size(P) > sizeof tablem)
		printf("# state or table does not fit\n");
	T = ac_table_init(tablem, sizeof tablem, P);
}

static const ac_answer *decide(const ac_policy *P, const char *method,
    const char *path, const char *tok, int64_t now)
{
	request(method, path, tok);
	entropy[0]++;
	memset(decm, 0, sizeof decm);
	ac_decide_local(P, S, T, &req, now, entropy, sizeof entropy, &dec);
	return ac_decision_answer(&dec);
}

static int passes(const ac_policy *P, const char *tok, int64_t now)
{
	const ac_answer *a = decide(P, "GET", "/x", tok, now);
	return a->action == AC_ALLOW;
}

static int refused_revoked(const ac_policy *P, const char *tok, int64_t now)
{
	const ac_answer *a = decide(P, "GET", "/x", tok, now);
	return a->status == 401 && a->reason == AC_SESSION_REVOKED;
}

static void test_policy(void)
{
	static const char *const bad[][3] = {
		{ "\"revocation\":{\"store\":10}", "$.sessions.revocation.store", "64" },
		{ "\"revocation\":{\"store\":1000,\"x\":1}", "$.sessions.revocation", "\"x\"" },
		{ "\"revocation\":{\"on_store_error\":\"maybe\"}", "$.sessions.revocation.on_store_error", "deny" },
	};
	ac_policy_error err;
	size_t i, used;

	begin("revocation policy: faults are refused with their path");
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char js[512];
		int right;
		snprintf(js, sizeof js, "{\"sessions\":{\"keys\":[{\"kid\":\"s\","
		    "\"secret\":\"" SECRET "\"}],%s}}", bad[i][0]);
		right = ac_policy_load(pmem[1], sizeof pmem[1], js, strlen(js),
		    &used, &err) == NULL && strcmp(err.path, bad[i][1]) == 0 &&
		    strstr(err.message, bad[i][2]) != NULL;
		if (!right)
			printf("# %zu: %s: %s\n", i, err.path, err.message);
		CHECK(right);
	}
	end();
}

static void test_logout(void)
{
	const ac_policy *P = policy(0, 4096, "");
	const char *a, *b, *c;
	const ac_answer *ans;

	fresh(P);
	a = session(1, "ann", NOW);
	b = session(2, "ann", NOW);
	c = session(3, "bob", NOW);
	begin("revocation: a logged-out session is refused; the user's other sessions pass");
	CHECK(P != NULL && T != NULL);
	CHECK(passes(P, a, NOW + 1) && passes(P, b, NOW + 1));
	ans = decide(P, "POST", "/auth/logout", a, NOW + 2);
	CHECK(ans->reason == AC_LOGGED_OUT);
	CHECK(refused_revoked(P, a, NOW + 3));
	CHECK(passes(P, b, NOW + 3) && passes(P, c, NOW + 3));
	/* whoami reads the same check */
	ans = decide(P, "GET", "/auth/whoami", a, NOW + 3);
	CHECK(ans->status == 401 && ans->reason == AC_SESSION_REVOKED);
	end();

	begin("revocation: everywhere refuses every session of the user issued until then, none later");
	ans = decide(P, "POST", "/auth/logout?everywhere=1", b, NOW + 10);
	CHECK(ans->reason == AC_LOGGED_OUT);
	CHECK(refused_revoked(P, b, NOW + 11));
	CHECK(refused_revoked(P, session(4, "ann", NOW + 5), NOW + 11));
	CHECK(passes(P, session(5, "ann", NOW + 11), NOW + 12));
	CHECK(passes(P, c, NOW + 12));
	end();

	begin("revocation: a revocation lapses with the sessions it names");
	/* past the session's expiry the token is refused as expired anyway;
	 * the user's moment lapses after ttl, when its sessions have */
	CHECK(decide(P, "GET", "/x", a, NOW + 3600)->reason == AC_EXPIRED);
	CHECK(passes(P, session(6, "ann", NOW + 3700), NOW + 3700 + 3600 - 1));
	end();
}

static void test_admin(void)
{
	const ac_policy *P = policy(0, 4096, "");
	const char *admin, *user, *other;
	const ac_answer *a;
	char body[256];

	fresh(P);
	admin = session_as(30, "root", NOW, 1);
	begin("revocation: an administrator revokes a user's sessions; nobody else may");
	user = session(31, "carol", NOW);
	other = session(32, "dave", NOW);
	a = decide(P, "POST", "/auth/revoke?user=carol", other, NOW + 1);
	CHECK(a->status == 403 && a->reason == AC_INSUFFICIENT_ROLE);
	CHECK(passes(P, user, NOW + 2));
	a = decide(P, "GET", "/auth/revoke?user=carol", admin, NOW + 2);
	CHECK(a->status == 405);
	a = decide(P, "POST", "/auth/revoke?user=carol", admin, NOW + 3);
	snprintf(body, sizeof body, "%.*s", (int)a->body.len, a->body.ptr);
	CHECK(a->status == 200 && strcmp(body, "{\"ok\":true,\"revoked\":\"carol\"}") == 0);
	CHECK(refused_revoked(P, user, NOW + 4));
	CHECK(passes(P, other, NOW + 4) && passes(P, admin, NOW + 4));
	CHECK(passes(P, session(33, "carol", NOW + 5), NOW + 6));
	a = decide(P, "POST", "/auth/revoke", admin, NOW + 6);
	CHECK(a->status == 400);
	end();
}

static void test_operator(void)
{
	const ac_policy *P = policy(0, 4096, "");
	const char *user, *other;
	const ac_answer *a;

	fresh(P);
	begin("revocation: an operator's ac_revoke_begin revokes a user's sessions; bad names and policies are 400");
	user = session(40, "erin", NOW);
	other = session(41, "frank", NOW);
	CHECK(passes(P, user, NOW + 1));
	memset(decm, 0, sizeof decm);
	CHECK(ac_revoke_begin(P, S, "erin", 4, NOW + 2, &dec) == AC_PENDING);
	ac_table_settle(P, S, T, NULL, NOW + 2, NULL, 0, &dec);
	a = ac_decision_answer(&dec);
	CHECK(a->action == AC_ALLOW && a->reason == AC_OK);
	CHECK(refused_revoked(P, user, NOW + 3));
	CHECK(passes(P, other, NOW + 3));
	CHECK(passes(P, session(42, "erin", NOW + 4), NOW + 5));
	memset(decm, 0, sizeof decm);
	CHECK(ac_revoke_begin(P, S, "a\nb", 3, NOW, &dec) == AC_RESPOND &&
	    ac_decision_answer(&dec)->status == 400);
	CHECK(ac_revoke_begin(P, S, "", 0, NOW, &dec) == AC_RESPOND &&
	    ac_decision_answer(&dec)->status == 400);
	CHECK(ac_revoke_begin(P, NULL, "erin", 4, NOW, &dec) == AC_RESPOND &&
	    ac_decision_answer(&dec)->status == 500);
	P = policy(1, 4096, "");
	{
		/* the same policy without revocation */
		static const char js[] = "{\"sessions\":{\"keys\":[{\"kid\":\"s1\","
		    "\"secret\":\"" SECRET "\"}]}}";
		ac_policy_error err;
		size_t used;
		const ac_policy *N = ac_policy_load(pmem[1], sizeof pmem[1], js,
		    strlen(js), &used, &err);
		CHECK(N != NULL && ac_revoke_begin(N, S, "erin", 4, NOW, &dec) ==
		    AC_RESPOND && ac_decision_answer(&dec)->status == 400);
	}
	end();
}

static void test_full_groups(void)
{
	const ac_policy *P = policy(0, 64, "");
	static char users[200][16];
	int i, revoked_ok = 1, later_ok = 1, others = 0;

	fresh(P);
	begin("revocation: a store too small for its revocations never forgets one");
	for (i = 0; i < 200; i++) {
		snprintf(users[i], sizeof users[i], "user%d", i);
		(void)decide(P, "POST", "/auth/logout",
		    session(10 + i, users[i], NOW), NOW + 1);
	}
	for (i = 0; i < 200; i++)
		revoked_ok &= refused_revoked(P, toks[10 + i], NOW + 2);
	/* sessions issued after the revocations are not touched by them */
	for (i = 0; i < 20; i++)
		later_ok &= passes(P, session(220 + i, users[i], NOW + 5),
		    NOW + 6);
	/* an old session of another user may be refused by a floor: more
	 * refused, never fewer */
	for (i = 0; i < 10; i++)
		others += refused_revoked(P, session(240 + i, "other", NOW),
		    NOW + 6);
	printf("# 200 revocations in %d groups: old sessions of another user refused by floors: %d of 10\n",
	    64 * 16 / 64, others);
	CHECK(revoked_ok);
	CHECK(later_ok);
	end();
}

/* The protocol by hand: the store read fails. */
static void test_store_error(void)
{
	const ac_policy *deny = policy(0, 4096, "");
	const ac_policy *allow = policy(1, 4096, ",\"on_store_error\":\"allow\"");
	const ac_answer *a = ac_decision_answer(&dec);
	const char *t;

	fresh(deny);
	t = session(7, "ann", NOW);
	begin("revocation: a store that cannot be read refuses the session; \"allow\" lets it through");
	request("GET", "/x", t);
	memset(decm, 0, sizeof decm);
	ac_decide_begin(deny, S, &req, NOW, entropy, sizeof entropy, &dec);
	CHECK(a->action == AC_PENDING && a->wait == AC_WAIT_STORE &&
	    a->n_reads == 1);
	ac_decide_store_error(deny, S, &req, NOW, entropy, sizeof entropy,
	    &dec);
	CHECK(a->status == 503 && a->reason == AC_STORE_UNAVAILABLE);
	memset(decm, 0, sizeof decm);
	ac_decide_begin(allow, S, &req, NOW, entropy, sizeof entropy, &dec);
	CHECK(a->action == AC_PENDING && a->wait == AC_WAIT_STORE);
	ac_decide_store_error(allow, S, &req, NOW, entropy, sizeof entropy,
	    &dec);
	CHECK(a->action == AC_ALLOW);
	end();

	begin("revocation: a session verified in a run is reused only for the same token: a finish with a forged one is refused");
	{
		static char forged[AC_SESSION_TOKEN_MAX + 1];
		size_t l;
		fresh(deny);
		t = session(9, "ann", NOW);
		request("GET", "/x", t);
		memset(decm, 0, sizeof decm);
		ac_decide_begin(deny, S, &req, NOW, entropy, sizeof entropy,
		    &dec);
		CHECK(a->action == AC_PENDING && a->wait == AC_WAIT_STORE);
		CHECK(ac_decide_supply(&dec, 0, NULL, 0, 0) == 0);
		/* the same request, its token's MAC flipped */
		snprintf(forged, sizeof forged, "%s", t);
		l = strlen(forged);
		forged[l - 2] = forged[l - 2] == 'A' ? 'B' : 'A';
		snprintf(cookie, sizeof cookie, "authcore_session=%s", forged);
		hdr[0].value.len = strlen(cookie);
		ac_decide_finish(deny, S, &req, NOW, entropy, sizeof entropy,
		    &dec);
		CHECK(a->action != AC_ALLOW && a->status == 401);
		request("GET", "/x", t);
	}
	end();

	begin("revocation: without it, a session never reads the store");
	{
		static uint8_t m[65536];
		ac_policy_error err;
		size_t used;
		static const char js[] = "{\"sessions\":{\"keys\":[{\"kid\":\"s1\","
		    "\"secret\":\"" SECRET "\"}]},\"default\":\"authenticated\"}";
		const ac_policy *P = ac_policy_load(m, sizeof m, js,
		    strlen(js), &used, &err);
		CHECK(P != NULL && ac_table_size(P) == 0);
		memset(decm, 0, sizeof decm);
		ac_decide_begin(P, NULL, &req, NOW, entropy, sizeof entropy,
		    &dec);
		CHECK(a->action == AC_ALLOW);
	}
	end();
}

#ifdef AC_TEST_COUNT_HEAP
static void test_no_heap(void)
{
	const ac_policy *P = policy(0, 4096, "");
	size_t before;

	fresh(P);
	begin("revocation: no heap call in checks and logouts");
	before = heap_calls;
	CHECK(passes(P, session(8, "ann", NOW), NOW + 1));
	(void)decide(P, "POST", "/auth/logout", toks[8], NOW + 2);
	CHECK(refused_revoked(P, toks[8], NOW + 3));
	CHECK(heap_calls == before);
	end();
}
#endif

int main(void)
{
	if (ac_sizeof_decision() > sizeof decm ||
	    ac_session_key_init(&skey, (const uint8_t *)SECRET,
	    strlen(SECRET), "s1", 2) != 0) {
		printf("not ok - the test's buffers and key\n");
		return 1;
	}
	test_policy();
	test_logout();
	test_admin();
	test_operator();
	test_full_groups();
	test_store_error();
#ifdef AC_TEST_COUNT_HEAP
	test_no_heap();
#endif
	printf("# %d failed\n", failures);
	return failures ? 1 : 0;
}
