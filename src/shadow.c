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
 * shadow.c: a trial child nothing waits for (evaluation_wait = false).
 *
 * The chain engine never waits for a shadow; it tells session.c what
 * the shadow is to get (ACT_SHADOW: the command at work; ACT_SHADOW_EOM:
 * the message as the children before it left it).  Both are encoded at
 * once, while what they are made of (the MTA's packet and macros, the
 * kept message) still exists, into the shadow's own queue, and written
 * to it one command at a time as it answers, under its own timeouts
 * (child.c).  Its replies come here, never to the chain: a refusal ends
 * its part in the message (or, at connect or HELO, the connection), its
 * modifications are counted by kind and dropped, and its verdict at end
 * of message is set against the verdict the message really got (a
 * trial, struct trial) in the child's counters.
 *
 * Bounds.  Every byte queued or written and not yet answered counts
 * against evaluation_memory_limit, for the whole worker; a shadow that
 * would pass it is dropped for the session (counted, trial_dropped),
 * never waited for.  At most TRIALS_MAX trials wait for a verdict per
 * shadow, likewise.  When the MTA's side ends, the session lingers
 * (session.c) until each shadow has its verdicts or fails: by its own
 * timeouts at the latest.  Trials without a verdict then are counted
 * as cut (trial_cut).
 */

#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "session.h"

/* Trials waiting for a verdict, per shadow. */
#define TRIALS_MAX	16

/* A packet queued for a shadow. */
struct shadow_pkt {
	char		 code;
	uint32_t	 msg;		/* the message it is of */
	size_t		 off;		/* in the queue's bytes */
	size_t		 len;
};

/* One message the shadow was given at end of message. */
struct trial {
	uint32_t	 msg;
	int		 trial;		/* its verdict; -1: not yet */
	int		 actual;	/* the message's; -1: not yet */
	int		 quarantine;	/* among its modifications */
	uint64_t	 since;		/* stats_now_us() at end of message */
	uint64_t	 took;		/* to its verdict */
	uint64_t	 edits[NTRIAL_EDITS];
};

struct shadow {
	struct mbuf		 q;		/* encoded packets */
	struct shadow_pkt	*pkts;
	size_t			 npkts, cappkts, head;
	size_t			 held;	/* counted against the bound */
	size_t			 inflight;	/* written, not answered */
	struct shadow_pkt	 at;	/* the packet awaiting its reply */
	int			 waiting;
	uint32_t		 msg;	/* MAIL commands queued */
	int			 in_msg;	/* MAIL queued, no end yet */
	uint32_t		 done_msg;	/* decided: the rest skipped */
	int			 done_v;	/* its verdict there */
	int			 conn_v;	/* decided for the connection */
	uint32_t		 skip_body;	/* SMFIR_SKIP for that one */
	struct trial		 trials[TRIALS_MAX];
	size_t			 ntrials;
	int			 last;	/* the last trial's verdict, log */
};

/* Bytes held for shadows by this worker (evaluation_memory_limit). */
static size_t	held_total;

static struct shadow *get(struct session *, struct child *);
static int	hold(struct session *, struct child *, struct shadow *,
		    size_t);
static void	enqueue(struct session *, struct child *, char);
static void	pump(struct session *, struct child *);
static void	compact(struct shadow *);
static void	decided(struct session *, struct child *, uint32_t, int);
static struct trial *trial_of(struct shadow *, uint32_t);
static int	settle(struct child *, struct shadow *, struct trial *);
static void	drop_all(struct session *, struct child *, const char *);
static void	shadow_cut(struct session *, const char *);

/*
 * A shadow's state, made the first time it is needed; NULL when it is
 * out for the session (dropped past the bound, failed).
 */
static struct shadow *
get(struct session *s, struct child *c)
{
	struct shadow	*sh;

	if (s->shadows == NULL && (s->shadows = calloc(s->chain.nkids,
	    sizeof(*s->shadows))) == NULL)
		return NULL;
	if ((sh = s->shadows[c->idx]) != NULL)
		return sh;
	if (c->state == CHILD_FAILED || (sh = calloc(1, sizeof(*sh))) == NULL)
		return NULL;
	sh->done_v = sh->conn_v = sh->last = -1;
	s->shadows[c->idx] = sh;
	return sh;
}

