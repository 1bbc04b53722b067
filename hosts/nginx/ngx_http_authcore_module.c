/*
 * nginx host shim for authcore: an access-phase handler that reads the
 * request once into an ac_request, calls the core once and applies the
 * decision once. Every policy decision lives in core/; this file only
 * translates between nginx's request structures and the core's.
 *
 * Three things make a decision asynchronous, and all come back to the same
 * handler through the phase engine (ngx_http_core_run_phases):
 *  - a login post: the core needs the request body (ac_wants_body), so it
 *    is read first (ngx_http_read_client_request_body);
 *  - a password check (action AC_PENDING): its PBKDF2 iterations run in
 *    nginx's thread pool, or in slices on the event loop, and the decision
 *    is finished with ac_decide_finish back on the event loop, or given up
 *    with ac_decide_abandon when the client goes away meanwhile;
 *  - keys from a policy's "jwt"."jwks_uri": a decision pending on a fetch
 *    (answer.wait AC_WAIT_FETCH) makes an in-memory subrequest to the
 *    internal location `authcore_fetch` names, which proxies to
 *    $authcore_fetch_url; its status, Content-Type and body go to the core
 *    (ac_decide_fetched). The module's own timer bounds the wait
 *    (answer.fetch.timeout_ms): then, or past max_bytes, the fetch has
 *    failed and its subrequest is stopped. The keys a fetch brings are
 *    published in the shared zone, and every worker takes them before its
 *    next decision: the workers fetch once for them all.
 * How many checks are in flight is the core's to bound (login.max_pending,
 * per state: here the zone, so all workers together); past it the core
 * answers 503 overloaded itself, before any hashing.
 * The core's mutable state (ac_state: login attempt counters, verified
 * Basic credentials) lives in a shared memory zone that every worker maps;
 * only the calls that need it (ac_needs: login posts, Basic credentials)
 * hold the zone's mutex, never while hashing. Token, session and API key
 * requests are decided without the state and take no lock.
 *
 * The request target decided on is the one the upstream gets: what
 * proxy_pass (without a URI part) forwards at the time of the access phase,
 * after rewrites, and after every internal redirect, which decides again.
 *
 * Licensed under the MIT license (see LICENSE).
 */
#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#if (NGX_THREADS)
#include <ngx_thread_pool.h>
#endif

#if (NGX_LINUX)
#include <sys/random.h>
#endif

#include "authcore.h"
#include "ngx_http_authcore_redis.h"

#define AC_NGX_ENTROPY_LEN 32
#define AC_NGX_ENV_VARS 64       /* AUTHCORE_* variables read at most */
/* PBKDF2 iterations per event-loop slice when no thread pool is used:
 * well under a millisecond of SHA-256 on a current x86-64 core. */
#define AC_NGX_SLICE_ITERATIONS 2000
/* While a check is under way a timer stays armed (and re-arms itself), so
 * that a worker shutting down gracefully waits for the check to end. */
#define AC_NGX_GUARD_MSEC 60000

static ngx_str_t ngx_http_authcore_zone_name = ngx_string("authcore_state");

typedef struct {
	/* NGX_CONF_UNSET_PTR until configured; NULL for "off". The policy
	 * lives in memory from the configuration pool. */
	const ac_policy *policy;
	/* its rate-limit table in the zone (ngx_http_authcore_shctx_t),
	 * -1 when the policy has no rate limits */
	ngx_int_t table;
	/* its worker's key cache (ngx_http_authcore_jwks) and its copy in
	 * the zone (ngx_http_authcore_shctx_t keys), -1 when the policy
	 * fetches nothing (no jwt.jwks_uri, discovery or "oidc") */
	ngx_int_t jwks;
	/* the policy file, for messages */
	ngx_str_t name;
	/* authcore_fetch: the internal location key fetches go through;
	 * unset (data NULL), or empty for "off" */
	ngx_str_t fetch;
} ngx_http_authcore_loc_conf_t;

/*
 * A policy's fetched keys (and providers' configurations) as the workers
 * share them: the cache the last worker whose fetch changed it published,
 * and a version bumped at each publication. A worker reads the version
 * without the lock before each decision and copies the cache, under the
 * zone's mutex, only when it moved; no lock is held during a decision.
 * An ac_jwks_cache holds no pointers, so a copy is a memcpy.
 */
typedef struct {
	ngx_atomic_t version;  /* 0: nothing published yet */
	ac_jwks_cache *cache;  /* ac_sizeof_jwks_cache() bytes in the zone */
	/* set, under the mutex, when a reload left no policy to the copy:
	 * the old workers still running stop using it (each keeps its own
	 * keys), and its memory may serve a new policy */
	ngx_atomic_t retired;
} ngx_http_authcore_shkeys_t;

/*
 * What the zone holds: the ac_state every worker shares, and one ac_table
 * per authcore_policy directive that has rate limits, in the order of the
 * directives, each sized by its policy's rate_limits.store. One table per
 * policy, not one for all: keys ("g<index>") name a group of the table the
 * policy sized, with nothing of the policy in them, so two policies in one
 * table would share groups (and evict each other's buckets); apart, each
 * policy gets exactly the room it declares. And, for each policy that
 * fetches keys, their shared copy (ngx_http_authcore_shkeys_t).
 */
typedef struct {
	ac_state *state;
	/* one per policy that fetches (the loc conf's jwks index), shared
	 * with the old workers of a reload (the n-th policy that fetches
	 * takes over the n-th copy); a
	 * NULL entry, or n_keys short of it (no room in a zone a reload
	 * kept), leaves that policy's workers each with their own keys */
	ngx_http_authcore_shkeys_t **keys;
	ngx_uint_t n_keys;
	/* store steps Redis failed (refused, timed out, an error reply),
	 * by every worker: $authcore_store_errors */
	ngx_atomic_t store_errors;
	ngx_uint_t n_tables;
	ac_table *table[1]; /* n_tables of them */
} ngx_http_authcore_shctx_t;

typedef struct {
	/* The shared zone, added with the first authcore_policy; NULL when
	 * no policy is configured. shm_zone->data is this configuration; its
	 * size is set once every policy is read (init_main_conf). */
	ngx_shm_zone_t *zone;
	/* in the zone once it is mapped */
	ngx_http_authcore_shctx_t *sh;
	/* the policies with rate limits (const ac_policy *), one table each */
	ngx_array_t *rl_policies;
	/* authcore_thread_pool: a pool name, "off", or unset (data NULL) */
	ngx_str_t thread_pool_name;
	/* the most jwt.cache entries any policy asks for: the size of each
	 * worker's cache of verified signatures */
	size_t jwt_cache_entries;
	/* how many policies fetch keys: each worker keeps one key cache
	 * for each, and the zone one shared copy of it */
	ngx_uint_t n_jwks;
#if (NGX_THREADS)
	/* NULL: password checks step in slices on the event loop */
	ngx_thread_pool_t *thread_pool;
#endif
} ngx_http_authcore_main_conf_t;

/* Where a request's decision stands; each state is entered once. */
typedef enum {
	AC_NGX_BODY = 1, /* reading the login body */
	AC_NGX_PENDING,  /* the password check is running */
	AC_NGX_FETCH,    /* the key fetch (a subrequest) is under way */
	AC_NGX_FETCHED,  /* its outcome is in, not handed to the core yet */
	AC_NGX_REDIS,    /* a store step is waiting for Redis */
	AC_NGX_DECIDED,  /* final decision, not applied yet */
	AC_NGX_APPLIED   /* applied; rc is the access phase's answer */
} ngx_http_authcore_step_e;

/*
 * Per-request context, from r->pool. The request, and so this context, is
 * kept alive while a check is under way by r->main->blocked: nginx frees
 * neither the request nor its pool while blocked is non-zero, even when the
 * client goes away (ngx_http_terminate_request then only marks it).
 */
typedef struct {
	ngx_http_request_t *r;
	const ac_policy *policy;   /* the policy the decision used */
	ac_request req;            /* points into r (headers, body) */
	ac_decision *d;            /* ~28 KB, a spare; responses point into it */
	unsigned needs;            /* ac_needs() for this pass: AC_NEEDS_* */
	ngx_str_t target;          /* what the upstream gets ($authcore_uri) */
	ngx_http_authcore_step_e step;
	ngx_int_t rc;
	ngx_event_t slice;         /* slice stepping (no thread pool) */
	ngx_event_t guard;         /* armed while the check runs */
	/* set on the event loop when the client goes away during the check;
	 * the pool thread reads it between slices */
	ngx_atomic_t gone;
	ac_table *table;           /* the policy's rate-limit table, or NULL */
	/* an allowed answer's connection caps, released when the request
	 * ends (r->pool goes) or is decided again after a redirect */
	uint8_t lease[AC_LEASE_MAX];
	size_t lease_len;
	unsigned in_thread:1;      /* the check runs in the thread pool */
	unsigned resp_added:1;     /* allow: resp_headers went out */
	/* keys from jwt.jwks_uri */
	ac_jwks_cache *jwks;       /* the policy's cache in this worker */
	ngx_int_t jwks_index;      /* its index (loc conf's jwks), or -1 */
	unsigned fetch_get:1;      /* the fetch is a GET: keys or a
	                              configuration, never a token request */
	ngx_str_t fetch_uri;       /* authcore_fetch of the location */
	ngx_str_t fetch_url;       /* $authcore_fetch_url: what to GET */
	struct ngx_http_authcore_fetch_s *fetch; /* the subrequest waited for */
	ngx_http_request_t *fetch_sr; /* the last one, while it runs */
	ngx_event_t fetch_timer;   /* answer.fetch.timeout_ms */
	ngx_event_t fetch_stop;    /* stops fetch_sr's upstream, posted */
	ngx_uint_t fetch_status;   /* its outcome: 0 for a failure */
	ngx_str_t fetch_type;      /* Content-Type */
	ngx_str_t fetch_body;
	/* the policy's Redis (store.redis): the step's command, its wait,
	 * and the reply while it is handed to the core */
	ac_redis_cmd *redis_cmd;   /* from r->pool, when first needed */
	ngx_http_authcore_redis_wait_t *redis_wait;
	unsigned redis_due:1;      /* the core's answer waits for Redis */
	int redis_error;
	const ac_str *redis_items;
	size_t redis_n;
	long long redis_applied;
} ngx_http_authcore_ctx_t;

/*
 * One key fetch: the subrequest's context (and its post_subrequest data).
 * The body filter gathers the body here, at most max bytes: a longer one
 * is a failed fetch, never cut. ctx is NULL once the main request stopped
 * waiting for it (its timer fired, or the body went over max): whatever
 * the subrequest does after that is dropped.
 */
typedef struct ngx_http_authcore_fetch_s {
	ngx_http_authcore_ctx_t *ctx;
	ngx_http_authcore_ctx_t *owner; /* the request that made it, always */
	u_char *buf;
	size_t len;
	size_t cap;
	size_t max;
	unsigned complete:1;       /* the last buffer came */
	unsigned too_big:1;        /* over max: the fetch failed */
	unsigned ended:1;          /* the subrequest was finalized */
} ngx_http_authcore_fetch_t;

