/*
 * authcore - JWT and JWS verification, keys, JWKS, HMAC signing.
 * Part of the authcore API (core/authcore.h includes every part); the
 * contract at the top of authcore.h holds for every function here.
 *
 * Licensed under the MIT license (see LICENSE).
 */
#ifndef AUTHCORE_JWT_H
#define AUTHCORE_JWT_H

#include "authcore_base.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ */
/* JWT (core/ac_jwt.c)                                                 */
/* ------------------------------------------------------------------ */
typedef enum {
	AC_ALG_NONE = 0, /* never accepted; present only as "no algorithm" */
	AC_ALG_HS256,
	AC_ALG_HS384,
	AC_ALG_HS512,
	AC_ALG_RS256, /* RSASSA-PKCS1-v1_5, verify only */
	AC_ALG_RS384,
	AC_ALG_RS512,
	AC_ALG_PS256, /* RSASSA-PSS (MGF1 with the same hash, salt = hash length) */
	AC_ALG_PS384,
	AC_ALG_PS512,
	AC_ALG_ES256, /* ECDSA P-256, 64-byte P1363 signature, verify only */
	AC_ALG_ES384, /* ECDSA P-384, 96 bytes */
	AC_ALG_ES512, /* ECDSA P-521, 132 bytes */
	AC_ALG_COUNT
} ac_alg;

/* Parses an algorithm name exactly ("HS256"); AC_ALG_NONE if unknown. */
ac_alg ac_alg_from_name(const char *name, size_t len);
const char *ac_alg_name(ac_alg alg);

/* One verification key, bound to exactly one algorithm when it is made.
 * Holds no pointers (kid and key material are inline), so memcpy clones it. */
typedef struct {
	ac_alg alg;
	char kid[AC_NAME_MAX];
	size_t kid_len;
	int has_kid;
	/* HMAC: BearSSL key state; RSA: modulus and exponent bytes with the
	 * Montgomery constants made when the key is loaded (the largest, 1568
	 * bytes for up to 4096 bits); EC: curve and uncompressed point.
	 * Opaque. */
	uint64_t state[196];
} ac_jwt_key;

/* Makes an HMAC key for `alg`. The secret MUST be at least as long as the
 * hash output (32, 48, 64 bytes) and at most 4096 bytes; returns -1 if not
 * (or alg is not HS*), 0 on success. kid may be NULL. */
AC_MUST_CHECK int ac_jwt_key_hmac(ac_jwt_key *key, ac_alg alg,
    const uint8_t *secret, size_t secret_len, const char *kid,
    size_t kid_len);

/* Makes an RS*, PS* or ES* verification key from PEM text: SPKI
 * ("BEGIN PUBLIC KEY") or PKCS#1 ("BEGIN RSA PUBLIC KEY"). The key type and
 * curve MUST fit alg (RSA 2048..4096 bits for RS/PS; P-256/384/521 for
 * ES256/384/512). Returns 0, or -1 if the PEM, DER or key does not fit. */
AC_MUST_CHECK int ac_jwt_key_pem(ac_jwt_key *key, ac_alg alg, const char *pem,
    size_t pem_len, const char *kid, size_t kid_len);

/* Makes a key from one JWK (a JSON object: kty oct/RSA/EC, kid, alg, use,
 * key_ops). The key is bound to `alg` if it is not AC_ALG_NONE, else to the
 * JWK's "alg", else (EC only) to the algorithm its curve implies; a key that
 * names no algorithm any of these ways is refused, as is one whose "alg"
 * differs from `alg`, whose "use" is not "sig", or whose kty does not fit.
 * "key_ops" (RFC 7517 section 4.3), when present, MUST be an array of at
 * most 16 distinct strings of at most 32 bytes that includes "verify"
 * (other values, registered or not, are allowed beside it) and, with
 * "use": "sig", holds no encryption operation ("encrypt", "decrypt",
 * "wrapKey", "unwrapKey", "deriveKey", "deriveBits"); anything else is
 * refused. Returns 0, or -1 with a short static reason in *why (may be
 * NULL). */
AC_MUST_CHECK int ac_jwt_key_jwk(ac_jwt_key *key, ac_alg alg,
    const char *jwk, size_t jwk_len, const char **why);

/* Loads a JWKS document ({"keys":[...]}) into keys[0..cap). Keys that are
 * not for verifying signatures are skipped: a "use" other than "sig", a
 * well-formed "key_ops" without "verify", a kty other than oct/RSA/EC.
 * Keys that are malformed are refused, the document with them: a "key_ops"
 * that ac_jwt_key_jwk would refuse as malformed, or that contradicts
 * "use" ("use": "enc" with "sign" or "verify", "use": "sig" with an
 * encryption operation). Keys whose bound alg is not in
 * allowed[0..n_allowed) (when n_allowed > 0) are refused. A JWK without
 * "alg" takes the one allowed alg its type fits, and is refused when that
 * is ambiguous. Returns the number of keys (>= 1), or -1 with *bad_index
 * set to the offending key (or -1 for the document) and a static reason in
 * *why. */
