/*
 * HTTPS enforcement and security headers in a policy (core/ac_https.c
 * applies them): "require_https" and "security_headers".
 */
#include "ac_policy_load.h"

/* 1 if a header value is visible ASCII and spaces, not empty. */
static int value_ok(ac_str v)
{
	size_t i;
	if (v.len == 0 || v.ptr[0] == ' ' || v.ptr[v.len - 1] == ' ')
		return 0;
	for (i = 0; i < v.len; i++)
		if ((unsigned char)v.ptr[i] < 0x20 || (unsigned char)v.ptr[i] > 0x7e)
			return 0;
	return 1;
}

/* ---- "require_https" */
int ac_pl_require_https(ac_loader *L, ac_policy *P, const cJSON *v)
{
	if (!cJSON_IsBool(v))
		return ac_pl_bad(L, "must be true or false");
	P->require_https = cJSON_IsTrue(v);
	return 0;
}

/* ---- "security_headers" */
const char *const ac_pl_security_headers_members[] = { "hsts",
	"content_type_options", "frame_options", "frame_ancestors",
	"referrer_policy", "replace", NULL };

/* The values the login page has always carried; the other answers get
 * them only when the policy has "security_headers". */
int ac_pl_security_headers_init(ac_loader *L, ac_policy *P, const cJSON *v)
{
	ac_sec_policy *S = &P->sec;
	(void)L;
	(void)v;
	S->hsts.ptr = "max-age=31536000";
	S->hsts.len = 16;
	S->content_type_options.ptr = "nosniff";
	S->content_type_options.len = 7;
	S->frame_options.ptr = "DENY";
	S->frame_options.len = 4;
	S->referrer_policy.ptr = "same-origin";
	S->referrer_policy.len = 11;
	return 0;
}

/* One header: a string value, or false (not sent). */
static int sec_value(ac_loader *L, const cJSON *o, const char *name,
    ac_str *out, const char *const *only, const char *only_msg)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
	size_t save;
	const char *const *a;

	if (v == NULL)
		return 0;
	ac_pl_push_key(L, name, &save);
	if (cJSON_IsFalse(v)) {
		out->ptr = NULL;
		out->len = 0;
		ac_pl_pop(L, save);
		return 0;
	}
	if (!cJSON_IsString(v))
		return ac_pl_bad(L, "must be a header value or false (not sent)");
	if (ac_pl_str(L, v, 1, 512, out) < 0)
		return -1;
	if (!value_ok(*out))
		return ac_pl_bad(L, "must be printable ASCII without surrounding spaces");
	if (only != NULL) {
		for (a = only; *a != NULL; a++)
			if (ac_ascii_ieq(out->ptr, out->len, *a, strlen(*a)))
				break;
		if (*a == NULL)
			return ac_pl_bad(L, only_msg);
	}
	ac_pl_pop(L, save);
	return 0;
}

int ac_pl_security_headers(ac_loader *L, ac_policy *P, const cJSON *o)
{
	static const char *const xfo[] = { "DENY", "SAMEORIGIN", NULL };
	ac_sec_policy *S = &P->sec;
	ac_str fa = { NULL, 0 };
	char *p;

	S->every = 1;
	if (sec_value(L, o, "hsts", &S->hsts, NULL, NULL) < 0 ||
	    sec_value(L, o, "content_type_options", &S->content_type_options,
	    NULL, NULL) < 0 ||
	    sec_value(L, o, "frame_options", &S->frame_options, xfo,
	    "must be \"DENY\", \"SAMEORIGIN\" or false") < 0 ||
	    sec_value(L, o, "frame_ancestors", &fa, NULL, NULL) < 0 ||
	    sec_value(L, o, "referrer_policy", &S->referrer_policy, NULL,
	    NULL) < 0 ||
	    ac_pl_member_bool(L, o, "replace", &S->replace) < 0)
		return -1;
	if (S->hsts.ptr != NULL && (S->hsts.len < 9 ||
	    !ac_ascii_ieq(S->hsts.ptr, 8, "max-age=", 8))) {
		size_t save;
		ac_pl_push_key(L, "hsts", &save);
		return ac_pl_bad(L, "must start with max-age= (RFC 6797)");
	}
	if (fa.ptr != NULL) {
		/* sent as its own Content-Security-Policy */
		if (memchr(fa.ptr, ';', fa.len) != NULL ||
		    memchr(fa.ptr, ',', fa.len) != NULL) {
			size_t save;
			ac_pl_push_key(L, "frame_ancestors", &save);
			return ac_pl_bad(L, "must be frame-ancestors sources (\"'none'\", \"'self' https://app.example\"), without ';' or ','");
		}
		if ((p = ac_pl_take(L, 16 + fa.len)) == NULL)
			return ac_pl_bad(L, "policy needs more memory than given");
		memcpy(p, "frame-ancestors ", 16);
		memcpy(p + 16, fa.ptr, fa.len);
		S->frame_ancestors.ptr = p;
		S->frame_ancestors.len = 16 + fa.len;
	}
	return 0;
}
