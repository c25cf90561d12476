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
 * session.c: one MTA connection, milterd being the milter, fanned out
 * to the children: the shell around the chain engine (chain.c).
 *
 * The MTA's packets are taken one at a time, while the chain is
 * between commands.  Each becomes an event for the chain, whose
 * actions are carried out here, in order (act()): writing to children
 * and to the MTA, replaying the kept message, applying modifications
 * to the copy, counting and logging.  The children's callbacks
 * (child.c) become events too.  Headers, end of headers and body
 * pieces are kept by intake.c and answered at once.  While the
 * children work at end of message the MTA gets a progress packet every
 * progress_interval seconds.  Beside it: the session's log line
 * (sessionlog.c), the replay and the copy's modifications (replay.c),
 * the disconnect check (disconnect.c) and the conditions (apply.c).
 *
 * A child's callbacks never end the session: further MTA packets are
 * taken from a deferred event, so nothing is freed under a caller.
 */

#include <sys/types.h>
#include <sys/time.h>

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <strings.h>
#include <unistd.h>

#include "log.h"
#include "session.h"
#include "trace.h"

/* Room kept for the MTA's packets; a larger packet's is freed. */
#define CUR_KEEP	(64 * 1024)

static void	mta_read(struct conn *, void *);
static void	mta_event(struct conn *, int, int, void *);
static void	session_resume(evutil_socket_t, short, void *);
static void	mta_idle(evutil_socket_t, short, void *);
static int	takes_commands(const struct session *);
static void	session_process(struct session *);
static void	session_end(struct session *, const char *, int);
static void	handle_command(struct session *, const struct milter_cmd *);
static void	command_round(struct session *, char);
static void	decide(struct session *);
static void	act(struct session *, const struct chain_action *);
static void	act_answer(struct session *, const struct chain_action *);
static void	act_optneg(struct session *);
static void	act_quarantine(struct session *, const struct chain_action *);
static void	act_send(struct session *, const struct chain_action *);
static void	progress_tick(evutil_socket_t, short, void *);
static void	child_negotiated(void *, struct child *);
static void	child_replied(void *, struct child *, char, const char *);
static const char *child_edit(void *, struct child *, char, const void *,
		    size_t);
static void	child_drained(void *, struct child *);
static void	child_failed(void *, struct child *);

static const struct child_ops	child_ops = {
	child_negotiated,
	child_replied,
	child_edit,
	child_drained,
	child_failed,
};

struct session *
session_new(struct event_base *base, const struct conf *conf,
    const struct session_host *host, int fd, const char *id, int mta_local)
{
	struct session		*s;
	const struct milter_conf *mc;
	struct child		*c;
	struct timeval		 tv = { conf->mta_timeout, 0 };
	size_t			 i;
	int			 role;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	strlcpy(s->id, id, sizeof(s->id));
	s->base = base;
	s->conf = conf;
	s->host = host;
	chain_init(&s->chain, conf);
	s->link.arg = s;
	s->link.launcher = &host->launcher;
	s->link.pool = host->pool;
	s->link.base = base;
	s->link.id = s->id;
	s->link.out = &s->out;
	s->link.launch_wait = conf->launch_wait;
	s->mta_local = mta_local;
	gettimeofday(&s->start, NULL);
	strlcpy(s->verdict, "none", sizeof(s->verdict));
	strlcpy(s->client, "unknown", sizeof(s->client));
	message_init(&s->msg, conf->body_memory_limit, conf->spool_dir);
	if (conf->nconds > 0 && ((s->cond_result = calloc(conf->nconds,
	    sizeof(*s->cond_result))) == NULL || (s->cond_last =
	    calloc(conf->nconds, sizeof(*s->cond_last))) == NULL))
		goto fail;
	if (conf->nmilters > 0 && (s->kids = calloc(conf->nmilters,
	    sizeof(*s->kids))) == NULL)
		goto fail;
	for (i = 0; i < conf->nmilters; i++) {
		mc = &conf->milters[i];
		if (!stats_effective(mc->enabled, &mc->stats->enabled) ||
		    (role = shadow_role(conf, mc, id)) == -1)
			continue;
		c = &s->kids[s->chain.nkids];
		c->link = &s->link;
		c->ops = role == ROLE_SHADOW ? &shadow_ops : &child_ops;
		c->mc = mc;
		c->stats = mc->stats;
		c->idx = chain_add(&s->chain, mc, (enum role)role);
		stats_add(&c->stats->sessions, 1);
	}
	s->mta = conn_new(base, fd, 0, mta_read, mta_event, s);
	s->resume = event_new(base, -1, 0, session_resume, s);
	s->progress = event_new(base, -1, EV_PERSIST, progress_tick, s);
	s->idle = evtimer_new(base, mta_idle, s);
	if (s->mta == NULL || s->resume == NULL || s->progress == NULL ||
	    s->idle == NULL)
		goto fail;
	/* mta_timeout runs from the connection, for its first command. */
	evtimer_add(s->idle, &tv);
	return s;
fail:
	if (s->mta == NULL)
		close(fd);
	session_free(s);
	return NULL;
}

