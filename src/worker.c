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
 * session in one libevent loop, as the configured unprivileged user.
 * SIGTERM stops accepting and lets the open sessions finish, up to
 * grace_time; so does a worker whose master is gone, or one that has
 * served max_sessions_per_worker sessions (the master starts another).
 *
 * A new worker tells the master on its ready channel once it serves
 * ("R"), or why it could not start (fatal() writes "E" and the reason
 * there): a reload replaces the old generation only when every new
 * worker is ready.
 *
 * A child milter that refuses connections may be started by the
 * launcher: launch() asks for it by name, at most once per
 * launch_wait per milter; a refusal is remembered until the worker
 * ends, so that sessions stop waiting for that milter at once.
 */

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dns.h"
#include "launch.h"
#include "live.h"
#include "log.h"
#include "lookup.h"
#include "milterd.h"
#include "pool.h"
#include "stats.h"
#include "session.h"
#include "util.h"

static TAILQ_HEAD(, session)	 sessions = TAILQ_HEAD_INITIALIZER(sessions);
static struct event_base	*wbase;
static struct event		*listen_ev[CONF_MAX_LISTEN];
static size_t			 nlisten;
static const struct conf	*wconf;
static uint64_t			 next_id;
static pid_t			 master_pid;
static long			 self_pid;	/* for session ids */
static int			 stopping;
static int			 launcher_fd = -1;
static time_t			*launch_sent;	/* per milter */
static char			(*launch_refusal)[128];	/* per milter */
static int			 max_sessions;	/* open at once */
static int			 nopen;
static int			 listening;	/* listen_ev[] armed */
static int			 starved;	/* out of descriptors, said */
static struct event		*accept_again;	/* after a starved accept */

static void	accept_cb(evutil_socket_t, short, void *);
static void	accept_again_cb(evutil_socket_t, short, void *);
static void	listen_set(int);
static void	accept_starved(void);
static void	stop_cb(evutil_socket_t, short, void *);
static void	watch_master(evutil_socket_t, short, void *);
static void	worker_stop(const char *);
static void	launcher_cb(evutil_socket_t, short, void *);
static int	mta_is_local(int, const struct sockspec *,
		    const struct sockaddr_storage *);
static void	check_tick(evutil_socket_t, short, void *);
static int	launch(const struct milter_conf *);
static const char *launch_refused(const struct milter_conf *);
static void	session_done(struct session *);

static struct session_host	host = {
	{ launch, launch_refused },
	session_done,
	NULL,		/* its pool, once the loop is made */
};
static void	test_fault(void);

static void
accept_cb(evutil_socket_t lfd, short what, void *arg)
{
	struct session		*s;
	struct sockaddr_storage	 peer;
	socklen_t		 plen = sizeof(peer);
	char			 id[32];
	int			 fd;

	(void)what;
	/* The peer's address comes with it: no getpeername() later. */
	fd = accept4(lfd, (struct sockaddr *)&peer, &plen, SOCK_NONBLOCK |
	    SOCK_CLOEXEC);
	if (fd == -1) {
		if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
		    errno == ENOMEM) {
			accept_starved();
			return;
		}
		/* Another worker took it, or the MTA gave up. */
		if (errno != EAGAIN && errno != EWOULDBLOCK &&
		    errno != ECONNABORTED && errno != EINTR)
			log_warn("accept");
		return;
	}
	starved = 0;
	/* TCP_NODELAY: inherited from the listener (worker_main()). */
	snprintf(id, sizeof(id), "%ld.%llu", self_pid,
	    (unsigned long long)++next_id);
	if ((s = session_new(wbase, wconf, &host, fd, id, mta_is_local(fd,
	    arg, &peer))) == NULL) {
		log_warn("session: cannot start one");
		return;
	}
	s->listener = (size_t)((const struct sockspec *)arg - wconf->listen);
	TAILQ_INSERT_TAIL(&sessions, s, entry);
	stats_add(&stats_self->served, 1);
	stats_add(&stats_self->open, 1);
	/* The rest wait in the listen queue (or go to other workers). */
	if (++nopen >= max_sessions)
		listen_set(0);
	if (wconf->max_sessions_per_worker > 0 &&
	    next_id >= (uint64_t)wconf->max_sessions_per_worker)
		worker_stop("max_sessions_per_worker reached");
}

/*
 * Out of descriptors (or kernel memory) at accept: the connection
 * stays in the listen queue, and would make the event fire again at
 * once.  Stop accepting for a second; say it once until an accept
 * works again.
 */
