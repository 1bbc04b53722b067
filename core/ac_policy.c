/*
 * Policy loading: JSON -> compiled ac_policy, in caller memory.
 *
 * cJSON parses the document; its allocator hooks are pointed at a bump
 * arena carved from the top of the caller's buffer while the compiled policy
 * grows from the bottom. cJSON's hooks are process-global, so they are set
 * just for the parse and restored right after (the one place that touches
 * them). Nothing comes from the system heap.
 *
 * Every value is validated with its JSON path ("$.jwt.keys[0].secret") and
 * unknown members are refused, so a typo never silently weakens a policy.
 *
 * Each top-level member is a section with a parser beside the concept it
 * configures (core/ac_<concept>_policy.c, sharing core/ac_policy_load.h);
 * the section table below says in which order they load, which members an
 * object section takes, and what a section needs. The checks across
 * sections are together, after the table.
 */
#include <stdio.h>

#include "ac_policy_load.h"

/* The only mutable state outside caller memory: the arena cJSON's global
 * allocator hooks serve during one parse. Thread-local so concurrent loads
 * on different threads do not share it. */
static _Thread_local ac_loader *active_loader;

static void *arena_alloc(size_t n)
{
	ac_loader *L = active_loader;
	size_t a = (n + 15u) & ~(size_t)15u;

	if (L == NULL || a < n || L->hi < a || L->hi - a < L->lo)
		return NULL;
	L->hi -= a;
	if (L->hi < L->min_hi)
		L->min_hi = L->hi;
	return L->base + L->hi;
}

static void arena_free(void *p)
{
	(void)p; /* the whole arena is dropped after the parse */
}

size_t ac_policy_mem_bound(size_t json_len)
{
	/* cJSON: at most one node (<= 64 bytes, +16 alignment) and one
	 * string copy per input byte, in the worst case; plus the compiled
	 * policy, whose strings are copies of input strings. */
	return 15u + sizeof(ac_policy) + 160u * json_len + 65536u;
}

/* ---- the document's own sections */
static int load_version(ac_loader *L, ac_policy *P, const cJSON *v)
{
	(void)P;
	if (!cJSON_IsNumber(v) || v->valuedouble != 1)
		return ac_pl_bad(L, "must be 1");
	return 0;
}

/* ---- the section table */
typedef struct {
	const char *name;            /* top-level member; NULL: a check only */
	const char *const *members;  /* an object section's members */
	/* runs whether or not the member is given: defaults, memory */
	int (*init)(ac_loader *L, ac_policy *P, const cJSON *v);
	/* a member that must be given with this one, and why not */
	const char *needs, *needs_why;
	/* runs when the member is given: its path pushed, members checked */
	int (*load)(ac_loader *L, ac_policy *P, const cJSON *v);
	/* a check across the rows above it */
	int (*check)(ac_loader *L, const ac_policy *P);
	unsigned flags;
} section;

#define SEC_AUTHN 1u /* a way clients authenticate: a policy needs one */

static int check_header_names(ac_loader *L, const ac_policy *P);

/* In load order: a row reads only what rows above it compiled (the
 * login's title defaults to the realm, users' hashes are checked against
 * "passwords", the header-name check reads every header named above it).
 * A policy with several faults is refused for the first in this order. */
