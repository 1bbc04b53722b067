/*
 * Native benchmark driver (make bench runs it through tools/bench/run.py).
 *
 *   bench_native TOKEN SECRET ISSUER AUDIENCE NOW
 *
 * TOKEN is an HS256 JWT (minted by run.py with Python's hmac) carrying exp,
 * iss, aud (a string), sub and roles. Measured, each as the median over RUNS
 * runs of N calls after one warm-up run:
 *   hs256/authcore   ac_jwt_verify with exp/iss/aud checks, key made once;
 *                    sub checked present
 *   hs256/libjwt     jwt_decode (signature) + alg, exp, iss, aud, sub checks
 *   rs256|es256|es384|es512/...
 *                    a fresh OpenSSL key pair (RSA-2048, P-256, P-384,
 *                    P-521); the same claims signed by
 *                    OpenSSL; authcore ac_jwt_verify (full token) and
 *                    ac_jws_check (signature only) vs OpenSSL
 *                    EVP_DigestVerifyInit + EVP_DigestVerify (signature
 *                    only; ES* include the P1363 -> DER conversion a JWT
 *                    library has to do); for ES* the three alternate run
 *                    by run (measure_alt).
 *   rs256|es256/authcore-cached  the same token again and again through a
 *                    policy with the same key and checks and its
 *                    verified-signature cache (ac_policy_verify_jwt_cached):
 *                    the warm-up run enters it, every measured call hits
 *                    (signature check skipped, claims checked); beside
 *                    hs256/authcore.
 *
 * With ITERATIONS PASSWORD SALT_HEX after NOW (run.py passes 600000), one
 * PBKDF2-HMAC-SHA256 (dkLen 32) per run, BEST of PBKDF2_RUNS runs (no
 * warm-up: one derivation is far longer than any start-up effect):
 *   pbkdf2/authcore           ac_pbkdf2, SHA-256 class chosen by the core at
 *                             run time (SHA-NI when CPUID reports it)
 *   pbkdf2/authcore-portable  the same objects and call, with the core's
 *                             portable class (BearSSL's br_sha256_vtable)
 *                             forced: bench.mk links this driver with
 *                             -Wl,--wrap=ac_sha256_class, so the core's
 *                             calls reach __wrap_ac_sha256_class below,
 *                             which asks the real function for its portable
 *                             class while `force_portable` is set. The core
 *                             objects are not rebuilt or changed.
 *   pbkdf2/openssl            PKCS5_PBKDF2_HMAC with EVP_sha256()
 * Each derived key is printed ("DK pbkdf2 <impl> <hex>"); run.py checks it
 * against Python's hashlib.
 *
 * Output, one line each: "RESULT <case> <impl> <ns/op> <N> <RUNS>",
 * "DK <case> <impl> <hex>", "PENDING <case> <impl> <why>",
 * "VERSION <name> <text>".
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jwt.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/opensslv.h>
#include <openssl/pem.h>
#include <openssl/core_names.h>

#include <bearssl.h>

#include "authcore.h"

/* Asymmetric keys arrive in the core separately: weak references let the
 * driver build before they do, and report "pending" until then. */
#pragma weak ac_jwt_key_pem
#pragma weak ac_jws_check

#define RUNS 7
#define PBKDF2_RUNS 5

static const char *tok, *secret, *iss, *aud;
static int64_t now;
static volatile uint64_t sink;

static uint64_t ns_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* Runs f N times per run; prints the median ns/op over RUNS runs. f returns
 * 1 on success; a failure stops the case with a message. */
static void measure(const char *cas, const char *impl, long n, int (*f)(void))
{
	double per[RUNS];
	int r;
	long i;

	if (!f()) {
		printf("FAILED %s %s first call refused the token\n", cas, impl);
		fflush(stdout);
		return;
	}
	for (i = 0; i < n / 4 + 1; i++) /* warm-up */
		sink += (uint64_t)f();
	for (r = 0; r < RUNS; r++) {
		uint64_t t0 = ns_now();
		int ok = 1;
		for (i = 0; i < n; i++)
			ok &= f();
		per[r] = (double)(ns_now() - t0) / (double)n;
		if (!ok) {
			printf("FAILED %s %s a call refused the token\n", cas, impl);
			fflush(stdout);
			return;
		}
	}
	qsort(per, RUNS, sizeof per[0], cmp_d);
	printf("RESULT %s %s %.1f %ld %d\n", cas, impl, per[RUNS / 2], n, RUNS);
	fflush(stdout);
}