static char *ngx_http_authcore_policy(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static void *ngx_http_authcore_create_main_conf(ngx_conf_t *cf);
static char *ngx_http_authcore_init_main_conf(ngx_conf_t *cf, void *conf);
static void *ngx_http_authcore_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_authcore_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static ngx_int_t ngx_http_authcore_init(ngx_conf_t *cf);
static ngx_int_t ngx_http_authcore_init_process(ngx_cycle_t *cycle);
static ngx_int_t ngx_http_authcore_add_variables(ngx_conf_t *cf);
static char *ngx_http_authcore_fetch_conf(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);

static ngx_http_output_header_filter_pt ngx_http_authcore_next_header_filter;
static ngx_http_output_body_filter_pt ngx_http_authcore_next_body_filter;

static ngx_command_t ngx_http_authcore_commands[] = {

	{ ngx_string("authcore_policy"),
	  NGX_HTTP_MAIN_CONF | NGX_HTTP_SRV_CONF | NGX_HTTP_LOC_CONF
	      | NGX_HTTP_LMT_CONF | NGX_CONF_TAKE1,
	  ngx_http_authcore_policy,
	  NGX_HTTP_LOC_CONF_OFFSET,
	  0,
	  NULL },

	{ ngx_string("authcore_thread_pool"),
	  NGX_HTTP_MAIN_CONF | NGX_CONF_TAKE1,
	  ngx_conf_set_str_slot,
	  NGX_HTTP_MAIN_CONF_OFFSET,
	  offsetof(ngx_http_authcore_main_conf_t, thread_pool_name),
	  NULL },

	{ ngx_string("authcore_fetch"),
	  NGX_HTTP_MAIN_CONF | NGX_HTTP_SRV_CONF | NGX_HTTP_LOC_CONF
	      | NGX_CONF_TAKE1,
	  ngx_http_authcore_fetch_conf,
	  NGX_HTTP_LOC_CONF_OFFSET,
	  0,
	  NULL },

	ngx_null_command
};

static ngx_http_module_t ngx_http_authcore_module_ctx = {
	ngx_http_authcore_add_variables,    /* preconfiguration */
	ngx_http_authcore_init,             /* postconfiguration */
	ngx_http_authcore_create_main_conf, /* create main configuration */
	ngx_http_authcore_init_main_conf,   /* init main configuration */
	NULL,                               /* create server configuration */
	NULL,                               /* merge server configuration */
	ngx_http_authcore_create_loc_conf,  /* create location configuration */
	ngx_http_authcore_merge_loc_conf    /* merge location configuration */
};

ngx_module_t ngx_http_authcore_module = {
	NGX_MODULE_V1,
	&ngx_http_authcore_module_ctx, /* module context */
	ngx_http_authcore_commands,    /* module directives */
	NGX_HTTP_MODULE,               /* module type */
	NULL,                          /* init master */
	NULL,                          /* init module */
	ngx_http_authcore_init_process, /* init process */
	NULL,                          /* init thread */
	NULL,                          /* exit thread */
	NULL,                          /* exit process */
	NULL,                          /* exit master */
	NGX_MODULE_V1_PADDING
};

/* ------------------------------------------------------------------ */
/* Randomness                                                          */
/* ------------------------------------------------------------------ */

/* Fills buf from the kernel CSPRNG; returns len, or 0 if it could not.
 * wait = 0 never blocks (requests); wait = 1 may block until the kernel
 * pool is seeded (start-up only). */
static size_t
ngx_http_authcore_entropy(uint8_t *buf, size_t len, int wait)
{
#if (NGX_LINUX)
	return getrandom(buf, len, wait ? 0 : GRND_NONBLOCK) == (ssize_t) len
	    ? len : 0;
#elif (NGX_FREEBSD || NGX_DARWIN)
	(void) wait;
	arc4random_buf(buf, len);
	return len;
#else
	(void) buf;
	(void) len;
	(void) wait;
	return 0;
#endif
}

/*
 * Entropy for the core calls: one getrandom(2) fills a store of
 * AC_NGX_ENTROPY_CALLS calls' worth, each handed out once and wiped after
 * its call (one system call per request was about 2% of a worker's time
 * on an HS256 token). Per worker process, filled on first use there: a
 * store filled in another process (this one forked from it) is never used.
 */
#define AC_NGX_ENTROPY_CALLS 32
static uint8_t ngx_http_authcore_random[AC_NGX_ENTROPY_LEN
    * AC_NGX_ENTROPY_CALLS];
static size_t ngx_http_authcore_random_left; /* bytes not handed out yet */
static ngx_pid_t ngx_http_authcore_random_pid;

/* AC_NGX_ENTROPY_LEN fresh random bytes (wipe them after use), or NULL if
 * the kernel has none to give without waiting. */
static uint8_t *
ngx_http_authcore_entropy_take(void)
{
	if (ngx_http_authcore_random_left < AC_NGX_ENTROPY_LEN
	    || ngx_http_authcore_random_pid != ngx_pid) {
		ngx_http_authcore_random_left = 0;
		if (ngx_http_authcore_entropy(ngx_http_authcore_random,
		        sizeof(ngx_http_authcore_random), 0)
		    != sizeof(ngx_http_authcore_random)) {
			return NULL;
		}
		ngx_http_authcore_random_left = sizeof(ngx_http_authcore_random);
		ngx_http_authcore_random_pid = ngx_pid;
	}
	ngx_http_authcore_random_left -= AC_NGX_ENTROPY_LEN;
	return ngx_http_authcore_random + ngx_http_authcore_random_left;
}

/* ------------------------------------------------------------------ */
/* Shared state                                                        */
/* ------------------------------------------------------------------ */

/*
 * The shared copies of the fetched keys, one per policy that fetches. On
 * a reload that keeps the zone, the n-th policy that fetches takes over
 * the n-th copy (the same entry: old and new workers share it while the
 * old ones finish), so new workers start with the keys the old ones held.
 * Whatever the policy now says, that is safe: the core keeps each source's
 * keys under a digest of its URL and the algorithms they were taken for,
 * so a policy with another URL, or fewer algorithms, finds none of them
 * and fetches its own (beside them, in the same copy), and one whose
 * sources are unchanged keeps them. A copy no policy takes over is retired
 * (the old workers still running stop using it and keep their own keys)
 * and its memory may serve a policy that has no copy yet. Without room
 * (only in a zone a reload kept) a policy's copy is left out and its
 * workers each keep their own keys, as a warning says.
 */
static void
ngx_http_authcore_init_keys(ngx_shm_zone_t *shm_zone,
    ngx_http_authcore_shctx_t *sh, ngx_http_authcore_shctx_t *osh)
{
	ngx_http_authcore_main_conf_t *amcf = shm_zone->data;
	ngx_slab_pool_t *shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;
	ngx_http_authcore_shkeys_t *k, *o;
	ngx_uint_t i, j, x, n, on;
	size_t size;
	void *mem;

	sh->keys = NULL;
	sh->n_keys = 0;
	n = amcf->n_jwks;
	on = osh != NULL && osh->keys != NULL ? osh->n_keys : 0;
	if (n > 0) {
		sh->keys = ngx_slab_calloc(shpool,
		    n * sizeof(ngx_http_authcore_shkeys_t *));
#ifdef AC_NGX_TEST_REWRITE
		/* the test build stands in for a zone without room (one a
		 * reload kept) when the master's environment asks for it */
		if (getenv("AC_NGX_TEST_NO_SHARED_KEYS") != NULL
		    && sh->keys != NULL) {
			ngx_slab_free(shpool, sh->keys);
			sh->keys = NULL;
		}
#endif
	}
	if (n > 0 && sh->keys == NULL) {
		ngx_log_error(NGX_LOG_WARN, shm_zone->shm.log, 0,
		    "authcore: no room to share fetched keys in zone \"%V\": "
		    "each worker fetches and keeps its own (restart nginx to "
		    "size the zone anew)", &shm_zone->shm.name);
		n = 0;
	}

	ngx_shmtx_lock(&shpool->mutex);
	/* the n-th policy that fetches takes over the n-th copy */
	for (i = 0; i < n && i < on; i++) {
		o = osh->keys[i];
		if (o != NULL && !o->retired) {
			sh->keys[i] = o;
		}
	}
	/* the others are retired: no old worker copies from or to them
	 * once this is set (both check it under the mutex) */
	for (j = 0; j < on; j++) {
		o = osh->keys[j];
		if (o == NULL) {
			continue;
		}
		for (x = 0; x < n && sh->keys[x] != o; x++) { /* void */ }
		if (x == n) {
			o->retired = 1;
		}
	}
	ngx_shmtx_unlock(&shpool->mutex);

	/* policies without a copy: an empty one, in a retired copy's memory
	 * when there is one */
	size = ac_sizeof_jwks_cache();
	for (i = 0; i < n; i++) {
		if (sh->keys[i] != NULL) {
			continue;
		}
		mem = NULL;
		for (j = 0; j < on && mem == NULL; j++) {
			o = osh->keys[j];
			if (o == NULL || !o->retired || o->cache == NULL) {
				continue;
			}
			mem = o->cache;
			o->cache = NULL; /* reused: another policy's now */
		}
		k = ngx_slab_calloc(shpool, sizeof(ngx_http_authcore_shkeys_t));
		if (mem == NULL && k != NULL) {
			mem = ngx_slab_alloc(shpool, size);
		}
		if (k != NULL) {
			k->cache = ac_jwks_cache_init(mem, size);
		}
		if (k == NULL || k->cache == NULL) {
			ngx_log_error(NGX_LOG_WARN, shm_zone->shm.log, 0,
			    "authcore: no room for the shared keys of a policy "
			    "(%uz bytes) in zone \"%V\": its workers each fetch and "
			    "keep their own (restart nginx to size the zone anew)",
			    size, &shm_zone->shm.name);
			k = NULL;
		}
		sh->keys[i] = k;
	}
	sh->n_keys = n;
}

/*
 * Places the ac_state and the rate-limit tables in the zone's slab pool,
 * once: on a reload that keeps the zone (same name, size and module), the
 * running state (attempt counters, cached credentials) is taken over as it
 * is, and so is each table whose policy keeps its store size (the n-th
 * policy with rate limits takes over the n-th table): the buckets survive
 * a reload, as limit_req's do. A table that cannot be taken over gets new
 * memory from the zone.
 */
static ngx_int_t
ngx_http_authcore_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
	ngx_http_authcore_main_conf_t *amcf = shm_zone->data;
	ngx_http_authcore_main_conf_t *old = data;
	ngx_http_authcore_shctx_t *sh, *osh;
	ngx_slab_pool_t *shpool;
	const ac_policy **pol;
	ac_state *st;
	ngx_uint_t i, n;
	size_t size;
	void *mem;
	uint8_t seed[AC_STATE_SECRET_LEN];
	int rc;

	shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;
	if (data == NULL && shm_zone->shm.exists) {
		amcf->sh = shpool->data;
		return NGX_OK;
	}
	osh = old != NULL ? old->sh : NULL;
	n = amcf->rl_policies != NULL ? amcf->rl_policies->nelts : 0;
	pol = n > 0 ? amcf->rl_policies->elts : NULL;

	sh = ngx_slab_alloc(shpool, offsetof(ngx_http_authcore_shctx_t, table)
	    + (n > 0 ? n : 1) * sizeof(ac_table *));
	if (sh == NULL) {
		return NGX_ERROR;
	}
	if (osh != NULL) {
		st = osh->state;
	} else {
		st = ngx_slab_alloc(shpool, ac_sizeof_state());
		if (st == NULL) {
			return NGX_ERROR;
		}
		if (ngx_http_authcore_entropy(seed, sizeof(seed), 1)
		    != sizeof(seed)) {
			ngx_log_error(NGX_LOG_EMERG, shm_zone->shm.log, 0,
			    "authcore: no randomness for the shared state");
			return NGX_ERROR;
		}
		rc = ac_state_init(st, seed, sizeof(seed));
		ngx_explicit_memzero(seed, sizeof(seed));
		if (rc != 0) {
			return NGX_ERROR;
		}
	}
	sh->state = st;
	/* a reload keeps counting */
	sh->store_errors = osh != NULL ? osh->store_errors : 0;
	sh->n_tables = n;
	for (i = 0; i < n; i++) {
		size = ac_table_size(pol[i]);
		sh->table[i] = osh != NULL && i < osh->n_tables
		    ? ac_table_attach(osh->table[i], size, pol[i]) : NULL;
		if (sh->table[i] != NULL) {
			continue;
		}
		mem = ngx_slab_alloc(shpool, size);
		sh->table[i] = ac_table_init(mem, size, pol[i]);
		if (sh->table[i] == NULL) {
			/* only after reloads that kept the zone but not a table's
			 * size: a restart sizes the zone anew */
			ngx_log_error(NGX_LOG_EMERG, shm_zone->shm.log, 0,
			    "authcore: no room for a rate-limit table of %uz bytes "
			    "in zone \"%V\" (restart nginx to size it anew)",
			    size, &shm_zone->shm.name);
			return NGX_ERROR;
		}
	}

	ngx_http_authcore_init_keys(shm_zone, sh, osh);
	shpool->data = sh;
	amcf->sh = sh;
	return NGX_OK;
}

/* Takes the zone's mutex; every worker's calls into the core that use
 * the state (ac_needs says AC_NEEDS_STATE) are serialized by it. Held for
 * one ac_decide_next, never while hashing. */
static ac_state *
ngx_http_authcore_lock(ngx_http_authcore_main_conf_t *amcf)
{
	ngx_slab_pool_t *shpool = (ngx_slab_pool_t *) amcf->zone->shm.addr;

	ngx_shmtx_lock(&shpool->mutex);
	return amcf->sh->state;
}

static void
ngx_http_authcore_unlock(ngx_http_authcore_main_conf_t *amcf)
{
	ngx_slab_pool_t *shpool = (ngx_slab_pool_t *) amcf->zone->shm.addr;

	ngx_shmtx_unlock(&shpool->mutex);
}

/* ------------------------------------------------------------------ */
/* Configuration                                                       */
/* ------------------------------------------------------------------ */

/* The administrator bootstrap variables, as the master sees them when it
 * reads the configuration; copied, empty counts as unset. */
static ngx_int_t
ngx_http_authcore_getenv(ngx_conf_t *cf, const char *name, ac_str *out)
{
	const char *v;
	size_t len;
	u_char *p;

	out->ptr = NULL;
	out->len = 0;
	v = getenv(name);
	if (v == NULL || *v == '\0') {
		return NGX_OK;
	}
	len = ngx_strlen(v);
	p = ngx_pnalloc(cf->pool, len);
	if (p == NULL) {
		return NGX_ERROR;
	}
	ngx_memcpy(p, v, len);
	out->ptr = (const char *) p;
	out->len = len;
	return NGX_OK;
}

/* The shared zone, added with the first policy of the http block; its
 * size is set by ngx_http_authcore_zone_size once every policy is read. */
static ngx_int_t
ngx_http_authcore_add_zone(ngx_conf_t *cf)
{
	ngx_http_authcore_main_conf_t *amcf;

	amcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_authcore_module);
	if (amcf->zone != NULL) {
		return NGX_OK;
	}
	amcf->zone = ngx_shared_memory_add(cf, &ngx_http_authcore_zone_name,
	    0, &ngx_http_authcore_module);
	if (amcf->zone == NULL) {
		return NGX_ERROR;
	}
	if (amcf->zone->data != NULL) {
		ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
		    "shared memory zone \"%V\" is already used",
		    &ngx_http_authcore_zone_name);
		return NGX_ERROR;
	}
	amcf->zone->init = ngx_http_authcore_init_zone;
	amcf->zone->data = amcf;
	return NGX_OK;
}

/*
 * The zone's size, from what it must hold: the state, the directory, each
 * policy's table (ac_table_size: rate_limits.store keys at 32 bytes), the
 * shared copy of each fetching policy's keys (ac_sizeof_jwks_cache) and
 * their versions, each in whole pages as the slab pool hands them out,
 * plus the slab pool's own bookkeeping (a page descriptor per page, its
 * header, alignment). No directive to size it: raising a policy's
 * rate_limits.store raises it, and so does a policy that fetches keys.
 */
static size_t
ngx_http_authcore_zone_size(ngx_http_authcore_main_conf_t *amcf)
{
	const ac_policy **pol;
	ngx_uint_t i, n;
	size_t size;

	n = amcf->rl_policies != NULL ? amcf->rl_policies->nelts : 0;
	pol = n > 0 ? amcf->rl_policies->elts : NULL;
	size = ngx_align(ac_sizeof_state(), ngx_pagesize)
	    + ngx_align(offsetof(ngx_http_authcore_shctx_t, table)
	        + (n + 1) * sizeof(ac_table *), ngx_pagesize);
	for (i = 0; i < n; i++) {
		size += ngx_align(ac_table_size(pol[i]), ngx_pagesize);
	}
	if (amcf->n_jwks > 0) {
		/* the copies, and a page for the small entries' slab */
		size += amcf->n_jwks * ngx_align(ac_sizeof_jwks_cache(), ngx_pagesize)
		    + ngx_align(amcf->n_jwks * (sizeof(ngx_http_authcore_shkeys_t)
		        + sizeof(ngx_http_authcore_shkeys_t *)), ngx_pagesize)
		    + ngx_pagesize;
	}
	return size + size / 128 + 8 * ngx_pagesize;
}


/* What the policy cannot do as written (ac_policy_warnings): logged at
 * load, like `authcore policy check`; the policy still loads. */
static void
ngx_http_authcore_log_warnings(ngx_conf_t *cf, ngx_str_t *name,
    const ac_policy *policy)
{
	ac_policy_warning  w[8];
	size_t             n, i;

	n = ac_policy_warnings(policy, w, 8);
	for (i = 0; i < n && i < 8; i++) {
		w[i].path[sizeof(w[i].path) - 1] = '\0';
		w[i].message[sizeof(w[i].message) - 1] = '\0';
		ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
		    "authcore_policy \"%V\": warning at %s: %s", name,
		    w[i].path, w[i].message);
	}
	if (n > 8) {
		ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
		    "authcore_policy \"%V\": %uz more warnings "
		    "(authcore policy check lists them)", name, n - 8);
	}
}

