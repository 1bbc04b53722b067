/* What a decision reads and writes in the ac_state (ac_state.c). Every
 * function that writes sets *written to 1 (the decision's state_written),
 * so a host that shares the state knows whether to write it back.
 * Internal: not part of the public API. */
#ifndef AC_STATE_INT_H
#define AC_STATE_INT_H

#include "ac_internal.h"
#include "ac_policy_int.h"

typedef struct {
	uint8_t key[16];  /* HMAC-SHA256(secret, client[, user]), cut */
	int64_t until;    /* end of the window the count belongs to */
	uint32_t fails;   /* attempts counted in the window */
	uint32_t limit;   /* the limit the count was made under; 0: free */
} ac_throttle_slot;

typedef struct {
	uint64_t ticket;  /* which check holds it; 0: free */
	int64_t until;    /* lapses then if not freed */
} ac_pending_slot;

typedef struct {
	uint8_t tag[32];  /* HMAC(secret, user, password, stored hash) */
	int64_t until;
	uint64_t used;
} ac_cred_slot;

struct ac_state {
	uint32_t magic;
	uint32_t pad;
	uint8_t secret[AC_STATE_SECRET_LEN];
	uint64_t tickets;                 /* last pending ticket handed out */
	ac_throttle_slot throttle[AC_THROTTLE_SLOTS];
	ac_throttle_slot clients[AC_CLIENT_SLOTS];
	ac_pending_slot pending[AC_PENDING_SLOTS];
	ac_cred_slot creds[AC_CREDCACHE_SLOTS];
	uint8_t bucket_key[16];           /* places rate-limit buckets */
};

/* The key that places rate-limit buckets in store groups (SipHash-2-4,
 * core/ac_bucket.c): HMAC-SHA256(secret, "authcore-bucket-v1"), cut, made
 * by ac_state_init. Every worker that shares the state places a bucket in
 * the same group; no client can predict where. */
const uint8_t *ac_state_bucket_key(const ac_state *S);
/* The part of a client address a per-client count is kept for: an IPv6
 * address's /64, an IPv4 address as its 4 bytes (buf, 9 bytes), anything
 * else as given. */
ac_str ac_client_net(ac_str client, uint8_t buf[9]);

/* Seconds until the client may begin another password check (its
 * budget, login.client_attempts, is spent); 0 if it may now. IPv6
 * clients are counted per /64. */
int64_t ac_budget_check(ac_state *S, const ac_policy *P, ac_str client,
    int64_t now);
/* Seconds until (client, user) may try again; 0 if it may now. */
int64_t ac_throttle_check(ac_state *S, const ac_policy *P, ac_str client,
    ac_str user, int64_t now);
/* Counts a check that begins against the client's budget and the (client,
 * user) pair. 0; or -1 when either table has no slot it may take (every
 * candidate is locked): nothing is counted, *retry is the seconds until
 * one unlocks. */
int ac_attempt_begin(ac_state *S, const ac_policy *P, ac_str client,
    ac_str user, int64_t now, int64_t *retry, int *written);
/* A check that began at `began` matched: the pair's count is cleared, and
 * the client's budget gets back that one attempt (if its window still
 * runs), never more, so successes cannot refill what failures spent. */
void ac_attempt_success(ac_state *S, const ac_policy *P, ac_str client,
    ac_str user, int64_t began, int *written);
/* Takes an in-flight slot for a check that begins (at most
 * P->max_pending live). 0 with *slot and *ticket set, or -1 (full). */
int ac_pending_take(ac_state *S, const ac_policy *P, int64_t now,
    uint32_t *slot, uint64_t *ticket, int *written);
/* Frees the slot if `ticket` still holds it (S may be NULL). */
void ac_pending_release(ac_state *S, uint32_t slot, uint64_t ticket,
    int *written);
/* tag = HMAC-SHA256(secret, "authcore-cred-v1" 0 user 0 password 0 hash) */
void ac_cred_tag(const ac_state *S, const ac_policy *P, ac_str user,
    ac_str password, ac_str hash, uint8_t tag[32]);
int ac_cred_lookup(const ac_state *S, const uint8_t tag[32], int64_t now);
void ac_cred_insert(ac_state *S, const uint8_t tag[32], int64_t until,
    int *written);

#endif
