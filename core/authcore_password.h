/*
 * authcore - password hashes: PBKDF2-HMAC-SHA256/512 (RFC 8018) and the
 * stored string formats real user tables already hold.
 *
 *   - PBKDF2 on one BearSSL HMAC key context per password, resumable
 *     (begin / step / finish) so a host can spread the work over its event
 *     loop: core/ac_password.c
 *   - Password hash strings: authcore writes the PHC string format and
 *     verifies PHC, Django, Werkzeug, passlib and taskito strings:
 *     core/ac_password.c
 * The formats, the limits and why they are what they are are documented in
 * docs/passwords.md; this header is the contract for the functions.
 *
 * Everything in authcore.h's contract applies here too: no heap, no I/O, no
 * clock, no randomness (callers pass salt bytes from a CSPRNG),
 * caller-placed contexts, (pointer, length) strings, secrets compared in
 * constant time, password-derived state wiped before it is given back.
 *
 * Licensed under the MIT license (see LICENSE).
 */
#ifndef AUTHCORE_PASSWORD_H
#define AUTHCORE_PASSWORD_H

#include "authcore_base.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ */
/* Limits                                                              */
/* ------------------------------------------------------------------ */
#define AC_PBKDF2_SHA256 256           /* `hash` argument values */
#define AC_PBKDF2_SHA512 512
#define AC_PBKDF2_DK_MAX 128           /* derived key: 1..128 bytes */
#define AC_PASSWORD_SALT_LEN 16        /* salt bytes in strings we write */
#define AC_PASSWORD_SALT_MAX 128       /* salt bytes accepted when verifying */
#define AC_PASSWORD_HASH_MIN 16        /* stored hash bytes accepted: 16.. */
/* "$pbkdf2-sha512$i=4294967295$" 28 + salt 22 + "$" + 64-byte hash 86 */
#define AC_PASSWORD_HASH_MAX 137       /* chars of a string we write */
#define AC_PASSWORD_STRING_MAX 512     /* chars of a string we verify */
#define AC_PASSWORD_ITERATIONS_MAX_DEFAULT 10000000u
#define AC_PASSWORD_LEN_MAX_DEFAULT 1024 /* password bytes (CVE-2013-1443) */
/* OWASP's current minimums, the counts new hashes should use. */
#define AC_PASSWORD_ITERATIONS_SHA256 600000u
#define AC_PASSWORD_ITERATIONS_SHA512 220000u

/* The same limits as functions, for FFI and wasm callers. */
size_t ac_const_pbkdf2_dk_max(void);
size_t ac_const_password_salt_len(void);
size_t ac_const_password_hash_max(void);
size_t ac_const_password_string_max(void);
uint32_t ac_const_password_iterations_max_default(void);
size_t ac_const_password_len_max_default(void);
/* AC_PASSWORD_ITERATIONS_SHA256 or _SHA512 for `hash`; 0 for other values. */
uint32_t ac_const_password_iterations_recommended(int hash);

/* ------------------------------------------------------------------ */
/* PBKDF2-HMAC-SHA256 / -SHA512, resumable                             */
/*                                                                     */
/* T_i = U_1 ^ ... ^ U_c,  U_1 = HMAC(P, S || INT(i)),                 */
/* U_j = HMAC(P, U_(j-1)); DK = T_1 || T_2 || ... cut to dk_len.       */
/* The password is made into one BearSSL HMAC key context at begin     */
/* (a password longer than the hash's block is hashed once, there),    */
/* and every U_1 is computed at begin, so the context keeps no pointer */
/* to the password or the salt: both may change once begin returns.    */
/* ------------------------------------------------------------------ */

/* Caller-placed state. Opaque; holds no pointer into caller memory (only
 * BearSSL's static hash class), so memcpy clones it. It holds the HMAC
 * key pads, which are as good as the password for a brute-force attack:
 * finish wipes it, and a computation that is abandoned MUST be wiped with
 * ac_pbkdf2_wipe. */
typedef struct {
	uint64_t state[56];
} ac_pbkdf2_ctx;

/* Starts PBKDF2. hash: AC_PBKDF2_SHA256 or AC_PBKDF2_SHA512. password:
 * any bytes, any length (may be NULL when plen is 0); salt likewise.
 * iterations: >= 1. dk_len: 1..AC_PBKDF2_DK_MAX. Costs one HMAC per
 * output block (ceil(dk_len / hash length)) plus the key set-up. Returns 0,
 * or -1 (and a wiped ctx, on which step returns 0 and finish -1) if an
 * argument is out of range. */
AC_MUST_CHECK int ac_pbkdf2_begin(ac_pbkdf2_ctx *ctx, int hash,
    const void *password, size_t plen, const void *salt, size_t slen,
    uint32_t iterations, size_t dk_len);

