/*
 * The shared store through an HTTP gateway (core/ac_redis_gateway.c):
 * "store.redis.gateway" in the loader, the webdis form of a command, and
 * a decision whose host has no Redis client (ac_decision_redis_via_fetch):
 * each store step due for Redis is a fetch carrying the same command, and
 * the gateway's raw reply (or its failure) goes to the store protocol.
 */
#include "fixtures.h"

#include <stdlib.h>

#include "authcore.h"

#define NOW 1800000000

static const char STORE_SECRET[] = "the-fleet-shares-these-32-bytes-or-more";

/* A JWT policy with public /open* under 2/minute per client, kept in
 * Redis with `redis` as the store.redis object. */
static const ac_policy *load_gw(const char *redis, ac_policy_error *err)
{
	static char json[4096];
	snprintf(json, sizeof json,
	    "{\"jwt\":{\"keys\":[{\"alg\":\"HS256\",\"secret\":\"%s\"}]},"
	    "\"public\":[\"/open*\"],\"rate_limits\":{\"default\":"
	    "{\"key\":\"client\",\"limit\":\"2/minute\"}},"
	    "\"store\":{\"redis\":%s,\"secret\":\"%s\"}}", SECRET, redis,
	    STORE_SECRET);
	return load(json, err);
}

static ac_state *state;
static ac_decision *dec, *d2;
static ac_table *table;

static void setup_state(void)
{
	static uint64_t mem[(1u << 17)];
	uint8_t seed[AC_STATE_SECRET_LEN];
	size_t i;

	for (i = 0; i < sizeof seed; i++)
		seed[i] = (uint8_t)(i * 5 + 3);
	state = (ac_state *)(void *)mem;
	if (ac_sizeof_state() > sizeof mem || ac_state_init(state, seed,
	    sizeof seed) < 0)
		abort();
}

static ac_request req_from(const char *path, const char *client)
{
	ac_request r;

	memset(&r, 0, sizeof r);
	r.method.ptr = "GET";
	r.method.len = 3;
	r.path.ptr = path;
	r.path.len = strlen(path);
	r.client_ip.ptr = client;
	r.client_ip.len = strlen(client);
	return r;
}

static int refused(const char *redis, const char *path, const char *msg)
{
	ac_policy_error err;

	memset(&err, 0, sizeof err);
	if (load_gw(redis, &err) != NULL)
		return 0;
	if (strcmp(err.path, path) != 0 || strstr(err.message, msg) == NULL) {
		printf("# %s: %s (wanted %s: %s)\n", err.path, err.message,
		    path, msg);
		return 0;
	}
	return 1;
}

static void test_loader(void)
{
	static const char *const good[] = { "http://127.0.0.1:7379",
		"http://127.0.0.1:7379/", "http://webdis", "http://[::1]:80",
		"http://redis-gw.internal:65535" };
	static const char *const bad[] = { "https://127.0.0.1:7379",
		"http://", "http://127.0.0.1:7379/x", "http://a:0",
		"http://a:65536", "http://a:123456", "http://user@a:1",
		"127.0.0.1:7379", "http://a:", "http://[::1", "http://[]:1",
		"http://a b:1", "http://a:1?x" };
	ac_policy_error err;
	ac_redis_config cfg;
	const ac_policy *P;
	char redis[256];
	size_t i;

	begin("gateway: store.redis.gateway loads, and says where");
	for (i = 0; i < sizeof good / sizeof good[0]; i++) {
		snprintf(redis, sizeof redis, "{\"gateway\":\"%s\"}", good[i]);
		P = load_gw(redis, &err);
		CHECK(P != NULL);
		if (P == NULL) {
			printf("# %s: %s: %s\n", good[i], err.path, err.message);
			continue;
		}
		CHECK(ac_policy_redis(P, &cfg) == 1);
		/* a trailing '/' is not part of it */
		CHECK(cfg.gateway.len == strlen(good[i]) -
		    (good[i][strlen(good[i]) - 1] == '/'));
		CHECK(memcmp(cfg.gateway.ptr, good[i], cfg.gateway.len) == 0);
	}
	P = load_gw("{}", &err);
	CHECK(P != NULL && ac_policy_redis(P, &cfg) == 1 &&
	    cfg.gateway.len == 0);
	end();

	begin("gateway: anything but http://host[:port] is refused");
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		snprintf(redis, sizeof redis, "{\"gateway\":\"%s\"}", bad[i]);
		CHECK(refused(redis, "$.store.redis.gateway",
		    "must be an http://host:port URL"));
	}
	CHECK(refused("{\"gateway\":7379}", "$.store.redis.gateway", ""));
	end();
}

