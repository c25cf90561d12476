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
 * to the children.
 *
 * The MTA's packets are taken one at a time.  O connects and negotiates
 * every enabled child, then answers with the merge of what they need.
 * Envelope commands (C H M R T U) make a round: children in order get
 * the stage's macros and the command; the first reply that is not
 * continue or accept decides and later children do not see the command
 * (dispatch sequential), or all get it at once and the order still
 * decides (dispatch parallel).  Headers, end of headers and body pieces
 * are kept (the body spooled past body_memory_limit) and answered at
 * once.  At E each child in turn is replayed the message as modified by
 * the children before it; its modifications are applied to the copy
 * and forwarded to the MTA in order, which therefore reaches the same
 * message (a replaced body is sent once, at the end, from the copy).
 * While the children work at E the MTA gets a progress packet every
 * progress_interval seconds.
 *
 * A child's callbacks never end the session: further MTA packets are
 * taken from a deferred event, so nothing is freed under a caller.
 */

#include <sys/types.h>
#include <sys/time.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <strings.h>
#include <unistd.h>

#include "log.h"
#include "merge.h"
#include "session.h"
#include "trace.h"

#define REPLAY_BATCH	(256 * 1024)

static void	mta_read(struct conn *, void *);
static void	mta_event(struct conn *, int, int, void *);
static void	session_resume(evutil_socket_t, short, void *);
static void	session_wake(struct session *);
static void	session_process(struct session *);
static void	session_end(struct session *, const char *, int);
static void	queue_id_seen(struct session *, const char *);
static void	client_label(struct session *, const struct milter_connect *);
static int	in_effect(int, const int32_t *);
static void	session_count(struct session *, int);
static void	note_verdict(struct session *, struct child *);
static void	client_tuple(struct session *, const struct milter_connect *);
static void	client_checked(struct conncheck_item *, int, const char *);
static void	client_gone(struct session *, const char *);
static void	connect_round(struct session *);
static void	handle_command(struct session *, const struct milter_cmd *);
static void	reply_mta(struct session *, char, const char *);
static void	set_verdict(struct session *, char, const char *, char);
static void	reply_mta_unless_nr(struct session *, char);
static void	keep_header(struct session *, const struct milter_header *);
static void	start_children(struct session *);
static void	answer_optneg(struct session *);
static void	message_over(struct session *);
static void	message_abort(struct session *);
static void	round_send(struct session *, struct child *);
static int	eligible(const struct child *, char);
static void	take_owed(struct child *);
static void	round_begin(struct session *, char);
static void	round_next(struct session *);
static void	round_finish(struct session *);
static char	chain_reply(struct session *, const char **);
static int	evaluated(struct session *, struct child *);
static void	eom_begin(struct session *);
static void	eom_next(struct session *);
static void	eom_step(struct session *, struct child *);
static void	eom_child_replied(struct session *, struct child *);
static int	eom_take_edits(struct session *, struct child *);
static void	eom_finish(struct session *, struct child *);
static void	eom_send_body(struct session *);
static void	eom_done(struct session *, char, const char *);
static void	progress_tick(evutil_socket_t, short, void *);
static void	children_negotiated(void *);
static void	child_replied(void *, struct child *);
static void	child_failed(void *, struct child *, enum child_state, int);

static const struct child_ops	child_ops = {
	children_negotiated,
	child_replied,
	child_failed,
};

/* A milter's setting, unless milterctl changed it (-1: it did not). */
static int
in_effect(int configured, const int32_t *changed)
{
	int32_t	v = __atomic_load_n(changed, __ATOMIC_RELAXED);

	return v >= 0 ? v : configured;
}

struct session *
session_new(struct event_base *base, const struct conf *conf,
    const struct session_host *host, int fd, const char *id, int mta_local)
{
	struct session	*s;
	struct child	*c;
	size_t		 i;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	strlcpy(s->id, id, sizeof(s->id));
	s->base = base;
	s->conf = conf;
	s->host = host;
	s->link.ops = &child_ops;
	s->link.arg = s;
	s->link.launcher = &host->launcher;
	s->link.base = base;
	s->link.id = s->id;
	s->link.out = &s->out;
	s->link.launch_wait = conf->launch_wait;
	s->mta_local = mta_local;
	s->checking.done = client_checked;
	gettimeofday(&s->start, NULL);
	strlcpy(s->verdict, "none", sizeof(s->verdict));
	strlcpy(s->client, "unknown", sizeof(s->client));
	message_init(&s->msg, conf->body_memory_limit, conf->spool_dir);
	if (conf->nconds > 0 && (s->cond_result = calloc(conf->nconds,
	    sizeof(*s->cond_result))) == NULL)
		goto fail;
	if (conf->nmilters > 0 && (s->kids = calloc(conf->nmilters,
	    sizeof(*s->kids))) == NULL)
		goto fail;
	for (i = 0; i < conf->nmilters; i++) {
		if (!in_effect(conf->milters[i].enabled,
		    &conf->milters[i].stats->enabled))
			continue;
		c = &s->kids[s->nkids];
		c->link = &s->link;
		c->mc = &conf->milters[i];
		c->idx = s->nkids++;
		c->stats = c->mc->stats;
		c->evaluation = in_effect(c->mc->evaluation,
		    &c->stats->evaluation);
		stats_add(&c->stats->sessions, 1);
	}
	s->mta = conn_new(base, fd, 0, mta_read, mta_event, s);
	s->resume = event_new(base, -1, 0, session_resume, s);
	s->progress = event_new(base, -1, EV_PERSIST, progress_tick, s);
	if (s->mta == NULL || s->resume == NULL || s->progress == NULL)
		goto fail;
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
	for (i = 0; i < s->nkids; i++)
		child_free(&s->kids[i]);
	free(s->kids);
	free(s->cond_result);
	conn_free(s->mta);
	if (s->resume != NULL)
		event_free(s->resume);
	if (s->progress != NULL)
		event_free(s->progress);
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
		if (s->sending_body)
			eom_send_body(s);
		return;
	}
	session_end(s, what == CONN_EOF ? "MTA closed the connection" :
	    strerror(err), what != CONN_EOF);
}

