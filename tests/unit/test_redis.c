/*
 * Tests of the shared store's Redis commands and replies (core/ac_redis.c,
 * core/ac_store_policy.c), with the replies given as the bytes Redis sends
 * (RESP): the wire form the core must read, including what a broken or
 * hostile server could send. A real Redis runs these commands in suite
 * 64-redis.
 *
 * What they show: a decision's reads are one EVAL naming every entry under
 * the policy's prefix; absent entries lead to one EVAL of writes with each
 * entry's expected version, its value as hex and its expiry; an applied
 * count equal to the writes lets the answer stand, a smaller one decides
 * again on fresh reads; partial replies wait for more bytes; malformed
 * replies, error replies and wrong shapes are failed stores, which
 * on_store_error "local" turns into steps on the host's own table
 * (answer.store_shared 0) with the audit line saying so; entries are placed
 * by store.secret, alike under two hosts' different state keys; the
 * policy's faults are refused with their path. No heap call.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "authcore.h"
#include "check.h"

#define NOW 1800000000

static uint8_t pmem[65536];
static uint64_t decm[(1u << 17) / 8];
#define dec (*(ac_decision *)(void *)decm)
static uint64_t statem[2][(1u << 17) / 8];
static uint64_t tablem[(1u << 20) / 8];
static ac_redis_cmd cmd;

static const char *BASE =
    "{\"jwt\":{\"keys\":[{\"kid\":\"k\",\"alg\":\"HS256\",\"secret\":"
    "\"at-least-32-bytes-of-secret-material\"}]},\"public\":[\"/*\"],"
    "\"rate_limits\":{\"default\":{\"key\":\"client\",\"limit\":\"2/minute\"}%s}%s}";

static const ac_policy *load(const char *rl_more, const char *more,
    ac_policy_error *err)
{
	static char js[2048];
	size_t used;

	snprintf(js, sizeof js, BASE, rl_more, more);
	return ac_policy_load(pmem, sizeof pmem, js, strlen(js), &used, err);
}

#define STORE ",\"store\":{\"redis\":{\"prefix\":\"p:\"},\"secret\":" \
    "\"store-placement-secret-0123456789abcdef\"}"

static ac_request req;
static uint8_t entropy[32];
static int64_t later; /* seconds after NOW the next requests come */

static ac_state *state(int i)
{
	uint8_t seed[AC_STATE_SECRET_LEN];
	ac_state *S = (ac_state *)(void *)statem[i];

	memset(seed, 11 + i, sizeof seed);
	if (ac_state_init(S, seed, sizeof seed) != 0)
		printf("# state\n");
	return S;
}

static const ac_answer *begin_get(const ac_policy *P, ac_state *S,
    const char *client)
{
	memset(&req, 0, sizeof req);
	req.method.ptr = "GET";
	req.method.len = 3;
	req.path.ptr = "/x";
	req.path.len = 2;
	req.client_ip.ptr = client;
	req.client_ip.len = strlen(client);
	memset(decm, 0, sizeof decm);
	(void)ac_decide_begin(P, S, &req, NOW + later, entropy, sizeof entropy,
	    &dec);
	return ac_decision_answer(&dec);
}

static long feed(const ac_policy *P, ac_state *S, const char *bytes,
    size_t len)
{
	return ac_redis_reply_resp(P, S, &req, NOW + later, entropy,
	    sizeof entropy, &dec, &cmd, (const uint8_t *)bytes, len);
}

static int arg_is(size_t i, const char *s)
{
	return i < cmd.argc && cmd.argv[i].len == strlen(s) &&
	    memcmp(cmd.argv[i].ptr, s, strlen(s)) == 0;
}

/* The RESP reply of a reads command: every entry absent. */
static size_t absent_reply(char *out, size_t n)
{
	size_t o = (size_t)sprintf(out, "*%zu\r\n", 2 * n), i;

	for (i = 0; i < 2 * n; i++)
		o += (size_t)sprintf(out + o, "$0\r\n\r\n");
	return o;
}

