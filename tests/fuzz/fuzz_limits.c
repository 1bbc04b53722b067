/*
 * libFuzzer target: the rate-limit grammar of "login.attempts" (the
 * Python `limits` strings of ../shared/security.md, one limit):
 * ac_limit_parse on the input (up to its first NUL), and for one input in
 * 64 (first byte a multiple of 64) ac_policy_load with the input as that
 * string (JSON-escaped here), which must keep the same limit.
 *
 * Property: ac_limit_parse accepts exactly what an independent reading of the
 * grammar accepts, with the same count and window:
 *   [spaces] count [spaces] ("/" | "per" space) [spaces] [n [spaces]]
 *   unit [spaces]
 * count 1..10^8, n 1..10^6, units second (sec, s) minute (min) hour (hr, h)
 * day (d) week (w) month (30 days) year (yr, y; 360 days), a plural 's'
 * on any spelling but the one-letter ones, case-insensitive; "m" is no
 * unit (minute or month?); the string ends at its first NUL (as cJSON
 * hands it over). Any other refusal of the template policy is a failure
 * too.
 */
#include <stdio.h>
#include <string.h>

#include "authcore.h"
#include "fz.h"

#define MAX 1024

static _Alignas(16) uint8_t mem[1 << 18];
static char doc[MAX * 6 + 256];
static ac_policy_error err;

static char HEAD[512];
static size_t head_len;
static const char TAIL[] = "\"}}";

static int lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

/* Reference reading; 0 with count and window, or -1. */
static int ref_limit(const unsigned char *s, size_t n, uint64_t *count,
    int64_t *window)
{
	/* every spelling, one per row */
	static const struct { const char *name; int64_t secs; } units[] = {
		{ "second", 1 }, { "sec", 1 }, { "s", 1 },
		{ "minute", 60 }, { "min", 60 },
		{ "hour", 3600 }, { "hr", 3600 }, { "h", 3600 },
		{ "day", 86400 }, { "d", 86400 },
		{ "week", 7 * 86400 }, { "w", 7 * 86400 },
		{ "month", 30 * 86400 },
		{ "year", 360 * 86400 }, { "yr", 360 * 86400 },
		{ "y", 360 * 86400 },
	};
	size_t i = 0, j, u;
	uint64_t c = 0, k = 1;

	while (i < n && s[i] == ' ')
		i++;
	if (i == n || s[i] < '0' || s[i] > '9')
		return -1;
	while (i < n && s[i] >= '0' && s[i] <= '9') {
		c = c * 10 + (uint64_t)(s[i++] - '0');
		if (c > 100000000u)
			return -1;
	}
	if (c == 0)
		return -1;
	while (i < n && s[i] == ' ')
		i++;
	if (i < n && s[i] == '/')
		i++;
	else if (i + 4 <= n && lower(s[i]) == 'p' && lower(s[i + 1]) == 'e' &&
	    lower(s[i + 2]) == 'r' && s[i + 3] == ' ')
		i += 4;
	else
		return -1;
	while (i < n && s[i] == ' ')
		i++;
	if (i < n && s[i] >= '0' && s[i] <= '9') {
		k = 0;
		while (i < n && s[i] >= '0' && s[i] <= '9') {
			k = k * 10 + (uint64_t)(s[i++] - '0');
			if (k > 1000000u)
				return -1;
		}
		if (k == 0)
			return -1;
		while (i < n && s[i] == ' ')
			i++;
	}
	for (u = 0; u < sizeof units / sizeof units[0]; u++) {
		size_t l = strlen(units[u].name);
		if (i + l > n)
			continue;
		for (j = 0; j < l; j++)
			if (lower(s[i + j]) != units[u].name[j])
				break;
		if (j < l)
			continue;
		j = i + l;
		if (l > 1 && j < n && lower(s[j]) == 's')
			j++;
		while (j < n && s[j] == ' ')
			j++;
		if (j != n)
			continue;
		*count = c;
		*window = (int64_t)k * units[u].secs;
		return 0;
	}
	return -1;
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	{
		char hash[AC_PASSWORD_HASH_MAX + 1];
		uint8_t salt[AC_PASSWORD_SALT_LEN];
		size_t hl;
		memset(salt, 3, sizeof salt);
		hl = ac_password_hash(hash, sizeof hash, AC_PBKDF2_SHA256, "pw", 2,
		    salt, 1);
		head_len = (size_t)snprintf(HEAD, sizeof HEAD,
		    "{\"sessions\":{\"keys\":[{\"kid\":\"k\",\"secret\":"
		    "\"fuzz-login-session-secret-0123456789ab\"}]},\"users\":"
		    "[{\"name\":\"alice\",\"password_hash\":\"%.*s\"}],"
		    "\"login\":{\"attempts\":\"", (int)hl, hash);
		if (hl == 0 || head_len >= sizeof HEAD)
			fz_die("template");
	}
	fz_init("fuzz_limits");
	return 0;
}

