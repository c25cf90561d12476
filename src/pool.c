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
 * pool.c: a worker's idle connections to children whose
 * reuse_connections is on.  A session that is done with such a child
 * says K (quit, a new connection follows) instead of Q and leaves the
 * connection here; the next session of the worker that needs the
 * child takes it and starts at connect, without negotiating again.
 *
 * What the child negotiated depends on what milterd offered it: the
 * actions (the MTA's offer, passed on) and the protocol steps
 * (CHILD_OFFER_PROTOCOL, the same for every session).  The MTA's
 * profile is learnt later, at connect, and changes nothing in the
 * negotiation.  So a connection is kept under its child and the
 * actions offered; a session offering other actions (another MTA)
 * negotiates its own.  A reload starts new workers with the new
 * configuration: an old worker's pool closes when it stops, so a
 * changed child is never served on a connection of the old one.
 *
 * A connection may owe a reply when it is left here (the unknown
 * command that precedes K, see child_keep()): the session that takes
 * it skips that reply.
 *
 * Bounds: POOL_PER_CHILD idle connections per child and worker (a
 * connection beyond it is closed with Q), each closed after POOL_IDLE
 * seconds unused, or at once when the child sends anything or closes it.
 * Taken last in, first out, so that the surplus ages out.
 */

#include <sys/types.h>
#include <sys/queue.h>

#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "pool.h"
#include "util.h"

struct pool_entry {
	TAILQ_ENTRY(pool_entry)		 entry;
	struct pool			*pool;
	const struct milter_conf	*mc;
	uint32_t			 offered;
	struct pool_conn		 pc;
	struct event			*timer;
};

TAILQ_HEAD(pool_list, pool_entry);

struct pool {
	struct event_base	*base;
	struct pool_list	 idle;		/* most recent first */
	int			 closed;	/* stopping: keeps none */
};

static void	pool_drop(struct pool_entry *);
static void	pool_read(struct conn *, void *);
static void	pool_event(struct conn *, int, int, void *);
static void	pool_expire(evutil_socket_t, short, void *);

struct pool *
pool_new(struct event_base *base)
{
	struct pool	*p;

	if ((p = calloc(1, sizeof(*p))) == NULL)
		return NULL;
	p->base = base;
	TAILQ_INIT(&p->idle);
	return p;
}

/* The worker stops: the idle connections go, and none is kept again. */
void
pool_close(struct pool *p)
{
	if (p == NULL)
		return;
	p->closed = 1;
	while (!TAILQ_EMPTY(&p->idle))
		pool_drop(TAILQ_FIRST(&p->idle));
}

void
pool_free(struct pool *p)
{
	pool_close(p);
	free(p);
}

/* A connection no one keeps: closed, its lists freed. */
void
pool_conn_free(struct pool_conn *pc)
{
	size_t	i;

	conn_free(pc->conn);
	pc->conn = NULL;
	for (i = 0; i < SMFIM_COUNT; i++) {
		free(pc->lists[i]);
		pc->lists[i] = NULL;
	}
}

/* Closed: it said K already, so its milter expects nothing more. */
static void
pool_drop(struct pool_entry *e)
{
	TAILQ_REMOVE(&e->pool->idle, e, entry);
	pool_conn_free(&e->pc);
	if (e->timer != NULL)
		event_free(e->timer);
	free(e);
}

/* May a connection of child mc be kept (asked before it is told K)? */
int
pool_room(const struct pool *p, const struct milter_conf *mc)
{
	const struct pool_entry	*e;
	size_t			 n = 0;

	if (p == NULL || p->closed)
		return 0;
	TAILQ_FOREACH(e, &p->idle, entry)
		if (e->mc == mc && ++n >= POOL_PER_CHILD)
			return 0;
	return 1;
}

/*
 * Keep a connection of child mc that was offered these actions and
 * was told K: 0 if kept (pc is the pool's now), -1 if not (full,
 * stopping, out of memory: the caller still has it).
 */
int
pool_put(struct pool *p, const struct milter_conf *mc, uint32_t offered,
    struct pool_conn *pc)
{
	struct pool_entry	*e;
	struct timeval		 tv = { POOL_IDLE, 0 };

	if (!pool_room(p, mc))
		return -1;
	if ((e = calloc(1, sizeof(*e))) == NULL)
		return -1;
	if ((e->timer = evtimer_new(p->base, pool_expire, e)) == NULL) {
		free(e);
		return -1;
	}
	e->pool = p;
	e->mc = mc;
	e->offered = offered;
	e->pc = *pc;
	memset(pc, 0, sizeof(*pc));
	conn_rebind(e->pc.conn, pool_read, pool_event, e);
	conn_pause(e->pc.conn, 0);
	evtimer_add(e->timer, &tv);
	TAILQ_INSERT_HEAD(&p->idle, e, entry);
	return 0;
}

/*
 * The most recent idle connection of child mc offered these actions:
 * 0 and pc filled (the caller's now, to be rebound), -1 if none.
 */
int
pool_take(struct pool *p, const struct milter_conf *mc, uint32_t offered,
    struct pool_conn *pc)
{
	struct pool_entry	*e;

	if (p == NULL || p->closed)
		return -1;
	TAILQ_FOREACH(e, &p->idle, entry)
		if (e->mc == mc && e->offered == offered)
			break;
	if (e == NULL)
		return -1;
	*pc = e->pc;
	memset(&e->pc, 0, sizeof(e->pc));
	pool_drop(e);
	return 0;
}

/*
 * A milter says nothing between sessions but the final replies it owes:
 * anything else is the end of the connection.
 */
static void
pool_read(struct conn *conn, void *arg)
{
	struct pool_entry	*e = arg;
	struct evbuffer		*in = conn_input(conn);
	struct milter_pkt	 pkt;
	const char		*err;
	size_t			 used;
	int			 rc;

	while ((rc = packet_peek(in, &pkt, &used, &err)) == 1 &&
	    e->pc.owed > 0 && milter_reply_is_final(pkt.code)) {
		evbuffer_drain(in, used);
		e->pc.owed--;
	}
	if (rc == 0 && evbuffer_get_length(in) == 0)
		return;
	if (rc == 0 && e->pc.owed > 0)
		return;		/* the rest of a reply */
	log_debug("child %s: idle connection: unsolicited data, closed",
	    e->mc->name);
	pool_drop(e);
}

static void
pool_event(struct conn *conn, int what, int err, void *arg)
{
	struct pool_entry	*e = arg;

	(void)conn;
	(void)err;
	if (what == CONN_DRAINED)
		return;
	log_debug("child %s: idle connection closed by the milter",
	    e->mc->name);
	pool_drop(e);
}

static void
pool_expire(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	pool_drop(arg);
}