static void test_policy(void)
{
	static const char *const bad[][4] = {
		{ "", ",\"store\":{}", "$.store", "needs \"redis\"" },
		{ "", ",\"store\":{\"redis\":{}}", "$.store", "needs \"secret\"" },
		{ "", ",\"store\":{\"redis\":{\"host\":\"a b\"},\"secret\":\"store-placement-secret-0123456789abcdef\"}",
		  "$.store.redis.host", "host name" },
		{ "", ",\"store\":{\"redis\":{\"pool\":0},\"secret\":\"store-placement-secret-0123456789abcdef\"}",
		  "$.store.redis.pool", "1 to 64" },
		{ "", ",\"store\":{\"redis\":{\"timeout_ms\":0},\"secret\":\"store-placement-secret-0123456789abcdef\"}",
		  "$.store.redis.timeout_ms", "1 to 60000" },
		{ "", ",\"store\":{\"redis\":{},\"x\":1,\"secret\":\"store-placement-secret-0123456789abcdef\"}",
		  "$.store", "\"x\"" },
		{ ",\"on_store_error\":\"local\"", "", "$.rate_limits.on_store_error", "has none" },
	};
	ac_policy_error err;
	ac_redis_config cfg;
	const ac_policy *P;
	size_t i;

	begin("store policy: faults refused with their path; defaults");
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		int right = load(bad[i][0], bad[i][1], &err) == NULL &&
		    strcmp(err.path, bad[i][2]) == 0 &&
		    strstr(err.message, bad[i][3]) != NULL;
		if (!right)
			printf("# %zu: %s: %s\n", i, err.path, err.message);
		CHECK(right);
	}
	P = load("", STORE, &err);
	CHECK(P != NULL && ac_policy_redis(P, &cfg) == 1 &&
	    cfg.host.len == 9 && memcmp(cfg.host.ptr, "127.0.0.1", 9) == 0 &&
	    cfg.port == 6379 &&
	    cfg.timeout_ms == 100 && cfg.pool == 4 && cfg.password.len == 0);
	P = load("", "", &err);
	CHECK(P != NULL && ac_policy_redis(P, &cfg) == 0);
	end();
}

/* Answers each of the decision's Redis steps as an empty Redis that
 * applies every write would. */
static void redis_settle(const ac_policy *P, ac_state *S)
{
	char reply[4096];
	size_t n;

	while (ac_redis_command(P, &dec, &cmd) == 1) {
		n = cmd.kind == AC_REDIS_READS ? absent_reply(reply, cmd.n) :
		    (size_t)sprintf(reply, ":%zu\r\n", cmd.n);
		if (feed(P, S, reply, n) != (long)n)
			break;
	}
}

/* A decision's Redis step failing (Redis down), then settled against the
 * host's table T. */
static void redis_down(const ac_policy *P, ac_state *S, ac_table *T)
{
	if (ac_redis_command(P, &dec, &cmd) == 1)
		ac_redis_reply(P, S, &req, NOW + later, entropy,
		    sizeof entropy, &dec, &cmd, 1, NULL, 0, 0);
	ac_table_settle(P, S, T, &req, NOW + later, entropy, sizeof entropy,
	    &dec);
}

