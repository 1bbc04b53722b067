/* Connection caps (core/ac_conn.c): streams alive at once, counted in
 * store entries while they live. Internal: not part of the public API. */
#ifndef AC_CONN_H
#define AC_CONN_H

#include "ac_stage.h"

/* For an allowed request: counts it in every cap that covers it, or
 * answers (pending on store reads; 429 too_many_connections; 503). The
 * answer's lease names the counters taken. AC_STAGE_NEXT: nothing to
 * count, or counted. */
int ac_conn_acquire(ac_ctx *c);

/* 1 if lease (len bytes) is one this policy's caps could have given. */
int ac_conn_lease_ok(const ac_policy *P, const uint8_t *lease, size_t len);

/* A release decision's run: d->lease's counters, each taken down by one;
 * pending on the reads it lacks (the answer is reset by the caller). */
void ac_conn_release(const ac_policy *P, int64_t now, ac_decision *d);

#endif
