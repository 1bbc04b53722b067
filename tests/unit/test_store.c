/*
 * Rate limits over the store protocol (core/authcore_store.h): the
 * "rate_limits" loader and its errors, the protocol (reads, supply,
 * finish, writes; lost compare-and-sets and retries; a key not supplied;
 * a store that fails), the local table, and the stage's answers (429,
 * Retry-After, RateLimit-Policy / RateLimit) through ac_decide_local.
 */
#include "fixtures.h"

#include <stdlib.h>

#include "authcore.h"

#define NOW 1800000000

/* Loads `rl` as the rate_limits of a JWT policy with public /open*. */
static const ac_policy *load_rl(const char *rl, ac_policy_error *err)
{
	static char json[4096];
	snprintf(json, sizeof json,
	    "{\"jwt\":{\"keys\":[{\"alg\":\"HS256\",\"secret\":\"%s\"}]},"
	    "\"public\":[\"/open*\"],\"rate_limits\":%s}", SECRET, rl);
	return load(json, err);
}

static ac_state *state;
static ac_decision *dec, *d2;
static ac_table *table;
static void *table_mem;

static void setup_state(void)
{
	static uint64_t mem[(1u << 17)]; /* >= ac_sizeof_state() */
	uint8_t seed[AC_STATE_SECRET_LEN];
	size_t i;

	for (i = 0; i < sizeof seed; i++)
		seed[i] = (uint8_t)(i * 7 + 1);
	state = (ac_state *)(void *)mem;
	if (ac_sizeof_state() > sizeof mem || ac_state_init(state, seed,
	    sizeof seed) < 0)
		abort();
}

static void new_table(const ac_policy *P)
{
	static uint64_t mem[1u << 19]; /* 4 MiB: the default 65,536 keys */
	table_mem = mem;
	table = ac_table_init(mem, sizeof mem, P);
}

/* A request: method, path, client, and an Authorization bearer token or
 * an extra header (either may be NULL). */
static ac_header hdrs[4];
static ac_request req_of(const char *method, const char *path,
    const char *client, const char *token, const char *hname,
    const char *hval)
{
	static char auth[AC_TOKEN_MAX + 16];
	ac_request r;
	size_t n = 0;

	memset(&r, 0, sizeof r);
	r.method.ptr = method;
	r.method.len = strlen(method);
	r.path.ptr = path;
	r.path.len = strlen(path);
	r.client_ip.ptr = client;
	r.client_ip.len = strlen(client);
	if (token != NULL) {
		snprintf(auth, sizeof auth, "Bearer %s", token);
		hdrs[n].name.ptr = "authorization";
		hdrs[n].name.len = 13;
		hdrs[n].value.ptr = auth;
		hdrs[n].value.len = strlen(auth);
		n++;
	}
	if (hname != NULL) {
		hdrs[n].name.ptr = hname;
		hdrs[n].name.len = strlen(hname);
		hdrs[n].value.ptr = hval;
		hdrs[n].value.len = strlen(hval);
		n++;
	}
	r.headers = hdrs;
	r.n_headers = n;
	return r;
}

static const ac_answer *local(const ac_policy *P, const ac_request *r,
    int64_t now)
{
	memset(dec, 0, ac_sizeof_decision());
	ac_decide_local(P, state, table, r, now, NULL, 0, dec);
	return ac_decision_answer(dec);
}

/* The value of response header `name` in a (its first), or "". */
static const char *hdr(const ac_answer *a, const char *name)
{
	static char v[512];
	size_t i;
	for (i = 0; i < a->n_resp_headers; i++)
		if (str_is(a->resp_headers[i].name, name)) {
			size_t n = a->resp_headers[i].value.len;
			if (n >= sizeof v)
				n = sizeof v - 1;
			memcpy(v, a->resp_headers[i].value.ptr, n);
			v[n] = 0;
			return v;
		}
	return "";
}

