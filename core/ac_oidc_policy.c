/*
 * OpenID Connect sign-in in a policy (core/ac_oidc.c applies it): "oidc".
 */
#include "ac_jwks_int.h"
#include "ac_login.h"
#include "ac_policy_load.h"

const char *const ac_pl_oidc_members[] = { "providers", NULL };

static const char *const provider_members[] = { "name", "label", "issuer",
	"client_id", "client_secret", "client_secret_env", "scopes", "redirect_path",
	"algorithms", "user_claim", "groups_claim", "allow", "admin_emails",
	"roles", "group_roles", "end_session", "jwks_fetch", NULL };
static const char *const allow_members[] = { "emails", "domains", "groups",
	NULL };

#define LABEL_MAX 128
#define SECRET_MAX 512

static int name_ok(ac_str s)
{
	size_t i;

	for (i = 0; i < s.len; i++)
		if (!((s.ptr[i] >= 'a' && s.ptr[i] <= 'z') ||
		    (s.ptr[i] >= '0' && s.ptr[i] <= '9') || s.ptr[i] == '-'))
			return 0;
	return s.len > 0;
}

/* 1 if s is visible ASCII without the bytes a page or a header would
 * need to escape (labels, scopes, client ids). */
static int visible(ac_str s, int space_ok)
{
	size_t i;

	for (i = 0; i < s.len; i++) {
		unsigned char c = (unsigned char)s.ptr[i];
		if (c < 0x20 || c > 0x7e || (c == ' ' && !space_ok))
			return 0;
	}
	return 1;
}

/* application/x-www-form-urlencoded form of s into out (3 * s.len bytes
 * at most): RFC 6749 section 2.3.1 encodes the client's id and secret
 * this way before Basic authentication. */
static size_t form_encode(char *out, ac_str s)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t i, o = 0;

	for (i = 0; i < s.len; i++) {
		unsigned char c = (unsigned char)s.ptr[i];
		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '.' ||
		    c == '_' || c == '~') {
			out[o++] = (char)c;
		} else {
			out[o++] = '%';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	return o;
}

/* "Basic " + base64(form(id) ":" form(secret)) (RFC 7617, padded). */
static int basic(ac_loader *L, ac_oidc_provider *O)
{
	char raw[3 * (AC_NAME_MAX + SECRET_MAX) + 1];
	size_t n = 0, len, i;
	char *out;

	n += form_encode(raw, O->client_id);
	raw[n++] = ':';
	n += form_encode(raw + n, O->client_secret);
	len = ac_b64url_encoded_len(n);
	out = ac_pl_take(L, 6 + len + 3);
	if (out == NULL)
		return ac_pl_bad(L, "the policy does not fit its memory");
	memcpy(out, "Basic ", 6);
	len = ac_b64url_encode(out + 6, len + 1, raw, n);
	ac_wipe(raw, sizeof raw);
	for (i = 6; i < 6 + len; i++)
		out[i] = out[i] == '-' ? '+' : out[i] == '_' ? '/' : out[i];
	while (len % 4 != 0)
		out[6 + len++] = '=';
	O->basic.ptr = out;
	O->basic.len = 6 + len;
	return 0;
}

/* A list of strings into room of its own. */
static int list(ac_loader *L, const cJSON *o, const char *name, int lower,
    ac_str **out, size_t *n)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
	size_t save, i, j;

	*n = 0;
	if (v == NULL)
		return 0;
	ac_pl_push_key(L, name, &save);
	*out = ac_pl_take_list(L, v, AC_OIDC_LIST_MAX, sizeof(ac_str),
	    "must be an array of strings", "has more than 64 entries");
	if (*out == NULL || ac_pl_str_list(L, v, *out, AC_OIDC_LIST_MAX, 254,
	    n) < 0)
		return -1;
	for (i = 0; i < *n; i++) {
		if (!visible((*out)[i], 0))
			return ac_pl_bad(L, "entries are visible ASCII without spaces");
		if (lower)
			for (j = 0; j < (*out)[i].len; j++)
				if ((*out)[i].ptr[j] >= 'A' &&
				    (*out)[i].ptr[j] <= 'Z')
					return ac_pl_bad(L, "write e-mail addresses and domains in lower case (they are compared in lower case)");
	}
	ac_pl_pop(L, save);
	return 0;
}

