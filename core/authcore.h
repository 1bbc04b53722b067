/*
 * authcore - allocation-free HTTP authentication and authorization core.
 *
 * Contract for every function in this header:
 *  - No function allocates, performs I/O, reads a clock or keeps global
 *    mutable state. Time (`now`, unix seconds) and randomness (`entropy`)
 *    are arguments.
 *  - Every context is a struct the caller places (stack, static, arena).
 *    Sizes of every public struct are also available as functions
 *    (ac_sizeof_*) for FFI and wasm callers that cannot read C headers.
 *  - Strings are (pointer, length) slices; they need not be NUL-terminated
 *    unless a parameter says so.
 *  - Secrets are compared in constant time.
 *
 * Licensed under the MIT license (see LICENSE).
 */
#ifndef AUTHCORE_H
#define AUTHCORE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define AC_VERSION "0.1.0"
const char *ac_version(void);

#if defined(__GNUC__) || defined(__clang__)
#define AC_MUST_CHECK __attribute__((warn_unused_result))
#else
#define AC_MUST_CHECK
#endif

/* ------------------------------------------------------------------ */
/* Limits. Each input is capped; exceeding a cap is a clear error.     */
/* ------------------------------------------------------------------ */
#define AC_TOKEN_MAX 8192         /* bytes of a compact JWS */
#define AC_JWT_HEADER_MAX 1024    /* decoded JOSE header bytes */
#define AC_JWT_PAYLOAD_MAX 4096   /* decoded payload bytes */
#define AC_JSON_DEPTH_MAX 16      /* nesting inside a token header/payload */
#define AC_JSON_MEMBERS_MAX 64    /* members of a header/payload object */
#define AC_ROLES_MAX 16           /* roles kept from a token */
#define AC_KEYS_MAX 16            /* keys in one policy */
#define AC_RULES_MAX 256          /* route rules in one policy */
#define AC_PUBLIC_MAX 64          /* public path patterns */
#define AC_AUD_MAX 8              /* accepted audiences */
#define AC_HEADERS_MAX 128        /* request headers looked at */
#define AC_NAME_MAX 128           /* header names, claim names, kid, role */
#define AC_POLICY_JSON_MAX (1u << 20)
#define AC_AUDIT_MAX 1024         /* one audit line */
#define AC_DECISION_HEADERS_MAX 24
#define AC_USERS_MAX 256          /* users in one policy ("users") */
#define AC_LOGIN_BODY_MAX 8192    /* bytes of a login form or JSON body */
#define AC_PREFIX_MAX 128         /* bytes of the login mount prefix */
#define AC_NEXT_MAX 512           /* bytes of a login redirect target */
#define AC_TARGET_MAX 4096        /* bytes of a request target (path and
                                     query); longer ones are 414 bad_path */

size_t ac_const_token_max(void);

