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
 * lookup.h: lua conditions off the event loop.  A session's question
 * (a condition and a copy of what it sees) is a struct lookup, queued
 * for a worker's lookup threads; the answer comes back to the loop,
 * which hands it to its owner, or drops it when the owner gave up.
 */

#ifndef LOOKUP_H
#define LOOKUP_H

#include <sys/queue.h>

#include <pthread.h>

#include <event2/event.h>

#include "cond.h"
#include "conf.h"
#include "milter.h"

enum lookup_state {
	LOOKUP_QUEUED,		/* waiting for a thread */
	LOOKUP_RUNNING,		/* a thread runs it */
	LOOKUP_DONE		/* answered, for the loop to hand on */
};

/* The view's lists of name and value pairs, copied. */
enum lookup_pairs {
	PAIRS_MACROS,		/* each_macro */
	PAIRS_CHILDREN,		/* each_child: their last verdicts */
	PAIRS_HEADERS,		/* each_header: the copy's, at eom */
	PAIRS_VERDICTS,		/* each_verdict: in this message, at eom */
	NPAIRS
};

struct lookup {
	TAILQ_ENTRY(lookup)	 entry;
	enum lookup_state	 state;
	void			*owner;	/* NULL: given up, answer dropped */
	size_t			 cond;	/* conf->conds[] */
	int			 result;	/* 1, 0, -1: cond_eval()'s */
	struct cond_view	 view;	/* its strings are the copies below */
	char			*str[6];
	struct mbuf		 recipients;
	struct mbuf		 pairs[NPAIRS];	/* name NUL value NUL ... */
};

TAILQ_HEAD(lookup_list, lookup);

/*
 * Lookups queued for the threads (at most max: past it, refused) and
 * those answered, for the loop; a byte on notify (-1: none) tells the
 * loop an answer is in.
 */
struct lookup_queue {
	pthread_mutex_t		 mtx;
	pthread_cond_t		 cv;
	struct lookup_list	 queued;
	struct lookup_list	 done;
	size_t			 nqueued;
	size_t			 max;
	size_t			 running;	/* taken, not answered */
	int			 stop;
	int			 notify;
};

/* The queue itself: no thread, no loop (t/unit/test_lookup.c). */
void		 lookup_queue_init(struct lookup_queue *, size_t, int);
struct lookup	*lookup_new(size_t, const struct cond_view *, void *);
void		 lookup_free(struct lookup *);
int		 lookup_submit(struct lookup_queue *, struct lookup *);
struct lookup	*lookup_take(struct lookup_queue *, int);
void		 lookup_answer(struct lookup_queue *, struct lookup *, int);
void		 lookup_cancel(struct lookup_queue *, struct lookup *);
size_t		 lookup_collect(struct lookup_queue *,
		    void (*)(void *, struct lookup *));

/* A worker's threads. */
void		 lookup_start(struct event_base *, struct conf *,
		    void (*)(void *, struct lookup *));
int		 lookup_ask(struct lookup *);
void		 lookup_drop(struct lookup *);
int		 lookup_stop(void);

#endif /* LOOKUP_H */
