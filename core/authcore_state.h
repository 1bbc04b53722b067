/*
 * authcore - the mutable state a decision may use (login attempt counters,
 * password checks in flight, verified Basic credentials).
 * Part of the authcore API (core/authcore.h includes every part); the
 * contract at the top of authcore.h holds for every function here.
 *
 * Licensed under the MIT license (see LICENSE).
 */
#ifndef AUTHCORE_STATE_H
#define AUTHCORE_STATE_H

#include "authcore_base.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ */
/* Mutable state (core/ac_state.c): login attempt counters, the        */
/* checks in flight and the cache of verified Basic credentials. One   */
/* flat struct with no pointers, so a host can place it anywhere: a    */
/* static, a wasm instance's memory, a shared-memory zone several      */
/* processes map (the host then serializes calls that take it).        */
/* Decisions that need it write to it; every other decision only reads */
/* the policy.                                                         */
/*                                                                     */
/* Every table is fixed; what happens when one is full:                */
/*  - throttle (AC_THROTTLE_SLOTS (client, user) counters) and clients */
/*    (AC_CLIENT_SLOTS per-client budgets): probed in groups of 8 from */
/*    a keyed position. A new entry takes a free or lapsed slot, else  */
/*    the unlocked slot whose window ends first. A locked slot (its    */
/*    count at its limit, its window not over) is never given up       */
/*    before its window ends: when all 8 candidates are locked the     */
/*    attempt is refused, 503 overloaded with Retry-After (fail        */
/*    closed), and nothing is counted or hashed. Filling a group that  */
/*    way takes 8 distinct locked entries: one client spends its own   */
/*    budget (login.client_attempts) long before.                      */
/*  - pending (AC_PENDING_SLOTS): one slot per password check in       */
/*    flight (an AC_PENDING decision), at most login.max_pending of    */
/*    them live. ac_decide_finish frees the check's slot, and so does  */
/*    ac_decide_abandon (a host that drops the check: client abort);   */
/*    a slot neither frees lapses AC_PENDING_TIMEOUT seconds after it  */
/*    was taken. Past the cap the answer is 503 overloaded with        */
/*    Retry-After, before any hashing. This cap is what bounds every   */
/*    host's queue of pending checks: a host needs no queue limit of   */
/*    its own (one state per process, worker or shared zone: the cap   */
/*    is per state).                                                   */
/*  - creds (AC_CREDCACHE_SLOTS): a full group gives up the entry that */
/*    lapses first (losing one only costs a password check).           */
/* ------------------------------------------------------------------ */
#define AC_THROTTLE_SLOTS 2048  /* (client, user) pairs with attempts kept */
#define AC_CLIENT_SLOTS 512     /* client addresses with attempts kept */
#define AC_PENDING_SLOTS 64     /* password checks in flight, at most */
#define AC_PENDING_TIMEOUT 60   /* seconds before an unresumed check's
                                   slot lapses */
#define AC_CREDCACHE_SLOTS 256  /* verified Basic credentials kept */
#define AC_STATE_SECRET_LEN 32  /* entropy bytes ac_state_init needs */

/* Opaque: the caller places ac_sizeof_state() bytes (a multiple of 8),
 * 8-aligned, and keys them with ac_state_init; the layout is the core's
 * (core/ac_state_int.h). */
typedef struct ac_state ac_state;

/* Clears the state and keys it with AC_STATE_SECRET_LEN bytes from a
 * CSPRNG (the key makes slot positions and cache tags unpredictable and
 * keeps passwords out of memory: only keyed MACs of them are stored).
 * Returns 0, or -1 if entropy_len is short (the state is then unusable,
 * and decisions that need it answer 500 no_state). */
AC_MUST_CHECK int ac_state_init(ac_state *s, const uint8_t *entropy,
    size_t entropy_len);

/* 1 if s was keyed by ac_state_init in this build's layout (s may be NULL:
 * 0); for hosts that read a state back from shared memory or a file. */
int ac_state_ok(const ac_state *s);

/* Bytes of an ac_state (a multiple of 8; place it 8-aligned). */
size_t ac_sizeof_state(void);

#ifdef __cplusplus
}
#endif
#endif
