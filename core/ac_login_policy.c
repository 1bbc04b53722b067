/*
 * Password logins in a policy (core/ac_login.c, core/ac_password.c):
 * "passwords" (the verifier's limits), "users", "login", and the
 * administrator the environment may add.
 */
#include <stdio.h>

#include "ac_bucket.h"
#include "ac_login.h"
#include "ac_policy_load.h"
#include "ac_throttle.h"

const char *const ac_pl_passwords_members[] = { "max_iterations",
	"max_length", NULL };

/* The verifier's limits apply whether or not "passwords" is given. */
int ac_pl_passwords_init(ac_loader *L, ac_policy *P, const cJSON *v)
{
	(void)L;
	(void)v;
	P->pw_limits.max_iterations = AC_PASSWORD_ITERATIONS_MAX_DEFAULT;
	P->pw_limits.max_password_len = AC_PASSWORD_LEN_MAX_DEFAULT;
	return 0;
}

/* "passwords": the limits stored hashes and typed passwords must keep. */
int ac_pl_passwords(ac_loader *L, ac_policy *P, const cJSON *o)
{
	int64_t it = AC_PASSWORD_ITERATIONS_MAX_DEFAULT;
	int64_t len = AC_PASSWORD_LEN_MAX_DEFAULT;

	if (ac_pl_member_int(L, o, "max_iterations", 1, 4294967295.0, &it,
	    "must be a whole number from 1 to 4294967295") < 0 ||
	    ac_pl_member_int(L, o, "max_length", 1, 4096, &len,
	    "must be a whole number of bytes from 1 to 4096") < 0)
		return -1;
	P->pw_limits.max_iterations = (uint32_t)it;
	P->pw_limits.max_password_len = (size_t)len;
	return 0;
}

/* A stored password hash the verifier will take, within the limits. */
static int check_hash(ac_loader *L, const ac_policy *P, ac_str h)
{
	ac_password_verify_ctx v;
	ac_password_status st = ac_password_verify_begin(&v, h.ptr, h.len,
	    NULL, 0, &P->pw_limits);
	char msg[200];

	ac_password_verify_wipe(&v);
	if (st == AC_PW_PENDING)
		return 0;
	snprintf(msg, sizeof msg, "%s: %s", ac_password_status_name(st),
	    st == AC_PW_UNSUPPORTED ? "want a PBKDF2 hash in PHC, Django, Werkzeug or passlib form (authcore hash-password makes one)" :
	    st == AC_PW_ITERATIONS_OVER_LIMIT ? "more iterations than passwords.max_iterations" :
	    "not a valid PBKDF2 hash string (authcore hash-password makes one)");
	return ac_pl_bad(L, msg);
}

/* A user name or role as sessions carry them (ac_session_issue's rules). */
static int session_text_ok(ac_str s, int role)
{
	size_t i;
	if (s.len == 0 || s.ptr[0] == ' ' || s.ptr[s.len - 1] == ' ')
		return 0;
	for (i = 0; i < s.len; i++) {
		unsigned char c = (unsigned char)s.ptr[i];
		if (c < 0x20 || c == 0x7f || (role && c == ','))
			return 0;
	}
	return 1;
}

/* One slot per user, and a spare for the administrator from the
 * environment, whether or not "users" is given. */
int ac_pl_users_init(ac_loader *L, ac_policy *P, const cJSON *v)
{
	P->users = ac_pl_take(L, sizeof(ac_user) *
	    (size_t)(cJSON_IsArray(v) ? cJSON_GetArraySize(v) + 1 : 1));
	if (P->users == NULL)
		return ac_pl_bad(L, "policy needs more memory than given");
	return 0;
}

