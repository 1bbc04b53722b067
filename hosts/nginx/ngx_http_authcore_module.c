/*
 * nginx host shim for authcore: an access-phase handler that reads the
 * request once into an ac_request, calls ac_decide once and applies the
 * decision once. Every policy decision lives in core/; this file only
 * translates between nginx's request structures and the core's.
 *
 * Licensed under the MIT license (see LICENSE).
 */
#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#if (NGX_LINUX)
#include <sys/random.h>
#endif

#include "authcore.h"

#define AC_ENTROPY_LEN 16

typedef struct {
	/* NGX_CONF_UNSET_PTR until configured; NULL for "off". The policy
	 * lives in memory from the configuration pool. */
	const ac_policy *policy;
} ngx_http_authcore_loc_conf_t;

static char *ngx_http_authcore_policy(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static void *ngx_http_authcore_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_authcore_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static ngx_int_t ngx_http_authcore_init(ngx_conf_t *cf);

static ngx_command_t ngx_http_authcore_commands[] = {

	{ ngx_string("authcore_policy"),
	  NGX_HTTP_MAIN_CONF | NGX_HTTP_SRV_CONF | NGX_HTTP_LOC_CONF
	      | NGX_HTTP_LMT_CONF | NGX_CONF_TAKE1,
	  ngx_http_authcore_policy,
	  NGX_HTTP_LOC_CONF_OFFSET,
	  0,
	  NULL },

	ngx_null_command
};

static ngx_http_module_t ngx_http_authcore_module_ctx = {
	NULL,                              /* preconfiguration */
	ngx_http_authcore_init,            /* postconfiguration */
	NULL,                              /* create main configuration */
	NULL,                              /* init main configuration */
	NULL,                              /* create server configuration */
	NULL,                              /* merge server configuration */
	ngx_http_authcore_create_loc_conf, /* create location configuration */
	ngx_http_authcore_merge_loc_conf   /* merge location configuration */
};

ngx_module_t ngx_http_authcore_module = {
	NGX_MODULE_V1,
	&ngx_http_authcore_module_ctx, /* module context */
	ngx_http_authcore_commands,    /* module directives */
	NGX_HTTP_MODULE,               /* module type */
	NULL,                          /* init master */
	NULL,                          /* init module */
	NULL,                          /* init process */
	NULL,                          /* init thread */
	NULL,                          /* exit thread */
	NULL,                          /* exit process */
	NULL,                          /* exit master */
	NGX_MODULE_V1_PADDING
};

/* ------------------------------------------------------------------ */
/* Configuration                                                       */
/* ------------------------------------------------------------------ */

static char *
ngx_http_authcore_policy(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
	ngx_http_authcore_loc_conf_t *alcf = conf;
	ngx_str_t *value, name;
	ngx_file_t file;
	ngx_file_info_t fi;
	ssize_t n;
	size_t len, mem_len, used;
	u_char *json;
	void *mem;
	const ac_policy *policy;
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

	mem_len = ac_policy_mem_bound(len);
	mem = ngx_palloc(cf->pool, mem_len);
	if (mem == NULL) {
		return NGX_CONF_ERROR;
	}

	ngx_memzero(&err, sizeof(err));
	used = 0;
	policy = ac_policy_load(mem, mem_len, (const char *) json, len, &used,
	    &err);
	if (policy == NULL) {
		err.path[sizeof(err.path) - 1] = '\0';
		err.message[sizeof(err.message) - 1] = '\0';
		ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
		    "authcore_policy \"%V\": invalid policy at %s: %s", &name,
		    err.path[0] ? err.path : "$", err.message);
		return NGX_CONF_ERROR;
	}

	alcf->policy = policy;
	return NGX_CONF_OK;

failed:
	if (ngx_close_file(file.fd) == NGX_FILE_ERROR) {
		ngx_conf_log_error(NGX_LOG_ALERT, cf, ngx_errno,
		    ngx_close_file_n " \"%V\" failed", &name);
	}
	return NGX_CONF_ERROR;
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
	return conf;
}

static char *
ngx_http_authcore_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
	ngx_http_authcore_loc_conf_t *prev = parent;
	ngx_http_authcore_loc_conf_t *conf = child;

	(void) cf;
	ngx_conf_merge_ptr_value(conf->policy, prev->policy, NULL);
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
ngx_http_authcore_removed(const ngx_table_elt_t *h, const ac_decision *d)
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
ngx_http_authcore_remove_headers(ngx_http_request_t *r, const ac_decision *d)
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

