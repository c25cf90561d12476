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
 * lookup.c: lua conditions off the event loop.  A worker whose
 * configuration has lua conditions starts lua_threads threads, each
 * with a Lua state of its own (luacond.c's state is the thread's),
 * after it dropped its privileges and forbade listening: the threads
 * inherit both.  A script that blocks (an LDAP or SQL query) then holds
 * one thread, not the worker and its other sessions.
 *
 * A session's question is a struct lookup: the condition and a copy of
 * what it sees (the session may go meanwhile; a thread never looks at
 * it).  Past lua_queue lookups waiting for a thread, one is refused
 * (condition_error decides, counted).  An answer goes on the done list
 * and a byte down a pipe; the loop hands each to its owner.  An owner
 * that gives up (its session ended, its wait timed out) cancels: a
 * queued lookup is freed at once, one a thread runs loses its owner
 * and is freed, unanswered, when it comes back.  The lookup is the
 * only thing both sides touch, under the queue's mutex.
 */

#include <sys/types.h>
#include <sys/queue.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "lookup.h"
#include "stats.h"

static const char *view_macro(void *, const char *);
static void	view_each(const struct mbuf *, void (*)(void *, const char *,
		    const char *), void *);
static void	view_each_macro(void *, void (*)(void *, const char *,
		    const char *), void *);
static void	view_each_child(void *, void (*)(void *, const char *,
		    const char *), void *);
static void	view_each_header(void *, void (*)(void *, const char *,
		    const char *), void *);
static void	view_each_verdict(void *, void (*)(void *, const char *,
		    const char *), void *);
static void	add_pair(void *, const char *, const char *);
static void	*lookup_thread(void *);
static void	notified(evutil_socket_t, short, void *);

void
lookup_queue_init(struct lookup_queue *q, size_t max, int notify)
{
	memset(q, 0, sizeof(*q));
	if (pthread_mutex_init(&q->mtx, NULL) != 0 ||
	    pthread_cond_init(&q->cv, NULL) != 0)
		fatalx("%s: cannot make a mutex", __func__);
	TAILQ_INIT(&q->queued);
	TAILQ_INIT(&q->done);
	q->max = max;
	q->notify = notify;
}

/* name NUL value NUL, onto the mbuf arg. */
static void
add_pair(void *arg, const char *name, const char *value)
{
	struct mbuf	*b = arg;

	if (value == NULL)
		value = "";
	if (mbuf_append(b, name, strlen(name) + 1) == -1 ||
	    mbuf_append(b, value, strlen(value) + 1) == -1)
		b->len = SIZE_MAX;	/* lookup_new() refuses it */
}

static void
view_each(const struct mbuf *b, void (*fn)(void *, const char *,
    const char *), void *fnarg)
{
	const char	*p = (const char *)b->data, *value;

	while (p != NULL && p < (const char *)b->data + b->len) {
		value = p + strlen(p) + 1;
		fn(fnarg, p, value);
		p = value + strlen(value) + 1;
	}
}

static void
view_each_macro(void *arg, void (*fn)(void *, const char *, const char *),
    void *fnarg)
{
	view_each(&((struct lookup *)arg)->pairs[PAIRS_MACROS], fn, fnarg);
}

static void
view_each_child(void *arg, void (*fn)(void *, const char *, const char *),
    void *fnarg)
{
	view_each(&((struct lookup *)arg)->pairs[PAIRS_CHILDREN], fn, fnarg);
}

static void
view_each_header(void *arg, void (*fn)(void *, const char *, const char *),
    void *fnarg)
{
	view_each(&((struct lookup *)arg)->pairs[PAIRS_HEADERS], fn, fnarg);
}

static void
view_each_verdict(void *arg, void (*fn)(void *, const char *, const char *),
    void *fnarg)
{
	view_each(&((struct lookup *)arg)->pairs[PAIRS_VERDICTS], fn, fnarg);
}

/* A macro by name, in the copy (the last value sent). */
static const char *
view_macro(void *arg, const char *name)
{
	struct lookup	*l = arg;
	const struct mbuf *b = &l->pairs[PAIRS_MACROS];
	const char	*p = (const char *)b->data, *value;
	const char	*found = NULL;

	while (p != NULL && p < (const char *)b->data + b->len) {
		value = p + strlen(p) + 1;
		if (strcmp(p, name) == 0)
			found = value;
		p = value + strlen(value) + 1;
	}
	return found;
}

