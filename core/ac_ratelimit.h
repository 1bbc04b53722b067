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

/* The store key of group g ("g<index>", no NUL); its length. */
size_t ac_store_key(uint32_t g, char key[AC_STORE_KEY_MAX]);

/* When every bucket of group g has lapsed (unix seconds): from then on
 * the group is the same as absent. */
int64_t ac_group_expiry(const uint8_t g[AC_GROUP_BYTES]);

#endif
