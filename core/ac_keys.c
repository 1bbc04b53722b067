/*
 * Verification keys: PEM (SPKI or PKCS#1), JWK and JWKS.
 *
 * Every key is bound to one algorithm when it is made, and the key type must
 * fit it: an RSA key never becomes an HMAC secret (the algorithm-confusion
 * class), an EC key only serves the algorithm of its curve. PEM armour is
 * removed with BearSSL's decoder; BearSSL has no SubjectPublicKeyInfo
 * parser, so a small strict DER reader for the two structures we need lives
 * here. JWK text is scanned with the allocation-free JSON scanner.
 */
#include <bearssl.h>

#include "ac_internal.h"

/* ---- DER (X.690), only what SPKI and RSAPublicKey need */
typedef struct {
	const uint8_t *p;
	size_t n;
} der;

/* Reads one TLV with tag `tag`; minimal-length encodings only. */
static int der_take(der *d, uint8_t tag, der *out)
{
	size_t len = 0, i, nl;

	if (d->n < 2 || d->p[0] != tag)
		return -1;
	if (d->p[1] < 0x80) {
		len = d->p[1];
		i = 2;
	} else {
		nl = d->p[1] & 0x7fu;
		if (nl == 0 || nl > 2 || d->n < 2 + nl || d->p[2] == 0)
			return -1;
		for (i = 0; i < nl; i++)
			len = (len << 8) | d->p[2 + i];
		if (len < 0x80)
			return -1;
		i = 2 + nl;
	}
	if (len > d->n - i)
		return -1;
	out->p = d->p + i;
	out->n = len;
	d->p += i + len;
	d->n -= i + len;
	return 0;
}

/* A positive INTEGER's magnitude without its sign-padding zero. */
static int der_uint(der *d, der *out)
{
	if (der_take(d, 0x02, out) < 0 || out->n == 0 || (out->p[0] & 0x80))
		return -1;
	if (out->p[0] == 0) {
		if (out->n == 1 || !(out->p[1] & 0x80))
			return -1; /* non-minimal */
		out->p++;
		out->n--;
	}
	return 0;
}

static const uint8_t OID_RSA[] = { 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01,
	0x01, 0x01 };
static const uint8_t OID_EC[] = { 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01 };
static const uint8_t OID_P256[] = { 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01,
	0x07 };
static const uint8_t OID_P384[] = { 0x2b, 0x81, 0x04, 0x00, 0x22 };
static const uint8_t OID_P521[] = { 0x2b, 0x81, 0x04, 0x00, 0x23 };

static int der_is(const der *d, const uint8_t *v, size_t n)
{
	return d->n == n && memcmp(d->p, v, n) == 0;
}

static int curve_of(ac_alg alg)
{
	switch (alg) {
	case AC_ALG_ES256: return BR_EC_secp256r1;
	case AC_ALG_ES384: return BR_EC_secp384r1;
	case AC_ALG_ES512: return BR_EC_secp521r1;
	default: return 0;
	}
}

static size_t field_len(int curve)
{
	return curve == BR_EC_secp256r1 ? 32 : curve == BR_EC_secp384r1 ? 48 : 66;
}

static void key_head(ac_jwt_key *key, ac_alg alg, const char *kid,
    size_t kid_len)
{
	memset(key, 0, sizeof *key);
	key->alg = alg;
	if (kid != NULL && kid_len <= sizeof key->kid) {
		memcpy(key->kid, kid, kid_len);
		key->kid_len = kid_len;
		key->has_kid = 1;
	}
}

