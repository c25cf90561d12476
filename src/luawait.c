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
 * luawait.c: a session's wait for its lua conditions (apply_wait() and
 * apply_eom() say when).  Each one the command decides for a child
 * still open to it is asked of the lookup threads (lookup.c), once,
 * with a copy of the view, and the round waits for the answers, each
 * into cond_result[], at most the longest time_limit of those asked
 * and a second (a script blocked in a C function, threads all busy):
 * past it, or when the queue refuses, condition_error decides.  A
 * child's conditions are taken in order, and a condition that is not
 * lua and does not hold stops its walk: the scripts after it are not
 * run, as before.
 */

#include <sys/types.h>

#include <stdlib.h>

#include "log.h"
#include "lookup.h"
#include "session.h"

struct lua_wait {
	struct session	*s;
	void		(*done)(struct session *);
	struct event	*timer;
	size_t		 pending;
	struct lookup	*asked[];	/* per condition; NULL: none out */
};

/* Beyond time_limit, what a session gives the threads (queueing). */
#define LUA_WAIT_GRACE_MS	1000

static void	lua_await(struct session *, int);
static void	lua_ask(struct session *, struct child *,
		    const struct cond_view *, int *);
static void	lua_ask_grouped(struct session *, const struct cond_view *,
		    int *);
static void	lua_ask_one(struct session *, size_t, const struct cond_view *,
		    int *);
static void	lua_timeout(evutil_socket_t, short, void *);
static void	lua_end(struct session *);

/*
 * The session's wait, made at its first command: 0 when there are no
 * lua conditions, or no memory for it (they then fail: condition_error).
 */
int
luawait_prepare(struct session *s, void (*done)(struct session *))
{
	size_t	i;

	if (!cond_any(s->conf->conds, s->conf->nconds, COND_LUA))
		return 0;
	if (s->lua == NULL && (s->lua = calloc(1, sizeof(*s->lua) +
	    s->conf->nconds * sizeof(s->lua->asked[0]))) != NULL) {
		s->lua->s = s;
		if ((s->lua->timer = evtimer_new(s->base, lua_timeout, s)) ==
		    NULL) {
			luawait_free(s->lua);
			s->lua = NULL;
		}
	}
	if (s->lua == NULL) {
		log_warn("session %s: lua conditions", s->id);
		for (i = 0; i < s->conf->nconds; i++)
			if (s->conf->conds[i].type == COND_LUA)
				s->cond_result[i] = -1;
		return 0;
	}
	s->lua->done = done;
	return 1;
}

/* Ask what the command at work decides; done() once all are in. */
void
luawait_command(struct session *s)
{
	struct cond_view	 v;
	size_t			 i;
	int			 ms = 0;

	apply_view(s, s->chain.cmd, &v);
	for (i = 0; i < s->chain.nkids; i++)
		if (chain_open(&s->chain, i, s->chain.cmd))
			lua_ask(s, &s->kids[i], &v, &ms);
	lua_ask_grouped(s, &v, &ms);
	lua_await(s, ms);
}

/*
 * End of message, child i's turn: its conditions on the message (and
 * the groups' members at end of message); done() once all are in.
 */
void
luawait_eom(struct session *s, size_t i)
{
	struct cond_view	v;
	int			ms = 0;

	apply_view(s, SMFIC_BODYEOB, &v);
	lua_ask(s, &s->kids[i], &v, &ms);
	lua_ask_grouped(s, &v, &ms);
	lua_await(s, ms);
}

/* done() once every answer asked is in, or ms and the grace passed. */
static void
lua_await(struct session *s, int ms)
{
	struct lua_wait		*w = s->lua;
	struct timeval		 tv;

	if (w->pending == 0) {
		w->done(s);
		return;
	}
	ms += LUA_WAIT_GRACE_MS;
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	evtimer_add(w->timer, &tv);
}

/*
 * A child's lua conditions at this command, asked in order up to the
 * first other one that does not hold; *ms the longest time_limit
 * asked.
 */
static void
lua_ask(struct session *s, struct child *c, const struct cond_view *v,
    int *ms)
{
	const struct cond_ref	*ref;
	const struct cond	*cond;
	size_t			 j;

	for (j = 0; j < c->mc->nconds; j++) {
		ref = &c->mc->conds[j];
		cond = &s->conf->conds[ref->idx];
		if (!(cond->stages & cond_at(s->chain.cmd)))
			continue;
		if (cond->type == COND_LUA)
			lua_ask_one(s, ref->idx, v, ms);
		/* A group with a lua member: once the answers are in. */
		else if (!cond->lua_member && !apply_holds(s, c, ref, v))
			break;
	}
}

/*
 * The lua conditions in groups, each at its own stages: a group is
 * decided from them later (or now), when its turn comes.
 */
static void
lua_ask_grouped(struct session *s, const struct cond_view *v, int *ms)
{
	const struct cond	*cond;
	size_t			 i;

	for (i = 0; i < s->conf->nconds; i++) {
		cond = &s->conf->conds[i];
		if (cond->type == COND_LUA && cond->grouped &&
		    (cond->stages & cond_at(s->chain.cmd)))
			lua_ask_one(s, i, v, ms);
	}
}

/* Condition idx asked of the threads, unless decided or out already. */
static void
lua_ask_one(struct session *s, size_t idx, const struct cond_view *v,
    int *ms)
{
	const struct cond	*cond = &s->conf->conds[idx];
	struct lookup		*l;

	if (s->cond_result[idx] != -2 || s->lua->asked[idx] != NULL)
		return;
	if ((l = lookup_new(idx, v, s->lua)) == NULL) {
		log_warn("session %s: condition \"%s\"", s->id, cond->name);
		s->cond_result[idx] = -1;
		return;
	}
	if (lookup_ask(l) == -1) {
		lookup_free(l);
		s->cond_result[idx] = -1;
		return;
	}
	s->lua->asked[idx] = l;
	s->lua->pending++;
	if (cond->time_limit > *ms)
		*ms = cond->time_limit;
}

/* From the loop (lookup_collect()): an answer for the session's wait. */
void
luawait_answered(void *owner, struct lookup *l)
{
	struct lua_wait	*w = owner;

	w->asked[l->cond] = NULL;
	w->s->cond_result[l->cond] = l->result;
	if (--w->pending == 0)
		lua_end(w->s);
}

static void
lua_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct session	*s = arg;
	size_t		 i;

	(void)fd;
	(void)what;
	for (i = 0; i < s->conf->nconds; i++)
		if (s->lua->asked[i] != NULL) {
			log_warnx("session %s: condition \"%s\": no answer "
			    "within its time_limit of %d ms and %d ms: "
			    "condition_error decides", s->id,
			    s->conf->conds[i].name, s->conf->conds[i].time_limit,
			    LUA_WAIT_GRACE_MS);
			stats_add(&stats->lookups_late, 1);
			lookup_drop(s->lua->asked[i]);
			s->lua->asked[i] = NULL;
			s->cond_result[i] = -1;
		}
	s->lua->pending = 0;
	lua_end(s);
}

static void
lua_end(struct session *s)
{
	event_del(s->lua->timer);
	s->lua->done(s);
}

/* The session's end: what it asked is given up, answers dropped. */
void
luawait_free(struct lua_wait *w)
{
	size_t	i;

	if (w == NULL)
		return;
	for (i = 0; i < w->s->conf->nconds; i++)
		if (w->asked[i] != NULL)
			lookup_drop(w->asked[i]);
	if (w->timer != NULL)
		event_free(w->timer);
	free(w);
}
