/*
 * test_health.c: the health of a child's address (src/health.c), table
 * driven: each case is a run of events on one address (a session asks
 * to try it, fails, negotiates, ends sane) at given times, with what
 * each answers and the state after it; then the child's state from its
 * addresses', and the /health body.
 */

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "health.h"
#include "stats.h"

#define S	1000000ULL	/* a second, in microseconds */

enum ev {
	EV_END,
	EV_ADMIT,	/* a session asks: want is the enum health_try */
	EV_FAIL,	/* it failed (probe: arg) */
	EV_ANSWER,	/* it negotiated */
	EV_OK		/* it ended sane */
};

struct step {
	enum ev		 ev;
	uint64_t	 at;	/* microseconds */
	int		 arg;	/* EV_ADMIT: the answer; EV_FAIL: probe */
	enum health	 state;	/* after it */
	uint32_t	 down_time;	/* after it, when down */
};

struct hcase {
	const char	*name;
	int		 failures_to_down;
	int		 down_time;
	struct step	 steps[16];
	uint64_t	 changes;
};

static const struct hcase cases[] = {
	{ "down after three in a row", 3, 10, {
	    { EV_FAIL, 0, 0, HEALTH_UP, 0 },
	    { EV_FAIL, 1, 0, HEALTH_UP, 0 },
	    { EV_ADMIT, 2, HEALTH_TRY, HEALTH_UP, 0 },
	    { EV_FAIL, 3, 0, HEALTH_DOWN, 10 },
	    { EV_ADMIT, 4, HEALTH_SKIP, HEALTH_DOWN, 10 },
	    { EV_ADMIT, 9 * S, HEALTH_SKIP, HEALTH_DOWN, 10 } }, 1 },
	{ "a sane session breaks the row", 3, 10, {
	    { EV_FAIL, 0, 0, HEALTH_UP, 0 },
	    { EV_FAIL, 1, 0, HEALTH_UP, 0 },
	    { EV_OK, 2, 0, HEALTH_UP, 0 },
	    { EV_FAIL, 3, 0, HEALTH_UP, 0 },
	    { EV_FAIL, 4, 0, HEALTH_UP, 0 },
	    { EV_ADMIT, 5, HEALTH_TRY, HEALTH_UP, 0 } }, 0 },
	{ "one probe after down_time, then up", 1, 10, {
	    { EV_FAIL, 0, 0, HEALTH_DOWN, 10 },
	    { EV_ADMIT, 10 * S, HEALTH_PROBE, HEALTH_PROBING, 10 },
	    { EV_ADMIT, 10 * S + 1, HEALTH_SKIP, HEALTH_PROBING, 10 },
	    { EV_ANSWER, 10 * S + 2, 0, HEALTH_UP, 0 },
	    { EV_ADMIT, 10 * S + 3, HEALTH_TRY, HEALTH_UP, 0 } }, 3 },
	{ "a failed probe doubles down_time up to the cap", 1, 100, {
	    { EV_FAIL, 0, 0, HEALTH_DOWN, 100 },
	    { EV_ADMIT, 100 * S, HEALTH_PROBE, HEALTH_PROBING, 100 },
	    { EV_FAIL, 101 * S, 1, HEALTH_DOWN, 200 },
	    { EV_ADMIT, 200 * S, HEALTH_SKIP, HEALTH_DOWN, 200 },
	    { EV_ADMIT, 301 * S, HEALTH_PROBE, HEALTH_PROBING, 200 },
	    { EV_FAIL, 302 * S, 1, HEALTH_DOWN, HEALTH_DOWN_TIME_MAX },
	    { EV_ADMIT, 602 * S, HEALTH_PROBE, HEALTH_PROBING,
		HEALTH_DOWN_TIME_MAX },
	    { EV_FAIL, 603 * S, 1, HEALTH_DOWN, HEALTH_DOWN_TIME_MAX } },
	    7 },
	{ "a session from before the down does not end the probe", 1, 10, {
	    { EV_FAIL, 0, 0, HEALTH_DOWN, 10 },
	    { EV_ADMIT, 10 * S, HEALTH_PROBE, HEALTH_PROBING, 10 },
	    { EV_FAIL, 10 * S + 1, 0, HEALTH_PROBING, 10 } }, 2 },
	{ "a lost probe is taken over after probe_us", 1, 10, {
	    { EV_FAIL, 0, 0, HEALTH_DOWN, 10 },
	    { EV_ADMIT, 10 * S, HEALTH_PROBE, HEALTH_PROBING, 10 },
	    { EV_ADMIT, 14 * S, HEALTH_SKIP, HEALTH_PROBING, 10 },
	    { EV_ADMIT, 15 * S, HEALTH_PROBE, HEALTH_PROBING, 10 } }, 2 },
	{ "failures_to_down 0: never down", 0, 10, {
	    { EV_FAIL, 0, 0, HEALTH_UP, 0 },
	    { EV_FAIL, 1, 0, HEALTH_UP, 0 },
	    { EV_FAIL, 2, 0, HEALTH_UP, 0 },
	    { EV_ADMIT, 3, HEALTH_TRY, HEALTH_UP, 0 } }, 0 },
};

