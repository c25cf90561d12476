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
 * apply.c: which children apply to a session.  Conditions are decided
 * at the commands in each condition's stages (connect to DATA): a child
 * kept out of the connection or the message is told to the chain
 * (chain_keep_out()), which treats it the way it treats a child that
 * accepted; recipient conditions decide per recipient what a child is
 * shown (chain_rcpt()), and the chain at the end of the envelope
 * whether it takes part in the message.  Conditions on the message are
 * decided at end of message, for each child when the chain asks
 * (apply_eom()).  Conditions may have to wait
 * (apply_wait()): the dnsbl conditions' lookups are made at once
 * before the connect round, which waits for them; the lua conditions
 * a command decides are run by the worker's lookup threads, all at
 * once, before its round (luawait.c).
 */

#include <sys/types.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns.h"
#include "log.h"
#include "session.h"

static const char *cond_macro(void *, const char *);
static void	cond_each_macro(void *, void (*)(void *, const char *,
		    const char *), void *);
static void	cond_each_child(void *, void (*)(void *, const char *,
		    const char *), void *);
static void	cond_each_header(void *, void (*)(void *, const char *,
		    const char *), void *);
static void	cond_each_verdict(void *, void (*)(void *, const char *,
		    const char *), void *);
static void	cond_forget(struct session *);
static void	cond_last_forget(struct session *, char);
static int	cond_value(struct session *, size_t, const struct cond_view *);
static int	member_value(void *, const struct cond_ref *);
static int	dnsbl_needed(struct session *, size_t);
static int	child_reaches(const struct session *, size_t, size_t);
static int	stress_holds(const struct session *);
static void	held_names(const struct session *, size_t, char *, size_t);
static int	rcpt_holds(struct session *, struct child *,
		    const struct cond_view *);
static void	dnsbl_begin(struct session *, void (*)(struct session *));
static void	dnsbl_answered(void *, const char *,
		    const struct dns_answer *);
static void	dnsbl_timeout(evutil_socket_t, short, void *);
static void	dnsbl_end(struct session *);
static const struct dns_answer *dnsbl_answer(void *, const char *);
static void	eom_decide(struct session *);

/* A macro the MTA sent up to this command (the latest), for conditions. */
static const char *
cond_macro(void *arg, const char *name)
{
	struct session	*s = arg;

	return macros_latest(&s->mac, s->chain.cmd, name);
}

/* Every macro sent up to this command, the latest value of each. */
static void
cond_each_macro(void *arg, void (*fn)(void *, const char *, const char *),
    void *fnarg)
{
	struct session	*s = arg;

	macros_each(&s->mac, s->chain.cmd, fn, fnarg);
}

/* Each child's last verdict in this session ("none" before any). */
static void
cond_each_child(void *arg, void (*fn)(void *, const char *, const char *),
    void *fnarg)
{
	struct session	*s = arg;
	size_t		 i;

	for (i = 0; i < s->chain.nkids; i++)
		fn(fnarg, s->kids[i].mc->name,
		    chain_child_state(&s->chain.kids[i]));
}

/* The copy's headers as the next child gets them, values unindented. */
static void
cond_each_header(void *arg, void (*fn)(void *, const char *, const char *),
    void *fnarg)
{
	struct session	*s = arg;
	const char	*v;
	size_t		 i;

	for (i = 0; i < s->msg.nhdrs; i++) {
		v = s->msg.hdrs[i].value;
		fn(fnarg, s->msg.hdrs[i].name, v + strspn(v, " \t"));
	}
}

/* Each child's verdict in this message, those that gave one. */
static void
cond_each_verdict(void *arg, void (*fn)(void *, const char *, const char *),
    void *fnarg)
{
	struct session	*s = arg;
	const char	*v;
	size_t		 i;

	for (i = 0; i < s->chain.nkids; i++)
		if ((v = chain_msg_verdict(&s->chain.kids[i])) != NULL)
			fn(fnarg, s->kids[i].mc->name, v);
}

