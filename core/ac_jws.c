/*
 * JWS signature checks (RFC 7515, RFC 7518 section 3) over BearSSL.
 *
 * HMAC tags are recomputed and compared in constant time over the full
 * length. Both RSA schemes run the public operation of core/ac_rsa.c (not
 * BearSSL's, which is constant-time over the exponent for no gain on public
 * inputs and about eight times slower for e = 65537), then check the encoded
 * message here with BearSSL's hashes: EMSA-PKCS1-v1_5 by building the
 * expected encoding and comparing it whole (RFC 8017 section 8.2.2 step 4);
 * RSA-PSS (not in BearSSL 0.6) by EMSA-PSS-VERIFY (section 9.1.2), with the
 * MGF1 hash fixed to the signature hash and the salt length to the hash
 * length, as JWS does.
 * ECDSA takes the raw (P1363) r||s form that JWS uses, of exactly twice the
 * field size, and runs the variable-time verification of core/ac_ecdsa.c
 * (public inputs only; BearSSL 0.6's constant-time code was about 13 times
 * slower than OpenSSL for P-256), which refuses r or s outside [1, n-1].
 */
#include <bearssl.h>

#include "ac_internal.h"

_Static_assert(sizeof(ac_rsa_pub) <= sizeof(((ac_jwt_key *)0)->state),
    "ac_jwt_key.state too small for an RSA key");
_Static_assert(sizeof(ac_ec_pub) <= sizeof(((ac_jwt_key *)0)->state),
    "ac_jwt_key.state too small for an EC key");

int ac_alg_family(ac_alg alg)
{
	switch (alg) {
	case AC_ALG_HS256: case AC_ALG_HS384: case AC_ALG_HS512: return 'H';
	case AC_ALG_RS256: case AC_ALG_RS384: case AC_ALG_RS512: return 'R';
	case AC_ALG_PS256: case AC_ALG_PS384: case AC_ALG_PS512: return 'P';
	case AC_ALG_ES256: case AC_ALG_ES384: case AC_ALG_ES512: return 'E';
	default: return 0;
	}
}

size_t ac_alg_hash_len(ac_alg alg)
{
	switch (alg) {
	case AC_ALG_HS256: case AC_ALG_RS256: case AC_ALG_PS256: case AC_ALG_ES256:
		return 32;
	case AC_ALG_HS384: case AC_ALG_RS384: case AC_ALG_PS384: case AC_ALG_ES384:
		return 48;
	case AC_ALG_HS512: case AC_ALG_RS512: case AC_ALG_PS512: case AC_ALG_ES512:
		return 64;
	default:
		return 0;
	}
}

const void *ac_alg_hash_class(ac_alg alg)
{
	switch (ac_alg_hash_len(alg)) {
	case 32: return ac_sha256_class(0);
	case 48: return &br_sha384_vtable;
	case 64: return &br_sha512_vtable;
	default: return NULL;
	}
}

/* The hash of an RSA or ECDSA signature's input. BearSSL's own SHA-256:
 * the input is a few hundred bytes, so choosing the SHA-NI class (a CPUID
 * probe, about 1 us under a hypervisor) would cost more than it saves. */
static const br_hash_class *sig_hash_class(ac_alg alg)
{
	return ac_alg_hash_len(alg) == 32 ? &br_sha256_vtable :
	    (const br_hash_class *)ac_alg_hash_class(alg);
}

static void hash_parts(const br_hash_class *h, const void *a, size_t alen,
    const void *b, size_t blen, uint8_t *out)
{
	br_hash_compat_context hc;

	h->init(&hc.vtable);
	h->update(&hc.vtable, a, alen);
	if (blen)
		h->update(&hc.vtable, b, blen);
	h->out(&hc.vtable, out);
}

