/*
 * acw - the flat ABI that JavaScript hosts call in the wasm builds.
 *
 * JavaScript cannot place C structs, so this layer owns them: a loaded policy
 * lives in one malloc'd block (the wasm module's own heap, not the core's),
 * and a request crosses the boundary as one NUL-separated byte string:
 *
 *   method \0 path \0 client_ip \0 https("0"|"1") \0 (name \0 value \0)*
 *
 * The decision comes back as the JSON of ac_decision_json(). One call in,
 * one call out: the host reads the request once and applies the answer once.
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

typedef struct {
	const ac_policy *policy;
	ac_decision decision;
	ac_header headers[AC_HEADERS_MAX];
	char out[16384];
	size_t out_len;
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

/* Loads a policy. Returns a context, or NULL with "path: message" written to
 * err (NUL-terminated, truncated to err_cap). */
ACW_EXPORT acw_ctx *acw_load(const char *json, size_t json_len, char *err,
    size_t err_cap)
{
	ac_policy_error pe;
	size_t mem_len, used;
	acw_ctx *ctx;

	if (json_len > AC_POLICY_JSON_MAX) {
		if (err_cap) {
			strncpy(err, "$: policy larger than 1 MiB", err_cap - 1);
			err[err_cap - 1] = 0;
		}
		return NULL;
	}
	mem_len = ac_policy_mem_bound(json_len);
	ctx = malloc(sizeof *ctx + mem_len);
	if (ctx == NULL) {
		if (err_cap) {
			strncpy(err, "$: out of memory", err_cap - 1);
			err[err_cap - 1] = 0;
		}
		return NULL;
	}
	ctx->policy = ac_policy_load(ctx + 1, mem_len, json, json_len, &used,
	    &pe);
	if (ctx->policy == NULL) {
		if (err_cap) {
			size_t pl = strlen(pe.path), ml = strlen(pe.message);
			size_t n = 0;
			for (size_t i = 0; i < pl && n + 1 < err_cap; i++)
				err[n++] = pe.path[i];
			if (n + 1 < err_cap)
				err[n++] = ':';
			if (n + 1 < err_cap)
				err[n++] = ' ';
			for (size_t i = 0; i < ml && n + 1 < err_cap; i++)
				err[n++] = pe.message[i];
			err[n] = 0;
		}
		free(ctx);
		return NULL;
	}
	return ctx;
}

ACW_EXPORT void acw_unload(acw_ctx *ctx)
{
	free(ctx);
}

static size_t next_field(const char *s, size_t len, size_t *pos, ac_str *out)
{
	size_t start = *pos;
	while (*pos < len && s[*pos] != 0)
		(*pos)++;
	if (*pos >= len)
		return 0;
	out->ptr = s + start;
	out->len = *pos - start;
	(*pos)++;
	return 1;
}

/* Decides one request (format above). Returns a pointer to the decision
 * JSON (valid until the next call on this context) and its length in
 * *out_len; NULL if the request bytes are malformed. */
ACW_EXPORT const char *acw_decide(acw_ctx *ctx, const char *req,
    size_t req_len, double now, const uint8_t *entropy, size_t entropy_len,
    size_t *out_len)
{
	ac_request r;
	ac_str https;
	size_t pos = 0, n = 0;

	memset(&r, 0, sizeof r);
	if (!next_field(req, req_len, &pos, &r.method) ||
	    !next_field(req, req_len, &pos, &r.path) ||
	    !next_field(req, req_len, &pos, &r.client_ip) ||
	    !next_field(req, req_len, &pos, &https))
		return NULL;
	r.https = https.len == 1 && https.ptr[0] == '1';
	while (pos < req_len && n < AC_HEADERS_MAX) {
		if (!next_field(req, req_len, &pos, &ctx->headers[n].name) ||
		    !next_field(req, req_len, &pos, &ctx->headers[n].value))
			return NULL;
		n++;
	}
	r.too_many_headers = pos < req_len;
	r.headers = ctx->headers;
	r.n_headers = n;
	ac_decide(ctx->policy, NULL, &r, (int64_t)now, entropy, entropy_len,
	    &ctx->decision);
	ctx->out_len = ac_decision_json(&ctx->decision, ctx->out,
	    sizeof ctx->out);
	*out_len = ctx->out_len;
	return ctx->out_len ? ctx->out : NULL;
}
