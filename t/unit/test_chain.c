/*
 * test_chain.c: the chain engine (src/chain.c), driven by tables of
 * events and the actions expected; its rules of negotiation, which
 * replies decide, header value translation.
 */

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "chain.h"
#include "cond.h"

static const struct milter_optneg	postfix = { 6, 0x1ff, 0x1fffff,
	{ NULL } };

Test(chain, actions_united_steps_intersected)
{
	struct milter_optneg	kids[2], out;
	struct macro_lists	ml;

	memset(kids, 0, sizeof(kids));
	kids[0].version = kids[1].version = 6;
	kids[0].actions = SMFIF_ADDHDRS;
	kids[1].actions = SMFIF_CHGBODY | SMFIF_QUARANTINE;
	kids[0].protocol = SMFIP_NOHELO | SMFIP_NOUNKNOWN | SMFIP_NR_CONN;
	kids[1].protocol = SMFIP_NOHELO | SMFIP_NR_CONN | SMFIP_NOMAIL;
	chain_merge_optneg(&postfix, kids, 2, NULL, &out, &ml);
	cr_assert_eq(out.version, 6);
	cr_assert_eq(out.actions, SMFIF_ADDHDRS | SMFIF_CHGBODY |
	    SMFIF_QUARANTINE);
	/* Only what both skip is skipped; content replies always waived. */
	cr_assert_eq(out.protocol, SMFIP_NOHELO | SMFIP_NR_CONN |
	    SMFIP_NR_HDR | SMFIP_NR_EOH | SMFIP_NR_BODY | SMFIP_HDR_LEADSPC);
	cr_assert_null(out.macros[SMFIM_CONNECT]);
}

Test(chain, no_children_asks_for_every_step)
{
	struct milter_optneg	out;
	struct macro_lists	ml;

	chain_merge_optneg(&postfix, NULL, 0, NULL, &out, &ml);
	cr_assert_eq(out.actions, 0);
	cr_assert_eq(out.protocol & SMFIP_NO_MASK, 0);
}

Test(chain, bounded_by_the_offer)
{
	struct milter_optneg	v2 = { 2, 0x1ff, 0x7f, { NULL } };
	struct milter_optneg	kid, out;
	struct macro_lists	ml;

	memset(&kid, 0, sizeof(kid));
	kid.version = 6;
	kid.actions = SMFIF_CHGFROM | SMFIF_ADDHDRS;
	kid.protocol = SMFIP_NR_RCPT;
	kid.macros[SMFIM_CONNECT] = "{client_addr}";
	v2.actions = 0x3f;
	chain_merge_optneg(&v2, &kid, 1, NULL, &out, &ml);
	cr_assert_eq(out.version, 2);
	cr_assert_eq(out.actions, SMFIF_ADDHDRS);
	/* No leading space, no no-reply bits, no macro lists in v2. */
	cr_assert_eq(out.protocol, 0);
	cr_assert_null(out.macros[SMFIM_CONNECT]);
}

Test(chain, macro_lists_united_with_defaults)
{
	struct milter_optneg	kids[2], out;
	struct macro_lists	ml;

	memset(kids, 0, sizeof(kids));
	kids[0].version = kids[1].version = 6;
	kids[0].macros[SMFIM_ENVRCPT] = "{rcpt_addr} {x}";
	kids[1].macros[SMFIM_ENVRCPT] = "{x},{y}";
	kids[0].macros[SMFIM_CONNECT] = "{client_addr}";
	chain_merge_optneg(&postfix, kids, 2, NULL, &out, &ml);
	cr_assert_str_eq(out.macros[SMFIM_ENVRCPT], "{rcpt_addr} {x} {y}");
	/* Child 2 asked for nothing at connect: it keeps the defaults. */
	cr_assert_not_null(strstr(out.macros[SMFIM_CONNECT],
	    "{client_addr}"));
	cr_assert_not_null(strstr(out.macros[SMFIM_CONNECT], "{daemon_name}"));
	cr_assert_null(out.macros[SMFIM_HELO]);
	cr_assert(out.actions & SMFIF_SETSYMLIST);
}

/* milterd's own needs (the disconnect check's) come with the defaults. */
Test(chain, own_macros)
{
	static const char	*own[SMFIM_COUNT] = {
		[SMFIM_CONNECT] = "{daemon_addr} {daemon_port}"
	};
	struct milter_optneg	kid, out, nolists = postfix;
	struct macro_lists	ml;
	const char		*first;

	memset(&kid, 0, sizeof(kid));
	kid.version = 6;
	chain_merge_optneg(&postfix, &kid, 1, own, &out, &ml);
	cr_assert_not_null(strstr(out.macros[SMFIM_CONNECT],
	    "{daemon_port}"));
	/* The child asked for nothing: it still gets the MTA's defaults. */
	cr_assert_not_null(strstr(out.macros[SMFIM_CONNECT], "{daemon_name}"));
	/* Named once, though both lists have it. */
	first = strstr(out.macros[SMFIM_CONNECT], "{daemon_addr}");
	cr_assert_not_null(first);
	cr_assert_null(strstr(first + 1, "{daemon_addr}"));
	cr_assert_null(out.macros[SMFIM_HELO]);
	cr_assert(out.actions & SMFIF_SETSYMLIST);
	/* An MTA that cannot take lists gets none. */
	nolists.actions &= ~SMFIF_SETSYMLIST;
	chain_merge_optneg(&nolists, &kid, 1, own, &out, &ml);
	cr_assert_null(out.macros[SMFIM_CONNECT]);
}

Test(chain, deciding_replies)
{
	cr_assert(chain_decides(SMFIC_RCPT, SMFIR_REJECT));
	cr_assert(chain_decides(SMFIC_RCPT, SMFIR_TEMPFAIL));
	cr_assert(chain_decides(SMFIC_MAIL, SMFIR_REPLYCODE));
	cr_assert(chain_decides(SMFIC_BODYEOB, SMFIR_DISCARD));
	cr_assert(chain_decides(SMFIC_HELO, SMFIR_SHUTDOWN));
	/* Postfix ignores discard at connection level. */
	cr_assert(!chain_decides(SMFIC_CONNECT, SMFIR_DISCARD));
	cr_assert(!chain_decides(SMFIC_RCPT, SMFIR_CONTINUE));
	cr_assert(!chain_decides(SMFIC_RCPT, SMFIR_ACCEPT));
	cr_assert_eq(chain_ends_child(SMFIC_HELO, SMFIR_ACCEPT), 2);
	cr_assert_eq(chain_ends_child(SMFIC_RCPT, SMFIR_ACCEPT), 1);
	cr_assert_eq(chain_ends_child(SMFIC_RCPT, SMFIR_CONTINUE), 0);
}

Test(chain, actions_needed)
{
	cr_assert_eq(chain_action_needed(SMFIR_INSHEADER), SMFIF_ADDHDRS);
	cr_assert_eq(chain_action_needed(SMFIR_CHGHEADER), SMFIF_CHGHDRS);
	cr_assert_eq(chain_action_needed(SMFIR_REPLBODY), SMFIF_CHGBODY);
	cr_assert_eq(chain_action_needed(SMFIR_ADDRCPT_PAR),
	    SMFIF_ADDRCPT_PAR);
	cr_assert_eq(chain_action_needed(SMFIR_CHGFROM), SMFIF_CHGFROM);
	cr_assert_eq(chain_action_needed(SMFIR_CONTINUE), 0);
}

