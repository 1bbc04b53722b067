/* Session revocation (core/ac_revoke.c): the check of a verified session
 * and logout's revocation, over store entries. Internal: not part of the
 * public API. */
#ifndef AC_REVOKE_H
#define AC_REVOKE_H

#include "ac_stage.h"

/* d->session verified: 1 if it may go on (no revocation names it, or the
 * policy has none); 0 with d answered: pending on its store entry, 401
 * session_revoked, 503 (the store failed; on_store_error "allow" lets
 * it go on) or 500 (no state). */
int ac_revoke_check(const ac_policy *P, ac_state *S, int64_t now,
    ac_decision *d);

/* Under a shared store, before the client's limits: a request with a
 * valid session cookie names that session's revocation entry, so it is
 * read in the client limits' round trip, not in one of its own after
 * identification. Never answers. */
int ac_stage_revoke_prefetch(ac_ctx *c);

/* Logout with a valid session, under a policy with revocation: the
 * session (or, with ?everywhere=1, every session of its user issued
 * until now) revoked in the answer's store writes; the login stage then
 * answers the logout. */
int ac_stage_revoke_logout(ac_ctx *c);

/* POST <prefix>/auth/revoke?user=NAME by a caller with the role
 * "admin": every session of NAME issued until now revoked; 200 JSON. */
int ac_stage_revoke_admin(ac_ctx *c);

/* The run of an ac_revoke_begin decision (d->op_user): every session of
 * that user issued until now revoked in the answer's writes; pending on
 * the store read; 400 for no user name or a policy without revocation. */
void ac_revoke_user_run(const ac_policy *P, const ac_state *S, int64_t now,
    ac_decision *d);

#endif
