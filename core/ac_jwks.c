/*
 * Keys fetched from "jwt"."jwks_uri" (authcore_jwks.h): a cache in caller
 * memory holding one JWKS answer's keys, and the rules that say when a
 * token's decision asks the host to fetch, when held keys serve, and when
 * the answer is 503 jwks_unavailable.
 *
 * A fetched answer is loaded into the spare key array and swapped in only
 * when it is good, so a refused answer never leaves the cache half written.
 * The verified-signature cache (ac_cache.c) is keyed by the digest of the
 * held keys, so a rotation never hits an entry of the old set.
 */
#include "ac_jwks_int.h"
#include "ac_decision_int.h"
#include "ac_policy_int.h"
#include "ac_reply.h"

#define AC_JWKS_MAGIC 0x61636a6bu /* "acjk" */

/* One source's keys and, with discovery, what its configuration named. */
typedef struct {
	uint8_t src[32];        /* the source's digest; all zero: free */
	int64_t used;           /* last asked for: the slot to give up */
	uint32_t cur;           /* which of set[] is held */
	size_t n_keys;          /* keys in set[cur] */
	uint8_t keyset[32];     /* ac_cache_keyset of them */
	int64_t fetched;        /* when they were fetched; 0: none held */
	int64_t failed;         /* the last failed fetch; 0: none */
	int64_t kid_asked;      /* the last fetch for an unknown kid */
	int64_t found_at;       /* when the configuration was read; 0: not */
	ac_str_buf found[AC_EP_COUNT]; /* the endpoints it named */
	ac_jwt_key set[2][AC_JWKS_REMOTE_KEYS_MAX];
} jwks_slot;

struct ac_jwks_cache {
	uint32_t magic;
	ac_jwks_counts counts;
	jwks_slot slot[AC_JWKS_SOURCES];
};

size_t ac_sizeof_jwks_cache(void)
{
	return sizeof(ac_jwks_cache);
}

ac_jwks_cache *ac_jwks_cache_init(void *mem, size_t mem_len)
{
	ac_jwks_cache *c = mem;

	if (mem == NULL || ((uintptr_t)mem & 7u) != 0 ||
	    mem_len < sizeof *c)
		return NULL;
	memset(c, 0, sizeof *c);
	c->magic = AC_JWKS_MAGIC;
	return c;
}

ac_str ac_policy_jwks_uri(const ac_policy *P)
{
	ac_str none = { NULL, 0 };
	if (P == NULL)
		return none;
	if (P->has_jwt && P->jwks_src.uri.ptr != NULL)
		return P->jwks_src.uri;
	return P->n_oidc > 0 ? P->oidc[0].src.uri : none;
}

void ac_decision_use_jwks(ac_decision *d, ac_jwks_cache *c)
{
	if (d != NULL)
		d->jwks = c != NULL && c->magic == AC_JWKS_MAGIC ? c : NULL;
}

void ac_jwks_cache_counts_get(const ac_jwks_cache *c, ac_jwks_counts *out,
    size_t *n_keys, int64_t *fetched)
{
	size_t i;

	memset(out, 0, sizeof *out);
	*n_keys = 0;
	*fetched = 0;
	if (c == NULL || c->magic != AC_JWKS_MAGIC)
		return;
	*out = c->counts;
	for (i = 0; i < AC_JWKS_SOURCES; i++) {
		if (c->slot[i].fetched == 0)
			continue;
		*n_keys += c->slot[i].n_keys;
		if (c->slot[i].fetched > *fetched)
			*fetched = c->slot[i].fetched;
	}
}

/* The slot of source s: its own, else a free one, else the one asked for
 * least recently (wiped). A policy has at most AC_JWKS_SOURCES sources,
 * so a slot is given up only to another policy's. */
static jwks_slot *slot_of(ac_jwks_cache *c, const ac_jwks_src *s,
    int64_t now)
{
	static const uint8_t zero[32];
	jwks_slot *free_slot = NULL, *old = &c->slot[0];
	size_t i;

	for (i = 0; i < AC_JWKS_SOURCES; i++) {
		jwks_slot *t = &c->slot[i];
		if (memcmp(t->src, s->digest, 32) == 0) {
			t->used = now;
			return t;
		}
		if (free_slot == NULL && memcmp(t->src, zero, 32) == 0)
			free_slot = t;
		if (t->used < old->used)
			old = t;
	}
	if (free_slot == NULL) {
		free_slot = old;
		ac_wipe(free_slot, sizeof *free_slot);
	}
	memcpy(free_slot->src, s->digest, 32);
	free_slot->used = now;
	return free_slot;
}

