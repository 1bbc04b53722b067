/*
 * authcore - store entries: what a decision reads and writes outside the
 * policy (rate-limit buckets), and a local table that keeps them.
 * Part of the authcore API (core/authcore.h includes every part); the
 * contract at the top of authcore.h holds for every function here.
 *
 * Licensed under the MIT license (see LICENSE).
 */
#ifndef AUTHCORE_STORE_H
#define AUTHCORE_STORE_H

#include "authcore_base.h"
#include "authcore_decide.h"
#include "authcore_policy.h"
#include "authcore_state.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ */
/* The store protocol (core/ac_decide.c, core/ac_ratelimit.c)          */
/*                                                                     */
/* The core does no I/O, so a decision that needs store entries (a     */
/* policy with "rate_limits": ac_needs() says AC_NEEDS_ENTRIES) asks   */
/* for them as a pending decision, like a password check:              */
/*                                                                     */
/*  1. ac_decide_begin answers AC_PENDING with answer.wait ==          */
/*     AC_WAIT_STORE and answer.reads[0 .. n_reads): the keys to read  */
/*     (ac_decide_step returns 0: there is nothing to compute).        */
/*  2. The host reads each key (its local table, shared data, one      */
/*     batched round trip to a remote store) and hands each to         */
/*     ac_decide_supply(d, i, bytes, len, version): len 0 and version  */
/*     0 for an absent entry. A read that failed or timed out:         */
/*     ac_decide_store_error instead of finish.                        */
/*  3. ac_decide_finish decides again with those entries. The entries  */
/*     are bound to their keys: a request whose buckets name other     */
/*     keys asks for those (AC_PENDING again), and a key the host did  */
/*     not supply is answered 503 store_unavailable (fail closed). A   */
/*     request with limits keyed on the client and on the identity may */
/*     be pending twice: client limits are read before the login       */
/*     endpoints and identification (so they protect the password      */
/*     verifiers), identity limits only once the caller is known.      */
/*  4. A final answer, and one pending on a password check (the       */
/*     client's limits count a login post or Basic credentials before  */
/*     their PBKDF2 work), carry answer.writes[0 .. n_writes): for each*/
/*     entry, the bytes to store, the version the host supplied (the   */
/*     compare-and-set condition: 0 = the entry must still be absent)  */
/*     and an expiry (unix seconds) after which dropping the entry is  */
/*     the same as keeping it. The host applies them with compare-and- */
/*     set, in order. If one is lost (another worker wrote first), the */
/*     host stops there and calls ac_decide_store_lost: the core       */
/*     decides the request again (pending on fresh reads: back to 2),  */
/*     or, once AC_STORE_ATTEMPTS answers of the request were lost,    */
/*     gives the defined store_conflict answer. The count lives in the */
/*     decision, so a host never counts attempts. Writes a host        */
/*     already applied before a lost one stay: the retry counts that   */
/*     request again in those buckets (never looser).                  */
/*                                                                     */
/* So a host's whole part is one loop, the same in every host:        */
/*                                                                     */
/*     for (;;) {                                                      */
/*         if (n_writes) apply them, in order; a lost one:             */
/*             ac_decide_store_lost, a refused one:                    */
/*             ac_decide_store_error; either way: continue;            */
/*         if (final) done;                                            */
/*         if (wait == AC_WAIT_STORE) read + ac_decide_supply each     */
/*             key (a failed read: ac_decide_store_error, continue);   */
/*         else run the password check (ac_decide_step, as slowly as   */
/*             the host likes);                                        */
/*         ac_decide_finish;                                           */
/*     }                                                               */
/*                                                                     */
/* (ac_table_settle is that loop against a local table.)              */
/*                                                                     */
/* Keys are short printable strings the core makes ("g<index>": one    */
/* 64-byte group of 8 buckets, AC_STORE_VALUE_MAX bytes), so a store    */
/* that has no delete or expiry (proxy-wasm shared data) holds at most  */
/* the policy's rate_limits.store / 2 keys. Groups are placed by a key */
/* derived from the ac_state's secret (the state every worker of a     */
/* host shares already): no client can aim its buckets at another's.   */
/* The values are opaque to hosts.                                      */
/* ------------------------------------------------------------------ */
#define AC_STORE_OPS_MAX 16   /* entries one decision reads, at most */
#define AC_STORE_KEY_MAX 16   /* bytes of a key, at most */
#define AC_STORE_VALUE_MAX 64 /* bytes of a value, at most */
#define AC_STORE_ATTEMPTS 3   /* decisions of one request before
                                 ac_decide_store_conflict */
