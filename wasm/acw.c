/*
 * acw - the flat ABI that JavaScript hosts call in the wasm builds.
 *
 * JavaScript cannot place C structs, so this layer owns them: a loaded policy
 * lives in one malloc'd block (the wasm module's own heap, not the core's)
 * together with the context's ac_state (login attempt counters, the Basic
 * credential cache) and its decision. A request crosses the boundary as one
 * byte string of NUL-terminated fields, then an optional body section:
 *
 *   method \0 path \0 client_ip \0 https("0"|"1") \0 (name \0 value \0)*
 *   [ \0 body_len \0 body ]
 *
 * A header name is never empty, so an empty field where a name would start
 * opens the body section. body_len is the body's byte count in decimal, and
 * exactly that many bytes (any bytes, NUL included) end the string; "-"
 * instead of a count says the body was over AC_LOGIN_BODY_MAX (no bytes
 * follow) and the core answers 413 body_too_large. A count over
 * AC_LOGIN_BODY_MAX is taken the same way: never truncated. Without the
 * section the request has no body. Hosts send one only when acw_needs
 * says the core needs it (login posts).
 *
 * The decision comes back as the JSON of ac_decision_json(), or, after
 * acw_set_view(ctx, 1), as a view: words (u32 in wasm32) pointing into
 * the decision and the policy, which JavaScript reads without parsing JSON
 * (layout at view_out below). One call in, one call out: the host reads the
 * request once and applies the answer once.
 *
 * Life of a context: acw_load (policy + environment settings), acw_seed
 * (keys the state; before the first decision), decisions, acw_unload.
 *
 * A password check (login post, Basic credentials) makes the core's decision
 * pending. acw_decide runs the check to its end inside the call, as a CLI
 * would. Hosts that want to keep serving while it runs use the stepped path
 * instead: acw_decision_new, acw_begin, acw_step in slices (yielding between
 * them), acw_resume with the same request (or acw_abandon when the client
 * has gone), acw_decision_free.
 *
 * Calls on one context MUST be serialized (JavaScript's single thread does
 * that); the context's state is shared by every decision made on it, and so
 * is its cache of verified token signatures (jwt.cache; an isolate is one
 * worker).
 *
 * Connection caps (rate_limits.connections) count in the same table: an
 * allowed request a cap covers carries a lease (the JSON's "lease", the
 * view's last string) that the host copies and, when the stream ends for
 * any reason, hands back once to acw_release.
 *
 * Rate limits (the policy's "rate_limits") keep their buckets in a table of
 * the context's own (ac_table, ac_table_size bytes of the module's heap):
 * per context, so per isolate, never shared with another instance. The
 * store protocol (core/authcore_store.h) runs inside these calls: the
 * table's reads are supplied and the decision finished before a call
 * returns, its writes applied with compare-and-set, and a lost write
 * handed back to the core (ac_table_settle). So a host
 * only ever sees a pending decision waiting for a password check, or, under
 * a policy with "jwt"."jwks_uri" (acw_needs says AC_NEEDS_FETCH), for a
 * fetch of the provider's keys: the view's wait is 3 and its fetch names
 * the URL, the byte cap and the timeout; the host fetches, hands the
 * outcome to acw_fetched and resumes. The keys are kept per context (one
 * ac_jwks_cache), so per isolate. The
 * buckets are placed by the state's key: a policy with rate limits needs
 * acw_seed before its first decision, like one with a login.
 *
 * A policy whose store is Redis ("store"."redis", core/authcore_redis.h)
 * keeps those entries there instead, and this layer does no I/O: on the
 * stepped path (acw_begin, acw_resume, acw_release_begin) a decision whose
 * reads or writes are Redis's stops with the view's wait 4 (ACW_WAIT_REDIS,
 * this view's own value, not one of the core's AC_WAIT_*) and the command
 * to send (an argv) at the view's end; the host sends it and hands the
 * reply to acw_redis_reply, which goes on (and may stop on the next
 * command). A request that fell back to the context's own table
 * (rate_limits.on_store_error "local") is settled against it inside the
 * call, as above. acw_decide cannot wait: under such a policy, requests
 * with AC_NEEDS_ENTRIES take the stepped path. acw_policy_redis tells the
 * host where the server is.
 */
#include <stdlib.h>
#include <string.h>

#include "authcore.h"

#if defined(__EMSCRIPTEN__)
#include <emscripten.h>
#define ACW_EXPORT EMSCRIPTEN_KEEPALIVE
#else
#define ACW_EXPORT __attribute__((visibility("default")))
#endif

#define ACW_OUT_MAX 65536 /* decision JSON: every escaped byte of d->buf fits */
#define ACW_VIEW_FIXED 18 /* words before the header lists (view_out) */
#define ACW_WAIT_REDIS 4  /* the view's wait: a command for Redis to send */

/* A word of a view: pointer-wide, so 32 bits in wasm32 (what JavaScript
 * reads as HEAPU32) and 64 bits where the file is compiled natively for a
 * host that loads it as a shared library (hosts/python). */
typedef uintptr_t acw_word;

