/* The login endpoints (ac_login.c): the page, the post, logout, whoami,
 * the answer an unauthenticated client under the prefix understands, and
 * re-signing sessions under the current key. Internal: not part of the
 * public API. */
#ifndef AC_LOGIN_H
#define AC_LOGIN_H

#include "ac_identify.h"

/* Which login endpoint the path (query cut off) is, 0 if none. */
#define AC_ROUTE_LOGIN 1
#define AC_ROUTE_LOGOUT 2
#define AC_ROUTE_WHOAMI 3
int ac_login_route(const ac_policy *P, const ac_request *req,
    size_t path_len);
/* Answers a request to a login endpoint (not GET whoami). */
void ac_login_decide(const ac_policy *P, ac_state *S, const ac_request *req,
    size_t path_len, int64_t now, const uint8_t *entropy, size_t entropy_len,
    const ac_verdict *v, ac_decision *d);
/* A 401 becomes what its client understands, for a request under the
 * login prefix (every request when "login_url" is given): 302 to the
 * login page (a browser's GET that carried no credential, or only a
 * cookie one), 401 with HX-Redirect (htmx, for a missing, expired or
 * invalid session or token), or stays a 401 (APIs; tools that sent a
 * bearer token, an API key or Basic credentials). id is the identity
 * ac_identify left (its cred_kind: where a refused token came from). */
void ac_login_challenge(const ac_policy *P, const ac_request *req,
    size_t path_len, const ac_ident *id, ac_decision *d);
/* 1 if raw is a same-origin absolute path a login may go back to ("/x",
 * never "//host" or "/\\host", which browsers read as another origin),
 * at most AC_NEXT_MAX bytes, without control bytes, spaces or
 * backslashes. */
int ac_login_next_ok(ac_str raw);
/* Where a login goes back to: a safe `next` (ac_login_next_ok); anything
 * else becomes login.landing, or the prefix's root. */
ac_str ac_login_safe_next(const ac_policy *P, ac_str raw);
/* A signed-in user's session and CSRF cookies, and the answer: 'J' JSON,
 * 'R' 303 to next (200 with HX-Redirect for htmx), 'P' a page that moves
 * on to next by itself (after a provider's redirect). 500 without
 * entropy. */
void ac_login_issue(const ac_policy *P, const ac_request *req,
    int64_t now, const uint8_t *entropy, size_t entropy_len,
    const ac_user *u, ac_str next, int how, ac_decision *d);
/* The logout answer: both cookies cleared, then to `to` (ptr NULL: the
 * login page, or login_url). */
void ac_login_logout(const ac_policy *P, const ac_request *req, int64_t now,
    ac_str to, ac_decision *d);
/* Re-signs d->session (verified under an older key) with the current key. */
void ac_login_reissue(const ac_policy *P, const ac_request *req,
    int64_t now, ac_decision *d);
/* 200 JSON {"user","roles","auth"} for an identified request. */
void ac_login_whoami(ac_decision *d, const ac_ident *id);

#endif
