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
 *    once per root (plugin) context with ac_policy_load.
 *  - one request in, one decision out: all request headers come from one
 *    host call, ac_decide runs once, the answer is applied once.
 *  - logging: bad policies at error level, one audit line per decision at
 *    info level.
 *
 * Every failure on the request path fails closed (a local 500), never open.
 * Imports: proxy_* from "env", plus WASI clock_time_get and random_get.
 */
#include <stdint.h>
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
enum { APX_OK = 0, APX_NOT_FOUND = 1 };
enum { APX_LOG_INFO = 2, APX_LOG_ERROR = 4 };
enum { APX_CONTINUE = 0, APX_PAUSE = 1 };
enum { APX_BUFFER_PLUGIN_CONFIGURATION = 7 };
enum { APX_MAP_REQUEST_HEADERS = 0 };

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

/* ------------------------------------------------------------------ */
/* Contexts. The host names contexts by number; we keep a small chained */
/* hash table per kind. A VM is single-threaded, so no locking.        */
/* ------------------------------------------------------------------ */
typedef struct apx_root {
	uint32_t id;
	struct apx_root *next;
	void *mem;              /* malloc'd; the compiled policy lives in it */
	const ac_policy *policy;
} apx_root;

/* Large (the decision holds the token scratch), so it lives on the heap for
 * the stream's lifetime rather than on the 1 MiB wasm stack. */
typedef struct apx_stream {
	uint32_t id;
	uint32_t root_id;
	struct apx_stream *next;
	ac_header headers[AC_HEADERS_MAX];
	ac_decision decision;
} apx_stream;

#define APX_BUCKETS 64u
static apx_root *apx_roots[APX_BUCKETS];
static apx_stream *apx_streams[APX_BUCKETS];

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
/* Root context: policy loading                                        */
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

static void root_unload(apx_root *r)
{
	free(r->mem);
	r->mem = NULL;
	r->policy = NULL;
}

APX_EXPORT(proxy_on_context_create)
void proxy_on_context_create(uint32_t id, uint32_t parent)
{
	apx_stream *s;

	if (parent == 0) {
		if (root_get(id) == NULL)
			log_str(APX_LOG_ERROR, "authcore: out of memory (root)");
		return;
	}
	/* A failed allocation is noticed in proxy_on_request_headers, which
	 * then answers 500: the request never passes unchecked. */
	if ((s = malloc(sizeof(*s))) == NULL)
		return;
	s->id = id;
	s->root_id = parent;
	s->next = apx_streams[id % APX_BUCKETS];
	apx_streams[id % APX_BUCKETS] = s;
}

APX_EXPORT(proxy_on_vm_start)
uint32_t proxy_on_vm_start(uint32_t root_id, size_t vm_config_size)
{
	(void)root_id;
	(void)vm_config_size;
	return 1;
}

APX_EXPORT(proxy_on_configure)
uint32_t proxy_on_configure(uint32_t root_id, size_t config_size)
{
	apx_root *r = root_get(root_id);
	uint8_t *json = NULL;
	size_t json_len = 0, mem_len, used = 0;
	void *mem;
	const ac_policy *policy;
	ac_policy_error err;
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
	st = proxy_get_buffer_bytes(APX_BUFFER_PLUGIN_CONFIGURATION, 0,
	    config_size, &json, &json_len);
	if (st != APX_OK || json == NULL || json_len == 0) {
		free(json);
		bad_policy("$", "cannot read the plugin configuration");
		return 0;
	}
	mem_len = ac_policy_mem_bound(json_len);
	if ((mem = malloc(mem_len)) == NULL) {
		free(json);
		bad_policy("$", "out of memory compiling the policy");
		return 0;
	}
	memset(&err, 0, sizeof(err));
	policy = ac_policy_load(mem, mem_len, (const char *)json, json_len,
	    &used, &err);
	free(json);
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
	/* Reconfigure: no stream keeps a pointer into the old policy across
	 * callbacks (each decision is applied before its callback returns),
	 * so it can go now. */
	root_unload(r);
	r->mem = mem;
	r->policy = policy;
	log_str(APX_LOG_INFO, "authcore: policy loaded");
	return 1;
}