/* measure for k implementations of one case, alternating: each run times
 * N calls of each in turn, so a change in the machine's load falls on all
 * of them alike. Prints the median ns/op of each, as measure does. */
#define ALT_MAX 4
static void measure_alt(const char *cas, size_t k, const char *const *impl,
    const long *n, int (*const *f)(void))
{
	double per[ALT_MAX][RUNS];
	int r, ok[ALT_MAX];
	size_t j;
	long i;

	for (j = 0; j < k; j++) {
		ok[j] = f[j]();
		if (!ok[j])
			printf("FAILED %s %s first call refused the token\n",
			    cas, impl[j]);
		for (i = 0; ok[j] && i < n[j] / 4 + 1; i++) /* warm-up */
			sink += (uint64_t)f[j]();
	}
	for (r = 0; r < RUNS; r++) {
		for (j = 0; j < k; j++) {
			uint64_t t0 = ns_now();
			if (!ok[j])
				continue;
			for (i = 0; i < n[j]; i++)
				ok[j] &= f[j]();
			per[j][r] = (double)(ns_now() - t0) / (double)n[j];
			if (!ok[j])
				printf("FAILED %s %s a call refused the token\n",
				    cas, impl[j]);
		}
	}
	for (j = 0; j < k; j++) {
		if (!ok[j])
			continue;
		qsort(per[j], RUNS, sizeof per[j][0], cmp_d);
		printf("RESULT %s %s %.1f %ld %d\n", cas, impl[j],
		    per[j][RUNS / 2], n[j], RUNS);
	}
	fflush(stdout);
}

/* ---- HS256: authcore ------------------------------------------------ */
static ac_jwt_key hs_key;
static ac_jwt_checks hs_checks;
static ac_jwt_result res;
static size_t tok_len;

static int ac_hs256(void)
{
	if (ac_jwt_verify(&hs_key, 1, &hs_checks, tok, tok_len, now, &res) !=
	    AC_OK)
		return 0;
	return res.user.ptr != NULL;
}

/* ---- HS256: libjwt -------------------------------------------------- */
static int libjwt_hs256(void)
{
	jwt_t *jwt = NULL;
	const char *s;
	long exp;
	int ok = 0;

	if (jwt_decode(&jwt, tok, (const unsigned char *)secret,
	    (int)strlen(secret)) != 0)
		return 0;
	if (jwt_get_alg(jwt) != JWT_ALG_HS256)
		goto out;
	errno = 0;
	exp = jwt_get_grant_int(jwt, "exp");
	if (errno != 0 || exp + 60 < now)
		goto out;
	s = jwt_get_grant(jwt, "iss");
	if (s == NULL || strcmp(s, iss) != 0)
		goto out;
	s = jwt_get_grant(jwt, "aud");
	if (s == NULL || strcmp(s, aud) != 0)
		goto out;
	if (jwt_get_grant(jwt, "sub") == NULL)
		goto out;
	ok = 1;
out:
	jwt_free(jwt);
	return ok;
}

/* ---- RS256 / ES256 -------------------------------------------------- */
static EVP_PKEY *pub;
static EVP_MD_CTX *mctx;
static int is_ec;       /* 0 for RSA, else the curve's bits: 256, 384, 521 */
static size_t ec_flen;  /* bytes of r and of s */
static const EVP_MD *asym_md;
static char atok[4096];
static size_t atok_len, si_len;
static uint8_t sig_raw[512];
static size_t sig_raw_len;
static ac_jwt_key a_key;
static const ac_policy *a_policy;
static ac_jwt_cache *a_cache;

static int ac_asym_full(void)
{
	return ac_jwt_verify(&a_key, 1, &hs_checks, atok, atok_len, now,
	    &res) == AC_OK && res.user.ptr != NULL;
}

static int ac_asym_sig(void)
{
	return ac_jws_check(&a_key, atok, si_len, sig_raw, sig_raw_len);
}

static int ac_asym_cached(void)
{
	return ac_policy_verify_jwt_cached(a_policy, a_cache, atok, atok_len,
	    now, &res) == AC_OK && res.user.ptr != NULL;
}

/* A policy holding the PEM key with the HS256 rows' checks, and a cache:
 * the repeated-token row. */
