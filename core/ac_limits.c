/*
 * Rate limits in the grammar of Python's `limits` ("5/minute", "10 per 15
 * minutes"), as security.md gives it: the login budgets take them today.
 */
#include "ac_internal.h"

/* One rate limit (the grammar: ac_internal.h). */
int ac_limit_parse(const char *s, uint32_t *count, int64_t *window)
{
	static const struct { const char *name; int64_t secs; } units[] = {
		{ "second", 1 }, { "minute", 60 }, { "hour", 3600 },
		{ "day", 86400 }, { "month", 2592000 }, { "year", 31104000 },
	};
	uint64_t c = 0, n = 1;
	size_t i, u, ul;
	int digits = 0;

	for (i = 0; s[i] == ' '; i++)
		;
	for (; s[i] >= '0' && s[i] <= '9' && c <= 100000000u; i++, digits++)
		c = c * 10 + (uint64_t)(s[i] - '0');
	if (digits == 0 || c == 0 || c > 100000000u)
		return -1;
	while (s[i] == ' ')
		i++;
	if (s[i] == '/')
		i++;
	else if ((s[i] | 0x20) == 'p' && (s[i + 1] | 0x20) == 'e' &&
	    (s[i + 2] | 0x20) == 'r' && s[i + 3] == ' ')
		i += 3;
	else
		return -1;
	while (s[i] == ' ')
		i++;
	if (s[i] >= '0' && s[i] <= '9') {
		n = 0;
		for (digits = 0; s[i] >= '0' && s[i] <= '9' && n <= 1000000u;
		    i++, digits++)
			n = n * 10 + (uint64_t)(s[i] - '0');
		if (n == 0 || n > 1000000u)
			return -1;
		while (s[i] == ' ')
			i++;
	}
	for (ul = 0; (s[i + ul] | 0x20) >= 'a' && (s[i + ul] | 0x20) <= 'z'; ul++)
		;
	for (u = 0; u < sizeof units / sizeof units[0]; u++) {
		size_t k = strlen(units[u].name);
		if ((ul == k || (ul == k + 1 && (s[i + k] | 0x20) == 's')) &&
		    ac_ascii_ieq(s + i, k, units[u].name, k))
			break;
	}
	if (u == sizeof units / sizeof units[0])
		return -1;
	i += ul;
	while (s[i] == ' ')
		i++;
	if (s[i] != 0)
		return -1;
	*count = (uint32_t)c;
	*window = (int64_t)n * units[u].secs;
	return 0;
}

