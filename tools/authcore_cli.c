/*
 * authcore - the command-line tool. Drives the core exactly as hosts do;
 * the CLI (not the core) reads files, stdin and the clock.
 *
 * The commands and their options: the help table below (authcore --help).
 *
 * Exit codes: 0 success (token valid, password matches, request decided,
 * policy loads); 1 invalid (token refused with its reason code first on
 * stderr, password mismatch, policy check --strict with warnings); 2 usage,
 * file, key or policy problems.
 */
#define _POSIX_C_SOURCE 200809L
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <hiredis/hiredis.h>

#include "authcore.h"

#define EXIT_INVALID 1
#define EXIT_USAGE 2

/* Each command's usage: `authcore --help` prints them all, `authcore CMD
 * --help` its own (a group such as "jwt" prints its commands). */
static const struct {
	const char *cmd;
	const char *text;
} helps[] = {
	{ "jwt sign",
	    "  authcore jwt sign [--alg HS256|HS384|HS512] --key-file F [--kid K] [--claims JSON]\n"
	    "      (prints the token; --alg defaults to HS256, --claims to {})\n" },
	{ "jwt verify",
	    "  authcore jwt verify (--key-file F|--pem F|--jwks F) [--alg A[,B..]] [--kid K] [--aud A]\n"
	    "                      [--iss I] [--typ T] [--max-age S] [--leeway S] [--now UNIX]\n"
	    "      (token on stdin; valid: exit 0 + payload on stdout; invalid: exit 1 + reason on stderr)\n" },
	{ "jws verify",
	    "  authcore jws verify (--key-file F|--pem F|--jwks F) [--alg A[,B..]] [--kid K]\n"
	    "      (token on stdin; signature only; valid: exit 0 + payload bytes on stdout)\n" },
	{ "decide",
	    "  authcore decide --policy F [--now UNIX] [--state FILE]\n"
	    "      (requests on stdin: one JSON object, or several one after another, decided in\n"
	    "       order; each {\"method\",\"path\",\"headers\":[[name,value],...] or {name:value},\n"
	    "       \"client_ip\",\"https\":true|false,\"body\"}; prints one decision JSON line each.\n"
	    "       State (login counters, Basic cache, rate-limit buckets) lives for the run, or\n"
	    "       in FILE between runs;\n"
	    "       the admin comes from AUTHCORE_ADMIN_USER and AUTHCORE_ADMIN_PASSWORD_HASH)\n" },
	{ "revoke",
	    "  authcore revoke --policy F --user NAME [--state FILE]\n"
	    "      (every session of NAME issued until now is refused from then on: by every member\n"
	    "       of the fleet under a policy with a Redis \"store\", else by decide runs on FILE)\n" },
	{ "apikey new",
	    "  authcore apikey new --name N [--role R] [--permissions a,b] [--resources /p/*,...] [--prefix ak]\n"
	    "      (line 1: the key, shown once; line 2: its entry for the policy's api_keys.keys)\n" },
	{ "hash-password",
	    "  authcore hash-password [--hash sha256|sha512] [--iterations N]   (password on stdin)\n" },
	{ "verify-password",
	    "  authcore verify-password HASH   (password on stdin; 0 match, 1 mismatch, 2 malformed/over limit)\n" },
	{ "policy check",
	    "  authcore policy check [--strict] F\n"
	    "      (0 loads, warnings on stderr; 1 with --strict and warnings; 2 refused, with the reason)\n" },
	{ "version", "  authcore version\n" },
};

static const char exit_codes[] =
    "exit codes: 0 success (valid, match, decided, policy loads); 1 invalid (token, password,\n"
    "  policy check --strict with warnings); 2 usage, file, key or policy problems.\n"
    "every command takes --help (-h).\n";

/* Usage of the commands that start with `cmd` (NULL: all) to f. */
static void usage_of(FILE *f, const char *cmd)
{
	size_t i, l = cmd ? strlen(cmd) : 0;
	fputs("usage:\n", f);
	for (i = 0; i < sizeof helps / sizeof helps[0]; i++)
		if (cmd == NULL || (strncmp(helps[i].cmd, cmd, l) == 0 &&
		    (helps[i].cmd[l] == 0 || helps[i].cmd[l] == ' ')))
			fputs(helps[i].text, f);
	fputs(exit_codes, f);
}

/* The command being run, for its usage on an error. */
static const char *current = NULL;

static int is_help(const char *a)
{
	return strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0;
}

/* Usage on stderr after a usage error; the exit code for it. */
static int usage_error(void)
{
	usage_of(stderr, current);
	return EXIT_USAGE;
}

/* Reads a whole file (or stdin for "-") into a malloc'd buffer. */
static char *read_all(const char *path, size_t *len, size_t max)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
	char *buf = NULL;
	size_t n = 0, cap = 0;

	if (f == NULL)
		return NULL;
	for (;;) {
		size_t r;
		if (cap - n < 4096) {
			char *nb;
			cap = cap ? cap * 2 : 8192;
			nb = realloc(buf, cap + 1);
			if (nb == NULL)
				goto fail;
			buf = nb;
		}
		r = fread(buf + n, 1, cap - n, f);
		n += r;
		if (n > max)
			goto fail;
		if (r == 0)
			break;
	}
	if (ferror(f))
		goto fail;
	if (f != stdin)
		fclose(f);
	buf[n] = 0;
	*len = n;
	return buf;
fail:
	if (f != stdin)
		fclose(f);
	free(buf);
	return NULL;
}

static const char *opt(int argc, char **argv, const char *name)
{
	for (int i = 0; i + 1 < argc; i++)
		if (strcmp(argv[i], name) == 0)
			return argv[i + 1];
	return NULL;
}

