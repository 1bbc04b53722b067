/*
 * authcore for nginx: the policy's Redis through hiredis, driven by the
 * worker's event loop (an adapter in the manner of hiredis's own for
 * libevent and libev: hiredis asks to watch a socket for reading or
 * writing, nginx tells it when the socket is ready).
 *
 * Each worker keeps, per Redis server, at most store.redis.pool
 * connections, opened when first needed and picked in turn. A command is
 * sent on one of them (hiredis pipelines: no connection waits for another
 * command's reply to send its own) and waited for at most timeout_ms: a
 * later reply is dropped. A connection with AC_NGX_REDIS_BACKLOG commands
 * unanswered (a Redis that stopped answering) takes no more. A lost
 * connection fails the commands it carried; the next command connects
 * again, so recovery needs nothing. Host names are resolved when
 * connecting, blocking the worker for the lookup: give an address.
 */
#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>

#include <hiredis/hiredis.h>
#include <hiredis/async.h>

#include "ngx_http_authcore_redis.h"

#define AC_NGX_REDIS_SERVERS 8
#define AC_NGX_REDIS_POOL_MAX 64
#define AC_NGX_REDIS_BACKLOG 1024

typedef struct ngx_http_authcore_redis_server_s ngx_http_authcore_redis_server_t;

typedef struct {
	redisAsyncContext *ac;     /* NULL: closed */
	ngx_connection_t *c;       /* its socket in nginx's event loop */
	ngx_http_authcore_redis_server_t *srv;
	ngx_uint_t pending;        /* commands sent, not answered */
} ngx_http_authcore_redis_conn_t;

struct ngx_http_authcore_redis_server_s {
	char host[256];
	unsigned port;
	ac_str password;           /* points into the policy */
	ngx_uint_t pool;
	ngx_uint_t next;
	unsigned down:1;           /* the last attempt failed (logged once) */
	ngx_http_authcore_redis_conn_t conns[AC_NGX_REDIS_POOL_MAX];
};

struct ngx_http_authcore_redis_wait_s {
	ngx_event_t timer;
	ngx_http_authcore_redis_done_pt done; /* NULL: nobody waits */
	void *data;
	ngx_http_authcore_redis_conn_t *conn;
	int kind;
};

static ngx_http_authcore_redis_server_t ngx_http_authcore_redis_servers[
    AC_NGX_REDIS_SERVERS];
static ngx_uint_t ngx_http_authcore_redis_n;
static ngx_uint_t ngx_http_authcore_redis_failed;

ngx_uint_t
ngx_http_authcore_redis_failures(void)
{
	return ngx_http_authcore_redis_failed;
}

static void
ngx_http_authcore_redis_state(ngx_http_authcore_redis_server_t *srv,
    int up, const char *why)
{
	if (up && srv->down) {
		ngx_log_error(NGX_LOG_NOTICE, ngx_cycle->log, 0,
		    "authcore: redis %s:%ud answers again", srv->host, srv->port);
	} else if (!up && !srv->down) {
		ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
		    "authcore: redis %s:%ud failed: %s", srv->host, srv->port,
		    why);
	}
	srv->down = !up;
}

/* ---- the adapter: hiredis's socket in nginx's event loop */

static void
ngx_http_authcore_redis_read(ngx_event_t *ev)
{
	ngx_connection_t *c = ev->data;
	ngx_http_authcore_redis_conn_t *k = c->data;

	redisAsyncHandleRead(k->ac); /* may close it: touch nothing after */
}

static void
ngx_http_authcore_redis_write(ngx_event_t *ev)
{
	ngx_connection_t *c = ev->data;
	ngx_http_authcore_redis_conn_t *k = c->data;

	redisAsyncHandleWrite(k->ac);
}

static void
ngx_http_authcore_redis_add_read(void *p)
{
	ngx_http_authcore_redis_conn_t *k = p;

	if (k->c != NULL && !k->c->read->active) {
		(void) ngx_add_event(k->c->read, NGX_READ_EVENT, NGX_LEVEL_EVENT);
	}
}