void
session_free(struct session *s)
{
	size_t	i;

	conncheck_cancel(&s->checking);
	dnsbl_free(s->dns);
	luawait_free(s->lua);
	shadow_free(s);
	for (i = 0; i < s->chain.nkids; i++)
		child_free(&s->kids[i]);
	free(s->kids);
	chain_free(&s->chain);
	free(s->cond_result);
	free(s->cond_last);
	conn_free(s->mta);
	if (s->resume != NULL)
		event_free(s->resume);
	if (s->progress != NULL)
		event_free(s->progress);
	if (s->idle != NULL)
		event_free(s->idle);
	macros_free(&s->mac);
	mbuf_free(&s->cur);
	mbuf_free(&s->rcpts);
	mbuf_free(&s->out);
	mbuf_free(&s->edits);
	message_free(&s->msg);
	free(s);
}

/*
 * The MTA side.
 */

static void
mta_read(struct conn *conn, void *arg)
{
	(void)conn;
	session_process(arg);
}

static void
mta_event(struct conn *conn, int what, int err, void *arg)
{
	struct session	*s = arg;

	(void)conn;
	if (what == CONN_DRAINED) {
		if (s->chain.phase == CHAIN_SENDING_BODY)
			replay_body(s);
		return;
	}
	session_end(s, what == CONN_EOF ? "MTA closed the connection" :
	    strerror(err), what != CONN_EOF);
}

static void
session_resume(evutil_socket_t fd, short what, void *arg)
{
	struct session	*s = arg;

	(void)fd;
	(void)what;
	/* The MTA's side is over: the shadows have finished. */
	if (s->mta == NULL) {
		if (!shadow_pending(s))
			session_end(s, s->end_why, s->end_error);
		return;
	}
	session_process(s);
}

/*
 * mta_timeout: the MTA sent no whole packet for that long while the
 * session waited for one (an MTA gone without a FIN).
 */
static void
mta_idle(evutil_socket_t fd, short what, void *arg)
{
	struct session	*s = arg;

	(void)fd;
	(void)what;
	log_warnx("session %s: no command from the MTA in %d s "
	    "(mta_timeout): closed", s->id, s->conf->mta_timeout);
	session_end(s, "MTA timeout", 1);
}

/* Between commands: the MTA's next packet may be taken. */
static int
takes_commands(const struct session *s)
{
	return s->chain.phase == CHAIN_START || s->chain.phase == CHAIN_IDLE;
}

