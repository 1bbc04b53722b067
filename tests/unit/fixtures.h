/*
 * What several unit-test programs share beyond the harness (check.h, which
 * this includes): the HS256 test secret, a signer and a policy loader over
 * it; the 2048-bit RSA test key and loading an RSA private key from hex for
 * BearSSL's private operations; a splitmix64 stream; a monotonic clock for
 * --bench lines. Functions are static inline and data static const, so a
 * program gets only what it uses. Include once per test program.
 */
#ifndef AC_TEST_FIXTURES_H
#define AC_TEST_FIXTURES_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <bearssl.h>

#include "authcore.h"
#include "check.h"

/* ---- HS256 tokens and policies ---- */
static const char SECRET[] = "unit-test-secret-0123456789abcdefghij";

/* Signs a payload (JSON) with SECRET, HS256; returns a static token. */
static inline const char *sign(const char *payload)
{
	static char tok[AC_TOKEN_MAX];
	size_t n = ac_jwt_sign_hmac(tok, sizeof tok - 1, AC_ALG_HS256,
	    (const uint8_t *)SECRET, strlen(SECRET), NULL, 0, payload,
	    strlen(payload));
	tok[n] = 0;
	return tok;
}

/* One arena for every policy: a load replaces the policy loaded before. */
static _Alignas(16) uint8_t policy_mem[1 << 20];

static inline const ac_policy *load(const char *json, ac_policy_error *err)
{
	size_t used;
	return ac_policy_load(policy_mem, sizeof policy_mem, json, strlen(json),
	    &used, err);
}

static inline int str_is(ac_str s, const char *z)
{
	return s.len == strlen(z) && memcmp(s.ptr, z, s.len) == 0;
}

/* ---- RSA private keys ----
 * The 2048-bit test key (e = 65537; test use only, never for anything
 * else), made on 2026-11-22 with
 *   openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 */
static const char N2048[] =
    "de326108d042e7d9a3b723e24a03842e126b3ccf8d792cdef4643a8140c4cf6e"
    "eebb36d181c598b159cd2fa64be8ac51a87822a561e58a62f24e275505a8e380"
    "79ee034a1afdb4be79b61755717d6bbffe0c299313aa9ac056d70bd69a5cf952"
    "ada8d123f6db1e8533b778b78a819911c9e9a07ca138a848069108912c2c00dc"
    "11441f9a5a1e98bac6a966cac7464b1afabf9ea68f0b9eab1f09c33d54e30af6"
    "a6a5bd130edb0a4ccf0dad7161c8c5a38306da56b9b748308a990f5f477d6504"
    "72f5e0d0e2fba30962b5f95f0a93f239d1cc9bf5858dedb829c92f13ca3bc835"
    "4e0463badf8c650ba1992cfa17991bd26cb378aebb3658aaa129356ff5e76413";
static const char P2048[] =
    "fa541273111ecd6b03bfde9e02b9a92f3dc735c120764aa83a6579ac668f76aa"
    "3306d793bb243aea7a3d5dca7a45526d48a7f4ffa4387091f32f61fb01c1b60d"
    "be0d2953abc453bfdf6860329990b4cf9c5334de8ae72e496c6483dd26516db9"
    "e16d1093c8199c9267684d0ac4f5489fe3f174c0e83d6528564e8d5bac43ca5b";
static const char Q2048[] =
    "e33b24194444db975e709bec1706be5fb77dae9422a1c9843d969bb7c9e813ad"
    "d0bd022742e9b00144daaf5bf9ca7d35ae843bec537dc131ead80964f439a00f"
    "2486ba3c2de465d8913334f2dd8af8b20a4eb197e7b8f012d21490d40a858c61"
    "aa543aefa95ec27cb14c3887f43509586dc2c389b5d7d1b5ce49f4a8a961caa9";
static const char DP2048[] =
    "29e7c70ae233d0d9785037592645a44fd73cb0fffa8a32e74497562e09213d11"
    "32e7935114c3f4e4e9bfba22ba233eb032b88328047aba45847b4b20b4e393b1"
    "6b3e52cbc1f664babb108302157906fbb644ab961194afc7f4d042ced3aa4fff"
    "0d00b004bd3ba45d51d841056b81503e0bef90c6f659c8c45ee6597d9e31deff";
static const char DQ2048[] =
    "30cc30926480cd0f92ae682da93c3f81daabd8e3e3140f6ca0b549378cda93ef"
    "4dd66931f942aa137bafe2dcc3a5e281b6ba9b0bc35a4c34e61402e0753a32cf"
    "4daec92bc747373fecdeac4e439966930577a4d7d46178dcf1d48ccd9c7cd58a"
    "dbc33eecdcd886b7b47383e85e5f4d647a1dcb543582e57c3f92ce41b22e5811";
static const char IQ2048[] =
    "df078c00475d7871e1eff0b7b40cd7bfcafbf69cbf8fd6c5bd83b5aa7cb81cc5"
    "57957333316cd02ef6ad3bbd20a4757eddd2daa02dd5f6c001fae50c23ffff9b"
    "21735bb515beade5209efe58b86d6696be30fe2fc8db86b65a9e37525c23f4f3"
    "e26f61b73abfb8e0db43396b0f9137819cc8e6dd4b7e4c250fc951c9f134e5fd";

/* A private key for br_rsa_i31_private / br_rsa_i31_pkcs1_sign; the
 * parts point into the struct (do not copy it). */
typedef struct {
	br_rsa_private_key sk;
	uint8_t p[260], q[260], dp[260], dq[260], iq[260];
	const char *n_hex;
	size_t n_len; /* bytes of n */
	unsigned bits;
} rsa_priv;

/* k from the hex of n and the CRT parts (up to 4096-bit keys). */
static inline void load_priv(rsa_priv *k, unsigned bits, const char *n_hex,
    const char *p, const char *q, const char *dp, const char *dq,
    const char *iq)
{
	uint8_t n[512];

	k->n_hex = n_hex;
	k->n_len = from_hex(n, sizeof n, n_hex);
	k->bits = bits;
	k->sk.n_bitlen = bits;
	k->sk.p = k->p;
	k->sk.plen = from_hex(k->p, sizeof k->p, p);
	k->sk.q = k->q;
	k->sk.qlen = from_hex(k->q, sizeof k->q, q);
	k->sk.dp = k->dp;
	k->sk.dplen = from_hex(k->dp, sizeof k->dp, dp);
	k->sk.dq = k->dq;
	k->sk.dqlen = from_hex(k->dq, sizeof k->dq, dq);
	k->sk.iq = k->iq;
	k->sk.iqlen = from_hex(k->iq, sizeof k->iq, iq);
}

/* ---- random stream ----
 * splitmix64 from rng_state, which a program sets to its fixed seed first,
 * so every run (and every build) tests the same values. */
static uint64_t rng_state;

static inline uint64_t rnd64(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static inline void rnd_bytes(uint8_t *p, size_t n)
{
	size_t i;
	for (i = 0; i < n; i++)
		p[i] = (uint8_t)rnd64();
}

/* ---- --bench ----
 * Microseconds on the monotonic clock; for programs that define
 * _POSIX_C_SOURCE before any include (the tests proper take no clock). */
#ifdef _POSIX_C_SOURCE
#include <time.h>
static inline double now_us(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}
#endif

#endif
