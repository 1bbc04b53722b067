/*
 * authcore - loading a policy.
 * Part of the authcore API (core/authcore.h includes every part); the
 * contract at the top of authcore.h holds for every function here.
 *
 * Licensed under the MIT license (see LICENSE).
 */
#ifndef AUTHCORE_POLICY_H
#define AUTHCORE_POLICY_H

#include "authcore_base.h"
#include "authcore_jwt.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ */
/* Policy (core/ac_policy.c). Parsed with cJSON at load time only; every  */
/* byte cJSON and the compiled policy use comes from `mem`.             */
/* ------------------------------------------------------------------ */
typedef struct ac_policy ac_policy;

typedef struct {
	char path[256];    /* JSON path of the offending value, e.g. $.rules[2].path */
	char message[256]; /* what is wrong with it */
} ac_policy_error;

/* Memory that always suffices to load a policy of json_len bytes. */
size_t ac_policy_mem_bound(size_t json_len);

/* Compiles a JSON policy into mem (any alignment: the start is aligned to
 * 16 bytes internally, which ac_policy_mem_bound accounts for).
 * On success returns the policy (which lives inside mem: mem MUST stay in
 * place and unchanged while the policy is used) and sets *used to the bytes
 * kept. On failure returns NULL and fills err (path + message). Policy load
 * is not thread-safe with other users of cJSON in the same process (cJSON's
 * allocator hooks are global; they are set and restored around the parse). */
const ac_policy *ac_policy_load(void *mem, size_t mem_len, const char *json,
    size_t json_len, size_t *used, ac_policy_error *err);

/* Settings a host takes from its environment (the core reads none).
 * Empty slices (ptr NULL) mean "not set". */
typedef struct {
	ac_str admin_user;          /* AUTHCORE_ADMIN_USER */
	ac_str admin_password_hash; /* AUTHCORE_ADMIN_PASSWORD_HASH */
	int admin_optional;         /* 1: a policy without "login" ignores the
	                               administrator instead of being refused
	                               (hosts that load several policies from
	                               one environment) */
	const ac_str *vars;         /* the environment's AUTHCORE_* variables,
	                               each "NAME=value" (NULL/0: none): the
	                               policy's *_env members name them */
	size_t n_vars;
} ac_policy_env;

/* As ac_policy_load, then the environment's settings: with both admin
 * variables set, a user with that name, that password hash (any format
 * ac_password_verify_begin takes, within the policy's limits) and the role
 * "admin" is added to the users (a policy that already has a user of that
 * name is refused, as is one variable without the other, and a policy
 * without "login" unless env->admin_optional). Errors name the
 * variable as the path ("$env.AUTHCORE_ADMIN_PASSWORD_HASH"). env may be
 * NULL. */
const ac_policy *ac_policy_load_env(void *mem, size_t mem_len,
    const char *json, size_t json_len, const ac_policy_env *env,
    size_t *used, ac_policy_error *err);

/* Warnings (core/ac_policy_lint.c): what a loaded policy still cannot do
 * as written. A warning has the shape of an error: the JSON path of the
 * member ("$.rules[1].role") and what is wrong with it. Hosts log them at
 * load; `authcore policy check` prints them (and with --strict fails).
 *   - a rule's role or permission that no credential the policy accepts
 *     can carry: no user has it (a user's roles are also its
 *     permissions), no API key has it as its role (or among its
 *     permissions), there is no "jwt" (a token's roles claim can carry
 *     any), no "sessions" without "login" (those are signed elsewhere)
 *     and, for "admin" with "login", no administrator from the
 *     environment;
 *   - a rule whose path lies wholly outside the session cookie's Path
 *     (login.prefix) while sessions are the only credential (no "jwt",
 *     no "api_keys", no login.basic): browsers send no cookie there.
 * Not knowable here: whether the host hands request bodies to the core
 * (a login post needs them); that is the host's setting, so the host
 * checks it.
 * Writes at most cap warnings to out (out may be NULL with cap 0) in rule
 * order and returns how many there are in all (more than cap: the rest
 * were not written). Touches nothing but out. */
typedef ac_policy_error ac_policy_warning;
size_t ac_policy_warnings(const ac_policy *policy, ac_policy_warning *out,
    size_t cap);

#ifdef __cplusplus
}
#endif
#endif
