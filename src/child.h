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
 * child.h: one connection to a child milter, milterd being its MTA.
 *
 * child.c is the transport: it connects, negotiates, retries while the
 * launcher starts the milter, times commands out and checks what the
 * milter sends.  What that means for the session it tells the session
 * through struct child_ops; it never looks into the session.
 */

#ifndef CHILD_H
#define CHILD_H

#include <time.h>

#include <event2/event.h>

#include "cond.h"
#include "conf.h"
#include "conn.h"
#include "milter.h"
#include "stats.h"

/* Where a child is in its conversation. */
enum child_state {
	CHILD_IDLE,		/* not connected (before O, after K) */
	CHILD_CONNECTING,
	CHILD_NEGOTIATING,
	CHILD_READY,		/* nothing awaited */
	CHILD_WAITING,		/* a reply awaited */
	CHILD_FAILED		/* dropped for the session */
};

struct child;
struct dns_query;
struct pool;

/*
 * What a child tells the session that runs it (arg is the link's); each
 * child has its own, as its role in the session wants (a filter's, a
 * shadow trial's: shadow.c).
 */
struct child_ops {
	/* Through negotiation: c->eff holds what was agreed. */
	void		 (*negotiated)(void *, struct child *);
	/* A final reply to the command awaited, and its text. */
	void		 (*replied)(void *, struct child *, char, const char *);
	/* A modification (the packet as framed): NULL, or why not legal. */
	const char	*(*edit)(void *, struct child *, char, const void *,
			    size_t);
	/* A stalled replay drained. */
	void		 (*drained)(void *, struct child *);
	/* Dropped for the session (logged and counted). */
	void		 (*failed)(void *, struct child *);
};

/* Who starts a milter that is down (the worker, through the launcher). */
struct child_launcher {
	/* Ask for it: 0 if asked, -1 if it is not to be. */
	int		 (*launch)(const struct milter_conf *);
	/* Why the launcher refused it, or NULL. */
	const char	*(*refused)(const struct milter_conf *);
};

/* What the children of a session are given of it, one for them all. */
struct child_link {
	void			*arg;
	const struct child_launcher *launcher;
	struct event_base	*base;
	const char		*id;		/* the session's, for logs */
	struct mbuf		*out;		/* encoding scratch */
	struct pool		*pool;		/* the worker's kept ones */
	uint32_t		 offered;	/* actions the MTA offered */
	char			 at;		/* the command at work */
	time_t			 launch_wait;
};

struct child {
	const struct child_link		*link;	/* to its session */
	const struct child_ops		*ops;	/* what it tells it */
	const struct milter_conf	*mc;
	size_t				 idx;	/* in the session's chain */
	enum child_state		 state;
	struct conn			*conn;
	struct event			*timer;
	struct dns_query		*dnsq;	/* its host name asked */
	struct stats_child		*stats;	/* its counters */
	struct milter_optneg		 eff;	/* negotiated */
	char				*lists[SMFIM_COUNT]; /* eff's macros */
	int				 leadspc;
	size_t				 addr;	/* mc->sock[addr] in use */
	uint32_t			 tried;	/* addresses, bit per index */
	int				 probe;	/* its address's probe */
	int				 skipped;	/* not tried: down */
	time_t				 launch_until;	/* retrying until */
	int				 retrying;	/* timer is a retry */
	int				 stalled;	/* replay waits for a drain */
	char				 cmd;	/* the command awaited */
	int				 timed_out;	/* the failure at hand */
	int				 exhausted;	/* milterd out of a resource */
	uint64_t			 sent_us;	/* awaited since */
	uint64_t			 wait_us;	/* for its replies, in all */
	int				 in_msg;	/* MAIL sent, not ended */
	int				 endm;	/* just past EOM: continue */
	int				 owed;	/* kept: replies to skip */
	int				 reused;	/* kept, nothing heard yet */
	int				 refreshing;	/* reused failed: anew */
	int				 resend_wait;	/* a reply due to it */
	struct mbuf			 resend;	/* sent while reused */
	struct milter_optneg		 kept;		/* reused's negotiation */
	char				*kept_lists[SMFIM_COUNT];
};

/* child.c */
void		 child_start(struct child *);
void		 child_free(struct child *);
void		 child_wait_drain(struct child *, size_t);
void		 child_send_mbuf(struct child *, const struct mbuf *, char,
		    int);
void		 child_abort(struct child *);
void		 child_close(struct child *, int);
void		 child_fail(struct child *, const char *, ...)
		    __attribute__((__format__ (printf, 2, 3)));
int		 child_live(const struct child *);
int		 child_exhaustion(int);

#endif /* CHILD_H */