/* The slot a pending fetch was asked for, if it still is that source's. */
static jwks_slot *fetch_slot(ac_decision *d)
{
	jwks_slot *t;

	if (d->jwks == NULL || d->fetch_src == NULL ||
	    d->fetch_slot >= AC_JWKS_SOURCES)
		return NULL;
	t = &d->jwks->slot[d->fetch_slot];
	return memcmp(t->src, d->fetch_src->digest, 32) == 0 ? t : NULL;
}

/* 1 if `since` (nonzero) is less than `span` seconds before now; a clock
 * that went back counts as recent. */
static int within(int64_t now, int64_t since, int64_t span)
{
	return since != 0 && (now < since || now - since < span);
}

int ac_url_ok(ac_str s)
{
	size_t i, skip;

	if (s.len > 8 && memcmp(s.ptr, "https://", 8) == 0)
		skip = 8;
	else if (s.len > 7 && memcmp(s.ptr, "http://", 7) == 0)
		skip = 7;
	else
		return 0;
	if (s.ptr[skip] == '/' || s.ptr[skip] == '?' || s.ptr[skip] == '#')
		return 0;
	for (i = 0; i < s.len; i++)
		if ((unsigned char)s.ptr[i] <= 0x20 ||
		    (unsigned char)s.ptr[i] >= 0x7f || s.ptr[i] == '#')
			return 0;
	/* no user information: the authority is host[:port] alone */
	for (i = skip; i < s.len && s.ptr[i] != '/' && s.ptr[i] != '?'; i++)
		if (s.ptr[i] == '@')
			return 0;
	return 1;
}

/* a.fetch's authority and target from its URL (ac_url_ok holds). */
static void split_url(ac_decision *d)
{
	ac_fetch *f = &d->a.fetch;
	size_t skip = f->url.ptr[4] == 's' ? 8 : 7, i = skip, n = 0;

	while (i < f->url.len && f->url.ptr[i] != '/' && f->url.ptr[i] != '?')
		i++;
	f->authority.ptr = f->url.ptr + skip;
	f->authority.len = i - skip;
	if (i == f->url.len || f->url.ptr[i] == '?')
		d->fetch_target[n++] = '/';
	memcpy(d->fetch_target + n, f->url.ptr + i, f->url.len - i);
	f->target.ptr = d->fetch_target;
	f->target.len = n + f->url.len - i;
}

void ac_jwks_ask(const ac_jwks_src *s, ac_decision *d, ac_str url, int kind,
    int for_kid)
{
	static const char keys_type[] =
	    "application/jwk-set+json, application/json";
	ac_fetch *f = &d->a.fetch;

	d->jwks->counts.fetches++;
	d->jwks->counts.kid_fetches += for_kid != 0;
	d->fetch_src = s;
	d->fetch_slot = (size_t)(slot_of(d->jwks, s, d->jwks_now) -
	    d->jwks->slot);
	if (kind == 'K')
		d->fetch_asked = 1;
	else if (kind == 'D')
		d->disc_asked = 1;
	d->fetch_kind = kind;
	d->fetch_done = 0;
	d->a.action = AC_PENDING;
	d->a.wait = AC_WAIT_FETCH;
	memset(f, 0, sizeof *f);
	f->url = url;
	split_url(d);
	f->method.ptr = "GET";
	f->method.len = 3;
	f->headers[0].name.ptr = "accept";
	f->headers[0].name.len = 6;
	f->headers[0].value.ptr = kind == 'K' ? keys_type : keys_type + 26;
	f->headers[0].value.len = kind == 'K' ? sizeof keys_type - 1 : 16;
	f->n_headers = 1;
	f->max_bytes = s->max_bytes;
	f->timeout_ms = s->timeout_ms;
	/* keys and a configuration are public documents, the same GET for
	 * every request; a token request ('T', made a POST by ac_oidc.c)
	 * carries one login's code and the client's secret */
	f->shareable = kind != 'T';
}

/* Asks for the configuration if it was not read within ttl (once per
 * request, not within min_interval of a failure). 1 if d is now pending
 * on it; 0 with the slot's endpoints current. */
static int need_config(const ac_jwks_src *s, jwks_slot *t, ac_decision *d,
    int64_t now, int for_kid, int *blocked)
{
	*blocked = 0;
	if (t->found_at != 0 && within(now, t->found_at, s->ttl))
		return 0;
	if (d->disc_asked || within(now, t->failed, s->min_interval)) {
		*blocked = t->found_at == 0;
		return 0;
	}
	ac_jwks_ask(s, d, s->uri, 'D', for_kid);
	return 1;
}

