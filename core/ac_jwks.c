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

struct ac_jwks_cache {
	uint32_t magic;
	uint32_t cur;           /* which of set[] is held */
	size_t n_keys;          /* keys in set[cur] */
	uint8_t uri[32];        /* SHA-256 of the URL they came from */
	uint8_t keyset[32];     /* ac_cache_keyset of them */
	int64_t fetched;        /* when they were fetched; 0: none held */
	int64_t failed;         /* the last failed fetch; 0: none */
	int64_t kid_asked;      /* the last fetch for an unknown kid */
	/* jwt.discovery: the jwks_uri the issuer's configuration named */
	char found[AC_JWKS_URI_MAX];
	size_t found_len;
	uint8_t found_for[32];  /* SHA-256 of the configuration URL */
	int64_t found_at;       /* when it was read */
	ac_jwks_counts counts;
	ac_jwt_key set[2][AC_JWKS_REMOTE_KEYS_MAX];
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
	return P != NULL && P->has_jwt && P->jwks_uri.ptr != NULL ?
	    P->jwks_uri : none;
}

void ac_decision_use_jwks(ac_decision *d, ac_jwks_cache *c)
{
	if (d != NULL)
		d->jwks = c != NULL && c->magic == AC_JWKS_MAGIC ? c : NULL;
}

