/*
 * libFuzzer target: what a Redis server (or anything on its port) sends
 * back for the shared store's commands (core/ac_redis.c): any bytes as the
 * RESP reply of each step of a decision, or any strings as the items of a
 * reads reply, under a policy whose limits deny when the store fails.
 *
 * Input: byte 0 picks the form (bit 0: items, else raw RESP bytes); the
 * rest is the replies of the steps, in order: for items, lines (split at
 * '\n') of items split at ' '; for RESP, each a length byte and that many
 * bytes.
 *
 * Properties: no heap call, no crash; every step is one command of the
 * answer's shape, and a decision ends within 8 steps; a reads reply whose
 * items are not, by an independent reading, 2 per read of (a decimal
 * version 1..19 digits with a value of 128 lowercase hex digits, or both
 * empty) is a failed store, and a request whose every step failed is never
 * allowed (on_store_error "deny": 503); a final answer names no command;
 * every final decision passes fz_check_decision.
 */
#include <stdio.h>
#include <string.h>

#include "fz.h"

static uint8_t pmem[1 << 18];
static const ac_policy *pol;
static uint64_t dmem[(1u << 17) / 8];
static uint64_t smem[(1u << 17) / 8];
static ac_redis_cmd cmd;
static ac_request req;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const char js[] =
	    "{\"jwt\":{\"keys\":[{\"kid\":\"k\",\"alg\":\"HS256\",\"secret\":"
	    "\"at-least-32-bytes-of-secret-material\"}]},\"public\":[\"/*\"],"
	    "\"rate_limits\":{\"limits\":[{\"key\":\"client\",\"limit\":\"3/minute;100/hour\"},"
	    "{\"key\":\"header:x-tenant\",\"limit\":\"5/second\"}],\"on_store_error\":\"deny\"},"
	    "\"store\":{\"redis\":{\"prefix\":\"fz:\"},\"secret\":"
	    "\"fuzz-redis-placement-secret-0123456789\"}}";
	static ac_header h;
	ac_policy_error err;
	size_t used;
	uint8_t seed[AC_STATE_SECRET_LEN];

	(void)argc;
	(void)argv;
	fz_init("fuzz_redis");
	pol = ac_policy_load(pmem, sizeof pmem, js, sizeof js - 1, &used, &err);
	memset(seed, 3, sizeof seed);
	if (pol == NULL || ac_state_init((ac_state *)(void *)smem, seed,
	    sizeof seed) != 0 || ac_sizeof_decision() > sizeof dmem)
		fz_die("setup");
	fz_hdr(&h, "x-tenant", "t1", 2);
	fz_request(&req, "GET", 3, "/x", 2, &h, 1);
	return 0;
}

/* The independent reading of a reads reply's items. */
static int entry_ok(ac_str ver, ac_str val)
{
	size_t i;
	int zero = 1;

	if (ver.len == 0)
		return val.len == 0;
	if (ver.len > 19 || val.len != 128)
		return 0;
	for (i = 0; i < ver.len; i++) {
		if (ver.ptr[i] < '0' || ver.ptr[i] > '9')
			return 0;
		zero &= ver.ptr[i] == '0';
	}
	for (i = 0; i < val.len; i++)
		if (!((val.ptr[i] >= '0' && val.ptr[i] <= '9') ||
		    (val.ptr[i] >= 'a' && val.ptr[i] <= 'f')))
			return 0;
	return !zero;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	ac_decision *d = (ac_decision *)(void *)dmem;
	ac_state *S = (ac_state *)(void *)smem;
	const ac_answer *a;
	ac_str parts[16];
	size_t n, step = 0;
	int items, failed_all = 1;
	char *copy;

	if (size < 1)
		return 0;
	items = data[0] & 1;
	copy = fz_copy(data + 1, size - 1);
	if (items) {
		n = fz_lines(copy, size - 1, parts, 16);
	} else {
		size_t at = 0;
		for (n = 0; n < 16 && at < size - 1; n++) {
			size_t len = (uint8_t)copy[at++];
			if (len > size - 1 - at)
				len = size - 1 - at;
			parts[n].ptr = copy + at;
			parts[n].len = len;
			at += len;
		}
	}
	memset(dmem, 0, sizeof dmem);
	fz_begin();
	(void)ac_decide_begin(pol, S, &req, FZ_NOW, NULL, 0, d);
	a = ac_decision_answer(d);
	while (ac_redis_command(pol, d, &cmd)) {
		ac_str p = step < n ? parts[step] : (ac_str){ "", 0 };
		int kind = cmd.kind;

		if (++step > 8)
			fz_die("more than 8 store steps");
		if (cmd.argc < 4 || cmd.argv[0].len != 4 ||
		    memcmp(cmd.argv[0].ptr, "EVAL", 4) != 0 ||
		    (kind == AC_REDIS_READS) != (a->action == AC_PENDING &&
		    a->wait == AC_WAIT_STORE && a->n_writes == 0) ||
		    cmd.argc != 3 + cmd.n * (kind == AC_REDIS_WRITES ? 4 : 1))
			fz_die("a command of the wrong shape");
		if (items && kind == AC_REDIS_READS) {
			/* the line split at ' ' into the items */
			ac_str it[2 * AC_STORE_OPS_MAX];
			size_t k = 0, s = 0, i;
			int valid;

			for (i = 0; i <= p.len && k < 2 * AC_STORE_OPS_MAX; i++)
				if (i == p.len || p.ptr[i] == ' ') {
					it[k].ptr = p.ptr + s;
					it[k++].len = i - s;
					s = i + 1;
				}
			valid = k == 2 * cmd.n;
			for (i = 0; valid && i < cmd.n; i++)
				valid = entry_ok(it[2 * i], it[2 * i + 1]);
			ac_redis_reply(pol, S, &req, FZ_NOW, NULL, 0, d, &cmd, 0,
			    it, k, 0);
			if (!valid && (a->store_shared || a->action == AC_ALLOW))
				fz_die("a bad reads reply was taken");
			if (valid)
				failed_all = 0;
		} else {
			long r = ac_redis_reply_resp(pol, S, &req, FZ_NOW,
			    NULL, 0, d, &cmd, (const uint8_t *)p.ptr, p.len);
			if (r > (long)p.len)
				fz_die("a reply longer than its bytes");
			if (r == 0) /* more bytes never come: the timeout */
				ac_redis_reply(pol, S, &req, FZ_NOW, NULL, 0, d,
				    &cmd, 1, NULL, 0, 0);
			if (r > 0 && d->store.failed == AC_OK)
				failed_all = 0;
		}
	}
	fz_end("decision with redis replies");
	if (a->action == AC_PENDING || a->store_shared)
		fz_die("a decision left waiting with no command");
	if (failed_all && a->action == AC_ALLOW)
		fz_die("allowed though every store step failed");
	fz_check_decision(d);
	fz_free(copy);
	return 0;
}
