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
 * chain.c: the chain engine, milterd standing in for the MTA's own
 * chain of milters.  Pure: session.c feeds it the session's events and
 * carries out the actions it queues (chain_take()), in order.  Time
 * and I/O stay in session.c and child.c.
 *
 * Negotiation.  At O (and after K) every child is started; when each
 * has negotiated or failed, the MTA gets once the merge of what they
 * need (chain_merge_optneg(), below).
 *
 * Envelope commands (C H M R T U).  A command is first decided: the
 * conditions of each child say whether it takes part (session.c tells
 * chain_keep_out() and chain_rcpt(), possibly later: a condition may be
 * pending), then chain_decided() begins the round.  Children in order
 * get the command; the first reply that is not continue or accept
 * decides, and later children never see that command (dispatch
 * sequential), or all get it at once and the order still decides
 * (parallel).  Accept ends a child's part in the message (at connect
 * or HELO, in the connection); a refused recipient is refused alone.
 *
 * Headers, end of headers and body pieces are kept by session.c and
 * answered at once.  At end of message each child in turn is replayed
 * the message as the children before it modified it; a child's
 * modifications are taken (applied to the copy, forwarded) when it
 * accepts or continues; the first that refuses decides.  Quarantine
 * ends the content chain where the MTA's profile says so.  A child
 * with conditions on the message (size, header, verdict, a lua eom())
 * has them decided just before its replay, on the copy as the children
 * before it left it: the chain asks (ACT_DECIDE) and waits for
 * chain_eom_decided(); one kept out then is told abort and counts as
 * stopped, like a child kept out at DATA.
 *
 * Failures.  A child that fails while the command at work awaits it,
 * or before it was reached, answers that command with its fallback;
 * one that fails between commands owes its fallback to the next.  When
 * every child has failed, the global fallback answers.  A child milterd
 * could not reach for want of its own resources (chain_exhausted())
 * is no fallback's business: every answer is tempfail until the
 * children are started again.
 *
 * Evaluation mode is applied where a reply is taken (taken_reply()):
 * the verdict is counted and logged, and stands as continue; the
 * child's modifications are never taken.
 *
 * A shadow (ROLE_SHADOW: evaluation_wait = false) is outside the
 * chain's rules: nothing waits for it, not the MTA's options
 * (check_negotiated()), a round (eligible()), the end of message
 * (eom_next()) nor the answer (chain_answer(), eom_finish() count the
 * filters only).  It is given each command it takes part in when the
 * round reaches its place, so not one a child before it refused
 * (ACT_SHADOW), and, at its place in the end-of-message walk, the
 * message as the children before it left it (ACT_SHADOW_EOM); session.c
 * queues both for it (shadow.c), and its replies never come back here.
 */

#include <stdlib.h>
#include <string.h>

#include "chain.h"
#include "cond.h"
#include "log.h"

/*
 * What differs between the MTAs.  The default macro lists, by SMFIM_
 * stage: Postfix 3.7's milter_*_macros, Sendmail 8.17's
 * confMILTER_MACROS_* (m4 defaults), and their union (MTA_AUTO, before
 * the connect command says which MTA it is), which milterd asks for
 * where it asks for a list at all, so that each child can be given
 * what its MTA would have sent.  Sendmail goes on after quarantine and
 * keeps a replaced body's last line open.
 */
static const struct chain_profile profiles[] = {
	[MTA_AUTO] = { "postfix", 1, 0, {
		"j _ {daemon_name} {daemon_addr} {if_name} {if_addr} v",
		"{tls_version} {cipher} {cipher_bits} {cert_subject} "
		    "{cert_issuer}",
		"i {auth_type} {auth_authen} {auth_ssf} {auth_author} "
		    "{mail_mailer} {mail_host} {mail_addr}",
		"i {rcpt_mailer} {rcpt_host} {rcpt_addr}",
		"i",
		"i {msg_id}",
		"i",
	} },
	[MTA_POSTFIX] = { "postfix", 1, 0, {
		"j {daemon_name} {daemon_addr} v _",
		"{tls_version} {cipher} {cipher_bits} {cert_subject} "
		    "{cert_issuer}",
		"i {auth_type} {auth_authen} {auth_author} {mail_addr} "
		    "{mail_host} {mail_mailer}",
		"i {rcpt_addr} {rcpt_host} {rcpt_mailer}",
		"i",
		"i",
		"i",
	} },
	[MTA_SENDMAIL] = { "sendmail", 0, 1, {
		"j _ {daemon_name} {if_name} {if_addr}",
		"{tls_version} {cipher} {cipher_bits} {cert_subject} "
		    "{cert_issuer}",
		"i {auth_type} {auth_authen} {auth_ssf} {auth_author} "
		    "{mail_mailer} {mail_host} {mail_addr}",
		"{rcpt_mailer} {rcpt_host} {rcpt_addr}",
		"",
		"{msg_id}",
		"",
	} },
};

static void	emit(struct chain *, enum chain_act, size_t, char,
		    const char *);
static int	busy(const struct chain *);
static char	fallback_of(const struct chain_child *);
static void	take_owed(struct chain_child *, char);
static int	lingers(const struct chain_child *);
static int	shadow_due(const struct chain_child *);
static void	wake(struct chain *);
static void	check_negotiated(struct chain *);
static void	start_all(struct chain *);
static void	message_over(struct chain *);
static void	rcpt_scope(struct chain *);
static int	eligible(const struct chain_child *, char);
static void	round_send(struct chain *, size_t);
static void	round_next(struct chain *);
static void	round_finish(struct chain *);
static void	note_verdict(struct chain *, size_t);
static int	evaluated(struct chain *, size_t);
static char	chain_answer(struct chain *, const char **);
static void	answer(struct chain *, char, const char *);
static int	eom_conditions(const struct chain *,
		    const struct chain_child *);
static void	eom_next(struct chain *);
static void	eom_replied(struct chain *, size_t);
static void	eom_taken(struct chain *, size_t);
static void	eom_finish(struct chain *, struct chain_child *);
static size_t	quarantine_due(const struct chain *, size_t);
static void	eom_done(struct chain *, char, const char *);
static size_t	filters(const struct chain *);

const struct chain_profile *
chain_profile(enum mta mta)
{
	return &profiles[mta];
}

void
chain_init(struct chain *ch, const struct conf *conf)
{
	memset(ch, 0, sizeof(*ch));
	ch->conf = conf;
	ch->profile = chain_profile(conf->mta);
	ch->phase = CHAIN_START;
	if (conf->nmilters > 0 && (ch->kids = calloc(conf->nmilters,
	    sizeof(*ch->kids))) == NULL)
		fatal("%s: calloc", __func__);
}

