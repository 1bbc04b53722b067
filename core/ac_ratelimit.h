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

/* The store key of group g ("g<index>", no NUL); its length. */
size_t ac_store_key(uint32_t g, char key[AC_STORE_KEY_MAX]);

/* When every bucket of group g has lapsed (unix seconds): from then on
 * the group is the same as absent. */
int64_t ac_group_expiry(const uint8_t g[AC_GROUP_BYTES]);

#endif
