/*
 * test_merge.c: the chain rules (src/merge.c): negotiation merge,
 * which replies decide, header value translation.
 */

#include <criterion/criterion.h>
#include <string.h>

#include "merge.h"

static const struct milter_optneg	postfix = { 6, 0x1ff, 0x1fffff,
	{ NULL } };

Test(merge, actions_united_steps_intersected)
{
	struct milter_optneg	kids[2], out;
	struct macro_lists	ml;

	memset(kids, 0, sizeof(kids));
	kids[0].version = kids[1].version = 6;
	kids[0].actions = SMFIF_ADDHDRS;
	kids[1].actions = SMFIF_CHGBODY | SMFIF_QUARANTINE;
	kids[0].protocol = SMFIP_NOHELO | SMFIP_NOUNKNOWN | SMFIP_NR_CONN;
	kids[1].protocol = SMFIP_NOHELO | SMFIP_NR_CONN | SMFIP_NOMAIL;
	merge_optneg(&postfix, kids, 2, NULL, &out, &ml);
	cr_assert_eq(out.version, 6);
	cr_assert_eq(out.actions, SMFIF_ADDHDRS | SMFIF_CHGBODY |
	    SMFIF_QUARANTINE);
	/* Only what both skip is skipped; content replies always waived. */
	cr_assert_eq(out.protocol, SMFIP_NOHELO | SMFIP_NR_CONN |
	    SMFIP_NR_HDR | SMFIP_NR_EOH | SMFIP_NR_BODY | SMFIP_HDR_LEADSPC);
	cr_assert_null(out.macros[SMFIM_CONNECT]);
}

Test(merge, no_children_asks_for_every_step)
{
	struct milter_optneg	out;
	struct macro_lists	ml;

	merge_optneg(&postfix, NULL, 0, NULL, &out, &ml);
	cr_assert_eq(out.actions, 0);
	cr_assert_eq(out.protocol & SMFIP_NO_MASK, 0);
}

Test(merge, bounded_by_the_offer)
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
	merge_optneg(&v2, &kid, 1, NULL, &out, &ml);
	cr_assert_eq(out.version, 2);
	cr_assert_eq(out.actions, SMFIF_ADDHDRS);
	/* No leading space, no no-reply bits, no macro lists in v2. */
	cr_assert_eq(out.protocol, 0);
	cr_assert_null(out.macros[SMFIM_CONNECT]);
}

Test(merge, macro_lists_united_with_defaults)
{
	struct milter_optneg	kids[2], out;
	struct macro_lists	ml;

	memset(kids, 0, sizeof(kids));
	kids[0].version = kids[1].version = 6;
	kids[0].macros[SMFIM_ENVRCPT] = "{rcpt_addr} {x}";
	kids[1].macros[SMFIM_ENVRCPT] = "{x},{y}";
	kids[0].macros[SMFIM_CONNECT] = "{client_addr}";
	merge_optneg(&postfix, kids, 2, NULL, &out, &ml);
	cr_assert_str_eq(out.macros[SMFIM_ENVRCPT], "{rcpt_addr} {x} {y}");
	/* Child 2 asked for nothing at connect: it keeps the defaults. */
	cr_assert_not_null(strstr(out.macros[SMFIM_CONNECT],
	    "{client_addr}"));
	cr_assert_not_null(strstr(out.macros[SMFIM_CONNECT], "{daemon_name}"));
	cr_assert_null(out.macros[SMFIM_HELO]);
	cr_assert(out.actions & SMFIF_SETSYMLIST);
}

/* milterd's own needs (the disconnect check's) come with the defaults. */
Test(merge, own_macros)
{
	static const char	*own[SMFIM_COUNT] = {
		[SMFIM_CONNECT] = "{daemon_addr} {daemon_port}"
	};
	struct milter_optneg	kid, out, nolists = postfix;
	struct macro_lists	ml;
	const char		*first;

	memset(&kid, 0, sizeof(kid));
	kid.version = 6;
	merge_optneg(&postfix, &kid, 1, own, &out, &ml);
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
	merge_optneg(&nolists, &kid, 1, own, &out, &ml);
	cr_assert_null(out.macros[SMFIM_CONNECT]);
}