static int set_rsa(ac_jwt_key *key, const uint8_t *n, size_t nlen,
    const uint8_t *e, size_t elen)
{
	ac_rsa_pub *k = (ac_rsa_pub *)(void *)key->state;
	int f = ac_alg_family(key->alg);

	while (nlen > 0 && n[0] == 0) {
		n++;
		nlen--;
	}
	while (elen > 0 && e[0] == 0) {
		e++;
		elen--;
	}
	if (f != 'R' && f != 'P')
		return -1;
	/* 2048..4096-bit moduli; odd exponent >= 3 of at most 32 bits */
	if (nlen < 256 || nlen > AC_RSA_MAX_BYTES || !(n[nlen - 1] & 1))
		return -1;
	if (elen == 0 || elen > 4 || !(e[elen - 1] & 1) ||
	    (elen == 1 && e[0] < 3))
		return -1;
	memcpy(k->n, n, nlen);
	k->n_len = (uint32_t)nlen;
	memcpy(k->e, e, elen);
	k->e_len = (uint32_t)elen;
	return ac_rsa_pub_init(k); /* Montgomery constants, once per key */
}

static int set_ec(ac_jwt_key *key, int curve, const uint8_t *q, size_t qlen)
{
	ac_ec_pub *k = (ac_ec_pub *)(void *)key->state;

	if (curve == 0 || curve != curve_of(key->alg))
		return -1;
	if (qlen != 1 + 2 * field_len(curve) || q[0] != 0x04)
		return -1;
	k->curve = curve;
	k->q_len = (uint32_t)qlen;
	memcpy(k->q, q, qlen);
	/* coordinates below p, the point on the curve; precomputed points */
	return ac_ec_pub_init(k);
}

/* DER of SPKI or PKCS#1 RSAPublicKey into key (alg already set). */
static int from_der(ac_jwt_key *key, const uint8_t *p, size_t n, int pkcs1)
{
	der d = { p, n }, seq, alg, oid, params, bits, rsa, mod, exp;

	if (pkcs1) {
		if (der_take(&d, 0x30, &rsa) < 0 || d.n != 0)
			return -1;
		goto rsa_body;
	}
	if (der_take(&d, 0x30, &seq) < 0 || d.n != 0 ||
	    der_take(&seq, 0x30, &alg) < 0 || der_take(&seq, 0x03, &bits) < 0 ||
	    seq.n != 0 || der_take(&alg, 0x06, &oid) < 0)
		return -1;
	if (bits.n < 1 || bits.p[0] != 0) /* no unused bits */
		return -1;
	bits.p++;
	bits.n--;
	if (der_is(&oid, OID_RSA, sizeof OID_RSA)) {
		/* parameters: NULL (or absent) */
		if (alg.n != 0 && (der_take(&alg, 0x05, &params) < 0 ||
		    params.n != 0 || alg.n != 0))
			return -1;
		d = bits;
		if (der_take(&d, 0x30, &rsa) < 0 || d.n != 0)
			return -1;
		goto rsa_body;
	}
	if (der_is(&oid, OID_EC, sizeof OID_EC)) {
		int curve = 0;
		if (der_take(&alg, 0x06, &params) < 0 || alg.n != 0)
			return -1;
		if (der_is(&params, OID_P256, sizeof OID_P256))
			curve = BR_EC_secp256r1;
		else if (der_is(&params, OID_P384, sizeof OID_P384))
			curve = BR_EC_secp384r1;
		else if (der_is(&params, OID_P521, sizeof OID_P521))
			curve = BR_EC_secp521r1;
		return set_ec(key, curve, bits.p, bits.n);
	}
	return -1;
rsa_body:
	if (der_uint(&rsa, &mod) < 0 || der_uint(&rsa, &exp) < 0 || rsa.n != 0)
		return -1;
	return set_rsa(key, mod.p, mod.n, exp.p, exp.n);
}

typedef struct {
	uint8_t buf[2048];
	size_t len;
	int overflow;
} pem_sink;

static void pem_dest(void *ctx, const void *data, size_t len)
{
	pem_sink *s = ctx;
	if (len > sizeof s->buf - s->len) {
		s->overflow = 1;
		return;
	}
	memcpy(s->buf + s->len, data, len);
	s->len += len;
}

