/* Identifying the caller (ac_identify.c): API key, Basic credentials, the
 * JWT sources, the session cookie, in the policy's order, and the password
 * check login posts and Basic credentials share. Internal: not part of the
 * public API. */
#ifndef AC_IDENTIFY_H
#define AC_IDENTIFY_H

#include "ac_decision_int.h"
#include "ac_internal.h"
#include "ac_policy_int.h"

/* Who the request is, however it authenticated. */
typedef struct {
	ac_str user;
	const ac_str *roles;
	size_t n_roles;
	const ac_str *perms; /* tokens and sessions: their roles (scopes) */
	size_t n_perms;
	int jwt;
	int cred_kind;       /* the credential consumed: 'H' header, 'C'
	                        cookie, 'Q' query parameter, 'P'
	                        subprotocol entry, 0 none */
	ac_str cred_name;    /* its header, cookie or parameter name, or
	                        the entry's prefix */
} ac_ident;

/* ac_verdict, a finished password check's verdict: ac_decision_int.h */

/* Finds who the request is: API key, Basic credentials (with "login"),
 * then the JWT sources, then the session cookie. 1: identified (id set);
 * 0: decided already (a refusal, or AC_PENDING, in d). */
int ac_identify(const ac_policy *P, ac_state *S, const ac_request *req,
    int64_t now, const ac_verdict *v, ac_decision *d, ac_ident *id);

/* A session token verified into d->session: as ac_session_verify with
 * P's keys, except that the token d->session already holds, verified for
 * P at this same time (an earlier run of this request), is taken as it
 * is. Every verification into d->session goes through here. */
ac_reason ac_session_verify_in(const ac_policy *P, ac_decision *d,
    ac_str tok, int64_t now);

/* Outcomes of ac_identify_password. */
enum { AC_ID_MATCH, AC_ID_FAIL, AC_ID_PENDING, AC_ID_THROTTLED,
	AC_ID_OVERLOADED };
/* Checks (user, password) for a login post (kind 'L') or Basic
 * credentials ('B'): the verdict v for exactly these credentials, or a
 * refusal, or a new pending check in d->work. *who is the user (NULL if
 * unknown), *retry the Retry-After of a refusal. */
int ac_identify_password(const ac_policy *P, ac_state *S,
    const ac_request *req, int64_t now, const ac_verdict *v, int kind,
    ac_str name, ac_str password, const ac_user **who, ac_decision *d,
    int64_t *retry);

#endif
