/*
 * authcore - browser sessions, CSRF tokens and API keys.
 *
 * Three credentials the seed dashboards each built by hand, as one
 * allocation-free implementation:
 *   - signed session tokens (a cookie value): core/ac_session.c
 *   - double-submit CSRF tokens bound to a session: core/ac_csrf.c
 *   - API keys stored as SHA-256 hashes, with role, permissions and a
 *     resource allow-list: core/ac_apikey.c
 * The byte-level formats are documented in docs/formats.md; this header is
 * the contract for the functions.
 *
 * Everything in authcore.h's contract applies here too: no heap, no I/O, no
 * clock (`now` is an argument), no randomness (callers pass `entropy`
 * bytes from a CSPRNG), caller-placed contexts, (pointer, length) strings,
 * secrets compared in constant time and wiped from the stack before return.
 *
 * Licensed under the MIT license (see LICENSE).
 */
#ifndef AUTHCORE_SESSION_H
#define AUTHCORE_SESSION_H

#include "authcore_base.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ */
/* Limits                                                              */
/* ------------------------------------------------------------------ */
#define AC_SESSION_SECRET_MIN 32     /* bytes: the HMAC-SHA256 output size */
#define AC_SESSION_SECRET_MAX 4096
#define AC_SESSION_KID_MAX 32        /* kid: 1..32 of [A-Za-z0-9_-] */
#define AC_SESSION_ID_LEN 16         /* random session id inside a token */
#define AC_SESSION_USER_MAX 128      /* user: 1..128 bytes */
#define AC_SESSION_ROLES_MAX 16      /* roles per session: 0..16 */
#define AC_SESSION_ROLE_MAX 128      /* one role: 1..128 bytes */
#define AC_SESSION_TTL_DEFAULT 86400 /* 24 h, used when ttl is 0 */
#define AC_SESSION_TTL_MAX 34560000  /* 400 days: browsers cap cookie
                                        lifetimes there (RFC 6265bis) */
#define AC_SESSION_SKEW 60           /* seconds iat may lie in the future */
#define AC_SESSION_CRED_LEN 8        /* credential tag (password sessions) */
/* Decoded payload: sid 16 + iat 8 + exp 8 + (1 + 128) user
 * + 1 + 16 * (1 + 128) roles + credential tag 8. */
#define AC_SESSION_PAYLOAD_MAX 2234
/* "v1." + kid 32 + "." + base64url(2234 bytes) 2979 + "." + mac 43. Fits
 * one cookie (browsers keep name + value up to 4096 bytes). */
#define AC_SESSION_TOKEN_MAX 3059

#define AC_CSRF_TOKEN_LEN 43         /* base64url of an HMAC-SHA256 */

#define AC_APIKEY_PREFIX_MAX 16      /* prefix: 1..16 of [a-z0-9] */
#define AC_APIKEY_PREFIX_DEFAULT "ak"
#define AC_APIKEY_ENTROPY_LEN 32     /* random bytes in a key */
#define AC_APIKEY_SECRET_CHARS 43    /* base64url of those 32 bytes */
#define AC_APIKEY_MAX 60             /* prefix 16 + "_" + 43 */
#define AC_APIKEY_INPUT_MIN 16       /* a presented key: 16..512 bytes */
#define AC_APIKEY_INPUT_MAX 512      /* of 0x21..0x7e, any format */
#define AC_APIKEY_HASH_LEN 32        /* SHA-256 of the whole key */
#define AC_APIKEY_HASH_HEX_LEN 64    /* the stored form: lowercase hex */
#define AC_APIKEY_PERMISSIONS_MAX 16 /* permissions per key */
#define AC_APIKEY_RESOURCES_MAX 16   /* resource patterns per key */
#define AC_RESOURCE_PATTERN_MAX 128  /* bytes of one resource pattern */
#define AC_RESOURCE_MAX 1024         /* bytes of a resource name asked about */

/* The same limits as functions, for FFI and wasm callers. */
size_t ac_const_session_token_max(void);
size_t ac_const_csrf_token_len(void);
size_t ac_const_apikey_max(void);

