/* Internal helpers shared by every core file: ASCII, the JSON scanner and
 * writer, key material, rate-limit grammar, base64, wildcard matching.
 * Not part of the public API. */
#ifndef AC_INTERNAL_H
#define AC_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "authcore.h"

/* ASCII case-insensitive equality (header names, auth schemes). */
int ac_ascii_ieq(const char *a, size_t alen, const char *b, size_t blen);
int ac_str_eq(ac_str a, const char *b, size_t blen);
/* 1 if want is one of l[0..n), byte for byte (roles, permissions). */
int ac_str_in_list(const ac_str *l, size_t n, ac_str want);
/* s[0..n) without leading and trailing spaces and tabs (HTTP OWS). */
ac_str ac_trim_ows(const char *p, size_t n);

/* ---- IP addresses (ac_ip.c) */
/* An address range of trusted_proxies (IPv4-mapped IPv6 is IPv4). */
typedef struct {
	uint8_t addr[16];
	uint8_t bits;
	uint8_t v4;
} ac_cidr;
/* An IPv4 or IPv6 address (no brackets, no port, no zone) into 16 bytes;
 * IPv4 and IPv4-mapped IPv6 give *v4 = 1 and the 4 bytes first. 0 or -1. */
int ac_ip_parse(const char *s, size_t n, uint8_t out[16], int *v4);
/* "10.0.0.0/8", "::1", "fd00::/8": 0, or -1 (also for host bits set). */
int ac_cidr_parse(const char *s, size_t n, ac_cidr *c);
/* 1 if the address (from ac_ip_parse) is in the range. */
int ac_cidr_has(const ac_cidr *c, const uint8_t a[16], int v4);

/* ---- JSON scanner (ac_json.c): validates and walks JSON in place, with no
 * allocation; used for token headers and payloads on the request path. */
typedef enum {
	AJ_STRING, AJ_NUMBER, AJ_OBJECT, AJ_ARRAY, AJ_TRUE, AJ_FALSE, AJ_NULL
} aj_type;

typedef struct {
	ac_str key; /* raw key between the quotes (escapes not resolved) */
	aj_type type;
	ac_str raw; /* raw value text (strings without their quotes) */
} aj_member;

/* Parses a whole document that MUST be one JSON object (whitespace around
 * allowed) into its top-level members. Fails (-1) on any syntax error,
 * nesting deeper than AC_JSON_DEPTH_MAX, more than `cap` members, or a
 * duplicate member name (compared after resolving escapes). */
int aj_object(const char *p, size_t n, aj_member *m, size_t cap,
    size_t *count);

/* 1 if the raw JSON string `raw` (escapes unresolved) decodes to exactly the
 * bytes s[0..len). */
int aj_str_eq(ac_str raw, const char *s, size_t len);

/* Decodes a raw JSON string into dst; -1 if it does not fit. */
int aj_str_decode(ac_str raw, char *dst, size_t cap, size_t *len);

/* A JSON integer (no fraction, no exponent) in int64 range; -1 if not. */
int aj_int64(ac_str raw, int64_t *out);

/* Iterates the elements of a validated array value `raw` ("[...]").
 * *pos starts at 0. Returns 1 with the element, 0 at the end. */
int aj_array_next(ac_str raw, size_t *pos, aj_type *type, ac_str *elem);

/* Finds a claim by dot path ("realm_access.roles") in a payload object.
 * 1 found (type and raw value set), 0 absent, -1 malformed JSON. */
int ac_claim_find(const uint8_t *payload, size_t len, ac_str path,
    aj_type *type, ac_str *raw);

/* A role a token earns from one of its claims (jwt.role_claims): the claim
 * (dot path) equal to true, false or a string gives `role`. */
#define AC_ROLE_CLAIMS_MAX 16
typedef struct {
	ac_str claim;
	int kind;      /* AJ_TRUE, AJ_FALSE or AJ_STRING */
	ac_str value;  /* AJ_STRING: the string it must equal */
	ac_str role;
} ac_role_claim;

/* Adds to res->roles the role of each rule whose claim equals its value
 * in res's verified payload (a role it already holds is not repeated).
 * AC_OK, or AC_BAD_CLAIM when the roles would exceed AC_ROLES_MAX (the
 * token is refused rather than a role it earns silently dropped), or
 * AC_MALFORMED. */
