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
 * launcher.c: the root process that starts child milters for the
 * workers.
 *
 * A worker whose connection to a child is refused sends the child's
 * name over its socketpair, nothing else.  The launcher looks the name
 * up in its own copy of the configuration and refuses anything it does
 * not find there as is: a malformed or over-long request, an unknown
 * name, a child without command or user, a user of uid 0 unless
 * allow_root_command says so.  It starts at most one process per child
 * at a time and at most one every LAUNCH_INTERVAL seconds (a command
 * that forks into the background and exits 0 is no longer running, yet
 * must not be started again at every request), backs off after a start
 * that failed, and logs each start and how the process ended.  At a
 * reload the master tells it ("r" on its channel) and it reads the
 * configuration itself, keeping what it knows of each milter by name
 * (the running pid, the last start, the back-off).  The command line is split into words
 * (quotes group, no shell) and executed with a fixed environment, as
 * the child's user with that user's groups, in a new session with no
 * descriptor but /dev/null on 0, 1 and 2.  Any failure before exec ends
 * the forked process with status 127: nothing runs as root by mistake.
 */

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "launch.h"
#include "milterd.h"

#define LAUNCH_BACKOFF	30	/* seconds after a start that failed */
#define LAUNCH_INTERVAL	10	/* seconds between two starts (the reply) */
#define LAUNCH_ARGS	64

struct launched {
	pid_t	pid;		/* running, or 0 */
	time_t	started_at;	/* last start */
	time_t	failed_at;	/* last start that failed */
};

static struct conf		*lconf;
static const char		*lpath;	/* the configuration file */
static struct launched		*state;
static struct event_base	*lbase;

static void	request_cb(evutil_socket_t, short, void *);
static void	control_cb(evutil_socket_t, short, void *);
static void	sigchld_cb(evutil_socket_t, short, void *);
static void	watch_fd(int);
static void	reload(void);
__dead static void exec_child(const struct milter_conf *, uid_t, gid_t);

/*
 * Check a request against our own configuration: the child it names,
 * or NULL and why not.
 */
const struct milter_conf *
launcher_check(const struct conf *conf, const void *req, size_t len,
    uid_t *uid, gid_t *gid, char *why, size_t whylen)
{
	const struct milter_conf	*mc;
	const char			*name;
	struct passwd			*pw;

	if ((name = launch_request_name(req, len)) == NULL) {
		snprintf(why, whylen, "malformed request");
		return NULL;
	}
	if ((mc = conf_milter(conf, name)) == NULL) {
		snprintf(why, whylen, "no milter of that name");
		return NULL;
	}
	if (mc->command == NULL) {
		snprintf(why, whylen, "milter %s has no command", mc->name);
		return NULL;
	}
	/* Checked at load too: a configuration the launcher refuses. */
	if (mc->user == NULL) {
		snprintf(why, whylen, "milter %s has a command but no user",
		    mc->name);
		return NULL;
	}
	if ((pw = getpwnam(mc->user)) == NULL) {
		snprintf(why, whylen, "user %s: no such user", mc->user);
		return NULL;
	}
	if (pw->pw_uid == 0 && !conf->allow_root_command) {
		snprintf(why, whylen, "user %s is root and allow_root_command "
		    "is false", mc->user);
		return NULL;
	}
	*uid = pw->pw_uid;
	*gid = pw->pw_gid;
	return mc;
}

/* In the forked process: become the child's user, exec; 127 on failure. */
__dead static void
exec_child(const struct milter_conf *mc, uid_t uid, gid_t gid)
{
	static char	*envp[] = { "PATH=/usr/sbin:/usr/bin:/sbin:/bin",
	    "HOME=/", NULL };
	char		 buf[4096], *argv[LAUNCH_ARGS], err[256];
	int		 fd, sig;

	setsid();
	for (sig = 1; sig < NSIG; sig++)
		signal(sig, SIG_DFL);
	if ((fd = open("/dev/null", O_RDWR)) == -1 || dup2(fd, 0) == -1 ||
	    dup2(fd, 1) == -1 || dup2(fd, 2) == -1)
		_exit(127);
	closefrom(3);
	if (chdir("/") == -1 ||
	    proc_drop(uid, gid, mc->user, NULL, err, sizeof(err)) == -1 ||
	    split_words(mc->command, buf, sizeof(buf), argv,
	    LAUNCH_ARGS) == -1)
		_exit(127);
	execve(argv[0], argv, envp);
	_exit(127);
}