/* Count n more bytes against the bound: 0, or -1 (it is dropped). */
static int
hold(struct session *s, struct child *c, struct shadow *sh, size_t n)
{
	if (held_total + n > s->conf->evaluation_memory_limit) {
		log_warnx("session %s: child %s (shadow): more than "
		    "evaluation_memory_limit (%zu bytes) pending for shadows: "
		    "dropped for the session", s->id, c->mc->name,
		    s->conf->evaluation_memory_limit);
		stats_add(&c->stats->trial_dropped, 1);
		drop_all(s, c, NULL);
		return -1;
	}
	sh->held += n;
	held_total += n;
	return 0;
}

/* The packet in s->out, queued under code. */
static void
enqueue(struct session *s, struct child *c, char code)
{
	struct shadow		*sh;
	struct shadow_pkt	*p;
	size_t			 cap;

	if ((sh = get(s, c)) == NULL || s->out.len == 0)
		return;
	if (hold(s, c, sh, s->out.len) == -1)
		return;
	if (sh->npkts == sh->cappkts) {
		cap = sh->cappkts > 0 ? sh->cappkts * 2 : 16;
		if ((p = reallocarray(sh->pkts, cap, sizeof(*p))) == NULL) {
			drop_all(s, c, "out of memory");
			return;
		}
		sh->pkts = p;
		sh->cappkts = cap;
	}
	p = &sh->pkts[sh->npkts];
	p->code = code;
	p->msg = sh->msg;
	p->off = sh->q.len;
	p->len = s->out.len;
	if (mbuf_append(&sh->q, s->out.data, s->out.len) == -1) {
		drop_all(s, c, "out of memory");
		return;
	}
	sh->npkts++;
}

/* ACT_SHADOW: the command at work (its macros first), for it. */
void
shadow_command(struct session *s, struct child *c, char cmd)
{
	struct shadow	*sh;

	if ((sh = get(s, c)) == NULL)
		return;
	if (cmd == SMFIC_MAIL) {
		sh->msg++;
		sh->in_msg = 1;
	}
	mbuf_reset(&s->out);
	macros_for_child(&s->mac, &s->out, cmd, c->eff.macros,
	    c->mc->macros_compat);
	mbuf_append(&s->out, s->cur.data, s->cur.len);
	enqueue(s, c, cmd);
	pump(s, c);
}

/*
 * ACT_SHADOW_EOM: the message as it is now, queued whole; a trial
 * opens for it.  A shadow still negotiating gets every step, made with
 * the defaults (pump() leaves out those it then did not negotiate);
 * past TRIALS_MAX trials open, this one is dropped, counted.
 */
void
shadow_eom(struct session *s, struct child *c)
{
	struct shadow	*sh;
	struct trial	*t;
	struct replay	 r;
	int		 code;

	if ((sh = get(s, c)) == NULL)
		return;
	sh->in_msg = 0;
	if (sh->ntrials == TRIALS_MAX) {
		stats_add(&c->stats->trial_dropped, 1);
		return;
	}
	t = &sh->trials[sh->ntrials++];
	memset(t, 0, sizeof(*t));
	t->msg = sh->msg;
	t->trial = t->actual = -1;
	t->since = stats_now_us();
	/* Decided before: nothing more to give it. */
	if (sh->conn_v != -1 || sh->done_msg == sh->msg) {
		t->trial = sh->conn_v != -1 ? sh->conn_v : sh->done_v;
		return;
	}
	memset(&r, 0, sizeof(r));
	for (;;) {
		mbuf_reset(&s->out);
		if ((code = replay_packet(s, c, &r)) == 0)
			break;
		enqueue(s, c, (char)code);
		if (s->shadows == NULL || s->shadows[c->idx] == NULL)
			return;		/* dropped */
	}
	pump(s, c);
}

/* The message is over (ACT_MESSAGE_OVER): a shadow inside it is told. */
void
shadow_message_over(struct session *s)
{
	static const uint8_t	 abort_pkt[] = { 0, 0, 0, 1, SMFIC_ABORT };
	struct shadow		*sh;
	size_t			 i;

	for (i = 0; s->shadows != NULL && i < s->chain.nkids; i++) {
		if ((sh = s->shadows[i]) == NULL || !sh->in_msg)
			continue;
		sh->in_msg = 0;
		mbuf_reset(&s->out);
		mbuf_append(&s->out, abort_pkt, sizeof(abort_pkt));
		enqueue(s, &s->kids[i], SMFIC_ABORT);
		pump(s, &s->kids[i]);
	}
}

/*
 * The MTA was answered at end of message (real: its verdict): the
 * trials open for this message get it.
 */