/* "users": who logs in with a password, with their roles. */
int ac_pl_users(ac_loader *L, ac_policy *P, const cJSON *arr)
{
	static const char *const allowed[] = { "name", "password_hash",
		"roles", NULL };
	const cJSON *u;
	size_t s2, s3, i, j;
	int idx = 0;

	if (!cJSON_IsArray(arr))
		return ac_pl_bad(L, "must be an array of {\"name\", \"password_hash\", \"roles\"}");
	if (cJSON_GetArraySize(arr) >= AC_USERS_MAX)
		return ac_pl_bad(L, "more than 255 users");
	for (u = arr->child; u != NULL; u = u->next, idx++) {
		ac_user *U = &P->users[P->n_users];
		const cJSON *r;
		memset(U, 0, sizeof *U);
		ac_pl_push_index(L, idx, &s2);
		if (ac_pl_members(L, u, allowed) < 0 ||
		    ac_pl_member_str(L, u, "name", 1, AC_SESSION_USER_MAX, &U->name) < 0 ||
		    ac_pl_member_str(L, u, "password_hash", 1, AC_PASSWORD_STRING_MAX, &U->hash) < 0)
			return -1;
		if (U->name.ptr == NULL)
			return ac_pl_bad(L, "missing \"name\"");
		if (U->hash.ptr == NULL)
			return ac_pl_bad(L, "missing \"password_hash\" (authcore hash-password makes one)");
		ac_pl_push_key(L, "name", &s3);
		if (!session_text_ok(U->name, 0))
			return ac_pl_bad(L, "must not hold control characters or start or end with a space");
		for (j = 0; j < P->n_users; j++)
			if (ac_str_eq(P->users[j].name, U->name.ptr, U->name.len))
				return ac_pl_bad(L, "the same user twice");
		ac_pl_pop(L, s3);
		ac_pl_push_key(L, "password_hash", &s3);
		if (check_hash(L, P, U->hash) < 0)
			return -1;
		ac_session_cred_tag(U->cred, U->hash.ptr, U->hash.len);
		ac_pl_pop(L, s3);
		if ((r = cJSON_GetObjectItemCaseSensitive(u, "roles")) != NULL) {
			ac_pl_push_key(L, "roles", &s3);
			if (ac_pl_str_list(L, r, U->roles, AC_SESSION_ROLES_MAX,
			    AC_SESSION_ROLE_MAX, &U->n_roles) < 0)
				return -1;
			for (i = 0; i < U->n_roles; i++)
				if (!session_text_ok(U->roles[i], 1))
					return ac_pl_bad(L, "a role must not hold a comma or control characters, or start or end with a space");
			ac_pl_pop(L, s3);
		}
		P->n_users++;
		ac_pl_pop(L, s2);
	}
	return 0;
}

const char *const ac_pl_login_members[] = { "prefix", "title", "attempts",
	"basic", "basic_cache_ttl", "client_attempts", "max_pending", "landing",
	"whoami", "password", NULL };

/* A path login.landing or login.whoami may name: where a login may go
 * back to (ac_login_next_ok), without a query for whoami, whose route is
 * matched on the path alone. */
static int own_path(ac_loader *L, const cJSON *o, const char *name,
    int query_ok, ac_str *out)
{
	size_t save;

	if (ac_pl_member_str(L, o, name, 1, AC_NEXT_MAX, out) < 0)
		return -1;
	if (out->ptr == NULL)
		return 0;
	ac_pl_push_key(L, name, &save);
	if (!ac_login_next_ok(*out))
		return ac_pl_bad(L, "must be a path on this site: start with one '/', no spaces, control characters or backslashes");
	if (!query_ok && (memchr(out->ptr, '?', out->len) != NULL ||
	    memchr(out->ptr, '#', out->len) != NULL))
		return ac_pl_bad(L, "must be a path alone: requests are matched on their path, without the query");
	ac_pl_pop(L, save);
	return 0;
}

/* "login": the login endpoints under a prefix, the page title, Basic
 * auth against the users, and the password-guessing budgets. Loads after
 * "sessions" (the section table requires it) and "realm" (the title). */
/* Under a shared store ("store" loads first) the login throttle counts
 * for the whole fleet (core/ac_throttle.c), as GCRA buckets: each limit
 * must have a nonzero interval there. A login without passwords (only
 * "oidc" providers, no "basic") counts nothing: it keeps no entries. */
static int shared_throttle(ac_loader *L, ac_policy *P)
{
	ac_window a = { P->attempts, (uint32_t)P->attempts_window };
	ac_window c = { P->client_attempts, (uint32_t)P->client_window };
	size_t save;

	if (!P->password_login && !P->basic)
		return 0;

	if (P->attempts_window > (int64_t)UINT32_MAX ||
	    ac_window_interval(&a) == 0) {
		ac_pl_push_key(L, "attempts", &save);
		return ac_pl_bad(L, "is too fast for the shared store's counters (at most 1000 per second, windows up to 136 years)");
	}
	if (P->client_window > (int64_t)UINT32_MAX ||
	    ac_window_interval(&c) == 0) {
		ac_pl_push_key(L, "client_attempts", &save);
		return ac_pl_bad(L, "is too fast for the shared store's counters (at most 1000 per second, windows up to 136 years)");
	}
	P->th_groups = AC_THROTTLE_GROUPS;
	return 0;
}

