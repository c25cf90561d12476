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
 * health.h: the health of a child's addresses, shared by all workers
 * (struct stats_health, in the counters' region).
 */

#ifndef HEALTH_H
#define HEALTH_H

#include <stdint.h>
#include <stdio.h>

#include "stats.h"

/* A down address is kept down at most this long (seconds). */
#define HEALTH_DOWN_TIME_MAX	300

/* What a session does with an address. */
enum health_try {
	HEALTH_TRY,		/* up: try it */
	HEALTH_PROBE,		/* down long enough: this session probes */
	HEALTH_SKIP		/* down: do not try it */
};

/* A child's settings, and names for the log lines. */
struct conf;
struct milter_conf;

struct health_conf {
	const char	*child;
	const char	*addr;
	int		 failures_to_down;	/* 0: never down */
	int		 down_time;		/* seconds, the first time */
	uint64_t	 probe_us;	/* a probe's time, then another */
	uint64_t	*changes;	/* counts the changes */
};

/* health.c */
enum health_try	 health_admit(struct stats_health *,
		    const struct health_conf *, uint64_t);
void		 health_failed(struct stats_health *,
		    const struct health_conf *, uint64_t, int, const char *);
void		 health_answered(struct stats_health *,
		    const struct health_conf *);
void		 health_ok(struct stats_health *);
void		 health_reset(struct stats_health *);
enum health	 health_state(const struct stats_health *);
enum health	 health_child(const struct stats_child *);
const char	*health_name(enum health);
void		 health_reason(const struct stats_health *, char *, size_t);
int64_t		 health_since(const struct stats_child *);
void		 health_prometheus(FILE *, const struct conf *);
size_t		 health_report(FILE *, const struct conf *);

#endif /* HEALTH_H */