void
chain_free(struct chain *ch)
{
	size_t	i;

	for (i = 0; i < ch->nkids; i++) {
		mbuf_free(&ch->kids[i].text);
		mbuf_free(&ch->kids[i].edits);
	}
	free(ch->kids);
	free(ch->acts);
}

/* A child, in configuration order; evaluation as in effect. */
size_t
chain_add(struct chain *ch, const struct milter_conf *mc, enum role role)
{
	struct chain_child	*c = &ch->kids[ch->nkids];
	size_t			 j;

	c->mc = mc;
	c->role = role;
	c->evaluation = role != ROLE_FILTER;
	for (j = 0; j < mc->nconds && c->rcpt_cond == NULL; j++)
		if (ch->conf->conds[mc->conds[j].idx].stages &
		    COND_BIT(STAGE_RCPT))
			c->rcpt_cond = &mc->conds[j];
	return ch->nkids++;
}

/* The MTA, once it told who it is (the `v' macro at connect). */
void
chain_set_mta(struct chain *ch, enum mta mta)
{
	ch->profile = chain_profile(mta);
}

/* The next action to carry out, in the order queued; 0 when none. */
int
chain_take(struct chain *ch, struct chain_action *a)
{
	if (ch->next == ch->nacts) {
		ch->next = ch->nacts = 0;
		return 0;
	}
	*a = ch->acts[ch->next++];
	return 1;
}

static void
emit(struct chain *ch, enum chain_act act, size_t child, char code,
    const char *text)
{
	struct chain_action	*a;
	size_t			 cap;

	if (ch->nacts == ch->capacts) {
		cap = ch->capacts > 0 ? ch->capacts * 2 : 16;
		if ((a = reallocarray(ch->acts, cap, sizeof(*a))) == NULL)
			fatal("%s: reallocarray", __func__);
		ch->acts = a;
		ch->capacts = cap;
	}
	a = &ch->acts[ch->nacts++];
	memset(a, 0, sizeof(*a));
	a->act = act;
	a->child = child;
	a->code = code;
	a->cmd = ch->cmd;
	a->text = text;
}

/* Connected and negotiated, not failed: it can be sent commands. */
int
chain_in_play(const struct chain_child *c)
{
	return c->part == PART_READY || c->part == PART_WAITING ||
	    c->part == PART_APPLYING;
}

/* Do child i's conditions still count at cmd (apply.c)? */
int
chain_open(const struct chain *ch, size_t i, char cmd)
{
	const struct chain_child	*c = &ch->kids[i];

	if (c->scope != SCOPE_IN)
		return 0;
	if (cmd == SMFIC_RCPT)
		return c->part != PART_FAILED;
	/* A child down since negotiation: its conditions too. */
	return c->part != PART_FAILED || c->owed;
}

const char *
chain_text(const struct chain_child *c)
{
	return c->text.len > 0 ? (const char *)c->text.data : "";
}

/* What conditions and the log line say of a child so far. */
const char *
chain_child_state(const struct chain_child *c)
{
	if (c->stopped != NULL)
		return "stopped";
	if (c->part == PART_FAILED && c->cut == CUT_NONE)
		return "failed";
	return verdict_name(c->verdict);
}

/*
 * What verdict conditions see of a child in this message: its verdict
 * (a child in evaluation mode: the one it would have given), modified
 * for continue or accept at end of message with modifications; NULL
 * when it gave none.  A child that accepted the connection counts as
 * accept in each of its messages.
 */
const char *
chain_msg_verdict(const struct chain_child *c)
{
	return c->msg_verdict;
}

/* Is the session at work on a command (not between commands)? */
static int
busy(const struct chain *ch)
{
	return ch->phase == CHAIN_NEGOTIATING || ch->phase == CHAIN_ROUND ||
	    ch->phase == CHAIN_REPLAY || ch->phase == CHAIN_SENDING_BODY;
}

/*
 * What a failed child answers: its fallback; a child on trial
 * (evaluation) touches no mail, failed or not.
 */
static char
fallback_of(const struct chain_child *c)
{
	if (c->evaluation)
		return SMFIR_CONTINUE;
	return chain_fallback_reply(c->mc->fallback, SMFIR_CONTINUE);
}

static void
set_text(struct chain_child *c, const char *text)
{
	mbuf_reset(&c->text);
	if (mbuf_append(&c->text, text, strlen(text) + 1) == -1)
		mbuf_reset(&c->text);
}

/*
 * A child that failed since the last command answers this one (cmd)
 * with its fallback; otherwise it has no reply yet.  A discard waits
 * for the message (it means nothing at connect or HELO).
 */
static void
take_owed(struct chain_child *c, char cmd)
{
	char	fb = fallback_of(c);

	set_text(c, "");
	if (c->owed && !chain_decides(cmd, fb) && fb == SMFIR_DISCARD) {
		c->reply = 0;
		return;
	}
	c->reply = c->owed ? fb : 0;
	c->owed = 0;
}

/*
 * A failed child whose fallback outlasts the command it failed at: a
 * quarantine holds each message it misses, a discard waits for the
 * message.  The MTA is not told accept while one lingers.
 */
static int
lingers(const struct chain_child *c)
{
	return c->part == PART_FAILED && !c->evaluation &&
	    (c->mc->fallback == FALLBACK_QUARANTINE ||
	    (c->mc->fallback == FALLBACK_DISCARD && c->owed));
}

/* The command is answered: the MTA's next ones may come. */
static void
wake(struct chain *ch)
{
	ch->phase = CHAIN_IDLE;
	emit(ch, ACT_RESUME, 0, 0, NULL);
}

/*
 * Negotiation.
 */

void
chain_optneg(struct chain *ch, const struct milter_optneg *offer)
{
	ch->offer = *offer;
	start_all(ch);
}

/* K: the children are connected and negotiated afresh; the MTA is
 * not answered again. */
void
chain_restart(struct chain *ch)
{
	chain_abort(ch);
	start_all(ch);
}

static void
start_all(struct chain *ch)
{
	struct chain_child	*c;
	size_t			 i;

	ch->phase = CHAIN_NEGOTIATING;
	ch->exhausted = 0;
	/* All starting before any is: one may fail at once. */
	for (i = 0; i < ch->nkids; i++) {
		c = &ch->kids[i];
		emit(ch, ACT_QUIT, i, 0, NULL);
		c->part = PART_STARTING;
		c->scope = SCOPE_IN;
		c->in_msg = c->owed = 0;
		c->reply = 0;
		c->msg_verdict = NULL;
		mbuf_reset(&c->edits);
	}
	for (i = 0; i < ch->nkids; i++)
		emit(ch, ACT_START, i, 0, NULL);
	check_negotiated(ch);
}