/* Asks for the next fetch the keys need, if one may be made now (not
 * within min_interval of a failure, each kind once per request): with
 * discovery, the configuration first unless it was read within ttl. 1 if
 * d is now pending on it. */
static int try_fetch(const ac_jwks_src *s, jwks_slot *t, ac_decision *d,
    int64_t now, int for_kid)
{
	ac_str url = s->uri;
	int blocked;

	if (within(now, t->failed, s->min_interval))
		return 0;
	if (s->discovery) {
		if (need_config(s, t, d, now, for_kid, &blocked))
			return 1;
		if (t->found_at == 0 || t->found[AC_EP_JWKS].len == 0)
			return 0;
		url.ptr = t->found[AC_EP_JWKS].b;
		url.len = t->found[AC_EP_JWKS].len;
	}
	if (d->fetch_asked)
		return 0;
	ac_jwks_ask(s, d, url, 'K', for_kid);
	return 1;
}

void ac_jwks_unavailable(const ac_jwks_src *s, ac_decision *d, int64_t now,
    ac_reason r)
{
	int64_t retry = s->min_interval;
	jwks_slot *t = d->jwks != NULL ? slot_of(d->jwks, s, now) : NULL;

	if (t != NULL && t->failed != 0 && now >= t->failed &&
	    now - t->failed < retry)
		retry -= now - t->failed;
	ac_reply_retry_after(d, retry);
	ac_reply_respond(d, 503, r);
}

int ac_jwks_keys(const ac_jwks_src *s, ac_decision *d, int64_t now,
    const ac_jwt_key **keys, size_t *n, ac_cache_use *cu)
{
	jwks_slot *t;
	int fresh;

	if (d->jwks == NULL) {
		/* a host that placed no cache cannot fetch: closed */
		ac_jwks_unavailable(s, d, now, AC_JWKS_UNAVAILABLE);
		return 0;
	}
	d->jwks_now = now;
	t = slot_of(d->jwks, s, now);
	fresh = t->fetched != 0 && within(now, t->fetched, s->ttl);
	if (!fresh && try_fetch(s, t, d, now, 0))
		return 0;
	if (t->fetched == 0 || !within(now, t->fetched, s->ttl +
	    s->stale_for)) {
		ac_jwks_unavailable(s, d, now, AC_JWKS_UNAVAILABLE);
		return 0;
	}
	d->jwks->counts.stale_uses += !fresh;
	*keys = t->set[t->cur];
	*n = t->n_keys;
	if (cu->cache != NULL)
		cu->keyset = t->keyset;
	return 1;
}

int ac_jwks_after(const ac_jwks_src *s, ac_decision *d, int64_t now,
    ac_reason r)
{
	jwks_slot *t;

	if (r != AC_UNKNOWN_KID || d->jwks == NULL || d->fetch_asked)
		return 0;
	d->jwks_now = now;
	t = slot_of(d->jwks, s, now);
	/* once per min_interval; a refetch this request began with the
	 * configuration goes on to the keys */
	if (!d->disc_asked && within(now, t->kid_asked, s->min_interval))
		return 0;
	if (!try_fetch(s, t, d, now, 1))
		return 0;
	t->kid_asked = now;
	return 1;
}

int ac_jwks_endpoint(const ac_jwks_src *s, ac_decision *d, int64_t now,
    int which, ac_str *url)
{
	jwks_slot *t;
	int blocked;

	url->ptr = NULL;
	url->len = 0;
	if (d->jwks == NULL)
		return -1;
	d->jwks_now = now;
	t = slot_of(d->jwks, s, now);
	if (need_config(s, t, d, now, 0, &blocked))
		return 0;
	/* a configuration past its ttl that cannot be read again now
	 * still serves, as stale keys do */
	if (t->found_at == 0 || !within(now, t->found_at, s->ttl +
	    s->stale_for) || t->found[which].len == 0)
		return -1;
	url->ptr = t->found[which].b;
	url->len = t->found[which].len;
	return 1;
}

/* 1 if a Content-Type value is JSON: application/json or
 * application/jwk-set+json, any case, parameters after ';' allowed. */
int ac_json_type(const char *t, size_t n)
{
	size_t end = 0;

	if (t == NULL)
		return 0;
	while (end < n && t[end] != ';')
		end++;
	while (end > 0 && (t[end - 1] == ' ' || t[end - 1] == '\t'))
		end--;
	return ac_ascii_ieq(t, end, "application/json", 16) ||
	    ac_ascii_ieq(t, end, "application/jwk-set+json", 24);
}

/* An issuer's configuration: its "issuer" MUST be the source's issuer
 * exactly (OpenID Connect Discovery 1.0, section 4.3), its "jwks_uri" an
 * http(s) URL, and so must each endpoint it names that the core uses;
 * kept in t. 0, or -1. */
