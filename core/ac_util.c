/* Version, reason names, constant-time compare, struct sizes. */
#include "authcore.h"
#include "ac_internal.h"

const char *ac_version(void)
{
	return AC_VERSION;
}

static const char *const reason_names[AC_REASON_COUNT] = {
	"ok", "public", "missing_token", "invalid_request", "bad_path",
	"token_too_large", "malformed", "alg_not_allowed", "unknown_kid",
	"header_not_allowed", "crit_unsupported", "bad_signature", "expired",
	"not_yet_valid", "bad_issuer", "bad_audience", "missing_claim",
	"bad_claim", "insufficient_role", "no_rule", "unsupported_alg",
	"bad_typ", "too_old", "bad_api_key", "resource_not_allowed",
	"insufficient_permission", "csrf_failed", "unknown_user",
	"bad_password", "too_many_attempts", "pending", "logged_out", "no_state",
	"body_too_large", "bad_header", "overloaded", "forbidden",
	"https_required", "cors_preflight", "cors_denied", "rate_limited",
	"store_unavailable", "store_conflict", "too_many_connections",
	"jwks_unavailable", "oidc_started", "oidc_state_invalid",
	"oidc_provider_error", "oidc_token_error", "oidc_nonce_mismatch",
	"oidc_email_unverified", "oidc_not_allowed", "oidc_unavailable",
	"session_revoked",
};

const char *ac_reason_name(ac_reason r)
{
	if ((unsigned)r >= AC_REASON_COUNT)
		return "unknown";
	return reason_names[r];
}

int ac_ct_equal(const void *a, const void *b, size_t len)
{
	const volatile unsigned char *x = a, *y = b;
	unsigned d = 0;
	size_t i;

	for (i = 0; i < len; i++)
		d |= (unsigned)(x[i] ^ y[i]);
	/* 1 iff d == 0, without a branch on secret data */
	return (int)(1u & ((d - 1u) >> 8));
}

int ac_ascii_ieq(const char *a, size_t alen, const char *b, size_t blen)
{
	size_t i;

	if (alen != blen)
		return 0;
	for (i = 0; i < alen; i++) {
		unsigned char x = (unsigned char)a[i], y = (unsigned char)b[i];
		if (x >= 'A' && x <= 'Z')
			x = (unsigned char)(x + 32);
		if (y >= 'A' && y <= 'Z')
			y = (unsigned char)(y + 32);
		if (x != y)
			return 0;
	}
	return 1;
}

int ac_str_eq(ac_str a, const char *b, size_t blen)
{
	return a.len == blen && (blen == 0 || memcmp(a.ptr, b, blen) == 0);
}

/* Volatile stores: the compiler may not drop them as dead. */
void ac_wipe(void *p, size_t n)
{
#if defined(__GNUC__) || defined(__clang__)
	/* memset at full speed (a decision is 28 KB); the empty asm that
	 * reads p and clobbers memory keeps the compiler from dropping it */
	if (p == NULL || n == 0)
		return;
	memset(p, 0, n);
	__asm__ __volatile__("" : : "r"(p) : "memory");
#else
	volatile unsigned char *v = p;
	while (n-- > 0)
		*v++ = 0;
#endif
}

size_t ac_const_token_max(void)
{
	return AC_TOKEN_MAX;
}

size_t ac_sizeof_request(void)
{
	return sizeof(ac_request);
}
size_t ac_sizeof_header(void)
{
	return sizeof(ac_header);
}
size_t ac_sizeof_jwt_key(void)
{
	return sizeof(ac_jwt_key);
}
size_t ac_sizeof_jwt_result(void)
{
	return sizeof(ac_jwt_result);
}

ac_str ac_trim_ows(const char *p, size_t n)
{
	ac_str s;
	while (n > 0 && (*p == ' ' || *p == '\t')) {
		p++;
		n--;
	}
	while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
		n--;
	s.ptr = p;
	s.len = n;
	return s;
}

int ac_str_in_list(const ac_str *l, size_t n, ac_str want)
{
	size_t i;
	for (i = 0; i < n; i++)
		if (l[i].len == want.len &&
		    memcmp(l[i].ptr, want.ptr, want.len) == 0)
			return 1;
	return 0;
}
