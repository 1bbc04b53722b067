/*
 * ES256 signing for the unit tests: P-256 keys made from fixed seeds
 * (br_ec_keygen over HMAC-DRBG), their public JWK, and compact JWS tokens
 * over any header and payload, so the test programs are self-contained.
 * Include once per test program, after authcore.h.
 */
#ifndef AC_TEST_ES256_H
#define AC_TEST_ES256_H

#include <bearssl.h>
#include <stdio.h>
#include <string.h>

typedef struct {
	br_ec_private_key sk;
	uint8_t kbuf[BR_EC_KBUF_PRIV_MAX_SIZE];
	char kid[16];
	char jwk[512];
} signer;

static inline void b64(char *out, size_t cap, const void *p, size_t n)
{
	size_t l = ac_b64url_encode(out, cap, p, n);
	out[l < cap ? l : 0] = 0;
}

/* A key from `seed`, published as a JWK with `kid` and no "alg" (bound by
 * its curve, as providers publish EC keys). */
static inline void make_signer(signer *s, const char *seed, const char *kid)
{
	br_hmac_drbg_context rng;
	br_ec_public_key pk;
	uint8_t pbuf[BR_EC_KBUF_PUB_MAX_SIZE];
	char x[64], y[64];

	memset(s, 0, sizeof *s);
	br_hmac_drbg_init(&rng, &br_sha256_vtable, seed, strlen(seed));
	br_ec_keygen(&rng.vtable, br_ec_get_default(), &s->sk, s->kbuf,
	    BR_EC_secp256r1);
	br_ec_compute_pub(br_ec_get_default(), &pk, pbuf, &s->sk);
	b64(x, sizeof x, pk.q + 1, 32);
	b64(y, sizeof y, pk.q + 33, 32);
	snprintf(s->kid, sizeof s->kid, "%s", kid);
	snprintf(s->jwk, sizeof s->jwk, "{\"kty\":\"EC\",\"crv\":\"P-256\","
	    "\"use\":\"sig\",\"kid\":\"%s\",\"x\":\"%s\",\"y\":\"%s\"}", kid, x,
	    y);
}

/* header.payload (base64url of two JSON texts) into out, its SHA-256 into
 * hash; its length. */
static inline size_t jws_input(const char *hdr, const char *pl, char *out,
    size_t cap, uint8_t hash[32])
{
	br_sha256_context sc;
	size_t n;

	n = ac_b64url_encode(out, cap, hdr, strlen(hdr));
	out[n++] = '.';
	n += ac_b64url_encode(out + n, cap - n, pl, strlen(pl));
	br_sha256_init(&sc);
	br_sha256_update(&sc, out, n);
	br_sha256_out(&sc, hash);
	return n;
}

/* Appends "." and the signature to the n bytes of jws_input; NUL-ends. */
static inline const char *jws_finish(char *out, size_t n, size_t cap,
    const uint8_t *sig, size_t sl)
{
	out[n++] = '.';
	n += ac_b64url_encode(out + n, cap - n, sig, sl);
	out[n] = 0;
	return out;
}

/* header.payload.signature (ES256) of the two JSON texts, into out. */
static inline const char *sign_jws(const signer *s, const char *hdr,
    const char *pl, char *out, size_t cap)
{
	uint8_t hash[32], sig[132];
	size_t n = jws_input(hdr, pl, out, cap, hash);
	size_t sl = br_ecdsa_i31_sign_raw(br_ec_get_default(),
	    &br_sha256_vtable, hash, &s->sk, sig);

	return jws_finish(out, n, cap, sig, sl);
}

/* A JWKS of the given signers' public keys (either may be NULL). */
static inline const char *jwks(char *out, size_t cap, const signer *a,
    const signer *b)
{
	snprintf(out, cap, "{\"keys\":[%s%s%s]}", a ? a->jwk : "",
	    a && b ? "," : "", b ? b->jwk : "");
	return out;
}

#endif