#define AC_DISCOVERY_MEMBERS_MAX 128
static int discovered(const ac_jwks_src *s, jwks_slot *t, const char *body,
    size_t len, int64_t now)
{
	static const char *const names[AC_EP_COUNT] = { "jwks_uri",
		"authorization_endpoint", "token_endpoint",
		"end_session_endpoint" };
	aj_member m[AC_DISCOVERY_MEMBERS_MAX];
	const aj_member *iss = NULL, *ep[AC_EP_COUNT] = { NULL };
	ac_str_buf got[AC_EP_COUNT];
	size_t n, i, k;

	if (aj_object(body, len, m, AC_DISCOVERY_MEMBERS_MAX, &n) < 0)
		return -1;
	for (i = 0; i < n; i++) {
		if (aj_str_eq(m[i].key, "issuer", 6))
			iss = &m[i];
		for (k = 0; k < AC_EP_COUNT; k++)
			if (aj_str_eq(m[i].key, names[k], strlen(names[k])))
				ep[k] = &m[i];
	}
	if (iss == NULL || iss->type != AJ_STRING || !aj_str_eq(iss->raw,
	    s->issuer.ptr, s->issuer.len) || ep[AC_EP_JWKS] == NULL)
		return -1;
	memset(got, 0, sizeof got);
	for (k = 0; k < AC_EP_COUNT; k++) {
		ac_str u;
		if (ep[k] == NULL)
			continue;
		if (ep[k]->type != AJ_STRING || aj_str_decode(ep[k]->raw,
		    got[k].b, sizeof got[k].b, &got[k].len) < 0)
			return -1;
		u.ptr = got[k].b;
		u.len = got[k].len;
		if (!ac_url_ok(u))
			return -1;
	}
	memcpy(t->found, got, sizeof got);
	t->found_at = now != 0 ? now : 1;
	return 0;
}

static int failed(ac_decision *d, jwks_slot *t, int64_t now)
{
	if (t != NULL)
		t->failed = now != 0 ? now : 1;
	d->jwks->counts.failures++;
	d->fetch_failed = 1;
	return -1;
}

int ac_decide_fetched(ac_decision *d, int status, const char *ctype,
    size_t ctype_len, const void *body, size_t body_len, int64_t now)
{
	const ac_jwks_src *s;
	jwks_slot *t;
	uint32_t spare;
	int n, json;

	if (d != NULL && d->gw.pending)
		/* a store step through the Redis gateway */
		return ac_gateway_fetched(d, status, body, body_len);
	if (d == NULL || d->a.action != AC_PENDING ||
	    d->a.wait != AC_WAIT_FETCH || d->fetch_done || d->jwks == NULL)
		return -1;
	d->fetch_done = 1;
	s = d->fetch_src;
	t = fetch_slot(d);
	if (s == NULL)
		return -1;
	json = ctype != NULL && ac_json_type(ctype, ctype_len) &&
	    body != NULL && body_len > 0 && body_len <= s->max_bytes;
	if (d->fetch_kind == 'T')
		/* a token response: the sign-in reads it (ac_oidc.c) */
		return ac_oidc_token_answer(d, status, json, body, body_len);
	if (t == NULL)
		return failed(d, NULL, now);
	if (d->fetch_kind == 'D') {
		if (status == 200 && json &&
		    discovered(s, t, body, body_len, now) == 0)
			return 0;
		return failed(d, t, now);
	}
	spare = t->cur ^ 1u;
	n = -1;
	if (status == 200 && json)
		n = ac_jwks_load_fetched(t->set[spare], AC_JWKS_REMOTE_KEYS_MAX,
		    body, body_len, s->algs, s->n_algs);
	if (n <= 0) {
		ac_wipe(t->set[spare], sizeof t->set[spare]);
		return failed(d, t, now);
	}
	ac_wipe(t->set[t->cur], sizeof t->set[t->cur]);
	t->cur = spare;
	t->n_keys = (size_t)n;
	ac_cache_keyset(s->sha256, t->set[spare], t->n_keys, t->keyset);
	t->fetched = now != 0 ? now : 1;
	t->failed = 0;
	d->jwks->counts.answers++;
	return 0;
}

void ac_jwks_unanswered(ac_decision *d, int64_t now)
{
	if (d->fetch_done || d->jwks == NULL)
		return;
	d->fetch_done = 1;
	if (d->fetch_kind == 'T') {
		ac_oidc_token_answer(d, 0, 0, NULL, 0);
		return;
	}
	failed(d, fetch_slot(d), now);
}
