/*
 * test_lookup.c: the lookup queue of lua conditions (src/lookup.c),
 * without threads or a loop, table driven: each case is a run of
 * events (a session submits, a thread takes, answers, the owner
 * cancels, the loop collects) on a queue of a given bound, with what
 * each answers and, for collect, which owners got which answers.  Then
 * the copy of a session's view a lookup carries.
 */

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lookup.h"

enum ev {
	EV_END,
	EV_SUBMIT,	/* lookup n (new) of owner arg: want is the rc */
	EV_TAKE,	/* a thread takes one: want is its n, -1: none */
	EV_ANSWER,	/* lookup n answered arg */
	EV_CANCEL,	/* its owner gives lookup n up */
	EV_COLLECT	/* the loop: routed is what the owners got */
};

struct step {
	enum ev		 ev;
	int		 n;
	int		 arg;
	int		 want;
	size_t		 nqueued;	/* after it */
	const char	*routed;	/* EV_COLLECT: "owner:cond=result " */
};

struct lcase {
	const char	*name;
	size_t		 max;
	struct step	 steps[16];
};

static const struct lcase cases[] = {
	{ "answers go to their owners, in order", 4, {
	    { EV_SUBMIT, 0, 'A', 0, 1, NULL },
	    { EV_SUBMIT, 1, 'B', 0, 2, NULL },
	    { EV_TAKE, 0, 0, 0, 1, NULL },
	    { EV_TAKE, 0, 0, 1, 0, NULL },
	    { EV_TAKE, 0, 0, -1, 0, NULL },
	    { EV_ANSWER, 1, 0, 0, 0, NULL },
	    { EV_ANSWER, 0, 1, 0, 0, NULL },
	    { EV_COLLECT, 0, 0, 2, 0, "B:1=0 A:0=1 " } } },
	{ "past the bound, refused", 2, {
	    { EV_SUBMIT, 0, 'A', 0, 1, NULL },
	    { EV_SUBMIT, 1, 'B', 0, 2, NULL },
	    { EV_SUBMIT, 2, 'C', -1, 2, NULL },
	    /* A thread takes one: room for one more. */
	    { EV_TAKE, 0, 0, 0, 1, NULL },
	    { EV_SUBMIT, 3, 'C', 0, 2, NULL },
	    { EV_SUBMIT, 4, 'D', -1, 2, NULL },
	    { EV_ANSWER, 0, 1, 0, 2, NULL },
	    { EV_COLLECT, 0, 0, 1, 2, "A:0=1 " } } },
	{ "a queued lookup cancelled leaves the queue", 1, {
	    { EV_SUBMIT, 0, 'A', 0, 1, NULL },
	    { EV_CANCEL, 0, 0, 0, 0, NULL },
	    { EV_TAKE, 0, 0, -1, 0, NULL },
	    { EV_SUBMIT, 1, 'B', 0, 1, NULL },
	    { EV_TAKE, 0, 0, 1, 0, NULL },
	    { EV_ANSWER, 1, -1, 0, 0, NULL },
	    { EV_COLLECT, 0, 0, 1, 0, "B:1=-1 " } } },
	{ "a running lookup's owner gone: its answer finds nothing", 4, {
	    { EV_SUBMIT, 0, 'A', 0, 1, NULL },
	    { EV_SUBMIT, 1, 'B', 0, 2, NULL },
	    { EV_TAKE, 0, 0, 0, 1, NULL },
	    { EV_CANCEL, 0, 0, 0, 1, NULL },
	    { EV_ANSWER, 0, 1, 0, 1, NULL },
	    { EV_COLLECT, 0, 0, 0, 1, "" },
	    { EV_TAKE, 0, 0, 1, 0, NULL },
	    { EV_ANSWER, 1, 0, 0, 0, NULL },
	    { EV_COLLECT, 0, 0, 1, 0, "B:1=0 " } } },
	{ "an answer in but not collected, then cancelled", 4, {
	    { EV_SUBMIT, 0, 'A', 0, 1, NULL },
	    { EV_TAKE, 0, 0, 0, 0, NULL },
	    { EV_ANSWER, 0, 1, 0, 0, NULL },
	    { EV_CANCEL, 0, 0, 0, 0, NULL },
	    { EV_COLLECT, 0, 0, 0, 0, "" } } },
};

static char	routed[256];
static char	owners[8] = "ABCDEFG";

static void
route(void *owner, struct lookup *l)
{
	size_t	len = strlen(routed);

	snprintf(routed + len, sizeof(routed) - len, "%c:%zu=%d ",
	    *(char *)owner, l->cond, l->result);
}

