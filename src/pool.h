/*
 * Copyright (c) 2026 The milterd developers
 *
 * Permission to use, copy, modify, and distribute this software for any
 * purpose with or without fee is hereby granted, provided that the above
 * copyright notice and this permission notice appear in all copies.
 *
 * THE SOFTWARE IS PROVIDED "AS IS" AND THE AUTHOR DISCLAIMS ALL WARRANTIES
 * WITH REGARD TO THIS SOFTWARE INCLUDING ALL IMPLIED WARRANTIES OF
 * MERCHANTABILITY AND FITNESS. IN NO EVENT SHALL THE AUTHOR BE LIABLE FOR
 * ANY SPECIAL, DIRECT, INDIRECT, OR CONSEQUENTIAL DAMAGES OR ANY DAMAGES
 * WHATSOEVER RESULTING FROM LOSS OF USE, DATA OR PROFITS, WHETHER IN AN
 * ACTION OF CONTRACT, NEGLIGENCE OR OTHER TORTIOUS ACTION, ARISING OUT OF
 * OR IN CONNECTION WITH THE USE OR PERFORMANCE OF THIS SOFTWARE.
 */

/*
 * pool.h: a worker's idle connections to children (reuse_connections),
 * kept between sessions.
 */

#ifndef POOL_H
#define POOL_H

#include <stdint.h>

#include <event2/event.h>

#include "conf.h"
#include "conn.h"
#include "milter.h"

/* At most this many idle connections per child and worker. */
#define POOL_PER_CHILD	32
/* An idle connection is closed after this many seconds. */
#define POOL_IDLE	30

/* A negotiated connection, as a session leaves it or takes it. */
struct pool_conn {
	struct conn		*conn;
	size_t			 addr;	/* mc->sock[addr] */
	struct milter_optneg	 eff;	/* its negotiation */
	char			*lists[SMFIM_COUNT];	/* eff's macros */
	int			 owed;	/* replies due, to be skipped */
};

struct pool;

/* pool.c */
struct pool	*pool_new(struct event_base *);
void		 pool_close(struct pool *);
void		 pool_free(struct pool *);
int		 pool_put(struct pool *, const struct milter_conf *, uint32_t,
		    struct pool_conn *);
int		 pool_take(struct pool *, const struct milter_conf *, uint32_t,
		    struct pool_conn *);
int		 pool_room(const struct pool *, const struct milter_conf *);
void		 pool_conn_free(struct pool_conn *);

#endif /* POOL_H */