static void cached_row(const char *cas, const char *pem, size_t pem_len,
    int ec, long n)
{
	static char js[8192], *mem;
	static uint64_t cmem[8192 / 8];
	ac_policy_error err;
	size_t o, i, used;

	o = (size_t)snprintf(js, sizeof js, "{\"jwt\":{\"keys\":[{\"alg\":"
	    "\"%s\",\"pem\":\"", ec ? "ES256" : "RS256");
	for (i = 0; i < pem_len && o + 4 < sizeof js; i++) {
		if (pem[i] == '\n') {
			js[o++] = '\\';
			js[o++] = 'n';
		} else {
			js[o++] = pem[i];
		}
	}
	snprintf(js + o, sizeof js - o, "\"}],\"issuer\":\"%s\",\"audience\":"
	    "\"%s\",\"leeway\":60}}", iss, aud);
	free(mem);
	mem = malloc(ac_policy_mem_bound(strlen(js)));
	a_policy = mem == NULL ? NULL : ac_policy_load(mem,
	    ac_policy_mem_bound(strlen(js)), js, strlen(js), &used, &err);
	a_cache = ac_jwt_cache_init(cmem, sizeof cmem,
	    a_policy ? ac_policy_jwt_cache_entries(a_policy) : 0);
	if (a_policy == NULL || a_cache == NULL) {
		printf("FAILED %s authcore-cached policy: %s %s\n", cas,
		    a_policy ? "" : err.path, a_policy ? "no cache" : err.message);
		return;
	}
	measure(cas, "authcore-cached", n, ac_asym_cached);
	{
		ac_jwt_cache_counts k;
		ac_jwt_cache_counts_get(a_cache, &k);
		if (k.checks != 1 || k.hits + 1 != k.lookups)
			printf("FAILED %s authcore-cached: %llu signature checks "
			    "in %llu lookups, want 1\n", cas,
			    (unsigned long long)k.checks,
			    (unsigned long long)k.lookups);
	}
}

/* ---- keys from a JWKS URL (jwt.jwks_uri) ------------------------------
 * The whole decision for one ES256 token, its key inline in the policy
 * ("jwks") or fetched from a URL: the remote policy's worker cache is fed
 * one answer (the host's part), then every request finds the key there.
 * jwt.cache is off in both, so each request checks the signature: the
 * rows differ only by where the key comes from. */
static const ac_policy *rk_policy[2];
static ac_jwks_cache *rk_cache;
static ac_decision *rk_dec;
static ac_request rk_req;
static ac_header rk_hdr;
static char rk_auth[4200];

static int rk_decide(int remote)
{
	ac_decision_use_jwks(rk_dec, remote ? rk_cache : NULL);
	ac_decide_begin(rk_policy[remote], NULL, &rk_req, now, NULL, 0, rk_dec);
	return ac_decision_answer(rk_dec)->action == AC_ALLOW;
}

static int rk_inline(void)
{
	return rk_decide(0);
}

static int rk_remote(void)
{
	return rk_decide(1);
}

