/*
 * authcore - the shared store on Redis: the commands that read and write a
 * decision's store entries (core/authcore_store.h) on a Redis server a
 * whole fleet shares, and what the core makes of Redis's replies.
 * Part of the authcore API (core/authcore.h includes every part); the
 * contract at the top of authcore.h holds for every function here.
 *
 * Licensed under the MIT license (see LICENSE).
 */
#ifndef AUTHCORE_REDIS_H
#define AUTHCORE_REDIS_H

#include "authcore_base.h"
#include "authcore_decide.h"
#include "authcore_policy.h"
#include "authcore_state.h"
#include "authcore_store.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ */
/* A policy with "store": {"redis": ...} keeps its entries in Redis.   */
/* The core does no I/O: it names each step as one command (an argv,   */
/* for any client library: hiredis, node-redis, an HTTP gateway), and  */
/* the host hands back Redis's reply as its client parsed it. One      */
/* command per step, so one round trip per step, whatever the number   */
/* of entries: every read a decision needs at once, or every write.    */
/*                                                                     */
/* An answer whose reads or writes are the shared store's says so:    */
/* answer.store_shared. The host loop of authcore_store.h becomes:     */
/*                                                                     */
/*     for (;;) {                                                      */
/*         if (ac_redis_command(policy, d, &cmd)) {                    */
/*             send cmd (asynchronously, with the policy's timeout);   */
/*             ac_redis_reply(..., d, &cmd, error, items, n, applied); */
/*             continue;                                               */
/*         }                                                           */
/*         ac_table_settle(...);  the host's own store: a policy       */
/*                                without Redis, or a request that fell */
/*                                back to it (on_store_error "local")  */
/*         if (ac_redis_command(...)) continue;                        */
/*         final: apply; pending: password check or fetch, finish;    */
/*     }                                                               */
/*                                                                     */
/* In Redis, entry <key> is the hash <prefix><key> with fields n (its  */
/* version: a counter, from 1) and v (the value as 128 lowercase hex   */
/* digits), and an expiry (EXPIREAT) from the write. Both commands are */
/* EVAL of a short Lua script, so a compare-and-set and its expiry are */
/* atomic, and the writes of one answer are applied in order up to the */
/* first lost one, as the protocol asks. Keys of one command may lie    */
/* in several slots of a Redis Cluster: give the prefix a hash tag     */
/* ("authcore:{a}:") there.                                            */
/* ------------------------------------------------------------------ */

/* Where the policy's Redis is and how a host talks to it. */
typedef struct {
	ac_str host;          /* a name or an address */
	unsigned port;
	unsigned timeout_ms;  /* connect and each command, at most */
	unsigned pool;        /* connections one worker may hold, at most */
	ac_str password;      /* AUTH before the first command; empty: none */
	ac_str gateway;       /* "gateway": the http://host[:port] URL of a
	                         webdis in front of it; empty: none */
	int releases;         /* 1: connection caps keep counters there, so
	                         a stream's end writes to it too
	                         (ac_release_begin) */
} ac_redis_config;

/* 1 and *cfg (pointing into the policy) when the policy's store is
 * Redis; 0 otherwise. */
int ac_policy_redis(const ac_policy *policy, ac_redis_config *cfg);

#define AC_REDIS_ARGC_MAX (3 + 4 * AC_STORE_OPS_MAX)
#define AC_REDIS_BUF 4608

#define AC_REDIS_READS 1   /* reply: an array of 2 bulk strings per read */
#define AC_REDIS_WRITES 2  /* reply: an integer, the writes applied */

/* One command: argv[0 .. argc) (binary-safe: use the lengths), in
 * caller memory. */
typedef struct {
	ac_str argv[AC_REDIS_ARGC_MAX];
	size_t argc;
	int kind;             /* AC_REDIS_READS or AC_REDIS_WRITES */
	size_t n;             /* entries it reads or writes */
	char buf[AC_REDIS_BUF];
} ac_redis_cmd;

/* The command d's answer needs from the shared store now: 1 and *cmd
 * (answer.store_shared: its reads, or its writes), or 0 (nothing for
 * Redis). */
int ac_redis_command(const ac_policy *policy, const ac_decision *d,
    ac_redis_cmd *cmd);

/* Redis's reply to cmd, which ac_redis_command made for d. error 1: no
 * usable reply (connection refused or lost, the timeout, an error reply);
 * else, for reads, the reply's n items (bulk strings; a nil as ptr NULL),
 * for writes, `applied`, the integer reply. The core then goes on as the
 * store protocol says: the reads supplied and the request decided again,
 * the writes taken as stored (the answer stands, store_shared 0) or one
 * lost (decided again), or the store failed (on_store_error: "local"
 * decides the request again against the host's own store). A reply of the
 * wrong shape is a failed store. Same arguments as ac_decide_finish. */