static int check_hmac(const ac_jwt_key *key, const char *in, size_t len,
    const uint8_t *sig, size_t sig_len)
{
	br_hmac_context hc;
	uint8_t mac[64];
	size_t ml = ac_alg_hash_len(key->alg);
	int ok;

	if (sig_len != ml)
		return 0;
	br_hmac_init(&hc, (const br_hmac_key_context *)(const void *)key->state,
	    0);
	br_hmac_update(&hc, in, len);
	br_hmac_out(&hc, mac);
	ok = ac_ct_equal(mac, sig, ml);
	memset(mac, 0, sizeof mac);
	return ok;
}

/* EMSA-PKCS1-v1_5 (RFC 8017 section 9.2) of hash[0..hl) into em[0..k):
 * 00 01 FF..FF 00 DigestInfo. with_null: the DigestInfo's AlgorithmIdentifier
 * has NULL parameters (the DER of note 1 of section 9.2); otherwise they
 * are absent, a form some signers emit. Accepting exactly these two keeps
 * the set BearSSL's br_rsa_pkcs1_vrfy accepted when it did this check.
 * k >= 256. */
static void emsa_pkcs1(uint8_t *em, size_t k, const uint8_t *hash, size_t hl,
    int with_null)
{
	/* SHA-256/384/512: 2.16.840.1.101.3.4.2.{1,2,3}, whose DER ends in
	 * 01, 02, 03 (note 1 of RFC 8017 section 9.2 lists the encodings) */
	static const uint8_t sha2_oid[8] = { 0x60, 0x86, 0x48, 0x01, 0x65, 0x03,
		0x04, 0x02 };
	size_t alg_len = with_null ? 15 : 13; /* OID TLV (11) [+ NULL] */
	size_t t_len = 2 + alg_len + 2 + hl, p;
	uint8_t *t = em + k - t_len;

	em[0] = 0x00;
	em[1] = 0x01;
	memset(em + 2, 0xff, k - t_len - 3);
	t[-1] = 0x00;
	t[0] = 0x30; /* DigestInfo */
	t[1] = (uint8_t)(t_len - 2);
	t[2] = 0x30; /* AlgorithmIdentifier */
	t[3] = (uint8_t)(alg_len - 2);
	t[4] = 0x06;
	t[5] = 0x09;
	memcpy(t + 6, sha2_oid, sizeof sha2_oid);
	t[14] = hl == 32 ? 1 : hl == 48 ? 2 : 3;
	p = 15;
	if (with_null) {
		t[p++] = 0x05;
		t[p++] = 0x00;
	}
	t[p++] = 0x04; /* the digest, an OCTET STRING */
	t[p++] = (uint8_t)hl;
	memcpy(t + p, hash, hl);
}

static int check_rsa_pkcs1(const ac_jwt_key *key, const char *in, size_t len,
    const uint8_t *sig, size_t sig_len)
{
	const ac_rsa_pub *k = (const ac_rsa_pub *)(const void *)key->state;
	uint8_t em[AC_RSA_MAX_BYTES], want[AC_RSA_MAX_BYTES], hash[64];
	size_t hl = ac_alg_hash_len(key->alg);

	if (sig_len != k->n_len)
		return 0;
	memcpy(em, sig, sig_len);
	if (!ac_rsa_public(k, em, sig_len)) /* also refuses sig >= n */
		return 0;
	hash_parts(sig_hash_class(key->alg), in, len, NULL, 0, hash);
	emsa_pkcs1(want, sig_len, hash, hl, 1);
	if (ac_ct_equal(em, want, sig_len))
		return 1;
	emsa_pkcs1(want, sig_len, hash, hl, 0);
	return ac_ct_equal(em, want, sig_len);
}

/* MGF1 (RFC 8017 B.2.1) XORed into buf. */
static void mgf1_xor(const br_hash_class *h, size_t hl, const uint8_t *seed,
    uint8_t *buf, size_t len)
{
	uint8_t t[64], ctr[4];
	uint32_t c;
	size_t off = 0, i;

	for (c = 0; off < len; c++) {
		ctr[0] = (uint8_t)(c >> 24);
		ctr[1] = (uint8_t)(c >> 16);
		ctr[2] = (uint8_t)(c >> 8);
		ctr[3] = (uint8_t)c;
		hash_parts(h, seed, hl, ctr, 4, t);
		for (i = 0; i < hl && off < len; i++)
			buf[off++] ^= t[i];
	}
}

