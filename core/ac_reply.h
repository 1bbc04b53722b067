/* Building the answer (ac_reply.c): status, upstream and response
 * headers, cookies, bodies (generic JSON errors, the login page), the
 * challenges, the audit line. Every slice the answer holds points into the
 * decision (its buffer) or static storage. Internal: not part of the
 * public API. */
#ifndef AC_REPLY_H
#define AC_REPLY_H

#include "ac_decision_int.h"
#include "ac_internal.h"
#include "ac_policy_int.h"

/* Appends s[0..n) to the decision buffer: where it went, or NULL (no
 * room; nothing written). */
const char *ac_reply_put(ac_decision *d, const char *s, size_t n);
/* Appends a NUL-terminated literal. */
void ac_reply_lit(ac_decision *d, const char *s);
/* Appends s percent-encoded (all but RFC 3986 unreserved and '/'). */
void ac_reply_pct(ac_decision *d, const char *s, size_t n);
/* Appends s HTML-escaped (text and attribute values). */
void ac_reply_html(ac_decision *d, const char *s, size_t n);
/* A redirect target as a header value, into the buffer: bytes a URI may
 * not hold raw percent-encoded, everything else as it is. */
ac_str ac_reply_location(ac_decision *d, ac_str next);
/* A JSON writer over the free end of the decision buffer (the caller adds
 * w.len to buf_len when done). */
aj_writer ac_reply_writer(ac_decision *d);

/* A response header with its mode (ac_header_mode; name and value in
 * static storage, the policy or the buffer), value NULL: none added. */
void ac_reply_header_mode(ac_decision *d, ac_str name, const char *v,
    size_t vlen, ac_header_mode mode);
/* A response header appended (name static), value NULL: none added. */
void ac_reply_header(ac_decision *d, const char *name, const char *v,
    size_t vlen);
void ac_reply_header_str(ac_decision *d, const char *name, ac_str v);
/* A header added to the upstream request. */
void ac_reply_upstream_header(ac_decision *d, ac_str name, const char *v,
    size_t n);
/* Respond locally: status, reason, the generic JSON body of the status. */
void ac_reply_respond(ac_decision *d, int status, ac_reason r);
/* Respond locally with a JSON body (static storage or the buffer). */
void ac_reply_json(ac_decision *d, int status, ac_reason r,
    const char *body);
/* WWW-Authenticate: Bearer (RFC 6750 section 3); error NULL when no
 * credentials were presented. */
void ac_reply_www_authenticate(ac_decision *d, const ac_policy *P,
    const char *error);
/* WWW-Authenticate: Basic (RFC 7617), with the UTF-8 charset parameter. */
void ac_reply_basic_challenge(const ac_policy *P, ac_decision *d);
/* Retry-After: secs. */
void ac_reply_retry_after(ac_decision *d, int64_t secs);
/* Set-Cookie for name=val with the login's Path and the flags. */
void ac_reply_cookie(const ac_policy *P, const ac_request *req,
    ac_decision *d, ac_str name, const char *val, size_t vlen,
    int64_t max_age, int http_only);
/* The login page; `action` is the form's target, `user` (may be empty)
 * refills the username field after a failed attempt. */
void ac_reply_login_page(const ac_policy *P, ac_decision *d, int status,
    ac_reason r, ac_str action, ac_str next, ac_str user, const char *error);

/* 1 if an identity value reaches upstreams as it was checked: not empty,
 * no surrounding whitespace, no control bytes. */
int ac_reply_value_ok(const char *s, size_t n);
/* Forwards a token's claim as an upstream header (d->jwt holds the token):
 * 0, or -1 if its value cannot be forwarded as checked. */
int ac_reply_claim_header(ac_decision *d, const ac_claim_header *C);
/* The credential the core consumed (kind 'H' header, 'C' cookie, 'Q'
 * query parameter, named `name`; 'P' the Sec-WebSocket-Protocol entry
 * starting with `name`) does not go on to the upstream, unless the policy
 * forwards credentials. */
void ac_reply_drop_credential(const ac_policy *P, const ac_request *req,
    ac_decision *d, int kind, ac_str name);
/* 1 if the decision gets an audit line: always, but for an allow as the
 * policy's audit.allowed says (sampled with the entropy given). */
int ac_reply_audited(const ac_policy *P, const ac_decision *d,
    const uint8_t *entropy, size_t entropy_len);
/* The decision's audit line (one JSON object, credentials never in it). */
void ac_reply_audit(const ac_policy *P, ac_decision *d,
    const ac_request *req, int64_t now);

#endif