static void test_body(void)
{
	static ac_redis_cmd cmd;
	char out[128];
	static const char *const args[] = { "EVAL", "a/b.c+d e?#'{}", "1",
		"k%\r\n\001\377" };
	size_t i, n;

	begin("gateway: a command's webdis form percent-encodes every byte "
	    "but A-Z a-z 0-9 - _ ~, and asks for the raw reply");
	memset(&cmd, 0, sizeof cmd);
	for (i = 0; i < 4; i++) {
		cmd.argv[i].ptr = args[i];
		cmd.argv[i].len = strlen(args[i]);
	}
	cmd.argv[3].len = 6; /* through the \377 */
	cmd.argc = 4;
	n = ac_redis_gateway_body(&cmd, out, sizeof out);
	CHECK(n > 0 && n < sizeof out);
	out[n < sizeof out ? n : 0] = 0;
	CHECK(strcmp(out, "EVAL/a%2Fb%2Ec%2Bd%20e%3F%23%27%7B%7D/1/"
	    "k%25%0D%0A%01%FF.raw") == 0);
	if (strcmp(out, "EVAL/a%2Fb%2Ec%2Bd%20e%3F%23%27%7B%7D/1/"
	    "k%25%0D%0A%01%FF.raw") != 0)
		printf("# %s\n", out);
	/* one byte short of any length: 0, never a cut command */
	for (i = 0; i < n; i++)
		CHECK(ac_redis_gateway_body(&cmd, out, i) == 0);
	CHECK(ac_redis_gateway_body(&cmd, out, n) == n);
	cmd.argv[1].len = 0; /* an empty argument stays one */
	n = ac_redis_gateway_body(&cmd, out, sizeof out);
	CHECK(n == strlen("EVAL//1/k%25%0D%0A%01%FF.raw"));
	end();
}

/* The fetch a's store step is, checked against the command the same
 * decision names without the gateway (d2 decides the same request with
 * the same entries, via_fetch off): a GET of "/" and the command. */
static int fetch_is_command(const ac_policy *P, const ac_answer *a,
    const ac_answer *b)
{
	static ac_redis_cmd cmd;
	static char body[AC_REDIS_BUF * 3 + 128];
	size_t n;

	if (!ac_redis_command(P, d2, &cmd))
		return 0;
	n = ac_redis_gateway_body(&cmd, body, sizeof body);
	(void)b;
	return a->action == AC_PENDING && a->wait == AC_WAIT_FETCH &&
	    a->n_reads == 0 && a->n_writes == 0 && a->store_shared == 1 &&
	    str_is(a->fetch.method, "GET") &&
	    str_is(a->fetch.url, "http://127.0.0.1:7379") &&
	    str_is(a->fetch.authority, "127.0.0.1:7379") &&
	    a->fetch.shareable == 0 && a->fetch.timeout_ms == 250 &&
	    a->fetch.max_bytes == AC_REDIS_GATEWAY_REPLY_MAX &&
	    a->fetch.n_headers == 0 && a->fetch.body.len == 0 &&
	    n > 0 && a->fetch.target.len == n + 1 &&
	    a->fetch.target.ptr[0] == '/' &&
	    memcmp(a->fetch.target.ptr + 1, body, n) == 0;
}

/* a's fetch target begins with z */
static int target_starts(const ac_answer *a, const char *z)
{
	size_t n = strlen(z);
	return a->fetch.target.ptr != NULL && a->fetch.target.len >= n &&
	    memcmp(a->fetch.target.ptr, z, n) == 0;
}

/* a's fetch target holds z */
static int target_has(const ac_answer *a, const char *z)
{
	size_t n = strlen(z), i;
	for (i = 0; a->fetch.target.ptr != NULL &&
	    i + n <= a->fetch.target.len; i++)
		if (memcmp(a->fetch.target.ptr + i, z, n) == 0)
			return 1;
	return 0;
}

static void answer(const ac_policy *P, const ac_request *r, int status,
    const char *body)
{
	(void)ac_decide_fetched(dec, status, "binary/octet-stream", 19, body,
	    body != NULL ? strlen(body) : 0, NOW);
	ac_decide_finish(P, state, r, NOW, NULL, 0, dec);
}

static const char ABSENT1[] = "*2\r\n$0\r\n\r\n$0\r\n\r\n";