typedef struct {
	const ac_policy *policy;
	int has_state;     /* 0 until acw_seed: login policies then answer
	                      500 no_state */
	ac_state *state;      /* ac_sizeof_state() bytes */
	ac_decision *decision; /* acw_decide's (ac_sizeof_decision() bytes) */
	ac_jwt_cache *jwt_cache; /* NULL: jwt.cache false (or no memory) */
	ac_jwks_cache *jwks;  /* keys fetched from jwt.jwks_uri; NULL: none */
	ac_table *table;      /* the rate limits' buckets; NULL: none */
	ac_jwt_result jwt;    /* acw_jwt_verify's */
	ac_redis_cmd cmd;     /* the command the last view names */
	uint8_t resp[AC_REDIS_BUF + 24 * (AC_REDIS_ARGC_MAX + 1)];
	                      /* acw_redis_resp's: cmd as RESP */
	ac_str items[2 * AC_STORE_OPS_MAX]; /* acw_redis_reply's */
	ac_header headers[AC_HEADERS_MAX];
	char out[ACW_OUT_MAX];
	size_t out_len;
	int view;             /* acw_set_view: answer with a view, not JSON */
	acw_word words[ACW_VIEW_FIXED + 2 * AC_DECISION_HEADERS_MAX +
	    4 * AC_DECISION_HEADERS_MAX + 5 * AC_DECISION_HEADERS_MAX + 9 +
	    6 + 4 * AC_FETCH_HEADERS_MAX + 2 + 2 * AC_REDIS_ARGC_MAX];
	/* the compiled policy follows */
} acw_ctx;

ACW_EXPORT void *acw_alloc(size_t n)
{
	return malloc(n ? n : 1);
}

ACW_EXPORT void acw_free(void *p)
{
	free(p);
}

/* AC_LOGIN_BODY_MAX, for hosts that cannot read the header. */
ACW_EXPORT size_t acw_body_max(void)
{
	return AC_LOGIN_BODY_MAX;
}

/* Writes a, b and c (b, c may be NULL) to err, NUL-terminated, cut to fit. */
static void set_err(char *err, size_t err_cap, const char *a, const char *b,
    const char *c)
{
	const char *part[3];
	size_t n = 0, i;

	if (err == NULL || err_cap == 0)
		return;
	part[0] = a;
	part[1] = b;
	part[2] = c;
	for (i = 0; i < 3; i++)
		for (a = part[i]; a != NULL && *a && n + 1 < err_cap; a++)
			err[n++] = *a;
	err[n] = 0;
}

static int field_is(ac_str f, const char *name)
{
	size_t n = strlen(name);
	return f.len == n && memcmp(f.ptr, name, n) == 0;
}

/* The settings the core takes from the environment, out of "NAME=value\0"
 * entries. Unknown names are skipped; an empty value is "not set", as an
 * empty environment variable is for the native hosts. Returns 0, or -1 if
 * an entry has no '=' or no NUL. */
#define ACW_ENV_VARS_MAX 64
static int parse_env(const char *s, size_t len, ac_policy_env *env,
    ac_str vars[ACW_ENV_VARS_MAX])
{
	size_t pos = 0;

	memset(env, 0, sizeof *env);
	env->vars = vars;
	while (pos < len) {
		const char *e = memchr(s + pos, 0, len - pos);
		const char *eq;
		ac_str name, value;
		if (e == NULL)
			return -1;
		eq = memchr(s + pos, '=', (size_t)(e - (s + pos)));
		if (eq == NULL)
			return -1;
		name.ptr = s + pos;
		name.len = (size_t)(eq - name.ptr);
		value.ptr = eq + 1;
		value.len = (size_t)(e - value.ptr);
		pos = (size_t)(e - s) + 1;
		if (value.len == 0)
			continue;
		/* every entry, for the policy's *_env members */
		if (env->n_vars < ACW_ENV_VARS_MAX) {
			vars[env->n_vars].ptr = name.ptr;
			vars[env->n_vars++].len = (size_t)(e - name.ptr);
		}
		if (field_is(name, "AUTHCORE_ADMIN_USER"))
			env->admin_user = value;
		else if (field_is(name, "AUTHCORE_ADMIN_PASSWORD_HASH"))
			env->admin_password_hash = value;
	}
	return 0;
}

/* Loads a policy with the settings of an environment. env: "NAME=value\0"
 * entries (the AUTHCORE_ADMIN_USER / AUTHCORE_ADMIN_PASSWORD_HASH
 * bootstrap, and the variables a policy's *_env members name: at most 64
 * entries are read), may be NULL/0, so a caller passing
 * only the first four arguments loads the policy alone. The context has no
 * state until acw_seed keys it (policies with a login answer 500 no_state
 * until then). Returns a context, or NULL with "path: message" written to
 * err (NUL-terminated, truncated to err_cap). */
