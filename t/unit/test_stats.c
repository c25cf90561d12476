/*
 * test_stats.c: the shared counters (src/stats.c): verdicts of replies,
 * stages, reply time buckets and quantiles, child entries by name, the
 * Prometheus exposition.
 */

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "milter.h"
#include "stats.h"

Test(stats, verdict_of_replies)
{
	cr_assert_eq(verdict_of(SMFIR_ACCEPT, NULL), VERDICT_ACCEPT);
	cr_assert_eq(verdict_of(SMFIR_CONTINUE, NULL), VERDICT_ACCEPT);
	cr_assert_eq(verdict_of(SMFIR_REJECT, NULL), VERDICT_REJECT);
	cr_assert_eq(verdict_of(SMFIR_TEMPFAIL, NULL), VERDICT_TEMPFAIL);
	cr_assert_eq(verdict_of(SMFIR_SHUTDOWN, NULL), VERDICT_TEMPFAIL);
	cr_assert_eq(verdict_of(SMFIR_DISCARD, NULL), VERDICT_DISCARD);
	cr_assert_eq(verdict_of(SMFIR_REPLYCODE, "451 4.7.1 later"),
	    VERDICT_TEMPFAIL);
	cr_assert_eq(verdict_of(SMFIR_REPLYCODE, "550 5.7.1 no"),
	    VERDICT_REJECT);
	cr_assert_eq(verdict_of(SMFIR_PROGRESS, NULL), VERDICT_NONE);
	cr_assert_str_eq(verdict_name(VERDICT_QUARANTINE), "quarantine");
}

Test(stats, stages_of_commands)
{
	cr_assert_eq(milter_stage(SMFIC_OPTNEG), STAGE_NEGOTIATE);
	cr_assert_eq(milter_stage(SMFIC_RCPT), STAGE_RCPT);
	cr_assert_eq(milter_stage(SMFIC_HEADER), STAGE_HEADER);
	cr_assert_eq(milter_stage(SMFIC_BODYEOB), STAGE_EOM);
	cr_assert_eq(milter_stage(SMFIC_UNKNOWN), STAGE_UNKNOWN);
	cr_assert_eq(milter_stage(SMFIC_ABORT), -1);
	cr_assert_eq(milter_stage(SMFIC_MACRO), -1);
	cr_assert_eq(milter_stage('\0'), -1);
	cr_assert_str_eq(milter_stages[STAGE_EOM].name, "eom");
}

Test(stats, buckets_and_quantiles)
{
	struct stats_child	sc;
	struct stats_hist	sum;
	int			i;

	memset(&sc, 0, sizeof(sc));
	cr_assert_eq(stats_quantile(&sc.latency[STAGE_RCPT], 0.99), 0);
	/* 98 fast replies, 2 slow: p99 falls in the slow bucket. */
	for (i = 0; i < 98; i++)
		stats_time(&sc, STAGE_RCPT, 400);		/* <= 500 us */
	stats_time(&sc, STAGE_RCPT, 200000);			/* <= 250 ms */
	stats_time(&sc, STAGE_RCPT, 200000);
	cr_assert_eq(sc.latency[STAGE_RCPT].count, 100);
	cr_assert_eq(sc.latency[STAGE_RCPT].sum_us, 98 * 400 + 400000);
	cr_assert_eq(sc.latency[STAGE_RCPT].bucket[0], 98);
	cr_assert_eq(sc.latency[STAGE_RCPT].bucket[8], 2);
	cr_assert_float_eq(stats_quantile(&sc.latency[STAGE_RCPT], 0.5),
	    0.0005, 1e-9);
	cr_assert_float_eq(stats_quantile(&sc.latency[STAGE_RCPT], 0.99),
	    0.25, 1e-9);
	/* Beyond the last finite bound: +Inf, shown as that bound. */
	stats_time(&sc, STAGE_EOM, 100000000);
	cr_assert_eq(sc.latency[STAGE_EOM].bucket[STATS_NBUCKETS - 1], 1);
	cr_assert_float_eq(stats_quantile(&sc.latency[STAGE_EOM], 0.99),
	    30.0, 1e-9);
	memset(&sum, 0, sizeof(sum));
	for (i = 0; i < NSTAGES; i++)
		stats_hist_sum(&sum, &sc.latency[i]);
	cr_assert_eq(sum.count, 101);
	cr_assert_eq(sum.bucket[0], 98);
}