static const section sections[] = {
	{ .name = "request", .members = ac_pl_request_members,
	  .init = ac_pl_request_init, .load = ac_pl_request },
	{ .name = "trusted_proxies", .load = ac_pl_trusted_proxies },
	{ .name = "version", .load = load_version },
	{ .name = "store", .members = ac_pl_store_members,
	  .load = ac_pl_store },
	{ .name = "realm", .init = ac_pl_realm_init, .load = ac_pl_realm },
	{ .name = "jwt", .members = ac_pl_jwt_members,
	  .init = ac_pl_jwt_init, .load = ac_pl_jwt, .flags = SEC_AUTHN },
	{ .name = "sessions", .members = ac_pl_sessions_members,
	  .load = ac_pl_sessions, .flags = SEC_AUTHN },
	{ .name = "api_keys", .members = ac_pl_api_keys_members,
	  .load = ac_pl_api_keys, .flags = SEC_AUTHN },
	{ .name = "passwords", .members = ac_pl_passwords_members,
	  .init = ac_pl_passwords_init, .load = ac_pl_passwords },
	{ .name = "users", .init = ac_pl_users_init, .load = ac_pl_users,
	  .needs = "login",
	  .needs_why = "users log in through \"login\": add it" },
	{ .name = "login", .members = ac_pl_login_members,
	  .load = ac_pl_login, .needs = "sessions",
	  .needs_why = "needs \"sessions\" (a login issues a session cookie)" },
	{ .name = "oidc", .members = ac_pl_oidc_members, .load = ac_pl_oidc,
	  .needs = "login",
	  .needs_why = "needs \"login\": a sign-in through a provider ends in a session" },
	{ .name = "login_url", .load = ac_pl_login_url },
	{ .name = "identity_headers",
	  .members = ac_pl_identity_headers_members,
	  .init = ac_pl_identity_headers_init,
	  .load = ac_pl_identity_headers },
	{ .name = "require_https", .load = ac_pl_require_https },
	{ .name = "security_headers",
	  .members = ac_pl_security_headers_members,
	  .init = ac_pl_security_headers_init,
	  .load = ac_pl_security_headers },
	{ .name = "cors", .members = ac_pl_cors_members, .load = ac_pl_cors },
	{ .name = "public", .load = ac_pl_public },
	{ .name = "rules", .load = ac_pl_rules },
	{ .name = "roles", .load = ac_pl_roles },
	{ .name = "resources", .load = ac_pl_resources },
	{ .name = "rate_limits", .members = ac_pl_rate_limits_members,
	  .load = ac_pl_rate_limits },
	{ .name = "upstream_identity",
	  .members = ac_pl_upstream_identity_members,
	  .load = ac_pl_upstream_identity },
	{ .check = ac_pl_store_check },
	{ .check = check_header_names },
	{ .check = ac_pl_login_url_check },
	{ .name = "default", .load = ac_pl_default },
	{ .name = "audit", .members = ac_pl_audit_members,
	  .init = ac_pl_audit_init, .load = ac_pl_audit },
};
#define N_SECTIONS (sizeof sections / sizeof sections[0])

static const cJSON *member(const cJSON *o, const char *name)
{
	return cJSON_GetObjectItemCaseSensitive(o, name);
}

/* ---- checks across sections, together. Besides the table's `needs`,
 * each runs where its fault has always been reported: one of the
 * SEC_AUTHN sections before the first of them loads, header names after
 * the rules, the login's users once the environment is read. */
/* "missing \"jwt\", \"sessions\" or \"api_keys\" (...)" unless one of the
 * SEC_AUTHN sections is given. */
static int check_authn(ac_loader *L, const cJSON *root)
{
	char msg[200];
	size_t i, o, k = 0, n = 0;

	for (i = 0; i < N_SECTIONS; i++) {
		if (!(sections[i].flags & SEC_AUTHN))
			continue;
		if (member(root, sections[i].name) != NULL)
			return 0;
		n++;
	}
	o = (size_t)snprintf(msg, sizeof msg, "missing ");
	for (i = 0; i < N_SECTIONS && o < sizeof msg; i++) {
		if (!(sections[i].flags & SEC_AUTHN))
			continue;
		k++;
		o += (size_t)snprintf(msg + o, sizeof msg - o, "%s\"%s\"",
		    k == 1 ? "" : k == n ? " or " : ", ", sections[i].name);
	}
	if (o < sizeof msg)
		snprintf(msg + o, sizeof msg - o, " (how clients authenticate)");
	return ac_pl_bad(L, msg);
}

