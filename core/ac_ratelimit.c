/*
 * Rate limits: the two stages that apply "rate_limits" (in the stage table
 * of core/ac_decide.c) over the store protocol (core/authcore_store.h).
 *
 * Limits keyed on the client (or a header) run right after the request is
 * read, before the login endpoints and identification, so a client over
 * its limit never reaches a password check or a signature. Limits keyed on
 * the identity (user, api_key, role) run once the caller is identified.
 * Each applies every limit whose methods and path match the request (the
 * default only when no listed limit matches); each window of a limit is a
 * GCRA bucket (core/ac_bucket.c) named by the limit, the window and the
 * key's value, kept in a 64-byte group of 8 buckets: the store key
 * "g<index>". A stage that lacks a group answers AC_PENDING on store
 * reads; with every group supplied, it counts the request in all its
 * buckets or, if any window is full, in none, and answers 429.
 */
#include "ac_ratelimit.h"
#include "ac_reply.h"
#include "ac_state_int.h"

/* One bucket a stage counts the request in. */
typedef struct {
	size_t ent;            /* its group: d->store.e[ent] */
	uint32_t tag;
	const ac_rate_limit *R;
	size_t w;              /* the window: R->windows[w] */
	ac_gcra_result res;
} bucket;

static int method_ok(const ac_rate_limit *R, ac_str m)
{
	size_t k;
	if (R->n_methods == 0)
		return 1;
	for (k = 0; k < R->n_methods; k++)
		if (ac_str_eq(R->methods[k], m.ptr, m.len) ||
		    (ac_str_eq(m, "HEAD", 4) &&
		    ac_str_eq(R->methods[k], "GET", 3)))
			return 1;
	return 0;
}

int ac_rl_applies(const ac_rate_limit *R, const ac_ctx *c)
{
	ac_str m = c->d->a.match;
	return method_ok(R, c->req.method) && (R->path.ptr == NULL ||
	    ac_wild_match(R->path.ptr, R->path.len, m.ptr, m.len));
}

/* The first value of header `name`, trimmed; ptr NULL if absent. */
static ac_str header_value(const ac_request *req, ac_str name)
{
	ac_str none = { NULL, 0 };
	size_t i;
	for (i = 0; i < req->n_headers; i++) {
		const ac_header *h = &req->headers[i];
		if (ac_ascii_ieq(h->name.ptr, h->name.len, name.ptr, name.len))
			return ac_trim_ows(h->value.ptr, h->value.len);
	}
	return none;
}

ac_str ac_rl_key_value(const ac_rate_limit *R, const ac_ctx *c,
    uint8_t net[9])
{
	ac_str none = { NULL, 0 };
	switch (R->key) {
	case 'C': {
		/* a request without an address shares the bucket of "" */
		ac_str v = ac_client_net(c->d->a.client, net);
		if (v.ptr == NULL)
			v.ptr = "";
		return v;
	}
	case 'H':
		return header_value(&c->req, R->header);
	case 'U':
		return c->id.user.len ? c->id.user : none;
	case 'K':
		return ac_str_eq(c->d->a.auth_method, "api_key", 7) &&
		    c->id.user.len ? c->id.user : none;
	case 'R':
		return c->id.n_roles ? c->id.roles[0] : none;
	case 'G': {
		/* one counter for every request (a connection cap) */
		ac_str all = { "", 0 };
		return all;
	}
	default:
		return none;
	}
}

static int identity_key(int k)
{
	return k == 'U' || k == 'K' || k == 'R';
}

int ac_store_entry(ac_decision *d, uint32_t g)
{
	char key[AC_STORE_KEY_MAX];
	size_t n = ac_store_key(g, key), i;
	ac_store_ent *e;

	for (i = 0; i < d->store.n; i++)
		if (d->store.e[i].key_len == n &&
		    memcmp(d->store.e[i].key, key, n) == 0)
			return (int)i;
	if (d->store.n == AC_STORE_OPS_MAX)
		return -1;
	e = &d->store.e[d->store.n];
	memset(e, 0, sizeof *e);
	memcpy(e->key, key, n);
	e->key_len = n;
	return (int)d->store.n++;
}

const uint8_t *ac_store_place_key(const ac_policy *P, const ac_state *S)
{
	return P->store_redis ? P->place_key : ac_state_bucket_key(S);
}

size_t ac_store_key(uint32_t g, char key[AC_STORE_KEY_MAX])
{
	char dig[10];
	size_t n = 0, k = 0;

	do {
		dig[k++] = (char)('0' + g % 10);
		g /= 10;
	} while (g > 0);
	key[n++] = 'g';
	while (k > 0)
		key[n++] = dig[--k];
	return n;
}