static void remote_rows(const char *cas, long n)
{
	static char js[2][4096], jwks[1024], *mem[2];
	static uint64_t cmem[(1u << 19) / 8];
	static const char *const impl[] = { "decide-inline", "decide-remote" };
	static int (*const fn[])(void) = { rk_inline, rk_remote };
	const long ns[] = { n, n };
	uint8_t q[65];
	char x[64], y[64];
	size_t ql = 0, used, i;
	ac_policy_error err;
	ac_jwks_counts k;
	int64_t at;

	if (EVP_PKEY_get_octet_string_param(pub, OSSL_PKEY_PARAM_PUB_KEY, q,
	    sizeof q, &ql) != 1 || ql != 65) {
		printf("FAILED %s decide-remote no public point\n", cas);
		return;
	}
	x[ac_b64url_encode(x, sizeof x - 1, q + 1, 32)] = 0;
	y[ac_b64url_encode(y, sizeof y - 1, q + 33, 32)] = 0;
	snprintf(jwks, sizeof jwks, "{\"keys\":[{\"kty\":\"EC\",\"crv\":"
	    "\"P-256\",\"kid\":\"k\",\"x\":\"%s\",\"y\":\"%s\"}]}", x, y);
	snprintf(js[0], sizeof js[0], "{\"jwt\":{\"jwks\":%s,\"algorithms\":"
	    "[\"ES256\"],\"issuer\":\"%s\",\"audience\":\"%s\",\"leeway\":60,"
	    "\"cache\":false},\"default\":\"authenticated\"}", jwks, iss, aud);
	snprintf(js[1], sizeof js[1], "{\"jwt\":{\"jwks_uri\":"
	    "\"https://idp.example/jwks\",\"algorithms\":[\"ES256\"],"
	    "\"issuer\":\"%s\",\"audience\":\"%s\",\"leeway\":60,"
	    "\"cache\":false},\"default\":\"authenticated\"}", iss, aud);
	for (i = 0; i < 2; i++) {
		free(mem[i]);
		mem[i] = malloc(ac_policy_mem_bound(strlen(js[i])));
		rk_policy[i] = mem[i] == NULL ? NULL : ac_policy_load(mem[i],
		    ac_policy_mem_bound(strlen(js[i])), js[i], strlen(js[i]),
		    &used, &err);
		if (rk_policy[i] == NULL) {
			printf("FAILED %s %s policy: %s %s\n", cas, impl[i],
			    err.path, err.message);
			return;
		}
	}
	rk_cache = ac_jwks_cache_init(cmem, sizeof cmem);
	if (rk_dec == NULL)
		rk_dec = calloc(1, ac_sizeof_decision());
	if (rk_cache == NULL || rk_dec == NULL) {
		printf("FAILED %s decide-remote no memory\n", cas);
		return;
	}
	snprintf(rk_auth, sizeof rk_auth, "Bearer %s", atok);
	rk_hdr.name.ptr = "authorization";
	rk_hdr.name.len = 13;
	rk_hdr.value.ptr = rk_auth;
	rk_hdr.value.len = strlen(rk_auth);
	rk_req.method.ptr = "GET";
	rk_req.method.len = 3;
	rk_req.path.ptr = "/api/x";
	rk_req.path.len = 6;
	rk_req.headers = &rk_hdr;
	rk_req.n_headers = 1;
	/* the host's part, once: the fetch the first request waits for */
	ac_decision_use_jwks(rk_dec, rk_cache);
	if (ac_decide_begin(rk_policy[1], NULL, &rk_req, now, NULL, 0,
	    rk_dec) != AC_PENDING || ac_decide_fetched(rk_dec, 200,
	    "application/json", 16, jwks, strlen(jwks), now) != 0) {
		printf("FAILED %s decide-remote the fetch was not asked for or "
		    "its answer refused\n", cas);
		return;
	}
	ac_decide_finish(rk_policy[1], NULL, &rk_req, now, NULL, 0, rk_dec);
	measure_alt(cas, 2, impl, ns, fn);
	ac_jwks_cache_counts_get(rk_cache, &k, &i, &at);
	if (k.fetches != 1)
		printf("FAILED %s decide-remote %llu fetches, want 1\n", cas,
		    (unsigned long long)k.fetches);
}

static int ossl_verify(void)
{
	uint8_t der[160];
	const uint8_t *sig = sig_raw;
	size_t sig_len = sig_raw_len;
	int ok;

	if (is_ec) {
		ECDSA_SIG *es = ECDSA_SIG_new();
		uint8_t *p = der;
		int l;
		ECDSA_SIG_set0(es, BN_bin2bn(sig_raw, (int)ec_flen, NULL),
		    BN_bin2bn(sig_raw + ec_flen, (int)ec_flen, NULL));
		l = i2d_ECDSA_SIG(es, &p);
		ECDSA_SIG_free(es);
		if (l <= 0)
			return 0;
		sig = der;
		sig_len = (size_t)l;
	}
	EVP_MD_CTX_reset(mctx);
	if (EVP_DigestVerifyInit(mctx, NULL, asym_md, NULL, pub) != 1)
		return 0;
	ok = EVP_DigestVerify(mctx, sig, sig_len, (const uint8_t *)atok,
	    si_len) == 1;
	return ok;
}

static size_t b64url(char *out, const uint8_t *in, size_t n)
{
	return ac_b64url_encode(out, 1024, in, n);
}

