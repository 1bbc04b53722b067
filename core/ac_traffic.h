/* Traffic policy: the stages of resource ACLs (ac_resource.c), which
 * core/ac_decide.c places in its table. Internal: not part of the public
 * API. */
#ifndef AC_TRAFFIC_H
#define AC_TRAFFIC_H

#include "ac_stage.h"

/* resources: the permission a request's method needs on the resource its
 * path names, granted by the resource's ACL or the caller's roles. */
int ac_stage_resources(ac_ctx *c);
/* 1 if the caller holds `perm`: one of its own permissions, or one the
 * policy's "roles" gives one of its roles. */
int ac_ident_has_permission(const ac_policy *P, const ac_ident *id,
    ac_str perm);

#endif