static void
session_resume(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	session_process(arg);
}

/* Take the next MTA packets from the loop, not from the caller. */
static void
session_wake(struct session *s)
{
	s->busy = 0;
	s->wait_since = 0;
	event_active(s->resume, 0, 0);
}

static void
session_process(struct session *s)
{
	struct evbuffer		*in = conn_input(s->mta);
	struct milter_pkt	 pkt;
	struct milter_cmd	 cmd;
	const char		*err;
	size_t			 used, dummy;
	int			 rc;

	while (!s->busy) {
		if ((rc = packet_peek(in, &pkt, &used, &err)) == 0)
			return;
		if (rc == -1) {
			session_end(s, err, 1);
			return;
		}
		/* Keep the raw packet: the children get it as it came. */
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
		if (s->closing) {
			session_end(s, "quit", 0);
			return;
		}
	}
}

/*
 * A queue id the MTA sent (macro i): each message's once, in order, for
 * the session's log line.  Sendmail sends it at every stage from MAIL,
 * Postfix from the first accepted RCPT; a value like the last one is
 * the same message's.  Ids that no longer fit are left out, said by
 * a trailing ",...".
 */
static void
queue_id_seen(struct session *s, const char *id)
{
	const char	*last;
	size_t		 len = strlen(s->queue_ids);

	if (id == NULL || *id == '\0')
		return;
	last = strrchr(s->queue_ids, ',');
	last = last != NULL ? last + 1 : s->queue_ids;
	if (strcmp(last, id) == 0 || strcmp(last, "...") == 0)
		return;
	if (len + 1 + strlen(id) + 4 >= sizeof(s->queue_ids))
		id = "...";
	snprintf(s->queue_ids + len, sizeof(s->queue_ids) - len, "%s%s",
	    len > 0 ? "," : "", id);
}

/*
 * The client as the log line shows it: NAME[ADDR], and as Postfix
 * logs it, unknown[ADDR] when the MTA has no name for it (it sends
 * the address in brackets in place of the name, or nothing).
 */
static void
client_label(struct session *s, const struct milter_connect *c)
{
	const char	*addr = c->addr != NULL ? c->addr : "";
	const char	*host = c->host, *h = host + (host[0] == '[');
	size_t		 n = strlen(addr);

	/* Sendmail: [IPv6:2001:db8::1]. */
	if (strncasecmp(h, "IPv6:", 5) == 0 && strncasecmp(addr, "IPv6:",
	    5) != 0)
		h += 5;
	if (host[0] == '\0' || (host[0] == '[' && strncmp(h, addr, n) == 0 &&
	    strcmp(h + n, "]") == 0))
		host = "unknown";
	snprintf(s->client, sizeof(s->client), "%s[%s]", host, addr);
}

/*
 * One log line for the session, then the worker frees it.  Called only
 * from the MTA side's callbacks, never under a child's.  The line's
 * form is documented in milterd(8): keep it stable.
 */
static void
session_end(struct session *s, const char *why, int error)
{
	struct timeval		 now, d;
	struct child		*c;
	struct log_field	*f;
	char			*names = NULL, **own, when[32];
	size_t			 len = 0, i, n = 0;
	FILE			*fp;
	int			 rc;

	gettimeofday(&now, NULL);
	timersub(&now, &s->start, &d);
	/* Its fields, written as text or JSON by log_fields(). */
	if ((f = calloc(s->nkids + 7, sizeof(*f))) == NULL ||
	    (own = calloc(s->nkids * 2 + 1, sizeof(*own))) == NULL ||
	    (fp = open_memstream(&names, &len)) == NULL)
		fatal("%s: calloc", __func__);
	for (i = 0; i < s->nkids; i++)
		fprintf(fp, "%s%s", i > 0 ? "," : "", s->kids[i].mc->name);
	if (fclose(fp) != 0)
		fatal("%s: open_memstream", __func__);
	f[n++] = (struct log_field){ "session", s->id, LOG_F_WORD };
	f[n++] = (struct log_field){ "client", s->client, LOG_F_WORD };
	f[n++] = (struct log_field){ "children", s->nkids > 0 ? names : "-",
	    LOG_F_WORD };
	for (i = 0; i < s->nkids; i++) {
		c = &s->kids[i];
		if (c->stopped != NULL)
			rc = asprintf(&own[2 * i], "stopped@%s%s:%.3f",
			    c->stopped->negate ? "!" : "",
			    s->conf->conds[c->stopped->idx].name,
			    (double)c->wait_us / 1e6);
		else
			rc = asprintf(&own[2 * i], "%s%s:%.3f",
			    c->verdict_evaluated ? "eval-" : "",
			    c->aborted == 1 ? "aborted" :
			    c->state == CHILD_FAILED && !c->aborted ?
			    "failed" : c->verdict == VERDICT_NONE ?
			    "continue" : verdict_name(c->verdict),
			    (double)c->wait_us / 1e6);
		if (rc == -1 || asprintf(&own[2 * i + 1], "child.%s",
		    c->mc->name) == -1)
			fatal("%s: asprintf", __func__);
		f[n++] = (struct log_field){ own[2 * i + 1], own[2 * i],
		    LOG_F_WORD };
	}
	snprintf(when, sizeof(when), "%ld.%03ld", (long)d.tv_sec,
	    (long)d.tv_usec / 1000);
	f[n++] = (struct log_field){ "verdict", s->verdict, LOG_F_WORD };
	f[n++] = (struct log_field){ "end", why, LOG_F_QUOTED };
	f[n++] = (struct log_field){ "time", when, LOG_F_NUMBER };
	f[n++] = (struct log_field){ "queue_id", s->queue_ids[0] != '\0' ?
	    s->queue_ids : "-", LOG_F_WORD };
	log_fields(LOG_INFO, f, n);
	for (i = 0; i < s->nkids * 2; i++)
		free(own[i]);
	free(own);
	free(f);
	free(names);
	session_count(s, error);
	s->host->done(s);
}

