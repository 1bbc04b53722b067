/* The compiled policy's layout (ac_policy.c builds it; the decision reads
 * it). Internal: not part of the public API. */
#ifndef AC_POLICY_INT_H
#define AC_POLICY_INT_H

#include <stddef.h>
#include <stdint.h>

#include "ac_bucket.h"
#include "ac_internal.h"

#define AC_METHODS_MAX 16
typedef struct {
	ac_str methods[AC_METHODS_MAX]; /* empty: any method */
	size_t n_methods;
	ac_str path;                    /* glob: '*' matches any run */
	ac_str *roles;                  /* any one of them suffices */
	size_t n_roles;                 /* 0: any valid token */
	ac_str permission;              /* ptr NULL: none needed */
} ac_rule;

/* Where a token is looked for (jwt.sources), in order. */
#define AC_SOURCES_MAX 8
typedef struct {
	int kind;      /* 'H' header, 'C' cookie, 'Q' query parameter,
	                  'P' a Sec-WebSocket-Protocol entry */
	ac_str name;   /* header name (any case), cookie or parameter name;
	                  'P': the entry's prefix (case-sensitive) */
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
	uint8_t cred[AC_SESSION_CRED_LEN]; /* the hash's tag, which its
	                   sessions carry (ac_session_cred_tag); set at load */
} ac_user;

/* "cors" (core/ac_cors.c) */
#define AC_CORS_ORIGINS_MAX 32
#define AC_CORS_HEADERS_MAX 32
typedef struct {
	int on;
	ac_str origins[AC_CORS_ORIGINS_MAX]; /* exact, "*", or
	                                        a pattern: scheme, "://", "*.", domain */
	size_t n_origins;
	ac_str methods[AC_METHODS_MAX];
	size_t n_methods;
	ac_str headers[AC_CORS_HEADERS_MAX]; /* request headers allowed */
	size_t n_headers;
	ac_str allow_methods, allow_headers, expose; /* ", "-joined; ptr NULL:
	                                                none */
	int credentials;
	ac_str max_age;                 /* decimal seconds; ptr NULL: none */
} ac_cors_policy;

/* "security_headers" (core/ac_https.c): each value ptr NULL when off */
typedef struct {
	int every;                      /* the section is given: on every
	                                   answer (else the login page only) */
	int replace;                    /* an upstream's own value replaced */
	ac_str hsts, content_type_options, frame_options, referrer_policy;
	ac_str frame_ancestors;         /* "frame-ancestors ...", its own
	                                   Content-Security-Policy */
} ac_sec_policy;

/* "roles" and "resources" (core/ac_resource.c) */
#define AC_ROLE_DEFS_MAX 64
#define AC_RESOURCES_MAX 64
#define AC_ACL_MAX 256
typedef struct {
	ac_str name;
	ac_str *perms;
	size_t n_perms;
} ac_role_def;
typedef struct {
	ac_str perm;
	ac_str *roles;
	size_t n_roles;
} ac_acl_grant;
typedef struct {
	ac_str id;                      /* the id, or the prefix of a pattern */
	int prefix;                     /* 1: "id*" */
	ac_acl_grant *grants;
	size_t n_grants;
} ac_acl_entry;
typedef struct {
	ac_str before, after;           /* the template: before{id}after */
	ac_str methods[AC_METHODS_MAX + 1]; /* a method, or "*" */
	ac_str perms[AC_METHODS_MAX + 1];
	size_t n_methods;
	ac_acl_entry *acl;              /* n_acl 0: the caller's permissions */
	size_t n_acl;
} ac_resource;
/* A rate limit ("rate_limits", core/ac_ratelimit.c). */
#define AC_RL_LIMITS_MAX 32
#define AC_RL_WINDOWS_MAX 4
typedef struct {
	ac_str name;                    /* RateLimit-Policy identifier */
	ac_str methods[AC_METHODS_MAX]; /* empty: any method */
	size_t n_methods;
	ac_str path;                    /* glob; ptr NULL: any path */
	int key;                        /* 'C' client, 'U' user, 'K' api_key,
	                                   'R' role, 'H' header */
	ac_str header;                  /* key 'H': the header's name */
	ac_window windows[AC_RL_WINDOWS_MAX];
	size_t n_windows;
	int is_default;                 /* applies when no other limit does */
	uint32_t max_streams;           /* a connection cap ("connections"):
	                                   streams at once per key value;
	                                   0 for a rate limit */
} ac_rate_limit;
#define AC_CONN_CAPS_MAX 8

/* "upstream_identity" (core/ac_assert.c): a short-lived JWT that tells
 * upstreams who the caller is, signed by the policy's key. */
typedef struct {
	int on;
	ac_str header;          /* the upstream request header */
	ac_str audience, issuer;
	uint32_t ttl;           /* seconds */
	ac_alg alg;             /* AC_ALG_HS256 or AC_ALG_ES256 */
	ac_str kid;
	ac_str head;            /* the JOSE header, base64url, precomputed */
	uint8_t secret[64];     /* HS256 */
	size_t secret_len;
	uint8_t d[32];          /* ES256: the private scalar */
	ac_str jwks_path;       /* ES256: where the public JWKS is served */
	ac_str jwks;            /* its JSON, precomputed */
} ac_assert_cfg;

/* Where keys are fetched from, and how long they serve (core/ac_jwks.c):
 * "jwt"."jwks_uri" / "discovery", or an OpenID provider's issuer. */