void
chain_negotiated(struct chain *ch, size_t i, const struct milter_optneg *eff)
{
	struct chain_child	*c = &ch->kids[i];

	c->eff = *eff;
	c->part = PART_READY;
	/* Nothing waited for it (and the session may be at work). */
	if (c->role != ROLE_SHADOW)
		check_negotiated(ch);
}

static void
check_negotiated(struct chain *ch)
{
	struct macro_lists	 ml;
	size_t			 i;

	for (i = 0; i < ch->nkids; i++)
		if (ch->kids[i].part == PART_STARTING &&
		    ch->kids[i].role != ROLE_SHADOW)
			return;
	if (!ch->negotiated) {
		/* The lists are wanted only for the reply (chain_upstream()). */
		chain_upstream(ch, &ch->upstream, &ml);
		memset(ch->upstream.macros, 0, sizeof(ch->upstream.macros));
		ch->negotiated = 1;
		emit(ch, ACT_OPTNEG, 0, 0, NULL);
	}
	wake(ch);
}

/*
 * milterd's answer to the MTA's options, from the children in play:
 * the merge (below), the steps conditions need, the quarantine action
 * a fallback needs; its macro lists in ml.
 */
void
chain_upstream(const struct chain *ch, struct milter_optneg *up,
    struct macro_lists *ml)
{
	struct milter_optneg	 effs[CONF_MAX_MILTERS];
	char			 lists[SMFIM_COUNT][MACRO_LIST_MAX];
	const char		*own[SMFIM_COUNT];
	size_t			 i, n = 0;

	for (i = 0; i < ch->nkids; i++) {
		/*
		 * A shadow is answered for before it negotiates: every
		 * step and its reply are asked for it, no action.
		 */
		if (ch->kids[i].role == ROLE_SHADOW) {
			memset(&effs[n], 0, sizeof(effs[n]));
			effs[n++].version = MILTER_VERSION;
		} else if (chain_in_play(&ch->kids[i]))
			effs[n++] = ch->kids[i].eff;
	}
	macros_own(ch->conf, lists);
	for (i = 0; i < SMFIM_COUNT; i++)
		own[i] = lists[i][0] != '\0' ? lists[i] : NULL;
	chain_merge_optneg(&ch->offer, effs, n, own, up, ml);
	/* Children kept out by conditions need those steps. */
	up->protocol &= ~chain_condition_steps(ch->conf);
	if (chain_quarantines(ch->conf))
		up->actions |= ch->offer.actions & SMFIF_QUARANTINE;
}

/*
 * A child was dropped.  If the command at work awaited it, or it had
 * not been reached yet, its fallback answers that command; otherwise
 * (between commands, or this command already answered: its reply
 * stands) the fallback answers the next command.
 */
void
chain_failed(struct chain *ch, size_t i)
{
	struct chain_child	*c = &ch->kids[i];
	enum part		 was = c->part;
	int			 awaited = was == PART_WAITING;

	c->part = PART_FAILED;
	/* No fallback: it never answered for anything. */
	if (c->role == ROLE_SHADOW)
		return;
	if (awaited || was == PART_APPLYING || (was == PART_READY &&
	    busy(ch) && c->reply == 0)) {
		c->reply = fallback_of(c);
		set_text(c, "");
		c->owed = 0;
	} else
		c->owed = 1;
	if (was == PART_STARTING)
		check_negotiated(ch);
	else if (was == PART_APPLYING)
		eom_replied(ch, i);
	else if (awaited)
		chain_replied(ch, i, c->reply, NULL);
}

/*
 * Child i could not be reached because milterd itself is out of a
 * resource (descriptors, memory): not the child's failure, so not its
 * fallback either.  Nothing in the connection was filtered by it:
 * every answer is tempfail until the children are started again (K).
 */
void
chain_exhausted(struct chain *ch, size_t i)
{
	ch->exhausted = 1;
	chain_failed(ch, i);
}

/*
 * Envelope commands: decided, then a round.
 */

void
chain_command(struct chain *ch, char cmd)
{
	size_t	i;

	ch->phase = CHAIN_DECIDING;
	ch->cmd = cmd;
	ch->pos = 0;
	ch->waiting = 0;
	if (cmd == SMFIC_MAIL)
		message_over(ch);
	for (i = 0; i < ch->nkids; i++) {
		ch->kids[i].skip = 0;
		ch->kids[i].rcpt_counted = 0;
		/* Kept out of the connection: its stop stands. */
		if ((cmd == SMFIC_MAIL || cmd == SMFIC_CONNECT) &&
		    ch->kids[i].scope != SCOPE_OUT_CONNECTION)
			ch->kids[i].stopped = NULL;
	}
}

/*
 * A condition of child i does not hold at the command: at connect or
 * HELO it is kept out of the connection (told quit), at MAIL or DATA
 * out of the message (told abort).  Like a child that accepted.
 */
void
chain_keep_out(struct chain *ch, size_t i, const struct cond_ref *ref)
{
	struct chain_child	*c = &ch->kids[i];

	c->stopped = ref;
	if (ch->cmd == SMFIC_CONNECT || ch->cmd == SMFIC_HELO) {
		c->scope = SCOPE_OUT_CONNECTION;
		emit(ch, ACT_QUIT, i, 0, NULL);
		if (c->part != PART_FAILED)
			c->part = PART_IDLE;
	} else {
		if (c->in_msg)
			emit(ch, ACT_ABORT, i, 0, NULL);
		c->in_msg = 0;
		c->scope = SCOPE_OUT_MESSAGE;
	}
	/* Kept out: its fallback, if it is down, does not count. */
	c->owed = 0;
}

/* At RCPT: is child i shown this recipient? */
void
chain_rcpt(struct chain *ch, size_t i, int shown)
{
	struct chain_child	*c = &ch->kids[i];

	if (shown)
		c->rcpt_shown++;
	else {
		c->rcpt_hidden++;
		c->skip = 1;
	}
	c->rcpt_counted = 1;
}

/*
 * The end of the envelope: a child with recipient conditions takes
 * part in the message if one recipient was for it (recipients = any)
 * or every one (all); else it is told abort and kept out of it.
 */