int ac_jwt_key_pem(ac_jwt_key *key, ac_alg alg, const char *pem,
    size_t pem_len, const char *kid, size_t kid_len)
{
	br_pem_decoder_context pc;
	pem_sink sink;
	size_t off = 0;
	int kind = -1, done = 0, newline = 0;

	if (kid != NULL && kid_len > sizeof key->kid)
		return -1;
	key_head(key, alg, kid, kid_len);
	if (ac_alg_family(alg) == 'H' || ac_alg_family(alg) == 0)
		return -1;
	sink.len = 0;
	sink.overflow = 0;
	br_pem_decoder_init(&pc);
	while (!done) {
		if (off < pem_len)
			off += br_pem_decoder_push(&pc, pem + off, pem_len - off);
		else if (!newline++)
			br_pem_decoder_push(&pc, "\n", 1); /* ends the last line */
		else
			return -1; /* no END line */
		switch (br_pem_decoder_event(&pc)) {
		case BR_PEM_BEGIN_OBJ:
			if (kind >= 0)
				return -1; /* one object only */
			if (strcmp(br_pem_decoder_name(&pc), "PUBLIC KEY") == 0)
				kind = 0;
			else if (strcmp(br_pem_decoder_name(&pc),
			    "RSA PUBLIC KEY") == 0)
				kind = 1;
			else
				return -1; /* private keys, certificates, ... */
			br_pem_decoder_setdest(&pc, pem_dest, &sink);
			break;
		case BR_PEM_END_OBJ:
			done = 1;
			break;
		case BR_PEM_ERROR:
			return -1;
		default:
			break;
		}
	}
	if (kind < 0 || sink.overflow)
		return -1;
	return from_der(key, sink.buf, sink.len, kind);
}

/* ---- JWK */
static const aj_member *member(const aj_member *m, size_t n, const char *name)
{
	size_t i;
	for (i = 0; i < n; i++)
		if (aj_str_eq(m[i].key, name, strlen(name)))
			return &m[i];
	return NULL;
}

/* A string member decoded into buf; 0 absent, 1 present, -1 bad. */
static int member_str(const aj_member *m, size_t n, const char *name,
    char *buf, size_t cap, size_t *len)
{
	const aj_member *v = member(m, n, name);
	if (v == NULL)
		return 0;
	if (v->type != AJ_STRING || aj_str_decode(v->raw, buf, cap, len) < 0)
		return -1;
	return 1;
}

/* A base64url member decoded into bytes. */
static int member_b64(const aj_member *m, size_t n, const char *name,
    uint8_t *out, size_t cap, size_t *len)
{
	char txt[700];
	size_t tl;
	if (member_str(m, n, name, txt, sizeof txt, &tl) != 1)
		return -1;
	return ac_b64url_decode(out, cap, len, txt, tl);
}

static ac_alg alg_for_curve(const char *crv, size_t len)
{
	if (len == 5 && memcmp(crv, "P-256", 5) == 0)
		return AC_ALG_ES256;
	if (len == 5 && memcmp(crv, "P-384", 5) == 0)
		return AC_ALG_ES384;
	if (len == 5 && memcmp(crv, "P-521", 5) == 0)
		return AC_ALG_ES512;
	return AC_ALG_NONE;
}

static int kty_fits(const char *kty, size_t len, ac_alg alg)
{
	int f = ac_alg_family(alg);
	if (len == 3 && memcmp(kty, "oct", 3) == 0)
		return f == 'H';
	if (len == 3 && memcmp(kty, "RSA", 3) == 0)
		return f == 'R' || f == 'P';
	if (len == 2 && memcmp(kty, "EC", 2) == 0)
		return f == 'E';
	return 0;
}

/* "use": 0 absent, 1 "sig", 2 "enc", 3 another use, -1 not a short
 * string. */