/* The loader with the input as "login.attempts": the same reading. */
static void through_loader(const uint8_t *data, size_t n, int want,
    uint64_t count, int64_t window)
{
	size_t o, i, used;
	const ac_policy *P;
	char *c;

	o = head_len;
	memcpy(doc, HEAD, o);
	for (i = 0; i < n; i++) {
		unsigned char ch = data[i];
		if (ch == '"' || ch == '\\') {
			doc[o++] = '\\';
			doc[o++] = (char)ch;
		} else if (ch < 0x20 || ch == 0x7f) {
			o += (size_t)snprintf(doc + o, 7, "\\u%04x", ch);
		} else {
			doc[o++] = (char)ch;
		}
	}
	memcpy(doc + o, TAIL, sizeof TAIL - 1);
	o += sizeof TAIL - 1;
	c = fz_copy(doc, o);
	fz_begin();
	P = ac_policy_load(mem, sizeof mem, c, o, &used, &err);
	fz_end("ac_policy_load");
	fz_free(c);
	if (P == NULL && strcmp(err.path, "$.login.attempts") != 0) {
		/* bytes that are not UTF-8 may be refused by the parser as a
		 * whole; nothing else in the template may be */
		for (i = 0; i < n; i++)
			if (data[i] >= 0x80)
				return;
		fprintf(stderr, "fuzz_limits: %s: %s\n", err.path, err.message);
		fz_die("the template policy refused elsewhere than at attempts");
	}
	if ((P != NULL) != want)
		fz_die("the loader and ac_limit_parse disagree");
	if (P != NULL && (P->attempts != count || P->attempts_window != window))
		fz_die("the loader keeps another limit than ac_limit_parse read");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t n = size > MAX ? MAX : size, cut;
	const char *nul = memchr(data, 0, n);
	uint64_t count = 0;
	int64_t window = 0, w = 0;
	uint32_t c = 0;
	const char *why = NULL;
	int want, r;
	char *s;

	cut = nul ? (size_t)(nul - (const char *)data) : n;
	want = ref_limit(data, cut, &count, &window) == 0;
	s = fz_alloc(cut + 1); /* exact size: NUL at the end */
	memcpy(s, data, cut);
	s[cut] = 0;
	fz_begin();
	r = ac_limit_parse(s, &c, &w, &why);
	fz_end("ac_limit_parse");
	fz_free(s);
	if ((r == 0) != want) {
		fz_dump("limit", data, cut);
		fz_die(r == 0 ? "ac_limit_parse accepted a limit the grammar refuses" :
		    "ac_limit_parse refused a limit the grammar accepts");
	}
	if (r != 0 && (why == NULL || why[0] == 0))
		fz_die("ac_limit_parse refused a limit without saying why");
	if (r == 0 && (c != count || w != window)) {
		fz_dump("limit", data, cut);
		fprintf(stderr, "fuzz_limits: core %u per %lld s, reference %llu per "
		    "%lld s\n", c, (long long)w, (unsigned long long)count,
		    (long long)window);
		fz_die("ac_limit_parse reads a limit differently from the grammar");
	}
	/* one input in 64 also through the loader (slow: a whole policy) */
	if (n > 0 && (data[0] & 63) == 0)
		through_loader(data, n, r == 0, c, w);
	return 0;
}