static void
request_cb(evutil_socket_t fd, short what, void *arg)
{
	struct event			*ev = arg;
	const struct milter_conf	*mc;
	struct launched			*st;
	/* Larger than a request: a longer one shows as such. */
	char				 buf[1024], why[256];
	const char			*name;
	uid_t				 uid;
	gid_t				 gid;
	ssize_t				 n;
	pid_t				 pid;

	(void)what;
	if ((n = recv(fd, buf, sizeof(buf), 0)) <= 0) {
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			return;
		/* The worker is gone. */
		event_free(ev);
		close(fd);
		return;
	}
	if ((mc = launcher_check(lconf, buf, (size_t)n, &uid, &gid, why,
	    sizeof(why))) == NULL) {
		log_warnx("refused a request from a worker: %s", why);
		name = launch_request_name(buf, (size_t)n);
		launch_reply_send(fd, LAUNCH_REFUSED, name != NULL ? name : "",
		    why);
		return;
	}
	st = &state[mc - lconf->milters];
	if (st->pid != 0) {
		launch_reply_send(fd, LAUNCH_INFLIGHT, mc->name,
		    "already started");
		return;
	}
	if (st->failed_at != 0 && time(NULL) - st->failed_at < LAUNCH_BACKOFF) {
		launch_reply_send(fd, LAUNCH_LATER, mc->name,
		    "backing off after a failed start");
		return;
	}
	if (st->started_at != 0 &&
	    time(NULL) - st->started_at < LAUNCH_INTERVAL) {
		launch_reply_send(fd, LAUNCH_LATER, mc->name,
		    "started less than 10 seconds ago");
		return;
	}
	switch (pid = fork()) {
	case -1:
		log_warn("milter %s: fork", mc->name);
		launch_reply_send(fd, LAUNCH_LATER, mc->name, "fork failed");
		return;
	case 0:
		exec_child(mc, uid, gid);
		/* NOTREACHED */
	}
	st->pid = pid;
	st->started_at = time(NULL);
	log_info("milter %s: started \"%s\" as %s, pid %ld", mc->name,
	    mc->command, mc->user, (long)pid);
	launch_reply_send(fd, LAUNCH_STARTED, mc->name, "started");
}

static void
sigchld_cb(evutil_socket_t sig, short what, void *arg)
{
	pid_t	pid;
	size_t	i;
	int	status;

	(void)sig;
	(void)what;
	(void)arg;
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (i = 0; i < lconf->nmilters && state[i].pid != pid; i++)
			;
		if (i == lconf->nmilters)
			continue;
		state[i].pid = 0;
		if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
			/* A daemon that forked into the background. */
			log_info("milter %s: pid %ld exited 0",
			    lconf->milters[i].name, (long)pid);
			continue;
		}
		state[i].failed_at = time(NULL);
		if (WIFSIGNALED(status))
			log_warnx("milter %s: pid %ld killed by signal %d",
			    lconf->milters[i].name, (long)pid,
			    WTERMSIG(status));
		else
			log_warnx("milter %s: pid %ld exited with status %d%s",
			    lconf->milters[i].name, (long)pid,
			    WEXITSTATUS(status), WEXITSTATUS(status) == 127 ?
			    " (could not be executed)" : "");
	}
}

static void
watch_fd(int fd)
{
	struct event	*ev;

	ev = event_new(lbase, fd, EV_READ | EV_PERSIST, request_cb,
	    event_self_cbarg());
	if (ev == NULL || event_add(ev, NULL) == -1)
		fatalx("cannot watch a worker channel");
}

/*
 * After the master's reload: the configuration read again, what is
 * known of each milter kept by name.  The master has just loaded the
 * same file; if it no longer loads (changed in between), the previous
 * configuration stays.  Pids of milters no longer configured are still
 * reaped (and ignored) by sigchld_cb().
 */
static void
reload(void)
{
	struct launched	*ns;
	struct conf	*nc;
	size_t		 i, j;

	if ((nc = conf_load(lpath, NULL)) == NULL) {
		log_warnx("%s does not load now: the launcher keeps the "
		    "previous configuration", lpath);
		return;
	}
	if ((ns = calloc(nc->nmilters + 1, sizeof(*ns))) == NULL) {
		log_warn("%s: calloc: the launcher keeps the previous "
		    "configuration", __func__);
		conf_free(nc);
		return;
	}
	for (i = 0; i < nc->nmilters; i++)
		for (j = 0; j < lconf->nmilters; j++)
			if (strcmp(nc->milters[i].name,
			    lconf->milters[j].name) == 0)
				ns[i] = state[j];
	free(state);
	conf_free(lconf);
	state = ns;
	lconf = nc;
	log_debug("launcher: reloaded, %zu milters", nc->nmilters);
}

/*
 * The master hands over the channel of each new worker ("w" and a
 * descriptor), and says "r" after a reload.
 */
static void
control_cb(evutil_socket_t fd, short what, void *arg)
{
	char	c;
	int	wfd;

	(void)what;
	(void)arg;
	if (fd_recv(fd, &wfd, &c, 1) <= 0)
		exit(0);		/* the master is gone */
	if (wfd != -1)
		watch_fd(wfd);
	else if (c == 'r')
		reload();
}

/*
 * Run the launcher: conf, read from path, is its own (freed at a
 * reload); ctl is the master's channel, fds the workers' ends so far.
 * Never returns.
 */
__dead void
launcher_main(struct conf *conf, const char *path, int ctl, const int *fds,
    size_t nfds)
{
	struct event	*ev;
	size_t		 i;

	setproctitle("launcher");
	log_procinit("launcher");
	lconf = conf;
	lpath = path;
	if ((state = calloc(conf->nmilters + 1, sizeof(*state))) == NULL)
		fatal("%s: calloc", __func__);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	if ((lbase = event_base_new()) == NULL)
		fatalx("event_base_new failed");
	for (i = 0; i < nfds; i++)
		watch_fd(fds[i]);
	if ((ev = event_new(lbase, ctl, EV_READ | EV_PERSIST, control_cb,
	    NULL)) == NULL || event_add(ev, NULL) == -1)
		fatalx("cannot watch the master");
	if ((ev = evsignal_new(lbase, SIGCHLD, sigchld_cb, NULL)) == NULL ||
	    evsignal_add(ev, NULL) == -1)
		fatalx("cannot catch SIGCHLD");
	event_base_dispatch(lbase);
	exit(0);
}