static void
session_count(struct session *s, int error)
{
	stats_add(&stats->sessions, 1);
	stats_add(&stats->session_verdicts[s->final], 1);
	if (error)
		stats_add(&stats->mta_errors, 1);
}

/*
 * A child's verdict for this command: a deciding reply, accept, or at
 * end of message continue (the message is accepted by it).  Counted as
 * applied or evaluated, and kept for the session's log line.
 */
static void
note_verdict(struct session *s, struct child *c)
{
	enum verdict	v;

	if (s->round.cmd != SMFIC_BODYEOB &&
	    !merge_decides(s->round.cmd, c->reply) && c->reply != SMFIR_ACCEPT)
		return;
	v = c->quarantined ? VERDICT_QUARANTINE : verdict_of(c->reply,
	    child_text(c));
	if (v == VERDICT_NONE)
		return;
	stats_add(c->evaluation ? &c->stats->evaluated[v] :
	    &c->stats->verdicts[v], 1);
	c->verdict = v;
	c->verdict_evaluated = c->evaluation;
}

/* The session's verdict so far: the last one given to the MTA. */
static void
set_verdict(struct session *s, char code, const char *text, char cmd)
{
	s->final = code == SMFIR_CONTINUE ? VERDICT_ACCEPT :
	    verdict_of(code, text);
	if (s->final == VERDICT_ACCEPT && s->quarantined)
		s->final = VERDICT_QUARANTINE;
	snprintf(s->verdict, sizeof(s->verdict), "%s@%s",
	    verdict_name(s->final), milter_code_name(cmd));
}

static void
reply_mta(struct session *s, char code, const char *text)
{
	mbuf_reset(&s->out);
	if (code == SMFIR_REPLYCODE)
		milter_put_str(&s->out, code, text);
	else
		milter_put_empty(&s->out, code);
	conn_write(s->mta, s->out.data, s->out.len);
}

/* Answer a command we keep, unless the MTA waived the reply. */
static void
reply_mta_unless_nr(struct session *s, char cmd)
{
	if (milter_cmd_replied(&s->upstream, cmd))
		reply_mta(s, SMFIR_CONTINUE, NULL);
}

/* The connect round, once the lookups conditions need are in. */
static void
connect_round(struct session *s)
{
	round_begin(s, SMFIC_CONNECT);
}

static void
handle_command(struct session *s, const struct milter_cmd *c)
{
	switch (c->code) {
	case SMFIC_OPTNEG:
		s->offer = c->u.optneg;
		s->link.offered = s->offer.actions;
		start_children(s);
		break;
	case SMFIC_MACRO:
		macros_take(&s->mac, c->u.macro.stage, &c->u.macro.pairs);
		queue_id_seen(s, macros_get(&s->mac, c->u.macro.stage, "i"));
		break;
	case SMFIC_CONNECT:
		client_label(s, &c->u.connect);
		trace_session(s, &c->u.connect);
		macros_connect(&s->mac, &c->u.connect, s->conf->mta);
		s->family = c->u.connect.family;
		s->msg.repl_keep_open = s->mac.mta == MTA_SENDMAIL;
		s->helo[0] = '\0';
		mbuf_reset(&s->rcpts);
		client_tuple(s, &c->u.connect);
		dnsbl_begin(s, connect_round);
		break;
	case SMFIC_HELO:
		strlcpy(s->helo, c->u.str, sizeof(s->helo));
		round_begin(s, c->code);
		break;
	case SMFIC_MAIL:
		/* Longer than any address: matched by no list. */
		if (strlcpy(s->sender, c->u.args.count > 0 ? c->u.args.buf :
		    "", sizeof(s->sender)) >= sizeof(s->sender))
			s->sender[0] = '\0';
		round_begin(s, c->code);
		break;
	case SMFIC_RCPT:
		if (strlcpy(s->rcpt, c->u.args.count > 0 ? c->u.args.buf : "",
		    sizeof(s->rcpt)) >= sizeof(s->rcpt))
			s->rcpt[0] = '\0';
		s->rcpts_mark = s->rcpts.len;
		mbuf_append(&s->rcpts, s->rcpt, strlen(s->rcpt) + 1);
		round_begin(s, c->code);
		break;
	case SMFIC_DATA:
	case SMFIC_UNKNOWN:
		round_begin(s, c->code);
		break;
	case SMFIC_HEADER:
		keep_header(s, &c->u.header);
		reply_mta_unless_nr(s, c->code);
		break;
	case SMFIC_EOH:
		reply_mta_unless_nr(s, c->code);
		break;
	case SMFIC_BODY:
		if (spool_append(&s->msg.body, c->u.body.data,
		    c->u.body.len) == -1 && !s->msg_error) {
			log_warn("session %s: cannot keep the body",
			    s->id);
			s->msg_error = 1;
		}
		reply_mta_unless_nr(s, c->code);
		break;
	case SMFIC_BODYEOB:
		eom_begin(s);
		break;
	case SMFIC_ABORT:
		message_abort(s);
		break;
	case SMFIC_QUIT:
		s->closing = 1;
		break;
	case SMFIC_QUIT_NC:
		message_abort(s);
		start_children(s);
		break;
	}
}