ACW_EXPORT acw_ctx *acw_load(const char *json, size_t json_len, char *err,
    size_t err_cap, const char *env_s, size_t env_len)
{
	ac_policy_error pe;
	ac_policy_env env;
	ac_str vars[ACW_ENV_VARS_MAX];
	size_t mem_len, used;
	acw_ctx *ctx;

	if (json_len > AC_POLICY_JSON_MAX) {
		set_err(err, err_cap, "$: policy larger than 1 MiB", NULL, NULL);
		return NULL;
	}
	if (parse_env(env_s, env_s == NULL ? 0 : env_len, &env, vars) < 0) {
		set_err(err, err_cap, "$env: malformed environment entries", NULL,
		    NULL);
		return NULL;
	}
	mem_len = ac_policy_mem_bound(json_len);
	ctx = malloc(sizeof *ctx + mem_len);
	if (ctx != NULL) {
		ctx->state = calloc(1, ac_sizeof_state());
		ctx->decision = calloc(1, ac_sizeof_decision());
	}
	if (ctx == NULL || ctx->state == NULL || ctx->decision == NULL) {
		if (ctx != NULL) {
			free(ctx->state);
			free(ctx->decision);
		}
		free(ctx);
		set_err(err, err_cap, "$: out of memory", NULL, NULL);
		return NULL;
	}
	ctx->has_state = 0;
	ctx->view = 0;
	ctx->policy = ac_policy_load_env(ctx + 1, mem_len, json, json_len,
	    &env, &used, &pe);
	if (ctx->policy == NULL) {
		set_err(err, err_cap, pe.path, ": ", pe.message);
		free(ctx->state);
		free(ctx->decision);
		free(ctx);
		return NULL;
	}
	mem_len = ac_sizeof_jwt_cache(ac_policy_jwt_cache_entries(ctx->policy));
	ctx->jwt_cache = ac_jwt_cache_init(mem_len ? malloc(mem_len) : NULL,
	    mem_len, ac_policy_jwt_cache_entries(ctx->policy));
	ac_decision_use_jwt_cache(ctx->decision, ctx->jwt_cache);
	ctx->jwks = NULL;
	if (ac_policy_jwks_uri(ctx->policy).len > 0) {
		void *kmem = malloc(ac_sizeof_jwks_cache());
		ctx->jwks = ac_jwks_cache_init(kmem, ac_sizeof_jwks_cache());
		if (ctx->jwks == NULL) {
			free(kmem);
			free(ctx->jwt_cache);
			free(ctx->state);
			free(ctx->decision);
			free(ctx);
			set_err(err, err_cap, "$.jwt.jwks_uri: ",
			    "no memory for the fetched keys", NULL);
			return NULL;
		}
	}
	mem_len = ac_table_size(ctx->policy);
	ctx->table = NULL;
	if (mem_len > 0) {
		void *tmem = malloc(mem_len); /* malloc aligns to 8 at least */
		ctx->table = tmem == NULL ? NULL :
		    ac_table_init(tmem, mem_len, ctx->policy);
		if (ctx->table == NULL) {
			free(tmem);
			free(ctx->jwks);
			free(ctx->jwt_cache);
			free(ctx->state);
			free(ctx->decision);
			free(ctx);
			set_err(err, err_cap, "$.rate_limits.store: ",
			    "no memory for the table (32 bytes a key; a wasm",
			    " instance holds at most 2 GiB)");
			return NULL;
		}
	}
	return ctx;
}

/* The loaded policy's warnings (ac_policy_warnings: what it cannot do as
 * written) as "path: message" lines, each ended by '\n', into out
 * (NUL-terminated, truncated to out_cap). Returns how many there are. */
ACW_EXPORT size_t acw_warnings(const acw_ctx *ctx, char *out, size_t out_cap)
{
	ac_policy_warning w[8];
	size_t n = ac_policy_warnings(ctx->policy, w, 8), i, len = 0;

	if (out == NULL || out_cap == 0)
		return n;
	out[0] = 0;
	for (i = 0; i < n && i < 8; i++) {
		w[i].path[sizeof(w[i].path) - 1] = 0;
		w[i].message[sizeof(w[i].message) - 1] = 0;
		set_err(out + len, out_cap - len, w[i].path, ": ",
		    w[i].message);
		len += strlen(out + len);
		set_err(out + len, out_cap - len, "\n", NULL, NULL);
		len += strlen(out + len);
	}
	return n;
}

/* Clears the context's state (login attempt counters, verified Basic
 * credentials; the key that places rate-limit buckets) and keys it with
 * AC_STATE_SECRET_LEN (32) bytes from a CSPRNG. Separate from acw_load
 * because some runtimes (Workers) give randomness only while a request is
 * handled. Returns 0, or -1 if the entropy is short (the context then has
 * no state). */
ACW_EXPORT int acw_seed(acw_ctx *ctx, const uint8_t *entropy,
    size_t entropy_len)
{
	ctx->has_state = entropy != NULL &&
	    ac_state_init(ctx->state, entropy, entropy_len) == 0;
	return ctx->has_state ? 0 : -1;
}

ACW_EXPORT void acw_unload(acw_ctx *ctx)
{
	if (ctx != NULL) {
		ac_wipe(ctx->state, ac_sizeof_state());
		ac_wipe(ctx->decision, ac_sizeof_decision());
		free(ctx->state);
		free(ctx->decision);
		free(ctx->jwt_cache);
		free(ctx->jwks);
		free(ctx->table);
	}
	free(ctx);
}

static int next_field(const char *s, size_t len, size_t *pos, ac_str *out)
{
	const char *e;

	if (*pos >= len)
		return 0;
	e = memchr(s + *pos, 0, len - *pos);
	if (e == NULL)
		return 0;
	out->ptr = s + *pos;
	out->len = (size_t)(e - out->ptr);
	*pos = (size_t)(e - s) + 1;
	return 1;
}

/* Parses the request bytes (format above) into r, with headers in
 * ctx->headers. Returns 0, or -1 if the bytes are malformed. */