static int load_fails(const char *rl, const char *path, const char *msg)
{
	ac_policy_error err;
	if (load_rl(rl, &err) != NULL)
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
	ac_policy_error err;
	const ac_policy *P;

	begin("rate_limits: loads limits with several windows, a default, the store size");
	P = load_rl("{\"limits\":[{\"name\":\"api\",\"methods\":[\"POST\"],"
	    "\"path\":\"/api/*\",\"key\":\"user\",\"limit\":"
	    "\"10/second;100/minute;1000/hour\"},{\"key\":\"header:x-tenant\","
	    "\"limit\":\"5 per 10 seconds\"}],\"default\":{\"key\":\"client\","
	    "\"limit\":\"300/minute\"},\"store\":1024,\"headers\":true,"
	    "\"on_store_error\":\"allow\"}", &err);
	CHECK(P != NULL);
	CHECK(P != NULL && ac_table_size(P) <= 1024 * 32 + 128);
	CHECK(P != NULL && ac_table_size(P) >= 1024 * 30);
	end();

	begin("rate_limits: loader errors name the JSON path");
	CHECK(load_fails("{}", "$.rate_limits", "needs \"limits\", a \"default\" or \"connections\""));
	CHECK(load_fails("{\"connections\":[]}", "$.rate_limits.connections", "non-empty"));
	CHECK(load_fails("{\"connections\":[{\"key\":\"user\"}]}",
	    "$.rate_limits.connections[0]", "missing \"max\""));
	CHECK(load_fails("{\"connections\":[{\"key\":\"user\",\"max\":0}]}",
	    "$.rate_limits.connections[0].max", "1 to 1000000"));
	CHECK(load_fails("{\"connections\":[{\"key\":\"everyone\",\"max\":2}]}",
	    "$.rate_limits.connections[0].key", "\"global\""));
	CHECK(load_fails("{\"limits\":[{\"key\":\"global\",\"limit\":\"1/s\"}]}",
	    "$.rate_limits.limits[0].key", "unknown key"));
	CHECK(load_fails("{\"connections\":[{\"key\":\"user\",\"max\":2,\"limit\":\"1/s\"}]}",
	    "$.rate_limits.connections[0]", "unknown member \"limit\""));
	CHECK(load_fails("{\"connections\":[{\"name\":\"a\",\"key\":\"user\",\"max\":2},"
	    "{\"name\":\"a\",\"key\":\"global\",\"max\":9}]}",
	    "$.rate_limits.connections", "same \"name\""));
	CHECK(load_fails("{\"connections\":[{\"key\":\"header:x_t\",\"max\":2}]}",
	    "$.rate_limits", "names a header with '_'"));
	CHECK(load_fails("{\"connections\":[{\"key\":\"global\",\"max\":2,\"path\":\"ws\"}]}",
	    "$.rate_limits.connections[0].path", "must start with '/'"));
	CHECK(load_fails("{\"limits\":[]}", "$.rate_limits.limits", "non-empty"));
	CHECK(load_fails("{\"limits\":[{\"key\":\"ip\",\"limit\":\"1/s\"}]}",
	    "$.rate_limits.limits[0].key", "unknown key"));
	CHECK(load_fails("{\"limits\":[{\"key\":\"client\",\"limit\":\"5/m\"}]}",
	    "$.rate_limits.limits[0].limit", "ambiguous"));
	CHECK(load_fails("{\"limits\":[{\"key\":\"client\",\"limit\":\"1/s;\"}]}",
	    "$.rate_limits.limits[0].limit", "must be one limit"));
	CHECK(load_fails("{\"limits\":[{\"key\":\"client\",\"limit\":\"1001/second\"}]}",
	    "$.rate_limits.limits[0].limit", "faster than 1000 per second"));
	CHECK(load_fails("{\"limits\":[{\"key\":\"client\",\"limit\":\"5/s;9/second\"}]}",
	    "$.rate_limits.limits[0].limit", "same length"));
	CHECK(load_fails("{\"limits\":[{\"key\":\"client\",\"limit\":\"1/s;2/min;3/h;4/d;5/w\"}]}",
	    "$.rate_limits.limits[0].limit", "more than 4 windows"));
	CHECK(load_fails("{\"limits\":[{\"key\":\"client\"}]}",
	    "$.rate_limits.limits[0]", "missing \"limit\""));
	CHECK(load_fails("{\"limits\":[{\"key\":\"client\",\"limit\":\"1/s\",\"paths\":\"/\"}]}",
	    "$.rate_limits.limits[0]", "unknown member \"paths\""));
	CHECK(load_fails("{\"default\":{\"key\":\"user\",\"limit\":\"1/s\",\"path\":\"/x\"}}",
	    "$.rate_limits.default", "unknown member \"path\""));
	CHECK(load_fails("{\"limits\":[{\"key\":\"header:\",\"limit\":\"1/s\"}]}",
	    "$.rate_limits.limits[0].key", ""));
	CHECK(load_fails("{\"limits\":[{\"key\":\"header:x_tenant\",\"limit\":\"1/s\"}]}",
	    "$.rate_limits", "names a header with '_'"));
	CHECK(load_fails("{\"default\":{\"key\":\"client\",\"limit\":\"1/s\"},\"store\":1}",
	    "$.rate_limits.store", "64 to 67108864"));
	CHECK(load_fails("{\"default\":{\"key\":\"client\",\"limit\":\"1/s\"},\"on_store_error\":\"open\"}",
	    "$.rate_limits.on_store_error", "\"deny\", \"allow\" or \"local\""));
	end();
}

static void test_table(void)
{
	ac_policy_error err;
	const ac_policy *P = load_rl("{\"default\":{\"key\":\"client\","
	    "\"limit\":\"1/s\"},\"store\":64}", &err);
	uint64_t mem[512];
	uint8_t v[64], out[64];
	size_t len;
	uint64_t ver;
	ac_table *t;
	ac_str g0 = { "g0", 2 }, g1 = { "g1", 2 };

	begin("table: read, compare-and-set write, versions, bad keys");
	CHECK(P != NULL);
	if (P == NULL) {
		end();
		return;
	}
	CHECK(ac_table_size(P) <= sizeof mem);
	CHECK(ac_table_init(mem, ac_table_size(P) - 1, P) == NULL);
	t = ac_table_init(mem, sizeof mem, P);
	CHECK(t != NULL);
	memset(v, 0xab, sizeof v);
	CHECK(ac_table_read(t, g0, out, &len, &ver) == 0 && len == 0 && ver == 0);
	CHECK(ac_table_write(t, g0, v, sizeof v, 1) == 1);   /* not written yet */
	CHECK(ac_table_write(t, g0, v, sizeof v, 0) == 0);
	CHECK(ac_table_read(t, g0, out, &len, &ver) == 0 && len == 64 &&
	    ver != 0 && memcmp(out, v, 64) == 0);
	CHECK(ac_table_write(t, g0, v, sizeof v, 0) == 1);   /* lost: moved on */
	v[0] = 1;
	CHECK(ac_table_write(t, g0, v, sizeof v, ver) == 0);
	CHECK(ac_table_write(t, g0, v, sizeof v, ver) == 1);
	CHECK(ac_table_read(t, g1, out, &len, &ver) == 0 && len == 0);
	CHECK(ac_table_write(t, g1, v, 63, 0) == -1);
	{
		static const char *const bad[] = { "g", "g01", "gx", "x1", "g-1",
			"g4294967296", "g99999" };
		size_t i;
		for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
			ac_str k = { bad[i], strlen(bad[i]) };
			CHECK(ac_table_read(t, k, out, &len, &ver) == -1);
			CHECK(ac_table_write(t, k, v, 64, 0) == -1);
		}
	}
	CHECK(ac_table_attach(mem, sizeof mem, P) == t);
	mem[0] = 0;
	CHECK(ac_table_attach(mem, sizeof mem, P) == NULL);
	end();
}

/* Supplies every read of d from the table; 0, or -1. */
static int supply_all(ac_decision *d)
{
	const ac_answer *a = ac_decision_answer(d);
	size_t i;
	for (i = 0; i < a->n_reads; i++) {
		uint8_t buf[64];
		size_t len;
		uint64_t ver;
		if (ac_table_read(table, a->reads[i].key, buf, &len, &ver) < 0 ||
		    ac_decide_supply(d, i, buf, len, ver) < 0)
			return -1;
	}
	return 0;
}

static int apply_writes(const ac_answer *a)
{
	size_t i;
	int lost = 0;
	for (i = 0; i < a->n_writes; i++)
		lost |= ac_table_write(table, a->writes[i].key, a->writes[i].value,
		    a->writes[i].len, a->writes[i].version) != 0;
	return lost;
}

/* Decides r into d by hand, one round of reads from the table, to the
 * answer before its writes: 0, or -1 if a read could not be supplied. */
static int decided(const ac_policy *P, const ac_request *r, ac_decision *d)
{
	int rc;

	memset(d, 0, ac_sizeof_decision());
	(void)ac_decide_begin(P, state, r, NOW, NULL, 0, d);
	rc = supply_all(d);
	ac_decide_finish(P, state, r, NOW, NULL, 0, d);
	return rc;
}