static void
accept_starved(void)
{
	struct timeval	tv = { 1, 0 };

	if (!starved)
		log_warn("accept: not accepting for a second at a time "
		    "until it works again (%d sessions open)", nopen);
	starved = 1;
	listen_set(0);
	evtimer_add(accept_again, &tv);
}

static void
accept_again_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	if (nopen < max_sessions)
		listen_set(1);
}

/* Arm or disarm the listening sockets (never again once stopping). */
static void
listen_set(int on)
{
	size_t	i;

	if (stopping || listening == on)
		return;
	listening = on;
	for (i = 0; i < nlisten; i++)
		if (on)
			event_add(listen_ev[i], NULL);
		else
			event_del(listen_ev[i]);
}

/*
 * Sessions a worker keeps open: max_sessions, or what its descriptor
 * limit allows: each session holds one for the MTA, one per child and
 * up to two spool files; a quarter of the limit (at most 64) is kept
 * for the rest (listeners, pipes, the resolver, the logs).
 */
int
worker_max_sessions(const struct conf *conf)
{
	struct rlimit	rl;
	rlim_t		cur, reserve;
	long		n;

	if (conf->max_sessions > 0)
		return conf->max_sessions;
	if (getrlimit(RLIMIT_NOFILE, &rl) == -1 || rl.rlim_cur ==
	    RLIM_INFINITY)
		return 1 << 20;
	cur = rl.rlim_cur;
	reserve = cur / 4 < 64 ? cur / 4 : 64;
	n = (long)((cur - reserve) / (conf->nmilters + 3));
	return n < 1 ? 1 : n > (1 << 20) ? 1 << 20 : (int)n;
}

/*
 * Can this MTA's clients be looked up here: is it on this host (unix
 * socket, a loopback peer, or a peer with our own address)?  Said once
 * per worker when it is not.
 */
static int
mta_is_local(int fd, const struct sockspec *sp,
    const struct sockaddr_storage *peer)
{
	static int			 said;
	struct sockaddr_storage		 self;
	socklen_t			 slen = sizeof(self);
	const struct sockaddr_in	*p4 = (const struct sockaddr_in *)peer;
	const struct sockaddr_in6	*p6 = (const struct sockaddr_in6 *)peer;
	const struct sockaddr_in	*s4 = (struct sockaddr_in *)&self;
	const struct sockaddr_in6	*s6 = (struct sockaddr_in6 *)&self;

	if (sockspec_is_unix(sp) || !wconf->disconnect_check)
		return 1;
	/* Loopback needs no look at our own address. */
	if ((peer->ss_family == AF_INET && (ntohl(p4->sin_addr.s_addr) >>
	    24) == 127) || (peer->ss_family == AF_INET6 &&
	    IN6_IS_ADDR_LOOPBACK(&p6->sin6_addr)))
		return 1;
	if (getsockname(fd, (struct sockaddr *)&self, &slen) == -1)
		return 0;
	if (peer->ss_family == AF_INET &&
	    p4->sin_addr.s_addr == s4->sin_addr.s_addr)
		return 1;
	if (peer->ss_family == AF_INET6 && memcmp(&p6->sin6_addr,
	    &s6->sin6_addr, sizeof(p6->sin6_addr)) == 0)
		return 1;
	if (!said++)
		log_info("disconnect check: an MTA connects from another "
		    "host; its clients are not checked");
	return 0;
}

/* Every disconnect_check_interval: the sessions due for a look. */
static void
check_tick(evutil_socket_t fd, short what, void *arg)
{
	struct session	*s;
	uint64_t	 now = stats_now_us();

	(void)fd;
	(void)what;
	(void)arg;
	TAILQ_FOREACH(s, &sessions, entry)
		session_check_due(s, now);
}

/*
 * Ask the launcher to start a milter: 0 if asked (now or lately), -1
 * if there is no launcher, no command, or the launcher refused.
 */
static int
launch(const struct milter_conf *mc)
{
	size_t			 i = (size_t)(mc - wconf->milters);
	time_t			 now = time(NULL);

	if (launcher_fd == -1 || !mc->launchable ||
	    launch_refusal[i][0] != '\0')
		return -1;
	if (launch_sent[i] != 0 && now - launch_sent[i] < wconf->launch_wait)
		return 0;
	if (launch_request_send(launcher_fd, mc->name) == -1) {
		log_warn("milter %s: cannot ask the launcher", mc->name);
		return -1;
	}
	launch_sent[i] = now;
	log_info("milter %s: not reachable, asked the launcher to start it",
	    mc->name);
	return 0;
}