/* ------------------------------------------------------------------ */
/* Reason codes: stable strings for audit events and tests.            */
/* ------------------------------------------------------------------ */
typedef enum {
	AC_OK = 0,            /* "ok": token valid / request allowed */
	AC_PUBLIC,            /* "public": public path, no token needed */
	AC_MISSING_TOKEN,     /* "missing_token" */
	AC_INVALID_REQUEST,   /* "invalid_request": e.g. two Authorization headers */
	AC_BAD_PATH,          /* "bad_path": dot segments, encoded '/', ... */
	AC_TOKEN_TOO_LARGE,   /* "token_too_large" */
	AC_MALFORMED,         /* "malformed": structure, base64url, JSON */
	AC_ALG_NOT_ALLOWED,   /* "alg_not_allowed": none, or no key for alg */
	AC_UNKNOWN_KID,       /* "unknown_kid" */
	AC_HEADER_NOT_ALLOWED,/* "header_not_allowed": jku, x5u, jwk, x5c */
	AC_CRIT_UNSUPPORTED,  /* "crit_unsupported" */
	AC_BAD_SIGNATURE,     /* "bad_signature" */
	AC_EXPIRED,           /* "expired" */
	AC_NOT_YET_VALID,     /* "not_yet_valid" */
	AC_BAD_ISSUER,        /* "bad_issuer" */
	AC_BAD_AUDIENCE,      /* "bad_audience" */
	AC_MISSING_CLAIM,     /* "missing_claim": a required claim is absent */
	AC_BAD_CLAIM,         /* "bad_claim": wrong type, bad characters */
	AC_INSUFFICIENT_ROLE, /* "insufficient_role" */
	AC_NO_RULE,           /* "no_rule": default deny and no rule matched */
	AC_UNSUPPORTED_ALG,   /* "unsupported_alg": EdDSA and others not verifiable here */
	AC_BAD_TYP,           /* "bad_typ": header typ is not the one required */
	AC_TOO_OLD,           /* "too_old": iat older than the policy's max age */
	AC_BAD_API_KEY,       /* "bad_api_key": malformed or unknown API key */
	AC_RESOURCE_NOT_ALLOWED, /* "resource_not_allowed": outside the key's allow-list */
	AC_INSUFFICIENT_PERMISSION, /* "insufficient_permission" */
	AC_CSRF_FAILED,       /* "csrf_failed": unsafe method without the session's CSRF token */
	AC_UNKNOWN_USER,      /* "unknown_user": login or Basic auth for a user not in the policy */
	AC_BAD_PASSWORD,      /* "bad_password": the password does not match, or is over the length limit */
	AC_TOO_MANY_ATTEMPTS, /* "too_many_attempts": login failures for this client and user over the limit */
	AC_PENDING_REASON,    /* "pending": a password check is in progress (action AC_PENDING) */
	AC_LOGGED_OUT,        /* "logged_out": the logout endpoint cleared the cookies */
	AC_NO_STATE,          /* "no_state": the policy needs an ac_state and none was given */
	AC_BODY_TOO_LARGE,    /* "body_too_large": a login body over AC_LOGIN_BODY_MAX */
	AC_BAD_HEADER,        /* "bad_header": a header name upstreams would fold
	                         ('_'), or a method override the policy refuses */
	AC_OVERLOADED,        /* "overloaded": too many password checks in flight
	                         (503 with Retry-After, before any hashing) */
	AC_REASON_COUNT
} ac_reason;

/* Stable lower-case name of a reason code ("unknown" if out of range). */
const char *ac_reason_name(ac_reason r);

/* ------------------------------------------------------------------ */
/* Slices, constant time, base64url (core/ac_base64.c, core/ac_ct.c)   */
/* ------------------------------------------------------------------ */
typedef struct {
	const char *ptr;
	size_t len;
} ac_str;

/* 1 if a and b are equal, 0 otherwise. Time depends only on the lengths. */
int ac_ct_equal(const void *a, const void *b, size_t len);

/* Bytes needed to encode `len` bytes as base64url without padding. */
size_t ac_b64url_encoded_len(size_t len);

/* Encodes src into dst (no padding, no NUL). Returns the encoded length, or
 * 0 if dst_cap is too small (and src_len > 0). */
size_t ac_b64url_encode(char *dst, size_t dst_cap, const void *src,
    size_t src_len);

/* Strict base64url decoder: alphabet A-Z a-z 0-9 - _ only, no padding, no
 * whitespace, length % 4 != 1, unused trailing bits MUST be zero.
 * Returns 0 and sets *out_len on success; -1 on any violation or if dst_cap
 * is too small. */
AC_MUST_CHECK int ac_b64url_decode(uint8_t *dst, size_t dst_cap,
    size_t *out_len, const char *src, size_t src_len);

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

/* ------------------------------------------------------------------ */
/* Policy (core/ac_policy.c). Parsed with cJSON at load time only; every  */
/* byte cJSON and the compiled policy use comes from `mem`.             */
/* ------------------------------------------------------------------ */
typedef struct ac_policy ac_policy;

typedef struct {
	char path[256];    /* JSON path of the offending value, e.g. $.rules[2].path */
	char message[256]; /* what is wrong with it */
} ac_policy_error;

/* Memory that always suffices to load a policy of json_len bytes. */
size_t ac_policy_mem_bound(size_t json_len);