/* Releases a lease into d against the table, to its end. */
static void released(const ac_policy *P, const uint8_t *lease, size_t len,
    ac_decision *d)
{
	memset(d, 0, ac_sizeof_decision());
	(void)ac_release_begin(P, lease, len, NOW, d);
	ac_table_settle(P, NULL, table, NULL, NOW, NULL, 0, d);
}

static void test_protocol(void)
{
	ac_policy_error err;
	const ac_policy *P = load_rl("{\"default\":{\"key\":\"client\","
	    "\"limit\":\"2/minute\"},\"on_store_error\":\"deny\"}", &err);
	ac_request r = req_of("GET", "/open", "192.0.2.7", NULL, NULL, NULL);
	ac_request r2 = req_of("GET", "/open", "192.0.2.8", NULL, NULL, NULL);
	const ac_answer *a = ac_decision_answer(dec);
	uint8_t junk[64] = { 0 };
	char key0[AC_STORE_KEY_MAX + 1];

	begin("store protocol: begin asks for reads, finish answers with writes");
	CHECK(P != NULL);
	if (P == NULL) {
		end();
		return;
	}
	new_table(P);
	CHECK(ac_needs(P, &r) & AC_NEEDS_ENTRIES);
	memset(dec, 0, ac_sizeof_decision());
	CHECK(ac_decide_begin(P, state, &r, NOW, NULL, 0, dec) == AC_PENDING);
	CHECK(a->wait == AC_WAIT_STORE && a->n_reads == 1 && a->n_writes == 0);
	CHECK(a->status == 0 && a->reason == AC_PENDING_REASON);
	CHECK(ac_decide_step(dec, 1000) == 0);
	CHECK(a->reads[0].key.len >= 2 && a->reads[0].key.ptr[0] == 'g');
	memcpy(key0, a->reads[0].key.ptr, a->reads[0].key.len);
	key0[a->reads[0].key.len] = 0;
	/* wrong sizes, index and versions are refused */
	CHECK(ac_decide_supply(dec, 1, NULL, 0, 0) == -1);
	CHECK(ac_decide_supply(dec, 0, junk, 10, 1) == -1);
	CHECK(ac_decide_supply(dec, 0, junk, 64, 0) == -1);
	CHECK(ac_decide_supply(dec, 0, NULL, 0, 5) == -1);
	CHECK(supply_all(dec) == 0);
	ac_decide_finish(P, state, &r, NOW, NULL, 0, dec);
	CHECK(a->action == AC_ALLOW && a->reason == AC_PUBLIC);
	CHECK(a->wait == AC_WAIT_NONE && a->n_writes == 1);
	CHECK(a->n_writes == 1 && a->writes[0].len == 64 &&
	    a->writes[0].version == 0 && a->writes[0].expires > NOW &&
	    a->writes[0].expires <= NOW + 61 &&
	    str_is(a->writes[0].key, key0));
	CHECK(apply_writes(a) == 0);
	CHECK(ac_decide_supply(dec, 0, NULL, 0, 0) == -1); /* not pending */
	end();

	begin("store protocol: a lost compare-and-set, decided again, counts once");
	/* two decisions read the same version; the second write is lost */
	memset(dec, 0, ac_sizeof_decision());
	CHECK(ac_decide_begin(P, state, &r, NOW, NULL, 0, dec) == AC_PENDING);
	CHECK(supply_all(dec) == 0);
	CHECK(ac_decide_begin(P, state, &r, NOW, NULL, 0, d2) == AC_PENDING);
	CHECK(supply_all(d2) == 0);
	ac_decide_finish(P, state, &r, NOW, NULL, 0, dec);
	ac_decide_finish(P, state, &r, NOW, NULL, 0, d2);
	CHECK(a->action == AC_ALLOW && ac_decision_answer(d2)->action == AC_ALLOW);
	CHECK(apply_writes(a) == 0);
	CHECK(apply_writes(ac_decision_answer(d2)) == 1);
	/* the host hands the lost write back: the core decides again, on
	 * fresh reads; the bucket holds 2 now (limit 2/minute), so the retry
	 * is refused, as the request deserves */
	ac_decide_store_lost(P, state, &r, NOW, NULL, 0, d2);
	CHECK(ac_decision_answer(d2)->action == AC_PENDING &&
	    ac_decision_answer(d2)->wait == AC_WAIT_STORE &&
	    ac_decision_answer(d2)->n_reads == 1);
	CHECK(supply_all(d2) == 0);
	ac_decide_finish(P, state, &r, NOW, NULL, 0, d2);
	CHECK(ac_decision_answer(d2)->status == 429 &&
	    ac_decision_answer(d2)->reason == AC_RATE_LIMITED &&
	    ac_decision_answer(d2)->n_writes == 0);
	end();

	begin("store protocol: the core counts lost writes; the last gives store_conflict");
	{
		/* a request whose every write is lost: AC_STORE_ATTEMPTS
		 * answers in all, then the conflict answer, without the host
		 * counting anything */
		ac_request r3 = req_of("GET", "/open", "192.0.2.9", NULL, NULL,
		    NULL);
		const ac_answer *b = ac_decision_answer(d2);
		unsigned answers = 0;

		memset(d2, 0, ac_sizeof_decision());
		(void)ac_decide_begin(P, state, &r3, NOW, NULL, 0, d2);
		while (answers < 10) {
			CHECK(b->action == AC_PENDING && b->wait == AC_WAIT_STORE);
			CHECK(supply_all(d2) == 0);
			ac_decide_finish(P, state, &r3, NOW, NULL, 0, d2);
			if (b->n_writes == 0)
				break;
			answers++;
			CHECK(b->action == AC_ALLOW);
			ac_decide_store_lost(P, state, &r3, NOW, NULL, 0, d2);
			if (b->action != AC_PENDING)
				break;
		}
		CHECK(answers == AC_STORE_ATTEMPTS);
		CHECK(b->status == 503 && b->reason == AC_STORE_CONFLICT &&
		    b->n_writes == 0 && b->audit_len > 0);
		/* a final answer ignores it; a new request counts afresh */
		ac_decide_store_lost(P, state, &r3, NOW, NULL, 0, d2);
		CHECK(b->reason == AC_STORE_CONFLICT);
		CHECK(ac_decide_begin(P, state, &r3, NOW, NULL, 0, d2) ==
		    AC_PENDING);
		CHECK(supply_all(d2) == 0);
		ac_decide_finish(P, state, &r3, NOW, NULL, 0, d2);
		CHECK(b->action == AC_ALLOW && b->n_writes == 1);
		ac_decide_store_lost(P, state, &r3, NOW, NULL, 0, d2);
		CHECK(b->action == AC_PENDING && b->wait == AC_WAIT_STORE);
	}
	end();

	begin("store protocol: after the attempts, store_conflict (503) or the policy's fail-open");
	ac_decide_store_conflict(P, state, &r, NOW, NULL, 0, d2);
	CHECK(ac_decision_answer(d2)->status == 503 &&
	    ac_decision_answer(d2)->reason == AC_STORE_CONFLICT &&
	    strcmp(hdr(ac_decision_answer(d2), "retry-after"), "1") == 0 &&
	    ac_decision_answer(d2)->n_writes == 0);
	{
		const ac_policy *Po = load_rl("{\"default\":{\"key\":\"client\","
		    "\"limit\":\"2/minute\"},\"on_store_error\":\"allow\"}", &err);
		const ac_answer *b = ac_decision_answer(d2);
		CHECK(Po != NULL);
		if (Po != NULL) {
			ac_decide_store_conflict(Po, state, &r, NOW, NULL, 0, d2);
			CHECK(b->action == AC_ALLOW && b->reason == AC_PUBLIC &&
			    b->n_writes == 0 && b->audit_len > 0 &&
			    strstr(b->audit, "\"store\":\"store_conflict\"") != NULL);
			ac_decide_store_error(Po, state, &r, NOW, NULL, 0, d2);
			CHECK(b->action == AC_ALLOW && b->audit_len > 0 &&
			    strstr(b->audit, "\"store\":\"store_unavailable\"") != NULL);
		}
		P = load_rl("{\"default\":{\"key\":\"client\","
		    "\"limit\":\"2/minute\"},\"on_store_error\":\"deny\"}", &err);
	}
	end();

	begin("store protocol: a store error is 503 store_unavailable (deny)");
	memset(dec, 0, ac_sizeof_decision());
	CHECK(ac_decide_begin(P, state, &r2, NOW, NULL, 0, dec) == AC_PENDING);
	ac_decide_store_error(P, state, &r2, NOW, NULL, 0, dec);
	CHECK(a->action == AC_RESPOND && a->status == 503 &&
	    a->reason == AC_STORE_UNAVAILABLE && a->n_writes == 0 &&
	    strcmp(hdr(a, "retry-after"), "1") == 0 && a->audit_len > 0 &&
	    strstr(a->audit, "\"reason\":\"store_unavailable\"") != NULL);
	end();

	begin("store protocol: a key not supplied fails closed; entries are bound to their keys");
	memset(dec, 0, ac_sizeof_decision());
	CHECK(ac_decide_begin(P, state, &r2, NOW, NULL, 0, dec) == AC_PENDING);
	ac_decide_finish(P, state, &r2, NOW, NULL, 0, dec);
	CHECK(a->status == 503 && a->reason == AC_STORE_UNAVAILABLE &&
	    a->n_writes == 0);
	/* supplied for one client, finished for another: the other's bucket
	 * is asked for, never counted from the first one's entry */
	memset(dec, 0, ac_sizeof_decision());
	CHECK(ac_decide_begin(P, state, &r, NOW, NULL, 0, dec) == AC_PENDING);
	CHECK(supply_all(dec) == 0);
	ac_decide_finish(P, state, &r2, NOW, NULL, 0, dec);
	CHECK(a->action == AC_PENDING && a->wait == AC_WAIT_STORE &&
	    a->n_reads == 1);
	/* abandoned: nothing to free, nothing left pending */
	ac_decide_abandon(state, dec);
	CHECK(a->action != AC_PENDING && ac_decide_step(dec, 10) == 0);
	end();

	begin("store protocol: no state is 500 no_state; no limit, no reads");
	memset(dec, 0, ac_sizeof_decision());
	CHECK(ac_decide_begin(P, NULL, &r, NOW, NULL, 0, dec) == AC_RESPOND);
	CHECK(a->status == 500 && a->reason == AC_NO_STATE);
	{
		const ac_policy *Pl = load_rl("{\"limits\":[{\"path\":\"/api/*\","
		    "\"key\":\"client\",\"limit\":\"1/minute\"}]}", &err);
		CHECK(Pl != NULL);
		if (Pl != NULL) {
			memset(dec, 0, ac_sizeof_decision());
			CHECK(ac_decide_begin(Pl, state, &r, NOW, NULL, 0, dec) ==
			    AC_ALLOW);
			CHECK(a->n_reads == 0 && a->n_writes == 0);
		}
	}
	end();
}