static char *
ngx_http_authcore_policy(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
	ngx_http_authcore_loc_conf_t *alcf = conf;
	ngx_http_authcore_main_conf_t *amcf;
	ngx_str_t *value, name;
	ngx_file_t file;
	ngx_file_info_t fi;
	ssize_t n;
	size_t len, mem_len, used;
	u_char *json;
	void *mem;
	const ac_policy *policy;
	ac_policy_env env;
	ac_policy_error err;

	(void) cmd;

	if (alcf->policy != NGX_CONF_UNSET_PTR) {
		return "is duplicate";
	}

	value = cf->args->elts;

	if (ngx_strcmp(value[1].data, "off") == 0) {
		alcf->policy = NULL;
		return NGX_CONF_OK;
	}

	name = value[1];
	if (ngx_conf_full_name(cf->cycle, &name, 1) != NGX_OK) {
		return NGX_CONF_ERROR;
	}

	ngx_memzero(&file, sizeof(ngx_file_t));
	file.name = name;
	file.log = cf->log;
	file.fd = ngx_open_file(name.data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);
	if (file.fd == NGX_INVALID_FILE) {
		ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
		    "authcore_policy: " ngx_open_file_n " \"%V\" failed", &name);
		return NGX_CONF_ERROR;
	}

	json = NULL;
	len = 0;
	if (ngx_fd_info(file.fd, &fi) == NGX_FILE_ERROR) {
		ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
		    "authcore_policy: " ngx_fd_info_n " \"%V\" failed", &name);
		goto failed;
	}
	if (ngx_file_size(&fi) > (off_t) AC_POLICY_JSON_MAX) {
		ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
		    "authcore_policy \"%V\": file is larger than %uz bytes",
		    &name, (size_t) AC_POLICY_JSON_MAX);
		goto failed;
	}
	len = (size_t) ngx_file_size(&fi);

	/* The JSON text stays in the cycle's pool next to the policy, so the
	 * policy may keep slices of it whatever the core does. */
	json = ngx_pnalloc(cf->pool, len + 1);
	if (json == NULL) {
		goto failed;
	}
	n = ngx_read_file(&file, json, len, 0);
	if (n == NGX_ERROR) {
		goto failed; /* ngx_read_file logged the error */
	}
	if ((size_t) n != len) {
		ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
		    "authcore_policy \"%V\": read %z of %uz bytes", &name, n,
		    len);
		goto failed;
	}
	json[len] = '\0';

	if (ngx_close_file(file.fd) == NGX_FILE_ERROR) {
		ngx_conf_log_error(NGX_LOG_ALERT, cf, ngx_errno,
		    ngx_close_file_n " \"%V\" failed", &name);
	}

	ngx_memzero(&env, sizeof(env));
	/* one environment for every authcore_policy: those without a login
	 * ignore the administrator */
	env.admin_optional = 1;
	if (ngx_http_authcore_getenv(cf, "AUTHCORE_ADMIN_USER",
	        &env.admin_user) != NGX_OK
	    || ngx_http_authcore_getenv(cf, "AUTHCORE_ADMIN_PASSWORD_HASH",
	        &env.admin_password_hash) != NGX_OK) {
		return NGX_CONF_ERROR;
	}
	/* every AUTHCORE_* variable, for the policy's *_env members: the
	 * policy is compiled here, in the master, whose environment nginx
	 * has not cleared */
	{
		static ac_str vars[AC_NGX_ENV_VARS];
		char **e;

		env.vars = vars;
		for (e = environ; e != NULL && *e != NULL
		     && env.n_vars < AC_NGX_ENV_VARS; e++) {
			if (ngx_strncmp(*e, "AUTHCORE_", 9) == 0) {
				vars[env.n_vars].ptr = *e;
				vars[env.n_vars++].len = ngx_strlen(*e);
			}
		}
	}

	mem_len = ac_policy_mem_bound(len);
	mem = ngx_palloc(cf->pool, mem_len);
	if (mem == NULL) {
		return NGX_CONF_ERROR;
	}

	ngx_memzero(&err, sizeof(err));
	used = 0;
	policy = ac_policy_load_env(mem, mem_len, (const char *) json, len,
	    &env, &used, &err);
	if (policy == NULL) {
		err.path[sizeof(err.path) - 1] = '\0';
		err.message[sizeof(err.message) - 1] = '\0';
		ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
		    "authcore_policy \"%V\": invalid policy at %s: %s", &name,
		    err.path[0] ? err.path : "$", err.message);
		return NGX_CONF_ERROR;
	}

	ngx_http_authcore_log_warnings(cf, &name, policy);

	if (ngx_http_authcore_add_zone(cf) != NGX_OK) {
		return NGX_CONF_ERROR;
	}

	amcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_authcore_module);
	alcf->table = -1;
	if (ac_table_size(policy) > 0) {
		const ac_policy **slot;

		if (amcf->rl_policies == NULL) {
			amcf->rl_policies = ngx_array_create(cf->pool, 4,
			    sizeof(const ac_policy *));
			if (amcf->rl_policies == NULL) {
				return NGX_CONF_ERROR;
			}
		}
		slot = ngx_array_push(amcf->rl_policies);
		if (slot == NULL) {
			return NGX_CONF_ERROR;
		}
		*slot = policy;
		alcf->table = (ngx_int_t) amcf->rl_policies->nelts - 1;
	}
	amcf->jwt_cache_entries = ngx_max(amcf->jwt_cache_entries,
	    ac_policy_jwt_cache_entries(policy));
	alcf->jwks = -1;
	if (ac_policy_jwks_uri(policy).len > 0) {
		alcf->jwks = (ngx_int_t) amcf->n_jwks++;
	}
	alcf->name = name;
	alcf->policy = policy;
	return NGX_CONF_OK;

failed:
	if (ngx_close_file(file.fd) == NGX_FILE_ERROR) {
		ngx_conf_log_error(NGX_LOG_ALERT, cf, ngx_errno,
		    ngx_close_file_n " \"%V\" failed", &name);
	}
	return NGX_CONF_ERROR;
}

/*
 * Each worker's cache of verified token signatures, in the worker's own
 * memory (never the shared zone: a cache entry is only a fact this worker
 * checked). Entries are bound to their policy's key set, so one cache
 * serves every policy; a reload starts new workers with empty ones.
 * NULL: no policy caches, or no memory (every token is then checked).
 */
static ac_jwt_cache *ngx_http_authcore_jwt_cache;

/*
 * Each worker's keys from jwt.jwks_uri: one ac_jwks_cache per policy that
 * has one (the loc conf's jwks index), in the worker's own memory, made
 * when the worker starts. Decisions use only this one; it follows the
 * zone's shared copy (ngx_http_authcore_keys_take) and publishes to it
 * (ngx_http_authcore_keys_publish), so the workers fetch together: a
 * worker started by a reload takes the keys the zone holds.
 * A NULL entry (no memory) fails closed: its tokens are answered 503.
 * ngx_http_authcore_jwks_seen: the version of the shared copy each cache
 * last took or published (0: none).
 */
static ac_jwks_cache **ngx_http_authcore_jwks;
static ngx_atomic_uint_t *ngx_http_authcore_jwks_seen;
static ngx_uint_t ngx_http_authcore_n_jwks;

/* The shared copy of the worker's cache i, or NULL when the workers do
 * not share it (no room in the zone, or no cache in this worker). */
static ngx_http_authcore_shkeys_t *
ngx_http_authcore_shared_keys(ngx_http_authcore_main_conf_t *amcf,
    ngx_int_t i)
{
	ngx_http_authcore_shkeys_t *k;

	if (i < 0 || (ngx_uint_t) i >= ngx_http_authcore_n_jwks
	    || ngx_http_authcore_jwks[i] == NULL || amcf->sh == NULL
	    || (ngx_uint_t) i >= amcf->sh->n_keys) {
		return NULL;
	}
	k = amcf->sh->keys[i];
	return k != NULL && !k->retired ? k : NULL;
}

/*
 * Before a decision: when another worker published keys since this one
 * last looked (the version moved; read without the lock), its copy
 * replaces this worker's cache, under the zone's mutex. A decision of
 * this worker pending on a fetch meanwhile is safe: it finds its source's
 * slot again by the source's digest, or counts its fetch as failed.
 */
static void
ngx_http_authcore_keys_take(ngx_http_authcore_main_conf_t *amcf,
    ngx_int_t i)
{
	ngx_http_authcore_shkeys_t *k;
	ngx_slab_pool_t *shpool;

	k = ngx_http_authcore_shared_keys(amcf, i);
	if (k == NULL || k->version == ngx_http_authcore_jwks_seen[i]) {
		return;
	}
	shpool = (ngx_slab_pool_t *) amcf->zone->shm.addr;
	ngx_shmtx_lock(&shpool->mutex);
	if (!k->retired) {
		ngx_memcpy(ngx_http_authcore_jwks[i], k->cache,
		    ac_sizeof_jwks_cache());
	}
	ngx_http_authcore_jwks_seen[i] = k->version;
	ngx_shmtx_unlock(&shpool->mutex);
}

/*
 * After a fetch's answer replaced keys or a configuration in this
 * worker's cache: the cache becomes the shared copy, under the zone's
 * mutex, and its version moves, so every other worker takes it before
 * its next decision instead of fetching. Failed fetches are not
 * published: each worker keeps its own record of them (so an outage
 * costs each worker its own retries, at most one per min_interval).
 */
static void
ngx_http_authcore_keys_publish(ngx_http_authcore_main_conf_t *amcf,
    ngx_int_t i)
{
	ngx_http_authcore_shkeys_t *k;
	ngx_slab_pool_t *shpool;

	k = ngx_http_authcore_shared_keys(amcf, i);
	if (k == NULL) {
		return;
	}
	shpool = (ngx_slab_pool_t *) amcf->zone->shm.addr;
	ngx_shmtx_lock(&shpool->mutex);
	if (k->retired) {
		ngx_shmtx_unlock(&shpool->mutex);
		return;
	}
	ngx_memcpy(k->cache, ngx_http_authcore_jwks[i], ac_sizeof_jwks_cache());
	k->version++;
	if (k->version == 0) {
		k->version = 1; /* 0 is "nothing published" */
	}
	ngx_http_authcore_jwks_seen[i] = k->version;
	ngx_shmtx_unlock(&shpool->mutex);
}

static ngx_int_t
ngx_http_authcore_init_process(ngx_cycle_t *cycle)
{
	ngx_http_authcore_main_conf_t *amcf;
	ngx_uint_t i;
	size_t len;

	amcf = ngx_http_cycle_get_module_main_conf(cycle,
	    ngx_http_authcore_module);
	len = amcf != NULL ? ac_sizeof_jwt_cache(amcf->jwt_cache_entries) : 0;
	if (len > 0) {
		ngx_http_authcore_jwt_cache = ac_jwt_cache_init(
		    ngx_alloc(len, cycle->log), len, amcf->jwt_cache_entries);
	}
	if (amcf != NULL && amcf->n_jwks > 0) {
		ngx_http_authcore_jwks = ngx_alloc(amcf->n_jwks
		    * sizeof(ac_jwks_cache *), cycle->log);
		ngx_http_authcore_jwks_seen = ngx_calloc(amcf->n_jwks
		    * sizeof(ngx_atomic_uint_t), cycle->log);
		if (ngx_http_authcore_jwks == NULL
		    || ngx_http_authcore_jwks_seen == NULL) {
			ngx_http_authcore_jwks = NULL;
			return NGX_OK;
		}
		ngx_http_authcore_n_jwks = amcf->n_jwks;
		len = ac_sizeof_jwks_cache();
		for (i = 0; i < amcf->n_jwks; i++) {
			ngx_http_authcore_jwks[i] = ac_jwks_cache_init(
			    ngx_alloc(len, cycle->log), len);
		}
	}
	return NGX_OK;
}

static void *
ngx_http_authcore_create_main_conf(ngx_conf_t *cf)
{
	/* zone NULL, thread_pool_name unset, thread_pool NULL */
	return ngx_pcalloc(cf->pool, sizeof(ngx_http_authcore_main_conf_t));
}

/*
 * The pool password checks run in: authcore_thread_pool names one
 * (declared with thread_pool, or "default", which nginx makes with 32
 * threads), or "off" for slices on the event loop. Unset: "default" when
 * nginx has threads, else "off". Only taken when a policy is configured.
 */
static char *
ngx_http_authcore_init_main_conf(ngx_conf_t *cf, void *conf)
{
	ngx_http_authcore_main_conf_t *amcf = conf;
	ngx_str_t *name = &amcf->thread_pool_name;

	if (amcf->zone != NULL) {
		amcf->zone->shm.size = ngx_http_authcore_zone_size(amcf);
	}
	if (name->data != NULL && name->len == 3
	    && ngx_strncmp(name->data, "off", 3) == 0) {
		return NGX_CONF_OK;
	}
	if (amcf->zone == NULL) {
		return NGX_CONF_OK;
	}
#if (NGX_THREADS)
	amcf->thread_pool = ngx_thread_pool_add(cf,
	    name->data != NULL ? name : NULL);
	if (amcf->thread_pool == NULL) {
		return NGX_CONF_ERROR;
	}
	return NGX_CONF_OK;
#else
	if (name->data != NULL) {
		ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
		    "authcore_thread_pool \"%V\": nginx was built without "
		    "threads (use \"off\")", name);
		return NGX_CONF_ERROR;
	}
	return NGX_CONF_OK;
#endif
}

static void *
ngx_http_authcore_create_loc_conf(ngx_conf_t *cf)
{
	ngx_http_authcore_loc_conf_t *conf;

	conf = ngx_pcalloc(cf->pool, sizeof(ngx_http_authcore_loc_conf_t));
	if (conf == NULL) {
		return NULL;
	}
	conf->policy = NGX_CONF_UNSET_PTR;
	conf->table = -1;
	conf->jwks = -1;
	/* name and fetch: unset (data NULL) */
	return conf;
}

static char *
ngx_http_authcore_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
	ngx_http_authcore_loc_conf_t *prev = parent;
	ngx_http_authcore_loc_conf_t *conf = child;

	if (conf->policy == NGX_CONF_UNSET_PTR) {
		conf->table = prev->table;
		conf->jwks = prev->jwks;
		conf->name = prev->name;
	}
	ngx_conf_merge_ptr_value(conf->policy, prev->policy, NULL);
	ngx_conf_merge_str_value(conf->fetch, prev->fetch, "");

	/* Keys from a URL need a way out: without authcore_fetch every token
	 * would be refused 503, so the configuration is refused instead. */
	if (conf->policy != NULL && conf->jwks >= 0 && conf->fetch.len == 0) {
		ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
		    "authcore_policy \"%V\" takes its keys from jwt.jwks_uri: "
		    "\"authcore_fetch\" must name an internal location that "
		    "proxies to $authcore_fetch_url", &conf->name);
		return NGX_CONF_ERROR;
	}
	return NGX_CONF_OK;
}

/* authcore_fetch <uri> | off: the location key fetches go through. */
static char *
ngx_http_authcore_fetch_conf(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
	ngx_http_authcore_loc_conf_t *alcf = conf;
	ngx_str_t *value;

	(void) cmd;
	if (alcf->fetch.data != NULL) {
		return "is duplicate";
	}
	value = cf->args->elts;
	if (ngx_strcmp(value[1].data, "off") == 0) {
		ngx_str_set(&alcf->fetch, "");
		return NGX_CONF_OK;
	}
	if (value[1].len == 0 || value[1].data[0] != '/') {
		ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
		    "authcore_fetch \"%V\": must be a location's URI, starting "
		    "with '/'", &value[1]);
		return NGX_CONF_ERROR;
	}
	alcf->fetch = value[1];
	return NGX_CONF_OK;
}

/* ------------------------------------------------------------------ */
/* Request headers                                                     */
/* ------------------------------------------------------------------ */

static int
ngx_http_authcore_name_eq(const ngx_str_t *a, const ac_str *b)
{
	return a->len == b->len
	    && ngx_strncasecmp(a->data, (u_char *) b->ptr, b->len) == 0;
}

static int
ngx_http_authcore_removed(const ngx_table_elt_t *h, const ac_answer *d)
{
	size_t i;

	for (i = 0; i < d->n_remove; i++) {
		if (ngx_http_authcore_name_eq(&h->key, &d->remove[i])) {
			return 1;
		}
	}
	return 0;
}

/* Where an entry of the old header list went: its copy in the new list,
 * NULL if it was removed, or p itself if p is not an old entry. */
typedef struct {
	ngx_table_elt_t **from;
	ngx_table_elt_t **to;
	ngx_uint_t n;
} ngx_http_authcore_moves_t;

static ngx_table_elt_t *
ngx_http_authcore_moved(const ngx_http_authcore_moves_t *mv,
    ngx_table_elt_t *p)
{
	ngx_uint_t i;

	if (p == NULL) {
		return NULL;
	}
	for (i = 0; i < mv->n; i++) {
		if (mv->from[i] == p) {
			return mv->to[i];
		}
	}
	return p;
}

#if (nginx_version < 1023000)
/* nginx < 1.23 keeps Cookie and X-Forwarded-For as arrays of pointers. */
static void
ngx_http_authcore_move_array(const ngx_http_authcore_moves_t *mv,
    ngx_array_t *a)
{
	ngx_table_elt_t **h;
	ngx_uint_t i, j;

	if (a->elts == NULL) {
		return;
	}
	h = a->elts;
	for (i = 0, j = 0; i < a->nelts; i++) {
		h[j] = ngx_http_authcore_moved(mv, h[i]);
		if (h[j] != NULL) {
			j++;
		}
	}
	a->nelts = j;
}
#endif

/*
 * Drops every request header named in d->remove[]. nginx has no call for
 * this, and the upstream modules (proxy, fastcgi, grpc, uwsgi, scgi)
 * forward every entry of r->headers_in.headers without looking at `hash`
 * (hash = 0 only hides entries of headers_out). So the list is rebuilt
 * without those entries, and the shortcut pointers nginx keeps into it
 * (r->headers_in.host, .authorization, ..., found through the exported
 * ngx_http_headers_in[] table) are moved to the new copies, or cleared when
 * their entry was removed. The old list stays valid in r->pool.
 */