/* Compiles a JSON policy into mem (any alignment: the start is aligned to
 * 16 bytes internally, which ac_policy_mem_bound accounts for).
 * On success returns the policy (which lives inside mem: mem MUST stay in
 * place and unchanged while the policy is used) and sets *used to the bytes
 * kept. On failure returns NULL and fills err (path + message). Policy load
 * is not thread-safe with other users of cJSON in the same process (cJSON's
 * allocator hooks are global; they are set and restored around the parse). */
const ac_policy *ac_policy_load(void *mem, size_t mem_len, const char *json,
    size_t json_len, size_t *used, ac_policy_error *err);

/* Settings a host takes from its environment (the core reads none).
 * Empty slices (ptr NULL) mean "not set". */
typedef struct {
	ac_str admin_user;          /* AUTHCORE_ADMIN_USER */
	ac_str admin_password_hash; /* AUTHCORE_ADMIN_PASSWORD_HASH */
	int admin_optional;         /* 1: a policy without "login" ignores the
	                               administrator instead of being refused
	                               (hosts that load several policies from
	                               one environment) */
} ac_policy_env;

/* As ac_policy_load, then the environment's settings: with both admin
 * variables set, a user with that name, that password hash (any format
 * ac_password_verify_begin takes, within the policy's limits) and the role
 * "admin" is added to the users (a policy that already has a user of that
 * name is refused, as is one variable without the other, and a policy
 * without "login" unless env->admin_optional). Errors name the
 * variable as the path ("$env.AUTHCORE_ADMIN_PASSWORD_HASH"). env may be
 * NULL. */
const ac_policy *ac_policy_load_env(void *mem, size_t mem_len,
    const char *json, size_t json_len, const ac_policy_env *env,
    size_t *used, ac_policy_error *err);

#ifdef __cplusplus
}
#endif
#include "authcore_session.h" /* sessions, CSRF tokens, API keys */
#include "authcore_password.h" /* PBKDF2, password hash strings */
#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ */
/* Requests and decisions (core/ac_decide.c)                           */
/* ------------------------------------------------------------------ */
typedef struct {
	ac_str name;  /* any case */
	ac_str value;
} ac_header;

typedef struct {
	ac_str method;     /* "GET" */
	ac_str path;       /* request target as the upstream will get it: path
	                      with optional ?query (nginx: after rewrite) */
	ac_str client_ip;  /* textual address of the peer that connected to
	                      the host (the socket peer; on Workers the
	                      runtime's CF-Connecting-IP), may be empty. The
	                      core takes the client from X-Forwarded-For or
	                      Forwarded only when this peer is in the
	                      policy's trusted_proxies. */
	const ac_header *headers; /* every header, the Host (HTTP/2
	                      :authority) as "host" */
	size_t n_headers;
	int https;         /* 1 if the connection to the host is TLS */
	int too_many_headers; /* host had more than AC_HEADERS_MAX headers:
	                         decided as invalid_request, never truncated */
	ac_str body;       /* the request body, only for requests that
	                      ac_wants_body() names (login posts); else empty */
	int body_too_large; /* the body was over AC_LOGIN_BODY_MAX: decided as
	                       413 body_too_large, never truncated */
} ac_request;

/* What deciding a request needs from the host, before it decides. */
#define AC_NEEDS_BODY 1u  /* the body, at most AC_LOGIN_BODY_MAX bytes */
/* The entries of the ac_state the decision may read or write: */
#define AC_NEEDS_THROTTLE 2u      /* (client, user) attempt counters */
#define AC_NEEDS_CLIENT_BUDGET 4u /* per-client attempt budgets */
#define AC_NEEDS_PENDING 8u       /* in-flight password check slots */
#define AC_NEEDS_CREDS 16u        /* the verified Basic credentials cache */
/* Any of them: a host that shares its state across workers takes its lock
 * (or reads its shared copy) only then. */
#define AC_NEEDS_STATE (AC_NEEDS_THROTTLE | AC_NEEDS_CLIENT_BUDGET | \
    AC_NEEDS_PENDING | AC_NEEDS_CREDS)
