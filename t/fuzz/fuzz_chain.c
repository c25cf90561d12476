/*
 * fuzz_chain.c: libFuzzer target for the chain engine (src/chain.c)
 * alone: each input byte picks an event among those possible in the
 * engine's state (an MTA command when it takes one, a reply, an edit, a
 * failure or a drain of a child it awaits, a condition decided, the
 * client gone...), and the actions are checked against the engine's
 * invariants:
 *
 *   - each command the MTA waits on gets exactly one answer, and the
 *     MTA's next command is taken only after it (ACT_RESUME);
 *   - no command, replay or edit goes to a child out of play;
 *   - a child with conditions on the message is replayed only once
 *     they were decided and held (ACT_DECIDE, chain_eom_decided());
 *   - no modification is taken that the child and the MTA did not
 *     both negotiate;
 *   - once milterd could not reach a child for want of its own
 *     resources (chain_exhausted()), no answer lets mail through
 *     (continue or accept) until the children are started again;
 *   - the engine never stops: between commands, or awaiting an event
 *     this driver can give.
 *
 * Input: one byte of setup (bits 0-1: children, 1 to 4; bit 2: dispatch
 * parallel; bit 3: Sendmail; bits 4-7 modulo 6: the first child's
 * fallback; bit 6: the second in evaluation mode; bit 5: the last of
 * three or four a shadow; bit 7: a recipient condition on the first;
 * with 2 or 4 children, the last has a condition on the message),
 * then one byte per event.
 *
 * A shadow (evaluation_wait = false) never delays an answer: it is
 * never sent a command to wait on, replayed or applied, and whenever
 * the engine is at work it waits on a child that is not a shadow.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "chain.h"
#include "cond.h"

#define MAX_KIDS	4

static struct cond	 conds[] = {
	{ .name = "rcpt", .stages = COND_BIT(STAGE_RCPT) },
	{ .name = "size", .stages = COND_EOM },
};
static struct cond_ref	 rcpt_ref = { 0, 0 };
static struct cond_ref	 eom_ref = { 1, 0 };

/* What the driver knows from the actions so far. */
struct driver {
	struct chain	 ch;
	int		 answers;	/* to the command at work */
	int		 wants;		/* it waits on an answer */
	uint32_t	 granted;	/* actions: the children's, at O */
};

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
check(int ok)
{
	if (!ok)
		abort();
}

static void
take(struct driver *d)
{
	struct chain_action	 a;
	struct chain_child	*c;

	while (chain_take(&d->ch, &a)) {
		c = &d->ch.kids[a.child];
		switch (a.act) {
		case ACT_DECIDE:
			/* In play, or down with a fallback it would give. */
			check((chain_in_play(c) || c->part == PART_FAILED) &&
			    c->eom_check == EOM_ASKED &&
			    d->ch.phase == CHAIN_REPLAY);
			break;
		case ACT_SEND:
		case ACT_REPLAY:
			check(chain_in_play(c) && c->role != ROLE_SHADOW);
			check(a.act != ACT_REPLAY || c->mc->conds != &eom_ref ||
			    c->eom_check == EOM_HELD);
			/* The replay is sent whole; its reply comes. */
			if (a.act == ACT_REPLAY)
				c->replay.step = REPLAY_SENT;
			break;
		case ACT_TAKE_EDITS:
			check(c->part == PART_APPLYING && !c->evaluation);
			break;
		case ACT_SHADOW:
		case ACT_SHADOW_EOM:
			check(c->role == ROLE_SHADOW);
			break;
		case ACT_ANSWER:
			d->answers++;
			check(d->answers == 1);
			check(!d->ch.exhausted || (a.code != SMFIR_CONTINUE &&
			    a.code != SMFIR_ACCEPT));
			break;
		case ACT_RESUME:
			check(!d->wants || d->answers == 1);
			d->wants = 0;
			break;
		default:
			break;
		}
	}
}

static const char	 commands[] = { SMFIC_CONNECT, SMFIC_HELO,
	SMFIC_MAIL, SMFIC_RCPT, SMFIC_DATA, SMFIC_UNKNOWN, SMFIC_BODYEOB,
	SMFIC_ABORT, SMFIC_QUIT_NC };
