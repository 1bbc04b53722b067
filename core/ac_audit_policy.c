/*
 * What a policy says about the audit line (core/ac_reply.c writes it):
 * the "audit" section. Denials, errors and login events are always
 * audited; "allowed" says how many of the requests that go upstream are.
 */
#include "ac_policy_load.h"

const char *const ac_pl_audit_members[] = { "allowed", NULL };

/* Without "audit", allowed requests leave no audit line: the proxy's own
 * access log has every request, and can carry the identity header. */
int ac_pl_audit_init(ac_loader *L, ac_policy *P, const cJSON *v)
{
	(void)L;
	(void)v;
	P->audit_allowed = 0;
	return 0;
}

/* "N%", N in (0, 100] with at most 4 decimals: parts per million, or 0. */
static uint32_t percent_ppm(const char *s, size_t n)
{
	uint64_t v = 0;
	size_t i = 0, digits = 0, decimals = 0;

	if (n < 2 || s[n - 1] != '%')
		return 0;
	n--;
	for (; i < n && s[i] >= '0' && s[i] <= '9'; i++, digits++)
		if ((v = v * 10 + (uint64_t)(s[i] - '0')) > 100)
			return 0;
	if (digits == 0 || (digits > 1 && s[0] == '0'))
		return 0;
	if (i < n) {
		if (s[i++] != '.' || i == n)
			return 0;
		for (; i < n && s[i] >= '0' && s[i] <= '9'; i++, decimals++)
			v = v * 10 + (uint64_t)(s[i] - '0');
		if (i < n || decimals > 4)
			return 0;
	}
	for (; decimals < 4; decimals++)
		v *= 10;
	return v > 1000000u ? 0 : (uint32_t)v;
}

/* "audit": {"allowed": "none" | "all" | "N%"}. */
int ac_pl_audit(ac_loader *L, ac_policy *P, const cJSON *o)
{
	const cJSON *a = cJSON_GetObjectItemCaseSensitive(o, "allowed");
	size_t save, n;
	uint32_t ppm;

	if (a == NULL)
		return 0;
	ac_pl_push_key(L, "allowed", &save);
	if (!cJSON_IsString(a))
		return ac_pl_bad(L, "must be \"none\", \"all\" or a percentage such as \"1%\"");
	n = strlen(a->valuestring);
	if (n == 4 && memcmp(a->valuestring, "none", 4) == 0)
		ppm = 0;
	else if (n == 3 && memcmp(a->valuestring, "all", 3) == 0)
		ppm = 1000000u;
	else if ((ppm = percent_ppm(a->valuestring, n)) == 0)
		return ac_pl_bad(L, "must be \"none\", \"all\" or a percentage more than 0 and at most 100, with at most 4 decimals (\"1%\", \"0.05%\")");
	P->audit_allowed = ppm;
	ac_pl_pop(L, save);
	return 0;
}