/* A header as it followed the colon, whatever the MTA negotiated. */
static void
keep_header(struct session *s, const struct milter_header *h)
{
	const char	*value = h->value;

	if (!s->mta_leadspc) {
		mbuf_reset(&s->out);
		mbuf_append(&s->out, " ", 1);
		mbuf_append(&s->out, h->value, strlen(h->value) + 1);
		if (s->out.err)
			return;
		value = (const char *)s->out.data;
	}
	if (message_add_header(&s->msg, h->name, value) == -1 &&
	    !s->msg_error) {
		log_warn("session %s: cannot keep a header", s->id);
		s->msg_error = 1;
	}
}

/*
 * Negotiation.  After K the children are connected and negotiated
 * afresh, but the MTA is not answered again.
 */
static void
start_children(struct session *s)
{
	size_t	i;

	s->busy = 1;
	/*
	 * All idle before any starts: a child that fails at once calls
	 * children_negotiated(), which must not take the others,
	 * still READY from before K, as negotiated.
	 */
	for (i = 0; i < s->nkids; i++) {
		child_close(&s->kids[i], 1);
		s->kids[i].state = CHILD_IDLE;
		s->kids[i].launch_until = 0;
		s->kids[i].owed = 0;
		s->kids[i].reply = 0;
	}
	for (i = 0; i < s->nkids; i++)
		child_start(&s->kids[i]);
	children_negotiated(s);
}

/*
 * A child was dropped.  If the command at work awaited it, or it had
 * not been reached yet, its fallback answers that command; otherwise
 * (between commands, or this command already answered: its reply
 * stands) the fallback answers the next command.
 */
static void
child_failed(void *arg, struct child *c, enum child_state was, int awaited)
{
	struct session	*s = arg;

	if (awaited || (was == CHILD_READY && s->busy && !s->dns_waiting &&
	    c->reply == 0)) {
		c->reply = child_fallback_reply(c);
		child_set_text(c, "");
		c->owed = 0;
	} else
		c->owed = 1;
	if (was == CHILD_CONNECTING || was == CHILD_NEGOTIATING)
		children_negotiated(s);
	else if (awaited)
		child_replied(s, c);
}

static void
children_negotiated(void *arg)
{
	struct session	*s = arg;
	size_t	i;

	for (i = 0; i < s->nkids; i++)
		if (s->kids[i].state == CHILD_CONNECTING ||
		    s->kids[i].state == CHILD_NEGOTIATING ||
		    s->kids[i].state == CHILD_IDLE)
			return;
	if (!s->negotiated) {
		answer_optneg(s);
		s->negotiated = 1;
	}
	session_wake(s);
}

static void
answer_optneg(struct session *s)
{
	struct milter_optneg	*effs;
	struct macro_lists	 merged;
	char			 lists[SMFIM_COUNT][MACRO_LIST_MAX];
	const char		*own[SMFIM_COUNT];
	size_t			 i, n = 0;

	if ((effs = calloc(s->nkids + 1, sizeof(*effs))) == NULL)
		fatal("%s: calloc", __func__);
	for (i = 0; i < s->nkids; i++)
		if (child_live(&s->kids[i]))
			effs[n++] = s->kids[i].eff;
	macros_own(s->conf, lists);
	for (i = 0; i < SMFIM_COUNT; i++)
		own[i] = lists[i][0] != '\0' ? lists[i] : NULL;
	merge_optneg(&s->offer, effs, n, own, &s->upstream, &merged);
	s->link.granted = s->upstream.actions;
	s->upstream.protocol &= ~condition_steps(s->conf);
	free(effs);
	s->mta_leadspc = (s->upstream.protocol & SMFIP_HDR_LEADSPC) != 0;
	mbuf_reset(&s->out);
	milter_put_optneg(&s->out, &s->upstream);
	conn_write(s->mta, s->out.data, s->out.len);
	/* The lists are the reply's: a session keeps which were asked for. */
	s->mac.asked = 0;
	for (i = 0; i < SMFIM_COUNT; i++) {
		if (s->upstream.macros[i] != NULL)
			s->mac.asked |= 1U << i;
		s->upstream.macros[i] = NULL;
	}
}

/* The message is over (end of message, abort, a new MAIL). */
static void
message_over(struct session *s)
{
	size_t	i;

	for (i = 0; i < s->nkids; i++) {
		s->kids[i].in_msg = 0;
		s->kids[i].rcpt_shown = s->kids[i].rcpt_hidden = 0;
		if (s->kids[i].done == 1)
			s->kids[i].done = 0;
	}
	message_reset(&s->msg);
	mbuf_reset(&s->rcpts);
	s->msg_error = 0;
}

/* Abort (or K): children inside the message are told. */
static void
message_abort(struct session *s)
{
	size_t	i;

	for (i = 0; i < s->nkids; i++)
		if (s->kids[i].in_msg)
			child_abort(&s->kids[i]);
	message_over(s);
}