static void asym_case(const char *cas, int ec, long n_ac, long n_ossl)
{
	EVP_PKEY *priv;
	EVP_MD_CTX *sctx;
	BIO *bio;
	char hdr[64], *pem;
	uint8_t sig[600];
	size_t sl = sizeof sig, o;
	long pem_len;
	int alternated = 0;
	const char *payload = strchr(tok, '.') + 1;
	size_t payload_len = (size_t)(strrchr(tok, '.') - payload);

	const char *alg = ec == 256 ? "ES256" : ec == 384 ? "ES384" :
	    ec == 521 ? "ES512" : "RS256";
	ac_alg ac = ec == 256 ? AC_ALG_ES256 : ec == 384 ? AC_ALG_ES384 :
	    ec == 521 ? AC_ALG_ES512 : AC_ALG_RS256;

	is_ec = ec;
	ec_flen = ec == 521 ? 66 : (size_t)ec / 8;
	asym_md = ec == 384 ? EVP_sha384() : ec == 521 ? EVP_sha512() :
	    EVP_sha256();
	priv = ec ? EVP_PKEY_Q_keygen(NULL, NULL, "EC", ec == 256 ? "P-256" :
	              ec == 384 ? "P-384" : "P-521")
	          : EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	/* header.payload: the HS256 token's payload, so the claims match */
	snprintf(hdr, sizeof hdr, "{\"alg\":\"%s\",\"typ\":\"JWT\"}", alg);
	o = b64url(atok, (const uint8_t *)hdr, strlen(hdr));
	atok[o++] = '.';
	memcpy(atok + o, payload, payload_len);
	o += payload_len;
	si_len = o;
	sctx = EVP_MD_CTX_new();
	if (priv == NULL || EVP_DigestSignInit(sctx, NULL, asym_md, NULL,
	    priv) != 1 || EVP_DigestSign(sctx, sig, &sl, (uint8_t *)atok, o) != 1) {
		printf("FAILED %s openssl could not sign\n", cas);
		return;
	}
	EVP_MD_CTX_free(sctx);
	if (ec) {
		const uint8_t *p = sig;
		ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)sl);
		const BIGNUM *r, *s;
		ECDSA_SIG_get0(es, &r, &s);
		BN_bn2binpad(r, sig_raw, (int)ec_flen);
		BN_bn2binpad(s, sig_raw + ec_flen, (int)ec_flen);
		sig_raw_len = 2 * ec_flen;
		ECDSA_SIG_free(es);
	} else {
		memcpy(sig_raw, sig, sl);
		sig_raw_len = sl;
	}
	atok[o++] = '.';
	o += b64url(atok + o, sig_raw, sig_raw_len);
	atok[o] = 0;
	atok_len = o;

	/* the public key, as PEM (SPKI), read back by both sides */
	bio = BIO_new(BIO_s_mem());
	PEM_write_bio_PUBKEY(bio, priv);
	pem_len = BIO_get_mem_data(bio, &pem);
	{
		BIO *b2 = BIO_new_mem_buf(pem, (int)pem_len);
		pub = PEM_read_bio_PUBKEY(b2, NULL, NULL, NULL);
		BIO_free(b2);
	}
	mctx = EVP_MD_CTX_new();
	if (pub == NULL || mctx == NULL) {
		printf("FAILED %s openssl could not read the public key\n", cas);
		return;
	}

	if (ac_jwt_key_pem == NULL || ac_jws_check == NULL) {
		printf("PENDING %s authcore ac_jwt_key_pem not linked\n", cas);
	} else if (ac_jwt_key_pem(&a_key, ac,
	    pem, (size_t)pem_len, NULL, 0) != 0) {
		printf("FAILED %s authcore ac_jwt_key_pem refused the key\n",
		    cas);
	} else if (ec) {
		/* ES*: authcore and OpenSSL alternate, run by run */
		static const char *const impl[] = { "authcore-verify",
			"authcore-sig", "openssl" };
		static int (*const fn[])(void) = { ac_asym_full, ac_asym_sig,
			ossl_verify };
		const long n[] = { n_ac, n_ac, n_ossl };
		measure_alt(cas, 3, impl, n, fn);
		alternated = 1;
		if (ec == 256) { /* the cached row: RS256, ES256 */
			cached_row(cas, pem, (size_t)pem_len, ec, 200000);
			remote_rows(cas, n_ac);
		}
	} else {
		measure(cas, "authcore-verify", n_ac, ac_asym_full);
		measure(cas, "authcore-sig", n_ac, ac_asym_sig);
		cached_row(cas, pem, (size_t)pem_len, ec, 200000);
	}
	if (!alternated)
		measure(cas, "openssl", n_ossl, ossl_verify);
	fflush(stdout);
	BIO_free(bio);
	EVP_MD_CTX_free(mctx);
	EVP_PKEY_free(pub);
	EVP_PKEY_free(priv);
}