static unsigned bit_length(const uint8_t *x, size_t len)
{
	size_t i;
	for (i = 0; i < len; i++) {
		if (x[i]) {
			unsigned b = 0, v = x[i];
			while (v) {
				b++;
				v >>= 1;
			}
			return (unsigned)((len - i - 1) * 8 + b);
		}
	}
	return 0;
}

static int check_rsa_pss(const ac_jwt_key *key, const char *in, size_t len,
    const uint8_t *sig, size_t sig_len)
{
	const ac_rsa_pub *k = (const ac_rsa_pub *)(const void *)key->state;
	const br_hash_class *h = sig_hash_class(key->alg);
	size_t hl = ac_alg_hash_len(key->alg), sl = hl, em_len, db_len, i;
	unsigned mod_bits = bit_length(k->n, k->n_len), em_bits, top;
	uint8_t x[AC_RSA_MAX_BYTES], mhash[64], hh[64], zeros[8] = { 0 };
	uint8_t *em, *db, *hp;
	br_hash_compat_context hc;

	if (sig_len != k->n_len)
		return 0;
	memcpy(x, sig, sig_len);
	if (!ac_rsa_public(k, x, sig_len)) /* also refuses sig >= n */
		return 0;
	em_bits = mod_bits - 1;
	em_len = (em_bits + 7) / 8;
	em = x + (sig_len - em_len);
	if (em_len < sig_len && x[0] != 0)
		return 0; /* emBits a multiple of 8: a leading zero byte */
	if (em_len < hl + sl + 2 || em[em_len - 1] != 0xbc)
		return 0;
	db_len = em_len - hl - 1;
	db = em;
	hp = em + db_len;
	top = 8u * (unsigned)em_len - em_bits; /* bits of db[0] that must be 0 */
	if (top && (db[0] & (uint8_t)(0xffu << (8 - top))) != 0)
		return 0;
	mgf1_xor(h, hl, hp, db, db_len);
	if (top)
		db[0] &= (uint8_t)(0xffu >> top);
	for (i = 0; i < db_len - sl - 1; i++)
		if (db[i] != 0)
			return 0;
	if (db[db_len - sl - 1] != 0x01)
		return 0;
	hash_parts(h, in, len, NULL, 0, mhash);
	h->init(&hc.vtable);
	h->update(&hc.vtable, zeros, 8);
	h->update(&hc.vtable, mhash, hl);
	h->update(&hc.vtable, db + db_len - sl, sl);
	h->out(&hc.vtable, hh);
	return ac_ct_equal(hh, hp, hl);
}

static int check_ecdsa(const ac_jwt_key *key, const char *in, size_t len,
    const uint8_t *sig, size_t sig_len)
{
	const ac_ec_pub *k = (const ac_ec_pub *)(const void *)key->state;
	uint8_t hash[64];
	size_t want = key->alg == AC_ALG_ES256 ? 64 :
	    key->alg == AC_ALG_ES384 ? 96 : 132;

	if (sig_len != want)
		return 0;
	hash_parts(sig_hash_class(key->alg), in, len, NULL, 0, hash);
	return ac_ecdsa_verify(k, hash, ac_alg_hash_len(key->alg), sig,
	    sig_len);
}

int ac_jws_check(const ac_jwt_key *key, const char *signing_input,
    size_t input_len, const uint8_t *sig, size_t sig_len)
{
	switch (ac_alg_family(key->alg)) {
	case 'H': return check_hmac(key, signing_input, input_len, sig, sig_len);
	case 'R': return check_rsa_pkcs1(key, signing_input, input_len, sig, sig_len);
	case 'P': return check_rsa_pss(key, signing_input, input_len, sig, sig_len);
	case 'E': return check_ecdsa(key, signing_input, input_len, sig, sig_len);
	default: return 0;
	}
}