/*
 * Envelope rounds.
 */

static int
eligible(const struct child *c, char cmd)
{
	return child_live(c) && !c->done && !c->skip &&
	    milter_cmd_sent(&c->eff, cmd);
}

/*
 * A child that failed since the last command (e.g. at negotiation)
 * answers this one with its fallback; otherwise it has no reply yet.
 */
static void
take_owed(struct child *c)
{
	c->reply = c->owed ? child_fallback_reply(c) : 0;
	child_set_text(c, "");
	c->owed = 0;
}

static void
round_begin(struct session *s, char cmd)
{
	size_t	i;

	s->busy = 1;
	s->wait_since = stats_now_us();
	s->round.cmd = s->link.at = cmd;
	s->round.pos = 0;
	s->round.waiting = 0;
	if (cmd == SMFIC_MAIL)
		message_over(s);
	for (i = 0; i < s->nkids; i++)
		s->kids[i].skip = 0;
	apply_conditions(s, cmd);
	if (cmd == SMFIC_DATA)
		rcpt_scope(s);
	for (i = 0; i < s->nkids; i++) {
		take_owed(&s->kids[i]);
		if (cmd == SMFIC_MAIL && child_live(&s->kids[i]) &&
		    !s->kids[i].done)
			s->kids[i].in_msg = 1;
	}
	round_next(s);
}

/* Macros and command in one write. */
static void
round_send(struct session *s, struct child *c)
{
	mbuf_reset(&s->out);
	macros_for_child(&s->mac, &s->out, s->round.cmd, c->eff.macros,
	    c->mc->macros_compat);
	mbuf_append(&s->out, s->cur.data, s->cur.len);
	child_send_mbuf(c, &s->out, s->round.cmd, 1);
	if (c->state == CHILD_WAITING)
		s->round.waiting++;
}

static void
round_next(struct session *s)
{
	struct child	*c;
	size_t		 i;

	if (s->conf->dispatch == DISPATCH_PARALLEL) {
		for (i = 0; i < s->nkids; i++)
			if (eligible(&s->kids[i], s->round.cmd))
				round_send(s, &s->kids[i]);
		if (s->round.waiting == 0)
			round_finish(s);
		return;
	}
	for (; s->round.pos < s->nkids; s->round.pos++) {
		c = &s->kids[s->round.pos];
		if (!eligible(c, s->round.cmd)) {
			/* An owed fallback decides in its place. */
			if (c->reply != 0 && merge_decides(s->round.cmd,
			    c->reply))
				break;
			continue;
		}
		round_send(s, c);
		if (s->round.waiting > 0)
			return;
		if (c->reply != 0 && merge_decides(s->round.cmd, c->reply))
			break;
	}
	round_finish(s);
}

/* An evaluated child's verdict is logged, then counts as continue. */
static int
evaluated(struct session *s, struct child *c)
{
	if (!c->evaluation || c->state == CHILD_FAILED ||
	    (!merge_decides(s->round.cmd, c->reply) &&
	    c->reply != SMFIR_ACCEPT))
		return 0;
	log_info("session %s: child %s (evaluation): %s %s%s%s",
	    s->id, c->mc->name, milter_code_name(s->round.cmd),
	    milter_code_name(c->reply), child_text(c)[0] ? " " : "",
	    child_text(c));
	if (c->reply != SMFIR_ACCEPT)
		c->reply = SMFIR_CONTINUE;
	return 1;
}

static void
child_replied(void *arg, struct child *c)
{
	struct session	*s = arg;
	int	ends;

	if (s->round.cmd == SMFIC_BODYEOB) {
		eom_child_replied(s, c);
		return;
	}
	if (s->round.waiting > 0)
		s->round.waiting--;
	if (c->state != CHILD_FAILED)
		note_verdict(s, c);
	(void)evaluated(s, c);
	if ((ends = merge_ends_child(s->round.cmd, c->reply)) > c->done)
		c->done = ends;
	if (s->conf->dispatch == DISPATCH_PARALLEL) {
		if (s->round.waiting == 0)
			round_finish(s);
		return;
	}
	if (merge_decides(s->round.cmd, c->reply)) {
		round_finish(s);
		return;
	}
	s->round.pos++;
	round_next(s);
}

/*
 * The chain's answer: the first deciding reply in child order; else
 * the global fallback when every child failed; else accept when every
 * child is done with this scope (the MTA then stops asking); else
 * continue.
 */
static char
chain_reply(struct session *s, const char **text)
{
	struct child	*c;
	size_t		 i, failed = 0, done = 0;

	*text = NULL;
	/* The client has gone: what it was told stands for the rest. */
	if (s->gone)
		return s->gone;
	for (i = 0; i < s->nkids; i++) {
		c = &s->kids[i];
		if (c->reply != 0 && merge_decides(s->round.cmd, c->reply)) {
			*text = child_text(c);
			return c->reply;
		}
		/* Kept out by a condition, even if down: an accept. */
		if (c->done)
			done++;
		else if (c->state == CHILD_FAILED)
			failed++;
	}
	if (failed == s->nkids)
		return merge_fallback_reply(s->conf->fallback, SMFIR_ACCEPT);
	return failed + done == s->nkids ? SMFIR_ACCEPT : SMFIR_CONTINUE;
}

