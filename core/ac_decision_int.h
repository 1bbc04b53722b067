/* The decision's layout: the answer hosts read (ac_answer, first), the
 * storage its slices point into, the scratch of the token and session
 * checks, and the pending password check. Internal: not part of the
 * public API (callers place ac_sizeof_decision() bytes). */
#ifndef AC_DECISION_INT_H
#define AC_DECISION_INT_H

#include "authcore.h"

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

struct ac_decision {
	ac_answer a;             /* what hosts read */
	char audit_buf[AC_AUDIT_MAX]; /* storage for a.audit */
	char buf[8192];          /* storage for header values and pages */
	size_t buf_len;
	char target[AC_TARGET_MAX]; /* storage for a.path */
	char match_buf[AC_TARGET_MAX]; /* storage for a.match */
	ac_jwt_result jwt;       /* scratch for the token check */
	ac_session session;      /* scratch for the session check */
	int page;                /* the answer is one of the core's HTML pages
	                            (security headers even without
	                            "security_headers") */
	ac_str login_user;       /* the user a login or Basic attempt named
	                            (for the audit line), empty if none */
	ac_work work;            /* action AC_PENDING: the password check */
	ac_jwt_cache *jwt_cache; /* ac_decision_use_jwt_cache's, or NULL;
	                            kept across decisions */
};

#endif