static void
session_process(struct session *s)
{
	struct evbuffer		*in = conn_input(s->mta);
	struct timeval		 tv = { s->conf->mta_timeout, 0 };
	struct milter_pkt	 pkt;
	struct milter_cmd	 cmd;
	const char		*err;
	size_t			 used, dummy;
	int			 rc;

	while (takes_commands(s)) {
		if ((rc = packet_peek(in, &pkt, &used, &err)) == 0) {
			conn_pause(s->mta, 0);
			/* From the last packet: a trickle does not extend */
			if (!evtimer_pending(s->idle, NULL))
				evtimer_add(s->idle, &tv);
			return;
		}
		if (rc == -1) {
			session_end(s, err, 1);
			return;
		}
		evtimer_del(s->idle);
		if (pkt.code == SMFIC_MACRO && pkt.len > MACRO_PACKET_MAX) {
			log_warnx("session %s: MTA sent a macro packet of %zu "
			    "bytes, more than %d", s->id, pkt.len,
			    MACRO_PACKET_MAX);
			session_end(s, "protocol error", 1);
			return;
		}
		/* Keep the raw packet: the children get it as it came. */
		if (s->cur.cap > CUR_KEEP)
			mbuf_free(&s->cur);	/* a large one's room */
		mbuf_reset(&s->cur);
		mbuf_append(&s->cur, pkt.data - 5, used);
		evbuffer_drain(in, used);
		if (s->cur.err || milter_frame(s->cur.data, s->cur.len,
		    PACKET_MAX, &pkt, &dummy) != MILTER_FRAME_OK) {
			session_end(s, "out of memory", 1);
			return;
		}
		if (milter_decode_cmd(&pkt, &cmd, &err) == -1) {
			log_warnx("session %s: MTA sent a bad %s "
			    "packet: %s", s->id, milter_code_name(pkt.code),
			    err);
			session_end(s, "protocol error", 1);
			return;
		}
		handle_command(s, &cmd);
		if (s->chain.phase == CHAIN_CLOSED) {
			session_end(s, "quit", 0);
			return;
		}
	}
	/*
	 * Back-pressure: while a command is at work, what the MTA sends
	 * ahead stays in its socket, not in our memory; read again once
	 * the chain takes commands (ACT_RESUME).
	 */
	conn_pause(s->mta, evbuffer_get_length(in) > 0);
}

/*
 * One log line for the session (sessionlog.c), then the worker frees
 * it.  Called only from the MTA side's callbacks, never under a
 * child's.
 */
static void
session_end(struct session *s, const char *why, int error)
{
	if (s->mta != NULL && shadow_pending(s)) {
		shadow_linger(s, why, error);
		return;
	}
	session_log(s, why, error);
	s->host->done(s);
}

/* The session's verdict so far: the last one given to the MTA. */
void
session_verdict(struct session *s, char code, const char *text, char cmd)
{
	s->final = code == SMFIR_CONTINUE ? VERDICT_ACCEPT :
	    verdict_of(code, text);
	if (s->final == VERDICT_ACCEPT && s->chain.quarantined)
		s->final = VERDICT_QUARANTINE;
	snprintf(s->verdict, sizeof(s->verdict), "%s@%s",
	    verdict_name(s->final), milter_code_name(cmd));
}

void
session_reply(struct session *s, char code, const char *text)
{
	mbuf_reset(&s->out);
	if (code == SMFIR_REPLYCODE)
		milter_put_str(&s->out, code, text);
	else
		milter_put_empty(&s->out, code);
	conn_write(s->mta, s->out.data, s->out.len);
}

static void
handle_command(struct session *s, const struct milter_cmd *c)
{
	switch (c->code) {
	case SMFIC_OPTNEG:
		s->link.offered = c->u.optneg.actions;
		chain_optneg(&s->chain, &c->u.optneg);
		break;
	case SMFIC_MACRO:
		macros_take(&s->mac, c->u.macro.stage, &c->u.macro.pairs);
		session_queue_id(s, macros_get(&s->mac, c->u.macro.stage, "i"));
		break;
	case SMFIC_CONNECT:
		session_client_label(s, &c->u.connect);
		trace_session(s, &c->u.connect);
		macros_connect(&s->mac, &c->u.connect, s->conf->mta);
		chain_set_mta(&s->chain, s->mac.mta);
		s->family = c->u.connect.family;
		s->msg.repl_keep_open = s->chain.profile->body_keeps_open;
		s->helo[0] = '\0';
		mbuf_reset(&s->rcpts);
		client_tuple(s, &c->u.connect);
		command_round(s, c->code);
		break;
	case SMFIC_HELO:
		strlcpy(s->helo, c->u.str, sizeof(s->helo));
		command_round(s, c->code);
		break;
	case SMFIC_MAIL:
		/* Longer than any address: matched by no list. */
		if (strlcpy(s->sender, c->u.args.count > 0 ? c->u.args.buf :
		    "", sizeof(s->sender)) >= sizeof(s->sender))
			s->sender[0] = '\0';
		command_round(s, c->code);
		break;
	case SMFIC_RCPT:
		if (intake_rcpt(s) == -1)
			break;
		if (strlcpy(s->rcpt, c->u.args.count > 0 ? c->u.args.buf : "",
		    sizeof(s->rcpt)) >= sizeof(s->rcpt))
			s->rcpt[0] = '\0';
		command_round(s, c->code);
		break;
	case SMFIC_DATA:
	case SMFIC_UNKNOWN:
		command_round(s, c->code);
		break;
	case SMFIC_HEADER:
	case SMFIC_EOH:
	case SMFIC_BODY:
		intake(s, c);
		break;
	case SMFIC_BODYEOB:
		command_round(s, c->code);
		break;
	case SMFIC_ABORT:
		chain_abort(&s->chain);
		break;
	case SMFIC_QUIT:
		chain_quit(&s->chain);
		break;
	case SMFIC_QUIT_NC:
		chain_restart(&s->chain);
		break;
	}
	session_run(s);
}

