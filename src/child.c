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
 * child.c: one connection to a child milter, milterd being the MTA.
 *
 * child_start() connects and negotiates (within connect_timeout);
 * child_send_mbuf() writes commands and, when a reply is due, arms the
 * command or end-of-message timer.  Replies are checked here: progress
 * restarts the timer, modifications are legal only at end of message
 * and only if negotiated (they are kept in c->edits until the final
 * reply), anything unsolicited or malformed fails the child.  A failed
 * child is closed, logged once with its name and the stage, and its
 * configured fallback stands in for the reply the session awaits.
 *
 * Each address of a child has a health shared by all workers
 * (health.c): a session takes the first address up (failover) or the
 * next one up (round-robin), moves on to another when one fails to
 * connect or negotiate, and when none is up it does not try the child
 * at all: child_start() fails at once (child_skip()), and its fallback
 * stands in as for any failure.
 *
 * A child that refuses the connection (or hangs up during negotiation)
 * may just not be running: if it has a command, the launcher is asked
 * to start it and the connection is retried every RETRY_MS until
 * launch_wait has passed, so the session that found it down still gets
 * its verdict.
 */

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "child.h"
#include "log.h"
#include "chain.h"
#include "dns.h"
#include "health.h"
#include "pool.h"
#include "util.h"

#define RETRY_MS	250
/* What a reused connection was sent is kept for a retry up to this. */
#define RESEND_MAX	65536
/*
 * Protocol flags only a negotiate callback asks for: libmilter alone
 * derives the rest (SMFIP_NO*) from the callbacks registered.
 */
#define REMEMBERED	(SMFIP_SKIP | SMFIP_HDR_LEADSPC | SMFIP_RCPT_REJ | \
			    SMFIP_NR_MASK)

static void	child_read(struct conn *, void *);
static void	child_event(struct conn *, int, int, void *);
static void	child_timeout(evutil_socket_t, short, void *);
static void	child_arm(struct child *, int);
static void	child_arm_ms(struct child *, int);
static void	child_unreachable(struct child *, int, const char *);
static void	keep_lists(struct child *);
static void	forget_lists(struct child *);
static void	access_hint(const struct child *, char *, size_t);
static void	child_negotiated(struct child *, const struct milter_reply *);
static int	child_reply(struct child *, const struct milter_pkt *);
static const char *child_stage(const struct child *);
static void	child_timed(struct child *, char);
static void	child_health(const struct child *, size_t,
		    struct health_conf *);
static int	child_pick(struct child *);
static int	child_next_addr(struct child *, const char *);
static void	child_skip(struct child *);
static void	child_connect(struct child *, const struct sockspec *);
static void	child_connected(struct child *);
static void	child_answered(struct child *, const struct dns_answer *);
static void	child_resolved(void *, const char *,
		    const struct dns_answer *);
static void	child_drop(struct child *);
static int	child_reuse(struct child *);
static int	child_keep(struct child *);
static int	child_keepable(struct child *);
static void	child_refresh(struct child *, const char *);
static void	child_resume(struct child *);
static int	same_optneg(const struct milter_optneg *,
		    const struct milter_optneg *);

/* A reply to cmd came: its time counts for the child and the session. */
static void
child_timed(struct child *c, char cmd)
{
	uint64_t	us = stats_now_us() - c->sent_us;
	int		stage = milter_stage(cmd);

	c->wait_us += us;
	if (stage != -1)
		stats_time(c->stats, (enum stage)stage, us);
}

/* Where the child is, for log lines. */
static const char *
child_stage(const struct child *c)
{
	switch (c->state) {
	case CHILD_CONNECTING:
		return "connect";
	case CHILD_NEGOTIATING:
		return "negotiation";
	case CHILD_WAITING:
		return milter_code_name(c->cmd);
	default:
		if (c->stalled)
			return "replay";
		/* Answered, and the session not past that command yet. */
		if (c->cmd != 0 && c->link->at == c->cmd)
			return milter_code_name(c->cmd);
		return "between commands";
	}
}

int
child_live(const struct child *c)
{
	return c->state == CHILD_READY || c->state == CHILD_WAITING;
}

static void
child_arm_ms(struct child *c, int ms)
{
	struct timeval	tv = { ms / 1000, (ms % 1000) * 1000 };

	if (c->timer == NULL &&
	    (c->timer = evtimer_new(c->link->base, child_timeout, c)) == NULL)
		fatal("%s: evtimer_new", __func__);
	evtimer_add(c->timer, &tv);
}