Test(chain, header_value_translation)
{
	/* Same convention: as is. */
	cr_assert_str_eq(chain_header_value(" v", 1, 1), " v");
	cr_assert_str_eq(chain_header_value("v", 0, 0), "v");
	/* Child without leading space, MTA with: one space to be added. */
	cr_assert_null(chain_header_value("v", 0, 1));
	cr_assert_str_eq(chain_header_value("", 0, 1), "");
	/* Child with, MTA without: the MTA adds it, so one goes. */
	cr_assert_str_eq(chain_header_value(" v", 1, 0), "v");
	cr_assert_str_eq(chain_header_value("\tv", 1, 0), "\tv");
}

Test(chain, fallback_replies)
{
	cr_assert_eq(chain_fallback_reply(FALLBACK_TEMPFAIL, SMFIR_ACCEPT),
	    SMFIR_TEMPFAIL);
	cr_assert_eq(chain_fallback_reply(FALLBACK_REJECT, SMFIR_CONTINUE),
	    SMFIR_REJECT);
	cr_assert_eq(chain_fallback_reply(FALLBACK_ACCEPT, SMFIR_CONTINUE),
	    SMFIR_CONTINUE);
	cr_assert_eq(chain_fallback_reply(FALLBACK_ACCEPT, SMFIR_ACCEPT),
	    SMFIR_ACCEPT);
}

/* Evaluation's log line: what a child's kept edits would have done. */
Test(chain, describe_edits)
{
	static const struct {
		struct milter_reply	 r;
		const char		*want;
	} t[] = {
		{ { .code = SMFIR_ADDHEADER, .u.header = { 0, "X-A",
		    "secret" } }, "header X-A added" },
		{ { .code = SMFIR_INSHEADER, .u.header = { 0, "X-Top",
		    "v" } }, "header X-Top inserted at 0" },
		{ { .code = SMFIR_CHGHEADER, .u.header = { 2, "Subject",
		    "new" } }, "header Subject[2] changed" },
		{ { .code = SMFIR_CHGHEADER, .u.header = { 1, "X-Old",
		    "" } }, "header X-Old[1] deleted" },
		{ { .code = SMFIR_ADDRCPT, .u.str = "<n@example.com>" },
		    "recipient <n@example.com> added" },
		{ { .code = SMFIR_ADDRCPT_PAR, .u.addr = { "<p@example.com>",
		    "NOTIFY=NEVER" } }, "recipient <p@example.com> added" },
		{ { .code = SMFIR_DELRCPT, .u.str = "<b@example.com>" },
		    "recipient <b@example.com> deleted" },
		{ { .code = SMFIR_CHGFROM, .u.addr = { "<f@example.com>",
		    NULL } }, "sender changed to <f@example.com>" },
		{ { .code = SMFIR_QUARANTINE, .u.str = "held" },
		    "quarantine" },
	};
	struct mbuf		 m;
	struct milter_reply	 body = { .code = SMFIR_REPLBODY };
	char			 buf[512], small[40];
	size_t			 i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		mbuf_init(&m);
		cr_assert_eq(milter_put_reply(&m, &t[i].r), 0);
		chain_describe_edits(m.data, m.len, 0, buf, sizeof(buf));
		cr_assert_str_eq(buf, t[i].want, "entry %zu", i);
		mbuf_free(&m);
	}

	/* A body in two chunks is one item, said last; items in order. */
	mbuf_init(&m);
	body.u.body.data = (const uint8_t *)"0123456789";
	body.u.body.len = 10;
	cr_assert_eq(milter_put_reply(&m, &body), 0);
	cr_assert_eq(milter_put_reply(&m, &t[0].r), 0);
	body.u.body.len = 4;
	cr_assert_eq(milter_put_reply(&m, &body), 0);
	cr_assert_eq(milter_put_reply(&m, &t[6].r), 0);
	chain_describe_edits(m.data, m.len, 0, buf, sizeof(buf));
	cr_assert_str_eq(buf, "header X-A added, recipient <b@example.com> "
	    "deleted, body replaced (14 bytes)");
	/* Too long: cut on ", ...". */
	chain_describe_edits(m.data, m.len, 0, small, sizeof(small));
	cr_assert_eq(strlen(small), sizeof(small) - 1);
	cr_assert_str_eq(small + strlen(small) - 5, ", ...");
	mbuf_free(&m);
}

/*
 * The engine, driven by tables: each case is children (per child its
 * fallback a/t/r/d/q/s: accept, tempfail, reject, discard, quarantine,
 * shutdown; then e for evaluation, w for a shadow (evaluation,
 * evaluation_wait = false), R for a recipient condition, L for
 * recipients = all, M for a condition on the message), the dispatch
 * and MTA, and steps: an event
 * and the actions it must yield, written as render() writes them.
 *
 * Events: O (the MTA's options, every action; O- all but quarantine),
 * nI (child I negotiated), fI (failed), zI (failed: milterd out of a
 * resource),
 * a command letter C H M R T U (decided at once; with ? it waits for
 * d), kI (kept out by a condition), sI+ sI- (shown this recipient or
 * not), rI:X (final reply X), eI:X (an edit X; eI:X! is refused), xI
 * and XI (edits taken, X: a body replaced among them), E (end of
 * message; E! incomplete copy), DI (drained), A (abort), K, Q, g:X (the
 * client gone, X answered), b1 b0 (replaced body sent or not), @I
 * (child I's replay back at the headers), mI+ mI- (child I's
 * conditions on the message hold, or keep it out).
 * #hI=N #sI=N check a child's recipients hidden / shown; vI=WORD its
 * verdict in this message (vI=- none).
 */

struct chain_step {
	const char	*ev;
	const char	*want;
};

struct chain_case {
	const char		*name;
	const char		*kids;
	enum dispatch		 dispatch;
	enum mta		 mta;
	enum fallback		 fallback;
	struct chain_step	 steps[24];
};

static struct cond	 case_conds[] = {
	{ .name = "rcpt", .stages = COND_BIT(STAGE_RCPT) },
	{ .name = "flagged", .stages = COND_EOM },
};
static struct cond_ref	 rcpt_ref = { 0, 0 };
static struct cond_ref	 keep_ref = { 0, 0 };
static struct cond_ref	 eom_ref = { 1, 0 };

static const struct milter_optneg	all_steps = { 6, 0x1ff, 0, { NULL } };

static void
render(const struct chain_action *a, char *buf, size_t len)
{
	static const char	*names[] = {
		[ACT_START] = "start", [ACT_QUIT] = "quit",
		[ACT_ABORT] = "abort", [ACT_SEND] = "send",
		[ACT_REPLAY] = "replay", [ACT_TAKE_EDITS] = "take",
		[ACT_VERDICT] = "verdict", [ACT_EVALUATED] = "eval",
		[ACT_EDITS_DROPPED] = "dropped", [ACT_STOPPED] = "stopped",
		[ACT_QUARANTINE] = "quarantine", [ACT_DECIDE] = "decide",
		[ACT_SHADOW] = "shadow", [ACT_SHADOW_EOM] = "shadoweom",
	};
	size_t			 n = strlen(buf);

	if (n > 0)
		strlcat(buf, " ", len), n++;
	switch (a->act) {
	case ACT_OPTNEG:
		strlcat(buf, "optneg", len);
		break;
	case ACT_ANSWER:
		snprintf(buf + n, len - n, "%s:%c", a->wait ? "answer" :
		    "quiet", a->code);
		break;
	case ACT_RCPT_REFUSED:
		strlcat(buf, "refused", len);
		break;
	case ACT_FORWARD_EDITS:
		strlcat(buf, "forward", len);
		break;
	case ACT_SEND_BODY:
		strlcat(buf, "body", len);
		break;
	case ACT_MESSAGE_OVER:
		strlcat(buf, "over", len);
		break;
	case ACT_RESUME:
		strlcat(buf, "resume", len);
		break;
	default:
		snprintf(buf + n, len - n, "%s%zu%s", names[a->act], a->child,
		    a->act == ACT_SEND && !a->wait ? "-nr" : "");
		break;
	}
}