static void test_stage(void)
{
	ac_policy_error err;
	const ac_policy *P;
	const ac_answer *a;
	ac_request r;
	int i, allowed = 0;
	char tok_a[1024], tok_b[1024];

	begin("stage: N per minute allows N, then 429 with Retry-After and RateLimit headers");
	P = load_rl("{\"limits\":[{\"name\":\"open\",\"path\":\"/open*\","
	    "\"key\":\"client\",\"limit\":\"5/minute\"}]}", &err);
	CHECK(P != NULL);
	if (P == NULL) {
		end();
		return;
	}
	new_table(P);
	r = req_of("GET", "/open/x", "198.51.100.1", NULL, NULL, NULL);
	for (i = 0; i < 8; i++) {
		a = local(P, &r, NOW);
		allowed += a->action == AC_ALLOW;
		if (i < 5)
			CHECK(a->action == AC_ALLOW && a->n_resp_headers == 0);
	}
	CHECK(allowed == 5);
	CHECK(a->status == 429 && a->reason == AC_RATE_LIMITED);
	CHECK(strcmp(hdr(a, "retry-after"), "12") == 0);
	CHECK(strcmp(hdr(a, "ratelimit-policy"), "\"open\";q=5;w=60") == 0);
	CHECK(strcmp(hdr(a, "ratelimit"), "\"open\";r=0;t=60") == 0);
	CHECK(a->audit_len > 0 && strstr(a->audit, "\"reason\":\"rate_limited\"") != NULL);
	/* a second client has its own bucket; the first gets one more after
	 * one interval (12 s) */
	r = req_of("GET", "/open/x", "198.51.100.2", NULL, NULL, NULL);
	CHECK(local(P, &r, NOW)->action == AC_ALLOW);
	r = req_of("GET", "/open/x", "198.51.100.1", NULL, NULL, NULL);
	CHECK(local(P, &r, NOW + 11)->status == 429);
	CHECK(local(P, &r, NOW + 12)->action == AC_ALLOW);
	CHECK(local(P, &r, NOW + 12)->status == 429);
	/* a request without a client address is counted too (under "") */
	r = req_of("GET", "/open/x", "", NULL, NULL, NULL);
	for (i = 0; i < 5; i++)
		CHECK(local(P, &r, NOW)->action == AC_ALLOW);
	CHECK(local(P, &r, NOW)->status == 429);
	/* a clock far out of range decides without overflow */
	r = req_of("GET", "/open/x", "198.51.100.3", NULL, NULL, NULL);
	CHECK(local(P, &r, INT64_MAX)->action == AC_ALLOW);
	r = req_of("GET", "/open/x", "198.51.100.4", NULL, NULL, NULL);
	CHECK(local(P, &r, INT64_MIN)->action == AC_ALLOW);
	/* IPv6 clients share their /64 */
	r = req_of("GET", "/open/x", "2001:db8::1", NULL, NULL, NULL);
	for (i = 0; i < 5; i++)
		CHECK(local(P, &r, NOW)->action == AC_ALLOW);
	r = req_of("GET", "/open/x", "2001:db8::2", NULL, NULL, NULL);
	CHECK(local(P, &r, NOW)->status == 429);
	end();

	begin("stage: several windows; headers on allowed answers when asked");
	P = load_rl("{\"limits\":[{\"name\":\"w\",\"key\":\"client\","
	    "\"limit\":\"2/second;3/minute\"}],\"headers\":true}", &err);
	CHECK(P != NULL);
	if (P != NULL) {
		new_table(P);
		r = req_of("GET", "/open", "203.0.113.9", NULL, NULL, NULL);
		a = local(P, &r, NOW);
		CHECK(a->action == AC_ALLOW);
		CHECK(strcmp(hdr(a, "ratelimit-policy"),
		    "\"w-1\";q=2;w=1, \"w-60\";q=3;w=60") == 0);
		CHECK(strcmp(hdr(a, "ratelimit"),
		    "\"w-1\";r=1;t=1, \"w-60\";r=2;t=20") == 0);
		CHECK(local(P, &r, NOW)->action == AC_ALLOW);
		CHECK(local(P, &r, NOW)->status == 429);     /* 2 per second */
		CHECK(local(P, &r, NOW + 1)->action == AC_ALLOW);
		a = local(P, &r, NOW + 2);   /* 3 per minute */
		CHECK(a->status == 429);
		/* the second's window had room and still has: nothing counted */
		CHECK(strcmp(hdr(a, "ratelimit"),
		    "\"w-1\";r=2;t=0, \"w-60\";r=0;t=58") == 0);
		a = local(P, &r, NOW + 2);
		/* one more per 20 s of the minute window (GCRA: a token
		 * bucket refilled over the period), 2 s after the third */
		CHECK(strcmp(hdr(a, "retry-after"), "18") == 0);
	}
	end();

	begin("stage: identity keys count per user after identification; two round trips");
	P = load_rl("{\"limits\":[{\"key\":\"client\",\"limit\":\"100/minute\"},"
	    "{\"methods\":[\"POST\"],\"key\":\"user\",\"limit\":\"2/minute\"},"
	    "{\"key\":\"role\",\"limit\":\"3/minute\"}]}", &err);
	CHECK(P != NULL);
	if (P != NULL) {
		ac_request ra, rb;
		new_table(P);
		snprintf(tok_a, sizeof tok_a, "%s", sign("{\"sub\":\"ann\",\"exp\":1900000000}"));
		snprintf(tok_b, sizeof tok_b, "%s", sign("{\"sub\":\"bob\",\"exp\":1900000000,\"roles\":[\"ops\"]}"));
		ra = req_of("POST", "/api", "192.0.2.1", tok_a, NULL, NULL);
		/* by hand: the client's buckets, then the user's */
		memset(dec, 0, ac_sizeof_decision());
		a = ac_decision_answer(dec);
		CHECK(ac_decide_begin(P, state, &ra, NOW, NULL, 0, dec) == AC_PENDING);
		CHECK(supply_all(dec) == 0);
		ac_decide_finish(P, state, &ra, NOW, NULL, 0, dec);
		CHECK(a->action == AC_PENDING && a->wait == AC_WAIT_STORE);
		CHECK(supply_all(dec) == 0);
		ac_decide_finish(P, state, &ra, NOW, NULL, 0, dec);
		CHECK(a->action == AC_ALLOW && a->n_writes >= 1);
		CHECK(apply_writes(a) == 0);
		ra = req_of("POST", "/api", "192.0.2.1", tok_a, NULL, NULL);
		CHECK(local(P, &ra, NOW)->action == AC_ALLOW);
		ra = req_of("POST", "/api", "192.0.2.2", tok_a, NULL, NULL);
		a = local(P, &ra, NOW);
		CHECK(a->status == 429 && a->reason == AC_RATE_LIMITED &&
		    a->user.len == 3); /* ann, from another address */
		ra = req_of("GET", "/api", "192.0.2.2", tok_a, NULL, NULL);
		CHECK(local(P, &ra, NOW)->action == AC_ALLOW); /* POST only */
		/* bob: his own user bucket; role "ops" 3 per minute */
		rb = req_of("POST", "/api", "192.0.2.1", tok_b, NULL, NULL);
		CHECK(local(P, &rb, NOW)->action == AC_ALLOW);
		rb = req_of("GET", "/api", "192.0.2.1", tok_b, NULL, NULL);
		CHECK(local(P, &rb, NOW)->action == AC_ALLOW);
		CHECK(local(P, &rb, NOW)->action == AC_ALLOW);
		CHECK(local(P, &rb, NOW)->status == 429);   /* the role's 3 */
		/* ann has no role: that limit is skipped for her */
		ra = req_of("GET", "/api", "192.0.2.3", tok_a, NULL, NULL);
		for (i = 0; i < 4; i++)
			CHECK(local(P, &ra, NOW)->action == AC_ALLOW);
		/* unauthenticated: refused before any identity bucket */
		ra = req_of("POST", "/api", "192.0.2.4", NULL, NULL, NULL);
		CHECK(local(P, &ra, NOW)->status == 401);
	}
	end();

	begin("stage: header keys, the default only where no limit applies");
	P = load_rl("{\"limits\":[{\"path\":\"/t/*\",\"key\":\"header:x-tenant\","
	    "\"limit\":\"1/minute\"}],\"default\":{\"key\":\"client\","
	    "\"limit\":\"2/minute\"}}", &err);
	CHECK(P != NULL);
	if (P != NULL) {
		new_table(P);
		r = req_of("GET", "/open/t", "192.0.2.50", NULL, NULL, NULL);
		CHECK(local(P, &r, NOW)->action == AC_ALLOW);
		CHECK(local(P, &r, NOW)->action == AC_ALLOW);
		CHECK(local(P, &r, NOW)->status == 429);   /* the default */
		r = req_of("GET", "/t/x", "192.0.2.50", sign("{\"sub\":\"x\",\"exp\":1900000000}"),
		    "x-tenant", "acme");
		CHECK(local(P, &r, NOW)->action == AC_ALLOW); /* not the default */
		CHECK(local(P, &r, NOW)->status == 429);
		r = req_of("GET", "/t/x", "192.0.2.50", sign("{\"sub\":\"x\",\"exp\":1900000000}"),
		    "x-tenant", "other");
		CHECK(local(P, &r, NOW)->action == AC_ALLOW);
		/* no such header: the limit does not apply */
		r = req_of("GET", "/t/x", "192.0.2.50", sign("{\"sub\":\"x\",\"exp\":1900000000}"),
		    NULL, NULL);
		CHECK(local(P, &r, NOW)->action == AC_ALLOW);
		CHECK(local(P, &r, NOW)->action == AC_ALLOW);
	}
	end();

	begin("stage: the decision JSON of a refusal");
	{
		static char js[16384];
		size_t n;
		P = load_rl("{\"default\":{\"key\":\"client\",\"limit\":\"1/hour\"}}",
		    &err);
		CHECK(P != NULL);
		if (P != NULL) {
			new_table(P);
			r = req_of("GET", "/open", "192.0.2.60", NULL, NULL, NULL);
			(void)local(P, &r, NOW);
			(void)local(P, &r, NOW + 10);
			n = ac_decision_json(dec, js, sizeof js - 1);
			js[n] = 0;
			CHECK(n > 0 && strstr(js, "\"action\":\"respond\",\"status\":429,\"reason\":\"rate_limited\"") != NULL);
			CHECK(strstr(js, "[\"retry-after\",\"3590\"]") != NULL);
			CHECK(strstr(js, "[\"ratelimit-policy\",\"\\\"default\\\";q=1;w=3600\"]") != NULL);
			CHECK(strstr(js, "[\"ratelimit\",\"\\\"default\\\";r=0;t=3590\"]") != NULL);
			CHECK(strstr(js, "\"body\":\"{\\\"error\\\":\\\"too_many_requests\\\"}\"") != NULL);
		}
	}
	end();
}