static void test_flow(void)
{
	static uint64_t tmem[1u << 19];
	ac_policy_error err;
	const ac_policy *P = load_gw("{\"gateway\":\"http://127.0.0.1:7379\","
	    "\"timeout_ms\":250}", &err);
	ac_request r = req_from("/open", "192.0.2.7");
	const ac_answer *a = ac_decision_answer(dec);
	const ac_answer *b = ac_decision_answer(d2);
	char reply[512], written[2048];
	size_t i;

	begin("gateway: each store step is a fetch carrying the command");
	CHECK(P != NULL);
	if (P == NULL) {
		end();
		return;
	}
	memset(dec, 0, ac_sizeof_decision());
	memset(d2, 0, ac_sizeof_decision());
	ac_decision_redis_via_fetch(dec, 1);
	CHECK(ac_decide_begin(P, state, &r, NOW, NULL, 0, dec) == AC_PENDING);
	(void)ac_decide_begin(P, state, &r, NOW, NULL, 0, d2);
	CHECK(b->wait == AC_WAIT_STORE && b->store_shared && b->n_reads == 1);
	CHECK(fetch_is_command(P, a, b));
	CHECK(a->status == 0 && a->reason == AC_PENDING_REASON);
	CHECK(target_starts(a, "/EVAL/local%20r%3D%7B%7D"));
	/* the read: absent; then the writes, as a fetch again */
	answer(P, &r, 200, ABSENT1);
	ac_redis_reply_resp(P, state, &r, NOW, NULL, 0, d2, &(ac_redis_cmd){
	    .kind = AC_REDIS_READS, .n = 1 }, (const uint8_t *)ABSENT1,
	    strlen(ABSENT1));
	CHECK(b->action == AC_ALLOW && b->n_writes == 1 && b->store_shared);
	CHECK(fetch_is_command(P, a, b));
	CHECK(a->fetch.target.len < sizeof written);
	memcpy(written, a->fetch.target.ptr, a->fetch.target.len <
	    sizeof written ? a->fetch.target.len : 0);
	answer(P, &r, 200, ":1\r\n");
	CHECK(a->action == AC_ALLOW && a->reason == AC_PUBLIC &&
	    a->n_writes == 0 && a->store_shared == 0 &&
	    a->wait == AC_WAIT_NONE);
	CHECK(a->fetch.target.len == 0 && a->fetch.url.len == 0);
	end();

	begin("gateway: the entries read come back through the raw reply");
	/* the entry the write above stored: version 1 and its value */
	{
		const char *v = strstr(written, "/0/");
		char hexv[129];
		CHECK(v != NULL);
		memcpy(hexv, v != NULL ? v + 3 : "", 128);
		hexv[128] = 0;
		snprintf(reply, sizeof reply, "*2\r\n$1\r\n1\r\n$128\r\n%s\r\n",
		    hexv);
	}
	for (i = 0; i < 2; i++) {
		memset(dec, 0, ac_sizeof_decision());
		ac_decision_redis_via_fetch(dec, 1);
		(void)ac_decide_begin(P, state, &r, NOW + (int64_t)i, NULL, 0,
		    dec);
		answer(P, &r, 200, reply);
		/* 2/minute: one taken; the second request passes and writes,
		 * and the version written on is the one read */
		CHECK(a->action == AC_PENDING && a->wait == AC_WAIT_FETCH);
		CHECK(target_has(a, "/1/"));
		answer(P, &r, 200, ":1\r\n");
		CHECK(a->action == AC_ALLOW && a->n_writes == 0);
	}
	end();

	begin("gateway: a lost write is decided again on fresh reads");
	memset(dec, 0, ac_sizeof_decision());
	ac_decision_redis_via_fetch(dec, 1);
	(void)ac_decide_begin(P, state, &r, NOW, NULL, 0, dec);
	answer(P, &r, 200, ABSENT1);
	answer(P, &r, 200, ":0\r\n");
	CHECK(a->action == AC_PENDING && a->wait == AC_WAIT_FETCH &&
	    target_starts(a, "/EVAL/local%20r"));
	answer(P, &r, 200, ABSENT1);
	answer(P, &r, 200, ":1\r\n");
	CHECK(a->action == AC_ALLOW && a->reason == AC_PUBLIC);
	end();

	begin("gateway: no answer, a status but 200, an error reply or a "
	    "body cut short is a failed store: counted locally");
	table = ac_table_init(tmem, sizeof tmem, P);
	CHECK(table != NULL);
	for (i = 0; i < 6; i++) {
		/* a client of its own each: 2/minute in the local table */
		static char ip[6][16];
		snprintf(ip[i], sizeof ip[i], "198.51.100.%u", (unsigned)i);
		r = req_from("/open", ip[i]);
		memset(dec, 0, ac_sizeof_decision());
		ac_decision_redis_via_fetch(dec, 1);
		(void)ac_decide_begin(P, state, &r, NOW, NULL, 0, dec);
		if (i == 0)
			answer(P, &r, 503, "");
		else if (i == 1)
			answer(P, &r, 0, NULL);
		else if (i == 2)
			answer(P, &r, 200, "-ERR unknown command\r\n");
		else if (i == 3)
			answer(P, &r, 200, "*2\r\n$0\r\n");
		else if (i == 4)
			answer(P, &r, 200, ":1\r\n"); /* a reads' wrong shape */
		else /* the host could not send it */
			ac_decide_finish(P, state, &r, NOW, NULL, 0, dec);
		/* on_store_error "local": the host's own store, no fetch */
		CHECK(a->action == AC_PENDING && a->wait == AC_WAIT_STORE &&
		    a->store_shared == 0 && a->n_reads == 1);
		ac_table_settle(P, state, table, &r, NOW, NULL, 0, dec);
		CHECK(a->action == AC_ALLOW && a->audit_len > 0 &&
		    strstr(a->audit, "\"store_fallback\":\"local\"") != NULL);
	}
	/* a reply too long for max_bytes is refused whole */
	{
		static char big[AC_REDIS_GATEWAY_REPLY_MAX + 2];
		memset(big, ' ', sizeof big - 1);
		memcpy(big, ABSENT1, strlen(ABSENT1));
		memset(dec, 0, ac_sizeof_decision());
		ac_decision_redis_via_fetch(dec, 1);
		(void)ac_decide_begin(P, state, &r, NOW, NULL, 0, dec);
		CHECK(ac_decide_fetched(dec, 200, NULL, 0, big, sizeof big - 1,
		    NOW) == -1);
		ac_decide_finish(P, state, &r, NOW, NULL, 0, dec);
		CHECK(a->wait == AC_WAIT_STORE && a->store_shared == 0);
	}
	end();

	begin("gateway: off, or a policy without one: commands as before");
	memset(dec, 0, ac_sizeof_decision());
	(void)ac_decide_begin(P, state, &r, NOW, NULL, 0, dec);
	CHECK(a->wait == AC_WAIT_STORE && a->store_shared && a->n_reads == 1);
	/* (one policy at a time: the fixture loads into one place) */
	{
		const ac_policy *Pnone = load_gw("{\"timeout_ms\":250}", &err);
		CHECK(Pnone != NULL);
		memset(dec, 0, ac_sizeof_decision());
		ac_decision_redis_via_fetch(dec, 1);
		if (Pnone != NULL)
			(void)ac_decide_begin(Pnone, state, &r, NOW, NULL, 0,
			    dec);
		CHECK(a->wait == AC_WAIT_STORE && a->store_shared &&
		    a->n_reads == 1);
		P = load_gw("{\"gateway\":\"http://127.0.0.1:7379\","
		    "\"timeout_ms\":250}", &err);
		CHECK(P != NULL);
		if (P == NULL) {
			end();
			return;
		}
	}
	/* kept across decisions, and abandoned like any fetch */
	memset(dec, 0, ac_sizeof_decision());
	ac_decision_redis_via_fetch(dec, 1);
	(void)ac_decide_begin(P, state, &r, NOW, NULL, 0, dec);
	answer(P, &r, 200, ABSENT1);
	CHECK(a->wait == AC_WAIT_FETCH);
	(void)ac_decide_begin(P, state, &r, NOW, NULL, 0, dec);
	CHECK(a->wait == AC_WAIT_FETCH);
	ac_decide_abandon(state, dec);
	CHECK(a->action != AC_PENDING);
	end();
}

int main(void)
{
	dec = calloc(1, ac_sizeof_decision());
	d2 = calloc(1, ac_sizeof_decision());
	if (dec == NULL || d2 == NULL)
		return 1;
	setup_state();
	test_loader();
	test_body();
	test_flow();
#ifdef AC_TEST_COUNT_HEAP
	begin("gateway: the core made no heap call");
	CHECK(heap_calls == 2);
	end();
#endif
	free(dec);
	free(d2);
	return failures ? 1 : 0;
}
