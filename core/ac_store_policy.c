/*
 * The shared store in a policy: "store". Entries (rate-limit buckets,
 * connection caps' counters, session revocations) live in each host's own
 * store unless the policy names a Redis server, which every member of a
 * fleet then shares (core/ac_redis.c makes its commands).
 *
 *   "store": {"redis": {"host", "port", "prefix", "timeout_ms", "pool",
 *                       "password" | "password_env", "gateway"},
 *             "secret" | "secret_env"}
 *
 * The secret (32..256 bytes, the same in every member) keys where entries
 * are placed: hosts of one fleet must place a client's buckets alike, and
 * no client may aim its buckets at another's, so the placement key can be
 * neither a host's own random state key nor public.
 *
 * "gateway" is the URL of a webdis in front of that Redis, for hosts with
 * no Redis client of their own (core/ac_redis_gateway.c): http, a host
 * and a port, no path.
 */
#include "ac_bucket.h"
#include "ac_policy_load.h"

const char *const ac_pl_store_members[] = { "redis", "secret",
	"secret_env", NULL };

/* "gateway": "http://" then a host name, an IPv4 address or a [IPv6]
 * one, an optional ":port" (1..65535), an optional "/" and nothing else:
 * commands go to its root. */
static int gateway(ac_loader *L, ac_policy *P, const cJSON *v)
{
	static const char scheme[] = "http://";
	const size_t sl = sizeof scheme - 1;
	ac_str url = { NULL, 0 };
	size_t i, end, save;
	uint32_t port = 0;
	int digits = 0;

	if (ac_pl_member_str(L, v, "gateway", 1, 253, &url) < 0)
		return -1;
	if (url.ptr == NULL)
		return 0;
	end = url.len;
	if (end > sl && url.ptr[end - 1] == '/')
		end--;
	i = sl;
	if (url.len <= sl || memcmp(url.ptr, scheme, sl) != 0)
		goto bad;
	if (url.ptr[i] == '[') {
		for (i++; i < end && url.ptr[i] != ']'; i++) {
			char ch = url.ptr[i];
			if (!((ch >= '0' && ch <= '9') || (ch >= 'a' &&
			    ch <= 'f') || (ch >= 'A' && ch <= 'F') ||
			    ch == ':' || ch == '.'))
				goto bad;
		}
		if (i == end || i == sl + 1)
			goto bad;
		i++;
	} else {
		size_t h = i;
		for (; i < end && url.ptr[i] != ':'; i++) {
			char ch = url.ptr[i];
			if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' &&
			    ch <= 'Z') || (ch >= '0' && ch <= '9') ||
			    ch == '.' || ch == '-'))
				goto bad;
		}
		if (i == h)
			goto bad;
	}
	if (i < end) {
		if (url.ptr[i] != ':')
			goto bad;
		for (i++; i < end; i++) {
			char ch = url.ptr[i];
			if (ch < '0' || ch > '9' || ++digits > 5)
				goto bad;
			port = port * 10 + (uint32_t)(ch - '0');
		}
		if (port < 1 || port > 65535)
			goto bad;
	}
	P->redis_gateway.ptr = url.ptr;
	P->redis_gateway.len = end;
	P->redis_gateway_auth.ptr = url.ptr + sl;
	P->redis_gateway_auth.len = end - sl;
	return 0;
bad:
	ac_pl_push_key(L, "gateway", &save);
	return ac_pl_bad(L, "must be an http://host:port URL (no path) of a webdis in front of this Redis");
}

static int redis(ac_loader *L, ac_policy *P, const cJSON *v)
{
	static const char *const members[] = { "host", "port", "prefix",
		"timeout_ms", "pool", "password", "password_env", "gateway",
		NULL };
	int64_t port = 6379, timeout = 100, pool = 4;
	size_t i;

	if (ac_pl_members(L, v, members) < 0)
		return -1;
	P->redis_host.ptr = "127.0.0.1";
	P->redis_host.len = 9;
	P->redis_prefix.ptr = "authcore:";
	P->redis_prefix.len = 9;
	if (ac_pl_member_str(L, v, "host", 1, 253, &P->redis_host) < 0 ||
	    ac_pl_member_str(L, v, "prefix", 1, 64, &P->redis_prefix) < 0)
		return -1;
	for (i = 0; i < P->redis_host.len; i++) {
		char ch = P->redis_host.ptr[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || ch == '.' || ch == '-' ||
		    ch == ':')) {
			size_t save;
			ac_pl_push_key(L, "host", &save);
			return ac_pl_bad(L, "must be a host name, an IPv4 or an IPv6 address");
		}
	}
	for (i = 0; i < P->redis_prefix.len; i++) {
		unsigned char ch = (unsigned char)P->redis_prefix.ptr[i];
		if (ch <= 0x20 || ch >= 0x7f || ch == '/' || ch == '%') {
			size_t save;
			ac_pl_push_key(L, "prefix", &save);
			return ac_pl_bad(L, "must be visible ASCII without '/' or '%'");
		}
	}
	if (ac_pl_member_int(L, v, "port", 1, 65535, &port,
	    "must be a TCP port, 1 to 65535") < 0 ||
	    ac_pl_member_int(L, v, "timeout_ms", 1, 60000, &timeout,
	    "must be milliseconds, 1 to 60000") < 0 ||
	    ac_pl_member_int(L, v, "pool", 1, 64, &pool,
	    "must be the connections a worker may open, 1 to 64") < 0)
		return -1;
	if ((cJSON_GetObjectItemCaseSensitive(v, "password") != NULL ||
	    cJSON_GetObjectItemCaseSensitive(v, "password_env") != NULL) &&
	    ac_pl_member_secret(L, v, "password", 1, 512,
	    &P->redis_password) < 0)
		return -1;
	if (gateway(L, P, v) < 0)
		return -1;
	P->redis_port = (uint32_t)port;
	P->redis_timeout_ms = (uint32_t)timeout;
	P->redis_pool = (uint32_t)pool;
	P->store_redis = 1;
	return 0;
}

int ac_pl_store(ac_loader *L, ac_policy *P, const cJSON *v)
{
	static const char label[] = "authcore-store-place-v1";
	const cJSON *r = cJSON_GetObjectItemCaseSensitive(v, "redis");
	ac_str secret = { NULL, 0 };
	size_t save;

	if (r == NULL)
		return ac_pl_bad(L, "needs \"redis\" (the one shared store there is)");
	ac_pl_push_key(L, "redis", &save);
	if (redis(L, P, r) < 0)
		return -1;
	ac_pl_pop(L, save);
	if (ac_pl_member_secret(L, v, "secret", 32, 256, &secret) < 0)
		return -1;
	if (secret.ptr == NULL)
		return ac_pl_bad(L, "needs \"secret\" or \"secret_env\": 32 to 256 bytes every member of the fleet shares (it places the entries)");
	ac_bucket_key_derive(secret.ptr, secret.len, label, sizeof label,
	    P->place_key);
	return 0;
}

/* A shared store nothing keeps entries in would be a setting that silently
 * does nothing. */
int ac_pl_store_check(ac_loader *L, const ac_policy *P)
{
	if (!P->store_redis || P->rl_groups > 0 || P->conn_groups > 0 ||
	    P->rev_groups > 0 || P->th_groups > 0)
		return 0;
	ac_pl_at(L, "$.store");
	return ac_pl_bad(L, "no \"rate_limits\", \"sessions.revocation\" or password \"login\" keep entries in it");
}
