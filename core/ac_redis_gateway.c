/*
 * The shared store through an HTTP gateway (core/authcore_redis.h): for a
 * host with no Redis client, a store step due for Redis is answered as a
 * fetch to the webdis the policy names, carrying the same command, and
 * the gateway's raw reply goes back to the store protocol.
 *
 * webdis takes a command as the path "/COMMAND/arg/.../arg.ext" of a GET
 * (or as a POST's body): it splits the arguments at '/', decodes %XX in
 * each (and '+' as a space, so '+' is encoded too), and reads the part
 * after the last '.' as the reply format; ".raw" is Redis's own protocol.
 * Every byte but A-Z a-z 0-9 - _ ~ is encoded, so any argument goes
 * through unchanged. Redis down: webdis answers 503. A GET, not a POST:
 * a request of headers alone leaves in one segment, where a POST's body
 * sent apart from its headers can wait for a delayed ACK (40 ms on
 * Linux; measured through Envoy).
 */
#include "ac_decision_int.h"
#include "authcore_redis.h"

static int unreserved(unsigned char ch)
{
	return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
	    (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' || ch == '~';
}

size_t ac_redis_gateway_body(const ac_redis_cmd *cmd, char *out, size_t cap)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0, i, k;

	if (cmd == NULL || cmd->argc == 0)
		return 0;
	for (i = 0; i < cmd->argc; i++) {
		const unsigned char *p =
		    (const unsigned char *)cmd->argv[i].ptr;

		if (i > 0) {
			if (o == cap)
				return 0;
			out[o++] = '/';
		}
		for (k = 0; k < cmd->argv[i].len; k++) {
			if (unreserved(p[k])) {
				if (o == cap)
					return 0;
				out[o++] = (char)p[k];
				continue;
			}
			if (cap - o < 3)
				return 0;
			out[o++] = '%';
			out[o++] = hex[p[k] >> 4];
			out[o++] = hex[p[k] & 15];
		}
	}
	if (cap - o < 4)
		return 0;
	memcpy(out + o, ".raw", 4);
	return o + 4;
}

void ac_decision_redis_via_fetch(ac_decision *d, int on)
{
	if (d != NULL)
		d->gw.on = on != 0;
}

/* The answer d stands for, from a store step sent as a fetch. */
void ac_gateway_restore(ac_decision *d)
{
	ac_gateway_io *g = &d->gw;

	if (!g->pending)
		return;
	g->pending = 0;
	d->a.action = g->action;
	d->a.status = g->status;
	d->a.reason = g->reason;
	d->a.wait = g->wait;
	d->a.n_reads = g->n_reads;
	d->a.n_writes = g->n_writes;
	memset(&d->a.fetch, 0, sizeof d->a.fetch);
}

void ac_gateway_gate(const ac_policy *P, ac_decision *d)
{
	ac_gateway_io *g = &d->gw;
	ac_redis_cmd cmd;
	ac_fetch *f = &d->a.fetch;
	size_t len;

	if (!g->on || g->pending || P == NULL || P->redis_gateway.len == 0 ||
	    !ac_redis_command(P, d, &cmd))
		return;
	/* the target: "/" and the command */
	g->buf[0] = '/';
	len = ac_redis_gateway_body(&cmd, g->buf + 1, sizeof g->buf - 1);
	if (len == 0) /* cannot be: the buffer holds any command */
		return;
	g->len = ++len;
	g->pending = 1;
	g->done = g->ok = 0;
	g->action = d->a.action;
	g->status = d->a.status;
	g->reason = d->a.reason;
	g->wait = d->a.wait;
	g->n_reads = d->a.n_reads;
	g->n_writes = d->a.n_writes;
	/* the host sees the fetch alone; store_shared stays 1 */
	d->a.action = AC_PENDING;
	d->a.status = 0;
	d->a.reason = AC_PENDING_REASON;
	d->a.wait = AC_WAIT_FETCH;
	d->a.n_reads = 0;
	d->a.n_writes = 0;
	memset(f, 0, sizeof *f);
	f->url = P->redis_gateway;
	f->authority = P->redis_gateway_auth;
	f->target.ptr = g->buf;
	f->target.len = len;
	f->method.ptr = "GET";
	f->method.len = 3;
	f->max_bytes = AC_REDIS_GATEWAY_REPLY_MAX;
	f->timeout_ms = P->redis_timeout_ms;
	f->shareable = 0;
}

int ac_gateway_fetched(ac_decision *d, int status, const void *body,
    size_t len)
{
	ac_gateway_io *g = &d->gw;

	if (g->done)
		return -1;
	g->done = 1;
	g->ok = 0;
	g->len = 0;
	if (status != 200 || body == NULL || len == 0 ||
	    len > AC_REDIS_GATEWAY_REPLY_MAX)
		return -1;
	/* the command is sent: its buffer keeps the reply */
	memcpy(g->buf, body, len);
	g->len = len;
	g->ok = 1;
	return 0;
}

int ac_gateway_resolve(const ac_policy *P, ac_state *S,
    const ac_request *req, int64_t now, const uint8_t *entropy,
    size_t entropy_len, ac_decision *d)
{
	ac_gateway_io *g = &d->gw;
	ac_redis_cmd cmd;
	long used = 0;

	if (!g->pending)
		return 0;
	ac_gateway_restore(d);
	if (!ac_redis_command(P, d, &cmd)) {
		/* cannot be: the answer it stands for named the command */
		ac_decide_store_error(P, S, req, now, entropy, entropy_len, d);
		return 1;
	}
	/* a reply handed over (used > 0), or one of the wrong shape handed
	 * over as a failed store (used < 0); the step after it may already
	 * be a new fetch in g */
	if (g->done && g->ok)
		used = ac_redis_reply_resp(P, S, req, now, entropy,
		    entropy_len, d, &cmd, (const uint8_t *)g->buf, g->len);
	if (used == 0)
		/* no answer (any status but 200, none at all, the host never
		 * fetched), or a body cut short: a failed store */
		ac_redis_reply(P, S, req, now, entropy, entropy_len, d, &cmd,
		    1, NULL, 0, 0);
	return 1;
}