static const char	 replies[] = { SMFIR_CONTINUE, SMFIR_ACCEPT,
	SMFIR_REJECT, SMFIR_TEMPFAIL, SMFIR_DISCARD, SMFIR_REPLYCODE,
	SMFIR_SKIP };
static const char	 edits[] = { SMFIR_ADDHEADER, SMFIR_CHGHEADER,
	SMFIR_REPLBODY, SMFIR_ADDRCPT, SMFIR_DELRCPT, SMFIR_QUARANTINE,
	SMFIR_CHGFROM };

/* An MTA command, when the engine takes one. */
static void
mta_event(struct driver *d, uint8_t b)
{
	char	cmd = commands[b % sizeof(commands)];

	d->answers = 0;
	switch (cmd) {
	case SMFIC_ABORT:
		chain_abort(&d->ch);
		return;
	case SMFIC_QUIT_NC:
		chain_restart(&d->ch);
		return;
	case SMFIC_BODYEOB:
		d->wants = 1;
		chain_eom(&d->ch, (b & 0x80) == 0);
		return;
	default:
		d->wants = 1;
		chain_command(&d->ch, cmd);
		/* Decided at once, unless the byte says it is pending. */
		if (!(b & 0x80))
			chain_decided(&d->ch);
		return;
	}
}

/* An event of child i, as its state allows. */
static void
child_event(struct driver *d, size_t i, uint8_t b)
{
	struct chain_child	*c = &d->ch.kids[i];
	struct milter_optneg	 eff;
	uint8_t			 pkt[5] = { 0, 0, 0, 1, 0 };
	char			 code;
	const char		*why;

	if (b % 8 == 7 && c->part != PART_IDLE && c->part != PART_FAILED) {
		chain_failed(&d->ch, i);
		return;
	}
	switch (c->part) {
	case PART_STARTING:
		/* Out of descriptors at its connect. */
		if (b % 8 == 6) {
			chain_exhausted(&d->ch, i);
			break;
		}
		memset(&eff, 0, sizeof(eff));
		eff.version = 6;
		eff.actions = (uint32_t)b * 0x0101U & 0x1ff;
		eff.protocol = b & 0x40 ? SMFIP_NR_HDR | SMFIP_NR_RCPT : 0;
		chain_negotiated(&d->ch, i, &eff);
		break;
	case PART_WAITING:
		if (b & 0x80) {
			code = edits[(b >> 3) % sizeof(edits)];
			pkt[4] = (uint8_t)code;
			why = chain_edit(&d->ch, i, code, pkt, sizeof(pkt));
			check(why != NULL || (c->eff.actions &
			    d->ch.upstream.actions &
			    chain_action_needed(code)) != 0);
			/* child.c fails a child whose edit is refused. */
			if (why != NULL)
				chain_failed(&d->ch, i);
		} else if (b & 0x40 && d->ch.phase == CHAIN_REPLAY)
			chain_drained(&d->ch, i);
		else
			chain_replied(&d->ch, i, replies[b % sizeof(replies)],
			    "");
		break;
	case PART_APPLYING:
		chain_edits_taken(&d->ch, i, b & 1);
		break;
	default:
		break;
	}
}

/* The child whose conditions on the message are asked, or SIZE_MAX. */
static size_t
asked(const struct driver *d)
{
	size_t	i;

	for (i = 0; i < d->ch.nkids; i++)
		if (d->ch.phase == CHAIN_REPLAY &&
		    d->ch.kids[i].eom_check == EOM_ASKED)
			return i;
	return SIZE_MAX;
}