/* Bits of AC_NEEDS_* for this request (body and headers not needed in req;
 * method, path and headers are read): a login post needs the body and the
 * throttle, budget and pending entries; Basic credentials need those
 * entries and the credentials cache. A request whose answer has no
 * AC_NEEDS_STATE bit is decided exactly the same with state NULL. */
unsigned ac_needs(const ac_policy *policy, const ac_request *req);

/* 1 if the core needs this request's body to decide it (a POST to the
 * login endpoint), so the host buffers it, at most AC_LOGIN_BODY_MAX
 * bytes, before calling ac_decide; 0 otherwise (the body is never read). */
int ac_wants_body(const ac_policy *policy, const char *method,
    size_t method_len, const char *path, size_t path_len);

/* ------------------------------------------------------------------ */
/* Mutable state (core/ac_state.c): login attempt counters, the        */
/* checks in flight and the cache of verified Basic credentials. One   */
/* flat struct with no pointers, so a host can place it anywhere: a    */
/* static, a wasm instance's memory, a shared-memory zone several      */
/* processes map (the host then serializes calls that take it).        */
/* Decisions that need it write to it; every other decision only reads */
/* the policy.                                                         */
/*                                                                     */
/* Every table is fixed; what happens when one is full:                */
/*  - throttle (AC_THROTTLE_SLOTS (client, user) counters) and clients */
/*    (AC_CLIENT_SLOTS per-client budgets): probed in groups of 8 from */
/*    a keyed position. A new entry takes a free or lapsed slot, else  */
/*    the unlocked slot whose window ends first. A locked slot (its    */
/*    count at its limit, its window not over) is never given up       */
/*    before its window ends: when all 8 candidates are locked the     */
/*    attempt is refused, 503 overloaded with Retry-After (fail        */
/*    closed), and nothing is counted or hashed. Filling a group that  */
/*    way takes 8 distinct locked entries: one client spends its own   */
/*    budget (login.client_attempts) long before.                      */
/*  - pending (AC_PENDING_SLOTS): one slot per password check in       */
/*    flight (an AC_PENDING decision), at most login.max_pending of    */
/*    them live. ac_decide_finish frees the check's slot, and so does  */
/*    ac_decide_abandon (a host that drops the check: client abort);   */
/*    a slot neither frees lapses AC_PENDING_TIMEOUT seconds after it  */
/*    was taken. Past the cap the answer is 503 overloaded with        */
/*    Retry-After, before any hashing. This cap is what bounds every   */
/*    host's queue of pending checks: a host needs no queue limit of   */
/*    its own (one state per process, worker or shared zone: the cap   */
/*    is per state).                                                   */
/*  - creds (AC_CREDCACHE_SLOTS): a full group gives up the entry that */
/*    lapses first (losing one only costs a password check).           */
/* ------------------------------------------------------------------ */
#define AC_THROTTLE_SLOTS 2048  /* (client, user) pairs with attempts kept */
#define AC_CLIENT_SLOTS 512     /* client addresses with attempts kept */
#define AC_PENDING_SLOTS 64     /* password checks in flight, at most */
#define AC_PENDING_TIMEOUT 60   /* seconds before an unresumed check's
                                   slot lapses */
#define AC_CREDCACHE_SLOTS 256  /* verified Basic credentials kept */
#define AC_STATE_SECRET_LEN 32  /* entropy bytes ac_state_init needs */

typedef struct {
	uint8_t key[16];  /* HMAC-SHA256(secret, client[, user]), cut */
	int64_t until;    /* end of the window the count belongs to */
	uint32_t fails;   /* attempts counted in the window */
	uint32_t limit;   /* the limit the count was made under; 0: free */
} ac_throttle_slot;

typedef struct {
	uint64_t ticket;  /* which check holds it; 0: free */
	int64_t until;    /* lapses then if not freed */
} ac_pending_slot;

typedef struct {
	uint8_t tag[32];  /* HMAC(secret, user, password, stored hash) */
	int64_t until;
	uint64_t used;
} ac_cred_slot;

