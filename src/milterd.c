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
 * milterd.c: main and the master process.  The master reads the
 * configuration, opens the listening sockets (removing a stale unix
 * socket, refusing one in use), writes the pid file (whose lock keeps a
 * second milterd out), forks the workers and supervises them: a worker
 * that dies is logged with its status and respawned, after a pause if
 * it died young.  SIGTERM or SIGINT stops the workers, which finish
 * their sessions, then removes the unix sockets and the pid file.
 */

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <errno.h>
#include <grp.h>
#include <libutil.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "milterd.h"
#include "util.h"

#define MAX_WORKERS	256
#define RESPAWN_PAUSE	1	/* seconds, after a worker died young */
#define STOP_GRACE	70	/* seconds before SIGKILL at stop */

struct worker_slot {
	pid_t		pid;
	time_t		started;
	struct event	*respawn;
};

static struct conf		*conf;
static struct event_base	*mbase;
static int			 listen_fds[CONF_MAX_LISTEN];
static struct worker_slot	 slots[MAX_WORKERS];
static int			 nworkers;
static struct pidfh		*pfh;
static int			 stopping;
static struct event		*sig_events[3];
static struct event		*killall;

__dead static void usage(void);
static int	open_listener(const struct sockspec *);
static void	unlink_stale(const char *);
static void	spawn_worker(int);
static void	respawn_cb(evutil_socket_t, short, void *);
static void	sigchld_cb(evutil_socket_t, short, void *);
static void	sigterm_cb(evutil_socket_t, short, void *);
static void	killall_cb(evutil_socket_t, short, void *);
static void	cleanup(void);

extern const char	*__progname;

__dead static void
usage(void)
{
	fprintf(stderr, "usage: %s [-dnv] [-f file]\n", __progname);
	exit(1);
}

/* A unix socket path left by a dead milterd is removed; a live one not. */
static void
unlink_stale(const char *path)
{
	struct sockspec	sp;
	struct stat	st;
	char		err[128];
	int		fd;

	if (lstat(path, &st) == -1)
		return;
	if (!S_ISSOCK(st.st_mode))
		fatalx("%s exists and is not a socket", path);
	if (sockspec_parse(path, &sp, err, sizeof(err)) == -1)
		fatalx("%s: %s", path, err);
	if ((fd = sockspec_connect(&sp, 0)) != -1)
		fatalx("%s is in use: is another milterd running?", path);
	if (unlink(path) == -1)
		fatal("unlink %s", path);
}

static int
open_listener(const struct sockspec *sp)
{
	const struct sockaddr_un	*sun;
	struct group			*gr;
	mode_t				 old;
	int				 fd, on = 1;

	fd = socket(sp->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (fd == -1)
		fatal("%s: socket", sp->text);
	if (!sockspec_is_unix(sp)) {
		if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on,
		    sizeof(on)) == -1)
			fatal("%s: SO_REUSEADDR", sp->text);
		if (bind(fd, (const struct sockaddr *)&sp->ss, sp->sslen) == -1)
			fatal("%s: bind", sp->text);
	} else {
		sun = (const struct sockaddr_un *)&sp->ss;
		unlink_stale(sun->sun_path);
		/* No moment where the socket is open to all. */
		old = umask(0177);
		if (bind(fd, (const struct sockaddr *)&sp->ss, sp->sslen) == -1)
			fatal("%s: bind", sp->text);
		umask(old);
		if (chmod(sun->sun_path, conf->socket_mode) == -1)
			fatal("%s: chmod", sp->text);
		if (conf->socket_group != NULL) {
			if ((gr = getgrnam(conf->socket_group)) == NULL)
				fatalx("socket_group %s: no such group",
				    conf->socket_group);
			if (chown(sun->sun_path, (uid_t)-1, gr->gr_gid) == -1)
				fatal("%s: chown", sp->text);
		}
	}
	if (listen(fd, 128) == -1)
		fatal("%s: listen", sp->text);
	return fd;
}

static void
spawn_worker(int i)
{
	pid_t	pid;

	switch (pid = fork()) {
	case -1:
		log_warn("fork worker %d", i + 1);
		return;
	case 0:
		/*
		 * The worker runs its own loop.  Reinit first: the epoll
		 * instance is shared with the master, and freeing the base
		 * without it would remove the master's events too.
		 */
		event_reinit(mbase);
		event_base_free(mbase);
		pidfile_close(pfh);
		worker_main(conf, listen_fds, conf->nlisten, i + 1);
		/* NOTREACHED */
	default:
		slots[i].pid = pid;
		slots[i].started = time(NULL);
		log_debug("worker %d: pid %ld", i + 1, (long)pid);
	}
}

static void
respawn_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	if (!stopping)
		spawn_worker((int)(intptr_t)arg);
}

