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
 * stats.h: milterd's counters, in one shared memory region that the
 * master maps before it forks: workers add to it (atomically, without
 * locks), the master reads it for milterctl, the Prometheus endpoint
 * and the per-minute history.  The region outlives every worker, so a
 * recycled or killed worker loses nothing it counted.
 *
 * Children are counted by name: the master gives each configured name
 * an entry (kept across reloads, so a child's counters survive them);
 * workers find it through milter_conf.stats.  The names are the
 * master's own, outside the region: the root master never reads a
 * string a worker could have written but through stats_get_error(),
 * which bounds it.
 */

#ifndef STATS_H
#define STATS_H

#include <sys/types.h>
#include <sys/time.h>

#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "milter.h"

#define STATS_MAX_CHILDREN	128
#define STATS_MAX_LISTEN	8	/* CONF_MAX_LISTEN */
#define STATS_MAX_WORKERS	512	/* slots of two generations */
#define STATS_NBUCKETS		16	/* the last is +Inf */
#define STATS_NAME_MAX		72
#define STATS_ERROR_MAX		160
#define STATS_MAX_ADDRS		8	/* CONF_MAX_ADDRS */

/* A verdict: of a session, of a message, or of one child. */
enum verdict {
	VERDICT_NONE,		/* none given (sessions only) */
	VERDICT_ACCEPT,
	VERDICT_REJECT,
	VERDICT_TEMPFAIL,
	VERDICT_DISCARD,
	VERDICT_QUARANTINE,
	NVERDICTS
};

/* The command a child's reply time is counted under. */

/* Reply times; bucket i counts replies up to stats_bucket_us[i]. */
struct stats_hist {
	uint64_t	count;
	uint64_t	sum_us;
	uint64_t	bucket[STATS_NBUCKETS];
};

/* The health of one address of a child (health.c). */
enum health {
	HEALTH_UP,		/* tried by every session */
	HEALTH_DOWN,		/* skipped until until_us */
	HEALTH_PROBING		/* one session tries it (half-open) */
};

struct stats_health {
	uint32_t	state;		/* enum health */
	uint32_t	failures;	/* consecutive */
	uint32_t	down_time;	/* seconds; doubles while it fails */
	uint32_t	reason_seq;	/* odd while reason is written */
	uint64_t	until_us;	/* stats_now_us(): down or probe until */
	int64_t		since;		/* epoch of the last change */
	char		reason[STATS_ERROR_MAX];
};

/* What a shadow child would have modified, counted by kind. */
enum trial_edit {
	TRIAL_HEADERS_ADDED,
	TRIAL_HEADERS_CHANGED,
	TRIAL_BODY_REPLACED,
	TRIAL_RECIPIENTS_CHANGED,
	NTRIAL_EDITS
};

/* last_ok and last_down are stats_now_us(), for comparing only. */
struct stats_child {
	int32_t		enabled;	/* milterctl's override, -1: none */
	int32_t		evaluation;	/* likewise */
	int32_t		sample;		/* likewise: evaluation_sample */
	uint64_t	sessions;	/* sessions it took part in */
	uint64_t	verdicts[NVERDICTS];		/* applied */
	uint64_t	evaluated[NVERDICTS];		/* evaluation mode */
	uint64_t	stopped;	/* kept out by a condition */
	uint64_t	fallbacks;	/* failed: its fallback stood in */
	uint64_t	timeouts;	/* of which by a timeout */
	uint64_t	errors;		/* of which by anything else */
	uint64_t	skipped;	/* fallback at once: it was down */
	uint64_t	reused;		/* sessions on a kept connection */
	uint64_t	state_changes;	/* of its addresses' health */
	uint64_t	last_ok;	/* last negotiation that worked */
	uint64_t	last_down;	/* last failure to connect */
	int64_t		last_fail;	/* when last_error came, epoch */
	uint32_t	error_seq;	/* odd while last_error is written */
	char		last_error[STATS_ERROR_MAX];
	struct stats_hist latency[NSTAGES];
	uint32_t	naddrs;		/* the master's, at load */
	uint32_t	next_addr;	/* round-robin */
	struct stats_health health[STATS_MAX_ADDRS];
	/* Shadow trials: its verdict x the message's, end of message. */
	uint64_t	trial[NVERDICTS][NVERDICTS];
	uint64_t	trial_edits[NTRIAL_EDITS];	/* would have */
	uint64_t	trial_dropped;	/* past the bound, or not ready */
	uint64_t	trial_cut;	/* no verdict: failed, cut */
	struct stats_hist trial_latency;	/* end of message to verdict */
};

/* A counter of struct stats_child, for every rendering (stats.c). */
struct stats_counter {
	const char	*key;		/* JSON */
	const char	*column;	/* text table; NULL: shown otherwise */
	const char	*metric;	/* Prometheus, after milterd_ */
	const char	*help;
	size_t		 offset;	/* in struct stats_child */
	int		 verdicts;	/* NVERDICTS of them, one per verdict */
};
#define STATS_NCHILD_COUNTERS	16
extern const struct stats_counter stats_child_counters[STATS_NCHILD_COUNTERS];

/*
 * A session-wide counter of struct stats, for every rendering (stats.c):
 * `milterctl stats' (in JSON the key in its group's object; in text a
 * label on a line), the Prometheus metric and the status page.
 */
struct stats_global {
	const char	*group;		/* JSON object it is in; NULL: none */
	const char	*key;		/* JSON */
	const char	*label;		/* text, and the status page's row */
	int		 line;		/* text: the line it is on */
	const char	*metric;	/* Prometheus, after milterd_ */
	const char	*type;		/* counter | gauge */
	const char	*help;
	size_t		 offset;	/* in struct stats; SIZE_MAX: open */
	int		 verdicts;	/* one per verdict from this; -1: one */
};
#define STATS_NGLOBAL		11
#define STATS_TEXT_LINES	5
extern const struct stats_global stats_globals[STATS_NGLOBAL];

struct stats_worker {
	int32_t		pid;		/* 0: free slot */
	int32_t		num;		/* worker number */
	int32_t		gen;		/* its generation */
	int64_t		started;
	uint64_t	served;
	uint64_t	open;
};

struct stats {
	int64_t			started;
	uint64_t		sessions;
	uint64_t		messages;
	uint64_t		session_verdicts[NVERDICTS];
	uint64_t		message_verdicts[NVERDICTS];
	uint64_t		mta_errors;	/* sessions ended by the MTA side */
	uint64_t		disconnects;	/* SMTP client gone, cut short */
	uint64_t		unverifiable;	/* client not found to check */
	uint64_t		resource_failures;	/* milterd exhausted */
	uint64_t		lookups_refused;	/* lua_queue was full */
	uint64_t		lookups_late;	/* lua: no answer in time */
	/* Said for listener i since the last load (stats_once()). */
	uint64_t		unverifiable_said[STATS_MAX_LISTEN];
	struct stats_worker	workers[STATS_MAX_WORKERS];
	struct stats_child	children[STATS_MAX_CHILDREN];
};

extern struct stats		*stats;		/* the shared region */
extern struct stats_worker	*stats_self;	/* a worker's own slot */
extern const uint64_t		 stats_bucket_us[STATS_NBUCKETS];

/* stats.c */
struct stats	*stats_map(void);
struct stats_child *stats_child(struct stats *, const char *);
const char	*stats_child_name(size_t);
void		 stats_child_forget(struct stats *, size_t);
void		 stats_clear_overrides(struct stats *);
void		 stats_add(uint64_t *, uint64_t);
int		 stats_once(uint64_t *);
void		 stats_once_reset(uint64_t *, size_t);
void		 stats_sub(uint64_t *, uint64_t);
uint64_t	 stats_get(const uint64_t *);
void		 stats_time(struct stats_child *, enum stage, uint64_t);
void		 stats_hist_add(struct stats_hist *, uint64_t);
uint64_t	 stats_now_us(void);
void		 stats_set_error(struct stats_child *, const char *);
void		 stats_get_error(const struct stats_child *, char *, size_t);
void		 stats_seq_put(uint32_t *, char *, size_t, const char *);
void		 stats_seq_get(const uint32_t *, const char *, size_t, char *,
		    size_t);
int64_t		 stats_region_time(int64_t, time_t);
int64_t		 stats_region_age(int64_t, time_t);
double		 stats_quantile(const struct stats_hist *, double);
void		 stats_hist_sum(struct stats_hist *, const struct stats_hist *);
enum verdict	 verdict_of(char, const char *);
const char	*verdict_name(enum verdict);
uint64_t	 stats_child_value(const struct stats_child *, size_t,
		    enum verdict);
uint64_t	 stats_global_value(const struct stats *, size_t,
		    enum verdict);
void		 stats_prometheus(FILE *, const struct stats *);
void		 stats_prom_head(FILE *, const char *, const char *,
		    const char *);
uint64_t	 stats_sessions_open(const struct stats *);
int		 stats_effective(int, const int32_t *);
const char	*stats_reachable(const struct stats_child *);

#endif /* STATS_H */
