/* The compiled policy's layout (ac_policy.c builds it; the decision reads
 * it). Internal: not part of the public API. */
#ifndef AC_POLICY_INT_H
#define AC_POLICY_INT_H

#include <stddef.h>
#include <stdint.h>

#include "ac_internal.h"

#define AC_METHODS_MAX 16
typedef struct {
	ac_str methods[AC_METHODS_MAX]; /* empty: any method */
	size_t n_methods;
	ac_str path;                    /* glob: '*' matches any run */
	ac_str role;                    /* ptr NULL: any valid token */
	ac_str permission;              /* ptr NULL: none needed */
} ac_rule;

/* Where a token is looked for (jwt.sources), in order. */
#define AC_SOURCES_MAX 8
typedef struct {
	int kind;      /* 'H' header, 'C' cookie, 'Q' query parameter */
	ac_str name;   /* header name (any case), cookie or parameter name */
	ac_str prefix; /* header scheme, e.g. "Bearer"; empty: whole value */
	int csrf;      /* cookie: unsafe methods must be same-origin */
} ac_source;

#define AC_PROXIES_MAX 32

#define AC_APIKEYS_MAX 256

/* A claim forwarded upstream as a header (jwt.claims_to_headers). */
#define AC_CLAIM_HEADERS_MAX 8
typedef struct {
	ac_str claim;  /* dot path */
	ac_str header;
} ac_claim_header;

/* A user who logs in with a password ("users", or the environment). */
typedef struct {
	ac_str name;
	ac_str hash;   /* stored password hash string, checked at load */
	ac_str roles[AC_SESSION_ROLES_MAX];
	size_t n_roles;
} ac_user;

struct ac_policy {
	ac_jwt_key keys[AC_KEYS_MAX];
	size_t n_keys;
	ac_source sources[AC_SOURCES_MAX];
	size_t n_sources;
	ac_claim_header claim_headers[AC_CLAIM_HEADERS_MAX];
	size_t n_claim_headers;
	ac_jwt_checks checks;
	ac_str realm;
	ac_str user_header, roles_header;
	ac_str public_paths[AC_PUBLIC_MAX];
	size_t n_public;
	ac_rule *rules;
	size_t n_rules;
	int default_deny;
	int has_jwt;
	/* signed sessions ("sessions"): cookie name NULL when off */
	ac_session_key session_keys[AC_KEYS_MAX];
	size_t n_session_keys;
	ac_str session_cookie;
	int csrf;
	ac_str csrf_header, csrf_cookie;
	/* API keys ("api_keys"): header name NULL when off */
	ac_apikey_entry *api_keys;
	size_t n_api_keys;
	ac_str api_key_header;
	int64_t session_ttl;            /* sessions.ttl, seconds */
	/* users and the login flow ("users", "login", "passwords") */
	ac_user *users;
	size_t n_users;
	int login;                      /* login endpoints served */
	ac_str prefix;                  /* mount prefix: "" or "/x" (no
	                                   trailing '/') */
	ac_str title;                   /* login page title */
	uint32_t attempts;              /* failures allowed per window */
	int64_t attempts_window;        /* seconds */
	uint32_t client_attempts;       /* checks begun per client address
	                                   (login.client_attempts) ... */
	int64_t client_window;          /* ... per this many seconds */
	uint32_t max_pending;           /* checks in flight per state */
	int basic;                      /* HTTP Basic against the users */
	int64_t basic_cache_ttl;        /* seconds a verified pair is kept */
	ac_password_limits pw_limits;
	const void *sha256;             /* SHA-256 class, chosen at load */
	/* the request as upstreams read it ("request", "trusted_proxies") */
	ac_cidr proxies[AC_PROXIES_MAX];
	size_t n_proxies;
	int client_header;              /* 'X' X-Forwarded-For, 'F' Forwarded */
	int rewrite_paths;              /* non-canonical paths: 1 rewrite,
	                                   0 refuse */
	int allow_underscore;           /* header names with '_' accepted */
	int refuse_override;            /* method overrides: 1 refuse, 0 strip */
	int forward_credentials;        /* consumed credentials kept */
	/* allowed requests audited, per million ("audit.allowed"): 0 none,
	 * 1000000 all; every other answer is always audited */
	uint32_t audit_allowed;
};

#endif