/*
 * A command the children are asked: its conditions are decided (once
 * what they wait for is in: apply_wait()), then the round.
 */
static void
command_round(struct session *s, char cmd)
{
	struct timeval	tv = { s->conf->progress_interval, 0 };

	s->link.at = cmd;
	if (cmd == SMFIC_BODYEOB) {
		s->wait_since = stats_now_us();
		evtimer_add(s->progress, &tv);
		chain_eom(&s->chain, !s->msg_error);
		return;
	}
	chain_command(&s->chain, cmd);
	/* The last message is forgotten before MAIL's conditions look. */
	session_run(s);
	if (cmd == SMFIC_RCPT) {
		s->rcpts_mark = s->rcpts.len;
		mbuf_append(&s->rcpts, s->rcpt, strlen(s->rcpt) + 1);
	}
	apply_wait(s, decide);
}

/* The conditions at the command at work, then its round. */
static void
decide(struct session *s)
{
	if (s->mta == NULL)
		return;		/* lingering: the MTA's side is over */
	apply_conditions(s, s->chain.cmd);
	s->wait_since = stats_now_us();
	chain_decided(&s->chain);
	session_run(s);
}

/*
 * Carrying the chain's actions out.  An action may cause events (a
 * child failing at once); their actions are queued after the rest and
 * carried out by the same loop.
 */
void
session_run(struct session *s)
{
	struct chain_action	a;

	if (s->acting)
		return;
	/* Lingering for shadows: nothing is for the MTA any more. */
	if (s->mta == NULL) {
		while (chain_take(&s->chain, &a))
			;
		return;
	}
	s->acting = 1;
	while (chain_take(&s->chain, &a))
		act(s, &a);
	s->acting = 0;
}

static void
act(struct session *s, const struct chain_action *a)
{
	struct child	*c = &s->kids[a->child];
	int		 replaced = 0;

	switch (a->act) {
	case ACT_START:
		c->state = CHILD_IDLE;
		c->launch_until = 0;
		c->exhausted = 0;
		child_start(c);
		break;
	case ACT_QUIT:
		if (c->ops == &shadow_ops)
			shadow_quit(s, c);
		else
			child_close(c, 1);
		break;
	case ACT_ABORT:
		/* A shadow's, in its queue: shadow_message_over(). */
		if (c->ops != &shadow_ops)
			child_abort(c);
		break;
	case ACT_SHADOW:
		shadow_command(s, c, a->cmd);
		break;
	case ACT_SHADOW_EOM:
		shadow_eom(s, c);
		break;
	case ACT_SEND:
		act_send(s, a);
		break;
	case ACT_REPLAY:
		replay_child(s, c, &s->chain.kids[a->child].replay);
		break;
	case ACT_DECIDE:
		apply_eom(s, a->child);
		break;
	case ACT_TAKE_EDITS:
		if (take_edits(s, c, &replaced) == 0)
			chain_edits_taken(&s->chain, a->child, replaced);
		break;
	case ACT_VERDICT:
	case ACT_EVALUATED:
	case ACT_EDITS_DROPPED:
	case ACT_STOPPED:
		session_log_action(s, a);
		break;
	case ACT_OPTNEG:
		act_optneg(s);
		break;
	case ACT_ANSWER:
		act_answer(s, a);
		break;
	case ACT_RCPT_REFUSED:
		/* A refused recipient is no one's: the MTA drops it. */
		s->rcpts.len = s->rcpts_mark;
		break;
	case ACT_QUARANTINE:
		act_quarantine(s, a);
		break;
	case ACT_FORWARD_EDITS:
		conn_write(s->mta, s->edits.data, s->edits.len);
		break;
	case ACT_SEND_BODY:
		memset(&s->body, 0, sizeof(s->body));
		replay_body(s);
		break;
	case ACT_MESSAGE_OVER:
		shadow_message_over(s);
		intake_forget(s);
		break;
	case ACT_RESUME:
		s->wait_since = 0;
		event_active(s->resume, 0, 0);
		break;
	}
}

