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
 * log.c: log_warn (appends strerror), log_warnx, log_info, log_debug
 * (only when verbose), fatal and fatalx (log, then exit 1).  Messages go
 * to stderr in the foreground and to syslog otherwise, prefixed with the
 * process's role once log_procinit() has named it; errno is preserved.
 * A process that has not started yet (a worker) may have fatal messages
 * written to its parent as well (log_fatal_to).
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

static int		 log_to_stderr = 1;
static int		 log_verbose;
static const char	*log_procname;
static int		 log_fatal_fd = -1;

void
log_init(int foreground, int facility)
{
	log_to_stderr = foreground;
	if (!foreground)
		openlog(NULL, LOG_PID | LOG_NDELAY, facility);
	tzset();
}

void
log_procinit(const char *procname)
{
	log_procname = procname;
}

void
log_setverbose(int v)
{
	log_verbose = v;
}

/*
 * fatal() and fatalx() also write "E" and their message (at most
 * LOG_FATAL_MAX bytes, one write) to fd; -1: no longer.
 */
void
log_fatal_to(int fd)
{
	log_fatal_fd = fd;
}

static void
fatal_report(const char *fmt, va_list ap, int err)
{
	char	msg[LOG_FATAL_MAX];
	int	n;

	if (log_fatal_fd == -1)
		return;
	msg[0] = 'E';
	n = vsnprintf(msg + 1, sizeof(msg) - 1, fmt, ap);
	if (n >= 0 && err != 0 && (size_t)n + 1 < sizeof(msg))
		snprintf(msg + 1 + n, sizeof(msg) - 1 - n, ": %s",
		    strerror(err));
	(void)write(log_fatal_fd, msg, strlen(msg));
}

/* Long lines (a session's with many children) are kept whole. */
void
vlog(int pri, const char *fmt, va_list ap)
{
	char	*msg, *line;
	int	 saved_errno = errno, n;

	if (log_procname == NULL && !log_to_stderr) {
		vsyslog(pri, fmt, ap);
		errno = saved_errno;
		return;
	}
	if (vasprintf(&msg, fmt, ap) == -1)
		goto out;
	if (!log_to_stderr) {
		syslog(pri, "%s: %s", log_procname, msg);
		free(msg);
		goto out;
	}
	/*
	 * One write per line: the master, the launcher and the workers
	 * share stderr, and separate writes of prefix, message and
	 * newline interleave with theirs.
	 */
	n = asprintf(&line, "%s%s%s\n", log_procname != NULL ?
	    log_procname : "", log_procname != NULL ? ": " : "", msg);
	free(msg);
	if (n == -1)
		goto out;
	(void)write(STDERR_FILENO, line, (size_t)n);
	free(line);
out:
	errno = saved_errno;
}

/*
 * A warning for whoever asked (fp: "milterd: " and the line, as a
 * command prints it), else for the log.
 */
void
log_warnx_to(FILE *fp, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	if (fp == NULL)
		vlog(LOG_WARNING, fmt, ap);
	else {
		fputs("milterd: ", fp);
		vfprintf(fp, fmt, ap);
		fputc('\n', fp);
	}
	va_end(ap);
}

static void
vlog_errno(int pri, int err, const char *fmt, va_list ap)
{
	char	*nfmt;

	if (err == 0 || asprintf(&nfmt, "%s: %s", fmt, strerror(err)) == -1) {
		vlog(pri, fmt, ap);
		return;
	}
	vlog(pri, nfmt, ap);
	free(nfmt);
}

void
log_warn(const char *fmt, ...)
{
	va_list	ap;
	int	saved_errno = errno;

	va_start(ap, fmt);
	vlog_errno(LOG_WARNING, saved_errno, fmt, ap);
	va_end(ap);
	errno = saved_errno;
}

void
log_warnx(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vlog(LOG_WARNING, fmt, ap);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vlog(LOG_INFO, fmt, ap);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list	ap;

	if (!log_verbose)
		return;
	va_start(ap, fmt);
	vlog(LOG_DEBUG, fmt, ap);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	va_list	ap;
	int	saved_errno = errno;

	va_start(ap, fmt);
	vlog_errno(LOG_CRIT, saved_errno, fmt, ap);
	va_end(ap);
	va_start(ap, fmt);
	fatal_report(fmt, ap, saved_errno);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vlog(LOG_CRIT, fmt, ap);
	va_end(ap);
	va_start(ap, fmt);
	fatal_report(fmt, ap, 0);
	va_end(ap);
	exit(1);
}
