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
 * graph.c: the history of a range of minutes as a standalone SVG 1.1
 * document: sessions per minute, then each child's verdicts, one chart
 * each.  Long ranges are binned so that a chart has at most GRAPH_POINTS
 * points.  Values are drawn as steps, one step per bin, so that a single
 * point is visible and bins keep their true width.  Coordinates are
 * printed with integers only: the caller's locale cannot turn the
 * decimal point into a comma.
 */

#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "history.h"
#include "util.h"

#define GRAPH_POINTS	480	/* most points in a chart */
#define GRAPH_TICKS	5	/* most x labels, about */
#define GRAPH_WIDTH	800
#define GRAPH_LEFT	70	/* the y labels left of the plot */
#define GRAPH_PLOTW	580
#define GRAPH_TOP	36	/* the title above the plot */
#define GRAPH_PLOTH	160
#define GRAPH_CHARTH	236	/* one chart: title, plot, x labels */
#define GRAPH_MARGIN	10

struct series {
	int64_t		 from;
	uint64_t	 range;		/* minutes, to - from */
	uint64_t	 bin;		/* minutes per point */
	size_t		 npts;
	size_t		 nnames;
	uint64_t	*sessions;	/* [npts] */
	uint64_t	*counts;	/* [nnames][HISTORY_NCOUNTS][npts] */
	unsigned char	*present;	/* [nnames]: has entries */
};

static const char *colours[HISTORY_NCOUNTS] = {
	"#2ca02c", "#d62728", "#ff7f0e", "#9467bd", "#8c564b", "#7f7f7f",
	"#e377c2"
};

static uint64_t	 sat_add(uint64_t, uint64_t);
static uint64_t	 pick_bin(uint64_t);
static uint64_t	 pick_step(uint64_t);
static uint64_t	 nice_ceil(uint64_t);
static int	 series_fill(struct series *, const struct history *,
		    int64_t, int64_t);
static void	 series_add(struct series *, const struct history_minute *);
static void	 series_free(struct series *);
static const uint64_t *counts_of(const struct series *, size_t, int);
static uint64_t	 vmax(const uint64_t *, size_t);
static size_t	 utf8_len(const unsigned char *);
static void	 coord(FILE *, double);
static double	 xpos(const struct series *, uint64_t);
static double	 ypos(int, uint64_t, uint64_t);
static void	 time_label(char *, size_t, int64_t, struct tm *, int *);
static void	 x_labels(FILE *, const struct series *, int);
static void	 chart_frame(FILE *, const struct series *, int, uint64_t);
static void	 chart_title(FILE *, const struct series *, int,
		    const char *, const char *);
static void	 steps(FILE *, const struct series *, int,
		    const uint64_t *, uint64_t);
static void	 sessions_chart(FILE *, const struct series *, int);
static void	 child_chart(FILE *, const struct series *, int,
		    const char *, size_t);
static void	 legend(FILE *, int, int, int);

