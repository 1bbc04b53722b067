/*
 * The shared store on Redis (core/authcore_redis.h): a decision's store
 * step as one EVAL, and Redis's reply handed back to the store protocol.
 *
 * Entry <key> is the hash <prefix><key>: n, its version (a counter from
 * 1; absent: 0), and v, its 64 bytes as 128 lowercase hex digits (text,
 * so any client and an HTTP gateway carry it unchanged). Lua keeps each
 * compare-and-set and its expiry atomic.
 */
#include "ac_decision_int.h"
#include "authcore_redis.h"

/* KEYS: the entries. Reply: per key its version ("" absent) and value. */
static const char READS[] =
    "local r={} for i=1,#KEYS do "
    "local v=redis.call('HMGET',KEYS[i],'n','v') "
    "r[2*i-1]=v[1] or '' r[2*i]=v[2] or '' end return r";

/* KEYS: the entries; ARGV: per key the version expected ("0": absent),
 * the value, the expiry (unix seconds; "0": none). Applies them in order
 * up to the first whose version moved; reply: how many were applied. */
static const char WRITES[] =
    "for i=1,#KEYS do local b=3*i-3 "
    "local n=redis.call('HGET',KEYS[i],'n') or '0' "
    "if n~=ARGV[b+1] then return i-1 end "
    "redis.call('HSET',KEYS[i],'n',tostring(tonumber(n)+1),'v',ARGV[b+2]) "
    "if ARGV[b+3]~='0' then redis.call('EXPIREAT',KEYS[i],ARGV[b+3]) end "
    "end return #KEYS";

int ac_policy_redis(const ac_policy *P, ac_redis_config *cfg)
{
	if (P == NULL || !P->store_redis)
		return 0;
	cfg->host = P->redis_host;
	cfg->port = P->redis_port;
	cfg->timeout_ms = P->redis_timeout_ms;
	cfg->pool = P->redis_pool;
	cfg->password = P->redis_password;
	cfg->gateway = P->redis_gateway;
	cfg->releases = P->conn_groups > 0;
	return 1;
}

/* ---- building a command */
typedef struct {
	ac_redis_cmd *c;
	size_t used;
	int full;
} builder;

static void arg(builder *b, const char *p, size_t n)
{
	ac_redis_cmd *c = b->c;

	if (c->argc == AC_REDIS_ARGC_MAX || n > sizeof c->buf - b->used) {
		b->full = 1;
		return;
	}
	memcpy(c->buf + b->used, p, n);
	c->argv[c->argc].ptr = c->buf + b->used;
	c->argv[c->argc].len = n;
	c->argc++;
	b->used += n;
}

static size_t dec(uint64_t v, char out[20])
{
	char t[20];
	size_t n = 0, k = 0;

	do {
		t[k++] = (char)('0' + v % 10);
		v /= 10;
	} while (v > 0);
	while (k > 0)
		out[n++] = t[--k];
	return n;
}

static void arg_num(builder *b, uint64_t v)
{
	char t[20];
	arg(b, t, dec(v, t));
}

static void arg_key(builder *b, const ac_policy *P, ac_str key)
{
	char k[64 + AC_STORE_KEY_MAX];

	memcpy(k, P->redis_prefix.ptr, P->redis_prefix.len);
	memcpy(k + P->redis_prefix.len, key.ptr, key.len);
	arg(b, k, P->redis_prefix.len + key.len);
}

int ac_redis_command(const ac_policy *P, const ac_decision *d,
    ac_redis_cmd *cmd)
{
	const ac_answer *a = &d->a;
	builder b = { cmd, 0, 0 };
	const ac_store_op *ops;
	size_t n, i;

	if (P == NULL || !P->store_redis || !a->store_shared)
		return 0;
	if (a->n_writes > 0) {
		cmd->kind = AC_REDIS_WRITES;
		ops = a->writes;
		n = a->n_writes;
	} else if (a->action == AC_PENDING && a->wait == AC_WAIT_STORE &&
	    a->n_reads > 0) {
		cmd->kind = AC_REDIS_READS;
		ops = a->reads;
		n = a->n_reads;
	} else {
		return 0;
	}
	cmd->argc = 0;
	cmd->n = n;
	arg(&b, "EVAL", 4);
	if (cmd->kind == AC_REDIS_READS)
		arg(&b, READS, sizeof READS - 1);
	else
		arg(&b, WRITES, sizeof WRITES - 1);
	arg_num(&b, n);
	for (i = 0; i < n; i++)
		arg_key(&b, P, ops[i].key);
	for (i = 0; cmd->kind == AC_REDIS_WRITES && i < n; i++) {
		static const char hex[] = "0123456789abcdef";
		char v[2 * AC_STORE_VALUE_MAX];
		size_t k;

		arg_num(&b, ops[i].version);
		for (k = 0; k < ops[i].len && k < AC_STORE_VALUE_MAX; k++) {
			v[2 * k] = hex[ops[i].value[k] >> 4];
			v[2 * k + 1] = hex[ops[i].value[k] & 15];
		}
		arg(&b, v, 2 * k);
		arg_num(&b, ops[i].expires > 0 ? (uint64_t)ops[i].expires : 0);
	}
	/* cannot be: the buffer holds AC_STORE_OPS_MAX writes */
	return !b.full;
}