static void
ngx_http_authcore_redis_del_read(void *p)
{
	ngx_http_authcore_redis_conn_t *k = p;

	if (k->c != NULL && k->c->read->active) {
		(void) ngx_del_event(k->c->read, NGX_READ_EVENT, 0);
	}
}

static void
ngx_http_authcore_redis_add_write(void *p)
{
	ngx_http_authcore_redis_conn_t *k = p;

	if (k->c != NULL && !k->c->write->active) {
		(void) ngx_add_event(k->c->write, NGX_WRITE_EVENT,
		    NGX_LEVEL_EVENT);
	}
}

static void
ngx_http_authcore_redis_del_write(void *p)
{
	ngx_http_authcore_redis_conn_t *k = p;

	if (k->c != NULL && k->c->write->active) {
		(void) ngx_del_event(k->c->write, NGX_WRITE_EVENT, 0);
	}
}

/* hiredis closes the socket next: out of the event loop first */
static void
ngx_http_authcore_redis_cleanup(void *p)
{
	ngx_http_authcore_redis_conn_t *k = p;
	ngx_connection_t *c = k->c;

	if (c == NULL) {
		return;
	}
	if (c->read->active) {
		(void) ngx_del_event(c->read, NGX_READ_EVENT, NGX_CLOSE_EVENT);
	}
	if (c->write->active) {
		(void) ngx_del_event(c->write, NGX_WRITE_EVENT, NGX_CLOSE_EVENT);
	}
	if (c->read->posted) {
		ngx_delete_posted_event(c->read);
	}
	if (c->write->posted) {
		ngx_delete_posted_event(c->write);
	}
	c->fd = (ngx_socket_t) -1;
	ngx_free_connection(c);
	k->c = NULL;
}

static void
ngx_http_authcore_redis_connected(const redisAsyncContext *ac, int status)
{
	ngx_http_authcore_redis_conn_t *k = ac->ev.data;

	if (status != REDIS_OK) {
		/* hiredis frees it (and fails its commands) after this */
		ngx_http_authcore_redis_state(k->srv, 0, ac->errstr);
		k->ac = NULL;
		k->pending = 0;
		return;
	}
	ngx_http_authcore_redis_state(k->srv, 1, NULL);
}

static void
ngx_http_authcore_redis_closed(const redisAsyncContext *ac, int status)
{
	ngx_http_authcore_redis_conn_t *k = ac->ev.data;

	if (status != REDIS_OK) {
		ngx_http_authcore_redis_state(k->srv, 0,
		    ac->errstr[0] ? ac->errstr : "connection lost");
	}
	k->ac = NULL;
	k->pending = 0;
}

static void
ngx_http_authcore_redis_ignore(redisAsyncContext *ac, void *reply, void *p)
{
	(void) ac;
	(void) reply;
	(void) p;
}