static int parse_request(acw_ctx *ctx, const char *req, size_t req_len,
    ac_request *r)
{
	ac_str https, name, value, blen;
	size_t pos = 0, n = 0, i, count = 0;

	memset(r, 0, sizeof *r);
	if (!next_field(req, req_len, &pos, &r->method) ||
	    !next_field(req, req_len, &pos, &r->path) ||
	    !next_field(req, req_len, &pos, &r->client_ip) ||
	    !next_field(req, req_len, &pos, &https))
		return -1;
	r->https = https.len == 1 && https.ptr[0] == '1';
	while (pos < req_len) {
		if (!next_field(req, req_len, &pos, &name))
			return -1;
		if (name.len == 0)
			break; /* the body section */
		if (!next_field(req, req_len, &pos, &value))
			return -1;
		if (n < AC_HEADERS_MAX) {
			ctx->headers[n].name = name;
			ctx->headers[n].value = value;
			n++;
		} else {
			r->too_many_headers = 1; /* decided as such, never cut */
		}
	}
	r->headers = ctx->headers;
	r->n_headers = n;
	if (pos >= req_len)
		return 0;
	/* body section: length, NUL, exactly that many bytes */
	if (!next_field(req, req_len, &pos, &blen))
		return -1;
	if (blen.len == 1 && blen.ptr[0] == '-') {
		r->body_too_large = 1;
		return pos == req_len ? 0 : -1;
	}
	if (blen.len == 0 || blen.len > 9)
		return -1;
	for (i = 0; i < blen.len; i++) {
		if (blen.ptr[i] < '0' || blen.ptr[i] > '9')
			return -1;
		count = count * 10 + (size_t)(blen.ptr[i] - '0');
	}
	if (count != req_len - pos)
		return -1;
	if (count > AC_LOGIN_BODY_MAX) {
		r->body_too_large = 1;
	} else {
		r->body.ptr = req + pos;
		r->body.len = count;
	}
	return 0;
}

/* The view: words (acw_word), each string as (pointer, length):
 *   [0] action (0 allow, 1 respond, 2 pending)  [1] status  [2] reason
 *   [3] n_remove  [4] n_add  [5] n_resp_headers
 *   [6,7] body  [8,9] user (pointer 0: none)  [10,11] audit line
 *   [12,13] path to forward  [14] path_rewritten (0|1)
 *   [15,16] client address  [17] https (0|1)
 *   then n_remove x (name), n_add x (name, value), n_resp x (name, value,
 *   mode) with mode an ac_header_mode (0 append, 1 set, 2 set if absent),
 *   then how the caller was identified (auth_method: "jwt", "session",
 *   ...; length 0: not identified), then the lease of an allowed request
 *   a connection cap counts (length 0: none; the host copies the bytes
 *   and hands them to acw_release when the stream ends), then what a
 *   pending decision waits for (answer.wait: 1 a password check, 3 a
 *   fetch) and the fetch (url, max_bytes, timeout_ms; url length 0: none),
 *   then the fetch's method, n_headers, n_headers x (name, value) and
 *   body (length 0: none): the request to send, exactly; then shareable
 *   (0|1: ac_fetch.shareable, identical pending fetches may share one
 *   answer); then the command for Redis: its kind (0 none, AC_REDIS_READS
 *   1: the reply is an array, AC_REDIS_WRITES 2: an integer), argc, argc x
 *   (pointer, length). With a command the wait word is ACW_WAIT_REDIS (4),
 *   whatever the action: a final answer whose writes go to Redis is not
 *   final until they are stored (acw_redis_reply). Each part is appended
 *   after the last, so readers of the words before it are unchanged.
 * Words are acw_word: u32 in wasm32, 64 bits in a native build.
 * Names point into the policy or static storage (stable for the context's
 * life); path and client may point into the request bytes (valid until the
 * host writes its next request); everything else into the decision (valid
 * until the next call). */
static const char *view_out(acw_ctx *ctx, const ac_answer *d,
    const ac_redis_cmd *cmd, size_t *out_len)
{
	acw_word *w = ctx->words;
	size_t k = ACW_VIEW_FIXED, i, wait_at;

#define ACW_PUT(s) (w[k++] = (acw_word)(uintptr_t)(s).ptr, \
	w[k++] = (acw_word)(s).len)
	w[0] = (acw_word)d->action;
	w[1] = (acw_word)d->status;
	w[2] = (acw_word)d->reason;
	w[3] = (acw_word)d->n_remove;
	w[4] = (acw_word)d->n_add;
	w[5] = (acw_word)d->n_resp_headers;
	w[6] = (acw_word)(uintptr_t)d->body.ptr;
	w[7] = (acw_word)d->body.len;
	w[8] = (acw_word)(uintptr_t)d->user.ptr;
	w[9] = (acw_word)d->user.len;
	w[10] = (acw_word)(uintptr_t)d->audit;
	w[11] = (acw_word)d->audit_len;
	w[12] = (acw_word)(uintptr_t)d->path.ptr;
	w[13] = (acw_word)d->path.len;
	w[14] = d->path_rewritten != 0;
	w[15] = (acw_word)(uintptr_t)d->client.ptr;
	w[16] = (acw_word)d->client.len;
	w[17] = d->https != 0;
	for (i = 0; i < d->n_remove; i++)
		ACW_PUT(d->remove[i]);
	for (i = 0; i < d->n_add; i++) {
		ACW_PUT(d->add[i].name);
		ACW_PUT(d->add[i].value);
	}
	for (i = 0; i < d->n_resp_headers; i++) {
		ACW_PUT(d->resp_headers[i].name);
		ACW_PUT(d->resp_headers[i].value);
		w[k++] = d->resp_modes[i];
	}
	ACW_PUT(d->auth_method);
	w[k++] = (acw_word)(uintptr_t)d->lease;
	w[k++] = (acw_word)d->lease_len;
	wait_at = k;
	w[k++] = (acw_word)d->wait;
	ACW_PUT(d->fetch.url);
	w[k++] = (acw_word)d->fetch.max_bytes;
	w[k++] = (acw_word)d->fetch.timeout_ms;
	ACW_PUT(d->fetch.method);
	w[k++] = (acw_word)d->fetch.n_headers;
	for (i = 0; i < d->fetch.n_headers; i++) {
		ACW_PUT(d->fetch.headers[i].name);
		ACW_PUT(d->fetch.headers[i].value);
	}
	ACW_PUT(d->fetch.body);
	w[k++] = d->fetch.shareable != 0;
	if (cmd != NULL) {
		w[wait_at] = ACW_WAIT_REDIS;
		w[k++] = (acw_word)cmd->kind;
		w[k++] = (acw_word)cmd->argc;
		for (i = 0; i < cmd->argc; i++)
			ACW_PUT(cmd->argv[i]);
	} else {
		w[k++] = 0;
		w[k++] = 0;
	}