static ngx_int_t
ngx_http_authcore_remove_headers(ngx_http_request_t *r, const ac_answer *d)
{
	ngx_list_part_t *part;
	ngx_table_elt_t *h, *p, **slot;
	ngx_http_header_t *hh;
	ngx_http_authcore_moves_t mv;
	ngx_list_t old;
	ngx_uint_t i, total, drop;

	if (d->n_remove == 0) {
		return NGX_OK;
	}

	total = 0;
	drop = 0;
	for (part = &r->headers_in.headers.part; part; part = part->next) {
		h = part->elts;
		for (i = 0; i < part->nelts; i++) {
			total++;
			drop += (ngx_uint_t) ngx_http_authcore_removed(&h[i], d);
		}
	}
	if (drop == 0) {
		return NGX_OK;
	}

	mv.from = ngx_palloc(r->pool, 2 * total * sizeof(ngx_table_elt_t *));
	if (mv.from == NULL) {
		return NGX_ERROR;
	}
	mv.to = mv.from + total;
	mv.n = 0;

	/* The list is re-made in place (its `last` points into itself); the
	 * old parts and their entries stay where they are, in r->pool. */
	old = r->headers_in.headers;
	if (ngx_list_init(&r->headers_in.headers, r->pool,
	        total - drop + AC_DECISION_HEADERS_MAX, sizeof(ngx_table_elt_t))
	    != NGX_OK) {
		return NGX_ERROR;
	}

	for (part = &old.part; part; part = part->next) {
		h = part->elts;
		for (i = 0; i < part->nelts; i++) {
			p = NULL;
			if (!ngx_http_authcore_removed(&h[i], d)) {
				p = ngx_list_push(&r->headers_in.headers);
				if (p == NULL) {
					return NGX_ERROR;
				}
				*p = h[i];
			}
			mv.from[mv.n] = &h[i];
			mv.to[mv.n] = p;
			mv.n++;
		}
	}

	for (hh = ngx_http_headers_in; hh->name.len; hh++) {
#if (nginx_version < 1023000)
		if (hh->offset == offsetof(ngx_http_headers_in_t, cookies)) {
			ngx_http_authcore_move_array(&mv, &r->headers_in.cookies);
			continue;
		}
#if (NGX_HTTP_X_FORWARDED_FOR)
		if (hh->offset
		    == offsetof(ngx_http_headers_in_t, x_forwarded_for)) {
			ngx_http_authcore_move_array(&mv,
			    &r->headers_in.x_forwarded_for);
			continue;
		}
#endif
#endif
		slot = (ngx_table_elt_t **) (void *) ((char *) &r->headers_in
		    + hh->offset);
		*slot = ngx_http_authcore_moved(&mv, *slot);
	}

#if (nginx_version >= 1023000)
	/* nginx >= 1.23 chains repeated headers through `next`. */
	for (i = 0; i < mv.n; i++) {
		if (mv.to[i] == NULL) {
			continue;
		}
		p = mv.to[i]->next;
		while (p != NULL && ngx_http_authcore_moved(&mv, p) == NULL) {
			p = p->next;
		}
		mv.to[i]->next = ngx_http_authcore_moved(&mv, p);
	}
#endif

	return NGX_OK;
}

/* An added Cookie header joins nginx's own record of them, so that
 * $http_cookie and $cookie_NAME (and proxy_set_header Cookie $http_cookie)
 * see it as they saw the client's. */
static ngx_int_t
ngx_http_authcore_add_cookie(ngx_http_request_t *r, ngx_table_elt_t *h)
{
#if (nginx_version < 1023000)
	ngx_table_elt_t **ph;

	if (r->headers_in.cookies.elts == NULL
	    && ngx_array_init(&r->headers_in.cookies, r->pool, 2,
	        sizeof(ngx_table_elt_t *)) != NGX_OK) {
		return NGX_ERROR;
	}
	ph = ngx_array_push(&r->headers_in.cookies);
	if (ph == NULL) {
		return NGX_ERROR;
	}
	*ph = h;
#else
	ngx_table_elt_t **ph;

	for (ph = &r->headers_in.cookie; *ph; ph = &(*ph)->next) {
		/* the last of the chain */
	}
	*ph = h;
#endif
	return NGX_OK;
}

/* Appends d->add[] to the request headers, which upstream modules forward. */
static ngx_int_t
ngx_http_authcore_add_headers(ngx_http_request_t *r, const ac_answer *d)
{
	static const ac_str cookie = { "cookie", 6 };
	ngx_table_elt_t *h;
	size_t i;
	u_char *s;

	for (i = 0; i < d->n_add; i++) {
		const ac_header *a = &d->add[i];

		h = ngx_list_push(&r->headers_in.headers);
		if (h == NULL) {
			return NGX_ERROR;
		}
		s = ngx_pnalloc(r->pool, 2 * a->name.len + a->value.len + 2);
		if (s == NULL) {
			return NGX_ERROR;
		}
		h->key.data = s;
		h->key.len = a->name.len;
		s = ngx_cpymem(s, a->name.ptr, a->name.len);
		*s++ = '\0';
		h->value.data = s;
		h->value.len = a->value.len;
		s = ngx_cpymem(s, a->value.ptr, a->value.len);
		*s++ = '\0';
		h->lowcase_key = s;
		h->hash = ngx_hash_strlow(h->lowcase_key, h->key.data, h->key.len);
#if (nginx_version >= 1023000)
		h->next = NULL;
#endif
		if (ngx_http_authcore_name_eq(&h->key, &cookie)
		    && ngx_http_authcore_add_cookie(r, h) != NGX_OK) {
			return NGX_ERROR;
		}
	}
	return NGX_OK;
}

/* ------------------------------------------------------------------ */
/* Local responses                                                     */
/* ------------------------------------------------------------------ */

static ngx_int_t
ngx_http_authcore_push_header(ngx_http_request_t *r, const ac_header *a)
{
	static const ac_str www = { "WWW-Authenticate", 16 };
	ngx_table_elt_t *h;

	h = ngx_list_push(&r->headers_out.headers);
	if (h == NULL) {
		return NGX_ERROR;
	}
	/* The decision lives in r->pool, so its slices outlive the response. */
	h->hash = 1;
	h->key.data = (u_char *) a->name.ptr;
	h->key.len = a->name.len;
	h->value.data = (u_char *) a->value.ptr;
	h->value.len = a->value.len;
	h->lowcase_key = NULL;
#if (nginx_version >= 1023000)
	h->next = NULL;
#endif
	if (ngx_http_authcore_name_eq(&h->key, &www)) {
		/* lets the access phase hide it if another module grants */
		r->headers_out.www_authenticate = h;
	}
	return NGX_OK;
}

/*
 * One of the decision's response headers, as its mode (ac_header_mode)
 * says, against the headers the response holds: appended; set (the
 * response's own values of the name dropped first: a zero hash is a
 * removed entry to nginx's header writers); or set only if absent.
 */
static ngx_int_t
ngx_http_authcore_apply_header(ngx_http_request_t *r, const ac_header *a,
    unsigned mode)
{
	ngx_list_part_t *part;
	ngx_table_elt_t *h;
	ngx_uint_t i;

	if (mode != AC_HDR_APPEND) {
		for (part = &r->headers_out.headers.part; part != NULL;
		    part = part->next) {
			h = part->elts;
			for (i = 0; i < part->nelts; i++) {
				if (h[i].hash == 0
				    || !ngx_http_authcore_name_eq(&h[i].key,
				        &a->name)) {
					continue;
				}
				if (mode == AC_HDR_SET_IF_ABSENT) {
					return NGX_OK;
				}
				h[i].hash = 0;
			}
		}
	}
	return ngx_http_authcore_push_header(r, a);
}

/*
 * Sends the decision's response and finalizes the request. Under
 * "satisfy any" a 401/403 is handed back to nginx instead (with only the
 * WWW-Authenticate header, as auth_basic does), so that another access
 * module may still grant the request; nginx then answers with its own page.
 */
static ngx_int_t
ngx_http_authcore_respond(ngx_http_request_t *r, const ac_answer *d)
{
	static const ac_str ctype = { "Content-Type", 12 };
	static const ac_str clen = { "Content-Length", 14 };
	static const ac_str www = { "WWW-Authenticate", 16 };
	ngx_http_core_loc_conf_t *clcf;
	ngx_buf_t *b;
	ngx_chain_t out;
	ngx_str_t name;
	ngx_int_t rc;
	size_t i;

	clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);
	if (clcf->satisfy == NGX_HTTP_SATISFY_ANY
	    && (d->status == NGX_HTTP_UNAUTHORIZED
	        || d->status == NGX_HTTP_FORBIDDEN)) {
		for (i = 0; i < d->n_resp_headers; i++) {
			name.data = (u_char *) d->resp_headers[i].name.ptr;
			name.len = d->resp_headers[i].name.len;
			if (ngx_http_authcore_name_eq(&name, &www)
			    && ngx_http_authcore_push_header(r, &d->resp_headers[i])
			        != NGX_OK) {
				return NGX_HTTP_INTERNAL_SERVER_ERROR;
			}
		}
		return d->status;
	}

	rc = ngx_http_discard_request_body(r);
	if (rc != NGX_OK) {
		return rc;
	}

	r->headers_out.status = (ngx_uint_t) d->status;
	r->headers_out.content_length_n = (off_t) d->body.len;
	for (i = 0; i < d->n_resp_headers; i++) {
		const ac_header *a = &d->resp_headers[i];

		name.data = (u_char *) a->name.ptr;
		name.len = a->name.len;
		if (ngx_http_authcore_name_eq(&name, &ctype)) {
			r->headers_out.content_type.data = (u_char *) a->value.ptr;
			r->headers_out.content_type.len = a->value.len;
			r->headers_out.content_type_len = a->value.len;
			r->headers_out.content_type_lowcase = NULL;
			continue;
		}
		if (ngx_http_authcore_name_eq(&name, &clen)) {
			continue; /* nginx writes it from content_length_n */
		}
		if (ngx_http_authcore_apply_header(r, a, d->resp_modes[i])
		    != NGX_OK) {
			return NGX_HTTP_INTERNAL_SERVER_ERROR;
		}
	}

	if (d->body.len == 0) {
		r->header_only = 1;
	}

	rc = ngx_http_send_header(r);
	if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
		ngx_http_finalize_request(r, rc);
		return NGX_DONE;
	}

	b = ngx_calloc_buf(r->pool);
	if (b == NULL) {
		ngx_http_finalize_request(r, NGX_ERROR);
		return NGX_DONE;
	}
	b->pos = (u_char *) d->body.ptr;
	b->last = b->pos + d->body.len;
	b->memory = 1;
	b->last_buf = 1;
	b->last_in_chain = 1;
	out.buf = b;
	out.next = NULL;

	ngx_http_finalize_request(r, ngx_http_output_filter(r, &out));
	return NGX_DONE;
}

/* ------------------------------------------------------------------ */
/* Access phase                                                        */
/* ------------------------------------------------------------------ */

static void ngx_http_authcore_body_handler(ngx_http_request_t *r);
static void ngx_http_authcore_slice(ngx_event_t *ev);
static void ngx_http_authcore_guard(ngx_event_t *ev);
static void ngx_http_authcore_done(ngx_http_authcore_ctx_t *ctx);
static void ngx_http_authcore_release(ngx_http_request_t *r,
    ngx_http_authcore_ctx_t *ctx);
static void ngx_http_authcore_abandon(ngx_http_request_t *r,
    ngx_http_authcore_ctx_t *ctx);
static ngx_int_t ngx_http_authcore_fetch(ngx_http_request_t *r,
    ngx_http_authcore_ctx_t *ctx, const ac_answer *a);
static ngx_int_t ngx_http_authcore_redis_start(ngx_http_request_t *r,
    ngx_http_authcore_ctx_t *ctx);
static void ngx_http_authcore_redis_release(ngx_http_request_t *r,
    ngx_http_authcore_ctx_t *ctx);
#if (NGX_THREADS)
static void ngx_http_authcore_thread_step(void *data, ngx_log_t *log);
static void ngx_http_authcore_thread_done(ngx_event_t *ev);
#endif

/*
 * Decisions of finished requests, kept for the next ones: a request then
 * costs no allocation and no zeroing of its ~28 KB decision (malloc and
 * memset were about a tenth of a worker's time on an HS256 token). Per
 * worker process, touched on the event loop only. A decision is zeroed
 * once, when first allocated; ac_decide_next takes a finished one as it
 * is.
 */
#define AC_NGX_SPARES 16
static ac_decision *ngx_http_authcore_spare[AC_NGX_SPARES];
static ngx_uint_t ngx_http_authcore_spares;

static ac_decision *
ngx_http_authcore_decision_get(ngx_log_t *log)
{
	ac_decision *d;

	if (ngx_http_authcore_spares > 0) {
		return ngx_http_authcore_spare[--ngx_http_authcore_spares];
	}
	d = ngx_alloc(ac_sizeof_decision(), log);
	if (d != NULL) {
		ngx_memzero(d, ac_sizeof_decision());
	}
	return d;
}

/*
 * The request is over (r->pool goes): its decision is kept for the next
 * request, or freed. Either way the password check it may carry is wiped
 * first (its key pads are as good as the password). A decision still
 * pending (never, unless nginx frees a blocked request) is not reused:
 * ac_decide_next would finish it.
 */
static void
ngx_http_authcore_cleanup(void *data)
{
	ngx_http_authcore_ctx_t *ctx = data;
	ac_decision *d = ctx->d;

	/* a fetch still waited for: its timer goes with the request, and a
	 * subrequest that outlived it (never: it holds the request) finds
	 * no one waiting */
	if (ctx->fetch_timer.timer_set) {
		ngx_del_timer(&ctx->fetch_timer);
	}
	if (ctx->fetch_stop.posted) {
		ngx_delete_posted_event(&ctx->fetch_stop);
	}
	if (ctx->fetch != NULL) {
		ctx->fetch->ctx = NULL;
		ctx->fetch = NULL;
	}
	/* never while blocked on it: only if nginx freed a blocked request */
	ngx_http_authcore_redis_cancel(ctx->redis_wait);
	ctx->redis_wait = NULL;
	if (d == NULL) {
		return;
	}
	ngx_http_authcore_release(ctx->r, ctx);
	ctx->d = NULL;
	ac_decision_wipe(d);
	if (ac_decision_answer(d)->action != AC_PENDING
	    && ngx_http_authcore_spares < AC_NGX_SPARES) {
		ngx_http_authcore_spare[ngx_http_authcore_spares++] = d;
	} else {
		ngx_free(d);
	}
}

/*
 * The context of an earlier pass through the access phase. An internal
 * redirect (try_files, error_page, named locations, index, X-Accel-Redirect;
 * not `rewrite`, which runs before the access phase) clears every module's
 * context, so the context is also registered as a
 * cleanup of r->pool (shared by the request across redirects) and found
 * there again. Subrequests share the pool: only the main request has one.
 */
static ngx_http_authcore_ctx_t *
ngx_http_authcore_find_ctx(ngx_http_request_t *r)
{
	ngx_pool_cleanup_t *cln;

	if (r != r->main) {
		return NULL;
	}
	for (cln = r->pool->cleanup; cln; cln = cln->next) {
		if (cln->handler == ngx_http_authcore_cleanup) {
			return cln->data;
		}
	}
	return NULL;
}

/*
 * The request target the upstream gets, as ngx_http_proxy_module builds
 * it for proxy_pass without a URI part: the client's target as it came
 * while nginx holds it valid (no rewrite, no internal redirect, no `set
 * $args`), else the current URI escaped again (after a rewrite or an
 * internal redirect, or when the client's had escapes) and `?args`.
 */
static ngx_int_t
ngx_http_authcore_target(ngx_http_request_t *r, ngx_str_t *t)
{
	uintptr_t escape;
	size_t len;
	u_char *p;

	if (r->valid_unparsed_uri) {
		*t = r->unparsed_uri;
		return NGX_OK;
	}
	escape = 0;
	if (r->quoted_uri || r->internal) {
		escape = 2 * ngx_escape_uri(NULL, r->uri.data, r->uri.len,
		    NGX_ESCAPE_URI);
	}
	if (escape == 0 && r->args.len == 0) {
		*t = r->uri;
		return NGX_OK;
	}
	len = r->uri.len + escape + (r->args.len ? 1 + r->args.len : 0);
	t->data = ngx_pnalloc(r->pool, len);
	if (t->data == NULL) {
		return NGX_ERROR;
	}
	if (escape) {
		ngx_escape_uri(t->data, r->uri.data, r->uri.len, NGX_ESCAPE_URI);
		p = t->data + r->uri.len + escape;
	} else {
		p = ngx_cpymem(t->data, r->uri.data, r->uri.len);
	}
	if (r->args.len) {
		*p++ = '?';
		p = ngx_cpymem(p, r->args.data, r->args.len);
	}
	t->len = (size_t) (p - t->data);
	return NGX_OK;
}