/* Appends d->add[] to the request headers, which upstream modules forward. */
static ngx_int_t
ngx_http_authcore_add_headers(ngx_http_request_t *r, const ac_decision *d)
{
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
 * Sends the decision's response and finalizes the request. Under
 * "satisfy any" a 401/403 is handed back to nginx instead (with only the
 * WWW-Authenticate header, as auth_basic does), so that another access
 * module may still grant the request; nginx then answers with its own page.
 */
static ngx_int_t
ngx_http_authcore_respond(ngx_http_request_t *r, ac_decision *d)
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
		if (ngx_http_authcore_push_header(r, a) != NGX_OK) {
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

static size_t
ngx_http_authcore_entropy(uint8_t *buf, size_t len)
{
#if (NGX_LINUX)
	/* getrandom never blocks once the kernel pool is seeded */
	return getrandom(buf, len, GRND_NONBLOCK) == (ssize_t) len ? len : 0;
#elif (NGX_FREEBSD || NGX_DARWIN)
	arc4random_buf(buf, len);
	return len;
#else
	(void) buf;
	(void) len;
	return 0;
#endif
}

static ngx_int_t
ngx_http_authcore_handler(ngx_http_request_t *r)
{
	ngx_http_authcore_loc_conf_t *alcf;
	ngx_list_part_t *part;
	ngx_table_elt_t *h;
	ngx_uint_t i, total;
	ac_header *hdrs;
	ac_request req;
	ac_decision *d;
	uint8_t entropy[AC_ENTROPY_LEN];
	size_t n, entropy_len;

	alcf = ngx_http_get_module_loc_conf(r, ngx_http_authcore_module);
	if (alcf->policy == NULL) {
		return NGX_DECLINED;
	}

	total = 0;
	for (part = &r->headers_in.headers.part; part; part = part->next) {
		total += part->nelts;
	}
	n = total > AC_HEADERS_MAX ? AC_HEADERS_MAX : total;

	/* ~8 KB decision: from the request pool, not the stack. It must live
	 * as long as the request: the response and headers point into it. */
	d = ngx_palloc(r->pool, sizeof(ac_decision));
	hdrs = ngx_palloc(r->pool, (n ? n : 1) * sizeof(ac_header));
	if (d == NULL || hdrs == NULL) {
		return NGX_HTTP_INTERNAL_SERVER_ERROR;
	}

	n = 0;
	for (part = &r->headers_in.headers.part; part; part = part->next) {
		h = part->elts;
		for (i = 0; i < part->nelts && n < AC_HEADERS_MAX; i++, n++) {
			hdrs[n].name.ptr = (const char *) h[i].key.data;
			hdrs[n].name.len = h[i].key.len;
			hdrs[n].value.ptr = (const char *) h[i].value.data;
			hdrs[n].value.len = h[i].value.len;
		}
	}

	ngx_memzero(&req, sizeof(req));
	req.method.ptr = (const char *) r->method_name.data;
	req.method.len = r->method_name.len;
	/* the raw target: core refuses dot segments and encoded slashes, which
	 * nginx's own normalization of r->uri would hide */
	req.path.ptr = (const char *) r->unparsed_uri.data;
	req.path.len = r->unparsed_uri.len;
	req.client_ip.ptr = (const char *) r->connection->addr_text.data;
	req.client_ip.len = r->connection->addr_text.len;
	req.headers = hdrs;
	req.n_headers = n;
	req.too_many_headers = total > AC_HEADERS_MAX;
#if (NGX_HTTP_SSL)
	req.https = r->connection->ssl != NULL;
#endif

	entropy_len = ngx_http_authcore_entropy(entropy, sizeof(entropy));
	ac_decide(alcf->policy, NULL, &req, (int64_t) ngx_time(),
	    entropy_len ? entropy : NULL, entropy_len, d);

	ngx_log_error(NGX_LOG_INFO, r->connection->log, 0, "authcore: %*s",
	    d->audit_len, d->audit);

	/* Applied whatever the action: under "satisfy any" another module may
	 * still grant a refused request, and client-sent copies of identity
	 * headers must not reach the upstream then either. */
	if (ngx_http_authcore_remove_headers(r, d) != NGX_OK) {
		return NGX_HTTP_INTERNAL_SERVER_ERROR;
	}

	if (d->action == AC_ALLOW) {
		if (ngx_http_authcore_add_headers(r, d) != NGX_OK) {
			return NGX_HTTP_INTERNAL_SERVER_ERROR;
		}
		/* NGX_OK: granted. Under "satisfy all" the other access modules
		 * still run; under "satisfy any" this grant suffices. */
		return NGX_OK;
	}

	return ngx_http_authcore_respond(r, d);
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
	return NGX_OK;
}