/* Why the launcher refused this milter, or NULL. */
static const char *
launch_refused(const struct milter_conf *mc)
{
	const char	*why = launch_refusal[mc - wconf->milters];

	return why[0] != '\0' ? why : NULL;
}

static void
launcher_cb(evutil_socket_t fd, short what, void *arg)
{
	struct launch_reply		 r;
	const struct milter_conf	*mc;
	ssize_t				 n;

	(void)what;
	if ((n = recv(fd, &r, sizeof(r), 0)) <= 0) {
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			return;
		/* The launcher is being restarted: no launches meanwhile. */
		event_free(arg);
		close(fd);
		launcher_fd = -1;
		return;
	}
	if (!launch_reply_valid(&r, (size_t)n)) {
		log_warnx("launcher: malformed reply");
		return;
	}
	if ((mc = conf_milter(wconf, r.name)) == NULL)
		return;
	if (r.status == LAUNCH_REFUSED) {
		strlcpy(launch_refusal[mc - wconf->milters], r.reason,
		    sizeof(launch_refusal[0]));
		log_warnx("milter %s: launcher refused: %s", r.name, r.reason);
	} else if (r.status == LAUNCH_LATER)
		/* Transient: asked again after launch_wait. */
		log_warnx("milter %s: launcher: %s", r.name, r.reason);
}

static void
session_done(struct session *s)
{
	TAILQ_REMOVE(&sessions, s, entry);
	session_free(s);
	stats_sub(&stats_self->open, 1);
	if (--nopen < max_sessions && !evtimer_pending(accept_again, NULL))
		listen_set(1);
	if (stopping && TAILQ_EMPTY(&sessions))
		event_base_loopbreak(wbase);
}

static void
worker_stop(const char *why)
{
	struct timeval	grace = { wconf->grace_time, 0 };
	size_t		i;

	if (stopping)
		return;
	stopping = 1;
	log_debug("stopping (%s)", why);
	/* Kept connections go with the old configuration (a reload). */
	pool_close(host.pool);
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
	/* For milterctl sessions (live.c): every second, as this. */
	live_publish(TAILQ_FIRST(&sessions));
}

/*
 * For the tests (documented in milterd(8)): with MILTERD_TEST_WORKER_FAULT
 * naming a file that exists, a worker fails at start with the file's
 * first line as its reason, as one would for a cause milterd cannot
 * check at load.
 */
static void
test_fault(void)
{
	const char	*path = getenv("MILTERD_TEST_WORKER_FAULT");
	char		 line[LOG_FATAL_MAX];
	FILE		*fp;

	if (path == NULL || (fp = fopen(path, "r")) == NULL)
		return;
	if (fgets(line, sizeof(line), fp) == NULL)
		line[0] = '\0';
	fclose(fp);
	line[strcspn(line, "\n")] = '\0';
	fatalx("%s", line);
}

/*
 * Run worker number idx on the listening sockets, lfd its channel to
 * the launcher, rfd its ready channel to the master (-1: none); never
 * returns.  Session ids are "pid.sequence".
 */
