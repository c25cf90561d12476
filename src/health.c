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
 * health.c: the health of a child's addresses, one state per address
 * shared by all workers through the counters' region (stats.h), so
 * that a dead child costs failures_to_down sessions in all, not in
 * each worker, and `milterctl status' shows one state.
 *
 * up --failures_to_down consecutive failures--> down
 * down --down_time passed, a session comes--> probing (that session)
 * probing --its connection negotiates--> up
 * probing --it fails--> down, down_time doubled (HEALTH_DOWN_TIME_MAX)
 *
 * A failure is any failure of the child in a session (connect,
 * negotiation, a timeout, a protocol error); a session that ends with
 * the child sane clears the count.  Workers race on the region:
 * every change is a compare-and-swap of the state, and only the worker
 * that wins it logs the change and counts it, so each change is one
 * log line.  A probe whose worker went away is taken over by another
 * session after probe_us.
 */

#include <sys/types.h>

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "conf.h"
#include "health.h"
#include "log.h"

static void	prom_label(FILE *, const char *);
static int	health_move(struct stats_health *, uint32_t, uint32_t);
static void	health_said(struct stats_health *, const struct health_conf *,
		    const char *);

static const char	*health_names[] = { "up", "down", "probing" };

const char *
health_name(enum health h)
{
	return h <= HEALTH_PROBING ? health_names[h] : "unknown";
}

enum health
health_state(const struct stats_health *h)
{
	uint32_t	st = __atomic_load_n(&h->state, __ATOMIC_ACQUIRE);

	return st <= HEALTH_PROBING ? (enum health)st : HEALTH_DOWN;
}

/* One change, won by one worker: 1 if this one made it. */
static int
health_move(struct stats_health *h, uint32_t from, uint32_t to)
{
	return __atomic_compare_exchange_n(&h->state, &from, to, 0,
	    __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
}

/* The winner of a change: why, since when, counted. */
static void
health_said(struct stats_health *h, const struct health_conf *hc,
    const char *why)
{
	stats_add(hc->changes, 1);
	stats_seq_put(&h->reason_seq, h->reason, sizeof(h->reason), why);
	__atomic_store_n(&h->since, (int64_t)time(NULL), __ATOMIC_RELAXED);
}

void
health_reason(const struct stats_health *h, char *buf, size_t len)
{
	stats_seq_get(&h->reason_seq, h->reason, sizeof(h->reason), buf,
	    len);
}

/* May a session try the address now? */
enum health_try
health_admit(struct stats_health *h, const struct health_conf *hc,
    uint64_t now_us)
{
	uint64_t	until;

	if (hc->failures_to_down == 0)
		return HEALTH_TRY;
	until = __atomic_load_n(&h->until_us, __ATOMIC_ACQUIRE);
	switch (health_state(h)) {
	case HEALTH_UP:
		return HEALTH_TRY;
	case HEALTH_DOWN:
		if (now_us < until || !health_move(h, HEALTH_DOWN,
		    HEALTH_PROBING))
			return HEALTH_SKIP;
		__atomic_store_n(&h->until_us, now_us + hc->probe_us,
		    __ATOMIC_RELEASE);
		health_said(h, hc, "down_time passed: one session tries it");
		log_info("child %s: address %s: probing", hc->child,
		    hc->addr);
		return HEALTH_PROBE;
	case HEALTH_PROBING:
		/* The probe's worker may have gone: another takes over. */
		if (now_us < until || !__atomic_compare_exchange_n(
		    &h->until_us, &until, now_us + hc->probe_us, 0,
		    __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
			return HEALTH_SKIP;
		return HEALTH_PROBE;
	}
	return HEALTH_SKIP;
}

/*
 * The address failed a session (why); probe: that session was its
 * probe.  Returns nothing: the change, if any, is logged here.
 */
void
health_failed(struct stats_health *h, const struct health_conf *hc,
    uint64_t now_us, int probe, const char *why)
{
	uint32_t	n, dt;
	char		 msg[STATS_ERROR_MAX];

	if (hc->failures_to_down == 0)
		return;
	switch (health_state(h)) {
	case HEALTH_UP:
		n = __atomic_add_fetch(&h->failures, 1, __ATOMIC_ACQ_REL);
		if (n < (uint32_t)hc->failures_to_down ||
		    !health_move(h, HEALTH_UP, HEALTH_DOWN))
			return;
		dt = (uint32_t)hc->down_time;
		break;
	case HEALTH_PROBING:
		/* A session from before it went down says nothing new. */
		if (!probe || !health_move(h, HEALTH_PROBING, HEALTH_DOWN))
			return;
		n = __atomic_add_fetch(&h->failures, 1, __ATOMIC_ACQ_REL);
		dt = __atomic_load_n(&h->down_time, __ATOMIC_RELAXED) * 2;
		if (dt > HEALTH_DOWN_TIME_MAX)
			dt = HEALTH_DOWN_TIME_MAX;
		if (dt < (uint32_t)hc->down_time)
			dt = (uint32_t)hc->down_time;
		break;
	default:
		return;
	}
	__atomic_store_n(&h->down_time, dt, __ATOMIC_RELAXED);
	__atomic_store_n(&h->until_us, now_us + (uint64_t)dt * 1000000,
	    __ATOMIC_RELEASE);
	snprintf(msg, sizeof(msg), "%u failures in a row, the last: %s", n,
	    why);
	health_said(h, hc, msg);
	log_warnx("child %s: address %s: down for %us after %s", hc->child,
	    hc->addr, dt, msg);
}

/* A connection to the address negotiated: up, if it was not. */
void
health_answered(struct stats_health *h, const struct health_conf *hc)
{
	enum health	was = health_state(h);

	if (was == HEALTH_UP || !health_move(h, was, HEALTH_UP))
		return;
	__atomic_store_n(&h->failures, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&h->down_time, 0, __ATOMIC_RELAXED);
	health_said(h, hc, "answered again");
	log_info("child %s: address %s: up again (was %s)", hc->child,
	    hc->addr, health_name(was));
}

/* A session ended with the child sane: the failures are not in a row. */
void
health_ok(struct stats_health *h)
{
	if (__atomic_load_n(&h->failures, __ATOMIC_RELAXED) != 0)
		__atomic_store_n(&h->failures, 0, __ATOMIC_RELAXED);
}

/* At load: every address starts up (its list may have changed). */
void
health_reset(struct stats_health *h)
{
	memset(h, 0, sizeof(*h));
}

/*
 * One state for the child: up when an address is, probing when one
 * is probed, down when all are.
 */
enum health
health_child(const struct stats_child *sc)
{
	enum health	best = HEALTH_DOWN, st;
	uint32_t	i, n = __atomic_load_n(&sc->naddrs, __ATOMIC_RELAXED);

	if (n == 0 || n > STATS_MAX_ADDRS)
		return HEALTH_UP;
	for (i = 0; i < n; i++) {
		if ((st = health_state(&sc->health[i])) == HEALTH_UP)
			return HEALTH_UP;
		if (st == HEALTH_PROBING)
			best = st;
	}
	return best;
}

/* Since when the child is in its state: its addresses' last change. */
int64_t
health_since(const struct stats_child *sc)
{
	int64_t		since = 0, t;
	uint32_t	i, n = __atomic_load_n(&sc->naddrs, __ATOMIC_RELAXED);

	for (i = 0; i < n && i < STATS_MAX_ADDRS; i++)
		if ((t = __atomic_load_n(&sc->health[i].since,
		    __ATOMIC_RELAXED)) > since)
			since = t;
	return since;
}

/* milterd_child_up and milterd_child_address_up, configured children. */
void
health_prometheus(FILE *fp, const struct conf *c)
{
	const struct milter_conf	*m;
	size_t				 i, j;

	stats_prom_head(fp, "child_up", "gauge", "1 when a child is up (an "
	    "address of it is), 0 when down or being probed.");
	for (i = 0; i < c->nmilters; i++)
		fprintf(fp, "milterd_child_up{child=\"%s\"} %d\n",
		    c->milters[i].name,
		    health_child(c->milters[i].stats) == HEALTH_UP);
	stats_prom_head(fp, "child_address_up", "gauge", "1 when an address "
	    "of a child is up, 0 when down or being probed.");
	for (i = 0; i < c->nmilters; i++) {
		m = &c->milters[i];
		for (j = 0; j < m->nsock; j++) {
			fprintf(fp, "milterd_child_address_up{child=\"%s\","
			    "address=\"", m->name);
			prom_label(fp, m->sock[j].text);
			fprintf(fp, "\"} %d\n", health_state(
			    &m->stats->health[j]) == HEALTH_UP);
		}
	}
}

/* A label value: a socket's path may hold a quote or a backslash. */
static void
prom_label(FILE *fp, const char *s)
{
	for (; *s != '\0'; s++) {
		if (*s == '"' || *s == '\\')
			fputc('\\', fp);
		if (*s == '\n')
			fputs("\\n", fp);
		else
			fputc(*s, fp);
	}
}

/*
 * The body of GET /health: the enabled children that are not up, with
 * their state, or that all are.  Returns how many are not.
 */
size_t
health_report(FILE *fp, const struct conf *c)
{
	const struct milter_conf	*m;
	enum health			 h;
	size_t				 i, n = 0, up = 0;

	for (i = 0; i < c->nmilters; i++) {
		m = &c->milters[i];
		if (!stats_effective(m->enabled, &m->stats->enabled))
			continue;
		if ((h = health_child(m->stats)) == HEALTH_UP) {
			up++;
			continue;
		}
		fprintf(fp, "%s %s (%s)", n++ == 0 ? "milterd: not up:" : ",",
		    m->name, health_name(h));
	}
	if (n > 0)
		fprintf(fp, "; %zu up\n", up);
	else
		fprintf(fp, "milterd: ok, %zu enabled children up\n", up);
	return n;
}