static void
child_arm(struct child *c, int seconds)
{
	child_arm_ms(c, seconds * 1000);
}

/*
 * The replay waits for the child to read down to mark bytes queued:
 * as long as it would for a reply.
 */
void
child_wait_drain(struct child *c, size_t mark)
{
	c->stalled = 1;
	child_arm(c, c->mc->command_timeout);
	conn_notify_drained(c->conn, mark);
}

/*
 * The child did not answer the door: ask for a launch and retry, or
 * fail.  err is the errno, 0 for a hang-up.
 */
static void
child_unreachable(struct child *c, int err, const char *what)
{
	const char	*refused;
	time_t		 now = time(NULL);

	if ((err == ECONNREFUSED || err == ENOENT || err == ECONNRESET ||
	    err == 0) && (c->launch_until == 0 || now < c->launch_until) &&
	    c->link->launcher->launch(c->mc) == 0) {
		if (c->launch_until == 0)
			c->launch_until = now + c->link->launch_wait;
		conn_free(c->conn);
		c->conn = NULL;
		c->state = CHILD_CONNECTING;
		c->retrying = 1;
		child_arm_ms(c, RETRY_MS);
		return;
	}
	refused = c->link->launcher->refused(c->mc);
	child_fail(c, "%s%s%s%s", what, c->launch_until != 0 ?
	    "; still down after a launch request" : "", refused != NULL ?
	    "; launch refused: " : "", refused != NULL ? refused : "");
}

/*
 * Permission denied on a child's unix socket: the workers' user needs
 * write permission on it (its group, usually) and search permission on
 * the directories above it.  Names the user the worker runs as and the
 * socket's group and mode when they can be seen, and what to change.
 */
static void
access_hint(const struct child *c, char *buf, size_t len)
{
	const struct sockaddr_un	*sun = (const struct sockaddr_un *)
					    &c->mc->sock[c->addr].ss;
	struct passwd			*pw;
	struct group			*gr;
	struct stat			 st;
	char				 user[64], group[64];

	if ((pw = getpwuid(geteuid())) != NULL)
		strlcpy(user, pw->pw_name, sizeof(user));
	else
		snprintf(user, sizeof(user), "uid %lu",
		    (unsigned long)geteuid());
	if (stat(sun->sun_path, &st) == -1) {
		snprintf(buf, len, " (the workers run as %s, and cannot "
		    "look into a directory above the socket: let %s search "
		    "it)", user, user);
		return;
	}
	if ((gr = getgrgid(st.st_gid)) != NULL)
		strlcpy(group, gr->gr_name, sizeof(group));
	else
		snprintf(group, sizeof(group), "%lu", (unsigned long)st.st_gid);
	snprintf(buf, len, " (the workers run as %s, and the socket is "
	    "group %s, mode %04o: add %s to group %s, then restart milterd, "
	    "or give the socket's group write permission)", user, group,
	    (unsigned int)(st.st_mode & 07777), user, group);
}

/*
 * Is errno err milterd's own exhaustion (descriptors, memory, buffers)
 * rather than the child's failure?
 */
int
child_exhaustion(int err)
{
	return err == EMFILE || err == ENFILE || err == ENOBUFS ||
	    err == ENOMEM;
}

/* Address i's settings for health.c. */
static void
child_health(const struct child *c, size_t i, struct health_conf *hc)
{
	hc->child = c->mc->name;
	hc->addr = c->mc->sock[i].text;
	hc->failures_to_down = c->mc->failures_to_down;
	hc->down_time = c->mc->down_time;
	/* Time for its connection, launch included, and a second. */
	hc->probe_us = ((uint64_t)c->mc->connect_timeout +
	    (uint64_t)c->link->launch_wait + 1) * 1000000;
	hc->changes = &c->stats->state_changes;
}

/*
 * The address the session tries next, of those it has not tried, as
 * balance says: 0, or -1 when every one is down (or tried).
 */
