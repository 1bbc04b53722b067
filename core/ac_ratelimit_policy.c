/*
 * The "rate_limits" section (core/ac_ratelimit.c applies it): a list of
 * limits, each with optional methods and a path pattern, a key and one or
 * several windows in the limits grammar ("10/second;100/minute"), an
 * optional default for requests no listed limit covers, the store's size
 * in keys, whether allowed answers carry the RateLimit headers, and what a
 * store that cannot be read means.
 */
#include <stdio.h>

#include "ac_policy_load.h"

const char *const ac_pl_rate_limits_members[] = { "limits", "default",
	"connections", "store", "headers", "on_store_error", NULL };

#define RL_STORE_DEFAULT 65536   /* keys: 2 MiB at 32 bytes per key */
#define RL_PERIOD_MAX 31622400   /* seconds: 366 days */
/* every window of every limit is a bucket a request may read: they must
 * fit one decision's reads */
#define RL_BUCKETS_MAX AC_STORE_OPS_MAX

/* "10/second;100/minute": one to AC_RL_WINDOWS_MAX windows. */
static int load_windows(ac_loader *L, const cJSON *v, ac_rate_limit *R)
{
	const char *s, *e;
	char one[64];
	size_t i, k;

	if (!cJSON_IsString(v) || v->valuestring[0] == 0)
		return ac_pl_bad(L, "must be a limit such as \"100/minute\", or several joined by ';' (\"10/second;100/minute\")");
	for (s = v->valuestring;; s = e + 1) {
		uint32_t count;
		int64_t period;
		const char *why;

		e = strchr(s, ';');
		if (e == NULL)
			e = s + strlen(s);
		if ((size_t)(e - s) >= sizeof one)
			return ac_pl_bad(L, "a window is longer than 63 bytes");
		memcpy(one, s, (size_t)(e - s));
		one[e - s] = 0;
		if (R->n_windows == AC_RL_WINDOWS_MAX)
			return ac_pl_bad(L, "more than 4 windows");
		if (ac_limit_parse(one, &count, &period, &why) < 0)
			return ac_pl_bad(L, why);
		if (period > RL_PERIOD_MAX)
			return ac_pl_bad(L, "a window is longer than 366 days");
		if ((uint64_t)count > (uint64_t)period * AC_BUCKET_RATE_MAX)
			return ac_pl_bad(L, "faster than 1000 per second: buckets keep milliseconds, so a faster limit could not be kept exactly");
		for (k = 0; k < R->n_windows; k++)
			if (R->windows[k].period == (uint32_t)period)
				return ac_pl_bad(L, "two windows of the same length");
		R->windows[R->n_windows].count = count;
		R->windows[R->n_windows].period = (uint32_t)period;
		R->n_windows++;
		if (*e == 0)
			break;
	}
	for (i = 0; i < R->n_windows; i++)
		if (ac_window_interval(&R->windows[i]) == 0)
			return ac_pl_bad(L, "an empty window");
	return 0;
}

/* "client", "user", "api_key", "role" or "header:<name>"; for a
 * connection cap also "global". */
static int load_key(ac_loader *L, const cJSON *v, ac_rate_limit *R,
    int cap)
{
	static const struct { const char *name; int kind; } kinds[] = {
		{ "client", 'C' }, { "user", 'U' }, { "api_key", 'K' },
		{ "role", 'R' }, { "global", 'G' },
	};
	size_t i, n = sizeof kinds / sizeof kinds[0] - (cap ? 0 : 1);

	if (!cJSON_IsString(v))
		return ac_pl_bad(L, cap ? "must be \"global\", \"client\", \"user\", \"api_key\", \"role\" or \"header:<name>\"" :
		    "must be \"client\", \"user\", \"api_key\", \"role\" or \"header:<name>\"");
	for (i = 0; i < n; i++)
		if (strcmp(v->valuestring, kinds[i].name) == 0) {
			R->key = kinds[i].kind;
			return 0;
		}
	if (strncmp(v->valuestring, "header:", 7) == 0) {
		cJSON tmp = *v;
		tmp.valuestring = v->valuestring + 7;
		if (ac_pl_str(L, &tmp, 1, AC_NAME_MAX, &R->header) < 0)
			return -1;
		if (!ac_pl_is_token(R->header))
			return ac_pl_bad(L, "the header name is not an HTTP token");
		R->key = 'H';
		return 0;
	}
	return ac_pl_bad(L, cap ? "unknown key: must be \"global\", \"client\", \"user\", \"api_key\", \"role\" or \"header:<name>\"" :
	    "unknown key: must be \"client\", \"user\", \"api_key\", \"role\" or \"header:<name>\"");
}