AC_MUST_CHECK int ac_jwks_load(ac_jwt_key *keys, size_t cap, const char *jwks,
    size_t jwks_len, const ac_alg *allowed, size_t n_allowed, int *bad_index,
    const char **why);

/* The JOSE header members a JWS verification reports. */
typedef struct {
	ac_alg alg;
	char kid[AC_NAME_MAX];
	size_t kid_len;
	int has_kid;
	char typ[64];
	size_t typ_len;
	int has_typ;
} ac_jws_header;

/* Verifies a compact JWS: structure and caps, header (alg named exactly;
 * jku/x5u/jwk/x5c and any crit refused; duplicates refused), key by bound
 * alg and kid, signature. On AC_OK the decoded payload (any bytes, none
 * included: "header..signature" is a JWS) is in payload[0..*payload_len).
 * No claim is looked at. */
AC_MUST_CHECK ac_reason ac_jws_verify(const ac_jwt_key *keys, size_t n_keys,
    const char *token, size_t token_len, ac_jws_header *hdr,
    uint8_t *payload, size_t payload_cap, size_t *payload_len);

/* Checks only a JWS signature: `signing_input` is "header.payload" as sent,
 * sig the decoded signature. Returns 1 if it verifies under key, else 0. */
int ac_jws_check(const ac_jwt_key *key, const char *signing_input,
    size_t input_len, const uint8_t *sig, size_t sig_len);

/* Claim checks applied after the signature verifies. */
typedef struct {
	int64_t leeway;               /* seconds of clock skew allowed */
	int require_exp;              /* 1: a token without exp is refused */
	ac_str issuer;                /* ptr NULL: not checked */
	ac_str audiences[AC_AUD_MAX]; /* accepted audiences (any one matches) */
	size_t n_audiences;           /* 0: aud not checked */
	ac_str typ;                   /* ptr NULL: not checked; else the header
	                                 typ MUST equal it (ASCII case-insensitive) */
	int64_t max_age;              /* > 0: iat required, now - iat <= max_age + leeway */
	ac_str user_claim;            /* claim naming the user ("sub"); a dot
	                                 path reaches into objects ("user.id") */
	ac_str roles_claim;           /* roles: array of strings, or one
	                                 space-delimited string ("scope");
	                                 dot path allowed ("realm_access.roles") */
} ac_jwt_checks;

/* Sets defaults: leeway 0, require_exp 0, no iss/aud check, user claim
 * "sub", roles claim "roles". */
void ac_jwt_checks_init(ac_jwt_checks *c);

/* Result of a verification. The user and roles are decoded (JSON escapes
 * resolved) into `text`; the slices point into this struct, so it must not
 * be copied while they are in use. */
typedef struct {
	ac_reason reason;
	ac_alg alg;
	uint8_t payload[AC_JWT_PAYLOAD_MAX]; /* decoded payload JSON */
	size_t payload_len;
	int64_t exp, nbf, iat;
	int has_exp, has_nbf, has_iat;
	ac_str user;                   /* ptr NULL if the claim is absent */
	ac_str roles[AC_ROLES_MAX];
	size_t n_roles;
	char text[1024];
	size_t text_len;
} ac_jwt_result;

/* Verifies a compact JWS/JWT against `keys` (n_keys <= AC_KEYS_MAX) and
 * `checks` at time `now` (unix seconds). The token's header never picks the
 * key type: only keys whose bound alg equals the header's alg are tried,
 * selected by kid when the header has one. Returns AC_OK or the reason the
 * token is refused; res->reason holds the same value. On success the user
 * and roles are filled in (the user claim and roles claim, when present,
 * MUST be a string and an array of strings without control characters). */
AC_MUST_CHECK ac_reason ac_jwt_verify(const ac_jwt_key *keys, size_t n_keys,
    const ac_jwt_checks *checks, const char *token, size_t token_len,
    int64_t now, ac_jwt_result *res);

/* Signs `payload_json` (which MUST be a JSON object; it is checked) with an
 * HMAC secret. Writes the compact token (no NUL) to out. Returns its length,
 * or 0 on error (bad alg, short secret, payload not an object, no room). */
size_t ac_jwt_sign_hmac(char *out, size_t out_cap, ac_alg alg,
    const uint8_t *secret, size_t secret_len, const char *kid,
    size_t kid_len, const char *payload_json, size_t payload_len);

/* Sizes of the JWT API's structs, for FFI and wasm callers. */
size_t ac_sizeof_jwt_key(void);
size_t ac_sizeof_jwt_result(void);

#ifdef __cplusplus
}
#endif
#endif