/* Is an event awaited that only this driver gives? */
static int
awaits(const struct driver *d)
{
	size_t	i;

	if (asked(d) != SIZE_MAX)
		return 1;
	/* Never a shadow: nothing waits for it. */
	for (i = 0; i < d->ch.nkids; i++)
		if (d->ch.kids[i].role != ROLE_SHADOW &&
		    (d->ch.kids[i].part == PART_STARTING ||
		    d->ch.kids[i].part == PART_WAITING ||
		    d->ch.kids[i].part == PART_APPLYING))
			return 1;
	return d->ch.phase == CHAIN_DECIDING ||
	    d->ch.phase == CHAIN_SENDING_BODY;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct driver	 d;
	struct conf		 conf;
	struct milter_conf	 mcs[MAX_KIDS];
	struct milter_optneg	 offer = { 6, 0x1ff, 0x1fffff, { NULL } };
	size_t			 i, j, k, n;
	uint8_t			 b;

	if (size < 1)
		return 0;
	memset(&conf, 0, sizeof(conf));
	memset(mcs, 0, sizeof(mcs));
	conf.dispatch = data[0] & 4 ? DISPATCH_PARALLEL : DISPATCH_SEQUENTIAL;
	conf.mta = data[0] & 8 ? MTA_SENDMAIL : MTA_POSTFIX;
	conf.fallback = FALLBACK_TEMPFAIL;
	conf.conds = conds;
	conf.nconds = 2;
	n = (data[0] & 3) + 1;
	for (i = 0; i < n; i++) {
		mcs[i].name = "kid";
		mcs[i].fallback = i == 0 ? (enum fallback)((data[0] >> 4) %
		    (FALLBACK_SHUTDOWN + 1)) : FALLBACK_ACCEPT;
	}
	if (data[0] & 0x80) {
		mcs[0].conds = &rcpt_ref;
		mcs[0].nconds = 1;
	}
	if (n % 2 == 0) {
		mcs[n - 1].conds = &eom_ref;
		mcs[n - 1].nconds = 1;
	}
	conf.milters = mcs;
	conf.nmilters = n;
	memset(&d, 0, sizeof(d));
	chain_init(&d.ch, &conf);
	for (i = 0; i < n; i++)
		chain_add(&d.ch, &mcs[i], i == 1 && (data[0] & 0x40) ?
		    ROLE_EVALUATED : i == n - 1 && n > 2 && (data[0] & 0x20) ?
		    ROLE_SHADOW : ROLE_FILTER);
	chain_optneg(&d.ch, &offer);
	take(&d);
	for (i = 1; i < size && d.ch.phase != CHAIN_CLOSED; i++) {
		b = data[i];
		if (d.ch.phase == CHAIN_IDLE && !awaits(&d))
			mta_event(&d, b);
		else if (d.ch.phase == CHAIN_DECIDING)
			switch (b % 4) {
			case 0:
				chain_decided(&d.ch);
				break;
			case 1:
				chain_keep_out(&d.ch, (b >> 2) % n, &rcpt_ref);
				break;
			case 2:
				if (d.ch.cmd == SMFIC_RCPT)
					chain_rcpt(&d.ch, (b >> 2) % n, b & 0x80);
				break;
			default:
				/* Only a child in play can fail. */
				if (chain_in_play(&d.ch.kids[(b >> 2) % n]))
					chain_failed(&d.ch, (b >> 2) % n);
				break;
			}
		else if (d.ch.phase == CHAIN_SENDING_BODY)
			chain_body_sent(&d.ch, b & 1);
		else if (b == 0xff && (d.ch.phase == CHAIN_ROUND ||
		    d.ch.phase == CHAIN_REPLAY))
			chain_gone(&d.ch, SMFIR_TEMPFAIL);
		else if ((k = asked(&d)) != SIZE_MAX && b % 4 != 3) {
			/* Held, kept out, or failed meanwhile. */
			if (b % 4 == 2)
				chain_failed(&d.ch, k);
			else
				chain_eom_decided(&d.ch, k, b % 4 == 0 ? NULL :
				    &eom_ref);
		} else
			child_event(&d, (b >> 3) % n, b);
		take(&d);
		check(d.ch.phase != CHAIN_START);
		/* At work, it waits on a child that is no shadow. */
		if (d.ch.phase == CHAIN_NEGOTIATING ||
		    d.ch.phase == CHAIN_ROUND || d.ch.phase == CHAIN_REPLAY)
			check(awaits(&d));
		for (j = 0; j < d.ch.nkids; j++)
			check(d.ch.kids[j].role != ROLE_SHADOW ||
			    (d.ch.kids[j].part != PART_WAITING &&
			    d.ch.kids[j].part != PART_APPLYING));
	}
	chain_free(&d.ch);
	return 0;
}