/* Every argument must be a known option with a value. */
static int check_opts(int argc, char **argv, const char *const *known)
{
	for (int i = 0; i < argc; i += 2) {
		int ok = 0;
		for (const char *const *k = known; *k; k++)
			if (strcmp(argv[i], *k) == 0)
				ok = 1;
		if (!ok || i + 1 >= argc) {
			fprintf(stderr, "authcore: %s option %s\n",
			    ok ? "missing value for" : "unknown", argv[i]);
			usage_error();
			return -1;
		}
	}
	return 0;
}

static int parse_i64(const char *s, int64_t *out)
{
	char *end;
	long long v;
	if (s == NULL || *s == 0)
		return -1;
	v = strtoll(s, &end, 10);
	if (*end != 0)
		return -1;
	*out = (int64_t)v;
	return 0;
}

static int cmd_jwt_sign(int argc, char **argv)
{
	static const char *const known[] = { "--alg", "--key-file", "--kid",
		"--claims", NULL };
	const char *alg_s, *kf, *kid, *claims;
	char *key;
	size_t key_len, n;
	ac_alg alg;
	char out[AC_TOKEN_MAX];

	if (check_opts(argc, argv, known) < 0)
		return EXIT_USAGE;
	alg_s = opt(argc, argv, "--alg");
	kf = opt(argc, argv, "--key-file");
	kid = opt(argc, argv, "--kid");
	claims = opt(argc, argv, "--claims");
	if (alg_s == NULL)
		alg_s = "HS256";
	if (claims == NULL)
		claims = "{}";
	if (kf == NULL) {
		fputs("authcore: jwt sign needs --key-file\n", stderr);
		return usage_error();
	}
	alg = ac_alg_from_name(alg_s, strlen(alg_s));
	if (alg == AC_ALG_NONE) {
		fprintf(stderr, "authcore: unsupported --alg %s (HS256, HS384, HS512)\n", alg_s);
		return EXIT_USAGE;
	}
	key = read_all(kf, &key_len, 4096);
	if (key == NULL) {
		fprintf(stderr, "authcore: cannot read key file %s (or larger than 4096 bytes)\n", kf);
		return EXIT_USAGE;
	}
	{
		ac_jwt_key probe;
		if (ac_jwt_key_hmac(&probe, alg, (const uint8_t *)key, key_len,
		    NULL, 0) < 0) {
			fprintf(stderr, "authcore: key in %s is too short for %s (needs at least %d bytes)\n",
			    kf, alg_s, alg == AC_ALG_HS256 ? 32 : alg == AC_ALG_HS384 ? 48 : 64);
			free(key);
			return EXIT_USAGE;
		}
	}
	n = ac_jwt_sign_hmac(out, sizeof out, alg, (const uint8_t *)key,
	    key_len, kid, kid ? strlen(kid) : 0, claims, strlen(claims));
	free(key);
	if (n == 0) {
		fputs("authcore: --claims must be a JSON object (without duplicate names) and the token at most 8192 bytes\n", stderr);
		return EXIT_USAGE;
	}
	fwrite(out, 1, n, stdout);
	fputc('\n', stdout);
	return 0;
}

/* Keys for verification from exactly one of --key-file (HMAC secret),
 * --pem (public key) or --jwks, bound to the algorithms in --alg (a comma
 * list). Returns the number of keys, or -1 after printing why (exit 2). */
static int load_keys(int argc, char **argv, ac_jwt_key *keys, size_t cap)
{
	const char *kf = opt(argc, argv, "--key-file");
	const char *pem = opt(argc, argv, "--pem");
	const char *jwks = opt(argc, argv, "--jwks");
	const char *algs = opt(argc, argv, "--alg");
	const char *kid = opt(argc, argv, "--kid");
	ac_alg list[AC_ALG_COUNT];
	size_t n_list = 0, n = 0, len, i;
	char *text;

	if (!!kf + !!pem + !!jwks != 1) {
		fputs("authcore: give exactly one of --key-file, --pem, --jwks\n", stderr);
		usage_error();
		return -1;
	}
	if (algs != NULL) {
		const char *p = algs;
		while (*p) {
			size_t l = strcspn(p, ",");
			ac_alg a = ac_alg_from_name(p, l);
			if (a == AC_ALG_NONE || n_list == AC_ALG_COUNT) {
				fprintf(stderr, "authcore: unsupported --alg %.*s (HS256/384/512, RS256/384/512, PS256/384/512, ES256/384/512)\n", (int)l, p);
				return -1;
			}
			list[n_list++] = a;
			p += l + (p[l] == ',');
		}
	}
	text = read_all(kf ? kf : pem ? pem : jwks, &len, 1 << 20);
	if (text == NULL) {
		fprintf(stderr, "authcore: cannot read %s\n", kf ? kf : pem ? pem : jwks);
		return -1;
	}
	if (kf != NULL) {
		if (n_list == 0)
			list[n_list++] = AC_ALG_HS256;
		for (i = 0; i < n_list && n < cap; i++) {
			if (ac_jwt_key_hmac(&keys[n], list[i], (const uint8_t *)text,
			    len, kid, kid ? strlen(kid) : 0) < 0) {
				fprintf(stderr, "authcore: key in %s does not fit %s (a key file is an HMAC secret of at least the hash size; use --pem or --jwks for public keys)\n",
				    kf, ac_alg_name(list[i]));
				free(text);
				return -1;
			}
			n++;
		}
	} else if (pem != NULL) {
		static const ac_alg ec[] = { AC_ALG_ES256, AC_ALG_ES384, AC_ALG_ES512 };
		const ac_alg *try = n_list ? list : ec;
		size_t n_try = n_list ? n_list : 3;
		for (i = 0; i < n_try && n < cap; i++)
			if (ac_jwt_key_pem(&keys[n], try[i], text, len, kid,
			    kid ? strlen(kid) : 0) == 0)
				n++;
		if (n == 0)
			fprintf(stderr, "authcore: %s: not a public key (PEM SPKI or PKCS#1) that fits %s\n",
			    pem, n_list ? algs : "an EC algorithm (give --alg for RSA keys)");
	} else {
		int bad;
		const char *why = "";
		int r = ac_jwks_load(keys, cap, text, len, list, n_list, &bad, &why);
		if (r < 0) {
			if (bad >= 0)
				fprintf(stderr, "authcore: %s: keys[%d]: %s\n", jwks, bad, why);
			else
				fprintf(stderr, "authcore: %s: %s\n", jwks, why);
		} else {
			n = (size_t)r;
		}
	}
	free(text);
	return n ? (int)n : -1;
}

