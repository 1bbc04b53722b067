/* The upstream identity assertion (core/ac_assert.c). Internal: not part
 * of the public API. */
#ifndef AC_ASSERT_H
#define AC_ASSERT_H

#include "ac_stage.h"

/* Serves the assertion key's JWKS at upstream_identity.jwks_path (GET,
 * HEAD): no credential asked for. */
int ac_stage_jwks(ac_ctx *c);

/* For an identified caller being forwarded: the signed assertion as the
 * policy's upstream header. 0, or -1 when it cannot be made (the caller
 * refuses the request). */
int ac_assert_add(ac_ctx *c);

#endif
