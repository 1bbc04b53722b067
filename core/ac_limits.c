/*
 * Rate limits in the grammar of Python's `limits` ("5/minute", "10 per 15
 * minutes"), as security.md gives it, with the unit abbreviations people
 * write ("5/min", "5/s", "5/h") and "week": the login budgets take them.
 * "m" alone is refused: minute or month is a guess.
 */
#include "ac_internal.h"

/* Each unit's spellings: the word, then abbreviations. Words and
 * abbreviations of two letters or more take a plural 's'; one letter
 * abbreviations take none ("ms" is not "m" plural). */
static const struct {
	const char *names[4];
	int64_t secs;
} units[] = {
	{ { "second", "sec", "s", NULL }, 1 },
	{ { "minute", "min", NULL, NULL }, 60 },
	{ { "hour", "hr", "h", NULL }, 3600 },
	{ { "day", "d", NULL, NULL }, 86400 },
	{ { "week", "w", NULL, NULL }, 604800 },
	{ { "month", NULL, NULL, NULL }, 2592000 },
	{ { "year", "yr", "y", NULL }, 31104000 },
};

static const char generic[] =
    "must be one limit such as \"5/minute\" or \"10 per 15 minutes\"";

/* The unit spelled by the ul letters at s, or -1. */
static int64_t unit_secs(const char *s, size_t ul)
{
	size_t u, k;

	for (u = 0; u < sizeof units / sizeof units[0]; u++) {
		for (k = 0; k < 4 && units[u].names[k] != NULL; k++) {
			const char *nm = units[u].names[k];
			size_t l = strlen(nm);
			if (ul == l && ac_ascii_ieq(s, l, nm, l))
				return units[u].secs;
			if (l > 1 && ul == l + 1 && (s[l] | 0x20) == 's' &&
			    ac_ascii_ieq(s, l, nm, l))
				return units[u].secs;
		}
	}
	return -1;
}

/* One rate limit (the grammar: ac_internal.h). */
int ac_limit_parse(const char *s, uint32_t *count, int64_t *window,
    const char **why)
{
	uint64_t c = 0, n = 1;
	size_t i, ul;
	int64_t secs;
	int digits = 0;
	const char *dummy;

	if (why == NULL)
		why = &dummy;
	*why = generic;
	for (i = 0; s[i] == ' '; i++)
		;
	for (; s[i] >= '0' && s[i] <= '9' && c <= 100000000u; i++, digits++)
		c = c * 10 + (uint64_t)(s[i] - '0');
	if (digits > 0 && (c == 0 || c > 100000000u)) {
		*why = "the count must be 1 to 100000000";
		return -1;
	}
	if (digits == 0)
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
		if (n == 0 || n > 1000000u) {
			*why = "the number of units must be 1 to 1000000";
			return -1;
		}
		while (s[i] == ' ')
			i++;
	}
	for (ul = 0; (s[i + ul] | 0x20) >= 'a' && (s[i + ul] | 0x20) <= 'z'; ul++)
		;
	if (ul == 1 && (s[i] | 0x20) == 'm') {
		*why = "\"m\" is ambiguous (minute or month): write \"min\" or \"month\"";
		return -1;
	}
	secs = unit_secs(s + i, ul);
	if (secs < 0) {
		*why = "the unit must be second (s, sec), minute (min), hour "
		    "(h, hr), day (d), week (w), month or year (y, yr), as in "
		    "\"5/minute\" or \"10 per 15 minutes\"";
		return -1;
	}
	i += ul;
	while (s[i] == ' ')
		i++;
	if (s[i] != 0)
		return -1;
	*count = (uint32_t)c;
	*window = (int64_t)n * secs;
	return 0;
}