static void
rcpt_scope(struct chain *ch)
{
	struct chain_child	*c;
	size_t			 i;

	for (i = 0; i < ch->nkids; i++) {
		c = &ch->kids[i];
		if (c->rcpt_cond == NULL || c->scope != SCOPE_IN ||
		    !chain_in_play(c) || (c->mc->all_recipients ?
		    c->rcpt_hidden == 0 : c->rcpt_shown > 0))
			continue;
		if (c->in_msg)
			emit(ch, ACT_ABORT, i, 0, NULL);
		c->in_msg = 0;
		c->scope = SCOPE_OUT_MESSAGE;
		c->stopped = c->rcpt_cond;
		emit(ch, ACT_STOPPED, i, 0, NULL);
	}
}

/* The conditions are decided: the round begins. */
void
chain_decided(struct chain *ch)
{
	struct chain_child	*c;
	size_t			 i;

	ch->phase = CHAIN_ROUND;
	if (ch->cmd == SMFIC_DATA)
		rcpt_scope(ch);
	for (i = 0; i < ch->nkids; i++) {
		c = &ch->kids[i];
		take_owed(c, ch->cmd);
		if (ch->cmd == SMFIC_MAIL && chain_in_play(c) &&
		    c->scope == SCOPE_IN)
			c->in_msg = 1;
		/* In parallel every child has the command at once. */
		if (ch->conf->dispatch == DISPATCH_PARALLEL && shadow_due(c))
			emit(ch, ACT_SHADOW, i, ch->cmd, NULL);
	}
	round_next(ch);
}

static int
eligible(const struct chain_child *c, char cmd)
{
	return c->role != ROLE_SHADOW && chain_in_play(c) &&
	    c->scope == SCOPE_IN && !c->skip && milter_cmd_sent(&c->eff, cmd);
}

/* Is c a shadow that is to be given the command at work (ACT_SHADOW)? */
static int
shadow_due(const struct chain_child *c)
{
	return c->role == ROLE_SHADOW && c->scope == SCOPE_IN && !c->skip &&
	    (chain_in_play(c) || c->part == PART_STARTING);
}

static void
round_send(struct chain *ch, size_t i)
{
	struct chain_child	*c = &ch->kids[i];

	emit(ch, ACT_SEND, i, ch->cmd, NULL);
	/* A child that does not answer the command said continue. */
	if (!milter_cmd_replied(&c->eff, ch->cmd)) {
		c->reply = SMFIR_CONTINUE;
		return;
	}
	ch->acts[ch->nacts - 1].wait = 1;
	c->part = PART_WAITING;
	ch->waiting++;
}

static void
round_next(struct chain *ch)
{
	struct chain_child	*c;
	size_t			 i;

	if (ch->conf->dispatch == DISPATCH_PARALLEL) {
		for (i = 0; i < ch->nkids; i++)
			if (eligible(&ch->kids[i], ch->cmd))
				round_send(ch, i);
		if (ch->waiting == 0)
			round_finish(ch);
		return;
	}
	for (; ch->pos < ch->nkids; ch->pos++) {
		c = &ch->kids[ch->pos];
		if (!eligible(c, ch->cmd)) {
			/*
			 * A shadow has the command at its place, as in the
			 * MTA's own chain: only if no child before it
			 * refused it (a recipient, say), and not waited for.
			 */
			if (shadow_due(c))
				emit(ch, ACT_SHADOW, ch->pos, ch->cmd, NULL);
			/* An owed fallback decides in its place. */
			if (c->reply != 0 && chain_decides(ch->cmd, c->reply))
				break;
			continue;
		}
		round_send(ch, ch->pos);
		if (ch->waiting > 0)
			return;
	}
	round_finish(ch);
}

/*
 * A child's verdict for this command: a deciding reply, accept, or at
 * end of message continue (the message is accepted by it).  Counted as
 * applied or evaluated, and kept for the session's log line.
 */
static void
note_verdict(struct chain *ch, size_t i)
{
	struct chain_child	*c = &ch->kids[i];
	enum verdict		 v;

	if (ch->cmd != SMFIC_BODYEOB && !chain_decides(ch->cmd, c->reply) &&
	    c->reply != SMFIR_ACCEPT)
		return;
	v = c->quarantined ? VERDICT_QUARANTINE : verdict_of(c->reply,
	    chain_text(c));
	if (v == VERDICT_NONE)
		return;
	c->verdict = v;
	c->verdict_evaluated = c->evaluation;
	c->msg_verdict = verdict_name(v);
	if (v == VERDICT_ACCEPT && ch->cmd == SMFIC_BODYEOB &&
	    c->edits.len > 0)
		c->msg_verdict = CV_MODIFIED_NAME;
	emit(ch, ACT_VERDICT, i, c->reply, NULL);
}

/* An evaluated child's verdict is logged, then counts as continue. */
static int
evaluated(struct chain *ch, size_t i)
{
	struct chain_child	*c = &ch->kids[i];

	if (!c->evaluation || c->part == PART_FAILED ||
	    (!chain_decides(ch->cmd, c->reply) && c->reply != SMFIR_ACCEPT))
		return 0;
	emit(ch, ACT_EVALUATED, i, c->reply, chain_text(c));
	if (c->reply != SMFIR_ACCEPT)
		c->reply = SMFIR_CONTINUE;
	return 1;
}

/* A final reply from child i to the command at work. */
void
chain_replied(struct chain *ch, size_t i, char code, const char *text)
{
	struct chain_child	*c = &ch->kids[i];
	int			 ends;

	if (text != NULL) {
		c->reply = code;
		set_text(c, text);
	}
	if (c->part == PART_WAITING)
		c->part = PART_READY;
	if (ch->cmd == SMFIC_BODYEOB) {
		eom_replied(ch, i);
		return;
	}
	if (ch->waiting > 0)
		ch->waiting--;
	if (c->part != PART_FAILED)
		note_verdict(ch, i);
	(void)evaluated(ch, i);
	if ((ends = chain_ends_child(ch->cmd, c->reply)) > (int)c->scope)
		c->scope = (enum scope)ends;
	if (ch->conf->dispatch == DISPATCH_PARALLEL) {
		if (ch->waiting == 0)
			round_finish(ch);
		return;
	}
	if (chain_decides(ch->cmd, c->reply)) {
		round_finish(ch);
		return;
	}
	ch->pos++;
	round_next(ch);
}

/*
 * The chain's answer: the first deciding reply in child order; else
 * the global fallback when every child failed; else accept when every
 * child is done with this scope (the MTA then stops asking); else
 * continue.
 */
