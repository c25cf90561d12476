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

/* log.h: logging to stderr (foreground) or syslog, OpenBSD style. */

#ifndef LOG_H
#define LOG_H

#include <stdio.h>

#include <stdarg.h>
#include <time.h>

#ifndef __dead
#define __dead	__attribute__((__noreturn__))
#endif

/* log_format: the whole log as text lines, or one JSON object a line. */
enum log_format {
	LOG_FORMAT_TEXT,
	LOG_FORMAT_JSON,
};

/* A key of a line of fields (the session line), and how to write it. */
enum log_kind {
	LOG_F_WORD,		/* key=value; JSON: a string */
	LOG_F_QUOTED,		/* key="value"; JSON: a string */
	LOG_F_NUMBER,		/* key=value; JSON: a number */
};

struct log_field {
	const char	*key;
	const char	*value;
	enum log_kind	 kind;
};

/* log_rate(): lines a peer can cause, at most LOG_RATE_MAX a minute. */
#define LOG_RATE_MAX	10
struct log_rate {
	time_t		window;		/* when this minute began */
	unsigned int	n;		/* logged in it */
	unsigned int	dropped;	/* not logged in it */
};

void	log_init(int, int);
void	log_setlevel(int);
void	log_setformat(enum log_format);
int	log_facility_code(const char *);
int	log_level_code(const char *);
char	*log_render(enum log_format, const char *, int,
	    const struct log_field *, size_t);
void	log_fields(int, const struct log_field *, size_t);
const char *log_escape(const char *, char **);
int	log_rate(struct log_rate *, const char *);
void	log_procinit(const char *);
void	log_setverbose(int);
void	log_fatal_to(int);
void	log_warn(const char *, ...)
	    __attribute__((__format__ (printf, 1, 2)));
void	log_warnx_to(FILE *, const char *, ...)
	    __attribute__((__format__ (printf, 2, 3)));
void	log_warnx(const char *, ...)
	    __attribute__((__format__ (printf, 1, 2)));
void	log_info(const char *, ...)
	    __attribute__((__format__ (printf, 1, 2)));
void	log_debug(const char *, ...)
	    __attribute__((__format__ (printf, 1, 2)));
void	vlog(int, const char *, va_list)
	    __attribute__((__format__ (printf, 2, 0)));
#define LOG_FATAL_MAX	256	/* bytes of a message log_fatal_to() writes */
__dead void fatal(const char *, ...)
	    __attribute__((__format__ (printf, 1, 2)));
__dead void fatalx(const char *, ...)
	    __attribute__((__format__ (printf, 1, 2)));

#endif /* LOG_H */
