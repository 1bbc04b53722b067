/*
 * HTTPS enforcement and security headers.
 *
 * require_https runs right after the request is read (the scheme is the
 * connection's, or a trusted proxy's X-Forwarded-Proto: ac_request.c), and
 * before the login endpoints, public paths and credentials: a page served
 * over plain HTTP, public or not, can be rewritten on the way, and a
 * credential sent over it is already exposed, so nothing is exempt. GET
 * and HEAD are redirected (308 keeps the method) to the same host and
 * target over https on its default port; anything else is refused 403
 * https_required (its body already crossed in the clear; a redirect would
 * teach the client to send it twice).
 *
 * Security headers are added to answers as the policy says, in the
 * answer's modes: replacing an upstream's own value, or only where it set
 * none.
 */
#include "ac_reply.h"
#include "ac_request_int.h"
#include "ac_traffic.h"

/* The Host the redirect names: a DNS name, IPv4 or bracketed IPv6
 * literal, port dropped; 0 if the header is absent, repeated or holds
 * anything else. */
static int redirect_host(const ac_request *req, ac_str *host)
{
	ac_str h;
	size_t i, end;

	if (ac_req_header(req, "host", &h) != 1 || h.len == 0)
		return 0;
	if (h.ptr[0] == '[') {
		const char *rb = memchr(h.ptr, ']', h.len);
		if (rb == NULL)
			return 0;
		end = (size_t)(rb - h.ptr) + 1;
		for (i = 1; i + 1 < end; i++)
			if (!((h.ptr[i] >= '0' && h.ptr[i] <= '9') ||
			    ((h.ptr[i] | 0x20) >= 'a' && (h.ptr[i] | 0x20) <= 'f') ||
			    h.ptr[i] == ':' || h.ptr[i] == '.'))
				return 0;
	} else {
		for (end = 0; end < h.len && h.ptr[end] != ':'; end++) {
			char ch = h.ptr[end];
			if (!((ch >= '0' && ch <= '9') ||
			    ((ch | 0x20) >= 'a' && (ch | 0x20) <= 'z') ||
			    ch == '-' || ch == '.'))
				return 0;
		}
		if (end == 0)
			return 0;
	}
	/* the rest, if any, is a port: digits only */
	if (end < h.len) {
		if (h.ptr[end] != ':' || end + 1 == h.len)
			return 0;
		for (i = end + 1; i < h.len; i++)
			if (h.ptr[i] < '0' || h.ptr[i] > '9')
				return 0;
	}
	host->ptr = h.ptr;
	host->len = end;
	return 1;
}

int ac_stage_https(ac_ctx *c)
{
	ac_decision *d = c->d;
	ac_str host, loc;
	size_t start;

	if (!c->P->require_https || c->req.https)
		return AC_STAGE_NEXT;
	if (!(ac_str_eq(c->req.method, "GET", 3) ||
	    ac_str_eq(c->req.method, "HEAD", 4)) ||
	    !redirect_host(&c->req, &host)) {
		ac_reply_respond(d, 403, AC_HTTPS_REQUIRED);
		return AC_STAGE_DONE;
	}
	start = d->buf_len;
	ac_reply_lit(d, "https://");
	ac_reply_put(d, host.ptr, host.len);
	loc = ac_reply_location(d, d->a.path);
	(void)loc;
	d->a.action = AC_RESPOND;
	d->a.status = 308;
	d->a.reason = AC_HTTPS_REQUIRED;
	d->a.body.ptr = "";
	d->a.body.len = 0;
	ac_reply_header(d, "location", d->buf + start, d->buf_len - start);
	ac_reply_header(d, "cache-control", "no-store", 8);
	return AC_STAGE_DONE;
}

void ac_finish_security(ac_ctx *c)
{
	static const ac_str hsts = { "strict-transport-security", 25 };
	static const ac_str xcto = { "x-content-type-options", 22 };
	static const ac_str xfo = { "x-frame-options", 15 };
	static const ac_str rp = { "referrer-policy", 15 };
	static const ac_str csp = { "content-security-policy", 23 };
	const ac_sec_policy *S = &c->P->sec;
	ac_decision *d = c->d;
	ac_header_mode mode = S->replace ? AC_HDR_SET : AC_HDR_SET_IF_ABSENT;

	if (!S->every && !d->page)
		return;
	/* HSTS only when asked for: pinned by the browser for its max-age,
	 * it must not follow from a login page alone */
	if (S->hsts.ptr != NULL && d->a.https && S->every)
		ac_reply_header_mode(d, hsts, S->hsts.ptr, S->hsts.len, mode);
	if (S->content_type_options.ptr != NULL)
		ac_reply_header_mode(d, xcto, S->content_type_options.ptr,
		    S->content_type_options.len, mode);
	if (S->frame_options.ptr != NULL)
		ac_reply_header_mode(d, xfo, S->frame_options.ptr,
		    S->frame_options.len, mode);
	if (S->referrer_policy.ptr != NULL)
		ac_reply_header_mode(d, rp, S->referrer_policy.ptr,
		    S->referrer_policy.len, mode);
	/* a policy of its own beside the upstream's: browsers enforce every
	 * Content-Security-Policy they get, so this one only narrows who may
	 * frame the page and never loosens or replaces the app's */
	if (S->frame_ancestors.ptr != NULL && !d->page)
		ac_reply_header_mode(d, csp, S->frame_ancestors.ptr,
		    S->frame_ancestors.len, AC_HDR_APPEND);
}