static void
round_finish(struct session *s)
{
	const char	*text;
	char		 code = chain_reply(s, &text);
	size_t		 i;

	/* A refused recipient is no one's: the MTA drops it. */
	if (s->round.cmd == SMFIC_RCPT && merge_decides(SMFIC_RCPT, code)) {
		s->rcpts.len = s->rcpts_mark;
		for (i = 0; i < s->nkids; i++)
			if (s->kids[i].rcpt_counted) {
				if (s->kids[i].skip)
					s->kids[i].rcpt_hidden--;
				else
					s->kids[i].rcpt_shown--;
			}
	}
	if (code != SMFIR_CONTINUE)
		set_verdict(s, code, text, s->round.cmd);
	if (milter_cmd_replied(&s->upstream, s->round.cmd))
		reply_mta(s, code, text);
	session_wake(s);
}

/*
 * End of message: each child in turn is replayed the message.
 */

static void
eom_begin(struct session *s)
{
	struct timeval	tv = { s->conf->progress_interval, 0 };
	size_t		i;

	s->busy = 1;
	s->wait_since = stats_now_us();
	/* When the MTA sent no DATA, the recipients are judged here. */
	rcpt_scope(s);
	s->round.cmd = s->link.at = SMFIC_BODYEOB;
	s->round.pos = 0;
	mbuf_reset(&s->edits);
	s->body_replaced = 0;
	for (i = 0; i < s->nkids; i++) {
		take_owed(&s->kids[i]);
		s->kids[i].phase = 0;
		s->kids[i].replay_hdr = 0;
		s->kids[i].replay_off = 0;
		s->kids[i].quarantined = 0;
		mbuf_reset(&s->kids[i].edits);
	}
	s->quarantined = 0;
	if (s->msg_error) {
		eom_done(s, SMFIR_TEMPFAIL, NULL);
		return;
	}
	evtimer_add(s->progress, &tv);
	eom_next(s);
}

static void
eom_next(struct session *s)
{
	struct child	*c;

	for (; s->round.pos < s->nkids; s->round.pos++) {
		c = &s->kids[s->round.pos];
		if (child_live(c) && !c->done) {
			eom_step(s, c);
			return;
		}
		if (c->reply != 0 && merge_decides(SMFIC_BODYEOB, c->reply)) {
			eom_finish(s, c);
			return;
		}
	}
	eom_finish(s, NULL);
}

/*
 * Send the child the next part of the message, up to the next command
 * it answers: headers (phase 0), end of headers (1), body pieces (2),
 * end of message (3).  What it does not answer is written together
 * with what follows (up to REPLAY_BATCH bytes), one write per wait.
 */
static void
eom_step(struct session *s, struct child *c)
{
	const struct mhdr	*h;
	struct milter_header	 mh;
	uint8_t			 chunk[MILTER_CHUNK_SIZE];
	ssize_t			 n;
	char			 last;

	mbuf_reset(&s->out);
	while (child_live(c) && c->state != CHILD_WAITING && c->phase < 4) {
		if (c->phase == 0 && c->replay_hdr < s->msg.nhdrs &&
		    milter_cmd_sent(&c->eff, SMFIC_HEADER)) {
			h = &s->msg.hdrs[c->replay_hdr++];
			mh.name = h->name;
			mh.value = h->value;
			if (!c->leadspc && mh.value[0] == ' ')
				mh.value++;
			milter_put_header(&s->out, last = SMFIC_HEADER, &mh);
		} else if (c->phase == 0) {
			c->phase = 1;
			if (!milter_cmd_sent(&c->eff, SMFIC_EOH))
				continue;
			macros_for_child(&s->mac, &s->out, SMFIC_EOH,
			    c->eff.macros, c->mc->macros_compat);
			milter_put_empty(&s->out, last = SMFIC_EOH);
		} else if (c->phase <= 2) {
			c->phase = 2;
			n = milter_cmd_sent(&c->eff, SMFIC_BODY) ?
			    spool_read(&s->msg.body, c->replay_off, chunk,
			    sizeof(chunk)) : 0;
			if (n <= 0) {
				c->phase = 3;
				continue;
			}
			c->replay_off += (size_t)n;
			milter_put_body(&s->out, last = SMFIC_BODY, chunk,
			    (size_t)n, 0);
		} else {
			c->phase = 4;
			macros_for_child(&s->mac, &s->out, SMFIC_BODYEOB,
			    c->eff.macros, c->mc->macros_compat);
			milter_put_empty(&s->out, last = SMFIC_BODYEOB);
		}
		if (milter_cmd_replied(&c->eff, last) ||
		    s->out.len >= REPLAY_BATCH) {
			child_send_mbuf(c, &s->out, last, 1);
			mbuf_reset(&s->out);
		}
		/* A child that reads slower than we replay: wait for it. */
		if (child_live(c) && c->state != CHILD_WAITING &&
		    conn_pending(c->conn) >= REPLAY_BATCH) {
			c->stalled = 1;
			child_arm_command(c);
			conn_notify_drained(c->conn, REPLAY_BATCH / 2);
			return;
		}
	}
	/* A failed write does not come back as a reply. */
	if (c->state == CHILD_FAILED)
		eom_child_replied(s, c);
}