static int use_of(const aj_member *m, size_t n)
{
	char u[16];
	size_t l;
	int r = member_str(m, n, "use", u, sizeof u, &l);
	if (r <= 0)
		return r;
	if (l == 3 && memcmp(u, "sig", 3) == 0)
		return 1;
	return l == 3 && memcmp(u, "enc", 3) == 0 ? 2 : 3;
}

#define KEY_OPS_MAX 16

/* RFC 7517 section 4.3 "key_ops", read against "use" (as use_of gives
 * it). Returns 0 if absent, 1 if it holds "verify", 2 if it does not (the
 * key is not for checking signatures), or -1 with a reason if it is not
 * an array of at most KEY_OPS_MAX distinct strings of at most 32 bytes,
 * or if it contradicts "use": with "sig" no encryption operation, with
 * "enc" no signature operation (section 4.3: when both are present they
 * MUST be consistent; a "use" outside the registry has no operations to
 * agree with). Values outside the registry are allowed, as the RFC allows
 * them, and mean nothing here. */
static int key_ops_of(const aj_member *m, size_t n, int use, const char **why)
{
	static const char *const enc_ops[] = { "encrypt", "decrypt", "wrapKey",
		"unwrapKey", "deriveKey", "deriveBits", NULL };
	const aj_member *v = member(m, n, "key_ops");
	char ops[KEY_OPS_MAX][32];
	size_t lens[KEY_OPS_MAX], count = 0, pos = 0, i, j;
	int verify = 0, sig_op = 0, enc_op = 0;
	aj_type t;
	ac_str e;

	if (v == NULL)
		return 0;
	if (v->type != AJ_ARRAY)
		goto malformed;
	while (aj_array_next(v->raw, &pos, &t, &e)) {
		if (t != AJ_STRING || count == KEY_OPS_MAX ||
		    aj_str_decode(e, ops[count], sizeof ops[count],
		    &lens[count]) < 0)
			goto malformed;
		for (i = 0; i < count; i++)
			if (lens[i] == lens[count] &&
			    memcmp(ops[i], ops[count], lens[i]) == 0)
				goto malformed;
		if (lens[count] == 6 && memcmp(ops[count], "verify", 6) == 0)
			verify = sig_op = 1;
		if (lens[count] == 4 && memcmp(ops[count], "sign", 4) == 0)
			sig_op = 1;
		for (j = 0; enc_ops[j] != NULL; j++)
			if (lens[count] == strlen(enc_ops[j]) &&
			    memcmp(ops[count], enc_ops[j], lens[count]) == 0)
				enc_op = 1;
		count++;
	}
	if ((use == 1 && enc_op) || (use == 2 && sig_op)) {
		if (why != NULL)
			*why = "\"use\" and \"key_ops\" disagree";
		return -1;
	}
	return verify ? 1 : 2;
malformed:
	if (why != NULL)
		*why = "\"key_ops\" is not an array of distinct strings";
	return -1;
}

#define FAIL(msg)                   \
	do {                        \
		if (why != NULL)    \
			*why = msg; \
		return -1;          \
	} while (0)

