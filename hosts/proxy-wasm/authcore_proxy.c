/*
 * authcore_proxy - proxy-wasm (ABI 0.2.1) host shim for authcore, in plain C.
 *
 * There is no C SDK for proxy-wasm, so this file implements the ABI directly:
 * it exports the callbacks the host calls and imports the host functions it
 * needs from module "env". It owns only glue:
 *  - memory the host demands: every buffer the host hands back is written
 *    into our linear memory through the exported malloc /
 *    proxy_on_memory_allocate (wasi-libc's allocator); we free each one after
 *    use. The core itself never allocates.
 *  - configuration: the plugin configuration is the JSON policy, compiled
 *    once per root (plugin) context with ac_policy_load_env; the first
 *    administrator may come from the VM's environment
 *    (AUTHCORE_ADMIN_USER, AUTHCORE_ADMIN_PASSWORD_HASH; in Envoy
 *    vm_config.environment_variables).
 *  - state: the ac_state (login attempt counters, verified Basic
 *    credentials) lives in proxy-wasm shared data, which is process-wide
 *    per vm_id, so Envoy's workers (one VM each) share it: the first VM
 *    stores one keyed with 32 random bytes, the others use it. Only a
 *    request ac_needs() marks AC_NEEDS_STATE (login posts, Basic
 *    credentials) touches it: its core call works on a fresh copy and
 *    writes it back with CAS if the call changed it (see "Shared state");
 *    every other request is decided once with no state. A host without
 *    shared data gets one state per VM.
 *  - verified token signatures: each root context keeps an ac_jwt_cache
 *    beside its policy (a VM is one worker), sized by jwt.cache, new and
 *    empty with each policy, handed to every core call.
 *  - one request in, one decision out: all request headers come from one
 *    host call, the peer address from `source.address` and the TLS state
 *    from the connection (`connection.tls_version`, present only on TLS;
 *    read only when ac_needs() says AC_NEEDS_TLS), never from a header; a login post's body is buffered first (at most
 *    AC_LOGIN_BODY_MAX bytes, only when ac_needs() says AC_NEEDS_BODY);
 *    the answer is applied once, `:path` replaced when the core rewrote
 *    the target.
 *  - pending decisions (a PBKDF2 password check) never block the worker:
 *    the stream is paused and queued on its root context (how many checks
 *    are in flight is the core's to bound: login.max_pending per state,
 *    answered 503 overloaded by the core before any hashing), and
 *    proxy_on_tick, every APX_TICK_MS while the queue is not empty, gives
 *    the oldest check one slice of APX_SLICE_ITERATIONS (round robin);
 *    between ticks Envoy serves other requests. A finished check is
 *    resumed and applied in the stream's context; a stream that ends
 *    while pending gives its slot back (ac_decide_abandon).
 *  - keys from jwt.jwks_uri: each root context keeps an ac_jwks_cache
 *    beside its policy (per worker, empty with each policy); a decision
 *    pending on a fetch pauses its stream while the root context sends
 *    the request the core names (method, target, headers, body) to the
 *    Envoy cluster named as the URL's authority (host[:port] as written)
 *    with proxy_http_call; streams that need the same GET meanwhile join
 *    it and each gets its answer, any other request is a call of its own
 *    (see "Fetches").
 *  - connection caps counted in Redis (through the gateway): a stream's
 *    end hands its lease to the root context, which sends the release's
 *    store steps as calls of its own, after the stream is gone (see
 *    "Releases").
 *  - logging: bad policies at error level, one audit line per decision at
 *    info level, the timing of each password check at debug level.
 *
 * Envoy >= 1.35 needs `allow_on_headers_stop_iteration: true` in the
 * PluginConfig: without it, pausing in on_request_headers stops body
 * callbacks too, so a login post would wait for a body it never sees; the
 * filter answers such a post 500 after APX_BODY_WAIT_NS and logs the fix.
 *
 * Every failure on the request path fails closed (a local 500), never open.
 * Imports: proxy_* from "env" (proxy_get_shared_data and
 * proxy_set_shared_data among them), plus WASI clock_time_get, random_get,
 * environ_sizes_get and environ_get.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <wasi/api.h>

#include "authcore.h"

#define APX_IMPORT(name) \
	__attribute__((import_module("env"), import_name(#name)))
#define APX_EXPORT(name) __attribute__((export_name(#name)))

/* ------------------------------------------------------------------ */
/* ABI 0.2.1 constants (proxy-wasm/spec abi-versions/v0.2.1)            */
/* ------------------------------------------------------------------ */
enum { APX_OK = 0, APX_NOT_FOUND = 1, APX_CAS_MISMATCH = 8 };
enum { APX_LOG_DEBUG = 1, APX_LOG_INFO = 2, APX_LOG_WARN = 3,
       APX_LOG_ERROR = 4 };
/* Header, body and trailer actions share these numbers: for a body, 1 is
 * StopIterationAndBuffer (past Envoy's buffer limit: 413), 2 is
 * StopIterationAndWatermark (past it: flow control, the client slowed)
 * and 3 is StopIterationNoBuffer. */
enum { APX_CONTINUE = 0, APX_PAUSE = 1, APX_WATERMARK = 2, APX_DROP_BODY = 3 };
enum { APX_BUFFER_REQUEST_BODY = 0, APX_BUFFER_HTTP_CALL_RESPONSE_BODY = 4,
       APX_BUFFER_PLUGIN_CONFIGURATION = 7 };
enum { APX_MAP_REQUEST_HEADERS = 0, APX_MAP_RESPONSE_HEADERS = 2,
       APX_MAP_HTTP_CALL_RESPONSE_HEADERS = 6 };
enum { APX_STREAM_REQUEST = 0 };

/* ------------------------------------------------------------------ */
/* Pending password checks: how they share the worker. In Envoy 1.40's  */
/* V8 one PBKDF2-SHA256 iteration takes ~0.77 us on the test machine,   */
/* so a slice of 3072 takes ~2.3 ms: the worker leaves its event loop   */
/* for at most that long, then serves other requests for 1-2 ms until   */
/* the next tick. A 600,000-iteration login takes ~0.8 s; requests      */
/* meanwhile gain ~0-3 ms (tests/hosts/envoy_pending.py prints the      */
/* measured figures). SHA-512 iterations cost about twice as much.      */
/* ------------------------------------------------------------------ */
#define APX_SLICE_ITERATIONS 3072u
#define APX_TICK_MS 1u
/* Login posts waiting for their body's first bytes (each for at most
 * APX_BODY_WAIT_NS): one more is answered 503 overloaded (overloaded()). */
#define APX_WAITING_MAX 64u
#define APX_RETRY_AFTER "1"

/* A login post's body must begin within this long of its headers. */
#define APX_BODY_WAIT_NS 10000000000ull

/* ------------------------------------------------------------------ */
/* Host functions                                                      */
/* ------------------------------------------------------------------ */
APX_IMPORT(proxy_log)
uint32_t proxy_log(uint32_t level, const char *msg, size_t len);
APX_IMPORT(proxy_get_buffer_bytes)
uint32_t proxy_get_buffer_bytes(uint32_t type, size_t start, size_t max,
    uint8_t **ret, size_t *ret_len);
APX_IMPORT(proxy_get_header_map_pairs)
uint32_t proxy_get_header_map_pairs(uint32_t type, uint8_t **ret,
    size_t *ret_len);
APX_IMPORT(proxy_add_header_map_value)
uint32_t proxy_add_header_map_value(uint32_t type, const char *key,
    size_t klen, const char *value, size_t vlen);
APX_IMPORT(proxy_replace_header_map_value)
uint32_t proxy_replace_header_map_value(uint32_t type, const char *key,
    size_t klen, const char *value, size_t vlen);
APX_IMPORT(proxy_remove_header_map_value)
uint32_t proxy_remove_header_map_value(uint32_t type, const char *key,
    size_t klen);
APX_IMPORT(proxy_send_local_response)
uint32_t proxy_send_local_response(uint32_t status, const char *details,
    size_t dlen, const uint8_t *body, size_t blen, const uint8_t *headers,
    size_t hlen, int32_t grpc_status);
APX_IMPORT(proxy_get_property)
uint32_t proxy_get_property(const char *path, size_t plen, uint8_t **ret,
    size_t *ret_len);
APX_IMPORT(proxy_set_tick_period_milliseconds)
uint32_t proxy_set_tick_period_milliseconds(uint32_t ms);
APX_IMPORT(proxy_set_effective_context)
uint32_t proxy_set_effective_context(uint32_t context_id);
APX_IMPORT(proxy_continue_stream)
uint32_t proxy_continue_stream(uint32_t stream_type);
APX_IMPORT(proxy_get_shared_data)
uint32_t proxy_get_shared_data(const char *key, size_t klen, uint8_t **ret,
    size_t *ret_len, uint32_t *cas);
APX_IMPORT(proxy_set_shared_data)
uint32_t proxy_set_shared_data(const char *key, size_t klen,
    const uint8_t *value, size_t vlen, uint32_t cas);
APX_IMPORT(proxy_define_metric)
uint32_t proxy_define_metric(uint32_t type, const char *name, size_t len,
    uint32_t *id);
APX_IMPORT(proxy_increment_metric)
uint32_t proxy_increment_metric(uint32_t id, int64_t offset);
APX_IMPORT(proxy_http_call)
uint32_t proxy_http_call(const char *upstream, size_t ulen,
    const uint8_t *headers, size_t hlen, const uint8_t *body, size_t blen,
    const uint8_t *trailers, size_t tlen, uint32_t timeout_ms,
    uint32_t *token);

/* ------------------------------------------------------------------ */
/* Profiling build (-DAPX_PROFILE; tools/bench/envoy_cost.py --also     */
/* profile=build/bench/authcore-proxy-profile.wasm):                    */
/* counts the host calls this module makes and times the callbacks the  */
/* host makes into it; every APX_PROFILE_EVERY streams one line at      */
/* warning level gives the averages per stream. Never in a release.     */
/* ------------------------------------------------------------------ */
#ifdef APX_PROFILE
#define APX_PROFILE_EVERY 10000u
static uint64_t apx_prof_abi, apx_prof_streams, apx_prof_in;
static uint64_t apx_prof_ns[8], apx_prof_calls[8];
static const char *const apx_prof_names[8] = { "context_create",
    "request_headers", "response_headers", "done", "log", "delete",
    "request_body", "core" };
static uint64_t prof_now(void);
static uint64_t apx_prof_host_ns;
/* a host call, counted and timed (the clock read itself included) */
#define APX_CALL(f, ...) ({ uint64_t prof_h0 = prof_now(); \
	__typeof__(f(__VA_ARGS__)) prof_r = f(__VA_ARGS__); \
	apx_prof_host_ns += prof_now() - prof_h0; apx_prof_abi++; prof_r; })
#define proxy_log(...) APX_CALL(proxy_log, __VA_ARGS__)
#define proxy_get_header_map_pairs(...) \
	APX_CALL(proxy_get_header_map_pairs, __VA_ARGS__)
#define proxy_get_property(...) APX_CALL(proxy_get_property, __VA_ARGS__)
#define proxy_get_buffer_bytes(...) APX_CALL(proxy_get_buffer_bytes, __VA_ARGS__)
#define proxy_send_local_response(...) \
	APX_CALL(proxy_send_local_response, __VA_ARGS__)
#define proxy_remove_header_map_value(...) \
	APX_CALL(proxy_remove_header_map_value, __VA_ARGS__)
#define proxy_get_shared_data(...) APX_CALL(proxy_get_shared_data, __VA_ARGS__)
#define proxy_set_shared_data(...) APX_CALL(proxy_set_shared_data, __VA_ARGS__)
#define proxy_add_header_map_value(...) \
	APX_CALL(proxy_add_header_map_value, __VA_ARGS__)
#define proxy_replace_header_map_value(...) \
	APX_CALL(proxy_replace_header_map_value, __VA_ARGS__)
#define proxy_set_effective_context(...) \
	APX_CALL(proxy_set_effective_context, __VA_ARGS__)
#define proxy_continue_stream(...) APX_CALL(proxy_continue_stream, __VA_ARGS__)
#define proxy_http_call(...) \
	APX_CALL(proxy_http_call, __VA_ARGS__)
#define proxy_set_tick_period_milliseconds(...) \
	APX_CALL(proxy_set_tick_period_milliseconds, __VA_ARGS__)
#define __wasi_clock_time_get(...) APX_CALL(__wasi_clock_time_get, __VA_ARGS__)
#define __wasi_random_get(...) APX_CALL(__wasi_random_get, __VA_ARGS__)
static uint64_t prof_now(void)
{
	__wasi_timestamp_t ns = 0;

	(void)(__wasi_clock_time_get)(__WASI_CLOCKID_MONOTONIC, 1, &ns);
	return ns;
}
#define PROF_BEGIN() uint64_t prof_t0 = prof_now(); apx_prof_in++
#define PROF_END(i) do { apx_prof_ns[i] += prof_now() - prof_t0; \
	apx_prof_calls[i]++; } while (0)
/* the core's own time inside a callback (slot 7), not counted as one */
#define PROF_CORE_BEGIN() uint64_t prof_c0 = prof_now()
#define PROF_CORE_END() do { apx_prof_ns[7] += prof_now() - prof_c0; \
	apx_prof_calls[7]++; } while (0)
/* Every APX_PROFILE_EVERY deleted contexts: host calls and callback
 * time per stream, then the counters start again. */
