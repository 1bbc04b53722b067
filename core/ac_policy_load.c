/*
 * The policy loader's shared parts (core/ac_policy_load.h): the compiled
 * policy's allocator, the JSON path that every refusal names, the typed
 * getters and the value rules more than one section applies. The section
 * parsers (core/ac_<concept>_policy.c) and the table that runs them
 * (core/ac_policy.c) both use these; this file uses neither.
 */
#include <stdio.h>

#include "ac_policy_load.h"

void *ac_pl_take(ac_loader *L, size_t n)
{
	size_t start = (L->lo + 15u) & ~(size_t)15u;
	void *p;

	if (start < L->lo || start > L->hi || L->hi - start < n)
		return NULL;
	p = L->base + start;
	L->lo = start + n;
	return p;
}

/* ---- error reporting with a JSON path */
void ac_pl_push_key(ac_loader *L, const char *k, size_t *save)
{
	int n;
	*save = L->path_len;
	n = snprintf(L->path + L->path_len, sizeof L->path - L->path_len,
	    ".%s", k);
	if (n > 0 && (size_t)n < sizeof L->path - L->path_len)
		L->path_len += (size_t)n;
}

void ac_pl_push_index(ac_loader *L, int idx, size_t *save)
{
	int n;
	*save = L->path_len;
	n = snprintf(L->path + L->path_len, sizeof L->path - L->path_len,
	    "[%d]", idx);
	if (n > 0 && (size_t)n < sizeof L->path - L->path_len)
		L->path_len += (size_t)n;
}

void ac_pl_pop(ac_loader *L, size_t save)
{
	L->path_len = save;
	L->path[save] = 0;
}

void ac_pl_at(ac_loader *L, const char *path)
{
	int n = snprintf(L->path, sizeof L->path, "%s", path);
	L->path_len = n > 0 ? (size_t)n : 0;
}

int ac_pl_bad(ac_loader *L, const char *msg)
{
	snprintf(L->err->path, sizeof L->err->path, "%s", L->path);
	snprintf(L->err->message, sizeof L->err->message, "%s", msg);
	return -1;
}

/* Refuses members not in `allowed` (NULL-terminated) and duplicates. */
int ac_pl_members(ac_loader *L, const cJSON *obj,
    const char *const *allowed)
{
	const cJSON *c, *d;
	char msg[200];

	if (!cJSON_IsObject(obj))
		return ac_pl_bad(L, "must be an object");
	for (c = obj->child; c != NULL; c = c->next) {
		const char *const *a;
		int ok = 0;
		for (a = allowed; *a != NULL; a++)
			if (strcmp(*a, c->string) == 0)
				ok = 1;
		for (d = obj->child; d != c; d = d->next) {
			if (strcmp(d->string, c->string) == 0) {
				snprintf(msg, sizeof msg,
				    "duplicate member \"%.100s\"", c->string);
				return ac_pl_bad(L, msg);
			}
		}
		if (!ok) {
			snprintf(msg, sizeof msg, "unknown member \"%.100s\"",
			    c->string);
			return ac_pl_bad(L, msg);
		}
	}
	return 0;
}

/* Copies a JSON string value into the compiled policy. */
int ac_pl_str(ac_loader *L, const cJSON *v, size_t min, size_t max,
    ac_str *out)
{
	size_t n;
	char *p;

	if (!cJSON_IsString(v))
		return ac_pl_bad(L, "must be a string");
	n = strlen(v->valuestring);
	if (n < min)
		return ac_pl_bad(L, min == 1 ? "must not be empty" : "is too short");
	if (n > max)
		return ac_pl_bad(L, "is too long");
	p = ac_pl_take(L, n + 1);
	if (p == NULL)
		return ac_pl_bad(L, "policy needs more memory than given");
	memcpy(p, v->valuestring, n + 1);
	out->ptr = p;
	out->len = n;
	return 0;
}

int ac_pl_is_token(ac_str s)
{
	size_t i;
	if (s.len == 0)
		return 0;
	for (i = 0; i < s.len; i++) {
		unsigned char c = (unsigned char)s.ptr[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || strchr("!#$%&'*+-.^_`|~", c)))
			return 0;
	}
	return 1;
}

/* Names whose meaning hosts and proxies own: an identity header must not
 * overwrite or be confused with them. */
int ac_pl_reserved_header(ac_str n)
{
	static const char *const names[] = { "host", "authorization",
		"proxy-authorization", "cookie", "content-length",
		"content-type", "transfer-encoding", "connection", "keep-alive",
		"te", "trailer", "upgrade", "expect", "forwarded",
		"x-forwarded-for", "x-forwarded-proto", "x-forwarded-host",
		"x-real-ip", "user-agent", "x-csrf-token",
		"sec-websocket-protocol", "sec-websocket-key",
		"sec-websocket-version", "origin", NULL };
	const char *const *p;
	for (p = names; *p != NULL; p++)
		if (ac_ascii_ieq(n.ptr, n.len, *p, strlen(*p)))
			return 1;
	return 0;
}