static int
child_pick(struct child *c)
{
	struct health_conf	 hc;
	enum health_try		 t;
	uint64_t		 now = stats_now_us();
	size_t			 i, a, n = c->mc->nsock, start = 0;

	if (c->mc->balance == BALANCE_ROUND_ROBIN && c->tried == 0)
		start = __atomic_fetch_add(&c->stats->next_addr, 1,
		    __ATOMIC_RELAXED) % n;
	for (i = 0; i < n; i++) {
		a = (start + i) % n;
		if (c->tried & (1U << a))
			continue;
		child_health(c, a, &hc);
		if ((t = health_admit(&c->stats->health[a], &hc, now)) ==
		    HEALTH_SKIP)
			continue;
		c->addr = a;
		c->tried |= 1U << a;
		c->probe = t == HEALTH_PROBE;
		c->launch_until = 0;
		return 0;
	}
	return -1;
}

/*
 * Address c->addr failed to connect or negotiate (what): counted
 * against it, and the session moves on to another address up, if
 * there is one (1); 0 if not.
 */
static int
child_next_addr(struct child *c, const char *what)
{
	struct health_conf	 hc;
	size_t			 was = c->addr;

	child_health(c, was, &hc);
	health_failed(&c->stats->health[was], &hc, stats_now_us(), c->probe,
	    what);
	c->probe = 0;
	if (c->mc->nsock == 1 || child_pick(c) == -1)
		return 0;
	log_warnx("session %s: child %s: %s; trying %s", c->link->id,
	    c->mc->name, what, c->mc->sock[c->addr].text);
	if (c->conn != NULL) {
		conn_free(c->conn);
		c->conn = NULL;
	}
	if (c->dnsq != NULL) {	/* timed out while resolving */
		dns_cancel(c->dnsq);
		c->dnsq = NULL;
	}
	c->retrying = 1;	/* the same wait, for the sessions' times */
	child_start(c);
	return 1;
}

/*
 * A session's connection to the child: the address balance picks, its
 * host name (inet:) resolved first, from the cache or asked (dns.c:
 * kept for its TTL), so that a child that moved, or started later, is
 * found.  Without a resolver, the address found at load.
 */
void
child_start(struct child *c)
{
	const struct sockspec	*sp;
	struct dns_answer	 ans;

	if (!c->retrying) {
		c->tried = 0;
		c->skipped = 0;
		if (child_reuse(c) == 0)
			return;
		if (child_pick(c) == -1) {
			child_skip(c);
			return;
		}
	}
	sp = &c->mc->sock[c->addr];
	c->state = CHILD_CONNECTING;
	if (!c->retrying)
		c->sent_us = stats_now_us();
	c->retrying = 0;
	child_arm(c, c->mc->connect_timeout);
	if (sp->host[0] == '\0' || sp->ss.ss_family != AF_INET)
		child_connect(c, sp);
	else if (dns_cached(sp->host, &ans))
		child_answered(c, &ans);
	else if ((c->dnsq = dns_query(sp->host, child_resolved, c)) == NULL)
		child_connect(c, sp);
}

/*
 * reuse_connections: a connection the worker kept (pool.c), negotiated
 * with the same offer, if there is one and its address is not down:
 * the child is ready at once, without negotiating (0).  -1: connect.
 */
static int
child_reuse(struct child *c)
{
	struct pool_conn	pc;
	size_t			i;

	if (!c->mc->reuse || c->refreshing || pool_take(c->link->pool, c->mc,
	    c->link->offered, &pc) == -1)
		return -1;
	if (pc.addr >= c->mc->nsock ||
	    health_state(&c->stats->health[pc.addr]) == HEALTH_DOWN) {
		pool_conn_free(&pc);
		return -1;
	}
	c->conn = pc.conn;
	conn_rebind(c->conn, child_read, child_event, c);
	c->addr = pc.addr;
	c->tried = 1U << pc.addr;
	c->probe = 0;
	c->eff = pc.eff;
	for (i = 0; i < SMFIM_COUNT; i++) {
		c->lists[i] = pc.lists[i];
		c->eff.macros[i] = c->lists[i];
	}
	c->leadspc = (c->eff.protocol & SMFIP_HDR_LEADSPC) != 0;
	c->state = CHILD_READY;
	c->reused = 1;
	c->owed = pc.owed;
	mbuf_reset(&c->resend);
	stats_add(&c->stats->reused, 1);
	log_debug("session %s: child %s: kept connection to %s reused "
	    "(version %u actions 0x%x protocol 0x%x)", c->link->id,
	    c->mc->name, c->mc->sock[c->addr].text, c->eff.version,
	    c->eff.actions, c->eff.protocol);
	c->ops->negotiated(c->link->arg, c);
	return 0;
}

/*
 * Can this child's connection be reused at all (child_keep())?  Said
 * once per worker and child when not, for reuse_connections does not
 * take effect.
 */
