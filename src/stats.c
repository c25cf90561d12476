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
 * stats.c: the shared counters (see stats.h) and their Prometheus
 * text exposition.
 *
 * Counters are added with relaxed atomics: each is exact on its own,
 * and a reader may see one counter of a pair updated before the other,
 * which no consumer of these figures minds.  A child's last error is a
 * string: writers bump error_seq around it (seqlock), readers retry
 * while it changes, so they never show half of one message and half of
 * another.
 */

#include <sys/types.h>
#include <sys/mman.h>

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "milter.h"
#include "stats.h"
#include "util.h"

struct stats		*stats;
struct stats_worker	*stats_self;

/* Entry i counts the child named child_names[i]; "": a free entry. */
static char		 child_names[STATS_MAX_CHILDREN][STATS_NAME_MAX];

const uint64_t stats_bucket_us[STATS_NBUCKETS] = {
	500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000,
	500000, 1000000, 2500000, 5000000, 10000000, 30000000, UINT64_MAX
};

static const char	*verdict_names[NVERDICTS] = {
	"none", "accept", "reject", "tempfail", "discard", "quarantine"
};

/*
 * A child's counters, for every rendering: `milterctl stats' (its JSON
 * key, its column in the text table) and the Prometheus metric.  A
 * counter added here shows in all of them.
 */
const struct stats_counter stats_child_counters[STATS_NCHILD_COUNTERS] = {
	{ "sessions", NULL, "child_sessions_total",
	    "Sessions a child took part in.",
	    offsetof(struct stats_child, sessions), 0 },
	{ "verdicts", NULL, "child_verdicts_total",
	    "Verdicts of a child that were applied.",
	    offsetof(struct stats_child, verdicts), 1 },
	{ "evaluation_verdicts", NULL, "child_evaluation_verdicts_total",
	    "Verdicts of a child in evaluation mode: logged, not applied.",
	    offsetof(struct stats_child, evaluated), 1 },
	{ "stopped", "stopped", "child_stopped_total",
	    "Sessions or messages a child was kept out of by a condition.",
	    offsetof(struct stats_child, stopped), 0 },
	{ "fallbacks", "fallback", "child_fallbacks_total",
	    "Failures of a child, answered with its fallback.",
	    offsetof(struct stats_child, fallbacks), 0 },
	{ "timeouts", "timeout", "child_timeouts_total",
	    "Failures of a child by a timeout.",
	    offsetof(struct stats_child, timeouts), 0 },
	{ "errors", "error", "child_errors_total",
	    "Failures of a child other than timeouts.",
	    offsetof(struct stats_child, errors), 0 },
	{ "skipped", "skipped", "child_skipped_total",
	    "Sessions given a child's fallback at once, as it was down.",
	    offsetof(struct stats_child, skipped), 0 },
	{ "reused", NULL, "child_reused_total",
	    "Sessions that took a connection to a child kept by an earlier "
	    "one (reuse_connections).",
	    offsetof(struct stats_child, reused), 0 },
	{ "state_changes", "changes", "child_state_changes_total",
	    "Changes of the health of a child's addresses (up, down, "
	    "probing).",
	    offsetof(struct stats_child, state_changes), 0 },
	{ "trial_dropped", NULL, "trial_dropped_total",
	    "Trials of a shadow child dropped: past evaluation_memory_limit, "
	    "or 16 of the session awaiting its verdict.",
	    offsetof(struct stats_child, trial_dropped), 0 },
	{ "trial_cut", NULL, "trial_cut_total",
	    "Trials of a shadow child with no verdict: it failed, timed out "
	    "or its session was cut.",
	    offsetof(struct stats_child, trial_cut), 0 },
	{ "trial_headers_added", NULL, "trial_headers_added_total",
	    "Headers a shadow child would have added.",
	    offsetof(struct stats_child, trial_edits[TRIAL_HEADERS_ADDED]), 0 },
	{ "trial_headers_changed", NULL, "trial_headers_changed_total",
	    "Headers a shadow child would have changed or deleted.",
	    offsetof(struct stats_child, trial_edits[TRIAL_HEADERS_CHANGED]),
	    0 },
	{ "trial_bodies_replaced", NULL, "trial_bodies_replaced_total",
	    "Messages whose body a shadow child would have replaced.",
	    offsetof(struct stats_child, trial_edits[TRIAL_BODY_REPLACED]), 0 },
	{ "trial_recipients_changed", NULL, "trial_recipients_changed_total",
	    "Recipients a shadow child would have added or removed.",
	    offsetof(struct stats_child,
	    trial_edits[TRIAL_RECIPIENTS_CHANGED]), 0 },
};