/* ---- PBKDF2-HMAC-SHA256 ---------------------------------------------- */

/* The core's internal SHA-256 class selector (core/ac_internal.h), reached
 * through the linker's --wrap (see bench.mk): the core's own calls to
 * ac_sha256_class land here. wrap_calls proves the wrap took effect. */
const void *__real_ac_sha256_class(int portable);
const void *__wrap_ac_sha256_class(int portable);

static int force_portable;
static unsigned long wrap_calls;

const void *__wrap_ac_sha256_class(int portable)
{
	wrap_calls++;
	return __real_ac_sha256_class(portable || force_portable);
}

static uint8_t pb_pw[256], pb_salt[128], pb_dk[32];
static size_t pb_pw_len, pb_salt_len;
static uint32_t pb_iter;

static int ac_pb(void)
{
	return ac_pbkdf2(pb_dk, AC_PBKDF2_SHA256, pb_pw, pb_pw_len, pb_salt,
	    pb_salt_len, pb_iter, sizeof pb_dk) == 0;
}

static int ossl_pb(void)
{
	return PKCS5_PBKDF2_HMAC((const char *)pb_pw, (int)pb_pw_len, pb_salt,
	    (int)pb_salt_len, (int)pb_iter, EVP_sha256(), (int)sizeof pb_dk,
	    pb_dk) == 1;
}

/* The PBKDF2 rows, measured interleaved (run r of every row, then run r+1)
 * so that a burst of load elsewhere on the machine hits them alike. */
static const struct {
	const char *impl;
	int (*f)(void);
	int portable;
} pb_rows[] = {
	{ "openssl", ossl_pb, 0 },
	{ "authcore", ac_pb, 0 },
	{ "authcore-portable", ac_pb, 1 },
};
#define PB_NROWS (sizeof pb_rows / sizeof pb_rows[0])

/* One derivation per run; prints, per row, the best of PBKDF2_RUNS (ns per
 * derivation) and the derived key (the same on every run, or FAILED). */
static void measure_pb(void)
{
	double best[PB_NROWS];
	uint8_t dk[PB_NROWS][sizeof pb_dk];
	int failed[PB_NROWS] = { 0 };
	int r;
	size_t k, i;

	for (r = 0; r < PBKDF2_RUNS; r++) {
		for (k = 0; k < PB_NROWS; k++) {
			uint64_t t0;
			double dt;
			int ok;
			if (failed[k])
				continue;
			memset(pb_dk, 0, sizeof pb_dk);
			force_portable = pb_rows[k].portable;
			t0 = ns_now();
			ok = pb_rows[k].f();
			dt = (double)(ns_now() - t0);
			force_portable = 0;
			if (!ok || (r > 0 && memcmp(dk[k], pb_dk, sizeof pb_dk))) {
				printf("FAILED pbkdf2 %s %s\n", pb_rows[k].impl,
				    ok ? "derived keys differ between runs"
				       : "the call failed");
				failed[k] = 1;
				continue;
			}
			memcpy(dk[k], pb_dk, sizeof pb_dk);
			if (r == 0 || dt < best[k])
				best[k] = dt;
		}
	}
	for (k = 0; k < PB_NROWS; k++) {
		if (failed[k])
			continue;
		printf("RESULT pbkdf2 %s %.0f 1 %d\n", pb_rows[k].impl, best[k],
		    PBKDF2_RUNS);
		printf("DK pbkdf2 %s ", pb_rows[k].impl);
		for (i = 0; i < sizeof pb_dk; i++)
			printf("%02x", dk[k][i]);
		printf("\n");
	}
	fflush(stdout);
}

static int unhex(uint8_t *out, size_t cap, const char *hex, size_t *len)
{
	size_t n = strlen(hex), i;
	if (n % 2 != 0 || n / 2 > cap)
		return -1;
	for (i = 0; i < n / 2; i++) {
		unsigned v;
		if (sscanf(hex + 2 * i, "%2x", &v) != 1)
			return -1;
		out[i] = (uint8_t)v;
	}
	*len = n / 2;
	return 0;
}