static void prof_report(uint32_t id)
{
	char line[600];
	size_t n = 0, i;
	int k;

	(void)id;
	if (++apx_prof_streams < APX_PROFILE_EVERY)
		return;
	k = snprintf(line, sizeof(line), "authcore profile: per stream: %.2f "
	    "host calls (%.2f us in them), %.2f callbacks;",
	    (double)apx_prof_abi / (double)apx_prof_streams,
	    (double)apx_prof_host_ns / 1000.0 / (double)apx_prof_streams,
	    (double)apx_prof_in / (double)apx_prof_streams);
	n = k > 0 ? (size_t)k : 0;
	for (i = 0; i < 8 && n < sizeof(line); i++) {
		if (apx_prof_calls[i] == 0)
			continue;
		k = snprintf(line + n, sizeof(line) - n, " %s %.2f us (x%.2f)",
		    apx_prof_names[i], (double)apx_prof_ns[i] / 1000.0 /
		    (double)apx_prof_streams, (double)apx_prof_calls[i] /
		    (double)apx_prof_streams);
		if (k > 0)
			n += (size_t)k;
	}
	if (n > sizeof(line) - 1)
		n = sizeof(line) - 1;
	(proxy_log)(3, line, n);
	apx_prof_streams = apx_prof_abi = apx_prof_in = apx_prof_host_ns = 0;
	memset(apx_prof_ns, 0, sizeof(apx_prof_ns));
	memset(apx_prof_calls, 0, sizeof(apx_prof_calls));
}
#else
#define PROF_BEGIN() do { } while (0)
#define PROF_END(i) do { } while (0)
#define PROF_CORE_BEGIN() do { } while (0)
#define PROF_CORE_END() do { } while (0)
#endif

/* ------------------------------------------------------------------ */
/* Contexts. The host names contexts by number; we keep a small chained */
/* hash table per kind. A VM is single-threaded, so no locking.        */
/* ------------------------------------------------------------------ */

/* Where a stream is. Only APX_S_BODY and APX_S_PENDING keep the request
 * (headers, address, body) the core reads; the others have let it go. */
enum {
	APX_S_HEADERS = 0, /* created, headers not seen yet */
	APX_S_BODY,        /* login post: buffering the body */
	APX_S_PENDING,     /* paused: a password check is under way (queued),
	                      or a fetch is (fetch) */
	APX_S_ALLOWED,     /* sent upstream; add resp_headers to its answer */
	APX_S_ANSWERED     /* answered locally (or failed closed) */
};

/* Large (the decision holds the token scratch), so it lives on the heap for
 * the stream's lifetime rather than on the 1 MiB wasm stack. */
typedef struct apx_stream {
	uint32_t id;
	uint32_t root_id;
	struct apx_stream *next;         /* hash chain */
	struct apx_stream *list_next;    /* the root's waiting list or queue */
	int phase;
	int waiting;                     /* on the root's waiting list */
	struct apx_fetch *fetch;         /* on this fetch's waiting list */
	uint8_t *map, *addr, *body;      /* host buffers the request borrows */
	size_t map_len, addr_len, body_len;
	size_t body_seen;                /* body bytes buffered by the host */
	uint64_t since;                  /* entered APX_S_BODY / APX_S_PENDING */
	/* timing of a pending check, for the debug line */
	uint64_t work_ns, longest_ns;
	uint32_t slices;
	size_t iterations;
	unsigned needs;                  /* ac_needs() of the request */
	unsigned lost;                   /* store writes it lost (the debug
	                                    line; the core counts its own) */
	uint8_t lease[AC_LEASE_MAX];     /* an allowed stream's connection
	                                    caps, released when it ends */
	size_t lease_len;
	ac_request req;
	ac_header headers[AC_HEADERS_MAX];
	ac_decision *decision;  /* ac_sizeof_decision() bytes */
} apx_stream;

/* A FIFO of streams linked through list_next; a stream is on at most one. */
typedef struct {
	apx_stream *head, *tail;
} apx_list;

/* A fetch in flight (see "Fetches"): proxy_http_call's token, and the
 * streams waiting for its answer. req is the request as sent, kept when
 * the core made the fetch shareable, so that a stream needing the very
 * same request joins it; NULL for any other. */
typedef struct apx_fetch {
	struct apx_fetch *next;
	uint32_t token;         /* proxy_http_call's, in its root */
	size_t max;             /* its max_bytes */
	uint64_t since;         /* when it was dispatched (monotonic ns) */
	uint8_t *req;           /* its serialized headers (malloc'd) or NULL */
	size_t req_len;
	apx_list waiting;
} apx_fetch;

/* A stream's connection caps being released in Redis through the gateway
 * after the stream is gone (see "Releases"): the release decision, the
 * root's own, and proxy_http_call's token while its step is in flight. */
typedef struct apx_release {
	struct apx_release *next;
	uint32_t token;         /* proxy_http_call's, in its root */
	uint64_t since;         /* when its step was dispatched */
	ac_decision *d;         /* ac_sizeof_decision() bytes, malloc'd */
} apx_release;

typedef struct apx_root {
	uint32_t id;
	struct apx_root *next;
	void *mem;              /* malloc'd; the compiled policy lives in it */
	const ac_policy *policy;
	ac_jwt_cache *jwt_cache; /* malloc'd with the policy: its verified
	                            signatures (NULL: jwt.cache false) */
	apx_list waiting;       /* login posts whose body has not begun */
	apx_list queue;         /* pending checks (round robin; the core's
	                           login.max_pending bounds them) */
	int ticking;            /* the tick period is set */
	/* keys from jwt.jwks_uri (see "Key fetches") */
	ac_jwks_cache *jwks;    /* malloc'd with the policy when it has a
	                           jwks_uri (NULL: none, or no memory: the core
	                           then answers 503 jwks_unavailable) */
	apx_fetch *fetches;     /* the fetches in flight (malloc'd each) */
	size_t n_fetches;
	/* connection caps counted in Redis through the gateway: a stream's
	 * end releases them from here (see "Releases") */
	int gw_releases;        /* the policy's caps live there */
	apx_release *releases;  /* those whose step is in flight */
	size_t n_releases;      /* releases under way, at most
	                           APX_RELEASES_MAX */
} apx_root;

#define APX_BUCKETS 64u
static apx_root *apx_roots[APX_BUCKETS];
static apx_stream *apx_streams[APX_BUCKETS];

/* Finished streams kept for the next ones (chained through next), their
 * request already wiped: a new stream then costs no allocation and no
 * zeroing of its ~28 KB decision (about 2.7 us of Envoy's time in
 * proxy_on_context_create). */
#define APX_SPARES 16u
static apx_stream *apx_spare;
static unsigned apx_spares;

/* The state (see "Shared state" below). In APX_STATE_SHARED mode the
 * stored copy in proxy-wasm shared data is the state and apx_state is only
 * the working copy of one core call; in APX_STATE_LOCAL mode (a host
 * without shared data) apx_state is this VM's own. Calls are serialized
 * within a VM because it is single-threaded. */
enum { APX_STATE_NONE = 0, APX_STATE_LOCAL, APX_STATE_SHARED };
static ac_state *apx_state; /* ac_sizeof_state() bytes, from VM start */
static int apx_state_mode;

static apx_root *root_find(uint32_t id)
{
	apx_root *r = apx_roots[id % APX_BUCKETS];

	while (r != NULL && r->id != id)
		r = r->next;
	return r;
}

static apx_root *root_get(uint32_t id)
{
	apx_root *r = root_find(id);

	if (r == NULL && (r = calloc(1, sizeof(*r))) != NULL) {
		r->id = id;
		r->next = apx_roots[id % APX_BUCKETS];
		apx_roots[id % APX_BUCKETS] = r;
	}
	return r;
}

static void list_push(apx_list *l, apx_stream *s)
{
	s->list_next = NULL;
	if (l->tail != NULL)
		l->tail->list_next = s;
	else
		l->head = s;
	l->tail = s;
}

static apx_stream *list_pop(apx_list *l)
{
	apx_stream *s = l->head;

	if (s != NULL) {
		l->head = s->list_next;
		if (l->head == NULL)
			l->tail = NULL;
		s->list_next = NULL;
	}
	return s;
}

/* Returns 1 if s was on l (and is no longer), else 0. */
static int list_remove(apx_list *l, apx_stream *s)
{
	apx_stream **pp = &l->head, *prev = NULL;

	for (; *pp != NULL; prev = *pp, pp = &(*pp)->list_next) {
		if (*pp == s) {
			*pp = s->list_next;
			if (l->tail == s)
				l->tail = prev;
			s->list_next = NULL;
			return 1;
		}
	}
	return 0;
}

/* How many streams l holds, counting up to cap. */
static size_t list_count(const apx_list *l, size_t cap)
{
	const apx_stream *s;
	size_t n = 0;

	for (s = l->head; s != NULL && n < cap; s = s->list_next)
		n++;
	return n;
}

/* Takes s off r's queue of pending checks, if it is there. */
static void queue_remove(apx_root *r, apx_stream *s)
{
	(void)list_remove(&r->queue, s);
}

static apx_stream *stream_find(uint32_t id)
{
	apx_stream *s = apx_streams[id % APX_BUCKETS];

	while (s != NULL && s->id != id)
		s = s->next;
	return s;
}

/* ------------------------------------------------------------------ */
/* Small helpers                                                       */
/* ------------------------------------------------------------------ */
static void log_str(uint32_t level, const char *s)
{
	(void)proxy_log(level, s, strlen(s));
}

/* Appends s (n bytes) to out at *pos, truncating at cap. */
static void put(char *out, size_t cap, size_t *pos, const char *s, size_t n)
{
	if (*pos >= cap)
		return;
	if (n > cap - *pos)
		n = cap - *pos;
	memcpy(out + *pos, s, n);
	*pos += n;
}

static int str_eq(ac_str a, const char *lit)
{
	size_t n = strlen(lit);

	return a.len == n && memcmp(a.ptr, lit, n) == 0;
}

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24;
}