/* Runs at most max_iterations of the remaining iterations (each one is one
 * HMAC per output block) and returns how many are still to do: 0 means
 * done (call finish). max_iterations 0 only reports. */
size_t ac_pbkdf2_step(ac_pbkdf2_ctx *ctx, size_t max_iterations);

/* Iterations ac_pbkdf2_step would still run (0: done or not begun). */
size_t ac_pbkdf2_remaining(const ac_pbkdf2_ctx *ctx);

/* Writes the dk_len derived bytes to out and wipes ctx. Returns 0, or -1
 * if begin failed or was not called (out untouched), or if iterations
 * remain (out and ctx untouched: keep stepping). */
AC_MUST_CHECK int ac_pbkdf2_finish(ac_pbkdf2_ctx *ctx, uint8_t *out);

/* Overwrites the context (an abandoned computation's key pads included). */
void ac_pbkdf2_wipe(ac_pbkdf2_ctx *ctx);

/* One-shot: begin, step to the end, finish. Same arguments and return. */
AC_MUST_CHECK int ac_pbkdf2(uint8_t *out, int hash, const void *password,
    size_t plen, const void *salt, size_t slen, uint32_t iterations,
    size_t dk_len);

/* ------------------------------------------------------------------ */
/* Password hash strings (docs/passwords.md)                           */
/*                                                                     */
/* Written (PHC string format, base64 = standard alphabet, no padding):*/
/*   $pbkdf2-sha256$i=<iterations>$<16-byte salt>$<32-byte hash>       */
/*   $pbkdf2-sha512$i=<iterations>$<16-byte salt>$<64-byte hash>       */
/* Verified, besides those (the hash length is the stored one):        */
/*   PHC       $pbkdf2-sha256$i=<n>[,l=<len>]$<b64 salt>$<b64 hash>    */
/*   Django    pbkdf2_sha256$<n>$<salt text>$<b64 hash with '='>       */
/*   Werkzeug  pbkdf2:sha256:<n>$<salt text>$<lowercase hex hash>      */
/*   passlib   $pbkdf2-sha256$<n>$<ab64 salt>$<ab64 hash>              */
/*   taskito   pbkdf2_sha256$<n>$<32 lowercase hex>$<64 lowercase hex> */
/* (sha512 wherever sha256 is written, except Django and taskito,      */
/* which have no PBKDF2-SHA512 form). Salt text is used as its bytes,  */
/* taskito's salt as the 16 bytes its hex stands for; ab64 is          */
/* passlib's base64 with '.' for '+' and no padding. Django and        */
/* taskito share a prefix: a 64-character hash field is taskito's, any */
/* other Django's. Every format but PHC stores the full digest (32 or  */
/* 64 bytes); a PHC hash is 16..128 bytes, equal to l= if given.       */
/* ------------------------------------------------------------------ */

/* Status of a verification, and its stable lower-case name. */
typedef enum {
	AC_PW_MATCH = 0,          /* "match": the password is right */
	AC_PW_MISMATCH,           /* "mismatch": the password is wrong */
	AC_PW_PENDING,            /* "pending": begun; step, then finish */
	AC_PW_MALFORMED,          /* "malformed": not a valid string of a
	                             supported format (or too long) */
	AC_PW_UNSUPPORTED,        /* "unsupported": another scheme or hash
	                             ("$argon2id$...", "pbkdf2_sha1$...") */
	AC_PW_ITERATIONS_OVER_LIMIT, /* "iterations_over_limit" */
	AC_PW_PASSWORD_TOO_LONG,  /* "password_too_long" */
	AC_PW_PASSWORD_NUL,       /* "password_nul": a NUL byte in the password */
	AC_PW_STATUS_COUNT
} ac_password_status;

const char *ac_password_status_name(ac_password_status s);

/* What a verifier is willing to spend on one string it did not write.
 * A zero field means its default. */
typedef struct {
	uint32_t max_iterations;  /* 0: AC_PASSWORD_ITERATIONS_MAX_DEFAULT */
	size_t max_password_len;  /* 0: AC_PASSWORD_LEN_MAX_DEFAULT */
} ac_password_limits;

/* Formats a PHC string (as above) from parts: hash AC_PBKDF2_SHA256 or
 * _SHA512, iterations >= 1, salt AC_PASSWORD_SALT_LEN bytes, dk exactly the
 * hash length (32 or 64 bytes) as ac_pbkdf2 made it from those. Writes the
 * string (no NUL) and returns its length (<= AC_PASSWORD_HASH_MAX), or 0 if
 * an argument is out of range or cap is too small (out then untouched).
 * With ac_pbkdf2_begin/step/finish this makes a hash without blocking. */
