/*
 * What a policy says about the answers: the "realm" of WWW-Authenticate
 * challenges (and the login page's default title), and the
 * "identity_headers" that tell the upstream who the caller is.
 */
#include "ac_policy_load.h"

int ac_pl_realm_init(ac_loader *L, ac_policy *P, const cJSON *v)
{
	(void)L;
	(void)v;
	P->realm.ptr = "authcore";
	P->realm.len = 8;
	return 0;
}

/* "realm": quoted in challenges, so printable ASCII without '"' or '\'. */
int ac_pl_realm(ac_loader *L, ac_policy *P, const cJSON *v)
{
	size_t i;

	if (ac_pl_str(L, v, 1, 128, &P->realm) < 0)
		return -1;
	for (i = 0; i < P->realm.len; i++) {
		unsigned char c = (unsigned char)P->realm.ptr[i];
		if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\')
			return ac_pl_bad(L, "must be printable ASCII without quotes or backslashes");
	}
	return 0;
}

const char *const ac_pl_identity_headers_members[] = { "user", "roles",
	NULL };

int ac_pl_identity_headers_init(ac_loader *L, ac_policy *P, const cJSON *v)
{
	(void)L;
	(void)v;
	P->user_header.ptr = "x-authcore-user";
	P->user_header.len = 15;
	P->roles_header.ptr = "x-authcore-roles";
	P->roles_header.len = 16;
	return 0;
}

/* "identity_headers": the names of the user and roles headers. */
int ac_pl_identity_headers(ac_loader *L, ac_policy *P, const cJSON *v)
{
	if (ac_pl_member_str(L, v, "user", 1, AC_NAME_MAX, &P->user_header) < 0 ||
	    ac_pl_member_str(L, v, "roles", 1, AC_NAME_MAX, &P->roles_header) < 0)
		return -1;
	if (!ac_pl_is_token(P->user_header) || !ac_pl_is_token(P->roles_header))
		return ac_pl_bad(L, "header names must be HTTP tokens");
	if (ac_pl_reserved_header(P->user_header) ||
	    ac_pl_reserved_header(P->roles_header))
		return ac_pl_bad(L, "must not name a header HTTP or proxies give a meaning (host, authorization, cookie, content-length, ...)");
	if (ac_ascii_ieq(P->user_header.ptr, P->user_header.len,
	    P->roles_header.ptr, P->roles_header.len))
		return ac_pl_bad(L, "user and roles headers must differ");
	return 0;
}