/* ------------------------------------------------------------------ */
/* Session tokens (core/ac_session.c)                                  */
/*                                                                     */
/*   v1.<kid>.<base64url payload>.<base64url HMAC-SHA256>              */
/*                                                                     */
/* The MAC covers the context string "authcore-session-v1" and a NUL,  */
/* then everything before the last '.', so version, kid and payload    */
/* are all authenticated. The payload is a length-prefixed binary      */
/* record (session id, iat, exp, user, roles); see docs/formats.md.    */
/* Every byte is in [A-Za-z0-9._-]: safe as a cookie value unquoted.   */
/* ------------------------------------------------------------------ */

/* One signing/verification key. Holds no pointers into caller memory (kid
 * and the HMAC key state are inline), so memcpy clones it. The secret itself
 * is not kept: only BearSSL's pre-hashed inner and outer pads, which are as
 * sensitive as the secret (they forge tokens): wipe the key
 * (ac_session_key_wipe) when it is retired. */
typedef struct {
	char kid[AC_SESSION_KID_MAX];
	size_t kid_len;
	uint64_t state[24]; /* BearSSL HMAC-SHA256 key context; opaque */
} ac_session_key;

/* Makes a key. secret: 32..4096 bytes (shorter secrets are refused: an
 * HMAC key shorter than its output weakens it). kid: 1..32 bytes of
 * [A-Za-z0-9_-] (it travels in the token, so it must be cookie-safe and
 * cannot contain the '.' separator). Returns 0, or -1 (and a zeroed key) if
 * either is out of range. */
AC_MUST_CHECK int ac_session_key_init(ac_session_key *key,
    const uint8_t *secret, size_t secret_len, const char *kid,
    size_t kid_len);

/* Overwrites the key so its state cannot be read back from memory. */
void ac_session_key_wipe(ac_session_key *key);

/* Issues a token for `user` with `roles`, signed by `key`, valid from
 * `now` for `ttl` seconds (0 means AC_SESSION_TTL_DEFAULT, 24 h).
 *  - sid: AC_SESSION_ID_LEN bytes from a CSPRNG. They make every login a
 *    distinct token (hence a distinct CSRF token) even for the same user in
 *    the same second, and give the session an id for revocation and audit.
 *  - user: 1..AC_SESSION_USER_MAX bytes; roles: 0..AC_SESSION_ROLES_MAX
 *    slices (roles may be NULL when n_roles is 0), each
 *    1..AC_SESSION_ROLE_MAX bytes. No control bytes (< 0x20, 0x7f) and no
 *    leading or trailing space in either (HTTP trims those from header
 *    values, so " alice" would reach the upstream as "alice"); no ',' in a
 *    role (roles are forwarded comma-joined).
 *  - ttl: 0..AC_SESSION_TTL_MAX; now + ttl MUST NOT overflow.
 * Writes the token (no NUL) to out and returns its length
 * (<= AC_SESSION_TOKEN_MAX), or 0 if an argument is out of range or cap is
 * too small (out is then not written at all: never half a token). */
size_t ac_session_issue(char *out, size_t cap, const ac_session_key *key,
    const uint8_t sid[AC_SESSION_ID_LEN], const char *user, size_t user_len,
    const ac_str *roles, size_t n_roles, int64_t now, int64_t ttl);

/* The same, for a session signed in with a password: `cred` (may be NULL:
 * then exactly ac_session_issue) is the credential tag of the stored hash
 * the password matched (ac_session_cred_tag). It travels in the payload,
 * so a verifier that still holds the same hash for the user sees the same
 * tag, and one holding a changed hash (a password change) does not: the
 * session ends with the password it was signed in with. */
size_t ac_session_issue_cred(char *out, size_t cap, const ac_session_key *key,
    const uint8_t sid[AC_SESSION_ID_LEN], const char *user, size_t user_len,
    const ac_str *roles, size_t n_roles, int64_t now, int64_t ttl,
    const uint8_t cred[AC_SESSION_CRED_LEN]);

/* The credential tag of a stored password hash string:
 *   first 8 bytes of SHA-256("authcore-credential-v1" NUL || hash).
 * The hash string holds a random salt, so the tag says nothing about the
 * password; it only changes when the hash does. */
void ac_session_cred_tag(uint8_t out[AC_SESSION_CRED_LEN], const char *hash,
    size_t hash_len);

/* A verified session. user and roles point into `payload` inside this
 * struct: it must not be copied or reused while they are in use. On any
 * failure every field but `reason` is zero. */