/*
 * A lookup of condition cond for owner, with a copy of v: its strings,
 * the recipients, the name and value pairs its callbacks give (macros,
 * children's verdicts; at end of message the copy's headers and the
 * verdicts in this message).  NULL: out of memory.
 */
struct lookup *
lookup_new(size_t cond, const struct cond_view *v, void *owner)
{
	struct lookup	*l;
	const char	*src[6] = { v->id, v->client_addr, v->client_name,
			    v->helo, v->sender, v->rcpt };
	void		(*each[NPAIRS])(void *, void (*)(void *, const char *,
			    const char *), void *) = { v->each_macro,
			    v->each_child, v->each_header, v->each_verdict };
	size_t		 i;

	if ((l = calloc(1, sizeof(*l))) == NULL)
		return NULL;
	l->owner = owner;
	l->cond = cond;
	l->result = -1;
	mbuf_init(&l->recipients);
	for (i = 0; i < NPAIRS; i++)
		mbuf_init(&l->pairs[i]);
	for (i = 0; i < 6; i++)
		if (src[i] != NULL && (l->str[i] = strdup(src[i])) == NULL)
			goto fail;
	if (v->recipients_len > 0 && mbuf_append(&l->recipients,
	    v->recipients, v->recipients_len) == -1)
		goto fail;
	for (i = 0; i < NPAIRS; i++) {
		if (each[i] != NULL)
			each[i](v->arg, add_pair, &l->pairs[i]);
		if (l->pairs[i].len == SIZE_MAX)
			goto fail;
	}
	l->view = *v;
	l->view.id = l->str[0];
	l->view.client_addr = l->str[1];
	l->view.client_name = l->str[2];
	l->view.helo = l->str[3];
	l->view.sender = l->str[4];
	l->view.rcpt = l->str[5];
	l->view.recipients = (const char *)l->recipients.data;
	l->view.recipients_len = l->recipients.len;
	l->view.macro = view_macro;
	l->view.each_macro = view_each_macro;
	l->view.each_child = view_each_child;
	l->view.each_header = view_each_header;
	l->view.each_verdict = view_each_verdict;
	l->view.dns = NULL;
	l->view.arg = l;
	return l;
fail:
	for (i = 0; i < NPAIRS; i++)
		if (l->pairs[i].len == SIZE_MAX)
			l->pairs[i].len = 0;
	lookup_free(l);
	return NULL;
}

void
lookup_free(struct lookup *l)
{
	size_t	i;

	if (l == NULL)
		return;
	for (i = 0; i < 6; i++)
		free(l->str[i]);
	mbuf_free(&l->recipients);
	for (i = 0; i < NPAIRS; i++)
		mbuf_free(&l->pairs[i]);
	free(l);
}

/* Queue l for a thread.  -1: the queue is full (or stopped); l is not. */
int
lookup_submit(struct lookup_queue *q, struct lookup *l)
{
	int	rc = -1;

	pthread_mutex_lock(&q->mtx);
	if (!q->stop && q->nqueued < q->max) {
		l->state = LOOKUP_QUEUED;
		TAILQ_INSERT_TAIL(&q->queued, l, entry);
		q->nqueued++;
		pthread_cond_signal(&q->cv);
		rc = 0;
	}
	pthread_mutex_unlock(&q->mtx);
	return rc;
}

/*
 * A thread: the next lookup to run, waiting for one if wait; NULL once
 * the queue is stopped (or, without wait, when none is queued).
 */
struct lookup *
lookup_take(struct lookup_queue *q, int wait)
{
	struct lookup	*l;

	pthread_mutex_lock(&q->mtx);
	while (wait && !q->stop && TAILQ_EMPTY(&q->queued))
		pthread_cond_wait(&q->cv, &q->mtx);
	if (q->stop || (l = TAILQ_FIRST(&q->queued)) == NULL) {
		pthread_mutex_unlock(&q->mtx);
		return NULL;
	}
	TAILQ_REMOVE(&q->queued, l, entry);
	q->nqueued--;
	q->running++;
	l->state = LOOKUP_RUNNING;
	pthread_mutex_unlock(&q->mtx);
	return l;
}