void ac_jwks_cache_counts_get(const ac_jwks_cache *c, ac_jwks_counts *out,
    size_t *n_keys, int64_t *fetched)
{
	memset(out, 0, sizeof *out);
	*n_keys = 0;
	*fetched = 0;
	if (c == NULL || c->magic != AC_JWKS_MAGIC)
		return;
	*out = c->counts;
	*n_keys = c->fetched != 0 ? c->n_keys : 0;
	*fetched = c->fetched;
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

/* The answer: pending on a fetch of url, the keys ('K') or the issuer's
 * configuration ('D'). */
static void ask(const ac_policy *P, ac_decision *d, ac_str url, int kind,
    int for_kid)
{
	d->jwks->counts.fetches++;
	d->jwks->counts.kid_fetches += for_kid != 0;
	d->fetch_policy = P;
	if (kind == 'K')
		d->fetch_asked = 1;
	else
		d->disc_asked = 1;
	d->fetch_kind = kind;
	d->fetch_done = 0;
	d->a.action = AC_PENDING;
	d->a.wait = AC_WAIT_FETCH;
	d->a.fetch.url = url;
	split_url(d);
	d->a.fetch.method.ptr = "GET";
	d->a.fetch.method.len = 3;
	d->a.fetch.headers[0].name.ptr = "accept";
	d->a.fetch.headers[0].name.len = 6;
	d->a.fetch.headers[0].value.ptr = kind == 'K' ?
	    "application/jwk-set+json, application/json" : "application/json";
	d->a.fetch.headers[0].value.len = kind == 'K' ? 42 : 16;
	d->a.fetch.n_headers = 1;
	d->a.fetch.max_bytes = P->jwks_max_bytes;
	d->a.fetch.timeout_ms = P->jwks_timeout_ms;
}

/* Asks for the next fetch the keys need, if one may be made now (not
 * within min_interval of a failure, each kind once per request): with
 * discovery, the configuration first unless its jwks_uri was read within
 * ttl. 1 if d is now pending on it. */
static int try_fetch(const ac_policy *P, ac_decision *d, int64_t now,
    int for_kid)
{
	ac_jwks_cache *c = d->jwks;
	ac_str url = P->jwks_uri;

	if (within(now, c->failed, P->jwks_min_interval))
		return 0;
	if (P->jwks_discovery) {
		if (c->found_len == 0 || memcmp(c->found_for,
		    P->jwks_uri_digest, 32) != 0 ||
		    !within(now, c->found_at, P->jwks_ttl)) {
			if (d->disc_asked)
				return 0;
			ask(P, d, P->jwks_uri, 'D', for_kid);
			return 1;
		}
		url.ptr = c->found;
		url.len = c->found_len;
	}
	if (d->fetch_asked)
		return 0;
	ask(P, d, url, 'K', for_kid);
	return 1;
}

static void unavailable(const ac_policy *P, ac_decision *d, int64_t now)
{
	int64_t retry = P->jwks_min_interval;
	ac_jwks_cache *c = d->jwks;

	if (c != NULL && c->failed != 0 && now >= c->failed &&
	    now - c->failed < retry)
		retry -= now - c->failed;
	ac_reply_retry_after(d, retry);
	ac_reply_respond(d, 503, AC_JWKS_UNAVAILABLE);
}

int ac_jwks_keys(const ac_policy *P, ac_decision *d, int64_t now,
    const ac_jwt_key **keys, size_t *n, ac_cache_use *cu)
{
	ac_jwks_cache *c = d->jwks;
	int held, fresh;

	if (c == NULL) {
		/* a host that placed no cache cannot fetch: closed */
		unavailable(P, d, now);
		return 0;
	}
	held = c->fetched != 0 && memcmp(c->uri, P->jwks_uri_digest, 32) == 0;
	fresh = held && within(now, c->fetched, P->jwks_ttl);
	if (!fresh && try_fetch(P, d, now, 0))
		return 0;
	if (!held || !within(now, c->fetched, P->jwks_ttl +
	    P->jwks_stale_for)) {
		unavailable(P, d, now);
		return 0;
	}
	c->counts.stale_uses += !fresh;
	*keys = c->set[c->cur];
	*n = c->n_keys;
	if (cu->cache != NULL)
		cu->keyset = c->keyset;
	return 1;
}

int ac_jwks_after(const ac_policy *P, ac_decision *d, int64_t now,
    ac_reason r)
{
	ac_jwks_cache *c = d->jwks;

	if (r != AC_UNKNOWN_KID || c == NULL || d->fetch_asked)
		return 0;
	/* once per min_interval; a refetch this request began with the
	 * configuration goes on to the keys */
	if (!d->disc_asked && within(now, c->kid_asked, P->jwks_min_interval))
		return 0;
	if (!try_fetch(P, d, now, 1))
		return 0;
	c->kid_asked = now;
	return 1;
}

/* 1 if a Content-Type value is JSON: application/json or
 * application/jwk-set+json, any case, parameters after ';' allowed. */
static int json_type(const char *t, size_t n)
{
	size_t end = 0;

	while (end < n && t[end] != ';')
		end++;
	while (end > 0 && (t[end - 1] == ' ' || t[end - 1] == '\t'))
		end--;
	return ac_ascii_ieq(t, end, "application/json", 16) ||
	    ac_ascii_ieq(t, end, "application/jwk-set+json", 24);
}

/* An issuer's configuration: its "issuer" MUST be the policy's issuer
 * exactly (OpenID Connect Discovery 1.0, section 4.3) and its "jwks_uri"
 * an http(s) URL; kept in c. 0, or -1. */
#define AC_DISCOVERY_MEMBERS_MAX 128
static int discovered(const ac_policy *P, ac_jwks_cache *c, const char *body,
    size_t len, int64_t now)
{
	aj_member m[AC_DISCOVERY_MEMBERS_MAX];
	const aj_member *iss = NULL, *uri = NULL;
	size_t n, i, ul;
	ac_str u;

	if (aj_object(body, len, m, AC_DISCOVERY_MEMBERS_MAX, &n) < 0)
		return -1;
	for (i = 0; i < n; i++) {
		if (aj_str_eq(m[i].key, "issuer", 6))
			iss = &m[i];
		else if (aj_str_eq(m[i].key, "jwks_uri", 8))
			uri = &m[i];
	}
	if (iss == NULL || uri == NULL || iss->type != AJ_STRING ||
	    uri->type != AJ_STRING || !aj_str_eq(iss->raw,
	    P->checks.issuer.ptr, P->checks.issuer.len) ||
	    aj_str_decode(uri->raw, c->found, sizeof c->found, &ul) < 0)
		return -1;
	u.ptr = c->found;
	u.len = ul;
	if (!ac_url_ok(u)) {
		c->found_len = 0;
		return -1;
	}
	c->found_len = ul;
	memcpy(c->found_for, P->jwks_uri_digest, 32);
	c->found_at = now != 0 ? now : 1;
	return 0;
}

int ac_decide_fetched(ac_decision *d, int status, const char *ctype,
    size_t ctype_len, const void *body, size_t body_len, int64_t now)
{
	const ac_policy *P;
	ac_jwks_cache *c;
	uint32_t spare;
	int n;

	if (d == NULL || d->a.action != AC_PENDING ||
	    d->a.wait != AC_WAIT_FETCH || d->fetch_done)
		return -1;
	d->fetch_done = 1;
	P = d->fetch_policy;
	c = d->jwks;
	if (c == NULL || P == NULL)
		return -1;
	spare = c->cur ^ 1u;
	n = -1;
	if (d->fetch_kind == 'D') {
		if (status == 200 && ctype != NULL &&
		    json_type(ctype, ctype_len) && body != NULL &&
		    body_len > 0 && body_len <= P->jwks_max_bytes &&
		    discovered(P, c, body, body_len, now) == 0)
			return 0;
		c->failed = now != 0 ? now : 1;
		c->counts.failures++;
		d->fetch_failed = 1;
		return -1;
	}
	if (status == 200 && ctype != NULL && json_type(ctype, ctype_len) &&
	    body != NULL && body_len > 0 && body_len <= P->jwks_max_bytes)
		n = ac_jwks_load_fetched(c->set[spare], AC_JWKS_REMOTE_KEYS_MAX,
		    body, body_len, P->jwks_algs, P->n_jwks_algs);
	if (n <= 0) {
		ac_wipe(c->set[spare], sizeof c->set[spare]);
		c->failed = now != 0 ? now : 1;
		c->counts.failures++;
		d->fetch_failed = 1;
		return -1;
	}
	ac_wipe(c->set[c->cur], sizeof c->set[c->cur]);
	c->cur = spare;
	c->n_keys = (size_t)n;
	memcpy(c->uri, P->jwks_uri_digest, 32);
	ac_cache_keyset(P->sha256, c->set[spare], c->n_keys, c->keyset);
	c->fetched = now != 0 ? now : 1;
	c->failed = 0;
	c->counts.answers++;
	return 0;
}

void ac_jwks_unanswered(ac_decision *d, int64_t now)
{
	if (d->fetch_done || d->jwks == NULL)
		return;
	d->fetch_done = 1;
	d->fetch_failed = 1;
	d->jwks->failed = now != 0 ? now : 1;
	d->jwks->counts.failures++;
}