#undef ACW_PUT
	*out_len = k * sizeof w[0];
	return (const char *)w;
}

/* Answers with views (1) or JSON (0, the default) from now on. */
ACW_EXPORT void acw_set_view(acw_ctx *ctx, int on)
{
	ctx->view = on != 0;
}

/* Stable name of a reason code (a NUL-terminated static string). */
ACW_EXPORT const char *acw_reason_name(int r)
{
	return ac_reason_name((ac_reason)r);
}

static const char *json_out(acw_ctx *ctx, const ac_decision *d,
    size_t *out_len)
{
	if (ctx->view)
		return view_out(ctx, ac_decision_answer(d),
		    ac_redis_command(ctx->policy, d, &ctx->cmd) ? &ctx->cmd : NULL,
		    out_len);
	ctx->out_len = ac_decision_json(d, ctx->out, sizeof ctx->out);
	*out_len = ctx->out_len;
	return ctx->out_len ? ctx->out : NULL;
}

static ac_state *state_of(acw_ctx *ctx)
{
	return ctx->has_state ? ctx->state : NULL;
}

/* The AC_NEEDS_* bits of one request (format above; its body section
 * may be absent): AC_NEEDS_BODY (1), the host reads the body, at most
 * acw_body_max() bytes, and sends it in the body section, else it must
 * not read it; any bit of AC_NEEDS_STATE (2 | 4 | 8 | 16: the throttle,
 * client budget, pending and credentials entries), the decision touches
 * the context's state (login posts, Basic credentials), the only requests
 * that can go pending; AC_NEEDS_TLS (32), the scheme is read;
 * AC_NEEDS_ENTRIES (64), the policy's rate limits may apply (the table's
 * reads and writes run inside the decision call, but they need the
 * state's key: acw_seed first); and the view's own ACW_NEEDS_WAIT (256)
 * when ac_needs_wait says the decision may wait on the host (a password
 * check, a fetch, a Redis step): it goes on the stepped path (acw_begin),
 * never acw_decide. Returns -1 if the bytes are malformed. */
#define ACW_NEEDS_WAIT 256u
ACW_EXPORT int acw_needs(acw_ctx *ctx, const char *req, size_t req_len)
{
	ac_request r;
	unsigned n;

	if (parse_request(ctx, req, req_len, &r) < 0)
		return -1;
	n = ac_needs(ctx->policy, &r);
	return (int)(n | (ac_needs_wait(ctx->policy, n) ? ACW_NEEDS_WAIT : 0));
}

/* The state for deciding r: the context's only when the core says the
 * request touches it (a request that does not is decided the same
 * without). */
static ac_state *state_for(acw_ctx *ctx, const ac_request *r)
{
	return (ac_needs(ctx->policy, r) & (AC_NEEDS_STATE | AC_NEEDS_ENTRIES)) ?
	    state_of(ctx) : NULL;
}

/* Decides one request (format above), running a password check to its end
 * inside the call. Returns a pointer to the decision JSON (valid until the
 * next call on this context) and its length in *out_len; NULL if the
 * request bytes are malformed. entropy: >= 16 fresh random bytes. */
ACW_EXPORT const char *acw_decide(acw_ctx *ctx, const char *req,
    size_t req_len, double now, const uint8_t *entropy, size_t entropy_len,
    size_t *out_len)
{
	ac_request r;
	ac_decision *d = ctx->decision;
	ac_state *st;

	*out_len = 0;
	if (parse_request(ctx, req, req_len, &r) < 0)
		return NULL;
	st = state_for(ctx, &r);
	/* a fetch cannot wait inside this call: the host decides requests
	 * that need one (AC_NEEDS_FETCH) on the stepped path; here one is
	 * a failed fetch (503 jwks_unavailable, or the keys held) */
	ac_decision_use_jwks(d, ctx->jwks);
	ac_decide_local(ctx->policy, st, ctx->table, &r, (int64_t)now,
	    entropy, entropy_len, d);
	return json_out(ctx, d, out_len);
}