typedef struct {
	ac_reason reason;
	uint8_t sid[AC_SESSION_ID_LEN];
	int64_t iat, exp;
	ac_str user;
	ac_str roles[AC_SESSION_ROLES_MAX];
	size_t n_roles;
	size_t key_index; /* keys[key_index] verified it: an index other than
	                     the current key's says "reissue with the new key" */
	uint8_t payload[AC_SESSION_PAYLOAD_MAX];
	size_t payload_len;
	int has_cred;     /* 1: signed in with a password whose hash tag is */
	uint8_t cred[AC_SESSION_CRED_LEN];                      /* cred */
} ac_session;

/* Verifies a token against keys[0..n_keys) at time `now`. Work is ordered
 * so an attacker pays before we do:
 *   size (> AC_SESSION_TOKEN_MAX: AC_TOKEN_TOO_LARGE); structure: "v1."
 *   prefix, exactly three '.', a valid kid, a non-empty payload segment of
 *   base64url characters, a 43-character MAC that decodes canonically
 *   (AC_MALFORMED); a key with that kid (none: AC_UNKNOWN_KID; rotation is
 *   "add the new key, keep the old ones for verification"); the MAC,
 *   compared in constant time (AC_BAD_SIGNATURE); only then the payload is
 *   decoded and parsed strictly (structure: AC_MALFORMED; values outside
 *   the limits issue enforces, or exp <= iat: AC_BAD_CLAIM); then time:
 *   now >= exp is AC_EXPIRED (no leeway: a session ends when it says),
 *   iat > now + AC_SESSION_SKEW is AC_NOT_YET_VALID.
 * Returns AC_OK or the reason; out->reason holds the same value. */
AC_MUST_CHECK ac_reason ac_session_verify(const ac_session_key *keys,
    size_t n_keys, const char *token, size_t token_len, int64_t now,
    ac_session *out);

/* ------------------------------------------------------------------ */
/* CSRF, double-submit bound to the session (core/ac_csrf.c)           */
/*                                                                     */
/* token = base64url(HMAC-SHA256(key, "authcore-csrf-v1" NUL           */
/*                                    || session token))              */
/* The app sets it as a JS-readable cookie; scripts echo it in the     */
/* X-CSRF-Token header on unsafe methods. A cross-site form cannot set */
/* that header. Binding the token to the session token (rather than    */
/* any random value, as plain double-submit does) means a token        */
/* minted for one session is useless in another: an attacker who can   */
/* plant cookies (a sibling subdomain) cannot pair the victim's        */
/* session with a token the attacker obtained for their own session,   */
/* and a leaked token dies with its session. The context string keeps  */
/* these MACs apart from session MACs made with the same key.          */
/* ------------------------------------------------------------------ */

/* Writes the CSRF token for `session_token` (AC_CSRF_TOKEN_LEN characters,
 * no NUL) into out. session_token: 1..AC_SESSION_TOKEN_MAX bytes, normally
 * one ac_session_issue just made or ac_session_verify just accepted.
 * Returns AC_CSRF_TOKEN_LEN, or 0 if the session token's length is out of
 * range. */
size_t ac_csrf_token(char out[AC_CSRF_TOKEN_LEN], const ac_session_key *key,
    const char *session_token, size_t session_len);

/* 1 if header_value is exactly the CSRF token of session_token under any of
 * keys[0..n_keys) (a rotation set: tokens minted with an older key keep
 * working while it is kept), else 0. A header whose length is not
 * AC_CSRF_TOKEN_LEN is refused at once; otherwise every key is tried and
 * compared in constant time (wiped keys, kid_len 0, are skipped). This does NOT authenticate the session: call
 * it for a session token that ac_session_verify accepted. */
AC_MUST_CHECK int ac_csrf_check(const ac_session_key *keys, size_t n_keys,
    const char *session_token, size_t session_len, const char *header_value,
    size_t header_len);

/* 1 if a request with this method needs the CSRF check: POST, PUT, PATCH,
 * DELETE and every other method that RFC 9110 does not define as safe;
 * 0 only for GET, HEAD, OPTIONS and TRACE, exactly (case-sensitive, as
 * method names are). It fails closed: "post", "PROPFIND" or an empty
 * method need the check too, in case some upstream acts on them. */
int ac_method_is_unsafe(const char *method, size_t len);

/* ------------------------------------------------------------------ */
/* API keys (core/ac_apikey.c)                                         */
/*                                                                     */
/*   <prefix>_<43 base64url characters of 32 random bytes>             */
/*                                                                     */
/* The table stores only SHA-256(whole key), written as 64 lowercase   */
/* hex digits. A key carries 256 random bits, so an unsalted fast hash */
/* is enough: a stolen table yields no key (nothing to brute-force).   */
/* ------------------------------------------------------------------ */