int ac_pl_member_str(ac_loader *L, const cJSON *obj, const char *name,
    size_t min, size_t max, ac_str *out)
{
	size_t save;
	int r;
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
	if (v == NULL)
		return 0;
	ac_pl_push_key(L, name, &save);
	r = ac_pl_str(L, v, min, max, out);
	if (r == 0)
		ac_pl_pop(L, save);
	return r;
}

int ac_pl_member_methods(ac_loader *L, const cJSON *obj, ac_str *methods,
    size_t *n)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, "methods"), *m;
	size_t save, s2;
	int i = 0;

	if (v == NULL)
		return 0;
	ac_pl_push_key(L, "methods", &save);
	if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) == 0)
		return ac_pl_bad(L, "must be a non-empty array of method names");
	if (cJSON_GetArraySize(v) > AC_METHODS_MAX)
		return ac_pl_bad(L, "more than 16 methods");
	*n = 0;
	for (m = v->child; m != NULL; m = m->next, i++) {
		ac_pl_push_index(L, i, &s2);
		if (ac_pl_str(L, m, 1, 32, &methods[*n]) < 0)
			return -1;
		if (!ac_pl_is_token(methods[*n]))
			return ac_pl_bad(L, "is not an HTTP method token");
		(*n)++;
		ac_pl_pop(L, s2);
	}
	ac_pl_pop(L, save);
	return 0;
}

static int is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
	    (c >= 'A' && c <= 'F');
}

/* Patterns match the decoded, canonical path (core/ac_request.c): a
 * pattern that spells something no canonical path holds would never
 * match, so it is refused here rather than silently ignored. */
const char *ac_pl_pattern_problem(ac_str p)
{
	size_t i, seg = 1;

	for (i = 0; i < p.len; i++) {
		unsigned char c = (unsigned char)p.ptr[i];
		if (c == '%' && i + 2 < p.len && is_hex(p.ptr[i + 1]) &&
		    is_hex(p.ptr[i + 2]))
			return "patterns match the decoded path: write the character, not its %-escape";
		if (c < 0x20 || c == 0x7f || c == '#' || c == ';' || c == '\\' ||
		    c == '?')
			return "holds a character no request path is matched with (control, '#', ';', '\\', '?')";
	}
	for (i = 1; i <= p.len; i++) {
		if (i == p.len || p.ptr[i] == '/') {
			size_t len = i - seg;
			if (i < p.len && len == 0)
				return "holds \"//\", which no canonical path has";
			if ((len == 1 && p.ptr[seg] == '.') ||
			    (len == 2 && p.ptr[seg] == '.' && p.ptr[seg + 1] == '.'))
				return "holds a dot segment, which no canonical path has";
			seg = i + 1;
		}
	}
	return NULL;
}

/* A JSON number that is a whole number in [lo, hi]. The range is checked
 * before any conversion: casting an out-of-range double is undefined. */
int ac_pl_whole(const cJSON *v, double lo, double hi)
{
	double d;
	if (!cJSON_IsNumber(v))
		return 0;
	d = v->valuedouble;
	if (!(d >= lo && d <= hi)) /* also false for NaN */
		return 0;
	return d == (double)(int64_t)d;
}

/* A whole-number member in [lo, hi]; absent leaves *out as it is. */
int ac_pl_member_int(ac_loader *L, const cJSON *o, const char *name,
    double lo, double hi, int64_t *out, const char *msg)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
	size_t save;

	if (v == NULL)
		return 0;
	ac_pl_push_key(L, name, &save);
	if (!ac_pl_whole(v, lo, hi))
		return ac_pl_bad(L, msg);
	*out = (int64_t)v->valuedouble;
	ac_pl_pop(L, save);
	return 0;
}

int ac_pl_member_bool(ac_loader *L, const cJSON *o, const char *name,
    int *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
	size_t save;

	if (v == NULL)
		return 0;
	ac_pl_push_key(L, name, &save);
	if (!cJSON_IsBool(v))
		return ac_pl_bad(L, "must be true or false");
	*out = cJSON_IsTrue(v);
	ac_pl_pop(L, save);
	return 0;
}

/* A member that is one of the strings in `names` (NULL-terminated): its
 * index, or -1 (error reported). Absent: *out unchanged. */
int ac_pl_member_enum(ac_loader *L, const cJSON *o, const char *name,
    const char *const *names, const char *msg, int *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
	size_t save;
	int i;

	if (v == NULL)
		return 0;
	ac_pl_push_key(L, name, &save);
	for (i = 0; cJSON_IsString(v) && names[i] != NULL; i++) {
		if (strcmp(names[i], v->valuestring) == 0) {
			*out = i;
			ac_pl_pop(L, save);
			return 0;
		}
	}
	return ac_pl_bad(L, msg);
}