typedef struct {
	ac_str uri;                     /* jwks_uri; with discovery the
	                                   issuer's openid-configuration URL */
	int discovery;                  /* uri is the configuration: the
	                                   keys' URL (and a provider's
	                                   endpoints) are read there first */
	ac_str issuer;                  /* discovery: the "issuer" it names */
	uint8_t digest[32];             /* SHA-256 of uri and algs: a cache
	                                   slot's (keys are bound to both) */
	ac_alg algs[AC_ALG_COUNT];      /* the keys' algorithms */
	size_t n_algs;
	int64_t ttl, stale_for, min_interval;
	size_t max_bytes;
	uint32_t timeout_ms;
	const void *sha256;             /* the policy's SHA-256 class */
} ac_jwks_src;

/* One OpenID provider ("oidc"."providers"[i], core/ac_oidc.c). */
#define AC_OIDC_PROVIDERS_MAX 3
#define AC_OIDC_LIST_MAX 64
typedef struct {
	ac_str name, label;
	ac_jwks_src src;                /* discovery from the issuer */
	ac_str client_id, client_secret;
	ac_str scope;                   /* space-joined */
	ac_str redirect_path;
	ac_str basic;                   /* "Basic " + base64(id:secret),
	                                   precomputed */
	int user_sub;                   /* user_claim "sub" (else "email") */
	ac_str groups_claim;
	ac_str *emails, *domains, *groups, *admins; /* allow lists */
	size_t n_emails, n_domains, n_groups, n_admins;
	ac_str roles[AC_SESSION_ROLES_MAX];
	size_t n_roles;
	ac_str *group_from, *group_to;  /* group_roles */
	size_t n_group_roles;
	int end_session;
} ac_oidc_provider;

struct ac_policy {
	ac_jwt_key keys[AC_KEYS_MAX];
	size_t n_keys;
	ac_source sources[AC_SOURCES_MAX];
	size_t n_sources;
	ac_claim_header claim_headers[AC_CLAIM_HEADERS_MAX];
	size_t n_claim_headers;
	ac_role_claim role_claims[AC_ROLE_CLAIMS_MAX]; /* jwt.role_claims */
	size_t n_role_claims;
	ac_jwt_checks checks;
	size_t jwt_cache_entries;       /* jwt.cache: 0 off */
	uint8_t jwt_keyset[32];         /* digest of keys[0..n_keys): the
	                                   cache's entries are bound to it */
	/* keys fetched from a URL ("jwt"."jwks_uri", core/ac_jwks.c): its
	 * uri NULL when off */
	ac_jwks_src jwks_src;
	/* OpenID Connect sign-in ("oidc", core/ac_oidc.c) */
	ac_oidc_provider *oidc;
	size_t n_oidc;
	int password_login;             /* login.password: the form is served */
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
	int api_key_bearer;             /* api_keys.bearer: also read from
	                                   Authorization: Bearer */
	int64_t session_ttl;            /* sessions.ttl, seconds */
	/* users and the login flow ("users", "login", "passwords") */
	ac_user *users;
	size_t n_users;
	int login;                      /* login endpoints served */
	ac_str prefix;                  /* mount prefix: "" or "/x" (no
	                                   trailing '/') */
	ac_str title;                   /* login page title */
	ac_str landing;                 /* login.landing: where a login
	                                   without `next` goes; ptr NULL:
	                                   the prefix's root */
	ac_str whoami;                  /* login.whoami: its path; ptr NULL:
	                                   prefix + "/auth/whoami" */
	ac_str login_url;               /* "login_url": where browsers without
	                                   valid credentials are sent (a path
	                                   or an http(s) URL); ptr NULL: the
	                                   built-in page, under the prefix */
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
	/* traffic: "require_https", "cors", "security_headers", "roles",
	 * "resources" */
	int require_https;
	ac_cors_policy cors;
	ac_sec_policy sec;
	ac_role_def *role_defs;
	size_t n_role_defs;
	ac_resource *resources;
	size_t n_resources;
	/* rate limits ("rate_limits"): the default, if any, last */
	ac_rate_limit *rate_limits;
	size_t n_rate_limits;
	uint32_t rl_groups;             /* store groups (of 8 buckets) */
	int rl_headers;                 /* RateLimit headers on allowed
	                                   answers too */
	int rl_fail_open;               /* on_store_error "allow" */
	/* connection caps ("rate_limits.connections", core/ac_conn.c): their
	 * counters live in groups rl_groups .. rl_groups + conn_groups - 1 */
	ac_assert_cfg assert_id;        /* "upstream_identity" */
	ac_rate_limit *conn_caps;
	size_t n_conn_caps;
	uint32_t conn_groups;
	/* session revocation ("sessions"."revocation", core/ac_revoke.c): its
	 * groups follow the caps' (0: off) */
	uint32_t rev_groups;
	int rev_fail_open;              /* on_store_error "allow" */
	/* the login throttle in the shared store (core/ac_throttle.c): its
	 * groups follow the revocations' (0: the ac_state keeps it) */
	uint32_t th_groups;
	/* the shared store ("store", core/ac_store_policy.c): entries kept
	 * in Redis for a whole fleet, placed by place_key */
	int store_redis;
	ac_str redis_host;
	uint32_t redis_port;
	ac_str redis_prefix;            /* before every key */
	uint32_t redis_timeout_ms;
	uint32_t redis_pool;            /* connections per worker, at most */
	ac_str redis_password;          /* AUTH; empty: none */
	ac_str redis_gateway;           /* "gateway": http://host[:port] of
	                                   a webdis before it; empty: none */
	ac_str redis_gateway_auth;      /* ... its host[:port] */
	uint8_t place_key[16];          /* from store.secret */
	int rl_fail_local;              /* rate_limits.on_store_error
	                                   "local" (the default with Redis) */
	/* allowed requests audited, per million ("audit.allowed"): 0 none,
	 * 1000000 all; every other answer is always audited */
	uint32_t audit_allowed;
};

#endif