static uint64_t
sat_add(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

/*
 * The first of nice[] that cuts range into at most most parts (a part
 * begun counts when round_up); else whole days.
 */
static uint64_t
pick_nice(const uint64_t *nice, size_t n, uint64_t range, uint64_t most,
    int round_up)
{
	uint64_t	days;
	size_t		i;

	for (i = 0; i < n; i++)
		if (range / nice[i] + (round_up && range % nice[i] != 0) <=
		    most)
			return nice[i];
	days = range / most + 1;
	return days + (1440 - days % 1440) % 1440;
}

/* Minutes per point: round numbers, so that "per N minutes" reads well. */
static uint64_t
pick_bin(uint64_t range)
{
	static const uint64_t	nice[] = { 1, 2, 5, 10, 15, 20, 30, 60, 120,
	    180, 240, 360, 720, 1440 };

	return pick_nice(nice, sizeof(nice) / sizeof(nice[0]), range,
	    GRAPH_POINTS, 1);
}

/* Minutes between x labels; those up to a day divide a UTC day. */
static uint64_t
pick_step(uint64_t range)
{
	static const uint64_t	nice[] = { 1, 2, 5, 10, 15, 30, 60, 120, 180,
	    360, 720, 1440, 2880, 10080 };

	return pick_nice(nice, sizeof(nice) / sizeof(nice[0]), range,
	    GRAPH_TICKS, 0);
}

/* The least of 1, 2, 5, 10, 20, 50... that is at least v. */
static uint64_t
nice_ceil(uint64_t v)
{
	static const uint64_t	 mult[] = { 1, 2, 5 };
	uint64_t		 p;
	size_t			 i;

	if (v == 0)
		return 1;
	for (p = 1; ; p *= 10) {
		for (i = 0; i < 3; i++) {
			if (mult[i] * p >= v)
				return mult[i] * p;
		}
		if (p > UINT64_MAX / 100)
			return v;
	}
}

static void
series_add(struct series *s, const struct history_minute *m)
{
	const struct history_entry	*e;
	uint64_t			*c;
	size_t				 p, j;
	int				 k;

	p = ((uint64_t)m->minute - (uint64_t)s->from) / s->bin;
	s->sessions[p] = sat_add(s->sessions[p], m->sessions);
	for (j = 0; j < m->nentries; j++) {
		e = &m->entries[j];
		if (e->child >= s->nnames)
			continue;
		s->present[e->child] = 1;
		for (k = 0; k < HISTORY_NCOUNTS; k++) {
			c = &s->counts[(e->child * HISTORY_NCOUNTS + k) *
			    s->npts + p];
			*c = sat_add(*c, e->n[k]);
		}
	}
}

static int
series_fill(struct series *s, const struct history *h, int64_t from,
    int64_t to)
{
	const struct history_minute	*m;
	size_t				 i;

	memset(s, 0, sizeof(*s));
	s->from = from;
	s->range = (uint64_t)to - (uint64_t)from;
	s->bin = pick_bin(s->range);
	s->npts = s->range / s->bin + (s->range % s->bin != 0);
	s->nnames = h->nnames;
	s->sessions = calloc(s->npts, sizeof(*s->sessions));
	s->present = calloc(s->nnames + 1, 1);
	if (s->nnames > SIZE_MAX / HISTORY_NCOUNTS)
		return -1;
	s->counts = calloc(s->nnames * HISTORY_NCOUNTS + 1,
	    s->npts * sizeof(*s->counts));
	if (s->sessions == NULL || s->present == NULL || s->counts == NULL)
		return -1;
	for (i = 0; (m = history_at(h, i)) != NULL; i++) {
		if (m->minute >= from && m->minute < to)
			series_add(s, m);
	}
	return 0;
}

static void
series_free(struct series *s)
{
	free(s->sessions);
	free(s->counts);
	free(s->present);
}

static const uint64_t *
counts_of(const struct series *s, size_t child, int k)
{
	return &s->counts[(child * HISTORY_NCOUNTS + k) * s->npts];
}

static uint64_t
vmax(const uint64_t *v, size_t n)
{
	uint64_t	 max = 0;
	size_t		 i;

	for (i = 0; i < n; i++) {
		if (v[i] > max)
			max = v[i];
	}
	return max;
}

/*
 * The length of the valid UTF-8 sequence at p that XML 1.0 allows, 0 if
 * there is none: names come from a configuration file and may hold any
 * byte but a blank, and one stray byte would make the document invalid.
 */
static size_t
utf8_len(const unsigned char *p)
{
	size_t	n;

	if (p[0] < 0x80)
		return (p[0] >= 0x20 && p[0] != 0x7f) ? 1 : 0;
	/* Valid UTF-8 (util.c), but U+FFFE and U+FFFF. */
	if ((n = utf8_seq(p)) == 3 && p[0] == 0xef && p[1] == 0xbf &&
	    p[2] >= 0xbe)
		return 0;
	return n;
}

/*
 * Writes s as XML character data; what XML cannot hold becomes '?'.
 * Also HTML's, for the status page (statuspage.c).
 */
void
xml_escape(FILE *fp, const char *s)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 n;

	while (*p != '\0') {
		if (*p == '&')
			fputs("&amp;", fp);
		else if (*p == '<')
			fputs("&lt;", fp);
		else if (*p == '>')
			fputs("&gt;", fp);
		else if (*p == '"')
			fputs("&quot;", fp);
		else if (*p == '\'')
			fputs("&apos;", fp);
		else if ((n = utf8_len(p)) == 0)
			putc('?', fp);
		else {
			fwrite(p, 1, n, fp);
			p += n;
			continue;
		}
		p++;
	}
}

/* A non-negative coordinate with one decimal, whatever the locale. */
static void
coord(FILE *fp, double v)
{
	long	 t;

	t = (long)(v * 10 + 0.5);
	fprintf(fp, "%ld.%ld", t / 10, t % 10);
}

/* x of an offset in minutes from the start of the range. */
static double
xpos(const struct series *s, uint64_t off)
{
	return GRAPH_LEFT + (double)off / (double)s->range * GRAPH_PLOTW;
}

static double
ypos(int y0, uint64_t v, uint64_t ymax)
{
	return y0 + GRAPH_TOP + GRAPH_PLOTH -
	    (double)v / (double)ymax * GRAPH_PLOTH;
}