/* A new connection for slot k, or -1. */
static ngx_int_t
ngx_http_authcore_redis_open(ngx_http_authcore_redis_conn_t *k)
{
	ngx_http_authcore_redis_server_t *srv = k->srv;
	redisAsyncContext *ac;
	ngx_connection_t *c;

	ac = redisAsyncConnect(srv->host, (int) srv->port);
	if (ac == NULL || ac->err) {
		ngx_http_authcore_redis_state(srv, 0,
		    ac != NULL ? ac->errstr : "out of memory");
		if (ac != NULL) {
			redisAsyncFree(ac);
		}
		return -1;
	}
	c = ngx_get_connection(ac->c.fd, ngx_cycle->log);
	if (c == NULL) {
		redisAsyncFree(ac);
		return -1;
	}
	c->data = k;
	c->read->handler = ngx_http_authcore_redis_read;
	c->write->handler = ngx_http_authcore_redis_write;
	c->read->log = c->log;
	c->write->log = c->log;
	k->c = c;
	k->ac = ac;
	k->pending = 0;
	ac->ev.data = k;
	ac->ev.addRead = ngx_http_authcore_redis_add_read;
	ac->ev.delRead = ngx_http_authcore_redis_del_read;
	ac->ev.addWrite = ngx_http_authcore_redis_add_write;
	ac->ev.delWrite = ngx_http_authcore_redis_del_write;
	ac->ev.cleanup = ngx_http_authcore_redis_cleanup;
	(void) redisAsyncSetConnectCallback(ac,
	    ngx_http_authcore_redis_connected);
	(void) redisAsyncSetDisconnectCallback(ac,
	    ngx_http_authcore_redis_closed);
	if (srv->password.len > 0) {
		const char *argv[2] = { "AUTH", srv->password.ptr };
		size_t lens[2] = { 4, srv->password.len };
		/* sent first on the connection; a refusal shows in the
		 * replies of the commands after it */
		(void) redisAsyncCommandArgv(ac, ngx_http_authcore_redis_ignore,
		    NULL, 2, argv, lens);
	}
	return 0;
}

/* The server entry of the policy's Redis, made on first use. */
static ngx_http_authcore_redis_server_t *
ngx_http_authcore_redis_server(const ac_policy *policy)
{
	ngx_http_authcore_redis_server_t *srv;
	ac_redis_config cfg;
	ngx_uint_t i;

	if (!ac_policy_redis(policy, &cfg) || cfg.host.len >= sizeof(srv->host)) {
		return NULL;
	}
	for (i = 0; i < ngx_http_authcore_redis_n; i++) {
		srv = &ngx_http_authcore_redis_servers[i];
		if (srv->port == cfg.port
		    && ngx_strlen(srv->host) == cfg.host.len
		    && ngx_memcmp(srv->host, cfg.host.ptr, cfg.host.len) == 0
		    && srv->password.len == cfg.password.len
		    && ngx_memcmp(srv->password.ptr, cfg.password.ptr,
		        cfg.password.len) == 0) {
			return srv;
		}
	}
	if (ngx_http_authcore_redis_n == AC_NGX_REDIS_SERVERS) {
		return NULL;
	}
	srv = &ngx_http_authcore_redis_servers[ngx_http_authcore_redis_n++];
	ngx_memzero(srv, sizeof(*srv));
	ngx_memcpy(srv->host, cfg.host.ptr, cfg.host.len);
	srv->port = cfg.port;
	srv->password = cfg.password;
	srv->pool = cfg.pool < AC_NGX_REDIS_POOL_MAX ? cfg.pool
	            : AC_NGX_REDIS_POOL_MAX;
	for (i = 0; i < srv->pool; i++) {
		srv->conns[i].srv = srv;
	}
	return srv;
}

/* ---- commands */

static void
ngx_http_authcore_redis_finish(ngx_http_authcore_redis_wait_t *w, int error,
    const ac_str *items, size_t n, long long applied)
{
	ngx_http_authcore_redis_done_pt done = w->done;

	w->done = NULL;
	if (w->timer.timer_set) {
		ngx_del_timer(&w->timer);
	}
	if (done != NULL) {
		if (error) {
			ngx_http_authcore_redis_failed++;
		}
		done(w->data, error, items, n, applied);
	}
}

