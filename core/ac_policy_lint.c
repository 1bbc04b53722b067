/*
 * What a policy that loads still cannot do as written (ac_policy_warnings,
 * core/authcore_policy.h): rules whose role or permission nothing can
 * grant, and rules outside the session cookie's Path when the session is
 * the only credential there. Reads the compiled policy only.
 */
#include <stdio.h>

#include "ac_internal.h"
#include "ac_policy_int.h"

typedef struct {
	ac_policy_warning *out;
	size_t cap;
	size_t n;
} lint;

/* Keeps the warning if there is room; counts it either way. */
static ac_policy_warning *warn(lint *W, size_t rule, const char *member)
{
	ac_policy_warning *w = NULL;
	if (W->n < W->cap) {
		w = &W->out[W->n];
		snprintf(w->path, sizeof w->path, "$.rules[%zu].%s", rule, member);
	}
	W->n++;
	return w;
}

/* 1 if some credential the policy accepts can carry `name` as a role
 * (perm 0) or a permission (perm 1), as ac_identify hands them to the
 * rules: a JWT's roles claim can carry anything; sessions without "login"
 * are signed by another program, whose roles are not known here; a user's
 * roles (session or Basic) are both roles and permissions; an API key
 * has one role and its own permissions; with "login", the administrator
 * from the environment holds "admin". */
static int grantable(const ac_policy *P, ac_str name, int perm)
{
	size_t i;

	if (P->has_jwt || (P->n_session_keys > 0 && !P->login))
		return 1;
	if (P->login && name.len == 5 && memcmp(name.ptr, "admin", 5) == 0)
		return 1;
	for (i = 0; i < P->n_users; i++)
		if (ac_str_in_list(P->users[i].roles, P->users[i].n_roles, name))
			return 1;
	for (i = 0; P->api_key_header.ptr != NULL && i < P->n_api_keys; i++) {
		const ac_apikey_entry *e = &P->api_keys[i];
		if (perm ? ac_str_in_list(e->permissions, e->n_permissions, name) :
		    ac_str_in_list(&e->role, e->role.ptr != NULL, name))
			return 1;
	}
	return 0;
}

/* A warning at any path (printf-style). */
static ac_policy_warning *warn_path(lint *W, const char *fmt, size_t a,
    const char *b, const char *c)
{
	ac_policy_warning *w = NULL;
	if (W->n < W->cap) {
		w = &W->out[W->n];
		snprintf(w->path, sizeof w->path, fmt, a, b, c);
	}
	W->n++;
	return w;
}

/* 1 if a role named in a rule or an ACL is one "roles" defines, or the
 * policy has no "roles": with it, a name it lacks is most likely a typo a
 * token would have to repeat to match. */
static int role_defined(const ac_policy *P, ac_str role)
{
	size_t i;

	if (P->n_role_defs == 0)
		return 1;
	for (i = 0; i < P->n_role_defs; i++)
		if (ac_str_eq(P->role_defs[i].name, role.ptr, role.len))
			return 1;
	return 0;
}

/* A permission the caller can hold: its own (grantable), or given by
 * "roles" to a role it can hold. */
static int perm_grantable(const ac_policy *P, ac_str perm)
{
	size_t i;

	if (grantable(P, perm, 1))
		return 1;
	for (i = 0; i < P->n_role_defs; i++)
		if (ac_str_in_list(P->role_defs[i].perms,
		    P->role_defs[i].n_perms, perm) &&
		    grantable(P, P->role_defs[i].name, 0))
			return 1;
	return 0;
}

/* Resources whose ACLs name roles nothing can hold, or whose methods need
 * a permission nothing can grant (without an ACL). */