/* Reads the request into a new context: method, client address, TLS, and
 * every header in order, as the client sent them (the target is taken for
 * each pass, the body later). HTTP/2's :authority is in the list as Host;
 * a request without a Host header (HTTP/1.0) gets the server name nginx
 * took from an absolute request target, if any. */
static ngx_http_authcore_ctx_t *
ngx_http_authcore_create_ctx(ngx_http_request_t *r, const ac_policy *policy)
{
	static const char host[] = "host";
	ngx_http_authcore_ctx_t *ctx;
	ngx_pool_cleanup_t *cln;
	ngx_list_part_t *part;
	ngx_table_elt_t *h;
	ngx_uint_t i, total;
	ac_header *hdrs;
	size_t n;
	int add_host;

	total = 0;
	for (part = &r->headers_in.headers.part; part; part = part->next) {
		total += part->nelts;
	}
	add_host = r->headers_in.host == NULL && r->headers_in.server.len > 0;
	total += (ngx_uint_t) add_host;
	n = total > AC_HEADERS_MAX ? AC_HEADERS_MAX : total;

	ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_authcore_ctx_t));
	hdrs = ngx_palloc(r->pool, (n ? n : 1) * sizeof(ac_header));
	if (ctx == NULL || hdrs == NULL) {
		return NULL;
	}
	cln = ngx_pool_cleanup_add(r->pool, 0);
	if (cln == NULL) {
		return NULL;
	}
	cln->handler = ngx_http_authcore_cleanup;
	cln->data = ctx;
	/* The decision must live as long as the request (the response and
	 * headers point into it): the cleanup gives it back with r->pool. */
	ctx->d = ngx_http_authcore_decision_get(r->connection->log);
	if (ctx->d == NULL) {
		return NULL;
	}
	ctx->r = r;
	ctx->policy = policy;

	n = 0;
	if (add_host) {
		hdrs[n].name.ptr = host;
		hdrs[n].name.len = sizeof(host) - 1;
		hdrs[n].value.ptr = (const char *) r->headers_in.server.data;
		hdrs[n].value.len = r->headers_in.server.len;
		n++;
	}
	/* The entries stay valid in r->pool when a decision rebuilds the list
	 * (ngx_http_authcore_remove_headers), so a later pass decides on the
	 * headers the client sent, not on those a decision changed. */
	for (part = &r->headers_in.headers.part; part; part = part->next) {
		h = part->elts;
		for (i = 0; i < part->nelts && n < AC_HEADERS_MAX; i++, n++) {
			hdrs[n].name.ptr = (const char *) h[i].key.data;
			hdrs[n].name.len = h[i].key.len;
			hdrs[n].value.ptr = (const char *) h[i].value.data;
			hdrs[n].value.len = h[i].value.len;
		}
	}

	/* ctx->req is zeroed: no body, body_too_large 0; method and target
	 * are taken for each pass */
	/* the socket peer (realip's client when that module is configured:
	 * it replaces addr_text); the core applies trusted_proxies */
	ctx->req.client_ip.ptr = (const char *) r->connection->addr_text.data;
	ctx->req.client_ip.len = r->connection->addr_text.len;
	ctx->req.headers = hdrs;
	ctx->req.n_headers = n;
	ctx->req.too_many_headers = total > AC_HEADERS_MAX;
#if (NGX_HTTP_SSL)
	ctx->req.https = r->connection->ssl != NULL;
#endif
	return ctx;
}

/*
 * Puts the body nginx read into ctx->req.body, as one piece from r->pool.
 * Over AC_LOGIN_BODY_MAX it is left out and body_too_large set (the core
 * answers 413). A body nginx wrote to a temporary file (only when
 * client_body_buffer_size is below the cap) is read back from it.
 */
static ngx_int_t
ngx_http_authcore_take_body(ngx_http_request_t *r,
    ngx_http_authcore_ctx_t *ctx)
{
	ngx_chain_t *cl;
	ngx_buf_t *b;
	off_t total;
	size_t size;
	ssize_t n;
	u_char *body, *p;

	if (r->request_body == NULL) {
		return NGX_OK;
	}
	total = 0;
	for (cl = r->request_body->bufs; cl; cl = cl->next) {
		total += ngx_buf_size(cl->buf);
	}
	if (total > (off_t) AC_LOGIN_BODY_MAX) {
		ctx->req.body_too_large = 1;
		return NGX_OK;
	}
	if (total == 0) {
		return NGX_OK;
	}

	body = ngx_pnalloc(r->pool, (size_t) total);
	if (body == NULL) {
		return NGX_ERROR;
	}
	p = body;
	for (cl = r->request_body->bufs; cl; cl = cl->next) {
		b = cl->buf;
		if (ngx_buf_in_memory(b)) {
			p = ngx_cpymem(p, b->pos, b->last - b->pos);
		} else if (b->in_file) {
			size = (size_t) (b->file_last - b->file_pos);
			n = ngx_read_file(b->file, p, size, b->file_pos);
			if (n != (ssize_t) size) {
				return NGX_ERROR;
			}
			p += size;
		}
	}
	ctx->req.body.ptr = (const char *) body;
	ctx->req.body.len = (size_t) (p - body);
	return NGX_OK;
}

/* Logs the decision's audit line; an allow the policy does not audit has
 * none (audit_len 0), and nothing is logged. */
static void
ngx_http_authcore_audit(ngx_http_request_t *r, const ac_answer *d)
{
	if (d->audit_len == 0)
		return;
	ngx_log_error(NGX_LOG_INFO, r->connection->log, 0, "authcore: %*s",
	    d->audit_len, d->audit);
}

/*
 * The client went away while the check runs (ngx_http_test_reading
 * noticed, and ngx_http_terminate_request runs the request's cleanups
 * before it waits for blocked to drop). The check's in-flight slot is
 * given back now, not when the check would end or lapse: on the event
 * loop at once; in the thread pool the thread stops at its next slice and
 * ngx_http_authcore_done gives it back.
 */
static void
ngx_http_authcore_gone(void *data)
{
	ngx_http_authcore_ctx_t *ctx = data;
	ngx_http_request_t *r = ctx->r;

	if (ctx->step != AC_NGX_PENDING || ctx->gone) {
		return;
	}
	ctx->gone = 1;
	if (ctx->in_thread) {
		return;
	}
	if (ctx->slice.posted) {
		ngx_delete_posted_event(&ctx->slice);
	}
	ngx_http_authcore_abandon(r, ctx);
}

/*
 * Starts the password check of a pending decision: in the thread pool, or
 * (no pool, or its queue is full) in slices posted to the event loop. The
 * request is marked blocked until the check is over, and a client that
 * leaves meanwhile is noticed (ngx_http_test_reading): the check is then
 * abandoned (ngx_http_authcore_gone) and nginx ends the request. Returns
 * NGX_DONE, or an error status.
 */
static ngx_int_t
ngx_http_authcore_start(ngx_http_request_t *r, ngx_http_authcore_ctx_t *ctx)
{
	ngx_http_authcore_main_conf_t *amcf;
	ngx_http_cleanup_t *cln;
#if (NGX_THREADS)
	ngx_thread_task_t *task;
#endif

	amcf = ngx_http_get_module_main_conf(r, ngx_http_authcore_module);
	cln = ngx_http_cleanup_add(r->main, 0);
	if (cln == NULL) {
		return NGX_HTTP_INTERNAL_SERVER_ERROR;
	}
	cln->handler = ngx_http_authcore_gone;
	cln->data = ctx;

	ctx->step = AC_NGX_PENDING;
	ctx->guard.handler = ngx_http_authcore_guard;
	ctx->guard.data = ctx;
	ctx->guard.log = r->connection->log;
	ctx->slice.handler = ngx_http_authcore_slice;
	ctx->slice.data = ctx;
	ctx->slice.log = r->connection->log;

#if (NGX_THREADS)
	if (amcf->thread_pool != NULL) {
		task = ngx_thread_task_alloc(r->pool, 0);
		if (task == NULL) {
			return NGX_HTTP_INTERNAL_SERVER_ERROR;
		}
		/* the thread touches ctx->d only: no nginx structure, no state */
		task->ctx = ctx;
		task->handler = ngx_http_authcore_thread_step;
		task->event.handler = ngx_http_authcore_thread_done;
		task->event.data = ctx;
		ctx->in_thread = 1;
		if (ngx_thread_task_post(amcf->thread_pool, task) != NGX_OK) {
			/* queue overflow, logged by nginx: step here instead */
			ctx->in_thread = 0;
			ngx_post_event(&ctx->slice, &ngx_posted_next_events);
		}
	} else {
		ngx_post_event(&ctx->slice, &ngx_posted_next_events);
	}
#else
	(void) amcf;
	ngx_post_event(&ctx->slice, &ngx_posted_next_events);
#endif

	ngx_add_timer(&ctx->guard, AC_NGX_GUARD_MSEC);
	r->main->blocked++;
	r->read_event_handler = ngx_http_test_reading;
	return NGX_DONE;
}

#ifdef AC_NGX_TEST_REWRITE
/*
 * Test builds only (build/nginx-test, for tests/hosts/nginx_request.py;
 * never in the module `make` ships): an allowed request carrying
 * X-Authcore-Test-Rewrite is treated as if the core had rewritten its
 * target to that header's value, and one carrying X-Authcore-Test-Cookie
 * as if it had consumed the Cookie header and given that value to send
 * instead, so that both are tested through nginx before a policy can make
 * the core do them; one carrying X-Authcore-Test-Cache gets
 * X-Authcore-Test-Cache-Seen: the worker's signature cache's lookups, hits
 * and checks ("L,H,C"; "0,0,0" without a cache).
 */
static void
ngx_http_authcore_test_rewrite(const ac_request *req, ac_decision *dec)
{
	ac_answer *d = (ac_answer *) ac_decision_answer(dec);
	size_t i;

	for (i = 0; d->action == AC_ALLOW && i < req->n_headers; i++) {
		if (req->headers[i].name.len == 23
		    && ngx_strncasecmp((u_char *) req->headers[i].name.ptr,
		        (u_char *) "x-authcore-test-rewrite", 23) == 0) {
			d->path = req->headers[i].value;
			d->path_rewritten = 1;
		}
		if (req->headers[i].name.len == 22
		    && ngx_strncasecmp((u_char *) req->headers[i].name.ptr,
		        (u_char *) "x-authcore-test-cookie", 22) == 0
		    && d->n_remove < AC_DECISION_HEADERS_MAX
		    && d->n_add < AC_DECISION_HEADERS_MAX) {
			d->remove[d->n_remove].ptr = "Cookie";
			d->remove[d->n_remove++].len = 6;
			d->add[d->n_add].name.ptr = "cookie";
			d->add[d->n_add].name.len = 6;
			d->add[d->n_add++].value = req->headers[i].value;
		}
		if (req->headers[i].name.len == 21
		    && ngx_strncasecmp((u_char *) req->headers[i].name.ptr,
		        (u_char *) "x-authcore-test-cache", 21) == 0
		    && d->n_add < AC_DECISION_HEADERS_MAX) {
			static u_char seen[80];
			ac_jwt_cache_counts k;

			ac_jwt_cache_counts_get(ngx_http_authcore_jwt_cache, &k);
			d->add[d->n_add].name.ptr = "x-authcore-test-cache-seen";
			d->add[d->n_add].name.len = 26;
			d->add[d->n_add].value.ptr = (const char *) seen;
			d->add[d->n_add++].value.len = (size_t) (ngx_snprintf(seen,
			    sizeof(seen), "%uL,%uL,%uL", k.lookups, k.hits, k.checks)
			    - seen);
		}
	}
}
#endif

/* Which core function a step of the store loop calls. */
typedef enum {
	AC_NGX_NEXT,     /* ac_decide_next: finish a pending decision, or begin */
	AC_NGX_FINISH,   /* ac_decide_finish, with the entries supplied */
	AC_NGX_ERROR,    /* ac_decide_store_error */
	AC_NGX_LOST,     /* ac_decide_store_lost: a write lost its race */
	AC_NGX_REDIS_REPLY, /* ac_redis_reply: Redis answered the step */
	AC_NGX_RELEASE   /* ac_release_begin of ctx->lease */
} ngx_http_authcore_call_e;

static void ngx_http_authcore_resume(ngx_http_request_t *r,
    ngx_http_authcore_ctx_t *ctx, ngx_http_authcore_call_e what);

/*
 * One core call, the shared state locked for it only when ac_needs said
 * the decision uses it (AC_NEEDS_STATE). A decision with rate limits
 * (AC_NEEDS_ENTRIES) gets the state unlocked: the core only reads its
 * key, which never changes once the zone is made. Every other request is
 * decided with state NULL, which the core decides exactly the same, and
 * takes no lock.
 */
static void
ngx_http_authcore_call(ngx_http_request_t *r, ngx_http_authcore_ctx_t *ctx,
    ngx_http_authcore_call_e what, const uint8_t *entropy)
{
	ngx_http_authcore_main_conf_t *amcf;
	ac_state *st;
	size_t elen = entropy != NULL ? AC_NGX_ENTROPY_LEN : 0;
	int64_t now = (int64_t) ngx_time();

	amcf = ngx_http_get_module_main_conf(r, ngx_http_authcore_module);
	st = NULL;
	if (ctx->needs & AC_NEEDS_STATE) {
		st = ngx_http_authcore_lock(amcf);
	} else if (ctx->needs & AC_NEEDS_ENTRIES) {
		st = amcf->sh->state;
	}
	ac_decision_use_jwt_cache(ctx->d, ngx_http_authcore_jwt_cache);
	ac_decision_use_jwks(ctx->d, ctx->jwks);
	switch (what) {
	case AC_NGX_NEXT:
		ac_decide_next(ctx->policy, st, &ctx->req, now, entropy, elen,
		    ctx->d);
		break;
	case AC_NGX_FINISH:
		ac_decide_finish(ctx->policy, st, &ctx->req, now, entropy, elen,
		    ctx->d);
		break;
	case AC_NGX_ERROR:
		ac_decide_store_error(ctx->policy, st, &ctx->req, now, entropy,
		    elen, ctx->d);
		break;
	case AC_NGX_LOST:
		ac_decide_store_lost(ctx->policy, st, &ctx->req, now, entropy,
		    elen, ctx->d);
		break;
	case AC_NGX_RELEASE:
		(void) ac_release_begin(ctx->policy, ctx->lease, ctx->lease_len,
		    now, ctx->d);
		break;
	case AC_NGX_REDIS_REPLY:
		if (ctx->redis_error) {
			(void) ngx_atomic_fetch_add(&amcf->sh->store_errors, 1);
		}
		ac_redis_reply(ctx->policy, st, &ctx->req, now, entropy, elen,
		    ctx->d, ctx->redis_cmd, ctx->redis_error, ctx->redis_items,
		    ctx->redis_n, ctx->redis_applied);
		break;
	}
	if (ctx->needs & AC_NEEDS_STATE) {
		ngx_http_authcore_unlock(amcf);
	}
}

/*
 * The store reads of a decision waiting for them, from the policy's table
 * in the zone: each read under the zone's mutex, alone, then supplied.
 * NGX_OK, or NGX_ERROR (no table, or a key it does not hold).
 */
