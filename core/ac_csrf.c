/*
 * Double-submit CSRF tokens bound to the session they were minted for.
 * Contract in authcore_session.h; format in docs/formats.md.
 *
 * Plain double-submit (any random value, equal in cookie and header) falls
 * to anyone who can write cookies for the site, e.g. from a sibling
 * subdomain: they plant their own value in both places they control. A
 * token that is a MAC of the victim's session token cannot be planted: the
 * attacker can only obtain tokens for sessions they hold, and those fail
 * against the victim's session.
 */
#include <bearssl.h>

#include "ac_internal.h"
#include "authcore_session.h"

/* Keeps these MACs apart from session MACs made with the same key: the
 * session MAC input starts "authcore-session-v1\0", this one differs at
 * the 10th byte, so neither can stand in for the other. */
static const char csrf_context[] = "authcore-csrf-v1"; /* + its NUL */
#define CSRF_CONTEXT_LEN sizeof csrf_context

size_t ac_const_csrf_token_len(void)
{
	return AC_CSRF_TOKEN_LEN;
}

static void csrf_compute(const ac_session_key *key, const char *session,
    size_t len, char out[AC_CSRF_TOKEN_LEN])
{
	br_hmac_context hc;
	uint8_t mac[32];

	br_hmac_init(&hc, (const br_hmac_key_context *)(const void *)key->state,
	    0);
	br_hmac_update(&hc, csrf_context, CSRF_CONTEXT_LEN);
	br_hmac_update(&hc, session, len);
	br_hmac_out(&hc, mac);
	(void)ac_b64url_encode(out, AC_CSRF_TOKEN_LEN, mac, sizeof mac);
	ac_wipe(&hc, sizeof hc);
	ac_wipe(mac, sizeof mac);
}

size_t ac_csrf_token(char out[AC_CSRF_TOKEN_LEN], const ac_session_key *key,
    const char *session_token, size_t session_len)
{
	if (key == NULL || key->kid_len == 0 || session_token == NULL ||
	    session_len == 0 || session_len > AC_SESSION_TOKEN_MAX)
		return 0;
	csrf_compute(key, session_token, session_len, out);
	return AC_CSRF_TOKEN_LEN;
}

int ac_csrf_check(const ac_session_key *keys, size_t n_keys,
    const char *session_token, size_t session_len, const char *header_value,
    size_t header_len)
{
	char want[AC_CSRF_TOKEN_LEN];
	size_t i;
	int ok = 0;

	/* lengths are public: a wrong-sized header costs no MAC */
	if (keys == NULL || header_value == NULL ||
	    header_len != AC_CSRF_TOKEN_LEN || session_token == NULL ||
	    session_len == 0 || session_len > AC_SESSION_TOKEN_MAX)
		return 0;
	/* The encoding is canonical (43 characters, zero trailing bits), so
	 * comparing text is comparing MACs. Every key is tried: no early exit
	 * tells which key, if any, matched. */
	for (i = 0; i < n_keys; i++) {
		if (keys[i].kid_len == 0)
			continue; /* wiped or never made: no key state to use */
		csrf_compute(&keys[i], session_token, session_len, want);
		ok |= ac_ct_equal(want, header_value, AC_CSRF_TOKEN_LEN);
	}
	/* `want` is exactly what a forger needs: it must not outlive the call */
	ac_wipe(want, sizeof want);
	return ok;
}

/* Fail closed: everything but the four safe methods needs the check. A
 * list of unsafe methods instead would wave through "post", "PROPFIND" or
 * any method a lenient upstream happens to act on. */
int ac_method_is_unsafe(const char *method, size_t len)
{
	if (method == NULL)
		return 1;
	return !((len == 3 && memcmp(method, "GET", 3) == 0) ||
	    (len == 4 && memcmp(method, "HEAD", 4) == 0) ||
	    (len == 7 && memcmp(method, "OPTIONS", 7) == 0) ||
	    (len == 5 && memcmp(method, "TRACE", 5) == 0));
}
