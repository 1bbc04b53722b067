/*
 * Shared harness for the libFuzzer targets in tests/fuzz/ (fz.c): the
 * no-heap window, invariant failures, and the checks every decision
 * passes (JSON output, audit line, no header a client or upstream gets
 * can be split in two).
 *
 * Each target is one parser (or the whole decision); every target runs
 * the core under ASan+UBSan with libFuzzer's coverage.
 */
#ifndef FZ_H
#define FZ_H

#include <stddef.h>
#include <stdint.h>

#include <bearssl.h>

#include "ac_decision_int.h"
#include "ac_internal.h"
#include "ac_request_int.h"
#include "ac_state_int.h"
#include "authcore.h"

#define FZ_NOW ((int64_t)1700000000)

/* The target's name in reports ("fuzz_b64"); set by each target. */
extern const char *fz_name;

/* Installs the malloc/free hooks (from LLVMFuzzerInitialize). */
void fz_init(const char *name);
/* Brackets core calls: between them, any heap call by anyone is a
 * failure of the core's no-heap rule, reported at fz_end. */
void fz_begin(void);
void fz_end(const char *what);

/* Reports and aborts (libFuzzer keeps the input as a crash artifact). */
_Noreturn void fz_die(const char *what);
/* Prints bytes: printable ASCII as is, the rest as \xNN. */
void fz_dump(const char *what, const void *p, size_t n);

/* The checks on a decision: JSON within the 16 KiB wasm/acw.c gives it,
 * valid UTF-8 JSON object, audit line present and an object, allow only
 * with 200, a pending decision carries no answer, and no CR, LF or NUL
 * in any header value a client or the upstream gets. */
void fz_check_decision(const ac_decision *d);
/* The checks on the fetch a decision pending on one names: an http(s)
 * URL, a method named, and shareable exactly for a GET with no body and
 * no Authorization (a token POST is never shared between requests). */
void fz_check_fetch(const ac_fetch *f);
/* A fetch's outcome as a host hands it to ac_decide_fetched. */
typedef struct {
	int status;
	const char *ctype; /* NULL: no Content-Type */
	const char *body;
	size_t len;
} fz_reply;
/* What a good provider answers to f: jwks at a URL ending in "keys", its
 * configuration conf at any other. */
fz_reply fz_provider_reply(const ac_fetch *f, const char *jwks,
    const char *conf);
/* The answer to the nth fetch (from 1) of a request, f. */
typedef fz_reply (*fz_answer_fn)(const ac_fetch *f, int nth, const void *arg);
/* Decides r as a host does with a fetching policy: ac_decide_begin, then
 * while it waits for a fetch (and nothing else; at most max of them, each
 * passing fz_check_fetch) the fetch answered by answer(f, nth, arg),
 * ac_decide_fetched and ac_decide_finish, inside the no-heap window; then
 * fz_check_decision. How many fetches go to *fetches and, with rcs (max
 * entries), what ac_decide_fetched returned for each. */
const ac_answer *fz_fetch_run(const ac_policy *P, ac_decision *d,
    ac_jwks_cache *c, const ac_request *r, int64_t now,
    const uint8_t *entropy, size_t entropy_len, int max,
    fz_answer_fn answer, const void *arg, int *fetches, int *rcs);
/* 1 if p[0..n) is one JSON object (RFC 8259; a validator of its own,
 * not the core's scanner). */
int fz_json_object(const char *p, size_t n);
/* 1 if p[0..n) is valid UTF-8 (no surrogates, no overlong forms). */
int fz_utf8(const void *p, size_t n);

/* Splits s at '\n' into at most cap lines (the last takes the rest). */
size_t fz_lines(const char *s, size_t n, ac_str *out, size_t cap);

/* header.payload.HMAC(secret), HS256/384/512 as alg says, written to
 * tok[0..cap); returns its length, or 0 when it might not fit. */
size_t fz_mint(char *tok, size_t cap, ac_alg alg, const char *secret,
    const void *hdr, size_t hlen, const void *pl, size_t plen);

void fz_hdr(ac_header *h, const char *name, const char *v, size_t n);

/* A request with the given parts (client 192.0.2.7, no body). */
void fz_request(ac_request *r, const char *method, size_t mlen,
    const char *path, size_t plen, const ac_header *h, size_t nh);

/* An exact-size heap copy of p[0..n), so ASan sees a read past its end
 * (the core's input buffers are the caller's). Call outside the no-heap
 * window; free with fz_free. */
char *fz_copy(const void *p, size_t n);
/* An exact-size heap buffer of n bytes (contents undefined). */
char *fz_alloc(size_t n);
void fz_free(char *p);

/* A P-256 key from a fixed seed, its public JWKS (one key, kid "k") in
 * jwks; and header.payload.signature (ES256) of two JSON texts with it,
 * into tok (NUL-terminated; its length). For targets whose fetched keys
 * are public. */
typedef struct {
	br_ec_private_key sk;
	uint8_t kbuf[BR_EC_KBUF_PRIV_MAX_SIZE];
} fz_es256;
void fz_es256_key(fz_es256 *k, const char *seed, char *jwks, size_t cap);
size_t fz_es256_sign(const fz_es256 *k, const char *hdr, const char *pl,
    char *tok, size_t cap);
#endif
