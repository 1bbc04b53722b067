/* The request as the core reads it: the canonical target and the client
 * (ac_request.c), and its headers, cookies, query, form and JSON bodies
 * (ac_read.c). Internal: not part of the public API. */
#ifndef AC_REQUEST_INT_H
#define AC_REQUEST_INT_H

#include "ac_decision_int.h"
#include "ac_internal.h"
#include "ac_policy_int.h"

/* Canonical form of a request path (no query). Returns 0 and writes two
 * forms, or -1 (refuse as bad_path). wire: RFC 3986 section 6.2.2 normal
 * form (percent-encoded unreserved characters decoded, other escapes with
 * upper-case hex): what is forwarded. match: every escape decoded: what
 * rules and public patterns are matched against. Both fit in n bytes.
 * Refused: no leading '/', dot segments, empty segments, encoded '/', '\'
 * or '.', raw or encoded control bytes and NUL, raw '#', '\' or ';', encoded '#' or '?',
 * malformed escapes, double encoding ("%25" + two hex digits), and decoded
 * bytes that are not UTF-8 in shortest form. */
int ac_path_canon(const char *path, size_t n, char *wire, size_t *wire_len,
    char *match, size_t *match_len);
/* The query (from its '?', n bytes, may be 0): -1 (refuse as bad_path)
 * if it holds a control byte, NUL, space or DEL, which no request line
 * carries and which a target the core rebuilds (a consumed token
 * parameter dropped) must never forward; 0 otherwise. */
int ac_query_check(const char *query, size_t n);
/* The client address and scheme: the peer's, or, when the peer is a
 * trusted proxy, the right-most untrusted hop of X-Forwarded-For (or
 * Forwarded "for") and the nearest X-Forwarded-Proto (or "proto"). */
void ac_req_client(const ac_policy *P, const ac_request *req, ac_str *client,
    int *https);
/* -1 if a header name holds '_' (unless allowed), a method override is
 * present and the policy refuses them, or a Cookie value holds CR, LF or
 * NUL; 0 otherwise. */
int ac_req_headers_check(const ac_policy *P, const ac_request *req);
/* The method-override header names (stripped unless refused). */
size_t ac_req_override_names(const ac_str **names);
/* 1 if the request may be same-origin: Sec-Fetch-Site, when sent, is
 * same-origin or none, and Origin, when sent, is scheme://Host. */
int ac_req_same_origin(const ac_request *req, int https);

/* ---- Reading (ac_read.c). Header names compare in any case; cookie and
 * query parameter names exactly. */
/* The only value of a header: 0 none, 1 found, -1 repeated. Trimmed. */
int ac_req_header(const ac_request *req, const char *name, ac_str *val);
/* The first value of a cookie: 0 none, 1 found, -1 ambiguous/malformed. */
int ac_req_cookie(const ac_request *req, ac_str name, ac_str *val);
/* Iterates the values of cookie `name` across every Cookie header line:
 * *hi and *pos start at 0. 1 with the value (quotes removed), 0 at the
 * end. */
int ac_req_next_cookie(const ac_request *req, ac_str name, size_t *hi,
    size_t *pos, ac_str *val);
/* 1 if the request carries a cookie named `name`. */
int ac_req_has_cookie(const ac_request *req, ac_str name);
/* 1 if t is a non-empty RFC 6750 b64token (no comma, no space). */
int ac_req_token_ok(ac_str t);
/* A credential from one source of the policy (header with its scheme,
 * cookie, query parameter, Sec-WebSocket-Protocol entry): 0 none, 1
 * found, -1 ambiguous or malformed. */
int ac_req_source_header(const ac_request *req, const ac_source *S,
    ac_str *tok);
int ac_req_source_cookie(const ac_request *req, const ac_source *S,
    ac_str *tok);
int ac_req_source_query(const ac_request *req, const ac_source *S,
    ac_str *tok);
int ac_req_source_protocol(const ac_request *req, const ac_source *S,
    ac_str *tok);
/* Iterates the entries of the Sec-WebSocket-Protocol lines (trimmed, may
 * be empty): *hi and *pos start at 0; 1 with an entry, 0 at the end. */
int ac_req_next_protocol(const ac_request *req, size_t *hi, size_t *pos,
    ac_str *entry);
/* 1 if s holds a control byte (below 0x20, or 0x7f). */
int ac_req_has_ctl(ac_str s);
/* Case-insensitive substring test for header values (Accept). */
int ac_req_contains(ac_str h, const char *needle);
/* 1 if htmx sent the request (HX-Request: true). */
int ac_req_htmx(const ac_request *req);
/* 1 if the client reads JSON answers (JSON body, or Accept without
 * text/html). */
int ac_req_wants_json(const ac_request *req);
/* A query parameter, percent-decoded into the decision buffer: 1 found,
 * 0 absent, -1 repeated or undecodable (*out empty then). */
int ac_req_query_param(const ac_request *req, const char *name,
    ac_decision *d, ac_str *out);
/* The `next` query parameter, percent-decoded into the decision buffer
 * (empty if absent, repeated or undecodable). */
ac_str ac_req_query_next(const ac_request *req, ac_decision *d);

/* A login post's fields: user and next decoded into the decision buffer,
 * the password into this struct (wiped by the caller after use). */
typedef struct {
	ac_str user, next;
	char password[4096];
	size_t password_len;
} ac_login_form;
/* Reads a login body, form-encoded or JSON (Content-Type). 0, or -1:
 * malformed, a field repeated, or username or password missing. */
int ac_req_login_form(const ac_request *req, ac_decision *d,
    ac_login_form *f);

#endif
