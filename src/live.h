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
 * live.h: the sessions open now, as each worker publishes them for
 * `milterctl sessions', in a region shared like the counters.
 */

#ifndef LIVE_H
#define LIVE_H

#include <stdint.h>
#include <stdio.h>

#include "stats.h"

#define LIVE_SLOTS	128	/* sessions listed per worker, at most */
#define LIVE_ID_MAX	32
#define LIVE_CLIENT_MAX	128

/* One session, as its worker last saw it. */
struct live_session {
	char		id[LIVE_ID_MAX];
	char		client[LIVE_CLIENT_MAX];
	char		stage;		/* the command at work; 0: none yet */
	int32_t		child;		/* counters index of the child awaited */
	uint64_t	start_us;	/* wall clock */
	uint64_t	wait_us;	/* awaited since (monotonic); 0: none */
};

/* A worker's sessions; the slot is its counters slot's. */
struct live_worker {
	uint32_t		seq;	/* odd while it is written */
	int32_t			pid;
	uint32_t		n;	/* listed */
	uint64_t		open;	/* open, listed or not */
	struct live_session	s[LIVE_SLOTS];
};

struct live {
	struct live_worker	w[STATS_MAX_WORKERS];
};

struct session;

extern struct live	*live;

void		 live_publish(const struct session *);
void		 live_sessions(FILE *, int);

#endif /* LIVE_H */