static char
chain_answer(struct chain *ch, const char **text)
{
	struct chain_child	*c;
	size_t			 i, failed = 0, done = 0, shadows = 0;
	char			 code;

	*text = NULL;
	/* The client has gone: what it was told stands for the rest. */
	if (ch->gone)
		return ch->gone;
	if (ch->exhausted)
		return SMFIR_TEMPFAIL;
	for (i = 0; i < ch->nkids; i++) {
		c = &ch->kids[i];
		if (c->reply != 0 && chain_decides(ch->cmd, c->reply)) {
			*text = chain_text(c);
			return c->reply;
		}
		/*
		 * A shadow in the message keeps the MTA sending (continue,
		 * not accept), but answers for nothing.
		 */
		if (c->role == ROLE_SHADOW)
			shadows += c->scope == SCOPE_IN &&
			    c->part != PART_FAILED;
		/* Kept out by a condition, even if down: an accept. */
		else if (c->scope != SCOPE_IN)
			done++;
		else if (c->part == PART_FAILED && !lingers(c))
			failed++;
	}
	if (failed == filters(ch)) {
		code = chain_fallback_reply(ch->conf->fallback, SMFIR_ACCEPT);
		/* Accept would end a shadow's part: the MTA goes on. */
		if (code == SMFIR_ACCEPT && shadows > 0)
			return SMFIR_CONTINUE;
		/* Discard means nothing at connect and HELO: at MAIL it is. */
		return chain_decides(ch->cmd, code) || code != SMFIR_DISCARD ?
		    code : SMFIR_CONTINUE;
	}
	return failed + done == filters(ch) && shadows == 0 ? SMFIR_ACCEPT :
	    SMFIR_CONTINUE;
}

/* The children whose replies answer the MTA: all but the shadows. */
static size_t
filters(const struct chain *ch)
{
	size_t	i, n = 0;

	for (i = 0; i < ch->nkids; i++)
		n += ch->kids[i].role != ROLE_SHADOW;
	return n;
}

/* The answer to the command at work (sent unless the MTA waived it). */
static void
answer(struct chain *ch, char code, const char *text)
{
	emit(ch, ACT_ANSWER, 0, code, text);
	ch->acts[ch->nacts - 1].wait = ch->cmd == SMFIC_BODYEOB ||
	    milter_cmd_replied(&ch->upstream, ch->cmd);
}

static void
round_finish(struct chain *ch)
{
	struct chain_child	*c;
	const char		*text;
	char			 code = chain_answer(ch, &text);
	size_t			 i;

	/* A refused recipient is no one's: the MTA drops it. */
	if (ch->cmd == SMFIC_RCPT && chain_decides(SMFIC_RCPT, code)) {
		emit(ch, ACT_RCPT_REFUSED, 0, code, NULL);
		for (i = 0; i < ch->nkids; i++) {
			c = &ch->kids[i];
			if (!c->rcpt_counted)
				continue;
			if (c->skip)
				c->rcpt_hidden--;
			else
				c->rcpt_shown--;
		}
	}
	answer(ch, code, text);
	wake(ch);
}

/* The message is over (end of message, abort, a new MAIL). */
static void
message_over(struct chain *ch)
{
	struct chain_child	*c;
	size_t			 i;

	for (i = 0; i < ch->nkids; i++) {
		c = &ch->kids[i];
		c->in_msg = 0;
		c->rcpt_shown = c->rcpt_hidden = 0;
		/* An accepted connection's verdict stands for each message. */
		if (c->scope != SCOPE_OUT_CONNECTION)
			c->msg_verdict = NULL;
		if (c->scope == SCOPE_OUT_MESSAGE)
			c->scope = SCOPE_IN;
	}
	emit(ch, ACT_MESSAGE_OVER, 0, 0, NULL);
}

/* Abort (or K): children inside the message are told. */
void
chain_abort(struct chain *ch)
{
	size_t	i;

	for (i = 0; i < ch->nkids; i++)
		if (ch->kids[i].in_msg)
			emit(ch, ACT_ABORT, i, 0, NULL);
	message_over(ch);
}

void
chain_quit(struct chain *ch)
{
	ch->phase = CHAIN_CLOSED;
}

/*
 * End of message: each child in turn is replayed the message.
 * intact: session.c kept all of it.
 */
void
chain_eom(struct chain *ch, int intact)
{
	struct chain_child	*c;
	size_t			 i;

	ch->phase = CHAIN_REPLAY;
	/* When the MTA sent no DATA, the recipients are judged here. */
	rcpt_scope(ch);
	ch->cmd = SMFIC_BODYEOB;
	ch->pos = 0;
	ch->body_replaced = 0;
	ch->quarantined = 0;
	ch->held_by = SIZE_MAX;
	for (i = 0; i < ch->nkids; i++) {
		c = &ch->kids[i];
		take_owed(c, SMFIC_BODYEOB);
		memset(&c->replay, 0, sizeof(c->replay));
		c->eom_check = EOM_UNCHECKED;
		c->quarantined = 0;
		mbuf_reset(&c->edits);
	}
	if (!intact) {
		eom_done(ch, SMFIR_TEMPFAIL, NULL);
		return;
	}
	eom_next(ch);
}

/*
 * Are the child's conditions on the message to be decided now: it has
 * some, not yet, and it takes part (in play, or down with a fallback
 * that would count: kept out, a child down gives none)?
 */
static int
eom_conditions(const struct chain *ch, const struct chain_child *c)
{
	size_t	j;

	if (c->eom_check != EOM_UNCHECKED || c->scope != SCOPE_IN ||
	    !(chain_in_play(c) || (c->part == PART_FAILED && (c->reply != 0 ||
	    lingers(c)))))
		return 0;
	for (j = 0; j < c->mc->nconds; j++)
		if (ch->conf->conds[c->mc->conds[j].idx].stages & COND_EOM)
			return 1;
	return 0;
}

static void
eom_next(struct chain *ch)
{
	struct chain_child	*c;

	for (; ch->pos < ch->nkids; ch->pos++) {
		c = &ch->kids[ch->pos];
		/* The message as it is here, for it; the walk goes on. */
		if (c->role == ROLE_SHADOW) {
			if (c->scope == SCOPE_IN && (chain_in_play(c) ||
			    c->part == PART_STARTING))
				emit(ch, ACT_SHADOW_EOM, ch->pos, 0, NULL);
			c->scope = SCOPE_OUT_MESSAGE;
			continue;
		}
		/* Its conditions on the message first. */
		if (eom_conditions(ch, c)) {
			c->eom_check = EOM_ASKED;
			emit(ch, ACT_DECIDE, ch->pos, 0, NULL);
			return;
		}
		if (chain_in_play(c) && c->scope == SCOPE_IN) {
			c->part = PART_WAITING;
			emit(ch, ACT_REPLAY, ch->pos, 0, NULL);
			return;
		}
		if (c->reply != 0 && chain_decides(SMFIC_BODYEOB, c->reply)) {
			eom_finish(ch, c);
			return;
		}
		/* Its quarantine fallback holds it, there in the chain. */
		if (lingers(c) && c->mc->fallback == FALLBACK_QUARANTINE &&
		    c->scope == SCOPE_IN && ch->held_by == SIZE_MAX) {
			ch->held_by = ch->pos;
			if (ch->profile->quarantine_ends) {
				eom_finish(ch, NULL);
				return;
			}
		}
	}
	eom_finish(ch, NULL);
}