/* Verifies a token with the policy's JWT keys and claim checks only
 * (ac_policy_verify_jwt_cached, with the context's cache). Returns a view of
 * words (acw_word): [0] reason, [1, 2] user (pointer 0: none), [3] n_roles,
 * [4, 5] the payload JSON, then n_roles x (pointer, length); valid until
 * the next call. */
ACW_EXPORT const acw_word *acw_jwt_verify(acw_ctx *ctx, const char *token,
    size_t token_len, double now)
{
	ac_jwt_result *j = &ctx->jwt;
	acw_word *w = ctx->words;
	size_t i, k = 6;

	/* the reason is also j->reason, which is what is read below */
	w[0] = (acw_word)ac_policy_verify_jwt_cached(ctx->policy,
	    ctx->jwt_cache, token, token_len, (int64_t)now, j);
	w[1] = (acw_word)(uintptr_t)j->user.ptr;
	w[2] = (acw_word)j->user.len;
	w[3] = (acw_word)j->n_roles;
	w[4] = (acw_word)(uintptr_t)j->payload;
	w[5] = j->reason == AC_OK ? (acw_word)j->payload_len : 0;
	for (i = 0; i < j->n_roles; i++) {
		w[k++] = (acw_word)(uintptr_t)j->roles[i].ptr;
		w[k++] = (acw_word)j->roles[i].len;
	}
	return w;
}

/* ---- the stepped path ------------------------------------------------ */

/* A decision of the caller's own, for one request that may go pending
 * (it carries the password check between slices). NULL if out of
 * memory. */
ACW_EXPORT ac_decision *acw_decision_new(void)
{
	return calloc(1, ac_sizeof_decision());
}

/* Wipes the password check a decision may still hold (its key pads are as
 * good as the password), then frees it. */
ACW_EXPORT void acw_decision_free(ac_decision *d)
{
	if (d == NULL)
		return;
	ac_decision_wipe(d);
	free(d);
}

/* As acw_decide, into d, without running a password check: the JSON's
 * "action" is "pending" when one is due (then acw_step, acw_resume). Store
 * reads and writes run inside the call (ac_table_settle), except Redis's:
 * then the view's wait is ACW_WAIT_REDIS (acw_redis_reply). */
ACW_EXPORT const char *acw_begin(acw_ctx *ctx, ac_decision *d,
    const char *req, size_t req_len, double now, const uint8_t *entropy,
    size_t entropy_len, size_t *out_len)
{
	ac_request r;
	ac_state *st;

	*out_len = 0;
	if (parse_request(ctx, req, req_len, &r) < 0)
		return NULL;
	ac_decision_use_jwt_cache(d, ctx->jwt_cache);
	ac_decision_use_jwks(d, ctx->jwks);
	st = state_for(ctx, &r);
	(void)ac_decide_begin(ctx->policy, st, &r, (int64_t)now, entropy,
	    entropy_len, d);
	ac_table_settle(ctx->policy, st, ctx->table, &r, (int64_t)now,
	    entropy, entropy_len, d);
	return json_out(ctx, d, out_len);
}

/* Hands a pending d (waiting for a fetch: the view's wait is 3) the
 * fetch's outcome: status (0: failed, timed out, or the body was over the
 * fetch's max_bytes), the Content-Type value and the whole body. Then
 * acw_resume. Returns 0 if the answer gave the context new keys, -1 if it
 * counted as a failure. */
ACW_EXPORT int acw_fetched(acw_ctx *ctx, ac_decision *d, int status,
    const char *content_type, size_t content_type_len, const uint8_t *body,
    size_t body_len, double now)
{
	(void)ctx;
	return ac_decide_fetched(d, status, content_type, content_type_len,
	    body, body_len, (int64_t)now);
}

/* Runs at most max_iterations PBKDF2 iterations of d's password check;
 * returns how many remain (0: call acw_resume). */
ACW_EXPORT size_t acw_step(ac_decision *d, size_t max_iterations)
{
	return ac_decide_step(d, max_iterations);
}

/* Gives up a pending d whose client went away: frees its in-flight slot
 * in the context's state (login.max_pending counts it until then) and
 * wipes the check. d is then freed with acw_decision_free as usual. */
ACW_EXPORT void acw_abandon(acw_ctx *ctx, ac_decision *d)
{
	ac_decide_abandon(state_of(ctx), d);
}

/* Finishes a pending d for the same request bytes as acw_begin (fresh
 * entropy and now allowed): the final decision's JSON, as acw_decide. It
 * may be "pending" again: a request whose client limits were read first
 * waits for its password check after them (acw_step, acw_resume once
 * more). */
ACW_EXPORT const char *acw_resume(acw_ctx *ctx, ac_decision *d,
    const char *req, size_t req_len, double now, const uint8_t *entropy,
    size_t entropy_len, size_t *out_len)
{
	ac_request r;
	ac_state *st;

	*out_len = 0;
	if (parse_request(ctx, req, req_len, &r) < 0)
		return NULL;
	ac_decision_use_jwt_cache(d, ctx->jwt_cache);
	ac_decision_use_jwks(d, ctx->jwks);
	st = state_for(ctx, &r);
	ac_decide_finish(ctx->policy, st, &r, (int64_t)now, entropy,
	    entropy_len, d);
	ac_table_settle(ctx->policy, st, ctx->table, &r, (int64_t)now,
	    entropy, entropy_len, d);
	return json_out(ctx, d, out_len);
}

/* ---- connection caps -------------------------------------------------- */

