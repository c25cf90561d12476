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
 * history.c: the rolling per-minute history (see history.h for the
 * text form).  The minutes are a ring of at most cap slots, oldest at
 * head; a slot that holds no minute has no entries.  No I/O but the
 * FILE * given to history_write and history_read.
 */

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "history.h"

#define HISTORY_MAGIC	"milterd-history"
#define HISTORY_VERSION	1
#define HISTORY_LINE	512	/* longest line read, with the NUL */
#define HISTORY_FIELDS	9	/* "c", name and the counts */

static const char *count_names[HISTORY_NCOUNTS] = {
	"accept", "reject", "tempfail", "discard", "quarantine", "fallback",
	"would have refused"
};

struct reader {
	struct history	*h;
	FILE		*fp;
	char		*err;
	size_t		 errlen;
	unsigned long	 lineno;
	int		 have_minute;
	int64_t		 minute;
	int64_t		 latest;	/* the newest minute taken */
};

static struct history_minute *slot(const struct history *, size_t);
static void	drop_oldest(struct history *);
static int	entry_zero(const struct history_entry *);
static uint32_t	sat_add(uint32_t, uint32_t);
static int	merge_entries(struct history_minute *,
		    const struct history_entry *, size_t);
static int	valid_entries(const struct history *,
		    const struct history_entry *, size_t);
static int	read_line(struct reader *, char *, size_t);
static size_t	split(char *, char **, size_t);
static int	rerr(struct reader *, const char *, ...)
		    __attribute__((__format__(__printf__, 2, 3)));
static int	parse_num(struct reader *, const char *, const char *,
		    long long, long long *);
static int	read_header(struct reader *);
static int	read_minute(struct reader *, char **, size_t);
static int	read_child(struct reader *, char **, size_t);

int
history_init(struct history *h, size_t cap)
{
	memset(h, 0, sizeof(*h));
	if (cap == 0) {
		errno = EINVAL;
		return -1;
	}
	if ((h->ring = calloc(cap, sizeof(*h->ring))) == NULL)
		return -1;
	h->cap = cap;
	return 0;
}

void
history_free(struct history *h)
{
	while (h->len > 0)
		drop_oldest(h);
	free(h->ring);
	free(h->names);
	memset(h, 0, sizeof(*h));
}

int
history_child(struct history *h, const char *name)
{
	char	(*nn)[HISTORY_NAME_MAX];
	size_t	  i, len;

	len = strnlen(name, HISTORY_NAME_MAX);
	if (len == 0 || len >= HISTORY_NAME_MAX)
		return -1;
	for (i = 0; i < len; i++) {
		/* The text form separates fields with blanks. */
		if (isspace((unsigned char)name[i]))
			return -1;
	}
	for (i = 0; i < h->nnames; i++) {
		if (strcmp(h->names[i], name) == 0)
			return (int)i;
	}
	if (h->nnames >= INT_MAX)
		return -1;
	nn = reallocarray(h->names, h->nnames + 1, sizeof(*h->names));
	if (nn == NULL)
		return -1;
	h->names = nn;
	memcpy(h->names[h->nnames], name, len + 1);
	return (int)h->nnames++;
}

/* The ring slot of the i-th held minute, oldest first. */
static struct history_minute *
slot(const struct history *h, size_t i)
{
	return &h->ring[(h->head + i) % h->cap];
}

static void
drop_oldest(struct history *h)
{
	struct history_minute	*m = slot(h, 0);

	free(m->entries);
	memset(m, 0, sizeof(*m));
	h->head = (h->head + 1) % h->cap;
	if (--h->len == 0)
		h->head = 0;
}

static int
entry_zero(const struct history_entry *e)
{
	int	 k;

	for (k = 0; k < HISTORY_NCOUNTS; k++) {
		if (e->n[k] != 0)
			return 0;
	}
	return 1;
}

/* Counts saturate rather than wrap: a graph that tops out is less wrong. */
static uint32_t
sat_add(uint32_t a, uint32_t b)
{
	return a > UINT32_MAX - b ? UINT32_MAX : a + b;
}

/*
 * Adds the non-zero entries of es to m, one entry per child.  Room for
 * all of them is made first, so a failure leaves m as it was.
 */
static int
merge_entries(struct history_minute *m, const struct history_entry *es,
    size_t n)
{
	struct history_entry	*ne;
	size_t			 i, j;
	int			 k;

	if (n == 0)
		return 0;
	if (m->nentries > SIZE_MAX - n)
		return -1;
	ne = reallocarray(m->entries, m->nentries + n, sizeof(*ne));
	if (ne == NULL)
		return -1;
	m->entries = ne;
	for (i = 0; i < n; i++) {
		if (entry_zero(&es[i]))
			continue;
		for (j = 0; j < m->nentries; j++) {
			if (ne[j].child == es[i].child)
				break;
		}
		if (j == m->nentries) {
			memset(&ne[j], 0, sizeof(ne[j]));
			ne[j].child = es[i].child;
			m->nentries++;
		}
		for (k = 0; k < HISTORY_NCOUNTS; k++)
			ne[j].n[k] = sat_add(ne[j].n[k], es[i].n[k]);
	}
	return 0;
}

