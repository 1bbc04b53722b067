/*
 * The upstream identity assertion ("upstream_identity"): a short-lived
 * JWT the core adds to every request it forwards for an identified
 * caller, so an upstream learns who the caller is without trusting the
 * network path (as Pomerium's and Cloudflare Access's assertions do). It
 * carries the issuer, the audience naming the upstream, the user (sub),
 * the roles, how the caller authenticated (auth), the session id (sid,
 * base64url) for a session, iat and exp. A client's own copy of the
 * header is always removed (core/ac_decide.c).
 *
 * ES256 signatures are deterministic (RFC 6979, BearSSL's
 * br_ecdsa_*_sign_raw): the same claims at the same second give the same
 * token, and no entropy is needed. HS256 is for upstreams that share the
 * secret. The ES256 public key is served as a JWKS at jwks_path.
 */
#include "ac_assert.h"
#include "ac_reply.h"

#include <bearssl.h>

int ac_stage_jwks(ac_ctx *c)
{
	const ac_assert_cfg *A = &c->P->assert_id;
	ac_decision *d = c->d;

	if (!A->on || A->jwks_path.ptr == NULL ||
	    !ac_str_eq(d->a.match, A->jwks_path.ptr, A->jwks_path.len) ||
	    !(ac_str_eq(c->req.method, "GET", 3) ||
	    ac_str_eq(c->req.method, "HEAD", 4)))
		return AC_STAGE_NEXT;
	d->a.action = AC_RESPOND;
	d->a.status = 200;
	d->a.reason = AC_PUBLIC;
	d->a.body = A->jwks;
	ac_reply_header(d, "content-type", "application/jwk-set+json", 24);
	ac_reply_header(d, "cache-control", "public, max-age=300", 19);
	return AC_STAGE_DONE;
}

int ac_assert_add(ac_ctx *c)
{
	const ac_assert_cfg *A = &c->P->assert_id;
	ac_decision *d = c->d;
	char payload[2048], enc[2800];
	aj_writer w = { payload, sizeof payload, 0, 0 };
	uint8_t mac[64];
	size_t i, start, n, mlen;
	const char *tok;

	if (!A->on || c->id.user.len == 0)
		return 0;
	aj_w_lit(&w, "{\"iss\":");
	aj_w_str(&w, A->issuer.ptr, A->issuer.len);
	aj_w_lit(&w, ",\"aud\":");
	aj_w_str(&w, A->audience.ptr, A->audience.len);
	aj_w_lit(&w, ",\"sub\":");
	aj_w_str(&w, c->id.user.ptr, c->id.user.len);
	aj_w_lit(&w, ",\"roles\":[");
	for (i = 0; i < c->id.n_roles; i++) {
		if (i)
			aj_w_lit(&w, ",");
		aj_w_str(&w, c->id.roles[i].ptr, c->id.roles[i].len);
	}
	aj_w_lit(&w, "],\"auth\":");
	aj_w_str(&w, d->a.auth_method.ptr, d->a.auth_method.len);
	if (ac_str_eq(d->a.auth_method, "session", 7)) {
		char sid[32];
		aj_w_lit(&w, ",\"sid\":\"");
		aj_w_raw(&w, sid, ac_b64url_encode(sid, sizeof sid,
		    d->session.sid, sizeof d->session.sid));
		aj_w_lit(&w, "\"");
	}
	aj_w_lit(&w, ",\"iat\":");
	aj_w_int(&w, c->now);
	aj_w_lit(&w, ",\"exp\":");
	aj_w_int(&w, c->now + (int64_t)A->ttl);
	aj_w_lit(&w, "}");
	if (w.overflow)
		return -1;
	/* head "." payload, then "." signature, in the decision buffer */
	start = d->buf_len;
	n = ac_b64url_encode(enc, sizeof enc, payload, w.len);
	if (n == 0 || ac_reply_put(d, A->head.ptr, A->head.len) == NULL ||
	    ac_reply_put(d, ".", 1) == NULL || ac_reply_put(d, enc, n) == NULL)
		return -1;
	tok = d->buf + start;
	if (A->alg == AC_ALG_HS256) {
		br_hmac_key_context kc;
		br_hmac_context hc;

		br_hmac_key_init(&kc, &br_sha256_vtable, A->secret,
		    A->secret_len);
		br_hmac_init(&hc, &kc, 0);
		br_hmac_update(&hc, tok, d->buf_len - start);
		mlen = br_hmac_out(&hc, mac);
		ac_wipe(&kc, sizeof kc);
		ac_wipe(&hc, sizeof hc);
	} else {
		br_sha256_context h;
		br_ec_private_key sk;
		uint8_t hash[32];

		br_sha256_init(&h);
		br_sha256_update(&h, tok, d->buf_len - start);
		br_sha256_out(&h, hash);
		sk.curve = BR_EC_secp256r1;
		sk.x = (unsigned char *)(uintptr_t)A->d;
		sk.xlen = sizeof A->d;
		mlen = br_ecdsa_sign_raw_get_default()(br_ec_get_default(),
		    &br_sha256_vtable, hash, &sk, mac);
		if (mlen != 64)
			return -1;
	}
	n = ac_b64url_encode(enc, sizeof enc, mac, mlen);
	ac_wipe(mac, sizeof mac);
	if (ac_reply_put(d, ".", 1) == NULL || ac_reply_put(d, enc, n) == NULL)
		return -1;
	ac_reply_upstream_header(d, A->header, tok, d->buf_len - start);
	return 0;
}