static int group_roles(ac_loader *L, ac_oidc_provider *O, const cJSON *o)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "group_roles");
	const cJSON *e;
	size_t save, n = 0, cnt;

	if (v == NULL)
		return 0;
	ac_pl_push_key(L, "group_roles", &save);
	if (!cJSON_IsObject(v))
		return ac_pl_bad(L, "must be an object: group -> role");
	cnt = (size_t)cJSON_GetArraySize(v);
	if (cnt > AC_OIDC_LIST_MAX)
		return ac_pl_bad(L, "has more than 64 groups");
	O->group_from = ac_pl_take(L, (cnt + 1) * sizeof(ac_str));
	O->group_to = ac_pl_take(L, (cnt + 1) * sizeof(ac_str));
	if (O->group_from == NULL || O->group_to == NULL)
		return ac_pl_bad(L, "the policy does not fit its memory");
	cJSON_ArrayForEach(e, v) {
		size_t s2;
		ac_pl_push_key(L, e->string, &s2);
		if (!cJSON_IsString(e) || ac_pl_str(L, e, 1, AC_NAME_MAX,
		    &O->group_to[n]) < 0)
			return ac_pl_bad(L, "must be a role name (1..64 bytes)");
		O->group_from[n].len = strlen(e->string);
		if (O->group_from[n].len == 0 ||
		    O->group_from[n].len > 254)
			return ac_pl_bad(L, "a group name is 1..254 bytes");
		if ((O->group_from[n].ptr = ac_pl_take(L,
		    O->group_from[n].len)) == NULL)
			return ac_pl_bad(L, "the policy does not fit its memory");
		memcpy((char *)O->group_from[n].ptr, e->string,
		    O->group_from[n].len);
		ac_pl_pop(L, s2);
		n++;
	}
	O->n_group_roles = n;
	ac_pl_pop(L, save);
	return 0;
}

/* The default redirect path: <prefix>/auth/oidc/<name>/callback. */
static int default_redirect(ac_loader *L, const ac_policy *P,
    ac_oidc_provider *O)
{
	static const char a[] = "/auth/oidc/", b[] = "/callback";
	size_t n = P->prefix.len + sizeof a - 1 + O->name.len + sizeof b - 1;
	char *p = ac_pl_take(L, n);

	if (p == NULL)
		return ac_pl_bad(L, "the policy does not fit its memory");
	memcpy(p, P->prefix.ptr, P->prefix.len);
	memcpy(p + P->prefix.len, a, sizeof a - 1);
	memcpy(p + P->prefix.len + sizeof a - 1, O->name.ptr, O->name.len);
	memcpy(p + n - (sizeof b - 1), b, sizeof b - 1);
	O->redirect_path.ptr = p;
	O->redirect_path.len = n;
	return 0;
}

static int scopes(ac_loader *L, ac_oidc_provider *O, const cJSON *o)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "scopes");
	ac_str l[16];
	size_t n = 0, i, len = 0, save;
	int has_openid = 0;
	char *p;

	if (v == NULL) {
		O->scope.ptr = "openid email";
		O->scope.len = 12;
		return 0;
	}
	ac_pl_push_key(L, "scopes", &save);
	if (ac_pl_str_list(L, v, l, 16, 64, &n) < 0)
		return -1;
	for (i = 0; i < n; i++) {
		size_t j;
		for (j = 0; j < l[i].len; j++)
			if (l[i].ptr[j] <= 0x20 || l[i].ptr[j] > 0x7e ||
			    l[i].ptr[j] == '"' || l[i].ptr[j] == '\\')
				return ac_pl_bad(L, "a scope is visible ASCII without spaces, quotes or backslashes");
		has_openid |= ac_str_eq(l[i], "openid", 6);
		len += l[i].len + 1;
	}
	if (!has_openid)
		return ac_pl_bad(L, "must include \"openid\": without it the provider sends no ID token");
	if ((p = ac_pl_take(L, len)) == NULL)
		return ac_pl_bad(L, "the policy does not fit its memory");
	O->scope.ptr = p;
	for (i = 0; i < n; i++) {
		if (i)
			*p++ = ' ';
		memcpy(p, l[i].ptr, l[i].len);
		p += l[i].len;
	}
	O->scope.len = len - 1;
	ac_pl_pop(L, save);
	return 0;
}