static void
eom_child_replied(struct session *s, struct child *c)
{
	char	what[512];

	if (c->state == CHILD_FAILED) {
		if (merge_decides(SMFIC_BODYEOB, c->reply))
			eom_finish(s, c);
		else {
			s->round.pos++;
			eom_next(s);
		}
		return;
	}
	if (c->reply == SMFIR_SKIP) {
		c->phase = 3;
		c->reply = SMFIR_CONTINUE;
	}
	if (c->reply == SMFIR_CONTINUE && c->phase < 4) {
		eom_step(s, c);
		return;
	}
	if (merge_decides(SMFIC_BODYEOB, c->reply)) {
		note_verdict(s, c);
		if (!evaluated(s, c)) {
			eom_finish(s, c);
			return;
		}
	} else if (c->phase == 4 && !c->evaluation &&
	    eom_take_edits(s, c) == -1) {
		/* Failed: its fallback answers this E, not the next command. */
		c->reply = child_fallback_reply(c);
		c->owed = 0;
		eom_child_replied(s, c);
		return;
	} else
		note_verdict(s, c);
	/* Continue or accept at E: the edits count, and the next child. */
	if (c->evaluation && c->edits.len > 0) {
		merge_describe_edits(c->edits.data, c->edits.len, what,
		    sizeof(what));
		log_info("session %s: child %s (evaluation): modifications "
		    "dropped: %s", s->id, c->mc->name, what);
	}
	c->done = 1;
	if (c->quarantined && !c->evaluation) {
		s->quarantined = 1;
		/* Postfix ends the content chain there, Sendmail goes on. */
		if (s->mac.mta != MTA_SENDMAIL) {
			eom_finish(s, NULL);
			return;
		}
	}
	s->round.pos++;
	eom_next(s);
}

/*
 * Apply a child's modifications to the copy and queue them for the MTA,
 * header values translated between the two leading-space conventions.
 */
static int
eom_take_edits(struct session *s, struct child *c)
{
	struct milter_pkt	 pkt;
	struct milter_reply	 r;
	struct milter_header	 h;
	const char		*err, *v;
	size_t			 off = 0, used, start, before = s->edits.len;
	int			 replaced = s->body_replaced;

	while (off < c->edits.len && milter_frame(c->edits.data + off,
	    c->edits.len - off, PACKET_MAX, &pkt, &used) == MILTER_FRAME_OK) {
		off += used;
		if (milter_decode_reply(&pkt, &r, &err) == -1 ||
		    message_apply(&s->msg, &r, c->leadspc, &err) == -1) {
			/* None of a failed child's edits reach the MTA. */
			s->edits.len = before;
			s->body_replaced = replaced;
			message_edits_cancel(&s->msg);
			child_fail(c, "eom: %s", err);
			return -1;
		}
		switch (r.code) {
		case SMFIR_REPLBODY:
			s->body_replaced = 1;
			break;
		case SMFIR_ADDHEADER:
		case SMFIR_INSHEADER:
		case SMFIR_CHGHEADER:
			h = r.u.header;
			v = merge_header_value(h.value, c->leadspc,
			    s->mta_leadspc);
			start = milter_begin(&s->edits, r.code);
			if (r.code != SMFIR_ADDHEADER)
				milter_add_u32(&s->edits, h.index);
			milter_add_str(&s->edits, h.name);
			if (v == NULL) {
				milter_add_bytes(&s->edits, " ", 1);
				v = h.value;
			}
			milter_add_str(&s->edits, v);
			milter_end(&s->edits, start);
			break;
		default:
			mbuf_append(&s->edits, pkt.data - 5, used);
			break;
		}
	}
	if (message_edits_done(&s->msg) == -1) {
		s->edits.len = before;
		s->body_replaced = replaced;
		child_fail(c, "eom: cannot keep replaced body");
		return -1;
	}
	return 0;
}

/*
 * The final answer at E: the deciding child's reply, or the net
 * modifications and continue (after the replaced body, if any, which
 * eom_send_body() streams).
 */
static void
eom_finish(struct session *s, struct child *decider)
{
	size_t	i, failed = 0;

	evtimer_del(s->progress);
	for (i = 0; i < s->nkids; i++)
		failed += s->kids[i].state == CHILD_FAILED &&
		    !s->kids[i].done;
	if (decider != NULL)
		eom_done(s, decider->reply, child_text(decider));
	else if (s->gone)
		eom_done(s, s->gone, NULL);
	else if (failed == s->nkids && s->nkids > 0 &&
	    s->conf->fallback != FALLBACK_ACCEPT)
		eom_done(s, merge_fallback_reply(s->conf->fallback,
		    SMFIR_ACCEPT), NULL);
	else {
		conn_write(s->mta, s->edits.data, s->edits.len);
		if (!s->body_replaced) {
			eom_done(s, SMFIR_CONTINUE, NULL);
			return;
		}
		s->sending_body = 1;
		s->body_off = 0;
		eom_send_body(s);
	}
}

/*
 * The replaced body to the MTA, REPLAY_BATCH bytes queued at most:
 * again when the MTA has read half of it.
 */
static void
eom_send_body(struct session *s)
{
	uint8_t	chunk[MILTER_CHUNK_SIZE];
	ssize_t	n;

	while (conn_pending(s->mta) < REPLAY_BATCH) {
		if ((n = spool_read(&s->msg.body, s->body_off, chunk,
		    sizeof(chunk))) == -1) {
			log_warn("session %s: cannot read the kept body",
			    s->id);
			s->sending_body = 0;
			eom_done(s, SMFIR_TEMPFAIL, NULL);
			return;
		}
		mbuf_reset(&s->out);
		milter_put_body(&s->out, SMFIR_REPLBODY, chunk, (size_t)n, 0);
		conn_write(s->mta, s->out.data, s->out.len);
		s->body_off += (size_t)n;
		if ((size_t)n < sizeof(chunk)) {
			s->sending_body = 0;
			eom_done(s, SMFIR_CONTINUE, NULL);
			return;
		}
	}
	conn_notify_drained(s->mta, REPLAY_BATCH / 2);
}

