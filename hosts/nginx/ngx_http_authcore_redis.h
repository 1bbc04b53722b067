/*
 * authcore for nginx: the policy's Redis (store.redis), reached through
 * hiredis on the worker's event loop. One pool of connections per worker
 * and server, at most the policy's store.redis.pool of them; a command
 * waits at most store.redis.timeout_ms.
 */
#ifndef NGX_HTTP_AUTHCORE_REDIS_H
#define NGX_HTTP_AUTHCORE_REDIS_H

#include <ngx_config.h>
#include <ngx_core.h>

#include "authcore.h"

/* Redis's reply to a command, or its failure (error 1: refused, lost, an
 * error reply, or no answer within the timeout). items and the strings
 * they point to live only during the call. */
typedef void (*ngx_http_authcore_redis_done_pt)(void *data, int error,
    const ac_str *items, size_t n, long long applied);

typedef struct ngx_http_authcore_redis_wait_s ngx_http_authcore_redis_wait_t;

/* Sends cmd to the policy's Redis; done(data, ...) is called once, later,
 * on the event loop, unless the wait is cancelled first. NULL if it could
 * not be sent at all (the caller fails the step at once). */
ngx_http_authcore_redis_wait_t *ngx_http_authcore_redis_send(
    const ac_policy *policy, const ac_redis_cmd *cmd,
    ngx_http_authcore_redis_done_pt done, void *data);

/* The caller no longer waits: done is never called for w. */
void ngx_http_authcore_redis_cancel(ngx_http_authcore_redis_wait_t *w);

/* Failed store steps in this worker since it started. */
ngx_uint_t ngx_http_authcore_redis_failures(void);

#endif