int ac_jwt_key_jwk(ac_jwt_key *key, ac_alg alg, const char *jwk,
    size_t jwk_len, const char **why)
{
	aj_member m[AC_JSON_MEMBERS_MAX];
	size_t n, kty_len, l, kid_len = 0;
	char kty[8], buf[16], kid[AC_NAME_MAX];
	int r, has_kid, use;
	ac_alg named = AC_ALG_NONE;

	memset(key, 0, sizeof *key);
	if (aj_object(jwk, jwk_len, m, AC_JSON_MEMBERS_MAX, &n) < 0)
		FAIL("not a JSON object (or duplicate members)");
	if (member_str(m, n, "kty", kty, sizeof kty, &kty_len) != 1)
		FAIL("missing or unknown \"kty\"");
	if (member(m, n, "d") != NULL || member(m, n, "p") != NULL)
		FAIL("holds private key material");
	use = use_of(m, n);
	if (use < 0 || use >= 2)
		FAIL("\"use\" is not \"sig\"");
	r = key_ops_of(m, n, use, why);
	if (r < 0)
		return -1;
	if (r == 2)
		FAIL("\"key_ops\" does not include \"verify\"");
	r = member_str(m, n, "alg", buf, sizeof buf, &l);
	if (r < 0)
		FAIL("\"alg\" is not a string");
	if (r == 1) {
		named = ac_alg_from_name(buf, l);
		if (named == AC_ALG_NONE)
			FAIL("unsupported \"alg\"");
	}
	if (kty_len == 2 && memcmp(kty, "EC", 2) == 0) {
		char crv[8];
		size_t cl;
		ac_alg c;
		if (member_str(m, n, "crv", crv, sizeof crv, &cl) != 1)
			FAIL("EC key without a supported \"crv\"");
		c = alg_for_curve(crv, cl);
		if (c == AC_ALG_NONE)
			FAIL("unsupported \"crv\"");
		if (named != AC_ALG_NONE && named != c)
			FAIL("\"alg\" does not fit the curve");
		named = c;
	}
	if (alg != AC_ALG_NONE && named != AC_ALG_NONE && alg != named)
		FAIL("\"alg\" differs from the algorithm the key is bound to");
	if (alg == AC_ALG_NONE)
		alg = named;
	if (alg == AC_ALG_NONE)
		FAIL("names no algorithm (give \"alg\")");
	if (!kty_fits(kty, kty_len, alg))
		FAIL("\"kty\" does not fit the algorithm");
	r = member_str(m, n, "kid", kid, sizeof kid, &kid_len);
	if (r < 0)
		FAIL("\"kid\" is not a string of at most 128 bytes");
	has_kid = r == 1;
	key_head(key, alg, has_kid ? kid : NULL, kid_len);

	switch (ac_alg_family(alg)) {
	case 'H': {
		uint8_t k[4096];
		size_t kl;
		if (member_b64(m, n, "k", k, sizeof k, &kl) < 0)
			FAIL("\"k\" is not strict base64url");
		r = ac_jwt_key_hmac(key, alg, k, kl, has_kid ? kid : NULL,
		    kid_len);
		memset(k, 0, sizeof k);
		if (r < 0)
			FAIL("\"k\" is shorter than the hash output");
		return 0;
	}
	case 'R':
	case 'P': {
		uint8_t nb[AC_RSA_MAX_BYTES + 1], eb[8];
		size_t nl, el;
		if (member_b64(m, n, "n", nb, sizeof nb, &nl) < 0 ||
		    member_b64(m, n, "e", eb, sizeof eb, &el) < 0)
			FAIL("\"n\" or \"e\" is not strict base64url");
		if (set_rsa(key, nb, nl, eb, el) < 0)
			FAIL("RSA key must be 2048 to 4096 bits with an odd exponent");
		return 0;
	}
	default: {
		uint8_t q[133];
		size_t xl, yl, fl = field_len(curve_of(alg));
		q[0] = 0x04;
		if (member_b64(m, n, "x", q + 1, fl, &xl) < 0 || xl != fl ||
		    member_b64(m, n, "y", q + 1 + fl, fl, &yl) < 0 || yl != fl)
			FAIL("\"x\" or \"y\" is not a base64url coordinate of the curve's size");
		if (set_ec(key, curve_of(alg), q, 1 + 2 * fl) < 0)
			FAIL("the point is not on the curve");
		return 0;
	}
	}
}

/* pass_disallowed: a key whose algorithm is not allowed is passed over
 * (a provider's JWKS holds keys for other clients), not fatal. */