static int cmd_verify(int argc, char **argv, int jwt)
{
	static const char *const known_jwt[] = { "--alg", "--key-file", "--pem",
		"--jwks", "--kid", "--aud", "--iss", "--typ", "--max-age",
		"--leeway", "--now", NULL };
	static const char *const known_jws[] = { "--alg", "--key-file", "--pem",
		"--jwks", "--kid", NULL };
	static ac_jwt_key keys[AC_KEYS_MAX];
	static ac_jwt_result res;
	static uint8_t payload[AC_TOKEN_MAX];
	const char *aud = opt(argc, argv, "--aud"), *iss = opt(argc, argv, "--iss");
	const char *typ = opt(argc, argv, "--typ");
	char *tok;
	size_t tok_len, start = 0, plen;
	int64_t now = (int64_t)time(NULL), leeway = 0, max_age = 0;
	int n;
	ac_jwt_checks ck;
	ac_jws_header h;
	ac_reason r;

	if (check_opts(argc, argv, jwt ? known_jwt : known_jws) < 0)
		return EXIT_USAGE;
	if (opt(argc, argv, "--now") && parse_i64(opt(argc, argv, "--now"), &now) < 0) {
		fputs("authcore: --now must be an integer (unix seconds)\n", stderr);
		return EXIT_USAGE;
	}
	if (opt(argc, argv, "--leeway") &&
	    (parse_i64(opt(argc, argv, "--leeway"), &leeway) < 0 || leeway < 0)) {
		fputs("authcore: --leeway must be a non-negative integer (seconds)\n", stderr);
		return EXIT_USAGE;
	}
	if (opt(argc, argv, "--max-age") &&
	    (parse_i64(opt(argc, argv, "--max-age"), &max_age) < 0 || max_age <= 0)) {
		fputs("authcore: --max-age must be a positive integer (seconds)\n", stderr);
		return EXIT_USAGE;
	}
	n = load_keys(argc, argv, keys, AC_KEYS_MAX);
	if (n < 0)
		return EXIT_USAGE;
	ac_jwt_checks_init(&ck);
	ck.leeway = leeway;
	ck.max_age = max_age;
	if (iss) {
		ck.issuer.ptr = iss;
		ck.issuer.len = strlen(iss);
	}
	if (aud) {
		ck.audiences[0].ptr = aud;
		ck.audiences[0].len = strlen(aud);
		ck.n_audiences = 1;
	}
	if (typ) {
		ck.typ.ptr = typ;
		ck.typ.len = strlen(typ);
	}
	tok = read_all("-", &tok_len, AC_TOKEN_MAX + 1024);
	if (tok == NULL) {
		fputs("token_too_large\n", stderr);
		return EXIT_INVALID;
	}
	while (start < tok_len && strchr(" \t\r\n", tok[start]))
		start++;
	while (tok_len > start && strchr(" \t\r\n", tok[tok_len - 1]))
		tok_len--;
	if (jwt)
		r = ac_jwt_verify(keys, (size_t)n, &ck, tok + start,
		    tok_len - start, now, &res);
	else
		r = ac_jws_verify(keys, (size_t)n, tok + start, tok_len - start,
		    &h, payload, sizeof payload, &plen);
	free(tok);
	if (r != AC_OK) {
		fprintf(stderr, "%s\n", ac_reason_name(r));
		return EXIT_INVALID;
	}
	if (jwt) {
		fwrite(res.payload, 1, res.payload_len, stdout);
		fputc('\n', stdout);
	} else {
		fwrite(payload, 1, plen, stdout);
	}
	return 0;
}

static const ac_policy *load_policy_file(const char *path, void **mem)
{
	size_t len, used;
	char *json = read_all(path, &len, AC_POLICY_JSON_MAX);
	ac_policy_error err;
	const ac_policy *p;
	size_t mlen;

	if (json == NULL) {
		fprintf(stderr, "authcore: cannot read policy %s (or larger than 1 MiB)\n", path);
		return NULL;
	}
	mlen = ac_policy_mem_bound(len);
	*mem = aligned_alloc(16, (mlen + 15) & ~(size_t)15);
	if (*mem == NULL) {
		free(json);
		return NULL;
	}
	{
		/* the administrator bootstrap: the CLI, not the core, reads
		 * the environment */
		ac_policy_env env;
		const char *u = getenv("AUTHCORE_ADMIN_USER");
		const char *h = getenv("AUTHCORE_ADMIN_PASSWORD_HASH");
		memset(&env, 0, sizeof env);
		if (u != NULL && *u) {
			env.admin_user.ptr = u;
			env.admin_user.len = strlen(u);
		}
		if (h != NULL && *h) {
			env.admin_password_hash.ptr = h;
			env.admin_password_hash.len = strlen(h);
		}
		p = ac_policy_load_env(*mem, mlen, json, len, &env, &used, &err);
	}
	free(json);
	if (p == NULL)
		fprintf(stderr, "authcore: %s: %s: %s\n", path, err.path, err.message);
	return p;
}