/* The RateLimit-Policy identifier of window w of R. */
static void put_id(ac_decision *d, const ac_rate_limit *R, size_t w)
{
	char num[12];
	size_t k = 0;
	uint32_t p = R->windows[w].period;

	ac_reply_lit(d, "\"");
	ac_reply_put(d, R->name.ptr, R->name.len);
	if (R->n_windows > 1) {
		do {
			num[k++] = (char)('0' + p % 10);
			p /= 10;
		} while (p > 0);
		ac_reply_lit(d, "-");
		while (k > 0)
			ac_reply_put(d, &num[--k], 1);
	}
	ac_reply_lit(d, "\"");
}

static void put_u64(ac_decision *d, uint64_t v)
{
	char num[24];
	size_t k = 0;
	do {
		num[k++] = (char)('0' + v % 10);
		v /= 10;
	} while (v > 0);
	while (k > 0)
		ac_reply_put(d, &num[--k], 1);
}

/* RateLimit-Policy and RateLimit (draft-ietf-httpapi-ratelimit-headers-11:
 * Structured Field lists, one item per window: q quota, w window seconds;
 * r remaining, t seconds until the bucket is as if unused). */
static void rl_headers(ac_decision *d, const bucket *b, size_t n)
{
	size_t i, start = d->buf_len;

	for (i = 0; i < n; i++) {
		const ac_window *W = &b[i].R->windows[b[i].w];
		if (i)
			ac_reply_lit(d, ", ");
		put_id(d, b[i].R, b[i].w);
		ac_reply_lit(d, ";q=");
		put_u64(d, W->count);
		ac_reply_lit(d, ";w=");
		put_u64(d, W->period);
	}
	ac_reply_header(d, "ratelimit-policy", d->buf + start,
	    d->buf_len - start);
	start = d->buf_len;
	for (i = 0; i < n; i++) {
		if (i)
			ac_reply_lit(d, ", ");
		put_id(d, b[i].R, b[i].w);
		ac_reply_lit(d, ";r=");
		put_u64(d, b[i].res.remaining);
		ac_reply_lit(d, ";t=");
		put_u64(d, (b[i].res.reset_ms + 999) / 1000);
	}
	ac_reply_header(d, "ratelimit", d->buf + start, d->buf_len - start);
}

int ac_store_gate(ac_ctx *c)
{
	ac_decision *d = c->d;

	if (d->store.failed != AC_OK) {
		if (c->P->rl_fail_open)
			return AC_STAGE_NEXT;
		ac_reply_respond(d, 503, d->store.failed);
		ac_reply_retry_after(d, 1);
		return AC_STAGE_DONE;
	}
	if (!ac_state_ok(c->S)) {
		ac_reply_respond(d, 500, AC_NO_STATE);
		return AC_STAGE_DONE;
	}
	return -1;
}

int ac_store_place(ac_ctx *c, const char kind[4], size_t index, size_t w,
    const ac_rate_limit *R, ac_str v, uint32_t base, uint32_t n_groups,
    uint32_t *group, uint32_t *tag)
{
	uint8_t name[512];
	size_t len = v.len < 480 ? v.len : 480;
	uint32_t g;
	int e;

	/* kind ("rl1", "cc1") and 0, the window, the key kind, the value's
	 * length, the limit or cap, and (its first 480 bytes of) the value */
	memcpy(name, kind, 4);
	name[4] = (uint8_t)w;
	name[5] = (uint8_t)R->key;
	name[6] = (uint8_t)(v.len >> 8);
	name[7] = (uint8_t)v.len;
	name[8] = (uint8_t)index;
	memcpy(name + 9, v.ptr, len);
	ac_bucket_place(ac_store_place_key(c->P, c->S), name, 9 + len, n_groups,
	    &g, tag);
	*group = base + g;
	e = ac_store_entry(c->d, *group);
	if (e < 0) {
		ac_reply_respond(c->d, 503, AC_STORE_UNAVAILABLE);
		ac_reply_retry_after(c->d, 1);
	}
	return e;
}

int ac_store_ready(ac_ctx *c, int waiting)
{
	ac_decision *d = c->d;

	if (d->store.missing) {
		/* finished without an entry the host was asked for */
		ac_reply_respond(d, 503, AC_STORE_UNAVAILABLE);
		ac_reply_retry_after(d, 1);
		return AC_STAGE_DONE;
	}
	if (waiting) {
		d->a.action = AC_PENDING;
		d->a.wait = AC_WAIT_STORE;
		return AC_STAGE_DONE;
	}
	return AC_STAGE_NEXT;
}