void
shadow_answered(struct session *s, enum verdict real)
{
	struct shadow	*sh;
	struct trial	*t;
	size_t		 i;

	for (i = 0; s->shadows != NULL && i < s->chain.nkids; i++) {
		if ((sh = s->shadows[i]) == NULL ||
		    (t = trial_of(sh, sh->msg)) == NULL || t->actual != -1)
			continue;
		t->actual = real;
		settle(&s->kids[i], sh, t);
	}
}

/*
 * What was written leaves the queue, so that a shadow always behind
 * does not keep every byte it was ever given (the bound counts only
 * what is queued or unanswered).
 */
static void
compact(struct shadow *sh)
{
	size_t	i, off;

	if (sh->head == 0)
		return;
	if (sh->head == sh->npkts) {
		sh->head = sh->npkts = 0;
		mbuf_reset(&sh->q);
		return;
	}
	off = sh->pkts[sh->head].off;
	if (off < sh->q.len / 2)
		return;
	memmove(sh->q.data, sh->q.data + off, sh->q.len - off);
	sh->q.len -= off;
	memmove(sh->pkts, sh->pkts + sh->head, (sh->npkts - sh->head) *
	    sizeof(*sh->pkts));
	sh->npkts -= sh->head;
	sh->head = 0;
	for (i = 0; i < sh->npkts; i++)
		sh->pkts[i].off -= off;
}

/* Write what is queued, up to the next reply awaited. */
static void
pump(struct session *s, struct child *c)
{
	struct shadow		*sh = s->shadows[c->idx];
	struct shadow_pkt	*p;
	struct mbuf		 b;
	int			 wait;

	if (sh == NULL)
		return;		/* dropped */
	while (sh->head < sh->npkts && c->state == CHILD_READY &&
	    !sh->waiting) {
		p = &sh->pkts[sh->head++];
		/* Skipped: decided, or not a step it negotiated. */
		if (sh->conn_v != -1 || (sh->done_msg == p->msg &&
		    sh->done_v != -1) || (p->code == SMFIC_BODY &&
		    sh->skip_body == p->msg) ||
		    (p->code != SMFIC_ABORT && p->code != SMFIC_BODYEOB &&
		    !milter_cmd_sent(&c->eff, p->code))) {
			sh->held -= p->len;
			held_total -= p->len;
			continue;
		}
		b.data = sh->q.data + p->off;
		b.len = b.cap = p->len;
		b.err = 0;
		wait = p->code != SMFIC_ABORT &&
		    milter_cmd_replied(&c->eff, p->code);
		sh->inflight += p->len;
		child_send_mbuf(c, &b, p->code, wait);
		if (wait) {
			sh->at = *p;
			sh->waiting = 1;
		}
	}
	compact(sh);
	/* Nothing awaited: what was written is answered for. */
	if (!sh->waiting) {
		sh->held -= sh->inflight;
		held_total -= sh->inflight;
		sh->inflight = 0;
	}
	if (s->mta == NULL && !shadow_pending(s))
		event_active(s->resume, 0, 0);
}

/*
 * The child callbacks of a shadow (its struct child_ops): the chain
 * knows only that it negotiated, drained or failed; its replies and
 * modifications are its trials'.
 */

/* It negotiated: what was queued for it goes. */
static void
shadow_negotiated(void *arg, struct child *c)
{
	struct session	*s = arg;

	chain_negotiated(&s->chain, c->idx, &c->eff);
	if (get(s, c) != NULL)
		pump(s, c);
	session_run(s);
}

static struct trial *
trial_of(struct shadow *sh, uint32_t msg)
{
	size_t	i;

	for (i = 0; i < sh->ntrials; i++)
		if (sh->trials[i].msg == msg)
			return &sh->trials[i];
	return NULL;
}

/* Its verdict for message msg (connection-wide at connect, HELO). */
static void
decided(struct session *s, struct child *c, uint32_t msg, int v)
{
	struct shadow	*sh = s->shadows[c->idx];
	struct trial	*t;
	size_t		 i;

	if (sh->at.code == SMFIC_CONNECT || sh->at.code == SMFIC_HELO) {
		sh->conn_v = v;
		for (i = 0; i < sh->ntrials; )
			if (sh->trials[i].trial != -1)
				i++;
			else {
				sh->trials[i].trial = v;
				/* Closed: the last one took its place. */
				if (!settle(c, sh, &sh->trials[i]))
					i++;
			}
		return;
	}
	sh->done_msg = msg;
	sh->done_v = v;
	if ((t = trial_of(sh, msg)) != NULL && t->trial == -1) {
		t->trial = v;
		settle(c, sh, t);
	}
}

/*
 * Both verdicts known: counted (its latency, and its modifications if
 * it would have let the message pass), and the trial closed (1).
 */