static int random_bytes(uint8_t *out, size_t n);
static void decide_one(const ac_policy *p, ac_state *st, ac_table *t,
    const ac_request *r, int64_t now, const uint8_t *entropy, size_t elen,
    ac_decision *d, redisContext **rc);

/* Fills r (and hdrs) from one request object; strings stay in req. 0, or
 * -1 after printing why. */
static int request_from_json(const cJSON *req, ac_request *r,
    ac_header *hdrs)
{
	const cJSON *h;
	size_t n = 0;

	memset(r, 0, sizeof *r);
#define STRF(field, name, def)                                               \
	do {                                                                 \
		cJSON *v_ = cJSON_GetObjectItemCaseSensitive(req, name);     \
		const char *s_ = cJSON_IsString(v_) ? v_->valuestring : def; \
		r->field.ptr = s_;                                           \
		r->field.len = strlen(s_);                                   \
	} while (0)
	STRF(method, "method", "GET");
	STRF(path, "path", "/");
	STRF(client_ip, "client_ip", "");
	STRF(body, "body", "");
#undef STRF
	if (r->body.len > AC_LOGIN_BODY_MAX) {
		r->body.len = 0;
		r->body_too_large = 1;
	}
	r->https = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(req, "https"));
	h = cJSON_GetObjectItemCaseSensitive(req, "headers");
	for (const cJSON *e = h ? h->child : NULL; e != NULL; e = e->next) {
		const char *nm = NULL, *vl = NULL;
		if (cJSON_IsArray(e) && cJSON_GetArraySize(e) == 2 &&
		    cJSON_IsString(cJSON_GetArrayItem(e, 0)) &&
		    cJSON_IsString(cJSON_GetArrayItem(e, 1))) {
			nm = cJSON_GetArrayItem(e, 0)->valuestring;
			vl = cJSON_GetArrayItem(e, 1)->valuestring;
		} else if (cJSON_IsString(e) && e->string != NULL) {
			nm = e->string;
			vl = e->valuestring;
		}
		if (nm == NULL) {
			fputs("authcore: headers must be [[name, value], ...] or {name: value}\n", stderr);
			return -1;
		}
		if (n == AC_HEADERS_MAX) {
			r->too_many_headers = 1;
			break;
		}
		hdrs[n].name.ptr = nm;
		hdrs[n].name.len = strlen(nm);
		hdrs[n].value.ptr = vl;
		hdrs[n].value.len = strlen(vl);
		n++;
	}
	r->headers = hdrs;
	r->n_headers = n;
	return 0;
}

/* The state (login attempt counters, checks in flight, the Basic cache)
 * and the rate limits' table: from --state FILE if it holds them, else
 * new, so a login post works in a single run and limits count across the
 * run's requests; kept in FILE after the run (store_save). 0, or -1 with
 * the reason on stderr. */
static int store_open(const char *sf, const ac_policy *p, ac_state *state,
    void **tmem, size_t tsize, ac_table **table)
{
	FILE *f;
	int have;

	if (tsize > 0 && (*tmem = calloc(1, tsize)) == NULL) {
		fputs("authcore: out of memory\n", stderr);
		return -1;
	}
	f = sf ? fopen(sf, "rb") : NULL;
	have = f != NULL && fread(state, 1, ac_sizeof_state(), f) ==
	    ac_sizeof_state() && ac_state_ok(state);
	if (have && tsize > 0 && fread(*tmem, 1, tsize, f) == tsize)
		*table = ac_table_attach(*tmem, tsize, p);
	if (f != NULL)
		fclose(f);
	if (tsize > 0 && *table == NULL)
		*table = ac_table_init(*tmem, tsize, p);
	if (!have) {
		uint8_t seed[AC_STATE_SECRET_LEN];
		if (random_bytes(seed, sizeof seed) < 0 ||
		    ac_state_init(state, seed, sizeof seed) < 0) {
			fputs("authcore: no randomness for the state\n", stderr);
			return -1;
		}
		ac_wipe(seed, sizeof seed);
	}
	return 0;
}

static int store_save(const char *sf, const ac_state *state,
    const void *tmem, size_t tsize)
{
	FILE *f;

	if (sf == NULL)
		return 0;
	f = fopen(sf, "wb");
	if (f == NULL || fwrite(state, 1, ac_sizeof_state(), f) !=
	    ac_sizeof_state() || (tsize > 0 &&
	    fwrite(tmem, 1, tsize, f) != tsize)) {
		fprintf(stderr, "authcore: cannot write %s\n", sf);
		if (f != NULL)
			fclose(f);
		return -1;
	}
	fclose(f);
	return 0;
}

