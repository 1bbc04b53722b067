/* Rate limits (core/ac_ratelimit.c): the stages that apply "rate_limits"
 * over the store protocol, and the store keys of groups. Internal: not
 * part of the public API. */
#ifndef AC_RATELIMIT_H
#define AC_RATELIMIT_H

#include "ac_stage.h"

/* Limits keyed on the client or a header: before the login endpoints. */
int ac_stage_ratelimit_client(ac_ctx *c);
/* Limits keyed on the identity: once the caller is identified. */
int ac_stage_ratelimit_identity(ac_ctx *c);

/* 1 if limit (or cap) R covers the request: its methods and path. */
int ac_rl_applies(const ac_rate_limit *R, const ac_ctx *c);

/* The value R is keyed on for this request, or ptr NULL: R does not apply
 * (no such header; no identity of that kind). net: scratch for a client
 * address's network. */
ac_str ac_rl_key_value(const ac_rate_limit *R, const ac_ctx *c,
    uint8_t net[9]);

/* The decision's entry holding group g, added (unsupplied) if it has not
 * asked for it yet; -1 if it holds AC_STORE_OPS_MAX entries already. */
int ac_store_entry(ac_decision *d, uint32_t g);

/* The head of a stage over store entries: its answer when the host
 * reported a store failure (AC_STAGE_NEXT: on_store_error "allow";
 * AC_STAGE_DONE: 503) or the state is missing (500), else -1. */
int ac_store_gate(ac_ctx *c);

/* The entry of the bucket or counter `kind` ("rl1" limits, "cc1" caps)
 * names for window w of limit or cap `index` (R) and key value v, placed
 * among n_groups groups from group `base` by the state's key; its group
 * in *group, its tag in *tag. -1: the decision holds AC_STORE_OPS_MAX entries (answered 503). */
int ac_store_place(ac_ctx *c, const char kind[4], size_t index, size_t w,
    const ac_rate_limit *R, ac_str v, uint32_t base, uint32_t n_groups,
    uint32_t *group, uint32_t *tag);

/* Once a stage has its entries: 503 if the host finished without one it
 * was asked for, AC_PENDING on the store if one is not supplied yet
 * (waiting), else AC_STAGE_NEXT. */
int ac_store_ready(ac_ctx *c, int waiting);

/* The store key of group g ("g<index>", no NUL); its length. */
size_t ac_store_key(uint32_t g, char key[AC_STORE_KEY_MAX]);

/* The key that places entries in groups: the policy's shared store's
 * (every member of a fleet places alike), else the state's own. */
const uint8_t *ac_store_place_key(const ac_policy *P, const ac_state *S);

/* When every bucket of group g has lapsed (unix seconds): from then on
 * the group is the same as absent. */
int64_t ac_group_expiry(const uint8_t g[AC_GROUP_BYTES]);

#endif
