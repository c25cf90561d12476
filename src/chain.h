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
 * chain.h: the chain engine.  It takes the events of one MTA session
 * (the MTA's commands, the children's replies and failures, conditions
 * decided, the client gone) and returns actions for session.c to carry
 * out (send this to child N, answer the MTA, ...).  No I/O: read
 * chain.c top to bottom for every rule of the chain.
 */

#ifndef CHAIN_H
#define CHAIN_H

#include <stddef.h>
#include <stdint.h>

#include "conf.h"
#include "macros.h"
#include "milter.h"
#include "stats.h"
#include "util.h"

/*
 * The protocol bits offered to children: everything the codec speaks
 * except RCPT_REJ (milterd does not ask the MTA for the recipients it
 * rejected itself) and the internal size bits.
 */
#define CHILD_OFFER_PROTOCOL	(SMFI_CURR_PROT & ~SMFIP_RCPT_REJ)

/* Room for the merged macro lists of the upstream negotiation reply. */
struct macro_lists {
	char	list[SMFIM_COUNT][MACRO_LIST_MAX];
};

/* Where the session is. */
enum chain_phase {
	CHAIN_START,		/* before the MTA's O */
	CHAIN_NEGOTIATING,	/* the children are being connected */
	CHAIN_IDLE,		/* between commands: take the next one */
	CHAIN_DECIDING,		/* a command waits for its conditions */
	CHAIN_ROUND,		/* an envelope command at the children */
	CHAIN_REPLAY,		/* end of message: the children in turn */
	CHAIN_SENDING_BODY,	/* the replaced body, to the MTA */
	CHAIN_CLOSED		/* the MTA said quit */
};

/* Where a child is, as the chain sees it. */
enum part {
	PART_IDLE,		/* not connected (before O, after K) */
	PART_STARTING,		/* connecting and negotiating */
	PART_READY,		/* in play, nothing awaited */
	PART_WAITING,		/* a reply awaited (or its replay to drain) */
	PART_APPLYING,		/* its modifications being applied */
	PART_FAILED		/* out of play until the next connection */
};

/* What a child takes part in. */
enum scope {
	SCOPE_IN,		/* the rest of the connection */
	SCOPE_OUT_MESSAGE,	/* not this message (accepted, kept out) */
	SCOPE_OUT_CONNECTION	/* not this connection */
};

/*
 * What a child's replies do: decide (a filter), or are counted and
 * logged only (a trial: evaluation), inline where the chain waits for
 * them, or in shadow (evaluation_wait = false), where nothing does.
 */
enum role {
	ROLE_FILTER,		/* its replies decide */
	ROLE_EVALUATED,		/* on trial, waited for */
	ROLE_SHADOW		/* on trial, never waited for */
};

/* A child cut because the SMTP client left (for the log line). */
enum cut {
	CUT_NONE,
	CUT_AT_WORK,		/* it was working: aborted */
	CUT_DONE		/* it had given its verdict, which stands */
};

/* The end-of-message replay to one child: what it gets next. */
enum replay_step {
	REPLAY_HEADERS,
	REPLAY_EOH,
	REPLAY_BODY,
	REPLAY_EOM,
	REPLAY_SENT		/* all of it, end of message included */
};

/* A child's conditions on the message, decided just before its replay. */
enum eom_check {
	EOM_UNCHECKED,		/* not its turn yet (or none to decide) */
	EOM_ASKED,		/* ACT_DECIDE queued: chain_eom_decided() due */
	EOM_HELD		/* they hold: its replay goes on */
};

struct replay {
	enum replay_step	 step;
	size_t			 hdr;	/* the next header */
	size_t			 off;	/* the next body byte */
};

struct chain_child {
	const struct milter_conf *mc;
	enum part		 part;
	enum scope		 scope;
	int			 evaluation;	/* in effect */
	enum role		 role;
	struct milter_optneg	 eff;		/* negotiated */
	int			 owed;	/* failed between commands */
	int			 in_msg;	/* got M since the last A */
	int			 skip;	/* not this recipient */
	char			 reply;	/* its final reply, this command */
	struct mbuf		 text;	/* of a 'y' reply */
	struct mbuf		 edits;	/* at E, until its final reply */
	int			 quarantined;	/* among its edits */
	struct replay		 replay;
	enum verdict		 verdict;	/* its last, if any */
	int			 verdict_evaluated;
	const char		*msg_verdict;	/* this message's: is = */
	enum eom_check		 eom_check;
	enum cut		 cut;
	const struct cond_ref	*stopped;	/* kept out by it */
	const struct cond_ref	*rcpt_cond;	/* its first per recipient */
	int			 rcpt_counted;	/* this one, in the next */
	int			 rcpt_shown;	/* this message */
	int			 rcpt_hidden;
};

