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
 * worker.c: a worker process.  It accepts MTA connections on the
 * listening sockets it shares with the other workers and runs every
 * session in one libevent loop.  SIGTERM stops accepting and lets the
 * open sessions finish, up to a grace time; a worker whose master is
 * gone does the same.
 */

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "milterd.h"
#include "util.h"

#define WORKER_GRACE	60	/* seconds for open sessions at stop */

static TAILQ_HEAD(, session)	 sessions = TAILQ_HEAD_INITIALIZER(sessions);
static struct event_base	*wbase;
static struct event		*listen_ev[CONF_MAX_LISTEN];
static size_t			 nlisten;
static const struct conf	*wconf;
static uint64_t			 next_id;
static int			 worker_idx;
static pid_t			 master_pid;
static int			 stopping;

static void	accept_cb(evutil_socket_t, short, void *);
static void	stop_cb(evutil_socket_t, short, void *);
static void	watch_master(evutil_socket_t, short, void *);
static void	worker_stop(const char *);

static void
accept_cb(evutil_socket_t lfd, short what, void *arg)
{
	struct session	*s;
	char		 id[32];
	int		 fd;

	(void)what;
	fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd == -1) {
		/* Another worker took it, or the MTA gave up. */
		if (errno != EAGAIN && errno != EWOULDBLOCK &&
		    errno != ECONNABORTED && errno != EINTR)
			log_warn("accept");
		return;
	}
	if (!sockspec_is_unix(arg))
		socket_set_nodelay(fd);
	snprintf(id, sizeof(id), "%d.%llu", worker_idx,
	    (unsigned long long)++next_id);
	if ((s = session_new(wbase, wconf, fd, id)) == NULL) {
		log_warn("session: cannot start one");
		return;
	}
	TAILQ_INSERT_TAIL(&sessions, s, entry);
}

void
worker_session_done(struct session *s)
{
	TAILQ_REMOVE(&sessions, s, entry);
	session_free(s);
	if (stopping && TAILQ_EMPTY(&sessions))
		event_base_loopbreak(wbase);
}

static void
worker_stop(const char *why)
{
	struct timeval	grace = { WORKER_GRACE, 0 };
	size_t		i;

	if (stopping)
		return;
	stopping = 1;
	log_debug("stopping (%s)", why);
	for (i = 0; i < nlisten; i++)
		event_del(listen_ev[i]);
	if (TAILQ_EMPTY(&sessions))
		event_base_loopbreak(wbase);
	else
		event_base_loopexit(wbase, &grace);
}

static void
stop_cb(evutil_socket_t sig, short what, void *arg)
{
	(void)sig;
	(void)what;
	(void)arg;
	worker_stop("SIGTERM");
}

static void
watch_master(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	if (getppid() != master_pid)
		worker_stop("master gone");
}

/*
 * Run worker number idx on the listening sockets; never returns.
 * Session ids are "worker.sequence", unique among a master's workers.
 */
__dead void
worker_main(const struct conf *conf, int *fds, size_t nfds, int idx)
{
	struct timeval	 sec = { 1, 0 };
	struct event	*sigterm, *watch;
	char		 title[32];
	size_t		 i;

	snprintf(title, sizeof(title), "worker %d", idx);
	setproctitle("%s", title);
	log_procinit(title);
	master_pid = getppid();
	wconf = conf;
	worker_idx = idx;
	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	if ((wbase = event_base_new()) == NULL)
		fatalx("event_base_new failed");
	for (i = 0; i < nfds; i++) {
		listen_ev[i] = event_new(wbase, fds[i], EV_READ | EV_PERSIST,
		    accept_cb, (void *)(uintptr_t)&conf->listen[i]);
		if (listen_ev[i] == NULL || event_add(listen_ev[i], NULL) == -1)
			fatalx("cannot watch listening socket %zu", i);
	}
	nlisten = nfds;
	if ((sigterm = evsignal_new(wbase, SIGTERM, stop_cb, NULL)) == NULL ||
	    evsignal_add(sigterm, NULL) == -1)
		fatalx("cannot catch SIGTERM");
	if ((watch = event_new(wbase, -1, EV_PERSIST, watch_master, NULL)) ==
	    NULL || event_add(watch, &sec) == -1)
		fatalx("cannot watch the master");
	log_debug("started");
	event_base_dispatch(wbase);
	if (!TAILQ_EMPTY(&sessions))
		log_warnx("grace time over: %s sessions cut",
		    TAILQ_NEXT(TAILQ_FIRST(&sessions), entry) ? "several" :
		    "one");
	while (!TAILQ_EMPTY(&sessions))
		worker_session_done(TAILQ_FIRST(&sessions));
	for (i = 0; i < nlisten; i++)
		event_free(listen_ev[i]);
	event_free(sigterm);
	event_free(watch);
	event_base_free(wbase);
	exit(0);
}
