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
 * intake.c: the message as the MTA sends it, kept for the children's
 * replay (message.c, the body spooled past body_memory_limit), within
 * the per-message bounds: max_headers, max_header_bytes and
 * max_recipients.  A bound passed fails closed: the message is
 * tempfailed, or the recipient refused, never passed unfiltered.
 */

#include <sys/types.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "session.h"

static void	headers_over(struct session *, char);
static void	keep_header(struct session *, const struct milter_header *);

/*
 * A header, the end of headers or a body piece: kept, and answered at
 * once unless the MTA waived the reply.  Past a header bound every
 * command of the message is answered tempfail.
 */
void
intake(struct session *s, const struct milter_cmd *c)
{
	if (c->code == SMFIC_HEADER) {
		s->header_bytes += strlen(c->u.header.name) +
		    strlen(c->u.header.value);
		s->nheaders++;
	}
	if (s->nheaders > s->conf->max_headers ||
	    s->header_bytes > s->conf->max_header_bytes || s->over) {
		headers_over(s, c->code);
		return;
	}
	if (c->code == SMFIC_HEADER)
		keep_header(s, &c->u.header);
	else if (c->code == SMFIC_BODY && spool_append(&s->msg.body,
	    c->u.body.data, c->u.body.len) == -1 && !s->msg_error) {
		log_warn("session %s: cannot keep the body", s->id);
		s->msg_error = 1;
	}
	if (milter_cmd_replied(&s->chain.upstream, c->code))
		session_reply(s, SMFIR_CONTINUE, NULL);
}

/*
 * A recipient, counted: beyond max_recipients it is refused alone (452,
 * as an MTA says it), without the children, and -1 is returned; logged
 * once per message.  If the MTA waived the reply it would stand: the
 * message is refused then.
 */
int
intake_rcpt(struct session *s)
{
	if (++s->nrcpts <= s->conf->max_recipients)
		return 0;
	if (s->nrcpts == s->conf->max_recipients + 1)
		log_warnx("session %s: more than %zu recipients in a "
		    "message (max_recipients): refused", s->id,
		    s->conf->max_recipients);
	if (milter_cmd_replied(&s->chain.upstream, SMFIC_RCPT))
		session_reply(s, SMFIR_REPLYCODE,
		    "452 4.5.3 Too many recipients");
	else
		s->msg_error = 1;
	return -1;
}

/*
 * A header bound passed (max_headers, max_header_bytes): logged once
 * per message, the message is no longer kept, and every command of it
 * from here on is answered tempfail, end of message included
 * (msg_error), also when the MTA waived the replies to headers.
 */
static void
headers_over(struct session *s, char cmd)
{
	int	count = s->nheaders > s->conf->max_headers;

	if (!s->over)
		log_warnx("session %s: more than %zu %s in a message "
		    "(max_%s): tempfail", s->id, count ? s->conf->max_headers :
		    s->conf->max_header_bytes, count ? "headers" :
		    "header bytes", count ? "headers" : "header_bytes");
	s->over = 1;
	s->msg_error = 1;
	session_verdict(s, SMFIR_TEMPFAIL, NULL, cmd);
	if (milter_cmd_replied(&s->chain.upstream, cmd))
		session_reply(s, SMFIR_TEMPFAIL, NULL);
}

/*
 * A message is over: its copy and buffers go.  Buffers a large
 * message grew are freed, not kept for the next message.
 */
void
intake_forget(struct session *s)
{
	message_free(&s->msg);
	mbuf_free(&s->rcpts);
	mbuf_free(&s->edits);
	mbuf_free(&s->out);
	s->msg_error = 0;
	s->over = 0;
	s->nheaders = s->header_bytes = s->nrcpts = 0;
	s->repl_owner = 0;
	s->repl_err = NULL;
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