static void test_round_trip(void)
{
	ac_policy_error err;
	const ac_policy *P = load("", STORE, &err);
	ac_state *S = state(0);
	const ac_answer *a;
	char reply[4096], hex[129];
	size_t n, i;
	long used;

	begin("redis: reads as one EVAL, writes as one EVAL with versions, values and expiry");
	CHECK(P != NULL);
	if (P == NULL) {
		end();
		return;
	}
	a = begin_get(P, S, "10.0.0.1");
	CHECK(a->action == AC_PENDING && a->wait == AC_WAIT_STORE &&
	    a->store_shared == 1 && a->n_reads == 1);
	CHECK(ac_redis_command(P, &dec, &cmd) == 1 && cmd.kind == AC_REDIS_READS &&
	    cmd.n == 1 && cmd.argc == 4 && arg_is(0, "EVAL") && arg_is(2, "1") &&
	    cmd.argv[3].len > 3 && memcmp(cmd.argv[3].ptr, "p:g", 3) == 0);
	/* the table's own settle leaves a shared step alone */
	ac_table_settle(P, S, NULL, &req, NOW, entropy, sizeof entropy, &dec);
	CHECK(a->action == AC_PENDING && a->store_shared == 1);
	/* byte by byte: no whole reply until the last byte */
	n = absent_reply(reply, cmd.n);
	for (i = 0; i + 1 < n; i++)
		CHECK(feed(P, S, reply, i) == 0);
	used = feed(P, S, reply, n);
	CHECK(used == (long)n);
	CHECK(a->action == AC_ALLOW && a->store_shared == 1 && a->n_writes == 1);
	CHECK(ac_redis_command(P, &dec, &cmd) == 1 && cmd.kind == AC_REDIS_WRITES &&
	    cmd.argc == 7 && arg_is(2, "1") && arg_is(4, "0") &&
	    cmd.argv[5].len == 128);
	for (i = 0; i < 64; i++)
		sprintf(hex + 2 * i, "%02x", a->writes[0].value[i]);
	CHECK(cmd.argv[5].len == 128 && memcmp(cmd.argv[5].ptr, hex, 128) == 0);
	/* (an argument is a slice: no NUL after it) */
	memcpy(hex, cmd.argv[6].ptr, cmd.argv[6].len < 10 ? cmd.argv[6].len : 10);
	hex[10] = 0;
	CHECK(cmd.argv[6].len == 10 && a->writes[0].expires > NOW &&
	    strtoll(hex, NULL, 10) == a->writes[0].expires);
	/* RESP encoding, as a raw socket sends it */
	{
		uint8_t wire[8192];
		size_t w = ac_redis_encode(&cmd, wire, sizeof wire);
		CHECK(w > 0 && memcmp(wire, "*7\r\n$4\r\nEVAL\r\n$", 15) == 0);
		CHECK(ac_redis_encode(&cmd, wire, 20) == 0);
	}
	/* applied: the answer stands */
	CHECK(feed(P, S, ":1\r\n", 4) == 4);
	CHECK(a->action == AC_ALLOW && a->store_shared == 0 && a->n_writes == 0 &&
	    ac_redis_command(P, &dec, &cmd) == 0 && a->store_failed == 0);
	end();

	begin("redis: a lost write decides again on fresh reads; a present entry's version is the condition");
	a = begin_get(P, S, "10.0.0.2");
	CHECK(ac_redis_command(P, &dec, &cmd) == 1);
	n = absent_reply(reply, cmd.n);
	CHECK(feed(P, S, reply, n) == (long)n);
	CHECK(ac_redis_command(P, &dec, &cmd) == 1 && cmd.kind == AC_REDIS_WRITES);
	memcpy(hex, cmd.argv[5].ptr, 128);
	CHECK(feed(P, S, ":0\r\n", 4) == 4);
	CHECK(a->action == AC_PENDING && a->wait == AC_WAIT_STORE &&
	    a->store_shared == 1);
	CHECK(ac_redis_command(P, &dec, &cmd) == 1 && cmd.kind == AC_REDIS_READS);
	/* another member counted once meanwhile: version 7 */
	n = (size_t)sprintf(reply, "*2\r\n$1\r\n7\r\n$128\r\n%.128s\r\n", hex);
	CHECK(feed(P, S, reply, n) == (long)n);
	CHECK(a->action == AC_ALLOW && ac_redis_command(P, &dec, &cmd) == 1 &&
	    arg_is(4, "7"));
	memcpy(hex, cmd.argv[5].ptr, 128);
	CHECK(feed(P, S, ":1\r\n", 4) == 4 && a->action == AC_ALLOW);
	end();

	begin("redis: the entry as stored (two requests counted) refuses a third of 2/minute, writing nothing");
	a = begin_get(P, S, "10.0.0.2");
	CHECK(ac_redis_command(P, &dec, &cmd) == 1);
	n = (size_t)sprintf(reply, "*2\r\n$1\r\n8\r\n$128\r\n%.128s\r\n", hex);
	CHECK(feed(P, S, reply, n) == (long)n);
	CHECK(a->status == 429 && a->reason == AC_RATE_LIMITED &&
	    a->n_writes == 0 && ac_redis_command(P, &dec, &cmd) == 0);
	end();
}