/* Every action queued so far, rendered; a replay sends all at once. */
static void
drain(struct chain *ch, char *buf, size_t len)
{
	struct chain_action	a;

	buf[0] = '\0';
	while (chain_take(ch, &a)) {
		if (a.act == ACT_REPLAY)
			ch->kids[a.child].replay.step = REPLAY_SENT;
		render(&a, buf, len);
	}
}

static void
chain_case_conf(const struct chain_case *tc, struct conf *conf,
    struct milter_conf *mcs, int *evaluation)
{
	const char	*p = tc->kids;
	size_t		 n = 0;

	memset(conf, 0, sizeof(*conf));
	conf->dispatch = tc->dispatch;
	conf->mta = tc->mta;
	conf->fallback = tc->fallback;
	conf->conds = case_conds;
	conf->nconds = 2;
	for (; *p != '\0'; n++) {
		memset(&mcs[n], 0, sizeof(mcs[n]));
		mcs[n].name = "kid";
		evaluation[n] = 0;
		mcs[n].fallback = *p == 't' ? FALLBACK_TEMPFAIL : *p == 'r' ?
		    FALLBACK_REJECT : *p == 'd' ? FALLBACK_DISCARD : *p == 'q' ?
		    FALLBACK_QUARANTINE : *p == 's' ? FALLBACK_SHUTDOWN :
		    FALLBACK_ACCEPT;
		for (p++; *p != '\0' && *p != ','; p++)
			if (*p == 'e')
				evaluation[n] = ROLE_EVALUATED;
			else if (*p == 'w')
				evaluation[n] = ROLE_SHADOW;
			else if (*p == 'R' || *p == 'L') {
				mcs[n].conds = &rcpt_ref;
				mcs[n].nconds = 1;
				mcs[n].all_recipients = *p == 'L';
			} else if (*p == 'M') {
				mcs[n].conds = &eom_ref;
				mcs[n].nconds = 1;
			}
		if (*p == ',')
			p++;
	}
	conf->milters = mcs;
	conf->nmilters = n;
}

static void
chain_event(struct chain *ch, const char *ev)
{
	struct milter_optneg	 offer;
	size_t		 i = ev[1] >= '0' && ev[1] <= '9' ? (size_t)(ev[1] -
			    '0') : 0;
	const char	*x = strchr(ev, ':');
	char		 code = x != NULL ? x[1] : 0;
	uint8_t		 pkt[5] = { 0, 0, 0, 1, 0 };

	switch (ev[0]) {
	case 'O':
		offer = all_steps;
		if (ev[1] == '-')
			offer.actions &= ~SMFIF_QUARANTINE;
		chain_optneg(ch, &offer);
		break;
	case 'n':
		chain_negotiated(ch, i, &all_steps);
		break;
	case 'f':
		chain_failed(ch, i);
		break;
	case 'z':
		chain_exhausted(ch, i);
		break;
	case 'C': case 'H': case 'M': case 'R': case 'T': case 'U':
		chain_command(ch, ev[0] == 'C' ? SMFIC_CONNECT : ev[0] == 'H' ?
		    SMFIC_HELO : ev[0] == 'M' ? SMFIC_MAIL : ev[0] == 'R' ?
		    SMFIC_RCPT : ev[0] == 'T' ? SMFIC_DATA : SMFIC_UNKNOWN);
		if (ev[1] != '?')
			chain_decided(ch);
		break;
	case 'd':
		chain_decided(ch);
		break;
	case 'k':
		chain_keep_out(ch, i, &keep_ref);
		break;
	case 's':
		chain_rcpt(ch, i, ev[2] == '+');
		break;
	case 'r':
		chain_replied(ch, i, code, code == SMFIR_REPLYCODE ?
		    "550 5.7.1 no" : "");
		break;
	case 'e':
		pkt[4] = (uint8_t)code;
		if (strchr(ev, '!') != NULL)
			cr_expect_not_null(chain_edit(ch, i, code, pkt, 5),
			    "%s: taken", ev);
		else
			cr_expect_null(chain_edit(ch, i, code, pkt, 5),
			    "%s: refused", ev);
		break;
	case 'x':
	case 'X':
		chain_edits_taken(ch, i, ev[0] == 'X');
		break;
	case 'E':
		chain_eom(ch, ev[1] != '!');
		break;
	case 'D':
		chain_drained(ch, i);
		break;
	case 'A':
		chain_abort(ch);
		break;
	case 'K':
		chain_restart(ch);
		break;
	case 'Q':
		chain_quit(ch);
		break;
	case 'g':
		chain_gone(ch, code);
		break;
	case 'b':
		chain_body_sent(ch, ev[1] == '1');
		break;
	case '@':
		ch->kids[i].replay.step = REPLAY_HEADERS;
		break;
	case 'm':
		chain_eom_decided(ch, i, ev[2] == '+' ? NULL : &eom_ref);
		break;
	case 'v':
		if (ev[3] == '-')
			cr_expect_null(chain_msg_verdict(&ch->kids[i]), "%s",
			    ev);
		else if (chain_msg_verdict(&ch->kids[i]) == NULL)
			cr_expect_fail("%s: none", ev);
		else
			cr_expect_str_eq(chain_msg_verdict(&ch->kids[i]), ev + 3,
			    "%s", ev);
		break;
	case '#':
		i = (size_t)(ev[2] - '0');
		cr_expect_eq(ev[1] == 'h' ? ch->kids[i].rcpt_hidden :
		    ch->kids[i].rcpt_shown, atoi(ev + 4), "%s", ev);
		break;
	default:
		cr_assert_fail("bad event %s", ev);
	}
}

static void
run_chain_case(const struct chain_case *tc)
{
	struct conf		 conf;
	struct milter_conf	 mcs[8];
	int			 evaluation[8];
	struct chain		 ch;
	char			 got[512], ev[32], *tok, *last;
	size_t			 i;

	chain_case_conf(tc, &conf, mcs, evaluation);
	chain_init(&ch, &conf);
	for (i = 0; i < conf.nmilters; i++)
		chain_add(&ch, &mcs[i], evaluation[i]);
	for (i = 0; tc->steps[i].ev != NULL; i++) {
		strlcpy(ev, tc->steps[i].ev, sizeof(ev));
		for (tok = strtok_r(ev, " ", &last); tok != NULL;
		    tok = strtok_r(NULL, " ", &last))
			chain_event(&ch, tok);
		drain(&ch, got, sizeof(got));
		cr_expect_str_eq(got, tc->steps[i].want, "%s: step %zu (%s): got \"%s\"",
		    tc->name, i, tc->steps[i].ev, got);
	}
	chain_free(&ch);
}

#define NEGOTIATED	{ "O", "quit0 quit1 start0 start1" }, \
			{ "n0", "" }, { "n1", "optneg resume" }
