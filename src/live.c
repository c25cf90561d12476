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
 * live.c: the sessions open now, for `milterctl sessions'.
 *
 * Each worker publishes its sessions every second (worker.c's tick)
 * into its slot of a MAP_SHARED region the master maps before forking,
 * as the counters are: at most LIVE_SLOTS of them, with how many are
 * open in all.  The master reads every live worker's slot when asked;
 * a sequence number, odd while the worker writes, tells it to read
 * again.  So the list is at most a second old, costs a worker one pass
 * over its sessions a second, and needs no channel from the master to
 * the workers nor any wait in the master (HACKING.md says why this and
 * not asking over pipes).
 *
 * What the master prints from the region is checked as untrusted:
 * strings are cut at their size and made printable, a child is named
 * from the master's own copy of the names (stats_child_name()), a
 * stage from milter_stages[].
 */

#include <sys/time.h>

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "child.h"
#include "live.h"
#include "log.h"
#include "milterd.h"
#include "session.h"
#include "util.h"

#define LIVE_RETRIES	100	/* reads of a slot being written */

struct live	*live;

static void	 session_row(const struct session *, struct live_session *);
static int	 worker_copy(size_t, struct live_worker *);
static const char *stage_name(char);
static void	 row_print(FILE *, int, int, const struct live_session *,
		    uint64_t, uint64_t);

/*
 * What the list shows of a session: the command at work, and of the
 * children awaited (a reply, or the connection and negotiation) the
 * one awaited longest.
 */
static void
session_row(const struct session *s, struct live_session *r)
{
	const struct child	*c, *oldest = NULL;
	size_t			 i;

	strlcpy(r->id, s->id, sizeof(r->id));
	strlcpy(r->client, s->client, sizeof(r->client));
	r->stage = s->link.at;
	r->start_us = (uint64_t)s->start.tv_sec * 1000000 +
	    (uint64_t)s->start.tv_usec;
	r->child = -1;
	r->wait_us = 0;
	for (i = 0; i < s->chain.nkids; i++) {
		c = &s->kids[i];
		if (c->state != CHILD_WAITING &&
		    c->state != CHILD_CONNECTING &&
		    c->state != CHILD_NEGOTIATING)
			continue;
		if (oldest == NULL || (c->sent_us != 0 &&
		    c->sent_us < oldest->sent_us))
			oldest = c;
	}
	if (oldest == NULL || oldest->stats == NULL)
		return;
	r->child = (int32_t)(oldest->stats - stats->children);
	r->wait_us = oldest->sent_us != 0 ? oldest->sent_us : s->wait_since;
}

/* In a worker, every second: its sessions, from the first. */
void
live_publish(const struct session *first)
{
	struct live_worker	*w;
	const struct session	*s;
	uint32_t		 n = 0;
	uint64_t		 open = 0;

	if (live == NULL || stats_self == NULL)
		return;
	w = &live->w[stats_self - stats->workers];
	__atomic_add_fetch(&w->seq, 1, __ATOMIC_ACQ_REL);
	w->pid = (int32_t)getpid();
	for (s = first; s != NULL; s = TAILQ_NEXT(s, entry), open++)
		if (n < LIVE_SLOTS)
			session_row(s, &w->s[n++]);
	w->n = n;
	w->open = open;
	__atomic_add_fetch(&w->seq, 1, __ATOMIC_RELEASE);
}

/* In the master: a steady copy of worker slot i, or -1. */
static int
worker_copy(size_t i, struct live_worker *out)
{
	const struct live_worker	*w = &live->w[i];
	uint32_t			 seq;
	int				 tries;

	for (tries = 0; tries < LIVE_RETRIES; tries++) {
		seq = __atomic_load_n(&w->seq, __ATOMIC_ACQUIRE);
		if (seq & 1)
			continue;
		memcpy(out, w, sizeof(*out));
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		if (__atomic_load_n(&w->seq, __ATOMIC_RELAXED) == seq)
			return 0;
	}
	return -1;
}

static const char *
stage_name(char cmd)
{
	size_t	i;

	if (cmd == '\0')
		return "start";
	for (i = 0; i < NSTAGES; i++)
		if (milter_stages[i].cmd == cmd)
			return milter_stages[i].name;
	return "?";
}

static void
row_print(FILE *fp, int json, int first, const struct live_session *r,
    uint64_t now_us, uint64_t mono_us)
{
	char		 id[LIVE_ID_MAX], client[LIVE_CLIENT_MAX];
	const char	*child = "-";
	double		 age, waited = 0;

	str_printable(id, sizeof(id), r->id, strnlen(r->id, sizeof(r->id)));
	str_printable(client, sizeof(client), r->client, strnlen(r->client,
	    sizeof(r->client)));
	if (client[0] == '\0')
		strlcpy(client, "-", sizeof(client));
	if (r->child >= 0 && r->child < STATS_MAX_CHILDREN &&
	    stats_child_name((size_t)r->child)[0] != '\0') {
		child = stats_child_name((size_t)r->child);
		waited = r->wait_us != 0 && mono_us > r->wait_us ?
		    (double)(mono_us - r->wait_us) / 1e6 : 0;
	}
	age = now_us > r->start_us ? (double)(now_us - r->start_us) / 1e6 : 0;
	if (!json) {
		fprintf(fp, "%-16s %-40s %-8s %-20s %8.1fs %8.1fs\n", id,
		    client, stage_name(r->stage), child, waited, age);
		return;
	}
	fprintf(fp, "%s{\"id\":", first ? "" : ",");
	json_str(fp, id);
	fprintf(fp, ",\"client\":");
	json_str(fp, client);
	fprintf(fp, ",\"stage\":\"%s\",\"child\":", stage_name(r->stage));
	if (child[0] == '-')
		fputs("null", fp);
	else
		json_str(fp, child);
	fprintf(fp, ",\"waiting\":%.3f,\"age\":%.3f}", waited, age);
}

/*
 * In the master: `milterctl sessions', every live worker's, oldest
 * first within each worker.
 */