/* ---- the reply */
static int hexval(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	return -1;
}

/* One read's pair: *len 0 for an absent entry. -1 if malformed. */
static int parse_entry(ac_str ver, ac_str val, uint8_t out[AC_STORE_VALUE_MAX],
    size_t *len, uint64_t *version)
{
	uint64_t v = 0;
	size_t i;

	*len = 0;
	*version = 0;
	if (ver.ptr == NULL || ver.len == 0) /* absent (or dropped) */
		return val.ptr == NULL || val.len == 0 ? 0 : -1;
	if (ver.len > 19 || val.ptr == NULL ||
	    val.len != 2 * AC_STORE_VALUE_MAX)
		return -1;
	for (i = 0; i < ver.len; i++) {
		if (ver.ptr[i] < '0' || ver.ptr[i] > '9')
			return -1;
		v = v * 10 + (uint64_t)(ver.ptr[i] - '0');
	}
	if (v == 0)
		return -1;
	for (i = 0; i < AC_STORE_VALUE_MAX; i++) {
		int hi = hexval(val.ptr[2 * i]), lo = hexval(val.ptr[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	*len = AC_STORE_VALUE_MAX;
	*version = v;
	return 0;
}

void ac_redis_reply(const ac_policy *P, ac_state *S, const ac_request *req,
    int64_t now, const uint8_t *entropy, size_t entropy_len, ac_decision *d,
    const ac_redis_cmd *cmd, int error, const ac_str *items, size_t n,
    long long applied)
{
	size_t i;

	if (!d->a.store_shared) /* no command was due */
		return;
	if (!error && cmd->kind == AC_REDIS_WRITES &&
	    d->a.n_writes == cmd->n) {
		if (applied < 0 || (unsigned long long)applied > cmd->n) {
			error = 1;
		} else if ((size_t)applied < cmd->n) {
			ac_decide_store_lost(P, S, req, now, entropy,
			    entropy_len, d);
			return;
		} else {
			/* stored: the answer stands */
			d->a.n_writes = 0;
			d->a.store_shared = 0;
			return;
		}
	} else if (!error && cmd->kind == AC_REDIS_READS &&
	    d->a.n_writes == 0 && d->a.action == AC_PENDING &&
	    d->a.wait == AC_WAIT_STORE && d->a.n_reads == cmd->n &&
	    items != NULL && n == 2 * cmd->n) {
		for (i = 0; i < cmd->n && !error; i++) {
			uint8_t v[AC_STORE_VALUE_MAX];
			size_t len;
			uint64_t ver;

			error = parse_entry(items[2 * i], items[2 * i + 1], v,
			    &len, &ver) < 0 ||
			    ac_decide_supply(d, i, v, len, ver) < 0;
		}
		if (!error) {
			ac_decide_finish(P, S, req, now, entropy, entropy_len,
			    d);
			return;
		}
	} else {
		error = 1;
	}
	ac_decide_store_error(P, S, req, now, entropy, entropy_len, d);
}

/* ---- RESP */
/* A line's end ("\r\n") from p; the length before it, or -1 if not yet
 * there (or too long to be a length line). */
static long line_len(const uint8_t *p, size_t len)
{
	size_t i;

	for (i = 0; i + 1 < len && i < 24; i++)
		if (p[i] == '\r')
			return p[i + 1] == '\n' ? (long)i : -2;
	return i >= 24 ? -2 : -1;
}

/* An integer after the type byte: -1 more bytes needed, -2 malformed. */
static long long num(const uint8_t *p, size_t len, size_t *used)
{
	long l = line_len(p, len);
	long long v = 0;
	int neg = 0;
	long i = 0;

	if (l < 0)
		return l == -1 ? -1 : -2;
	if (l > 0 && p[0] == '-') {
		neg = 1;
		i = 1;
	}
	if (i == l)
		return -2;
	for (; i < l; i++) {
		if (p[i] < '0' || p[i] > '9' || v > 99999999999999LL)
			return -2;
		v = v * 10 + (p[i] - '0');
	}
	*used = (size_t)l + 2;
	return neg ? (v == 1 ? -3 : -2) : v; /* -3: a nil (-1) */
}

long ac_redis_reply_resp(const ac_policy *P, ac_state *S,
    const ac_request *req, int64_t now, const uint8_t *entropy,
    size_t entropy_len, ac_decision *d, const ac_redis_cmd *cmd,
    const uint8_t *bytes, size_t len)
{
	ac_str items[2 * AC_STORE_OPS_MAX];
	size_t at = 1, used, k;
	long long v, count;

	if (len == 0)
		return 0;
	if (bytes[0] == ':' && cmd->kind == AC_REDIS_WRITES) {
		v = num(bytes + 1, len - 1, &used);
		if (v == -1)
			return 0;
		if (v < 0)
			goto bad;
		ac_redis_reply(P, S, req, now, entropy, entropy_len, d, cmd,
		    0, NULL, 0, v);
		return (long)(1 + used);
	}
	if (bytes[0] == '*' && cmd->kind == AC_REDIS_READS) {
		count = num(bytes + 1, len - 1, &used);
		if (count == -1)
			return 0;
		if (count < 0 || count != (long long)(2 * cmd->n))
			goto bad;
		at += used;
		for (k = 0; k < (size_t)count; k++) {
			if (at >= len)
				return 0;
			if (bytes[at] != '$')
				goto bad;
			v = num(bytes + at + 1, len - at - 1, &used);
			if (v == -1)
				return 0;
			at += 1 + used;
			if (v == -3) {
				items[k].ptr = NULL;
				items[k].len = 0;
				continue;
			}
			if (v < 0 || v > 2 * AC_STORE_VALUE_MAX)
				goto bad;
			if (len - at < (size_t)v + 2)
				return 0;
			if (bytes[at + (size_t)v] != '\r' ||
			    bytes[at + (size_t)v + 1] != '\n')
				goto bad;
			items[k].ptr = (const char *)bytes + at;
			items[k].len = (size_t)v;
			at += (size_t)v + 2;
		}
		ac_redis_reply(P, S, req, now, entropy, entropy_len, d, cmd,
		    0, items, (size_t)count, 0);
		return (long)at;
	}
	if (bytes[0] == '-' || bytes[0] == ':' || bytes[0] == '*' ||
	    bytes[0] == '$' || bytes[0] == '+') {
		/* an error reply, or another shape: a failed store once the
		 * line is whole (its rest is not read) */
		if (line_len(bytes + 1, len - 1) == -1)
			return 0;
	}
bad:
	ac_redis_reply(P, S, req, now, entropy, entropy_len, d, cmd, 1, NULL,
	    0, 0);
	return -1;
}

int ac_redis_auth(const ac_policy *P, ac_redis_cmd *cmd)
{
	builder b = { cmd, 0, 0 };

	if (P == NULL || !P->store_redis || P->redis_password.len == 0)
		return 0;
	cmd->argc = 0;
	cmd->kind = 0;
	cmd->n = 0;
	arg(&b, "AUTH", 4);
	arg(&b, P->redis_password.ptr, P->redis_password.len);
	return !b.full;
}

size_t ac_redis_encode(const ac_redis_cmd *cmd, uint8_t *out, size_t cap)
{
	size_t o = 0, i;
	char t[20];
	size_t n;

#define PUT(p, l) do { if ((l) > cap - o) return 0; \
	memcpy(out + o, (p), (l)); o += (l); } while (0)
	PUT("*", 1);
	n = dec(cmd->argc, t);
	PUT(t, n);
	PUT("\r\n", 2);
	for (i = 0; i < cmd->argc; i++) {
		PUT("$", 1);
		n = dec(cmd->argv[i].len, t);
		PUT(t, n);
		PUT("\r\n", 2);
		PUT(cmd->argv[i].ptr, cmd->argv[i].len);
		PUT("\r\n", 2);
	}
#undef PUT
	return o;
}