static int provider(ac_loader *L, ac_policy *P, ac_oidc_provider *O,
    const cJSON *o)
{
	static const char *const users[] = { "email", "sub", NULL };
	const cJSON *v;
	ac_str iss = { NULL, 0 }, al[AC_ALG_COUNT];
	size_t save, n_al = 0, i;
	int user = 0;
	char *lab;

	if (ac_pl_members(L, o, provider_members) < 0)
		return -1;
	if (ac_pl_push_required(L, o, "name", "needs \"name\"", &save) == NULL)
		return -1;
	if (ac_pl_str(L, cJSON_GetObjectItemCaseSensitive(o, "name"), 1, 32,
	    &O->name) < 0)
		return -1;
	if (!name_ok(O->name))
		return ac_pl_bad(L, "must be 1..32 of a-z, 0-9 and '-' (it is part of the sign-in URL)");
	ac_pl_pop(L, save);
	if (ac_pl_member_str(L, o, "label", 1, LABEL_MAX, &O->label) < 0)
		return -1;
	if (O->label.ptr == NULL) {
		if ((lab = ac_pl_take(L, 13 + O->name.len)) == NULL)
			return ac_pl_bad(L, "the policy does not fit its memory");
		memcpy(lab, "Sign in with ", 13);
		memcpy(lab + 13, O->name.ptr, O->name.len);
		O->label.ptr = lab;
		O->label.len = 13 + O->name.len;
	}
	ac_pl_push_key(L, "label", &save);
	if (!visible(O->label, 1))
		return ac_pl_bad(L, "must be printable ASCII");
	ac_pl_pop(L, save);
	if (ac_pl_push_required(L, o, "issuer", "needs \"issuer\": its openid-configuration names the endpoints and keys", &save) == NULL)
		return -1;
	if (ac_pl_str(L, cJSON_GetObjectItemCaseSensitive(o, "issuer"), 1,
	    1024, &iss) < 0 || ac_pl_discovery(L, &O->src, iss) < 0)
		return -1;
	ac_pl_pop(L, save);
	if (ac_pl_push_required(L, o, "client_id", "needs \"client_id\"",
	    &save) == NULL)
		return -1;
	if (ac_pl_str(L, cJSON_GetObjectItemCaseSensitive(o, "client_id"), 1,
	    AC_NAME_MAX, &O->client_id) < 0)
		return -1;
	if (!visible(O->client_id, 0))
		return ac_pl_bad(L, "must be visible ASCII without spaces");
	ac_pl_pop(L, save);
	if (ac_pl_member_secret(L, o, "client_secret", 1, SECRET_MAX,
	    &O->client_secret) < 0)
		return -1;
	if (O->client_secret.ptr == NULL)
		return ac_pl_bad(L, "needs \"client_secret\" or \"client_secret_env\": the token request authenticates with it");
	if (basic(L, O) < 0 || scopes(L, O, o) < 0)
		return -1;
	/* the ID token's algorithms: RS256 unless the policy says */
	v = cJSON_GetObjectItemCaseSensitive(o, "algorithms");
	O->src.algs[0] = AC_ALG_RS256;
	O->src.n_algs = 1;
	if (v != NULL) {
		ac_pl_push_key(L, "algorithms", &save);
		if (ac_pl_str_list(L, v, al, AC_ALG_COUNT - 1, 8, &n_al) < 0)
			return -1;
		if (n_al == 0)
			return ac_pl_bad(L, "must name at least one algorithm");
		for (i = 0; i < n_al; i++) {
			O->src.algs[i] = ac_alg_from_name(al[i].ptr, al[i].len);
			if (O->src.algs[i] == AC_ALG_NONE)
				return ac_pl_bad(L, "names an unknown algorithm");
			if (ac_alg_family(O->src.algs[i]) == 'H')
				return ac_pl_bad(L, "an ID token is checked with the provider's published keys: HS* is not allowed");
		}
		O->src.n_algs = n_al;
		ac_pl_pop(L, save);
	}
	ac_pl_jwks_src_init(&O->src, P);
	v = cJSON_GetObjectItemCaseSensitive(o, "jwks_fetch");
	if (v != NULL) {
		ac_pl_push_key(L, "jwks_fetch", &save);
		if (ac_pl_jwks_fetch(L, &O->src, v) < 0)
			return -1;
		ac_pl_pop(L, save);
	}
	if (ac_pl_member_str(L, o, "redirect_path", 1, 512,
	    &O->redirect_path) < 0)
		return -1;
	if (O->redirect_path.ptr == NULL) {
		if (default_redirect(L, P, O) < 0)
			return -1;
	} else {
		ac_pl_push_key(L, "redirect_path", &save);
		if (!ac_login_next_ok(O->redirect_path) ||
		    memchr(O->redirect_path.ptr, '?', O->redirect_path.len) ||
		    ac_pl_pattern_problem(O->redirect_path) != NULL)
			return ac_pl_bad(L, "must be a path on this site (a single leading '/', no query)");
		ac_pl_pop(L, save);
	}
	if (ac_pl_member_enum(L, o, "user_claim", users,
	    "must be \"email\" or \"sub\"", &user) < 0)
		return -1;
	O->user_sub = user == 1;
	O->groups_claim.ptr = "groups";
	O->groups_claim.len = 6;
	if (ac_pl_member_str(L, o, "groups_claim", 1, AC_NAME_MAX,
	    &O->groups_claim) < 0)
		return -1;
	v = cJSON_GetObjectItemCaseSensitive(o, "allow");
	if (v != NULL) {
		ac_pl_push_key(L, "allow", &save);
		if (ac_pl_members(L, v, allow_members) < 0 ||
		    list(L, v, "emails", 1, &O->emails, &O->n_emails) < 0 ||
		    list(L, v, "domains", 1, &O->domains, &O->n_domains) < 0 ||
		    list(L, v, "groups", 0, &O->groups, &O->n_groups) < 0)
			return -1;
		ac_pl_pop(L, save);
	}
	if (list(L, o, "admin_emails", 1, &O->admins, &O->n_admins) < 0)
		return -1;
	if ((O->n_emails || O->n_domains || O->n_admins) && O->user_sub) {
		ac_pl_push_key(L, "user_claim", &save);
		return ac_pl_bad(L, "e-mail allow lists and admin_emails need the e-mail: use \"email\"");
	}
	v = cJSON_GetObjectItemCaseSensitive(o, "roles");
	if (v != NULL) {
		ac_pl_push_key(L, "roles", &save);
		if (ac_pl_str_list(L, v, O->roles, AC_SESSION_ROLES_MAX,
		    AC_NAME_MAX, &O->n_roles) < 0)
			return -1;
		ac_pl_pop(L, save);
	}
	if (group_roles(L, O, o) < 0 ||
	    ac_pl_member_bool(L, o, "end_session", &O->end_session) < 0)
		return -1;
	return 0;
}

