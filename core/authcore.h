/*
 * authcore - allocation-free HTTP authentication and authorization core.
 *
 * Contract for every function in this header and the parts it includes:
 *  - No function allocates, performs I/O, reads a clock or keeps global
 *    mutable state. Time (`now`, unix seconds) and randomness (`entropy`)
 *    are arguments.
 *  - Every context is memory the caller places (stack, static, arena).
 *    Sizes of every public struct are also available as functions
 *    (ac_sizeof_*) for FFI and wasm callers that cannot read C headers;
 *    ac_state and ac_decision are opaque and placed by those sizes.
 *  - Strings are (pointer, length) slices; they need not be NUL-terminated
 *    unless a parameter says so.
 *  - Secrets are compared in constant time.
 *
 * Licensed under the MIT license (see LICENSE).
 */
#ifndef AUTHCORE_H
#define AUTHCORE_H

/* The whole API: each part compiles alone, and includes only the parts it
 * needs. */
#include "authcore_base.h"     /* version, limits, reasons, ac_str, ac_wipe */
#include "authcore_jwt.h"      /* JWT and JWS verification, keys, JWKS */
#include "authcore_password.h" /* PBKDF2, password hash strings */
#include "authcore_session.h"  /* sessions, CSRF tokens, API keys */
#include "authcore_policy.h"   /* loading a policy */
#include "authcore_state.h"    /* the mutable state */
#include "authcore_decide.h"   /* requests, what they need, decisions */
#include "authcore_cache.h"    /* the verified-signature cache */
#include "authcore_store.h"    /* store entries, the local table */
#include "authcore_redis.h"    /* the shared store on Redis */
#include "authcore_jwks.h"     /* keys fetched from a JWKS URL */

#endif