#define AC_RELEASE_ATTEMPTS 16 /* rounds of one release before it gives
                                 up (a counter then stays one too high) */
#define AC_LEASE_MAX 66       /* bytes of answer.lease, at most */

/* One entry to read (value NULL, len 0, version 0, expires 0) or to write.
 * Every pointer points into the decision. */
struct ac_store_op {
	ac_str key;
	const uint8_t *value;
	size_t len;
	uint64_t version;  /* write: the version supplied for the key (the
	                      compare-and-set condition; 0: still absent) */
	int64_t expires;   /* write: unix seconds; the entry may be dropped
	                      from then on */
};

/* Hands the host's read of answer.reads[i] to a pending decision: len
 * bytes (0: absent; else exactly AC_STORE_VALUE_MAX) and the store's
 * version of the entry (nonzero when present). Returns 0, or -1 (the
 * decision is not waiting for the store, i is out of range, or the value
 * has the wrong size: the entry stays unsupplied). */
AC_MUST_CHECK int ac_decide_supply(ac_decision *d, size_t i,
    const void *value, size_t len, uint64_t version);

/* The store could not be read (error, timeout): the defined outcome of
 * the policy's rate_limits.on_store_error, "deny" (503, Retry-After: 1,
 * reason store_unavailable; the default) or "allow" (decided without the
 * limits; the audit line says "store":"store_unavailable"). Same
 * arguments as ac_decide_finish; the answer is final (no writes). */
void ac_decide_store_error(const ac_policy *policy, ac_state *state,
    const ac_request *req, int64_t now, const uint8_t *entropy,
    size_t entropy_len, ac_decision *d);

/* The host lost a compare-and-set applying d's answer's writes (it
 * applied them in order and stopped at the lost one). The core decides the
 * request again, keeping a password check it already passed (its PBKDF2
 * work is not redone; one whose starting answer's writes were lost never
 * ran, and its slot is given back): the answer is pending on fresh store
 * reads. Once
 * AC_STORE_ATTEMPTS answers of the request were lost, the answer is
 * instead ac_decide_store_conflict's. Same arguments as ac_decide_finish;
 * does nothing to an answer without writes. */
void ac_decide_store_lost(const ac_policy *policy, ac_state *state,
    const ac_request *req, int64_t now, const uint8_t *entropy,
    size_t entropy_len, ac_decision *d);

/* The defined outcome when writes stay lost (ac_decide_store_lost calls it
 * after AC_STORE_ATTEMPTS): as ac_decide_store_error but with reason
 * store_conflict ("deny": 503 with Retry-After: 1). */
void ac_decide_store_conflict(const ac_policy *policy, ac_state *state,
    const ac_request *req, int64_t now, const uint8_t *entropy,
    size_t entropy_len, ac_decision *d);

/* ------------------------------------------------------------------ */
/* Connection caps (core/ac_conn.c): "rate_limits.connections" counts  */
/* the streams alive at once. An allowed request a cap covers is       */
/* counted by its answer's writes, like a bucket, and answer.lease      */
/* names the counters it holds (opaque bytes, at most AC_LEASE_MAX).   */
/* The host keeps the lease while the stream lives (a WebSocket, an    */
/* event stream, any response still being sent) and, when it ends for  */
/* any reason (done, reset, client gone, upstream failed), releases    */
/* it: ac_release_begin into a decision, then the same host loop as    */
/* for a request (reads, ac_decide_finish, writes, ac_decide_store_lost */
/* or _error), with the stream's request or NULL as req. A lost write  */
/* is retried up to AC_RELEASE_ATTEMPTS rounds. A host that stops      */
/* without releasing (a crash) leaves the counters high until its      */
/* store is cleared.                                                    */
/* ------------------------------------------------------------------ */