/*
 * The session-wide counters, for every rendering: `milterctl stats'
 * (text and JSON), Prometheus and the status page, in this order.  A
 * counter added here shows in all of them.
 */
const struct stats_global stats_globals[STATS_NGLOBAL] = {
	{ "sessions", "total", "sessions", 0, "sessions_total", "counter",
	    "MTA sessions ended.", offsetof(struct stats, sessions), -1 },
	{ "sessions", "open", "open", 0, "sessions_open", "gauge",
	    "MTA sessions open now.", SIZE_MAX, -1 },
	{ "sessions", "verdicts", "sessions by verdict", 3,
	    "session_verdicts_total", "counter",
	    "Sessions ended, by the last verdict given to the MTA.",
	    offsetof(struct stats, session_verdicts), VERDICT_NONE },
	{ "messages", "total", "messages", 0, "messages_total", "counter",
	    "Messages that reached end of message.",
	    offsetof(struct stats, messages), -1 },
	{ "messages", "verdicts", "messages by verdict", 4,
	    "message_verdicts_total", "counter",
	    "Messages, by the verdict given to the MTA at end of message.",
	    offsetof(struct stats, message_verdicts), VERDICT_ACCEPT },
	{ NULL, "mta_errors", "MTA errors", 0, "mta_errors_total", "counter",
	    "Sessions ended by a protocol or I/O error on the MTA side.",
	    offsetof(struct stats, mta_errors), -1 },
	{ NULL, "disconnects", "clients gone while children worked", 1,
	    "disconnects_total", "counter",
	    "Waits on children cut short: the SMTP client had gone.",
	    offsetof(struct stats, disconnects), -1 },
	{ NULL, "unverifiable", "clients not found to check", 1,
	    "unverifiable_total", "counter",
	    "Sessions whose SMTP client connection could not be found.",
	    offsetof(struct stats, unverifiable), -1 },
	{ NULL, "resource_failures",
	    "sessions tempfailed for want of a resource", 2,
	    "resource_failures_total", "counter",
	    "Sessions tempfailed: milterd could not reach a child for want "
	    "of a resource of its own (descriptors, memory).",
	    offsetof(struct stats, resource_failures), -1 },
	{ NULL, "lookups_refused", "lua lookups refused (queue full)", 2,
	    "lookups_refused_total", "counter",
	    "lua conditions not run: lua_queue lookups waited already in the "
	    "worker (condition_error decided).",
	    offsetof(struct stats, lookups_refused), -1 },
	{ NULL, "lookups_late", "lua lookups not answered in time", 2,
	    "lookups_late_total", "counter",
	    "lua conditions whose answer did not come within time_limit and "
	    "a second (condition_error decided).",
	    offsetof(struct stats, lookups_late), -1 },
};

