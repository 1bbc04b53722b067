/*
 * The "api_keys" section of a policy: keys known by their SHA-256
 * (core/ac_apikey.c).
 */
#include "ac_policy_load.h"

const char *const ac_pl_api_keys_members[] = { "header", "bearer", "keys",
	NULL };

/* "api_keys": the header keys come in (and, with "bearer", Authorization:
 * Bearer) and each key by its SHA-256, with the user, role, permissions
 * and resources it stands for. A key of any format matches its hash
 * (ac_apikey_lookup): every hash listed stands for some key a client can
 * send, so none can be loaded that never matches. */
int ac_pl_api_keys(ac_loader *L, ac_policy *P, const cJSON *o)
{
	static const char *const key_allowed[] = { "name", "sha256", "role",
		"permissions", "resources", NULL };
	const cJSON *v, *k;
	size_t save, s2, s3;
	int idx = 0, n;

	P->api_key_header.ptr = "x-api-key";
	P->api_key_header.len = 9;
	if (ac_pl_member_str(L, o, "header", 1, AC_NAME_MAX, &P->api_key_header) < 0 ||
	    ac_pl_member_bool(L, o, "bearer", &P->api_key_bearer) < 0)
		return -1;
	if (!ac_pl_is_token(P->api_key_header) || ac_pl_reserved_header(P->api_key_header)) {
		ac_pl_push_key(L, "header", &save);
		return ac_pl_bad(L, "must be an HTTP token and not a header hosts own");
	}
	v = cJSON_GetObjectItemCaseSensitive(o, "keys");
	ac_pl_push_key(L, "keys", &save);
	P->api_keys = ac_pl_take_list(L, v, AC_APIKEYS_MAX,
	    sizeof(ac_apikey_entry), "must be an array of keys",
	    "more than 256 API keys");
	if (P->api_keys == NULL)
		return -1;
	for (k = v->child; k != NULL; k = k->next, idx++) {
		ac_apikey_entry *E = &P->api_keys[P->n_api_keys];
		const cJSON *h;
		size_t j;
		memset(E, 0, sizeof *E);
		ac_pl_push_index(L, idx, &s2);
		if (ac_pl_members(L, k, key_allowed) < 0 ||
		    ac_pl_member_str(L, k, "name", 1, AC_NAME_MAX, &E->name) < 0 ||
		    ac_pl_member_str(L, k, "role", 1, AC_NAME_MAX, &E->role) < 0)
			return -1;
		if (E->name.ptr == NULL)
			return ac_pl_bad(L, "missing \"name\" (it becomes the user)");
		for (j = 0; j < E->name.len; j++)
			if ((unsigned char)E->name.ptr[j] < 0x20 || E->name.ptr[j] == 0x7f)
				return ac_pl_bad(L, "\"name\" must not hold control characters");
		if (E->role.ptr != NULL && memchr(E->role.ptr, ',', E->role.len))
			return ac_pl_bad(L, "\"role\" must not hold a comma");
		h = cJSON_GetObjectItemCaseSensitive(k, "sha256");
		ac_pl_push_key(L, "sha256", &s3);
		if (!cJSON_IsString(h) || ac_apikey_hash_parse(E->hash,
		    h->valuestring, strlen(h->valuestring)) < 0)
			return ac_pl_bad(L, "must be the SHA-256 of the key as 64 lowercase hex digits (authcore apikey new prints it)");
		ac_pl_pop(L, s3);
		for (j = 0; j < P->n_api_keys; j++)
			if (memcmp(P->api_keys[j].hash, E->hash, 32) == 0)
				return ac_pl_bad(L, "the same key hash twice");
		if ((h = cJSON_GetObjectItemCaseSensitive(k, "permissions")) != NULL) {
			ac_pl_push_key(L, "permissions", &s3);
			if (ac_pl_str_list(L, h, E->permissions,
			    AC_APIKEY_PERMISSIONS_MAX, AC_NAME_MAX,
			    &E->n_permissions) < 0)
				return -1;
			ac_pl_pop(L, s3);
		}
		if ((h = cJSON_GetObjectItemCaseSensitive(k, "resources")) != NULL) {
			ac_pl_push_key(L, "resources", &s3);
			if (ac_pl_str_list(L, h, E->resources,
			    AC_APIKEY_RESOURCES_MAX, AC_RESOURCE_PATTERN_MAX,
			    &E->n_resources) < 0)
				return -1;
			for (n = 0; n < (int)E->n_resources; n++) {
				size_t s4;
				const char *why = ac_pl_pattern_problem(E->resources[n]);
				ac_pl_push_index(L, n, &s4);
				if (why != NULL)
					return ac_pl_bad(L, why);
				ac_pl_pop(L, s4);
			}
			ac_pl_pop(L, s3);
		}
		P->n_api_keys++;
		ac_pl_pop(L, s2);
	}
	ac_pl_pop(L, save);
	return 0;
}