static int jwks_load(ac_jwt_key *keys, size_t cap, const char *jwks,
    size_t jwks_len, const ac_alg *allowed, size_t n_allowed, int *bad_index,
    const char **why, int pass_disallowed)
{
	aj_member top[AC_JSON_MEMBERS_MAX];
	const aj_member *arr;
	size_t n, pos = 0, count = 0, i;
	int idx = -1;
	aj_type t;
	ac_str e;

	*bad_index = -1;
	if (aj_object(jwks, jwks_len, top, AC_JSON_MEMBERS_MAX, &n) < 0)
		FAIL("not a JSON object (or duplicate members)");
	arr = member(top, n, "keys");
	if (arr == NULL || arr->type != AJ_ARRAY)
		FAIL("missing \"keys\" array");
	while (aj_array_next(arr->raw, &pos, &t, &e)) {
		aj_member m[AC_JSON_MEMBERS_MAX];
		size_t nm, kl, al;
		char kty[8], a[16];
		ac_alg bind = AC_ALG_NONE;
		const char *w = NULL;
		int r;

		idx++;
		*bad_index = idx;
		if (t != AJ_OBJECT || aj_object(e.ptr, e.len, m,
		    AC_JSON_MEMBERS_MAX, &nm) < 0)
			FAIL("key is not a JSON object (or has duplicate members)");
		/* keys for other uses (another "use", or "key_ops" without
		 * "verify") or of types JWS here cannot use (OKP) are passed
		 * over, not fatal; a "key_ops" that is malformed or
		 * contradicts "use" is */
		r = use_of(m, nm);
		if (key_ops_of(m, nm, r, &w) < 0)
			FAIL(w);
		if (r >= 2 || key_ops_of(m, nm, r, NULL) == 2)
			continue;
		if (member_str(m, nm, "kty", kty, sizeof kty, &kl) != 1)
			FAIL("missing \"kty\"");
		if (!((kl == 2 && memcmp(kty, "EC", 2) == 0) ||
		    (kl == 3 && (memcmp(kty, "RSA", 3) == 0 ||
		    memcmp(kty, "oct", 3) == 0))))
			continue;
		/* a fetched set is public: a secret in it is no key */
		if (pass_disallowed && kl == 3 && memcmp(kty, "oct", 3) == 0)
			continue;
		r = member_str(m, nm, "alg", a, sizeof a, &al);
		if (r < 0)
			FAIL("\"alg\" is not a string");
		if (r == 0 && n_allowed > 0 && !(kl == 2)) {
			/* no alg: the one allowed alg this key type fits */
			for (i = 0; i < n_allowed; i++) {
				if (kty_fits(kty, kl, allowed[i])) {
					if (bind != AC_ALG_NONE)
						FAIL("key names no \"alg\" and several allowed algorithms fit it");
					bind = allowed[i];
				}
			}
		}
		if (count >= cap)
			FAIL("more keys than fit");
		if (ac_jwt_key_jwk(&keys[count], bind, e.ptr, e.len, &w) < 0)
			FAIL(w);
		if (n_allowed > 0) {
			int ok = 0;
			for (i = 0; i < n_allowed; i++)
				ok |= allowed[i] == keys[count].alg;
			if (!ok && pass_disallowed) {
				memset(&keys[count], 0, sizeof keys[count]);
				continue;
			}
			if (!ok)
				FAIL("key's algorithm is not allowed");
		}
		count++;
	}
	*bad_index = -1;
	if (count == 0)
		FAIL("no usable signature key");
	return (int)count;
}

int ac_jwks_load(ac_jwt_key *keys, size_t cap, const char *jwks,
    size_t jwks_len, const ac_alg *allowed, size_t n_allowed, int *bad_index,
    const char **why)
{
	return jwks_load(keys, cap, jwks, jwks_len, allowed, n_allowed,
	    bad_index, why, 0);
}

int ac_jwks_load_fetched(ac_jwt_key *keys, size_t cap, const char *jwks,
    size_t jwks_len, const ac_alg *allowed, size_t n_allowed)
{
	int bad;
	const char *why;

	return jwks_load(keys, cap, jwks, jwks_len, allowed, n_allowed, &bad,
	    &why, 1);
}