static int
child_keepable(struct child *c)
{
	static const struct milter_conf	*said[CONF_MAX_MILTERS];
	const char			*why = NULL;
	size_t				 i;

	if (c->eff.protocol & SMFIP_NOCONNECT)
		why = "it asked not to see connect";
	else if (c->eff.protocol & REMEMBERED)
		why = "its negotiation shows a negotiate callback (skip, "
		    "leading spaces or no-reply steps), whose results a "
		    "milter keeps in the context K ends";
	if (why == NULL)
		return 1;
	for (i = 0; i < CONF_MAX_MILTERS && said[i] != NULL; i++)
		if (said[i] == c->mc)
			return 0;
	if (i < CONF_MAX_MILTERS)
		said[i] = c->mc;
	log_info("child %s: reuse_connections: its connections are not "
	    "kept: %s", c->mc->name, why);
	return 0;
}

/*
 * reuse_connections, at the end of the child's part: a child between
 * commands is told K (quit, a new connection follows) and its
 * connection is left to the worker for the next session (0: c->conn
 * is gone either way).  -1: not to be kept (not on, not between
 * commands, the pool full): nothing sent.
 *
 * libmilter takes K only right after an end of message it let
 * continue, or after an unknown command (its state table): anywhere
 * else it ignores K and then the next connect, and the next session
 * would wait for a reply that never comes.  So unless the child is
 * just past such an end of message, it is told U (an unknown command,
 * "NOOP") first, after an abort if it is inside a message; the session
 * that takes the connection skips U's answer.  Only a child that asked
 * not to see unknown commands (SMFIP_NOUNKNOWN: libmilter answers U for
 * it, no callback runs) is told U; one that handles them is kept only
 * past such an end of message, so that it never sees a command its MTA
 * would not have sent.
 *
 * A child that asked not to see connect (SMFIP_NOCONNECT) is not kept:
 * after K it would see no command that starts a connection, and
 * pymilter, for one, makes a connection's state at negotiation or at
 * connect only (and drops it at K).
 *
 * Nor is one whose negotiation shows a negotiate callback (libmilter's
 * xxfi_negotiate, see REMEMBERED): libmilter runs the milter's close
 * callback at K, and the next connect starts a new context in which
 * nothing was negotiated.  OpenDKIM, for one, keeps there whether it
 * may insert headers and whether header values carry their leading
 * space, and signs otherwise on a reused connection.
 */
static int
child_keep(struct child *c)
{
	static const uint8_t	 a[] = { 0, 0, 0, 1, SMFIC_ABORT };
	static const uint8_t	 u[] = { 0, 0, 0, 6, SMFIC_UNKNOWN,
				    'N', 'O', 'O', 'P', 0 };
	static const uint8_t	 k[] = { 0, 0, 0, 1, SMFIC_QUIT_NC };
	struct pool_conn	 pc;
	size_t			 i;

	if (!c->mc->reuse || c->state != CHILD_READY || c->stalled ||
	    c->refreshing || !child_keepable(c) ||
	    (!c->endm && !(c->eff.protocol & SMFIP_NOUNKNOWN)) ||
	    !pool_room(c->link->pool, c->mc))
		return -1;
	memset(&pc, 0, sizeof(pc));
	if (!c->endm) {
		if (c->in_msg)
			conn_write(c->conn, a, sizeof(a));
		conn_write(c->conn, u, sizeof(u));
		pc.owed = !(c->eff.protocol & SMFIP_NR_UNKN);
	}
	conn_write(c->conn, k, sizeof(k));
	pc.conn = c->conn;
	pc.addr = c->addr;
	pc.eff = c->eff;
	for (i = 0; i < SMFIM_COUNT; i++)
		pc.lists[i] = c->lists[i];
	if (pool_put(c->link->pool, c->mc, c->link->offered, &pc) == -1) {
		conn_free(c->conn);	/* told K: it expects no more */
		c->conn = NULL;
		return 0;
	}
	c->conn = NULL;
	for (i = 0; i < SMFIM_COUNT; i++) {
		c->lists[i] = NULL;
		c->eff.macros[i] = NULL;
	}
	return 0;
}

/*
 * A kept connection failed while the child owed its first reply on it:
 * the milter may have closed it meanwhile (restarted, or its own idle
 * timeout).  Once, a fresh connection: negotiated, it is sent what the
 * kept one was (child_resume()), and the fallback applies only if that
 * fails too.
 */