ac_reason ac_jwt_derive_roles(const ac_role_claim *rc, size_t n,
    ac_jwt_result *res);

/* ac_jwks_load for a fetched JWKS (core/ac_jwks.c): keys whose algorithm
 * is not in `allowed` are passed over instead of refusing the set. */
int ac_jwks_load_fetched(ac_jwt_key *keys, size_t cap, const char *jwks,
    size_t jwks_len, const ac_alg *allowed, size_t n_allowed);

/* ---- JSON writer: never overflows; `overflow` is set instead. */
typedef struct {
	char *p;
	size_t cap, len;
	int overflow;
} aj_writer;

void aj_w_raw(aj_writer *w, const char *s, size_t n);
void aj_w_lit(aj_writer *w, const char *s); /* NUL-terminated literal */
void aj_w_str(aj_writer *w, const char *s, size_t n); /* quoted, escaped */
/* As aj_w_str, writing at most `max` bytes between the quotes (whole
 * characters and escapes only); bytes that are not UTF-8 become \ufffd.
 * Returns 1 if the string was cut short. */
int aj_w_str_max(aj_writer *w, const char *s, size_t n, size_t max);
void aj_w_int(aj_writer *w, int64_t v);

/* ---- Key material inside ac_jwt_key.state (ac_keys.c, ac_jws.c) */
#define AC_RSA_MAX_BYTES 512 /* 4096-bit modulus */

/* Limbs of the RSA public operation's Montgomery arithmetic (ac_rsa.c):
 * 64-bit where the compiler has an unsigned __int128 product, and in wasm;
 * 32-bit with a uint64_t product elsewhere. wasm32 (WASI SDK and
 * Emscripten) defines __SIZEOF_INT128__ too, but there the 128-bit product
 * is a compiler-rt call (__multi3), slower than 32-bit limbs (in Node, 171
 * us for an RSA-2048 public operation against 109); so in wasm the 64x64
 * product is made of four 32x32->64 ones (wasm has i64.mul), summed in
 * 32-bit lanes with no carry to detect, two at a time with wasm SIMD:
 * faster than 32-bit limbs (ac_rsa.c says by how much).
 * -DAC_RSA_LIMB32 forces 32-bit limbs anywhere (the tests build it
 * natively); the whole program MUST then be built with it, as it changes
 * ac_rsa_pub. */
#if (defined(__SIZEOF_INT128__) || defined(__wasm__)) && \
    !defined(AC_RSA_LIMB32)
typedef uint64_t ac_limb;
#define AC_LIMB_BITS 64
#else
typedef uint32_t ac_limb;
#define AC_LIMB_BITS 32
#endif
#define AC_RSA_MAX_LIMBS (AC_RSA_MAX_BYTES * 8 / AC_LIMB_BITS)

/* An RSA public key as loaded (n, e as sent, leading zeros stripped) and in
 * Montgomery form, made once by ac_rsa_pub_init so that a verification does
 * no per-key setup. No pointers: memcpy clones it. */
typedef struct {
	uint32_t n_len, e_len;
	uint8_t n[AC_RSA_MAX_BYTES];      /* big-endian, n[0] != 0 */
	uint8_t e[4];
	uint32_t e_val;                   /* e as a number: odd, >= 3 */
	uint32_t limbs;                   /* limbs of n: ceil(8 n_len / w) */
	ac_limb n0inv;                    /* -n^-1 mod 2^w */
	ac_limb nw[AC_RSA_MAX_LIMBS];     /* n, least significant limb first */
	ac_limb rr[AC_RSA_MAX_LIMBS];     /* R^2 mod n, R = 2^(w limbs) */
} ac_rsa_pub;

/* Completes k from n[0..n_len) and e[0..e_len) (ac_rsa.c): n MUST be odd
 * with n[0] != 0 and 1 <= n_len <= AC_RSA_MAX_BYTES, e odd and >= 3 in
 * 1..4 bytes. Returns 0, or -1 (k unusable) if not. */
int ac_rsa_pub_init(ac_rsa_pub *k);