static int cmd_decide(int argc, char **argv)
{
	static const char *const known[] = { "--policy", "--now", "--state",
		NULL };
	static ac_header hdrs[AC_HEADERS_MAX];
	static char out[65536];
	const char *pf, *sf;
	ac_state *state = NULL;
	ac_decision *d = NULL;
	ac_table *table = NULL;
	void *tmem = NULL;
	size_t tsize = 0;
	uint8_t entropy[AC_SESSION_ID_LEN];
	void *mem = NULL, *cache = NULL;
	const ac_policy *p;
	char *in = NULL;
	size_t in_len, off = 0, n, cache_len;
	int64_t now = (int64_t)time(NULL);
	int rc = EXIT_USAGE, count = 0;
	redisContext *redis = NULL;

	if (check_opts(argc, argv, known) < 0)
		return EXIT_USAGE;
	pf = opt(argc, argv, "--policy");
	sf = opt(argc, argv, "--state");
	if (pf == NULL) {
		fputs("authcore: decide needs --policy\n", stderr);
		return usage_error();
	}
	if (opt(argc, argv, "--now") && parse_i64(opt(argc, argv, "--now"), &now) < 0) {
		fputs("authcore: --now must be an integer (unix seconds)\n", stderr);
		return EXIT_USAGE;
	}
	/* both opaque: placed by size (malloc aligns them) */
	state = calloc(1, ac_sizeof_state());
	d = calloc(1, ac_sizeof_decision());
	if (state == NULL || d == NULL) {
		fputs("authcore: out of memory\n", stderr);
		goto done;
	}
	p = load_policy_file(pf, &mem);
	if (p == NULL)
		goto done;
	/* one cache of verified signatures for the run: requests after the
	 * first with the same RS/PS/ES token skip its signature check */
	cache_len = ac_sizeof_jwt_cache(ac_policy_jwt_cache_entries(p));
	cache = cache_len ? malloc(cache_len) : NULL;
	ac_decision_use_jwt_cache(d, ac_jwt_cache_init(cache, cache_len,
	    ac_policy_jwt_cache_entries(p)));
	tsize = ac_table_size(p);
	if (store_open(sf, p, state, &tmem, tsize, &table) < 0)
		goto done;
	in = read_all("-", &in_len, 16 << 20);
	if (in == NULL) {
		fputs("authcore: cannot read the requests on stdin (at most 16 MiB)\n", stderr);
		goto done;
	}
	/* one request object, or several one after another (JSON Lines),
	 * decided in order against the same state */
	for (;;) {
		const char *end = NULL;
		cJSON *req;
		ac_request r;

		while (off < in_len && strchr(" \t\r\n", in[off]) != NULL)
			off++;
		if (off == in_len)
			break;
		req = cJSON_ParseWithLengthOpts(in + off, in_len - off, &end, 0);
		if (req == NULL || !cJSON_IsObject(req)) {
			fprintf(stderr, "authcore: stdin: request %d must be a request JSON object\n",
			    count + 1);
			cJSON_Delete(req);
			goto done;
		}
		off = (size_t)(end - in);
		if (request_from_json(req, &r, hdrs) < 0) {
			cJSON_Delete(req);
			goto done;
		}
		if (random_bytes(entropy, sizeof entropy) < 0) {
			fputs("authcore: cannot read /dev/urandom\n", stderr);
			cJSON_Delete(req);
			goto done;
		}
		/* a CLI may block: a password check runs to the end, and
		 * the store is read and written in place */
		decide_one(p, state, table, &r, now, entropy,
		    sizeof entropy, d, &redis);
		n = ac_decision_json(d, out, sizeof out);
		fwrite(out, 1, n, stdout);
		fputc('\n', stdout);
		fflush(stdout);
		cJSON_Delete(req);
		count++;
	}
	if (count == 0) {
		fputs("authcore: stdin must hold a request JSON object\n", stderr);
		goto done;
	}
	if (store_save(sf, state, tmem, tsize) < 0)
		goto done;
	rc = 0;
done:
	redisFree(redis);
	free(in);
	free(mem);
	free(cache);
	free(tmem);
	if (d != NULL) {
		ac_wipe(d, ac_sizeof_decision());
		free(d);
	}
	if (state != NULL) {
		ac_wipe(state, ac_sizeof_state());
		free(state);
	}
	return rc;
}

/* ---- the shared store: a policy's Redis, one blocking connection ---- */

/* A connection to the policy's Redis (its timeout on connect and on every
 * command, AUTH if it has a password), or NULL: the steps that need it
 * then report a failed store, and the next request tries again. */
static redisContext *redis_open(const ac_policy *p)
{
	ac_redis_config cfg;
	struct timeval tv;
	char host[256];
	redisContext *c;

	if (!ac_policy_redis(p, &cfg) || cfg.host.len >= sizeof host)
		return NULL;
	memcpy(host, cfg.host.ptr, cfg.host.len);
	host[cfg.host.len] = 0;
	tv.tv_sec = (time_t)(cfg.timeout_ms / 1000);
	tv.tv_usec = (suseconds_t)(cfg.timeout_ms % 1000) * 1000;
	c = redisConnectWithTimeout(host, (int)cfg.port, tv);
	if (c == NULL || c->err || redisSetTimeout(c, tv) != REDIS_OK) {
		fprintf(stderr, "authcore: redis %s:%u: %s\n", host, cfg.port,
		    c ? c->errstr : "out of memory");
		redisFree(c);
		return NULL;
	}
	if (cfg.password.len > 0) {
		redisReply *r = redisCommand(c, "AUTH %b", cfg.password.ptr,
		    cfg.password.len);
		int ok = r != NULL && r->type == REDIS_REPLY_STATUS;
		freeReplyObject(r);
		if (!ok) {
			fputs("authcore: redis refused the policy's password\n",
			    stderr);
			redisFree(c);
			return NULL;
		}
	}
	return c;
}

/* Sends cmd on *rc and hands the reply to the core. A lost connection is
 * closed (the next step connects again). */
