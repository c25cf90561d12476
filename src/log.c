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
 * written to its parent as well (log_fatal_to).  log_level drops what is
 * less severe (-v shows everything); log_format json writes each line as
 * one JSON object, and log_fields() the session line's keys as its own.
 * A text line is escaped (log_escape()): a peer's text (a child's reply,
 * the MTA's connect host) cannot forge lines or reach a terminal raw.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

static int		 log_to_stderr = 1;
static int		 log_verbose;
static int		 log_level = LOG_INFO;
static enum log_format	 log_format = LOG_FORMAT_TEXT;
static const char	*log_procname;
static int		 log_fatal_fd = -1;

struct log_name {
	const char	*name;
	int		 code;
};

static const struct log_name	facilities[] = {
	{ "mail", LOG_MAIL }, { "daemon", LOG_DAEMON }, { "user", LOG_USER },
	{ "local0", LOG_LOCAL0 }, { "local1", LOG_LOCAL1 },
	{ "local2", LOG_LOCAL2 }, { "local3", LOG_LOCAL3 },
	{ "local4", LOG_LOCAL4 }, { "local5", LOG_LOCAL5 },
	{ "local6", LOG_LOCAL6 }, { "local7", LOG_LOCAL7 },
	{ NULL, 0 }
};

/* Most severe first: the names of log_level and of JSON's "level". */
static const struct log_name	levels[] = {
	{ "crit", LOG_CRIT }, { "error", LOG_ERR }, { "warning", LOG_WARNING },
	{ "notice", LOG_NOTICE }, { "info", LOG_INFO }, { "debug", LOG_DEBUG },
	{ NULL, 0 }
};

static int	name_code(const struct log_name *, const char *);
static void	log_emit(int, const char *, int);

void
log_init(int foreground, int facility)
{
	log_to_stderr = foreground;
	if (!foreground)
		openlog(NULL, LOG_PID | LOG_NDELAY, facility);
	tzset();
}

/* Messages less severe than level (a syslog priority) are dropped. */
void
log_setlevel(int level)
{
	log_level = level;
}

void
log_setformat(enum log_format format)
{
	log_format = format;
}

static int
name_code(const struct log_name *t, const char *name)
{
	for (; t->name != NULL; t++)
		if (strcmp(t->name, name) == 0)
			return t->code;
	return -1;
}

/* A log_facility's syslog facility; -1: no such name. */
int
log_facility_code(const char *name)
{
	return name_code(facilities, name);
}

/* A log_level's syslog priority; -1: no such name. */
int
log_level_code(const char *name)
{
	return name_code(levels, name);
}

/*
 * A line of fields: text "key=value key=\"value\"" as the session line
 * has always been written, or a JSON object, its first keys "process"
 * (when procname is set) and "level" (pri's name).  NULL: no memory.
 */
char *
log_render(enum log_format format, const char *procname, int pri,
    const struct log_field *f, size_t n)
{
	const struct log_name	*l;
	FILE			*fp;
	char			*line = NULL;
	size_t			 len = 0, i;

	if ((fp = open_memstream(&line, &len)) == NULL)
		return NULL;
	if (format == LOG_FORMAT_JSON) {
		fputc('{', fp);
		if (procname != NULL) {
			fputs("\"process\":", fp);
			json_str(fp, procname);
			fputc(',', fp);
		}
		for (l = levels; l->name != NULL && l->code != pri; l++)
			;
		fprintf(fp, "\"level\":\"%s\"", l->name != NULL ? l->name :
		    "info");
	}
	for (i = 0; i < n; i++) {
		if (format == LOG_FORMAT_TEXT) {
			fprintf(fp, f[i].kind == LOG_F_QUOTED ? "%s%s=\"%s\"" :
			    "%s%s=%s", i > 0 ? " " : "", f[i].key, f[i].value);
			continue;
		}
		fputc(',', fp);
		json_str(fp, f[i].key);
		fputc(':', fp);
		if (f[i].kind == LOG_F_NUMBER)
			fputs(f[i].value, fp);
		else
			json_str(fp, f[i].value);
	}
	if (format == LOG_FORMAT_JSON)
		fputc('}', fp);
	if (fclose(fp) != 0) {
		free(line);
		return NULL;
	}
	return line;
}

/*
 * A line of fields (the session line) at pri; when it cannot be made,
 * its first two fields, said so.
 */