static void pbkdf2_case(const char *iter, const char *pw, const char *salt)
{
	const void *fast = __real_ac_sha256_class(0);
	const void *port = __real_ac_sha256_class(1);
	unsigned long before;

	pb_iter = (uint32_t)strtoul(iter, NULL, 10);
	pb_pw_len = strlen(pw);
	if (pb_iter == 0 || pb_pw_len > sizeof pb_pw ||
	    unhex(pb_salt, sizeof pb_salt, salt, &pb_salt_len) != 0) {
		printf("FAILED pbkdf2 driver bad ITERATIONS/PASSWORD/SALT_HEX\n");
		return;
	}
	memcpy(pb_pw, pw, pb_pw_len);
	/* which classes this CPU gets: the portable one must be BearSSL's */
	printf("VERSION sha256_fast %s\n", fast == port ? "portable (no SHA-NI "
	    "on this CPU)" : "SHA-NI");
	if (port != (const void *)&br_sha256_vtable) {
		printf("FAILED pbkdf2 authcore-portable ac_sha256_class(1) is not "
		    "br_sha256_vtable\n");
		return;
	}
	fflush(stdout);

	/* the wrap must reach the core's own call, or the "portable" row
	 * would silently measure the fast path */
	before = wrap_calls;
	if (ac_pbkdf2(pb_dk, AC_PBKDF2_SHA256, pb_pw, pb_pw_len, pb_salt,
	    pb_salt_len, 1, sizeof pb_dk) != 0 || wrap_calls == before) {
		printf("FAILED pbkdf2 authcore-portable --wrap=ac_sha256_class "
		    "did not reach ac_pbkdf2\n");
		return;
	}
	measure_pb();
}

int main(int argc, char **argv)
{
	const char *only = getenv("BENCH_ONLY"); /* debugging: one case */
	double scale = getenv("BENCH_SCALE") ? atof(getenv("BENCH_SCALE")) : 1;

	if (argc != 6 && argc != 9) {
		fprintf(stderr, "usage: %s TOKEN SECRET ISSUER AUDIENCE NOW "
		    "[ITERATIONS PASSWORD SALT_HEX]\n", argv[0]);
		return 2;
	}
	tok = argv[1];
	tok_len = strlen(tok);
	secret = argv[2];
	iss = argv[3];
	aud = argv[4];
	now = strtoll(argv[5], NULL, 10);
	if (scale <= 0)
		scale = 1;

	printf("VERSION authcore %s\n", ac_version());
	printf("VERSION openssl %s\n", OpenSSL_version(OPENSSL_VERSION));
	fflush(stdout);

	if (ac_jwt_key_hmac(&hs_key, AC_ALG_HS256, (const uint8_t *)secret,
	    strlen(secret), NULL, 0) != 0) {
		printf("FAILED hs256 authcore ac_jwt_key_hmac refused the key\n");
		return 1;
	}
	ac_jwt_checks_init(&hs_checks);
	hs_checks.leeway = 60;
	hs_checks.require_exp = 1;
	hs_checks.issuer.ptr = iss;
	hs_checks.issuer.len = strlen(iss);
	hs_checks.audiences[0].ptr = aud;
	hs_checks.audiences[0].len = strlen(aud);
	hs_checks.n_audiences = 1;

	if (only == NULL || strcmp(only, "hs256") == 0) {
		measure("hs256", "authcore", (long)(200000 * scale), ac_hs256);
		measure("hs256", "libjwt", (long)(20000 * scale), libjwt_hs256);
	}
	if (only == NULL || strcmp(only, "rs256") == 0)
		asym_case("rs256", 0, (long)(5000 * scale), (long)(5000 * scale));
	if (only == NULL || strcmp(only, "es256") == 0)
		asym_case("es256", 256, (long)(2000 * scale), (long)(2000 * scale));
	if (only == NULL || strcmp(only, "es384") == 0)
		asym_case("es384", 384, (long)(500 * scale), (long)(300 * scale));
	if (only == NULL || strcmp(only, "es512") == 0)
		asym_case("es512", 521, (long)(200 * scale), (long)(300 * scale));
	if (argc == 9 && (only == NULL || strcmp(only, "pbkdf2") == 0))
		pbkdf2_case(argv[6], argv[7], argv[8]);
	return 0;
}