static void redis_step(const ac_policy *p, ac_state *st, const ac_request *r,
    int64_t now, const uint8_t *entropy, size_t elen, ac_decision *d,
    const ac_redis_cmd *cmd, redisContext **rc)
{
	const char *argv[AC_REDIS_ARGC_MAX];
	size_t lens[AC_REDIS_ARGC_MAX], i, n = 0;
	ac_str items[2 * AC_STORE_OPS_MAX];
	redisReply *rep = NULL;
	long long applied = 0;
	int error = 1;

	if (*rc == NULL)
		*rc = redis_open(p);
	for (i = 0; i < cmd->argc; i++) {
		argv[i] = cmd->argv[i].ptr;
		lens[i] = cmd->argv[i].len;
	}
	if (*rc != NULL)
		rep = redisCommandArgv(*rc, (int)cmd->argc, argv, lens);
	if (rep == NULL && *rc != NULL) {
		fprintf(stderr, "authcore: redis: %s\n", (*rc)->errstr);
		redisFree(*rc);
		*rc = NULL;
	} else if (rep != NULL && cmd->kind == AC_REDIS_WRITES &&
	    rep->type == REDIS_REPLY_INTEGER) {
		applied = rep->integer;
		error = 0;
	} else if (rep != NULL && cmd->kind == AC_REDIS_READS &&
	    rep->type == REDIS_REPLY_ARRAY &&
	    rep->elements <= 2 * AC_STORE_OPS_MAX) {
		error = 0;
		for (n = 0; n < rep->elements; n++) {
			redisReply *e = rep->element[n];
			items[n].ptr = e->type == REDIS_REPLY_STRING ? e->str : NULL;
			items[n].len = e->type == REDIS_REPLY_STRING ? e->len : 0;
		}
	} else if (rep != NULL && rep->type == REDIS_REPLY_ERROR) {
		fprintf(stderr, "authcore: redis: %s\n", rep->str);
	}
	ac_redis_reply(p, st, r, now, entropy, elen, d, cmd, error, items, n,
	    applied);
	freeReplyObject(rep);
}

/* A begun decision (a request's, or an operator's revocation) taken to
 * its end by a caller that may block: the store steps on the policy's
 * Redis (if it has one) or the run's table, a password check run whole. */
static void settle_all(const ac_policy *p, ac_state *st, ac_table *t,
    const ac_request *r, int64_t now, const uint8_t *entropy, size_t elen,
    ac_decision *d, redisContext **rc)
{
	static ac_redis_cmd cmd;

	for (;;) {
		if (ac_redis_command(p, d, &cmd)) {
			redis_step(p, st, r, now, entropy, elen, d, &cmd, rc);
			continue;
		}
		ac_table_settle(p, st, t, r, now, entropy, elen, d);
		if (ac_redis_command(p, d, &cmd))
			continue;
		if (ac_decision_answer(d)->action != AC_PENDING)
			return;
		ac_decide_finish(p, st, r, now, entropy, elen, d);
	}
}

static void decide_one(const ac_policy *p, ac_state *st, ac_table *t,
    const ac_request *r, int64_t now, const uint8_t *entropy, size_t elen,
    ac_decision *d, redisContext **rc)
{
	(void)ac_decide_begin(p, st, r, now, entropy, elen, d);
	settle_all(p, st, t, r, now, entropy, elen, d, rc);
}

/* Random bytes from the kernel (the CLI, not the core, owns I/O). */
static int random_bytes(uint8_t *out, size_t n)
{
	FILE *f = fopen("/dev/urandom", "rb");
	size_t r = f ? fread(out, 1, n, f) : 0;
	if (f)
		fclose(f);
	return r == n ? 0 : -1;
}

/* Writes a comma list as a JSON array of strings. */
static void json_list(const char *list)
{
	const char *p = list;
	int first = 1;
	fputc('[', stdout);
	while (p && *p) {
		size_t l = strcspn(p, ",");
		fprintf(stdout, "%s\"%.*s\"", first ? "" : ",", (int)l, p);
		first = 0;
		p += l + (p[l] == ',');
	}
	fputc(']', stdout);
}

static int plain_list(const char *list)
{
	for (const char *p = list; p && *p; p++)
		if (*p == '"' || *p == '\\' || (unsigned char)*p < 0x20)
			return 0;
	return 1;
}

/* s as a JSON string to f. */
static void json_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch == '"' || ch == '\\')
			fprintf(f, "\\%c", ch);
		else if (ch < 0x20 || ch == 0x7f)
			fprintf(f, "\\u%04x", ch);
		else
			fputc(ch, f);
	}
	fputc('"', f);
}

/* An operator signs a user out everywhere: every session of the user
 * issued until now is refused from then on, by every member of a fleet
 * that shares the policy's Redis (or, without one, by the CLI's own
 * --state FILE). */
static int cmd_revoke(int argc, char **argv)
{
	static const char *const known[] = { "--policy", "--user", "--state",
		NULL };
	const char *pf, *sf, *user;
	ac_state *state = NULL;
	ac_decision *d = NULL;
	ac_table *table = NULL;
	void *tmem = NULL, *mem = NULL;
	const ac_policy *p;
	const ac_answer *a;
	redisContext *redis = NULL;
	size_t tsize;
	int64_t now = (int64_t)time(NULL);
	int rc = EXIT_USAGE;

	if (check_opts(argc, argv, known) < 0)
		return EXIT_USAGE;
	pf = opt(argc, argv, "--policy");
	user = opt(argc, argv, "--user");
	sf = opt(argc, argv, "--state");
	if (pf == NULL || user == NULL) {
		fputs("authcore: revoke needs --policy and --user\n", stderr);
		return usage_error();
	}
	state = calloc(1, ac_sizeof_state());
	d = calloc(1, ac_sizeof_decision());
	if (state == NULL || d == NULL) {
		fputs("authcore: out of memory\n", stderr);
		goto done;
	}
	p = load_policy_file(pf, &mem);
	if (p == NULL)
		goto done;
	tsize = ac_table_size(p);
	if (store_open(sf, p, state, &tmem, tsize, &table) < 0)
		goto done;
	(void)ac_revoke_begin(p, state, user, strlen(user), now, d);
	settle_all(p, state, table, NULL, now, NULL, 0, d, &redis);
	a = ac_decision_answer(d);
	if (a->action != AC_ALLOW) {
		fprintf(stderr, "authcore: %s: %s\n", ac_reason_name(a->reason),
		    a->reason == AC_INVALID_REQUEST ? "not a user name, or the "
		    "policy has no sessions.revocation" :
		    "nothing was revoked (the store failed)");
		rc = EXIT_INVALID;
		goto done;
	}
	if (store_save(sf, state, tmem, tsize) < 0)
		goto done;
	printf("{\"ok\":true,\"revoked\":");
	json_string(stdout, user);
	printf("}\n");
	rc = 0;
done:
	redisFree(redis);
	free(mem);
	free(tmem);
	free(d);
	if (state != NULL) {
		ac_wipe(state, ac_sizeof_state());
		free(state);
	}
	return rc;
}