static void
eom_done(struct session *s, char code, const char *text)
{
	set_verdict(s, code, text, SMFIC_BODYEOB);
	stats_add(&stats->messages, 1);
	stats_add(&stats->message_verdicts[s->final], 1);
	reply_mta(s, code, text);
	message_over(s);
	session_wake(s);
}

static void
progress_tick(evutil_socket_t fd, short what, void *arg)
{
	struct session	*s = arg;

	(void)fd;
	(void)what;
	reply_mta(s, SMFIR_PROGRESS, NULL);
}

/*
 * The disconnect check: while the session waits on its children, is
 * the SMTP client still connected to the MTA?
 */

static void
client_tuple(struct session *s, const struct milter_connect *c)
{
	const char	*laddr, *lport;

	s->check = CLIENT_UNCHECKED;
	if (!s->conf->disconnect_check || !s->mta_local)
		return;
	if ((laddr = macros_get(&s->mac, SMFIC_CONNECT, "daemon_addr")) == NULL)
		laddr = macros_get(&s->mac, SMFIC_CONNECT, "if_addr");
	lport = macros_get(&s->mac, SMFIC_CONNECT, "daemon_port");
	if (conncheck_tuple(&s->checking.tuple, c->family, c->addr, c->port,
	    laddr, lport) == -1) {
		log_debug("session %s: client %s not checked: the MTA sent "
		    "no usable address and port (%s:%s)", s->id, s->client,
		    laddr != NULL ? laddr : "-", lport != NULL ? lport : "-");
		return;
	}
	s->check = CLIENT_UNSEEN;
	/*
	 * A first look at once, while the client surely is there: a
	 * connection not found later is a client gone (reset), not one
	 * presented by XCLIENT or a proxy.
	 */
	conncheck_submit(&s->checking);
}

/* From the worker's tick: look for the client if the wait is long. */
void
session_check_due(struct session *s, uint64_t now)
{
	if ((s->check == CLIENT_UNSEEN || s->check == CLIENT_SEEN) &&
	    s->wait_since != 0 && !s->sending_body && now - s->wait_since >=
	    (uint64_t)s->conf->disconnect_check_after * 1000000)
		conncheck_submit(&s->checking);
}

static void
client_checked(struct conncheck_item *it, int result, const char *why)
{
	struct session	*s = (struct session *)(void *)((char *)it -
	    offsetof(struct session, checking));

	if (s->check == CLIENT_UNSEEN && result == CHECK_ABSENT) {
		/* XCLIENT, a proxy: not the TCP peer the MTA has. */
		s->check = CLIENT_UNVERIFIABLE;
		stats_add(&stats->unverifiable, 1);
		/* Every session behind one: said once, then counted. */
		if (stats_once(&stats->unverifiable_said[s->listener %
		    STATS_MAX_LISTEN]))
			log_info("session %s: client %s: no such connection "
			    "to the MTA; not checked again (XCLIENT or a "
			    "proxy?); said once for %s, the others are "
			    "counted as unverifiable (milterctl stats)", s->id,
			    s->client, s->conf->listen[s->listener].text);
		else
			log_debug("session %s: client %s: no such connection "
			    "to the MTA; not checked again", s->id, s->client);
		return;
	}
	s->check = CLIENT_SEEN;
	if (result != CHECK_OPEN && s->wait_since != 0 && !s->sending_body &&
	    stats_now_us() - s->wait_since >=
	    (uint64_t)s->conf->disconnect_check_after * 1000000)
		client_gone(s, why);
}

/*
 * The client has gone while the MTA waits for us: answer it at once
 * with fallback_on_disconnect, so that it ends the session, and drop
 * the children (aborted, not failed: their fallbacks do not count).
 */
static void
client_gone(struct session *s, const char *why)
{
	struct child		*c;
	char			 code;
	size_t			 i;

	code = merge_fallback_reply(s->conf->fallback_on_disconnect,
	    SMFIR_ACCEPT);
	log_warnx("session %s: client %s gone (%s) after %.1fs waiting "
	    "for the children at %s: answering %s, children aborted", s->id,
	    s->client, why, (double)(stats_now_us() - s->wait_since) / 1e6,
	    milter_code_name(s->round.cmd),
	    fallback_name(s->conf->fallback_on_disconnect));
	stats_add(&stats->disconnects, 1);
	s->check = CLIENT_UNCHECKED;
	s->gone = code;
	for (i = 0; i < s->nkids; i++) {
		c = &s->kids[i];
		/* Its time on this command counts, as in child_fail(). */
		if (c->state == CHILD_WAITING || c->state == CHILD_CONNECTING ||
		    c->state == CHILD_NEGOTIATING)
			c->wait_us += stats_now_us() - c->sent_us;
		if (c->in_msg)
			child_abort(c);
		/* 2: it had given its verdict, which stands in the log. */
		if (c->conn != NULL)
			c->aborted = c->state == CHILD_WAITING || c->stalled ||
			    (c->in_msg && !c->done) ? 1 : 2;
		child_close(c, 1);
		c->state = CHILD_FAILED;
		c->stalled = 0;
	}
	if (s->round.cmd == SMFIC_BODYEOB) {
		evtimer_del(s->progress);
		eom_done(s, code, NULL);
		return;
	}
	set_verdict(s, code, NULL, s->round.cmd);
	if (milter_cmd_replied(&s->upstream, s->round.cmd))
		reply_mta(s, code, NULL);
	session_wake(s);
}