Test(stats, children_by_name)
{
	struct stats		*st = stats_map();
	struct stats_child	*a, *b;
	char			 err[STATS_ERROR_MAX];
	int			 i;

	a = stats_child(st, "a");
	b = stats_child(st, "b");
	cr_assert_not_null(a);
	cr_assert_neq(a, b);
	cr_assert_eq(stats_child(st, "a"), a);
	cr_assert_eq(a->enabled, -1);
	cr_assert_eq(a->evaluation, -1);
	a->enabled = 0;
	stats_clear_overrides(st);
	cr_assert_eq(a->enabled, -1);
	stats_get_error(a, err, sizeof(err));
	cr_assert_str_eq(err, "");
	stats_set_error(a, "rcpt: timeout");
	stats_get_error(a, err, sizeof(err));
	cr_assert_str_eq(err, "rcpt: timeout");
	cr_assert_neq(a->last_fail, 0);
	cr_assert_eq(a->error_seq % 2, 0);
	for (i = 2; i < STATS_MAX_CHILDREN; i++) {
		snprintf(err, sizeof(err), "c%d", i);
		cr_assert_not_null(stats_child(st, err));
	}
	cr_assert_null(stats_child(st, "one too many"));
	/* A forgotten entry is free, zeroed, for the next new name. */
	cr_assert_str_eq(stats_child_name((size_t)(b - st->children)), "b");
	stats_add(&b->sessions, 5);
	stats_child_forget(st, (size_t)(b - st->children));
	cr_assert_str_eq(stats_child_name((size_t)(b - st->children)), "");
	cr_assert_eq(stats_child(st, "new"), b);
	cr_assert_eq(b->sessions, 0);
	cr_assert_eq(b->enabled, -1);
}

Test(stats, prometheus_exposition)
{
	struct stats		*st = stats_map();
	struct stats_child	*a = stats_child(st, "dkim");
	char			*out = NULL;
	size_t			 len = 0;
	FILE			*fp = open_memstream(&out, &len);

	stats_add(&st->sessions, 3);
	stats_add(&st->session_verdicts[VERDICT_REJECT], 1);
	stats_add(&a->verdicts[VERDICT_ACCEPT], 2);
	stats_add(&a->evaluated[VERDICT_REJECT], 1);
	stats_time(a, STAGE_EOM, 3000);
	st->workers[0].pid = 1;
	st->workers[0].open = 4;
	stats_prometheus(fp, st);
	fclose(fp);
	cr_assert(strstr(out, "# TYPE milterd_sessions_total counter\n"
	    "milterd_sessions_total 3\n") != NULL, "%s", out);
	cr_assert(strstr(out, "milterd_sessions_open 4\n") != NULL);
	cr_assert(strstr(out, "milterd_session_verdicts_total{verdict="
	    "\"reject\"} 1\n") != NULL);
	cr_assert(strstr(out, "milterd_child_verdicts_total{child=\"dkim\","
	    "verdict=\"accept\"} 2\n") != NULL);
	cr_assert(strstr(out, "milterd_child_evaluation_verdicts_total{"
	    "child=\"dkim\",verdict=\"reject\"} 1\n") != NULL);
	cr_assert(strstr(out, "# TYPE milterd_child_reply_seconds histogram\n")
	    != NULL);
	/* Cumulative buckets: 3 ms is under 5 ms and every bound above. */
	cr_assert(strstr(out, "milterd_child_reply_seconds_bucket{child="
	    "\"dkim\",stage=\"eom\",le=\"0.0025\"} 0\n") != NULL, "%s", out);
	cr_assert(strstr(out, "milterd_child_reply_seconds_bucket{child="
	    "\"dkim\",stage=\"eom\",le=\"0.005\"} 1\n") != NULL);
	cr_assert(strstr(out, "milterd_child_reply_seconds_bucket{child="
	    "\"dkim\",stage=\"eom\",le=\"+Inf\"} 1\n") != NULL);
	cr_assert(strstr(out, "milterd_child_reply_seconds_sum{child=\"dkim\","
	    "stage=\"eom\"} 0.003000\n") != NULL);
	/* Stages without replies are left out. */
	cr_assert(strstr(out, "stage=\"rcpt\"") == NULL);
	free(out);
}

/*
 * Every counter of the child table shows in the exposition with its own
 * value (and, through control.c, in milterctl stats' JSON and text).
 */