/* The limits of one phase: identity 0 (client and header keys) or 1. */
static int run_limits(ac_ctx *c, int identity)
{
	const ac_policy *P = c->P;
	ac_decision *d = c->d;
	bucket b[AC_STORE_OPS_MAX];
	uint8_t scratch[AC_STORE_OPS_MAX][AC_GROUP_BYTES];
	int touched[AC_STORE_OPS_MAX];
	size_t nb = 0, i, w;
	int listed = 0, waiting = 0, refused = 0, r;
	uint64_t now, retry = 0;

	if (P->n_rate_limits == 0)
		return AC_STAGE_NEXT;
	if (!identity && d->store.client_counted)
		return AC_STAGE_NEXT; /* counted as the password check began */
	if ((r = ac_store_gate(c)) >= 0)
		return r;
	for (i = 0; i < P->n_rate_limits; i++)
		if (!P->rate_limits[i].is_default &&
		    ac_rl_applies(&P->rate_limits[i], c))
			listed = 1;
	for (i = 0; i < P->n_rate_limits; i++) {
		const ac_rate_limit *R = &P->rate_limits[i];
		uint8_t net[9];
		ac_str v;

		if (identity_key(R->key) != identity ||
		    (R->is_default ? listed : !ac_rl_applies(R, c)))
			continue;
		v = ac_rl_key_value(R, c, net);
		if (v.ptr == NULL)
			continue; /* no such header, no identity of that kind */
		for (w = 0; w < R->n_windows; w++) {
			uint32_t g, tag;
			int e = nb == AC_STORE_OPS_MAX ? -1 : ac_store_place(c,
			    "rl1", i, w, R, v, 0, P->rl_groups, &g, &tag);

			if (e < 0) {
				if (nb == AC_STORE_OPS_MAX) {
					ac_reply_respond(d, 503,
					    AC_STORE_UNAVAILABLE);
					ac_reply_retry_after(d, 1);
				}
				return AC_STAGE_DONE;
			}
			if (!d->store.e[e].supplied)
				waiting = 1;
			b[nb].ent = (size_t)e;
			b[nb].tag = tag;
			b[nb].R = R;
			b[nb].w = w;
			nb++;
		}
	}
	if (nb == 0)
		return AC_STAGE_NEXT;
	if ((r = ac_store_ready(c, waiting)) != AC_STAGE_NEXT)
		return r;
	/* count the request in every bucket, or (one is full) in none; the
	 * host's now may be anything: saturated, never overflowed */
	now = ac_bucket_time(c->now > INT64_MAX / 1000 ? INT64_MAX :
	    c->now < INT64_MIN / 1000 ? INT64_MIN : c->now * 1000);
	memset(touched, 0, sizeof touched);
	for (i = 0; i < nb; i++) {
		ac_store_ent *E = &d->store.e[b[i].ent];
		uint64_t tat;
		int evicted;
		size_t slot;

		if (!touched[b[i].ent]) {
			memcpy(scratch[b[i].ent], E->cur, AC_GROUP_BYTES);
			touched[b[i].ent] = 1;
		}
		slot = ac_group_find(scratch[b[i].ent], b[i].tag, now, &tat,
		    &evicted);
		ac_gcra(&tat, now, &b[i].R->windows[b[i].w], &b[i].res);
		if (!b[i].res.allowed) {
			refused = 1;
			if (b[i].res.retry_ms > retry)
				retry = b[i].res.retry_ms;
			continue;
		}
		ac_group_store(scratch[b[i].ent], slot, b[i].tag, tat);
	}
	if (refused) {
		/* nothing was counted: the windows that had room still have
		 * it, one interval sooner empty */
		for (i = 0; i < nb; i++) {
			uint64_t iv = ac_window_interval(&b[i].R->windows[b[i].w]);
			if (!b[i].res.allowed)
				continue;
			b[i].res.remaining++;
			b[i].res.reset_ms = b[i].res.reset_ms > iv ?
			    b[i].res.reset_ms - iv : 0;
		}
		ac_reply_respond(d, 429, AC_RATE_LIMITED);
		ac_reply_retry_after(d, (int64_t)((retry + 999) / 1000));
		rl_headers(d, b, nb);
		return AC_STAGE_DONE;
	}
	for (i = 0; i < AC_STORE_OPS_MAX; i++) {
		ac_store_ent *E = &d->store.e[i];
		if (!touched[i])
			continue;
		memcpy(E->cur, scratch[i], AC_GROUP_BYTES);
		E->changed = 1;
		E->expires = ac_group_expiry(E->cur);
	}
	if (P->rl_headers)
		rl_headers(d, b, nb);
	return AC_STAGE_NEXT;
}

int ac_stage_ratelimit_client(ac_ctx *c)
{
	return run_limits(c, 0);
}

int ac_stage_ratelimit_identity(ac_ctx *c)
{
	return run_limits(c, 1);
}

int64_t ac_group_expiry(const uint8_t g[AC_GROUP_BYTES])
{
	uint64_t last = 0;
	size_t i;

	for (i = 0; i < AC_GROUP_SLOTS; i++) {
		uint64_t s = 0;
		size_t k;
		for (k = 0; k < 8; k++)
			s |= (uint64_t)g[8 * i + k] << (8 * k);
		s &= AC_BUCKET_TIME_MAX;
		if (s > last)
			last = s;
	}
	/* every bucket lapses by its time: then the group is as if absent */
	return AC_BUCKET_EPOCH + (int64_t)((last + 999) / 1000);
}