__dead void
worker_main(struct conf *conf, int *fds, size_t nfds, int idx, int lfd,
    int rfd)
{
	struct timeval	 sec = { 1, 0 };
	struct timeval	 tick = { conf->disconnect_check_interval, 0 };
	struct event	*sigterm, *watch, *launcher = NULL, *checker = NULL;
	char		 title[32];
	size_t		 i;
	int		 keep_conf;

	snprintf(title, sizeof(title), "worker %d", idx);
	setproctitle("%s", title);
	log_procinit(title);
	log_fatal_to(rfd);
	master_pid = getppid();
	self_pid = (long)getpid();
	conf_forget_commands(conf);
	if ((wbase = event_base_new()) == NULL)
		fatalx("event_base_new failed");
	if ((host.pool = pool_new(wbase)) == NULL)
		fatal("%s: pool_new", __func__);
	/* Before the chroot: the resolver reads /etc/resolv.conf. */
	if ((cond_any(conf->conds, conf->nconds, COND_DNSBL) ||
	    conf_has_names(conf)) && dns_open(wbase, conf->dns_servers,
	    conf->ndns_servers) == -1)
		log_warnx("no resolver: dnsbl conditions list no client, "
		    "children's host names keep the address of the load");
	test_fault();
	proc_drop_worker(conf);
	if (proc_forbid_listen() == -1 && errno != ENOSYS)
		fatal("cannot forbid listening sockets");
	/*
	 * Scripts run as the unprivileged user, in threads that inherit
	 * the seccomp filter (lookup.c).
	 */
	lookup_start(wbase, conf, apply_answered);
	/* A group is decided at its lua members' stages, known now. */
	cond_group_stages(conf->conds, conf->nconds);
	wconf = conf;
	launcher_fd = lfd;
	launch_sent = calloc(conf->nmilters + 1, sizeof(*launch_sent));
	launch_refusal = calloc(conf->nmilters + 1, sizeof(*launch_refusal));
	if (launch_sent == NULL || launch_refusal == NULL)
		fatal("%s: calloc", __func__);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGUSR1, SIG_IGN);
	if (lfd != -1 && ((launcher = event_new(wbase, lfd, EV_READ |
	    EV_PERSIST, launcher_cb, event_self_cbarg())) == NULL ||
	    event_add(launcher, NULL) == -1))
		fatalx("cannot watch the launcher channel");
	for (i = 0; i < nfds; i++) {
		/* Accepted connections inherit it (Linux): once, here. */
		if (!sockspec_is_unix(&conf->listen[i]))
			socket_set_nodelay(fds[i]);
		listen_ev[i] = event_new(wbase, fds[i], EV_READ | EV_PERSIST,
		    accept_cb, (void *)(uintptr_t)&conf->listen[i]);
		if (listen_ev[i] == NULL || event_add(listen_ev[i], NULL) == -1)
			fatalx("cannot watch listening socket %zu", i);
	}
	nlisten = nfds;
	listening = 1;
	max_sessions = worker_max_sessions(conf);
	if ((accept_again = evtimer_new(wbase, accept_again_cb, NULL)) ==
	    NULL)
		fatalx("evtimer_new failed");
	if ((sigterm = evsignal_new(wbase, SIGTERM, stop_cb, NULL)) == NULL ||
	    evsignal_add(sigterm, NULL) == -1)
		fatalx("cannot catch SIGTERM");
	if ((watch = event_new(wbase, -1, EV_PERSIST, watch_master, NULL)) ==
	    NULL || event_add(watch, &sec) == -1)
		fatalx("cannot watch the master");
	if (conf->disconnect_check && conncheck_open(wbase) == -1) {
		if (errno == ENOSYS && idx == 1)
			log_info("disconnect check: not supported on this "
			    "system");
		else if (errno != ENOSYS)
			log_warn("disconnect check: cannot ask the kernel");
	} else if (conf->disconnect_check && ((checker = event_new(wbase, -1,
	    EV_PERSIST, check_tick, NULL)) == NULL ||
	    event_add(checker, &tick) == -1))
		fatalx("cannot start the disconnect check");
	log_debug("started");
	if (rfd != -1) {
		/* The master may now retire the generation before. */
		log_fatal_to(-1);
		if (write(rfd, "R", 1) != 1)
			log_warn("cannot tell the master it is ready");
		close(rfd);
	}
	event_base_dispatch(wbase);
	if (!TAILQ_EMPTY(&sessions))
		log_warnx("grace time over: %s sessions cut",
		    TAILQ_NEXT(TAILQ_FIRST(&sessions), entry) ? "several" :
		    "one");
	while (!TAILQ_EMPTY(&sessions))
		session_done(TAILQ_FIRST(&sessions));
	pool_free(host.pool);
	host.pool = NULL;
	for (i = 0; i < nlisten; i++)
		event_free(listen_ev[i]);
	event_free(accept_again);
	event_free(sigterm);
	event_free(watch);
	if (checker != NULL)
		event_free(checker);
	conncheck_close();
	dns_close();
	/* Cancelled lookups free themselves from the loop. */
	event_base_loop(wbase, EVLOOP_NONBLOCK);
	/* A thread blocked in a script may still read the configuration. */
	keep_conf = lookup_stop() == -1;
	/*
	 * The Lua state is left to exit(): closing it would dlclose() the
	 * scripts' C modules, whose libraries' static memory (libldap's)
	 * would then show as leaked.
	 */
	if (launcher_fd != -1)
		event_free(launcher);
	event_base_free(wbase);
	free(launch_sent);
	free(launch_refusal);
	if (!keep_conf)
		conf_free(conf);
	exit(0);
}