/* Macros and command in one write. */
static void
act_send(struct session *s, const struct chain_action *a)
{
	struct child	*c = &s->kids[a->child];

	mbuf_reset(&s->out);
	macros_for_child(&s->mac, &s->out, a->cmd, c->eff.macros,
	    c->mc->macros_compat);
	apply_macros(s, a->child, a->cmd, &s->out, 0);
	mbuf_append(&s->out, s->cur.data, s->cur.len);
	child_send_mbuf(c, &s->out, a->cmd, a->wait);
}

/*
 * The chain's answer to the command at work: the session's verdict so
 * far, the message counted at its end.
 */
static void
act_answer(struct session *s, const struct chain_action *a)
{
	if (a->code != SMFIR_CONTINUE || a->cmd == SMFIC_BODYEOB)
		session_verdict(s, a->code, a->text, a->cmd);
	if (a->cmd == SMFIC_BODYEOB) {
		evtimer_del(s->progress);
		stats_add(&stats->messages, 1);
		stats_add(&stats->message_verdicts[s->final], 1);
		shadow_answered(s, s->final);
	}
	if (a->wait)
		session_reply(s, a->code, a->text);
}

/* A quarantine fallback: the MTA holds the message, told why. */
static void
act_quarantine(struct session *s, const struct chain_action *a)
{
	char	why[256];

	if (a->child < s->chain.nkids)
		snprintf(why, sizeof(why), "milterd: child %s failed "
		    "(fallback quarantine)", s->kids[a->child].mc->name);
	else
		strlcpy(why, "milterd: no child could filter it (fallback "
		    "quarantine)", sizeof(why));
	milter_put_str(&s->edits, SMFIR_QUARANTINE, why);
	log_info("session %s: message held: %s", s->id, why);
}

/* The answer to the MTA's options, its macro lists made for it. */
static void
act_optneg(struct session *s)
{
	struct milter_optneg	 up;
	struct macro_lists	 ml;
	size_t			 i;

	chain_upstream(&s->chain, &up, &ml);
	s->mta_leadspc = (up.protocol & SMFIP_HDR_LEADSPC) != 0;
	mbuf_reset(&s->out);
	milter_put_optneg(&s->out, &up);
	conn_write(s->mta, s->out.data, s->out.len);
	/* The lists are the reply's: a session keeps which were asked for. */
	s->mac.asked = 0;
	for (i = 0; i < SMFIM_COUNT; i++)
		if (up.macros[i] != NULL)
			s->mac.asked |= 1U << i;
}

/*
 * The children's callbacks: events for the chain.
 */

static void
child_negotiated(void *arg, struct child *c)
{
	struct session	*s = arg;

	chain_negotiated(&s->chain, c->idx, &c->eff);
	session_run(s);
}

static void
child_replied(void *arg, struct child *c, char code, const char *text)
{
	struct session	*s = arg;

	chain_replied(&s->chain, c->idx, code, text);
	session_run(s);
}

/* A modification: replay.c keeps it, or says why it cannot. */
static const char *
child_edit(void *arg, struct child *c, char code, const void *pkt,
    size_t len)
{
	return keep_edit(arg, c, code, pkt, len);
}

static void
child_drained(void *arg, struct child *c)
{
	struct session	*s = arg;

	chain_drained(&s->chain, c->idx);
	session_run(s);
}

/*
 * A child that milterd could not reach for want of a resource of its
 * own: the session is tempfailed (chain_exhausted()), counted once.
 */
static void
child_failed(void *arg, struct child *c)
{
	struct session	*s = arg;

	if (c->exhausted) {
		if (!s->chain.exhausted)
			stats_add(&stats->resource_failures, 1);
		chain_exhausted(&s->chain, c->idx);
	} else
		chain_failed(&s->chain, c->idx);
	session_run(s);
}

static void
progress_tick(evutil_socket_t fd, short what, void *arg)
{
	struct session	*s = arg;

	(void)fd;
	(void)what;
	session_reply(s, SMFIR_PROGRESS, NULL);
}