/*
 * HH:MM in UTC, with the date on the first label and, month and day
 * only, where the day changes from the label before (prev, if *have).
 * A minute no calendar can show is written as a number.
 */
static void
time_label(char *buf, size_t len, int64_t minute, struct tm *prev,
    int *have)
{
	struct tm	 tm;
	time_t		 t;
	const char	*fmt = "%H:%M";

	if (minute > INT64_MAX / 60 || minute < INT64_MIN / 60)
		goto raw;
	t = (time_t)(minute * 60);
	if ((int64_t)t != minute * 60 || gmtime_r(&t, &tm) == NULL)
		goto raw;
	if (!*have)
		fmt = "%Y-%m-%d %H:%M";
	else if (tm.tm_yday != prev->tm_yday || tm.tm_year != prev->tm_year)
		fmt = "%m-%d %H:%M";
	*prev = tm;
	*have = 1;
	if (strftime(buf, len, fmt, &tm) == 0)
		goto raw;
	return;
 raw:
	snprintf(buf, len, "%" PRId64, minute);
}

static void
x_labels(FILE *fp, const struct series *s, int y0)
{
	struct tm	 prev;
	uint64_t	 step, off;
	int64_t		 r;
	char		 buf[64];
	int		 have = 0, yb = y0 + GRAPH_TOP + GRAPH_PLOTH;

	memset(&prev, 0, sizeof(prev));
	step = pick_step(s->range);
	r = s->from % (int64_t)step;
	off = (step - (uint64_t)(r < 0 ? r + (int64_t)step : r)) % step;
	while (off < s->range) {
		time_label(buf, sizeof(buf), (int64_t)((uint64_t)s->from + off),
		    &prev, &have);
		fputs("<line stroke=\"#dddddd\" x1=\"", fp);
		coord(fp, xpos(s, off));
		fprintf(fp, "\" y1=\"%d\" x2=\"", y0 + GRAPH_TOP);
		coord(fp, xpos(s, off));
		fprintf(fp, "\" y2=\"%d\"/>\n<text text-anchor=\"middle\" x=\"",
		    yb + 4);
		coord(fp, xpos(s, off));
		fprintf(fp, "\" y=\"%d\">%s</text>\n", yb + 17, buf);
		if (s->range - off <= step)
			break;
		off += step;
	}
	fprintf(fp, "<text text-anchor=\"end\" x=\"%d\" y=\"%d\">UTC</text>\n",
	    GRAPH_LEFT + GRAPH_PLOTW, yb + 32);
}

/* Title, axes, the y labels 0 and ymax, and the x labels. */
static void
chart_frame(FILE *fp, const struct series *s, int y0, uint64_t ymax)
{
	int	 yt = y0 + GRAPH_TOP, yb = yt + GRAPH_PLOTH;

	x_labels(fp, s, y0);
	fprintf(fp, "<polyline fill=\"none\" stroke=\"#000000\" "
	    "points=\"%d,%d %d,%d %d,%d\"/>\n", GRAPH_LEFT, yt, GRAPH_LEFT, yb,
	    GRAPH_LEFT + GRAPH_PLOTW, yb);
	fprintf(fp, "<line stroke=\"#dddddd\" x1=\"%d\" y1=\"%d\" x2=\"%d\" "
	    "y2=\"%d\"/>\n", GRAPH_LEFT + 1, yt, GRAPH_LEFT + GRAPH_PLOTW, yt);
	fprintf(fp, "<text text-anchor=\"end\" x=\"%d\" y=\"%d\">%" PRIu64
	    "</text>\n", GRAPH_LEFT - 6, yt + 4, ymax);
	fprintf(fp, "<text text-anchor=\"end\" x=\"%d\" y=\"%d\">0</text>\n",
	    GRAPH_LEFT - 6, yb + 4);
}

/* "Sessions per minute", "NAME: verdicts per 5 minutes". */
static void
chart_title(FILE *fp, const struct series *s, int y0, const char *name,
    const char *what)
{
	fprintf(fp, "<text x=\"%d\" y=\"%d\" font-size=\"14\" "
	    "font-weight=\"bold\">", GRAPH_LEFT, y0 + 22);
	if (name != NULL) {
		xml_escape(fp, name);
		fputs(": ", fp);
	}
	if (s->bin == 1)
		fprintf(fp, "%s per minute</text>\n", what);
	else
		fprintf(fp, "%s per %" PRIu64 " minutes</text>\n", what,
		    s->bin);
}