/*
 * Child i's conditions on the message are decided: kept out by ref
 * (told abort, counted as stopped; a fallback it owes does not count,
 * as for a child kept out at DATA), or held (ref NULL) and replayed.
 * An answer no longer awaited (the client gone meanwhile) is ignored.
 */
void
chain_eom_decided(struct chain *ch, size_t i, const struct cond_ref *ref)
{
	struct chain_child	*c = &ch->kids[i];

	if (ch->phase != CHAIN_REPLAY || ch->pos != i ||
	    c->eom_check != EOM_ASKED)
		return;
	c->eom_check = EOM_HELD;
	if (ref != NULL) {
		chain_keep_out(ch, i, ref);
		c->reply = 0;
		emit(ch, ACT_STOPPED, i, 0, NULL);
		ch->pos++;
	}
	eom_next(ch);
}

/*
 * Its replay went down far enough to go on.  (Only in the middle of
 * the message: after end of message the child owes a reply.)
 */
void
chain_drained(struct chain *ch, size_t i)
{
	ch->kids[i].part = PART_WAITING;
	emit(ch, ACT_REPLAY, i, 0, NULL);
}

/*
 * A modification from child i at end of message: kept until its final
 * reply.  NULL, or why it is not legal (the child is then failed).
 */
const char *
chain_edit(struct chain *ch, size_t i, char code, const void *pkt,
    size_t len)
{
	struct chain_child	*c = &ch->kids[i];

	if (ch->phase != CHAIN_REPLAY || ch->pos != i ||
	    c->replay.step != REPLAY_SENT)
		return "is legal only at end of message";
	/*
	 * Negotiated with the child and asked of the MTA too: after K a
	 * child that was down at O may have more than the MTA granted.
	 */
	if ((c->eff.actions & ch->upstream.actions &
	    chain_action_needed(code)) == 0)
		return "was not negotiated";
	if (code == SMFIR_QUARANTINE)
		c->quarantined = 1;
	if (mbuf_append(&c->edits, pkt, len) == -1)
		return "out of memory for its modifications";
	return NULL;
}

/* Where child i's replay goes on from its reply (or a drain). */
static void
eom_replied(struct chain *ch, size_t i)
{
	struct chain_child	*c = &ch->kids[i];

	if (c->part == PART_FAILED) {
		if (chain_decides(SMFIC_BODYEOB, c->reply))
			eom_finish(ch, c);
		else {
			ch->pos++;
			eom_next(ch);
		}
		return;
	}
	if (c->reply == SMFIR_SKIP) {
		c->replay.step = REPLAY_EOM;
		c->reply = SMFIR_CONTINUE;
	}
	if (c->reply == SMFIR_CONTINUE && c->replay.step < REPLAY_SENT) {
		c->part = PART_WAITING;
		emit(ch, ACT_REPLAY, i, 0, NULL);
		return;
	}
	if (chain_decides(SMFIC_BODYEOB, c->reply)) {
		note_verdict(ch, i);
		if (!evaluated(ch, i)) {
			eom_finish(ch, c);
			return;
		}
	} else if (c->replay.step == REPLAY_SENT && !c->evaluation) {
		/* Taken, or failed: chain_edits_taken(), chain_failed(). */
		c->part = PART_APPLYING;
		emit(ch, ACT_TAKE_EDITS, i, 0, NULL);
		return;
	} else
		note_verdict(ch, i);
	eom_taken(ch, i);
}

/* Its modifications are in the copy and queued for the MTA. */
void
chain_edits_taken(struct chain *ch, size_t i, int body_replaced)
{
	ch->kids[i].part = PART_READY;
	if (body_replaced)
		ch->body_replaced = 1;
	note_verdict(ch, i);
	eom_taken(ch, i);
}

/* Continue or accept at E: the edits counted, and the next child. */
static void
eom_taken(struct chain *ch, size_t i)
{
	struct chain_child	*c = &ch->kids[i];

	if (c->evaluation && c->edits.len > 0)
		emit(ch, ACT_EDITS_DROPPED, i, 0, NULL);
	c->scope = SCOPE_OUT_MESSAGE;
	if (c->quarantined && !c->evaluation) {
		ch->quarantined = 1;
		if (ch->profile->quarantine_ends) {
			eom_finish(ch, NULL);
			return;
		}
	}
	ch->pos++;
	eom_next(ch);
}

/*
 * The final answer at E: the deciding child's reply, or the net
 * modifications and continue (after the replaced body, if any).
 */
static void
eom_finish(struct chain *ch, struct chain_child *decider)
{
	size_t	i, failed = 0, n = filters(ch);

	for (i = 0; i < ch->nkids; i++)
		failed += ch->kids[i].part == PART_FAILED &&
		    ch->kids[i].role != ROLE_SHADOW &&
		    ch->kids[i].scope == SCOPE_IN && !lingers(&ch->kids[i]);
	if (decider != NULL)
		eom_done(ch, decider->reply, chain_text(decider));
	else if (ch->gone)
		eom_done(ch, ch->gone, NULL);
	else if (ch->exhausted)
		eom_done(ch, SMFIR_TEMPFAIL, NULL);
	else if (failed == n && n > 0 &&
	    ch->conf->fallback != FALLBACK_ACCEPT &&
	    ch->conf->fallback != FALLBACK_QUARANTINE)
		eom_done(ch, chain_fallback_reply(ch->conf->fallback,
		    SMFIR_ACCEPT), NULL);
	else if ((i = quarantine_due(ch, failed)) != SIZE_MAX &&
	    !(ch->upstream.actions & SMFIF_QUARANTINE))
		/* To be held, and the MTA cannot hold it: not passed. */
		eom_done(ch, SMFIR_TEMPFAIL, NULL);
	else {
		if (i != SIZE_MAX && !ch->quarantined) {
			ch->quarantined = 1;
			emit(ch, ACT_QUARANTINE, i, 0, NULL);
		}
		emit(ch, ACT_FORWARD_EDITS, 0, 0, NULL);
		if (!ch->body_replaced) {
			eom_done(ch, SMFIR_CONTINUE, NULL);
			return;
		}
		ch->phase = CHAIN_SENDING_BODY;
		emit(ch, ACT_SEND_BODY, 0, 0, NULL);
	}
}

