/* Traffic policy: the stages and answer finishers of HTTPS enforcement,
 * CORS, security headers and resource ACLs (ac_https.c, ac_cors.c,
 * ac_resource.c), which core/ac_decide.c places in its tables. Internal:
 * not part of the public API. */
#ifndef AC_TRAFFIC_H
#define AC_TRAFFIC_H

#include "ac_stage.h"

/* require_https: plain HTTP (the scheme the connection or a trusted
 * proxy gives) is redirected (GET, HEAD: 308 to https) or refused (403
 * https_required). */
int ac_stage_https(ac_ctx *c);
/* Security headers on an answer that is not pending: every answer when
 * the policy has "security_headers", else only the core's own pages (the
 * login page). */
void ac_finish_security(ac_ctx *c);

/* cors: a preflight (OPTIONS with Origin and Access-Control-Request-
 * Method) answered here, 204 or 403 cors_denied, before any credential is
 * asked for. */
int ac_stage_cors(ac_ctx *c);
/* cors: an actual request from an allowed origin gets the origin echoed
 * (and credentials, exposed headers); every answer varies by Origin. */
void ac_finish_cors(ac_ctx *c);

/* resources: the permission a request's method needs on the resource its
 * path names, granted by the resource's ACL or the caller's roles. */
int ac_stage_resources(ac_ctx *c);
/* 1 if the caller holds `perm`: one of its own permissions, or one the
 * policy's "roles" gives one of its roles. */
int ac_ident_has_permission(const ac_policy *P, const ac_ident *id,
    ac_str perm);

#endif
