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
 * milterd.c: main and the master process.
 *
 * The master (root) reads the configuration, opens the listening
 * sockets (removing a stale unix socket, refusing one in use), writes
 * the pid file (whose lock keeps a second milterd out), and forks the
 * launcher (root) and the workers (which drop to the configured user).
 * Each worker gets a socketpair to the launcher; the master keeps the
 * launcher's end, hands it to the running launcher, and a restarted
 * launcher inherits them all.
 *
 * Supervision: a worker or launcher that dies is logged with its status
 * and started again, after a pause if it died within a second of its
 * start.  SIGHUP re-reads the file: on any error the running
 * configuration stays (each error logged as file:line); on success a
 * new generation of workers starts on the same listening sockets (new
 * ones only if `listen' changed).  Only once every new worker has said
 * it is ready is the launcher restarted with the new configuration,
 * and the old workers stop accepting and exit when their sessions are
 * done; a new worker that fails at start (or is not ready within
 * READY_TIMEOUT) ends the reload instead: the new generation is
 * stopped, not restarted, and the old one goes on serving.  The first
 * generation likewise: milterd does not start without it.
 * SIGTERM/SIGINT stop the workers the same way, then remove the unix
 * sockets and the pid file.
 */

#include <sys/types.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <libutil.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "detect.h"
#include "health.h"
#include "live.h"
#include "trace.h"
#include "log.h"
#include "migrate.h"
#include "milterd.h"
#include "sdnotify.h"
#include "stats.h"
#include "util.h"

#define MAX_WORKERS	256
#define MAX_SLOTS	STATS_MAX_WORKERS	/* two generations at once */
#define RESPAWN_PAUSE	1	/* seconds, after a process died young */
#define KILL_MARGIN	10	/* seconds past grace_time before SIGKILL */
#define READY_TIMEOUT	10	/* seconds for a new generation to be ready */

/* The master's and a new process's ends of what joins them. */
struct ends {
	int	chan[2];	/* a channel: [0] the master's, -1: none */
	int	ready[2];	/* a ready pipe: [0] the master reads it */
};

struct slot {
	pid_t		 pid;		/* 0: free */
	int		 gen;
	int		 num;		/* worker number, from 1 */
	time_t		 started;
	int		 lfd;		/* launcher's end of its channel */
	int		 rfd;		/* its ready channel, until it spoke */
	struct event	*respawn;
};

static struct conf		*conf;
static const char		*conf_path;
static struct event_base	*mbase;
static int			 listen_fds[CONF_MAX_LISTEN];
static struct slot		 slots[MAX_SLOTS];
static int			 generation;
static int			 pidfd = -1;	/* locked */
static int			 stopping;
static int			 log_stderr;	/* -d */
static pid_t			 launcher_pid;
static time_t			 launcher_started;
static int			 launcher_ctl = -1;	/* master's end */
static int			 launcher_restart;	/* killed on purpose */
static struct event		*launcher_respawn;
static struct event		*sig_events[5];
static struct event		*killall;
static int			 ready_fd = -1;	/* daemon: tell the parent */
static time_t			 started;
static time_t			 loaded;	/* the configuration */

__dead static void usage(void);
static int	open_listeners(const struct conf *, const struct conf *,
		    int *, char *, size_t);
static void	close_listeners(const struct conf *, const int *,
		    const struct conf *);
static int	nworkers_of(const struct conf *);
static void	spawn_worker(struct slot *, int, struct conf *, int *, int,
		    int);
static void	start_generation(struct conf *, int *, int);
static int	await_generation(int, int, char *, size_t);
static void	abort_generation(int);
static void	spawn_launcher(void);
static pid_t	fork_process(const char *, int, int, int, struct ends *);
static void	ends_close(struct ends *);
static void	child_setup(int);
static void	respawn_cb(evutil_socket_t, short, void *);
static void	launcher_respawn_cb(evutil_socket_t, short, void *);
static void	reap(pid_t, int);
static void	sigchld_cb(evutil_socket_t, short, void *);
static void	sigterm_cb(evutil_socket_t, short, void *);
static void	sighup_cb(evutil_socket_t, short, void *);
static int	reload(FILE *);
static void	log_conf(const struct conf *);
static struct conf *load_logged(FILE *);
static void	reload_error(FILE *, const char *, ...)
		    __attribute__((__format__ (printf, 2, 3)));
static void	sigusr1_cb(evutil_socket_t, short, void *);
static void	killall_cb(evutil_socket_t, short, void *);
static void	stop_generation(int);
static int	workers_alive(void);
static void	cleanup(void);
static void	check_root(void);
static void	assign_stats(struct conf *);
static int	print_detected(const char *);
static int	daemonize(void);
static void	raise_nofile(void);
static int	spool_prepare(const struct conf *, char *, size_t);

extern const char	*__progname;

__dead static void
usage(void)
{
	fprintf(stderr, "usage: %s [-dFnv] [-f file]\n"
	    "       %s -D [-f file] [-R root]\n"
	    "       %s -M mtafile [-f file]\n", __progname, __progname,
	    __progname);
	exit(1);
}

/*
 * The listening sockets of c into fds: those the running configuration
 * old already has (the same socket, however spelt) are reused, the
 * others taken from systemd (socket activation) or opened.
 */
static int
open_listeners(const struct conf *c, const struct conf *old, int *fds,
    char *err, size_t errlen)
{
	size_t	i, j, k;
	int	reused;

	for (i = 0; i < c->nlisten; i++) {
		fds[i] = -1;
		for (j = 0; old != NULL && j < old->nlisten; j++)
			if (sockspec_same(&old->listen[j], &c->listen[i]))
				fds[i] = listen_fds[j];
		if (fds[i] != -1 ||
		    (fds[i] = sd_inherited(&c->listen[i])) != -1)
			continue;
		if ((fds[i] = sockspec_listen(&c->listen[i], c->socket_mode,
		    c->socket_group, err, errlen)) == -1) {
			/* Close only what was opened here, at any index. */
			for (k = 0; k < i; k++) {
				reused = sd_inherited(&c->listen[k]) != -1;
				for (j = 0; old != NULL && j < old->nlisten; j++)
					reused |= fds[k] == listen_fds[j];
				if (!reused)
					close(fds[k]);
			}
			return -1;
		}
	}
	return 0;
}

/*
 * Close the sockets of c that keep (if given) does not use too, but
 * those of systemd: it keeps them open for the next start.
 */
static void
close_listeners(const struct conf *c, const int *fds, const struct conf *keep)
{
	const struct sockaddr_un	*sun;
	size_t				 i, j;
	int				 kept;

	for (i = 0; i < c->nlisten; i++) {
		kept = 0;
		for (j = 0; keep != NULL && j < keep->nlisten; j++)
			kept |= sockspec_same(&keep->listen[j],
			    &c->listen[i]);
		if (kept || sd_inherited(&c->listen[i]) != -1)
			continue;
		close(fds[i]);
		if (sockspec_is_unix(&c->listen[i])) {
			sun = (const struct sockaddr_un *)&c->listen[i].ss;
			unlink(sun->sun_path);
		}
	}
}

static int
nworkers_of(const struct conf *c)
{
	long	n = c->workers > 0 ? c->workers :
	    sysconf(_SC_NPROCESSORS_ONLN);

	return n < 1 ? 1 : n > MAX_WORKERS ? MAX_WORKERS : (int)n;
}

/*
 * In any forked process: the master's loop and channels are not its
 * (but for the launcher, whose channels to the workers are its own).
 */
static void
child_setup(int keep_channels)
{
	int	i;

	/*
	 * Reinit first: the epoll instance is shared with the master, and
	 * freeing the base without it would remove the master's events.
	 */
	event_reinit(mbase);
	event_base_free(mbase);
	if (pidfd != -1)
		close(pidfd);
	pidfd = -1;
	for (i = 0; i < MAX_SLOTS; i++) {
		if (slots[i].lfd != -1 && !keep_channels)
			close(slots[i].lfd);
		if (slots[i].rfd != -1)
			close(slots[i].rfd);
	}
	if (launcher_ctl != -1)
		close(launcher_ctl);
	if (ready_fd != -1)
		close(ready_fd);
	control_forget();
}

/*
 * The fork of a worker or the launcher: a channel to it (SOCK_SEQPACKET;
 * need_chan: none, no process) and, with ready, a ready pipe.  In the
 * child the master's ends are closed and child_setup(keep_channels)
 * done; in the master the child's ends are closed.  The pid, 0 in the
 * child, or -1 with everything closed.
 */
static pid_t
fork_process(const char *what, int need_chan, int ready, int keep_channels,
    struct ends *e)
{
	pid_t	pid;

	e->ready[0] = e->ready[1] = -1;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, e->chan) ==
	    -1) {
		log_warn("%s: socketpair", what);
		e->chan[0] = e->chan[1] = -1;
		if (need_chan)
			return -1;
	}
	if (ready && pipe2(e->ready, O_CLOEXEC) == -1) {
		/* Not started: a generation waits for it. */
		log_warn("%s: pipe", what);
		e->ready[0] = e->ready[1] = -1;
		ends_close(e);
		return -1;
	}
	switch (pid = fork()) {
	case -1:
		log_warn("%s: fork", what);
		ends_close(e);
		return -1;
	case 0:
		if (e->chan[0] != -1)
			close(e->chan[0]);
		if (e->ready[0] != -1)
			close(e->ready[0]);
		child_setup(keep_channels);
		return 0;
	}
	if (e->chan[1] != -1)
		close(e->chan[1]);
	if (e->ready[1] != -1)
		close(e->ready[1]);
	return pid;
}

static void
ends_close(struct ends *e)
{
	int	i;

	for (i = 0; i < 2; i++) {
		if (e->chan[i] != -1)
			close(e->chan[i]);
		if (e->ready[i] != -1)
			close(e->ready[i]);
	}
}

/*
 * Worker num of generation gen, with configuration c on sockets fds;
 * with ready, a ready channel to be awaited (sl->rfd).
 */
static void
spawn_worker(struct slot *sl, int num, struct conf *c, int *fds, int gen,
    int ready)
{
	struct stats_worker	*w = &stats->workers[sl - slots];
	struct ends		 e;
	char			 what[32];
	pid_t			 pid;

	w->num = num;
	w->gen = gen;
	w->started = time(NULL);
	w->served = w->open = 0;
	snprintf(what, sizeof(what), "worker %d", num);
	/* Without a channel it cannot ask for launches, but serves. */
	if ((pid = fork_process(what, 0, ready, 0, &e)) == -1)
		return;
	if (pid == 0) {
		stats_self = w;
		worker_main(c, fds, c->nlisten, num, e.chan[1], e.ready[1]);
		/* NOTREACHED */
	}
	sl->pid = w->pid = pid;
	sl->gen = gen;
	sl->num = num;
	sl->started = time(NULL);
	sl->rfd = e.ready[0];
	sl->lfd = e.chan[0];
	if (sl->lfd != -1 && launcher_ctl != -1 &&
	    fd_send(launcher_ctl, sl->lfd, "w", 1) == -1)
		log_warn("worker %d: cannot hand its channel to the launcher",
		    num);
	log_debug("worker %d: pid %ld, generation %d", num, (long)pid, gen);
}

/* Workers 1..n of generation gen, in free slots, to be awaited. */
static void
start_generation(struct conf *c, int *fds, int gen)
{
	int	i, num = 1, n = nworkers_of(c);

	for (i = 0; i < MAX_SLOTS && num <= n; i++)
		if (slots[i].pid == 0)
			spawn_worker(&slots[i], num++, c, fds, gen, 1);
	if (num <= n)
		log_warnx("only %d of %d workers started", num - 1, n);
}

/*
 * Until the want workers of generation gen have said they are ready: 0, or -1
 * and why not (the first failure).  The master waits here, blocking,
 * at most READY_TIMEOUT: the workers before serve meanwhile, and a
 * worker starts in milliseconds.  What a worker says is untrusted: one
 * read of a bounded size, made printable.
 */
static int
await_generation(int gen, int want, char *why, size_t whylen)
{
	struct pollfd	 pfd[MAX_SLOTS];
	struct slot	*who[MAX_SLOTS];
	struct timespec	 now, end;
	char		 buf[LOG_FATAL_MAX], text[LOG_FATAL_MAX];
	ssize_t		 len;
	int		 i, n, left;

	clock_gettime(CLOCK_MONOTONIC, &end);
	end.tv_sec += READY_TIMEOUT;
	for (;;) {
		for (n = 0, i = 0; i < MAX_SLOTS; i++)
			if (slots[i].pid != 0 && slots[i].gen == gen &&
			    slots[i].rfd != -1) {
				pfd[n].fd = slots[i].rfd;
				pfd[n].events = POLLIN;
				who[n++] = &slots[i];
			}
		if (n == 0)
			break;
		clock_gettime(CLOCK_MONOTONIC, &now);
		left = (int)((end.tv_sec - now.tv_sec) * 1000 +
		    (end.tv_nsec - now.tv_nsec) / 1000000);
		if (left <= 0) {
			snprintf(why, whylen, "worker %d not ready within %d "
			    "seconds", who[0]->num, READY_TIMEOUT);
			return -1;
		}
		if (poll(pfd, n, left) == -1) {
			if (errno == EINTR)
				continue;
			snprintf(why, whylen, "poll: %s", strerror(errno));
			return -1;
		}
		for (i = 0; i < n; i++) {
			if (pfd[i].revents == 0)
				continue;
			len = read(pfd[i].fd, buf, sizeof(buf));
			close(who[i]->rfd);
			who[i]->rfd = -1;
			if (len == 1 && buf[0] == 'R')
				continue;
			if (len > 1 && buf[0] == 'E') {
				str_printable(text, sizeof(text), buf + 1,
				    (size_t)len - 1);
				snprintf(why, whylen, "worker %d: %s",
				    who[i]->num, text);
			} else
				snprintf(why, whylen, "worker %d ended before "
				    "it was ready", who[i]->num);
			return -1;
		}
	}
	/* Every worker that failed to start (pipe, fork) counts too. */
	for (n = 0, i = 0; i < MAX_SLOTS; i++)
		n += slots[i].pid != 0 && slots[i].gen == gen;
	if (n < want) {
		snprintf(why, whylen, "only %d of %d workers started", n, want);
		return -1;
	}
	return 0;
}

/*
 * A generation that did not start: its workers stopped and never
 * started again (reap() starts only the current generation's).  One
 * that is ready may serve sessions already, and finishes them.
 */
static void
abort_generation(int gen)
{
	int	i;

	for (i = 0; i < MAX_SLOTS; i++) {
		if (slots[i].pid == 0 || slots[i].gen != gen)
			continue;
		kill(slots[i].pid, slots[i].rfd == -1 ? SIGTERM : SIGKILL);
		if (slots[i].rfd != -1)
			close(slots[i].rfd);
		slots[i].rfd = -1;
		slots[i].gen = -1;
		stats->workers[i].gen = -1;
	}
}

static void
spawn_launcher(void)
{
	struct ends	e;
	int		fds[MAX_SLOTS];
	size_t		n = 0;
	int		i;
	pid_t		pid;

	for (i = 0; i < MAX_SLOTS; i++)
		if (slots[i].pid != 0 && slots[i].lfd != -1)
			fds[n++] = slots[i].lfd;
	if ((pid = fork_process("launcher", 1, 0, 1, &e)) == -1)
		return;
	if (pid == 0) {
		for (i = 0; i < (int)conf->nlisten; i++)
			close(listen_fds[i]);
		launcher_main(conf, conf_path, e.chan[1], fds, n);
		/* NOTREACHED */
	}
	if (launcher_ctl != -1)
		close(launcher_ctl);
	launcher_restart = 0;
	launcher_ctl = e.chan[0];
	launcher_pid = pid;
	launcher_started = time(NULL);
	log_debug("launcher: pid %ld", (long)pid);
}

static void
respawn_cb(evutil_socket_t fd, short what, void *arg)
{
	struct slot	*sl = arg;

	(void)fd;
	(void)what;
	if (!stopping && sl->pid == 0 && sl->gen == generation)
		spawn_worker(sl, sl->num, conf, listen_fds, generation, 0);
}

static void
launcher_respawn_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	if (!stopping && launcher_pid == 0)
		spawn_launcher();
}

/* One child of the master has ended: log it, start another if due. */
static void
reap(pid_t pid, int status)
{
	struct timeval	 pause = { RESPAWN_PAUSE, 0 };
	struct slot	*sl = NULL;
	char		 how[64];
	int		 i, young;

	if (WIFSIGNALED(status))
		snprintf(how, sizeof(how), "killed by signal %d",
		    WTERMSIG(status));
	else
		snprintf(how, sizeof(how), "exited with status %d",
		    WEXITSTATUS(status));
	if (pid == launcher_pid) {
		launcher_pid = 0;
		if (stopping)
			return;
		if (!launcher_restart)
			log_warnx("launcher: pid %ld %s", (long)pid, how);
		if (!launcher_restart &&
		    time(NULL) - launcher_started < RESPAWN_PAUSE)
			evtimer_add(launcher_respawn, &pause);
		else
			spawn_launcher();
		return;
	}
	for (i = 0; i < MAX_SLOTS && sl == NULL; i++)
		if (slots[i].pid == pid)
			sl = &slots[i];
	if (sl == NULL)
		return;
	sl->pid = 0;
	/* Its open sessions are gone with it. */
	stats->workers[sl - slots].pid = 0;
	stats->workers[sl - slots].open = 0;
	if (sl->lfd != -1)
		close(sl->lfd);
	sl->lfd = -1;
	if (sl->rfd != -1)
		close(sl->rfd);
	sl->rfd = -1;
	young = time(NULL) - sl->started < RESPAWN_PAUSE;
	if (stopping || sl->gen != generation) {
		if (WIFSIGNALED(status) || WEXITSTATUS(status) != 0)
			log_warnx("worker %d: pid %ld %s", sl->num, (long)pid,
			    how);
		return;
	}
	if (WIFSIGNALED(status) || WEXITSTATUS(status) != 0)
		log_warnx("worker %d: pid %ld %s; starting another", sl->num,
		    (long)pid, how);
	else
		log_info("worker %d: pid %ld retired; starting another",
		    sl->num, (long)pid);
	/* A worker that dies young must not make a fork storm. */
	if (young)
		evtimer_add(sl->respawn, &pause);
	else
		spawn_worker(sl, sl->num, conf, listen_fds, generation, 0);
}

static int
workers_alive(void)
{
	int	i, n = 0;

	for (i = 0; i < MAX_SLOTS; i++)
		n += slots[i].pid != 0;
	return n;
}

static void
sigchld_cb(evutil_socket_t sig, short what, void *arg)
{
	pid_t	pid;
	int	status;

	(void)sig;
	(void)what;
	(void)arg;
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
		reap(pid, status);
	if (stopping && workers_alive() == 0)
		event_base_loopbreak(mbase);
}

/* Tell the workers of generations before gen to finish and exit. */
static void
stop_generation(int gen)
{
	int	i;

	for (i = 0; i < MAX_SLOTS; i++)
		if (slots[i].pid != 0 && slots[i].gen < gen)
			kill(slots[i].pid, SIGTERM);
}

static void
killall_cb(evutil_socket_t fd, short what, void *arg)
{
	int	i;

	(void)fd;
	(void)what;
	(void)arg;
	log_warnx("workers did not stop in time: killing them");
	for (i = 0; i < MAX_SLOTS; i++)
		if (slots[i].pid != 0)
			kill(slots[i].pid, SIGKILL);
}

static void
sigterm_cb(evutil_socket_t sig, short what, void *arg)
{
	struct timeval	grace = { conf->grace_time + KILL_MARGIN, 0 };

	(void)what;
	(void)arg;
	if (stopping)
		return;
	stopping = 1;
	log_info("%s: stopping", strsignal((int)sig));
	sd_state(SD_STOPPING, "stopping: workers finish their sessions");
	if (launcher_pid != 0)
		kill(launcher_pid, SIGTERM);
	stop_generation(generation + 1);
	if (workers_alive() == 0) {
		event_base_loopbreak(mbase);
		return;
	}
	evtimer_add(killall, &grace);
}

/*
 * Reload, between RELOADING=1 and READY=1 to systemd: the generation
 * serving at the end, new or old, is ready.
 */
int
master_reload(FILE *errs)
{
	int	rc;

	if (stopping) {
		reload_error(errs, "stopping: not reloading");
		return -1;
	}
	sd_state(SD_RELOADING, "reloading %s", conf_path);
	rc = reload(errs);
	sd_state(SD_READY, "%s: generation %d, %d workers, %zu milters",
	    rc == 0 ? "reloaded" : "reload failed", generation,
	    nworkers_of(conf), conf->nmilters);
	return rc;
}

/*
 * Reload: the new file must be wholly valid, name every socket systemd
 * passed, its new sockets must open and its workers must start, or
 * nothing changes.  Errors go to errs (NULL: the log).
 */
static int
reload(FILE *errs)
{
	struct conf	*nc;
	int		 fds[CONF_MAX_LISTEN];
	char		 err[512];

	log_info("reloading %s", conf_path);
	if ((nc = load_logged(errs)) == NULL) {
		reload_error(errs, "%s has errors, not reloading", conf_path);
		return -1;
	}
	if (sd_check_listen(nc, conf_path, err, sizeof(err)) == -1) {
		reload_error(errs, "%s; not reloading", err);
		conf_free(nc);
		return -1;
	}
	if (spool_prepare(nc, err, sizeof(err)) == -1 ||
	    control_prepare(nc, err, sizeof(err)) == -1) {
		reload_error(errs, "%s; not reloading", err);
		conf_free(nc);
		return -1;
	}
	if (open_listeners(nc, conf, fds, err, sizeof(err)) == -1) {
		reload_error(errs, "%s; not reloading", err);
		control_abort();
		conf_free(nc);
		return -1;
	}
	/* The new workers count under the new names from the start. */
	assign_stats(nc);
	/* They log as it says (the launcher goes on as it started). */
	log_conf(nc);
	start_generation(nc, fds, generation + 1);
	if (await_generation(generation + 1, nworkers_of(nc), err,
	    sizeof(err)) == -1) {
		log_conf(conf);
		abort_generation(generation + 1);
		close_listeners(nc, fds, conf);
		control_abort();
		conf_free(nc);
		reload_error(errs, "reload failed: %s; generation %d goes on "
		    "serving", err, generation);
		return -1;
	}
	if (strcmp(nc->pidfile, conf->pidfile) != 0)
		log_warnx("pidfile changed: takes effect at the next start");
	if (strcmp(nc->state_file, conf->state_file) != 0 ||
	    nc->history_hours != conf->history_hours)
		log_warnx("state_file or history_hours changed: takes effect "
		    "at the next start");
	control_commit(nc);
	close_listeners(conf, listen_fds, nc);
	memcpy(listen_fds, fds, sizeof(fds));
	stats_clear_overrides(stats);
	/* Listeners are numbered anew: each says its first again. */
	stats_once_reset(stats->unverifiable_said, STATS_MAX_LISTEN);
	conf_free(conf);
	conf = nc;
	loaded = time(NULL);
	generation++;
	stop_generation(generation);
	/*
	 * The launcher reads the new configuration itself and keeps what
	 * it knows of each milter (pids, back-off).  If it cannot be told,
	 * it is reaped and started again with the new configuration.
	 */
	if (launcher_pid != 0 && send(launcher_ctl, "r", 1, MSG_NOSIGNAL) !=
	    1) {
		log_warn("launcher: cannot tell it to reload; restarting it");
		launcher_restart = 1;
		kill(launcher_pid, SIGTERM);
	}
	log_info("reloaded: generation %d, %d workers, %zu milters",
	    generation, nworkers_of(conf), conf->nmilters);
	if (errs != NULL)
		fprintf(errs, "reloaded %s: generation %d, %d workers, %zu "
		    "milters\n", conf_path, generation, nworkers_of(conf),
		    conf->nmilters);
	return 0;
}

/*
 * The configuration file, its errors logged and, for milterctl, also
 * written to errs.
 */
static struct conf *
load_logged(FILE *errs)
{
	struct conf	*nc;
	char		*text = NULL, *line, *next;
	size_t		 len = 0;
	FILE		*mem;

	if (errs == NULL || (mem = open_memstream(&text, &len)) == NULL)
		return conf_load(conf_path, NULL);
	nc = conf_load(conf_path, mem);
	if (fclose(mem) == 0)
		for (line = text; *line != '\0'; line = next) {
			if ((next = strchr(line, '\n')) != NULL)
				*next++ = '\0';
			else
				next = line + strlen(line);
			log_warnx("%s", line);
			fprintf(errs, "%s\n", line);
		}
	free(text);
	return nc;
}

/* A reason not to reload, to the caller and to the log. */
static void
reload_error(FILE *errs, const char *fmt, ...)
{
	char	msg[600];
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_warnx("%s", msg);
	if (errs != NULL)
		fprintf(errs, "%s\n", msg);
}

/* log_facility, log_level and log_format of c, for what forks next. */
static void
log_conf(const struct conf *c)
{
	log_init(log_stderr, c->log_facility);
	log_setlevel(c->log_level);
	log_setformat(c->log_format);
}

static void
sighup_cb(evutil_socket_t sig, short what, void *arg)
{
	(void)sig;
	(void)what;
	(void)arg;
	log_info("SIGHUP");
	(void)master_reload(NULL);
}

void
master_info(struct master_info *mi)
{
	mi->conf = conf;
	mi->conf_path = conf_path;
	mi->started = started;
	mi->loaded = loaded;
	mi->generation = generation;
	mi->launcher = launcher_pid;
	mi->launcher_started = launcher_started;
}

/*
 * Each milter's counters, by name.  When the table is full, an entry
 * of a name no longer configured is given anew (its counts are lost).
 */
static void
assign_stats(struct conf *c)
{
	size_t	i, j, k;
	int	used;

	for (i = 0; i < c->nmilters; i++) {
		if ((c->milters[i].stats = stats_child(stats,
		    c->milters[i].name)) != NULL)
			continue;
		for (j = 0; j < STATS_MAX_CHILDREN; j++) {
			for (used = 0, k = 0; k < c->nmilters; k++)
				used |= strcmp(stats_child_name(j),
				    c->milters[k].name) == 0;
			if (!used)
				break;
		}
		log_warnx("counters of milter %s dropped for milter %s",
		    stats_child_name(j), c->milters[i].name);
		stats_child_forget(stats, j);
		c->milters[i].stats = stats_child(stats, c->milters[i].name);
	}
	/* Its addresses may have changed: each starts up (health.c). */
	for (i = 0; i < c->nmilters; i++) {
		for (j = 0; j < STATS_MAX_ADDRS; j++)
			health_reset(&c->milters[i].stats->health[j]);
		c->milters[i].stats->naddrs = (uint32_t)c->milters[i].nsock;
	}
}

static void
sigusr1_cb(evutil_socket_t sig, short what, void *arg)
{
	(void)sig;
	(void)what;
	(void)arg;
	/* Logs go to syslog (or stderr with -d): nothing to reopen. */
	log_info("SIGUSR1: no log file to reopen");
}

/*
 * spool_dir (inside the chroot, if any): made if missing, mode 0700 and
 * owned by the workers' user, so that no other local user can read the
 * spooled bodies or plant files there.  An existing one must be a
 * directory, not a link; the default must be that private directory.
 */
static int
spool_prepare(const struct conf *c, char *err, size_t len)
{
	struct passwd	*pw;
	struct group	*gr;
	struct stat	 st;
	char		 path[256];
	uid_t		 uid = geteuid();
	gid_t		 gid = getegid();
	int		 n;

	n = snprintf(path, sizeof(path), "%s%s", c->chroot != NULL ?
	    c->chroot : "", c->spool_dir);
	if (n < 0 || (size_t)n >= sizeof(path)) {
		snprintf(err, len, "spool_dir: longer than %zu bytes",
		    sizeof(path) - 1);
		return -1;
	}
	if (uid == 0 && (pw = getpwnam(c->user)) != NULL) {
		uid = pw->pw_uid;
		gid = pw->pw_gid;
		if (c->group != NULL && (gr = getgrnam(c->group)) != NULL)
			gid = gr->gr_gid;
	}
	if (lstat(path, &st) == -1) {
		if (errno != ENOENT || mkdir(path, 0700) == -1 ||
		    lchown(path, uid, gid) == -1) {
			snprintf(err, len, "spool_dir %s: cannot make it: %s "
			    "(make its parent directory, or set spool_dir)",
			    path, strerror(errno));
			return -1;
		}
		log_info("spool_dir %s: made, mode 0700, for the workers",
		    path);
		return 0;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(err, len, "spool_dir %s: not a directory: remove "
		    "it (milterd makes it), or set spool_dir", path);
		return -1;
	}
	if (strcmp(c->spool_dir, CONF_SPOOL_DIR) == 0 && (st.st_uid != uid ||
	    (st.st_mode & 077) != 0)) {
		snprintf(err, len, "spool_dir %s: owned by uid %lu, mode "
		    "%04o, not private to the workers' user (uid %lu): remove "
		    "it (milterd makes it)", path, (unsigned long)st.st_uid,
		    (unsigned int)(st.st_mode & 07777), (unsigned long)uid);
		return -1;
	}
	return 0;
}

/*
 * Descriptors: the soft limit raised to the hard one (each session
 * holds one per child and the MTA's), the figure logged with the
 * sessions a worker keeps open by it (worker_max_sessions()).
 */
static void
raise_nofile(void)
{
	struct rlimit	rl;
	rlim_t		was;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1) {
		log_warn("getrlimit");
		return;
	}
	was = rl.rlim_cur;
	if (rl.rlim_cur != rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) == -1) {
			log_warn("setrlimit: descriptor limit stays %llu",
			    (unsigned long long)was);
			rl.rlim_cur = was;
		}
	}
	log_info("descriptors: limit %llu%s, so at most %d sessions per "
	    "worker%s", (unsigned long long)rl.rlim_cur,
	    rl.rlim_cur != was ? " (raised)" : "",
	    worker_max_sessions(conf), conf->max_sessions > 0 ?
	    " (max_sessions)" : "");
}

/*
 * Go to the background.  Unlike daemon(3), the parent waits until the
 * child says it is up (pid file written, processes started), so that a
 * service manager finds the pid file when the command returns, and the
 * command fails if the daemon does.  Returns the child's end of the
 * pipe, to be written to once ready.
 */
static int
daemonize(void)
{
	int	p[2], fd;
	char	c;

	if (pipe(p) == -1)
		fatal("pipe");
	switch (fork()) {
	case -1:
		fatal("fork");
	case 0:
		break;
	default:
		close(p[1]);
		_exit(read(p[0], &c, 1) == 1 ? 0 : 1);
	}
	close(p[0]);
	if (setsid() == -1)
		fatal("setsid");
	if (chdir("/") == -1)
		fatal("chdir /");
	if ((fd = open("/dev/null", O_RDWR)) != -1) {
		dup2(fd, STDIN_FILENO);
		dup2(fd, STDOUT_FILENO);
		dup2(fd, STDERR_FILENO);
		if (fd > STDERR_FILENO)
			close(fd);
	}
	return p[1];
}

/*
 * milterd -D: the milters found on the host (under root, else the
 * configuration's detect_root, else /), but those the configuration
 * file names already, as milter sections on the standard output.
 */
static int
print_detected(const char *root)
{
	struct conf			*c;
	const struct milter_conf	*mc;
	struct detected			*d;
	size_t				 n, i, kept = 0;
	FILE				*devnull;

	/* The file is optional here: its errors are for milterd -n. */
	devnull = fopen("/dev/null", "w");
	c = access(conf_path, R_OK) == 0 ? conf_load(conf_path, devnull) :
	    NULL;
	if (devnull != NULL)
		fclose(devnull);
	if (root == NULL)
		root = c != NULL ? c->detect_root : "/";
	if (detect_run(root, &d, &n, stderr) == -1) {
		fprintf(stderr, "%s: out of memory\n", __progname);
		conf_free(c);
		return 1;
	}
	for (i = 0; i < n; i++) {
		if (c != NULL && (mc = conf_milter(c, d[i].name)) != NULL &&
		    mc->detected == NULL) {
			printf("# %s: configured in %s already\n", d[i].name,
			    conf_path);
			continue;
		}
		d[kept++] = d[i];
	}
	detect_print(stdout, d, kept);
	free(d);
	conf_free(c);
	return fflush(stdout) == EOF;
}

/*
 * Without root there is nothing to drop, and that is said once.  The
 * users and groups were checked at load (conf.c).
 */
static void
check_root(void)
{
	if (geteuid() != 0)
		log_warnx("not running as root: workers keep uid %ld and "
		    "the launcher cannot switch users", (long)geteuid());
}

static void
cleanup(void)
{
	size_t	i;

	close_listeners(conf, listen_fds, NULL);
	control_stop(conf);
	pidfile_drop(conf->pidfile, pidfd);
	for (i = 0; i < sizeof(sig_events) / sizeof(sig_events[0]); i++)
		event_free(sig_events[i]);
	for (i = 0; i < MAX_SLOTS; i++)
		if (slots[i].respawn != NULL)
			event_free(slots[i].respawn);
	event_free(launcher_respawn);
	event_free(killall);
	event_base_free(mbase);
	if (launcher_ctl != -1)
		close(launcher_ctl);
	conf_free(conf);
}

int
main(int argc, char *argv[])
{
	static const struct {
		int	sig;
		void	(*cb)(evutil_socket_t, short, void *);
	} sigs[] = {
		{ SIGTERM, sigterm_cb }, { SIGINT, sigterm_cb },
		{ SIGCHLD, sigchld_cb }, { SIGHUP, sighup_cb },
		{ SIGUSR1, sigusr1_cb },
	};
	char		 err[512];
	pid_t		 otherpid;
	size_t		 i;
	const char	*root = NULL, *migrate = NULL;
	int		 ch, debug = 0, check = 0, verbose = 0, detect = 0;
	int		 foreground = 0;

	setproctitle_init(argc, argv, environ);
	conf_path = CONF_FILE;
	while ((ch = getopt(argc, argv, "dDf:FM:nR:v")) != -1) {
		switch (ch) {
		case 'd':
			debug = 1;
			break;
		case 'D':
			detect = 1;
			break;
		case 'R':
			root = optarg;
			break;
		case 'f':
			conf_path = optarg;
			break;
		case 'F':
			foreground = 1;
			break;
		case 'M':
			migrate = optarg;
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
	if (optind != argc || (root != NULL && !detect))
		usage();
	log_init(1, LOG_MAIL);
	if (detect)
		exit(print_detected(root));
	if (migrate != NULL)
		exit(migrate_main(migrate, conf_path));
	log_setverbose(verbose);
	if ((conf = conf_load(conf_path, stderr)) == NULL) {
		fprintf(stderr, "%s: configuration has errors\n", conf_path);
		exit(1);
	}
	if (check) {
		fprintf(stderr, "configuration OK\n");
		exit(0);
	}
	log_procinit("master");
	check_root();
	if (sd_adopt(err, sizeof(err)) == -1 ||
	    sd_check_listen(conf, conf_path, err, sizeof(err)) == -1)
		fatalx("%s", err);
	if (sd_ninherited() > 0)
		log_info("%zu listening sockets from systemd", sd_ninherited());
	if (spool_prepare(conf, err, sizeof(err)) == -1)
		fatalx("%s", err);
	if ((pidfd = pidfile_lock(conf->pidfile, &otherpid, err,
	    sizeof(err))) == -1)
		fatalx("%s", err);
	if (open_listeners(conf, NULL, listen_fds, err, sizeof(err)) == -1) {
		pidfile_drop(conf->pidfile, pidfd);
		fatalx("%s", err);
	}
	if (control_prepare(conf, err, sizeof(err)) == -1) {
		pidfile_drop(conf->pidfile, pidfd);
		close_listeners(conf, listen_fds, NULL);
		fatalx("%s", err);
	}
	stats = stats_map();
	/* For milterctl sessions and trace (live.c, trace.c). */
	if ((live = map_shared(sizeof(*live))) == NULL ||
	    (traces = map_shared(sizeof(*traces))) == NULL)
		fatal("mmap");
	assign_stats(conf);
	started = loaded = time(NULL);
	if (!debug && !foreground)
		ready_fd = daemonize();
	log_stderr = debug;
	log_conf(conf);
	if (pidfile_put(pidfd) == -1) {
		log_warn("pid file %s", conf->pidfile);
		pidfile_drop(conf->pidfile, pidfd);
		close_listeners(conf, listen_fds, NULL);
		exit(1);
	}
	raise_nofile();
	setproctitle("master");
	signal(SIGPIPE, SIG_IGN);

	if ((mbase = event_base_new()) == NULL)
		fatalx("event_base_new failed");
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		if ((sig_events[i] = evsignal_new(mbase, sigs[i].sig,
		    sigs[i].cb, NULL)) == NULL ||
		    evsignal_add(sig_events[i], NULL) == -1)
			fatalx("cannot catch signal %d", sigs[i].sig);
	for (i = 0; i < MAX_SLOTS; i++) {
		slots[i].lfd = slots[i].rfd = -1;
		if ((slots[i].respawn = evtimer_new(mbase, respawn_cb,
		    &slots[i])) == NULL)
			fatalx("evtimer_new failed");
	}
	if ((launcher_respawn = evtimer_new(mbase, launcher_respawn_cb,
	    NULL)) == NULL || (killall = evtimer_new(mbase, killall_cb,
	    NULL)) == NULL)
		fatalx("evtimer_new failed");
	control_start(mbase, conf);
	control_commit(conf);
	spawn_launcher();
	start_generation(conf, listen_fds, generation);
	if (await_generation(generation, nworkers_of(conf), err,
	    sizeof(err)) == -1) {
		log_warnx("not started: %s", err);
		stopping = 1;
		abort_generation(generation);
		if (launcher_pid != 0)
			kill(launcher_pid, SIGTERM);
		cleanup();
		exit(1);
	}
	log_info("started: %d workers, %zu milters, listening on %s%s",
	    nworkers_of(conf), conf->nmilters, conf->listen[0].text,
	    conf->nlisten > 1 ? " and more" : "");
	sd_state(SD_READY, "generation %d, %d workers, %zu milters",
	    generation, nworkers_of(conf), conf->nmilters);
	if (ready_fd != -1) {
		/* The pid file is written: the parent may go. */
		(void)write(ready_fd, "1", 1);
		close(ready_fd);
		ready_fd = -1;
	}
	event_base_dispatch(mbase);
	cleanup();
	log_info("stopped");
	return 0;
}