/* What a condition sees at cmd. */
void
apply_view(struct session *s, char cmd, struct cond_view *v)
{
	memset(v, 0, sizeof(*v));
	v->stage = cmd;
	v->id = s->id;
	v->family = s->family;
	v->client_addr = s->mac.client_addr;
	v->client_name = s->mac.client_name;
	v->helo = s->helo[0] != '\0' ? s->helo : NULL;
	v->sender = cmd == SMFIC_MAIL || cmd == SMFIC_RCPT || cmd ==
	    SMFIC_DATA || cmd == SMFIC_BODYEOB ? s->sender : NULL;
	v->rcpt = cmd == SMFIC_RCPT ? s->rcpt : NULL;
	v->recipients = (const char *)s->rcpts.data;
	/* At RCPT: those before this one. */
	v->recipients_len = cmd == SMFIC_RCPT ? s->rcpts_mark : s->rcpts.len;
	/* A sum over every worker: only for the stress conditions. */
	if ((cmd == SMFIC_CONNECT && cond_any(s->conf->conds,
	    s->conf->nconds, COND_STRESS)) || cond_any(s->conf->conds,
	    s->conf->nconds, COND_LUA))
		v->open_sessions = stats_sessions_open(stats);
	v->macro = cond_macro;
	v->each_macro = cond_each_macro;
	v->each_child = cond_each_child;
	v->dns = dnsbl_answer;
	v->arg = s;
	if (cmd == SMFIC_BODYEOB) {
		v->size = message_size(&s->msg);
		v->each_header = cond_each_header;
		v->each_verdict = cond_each_verdict;
	}
}

/* A new decision: no condition's result carries over. */
static void
cond_forget(struct session *s)
{
	size_t	i;

	for (i = 0; i < s->conf->nconds; i++)
		s->cond_result[i] = -2;		/* not decided yet */
}

/* What a group's member is: the session and the view at work. */
struct member_arg {
	struct session		*s;
	const struct cond_view	*v;
};

/*
 * A condition's value at this command (1, 0, -1: cannot tell), once a
 * command (a recipient): a script runs once for all.  A condition is
 * decided at its own stages; at a later stage (a group's) it is its
 * latest value, and one not decided yet does not hold.  A group is
 * its members' (cond_group_eval()).
 */
static int
cond_value(struct session *s, size_t idx, const struct cond_view *v)
{
	const struct cond	*c = &s->conf->conds[idx];
	struct member_arg	 ma = { s, v };
	int			*r = &s->cond_result[idx];
	int			*last = &s->cond_last[idx];

	if (*r != -2)
		return *r;
	if (cond_is_group(c))
		*r = cond_group_eval(c, member_value, &ma);
	else if (c->stages & cond_at(v->stage))
		*r = cond_eval(c, v);
	else
		return *last == -2 ? 0 : *last;
	/* A recipient's: once it held for one, for the message. */
	if (!(v->stage == SMFIC_RCPT && *last == 1))
		*last = *r;
	return *r;
}

static int
member_value(void *arg, const struct cond_ref *ref)
{
	struct member_arg	*ma = arg;

	return cond_value(ma->s, ref->idx, ma->v);
}

/*
 * Does the condition hold?  One that cannot tell (a script's error)
 * comes out as the milter's condition_error says: applied or skipped.
 */
int
apply_holds(struct session *s, const struct child *c,
    const struct cond_ref *ref, const struct cond_view *v)
{
	int	holds = cond_value(s, ref->idx, v);

	if (holds == -1)
		return !c->mc->skip_on_error;
	return holds == !ref->negate;
}

/*
 * The latest values a new connection (connect) or a new message (MAIL:
 * those decided from MAIL on, and those decided per recipient, whose
 * value is the message's) no longer has.
 */
static void
cond_last_forget(struct session *s, char cmd)
{
	const unsigned int	 conn = cond_at(SMFIC_CONNECT) |
				    cond_at(SMFIC_HELO);
	unsigned int		 st;
	size_t			 i;

	for (i = 0; i < s->conf->nconds; i++) {
		st = s->conf->conds[i].stages;
		if (cmd == SMFIC_CONNECT || (cmd == SMFIC_MAIL &&
		    (!(st & conn) || (st & cond_at(SMFIC_RCPT)))))
			s->cond_last[i] = -2;
	}
}

/*
 * The conditions this command decides (their stages): a child for
 * which one does not hold is kept out of the connection (decided at
 * connect or HELO) or of this message (at MAIL or DATA), as the chain
 * says (chain_keep_out()).  At RCPT, rcpt_holds() decides for each
 * recipient whether the child is shown it.
 */