static void
child_refresh(struct child *c, const char *why)
{
	size_t	i;

	log_info("session %s: child %s: kept connection: %s; trying a "
	    "fresh one", c->link->id, c->mc->name, why);
	c->kept = c->eff;
	for (i = 0; i < SMFIM_COUNT; i++) {
		free(c->kept_lists[i]);
		c->kept_lists[i] = c->lists[i];
		c->kept.macros[i] = c->kept_lists[i];
		c->lists[i] = NULL;
		c->eff.macros[i] = NULL;
	}
	c->resend_wait = 1;
	c->reused = 0;
	c->owed = 0;
	c->refreshing = 1;
	conn_free(c->conn);
	c->conn = NULL;
	c->launch_until = 0;
	c->state = CHILD_IDLE;
	child_start(c);
}

/* Did two negotiations of a child agree (the kept and the fresh)? */
static int
same_optneg(const struct milter_optneg *a, const struct milter_optneg *b)
{
	size_t	i;

	if (a->version != b->version || a->actions != b->actions ||
	    a->protocol != b->protocol)
		return 0;
	for (i = 0; i < SMFIM_COUNT; i++)
		if ((a->macros[i] == NULL) != (b->macros[i] == NULL) ||
		    (a->macros[i] != NULL && strcmp(a->macros[i],
		    b->macros[i]) != 0))
			return 0;
	return 1;
}

/*
 * The fresh connection of child_refresh() negotiated: if as the kept
 * one did (what the session answered the MTA relies on it), it is
 * sent what the kept one was, and awaited as it was.
 */
static void
child_resume(struct child *c)
{
	int	same = same_optneg(&c->kept, &c->eff);
	size_t	i;

	for (i = 0; i < SMFIM_COUNT; i++) {
		free(c->kept_lists[i]);
		c->kept_lists[i] = NULL;
	}
	c->refreshing = 0;
	if (!same) {
		child_fail(c, "a fresh connection negotiated otherwise than "
		    "the kept one (has the milter changed? milterctl reload "
		    "starts workers with no kept connection)");
		return;
	}
	conn_write(c->conn, c->resend.data, c->resend.len);
	mbuf_reset(&c->resend);
	if (c->resend_wait) {
		c->state = CHILD_WAITING;
		c->sent_us = stats_now_us();
		child_arm(c, c->cmd == SMFIC_BODYEOB ? c->mc->eom_timeout :
		    c->mc->command_timeout);
	}
	c->resend_wait = 0;
}

static void
child_resolved(void *arg, const char *name, const struct dns_answer *ans)
{
	struct child	*c = arg;

	(void)name;
	c->dnsq = NULL;
	child_answered(c, ans);
}

/* The host name's addresses came: the first. */
static void
child_answered(struct child *c, const struct dns_answer *ans)
{
	struct sockspec		 to = c->mc->sock[c->addr];
	struct sockaddr_in	*sin = (struct sockaddr_in *)&to.ss;

	if (ans->naddr <= 0) {
		child_fail(c, "connect %s: %s", to.text, ans->naddr == 0 ?
		    "no address for that name" : "no answer from DNS");
		return;
	}
	memcpy(&sin->sin_addr, ans->addr[0], sizeof(sin->sin_addr));
	to.sslen = sizeof(*sin);
	child_connect(c, &to);
}

static void
child_connect(struct child *c, const struct sockspec *sp)
{
	int	fd, err;
	char	what[1024], hint[512];

	if (sp->sslen == 0) {
		child_fail(c, "connect %s: the name did not resolve at load, "
		    "and there is no resolver", sp->text);
		return;
	}
	if ((fd = sockspec_connect(sp, 1)) == -1) {
		err = errno;
		c->exhausted = child_exhaustion(err);
		hint[0] = '\0';
		if (err == EACCES && sockspec_is_unix(sp))
			access_hint(c, hint, sizeof(hint));
		snprintf(what, sizeof(what), "connect %s: %s%s", sp->text,
		    strerror(err), hint);
		child_unreachable(c, err, what);
		return;
	}
	/*
	 * A unix socket connects at once or not at all (EAGAIN: its
	 * backlog is full): no wait for writability, no SO_ERROR to ask.
	 */
	c->conn = conn_new(c->link->base, fd, !sockspec_is_unix(sp),
	    child_read, child_event, c);
	if (c->conn == NULL) {
		close(fd);
		c->exhausted = 1;
		child_fail(c, "connect %s: out of memory", sp->text);
	} else if (sockspec_is_unix(sp))
		child_connected(c);
}