/* Child 1 a shadow: not waited for. */
#define SHADOW_NEGOTIATED { "O", "quit0 quit1 start0 start1" }, \
			{ "n0", "optneg resume" }, { "n1", "" }
#define IN_MESSAGE	NEGOTIATED, { "M", "over send0" }, \
			{ "r0:c", "send1" }, { "r1:c", "answer:c resume" }

static const struct chain_case chain_cases[] = {
	{ "sequential: each child in turn, then the answer", "a,a",
	    DISPATCH_SEQUENTIAL, MTA_POSTFIX, FALLBACK_ACCEPT, {
	    NEGOTIATED,
	    { "C", "send0" }, { "r0:c", "send1" },
	    { "r1:c", "answer:c resume" }, { NULL, NULL } } },
	{ "the first refusal decides; later children never see it", "a,a",
	    DISPATCH_SEQUENTIAL, MTA_POSTFIX, FALLBACK_ACCEPT, {
	    NEGOTIATED,
	    { "M", "over send0" }, { "r0:y", "verdict0 answer:y resume" },
	    { "M", "over send0" }, { "r0:t", "verdict0 answer:t resume" },
	    { NULL, NULL } } },
	{ "parallel: all at once, the order still decides", "a,a",
	    DISPATCH_PARALLEL, MTA_POSTFIX, FALLBACK_ACCEPT, {
	    NEGOTIATED,
	    { "M", "over send0 send1" }, { "r1:r", "verdict1" },
	    { "r0:t", "verdict0 answer:t resume" }, { NULL, NULL } } },
	{ "a refused recipient is refused alone", "a,a",
	    DISPATCH_SEQUENTIAL, MTA_POSTFIX, FALLBACK_ACCEPT, {
	    IN_MESSAGE,
	    { "R", "send0" }, { "r0:r", "verdict0 refused answer:r resume" },
	    { "R", "send0" }, { "r0:c", "send1" },
	    { "r1:c", "answer:c resume" }, { NULL, NULL } } },
	{ "a refused recipient leaves the lists (parallel, conditions)",
	    "aR,a", DISPATCH_PARALLEL, MTA_POSTFIX, FALLBACK_ACCEPT, {
	    NEGOTIATED,
	    { "M", "over send0 send1" }, { "r0:c r1:c", "answer:c resume" },
	    { "R? s0+ d", "send0 send1" },
	    { "r0:c", "" }, { "r1:r", "verdict1 refused answer:r resume" },
	    { "#s0=0 #h0=0", "" },
	    { "R? s0- d", "send1" }, { "r1:c", "answer:c resume" },
	    { "#s0=0 #h0=1", "" },
	    /* No recipient was for it: kept out of the message. */
	    { "T", "abort0 stopped0 send1" }, { NULL, NULL } } },
	{ "accept ends a child's part in the message only", "a,a",
	    DISPATCH_SEQUENTIAL, MTA_POSTFIX, FALLBACK_ACCEPT, {
	    NEGOTIATED,
	    { "M", "over send0" }, { "r0:a", "verdict0 send1" },
	    { "r1:c", "answer:c resume" },
	    { "R", "send1" }, { "r1:c", "answer:c resume" },
	    { "E", "replay1" }, { "r1:c", "take1" },
	    { "x1", "verdict1 forward answer:c over resume" },
	    { "M", "over send0" }, { NULL, NULL } } },
	{ "accept at connect ends its part in the connection", "a,a",
	    DISPATCH_SEQUENTIAL, MTA_POSTFIX, FALLBACK_ACCEPT, {
	    NEGOTIATED,
	    { "C", "send0" }, { "r0:a", "verdict0 send1" },
	    { "r1:a", "verdict1 answer:a resume" },
	    { "M", "over answer:a resume" }, { NULL, NULL } } },
	{ "a child's edits are taken before the next is replayed", "a,a",
	    DISPATCH_SEQUENTIAL, MTA_POSTFIX, FALLBACK_ACCEPT, {
	    IN_MESSAGE,
	    { "E", "replay0" }, { "e0:h", "" }, { "r0:c", "take0" },
	    { "x0", "verdict0 replay1" }, { "e1:b r1:a", "take1" },
	    { "X1", "verdict1 forward body" },
	    { "b1", "answer:c over resume" }, { NULL, NULL } } },
	{ "edits are legal at end of message, when negotiated", "a,a",
	    DISPATCH_SEQUENTIAL, MTA_POSTFIX, FALLBACK_ACCEPT, {
	    NEGOTIATED,
	    { "M", "over send0" }, { "e0:h!", "" },
	    { "r0:c", "send1" }, { "r1:c", "answer:c resume" },
	    /* Replayed the headers: not yet. */
	    { "E", "replay0" }, { "@0 e0:h!", "" },
	    { NULL, NULL } } },
	{ "quarantine ends the content chain (Postfix)", "a,a",
	    DISPATCH_SEQUENTIAL, MTA_POSTFIX, FALLBACK_ACCEPT, {
	    IN_MESSAGE,
	    { "E", "replay0" }, { "e0:q r0:c", "take0" },
	    { "x0", "verdict0 forward answer:c over resume" },
	    { NULL, NULL } } },
	{ "quarantine lets the others go on (Sendmail)", "a,a",
	    DISPATCH_SEQUENTIAL, MTA_SENDMAIL, FALLBACK_ACCEPT, {
	    IN_MESSAGE,
	    { "E", "replay0" }, { "e0:q r0:c", "take0" },
	    { "x0", "verdict0 replay1" }, { NULL, NULL } } },
	{ "evaluation: counted and logged, stands as continue", "ae,a",
	    DISPATCH_SEQUENTIAL, MTA_POSTFIX, FALLBACK_ACCEPT, {
	    NEGOTIATED,
	    { "M", "over send0" }, { "r0:r", "verdict0 eval0 send1" },
	    { "r1:c", "answer:c resume" }, { NULL, NULL } } },
	{ "evaluation: an accepting child's edits never reach the mail",
	    "ae,a", DISPATCH_SEQUENTIAL, MTA_POSTFIX, FALLBACK_ACCEPT, {
	    IN_MESSAGE,
	    { "E", "replay0" }, { "e0:h e0:b", "" },
	    { "r0:a", "verdict0 dropped0 replay1" },
	    { "r1:c", "take1" },
	    { "x1", "verdict1 forward answer:c over resume" },
	    { NULL, NULL } } },
	{ "shadow: not waited for to answer O, nor to take commands",
	    "a,aw", DISPATCH_SEQUENTIAL, MTA_POSTFIX, FALLBACK_ACCEPT, {
	    { "O", "quit0 quit1 start0 start1" }, { "n0", "optneg resume" },
	    { "C", "send0" }, { "r0:c", "shadow1 answer:c resume" },
	    /* Its negotiation wakes nothing. */
	    { "n1", "" },
	    { "M", "over send0" }, { "r0:c", "shadow1 answer:c resume" },
	    { "E", "replay0" }, { "r0:c", "take0" },
	    { "x0", "verdict0 shadoweom1 forward answer:c over resume" },
	    { NULL, NULL } } },
	{ "shadow: the message as the children before it left it", "a,aw,a",
	    DISPATCH_SEQUENTIAL, MTA_POSTFIX, FALLBACK_ACCEPT, {
	    { "O", "quit0 quit1 quit2 start0 start1 start2" },
	    { "n0 n1", "" }, { "n2", "optneg resume" },
	    { "M", "over send0" }, { "r0:c", "shadow1 send2" },
	    { "r2:c", "answer:c resume" },
	    { "E", "replay0" }, { "r0:c", "take0" },
	    { "x0", "verdict0 shadoweom1 replay2" }, { "r2:c", "take2" },
	    { "x2", "verdict2 forward answer:c over resume" },
	    { NULL, NULL } } },
	{ "shadow: after a refusal it never gets the message", "a,aw",
	    DISPATCH_SEQUENTIAL, MTA_POSTFIX, FALLBACK_ACCEPT, {
	    SHADOW_NEGOTIATED, { "M", "over send0" },
	    { "r0:c", "shadow1 answer:c resume" }, { "E", "replay0" },
	    { "r0:y", "verdict0 answer:y over resume" }, { NULL, NULL } } },
	{ "shadow: its failure is no fallback's", "t,tw",
	    DISPATCH_SEQUENTIAL, MTA_POSTFIX, FALLBACK_TEMPFAIL, {
	    SHADOW_NEGOTIATED, { "C", "send0" }, { "f1", "" },
	    { "r0:c", "answer:c resume" }, { "H", "send0" },
	    { "r0:c", "answer:c resume" }, { NULL, NULL } } },
	{ "shadow: in parallel, still not waited for", "a,aw",
	    DISPATCH_PARALLEL, MTA_POSTFIX, FALLBACK_ACCEPT, {
	    SHADOW_NEGOTIATED, { "C", "shadow1 send0" },
	    { "r0:c", "answer:c resume" }, { NULL, NULL } } },
	{ "shadow: the filters all done, the MTA still sends (continue)",
	    "a,aw", DISPATCH_SEQUENTIAL, MTA_POSTFIX, FALLBACK_ACCEPT, {
	    SHADOW_NEGOTIATED, { "C", "send0" },
	    { "r0:a", "verdict0 shadow1 answer:c resume" }, { NULL, NULL } } },
	{ "shadow: a recipient a filter before it refused is not its",
	    "a,aw", DISPATCH_SEQUENTIAL, MTA_POSTFIX, FALLBACK_ACCEPT, {
	    SHADOW_NEGOTIATED, { "M", "over send0" },
	    { "r0:c", "shadow1 answer:c resume" },
	    { "R", "send0" }, { "r0:r", "verdict0 refused answer:r resume" },
	    { "R", "send0" }, { "r0:c", "shadow1 answer:c resume" },
	    { NULL, NULL } } },
	{ "shadow: before the filter that refuses, the recipient is its",
	    "aw,a", DISPATCH_SEQUENTIAL, MTA_POSTFIX, FALLBACK_ACCEPT, {
	    { "O", "quit0 quit1 start0 start1" }, { "n0", "" },
	    { "n1", "optneg resume" }, { "M", "over shadow0 send1" },
	    { "r1:c", "answer:c resume" },
	    { "R", "shadow0 send1" }, { "r1:r", "verdict1 refused answer:r resume" },
	    { NULL, NULL } } },
	{ "shadow alone: answered as with no child, accept kept open",
	    "aw", DISPATCH_SEQUENTIAL, MTA_POSTFIX, FALLBACK_ACCEPT, {
	    { "O", "quit0 start0 optneg resume" },
	    { "C", "shadow0 answer:c resume" }, { "n0", "" },
	    { "M", "over shadow0 answer:c resume" },
	    { "E", "shadoweom0 forward answer:c over resume" },
	    { NULL, NULL } } },
	{ "shadow alone: a refusing global fallback still refuses", "aw",
	    DISPATCH_SEQUENTIAL, MTA_POSTFIX, FALLBACK_TEMPFAIL, {
	    { "O", "quit0 start0 optneg resume" },
	    { "C", "shadow0 answer:t resume" }, { NULL, NULL } } },
	{ "a child failing while awaited: its fallback answers", "t,a",
	    DISPATCH_SEQUENTIAL, MTA_POSTFIX, FALLBACK_ACCEPT, {
	    NEGOTIATED,
	    { "C", "send0" }, { "f0", "answer:t resume" }, { NULL, NULL } } },
	{ "a child on trial that fails touches no mail", "te,a",
	    DISPATCH_SEQUENTIAL, MTA_POSTFIX, FALLBACK_ACCEPT, {
	    NEGOTIATED,
	    { "C", "send0" }, { "f0", "send1" },
	    { "r1:c", "answer:c resume" }, { NULL, NULL } } },
	{ "shutdown: 421, the MTA drops the client", "s,a",
	    DISPATCH_SEQUENTIAL, MTA_POSTFIX, FALLBACK_ACCEPT, {
	    NEGOTIATED,
	    { "H", "send0" }, { "f0", "answer:4 resume" }, { NULL, NULL } } },
	{ "discard: ignored at connect, the message's at MAIL", "d,d",
	    DISPATCH_SEQUENTIAL, MTA_POSTFIX, FALLBACK_ACCEPT, {
	    NEGOTIATED,
	    { "C", "send0" }, { "f0", "send1" },
	    { "r1:c", "answer:c resume" },
	    { "M", "over send1" }, { "f1", "answer:d resume" },
	    { NULL, NULL } } },
	{ "quarantine: held where the child stands; Postfix ends there",
	    "a,q,a", DISPATCH_SEQUENTIAL, MTA_POSTFIX, FALLBACK_ACCEPT, {
	    { "O", "quit0 quit1 quit2 start0 start1 start2" },
	    { "n0 n1", "" }, { "n2", "optneg resume" },
	    { "M", "over send0" }, { "r0:c", "send1" }, { "f1", "send2" },
	    { "r2:c", "answer:c resume" }, { "E", "replay0" },
	    { "r0:c", "take0" },
	    { "x0", "verdict0 quarantine1 forward answer:c over resume" },
	    /* And the next: it is out for the connection. */
	    { "M", "over send0" }, { "r0:c", "send2" },
	    { "r2:c", "answer:c resume" },
	    { "E", "replay0" }, { "r0:c", "take0" },
	    { "x0", "verdict0 quarantine1 forward answer:c over resume" },
	    { NULL, NULL } } },
	{ "quarantine: Sendmail goes on to the next children", "q,a",
	    DISPATCH_SEQUENTIAL, MTA_SENDMAIL, FALLBACK_ACCEPT, {
	    NEGOTIATED,
	    { "M", "over send0" }, { "f0", "send1" },
	    { "r1:c", "answer:c resume" }, { "E", "replay1" },
	    { "r1:c", "take1" },
	    { "x1", "verdict1 quarantine0 forward answer:c over resume" },
	    { NULL, NULL } } },
	{ "quarantine the MTA cannot do: tempfail, never passed", "q,a",
	    DISPATCH_SEQUENTIAL, MTA_SENDMAIL, FALLBACK_ACCEPT, {
	    { "O-", "quit0 quit1 start0 start1" }, { "n0", "" },
	    { "n1", "optneg resume" },
	    { "f0 M", "over send1" }, { "r1:c", "answer:c resume" },
	    { "E", "replay1" }, { "r1:c", "take1" },
	    { "x1", "verdict1 answer:t over resume" }, { NULL, NULL } } },
	{ "a lone child's discard, failed at connect: the message's", "d",
	    DISPATCH_SEQUENTIAL, MTA_POSTFIX, FALLBACK_ACCEPT, {
	    { "O", "quit0 start0" }, { "f0", "optneg resume" },
	    { "C", "answer:c resume" }, { "H", "answer:c resume" },
	    { "M", "over answer:d resume" }, { NULL, NULL } } },
	{ "a lone child's quarantine: never accept before the message",
	    "q", DISPATCH_SEQUENTIAL, MTA_POSTFIX, FALLBACK_TEMPFAIL, {
	    { "O", "quit0 start0" }, { "f0", "optneg resume" },
	    { "C", "answer:c resume" }, { "M", "over answer:c resume" },
	    { "E", "quarantine0 forward answer:c over resume" },
	    { NULL, NULL } } },
	{ "the session's quarantine: every child failed", "a,a",
	    DISPATCH_SEQUENTIAL, MTA_POSTFIX, FALLBACK_QUARANTINE, {
	    { "O", "quit0 quit1 start0 start1" }, { "f0 f1", "optneg resume" },
	    { "C", "answer:c resume" }, { "M", "over answer:c resume" },
	    { "E", "quarantine2 forward answer:c over resume" },
	    { NULL, NULL } } },
	{ "an accept fallback lets the others decide", "a,a",
	    DISPATCH_SEQUENTIAL, MTA_POSTFIX, FALLBACK_ACCEPT, {
	    NEGOTIATED,
	    { "H", "send0" }, { "f0", "send1" },
	    { "r1:c", "answer:c resume" }, { NULL, NULL } } },
	{ "failed between commands: the fallback is owed to the next", "r,a",
	    DISPATCH_SEQUENTIAL, MTA_POSTFIX, FALLBACK_ACCEPT, {
	    NEGOTIATED,
	    { "f0", "" }, { "M", "over answer:r resume" },
	    { "M", "over send1" }, { NULL, NULL } } },
	{ "every child failed: the global fallback", "a,a",
	    DISPATCH_SEQUENTIAL, MTA_POSTFIX, FALLBACK_TEMPFAIL, {
	    { "O", "quit0 quit1 start0 start1" }, { "f0", "" },
	    { "f1", "optneg resume" }, { "C", "answer:t resume" },
	    { "E", "answer:t over resume" }, { NULL, NULL } } },
	{ "a failure at every envelope stage: its fallback answers", "t,a",
	    DISPATCH_SEQUENTIAL, MTA_POSTFIX, FALLBACK_ACCEPT, {
	    NEGOTIATED,
	    { "C", "send0" }, { "r0:c", "send1" },
	    { "r1:c", "answer:c resume" },
	    { "H", "send0" }, { "r0:c", "send1" },
	    { "r1:c", "answer:c resume" },
	    { "U", "send0" }, { "r0:c", "send1" },
	    { "r1:c", "answer:c resume" },
	    { "M", "over send0" }, { "r0:c", "send1" },
	    { "r1:c", "answer:c resume" },
	    { "R", "send0" }, { "r0:c", "send1" },
	    { "r1:c", "answer:c resume" },
	    { "T", "send0" }, { "f0", "answer:t resume" },
	    { NULL, NULL } } },
	{ "a failure at RCPT refuses that recipient only", "t,a",
	    DISPATCH_SEQUENTIAL, MTA_POSTFIX, FALLBACK_ACCEPT, {
	    IN_MESSAGE,
	    { "R", "send0" }, { "f0", "refused answer:t resume" },
	    { NULL, NULL } } },
	{ "a failure at HELO, at unknown commands", "t,t",
	    DISPATCH_SEQUENTIAL, MTA_POSTFIX, FALLBACK_ACCEPT, {
	    NEGOTIATED,
	    { "H", "send0" }, { "f0", "answer:t resume" },
	    { "U", "send1" }, { "f1", "answer:t resume" },
	    { NULL, NULL } } },
	{ "a failure in the replay, before end of message", "t,a",
	    DISPATCH_SEQUENTIAL, MTA_POSTFIX, FALLBACK_ACCEPT, {
	    IN_MESSAGE,
	    { "E", "replay0" }, { "@0 D0", "replay0" },
	    { "f0", "answer:t over resume" }, { NULL, NULL } } },
	{ "milterd out of a resource: tempfail, never the accept fallback",
	    "a,a", DISPATCH_SEQUENTIAL, MTA_POSTFIX, FALLBACK_ACCEPT, {
	    { "O", "quit0 quit1 start0 start1" }, { "z0", "" },
	    { "n1", "optneg resume" }, { "C", "send1" },
	    { "r1:c", "answer:t resume" }, { "M", "over send1" },
	    { "r1:a", "verdict1 answer:t resume" },
	    { "E", "answer:t over resume" },
	    { "K", "over quit0 quit1 start0 start1" }, { "n0", "" },
	    { "n1", "resume" }, { "C", "send0" }, { NULL, NULL } } },
	{ "a failure at end of message", "t,a",
	    DISPATCH_SEQUENTIAL, MTA_POSTFIX, FALLBACK_ACCEPT, {
	    IN_MESSAGE,
	    { "E", "replay0" }, { "f0", "answer:t over resume" },
	    { "E", "replay1" }, { NULL, NULL } } },
	{ "modifications that cannot be applied: the fallback", "r,a",
	    DISPATCH_SEQUENTIAL, MTA_POSTFIX, FALLBACK_ACCEPT, {
	    IN_MESSAGE,
	    { "E", "replay0" }, { "e0:b r0:c", "take0" },
	    { "f0", "answer:r over resume" }, { NULL, NULL } } },
	{ "abort and K reset the message and the connection", "a,a",
	    DISPATCH_SEQUENTIAL, MTA_POSTFIX, FALLBACK_ACCEPT, {
	    IN_MESSAGE,
	    { "A", "abort0 abort1 over" }, { "A", "over" },
	    { "M", "over send0" }, { "r0:a", "verdict0 send1" },
	    { "r1:c", "answer:c resume" },
	    /* In the message still, though it accepted it. */
	    { "K", "abort0 abort1 over quit0 quit1 start0 start1" },
	    { "n0", "" }, { "n1", "resume" }, { "M", "over send0" },
	    { NULL, NULL } } },
	{ "kept out at connect: told quit, not asked again", "a,a",
	    DISPATCH_SEQUENTIAL, MTA_POSTFIX, FALLBACK_ACCEPT, {
	    NEGOTIATED,
	    { "C? k0 d", "quit0 send1" }, { "r1:c", "answer:c resume" },
	    { "M", "over send1" }, { NULL, NULL } } },
	{ "kept out of a message: told abort, back at the next", "a,a",
	    DISPATCH_SEQUENTIAL, MTA_POSTFIX, FALLBACK_ACCEPT, {
	    IN_MESSAGE,
	    { "T? k0 d", "abort0 send1" }, { "r1:c", "answer:c resume" },
	    { "E", "replay1" }, { "r1:c", "take1" },
	    { "x1", "verdict1 forward answer:c over resume" },
	    { "M", "over send0" }, { NULL, NULL } } },
	{ "a pending condition: failures meanwhile are owed", "a,t",
	    DISPATCH_SEQUENTIAL, MTA_POSTFIX, FALLBACK_ACCEPT, {
	    NEGOTIATED,
	    { "C?", "" }, { "f1", "" }, { "d", "send0" },
	    { "r0:c", "answer:t resume" }, { NULL, NULL } } },
	{ "the client gone: the children are cut, the answer stands", "a,a",
	    DISPATCH_SEQUENTIAL, MTA_POSTFIX, FALLBACK_ACCEPT, {
	    IN_MESSAGE,
	    { "R", "send0" },
	    { "g:t", "abort0 quit0 abort1 quit1 answer:t resume" },
	    { "E", "answer:t over resume" }, { NULL, NULL } } },
	{ "a condition on the message decided before the replay: held",
	    "aM,a", DISPATCH_SEQUENTIAL, MTA_POSTFIX, FALLBACK_ACCEPT, {
	    IN_MESSAGE,
	    { "E", "decide0" }, { "m0+", "replay0" }, { "r0:c", "take0" },
	    { "x0", "verdict0 replay1" }, { "r1:c", "take1" },
	    { "x1", "verdict1 forward answer:c over resume" },
	    /* Asked again at the next message. */
	    { "M", "over send0" }, { "r0:c", "send1" },
	    { "r1:c", "answer:c resume" }, { "E", "decide0" },
	    { NULL, NULL } } },
	{ "kept out at end of message: told abort, stopped, the next goes on",
	    "a,aM,a", DISPATCH_SEQUENTIAL, MTA_POSTFIX, FALLBACK_ACCEPT, {
	    { "O", "quit0 quit1 quit2 start0 start1 start2" },
	    { "n0 n1", "" }, { "n2", "optneg resume" },
	    { "M", "over send0" }, { "r0:c", "send1" }, { "r1:c", "send2" },
	    { "r2:c", "answer:c resume" },
	    { "E", "replay0" }, { "e0:h r0:c", "take0" },
	    { "x0", "verdict0 decide1" },
	    { "m1-", "abort1 stopped1 replay2" }, { "r2:c", "take2" },
	    { "x2", "verdict2 forward answer:c over resume" },
	    /* Back in the next message, asked again at its end. */
	    { "M", "over send0" }, { "r0:c", "send1" }, { "r1:c", "send2" },
	    { NULL, NULL } } },
	{ "kept out at end of message, the last: the others' answer",
	    "a,aM", DISPATCH_SEQUENTIAL, MTA_POSTFIX, FALLBACK_ACCEPT, {
	    IN_MESSAGE,
	    { "E", "replay0" }, { "r0:c", "take0" },
	    { "x0", "verdict0 decide1" },
	    { "m1-", "abort1 stopped1 forward answer:c over resume" },
	    { NULL, NULL } } },
	{ "a refusal before it: no decision asked", "a,aM",
	    DISPATCH_SEQUENTIAL, MTA_POSTFIX, FALLBACK_ACCEPT, {
	    IN_MESSAGE,
	    { "E", "replay0" }, { "r0:r", "verdict0 answer:r over resume" },
	    { NULL, NULL } } },
	{ "failed while decided: held, its fallback; kept out, none",
	    "tM,a", DISPATCH_SEQUENTIAL, MTA_POSTFIX, FALLBACK_ACCEPT, {
	    IN_MESSAGE,
	    { "E", "decide0" }, { "f0", "" },
	    { "m0+", "answer:t over resume" },
	    { "K", "over quit0 quit1 start0 start1" },
	    { "n0", "" }, { "n1", "resume" },
	    { "M", "over send0" }, { "r0:c", "send1" },
	    { "r1:c", "answer:c resume" },
	    { "E", "decide0" }, { "f0", "" },
	    { "m0-", "abort0 stopped0 replay1" }, { "r1:c", "take1" },
	    { "x1", "verdict1 forward answer:c over resume" },
	    { NULL, NULL } } },
	{ "down before E, kept out: no fallback", "tM,a",
	    DISPATCH_SEQUENTIAL, MTA_POSTFIX, FALLBACK_ACCEPT, {
	    IN_MESSAGE,
	    { "f0 E", "decide0" }, { "m0-", "abort0 stopped0 replay1" },
	    { "r1:c", "take1" },
	    { "x1", "verdict1 forward answer:c over resume" },
	    { NULL, NULL } } },
	{ "down before E, held: its fallback", "tM,a",
	    DISPATCH_SEQUENTIAL, MTA_POSTFIX, FALLBACK_ACCEPT, {
	    IN_MESSAGE,
	    { "f0 E", "decide0" }, { "m0+", "answer:t over resume" },
	    { NULL, NULL } } },
	{ "down with quarantine: kept out, the message is not held", "qM,a",
	    DISPATCH_SEQUENTIAL, MTA_POSTFIX, FALLBACK_ACCEPT, {
	    IN_MESSAGE,
	    { "f0 E", "decide0" }, { "m0-", "abort0 stopped0 replay1" },
	    { "r1:c", "take1" },
	    { "x1", "verdict1 forward answer:c over resume" },
	    { "M", "over send1" }, { "r1:c", "answer:c resume" },
	    { "E", "decide0" },
	    { "m0+", "quarantine0 forward answer:c over resume" },
	    { NULL, NULL } } },
	{ "the client gone while decided: a late answer is ignored", "aM,a",
	    DISPATCH_SEQUENTIAL, MTA_POSTFIX, FALLBACK_ACCEPT, {
	    IN_MESSAGE,
	    { "E", "decide0" },
	    { "g:t", "abort0 quit0 abort1 quit1 answer:t over resume" },
	    { "m0+", "" }, { "m0-", "" }, { NULL, NULL } } },
	{ "verdicts in the message: modified, evaluated, accepted earlier",
	    "a,ae,a", DISPATCH_SEQUENTIAL, MTA_POSTFIX, FALLBACK_ACCEPT, {
	    { "O", "quit0 quit1 quit2 start0 start1 start2" },
	    { "n0 n1", "" }, { "n2", "optneg resume" },
	    { "M", "over send0" }, { "r0:c", "send1" }, { "r1:c", "send2" },
	    { "r2:a v0=- v2=accept", "verdict2 answer:c resume" },
	    { "E", "replay0" }, { "e0:h r0:c", "take0" },
	    { "x0 v0=modified", "verdict0 replay1" },
	    /* In evaluation: what it would have done. */
	    { "e1:h r1:c", "verdict1 dropped1 forward answer:c over resume" },
	    { "v0=- v1=- v2=-", "" },
	    { "M", "over send0" }, { "r0:c", "send1" },
	    { "r1:c", "send2" }, { "r2:c", "answer:c resume" },
	    { "E", "replay0" }, { "r0:c", "take0" },
	    { "x0 v0=accept", "verdict0 replay1" },
	    { "r1:r v1=reject", "verdict1 eval1 replay2" },
	    { NULL, NULL } } },
	{ "an incomplete copy: tempfail", "a,a",
	    DISPATCH_SEQUENTIAL, MTA_POSTFIX, FALLBACK_ACCEPT, {
	    IN_MESSAGE,
	    { "E!", "answer:t over resume" }, { NULL, NULL } } },
	{ "a replaced body that cannot be read: tempfail", "a,a",
	    DISPATCH_SEQUENTIAL, MTA_POSTFIX, FALLBACK_ACCEPT, {
	    IN_MESSAGE,
	    { "E", "replay0" }, { "e0:b r0:c", "take0" },
	    { "X0", "verdict0 replay1" }, { "r1:c", "take1" },
	    { "x1", "verdict1 forward body" },
	    { "b0", "answer:t over resume" }, { NULL, NULL } } },
};

