/*
 * The "upstream_identity" section (core/ac_assert.c applies it): the
 * header, audience, issuer and lifetime of the assertion, its signing key
 * (HS256 with a shared secret, or ES256 with a P-256 private key as a JWK
 * "d"), and where the ES256 public key is served as a JWKS.
 */
#include <stdio.h>

#include "ac_policy_load.h"

#include <bearssl.h>

const char *const ac_pl_upstream_identity_members[] = { "header",
	"audience", "issuer", "ttl", "key", "jwks_path", NULL };

#define HEADER_DEFAULT "x-authcore-identity"
#define ISSUER_DEFAULT "authcore"

/* Copies `text` (n bytes) into the policy: the slice, or ptr NULL. */
static ac_str keep(ac_loader *L, const char *text, size_t n)
{
	ac_str s = { NULL, 0 };
	char *p = ac_pl_take(L, n + 1);

	if (p != NULL) {
		memcpy(p, text, n);
		p[n] = 0; /* bodies are NUL-terminated too */
		s.ptr = p;
		s.len = n;
	}
	return s;
}

/* 1 if d (32 bytes, big-endian) is a P-256 private key: 0 < d < n. */
static int scalar_ok(const uint8_t d[32])
{
	static const uint8_t n[32] = {
		0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00,
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84,
		0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51 };
	size_t i;
	uint8_t any = 0;

	for (i = 0; i < 32; i++)
		any |= d[i];
	if (any == 0)
		return 0;
	for (i = 0; i < 32; i++)
		if (d[i] != n[i])
			return d[i] < n[i];
	return 0;
}

/* {"kid", "alg": "HS256", "secret"} or {"kid", "alg": "ES256", "crv":
 * "P-256", "d", "x"?, "y"?}: x and y, when given, must be d's public key. */
