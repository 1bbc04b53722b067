/* The login throttle in a shared store (core/ac_throttle.c): under a
 * policy's "store", login.attempts and login.client_attempts count in
 * store entries every member of the fleet reads, not in each host's
 * ac_state. Internal: not part of the public API. */
#ifndef AC_THROTTLE_H
#define AC_THROTTLE_H

#include "ac_decision_int.h"
#include "ac_stage.h"

/* Groups of the shared store the throttle's counters live in (after the
 * revocations'): 8 counters each, so 32,768 (client, user) pairs and
 * client budgets before a group is full. Only a shared store holds them:
 * a host's own table never does (its throttle is the ac_state's). */
#define AC_THROTTLE_GROUPS 4096u

/* 1 if d's login throttle counts in the shared store: the policy has one
 * and it has not failed for this request (then, whatever
 * on_store_error says, the host's own throttle counts: never none). */
int ac_throttle_shared(const ac_policy *P, const ac_decision *d);

/* Before a password check of user by client (the decision's own, trusted
 * hops applied): reads the client's budget and the pair's count, and if
 * both have room and commit is 1 counts the attempt in them (the answer
 * that starts the check writes them, so guesses sent side by side across
 * the fleet are counted before any of them is hashed; commit 0 only
 * checks). Returns
 *   0                 room (counted if commit: d's entries changed);
 *   AC_ID_PENDING     d pending on the entries' reads (asked now);
 *   AC_ID_THROTTLED   a count is spent; *retry its Retry-After;
 *   AC_ID_OVERLOADED  a group is full of live counts (a count is never
 *                     forgotten: the attempt is refused, *retry seconds
 *                     until the first lapses), or the decision holds too
 *                     many entries.
 * The store failing (d->store.failed) is not handled here: the caller
 * only comes here while ac_throttle_shared says so. */
int ac_throttle_store_count(const ac_policy *P, const ac_state *S,
    ac_str client, ac_str user, int64_t now, int commit, ac_decision *d,
    int64_t *retry);

/* After a matching check: the pair's count cleared and the one attempt
 * the check spent given back to the client's budget. 0 when done (or
 * nothing can be done: a failed store never keeps a right password out),
 * AC_ID_PENDING when d now waits for the entries' reads. */
int ac_throttle_store_success(const ac_policy *P, const ac_state *S,
    ac_str client, ac_str user, int64_t now, ac_decision *d);

/* The stage before the client limits: a login post's two counters are
 * named (not read), so their entries are read in the same round trip as
 * the limits' buckets. Always AC_STAGE_NEXT. */
int ac_stage_throttle_prefetch(ac_ctx *c);

#endif