static int cmd_apikey_new(int argc, char **argv)
{
	static const char *const known[] = { "--name", "--role", "--prefix",
		"--permissions", "--resources", NULL };
	const char *name, *role, *prefix, *perms, *res;
	uint8_t ent[AC_APIKEY_ENTROPY_LEN];
	char key[AC_APIKEY_MAX + 1], hash[65];
	size_t n;

	if (check_opts(argc, argv, known) < 0)
		return EXIT_USAGE;
	name = opt(argc, argv, "--name");
	role = opt(argc, argv, "--role");
	prefix = opt(argc, argv, "--prefix");
	perms = opt(argc, argv, "--permissions");
	res = opt(argc, argv, "--resources");
	if (name == NULL) {
		fputs("authcore: apikey new needs --name (it becomes the user)\n", stderr);
		return usage_error();
	}
	if (!plain_list(name) || !plain_list(role) || !plain_list(perms) ||
	    !plain_list(res)) {
		fputs("authcore: names, roles, permissions and resources may not hold quotes, backslashes or control characters\n", stderr);
		return EXIT_USAGE;
	}
	if (random_bytes(ent, sizeof ent) < 0) {
		fputs("authcore: cannot read /dev/urandom\n", stderr);
		return EXIT_USAGE;
	}
	n = ac_apikey_new(key, sizeof key - 1, prefix, prefix ? strlen(prefix) : 0,
	    ent, hash);
	memset(ent, 0, sizeof ent);
	if (n == 0) {
		fputs("authcore: --prefix must be 1 to 16 of [a-z0-9]\n", stderr);
		return EXIT_USAGE;
	}
	key[n] = 0;
	/* line 1: the key, shown once; line 2: the entry for api_keys.keys */
	printf("%s\n{\"name\":\"%s\",\"sha256\":\"%s\"", key, name, hash);
	if (role)
		printf(",\"role\":\"%s\"", role);
	if (perms) {
		fputs(",\"permissions\":", stdout);
		json_list(perms);
	}
	if (res) {
		fputs(",\"resources\":", stdout);
		json_list(res);
	}
	fputs("}\n", stdout);
	memset(key, 0, sizeof key);
	return 0;
}

/* The password from stdin: one line, the final newline (LF or CRLF) not part
 * of it. Never on the command line, where ps and shell history see it. */
static char *read_password(size_t *len)
{
	char *pw = read_all("-", len, AC_PASSWORD_LEN_MAX_DEFAULT + 2);
	if (pw == NULL)
		return NULL;
	if (*len > 0 && pw[*len - 1] == '\n')
		(*len)--;
	if (*len > 0 && pw[*len - 1] == '\r')
		(*len)--;
	pw[*len] = 0;
	return pw;
}

static int cmd_hash_password(int argc, char **argv)
{
	static const char *const known[] = { "--hash", "--iterations", NULL };
	const char *h = opt(argc, argv, "--hash");
	int64_t it = 0;
	int hash = AC_PBKDF2_SHA256;
	uint8_t salt[AC_PASSWORD_SALT_LEN];
	char out[AC_PASSWORD_STRING_MAX + 1], *pw;
	size_t plen, n;

	if (check_opts(argc, argv, known) < 0)
		return EXIT_USAGE;
	if (h != NULL && strcmp(h, "sha512") == 0)
		hash = AC_PBKDF2_SHA512;
	else if (h != NULL && strcmp(h, "sha256") != 0) {
		fputs("authcore: --hash is sha256 or sha512\n", stderr);
		return EXIT_USAGE;
	}
	it = hash == AC_PBKDF2_SHA256 ? AC_PASSWORD_ITERATIONS_SHA256 :
	    AC_PASSWORD_ITERATIONS_SHA512;
	if (opt(argc, argv, "--iterations") &&
	    (parse_i64(opt(argc, argv, "--iterations"), &it) < 0 || it < 1 ||
	    it > AC_PASSWORD_ITERATIONS_MAX_DEFAULT)) {
		fputs("authcore: --iterations must be 1 to 10000000\n", stderr);
		return EXIT_USAGE;
	}
	pw = read_password(&plen);
	if (pw == NULL || plen == 0 || plen > AC_PASSWORD_LEN_MAX_DEFAULT) {
		fputs("authcore: give the password on stdin (1 to 1024 bytes)\n", stderr);
		free(pw);
		return EXIT_USAGE;
	}
	if (random_bytes(salt, sizeof salt) < 0) {
		fputs("authcore: cannot read /dev/urandom\n", stderr);
		free(pw);
		return EXIT_USAGE;
	}
	n = ac_password_hash(out, sizeof out - 1, hash, pw, plen, salt,
	    (uint32_t)it);
	memset(pw, 0, plen);
	free(pw);
	if (n == 0) {
		fputs("authcore: hashing failed\n", stderr);
		return EXIT_USAGE;
	}
	out[n] = 0;
	puts(out);
	return 0;
}