static void
run(const struct lcase *c)
{
	struct lookup_queue	 q;
	struct lookup		*l[16] = { NULL }, *got;
	struct cond_view	 v;
	const struct step	*st;
	size_t			 i, k;
	int			 rc;

	memset(&v, 0, sizeof(v));
	v.id = "1.1";
	lookup_queue_init(&q, c->max, -1);
	for (i = 0; c->steps[i].ev != EV_END; i++) {
		st = &c->steps[i];
		switch (st->ev) {
		case EV_SUBMIT:
			l[st->n] = lookup_new((size_t)st->n, &v,
			    strchr(owners, st->arg));
			cr_assert_not_null(l[st->n]);
			rc = lookup_submit(&q, l[st->n]);
			cr_expect_eq(rc, st->want, "%s: step %zu: submit %d",
			    c->name, i, rc);
			if (rc == -1) {
				lookup_free(l[st->n]);
				l[st->n] = NULL;
			}
			break;
		case EV_TAKE:
			got = lookup_take(&q, 0);
			for (k = 0; k < 16 && (got == NULL || l[k] != got); k++)
				;
			cr_expect_eq(got == NULL ? -1 : (int)k, st->want,
			    "%s: step %zu: took %d", c->name, i,
			    got == NULL ? -1 : (int)k);
			break;
		case EV_ANSWER:
			lookup_answer(&q, l[st->n], st->arg);
			break;
		case EV_CANCEL:
			lookup_cancel(&q, l[st->n]);
			break;
		case EV_COLLECT:
			routed[0] = '\0';
			cr_expect_eq(lookup_collect(&q, route),
			    (size_t)st->want, "%s: step %zu", c->name, i);
			cr_expect_str_eq(routed, st->routed, "%s: step %zu: "
			    "routed \"%s\"", c->name, i, routed);
			break;
		case EV_END:
			break;
		}
		cr_expect_eq(q.nqueued, st->nqueued, "%s: step %zu: %zu queued",
		    c->name, i, q.nqueued);
	}
	/* What is left, freed as a worker's end would. */
	while ((got = lookup_take(&q, 0)) != NULL)
		lookup_answer(&q, got, -1);
	lookup_collect(&q, NULL);
}

Test(lookup, queue)
{
	size_t	i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		run(&cases[i]);
}

/* The session's side: two macros and a child's verdict. */
static void
each_macro(void *arg, void (*fn)(void *, const char *, const char *),
    void *fnarg)
{
	(void)arg;
	fn(fnarg, "j", "mx.example");
	fn(fnarg, "auth_authen", NULL);
}

static void
each_child(void *arg, void (*fn)(void *, const char *, const char *),
    void *fnarg)
{
	(void)arg;
	fn(fnarg, "spam", "accept");
}

/* At end of message: the copy's headers, the verdicts in the message. */
static void
each_header(void *arg, void (*fn)(void *, const char *, const char *),
    void *fnarg)
{
	(void)arg;
	fn(fnarg, "X-Spam-Flag", "YES");
	fn(fnarg, "Subject", "hi");
}

static void
each_verdict(void *arg, void (*fn)(void *, const char *, const char *),
    void *fnarg)
{
	(void)arg;
	fn(fnarg, "spam", "modified");
}

static void
collect_pairs(void *arg, const char *name, const char *value)
{
	size_t	len = strlen(arg);

	snprintf((char *)arg + len, 128 - len, "%s=%s;", name, value);
}

Test(lookup, view_copied)
{
	struct cond_view	 v;
	struct lookup		*l;
	char			 sender[] = "<a@example.com>";
	char			 rcpts[] = "<b@x.test>\0<c@x.test>";
	char			 pairs[128] = "";

	memset(&v, 0, sizeof(v));
	v.id = "7.3";
	v.stage = SMFIC_RCPT;
	v.family = '4';
	v.client_addr = "192.0.2.1";
	v.sender = sender;
	v.rcpt = "<c@x.test>";
	v.recipients = rcpts;
	v.recipients_len = sizeof(rcpts);
	v.open_sessions = 5;
	v.each_macro = each_macro;
	v.each_child = each_child;
	v.each_header = each_header;
	v.each_verdict = each_verdict;
	v.size = 1234;
	cr_assert_not_null(l = lookup_new(3, &v, NULL));
	/* The session goes on (or is freed): the copy does not move. */
	memset(sender, 'x', sizeof(sender) - 1);
	memset(rcpts, 0, sizeof(rcpts));
	cr_expect_str_eq(l->view.sender, "<a@example.com>");
	cr_expect_str_eq(l->view.id, "7.3");
	cr_expect_str_eq(l->view.rcpt, "<c@x.test>");
	cr_expect_null(l->view.client_name);
	cr_expect_null(l->view.helo);
	cr_expect_eq(l->view.stage, SMFIC_RCPT);
	cr_expect_eq(l->view.family, '4');
	cr_expect_eq(l->view.open_sessions, 5);
	cr_expect_eq(l->view.recipients_len, sizeof(rcpts));
	cr_expect_str_eq(l->view.recipients + 11, "<c@x.test>");
	l->view.each_macro(l->view.arg, collect_pairs, pairs);
	cr_expect_str_eq(pairs, "j=mx.example;auth_authen=;");
	pairs[0] = '\0';
	l->view.each_child(l->view.arg, collect_pairs, pairs);
	cr_expect_str_eq(pairs, "spam=accept;");
	pairs[0] = '\0';
	l->view.each_header(l->view.arg, collect_pairs, pairs);
	cr_expect_str_eq(pairs, "X-Spam-Flag=YES;Subject=hi;");
	pairs[0] = '\0';
	l->view.each_verdict(l->view.arg, collect_pairs, pairs);
	cr_expect_str_eq(pairs, "spam=modified;");
	cr_expect_eq(l->view.size, 1234);
	cr_expect_str_eq(l->view.macro(l->view.arg, "j"), "mx.example");
	cr_expect_null(l->view.macro(l->view.arg, "i"));
	cr_expect_null(l->view.dns);
	lookup_free(l);
}