/* Connected: offer the MTA's actions and every step milterd speaks. */
static void
child_connected(struct child *c)
{
	struct milter_optneg	o;
	struct mbuf		*b = c->link->out;

	memset(&o, 0, sizeof(o));
	o.version = MILTER_VERSION;
	o.actions = c->link->offered;
	o.protocol = CHILD_OFFER_PROTOCOL;
	mbuf_reset(b);
	milter_put_optneg(b, &o);
	conn_write(c->conn, b->data, b->len);
	c->state = CHILD_NEGOTIATING;
}

/*
 * The macro lists the child asked for point into the read buffer:
 * copied, for the MTA to be asked for them and the child to be sent
 * just those, as its MTA would.
 */
static void
keep_lists(struct child *c)
{
	size_t	i;

	for (i = 0; i < SMFIM_COUNT; i++) {
		c->lists[i] = NULL;
		if (c->eff.macros[i] != NULL &&
		    (c->lists[i] = strdup(c->eff.macros[i])) == NULL)
			fatal("%s: strdup", __func__);
		c->eff.macros[i] = c->lists[i];
	}
}

static void
forget_lists(struct child *c)
{
	size_t	i;

	for (i = 0; i < SMFIM_COUNT; i++) {
		free(c->lists[i]);
		c->lists[i] = NULL;
		c->eff.macros[i] = NULL;
	}
}

static void
child_negotiated(struct child *c, const struct milter_reply *r)
{
	struct milter_optneg	 o;
	struct health_conf	 hc;
	const char		*err;

	memset(&o, 0, sizeof(o));
	o.version = MILTER_VERSION;
	o.actions = c->link->offered;
	o.protocol = CHILD_OFFER_PROTOCOL;
	if (r->code != SMFIR_OPTNEG) {
		child_fail(c, "negotiation: %s instead of options",
		    milter_code_name(r->code));
		return;
	}
	if (milter_negotiate_mta(&o, &r->u.optneg, &c->eff, &err) == -1) {
		child_fail(c, "negotiation: %s", err);
		return;
	}
	keep_lists(c);
	child_health(c, c->addr, &hc);
	health_answered(&c->stats->health[c->addr], &hc);
	c->probe = 0;
	c->leadspc = (c->eff.protocol & SMFIP_HDR_LEADSPC) != 0;
	evtimer_del(c->timer);
	c->state = CHILD_READY;
	child_timed(c, SMFIC_OPTNEG);
	__atomic_store_n(&c->stats->last_ok, stats_now_us(), __ATOMIC_RELAXED);
	log_debug("session %s: child %s: version %u actions 0x%x "
	    "protocol 0x%x", c->link->id, c->mc->name,
	    c->eff.version, c->eff.actions, c->eff.protocol);
}

/* One reply packet while a reply is awaited; -1 if the child failed. */
static int
child_reply(struct child *c, const struct milter_pkt *pkt)
{
	struct milter_reply	 r;
	const char		*err;

	if (milter_decode_reply(pkt, &r, &err) == -1) {
		child_fail(c, "%s: bad reply '%c': %s",
		    milter_code_name(c->cmd), pkt->code, err);
		return -1;
	}
	if (r.code == SMFIR_PROGRESS) {
		child_arm(c, c->cmd == SMFIC_BODYEOB ? c->mc->eom_timeout :
		    c->mc->command_timeout);
		return 0;
	}
	if (milter_reply_is_edit(r.code)) {
		if ((err = c->ops->edit(c->link->arg, c, r.code,
		    pkt->data - 5, pkt->len + 5)) != NULL) {
			child_fail(c, "%s: %s %s", milter_code_name(c->cmd),
			    milter_code_name(r.code), err);
			return -1;
		}
		return 0;
	}
	if (!milter_reply_is_final(r.code) || (r.code == SMFIR_SKIP &&
	    (c->cmd != SMFIC_BODY || !(c->eff.protocol & SMFIP_SKIP)))) {
		child_fail(c, "%s: unexpected reply %s",
		    milter_code_name(c->cmd), milter_code_name(r.code));
		return -1;
	}
	c->state = CHILD_READY;
	evtimer_del(c->timer);
	if (c->cmd == SMFIC_BODYEOB) {
		c->in_msg = 0;
		c->endm = r.code == SMFIR_CONTINUE;
	}
	child_timed(c, c->cmd);
	c->ops->replied(c->link->arg, c, r.code,
	    r.code == SMFIR_REPLYCODE ? r.u.str : "");
	return 0;
}

