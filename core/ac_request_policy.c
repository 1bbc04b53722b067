/*
 * How a policy reads the request (core/ac_request.c): the "request"
 * section and "trusted_proxies".
 */
#include "ac_policy_load.h"
#include "ac_request_int.h"

const char *const ac_pl_request_members[] = { "non_canonical_path",
	"underscore_headers", "method_override", "forward_credentials",
	"client_header", NULL };

/* Without "request", client addresses come from X-Forwarded-For. */
int ac_pl_request_init(ac_loader *L, ac_policy *P, const cJSON *v)
{
	(void)L;
	(void)v;
	P->client_header = 'X';
	return 0;
}

/* "request": how the request is read before anything is matched. */
int ac_pl_request(ac_loader *L, ac_policy *P, const cJSON *o)
{
	static const char *const paths[] = { "refuse", "rewrite", NULL };
	static const char *const under[] = { "refuse", "allow", NULL };
	static const char *const over[] = { "strip", "refuse", NULL };
	static const char *const client[] = { "x-forwarded-for", "forwarded",
		NULL };
	int ch = 0;

	if (ac_pl_member_enum(L, o, "non_canonical_path", paths,
	    "must be \"refuse\" or \"rewrite\"", &P->rewrite_paths) < 0 ||
	    ac_pl_member_enum(L, o, "underscore_headers", under,
	    "must be \"refuse\" or \"allow\"", &P->allow_underscore) < 0 ||
	    ac_pl_member_enum(L, o, "method_override", over,
	    "must be \"strip\" or \"refuse\"", &P->refuse_override) < 0 ||
	    ac_pl_member_bool(L, o, "forward_credentials",
	    &P->forward_credentials) < 0 ||
	    ac_pl_member_enum(L, o, "client_header", client,
	    "must be \"x-forwarded-for\" or \"forwarded\"", &ch) < 0)
		return -1;
	P->client_header = ch ? 'F' : 'X';
	return 0;
}

/* "trusted_proxies": the peers whose X-Forwarded-For / Forwarded and
 * X-Forwarded-Proto are believed. */
int ac_pl_trusted_proxies(ac_loader *L, ac_policy *P, const cJSON *arr)
{
	const cJSON *e;
	int idx = 0;

	if (!cJSON_IsArray(arr))
		return ac_pl_bad(L, "must be an array of addresses or CIDR ranges");
	if (cJSON_GetArraySize(arr) > AC_PROXIES_MAX)
		return ac_pl_bad(L, "more than 32 trusted proxy ranges");
	for (e = arr->child; e != NULL; e = e->next, idx++) {
		size_t save;
		ac_pl_push_index(L, idx, &save);
		if (!cJSON_IsString(e) || ac_cidr_parse(e->valuestring,
		    strlen(e->valuestring), &P->proxies[P->n_proxies]) < 0)
			return ac_pl_bad(L, "must be an IPv4 or IPv6 address or CIDR range with no host bits set (\"10.0.0.0/8\", \"::1\")");
		P->n_proxies++;
		ac_pl_pop(L, save);
	}
	return 0;
}