Test(merge, deciding_replies)
{
	cr_assert(merge_decides(SMFIC_RCPT, SMFIR_REJECT));
	cr_assert(merge_decides(SMFIC_RCPT, SMFIR_TEMPFAIL));
	cr_assert(merge_decides(SMFIC_MAIL, SMFIR_REPLYCODE));
	cr_assert(merge_decides(SMFIC_BODYEOB, SMFIR_DISCARD));
	cr_assert(merge_decides(SMFIC_HELO, SMFIR_SHUTDOWN));
	/* Postfix ignores discard at connection level. */
	cr_assert(!merge_decides(SMFIC_CONNECT, SMFIR_DISCARD));
	cr_assert(!merge_decides(SMFIC_RCPT, SMFIR_CONTINUE));
	cr_assert(!merge_decides(SMFIC_RCPT, SMFIR_ACCEPT));
	cr_assert_eq(merge_ends_child(SMFIC_HELO, SMFIR_ACCEPT), 2);
	cr_assert_eq(merge_ends_child(SMFIC_RCPT, SMFIR_ACCEPT), 1);
	cr_assert_eq(merge_ends_child(SMFIC_RCPT, SMFIR_CONTINUE), 0);
}

Test(merge, actions_needed)
{
	cr_assert_eq(merge_action_needed(SMFIR_INSHEADER), SMFIF_ADDHDRS);
	cr_assert_eq(merge_action_needed(SMFIR_CHGHEADER), SMFIF_CHGHDRS);
	cr_assert_eq(merge_action_needed(SMFIR_REPLBODY), SMFIF_CHGBODY);
	cr_assert_eq(merge_action_needed(SMFIR_ADDRCPT_PAR),
	    SMFIF_ADDRCPT_PAR);
	cr_assert_eq(merge_action_needed(SMFIR_CHGFROM), SMFIF_CHGFROM);
	cr_assert_eq(merge_action_needed(SMFIR_CONTINUE), 0);
}

Test(merge, header_value_translation)
{
	/* Same convention: as is. */
	cr_assert_str_eq(merge_header_value(" v", 1, 1), " v");
	cr_assert_str_eq(merge_header_value("v", 0, 0), "v");
	/* Child without leading space, MTA with: one space to be added. */
	cr_assert_null(merge_header_value("v", 0, 1));
	cr_assert_str_eq(merge_header_value("", 0, 1), "");
	/* Child with, MTA without: the MTA adds it, so one goes. */
	cr_assert_str_eq(merge_header_value(" v", 1, 0), "v");
	cr_assert_str_eq(merge_header_value("\tv", 1, 0), "\tv");
}

Test(merge, fallback_replies)
{
	cr_assert_eq(merge_fallback_reply(FALLBACK_TEMPFAIL, SMFIR_ACCEPT),
	    SMFIR_TEMPFAIL);
	cr_assert_eq(merge_fallback_reply(FALLBACK_REJECT, SMFIR_CONTINUE),
	    SMFIR_REJECT);
	cr_assert_eq(merge_fallback_reply(FALLBACK_ACCEPT, SMFIR_CONTINUE),
	    SMFIR_CONTINUE);
	cr_assert_eq(merge_fallback_reply(FALLBACK_ACCEPT, SMFIR_ACCEPT),
	    SMFIR_ACCEPT);
}

/* Evaluation's log line: what a child's kept edits would have done. */
Test(merge, describe_edits)
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
		merge_describe_edits(m.data, m.len, buf, sizeof(buf));
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
	merge_describe_edits(m.data, m.len, buf, sizeof(buf));
	cr_assert_str_eq(buf, "header X-A added, recipient <b@example.com> "
	    "deleted, body replaced (14 bytes)");
	/* Too long: cut on ", ...". */
	merge_describe_edits(m.data, m.len, small, sizeof(small));
	cr_assert_eq(strlen(small), sizeof(small) - 1);
	cr_assert_str_eq(small + strlen(small) - 5, ", ...");
	mbuf_free(&m);
}
