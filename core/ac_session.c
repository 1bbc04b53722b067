/*
 * Signed session tokens: v1.<kid>.<base64url payload>.<base64url mac>.
 * Contract in authcore_session.h; byte layout in docs/formats.md.
 *
 * The payload is a length-prefixed binary record rather than JSON: every
 * byte string has at most one meaning (no whitespace, escapes, member order
 * or duplicate names to canonicalise), it parses in one bounded pass, and it
 * is a third of the size, which matters inside a 4 KB cookie.
 */
#include <bearssl.h>

#include "ac_internal.h"
#include "authcore_session.h"

_Static_assert(sizeof(br_hmac_key_context) <=
    sizeof(((ac_session_key *)0)->state),
    "ac_session_key.state too small for br_hmac_key_context");
_Static_assert(AC_SESSION_PAYLOAD_MAX == AC_SESSION_ID_LEN + 8 + 8 + 1 +
    AC_SESSION_USER_MAX + 1 + AC_SESSION_ROLES_MAX * (1 + AC_SESSION_ROLE_MAX) +
    AC_SESSION_CRED_LEN, "AC_SESSION_PAYLOAD_MAX out of date");
_Static_assert(AC_SESSION_TOKEN_MAX == 3 + AC_SESSION_KID_MAX + 1 +
    (AC_SESSION_PAYLOAD_MAX * 4 + 2) / 3 + 1 + 43,
    "AC_SESSION_TOKEN_MAX out of date");

/* What the MAC covers before the token text: a context string (with its
 * NUL) that no other MAC made with the same key starts with, so a session
 * MAC can never be replayed as a CSRF token or anything else, and the other
 * way round. */
static const char mac_context[] = "authcore-session-v1"; /* + its NUL */
#define MAC_CONTEXT_LEN sizeof mac_context

#define SID_OFF 0
#define IAT_OFF (SID_OFF + AC_SESSION_ID_LEN)
#define EXP_OFF (IAT_OFF + 8)
#define FIXED_LEN (EXP_OFF + 8) /* then user length, user, roles */
#define MAC_LEN 32
#define MAC_CHARS 43

/* Overwrites memory in a way the compiler may not drop as a dead store. */
static void wipe(void *p, size_t n)
{
	volatile unsigned char *v = p;
	while (n--)
		*v++ = 0;
}

size_t ac_const_session_token_max(void)
{
	return AC_SESSION_TOKEN_MAX;
}

size_t ac_sizeof_session_key(void)
{
	return sizeof(ac_session_key);
}

size_t ac_sizeof_session(void)
{
	return sizeof(ac_session);
}

/* kid bytes travel in the token: the base64url alphabet keeps them
 * cookie-safe and free of the '.' separator. */
static int kid_char(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || c == '-' || c == '_';
}

int ac_session_key_init(ac_session_key *key, const uint8_t *secret,
    size_t secret_len, const char *kid, size_t kid_len)
{
	size_t i;

	wipe(key, sizeof *key);
	if (secret == NULL || secret_len < AC_SESSION_SECRET_MIN ||
	    secret_len > AC_SESSION_SECRET_MAX)
		return -1;
	if (kid == NULL || kid_len == 0 || kid_len > AC_SESSION_KID_MAX)
		return -1;
	for (i = 0; i < kid_len; i++)
		if (!kid_char((unsigned char)kid[i]))
			return -1;
	memcpy(key->kid, kid, kid_len);
	key->kid_len = kid_len;
	br_hmac_key_init((br_hmac_key_context *)(void *)key->state,
	    &br_sha256_vtable, secret, secret_len);
	return 0;
}

void ac_session_key_wipe(ac_session_key *key)
{
	wipe(key, sizeof *key);
}

/* MAC over context || text. The HMAC context holds the outer pad (as good
 * as the key), so it is wiped here. */
static void session_mac(const ac_session_key *key, const char *text,
    size_t len, uint8_t mac[MAC_LEN])
{
	br_hmac_context hc;

	br_hmac_init(&hc, (const br_hmac_key_context *)(const void *)key->state,
	    0);
	br_hmac_update(&hc, mac_context, MAC_CONTEXT_LEN);
	br_hmac_update(&hc, text, len);
	br_hmac_out(&hc, mac);
	wipe(&hc, sizeof hc);
}

/* User names and roles end up in request headers upstream: no control
 * bytes (header injection, log forging) and no leading/trailing space
 * (HTTP strips it, so the upstream would see a different name). */
static int text_ok(const char *s, size_t n)
{
	size_t i;

	if (s == NULL || n == 0 || s[0] == ' ' || s[n - 1] == ' ')
		return 0;
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return 0;
	return 1;
}

static int user_ok(const char *s, size_t n)
{
	return n <= AC_SESSION_USER_MAX && text_ok(s, n);
}

/* Roles are forwarded comma-joined: a comma inside one would forge another. */
static int role_ok(const char *s, size_t n)
{
	return n <= AC_SESSION_ROLE_MAX && text_ok(s, n) &&
	    memchr(s, ',', n) == NULL;
}

