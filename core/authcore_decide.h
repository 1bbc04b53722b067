/*
 * authcore - requests and decisions.
 * Part of the authcore API (core/authcore.h includes every part); the
 * contract at the top of authcore.h holds for every function here.
 *
 * Licensed under the MIT license (see LICENSE).
 */
#ifndef AUTHCORE_DECIDE_H
#define AUTHCORE_DECIDE_H

#include "authcore_base.h"
#include "authcore_jwt.h"
#include "authcore_policy.h"
#include "authcore_state.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ */
/* Requests and decisions (core/ac_decide.c, the top layer)           */
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
/* The connection's scheme (req->https): every request under a policy
 * with "require_https" or an HSTS security header; else the Secure flag
 * of the cookies a login, a logout or a re-signed session sets, and the
 * same-origin checks of cookie credentials and login posts. Without this bit the decision is the same
 * whatever req->https says (but for the answer's `https`, which echoes
 * it), so a host for which reading the scheme costs a call may skip it. */
#define AC_NEEDS_TLS 32u
/* Store entries (rate-limit buckets, core/authcore_store.h): the decision
 * may be pending on store reads and answer with writes; it reads the
 * ac_state's key (never writes the state for them). */
#define AC_NEEDS_ENTRIES 64u
/* The decision may wait for a fetch (a policy with "jwt"."jwks_uri" or
 * "discovery", or "oidc" providers, core/authcore_jwks.h): the host
 * decides it on a decision of its own that can stay pending while it
 * fetches, with its worker's ac_jwks_cache. */
#define AC_NEEDS_FETCH 128u
/* Bits of AC_NEEDS_* for this request (body and headers not needed in req;
 * method, path and headers are read): a login post needs the body and the
 * throttle, budget and pending entries; Basic credentials need those
 * entries and the credentials cache; a login post, a logout or a request
 * carrying a Cookie, under a policy with sessions, a login or a cookie
 * token source, needs the scheme, and so does every request under a
 * policy with require_https or HSTS; any request under a policy with
 * "rate_limits" may need store entries (AC_NEEDS_ENTRIES) and the state's
 * key; any request under a policy with "jwt"."jwks_uri" or "oidc" may
 * wait for a fetch (AC_NEEDS_FETCH), and under "oidc" every request needs
 * the scheme (the sign-in's redirect URI and cookies). A request whose answer has neither an
 * AC_NEEDS_STATE bit nor AC_NEEDS_ENTRIES is decided exactly the same
 * with state NULL. */
unsigned ac_needs(const ac_policy *policy, const ac_request *req);

/* 1 if a request with these ac_needs bits may have to wait on the host
 * under this policy: a password check (AC_NEEDS_STATE), a fetch
 * (AC_NEEDS_FETCH), or a step of the policy's shared store (Redis, under
 * AC_NEEDS_ENTRIES). A host with a one-call path (a decision that never
 * waits) may take it only for a request where this says 0. */
int ac_needs_wait(const ac_policy *policy, unsigned needs);

/* 1 if the core needs this request's body to decide it (a POST to the
 * login endpoint), so the host buffers it, at most AC_LOGIN_BODY_MAX
 * bytes, before calling ac_decide; 0 otherwise (the body is never read). */
int ac_wants_body(const ac_policy *policy, const char *method,
    size_t method_len, const char *path, size_t path_len);

typedef enum {
	AC_ALLOW = 0,     /* continue upstream with header changes; apply
	                     resp_headers (their resp_modes) to its answer */
	AC_RESPOND = 1,   /* answer locally with status/headers/body */
	AC_PENDING = 2    /* waiting, as answer.wait says: a password check
	                     (run ac_decide_step until it returns 0, in
	                     slices, so the host keeps serving), store reads
	                     (core/authcore_store.h) or a fetch
	                     (core/authcore_jwks.h); then ac_decide_finish */
} ac_action;

/* How a response header of the answer meets the upstream's own headers of
 * that name (local answers have none, so every mode adds there): */
typedef enum {
	AC_HDR_APPEND = 0,        /* add it beside them (Set-Cookie, Vary) */
	AC_HDR_SET = 1,           /* replace them: remove every value of the
	                             name (any case), then add this one */
	AC_HDR_SET_IF_ABSENT = 2  /* add it only if the upstream sent none */
} ac_header_mode;
/* What a pending decision waits for (answer.wait). */
#define AC_WAIT_NONE 0
#define AC_WAIT_PASSWORD 1 /* a password check: ac_decide_step */
#define AC_WAIT_STORE 2    /* store reads: answer.reads, ac_decide_supply */
#define AC_WAIT_FETCH 3    /* an HTTP fetch: answer.fetch, ac_decide_fetched
                              (core/authcore_jwks.h) */

/* What a decision pending on a fetch asks for (answer.fetch). The host
 * sends exactly this request: the method, the target, a Host of the
 * authority, these headers and this body (with its Content-Length), and
 * nothing of the client's request. */
