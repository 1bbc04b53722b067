/*
 * The access rules of a policy (core/ac_decide.c matches them): "public"
 * paths, "rules" and the "default" for paths no rule names.
 */
#include "ac_policy_load.h"

/* A path pattern, as "public" and rules' "path" take it. */
static int load_path_pattern(ac_loader *L, const cJSON *v, ac_str *out)
{
	const char *why;
	if (ac_pl_str(L, v, 1, 512, out) < 0)
		return -1;
	if (out->ptr[0] != '/' && !(out->len == 1 && out->ptr[0] == '*'))
		return ac_pl_bad(L, "must start with '/'");
	if ((why = ac_pl_pattern_problem(*out)) != NULL)
		return ac_pl_bad(L, why);
	return 0;
}

/* "public": paths served without credentials. */
int ac_pl_public(ac_loader *L, ac_policy *P, const cJSON *v)
{
	const cJSON *p;
	int idx = 0;
	size_t s2;

	if (!cJSON_IsArray(v))
		return ac_pl_bad(L, "must be an array of path patterns");
	if (cJSON_GetArraySize(v) > AC_PUBLIC_MAX)
		return ac_pl_bad(L, "more than 64 public paths");
	for (p = v->child; p != NULL; p = p->next, idx++) {
		ac_pl_push_index(L, idx, &s2);
		if (load_path_pattern(L, p, &P->public_paths[P->n_public]) < 0)
			return -1;
		P->n_public++;
		ac_pl_pop(L, s2);
	}
	return 0;
}

/* A rule's "role": one name, or a non-empty list of names of which any
 * one suffices. */
static int load_roles(ac_loader *L, const cJSON *r, ac_rule *R)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(r, "role");
	size_t save;

	if (v == NULL)
		return 0;
	ac_pl_push_key(L, "role", &save);
	if (ac_pl_names(L, v, 1, 1,
	    "must be a role name or a non-empty array of role names (any one suffices)",
	    &R->roles, &R->n_roles) < 0)
		return -1;
	ac_pl_pop(L, save);
	return 0;
}

/* "rules": method, path, role(s) and permission, first match wins. */
int ac_pl_rules(ac_loader *L, ac_policy *P, const cJSON *arr)
{
	static const char *const allowed[] = { "methods", "path", "role",
		"permission", NULL };
	const cJSON *r;
	int idx = 0;

	P->rules = ac_pl_take_list(L, arr, AC_RULES_MAX, sizeof(ac_rule),
	    "must be an array of rules", "more than 256 rules");
	if (P->rules == NULL)
		return -1;
	for (r = arr->child; r != NULL; r = r->next, idx++) {
		ac_rule *R = &P->rules[P->n_rules];
		const cJSON *v;
		size_t save, s2;

		memset(R, 0, sizeof *R);
		ac_pl_push_index(L, idx, &save);
		if (ac_pl_members(L, r, allowed) < 0)
			return -1;
		v = ac_pl_push_required(L, r, "path", "missing \"path\"", &s2);
		if (v == NULL || load_path_pattern(L, v, &R->path) < 0)
			return -1;
		ac_pl_pop(L, s2);
		if (ac_pl_member_methods(L, r, R->methods, &R->n_methods) < 0)
			return -1;
		if (load_roles(L, r, R) < 0 ||
		    ac_pl_member_str(L, r, "permission", 1, AC_NAME_MAX,
		    &R->permission) < 0)
			return -1;
		P->n_rules++;
		ac_pl_pop(L, save);
	}
	return 0;
}

/* "default": what a path no rule names needs. */
int ac_pl_default(ac_loader *L, ac_policy *P, const cJSON *v)
{
	if (cJSON_IsString(v) && strcmp(v->valuestring, "deny") == 0)
		P->default_deny = 1;
	else if (!(cJSON_IsString(v) &&
	    strcmp(v->valuestring, "authenticated") == 0))
		return ac_pl_bad(L, "must be \"authenticated\" or \"deny\"");
	return 0;
}