void
apply_conditions(struct session *s, char cmd)
{
	struct cond_view	 v;
	const struct cond_ref	*ref;
	struct child		*c;
	size_t			 i, j;

	apply_view(s, cmd, &v);
	cond_last_forget(s, cmd);
	/* A group's members at their own stages, for its later one. */
	for (i = 0; i < s->conf->nconds; i++)
		if (s->conf->conds[i].grouped &&
		    (s->conf->conds[i].stages & cond_at(cmd)))
			(void)cond_value(s, i, &v);
	for (i = 0; i < s->chain.nkids; i++) {
		c = &s->kids[i];
		if (!chain_open(&s->chain, i, cmd))
			continue;
		if (cmd == SMFIC_RCPT) {
			chain_rcpt(&s->chain, i, rcpt_holds(s, c, &v));
			continue;
		}
		for (j = 0; j < c->mc->nconds; j++) {
			ref = &c->mc->conds[j];
			if (!(s->conf->conds[ref->idx].stages & cond_at(cmd)) ||
			    apply_holds(s, c, ref, &v))
				continue;
			stats_add(&c->stats->stopped, 1);
			log_debug("session %s: child %s: condition %s%s does "
			    "not hold: not applied to this %s", s->id,
			    c->mc->name, ref->negate ? "!" : "",
			    s->conf->conds[ref->idx].name, cmd ==
			    SMFIC_CONNECT || cmd == SMFIC_HELO ? "connection" :
			    "message");
			chain_keep_out(&s->chain, i, ref);
			break;
		}
	}
}

/*
 * End of message, child i's turn (ACT_DECIDE): its conditions on the
 * message, on the copy as the children before it left it (each child
 * its own, so no result carries over from the last).  Its lua ones are
 * asked of the lookup threads first, as at the other commands; then
 * eom_decide().
 */
void
apply_eom(struct session *s, size_t i)
{
	cond_forget(s);
	if (luawait_prepare(s, eom_decide))
		luawait_eom(s, i);
	else
		eom_decide(s);
}

/*
 * The first of the deciding child's conditions on the message that
 * does not hold keeps it out: the chain tells it abort and counts it as
 * stopped.  The child is the chain's at work (pos) while it waits.
 */
static void
eom_decide(struct session *s)
{
	struct cond_view	 v;
	const struct cond_ref	*ref, *out = NULL;
	size_t			 i = s->chain.pos, j;
	struct child		*c = &s->kids[i];

	apply_view(s, SMFIC_BODYEOB, &v);
	for (j = 0; j < c->mc->nconds && out == NULL; j++) {
		ref = &c->mc->conds[j];
		if ((s->conf->conds[ref->idx].stages & COND_EOM) &&
		    !apply_holds(s, c, ref, &v))
			out = ref;
	}
	if (out != NULL)
		log_debug("session %s: child %s: condition %s%s does not hold "
		    "at end of message (%llu bytes): not applied to this "
		    "message", s->id, c->mc->name, out->negate ? "!" : "",
		    s->conf->conds[out->idx].name,
		    (unsigned long long)v.size);
	chain_eom_decided(&s->chain, i, out);
	session_run(s);
}

/*
 * dnsbl conditions: before the connect round, the names they look at
 * are looked up (or found in the worker's cache), all at once; the
 * round begins when every answer is in or the longest timeout of
 * those conditions has passed (no answer: not listed, logged).
 */
struct dns_wait {
	struct session	*s;
	void		(*done)(struct session *);	/* when all are in */
	struct event	*timer;
	size_t		 n;
	size_t		 pending;
	struct dns_name {
		char			 name[DNSBL_NAME_MAX];
		struct dns_answer	 ans;
		struct dns_query	*q;	/* NULL: answered */
	} names[];
};

/*
 * Before the conditions at the command at work are decided, the
 * lookups they need, then done(s); the chain waits meanwhile (its
 * conditions are pending).  The dnsbl conditions' lookups, at connect,
 * then the lua conditions' (luawait.c); any condition that must wait
 * for something starts it here.
 */
void
apply_wait(struct session *s, void (*done)(struct session *))
{
	cond_forget(s);
	if (!luawait_prepare(s, done)) {
		if (s->chain.cmd == SMFIC_CONNECT)
			dnsbl_begin(s, done);
		else
			done(s);
	} else if (s->chain.cmd == SMFIC_CONNECT)
		dnsbl_begin(s, luawait_command);
	else
		luawait_command(s);
}