static int load_key(ac_loader *L, ac_assert_cfg *A, const cJSON *k)
{
	static const char *const members[] = { "kid", "alg", "secret", "kty",
		"crv", "d", "x", "y", NULL };
	static const char *const algs[] = { "HS256", "ES256", NULL };
	uint8_t pub[BR_EC_KBUF_PUB_MAX_SIZE], xy[64];
	br_ec_private_key sk;
	br_ec_public_key pk;
	ac_str d, x = { NULL, 0 }, y = { NULL, 0 }, secret = { NULL, 0 };
	ac_str kty = { NULL, 0 }, crv = { NULL, 0 };
	size_t save, n;
	int alg = -1;

	if (!cJSON_IsObject(k))
		return ac_pl_bad(L, "must be a key object: {\"kid\", \"alg\": \"ES256\", \"crv\": \"P-256\", \"d\"} or {\"kid\", \"alg\": \"HS256\", \"secret\"}");
	if (ac_pl_members(L, k, members) < 0)
		return -1;
	if (ac_pl_member_str(L, k, "kid", 1, 128, &A->kid) < 0)
		return -1;
	if (A->kid.ptr == NULL)
		return ac_pl_bad(L, "missing \"kid\" (upstreams pick the key by it)");
	if (cJSON_GetObjectItemCaseSensitive(k, "alg") == NULL)
		return ac_pl_bad(L, "missing \"alg\": \"ES256\" or \"HS256\"");
	if (ac_pl_member_enum(L, k, "alg", algs,
	    "must be \"ES256\" or \"HS256\"", &alg) < 0)
		return -1;
	if (alg == 0) {
		A->alg = AC_ALG_HS256;
		if (ac_pl_member_str(L, k, "secret", 32, 64, &secret) < 0)
			return -1;
		if (secret.ptr == NULL)
			return ac_pl_bad(L, "missing \"secret\" (32 to 64 bytes, shared with the upstreams)");
		if (cJSON_GetObjectItemCaseSensitive(k, "d") != NULL)
			return ac_pl_bad(L, "\"d\" is an ES256 key's: an HS256 key has a \"secret\"");
		memcpy(A->secret, secret.ptr, secret.len);
		A->secret_len = secret.len;
		return 0;
	}
	A->alg = AC_ALG_ES256;
	if (cJSON_GetObjectItemCaseSensitive(k, "secret") != NULL)
		return ac_pl_bad(L, "\"secret\" is an HS256 key's: an ES256 key has \"d\"");
	if (ac_pl_member_str(L, k, "kty", 1, 8, &kty) < 0)
		return -1;
	if (kty.ptr != NULL && !ac_str_eq(kty, "EC", 2)) {
		ac_pl_push_key(L, "kty", &save);
		return ac_pl_bad(L, "must be \"EC\"");
	}
	if (ac_pl_member_str(L, k, "crv", 1, 16, &crv) < 0)
		return -1;
	if (crv.ptr != NULL && !ac_str_eq(crv, "P-256", 5)) {
		ac_pl_push_key(L, "crv", &save);
		return ac_pl_bad(L, "must be \"P-256\" (ES256)");
	}
	if (ac_pl_member_str(L, k, "d", 1, 64, &d) < 0)
		return -1;
	if (d.ptr == NULL)
		return ac_pl_bad(L, "missing \"d\" (the P-256 private key, base64url)");
	ac_pl_push_key(L, "d", &save);
	if (ac_b64url_decode(A->d, sizeof A->d, &n, d.ptr, d.len) != 0 ||
	    n != 32)
		return ac_pl_bad(L, "must be 32 bytes in base64url (a P-256 private key)");
	sk.curve = BR_EC_secp256r1;
	sk.x = A->d;
	sk.xlen = 32;
	if (!scalar_ok(A->d) ||
	    br_ec_compute_pub(br_ec_get_default(), &pk, pub, &sk) != 65)
		return ac_pl_bad(L, "is not a P-256 private key (zero, or not below the group order)");
	ac_pl_pop(L, save);
	if (ac_pl_member_str(L, k, "x", 1, 64, &x) < 0 ||
	    ac_pl_member_str(L, k, "y", 1, 64, &y) < 0)
		return -1;
	if ((x.ptr != NULL && (ac_b64url_decode(xy, 32, &n, x.ptr, x.len) != 0 ||
	    n != 32 || memcmp(xy, pub + 1, 32) != 0)) ||
	    (y.ptr != NULL && (ac_b64url_decode(xy + 32, 32, &n, y.ptr,
	    y.len) != 0 || n != 32 || memcmp(xy + 32, pub + 33, 32) != 0)))
		return ac_pl_bad(L, "\"x\" and \"y\" are not the public key of \"d\"");
	/* the JWKS upstreams fetch: the public key only */
	{
		char j[600], b[48];
		aj_writer w = { j, sizeof j, 0, 0 };

		aj_w_lit(&w, "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\","
		    "\"alg\":\"ES256\",\"use\":\"sig\",\"kid\":");
		aj_w_str(&w, A->kid.ptr, A->kid.len);
		aj_w_lit(&w, ",\"x\":\"");
		aj_w_raw(&w, b, ac_b64url_encode(b, sizeof b, pub + 1, 32));
		aj_w_lit(&w, "\",\"y\":\"");
		aj_w_raw(&w, b, ac_b64url_encode(b, sizeof b, pub + 33, 32));
		aj_w_lit(&w, "\"}]}\n");
		if (w.overflow)
			return ac_pl_bad(L, "the key does not fit a JWKS");
		A->jwks = keep(L, j, w.len);
		if (A->jwks.ptr == NULL)
			return ac_pl_bad(L, "policy needs more memory than given");
	}
	return 0;
}