/* A thread: l's answer, for the loop. */
void
lookup_answer(struct lookup_queue *q, struct lookup *l, int result)
{
	char	c = 'a';

	pthread_mutex_lock(&q->mtx);
	l->result = result;
	l->state = LOOKUP_DONE;
	TAILQ_INSERT_TAIL(&q->done, l, entry);
	q->running--;
	pthread_cond_broadcast(&q->cv);		/* lookup_stop() waits */
	pthread_mutex_unlock(&q->mtx);
	/* Full pipe: the loop has bytes to wake it already. */
	if (q->notify != -1)
		(void)write(q->notify, &c, 1);
}

/*
 * The owner gives l up: freed now when no thread has it, else when it
 * comes back (lookup_collect()).  The owner must not touch l again.
 */
void
lookup_cancel(struct lookup_queue *q, struct lookup *l)
{
	pthread_mutex_lock(&q->mtx);
	l->owner = NULL;
	if (l->state == LOOKUP_QUEUED) {
		TAILQ_REMOVE(&q->queued, l, entry);
		q->nqueued--;
		pthread_mutex_unlock(&q->mtx);
		lookup_free(l);
		return;
	}
	pthread_mutex_unlock(&q->mtx);
}

/*
 * The loop: each answer in to its owner, fn(owner, l), then freed;
 * those given up freed unseen.  One at a time, so that what fn does
 * may cancel others still on the list.  How many were handed on.
 */
size_t
lookup_collect(struct lookup_queue *q, void (*fn)(void *, struct lookup *))
{
	struct lookup	*l;
	size_t		 n = 0;

	for (;;) {
		pthread_mutex_lock(&q->mtx);
		if ((l = TAILQ_FIRST(&q->done)) != NULL)
			TAILQ_REMOVE(&q->done, l, entry);
		pthread_mutex_unlock(&q->mtx);
		if (l == NULL)
			return n;
		if (l->owner != NULL && fn != NULL) {
			fn(l->owner, l);
			n++;
		}
		lookup_free(l);
	}
}

/*
 * The worker's threads.
 */
static struct lookup_queue	 queue;
static int			 started;
static int			 pipefd[2] = { -1, -1 };
static struct event		*notify_ev;
static void			(*route)(void *, struct lookup *);
static struct conf		*wconf;
static size_t			 nopen;		/* threads with their state */
/* Each thread's copy of the conditions; [0]'s stages are taken. */
static struct cond		*copies[CONF_LUA_THREADS_MAX];
static struct log_rate		 refusals;

/*
 * One thread: a Lua state of its own, its scripts run in it with a
 * copy of the conditions (each state has its own references), then
 * lookups until the queue stops.
 */
static void *
lookup_thread(void *arg)
{
	struct cond	*mine;
	struct lookup	*l;
	size_t		 n = wconf->nconds;
	int		 result;

	if ((mine = calloc(n, sizeof(*mine))) == NULL)
		fatal("%s: calloc", __func__);
	memcpy(mine, wconf->conds, n * sizeof(*mine));
	luacond_quiet((uintptr_t)arg != 0);
	luacond_open(mine, n);
	pthread_mutex_lock(&queue.mtx);
	copies[(uintptr_t)arg] = mine;
	nopen++;
	pthread_cond_broadcast(&queue.cv);
	pthread_mutex_unlock(&queue.mtx);
	while ((l = lookup_take(&queue, 1)) != NULL) {
		result = luacond_eval(&mine[l->cond], &l->view);
		lookup_answer(&queue, l, result);
	}
	/*
	 * Stopped: idle until exit().  The state is left to it, as the
	 * worker's was (closing it dlclose()s the scripts' modules: see
	 * HACKING), and the thread with it, which keeps it reachable.
	 */
	pthread_mutex_lock(&queue.mtx);
	for (;;)
		pthread_cond_wait(&queue.cv, &queue.mtx);
}

/* The loop: answers are in. */
static void
notified(evutil_socket_t fd, short what, void *arg)
{
	char	buf[64];

	(void)what;
	(void)arg;
	while (read(fd, buf, sizeof(buf)) > 0)
		;
	lookup_collect(&queue, route);
}