/* Begins releasing lease (len bytes, from answer.lease of an allowed
 * request under this policy) in d. Returns AC_PENDING (the store reads:
 * answer.reads), or AC_RESPOND with reason AC_INVALID_REQUEST for bytes
 * that are no lease of this policy (nothing to do). The final answer is
 * AC_ALLOW with the writes; it carries no headers, body or audit line
 * (reason store_unavailable or store_conflict when the release failed:
 * a host may log it). */
ac_action ac_release_begin(const ac_policy *policy, const uint8_t *lease,
    size_t len, int64_t now, ac_decision *d);

/* An operator's revocation (core/ac_revoke.c), as POST
 * <prefix>/auth/revoke?user= does for an administrator: every session of
 * user (len bytes, 1..AC_SESSION_USER_MAX, no control bytes) issued until
 * now is refused from then on, under a policy with sessions.revocation.
 * Begins it in d: AC_PENDING on the store read (answer.reads), then the
 * same host loop as for a request, with req NULL; the final answer is
 * AC_ALLOW with the writes, or AC_RESPOND: 400 invalid_request (no such
 * user name, or a policy without revocation), 503 store_unavailable or
 * store_conflict (nothing was revoked), 500 no_state (a policy without a
 * shared store places the user's entry by the state's key: pass the
 * host's state). */
ac_action ac_revoke_begin(const ac_policy *policy, ac_state *state,
    const char *user, size_t len, int64_t now, ac_decision *d);

/* ------------------------------------------------------------------ */
/* A local table (core/ac_table.c): the entries in caller memory, for   */
/* hosts that keep them in one process or one shared-memory zone (the  */
/* CLI, the library, an edge isolate, an nginx zone). Pure functions,  */
/* no locks: a host shared by several threads or processes serializes  */
/* each call (one lock around a read, one around a write).             */
/* ------------------------------------------------------------------ */
typedef struct ac_table ac_table;

/* Bytes of the table a policy sizes: rate_limits.store keys at 32 bytes
 * each (64-byte groups of 8 buckets), an eighth more for connection caps'
 * counters when it has some, plus a 64-byte header; 0 if the policy has
 * no rate limits or caps. An entry's version is a 63-bit hash of its
 * bytes (the compare-and-set compares values). */
size_t ac_table_size(const ac_policy *policy);

/* Clears mem (len bytes, 8-aligned, at least ac_table_size(policy)) into
 * an empty table for the policy. NULL if len is short or the policy has
 * no rate limits. */
ac_table *ac_table_init(void *mem, size_t len, const ac_policy *policy);

/* The table mem already holds for a policy of the same store size (a
 * shared zone after a reload, a file read back), or NULL. */
ac_table *ac_table_attach(void *mem, size_t len, const ac_policy *policy);

/* Reads key: *len 0 and *version 0 if absent, else the value into out
 * (AC_STORE_VALUE_MAX bytes) and its version. 0, or -1 for a key this
 * table does not hold (another policy's size, a malformed key). */
AC_MUST_CHECK int ac_table_read(const ac_table *t, ac_str key,
    uint8_t out[AC_STORE_VALUE_MAX], size_t *len, uint64_t *version);

/* Writes value (AC_STORE_VALUE_MAX bytes) under key if its version is
 * still `expected` (0: absent). 0 written; 1 lost (another write changed
 * it since; nothing written); -1 a key or value this table cannot hold. */
AC_MUST_CHECK int ac_table_write(ac_table *t, ac_str key,
    const void *value, size_t len, uint64_t expected);

/* The host loop of the store protocol above against t, for a decision
 * ac_decide_begin or ac_decide_finish just made: until the decision is
 * final (its writes applied) or pending on a password check (the caller
 * runs it, ac_decide_finish, then calls this again). t may be NULL (a
 * policy without rate limits: a read asked for is a store error). */
void ac_table_settle(const ac_policy *policy, ac_state *state,
    ac_table *t, const ac_request *req, int64_t now,
    const uint8_t *entropy, size_t entropy_len, ac_decision *d);

/* One request decided end to end against a local table, by a caller that
 * may block (CLI, tests, a single-threaded server): begin, the table's
 * reads, finish, the password check if any, the writes, and the retries
 * of the protocol above. */
void ac_decide_local(const ac_policy *policy, ac_state *state,
    ac_table *t, const ac_request *req, int64_t now,
    const uint8_t *entropy, size_t entropy_len, ac_decision *d);

#ifdef __cplusplus
}
#endif
#endif