static ngx_int_t
ngx_http_authcore_store_read(ngx_http_request_t *r,
    ngx_http_authcore_ctx_t *ctx, const ac_answer *a)
{
	ngx_http_authcore_main_conf_t *amcf;
	uint8_t buf[AC_STORE_VALUE_MAX];
	uint64_t version;
	size_t i, len;
	int rc;

	amcf = ngx_http_get_module_main_conf(r, ngx_http_authcore_module);
	if (ctx->table == NULL) {
		return NGX_ERROR;
	}
	for (i = 0; i < a->n_reads; i++) {
		(void) ngx_http_authcore_lock(amcf);
		rc = ac_table_read(ctx->table, a->reads[i].key, buf, &len,
		    &version);
		ngx_http_authcore_unlock(amcf);
		if (rc != 0
		    || ac_decide_supply(ctx->d, i, buf, len, version) != 0) {
			return NGX_ERROR;
		}
	}
	return NGX_OK;
}

/*
 * A final answer's writes, each a compare-and-set under the zone's mutex,
 * alone. 0 all written, 1 one lost (another worker wrote the entry since
 * it was read; the writes before it stay), -1 one the table cannot hold.
 */
static int
ngx_http_authcore_store_write(ngx_http_request_t *r,
    ngx_http_authcore_ctx_t *ctx, const ac_answer *a)
{
	ngx_http_authcore_main_conf_t *amcf;
	size_t i;
	int rc;

	amcf = ngx_http_get_module_main_conf(r, ngx_http_authcore_module);
	if (ctx->table == NULL) {
		return -1;
	}
	for (i = 0; i < a->n_writes; i++) {
		(void) ngx_http_authcore_lock(amcf);
		rc = ac_table_write(ctx->table, a->writes[i].key,
		    a->writes[i].value, a->writes[i].len, a->writes[i].version);
		ngx_http_authcore_unlock(amcf);
		if (rc != 0) {
			return rc;
		}
	}
	return 0;
}

/*
 * Decides ctx's request as far as it goes without waiting for a password
 * check: the core call (ac_decide_next: finishes ctx->d if it is pending,
 * else begins) with fresh entropy, then the store protocol
 * (core/authcore_store.h) against the policy's table in the zone: reads,
 * finish, writes; a lost write goes back to the core, which decides again
 * or answers store_conflict. Ends with a final decision, or one pending on
 * a password check.
 */
static void
ngx_http_authcore_core_call(ngx_http_request_t *r,
    ngx_http_authcore_ctx_t *ctx, ngx_http_authcore_call_e first)
{
	const ac_answer *a;
	uint8_t *entropy;
	int rc;

	entropy = first == AC_NGX_RELEASE ? NULL
	          : ngx_http_authcore_entropy_take();
	if (ctx->jwks != NULL && first != AC_NGX_RELEASE) {
		ngx_http_authcore_keys_take(ngx_http_get_module_main_conf(r,
		    ngx_http_authcore_module), ctx->jwks_index);
	}
	ngx_http_authcore_call(r, ctx, first, entropy);
	ctx->redis_due = 0;
	for (;;) {
		a = ac_decision_answer(ctx->d);
		if (a->store_shared) {
			/* the policy's Redis: sent from the event loop, the
			 * loop goes on when it answers */
			if (ctx->redis_cmd == NULL) {
				ctx->redis_cmd = ngx_palloc(r->pool,
				    sizeof(ac_redis_cmd));
			}
			if (ctx->redis_cmd != NULL
			    && ac_redis_command(ctx->policy, ctx->d,
			        ctx->redis_cmd)) {
				ctx->redis_due = 1;
				break;
			}
			ctx->redis_error = 1; /* no memory: a failed step */
			ngx_http_authcore_call(r, ctx, AC_NGX_REDIS_REPLY,
			    entropy);
			continue;
		}
		rc = a->n_writes > 0 ? ngx_http_authcore_store_write(r, ctx, a) : 0;
		if (rc != 0) {
			ngx_http_authcore_call(r, ctx,
			    rc < 0 ? AC_NGX_ERROR : AC_NGX_LOST, entropy);
			continue;
		}
		if (a->action != AC_PENDING || a->wait != AC_WAIT_STORE) {
			break; /* final, or a password check */
		}
		ngx_http_authcore_call(r, ctx,
		    ngx_http_authcore_store_read(r, ctx, a) == NGX_OK
		        ? AC_NGX_FINISH : AC_NGX_ERROR, entropy);
	}
	if (entropy != NULL) {
		ngx_explicit_memzero(entropy, AC_NGX_ENTROPY_LEN);
	}
#ifdef AC_NGX_TEST_REWRITE
	ngx_http_authcore_test_rewrite(&ctx->req, ctx->d);
#endif
}

/* Keeps an allowed answer's lease (connection caps) for the request's
 * life. */
static void
ngx_http_authcore_hold(ngx_http_authcore_ctx_t *ctx, const ac_answer *a)
{
	if (a->action == AC_ALLOW && a->lease_len > 0
	    && a->lease_len <= sizeof(ctx->lease)) {
		ngx_memcpy(ctx->lease, a->lease, a->lease_len);
		ctx->lease_len = a->lease_len;
	}
}

/*
 * Gives back the connection caps ctx's allowed answer took (a release
 * decision over the same store loop, in ctx->d, which the request no
 * longer needs), once: when the request ends (r->pool goes: the client
 * or upstream closed a WebSocket, an event stream ended) or before a
 * redirect decides it again.
 */
static void
ngx_http_authcore_release(ngx_http_request_t *r, ngx_http_authcore_ctx_t *ctx)
{
	const ac_answer *a;

	if (ctx->lease_len == 0 || ctx->d == NULL) {
		return;
	}
	if (ac_policy_redis(ctx->policy, &(ac_redis_config){ 0 })) {
		ngx_http_authcore_redis_release(r, ctx);
		ctx->lease_len = 0;
		return;
	}
	ctx->needs = AC_NEEDS_ENTRIES; /* store entries only: no state lock */
	ngx_http_authcore_core_call(r, ctx, AC_NGX_RELEASE);
	a = ac_decision_answer(ctx->d);
	if (a->action != AC_ALLOW || a->reason != AC_OK) {
		ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
		    "authcore: a request's connection caps were not released: %s",
		    ac_reason_name(a->reason));
	}
	ctx->lease_len = 0;
}

/*
 * What follows a core call: a final decision is kept (step DECIDED,
 * NGX_OK); a decision pending on a key fetch starts it (a fetch that
 * cannot be made is a failed one, handed to the core at once); one
 * pending on a password check starts the check. NGX_DONE: the phases run
 * again when the fetch or check is over. Else an HTTP error status.
 */
static ngx_int_t
ngx_http_authcore_settle(ngx_http_request_t *r, ngx_http_authcore_ctx_t *ctx)
{
	const ac_answer *a;

	if (ctx->redis_due) {
		return ngx_http_authcore_redis_start(r, ctx);
	}
	a = ac_decision_answer(ctx->d);
	if (a->action == AC_PENDING && a->wait == AC_WAIT_FETCH) {
		if (ngx_http_authcore_fetch(r, ctx, a) == NGX_DONE) {
			return NGX_DONE;
		}
		(void) ac_decide_fetched(ctx->d, 0, NULL, 0, NULL, 0,
		    (int64_t) ngx_time());
		ngx_http_authcore_core_call(r, ctx, AC_NGX_NEXT);
		a = ac_decision_answer(ctx->d);
	}
	if (a->action == AC_PENDING) {
		return ngx_http_authcore_start(r, ctx);
	}
	ngx_http_authcore_hold(ctx, a);
	ngx_http_authcore_audit(r, a);
	ctx->step = AC_NGX_DECIDED;
	return NGX_OK;
}

/*
 * Decides ctx's request (under the state lock if it needs the state).
 * Returns NGX_OK (final decision, step DECIDED), NGX_DONE (a password
 * check or a key fetch was started; the phases run again when it is
 * over) or an HTTP error status.
 */
static ngx_int_t
ngx_http_authcore_decide(ngx_http_request_t *r, ngx_http_authcore_ctx_t *ctx)
{
	ngx_http_authcore_core_call(r, ctx, AC_NGX_NEXT);
	return ngx_http_authcore_settle(r, ctx);
}

/* Slice stepping: a few milliseconds of PBKDF2, then the next slice is
 * posted behind the events that arrive meanwhile (ngx_posted_next_events
 * makes the loop poll without waiting, then run it). */
static void
ngx_http_authcore_slice(ngx_event_t *ev)
{
	ngx_http_authcore_ctx_t *ctx = ev->data;

	if (ac_decide_step(ctx->d, AC_NGX_SLICE_ITERATIONS) > 0) {
		ngx_post_event(ev, &ngx_posted_next_events);
		return;
	}
	ngx_http_authcore_done(ctx);
}

/* An exiting worker waits for timers, not for threads or posted events. */
static void
ngx_http_authcore_guard(ngx_event_t *ev)
{
	ngx_add_timer(ev, AC_NGX_GUARD_MSEC);
}

#if (NGX_THREADS)
/* Runs in a pool thread: every iteration left, a slice at a time, so that
 * a check whose client went away stops early. */
static void
ngx_http_authcore_thread_step(void *data, ngx_log_t *log)
{
	ngx_http_authcore_ctx_t *ctx = data;

	(void) log;
	while (!ctx->gone
	    && ac_decide_step(ctx->d, AC_NGX_SLICE_ITERATIONS) > 0) {
		/* next slice */
	}
}

/* Back on the event loop once the thread is done. */
static void
ngx_http_authcore_thread_done(ngx_event_t *ev)
{
	ngx_http_authcore_done(ev->data);
}
#endif

/*
 * The check is no longer under way: stops guarding it and lets nginx free
 * the request again.
 */
static void
ngx_http_authcore_unblock(ngx_http_request_t *r, ngx_http_authcore_ctx_t *ctx)
{
	if (ctx->guard.timer_set) {
		ngx_del_timer(&ctx->guard);
	}
	r->main->blocked--;
	if (r->read_event_handler == ngx_http_test_reading) {
		r->read_event_handler = ngx_http_block_reading;
	}
}

/*
 * Gives up the check of a client that went away: its in-flight slot goes
 * back to the state (under the zone's lock), the attempt stays counted.
 * The request is no longer blocked; nginx ends it (499).
 */
static void
ngx_http_authcore_abandon(ngx_http_request_t *r,
    ngx_http_authcore_ctx_t *ctx)
{
	ngx_http_authcore_main_conf_t *amcf;

	amcf = ngx_http_get_module_main_conf(r, ngx_http_authcore_module);
	ac_decide_abandon(ngx_http_authcore_lock(amcf), ctx->d);
	ngx_http_authcore_unlock(amcf);
	ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
	    "authcore: client went away during a password check, "
	    "check abandoned");
	ctx->step = AC_NGX_APPLIED;
	ctx->rc = NGX_HTTP_CLIENT_CLOSED_REQUEST;
	ngx_http_authcore_unblock(r, ctx);
}

/*
 * The check is over: finish the decision under the state lock, then run
 * the phases again, which applies it (ngx_http_authcore_handler). A check
 * whose client left (ngx_http_authcore_gone) is abandoned instead, and
 * nginx ends the request (ngx_http_terminate_request left
 * r->write_event_handler on its finalizer, and the request to free once
 * blocked is 0).
 */
static void
ngx_http_authcore_done(ngx_http_authcore_ctx_t *ctx)
{
	ngx_http_request_t *r = ctx->r;
	ngx_connection_t *c = r->connection;

	ngx_http_set_log_request(c->log, r);

	if (ctx->gone) {
		ngx_http_authcore_abandon(r, ctx);
		r->write_event_handler(r);
		ngx_http_run_posted_requests(c);
		return;
	}
	ngx_http_authcore_unblock(r, ctx);
	ngx_http_authcore_resume(r, ctx, AC_NGX_NEXT);
}

/*
 * Back on the event loop after a wait the request was blocked for (a
 * password check, a Redis step): the core call `what`, then what follows
 * any core call, and the phases run again (or the request ends).
 */
static void
ngx_http_authcore_resume(ngx_http_request_t *r, ngx_http_authcore_ctx_t *ctx,
    ngx_http_authcore_call_e what)
{
	ngx_connection_t *c = r->connection;
	ngx_int_t rc;

	ngx_http_authcore_core_call(r, ctx, what);
	/* pending again (a check, a fetch, Redis): as for the first pass */
	rc = ngx_http_authcore_settle(r, ctx);
	if (rc == NGX_OK) {
		r->write_event_handler(r);
	} else if (rc != NGX_DONE) {
		ngx_http_finalize_request(r, rc);
	}
	ngx_http_run_posted_requests(c);
}

/* ------------------------------------------------------------------ */
/* The policy's Redis (store.redis)                                    */
/* ------------------------------------------------------------------ */

/*
 * Redis answered ctx's store step (or failed it): the answer goes to the
 * core, the decision goes on, and the phases run again, as after a
 * password check.
 */
static void
ngx_http_authcore_redis_done(void *data, int error, const ac_str *items,
    size_t n, long long applied)
{
	ngx_http_authcore_ctx_t *ctx = data;
	ngx_http_request_t *r = ctx->r;

	ngx_http_set_log_request(r->connection->log, r);
	ctx->redis_wait = NULL;
	ngx_http_authcore_unblock(r, ctx);
	ctx->redis_error = error;
	ctx->redis_items = items; /* valid during this call only */
	ctx->redis_n = n;
	ctx->redis_applied = applied;
	ngx_http_authcore_resume(r, ctx, AC_NGX_REDIS_REPLY);
	ctx->redis_items = NULL;
}

/*
 * Sends the store step the core's answer waits for. NGX_DONE: the phases
 * run again when Redis answers (the request is blocked until then, at
 * most store.redis.timeout_ms). A step that cannot be sent is a failed
 * one, handed to the core at once.
 */
static ngx_int_t
ngx_http_authcore_redis_start(ngx_http_request_t *r,
    ngx_http_authcore_ctx_t *ctx)
{
	ctx->redis_due = 0;
	ctx->redis_wait = ngx_http_authcore_redis_send(ctx->policy,
	    ctx->redis_cmd, ngx_http_authcore_redis_done, ctx);
	if (ctx->redis_wait == NULL) {
		ctx->redis_error = 1;
		ngx_http_authcore_core_call(r, ctx, AC_NGX_REDIS_REPLY);
		return ngx_http_authcore_settle(r, ctx);
	}
	ctx->step = AC_NGX_REDIS;
	r->main->blocked++;
	r->read_event_handler = ngx_http_test_reading;
	return NGX_DONE;
}

/* A release of connection caps on Redis, after its request has gone: a
 * decision of its own, on the heap, freed when the release is over. */
typedef struct {
	const ac_policy *policy;
	ac_decision *d;
	ac_redis_cmd cmd;
} ngx_http_authcore_redis_rel_t;

static void
ngx_http_authcore_redis_rel_free(ngx_http_authcore_redis_rel_t *rel)
{
	const ac_answer *a = ac_decision_answer(rel->d);

	if (a->action != AC_ALLOW || a->reason != AC_OK || a->store_shared
	    || a->n_writes > 0 || a->n_reads > 0) {
		ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
		    "authcore: a request's connection caps were not released: %s",
		    a->reason != AC_OK ? ac_reason_name(a->reason)
		    : "redis failed, and the host's own store holds no such counter");
	}
	ngx_free(rel->d);
	ngx_free(rel);
}

static void
ngx_http_authcore_redis_rel_step(ngx_http_authcore_redis_rel_t *rel);

static void
ngx_http_authcore_redis_rel_done(void *data, int error, const ac_str *items,
    size_t n, long long applied)
{
	ngx_http_authcore_redis_rel_t *rel = data;

	ac_redis_reply(rel->policy, NULL, NULL, (int64_t) ngx_time(), NULL, 0,
	    rel->d, &rel->cmd, error, items, n, applied);
	ngx_http_authcore_redis_rel_step(rel);
}