/* The RSA public operation (RFC 8017 RSAVP1), in place: x = x^e mod n over
 * big-endian x[0..len). Refuses (returns 0, x untouched) len != n_len and
 * x >= n; returns 1 otherwise. NOT constant-time: its running time depends
 * on e, n and x, all public in a signature check. MUST NOT be used for any
 * operation with secret inputs. */
int ac_rsa_public(const ac_rsa_pub *k, uint8_t *x, size_t len);

/* An EC public key as loaded, and (P-256, P-384) the odd multiples of Q,
 * 2^h Q, G and 2^h G that ac_ec_pub_init makes once per key so that a
 * verification does h doublings instead of 2h (ac_ecdsa.c). No pointers:
 * memcpy clones it. */
typedef struct {
	int curve;       /* BR_EC_secp256r1, secp384r1, secp521r1 */
	uint32_t q_len;  /* uncompressed point: 0x04 || X || Y */
	uint8_t q[133];
	uint32_t tables; /* 1 if tab is filled */
	uint64_t tab[160];
} ac_ec_pub;

/* 0 if q[0..qlen) is 0x04 || X || Y with X, Y < p and (X, Y) on the curve
 * (BR_EC_secp256r1, secp384r1 or secp521r1), else -1 (ac_ecdsa.c). */
int ac_ec_point_check(int curve, const uint8_t *q, size_t qlen);

/* Completes k from curve, q_len and q: checks the point as
 * ac_ec_point_check does and fills the tables. 0, or -1 (k unusable). A
 * key with tables = 0 (never initialised) still verifies, without them. */
int ac_ec_pub_init(ac_ec_pub *k);

/* ECDSA verification (FIPS 186-5 section 6.4.2) of the raw (P1363)
 * signature r || s, sig_len = twice the curve's field bytes, over
 * hash[0..hash_len), truncated to the order's bit length when longer.
 * Returns 1 if valid, else 0 (r or s outside [1, n-1], a key that is not a
 * point of its curve, the point at infinity, x mod n != r). NOT
 * constant-time: its running time depends on the key, the hash and the
 * signature, all public in a signature check. MUST NOT be used for any
 * operation with secret inputs. */
int ac_ecdsa_verify(const ac_ec_pub *k, const uint8_t *hash,
    size_t hash_len, const uint8_t *sig, size_t sig_len);

/* Family of an algorithm: 'H'mac, 'R'sa PKCS#1, 'P'SS, 'E'cdsa, 0 none. */
int ac_alg_family(ac_alg alg);
/* Hash output length of the algorithm's hash (32, 48, 64). */
size_t ac_alg_hash_len(ac_alg alg);
/* BearSSL hash class of the algorithm (opaque here to avoid bearssl.h). */
const void *ac_alg_hash_class(ac_alg alg);
/* The fastest SHA-256 class this CPU runs (SHA-NI on x86-64 when present,
 * BearSSL's otherwise); portable != 0 always gives BearSSL's. */
const void *ac_sha256_class(int portable);

/* One rate limit in the grammar of Python's `limits` (security.md), as
 * "login.attempts" takes it (ac_limits.c): "<count> (/|per) [<n>] <unit>",
 * count 1..10^8, n 1..10^6, case-insensitive, spaces around the parts;
 * units second (sec, s), minute (min), hour (hr, h), day (d), week (w),
 * month (30 days), year (yr, y; 360 days), plurals allowed except on
 * one-letter abbreviations; "m" alone is refused as ambiguous. s is
 * NUL-terminated. 0 (count, window in seconds set) or -1 with *why (if why
 * is not NULL) saying what is wrong, for a policy error message. */
int ac_limit_parse(const char *s, uint32_t *count, int64_t *window,
    const char **why);

/* Strict standard base64 (ac_password.c): c62 is character 62 ('+', or
 * '.' for passlib); padded: '=' as needed, else none. 0 or -1. */
int ac_b64_decode(uint8_t *dst, size_t cap, size_t *out_len,
    const char *src, size_t n, char c62, int padded);

/* '*' matches any run of bytes (including '/'); everything else literally.
 * Linear in plen + n (core/ac_match.c); patterns longer than
 * AC_WILD_PATTERN_MAX never match (policy loading refuses them). */
#define AC_WILD_PATTERN_MAX 512
int ac_wild_match(const char *pat, size_t plen, const char *s, size_t n);

#endif
