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
 * statuspage.c: the status page that `GET /' on metrics_listen serves:
 * each child's state and health, the counters and the graph (an <img> of
 * /graph.svg), as one HTML document with no script, refreshed by the
 * browser every STATUS_REFRESH seconds.  Read-only: it has no form and
 * no link that changes anything.
 *
 * Every number also in /metrics carries the metric's name and labels
 * in a data-metric attribute, as the exposition writes them, so that a
 * test (t/status-page.sh) can hold the page against /metrics.  Every
 * string from the configuration or a child (names, paths, errors) is
 * escaped.
 */

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "health.h"
#include "history.h"
#include "milterd.h"
#include "stats.h"

#define STATUS_REFRESH	60	/* seconds */

static const int	page_hours[] = { 1, 6, 24, 24 * 7 };

static void	metric_cell(FILE *, const char *, const char *,
		    const char *, uint64_t);
static void	page_head(FILE *, const struct master_info *, int);
static void	page_children(FILE *, const struct conf *);
static void	page_counters(FILE *);
static void	page_graph(FILE *, int);

/*
 * A table cell with a counter: milterd_NAME{child="CHILD",verdict="V"}
 * (either label may be NULL) in its data-metric attribute.
 */
static void
metric_cell(FILE *fp, const char *name, const char *child,
    const char *verdict, uint64_t value)
{
	fprintf(fp, "<td class=\"n\" data-metric=\"milterd_%s", name);
	if (child != NULL || verdict != NULL)
		fputc('{', fp);
	if (child != NULL) {
		fputs("child=&quot;", fp);
		xml_escape(fp, child);
		fprintf(fp, "&quot;%s", verdict != NULL ? "," : "");
	}
	if (verdict != NULL)
		fprintf(fp, "verdict=&quot;%s&quot;", verdict);
	if (child != NULL || verdict != NULL)
		fputc('}', fp);
	fprintf(fp, "\">%llu</td>", (unsigned long long)value);
}

static void
page_head(FILE *fp, const struct master_info *mi, int hours)
{
	time_t	now = time(NULL);

	fprintf(fp, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n"
	    "<meta charset=\"utf-8\">\n"
	    "<meta http-equiv=\"refresh\" content=\"%d\">\n"
	    "<title>milterd status</title>\n"
	    "<style>\n"
	    "body { font-family: sans-serif; margin: 1em 2em; }\n"
	    "table { border-collapse: collapse; margin-bottom: 1.5em; }\n"
	    "th, td { border: 1px solid #ccc; padding: 0.2em 0.6em; }\n"
	    "th { background: #eee; text-align: left; }\n"
	    "td.n { text-align: right; font-variant-numeric: tabular-nums; }\n"
	    ".yes { color: #2ca02c; } .no { color: #d62728; }\n"
	    "</style>\n</head>\n<body>\n<h1>milterd</h1>\n<p>pid %ld, up %llds; ",
	    STATUS_REFRESH, (long)getpid(), (long long)(now - mi->started));
	xml_escape(fp, mi->conf_path);
	fprintf(fp, " (generation %d); launcher ", mi->generation);
	if (mi->launcher != 0)
		fprintf(fp, "pid %ld.", (long)mi->launcher);
	else
		fputs("not running.", fp);
	fprintf(fp, " This page refreshes every %d seconds; the graph "
	    "shows %d hours.</p>\n", STATUS_REFRESH, hours);
}

static void
page_children(FILE *fp, const struct conf *c)
{
	const struct milter_conf	*m;
	char				 err[STATS_ERROR_MAX], since[32];
	const char			*r;
	enum health			 h;
	size_t				 i, v, k;

	fputs("<h2>Children</h2>\n<table id=\"children\">\n<tr><th>child</th>"
	    "<th>enabled</th><th>evaluation</th><th>reachable</th>"
	    "<th>health</th>", fp);
	for (k = 0; k < STATS_NCHILD_COUNTERS; k++) {
		if (!stats_child_counters[k].verdicts) {
			fprintf(fp, "<th>%s</th>", stats_child_counters[k].key);
			continue;
		}
		for (v = VERDICT_ACCEPT; v < NVERDICTS; v++)
			fprintf(fp, "<th>%s%s</th>", strcmp(stats_child_counters[k].key,
			    "verdicts") != 0 ? "evaluated " : "",
			    verdict_name(v));
	}
	fputs("<th>last error</th></tr>\n", fp);
	for (i = 0; i < c->nmilters; i++) {
		m = &c->milters[i];
		r = stats_reachable(m->stats);
		fputs("<tr><td>", fp);
		xml_escape(fp, m->name);
		fprintf(fp, "</td><td>%s</td><td>%s</td>"
		    "<td class=\"%s\">%s</td>",
		    stats_effective(m->enabled, &m->stats->enabled) ? "yes" :
		    "no", stats_effective(m->evaluation,
		    &m->stats->evaluation) ? "yes" : "no", r, r);
		h = health_child(m->stats);
		fmt_utc(since, sizeof(since), stats_region_time(
		    health_since(m->stats), time(NULL)));
		fprintf(fp, "<td class=\"%s\" data-health=\"%s\">%s since "
		    "%s</td>", h == HEALTH_UP ? "yes" : "no", health_name(h),
		    health_name(h), since);
		for (k = 0; k < STATS_NCHILD_COUNTERS; k++) {
			if (!stats_child_counters[k].verdicts) {
				metric_cell(fp, stats_child_counters[k].metric,
				    m->name, NULL, stats_child_value(m->stats,
				    k, 0));
				continue;
			}
			for (v = VERDICT_ACCEPT; v < NVERDICTS; v++)
				metric_cell(fp, stats_child_counters[k].metric,
				    m->name, verdict_name(v),
				    stats_child_value(m->stats, k, v));
		}
		stats_get_error(m->stats, err, sizeof(err));
		fputs("<td>", fp);
		xml_escape(fp, err[0] != '\0' ? err : "-");
		fputs("</td></tr>\n", fp);
	}
	fputs("</table>\n", fp);
}

/* The session-wide counters (stats_globals[]), then those by verdict. */
static void
page_counters(FILE *fp)
{
	const struct stats_global	*g;
	size_t				 k;
	int				 v;

	fputs("<h2>Counters</h2>\n<table id=\"counters\">\n", fp);
	for (k = 0; k < STATS_NGLOBAL; k++) {
		g = &stats_globals[k];
		if (g->verdicts >= 0)
			continue;
		fprintf(fp, "<tr><th>%s</th>", g->help);
		metric_cell(fp, g->metric, NULL, NULL,
		    stats_global_value(stats, k, 0));
		fputs("</tr>\n", fp);
	}
	fputs("</table>\n<table id=\"verdicts\">\n<tr><th>verdict</th>", fp);
	for (k = 0; k < STATS_NGLOBAL; k++)
		if (stats_globals[k].verdicts >= 0)
			fprintf(fp, "<th>%s</th>", stats_globals[k].group);
	fputs("</tr>\n", fp);
	for (v = VERDICT_NONE; v < NVERDICTS; v++) {
		fprintf(fp, "<tr><th>%s</th>", verdict_name(v));
		for (k = 0; k < STATS_NGLOBAL; k++) {
			g = &stats_globals[k];
			if (g->verdicts < 0)
				continue;
			if (v >= g->verdicts)
				metric_cell(fp, g->metric, NULL,
				    verdict_name(v),
				    stats_global_value(stats, k, v));
			else
				fputs("<td></td>", fp);
		}
		fputs("</tr>\n", fp);
	}
	fputs("</table>\n", fp);
}

static void
page_graph(FILE *fp, int hours)
{
	size_t	i;

	fputs("<h2>History</h2>\n<p>", fp);
	for (i = 0; i < sizeof(page_hours) / sizeof(page_hours[0]); i++)
		fprintf(fp, "%s<a href=\"/?hours=%d\">%d hours</a>",
		    i > 0 ? " | " : "", page_hours[i], page_hours[i]);
	fprintf(fp, "</p>\n<p><img id=\"graph\" src=\"/graph.svg?hours=%d\" "
	    "alt=\"sessions and each child's verdicts per minute, the last %d "
	    "hours\"></p>\n", hours, hours);
}

/* The page, with the graph of the last hours. */
void
status_page(FILE *fp, const struct conf *c, const struct master_info *mi,
    int hours)
{
	page_head(fp, mi, hours);
	page_children(fp, c);
	page_counters(fp);
	page_graph(fp, hours);
	fputs("</body>\n</html>\n", fp);
}