int ac_pl_str_list(ac_loader *L, const cJSON *arr, ac_str *out,
    size_t cap, size_t max_len, size_t *n)
{
	const cJSON *e;
	int idx = 0;
	size_t s2;

	if (!cJSON_IsArray(arr))
		return ac_pl_bad(L, "must be an array of strings");
	if ((size_t)cJSON_GetArraySize(arr) > cap)
		return ac_pl_bad(L, "too many entries");
	for (e = arr->child; e != NULL; e = e->next, idx++) {
		ac_pl_push_index(L, idx, &s2);
		if (ac_pl_str(L, e, 1, max_len, &out[*n]) < 0)
			return -1;
		(*n)++;
		ac_pl_pop(L, s2);
	}
	return 0;
}

void *ac_pl_take_list(ac_loader *L, const cJSON *arr, int max, size_t size,
    const char *not_array, const char *too_many)
{
	void *p;
	int n;

	if (!cJSON_IsArray(arr)) {
		ac_pl_bad(L, not_array);
		return NULL;
	}
	n = cJSON_GetArraySize(arr);
	if (n > max) {
		ac_pl_bad(L, too_many);
		return NULL;
	}
	p = ac_pl_take(L, size * (size_t)(n ? n : 1));
	if (p == NULL)
		ac_pl_bad(L, "policy needs more memory than given");
	return p;
}

const cJSON *ac_pl_push_required(ac_loader *L, const cJSON *obj,
    const char *name, const char *missing, size_t *save)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);

	if (v == NULL) {
		ac_pl_bad(L, missing);
		return NULL;
	}
	ac_pl_push_key(L, name, save);
	return v;
}

int ac_pl_names(ac_loader *L, const cJSON *v, int min, int one_ok,
    const char *msg, ac_str **out, size_t *n)
{
	int one = one_ok && cJSON_IsString(v);

	if (!one && (!cJSON_IsArray(v) || cJSON_GetArraySize(v) < min))
		return ac_pl_bad(L, msg);
	*out = ac_pl_take(L, sizeof(ac_str) * AC_ROLES_MAX);
	if (*out == NULL)
		return ac_pl_bad(L, "policy needs more memory than given");
	if (!one)
		return ac_pl_str_list(L, v, *out, AC_ROLES_MAX, AC_NAME_MAX, n);
	if (ac_pl_str(L, v, 1, AC_NAME_MAX, *out) < 0)
		return -1;
	*n = 1;
	return 0;
}

int ac_pl_member_secret(ac_loader *L, const cJSON *obj, const char *name,
    size_t min, size_t max, ac_str *out)
{
	char en[64];
	ac_str var = { NULL, 0 };
	size_t save, i, nl;
	char *p;

	nl = strlen(name);
	if (nl + 5 > sizeof en)
		return ac_pl_bad(L, "internal: a secret's name is too long");
	memcpy(en, name, nl);
	memcpy(en + nl, "_env", 5);
	if (cJSON_GetObjectItemCaseSensitive(obj, en) == NULL)
		return ac_pl_member_str(L, obj, name, min, max, out);
	if (cJSON_GetObjectItemCaseSensitive(obj, name) != NULL) {
		ac_pl_push_key(L, en, &save);
		return ac_pl_bad(L, "give the secret inline or by a variable, not both");
	}
	if (ac_pl_member_str(L, obj, en, 10, 128, &var) < 0)
		return -1;
	ac_pl_push_key(L, en, &save);
	if (var.len < 10 || memcmp(var.ptr, "AUTHCORE_", 9) != 0)
		return ac_pl_bad(L, "must name an AUTHCORE_* variable (hosts pass only those to the core)");
	for (i = 0; i < var.len; i++)
		if (!((var.ptr[i] >= 'A' && var.ptr[i] <= 'Z') ||
		    (var.ptr[i] >= '0' && var.ptr[i] <= '9') ||
		    var.ptr[i] == '_'))
			return ac_pl_bad(L, "must be a variable name: A-Z, 0-9 and '_'");
	for (i = 0; L->env != NULL && i < L->env->n_vars; i++) {
		ac_str e = L->env->vars[i];
		if (e.len > var.len && e.ptr[var.len] == '=' &&
		    memcmp(e.ptr, var.ptr, var.len) == 0) {
			size_t vl = e.len - var.len - 1;
			if (vl < min || vl > max)
				return ac_pl_bad(L, "names a variable whose value has the wrong length for this secret");
			if ((p = ac_pl_take(L, vl + 1)) == NULL)
				return ac_pl_bad(L, "policy needs more memory than given");
			memcpy(p, e.ptr + var.len + 1, vl);
			p[vl] = 0;
			out->ptr = p;
			out->len = vl;
			ac_pl_pop(L, save);
			return 0;
		}
	}
	return ac_pl_bad(L, "names a variable the environment does not set (or the host did not pass)");
}
