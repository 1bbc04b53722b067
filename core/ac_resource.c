/*
 * Resource ACLs: "resources" name a resource id in a path template
 * ("/api/pipelines/{id}", maybe followed by a glob), the permission each
 * method needs on it, and, per resource id pattern, the roles that hold
 * each permission there; "roles" give roles their permissions.
 *
 * The first resource whose template matches the decoded path decides. Its
 * method map gives the permission needed (HEAD as GET when only GET is
 * listed, "*" for any other method); a method it does not name is refused.
 * With an "acl", the entry for the id decides: the exact id first, else
 * the "prefix*" pattern with the longest prefix ("*" alone is the empty
 * prefix); one of the caller's roles must be listed for the permission.
 * An id no entry covers is refused, as is a permission its entry does not
 * list. Without an "acl", the caller must hold the permission (its own, or
 * through "roles"). Every refusal is 403 forbidden.
 */
#include "ac_reply.h"
#include "ac_traffic.h"

int ac_ident_has_permission(const ac_policy *P, const ac_ident *id,
    ac_str perm)
{
	size_t i, k;

	if (ac_str_in_list(id->perms, id->n_perms, perm))
		return 1;
	for (i = 0; i < P->n_role_defs; i++) {
		const ac_role_def *R = &P->role_defs[i];
		for (k = 0; k < id->n_roles; k++)
			if (ac_str_eq(id->roles[k], R->name.ptr, R->name.len) &&
			    ac_str_in_list(R->perms, R->n_perms, perm))
				return 1;
	}
	return 0;
}

/* The id the template names in the decoded path m, or ptr NULL. */
static ac_str template_id(const ac_resource *R, ac_str m)
{
	ac_str id = { NULL, 0 };
	size_t e;

	if (m.len < R->before.len ||
	    memcmp(m.ptr, R->before.ptr, R->before.len) != 0)
		return id;
	for (e = R->before.len; e < m.len && m.ptr[e] != '/'; e++)
		;
	if (e == R->before.len || !ac_wild_match(R->after.ptr, R->after.len,
	    m.ptr + e, m.len - e))
		return id;
	id.ptr = m.ptr + R->before.len;
	id.len = e - R->before.len;
	return id;
}

/* The permission method m needs on R, or ptr NULL: none. */
static ac_str method_perm(const ac_resource *R, ac_str m)
{
	ac_str none = { NULL, 0 };
	size_t i;
	int any = -1, get = -1;

	for (i = 0; i < R->n_methods; i++) {
		if (ac_str_eq(R->methods[i], m.ptr, m.len))
			return R->perms[i];
		if (ac_str_eq(R->methods[i], "*", 1))
			any = (int)i;
		if (ac_str_eq(R->methods[i], "GET", 3))
			get = (int)i;
	}
	if (get >= 0 && ac_str_eq(m, "HEAD", 4))
		return R->perms[get];
	return any >= 0 ? R->perms[any] : none;
}

/* The ACL entry for id: exact, else the longest matching prefix. */
static const ac_acl_entry *acl_entry(const ac_resource *R, ac_str id)
{
	const ac_acl_entry *best = NULL;
	size_t i;

	for (i = 0; i < R->n_acl; i++) {
		const ac_acl_entry *E = &R->acl[i];
		if (!E->prefix && ac_str_eq(id, E->id.ptr, E->id.len))
			return E;
		if (E->prefix && id.len >= E->id.len &&
		    memcmp(id.ptr, E->id.ptr, E->id.len) == 0 &&
		    (best == NULL || E->id.len > best->id.len))
			best = E;
	}
	return best;
}

static int acl_allows(const ac_acl_entry *E, const ac_ident *id,
    ac_str perm)
{
	size_t i, k;

	for (i = 0; E != NULL && i < E->n_grants; i++) {
		const ac_acl_grant *G = &E->grants[i];
		if (!ac_str_eq(G->perm, perm.ptr, perm.len))
			continue;
		for (k = 0; k < id->n_roles; k++)
			if (ac_str_in_list(G->roles, G->n_roles, id->roles[k]))
				return 1;
	}
	return 0;
}

int ac_stage_resources(ac_ctx *c)
{
	const ac_policy *P = c->P;
	ac_decision *d = c->d;
	size_t i;

	for (i = 0; i < P->n_resources; i++) {
		const ac_resource *R = &P->resources[i];
		ac_str rid = template_id(R, d->a.match), perm;
		int ok;

		if (rid.ptr == NULL)
			continue;
		perm = method_perm(R, c->req.method);
		if (perm.ptr == NULL)
			ok = 0;
		else if (R->n_acl > 0)
			ok = acl_allows(acl_entry(R, rid), &c->id, perm);
		else
			ok = ac_ident_has_permission(P, &c->id, perm);
		if (ok)
			return AC_STAGE_NEXT;
		ac_reply_www_authenticate(d, P, "insufficient_scope");
		ac_reply_respond(d, 403, AC_FORBIDDEN);
		return AC_STAGE_DONE;
	}
	return AC_STAGE_NEXT;
}