Test(chain, rules)
{
	size_t	i;

	for (i = 0; i < sizeof(chain_cases) / sizeof(chain_cases[0]); i++)
		run_chain_case(&chain_cases[i]);
}

/*
 * The captured sessions (t/fixtures): one child, which answers what
 * the captured milter answered, each command in turn.  With one child
 * the chain must answer the MTA what that milter answered it (at end
 * of message, continue for accept, with its modifications taken).
 */

struct captured {
	uint8_t			*buf;
	size_t			 len;
	size_t			 off;
};

static void
captured_load(struct captured *c, const char *path)
{
	FILE	*fp;
	long	 len;

	cr_assert_not_null(fp = fopen(path, "rb"), "%s", path);
	fseek(fp, 0, SEEK_END);
	len = ftell(fp);
	rewind(fp);
	cr_assert_not_null(c->buf = malloc((size_t)len + 1));
	cr_assert_eq(fread(c->buf, 1, (size_t)len, fp), (size_t)len);
	fclose(fp);
	c->len = (size_t)len;
	c->off = 0;
}

/* The next packet, 0 at the end. */
static int
captured_next(struct captured *c, struct milter_pkt *pkt)
{
	size_t	used;

	if (c->off == c->len)
		return 0;
	cr_assert_eq(milter_frame(c->buf + c->off, c->len - c->off,
	    MILTER_MDS_1M, pkt, &used), MILTER_FRAME_OK);
	c->off += used;
	return 1;
}

