/*
 * Wycheproof vectors (../shared/vectors/wycheproof) through the core's JWS
 * signature check. Keys go through the core's own loaders: PEM for RSA and
 * ECDSA, and the JWK of each group too, which must load to the same key.
 * valid -> must verify; invalid -> must fail; acceptable -> either (counted
 * and printed). HMAC: JWS forbids truncated tags and keys shorter than the
 * hash, so those tests must fail or their key be refused (counted).
 * Usage: test_wycheproof DIR   (prints "ok - ..." / "not ok - ..." lines)
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "authcore.h"
#include "vectorfile.h"

static int failures;

typedef struct {
	int valid, invalid, acceptable_ok, acceptable_no, refused_keys, bad;
} tally;

static void judge(tally *t, const char *file, int tc, const char *result,
    int verified)
{
	if (strcmp(result, "valid") == 0) {
		if (verified)
			t->valid++;
		else {
			t->bad++;
			printf("# %s tcId %d: valid but refused\n", file, tc);
		}
	} else if (strcmp(result, "invalid") == 0) {
		if (!verified)
			t->invalid++;
		else {
			t->bad++;
			printf("# %s tcId %d: INVALID BUT ACCEPTED\n", file, tc);
		}
	} else {
		if (verified)
			t->acceptable_ok++;
		else
			t->acceptable_no++;
	}
}

static void finish(const char *file, const tally *t, int total)
{
	int seen = t->valid + t->invalid + t->acceptable_ok + t->acceptable_no +
	    t->refused_keys + t->bad;
	if (t->bad || seen != total) {
		failures++;
		printf("not ok - wycheproof %s: %d wrong of %d (ran %d)\n", file,
		    t->bad, total, seen);
	} else {
		printf("ok - wycheproof %s: %d tests: %d valid verified, %d invalid refused, "
		    "acceptable %d verified / %d refused, %d refused at key load\n",
		    file, total, t->valid, t->invalid, t->acceptable_ok,
		    t->acceptable_no, t->refused_keys);
	}
}

/* The parsed vector file and its test count, or NULL (a failure is
 * counted and printed). */
static cJSON *open_vectors(const char *dir, const char *file, int *total)
{
	char path[1024];
	char *text;
	cJSON *doc, *n;

	snprintf(path, sizeof path, "%s/%s", dir, file);
	text = slurp(path);
	doc = text ? cJSON_Parse(text) : NULL;
	free(text);
	n = doc ? cJSON_GetObjectItemCaseSensitive(doc, "numberOfTests") : NULL;
	if (!cJSON_IsNumber(n)) {
		failures++;
		printf("not ok - wycheproof %s: cannot read %s\n", file, path);
		cJSON_Delete(doc);
		return NULL;
	}
	*total = n->valueint;
	return doc;
}