/* An entry naming no known child would make history_write read past names. */
static int
valid_entries(const struct history *h, const struct history_entry *es,
    size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++) {
		if (es[i].child >= h->nnames)
			return 0;
	}
	return 1;
}

int
history_add(struct history *h, int64_t minute, uint32_t sessions,
    const struct history_entry *es, size_t n)
{
	struct history_minute	*m, nm;

	if (!valid_entries(h, es, n)) {
		errno = EINVAL;
		return -1;
	}
	if (h->len > 0) {
		m = slot(h, h->len - 1);
		if (minute < m->minute) {
			errno = EINVAL;
			return -1;
		}
		if (minute == m->minute) {
			if (merge_entries(m, es, n) == -1)
				return -1;
			m->sessions = sat_add(m->sessions, sessions);
			return 0;
		}
	}
	memset(&nm, 0, sizeof(nm));
	nm.minute = minute;
	nm.sessions = sessions;
	if (merge_entries(&nm, es, n) == -1)
		return -1;

	/*
	 * The ring spans at most cap minutes of time.  Held minutes are
	 * older than minute, so the unsigned difference cannot wrap.
	 */
	while (h->len > 0 &&
	    (uint64_t)minute - (uint64_t)slot(h, 0)->minute >= h->cap)
		drop_oldest(h);
	if (h->len == h->cap)
		drop_oldest(h);
	*slot(h, h->len) = nm;
	h->len++;
	return 0;
}

const struct history_minute *
history_at(const struct history *h, size_t i)
{
	if (i >= h->len)
		return NULL;
	return slot(h, i);
}

int
history_write(const struct history *h, FILE *fp, int64_t since)
{
	const struct history_minute	*m;
	const struct history_entry	*e;
	size_t				 i, j;

	fprintf(fp, "%s %d\n", HISTORY_MAGIC, HISTORY_VERSION);
	for (i = 0; i < h->len && !ferror(fp); i++) {
		m = slot(h, i);
		if (m->minute < since)
			continue;
		fprintf(fp, "m %" PRId64 " %" PRIu32 "\n", m->minute,
		    m->sessions);
		for (j = 0; j < m->nentries; j++) {
			e = &m->entries[j];
			fprintf(fp, "c %s %" PRIu32 " %" PRIu32 " %" PRIu32
			    " %" PRIu32 " %" PRIu32 " %" PRIu32,
			    h->names[e->child], e->n[0], e->n[1], e->n[2],
			    e->n[3], e->n[4], e->n[5]);
			if (e->n[HISTORY_WOULD_REFUSE] != 0)
				fprintf(fp, " %" PRIu32,
				    e->n[HISTORY_WOULD_REFUSE]);
			fputc('\n', fp);
		}
	}
	if (fflush(fp) == EOF || ferror(fp))
		return -1;
	return 0;
}

static int
rerr(struct reader *r, const char *fmt, ...)
{
	va_list	 ap;
	int	 n;

	if (r->err == NULL || r->errlen == 0)
		return -1;
	n = snprintf(r->err, r->errlen, "line %lu: ", r->lineno);
	if (n < 0 || (size_t)n >= r->errlen)
		return -1;
	va_start(ap, fmt);
	vsnprintf(r->err + n, r->errlen - n, fmt, ap);
	va_end(ap);
	return -1;
}

/*
 * Reads one line without its newline into buf.  Returns 1, 0 at the end
 * of the input, -1 (error set) on a read error, a NUL byte or a line
 * that does not fit.  A last line without a newline is accepted.
 */
static int
read_line(struct reader *r, char *buf, size_t len)
{
	size_t	 n = 0;
	int	 c;

	while ((c = getc(r->fp)) != EOF && c != '\n') {
		if (c == '\0') {
			r->lineno++;
			return rerr(r, "NUL byte");
		}
		if (n + 1 >= len) {
			r->lineno++;
			return rerr(r, "line too long (more than %zu bytes)",
			    len - 1);
		}
		buf[n++] = c;
	}
	if (ferror(r->fp)) {
		r->lineno++;
		return rerr(r, "read error");
	}
	if (c == EOF && n == 0)
		return 0;
	buf[n] = '\0';
	r->lineno++;
	return 1;
}

/* Splits line at blanks into at most max fields; returns how many. */
static size_t
split(char *line, char **f, size_t max)
{
	size_t	 n = 0;
	char	*p, *last;

	for (p = strtok_r(line, " \t\r", &last); p != NULL;
	    p = strtok_r(NULL, " \t\r", &last)) {
		if (n == max)
			return max + 1;
		f[n++] = p;
	}
	return n;
}