/* Releases a lease (lease_len bytes, copied from an allowed answer's
 * lease) when its stream has ended: ac_release_begin on the context's own
 * decision (never a stepped one: those are the caller's) and the store
 * loop against the context's table, inside the call. Returns the final
 * reason code: 0 (ok: the counters are down by one), AC_INVALID_REQUEST's
 * for bytes that are no lease of this policy, store_unavailable or
 * store_conflict when the release failed (a counter then stays high).
 * The host calls it once per lease. Under a policy whose store is Redis it
 * does nothing and returns store_unavailable's code: release there with
 * acw_release_begin. */
ACW_EXPORT int acw_release(acw_ctx *ctx, const uint8_t *lease,
    size_t lease_len, double now)
{
	ac_decision *d = ctx->decision;
	ac_redis_config cfg;

	if (lease == NULL || lease_len == 0 || lease_len > AC_LEASE_MAX)
		return (int)AC_INVALID_REQUEST;
	/* Redis's counters cannot be reached inside a call: a host under
	 * such a policy releases on the stepped path (acw_release_begin) */
	if (ac_policy_redis(ctx->policy, &cfg))
		return (int)AC_STORE_UNAVAILABLE;
	if (ac_release_begin(ctx->policy, lease, lease_len, (int64_t)now, d) ==
	    AC_PENDING)
		ac_table_settle(ctx->policy, state_of(ctx), ctx->table, NULL,
		    (int64_t)now, NULL, 0, d);
	return (int)ac_decision_answer(d)->reason;
}

/* As acw_release, on a decision of the caller's own (acw_decision_new),
 * for hosts whose store may wait (Redis): returns the view of the release's
 * answer, as acw_begin does; its wait is ACW_WAIT_REDIS while a command is
 * due (acw_redis_reply with no request: req_len 0), else it is final: reason
 * ok, invalid_request (bytes that are no lease of this policy),
 * store_unavailable or store_conflict (the release failed). NULL if
 * lease_len is out of range. */
ACW_EXPORT const char *acw_release_begin(acw_ctx *ctx, ac_decision *d,
    const uint8_t *lease, size_t lease_len, double now, size_t *out_len)
{
	*out_len = 0;
	if (lease == NULL || lease_len == 0 || lease_len > AC_LEASE_MAX)
		return NULL;
	if (ac_release_begin(ctx->policy, lease, lease_len, (int64_t)now, d) ==
	    AC_PENDING)
		ac_table_settle(ctx->policy, state_of(ctx), ctx->table, NULL,
		    (int64_t)now, NULL, 0, d);
	return json_out(ctx, d, out_len);
}

/* ---- the shared store on Redis ---------------------------------------- */

/* Where the policy's Redis is, as words (acw_word, valid until the next
 * call): [0] 1 when the policy's store is Redis (else 0 and nothing
 * more), [1, 2] host, [3] port, [4] timeout_ms, [5] pool, [6, 7] password
 * (length 0: none). The strings point into the policy. */
ACW_EXPORT const acw_word *acw_policy_redis(acw_ctx *ctx)
{
	ac_redis_config cfg;
	acw_word *w = ctx->words;

	memset(w, 0, 8 * sizeof w[0]);
	if (!ac_policy_redis(ctx->policy, &cfg))
		return w;
	w[0] = 1;
	w[1] = (acw_word)(uintptr_t)cfg.host.ptr;
	w[2] = (acw_word)cfg.host.len;
	w[3] = (acw_word)cfg.port;
	w[4] = (acw_word)cfg.timeout_ms;
	w[5] = (acw_word)cfg.pool;
	w[6] = (acw_word)(uintptr_t)cfg.password.ptr;
	w[7] = (acw_word)cfg.password.len;
	return w;
}

/* Reads n items packed as (u32 little-endian length, bytes), a nil as the
 * length 0xFFFFFFFF with no bytes, into ctx->items. Returns 0, or -1 if
 * the bytes are not exactly n such items. */
static int unpack_items(acw_ctx *ctx, const uint8_t *p, size_t len,
    size_t n)
{
	size_t pos = 0, i;

	if (n > sizeof ctx->items / sizeof ctx->items[0] ||
	    (n > 0 && p == NULL))
		return -1;
	for (i = 0; i < n; i++) {
		uint32_t l;
		if (len - pos < 4)
			return -1;
		l = (uint32_t)p[pos] | (uint32_t)p[pos + 1] << 8 |
		    (uint32_t)p[pos + 2] << 16 | (uint32_t)p[pos + 3] << 24;
		pos += 4;
		if (l == 0xFFFFFFFFu) {
			ctx->items[i].ptr = NULL;
			ctx->items[i].len = 0;
			continue;
		}
		if (l > len - pos)
			return -1;
		ctx->items[i].ptr = (const char *)p + pos;
		ctx->items[i].len = l;
		pos += l;
	}
	return pos == len ? 0 : -1;
}

/* The request a reply to a Redis command goes on with: the bytes
 * parsed into *r (*rp = r, its state in *st, d given the context's
 * caches), or none for a release (req_len 0: *rp NULL, the context's
 * state). -1: the bytes are malformed. */
