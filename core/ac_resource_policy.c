/*
 * Resource ACLs in a policy (core/ac_resource.c applies them): "roles"
 * (role -> permissions) and "resources".
 */
#include <stdio.h>

#include "ac_policy_load.h"

/* Refuses an object with a member named twice (cJSON keeps both; every
 * name here is the policy's own, so a repeat is a mistake to report). */
static int unique_members(ac_loader *L, const cJSON *o, const char *what)
{
	const cJSON *c, *d;
	char msg[200];

	if (!cJSON_IsObject(o)) {
		snprintf(msg, sizeof msg, "must be an object of %s", what);
		return ac_pl_bad(L, msg);
	}
	for (c = o->child; c != NULL; c = c->next)
		for (d = o->child; d != c; d = d->next)
			if (strcmp(d->string, c->string) == 0) {
				snprintf(msg, sizeof msg,
				    "duplicate member \"%.100s\"", c->string);
				return ac_pl_bad(L, msg);
			}
	return 0;
}

/* A copy of a member's name in the compiled policy. */
static int key_copy(ac_loader *L, const cJSON *c, size_t max, ac_str *out)
{
	size_t n = strlen(c->string);
	char *p;

	if (n == 0 || n > max)
		return ac_pl_bad(L, n == 0 ? "an empty name" : "a name is too long");
	if ((p = ac_pl_take(L, n + 1)) == NULL)
		return ac_pl_bad(L, "policy needs more memory than given");
	memcpy(p, c->string, n + 1);
	out->ptr = p;
	out->len = n;
	return 0;
}

/* ---- "roles": role -> permissions */
int ac_pl_roles(ac_loader *L, ac_policy *P, const cJSON *o)
{
	const cJSON *c;
	int n;

	if (unique_members(L, o, "role: [permissions]") < 0)
		return -1;
	n = cJSON_GetArraySize(o);
	if (n > AC_ROLE_DEFS_MAX)
		return ac_pl_bad(L, "more than 64 roles");
	P->role_defs = ac_pl_take(L, sizeof(ac_role_def) * (size_t)(n ? n : 1));
	if (P->role_defs == NULL)
		return ac_pl_bad(L, "policy needs more memory than given");
	for (c = o->child; c != NULL; c = c->next) {
		ac_role_def *R = &P->role_defs[P->n_role_defs];
		size_t save;

		memset(R, 0, sizeof *R);
		ac_pl_push_key(L, c->string, &save);
		if (key_copy(L, c, AC_NAME_MAX, &R->name) < 0)
			return -1;
		if (ac_pl_names(L, c, 0, 0, "must be an array of permission names",
		    &R->perms, &R->n_perms) < 0)
			return -1;
		P->n_role_defs++;
		ac_pl_pop(L, save);
	}
	return 0;
}

/* ---- "resources" */
static int load_template(ac_loader *L, ac_resource *R, const cJSON *v)
{
	ac_str t;
	const char *at = NULL;
	size_t i;
	const char *why;

	if (ac_pl_str(L, v, 5, 512, &t) < 0)
		return -1;
	for (i = 0; i + 4 <= t.len; i++)
		if (memcmp(t.ptr + i, "{id}", 4) == 0) {
			if (at != NULL)
				return ac_pl_bad(L, "names {id} twice");
			at = t.ptr + i;
		}
	if (t.ptr[0] != '/')
		return ac_pl_bad(L, "must start with '/'");
	if (at == NULL)
		return ac_pl_bad(L, "must name the resource id as a segment {id} (\"/api/pipelines/{id}/*\")");
	R->before.ptr = t.ptr;
	R->before.len = (size_t)(at - t.ptr);
	R->after.ptr = at + 4;
	R->after.len = t.len - R->before.len - 4;
	if (R->before.ptr[R->before.len - 1] != '/' ||
	    (R->after.len > 0 && R->after.ptr[0] != '/'))
		return ac_pl_bad(L, "{id} must be a whole path segment");
	if (memchr(R->before.ptr, '*', R->before.len) != NULL ||
	    memchr(R->before.ptr, '{', R->before.len) != NULL ||
	    memchr(R->after.ptr, '{', R->after.len) != NULL)
		return ac_pl_bad(L, "only the part after {id} may hold '*', and {id} is the only name");
	if (R->after.len > 0 && (why = ac_pl_pattern_problem(R->after)) != NULL)
		return ac_pl_bad(L, why);
	return 0;
}

/* An ACL: id or "prefix*" -> {permission: [roles]}; every permission is
 * one the resource's methods need. */