int ac_pl_upstream_identity(ac_loader *L, ac_policy *P, const cJSON *v)
{
	ac_assert_cfg *A = &P->assert_id;
	const cJSON *k = cJSON_GetObjectItemCaseSensitive(v, "key");
	int64_t ttl = 60;
	size_t save, i;

	memset(A, 0, sizeof *A);
	if (ac_pl_member_str(L, v, "header", 1, AC_NAME_MAX, &A->header) < 0)
		return -1;
	if (A->header.ptr == NULL)
		A->header = keep(L, HEADER_DEFAULT, sizeof HEADER_DEFAULT - 1);
	if (!ac_pl_is_token(A->header) || ac_pl_reserved_header(A->header) ||
	    ac_ascii_ieq(A->header.ptr, A->header.len, P->user_header.ptr,
	    P->user_header.len) || ac_ascii_ieq(A->header.ptr, A->header.len,
	    P->roles_header.ptr, P->roles_header.len)) {
		ac_pl_push_key(L, "header", &save);
		return ac_pl_bad(L, "must be an HTTP header name of its own (not a reserved one, nor an identity header)");
	}
	for (i = 0; i < A->header.len; i++)
		if (A->header.ptr[i] >= 'A' && A->header.ptr[i] <= 'Z') {
			/* kept lower-case: HTTP/2 and the hosts want it so */
			char *p = (char *)(uintptr_t)A->header.ptr;
			ac_str c = keep(L, p, A->header.len);
			size_t j;
			if (c.ptr == NULL)
				return ac_pl_bad(L, "policy needs more memory than given");
			for (j = 0; j < c.len; j++)
				if (c.ptr[j] >= 'A' && c.ptr[j] <= 'Z')
					((char *)(uintptr_t)c.ptr)[j] =
					    (char)(c.ptr[j] + 32);
			A->header = c;
			break;
		}
	if (ac_pl_member_str(L, v, "audience", 1, 256, &A->audience) < 0)
		return -1;
	if (A->audience.ptr == NULL)
		return ac_pl_bad(L, "missing \"audience\" (names the upstream the assertion is for)");
	if (ac_pl_member_str(L, v, "issuer", 1, 256, &A->issuer) < 0)
		return -1;
	if (A->issuer.ptr == NULL)
		A->issuer = keep(L, ISSUER_DEFAULT, sizeof ISSUER_DEFAULT - 1);
	if (ac_pl_member_int(L, v, "ttl", 10, 3600, &ttl,
	    "must be the assertion's lifetime in seconds, 10 to 3600") < 0)
		return -1;
	A->ttl = (uint32_t)ttl;
	if (k == NULL)
		return ac_pl_bad(L, "missing \"key\" (the signing key)");
	ac_pl_push_key(L, "key", &save);
	if (load_key(L, A, k) < 0)
		return -1;
	ac_pl_pop(L, save);
	if (ac_pl_member_str(L, v, "jwks_path", 2, 256, &A->jwks_path) < 0)
		return -1;
	if (A->jwks_path.ptr != NULL) {
		ac_pl_push_key(L, "jwks_path", &save);
		if (A->alg != AC_ALG_ES256)
			return ac_pl_bad(L, "an HS256 key is a shared secret: there is no public key to serve");
		if (A->jwks_path.ptr[0] != '/' ||
		    memchr(A->jwks_path.ptr, '?', A->jwks_path.len) != NULL ||
		    memchr(A->jwks_path.ptr, '*', A->jwks_path.len) != NULL)
			return ac_pl_bad(L, "must be a path (\"/.well-known/jwks.json\"), no pattern or query");
		ac_pl_pop(L, save);
	}
	/* the JOSE header, encoded once */
	{
		char json[300], enc[420];
		aj_writer w = { json, sizeof json, 0, 0 };
		size_t elen;

		aj_w_lit(&w, A->alg == AC_ALG_ES256 ? "{\"alg\":\"ES256\",\"kid\":" :
		    "{\"alg\":\"HS256\",\"kid\":");
		aj_w_str(&w, A->kid.ptr, A->kid.len);
		aj_w_lit(&w, ",\"typ\":\"JWT\"}");
		if (w.overflow)
			return ac_pl_bad(L, "the key's \"kid\" is too long");
		elen = ac_b64url_encode(enc, sizeof enc, json, w.len);
		A->head = keep(L, enc, elen);
		if (A->head.ptr == NULL)
			return ac_pl_bad(L, "policy needs more memory than given");
	}
	A->on = 1;
	return 0;
}
