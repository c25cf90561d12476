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
 * sdnotify.c: the master under systemd.
 *
 * sd_state() tells the service manager READY=1 (Type=notify),
 * RELOADING=1 and STOPPING=1, with a STATUS= line; without NOTIFY_SOCKET
 * it does nothing.  sd_adopt() takes the listening sockets of socket
 * activation (LISTEN_FDS); they belong to systemd, so milterd serves
 * them for every `listen' entry naming the same address but never
 * closes nor unlinks them, and every one of them must be named by
 * `listen' (sd_check_listen(), at start and reload): a socket nobody
 * serves would make the MTA wait for its milter timeout on each
 * connection.
 *
 * Built without libsystemd (HAVE_SYSTEMD undefined: the BSDs), there is
 * nothing to notify, and LISTEN_FDS in the environment is an error
 * rather than sockets silently left unserved.
 */

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifdef HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "log.h"
#include "sdnotify.h"
#include "util.h"

#define SD_MAX_FDS	CONF_MAX_LISTEN

static struct inherited {
	struct sockspec	sp;
	int		fd;
} inherited[SD_MAX_FDS];
static size_t	ninherited;

#ifdef HAVE_SYSTEMD
static int	sd_describe(int, struct sockspec *);
#endif
static int	sd_same(const struct sockspec *, const struct sockspec *);

void
sd_state(enum sd_state st, const char *fmt, ...)
{
#ifdef HAVE_SYSTEMD
	struct timespec	 ts;
	char		 status[256], msg[400];
	const char	*what = "READY=1";
	va_list		 ap;
	int		 r;

	va_start(ap, fmt);
	vsnprintf(status, sizeof(status), fmt, ap);
	va_end(ap);
	switch (st) {
	case SD_READY:
		what = "READY=1";
		break;
	case SD_RELOADING:
		/* systemd 253 wants the time the reload began. */
		clock_gettime(CLOCK_MONOTONIC, &ts);
		snprintf(msg, sizeof(msg), "RELOADING=1\nMONOTONIC_USEC=%llu\n"
		    "STATUS=%s", (unsigned long long)ts.tv_sec * 1000000 +
		    (unsigned long long)ts.tv_nsec / 1000, status);
		what = NULL;
		break;
	case SD_STOPPING:
		what = "STOPPING=1";
		break;
	}
	if (what != NULL)
		snprintf(msg, sizeof(msg), "%s\nSTATUS=%s", what, status);
	/* 0: not under systemd; the service goes on either way. */
	if ((r = sd_notify(0, msg)) < 0)
		log_warnx("sd_notify: %s", strerror(-r));
#else
	(void)st;
	(void)fmt;
#endif
}

#ifdef HAVE_SYSTEMD
/*
 * The address fd listens on, its text spelt as a listen entry, so that
 * an error can say what to add.
 */
static int
sd_describe(int fd, struct sockspec *sp)
{
	const struct sockaddr_un	*sun;
	char				 host[INET6_ADDRSTRLEN], port[8];

	memset(sp, 0, sizeof(*sp));
	sp->sslen = sizeof(sp->ss);
	if (getsockname(fd, (struct sockaddr *)&sp->ss, &sp->sslen) == -1)
		return -1;
	switch (sp->ss.ss_family) {
	case AF_UNIX:
		sun = (const struct sockaddr_un *)&sp->ss;
		snprintf(sp->text, sizeof(sp->text), "unix:%s", sun->sun_path);
		return 0;
	case AF_INET:
	case AF_INET6:
		if (getnameinfo((const struct sockaddr *)&sp->ss, sp->sslen,
		    host, sizeof(host), port, sizeof(port),
		    NI_NUMERICHOST | NI_NUMERICSERV) != 0)
			return -1;
		snprintf(sp->text, sizeof(sp->text), "%s:%s@%s",
		    sp->ss.ss_family == AF_INET ? "inet" : "inet6", port, host);
		return 0;
	}
	return -1;
}
#endif