/* Digits only (strtonum alone would take signs and leading blanks). */
static int
parse_num(struct reader *r, const char *what, const char *s, long long max,
    long long *v)
{
	const char	*errstr;
	const char	*p;

	if (s == NULL)
		return rerr(r, "missing %s", what);
	for (p = s; *p != '\0'; p++) {
		if (!isdigit((unsigned char)*p))
			return rerr(r, "%s: not a number: %s", what, s);
	}
	*v = strtonum(s, 0, max, &errstr);
	if (errstr != NULL)
		return rerr(r, "%s %s: %s", what, errstr, s);
	return 0;
}

static int
read_header(struct reader *r)
{
	char	 line[HISTORY_LINE];
	char	*f[3];
	size_t	 nf;
	int	 rv;

	if ((rv = read_line(r, line, sizeof(line))) == -1)
		return -1;
	if (rv == 0) {
		if (r->err != NULL && r->errlen > 0)
			snprintf(r->err, r->errlen, "empty");
		return -1;
	}
	nf = split(line, f, 2);
	if (nf != 2 || strcmp(f[0], HISTORY_MAGIC) != 0)
		return rerr(r, "not a milterd history (no \"%s %d\" header)",
		    HISTORY_MAGIC, HISTORY_VERSION);
	if (strcmp(f[1], "1") != 0)
		return rerr(r, "unsupported version %s", f[1]);
	return 0;
}

/* m MINUTE SESSIONS */
static int
read_minute(struct reader *r, char **f, size_t nf)
{
	long long	 minute, sessions;

	if (nf > 3)
		return rerr(r, "too many fields");
	if (parse_num(r, "minute", nf > 1 ? f[1] : NULL, LLONG_MAX,
	    &minute) == -1 ||
	    parse_num(r, "sessions", nf > 2 ? f[2] : NULL, UINT32_MAX,
	    &sessions) == -1)
		return -1;
	/*
	 * One minute dated in the future would be the newest for ever:
	 * every minute counted after it would be older, and refused.
	 */
	if (minute > r->latest)
		return rerr(r, "minute %lld is in the future (the newest "
		    "possible is %lld): not this clock's history", minute,
		    (long long)r->latest);
	if (r->h->len > 0 && minute < history_at(r->h, r->h->len - 1)->minute)
		return rerr(r, "minute %lld older than the last one", minute);
	if (history_add(r->h, minute, sessions, NULL, 0) == -1)
		return rerr(r, "out of memory");
	r->have_minute = 1;
	r->minute = minute;
	return 0;
}

/* c NAME ACCEPT REJECT TEMPFAIL DISCARD QUARANTINE FALLBACK */
static int
read_child(struct reader *r, char **f, size_t nf)
{
	struct history_entry	 e;
	long long		 v;
	size_t			 had;
	int			 child, k;

	if (!r->have_minute)
		return rerr(r, "child counts before any minute");
	if (nf > HISTORY_FIELDS)
		return rerr(r, "too many fields");
	if (nf < 2)
		return rerr(r, "missing name");
	memset(&e, 0, sizeof(e));
	for (k = 0; k < HISTORY_NCOUNTS; k++) {
		/* The last is optional: 0 when absent. */
		if (k == HISTORY_WOULD_REFUSE && (size_t)k + 2 >= nf)
			break;
		if (parse_num(r, count_names[k], (size_t)k + 2 < nf ?
		    f[k + 2] : NULL, UINT32_MAX, &v) == -1)
			return -1;
		e.n[k] = v;
	}
	had = r->h->nnames;
	if ((child = history_child(r->h, f[1])) == -1)
		return rerr(r, "bad child name: %.*s", HISTORY_NAME_MAX, f[1]);
	if (r->h->nnames > had && r->h->nnames > HISTORY_NAMES_MAX) {
		r->h->nnames--;		/* the one just added */
		return rerr(r, "more than %d child names", HISTORY_NAMES_MAX);
	}
	e.child = child;
	/* Merges into the minute of the last m line, still the newest. */
	if (history_add(r->h, r->minute, 0, &e, 1) == -1)
		return rerr(r, "out of memory");
	return 0;
}

int
history_read(struct history *h, FILE *fp, int64_t latest, char *err,
    size_t errlen)
{
	struct reader	 r;
	char		 line[HISTORY_LINE];
	char		*f[HISTORY_FIELDS];
	size_t		 nf;
	int		 rv;

	memset(&r, 0, sizeof(r));
	r.h = h;
	r.fp = fp;
	r.err = err;
	r.errlen = errlen;
	r.latest = latest;
	if (read_header(&r) == -1)
		return -1;
	while ((rv = read_line(&r, line, sizeof(line))) == 1) {
		nf = split(line, f, HISTORY_FIELDS);
		if (nf == 0)
			rv = rerr(&r, "empty line");
		else if (strcmp(f[0], "m") == 0)
			rv = read_minute(&r, f, nf);
		else if (strcmp(f[0], "c") == 0)
			rv = read_child(&r, f, nf);
		else
			rv = rerr(&r, "unknown record \"%.16s\"", f[0]);
		if (rv == -1)
			return -1;
	}
	return rv;
}

const char *
history_count_name(enum history_count k)
{
	if ((int)k < 0 || k >= HISTORY_NCOUNTS)
		return "unknown";
	return count_names[k];
}