static void
ngx_http_authcore_redis_rel_step(ngx_http_authcore_redis_rel_t *rel)
{
	for (;;) {
		if (!ac_redis_command(rel->policy, rel->d, &rel->cmd)) {
			ngx_http_authcore_redis_rel_free(rel);
			return;
		}
		if (ngx_http_authcore_redis_send(rel->policy, &rel->cmd,
		        ngx_http_authcore_redis_rel_done, rel) != NULL) {
			return;
		}
		ac_redis_reply(rel->policy, NULL, NULL, (int64_t) ngx_time(),
		    NULL, 0, rel->d, &rel->cmd, 1, NULL, 0, 0);
	}
}

static void
ngx_http_authcore_redis_release(ngx_http_request_t *r,
    ngx_http_authcore_ctx_t *ctx)
{
	ngx_http_authcore_redis_rel_t *rel;

	rel = ngx_alloc(sizeof(*rel), r->connection->log);
	if (rel == NULL) {
		return;
	}
	rel->policy = ctx->policy;
	rel->d = ngx_calloc(ac_sizeof_decision(), r->connection->log);
	if (rel->d == NULL) {
		ngx_free(rel);
		return;
	}
	(void) ac_release_begin(ctx->policy, ctx->lease, ctx->lease_len,
	    (int64_t) ngx_time(), rel->d);
	ngx_http_authcore_redis_rel_step(rel);
}

/* ------------------------------------------------------------------ */
/* Keys from jwt.jwks_uri: the fetch                                   */
/* ------------------------------------------------------------------ */

static void ngx_http_authcore_fetch_timeout(ngx_event_t *ev);
static void ngx_http_authcore_fetch_stop(ngx_event_t *ev);
static ngx_int_t ngx_http_authcore_fetch_done(ngx_http_request_t *sr,
    void *data, ngx_int_t rc);

/*
 * The request stops waiting for its fetch, which has failed (why): the
 * core is told so when the phases run again, which they are posted to.
 */
static void
ngx_http_authcore_fetch_failed(ngx_http_authcore_ctx_t *ctx, const char *why)
{
	ngx_http_request_t *r = ctx->r;

	ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
	    "authcore: fetch of \"%V\" failed: %s", &ctx->fetch_url,
	    why);
	if (ctx->fetch_timer.timer_set) {
		ngx_del_timer(&ctx->fetch_timer);
	}
	if (ctx->fetch != NULL) {
		ctx->fetch->ctx = NULL;
		ctx->fetch = NULL;
	}
	ctx->fetch_status = 0;
	ctx->step = AC_NGX_FETCHED;
	if (ngx_http_post_request(r, NULL) != NGX_OK) {
		ctx->step = AC_NGX_APPLIED;
		ctx->rc = NGX_HTTP_INTERNAL_SERVER_ERROR;
	}
}

/*
 * Ends the fetch's subrequest if it still runs (a timeout, a body over
 * max_bytes): its upstream's own cleanup closes the connection to the
 * JWKS server and finalizes it (NGX_DONE, so no post_subrequest). Never
 * called from inside that upstream's processing (the body filter posts
 * fetch_stop instead).
 */
static void
ngx_http_authcore_fetch_abort(ngx_http_authcore_ctx_t *ctx)
{
	ngx_http_request_t *sr = ctx->fetch_sr;
	ngx_http_authcore_fetch_t *f;

	ctx->fetch_sr = NULL;
	if (sr == NULL) {
		return;
	}
	f = ngx_http_get_module_ctx(sr, ngx_http_authcore_module);
	if (f == NULL || f->ended || sr->upstream == NULL
	    || sr->upstream->cleanup == NULL || *sr->upstream->cleanup == NULL) {
		return; /* it ends on its own */
	}
	f->ended = 1;
	(*sr->upstream->cleanup)(sr);
}

static void
ngx_http_authcore_fetch_stop(ngx_event_t *ev)
{
	/* nothing after it: ending the subrequest may end the connection's
	 * request, and ctx with it */
	ngx_http_authcore_fetch_abort(ev->data);
}

/*
 * A copy of s in r's pool (the decision's slices change when it is used
 * again). 0, or -1 without memory.
 */
static ngx_int_t
ngx_http_authcore_copy(ngx_http_request_t *r, ac_str s, ngx_str_t *out)
{
	out->len = s.len;
	out->data = ngx_pnalloc(r->pool, s.len > 0 ? s.len : 1);
	if (out->data == NULL) {
		return -1;
	}
	if (s.len > 0) {
		ngx_memcpy(out->data, s.ptr, s.len);
	}
	return 0;
}

/*
 * Makes sr the request a->fetch names, and nothing else: its method, the
 * core's headers and its body (with the Content-Length proxy_pass sends
 * for it). Whatever sr copied of the client's request (every header:
 * Authorization, Cookie, X-Forwarded-*, ...; the client's body) is
 * dropped first. NGX_OK, or NGX_ERROR without memory.
 */
static ngx_int_t
ngx_http_authcore_fetch_request(ngx_http_request_t *r, ngx_http_request_t *sr,
    const ac_fetch *fe)
{
	static const struct {
		ngx_str_t name;
		ngx_uint_t method;
	} methods[] = {
		{ ngx_string("GET"), NGX_HTTP_GET },
		{ ngx_string("POST"), NGX_HTTP_POST },
		{ ngx_string("HEAD"), NGX_HTTP_HEAD },
		{ ngx_string("PUT"), NGX_HTTP_PUT },
		{ ngx_string("DELETE"), NGX_HTTP_DELETE },
		{ ngx_string("PATCH"), NGX_HTTP_PATCH },
		{ ngx_string("OPTIONS"), NGX_HTTP_OPTIONS },
	};
	ngx_http_request_body_t *rb;
	ngx_table_elt_t *h;
	ngx_chain_t *cl;
	ngx_buf_t *b;
	ngx_uint_t i;
	ngx_str_t v;

	ngx_memzero(&sr->headers_in, sizeof(ngx_http_headers_in_t));
	sr->headers_in.content_length_n = -1;
	sr->headers_in.keep_alive_n = -1;
	sr->request_body = NULL;
	if (ngx_list_init(&sr->headers_in.headers, r->pool,
	        fe->n_headers > 0 ? fe->n_headers : 1, sizeof(ngx_table_elt_t))
	    != NGX_OK) {
		return NGX_ERROR;
	}

	if (ngx_http_authcore_copy(r, fe->method, &v) != 0) {
		return NGX_ERROR;
	}
	sr->method = NGX_HTTP_UNKNOWN;
	for (i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
		if (v.len == methods[i].name.len
		    && ngx_strncmp(v.data, methods[i].name.data, v.len) == 0) {
			sr->method = methods[i].method;
			break;
		}
	}
	sr->method_name = v;

	for (i = 0; i < fe->n_headers; i++) {
		h = ngx_list_push(&sr->headers_in.headers);
		if (h == NULL
		    || ngx_http_authcore_copy(r, fe->headers[i].name, &h->key) != 0
		    || ngx_http_authcore_copy(r, fe->headers[i].value, &h->value)
		       != 0) {
			return NGX_ERROR;
		}
		h->lowcase_key = ngx_pnalloc(r->pool, h->key.len > 0 ? h->key.len : 1);
		if (h->lowcase_key == NULL) {
			return NGX_ERROR;
		}
		h->hash = ngx_hash_strlow(h->lowcase_key, h->key.data, h->key.len);
#if (nginx_version >= 1023000)
		h->next = NULL;
#endif
	}

	/* a body (even an empty one, for a method that carries one): in
	 * memory, as a client's read body would be, and its length */
	if (fe->body.len == 0 && (sr->method & (NGX_HTTP_GET | NGX_HTTP_HEAD))) {
		return NGX_OK;
	}
	rb = ngx_pcalloc(r->pool, sizeof(ngx_http_request_body_t));
	if (rb == NULL) {
		return NGX_ERROR;
	}
	if (fe->body.len > 0) {
		b = ngx_create_temp_buf(r->pool, fe->body.len);
		cl = ngx_alloc_chain_link(r->pool);
		if (b == NULL || cl == NULL) {
			return NGX_ERROR;
		}
		b->last = ngx_cpymem(b->last, fe->body.ptr, fe->body.len);
		b->last_buf = 1;
		cl->buf = b;
		cl->next = NULL;
		rb->bufs = cl;
	}
	sr->request_body = rb;
	sr->headers_in.content_length_n = (off_t) fe->body.len;
	return NGX_OK;
}

/*
 * Starts the fetch a pending decision asks for (a->fetch): a background,
 * in-memory subrequest to the location authcore_fetch names, which
 * proxies to $authcore_fetch_url (the URL as the policy has it, never
 * taken from the configuration). The subrequest is exactly the request
 * the core names (method, headers, body) and carries nothing of the
 * client's (its token, its cookies, its other headers, its body stay
 * here). Background, so that when the module's timer gives up on it the
 * main request answers at once, whatever the subrequest still does.
 * Returns NGX_DONE (step FETCH; ngx_http_authcore_fetch_done or the timer
 * runs the phases again), or NGX_DECLINED when no fetch could be made.
 */
static ngx_int_t
ngx_http_authcore_fetch(ngx_http_request_t *r, ngx_http_authcore_ctx_t *ctx,
    const ac_answer *a)
{
	ngx_http_authcore_fetch_t *f;
	ngx_http_post_subrequest_t *ps;
	ngx_http_request_t *sr;

	if (ctx->fetch_uri.len == 0 || a->fetch.url.len == 0) {
		return NGX_DECLINED;
	}
	ctx->fetch_url.data = ngx_pnalloc(r->pool, a->fetch.url.len);
	f = ngx_pcalloc(r->pool, sizeof(ngx_http_authcore_fetch_t));
	ps = ngx_palloc(r->pool, sizeof(ngx_http_post_subrequest_t));
	if (ctx->fetch_url.data == NULL || f == NULL || ps == NULL) {
		return NGX_DECLINED;
	}
	ngx_memcpy(ctx->fetch_url.data, a->fetch.url.ptr, a->fetch.url.len);
	ctx->fetch_url.len = a->fetch.url.len;
	f->ctx = ctx;
	f->owner = ctx;
	f->max = a->fetch.max_bytes;
	ps->handler = ngx_http_authcore_fetch_done;
	ps->data = f;

	if (ngx_http_subrequest(r, &ctx->fetch_uri, NULL, &sr, ps,
	        NGX_HTTP_SUBREQUEST_IN_MEMORY | NGX_HTTP_SUBREQUEST_BACKGROUND)
	    != NGX_OK) {
		ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
		    "authcore: no subrequest to \"%V\" for the fetch of \"%V\"",
		    &ctx->fetch_uri, &ctx->fetch_url);
		return NGX_DECLINED;
	}
	ngx_http_set_ctx(sr, f, ngx_http_authcore_module);

	if (ngx_http_authcore_fetch_request(r, sr, &a->fetch) != NGX_OK) {
		/* out of memory: the subrequest still runs, as a bare GET with
		 * nothing of the client's, and nobody waits for it */
		ngx_memzero(&sr->headers_in, sizeof(ngx_http_headers_in_t));
		sr->headers_in.content_length_n = -1;
		sr->headers_in.keep_alive_n = -1;
		sr->request_body = NULL;
		sr->method = NGX_HTTP_GET;
		sr->method_name = ngx_http_core_get_method;
		f->ctx = NULL;
		return NGX_DECLINED;
	}

	ctx->fetch = f;
	ctx->fetch_sr = sr;
	ctx->fetch_get = sr->method == NGX_HTTP_GET;
	ctx->fetch_stop.handler = ngx_http_authcore_fetch_stop;
	ctx->fetch_stop.data = ctx;
	ctx->fetch_stop.log = r->connection->log;
	ctx->fetch_status = 0;
	ctx->fetch_type.len = 0;
	ctx->fetch_body.len = 0;
	ctx->fetch_timer.handler = ngx_http_authcore_fetch_timeout;
	ctx->fetch_timer.data = ctx;
	ctx->fetch_timer.log = r->connection->log;
	ngx_add_timer(&ctx->fetch_timer,
	    a->fetch.timeout_ms > 0 ? (ngx_msec_t) a->fetch.timeout_ms : 1);
	ctx->step = AC_NGX_FETCH;
	return NGX_DONE;
}

/*
 * The fetch's subrequest's body, gathered into its context and consumed
 * (nothing of it goes further down the chain): at most f->max bytes; past
 * that the fetch has failed at once, and the upstream is stopped once its
 * processing returns (an error here would be taken for the client's
 * connection failing). Every other request's body passes untouched.
 */
static ngx_int_t
ngx_http_authcore_body_filter(ngx_http_request_t *r, ngx_chain_t *in)
{
	ngx_http_authcore_fetch_t *f;
	ngx_chain_t *cl;
	ngx_buf_t *b;
	size_t size, cap;
	ssize_t n;
	u_char *p;

	f = r != r->main ? ngx_http_get_module_ctx(r, ngx_http_authcore_module)
	    : NULL;
	if (f == NULL) {
		return ngx_http_authcore_next_body_filter(r, in);
	}
	for (cl = in; cl; cl = cl->next) {
		b = cl->buf;
		size = (size_t) ngx_buf_size(b);
		if (size > 0 && !f->too_big) {
			if (size > f->max - f->len) {
				f->too_big = 1;
			} else {
				if (f->len + size > f->cap) {
					cap = f->cap > 0 ? f->cap : 16384;
					if (f->cap == 0 && r->headers_out.content_length_n > 0
					    && (size_t) r->headers_out.content_length_n <= f->max) {
						cap = (size_t) r->headers_out.content_length_n;
					}
					while (cap < f->len + size) {
						cap *= 2;
					}
					cap = ngx_min(cap, f->max);
					p = ngx_pnalloc(r->pool, cap);
					if (p == NULL) {
						return NGX_ERROR;
					}
					if (f->len > 0) {
						ngx_memcpy(p, f->buf, f->len);
					}
					f->buf = p;
					f->cap = cap;
				}
				if (ngx_buf_in_memory(b)) {
					ngx_memcpy(f->buf + f->len, b->pos, size);
				} else {
					n = ngx_read_file(b->file, f->buf + f->len, size,
					    b->file_pos);
					if (n != (ssize_t) size) {
						return NGX_ERROR;
					}
				}
				f->len += size;
			}
		}
		if (b->last_buf || b->last_in_chain) {
			f->complete = 1;
		}
		b->pos = b->last;
		if (b->in_file) {
			b->file_pos = b->file_last;
		}
	}
	if (f->too_big && f->ctx != NULL) {
		ngx_http_authcore_fetch_failed(f->ctx,
		    "the answer is over jwks_fetch.max_bytes");
		if (f->owner->fetch_sr == r && !f->owner->fetch_stop.posted) {
			ngx_post_event(&f->owner->fetch_stop, &ngx_posted_events);
		}
	}
	return NGX_OK;
}

/*
 * The fetch's subrequest is over (post_subrequest, inside its
 * finalization): its outcome goes to the waiting request, which is posted
 * to run its phases again. Status 0 unless the whole answer came within
 * max bytes. Returns NGX_OK whatever happened, so that a failed fetch
 * ends the subrequest alone, never the request waiting for it.
 */
static ngx_int_t
ngx_http_authcore_fetch_done(ngx_http_request_t *sr, void *data, ngx_int_t rc)
{
	ngx_http_authcore_fetch_t *f = data;
	ngx_http_authcore_ctx_t *ctx = f->ctx;
	ngx_http_request_t *r;

	if (f->ended) {
		return NGX_OK;
	}
	f->ended = 1;
	if (f->owner->fetch_sr == sr) {
		f->owner->fetch_sr = NULL;
		if (f->owner->fetch_stop.posted) {
			ngx_delete_posted_event(&f->owner->fetch_stop);
		}
	}
	if (ctx == NULL || ctx->fetch != f) {
		return NGX_OK; /* given up on: the request was decided without it */
	}
	r = ctx->r;
	ctx->fetch = NULL;
	f->ctx = NULL;
	if (ctx->fetch_timer.timer_set) {
		ngx_del_timer(&ctx->fetch_timer);
	}
	if (f->complete && !f->too_big && rc != NGX_ERROR
	    && rc < NGX_HTTP_SPECIAL_RESPONSE) {
		ctx->fetch_status = sr->headers_out.status;
		ctx->fetch_type = sr->headers_out.content_type;
		ctx->fetch_body.data = f->buf;
		ctx->fetch_body.len = f->len;
	} else {
		ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
		    "authcore: fetch of \"%V\" failed: %s",
		    &ctx->fetch_url, f->too_big ? "the answer is over "
		    "jwks_fetch.max_bytes" : "no whole answer");
	}
	ctx->step = AC_NGX_FETCHED;
	if (ngx_http_post_request(r, NULL) != NGX_OK) {
		return NGX_ERROR;
	}
	return NGX_OK;
}