/* Makes a new key from AC_APIKEY_ENTROPY_LEN CSPRNG bytes. prefix: 1..16
 * bytes of [a-z0-9], or NULL / length 0 for AC_APIKEY_PREFIX_DEFAULT
 * ("ak"). Writes the key (no NUL) to out, and, when hash_out is not NULL,
 * the hash to store (64 lowercase hex digits and a NUL). Returns the key's
 * length (<= AC_APIKEY_MAX), or 0 on a bad prefix or too small a cap. */
size_t ac_apikey_new(char *out, size_t cap, const char *prefix,
    size_t prefix_len, const uint8_t entropy[AC_APIKEY_ENTROPY_LEN],
    char hash_out[AC_APIKEY_HASH_HEX_LEN + 1]);

/* 1 if key has the shape of a key ac_apikey_new makes: a 1..16 character
 * [a-z0-9] prefix, '_', then exactly 43 base64url characters that decode
 * canonically (the last one's unused bits zero). 0 otherwise. Lookups do
 * not require it (ac_apikey_lookup). */
int ac_apikey_well_formed(const char *key, size_t len);

/* Reads a stored hash: exactly 64 lowercase hex digits. Returns 0, or -1
 * (uppercase, other lengths and other characters are refused, so each hash
 * has one spelling). For table loaders. */
AC_MUST_CHECK int ac_apikey_hash_parse(uint8_t hash[AC_APIKEY_HASH_LEN],
    const char *hex, size_t len);

/* One key in a table. Slices point into the caller's memory (the loaded
 * policy); n_permissions and n_resources MUST NOT exceed their caps (larger
 * counts are treated as the cap). */
typedef struct {
	uint8_t hash[AC_APIKEY_HASH_LEN];
	ac_str name; /* for audit lines: which key was used */
	ac_str role;
	ac_str permissions[AC_APIKEY_PERMISSIONS_MAX];
	size_t n_permissions;
	ac_str resources[AC_APIKEY_RESOURCES_MAX]; /* patterns, see below */
	size_t n_resources;
} ac_apikey_entry;

/* Finds the entry for a presented key. Any key of AC_APIKEY_INPUT_MIN to
 * AC_APIKEY_INPUT_MAX bytes, each 0x21..0x7e, is looked up by its
 * SHA-256, whatever its format: keys an application issued before
 * (taskito's tokens, ...) migrate by listing their hash. A key outside
 * those bounds is refused (NULL) before any hashing: a shorter one is too
 * easy to guess for an unsalted hash to stand for it. Otherwise the key is
 * hashed once and compared with EVERY entry in constant time, with no
 * early exit: the time depends on n and the key's length, never on which
 * entry matched or how many bytes of a hash agreed. Returns the entry, or
 * NULL. */
const ac_apikey_entry *ac_apikey_lookup(const ac_apikey_entry *tab, size_t n,
    const char *key, size_t len);

/* 1 if e grants `perm`: exact, case-sensitive match with one of its
 * permissions (no wildcards: a grant names what it grants). */
int ac_apikey_has_permission(const ac_apikey_entry *e, const char *perm,
    size_t len);

/* 1 if `resource` (<= AC_RESOURCE_MAX bytes) matches one of e's resource
 * patterns (ac_resource_match), else 0. */
int ac_resource_allowed(const ac_apikey_entry *e, const char *resource,
    size_t len);

/* Pattern match where '*' matches any run of bytes (including none) and
 * every other byte matches itself ("report_*", "*", "*_daily", "a*b*c").
 * Runs in time linear in plen + rlen whatever the pattern (no
 * backtracking: "*a*a*a*a*b" against a long run of 'a' is as cheap as any
 * other). A pattern longer than AC_RESOURCE_PATTERN_MAX or a resource
 * longer than AC_RESOURCE_MAX never matches. Returns 1 or 0. */
int ac_resource_match(const char *pattern, size_t plen, const char *resource,
    size_t rlen);

/* Sizes of public structs, for FFI and wasm callers. */
size_t ac_sizeof_session_key(void);
size_t ac_sizeof_session(void);
size_t ac_sizeof_apikey_entry(void);

#ifdef __cplusplus
}
#endif
#endif