/* The points of a step line, one step per bin. */
static void
steps(FILE *fp, const struct series *s, int y0, const uint64_t *v,
    uint64_t ymax)
{
	uint64_t	 o0, o1;
	size_t		 i;

	for (i = 0; i < s->npts; i++) {
		o0 = (uint64_t)i * s->bin;
		o1 = s->range - o0 > s->bin ? o0 + s->bin : s->range;
		putc(' ', fp);
		coord(fp, xpos(s, o0));
		putc(',', fp);
		coord(fp, ypos(y0, v[i], ymax));
		putc(' ', fp);
		coord(fp, xpos(s, o1));
		putc(',', fp);
		coord(fp, ypos(y0, v[i], ymax));
	}
}

static void
sessions_chart(FILE *fp, const struct series *s, int y0)
{
	uint64_t	 ymax;
	int		 yb = y0 + GRAPH_TOP + GRAPH_PLOTH;

	ymax = nice_ceil(vmax(s->sessions, s->npts));
	chart_title(fp, s, y0, NULL, "Sessions");
	chart_frame(fp, s, y0, ymax);
	fprintf(fp, "<polygon fill=\"#1f77b4\" fill-opacity=\"0.3\" "
	    "stroke=\"#1f77b4\" stroke-width=\"1.5\" points=\"%d,%d",
	    GRAPH_LEFT, yb);
	steps(fp, s, y0, s->sessions, ymax);
	fprintf(fp, " %d,%d\"/>\n", GRAPH_LEFT + GRAPH_PLOTW, yb);
}

static void
legend(FILE *fp, int y0, int row, int k)
{
	int	 x = GRAPH_LEFT + GRAPH_PLOTW + 20;
	int	 y = y0 + GRAPH_TOP + row * 18;

	fprintf(fp, "<rect x=\"%d\" y=\"%d\" width=\"12\" height=\"12\" "
	    "fill=\"%s\"/>\n", x, y, colours[k]);
	fprintf(fp, "<text x=\"%d\" y=\"%d\">%s</text>\n", x + 18, y + 10,
	    history_count_name(k));
}

/* One line per kind of verdict that the child gave in the range. */
static void
child_chart(FILE *fp, const struct series *s, int y0, const char *name,
    size_t child)
{
	uint64_t	 max = 0, m;
	int		 k, row = 0;

	for (k = 0; k < HISTORY_NCOUNTS; k++) {
		if ((m = vmax(counts_of(s, child, k), s->npts)) > max)
			max = m;
	}
	max = nice_ceil(max);
	chart_title(fp, s, y0, name, "verdicts");
	chart_frame(fp, s, y0, max);
	for (k = 0; k < HISTORY_NCOUNTS; k++) {
		if (vmax(counts_of(s, child, k), s->npts) == 0)
			continue;
		fprintf(fp, "<polyline fill=\"none\" stroke=\"%s\" "
		    "stroke-width=\"1.5\" points=\"", colours[k]);
		steps(fp, s, y0, counts_of(s, child, k), max);
		fputs("\"/>\n", fp);
		legend(fp, y0, row++, k);
	}
}

int
graph_svg(FILE *fp, const struct history *h, int64_t from, int64_t to)
{
	struct series	 s;
	size_t		 i, ncharts = 1;
	int		 y0, height, rv = -1;

	if (from >= to)
		return -1;
	if (series_fill(&s, h, from, to) == -1)
		goto done;
	for (i = 0; i < s.nnames; i++)
		ncharts += s.present[i];
	/* Coordinates are ints. */
	if (ncharts > (INT_MAX - GRAPH_MARGIN) / GRAPH_CHARTH)
		goto done;
	height = (int)ncharts * GRAPH_CHARTH + GRAPH_MARGIN;
	fprintf(fp, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	    "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" "
	    "width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\">\n"
	    "<rect width=\"100%%\" height=\"100%%\" fill=\"#ffffff\"/>\n"
	    "<g font-family=\"sans-serif\" font-size=\"11\" "
	    "fill=\"#000000\">\n",
	    GRAPH_WIDTH, height, GRAPH_WIDTH, height);
	sessions_chart(fp, &s, GRAPH_MARGIN);
	y0 = GRAPH_MARGIN + GRAPH_CHARTH;
	for (i = 0; i < s.nnames; i++) {
		if (!s.present[i])
			continue;
		child_chart(fp, &s, y0, h->names[i], i);
		y0 += GRAPH_CHARTH;
	}
	fputs("</g>\n</svg>\n", fp);
	if (fflush(fp) != EOF && !ferror(fp))
		rv = 0;
 done:
	series_free(&s);
	return rv;
}