static int cmd_verify_password(int argc, char **argv)
{
	char *pw;
	size_t plen;
	ac_password_status st;

	if (argc != 1) {
		fputs("authcore: verify-password takes one HASH\n", stderr);
		return usage_error();
	}
	pw = read_password(&plen);
	if (pw == NULL) {
		fputs("password_too_long\n", stderr);
		return EXIT_USAGE;
	}
	st = ac_password_verify(argv[0], strlen(argv[0]), pw, plen, NULL);
	memset(pw, 0, plen);
	free(pw);
	if (st == AC_PW_MATCH)
		return 0;
	fprintf(stderr, "%s\n", ac_password_status_name(st));
	return st == AC_PW_MISMATCH ? EXIT_INVALID : EXIT_USAGE;
}

static int cmd_jwt_verify(int argc, char **argv)
{
	return cmd_verify(argc, argv, 1);
}

static int cmd_jws_verify(int argc, char **argv)
{
	return cmd_verify(argc, argv, 0);
}

static int cmd_version(int argc, char **argv)
{
	if (argc > 0) {
		fprintf(stderr, "authcore: unknown option %s\n", argv[0]);
		return usage_error();
	}
	printf("authcore %s\n", ac_version());
	return 0;
}

static int cmd_policy_check(int argc, char **argv)
{
	static ac_policy_warning w[64];
	void *mem = NULL;
	const ac_policy *p;
	const char *file = NULL;
	int strict = 0, i;
	size_t n, k;

	for (i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--strict") == 0)
			strict = 1;
		else if (argv[i][0] == '-' && argv[i][1] != 0) {
			fprintf(stderr, "authcore: unknown option %s\n", argv[i]);
			return usage_error();
		} else if (file == NULL)
			file = argv[i];
		else {
			fputs("authcore: policy check takes one file\n", stderr);
			return usage_error();
		}
	}
	if (file == NULL) {
		fputs("authcore: policy check needs a file\n", stderr);
		return usage_error();
	}
	p = load_policy_file(file, &mem);
	if (p == NULL) {
		free(mem);
		return EXIT_USAGE;
	}
	n = ac_policy_warnings(p, w, sizeof w / sizeof w[0]);
	for (k = 0; k < n && k < sizeof w / sizeof w[0]; k++)
		fprintf(stderr, "authcore: %s: warning: %s: %s\n", file,
		    w[k].path, w[k].message);
	if (n > k)
		fprintf(stderr, "authcore: %s: warning: %zu more\n", file, n - k);
	free(mem);
	if (n > 0 && strict) {
		fprintf(stderr, "authcore: %s: %zu warning%s (--strict)\n", file,
		    n, n == 1 ? "" : "s");
		return EXIT_INVALID;
	}
	if (n > 0)
		printf("%s: ok (%zu warning%s)\n", file, n, n == 1 ? "" : "s");
	else
		printf("%s: ok\n", file);
	return 0;
}

/* The commands; a group name ("jwt") alone prints its commands. */
static const struct {
	const char *name, *sub;
	int (*run)(int argc, char **argv);
} cmds[] = {
	{ "jwt", "sign", cmd_jwt_sign },
	{ "jwt", "verify", cmd_jwt_verify },
	{ "jws", "verify", cmd_jws_verify },
	{ "apikey", "new", cmd_apikey_new },
	{ "hash-password", NULL, cmd_hash_password },
	{ "verify-password", NULL, cmd_verify_password },
	{ "decide", NULL, cmd_decide },
	{ "revoke", NULL, cmd_revoke },
	{ "policy", "check", cmd_policy_check },
	{ "version", NULL, cmd_version },
};

int main(int argc, char **argv)
{
	size_t i;
	int group = 0;

	if (argc < 2) {
		usage_of(stderr, NULL);
		return EXIT_USAGE;
	}
	if (is_help(argv[1]) || strcmp(argv[1], "help") == 0) {
		usage_of(stdout, argc > 2 && strcmp(argv[1], "help") == 0 ?
		    argv[2] : NULL);
		return 0;
	}
	if (strcmp(argv[1], "--version") == 0)
		return cmd_version(0, NULL);
	for (i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
		int skip = cmds[i].sub ? 3 : 2;
		if (strcmp(argv[1], cmds[i].name) != 0)
			continue;
		group = 1;
		if (cmds[i].sub != NULL &&
		    (argc < 3 || strcmp(argv[2], cmds[i].sub) != 0))
			continue;
		{
			static char both[64];
			snprintf(both, sizeof both, "%s%s%s", cmds[i].name,
			    cmds[i].sub ? " " : "", cmds[i].sub ? cmds[i].sub : "");
			current = both;
		}
		for (int a = skip; a < argc; a++) {
			if (is_help(argv[a])) {
				usage_of(stdout, current);
				return 0;
			}
		}
		return cmds[i].run(argc - skip, argv + skip);
	}
	if (group) {
		/* "authcore jwt", "authcore jwt --help", "authcore jwt x" */
		int help = argc >= 3 && is_help(argv[2]);
		if (!help && argc >= 3)
			fprintf(stderr, "authcore: %s: unknown command %s\n",
			    argv[1], argv[2]);
		else if (!help)
			fprintf(stderr, "authcore: %s: needs a command\n", argv[1]);
		usage_of(help ? stdout : stderr, argv[1]);
		return help ? 0 : EXIT_USAGE;
	}
	fprintf(stderr, "authcore: unknown command %s\n", argv[1]);
	usage_of(stderr, NULL);
	return EXIT_USAGE;
}