#define AC_FETCH_HEADERS_MAX 4
typedef struct {
	ac_str url;          /* absolute http(s) URL */
	ac_str authority;    /* its host[:port] as written (no user
	                        information: refused at load) */
	ac_str target;       /* its path and query, "/" when it has no path:
	                        the request target to send */
	ac_str method;       /* "GET" (keys, a provider's configuration) or
	                        "POST" (an OpenID token request) */
	ac_header headers[AC_FETCH_HEADERS_MAX]; /* to send (Accept always;
	                        a POST's Content-Type and Authorization) */
	size_t n_headers;
	ac_str body;         /* a POST's body; empty for GET */
	size_t max_bytes;    /* a longer body is a failed fetch */
	uint32_t timeout_ms; /* a slower answer is a failed fetch */
	int shareable;       /* 1: a GET with no body and no header of one
	                        user or request (keys, a provider's
	                        configuration): a host may send it once for
	                        every decision waiting on the same fetch (same
	                        url, headers, max_bytes) and hand each the one
	                        answer. 0 (a token POST: one login's code and
	                        the client's credentials): its answer goes to
	                        this decision alone. The core decides; a host
	                        only applies it. */
} ac_fetch;

/* A store entry read or written (core/authcore_store.h). */
typedef struct ac_store_op ac_store_op;

/* A decision: the answer for one request, the scratch deciding it needs
 * (token and session checks, buffers) and, while AC_PENDING, the password
 * check it carries. Opaque: the caller places ac_sizeof_decision() bytes,
 * 8-aligned and zeroed before first use, and reads the answer through
 * ac_decision_answer(). */
typedef struct ac_decision ac_decision;

/* What a host reads of a decision. Every slice points into the decision or
 * into static storage (the policy, literals), so hosts copy what they need
 * before reusing the decision. */
typedef struct {
	ac_action action;
	int status;              /* 200 for allow, else the local status */
	ac_reason reason;
	/* upstream request: remove these names (every case), then add these */
	ac_str remove[AC_DECISION_HEADERS_MAX];
	size_t n_remove;
	ac_header add[AC_DECISION_HEADERS_MAX];
	size_t n_add;
	/* local response (action == AC_RESPOND); with AC_ALLOW, headers to
	 * apply to the upstream's answer (Set-Cookie of a re-signed session,
	 * security and CORS headers), each as its resp_modes entry (an
	 * ac_header_mode) says, in order. A host applies them in its response
	 * phase to every response of an allowed request, and sends them with
	 * every local one. */
	ac_header resp_headers[AC_DECISION_HEADERS_MAX];
	uint8_t resp_modes[AC_DECISION_HEADERS_MAX];
	size_t n_resp_headers;
	ac_str body;
	ac_str user;             /* identity, when the caller was identified */
	const char *audit;       /* one JSON line, no newline */
	size_t audit_len;        /* 0: no audit line (an allow the policy's
	                            "audit" leaves out; nothing was formatted):
	                            the host logs nothing */
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
	ac_str auth_method;      /* "jwt", "session", "api_key", "password",
	                            "basic"; empty if none */
	int state_written;       /* 1 if deciding wrote to the ac_state: a host
	                            holding a copy of a shared state writes it
	                            back only then */
	/* the store protocol (core/authcore_store.h) */
	int wait;                /* AC_PENDING: AC_WAIT_PASSWORD or
	                            AC_WAIT_STORE; else AC_WAIT_NONE */
	const ac_store_op *reads; /* AC_WAIT_STORE: the keys to read */
	size_t n_reads;
	const ac_store_op *writes; /* final answers: entries to store with
	                            compare-and-set, before applying the
	                            answer */
	size_t n_writes;
	int store_shared;        /* 1: these reads or writes go to the
	                            policy's shared store (core/
	                            authcore_redis.h), 0: the host's own */
	int store_failed;        /* 1: a store failed while deciding (the
	                            shared one, or the host's own) and the
	                            answer is the policy's on_store_error
	                            outcome; its audit line says which. A
	                            host counts final answers with it as
	                            store errors */
	/* AC_ALLOW under a connection cap (core/authcore_store.h): the
	 * counters this stream holds; the host keeps these bytes until the
	 * stream ends, then releases them (ac_release_begin). NULL/0: none */
	const uint8_t *lease;
	size_t lease_len;
	/* AC_WAIT_FETCH: what to fetch (core/authcore_jwks.h) */
	ac_fetch fetch;
} ac_answer;

/* The answer of a decision (valid until the decision is used again). */
const ac_answer *ac_decision_answer(const ac_decision *d);

/* Wipes the password check a pending decision carries (its key pads are
 * as good as the password), for a host that fails the request closed: the
 * check can no longer finish, and its in-flight slot is left to lapse
 * (AC_PENDING_TIMEOUT). The answer is kept. */
void ac_decision_wipe(ac_decision *d);

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
 * serves one request at a time). It has no store: a request the policy's
 * rate_limits cover answers 503 store_unavailable; such callers use
 * ac_decide_local (core/authcore_store.h) with a table. */
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
 *  "remove":[names],"add":{"name":"value"},
 *  "headers":[["name","value"] or ["name","value","set"|"set_if_absent"]],
 *  "body":"...","user":"..."|null,"audit":{...}|null}
 * Returns the length written (no NUL), or 0 if cap is too small. */
size_t ac_decision_json(const ac_decision *d, char *out, size_t cap);

/* Sizes of the decision API's structs, for FFI and wasm callers. */
size_t ac_sizeof_decision(void);
size_t ac_sizeof_request(void);
size_t ac_sizeof_header(void);

#ifdef __cplusplus
}
#endif
#endif
