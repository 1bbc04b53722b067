/* The stages of a decision (core/ac_decide.c runs them in the order of its
 * table). A feature that shapes requests (a limit, a header rule, an
 * identity provider) is a file with one stage function and an entry in
 * that table; it reads the canonical request from the context and either
 * answers in c->d (returning AC_STAGE_DONE) or hands the request on.
 * Internal: not part of the public API. */
#ifndef AC_STAGE_H
#define AC_STAGE_H

#include "ac_identify.h"

typedef struct {
	const ac_policy *P;
	ac_state *S;              /* NULL: the host gave none */
	const ac_request *raw;    /* the request as the host gave it */
	ac_request req;           /* as decided: canonical target, the client
	                             and scheme trusted_proxies give */
	size_t path_len;          /* bytes of req.path before any '?' */
	int64_t now;
	const uint8_t *entropy;
	size_t entropy_len;
	const ac_verdict *v;      /* a finished password check, or NULL */
	ac_decision *d;           /* the answer */
	ac_ident id;              /* who the caller is, once identified */
} ac_ctx;

#define AC_STAGE_NEXT 1       /* hand the request to the next stage */
#define AC_STAGE_DONE 0       /* c->d holds the answer */
typedef int (*ac_stage_fn)(ac_ctx *c);

/* Sign-in through an OpenID provider: its start and callback routes, and
 * logout through it (core/ac_oidc.c). */
int ac_oidc_stage(ac_ctx *c);

#endif