/* ------------------------------------------------------------------ */
/* HTTP context                                                        */
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
			else if (str_eq(name, ":scheme"))
				req->https = str_eq(value, "https");
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

static uint32_t apply(const ac_decision *d)
{
	size_t i;
	uint32_t st;

	if (d->action == AC_ALLOW) {
		for (i = 0; i < d->n_remove && i < AC_DECISION_HEADERS_MAX;
		    i++) {
			st = proxy_remove_header_map_value(
			    APX_MAP_REQUEST_HEADERS, d->remove[i].ptr,
			    d->remove[i].len);
			/* a spoofed identity header we cannot strip must
			 * not reach the upstream */
			if (st != APX_OK && st != APX_NOT_FOUND)
				return fail_closed("cannot remove a header");
		}
		for (i = 0; i < d->n_add && i < AC_DECISION_HEADERS_MAX; i++) {
			st = proxy_replace_header_map_value(
			    APX_MAP_REQUEST_HEADERS, d->add[i].name.ptr,
			    d->add[i].name.len, d->add[i].value.ptr,
			    d->add[i].value.len);
			if (st != APX_OK)
				return fail_closed("cannot set a header");
		}
		return APX_CONTINUE;
	}
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

APX_EXPORT(proxy_on_request_headers)
uint32_t proxy_on_request_headers(uint32_t id, size_t n_headers,
    uint32_t end_of_stream)
{
	static const char source_address[] = "source\0address";
	apx_stream *s = stream_find(id);
	apx_root *r;
	uint8_t *map = NULL, *addr = NULL;
	size_t map_len = 0, addr_len = 0;
	ac_request req;
	__wasi_timestamp_t ns = 0;
	uint8_t entropy[16];
	size_t entropy_len = sizeof(entropy);
	uint32_t action;

	(void)n_headers;
	(void)end_of_stream;
	if (s == NULL)
		return fail_closed("out of memory (stream)");
	r = root_find(s->root_id);
	if (r == NULL || r->policy == NULL)
		return fail_closed("no policy loaded");

	memset(&req, 0, sizeof(req));
	if (proxy_get_header_map_pairs(APX_MAP_REQUEST_HEADERS, &map,
	    &map_len) != APX_OK ||
	    parse_headers(map, map_len, &req, s->headers) != 0) {
		free(map);
		return fail_closed("cannot read the request headers");
	}
	req.headers = s->headers;
	if (proxy_get_property(source_address, sizeof(source_address) - 1,
	    &addr, &addr_len) == APX_OK && addr != NULL)
		req.client_ip = strip_port((const char *)addr, addr_len);

	if (__wasi_clock_time_get(__WASI_CLOCKID_REALTIME, 1000000000ull,
	    &ns) != 0) {
		free(map);
		free(addr);
		return fail_closed("no clock");
	}
	if (__wasi_random_get(entropy, sizeof(entropy)) != 0)
		entropy_len = 0;

	ac_decide(r->policy, NULL, &req, (int64_t)(ns / 1000000000ull),
	    entropy_len ? entropy : NULL, entropy_len, &s->decision);
	action = apply(&s->decision);
	if (s->decision.audit_len > 0 && s->decision.audit_len <= AC_AUDIT_MAX)
		(void)proxy_log(APX_LOG_INFO, s->decision.audit,
		    s->decision.audit_len);
	free(map);
	free(addr);
	return action;
}

APX_EXPORT(proxy_on_done) uint32_t proxy_on_done(uint32_t id)
{
	(void)id;
	return 1;
}

APX_EXPORT(proxy_on_log) void proxy_on_log(uint32_t id)
{
	(void)id;
}

APX_EXPORT(proxy_on_delete) void proxy_on_delete(uint32_t id)
{
	apx_stream **sp = &apx_streams[id % APX_BUCKETS];
	apx_root **rp = &apx_roots[id % APX_BUCKETS];

	for (; *sp != NULL; sp = &(*sp)->next) {
		if ((*sp)->id == id) {
			apx_stream *s = *sp;

			*sp = s->next;
			free(s);
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