static void test_bad_replies(void)
{
	static const char *const bad[] = {
		"-ERR unknown command\r\n",
		"*3\r\n$0\r\n\r\n$0\r\n\r\n$0\r\n\r\n",  /* wrong count */
		"*2\r\n$1\r\n0\r\n$0\r\n\r\n",          /* version 0 */
		"*2\r\n$0\r\n\r\n$3\r\nabc\r\n",        /* value, no version */
		"*2\r\n$1\r\n5\r\n$4\r\nabcd\r\n",      /* short value */
		"*2\r\n$2\r\nx1\r\n$0\r\n\r\n",         /* not a number */
		":1\r\n",                               /* a writes reply */
		"$5\r\nhello\r\n",
		"*2\r\n$-2\r\n",
		"*2\r\n$1\r\n5Xy",                       /* no \r\n after it */
		"?what\r\n",
	};
	ac_policy_error err;
	const ac_policy *P = load(",\"on_store_error\":\"deny\"", STORE, &err);
	const ac_policy *L;
	ac_state *S = state(0);
	const ac_answer *a;
	size_t i;

	begin("redis: error replies, wrong shapes and bad entries are failed stores (deny: 503); a whole reply is consumed, broken RESP is -1");
	CHECK(P != NULL);
	for (i = 0; P != NULL && i < sizeof bad / sizeof bad[0]; i++) {
		long r;
		a = begin_get(P, S, "10.1.0.1");
		CHECK(ac_redis_command(P, &dec, &cmd) == 1);
		r = feed(P, S, bad[i], strlen(bad[i]));
		/* replies 2..5 are whole RESP arrays whose entries are bad */
		if (!(r == (i >= 2 && i <= 5 ? (long)strlen(bad[i]) : -1) &&
		    a->status == 503 && a->reason == AC_STORE_UNAVAILABLE &&
		    a->store_shared == 0))
			printf("# reply %zu: %ld %d %s\n", i, r, a->status,
			    ac_reason_name(a->reason));
		CHECK(r == (i >= 2 && i <= 5 ? (long)strlen(bad[i]) : -1));
		CHECK(a->status == 503 && a->reason == AC_STORE_UNAVAILABLE &&
		    a->store_shared == 0 && a->store_failed == 1);
	}
	end();

	begin("redis: a failed store with on_store_error \"local\" (the default) counts in the host's own table, audited");
	L = load(",\"store\":1024", STORE, &err);
	CHECK(L != NULL);
	if (L != NULL) {
		ac_table *T = ac_table_init(tablem, sizeof tablem, L);
		int k;
		CHECK(T != NULL);
		for (k = 0; k < 3; k++) {
			a = begin_get(L, S, "10.1.0.2");
			CHECK(ac_redis_command(L, &dec, &cmd) == 1);
			ac_redis_reply(L, S, &req, NOW, entropy, sizeof entropy,
			    &dec, &cmd, 1, NULL, 0, 0);
			CHECK(a->store_shared == 0 && a->action == AC_PENDING &&
			    a->wait == AC_WAIT_STORE);
			ac_table_settle(L, S, T, &req, NOW, entropy,
			    sizeof entropy, &dec);
			CHECK(a->status == (k < 2 ? 200 : 429));
			/* counted as a store error by the host */
			CHECK(a->store_failed == 1);
			CHECK(a->audit_len > 0 && strstr(a->audit,
			    "\"store\":\"store_unavailable\",\"store_fallback\":\"local\"") != NULL);
		}
	}
	end();
}

/* The AUTH a raw connection sends first: the policy's password as one
 * binary-safe argument, in RESP; nothing without a password. */
static void test_auth(void)
{
	static const char want[] = "*2\r\n$4\r\nAUTH\r\n$9\r\npass word\r\n";
	uint8_t out[128];
	ac_policy_error err;
	const ac_policy *P = load("", ",\"store\":{\"redis\":{\"password\":"
	    "\"pass word\"},\"secret\":\"store-placement-secret-0123456789abcdef\"}",
	    &err);
	size_t n;

	CHECK(P != NULL);
	if (P == NULL)
		return;
	CHECK(ac_redis_auth(P, &cmd) == 1 && cmd.argc == 2);
	n = ac_redis_encode(&cmd, out, sizeof out);
	CHECK(n == sizeof want - 1 && memcmp(out, want, n) == 0);
	P = load("", STORE, &err);
	CHECK(P != NULL && ac_redis_auth(P, &cmd) == 0);
}

/* A request whose entries live in Redis may wait on the host; the same
 * request with the entries in the host's own table never does; a
 * password check or a fetch always may. */
static void test_needs_wait(void)
{
	ac_policy_error err;
	const ac_policy *P = load("", STORE, &err);
	unsigned n;

	(void)begin_get(P, NULL, "10.0.0.1");
	n = ac_needs(P, &req);
	CHECK(P != NULL && (n & AC_NEEDS_ENTRIES) && ac_needs_wait(P, n) == 1);
	P = load("", "", &err);
	n = ac_needs(P, &req);
	CHECK(P != NULL && (n & AC_NEEDS_ENTRIES) && ac_needs_wait(P, n) == 0);
	CHECK(ac_needs_wait(P, AC_NEEDS_PENDING) == 1 &&
	    ac_needs_wait(P, AC_NEEDS_FETCH) == 1 &&
	    ac_needs_wait(P, AC_NEEDS_TLS | AC_NEEDS_BODY) == 0);
}