Test(stats, child_counters_exposed)
{
	struct stats		*st = stats_map();
	struct stats_child	*a = stats_child(st, "kid");
	char			*out = NULL, want[256];
	size_t			 len = 0, k;
	uint64_t		*p;
	FILE			*fp;

	for (k = 0; k < STATS_NCHILD_COUNTERS; k++) {
		p = (uint64_t *)((char *)a + stats_child_counters[k].offset);
		stats_add(stats_child_counters[k].verdicts ?
		    &p[VERDICT_DISCARD] : p, 10 + k);
		cr_assert_eq(stats_child_value(a, k, VERDICT_DISCARD), 10 + k);
	}
	cr_assert_not_null(fp = open_memstream(&out, &len));
	stats_prometheus(fp, st);
	fclose(fp);
	for (k = 0; k < STATS_NCHILD_COUNTERS; k++) {
		if (stats_child_counters[k].verdicts)
			snprintf(want, sizeof(want), "milterd_%s{child=\"kid\","
			    "verdict=\"discard\"} %zu\n",
			    stats_child_counters[k].metric, 10 + k);
		else
			snprintf(want, sizeof(want), "milterd_%s{child=\"kid\"} "
			    "%zu\n", stats_child_counters[k].metric, 10 + k);
		cr_assert_not_null(strstr(out, want), "%s", want);
	}
	free(out);
}

/*
 * The master checks what it reads from the region (any worker can write
 * it): times before the epoch or past now + a day count as never, ages
 * are never negative nor overflow, the last error comes out cut and
 * printable.
 */
Test(stats, region_values_checked)
{
	static const struct {
		int64_t	t, now, time, age;
	} cases[] = {
		{ 0, 1000, 0, 0 },
		{ 1, 1000, 1, 999 },
		{ 1000, 1000, 1000, 0 },
		{ 1000 + 86400, 1000, 1000 + 86400, 0 },
		{ 1001 + 86400, 1000, 0, 0 },
		{ -1, 1000, 0, 0 },
		{ INT64_MIN, 1000, 0, 0 },
		{ INT64_MAX, 1000, 0, 0 },
	};
	struct stats_child	*sc;
	char			 buf[STATS_ERROR_MAX];
	size_t			 i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cr_expect_eq(stats_region_time(cases[i].t, cases[i].now),
		    cases[i].time, "time %lld", (long long)cases[i].t);
		cr_expect_eq(stats_region_age(cases[i].t, cases[i].now),
		    cases[i].age, "age %lld", (long long)cases[i].t);
	}
	cr_assert_not_null(sc = calloc(1, sizeof(*sc)));
	memset(sc->last_error, 'x', sizeof(sc->last_error));
	memcpy(sc->last_error, "a\033[2Jb\n\xff", 8);
	stats_get_error(sc, buf, sizeof(buf));
	cr_assert_eq(strlen(buf), sizeof(buf) - 1);
	cr_assert_eq(strncmp(buf, "a?[2Jb??xxx", 11), 0, "%s", buf);
	free(sc);
}

/* Each session-wide counter reads its own field and is exposed. */
Test(stats, global_counters_exposed)
{
	struct stats	*st = stats_map();
	char		*out = NULL, want[160];
	size_t		 len = 0, k;
	uint64_t	*p;
	FILE		*fp;

	for (k = 0; k < STATS_NGLOBAL; k++) {
		if (stats_globals[k].offset == SIZE_MAX)
			continue;
		p = (uint64_t *)((char *)st + stats_globals[k].offset);
		stats_add(stats_globals[k].verdicts >= 0 ?
		    &p[VERDICT_DISCARD] : p, 20 + k);
		cr_assert_eq(stats_global_value(st, k, VERDICT_DISCARD),
		    20 + k);
	}
	cr_assert_not_null(fp = open_memstream(&out, &len));
	stats_prometheus(fp, st);
	fclose(fp);
	for (k = 0; k < STATS_NGLOBAL; k++) {
		if (stats_globals[k].offset == SIZE_MAX)
			continue;
		if (stats_globals[k].verdicts >= 0)
			snprintf(want, sizeof(want), "milterd_%s{verdict="
			    "\"discard\"} %zu\n", stats_globals[k].metric,
			    20 + k);
		else
			snprintf(want, sizeof(want), "milterd_%s %zu\n",
			    stats_globals[k].metric, 20 + k);
		cr_assert_not_null(strstr(out, want), "%s", want);
	}
	free(out);
}