/*
 * After the worker dropped its privileges: its lookup threads, when
 * conf has lua conditions, each once through every script; the
 * conditions' stages are the first thread's (what its scripts
 * defined).  Answers go to fn(owner, lookup) from the loop.
 */
void
lookup_start(struct event_base *base, struct conf *conf,
    void (*fn)(void *, struct lookup *))
{
	pthread_attr_t	 attr;
	pthread_t	 t;
	sigset_t	 all, old;
	size_t		 i, n;

	if (!cond_any(conf->conds, conf->nconds, COND_LUA))
		return;
	n = conf->lua_threads < 1 ? 1 : (size_t)conf->lua_threads;
	if (n > CONF_LUA_THREADS_MAX)
		n = CONF_LUA_THREADS_MAX;
	wconf = conf;
	route = fn;
	if (pipe2(pipefd, O_NONBLOCK | O_CLOEXEC) == -1)
		fatal("%s: pipe", __func__);
	lookup_queue_init(&queue, conf->lua_queue < 1 ? 1 :
	    (size_t)conf->lua_queue, pipefd[1]);
	if ((notify_ev = event_new(base, pipefd[0], EV_READ | EV_PERSIST,
	    notified, NULL)) == NULL || event_add(notify_ev, NULL) == -1)
		fatalx("%s: cannot watch the lookup threads", __func__);
	/* Signals are the loop's: the threads block them all. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	if (pthread_attr_init(&attr) != 0 ||
	    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED) != 0)
		fatalx("%s: pthread_attr", __func__);
	for (i = 0; i < n; i++)
		if ((errno = pthread_create(&t, &attr, lookup_thread,
		    (void *)(uintptr_t)i)) != 0)
			fatal("cannot start lookup thread %zu", i);
	pthread_attr_destroy(&attr);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_mutex_lock(&queue.mtx);
	while (nopen < n)
		pthread_cond_wait(&queue.cv, &queue.mtx);
	for (i = 0; i < conf->nconds; i++)
		if (conf->conds[i].type == COND_LUA)
			conf->conds[i].stages = copies[0][i].stages;
	pthread_mutex_unlock(&queue.mtx);
	started = 1;
}

/*
 * A session's lookup, queued: 0, or -1 when refused (no threads, or
 * lua_queue lookups wait already: counted, logged at a bounded rate);
 * the caller keeps a refused one.
 */
int
lookup_ask(struct lookup *l)
{
	if (!started)
		return -1;
	if (lookup_submit(&queue, l) == 0)
		return 0;
	stats_add(&stats->lookups_refused, 1);
	if (log_rate(&refusals, "lookups"))
		log_warnx("session %s: condition \"%s\": %d lookups wait "
		    "already (lua_queue): condition_error decides",
		    l->view.id, wconf->conds[l->cond].name, wconf->lua_queue);
	return -1;
}

/* Its owner gives l up (lookup_cancel()). */
void
lookup_drop(struct lookup *l)
{
	lookup_cancel(&queue, l);
}

/*
 * At the worker's end: the threads stop taking lookups; those running
 * are given the longest time_limit and a second.  0, or -1 when some
 * still run (a C function that blocks): they may still read the
 * configuration, which must then be left to exit().
 */
int
lookup_stop(void)
{
	struct timespec	until;
	int		wait_ms = 0, rc = 0;
	size_t		i;

	if (!started)
		return 0;
	for (i = 0; i < wconf->nconds; i++)
		if (wconf->conds[i].type == COND_LUA &&
		    wconf->conds[i].time_limit > wait_ms)
			wait_ms = wconf->conds[i].time_limit;
	wait_ms += 1000;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += wait_ms / 1000;
	until.tv_nsec += (long)(wait_ms % 1000) * 1000000;
	if (until.tv_nsec >= 1000000000) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&queue.mtx);
	queue.stop = 1;
	pthread_cond_broadcast(&queue.cv);
	while (queue.running > 0 && rc == 0)
		rc = pthread_cond_timedwait(&queue.cv, &queue.mtx, &until);
	rc = queue.running > 0 ? -1 : 0;
	pthread_mutex_unlock(&queue.mtx);
	lookup_collect(&queue, NULL);
	event_free(notify_ev);
	started = 0;
	if (rc == -1)
		log_warnx("a lookup thread is still busy: left to exit");
	return rc;
}
