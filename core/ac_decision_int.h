/* The decision's layout: the answer hosts read (ac_answer, first), the
 * storage its slices point into, the scratch of the token and session
 * checks, and the pending password check. Internal: not part of the
 * public API (callers place ac_sizeof_decision() bytes). */
#ifndef AC_DECISION_INT_H
#define AC_DECISION_INT_H

#include "authcore.h"
#include "ac_policy_int.h"

/* Work a pending decision carries: a resumable PBKDF2 verification and
 * what binds its verdict to the request's credentials. */
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

/* The verdict of a finished password check, handed back to the decision. */
typedef struct {
	uint8_t tag[32];
	int kind;
	int match;
	int64_t began;  /* when the check began (was counted) */
} ac_verdict;

/* A store entry a decision asked for: its key, the bytes and version the
 * host supplied, and the bytes this run computed (the write). */
typedef struct {
	char key[AC_STORE_KEY_MAX];
	size_t key_len;
	int supplied;      /* the host gave it (ac_decide_supply) */
	uint64_t version;  /* as supplied; 0 absent */
	uint8_t value[AC_STORE_VALUE_MAX]; /* as supplied (zero: absent) */
	uint8_t cur[AC_STORE_VALUE_MAX];   /* after this run's buckets */
	int changed;       /* cur differs: written */
	int64_t expires;
} ac_store_ent;

/* The store protocol's part of a decision: kept from begin to the final
 * answer (a run does not clear it; ac_decide_begin does). */
typedef struct {
	ac_store_ent e[AC_STORE_OPS_MAX];
	size_t n;
	ac_store_op reads[AC_STORE_OPS_MAX];
	size_t read_ent[AC_STORE_OPS_MAX]; /* reads[i] is e[read_ent[i]] */
	ac_store_op writes[AC_STORE_OPS_MAX];
	ac_reason failed;  /* AC_STORE_UNAVAILABLE / AC_STORE_CONFLICT when
	                      the host reported one; AC_OK otherwise */
	int missing;       /* finish found a key the host did not supply */
	int has_verdict;   /* a password check finished before the store
	                      reads: its verdict, for the runs after */
	int verdict_spent; /* ... its effects on the state already made */
	ac_verdict v;
	unsigned lost;     /* answers of this request whose writes the host
	                      lost (ac_decide_store_lost) */
	int client_counted; /* the answer that started the password check
	                       carried the client limits' writes: the runs
	                       after it do not count them again */
	int local;          /* the shared store failed: this request's
	                       entries are the host's own (rate_limits.
	                       on_store_error "local") */
	int fell_back;      /* ... and its audit line says so */
} ac_store_io;

/* An OpenID sign-in's callback across its fetches (ac_oidc.c): the token
 * request sent, and the ID token it brought. Kept from begin to the final
 * answer. */
#define AC_OIDC_TOKEN_MAX 8192   /* bytes of an ID token */
#define AC_OIDC_BODY_MAX 2560    /* bytes of a token request */
typedef struct {
	int asked;               /* the token request was made */
	int outcome;             /* 0 none yet, 1 an ID token, -1 refused by
	                            the provider, -2 no answer */
	char body[AC_OIDC_BODY_MAX];
	char token[AC_OIDC_TOKEN_MAX];
	size_t token_len;
} ac_oidc_io;

/* A store step sent as a fetch to the policy's Redis gateway
 * (core/ac_redis_gateway.c): the answer it stands for, and the command,
 * then the reply, in one buffer. */
#define AC_GATEWAY_BODY (3 * AC_REDIS_BUF + AC_REDIS_ARGC_MAX + 8)
                          /* "/", the command encoded, ".raw" */
#define AC_GATEWAY_REPLY_MAX 4096 /* bytes of a reply: 16 reads take
                                     2,597 at most */
typedef struct {
	int on;             /* ac_decision_redis_via_fetch: kept across
	                       decisions */
	int pending;        /* the answer is a store step as a fetch */
	int done;           /* ... its outcome is known */
	int ok;             /* ... a 200 whose body is in buf */
	ac_action action;   /* the answer it stands for */
	int status;
	ac_reason reason;
	int wait;
	size_t n_reads, n_writes;
	size_t len;         /* bytes in buf */
	char buf[AC_GATEWAY_BODY];
} ac_gateway_io;

struct ac_decision {
	ac_answer a;             /* what hosts read */
	char audit_buf[AC_AUDIT_MAX]; /* storage for a.audit */
	char buf[8192];          /* storage for header values and pages */
	size_t buf_len;
	char target[AC_TARGET_MAX]; /* storage for a.path */
	char match_buf[AC_TARGET_MAX]; /* storage for a.match */
	ac_jwt_result jwt;       /* scratch for the token check */
	ac_session session;      /* scratch for the session check */
	/* the token d->session holds, verified for this policy at this
	 * time: a run of the same request again (after store reads or a
	 * fetch) takes it without verifying it again (ac_session_verify_in) */
	const ac_policy *sess_policy; /* NULL: nothing held */
	int64_t sess_now;
	size_t sess_len;
	char sess_tok[AC_SESSION_TOKEN_MAX];
	int page;                /* the answer is one of the core's HTML pages
	                            (security headers even without
	                            "security_headers") */
	ac_str login_user;       /* the user a login or Basic attempt named
	                            (for the audit line), empty if none */
	ac_work work;            /* action AC_PENDING: the password check */
	ac_jwt_cache *jwt_cache; /* ac_decision_use_jwt_cache's, or NULL;
	                            kept across decisions */
	ac_jwks_cache *jwks;     /* ac_decision_use_jwks's, or NULL; kept
	                            across decisions */
	const ac_jwks_src *fetch_src; /* the source a fetch was asked for */
	size_t fetch_slot;       /* ... and its cache slot */
	int64_t jwks_now;        /* the time the cache is used at */
	int fetch_asked;         /* this request asked for the keys (once) */
	int disc_asked;          /* ... for the configuration (once) */
	int fetch_kind;          /* the fetch pending: 'K' keys, 'D' the
	                            configuration, 'T' an OpenID token */
	char fetch_target[AC_JWKS_URI_MAX + 2]; /* storage for
	                            a.fetch.target */
	int fetch_done;          /* ... and its outcome is known */
	int fetch_failed;        /* ... a failure (audited) */
	ac_oidc_io oidc;         /* an OpenID sign-in's token (ac_oidc.c) */
	ac_store_io store;       /* the store protocol's entries */
	ac_gateway_io gw;        /* a store step through a Redis gateway */
	int release;             /* 1: a release of `lease` (ac_release_begin);
	                            2: a revocation of `op_user`
	                            (ac_revoke_begin); not a request's
	                            decision */
	char op_user[AC_SESSION_USER_MAX];
	size_t op_user_len;
	uint8_t lease[AC_LEASE_MAX]; /* the counters an allowed stream took
	                            (answer.lease), or those to release */
	size_t lease_len;
};

/* core/ac_redis_gateway.c: a store step due for Redis becomes a fetch
 * (gate), its outcome is kept (fetched) and handed to the store protocol
 * (resolve: 1 if d was waiting for it); restore puts back the answer it
 * stood for (an abandoned decision). */
void ac_gateway_gate(const ac_policy *P, ac_decision *d);
int ac_gateway_fetched(ac_decision *d, int status, const void *body,
    size_t len);
int ac_gateway_resolve(const ac_policy *P, ac_state *S,
    const ac_request *req, int64_t now, const uint8_t *entropy,
    size_t entropy_len, ac_decision *d);
void ac_gateway_restore(ac_decision *d);

#endif