int ac_pl_login(ac_loader *L, ac_policy *P, const cJSON *o)
{
	int64_t max_pending = 8;
	const cJSON *v;
	const char *why;
	size_t save, i;

	P->login = 1;
	P->title = P->realm;
	P->attempts = 5;
	P->attempts_window = 60;
	P->basic_cache_ttl = 60;
	P->client_attempts = 20;
	P->client_window = 60;
	P->prefix.ptr = "";
	P->password_login = 1;
	if (ac_pl_member_str(L, o, "prefix", 1, AC_PREFIX_MAX, &P->prefix) < 0 ||
	    ac_pl_member_bool(L, o, "password", &P->password_login) < 0 ||
	    ac_pl_member_str(L, o, "title", 1, 128, &P->title) < 0 ||
	    ac_pl_member_bool(L, o, "basic", &P->basic) < 0 ||
	    ac_pl_member_int(L, o, "basic_cache_ttl", 0, 3600,
	    &P->basic_cache_ttl, "must be a whole number of seconds, 0 to 3600") < 0 ||
	    ac_pl_member_int(L, o, "max_pending", 1, AC_PENDING_SLOTS,
	    &max_pending, "must be a whole number of checks, 1 to 64") < 0)
		return -1;
	P->max_pending = (uint32_t)max_pending;
	ac_pl_push_key(L, "prefix", &save);
	if (P->prefix.len == 1 && P->prefix.ptr[0] == '/')
		P->prefix.len = 0;
	if (P->prefix.len > 0 && (P->prefix.ptr[0] != '/' ||
	    P->prefix.ptr[P->prefix.len - 1] == '/'))
		return ac_pl_bad(L, "must be \"/\" or start with '/' and not end with one (\"/dashboard\")");
	for (i = 0; i < P->prefix.len; i++) {
		char c = P->prefix.ptr[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '/' || c == '-' || c == '_' ||
		    c == '.' || c == '~') ||
		    (c == '/' && i > 0 && P->prefix.ptr[i - 1] == '/'))
			return ac_pl_bad(L, "only letters, digits, '-', '_', '.', '~' and single '/' between segments");
	}
	ac_pl_pop(L, save);
	if (own_path(L, o, "landing", 1, &P->landing) < 0 ||
	    own_path(L, o, "whoami", 0, &P->whoami) < 0)
		return -1;
	if (P->whoami.ptr != NULL) {
		/* the login and logout routes are matched first: a whoami
		 * path equal to one of them would never answer */
		ac_request r;
		memset(&r, 0, sizeof r);
		r.path = P->whoami;
		if (ac_login_route(P, &r, P->whoami.len) != AC_ROUTE_WHOAMI) {
			ac_pl_push_key(L, "whoami", &save);
			return ac_pl_bad(L, "is the login or the logout path");
		}
	}
	v = cJSON_GetObjectItemCaseSensitive(o, "attempts");
	if (v != NULL) {
		ac_pl_push_key(L, "attempts", &save);
		if (!cJSON_IsString(v))
			return ac_pl_bad(L, "must be one limit such as \"5/minute\" or \"10 per 15 minutes\"");
		if (ac_limit_parse(v->valuestring, &P->attempts,
		    &P->attempts_window, &why) < 0)
			return ac_pl_bad(L, why);
		ac_pl_pop(L, save);
	}
	v = cJSON_GetObjectItemCaseSensitive(o, "client_attempts");
	if (v != NULL) {
		ac_pl_push_key(L, "client_attempts", &save);
		if (!cJSON_IsString(v))
			return ac_pl_bad(L, "must be one limit such as \"20/minute\" or \"100 per hour\"");
		if (ac_limit_parse(v->valuestring, &P->client_attempts,
		    &P->client_window, &why) < 0)
			return ac_pl_bad(L, why);
		ac_pl_pop(L, save);
	}
	if (P->store_redis)
		return shared_throttle(L, P);
	return 0;
}

