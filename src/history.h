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
 * history.h: the rolling per-minute history behind `milterctl graph':
 * per minute, the sessions that ended and, per child, its verdicts.
 * Bounded (a ring of minutes), written to and read from a text form
 * that is both the state file and what the control socket sends.
 *
 * The text form, one record per line:
 *
 *	milterd-history 1
 *	m MINUTE SESSIONS
 *	c NAME ACCEPT REJECT TEMPFAIL DISCARD QUARANTINE FALLBACK [REFUSED]
 *
 * REFUSED, the messages a shadow trial child would have refused
 * (rejected, tempfailed, discarded), is written only when not 0, and
 * read as 0 when absent (files written before it).
 *
 * MINUTE is seconds since the epoch divided by 60; the c lines after an
 * m line belong to that minute.  Names have no blanks (milterd.conf
 * forbids them).  Minutes are written oldest first.
 */

#ifndef HISTORY_H
#define HISTORY_H

#include <stdint.h>
#include <stdio.h>

enum history_count {
	HISTORY_ACCEPT,
	HISTORY_REJECT,
	HISTORY_TEMPFAIL,
	HISTORY_DISCARD,
	HISTORY_QUARANTINE,
	HISTORY_FALLBACK,
	HISTORY_WOULD_REFUSE,	/* a shadow's refusals (optional) */
	HISTORY_NCOUNTS
};

#define HISTORY_NAME_MAX	72	/* with the NUL */
/*
 * Child names read back at most: twice the children the counters hold
 * (stats.h), for names configured before a reload.
 */
#define HISTORY_NAMES_MAX	256

/* One child's counts in one minute. */
struct history_entry {
	uint32_t	child;		/* index into history.names */
	uint32_t	n[HISTORY_NCOUNTS];
};

struct history_minute {
	int64_t			 minute;	/* epoch seconds / 60 */
	uint32_t		 sessions;
	size_t			 nentries;
	struct history_entry	*entries;	/* owned */
};

struct history {
	size_t			 cap;		/* minutes kept, at most */
	size_t			 len;		/* minutes held */
	size_t			 head;		/* ring index of the oldest */
	struct history_minute	*ring;
	char			(*names)[HISTORY_NAME_MAX];
	size_t			 nnames;
};

/* history.c */
int	 history_init(struct history *, size_t);
void	 history_free(struct history *);
int	 history_child(struct history *, const char *);
int	 history_add(struct history *, int64_t, uint32_t,
	    const struct history_entry *, size_t);
const struct history_minute *history_at(const struct history *, size_t);
int	 history_write(const struct history *, FILE *, int64_t);
int	 history_read(struct history *, FILE *, int64_t, char *, size_t);
const char *history_count_name(enum history_count);

/* graph.c */
int	 graph_svg(FILE *, const struct history *, int64_t, int64_t);
void	 xml_escape(FILE *, const char *);

#endif /* HISTORY_H */