void
live_sessions(FILE *fp, int json)
{
	struct live_worker	*w;
	struct timeval		 tv;
	uint64_t		 now_us, mono_us, open = 0, listed = 0;
	size_t			 i, k;
	int			 first = 1, busy = 0;

	if ((w = malloc(sizeof(*w))) == NULL) {
		fprintf(fp, json ? "{\"error\":\"out of memory\"}\n" :
		    "out of memory\n");
		return;
	}
	gettimeofday(&tv, NULL);
	now_us = (uint64_t)tv.tv_sec * 1000000 + (uint64_t)tv.tv_usec;
	mono_us = stats_now_us();
	if (json)
		fprintf(fp, "{\"sessions\":[");
	else
		fprintf(fp, "%-16s %-40s %-8s %-20s %9s %9s\n", "SESSION",
		    "CLIENT", "STAGE", "CHILD", "WAITED", "AGE");
	for (i = 0; i < STATS_MAX_WORKERS; i++) {
		if (stats->workers[i].pid == 0)
			continue;
		if (worker_copy(i, w) == -1) {
			busy++;
			continue;
		}
		/* Not published yet, or by the slot's last worker. */
		if (w->pid != stats->workers[i].pid)
			continue;
		for (k = 0; k < w->n && k < LIVE_SLOTS; k++, first = 0)
			row_print(fp, json, first, &w->s[k], now_us, mono_us);
		listed += k;
		open += w->open;
	}
	free(w);
	if (json) {
		fprintf(fp, "],\"open\":%llu,\"listed\":%llu}\n",
		    (unsigned long long)open, (unsigned long long)listed);
		return;
	}
	if (open > listed)
		fprintf(fp, "(%llu more open, not listed: a worker lists at "
		    "most %d)\n", (unsigned long long)(open - listed),
		    LIVE_SLOTS);
	if (busy > 0)
		fprintf(fp, "(%d workers were writing their list: ask again)\n",
		    busy);
}