static void put_be64(uint8_t *p, int64_t v)
{
	uint64_t u = (uint64_t)v;
	int i;

	for (i = 7; i >= 0; i--) {
		p[i] = (uint8_t)(u & 0xff);
		u >>= 8;
	}
}

static int64_t get_be64(const uint8_t *p)
{
	uint64_t u = 0;
	int i;

	for (i = 0; i < 8; i++)
		u = (u << 8) | p[i];
	/* two's complement without the implementation-defined conversion */
	if (u <= (uint64_t)INT64_MAX)
		return (int64_t)u;
	return -(int64_t)(~u) - 1;
}

void ac_session_cred_tag(uint8_t out[AC_SESSION_CRED_LEN], const char *hash,
    size_t hash_len)
{
	static const char ctx[] = "authcore-credential-v1"; /* + its NUL */
	br_sha256_context c;
	uint8_t h[32];

	br_sha256_init(&c);
	br_sha256_update(&c, ctx, sizeof ctx);
	br_sha256_update(&c, hash, hash_len);
	br_sha256_out(&c, h);
	memcpy(out, h, AC_SESSION_CRED_LEN);
}

size_t ac_session_issue(char *out, size_t cap, const ac_session_key *key,
    const uint8_t sid[AC_SESSION_ID_LEN], const char *user, size_t user_len,
    const ac_str *roles, size_t n_roles, int64_t now, int64_t ttl)
{
	return ac_session_issue_cred(out, cap, key, sid, user, user_len, roles,
	    n_roles, now, ttl, NULL);
}

size_t ac_session_issue_cred(char *out, size_t cap, const ac_session_key *key,
    const uint8_t sid[AC_SESSION_ID_LEN], const char *user, size_t user_len,
    const ac_str *roles, size_t n_roles, int64_t now, int64_t ttl,
    const uint8_t cred[AC_SESSION_CRED_LEN])
{
	uint8_t payload[AC_SESSION_PAYLOAD_MAX];
	uint8_t mac[MAC_LEN];
	size_t plen, need, o, i;

	if (key == NULL || key->kid_len == 0 || sid == NULL || out == NULL)
		return 0;
	if (!user_ok(user, user_len) || n_roles > AC_SESSION_ROLES_MAX ||
	    (n_roles > 0 && roles == NULL))
		return 0;
	for (i = 0; i < n_roles; i++)
		if (!role_ok(roles[i].ptr, roles[i].len))
			return 0;
	if (ttl == 0)
		ttl = AC_SESSION_TTL_DEFAULT;
	if (ttl < 0 || ttl > AC_SESSION_TTL_MAX || now > INT64_MAX - ttl)
		return 0;

	memcpy(payload + SID_OFF, sid, AC_SESSION_ID_LEN);
	put_be64(payload + IAT_OFF, now);
	put_be64(payload + EXP_OFF, now + ttl);
	plen = FIXED_LEN;
	payload[plen++] = (uint8_t)user_len;
	memcpy(payload + plen, user, user_len);
	plen += user_len;
	payload[plen++] = (uint8_t)n_roles;
	for (i = 0; i < n_roles; i++) {
		payload[plen++] = (uint8_t)roles[i].len;
		memcpy(payload + plen, roles[i].ptr, roles[i].len);
		plen += roles[i].len;
	}
	if (cred != NULL) {
		memcpy(payload + plen, cred, AC_SESSION_CRED_LEN);
		plen += AC_SESSION_CRED_LEN;
	}

	/* the whole length first, so a short buffer is never half written */
	need = 3 + key->kid_len + 1 + ac_b64url_encoded_len(plen) + 1 +
	    MAC_CHARS;
	if (need > cap)
		return 0;
	memcpy(out, "v1.", 3);
	o = 3;
	memcpy(out + o, key->kid, key->kid_len);
	o += key->kid_len;
	out[o++] = '.';
	o += ac_b64url_encode(out + o, cap - o, payload, plen);
	session_mac(key, out, o, mac);
	out[o++] = '.';
	o += ac_b64url_encode(out + o, cap - o, mac, MAC_LEN);
	wipe(mac, sizeof mac);
	return o;
}

/* Clears the result so a refused token leaves nothing readable behind
 * (no half-parsed user, no payload bytes). */
static ac_reason refuse(ac_session *s, ac_reason r)
{
	memset(s, 0, sizeof *s);
	s->reason = r;
	return r;
}

/* Parses the verified payload in s->payload. Structure problems (lengths
 * that do not add up, trailing bytes) are AC_MALFORMED; values outside what
 * ac_session_issue would write are AC_BAD_CLAIM. */