static int
settle(struct child *c, struct shadow *sh, struct trial *t)
{
	size_t	i;

	if (t->trial != -1 && t->took == 0)
		t->took = stats_now_us() - t->since + 1;
	if (t->trial == -1 || t->actual == -1)
		return 0;
	stats_add(&c->stats->trial[t->trial][t->actual], 1);
	stats_hist_add(&c->stats->trial_latency, t->took - 1);
	if (t->trial == VERDICT_ACCEPT || t->trial == VERDICT_QUARANTINE)
		for (i = 0; i < NTRIAL_EDITS; i++)
			stats_add(&c->stats->trial_edits[i], t->edits[i]);
	sh->last = t->trial;
	*t = sh->trials[--sh->ntrials];
	return 1;
}

/* A final reply of the shadow, to the packet awaited. */
static void
shadow_replied(void *arg, struct child *c, char code, const char *text)
{
	struct session	*s = arg;
	struct shadow	*sh;
	struct trial	*t;
	int		 v;

	if (s->shadows == NULL || (sh = s->shadows[c->idx]) == NULL)
		return;
	sh->waiting = 0;
	sh->held -= sh->inflight;
	held_total -= sh->inflight;
	sh->inflight = 0;
	v = code == SMFIR_CONTINUE ? VERDICT_ACCEPT : verdict_of(code, text);
	if (sh->at.code == SMFIC_BODYEOB) {
		if ((t = trial_of(sh, sh->at.msg)) != NULL &&
		    t->trial == -1) {
			t->trial = t->quarantine && v == VERDICT_ACCEPT ?
			    VERDICT_QUARANTINE : v;
			settle(c, sh, t);
		}
	} else if (code == SMFIR_SKIP)
		sh->skip_body = sh->at.msg;
	/* A refused recipient is refused alone; the message goes on. */
	else if (sh->at.code != SMFIC_RCPT && code != SMFIR_CONTINUE &&
	    v != VERDICT_NONE)
		decided(s, c, sh->at.msg, v);
	pump(s, c);
}

/*
 * A modification from the shadow: legal only at end of message;
 * counted by kind for its trial, never applied.
 */
static const char *
shadow_edit(void *arg, struct child *c, char code, const void *pkt,
    size_t len)
{
	struct session	*s = arg;
	struct shadow	*sh;
	struct trial	*t;

	(void)pkt;
	(void)len;
	if (s->shadows == NULL || (sh = s->shadows[c->idx]) == NULL ||
	    !sh->waiting || sh->at.code != SMFIC_BODYEOB)
		return "is legal only at end of message";
	if ((t = trial_of(sh, sh->at.msg)) == NULL)
		return NULL;
	switch (code) {
	case SMFIR_ADDHEADER:
	case SMFIR_INSHEADER:
		t->edits[TRIAL_HEADERS_ADDED]++;
		break;
	case SMFIR_CHGHEADER:
		t->edits[TRIAL_HEADERS_CHANGED]++;
		break;
	case SMFIR_REPLBODY:
		t->edits[TRIAL_BODY_REPLACED] = 1;
		break;
	case SMFIR_ADDRCPT:
	case SMFIR_ADDRCPT_PAR:
	case SMFIR_DELRCPT:
		t->edits[TRIAL_RECIPIENTS_CHANGED]++;
		break;
	case SMFIR_QUARANTINE:
		t->quarantine = 1;
		break;
	default:
		break;
	}
	return NULL;
}

/*
 * Its queue and trials go: those without a verdict are counted as cut
 * (why: logged; NULL: already said).
 */
static void
drop_all(struct session *s, struct child *c, const char *why)
{
	struct shadow	*sh = s->shadows[c->idx];
	size_t		 i, open = 0;

	if (sh == NULL)
		return;
	for (i = 0; i < sh->ntrials; i++)
		open += sh->trials[i].trial == -1;
	if (open > 0)
		stats_add(&c->stats->trial_cut, open);
	if (why != NULL && open > 0)
		log_info("session %s: child %s (shadow): %s: %zu trial%s "
		    "cut", s->id, c->mc->name, why, open, open > 1 ? "s" : "");
	held_total -= sh->held;
	mbuf_free(&sh->q);
	free(sh->pkts);
	free(sh);
	s->shadows[c->idx] = NULL;
	/* Out for the session: nothing more is queued for it. */
	if (c->state != CHILD_FAILED && c->state != CHILD_IDLE) {
		c->state = CHILD_FAILED;
		child_close(c, 1);
		c->state = CHILD_FAILED;
	}
	if (s->mta == NULL && !shadow_pending(s))
		event_active(s->resume, 0, 0);
}