/* Requests with '_' in a header name are refused (unless
 * request.underscore_headers is "allow"), so a header the policy names with
 * one could never be read: refused, with where it was named. Runs once
 * every section that names a header has loaded. */
static int check_header_names(ac_loader *L, const ac_policy *P)
{
	size_t i, save;
	const char *where = NULL;
	ac_str n[4 + AC_SOURCES_MAX + AC_CLAIM_HEADERS_MAX];
	size_t k = 0;

	if (P->allow_underscore)
		return 0;
	n[k++] = P->user_header;
	n[k++] = P->roles_header;
	n[k++] = P->api_key_header;
	n[k++] = P->n_session_keys ? P->csrf_header : (ac_str){ NULL, 0 };
	for (i = 0; i < P->n_sources; i++)
		if (P->sources[i].kind == 'H')
			n[k++] = P->sources[i].name;
	for (i = 0; i < P->n_claim_headers; i++)
		n[k++] = P->claim_headers[i].header;
	for (i = 0; i < k; i++)
		if (n[i].ptr != NULL && memchr(n[i].ptr, '_', n[i].len) != NULL)
			where = i < 2 ? "identity_headers" : i == 2 ? "api_keys" :
			    i == 3 ? "sessions" : "jwt";
	for (i = 0; i < P->n_rate_limits; i++)
		if (P->rate_limits[i].key == 'H' &&
		    memchr(P->rate_limits[i].header.ptr, '_',
		    P->rate_limits[i].header.len) != NULL)
			where = "rate_limits";
	if (P->assert_id.on && memchr(P->assert_id.header.ptr, '_',
	    P->assert_id.header.len) != NULL)
		where = "upstream_identity";
	for (i = 0; i < P->n_conn_caps; i++)
		if (P->conn_caps[i].key == 'H' &&
		    memchr(P->conn_caps[i].header.ptr, '_',
		    P->conn_caps[i].header.len) != NULL)
			where = "rate_limits";
	if (where == NULL)
		return 0;
	ac_pl_at(L, "$");
	ac_pl_push_key(L, where, &save);
	return ac_pl_bad(L, "names a header with '_', which requests may not carry unless \"request\": {\"underscore_headers\": \"allow\"}");
}

/* A login serves users: from "users" or the environment's administrator.
 * Runs after the environment is read. */
static int check_login_users(ac_loader *L, const ac_policy *P)
{
	if (!P->login)
		return 0;
	if (P->password_login && P->n_users == 0) {
		ac_pl_at(L, "$.users");
		return ac_pl_bad(L, P->n_oidc > 0 ?
		    "the login form needs at least one user (or set \"login\".\"password\": false to sign in through the providers only)" :
		    "the login needs at least one user (in \"users\", or AUTHCORE_ADMIN_USER and AUTHCORE_ADMIN_PASSWORD_HASH)");
	}
	if (!P->password_login && P->n_oidc == 0) {
		ac_pl_at(L, "$.login.password");
		return ac_pl_bad(L, "false leaves no way to sign in: add \"oidc\" providers");
	}
	if (!P->password_login && P->n_users > 0 && !P->basic) {
		ac_pl_at(L, "$.users");
		return ac_pl_bad(L, "these users could never sign in: \"login\".\"password\" is false and \"basic\" is off");
	}
	return 0;
}

/* ---- loading */
static int load_sections(ac_loader *L, ac_policy *P, const cJSON *root)
{
	const char *names[N_SECTIONS + 1];
	size_t i, k = 0, save;
	int authn_checked = 0;

	for (i = 0; i < N_SECTIONS; i++)
		if (sections[i].name != NULL)
			names[k++] = sections[i].name;
	names[k] = NULL;
	if (ac_pl_members(L, root, names) < 0)
		return -1;
	for (i = 0; i < N_SECTIONS; i++) {
		const section *s = &sections[i];
		const cJSON *v = s->name != NULL ? member(root, s->name) : NULL;

		if (s->init != NULL && s->init(L, P, v) < 0)
			return -1;
		if ((s->flags & SEC_AUTHN) && !authn_checked) {
			authn_checked = 1;
			if (check_authn(L, root) < 0)
				return -1;
		}
		if (s->check != NULL && s->check(L, P) < 0)
			return -1;
		if (v == NULL)
			continue;
		ac_pl_push_key(L, s->name, &save);
		if (s->members != NULL && ac_pl_members(L, v, s->members) < 0)
			return -1;
		if (s->needs != NULL && member(root, s->needs) == NULL)
			return ac_pl_bad(L, s->needs_why);
		if (s->load(L, P, v) < 0)
			return -1;
		ac_pl_pop(L, save);
	}
	return 0;
}