static ac_reason parse_payload(ac_session *s)
{
	const uint8_t *p = s->payload;
	size_t n = s->payload_len, pos, len, i, nr;

	if (n < FIXED_LEN + 1)
		return AC_MALFORMED;
	memcpy(s->sid, p + SID_OFF, AC_SESSION_ID_LEN);
	s->iat = get_be64(p + IAT_OFF);
	s->exp = get_be64(p + EXP_OFF);
	pos = FIXED_LEN;
	len = p[pos++];
	if (len > n - pos)
		return AC_MALFORMED;
	if (!user_ok((const char *)p + pos, len))
		return AC_BAD_CLAIM;
	s->user.ptr = (const char *)p + pos;
	s->user.len = len;
	pos += len;
	if (pos >= n)
		return AC_MALFORMED;
	nr = p[pos++];
	if (nr > AC_SESSION_ROLES_MAX)
		return AC_BAD_CLAIM;
	for (i = 0; i < nr; i++) {
		if (pos >= n)
			return AC_MALFORMED;
		len = p[pos++];
		if (len > n - pos)
			return AC_MALFORMED;
		if (!role_ok((const char *)p + pos, len))
			return AC_BAD_CLAIM;
		s->roles[i].ptr = (const char *)p + pos;
		s->roles[i].len = len;
		pos += len;
	}
	s->n_roles = nr;
	/* the record ends after the roles, or after a credential tag */
	if (n - pos == AC_SESSION_CRED_LEN) {
		memcpy(s->cred, p + pos, AC_SESSION_CRED_LEN);
		s->has_cred = 1;
		pos += AC_SESSION_CRED_LEN;
	}
	if (pos != n)
		return AC_MALFORMED;
	if (s->exp <= s->iat)
		return AC_BAD_CLAIM;
	return AC_OK;
}

ac_reason ac_session_verify(const ac_session_key *keys, size_t n_keys,
    const char *token, size_t token_len, int64_t now, ac_session *out)
{
	size_t dots[3], nd = 0, i, kid_len, pay_len, sel = 0, found = 0;
	uint8_t mac[MAC_LEN], want[MAC_LEN];
	size_t mlen;
	unsigned ok = 0;
	ac_reason r;

	memset(out, 0, sizeof *out);
	if (token_len > AC_SESSION_TOKEN_MAX)
		return refuse(out, AC_TOKEN_TOO_LARGE);
	if (token == NULL || token_len < 3 || memcmp(token, "v1.", 3) != 0)
		return refuse(out, AC_MALFORMED);
	/* one pass: exactly three dots, every other byte base64url (which also
	 * covers the kid's alphabet), before anything is decoded */
	for (i = 0; i < token_len; i++) {
		if (token[i] == '.') {
			if (nd == 3)
				return refuse(out, AC_MALFORMED);
			dots[nd++] = i;
		} else if (!kid_char((unsigned char)token[i])) {
			return refuse(out, AC_MALFORMED);
		}
	}
	if (nd != 3)
		return refuse(out, AC_MALFORMED);
	kid_len = dots[1] - dots[0] - 1;
	pay_len = dots[2] - dots[1] - 1;
	if (kid_len == 0 || kid_len > AC_SESSION_KID_MAX || pay_len == 0 ||
	    token_len - dots[2] - 1 != MAC_CHARS)
		return refuse(out, AC_MALFORMED);
	if (ac_b64url_decode(mac, sizeof mac, &mlen, token + dots[2] + 1,
	    MAC_CHARS) < 0 || mlen != MAC_LEN)
		return refuse(out, AC_MALFORMED);

	for (i = 0; i < n_keys; i++)
		if (keys[i].kid_len == kid_len &&
		    memcmp(keys[i].kid, token + 3, kid_len) == 0)
			found = 1;
	if (!found)
		return refuse(out, AC_UNKNOWN_KID);
	/* Every key with this kid is tried and the verdict combined without a
	 * branch, so timing says nothing about which one (if any) matched. */
	for (i = 0; i < n_keys; i++) {
		size_t m;
		unsigned eq;
		if (keys[i].kid_len != kid_len ||
		    memcmp(keys[i].kid, token + 3, kid_len) != 0)
			continue;
		session_mac(&keys[i], token, dots[2], want);
		eq = (unsigned)ac_ct_equal(want, mac, MAC_LEN);
		m = (size_t)0 - (size_t)eq;
		sel = (sel & ~m) | (i & m);
		ok |= eq;
	}
	/* `want` is a valid MAC for whatever the sender put in the payload:
	 * it must not outlive this call */
	wipe(want, sizeof want);
	if (!ok)
		return refuse(out, AC_BAD_SIGNATURE);

	if (ac_b64url_decode(out->payload, sizeof out->payload,
	    &out->payload_len, token + dots[1] + 1, pay_len) < 0)
		return refuse(out, AC_MALFORMED);
	r = parse_payload(out);
	if (r != AC_OK)
		return refuse(out, r);
	if (now >= out->exp)
		return refuse(out, AC_EXPIRED);
	/* unsigned difference: exact for any pair of int64 values */
	if (out->iat > now &&
	    (uint64_t)out->iat - (uint64_t)now > (uint64_t)AC_SESSION_SKEW)
		return refuse(out, AC_NOT_YET_VALID);
	out->key_index = sel;
	out->reason = AC_OK;
	return AC_OK;
}
