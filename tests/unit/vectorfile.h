/*
 * Reading test-vector files (Wycheproof JSON) in the unit-test programs:
 * a whole file into memory, hex to bytes, a string member. Tests may use
 * the heap and stdio; core never does.
 */
#ifndef AC_TEST_VECTORFILE_H
#define AC_TEST_VECTORFILE_H

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	long n;
	char *b;
	if (f == NULL)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	if (n < 0) {
		fclose(f);
		return NULL;
	}
	b = malloc((size_t)n + 1);
	if (b == NULL || fread(b, 1, (size_t)n, f) != (size_t)n) {
		fclose(f);
		free(b);
		return NULL;
	}
	b[n] = 0;
	fclose(f);
	return b;
}

/* Decodes hex; returns the length or (size_t)-1. */
static size_t unhex(const char *h, unsigned char *out, size_t cap)
{
	size_t n = strlen(h) / 2, i;
	if (strlen(h) % 2 != 0 || n > cap)
		return (size_t)-1;
	for (i = 0; i < n; i++) {
		unsigned v;
		if (sscanf(h + 2 * i, "%2x", &v) != 1)
			return (size_t)-1;
		out[i] = (unsigned char)v;
	}
	return n;
}

static const char *str(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

#endif