/*
 * Is the message to be held for a quarantine fallback: the failed
 * child's whose place in the chain the replay passed (held_by), nkids
 * when it is the session's (failed: the failed children); SIZE_MAX
 * when not.
 */
static size_t
quarantine_due(const struct chain *ch, size_t failed)
{
	if (ch->held_by != SIZE_MAX)
		return ch->held_by;
	if (failed == filters(ch) && ch->conf->fallback == FALLBACK_QUARANTINE)
		return ch->nkids;
	return SIZE_MAX;
}

/* The replaced body went to the MTA, or could not be read. */
void
chain_body_sent(struct chain *ch, int ok)
{
	eom_done(ch, ok ? SMFIR_CONTINUE : SMFIR_TEMPFAIL, NULL);
}

static void
eom_done(struct chain *ch, char code, const char *text)
{
	answer(ch, code, text);
	message_over(ch);
	wake(ch);
}

/*
 * The SMTP client has gone while the MTA waits for us: code answers
 * at once, so that the MTA ends the session, and the children are
 * dropped (cut, not failed: their fallbacks do not count).
 */
void
chain_gone(struct chain *ch, char code)
{
	struct chain_child	*c;
	size_t			 i;

	ch->gone = code;
	for (i = 0; i < ch->nkids; i++) {
		c = &ch->kids[i];
		if (c->in_msg)
			emit(ch, ACT_ABORT, i, 0, NULL);
		if (c->part != PART_IDLE && c->part != PART_FAILED)
			c->cut = c->part == PART_WAITING ||
			    (c->in_msg && c->scope == SCOPE_IN) ? CUT_AT_WORK :
			    CUT_DONE;
		emit(ch, ACT_QUIT, i, 0, NULL);
		c->part = PART_FAILED;
	}
	if (ch->phase == CHAIN_REPLAY) {
		eom_done(ch, code, NULL);
		return;
	}
	answer(ch, code, NULL);
	wake(ch);
}

/*
 * The rules of negotiation and of modifications.
 *
 * Toward the MTA milterd asks for the union of the children's actions;
 * it suppresses an envelope step, or waives the reply to it, only when
 * every child does; it always asks for the exact header values
 * (HDR_LEADSPC) so that its copy of the message is exact, and waives
 * replies to headers, end of headers and body pieces, which it keeps
 * and replays to the children at end of message.  Macro lists are the
 * union of the children's; a stage where only some children asked for
 * a list also gets the MTA's default list, so that the others lose
 * nothing.
 */

/* The MTA's "do not send" bits for the commands conditions decide at. */
uint32_t
chain_condition_steps(const struct conf *conf)
{
	static const uint32_t	 no[] = { SMFIP_NOCONNECT, SMFIP_NOHELO,
	    SMFIP_NOMAIL, SMFIP_NORCPT, SMFIP_NODATA };
	uint32_t		 steps = 0;
	size_t			 i, j;

	for (i = 0; i < conf->nconds; i++)
		for (j = 0; j < sizeof(no) / sizeof(no[0]); j++)
			if (conf->conds[i].stages & (1U << j))
				steps |= no[j];
	return steps;
}

/* Envelope steps: suppress and no-reply bits merged by intersection. */
#define ENVELOPE_BITS	(SMFIP_NOCONNECT | SMFIP_NOHELO | SMFIP_NOMAIL | \
	SMFIP_NORCPT | SMFIP_NOUNKNOWN | SMFIP_NODATA | SMFIP_NOHDRS | \
	SMFIP_NOBODY | SMFIP_NOEOH | SMFIP_NR_CONN | SMFIP_NR_HELO | \
	SMFIP_NR_MAIL | SMFIP_NR_RCPT | SMFIP_NR_DATA | SMFIP_NR_UNKN)
/* Content steps milterd always answers at once. */
#define CONTENT_NR	(SMFIP_NR_HDR | SMFIP_NR_EOH | SMFIP_NR_BODY)

/*
 * What to answer the MTA's offer, given the children's negotiated
 * flags (those that failed to negotiate are left out by the caller)
 * and the macros milterd needs itself (own, per stage, or NULL).
 * With no child, every step is asked for, so that each command gets
 * the global fallback.
 */
void
chain_merge_optneg(const struct milter_optneg *offer,
    const struct milter_optneg *kids, size_t n, const char *const *own,
    struct milter_optneg *out, struct macro_lists *ml)
{
	uint32_t	 env = n > 0 ? ENVELOPE_BITS : 0;
	char		*list;
	size_t		 i;
	int		 stage, asked, all;

	memset(out, 0, sizeof(*out));
	memset(ml, 0, sizeof(*ml));
	out->version = offer->version < MILTER_VERSION ? offer->version :
	    MILTER_VERSION;
	for (i = 0; i < n; i++) {
		out->actions |= kids[i].actions;
		env &= kids[i].protocol;
	}
	out->protocol = env | CONTENT_NR | SMFIP_HDR_LEADSPC;
	for (stage = 0; stage < SMFIM_COUNT && out->version >= 6; stage++) {
		list = ml->list[stage];
		asked = 0;
		all = 1;
		for (i = 0; i < n; i++) {
			if (kids[i].macros[stage] != NULL &&
			    kids[i].macros[stage][0] != '\0') {
				macros_add_names(list, MACRO_LIST_MAX,
				    kids[i].macros[stage]);
				asked = 1;
			} else
				all = 0;
		}
		if (own != NULL && own[stage] != NULL) {
			macros_add_names(list, MACRO_LIST_MAX, own[stage]);
			asked = 1;
		}
		if (!asked)
			continue;
		/* A list replaces the MTA's: keep what the others expect. */
		if (!all)
			macros_add_names(list, MACRO_LIST_MAX,
			    profiles[MTA_AUTO].macro_lists[stage]);
		out->macros[stage] = list;
		out->actions |= SMFIF_SETSYMLIST;
	}
	/* Ask for nothing the MTA did not offer. */
	out->actions &= offer->actions;
	out->protocol &= offer->protocol ? offer->protocol : SMFI_V1_PROT;
	if (!(out->actions & SMFIF_SETSYMLIST))
		memset(out->macros, 0, sizeof(out->macros));
}