static void
ngx_http_authcore_redis_reply(redisAsyncContext *ac, void *r, void *p)
{
	ngx_http_authcore_redis_wait_t *w = p;
	ngx_http_authcore_redis_conn_t *k = ac->ev.data;
	redisReply *rep = r;
	ac_str items[2 * AC_STORE_OPS_MAX];
	size_t i, n = 0;
	long long applied = 0;
	int error = 1;

	if (k != NULL && k->pending > 0) {
		k->pending--;
	}
	if (rep == NULL) {
		/* the connection went (closed, freed) */
	} else if (w->kind == AC_REDIS_WRITES
	    && rep->type == REDIS_REPLY_INTEGER) {
		applied = rep->integer;
		error = 0;
	} else if (w->kind == AC_REDIS_READS && rep->type == REDIS_REPLY_ARRAY
	    && rep->elements <= 2 * AC_STORE_OPS_MAX) {
		error = 0;
		for (i = 0; i < rep->elements; i++) {
			redisReply *e = rep->element[i];
			items[i].ptr = e->type == REDIS_REPLY_STRING ? e->str : NULL;
			items[i].len = e->type == REDIS_REPLY_STRING
			               ? (size_t) e->len : 0;
		}
		n = rep->elements;
	} else if (rep->type == REDIS_REPLY_ERROR && w->done != NULL) {
		ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
		    "authcore: redis answered an error: %s", rep->str);
	}
	ngx_http_authcore_redis_finish(w, error, items, n, applied);
	ngx_free(w);
}

static void
ngx_http_authcore_redis_timeout(ngx_event_t *ev)
{
	ngx_http_authcore_redis_wait_t *w = ev->data;

	if (w->done != NULL) {
		ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
		    "authcore: redis did not answer within store.redis.timeout_ms");
	}
	/* the reply, if it comes, frees w */
	ngx_http_authcore_redis_finish(w, 1, NULL, 0, 0);
}

ngx_http_authcore_redis_wait_t *
ngx_http_authcore_redis_send(const ac_policy *policy, const ac_redis_cmd *cmd,
    ngx_http_authcore_redis_done_pt done, void *data)
{
	ngx_http_authcore_redis_server_t *srv;
	ngx_http_authcore_redis_conn_t *k = NULL;
	ngx_http_authcore_redis_wait_t *w;
	const char *argv[AC_REDIS_ARGC_MAX];
	size_t lens[AC_REDIS_ARGC_MAX], i;
	ac_redis_config cfg;

	srv = ngx_http_authcore_redis_server(policy);
	if (srv == NULL || !ac_policy_redis(policy, &cfg)) {
		ngx_http_authcore_redis_failed++;
		return NULL;
	}
	/* the next connection in turn that is open, or can be opened, and
	 * not stuck */
	for (i = 0; i < srv->pool; i++) {
		ngx_http_authcore_redis_conn_t *t;

		t = &srv->conns[(srv->next + i) % srv->pool];
		if (t->ac == NULL && ngx_http_authcore_redis_open(t) != 0) {
			break; /* cannot connect now: the others cannot either */
		}
		if (t->ac != NULL && t->pending < AC_NGX_REDIS_BACKLOG) {
			k = t;
			srv->next = (srv->next + i + 1) % srv->pool;
			break;
		}
	}
	if (k == NULL) {
		ngx_http_authcore_redis_failed++;
		return NULL;
	}
	w = ngx_calloc(sizeof(*w), ngx_cycle->log);
	if (w == NULL) {
		ngx_http_authcore_redis_failed++;
		return NULL;
	}
	for (i = 0; i < cmd->argc; i++) {
		argv[i] = cmd->argv[i].ptr;
		lens[i] = cmd->argv[i].len;
	}
	w->done = done;
	w->data = data;
	w->conn = k;
	w->kind = cmd->kind;
	if (redisAsyncCommandArgv(k->ac, ngx_http_authcore_redis_reply, w,
	        (int) cmd->argc, argv, lens) != REDIS_OK) {
		ngx_free(w);
		ngx_http_authcore_redis_failed++;
		return NULL;
	}
	k->pending++;
	w->timer.handler = ngx_http_authcore_redis_timeout;
	w->timer.data = w;
	w->timer.log = ngx_cycle->log;
	ngx_add_timer(&w->timer, cfg.timeout_ms);
	return w;
}

void
ngx_http_authcore_redis_cancel(ngx_http_authcore_redis_wait_t *w)
{
	if (w == NULL) {
		return;
	}
	w->done = NULL;
	if (w->timer.timer_set) {
		ngx_del_timer(&w->timer);
	}
}