static void test_password_then_store(void)
{
	static const char pol[] =
	    "{\"sessions\":{\"keys\":[{\"kid\":\"s\",\"secret\":"
	    "\"store-test-session-secret-0123456789abcdef\"}]},"
	    "\"users\":[{\"name\":\"alice\",\"password_hash\":"
	    "\"$pbkdf2-sha256$i=1000$AAECAwQFBgcICQoLDA0ODw$ppsXnjrdPB4KryJ6DrOqKqhkWrhv7PbKAMF1Eml8cZ4\","
	    "\"roles\":[\"admin\"]}],\"login\":{\"basic\":true},"
	    "\"rate_limits\":{\"limits\":[{\"key\":\"user\",\"limit\":\"2/minute\"}]}}";
	ac_policy_error err;
	const ac_policy *P = load(pol, &err);
	const ac_answer *a = ac_decision_answer(dec);
	ac_request r;

	begin("store protocol: Basic credentials: the password check, then the user's bucket");
	CHECK(P != NULL);
	if (P == NULL) {
		printf("# %s %s\n", err.path, err.message);
		end();
		return;
	}
	new_table(P);
	r = req_of("GET", "/app", "192.0.2.77", NULL, "authorization",
	    "Basic YWxpY2U6Y29ycmVjdCBob3JzZSBiYXR0ZXJ5IHN0YXBsZQ==");
	memset(dec, 0, ac_sizeof_decision());
	CHECK(ac_decide_begin(P, state, &r, NOW, NULL, 0, dec) == AC_PENDING);
	CHECK(a->wait == AC_WAIT_PASSWORD && a->n_reads == 0);
	while (ac_decide_step(dec, 100) > 0)
		;
	ac_decide_finish(P, state, &r, NOW, NULL, 0, dec);
	CHECK(a->action == AC_PENDING && a->wait == AC_WAIT_STORE &&
	    a->n_reads == 1);
	CHECK(ac_decide_step(dec, 100) == 0);
	CHECK(supply_all(dec) == 0);
	ac_decide_finish(P, state, &r, NOW, NULL, 0, dec);
	CHECK(a->action == AC_ALLOW && a->reason == AC_OK &&
	    a->user.len == 5 && a->n_writes == 1);
	/* a lost write keeps the passed check: the retry waits for fresh
	 * reads only, never for PBKDF2 again */
	ac_decide_store_lost(P, state, &r, NOW, NULL, 0, dec);
	CHECK(a->action == AC_PENDING && a->wait == AC_WAIT_STORE &&
	    a->n_reads == 1 && ac_decide_step(dec, 100) == 0);
	CHECK(supply_all(dec) == 0);
	ac_decide_finish(P, state, &r, NOW, NULL, 0, dec);
	CHECK(a->action == AC_ALLOW && a->reason == AC_OK &&
	    a->user.len == 5 && a->n_writes == 1);
	CHECK(apply_writes(a) == 0);
	/* the same through the local loop: the cached credentials, the
	 * bucket's second request, then its refusal */
	CHECK(local(P, &r, NOW)->action == AC_ALLOW);
	a = local(P, &r, NOW);
	CHECK(a->status == 429 && a->reason == AC_RATE_LIMITED);
	/* a wrong password is refused before any bucket */
	r = req_of("GET", "/app", "192.0.2.78", NULL, "authorization",
	    "Basic YWxpY2U6d3Jvbmc=");
	a = local(P, &r, NOW);
	CHECK(a->status == 401 && a->n_writes == 0);
	end();
}