size_t ac_password_hash_format(char *out, size_t cap, int hash,
    uint32_t iterations, const uint8_t salt[AC_PASSWORD_SALT_LEN],
    const uint8_t *dk, size_t dk_len);

/* Hashes a password for storage: PBKDF2 with `hash`, `iterations` (>= 1;
 * new hashes SHOULD use at least AC_PASSWORD_ITERATIONS_SHA256 or
 * _SHA512), AC_PASSWORD_SALT_LEN salt bytes from a CSPRNG, then
 * ac_password_hash_format. The password MUST be at most
 * AC_PASSWORD_LEN_MAX_DEFAULT bytes (a hash our own default verifier
 * would refuse is never written). Blocks for the whole computation.
 * Returns the string's length, or 0 (out untouched). */
size_t ac_password_hash(char *out, size_t cap, int hash,
    const char *password, size_t plen,
    const uint8_t salt[AC_PASSWORD_SALT_LEN], uint32_t iterations);

/* Caller-placed verification state. Opaque; no pointer into caller memory
 * (neither the string nor the password is needed after begin). Wiped by
 * finish; an abandoned verification MUST be wiped with
 * ac_password_verify_wipe. */
typedef struct {
	ac_pbkdf2_ctx kdf;
	uint8_t expected[AC_PBKDF2_DK_MAX];
	size_t expected_len;
	int status; /* an ac_password_status */
} ac_password_verify_ctx;

/* Parses a stored string (any of the formats above) and starts PBKDF2 for
 * `password` (may be NULL when plen is 0). lim may be NULL (defaults).
 * Everything is refused before any hashing:
 *   len > AC_PASSWORD_STRING_MAX, or a string of a supported scheme that
 *   no format above explains in full (strict: exactly the format's
 *   fields, decimal counts without sign or leading zero, canonical
 *   base64/hex, salt 1..AC_PASSWORD_SALT_MAX bytes (taskito: 16), stored
 *   hash the digest length, or for PHC AC_PASSWORD_HASH_MIN..
 *   AC_PBKDF2_DK_MAX bytes, no byte more): AC_PW_MALFORMED;
 *   a "<id>$" or "$<id>$" string of another scheme: AC_PW_UNSUPPORTED;
 *   iterations > the limit: AC_PW_ITERATIONS_OVER_LIMIT;
 *   plen > the limit: AC_PW_PASSWORD_TOO_LONG;
 *   a NUL byte in the password: AC_PW_PASSWORD_NUL (HMAC pads a key
 *   shorter than its block with zeros, so "pw" and "pw\0" would give the
 *   same PBKDF2 output: no password a person types holds NUL).
 * Returns AC_PW_PENDING (then step and finish), or the refusal, which
 * finish also returns (ctx is then wiped, and step returns 0). */
AC_MUST_CHECK ac_password_status ac_password_verify_begin(
    ac_password_verify_ctx *ctx, const char *hash_string, size_t len,
    const char *password, size_t plen, const ac_password_limits *lim);

/* As ac_pbkdf2_step: runs at most max_iterations, returns how many remain. */
size_t ac_password_verify_step(ac_password_verify_ctx *ctx,
    size_t max_iterations);

/* Compares the derived key with the stored one in constant time and wipes
 * ctx. Returns AC_PW_MATCH or AC_PW_MISMATCH; begin's refusal if begin
 * refused; AC_PW_PENDING (ctx untouched) if iterations remain. */
AC_MUST_CHECK ac_password_status ac_password_verify_finish(
    ac_password_verify_ctx *ctx);

void ac_password_verify_wipe(ac_password_verify_ctx *ctx);

/* One-shot: begin, step to the end, finish. Blocks for the whole count. */
AC_MUST_CHECK ac_password_status ac_password_verify(const char *hash_string,
    size_t len, const char *password, size_t plen,
    const ac_password_limits *lim);

/* 1 if a string that verified should be replaced by a fresh
 * ac_password_hash: it is not in the PHC form authcore writes (Django,
 * Werkzeug, passlib, taskito, an "l=" parameter, a salt shorter than
 * AC_PASSWORD_SALT_LEN, a hash not of the hash's own length, or not a
 * valid string at all), it uses another hash than `hash`, or fewer than
 * target_iterations iterations. 0 otherwise. Does no hashing. */
int ac_password_needs_rehash(const char *hash_string, size_t len, int hash,
    uint32_t target_iterations);

/* Sizes of public structs, for FFI and wasm callers. */
size_t ac_sizeof_pbkdf2_ctx(void);
size_t ac_sizeof_password_verify_ctx(void);
size_t ac_sizeof_password_limits(void);

#ifdef __cplusplus
}
#endif
#endif