static void
child_read(struct conn *conn, void *arg)
{
	struct child		*c = arg;
	struct evbuffer		*in = conn_input(conn);
	struct milter_pkt	 pkt;
	struct milter_reply	 r;
	const char		*err;
	size_t			 used;
	int			 rc;

	while (c->conn != NULL &&
	    (rc = packet_peek(in, &pkt, &used, &err)) != 0) {
		if (rc == -1) {
			child_fail(c, "%s: %s", child_stage(c), err);
			return;
		}
		if (c->owed > 0 && milter_reply_is_final(pkt.code)) {
			/* The answer to the NOOP before K (child_keep()). */
			c->owed--;
			evbuffer_drain(in, used);
			continue;
		}
		if (c->state == CHILD_NEGOTIATING) {
			if (milter_decode_reply(&pkt, &r, &err) == -1) {
				child_fail(c, "negotiation: %s", err);
				return;
			}
			child_negotiated(c, &r);
			if (c->state != CHILD_READY)
				return;		/* failed and reported */
			evbuffer_drain(in, used);
			if (c->refreshing)
				child_resume(c);
			else
				c->ops->negotiated(c->link->arg, c);
			continue;
		}
		/* It answers on the kept connection: no retry from now. */
		c->reused = 0;
		if (c->state != CHILD_WAITING) {
			child_fail(c, "%s: unsolicited %s", child_stage(c),
			    milter_code_name(pkt.code));
			return;
		}
		if (child_reply(c, &pkt) == -1)
			return;
		if (c->conn != NULL)
			evbuffer_drain(in, used);
	}
}

static void
child_event(struct conn *conn, int what, int err, void *arg)
{
	struct child	*c = arg;
	char		 msg[320];

	(void)conn;
	if (what == CONN_CONNECTED) {
		if (c->state == CHILD_CONNECTING)
			child_connected(c);
		return;
	}
	if (what == CONN_DRAINED) {
		/* The replay may go on (see eom_step). */
		c->stalled = 0;
		evtimer_del(c->timer);
		c->ops->drained(c->link->arg, c);
		return;
	}
	if (what == CONN_EOF)
		snprintf(msg, sizeof(msg), "%s: connection closed by the "
		    "milter", child_stage(c));
	else {
		snprintf(msg, sizeof(msg), "%s: %s", child_stage(c),
		    strerror(err));
		c->exhausted = child_exhaustion(err);
	}
	if (c->state == CHILD_CONNECTING || c->state == CHILD_NEGOTIATING)
		child_unreachable(c, what == CONN_EOF ? 0 : err, msg);
	else if (c->reused && c->state == CHILD_WAITING && !c->exhausted)
		child_refresh(c, msg);
	else
		child_fail(c, "%s", msg);
}

static void
child_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct child	*c = arg;

	(void)fd;
	(void)what;
	if (c->retrying) {
		child_start(c);
		return;
	}
	c->timed_out = 1;
	child_fail(c, "%s: timeout", child_stage(c));
}

/*
 * Write packets already encoded in b, code being the command they end
 * in; if a reply is awaited (wait), time it out.
 */
void
child_send_mbuf(struct child *c, const struct mbuf *b, char code, int wait)
{
	c->endm = 0;
	if (code == SMFIC_MAIL)
		c->in_msg = 1;
	else if (code == SMFIC_ABORT)
		c->in_msg = 0;
	if (!child_live(c))
		return;
	/* Kept for a retry on a fresh connection: the envelope only. */
	if (c->reused && (code == SMFIC_HEADER || code == SMFIC_EOH ||
	    code == SMFIC_BODY || code == SMFIC_BODYEOB ||
	    c->resend.len + b->len > RESEND_MAX ||
	    mbuf_append(&c->resend, b->data, b->len) == -1))
		c->reused = 0;
	conn_write(c->conn, b->data, b->len);
	if (!wait)
		return;
	c->cmd = code;
	c->state = CHILD_WAITING;
	c->sent_us = stats_now_us();
	child_arm(c, code == SMFIC_BODYEOB ? c->mc->eom_timeout :
	    c->mc->command_timeout);
}

