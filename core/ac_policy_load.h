/*
 * The policy loader's shared parts (core/ac_policy_load.c), used by the
 * table in core/ac_policy.c and the section parsers beside the concepts
 * they configure (core/ac_*_policy.c).
 * Not part of the public API.
 *
 * A section parser gets its member's value with L->path already naming it
 * ("$.jwt"), and, for an object section, its members already checked
 * against the section table's list. It validates every value, reports the
 * first fault with ac_pl_bad (path and message, returns -1) and copies
 * what it keeps into the compiled policy with ac_pl_take or the getters
 * below: nothing points into the parse tree once the load returns.
 */
#ifndef AC_POLICY_LOAD_H
#define AC_POLICY_LOAD_H

#include <cjson/cJSON.h>

#include "ac_internal.h"
#include "ac_policy_int.h"

/* One load: the caller's buffer, the compiled policy growing up from the
 * bottom, cJSON's arena growing down from the top, and the JSON path of
 * the value being read. */
typedef struct {
	uint8_t *base;
	size_t lo;  /* next free byte for the compiled policy */
	size_t hi;  /* cJSON's arena grows down from here */
	size_t min_hi;
	ac_policy_error *err;
	const ac_policy_env *env;   /* may be NULL */
	char path[256];
	size_t path_len;
} ac_loader;

/* n bytes (16-aligned) for the compiled policy; NULL if they do not fit. */
void *ac_pl_take(ac_loader *L, size_t n);

/* ---- The JSON path: push a member or an index, pop back to `save`. */
void ac_pl_push_key(ac_loader *L, const char *k, size_t *save);
void ac_pl_push_index(ac_loader *L, int idx, size_t *save);
void ac_pl_pop(ac_loader *L, size_t save);
/* The path becomes exactly `path` (checks that name their own place). */
void ac_pl_at(ac_loader *L, const char *path);
/* Reports msg at the current path. Returns -1. */
int ac_pl_bad(ac_loader *L, const char *msg);

/* Refuses a value that is not an object, members not in `allowed`
 * (NULL-terminated) and duplicates. */
int ac_pl_members(ac_loader *L, const cJSON *obj,
    const char *const *allowed);

/* A secret given inline (`name`) or by an environment variable
 * (`name`_env: an AUTHCORE_* variable the host passed), exactly one of
 * them, of min..max bytes, copied into the compiled policy. */
int ac_pl_member_secret(ac_loader *L, const cJSON *obj, const char *name,
    size_t min, size_t max, ac_str *out);
/* ---- Typed getters. The member forms leave *out as it is when the member
 * is absent, and leave the path as it was unless they fail. */
/* A string of min..max bytes, copied into the compiled policy. */
int ac_pl_str(ac_loader *L, const cJSON *v, size_t min, size_t max,
    ac_str *out);
int ac_pl_member_str(ac_loader *L, const cJSON *obj, const char *name,
    size_t min, size_t max, ac_str *out);
/* "methods": a non-empty array of at most AC_METHODS_MAX HTTP method
 * tokens into methods[], their count in *n (absent: both left as they
 * are). */
int ac_pl_member_methods(ac_loader *L, const cJSON *obj, ac_str *methods,
    size_t *n);
/* A whole number in [lo, hi]; msg if not. */
int ac_pl_member_int(ac_loader *L, const cJSON *o, const char *name,
    double lo, double hi, int64_t *out, const char *msg);
int ac_pl_member_bool(ac_loader *L, const cJSON *o, const char *name,
    int *out);
/* One of the strings in `names` (NULL-terminated): *out is its index. */
int ac_pl_member_enum(ac_loader *L, const cJSON *o, const char *name,
    const char *const *names, const char *msg, int *out);
/* An array of at most `cap` strings of 1..max_len bytes, appended to
 * out[*n ..]. */
int ac_pl_str_list(ac_loader *L, const cJSON *arr, ac_str *out, size_t cap,
    size_t max_len, size_t *n);
/* 1 if v is a JSON number that is a whole number in [lo, hi]. */
int ac_pl_whole(const cJSON *v, double lo, double hi);

/* ---- The parts the rules and resources loaders share (and may others) */
/* Room in the compiled policy for the elements of arr, an array of at
 * most `max` elements of `size` bytes each (room for one if it is empty);
 * not_array or too_many at the current path if it is not such an array.
 * NULL once a refusal is reported. */
void *ac_pl_take_list(ac_loader *L, const cJSON *arr, int max, size_t size,
    const char *not_array, const char *too_many);
/* The member `name` that obj must have, with the path pushed to it (pop
 * back to *save once it is read); NULL, with `missing` reported at obj,
 * if it is absent. */
const cJSON *ac_pl_push_required(ac_loader *L, const cJSON *obj,
    const char *name, const char *missing, size_t *save);
/* Names (roles, permissions) of 1..AC_NAME_MAX bytes, at most
 * AC_ROLES_MAX, into room taken for AC_ROLES_MAX: v is an array of at
 * least `min` of them or, if one_ok, one name alone; `msg` if it is
 * neither. *out is the room, *n (0 before) the count. */
int ac_pl_names(ac_loader *L, const cJSON *v, int min, int one_ok,
    const char *msg, ac_str **out, size_t *n);

/* ---- Shared value rules */
/* HTTP token characters (RFC 9110 tchar), for header names and methods. */
int ac_pl_is_token(ac_str s);
/* 1 for a header name hosts and proxies own (host, authorization, cookie,
 * forwarding headers, ...), which no header the policy adds may use. */