/* The administrator from the environment, after the document loaded. */
int ac_pl_env_admin(ac_loader *L, ac_policy *P, const ac_policy_env *env)
{
	static const char admin_role[] = "admin";
	ac_str u = env ? env->admin_user : (ac_str){ NULL, 0 };
	ac_str h = env ? env->admin_password_hash : (ac_str){ NULL, 0 };
	ac_user *U;
	char *p;
	size_t i;

	if ((u.ptr == NULL) != (h.ptr == NULL)) {
		ac_pl_at(L, u.ptr == NULL ? "$env.AUTHCORE_ADMIN_USER" :
		    "$env.AUTHCORE_ADMIN_PASSWORD_HASH");
		return ac_pl_bad(L, "must be set too: the administrator needs a name and a password hash");
	}
	if (u.ptr != NULL) {
		ac_pl_at(L, "$env.AUTHCORE_ADMIN_USER");
		if (!P->login && env->admin_optional)
			return 0;
		if (!P->login)
			return ac_pl_bad(L, "the policy has no \"login\" for the administrator to use");
		if (u.len > AC_SESSION_USER_MAX || !session_text_ok(u, 0))
			return ac_pl_bad(L, "must be 1 to 128 bytes without control characters or a leading or trailing space");
		for (i = 0; i < P->n_users; i++)
			if (ac_str_eq(P->users[i].name, u.ptr, u.len))
				return ac_pl_bad(L, "names a user the policy already has");
		ac_pl_at(L, "$env.AUTHCORE_ADMIN_PASSWORD_HASH");
		if (h.len > AC_PASSWORD_STRING_MAX)
			return ac_pl_bad(L, "is too long");
		if (check_hash(L, P, h) < 0)
			return -1;
		U = &P->users[P->n_users];
		memset(U, 0, sizeof *U);
		if ((p = ac_pl_take(L, u.len + h.len + 2)) == NULL)
			return ac_pl_bad(L, "policy needs more memory than given");
		memcpy(p, u.ptr, u.len);
		p[u.len] = 0;
		memcpy(p + u.len + 1, h.ptr, h.len);
		p[u.len + 1 + h.len] = 0;
		U->name.ptr = p;
		U->name.len = u.len;
		U->hash.ptr = p + u.len + 1;
		U->hash.len = h.len;
		ac_session_cred_tag(U->cred, U->hash.ptr, U->hash.len);
		U->roles[0].ptr = admin_role;
		U->roles[0].len = 5;
		U->n_roles = 1;
		P->n_users++;
	}
	return 0;
}

/* "login_url": where browsers without valid credentials are sent, when the
 * login page lives elsewhere: a path on this site, or an http(s) URL. It
 * gets "next" as a query parameter, so it may hold a query but no
 * fragment. */
int ac_pl_login_url(ac_loader *L, ac_policy *P, const cJSON *v)
{
	ac_str u;
	size_t i, host;

	if (ac_pl_str(L, v, 1, AC_NEXT_MAX, &u) < 0)
		return -1;
	for (i = 0; i < u.len; i++) {
		unsigned char c = (unsigned char)u.ptr[i];
		if (c < 0x21 || c > 0x7e || c == '\\' || c == '#' || c == '"' ||
		    c == '<' || c == '>')
			return ac_pl_bad(L, "must be a URL without spaces, control characters, backslashes, quotes, angle brackets or a fragment ('#')");
	}
	if (u.ptr[0] == '/') {
		if (!ac_login_next_ok(u))
			return ac_pl_bad(L, "a path must start with a single '/' (\"//host\" is another site: write https://host/...)");
	} else {
		host = u.len > 8 && memcmp(u.ptr, "https://", 8) == 0 ? 8 :
		    u.len > 7 && memcmp(u.ptr, "http://", 7) == 0 ? 7 : 0;
		if (host == 0 || u.ptr[host] == '/' || u.ptr[host] == '?' ||
		    u.ptr[host] == '@')
			return ac_pl_bad(L, "must be a path (\"/login\") or an http:// or https:// URL with a host");
	}
	P->login_url = u;
	return 0;
}

/* A login_url that is a path must answer a browser without credentials,
 * or each redirect would lead to another: it must be the built-in login
 * page or match a "public" path. Runs after "public" and "login". */
int ac_pl_login_url_check(ac_loader *L, const ac_policy *P)
{
	ac_str u = P->login_url;
	const char *q;
	ac_request r;
	size_t i, n;

	if (u.ptr == NULL || u.ptr[0] != '/')
		return 0;
	q = memchr(u.ptr, '?', u.len);
	n = q != NULL ? (size_t)(q - u.ptr) : u.len;
	memset(&r, 0, sizeof r);
	r.path = u;
	if (P->login && ac_login_route(P, &r, n) == AC_ROUTE_LOGIN)
		return 0;
	for (i = 0; i < P->n_public; i++)
		if (ac_wild_match(P->public_paths[i].ptr, P->public_paths[i].len,
		    u.ptr, n))
			return 0;
	ac_pl_at(L, "$.login_url");
	return ac_pl_bad(L, "names a path that needs credentials: a browser sent there would be sent there again (list it in \"public\", or use the login page's own path)");
}