/* The milter's next reply that is not progress. */
static void
next_reply(struct captured *rs, struct milter_pkt *pkt, struct milter_reply *r)
{
	const char	*err;

	do {
		cr_assert(captured_next(rs, pkt), "the replies ran out");
		cr_assert_eq(milter_decode_reply(pkt, r, &err), 0, "%s", err);
	} while (r->code == SMFIR_PROGRESS);
}

/* The answer in the actions queued; exactly one; others ignored. */
static char
answered(struct chain *ch, int *sent, int *replays, int *takes)
{
	struct chain_action	a;
	char			code = 0;

	*sent = *replays = *takes = 0;
	while (chain_take(ch, &a))
		switch (a.act) {
		case ACT_ANSWER:
			cr_assert_eq(code, 0, "two answers");
			code = a.code;
			break;
		case ACT_SEND:
			*sent = 1 + a.wait;
			break;
		case ACT_REPLAY:
			ch->kids[a.child].replay.step = REPLAY_SENT;
			(*replays)++;
			break;
		case ACT_TAKE_EDITS:
			(*takes)++;
			break;
		default:
			break;
		}
	return code;
}

static size_t
replay_captured(const char *cmdpath, const char *replypath)
{
	struct captured		 cs, rs;
	struct milter_pkt	 pkt, rpkt;
	struct milter_cmd	 cmd;
	struct milter_reply	 r;
	struct milter_optneg	 eff;
	struct conf		 conf;
	struct milter_conf	 mc;
	struct chain		 ch;
	const char		*err;
	size_t			 commands = 0;
	int			 sent, replays, takes, body;
	char			 want, got;

	captured_load(&cs, cmdpath);
	captured_load(&rs, replypath);
	memset(&conf, 0, sizeof(conf));
	memset(&mc, 0, sizeof(mc));
	mc.name = "captured";
	conf.milters = &mc;
	conf.nmilters = 1;
	conf.mta = MTA_POSTFIX;
	chain_init(&ch, &conf);
	chain_add(&ch, &mc, 0);
	next_reply(&rs, &rpkt, &r);
	cr_assert_eq(r.code, SMFIR_OPTNEG);
	eff = r.u.optneg;
	while (captured_next(&cs, &pkt)) {
		cr_assert_eq(milter_decode_cmd(&pkt, &cmd, &err), 0, "%s", err);
		switch (cmd.code) {
		case SMFIC_OPTNEG:
			chain_optneg(&ch, &cmd.u.optneg);
			(void)answered(&ch, &sent, &replays, &takes);
			chain_negotiated(&ch, 0, &eff);
			break;
		case SMFIC_MACRO:
			continue;
		case SMFIC_HEADER:
		case SMFIC_EOH:
		case SMFIC_BODY:
			/* Kept by session.c; the milter's reply comes at E. */
			if (milter_cmd_replied(&eff, cmd.code))
				next_reply(&rs, &rpkt, &r);
			continue;
		case SMFIC_ABORT:
			chain_abort(&ch);
			break;
		case SMFIC_QUIT:
			chain_quit(&ch);
			break;
		case SMFIC_BODYEOB:
			chain_eom(&ch, 1);
			cr_assert_eq(answered(&ch, &sent, &replays, &takes), 0);
			cr_assert_eq(replays, 1, "%s: no replay", cmdpath);
			body = 0;
			for (next_reply(&rs, &rpkt, &r);
			    milter_reply_is_edit(r.code);
			    next_reply(&rs, &rpkt, &r)) {
				cr_assert_null(chain_edit(&ch, 0, r.code,
				    rpkt.data - 5, rpkt.len + 5), "%s: '%c'",
				    cmdpath, r.code);
				body |= r.code == SMFIR_REPLBODY;
			}
			want = chain_decides(SMFIC_BODYEOB, r.code) ? r.code :
			    SMFIR_CONTINUE;
			chain_replied(&ch, 0, r.code, "");
			if (want == SMFIR_CONTINUE) {
				cr_assert_eq(answered(&ch, &sent, &replays,
				    &takes), 0);
				cr_assert_eq(takes, 1);
				chain_edits_taken(&ch, 0, body);
				if (body) {
					(void)answered(&ch, &sent, &replays,
					    &takes);
					chain_body_sent(&ch, 1);
				}
			}
			got = answered(&ch, &sent, &replays, &takes);
			cr_assert_eq(got, want, "%s: E answered '%c', not '%c'",
			    cmdpath, got, want);
			commands++;
			continue;
		default:
			chain_command(&ch, cmd.code);
			chain_decided(&ch);
			got = answered(&ch, &sent, &replays, &takes);
			cr_assert_eq(sent, milter_cmd_replied(&eff, cmd.code) ?
			    2 : 1, "%s: '%c' not sent", cmdpath, cmd.code);
			if (sent == 2) {
				next_reply(&rs, &rpkt, &r);
				chain_replied(&ch, 0, r.code,
				    r.code == SMFIR_REPLYCODE ? r.u.str : "");
				got = answered(&ch, &sent, &replays, &takes);
				want = r.code;
			} else
				want = SMFIR_CONTINUE;
			cr_assert_eq(got, want, "%s: '%c' answered '%c', not "
			    "'%c'", cmdpath, cmd.code, got, want);
			commands++;
			continue;
		}
		(void)answered(&ch, &sent, &replays, &takes);
	}
	cr_assert_eq(rs.off, rs.len, "%s: replies left over", replypath);
	chain_free(&ch);
	free(cs.buf);
	free(rs.buf);
	return commands;
}

Test(chain, captured_sessions)
{
	static const char	*pairs[][2] = {
		{ "postfix-v2.cmd", "libmilter-v2.reply" },
		{ "postfix-v6-edits.cmd", "libmilter-v6-edits.reply" },
		{ "postfix-v6-multi.cmd", "libmilter-v6-multi.reply" },
		{ "postfix-xclient-1.cmd", "libmilter-xclient-1.reply" },
		{ "postfix-xclient-2.cmd", "libmilter-xclient-2.reply" },
		{ "postfix-opendkim.cmd", "opendkim.reply" },
	};
	char			 cmd[256], reply[256];
	size_t			 i, n = 0;

	for (i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
		snprintf(cmd, sizeof(cmd), "t/fixtures/%s", pairs[i][0]);
		snprintf(reply, sizeof(reply), "t/fixtures/%s", pairs[i][1]);
		n += replay_captured(cmd, reply);
	}
	cr_assert_geq(n, 30, "only %zu commands", n);
}