typedef struct {
	uint32_t magic;
	uint32_t pad;
	uint8_t secret[AC_STATE_SECRET_LEN];
	uint64_t tickets;                 /* last pending ticket handed out */
	ac_throttle_slot throttle[AC_THROTTLE_SLOTS];
	ac_throttle_slot clients[AC_CLIENT_SLOTS];
	ac_pending_slot pending[AC_PENDING_SLOTS];
	ac_cred_slot creds[AC_CREDCACHE_SLOTS];
} ac_state;

/* Clears the state and keys it with AC_STATE_SECRET_LEN bytes from a
 * CSPRNG (the key makes slot positions and cache tags unpredictable and
 * keeps passwords out of memory: only keyed MACs of them are stored).
 * Returns 0, or -1 if entropy_len is short (the state is then unusable,
 * and decisions that need it answer 500 no_state). */
AC_MUST_CHECK int ac_state_init(ac_state *s, const uint8_t *entropy,
    size_t entropy_len);

typedef enum {
	AC_ALLOW = 0,     /* continue upstream with header changes; add
	                     resp_headers (Set-Cookie) to the upstream's answer */
	AC_RESPOND = 1,   /* answer locally with status/headers/body */
	AC_PENDING = 2    /* a password check is under way: run
	                     ac_decide_step until it returns 0 (in slices, so
	                     the host keeps serving), then ac_decide_finish */
} ac_action;

/* Work a pending decision carries: a resumable PBKDF2 verification and
 * what binds its verdict to the request's credentials. Opaque. */
typedef struct {
	ac_password_verify_ctx verify;
	uint8_t tag[32];
	int kind;          /* 'L' login post, 'B' Basic credentials */
	int known;         /* the user exists (else a decoy hash is run) */
	int status;        /* ac_password_status after finish */
	uint32_t slot;     /* its in-flight slot in the state */
	uint64_t ticket;   /* ... and the ticket that holds it */
	int64_t began;     /* when the check began (counted) */
} ac_work;

/* The answer for one request. Every slice points into this struct or into
 * static storage, so hosts copy what they need before reusing it. */
typedef struct {
	ac_action action;
	int status;              /* 200 for allow, else the local status */
	ac_reason reason;
	/* upstream request: remove these names (every case), then add these */
	ac_str remove[AC_DECISION_HEADERS_MAX];
	size_t n_remove;
	ac_header add[AC_DECISION_HEADERS_MAX];
	size_t n_add;
	/* local response (action == AC_RESPOND) */
	ac_header resp_headers[AC_DECISION_HEADERS_MAX];
	size_t n_resp_headers;
	ac_str body;
	ac_str user;             /* identity, when a token verified */
	char audit[AC_AUDIT_MAX];/* one JSON line, no newline */
	size_t audit_len;
	char buf[8192];          /* storage for header values and pages */
	size_t buf_len;
	ac_jwt_result jwt;       /* scratch for the token check */
	ac_session session;      /* scratch for the session check */
	/* the request as decided (AC_ALLOW): the target to forward and the
	 * client and scheme the core took (trusted_proxies applied). When
	 * path_rewritten is 1 the host MUST forward `path` instead of the
	 * request's target (canonical form, consumed token parameters
	 * removed). */
	ac_str path;
	int path_rewritten;
	ac_str client;
	int https;
	ac_str match;            /* the decoded path rules were matched on */
	char target[AC_TARGET_MAX]; /* storage for path */
	char match_buf[AC_TARGET_MAX]; /* storage for match */
	ac_str auth_method;      /* "jwt", "session", "api_key", "password",
	                            "basic"; empty if none */
	ac_str login_user;       /* the user a login or Basic attempt named
	                            (for the audit line), empty if none */
	ac_work work;            /* action AC_PENDING: the password check */
	int state_written;       /* 1 if deciding wrote to the ac_state: a host
	                            holding a copy of a shared state writes it
	                            back only then */
} ac_decision;

/* Verifies a token with the policy's JWT keys and claim checks only (no
 * routing, sources or identity headers): for hosts and tools that hold a
 * token already. AC_ALG_NOT_ALLOWED if the policy has no "jwt". Same
 * result contract as ac_jwt_verify. */