static void lint_resources(const ac_policy *P, lint *W)
{
	size_t i, e, g, k;
	ac_policy_warning *w;
	char id[AC_NAME_MAX + 2];

	for (i = 0; i < P->n_resources; i++) {
		const ac_resource *R = &P->resources[i];
		for (k = 0; R->n_acl == 0 && k < R->n_methods; k++)
			if (!perm_grantable(P, R->perms[k]) &&
			    (w = warn_path(W, "$.resources[%zu].methods.%s", i,
			    R->methods[k].ptr, "")) != NULL)
				snprintf(w->message, sizeof w->message, "no "
				    "user, API key, token or \"roles\" entry "
				    "gives permission \"%.*s\": every request "
				    "it matches is 403", (int)R->perms[k].len,
				    R->perms[k].ptr);
		for (e = 0; e < R->n_acl; e++) {
			const ac_acl_entry *E = &R->acl[e];
			snprintf(id, sizeof id, "%.*s%s", (int)E->id.len,
			    E->id.ptr, E->prefix ? "*" : "");
			for (g = 0; g < E->n_grants; g++)
				for (k = 0; k < E->grants[g].n_roles; k++) {
					ac_str role = E->grants[g].roles[k];
					int held = grantable(P, role, 0);
					if ((held && role_defined(P, role)) ||
					    (w = warn_path(W,
					    "$.resources[%zu].acl.%s.%s", i, id,
					    E->grants[g].perm.ptr)) == NULL)
						continue;
					snprintf(w->message, sizeof w->message,
					    held ? "role \"%.*s\" is not in "
					    "\"roles\"" : "no user, API key or "
					    "token can hold role \"%.*s\": it "
					    "never lets a request through",
					    (int)role.len, role.ptr);
				}
		}
	}
}

/* 1 if some path the pattern matches ('*' any run of bytes) is inside the
 * cookie Path `prefix` (RFC 6265 5.1.4: the prefix itself, or it and '/'
 * and more). The pattern's literal start decides: a pattern with a '*'
 * can match inside unless its literal start strays from prefix + "/"
 * before the '*'; one without must be such a path itself. */
static int reaches(ac_str pat, ac_str prefix)
{
	const char *star = memchr(pat.ptr, '*', pat.len);
	size_t lit = star ? (size_t)(star - pat.ptr) : pat.len;
	size_t i;

	for (i = 0; i < lit && i <= prefix.len; i++) {
		char want = i < prefix.len ? prefix.ptr[i] : '/';
		if (pat.ptr[i] != want)
			return 0;
	}
	if (star != NULL)
		return 1;
	/* no '*': the literal path is inside if it is the prefix itself or
	 * went on past prefix + "/" (the loop checked that far) */
	return lit == prefix.len || lit > prefix.len;
}

size_t ac_policy_warnings(const ac_policy *P, ac_policy_warning *out,
    size_t cap)
{
	lint W;
	size_t i, k;
	/* with "login" and sessions the only credential: browsers send the
	 * session cookie only under login.prefix */
	int cookie_only = P->login && P->prefix.len > 0 && !P->has_jwt &&
	    P->api_key_header.ptr == NULL && !P->basic;

	W.out = out;
	W.cap = out != NULL ? cap : 0;
	W.n = 0;
	for (i = 0; i < P->n_rules; i++) {
		const ac_rule *R = &P->rules[i];
		ac_policy_warning *w;
		if (cookie_only && !reaches(R->path, P->prefix) &&
		    (w = warn(&W, i, "path")) != NULL)
			snprintf(w->message, sizeof w->message, "\"%.*s\" is "
			    "outside the session cookie's Path \"%.*s\" "
			    "(login.prefix) and sessions are the only "
			    "credential: every request it matches is 401",
			    (int)R->path.len, R->path.ptr, (int)P->prefix.len,
			    P->prefix.ptr);
		for (k = 0; k < R->n_roles; k++)
			if (grantable(P, R->roles[k], 0) &&
			    !role_defined(P, R->roles[k]) &&
			    (w = warn(&W, i, "role")) != NULL)
				snprintf(w->message, sizeof w->message, "role "
				    "\"%.*s\" is not in \"roles\"",
				    (int)R->roles[k].len, R->roles[k].ptr);
			else if (!grantable(P, R->roles[k], 0) &&
			    (w = warn(&W, i, "role")) != NULL)
				snprintf(w->message, sizeof w->message, "no "
				    "user, API key or token can hold role "
				    "\"%.*s\"%s", (int)R->roles[k].len,
				    R->roles[k].ptr, R->n_roles == 1 ?
				    ": every request it matches is 403" :
				    ": it never lets a request through");
		if (R->permission.ptr != NULL &&
		    !perm_grantable(P, R->permission) &&
		    (w = warn(&W, i, "permission")) != NULL)
			snprintf(w->message, sizeof w->message, "no user, API "
			    "key or token can hold permission \"%.*s\": every "
			    "request it matches is 403", (int)R->permission.len,
			    R->permission.ptr);
	}
	lint_resources(P, &W);
	return W.n;
}
