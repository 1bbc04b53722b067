/*
 * libFuzzer target: the policy loader (ac_policy_load, ac_policy_load_env)
 * into a fixed-size buffer (1 MiB, less than ac_policy_mem_bound of the
 * largest inputs: running out of memory must fail cleanly too), then
 * fixed requests decided under a policy that loads, and its warnings
 * (ac_policy_warnings).
 *
 * Properties: the error path and message are NUL-terminated; a policy
 * that loads reports used <= the buffer; loading the same text at another
 * alignment gives the same outcome (same error, or a policy deciding the
 * fixed requests identically); a short buffer fails cleanly or succeeds
 * within it; every decision passes fz_check_decision; the warnings are
 * NUL-terminated, name a rule member and are the same at either alignment.
 */
#include <stdio.h>
#include <string.h>

#include "authcore.h"
#include "fz.h"

#define MAX 16384
#define MEM (1u << 20)

static _Alignas(16) uint8_t mem_a[MEM + 16], mem_b[MEM + 16];
static ac_policy_error err_a, err_b;
static ac_decision dec;
static char json_a[16384], json_b[16384];
static char fixed_token[512];
static size_t fixed_token_len;
static char bearer[600];
static char admin_hash[AC_PASSWORD_HASH_MAX + 1];
static size_t admin_hash_len;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const char payload[] =
	    "{\"sub\":\"alice\",\"iss\":\"https://issuer.example\","
	    "\"aud\":\"api\",\"exp\":2000000000,\"iat\":1700000000,"
	    "\"roles\":[\"reader\",\"admin\"]}";
	static const char secret[] = "fuzz-hs256-secret-0123456789abcdef";
	(void)argc;
	(void)argv;
	fixed_token_len = ac_jwt_sign_hmac(fixed_token, sizeof fixed_token,
	    AC_ALG_HS256, (const uint8_t *)secret, strlen(secret), "hs256", 5,
	    payload, strlen(payload));
	if (fixed_token_len == 0)
		fz_die("fixed token");
	{
		uint8_t salt[AC_PASSWORD_SALT_LEN];
		memset(salt, 5, sizeof salt);
		admin_hash_len = ac_password_hash(admin_hash, sizeof admin_hash,
		    AC_PBKDF2_SHA256, "pw", 2, salt, 1);
		if (admin_hash_len == 0)
			fz_die("admin hash");
	}
	memcpy(bearer, "Bearer ", 7);
	memcpy(bearer + 7, fixed_token, fixed_token_len);
	fz_init("fuzz_policy");
	return 0;
}

static void strings_ok(const ac_policy_error *e)
{
	if (memchr(e->path, 0, sizeof e->path) == NULL ||
	    memchr(e->message, 0, sizeof e->message) == NULL)
		fz_die("policy error strings not NUL-terminated");
	if (e->message[0] == 0)
		fz_die("policy refused with an empty message");
}

/* The warnings: well-formed, counted past the cap, the same at either
 * alignment, each naming a member of a rule. */
static void lint_ok(const ac_policy *A, const ac_policy *B)
{
	static ac_policy_warning wa[4], wb[4];
	size_t na, nb, i;

	fz_begin();
	na = ac_policy_warnings(A, wa, 4);
	nb = ac_policy_warnings(B, wb, 4);
	fz_end("ac_policy_warnings");
	if (na != nb || ac_policy_warnings(A, NULL, 0) != na)
		fz_die("warnings counted differently");
	for (i = 0; i < na && i < 4; i++) {
		strings_ok(&wa[i]);
		if (strncmp(wa[i].path, "$.rules[", 8) != 0)
			fz_die("a warning names no rule member");
		if (strcmp(wa[i].path, wb[i].path) != 0 ||
		    strcmp(wa[i].message, wb[i].message) != 0)
			fz_die("warnings differ at another alignment");
	}
}

/* Decides the fixed requests; their JSON, one after another, in out. */
static size_t decide_all(const ac_policy *P, char *out, size_t cap)
{
	static const struct { const char *m, *p; int auth; } R[] = {
		{ "GET", "/api/items", 1 }, { "DELETE", "/api/admin/x?y=1", 1 },
		{ "GET", "/healthz", 0 }, { "POST", "/static/a/b", 0 },
		{ "GET", "/app/auth/login", 0 },
	};
	ac_header h[3];
	ac_request r;
	size_t i, o = 0, l;

	fz_hdr(&h[0], "host", "app.example", 11);
	fz_hdr(&h[1], "x-authcore-user", "mallory", 7);
	fz_hdr(&h[2], "authorization", bearer, fixed_token_len + 7);
	for (i = 0; i < sizeof R / sizeof R[0]; i++) {
		fz_request(&r, R[i].m, strlen(R[i].m), R[i].p, strlen(R[i].p), h,
		    R[i].auth ? 3 : 2);
		fz_begin();
		ac_decide(P, NULL, &r, FZ_NOW, (const uint8_t *)"0123456789abcdef",
		    16, &dec);
		fz_end("ac_decide");
		fz_check_decision(&dec);
		l = ac_decision_json(&dec, out + o, cap - o);
		o += l;
	}
	return o;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	size_t n = size > MAX ? MAX : size, used_a = 0, used_b = 0, off, small;
	const ac_policy *A, *B;
	ac_policy_env env;

	memset(&env, 0, sizeof env);
	if (n & 1) {
		/* the environment's administrator, optional */
		env.admin_user.ptr = "root";
		env.admin_user.len = 4;
		env.admin_password_hash.ptr = admin_hash;
		env.admin_password_hash.len = admin_hash_len;
		env.admin_optional = 1;
	}
	fz_begin();
	A = ac_policy_load_env(mem_a, MEM, s, n, n & 1 ? &env : NULL, &used_a,
	    &err_a);
	fz_end("ac_policy_load");
	if (A == NULL) {
		strings_ok(&err_a);
	} else if (used_a > MEM) {
		fz_die("policy used more memory than it was given");
	}

	/* the same text at another alignment: the same outcome */
	off = 1 + (n % 15);
	fz_begin();
	B = ac_policy_load_env(mem_b + off, MEM, s, n, n & 1 ? &env : NULL,
	    &used_b, &err_b);
	fz_end("ac_policy_load (misaligned)");
	if ((A == NULL) != (B == NULL)) {
		fprintf(stderr, "fuzz_policy: %s: %s\n", A ? err_b.path : err_a.path,
		    A ? err_b.message : err_a.message);
		fz_die("a policy loads at one alignment and not another");
	}
	if (A == NULL) {
		if (strcmp(err_a.path, err_b.path) != 0 ||
		    strcmp(err_a.message, err_b.message) != 0)
			fz_die("a policy refused differently at another alignment");
	} else {
		size_t la = decide_all(A, json_a, sizeof json_a);
		size_t lb = decide_all(B, json_b, sizeof json_b);
		lint_ok(A, B);
		if (la != lb || memcmp(json_a, json_b, la) != 0) {
			fz_dump("decisions (aligned)", json_a, la);
			fz_dump("decisions (misaligned)", json_b, lb);
			fz_die("one policy text decides differently at another alignment");
		}
	}

	/* a short buffer: fails cleanly or fits */
	small = (MEM >> (2 + n % 8)) + (n % 7);
	fz_begin();
	B = ac_policy_load(mem_b + off, small, s, n, &used_b, &err_b);
	fz_end("ac_policy_load (short)");
	if (B != NULL && used_b > small)
		fz_die("policy used more memory than it was given (short)");
	if (B == NULL)
		strings_ok(&err_b);
	return 0;
}