void
log_fields(int pri, const struct log_field *f, size_t n)
{
	char	*line;
	int	 saved_errno = errno;

	if (pri > (log_verbose ? LOG_DEBUG : log_level))
		return;
	if ((line = log_render(log_format, log_procname, pri, f, n)) == NULL) {
		if (n >= 2)
			log_warnx("%s=%s %s=%s (out of memory for the whole "
			    "line)", f[0].key, f[0].value, f[1].key,
			    f[1].value);
	} else
		log_emit(pri, line, log_format == LOG_FORMAT_JSON);
	free(line);
	errno = saved_errno;
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
	struct log_field	 f = { "message", NULL, LOG_F_WORD };
	char			*msg, *obj;
	int			 saved_errno = errno;

	if (pri > (log_verbose ? LOG_DEBUG : log_level))
		return;
	if (vasprintf(&msg, fmt, ap) == -1)
		goto out;
	if (log_format == LOG_FORMAT_JSON) {
		f.value = msg;
		if ((obj = log_render(LOG_FORMAT_JSON, log_procname, pri, &f,
		    1)) != NULL) {
			log_emit(pri, obj, 1);
			free(obj);
		}
	} else
		log_emit(pri, msg, 0);
	free(msg);
out:
	errno = saved_errno;
}

/*
 * A line to stderr or syslog: a JSON object whole (it names its
 * process), text after the process's name.
 */
static void
log_emit(int pri, const char *msg, int object)
{
	const char	*proc = object ? NULL : log_procname;
	char		*line, *esc = NULL;
	int		 n;

	/* JSON escapes its strings itself (json_str()). */
	if (!object)
		msg = log_escape(msg, &esc);
	if (!log_to_stderr) {
		if (proc != NULL)
			syslog(pri, "%s: %s", proc, msg);
		else
			syslog(pri, "%s", msg);
		free(esc);
		return;
	}
	/*
	 * One write per line: the master, the launcher and the workers
	 * share stderr, and separate writes of prefix, message and
	 * newline interleave with theirs.
	 */
	n = asprintf(&line, "%s%s%s\n", proc != NULL ? proc : "",
	    proc != NULL ? ": " : "", msg);
	free(esc);
	if (n == -1)
		return;
	(void)write(STDERR_FILENO, line, (size_t)n);
	free(line);
}

/*
 * A text line with what a peer may have put in it made harmless: a
 * control character (a newline that would forge a second line, a
 * terminal escape) and each byte that is not valid UTF-8 become \xHH.
 * msg itself when nothing needs it; else a string in *esc for the
 * caller to free, or a fixed one when out of memory (never raw).
 */
const char *
log_escape(const char *msg, char **esc)
{
	const unsigned char	*p;
	char			*o;
	size_t			 n, bad = 0;

	*esc = NULL;
	for (p = (const unsigned char *)msg; *p != '\0'; p += n)
		if ((n = utf8_seq(p)) == 0 || *p < 0x20 || *p == 0x7f) {
			bad++;
			n = 1;
		}
	if (bad == 0)
		return msg;
	if ((*esc = malloc(strlen(msg) + 3 * bad + 1)) == NULL)
		return "(a log line that needs escaping; out of memory)";
	for (p = (const unsigned char *)msg, o = *esc; *p != '\0'; p += n) {
		if ((n = utf8_seq(p)) == 0 || *p < 0x20 || *p == 0x7f) {
			o += snprintf(o, 5, "\\x%02x", *p);
			n = 1;
		} else {
			memcpy(o, p, n);
			o += n;
		}
	}
	*o = '\0';
	return *esc;
}

/*
 * Lines a peer can cause at will (a refused control client, a time-out):
 * at most LOG_RATE_MAX a minute through r.  1: log this one; 0: counted,
 * and how many were left out is said before the next one logged.
 */
int
log_rate(struct log_rate *r, const char *what)
{
	time_t	now = time(NULL);

	if (now - r->window >= 60) {
		if (r->dropped > 0)
			log_warnx("%s: %u more lines like the last were not "
			    "logged (at most %d a minute)", what, r->dropped,
			    LOG_RATE_MAX);
		r->window = now;
		r->n = 0;
		r->dropped = 0;
	}
	if (r->n >= LOG_RATE_MAX) {
		r->dropped++;
		return 0;
	}
	r->n++;
	return 1;
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

	if (!log_verbose && log_level < LOG_DEBUG)
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
