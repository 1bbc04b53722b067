/*
 * authcore - version, limits, reason codes, slices, constant-time compare, wiping, base64url.
 * Part of the authcore API (core/authcore.h includes every part); the
 * contract at the top of authcore.h holds for every function here.
 *
 * Licensed under the MIT license (see LICENSE).
 */
#ifndef AUTHCORE_BASE_H
#define AUTHCORE_BASE_H

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
#define AC_DECISION_HEADERS_MAX 32
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
	AC_FORBIDDEN,         /* "forbidden": the resource's ACL or the caller's
	                         roles grant no permission for this method on
	                         this resource (403) */
	AC_HTTPS_REQUIRED,    /* "https_required": plain HTTP under require_https
	                         (308 to https for GET/HEAD, else 403) */
	AC_CORS_PREFLIGHT,    /* "cors_preflight": a CORS preflight the policy
	                         allows, answered 204 by the core */
	AC_CORS_DENIED,       /* "cors_denied": a CORS preflight from an origin,
	                         or for a method or header, the policy does not
	                         allow (403) */
	AC_RATE_LIMITED,      /* "rate_limited": over a rate_limits limit (429) */
	AC_STORE_UNAVAILABLE, /* "store_unavailable": the store entries could not be read */
	AC_STORE_CONFLICT,    /* "store_conflict": every compare-and-set of the request was lost */
	AC_TOO_MANY_CONNECTIONS, /* "too_many_connections": a connection cap
	                         (rate_limits.connections) is reached (429) */
	AC_JWKS_UNAVAILABLE,  /* "jwks_unavailable": the token needs keys from
	                         "jwt"."jwks_uri" that could not be fetched (503) */
	AC_OIDC_STARTED,      /* "oidc_started": sent to an OpenID provider to sign in (302) */
	AC_OIDC_STATE_INVALID, /* "oidc_state_invalid": a sign-in callback without this
	                         browser's state cookie, or with another state (400) */
	AC_OIDC_PROVIDER_ERROR, /* "oidc_provider_error": the provider came back with an error (403) */
	AC_OIDC_TOKEN_ERROR,  /* "oidc_token_error": the provider refused the code (used
	                         twice, expired, another client's) or sent no ID token (401) */
	AC_OIDC_NONCE_MISMATCH, /* "oidc_nonce_mismatch": an ID token minted for another sign-in (401) */
	AC_OIDC_EMAIL_UNVERIFIED, /* "oidc_email_unverified": email_verified is not true (403) */
	AC_OIDC_NOT_ALLOWED,  /* "oidc_not_allowed": outside the provider's allow lists (403) */
	AC_OIDC_UNAVAILABLE,  /* "oidc_unavailable": the provider's configuration, keys or
	                         token endpoint could not be reached (503) */
	AC_SESSION_REVOKED,   /* "session_revoked": a session logged out (or all of its
	                         user's, before a moment) while revocation is on, or a
	                         password session whose user's hash has changed (401) */
	AC_REASON_COUNT
} ac_reason;

/* Stable lower-case name of a reason code ("unknown" if out of range). */
const char *ac_reason_name(ac_reason r);

/* ------------------------------------------------------------------ */
/* Slices, constant time, wiping (core/ac_util.c), base64url          */
/* (core/ac_base64.c)                                                  */
/* ------------------------------------------------------------------ */
typedef struct {
	const char *ptr;
	size_t len;
} ac_str;

/* 1 if a and b are equal, 0 otherwise. Time depends only on the lengths. */
int ac_ct_equal(const void *a, const void *b, size_t len);

/* Zeroes p[0..n) in a way the compiler does not remove (key material,
 * passwords, intermediate MACs). p may be NULL when n is 0. */
void ac_wipe(void *p, size_t n);

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

#ifdef __cplusplus
}
#endif
#endif