static void
shadow_drained(void *arg, struct child *c)
{
	struct session	*s = arg;

	chain_drained(&s->chain, c->idx);
	session_run(s);
}

/*
 * It failed (child.c logged and counted why): its trials are cut; the
 * mail never depended on it.
 */
static void
shadow_failed(void *arg, struct child *c)
{
	struct session	*s = arg;

	if (s->shadows != NULL && s->shadows[c->idx] != NULL)
		drop_all(s, c, "failed");
	chain_failed(&s->chain, c->idx);
	session_run(s);
}

const struct child_ops	shadow_ops = {
	shadow_negotiated,
	shadow_replied,
	shadow_edit,
	shadow_drained,
	shadow_failed,
};

/*
 * A milter's role in session id: a filter; or on trial (evaluation),
 * then only in its share of connections (evaluation_sample, as
 * milterctl may have changed it: sample_in()), and waited for or in
 * shadow (evaluation_wait).  -1: not in this session.
 */
int
shadow_role(const struct conf *conf, const struct milter_conf *mc,
    const char *id)
{
	if (!stats_effective(mc->evaluation, &mc->stats->evaluation))
		return ROLE_FILTER;
	if (!sample_in(conf->evaluation_seed, id,
	    stats_effective(mc->evaluation_sample, &mc->stats->sample)))
		return -1;
	return mc->evaluation_wait ? ROLE_EVALUATED : ROLE_SHADOW;
}

/* ACT_QUIT (connection over, K, the client gone, kept out). */
void
shadow_quit(struct session *s, struct child *c)
{
	if (s->shadows != NULL && s->shadows[c->idx] != NULL) {
		drop_all(s, c, "connection restarted");
		/* Not failed: a K starts it again. */
		c->state = CHILD_IDLE;
	}
	child_close(c, 1);
}

/*
 * Does a shadow still owe a verdict?  (What is queued for it without a
 * trial open teaches nothing: not waited for.)
 */
int
shadow_pending(const struct session *s)
{
	const struct shadow	*sh;
	size_t			 i, j;

	for (i = 0; s->shadows != NULL && i < s->chain.nkids; i++) {
		if ((sh = s->shadows[i]) == NULL)
			continue;
		for (j = 0; j < sh->ntrials; j++)
			if (sh->trials[j].trial == -1)
				return 1;
	}
	return 0;
}

/* The log line's: its last trial's verdict, or what became of it. */
const char *
shadow_verdict(const struct session *s, size_t i)
{
	const struct shadow	*sh;

	if (s->shadows == NULL || (sh = s->shadows[i]) == NULL)
		return s->kids[i].state == CHILD_FAILED ? "failed" : "none";
	return sh->last == -1 ? "none" : verdict_name(sh->last);
}

/* Every shadow's queue and trials go, those open counted as cut. */
static void
shadow_cut(struct session *s, const char *why)
{
	size_t	i;

	for (i = 0; s->shadows != NULL && i < s->chain.nkids; i++)
		if (s->shadows[i] != NULL)
			drop_all(s, &s->kids[i], why);
}

/* At the session's end: what is still open is cut. */
void
shadow_free(struct session *s)
{
	shadow_cut(s, "session freed");
	free(s->shadows);
	s->shadows = NULL;
}

/*
 * The worker needs the room a lingering session holds: its shadows'
 * open trials are cut (counted), and it ends now.
 */
void
shadow_yield(struct session *s)
{
	shadow_cut(s, "the worker needs its room (max_sessions)");
	session_log(s, s->end_why, s->end_error);
	s->host->done(s);
}

/*
 * The MTA's side is over (why, error: for the log line and counts, which
 * wait) while a shadow still works: the MTA and the filters are let go,
 * the session lingers until the shadows have their verdicts or fail, by
 * their own timeouts at the latest; then session_resume() ends it.
 */
void
shadow_linger(struct session *s, const char *why, int error)
{
	size_t	i;

	s->end_why = why;
	s->end_error = error;
	gettimeofday(&s->ended, NULL);
	conn_free(s->mta);
	s->mta = NULL;
	evtimer_del(s->idle);
	evtimer_del(s->progress);
	conncheck_cancel(&s->checking);
	dnsbl_free(s->dns);
	s->dns = NULL;
	s->check = CLIENT_UNCHECKED;
	s->wait_since = 0;
	for (i = 0; i < s->chain.nkids; i++)
		if (s->kids[i].ops != &shadow_ops)
			child_close(&s->kids[i], 1);
	s->host->lingers(s);
}
