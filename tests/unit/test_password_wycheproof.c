/*
 * Wycheproof PBKDF2 vectors (../shared/vectors/wycheproof/
 * pbkdf2_hmacsha256_test.json and pbkdf2_hmacsha512_test.json) through
 * ac_pbkdf2, and, for every test, through the resumable API in uneven
 * steps. valid -> the derived key MUST equal dk; invalid -> it MUST differ
 * (or the arguments be refused); acceptable -> counted and printed. Tests
 * whose dkLen exceeds AC_PBKDF2_DK_MAX or whose iteration count exceeds
 * AC_PASSWORD_ITERATIONS_MAX_DEFAULT would be skipped and counted (the
 * current files have none: dkLen <= 65, iterations <= 80000).
 * Usage: test_password_wycheproof DIR   ("ok - ..." / "not ok - ..." lines)
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "authcore.h"
#include "vectorfile.h"

static int failures;

static void run_file(const char *dir, const char *name, int hash)
{
	char path[1024];
	char *text;
	cJSON *doc, *groups, *g;
	int valid = 0, invalid = 0, acceptable = 0, skipped = 0, bad = 0;
	int total = 0;
	unsigned step_seed = 7;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	text = slurp(path);
	if (text == NULL) {
		printf("not ok - %s: cannot read %s\n", name, path);
		failures++;
		return;
	}
	doc = cJSON_Parse(text);
	groups = cJSON_GetObjectItemCaseSensitive(doc, "testGroups");
	cJSON_ArrayForEach(g, groups)
	{
		cJSON *t, *tests = cJSON_GetObjectItemCaseSensitive(g, "tests");
		cJSON_ArrayForEach(t, tests)
		{
			static unsigned char pw[4096], salt[4096];
			unsigned char want[1024], got[AC_PBKDF2_DK_MAX],
			    got2[AC_PBKDF2_DK_MAX];
			const char *result = str(t, "result");
			int tc = cJSON_GetObjectItemCaseSensitive(t, "tcId")
			    ->valueint;
			double it = cJSON_GetObjectItemCaseSensitive(t,
			    "iterationCount")->valuedouble;
			double dkl = cJSON_GetObjectItemCaseSensitive(t,
			    "dkLen")->valuedouble;
			size_t pl = unhex(str(t, "password"), pw, sizeof pw);
			size_t sl = unhex(str(t, "salt"), salt, sizeof salt);
			size_t wl = unhex(str(t, "dk"), want, sizeof want);
			int ok1, ok2, same;
			ac_pbkdf2_ctx ctx;

			total++;
			if (dkl > AC_PBKDF2_DK_MAX ||
			    it > AC_PASSWORD_ITERATIONS_MAX_DEFAULT || it < 1) {
				skipped++;
				printf("# %s tcId %d skipped (dkLen %.0f, "
				    "iterations %.0f)\n", name, tc, dkl, it);
				continue;
			}
			if (pl == (size_t)-1 || sl == (size_t)-1 ||
			    wl == (size_t)-1) {
				bad++;
				printf("# %s tcId %d: bad hex\n", name, tc);
				continue;
			}
			ok1 = ac_pbkdf2(got, hash, pw, pl, salt, sl,
			    (uint32_t)it, (size_t)dkl) == 0;
			/* the same through begin/step/finish in uneven steps */
			ok2 = ac_pbkdf2_begin(&ctx, hash, pw, pl, salt, sl,
			    (uint32_t)it, (size_t)dkl) == 0;
			if (ok2) {
				while (ac_pbkdf2_step(&ctx,
				    1 + (step_seed = step_seed * 69069u + 1u) %
				    1000u) > 0)
					;
				ok2 = ac_pbkdf2_finish(&ctx, got2) == 0;
			}
			if (ok1 != ok2 || (ok1 && memcmp(got, got2,
			    (size_t)dkl) != 0)) {
				bad++;
				printf("# %s tcId %d: resumable differs from "
				    "one-shot\n", name, tc);
				continue;
			}
			same = ok1 && wl == (size_t)dkl &&
			    memcmp(got, want, wl) == 0;
			if (strcmp(result, "valid") == 0) {
				if (same)
					valid++;
				else {
					bad++;
					printf("# %s tcId %d: valid but "
					    "differs\n", name, tc);
				}
			} else if (strcmp(result, "invalid") == 0) {
				if (!same)
					invalid++;
				else {
					bad++;
					printf("# %s tcId %d: INVALID BUT "
					    "MATCHES\n", name, tc);
				}
			} else {
				acceptable++;
				printf("# %s tcId %d: acceptable, %s\n", name,
				    tc, same ? "matches" : "differs");
			}
		}
	}
	if (bad == 0 && total > 0 && valid + invalid + acceptable + skipped ==
	    total)
		printf("ok - %s: %d tests: %d valid matched, %d invalid "
		       "refused, %d acceptable, %d skipped\n",
		    name, total, valid, invalid, acceptable, skipped);
	else {
		printf("not ok - %s: %d of %d tests wrong\n", name, bad, total);
		failures++;
	}
	cJSON_Delete(doc);
	free(text);
}

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : "../shared/vectors/wycheproof";
	run_file(dir, "pbkdf2_hmacsha256_test.json", AC_PBKDF2_SHA256);
	run_file(dir, "pbkdf2_hmacsha512_test.json", AC_PBKDF2_SHA512);
	return failures ? 1 : 0;
}