AC_MUST_CHECK ac_reason ac_policy_verify_jwt(const ac_policy *policy,
    const char *token, size_t token_len, int64_t now, ac_jwt_result *res);

/* Deciding a request, in the shape of the password API: begin, step,
 * finish, or the one-shot ac_decide.
 *
 * ac_decide_begin decides one request. `state` (may be NULL for policies
 * without "login") holds login attempt counters and the Basic credential
 * cache. `now` is unix seconds; entropy is fresh random bytes (at least
 * AC_SESSION_ID_LEN for a login to issue a session; may be NULL/0
 * otherwise). Never fails: every outcome, including bad input, is a
 * decision with a reason code. Returns d's action: AC_PENDING when a
 * password check is under way (then step and finish). Only requests that
 * ac_needs() marks AC_NEEDS_STATE use the state; given NULL they answer
 * 500 no_state, and every other request is decided exactly as with a
 * state. */
ac_action ac_decide_begin(const ac_policy *policy, ac_state *state,
    const ac_request *req, int64_t now, const uint8_t *entropy,
    size_t entropy_len, ac_decision *d);

/* Advances a pending decision's password check by at most max_iterations
 * PBKDF2 iterations. Returns how many remain (0: finish now; 0 also for a
 * decision that is not pending). */
size_t ac_decide_step(ac_decision *d, size_t max_iterations);

/* Finishes a pending decision: the check's verdict, then the decision
 * for the same request (pass the same policy, state and request as to
 * ac_decide_begin; now and entropy may be fresh). Iterations still left
 * are run here. A decision that is not pending is decided afresh. The
 * verdict is bound to the credentials it checked: another request cannot
 * use it. */
void ac_decide_finish(const ac_policy *policy, ac_state *state,
    const ac_request *req, int64_t now, const uint8_t *entropy,
    size_t entropy_len, ac_decision *d);

/* Begins, or finishes if d is pending: for hosts that make one core call
 * per turn of their event loop. d MUST be zeroed before its first use (or
 * hold an earlier decision). */
void ac_decide_next(const ac_policy *policy, ac_state *state,
    const ac_request *req, int64_t now, const uint8_t *entropy,
    size_t entropy_len, ac_decision *d);

/* One shot: begins and, when a password check is pending, runs it to the
 * end and finishes. For callers that may block (CLI, tests, a worker that
 * serves one request at a time). */
void ac_decide(const ac_policy *policy, ac_state *state,
    const ac_request *req, int64_t now, const uint8_t *entropy,
    size_t entropy_len, ac_decision *d);

/* Gives up a pending decision without its verdict: the host dropped the
 * request (the client went away, the stream ended). Frees the check's
 * in-flight slot in `state` (the one the decision was made with; may be
 * NULL) and wipes the check; the attempt stays counted. Afterwards the
 * decision has nothing to step, and finishing it decides afresh; its
 * state_written says whether the slot was freed. A host that drops a
 * pending decision without this leaves its slot taken until it lapses
 * (AC_PENDING_TIMEOUT), and a client that aborts its login posts could
 * hold every slot. No effect on a decision that is not pending. */
void ac_decide_abandon(ac_state *state, ac_decision *d);

/* Serializes a decision as one JSON object:
 * {"action":"allow"|"respond","status":N,"reason":"...",
 *  "remove":[names],"add":{"name":"value"},"headers":[["name","value"]],
 *  "body":"...","user":"..."|null,"audit":{...}}
 * Returns the length written (no NUL), or 0 if cap is too small. */
size_t ac_decision_json(const ac_decision *d, char *out, size_t cap);

/* Sizes of public structs, for FFI and wasm callers. */
size_t ac_sizeof_decision(void);
size_t ac_sizeof_request(void);
size_t ac_sizeof_header(void);
size_t ac_sizeof_jwt_key(void);
size_t ac_sizeof_jwt_result(void);
size_t ac_sizeof_state(void);

#ifdef __cplusplus
}
#endif
#endif