/* Tell a child inside the message that it is over; none answers. */
void
child_abort(struct child *c)
{
	static const uint8_t	 pkt[] = { 0, 0, 0, 1, SMFIC_ABORT };
	struct mbuf		 b;

	b.data = (uint8_t *)(uintptr_t)pkt;
	b.len = b.cap = sizeof(pkt);
	b.err = 0;
	child_send_mbuf(c, &b, SMFIC_ABORT, 0);
}

/* Close the connection; say quit first if the child is still sane. */
void
child_close(struct child *c, int quit)
{
	static const uint8_t	q[] = { 0, 0, 0, 1, SMFIC_QUIT };
	size_t			i;

	if (c->conn != NULL) {
		/* It did its part: its failures are not in a row. */
		if (child_live(c))
			health_ok(&c->stats->health[c->addr]);
		if (quit && child_keep(c) == 0)
			quit = 0;
		/* Best effort: a milter takes EOF as quit anyway. */
		if (quit && child_live(c)) {
			conn_write(c->conn, q, sizeof(q));
			conn_flush(c->conn);
		}
		conn_free(c->conn);
		c->conn = NULL;
	}
	if (c->timer != NULL)
		evtimer_del(c->timer);
	if (c->dnsq != NULL) {
		dns_cancel(c->dnsq);
		c->dnsq = NULL;
	}
	c->stalled = 0;
	c->reused = c->refreshing = c->in_msg = c->endm = c->owed = 0;
	mbuf_reset(&c->resend);
	forget_lists(c);
	for (i = 0; i < SMFIM_COUNT; i++) {
		free(c->kept_lists[i]);
		c->kept_lists[i] = NULL;
	}
	if (c->state != CHILD_FAILED)
		c->state = CHILD_IDLE;
}

/*
 * The child is dropped for the session: one log line naming it, its
 * counters, then the session is told (its fallback stands in).
 */
void
child_fail(struct child *c, const char *fmt, ...)
{
	char			 msg[512];
	va_list			 ap;
	enum child_state	 was = c->state;
	struct health_conf	 hc;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (c->exhausted) {
		/* Not the child's doing: neither its fallback nor counted. */
		log_warnx("session %s: child %s: %s; milterd is out of a "
		    "resource: tempfail", c->link->id, c->mc->name, msg);
		child_drop(c);
		return;
	}
	if (was == CHILD_CONNECTING || was == CHILD_NEGOTIATING) {
		if (child_next_addr(c, msg))
			return;
	} else {
		child_health(c, c->addr, &hc);
		health_failed(&c->stats->health[c->addr], &hc, stats_now_us(),
		    c->probe, msg);
	}
	log_warnx("session %s: child %s: %s; fallback %s",
	    c->link->id, c->mc->name, msg,
	    fallback_name(c->mc->fallback));
	if (was == CHILD_WAITING || was == CHILD_CONNECTING ||
	    was == CHILD_NEGOTIATING)
		c->wait_us += stats_now_us() - c->sent_us;
	stats_add(&c->stats->fallbacks, 1);
	stats_add(c->timed_out ? &c->stats->timeouts : &c->stats->errors, 1);
	stats_set_error(c->stats, msg);
	if (was == CHILD_CONNECTING || was == CHILD_NEGOTIATING)
		__atomic_store_n(&c->stats->last_down, stats_now_us(),
		    __ATOMIC_RELAXED);
	child_drop(c);
}

/* Dropped for the session: its fallback stands in. */
static void
child_drop(struct child *c)
{
	c->timed_out = 0;
	c->state = CHILD_FAILED;
	c->stalled = 0;
	child_close(c, 0);
	c->ops->failed(c->link->arg, c);
}

/*
 * Every address of the child is down: its fallback at once, without
 * trying it.  Logged for the session (the change of health was logged
 * once, in health.c), counted as skipped and as a fallback.
 */
static void
child_skip(struct child *c)
{
	char	why[STATS_ERROR_MAX];

	health_reason(&c->stats->health[0], why, sizeof(why));
	log_info("session %s: child %s: skipped as down (%s); fallback %s",
	    c->link->id, c->mc->name, why, fallback_name(c->mc->fallback));
	stats_add(&c->stats->skipped, 1);
	stats_add(&c->stats->fallbacks, 1);
	c->skipped = 1;
	child_drop(c);
}

/* At the session's end. */
void
child_free(struct child *c)
{
	child_close(c, 1);
	mbuf_free(&c->resend);
	if (c->timer != NULL)
		event_free(c->timer);
}