static void wr32(uint8_t *p, size_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static void wipe_free(void *p, size_t n)
{
	ac_wipe(p, n);
	free(p);
}

/* Monotonic nanoseconds (0 if the host has no such clock). */
static uint64_t mono_ns(void)
{
	__wasi_timestamp_t ns = 0;

	if (__wasi_clock_time_get(__WASI_CLOCKID_MONOTONIC, 1000, &ns) != 0)
		return 0;
	return ns;
}

/* Unix seconds; -1 if the host has no clock. */
static int64_t unix_now(void)
{
	__wasi_timestamp_t ns = 0;

	if (__wasi_clock_time_get(__WASI_CLOCKID_REALTIME, 1000000000ull,
	    &ns) != 0)
		return -1;
	return (int64_t)(ns / 1000000000ull);
}

/* ------------------------------------------------------------------ */
/* Module exports: ABI marker and memory                               */
/* ------------------------------------------------------------------ */
APX_EXPORT(proxy_abi_version_0_2_1) void proxy_abi_version_0_2_1(void)
{
}

/* The spec's allocator export; `malloc` itself is exported by the linker
 * (build.mk) because Envoy looks that name up first. */
APX_EXPORT(proxy_on_memory_allocate) void *proxy_on_memory_allocate(size_t n)
{
	return malloc(n ? n : 1);
}

/* ------------------------------------------------------------------ */
/* Root context: VM start, policy loading                              */
/* ------------------------------------------------------------------ */
static void bad_policy(const char *path, const char *message)
{
	char line[640];
	size_t n = 0;

	put(line, sizeof(line), &n, "authcore: bad policy: ", 22);
	put(line, sizeof(line), &n, path, strlen(path));
	put(line, sizeof(line), &n, ": ", 2);
	put(line, sizeof(line), &n, message, strlen(message));
	(void)proxy_log(APX_LOG_ERROR, line, n);
}

/* What a loaded policy cannot do as written (ac_policy_warnings): logged
 * at warning level, like `authcore policy check`; the policy still loads. */
static void log_warnings(const ac_policy *policy)
{
	ac_policy_warning w[8];
	size_t n = ac_policy_warnings(policy, w, 8), i, len;
	char line[640];

	for (i = 0; i < n && i < 8; i++) {
		w[i].path[sizeof(w[i].path) - 1] = 0;
		w[i].message[sizeof(w[i].message) - 1] = 0;
		len = 0;
		put(line, sizeof(line), &len, "authcore: policy warning at ", 28);
		put(line, sizeof(line), &len, w[i].path, strlen(w[i].path));
		put(line, sizeof(line), &len, ": ", 2);
		put(line, sizeof(line), &len, w[i].message,
		    strlen(w[i].message));
		(void)proxy_log(APX_LOG_WARN, line, len);
	}
}

static void stream_release_request(apx_stream *s);
static uint32_t fail_closed(const char *why);

/* Answers every pending stream of r with a 500 (its check was begun under
 * a policy that is going away) and empties both lists (a stream waiting
 * for its body looks its root up again when the body comes). */
static void root_fail_pending(apx_root *r, const char *why)
{
	apx_stream *s;
	apx_fetch *f;

	while ((s = list_pop(&r->waiting)) != NULL)
		s->waiting = 0;
	while ((s = list_pop(&r->queue)) != NULL) {
		s->phase = APX_S_ANSWERED;
		if (proxy_set_effective_context(s->id) == APX_OK)
			(void)fail_closed(why);
		ac_decision_wipe(s->decision);
		stream_release_request(s);
	}
	/* the fetches in flight are forgotten: an answer that still comes
	 * finds no fetch of its token and is ignored */
	while ((f = r->fetches) != NULL) {
		r->fetches = f->next;
		while ((s = list_pop(&f->waiting)) != NULL) {
			s->fetch = NULL;
			s->phase = APX_S_ANSWERED;
			if (proxy_set_effective_context(s->id) == APX_OK)
				(void)fail_closed(why);
			ac_decide_abandon(NULL, s->decision);
			stream_release_request(s);
		}
		free(f->req);
		free(f);
	}
	r->n_fetches = 0;
	if (r->ticking && proxy_set_effective_context(r->id) == APX_OK)
		(void)proxy_set_tick_period_milliseconds(0);
	r->ticking = 0;
}

/* Ticks while r has a stream waiting or pending, and only then. Call it in
 * a context of r: the host keys the period by the stream's root. */
static int root_tick_update(apx_root *r)
{
	int want = r->waiting.head != NULL || r->queue.head != NULL;

	if (want == r->ticking)
		return 0;
	if (proxy_set_tick_period_milliseconds(want ? APX_TICK_MS : 0) !=
	    APX_OK)
		return -1;
	r->ticking = want;
	return 0;
}

/* One warning line: a stream's connection caps were not released, and
 * why (its counters stay one too high until their entry expires). */
static void log_not_released(const char *why)
{
	char line[300];
	int n = snprintf(line, sizeof(line), "authcore: a stream's connection "
	    "caps were not released: %s", why);

	if (n > 0)
		(void)proxy_log(APX_LOG_WARN, line, (size_t)n < sizeof(line) ?
		    (size_t)n : sizeof(line) - 1);
}

static void release_free(apx_root *r, apx_release *x)
{
	free(x->d);
	free(x);
	r->n_releases--;
}

/* Forgets r's releases in flight (their policy is going away): an answer
 * that still comes finds no release of its token and is ignored. */
static void root_drop_releases(apx_root *r)
{
	apx_release *x;

	while ((x = r->releases) != NULL) {
		r->releases = x->next;
		log_not_released("the policy was replaced while its release "
		    "was in flight");
		release_free(r, x);
	}
}

static void root_unload(apx_root *r)
{
	root_fail_pending(r, "the policy was replaced during a password check "
	    "or a key fetch");
	root_drop_releases(r);
	r->gw_releases = 0;
	free(r->mem);
	free(r->jwt_cache);
	free(r->jwks);
	r->mem = NULL;
	r->policy = NULL;
	r->jwt_cache = NULL;
	r->jwks = NULL;
}

static void on_context_create_(uint32_t id, uint32_t parent)
{
	apx_stream *s;

	if (parent == 0) {
		if (root_get(id) == NULL)
			log_str(APX_LOG_ERROR, "authcore: out of memory (root)");
		return;
	}
	if ((s = apx_spare) != NULL) {
		/* a finished stream's: its decision holds an earlier
		 * decision, which ac_decide_next takes as it is */
		ac_decision *d = s->decision;

		apx_spare = s->next;
		apx_spares--;
		memset(s, 0, offsetof(apx_stream, headers));
		s->decision = d;
	} else {
		/* A failed allocation is noticed in proxy_on_request_headers,
		 * which then answers 500: the request never passes
		 * unchecked. */
		if ((s = calloc(1, sizeof(*s))) == NULL)
			return;
		if ((s->decision = calloc(1, ac_sizeof_decision())) == NULL) {
			free(s);
			return;
		}
	}
	s->id = id;
	s->root_id = parent;
	s->next = apx_streams[id % APX_BUCKETS];
	apx_streams[id % APX_BUCKETS] = s;
}

APX_EXPORT(proxy_on_context_create)
void proxy_on_context_create(uint32_t id, uint32_t parent)
{
	PROF_BEGIN();

	on_context_create_(id, parent);
	PROF_END(0);
}

/* ------------------------------------------------------------------ */
/* Shared state. Envoy runs one VM per worker thread, and proxy-wasm    */
/* shared data is process-wide per vm_id, so the state (a flat struct,  */
/* no pointers) is stored there whole, under one key, and is the state: */
/* every core call that needs it works on a fresh copy, read with its   */
/* CAS value, and writes the copy back with that value if the call      */
/* changed it. A write that loses to another worker's (CAS mismatch) is */
/* made good by calling again on a fresh copy: the core's calls are     */
/* deterministic for a given state, request, time and entropy. After    */
/* APX_CAS_TRIES conflicts in a row the request fails closed (500).     */
/* A host without shared data gets APX_STATE_LOCAL: one state per VM.   */
/* ------------------------------------------------------------------ */
#define APX_CAS_TRIES 16u
/* The struct's size is part of the key: a build with another layout
 * never reads this one's. */
static char apx_state_key[40];
static size_t apx_state_key_len;

/* 1 if buf holds an ac_state keyed like the one this VM built. */
static int state_valid(const uint8_t *buf, size_t len)
{
	return buf != NULL && len == ac_sizeof_state() &&
	    ac_state_ok((const ac_state *)(const void *)buf);
}

/* At VM start, apx_state is freshly keyed. The first VM to get here
 * stores it; every other VM finds a stored state and uses that (each call
 * reads it, so there is nothing to adopt but the key). Shared data has no
 * atomic create (a set on a missing key succeeds whatever the CAS value),
 * so VMs starting together may each store theirs: the last write wins,
 * and from then on every VM uses it, since every call reads the stored
 * copy. Returns APX_STATE_SHARED, or APX_STATE_LOCAL if the host has no
 * shared data. */
static int state_start(int *stored)
{
	uint8_t *buf;
	size_t len;
	uint32_t cas, st;
	unsigned i;
	int n;

	*stored = 0;
	n = snprintf(apx_state_key, sizeof(apx_state_key),
	    "authcore.ac_state.%zu", ac_sizeof_state());
	if (n <= 0 || (size_t)n >= sizeof(apx_state_key))
		return APX_STATE_LOCAL;
	apx_state_key_len = (size_t)n;
	for (i = 0; i < APX_CAS_TRIES; i++) {
		buf = NULL;
		len = 0;
		cas = 0;
		st = proxy_get_shared_data(apx_state_key, apx_state_key_len,
		    &buf, &len, &cas);
		if (st == APX_OK && state_valid(buf, len)) {
			/* adopt it: decisions that only read its secret (rate
			 * limits place their buckets with it) use this copy */
			memcpy(apx_state, buf, len);
			free(buf);
			return APX_STATE_SHARED;
		}
		free(buf);
		if (st != APX_OK && st != APX_NOT_FOUND)
			return APX_STATE_LOCAL;
		/* missing (or not a state of this build): store ours */
		st = proxy_set_shared_data(apx_state_key, apx_state_key_len,
		    (const uint8_t *)apx_state, ac_sizeof_state(),
		    st == APX_OK ? cas : 0);
		if (st == APX_OK) {
			/* a VM that stored at the same time may have won:
			 * take whichever copy is there now */
			*stored = 1;
			buf = NULL;
			len = 0;
			if (proxy_get_shared_data(apx_state_key,
			    apx_state_key_len, &buf, &len, &cas) == APX_OK &&
			    state_valid(buf, len) &&
			    memcmp(buf, apx_state, len) != 0) {
				memcpy(apx_state, buf, len);
				*stored = 0;
			}
			free(buf);
			return APX_STATE_SHARED;
		}
		if (st != APX_CAS_MISMATCH)
			return APX_STATE_LOCAL;
	}
	/* others keep writing: a state is there; calls check it */
	return APX_STATE_SHARED;
}

/* Called once per root context; the state is set up only the first time,
 * so a new plugin in the same VM keeps the counters. Refusing to start
 * without randomness keeps session ids and the state key unpredictable. */
static void metrics_define(void);

APX_EXPORT(proxy_on_vm_start)
uint32_t proxy_on_vm_start(uint32_t root_id, size_t vm_config_size)
{
	uint8_t seed[AC_STATE_SECRET_LEN];
	char line[200];
	int n, stored;

	(void)root_id;
	(void)vm_config_size;
	if (apx_state_mode != APX_STATE_NONE)
		return 1;
	metrics_define();
	if (apx_state == NULL &&
	    (apx_state = calloc(1, ac_sizeof_state())) == NULL) {
		log_str(APX_LOG_ERROR, "authcore: out of memory (state)");
		return 0;
	}
	if (__wasi_random_get(seed, sizeof(seed)) != 0 ||
	    ac_state_init(apx_state, seed, sizeof(seed)) != 0) {
		ac_wipe(seed, sizeof(seed));
		log_str(APX_LOG_ERROR, "authcore: no randomness from the host "
		    "(WASI random_get): refusing to start");
		return 0;
	}
	ac_wipe(seed, sizeof(seed));
	apx_state_mode = state_start(&stored);
	if (apx_state_mode == APX_STATE_SHARED)
		n = snprintf(line, sizeof(line), "authcore: login state: %s "
		    "in proxy-wasm shared data (%s, %zu bytes), shared by "
		    "every VM with this vm_id", stored ? "stored" : "found",
		    apx_state_key, ac_sizeof_state());
	else
		n = snprintf(line, sizeof(line), "authcore: login state: "
		    "kept per VM (the host has no proxy-wasm shared data)");
	if (n > 0)
		(void)proxy_log(APX_LOG_INFO, line,
		    (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
	n = snprintf(line, sizeof(line), "authcore: password checks run in "
	    "slices of %u iterations, one slice per %u ms tick",
	    APX_SLICE_ITERATIONS, APX_TICK_MS);
	if (n > 0)
		(void)proxy_log(APX_LOG_INFO, line,
		    (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
	return 1;
}

/* The VM's AUTHCORE_* variables: the administrator, and those a policy's
 * *_env members name (at most APX_ENV_VARS of them). On success *buf (free
 * with wipe_free(*buf, *buf_len)) holds the strings env points into.
 * Returns 0, or -1 if the environment cannot be read. */
#define APX_ENV_VARS 64
static ac_str apx_env_vars[APX_ENV_VARS];
static int read_env(ac_policy_env *env, uint8_t **buf, size_t *buf_len)
{
	static const char user[] = "AUTHCORE_ADMIN_USER=";
	static const char hash[] = "AUTHCORE_ADMIN_PASSWORD_HASH=";
	__wasi_size_t count = 0, size = 0, i;
	uint8_t **vars;

	memset(env, 0, sizeof(*env));
	*buf = NULL;
	*buf_len = 0;
	if (__wasi_environ_sizes_get(&count, &size) != 0)
		return -1;
	if (count == 0)
		return 0;
	if (count > 65536u || (vars = calloc(count, sizeof(*vars))) == NULL)
		return -1;
	if ((*buf = calloc(1, (size_t)size + 1)) == NULL) {
		free(vars);
		return -1;
	}
	*buf_len = (size_t)size + 1;
	if (__wasi_environ_get(vars, *buf) != 0) {
		free(vars);
		return -1;
	}
	env->vars = apx_env_vars;
	for (i = 0; i < count; i++) {
		const char *v = (const char *)vars[i];
		size_t len = strlen(v);

		if (len > 9 && memcmp(v, "AUTHCORE_", 9) == 0 &&
		    env->n_vars < APX_ENV_VARS) {
			apx_env_vars[env->n_vars].ptr = v;
			apx_env_vars[env->n_vars++].len = len;
		}
		if (len >= sizeof(user) - 1 &&
		    memcmp(v, user, sizeof(user) - 1) == 0) {
			env->admin_user.ptr = v + sizeof(user) - 1;
			env->admin_user.len = len - (sizeof(user) - 1);
		} else if (len >= sizeof(hash) - 1 &&
		    memcmp(v, hash, sizeof(hash) - 1) == 0) {
			env->admin_password_hash.ptr = v + sizeof(hash) - 1;
			env->admin_password_hash.len = len - (sizeof(hash) - 1);
		}
	}
	free(vars);
	return 0;
}

APX_EXPORT(proxy_on_configure)
uint32_t proxy_on_configure(uint32_t root_id, size_t config_size)
{
	apx_root *r = root_get(root_id);
	uint8_t *json = NULL, *envbuf = NULL;
	size_t json_len = 0, env_len = 0, mem_len, used = 0, cache_len;
	void *mem;
	const ac_policy *policy;
	ac_policy_error err;
	ac_policy_env env;
	ac_redis_config redis;
	uint32_t st;

	if (r == NULL) {
		bad_policy("$", "out of memory");
		return 0;
	}
	if (config_size == 0) {
		bad_policy("$", "the plugin configuration is empty (put the "
		    "JSON policy in configuration as a google.protobuf.StringValue)");
		return 0;
	}
	if (config_size > AC_POLICY_JSON_MAX) {
		bad_policy("$", "policy larger than 1 MiB");
		return 0;
	}
	if (read_env(&env, &envbuf, &env_len) != 0) {
		wipe_free(envbuf, env_len);
		bad_policy("$env", "cannot read the VM's environment");
		return 0;
	}
	st = proxy_get_buffer_bytes(APX_BUFFER_PLUGIN_CONFIGURATION, 0,
	    config_size, &json, &json_len);
	if (st != APX_OK || json == NULL || json_len == 0) {
		free(json);
		wipe_free(envbuf, env_len);
		bad_policy("$", "cannot read the plugin configuration");
		return 0;
	}
	mem_len = ac_policy_mem_bound(json_len + env_len);
	if ((mem = malloc(mem_len)) == NULL) {
		free(json);
		wipe_free(envbuf, env_len);
		bad_policy("$", "out of memory compiling the policy");
		return 0;
	}
	memset(&err, 0, sizeof(err));
	policy = ac_policy_load_env(mem, mem_len, (const char *)json, json_len,
	    &env, &used, &err);
	free(json);
	wipe_free(envbuf, env_len);
	if (policy == NULL) {
		free(mem);
		err.path[sizeof(err.path) - 1] = 0;
		err.message[sizeof(err.message) - 1] = 0;
		bad_policy(err.path[0] ? err.path : "$",
		    err.message[0] ? err.message : "invalid policy");
		/* The previous policy of this root (if any) stays in force:
		 * the host refuses the new configuration. */
		return 0;
	}
	memset(&redis, 0, sizeof(redis));
	if (ac_policy_redis(policy, &redis) && redis.gateway.len == 0) {
		/* proxy-wasm has no Redis call: the store's steps go to a
		 * webdis through the fetch path */
		free(mem);
		bad_policy("$.store.redis", "proxy-wasm has no Redis client: "
		    "name a webdis in front of this Redis as \"gateway\" "
		    "(http://host:port; Envoy reaches it through the cluster "
		    "named as its host:port)");
		return 0;
	}
	/* Reconfigure: pending checks of this root were begun under the old
	 * policy, so root_unload answers them (500) before it goes; no other
	 * stream keeps a pointer into it across callbacks. */
	root_unload(r);
	r->mem = mem;
	r->policy = policy;
	/* connection caps in Redis: released from the root (see "Releases") */
	r->gw_releases = redis.gateway.len > 0 && redis.releases;
	log_warnings(policy);
	/* a new policy starts with an empty cache (the VM is one worker);
	 * without memory for one every token is checked, as with
	 * jwt.cache false */
	cache_len = ac_sizeof_jwt_cache(ac_policy_jwt_cache_entries(policy));
	r->jwt_cache = ac_jwt_cache_init(cache_len ? malloc(cache_len) : NULL,
	    cache_len, ac_policy_jwt_cache_entries(policy));
	/* keys from jwt.jwks_uri: this worker's, empty with each policy;
	 * without memory for them the core answers such tokens 503
	 * jwks_unavailable (closed, never open) */
	if (ac_policy_jwks_uri(policy).len > 0) {
		void *keys = malloc(ac_sizeof_jwks_cache());

		r->jwks = ac_jwks_cache_init(keys, ac_sizeof_jwks_cache());
		if (r->jwks == NULL) {
			free(keys);
			log_str(APX_LOG_ERROR, "authcore: out of memory (the "
			    "jwks_uri key cache): tokens are answered 503 "
			    "jwks_unavailable");
		}
	}
	log_str(APX_LOG_INFO, env.admin_user.ptr != NULL ?
	    "authcore: policy loaded (with the administrator from "
	    "AUTHCORE_ADMIN_USER)" : "authcore: policy loaded");
	return 1;
}

/* ------------------------------------------------------------------ */
/* HTTP context: reading the request                                   */
/* ------------------------------------------------------------------ */

/* Local answer when the shim itself cannot decide: fail closed. */
static uint32_t fail_closed(const char *why)
{
	static const char body[] = "internal error\n";
	static const char details[] = "authcore_internal_error";
	static const uint8_t no_headers[4] = { 0, 0, 0, 0 };
	char line[160];
	size_t n = 0;

	put(line, sizeof(line), &n, "authcore: failing closed: ", 26);
	put(line, sizeof(line), &n, why, strlen(why));
	(void)proxy_log(APX_LOG_ERROR, line, n);
	(void)proxy_send_local_response(500, details, sizeof(details) - 1,
	    (const uint8_t *)body, sizeof(body) - 1, no_headers,
	    sizeof(no_headers), -1);
	return APX_PAUSE;
}

/* Decodes the host's serialized map (u32 count, count x (u32 name_len,
 * u32 value_len), then each name and value NUL-terminated) into req.
 * Slices borrow `buf`. Returns 0, or -1 if the buffer is inconsistent. */
static int parse_headers(const uint8_t *buf, size_t len, ac_request *req,
    ac_header *out)
{
	const uint8_t *sizes, *p, *end = buf + len;
	uint32_t count, i;

	if (len == 0)
		return 0;
	if (len < 4)
		return -1;
	count = rd32(buf);
	if (count > (len - 4) / 8)
		return -1;
	sizes = buf + 4;
	p = sizes + (size_t)count * 8;
	for (i = 0; i < count; i++) {
		size_t nl = rd32(sizes + (size_t)i * 8);
		size_t vl = rd32(sizes + (size_t)i * 8 + 4);
		ac_str name, value;

		if (nl >= (size_t)(end - p) || p[nl] != 0)
			return -1;
		name.ptr = (const char *)p;
		name.len = nl;
		p += nl + 1;
		if (vl >= (size_t)(end - p) || p[vl] != 0)
			return -1;
		value.ptr = (const char *)p;
		value.len = vl;
		p += vl + 1;

		if (str_eq(name, ":authority")) {
			/* HTTP/1 Host arrives as :authority; nginx and workerd
			 * hand it to the core as "host", so this host does too */
			name.ptr = "host";
			name.len = 4;
		} else if (nl > 0 && name.ptr[0] == ':') {
			if (str_eq(name, ":method"))
				req->method = value;
			else if (str_eq(name, ":path"))
				req->path = value;
			/* :scheme is the client's word (HTTP/2) or Envoy's
			 * from X-Forwarded-Proto: the TLS state comes from
			 * the connection (read_request) */
			continue;
		}
		if (req->n_headers == AC_HEADERS_MAX) {
			/* never truncate: the core refuses the request */
			req->too_many_headers = 1;
			continue;
		}
		out[req->n_headers].name = name;
		out[req->n_headers].value = value;
		req->n_headers++;
	}
	return 0;
}

/* The downstream address without its port: "1.2.3.4:5" -> "1.2.3.4",
 * "[::1]:5" -> "::1"; anything else is kept as it is. */
static ac_str strip_port(const char *a, size_t n)
{
	ac_str s = { a, n };
	size_t i, colons = 0, last = 0;

	if (n > 0 && a[0] == '[') {
		for (i = 1; i < n; i++) {
			if (a[i] == ']') {
				s.ptr = a + 1;
				s.len = i - 1;
				return s;
			}
		}
		return s;
	}
	for (i = 0; i < n; i++) {
		if (a[i] == ':') {
			colons++;
			last = i;
		}
	}
	if (colons == 1)
		s.len = last;
	return s;
}

/* 1 if the connection to the host is TLS, 0 if not, -1 if the host
 * cannot say. Envoy's `connection.tls_version` attribute is there only
 * when the downstream connection is TLS (NotFound on plain TCP); a host
 * without the attribute says NotFound too, so it counts as plain HTTP. */
static int read_tls(void)
{
	static const char tls_version[] = "connection\0tls_version";
	uint8_t *v = NULL;
	size_t n = 0;
	uint32_t st = proxy_get_property(tls_version, sizeof(tls_version) - 1,
	    &v, &n);

	free(v);
	if (st == APX_NOT_FOUND)
		return 0;
	if (st != APX_OK)
		return -1;
	return n > 0;
}

/* Reads the request headers and peer address into s->req (the TLS state
 * only when ac_needs asks: see on_request_headers_); the buffers stay with
 * the stream until the decision is final. Returns 0 or -1. */
static int read_request(apx_stream *s)
{
	static const char source_address[] = "source\0address";

	memset(&s->req, 0, sizeof(s->req));
	if (proxy_get_header_map_pairs(APX_MAP_REQUEST_HEADERS, &s->map,
	    &s->map_len) != APX_OK ||
	    parse_headers(s->map, s->map_len, &s->req, s->headers) != 0)
		return -1;
	s->req.headers = s->headers;
	if (proxy_get_property(source_address, sizeof(source_address) - 1,
	    &s->addr, &s->addr_len) == APX_OK && s->addr != NULL)
		s->req.client_ip = strip_port((const char *)s->addr,
		    s->addr_len);
	return 0;
}

/* Wipes and frees what the request borrowed (Basic credentials in the
 * headers, a password in the body). The decision no longer needs them:
 * its slices point into itself or static storage. */
static void stream_release_request(apx_stream *s)
{
	wipe_free(s->map, s->map_len);
	wipe_free(s->addr, s->addr_len);
	wipe_free(s->body, s->body_len);
	s->map = s->addr = s->body = NULL;
	s->map_len = s->addr_len = s->body_len = 0;
	/* the slots past n_headers were never written, or wiped before */
	ac_wipe(s->headers, s->req.n_headers * sizeof(s->headers[0]));
	ac_wipe(&s->req, sizeof(s->req));
}

/* ------------------------------------------------------------------ */
/* HTTP context: applying a decision                                   */
/* ------------------------------------------------------------------ */

/* Serializes the decision's response headers in the host's pair format. */
static uint8_t *serialize_pairs(const ac_header *h, size_t n, size_t *out_len)
{
	size_t i, len = 4 + n * 8;
	uint8_t *buf, *p;

	for (i = 0; i < n; i++)
		len += h[i].name.len + 1 + h[i].value.len + 1;
	if ((buf = malloc(len)) == NULL)
		return NULL;
	wr32(buf, n);
	p = buf + 4 + n * 8;
	for (i = 0; i < n; i++) {
		wr32(buf + 4 + i * 8, h[i].name.len);
		wr32(buf + 8 + i * 8, h[i].value.len);
		memcpy(p, h[i].name.ptr, h[i].name.len);
		p += h[i].name.len;
		*p++ = 0;
		memcpy(p, h[i].value.ptr, h[i].value.len);
		p += h[i].value.len;
		*p++ = 0;
	}
	*out_len = len;
	return buf;
}

/* 1 if a and b are the same header name (any case). */
static int name_eq(ac_str a, ac_str b)
{
	size_t k;

	if (a.len != b.len)
		return 0;
	for (k = 0; k < a.len; k++) {
		unsigned char x = (unsigned char)a.ptr[k];
		unsigned char y = (unsigned char)b.ptr[k];

		if (x >= 'A' && x <= 'Z')
			x = (unsigned char)(x + 32);
		if (y >= 'A' && y <= 'Z')
			y = (unsigned char)(y + 32);
		if (x != y)
			return 0;
	}
	return 1;
}

/* 1 if add[i]'s name is also an earlier add's (any case). */
static int added_before(const ac_answer *d, size_t i)
{
	size_t j;

	for (j = 0; j < i; j++)
		if (name_eq(d->add[j].name, d->add[i].name))
			return 1;
	return 0;
}

/* 1 if the request as read may carry a header called name: it is among
 * the headers read, or they were too many to read them all. The names a
 * decision removes (identity headers a client must not set) are mostly
 * absent, and each removal is a host call. */
static int may_have(const ac_request *req, ac_str name)
{
	size_t i;

	if (req->too_many_headers)
		return 1;
	for (i = 0; i < req->n_headers; i++)
		if (name_eq(req->headers[i].name, name))
			return 1;
	return 0;
}

/* Applies a final decision to the current (effective) stream. An allow:
 * `:path` becomes the decision's path when the core rewrote it, then the
 * names in remove go (every value, any case), then each add is set: the
 * first of a name replaces whatever is left of it (so a removed name,
 * Cookie say, comes back with the core's value only), a later one of the
 * same name is appended. Otherwise one local response carrying every
 * header (two Set-Cookie stay two: the host appends each pair). */
static uint32_t apply(const ac_answer *d, const ac_request *req)
{
	size_t i;
	uint32_t st;

	if (d->action == AC_ALLOW) {
		if (d->path_rewritten) {
			/* the upstream must get the target the core decided
			 * on, never the one it refused to route as sent */
			if (d->path.ptr == NULL || d->path.len == 0 ||
			    d->path.ptr[0] != '/')
				return fail_closed("a rewritten path is empty");
			if (proxy_replace_header_map_value(
			    APX_MAP_REQUEST_HEADERS, ":path", 5, d->path.ptr,
			    d->path.len) != APX_OK)
				return fail_closed("cannot rewrite :path");
		}
		for (i = 0; i < d->n_remove && i < AC_DECISION_HEADERS_MAX;
		    i++) {
			if (!may_have(req, d->remove[i]))
				continue; /* nothing to remove: no host call */
			st = proxy_remove_header_map_value(
			    APX_MAP_REQUEST_HEADERS, d->remove[i].ptr,
			    d->remove[i].len);
			/* a spoofed identity header we cannot strip must
			 * not reach the upstream */
			if (st != APX_OK && st != APX_NOT_FOUND)
				return fail_closed("cannot remove a header");
		}
		for (i = 0; i < d->n_add && i < AC_DECISION_HEADERS_MAX; i++) {
			const ac_header *h = &d->add[i];

			if (added_before(d, i))
				st = proxy_add_header_map_value(
				    APX_MAP_REQUEST_HEADERS, h->name.ptr,
				    h->name.len, h->value.ptr, h->value.len);
			else
				st = proxy_replace_header_map_value(
				    APX_MAP_REQUEST_HEADERS, h->name.ptr,
				    h->name.len, h->value.ptr, h->value.len);
			if (st != APX_OK)
				return fail_closed("cannot set a header");
		}
		return APX_CONTINUE;
	}
	if (d->action != AC_RESPOND)
		return fail_closed("a decision is still pending");
	{
		const char *reason = ac_reason_name(d->reason);
		const char *body = d->body.ptr != NULL ? d->body.ptr : "";
		size_t hlen = 0;
		size_t nh = d->n_resp_headers < AC_DECISION_HEADERS_MAX ?
		    d->n_resp_headers : AC_DECISION_HEADERS_MAX;
		uint8_t *hdrs = serialize_pairs(d->resp_headers, nh, &hlen);

		if (hdrs == NULL)
			return fail_closed("out of memory (response headers)");
		st = proxy_send_local_response((uint32_t)d->status, reason,
		    strlen(reason), (const uint8_t *)body, d->body.len, hdrs,
		    hlen, -1);
		free(hdrs);
		if (st != APX_OK)
			return fail_closed("cannot send the local response");
		return APX_PAUSE;
	}
}

/* Applies s's final decision, logs its audit line and lets the request
 * go. Returns the action for the current callback. */
/* authcore.store_errors, one counter for every VM of the Envoy (the host
 * keeps one per name): final answers decided as the policy's
 * on_store_error says because a store failed. Not counted on a host
 * that defines no metrics. */
#define APX_METRIC_COUNTER 0
static uint32_t apx_store_errors;
static int apx_store_errors_ok;

static void metrics_define(void)
{
	static const char name[] = "authcore.store_errors";

	uint32_t st;

	if (apx_store_errors_ok)
		return;
	st = proxy_define_metric(APX_METRIC_COUNTER, name, sizeof(name) - 1,
	    &apx_store_errors);
	apx_store_errors_ok = st == APX_OK;
}

static void count_store_error(const ac_answer *a)
{
	if (a->store_failed && a->action != AC_PENDING && apx_store_errors_ok)
		(void)proxy_increment_metric(apx_store_errors, 1);
}

static uint32_t conclude(apx_stream *s)
{
	const ac_answer *d = ac_decision_answer(s->decision);
	uint32_t action = apply(d, &s->req);

	count_store_error(d);

	s->phase = action == APX_CONTINUE ? APX_S_ALLOWED : APX_S_ANSWERED;
	if (action == APX_CONTINUE && d->lease_len <= sizeof(s->lease)) {
		memcpy(s->lease, d->lease, d->lease_len);
		s->lease_len = d->lease_len;
	}
	if (d->audit_len > 0 && d->audit_len <= AC_AUDIT_MAX)
		(void)proxy_log(APX_LOG_INFO, d->audit, d->audit_len);
	ac_decision_wipe(s->decision);
	stream_release_request(s);
	return action;
}

/* Fails the stream closed and lets the request go. */
static uint32_t stream_fail(apx_stream *s, const char *why)
{
	s->phase = APX_S_ANSWERED;
	stream_release_request(s);
	return fail_closed(why);
}

/* One debug line with one count in it. */
static void log_debug_count(const char *fmt, size_t count)
{
	char line[120];
	int n = snprintf(line, sizeof(line), fmt, count);

	if (n > 0)
		(void)proxy_log(APX_LOG_DEBUG, line,
		    (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
}

/* One core call for s on the state, shared mode: a call on the state
 * works on a fresh copy; if the decision says it wrote state
 * (state_written), the copy is written back with the CAS value it was read
 * with. On a conflict the call is made
 * again on a new copy, with the same time and entropy. A resume starts
 * each try from a copy of the pending decision taken before the first:
 * the check's PBKDF2 iterations are done already and are neither lost
 * nor run again. Returns NULL, or why the request must fail closed. */
#define APX_OP_DECIDE 0
#define APX_OP_RESUME 1
#define APX_OP_ABANDON 2 /* free a dropped check's slot (r may be NULL) */
#define APX_OP_STORE_ERROR 3    /* ac_decide_store_error */
#define APX_OP_STORE_LOST 4  /* ac_decide_store_lost */
#define APX_OP_RELEASE 5     /* ac_release_begin of s->lease */
static const char *shared_call(apx_stream *s, apx_root *r, int op,
    int64_t now, const uint8_t *entropy, size_t entropy_len)
{
	int resume = op != APX_OP_DECIDE;
	static ac_decision *saved; /* resume: the pending decision */
	uint64_t t0, t1, t2, io_ns = 0, core_ns = 0;
	const char *fail = "the shared login state is missing";
	uint8_t *buf;
	size_t len;
	uint32_t cas, st;
	unsigned i;
	int wrote = 0;

	if (resume && saved == NULL &&
	    (saved = malloc(ac_sizeof_decision())) == NULL)
		return "out of memory";
	if (resume)
		memcpy(saved, s->decision, ac_sizeof_decision());
	for (i = 0; i < APX_CAS_TRIES; i++) {
		buf = NULL;
		len = 0;
		cas = 0;
		t0 = mono_ns();
		st = proxy_get_shared_data(apx_state_key, apx_state_key_len,
		    &buf, &len, &cas);
		if (st != APX_OK || !state_valid(buf, len)) {
			free(buf);
			break;
		}
		memcpy(apx_state, buf, len);
		if (resume && i > 0)
			memcpy(s->decision, saved, ac_sizeof_decision());
		else if (i > 0)
			memset(s->decision, 0, ac_sizeof_decision()); /* afresh */
		t1 = mono_ns();
		if (op == APX_OP_ABANDON)
			ac_decide_abandon(apx_state, s->decision);
		else if (op == APX_OP_STORE_ERROR)
			ac_decide_store_error(r->policy, apx_state, &s->req,
			    now, entropy, entropy_len, s->decision);
		else if (op == APX_OP_STORE_LOST)
			ac_decide_store_lost(r->policy, apx_state, &s->req,
			    now, entropy, entropy_len, s->decision);
		else
			ac_decide_next(r->policy, apx_state, &s->req, now,
			    entropy, entropy_len, s->decision);
		t2 = mono_ns();
		core_ns += t2 - t1;
		if (!ac_decision_answer(s->decision)->state_written) {
			st = APX_OK;
		} else {
			st = proxy_set_shared_data(apx_state_key,
			    apx_state_key_len, (const uint8_t *)apx_state,
			    ac_sizeof_state(), cas);
			wrote = 1;
		}
		free(buf);
		io_ns += (t1 - t0) + (mono_ns() - t2);
		if (st == APX_OK) {
			fail = NULL;
			break;
		}
		if (st != APX_CAS_MISMATCH) {
			fail = "cannot write the shared login state";
			break;
		}
		fail = "the shared login state stayed busy";
	}
	if (resume)
		ac_wipe(saved, ac_sizeof_decision());
	if (fail == NULL) {
		char line[200];
		int n = snprintf(line, sizeof(line), "authcore: shared state: "
		    "%zu bytes read, %s, %u CAS conflicts, %llu us copying "
		    "(core call %llu us)", ac_sizeof_state(),
		    wrote ? "written back" : "unchanged", i,
		    (unsigned long long)(io_ns / 1000u),
		    (unsigned long long)(core_ns / 1000u));

		if (n > 0)
			(void)proxy_log(APX_LOG_DEBUG, line, (size_t)n <
			    sizeof(line) ? (size_t)n : sizeof(line) - 1);
	}
	return fail;
}

/* Entropy for the core calls: one WASI random_get (about 3.5 us in Envoy,
 * a third of what the core spends deciding a public path) fills a pool
 * of APX_ENTROPY_CALLS calls' worth, each handed out once and wiped after
 * its call. */
#define APX_ENTROPY_LEN 32u
#define APX_ENTROPY_CALLS 32u
static uint8_t apx_entropy[APX_ENTROPY_LEN * APX_ENTROPY_CALLS];
static size_t apx_entropy_left; /* bytes not handed out yet */

/* APX_ENTROPY_LEN fresh random bytes (wipe them after use), or NULL if the
 * host has none. */
static uint8_t *entropy_take(void)
{
	if (apx_entropy_left < APX_ENTROPY_LEN) {
		if (__wasi_random_get(apx_entropy, sizeof(apx_entropy)) != 0)
			return NULL;
		apx_entropy_left = sizeof(apx_entropy);
	}
	apx_entropy_left -= APX_ENTROPY_LEN;
	return apx_entropy + apx_entropy_left;
}

/* One core call of kind op (APX_OP_*) for s. A request ac_needs() marks
 * AC_NEEDS_STATE gets the state (the shared one through shared_call); one
 * marked AC_NEEDS_ENTRIES only (rate limits) gets apx_state as it is: the
 * core reads only its secret for them, which in APX_STATE_SHARED mode is
 * the shared state's (adopted at VM start, refreshed by every
 * shared_call). Any other request is decided with NULL, which authcore.h
 * says decides it exactly the same. */
/* VMs that started together may each have stored their own state before
 * reading the other's back (shared data has no atomic create), and a VM
 * whose requests are only rate-limited never makes a shared_call that
 * would refresh its copy: it would place buckets under another secret
 * than the rest. So such requests take the stored copy again at most
 * once a second: one read of the state per worker per second, and VMs
 * agree within a second of the last store. */
static int64_t apx_state_seen;

static void state_refresh(int64_t now)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	uint32_t cas = 0;

	if (apx_state_mode != APX_STATE_SHARED || now == apx_state_seen)
		return;
	apx_state_seen = now;
	if (proxy_get_shared_data(apx_state_key, apx_state_key_len, &buf,
	    &len, &cas) == APX_OK && state_valid(buf, len))
		memcpy(apx_state, buf, len);
	free(buf);
}

static const char *decide_once(apx_stream *s, apx_root *r, int op,
    int64_t now, const uint8_t *e, size_t elen)
{
	ac_state *state = NULL;

	if ((s->needs & AC_NEEDS_STATE) && apx_state_mode == APX_STATE_SHARED)
		return shared_call(s, r, op, now, e, elen);
	if (s->needs & AC_NEEDS_ENTRIES)
		state_refresh(now);
	/* NULL makes the core answer 500 no_state to what needs it
	 * and a host without a state has none to give */
	if (((s->needs & AC_NEEDS_STATE) && apx_state_mode == APX_STATE_LOCAL) ||
	    (s->needs & AC_NEEDS_ENTRIES))
		state = apx_state;
	PROF_CORE_BEGIN();
	if (op == APX_OP_RELEASE)
		(void)ac_release_begin(r->policy, s->lease, s->lease_len, now,
		    s->decision);
	else if (op == APX_OP_STORE_ERROR)
		ac_decide_store_error(r->policy, state, &s->req, now, e, elen,
		    s->decision);
	else if (op == APX_OP_STORE_LOST)
		ac_decide_store_lost(r->policy, state, &s->req, now, e, elen,
		    s->decision);
	else
		ac_decide_next(r->policy, state, &s->req, now, e, elen,
		    s->decision);
	PROF_CORE_END();
	return NULL;
}

/* ------------------------------------------------------------------ */
/* Rate-limit entries (core/authcore_store.h) live in proxy-wasm shared */
/* data, one key per 64-byte group the core names: "authcore.rl." and   */
/* the core's key ("g<index>"). The shared-data CAS value is the entry's */
/* version (nonzero; a missing key is version 0). Each read is one      */
/* proxy_get_shared_data, each write one proxy_set_shared_data with the */
/* version read: a CAS mismatch (another worker wrote the group since)  */
/* goes back to the core (ac_decide_store_lost), which decides again or */
/* answers store_conflict. Shared data has no create-if-                */
/* absent (a set on a missing key, or with CAS 0, is unconditional), so */
/* the first write of a group is not compare-and-set: two workers       */
/* writing a group's first counts at the same instant may lose one of   */
/* them, once per group for the life of the process (shared data has no */
/* delete: a group, once stored, stays, and later writes are CAS).      */
/* ------------------------------------------------------------------ */
#define APX_RL_PREFIX "authcore.rl."

/* The shared-data key of a core key into out; its length, or 0. */
static size_t store_key(char out[sizeof(APX_RL_PREFIX) + AC_STORE_KEY_MAX],
    ac_str key)
{
	size_t p = sizeof(APX_RL_PREFIX) - 1;

	if (key.ptr == NULL || key.len == 0 || key.len > AC_STORE_KEY_MAX)
		return 0;
	memcpy(out, APX_RL_PREFIX, p);
	memcpy(out + p, key.ptr, key.len);
	return p + key.len;
}

/* Reads each key the pending decision d names and supplies it. 0, or -1:
 * a read failed (the caller answers ac_decide_store_error). */
static int store_read(ac_decision *d)
{
	const ac_answer *a = ac_decision_answer(d);
	size_t i, n = a->n_reads;

	for (i = 0; i < n; i++) {
		char key[sizeof(APX_RL_PREFIX) + AC_STORE_KEY_MAX];
		size_t klen = store_key(key, a->reads[i].key);
		uint8_t *buf = NULL;
		size_t len = 0;
		uint32_t cas = 0, st;
		int bad = -1;

		if (klen == 0)
			return -1;
		st = proxy_get_shared_data(key, klen, &buf, &len, &cas);
		if (st == APX_OK)
			bad = ac_decide_supply(d, i, buf, len, cas);
		else if (st == APX_NOT_FOUND)
			bad = ac_decide_supply(d, i, NULL, 0, 0);
		free(buf);
		if (bad != 0)
			return -1;
	}
	return 0;
}

/* Applies the writes of d's answer, each compare-and-set on the version
 * supplied. 0 all written; 1 one lost (the ones before it stay, as the
 * protocol allows); -1 the host refused one. */
static int store_write(ac_decision *d)
{
	const ac_answer *a = ac_decision_answer(d);
	size_t i;

	for (i = 0; i < a->n_writes; i++) {
		const ac_store_op *w = &a->writes[i];
		char key[sizeof(APX_RL_PREFIX) + AC_STORE_KEY_MAX];
		size_t klen = store_key(key, w->key);
		uint32_t st;

		if (klen == 0 || w->version > UINT32_MAX)
			return -1;
		st = proxy_set_shared_data(key, klen, w->value, w->len,
		    (uint32_t)w->version);
		if (st == APX_CAS_MISMATCH)
			return 1;
		if (st != APX_OK)
			return -1;
	}
	return 0;
}

/* One round of authcore_store.h's host loop for d against shared data:
 * its writes applied (a lost one: APX_OP_STORE_LOST; a refused one:
 * APX_OP_STORE_ERROR), else its reads supplied (APX_OP_RESUME, or
 * APX_OP_STORE_ERROR when one failed). -1: nothing for the store (final,
 * or waiting for something else). */
static int store_round(ac_decision *d)
{
	const ac_answer *a = ac_decision_answer(d);
	int lost = a->n_writes > 0 ? store_write(d) : 0;

	if (lost > 0)
		return APX_OP_STORE_LOST;
	if (lost < 0)
		return APX_OP_STORE_ERROR;
	if (a->action == AC_PENDING && a->wait == AC_WAIT_STORE)
		return store_read(d) == 0 ? APX_OP_RESUME : APX_OP_STORE_ERROR;
	return -1;
}

/* Runs s's decision (op: begin, or finish a pending one) until it is final
 * or waits for a password check: authcore_store.h's host loop, the
 * store's reads supplied, the final answer's writes applied, a lost one
 * handed back to the core. Returns NULL, or why the request must fail
 * closed. */
static const char *settle(apx_stream *s, apx_root *r, int op, int64_t now,
    const uint8_t *e, size_t elen)
{
	const char *why = decide_once(s, r, op, now, e, elen);

	/* until final, or a password check (queued by step) */
	while (why == NULL && (op = store_round(s->decision)) >= 0) {
		if (op == APX_OP_STORE_LOST)
			log_debug_count("authcore: rate limits: a write lost "
			    "its CAS race (%zu)", (size_t)++s->lost);
		why = decide_once(s, r, op, now, e, elen);
	}
	return why;
}

/* The core calls for s, in its context, with fresh time and entropy:
 * ac_decide_next (finishes s if it is pending, else begins), then the
 * store's rounds if the policy has rate limits. resume: s is pending (its
 * password check done, or its fetch's outcome handed to the core), so a
 * retry on the shared state starts from the pending decision, not
 * afresh. Returns NULL, or why the request must fail closed (its pending
 * work is wiped then). */
static const char *core_call(apx_stream *s, apx_root *r, int resume)
{
	const char *why;
	uint8_t *e;
	size_t elen = APX_ENTROPY_LEN;
	int64_t now = unix_now();

	if (now < 0) {
		ac_decision_wipe(s->decision);
		return "no clock";
	}
	if ((e = entropy_take()) == NULL)
		elen = 0;
	ac_decision_use_jwt_cache(s->decision, r->jwt_cache);
	ac_decision_use_jwks(s->decision, r->jwks);
	/* the policy's Redis, if any, through its gateway (a fetch) */
	ac_decision_redis_via_fetch(s->decision, 1);
	why = settle(s, r, resume ? APX_OP_RESUME : APX_OP_DECIDE, now, e,
	    elen);
	if (e != NULL)
		ac_wipe(e, APX_ENTROPY_LEN);
	if (why != NULL)
		ac_decision_wipe(s->decision);
	return why;
}

/* The one answer this filter makes itself: a list of the worker's is
 * full (`what`, `count` of them), 503 with Retry-After, in s's context.
 * Only login posts waiting for their body come here: they hold Envoy's
 * memory before the core has seen them, which the core cannot bound (its
 * login.max_pending bounds checks in flight, and answers those itself).
 * Same status, reason and header as the core's overloaded answer. */
static uint32_t overloaded(apx_stream *s, size_t count, const char *what)
{
	static const char body[] = "too many logins in progress; try again "
	    "shortly\n";
	const char *reason = ac_reason_name(AC_OVERLOADED);
	ac_header h[2];
	uint8_t *hdrs;
	size_t hlen = 0;
	uint32_t st;
	char line[160];
	int n = snprintf(line, sizeof(line), "authcore: overloaded: %zu %s on "
	    "this worker, answered 503", count, what);

	if (n > 0)
		(void)proxy_log(APX_LOG_INFO, line,
		    (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
	h[0].name.ptr = "retry-after";
	h[0].name.len = 11;
	h[0].value.ptr = APX_RETRY_AFTER;
	h[0].value.len = sizeof(APX_RETRY_AFTER) - 1;
	h[1].name.ptr = "content-type";
	h[1].name.len = 12;
	h[1].value.ptr = "text/plain; charset=utf-8";
	h[1].value.len = 25;
	ac_decision_wipe(s->decision);
	s->phase = APX_S_ANSWERED;
	stream_release_request(s);
	if ((hdrs = serialize_pairs(h, 2, &hlen)) == NULL)
		return fail_closed("out of memory (response headers)");
	st = proxy_send_local_response(503, reason, strlen(reason),
	    (const uint8_t *)body, sizeof(body) - 1, hdrs, hlen, -1);
	free(hdrs);
	if (st != APX_OK)
		return fail_closed("cannot send the local response");
	return APX_PAUSE;
}

/* ------------------------------------------------------------------ */
/* Fetches (keys from jwt.jwks_uri, core/authcore_jwks.h; any request   */
/* the core names). A decision pending on a fetch pauses its stream;    */
/* the root context sends exactly the request the core names (its       */
/* method, the URL's target as :path, the authority as :authority, the  */
/* core's headers, its body) to the Envoy cluster named as the URL's    */
/* authority (host or host:port exactly as the URL writes it), with     */
/* proxy_http_call and the fetch's timeout_ms. A fetch the core marks   */
/* shareable (ac_fetch.shareable: keys, a configuration) that is        */
/* already in flight, exactly the same, is not sent twice: streams that */
/* need it meanwhile wait for the same answer, and each hands it to its */
/* own decision (ac_decide_fetched), then resumes. Any other (a token   */
/* POST, one per login) is a call of its own, whose answer goes to its  */
/* stream alone. The call is the root's, not a stream's, so a client    */
/* that goes away does not cancel the fetch the others wait for. Any    */
/* failure (no such cluster, connect error, reset, timeout, a body over */
/* max_bytes: never cut) is status 0.                                   */
/* ------------------------------------------------------------------ */
#define APX_FETCHES_MAX 64u /* calls in flight per root; past it a fetch
                               fails at once (status 0) */

static uint32_t step(apx_stream *s, apx_root *r);

/* One log line: "authcore: fetch <method> <url>: " then what. */
static void log_fetch(uint32_t level, const char *what, const ac_fetch *f)
{
	char line[AC_JWKS_URI_MAX + 200];
	size_t n = 0;

	put(line, sizeof(line), &n, "authcore: fetch ", 16);
	put(line, sizeof(line), &n, f->method.ptr, f->method.len);
	put(line, sizeof(line), &n, " ", 1);
	put(line, sizeof(line), &n, f->url.ptr, f->url.len);
	put(line, sizeof(line), &n, ": ", 2);
	put(line, sizeof(line), &n, what, strlen(what));
	(void)proxy_log(level, line, n);
}

static int is_method(ac_str m, const char *name)
{
	size_t n = strlen(name);

	return m.len == n && memcmp(m.ptr, name, n) == 0;
}

/* The headers of the request f names, serialized for proxy_http_call:
 * :method, :path, :authority, then the core's headers (names in lower
 * case, as HTTP/2 has them), and content-length for a body (or a method
 * that carries one). malloc'd, or NULL without memory. */
static uint8_t *fetch_headers(const ac_fetch *f, size_t *len)
{
	ac_header h[4 + AC_FETCH_HEADERS_MAX];
	char names[AC_FETCH_HEADERS_MAX][64];
	char clen[24];
	size_t n = 0, i, k;
	uint8_t *out;

	h[n].name.ptr = ":method";
	h[n].name.len = 7;
	h[n++].value = f->method;
	h[n].name.ptr = ":path";
	h[n].name.len = 5;
	h[n++].value = f->target;
	h[n].name.ptr = ":authority";
	h[n].name.len = 10;
	h[n++].value = f->authority;
	for (i = 0; i < f->n_headers && i < AC_FETCH_HEADERS_MAX; i++) {
		ac_str nm = f->headers[i].name;

		if (nm.len > sizeof(names[i]))
			return NULL; /* no such name: the core's are short */
		for (k = 0; k < nm.len; k++) {
			char c = nm.ptr[k];

			names[i][k] = c >= 'A' && c <= 'Z' ? (char)(c + 32) : c;
		}
		h[n].name.ptr = names[i];
		h[n].name.len = nm.len;
		h[n++].value = f->headers[i].value;
	}
	if (f->body.len > 0 || !(is_method(h[0].value, "GET") ||
	    is_method(h[0].value, "HEAD"))) {
		int m = snprintf(clen, sizeof(clen), "%zu", f->body.len);

		if (m <= 0 || (size_t)m >= sizeof(clen))
			return NULL;
		h[n].name.ptr = "content-length";
		h[n].name.len = 14;
		h[n].value.ptr = clen;
		h[n++].value.len = (size_t)m;
	}
	out = serialize_pairs(h, n, len);
	return out;
}

/* Sends f for r, in r's context (then back in s's): its call, new on
 * r's list (req, req_len: its headers, kept when shared so that others
 * may join, else freed). The call, or NULL when the host refused it
 * (logged). */
static apx_fetch *fetch_dispatch(apx_root *r, apx_stream *s,
    const ac_fetch *f, uint8_t *req, size_t req_len, int shared)
{
	static const uint8_t no_trailers[4] = { 0, 0, 0, 0 };
	apx_fetch *x;
	uint32_t token = 0, st;
	char line[AC_JWKS_URI_MAX + 160];
	int n;

	if (r->n_fetches >= APX_FETCHES_MAX) {
		free(req);
		log_fetch(APX_LOG_WARN, "cannot fetch: too many fetches in "
		    "flight", f);
		return NULL;
	}
	if ((x = calloc(1, sizeof(*x))) == NULL) {
		free(req);
		log_fetch(APX_LOG_ERROR, "cannot fetch: out of memory", f);
		return NULL;
	}
	st = proxy_set_effective_context(r->id);
	if (st == APX_OK)
		st = proxy_http_call(f->authority.ptr, f->authority.len, req,
		    req_len, (const uint8_t *)f->body.ptr, f->body.len,
		    no_trailers, sizeof(no_trailers), f->timeout_ms, &token);
	(void)proxy_set_effective_context(s->id);
	if (st != APX_OK) {
		free(req);
		free(x);
		n = snprintf(line, sizeof(line), "authcore: fetch %.*s %.*s: "
		    "cannot fetch: proxy_http_call to the cluster "
		    "\"%.*s\" failed (status %u; Envoy: is there a cluster of "
		    "that name?)", (int)f->method.len, f->method.ptr,
		    (int)f->url.len, f->url.ptr, (int)f->authority.len,
		    f->authority.ptr, (unsigned)st);
		if (n > 0)
			(void)proxy_log(APX_LOG_WARN, line, (size_t)n <
			    sizeof(line) ? (size_t)n : sizeof(line) - 1);
		return NULL;
	}
	x->token = token;
	x->max = f->max_bytes;
	x->since = mono_ns();
	if (shared) {
		x->req = req;
		x->req_len = req_len;
	} else {
		free(req);
	}
	x->next = r->fetches;
	r->fetches = x;
	r->n_fetches++;
	return x;
}

/* s's decision waits for a fetch: s joins the same shareable fetch in
 * flight, or sends its own. 0: s waits (paused); -1: the fetch failed at
 * once, and the core has the failure (status 0): decide s again now. */
static int fetch_join(apx_stream *s, apx_root *r)
{
	const ac_fetch *f = &ac_decision_answer(s->decision)->fetch;
	apx_fetch *x = NULL;
	uint8_t *req;
	size_t len = 0;
	int shared = f->shareable != 0;

	if ((req = fetch_headers(f, &len)) == NULL)
		log_fetch(APX_LOG_ERROR, "cannot fetch: out of memory", f);
	else if (shared)
		for (x = r->fetches; x != NULL; x = x->next)
			if (x->req != NULL && x->req_len == len &&
			    x->max == f->max_bytes &&
			    memcmp(x->req, req, len) == 0)
				break;
	if (x != NULL)
		free(req);
	else if (req != NULL)
		x = fetch_dispatch(r, s, f, req, len, shared);
	if (x == NULL) {
		int64_t now = unix_now();

		(void)ac_decide_fetched(s->decision, 0, NULL, 0, NULL, 0,
		    now > 0 ? now : 0);
		return -1;
	}
	s->phase = APX_S_PENDING;
	s->since = mono_ns();
	s->fetch = x;
	list_push(&x->waiting, s);
	return 0;
}

/* The value of the first header called name (lower case) in the host's
 * serialized pairs, or an empty ac_str. */
static ac_str pairs_get(const uint8_t *buf, size_t len, const char *name)
{
	ac_str v = { NULL, 0 }, n = { name, strlen(name) };
	const uint8_t *p;
	uint32_t count, i;

	if (buf == NULL || len < 4)
		return v;
	count = rd32(buf);
	if (count > (len - 4) / 8)
		return v;
	p = buf + 4 + (size_t)count * 8;
	for (i = 0; i < count; i++) {
		size_t nl = rd32(buf + 4 + (size_t)i * 8);
		size_t vl = rd32(buf + 8 + (size_t)i * 8);
		ac_str cur = { (const char *)p, nl };

		if (nl + vl + 2 > (size_t)(buf + len - p))
			return v;
		if (name_eq(cur, n)) {
			v.ptr = (const char *)p + nl + 1;
			v.len = vl;
			return v;
		}
		p += nl + 1 + vl + 1;
	}
	return v;
}

/* What the answer of a call reaching the root says (n_headers 0: there
 * is none): its status (0: none, or a body over max or unreadable), its
 * headers (*map: free it; NULL without) and, for a 200, its body (*body:
 * free it). *why: NULL, or what failed, for the log. */
static int call_outcome(size_t n_headers, size_t body_size, size_t max,
    uint8_t **map, size_t *map_len, uint8_t **body, size_t *body_len,
    const char **why)
{
	ac_str st;
	size_t k;
	int status = 0;

	*map = *body = NULL;
	*map_len = *body_len = 0;
	*why = NULL;
	if (n_headers > 0 && proxy_get_header_map_pairs(
	    APX_MAP_HTTP_CALL_RESPONSE_HEADERS, map, map_len) == APX_OK) {
		st = pairs_get(*map, *map_len, ":status");
		for (k = 0; k < st.len && k < 4 && st.ptr[k] >= '0' &&
		    st.ptr[k] <= '9'; k++)
			status = status * 10 + (st.ptr[k] - '0');
		if (k != st.len || k != 3)
			status = 0;
	}
	if (n_headers == 0)
		*why = "no answer (connection failed, reset, or timeout_ms passed)";
	else if (status == 0)
		*why = "an answer without a status";
	else if (status != 200)
		*why = "an answer that is not 200";
	else if (body_size > max) {
		*why = "a body over max_bytes";
		status = 0; /* refused whole, never cut */
	} else if (body_size > 0 && (proxy_get_buffer_bytes(
	    APX_BUFFER_HTTP_CALL_RESPONSE_BODY, 0, body_size, body,
	    body_len) != APX_OK || *body == NULL || *body_len != body_size)) {
		*why = "cannot read the body";
		status = 0;
	}
	if (status != 200) {
		free(*body);
		*body = NULL;
		*body_len = 0;
	}
	return status;
}

/* The answer of the fetch x (or its failure: no headers) reached r's
 * context: its outcome goes to every stream waiting for it, each decided
 * again in its own context and resumed; then x is gone. */
static void fetch_answered(apx_root *r, apx_fetch *x, size_t n_headers,
    size_t body_size)
{
	uint8_t *map, *body;
	size_t map_len, body_len;
	ac_str ctype;
	const ac_fetch *f;
	int status, loaded = -1;
	apx_stream *s;
	apx_fetch **pp;
	int64_t now = unix_now();
	unsigned long ms = (unsigned long)((mono_ns() - x->since) /
	    1000000u);
	const char *why;
	char line[AC_JWKS_URI_MAX + 300], what[AC_JWKS_URI_MAX + 16];
	size_t wn = 0;
	int n, logged = 0, store = 0; /* a store step (Redis gateway) */

	for (pp = &r->fetches; *pp != NULL; pp = &(*pp)->next)
		if (*pp == x) {
			*pp = x->next;
			r->n_fetches--;
			break;
		}
	status = call_outcome(n_headers, body_size, x->max, &map, &map_len,
	    &body, &body_len, &why);
	ctype = pairs_get(map, map_len, "content-type");
	/* the streams that waited for this answer; one whose decision then
	 * waits for another fetch (the keys after a discovery document)
	 * joins or sends another, never this one (x is off the list) */
	while ((s = list_pop(&x->waiting)) != NULL) {
		s->fetch = NULL;
		f = &ac_decision_answer(s->decision)->fetch;
		if (proxy_set_effective_context(s->id) != APX_OK) {
			/* the host no longer knows the stream: drop it */
			s->phase = APX_S_ANSWERED;
			ac_decide_abandon(NULL, s->decision);
			stream_release_request(s);
			continue;
		}
		if (!logged) /* a Redis step's success is logged at debug */
			store = ac_decision_answer(s->decision)->store_shared;
		if (!logged) /* f's slices change once the decision goes on */
			put(what, sizeof(what), &wn, f->method.ptr,
			    f->method.len), put(what, sizeof(what), &wn, " ",
			    1), put(what, sizeof(what), &wn, f->url.ptr,
			    f->url.len);
		loaded = ac_decide_fetched(s->decision, status, ctype.ptr,
		    ctype.len, body, body_len, now > 0 ? now : 0);
		if (!logged) {
			if (why == NULL && loaded == 0)
				n = snprintf(line, sizeof(line), "authcore: "
				    "fetch %.*s: fetched (%d, %zu bytes, %lu ms)",
				    (int)wn, what, status, body_len, ms);
			else
				n = snprintf(line, sizeof(line), "authcore: "
				    "fetch %.*s: failed fetch: %s (%d, %zu bytes, "
				    "%lu ms)", (int)wn, what, why != NULL ? why :
				    "an answer the core refused (Content-Type, "
				    "JSON, keys)", status, body_size, ms);
			if (n > 0)
				(void)proxy_log(why == NULL && loaded == 0 ?
				    (store ? APX_LOG_DEBUG : APX_LOG_INFO) :
				    APX_LOG_WARN, line,
				    (size_t)n < sizeof(line) ? (size_t)n :
				    sizeof(line) - 1);
			logged = 1; /* once per answer */
		}
		(void)step(s, r);
	}
	free(map);
	free(body);
	free(x->req);
	free(x);
	(void)proxy_set_effective_context(r->id);
}

/* ------------------------------------------------------------------ */
/* Releases (connection caps, core/authcore_store.h) when the policy's  */
/* counters are in Redis through the gateway. A stream's end cannot     */
/* wait for a store step, so the root context takes the release over:  */
/* the stream's lease goes into a decision of the root's own            */
/* (ac_release_begin), and each step the core names is sent from the    */
/* root with proxy_http_call (Envoy keeps the call with the root        */
/* context, so it outlives the stream); its answer comes back to        */
/* proxy_on_http_call_response, which hands it to the decision          */
/* (ac_decide_fetched, ac_decide_finish) and sends the next step, until */
/* the release is final: one read and one compare-and-set write, more   */
/* rounds if another member wrote the group meanwhile (at most          */
/* AC_RELEASE_ATTEMPTS). A step for the worker's own store (the         */
/* policy's on_store_error "local" after Redis failed) goes to shared   */
/* data at once. At most APX_RELEASES_MAX releases are under way per    */
/* root (worker); one more, a call Envoy refuses, or Redis failing is a */
/* release not made, logged at warning level: the counters stay one    */
/* too high until their group's entry expires in Redis (30 days after   */
/* the group last changed, core/ac_conn.c).                             */
/* ------------------------------------------------------------------ */
#define APX_RELEASES_MAX 64u

/* Sends x's pending step (a GET to the gateway) from r's context, then
 * goes back to context `back`. 0: in flight, x on r's list; -1: not sent
 * (logged). */
static int release_send(apx_root *r, apx_release *x, uint32_t back)
{
	static const uint8_t no_trailers[4] = { 0, 0, 0, 0 };
	const ac_fetch *f = &ac_decision_answer(x->d)->fetch;
	uint8_t *hdrs;
	size_t len = 0;
	uint32_t token = 0, st;

	if ((hdrs = fetch_headers(f, &len)) == NULL) {
		log_fetch(APX_LOG_ERROR, "cannot fetch: out of memory", f);
		return -1;
	}
	st = proxy_set_effective_context(r->id);
	if (st == APX_OK)
		st = proxy_http_call(f->authority.ptr, f->authority.len, hdrs,
		    len, (const uint8_t *)f->body.ptr, f->body.len, no_trailers,
		    sizeof(no_trailers), f->timeout_ms, &token);
	if (back != r->id)
		(void)proxy_set_effective_context(back);
	free(hdrs);
	if (st != APX_OK) {
		log_fetch(APX_LOG_WARN, "cannot fetch: proxy_http_call to the "
		    "cluster named as the gateway's authority failed", f);
		return -1;
	}
	x->token = token;
	x->since = mono_ns();
	x->next = r->releases;
	r->releases = x;
	return 0;
}

/* Runs x until its step is in flight (x stays on r's list) or it is over
 * (x freed; logged if the counters were not taken down in Redis). now:
 * unix seconds; back: the context to return to after a call. */
static void release_go(apx_root *r, apx_release *x, int64_t now,
    uint32_t back)
{
	const ac_policy *P = r->policy;
	const ac_answer *a;

	for (;;) {
		int op;

		a = ac_decision_answer(x->d);
		if (a->action == AC_PENDING && a->wait == AC_WAIT_FETCH) {
			if (release_send(r, x, back) == 0)
				return;
			/* not sent: the core takes it as a failed store */
			ac_decide_finish(P, NULL, NULL, now, NULL, 0, x->d);
			continue;
		}
		/* what is left goes to the worker's own store: the lease
		 * was counted there, or Redis failed and on_store_error is
		 * "local" */
		if ((op = store_round(x->d)) < 0)
			break; /* final */
		if (op == APX_OP_STORE_LOST)
			ac_decide_store_lost(P, NULL, NULL, now, NULL, 0, x->d);
		else if (op == APX_OP_STORE_ERROR)
			ac_decide_store_error(P, NULL, NULL, now, NULL, 0, x->d);
		else
			ac_decide_finish(P, NULL, NULL, now, NULL, 0, x->d);
	}
	count_store_error(a);
	if (a->action == AC_PENDING)
		log_not_released("a release that waits for something else");
	else if (a->reason != AC_OK)
		log_not_released(ac_reason_name(a->reason));
	else if (a->store_failed)
		log_not_released("Redis failed: released in this worker's own "
		    "store instead (rate_limits.on_store_error \"local\"); a "
		    "count Redis holds stays one too high until its entry "
		    "expires");
	release_free(r, x);
}

/* s's lease, released from r: a decision of r's own, its first step sent
 * now. Logged and dropped when APX_RELEASES_MAX are under way. */
static void release_start(apx_root *r, apx_stream *s, int64_t now)
{
	apx_release *x;
	char why[80];

	if (r->n_releases >= APX_RELEASES_MAX) {
		(void)snprintf(why, sizeof(why), "%u releases are under way on "
		    "this worker already", APX_RELEASES_MAX);
		log_not_released(why);
		return;
	}
	if ((x = calloc(1, sizeof(*x))) == NULL ||
	    (x->d = calloc(1, ac_sizeof_decision())) == NULL) {
		free(x);
		log_not_released("out of memory");
		return;
	}
	r->n_releases++;
	ac_decision_redis_via_fetch(x->d, 1);
	(void)ac_release_begin(r->policy, s->lease, s->lease_len, now, x->d);
	release_go(r, x, now, s->id);
}

/* The answer to x's step (or its failure: no headers) reached r: handed
 * to the release, which goes on. */
static void release_answered(apx_root *r, apx_release *x, size_t n_headers,
    size_t body_size)
{
	apx_release **pp;
	uint8_t *map, *body;
	size_t map_len, body_len;
	const char *why;
	const ac_fetch *f = &ac_decision_answer(x->d)->fetch;
	unsigned long ms = (unsigned long)((mono_ns() - x->since) /
	    1000000u);
	int64_t now = unix_now();
	int status, n;
	char line[AC_JWKS_URI_MAX + 300];

	for (pp = &r->releases; *pp != NULL; pp = &(*pp)->next)
		if (*pp == x) {
			*pp = x->next;
			break;
		}
	status = call_outcome(n_headers, body_size, AC_REDIS_GATEWAY_REPLY_MAX,
	    &map, &map_len, &body, &body_len, &why);
	n = snprintf(line, sizeof(line), "authcore: fetch %.*s %.*s: %s%s "
	    "(a release; %d, %zu bytes, %lu ms)", (int)f->method.len,
	    f->method.ptr, (int)f->url.len, f->url.ptr, why != NULL ?
	    "failed fetch: " : "fetched", why != NULL ? why : "", status,
	    body_size, ms);
	if (n > 0)
		(void)proxy_log(why != NULL ? APX_LOG_WARN : APX_LOG_DEBUG, line,
		    (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
	/* a refused reply is a failed store step, which the core decides */
	(void)ac_decide_fetched(x->d, status, NULL, 0, body, body_len,
	    now > 0 ? now : 0);
	free(map);
	free(body);
	if (now < 0) {
		ac_decide_abandon(NULL, x->d);
		log_not_released("no clock");
		release_free(r, x);
		return;
	}
	ac_decide_finish(r->policy, NULL, NULL, now, NULL, 0, x->d);
	release_go(r, x, now, r->id);
}

APX_EXPORT(proxy_on_http_call_response)
void proxy_on_http_call_response(uint32_t context_id, uint32_t token,
    size_t n_headers, size_t body_size, size_t n_trailers)
{
	apx_root *r = root_find(context_id);
	apx_fetch *x;
	apx_release *y;

	(void)n_trailers;
	if (r == NULL)
		return;
	for (x = r->fetches; x != NULL && x->token != token; x = x->next)
		;
	if (x != NULL) {
		fetch_answered(r, x, n_headers, body_size);
		return;
	}
	for (y = r->releases; y != NULL && y->token != token; y = y->next)
		;
	if (y != NULL)
		release_answered(r, y, n_headers, body_size);
	/* else not ours, or no longer waited for */
}

/* Decides, or resumes, s in its context: a final decision is applied
 * (the core's 503 overloaded included); a new pending one is queued (a
 * password check) or waits for its fetch (the stream paused). A fetch
 * that fails at once is handed to the core and s decided again here. A
 * resumed stream that was allowed goes on. Returns the action for the
 * current callback (ignored on a resume, which runs in a tick or a
 * fetch's answer). */
static uint32_t step(apx_stream *s, apx_root *r)
{
	int resumed = s->phase == APX_S_PENDING;
	int resume = resumed;
	const char *why;
	uint32_t action;

	for (;;) {
		const ac_answer *a;

		if ((why = core_call(s, r, resume)) != NULL)
			return stream_fail(s, why);
		a = ac_decision_answer(s->decision);
		if (a->action != AC_PENDING) {
			action = conclude(s);
			if (resumed && action == APX_CONTINUE)
				(void)proxy_continue_stream(APX_STREAM_REQUEST);
			return action;
		}
		if (a->wait != AC_WAIT_FETCH)
			break;
		if (fetch_join(s, r) == 0)
			return APX_PAUSE;
		resume = 1; /* failed at once: the core has its outcome */
	}
	/* a password check (on a resume too: after the store reads for the
	 * client's limits, or after keys came) */
	s->phase = APX_S_PENDING;
	s->since = mono_ns();
	s->iterations = ac_decide_step(s->decision, 0);
	log_debug_count("authcore: password check queued: %zu iterations",
	    s->iterations);
	list_push(&r->queue, s);
	if (root_tick_update(r) != 0) {
		queue_remove(r, s);
		ac_decision_wipe(s->decision);
		return stream_fail(s, "cannot set the tick period");
	}
	return APX_PAUSE;
}

/* Finishes a check whose iterations are done: in the stream's context,
 * resume and apply it. */
static void resume(apx_stream *s, apx_root *r)
{
	char line[200];
	int n;

	if (proxy_set_effective_context(s->id) != APX_OK) {
		/* the host no longer knows the stream: drop the work */
		s->phase = APX_S_ANSWERED;
		ac_decision_wipe(s->decision);
		stream_release_request(s);
		return;
	}
	n = snprintf(line, sizeof(line), "authcore: password check of %zu "
	    "iterations took %llu ms: %u slices, %llu us of work, longest "
	    "slice %llu us", s->iterations,
	    (unsigned long long)((mono_ns() - s->since) / 1000000u),
	    s->slices, (unsigned long long)(s->work_ns / 1000u),
	    (unsigned long long)(s->longest_ns / 1000u));
	if (n > 0)
		(void)proxy_log(APX_LOG_DEBUG, line,
		    (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
	(void)step(s, r);
}

/* A login post whose body never began: with Envoy, most likely a
 * PluginConfig without allow_on_headers_stop_iteration, which keeps the
 * body from the filter while the headers are paused. Fail closed and say
 * so, rather than hold the request until Envoy's idle timeout. */
static void body_never_came(apx_stream *s)
{
	if (proxy_set_effective_context(s->id) != APX_OK) {
		s->phase = APX_S_ANSWERED;
		stream_release_request(s);
		return;
	}
	(void)stream_fail(s, "no body 10 s after a login post's headers (Envoy: "
	    "set allow_on_headers_stop_iteration: true in the Wasm PluginConfig)");
}

/* Fails login posts whose body has not begun after APX_BODY_WAIT_NS, then
 * advances the root's oldest pending check by one slice and puts it at
 * the back of the queue (round robin), or resumes it when it is done. One
 * slice per tick bounds the time the worker is away from its event loop,
 * however many checks are pending. */
APX_EXPORT(proxy_on_tick) void proxy_on_tick(uint32_t root_id)
{
	apx_root *r = root_find(root_id);
	apx_stream *s;
	uint64_t t0, t1, now = mono_ns();
	size_t left;

	if (r == NULL)
		return;
	while ((s = r->waiting.head) != NULL && now > s->since &&
	    now - s->since >= APX_BODY_WAIT_NS) {
		(void)list_pop(&r->waiting);
		s->waiting = 0;
		body_never_came(s);
	}
	if ((s = list_pop(&r->queue)) != NULL) {
		t0 = mono_ns();
		left = ac_decide_step(s->decision, APX_SLICE_ITERATIONS);
		t1 = mono_ns();
		s->slices++;
		s->work_ns += t1 - t0;
		if (t1 - t0 > s->longest_ns)
			s->longest_ns = t1 - t0;
		if (left == 0) {
			resume(s, r);
		} else {
			list_push(&r->queue, s);
		}
	}
	if (proxy_set_effective_context(r->id) == APX_OK)
		(void)root_tick_update(r);
}

/* ------------------------------------------------------------------ */
/* HTTP context: callbacks                                             */
/* ------------------------------------------------------------------ */
static uint32_t on_request_headers_(uint32_t id, size_t n_headers,
    uint32_t end_of_stream)
{
	apx_stream *s = stream_find(id);
	apx_root *r;

	(void)n_headers;
	if (s == NULL)
		return fail_closed("out of memory (stream)");
	r = root_find(s->root_id);
	if (r == NULL || r->policy == NULL)
		return stream_fail(s, "no policy loaded");
	if (read_request(s) != 0)
		return stream_fail(s, "cannot read the request headers");
	s->needs = ac_needs(r->policy, &s->req);
	s->lost = 0;
	/* the scheme costs a property read; most requests never use it */
	if (s->needs & AC_NEEDS_TLS) {
		int tls = read_tls();

		if (tls < 0)
			return stream_fail(s, "cannot read the connection's TLS state");
		s->req.https = tls;
	}
	if (!end_of_stream && (s->needs & AC_NEEDS_BODY)) {
		/* a login post: decide when the whole body is here; until
		 * its first bytes come, the tick watches the wait */
		size_t waiting = list_count(&r->waiting, APX_WAITING_MAX);

		if (waiting >= APX_WAITING_MAX)
			return overloaded(s, waiting, "login posts waiting for "
			    "their body");
		s->phase = APX_S_BODY;
		s->since = mono_ns();
		s->waiting = 1;
		list_push(&r->waiting, s);
		if (root_tick_update(r) != 0) {
			list_remove(&r->waiting, s);
			s->waiting = 0;
			return stream_fail(s, "cannot set the tick period");
		}
		return APX_PAUSE;
	}
	return step(s, r);
}

APX_EXPORT(proxy_on_request_headers)
uint32_t proxy_on_request_headers(uint32_t id, size_t n_headers,
    uint32_t end_of_stream)
{
	uint32_t ret;
	PROF_BEGIN();

	ret = on_request_headers_(id, n_headers, end_of_stream);
	PROF_END(1);
	return ret;
}

/* Takes s off its root's lists (it is done waiting, pending, or gone). */
static void stream_unlist(apx_stream *s)
{
	apx_root *r = root_find(s->root_id);

	if (r != NULL && s->waiting)
		list_remove(&r->waiting, s);
	if (s->fetch != NULL)
		list_remove(&s->fetch->waiting, s);
	else if (r != NULL && s->phase == APX_S_PENDING)
		queue_remove(r, s);
	s->waiting = 0;
	s->fetch = NULL;
}

/* The body is complete (or over the cap): hand it to the core. */
static uint32_t take_body(apx_stream *s)
{
	apx_root *r = root_find(s->root_id);

	if (r == NULL || r->policy == NULL)
		return stream_fail(s, "no policy loaded");
	if (s->body_seen > AC_LOGIN_BODY_MAX) {
		s->req.body_too_large = 1;
	} else if (s->body_seen > 0) {
		if (proxy_get_buffer_bytes(APX_BUFFER_REQUEST_BODY, 0,
		    s->body_seen, &s->body, &s->body_len) != APX_OK ||
		    s->body == NULL || s->body_len != s->body_seen)
			return stream_fail(s, "cannot read the request body");
		s->req.body.ptr = (const char *)s->body;
		s->req.body.len = s->body_len;
	}
	return step(s, r);
}

static uint32_t on_request_body_(uint32_t id, size_t body_size,
    uint32_t end_of_stream)
{
	apx_stream *s = stream_find(id);

	if (s == NULL)
		return APX_DROP_BODY; /* answered 500 in the headers */
	switch (s->phase) {
	case APX_S_BODY:
		if (s->waiting)
			stream_unlist(s);
		s->body_seen = body_size;
		if (body_size <= AC_LOGIN_BODY_MAX && !end_of_stream)
			return APX_PAUSE; /* StopIterationAndBuffer */
		return take_body(s);
	case APX_S_PENDING:
		/* hold the body until the decision (keys being fetched, a
		 * Basic credential's check): an upload larger than Envoy's
		 * buffer limit waits under flow control, not answered 413 */
		return APX_WATERMARK;
	case APX_S_ALLOWED:
		return APX_CONTINUE;
	default:
		return APX_DROP_BODY;
	}
}

APX_EXPORT(proxy_on_request_body)
uint32_t proxy_on_request_body(uint32_t id, size_t body_size,
    uint32_t end_of_stream)
{
	uint32_t ret;
	PROF_BEGIN();

	ret = on_request_body_(id, body_size, end_of_stream);
	PROF_END(6);
	return ret;
}

/* Trailers end a request whose body callbacks never said end_of_stream. */
APX_EXPORT(proxy_on_request_trailers)
uint32_t proxy_on_request_trailers(uint32_t id, size_t n_trailers)
{
	apx_stream *s = stream_find(id);

	(void)n_trailers;
	if (s == NULL)
		return APX_PAUSE;
	switch (s->phase) {
	case APX_S_BODY:
		stream_unlist(s);
		return take_body(s);
	case APX_S_ALLOWED:
		return APX_CONTINUE;
	default:
		return APX_PAUSE;
	}
}

/* 1 if the host's serialized header pairs (buf, len) hold `name`, in any
 * case (Envoy's own names are lower case; the core's may not be). */
static int pairs_have(const uint8_t *buf, size_t len, ac_str name)
{
	const uint8_t *p;
	uint32_t count, i;

	if (buf == NULL || len < 4)
		return 0;
	count = rd32(buf);
	if (count > (len - 4) / 8)
		return 0;
	p = buf + 4 + (size_t)count * 8;
	for (i = 0; i < count; i++) {
		size_t nl = rd32(buf + 4 + (size_t)i * 8);
		size_t vl = rd32(buf + 8 + (size_t)i * 8);
		size_t k;

		if (nl + vl + 2 > (size_t)(buf + len - p))
			return 0;
		if (nl == name.len) {
			for (k = 0; k < nl; k++)
				if ((p[k] | 0x20) != ((uint8_t)name.ptr[k] | 0x20))
					break;
			if (k == nl)
				return 1;
		}
		p += nl + 1 + vl + 1;
	}
	return 0;
}

/* An allowed request's answer gets the decision's resp_headers (a
 * refreshed Set-Cookie, security and CORS headers), each as its mode
 * says: appended, set (the upstream's own values replaced), or set only
 * when the upstream sent none (the answer's headers read once, and only
 * then). Local answers already have them. */
static uint32_t on_response_headers_(uint32_t id, size_t n_headers,
    uint32_t end_of_stream)
{
	apx_stream *s = stream_find(id);
	const ac_answer *d;
	uint8_t *map = NULL;
	size_t i, map_len = 0;
	uint32_t st;

	(void)n_headers;
	(void)end_of_stream;
	if (s == NULL || s->phase != APX_S_ALLOWED)
		return APX_CONTINUE;
	d = ac_decision_answer(s->decision);
	for (i = 0; i < d->n_resp_headers && i < AC_DECISION_HEADERS_MAX; i++)
		if (d->resp_modes[i] == AC_HDR_SET_IF_ABSENT) {
			if (proxy_get_header_map_pairs(APX_MAP_RESPONSE_HEADERS,
			    &map, &map_len) != APX_OK)
				map = NULL;
			break;
		}
	for (i = 0; i < d->n_resp_headers && i < AC_DECISION_HEADERS_MAX; i++) {
		const ac_header *h = &d->resp_headers[i];

		if (d->resp_modes[i] == AC_HDR_SET_IF_ABSENT &&
		    pairs_have(map, map_len, h->name))
			continue;
		if (d->resp_modes[i] == AC_HDR_SET)
			st = proxy_replace_header_map_value(
			    APX_MAP_RESPONSE_HEADERS, h->name.ptr, h->name.len,
			    h->value.ptr, h->value.len);
		else
			st = proxy_add_header_map_value(
			    APX_MAP_RESPONSE_HEADERS, h->name.ptr, h->name.len,
			    h->value.ptr, h->value.len);
		if (st != APX_OK)
			log_str(APX_LOG_ERROR, "authcore: cannot add a "
			    "response header");
	}
	free(map);
	return APX_CONTINUE;
}

APX_EXPORT(proxy_on_response_headers)
uint32_t proxy_on_response_headers(uint32_t id, size_t n_headers,
    uint32_t end_of_stream)
{
	uint32_t ret;
	PROF_BEGIN();

	ret = on_response_headers_(id, n_headers, end_of_stream);
	PROF_END(2);
	return ret;
}

/* The connection caps s's allowed answer counted it under are given back
 * (core/authcore_store.h). Counters in Redis: the root takes the release
 * over (see "Releases"). Otherwise the release decision and its store
 * rounds run here, in s's decision, which the stream no longer needs.
 * Once per stream. */
static void release_lease(apx_stream *s)
{
	apx_root *r;
	const char *why = "the filter's configuration is gone";
	int64_t now;

	if (s->lease_len == 0)
		return; /* most streams: no host call at all */
	r = root_get(s->root_id);
	now = unix_now();
	if (r != NULL && r->policy != NULL && now >= 0 && r->gw_releases) {
		release_start(r, s, now);
		s->lease_len = 0;
		return;
	}
	if (r != NULL && r->policy != NULL && now >= 0) {
		/* it reads and writes store entries only */
		s->needs = AC_NEEDS_ENTRIES;
		why = settle(s, r, APX_OP_RELEASE, now, NULL, 0);
		if (why == NULL && ac_decision_answer(s->decision)->reason !=
		    AC_OK)
			why = ac_reason_name(
			    ac_decision_answer(s->decision)->reason);
	}
	if (why != NULL)
		log_not_released(why);
	s->lease_len = 0;
}

/* The stream is over (finished, or the client went away): a pending
 * check is dropped here, so the tick never resumes a dead stream, and the
 * connection caps it holds are released. */
static uint32_t on_done_(uint32_t id)
{
	apx_stream *s = stream_find(id);

	if (s == NULL)
		return 1;
	release_lease(s);
	if (s->waiting)
		stream_unlist(s);
	if (s->phase == APX_S_PENDING && s->fetch != NULL) {
		/* waiting for a fetch: it is the root's and goes on for the
		 * others (its answer still fills the worker's keys only
		 * through a decision that waits for it) */
		stream_unlist(s);
		log_str(APX_LOG_DEBUG, "authcore: a stream waiting for a "
		    "fetch ended");
		ac_decide_abandon(NULL, s->decision);
		s->phase = APX_S_ANSWERED;
		stream_release_request(s);
	} else if (s->phase == APX_S_PENDING) {
		stream_unlist(s);
		log_debug_count("authcore: password check dropped (the stream "
		    "ended) with %zu iterations left",
		    ac_decide_step(s->decision, 0));
		/* its in-flight slot in the state is given back now, not when
		 * it lapses: aborted logins cannot hold every slot */
		if (apx_state_mode == APX_STATE_LOCAL)
			ac_decide_abandon(apx_state, s->decision);
		else if (apx_state_mode == APX_STATE_SHARED)
			(void)shared_call(s, NULL, APX_OP_ABANDON, 0, NULL, 0);
		s->phase = APX_S_ANSWERED;
		ac_decision_wipe(s->decision);
		stream_release_request(s);
	}
	return 1;
}

APX_EXPORT(proxy_on_done)
uint32_t proxy_on_done(uint32_t id)
{
	uint32_t ret;
	PROF_BEGIN();

	ret = on_done_(id);
	PROF_END(3);
	return ret;
}

/* No proxy_on_log: the filter has nothing to do when a stream is logged,
 * and a module without the export is not called for it (proxy-wasm hosts
 * call only the callbacks a module exports). */


static void on_delete_(uint32_t id)
{
	apx_stream **sp = &apx_streams[id % APX_BUCKETS];
	apx_root **rp = &apx_roots[id % APX_BUCKETS];

	for (; *sp != NULL; sp = &(*sp)->next) {
		if ((*sp)->id == id) {
			apx_stream *s = *sp;

			*sp = s->next;
			release_lease(s); /* if on_done never came */
			stream_unlist(s);
			stream_release_request(s);
			/* the password check is the secret a decision
			 * holds; the rest is this request's own */
			ac_decision_wipe(s->decision);
			if (apx_spares < APX_SPARES && ac_decision_answer(
			    s->decision)->action != AC_PENDING) {
				s->next = apx_spare;
				apx_spare = s;
				apx_spares++;
				return;
			}
			free(s->decision);
			wipe_free(s, sizeof(*s));
			return;
		}
	}
	for (; *rp != NULL; rp = &(*rp)->next) {
		if ((*rp)->id == id) {
			apx_root *r = *rp;

			*rp = r->next;
			root_unload(r);
			free(r);
			return;
		}
	}
}

APX_EXPORT(proxy_on_delete)
void proxy_on_delete(uint32_t id)
{
	PROF_BEGIN();

	on_delete_(id);
	PROF_END(5);
#ifdef APX_PROFILE
	prof_report(id);
#endif
}
