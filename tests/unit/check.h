/*
 * The unit tests' harness: one "ok - name" / "not ok - name: where" line per
 * check group (tests/run.sh counts them), and, built with
 * -DAC_TEST_COUNT_HEAP and -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,
 * --wrap=free, a counter of every heap call, so a test can prove the core
 * made none. Include once per test program.
 */
#ifndef AC_TEST_CHECK_H
#define AC_TEST_CHECK_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static int failures;
static int check_ok;
static const char *cur;

#define CHECK(cond)                                                            \
	do {                                                                   \
		if (!(cond) && check_ok) {                                     \
			printf("not ok - %s: %s:%d: %s\n", cur, __FILE__,      \
			    __LINE__, #cond);                                  \
			check_ok = 0;                                          \
			failures++;                                            \
		}                                                              \
	} while (0)

static void begin(const char *name)
{
	cur = name;
	check_ok = 1;
}

/* Hex text (even length) to bytes; the byte count, or 0 if it does not fit
 * or is not hex. */
static inline size_t from_hex(uint8_t *out, size_t cap, const char *hex)
{
	size_t n = strlen(hex) / 2, i;
	if (n > cap)
		return 0;
	for (i = 0; i < n; i++) {
		unsigned v;
		if (sscanf(hex + 2 * i, "%2x", &v) != 1)
			return 0;
		out[i] = (uint8_t)v;
	}
	return n;
}

static void end(void)
{
	if (check_ok)
		printf("ok - %s\n", cur);
}

#ifdef AC_TEST_COUNT_HEAP
static size_t heap_calls;
void *__real_malloc(size_t);
void *__real_calloc(size_t, size_t);
void *__real_realloc(void *, size_t);
void __real_free(void *);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t a, size_t b);
void *__wrap_realloc(void *p, size_t n);
void __wrap_free(void *p);
void *__wrap_malloc(size_t n)
{
	heap_calls++;
	return __real_malloc(n);
}
void *__wrap_calloc(size_t a, size_t b)
{
	heap_calls++;
	return __real_calloc(a, b);
}
void *__wrap_realloc(void *p, size_t n)
{
	heap_calls++;
	return __real_realloc(p, n);
}
void __wrap_free(void *p)
{
	if (p != NULL)
		heap_calls++;
	__real_free(p);
}
#endif

#endif