int ac_pl_reserved_header(ac_str n);
/* Why a path pattern can never match a canonical path, or NULL. */
const char *ac_pl_pattern_problem(ac_str p);

/* ---- Section parsers, one per top-level member of the policy. `init`
 * functions run whether or not the member is present (defaults, and the
 * memory a later step needs); the others only when it is. */
/* core/ac_request_policy.c */
int ac_pl_request_init(ac_loader *L, ac_policy *P, const cJSON *v);
int ac_pl_request(ac_loader *L, ac_policy *P, const cJSON *v);
int ac_pl_trusted_proxies(ac_loader *L, ac_policy *P, const cJSON *v);
/* core/ac_reply_policy.c */
int ac_pl_realm_init(ac_loader *L, ac_policy *P, const cJSON *v);
int ac_pl_realm(ac_loader *L, ac_policy *P, const cJSON *v);
int ac_pl_identity_headers_init(ac_loader *L, ac_policy *P, const cJSON *v);
int ac_pl_identity_headers(ac_loader *L, ac_policy *P, const cJSON *v);
/* core/ac_jwt_policy.c */
int ac_pl_jwt_init(ac_loader *L, ac_policy *P, const cJSON *v);
int ac_pl_jwt(ac_loader *L, ac_policy *P, const cJSON *v);
/* "jwt"."jwks_uri" and "jwks_fetch" (core/ac_jwks_policy.c), after the
 * section's keys and algorithms. */
int ac_pl_jwks_remote(ac_loader *L, ac_policy *P, const cJSON *jwt,
    const ac_alg *algs, size_t n_algs);
/* A source's defaults and digest (uri set, or NULL), its "jwks_fetch"
 * settings, and discovery from an issuer (uri = its configuration). */
void ac_pl_jwks_src_init(ac_jwks_src *S, const ac_policy *P);
int ac_pl_jwks_fetch(ac_loader *L, ac_jwks_src *S, const cJSON *v);
int ac_pl_discovery(ac_loader *L, ac_jwks_src *S, ac_str issuer);
/* core/ac_oidc_policy.c */
int ac_pl_oidc(ac_loader *L, ac_policy *P, const cJSON *v);
extern const char *const ac_pl_oidc_members[];
/* core/ac_session_policy.c */
int ac_pl_sessions(ac_loader *L, ac_policy *P, const cJSON *v);
/* core/ac_apikey_policy.c */
int ac_pl_api_keys(ac_loader *L, ac_policy *P, const cJSON *v);
/* core/ac_login_policy.c */
int ac_pl_passwords_init(ac_loader *L, ac_policy *P, const cJSON *v);
int ac_pl_passwords(ac_loader *L, ac_policy *P, const cJSON *v);
int ac_pl_users_init(ac_loader *L, ac_policy *P, const cJSON *v);
int ac_pl_users(ac_loader *L, ac_policy *P, const cJSON *v);
int ac_pl_login(ac_loader *L, ac_policy *P, const cJSON *v);
int ac_pl_login_url(ac_loader *L, ac_policy *P, const cJSON *v);
/* After "public": a login_url path is served without credentials. */
int ac_pl_login_url_check(ac_loader *L, const ac_policy *P);
/* The administrator from the environment, after the document loaded. */
int ac_pl_env_admin(ac_loader *L, ac_policy *P, const ac_policy_env *env);
/* core/ac_rules_policy.c */
int ac_pl_public(ac_loader *L, ac_policy *P, const cJSON *v);
int ac_pl_rules(ac_loader *L, ac_policy *P, const cJSON *v);
int ac_pl_default(ac_loader *L, ac_policy *P, const cJSON *v);
/* core/ac_audit_policy.c */
int ac_pl_audit_init(ac_loader *L, ac_policy *P, const cJSON *v);
int ac_pl_audit(ac_loader *L, ac_policy *P, const cJSON *v);

/* core/ac_resource_policy.c */
int ac_pl_roles(ac_loader *L, ac_policy *P, const cJSON *v);
int ac_pl_resources(ac_loader *L, ac_policy *P, const cJSON *v);
/* core/ac_https_policy.c */
int ac_pl_require_https(ac_loader *L, ac_policy *P, const cJSON *v);
int ac_pl_security_headers_init(ac_loader *L, ac_policy *P, const cJSON *v);
int ac_pl_security_headers(ac_loader *L, ac_policy *P, const cJSON *v);
/* core/ac_cors_policy.c */
int ac_pl_cors(ac_loader *L, ac_policy *P, const cJSON *v);
/* core/ac_ratelimit_policy.c */
int ac_pl_rate_limits(ac_loader *L, ac_policy *P, const cJSON *v);
int ac_pl_upstream_identity(ac_loader *L, ac_policy *P, const cJSON *v);
/* core/ac_store_policy.c */
int ac_pl_store(ac_loader *L, ac_policy *P, const cJSON *v);
int ac_pl_store_check(ac_loader *L, const ac_policy *P);

/* Member lists of the object sections (the section table checks them). */
extern const char *const ac_pl_request_members[];
extern const char *const ac_pl_identity_headers_members[];
extern const char *const ac_pl_jwt_members[];
extern const char *const ac_pl_sessions_members[];
extern const char *const ac_pl_api_keys_members[];
extern const char *const ac_pl_passwords_members[];
extern const char *const ac_pl_login_members[];
extern const char *const ac_pl_security_headers_members[];
extern const char *const ac_pl_cors_members[];
extern const char *const ac_pl_rate_limits_members[];
extern const char *const ac_pl_store_members[];
extern const char *const ac_pl_upstream_identity_members[];
extern const char *const ac_pl_audit_members[];

#endif