/* jwks_fetch.timeout_ms passed: the fetch has failed; the request goes on
 * without it (a subrequest that answers later is ignored). */
static void
ngx_http_authcore_fetch_timeout(ngx_event_t *ev)
{
	ngx_http_authcore_ctx_t *ctx = ev->data;
	ngx_http_request_t *r = ctx->r;
	ngx_connection_t *c = r->connection;

	ngx_http_set_log_request(c->log, r);
	if (ctx->step != AC_NGX_FETCH) {
		return;
	}
	ngx_http_authcore_fetch_failed(ctx,
	    "no whole answer within jwks_fetch.timeout_ms");
	ngx_http_authcore_fetch_abort(ctx);
	ngx_http_run_posted_requests(c);
}

/*
 * Back in the access phase with the fetch's outcome: handed to the core
 * (which alone decides whether it replaces the keys), then the decision
 * goes on as after any core call.
 */
static ngx_int_t
ngx_http_authcore_fetched(ngx_http_request_t *r, ngx_http_authcore_ctx_t *ctx)
{
	ac_decision_use_jwks(ctx->d, ctx->jwks);
	if (ac_decide_fetched(ctx->d, (int) ctx->fetch_status,
	        (const char *) ctx->fetch_type.data, ctx->fetch_type.len,
	        ctx->fetch_body.data, ctx->fetch_body.len, (int64_t) ngx_time())
	    == 0) {
		/* new keys or a provider's configuration (a token request's
		 * answer changes no cache: nothing to share) */
		if (ctx->fetch_get && ctx->jwks != NULL) {
			ngx_http_authcore_keys_publish(ngx_http_get_module_main_conf(r,
			    ngx_http_authcore_module), ctx->jwks_index);
		}
	} else if (ctx->fetch_status != 0) {
		ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
		    "authcore: the answer from \"%V\" was refused (status %ui, "
		    "Content-Type \"%V\", %uz bytes)", &ctx->fetch_url,
		    ctx->fetch_status, &ctx->fetch_type, ctx->fetch_body.len);
	}
	ngx_http_authcore_core_call(r, ctx, AC_NGX_NEXT);
	return ngx_http_authcore_settle(r, ctx);
}

/*
 * The decision names the target to forward instead (canonical path, token
 * parameter removed): it becomes the request's target as the client's
 * would be. proxy_pass without a URI part, and $request_uri, then carry it
 * byte for byte (r->unparsed_uri, valid). $uri and $args (what try_files,
 * fastcgi_param SCRIPT_NAME, ... and a proxy_pass with a URI part use)
 * become its decoded path and its query.
 */
static ngx_int_t
ngx_http_authcore_rewrite_target(ngx_http_request_t *r,
    ngx_http_authcore_ctx_t *ctx)
{
	const ac_answer *d = ac_decision_answer(ctx->d);
	u_char *t, *q, *dst, *src;
	size_t path_len;

	t = ngx_pnalloc(r->pool, 2 * d->path.len);
	if (t == NULL) {
		return NGX_ERROR;
	}
	ngx_memcpy(t, d->path.ptr, d->path.len);
	q = ngx_strlchr(t, t + d->path.len, '?');
	path_len = q ? (size_t) (q - t) : d->path.len;

	dst = t + d->path.len;
	src = t;
	ngx_unescape_uri(&dst, &src, path_len, NGX_UNESCAPE_URI);

	r->unparsed_uri.data = t;
	r->unparsed_uri.len = d->path.len;
	r->valid_unparsed_uri = 1;
	r->uri.data = t + d->path.len;
	r->uri.len = (size_t) (dst - r->uri.data);
	r->quoted_uri = 1; /* escape $uri again where it is forwarded */
	if (q != NULL) {
		r->args.data = q + 1;
		r->args.len = d->path.len - path_len - 1;
	} else {
		r->args.len = 0;
		r->args.data = NULL;
	}
	ngx_http_set_exten(r);
	ctx->target = r->unparsed_uri;
	return NGX_OK;
}

/* Applies a final decision; returns the access phase's answer. */
static ngx_int_t
ngx_http_authcore_apply(ngx_http_request_t *r, ngx_http_authcore_ctx_t *ctx)
{
	const ac_answer *d = ac_decision_answer(ctx->d);

	/* Applied whatever the action: under "satisfy any" another module may
	 * still grant a refused request, and client-sent copies of identity
	 * headers must not reach the upstream then either. */
	if (ngx_http_authcore_remove_headers(r, d) != NGX_OK) {
		return NGX_HTTP_INTERNAL_SERVER_ERROR;
	}

	if (d->action == AC_ALLOW) {
		if (ngx_http_authcore_add_headers(r, d) != NGX_OK
		    || (d->path_rewritten
		        && ngx_http_authcore_rewrite_target(r, ctx) != NGX_OK)) {
			return NGX_HTTP_INTERNAL_SERVER_ERROR;
		}
		/* NGX_OK: granted. Under "satisfy all" the other access modules
		 * still run; under "satisfy any" this grant suffices. The
		 * header filter adds d->resp_headers to the response. */
		return NGX_OK;
	}

	return ngx_http_authcore_respond(r, d);
}

/*
 * The access-phase handler. First call in a location: take the request
 * target the upstream will get, ask the core what the request needs, then
 * decide now, or after the body was read, or after the password check; the
 * later two run the phases again, which calls this handler again to apply
 * the decision (returning NGX_AGAIN meanwhile, e.g. on a write event).
 * After an internal redirect the phases start over in another location,
 * with another target: the request is decided again there, on the headers
 * the client sent.
 */
static ngx_int_t
ngx_http_authcore_handler(ngx_http_request_t *r)
{
	ngx_http_authcore_loc_conf_t *alcf;
	ngx_http_authcore_main_conf_t *amcf;
	ngx_http_authcore_ctx_t *ctx;
	ngx_int_t rc;

	alcf = ngx_http_get_module_loc_conf(r, ngx_http_authcore_module);
	if (alcf->policy == NULL) {
		return NGX_DECLINED;
	}

	ctx = ngx_http_get_module_ctx(r, ngx_http_authcore_module);
	if (ctx != NULL) {
		switch (ctx->step) {
		case AC_NGX_DECIDED:
			ctx->step = AC_NGX_APPLIED;
			ctx->rc = ngx_http_authcore_apply(r, ctx);
			return ctx->rc;
		case AC_NGX_APPLIED:
			return ctx->rc;
		case AC_NGX_FETCHED:
			rc = ngx_http_authcore_fetched(r, ctx);
			if (rc != NGX_OK) {
				return rc; /* NGX_DONE: pending again */
			}
			ctx->step = AC_NGX_APPLIED;
			ctx->rc = ngx_http_authcore_apply(r, ctx);
			return ctx->rc;
		default:
			return NGX_AGAIN;
		}
	}

	ctx = ngx_http_authcore_find_ctx(r);
	if (ctx == NULL) {
		ctx = ngx_http_authcore_create_ctx(r, alcf->policy);
		if (ctx == NULL) {
			return NGX_HTTP_INTERNAL_SERVER_ERROR;
		}
	}
	/* decided again after an internal redirect: the earlier pass's
	 * streams count no longer (this pass counts its own) */
	ngx_http_authcore_release(r, ctx);
	ngx_http_set_ctx(r, ctx, ngx_http_authcore_module);
	ctx->policy = alcf->policy;
	ctx->fetch_uri = alcf->fetch;
	ctx->jwks = alcf->jwks >= 0
	    && (ngx_uint_t) alcf->jwks < ngx_http_authcore_n_jwks
	    ? ngx_http_authcore_jwks[alcf->jwks] : NULL;
	ctx->jwks_index = ctx->jwks != NULL ? alcf->jwks : -1;
	ctx->table = NULL;
	if (alcf->table >= 0) {
		amcf = ngx_http_get_module_main_conf(r, ngx_http_authcore_module);
		if ((ngx_uint_t) alcf->table < amcf->sh->n_tables) {
			ctx->table = amcf->sh->table[alcf->table];
		}
	}
	ctx->step = 0;
	ctx->resp_added = 0;
	ctx->req.body.ptr = NULL;
	ctx->req.body.len = 0;
	ctx->req.body_too_large = 0;
	/* the method too: error_page turns every method but HEAD into GET */
	ctx->req.method.ptr = (const char *) r->method_name.data;
	ctx->req.method.len = r->method_name.len;
	if (ngx_http_authcore_target(r, &ctx->target) != NGX_OK) {
		return NGX_HTTP_INTERNAL_SERVER_ERROR;
	}
	ctx->req.path.ptr = (const char *) ctx->target.data;
	ctx->req.path.len = ctx->target.len;

	ctx->needs = ac_needs(ctx->policy, &ctx->req);
	if (ctx->needs & AC_NEEDS_BODY) {
		if (r->headers_in.content_length_n > (off_t) AC_LOGIN_BODY_MAX) {
			/* not read at all; the local answer discards it */
			ctx->req.body_too_large = 1;
		} else {
			ctx->step = AC_NGX_BODY;
			rc = ngx_http_read_client_request_body(r,
			    ngx_http_authcore_body_handler);
			if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
				return rc;
			}
			/* balances the count the body reading took */
			ngx_http_finalize_request(r, NGX_DONE);
			return NGX_DONE;
		}
	}

	rc = ngx_http_authcore_decide(r, ctx);
	if (rc != NGX_OK) {
		return rc; /* NGX_DONE: pending, or an error status */
	}
	ctx->step = AC_NGX_APPLIED;
	ctx->rc = ngx_http_authcore_apply(r, ctx);
	return ctx->rc;
}

/* The login body is in (maybe before read_client_request_body returned). */
static void
ngx_http_authcore_body_handler(ngx_http_request_t *r)
{
	ngx_http_authcore_ctx_t *ctx;
	ngx_int_t rc;

	ctx = ngx_http_get_module_ctx(r, ngx_http_authcore_module);
	r->write_event_handler = ngx_http_core_run_phases;

	if (ngx_http_authcore_take_body(r, ctx) != NGX_OK) {
		ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
		return;
	}
	rc = ngx_http_authcore_decide(r, ctx);
	if (rc == NGX_DONE) {
		return; /* ngx_http_authcore_done runs the phases */
	}
	if (rc != NGX_OK) {
		ngx_http_finalize_request(r, rc);
		return;
	}
	ngx_http_core_run_phases(r);
}

/* On AC_ALLOW, the decision's response headers (Set-Cookie, security and
 * CORS headers) are applied to the upstream's response, each as its mode
 * says. */
static ngx_int_t
ngx_http_authcore_header_filter(ngx_http_request_t *r)
{
	ngx_http_authcore_ctx_t *ctx;
	const ac_answer *a;
	size_t i;

	ctx = r == r->main ? ngx_http_authcore_find_ctx(r) : NULL;
	a = ctx != NULL ? ac_decision_answer(ctx->d) : NULL;
	if (ctx != NULL && ctx->step == AC_NGX_APPLIED
	    && a->action == AC_ALLOW && !ctx->resp_added) {
		ctx->resp_added = 1;
		for (i = 0; i < a->n_resp_headers; i++) {
			if (ngx_http_authcore_apply_header(r, &a->resp_headers[i],
			        a->resp_modes[i])
			    != NGX_OK) {
				return NGX_ERROR;
			}
		}
	}
	return ngx_http_authcore_next_header_filter(r);
}

/* A variable's value: s, or not found when s is NULL. */
static ngx_int_t
ngx_http_authcore_variable_value(ngx_http_variable_value_t *v, ngx_str_t *s)
{
	if (s == NULL) {
		v->not_found = 1;
		return NGX_OK;
	}
	v->data = s->data;
	v->len = s->len;
	v->valid = 1;
	v->no_cacheable = 1;
	v->not_found = 0;
	return NGX_OK;
}

/* $authcore_uri: the request target as decided, which the upstream must
 * get (the rewritten one when the decision rewrote it); empty where the
 * module did not decide. */
static ngx_int_t
ngx_http_authcore_uri_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
	ngx_http_authcore_ctx_t *ctx;

	(void) data;
	ctx = ngx_http_authcore_find_ctx(r->main);
	return ngx_http_authcore_variable_value(v, ctx != NULL &&
	    ctx->step == AC_NGX_APPLIED ? &ctx->target : NULL);
}

/* $authcore_fetch_url: the URL of the key fetch the request's decision
 * waits for (the policy's jwt.jwks_uri), for the authcore_fetch
 * location's proxy_pass; empty when none was asked for. */
static ngx_int_t
ngx_http_authcore_fetch_url_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
	ngx_http_authcore_ctx_t *ctx;

	(void) data;
	ctx = ngx_http_authcore_find_ctx(r->main);
	return ngx_http_authcore_variable_value(v, ctx != NULL &&
	    ctx->fetch_url.len > 0 ? &ctx->fetch_url : NULL);
}

/* $authcore_store_errors: the store steps Redis failed since the zone was
 * made, by every worker (a counter for a status location or a log). */
static ngx_int_t
ngx_http_authcore_store_errors_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
	ngx_http_authcore_main_conf_t *amcf;
	u_char *p;

	(void) data;
	amcf = ngx_http_get_module_main_conf(r, ngx_http_authcore_module);
	p = ngx_pnalloc(r->pool, NGX_ATOMIC_T_LEN);
	if (p == NULL) {
		return NGX_ERROR;
	}
	v->len = ngx_sprintf(p, "%uA", amcf->sh != NULL ?
	    amcf->sh->store_errors : 0) - p;
	v->valid = 1;
	v->no_cacheable = 1;
	v->not_found = 0;
	v->data = p;
	return NGX_OK;
}

static ngx_int_t
ngx_http_authcore_add_variables(ngx_conf_t *cf)
{
	static ngx_str_t name = ngx_string("authcore_uri");
	static ngx_str_t fetch_name = ngx_string("authcore_fetch_url");
	static ngx_str_t errors_name = ngx_string("authcore_store_errors");
	ngx_http_variable_t *var;

	var = ngx_http_add_variable(cf, &errors_name, NGX_HTTP_VAR_NOCACHEABLE);
	if (var == NULL) {
		return NGX_ERROR;
	}
	var->get_handler = ngx_http_authcore_store_errors_variable;

	var = ngx_http_add_variable(cf, &name, NGX_HTTP_VAR_NOCACHEABLE);
	if (var == NULL) {
		return NGX_ERROR;
	}
	var->get_handler = ngx_http_authcore_uri_variable;
	var = ngx_http_add_variable(cf, &fetch_name, NGX_HTTP_VAR_NOCACHEABLE);
	if (var == NULL) {
		return NGX_ERROR;
	}
	var->get_handler = ngx_http_authcore_fetch_url_variable;
	return NGX_OK;
}

static ngx_int_t
ngx_http_authcore_init(ngx_conf_t *cf)
{
	ngx_http_handler_pt *h;
	ngx_http_core_main_conf_t *cmcf;

	cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);
	h = ngx_array_push(&cmcf->phases[NGX_HTTP_ACCESS_PHASE].handlers);
	if (h == NULL) {
		return NGX_ERROR;
	}
	*h = ngx_http_authcore_handler;

	ngx_http_authcore_next_header_filter = ngx_http_top_header_filter;
	ngx_http_top_header_filter = ngx_http_authcore_header_filter;
	ngx_http_authcore_next_body_filter = ngx_http_top_body_filter;
	ngx_http_top_body_filter = ngx_http_authcore_body_filter;
	return NGX_OK;
}