/*
 * The listening sockets systemd passed, if any: 0 (none is fine), or
 * -1 and why.  Each is made non-blocking and close-on-exec, as milterd's
 * own.  The master calls it once, before it forks.
 */
int
sd_adopt(char *err, size_t errlen)
{
#ifdef HAVE_SYSTEMD
	int	n, i, fd, fl;

	/* 1: unset LISTEN_*, so that no child takes them for its own. */
	if ((n = sd_listen_fds(1)) < 0) {
		snprintf(err, errlen, "LISTEN_FDS: %s", strerror(-n));
		return -1;
	}
	if (n > SD_MAX_FDS) {
		snprintf(err, errlen, "systemd passed %d sockets; at most %d "
		    "(the listen entries milterd takes)", n, SD_MAX_FDS);
		return -1;
	}
	for (i = 0; i < n; i++) {
		fd = SD_LISTEN_FDS_START + i;
		if (sd_is_socket(fd, AF_UNSPEC, SOCK_STREAM, 1) <= 0 ||
		    sd_describe(fd, &inherited[i].sp) == -1) {
			snprintf(err, errlen, "fd %d from systemd is not a "
			    "listening stream socket: in milterd.socket, use "
			    "ListenStream= only", fd);
			return -1;
		}
		if ((fl = fcntl(fd, F_GETFL)) == -1 ||
		    fcntl(fd, F_SETFL, fl | O_NONBLOCK) == -1 ||
		    fcntl(fd, F_SETFD, FD_CLOEXEC) == -1) {
			snprintf(err, errlen, "fd %d from systemd: %s", fd,
			    strerror(errno));
			return -1;
		}
		inherited[i].fd = fd;
		ninherited++;
	}
	return 0;
#else
	if (getenv("LISTEN_FDS") != NULL) {
		snprintf(err, errlen, "LISTEN_FDS is set (socket activation), "
		    "but this milterd was built without libsystemd: start it "
		    "without milterd.socket, or build it with HAVE_SYSTEMD=yes");
		return -1;
	}
	return 0;
#endif
}

/*
 * The same socket, where a unix socket may be named by another path to
 * the same file: systemd's /run/milterd/milterd.sock is milterd.conf's
 * /var/run/milterd/milterd.sock where /var/run links to /run.
 */
static int
sd_same(const struct sockspec *a, const struct sockspec *b)
{
	struct stat	sa, sb;

	if (sockspec_same(a, b))
		return 1;
	if (!sockspec_is_unix(a) || !sockspec_is_unix(b))
		return 0;
	return stat(((const struct sockaddr_un *)&a->ss)->sun_path, &sa) ==
	    0 && stat(((const struct sockaddr_un *)&b->ss)->sun_path, &sb) ==
	    0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

/* The socket systemd passed for sp, or -1. */
int
sd_inherited(const struct sockspec *sp)
{
	size_t	i;

	for (i = 0; i < ninherited; i++)
		if (sd_same(&inherited[i].sp, sp))
			return inherited[i].fd;
	return -1;
}

size_t
sd_ninherited(void)
{
	return ninherited;
}

/*
 * Every socket systemd passed is one of c's listen entries: 0, or -1
 * and which is not (path: the configuration file, for the message).
 */
int
sd_check_listen(const struct conf *c, const char *path, char *err,
    size_t errlen)
{
	size_t	i, j;
	int	found;

	for (i = 0; i < ninherited; i++) {
		for (found = 0, j = 0; j < c->nlisten; j++)
			found |= sd_same(&inherited[i].sp, &c->listen[j]);
		if (found)
			continue;
		snprintf(err, errlen, "socket %s from systemd is not one of "
		    "the listen entries of %s: add it to listen, or remove it "
		    "from milterd.socket", inherited[i].sp.text, path);
		return -1;
	}
	return 0;
}