static void test_placement(void)
{
	ac_policy_error err;
	const ac_policy *P = load("", STORE, &err);
	char k0[64], k1[64];
	size_t n0, n1;

	begin("redis: entries are placed by store.secret, alike under two hosts' state keys");
	CHECK(P != NULL);
	if (P == NULL) {
		end();
		return;
	}
	(void)begin_get(P, state(0), "10.2.0.1");
	CHECK(ac_redis_command(P, &dec, &cmd) == 1);
	n0 = cmd.argv[3].len;
	memcpy(k0, cmd.argv[3].ptr, n0);
	(void)begin_get(P, state(1), "10.2.0.1");
	CHECK(ac_redis_command(P, &dec, &cmd) == 1);
	n1 = cmd.argv[3].len;
	memcpy(k1, cmd.argv[3].ptr, n1);
	CHECK(n0 == n1 && memcmp(k0, k1, n0) == 0);
	end();
}

/* A connection cap's lease names the store that counted it: one taken
 * while Redis was down (counted in the host's own table) is released in
 * that table even once Redis is back, and one taken in Redis goes back to
 * Redis. */
static void test_lease_store(void)
{
	ac_policy_error err;
	const ac_policy *P = load(",\"store\":1024,\"connections\":[{\"name\":"
	    "\"c\",\"path\":\"/*\",\"key\":\"client\",\"max\":1}]", STORE, &err);
	ac_state *S = state(0);
	ac_table *T;
	const ac_answer *a;
	uint8_t lease[AC_LEASE_MAX];
	size_t lease_len;

	begin("redis: a cap taken in the host's own table while Redis was down is released there, not in Redis");
	CHECK(P != NULL);
	if (P == NULL) {
		end();
		return;
	}
	T = ac_table_init(tablem, sizeof tablem, P);
	CHECK(T != NULL);
	later = 0;
	a = begin_get(P, S, "10.3.0.1");
	redis_down(P, S, T);
	CHECK(a->action == AC_ALLOW && a->lease_len > 0 &&
	    a->lease_len <= sizeof lease && a->store_failed == 1);
	lease_len = a->lease_len <= sizeof lease ? a->lease_len : 0;
	memcpy(lease, a->lease, lease_len);
	/* the table holds the stream: a second one of that client is over
	 * the cap of 1 there (Redis down still) */
	a = begin_get(P, S, "10.3.0.1");
	redis_down(P, S, T);
	CHECK(a->status == 429 && a->reason == AC_TOO_MANY_CONNECTIONS);
	/* Redis is back; the stream ends: its release goes to the table */
	memset(decm, 0, sizeof decm);
	(void)ac_release_begin(P, lease, lease_len, NOW, &dec);
	a = ac_decision_answer(&dec);
	CHECK(a->store_shared == 0 && ac_redis_command(P, &dec, &cmd) == 0);
	ac_table_settle(P, S, T, NULL, NOW, NULL, 0, &dec);
	CHECK(a->action != AC_PENDING && a->reason == AC_OK &&
	    a->store_failed == 0);
	/* and the table's count is down: Redis down again a minute later
	 * (the client's 2/minute has room), a new stream of that client fits
	 * under the cap */
	later = 61;
	a = begin_get(P, S, "10.3.0.1");
	redis_down(P, S, T);
	CHECK(a->action == AC_ALLOW && a->lease_len > 0);
	later = 0;
	end();

	begin("redis: a cap taken in Redis is released in Redis");
	a = begin_get(P, S, "10.3.0.2");
	redis_settle(P, S);
	CHECK(a->action == AC_ALLOW && a->lease_len > 0 &&
	    a->lease_len <= sizeof lease && a->store_failed == 0);
	lease_len = a->lease_len <= sizeof lease ? a->lease_len : 0;
	memcpy(lease, a->lease, lease_len);
	memset(decm, 0, sizeof decm);
	(void)ac_release_begin(P, lease, lease_len, NOW, &dec);
	a = ac_decision_answer(&dec);
	CHECK(a->store_shared == 1 && ac_redis_command(P, &dec, &cmd) == 1 &&
	    cmd.kind == AC_REDIS_READS);
	end();
}

#ifdef AC_TEST_COUNT_HEAP
static void test_no_heap(void)
{
	size_t before = heap_calls;

	begin("redis: no heap call");
	test_round_trip();
	test_bad_replies();
	CHECK(heap_calls == before);
	end();
}
#endif

int main(void)
{
	if (ac_sizeof_decision() > sizeof decm ||
	    ac_sizeof_state() > sizeof statem[0]) {
		printf("not ok - the test's buffers\n");
		return 1;
	}
	test_policy();
	test_round_trip();
	test_bad_replies();
	test_auth();
	test_needs_wait();
	test_placement();
	test_lease_store();
#ifdef AC_TEST_COUNT_HEAP
	test_no_heap();
#endif
	printf("# %d failed\n", failures);
	return failures ? 1 : 0;
}
