/*
 * Wildcard matching for route rules, public paths and API-key resources:
 * '*' matches any run of bytes (including none and '/'), every other byte
 * itself. Linear time whatever the pattern, so an attacker-chosen path can
 * never make a rule set expensive to evaluate.
 */
#include "ac_internal.h"

/* Patterns and paths are public data: a plain compare. */
static int bytes_eq(const char *a, const char *b, size_t n)
{
	return n == 0 || memcmp(a, b, n) == 0;
}

/* Leftmost occurrence of w[0..m) in t[0..n) (Knuth-Morris-Pratt: each text
 * byte is looked at a bounded number of times, whatever w is). Returns the
 * index just past the match, or (size_t)-1. 1 <= m <= pattern cap. */
static size_t find_after(const char *w, size_t m, const char *t, size_t n)
{
	uint16_t fail[AC_WILD_PATTERN_MAX];
	size_t i, k = 0;

	fail[0] = 0;
	for (i = 1; i < m; i++) {
		while (k > 0 && w[i] != w[k])
			k = fail[k - 1];
		if (w[i] == w[k])
			k++;
		fail[i] = (uint16_t)k;
	}
	k = 0;
	for (i = 0; i < n; i++) {
		while (k > 0 && t[i] != w[k])
			k = fail[k - 1];
		if (t[i] == w[k])
			k++;
		if (k == m)
			return i + 1;
	}
	return (size_t)-1;
}

/*
 * A pattern is S0 * S1 * ... * Sk with literal segments Si. S0 must be a
 * prefix and Sk a suffix; each middle segment is taken at its leftmost
 * occurrence after the previous one, which is always safe with '*' as the
 * only wildcard (an earlier match leaves more room for the rest). Each
 * search resumes where the last match ended, so the text is scanned once
 * in total: O(plen + rlen), never the backtracking blow-up.
 */
int ac_wild_match(const char *pat, size_t plen, const char *s, size_t n)
{
	const char *star;
	size_t first, last_start, last_len, pos, end, i, j;

	if (plen > AC_WILD_PATTERN_MAX)
		return 0;
	star = plen ? memchr(pat, '*', plen) : NULL;
	if (star == NULL)
		return plen == n && bytes_eq(pat, s, n);
	first = (size_t)(star - pat);
	last_start = plen;
	while (pat[last_start - 1] != '*')
		last_start--;
	last_len = plen - last_start;
	if (first + last_len > n || !bytes_eq(pat, s, first) ||
	    !bytes_eq(pat + last_start, s + n - last_len, last_len))
		return 0;
	pos = first;
	end = n - last_len;
	for (i = first + 1; i < last_start; i = j + 1) {
		size_t at;
		for (j = i; pat[j] != '*'; j++)
			;
		if (j == i)
			continue; /* "**" is "*" */
		at = find_after(pat + i, j - i, s + pos, end - pos);
		if (at == (size_t)-1)
			return 0;
		pos += at;
	}
	return 1;
}