#define KIND_LIMIT 0
#define KIND_DEFAULT 1
#define KIND_CAP 2
/* A limit, the default, or a connection cap (kind). */
static int load_limit(ac_loader *L, const cJSON *o, ac_rate_limit *R,
    int kind, size_t idx)
{
	static const char *const allowed[] = { "name", "methods", "path",
		"key", "limit", NULL };
	static const char *const dflt_allowed[] = { "name", "key", "limit",
		NULL };
	static const char *const cap_allowed[] = { "name", "methods", "path",
		"key", "max", NULL };
	const cJSON *v;
	size_t s2;
	char nm[24];
	int is_default = kind == KIND_DEFAULT;

	memset(R, 0, sizeof *R);
	R->is_default = is_default;
	if (ac_pl_members(L, o, kind == KIND_CAP ? cap_allowed :
	    is_default ? dflt_allowed : allowed) < 0)
		return -1;
	if (ac_pl_member_str(L, o, "name", 1, 64, &R->name) < 0)
		return -1;
	if (R->name.ptr != NULL) {
		size_t k;
		for (k = 0; k < R->name.len; k++) {
			char c = R->name.ptr[k];
			if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			    (c >= '0' && c <= '9') || c == '-' || c == '_' ||
			    c == '.')) {
				ac_pl_push_key(L, "name", &s2);
				return ac_pl_bad(L, "may hold only letters, digits, '-', '_' and '.'");
			}
		}
	} else {
		/* the identifier clients see in RateLimit-Policy */
		int n = is_default ? snprintf(nm, sizeof nm, "default") :
		    snprintf(nm, sizeof nm, kind == KIND_CAP ? "connections%zu" :
		    "limit%zu", idx);
		char *p = ac_pl_take(L, (size_t)n);
		if (p == NULL)
			return ac_pl_bad(L, "policy needs more memory than given");
		memcpy(p, nm, (size_t)n);
		R->name.ptr = p;
		R->name.len = (size_t)n;
	}
	v = cJSON_GetObjectItemCaseSensitive(o, "key");
	if (v == NULL)
		return ac_pl_bad(L, "missing \"key\"");
	ac_pl_push_key(L, "key", &s2);
	if (load_key(L, v, R, kind == KIND_CAP) < 0)
		return -1;
	ac_pl_pop(L, s2);
	if (kind == KIND_CAP) {
		int64_t max = 0;
		if (cJSON_GetObjectItemCaseSensitive(o, "max") == NULL)
			return ac_pl_bad(L, "missing \"max\"");
		if (ac_pl_member_int(L, o, "max", 1, 1000000, &max,
		    "must be the streams allowed at once, 1 to 1000000") < 0)
			return -1;
		R->max_streams = (uint32_t)max;
		goto where;
	}
	v = cJSON_GetObjectItemCaseSensitive(o, "limit");
	if (v == NULL)
		return ac_pl_bad(L, "missing \"limit\"");
	ac_pl_push_key(L, "limit", &s2);
	if (load_windows(L, v, R) < 0)
		return -1;
	ac_pl_pop(L, s2);
	if (is_default)
		return 0;
where:
	v = cJSON_GetObjectItemCaseSensitive(o, "path");
	if (v != NULL) {
		const char *why;
		ac_pl_push_key(L, "path", &s2);
		if (ac_pl_str(L, v, 1, 512, &R->path) < 0)
			return -1;
		if (R->path.ptr[0] != '/' && !(R->path.len == 1 &&
		    R->path.ptr[0] == '*'))
			return ac_pl_bad(L, "must start with '/'");
		if ((why = ac_pl_pattern_problem(R->path)) != NULL)
			return ac_pl_bad(L, why);
		ac_pl_pop(L, s2);
	}
	if (ac_pl_member_methods(L, o, R->methods, &R->n_methods) < 0)
		return -1;
	return 0;
}

/* "connections": a list of caps on the streams alive at once. */
static int load_caps(ac_loader *L, ac_policy *P, const cJSON *conn)
{
	const cJSON *r;
	size_t save, s2, i, k;
	int idx = 0;

	ac_pl_push_key(L, "connections", &save);
	if (!cJSON_IsArray(conn) || cJSON_GetArraySize(conn) == 0)
		return ac_pl_bad(L, "must be a non-empty array of caps ({\"path\": \"/ws/*\", \"key\": \"user\", \"max\": 4})");
	if (cJSON_GetArraySize(conn) > AC_CONN_CAPS_MAX)
		return ac_pl_bad(L, "more than 8 caps");
	P->conn_caps = ac_pl_take(L, sizeof(ac_rate_limit) *
	    (size_t)cJSON_GetArraySize(conn));
	if (P->conn_caps == NULL)
		return ac_pl_bad(L, "policy needs more memory than given");
	for (r = conn->child; r != NULL; r = r->next, idx++) {
		ac_pl_push_index(L, idx, &s2);
		if (load_limit(L, r, &P->conn_caps[P->n_conn_caps], KIND_CAP,
		    (size_t)idx) < 0)
			return -1;
		P->n_conn_caps++;
		ac_pl_pop(L, s2);
	}
	for (i = 0; i < P->n_conn_caps; i++)
		for (k = 0; k < i; k++)
			if (ac_str_eq(P->conn_caps[k].name,
			    P->conn_caps[i].name.ptr,
			    P->conn_caps[i].name.len))
				return ac_pl_bad(L, "two caps with the same \"name\"");
	ac_pl_pop(L, save);
	return 0;
}