static void
sigchld_cb(evutil_socket_t sig, short what, void *arg)
{
	struct timeval	 pause = { RESPAWN_PAUSE, 0 };
	pid_t		 pid;
	int		 status, i, alive = 0;

	(void)sig;
	(void)what;
	(void)arg;
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (i = 0; i < nworkers && slots[i].pid != pid; i++)
			;
		if (i == nworkers)
			continue;
		slots[i].pid = 0;
		if (WIFSIGNALED(status))
			log_warnx("worker %d: pid %ld killed by signal %d", i + 1,
			    (long)pid, WTERMSIG(status));
		else if (!stopping || WEXITSTATUS(status) != 0)
			log_warnx("worker %d: pid %ld exited with status %d",
			    i + 1, (long)pid, WEXITSTATUS(status));
		if (stopping)
			continue;
		/* A worker that dies young must not make a fork storm. */
		if (time(NULL) - slots[i].started < RESPAWN_PAUSE)
			evtimer_add(slots[i].respawn, &pause);
		else
			spawn_worker(i);
	}
	for (i = 0; i < nworkers; i++)
		alive += slots[i].pid != 0;
	if (stopping && alive == 0)
		event_base_loopbreak(mbase);
}

static void
killall_cb(evutil_socket_t fd, short what, void *arg)
{
	int	i;

	(void)fd;
	(void)what;
	(void)arg;
	log_warnx("workers did not stop in time: killing them");
	for (i = 0; i < nworkers; i++)
		if (slots[i].pid != 0)
			kill(slots[i].pid, SIGKILL);
}

static void
sigterm_cb(evutil_socket_t sig, short what, void *arg)
{
	struct timeval	 grace = { STOP_GRACE, 0 };
	int		 i, alive = 0;

	(void)what;
	(void)arg;
	if (stopping)
		return;
	stopping = 1;
	log_info("%s: stopping", strsignal((int)sig));
	for (i = 0; i < nworkers; i++) {
		if (slots[i].pid != 0) {
			kill(slots[i].pid, SIGTERM);
			alive++;
		}
	}
	if (alive == 0) {
		event_base_loopbreak(mbase);
		return;
	}
	if ((killall = evtimer_new(mbase, killall_cb, NULL)) != NULL)
		evtimer_add(killall, &grace);
}

static void
cleanup(void)
{
	const struct sockaddr_un	*sun;
	size_t				 i;

	for (i = 0; i < conf->nlisten; i++) {
		if (!sockspec_is_unix(&conf->listen[i]))
			continue;
		sun = (const struct sockaddr_un *)&conf->listen[i].ss;
		unlink(sun->sun_path);
	}
	pidfile_remove(pfh);
	for (i = 0; i < sizeof(sig_events) / sizeof(sig_events[0]); i++)
		event_free(sig_events[i]);
	for (i = 0; i < (size_t)nworkers; i++)
		event_free(slots[i].respawn);
	if (killall != NULL)
		event_free(killall);
	event_base_free(mbase);
	conf_free(conf);
}

int
main(int argc, char *argv[])
{
	const char	*path = CONF_FILE;
	pid_t		 otherpid;
	size_t		 i;
	int		 ch, debug = 0, check = 0, verbose = 0;
	static const int sigs[] = { SIGTERM, SIGINT };

	setproctitle_init(argc, argv, environ);
	while ((ch = getopt(argc, argv, "df:nv")) != -1) {
		switch (ch) {
		case 'd':
			debug = 1;
			break;
		case 'f':
			path = optarg;
			break;
		case 'n':
			check = 1;
			break;
		case 'v':
			verbose++;
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	log_init(1, LOG_MAIL);
	log_setverbose(verbose);
	if ((conf = conf_load(path, stderr)) == NULL) {
		fprintf(stderr, "%s: configuration has errors\n", path);
		exit(1);
	}
	if (check) {
		fprintf(stderr, "configuration OK\n");
		exit(0);
	}
	log_init(debug, LOG_MAIL);
	log_procinit("master");
	pfh = pidfile_open(conf->pidfile, 0644, &otherpid);
	if (pfh == NULL) {
		if (errno == EEXIST)
			fatalx("already running, pid %ld", (long)otherpid);
		fatal("pid file %s", conf->pidfile);
	}
	for (i = 0; i < conf->nlisten; i++)
		listen_fds[i] = open_listener(&conf->listen[i]);
	if (!debug && daemon(0, 0) == -1)
		fatal("daemon");
	pidfile_write(pfh);
	setproctitle("master");
	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_IGN);

	nworkers = conf->workers > 0 ? conf->workers :
	    (int)sysconf(_SC_NPROCESSORS_ONLN);
	if (nworkers < 1)
		nworkers = 1;
	if (nworkers > MAX_WORKERS)
		nworkers = MAX_WORKERS;
	if ((mbase = event_base_new()) == NULL)
		fatalx("event_base_new failed");
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		if ((sig_events[i] = evsignal_new(mbase, sigs[i], sigterm_cb,
		    NULL)) == NULL || evsignal_add(sig_events[i], NULL) == -1)
			fatalx("cannot catch signal %d", sigs[i]);
	if ((sig_events[2] = evsignal_new(mbase, SIGCHLD, sigchld_cb,
	    NULL)) == NULL || evsignal_add(sig_events[2], NULL) == -1)
		fatalx("cannot catch SIGCHLD");
	for (i = 0; i < (size_t)nworkers; i++) {
		slots[i].respawn = evtimer_new(mbase, respawn_cb,
		    (void *)(intptr_t)i);
		spawn_worker((int)i);
	}
	log_info("started: %d workers, %zu milters, listening on %s%s",
	    nworkers, conf->nmilters, conf->listen[0].text,
	    conf->nlisten > 1 ? " and more" : "");
	event_base_dispatch(mbase);
	cleanup();
	log_info("stopped");
	return 0;
}