/* Does this reply of a child decide the command for the whole chain? */
int
chain_decides(char cmd, char reply)
{
	switch (reply) {
	case SMFIR_REJECT:
	case SMFIR_TEMPFAIL:
	case SMFIR_REPLYCODE:
	case SMFIR_SHUTDOWN:
		return 1;
	case SMFIR_DISCARD:
		/* Meaningless at connection level: Postfix ignores it. */
		return cmd != SMFIC_CONNECT && cmd != SMFIC_HELO;
	default:
		return 0;
	}
}

/*
 * Does this reply end the child's part: 1 for the message, 2 for the
 * connection, 0 not at all.
 */
int
chain_ends_child(char cmd, char reply)
{
	if (reply != SMFIR_ACCEPT)
		return 0;
	return cmd == SMFIC_CONNECT || cmd == SMFIC_HELO ? 2 : 1;
}

/* The action flag a modification needs, so that it can be enforced. */
uint32_t
chain_action_needed(char code)
{
	switch (code) {
	case SMFIR_ADDHEADER:
	case SMFIR_INSHEADER:
		return SMFIF_ADDHDRS;
	case SMFIR_CHGHEADER:
		return SMFIF_CHGHDRS;
	case SMFIR_REPLBODY:
		return SMFIF_CHGBODY;
	case SMFIR_ADDRCPT:
		return SMFIF_ADDRCPT;
	case SMFIR_ADDRCPT_PAR:
		return SMFIF_ADDRCPT_PAR;
	case SMFIR_DELRCPT:
		return SMFIF_DELRCPT;
	case SMFIR_QUARANTINE:
		return SMFIF_QUARANTINE;
	case SMFIR_CHGFROM:
		return SMFIF_CHGFROM;
	default:
		return 0;
	}
}

/*
 * A header value from a child as the MTA must get it: a child without
 * HDR_LEADSPC relies on the MTA to put one space after the colon; an
 * MTA without it puts that space itself.  Returns the value to send,
 * or NULL when one space must be put in front.
 */
const char *
chain_header_value(const char *value, int child_leadspc, int mta_leadspc)
{
	if (child_leadspc == mta_leadspc)
		return value;
	if (!child_leadspc)
		return value[0] == '\0' ? value : NULL;
	return value[0] == ' ' ? value + 1 : value;
}

/*
 * The reply a fallback stands for; accept is the given code (continue
 * for one child, which lets the others go on; accept for the session).
 * Quarantine goes on (continue) to the end of the message, which is
 * then held (quarantine_due()); discard is ignored at connect and HELO
 * (chain_decides()), as the MTAs do.
 */
char
chain_fallback_reply(enum fallback fb, char accept)
{
	switch (fb) {
	case FALLBACK_TEMPFAIL:
		return SMFIR_TEMPFAIL;
	case FALLBACK_REJECT:
		return SMFIR_REJECT;
	case FALLBACK_DISCARD:
		return SMFIR_DISCARD;
	case FALLBACK_SHUTDOWN:
		return SMFIR_SHUTDOWN;
	case FALLBACK_QUARANTINE:
		return SMFIR_CONTINUE;
	default:
		return accept;
	}
}

/* Is any fallback quarantine (milterd then asks the MTA for it)? */
int
chain_quarantines(const struct conf *conf)
{
	size_t	i;

	for (i = 0; i < conf->nmilters; i++)
		if (conf->milters[i].fallback == FALLBACK_QUARANTINE)
			return 1;
	return conf->fallback == FALLBACK_QUARANTINE;
}

/* One more item of a description, after a comma. */
static void
describe_add(char *buf, size_t len, const char *one)
{
	if (buf[0] != '\0')
		strlcat(buf, ", ", len);
	strlcat(buf, one, len);
}

/*
 * What a child's kept modifications (reply packets, as framed) would
 * have done, for evaluation's log line: header names, body, recipients,
 * sender, quarantine; never a header's value.  Into buf, cut with
 * ", ..." when it does not fit.  kept: bytes of a replaced body kept
 * apart (session.c spools it; its packets here are empty markers).
 */
void
chain_describe_edits(const void *edits, size_t len, size_t kept, char *buf,
    size_t buflen)
{
	const uint8_t		*p = edits;
	struct milter_pkt	 pkt;
	struct milter_reply	 r;
	const char		*err;
	char			 one[600];
	size_t			 off = 0, used, body = kept, n;
	int			 bodies = 0;

	buf[0] = '\0';
	while (off < len && milter_frame(p + off, len - off, len, &pkt,
	    &used) == MILTER_FRAME_OK) {
		off += used;
		one[0] = '\0';
		if (milter_decode_reply(&pkt, &r, &err) == -1)
			snprintf(one, sizeof(one), "a malformed '%c' packet",
			    pkt.code);
		else
			switch (r.code) {
			case SMFIR_ADDHEADER:
				snprintf(one, sizeof(one), "header %s added",
				    r.u.header.name);
				break;
			case SMFIR_INSHEADER:
				snprintf(one, sizeof(one), "header %s inserted "
				    "at %u", r.u.header.name, r.u.header.index);
				break;
			case SMFIR_CHGHEADER:
				snprintf(one, sizeof(one), "header %s[%u] %s",
				    r.u.header.name, r.u.header.index,
				    r.u.header.value[0] == '\0' ? "deleted" :
				    "changed");
				break;
			case SMFIR_REPLBODY:
				/* Said once, after the rest: in chunks. */
				body += r.u.body.len;
				bodies = 1;
				break;
			case SMFIR_ADDRCPT:
			case SMFIR_DELRCPT:
			case SMFIR_ADDRCPT_PAR:
				snprintf(one, sizeof(one), "recipient %s %s",
				    r.code == SMFIR_ADDRCPT_PAR ?
				    r.u.addr.addr : r.u.str,
				    r.code == SMFIR_DELRCPT ? "deleted" :
				    "added");
				break;
			case SMFIR_CHGFROM:
				snprintf(one, sizeof(one), "sender changed to "
				    "%s", r.u.addr.addr);
				break;
			case SMFIR_QUARANTINE:
				snprintf(one, sizeof(one), "quarantine");
				break;
			default:
				snprintf(one, sizeof(one), "'%c'", r.code);
				break;
			}
		if (one[0] != '\0')
			describe_add(buf, buflen, one);
	}
	if (bodies) {
		snprintf(one, sizeof(one), "body replaced (%zu bytes)", body);
		describe_add(buf, buflen, one);
	}
	/* Cut: end on ", ..." rather than in the middle of a word. */
	n = strlen(buf);
	if (n + 1 == buflen && buflen > 6)
		strlcpy(buf + buflen - 6, ", ...", 6);
}