static void parse_error_at(ac_loader *L, const char *json, size_t json_len,
    const char *at)
{
	size_t line = 1, col = 1, i, off;
	char msg[96];

	off = (at != NULL && at >= json && at <= json + json_len) ?
	    (size_t)(at - json) : json_len;
	for (i = 0; i < off; i++) {
		if (json[i] == '\n') {
			line++;
			col = 1;
		} else {
			col++;
		}
	}
	snprintf(msg, sizeof msg, "invalid JSON at line %zu, column %zu",
	    line, col);
	ac_pl_bad(L, msg);
}

const ac_policy *ac_policy_load(void *mem, size_t mem_len, const char *json,
    size_t json_len, size_t *used, ac_policy_error *err)
{
	return ac_policy_load_env(mem, mem_len, json, json_len, NULL, used, err);
}

const ac_policy *ac_policy_load_env(void *mem, size_t mem_len,
    const char *json, size_t json_len, const ac_policy_env *env,
    size_t *used, ac_policy_error *err)
{
	ac_loader L;
	ac_policy *P;
	cJSON *root;
	cJSON_Hooks hooks = { arena_alloc, arena_free };
	const char *end = NULL;
	int rc;

	memset(&L, 0, sizeof L);
	memset(err, 0, sizeof *err);
	L.err = err;
	L.env = env;
	L.path[0] = '$';
	L.path_len = 1;
	{
		/* align the start ourselves: malloc in wasm gives only 8 */
		size_t skip = (16u - ((uintptr_t)mem & 15u)) & 15u;
		if (mem == NULL || mem_len < skip) {
			ac_pl_bad(&L, "policy needs more memory than given");
			return NULL;
		}
		L.base = (uint8_t *)mem + skip;
		mem_len -= skip;
	}
	/* cJSON's arena grows down from an aligned top */
	L.hi = L.min_hi = mem_len & ~(size_t)15u;
	if (json_len > AC_POLICY_JSON_MAX) {
		ac_pl_bad(&L, "policy larger than 1 MiB");
		return NULL;
	}
	P = ac_pl_take(&L, sizeof *P);
	if (P == NULL) {
		ac_pl_bad(&L, "policy needs more memory than given");
		return NULL;
	}
	memset(P, 0, sizeof *P);
	P->sha256 = ac_sha256_class(0);

	active_loader = &L;
	cJSON_InitHooks(&hooks);
	root = cJSON_ParseWithLengthOpts(json, json_len, &end, 0);
	if (root == NULL) {
		cJSON_InitHooks(NULL);
		active_loader = NULL;
		if (L.hi - L.lo < 256)
			ac_pl_bad(&L, "policy needs more memory than given");
		else
			parse_error_at(&L, json, json_len, end);
		return NULL;
	}
	rc = load_sections(&L, P, root);
	if (rc == 0)
		rc = ac_pl_env_admin(&L, P, env);
	if (rc == 0)
		rc = check_login_users(&L, P);
	cJSON_InitHooks(NULL);
	active_loader = NULL;
	/* wipe the parse tree: it held the key secrets */
	memset(L.base + L.min_hi, 0, (mem_len & ~(size_t)15u) - L.min_hi);
	if (rc < 0)
		return NULL;
	*used = (size_t)(L.base - (uint8_t *)mem) + L.lo;
	return P;
}