int ac_pl_oidc(ac_loader *L, ac_policy *P, const cJSON *v)
{
	const cJSON *arr = cJSON_GetObjectItemCaseSensitive(v, "providers");
	const cJSON *e;
	size_t save, s2, i, j;
	int k = 0;

	if (!P->login) {
		return ac_pl_bad(L, "needs \"login\": a sign-in ends in a session");
	}
	if (ac_pl_push_required(L, v, "providers", "needs \"providers\"",
	    &save) == NULL)
		return -1;
	P->oidc = ac_pl_take_list(L, arr, AC_OIDC_PROVIDERS_MAX,
	    sizeof(ac_oidc_provider), "must be an array of providers",
	    "has more than 3 providers");
	if (P->oidc == NULL)
		return -1;
	if (cJSON_GetArraySize(arr) == 0)
		return ac_pl_bad(L, "must name at least one provider");
	cJSON_ArrayForEach(e, arr) {
		ac_oidc_provider *O = &P->oidc[k];
		memset(O, 0, sizeof *O);
		ac_pl_push_index(L, k, &s2);
		if (provider(L, P, O, e) < 0)
			return -1;
		for (i = 0; i < (size_t)k; i++) {
			if (ac_str_eq(P->oidc[i].name, O->name.ptr,
			    O->name.len))
				return ac_pl_bad(L, "two providers have this \"name\"");
			if (ac_str_eq(P->oidc[i].redirect_path,
			    O->redirect_path.ptr, O->redirect_path.len))
				return ac_pl_bad(L, "two providers have this \"redirect_path\"");
		}
		/* a redirect path the login owns would never be reached */
		{
			ac_request r;
			memset(&r, 0, sizeof r);
			r.path = O->redirect_path;
			if (ac_login_route(P, &r, r.path.len) != 0)
				return ac_pl_bad(L, "the redirect_path is a login endpoint's path");
		}
		ac_pl_pop(L, s2);
		k++;
	}
	P->n_oidc = (size_t)k;
	(void)j;
	ac_pl_pop(L, save);
	return 0;
}