/* A login attempt is counted in the client's limits by the answer that
 * starts its password check: a request decided during the check sees it;
 * the final answer does not count it again; a lost count never runs the
 * check and gives its slot back. */
static void test_counted_before_check(void)
{
	static const char pol[] =
	    "{\"sessions\":{\"keys\":[{\"kid\":\"s\",\"secret\":"
	    "\"store-test-session-secret-0123456789abcdef\"}]},"
	    "\"users\":[{\"name\":\"alice\",\"password_hash\":"
	    "\"$pbkdf2-sha256$i=1000$AAECAwQFBgcICQoLDA0ODw$ppsXnjrdPB4KryJ6DrOqKqhkWrhv7PbKAMF1Eml8cZ4\","
	    "\"roles\":[\"admin\"]}],\"login\":{\"basic\":true},"
	    "\"public\":[\"/open*\"],"
	    "\"rate_limits\":{\"headers\":true,\"limits\":[{\"key\":\"client\","
	    "\"limit\":\"5/minute\"}]}}";
	ac_policy_error err;
	const ac_policy *P = load(pol, &err);
	const ac_answer *a = ac_decision_answer(dec), *b = ac_decision_answer(d2);
	ac_request r, g;

	begin("store protocol: a password check's attempt is counted as the check starts");
	CHECK(P != NULL);
	if (P == NULL) {
		printf("# %s %s\n", err.path, err.message);
		end();
		return;
	}
	new_table(P);
	/* a wrong password: a right one is cached by the test before */
	r = req_of("GET", "/app", "192.0.2.90", NULL, "authorization",
	    "Basic YWxpY2U6bm90LWl0");
	g = req_of("GET", "/open", "192.0.2.90", NULL, NULL, NULL);
	memset(dec, 0, ac_sizeof_decision());
	CHECK(ac_decide_begin(P, state, &r, NOW, NULL, 0, dec) == AC_PENDING);
	CHECK(a->wait == AC_WAIT_STORE && supply_all(dec) == 0);
	ac_decide_finish(P, state, &r, NOW, NULL, 0, dec);
	/* pending on the check, with the client's count to store first */
	CHECK(a->action == AC_PENDING && a->wait == AC_WAIT_PASSWORD &&
	    a->n_writes == 1 && a->status == 0);
	CHECK(apply_writes(a) == 0);
	/* a request from the same client, decided while the check runs,
	 * sees the attempt counted: 2 of 5 */
	CHECK(decided(P, &g, d2) == 0);
	CHECK(b->action == AC_ALLOW && strstr(hdr(b, "ratelimit"), ";r=3;") != NULL);
	CHECK(apply_writes(b) == 0);
	while (ac_decide_step(dec, 100) > 0)
		;
	ac_decide_finish(P, state, &r, NOW, NULL, 0, dec);
	/* final, not counted again: nothing to write */
	CHECK(a->action == AC_RESPOND && a->status == 401 && a->n_writes == 0);
	CHECK(decided(P, &g, d2) == 0);
	CHECK(b->action == AC_ALLOW && strstr(hdr(b, "ratelimit"), ";r=2;") != NULL);
	CHECK(apply_writes(b) == 0);
	end();

	begin("store protocol: a lost count of a check's attempt: decided again, the check never ran");
	r = req_of("GET", "/app", "192.0.2.91", NULL, "authorization",
	    "Basic YWxpY2U6d3Jvbmc=");
	g = req_of("GET", "/open", "192.0.2.91", NULL, NULL, NULL);
	memset(dec, 0, ac_sizeof_decision());
	(void)ac_decide_begin(P, state, &r, NOW, NULL, 0, dec);
	CHECK(supply_all(dec) == 0);
	ac_decide_finish(P, state, &r, NOW, NULL, 0, dec);
	CHECK(a->action == AC_PENDING && a->wait == AC_WAIT_PASSWORD &&
	    a->n_writes == 1);
	/* another request of the client counts first: the login's write is
	 * lost; the core gives the check's slot back and reads again */
	CHECK(decided(P, &g, d2) == 0);
	CHECK(apply_writes(b) == 0);
	CHECK(apply_writes(a) == 1);
	ac_decide_store_lost(P, state, &r, NOW, NULL, 0, dec);
	CHECK(a->action == AC_PENDING && a->wait == AC_WAIT_STORE &&
	    a->n_writes == 0);
	CHECK(supply_all(dec) == 0);
	ac_decide_finish(P, state, &r, NOW, NULL, 0, dec);
	CHECK(a->action == AC_PENDING && a->wait == AC_WAIT_PASSWORD &&
	    a->n_writes == 1);
	CHECK(apply_writes(a) == 0);
	while (ac_decide_step(dec, 100) > 0)
		;
	ac_decide_finish(P, state, &r, NOW, NULL, 0, dec);
	CHECK(a->status == 401 && a->n_writes == 0);
	/* both counted once: the next sees 3 of 5 used */
	CHECK(decided(P, &g, d2) == 0);
	CHECK(b->action == AC_ALLOW && strstr(hdr(b, "ratelimit"), ";r=2;") != NULL);
	/* every check's slot was given back: max_pending (8) checks from
	 * other clients can all be in flight at once (a leaked slot would
	 * leave 7) */
	{
		static uint64_t mem[8][(1u << 17) / 8];
		ac_decision *q[8];
		unsigned k, pending = 0;

		CHECK(ac_sizeof_decision() <= sizeof mem[0]);
		for (k = 0; k < 8 && ac_sizeof_decision() <= sizeof mem[0];
		    k++) {
			char ip[32];
			ac_request rq;
			snprintf(ip, sizeof ip, "198.51.100.%u", k + 1);
			rq = req_of("GET", "/app", ip, NULL, "authorization",
			    "Basic YWxpY2U6d3Jvbmc=");
			q[k] = (ac_decision *)(void *)mem[k];
			memset(q[k], 0, ac_sizeof_decision());
			(void)ac_decide_begin(P, state, &rq, NOW, NULL, 0, q[k]);
			ac_table_settle(P, state, table, &rq, NOW, NULL, 0,
			    q[k]);
			pending += ac_decision_answer(q[k])->action ==
			    AC_PENDING && ac_decision_answer(q[k])->wait ==
			    AC_WAIT_PASSWORD;
		}
		CHECK(pending == 8);
		for (k = 0; k < pending; k++)
			ac_decide_abandon(state, q[k]);
	}
	end();
}

