/*
 * CORS in a policy (core/ac_cors.c applies it): "cors".
 */
#include <stdio.h>

#include "ac_policy_load.h"

/* l[0..n) joined with ", " in the compiled policy (ptr NULL when n is 0). */
static int join(ac_loader *L, const ac_str *l, size_t n, ac_str *out)
{
	size_t i, len = 0, o = 0;
	char *p;

	out->ptr = NULL;
	out->len = 0;
	if (n == 0)
		return 0;
	for (i = 0; i < n; i++)
		len += l[i].len + 2;
	if ((p = ac_pl_take(L, len)) == NULL)
		return ac_pl_bad(L, "policy needs more memory than given");
	for (i = 0; i < n; i++) {
		if (i) {
			p[o++] = ',';
			p[o++] = ' ';
		}
		memcpy(p + o, l[i].ptr, l[i].len);
		o += l[i].len;
	}
	out->ptr = p;
	out->len = o;
	return 0;
}

/* ---- "cors" */
const char *const ac_pl_cors_members[] = { "origins", "methods", "headers",
	"expose", "credentials", "max_age", NULL };

/* Why an origin entry can never match a browser's Origin, or NULL. */
static const char *origin_problem(ac_str o)
{
	const char *sep, *star, *host;
	size_t i, hlen;

	if (ac_str_eq(o, "*", 1))
		return NULL;
	if (ac_str_eq(o, "null", 4))
		return "\"null\" is the origin of sandboxed and file documents: never allowed";
	sep = NULL;
	for (i = 0; i + 2 < o.len; i++)
		if (memcmp(o.ptr + i, "://", 3) == 0) {
			sep = o.ptr + i;
			break;
		}
	if (sep == NULL || sep == o.ptr)
		return "must be an origin (\"https://app.example.com\"), a pattern (\"https://*.example.com\") or \"*\"";
	for (i = 0; o.ptr + i < sep; i++)
		if (!((o.ptr[i] >= 'a' && o.ptr[i] <= 'z') ||
		    (i > 0 && ((o.ptr[i] >= '0' && o.ptr[i] <= '9') ||
		    o.ptr[i] == '+' || o.ptr[i] == '-' || o.ptr[i] == '.'))))
			return "the scheme must be lower case letters (an Origin is sent lower case)";
	host = sep + 3;
	hlen = o.len - (size_t)(host - o.ptr);
	if (hlen == 0)
		return "has no host";
	if (memchr(host, '/', hlen) != NULL)
		return "must not have a path: an Origin is scheme://host[:port]";
	star = memchr(host, '*', hlen);
	if (star != NULL && (star != host || hlen < 3 || host[1] != '.' ||
	    memchr(host + 1, '*', hlen - 1) != NULL))
		return "a pattern is scheme://*.domain[:port], one '*' in front";
	for (i = 0; i < hlen; i++)
		if (host[i] >= 'A' && host[i] <= 'Z')
			return "must be lower case (an Origin is sent lower case)";
	return NULL;
}

int ac_pl_cors(ac_loader *L, ac_policy *P, const cJSON *o)
{
	ac_cors_policy *C = &P->cors;
	const cJSON *v;
	ac_str expose[AC_CORS_HEADERS_MAX];
	size_t n_expose = 0, i, save, s2;
	int64_t max_age = -1;
	char num[24];

	C->on = 1;
	if (ac_pl_member_bool(L, o, "credentials", &C->credentials) < 0)
		return -1;
	v = cJSON_GetObjectItemCaseSensitive(o, "origins");
	if (v == NULL)
		return ac_pl_bad(L, "missing \"origins\"");
	ac_pl_push_key(L, "origins", &save);
	if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) == 0)
		return ac_pl_bad(L, "must be a non-empty array of origins");
	if (ac_pl_str_list(L, v, C->origins, AC_CORS_ORIGINS_MAX, 256,
	    &C->n_origins) < 0)
		return -1;
	for (i = 0; i < C->n_origins; i++) {
		const char *why = origin_problem(C->origins[i]);
		ac_pl_push_index(L, (int)i, &s2);
		if (why != NULL)
			return ac_pl_bad(L, why);
		if (C->credentials && ac_str_eq(C->origins[i], "*", 1))
			return ac_pl_bad(L, "\"*\" with \"credentials\": true would let every site read answers made with the user's credentials; list the origins");
		ac_pl_pop(L, s2);
	}
	ac_pl_pop(L, save);
	v = cJSON_GetObjectItemCaseSensitive(o, "methods");
	if (v != NULL) {
		ac_pl_push_key(L, "methods", &save);
		if (ac_pl_str_list(L, v, C->methods, AC_METHODS_MAX, 32,
		    &C->n_methods) < 0)
			return -1;
		for (i = 0; i < C->n_methods; i++)
			if (!ac_pl_is_token(C->methods[i])) {
				ac_pl_push_index(L, (int)i, &s2);
				return ac_pl_bad(L, "is not an HTTP method token");
			}
		ac_pl_pop(L, save);
	} else {
		static const char *const def[] = { "GET", "HEAD", "POST" };
		for (i = 0; i < 3; i++) {
			C->methods[i].ptr = def[i];
			C->methods[i].len = strlen(def[i]);
		}
		C->n_methods = 3;
	}
	v = cJSON_GetObjectItemCaseSensitive(o, "headers");
	if (v != NULL) {
		ac_pl_push_key(L, "headers", &save);
		if (ac_pl_str_list(L, v, C->headers, AC_CORS_HEADERS_MAX,
		    AC_NAME_MAX, &C->n_headers) < 0)
			return -1;
		for (i = 0; i < C->n_headers; i++)
			if (!ac_pl_is_token(C->headers[i])) {
				ac_pl_push_index(L, (int)i, &s2);
				return ac_pl_bad(L, "is not a header name");
			}
		ac_pl_pop(L, save);
	}
	v = cJSON_GetObjectItemCaseSensitive(o, "expose");
	if (v != NULL) {
		ac_pl_push_key(L, "expose", &save);
		if (ac_pl_str_list(L, v, expose, AC_CORS_HEADERS_MAX,
		    AC_NAME_MAX, &n_expose) < 0)
			return -1;
		for (i = 0; i < n_expose; i++)
			if (!ac_pl_is_token(expose[i])) {
				ac_pl_push_index(L, (int)i, &s2);
				return ac_pl_bad(L, "is not a header name");
			}
		ac_pl_pop(L, save);
	}
	if (ac_pl_member_int(L, o, "max_age", 0, 86400, &max_age,
	    "must be a whole number of seconds, 0 to 86400") < 0)
		return -1;
	if (join(L, C->methods, C->n_methods, &C->allow_methods) < 0 ||
	    join(L, C->headers, C->n_headers, &C->allow_headers) < 0 ||
	    join(L, expose, n_expose, &C->expose) < 0)
		return -1;
	if (max_age >= 0) {
		int n = snprintf(num, sizeof num, "%lld", (long long)max_age);
		char *p = ac_pl_take(L, (size_t)n);
		if (p == NULL)
			return ac_pl_bad(L, "policy needs more memory than given");
		memcpy(p, num, (size_t)n);
		C->max_age.ptr = p;
		C->max_age.len = (size_t)n;
	}
	return 0;
}