/*
 * The DNS lookups the dnsbl conditions of the session's children need,
 * all at once, before the connect round: done(s) once they are in, or
 * the longest timeout passed (at once when nothing is to be looked up).
 */
static void
dnsbl_begin(struct session *s, void (*done)(struct session *))
{
	const struct cond	*cond;
	struct dns_wait		*w;
	struct timeval		 tv = { 0, 0 };
	char			 name[DNSBL_NAME_MAX];
	size_t			 i, k, n, max = 0;

	dnsbl_free(s->dns);	/* the last connection's, after K */
	s->dns = NULL;
	for (i = 0; i < s->conf->nconds; i++)
		if (s->conf->conds[i].type == COND_DNSBL)
			max += s->conf->conds[i].nzones;
	if (max == 0 || (w = calloc(1, sizeof(*w) + max *
	    sizeof(w->names[0]))) == NULL) {
		if (max > 0)
			log_warn("session %s: dnsbl", s->id);
		done(s);
		return;
	}
	w->s = s;
	w->done = done;
	for (i = 0; i < s->conf->nconds; i++) {
		cond = &s->conf->conds[i];
		if (cond->type != COND_DNSBL || !dnsbl_needed(s, i))
			continue;
		for (k = 0; k < cond->nzones; k++) {
			if (cond_dnsbl_name(s->mac.client_addr,
			    cond->zones[k].zone, name, sizeof(name)) == -1)
				continue;
			for (n = 0; n < w->n && strcmp(w->names[n].name, name) !=
			    0; n++)
				;
			if (n == w->n)
				strlcpy(w->names[w->n++].name, name,
				    sizeof(name));
			if (cond->timeout > tv.tv_sec)
				tv.tv_sec = cond->timeout;
		}
	}
	s->dns = w;
	for (n = 0; n < w->n; n++) {
		if (dns_cached(w->names[n].name, &w->names[n].ans))
			continue;
		if ((w->names[n].q = dns_query(w->names[n].name,
		    dnsbl_answered, w)) == NULL) {
			log_warnx("session %s: dnsbl: cannot look %s up", s->id,
			    w->names[n].name);
			w->names[n].ans.naddr = -1;
		} else
			w->pending++;
	}
	if (w->pending == 0) {
		done(s);
		return;
	}
	if ((w->timer = evtimer_new(s->base, dnsbl_timeout, s)) == NULL ||
	    evtimer_add(w->timer, &tv) == -1)
		fatalx("%s: cannot set a timer", __func__);
}

static void
dnsbl_answered(void *arg, const char *name, const struct dns_answer *ans)
{
	struct dns_wait	*w = arg;
	size_t		 n;

	for (n = 0; n < w->n; n++)
		if (w->names[n].q != NULL && strcmp(w->names[n].name, name) ==
		    0) {
			w->names[n].q = NULL;
			w->names[n].ans = *ans;
			log_debug("session %s: dnsbl: %s: %d answers",
			    w->s->id, name, ans->naddr);
			if (--w->pending == 0)
				dnsbl_end(w->s);
			return;
		}
}

static void
dnsbl_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct session	*s = arg;
	size_t		 n;

	(void)fd;
	(void)what;
	for (n = 0; n < s->dns->n; n++)
		if (s->dns->names[n].q != NULL) {
			log_warnx("session %s: dnsbl: %s: no answer in time, "
			    "taken as not listed", s->id, s->dns->names[n].name);
			dns_cancel(s->dns->names[n].q);
			s->dns->names[n].q = NULL;
			s->dns->names[n].ans.naddr = -1;
		}
	s->dns->pending = 0;
	dnsbl_end(s);
}

static void
dnsbl_end(struct session *s)
{
	event_del(s->dns->timer);
	s->dns->done(s);
}

void
dnsbl_free(struct dns_wait *w)
{
	size_t	n;

	if (w == NULL)
		return;
	for (n = 0; n < w->n; n++)
		if (w->names[n].q != NULL)
			dns_cancel(w->names[n].q);
	if (w->timer != NULL)
		event_free(w->timer);
	free(w);
}