void ac_redis_reply(const ac_policy *policy, ac_state *state,
    const ac_request *req, int64_t now, const uint8_t *entropy,
    size_t entropy_len, ac_decision *d, const ac_redis_cmd *cmd,
    int error, const ac_str *items, size_t n, long long applied);

/* One pass of the protocol above, a reply already in hand: for a caller
 * whose client delivers replies as bytes of RESP, the Redis protocol (a
 * raw socket, an HTTP gateway's raw form). Parses `len` bytes of a
 * reply: returns the bytes one whole reply takes (then it was handed to
 * ac_redis_reply), 0 if more bytes are needed, -1 if they are no reply of
 * cmd's shape (handed over as a failed store). */
long ac_redis_reply_resp(const ac_policy *policy, ac_state *state,
    const ac_request *req, int64_t now, const uint8_t *entropy,
    size_t entropy_len, ac_decision *d, const ac_redis_cmd *cmd,
    const uint8_t *bytes, size_t len);

/* The command a new connection sends first when the policy names a
 * password (store.redis.password): 1 and *cmd (AUTH <password>, kind 0:
 * Redis answers +OK or an error), or 0 when it names none. For a host
 * that speaks RESP itself (ac_redis_encode); a client library sends the
 * same two arguments. */
int ac_redis_auth(const ac_policy *policy, ac_redis_cmd *cmd);

/* A command's RESP encoding (what a raw socket sends): returns its
 * length, or 0 if it does not fit in cap bytes. */
size_t ac_redis_encode(const ac_redis_cmd *cmd, uint8_t *out, size_t cap);

/* ------------------------------------------------------------------ */
/* Through an HTTP gateway (core/ac_redis_gateway.c): a host with no   */
/* Redis client of its own (proxy-wasm has no Redis call) reaches the  */
/* policy's Redis through the webdis that "store.redis.gateway" names. */
/* It says so on each decision (ac_decision_redis_via_fetch, like      */
/* ac_decision_use_jwks); then a store step due for Redis is answered  */
/* as a fetch instead (AC_PENDING, answer.wait AC_WAIT_FETCH,          */
/* answer.reads and .writes empty, store_shared 1):                    */
/*                                                                     */
/*     GET <gateway>/EVAL/<script>/<n>/<keys>/<args>.raw: the same      */
/*     command as ac_redis_command's, in webdis's path form, each       */
/*     argument percent-encoded (every byte but A-Z a-z 0-9 - _ ~), so  */
/*     '/', '.', '?' and '+' in it are data; ".raw" asks for Redis's    */
/*     own reply (RESP) as the body; no body, no header of its own;     */
/*     timeout store.redis.timeout_ms, max_bytes                        */
/*     AC_REDIS_GATEWAY_REPLY_MAX, never shareable (it may write).      */
/*                                                                     */
/* The host sends it as any fetch and hands the outcome to              */
/* ac_decide_fetched, then ac_decide_finish, which hands the reply to  */
/* the store protocol as ac_redis_reply_resp does: the reads supplied, */
/* the writes stored or one lost, or, for any status but 200, a body   */
/* that is no reply of the command's shape (an error reply included)   */
/* or no answer, a failed store (on_store_error). A host that cannot   */
/* send it finishes without ac_decide_fetched: a failed store too.     */
/* A host without a Redis client refuses, when it loads a policy, one  */
/* whose store is Redis with no gateway.                               */
/* ------------------------------------------------------------------ */

#define AC_REDIS_GATEWAY_REPLY_MAX 4096 /* bytes of a reply: 16 reads
                                           take 2,597 at most */

/* The decision's store steps due for Redis become fetches to the
 * policy's gateway (on 1), or stay commands (0, the default). Kept until
 * called again (d zeroed: 0). A policy without a gateway is unaffected:
 * its steps stay commands. */
void ac_decision_redis_via_fetch(ac_decision *d, int on);

/* cmd in the gateway's form (the path above without its leading "/",
 * ".raw" included; also what webdis takes as a POST's body) into out: its
 * length, or 0 if it does not fit in cap bytes. */
size_t ac_redis_gateway_body(const ac_redis_cmd *cmd, char *out,
    size_t cap);

#ifdef __cplusplus
}
#endif
#endif
