/*
 * Test build of the proxy-wasm filter only (tests/hosts/envoy_request.py):
 * linked with -Wl,--wrap=ac_decide_next, so the filter's one ac_decide_next call
 * comes here. The real decision is made first; then, for an allow only,
 * two request headers stand in for what the core does on its own when it
 * canonicalises a path or consumes a cookie credential:
 *   x-test-forward-path: P    -> path = P, path_rewritten = 1
 *   x-test-consume-cookie: C  -> remove "cookie", add "cookie: C"
 *   x-test-cache-counts: any  -> add "x-test-cache-seen: L,H,C", the
 *                                lookups, hits and signature checks of the
 *                                cache the filter gave the decision (0,0,0
 *                                when it gave none)
 * The filter's source is the shipped one, unchanged: what is tested is
 * that it forwards a rewritten path and applies remove-then-add of one
 * name through Envoy's header map. Never part of the shipped module.
 */
#include <stdio.h>
#include <string.h>

#include "authcore.h"
#include "ac_decision_int.h" /* the test writes the answer itself */

void __real_ac_decide_next(const ac_policy *policy, ac_state *state,
    const ac_request *req, int64_t now, const uint8_t *entropy,
    size_t entropy_len, ac_decision *out);
void __wrap_ac_decide_next(const ac_policy *policy, ac_state *state,
    const ac_request *req, int64_t now, const uint8_t *entropy,
    size_t entropy_len, ac_decision *out);

static int name_is(ac_str n, const char *lit)
{
	size_t i, len = strlen(lit);

	if (n.len != len)
		return 0;
	for (i = 0; i < len; i++) {
		char c = n.ptr[i];

		if (c >= 'A' && c <= 'Z')
			c = (char)(c + 32);
		if (c != lit[i])
			return 0;
	}
	return 1;
}

/* A copy of v in d->buf, or an empty slice if it does not fit. */
static ac_str keep(ac_decision *d, ac_str v)
{
	ac_str s = { NULL, 0 };

	if (v.len > sizeof(d->buf) - d->buf_len)
		return s;
	memcpy(d->buf + d->buf_len, v.ptr, v.len);
	s.ptr = d->buf + d->buf_len;
	s.len = v.len;
	d->buf_len += v.len;
	return s;
}

void __wrap_ac_decide_next(const ac_policy *policy, ac_state *state,
    const ac_request *req, int64_t now, const uint8_t *entropy,
    size_t entropy_len, ac_decision *d)
{
	size_t i;

	__real_ac_decide_next(policy, state, req, now, entropy, entropy_len, d);
	if (d->a.action != AC_ALLOW)
		return;
	for (i = 0; i < req->n_headers; i++) {
		const ac_header *h = &req->headers[i];

		if (name_is(h->name, "x-test-forward-path")) {
			d->a.path = keep(d, h->value);
			d->a.path_rewritten = 1;
		} else if (name_is(h->name, "x-test-consume-cookie") &&
		    d->a.n_remove < AC_DECISION_HEADERS_MAX &&
		    d->a.n_add < AC_DECISION_HEADERS_MAX) {
			d->a.remove[d->a.n_remove].ptr = "cookie";
			d->a.remove[d->a.n_remove++].len = 6;
			d->a.add[d->a.n_add].name.ptr = "cookie";
			d->a.add[d->a.n_add].name.len = 6;
			d->a.add[d->a.n_add++].value = keep(d, h->value);
		} else if (name_is(h->name, "x-test-cache-counts") &&
		    d->a.n_add < AC_DECISION_HEADERS_MAX) {
			ac_jwt_cache_counts k;
			char t[80];
			ac_str v;
			int n;

			ac_jwt_cache_counts_get(d->jwt_cache, &k);
			n = snprintf(t, sizeof t, "%llu,%llu,%llu",
			    (unsigned long long)k.lookups,
			    (unsigned long long)k.hits,
			    (unsigned long long)k.checks);
			v.ptr = t;
			v.len = n > 0 ? (size_t)n : 0;
			d->a.add[d->a.n_add].name.ptr = "x-test-cache-seen";
			d->a.add[d->a.n_add].name.len = 17;
			d->a.add[d->a.n_add++].value = keep(d, v);
		}
	}
}
