/*
 * test_graph.c: the SVG charts of a history (src/graph.c).
 */

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "history.h"

static struct history	gh;

static void
setup(void)
{
	struct history_entry	e;
	int64_t			t;
	int			a, b, c;

	cr_assert_eq(history_init(&gh, 1440), 0);
	cr_assert_geq(a = history_child(&gh, "spamd"), 0);
	cr_assert_geq(b = history_child(&gh, "a<b&c"), 0);
	cr_assert_geq(c = history_child(&gh, "idle"), 0);
	(void)c;	/* never in an entry: no chart */
	/* 2026-01-01 00:00 UTC is minute 29453760. */
	for (t = 29453760; t < 29453760 + 600; t++) {
		memset(&e, 0, sizeof(e));
		e.child = a;
		e.n[HISTORY_ACCEPT] = (uint32_t)(t % 7);
		e.n[HISTORY_REJECT] = t % 60 == 0;
		cr_assert_eq(history_add(&gh, t, (uint32_t)(t % 11), &e, 1), 0);
	}
	memset(&e, 0, sizeof(e));
	e.child = b;
	e.n[HISTORY_QUARANTINE] = 3;
	cr_assert_eq(history_add(&gh, 29453760 + 600, 1, &e, 1), 0);
}

static void
teardown(void)
{
	history_free(&gh);
}

static char *
svg(int64_t from, int64_t to, int *rv)
{
	char	*buf = NULL;
	size_t	 len = 0;
	FILE	*fp;

	cr_assert_not_null(fp = open_memstream(&buf, &len));
	*rv = graph_svg(fp, &gh, from, to);
	fclose(fp);
	return buf;
}

Test(graph, prolog_and_titles, .init = setup, .fini = teardown)
{
	char	*out;
	int	 rv;

	out = svg(29453760, 29453760 + 601, &rv);
	cr_assert_eq(rv, 0);
	cr_assert(strncmp(out, "<?xml version=\"1.0\"", 19) == 0, "%.60s", out);
	cr_assert_not_null(strstr(out,
	    "<svg xmlns=\"http://www.w3.org/2000/svg\""));
	cr_assert_not_null(strstr(out, "viewBox=\"0 0 "));
	cr_assert_not_null(strstr(out, "Sessions per 2 minutes"));
	cr_assert_not_null(strstr(out, "spamd: verdicts per 2 minutes"));
	cr_assert_not_null(strstr(out, "a&lt;b&amp;c: verdicts"));
	cr_assert_null(strstr(out, "a<b"));
	cr_assert_null(strstr(out, "idle"));
	cr_assert_not_null(strstr(out, ">2026-01-01 00:00<"));
	cr_assert_not_null(strstr(out, ">quarantine<"));
	cr_assert_not_null(strstr(out, ">reject<"));
	cr_assert_null(strstr(out, ">tempfail<"));
	cr_assert_null(strstr(out, "<script"));
	cr_assert(strcmp(out + strlen(out) - 7, "</svg>\n") == 0);
	free(out);
}

Test(graph, per_minute_and_range, .init = setup, .fini = teardown)
{
	char	*out;
	int	 rv;

	/* Only spamd has entries in the first hour. */
	out = svg(29453760, 29453760 + 60, &rv);
	cr_assert_eq(rv, 0);
	cr_assert_not_null(strstr(out, "Sessions per minute"));
	cr_assert_not_null(strstr(out, "spamd: verdicts per minute"));
	cr_assert_null(strstr(out, "a&lt;b"));
	free(out);
	/* A range with no minutes at all is still a document. */
	out = svg(1000, 1010, &rv);
	cr_assert_eq(rv, 0);
	cr_assert_not_null(strstr(out, "Sessions per minute"));
	cr_assert_null(strstr(out, "verdicts"));
	free(out);
}

Test(graph, bins_long_ranges, .init = setup, .fini = teardown)
{
	char	*out;
	int	 rv;

	out = svg(29453760 - 2880, 29453760 + 2880, &rv);
	cr_assert_eq(rv, 0);
	cr_assert_not_null(strstr(out, "Sessions per 15 minutes"));
	cr_assert_null(strstr(out, "per minute"));
	free(out);
	/* The widest range there is. */
	out = svg(INT64_MIN, INT64_MAX, &rv);
	cr_assert_eq(rv, 0);
	cr_assert_not_null(strstr(out, "spamd: verdicts per "));
	free(out);
}

Test(graph, escapes_what_xml_cannot_hold, .init = setup, .fini = teardown)
{
	struct history_entry	 e;
	char			*out;
	int			 c, rv;

	cr_assert_geq(c = history_child(&gh, "x\"'>\x01\xff\xc3\xa9"), 0);
	memset(&e, 0, sizeof(e));
	e.child = c;
	e.n[HISTORY_FALLBACK] = 1;
	cr_assert_eq(history_add(&gh, 29453760 + 601, 1, &e, 1), 0);
	out = svg(29453760, 29453760 + 602, &rv);
	cr_assert_eq(rv, 0);
	cr_assert_not_null(strstr(out,
	    "x&quot;&apos;&gt;??\xc3\xa9: verdicts"));
	free(out);
}

/* A shadow's refusals: a line of their own, named in the legend. */
Test(graph, would_have_refused, .init = setup, .fini = teardown)
{
	struct history_entry	 e;
	char			*out;
	int			 c, rv;

	cr_assert_geq(c = history_child(&gh, "trial"), 0);
	memset(&e, 0, sizeof(e));
	e.child = c;
	e.n[HISTORY_ACCEPT] = 4;
	e.n[HISTORY_WOULD_REFUSE] = 3;
	cr_assert_eq(history_add(&gh, 29453760 + 601, 4, &e, 1), 0);
	out = svg(29453760, 29453760 + 602, &rv);
	cr_assert_eq(rv, 0);
	cr_assert_not_null(strstr(out, "trial: verdicts"));
	cr_assert_not_null(strstr(out, ">would have refused</text>"));
	cr_assert_not_null(strstr(out, "stroke=\"#e377c2\""));
	free(out);
}

Test(graph, refuses_empty_range, .init = setup, .fini = teardown)
{
	char	*out;
	int	 rv;

	out = svg(100, 100, &rv);
	cr_assert_eq(rv, -1);
	free(out);
	out = svg(100, 99, &rv);
	cr_assert_eq(rv, -1);
	free(out);
}

Test(graph, stream_error, .init = setup, .fini = teardown)
{
	FILE	*fp;

	cr_assert_not_null(fp = fopen("/dev/full", "w"));
	cr_assert_eq(graph_svg(fp, &gh, 29453760, 29453760 + 10), -1);
	fclose(fp);
}