static void run_sig(const char *dir, const char *file, ac_alg alg)
{
	cJSON *doc, *g, *tc;
	tally t;
	static unsigned char msg[65536], sig[1024];
	int total;

	memset(&t, 0, sizeof t);
	doc = open_vectors(dir, file, &total);
	if (doc == NULL)
		return;
	cJSON_ArrayForEach(g, cJSON_GetObjectItemCaseSensitive(doc, "testGroups")) {
		ac_jwt_key k, kj;
		const char *pem = str(g, "publicKeyPem");
		cJSON *jwk = cJSON_GetObjectItemCaseSensitive(g, "publicKeyJwk");
		int loaded;
		if (jwk == NULL)
			jwk = cJSON_GetObjectItemCaseSensitive(g, "keyJwk");
		loaded = pem != NULL &&
		    ac_jwt_key_pem(&k, alg, pem, strlen(pem), NULL, 0) == 0;
		if (loaded && jwk != NULL) {
			/* the group's JWK must load to the very same key */
			char *js = cJSON_PrintUnformatted(jwk);
			const char *why = NULL;
			if (ac_jwt_key_jwk(&kj, alg, js, strlen(js), &why) != 0 ||
			    memcmp(kj.state, k.state, sizeof k.state) != 0) {
				t.bad++;
				printf("# %s: JWK does not load to the PEM's key (%s)\n",
				    file, why ? why : "differs");
			}
			free(js);
		}
		cJSON_ArrayForEach(tc, cJSON_GetObjectItemCaseSensitive(g, "tests")) {
			int id = cJSON_GetObjectItemCaseSensitive(tc, "tcId")->valueint;
			const char *res = str(tc, "result");
			size_t ml = unhex(str(tc, "msg"), msg, sizeof msg);
			size_t sl = unhex(str(tc, "sig"), sig, sizeof sig);
			if (!loaded) {
				/* a key we refuse can only have invalid tests */
				if (strcmp(res, "valid") == 0) {
					t.bad++;
					printf("# %s tcId %d: key refused at load\n", file, id);
				} else {
					t.refused_keys++;
				}
				continue;
			}
			if (sl == (size_t)-1) {
				judge(&t, file, id, res, 0);
				continue;
			}
			judge(&t, file, id, res,
			    ac_jws_check(&k, (const char *)msg, ml, sig, sl));
		}
	}
	finish(file, &t, total);
	cJSON_Delete(doc);
}

static void run_hmac(const char *dir, const char *file, ac_alg alg,
    size_t full)
{
	cJSON *doc, *g, *tc;
	tally t;
	static unsigned char key[4096], msg[65536], tag[128];
	int total;

	memset(&t, 0, sizeof t);
	doc = open_vectors(dir, file, &total);
	if (doc == NULL)
		return;
	cJSON_ArrayForEach(g, cJSON_GetObjectItemCaseSensitive(doc, "testGroups")) {
		int tag_bits = cJSON_GetObjectItemCaseSensitive(g, "tagSize")->valueint;
		cJSON_ArrayForEach(tc, cJSON_GetObjectItemCaseSensitive(g, "tests")) {
			int id = cJSON_GetObjectItemCaseSensitive(tc, "tcId")->valueint;
			const char *res = str(tc, "result");
			size_t kl = unhex(str(tc, "key"), key, sizeof key);
			size_t ml = unhex(str(tc, "msg"), msg, sizeof msg);
			size_t tl = unhex(str(tc, "tag"), tag, sizeof tag);
			ac_jwt_key k;
			int v;
			if (ac_jwt_key_hmac(&k, alg, key, kl, NULL, 0) != 0) {
				if (kl >= full) {
					t.bad++;
					printf("# %s tcId %d: key of %zu bytes refused\n", file, id, kl);
				} else {
					t.refused_keys++; /* JWS: key >= hash size */
				}
				continue;
			}
			v = ac_jws_check(&k, (const char *)msg, ml, tag, tl);
			if ((size_t)tag_bits != full * 8) {
				/* truncated tags are never a JWS signature */
				if (v) {
					t.bad++;
					printf("# %s tcId %d: truncated tag accepted\n", file, id);
				} else {
					t.invalid++;
				}
				continue;
			}
			judge(&t, file, id, res, v);
		}
	}
	finish(file, &t, total);
	cJSON_Delete(doc);
}

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : "../shared/vectors/wycheproof";
	run_hmac(dir, "hmac_sha256_test.json", AC_ALG_HS256, 32);
	run_hmac(dir, "hmac_sha384_test.json", AC_ALG_HS384, 48);
	run_hmac(dir, "hmac_sha512_test.json", AC_ALG_HS512, 64);
	run_sig(dir, "ecdsa_secp256r1_sha256_p1363_test.json", AC_ALG_ES256);
	run_sig(dir, "ecdsa_secp384r1_sha384_p1363_test.json", AC_ALG_ES384);
	run_sig(dir, "rsa_signature_2048_sha256_test.json", AC_ALG_RS256);
	return failures ? 1 : 0;
}