/* Does a child in the connection decide condition idx, in a group too? */
static int
dnsbl_needed(struct session *s, size_t idx)
{
	size_t	i;

	for (i = 0; i < s->chain.nkids; i++)
		if (s->chain.kids[i].scope == SCOPE_IN &&
		    child_reaches(s, i, idx))
			return 1;
	return 0;
}

/* Is condition idx one of child i's, or a member of one of its groups? */
static int
child_reaches(const struct session *s, size_t i, size_t idx)
{
	const struct milter_conf	*mc = s->kids[i].mc;
	size_t				 j;

	for (j = 0; j < mc->nconds; j++)
		if (cond_reaches(s->conf->conds, mc->conds[j].idx, idx))
			return 1;
	return 0;
}

/* Does one of the stress conditions configured hold now? */
static int
stress_holds(const struct session *s)
{
	const struct cond	*c;
	uint64_t		 open = 0;
	size_t			 i;
	int			 asked = 0;

	for (i = 0; i < s->conf->nconds; i++) {
		c = &s->conf->conds[i];
		if (c->type != COND_STRESS)
			continue;
		if (!asked++)
			open = stats_sessions_open(stats);
		if (open > c->threshold)
			return 1;
	}
	return 0;
}

/*
 * The names of child i's conditions, and of their groups' members,
 * that held when last decided (in the file's order, a blank between).
 */
static void
held_names(const struct session *s, size_t i, char *buf, size_t len)
{
	size_t	idx, at = 0, n;

	buf[0] = '\0';
	for (idx = 0; idx < s->conf->nconds; idx++) {
		if (s->cond_last[idx] != 1 || !child_reaches(s, i, idx))
			continue;
		n = strlen(s->conf->conds[idx].name);
		if (at + n + 2 > len)
			break;		/* cut at a name */
		snprintf(buf + at, len - at, "%s%s", at > 0 ? " " : "",
		    s->conf->conds[idx].name);
		at += n + (at > 0);
	}
}

/*
 * The macros milterd adds to child i's D packet for cmd (at b + start,
 * made when the MTA sent none): its macros_add at connect, the derived
 * {milterd_stress} at connect and {milterd_conditions} at each stage
 * from connect to DATA (libmilter reads the latest stage's first).
 */
void
apply_macros(struct session *s, size_t i, char cmd, struct mbuf *b,
    size_t start)
{
	const struct milter_conf	*mc = s->kids[i].mc;
	const char			*e, *eq;
	char				 name[128], held[1024];
	size_t				 j;
	int				 st = milter_stage(cmd);

	if (st < COND_FIRST || st > COND_LAST)
		return;
	for (j = 0; j < mc->nmacros_add; j++) {
		e = mc->macros_add[j];
		if (strcmp(e, "{milterd_conditions}") == 0) {
			held_names(s, i, held, sizeof(held));
			macros_extra(b, start, cmd, e, held);
		} else if (cmd != SMFIC_CONNECT)
			continue;
		else if (strcmp(e, "{milterd_stress}") == 0)
			macros_extra(b, start, cmd, e, stress_holds(s) ? "yes" :
			    "no");
		else if ((eq = strchr(e, '=')) != NULL &&
		    (size_t)(eq - e) < sizeof(name)) {
			memcpy(name, e, (size_t)(eq - e));
			name[eq - e] = '\0';
			macros_extra(b, start, cmd, name, eq + 1);
		}
	}
}

/* The answer for name, for the dnsbl conditions; NULL: not asked. */
static const struct dns_answer *
dnsbl_answer(void *arg, const char *name)
{
	struct session	*s = arg;
	size_t		 n;

	for (n = 0; s->dns != NULL && n < s->dns->n; n++)
		if (strcmp(s->dns->names[n].name, name) == 0)
			return &s->dns->names[n].ans;
	return NULL;
}

/* Do the child's recipient conditions all hold for s->rcpt? */
static int
rcpt_holds(struct session *s, struct child *c, const struct cond_view *v)
{
	const struct cond_ref	*ref;
	size_t			 j;

	for (j = 0; j < c->mc->nconds; j++) {
		ref = &c->mc->conds[j];
		if ((s->conf->conds[ref->idx].stages & cond_at(SMFIC_RCPT)) &&
		    !apply_holds(s, c, ref, v))
			return 0;
	}
	return 1;
}