/* The region, zeroed, shared with every process forked after. */
struct stats *
stats_map(void)
{
	struct stats	*st;

	st = mmap(NULL, sizeof(*st), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (st == MAP_FAILED)
		fatal("%s: mmap", __func__);
	st->started = time(NULL);
	return st;
}

/* The entry counting this name, given one if new; NULL when full. */
struct stats_child *
stats_child(struct stats *st, const char *name)
{
	struct stats_child	*free_entry = NULL;
	size_t			 i;

	for (i = 0; i < STATS_MAX_CHILDREN; i++) {
		if (strcmp(child_names[i], name) == 0)
			return &st->children[i];
		if (free_entry == NULL && child_names[i][0] == '\0')
			free_entry = &st->children[i];
	}
	if (free_entry == NULL)
		return NULL;
	strlcpy(child_names[free_entry - st->children], name,
	    sizeof(child_names[0]));
	free_entry->enabled = free_entry->evaluation = -1;
	free_entry->sample = -1;
	return free_entry;
}

/* The name entry i counts, "" for a free entry. */
const char *
stats_child_name(size_t i)
{
	return child_names[i];
}

/* Entry i is free again, its counts gone. */
void
stats_child_forget(struct stats *st, size_t i)
{
	memset(&st->children[i], 0, sizeof(st->children[i]));
	child_names[i][0] = '\0';
}

/* A reload ends what milterctl changed. */
void
stats_clear_overrides(struct stats *st)
{
	size_t	i;

	for (i = 0; i < STATS_MAX_CHILDREN; i++)
		st->children[i].enabled = st->children[i].evaluation =
		    st->children[i].sample = -1;
}

void
stats_add(uint64_t *counter, uint64_t n)
{
	__atomic_fetch_add(counter, n, __ATOMIC_RELAXED);
}

/* 1 the first time for flag, across all workers; 0 after. */
int
stats_once(uint64_t *flag)
{
	return __atomic_exchange_n(flag, 1, __ATOMIC_RELAXED) == 0;
}

void
stats_once_reset(uint64_t *flags, size_t n)
{
	while (n-- > 0)
		__atomic_store_n(&flags[n], 0, __ATOMIC_RELAXED);
}

void
stats_sub(uint64_t *counter, uint64_t n)
{
	__atomic_fetch_sub(counter, n, __ATOMIC_RELAXED);
}

uint64_t
stats_get(const uint64_t *counter)
{
	return __atomic_load_n(counter, __ATOMIC_RELAXED);
}

/* A monotonic clock in microseconds, for reply times. */
uint64_t
stats_now_us(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* One reply of a child, us microseconds after the command went out. */
void
stats_time(struct stats_child *sc, enum stage stage, uint64_t us)
{
	stats_hist_add(&sc->latency[stage], us);
}

/* One time of us microseconds into histogram h. */
void
stats_hist_add(struct stats_hist *h, uint64_t us)
{
	size_t	i;

	for (i = 0; i < STATS_NBUCKETS - 1 && us > stats_bucket_us[i]; i++)
		;
	stats_add(&h->bucket[i], 1);
	stats_add(&h->sum_us, us);
	stats_add(&h->count, 1);
}

/* A string in the region, written under seq (a seqlock). */
void
stats_seq_put(uint32_t *seq, char *buf, size_t size, const char *msg)
{
	__atomic_fetch_add(seq, 1, __ATOMIC_ACQ_REL);
	strlcpy(buf, msg, size);
	__atomic_fetch_add(seq, 1, __ATOMIC_ACQ_REL);
}

/* Read it back whole: never half of one and half of another. */
void
stats_seq_get(const uint32_t *seq, const char *src, size_t size, char *buf,
    size_t len)
{
	char		copy[STATS_ERROR_MAX];
	uint32_t	s;
	int		tries;

	if (size > sizeof(copy))
		size = sizeof(copy);
	for (tries = 0; tries < 100; tries++) {
		s = __atomic_load_n(seq, __ATOMIC_ACQUIRE);
		if (s & 1)
			continue;
		memcpy(copy, src, size);
		if (__atomic_load_n(seq, __ATOMIC_ACQUIRE) != s)
			continue;
		/* Any worker can write it: cut, and printable only. */
		str_printable(buf, len, copy, strnlen(copy, size));
		return;
	}
	strlcpy(buf, "(being written)", len);
}

void
stats_set_error(struct stats_child *sc, const char *msg)
{
	__atomic_fetch_add(&sc->error_seq, 1, __ATOMIC_ACQ_REL);
	strlcpy(sc->last_error, msg, sizeof(sc->last_error));
	__atomic_store_n(&sc->last_fail, (int64_t)time(NULL),
	    __ATOMIC_RELAXED);
	__atomic_fetch_add(&sc->error_seq, 1, __ATOMIC_ACQ_REL);
}

void
stats_get_error(const struct stats_child *sc, char *buf, size_t len)
{
	stats_seq_get(&sc->error_seq, sc->last_error, sizeof(sc->last_error),
	    buf, len);
}

/*
 * A time read from the region, which any worker can write: kept if it
 * is after the epoch and not past now (a day of clock steps allowed),
 * else 0 (never).  The master formats and subtracts only what passed.
 */
int64_t
stats_region_time(int64_t t, time_t now)
{
	if (t <= 0 || t > (int64_t)now + 86400)
		return 0;
	return t;
}

/* Seconds from t (from the region) to now; 0 if t did not pass. */
int64_t
stats_region_age(int64_t t, time_t now)
{
	if ((t = stats_region_time(t, now)) == 0 || t > (int64_t)now)
		return 0;
	return (int64_t)now - t;
}

/*
 * The q-quantile in seconds: the upper bound of the bucket it falls
 * in (the largest finite bound for the last bucket), 0 without data.
 */
double
stats_quantile(const struct stats_hist *h, double q)
{
	uint64_t	bucket[STATS_NBUCKETS], total = 0, seen = 0, rank;
	size_t		i;

	/* One reading of the buckets, however workers add meanwhile. */
	for (i = 0; i < STATS_NBUCKETS; i++)
		total += bucket[i] = stats_get(&h->bucket[i]);
	if (total == 0)
		return 0;
	rank = (uint64_t)(q * (double)total + 0.999999);
	if (rank < 1)
		rank = 1;
	for (i = 0; i < STATS_NBUCKETS - 1; i++) {
		seen += bucket[i];
		if (seen >= rank)
			break;
	}
	if (i == STATS_NBUCKETS - 1)
		i--;
	return (double)stats_bucket_us[i] / 1e6;
}

void
stats_hist_sum(struct stats_hist *to, const struct stats_hist *from)
{
	size_t	i;

	to->count += stats_get(&from->count);
	to->sum_us += stats_get(&from->sum_us);
	for (i = 0; i < STATS_NBUCKETS; i++)
		to->bucket[i] += stats_get(&from->bucket[i]);
}

/* What a final reply means; a reply code by its first digit. */
enum verdict
verdict_of(char code, const char *text)
{
	switch (code) {
	case SMFIR_ACCEPT:
	case SMFIR_CONTINUE:
		return VERDICT_ACCEPT;
	case SMFIR_REJECT:
		return VERDICT_REJECT;
	case SMFIR_TEMPFAIL:
	case SMFIR_SHUTDOWN:
		return VERDICT_TEMPFAIL;
	case SMFIR_DISCARD:
		return VERDICT_DISCARD;
	case SMFIR_REPLYCODE:
		return text != NULL && text[0] == '4' ? VERDICT_TEMPFAIL :
		    VERDICT_REJECT;
	default:
		return VERDICT_NONE;
	}
}

/* Counter k of a child: its value, or its verdict v's. */
uint64_t
stats_child_value(const struct stats_child *sc, size_t k, enum verdict v)
{
	const uint64_t	*p = (const uint64_t *)((const char *)sc +
			    stats_child_counters[k].offset);

	return stats_get(stats_child_counters[k].verdicts ? &p[v] : p);
}

/* Session-wide counter k (its count for verdict v, if by verdict). */
uint64_t
stats_global_value(const struct stats *st, size_t k, enum verdict v)
{
	const uint64_t	*p = (const uint64_t *)((const char *)st +
			    stats_globals[k].offset);

	if (stats_globals[k].offset == SIZE_MAX)
		return stats_sessions_open(st);
	return stats_get(stats_globals[k].verdicts >= 0 ? &p[v] : p);
}

const char *
verdict_name(enum verdict v)
{
	return verdict_names[v];
}

/*
 * The Prometheus text exposition format, version 0.0.4.
 */

static void
prom_head(FILE *fp, const char *name, const char *type, const char *help)
{
	fprintf(fp, "# HELP milterd_%s %s\n# TYPE milterd_%s %s\n", name,
	    help, name, type);
}

/* For the metrics rendered elsewhere (health.c). */
void
stats_prom_head(FILE *fp, const char *name, const char *type,
    const char *help)
{
	prom_head(fp, name, type, help);
}

static void
prom_verdicts(FILE *fp, const char *name, const char *child,
    const uint64_t *v, size_t from)
{
	size_t	i;

	for (i = from; i < NVERDICTS; i++) {
		fprintf(fp, "milterd_%s{", name);
		if (child != NULL)
			fprintf(fp, "child=\"%s\",", child);
		fprintf(fp, "verdict=\"%s\"} %llu\n", verdict_names[i],
		    (unsigned long long)stats_get(&v[i]));
	}
}

static void
prom_value(FILE *fp, const char *name, const char *type, const char *help,
    unsigned long long value)
{
	prom_head(fp, name, type, help);
	fprintf(fp, "milterd_%s %llu\n", name, value);
}

/* A counter per verdict for each named child, from offset in an entry. */
static void
prom_child_verdicts(FILE *fp, const struct stats *st, const char *name,
    const char *help, size_t offset)
{
	size_t	i;

	prom_head(fp, name, "counter", help);
	for (i = 0; i < STATS_MAX_CHILDREN; i++)
		if (child_names[i][0] != '\0')
			prom_verdicts(fp, name, child_names[i],
			    (const uint64_t *)((const char *)&st->children[i] +
			    offset), VERDICT_ACCEPT);
}

/* One counter per named child. */
static void
prom_per_child(FILE *fp, const struct stats *st, const char *name,
    const char *help, size_t offset)
{
	const struct stats_child	*sc;
	size_t				 i;

	prom_head(fp, name, "counter", help);
	for (i = 0; i < STATS_MAX_CHILDREN; i++) {
		sc = &st->children[i];
		if (child_names[i][0] != '\0')
			fprintf(fp, "milterd_%s{child=\"%s\"} %llu\n", name,
			    child_names[i], (unsigned long long)stats_get(
			    (const uint64_t *)((const char *)sc + offset)));
	}
}

/* Histogram h as metric's _bucket, _sum and _count, labels first. */
static void
prom_hist(FILE *fp, const char *metric, const char *labels,
    const struct stats_hist *h)
{
	uint64_t	cum;
	size_t		i;

	for (cum = 0, i = 0; i < STATS_NBUCKETS; i++) {
		cum += stats_get(&h->bucket[i]);
		fprintf(fp, "milterd_%s_bucket{%s,le=\"", metric, labels);
		if (i == STATS_NBUCKETS - 1)
			fprintf(fp, "+Inf\"} %llu\n", (unsigned long long)cum);
		else
			fprintf(fp, "%g\"} %llu\n",
			    (double)stats_bucket_us[i] / 1e6,
			    (unsigned long long)cum);
	}
	fprintf(fp, "milterd_%s_sum{%s} %.6f\n", metric, labels,
	    (double)stats_get(&h->sum_us) / 1e6);
	fprintf(fp, "milterd_%s_count{%s} %llu\n", metric, labels,
	    (unsigned long long)cum);
}

static void
prom_latency(FILE *fp, const struct stats_child *sc, const char *child)
{
	char	labels[STATS_NAME_MAX + 64];
	size_t	s;

	for (s = 0; s < NSTAGES; s++) {
		if (stats_get(&sc->latency[s].count) == 0)
			continue;
		if (snprintf(labels, sizeof(labels), "child=\"%s\",stage="
		    "\"%s\"", child, milter_stages[s].name) >=
		    (int)sizeof(labels))
			continue;	/* names are shorter */
		prom_hist(fp, "child_reply_seconds", labels, &sc->latency[s]);
	}
}

/*
 * The shadow trials: each child's verdict against the message's, and
 * the time from end of message to its verdict.
 */
static void
prom_trials(FILE *fp, const struct stats *st)
{
	const struct stats_child	*sc;
	char				 labels[STATS_NAME_MAX + 16];
	size_t				 i, t, a;

	prom_head(fp, "trial_verdicts_total", "counter",
	    "Messages a shadow child judged, by its verdict (trial) and the "
	    "verdict the message really got (actual).");
	for (i = 0; i < STATS_MAX_CHILDREN; i++) {
		sc = &st->children[i];
		if (child_names[i][0] == '\0')
			continue;
		for (t = VERDICT_ACCEPT; t < NVERDICTS; t++)
			for (a = VERDICT_ACCEPT; a < NVERDICTS; a++)
				fprintf(fp, "milterd_trial_verdicts_total{"
				    "child=\"%s\",trial=\"%s\",actual=\"%s\"} "
				    "%llu\n", child_names[i], verdict_names[t],
				    verdict_names[a], (unsigned long long)
				    stats_get(&sc->trial[t][a]));
	}
	prom_head(fp, "trial_latency_seconds", "histogram",
	    "Time from end of message to a shadow child's verdict.");
	for (i = 0; i < STATS_MAX_CHILDREN; i++) {
		sc = &st->children[i];
		if (child_names[i][0] == '\0' ||
		    stats_get(&sc->trial_latency.count) == 0)
			continue;
		if (snprintf(labels, sizeof(labels), "child=\"%s\"",
		    child_names[i]) >= (int)sizeof(labels))
			continue;	/* names are shorter */
		prom_hist(fp, "trial_latency_seconds", labels,
		    &sc->trial_latency);
	}
}

/*
 * What is in effect: milterctl's change (0, 1, a percent) if any (-1:
 * none), read from the shared region as it is.
 */
int
stats_effective(int configured, const int32_t *changed)
{
	int32_t	v = __atomic_load_n(changed, __ATOMIC_RELAXED);

	return v >= 0 ? v : configured;
}

/* yes, no or unknown: did the last connection to it work? */
const char *
stats_reachable(const struct stats_child *sc)
{
	uint64_t	ok = stats_get(&sc->last_ok);
	uint64_t	down = stats_get(&sc->last_down);

	if (ok == 0 && down == 0)
		return "unknown";
	return ok > down ? "yes" : "no";
}

/* Sessions open now, in every worker. */
uint64_t
stats_sessions_open(const struct stats *st)
{
	uint64_t	open = 0;
	size_t		i;

	for (i = 0; i < STATS_MAX_WORKERS; i++)
		if (st->workers[i].pid != 0)
			open += stats_get(&st->workers[i].open);
	return open;
}

/* Names are checked at load to have no blanks, quotes or backslashes. */
void
stats_prometheus(FILE *fp, const struct stats *st)
{
	const struct stats_global	*g;
	size_t				 i;

	prom_value(fp, "start_time_seconds", "gauge",
	    "When the master started, in seconds since the epoch.",
	    (unsigned long long)st->started);
	for (i = 0; i < STATS_NGLOBAL; i++) {
		g = &stats_globals[i];
		if (g->verdicts >= 0) {
			prom_head(fp, g->metric, g->type, g->help);
			prom_verdicts(fp, g->metric, NULL, (const uint64_t *)
			    ((const char *)st + g->offset), g->verdicts);
		} else
			prom_value(fp, g->metric, g->type, g->help,
			    stats_global_value(st, i, 0));
	}
	for (i = 0; i < STATS_NCHILD_COUNTERS; i++)
		(stats_child_counters[i].verdicts ? prom_child_verdicts :
		    prom_per_child)(fp, st, stats_child_counters[i].metric,
		    stats_child_counters[i].help,
		    stats_child_counters[i].offset);
	prom_head(fp, "child_reply_seconds", "histogram",
	    "Time a child took to answer a command, by stage.");
	for (i = 0; i < STATS_MAX_CHILDREN; i++)
		if (child_names[i][0] != '\0')
			prom_latency(fp, &st->children[i], child_names[i]);
	prom_trials(fp, st);
}