int ac_pl_rate_limits(ac_loader *L, ac_policy *P, const cJSON *v)
{
	static const char *const on_error[] = { "deny", "allow", "local",
		NULL };
	const cJSON *lim = cJSON_GetObjectItemCaseSensitive(v, "limits");
	const cJSON *dflt = cJSON_GetObjectItemCaseSensitive(v, "default");
	const cJSON *conn = cJSON_GetObjectItemCaseSensitive(v, "connections");
	const cJSON *r;
	int64_t store = RL_STORE_DEFAULT;
	size_t n = 0, save, s2, i, buckets = 0;
	int idx = 0, fail = P->store_redis ? 2 : 0;

	if (lim == NULL && dflt == NULL && conn == NULL)
		return ac_pl_bad(L, "needs \"limits\", a \"default\" or \"connections\" (an empty section limits nothing)");
	if (lim != NULL) {
		ac_pl_push_key(L, "limits", &save);
		if (!cJSON_IsArray(lim) || cJSON_GetArraySize(lim) == 0)
			return ac_pl_bad(L, "must be a non-empty array of limits");
		if (cJSON_GetArraySize(lim) > AC_RL_LIMITS_MAX)
			return ac_pl_bad(L, "more than 32 limits");
		n = (size_t)cJSON_GetArraySize(lim);
		ac_pl_pop(L, save);
	}
	P->rate_limits = n + (dflt != NULL) == 0 ? NULL :
	    ac_pl_take(L, sizeof(ac_rate_limit) * (n + (dflt != NULL)));
	if (P->rate_limits == NULL && n + (dflt != NULL) > 0)
		return ac_pl_bad(L, "policy needs more memory than given");
	if (lim != NULL) {
		ac_pl_push_key(L, "limits", &save);
		for (r = lim->child; r != NULL; r = r->next, idx++) {
			ac_pl_push_index(L, idx, &s2);
			if (load_limit(L, r, &P->rate_limits[P->n_rate_limits],
			    KIND_LIMIT, (size_t)idx) < 0)
				return -1;
			P->n_rate_limits++;
			ac_pl_pop(L, s2);
		}
		ac_pl_pop(L, save);
	}
	if (dflt != NULL) {
		ac_pl_push_key(L, "default", &save);
		if (load_limit(L, dflt, &P->rate_limits[P->n_rate_limits],
		    KIND_DEFAULT, 0) < 0)
			return -1;
		P->n_rate_limits++;
		ac_pl_pop(L, save);
	}
	for (i = 0; i < P->n_rate_limits; i++) {
		size_t k;
		buckets += P->rate_limits[i].n_windows;
		for (k = 0; k < i; k++)
			if (ac_str_eq(P->rate_limits[k].name,
			    P->rate_limits[i].name.ptr,
			    P->rate_limits[i].name.len))
				return ac_pl_bad(L, "two limits with the same \"name\"");
	}
	if (conn != NULL && load_caps(L, P, conn) < 0)
		return -1;
	if (buckets + P->n_conn_caps > RL_BUCKETS_MAX)
		return ac_pl_bad(L, P->n_conn_caps ? "more than 16 windows and connection caps in all (a request reads at most 16 entries)" :
		    "more than 16 windows in all (a request reads at most 16 buckets)");
	if (ac_pl_member_int(L, v, "store", 64, 1 << 26, &store,
	    "must be the number of keys kept, 64 to 67108864 (32 bytes each)") < 0)
		return -1;
	/* groups of 8 buckets at 32 bytes per key: 2 keys per group on
	 * average (core/ac_table.c) */
	P->rl_groups = (uint32_t)(((uint64_t)store * 32) / AC_GROUP_BYTES);
	/* counters of live streams: 8 per group, kept until released; an
	 * eighth of the store's room, at least 8 groups */
	if (P->n_conn_caps > 0)
		P->conn_groups = P->rl_groups / 8 > 8 ? P->rl_groups / 8 : 8;
	if (ac_pl_member_bool(L, v, "headers", &P->rl_headers) < 0)
		return -1;
	if (ac_pl_member_enum(L, v, "on_store_error", on_error,
	    "must be \"deny\", \"allow\" or \"local\"", &fail) < 0)
		return -1;
	if (fail == 2 && !P->store_redis) {
		ac_pl_push_key(L, "on_store_error", &save);
		return ac_pl_bad(L, "\"local\" falls back from a shared \"store\" to the host's own: the policy has none");
	}
	P->rl_fail_open = fail == 1;
	P->rl_fail_local = fail == 2;
	return 0;
}