static int redis_request(acw_ctx *ctx, ac_decision *d, const char *req,
    size_t req_len, ac_request *r, const ac_request **rp, ac_state **st)
{
	*rp = NULL;
	*st = state_of(ctx);
	if (req_len == 0)
		return 0;
	if (parse_request(ctx, req, req_len, r) < 0)
		return -1;
	*rp = r;
	*st = state_for(ctx, r);
	ac_decision_use_jwt_cache(d, ctx->jwt_cache);
	ac_decision_use_jwks(d, ctx->jwks);
	return 0;
}

/* Hands d the reply to the command its last view named (ACW_WAIT_REDIS),
 * for the same request bytes (req_len 0: a release, acw_release_begin),
 * fresh entropy and now allowed: error 1 when there was no usable reply
 * (refused, lost, timed out, an error reply); else, for reads (kind 1),
 * the reply's n_items strings packed in items (items_len bytes: per item
 * a u32 little-endian length and its bytes, a nil as 0xFFFFFFFF), for
 * writes (kind 2), `applied`, the integer reply. Then the core goes on
 * (ac_redis_reply), a request that fell back to the context's table is
 * settled against it, and the answer comes back as acw_resume's: it may
 * name the next command. NULL if the request bytes are malformed. */
ACW_EXPORT const char *acw_redis_reply(acw_ctx *ctx, ac_decision *d,
    const char *req, size_t req_len, double now, const uint8_t *entropy,
    size_t entropy_len, int error, const uint8_t *items, size_t items_len,
    size_t n_items, double applied, size_t *out_len)
{
	ac_request r;
	const ac_request *rp;
	ac_state *st;
	long long app = -1;

	*out_len = 0;
	if (redis_request(ctx, d, req, req_len, &r, &rp, &st) < 0)
		return NULL;
	if (!error && unpack_items(ctx, items, items_len, n_items) < 0)
		error = 1;
	if (applied >= 0 && applied <= (double)AC_STORE_OPS_MAX)
		app = (long long)applied;
	if (ac_redis_command(ctx->policy, d, &ctx->cmd))
		ac_redis_reply(ctx->policy, st, rp, (int64_t)now, entropy,
		    entropy_len, d, &ctx->cmd, error != 0,
		    n_items > 0 ? ctx->items : NULL, error ? 0 : n_items, app);
	ac_table_settle(ctx->policy, st, ctx->table, rp, (int64_t)now,
	    entropy, entropy_len, d);
	return json_out(ctx, d, out_len);
}

/* ---- Redis over a raw socket (RESP) ------------------------------------ */

/* The RESP bytes of the command d waits for (the one its last view named,
 * ACW_WAIT_REDIS), what a host with a raw TCP socket writes: a pointer
 * valid until the next call on ctx, its length in *out_len; NULL when d
 * waits for no command. */
ACW_EXPORT const uint8_t *acw_redis_resp(acw_ctx *ctx, const ac_decision *d,
    size_t *out_len)
{
	*out_len = 0;
	if (!ac_redis_command(ctx->policy, d, &ctx->cmd))
		return NULL;
	*out_len = ac_redis_encode(&ctx->cmd, ctx->resp, sizeof ctx->resp);
	return *out_len ? ctx->resp : NULL;
}

/* The RESP bytes of the AUTH command a new connection sends first
 * (ac_redis_auth), valid until the next call on ctx, its length in
 * *out_len; NULL when the policy names no password. */
ACW_EXPORT const uint8_t *acw_redis_auth(acw_ctx *ctx, size_t *out_len)
{
	*out_len = 0;
	if (!ac_redis_auth(ctx->policy, &ctx->cmd))
		return NULL;
	*out_len = ac_redis_encode(&ctx->cmd, ctx->resp, sizeof ctx->resp);
	return *out_len ? ctx->resp : NULL;
}

/* As acw_redis_reply, with Redis's reply as the bytes read from the socket
 * so far (len of them, from the first byte after the command was written):
 * ac_redis_reply_resp parses them. *used says what came of it: the bytes
 * the whole reply took (> 0; handed to the core, the answer returned, as
 * acw_redis_reply's), 0 when more bytes are needed (NULL returned and d
 * unchanged: read more and call again), or -1 when they are no reply of
 * the command's shape, an error reply included (handed over as a failed
 * store, the answer returned; the connection's next bytes cannot be
 * trusted: the host closes it). A host that gets no reply in time, or
 * loses the connection, hands over error 1 through acw_redis_reply. NULL
 * with *used -2: the request bytes are malformed, or d waits for no
 * command. */
ACW_EXPORT const char *acw_redis_reply_resp(acw_ctx *ctx, ac_decision *d,
    const char *req, size_t req_len, double now, const uint8_t *entropy,
    size_t entropy_len, const uint8_t *bytes, size_t len, long *used,
    size_t *out_len)
{
	ac_request r;
	const ac_request *rp;
	ac_state *st;
	long n;

	*out_len = 0;
	*used = -2;
	if (redis_request(ctx, d, req, req_len, &r, &rp, &st) < 0)
		return NULL;
	if (!ac_redis_command(ctx->policy, d, &ctx->cmd))
		return NULL;
	n = ac_redis_reply_resp(ctx->policy, st, rp, (int64_t)now, entropy,
	    entropy_len, d, &ctx->cmd, bytes, bytes == NULL ? 0 : len);
	*used = n;
	if (n == 0)
		return NULL;
	ac_table_settle(ctx->policy, st, ctx->table, rp, (int64_t)now,
	    entropy, entropy_len, d);
	return json_out(ctx, d, out_len);
}