Test(health, cases)
{
	struct stats_health	 h;
	struct health_conf	 hc;
	const struct hcase	*c;
	const struct step	*st;
	uint64_t		 changes;
	size_t			 i, j;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		c = &cases[i];
		memset(&h, 0, sizeof(h));
		changes = 0;
		hc.child = "c";
		hc.addr = "unix:/x";
		hc.failures_to_down = c->failures_to_down;
		hc.down_time = c->down_time;
		hc.probe_us = 5 * S;
		hc.changes = &changes;
		for (j = 0; c->steps[j].ev != EV_END; j++) {
			st = &c->steps[j];
			switch (st->ev) {
			case EV_ADMIT:
				cr_assert_eq(health_admit(&h, &hc, st->at),
				    (enum health_try)st->arg, "%s: step %zu",
				    c->name, j);
				break;
			case EV_FAIL:
				health_failed(&h, &hc, st->at, st->arg,
				    "connect: timeout");
				break;
			case EV_ANSWER:
				health_answered(&h, &hc);
				break;
			case EV_OK:
				health_ok(&h);
				break;
			case EV_END:
				break;
			}
			cr_assert_eq(health_state(&h), st->state,
			    "%s: step %zu: %s", c->name, j,
			    health_name(health_state(&h)));
			if (st->state != HEALTH_UP)
				cr_assert_eq(h.down_time, st->down_time,
				    "%s: step %zu: down_time %u", c->name, j,
				    h.down_time);
		}
		cr_assert_eq(changes, c->changes, "%s: %llu changes", c->name,
		    (unsigned long long)changes);
	}
}

/* The child: up when one address is, probing when one is, else down. */
Test(health, child_of_addresses)
{
	static const struct {
		uint32_t	naddrs;
		enum health	a[3];
		enum health	want;
	} t[] = {
		{ 1, { HEALTH_UP }, HEALTH_UP },
		{ 1, { HEALTH_DOWN }, HEALTH_DOWN },
		{ 2, { HEALTH_DOWN, HEALTH_UP }, HEALTH_UP },
		{ 2, { HEALTH_DOWN, HEALTH_PROBING }, HEALTH_PROBING },
		{ 3, { HEALTH_DOWN, HEALTH_DOWN, HEALTH_DOWN }, HEALTH_DOWN },
		/* Not set by a master: nothing to say it is down. */
		{ 0, { HEALTH_DOWN }, HEALTH_UP },
	};
	struct stats_child	*sc = calloc(1, sizeof(*sc));
	size_t			 i, j;

	cr_assert_not_null(sc);
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		memset(sc, 0, sizeof(*sc));
		sc->naddrs = t[i].naddrs;
		for (j = 0; j < 3; j++)
			sc->health[j].state = t[i].a[j];
		cr_assert_eq(health_child(sc), t[i].want, "case %zu", i);
	}
	free(sc);
}

/* GET /health's body: enabled children not up, named, or all up. */
Test(health, report)
{
	struct stats_child	*sc = calloc(3, sizeof(*sc));
	struct milter_conf	 m[3];
	struct conf		 c;
	char			 buf[256];
	FILE			*fp;
	size_t			 i;

	cr_assert_not_null(sc);
	memset(&c, 0, sizeof(c));
	memset(m, 0, sizeof(m));
	c.milters = m;
	c.nmilters = 3;
	for (i = 0; i < 3; i++) {
		m[i].name = (char *)(uintptr_t)(i == 0 ? "a" : i == 1 ? "b" :
		    "c");
		m[i].enabled = 1;
		m[i].stats = &sc[i];
		sc[i].enabled = sc[i].evaluation = -1;
		sc[i].naddrs = 1;
	}
	fp = fmemopen(buf, sizeof(buf), "w");
	cr_assert_eq(health_report(fp, &c), 0);
	fclose(fp);
	cr_assert_str_eq(buf, "milterd: ok, 3 enabled children up\n");

	sc[1].health[0].state = HEALTH_DOWN;
	sc[2].health[0].state = HEALTH_PROBING;
	fp = fmemopen(buf, sizeof(buf), "w");
	cr_assert_eq(health_report(fp, &c), 2);
	fclose(fp);
	cr_assert_str_eq(buf, "milterd: not up: b (down), c (probing); "
	    "1 up\n");

	/* Disabled (by milterctl here): it does not count. */
	sc[1].enabled = 0;
	fp = fmemopen(buf, sizeof(buf), "w");
	cr_assert_eq(health_report(fp, &c), 1);
	fclose(fp);
	cr_assert_str_eq(buf, "milterd: not up: c (probing); 1 up\n");
	free(sc);
}