enum chain_act {
	ACT_START,		/* connect and negotiate the child */
	ACT_QUIT,		/* close its connection, quit said */
	ACT_ABORT,		/* tell it the message is over */
	ACT_SEND,		/* the command at work, macros first; wait */
	ACT_REPLAY,		/* the kept message from its replay cursor */
	ACT_TAKE_EDITS,		/* apply its edits to the copy: taken or failed */
	ACT_VERDICT,		/* count its verdict (verdict, evaluated) */
	ACT_EVALUATED,		/* log what it would have done (code, text) */
	ACT_EDITS_DROPPED,	/* log its modifications, not taken */
	ACT_STOPPED,		/* kept out of the message by its recipients,
				   or at E by its conditions on the message */
	ACT_DECIDE,		/* decide its conditions on the message, then
				   chain_eom_decided() */
	ACT_OPTNEG,		/* answer the MTA's O with chain.upstream */
	ACT_ANSWER,		/* the chain's answer (code, text); wait: sent */
	ACT_RCPT_REFUSED,	/* the recipient leaves the list */
	ACT_QUARANTINE,		/* hold the message: child's fallback (or
				   the session's: child = nkids) */
	ACT_FORWARD_EDITS,	/* the net modifications, to the MTA */
	ACT_SEND_BODY,		/* the replaced body, to the MTA: sent or not */
	ACT_MESSAGE_OVER,	/* forget the kept message */
	ACT_SHADOW,		/* the command at work, to a shadow's queue */
	ACT_SHADOW_EOM,		/* the message as it is now, likewise */
	ACT_RESUME		/* take the MTA's next commands */
};

struct chain_action {
	enum chain_act		 act;
	size_t			 child;
	char			 code;	/* a reply; the command answered */
	char			 cmd;
	int			 wait;	/* ACT_SEND: a reply awaited */
	const char		*text;
};

/* What differs between the MTAs milterd stands in for. */
struct chain_profile {
	const char	*name;
	int		 quarantine_ends;	/* the content chain */
	int		 body_keeps_open;	/* replaced body's last line */
	const char	*macro_lists[SMFIM_COUNT];	/* its defaults */
};

struct chain {
	enum chain_phase	 phase;
	const struct chain_profile *profile;
	const struct conf	*conf;
	struct chain_child	*kids;
	size_t			 nkids;
	struct milter_optneg	 offer;		/* from the MTA */
	struct milter_optneg	 upstream;	/* our answer, lists aside */
	int			 negotiated;	/* the MTA has its O */
	char			 cmd;		/* the command at work */
	size_t			 pos;		/* sequential: its child */
	size_t			 waiting;	/* replies still awaited */
	char			 gone;	/* the answer since the client left */
	int			 exhausted;	/* milterd out of a resource */
	int			 quarantined;	/* this message */
	size_t			 held_by;	/* its quarantine fallback */
	int			 body_replaced;	/* this message */
	struct chain_action	*acts;		/* not carried out yet */
	size_t			 nacts;
	size_t			 capacts;
	size_t			 next;		/* the next to carry out */
};

/* chain.c */
const struct chain_profile *chain_profile(enum mta);
void	 chain_init(struct chain *, const struct conf *);
void	 chain_free(struct chain *);
size_t	 chain_add(struct chain *, const struct milter_conf *, enum role);
void	 chain_set_mta(struct chain *, enum mta);
int	 chain_take(struct chain *, struct chain_action *);
int	 chain_in_play(const struct chain_child *);
int	 chain_open(const struct chain *, size_t, char);
const char *chain_text(const struct chain_child *);
const char *chain_child_state(const struct chain_child *);
const char *chain_msg_verdict(const struct chain_child *);
/* events */
void	 chain_upstream(const struct chain *, struct milter_optneg *,
	    struct macro_lists *);
void	 chain_optneg(struct chain *, const struct milter_optneg *);
void	 chain_restart(struct chain *);
void	 chain_negotiated(struct chain *, size_t,
	    const struct milter_optneg *);
void	 chain_failed(struct chain *, size_t);
void	 chain_exhausted(struct chain *, size_t);
void	 chain_command(struct chain *, char);
void	 chain_keep_out(struct chain *, size_t, const struct cond_ref *);
void	 chain_rcpt(struct chain *, size_t, int);
void	 chain_decided(struct chain *);
void	 chain_eom(struct chain *, int);
void	 chain_eom_decided(struct chain *, size_t, const struct cond_ref *);
void	 chain_abort(struct chain *);
void	 chain_quit(struct chain *);
void	 chain_replied(struct chain *, size_t, char, const char *);
const char *chain_edit(struct chain *, size_t, char, const void *, size_t);
void	 chain_drained(struct chain *, size_t);
void	 chain_edits_taken(struct chain *, size_t, int);
void	 chain_body_sent(struct chain *, int);
void	 chain_gone(struct chain *, char);
/* the rules, for negotiation and modifications */
void	 chain_merge_optneg(const struct milter_optneg *,
	    const struct milter_optneg *, size_t, const char *const *,
	    struct milter_optneg *, struct macro_lists *);
int	 chain_decides(char, char);
int	 chain_ends_child(char, char);
uint32_t chain_action_needed(char);
const char *chain_header_value(const char *, int, int);
char	 chain_fallback_reply(enum fallback, char);
int	 chain_quarantines(const struct conf *);
uint32_t chain_condition_steps(const struct conf *);
void	 chain_describe_edits(const void *, size_t, size_t, char *, size_t);

#endif /* CHAIN_H */