static int load_acl(ac_loader *L, ac_resource *R, const cJSON *o)
{
	const cJSON *e, *g;
	int n;

	if (unique_members(L, o, "resource id pattern: {permission: [roles]}") < 0)
		return -1;
	n = cJSON_GetArraySize(o);
	if (n == 0)
		return ac_pl_bad(L, "must name at least one resource id pattern");
	if (n > AC_ACL_MAX)
		return ac_pl_bad(L, "more than 256 resource id patterns");
	R->acl = ac_pl_take(L, sizeof(ac_acl_entry) * (size_t)n);
	if (R->acl == NULL)
		return ac_pl_bad(L, "policy needs more memory than given");
	for (e = o->child; e != NULL; e = e->next) {
		ac_acl_entry *E = &R->acl[R->n_acl];
		const char *star;
		size_t save;
		int ng;

		memset(E, 0, sizeof *E);
		ac_pl_push_key(L, e->string, &save);
		if (key_copy(L, e, AC_NAME_MAX, &E->id) < 0)
			return -1;
		star = memchr(E->id.ptr, '*', E->id.len);
		if (star != NULL && star != E->id.ptr + E->id.len - 1)
			return ac_pl_bad(L, "a pattern has one '*', at its end (\"report_*\")");
		if (memchr(E->id.ptr, '/', E->id.len) != NULL)
			return ac_pl_bad(L, "a resource id is one path segment: no '/'");
		E->prefix = star != NULL;
		if (E->prefix)
			E->id.len--;
		if (unique_members(L, e, "permission: [roles]") < 0)
			return -1;
		ng = cJSON_GetArraySize(e);
		if (ng == 0)
			return ac_pl_bad(L, "grants nothing: name a permission and its roles");
		E->grants = ac_pl_take(L, sizeof(ac_acl_grant) * (size_t)ng);
		if (E->grants == NULL)
			return ac_pl_bad(L, "policy needs more memory than given");
		for (g = e->child; g != NULL; g = g->next) {
			ac_acl_grant *G = &E->grants[E->n_grants];
			size_t s2, k;
			int used = 0;

			memset(G, 0, sizeof *G);
			ac_pl_push_key(L, g->string, &s2);
			if (key_copy(L, g, AC_NAME_MAX, &G->perm) < 0)
				return -1;
			for (k = 0; k < R->n_methods; k++)
				if (ac_str_eq(R->perms[k], G->perm.ptr, G->perm.len))
					used = 1;
			if (!used)
				return ac_pl_bad(L, "no method of this resource needs this permission (\"methods\"): it could never grant anything");
			if (ac_pl_names(L, g, 1, 0, "must be a non-empty array of role names",
			    &G->roles, &G->n_roles) < 0)
				return -1;
			E->n_grants++;
			ac_pl_pop(L, s2);
		}
		R->n_acl++;
		ac_pl_pop(L, save);
	}
	return 0;
}

int ac_pl_resources(ac_loader *L, ac_policy *P, const cJSON *arr)
{
	static const char *const allowed[] = { "path", "methods", "acl", NULL };
	const cJSON *r;
	int idx = 0;

	P->resources = ac_pl_take_list(L, arr, AC_RESOURCES_MAX,
	    sizeof(ac_resource), "must be an array of resources",
	    "more than 64 resources");
	if (P->resources == NULL)
		return -1;
	for (r = arr->child; r != NULL; r = r->next, idx++) {
		ac_resource *R = &P->resources[P->n_resources];
		const cJSON *v, *m;
		size_t save, s2, s3;

		memset(R, 0, sizeof *R);
		ac_pl_push_index(L, idx, &save);
		if (ac_pl_members(L, r, allowed) < 0)
			return -1;
		v = ac_pl_push_required(L, r, "path", "missing \"path\"", &s2);
		if (v == NULL || load_template(L, R, v) < 0)
			return -1;
		ac_pl_pop(L, s2);
		v = ac_pl_push_required(L, r, "methods",
		    "missing \"methods\" (method -> permission)", &s2);
		if (v == NULL || unique_members(L, v, "method: permission") < 0)
			return -1;
		if (cJSON_GetArraySize(v) == 0 ||
		    cJSON_GetArraySize(v) > AC_METHODS_MAX + 1)
			return ac_pl_bad(L, "must map 1 to 17 methods (or \"*\") to permissions");
		for (m = v->child; m != NULL; m = m->next) {
			ac_pl_push_key(L, m->string, &s3);
			if (key_copy(L, m, 32, &R->methods[R->n_methods]) < 0)
				return -1;
			if (!ac_pl_is_token(R->methods[R->n_methods]))
				return ac_pl_bad(L, "is not an HTTP method token or \"*\"");
			if (ac_pl_str(L, m, 1, AC_NAME_MAX,
			    &R->perms[R->n_methods]) < 0)
				return -1;
			R->n_methods++;
			ac_pl_pop(L, s3);
		}
		ac_pl_pop(L, s2);
		v = cJSON_GetObjectItemCaseSensitive(r, "acl");
		if (v != NULL) {
			ac_pl_push_key(L, "acl", &s2);
			if (load_acl(L, R, v) < 0)
				return -1;
			ac_pl_pop(L, s2);
		}
		P->n_resources++;
		ac_pl_pop(L, save);
	}
	return 0;
}
