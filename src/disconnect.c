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
 * disconnect.c: the disconnect check, session.c's part: while the
 * session waits on its children, is the SMTP client still connected
 * to the MTA (conncheck.c looks)?  If it left, the MTA is answered at
 * once with fallback_on_disconnect and the children are cut, so that
 * no smtpd is held for a client that is gone.
 */

#include <sys/types.h>

#include <stddef.h>
#include <stdio.h>

#include "log.h"
#include "session.h"

static void	client_checked(struct conncheck_item *, int, const char *);
static void	client_gone(struct session *, const char *);

/* At connect: the client's connection, to be looked for; a first look. */
void
client_tuple(struct session *s, const struct milter_connect *c)
{
	const char	*laddr, *lport;

	s->checking.done = client_checked;
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
	    s->wait_since != 0 && s->chain.phase != CHAIN_SENDING_BODY && now - s->wait_since >=
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
	if (result != CHECK_OPEN && s->wait_since != 0 && s->chain.phase != CHAIN_SENDING_BODY &&
	    stats_now_us() - s->wait_since >=
	    (uint64_t)s->conf->disconnect_check_after * 1000000)
		client_gone(s, why);
}

/*
 * The client has gone while the MTA waits for us: answer it at once
 * with fallback_on_disconnect, so that it ends the session, and drop
 * the children (cut, not failed: their fallbacks do not count).
 */
static void
client_gone(struct session *s, const char *why)
{
	struct child	*c;
	size_t		 i;

	log_warnx("session %s: client %s gone (%s) after %.1fs waiting "
	    "for the children at %s: answering %s, children aborted", s->id,
	    s->client, why, (double)(stats_now_us() - s->wait_since) / 1e6,
	    milter_code_name(s->chain.cmd),
	    fallback_name(s->conf->fallback_on_disconnect));
	stats_add(&stats->disconnects, 1);
	s->check = CLIENT_UNCHECKED;
	for (i = 0; i < s->chain.nkids; i++) {
		c = &s->kids[i];
		/* Its time on this command counts, as in child_fail(). */
		if (c->state == CHILD_WAITING || c->state == CHILD_CONNECTING ||
		    c->state == CHILD_NEGOTIATING)
			c->wait_us += stats_now_us() - c->sent_us;
	}
	chain_gone(&s->chain, chain_fallback_reply(
	    s->conf->fallback_on_disconnect, SMFIR_ACCEPT));
	session_run(s);
}