/* Connection caps: counted while a stream lives, released by its lease. */
static void test_caps(void)
{
	ac_policy_error err;
	const ac_policy *P = load_rl("{\"connections\":[{\"name\":\"ws\","
	    "\"path\":\"/open/ws*\",\"key\":\"client\",\"max\":2},"
	    "{\"name\":\"all\",\"path\":\"/open/ws*\",\"key\":\"global\","
	    "\"max\":3}]}", &err);
	const ac_answer *a;
	uint8_t lease[4][AC_LEASE_MAX];
	size_t lease_len[4], k;
	ac_request r1 = req_of("GET", "/open/ws", "192.0.2.30", NULL, NULL, NULL);
	ac_request r2 = req_of("GET", "/open/ws", "192.0.2.31", NULL, NULL, NULL);
	ac_request other = req_of("GET", "/open/page", "192.0.2.30", NULL, NULL,
	    NULL);

	begin("connection caps: per client and global, refused at the cap with 429 too_many_connections");
	CHECK(P != NULL);
	if (P == NULL) {
		printf("# %s %s\n", err.path, err.message);
		end();
		return;
	}
	new_table(P);
	CHECK(table != NULL && (ac_needs(P, &r1) & AC_NEEDS_ENTRIES));
	for (k = 0; k < 2; k++) {
		a = local(P, &r1, NOW);
		CHECK(a->action == AC_ALLOW && a->lease_len == 2 + 16);
		memcpy(lease[k], a->lease, a->lease_len);
		lease_len[k] = a->lease_len;
	}
	a = local(P, &r1, NOW);
	CHECK(a->action == AC_RESPOND && a->status == 429 &&
	    a->reason == AC_TOO_MANY_CONNECTIONS && a->lease_len == 0 &&
	    a->n_writes == 0 && a->audit_len > 0 &&
	    strstr(a->audit, "\"too_many_connections\"") != NULL);
	/* a path no cap covers: no lease, no store */
	a = local(P, &other, NOW);
	CHECK(a->action == AC_ALLOW && a->lease_len == 0 && a->n_writes == 0);
	/* another client: its own cap has room, the global one has 1 */
	a = local(P, &r2, NOW);
	CHECK(a->action == AC_ALLOW && a->lease_len == 18);
	memcpy(lease[2], a->lease, a->lease_len);
	lease_len[2] = a->lease_len;
	a = local(P, &r2, NOW);
	CHECK(a->status == 429 && a->reason == AC_TOO_MANY_CONNECTIONS);
	{
		char json[4096];
		size_t n = ac_decision_json(dec, json, sizeof json);
		a = local(P, &r1, NOW - 1);
		n = ac_decision_json(dec, json, sizeof json);
		CHECK(n > 0 && strstr(json, "\"lease\"") == NULL);
	}
	end();

	begin("connection caps: a release frees the counters, through the store protocol");
	memset(d2, 0, ac_sizeof_decision());
	CHECK(ac_release_begin(P, lease[0], lease_len[0], NOW, d2) == AC_PENDING);
	a = ac_decision_answer(d2);
	CHECK(a->wait == AC_WAIT_STORE && a->n_reads == 2);
	ac_table_settle(P, NULL, table, NULL, NOW, NULL, 0, d2);
	CHECK(a->action == AC_ALLOW && a->reason == AC_OK && a->n_writes == 2 &&
	    a->audit_len == 0 && a->n_resp_headers == 0 && a->lease_len == 0);
	/* client 1 has room again (1 of 2), and so has the total (2 of 3) */
	a = local(P, &r1, NOW);
	CHECK(a->action == AC_ALLOW && a->lease_len == 18);
	{
		char json[4096];
		size_t n = ac_decision_json(dec, json, sizeof json);
		/* 'l': counted in the host's own store, 2 counters */
		CHECK(n > 0 && strstr(json, "\"lease\":\"6c02") != NULL);
	}
	memcpy(lease[3], a->lease, a->lease_len);
	lease_len[3] = a->lease_len;
	a = local(P, &r1, NOW);
	CHECK(a->status == 429);
	/* every lease released: every counter back to 0, the groups as
	 * if absent */
	for (k = 1; k < 4; k++) {
		released(P, lease[k], lease_len[k], d2);
		CHECK(ac_decision_answer(d2)->action == AC_ALLOW &&
		    ac_decision_answer(d2)->reason == AC_OK);
	}
	{
		const uint64_t *w = table_mem;
		size_t i, live = 0;
		for (i = 8; i < ac_table_size(P) / 8; i++)
			live += w[i] != 0;
		CHECK(live == 0);
	}
	/* releasing twice never goes below 0 */
	released(P, lease[1], lease_len[1], d2);
	CHECK(ac_decision_answer(d2)->action == AC_ALLOW &&
	    ac_decision_answer(d2)->n_writes == 0);
	end();

	begin("connection caps: a lost release write is read again; bad leases are refused");
	a = local(P, &r1, NOW);
	memcpy(lease[0], a->lease, a->lease_len);
	lease_len[0] = a->lease_len;
	memset(d2, 0, ac_sizeof_decision());
	(void)ac_release_begin(P, lease[0], lease_len[0], NOW, d2);
	a = ac_decision_answer(d2);
	CHECK(supply_all(d2) == 0);
	ac_decide_finish(P, NULL, NULL, NOW, NULL, 0, d2);
	CHECK(a->action == AC_ALLOW && a->n_writes == 2);
	/* another stream takes a counter meanwhile: the release's write is
	 * lost; the core reads again and releases on top of it */
	CHECK(local(P, &r1, NOW)->action == AC_ALLOW);
	CHECK(apply_writes(a) == 1);
	ac_decide_store_lost(P, NULL, NULL, NOW, NULL, 0, d2);
	CHECK(a->action == AC_PENDING && a->wait == AC_WAIT_STORE);
	ac_table_settle(P, NULL, table, NULL, NOW, NULL, 0, d2);
	CHECK(a->action == AC_ALLOW && a->reason == AC_OK);
	/* one stream of client 1 left: one more fits, then the cap */
	CHECK(local(P, &r1, NOW)->action == AC_ALLOW);
	CHECK(local(P, &r1, NOW)->status == 429);
	memset(d2, 0, ac_sizeof_decision());
	CHECK(ac_release_begin(P, lease[0], 5, NOW, d2) == AC_RESPOND);
	CHECK(a->reason == AC_INVALID_REQUEST && a->n_reads == 0);
	lease[0][2] ^= 0x7f; /* a group outside the caps' range */
	lease[0][5] ^= 0x7f;
	CHECK(ac_release_begin(P, lease[0], lease_len[0], NOW, d2) ==
	    AC_RESPOND);
	/* a store error: the release gives up, saying why */
	CHECK(ac_release_begin(P, lease[1], lease_len[1], NOW, d2) ==
	    AC_PENDING);
	ac_decide_store_error(P, NULL, NULL, NOW, NULL, 0, d2);
	CHECK(a->action == AC_ALLOW && a->reason == AC_STORE_UNAVAILABLE &&
	    a->n_writes == 0);
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
	test_table();
	test_protocol();
	test_stage();
	test_password_then_store();
	test_counted_before_check();
	test_caps();
#ifdef AC_TEST_COUNT_HEAP
	/* the test's own callocs only: the core made none */
	begin("store: the core made no heap call");
	CHECK(heap_calls == 2);
	end();
#endif
	free(dec);
	free(d2);
	return failures ? 1 : 0;
}
